//! The rules of user pools and app clients, apart from HTTP and SQL.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrets::MasterKey;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::delivery::{Delivery, EmailMessage, SmsMessage};
use crate::error::{IdpError, Result};
use crate::model::{AppClient, UserPool};
use crate::store::IdpStore;

mod admin_users;
pub mod authorize;
mod branding;
mod clients;
mod codes;
mod custom_auth;
pub mod federation;
pub mod groups;
pub mod import;
pub mod mfa;
pub mod oauth;
pub mod passwords;
mod pools;
mod recovery;
mod resource_servers;
pub mod saml;
pub mod schema;
mod search;
mod self_service;
pub mod signin;
mod signin_choice;
mod signin_srp;
mod signup;
pub mod srp;
mod tokens;
pub mod triggers;
pub mod users;

pub use admin_users::NewAdminUser;
pub use clients::{ClientWithSecret, NewClient};
pub use passwords::{HashCost, PasswordHasher};
pub use pools::NewPool;
pub use signin::{AuthOutcome, Challenge};

tokio::task_local! {
    static HOSTED_UI: ();
}

/// Runs a sign-in step for the hosted UI: the client's explicit auth flows
/// and SECRET_HASH do not apply, sessions are marked as the hosted UI's,
/// and the last factor answers [`AuthOutcome::SignedIn`] instead of
/// issuing tokens (the authorization endpoint issues a code).
pub async fn in_hosted_ui<F: std::future::Future>(step: F) -> F::Output {
    HOSTED_UI.scope((), step).await
}

/// Whether the running task is a hosted-UI step (see [`in_hosted_ui`]).
pub(crate) fn hosted_ui() -> bool {
    HOSTED_UI.try_with(|_| ()).is_ok()
}
pub use signup::{CodeDelivery, SignUpRequest, SignUpResult};
pub use tokens::{AccessContext, Tokens};

/// Settings of the user-pool service that come from the process's
/// configuration.
#[derive(Debug, Clone)]
pub struct IdpSettings {
    pub region: String,
    pub account_id: String,
    /// External base URL; a pool's issuer is `<public_url>/<pool id>`.
    pub public_url: String,
}

/// The user-pool service: pools, clients, users, sign-up, sign-in, tokens.
pub struct UserPools {
    store: Arc<dyn IdpStore>,
    master_key: MasterKey,
    code_key: Zeroizing<[u8; 32]>,
    settings: IdpSettings,
    hasher: Arc<PasswordHasher>,
    delivery: Delivery,
    keys: tokens::KeyCache,
    hooks: triggers::HookState,
    hosts: branding::HostCache,
    metadata: federation::MetadataCache,
    saml_cache: saml::SamlMetadataCache,
    /// The client for upstream identity providers: no redirects followed.
    upstream_http: reqwest::Client,
    clock: fn() -> OffsetDateTime,
}

/// One page of a listing and the token of the next, if any.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

impl UserPools {
    pub fn new(
        store: Arc<dyn IdpStore>,
        master_key: MasterKey,
        settings: IdpSettings,
        hasher: Arc<PasswordHasher>,
        delivery: Delivery,
    ) -> Self {
        Self {
            store,
            code_key: master_key.derive("one-time-codes"),
            master_key,
            settings,
            hasher,
            delivery,
            keys: tokens::KeyCache::default(),
            hooks: triggers::HookState::default(),
            hosts: branding::HostCache::default(),
            metadata: federation::MetadataCache::default(),
            saml_cache: saml::SamlMetadataCache::default(),
            upstream_http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            clock: OffsetDateTime::now_utc,
        }
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: fn() -> OffsetDateTime) -> Self {
        self.clock = clock;
        self
    }

    pub fn public_url(&self) -> &str {
        &self.settings.public_url
    }

    pub fn region(&self) -> &str {
        &self.settings.region
    }

    pub fn pool_arn(&self, pool_id: &str) -> String {
        format!(
            "arn:aws:cognito-idp:{}:{}:userpool/{pool_id}",
            self.settings.region, self.settings.account_id
        )
    }

    pub fn issuer(&self, pool_id: &str) -> String {
        format!("{}/{pool_id}", self.settings.public_url)
    }

    fn now_ms(&self) -> i64 {
        let now = (self.clock)();
        now.unix_timestamp() * 1000 + i64::from(now.millisecond())
    }

    /// The client with this id and its pool; an unknown client is
    /// `ResourceNotFoundException`.
    async fn client_and_pool(&self, client_id: &str) -> Result<(UserPool, AppClient)> {
        let not_found =
            || IdpError::ResourceNotFound(format!("User pool client {client_id} does not exist."));
        if client_id.is_empty() || client_id.len() > 128 {
            return Err(not_found());
        }
        let client = self.store.find_client(client_id).await?.ok_or_else(not_found)?;
        let pool = self.store.get_pool(&client.pool_id).await?.ok_or_else(not_found)?;
        Ok((pool, client))
    }

    /// Clear-text secret of a client, if it has one.
    fn client_secret(&self, client: &AppClient) -> Result<Option<String>> {
        self.open_secret(client)
    }

    /// SECRET_HASH = base64(HMAC-SHA256(client secret, username + client id)),
    /// required exactly when the client has a secret. Any of `usernames`
    /// may have been used (the typed name or the internal one).
    fn check_secret_hash_any(
        &self,
        client: &AppClient,
        usernames: &[&str],
        given: Option<&str>,
    ) -> Result<()> {
        // The hosted UI holds no secret hash: it is the server itself, and
        // the client proves itself at the token endpoint instead.
        if hosted_ui() {
            return Ok(());
        }
        let Some(secret) = self.client_secret(client)? else { return Ok(()) };
        let refused = || {
            IdpError::NotAuthorized(format!("Unable to verify secret hash for client {}", client.client_id))
        };
        let given = given.filter(|g| !g.is_empty()).ok_or_else(refused)?;
        let ok = usernames.iter().any(|u| {
            let message = format!("{u}{}", client.client_id);
            let expected = STANDARD.encode(secrets::hmac_sha256(secret.as_bytes(), message.as_bytes()));
            bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
        });
        if ok { Ok(()) } else { Err(refused()) }
    }

    fn check_secret_hash(&self, client: &AppClient, username: &str, given: Option<&str>) -> Result<()> {
        self.check_secret_hash_any(client, &[username], given)
    }

    async fn send_email(&self, pool: &UserPool, to: &str, subject: &str, body: &str) -> Result<()> {
        let from = pool
            .settings
            .email_configuration
            .as_ref()
            .and_then(|c| c.from.clone())
            .unwrap_or_else(|| self.delivery.default_from.clone());
        let message =
            EmailMessage { from, to: to.to_string(), subject: subject.to_string(), body: body.to_string() };
        self.delivery.email.send_email(&message).await.map_err(|e| {
            tracing::warn!(pool = %pool.id, error = %e, "email delivery failed");
            IdpError::CodeDeliveryFailure("The message could not be delivered.".into())
        })
    }

    async fn send_sms(&self, pool: &UserPool, to: &str, body: &str, purpose: &'static str) -> Result<()> {
        let message =
            SmsMessage { to: to.to_string(), body: body.to_string(), pool_id: pool.id.clone(), purpose };
        self.delivery.sms.send_sms(&message).await.map_err(|e| {
            tracing::warn!(pool = %pool.id, error = %e, "SMS delivery failed");
            IdpError::CodeDeliveryFailure("The message could not be delivered.".into())
        })
    }
}

/// Listing position tokens: the last key returned, opaque to clients.
fn encode_token(last_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(last_key)
}

fn decode_token(token: Option<&str>) -> Result<Option<String>> {
    token
        .map(|t| {
            URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| IdpError::InvalidParameter("The pagination token is invalid.".into()))
        })
        .transpose()
}

/// Takes `limit` items of a `limit + 1` fetch and makes the next token.
fn page<T>(mut items: Vec<T>, limit: i64, key: impl Fn(&T) -> &str) -> Page<T> {
    let more = items.len() as i64 > limit;
    items.truncate(limit.max(0) as usize);
    let next_token = if more { items.last().map(|t| encode_token(key(t))) } else { None };
    Page { items, next_token }
}
