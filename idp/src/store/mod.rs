//! Storage of user pools and app clients: one narrow trait per aggregate,
//! implemented for SQLite and PostgreSQL with the same SQL text.

use async_trait::async_trait;

use crate::model::{
    AppClient, AuthEvent, AuthorizationCode, CodePurpose, CodeUse, Group, ImportJob, OneTimeCode, PoolDomain,
    ProviderLink, ProviderRecord, RefreshToken, ResourceServer, SigningKey, UiCustomization, UiSession, User,
    UserFilter, UserPool,
};

mod sql;
mod sql_federation;
mod sql_groups;
mod sql_import;
mod sql_oauth;
mod sql_resource;
mod sql_users;

pub use sql::{PostgresStore, SqliteStore};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row with the same key exists (a named unique constraint fired).
    #[error("a row with this key already exists")]
    Conflict,
    /// A sign-in alias (email, phone, preferred username) belongs to
    /// another user.
    #[error("the alias belongs to another user")]
    AliasConflict,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

#[async_trait]
pub trait PoolStore: Send + Sync {
    /// Fails with [`StoreError::Conflict`] when the id is taken.
    async fn insert_pool(&self, pool: &UserPool) -> Result<(), StoreError>;
    async fn get_pool(&self, id: &str) -> Result<Option<UserPool>, StoreError>;
    /// Returns false when the pool does not exist.
    async fn update_pool(&self, pool: &UserPool) -> Result<bool, StoreError>;
    /// Deletes the pool and everything in it; false when it did not exist.
    async fn delete_pool(&self, id: &str) -> Result<bool, StoreError>;
    /// Pools ordered by id, starting after `after`.
    async fn list_pools(&self, after: Option<&str>, limit: i64) -> Result<Vec<UserPool>, StoreError>;
}

#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Fails with [`StoreError::Conflict`] when the client id is taken.
    async fn insert_client(&self, client: &AppClient) -> Result<(), StoreError>;
    async fn get_client(&self, pool_id: &str, client_id: &str) -> Result<Option<AppClient>, StoreError>;
    /// A client by its id alone (public operations name only the client).
    async fn find_client(&self, client_id: &str) -> Result<Option<AppClient>, StoreError>;
    async fn update_client(&self, client: &AppClient) -> Result<bool, StoreError>;
    async fn delete_client(&self, pool_id: &str, client_id: &str) -> Result<bool, StoreError>;
    /// Clients of a pool ordered by client id, starting after `after`.
    async fn list_clients(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AppClient>, StoreError>;
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts the user and claims its aliases in one transaction:
    /// [`StoreError::Conflict`] when the username is taken,
    /// [`StoreError::AliasConflict`] when an alias is.
    async fn insert_user(&self, user: &User, aliases: &[String]) -> Result<(), StoreError>;
    async fn get_user(&self, pool_id: &str, username_key: &str) -> Result<Option<User>, StoreError>;
    async fn find_by_alias(&self, pool_id: &str, alias_key: &str) -> Result<Option<User>, StoreError>;
    /// Writes status, enabled, attributes, password and dates.
    async fn update_user(&self, user: &User) -> Result<bool, StoreError>;
    /// Points `alias_key` at the user. Taken by another user: moved when
    /// `force`, else [`StoreError::AliasConflict`].
    async fn claim_alias(
        &self,
        pool_id: &str,
        alias_key: &str,
        username_key: &str,
        force: bool,
    ) -> Result<(), StoreError>;
    /// Counts a failed sign-in and sets the lock; returns the new count.
    async fn record_failure(
        &self,
        pool_id: &str,
        username_key: &str,
        lock: &(dyn Fn(i64) -> i64 + Sync),
    ) -> Result<i64, StoreError>;
    async fn reset_failures(&self, pool_id: &str, username_key: &str) -> Result<(), StoreError>;
    /// Records `step` as the last TOTP step the user has used; false when
    /// that step (or a later one) was used already: a code counts once,
    /// across instances.
    async fn use_totp_step(&self, pool_id: &str, username_key: &str, step: i64) -> Result<bool, StoreError>;
    /// Deletes the user and everything of theirs; false when absent.
    async fn delete_user(&self, pool_id: &str, username_key: &str) -> Result<bool, StoreError>;
    /// Drops every alias the user holds (before claiming the current set).
    async fn release_aliases(&self, pool_id: &str, username_key: &str) -> Result<(), StoreError>;
    /// Users in index order, each with its sort value (the filtered
    /// attribute's value, or the username key): pass the last pair back as
    /// `after` for the next page.
    async fn list_users(
        &self,
        pool_id: &str,
        filter: Option<&UserFilter>,
        after: Option<(&str, &str)>,
        limit: i64,
    ) -> Result<Vec<(String, User)>, StoreError>;
    /// Global sign-out: refresh tokens revoked, older access tokens refused.
    async fn sign_out_everywhere(
        &self,
        pool_id: &str,
        username_key: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Replaces any code of the same user and purpose.
    async fn put_code(&self, code: &OneTimeCode) -> Result<(), StoreError>;
    async fn get_code(
        &self,
        pool_id: &str,
        username_key: &str,
        purpose: CodePurpose,
    ) -> Result<Option<OneTimeCode>, StoreError>;
    /// Counts one try at the code, atomically, and returns the code when
    /// fewer than `max` tries had been made; `None` when there is no code or
    /// the tries are used up.
    async fn try_code(
        &self,
        pool_id: &str,
        username_key: &str,
        purpose: CodePurpose,
        max: i64,
    ) -> Result<Option<OneTimeCode>, StoreError>;
    async fn delete_code(
        &self,
        pool_id: &str,
        username_key: &str,
        purpose: CodePurpose,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Marks a sign-in session used; false when it already was.
    async fn consume_session(
        &self,
        session_id: &str,
        expires_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn insert_refresh_token(&self, token: &RefreshToken) -> Result<(), StoreError>;
    async fn get_refresh_token(&self, token_hash: &[u8]) -> Result<Option<RefreshToken>, StoreError>;
    async fn revoke_refresh_token(&self, token_hash: &[u8], now_ms: i64) -> Result<(), StoreError>;
    /// Whether the sign-in an access token came from was revoked; `None`
    /// when no refresh token carries that `origin_jti`.
    async fn origin_revoked(&self, origin_jti: &str) -> Result<Option<bool>, StoreError>;
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn insert_signing_key(&self, key: &SigningKey) -> Result<(), StoreError>;
    /// Every key of the pool, newest first.
    async fn signing_keys(&self, pool_id: &str) -> Result<Vec<SigningKey>, StoreError>;
    /// Retires every key of the pool but `keep_kid`.
    async fn retire_signing_keys(&self, pool_id: &str, keep_kid: &str, now_ms: i64)
    -> Result<(), StoreError>;
}

#[async_trait]
pub trait GroupStore: Send + Sync {
    /// [`StoreError::Conflict`] when the name is taken.
    async fn insert_group(&self, group: &Group) -> Result<(), StoreError>;
    async fn get_group(&self, pool_id: &str, name: &str) -> Result<Option<Group>, StoreError>;
    async fn update_group(&self, group: &Group) -> Result<bool, StoreError>;
    async fn delete_group(&self, pool_id: &str, name: &str) -> Result<bool, StoreError>;
    async fn list_groups(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Group>, StoreError>;
    async fn add_member(&self, pool_id: &str, group: &str, username_key: &str) -> Result<(), StoreError>;
    async fn remove_member(&self, pool_id: &str, group: &str, username_key: &str) -> Result<(), StoreError>;
    /// The user's groups, by name.
    async fn groups_of(&self, pool_id: &str, username_key: &str) -> Result<Vec<Group>, StoreError>;
    async fn members(
        &self,
        pool_id: &str,
        group: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<User>, StoreError>;
}

#[async_trait]
pub trait EventStore: Send + Sync {
    async fn insert_auth_event(&self, event: &AuthEvent) -> Result<(), StoreError>;
    /// Newest first, starting after `(created_ms, event_id)`.
    async fn auth_events(
        &self,
        pool_id: &str,
        username_key: &str,
        before: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<AuthEvent>, StoreError>;
}

#[async_trait]
pub trait ImportStore: Send + Sync {
    async fn insert_import_job(&self, job: &ImportJob) -> Result<(), StoreError>;
    async fn get_import_job(&self, job_id: &str) -> Result<Option<ImportJob>, StoreError>;
    /// Writes status, dates, counts, message and failures.
    async fn update_import_job(&self, job: &ImportJob) -> Result<(), StoreError>;
    async fn list_import_jobs(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ImportJob>, StoreError>;
    /// Stores (or, with `None`, drops) the uploaded CSV.
    async fn put_import_csv(&self, job_id: &str, csv: Option<&[u8]>) -> Result<(), StoreError>;
    async fn get_import_csv(&self, job_id: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Inserts users with their aliases in one transaction, each row on its
    /// own savepoint: the outcome of each row is returned in order, and a
    /// row that fails leaves the others in.
    async fn import_users(
        &self,
        users: &[(User, Vec<String>)],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError>;
}

/// Everything the user-pool service stores.
#[async_trait]
pub trait ResourceServerStore: Send + Sync {
    /// Fails with [`StoreError::Conflict`] when the identifier is taken.
    async fn insert_resource_server(&self, rs: &ResourceServer) -> Result<(), StoreError>;
    async fn get_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
    ) -> Result<Option<ResourceServer>, StoreError>;
    async fn update_resource_server(&self, rs: &ResourceServer) -> Result<bool, StoreError>;
    async fn delete_resource_server(&self, pool_id: &str, identifier: &str) -> Result<bool, StoreError>;
    async fn list_resource_servers(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ResourceServer>, StoreError>;
}

/// Authorization codes, hosted-UI sessions, domains and UI branding.
#[async_trait]
pub trait OAuthStore: Send + Sync {
    async fn insert_code(&self, code: &AuthorizationCode) -> Result<(), StoreError>;
    /// Spends a code atomically: [`CodeUse::Fresh`] for the one caller
    /// that got it first (and only before it expires), [`CodeUse::Replayed`]
    /// for any later presentation.
    /// Only `client_id` can spend its codes: another client's presentation
    /// neither spends nor replays it.
    async fn spend_code(&self, code_hash: &[u8], client_id: &str, now_ms: i64)
    -> Result<CodeUse, StoreError>;
    /// Marks a code as presented again (before its sign-in is revoked).
    async fn mark_replayed(&self, code_hash: &[u8], now_ms: i64) -> Result<(), StoreError>;
    /// Whether a code was presented again since it was spent.
    async fn code_replayed(&self, code_hash: &[u8]) -> Result<bool, StoreError>;
    /// Revokes the refresh token of one sign-in, and with it its tokens.
    async fn revoke_origin(&self, origin_jti: &str, now_ms: i64) -> Result<(), StoreError>;
    async fn insert_ui_session(&self, session: &UiSession) -> Result<(), StoreError>;
    async fn get_ui_session(&self, id_hash: &[u8]) -> Result<Option<UiSession>, StoreError>;
    async fn delete_ui_session(&self, id_hash: &[u8]) -> Result<(), StoreError>;
    /// [`StoreError::Conflict`] when the domain is taken.
    async fn insert_domain(&self, domain: &PoolDomain) -> Result<(), StoreError>;
    async fn update_domain(&self, domain: &PoolDomain) -> Result<bool, StoreError>;
    async fn get_domain(&self, domain: &str) -> Result<Option<PoolDomain>, StoreError>;
    async fn pool_domains(&self, pool_id: &str) -> Result<Vec<PoolDomain>, StoreError>;
    /// Whether a custom domain's first label is `prefix`.
    async fn custom_domain_under(&self, prefix: &str) -> Result<bool, StoreError>;
    async fn delete_domain(&self, domain: &str, pool_id: &str) -> Result<bool, StoreError>;
    /// Creates or replaces.
    async fn put_ui_customization(&self, ui: &UiCustomization) -> Result<(), StoreError>;
    async fn get_ui_customization(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> Result<Option<UiCustomization>, StoreError>;
}

/// External identity providers and links to native users.
#[async_trait]
pub trait FederationStore: Send + Sync {
    /// [`StoreError::Conflict`] when the name is taken in the pool.
    async fn insert_provider(&self, provider: &ProviderRecord) -> Result<(), StoreError>;
    async fn update_provider(&self, provider: &ProviderRecord) -> Result<bool, StoreError>;
    async fn get_provider(&self, pool_id: &str, name: &str) -> Result<Option<ProviderRecord>, StoreError>;
    /// Providers ordered by name, starting after `after`.
    async fn list_providers(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ProviderRecord>, StoreError>;
    /// Deletes the provider and its links.
    async fn delete_provider(&self, pool_id: &str, name: &str) -> Result<bool, StoreError>;
    /// [`StoreError::Conflict`] when that subject is linked already.
    async fn insert_link(&self, link: &ProviderLink) -> Result<(), StoreError>;
    async fn get_link(
        &self,
        pool_id: &str,
        provider: &str,
        subject: &str,
    ) -> Result<Option<ProviderLink>, StoreError>;
    async fn user_links(&self, pool_id: &str, username_key: &str) -> Result<Vec<ProviderLink>, StoreError>;
    async fn delete_link(&self, pool_id: &str, provider: &str, subject: &str) -> Result<bool, StoreError>;
    /// A pool's SAML encryption key (sealed) and certificate; Conflict when
    /// another instance made one first.
    async fn insert_sp_key(
        &self,
        pool_id: &str,
        key_sealed: &[u8],
        cert_der: &[u8],
        now_ms: i64,
    ) -> Result<(), StoreError>;
    async fn get_sp_key(&self, pool_id: &str) -> Result<Option<(Vec<u8>, Vec<u8>)>, StoreError>;
}

pub trait IdpStore:
    PoolStore
    + ClientStore
    + UserStore
    + CodeStore
    + SessionStore
    + TokenStore
    + KeyStore
    + GroupStore
    + EventStore
    + ImportStore
    + ResourceServerStore
    + OAuthStore
    + FederationStore
{
}
impl<T> IdpStore for T where
    T: PoolStore
        + ClientStore
        + UserStore
        + CodeStore
        + SessionStore
        + TokenStore
        + KeyStore
        + GroupStore
        + EventStore
        + ImportStore
        + ResourceServerStore
        + OAuthStore
        + FederationStore
{
}
