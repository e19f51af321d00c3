//! SignUp, ConfirmSignUp, ResendConfirmationCode, AdminConfirmSignUp.

use super::UserPools;
use super::triggers::{Event, Trigger, attributes_json, flag};
use super::users::{
    Writer, aliases_of, check_attributes, check_required, check_username, is_email, is_phone, username_key,
};
use crate::delivery::mask_destination;
use crate::error::{IdpError, Result};
use crate::model::*;
use crate::store::StoreError;
use serde_json::json;

/// Sign-up codes are valid for 24 hours.
const SIGNUP_CODE_VALIDITY_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Clone)]
pub struct SignUpRequest {
    pub client_id: String,
    pub secret_hash: Option<String>,
    pub username: String,
    pub password: Option<String>,
    pub attributes: Vec<(String, String)>,
    pub validation_data: Vec<(String, String)>,
    pub client_metadata: std::collections::BTreeMap<String, String>,
}

/// Where a code went (`CodeDeliveryDetails`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeDelivery {
    pub destination: String,
    pub medium: &'static str,
    pub attribute: &'static str,
}

#[derive(Debug, Clone)]
pub struct SignUpResult {
    pub user_sub: String,
    pub confirmed: bool,
    pub delivery: Option<CodeDelivery>,
}

impl UserPools {
    pub async fn sign_up(&self, req: SignUpRequest) -> Result<SignUpResult> {
        let (pool, client) = self.client_and_pool(&req.client_id).await?;
        self.check_secret_hash(&client, &req.username, req.secret_hash.as_deref())?;
        if pool.settings.admin_create_user_config.as_ref().and_then(|c| c.allow_admin_create_user_only)
            == Some(true)
        {
            return Err(IdpError::NotAuthorized("SignUp is not permitted for this user pool".into()));
        }
        let password = req
            .password
            .as_deref()
            .ok_or_else(|| IdpError::InvalidParameter("A password is required to sign up.".into()))?;
        check_username(&req.username)?;
        self.check_not_federated_name(&pool.id, &req.username).await?;
        let mut attributes = check_attributes(&pool, &req.attributes, Writer::Client(&client))?;
        let sub = uuid::Uuid::new_v4().to_string();

        // Email or phone as the username: the sign-in name becomes an
        // attribute and the internal username is the sub.
        let username_attrs = pool.settings.username_attributes.clone().unwrap_or_default();
        let username = if username_attrs.is_empty() {
            req.username.clone()
        } else {
            let as_email = username_attrs.contains(&UsernameAttribute::email) && is_email(&req.username);
            let as_phone =
                username_attrs.contains(&UsernameAttribute::phone_number) && is_phone(&req.username);
            let attr = match (as_email, as_phone) {
                (true, _) => "email",
                (_, true) => "phone_number",
                _ => {
                    let what = if username_attrs.contains(&UsernameAttribute::email) {
                        "an email"
                    } else {
                        "a phone number"
                    };
                    return Err(IdpError::InvalidParameter(format!("Username should be {what}.")));
                }
            };
            attributes.insert(attr.to_string(), req.username.clone());
            sub.clone()
        };
        attributes.remove("email_verified");
        attributes.remove("phone_number_verified");
        if attributes.contains_key("email") {
            attributes.insert("email_verified".into(), "false".into());
        }
        if attributes.contains_key("phone_number") {
            attributes.insert("phone_number_verified".into(), "false".into());
        }
        attributes.insert("sub".into(), sub.clone());
        check_required(&pool, &attributes)?;
        super::passwords::check_policy(&self.password_policy(&pool), password)?;

        let now = self.now_ms();
        let mut user = User::fresh(
            &pool.id,
            username_key(&pool, &username),
            username,
            sub.clone(),
            UserStatus::UNCONFIRMED,
            attributes,
            now,
        );
        // PreSignUp: the hook may refuse, confirm the user, verify contacts.
        let request = json!({
            "userAttributes": attributes_json(&user.attributes),
            "validationData": req.validation_data.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            "clientMetadata": req.client_metadata,
        });
        let event = Event {
            trigger: Trigger::PreSignUp,
            source: "PreSignUp_SignUp",
            user_name: &user.username,
            client_id: Some(&client.client_id),
            request,
            version: "1",
        };
        let mut auto_confirmed = false;
        if let Some(response) = self.call_hook(&pool, event).await? {
            auto_confirmed = flag(&response, "autoConfirmUser");
            for (flag_name, attr) in [("autoVerifyEmail", "email"), ("autoVerifyPhone", "phone_number")] {
                if flag(&response, flag_name) && user.attributes.contains_key(attr) {
                    user.attributes.insert(format!("{attr}_verified"), "true".into());
                }
            }
            if auto_confirmed {
                user.status = UserStatus::CONFIRMED;
            }
        }
        self.set_password(&pool, &mut user, password).await?;
        let aliases = aliases_of(&pool, &user.attributes);
        match self.store.insert_user(&user, &aliases).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(IdpError::UsernameExists("User already exists".into())),
            Err(StoreError::AliasConflict) if !username_attrs.is_empty() => {
                return Err(IdpError::UsernameExists(
                    "An account with the given email already exists.".into(),
                ));
            }
            Err(StoreError::AliasConflict) => {
                return Err(IdpError::AliasExists("An account with the given alias already exists.".into()));
            }
            Err(e) => return Err(e.into()),
        }
        if auto_confirmed {
            return Ok(SignUpResult { user_sub: sub, confirmed: true, delivery: None });
        }
        let delivery = self.send_signup_code(&pool, &user, "signup").await?;
        Ok(SignUpResult { user_sub: sub, confirmed: false, delivery })
    }

    /// The attribute a verification code goes to: email first, then phone,
    /// among the pool's AutoVerifiedAttributes.
    fn verification_target(pool: &UserPool, user: &User) -> Option<(&'static str, String)> {
        let auto = pool.settings.auto_verified_attributes.clone().unwrap_or_default();
        if auto.contains(&VerifiedAttribute::email)
            && let Some(v) = user.attributes.get("email")
        {
            return Some(("email", v.clone()));
        }
        if auto.contains(&VerifiedAttribute::phone_number)
            && let Some(v) = user.attributes.get("phone_number")
        {
            return Some(("phone_number", v.clone()));
        }
        None
    }

    async fn send_signup_code(
        &self,
        pool: &UserPool,
        user: &User,
        purpose: &'static str,
    ) -> Result<Option<CodeDelivery>> {
        let Some((attribute, destination)) = Self::verification_target(pool, user) else { return Ok(None) };
        let code = self.new_code(user, CodePurpose::SignUp, Some(attribute), SIGNUP_CODE_VALIDITY_MS).await?;
        let defaults = ("Your verification code is {####}.", "Your verification code");
        Ok(Some(self.send_code_message(pool, user, attribute, &destination, &code, defaults, purpose).await?))
    }

    /// A custom sender, when the pool has one for this channel, delivers the
    /// message itself and gets the code encrypted (triggers::encrypt_code).
    /// True when it did.
    pub(super) async fn custom_sender(
        &self,
        pool: &UserPool,
        user: &User,
        attribute: &str,
        shown: &std::collections::BTreeMap<String, String>,
        code: &str,
        purpose: &str,
    ) -> Result<bool> {
        let sender = if attribute == "email" { Trigger::CustomEmailSender } else { Trigger::CustomSmsSender };
        if super::triggers::hook_url(pool, sender).is_none() {
            return Ok(false);
        }
        let source = format!("{}_{}", sender.name(), message_kind(purpose));
        let key = super::triggers::sender_key(pool, &self.hook_secret(&pool.id));
        let request = json!({
            "type": if attribute == "email" { "customEmailSenderRequestV1" } else { "customSMSSenderRequestV1" },
            "code": super::triggers::encrypt_code(&key, code)?,
            "userAttributes": attributes_json(shown),
            "clientMetadata": {},
        });
        let event = Event {
            trigger: sender,
            source: &source,
            user_name: &user.username,
            client_id: None,
            request,
            version: "1",
        };
        self.call_hook(pool, event).await?;
        Ok(true)
    }

    /// CustomMessage: the hook writes the message around the code
    /// placeholder (the code itself never goes to the hook); its answer's
    /// `emailMessage`, `emailSubject`, `smsMessage`, or nothing.
    pub(super) async fn custom_message(
        &self,
        pool: &UserPool,
        user: &User,
        shown: &std::collections::BTreeMap<String, String>,
        purpose: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>> {
        let source = format!("CustomMessage_{}", message_kind(purpose));
        let request = json!({
            "userAttributes": attributes_json(shown),
            "codeParameter": "{####}",
            "usernameParameter": "{username}",
            "linkParameter": "{##Click Here##}",
            "clientMetadata": {},
        });
        let event = Event {
            trigger: Trigger::CustomMessage,
            source: &source,
            user_name: &user.username,
            client_id: None,
            request,
            version: "1",
        };
        Ok(self.call_hook(pool, event).await?.unwrap_or_default())
    }

    /// Sends a code by the channel of `attribute` (email or phone) with the
    /// pool's verification templates (or `defaults`: body, subject), and
    /// says where it went.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn send_code_message(
        &self,
        pool: &UserPool,
        user: &User,
        attribute: &str,
        destination: &str,
        code: &str,
        defaults: (&str, &str),
        purpose: &'static str,
    ) -> Result<CodeDelivery> {
        let template = pool.settings.verification_message_template.clone().unwrap_or_default();
        let fill = |t: &str| t.replace("{####}", code).replace("{username}", &user.username);
        // The events show the address the code goes to (a pending new
        // email or phone, before it is verified).
        let mut shown = user.attributes.clone();
        shown.insert(attribute.to_string(), destination.to_string());
        let (medium, attr_name): (&'static str, &'static str) =
            if attribute == "email" { ("EMAIL", "email") } else { ("SMS", "phone_number") };
        let delivered =
            CodeDelivery { destination: mask_destination(destination), medium, attribute: attr_name };
        if self.custom_sender(pool, user, attribute, &shown, code, purpose).await? {
            return Ok(delivered);
        }
        let custom = self.custom_message(pool, user, &shown, purpose).await?;
        let custom_text = |k: &str| custom.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
        if attribute == "email" {
            let body = custom_text("emailMessage")
                .or(template.email_message)
                .or_else(|| pool.settings.email_verification_message.clone())
                .unwrap_or_else(|| defaults.0.into());
            let subject = custom_text("emailSubject")
                .or(template.email_subject)
                .or_else(|| pool.settings.email_verification_subject.clone())
                .unwrap_or_else(|| defaults.1.into());
            self.send_email(pool, destination, &subject, &fill(&body)).await?;
            Ok(CodeDelivery {
                destination: mask_destination(destination),
                medium: "EMAIL",
                attribute: "email",
            })
        } else {
            let body = custom_text("smsMessage")
                .or(template.sms_message)
                .or_else(|| pool.settings.sms_verification_message.clone())
                .unwrap_or_else(|| defaults.0.into());
            self.send_sms(pool, destination, &fill(&body), purpose).await?;
            Ok(CodeDelivery {
                destination: mask_destination(destination),
                medium: "SMS",
                attribute: "phone_number",
            })
        }
    }

    /// Unknown users under PreventUserExistenceErrors: an answer shaped
    /// like a real one.
    pub(super) fn simulated_delivery(pool: &UserPool, username: &str) -> Option<CodeDelivery> {
        let auto = pool.settings.auto_verified_attributes.clone().unwrap_or_default();
        if auto.contains(&VerifiedAttribute::email) || auto.is_empty() {
            let shown =
                if is_email(username) { username.to_string() } else { format!("{username}@example.com") };
            return Some(CodeDelivery {
                destination: mask_destination(&shown),
                medium: "EMAIL",
                attribute: "email",
            });
        }
        Some(CodeDelivery { destination: "+*******0000".into(), medium: "SMS", attribute: "phone_number" })
    }

    pub async fn confirm_sign_up(
        &self,
        client_id: &str,
        secret_hash: Option<&str>,
        username: &str,
        code: &str,
        force_alias_creation: bool,
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
        if user.status != UserStatus::UNCONFIRMED {
            return Err(IdpError::NotAuthorized(format!(
                "User cannot be confirmed. Current status is {}",
                user.status.as_str()
            )));
        }
        let attribute = self.check_code(&user, CodePurpose::SignUp, code).await?;
        if let Some(attr) = attribute.as_deref() {
            user.attributes.insert(format!("{attr}_verified"), "true".into());
        }
        self.claim_aliases(&pool, &user, force_alias_creation).await?;
        user.status = UserStatus::CONFIRMED;
        user.updated_ms = self.now_ms();
        self.store.update_user(&user).await?;
        self.store.delete_code(&user.pool_id, &user.username_key, CodePurpose::SignUp).await?;
        self.post_confirmation(&pool, &user, Some(&client.client_id), "PostConfirmation_ConfirmSignUp").await
    }

    /// PostConfirmation, after the user is confirmed (a hook's refusal is
    /// reported, the confirmation stands, as in Cognito).
    pub(super) async fn post_confirmation(
        &self,
        pool: &UserPool,
        user: &User,
        client_id: Option<&str>,
        source: &str,
    ) -> Result<()> {
        let request = json!({ "userAttributes": attributes_json(&user.attributes), "clientMetadata": {} });
        let event = Event {
            trigger: Trigger::PostConfirmation,
            source,
            user_name: &user.username,
            client_id,
            request,
            version: "1",
        };
        self.call_hook(pool, event).await.map(|_| ())
    }

    /// Claims every alias the user's attributes now give them.
    pub(super) async fn claim_aliases(&self, pool: &UserPool, user: &User, force: bool) -> Result<()> {
        for alias in aliases_of(pool, &user.attributes) {
            match self.store.claim_alias(&pool.id, &alias, &user.username_key, force).await {
                Ok(()) => {}
                Err(StoreError::AliasConflict) => {
                    let what = alias.split(':').next().unwrap_or("alias");
                    return Err(IdpError::AliasExists(format!(
                        "An account with the {} already exists.",
                        match what {
                            "email" => "given email",
                            "phone_number" => "given phone number",
                            _ => "given preferred username",
                        }
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    pub async fn resend_confirmation_code(
        &self,
        client_id: &str,
        secret_hash: Option<&str>,
        username: &str,
    ) -> Result<Option<CodeDelivery>> {
        let (pool, client) = self.client_and_pool(client_id).await?;
        self.check_secret_hash(&client, username, secret_hash)?;
        let Some(user) = self.find_user(&pool, username).await? else {
            if Self::prevents_existence_errors(&client) {
                return Ok(Self::simulated_delivery(&pool, username));
            }
            return Err(IdpError::UserNotFound("Username/client id combination not found.".into()));
        };
        if user.status != UserStatus::UNCONFIRMED {
            return Err(IdpError::InvalidParameter("User is already confirmed.".into()));
        }
        match self.send_signup_code(&pool, &user, "resend").await? {
            Some(d) => Ok(Some(d)),
            None => Err(IdpError::InvalidParameter(
                "The user pool auto-verifies no attribute this user has, so no code can be sent.".into(),
            )),
        }
    }

    pub async fn admin_confirm_sign_up(&self, pool_id: &str, username: &str) -> Result<()> {
        let pool = self.describe_pool(pool_id).await?;
        let mut user = self
            .find_user(&pool, username)
            .await?
            .ok_or_else(|| IdpError::UserNotFound("User does not exist.".into()))?;
        if user.status != UserStatus::UNCONFIRMED {
            return Err(IdpError::NotAuthorized(format!(
                "User cannot be confirmed. Current status is {}",
                user.status.as_str()
            )));
        }
        user.status = UserStatus::CONFIRMED;
        user.updated_ms = self.now_ms();
        self.store.update_user(&user).await?;
        self.store.delete_code(&user.pool_id, &user.username_key, CodePurpose::SignUp).await?;
        self.post_confirmation(&pool, &user, None, "PostConfirmation_ConfirmSignUp").await
    }

    pub(super) fn password_policy(&self, pool: &UserPool) -> PasswordPolicy {
        pool.settings.policies.as_ref().and_then(|p| p.password_policy.clone()).unwrap_or_default()
    }

    pub(super) fn prevents_existence_errors(client: &AppClient) -> bool {
        client.settings.prevent_user_existence_errors == Some(PreventUserExistenceErrors::ENABLED)
    }
}

/// The `triggerSource` suffix of a code message's purpose.
fn message_kind(purpose: &str) -> &'static str {
    match purpose {
        "signup" => "SignUp",
        "resend" => "ResendCode",
        "forgot-password" => "ForgotPassword",
        "update-attribute" => "UpdateUserAttribute",
        "verify-attribute" => "VerifyUserAttribute",
        "admin-create-user" => "AdminCreateUser",
        _ => "Authentication",
    }
}
