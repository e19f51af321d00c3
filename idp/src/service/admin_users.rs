//! AdminCreateUser (what sign-in needs of it: a user with a temporary
//! password and status FORCE_CHANGE_PASSWORD) and GetUser.

use super::UserPools;
use super::triggers::{Event, Trigger, attributes_json, flag};
use super::users::{Writer, aliases_of, check_attributes, check_username, username_key};
use crate::error::{IdpError, Result};
use crate::model::*;
use crate::store::StoreError;

#[derive(Debug, Clone, Default)]
pub struct NewAdminUser {
    pub pool_id: String,
    pub username: String,
    pub attributes: Vec<(String, String)>,
    pub temporary_password: Option<String>,
    /// `SUPPRESS` sends nothing; otherwise the invitation goes out over
    /// `delivery_mediums` (default SMS) where the user has the attribute.
    pub suppress_message: bool,
    pub resend: bool,
    pub delivery_mediums: Vec<String>,
}

impl UserPools {
    pub async fn admin_create_user(&self, req: NewAdminUser) -> Result<User> {
        let pool = self.describe_pool(&req.pool_id).await?;
        if req.resend {
            return self.resend_invitation(&pool, &req).await;
        }
        check_username(&req.username)?;
        self.check_not_federated_name(&pool.id, &req.username).await?;
        let mut attributes = check_attributes(&pool, &req.attributes, Writer::Admin)?;
        let sub = uuid::Uuid::new_v4().to_string();
        let username = if pool.settings.username_attributes.as_ref().is_some_and(|u| !u.is_empty()) {
            let attr = if req.username.contains('@') { "email" } else { "phone_number" };
            attributes.entry(attr.to_string()).or_insert_with(|| req.username.clone());
            sub.clone()
        } else {
            req.username.clone()
        };
        attributes.insert("sub".into(), sub.clone());
        let policy = self.password_policy(&pool);
        let password = match req.temporary_password {
            Some(p) => {
                super::passwords::check_policy(&policy, &p)?;
                p
            }
            None => generate_password(&policy),
        };
        let now = self.now_ms();
        let mut user = User::fresh(
            &pool.id,
            username_key(&pool, &username),
            username,
            sub,
            UserStatus::FORCE_CHANGE_PASSWORD,
            attributes,
            now,
        );
        // PreSignUp_AdminCreateUser: the hook may refuse, or verify contacts.
        let request = serde_json::json!({
            "userAttributes": attributes_json(&user.attributes),
            "validationData": {},
            "clientMetadata": {},
        });
        let event = Event {
            trigger: Trigger::PreSignUp,
            source: "PreSignUp_AdminCreateUser",
            user_name: &user.username,
            client_id: None,
            request,
            version: "1",
        };
        if let Some(response) = self.call_hook(&pool, event).await? {
            for (flag_name, attr) in [("autoVerifyEmail", "email"), ("autoVerifyPhone", "phone_number")] {
                if flag(&response, flag_name) && user.attributes.contains_key(attr) {
                    user.attributes.insert(format!("{attr}_verified"), "true".into());
                }
            }
        }
        self.set_password(&pool, &mut user, &password).await?;
        match self.store.insert_user(&user, &aliases_of(&pool, &user.attributes)).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(IdpError::UsernameExists("User account already exists".into()));
            }
            Err(StoreError::AliasConflict) => {
                return Err(IdpError::AliasExists("An account with the given alias already exists.".into()));
            }
            Err(e) => return Err(e.into()),
        }
        if !req.suppress_message {
            self.send_invitation(&pool, &user, &password, &req.delivery_mediums).await?;
        }
        Ok(user)
    }

    async fn send_invitation(
        &self,
        pool: &UserPool,
        user: &User,
        password: &str,
        mediums: &[String],
    ) -> Result<()> {
        let template = pool
            .settings
            .admin_create_user_config
            .as_ref()
            .and_then(|c| c.invite_message_template.clone())
            .unwrap_or_default();
        let fill = |t: &str| t.replace("{username}", &user.username).replace("{####}", password);
        let default_body = "Your username is {username} and temporary password is {####}.";
        // CustomMessage_AdminCreateUser: the hook writes the invitation
        // around the placeholders; the password never goes to the hook.
        let request = serde_json::json!({
            "userAttributes": attributes_json(&user.attributes),
            "codeParameter": "{####}",
            "usernameParameter": "{username}",
            "clientMetadata": {},
        });
        let event = Event {
            trigger: Trigger::CustomMessage,
            source: "CustomMessage_AdminCreateUser",
            user_name: &user.username,
            client_id: None,
            request,
            version: "1",
        };
        let custom = self.call_hook(pool, event).await?.unwrap_or_default();
        let custom_text = |k: &str| custom.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
        let mut template = template;
        template.email_message = custom_text("emailMessage").or(template.email_message);
        template.email_subject = custom_text("emailSubject").or(template.email_subject);
        template.sms_message = custom_text("smsMessage").or(template.sms_message);
        let mediums: Vec<&str> =
            if mediums.is_empty() { vec!["SMS"] } else { mediums.iter().map(String::as_str).collect() };
        for medium in mediums {
            match (medium, user.attributes.get("email"), user.attributes.get("phone_number")) {
                ("EMAIL", Some(_), _)
                    if self
                        .custom_sender(pool, user, "email", &user.attributes, password, "admin-create-user")
                        .await? => {}
                ("SMS", _, Some(_))
                    if self
                        .custom_sender(
                            pool,
                            user,
                            "phone_number",
                            &user.attributes,
                            password,
                            "admin-create-user",
                        )
                        .await? => {}
                ("EMAIL", Some(email), _) => {
                    let subject =
                        template.email_subject.clone().unwrap_or_else(|| "Your temporary password".into());
                    let body = fill(template.email_message.as_deref().unwrap_or(default_body));
                    self.send_email(pool, email, &subject, &body).await?;
                }
                ("SMS", _, Some(phone)) => {
                    let body = fill(template.sms_message.as_deref().unwrap_or(default_body));
                    self.send_sms(pool, phone, &body, "invitation").await?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// MessageAction RESEND: a new temporary password for a user who has
    /// not signed in yet, and the invitation again.
    async fn resend_invitation(&self, pool: &UserPool, req: &NewAdminUser) -> Result<User> {
        let mut user = self
            .find_user(pool, &req.username)
            .await?
            .ok_or_else(|| IdpError::UserNotFound("User does not exist.".into()))?;
        if user.status != UserStatus::FORCE_CHANGE_PASSWORD {
            return Err(IdpError::UnsupportedUserState(format!(
                "Resend not possible. {} status is not FORCE_CHANGE_PASSWORD",
                user.username
            )));
        }
        let policy = self.password_policy(pool);
        let password = match &req.temporary_password {
            Some(p) => {
                super::passwords::check_policy(&policy, p)?;
                p.clone()
            }
            None => generate_password(&policy),
        };
        self.set_password(pool, &mut user, &password).await?;
        user.password_set_ms = self.now_ms();
        user.updated_ms = user.password_set_ms;
        self.store.update_user(&user).await?;
        if !req.suppress_message {
            self.send_invitation(pool, &user, &password, &req.delivery_mediums).await?;
        }
        Ok(user)
    }

    /// GetUser: the signed-in user, with what their client may read.
    pub async fn get_user(&self, access_token: &str) -> Result<User> {
        let ctx = self.verify_access_token(access_token).await?;
        let client = self.store.get_client(&ctx.pool.id, &ctx.client_id).await?;
        let mut user = ctx.user;
        user.attributes = Self::readable(client.as_ref(), &user);
        Ok(user)
    }

    pub async fn admin_get_user(&self, pool_id: &str, username: &str) -> Result<User> {
        let pool = self.describe_pool(pool_id).await?;
        self.find_user(&pool, username)
            .await?
            .ok_or_else(|| IdpError::UserNotFound("User does not exist.".into()))
    }

    /// For a relying party's server-side token check: the user still exists
    /// with this `sub`, is enabled, and the sign-in `origin_jti` was not
    /// revoked (RevokeToken, GlobalSignOut).
    pub async fn sign_in_active(
        &self,
        pool_id: &str,
        username: &str,
        sub: &str,
        origin_jti: &str,
    ) -> Result<bool> {
        let pool = self.describe_pool(pool_id).await?;
        let Some(user) = self.find_user(&pool, username).await? else {
            return Ok(false);
        };
        if !user.enabled || user.sub != sub {
            return Ok(false);
        }
        Ok(self.store.origin_revoked(origin_jti).await? == Some(false))
    }

    pub async fn admin_delete_user(&self, pool_id: &str, username: &str) -> Result<()> {
        let user = self.admin_get_user(pool_id, username).await?;
        self.store.delete_user(pool_id, &user.username_key).await?;
        Ok(())
    }

    /// AdminDisableUser / AdminEnableUser. A disabled user cannot sign in,
    /// refresh, or use the access tokens they hold.
    pub async fn admin_set_enabled(&self, pool_id: &str, username: &str, enabled: bool) -> Result<()> {
        let mut user = self.admin_get_user(pool_id, username).await?;
        user.enabled = enabled;
        user.updated_ms = self.now_ms();
        self.store.update_user(&user).await?;
        Ok(())
    }

    pub async fn admin_set_user_password(
        &self,
        pool_id: &str,
        username: &str,
        password: &str,
        permanent: bool,
    ) -> Result<()> {
        let pool = self.describe_pool(pool_id).await?;
        let mut user = self
            .find_user(&pool, username)
            .await?
            .ok_or_else(|| IdpError::UserNotFound("User does not exist.".into()))?;
        no_password_for_federated(&user)?;
        super::passwords::check_policy(&self.password_policy(&pool), password)?;
        self.set_password(&pool, &mut user, password).await?;
        user.password_set_ms = self.now_ms();
        user.status = if permanent { UserStatus::CONFIRMED } else { UserStatus::FORCE_CHANGE_PASSWORD };
        user.updated_ms = user.password_set_ms;
        self.store.update_user(&user).await?;
        self.store.reset_failures(&pool.id, &user.username_key).await?;
        Ok(())
    }

    /// AdminResetUserPassword: the user must reset with a code sent by the
    /// recovery channel; signing in meanwhile is PasswordResetRequired.
    pub async fn admin_reset_user_password(&self, pool_id: &str, username: &str) -> Result<()> {
        let pool = self.describe_pool(pool_id).await?;
        let mut user = self
            .find_user(&pool, username)
            .await?
            .ok_or_else(|| IdpError::UserNotFound("User does not exist.".into()))?;
        no_password_for_federated(&user)?;
        self.send_recovery_code(&pool, &user).await?;
        user.status = UserStatus::RESET_REQUIRED;
        user.updated_ms = self.now_ms();
        self.store.update_user(&user).await?;
        Ok(())
    }

    pub async fn admin_update_user_attributes(
        &self,
        pool_id: &str,
        username: &str,
        changes: &[(String, String)],
    ) -> Result<()> {
        let pool = self.describe_pool(pool_id).await?;
        let user = self
            .find_user(&pool, username)
            .await?
            .ok_or_else(|| IdpError::UserNotFound("User does not exist.".into()))?;
        self.update_attributes(&pool, user, changes, super::users::Writer::Admin).await?;
        Ok(())
    }

    pub async fn admin_delete_user_attributes(
        &self,
        pool_id: &str,
        username: &str,
        names: &[String],
    ) -> Result<()> {
        let pool = self.describe_pool(pool_id).await?;
        let user = self
            .find_user(&pool, username)
            .await?
            .ok_or_else(|| IdpError::UserNotFound("User does not exist.".into()))?;
        self.delete_attributes(&pool, user, names).await
    }

    pub async fn admin_list_user_auth_events(
        &self,
        pool_id: &str,
        username: &str,
        max_results: Option<i64>,
        token: Option<&str>,
    ) -> Result<(Vec<AuthEvent>, Option<String>)> {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let user = self.admin_get_user(pool_id, username).await?;
        let limit = max_results.unwrap_or(60);
        awsapi::json::check_range("MaxResults", limit, 0, 60)?;
        let limit = if limit == 0 { 60 } else { limit };
        let invalid = || IdpError::InvalidParameter("The pagination token is invalid.".into());
        let before = token
            .map(|t| {
                let text = String::from_utf8(URL_SAFE_NO_PAD.decode(t).map_err(|_| invalid())?)
                    .map_err(|_| invalid())?;
                let (ms, id) = text.split_once(':').ok_or_else(invalid)?;
                Ok::<_, IdpError>((ms.parse::<i64>().map_err(|_| invalid())?, id.to_string()))
            })
            .transpose()?;
        let mut events = self
            .store
            .auth_events(
                pool_id,
                &user.username_key,
                before.as_ref().map(|(ms, id)| (*ms, id.as_str())),
                limit + 1,
            )
            .await?;
        let more = events.len() as i64 > limit;
        events.truncate(limit as usize);
        let next = if more {
            events.last().map(|e| URL_SAFE_NO_PAD.encode(format!("{}:{}", e.created_ms, e.event_id)))
        } else {
            None
        };
        Ok((events, next))
    }
}

/// A temporary password that satisfies the policy.
fn generate_password(policy: &PasswordPolicy) -> String {
    let len = policy.minimum_length.unwrap_or(8).max(12) as usize;
    let mut p = secrets::random_string(len.saturating_sub(4), secrets::ALNUM);
    p.push_str(&secrets::random_string(1, b"ABCDEFGHJKLMNPQRSTUVWXYZ"));
    p.push_str(&secrets::random_string(1, b"abcdefghijkmnopqrstuvwxyz"));
    p.push_str(&secrets::random_string(1, b"23456789"));
    p.push_str(&secrets::random_string(1, b"!#%+-=?@^_"));
    p
}

/// A user of an external identity provider signs in there: it never gets a
/// password here (which would outlive its deprovisioning at the provider).
pub(super) fn no_password_for_federated(user: &User) -> Result<()> {
    if user.status == UserStatus::EXTERNAL_PROVIDER {
        return Err(IdpError::InvalidParameter(
            "A user of an external identity provider cannot have a password.".into(),
        ));
    }
    Ok(())
}
