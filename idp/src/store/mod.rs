//! Storage of user pools and app clients: one narrow trait per aggregate,
//! implemented for SQLite and PostgreSQL with the same SQL text.

use async_trait::async_trait;

use crate::model::{AppClient, UserPool};

mod sql;

pub use sql::{PostgresStore, SqliteStore};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row with the same key exists (a named unique constraint fired).
    #[error("a row with this key already exists")]
    Conflict,
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

/// Everything the user-pool service stores.
pub trait IdpStore: PoolStore + ClientStore {}
impl<T: PoolStore + ClientStore> IdpStore for T {}
