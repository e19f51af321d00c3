//! InitiateAuth / AdminInitiateAuth and RespondToAuthChallenge /
//! AdminRespondToAuthChallenge: password sign-in, refresh, the
//! NEW_PASSWORD_REQUIRED challenge, lockout and sealed sessions.

use super::triggers::{Event, Trigger, attributes_json};
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
    /// SELECT_CHALLENGE's `AvailableChallenges`.
    pub available: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum AuthOutcome {
    Tokens(Tokens),
    Challenge(Challenge),
    /// Inside the hosted UI ([`super::hosted_ui`]): the user has passed
    /// every factor; the authorization endpoint issues a code instead of
    /// tokens.
    SignedIn {
        user: Box<User>,
        auth_time: i64,
    },
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SessionState {
    pub id: String,
    pub pool: String,
    pub client: String,
    pub user: String,
    /// The challenge this session answers, with an optional stage after a
    /// colon (`MFA_SETUP:verified`).
    pub challenge: String,
    pub auth_time: i64,
    pub expires_ms: i64,
    /// CUSTOM_AUTH: the challenge history and the private parameters of
    /// the challenge being answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<super::custom_auth::CustomAuthState>,
    /// Started by the hosted UI: only the hosted UI may continue it (and
    /// it may not continue the API's sessions).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hosted: bool,
}

const SESSION_AAD: &[u8] = b"cirrus/sign-in-session/v1";

pub(super) fn lock_until(now_ms: i64) -> impl Fn(i64) -> i64 + Sync {
    move |failures| {
        if failures < FREE_FAILURES {
            return 0;
        }
        let exponent = (failures - FREE_FAILURES).min(10) as u32;
        now_ms + (1i64 << exponent).min(MAX_LOCK_SECONDS) * 1000
    }
}

impl UserPools {
    pub(super) async fn client_for(
        &self,
        caller: Caller<'_>,
        client_id: &str,
    ) -> Result<(UserPool, AppClient)> {
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
        let legacy = flows.iter().all(|f| f.is_legacy());
        // The hosted UI is the pool's own sign-in page: the client's
        // explicit flows govern what the client itself may call.
        let hosted = super::hosted_ui();
        let allowed = |new: ExplicitAuthFlow, legacy: Option<ExplicitAuthFlow>| {
            hosted || flows.contains(&new) || legacy.is_some_and(|l| flows.contains(&l))
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
            "USER_SRP_AUTH" => {
                // Clients from before the ALLOW_ names always had SRP.
                if !legacy && !allowed(ExplicitAuthFlow::ALLOW_USER_SRP_AUTH, None) {
                    return Err(not_enabled());
                }
                let username = required("USERNAME")?;
                self.check_secret_hash(&client, username, param("SECRET_HASH"))?;
                self.srp_start(&pool, &client, username, required("SRP_A")?, false).await
            }
            "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => {
                // Legacy clients (pre-ALLOW_ names) may always refresh.
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
            "USER_AUTH" => {
                if !allowed(ExplicitAuthFlow::ALLOW_USER_AUTH, None) {
                    return Err(not_enabled());
                }
                let username = required("USERNAME")?;
                self.check_secret_hash(&client, username, param("SECRET_HASH"))?;
                self.choice_start(&pool, &client, username, params, origin).await
            }
            "CUSTOM_AUTH" => {
                if !legacy && !allowed(ExplicitAuthFlow::ALLOW_CUSTOM_AUTH, None) {
                    return Err(not_enabled());
                }
                if legacy && !flows.contains(&ExplicitAuthFlow::CUSTOM_AUTH_FLOW_ONLY) && !flows.is_empty() {
                    return Err(not_enabled());
                }
                let username = required("USERNAME")?;
                self.check_secret_hash(&client, username, param("SECRET_HASH"))?;
                self.custom_start(&pool, &client, username, param("SRP_A")).await
            }
            other => Err(IdpError::InvalidParameter(format!(
                "1 validation error detected: Value '{other}' at 'authFlow' failed to satisfy constraint: Member must \
                 satisfy enum value set: [USER_SRP_AUTH, REFRESH_TOKEN_AUTH, REFRESH_TOKEN, CUSTOM_AUTH, \
                 USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH, ADMIN_NO_SRP_AUTH, USER_AUTH]"
            ))),
        }
    }

    /// Records a password sign-in attempt of a known user (AdminListUserAuthEvents).
    /// A failure to record is logged, never turned into a failed sign-in.
    pub(super) async fn record_sign_in(
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
    pub(super) async fn password_sign_in(
        &self,
        pool: &UserPool,
        client: &AppClient,
        username: &str,
        password: &str,
    ) -> Result<AuthOutcome> {
        let wrong = || IdpError::NotAuthorized("Incorrect username or password.".into());
        let found = match self.find_user(pool, username).await? {
            Some(user) => Some(user),
            None => self.migrate_user(pool, client, username, Some(password)).await?,
        };
        let Some(user) = found else {
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
        self.pre_authentication(pool, client, &user).await?;
        // Federated users sign in at their provider, never with a password.
        let stored = user.password_hash.as_deref().filter(|_| user.status != UserStatus::EXTERNAL_PROVIDER);
        let Some(stored) = stored else {
            self.hasher.verify_decoy(password).await?;
            // Imported without a password: the only way in is a reset.
            if user.status == UserStatus::RESET_REQUIRED {
                return Err(IdpError::PasswordResetRequired("Password reset required for the user".into()));
            }
            return Err(wrong());
        };
        let verified = self.hasher.verify(password, stored).await?;
        if !verified.matches {
            self.store.record_failure(&pool.id, &user.username_key, &lock_until(now)).await?;
            return Err(wrong());
        }
        let mut user = user;
        if verified.needs_rehash || user.srp.is_none() {
            // Imported or older hashes become argon2id, and the SRP
            // verifier appears, at the first sign-in with the password.
            self.set_password(pool, &mut user, password).await?;
            self.store.update_user(&user).await?;
        }
        self.first_factor_passed(pool, client, user, now / 1000).await
    }

    /// What every first factor checks once the secret is right: failures
    /// reset, the user enabled, confirmed, not due a reset; then the next step.
    pub(super) async fn first_factor_passed(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: User,
        auth_time: i64,
    ) -> Result<AuthOutcome> {
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
        // PostAuthentication: told of the sign-in; a refusal stops it.
        let request = serde_json::json!({
            "userAttributes": attributes_json(&user.attributes),
            "newDeviceUsed": false,
            "clientMetadata": {},
        });
        let event = Event {
            trigger: Trigger::PostAuthentication,
            source: "PostAuthentication_Authentication",
            user_name: &user.username,
            client_id: Some(&client.client_id),
            request,
            version: "1",
        };
        self.call_hook(pool, event).await?;
        self.after_first_factor(pool, client, &user, auth_time).await
    }

    /// Sets a password: the argon2id hash and the SRP verifier together.
    pub(super) async fn set_password(&self, pool: &UserPool, user: &mut User, password: &str) -> Result<()> {
        user.password_hash = Some(self.hasher.hash(password).await?);
        let pool_name = pool.id.split_once('_').map(|(_, n)| n).unwrap_or(&pool.id).to_string();
        let username = user.username.clone();
        let password = password.to_string();
        let (salt, verifier) =
            tokio::task::spawn_blocking(move || self_srp_verifier(&pool_name, &username, &password))
                .await
                .map_err(|e| IdpError::Internal(format!("SRP verifier: {e}")))?;
        user.srp = Some(SrpVerifier { salt, verifier });
        user.updated_ms = self.now_ms();
        Ok(())
    }

    pub(super) fn new_password_challenge(
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
        parameters.insert("USERNAME".into(), user.username.clone());
        parameters
            .insert("userAttributes".into(), serde_json::to_string(&visible).unwrap_or_else(|_| "{}".into()));
        parameters.insert(
            "requiredAttributes".into(),
            serde_json::to_string(&missing).unwrap_or_else(|_| "[]".into()),
        );
        Ok(Challenge { name: "NEW_PASSWORD_REQUIRED", session, parameters, available: Vec::new() })
    }

    pub(super) fn seal_session(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        challenge: &str,
        auth_time: i64,
    ) -> Result<String> {
        self.seal_state(&self.session_state(pool, client, user, challenge, auth_time))
    }

    /// A new session's state: single-use id, expiry from the client's
    /// AuthSessionValidity (3 minutes by default).
    pub(super) fn session_state(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        challenge: &str,
        auth_time: i64,
    ) -> SessionState {
        let minutes = client.settings.auth_session_validity.unwrap_or(3);
        SessionState {
            id: uuid::Uuid::new_v4().to_string(),
            pool: pool.id.clone(),
            client: client.client_id.clone(),
            user: user.username_key.clone(),
            challenge: challenge.to_string(),
            auth_time,
            expires_ms: self.now_ms() + minutes * 60_000,
            custom: None,
            hosted: super::hosted_ui(),
        }
    }

    pub(super) fn seal_state(&self, state: &SessionState) -> Result<String> {
        let plain = serde_json::to_vec(state).map_err(|e| IdpError::Internal(e.to_string()))?;
        Ok(URL_SAFE_NO_PAD.encode(self.master_key.seal(&plain, SESSION_AAD)))
    }

    /// Opens a session for `challenge` (its name before any `:stage`)
    /// without using it up; expired or unused-looking sessions are refused.
    pub(super) async fn peek_any_session(
        &self,
        session: Option<&str>,
        challenge: &str,
    ) -> Result<SessionState> {
        let invalid = || IdpError::NotAuthorized("Invalid session for the user.".into());
        let sealed = URL_SAFE_NO_PAD.decode(session.unwrap_or_default()).map_err(|_| invalid())?;
        let plain = self.master_key.open(&sealed, SESSION_AAD).map_err(|_| invalid())?;
        let state: SessionState = serde_json::from_slice(&plain).map_err(|_| invalid())?;
        if state.hosted != super::hosted_ui() {
            return Err(invalid());
        }
        if state.challenge.split(':').next() != Some(challenge) {
            return Err(IdpError::InvalidParameter(format!(
                "The session is for the {} challenge, not {challenge}.",
                state.challenge.split(':').next().unwrap_or_default()
            )));
        }
        if state.expires_ms < self.now_ms() {
            return Err(IdpError::NotAuthorized("Invalid session for the user, session is expired.".into()));
        }
        Ok(state)
    }

    /// Uses a session up (across instances, through the database).
    pub(super) async fn consume_session(&self, state: &SessionState) -> Result<()> {
        if !self.store.consume_session(&state.id, state.expires_ms, self.now_ms()).await? {
            return Err(IdpError::NotAuthorized(
                "Invalid session for the user, session can only be used once.".into(),
            ));
        }
        Ok(())
    }

    /// Opens a session of this client for `challenge`, and the user it names.
    pub(super) async fn session_user(
        &self,
        session: Option<&str>,
        client: &AppClient,
        challenge: &str,
    ) -> Result<(SessionState, User)> {
        let state = self.peek_any_session(session, challenge).await?;
        if state.client != client.client_id || state.pool != client.pool_id {
            return Err(IdpError::NotAuthorized("Invalid session for the user.".into()));
        }
        let user = self
            .store
            .get_user(&state.pool, &state.user)
            .await?
            .ok_or_else(|| IdpError::NotAuthorized("Invalid session for the user.".into()))?;
        Ok((state, user))
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
        let username = response("USERNAME")
            .ok_or_else(|| IdpError::InvalidParameter("Missing required parameter USERNAME".into()))?;
        self.check_secret_hash(&client, username, response("SECRET_HASH"))?;
        match challenge {
            "PASSWORD_VERIFIER" => self.srp_finish(&pool, &client, username, responses).await,
            "NEW_PASSWORD_REQUIRED" => {
                let new_password = response("NEW_PASSWORD").ok_or_else(|| {
                    IdpError::InvalidParameter("Missing required parameter NEW_PASSWORD".into())
                })?;
                super::passwords::check_policy(&self.password_policy(&pool), new_password)?;
                let (state, mut user) = self.session_user(session, &client, challenge).await?;
                self.consume_session(&state).await?;
                let given: Vec<(String, String)> = responses
                    .iter()
                    .filter_map(|(k, v)| {
                        k.strip_prefix("userAttributes.").map(|n| (n.to_string(), v.clone()))
                    })
                    .collect();
                let updates = check_attributes(&pool, &given, Writer::Client(&client))?;
                user.attributes.extend(updates);
                check_required(&pool, &user.attributes)?;
                self.set_password(&pool, &mut user, new_password).await?;
                user.password_set_ms = self.now_ms();
                user.status = UserStatus::CONFIRMED;
                self.claim_aliases(&pool, &user, false).await?;
                self.store.update_user(&user).await?;
                self.second_factor(&pool, &client, &user, state.auth_time).await
            }
            "SOFTWARE_TOKEN_MFA" | "SMS_MFA" => {
                let (state, user) = self.session_user(session, &client, challenge).await?;
                let code = if challenge == "SMS_MFA" { "SMS_MFA_CODE" } else { "SOFTWARE_TOKEN_MFA_CODE" };
                self.answer_mfa(&pool, &client, &state, &user, challenge, response(code)).await
            }
            "EMAIL_OTP" => {
                let (state, user) = self.session_user(session, &client, challenge).await?;
                if state.challenge == "EMAIL_OTP:first" {
                    return self
                        .answer_first_factor_code(&pool, &client, &state, &user, response("EMAIL_OTP_CODE"))
                        .await;
                }
                self.answer_mfa(&pool, &client, &state, &user, challenge, response("EMAIL_OTP_CODE")).await
            }
            "SMS_OTP" => {
                let (state, user) = self.session_user(session, &client, challenge).await?;
                self.answer_first_factor_code(&pool, &client, &state, &user, response("SMS_OTP_CODE")).await
            }
            "SELECT_MFA_TYPE" => {
                let (state, user) = self.session_user(session, &client, challenge).await?;
                let answer = match response("ANSWER") {
                    Some("SOFTWARE_TOKEN_MFA") => super::mfa::TOTP,
                    Some("SMS_MFA") => super::mfa::SMS,
                    Some("EMAIL_OTP" | "EMAIL_MFA") => super::mfa::EMAIL,
                    other => {
                        return Err(IdpError::InvalidParameter(format!(
                            "ANSWER must be SOFTWARE_TOKEN_MFA, SMS_MFA or EMAIL_OTP, not {}",
                            other.unwrap_or("nothing")
                        )));
                    }
                };
                self.consume_session(&state).await?;
                let challenge = self.mfa_challenge(&pool, &client, &user, state.auth_time, answer).await?;
                Ok(AuthOutcome::Challenge(challenge))
            }
            "MFA_SETUP" => {
                let (state, user) = self.session_user(session, &client, challenge).await?;
                if state.challenge != "MFA_SETUP:verified" {
                    return Err(IdpError::InvalidParameter(
                        "Set up a factor first: AssociateSoftwareToken, then VerifySoftwareToken.".into(),
                    ));
                }
                self.consume_session(&state).await?;
                self.signed_in(&pool, &client, &user, state.auth_time).await
            }
            "CUSTOM_CHALLENGE" => self.custom_answer(&pool, &client, session, responses).await,
            "SELECT_CHALLENGE" | "PASSWORD" | "PASSWORD_SRP" => {
                self.choice_answer(&pool, &client, challenge, session, username, responses).await
            }
            other => Err(IdpError::InvalidParameter(format!(
                "The challenge {other} is not available on this server."
            ))),
        }
    }
}

fn self_srp_verifier(pool_name: &str, username: &str, password: &str) -> (String, String) {
    super::srp::Group::new().verifier(pool_name, username, password)
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
