//! An IAM subset on the Query protocol, so the boto3 `iam` client manages
//! what identity pools and STS need: roles with trust policies, inline and
//! customer-managed permission policies, and OpenID Connect providers.
//! Policy documents are validated on write; responses carry them
//! URL-encoded, as IAM does (botocore decodes them).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use awsapi::query::{QueryParams, XmlBuilder};
use awsapi::{Access, AwsError, Principal, QueryService, RequestContext};
use http::StatusCode;

use crate::model::{ManagedPolicy, OidcProvider, Role, SamlProvider, issuer_key};
use crate::policy::{Policy, PolicyKind};
use crate::session::rfc3339;
use crate::store::{DocKind, StoreError};
use crate::{Broker, internal, store_error};

pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

const ACTIONS: &[&str] = &[
    "CreateRole",
    "GetRole",
    "UpdateAssumeRolePolicy",
    "UpdateRole",
    "DeleteRole",
    "ListRoles",
    "PutRolePolicy",
    "GetRolePolicy",
    "DeleteRolePolicy",
    "ListRolePolicies",
    "CreatePolicy",
    "GetPolicy",
    "GetPolicyVersion",
    "DeletePolicy",
    "ListPolicies",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "ListAttachedRolePolicies",
    "CreateOpenIDConnectProvider",
    "GetOpenIDConnectProvider",
    "DeleteOpenIDConnectProvider",
    "ListOpenIDConnectProviders",
    "CreateSAMLProvider",
    "GetSAMLProvider",
    "DeleteSAMLProvider",
    "ListSAMLProviders",
];

/// IAM (`iam`, version 2010-05-08).
pub struct IamApi {
    broker: Arc<Broker>,
}

impl IamApi {
    pub fn new(broker: Arc<Broker>) -> Self {
        Self { broker }
    }
}

fn no_such_entity(message: String) -> AwsError {
    AwsError::new("NoSuchEntity", message).with_status(StatusCode::NOT_FOUND)
}

fn already_exists(message: String) -> AwsError {
    AwsError::new("EntityAlreadyExists", message).with_status(StatusCode::CONFLICT)
}

fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new("ValidationError", message)
}

fn malformed(e: impl std::fmt::Display) -> AwsError {
    AwsError::new("MalformedPolicyDocument", e.to_string())
}

fn check_name(member: &str, value: &str, max: usize) -> Result<(), AwsError> {
    let ok = !value.is_empty()
        && value.chars().count() <= max
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [\\w+=,.@-]+ and have length 1 to {max}"
        )))
    }
}

fn check_path(path: &str) -> Result<(), AwsError> {
    if path.starts_with('/') && path.ends_with('/') && path.len() <= 512 {
        Ok(())
    } else {
        Err(validation(
            "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.",
        ))
    }
}

fn encode(doc: &str) -> String {
    percent_encoding::utf8_percent_encode(doc, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn date(ms: i64) -> String {
    rfc3339(ms / 1000)
}

fn iam_id(prefix: &str) -> String {
    format!("{prefix}{}", secrets::random_string(17, secrets::UPPER_ALNUM))
}

fn role_xml(x: &mut XmlBuilder, r: &Role) {
    x.text("Path", &r.path)
        .text("RoleName", &r.name)
        .text("RoleId", &r.role_id)
        .text("Arn", &r.arn)
        .text("CreateDate", &date(r.created_ms))
        .text("AssumeRolePolicyDocument", &encode(&r.trust_policy))
        .text("MaxSessionDuration", &r.max_session_duration.to_string());
    if let Some(d) = &r.description {
        x.text("Description", d);
    }
}

fn policy_xml(x: &mut XmlBuilder, p: &ManagedPolicy, attachments: usize) {
    x.text("PolicyName", &p.name)
        .text("PolicyId", &p.policy_id)
        .text("Arn", &p.arn)
        .text("Path", &p.path)
        .text("DefaultVersionId", "v1")
        .text("AttachmentCount", &attachments.to_string())
        .text("IsAttachable", "true")
        .text("CreateDate", &date(p.created_ms))
        .text("UpdateDate", &date(p.updated_ms));
    if let Some(d) = &p.description {
        x.text("Description", d);
    }
}

/// `IsTruncated` / `Marker` of a page of `limit` taken from `limit + 1` rows.
fn page<T>(mut rows: Vec<(String, T)>, limit: usize, x: &mut XmlBuilder) -> Vec<T> {
    let truncated = rows.len() > limit;
    rows.truncate(limit);
    x.text("IsTruncated", if truncated { "true" } else { "false" });
    if truncated && let Some((key, _)) = rows.last() {
        x.text("Marker", key);
    }
    rows.into_iter().map(|(_, v)| v).collect()
}

fn max_items(params: &QueryParams) -> Result<usize, AwsError> {
    match params.get("MaxItems") {
        None => Ok(100),
        Some(v) => v.parse::<usize>().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
            validation(format!("Value '{v}' at 'maxItems' failed to satisfy constraint: between 1 and 1000"))
        }),
    }
}

impl Broker {
    async fn load_role(&self, name: &str) -> Result<Role, AwsError> {
        check_name("roleName", name, 64)?;
        let doc = self
            .store
            .get_doc(DocKind::Role, name)
            .await
            .map_err(store_error)?
            .ok_or_else(|| no_such_entity(format!("The role with name {name} cannot be found.")))?;
        serde_json::from_str(&doc).map_err(|e| internal("role document", e))
    }

    async fn save_role(&self, role: &Role, create: bool) -> Result<(), AwsError> {
        let doc = serde_json::to_string(role).map_err(|e| internal("role document", e))?;
        match self.store.put_doc(DocKind::Role, &role.name, &doc, create, self.now_ms()).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(no_such_entity(format!("The role with name {} cannot be found.", role.name))),
            Err(StoreError::Conflict) => {
                Err(already_exists(format!("Role with name {} already exists.", role.name)))
            }
            Err(e) => Err(store_error(e)),
        }
    }

    async fn load_policy(&self, arn: &str) -> Result<ManagedPolicy, AwsError> {
        self.managed_policy(arn).await?.ok_or_else(|| no_such_entity(format!("Policy {arn} was not found.")))
    }

    async fn all_roles(&self) -> Result<Vec<Role>, AwsError> {
        let mut out = Vec::new();
        let mut after = String::new();
        loop {
            let rows = self.store.list_docs(DocKind::Role, &after, 500).await.map_err(store_error)?;
            let n = rows.len();
            for (key, doc) in rows {
                out.push(serde_json::from_str(&doc).map_err(|e| internal("role document", e))?);
                after = key;
            }
            if n < 500 {
                return Ok(out);
            }
        }
    }

    async fn attachment_count(&self, arn: &str) -> Result<usize, AwsError> {
        Ok(self.all_roles().await?.iter().filter(|r| r.attached.iter().any(|a| a == arn)).count())
    }

    async fn iam(&self, action: &str, p: &QueryParams) -> Result<String, AwsError> {
        let account = &self.settings.account_id;
        let mut x = XmlBuilder::new();
        match action {
            "CreateRole" => {
                let name = p.required("RoleName")?;
                check_name("roleName", name, 64)?;
                let path = p.get("Path").unwrap_or("/");
                check_path(path)?;
                let trust = p.required("AssumeRolePolicyDocument")?;
                Policy::parse(trust, PolicyKind::Trust).map_err(malformed)?;
                let max = match p.get("MaxSessionDuration") {
                    None => 3600,
                    Some(v) => {
                        v.parse::<i64>().ok().filter(|n| (3600..=43200).contains(n)).ok_or_else(|| {
                            validation("MaxSessionDuration must be between 3600 and 43200 seconds.")
                        })?
                    }
                };
                let mut tags = BTreeMap::new();
                for i in 1.. {
                    let (Some(k), Some(v)) =
                        (p.get(&format!("Tags.member.{i}.Key")), p.get(&format!("Tags.member.{i}.Value")))
                    else {
                        break;
                    };
                    tags.insert(k.to_string(), v.to_string());
                }
                let role = Role {
                    name: name.to_string(),
                    path: path.to_string(),
                    role_id: iam_id("AROA"),
                    arn: format!("arn:aws:iam::{account}:role{path}{name}"),
                    created_ms: self.now_ms(),
                    trust_policy: trust.to_string(),
                    description: p.get("Description").map(str::to_string),
                    max_session_duration: max,
                    inline: BTreeMap::new(),
                    attached: Vec::new(),
                    tags,
                };
                self.save_role(&role, true).await?;
                x.element("Role", |x| role_xml(x, &role));
            }
            "GetRole" => {
                let role = self.load_role(p.required("RoleName")?).await?;
                x.element("Role", |x| role_xml(x, &role));
            }
            "UpdateAssumeRolePolicy" => {
                let mut role = self.load_role(p.required("RoleName")?).await?;
                let doc = p.required("PolicyDocument")?;
                Policy::parse(doc, PolicyKind::Trust).map_err(malformed)?;
                role.trust_policy = doc.to_string();
                self.save_role(&role, false).await?;
            }
            "UpdateRole" => {
                let mut role = self.load_role(p.required("RoleName")?).await?;
                if let Some(d) = p.get("Description") {
                    role.description = Some(d.to_string());
                }
                if let Some(v) = p.get("MaxSessionDuration") {
                    role.max_session_duration =
                        v.parse::<i64>().ok().filter(|n| (3600..=43200).contains(n)).ok_or_else(|| {
                            validation("MaxSessionDuration must be between 3600 and 43200 seconds.")
                        })?;
                }
                self.save_role(&role, false).await?;
            }
            "DeleteRole" => {
                let role = self.load_role(p.required("RoleName")?).await?;
                if !role.inline.is_empty() || !role.attached.is_empty() {
                    return Err(AwsError::new(
                        "DeleteConflict",
                        "Cannot delete entity, must delete policies first.",
                    )
                    .with_status(StatusCode::CONFLICT));
                }
                self.store.delete_doc(DocKind::Role, &role.name).await.map_err(store_error)?;
            }
            "ListRoles" => {
                let limit = max_items(p)?;
                let prefix = p.get("PathPrefix").unwrap_or("/");
                let after = p.get("Marker").unwrap_or("");
                let rows = self
                    .store
                    .list_docs(DocKind::Role, after, limit as i64 + 1)
                    .await
                    .map_err(store_error)?;
                let mut roles = Vec::new();
                for (k, doc) in rows {
                    let role: Role = serde_json::from_str(&doc).map_err(|e| internal("role document", e))?;
                    if role.path.starts_with(prefix) {
                        roles.push((k, role));
                    }
                }
                let mut tail = XmlBuilder::new();
                let roles = page(roles, limit, &mut tail);
                x.element("Roles", |x| {
                    for r in &roles {
                        x.element("member", |x| role_xml(x, r));
                    }
                });
                return Ok(x.finish() + &tail.finish());
            }
            "PutRolePolicy" => {
                let mut role = self.load_role(p.required("RoleName")?).await?;
                let name = p.required("PolicyName")?;
                check_name("policyName", name, 128)?;
                let doc = p.required("PolicyDocument")?;
                Policy::parse(doc, PolicyKind::Identity).map_err(malformed)?;
                role.inline.insert(name.to_string(), doc.to_string());
                self.save_role(&role, false).await?;
            }
            "GetRolePolicy" => {
                let role = self.load_role(p.required("RoleName")?).await?;
                let name = p.required("PolicyName")?;
                let doc = role.inline.get(name).ok_or_else(|| {
                    no_such_entity(format!("The role policy with name {name} cannot be found."))
                })?;
                x.text("RoleName", &role.name).text("PolicyName", name).text("PolicyDocument", &encode(doc));
            }
            "DeleteRolePolicy" => {
                let mut role = self.load_role(p.required("RoleName")?).await?;
                let name = p.required("PolicyName")?;
                if role.inline.remove(name).is_none() {
                    return Err(no_such_entity(format!("The role policy with name {name} cannot be found.")));
                }
                self.save_role(&role, false).await?;
            }
            "ListRolePolicies" => {
                let role = self.load_role(p.required("RoleName")?).await?;
                x.element("PolicyNames", |x| {
                    for name in role.inline.keys() {
                        x.text("member", name);
                    }
                })
                .text("IsTruncated", "false");
            }
            "CreatePolicy" => {
                let name = p.required("PolicyName")?;
                check_name("policyName", name, 128)?;
                let path = p.get("Path").unwrap_or("/");
                check_path(path)?;
                let doc = p.required("PolicyDocument")?;
                Policy::parse(doc, PolicyKind::Identity).map_err(malformed)?;
                let now = self.now_ms();
                let policy = ManagedPolicy {
                    name: name.to_string(),
                    path: path.to_string(),
                    policy_id: iam_id("ANPA"),
                    arn: format!("arn:aws:iam::{account}:policy{path}{name}"),
                    document: doc.to_string(),
                    description: p.get("Description").map(str::to_string),
                    created_ms: now,
                    updated_ms: now,
                };
                let stored = serde_json::to_string(&policy).map_err(|e| internal("policy document", e))?;
                match self.store.put_doc(DocKind::Policy, &policy.arn, &stored, true, now).await {
                    Ok(_) => {}
                    Err(StoreError::Conflict) => {
                        return Err(already_exists(format!(
                            "A policy called {name} already exists. Duplicate names are not allowed."
                        )));
                    }
                    Err(e) => return Err(store_error(e)),
                }
                x.element("Policy", |x| policy_xml(x, &policy, 0));
            }
            "GetPolicy" => {
                let policy = self.load_policy(p.required("PolicyArn")?).await?;
                let n = self.attachment_count(&policy.arn).await?;
                x.element("Policy", |x| policy_xml(x, &policy, n));
            }
            "GetPolicyVersion" => {
                let policy = self.load_policy(p.required("PolicyArn")?).await?;
                let version = p.required("VersionId")?;
                if version != "v1" {
                    return Err(no_such_entity(format!(
                        "Policy {} version {version} does not exist.",
                        policy.arn
                    )));
                }
                x.element("PolicyVersion", |x| {
                    x.text("Document", &encode(&policy.document))
                        .text("VersionId", "v1")
                        .text("IsDefaultVersion", "true")
                        .text("CreateDate", &date(policy.created_ms));
                });
            }
            "DeletePolicy" => {
                let policy = self.load_policy(p.required("PolicyArn")?).await?;
                if self.attachment_count(&policy.arn).await? > 0 {
                    return Err(AwsError::new(
                        "DeleteConflict",
                        "Cannot delete a policy attached to entities.",
                    )
                    .with_status(StatusCode::CONFLICT));
                }
                self.store.delete_doc(DocKind::Policy, &policy.arn).await.map_err(store_error)?;
            }
            "ListPolicies" => {
                let limit = max_items(p)?;
                let after = p.get("Marker").unwrap_or("");
                let rows = self
                    .store
                    .list_docs(DocKind::Policy, after, limit as i64 + 1)
                    .await
                    .map_err(store_error)?;
                let mut policies = Vec::new();
                for (k, doc) in rows {
                    let policy: ManagedPolicy =
                        serde_json::from_str(&doc).map_err(|e| internal("policy document", e))?;
                    policies.push((k, policy));
                }
                let mut tail = XmlBuilder::new();
                let policies = page(policies, limit, &mut tail);
                let roles = self.all_roles().await?;
                x.element("Policies", |x| {
                    for policy in &policies {
                        let n = roles.iter().filter(|r| r.attached.contains(&policy.arn)).count();
                        x.element("member", |x| policy_xml(x, policy, n));
                    }
                });
                return Ok(x.finish() + &tail.finish());
            }
            "AttachRolePolicy" => {
                let mut role = self.load_role(p.required("RoleName")?).await?;
                let policy = self.load_policy(p.required("PolicyArn")?).await?;
                if !role.attached.contains(&policy.arn) {
                    if role.attached.len() >= 20 {
                        return Err(AwsError::new(
                            "LimitExceeded",
                            "A role may have at most 20 managed policies.",
                        )
                        .with_status(StatusCode::CONFLICT));
                    }
                    role.attached.push(policy.arn);
                    self.save_role(&role, false).await?;
                }
            }
            "DetachRolePolicy" => {
                let mut role = self.load_role(p.required("RoleName")?).await?;
                let arn = p.required("PolicyArn")?;
                let before = role.attached.len();
                role.attached.retain(|a| a != arn);
                if role.attached.len() == before {
                    return Err(no_such_entity(format!("Policy {arn} was not found.")));
                }
                self.save_role(&role, false).await?;
            }
            "ListAttachedRolePolicies" => {
                let role = self.load_role(p.required("RoleName")?).await?;
                let mut attached = Vec::new();
                for arn in &role.attached {
                    if let Some(policy) = self.managed_policy(arn).await? {
                        attached.push(policy);
                    }
                }
                x.element("AttachedPolicies", |x| {
                    for policy in &attached {
                        x.element("member", |x| {
                            x.text("PolicyName", &policy.name).text("PolicyArn", &policy.arn);
                        });
                    }
                })
                .text("IsTruncated", "false");
            }
            "CreateOpenIDConnectProvider" => {
                let url = p.required("Url")?;
                if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 255 {
                    return Err(validation("Url must be an https:// URL of at most 255 characters."));
                }
                let provider = OidcProvider {
                    arn: format!("arn:aws:iam::{account}:oidc-provider/{}", issuer_key(url)),
                    url: url.trim_end_matches('/').to_string(),
                    client_ids: p.list("ClientIDList").into_iter().map(str::to_string).collect(),
                    thumbprints: p.list("ThumbprintList").into_iter().map(str::to_string).collect(),
                    created_ms: self.now_ms(),
                };
                let doc = serde_json::to_string(&provider).map_err(|e| internal("oidc provider", e))?;
                match self
                    .store
                    .put_doc(DocKind::OidcProvider, &provider.arn, &doc, true, provider.created_ms)
                    .await
                {
                    Ok(_) => {}
                    Err(StoreError::Conflict) => {
                        return Err(already_exists(format!("Provider with url {url} already exists.")));
                    }
                    Err(e) => return Err(store_error(e)),
                }
                x.text("OpenIDConnectProviderArn", &provider.arn);
            }
            "GetOpenIDConnectProvider" => {
                let provider = self.oidc_provider(p.required("OpenIDConnectProviderArn")?).await?;
                x.text("Url", issuer_key(&provider.url))
                    .element("ClientIDList", |x| {
                        for c in &provider.client_ids {
                            x.text("member", c);
                        }
                    })
                    .element("ThumbprintList", |x| {
                        for t in &provider.thumbprints {
                            x.text("member", t);
                        }
                    })
                    .text("CreateDate", &date(provider.created_ms));
            }
            "DeleteOpenIDConnectProvider" => {
                let provider = self.oidc_provider(p.required("OpenIDConnectProviderArn")?).await?;
                self.store.delete_doc(DocKind::OidcProvider, &provider.arn).await.map_err(store_error)?;
            }
            "ListOpenIDConnectProviders" => {
                let rows =
                    self.store.list_docs(DocKind::OidcProvider, "", 1000).await.map_err(store_error)?;
                x.element("OpenIDConnectProviderList", |x| {
                    for (arn, _) in &rows {
                        x.element("member", |x| {
                            x.text("Arn", arn);
                        });
                    }
                });
            }
            "CreateSAMLProvider" => {
                let name = p.required("Name")?;
                check_name("Name", name, 128)?;
                if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
                    return Err(validation("Name may hold letters, digits, '.', '_' and '-'."));
                }
                let metadata = p.required("SAMLMetadataDocument")?;
                if metadata.len() < 1000 || metadata.len() > 10_000_000 {
                    return Err(validation("SAMLMetadataDocument must be 1000 to 10000000 characters."));
                }
                self.tokens.check_saml_metadata(metadata).await.map_err(validation)?;
                let provider = SamlProvider {
                    arn: format!("arn:aws:iam::{account}:saml-provider/{name}"),
                    name: name.to_string(),
                    metadata: metadata.to_string(),
                    created_ms: self.now_ms(),
                };
                let doc = serde_json::to_string(&provider).map_err(|e| internal("saml provider", e))?;
                match self
                    .store
                    .put_doc(DocKind::SamlProvider, &provider.arn, &doc, true, provider.created_ms)
                    .await
                {
                    Ok(_) => {}
                    Err(StoreError::Conflict) => {
                        return Err(already_exists(format!("SAMLProvider {name} already exists.")));
                    }
                    Err(e) => return Err(store_error(e)),
                }
                x.text("SAMLProviderArn", &provider.arn);
            }
            "GetSAMLProvider" => {
                let provider = self.saml_provider(p.required("SAMLProviderArn")?).await?;
                x.text("SAMLMetadataDocument", &provider.metadata)
                    .text("CreateDate", &date(provider.created_ms))
                    .text("ValidUntil", &date(provider.created_ms + 100 * 365 * 86_400_000));
            }
            "DeleteSAMLProvider" => {
                let provider = self.saml_provider(p.required("SAMLProviderArn")?).await?;
                self.store.delete_doc(DocKind::SamlProvider, &provider.arn).await.map_err(store_error)?;
            }
            "ListSAMLProviders" => {
                let rows =
                    self.store.list_docs(DocKind::SamlProvider, "", 1000).await.map_err(store_error)?;
                let mut providers = Vec::new();
                for (_, doc) in &rows {
                    providers.push(
                        serde_json::from_str::<SamlProvider>(doc)
                            .map_err(|e| internal("saml provider", e))?,
                    );
                }
                x.element("SAMLProviderList", |x| {
                    for provider in &providers {
                        x.element("member", |x| {
                            x.text("Arn", &provider.arn)
                                .text("ValidUntil", &date(provider.created_ms + 100 * 365 * 86_400_000))
                                .text("CreateDate", &date(provider.created_ms));
                        });
                    }
                });
            }
            other => {
                return Err(AwsError::new(
                    "InvalidAction",
                    format!("Could not find operation {other} for version 2010-05-08"),
                ));
            }
        }
        Ok(x.finish())
    }

    pub(crate) async fn saml_provider(&self, arn: &str) -> Result<SamlProvider, AwsError> {
        let doc = self
            .store
            .get_doc(DocKind::SamlProvider, arn)
            .await
            .map_err(store_error)?
            .ok_or_else(|| no_such_entity(format!("SAMLProvider {arn} does not exist.")))?;
        serde_json::from_str(&doc).map_err(|e| internal("saml provider", e))
    }

    pub(crate) async fn oidc_provider(&self, arn: &str) -> Result<OidcProvider, AwsError> {
        let doc = self
            .store
            .get_doc(DocKind::OidcProvider, arn)
            .await
            .map_err(store_error)?
            .ok_or_else(|| no_such_entity(format!("OpenIDConnect Provider not found for arn {arn}")))?;
        serde_json::from_str(&doc).map_err(|e| internal("oidc provider", e))
    }
}

#[async_trait]
impl QueryService for IamApi {
    fn signing_name(&self) -> &'static str {
        "iam"
    }

    fn xml_namespace(&self) -> &'static str {
        IAM_NAMESPACE
    }

    fn access(&self, action: &str) -> Option<Access> {
        ACTIONS.contains(&action).then_some(Access::Signed)
    }

    async fn call_public(
        &self,
        action: &str,
        _: &QueryParams,
        _: &RequestContext,
    ) -> Result<String, AwsError> {
        Err(AwsError::new(
            "InvalidAction",
            format!("Could not find operation {action} for version 2010-05-08"),
        ))
    }

    async fn call_signed(
        &self,
        action: &str,
        _: &Principal,
        params: &QueryParams,
        _: &RequestContext,
    ) -> Result<String, AwsError> {
        self.broker.iam(action, params).await
    }
}
