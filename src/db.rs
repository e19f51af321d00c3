//! Connecting to SQLite or PostgreSQL and applying the migrations.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use crate::config::Config;

/// The database every service of this process shares.
#[derive(Clone, Debug)]
pub enum Database {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Database {
    /// Connects as configured; returns the database and a description for
    /// the start-up log (no password in it).
    pub async fn connect(config: &Config) -> anyhow::Result<(Self, String)> {
        if config.is_postgres() {
            let url = config.database_url.as_deref().unwrap_or_default();
            let mut options = PgConnectOptions::from_str(url).context("parsing database_url")?;
            if let Some(schema) = &config.database_schema {
                create_schema(options.clone(), schema).await?;
                options = options.options([("search_path", schema.as_str())]);
            }
            let described = format!(
                "PostgreSQL at {}:{}/{}{}",
                options.get_host(),
                options.get_port(),
                options.get_database().unwrap_or("(default)"),
                config.database_schema.as_deref().map(|s| format!(" schema {s}")).unwrap_or_default()
            );
            let pool = PgPoolOptions::new()
                .max_connections(config.database_max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .with_context(|| format!("connecting to {described}"))?;
            return Ok((Self::Postgres(pool), described));
        }
        let options = match &config.database_url {
            Some(url) => SqliteConnectOptions::from_str(url).context("parsing database_url")?,
            None => {
                std::fs::create_dir_all(&config.data_dir)
                    .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
                SqliteConnectOptions::new().filename(config.data_dir.join("cirrus.db"))
            }
        };
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let described = format!("SQLite at {} (WAL)", options.get_filename().display());
        let pool = SqlitePoolOptions::new()
            .max_connections(config.database_max_connections)
            .connect_with(options)
            .await
            .with_context(|| format!("opening {described}"))?;
        Ok((Self::Sqlite(pool), described))
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Self::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await,
            Self::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await,
        }
        .context("applying migrations")
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        let result = match self {
            Self::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()),
            Self::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()),
        };
        result.is_ok()
    }

    pub fn idp_store(&self) -> Arc<dyn idp::store::IdpStore> {
        match self {
            Self::Sqlite(pool) => Arc::new(idp::store::SqliteStore::new(pool.clone())),
            Self::Postgres(pool) => Arc::new(idp::store::PostgresStore::new(pool.clone())),
        }
    }

    pub fn broker_store(&self) -> Arc<dyn sts_broker::store::BrokerStore> {
        match self {
            Self::Sqlite(pool) => Arc::new(sts_broker::store::SqliteBrokerStore::new(pool.clone())),
            Self::Postgres(pool) => Arc::new(sts_broker::store::PgBrokerStore::new(pool.clone())),
        }
    }

    pub async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

async fn create_schema(options: PgConnectOptions, schema: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect_with(&options).await.context("connecting to PostgreSQL")?;
    // The name was checked to be [A-Za-z0-9_]+ by the configuration.
    let statement = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
    sqlx::query(sqlx::AssertSqlSafe(statement))
        .execute(&mut conn)
        .await
        .with_context(|| format!("creating schema {schema}"))?;
    conn.close().await.ok();
    Ok(())
}
