//! ForgotPassword and ConfirmForgotPassword (and the code AdminResetUserPassword sends).

use super::UserPools;
use super::signup::CodeDelivery;
use crate::error::{IdpError, Result};
use crate::model::*;

/// Forgot-password codes are valid for one hour.
const RECOVERY_CODE_VALIDITY_MS: i64 = 3600 * 1000;

impl UserPools {
    /// The channel a recovery code goes to: the pool's
    /// AccountRecoverySetting in priority order, or (when unset) a verified
    /// phone, then a verified email.
    fn recovery_channel(pool: &UserPool, user: &User) -> Result<(&'static str, String)> {
        let verified = |attr: &str| {
            let flag = user.attributes.get(&format!("{attr}_verified")).is_some_and(|v| v == "true");
            user.attributes.get(attr).filter(|_| flag).cloned()
        };
        let order: Vec<RecoveryOptionName> = match &pool.settings.account_recovery_setting {
            Some(s) => {
                let mut m = s.recovery_mechanisms.clone().unwrap_or_default();
                m.sort_by_key(|o| o.priority);
                m.into_iter().map(|o| o.name).collect()
            }
            None => vec![RecoveryOptionName::verified_phone_number, RecoveryOptionName::verified_email],
        };
        for option in order {
            match option {
                RecoveryOptionName::verified_email => {
                    if let Some(v) = verified("email") {
                        return Ok(("email", v));
                    }
                }
                RecoveryOptionName::verified_phone_number => {
                    if let Some(v) = verified("phone_number") {
                        return Ok(("phone_number", v));
                    }
                }
                RecoveryOptionName::admin_only => {
                    return Err(IdpError::NotAuthorized(
                        "Only an administrator can reset this user's password.".into(),
                    ));
                }
            }
        }
        Err(IdpError::InvalidParameter(
            "Cannot reset password for the user as there is no registered/verified email or phone_number"
                .into(),
        ))
    }

    /// Makes a recovery code and sends it; returns where it went.
    pub(super) async fn send_recovery_code(&self, pool: &UserPool, user: &User) -> Result<CodeDelivery> {
        let (attribute, destination) = Self::recovery_channel(pool, user)?;
        let code = self
            .new_code(user, CodePurpose::ForgotPassword, Some(attribute), RECOVERY_CODE_VALIDITY_MS)
            .await?;
        let defaults = ("Your password reset code is {####}.", "Your password reset code");
        self.send_code_message(pool, user, attribute, &destination, &code, defaults, "forgot-password").await
    }

    pub async fn forgot_password(
        &self,
        client_id: &str,
        secret_hash: Option<&str>,
        username: &str,
    ) -> Result<CodeDelivery> {
        let (pool, client) = self.client_and_pool(client_id).await?;
        self.check_secret_hash(&client, username, secret_hash)?;
        let found = match self.find_user(&pool, username).await? {
            Some(user) => Some(user),
            None => self.migrate_user(&pool, &client, username, None).await?,
        };
        let Some(user) = found else {
            if Self::prevents_existence_errors(&client) {
                return Self::simulated_delivery(&pool, username)
                    .ok_or_else(|| IdpError::Internal("no simulated delivery".into()));
            }
            return Err(IdpError::UserNotFound("Username/client id combination not found.".into()));
        };
        if !user.enabled {
            return Err(IdpError::NotAuthorized("User is disabled.".into()));
        }
        if user.status == crate::model::UserStatus::EXTERNAL_PROVIDER {
            return Err(IdpError::NotAuthorized(
                "A user of an external identity provider has no password here.".into(),
            ));
        }
        self.send_recovery_code(&pool, &user).await
    }

    pub async fn confirm_forgot_password(
        &self,
        client_id: &str,
        secret_hash: Option<&str>,
        username: &str,
        code: &str,
        password: &str,
    ) -> Result<()> {
        let (pool, client) = self.client_and_pool(client_id).await?;
        self.check_secret_hash(&client, username, secret_hash)?;
        let Some(mut user) = self.find_user(&pool, username).await? else {
            return Err(if Self::prevents_existence_errors(&client) {
                IdpError::CodeMismatch("Invalid verification code provided, please try again.".into())
            } else {
                IdpError::UserNotFound("Username/client id combination not found.".into())
            });
        };
        super::admin_users::no_password_for_federated(&user)?;
        super::passwords::check_policy(&self.password_policy(&pool), password)?;
        self.check_code(&user, CodePurpose::ForgotPassword, code).await?;
        let now = self.now_ms();
        self.set_password(&pool, &mut user, password).await?;
        user.password_set_ms = now;
        if matches!(user.status, UserStatus::RESET_REQUIRED | UserStatus::FORCE_CHANGE_PASSWORD) {
            user.status = UserStatus::CONFIRMED;
        }
        user.updated_ms = now;
        self.store.update_user(&user).await?;
        self.store.delete_code(&user.pool_id, &user.username_key, CodePurpose::ForgotPassword).await?;
        self.store.reset_failures(&user.pool_id, &user.username_key).await?;
        // A reset ends every session the old password opened.
        self.store.sign_out_everywhere(&user.pool_id, &user.username_key, now).await?;
        self.post_confirmation(&pool, &user, Some(client_id), "PostConfirmation_ConfirmForgotPassword").await
    }
}
