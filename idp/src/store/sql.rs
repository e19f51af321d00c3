//! The SQL of the user-pool stores. Both dialects accept the same text
//! here, so one macro body serves [`SqliteStore`] and [`PostgresStore`];
//! where they come to differ, the difference goes in the macro arguments.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::types::Json;

use super::{ClientStore, PoolStore, StoreError};
use crate::model::{AppClient, UserPool};

const INSERT_POOL: &str = "INSERT INTO user_pools (id, name, created_at, updated_at, settings, schema_attributes) \
     VALUES ($1, $2, $3, $4, $5, $6)";
const SELECT_POOL: &str = "SELECT id, name, created_at, updated_at, settings, schema_attributes \
     FROM user_pools WHERE id = $1";
const UPDATE_POOL: &str = "UPDATE user_pools SET name = $2, updated_at = $3, settings = $4, schema_attributes = $5 \
     WHERE id = $1";
const DELETE_POOL: &str = "DELETE FROM user_pools WHERE id = $1";
const LIST_POOLS: &str = "SELECT id, name, created_at, updated_at, settings, schema_attributes \
     FROM user_pools WHERE id > $1 ORDER BY id LIMIT $2";

const INSERT_CLIENT: &str = "INSERT INTO app_clients (client_id, pool_id, name, secret_sealed, created_at, updated_at, settings) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
const SELECT_CLIENT: &str = "SELECT client_id, pool_id, name, secret_sealed, created_at, updated_at, settings \
     FROM app_clients WHERE pool_id = $1 AND client_id = $2";
const FIND_CLIENT: &str = "SELECT client_id, pool_id, name, secret_sealed, created_at, updated_at, settings \
     FROM app_clients WHERE client_id = $1";
const UPDATE_CLIENT: &str = "UPDATE app_clients SET name = $3, updated_at = $4, settings = $5 \
     WHERE pool_id = $1 AND client_id = $2";
const DELETE_CLIENT: &str = "DELETE FROM app_clients WHERE pool_id = $1 AND client_id = $2";
const LIST_CLIENTS: &str = "SELECT client_id, pool_id, name, secret_sealed, created_at, updated_at, settings \
     FROM app_clients WHERE pool_id = $1 AND client_id > $2 ORDER BY client_id LIMIT $3";

pub(super) fn conflict_or(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation => {
            StoreError::Conflict
        }
        _ => StoreError::Database(e),
    }
}

macro_rules! sql_store {
    ($store:ident, $pool:ty, $row:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone)]
        pub struct $store {
            pool: $pool,
        }

        impl $store {
            pub fn new(pool: $pool) -> Self {
                Self { pool }
            }
        }

        fn pool_from_row(row: &$row) -> Result<UserPool, sqlx::Error> {
            Ok(UserPool {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                created_ms: row.try_get("created_at")?,
                updated_ms: row.try_get("updated_at")?,
                settings: row.try_get::<Json<_>, _>("settings")?.0,
                schema: row.try_get::<Json<_>, _>("schema_attributes")?.0,
            })
        }

        fn client_from_row(row: &$row) -> Result<AppClient, sqlx::Error> {
            Ok(AppClient {
                client_id: row.try_get("client_id")?,
                pool_id: row.try_get("pool_id")?,
                name: row.try_get("name")?,
                secret_sealed: row.try_get("secret_sealed")?,
                created_ms: row.try_get("created_at")?,
                updated_ms: row.try_get("updated_at")?,
                settings: row.try_get::<Json<_>, _>("settings")?.0,
            })
        }

        #[async_trait]
        impl PoolStore for $store {
            async fn insert_pool(&self, p: &UserPool) -> Result<(), StoreError> {
                sqlx::query(INSERT_POOL)
                    .bind(&p.id)
                    .bind(&p.name)
                    .bind(p.created_ms)
                    .bind(p.updated_ms)
                    .bind(Json(&p.settings))
                    .bind(Json(&p.schema))
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_or)?;
                Ok(())
            }

            async fn get_pool(&self, id: &str) -> Result<Option<UserPool>, StoreError> {
                let row = sqlx::query(SELECT_POOL).bind(id).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().map(pool_from_row).transpose()?)
            }

            async fn update_pool(&self, p: &UserPool) -> Result<bool, StoreError> {
                let done = sqlx::query(UPDATE_POOL)
                    .bind(&p.id)
                    .bind(&p.name)
                    .bind(p.updated_ms)
                    .bind(Json(&p.settings))
                    .bind(Json(&p.schema))
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_pool(&self, id: &str) -> Result<bool, StoreError> {
                let done = sqlx::query(DELETE_POOL).bind(id).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn list_pools(&self, after: Option<&str>, limit: i64) -> Result<Vec<UserPool>, StoreError> {
                let rows = sqlx::query(LIST_POOLS)
                    .bind(after.unwrap_or(""))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().map(pool_from_row).collect::<Result<_, _>>()?)
            }
        }

        #[async_trait]
        impl ClientStore for $store {
            async fn insert_client(&self, c: &AppClient) -> Result<(), StoreError> {
                sqlx::query(INSERT_CLIENT)
                    .bind(&c.client_id)
                    .bind(&c.pool_id)
                    .bind(&c.name)
                    .bind(&c.secret_sealed)
                    .bind(c.created_ms)
                    .bind(c.updated_ms)
                    .bind(Json(&c.settings))
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_or)?;
                Ok(())
            }

            async fn get_client(
                &self,
                pool_id: &str,
                client_id: &str,
            ) -> Result<Option<AppClient>, StoreError> {
                let row = sqlx::query(SELECT_CLIENT)
                    .bind(pool_id)
                    .bind(client_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(client_from_row).transpose()?)
            }

            async fn find_client(&self, client_id: &str) -> Result<Option<AppClient>, StoreError> {
                let row = sqlx::query(FIND_CLIENT).bind(client_id).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().map(client_from_row).transpose()?)
            }

            async fn update_client(&self, c: &AppClient) -> Result<bool, StoreError> {
                let done = sqlx::query(UPDATE_CLIENT)
                    .bind(&c.pool_id)
                    .bind(&c.client_id)
                    .bind(&c.name)
                    .bind(c.updated_ms)
                    .bind(Json(&c.settings))
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_client(&self, pool_id: &str, client_id: &str) -> Result<bool, StoreError> {
                let done =
                    sqlx::query(DELETE_CLIENT).bind(pool_id).bind(client_id).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn list_clients(
                &self,
                pool_id: &str,
                after: Option<&str>,
                limit: i64,
            ) -> Result<Vec<AppClient>, StoreError> {
                let rows = sqlx::query(LIST_CLIENTS)
                    .bind(pool_id)
                    .bind(after.unwrap_or(""))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().map(client_from_row).collect::<Result<_, _>>()?)
            }
        }
    };
}

mod sqlite {
    use super::*;
    sql_store!(SqliteStore, sqlx::SqlitePool, sqlx::sqlite::SqliteRow, "User-pool storage on SQLite.");
    crate::store::sql_users::user_store!(SqliteStore, sqlx::sqlite::SqliteRow, sqlx::Sqlite);
    crate::store::sql_import::import_store!(SqliteStore, sqlx::sqlite::SqliteRow, sqlx::Sqlite);
    crate::store::sql_groups::group_store!(SqliteStore, sqlx::sqlite::SqliteRow);
    crate::store::sql_resource::resource_store!(SqliteStore, sqlx::sqlite::SqliteRow);
    crate::store::sql_oauth::oauth_store!(SqliteStore, sqlx::sqlite::SqliteRow);
    crate::store::sql_federation::federation_store!(SqliteStore, sqlx::sqlite::SqliteRow);
}

mod postgres {
    use super::*;
    sql_store!(PostgresStore, sqlx::PgPool, sqlx::postgres::PgRow, "User-pool storage on PostgreSQL.");
    crate::store::sql_users::user_store!(PostgresStore, sqlx::postgres::PgRow, sqlx::Postgres);
    crate::store::sql_import::import_store!(PostgresStore, sqlx::postgres::PgRow, sqlx::Postgres);
    crate::store::sql_groups::group_store!(PostgresStore, sqlx::postgres::PgRow);
    crate::store::sql_resource::resource_store!(PostgresStore, sqlx::postgres::PgRow);
    crate::store::sql_oauth::oauth_store!(PostgresStore, sqlx::postgres::PgRow);
    crate::store::sql_federation::federation_store!(PostgresStore, sqlx::postgres::PgRow);
}

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
