//! SQL for authorization codes, hosted-UI sessions, domains and UI
//! branding; one macro body for both backends.

pub(super) const INSERT_CODE: &str = "INSERT INTO oauth_codes (code_hash, pool_id, client_id, username_key, \
     origin_jti, grant_data, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)";
pub(super) const SPEND_CODE: &str = "UPDATE oauth_codes SET used_at = $2 \
     WHERE code_hash = $1 AND client_id = $3 AND used_at IS NULL AND expires_at > $2 \
     RETURNING code_hash, pool_id, client_id, username_key, origin_jti, grant_data, expires_at, used_at";
pub(super) const SELECT_CODE: &str = "SELECT code_hash, pool_id, client_id, username_key, origin_jti, grant_data, \
     expires_at, used_at FROM oauth_codes WHERE code_hash = $1";
pub(super) const MARK_REPLAYED: &str = "UPDATE oauth_codes SET replayed_at = $2 WHERE code_hash = $1";
pub(super) const CODE_REPLAYED: &str = "SELECT replayed_at FROM oauth_codes WHERE code_hash = $1";
pub(super) const PRUNE_CODES: &str = "DELETE FROM oauth_codes WHERE expires_at < $1";
pub(super) const REVOKE_ORIGIN: &str =
    "UPDATE refresh_tokens SET revoked_at = $2 WHERE origin_jti = $1 AND revoked_at IS NULL";

pub(super) const INSERT_UI_SESSION: &str = "INSERT INTO ui_sessions (id_hash, pool_id, username_key, auth_time, \
     expires_at, provider) VALUES ($1, $2, $3, $4, $5, $6)";
pub(super) const SELECT_UI_SESSION: &str = "SELECT id_hash, pool_id, username_key, auth_time, expires_at, provider \
     FROM ui_sessions WHERE id_hash = $1";
pub(super) const DELETE_UI_SESSION: &str = "DELETE FROM ui_sessions WHERE id_hash = $1";
pub(super) const PRUNE_UI_SESSIONS: &str = "DELETE FROM ui_sessions WHERE expires_at < $1";

pub(super) const INSERT_DOMAIN: &str = "INSERT INTO user_pool_domains (domain, pool_id, custom_config, \
     login_version, created_at) VALUES ($1, $2, $3, $4, $5)";
pub(super) const UPDATE_DOMAIN: &str =
    "UPDATE user_pool_domains SET custom_config = $3, login_version = $4 WHERE domain = $1 AND pool_id = $2";
pub(super) const SELECT_DOMAIN: &str = "SELECT domain, pool_id, custom_config, login_version, created_at \
     FROM user_pool_domains WHERE domain = $1";
pub(super) const POOL_DOMAINS: &str = "SELECT domain, pool_id, custom_config, login_version, created_at \
     FROM user_pool_domains WHERE pool_id = $1 ORDER BY domain";
pub(super) const CUSTOM_UNDER_PREFIX: &str = "SELECT domain FROM user_pool_domains \
     WHERE domain LIKE $1 AND custom_config IS NOT NULL LIMIT 1";
pub(super) const DELETE_DOMAIN: &str = "DELETE FROM user_pool_domains WHERE domain = $1 AND pool_id = $2";

pub(super) const PUT_UI: &str = "INSERT INTO ui_customizations (pool_id, client_id, css, image, created_at, \
     updated_at) VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (pool_id, client_id) DO UPDATE \
     SET css = excluded.css, image = excluded.image, updated_at = excluded.updated_at";
pub(super) const SELECT_UI: &str = "SELECT pool_id, client_id, css, image, created_at, updated_at \
     FROM ui_customizations WHERE pool_id = $1 AND client_id = $2";

macro_rules! oauth_store {
    ($store:ident, $row:ty) => {
        use crate::model::{AuthorizationCode, CodeUse, PoolDomain, UiCustomization, UiSession};
        use crate::store::OAuthStore;
        use crate::store::sql_oauth::*;

        fn authz_code_from_row(row: &$row) -> Result<AuthorizationCode, sqlx::Error> {
            let grant: String = row.try_get("grant_data")?;
            Ok(AuthorizationCode {
                code_hash: row.try_get("code_hash")?,
                pool_id: row.try_get("pool_id")?,
                client_id: row.try_get("client_id")?,
                username_key: row.try_get("username_key")?,
                origin_jti: row.try_get("origin_jti")?,
                grant: serde_json::from_str(&grant).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                expires_ms: row.try_get("expires_at")?,
                used_ms: row.try_get("used_at")?,
            })
        }

        fn ui_session_from_row(row: &$row) -> Result<UiSession, sqlx::Error> {
            Ok(UiSession {
                id_hash: row.try_get("id_hash")?,
                pool_id: row.try_get("pool_id")?,
                username_key: row.try_get("username_key")?,
                auth_time: row.try_get("auth_time")?,
                expires_ms: row.try_get("expires_at")?,
                provider: row.try_get("provider")?,
            })
        }

        fn domain_from_row(row: &$row) -> Result<PoolDomain, sqlx::Error> {
            let config: Option<String> = row.try_get("custom_config")?;
            Ok(PoolDomain {
                domain: row.try_get("domain")?,
                pool_id: row.try_get("pool_id")?,
                custom_config: config
                    .map(|c| serde_json::from_str(&c))
                    .transpose()
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                login_version: row.try_get("login_version")?,
                created_ms: row.try_get("created_at")?,
            })
        }

        fn ui_from_row(row: &$row) -> Result<UiCustomization, sqlx::Error> {
            Ok(UiCustomization {
                pool_id: row.try_get("pool_id")?,
                client_id: row.try_get("client_id")?,
                css: row.try_get("css")?,
                image: row.try_get("image")?,
                created_ms: row.try_get("created_at")?,
                updated_ms: row.try_get("updated_at")?,
            })
        }

        #[async_trait]
        impl OAuthStore for $store {
            async fn insert_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
                // Codes live five minutes; expired ones go now and then.
                if code.expires_ms % 32 == 0 {
                    sqlx::query(PRUNE_CODES).bind(code.expires_ms - 3_600_000).execute(&self.pool).await?;
                }
                let grant = serde_json::to_string(&code.grant)
                    .map_err(|e| StoreError::Database(sqlx::Error::Encode(Box::new(e))))?;
                sqlx::query(INSERT_CODE)
                    .bind(&code.code_hash)
                    .bind(&code.pool_id)
                    .bind(&code.client_id)
                    .bind(&code.username_key)
                    .bind(&code.origin_jti)
                    .bind(grant)
                    .bind(code.expires_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_or)?;
                Ok(())
            }

            async fn spend_code(
                &self,
                code_hash: &[u8],
                client_id: &str,
                now_ms: i64,
            ) -> Result<CodeUse, StoreError> {
                let spent = sqlx::query(SPEND_CODE)
                    .bind(code_hash)
                    .bind(now_ms)
                    .bind(client_id)
                    .fetch_optional(&self.pool)
                    .await?;
                if let Some(row) = spent {
                    return Ok(CodeUse::Fresh(authz_code_from_row(&row)?));
                }
                let row = sqlx::query(SELECT_CODE).bind(code_hash).fetch_optional(&self.pool).await?;
                Ok(match row.as_ref().map(authz_code_from_row).transpose()? {
                    Some(code) if code.used_ms.is_some() && code.client_id == client_id => {
                        CodeUse::Replayed(code)
                    }
                    _ => CodeUse::Unknown,
                })
            }

            async fn mark_replayed(&self, code_hash: &[u8], now_ms: i64) -> Result<(), StoreError> {
                sqlx::query(MARK_REPLAYED).bind(code_hash).bind(now_ms).execute(&self.pool).await?;
                Ok(())
            }

            async fn code_replayed(&self, code_hash: &[u8]) -> Result<bool, StoreError> {
                let row: Option<(Option<i64>,)> =
                    sqlx::query_as(CODE_REPLAYED).bind(code_hash).fetch_optional(&self.pool).await?;
                Ok(row.is_some_and(|(at,)| at.is_some()))
            }

            async fn revoke_origin(&self, origin_jti: &str, now_ms: i64) -> Result<(), StoreError> {
                sqlx::query(REVOKE_ORIGIN).bind(origin_jti).bind(now_ms).execute(&self.pool).await?;
                Ok(())
            }

            async fn insert_ui_session(&self, s: &UiSession) -> Result<(), StoreError> {
                if s.auth_time % 16 == 0 {
                    sqlx::query(PRUNE_UI_SESSIONS).bind(s.auth_time * 1000).execute(&self.pool).await?;
                }
                sqlx::query(INSERT_UI_SESSION)
                    .bind(&s.id_hash)
                    .bind(&s.pool_id)
                    .bind(&s.username_key)
                    .bind(s.auth_time)
                    .bind(s.expires_ms)
                    .bind(&s.provider)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_or)?;
                Ok(())
            }

            async fn get_ui_session(&self, id_hash: &[u8]) -> Result<Option<UiSession>, StoreError> {
                let row = sqlx::query(SELECT_UI_SESSION).bind(id_hash).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().map(ui_session_from_row).transpose()?)
            }

            async fn delete_ui_session(&self, id_hash: &[u8]) -> Result<(), StoreError> {
                sqlx::query(DELETE_UI_SESSION).bind(id_hash).execute(&self.pool).await?;
                Ok(())
            }

            async fn insert_domain(&self, d: &PoolDomain) -> Result<(), StoreError> {
                let config = d.custom_config.as_ref().map(|c| c.to_string());
                sqlx::query(INSERT_DOMAIN)
                    .bind(&d.domain)
                    .bind(&d.pool_id)
                    .bind(config)
                    .bind(d.login_version)
                    .bind(d.created_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_or)?;
                Ok(())
            }

            async fn update_domain(&self, d: &PoolDomain) -> Result<bool, StoreError> {
                let config = d.custom_config.as_ref().map(|c| c.to_string());
                let done = sqlx::query(UPDATE_DOMAIN)
                    .bind(&d.domain)
                    .bind(&d.pool_id)
                    .bind(config)
                    .bind(d.login_version)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn get_domain(&self, domain: &str) -> Result<Option<PoolDomain>, StoreError> {
                let row = sqlx::query(SELECT_DOMAIN).bind(domain).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().map(domain_from_row).transpose()?)
            }

            async fn custom_domain_under(&self, prefix: &str) -> Result<bool, StoreError> {
                // Prefixes are [a-z0-9-]: nothing in them is a LIKE wildcard.
                let row: Option<(String,)> = sqlx::query_as(CUSTOM_UNDER_PREFIX)
                    .bind(format!("{prefix}.%"))
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.is_some())
            }

            async fn pool_domains(&self, pool_id: &str) -> Result<Vec<PoolDomain>, StoreError> {
                let rows = sqlx::query(POOL_DOMAINS).bind(pool_id).fetch_all(&self.pool).await?;
                Ok(rows.iter().map(domain_from_row).collect::<Result<_, _>>()?)
            }

            async fn delete_domain(&self, domain: &str, pool_id: &str) -> Result<bool, StoreError> {
                let done = sqlx::query(DELETE_DOMAIN).bind(domain).bind(pool_id).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn put_ui_customization(&self, ui: &UiCustomization) -> Result<(), StoreError> {
                sqlx::query(PUT_UI)
                    .bind(&ui.pool_id)
                    .bind(&ui.client_id)
                    .bind(&ui.css)
                    .bind(&ui.image)
                    .bind(ui.updated_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn get_ui_customization(
                &self,
                pool_id: &str,
                client_id: &str,
            ) -> Result<Option<UiCustomization>, StoreError> {
                let row =
                    sqlx::query(SELECT_UI).bind(pool_id).bind(client_id).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().map(ui_from_row).transpose()?)
            }
        }
    };
}

pub(super) use oauth_store;
