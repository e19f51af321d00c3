//! SQL for users, codes, sessions, refresh tokens and signing keys; one
//! macro body for both backends, as in `sql.rs`.

pub(super) const USER_COLUMNS: &str = "u.pool_id, u.username_key, u.username, u.sub, u.status, u.enabled, \
     u.attributes, u.password_hash, u.password_set_at, u.failed_attempts, u.locked_until, u.tokens_valid_after, \
     u.created_at, u.updated_at, u.pending_attributes, u.srp_salt, u.srp_verifier, u.mfa";
pub(super) const INSERT_USER: &str = "INSERT INTO users (pool_id, username_key, username, sub, status, enabled, \
     attributes, password_hash, password_set_at, failed_attempts, locked_until, tokens_valid_after, created_at, \
     updated_at, pending_attributes, srp_salt, srp_verifier, mfa) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)";
pub(super) const INSERT_SEARCH: &str = "INSERT INTO user_search (pool_id, attribute, value, username_key) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
pub(super) const DELETE_SEARCH: &str = "DELETE FROM user_search WHERE pool_id = $1 AND username_key = $2";
pub(super) const DELETE_USER: &str = "DELETE FROM users WHERE pool_id = $1 AND username_key = $2";
pub(super) const DELETE_USER_ALIASES: &str =
    "DELETE FROM user_aliases WHERE pool_id = $1 AND username_key = $2";
pub(super) const INSERT_ALIAS: &str =
    "INSERT INTO user_aliases (pool_id, alias_key, username_key) VALUES ($1, $2, $3)";
pub(super) const MOVE_ALIAS: &str = "INSERT INTO user_aliases (pool_id, alias_key, username_key) VALUES ($1, $2, $3) \
     ON CONFLICT (pool_id, alias_key) DO UPDATE SET username_key = excluded.username_key";
pub(super) const ALIAS_OWNER: &str =
    "SELECT username_key FROM user_aliases WHERE pool_id = $1 AND alias_key = $2";
pub(super) const UPDATE_USER: &str = "UPDATE users SET status = $3, enabled = $4, attributes = $5, password_hash = $6, \
     password_set_at = $7, updated_at = $8, pending_attributes = $9, srp_salt = $10, srp_verifier = $11, mfa = $12 \
     WHERE pool_id = $1 AND username_key = $2";
pub(super) const USE_TOTP_STEP: &str = "UPDATE users SET totp_last_step = $3 \
     WHERE pool_id = $1 AND username_key = $2 AND totp_last_step < $3";
pub(super) const COUNT_FAILURE: &str = "UPDATE users SET failed_attempts = failed_attempts + 1 \
     WHERE pool_id = $1 AND username_key = $2 RETURNING failed_attempts";
pub(super) const SET_LOCK: &str =
    "UPDATE users SET locked_until = $3 WHERE pool_id = $1 AND username_key = $2";
pub(super) const RESET_FAILURES: &str = "UPDATE users SET failed_attempts = 0, locked_until = 0 \
     WHERE pool_id = $1 AND username_key = $2 AND failed_attempts <> 0";
pub(super) const SIGN_OUT_USER: &str =
    "UPDATE users SET tokens_valid_after = $3 WHERE pool_id = $1 AND username_key = $2";
pub(super) const REVOKE_USER_TOKENS: &str = "UPDATE refresh_tokens SET revoked_at = $3 \
     WHERE pool_id = $1 AND username_key = $2 AND revoked_at IS NULL";

pub(super) const PUT_CODE: &str = "INSERT INTO one_time_codes (pool_id, username_key, purpose, code_hash, attribute, \
     expires_at, attempts) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (pool_id, username_key, purpose) DO UPDATE \
     SET code_hash = excluded.code_hash, attribute = excluded.attribute, expires_at = excluded.expires_at, \
     attempts = excluded.attempts";
pub(super) const GET_CODE: &str = "SELECT pool_id, username_key, purpose, code_hash, attribute, expires_at, attempts \
     FROM one_time_codes WHERE pool_id = $1 AND username_key = $2 AND purpose = $3";
pub(super) const TRY_CODE: &str = "UPDATE one_time_codes SET attempts = attempts + 1 \
     WHERE pool_id = $1 AND username_key = $2 AND purpose = $3 AND attempts < $4 \
     RETURNING pool_id, username_key, purpose, code_hash, attribute, expires_at, attempts";
pub(super) const DELETE_CODE: &str =
    "DELETE FROM one_time_codes WHERE pool_id = $1 AND username_key = $2 AND purpose = $3";

pub(super) const USE_SESSION: &str = "INSERT INTO used_sessions (session_id, expires_at) VALUES ($1, $2) \
     ON CONFLICT (session_id) DO NOTHING";
pub(super) const PRUNE_SESSIONS: &str = "DELETE FROM used_sessions WHERE expires_at < $1";

pub(super) const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens (token_hash, pool_id, client_id, username_key, \
     origin_jti, auth_time, created_at, expires_at, revoked_at, scopes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
pub(super) const GET_REFRESH: &str = "SELECT token_hash, pool_id, client_id, username_key, origin_jti, auth_time, \
     created_at, expires_at, revoked_at, scopes FROM refresh_tokens WHERE token_hash = $1";
pub(super) const REVOKE_REFRESH: &str =
    "UPDATE refresh_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL";
pub(super) const ORIGIN_REVOKED: &str = "SELECT revoked_at FROM refresh_tokens WHERE origin_jti = $1";

pub(super) const INSERT_KEY: &str = "INSERT INTO signing_keys (kid, pool_id, private_key_sealed, public_jwk, created_at, \
     retired_at) VALUES ($1, $2, $3, $4, $5, $6)";
pub(super) const POOL_KEYS: &str = "SELECT kid, pool_id, private_key_sealed, public_jwk, created_at, retired_at \
     FROM signing_keys WHERE pool_id = $1 ORDER BY created_at DESC, kid";
pub(super) const RETIRE_KEYS: &str =
    "UPDATE signing_keys SET retired_at = $3 WHERE pool_id = $1 AND kid <> $2 AND retired_at IS NULL";

macro_rules! user_store {
    ($store:ident, $row:ty, $db:ty) => {
        use std::collections::BTreeMap;

        use crate::model::{
            CodePurpose, OneTimeCode, RefreshToken, SigningKey, SrpVerifier, User, UserFilter, UserMfa, UserStatus,
        };
        use crate::store::sql_users::*;
        use crate::store::{CodeStore, KeyStore, SessionStore, TokenStore, UserStore};

        fn user_from_row(row: &$row) -> Result<User, sqlx::Error> {
            let status: String = row.try_get("status")?;
            Ok(User {
                pool_id: row.try_get("pool_id")?,
                username_key: row.try_get("username_key")?,
                username: row.try_get("username")?,
                sub: row.try_get("sub")?,
                status: UserStatus::parse(&status)
                    .ok_or_else(|| sqlx::Error::Decode(format!("unknown user status {status}").into()))?,
                enabled: row.try_get("enabled")?,
                attributes: row.try_get::<Json<BTreeMap<String, String>>, _>("attributes")?.0,
                password_hash: row.try_get("password_hash")?,
                password_set_ms: row.try_get("password_set_at")?,
                failed_attempts: row.try_get("failed_attempts")?,
                locked_until_ms: row.try_get("locked_until")?,
                tokens_valid_after_ms: row.try_get("tokens_valid_after")?,
                created_ms: row.try_get("created_at")?,
                updated_ms: row.try_get("updated_at")?,
                pending_attributes: row.try_get::<Json<BTreeMap<String, String>>, _>("pending_attributes")?.0,
                srp: match (row.try_get::<Option<String>, _>("srp_salt")?, row.try_get::<Option<String>, _>("srp_verifier")?) {
                    (Some(salt), Some(verifier)) => Some(SrpVerifier { salt, verifier }),
                    _ => None,
                },
                mfa: row.try_get::<Json<UserMfa>, _>("mfa")?.0,
            })
        }

        fn code_from_row(row: &$row, purpose: CodePurpose) -> Result<OneTimeCode, sqlx::Error> {
            Ok(OneTimeCode {
                pool_id: row.try_get("pool_id")?,
                username_key: row.try_get("username_key")?,
                purpose,
                code_hash: row.try_get("code_hash")?,
                attribute: row.try_get("attribute")?,
                expires_ms: row.try_get("expires_at")?,
                attempts: row.try_get("attempts")?,
            })
        }

        fn refresh_from_row(row: &$row) -> Result<RefreshToken, sqlx::Error> {
            Ok(RefreshToken {
                token_hash: row.try_get("token_hash")?,
                pool_id: row.try_get("pool_id")?,
                client_id: row.try_get("client_id")?,
                username_key: row.try_get("username_key")?,
                origin_jti: row.try_get("origin_jti")?,
                auth_time: row.try_get("auth_time")?,
                created_ms: row.try_get("created_at")?,
                expires_ms: row.try_get("expires_at")?,
                revoked_ms: row.try_get("revoked_at")?,
                scopes: row.try_get("scopes")?,
            })
        }

        fn key_from_row(row: &$row) -> Result<SigningKey, sqlx::Error> {
            Ok(SigningKey {
                kid: row.try_get("kid")?,
                pool_id: row.try_get("pool_id")?,
                private_key_sealed: row.try_get("private_key_sealed")?,
                public_jwk: row.try_get("public_jwk")?,
                created_ms: row.try_get("created_at")?,
                retired_ms: row.try_get("retired_at")?,
            })
        }

        /// Inserts a user, its search rows and aliases on `tx`.
        async fn insert_user_on(
            tx: &mut sqlx::Transaction<'_, $db>,
            u: &User,
            aliases: &[String],
        ) -> Result<(), StoreError> {
                sqlx::query(INSERT_USER)
                    .bind(&u.pool_id)
                    .bind(&u.username_key)
                    .bind(&u.username)
                    .bind(&u.sub)
                    .bind(u.status.as_str())
                    .bind(u.enabled)
                    .bind(Json(&u.attributes))
                    .bind(&u.password_hash)
                    .bind(u.password_set_ms)
                    .bind(u.failed_attempts)
                    .bind(u.locked_until_ms)
                    .bind(u.tokens_valid_after_ms)
                    .bind(u.created_ms)
                    .bind(u.updated_ms)
                    .bind(Json(&u.pending_attributes))
                    .bind(u.srp.as_ref().map(|s| s.salt.clone()))
                    .bind(u.srp.as_ref().map(|s| s.verifier.clone()))
                    .bind(Json(&u.mfa))
                    .execute(&mut **tx)
                    .await
                    .map_err(conflict_or)?;
                for (attribute, value) in u.search_rows() {
                    sqlx::query(INSERT_SEARCH)
                        .bind(&u.pool_id)
                        .bind(attribute)
                        .bind(value)
                        .bind(&u.username_key)
                        .execute(&mut **tx)
                        .await?;
                }
                for alias in aliases {
                    sqlx::query(INSERT_ALIAS)
                        .bind(&u.pool_id)
                        .bind(alias)
                        .bind(&u.username_key)
                        .execute(&mut **tx)
                        .await
                        .map_err(alias_conflict)?;
                }
                Ok(())
            }

        fn alias_conflict(e: sqlx::Error) -> StoreError {
            match conflict_or(e) {
                StoreError::Conflict => StoreError::AliasConflict,
                other => other,
            }
        }

        #[async_trait]
        impl UserStore for $store {
            async fn insert_user(&self, u: &User, aliases: &[String]) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                insert_user_on(&mut tx, u, aliases).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_user(&self, pool_id: &str, username_key: &str) -> Result<Option<User>, StoreError> {
                let sql =
                    format!("SELECT {USER_COLUMNS} FROM users u WHERE u.pool_id = $1 AND u.username_key = $2");
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(pool_id)
                    .bind(username_key)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(user_from_row).transpose()?)
            }

            async fn find_by_alias(
                &self,
                pool_id: &str,
                alias_key: &str,
            ) -> Result<Option<User>, StoreError> {
                let owner: Option<(String,)> = sqlx::query_as(ALIAS_OWNER)
                    .bind(pool_id)
                    .bind(alias_key)
                    .fetch_optional(&self.pool)
                    .await?;
                match owner {
                    Some((username_key,)) => self.get_user(pool_id, &username_key).await,
                    None => Ok(None),
                }
            }

            async fn update_user(&self, u: &User) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(UPDATE_USER)
                    .bind(&u.pool_id)
                    .bind(&u.username_key)
                    .bind(u.status.as_str())
                    .bind(u.enabled)
                    .bind(Json(&u.attributes))
                    .bind(&u.password_hash)
                    .bind(u.password_set_ms)
                    .bind(u.updated_ms)
                    .bind(Json(&u.pending_attributes))
                    .bind(u.srp.as_ref().map(|s| s.salt.clone()))
                    .bind(u.srp.as_ref().map(|s| s.verifier.clone()))
                    .bind(Json(&u.mfa))
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                sqlx::query(DELETE_SEARCH).bind(&u.pool_id).bind(&u.username_key).execute(&mut *tx).await?;
                for (attribute, value) in u.search_rows() {
                    sqlx::query(INSERT_SEARCH)
                        .bind(&u.pool_id)
                        .bind(attribute)
                        .bind(value)
                        .bind(&u.username_key)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn use_totp_step(&self, pool_id: &str, username_key: &str, step: i64) -> Result<bool, StoreError> {
                let done =
                    sqlx::query(USE_TOTP_STEP).bind(pool_id).bind(username_key).bind(step).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_user(&self, pool_id: &str, username_key: &str) -> Result<bool, StoreError> {
                let done = sqlx::query(DELETE_USER).bind(pool_id).bind(username_key).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn release_aliases(&self, pool_id: &str, username_key: &str) -> Result<(), StoreError> {
                sqlx::query(DELETE_USER_ALIASES).bind(pool_id).bind(username_key).execute(&self.pool).await?;
                Ok(())
            }

            async fn list_users(
                &self,
                pool_id: &str,
                filter: Option<&UserFilter>,
                after: Option<(&str, &str)>,
                limit: i64,
            ) -> Result<Vec<(String, User)>, StoreError> {
                let (after_value, after_user) = after.unwrap_or(("", ""));
                let rows = match filter {
                    None => {
                        let sql = format!(
                            "SELECT {USER_COLUMNS}, u.username_key AS sort_value FROM users u \
                             WHERE u.pool_id = $1 AND u.username_key > $2 ORDER BY u.username_key LIMIT $3"
                        );
                        sqlx::query(sqlx::AssertSqlSafe(sql))
                            .bind(pool_id)
                            .bind(after_user)
                            .bind(limit)
                            .fetch_all(&self.pool)
                            .await?
                    }
                    Some(f) => {
                        // Exact: value = v. Prefix: v <= value < v + U+10FFFF,
                        // a range the (pool, attribute, value) index serves.
                        let upper = format!("{}\u{10FFFF}", f.value);
                        let condition = if f.prefix { "s.value >= $3 AND s.value < $4" } else { "s.value = $3 AND $4 = $4" };
                        let sql = format!(
                            "SELECT {USER_COLUMNS}, s.value AS sort_value FROM user_search s \
                             JOIN users u ON u.pool_id = s.pool_id AND u.username_key = s.username_key \
                             WHERE s.pool_id = $1 AND s.attribute = $2 AND {condition} \
                             AND (s.value, s.username_key) > ($5, $6) \
                             ORDER BY s.value, s.username_key LIMIT $7"
                        );
                        sqlx::query(sqlx::AssertSqlSafe(sql))
                            .bind(pool_id)
                            .bind(&f.attribute)
                            .bind(&f.value)
                            .bind(upper)
                            .bind(after_value)
                            .bind(after_user)
                            .bind(limit)
                            .fetch_all(&self.pool)
                            .await?
                    }
                };
                rows.iter()
                    .map(|r| Ok((r.try_get::<String, _>("sort_value")?, user_from_row(r)?)))
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(Into::into)
            }

            async fn claim_alias(
                &self,
                pool_id: &str,
                alias_key: &str,
                username_key: &str,
                force: bool,
            ) -> Result<(), StoreError> {
                if force {
                    sqlx::query(MOVE_ALIAS)
                        .bind(pool_id)
                        .bind(alias_key)
                        .bind(username_key)
                        .execute(&self.pool)
                        .await?;
                    return Ok(());
                }
                match sqlx::query(INSERT_ALIAS)
                    .bind(pool_id)
                    .bind(alias_key)
                    .bind(username_key)
                    .execute(&self.pool)
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(e) => match alias_conflict(e) {
                        StoreError::AliasConflict => {
                            let owner: Option<(String,)> = sqlx::query_as(ALIAS_OWNER)
                                .bind(pool_id)
                                .bind(alias_key)
                                .fetch_optional(&self.pool)
                                .await?;
                            if owner.is_some_and(|(o,)| o == username_key) {
                                Ok(())
                            } else {
                                Err(StoreError::AliasConflict)
                            }
                        }
                        other => Err(other),
                    },
                }
            }

            async fn record_failure(
                &self,
                pool_id: &str,
                username_key: &str,
                lock: &(dyn Fn(i64) -> i64 + Sync),
            ) -> Result<i64, StoreError> {
                let (count,): (i64,) = sqlx::query_as(COUNT_FAILURE)
                    .bind(pool_id)
                    .bind(username_key)
                    .fetch_one(&self.pool)
                    .await?;
                let until = lock(count);
                if until > 0 {
                    sqlx::query(SET_LOCK)
                        .bind(pool_id)
                        .bind(username_key)
                        .bind(until)
                        .execute(&self.pool)
                        .await?;
                }
                Ok(count)
            }

            async fn reset_failures(&self, pool_id: &str, username_key: &str) -> Result<(), StoreError> {
                sqlx::query(RESET_FAILURES).bind(pool_id).bind(username_key).execute(&self.pool).await?;
                Ok(())
            }

            async fn sign_out_everywhere(
                &self,
                pool_id: &str,
                username_key: &str,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(SIGN_OUT_USER)
                    .bind(pool_id)
                    .bind(username_key)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(REVOKE_USER_TOKENS)
                    .bind(pool_id)
                    .bind(username_key)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }
        }

        #[async_trait]
        impl CodeStore for $store {
            async fn put_code(&self, c: &OneTimeCode) -> Result<(), StoreError> {
                sqlx::query(PUT_CODE)
                    .bind(&c.pool_id)
                    .bind(&c.username_key)
                    .bind(c.purpose.as_str())
                    .bind(&c.code_hash)
                    .bind(&c.attribute)
                    .bind(c.expires_ms)
                    .bind(c.attempts)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn get_code(
                &self,
                pool_id: &str,
                username_key: &str,
                purpose: CodePurpose,
            ) -> Result<Option<OneTimeCode>, StoreError> {
                let row = sqlx::query(GET_CODE)
                    .bind(pool_id)
                    .bind(username_key)
                    .bind(purpose.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(|r| code_from_row(r, purpose)).transpose()?)
            }

            async fn try_code(
                &self,
                pool_id: &str,
                username_key: &str,
                purpose: CodePurpose,
                max: i64,
            ) -> Result<Option<OneTimeCode>, StoreError> {
                let row = sqlx::query(TRY_CODE)
                    .bind(pool_id)
                    .bind(username_key)
                    .bind(purpose.as_str())
                    .bind(max)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(|r| code_from_row(r, purpose)).transpose()?)
            }

            async fn delete_code(
                &self,
                pool_id: &str,
                username_key: &str,
                purpose: CodePurpose,
            ) -> Result<(), StoreError> {
                sqlx::query(DELETE_CODE)
                    .bind(pool_id)
                    .bind(username_key)
                    .bind(purpose.as_str())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }

        #[async_trait]
        impl SessionStore for $store {
            async fn consume_session(
                &self,
                session_id: &str,
                expires_ms: i64,
                now_ms: i64,
            ) -> Result<bool, StoreError> {
                let done =
                    sqlx::query(USE_SESSION).bind(session_id).bind(expires_ms).execute(&self.pool).await?;
                // Used sessions are only needed until they expire; prune
                // now and then rather than on a timer.
                if now_ms % 64 == 0 {
                    sqlx::query(PRUNE_SESSIONS).bind(now_ms).execute(&self.pool).await?;
                }
                Ok(done.rows_affected() == 1)
            }
        }

        #[async_trait]
        impl TokenStore for $store {
            async fn insert_refresh_token(&self, t: &RefreshToken) -> Result<(), StoreError> {
                sqlx::query(INSERT_REFRESH)
                    .bind(&t.token_hash)
                    .bind(&t.pool_id)
                    .bind(&t.client_id)
                    .bind(&t.username_key)
                    .bind(&t.origin_jti)
                    .bind(t.auth_time)
                    .bind(t.created_ms)
                    .bind(t.expires_ms)
                    .bind(t.revoked_ms)
                    .bind(&t.scopes)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_or)?;
                Ok(())
            }

            async fn get_refresh_token(&self, token_hash: &[u8]) -> Result<Option<RefreshToken>, StoreError> {
                let row = sqlx::query(GET_REFRESH).bind(token_hash).fetch_optional(&self.pool).await?;
                Ok(row.as_ref().map(refresh_from_row).transpose()?)
            }

            async fn revoke_refresh_token(&self, token_hash: &[u8], now_ms: i64) -> Result<(), StoreError> {
                sqlx::query(REVOKE_REFRESH).bind(token_hash).bind(now_ms).execute(&self.pool).await?;
                Ok(())
            }

            async fn origin_revoked(&self, origin_jti: &str) -> Result<Option<bool>, StoreError> {
                let row: Option<(Option<i64>,)> =
                    sqlx::query_as(ORIGIN_REVOKED).bind(origin_jti).fetch_optional(&self.pool).await?;
                Ok(row.map(|(revoked,)| revoked.is_some()))
            }
        }

        #[async_trait]
        impl KeyStore for $store {
            async fn insert_signing_key(&self, k: &SigningKey) -> Result<(), StoreError> {
                sqlx::query(INSERT_KEY)
                    .bind(&k.kid)
                    .bind(&k.pool_id)
                    .bind(&k.private_key_sealed)
                    .bind(&k.public_jwk)
                    .bind(k.created_ms)
                    .bind(k.retired_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_or)?;
                Ok(())
            }

            async fn signing_keys(&self, pool_id: &str) -> Result<Vec<SigningKey>, StoreError> {
                let rows = sqlx::query(POOL_KEYS).bind(pool_id).fetch_all(&self.pool).await?;
                Ok(rows.iter().map(key_from_row).collect::<Result<_, _>>()?)
            }

            async fn retire_signing_keys(
                &self,
                pool_id: &str,
                keep_kid: &str,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(RETIRE_KEYS)
                    .bind(pool_id)
                    .bind(keep_kid)
                    .bind(now_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(super) use user_store;
