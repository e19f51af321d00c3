//! MFA operations on the wire.

use awsapi::AwsError;
use awsapi::json::decode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::model::{MfaConfiguration, MfaFactors, Object};
use crate::service::UserPools;
use crate::service::mfa::FactorPreference;

pub const PUBLIC: &[&str] = &["AssociateSoftwareToken", "VerifySoftwareToken", "SetUserMFAPreference"];
pub const SIGNED: &[&str] = &["SetUserPoolMfaConfig", "GetUserPoolMfaConfig", "AdminSetUserMFAPreference"];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PoolMfaInput {
    user_pool_id: String,
    sms_mfa_configuration: Option<Object>,
    software_token_mfa_configuration: Option<Object>,
    email_mfa_configuration: Option<Object>,
    mfa_configuration: Option<MfaConfiguration>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PoolOnly {
    user_pool_id: String,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "PascalCase")]
struct Setting {
    enabled: Option<bool>,
    preferred_mfa: Option<bool>,
}

impl From<Setting> for FactorPreference {
    fn from(s: Setting) -> Self {
        FactorPreference { enabled: s.enabled, preferred: s.preferred_mfa }
    }
}

#[derive(Deserialize)]
struct PreferenceInput {
    #[serde(rename = "AccessToken")]
    access_token: Option<String>,
    #[serde(rename = "UserPoolId")]
    user_pool_id: Option<String>,
    #[serde(rename = "Username")]
    username: Option<String>,
    #[serde(rename = "SMSMfaSettings")]
    sms: Option<Setting>,
    #[serde(rename = "SoftwareTokenMfaSettings")]
    software_token: Option<Setting>,
    #[serde(rename = "EmailMfaSettings")]
    email: Option<Setting>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TokenInput {
    access_token: Option<String>,
    session: Option<String>,
    user_code: Option<String>,
    friendly_device_name: Option<String>,
}

fn config(mode: MfaConfiguration, factors: &MfaFactors) -> Value {
    let mut out = Map::new();
    if let Some(o) = &factors.sms {
        out.insert("SmsMfaConfiguration".into(), Value::Object(o.clone()));
    }
    if let Some(o) = &factors.software_token {
        out.insert("SoftwareTokenMfaConfiguration".into(), Value::Object(o.clone()));
    }
    if let Some(o) = &factors.email {
        out.insert("EmailMfaConfiguration".into(), Value::Object(o.clone()));
    }
    out.insert("MfaConfiguration".into(), json!(mode.as_str()));
    Value::Object(out)
}

fn missing(member: &str) -> AwsError {
    AwsError::invalid_parameter(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    ))
}

pub async fn call_public(pools: &UserPools, operation: &str, body: &[u8]) -> Result<Value, AwsError> {
    match operation {
        "AssociateSoftwareToken" => {
            let r: TokenInput = decode(body)?;
            let (secret, session) =
                pools.associate_software_token(r.access_token.as_deref(), r.session.as_deref()).await?;
            let mut out = json!({ "SecretCode": secret });
            if let (Some(s), Value::Object(map)) = (session, &mut out) {
                map.insert("Session".into(), json!(s));
            }
            Ok(out)
        }
        "VerifySoftwareToken" => {
            let r: TokenInput = decode(body)?;
            let code = r.user_code.ok_or_else(|| missing("UserCode"))?;
            let session = pools
                .verify_software_token(
                    r.access_token.as_deref(),
                    r.session.as_deref(),
                    &code,
                    r.friendly_device_name,
                )
                .await?;
            let mut out = json!({ "Status": "SUCCESS" });
            if let (Some(s), Value::Object(map)) = (session, &mut out) {
                map.insert("Session".into(), json!(s));
            }
            Ok(out)
        }
        "SetUserMFAPreference" => {
            let r: PreferenceInput = decode(body)?;
            let token = r.access_token.ok_or_else(|| missing("AccessToken"))?;
            pools
                .set_user_mfa_preference(
                    &token,
                    r.sms.map(Into::into),
                    r.software_token.map(Into::into),
                    r.email.map(Into::into),
                )
                .await?;
            Ok(json!({}))
        }
        other => Err(AwsError::unknown_operation(other)),
    }
}

pub async fn call_signed(pools: &UserPools, operation: &str, body: &[u8]) -> Result<Value, AwsError> {
    match operation {
        "SetUserPoolMfaConfig" => {
            let r: PoolMfaInput = decode(body)?;
            let factors = MfaFactors {
                sms: r.sms_mfa_configuration,
                software_token: r.software_token_mfa_configuration,
                email: r.email_mfa_configuration,
            };
            let (mode, factors) =
                pools.set_pool_mfa_config(&r.user_pool_id, r.mfa_configuration, factors).await?;
            Ok(config(mode, &factors))
        }
        "GetUserPoolMfaConfig" => {
            let r: PoolOnly = decode(body)?;
            let (mode, factors) = pools.pool_mfa_config(&r.user_pool_id).await?;
            Ok(config(mode, &factors))
        }
        "AdminSetUserMFAPreference" => {
            let r: PreferenceInput = decode(body)?;
            let pool_id = r.user_pool_id.ok_or_else(|| missing("UserPoolId"))?;
            let username = r.username.ok_or_else(|| missing("Username"))?;
            pools
                .admin_set_user_mfa_preference(
                    &pool_id,
                    &username,
                    r.sms.map(Into::into),
                    r.software_token.map(Into::into),
                    r.email.map(Into::into),
                )
                .await?;
            Ok(json!({}))
        }
        other => Err(AwsError::unknown_operation(other)),
    }
}
