//! STS on the Query protocol: `AssumeRoleWithWebIdentity` (public: the
//! web-identity token is the credential) and `GetCallerIdentity` (signed,
//! by the admin key or by temporary credentials).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use awsapi::query::{QueryParams, XmlBuilder};
use awsapi::{Access, AwsError, Principal, QueryService, RequestContext};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use serde_json::Value;

use crate::credentials::ContextValue;
use crate::identity::COGNITO_IDENTITY;
use crate::model::issuer_key;
use crate::providers::{Claims, TokenFailure};
use crate::session::{MintError, WebIdentity, rfc3339};
use crate::store::DocKind;
use crate::{Broker, internal, store_error};

pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

const ACTIONS: &[(&str, Access)] =
    &[("GetCallerIdentity", Access::Signed), ("AssumeRoleWithWebIdentity", Access::Public)];

/// STS (`sts`, version 2011-06-15).
pub struct StsApi {
    broker: Option<Arc<Broker>>,
}

impl StsApi {
    pub fn new(broker: Arc<Broker>) -> Self {
        Self { broker: Some(broker) }
    }

    /// STS with `GetCallerIdentity` only.
    pub fn caller_identity_only() -> Self {
        Self { broker: None }
    }
}

fn sts_error(code: &'static str, message: impl Into<String>) -> AwsError {
    AwsError::new(code, message)
}

fn validation(message: impl Into<String>) -> AwsError {
    sts_error("ValidationError", message)
}

fn token_error(f: TokenFailure) -> AwsError {
    match f {
        TokenFailure::Expired => sts_error("ExpiredTokenException", "Token is expired"),
        TokenFailure::Invalid(reason) => {
            tracing::debug!(reason = %reason, "web identity token refused");
            sts_error("InvalidIdentityToken", "The web identity token could not be verified.")
        }
        TokenFailure::Unreachable(reason) => {
            tracing::warn!(reason = %reason, "identity provider unreachable");
            sts_error("IDPCommunicationError", "The identity provider could not be reached.")
        }
    }
}

/// The payload of a JWT, unverified: only to find out who should verify it.
fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Claims = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_string)
}

fn claim_values(claims: &Claims, name: &str) -> Option<ContextValue> {
    match claims.get(name)? {
        Value::String(s) => Some(ContextValue::One(s.clone())),
        Value::Array(a) => {
            Some(ContextValue::Many(a.iter().filter_map(Value::as_str).map(str::to_string).collect()))
        }
        Value::Number(n) => Some(ContextValue::One(n.to_string())),
        Value::Bool(b) => Some(ContextValue::One(b.to_string())),
        _ => None,
    }
}

fn first(v: &Option<ContextValue>) -> String {
    match v {
        Some(ContextValue::One(s)) => s.clone(),
        Some(ContextValue::Many(l)) => l.first().cloned().unwrap_or_default(),
        None => String::new(),
    }
}

impl Broker {
    async fn assume_role_with_web_identity(&self, p: &QueryParams) -> Result<String, AwsError> {
        let role_arn = p.required("RoleArn")?;
        let session_name = p.required("RoleSessionName")?;
        let token = p.required("WebIdentityToken")?;
        if !(20..=2048).contains(&role_arn.len()) {
            return Err(validation("RoleArn must be 20 to 2048 characters."));
        }
        if !(2..=64).contains(&session_name.len())
            || !session_name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
        {
            return Err(validation(format!(
                "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy \
                 constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and length 2 to 64"
            )));
        }
        if !(4..=20000).contains(&token.len()) {
            return Err(validation("WebIdentityToken must be 4 to 20000 characters."));
        }
        let duration =
            match p.get("DurationSeconds") {
                None => 3600,
                Some(v) => v.parse::<i64>().ok().filter(|d| (900..=43200).contains(d)).ok_or_else(|| {
                    validation(format!("DurationSeconds {v} must be between 900 and 43200."))
                })?,
            };
        // Session policies: inline and managed, together at most 2048 characters.
        let mut session: Vec<String> = Vec::new();
        if let Some(doc) = p.get("Policy") {
            session.push(doc.to_string());
        }
        for i in 1..=11 {
            let Some(arn) = p.get(&format!("PolicyArns.member.{i}.arn")) else {
                break;
            };
            if i > 10 {
                return Err(validation("PolicyArns may name at most 10 policies."));
            }
            let policy = self
                .managed_policy(arn)
                .await?
                .ok_or_else(|| validation(format!("The policy {arn} does not exist.")))?;
            session.push(policy.document);
        }
        let packed: usize = session.iter().map(|d| crate::session::compact(d).len()).sum();
        if packed > 2048 {
            return Err(sts_error(
                "PackedPolicyTooLarge",
                format!("The session policies take {packed} characters, beyond the 2048 allowed."),
            ));
        }

        let issuer = unverified_issuer(token).ok_or_else(|| {
            sts_error("InvalidIdentityToken", "The web identity token is not a JWT with an issuer.")
        })?;
        let (who, claims) = if issuer == self.issuer() {
            let claims = self.verify_broker_token(token, "").await.map_err(token_error)?;
            let pool_id = claims.get("aud").and_then(Value::as_str).unwrap_or_default().to_string();
            let pool = self.store.get_pool(&pool_id).await.map_err(store_error)?;
            let classic = pool
                .and_then(|row| serde_json::from_str::<crate::model::IdentityPoolConfig>(&row.config).ok())
                .is_some_and(|c| c.allow_classic_flow);
            if !classic {
                return Err(sts_error(
                    "InvalidIdentityToken",
                    "Basic (classic) flow is not enabled for this identity pool; use the enhanced flow.",
                ));
            }
            let mut keys = BTreeMap::new();
            for name in ["aud", "sub", "amr"] {
                if let Some(v) = claim_values(&claims, name) {
                    keys.insert(format!("{COGNITO_IDENTITY}:{name}"), v);
                }
            }
            let mut tags = BTreeMap::new();
            if let Some(Value::Object(map)) =
                claims.get("https://aws.amazon.com/tags").and_then(|t| t.get("principal_tags"))
            {
                for (k, v) in map {
                    if let Some(value) = v.as_array().and_then(|a| a.first()).and_then(Value::as_str) {
                        tags.insert(k.clone(), value.to_string());
                    }
                }
            }
            (WebIdentity { provider: COGNITO_IDENTITY.to_string(), keys, tags }, claims)
        } else {
            let arn =
                format!("arn:aws:iam::{}:oidc-provider/{}", self.settings.account_id, issuer_key(&issuer));
            let provider = match self.store.get_doc(DocKind::OidcProvider, &arn).await.map_err(store_error)? {
                Some(doc) => serde_json::from_str::<crate::model::OidcProvider>(&doc)
                    .map_err(|e| internal("oidc provider", e))?,
                None => {
                    return Err(sts_error(
                        "InvalidIdentityToken",
                        format!("No OpenIDConnect provider found in your account for {issuer}"),
                    ));
                }
            };
            // A user pool of this server is read in process (its issuer
            // publishes no discovery document); any other issuer by discovery.
            let own_pool = issuer
                .strip_prefix(&format!("{}/", self.settings.public_url))
                .filter(|p| !p.is_empty() && !p.contains('/'));
            let claims = match own_pool {
                Some(pool_id) => self.tokens.verify_user_pool(pool_id, token, &provider.client_ids).await,
                None => self.tokens.verify_oidc(&provider.url, token, &provider.client_ids).await,
            }
            .map_err(token_error)?;
            let mut keys = BTreeMap::new();
            let prefix = provider.key().to_string();
            for name in ["aud", "sub", "azp", "amr"] {
                if let Some(v) = claim_values(&claims, name) {
                    keys.insert(format!("{prefix}:{name}"), v);
                }
            }
            (WebIdentity { provider: provider.arn.clone(), keys, tags: BTreeMap::new() }, claims)
        };

        let role = self.role_by_arn(role_arn).await?.ok_or_else(|| {
            sts_error("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
                .with_status(StatusCode::FORBIDDEN)
        })?;
        if duration > role.max_session_duration {
            return Err(validation(format!(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role ({}).",
                role.max_session_duration
            )));
        }
        let session_policies = (!session.is_empty()).then_some(session);
        let minted = self.mint(&role, session_name, &who, session_policies, duration).await.map_err(|e| match e {
            MintError::Trust(reason) => {
                tracing::debug!(role = %role.arn, reason = %reason, "trust policy refused a web identity");
                sts_error("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
                    .with_status(StatusCode::FORBIDDEN)
            }
            MintError::Malformed(m) => sts_error("MalformedPolicyDocument", m),
            MintError::Wire(e) => e,
        })?;
        let c = &minted.credentials;
        let sub = first(&claim_values(&claims, "sub"));
        let aud = first(&claim_values(&claims, "aud"));
        let mut x = XmlBuilder::new();
        x.element("Credentials", |x| {
            x.text("AccessKeyId", &c.access_key_id)
                .text("SecretAccessKey", &c.secret_access_key)
                .text("SessionToken", &c.session_token)
                .text("Expiration", &rfc3339(c.expiration));
        })
        .text("SubjectFromWebIdentityToken", &sub)
        .element("AssumedRoleUser", |x| {
            x.text("AssumedRoleId", &minted.assumed_role_id).text("Arn", &minted.assumed_role_arn);
        })
        .text("Provider", &issuer)
        .text("Audience", &aud);
        if packed > 0 {
            x.text("PackedPolicySize", &((packed * 100).div_ceil(2048)).to_string());
        }
        Ok(x.finish())
    }
}

#[async_trait]
impl QueryService for StsApi {
    fn signing_name(&self) -> &'static str {
        "sts"
    }

    fn xml_namespace(&self) -> &'static str {
        STS_NAMESPACE
    }

    fn access(&self, action: &str) -> Option<Access> {
        let access = ACTIONS.iter().find(|(a, _)| *a == action).map(|(_, access)| *access)?;
        (self.broker.is_some() || access == Access::Signed).then_some(access)
    }

    /// Anyone may ask who they are.
    fn unrestricted(&self, action: &str) -> bool {
        action == "GetCallerIdentity"
    }

    async fn call_public(
        &self,
        action: &str,
        params: &QueryParams,
        _: &RequestContext,
    ) -> Result<String, AwsError> {
        match (action, &self.broker) {
            ("AssumeRoleWithWebIdentity", Some(b)) => b.assume_role_with_web_identity(params).await,
            _ => Err(invalid_action(action)),
        }
    }

    async fn call_signed(
        &self,
        action: &str,
        caller: &Principal,
        _params: &QueryParams,
        _ctx: &RequestContext,
    ) -> Result<String, AwsError> {
        match action {
            "GetCallerIdentity" => {
                let mut xml = XmlBuilder::new();
                xml.text("Arn", caller.arn())
                    .text("UserId", caller.user_id())
                    .text("Account", caller.account_id());
                Ok(xml.finish())
            }
            other => Err(invalid_action(other)),
        }
    }
}

fn invalid_action(action: &str) -> AwsError {
    AwsError::new("InvalidAction", format!("Could not find operation {action} for version 2011-06-15"))
}
