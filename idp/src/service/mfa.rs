//! Second factors: the pool's MFA configuration, TOTP (totp-rs), SMS and
//! email codes, SELECT_MFA_TYPE and MFA_SETUP.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use totp_rs::{Algorithm, Builder, Totp};

use super::UserPools;
use super::signin::{AuthOutcome, Challenge, SessionState};
use crate::delivery::mask_destination;
use crate::error::{IdpError, Result};
use crate::model::*;

pub const TOTP: &str = "SOFTWARE_TOKEN_MFA";
pub const SMS: &str = "SMS_MFA";
pub const EMAIL: &str = "EMAIL_OTP";

/// Sign-in codes (SMS_MFA, EMAIL_OTP) live 3 minutes.
const SIGN_IN_CODE_VALIDITY_MS: i64 = 3 * 60 * 1000;

fn verified(user: &User, attribute: &str) -> bool {
    user.attributes.contains_key(attribute)
        && user.attributes.get(&format!("{attribute}_verified")).is_some_and(|v| v == "true")
}

/// What SetUserMFAPreference asks for one factor.
#[derive(Debug, Clone, Copy, Default)]
pub struct FactorPreference {
    pub enabled: Option<bool>,
    pub preferred: Option<bool>,
}

impl UserPools {
    /// Factors this user can be challenged with, in Cognito's order.
    fn user_factors(pool: &UserPool, user: &User) -> Vec<&'static str> {
        let factors = pool.settings.mfa_factors.clone().unwrap_or_default();
        let required = pool.settings.mfa_configuration == Some(MfaConfiguration::ON);
        let mut out = Vec::new();
        if factors.totp() && user.mfa.totp_secret.is_some() && (user.mfa.totp_enabled || required) {
            out.push(TOTP);
        }
        if factors.sms() && verified(user, "phone_number") && (user.mfa.sms_enabled || required) {
            out.push(SMS);
        }
        if factors.email() && verified(user, "email") && (user.mfa.email_enabled || required) {
            out.push(EMAIL);
        }
        out
    }

    /// After the first factor: a new password, a second factor, or tokens.
    pub(super) async fn after_first_factor(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        auth_time: i64,
    ) -> Result<AuthOutcome> {
        if user.status == UserStatus::FORCE_CHANGE_PASSWORD {
            let days = self.password_policy(pool).temporary_password_validity_days.unwrap_or(7);
            if days > 0 && user.password_set_ms + days * 86_400_000 < self.now_ms() {
                return Err(IdpError::NotAuthorized(
                    "Temporary password has expired and must be reset by an administrator.".into(),
                ));
            }
            return Ok(AuthOutcome::Challenge(self.new_password_challenge(pool, client, user, auth_time)?));
        }
        self.second_factor(pool, client, user, auth_time).await
    }

    pub(super) async fn second_factor(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        auth_time: i64,
    ) -> Result<AuthOutcome> {
        let mode = pool.settings.mfa_configuration.unwrap_or(MfaConfiguration::OFF);
        if mode == MfaConfiguration::OFF {
            return self.signed_in(pool, client, user, auth_time).await;
        }
        let factors = Self::user_factors(pool, user);
        if factors.is_empty() {
            if mode == MfaConfiguration::OPTIONAL {
                return self.signed_in(pool, client, user, auth_time).await;
            }
            let pool_factors = pool.settings.mfa_factors.clone().unwrap_or_default();
            let mut can_setup = Vec::new();
            if pool_factors.totp() {
                can_setup.push(TOTP);
            }
            if pool_factors.sms() {
                can_setup.push(SMS);
            }
            if pool_factors.email() {
                can_setup.push(EMAIL);
            }
            let session = self.seal_session(pool, client, user, "MFA_SETUP", auth_time)?;
            let mut parameters = BTreeMap::new();
            parameters.insert("MFAS_CAN_SETUP".into(), serde_json::to_string(&can_setup).unwrap_or_default());
            parameters.insert("USER_ID_FOR_SRP".into(), user.username.clone());
            parameters.insert("USERNAME".into(), user.username.clone());
            return Ok(AuthOutcome::Challenge(Challenge {
                name: "MFA_SETUP",
                session,
                parameters,
                available: Vec::new(),
            }));
        }
        let chosen = match &user.mfa.preferred {
            Some(p) if factors.contains(&p.as_str()) => {
                Some(*factors.iter().find(|f| **f == p.as_str()).unwrap_or(&TOTP))
            }
            _ if factors.len() == 1 => Some(factors[0]),
            _ => None,
        };
        match chosen {
            Some(factor) => {
                Ok(AuthOutcome::Challenge(self.mfa_challenge(pool, client, user, auth_time, factor).await?))
            }
            None => {
                let session = self.seal_session(pool, client, user, "SELECT_MFA_TYPE", auth_time)?;
                let mut parameters = BTreeMap::new();
                parameters
                    .insert("MFAS_CAN_CHOOSE".into(), serde_json::to_string(&factors).unwrap_or_default());
                parameters.insert("USER_ID_FOR_SRP".into(), user.username.clone());
                parameters.insert("USERNAME".into(), user.username.clone());
                Ok(AuthOutcome::Challenge(Challenge {
                    name: "SELECT_MFA_TYPE",
                    session,
                    parameters,
                    available: Vec::new(),
                }))
            }
        }
    }

    /// Issues one MFA challenge, sending its code where there is one.
    pub(super) async fn mfa_challenge(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        auth_time: i64,
        factor: &'static str,
    ) -> Result<Challenge> {
        let mut parameters = BTreeMap::new();
        parameters.insert("USER_ID_FOR_SRP".into(), user.username.clone());
        parameters.insert("USERNAME".into(), user.username.clone());
        let factors = pool.settings.mfa_factors.clone().unwrap_or_default();
        let code = self.new_code(user, CodePurpose::SignIn, None, SIGN_IN_CODE_VALIDITY_MS).await?;
        match factor {
            SMS => {
                let phone = user.attributes.get("phone_number").cloned().unwrap_or_default();
                // Custom sender or CustomMessage_Authentication first.
                let sent = self
                    .custom_sender(pool, user, "phone_number", &user.attributes, &code, "authentication")
                    .await?;
                let custom = if sent {
                    Default::default()
                } else {
                    self.custom_message(pool, user, &user.attributes, "authentication").await?
                };
                let template = custom.get("smsMessage").and_then(|v| v.as_str()).map(str::to_string);
                let template = template
                    .or_else(|| {
                        factors
                            .sms
                            .as_ref()
                            .and_then(|o| o.get("SmsAuthenticationMessage"))
                            .and_then(|v| v.as_str())
                            .map(str::to_string)
                            .or_else(|| pool.settings.sms_authentication_message.clone())
                    })
                    .unwrap_or_else(|| "Your authentication code is {####}.".into());
                if !sent {
                    self.send_sms(pool, &phone, &template.replace("{####}", &code), "mfa").await?;
                }
                parameters.insert("CODE_DELIVERY_DELIVERY_MEDIUM".into(), "SMS".into());
                parameters.insert("CODE_DELIVERY_DESTINATION".into(), mask_destination(&phone));
            }
            EMAIL => {
                let email = user.attributes.get("email").cloned().unwrap_or_default();
                let sent = self
                    .custom_sender(pool, user, "email", &user.attributes, &code, "authentication")
                    .await?;
                let custom = if sent {
                    Default::default()
                } else {
                    self.custom_message(pool, user, &user.attributes, "authentication").await?
                };
                let field = |name: &str, custom_name: &str| {
                    custom.get(custom_name).and_then(|v| v.as_str()).map(str::to_string).or_else(|| {
                        factors
                            .email
                            .as_ref()
                            .and_then(|o| o.get(name))
                            .and_then(|v| v.as_str())
                            .map(str::to_string)
                    })
                };
                let body = field("Message", "emailMessage")
                    .unwrap_or_else(|| "Your authentication code is {####}.".into());
                let subject =
                    field("Subject", "emailSubject").unwrap_or_else(|| "Your authentication code".into());
                if !sent {
                    self.send_email(pool, &email, &subject, &body.replace("{####}", &code)).await?;
                }
                parameters.insert("CODE_DELIVERY_DELIVERY_MEDIUM".into(), "EMAIL".into());
                parameters.insert("CODE_DELIVERY_DESTINATION".into(), mask_destination(&email));
            }
            _ => {}
        }
        let session = self.seal_session(pool, client, user, factor, auth_time)?;
        Ok(Challenge { name: factor, session, parameters, available: Vec::new() })
    }

    /// Answers to SOFTWARE_TOKEN_MFA, SMS_MFA and EMAIL_OTP (as a second
    /// factor). A wrong code may be retried on the same session, three
    /// times in all.
    pub(super) async fn answer_mfa(
        &self,
        pool: &UserPool,
        client: &AppClient,
        state: &SessionState,
        user: &User,
        factor: &str,
        code: Option<&str>,
    ) -> Result<AuthOutcome> {
        let code = code.ok_or_else(|| IdpError::InvalidParameter(format!("Missing the {factor} code.")))?;
        let limited = |e: IdpError| match e {
            IdpError::LimitExceeded(_) | IdpError::ExpiredCode(_) => IdpError::NotAuthorized(
                "Invalid session for the user, too many failed attempts or code expired.".into(),
            ),
            other => other,
        };
        if factor == TOTP {
            // The sign-in code row only counts tries for TOTP.
            if !self.count_sign_in_try(user).await? {
                return Err(limited(IdpError::LimitExceeded(String::new())));
            }
            if !self.check_totp(user, code).await? {
                return Err(IdpError::CodeMismatch("Invalid code received for user".into()));
            }
        } else {
            self.check_code(user, CodePurpose::SignIn, code).await.map_err(limited)?;
        }
        self.consume_session(state).await?;
        self.store.delete_code(&user.pool_id, &user.username_key, CodePurpose::SignIn).await?;
        self.signed_in(pool, client, user, state.auth_time).await
    }

    fn totp_for(&self, user: &User, sealed: &str) -> Result<Totp> {
        let bytes = STANDARD.decode(sealed).map_err(|e| IdpError::Internal(format!("TOTP secret: {e}")))?;
        let secret = self
            .master_key
            .open(&bytes, format!("totp/{}/{}", user.pool_id, user.username_key).as_bytes())
            .map_err(|e| IdpError::Internal(format!("TOTP secret: {e}")))?;
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_secret(secret)
            .with_account_name(user.username.as_str())
            .with_issuer(Some(user.pool_id.as_str()))
            .build()
            .map_err(|e| IdpError::Internal(format!("TOTP: {e:?}")))
    }

    /// A TOTP code in the ±1 step window, not used before (the step is
    /// recorded in the database, so a code counts once on every instance).
    async fn check_totp_with(&self, user: &User, sealed: &str, code: &str) -> Result<bool> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(false);
        }
        let totp = self.totp_for(user, sealed)?;
        let now = (self.now_ms() / 1000).max(0) as u64;
        let Some(step) = totp.check(code, now) else { return Ok(false) };
        Ok(self.store.use_totp_step(&user.pool_id, &user.username_key, step as i64).await?)
    }

    async fn check_totp(&self, user: &User, code: &str) -> Result<bool> {
        match &user.mfa.totp_secret {
            Some(sealed) => self.check_totp_with(user, sealed, code).await,
            None => Ok(false),
        }
    }

    fn new_totp_secret(&self, user: &User) -> (String, String) {
        let mut secret = vec![0u8; 20];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut secret);
        let shown = totp_rs::Secret::from(secret.clone()).to_base32();
        let sealed = STANDARD.encode(
            self.master_key.seal(&secret, format!("totp/{}/{}", user.pool_id, user.username_key).as_bytes()),
        );
        (shown, sealed)
    }

    /// AssociateSoftwareToken, with an access token or during MFA_SETUP;
    /// returns the base32 secret and, for the latter, the next session.
    pub async fn associate_software_token(
        &self,
        access_token: Option<&str>,
        session: Option<&str>,
    ) -> Result<(String, Option<String>)> {
        let (pool, client, mut user, state) = self.token_or_setup_session(access_token, session).await?;
        let (shown, sealed) = self.new_totp_secret(&user);
        user.mfa.totp_pending = Some(sealed);
        user.updated_ms = self.now_ms();
        self.store.update_user(&user).await?;
        let next = match (state, client) {
            (Some(state), Some(client)) => {
                Some(self.seal_session(&pool, &client, &user, "MFA_SETUP", state.auth_time)?)
            }
            _ => None,
        };
        Ok((shown, next))
    }

    /// VerifySoftwareToken: the pending secret becomes the user's once a
    /// code from it checks out.
    pub async fn verify_software_token(
        &self,
        access_token: Option<&str>,
        session: Option<&str>,
        code: &str,
        name: Option<String>,
    ) -> Result<Option<String>> {
        let (pool, client, mut user, state) = self.token_or_setup_session(access_token, session).await?;
        let pending = user
            .mfa
            .totp_pending
            .clone()
            .ok_or_else(|| IdpError::InvalidParameter("Call AssociateSoftwareToken first.".into()))?;
        if !self.check_totp_with(&user, &pending, code).await? {
            return Err(IdpError::EnableSoftwareTokenMfa("Code mismatch".into()));
        }
        user.mfa.totp_secret = Some(pending);
        user.mfa.totp_pending = None;
        user.mfa.totp_name = name;
        if state.is_some() {
            // Set up during sign-in: the factor is on and preferred.
            user.mfa.totp_enabled = true;
            user.mfa.preferred = Some(TOTP.into());
        }
        user.updated_ms = self.now_ms();
        self.store.update_user(&user).await?;
        match (state, client) {
            (Some(state), Some(client)) => {
                Ok(Some(self.seal_session(&pool, &client, &user, "MFA_SETUP:verified", state.auth_time)?))
            }
            _ => Ok(None),
        }
    }

    async fn token_or_setup_session(
        &self,
        access_token: Option<&str>,
        session: Option<&str>,
    ) -> Result<(UserPool, Option<AppClient>, User, Option<SessionState>)> {
        if let Some(token) = access_token {
            let ctx = self.verify_access_token(token).await?;
            return Ok((ctx.pool, None, ctx.user, None));
        }
        let state = self.peek_any_session(session, "MFA_SETUP").await?;
        let (pool, client) = self.client_and_pool(&state.client).await?;
        let user = self
            .store
            .get_user(&pool.id, &state.user)
            .await?
            .ok_or_else(|| IdpError::NotAuthorized("Invalid session for the user.".into()))?;
        // The setup session is spent; the answer carries a new one.
        self.consume_session(&state).await?;
        Ok((pool, Some(client), user, Some(state)))
    }

    /// SetUserMFAPreference / AdminSetUserMFAPreference.
    pub(super) async fn set_mfa_preference(
        &self,
        mut user: User,
        sms: Option<FactorPreference>,
        totp: Option<FactorPreference>,
        email: Option<FactorPreference>,
    ) -> Result<()> {
        let mut preferred = user.mfa.preferred.clone();
        for (factor, pref) in [(SMS, sms), (TOTP, totp), (EMAIL, email)] {
            let Some(pref) = pref else { continue };
            if let Some(enabled) = pref.enabled {
                if enabled {
                    let usable = match factor {
                        TOTP => user.mfa.totp_secret.is_some(),
                        SMS => user.attributes.contains_key("phone_number"),
                        _ => user.attributes.contains_key("email"),
                    };
                    if !usable {
                        return Err(IdpError::InvalidParameter(match factor {
                            TOTP => "User has not verified software token mfa".into(),
                            SMS => "User does not have a phone number for SMS MFA".into(),
                            _ => "User does not have an email address for email MFA".into(),
                        }));
                    }
                }
                match factor {
                    TOTP => user.mfa.totp_enabled = enabled,
                    SMS => user.mfa.sms_enabled = enabled,
                    _ => user.mfa.email_enabled = enabled,
                }
                if !enabled && preferred.as_deref() == Some(factor) {
                    preferred = None;
                }
            }
            match pref.preferred {
                Some(true) => {
                    let on = match factor {
                        TOTP => user.mfa.totp_enabled,
                        SMS => user.mfa.sms_enabled,
                        _ => user.mfa.email_enabled,
                    };
                    if !on {
                        return Err(IdpError::InvalidParameter(format!(
                            "{factor} must be enabled to be preferred."
                        )));
                    }
                    preferred = Some(factor.into());
                }
                Some(false) if preferred.as_deref() == Some(factor) => preferred = None,
                _ => {}
            }
        }
        user.mfa.preferred = preferred;
        user.updated_ms = self.now_ms();
        self.store.update_user(&user).await?;
        Ok(())
    }

    pub async fn set_user_mfa_preference(
        &self,
        access_token: &str,
        sms: Option<FactorPreference>,
        totp: Option<FactorPreference>,
        email: Option<FactorPreference>,
    ) -> Result<()> {
        let ctx = self.verify_access_token(access_token).await?;
        self.set_mfa_preference(ctx.user, sms, totp, email).await
    }

    pub async fn admin_set_user_mfa_preference(
        &self,
        pool_id: &str,
        username: &str,
        sms: Option<FactorPreference>,
        totp: Option<FactorPreference>,
        email: Option<FactorPreference>,
    ) -> Result<()> {
        let user = self.admin_get_user(pool_id, username).await?;
        self.set_mfa_preference(user, sms, totp, email).await
    }

    /// The enabled factors and the preferred one (GetUser, AdminGetUser).
    pub fn mfa_settings(user: &User) -> (Vec<&'static str>, Option<String>) {
        let mut list = Vec::new();
        if user.mfa.sms_enabled {
            list.push(SMS);
        }
        if user.mfa.totp_enabled {
            list.push(TOTP);
        }
        if user.mfa.email_enabled {
            list.push(EMAIL);
        }
        (list, user.mfa.preferred.clone())
    }

    /// SetUserPoolMfaConfig.
    pub async fn set_pool_mfa_config(
        &self,
        pool_id: &str,
        mode: Option<MfaConfiguration>,
        factors: MfaFactors,
    ) -> Result<(MfaConfiguration, MfaFactors)> {
        let mut pool = self.describe_pool(pool_id).await?;
        let mode = mode.or(pool.settings.mfa_configuration).unwrap_or(MfaConfiguration::OFF);
        if mode != MfaConfiguration::OFF && !(factors.totp() || factors.sms() || factors.email()) {
            return Err(IdpError::InvalidParameter(
                "At least one MFA factor must be enabled when MfaConfiguration is ON or OPTIONAL.".into(),
            ));
        }
        pool.settings.mfa_configuration = Some(mode);
        pool.settings.mfa_factors = Some(factors.clone());
        pool.updated_ms = self.now_ms();
        self.store.update_pool(&pool).await?;
        Ok((mode, factors))
    }

    pub async fn pool_mfa_config(&self, pool_id: &str) -> Result<(MfaConfiguration, MfaFactors)> {
        let pool = self.describe_pool(pool_id).await?;
        Ok((
            pool.settings.mfa_configuration.unwrap_or(MfaConfiguration::OFF),
            pool.settings.mfa_factors.unwrap_or_default(),
        ))
    }
}
