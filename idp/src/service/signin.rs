//! InitiateAuth / AdminInitiateAuth and RespondToAuthChallenge /
//! AdminRespondToAuthChallenge: password sign-in, refresh, the
//! NEW_PASSWORD_REQUIRED challenge, lockout and sealed sessions.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::UserPools;
use super::tokens::{RefreshProof, Tokens};
use super::users::{Writer, check_attributes, check_required};
use crate::error::{IdpError, Result};
use crate::model::*;

/// Consecutive failures allowed before the lock starts.
const FREE_FAILURES: i64 = 5;
/// The lock doubles from 1 s with each further failure, up to 15 minutes.
const MAX_LOCK_SECONDS: i64 = 900;

/// A challenge to answer next.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub name: &'static str,
    pub session: String,
    pub parameters: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub enum AuthOutcome {
    Tokens(Tokens),
    Challenge(Challenge),
}

/// Where a request came from, for the sign-in event log.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// Who is calling: the public API, or a SigV4-signed admin naming the pool.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    Public,
    Admin { pool_id: &'a str },
}

/// What a `Session` carries between steps, sealed under the master key.
#[derive(Debug, Serialize, Deserialize)]
struct SessionState {
    id: String,
    pool: String,
    client: String,
    user: String,
    challenge: String,
    auth_time: i64,
    expires_ms: i64,
}

const SESSION_AAD: &[u8] = b"cirrus/sign-in-session/v1";

fn lock_until(now_ms: i64) -> impl Fn(i64) -> i64 + Sync {
    move |failures| {
        if failures < FREE_FAILURES {
            return 0;
        }
        let exponent = (failures - FREE_FAILURES).min(10) as u32;
        now_ms + (1i64 << exponent).min(MAX_LOCK_SECONDS) * 1000
    }
}

impl UserPools {
    async fn client_for(&self, caller: Caller<'_>, client_id: &str) -> Result<(UserPool, AppClient)> {
        if let Caller::Admin { pool_id } = caller {
            self.describe_pool(pool_id).await?;
        }
        let (pool, client) = self.client_and_pool(client_id).await?;
        if let Caller::Admin { pool_id } = caller
            && pool.id != pool_id
        {
            return Err(IdpError::ResourceNotFound(format!("User pool client {client_id} does not exist.")));
        }
        Ok((pool, client))
    }

    pub async fn initiate_auth(
        &self,
        caller: Caller<'_>,
        client_id: &str,
        flow: &str,
        params: &BTreeMap<String, String>,
        origin: &Origin,
    ) -> Result<AuthOutcome> {
        let (pool, client) = self.client_for(caller, client_id).await?;
        let flows = client.settings.explicit_auth_flows.clone().unwrap_or_default();
        let allowed = |new: ExplicitAuthFlow, legacy: Option<ExplicitAuthFlow>| {
            flows.contains(&new) || legacy.is_some_and(|l| flows.contains(&l))
        };
        let not_enabled = || IdpError::InvalidParameter(format!("{flow} flow not enabled for this client"));
        let param = |name: &str| params.get(name).map(String::as_str).filter(|v| !v.is_empty());
        let required = |name: &str| {
            param(name)
                .ok_or_else(|| IdpError::InvalidParameter(format!("Missing required parameter {name}")))
        };
        let is_admin = matches!(caller, Caller::Admin { .. });
        match flow {
            "USER_PASSWORD_AUTH" | "ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH" => {
                let admin_flow = flow != "USER_PASSWORD_AUTH";
                if admin_flow && !is_admin {
                    return Err(IdpError::InvalidParameter("Initiate Auth method not supported.".into()));
                }
                let permitted = if admin_flow {
                    allowed(
                        ExplicitAuthFlow::ALLOW_ADMIN_USER_PASSWORD_AUTH,
                        Some(ExplicitAuthFlow::ADMIN_NO_SRP_AUTH),
                    )
                } else {
                    allowed(
                        ExplicitAuthFlow::ALLOW_USER_PASSWORD_AUTH,
                        Some(ExplicitAuthFlow::USER_PASSWORD_AUTH),
                    )
                };
                if !permitted {
                    return Err(not_enabled());
                }
                let username = required("USERNAME")?;
                let password = required("PASSWORD")?;
                self.check_secret_hash(&client, username, param("SECRET_HASH"))?;
                let outcome = self.password_sign_in(&pool, &client, username, password).await;
                self.record_sign_in(&pool, &client, username, &outcome, origin).await;
                outcome
            }
            "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => {
                // Legacy clients (pre-ALLOW_ names) may always refresh.
                let legacy = flows.iter().all(|f| f.is_legacy());
                if !legacy && !allowed(ExplicitAuthFlow::ALLOW_REFRESH_TOKEN_AUTH, None) {
                    return Err(not_enabled());
                }
                let token = required("REFRESH_TOKEN")?;
                let proof = RefreshProof::SecretHash {
                    username: param("USERNAME"),
                    secret_hash: param("SECRET_HASH"),
                };
                Ok(AuthOutcome::Tokens(self.refresh(&pool, &client, token, proof).await?))
            }
            "USER_SRP_AUTH" | "CUSTOM_AUTH" | "USER_AUTH" => Err(IdpError::InvalidParameter(format!(
                "The {flow} flow is not available on this server yet; use USER_PASSWORD_AUTH."
            ))),
            other => Err(IdpError::InvalidParameter(format!(
                "1 validation error detected: Value '{other}' at 'authFlow' failed to satisfy constraint: Member must \
                 satisfy enum value set: [USER_SRP_AUTH, REFRESH_TOKEN_AUTH, REFRESH_TOKEN, CUSTOM_AUTH, \
                 USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH, ADMIN_NO_SRP_AUTH, USER_AUTH]"
            ))),
        }
    }

    /// Records a password sign-in attempt of a known user (AdminListUserAuthEvents).
    /// A failure to record is logged, never turned into a failed sign-in.
    async fn record_sign_in(
        &self,
        pool: &UserPool,
        client: &AppClient,
        username: &str,
        outcome: &Result<AuthOutcome>,
        origin: &Origin,
    ) {
        let response = match outcome {
            Ok(_) => "Pass",
            Err(IdpError::NotAuthorized(_)) => "Fail",
            Err(_) => return,
        };
        let user = match self.find_user(pool, username).await {
            Ok(Some(user)) => user,
            _ => return,
        };
        let event = AuthEvent {
            event_id: uuid::Uuid::new_v4().to_string(),
            pool_id: pool.id.clone(),
            username_key: user.username_key,
            created_ms: self.now_ms(),
            event_type: "SignIn".into(),
            response: response.into(),
            client_id: Some(client.client_id.clone()),
            ip_address: origin.ip_address.clone(),
            user_agent: origin.user_agent.clone(),
        };
        if let Err(e) = self.store.insert_auth_event(&event).await {
            tracing::warn!(pool = %pool.id, error = %e, "recording a sign-in event");
        }
    }

    /// The password factor, then the next step (tokens or a challenge).
    async fn password_sign_in(
        &self,
        pool: &UserPool,
        client: &AppClient,
        username: &str,
        password: &str,
    ) -> Result<AuthOutcome> {
        let wrong = || IdpError::NotAuthorized("Incorrect username or password.".into());
        let Some(user) = self.find_user(pool, username).await? else {
            // As long as a wrong password, so that timing tells nothing.
            self.hasher.verify_decoy(password).await?;
            return Err(if Self::prevents_existence_errors(client) {
                wrong()
            } else {
                IdpError::UserNotFound("User does not exist.".into())
            });
        };
        let now = self.now_ms();
        if user.locked_until_ms > now {
            return Err(IdpError::NotAuthorized("Password attempts exceeded".into()));
        }
        let Some(stored) = user.password_hash.as_deref() else {
            self.hasher.verify_decoy(password).await?;
            return Err(wrong());
        };
        let verified = self.hasher.verify(password, stored).await?;
        if !verified.matches {
            self.store.record_failure(&pool.id, &user.username_key, &lock_until(now)).await?;
            return Err(wrong());
        }
        if user.failed_attempts > 0 {
            self.store.reset_failures(&pool.id, &user.username_key).await?;
        }
        if !user.enabled {
            return Err(IdpError::NotAuthorized("User is disabled.".into()));
        }
        match user.status {
            UserStatus::UNCONFIRMED => {
                return Err(IdpError::UserNotConfirmed("User is not confirmed.".into()));
            }
            UserStatus::RESET_REQUIRED => {
                return Err(IdpError::PasswordResetRequired("Password reset required for the user".into()));
            }
            _ => {}
        }
        let mut user = user;
        if verified.needs_rehash {
            user.password_hash = Some(self.hasher.hash(password).await?);
            user.updated_ms = now;
            self.store.update_user(&user).await?;
        }
        let auth_time = now / 1000;
        if user.status == UserStatus::FORCE_CHANGE_PASSWORD {
            let days = self.password_policy(pool).temporary_password_validity_days.unwrap_or(7);
            if days > 0 && user.password_set_ms + days * 86_400_000 < now {
                return Err(IdpError::NotAuthorized(
                    "Temporary password has expired and must be reset by an administrator.".into(),
                ));
            }
            return Ok(AuthOutcome::Challenge(self.new_password_challenge(pool, client, &user, auth_time)?));
        }
        Ok(AuthOutcome::Tokens(self.issue_tokens(pool, client, &user, auth_time, None).await?))
    }

    fn new_password_challenge(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        auth_time: i64,
    ) -> Result<Challenge> {
        let session = self.seal_session(pool, client, user, "NEW_PASSWORD_REQUIRED", auth_time)?;
        let visible: BTreeMap<&String, &String> = user
            .attributes
            .iter()
            .filter(|(k, _)| !k.starts_with("dev:") && k.as_str() != "sub" && !k.ends_with("_verified"))
            .collect();
        let missing: Vec<String> = pool
            .schema
            .iter()
            .filter(|a| a.required == Some(true))
            .filter_map(|a| a.name.clone())
            .filter(|n| n != "sub" && !user.attributes.contains_key(n))
            .map(|n| format!("userAttributes.{n}"))
            .collect();
        let mut parameters = BTreeMap::new();
        parameters.insert("USER_ID_FOR_SRP".into(), user.username.clone());
        parameters
            .insert("userAttributes".into(), serde_json::to_string(&visible).unwrap_or_else(|_| "{}".into()));
        parameters.insert(
            "requiredAttributes".into(),
            serde_json::to_string(&missing).unwrap_or_else(|_| "[]".into()),
        );
        Ok(Challenge { name: "NEW_PASSWORD_REQUIRED", session, parameters })
    }

    fn seal_session(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        challenge: &str,
        auth_time: i64,
    ) -> Result<String> {
        let minutes = client.settings.auth_session_validity.unwrap_or(3);
        let state = SessionState {
            id: uuid::Uuid::new_v4().to_string(),
            pool: pool.id.clone(),
            client: client.client_id.clone(),
            user: user.username_key.clone(),
            challenge: challenge.to_string(),
            auth_time,
            expires_ms: self.now_ms() + minutes * 60_000,
        };
        let plain = serde_json::to_vec(&state).map_err(|e| IdpError::Internal(e.to_string()))?;
        Ok(URL_SAFE_NO_PAD.encode(self.master_key.seal(&plain, SESSION_AAD)))
    }

    /// Opens a session, checks it belongs to this client and challenge, and
    /// marks it used (across instances, through the database).
    async fn open_session(
        &self,
        session: Option<&str>,
        client: &AppClient,
        challenge: &str,
    ) -> Result<SessionState> {
        let invalid = || IdpError::NotAuthorized("Invalid session for the user.".into());
        let sealed = URL_SAFE_NO_PAD.decode(session.unwrap_or_default()).map_err(|_| invalid())?;
        let plain = self.master_key.open(&sealed, SESSION_AAD).map_err(|_| invalid())?;
        let state: SessionState = serde_json::from_slice(&plain).map_err(|_| invalid())?;
        if state.client != client.client_id || state.pool != client.pool_id {
            return Err(invalid());
        }
        if state.challenge != challenge {
            return Err(IdpError::InvalidParameter(format!(
                "The session is for the {} challenge, not {challenge}.",
                state.challenge
            )));
        }
        let now = self.now_ms();
        if state.expires_ms < now {
            return Err(IdpError::NotAuthorized("Invalid session for the user, session is expired.".into()));
        }
        if !self.store.consume_session(&state.id, state.expires_ms, now).await? {
            return Err(IdpError::NotAuthorized(
                "Invalid session for the user, session can only be used once.".into(),
            ));
        }
        Ok(state)
    }

    pub async fn respond_to_auth_challenge(
        &self,
        caller: Caller<'_>,
        client_id: &str,
        challenge: &str,
        session: Option<&str>,
        responses: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome> {
        let (pool, client) = self.client_for(caller, client_id).await?;
        let response = |name: &str| responses.get(name).map(String::as_str).filter(|v| !v.is_empty());
        match challenge {
            "NEW_PASSWORD_REQUIRED" => {
                let username = response("USERNAME").ok_or_else(|| {
                    IdpError::InvalidParameter("Missing required parameter USERNAME".into())
                })?;
                self.check_secret_hash(&client, username, response("SECRET_HASH"))?;
                let new_password = response("NEW_PASSWORD").ok_or_else(|| {
                    IdpError::InvalidParameter("Missing required parameter NEW_PASSWORD".into())
                })?;
                super::passwords::check_policy(&self.password_policy(&pool), new_password)?;
                let state = self.open_session(session, &client, challenge).await?;
                let mut user = self
                    .store
                    .get_user(&pool.id, &state.user)
                    .await?
                    .ok_or_else(|| IdpError::NotAuthorized("Invalid session for the user.".into()))?;
                let given: Vec<(String, String)> = responses
                    .iter()
                    .filter_map(|(k, v)| {
                        k.strip_prefix("userAttributes.").map(|n| (n.to_string(), v.clone()))
                    })
                    .collect();
                let updates = check_attributes(&pool, &given, Writer::Client(&client))?;
                user.attributes.extend(updates);
                check_required(&pool, &user.attributes)?;
                user.password_hash = Some(self.hasher.hash(new_password).await?);
                user.password_set_ms = self.now_ms();
                user.status = UserStatus::CONFIRMED;
                user.updated_ms = self.now_ms();
                self.claim_aliases(&pool, &user, false).await?;
                self.store.update_user(&user).await?;
                Ok(AuthOutcome::Tokens(
                    self.issue_tokens(&pool, &client, &user, state.auth_time, None).await?,
                ))
            }
            other => Err(IdpError::InvalidParameter(format!(
                "The challenge {other} is not available on this server yet."
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_doubles_from_one_second_after_five_failures() {
        let lock = lock_until(1_000_000);
        assert_eq!(lock(4), 0);
        assert_eq!(lock(5), 1_001_000);
        assert_eq!(lock(6), 1_002_000);
        assert_eq!(lock(8), 1_008_000);
        assert_eq!(lock(40), 1_000_000 + 900_000);
    }
}
