//! The Cognito Identity API (`AWSCognitoIdentityService.*`, JSON 1.1):
//! identity pools, identities and their logins, role resolution, the
//! enhanced flow (GetCredentialsForIdentity), the basic flow's OpenID
//! tokens, and developer-authenticated identities.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use awsapi::json::{check_chars, check_length, check_range, decode, is_name_char};
use awsapi::{Access, AwsError, JsonService, Principal, RequestContext};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::credentials::ContextValue;
use crate::model::{
    CognitoIdentityProvider, IdentityPoolConfig, OidcProvider, PrincipalTagMap, RoleMapping, SamlProvider,
    issuer_key,
};
use crate::providers::{Claims, TokenFailure, verify_jwt};
use crate::session::{MintError, WebIdentity};
use crate::store::{DocKind, IdentityRow, PoolRow, StoreError};
use crate::{Broker, epoch_seconds, internal, new_uuid, store_error};

/// The condition-key prefix and `Logins` key of the broker's own tokens
/// (kept as AWS's so that real trust policies work unchanged).
pub const COGNITO_IDENTITY: &str = "cognito-identity.amazonaws.com";
const SESSION_NAME: &str = "CognitoIdentityCredentials";
const ENHANCED_DURATION: i64 = 3600;
const OPENID_TOKEN_SECONDS: i64 = 600;

const OPERATIONS: &[(&str, Access)] = &[
    ("CreateIdentityPool", Access::Signed),
    ("DescribeIdentityPool", Access::Signed),
    ("UpdateIdentityPool", Access::Signed),
    ("DeleteIdentityPool", Access::Signed),
    ("ListIdentityPools", Access::Signed),
    ("SetIdentityPoolRoles", Access::Signed),
    ("GetIdentityPoolRoles", Access::Signed),
    ("SetPrincipalTagAttributeMap", Access::Signed),
    ("GetPrincipalTagAttributeMap", Access::Signed),
    ("TagResource", Access::Signed),
    ("UntagResource", Access::Signed),
    ("ListTagsForResource", Access::Signed),
    ("GetId", Access::Public),
    ("GetCredentialsForIdentity", Access::Public),
    ("GetOpenIdToken", Access::Public),
    ("UnlinkIdentity", Access::Public),
    ("GetOpenIdTokenForDeveloperIdentity", Access::Signed),
    ("LookupDeveloperIdentity", Access::Signed),
    ("MergeDeveloperIdentities", Access::Signed),
    ("UnlinkDeveloperIdentity", Access::Signed),
    ("DescribeIdentity", Access::Signed),
    ("ListIdentities", Access::Signed),
    ("DeleteIdentities", Access::Signed),
];

/// The JSON 1.1 front of identity pools.
pub struct IdentityApi {
    broker: Arc<Broker>,
}

impl IdentityApi {
    pub fn new(broker: Arc<Broker>) -> Self {
        Self { broker }
    }
}

#[async_trait]
impl JsonService for IdentityApi {
    fn target_prefix(&self) -> &'static str {
        "AWSCognitoIdentityService"
    }

    fn signing_name(&self) -> &'static str {
        "cognito-identity"
    }

    fn access(&self, operation: &str) -> Option<Access> {
        OPERATIONS.iter().find(|(o, _)| *o == operation).map(|(_, a)| *a)
    }

    async fn call_public(&self, operation: &str, body: &[u8], _: &RequestContext) -> Result<Value, AwsError> {
        let b = &self.broker;
        match operation {
            "GetId" => b.get_id(decode(body)?).await,
            "GetCredentialsForIdentity" => b.get_credentials_for_identity(decode(body)?).await,
            "GetOpenIdToken" => b.get_open_id_token(decode(body)?).await,
            "UnlinkIdentity" => b.unlink_identity(decode(body)?).await,
            other => Err(AwsError::unknown_operation(other)),
        }
    }

    async fn call_signed(
        &self,
        operation: &str,
        _: &Principal,
        body: &[u8],
        _: &RequestContext,
    ) -> Result<Value, AwsError> {
        let b = &self.broker;
        match operation {
            "CreateIdentityPool" => b.create_identity_pool(decode(body)?).await,
            "DescribeIdentityPool" => b.describe_identity_pool(decode(body)?).await,
            "UpdateIdentityPool" => b.update_identity_pool(decode(body)?).await,
            "DeleteIdentityPool" => b.delete_identity_pool(decode(body)?).await,
            "ListIdentityPools" => b.list_identity_pools(decode(body)?).await,
            "SetIdentityPoolRoles" => b.set_identity_pool_roles(decode(body)?).await,
            "GetIdentityPoolRoles" => b.get_identity_pool_roles(decode(body)?).await,
            "SetPrincipalTagAttributeMap" => b.set_principal_tag_map(decode(body)?).await,
            "GetPrincipalTagAttributeMap" => b.get_principal_tag_map(decode(body)?).await,
            "TagResource" => b.tag_resource(decode(body)?).await,
            "UntagResource" => b.untag_resource(decode(body)?).await,
            "ListTagsForResource" => b.list_tags(decode(body)?).await,
            "GetOpenIdTokenForDeveloperIdentity" => b.developer_token(decode(body)?).await,
            "LookupDeveloperIdentity" => b.lookup_developer_identity(decode(body)?).await,
            "MergeDeveloperIdentities" => b.merge_developer_identities(decode(body)?).await,
            "UnlinkDeveloperIdentity" => b.unlink_developer_identity(decode(body)?).await,
            "DescribeIdentity" => b.describe_identity(decode(body)?).await,
            "ListIdentities" => b.list_identities(decode(body)?).await,
            "DeleteIdentities" => b.delete_identities(decode(body)?).await,
            other => Err(AwsError::unknown_operation(other)),
        }
    }
}

// ---------------------------------------------------------------- errors

fn not_found(what: &str) -> AwsError {
    AwsError::new("ResourceNotFoundException", what.to_string())
}

fn not_authorized(message: impl Into<String>) -> AwsError {
    AwsError::new("NotAuthorizedException", message)
}

fn conflict(message: impl Into<String>) -> AwsError {
    AwsError::new("ResourceConflictException", message)
}

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::invalid_parameter(message)
}

fn bad_config() -> AwsError {
    AwsError::new(
        "InvalidIdentityPoolConfigurationException",
        "Invalid identity pool configuration. Check assigned IAM roles for this pool.",
    )
}

fn token_error(key: &str, failure: TokenFailure) -> AwsError {
    match failure {
        TokenFailure::Expired => not_authorized(format!("Invalid login token. Token expired: {key}")),
        TokenFailure::Invalid(reason) => {
            tracing::debug!(provider = key, reason = %reason, "login token refused");
            not_authorized(format!("Invalid login token. The token for {key} could not be verified."))
        }
        TokenFailure::Unreachable(reason) => {
            tracing::warn!(provider = key, reason = %reason, "login provider unreachable");
            AwsError::new(
                "ExternalServiceException",
                format!("The login provider {key} could not be reached."),
            )
        }
    }
}

// ---------------------------------------------------------------- requests

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PoolRequest {
    identity_pool_name: String,
    allow_unauthenticated_identities: bool,
    allow_classic_flow: Option<bool>,
    supported_login_providers: Option<BTreeMap<String, String>>,
    developer_provider_name: Option<String>,
    #[serde(rename = "OpenIdConnectProviderARNs")]
    open_id_connect_provider_arns: Option<Vec<String>>,
    cognito_identity_providers: Option<Vec<CognitoIdentityProvider>>,
    #[serde(rename = "SamlProviderARNs")]
    saml_provider_arns: Option<Vec<String>>,
    identity_pool_tags: Option<BTreeMap<String, String>>,
    identity_pool_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PoolIdRequest {
    identity_pool_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListRequest {
    max_results: i64,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SetRolesRequest {
    identity_pool_id: String,
    roles: BTreeMap<String, String>,
    role_mappings: Option<BTreeMap<String, RoleMapping>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagMapRequest {
    identity_pool_id: String,
    identity_provider_name: String,
    use_defaults: Option<bool>,
    principal_tags: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagRequest {
    resource_arn: String,
    tags: Option<BTreeMap<String, String>>,
    tag_keys: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetIdRequest {
    identity_pool_id: String,
    logins: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CredentialsRequest {
    identity_id: String,
    logins: Option<BTreeMap<String, String>>,
    custom_role_arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UnlinkRequest {
    identity_id: String,
    logins: BTreeMap<String, String>,
    logins_to_remove: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeveloperTokenRequest {
    identity_pool_id: String,
    identity_id: Option<String>,
    logins: BTreeMap<String, String>,
    principal_tags: Option<BTreeMap<String, String>>,
    token_duration: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LookupRequest {
    identity_pool_id: String,
    identity_id: Option<String>,
    developer_user_identifier: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MergeRequest {
    source_user_identifier: String,
    destination_user_identifier: String,
    developer_provider_name: String,
    identity_pool_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UnlinkDeveloperRequest {
    identity_id: String,
    identity_pool_id: String,
    developer_provider_name: String,
    developer_user_identifier: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IdentityIdRequest {
    identity_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListIdentitiesRequest {
    identity_pool_id: String,
    max_results: i64,
    next_token: Option<String>,
    hide_disabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteIdentitiesRequest {
    identity_ids_to_delete: Vec<String>,
}

// ---------------------------------------------------------------- logins

/// What a verified login says.
#[derive(Debug, Clone)]
struct Login {
    /// The `Logins` key as stored (user pools in their canonical
    /// `cognito-idp.<region>.amazonaws.com/<pool>` form).
    provider: String,
    subject: String,
    claims: Claims,
    kind: LoginKind,
}

#[derive(Debug, Clone, PartialEq)]
enum LoginKind {
    /// A user-pool ID token; the role-mapping key is `<provider>:<aud>`.
    UserPool {
        client_id: String,
    },
    Oidc {
        arn: String,
    },
    /// A SAML response of a SAML provider registered with IAM; the
    /// provider key is its ARN, the subject its NameID.
    Saml,
    /// The broker's own token (basic flow, developer identities): its `sub`
    /// is the identity.
    Broker,
}

/// A pool as the service uses it.
struct Pool {
    id: String,
    config: IdentityPoolConfig,
    row: PoolRow,
}

fn check_pool_id(id: &str) -> Result<(), AwsError> {
    check_length("IdentityPoolId", id, 1, 55)?;
    let ok = id.split_once(':').is_some_and(|(r, u)| {
        !r.is_empty()
            && r.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-')
            && !u.is_empty()
            && u.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
    });
    if ok { Ok(()) } else { Err(invalid(format!("Invalid IdentityPoolId: {id}"))) }
}

fn check_identity_id(id: &str) -> Result<(), AwsError> {
    check_length("IdentityId", id, 1, 55)?;
    check_pool_id(id).map_err(|_| invalid(format!("Invalid IdentityId: {id}")))
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        Some(Value::String(s)) => {
            s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect()
        }
        _ => Vec::new(),
    }
}

fn claim_text(claims: &Claims, name: &str) -> Option<String> {
    match claims.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Broker {
    fn pool_arn(&self, id: &str) -> String {
        format!(
            "arn:aws:cognito-identity:{}:{}:identitypool/{id}",
            self.settings.region, self.settings.account_id
        )
    }

    async fn pool(&self, id: &str) -> Result<Pool, AwsError> {
        check_pool_id(id)?;
        let row = self
            .store
            .get_pool(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_found(&format!("IdentityPool '{id}' not found.")))?;
        let config = serde_json::from_str(&row.config).map_err(|e| internal("pool config", e))?;
        Ok(Pool { id: row.id.clone(), config, row })
    }

    async fn save_pool(&self, pool: &Pool) -> Result<(), AwsError> {
        let config = serde_json::to_string(&pool.config).map_err(|e| internal("pool config", e))?;
        let row = PoolRow {
            id: pool.id.clone(),
            name: pool.config.identity_pool_name.clone(),
            created_ms: pool.row.created_ms,
            updated_ms: self.now_ms(),
            config,
        };
        if self.store.update_pool(&row).await.map_err(store_error)? {
            Ok(())
        } else {
            Err(not_found(&format!("IdentityPool '{}' not found.", pool.id)))
        }
    }

    async fn identity(&self, id: &str) -> Result<IdentityRow, AwsError> {
        check_identity_id(id)?;
        self.store
            .get_identity(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_found(&format!("Identity '{id}' not found.")))
    }

    fn user_pool_key(&self, pool_id: &str) -> String {
        format!("cognito-idp.{}.amazonaws.com/{pool_id}", self.settings.region)
    }

    /// The user pool a `Logins` key names, in either form: AWS's
    /// `cognito-idp.<region>.amazonaws.com/<pool>` or this server's issuer
    /// without its scheme.
    fn user_pool_of_key<'a>(&self, key: &'a str) -> Option<&'a str> {
        if let Some(rest) = key.strip_prefix("cognito-idp.")
            && let Some((_, pool)) = rest.split_once(".amazonaws.com/")
        {
            return Some(pool);
        }
        let own = format!("{}/", issuer_key(&self.settings.public_url));
        key.strip_prefix(&own).filter(|p| !p.contains('/'))
    }

    async fn oidc_providers(&self, pool: &Pool) -> Result<Vec<OidcProvider>, AwsError> {
        let mut out = Vec::new();
        for arn in &pool.config.open_id_connect_provider_arns {
            if let Some(doc) = self.store.get_doc(DocKind::OidcProvider, arn).await.map_err(store_error)? {
                out.push(serde_json::from_str(&doc).map_err(|e| internal("oidc provider", e))?);
            }
        }
        Ok(out)
    }

    /// Verifies every token of a `Logins` map against the pool's providers.
    async fn verify_logins(
        &self,
        pool: &Pool,
        logins: &BTreeMap<String, String>,
    ) -> Result<Vec<Login>, AwsError> {
        if logins.len() > 10 {
            return Err(invalid("Logins may hold at most 10 entries."));
        }
        let mut out = Vec::new();
        for (key, token) in logins {
            check_length("Logins", token, 1, 50000)?;
            out.push(self.verify_login(pool, key, token).await?);
        }
        Ok(out)
    }

    async fn verify_login(&self, pool: &Pool, key: &str, token: &str) -> Result<Login, AwsError> {
        if key == COGNITO_IDENTITY {
            let claims = self.verify_broker_token(token, &pool.id).await.map_err(|f| token_error(key, f))?;
            let subject = claim_text(&claims, "sub").unwrap_or_default();
            return Ok(Login { provider: key.to_string(), subject, claims, kind: LoginKind::Broker });
        }
        if let Some(user_pool) = self.user_pool_of_key(key) {
            let canonical = self.user_pool_key(user_pool);
            let clients: Vec<String> = pool
                .config
                .cognito_identity_providers
                .iter()
                .filter(|p| self.user_pool_of_key(&p.provider_name) == Some(user_pool))
                .map(|p| p.client_id.clone())
                .collect();
            if clients.is_empty() {
                return Err(not_authorized(format!(
                    "Invalid login token. Issuer doesn't match providerName: {key} is not a provider of this identity pool."
                )));
            }
            let claims = self
                .tokens
                .verify_user_pool(user_pool, token, &clients)
                .await
                .map_err(|f| token_error(key, f))?;
            let aud = claim_text(&claims, "aud").unwrap_or_default();
            let check = pool.config.cognito_identity_providers.iter().any(|p| {
                p.server_side_token_check
                    && p.client_id == aud
                    && self.user_pool_of_key(&p.provider_name) == Some(user_pool)
            });
            if check
                && !self
                    .tokens
                    .user_pool_sign_in_active(user_pool, &claims)
                    .await
                    .map_err(|f| token_error(key, f))?
            {
                return Err(not_authorized(format!(
                    "Invalid login token. The user of this {key} token is disabled, deleted or signed out."
                )));
            }
            let subject = claim_text(&claims, "sub").unwrap_or_default();
            let client_id = claim_text(&claims, "aud").unwrap_or_default();
            return Ok(Login {
                provider: canonical,
                subject,
                claims,
                kind: LoginKind::UserPool { client_id },
            });
        }
        if pool.config.developer_provider_name.as_deref() == Some(key) {
            return Err(not_authorized(
                "Developer logins are accepted only by GetOpenIdTokenForDeveloperIdentity, which is signed.",
            ));
        }
        if pool.config.saml_provider_arns.iter().any(|arn| arn == key) {
            let doc = self.store.get_doc(DocKind::SamlProvider, key).await.map_err(store_error)?.ok_or_else(
                || not_authorized(format!("Invalid login token. {key} is not a SAML provider.")),
            )?;
            let provider: SamlProvider =
                serde_json::from_str(&doc).map_err(|e| internal("saml provider", e))?;
            let login =
                self.tokens.verify_saml(&provider.metadata, token).await.map_err(|f| token_error(key, f))?;
            let mut claims = login.attributes;
            claims.insert("sub".into(), Value::String(login.subject.clone()));
            claims.insert("iss".into(), Value::String(login.issuer));
            return Ok(Login {
                provider: key.to_string(),
                subject: login.subject,
                claims,
                kind: LoginKind::Saml,
            });
        }
        let providers = self.oidc_providers(pool).await?;
        let Some(provider) = providers.iter().find(|p| p.key() == key || p.arn == key) else {
            return Err(not_authorized(format!(
                "Invalid login token. {key} is not a login provider of this identity pool."
            )));
        };
        let claims = self
            .tokens
            .verify_oidc(&provider.url, token, &provider.client_ids)
            .await
            .map_err(|f| token_error(key, f))?;
        let subject = claim_text(&claims, "sub").unwrap_or_default();
        Ok(Login {
            provider: provider.key().to_string(),
            subject,
            claims,
            kind: LoginKind::Oidc { arn: provider.arn.clone() },
        })
    }

    /// The broker's own OpenID token, for `identity_pool_id`.
    pub(crate) async fn verify_broker_token(
        &self,
        token: &str,
        identity_pool_id: &str,
    ) -> Result<Claims, TokenFailure> {
        let key = self.broker_key().await.map_err(|e| TokenFailure::Unreachable(e.message))?;
        let audiences = if identity_pool_id.is_empty() { vec![] } else { vec![identity_pool_id.to_string()] };
        verify_jwt(token, &key.jwks, &self.issuer(), &audiences, &[jsonwebtoken::Algorithm::RS256])
    }

    /// Finds or creates the identity these logins belong to, linking the
    /// ones not linked yet and merging identities they disagree on.
    async fn resolve_identity(
        &self,
        pool: &Pool,
        logins: &[Login],
        start: Option<&str>,
    ) -> Result<String, AwsError> {
        let mut found: Vec<String> = start.map(|s| vec![s.to_string()]).unwrap_or_default();
        let mut unlinked = Vec::new();
        for login in logins {
            let owner = match login.kind {
                LoginKind::Broker => Some(login.subject.clone()),
                _ => self
                    .store
                    .find_login(&pool.id, &login.provider, &login.subject)
                    .await
                    .map_err(store_error)?,
            };
            match owner {
                Some(id) if !found.contains(&id) => found.push(id),
                Some(_) => {}
                None => unlinked.push(login),
            }
        }
        let now = self.now_ms();
        let identity_id = match found.first() {
            Some(id) => {
                let identity = self.identity(id).await?;
                if identity.pool_id != pool.id {
                    return Err(not_authorized("Logins don't match. The identity belongs to another pool."));
                }
                if identity.disabled {
                    return Err(not_authorized("Identity is disabled."));
                }
                for other in &found[1..] {
                    self.store.merge_identities(other, id, now).await.map_err(|e| match e {
                        StoreError::Conflict => {
                            conflict("The logins belong to identities that cannot be merged.")
                        }
                        e => store_error(e),
                    })?;
                }
                for login in unlinked {
                    if identity.logins.iter().any(|(p, _)| *p == login.provider) {
                        return Err(conflict(format!(
                            "The identity is already linked to another {} login.",
                            login.provider
                        )));
                    }
                    self.store.add_login(&pool.id, id, &login.provider, &login.subject, now).await.map_err(
                        |e| match e {
                            StoreError::Conflict => {
                                conflict("The login was linked to another identity meanwhile.")
                            }
                            e => store_error(e),
                        },
                    )?;
                }
                id.clone()
            }
            None => {
                let id = format!("{}:{}", self.settings.region, new_uuid());
                let pairs: Vec<(String, String)> =
                    unlinked.iter().map(|l| (l.provider.clone(), l.subject.clone())).collect();
                match self.store.create_identity(&pool.id, &id, now, &pairs).await {
                    Ok(()) => id,
                    // Another request linked the same login first: use its identity.
                    Err(StoreError::Conflict) => {
                        let (p, s) =
                            pairs.first().ok_or_else(|| internal("identity", "conflict without logins"))?;
                        self.store
                            .find_login(&pool.id, p, s)
                            .await
                            .map_err(store_error)?
                            .ok_or_else(|| conflict("Concurrent sign-in; try again."))?
                    }
                    Err(e) => return Err(store_error(e)),
                }
            }
        };
        Ok(identity_id)
    }

    /// The identity and its logins, for a call that presents `logins`:
    /// an authenticated identity needs at least one login of its own.
    async fn authenticate_identity(
        &self,
        identity_id: &str,
        logins: &BTreeMap<String, String>,
    ) -> Result<(Pool, IdentityRow, Vec<Login>), AwsError> {
        let identity = self.identity(identity_id).await?;
        let pool = self.pool(&identity.pool_id).await?;
        if identity.disabled {
            return Err(not_authorized("Identity is disabled."));
        }
        let verified = self.verify_logins(&pool, logins).await?;
        if verified.is_empty() {
            if !identity.logins.is_empty() {
                return Err(not_authorized(
                    "Logins don't match. Please include at least one valid login for this identity or identity pool.",
                ));
            }
            if !pool.config.allow_unauthenticated_identities {
                return Err(not_authorized(
                    "Unauthenticated access is not supported for this identity pool.",
                ));
            }
            return Ok((pool, identity, verified));
        }
        // Every login must be this identity's, or nobody's yet: those are
        // linked now (an unauthenticated identity becomes authenticated).
        // A login of another identity never reaches this one.
        let mismatch = || {
            not_authorized(
                "Logins don't match. Please include at least one valid login for this identity or identity pool.",
            )
        };
        let now = self.now_ms();
        let mut linked = false;
        for login in &verified {
            let owner = match login.kind {
                LoginKind::Broker => Some(login.subject.clone()),
                _ => self
                    .store
                    .find_login(&pool.id, &login.provider, &login.subject)
                    .await
                    .map_err(store_error)?,
            };
            match owner {
                Some(owner) if owner == identity.id => {}
                Some(_) => return Err(mismatch()),
                None => {
                    if identity.logins.iter().any(|(p, _)| *p == login.provider) {
                        return Err(mismatch());
                    }
                    self.store
                        .add_login(&pool.id, &identity.id, &login.provider, &login.subject, now)
                        .await
                        .map_err(|e| match e {
                            StoreError::Conflict => mismatch(),
                            e => store_error(e),
                        })?;
                    linked = true;
                }
            }
        }
        // Re-read only when a login was added (DescribeIdentity shows it).
        let identity = if linked { self.identity(identity_id).await? } else { identity };
        Ok((pool, identity, verified))
    }

    /// `amr` for an identity given its verified logins.
    fn amr(&self, logins: &[Login]) -> Vec<String> {
        let Some(first) = logins.first() else {
            return vec!["unauthenticated".into()];
        };
        if first.kind == LoginKind::Broker {
            return string_list(first.claims.get("amr"));
        }
        let mut amr = vec!["authenticated".to_string()];
        for login in logins {
            amr.push(login.provider.clone());
            match &login.kind {
                LoginKind::UserPool { .. } => {
                    amr.push(format!("{}:CognitoSignIn:{}", login.provider, login.subject))
                }
                _ => amr.push(format!("{}:{}", login.provider, login.subject)),
            }
        }
        amr
    }

    /// Principal tags from the pool's tag map for the login's provider.
    fn principal_tags(&self, pool: &Pool, login: Option<&Login>) -> BTreeMap<String, String> {
        let Some(login) = login else {
            return BTreeMap::new();
        };
        if login.kind == LoginKind::Broker {
            // Developer tokens carry their tags.
            let mut out = BTreeMap::new();
            if let Some(Value::Object(tags)) =
                login.claims.get("https://aws.amazon.com/tags").and_then(|t| t.get("principal_tags"))
            {
                for (k, v) in tags {
                    if let Some(first) = string_list(Some(v)).into_iter().next() {
                        out.insert(k.clone(), first);
                    }
                }
            }
            return out;
        }
        let map = pool.config.principal_tags.iter().find(|(k, _)| {
            *k == &login.provider
                || self.user_pool_of_key(k).is_some_and(|p| self.user_pool_of_key(&login.provider) == Some(p))
        });
        let Some((_, map)) = map else {
            return BTreeMap::new();
        };
        let mut out = BTreeMap::new();
        if map.use_defaults {
            if let Some(aud) = claim_text(&login.claims, "aud") {
                out.insert("client".to_string(), aud);
            }
            out.insert("username".to_string(), login.subject.clone());
        }
        for (tag, claim) in &map.principal_tags {
            if let Some(v) = claim_text(&login.claims, claim) {
                out.insert(tag.clone(), v);
            }
        }
        out
    }

    /// Role resolution (spec §4): mappings by token or rules, else the
    /// pool's authenticated / unauthenticated role.
    fn choose_role(&self, pool: &Pool, logins: &[Login], custom: Option<&str>) -> Result<String, AwsError> {
        let roles = &pool.config.roles;
        let unauthenticated = || roles.get("unauthenticated").cloned().ok_or_else(bad_config);
        let Some(login) = logins.first() else {
            return unauthenticated();
        };
        // The broker's own token of an unauthenticated identity.
        if login.kind == LoginKind::Broker
            && string_list(login.claims.get("amr")).iter().any(|a| a == "unauthenticated")
        {
            return unauthenticated();
        }
        let default = || roles.get("authenticated").cloned().ok_or_else(bad_config);
        let mapping_key = match &login.kind {
            LoginKind::UserPool { client_id } => Some(format!("{}:{client_id}", login.provider)),
            LoginKind::Oidc { .. } | LoginKind::Saml => Some(login.provider.clone()),
            LoginKind::Broker => None,
        };
        let mapping = mapping_key.as_ref().and_then(|k| {
            pool.config.role_mappings.get(k).or_else(|| match &login.kind {
                LoginKind::Oidc { arn } => pool.config.role_mappings.get(arn),
                _ => None,
            })
        });
        let Some(mapping) = mapping else {
            let role = default()?;
            if custom.is_some_and(|c| c != role) {
                return Err(not_authorized("The CustomRoleArn is not a role this identity may assume."));
            }
            return Ok(role);
        };
        let candidates: Vec<String> = match mapping.kind.as_str() {
            "Token" => {
                let listed = string_list(login.claims.get("cognito:roles"));
                match custom {
                    Some(c) if listed.iter().any(|r| r == c) => vec![c.to_string()],
                    Some(_) => {
                        return Err(not_authorized("The CustomRoleArn is not in the token's cognito:roles."));
                    }
                    None => match claim_text(&login.claims, "cognito:preferred_role") {
                        Some(p) => vec![p],
                        None if listed.len() == 1 => listed,
                        None => Vec::new(),
                    },
                }
            }
            _ => {
                let rules =
                    mapping.rules_configuration.as_ref().map(|r| r.rules.as_slice()).unwrap_or_default();
                let matching: Vec<String> = rules
                    .iter()
                    .filter(|r| rule_matches(&login.claims, r))
                    .map(|r| r.role_arn.clone())
                    .collect();
                match custom {
                    Some(c) if matching.iter().any(|r| r == c) => vec![c.to_string()],
                    Some(_) => return Err(not_authorized("The CustomRoleArn is not a role the rules give.")),
                    None => matching.into_iter().take(1).collect(),
                }
            }
        };
        match candidates.into_iter().next() {
            Some(role) => Ok(role),
            None if mapping.ambiguous_role_resolution.as_deref() == Some("AuthenticatedRole") => default(),
            None => Err(not_authorized("Ambiguous role mapping: no role could be chosen for this identity.")),
        }
    }

    /// The web identity an enhanced-flow session is minted for: the keys
    /// the broker's OpenID token would carry.
    fn cognito_web_identity(
        &self,
        pool: &Pool,
        identity_id: &str,
        amr: Vec<String>,
        tags: BTreeMap<String, String>,
    ) -> WebIdentity {
        let mut keys = BTreeMap::new();
        keys.insert(format!("{COGNITO_IDENTITY}:aud"), ContextValue::One(pool.id.clone()));
        keys.insert(format!("{COGNITO_IDENTITY}:sub"), ContextValue::One(identity_id.to_string()));
        keys.insert(format!("{COGNITO_IDENTITY}:amr"), ContextValue::Many(amr));
        WebIdentity { provider: COGNITO_IDENTITY.to_string(), keys, tags }
    }

    fn open_id_token(
        &self,
        key: &crate::providers::BrokerKey,
        pool: &Pool,
        identity_id: &str,
        amr: &[String],
        tags: &BTreeMap<String, String>,
        seconds: i64,
    ) -> Result<String, AwsError> {
        let now = self.now().unix_timestamp();
        let mut claims = json!({
            "iss": self.issuer(),
            "sub": identity_id,
            "aud": pool.id,
            "amr": amr,
            "iat": now,
            "exp": now + seconds,
            "https://cognito-identity.amazonaws.com/identity-pool-arn": self.pool_arn(&pool.id),
        });
        if !tags.is_empty() {
            let principal_tags: BTreeMap<&String, Vec<&String>> =
                tags.iter().map(|(k, v)| (k, vec![v])).collect();
            claims["https://aws.amazon.com/tags"] = json!({ "principal_tags": principal_tags });
        }
        key.sign(&claims).map_err(|e| internal("signing an OpenID token", e))
    }

    // ------------------------------------------------------------ pools

    fn pool_config(&self, r: PoolRequest) -> Result<IdentityPoolConfig, AwsError> {
        check_length("IdentityPoolName", &r.identity_pool_name, 1, 128)?;
        check_chars("IdentityPoolName", &r.identity_pool_name, "[\\w\\s+=,.@-]+", is_name_char)?;
        if let Some(d) = &r.developer_provider_name {
            check_length("DeveloperProviderName", d, 1, 128)?;
            check_chars("DeveloperProviderName", d, "[\\w._-]+", |c| {
                c.is_alphanumeric() || "_.-".contains(c)
            })?;
        }
        let providers = r.cognito_identity_providers.unwrap_or_default();
        for p in &providers {
            if self.user_pool_of_key(&p.provider_name).is_none() {
                return Err(invalid(format!(
                    "Invalid ProviderName {}: expected cognito-idp.<region>.amazonaws.com/<user pool id>",
                    p.provider_name
                )));
            }
            check_length("ClientId", &p.client_id, 1, 128)?;
        }
        let supported = r.supported_login_providers.unwrap_or_default();
        if supported.len() > 10 {
            return Err(invalid("SupportedLoginProviders may hold at most 10 entries."));
        }
        Ok(IdentityPoolConfig {
            identity_pool_name: r.identity_pool_name,
            allow_unauthenticated_identities: r.allow_unauthenticated_identities,
            allow_classic_flow: r.allow_classic_flow.unwrap_or(false),
            supported_login_providers: supported,
            developer_provider_name: r.developer_provider_name,
            open_id_connect_provider_arns: r.open_id_connect_provider_arns.unwrap_or_default(),
            cognito_identity_providers: providers,
            saml_provider_arns: r.saml_provider_arns.unwrap_or_default(),
            identity_pool_tags: r.identity_pool_tags.unwrap_or_default(),
            ..Default::default()
        })
    }

    fn describe(&self, id: &str, c: &IdentityPoolConfig) -> Value {
        json!({
            "IdentityPoolId": id,
            "IdentityPoolName": c.identity_pool_name,
            "AllowUnauthenticatedIdentities": c.allow_unauthenticated_identities,
            "AllowClassicFlow": c.allow_classic_flow,
            "SupportedLoginProviders": c.supported_login_providers,
            "DeveloperProviderName": c.developer_provider_name,
            "OpenIdConnectProviderARNs": c.open_id_connect_provider_arns,
            "CognitoIdentityProviders": c.cognito_identity_providers,
            "SamlProviderARNs": c.saml_provider_arns,
            "IdentityPoolTags": c.identity_pool_tags,
        })
    }

    async fn create_identity_pool(&self, r: PoolRequest) -> Result<Value, AwsError> {
        let config = self.pool_config(r)?;
        let id = format!("{}:{}", self.settings.region, new_uuid());
        let now = self.now_ms();
        let row = PoolRow {
            id: id.clone(),
            name: config.identity_pool_name.clone(),
            created_ms: now,
            updated_ms: now,
            config: serde_json::to_string(&config).map_err(|e| internal("pool config", e))?,
        };
        self.store.insert_pool(&row).await.map_err(store_error)?;
        Ok(self.describe(&id, &config))
    }

    async fn describe_identity_pool(&self, r: PoolIdRequest) -> Result<Value, AwsError> {
        let pool = self.pool(&r.identity_pool_id).await?;
        Ok(self.describe(&pool.id, &pool.config))
    }

    async fn update_identity_pool(&self, r: PoolRequest) -> Result<Value, AwsError> {
        let id = r.identity_pool_id.clone().ok_or_else(|| invalid("IdentityPoolId is required."))?;
        let mut pool = self.pool(&id).await?;
        let mut config = self.pool_config(r)?;
        if let (Some(old), Some(new)) =
            (&pool.config.developer_provider_name, &config.developer_provider_name)
            && old != new
        {
            return Err(conflict("DeveloperProviderName cannot be changed once set."));
        }
        if config.developer_provider_name.is_none() {
            config.developer_provider_name = pool.config.developer_provider_name.clone();
        }
        config.roles = std::mem::take(&mut pool.config.roles);
        config.role_mappings = std::mem::take(&mut pool.config.role_mappings);
        config.principal_tags = std::mem::take(&mut pool.config.principal_tags);
        pool.config = config;
        self.save_pool(&pool).await?;
        Ok(self.describe(&pool.id, &pool.config))
    }

    async fn delete_identity_pool(&self, r: PoolIdRequest) -> Result<Value, AwsError> {
        check_pool_id(&r.identity_pool_id)?;
        if self.store.delete_pool(&r.identity_pool_id).await.map_err(store_error)? {
            Ok(json!({}))
        } else {
            Err(not_found(&format!("IdentityPool '{}' not found.", r.identity_pool_id)))
        }
    }

    async fn list_identity_pools(&self, r: ListRequest) -> Result<Value, AwsError> {
        check_range("MaxResults", r.max_results, 1, 60)?;
        let after = r.next_token.unwrap_or_default();
        let rows = self.store.list_pools(&after, r.max_results + 1).await.map_err(store_error)?;
        let more = rows.len() as i64 > r.max_results;
        let page: Vec<&PoolRow> = rows.iter().take(r.max_results as usize).collect();
        let mut out = json!({
            "IdentityPools": page.iter().map(|p| json!({"IdentityPoolId": p.id, "IdentityPoolName": p.name})).collect::<Vec<_>>(),
        });
        if more && let Some(last) = page.last() {
            out["NextToken"] = json!(last.id);
        }
        Ok(out)
    }

    async fn set_identity_pool_roles(&self, r: SetRolesRequest) -> Result<Value, AwsError> {
        let mut pool = self.pool(&r.identity_pool_id).await?;
        for (kind, arn) in &r.roles {
            if kind != "authenticated" && kind != "unauthenticated" {
                return Err(invalid(format!(
                    "Invalid role kind {kind}: use authenticated or unauthenticated."
                )));
            }
            check_role_arn(arn)?;
        }
        let mappings = r.role_mappings.unwrap_or_default();
        if mappings.len() > 10 {
            return Err(invalid("RoleMappings may hold at most 10 entries."));
        }
        for (key, m) in &mappings {
            validate_mapping(key, m)?;
        }
        pool.config.roles = r.roles;
        pool.config.role_mappings = mappings;
        self.save_pool(&pool).await?;
        Ok(json!({}))
    }

    async fn get_identity_pool_roles(&self, r: PoolIdRequest) -> Result<Value, AwsError> {
        let pool = self.pool(&r.identity_pool_id).await?;
        Ok(json!({
            "IdentityPoolId": pool.id,
            "Roles": pool.config.roles,
            "RoleMappings": pool.config.role_mappings,
        }))
    }

    async fn set_principal_tag_map(&self, r: TagMapRequest) -> Result<Value, AwsError> {
        let mut pool = self.pool(&r.identity_pool_id).await?;
        check_length("IdentityProviderName", &r.identity_provider_name, 1, 128)?;
        let tags = r.principal_tags.unwrap_or_default();
        if tags.len() > 50 {
            return Err(invalid("PrincipalTags may hold at most 50 entries."));
        }
        for (k, v) in &tags {
            check_length("PrincipalTags key", k, 1, 128)?;
            check_length("PrincipalTags value", v, 1, 256)?;
        }
        let map = PrincipalTagMap { use_defaults: r.use_defaults.unwrap_or(false), principal_tags: tags };
        pool.config.principal_tags.insert(r.identity_provider_name.clone(), map.clone());
        self.save_pool(&pool).await?;
        Ok(json!({
            "IdentityPoolId": pool.id,
            "IdentityProviderName": r.identity_provider_name,
            "UseDefaults": map.use_defaults,
            "PrincipalTags": map.principal_tags,
        }))
    }

    async fn get_principal_tag_map(&self, r: TagMapRequest) -> Result<Value, AwsError> {
        let pool = self.pool(&r.identity_pool_id).await?;
        let map = pool.config.principal_tags.get(&r.identity_provider_name).cloned().unwrap_or_default();
        Ok(json!({
            "IdentityPoolId": pool.id,
            "IdentityProviderName": r.identity_provider_name,
            "UseDefaults": map.use_defaults,
            "PrincipalTags": map.principal_tags,
        }))
    }

    async fn pool_by_arn(&self, arn: &str) -> Result<Pool, AwsError> {
        let prefix = format!(
            "arn:aws:cognito-identity:{}:{}:identitypool/",
            self.settings.region, self.settings.account_id
        );
        let id =
            arn.strip_prefix(&prefix).ok_or_else(|| not_found(&format!("Resource '{arn}' not found.")))?;
        self.pool(id).await
    }

    async fn tag_resource(&self, r: TagRequest) -> Result<Value, AwsError> {
        let mut pool = self.pool_by_arn(&r.resource_arn).await?;
        pool.config.identity_pool_tags.extend(r.tags.unwrap_or_default());
        if pool.config.identity_pool_tags.len() > 50 {
            return Err(invalid("An identity pool may have at most 50 tags."));
        }
        self.save_pool(&pool).await?;
        Ok(json!({}))
    }

    async fn untag_resource(&self, r: TagRequest) -> Result<Value, AwsError> {
        let mut pool = self.pool_by_arn(&r.resource_arn).await?;
        for k in r.tag_keys.unwrap_or_default() {
            pool.config.identity_pool_tags.remove(&k);
        }
        self.save_pool(&pool).await?;
        Ok(json!({}))
    }

    async fn list_tags(&self, r: TagRequest) -> Result<Value, AwsError> {
        let pool = self.pool_by_arn(&r.resource_arn).await?;
        Ok(json!({ "Tags": pool.config.identity_pool_tags }))
    }

    // ------------------------------------------------------------ identities

    async fn get_id(&self, r: GetIdRequest) -> Result<Value, AwsError> {
        let pool = self.pool(&r.identity_pool_id).await?;
        let logins = r.logins.unwrap_or_default();
        let verified = self.verify_logins(&pool, &logins).await?;
        if verified.is_empty() {
            if !pool.config.allow_unauthenticated_identities {
                return Err(not_authorized(
                    "Unauthenticated access is not supported for this identity pool.",
                ));
            }
            let id = format!("{}:{}", self.settings.region, new_uuid());
            self.store.create_identity(&pool.id, &id, self.now_ms(), &[]).await.map_err(store_error)?;
            return Ok(json!({ "IdentityId": id }));
        }
        let id = self.resolve_identity(&pool, &verified, None).await?;
        Ok(json!({ "IdentityId": id }))
    }

    async fn get_credentials_for_identity(&self, r: CredentialsRequest) -> Result<Value, AwsError> {
        let logins = r.logins.unwrap_or_default();
        let (pool, identity, verified) = self.authenticate_identity(&r.identity_id, &logins).await?;
        if let Some(c) = &r.custom_role_arn {
            check_role_arn(c)?;
        }
        let role_arn = self.choose_role(&pool, &verified, r.custom_role_arn.as_deref())?;
        let role = self.role_by_arn(&role_arn).await?.ok_or_else(bad_config)?;
        let amr = self.amr(&verified);
        let tags = self.principal_tags(&pool, verified.first());
        let who = self.cognito_web_identity(&pool, &identity.id, amr, tags);
        let minted =
            self.mint(&role, SESSION_NAME, &who, None, ENHANCED_DURATION).await.map_err(|e| match e {
                MintError::Trust(reason) => {
                    tracing::debug!(role = %role.arn, reason = %reason, "trust policy refused an identity");
                    bad_config()
                }
                MintError::Malformed(m) => invalid(m),
                MintError::Wire(e) => e,
            })?;
        let c = minted.credentials;
        Ok(json!({
            "IdentityId": identity.id,
            "Credentials": {
                "AccessKeyId": c.access_key_id,
                "SecretKey": c.secret_access_key,
                "SessionToken": c.session_token,
                "Expiration": c.expiration,
            },
        }))
    }

    async fn get_open_id_token(&self, r: CredentialsRequest) -> Result<Value, AwsError> {
        let logins = r.logins.unwrap_or_default();
        let (pool, identity, verified) = self.authenticate_identity(&r.identity_id, &logins).await?;
        let amr = self.amr(&verified);
        let tags = self.principal_tags(&pool, verified.first());
        let key = self.broker_key().await?;
        let token = self.open_id_token(key, &pool, &identity.id, &amr, &tags, OPENID_TOKEN_SECONDS)?;
        Ok(json!({ "IdentityId": identity.id, "Token": token }))
    }

    async fn unlink_identity(&self, r: UnlinkRequest) -> Result<Value, AwsError> {
        let (pool, identity, verified) = self.authenticate_identity(&r.identity_id, &r.logins).await?;
        if verified.is_empty() {
            return Err(not_authorized("Logins are required to unlink an identity."));
        }
        let now = self.now_ms();
        for key in &r.logins_to_remove {
            let provider = match self.user_pool_of_key(key) {
                Some(p) => self.user_pool_key(p),
                None => key.clone(),
            };
            if pool.config.developer_provider_name.as_deref() == Some(provider.as_str()) {
                return Err(invalid("Developer logins are unlinked with UnlinkDeveloperIdentity."));
            }
            if !self.store.remove_login(&identity.id, &provider, None, now).await.map_err(store_error)? {
                return Err(conflict(format!("The identity has no {key} login.")));
            }
        }
        Ok(json!({}))
    }

    async fn developer_token(&self, r: DeveloperTokenRequest) -> Result<Value, AwsError> {
        let pool = self.pool(&r.identity_pool_id).await?;
        let dev = pool
            .config
            .developer_provider_name
            .clone()
            .ok_or_else(|| invalid("The identity pool has no DeveloperProviderName."))?;
        let user = r.logins.get(&dev).cloned().ok_or_else(|| {
            invalid(format!(
                "Logins must contain the developer provider {dev} with the developer user identifier."
            ))
        })?;
        check_length("DeveloperUserIdentifier", &user, 1, 1024)?;
        let duration = r.token_duration.unwrap_or(900);
        check_range("TokenDuration", duration, 1, 86400)?;
        let tags = r.principal_tags.unwrap_or_default();
        if tags.len() > 50 {
            return Err(invalid("PrincipalTags may hold at most 50 entries."));
        }
        let mut others = r.logins.clone();
        others.remove(&dev);
        let verified = self.verify_logins(&pool, &others).await?;
        let now = self.now_ms();
        let owner = self.store.find_login(&pool.id, &dev, &user).await.map_err(store_error)?;
        let identity_id = match (r.identity_id, owner) {
            (Some(given), Some(owner)) if given != owner => {
                return Err(AwsError::new(
                    "DeveloperUserAlreadyRegisteredException",
                    "The developer user is already linked to another identity.",
                ));
            }
            (Some(given), owner) => {
                let identity = self.identity(&given).await?;
                if identity.pool_id != pool.id {
                    return Err(not_found(&format!("Identity '{given}' not found.")));
                }
                if owner.is_none() {
                    if identity.logins.iter().any(|(p, _)| *p == dev) {
                        return Err(conflict("The identity is linked to another developer user."));
                    }
                    self.store.add_login(&pool.id, &given, &dev, &user, now).await.map_err(|e| match e {
                        StoreError::Conflict => AwsError::new(
                            "DeveloperUserAlreadyRegisteredException",
                            "The developer user is already linked to another identity.",
                        ),
                        e => store_error(e),
                    })?;
                }
                given
            }
            (None, Some(owner)) => owner,
            (None, None) => {
                let id = format!("{}:{}", self.settings.region, new_uuid());
                match self.store.create_identity(&pool.id, &id, now, &[(dev.clone(), user.clone())]).await {
                    Ok(()) => id,
                    Err(StoreError::Conflict) => self
                        .store
                        .find_login(&pool.id, &dev, &user)
                        .await
                        .map_err(store_error)?
                        .ok_or_else(|| conflict("Concurrent request; try again."))?,
                    Err(e) => return Err(store_error(e)),
                }
            }
        };
        if !verified.is_empty() {
            self.resolve_identity(&pool, &verified, Some(&identity_id)).await?;
        }
        let guid = pool.id.split_once(':').map_or(pool.id.as_str(), |(_, g)| g);
        let mut amr = vec![
            "authenticated".to_string(),
            dev.clone(),
            format!("{dev}:{}:{guid}:{user}", self.settings.region),
        ];
        for login in &verified {
            amr.push(login.provider.clone());
        }
        let key = self.broker_key().await?;
        let token = self.open_id_token(key, &pool, &identity_id, &amr, &tags, duration)?;
        Ok(json!({ "IdentityId": identity_id, "Token": token }))
    }

    async fn lookup_developer_identity(&self, r: LookupRequest) -> Result<Value, AwsError> {
        let pool = self.pool(&r.identity_pool_id).await?;
        let dev = pool
            .config
            .developer_provider_name
            .clone()
            .ok_or_else(|| invalid("The identity pool has no DeveloperProviderName."))?;
        let limit = r.max_results.unwrap_or(60);
        check_range("MaxResults", limit, 1, 60)?;
        let identity_id = match (r.identity_id, r.developer_user_identifier) {
            (None, None) => return Err(invalid("Give IdentityId or DeveloperUserIdentifier.")),
            (id, Some(user)) => {
                let owner = self
                    .store
                    .find_login(&pool.id, &dev, &user)
                    .await
                    .map_err(store_error)?
                    .ok_or_else(|| not_found("No identity is linked to this developer user."))?;
                if id.as_ref().is_some_and(|i| *i != owner) {
                    return Err(conflict("The developer user is linked to another identity."));
                }
                owner
            }
            (Some(id), None) => {
                let identity = self.identity(&id).await?;
                if identity.pool_id != pool.id {
                    return Err(not_found(&format!("Identity '{id}' not found.")));
                }
                id
            }
        };
        let after = r.next_token.unwrap_or_default();
        let rows = self
            .store
            .list_subjects(&pool.id, &dev, Some(&identity_id), &after, limit + 1)
            .await
            .map_err(store_error)?;
        let more = rows.len() as i64 > limit;
        let users: Vec<String> = rows.into_iter().take(limit as usize).map(|(_, s)| s).collect();
        let mut out = json!({ "IdentityId": identity_id, "DeveloperUserIdentifierList": users });
        if more && let Some(last) = users.last() {
            out["NextToken"] = json!(last);
        }
        Ok(out)
    }

    async fn merge_developer_identities(&self, r: MergeRequest) -> Result<Value, AwsError> {
        let pool = self.pool(&r.identity_pool_id).await?;
        if pool.config.developer_provider_name.as_deref() != Some(r.developer_provider_name.as_str()) {
            return Err(invalid("DeveloperProviderName is not this pool's."));
        }
        let dev = &r.developer_provider_name;
        let source = self.developer_identity(&pool.id, dev, &r.source_user_identifier).await?;
        let destination = self.developer_identity(&pool.id, dev, &r.destination_user_identifier).await?;
        if source != destination {
            self.store.merge_identities(&source, &destination, self.now_ms()).await.map_err(|e| match e {
                StoreError::Conflict => conflict("The identities share a login and cannot be merged."),
                e => store_error(e),
            })?;
        }
        Ok(json!({ "IdentityId": destination }))
    }

    async fn developer_identity(&self, pool_id: &str, dev: &str, user: &str) -> Result<String, AwsError> {
        self.store
            .find_login(pool_id, dev, user)
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_found(&format!("No identity is linked to developer user {user}.")))
    }

    async fn unlink_developer_identity(&self, r: UnlinkDeveloperRequest) -> Result<Value, AwsError> {
        let pool = self.pool(&r.identity_pool_id).await?;
        if pool.config.developer_provider_name.as_deref() != Some(r.developer_provider_name.as_str()) {
            return Err(invalid("DeveloperProviderName is not this pool's."));
        }
        let identity = self.identity(&r.identity_id).await?;
        let removed = self
            .store
            .remove_login(
                &identity.id,
                &r.developer_provider_name,
                Some(&r.developer_user_identifier),
                self.now_ms(),
            )
            .await
            .map_err(store_error)?;
        if !removed {
            return Err(conflict("The developer user is not linked to this identity."));
        }
        Ok(json!({}))
    }

    fn identity_description(&self, i: &IdentityRow) -> Value {
        let mut providers: Vec<&String> = i.logins.iter().map(|(p, _)| p).collect();
        providers.dedup();
        json!({
            "IdentityId": i.id,
            "Logins": providers,
            "CreationDate": epoch_seconds(i.created_ms),
            "LastModifiedDate": epoch_seconds(i.updated_ms),
        })
    }

    async fn describe_identity(&self, r: IdentityIdRequest) -> Result<Value, AwsError> {
        let identity = self.identity(&r.identity_id).await?;
        Ok(self.identity_description(&identity))
    }

    async fn list_identities(&self, r: ListIdentitiesRequest) -> Result<Value, AwsError> {
        let pool = self.pool(&r.identity_pool_id).await?;
        check_range("MaxResults", r.max_results, 1, 60)?;
        let after = r.next_token.unwrap_or_default();
        let rows = self
            .store
            .list_identities(&pool.id, &after, r.max_results + 1, r.hide_disabled.unwrap_or(false))
            .await
            .map_err(store_error)?;
        let more = rows.len() as i64 > r.max_results;
        let page: Vec<&IdentityRow> = rows.iter().take(r.max_results as usize).collect();
        let mut out = json!({
            "IdentityPoolId": pool.id,
            "Identities": page.iter().map(|i| self.identity_description(i)).collect::<Vec<_>>(),
        });
        if more && let Some(last) = page.last() {
            out["NextToken"] = json!(last.id);
        }
        Ok(out)
    }

    async fn delete_identities(&self, r: DeleteIdentitiesRequest) -> Result<Value, AwsError> {
        if r.identity_ids_to_delete.is_empty() || r.identity_ids_to_delete.len() > 60 {
            return Err(invalid("IdentityIdsToDelete must hold 1 to 60 ids."));
        }
        let mut unprocessed = Vec::new();
        for id in &r.identity_ids_to_delete {
            check_identity_id(id)?;
            if let Err(e) = self.store.delete_identity(id).await {
                tracing::error!(error = %e, "deleting an identity");
                unprocessed.push(json!({ "IdentityId": id, "ErrorCode": "InternalServerError" }));
            }
        }
        Ok(json!({ "UnprocessedIdentityIds": unprocessed }))
    }
}

fn check_role_arn(arn: &str) -> Result<(), AwsError> {
    check_length("RoleARN", arn, 20, 2048)?;
    let ok =
        arn.strip_prefix("arn:aws:iam::").and_then(|r| r.split_once(":role/")).is_some_and(|(acct, name)| {
            acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty()
        });
    if ok { Ok(()) } else { Err(invalid(format!("Invalid role ARN {arn}"))) }
}

fn validate_mapping(key: &str, m: &RoleMapping) -> Result<(), AwsError> {
    match m.ambiguous_role_resolution.as_deref() {
        Some("AuthenticatedRole" | "Deny") => {}
        Some(other) => return Err(invalid(format!("Invalid AmbiguousRoleResolution {other} for {key}."))),
        None => return Err(invalid(format!("AmbiguousRoleResolution is required for role mapping {key}."))),
    }
    match m.kind.as_str() {
        "Token" => Ok(()),
        "Rules" => {
            let rules = m.rules_configuration.as_ref().map(|r| r.rules.as_slice()).ok_or_else(|| {
                invalid(format!("RulesConfiguration is required for role mapping {key} of Type Rules."))
            })?;
            if rules.is_empty() || rules.len() > 25 {
                return Err(invalid(format!("Role mapping {key} must have 1 to 25 rules.")));
            }
            for rule in rules {
                check_length("Claim", &rule.claim, 1, 64)?;
                check_length("Value", &rule.value, 1, 128)?;
                if !["Equals", "Contains", "StartsWith", "NotEqual"].contains(&rule.match_type.as_str()) {
                    return Err(invalid(format!("Invalid MatchType {}.", rule.match_type)));
                }
                check_role_arn(&rule.role_arn)?;
            }
            Ok(())
        }
        other => Err(invalid(format!("Invalid role mapping Type {other}: use Token or Rules."))),
    }
}

/// One mapping rule against the token's claims. Array claims (such as
/// `cognito:groups`) match when any element does; `NotEqual` needs the
/// claim present.
fn rule_matches(claims: &Claims, rule: &crate::model::MappingRule) -> bool {
    let values: Vec<String> = match claims.get(&rule.claim) {
        None => return false,
        Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        Some(_) => claim_text(claims, &rule.claim).into_iter().collect(),
    };
    let v = rule.value.as_str();
    match rule.match_type.as_str() {
        "Equals" => values.iter().any(|c| c == v),
        "NotEqual" => !values.is_empty() && values.iter().all(|c| c != v),
        "StartsWith" => values.iter().any(|c| c.starts_with(v)),
        "Contains" => values.iter().any(|c| c.contains(v)),
        _ => false,
    }
}
