//! USER_AUTH, choice-based sign-in: PASSWORD, PASSWORD_SRP, EMAIL_OTP or
//! SMS_OTP as the first factor, chosen up front (PREFERRED_CHALLENGE) or
//! through SELECT_CHALLENGE.

use std::collections::BTreeMap;

use super::UserPools;
use super::signin::{AuthOutcome, Challenge, Origin, SessionState};
use crate::delivery::mask_destination;
use crate::error::{IdpError, Result};
use crate::model::*;

/// First-factor codes live 3 minutes.
const CODE_VALIDITY_MS: i64 = 3 * 60 * 1000;

fn verified(user: &User, attribute: &str) -> bool {
    user.attributes.contains_key(attribute)
        && user.attributes.get(&format!("{attribute}_verified")).is_some_and(|v| v == "true")
}

impl UserPools {
    /// The first factors this user may use in this pool.
    fn available_first_factors(pool: &UserPool, user: &User) -> Vec<String> {
        let allowed: Vec<String> = pool
            .settings
            .policies
            .as_ref()
            .and_then(|p| p.sign_in_policy.as_ref())
            .and_then(|s| s.get("AllowedFirstAuthFactors"))
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_else(|| vec!["PASSWORD".to_string()]);
        let mut out = Vec::new();
        if allowed.iter().any(|a| a == "PASSWORD") {
            out.push("PASSWORD".to_string());
            if user.srp.is_some() {
                out.push("PASSWORD_SRP".to_string());
            }
        }
        if allowed.iter().any(|a| a == "EMAIL_OTP") && verified(user, "email") {
            out.push("EMAIL_OTP".to_string());
        }
        if allowed.iter().any(|a| a == "SMS_OTP") && verified(user, "phone_number") {
            out.push("SMS_OTP".to_string());
        }
        out
    }

    pub(super) async fn choice_start(
        &self,
        pool: &UserPool,
        client: &AppClient,
        username: &str,
        params: &BTreeMap<String, String>,
        origin: &Origin,
    ) -> Result<AuthOutcome> {
        let Some(user) = self.find_user(pool, username).await? else {
            return Err(if Self::prevents_existence_errors(client) {
                IdpError::NotAuthorized("Incorrect username or password.".into())
            } else {
                IdpError::UserNotFound("User does not exist.".into())
            });
        };
        let available = Self::available_first_factors(pool, &user);
        let param = |name: &str| params.get(name).map(String::as_str).filter(|v| !v.is_empty());
        if let Some(preferred) = param("PREFERRED_CHALLENGE").filter(|p| available.iter().any(|a| a == p)) {
            return self.start_first_factor(pool, client, &user, preferred, params, origin).await;
        }
        let session = self.seal_session(pool, client, &user, "SELECT_CHALLENGE", 0)?;
        let mut parameters = BTreeMap::new();
        parameters.insert("USERNAME".into(), user.username.clone());
        Ok(AuthOutcome::Challenge(Challenge { name: "SELECT_CHALLENGE", session, parameters, available }))
    }

    /// Runs the chosen first factor with what the request carries, or asks
    /// for it.
    async fn start_first_factor(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        factor: &str,
        params: &BTreeMap<String, String>,
        origin: &Origin,
    ) -> Result<AuthOutcome> {
        let param = |name: &str| params.get(name).map(String::as_str).filter(|v| !v.is_empty());
        match factor {
            "PASSWORD" => match param("PASSWORD") {
                Some(password) => {
                    let outcome = self.password_sign_in(pool, client, &user.username, password).await;
                    self.record_sign_in(pool, client, &user.username, &outcome, origin).await;
                    outcome
                }
                None => {
                    let session = self.seal_session(pool, client, user, "PASSWORD", 0)?;
                    Ok(AuthOutcome::Challenge(Challenge {
                        name: "PASSWORD",
                        session,
                        parameters: BTreeMap::new(),
                        available: Vec::new(),
                    }))
                }
            },
            "PASSWORD_SRP" => match param("SRP_A") {
                Some(srp_a) => self.srp_start(pool, client, &user.username, srp_a, false).await,
                None => {
                    let session = self.seal_session(pool, client, user, "PASSWORD_SRP", 0)?;
                    Ok(AuthOutcome::Challenge(Challenge {
                        name: "PASSWORD_SRP",
                        session,
                        parameters: BTreeMap::new(),
                        available: Vec::new(),
                    }))
                }
            },
            "EMAIL_OTP" | "SMS_OTP" => {
                let code = self.new_code(user, CodePurpose::SignIn, None, CODE_VALIDITY_MS).await?;
                let mut parameters = BTreeMap::new();
                let (name, marker) = if factor == "EMAIL_OTP" {
                    let email = user.attributes.get("email").cloned().unwrap_or_default();
                    let body = format!("Your sign-in code is {code}.");
                    self.send_email(pool, &email, "Your sign-in code", &body).await?;
                    parameters.insert("CODE_DELIVERY_DELIVERY_MEDIUM".into(), "EMAIL".into());
                    parameters.insert("CODE_DELIVERY_DESTINATION".into(), mask_destination(&email));
                    ("EMAIL_OTP", "EMAIL_OTP:first")
                } else {
                    let phone = user.attributes.get("phone_number").cloned().unwrap_or_default();
                    self.send_sms(pool, &phone, &format!("Your sign-in code is {code}."), "sign-in").await?;
                    parameters.insert("CODE_DELIVERY_DELIVERY_MEDIUM".into(), "SMS".into());
                    parameters.insert("CODE_DELIVERY_DESTINATION".into(), mask_destination(&phone));
                    ("SMS_OTP", "SMS_OTP")
                };
                let session = self.seal_session(pool, client, user, marker, 0)?;
                Ok(AuthOutcome::Challenge(Challenge { name, session, parameters, available: Vec::new() }))
            }
            other => Err(IdpError::InvalidParameter(format!("{other} is not an available first factor."))),
        }
    }

    /// SELECT_CHALLENGE, PASSWORD and PASSWORD_SRP answers.
    pub(super) async fn choice_answer(
        &self,
        pool: &UserPool,
        client: &AppClient,
        challenge: &str,
        session: Option<&str>,
        username: &str,
        responses: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome> {
        let state = self.peek_any_session(session, challenge).await?;
        if state.client != client.client_id || state.pool != pool.id {
            return Err(IdpError::NotAuthorized("Invalid session for the user.".into()));
        }
        let user = self
            .store
            .get_user(&pool.id, &state.user)
            .await?
            .ok_or_else(|| IdpError::NotAuthorized("Invalid session for the user.".into()))?;
        if self.find_user(pool, username).await?.map(|u| u.username_key) != Some(user.username_key.clone()) {
            return Err(IdpError::NotAuthorized("Incorrect username or password.".into()));
        }
        self.consume_session(&state).await?;
        let factor = match challenge {
            "SELECT_CHALLENGE" => responses.get("ANSWER").cloned().unwrap_or_default(),
            other => other.to_string(),
        };
        if !Self::available_first_factors(pool, &user).contains(&factor) {
            return Err(IdpError::InvalidParameter(format!("{factor} is not an available first factor.")));
        }
        self.start_first_factor(pool, client, &user, &factor, responses, &Origin::default()).await
    }

    /// EMAIL_OTP / SMS_OTP as the first factor: the code signs the user in.
    pub(super) async fn answer_first_factor_code(
        &self,
        pool: &UserPool,
        client: &AppClient,
        state: &SessionState,
        user: &User,
        code: Option<&str>,
    ) -> Result<AuthOutcome> {
        let code = code.ok_or_else(|| IdpError::InvalidParameter("Missing the one-time code.".into()))?;
        self.check_code(user, CodePurpose::SignIn, code).await.map_err(|e| match e {
            IdpError::LimitExceeded(_) | IdpError::ExpiredCode(_) => IdpError::NotAuthorized(
                "Invalid session for the user, too many failed attempts or code expired.".into(),
            ),
            other => other,
        })?;
        self.consume_session(state).await?;
        self.store.delete_code(&user.pool_id, &user.username_key, CodePurpose::SignIn).await?;
        if !user.enabled {
            return Err(IdpError::NotAuthorized("User is disabled.".into()));
        }
        let auth_time = self.now_ms() / 1000;
        self.signed_in(pool, client, user, auth_time).await
    }
}
