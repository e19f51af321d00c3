//! AdminCreateUser (what sign-in needs of it: a user with a temporary
//! password and status FORCE_CHANGE_PASSWORD) and GetUser.

use super::UserPools;
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
            return Err(IdpError::UnsupportedOperation(
                "MessageAction RESEND is not available on this server yet.".into(),
            ));
        }
        check_username(&req.username)?;
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
        let user = User {
            pool_id: pool.id.clone(),
            username_key: username_key(&pool, &username),
            username,
            sub,
            status: UserStatus::FORCE_CHANGE_PASSWORD,
            enabled: true,
            attributes,
            password_hash: Some(self.hasher.hash(&password).await?),
            password_set_ms: now,
            failed_attempts: 0,
            locked_until_ms: 0,
            tokens_valid_after_ms: 0,
            created_ms: now,
            updated_ms: now,
        };
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
        let mediums: Vec<&str> =
            if mediums.is_empty() { vec!["SMS"] } else { mediums.iter().map(String::as_str).collect() };
        for medium in mediums {
            match (medium, user.attributes.get("email"), user.attributes.get("phone_number")) {
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

    /// GetUser: the signed-in user's name and attributes.
    pub async fn get_user(&self, access_token: &str) -> Result<User> {
        Ok(self.verify_access_token(access_token).await?.user)
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
