//! CreateUserPool … ListUserPools: validation, Cognito's defaults, ids.

use awsapi::json::{check_chars, check_length, check_range, is_name_char};

use super::{Page, UserPools, decode_token, page};
use crate::error::{IdpError, Result};
use crate::model::*;
use crate::service::schema;
use crate::store::StoreError;

/// What CreateUserPool asks for.
#[derive(Debug, Clone, Default)]
pub struct NewPool {
    pub name: String,
    pub schema: Vec<SchemaAttribute>,
    pub settings: PoolSettings,
}

impl UserPools {
    pub async fn create_pool(&self, req: NewPool) -> Result<UserPool> {
        check_pool_name(&req.name)?;
        check_sign_in_names(&req.settings)?;
        let settings = with_defaults(req.settings)?;
        let schema = schema::build(&req.schema)?;
        let now = self.now_ms();
        let mut pool = UserPool {
            id: String::new(),
            name: req.name,
            created_ms: now,
            updated_ms: now,
            settings,
            schema,
        };
        // Ids are random; a collision is retried rather than checked first.
        for _ in 0..5 {
            pool.id = format!("{}_{}", self.settings.region, secrets::random_string(9, secrets::ALNUM));
            match self.store.insert_pool(&pool).await {
                Ok(()) => return Ok(pool),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(IdpError::Internal("no free user pool id after 5 tries".into()))
    }

    pub async fn describe_pool(&self, id: &str) -> Result<UserPool> {
        check_pool_id(id)?;
        self.store.get_pool(id).await?.ok_or_else(|| pool_not_found(id))
    }

    /// Cognito's UpdateUserPool: settings the request leaves out return to
    /// their defaults; what cannot change after creation (schema, sign-in
    /// names, case sensitivity) is kept.
    pub async fn update_pool(
        &self,
        id: &str,
        name: Option<String>,
        settings: PoolSettings,
    ) -> Result<UserPool> {
        let mut pool = self.describe_pool(id).await?;
        if let Some(name) = name {
            check_pool_name(&name)?;
            pool.name = name;
        }
        let mut settings = with_defaults(settings)?;
        settings.alias_attributes = pool.settings.alias_attributes.take();
        settings.username_attributes = pool.settings.username_attributes.take();
        settings.username_configuration = pool.settings.username_configuration.take();
        // Second factors are set with SetUserPoolMfaConfig, not here.
        settings.mfa_factors = pool.settings.mfa_factors.take();
        pool.settings = settings;
        pool.updated_ms = self.now_ms();
        if !self.store.update_pool(&pool).await? {
            return Err(pool_not_found(id));
        }
        Ok(pool)
    }

    pub async fn delete_pool(&self, id: &str) -> Result<()> {
        let pool = self.describe_pool(id).await?;
        if pool.settings.deletion_protection == Some(DeletionProtection::ACTIVE) {
            return Err(IdpError::InvalidParameter(format!(
                "The user pool {id} cannot be deleted because deletion protection is activated. \
                 Deactivate it with UpdateUserPool first."
            )));
        }
        if !self.store.delete_pool(id).await? {
            return Err(pool_not_found(id));
        }
        Ok(())
    }

    pub async fn list_pools(&self, max_results: i64, next_token: Option<&str>) -> Result<Page<UserPool>> {
        check_range("MaxResults", max_results, 1, 60)?;
        let after = decode_token(next_token)?;
        let items = self.store.list_pools(after.as_deref(), max_results + 1).await?;
        Ok(page(items, max_results, |p| &p.id))
    }
}

pub(super) fn pool_not_found(id: &str) -> IdpError {
    IdpError::ResourceNotFound(format!("User pool {id} does not exist."))
}

/// `[\w-]+_[0-9a-zA-Z]+`, at most 55 characters.
pub(super) fn check_pool_id(id: &str) -> Result<()> {
    check_length("UserPoolId", id, 1, 55)?;
    let ok = id.split_once('_').is_some_and(|(region, suffix)| {
        !region.is_empty()
            && region.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-')
            && !suffix.is_empty()
            && suffix.chars().all(|c| c.is_ascii_alphanumeric())
    });
    if ok {
        Ok(())
    } else {
        Err(IdpError::InvalidParameter(format!(
            "1 validation error detected: Value '{id}' at 'userPoolId' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [\\w-]+_[0-9a-zA-Z]+"
        )))
    }
}

fn check_pool_name(name: &str) -> Result<()> {
    check_length("PoolName", name, 1, 128)?;
    check_chars("PoolName", name, "[\\w\\s+=,.@-]+", is_name_char)?;
    Ok(())
}

fn check_sign_in_names(s: &PoolSettings) -> Result<()> {
    let aliases = s.alias_attributes.as_ref().is_some_and(|v| !v.is_empty());
    let usernames = s.username_attributes.as_ref().is_some_and(|v| !v.is_empty());
    if aliases && usernames {
        return Err(IdpError::InvalidParameter(
            "Only one of AliasAttributes or UsernameAttributes can be set in a user pool.".into(),
        ));
    }
    Ok(())
}

fn check_message(member: &str, text: &Option<String>, min: usize, max: usize, needs: &[&str]) -> Result<()> {
    let Some(text) = text else { return Ok(()) };
    check_length(member, text, min, max)?;
    for placeholder in needs {
        let present = if *placeholder == "{##" {
            text.contains("{##") && text.contains("##}")
        } else {
            text.contains(placeholder)
        };
        if !present {
            return Err(IdpError::InvalidParameter(format!(
                "{member} must contain the placeholder {placeholder}{}.",
                if *placeholder == "{##" { "…##}" } else { "" }
            )));
        }
    }
    Ok(())
}

/// Checks every setting and fills in what Cognito fills in when absent.
fn with_defaults(mut s: PoolSettings) -> Result<PoolSettings> {
    let policy = s.policies.get_or_insert_with(Policies::default);
    let pp = match policy.password_policy.take() {
        None => PasswordPolicy {
            minimum_length: Some(8),
            require_uppercase: Some(true),
            require_lowercase: Some(true),
            require_numbers: Some(true),
            require_symbols: Some(true),
            password_history_size: None,
            temporary_password_validity_days: Some(7),
        },
        Some(p) => PasswordPolicy {
            minimum_length: Some(p.minimum_length.unwrap_or(8)),
            require_uppercase: Some(p.require_uppercase.unwrap_or(false)),
            require_lowercase: Some(p.require_lowercase.unwrap_or(false)),
            require_numbers: Some(p.require_numbers.unwrap_or(false)),
            require_symbols: Some(p.require_symbols.unwrap_or(false)),
            password_history_size: p.password_history_size,
            temporary_password_validity_days: Some(p.temporary_password_validity_days.unwrap_or(7)),
        },
    };
    check_range("Policies.PasswordPolicy.MinimumLength", pp.minimum_length.unwrap_or(8), 6, 99)?;
    if let Some(h) = pp.password_history_size {
        check_range("Policies.PasswordPolicy.PasswordHistorySize", h, 0, 24)?;
    }
    check_range(
        "Policies.PasswordPolicy.TemporaryPasswordValidityDays",
        pp.temporary_password_validity_days.unwrap_or(7),
        0,
        365,
    )?;
    policy.password_policy = Some(pp);

    s.deletion_protection.get_or_insert(DeletionProtection::INACTIVE);
    s.mfa_configuration.get_or_insert(MfaConfiguration::OFF);
    s.user_pool_tier.get_or_insert(UserPoolTier::ESSENTIALS);
    s.lambda_config.get_or_insert_with(Default::default);
    if let Some(config) = &s.lambda_config {
        super::triggers::check_lambda_config(config)?;
    }

    check_message("SmsVerificationMessage", &s.sms_verification_message, 6, 140, &["{####}"])?;
    check_message("EmailVerificationMessage", &s.email_verification_message, 6, 20000, &["{####}"])?;
    check_message("EmailVerificationSubject", &s.email_verification_subject, 1, 140, &[])?;
    check_message("SmsAuthenticationMessage", &s.sms_authentication_message, 6, 140, &["{####}"])?;
    let template = s.verification_message_template.get_or_insert_with(Default::default);
    check_message("VerificationMessageTemplate.SmsMessage", &template.sms_message, 6, 140, &["{####}"])?;
    check_message(
        "VerificationMessageTemplate.EmailMessage",
        &template.email_message,
        6,
        20000,
        &["{####}"],
    )?;
    check_message("VerificationMessageTemplate.EmailSubject", &template.email_subject, 1, 140, &[])?;
    check_message(
        "VerificationMessageTemplate.EmailMessageByLink",
        &template.email_message_by_link,
        6,
        20000,
        &["{##"],
    )?;
    check_message(
        "VerificationMessageTemplate.EmailSubjectByLink",
        &template.email_subject_by_link,
        1,
        140,
        &[],
    )?;
    template.default_email_option.get_or_insert(DefaultEmailOption::CONFIRM_WITH_CODE);
    // The older top-level members and the template are one setting.
    if template.email_message.is_none() {
        template.email_message = s.email_verification_message.clone();
    }
    if template.email_subject.is_none() {
        template.email_subject = s.email_verification_subject.clone();
    }
    if template.sms_message.is_none() {
        template.sms_message = s.sms_verification_message.clone();
    }

    let admin = s.admin_create_user_config.get_or_insert_with(Default::default);
    admin.allow_admin_create_user_only.get_or_insert(false);
    check_range(
        "AdminCreateUserConfig.UnusedAccountValidityDays",
        *admin.unused_account_validity_days.get_or_insert(7),
        0,
        365,
    )?;
    if let Some(invite) = &admin.invite_message_template {
        check_message(
            "InviteMessageTemplate.SMSMessage",
            &invite.sms_message,
            6,
            140,
            &["{username}", "{####}"],
        )?;
        check_message(
            "InviteMessageTemplate.EmailMessage",
            &invite.email_message,
            6,
            20000,
            &["{username}", "{####}"],
        )?;
        check_message("InviteMessageTemplate.EmailSubject", &invite.email_subject, 1, 140, &[])?;
    }

    let email = s.email_configuration.get_or_insert_with(Default::default);
    email.email_sending_account.get_or_insert(EmailSendingAccount::COGNITO_DEFAULT);

    if let Some(recovery) = &s.account_recovery_setting {
        check_recovery(recovery.recovery_mechanisms.as_deref().unwrap_or_default())?;
    }
    if let Some(tags) = &s.user_pool_tags {
        if tags.len() > 50 {
            return Err(IdpError::InvalidParameter("A user pool can have at most 50 tags.".into()));
        }
        for (k, v) in tags {
            check_length("UserPoolTags.key", k, 1, 128)?;
            check_length("UserPoolTags.value", v, 0, 256)?;
        }
    }
    s.user_attribute_update_settings.get_or_insert_with(|| {
        let mut o = Object::new();
        o.insert("AttributesRequireVerificationBeforeUpdate".into(), serde_json::Value::Array(vec![]));
        o
    });
    Ok(s)
}

fn check_recovery(mechanisms: &[RecoveryOption]) -> Result<()> {
    let bad = |m: &str| Err(IdpError::InvalidParameter(format!("AccountRecoverySetting: {m}")));
    if mechanisms.is_empty() || mechanisms.len() > 2 {
        return bad("RecoveryMechanisms must have one or two entries.");
    }
    for (i, m) in mechanisms.iter().enumerate() {
        check_range("AccountRecoverySetting.RecoveryMechanisms.Priority", m.priority, 1, 2)?;
        if mechanisms[..i].iter().any(|o| o.priority == m.priority || o.name == m.name) {
            return bad("each priority and each mechanism may appear once.");
        }
    }
    if mechanisms.len() > 1 && mechanisms.iter().any(|m| m.name == RecoveryOptionName::admin_only) {
        return bad("admin_only cannot be combined with another mechanism.");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_cognitos() {
        let s = with_defaults(PoolSettings::default()).unwrap();
        let pp = s.policies.unwrap().password_policy.unwrap();
        assert_eq!(pp.minimum_length, Some(8));
        assert_eq!(pp.require_symbols, Some(true));
        assert_eq!(pp.temporary_password_validity_days, Some(7));
        assert_eq!(s.mfa_configuration, Some(MfaConfiguration::OFF));
        assert_eq!(s.deletion_protection, Some(DeletionProtection::INACTIVE));
    }

    #[test]
    fn partial_password_policy_turns_unset_requirements_off() {
        let s = PoolSettings {
            policies: Some(Policies {
                password_policy: Some(PasswordPolicy { minimum_length: Some(12), ..Default::default() }),
                sign_in_policy: None,
            }),
            ..Default::default()
        };
        let pp = with_defaults(s).unwrap().policies.unwrap().password_policy.unwrap();
        assert_eq!((pp.minimum_length, pp.require_uppercase), (Some(12), Some(false)));
    }

    #[test]
    fn refusals() {
        let with = |f: fn(&mut PoolSettings)| {
            let mut s = PoolSettings::default();
            f(&mut s);
            with_defaults(s)
        };
        assert!(with(|s| s.email_verification_message = Some("no code here".into())).is_err());
        assert!(
            with(|s| s.policies = Some(Policies {
                password_policy: Some(PasswordPolicy { minimum_length: Some(5), ..Default::default() }),
                sign_in_policy: None
            }))
            .is_err()
        );
        assert!(
            with(|s| s.account_recovery_setting = Some(AccountRecoverySetting {
                recovery_mechanisms: Some(vec![
                    RecoveryOption { priority: 1, name: RecoveryOptionName::admin_only },
                    RecoveryOption { priority: 2, name: RecoveryOptionName::verified_email },
                ])
            }))
            .is_err()
        );
        let both = PoolSettings {
            alias_attributes: Some(vec![AliasAttribute::email]),
            username_attributes: Some(vec![UsernameAttribute::email]),
            ..Default::default()
        };
        assert!(check_sign_in_names(&both).is_err());
        assert!(check_pool_id("us-east-1_abc123").is_ok());
        assert!(check_pool_id("nounderscore").is_err());
        assert!(check_pool_id("us-east-1_ab/c").is_err());
    }
}
