//! User pools and app clients as stored and as on the wire.
//!
//! The settings structs use the wire's member names, so what a client sent
//! is what DescribeUserPool / DescribeUserPoolClient give back. Sub-objects
//! that no rule of Cirrus reads yet (LambdaConfig, DeviceConfiguration, …)
//! are kept as JSON objects, verbatim.
#![allow(non_camel_case_types)]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub type Object = serde_json::Map<String, serde_json::Value>;

macro_rules! wire_enum {
    ($name:ident { $($variant:ident),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub enum $name { $($variant),+ }
        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => stringify!($variant)),+ }
            }
        }
    };
}

wire_enum!(DeletionProtection { ACTIVE, INACTIVE });
wire_enum!(MfaConfiguration { OFF, ON, OPTIONAL });
wire_enum!(UserPoolTier { LITE, ESSENTIALS, PLUS });
wire_enum!(VerifiedAttribute { email, phone_number });
wire_enum!(AliasAttribute { email, phone_number, preferred_username });
wire_enum!(UsernameAttribute { email, phone_number });
wire_enum!(DefaultEmailOption { CONFIRM_WITH_LINK, CONFIRM_WITH_CODE });
wire_enum!(EmailSendingAccount { COGNITO_DEFAULT, DEVELOPER });
wire_enum!(RecoveryOptionName { verified_email, verified_phone_number, admin_only });
wire_enum!(AttributeDataType { String, Number, DateTime, Boolean });
wire_enum!(TimeUnit { seconds, minutes, hours, days });
wire_enum!(OAuthFlow { code, implicit, client_credentials });
wire_enum!(PreventUserExistenceErrors { LEGACY, ENABLED });
wire_enum!(ExplicitAuthFlow {
    ADMIN_NO_SRP_AUTH,
    CUSTOM_AUTH_FLOW_ONLY,
    USER_PASSWORD_AUTH,
    ALLOW_ADMIN_USER_PASSWORD_AUTH,
    ALLOW_CUSTOM_AUTH,
    ALLOW_USER_PASSWORD_AUTH,
    ALLOW_USER_SRP_AUTH,
    ALLOW_REFRESH_TOKEN_AUTH,
    ALLOW_USER_AUTH,
});

impl TimeUnit {
    pub fn seconds(self) -> i64 {
        match self {
            Self::seconds => 1,
            Self::minutes => 60,
            Self::hours => 3600,
            Self::days => 86400,
        }
    }
}

impl ExplicitAuthFlow {
    /// The pre-2019 names, which cannot be mixed with the `ALLOW_` ones.
    pub fn is_legacy(self) -> bool {
        matches!(self, Self::ADMIN_NO_SRP_AUTH | Self::CUSTOM_AUTH_FLOW_ONLY | Self::USER_PASSWORD_AUTH)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PasswordPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_length: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_uppercase: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_lowercase: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_numbers: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_symbols: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_history_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temporary_password_validity_days: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Policies {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_policy: Option<PasswordPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_in_policy: Option<Object>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VerificationMessageTemplate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_message_by_link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_subject_by_link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_email_option: Option<DefaultEmailOption>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EmailConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to_email_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_sending_account: Option<EmailSendingAccount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration_set: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageTemplate {
    #[serde(rename = "SMSMessage", skip_serializing_if = "Option::is_none")]
    pub sms_message: Option<String>,
    #[serde(rename = "EmailMessage", skip_serializing_if = "Option::is_none")]
    pub email_message: Option<String>,
    #[serde(rename = "EmailSubject", skip_serializing_if = "Option::is_none")]
    pub email_subject: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AdminCreateUserConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_admin_create_user_only: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unused_account_validity_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_message_template: Option<MessageTemplate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UsernameConfiguration {
    pub case_sensitive: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecoveryOption {
    pub priority: i64,
    pub name: RecoveryOptionName,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountRecoverySetting {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_mechanisms: Option<Vec<RecoveryOption>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NumberAttributeConstraints {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_value: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StringAttributeConstraints {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_length: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SchemaAttribute {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute_data_type: Option<AttributeDataType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub developer_only_attribute: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mutable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_attribute_constraints: Option<NumberAttributeConstraints>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub string_attribute_constraints: Option<StringAttributeConstraints>,
}

/// Everything of a pool that CreateUserPool takes and DescribeUserPool
/// returns, beyond its id, name, schema and dates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PoolSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policies: Option<Policies>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<DeletionProtection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lambda_config: Option<Object>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_verified_attributes: Option<Vec<VerifiedAttribute>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias_attributes: Option<Vec<AliasAttribute>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username_attributes: Option<Vec<UsernameAttribute>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_verification_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verification_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verification_subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_message_template: Option<VerificationMessageTemplate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_authentication_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_configuration: Option<MfaConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_attribute_update_settings: Option<Object>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_configuration: Option<Object>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_configuration: Option<EmailConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_configuration: Option<Object>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_pool_tags: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_create_user_config: Option<AdminCreateUserConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_pool_add_ons: Option<Object>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username_configuration: Option<UsernameConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_recovery_setting: Option<AccountRecoverySetting>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_pool_tier: Option<UserPoolTier>,
    /// The factors of SetUserPoolMfaConfig (not part of DescribeUserPool's
    /// answer; GetUserPoolMfaConfig returns them).
    #[serde(rename = "CirrusMfaFactors", skip_serializing_if = "Option::is_none")]
    pub mfa_factors: Option<MfaFactors>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MfaFactors {
    #[serde(rename = "SmsMfaConfiguration", skip_serializing_if = "Option::is_none")]
    pub sms: Option<Object>,
    #[serde(rename = "SoftwareTokenMfaConfiguration", skip_serializing_if = "Option::is_none")]
    pub software_token: Option<Object>,
    #[serde(rename = "EmailMfaConfiguration", skip_serializing_if = "Option::is_none")]
    pub email: Option<Object>,
}

impl MfaFactors {
    pub fn totp(&self) -> bool {
        self.software_token.as_ref().and_then(|o| o.get("Enabled")).and_then(|v| v.as_bool()) == Some(true)
    }
    pub fn sms(&self) -> bool {
        self.sms.is_some()
    }
    pub fn email(&self) -> bool {
        self.email.is_some()
    }
}

/// A stored user pool.
#[derive(Debug, Clone, PartialEq)]
pub struct UserPool {
    pub id: String,
    pub name: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub settings: PoolSettings,
    pub schema: Vec<SchemaAttribute>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TokenValidityUnits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<TimeUnit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<TimeUnit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<TimeUnit>,
}

/// Everything of an app client that CreateUserPoolClient takes and
/// DescribeUserPoolClient returns, beyond its ids, name, secret and dates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientSettings {
    #[serde(rename = "RefreshTokenValidity", skip_serializing_if = "Option::is_none")]
    pub refresh_token_validity: Option<i64>,
    #[serde(rename = "AccessTokenValidity", skip_serializing_if = "Option::is_none")]
    pub access_token_validity: Option<i64>,
    #[serde(rename = "IdTokenValidity", skip_serializing_if = "Option::is_none")]
    pub id_token_validity: Option<i64>,
    #[serde(rename = "TokenValidityUnits", skip_serializing_if = "Option::is_none")]
    pub token_validity_units: Option<TokenValidityUnits>,
    #[serde(rename = "ReadAttributes", skip_serializing_if = "Option::is_none")]
    pub read_attributes: Option<Vec<String>>,
    #[serde(rename = "WriteAttributes", skip_serializing_if = "Option::is_none")]
    pub write_attributes: Option<Vec<String>>,
    #[serde(rename = "ExplicitAuthFlows", skip_serializing_if = "Option::is_none")]
    pub explicit_auth_flows: Option<Vec<ExplicitAuthFlow>>,
    #[serde(rename = "SupportedIdentityProviders", skip_serializing_if = "Option::is_none")]
    pub supported_identity_providers: Option<Vec<String>>,
    #[serde(rename = "CallbackURLs", skip_serializing_if = "Option::is_none")]
    pub callback_urls: Option<Vec<String>>,
    #[serde(rename = "LogoutURLs", skip_serializing_if = "Option::is_none")]
    pub logout_urls: Option<Vec<String>>,
    #[serde(rename = "DefaultRedirectURI", skip_serializing_if = "Option::is_none")]
    pub default_redirect_uri: Option<String>,
    #[serde(rename = "AllowedOAuthFlows", skip_serializing_if = "Option::is_none")]
    pub allowed_oauth_flows: Option<Vec<OAuthFlow>>,
    #[serde(rename = "AllowedOAuthScopes", skip_serializing_if = "Option::is_none")]
    pub allowed_oauth_scopes: Option<Vec<String>>,
    #[serde(rename = "AllowedOAuthFlowsUserPoolClient", skip_serializing_if = "Option::is_none")]
    pub allowed_oauth_flows_user_pool_client: Option<bool>,
    #[serde(rename = "AnalyticsConfiguration", skip_serializing_if = "Option::is_none")]
    pub analytics_configuration: Option<Object>,
    #[serde(rename = "PreventUserExistenceErrors", skip_serializing_if = "Option::is_none")]
    pub prevent_user_existence_errors: Option<PreventUserExistenceErrors>,
    #[serde(rename = "EnableTokenRevocation", skip_serializing_if = "Option::is_none")]
    pub enable_token_revocation: Option<bool>,
    #[serde(rename = "EnablePropagateAdditionalUserContextData", skip_serializing_if = "Option::is_none")]
    pub enable_propagate_additional_user_context_data: Option<bool>,
    #[serde(rename = "AuthSessionValidity", skip_serializing_if = "Option::is_none")]
    pub auth_session_validity: Option<i64>,
    #[serde(rename = "RefreshTokenRotation", skip_serializing_if = "Option::is_none")]
    pub refresh_token_rotation: Option<Object>,
}

/// A stored app client; `secret_sealed` is the client secret sealed under
/// the master key with the client id as associated data.
#[derive(Debug, Clone, PartialEq)]
pub struct AppClient {
    pub client_id: String,
    pub pool_id: String,
    pub name: String,
    pub secret_sealed: Option<Vec<u8>>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub settings: ClientSettings,
}

wire_enum!(UserStatus {
    UNCONFIRMED,
    CONFIRMED,
    ARCHIVED,
    COMPROMISED,
    UNKNOWN,
    RESET_REQUIRED,
    FORCE_CHANGE_PASSWORD,
    EXTERNAL_PROVIDER,
});

impl UserStatus {
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(text.to_string())).ok()
    }
}

/// A user of a pool. `username_key` is the lookup key: the username, lower-
/// cased when the pool's usernames are case-insensitive.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub pool_id: String,
    pub username_key: String,
    pub username: String,
    pub sub: String,
    pub status: UserStatus,
    pub enabled: bool,
    /// Attribute name → value, as on the wire (all strings).
    pub attributes: BTreeMap<String, String>,
    /// PHC string (argon2id, parameters included).
    pub password_hash: Option<String>,
    pub password_set_ms: i64,
    pub failed_attempts: i64,
    pub locked_until_ms: i64,
    /// Tokens issued before this instant are refused (global sign-out).
    pub tokens_valid_after_ms: i64,
    /// Changed email/phone values waiting for verification; until then the
    /// old value stays in `attributes` and keeps working for sign-in.
    pub pending_attributes: BTreeMap<String, String>,
    /// SRP salt and verifier (hex), derived whenever the password is set.
    pub srp: Option<SrpVerifier>,
    pub mfa: UserMfa,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl User {
    /// A new user with no password yet, no failures, no MFA, created `now_ms`.
    pub fn fresh(
        pool_id: &str,
        username_key: String,
        username: String,
        sub: String,
        status: UserStatus,
        attributes: BTreeMap<String, String>,
        now_ms: i64,
    ) -> Self {
        Self {
            pool_id: pool_id.to_string(),
            username_key,
            username,
            sub,
            status,
            enabled: true,
            attributes,
            password_hash: None,
            password_set_ms: now_ms,
            failed_attempts: 0,
            locked_until_ms: 0,
            tokens_valid_after_ms: 0,
            pending_attributes: Default::default(),
            srp: None,
            mfa: Default::default(),
            created_ms: now_ms,
            updated_ms: now_ms,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrpVerifier {
    pub salt: String,
    pub verifier: String,
}

/// A user's second factors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserMfa {
    /// The TOTP secret, sealed under the master key (base64), once verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_secret: Option<String>,
    /// A secret handed out by AssociateSoftwareToken, not yet verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_pending: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_name: Option<String>,
    #[serde(default)]
    pub totp_enabled: bool,
    #[serde(default)]
    pub sms_enabled: bool,
    #[serde(default)]
    pub email_enabled: bool,
    /// `SOFTWARE_TOKEN_MFA`, `SMS_MFA` or `EMAIL_OTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred: Option<String>,
}

/// What a one-time code is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePurpose {
    SignUp,
    ForgotPassword,
    /// VerifyUserAttribute codes, one per attribute.
    VerifyEmail,
    VerifyPhone,
    /// A one-time code of a sign-in challenge (SMS_MFA, EMAIL_OTP, …).
    SignIn,
}

impl CodePurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignUp => "signup",
            Self::ForgotPassword => "forgot-password",
            Self::VerifyEmail => "verify-email",
            Self::VerifyPhone => "verify-phone",
            Self::SignIn => "sign-in",
        }
    }
}

/// A code sent to a user, kept as a keyed hash.
#[derive(Debug, Clone, PartialEq)]
pub struct OneTimeCode {
    pub pool_id: String,
    pub username_key: String,
    pub purpose: CodePurpose,
    pub code_hash: Vec<u8>,
    /// The attribute the code verifies (`email`, `phone_number`).
    pub attribute: Option<String>,
    pub expires_ms: i64,
    pub attempts: i64,
}

/// A refresh token, stored by the SHA-256 of its value.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshToken {
    pub token_hash: Vec<u8>,
    pub pool_id: String,
    pub client_id: String,
    pub username_key: String,
    pub origin_jti: String,
    pub auth_time: i64,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub revoked_ms: Option<i64>,
    /// The scopes of an OAuth grant (space-separated); `None` for a sign-in
    /// through the API, whose tokens carry the admin scope.
    pub scopes: Option<String>,
}

/// A pool's RSA signing key, the private half sealed under the master key.
#[derive(Debug, Clone, PartialEq)]
pub struct SigningKey {
    pub kid: String,
    pub pool_id: String,
    pub private_key_sealed: Vec<u8>,
    /// The JWK of the public half, as JSON text.
    pub public_jwk: String,
    pub created_ms: i64,
    pub retired_ms: Option<i64>,
}

/// Attributes ListUsers can filter on, beside `username`, `status` and
/// `cognito:user_status`.
pub const SEARCHABLE_ATTRIBUTES: &[&str] =
    &["email", "phone_number", "name", "given_name", "family_name", "preferred_username", "sub"];

/// How a value is kept in the search index (and a filter value compared):
/// emails and statuses ignore case.
pub fn search_value(attribute: &str, value: &str) -> String {
    match attribute {
        "email" | "cognito:user_status" | "status" => value.to_lowercase(),
        _ => value.to_string(),
    }
}

impl User {
    /// `(attribute, value)` rows of the search index for this user.
    pub fn search_rows(&self) -> Vec<(&'static str, String)> {
        let mut rows = vec![
            ("username", self.username_key.clone()),
            ("cognito:user_status", search_value("cognito:user_status", self.status.as_str())),
            ("status", if self.enabled { "enabled".to_string() } else { "disabled".to_string() }),
        ];
        for attr in SEARCHABLE_ATTRIBUTES {
            if let Some(v) = self.attributes.get(*attr) {
                rows.push((attr, search_value(attr, v)));
            }
        }
        rows
    }
}

/// A user-pool group.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub pool_id: String,
    pub name: String,
    pub description: Option<String>,
    pub role_arn: Option<String>,
    pub precedence: Option<i64>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A recorded sign-in attempt (AdminListUserAuthEvents).
#[derive(Debug, Clone, PartialEq)]
pub struct AuthEvent {
    pub event_id: String,
    pub pool_id: String,
    pub username_key: String,
    pub created_ms: i64,
    pub event_type: String,
    /// `Pass` or `Fail`.
    pub response: String,
    pub client_id: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// A ListUsers filter, already normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFilter {
    pub attribute: String,
    pub value: String,
    pub prefix: bool,
}

/// A row of an import that did not become a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportFailure {
    pub line: u64,
    pub reason: String,
}

/// A bulk import job; the CSV itself is stored beside it until processed.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportJob {
    pub job_id: String,
    pub pool_id: String,
    pub job_name: String,
    /// `Created`, `Pending`, `InProgress`, `Stopping`, `Stopped`,
    /// `Failed`, `Succeeded`.
    pub status: String,
    pub upload_token_hash: Vec<u8>,
    pub role_arn: Option<String>,
    pub created_ms: i64,
    pub started_ms: Option<i64>,
    pub completed_ms: Option<i64>,
    pub imported: i64,
    pub skipped: i64,
    pub failed: i64,
    pub completion_message: Option<String>,
    pub failures: Vec<ImportFailure>,
}

/// An OAuth resource server: its scopes are `<identifier>/<name>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceServer {
    pub pool_id: String,
    pub identifier: String,
    pub name: String,
    pub scopes: Vec<ResourceServerScope>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceServerScope {
    pub scope_name: String,
    pub scope_description: String,
}

/// What an authorization code stands for, fixed when the code is issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeGrant {
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    /// PKCE: the S256 challenge the verifier must match.
    pub code_challenge: Option<String>,
    pub auth_time: i64,
}

/// An OAuth 2.0 authorization code, stored by the SHA-256 of its value.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizationCode {
    pub code_hash: Vec<u8>,
    pub pool_id: String,
    pub client_id: String,
    pub username_key: String,
    /// The sign-in the code's tokens will belong to (their `origin_jti`).
    pub origin_jti: String,
    pub grant: CodeGrant,
    pub expires_ms: i64,
    pub used_ms: Option<i64>,
}

/// The outcome of presenting an authorization code.
#[derive(Debug, Clone, PartialEq)]
pub enum CodeUse {
    /// First use: the code is now spent.
    Fresh(AuthorizationCode),
    /// The code was spent before: a replay.
    Replayed(AuthorizationCode),
    Unknown,
}

/// A hosted-UI sign-in session; the browser's cookie holds the id.
#[derive(Debug, Clone, PartialEq)]
pub struct UiSession {
    pub id_hash: Vec<u8>,
    pub pool_id: String,
    pub username_key: String,
    pub auth_time: i64,
    pub expires_ms: i64,
    /// `COGNITO` or the identity provider the sign-in went through.
    pub provider: String,
}

/// A host name serving a pool's OAuth endpoints and hosted UI: a prefix
/// (`<prefix>.<any host>`) or, with a custom domain configuration, a full
/// host name.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolDomain {
    pub domain: String,
    pub pool_id: String,
    pub custom_config: Option<serde_json::Value>,
    pub login_version: i64,
    pub created_ms: i64,
}

/// Hosted-UI branding of one app client, or of the pool (`client_id` "ALL").
#[derive(Debug, Clone, PartialEq)]
pub struct UiCustomization {
    pub pool_id: String,
    pub client_id: String,
    pub css: Option<String>,
    pub image: Option<Vec<u8>>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// An external identity provider of a pool (OIDC, SAML or a social one).
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityProvider {
    pub pool_id: String,
    pub name: String,
    pub provider_type: String,
    /// ProviderDetails as given (secrets included), sealed at rest.
    pub details: BTreeMap<String, String>,
    /// Pool attribute → provider claim.
    pub attribute_mapping: BTreeMap<String, String>,
    pub idp_identifiers: Vec<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A provider's subject linked to a native user (AdminLinkProviderForUser).
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderLink {
    pub pool_id: String,
    pub provider_name: String,
    pub provider_subject: String,
    pub username_key: String,
    pub created_ms: i64,
}

/// An identity provider as stored: its details sealed.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderRecord {
    pub pool_id: String,
    pub name: String,
    pub provider_type: String,
    pub details_sealed: Vec<u8>,
    pub attribute_mapping: BTreeMap<String, String>,
    pub idp_identifiers: Vec<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}
