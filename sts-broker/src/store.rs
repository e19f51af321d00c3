//! The broker's storage: identity pools, identities and their logins, and
//! IAM documents (roles, managed policies, OIDC providers, signing keys).
//! One SQL text per query serves SQLite and PostgreSQL (a macro body
//! instantiated per backend); structured values are JSON text the service
//! reads and writes whole.

use async_trait::async_trait;
use sqlx::Row;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a row with this key already exists")]
    Conflict,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// A stored identity pool: its settings are JSON the service owns.
#[derive(Debug, Clone)]
pub struct PoolRow {
    pub id: String,
    pub name: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub config: String,
}

#[derive(Debug, Clone)]
pub struct IdentityRow {
    pub id: String,
    pub pool_id: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub disabled: bool,
    /// (provider, subject), ordered by provider.
    pub logins: Vec<(String, String)>,
}

/// The IAM documents kept as one JSON value per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    Role,
    Policy,
    OidcProvider,
    SamlProvider,
}

impl DocKind {
    fn table(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Role => ("iam_roles", "name", "role"),
            Self::Policy => ("iam_policies", "arn", "policy"),
            Self::OidcProvider => ("iam_oidc_providers", "arn", "provider"),
            Self::SamlProvider => ("iam_saml_providers", "arn", "provider"),
        }
    }
}

#[async_trait]
pub trait BrokerStore: Send + Sync {
    async fn insert_pool(&self, pool: &PoolRow) -> Result<(), StoreError>;
    async fn get_pool(&self, id: &str) -> Result<Option<PoolRow>, StoreError>;
    async fn update_pool(&self, pool: &PoolRow) -> Result<bool, StoreError>;
    /// Deletes the pool with its identities.
    async fn delete_pool(&self, id: &str) -> Result<bool, StoreError>;
    async fn list_pools(&self, after: &str, limit: i64) -> Result<Vec<PoolRow>, StoreError>;

    /// Creates an identity holding `logins`, in one transaction; Conflict
    /// when one of the logins already belongs to an identity.
    async fn create_identity(
        &self,
        pool_id: &str,
        identity_id: &str,
        now_ms: i64,
        logins: &[(String, String)],
    ) -> Result<(), StoreError>;
    async fn get_identity(&self, id: &str) -> Result<Option<IdentityRow>, StoreError>;
    async fn find_login(
        &self,
        pool_id: &str,
        provider: &str,
        subject: &str,
    ) -> Result<Option<String>, StoreError>;
    /// Links a login; Conflict when it belongs to an identity already.
    async fn add_login(
        &self,
        pool_id: &str,
        identity_id: &str,
        provider: &str,
        subject: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    async fn remove_login(
        &self,
        identity_id: &str,
        provider: &str,
        subject: Option<&str>,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Moves every login of `from` to `to` and disables `from`.
    async fn merge_identities(&self, from: &str, to: &str, now_ms: i64) -> Result<(), StoreError>;
    async fn list_identities(
        &self,
        pool_id: &str,
        after: &str,
        limit: i64,
        hide_disabled: bool,
    ) -> Result<Vec<IdentityRow>, StoreError>;
    async fn delete_identity(&self, id: &str) -> Result<bool, StoreError>;
    /// Subjects of `provider` linked in the pool, optionally to one identity.
    async fn list_subjects(
        &self,
        pool_id: &str,
        provider: &str,
        identity_id: Option<&str>,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// Inserts (`create`) or replaces an IAM document; Conflict on a taken
    /// key when creating; false when replacing a missing one.
    async fn put_doc(
        &self,
        kind: DocKind,
        key: &str,
        doc: &str,
        create: bool,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    async fn get_doc(&self, kind: DocKind, key: &str) -> Result<Option<String>, StoreError>;
    async fn delete_doc(&self, kind: DocKind, key: &str) -> Result<bool, StoreError>;
    /// (key, document) ordered by key, after `after`.
    async fn list_docs(
        &self,
        kind: DocKind,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// The broker's sealed signing keys, oldest first: (kid, sealed, created).
    async fn signing_keys(&self) -> Result<Vec<(String, Vec<u8>, i64)>, StoreError>;
    async fn insert_signing_key(&self, kid: &str, sealed: &[u8], now_ms: i64) -> Result<(), StoreError>;
}

fn conflict_or(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation => {
            StoreError::Conflict
        }
        _ => StoreError::Database(e),
    }
}

const INSERT_POOL: &str =
    "INSERT INTO identity_pools (id, name, created_at, updated_at, config) VALUES ($1, $2, $3, $4, $5)";
const SELECT_POOL: &str = "SELECT id, name, created_at, updated_at, config FROM identity_pools WHERE id = $1";
const UPDATE_POOL: &str = "UPDATE identity_pools SET name = $2, updated_at = $3, config = $4 WHERE id = $1";
const DELETE_POOL: &str = "DELETE FROM identity_pools WHERE id = $1";
const LIST_POOLS: &str = "SELECT id, name, created_at, updated_at, config FROM identity_pools \
     WHERE id > $1 ORDER BY id LIMIT $2";
const INSERT_IDENTITY: &str =
    "INSERT INTO identities (id, pool_id, created_at, updated_at, disabled) VALUES ($1, $2, $3, $3, 0)";
const INSERT_LOGIN: &str =
    "INSERT INTO identity_logins (pool_id, provider, subject, identity_id) VALUES ($1, $2, $3, $4)";
const TOUCH_IDENTITY: &str = "UPDATE identities SET updated_at = $2 WHERE id = $1";
const SELECT_IDENTITY: &str =
    "SELECT id, pool_id, created_at, updated_at, disabled FROM identities WHERE id = $1";
const SELECT_LOGINS: &str =
    "SELECT provider, subject FROM identity_logins WHERE identity_id = $1 ORDER BY provider, subject";
const FIND_LOGIN: &str =
    "SELECT identity_id FROM identity_logins WHERE pool_id = $1 AND provider = $2 AND subject = $3";
const DELETE_LOGIN: &str = "DELETE FROM identity_logins WHERE identity_id = $1 AND provider = $2";
const DELETE_LOGIN_SUBJECT: &str =
    "DELETE FROM identity_logins WHERE identity_id = $1 AND provider = $2 AND subject = $3";
const MOVE_LOGINS: &str = "UPDATE identity_logins SET identity_id = $2 WHERE identity_id = $1";
const DISABLE_IDENTITY: &str = "UPDATE identities SET disabled = 1, updated_at = $2 WHERE id = $1";
const LIST_IDENTITIES: &str = "SELECT id, pool_id, created_at, updated_at, disabled FROM identities \
     WHERE pool_id = $1 AND id > $2 AND ($3 = 0 OR disabled = 0) ORDER BY id LIMIT $4";
const DELETE_IDENTITY: &str = "DELETE FROM identities WHERE id = $1";
const LIST_SUBJECTS: &str = "SELECT identity_id, subject FROM identity_logins \
     WHERE pool_id = $1 AND provider = $2 AND ($3 = '' OR identity_id = $3) AND subject > $4 \
     ORDER BY subject LIMIT $5";
const SELECT_KEYS: &str = "SELECT kid, private_sealed, created_at FROM broker_keys ORDER BY created_at, kid";
const INSERT_KEY: &str = "INSERT INTO broker_keys (kid, created_at, private_sealed) VALUES ($1, $2, $3)";

fn doc_sql(kind: DocKind, what: &str) -> String {
    let (table, key, doc) = kind.table();
    match what {
        "insert" => format!("INSERT INTO {table} ({key}, created_at, {doc}) VALUES ($1, $2, $3)"),
        "update" => format!("UPDATE {table} SET {doc} = $3 WHERE {key} = $1 AND $2 = $2"),
        "select" => format!("SELECT {doc} AS doc FROM {table} WHERE {key} = $1"),
        "delete" => format!("DELETE FROM {table} WHERE {key} = $1"),
        _ => format!("SELECT {key} AS k, {doc} AS doc FROM {table} WHERE {key} > $1 ORDER BY {key} LIMIT $2"),
    }
}

macro_rules! broker_store {
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

            async fn logins(&self, id: &str) -> Result<Vec<(String, String)>, StoreError> {
                let rows = sqlx::query(SELECT_LOGINS).bind(id).fetch_all(&self.pool).await?;
                Ok(rows
                    .iter()
                    .map(|r| Ok((r.try_get("provider")?, r.try_get("subject")?)))
                    .collect::<Result<_, sqlx::Error>>()?)
            }
        }

        fn pool_from_row(row: &$row) -> Result<PoolRow, sqlx::Error> {
            Ok(PoolRow {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                created_ms: row.try_get("created_at")?,
                updated_ms: row.try_get("updated_at")?,
                config: row.try_get("config")?,
            })
        }

        fn identity_from_row(row: &$row) -> Result<IdentityRow, sqlx::Error> {
            Ok(IdentityRow {
                id: row.try_get("id")?,
                pool_id: row.try_get("pool_id")?,
                created_ms: row.try_get("created_at")?,
                updated_ms: row.try_get("updated_at")?,
                disabled: row.try_get::<i64, _>("disabled")? != 0,
                logins: Vec::new(),
            })
        }

        #[async_trait]
        impl BrokerStore for $store {
            async fn insert_pool(&self, p: &PoolRow) -> Result<(), StoreError> {
                sqlx::query(INSERT_POOL)
                    .bind(&p.id)
                    .bind(&p.name)
                    .bind(p.created_ms)
                    .bind(p.updated_ms)
                    .bind(&p.config)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_or)?;
                Ok(())
            }

            async fn get_pool(&self, id: &str) -> Result<Option<PoolRow>, StoreError> {
                let row = sqlx::query(SELECT_POOL).bind(id).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().map(pool_from_row).transpose()?)
            }

            async fn update_pool(&self, p: &PoolRow) -> Result<bool, StoreError> {
                let done = sqlx::query(UPDATE_POOL)
                    .bind(&p.id)
                    .bind(&p.name)
                    .bind(p.updated_ms)
                    .bind(&p.config)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_pool(&self, id: &str) -> Result<bool, StoreError> {
                let done = sqlx::query(DELETE_POOL).bind(id).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn list_pools(&self, after: &str, limit: i64) -> Result<Vec<PoolRow>, StoreError> {
                let rows = sqlx::query(LIST_POOLS).bind(after).bind(limit).fetch_all(&self.pool).await?;
                Ok(rows.iter().map(pool_from_row).collect::<Result<_, _>>()?)
            }

            async fn create_identity(
                &self,
                pool_id: &str,
                identity_id: &str,
                now_ms: i64,
                logins: &[(String, String)],
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(INSERT_IDENTITY)
                    .bind(identity_id)
                    .bind(pool_id)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict_or)?;
                for (provider, subject) in logins {
                    sqlx::query(INSERT_LOGIN)
                        .bind(pool_id)
                        .bind(provider)
                        .bind(subject)
                        .bind(identity_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(conflict_or)?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn get_identity(&self, id: &str) -> Result<Option<IdentityRow>, StoreError> {
                let row = sqlx::query(SELECT_IDENTITY).bind(id).fetch_optional(&self.pool).await?;
                let Some(mut identity) = row.as_ref().map(identity_from_row).transpose()? else {
                    return Ok(None);
                };
                identity.logins = self.logins(id).await?;
                Ok(Some(identity))
            }

            async fn find_login(
                &self,
                pool_id: &str,
                provider: &str,
                subject: &str,
            ) -> Result<Option<String>, StoreError> {
                let row = sqlx::query(FIND_LOGIN)
                    .bind(pool_id)
                    .bind(provider)
                    .bind(subject)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(|r| r.try_get("identity_id")).transpose()?)
            }

            async fn add_login(
                &self,
                pool_id: &str,
                identity_id: &str,
                provider: &str,
                subject: &str,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(INSERT_LOGIN)
                    .bind(pool_id)
                    .bind(provider)
                    .bind(subject)
                    .bind(identity_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict_or)?;
                sqlx::query(TOUCH_IDENTITY).bind(identity_id).bind(now_ms).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn remove_login(
                &self,
                identity_id: &str,
                provider: &str,
                subject: Option<&str>,
                now_ms: i64,
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                let done = match subject {
                    Some(s) => {
                        sqlx::query(DELETE_LOGIN_SUBJECT)
                            .bind(identity_id)
                            .bind(provider)
                            .bind(s)
                            .execute(&mut *tx)
                            .await?
                    }
                    None => {
                        sqlx::query(DELETE_LOGIN).bind(identity_id).bind(provider).execute(&mut *tx).await?
                    }
                };
                sqlx::query(TOUCH_IDENTITY).bind(identity_id).bind(now_ms).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(done.rows_affected() > 0)
            }

            async fn merge_identities(&self, from: &str, to: &str, now_ms: i64) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(MOVE_LOGINS).bind(from).bind(to).execute(&mut *tx).await.map_err(conflict_or)?;
                sqlx::query(DISABLE_IDENTITY).bind(from).bind(now_ms).execute(&mut *tx).await?;
                sqlx::query(TOUCH_IDENTITY).bind(to).bind(now_ms).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_identities(
                &self,
                pool_id: &str,
                after: &str,
                limit: i64,
                hide_disabled: bool,
            ) -> Result<Vec<IdentityRow>, StoreError> {
                let rows = sqlx::query(LIST_IDENTITIES)
                    .bind(pool_id)
                    .bind(after)
                    .bind(i64::from(hide_disabled))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                let mut out = Vec::with_capacity(rows.len());
                for row in &rows {
                    let mut identity = identity_from_row(row)?;
                    identity.logins = self.logins(&identity.id).await?;
                    out.push(identity);
                }
                Ok(out)
            }

            async fn delete_identity(&self, id: &str) -> Result<bool, StoreError> {
                let done = sqlx::query(DELETE_IDENTITY).bind(id).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn list_subjects(
                &self,
                pool_id: &str,
                provider: &str,
                identity_id: Option<&str>,
                after: &str,
                limit: i64,
            ) -> Result<Vec<(String, String)>, StoreError> {
                let rows = sqlx::query(LIST_SUBJECTS)
                    .bind(pool_id)
                    .bind(provider)
                    .bind(identity_id.unwrap_or(""))
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .iter()
                    .map(|r| Ok((r.try_get("identity_id")?, r.try_get("subject")?)))
                    .collect::<Result<_, sqlx::Error>>()?)
            }

            async fn put_doc(
                &self,
                kind: DocKind,
                key: &str,
                doc: &str,
                create: bool,
                now_ms: i64,
            ) -> Result<bool, StoreError> {
                let sql = doc_sql(kind, if create { "insert" } else { "update" });
                let done = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(key)
                    .bind(now_ms)
                    .bind(doc)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_or)?;
                Ok(done.rows_affected() == 1)
            }

            async fn get_doc(&self, kind: DocKind, key: &str) -> Result<Option<String>, StoreError> {
                let row = sqlx::query(sqlx::AssertSqlSafe(doc_sql(kind, "select")))
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(|r| r.try_get("doc")).transpose()?)
            }

            async fn delete_doc(&self, kind: DocKind, key: &str) -> Result<bool, StoreError> {
                let done = sqlx::query(sqlx::AssertSqlSafe(doc_sql(kind, "delete")))
                    .bind(key)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn list_docs(
                &self,
                kind: DocKind,
                after: &str,
                limit: i64,
            ) -> Result<Vec<(String, String)>, StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(doc_sql(kind, "list")))
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .iter()
                    .map(|r| Ok((r.try_get("k")?, r.try_get("doc")?)))
                    .collect::<Result<_, sqlx::Error>>()?)
            }

            async fn signing_keys(&self) -> Result<Vec<(String, Vec<u8>, i64)>, StoreError> {
                let rows = sqlx::query(SELECT_KEYS).fetch_all(&self.pool).await?;
                Ok(rows
                    .iter()
                    .map(|r| Ok((r.try_get("kid")?, r.try_get("private_sealed")?, r.try_get("created_at")?)))
                    .collect::<Result<_, sqlx::Error>>()?)
            }

            async fn insert_signing_key(
                &self,
                kid: &str,
                sealed: &[u8],
                now_ms: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(INSERT_KEY)
                    .bind(kid)
                    .bind(now_ms)
                    .bind(sealed)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_or)?;
                Ok(())
            }
        }
    };
}

mod sqlite {
    use super::*;
    broker_store!(
        SqliteBrokerStore,
        sqlx::SqlitePool,
        sqlx::sqlite::SqliteRow,
        "The broker's store on SQLite."
    );
}

mod postgres {
    use super::*;
    broker_store!(PgBrokerStore, sqlx::PgPool, sqlx::postgres::PgRow, "The broker's store on PostgreSQL.");
}

pub use postgres::PgBrokerStore;
pub use sqlite::SqliteBrokerStore;
