//! The admin credentials that sign management calls.
//!
//! Fixed ones come from configuration. Otherwise the first start generates
//! a pair, stores the secret sealed under the master key, and prints it once;
//! later starts (and other instances on the same database) read it back.

use anyhow::{Context, bail};
use async_trait::async_trait;
use awsapi::{AwsError, CredentialProvider, PrincipalInfo, SigningIdentity};
use secrets::MasterKey;
use sqlx::Row;
use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::db::Database;

const SELECT: &str = "SELECT access_key_id, secret_sealed FROM admin_credentials ORDER BY created_at LIMIT 1";
const INSERT: &str = "INSERT INTO admin_credentials (access_key_id, secret_sealed, created_at) VALUES ($1, $2, $3) \
     ON CONFLICT (access_key_id) DO NOTHING";

#[derive(Clone)]
pub struct AdminCredentials {
    pub access_key_id: String,
    secret_access_key: String,
    principal: PrincipalInfo,
}

/// Where the credentials came from, for the start-up log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Configured,
    Stored,
    /// Generated now: the caller prints them once.
    Generated,
}

impl AdminCredentials {
    fn new(access_key_id: String, secret_access_key: String, account_id: &str) -> Self {
        let principal = PrincipalInfo {
            arn: format!("arn:aws:iam::{account_id}:user/cirrus-admin"),
            user_id: access_key_id.clone(),
            account_id: account_id.to_string(),
        };
        Self { access_key_id, secret_access_key, principal }
    }

    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    pub async fn load(config: &Config, db: &Database, key: &MasterKey) -> anyhow::Result<(Self, Origin)> {
        if let (Some(id), Some(secret)) = (&config.admin_access_key_id, &config.admin_secret_access_key) {
            return Ok((Self::new(id.clone(), secret.clone(), &config.account_id), Origin::Configured));
        }
        if let Some(found) = stored(db, key, &config.account_id).await? {
            return Ok((found, Origin::Stored));
        }
        let id = format!("AKIA{}", secrets::random_string(16, secrets::UPPER_ALNUM));
        let secret = secrets::random_string(40, secrets::ALNUM);
        let sealed = key.seal(secret.as_bytes(), id.as_bytes());
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        match db {
            Database::Sqlite(p) => {
                sqlx::query(INSERT).bind(&id).bind(&sealed).bind(now).execute(p).await.map(|_| ())
            }
            Database::Postgres(p) => {
                sqlx::query(INSERT).bind(&id).bind(&sealed).bind(now).execute(p).await.map(|_| ())
            }
        }
        .context("storing the admin credentials")?;
        // Another instance may have stored its pair first: the oldest wins.
        match stored(db, key, &config.account_id).await? {
            Some(found) if found.access_key_id == id => Ok((found, Origin::Generated)),
            Some(found) => Ok((found, Origin::Stored)),
            None => bail!("the admin credentials just stored cannot be read back"),
        }
    }
}

async fn stored(
    db: &Database,
    key: &MasterKey,
    account_id: &str,
) -> anyhow::Result<Option<AdminCredentials>> {
    let row: Option<(String, Vec<u8>)> = match db {
        Database::Sqlite(p) => sqlx::query(SELECT)
            .fetch_optional(p)
            .await?
            .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?)))
            .transpose()?,
        Database::Postgres(p) => sqlx::query(SELECT)
            .fetch_optional(p)
            .await?
            .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?)))
            .transpose()?,
    };
    let Some((id, sealed)) = row else { return Ok(None) };
    let secret = key.open(&sealed, id.as_bytes()).map_err(|_| {
        anyhow::anyhow!(
            "the stored admin credentials do not open under this master key: the database was created \
             with another master key (set master_key / CIRRUS_MASTER_KEY to that one)"
        )
    })?;
    let secret = String::from_utf8(secret).context("stored admin secret is not UTF-8")?;
    Ok(Some(AdminCredentials::new(id, secret, account_id)))
}

#[async_trait]
impl CredentialProvider for AdminCredentials {
    async fn lookup(
        &self,
        access_key_id: &str,
        _session_token: Option<&str>,
    ) -> Result<Option<SigningIdentity>, AwsError> {
        if bool::from(access_key_id.as_bytes().ct_eq(self.access_key_id.as_bytes())) {
            Ok(Some(SigningIdentity {
                secret_access_key: self.secret_access_key.clone(),
                principal: self.principal.clone(),
                restriction: None,
            }))
        } else {
            Ok(None)
        }
    }
}
