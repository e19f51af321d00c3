//! The broker's stored values, in the wire's own member names so that a
//! Describe answers with what a Create stored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An identity pool's settings, roles and role mappings (everything but
/// its id).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct IdentityPoolConfig {
    pub identity_pool_name: String,
    pub allow_unauthenticated_identities: bool,
    #[serde(default)]
    pub allow_classic_flow: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub supported_login_providers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub developer_provider_name: Option<String>,
    #[serde(default, rename = "OpenIdConnectProviderARNs", skip_serializing_if = "Vec::is_empty")]
    pub open_id_connect_provider_arns: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cognito_identity_providers: Vec<CognitoIdentityProvider>,
    #[serde(default, rename = "SamlProviderARNs", skip_serializing_if = "Vec::is_empty")]
    pub saml_provider_arns: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub identity_pool_tags: BTreeMap<String, String>,
    /// `authenticated` / `unauthenticated` → role ARN.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub roles: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub role_mappings: BTreeMap<String, RoleMapping>,
    /// Login key → principal tag map.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub principal_tags: BTreeMap<String, PrincipalTagMap>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct CognitoIdentityProvider {
    pub provider_name: String,
    pub client_id: String,
    #[serde(default)]
    pub server_side_token_check: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RoleMapping {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ambiguous_role_resolution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_configuration: Option<RulesConfiguration>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RulesConfiguration {
    pub rules: Vec<MappingRule>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct MappingRule {
    pub claim: String,
    pub match_type: String,
    pub value: String,
    #[serde(rename = "RoleARN")]
    pub role_arn: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct PrincipalTagMap {
    pub use_defaults: bool,
    #[serde(default)]
    pub principal_tags: BTreeMap<String, String>,
}

/// An IAM role.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Role {
    pub name: String,
    pub path: String,
    pub role_id: String,
    pub arn: String,
    pub created_ms: i64,
    pub trust_policy: String,
    #[serde(default)]
    pub description: Option<String>,
    pub max_session_duration: i64,
    /// Inline policies: name → document.
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    /// Attached managed policy ARNs.
    #[serde(default)]
    pub attached: Vec<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// An IAM customer-managed policy (one version, the default).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManagedPolicy {
    pub name: String,
    pub path: String,
    pub policy_id: String,
    pub arn: String,
    pub document: String,
    #[serde(default)]
    pub description: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A SAML identity provider registered with IAM (its metadata).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SamlProvider {
    pub arn: String,
    pub name: String,
    pub metadata: String,
    pub created_ms: i64,
}

/// An OpenID Connect provider registered with IAM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcProvider {
    pub arn: String,
    /// The issuer URL as registered (`https://host/path`).
    pub url: String,
    pub client_ids: Vec<String>,
    pub thumbprints: Vec<String>,
    pub created_ms: i64,
}

impl OidcProvider {
    /// The issuer without its scheme: the provider's `Logins` key and
    /// condition-key prefix.
    pub fn key(&self) -> &str {
        issuer_key(&self.url)
    }
}

/// `https://host/path` → `host/path`.
pub fn issuer_key(url: &str) -> &str {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).unwrap_or(url);
    rest.trim_end_matches('/')
}
