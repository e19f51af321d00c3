//! Minting a role session for a web identity: the role's trust policy must
//! allow the federated principal (and `sts:TagSession` when tags come
//! along); the credentials then carry the role's permission policies, any
//! session policies, and the context keys policies refer to.

use std::collections::BTreeMap;

use awsapi::AwsError;

use crate::credentials::{ContextValue, SessionClaims, TemporaryCredentials};
use crate::model::{ManagedPolicy, Role};
use crate::policy::{self, Context, Decision, Policy, PolicyKind, Request};
use crate::store::DocKind;
use crate::{Broker, internal, store_error};

/// Who asks for a session, and what their web identity says.
pub struct WebIdentity {
    /// The federated principal: `cognito-identity.amazonaws.com`, or an
    /// OIDC provider's ARN.
    pub provider: String,
    /// Condition keys of the token (`<provider>:aud`, `:sub`, `:amr`, …).
    pub keys: BTreeMap<String, ContextValue>,
    /// Principal (session) tags.
    pub tags: BTreeMap<String, String>,
}

/// Why no session was made.
#[derive(Debug)]
pub enum MintError {
    /// The trust policy does not allow this identity.
    Trust(String),
    /// A session policy is not a valid policy document.
    Malformed(String),
    Wire(AwsError),
}

impl From<AwsError> for MintError {
    fn from(e: AwsError) -> Self {
        Self::Wire(e)
    }
}

/// A minted session.
pub struct Minted {
    pub credentials: TemporaryCredentials,
    pub assumed_role_id: String,
    pub assumed_role_arn: String,
}

impl WebIdentity {
    fn context(&self) -> Context {
        let mut ctx = Context::new();
        for (k, v) in &self.keys {
            match v {
                ContextValue::One(s) => ctx.insert(k, s.clone()),
                ContextValue::Many(list) => ctx.insert_multi(k, list.clone()),
            }
        }
        for (k, v) in &self.tags {
            ctx.insert(&format!("aws:RequestTag/{k}"), v.clone());
        }
        if !self.tags.is_empty() {
            ctx.insert_multi("aws:TagKeys", self.tags.keys().cloned().collect());
        }
        ctx.insert("aws:FederatedProvider", self.provider.clone());
        ctx
    }
}

impl Broker {
    /// Whether `role`'s trust policy lets `who` assume it by web identity.
    pub fn trusts(&self, role: &Role, who: &WebIdentity) -> Result<(), MintError> {
        let trust = Policy::parse(&role.trust_policy, PolicyKind::Trust)
            .map_err(|e| MintError::Trust(format!("the role's trust policy is invalid: {e}")))?;
        let ctx = who.context();
        let mut actions = vec!["sts:AssumeRoleWithWebIdentity"];
        if !who.tags.is_empty() {
            actions.push("sts:TagSession");
        }
        for action in actions {
            let request = Request {
                action,
                resource: &role.arn,
                principal: Some(("Federated", &who.provider)),
                context: &ctx,
            };
            if policy::decide(std::slice::from_ref(&trust), None, &request) != Decision::Allow {
                return Err(MintError::Trust(format!("Not authorized to perform {action}")));
            }
        }
        Ok(())
    }

    /// The role's permission policies, compact JSON: inline, then attached.
    pub async fn role_policies(&self, role: &Role) -> Result<Vec<String>, AwsError> {
        let mut out = Vec::new();
        for doc in role.inline.values() {
            out.push(compact(doc));
        }
        for arn in &role.attached {
            if let Some(policy) = self.managed_policy(arn).await? {
                out.push(compact(&policy.document));
            }
        }
        Ok(out)
    }

    pub async fn managed_policy(&self, arn: &str) -> Result<Option<ManagedPolicy>, AwsError> {
        let Some(doc) = self.store.get_doc(DocKind::Policy, arn).await.map_err(store_error)? else {
            return Ok(None);
        };
        serde_json::from_str(&doc).map(Some).map_err(|e| internal("policy document", e))
    }

    /// Checks trust and makes credentials for `duration` seconds.
    pub async fn mint(
        &self,
        role: &Role,
        session_name: &str,
        who: &WebIdentity,
        session_policies: Option<Vec<String>>,
        duration: i64,
    ) -> Result<Minted, MintError> {
        self.trusts(role, who)?;
        if let Some(list) = &session_policies {
            for doc in list {
                Policy::parse(doc, PolicyKind::Identity).map_err(|e| MintError::Malformed(e.to_string()))?;
            }
        }
        let now = self.now().unix_timestamp();
        let account = self.settings.account_id.clone();
        let assumed_role_id = format!("{}:{session_name}", role.role_id);
        let assumed_role_arn = format!("arn:aws:sts::{account}:assumed-role/{}/{session_name}", role.name);
        let mut context = who.keys.clone();
        for (k, v) in &who.tags {
            context.insert(format!("aws:PrincipalTag/{k}"), ContextValue::One(v.clone()));
        }
        let one = |s: &str| ContextValue::One(s.to_string());
        context.insert("aws:userid".into(), one(&assumed_role_id));
        context.insert("aws:PrincipalArn".into(), one(&role.arn));
        context.insert("aws:PrincipalAccount".into(), one(&account));
        context.insert("aws:PrincipalType".into(), one("AssumedRole"));
        context.insert("aws:FederatedProvider".into(), one(&who.provider));
        context.insert("aws:TokenIssueTime".into(), one(&rfc3339(now)));
        let claims = SessionClaims {
            akid: String::new(),
            arn: assumed_role_arn.clone(),
            user_id: assumed_role_id.clone(),
            account,
            role_arn: role.arn.clone(),
            iat: now,
            exp: now + duration,
            policies: self.role_policies(role).await?,
            session_policies: session_policies.map(|l| l.iter().map(|d| compact(d)).collect()),
            context,
        };
        let credentials = self.session_keys.issue(claims).map_err(|e| internal("sealing a session", e))?;
        Ok(Minted { credentials, assumed_role_id, assumed_role_arn })
    }
}

/// A policy document without insignificant whitespace (documents were
/// validated on write; one that does not parse is kept as is).
pub fn compact(doc: &str) -> String {
    serde_json::from_str::<serde_json::Value>(doc).map(|v| v.to_string()).unwrap_or_else(|_| doc.to_string())
}

pub fn rfc3339(epoch_seconds: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(epoch_seconds)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}
