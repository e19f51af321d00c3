//! Attribute changes and verification (self-service and admin), DeleteUser,
//! ChangePassword.

use std::collections::BTreeMap;

use super::UserPools;
use super::signup::CodeDelivery;
use super::users::{Writer, aliases_of, check_attributes};
use crate::error::{IdpError, Result};
use crate::model::*;

/// Attribute verification codes are valid for 24 hours.
const VERIFY_CODE_VALIDITY_MS: i64 = 24 * 3600 * 1000;

/// Email and phone codes are kept apart, so both can be pending at once.
fn verify_purpose(attribute: &str) -> CodePurpose {
    if attribute == "email" { CodePurpose::VerifyEmail } else { CodePurpose::VerifyPhone }
}

fn is_verifiable(name: &str) -> bool {
    name == "email" || name == "phone_number"
}

impl UserPools {
    /// Applies attribute changes. A client changing a verified email or
    /// phone leaves the old value active (and verified) until the new one
    /// is verified with a code; otherwise a changed email/phone becomes
    /// unverified and, when the pool auto-verifies it, a code is sent.
    pub(super) async fn update_attributes(
        &self,
        pool: &UserPool,
        mut user: User,
        changes: &[(String, String)],
        writer: Writer<'_>,
    ) -> Result<Vec<CodeDelivery>> {
        let checked = check_attributes(pool, changes, writer)?;
        let auto: Vec<&str> = pool
            .settings
            .auto_verified_attributes
            .iter()
            .flatten()
            .map(|a| match a {
                VerifiedAttribute::email => "email",
                VerifiedAttribute::phone_number => "phone_number",
            })
            .collect();
        let mut to_verify: Vec<String> = Vec::new();
        for (name, value) in &checked {
            let mutable =
                pool.schema.iter().find(|a| a.name.as_deref() == Some(name)).and_then(|a| a.mutable);
            if mutable == Some(false) && user.attributes.contains_key(name) {
                return Err(IdpError::InvalidParameter(format!(
                    "Cannot modify an immutable attribute: {name}"
                )));
            }
            if name.ends_with("_verified") {
                continue;
            }
            if is_verifiable(name) {
                if user.attributes.get(name) == Some(value) {
                    user.pending_attributes.remove(name);
                    continue;
                }
                let flag = format!("{name}_verified");
                let was_verified = user.attributes.get(&flag).is_some_and(|v| v == "true");
                let admin_verified =
                    matches!(writer, Writer::Admin) && checked.get(&flag).is_some_and(|v| v == "true");
                if admin_verified {
                    user.attributes.insert(name.clone(), value.clone());
                    user.pending_attributes.remove(name);
                } else if was_verified && matches!(writer, Writer::Client(_)) {
                    user.pending_attributes.insert(name.clone(), value.clone());
                    to_verify.push(name.clone());
                } else {
                    user.attributes.insert(name.clone(), value.clone());
                    user.attributes.insert(flag, "false".into());
                    user.pending_attributes.remove(name);
                    if auto.contains(&name.as_str()) {
                        to_verify.push(name.clone());
                    }
                }
            } else {
                user.attributes.insert(name.clone(), value.clone());
            }
        }
        if let Writer::Admin = writer {
            for flag in ["email_verified", "phone_number_verified"] {
                if let Some(v) = checked.get(flag) {
                    user.attributes.insert(flag.into(), v.clone());
                }
            }
        }
        self.store_user_with_aliases(pool, &mut user).await?;
        let mut deliveries = Vec::new();
        for name in to_verify {
            deliveries.push(self.send_verification_code(pool, &user, &name).await?);
        }
        Ok(deliveries)
    }

    /// Stores the user and moves their aliases to what the attributes now
    /// say: new aliases are claimed first, so a taken one stops the change.
    pub(super) async fn store_user_with_aliases(&self, pool: &UserPool, user: &mut User) -> Result<()> {
        let wanted = aliases_of(pool, &user.attributes);
        self.claim_aliases(pool, user, false).await?;
        user.updated_ms = self.now_ms();
        self.store.update_user(user).await?;
        self.store.release_aliases(&pool.id, &user.username_key).await?;
        for alias in wanted {
            self.store.claim_alias(&pool.id, &alias, &user.username_key, false).await?;
        }
        Ok(())
    }

    async fn send_verification_code(
        &self,
        pool: &UserPool,
        user: &User,
        attribute: &str,
    ) -> Result<CodeDelivery> {
        let destination = user
            .pending_attributes
            .get(attribute)
            .or_else(|| user.attributes.get(attribute))
            .cloned()
            .ok_or_else(|| IdpError::InvalidParameter(format!("The user has no {attribute} to verify.")))?;
        let code =
            self.new_code(user, verify_purpose(attribute), Some(attribute), VERIFY_CODE_VALIDITY_MS).await?;
        let defaults = ("Your verification code is {####}.", "Your verification code");
        self.send_code_message(pool, user, attribute, &destination, &code, defaults, "verify-attribute").await
    }

    pub async fn update_user_attributes(
        &self,
        access_token: &str,
        changes: &[(String, String)],
    ) -> Result<Vec<CodeDelivery>> {
        let ctx = self.verify_access_token(access_token).await?;
        let client = self.token_client(&ctx.pool, &ctx.client_id).await?;
        self.update_attributes(&ctx.pool, ctx.user, changes, Writer::Client(&client)).await
    }

    pub async fn get_user_attribute_verification_code(
        &self,
        access_token: &str,
        attribute: &str,
    ) -> Result<CodeDelivery> {
        let ctx = self.verify_access_token(access_token).await?;
        if !is_verifiable(attribute) {
            return Err(IdpError::InvalidParameter(format!("The attribute {attribute} cannot be verified.")));
        }
        self.send_verification_code(&ctx.pool, &ctx.user, attribute).await
    }

    pub async fn verify_user_attribute(&self, access_token: &str, attribute: &str, code: &str) -> Result<()> {
        let ctx = self.verify_access_token(access_token).await?;
        if !is_verifiable(attribute) {
            return Err(IdpError::InvalidParameter(format!("The attribute {attribute} cannot be verified.")));
        }
        let mut user = ctx.user;
        let verified = self.check_code(&user, verify_purpose(attribute), code).await?;
        if verified.as_deref() != Some(attribute) {
            return Err(IdpError::CodeMismatch(
                "Invalid verification code provided, please try again.".into(),
            ));
        }
        if let Some(value) = user.pending_attributes.remove(attribute) {
            user.attributes.insert(attribute.to_string(), value);
        }
        user.attributes.insert(format!("{attribute}_verified"), "true".into());
        self.store_user_with_aliases(&ctx.pool, &mut user).await?;
        self.store.delete_code(&user.pool_id, &user.username_key, verify_purpose(attribute)).await?;
        Ok(())
    }

    /// Removes attributes; required ones and `sub` cannot go.
    pub(super) async fn delete_attributes(
        &self,
        pool: &UserPool,
        mut user: User,
        names: &[String],
    ) -> Result<()> {
        for name in names {
            let entry = pool.schema.iter().find(|a| a.name.as_deref() == Some(name.as_str()));
            if name == "sub" || entry.is_some_and(|a| a.required == Some(true)) {
                return Err(IdpError::InvalidParameter(format!(
                    "Cannot delete the required attribute {name}."
                )));
            }
            if entry.is_some_and(|a| a.mutable == Some(false)) {
                return Err(IdpError::InvalidParameter(format!(
                    "Cannot modify an immutable attribute: {name}"
                )));
            }
            user.attributes.remove(name);
            user.pending_attributes.remove(name);
            if is_verifiable(name) {
                user.attributes.remove(&format!("{name}_verified"));
            }
        }
        self.store_user_with_aliases(pool, &mut user).await
    }

    pub async fn delete_user_attributes(&self, access_token: &str, names: &[String]) -> Result<()> {
        let ctx = self.verify_access_token(access_token).await?;
        let client = self.token_client(&ctx.pool, &ctx.client_id).await?;
        if let Some(allowed) = &client.settings.write_attributes
            && let Some(name) = names.iter().find(|n| !allowed.contains(n))
        {
            return Err(IdpError::NotAuthorized(format!(
                "A client attempted to write unauthorized attribute {name}"
            )));
        }
        self.delete_attributes(&ctx.pool, ctx.user, names).await
    }

    pub async fn delete_user(&self, access_token: &str) -> Result<()> {
        let ctx = self.verify_access_token(access_token).await?;
        self.store.delete_user(&ctx.pool.id, &ctx.user.username_key).await?;
        Ok(())
    }

    pub async fn change_password(&self, access_token: &str, previous: &str, proposed: &str) -> Result<()> {
        let ctx = self.verify_access_token(access_token).await?;
        let mut user = ctx.user;
        let now = self.now_ms();
        // Wrong previous passwords count toward the same lockout as sign-in.
        if user.locked_until_ms > now {
            return Err(IdpError::LimitExceeded(
                "Attempt limit exceeded, please try after some time.".into(),
            ));
        }
        let stored = user.password_hash.clone().unwrap_or_default();
        if !self.hasher.verify(previous, &stored).await?.matches {
            self.store
                .record_failure(&user.pool_id, &user.username_key, &super::signin::lock_until(now))
                .await?;
            return Err(IdpError::NotAuthorized("Incorrect username or password.".into()));
        }
        super::passwords::check_policy(&self.password_policy(&ctx.pool), proposed)?;
        self.set_password(&ctx.pool, &mut user, proposed).await?;
        user.password_set_ms = self.now_ms();
        user.updated_ms = user.password_set_ms;
        self.store.update_user(&user).await?;
        Ok(())
    }

    /// The client an access token was issued to.
    pub(super) async fn token_client(&self, pool: &UserPool, client_id: &str) -> Result<AppClient> {
        self.store
            .get_client(&pool.id, client_id)
            .await?
            .ok_or_else(|| IdpError::NotAuthorized("Invalid Access Token".into()))
    }

    /// The attributes a client may read (all but developer-only ones when it
    /// names none).
    pub fn readable(client: Option<&AppClient>, user: &User) -> BTreeMap<String, String> {
        user.attributes
            .iter()
            .filter(|(k, _)| !k.starts_with("dev:"))
            .filter(|(k, _)| {
                k.as_str() == "sub"
                    || client.and_then(|c| c.settings.read_attributes.as_ref()).is_none_or(|r| r.contains(k))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}
