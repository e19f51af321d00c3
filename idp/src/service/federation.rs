//! Federation: a pool's external identity providers (Create/Describe/
//! Update/Delete/ListIdentityProviders, GetIdentityProviderByIdentifier),
//! sign-in through an OpenID Connect provider from the hosted UI (the
//! openidconnect crate: discovery, authorization code with PKCE and nonce,
//! ID-token verification with pinned algorithms, userInfo), federated
//! users `<Provider>_<subject>` with mapped attributes, and links to native
//! users (AdminLinkProviderForUser, AdminDisableProviderForUser).

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AsyncHttpClient, AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpClientError, HttpRequest,
    HttpResponse, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::UserPools;
use super::authorize::Authorization;
use super::users::{Writer, check_attributes, check_required, username_key};
use crate::error::{IdpError, Result};
use crate::model::{IdentityProvider, ProviderLink, ProviderRecord, User, UserPool, UserStatus};
use crate::store::StoreError;

const PROVIDER_TYPES: &[&str] = &["OIDC", "SAML", "Google", "Facebook", "LoginWithAmazon", "SignInWithApple"];
/// A federated sign-in must come back within ten minutes.
const FLOW_LIFE_MS: i64 = 10 * 60 * 1000;
const STATE_AAD: &[u8] = b"cirrus/federation-state/v1";
/// How long a provider's discovery document is trusted.
const METADATA_TTL: Duration = Duration::from_secs(600);
/// Signature algorithms taken from an upstream ID token: asymmetric only,
/// so a provider's public key can never be used as an HMAC secret.
const ALLOWED_ALGS: &[CoreJwsSigningAlgorithm] = &[
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Discovery documents by issuer.
#[derive(Default)]
pub(super) struct MetadataCache {
    issuers: Mutex<HashMap<String, (Instant, CoreProviderMetadata)>>,
}

/// reqwest 0.13 as openidconnect's HTTP client, never following redirects.
struct Http<'a>(&'a reqwest::Client);

impl<'c> AsyncHttpClient<'c> for Http<'_> {
    type Error = HttpClientError<reqwest::Error>;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<HttpResponse, Self::Error>> + Send + Sync + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(Box::new)?;
            let response = self.0.execute(request).await.map_err(Box::new)?;
            let mut builder = axum::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response.bytes().await.map_err(Box::new)?.to_vec();
            builder.body(body).map_err(HttpClientError::Http)
        })
    }
}

/// What travels (sealed) in the upstream `state` between the redirect to
/// the provider and its answer.
#[derive(Debug, Serialize, Deserialize)]
struct FlowState {
    id: String,
    pool: String,
    provider: String,
    /// The client's authorization request, to resume.
    params: BTreeMap<String, String>,
    nonce: String,
    verifier: String,
    /// SHA-256 of the browser-binding cookie's value.
    binding: String,
    expires_ms: i64,
}

/// A federated sign-in that went through: the user and the request to
/// answer.
pub struct FederatedSignIn {
    pub authorization: Authorization,
    pub user: User,
    pub auth_time: i64,
    /// The provider it went through.
    pub provider: String,
}

fn https_or_loopback(url: &str) -> bool {
    match url::Url::parse(url) {
        Ok(u) if u.scheme() == "https" => u.host_str().is_some(),
        Ok(u) if u.scheme() == "http" => {
            matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
        }
        _ => false,
    }
}

fn valid_provider_name(name: &str) -> bool {
    (1..=32).contains(&name.chars().count())
        && !name.eq_ignore_ascii_case("cognito")
        && !name.chars().any(|c| c == '_' || c.is_whitespace() || c.is_control())
}

/// Claims as attribute values: strings as they are, the rest as JSON.
fn claim_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// The claims of a JWT whose signature was checked already.
fn payload_claims(jwt: &str) -> Map<String, Value> {
    jwt.split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| if let Value::Object(m) = v { Some(m) } else { None })
        .unwrap_or_default()
}

impl UserPools {
    fn open_provider(&self, record: ProviderRecord) -> Result<IdentityProvider> {
        let aad = format!("idp:{}:{}", record.pool_id, record.name);
        let plain = self
            .master_key
            .open(&record.details_sealed, aad.as_bytes())
            .map_err(|_| IdpError::Internal("identity provider details do not open".into()))?;
        let details = serde_json::from_slice(&plain).map_err(|e| IdpError::Internal(e.to_string()))?;
        Ok(IdentityProvider {
            pool_id: record.pool_id,
            name: record.name,
            provider_type: record.provider_type,
            details,
            attribute_mapping: record.attribute_mapping,
            idp_identifiers: record.idp_identifiers,
            created_ms: record.created_ms,
            updated_ms: record.updated_ms,
        })
    }

    fn seal_provider(&self, p: &IdentityProvider) -> Result<ProviderRecord> {
        let aad = format!("idp:{}:{}", p.pool_id, p.name);
        let plain = serde_json::to_vec(&p.details).map_err(|e| IdpError::Internal(e.to_string()))?;
        Ok(ProviderRecord {
            pool_id: p.pool_id.clone(),
            name: p.name.clone(),
            provider_type: p.provider_type.clone(),
            details_sealed: self.master_key.seal(&plain, aad.as_bytes()),
            attribute_mapping: p.attribute_mapping.clone(),
            idp_identifiers: p.idp_identifiers.clone(),
            created_ms: p.created_ms,
            updated_ms: p.updated_ms,
        })
    }

    /// ProviderDetails checked per provider type, with the fixed endpoints
    /// of the social providers filled in.
    fn checked_details(
        &self,
        provider_type: &str,
        mut d: BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        let bad = |m: String| IdpError::InvalidParameter(m);
        let need = |d: &BTreeMap<String, String>, keys: &[&str]| -> Result<()> {
            for k in keys {
                if d.get(*k).is_none_or(|v| v.trim().is_empty()) {
                    return Err(IdpError::InvalidParameter(format!(
                        "ProviderDetails of a {provider_type} provider need {k}."
                    )));
                }
            }
            Ok(())
        };
        match provider_type {
            "OIDC" => {
                need(&d, &["client_id", "authorize_scopes", "oidc_issuer"])?;
                let method = d.entry("attributes_request_method".into()).or_insert_with(|| "GET".into());
                if method != "GET" && method != "POST" {
                    return Err(bad("attributes_request_method must be GET or POST.".into()));
                }
                if !d.get("authorize_scopes").is_some_and(|s| s.split(' ').any(|s| s == "openid")) {
                    return Err(bad("authorize_scopes of an OIDC provider must include openid.".into()));
                }
            }
            "Google" => {
                need(&d, &["client_id", "client_secret", "authorize_scopes"])?;
                d.insert("oidc_issuer".into(), "https://accounts.google.com".into());
                d.insert("authorize_url".into(), "https://accounts.google.com/o/oauth2/v2/auth".into());
                d.insert("token_url".into(), "https://www.googleapis.com/oauth2/v4/token".into());
                d.insert(
                    "attributes_url".into(),
                    "https://people.googleapis.com/v1/people/me?personFields=".into(),
                );
                d.insert("attributes_url_add_attributes".into(), "true".into());
            }
            "SignInWithApple" => {
                need(&d, &["client_id", "team_id", "key_id", "private_key", "authorize_scopes"])?;
                // A key that cannot sign ES256 (not EC, or not P-256) is refused
                // now rather than at the first sign-in.
                let signs = jsonwebtoken::EncodingKey::from_ec_pem(
                    d.get("private_key").map(String::as_bytes).unwrap_or_default(),
                )
                .ok()
                .and_then(|key| {
                    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
                    jsonwebtoken::encode(&header, &json!({}), &key).ok()
                });
                if signs.is_none() {
                    return Err(bad(
                        "private_key must be the PEM of an EC P-256 key (Apple's .p8 file).".into()
                    ));
                }
                d.entry("oidc_issuer".into()).or_insert_with(|| "https://appleid.apple.com".into());
                d.insert("authorize_url".into(), "https://appleid.apple.com/auth/authorize".into());
                d.insert("token_url".into(), "https://appleid.apple.com/auth/token".into());
            }
            "Facebook" => {
                need(&d, &["client_id", "client_secret", "authorize_scopes"])?;
                let v = d.entry("api_version".into()).or_insert_with(|| "v17.0".into()).clone();
                d.entry("authorize_url".into())
                    .or_insert_with(|| format!("https://www.facebook.com/{v}/dialog/oauth"));
                d.entry("token_url".into())
                    .or_insert_with(|| format!("https://graph.facebook.com/{v}/oauth/access_token"));
                d.entry("attributes_url".into())
                    .or_insert_with(|| format!("https://graph.facebook.com/{v}/me?fields="));
                d.entry("attributes_url_add_attributes".into()).or_insert_with(|| "true".into());
            }
            "LoginWithAmazon" => {
                need(&d, &["client_id", "client_secret", "authorize_scopes"])?;
                d.entry("authorize_url".into()).or_insert_with(|| "https://www.amazon.com/ap/oa".into());
                d.entry("token_url".into()).or_insert_with(|| "https://api.amazon.com/auth/o2/token".into());
                d.entry("attributes_url".into())
                    .or_insert_with(|| "https://api.amazon.com/user/profile".into());
                d.entry("attributes_url_add_attributes".into()).or_insert_with(|| "false".into());
            }
            "SAML" => {
                if d.contains_key("MetadataURL") == d.contains_key("MetadataFile") {
                    return Err(bad(
                        "ProviderDetails of a SAML provider need MetadataURL or MetadataFile.".into()
                    ));
                }
                if let Some(url) = d.get("MetadataURL")
                    && !https_or_loopback(url)
                {
                    return Err(bad("MetadataURL must be an https URL (http only on loopback).".into()));
                }
            }
            other => {
                return Err(bad(format!(
                    "1 validation error detected: Value '{other}' at 'providerType' failed to satisfy constraint: \
                     Member must satisfy enum value set: [SAML, Google, LoginWithAmazon, SignInWithApple, Facebook, OIDC]"
                )));
            }
        }
        for key in ["oidc_issuer", "authorize_url", "token_url", "attributes_url", "jwks_uri"] {
            if let Some(url) = d.get(key)
                && !https_or_loopback(url)
            {
                return Err(bad(format!("{key} must be an https URL (http only on loopback).")));
            }
        }
        Ok(d)
    }

    fn checked_mapping(
        &self,
        pool: &UserPool,
        provider_type: &str,
        mapping: Option<BTreeMap<String, String>>,
    ) -> Result<BTreeMap<String, String>> {
        let mut mapping = mapping.unwrap_or_default();
        if provider_type != "SAML" {
            mapping.entry("username".into()).or_insert_with(|| match provider_type {
                "Facebook" => "id".into(),
                "LoginWithAmazon" => "user_id".into(),
                _ => "sub".into(),
            });
        }
        for (attribute, claim) in &mapping {
            let known = attribute == "username"
                || pool.schema.iter().any(|a| a.name.as_deref() == Some(attribute.as_str()))
                || attribute == "email_verified"
                || attribute == "phone_number_verified";
            if !known || attribute == "sub" {
                return Err(IdpError::InvalidParameter(format!(
                    "The attribute {attribute} in AttributeMapping is not an attribute of the user pool."
                )));
            }
            if claim.is_empty() || claim.len() > 131 {
                return Err(IdpError::InvalidParameter(format!(
                    "The mapping of {attribute} must name a claim of 1 to 131 characters."
                )));
            }
        }
        Ok(mapping)
    }

    async fn checked_identifiers(
        &self,
        pool_id: &str,
        provider: &str,
        identifiers: Option<Vec<String>>,
    ) -> Result<Vec<String>> {
        let identifiers = identifiers.unwrap_or_default();
        if identifiers.len() > 50 {
            return Err(IdpError::InvalidParameter("A provider takes at most 50 IdpIdentifiers.".into()));
        }
        for id in &identifiers {
            if id.is_empty() || id.len() > 40 {
                return Err(IdpError::InvalidParameter("An IdpIdentifier has 1 to 40 characters.".into()));
            }
        }
        for other in self.store.list_providers(pool_id, None, 1000).await? {
            if other.name != provider && other.idp_identifiers.iter().any(|i| identifiers.contains(i)) {
                return Err(IdpError::InvalidParameter(format!(
                    "An IdpIdentifier is used by the provider {} already.",
                    other.name
                )));
            }
        }
        Ok(identifiers)
    }

    pub async fn create_identity_provider(
        &self,
        pool_id: &str,
        name: &str,
        provider_type: &str,
        details: BTreeMap<String, String>,
        mapping: Option<BTreeMap<String, String>>,
        identifiers: Option<Vec<String>>,
    ) -> Result<IdentityProvider> {
        let pool = self.describe_pool(pool_id).await?;
        if !valid_provider_name(name) {
            return Err(IdpError::InvalidParameter(format!(
                "{name} is not a valid provider name: 1 to 32 characters, no underscore or space, not COGNITO."
            )));
        }
        if !PROVIDER_TYPES.contains(&provider_type) {
            return Err(IdpError::InvalidParameter(format!("{provider_type} is not a provider type.")));
        }
        if self.provider_names(pool_id).await?.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            return Err(IdpError::DuplicateProvider(format!(
                "A provider with the name {name} already exists in this pool"
            )));
        }
        let details = self.checked_details(provider_type, details)?;
        self.check_saml_metadata(provider_type, &details).await?;
        let attribute_mapping = self.checked_mapping(&pool, provider_type, mapping)?;
        let idp_identifiers = self.checked_identifiers(pool_id, name, identifiers).await?;
        let now = self.now_ms();
        let provider = IdentityProvider {
            pool_id: pool_id.to_string(),
            name: name.to_string(),
            provider_type: provider_type.to_string(),
            details,
            attribute_mapping,
            idp_identifiers,
            created_ms: now,
            updated_ms: now,
        };
        match self.store.insert_provider(&self.seal_provider(&provider)?).await {
            Ok(()) => Ok(provider),
            Err(StoreError::Conflict) => Err(IdpError::DuplicateProvider(format!(
                "A provider with the name {name} already exists in this pool"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// A SAML provider's metadata must read and name a signing certificate.
    async fn check_saml_metadata(
        &self,
        provider_type: &str,
        details: &BTreeMap<String, String>,
    ) -> Result<()> {
        if provider_type != "SAML" {
            return Ok(());
        }
        let xml = match (details.get("MetadataFile"), details.get("MetadataURL")) {
            (Some(file), _) => file.clone(),
            (None, Some(url)) => self.fetch_saml_metadata(url).await?,
            (None, None) => {
                return Err(IdpError::InvalidParameter("The SAML provider has no metadata.".into()));
            }
        };
        super::saml::checked_metadata(&xml).map(|_| ())
    }

    pub async fn describe_identity_provider(&self, pool_id: &str, name: &str) -> Result<IdentityProvider> {
        self.describe_pool(pool_id).await?;
        let record =
            self.store.get_provider(pool_id, name).await?.ok_or_else(|| {
                IdpError::ResourceNotFound(format!("Identity provider {name} does not exist."))
            })?;
        self.open_provider(record)
    }

    pub async fn update_identity_provider(
        &self,
        pool_id: &str,
        name: &str,
        details: Option<BTreeMap<String, String>>,
        mapping: Option<BTreeMap<String, String>>,
        identifiers: Option<Vec<String>>,
    ) -> Result<IdentityProvider> {
        let pool = self.describe_pool(pool_id).await?;
        let mut provider = self.describe_identity_provider(pool_id, name).await?;
        if let Some(d) = details {
            // Keys not given keep their values (a secret need not be resent).
            let mut merged = provider.details.clone();
            merged.extend(d);
            provider.details = self.checked_details(&provider.provider_type, merged)?;
            self.check_saml_metadata(&provider.provider_type, &provider.details).await?;
        }
        if mapping.is_some() {
            provider.attribute_mapping = self.checked_mapping(&pool, &provider.provider_type, mapping)?;
        }
        if identifiers.is_some() {
            provider.idp_identifiers = self.checked_identifiers(pool_id, name, identifiers).await?;
        }
        provider.updated_ms = self.now_ms();
        self.store.update_provider(&self.seal_provider(&provider)?).await?;
        self.forget_metadata(&provider);
        Ok(provider)
    }

    pub async fn delete_identity_provider(&self, pool_id: &str, name: &str) -> Result<()> {
        self.describe_pool(pool_id).await?;
        if !self.store.delete_provider(pool_id, name).await? {
            return Err(IdpError::ResourceNotFound(format!("Identity provider {name} does not exist.")));
        }
        Ok(())
    }

    pub async fn list_identity_providers(
        &self,
        pool_id: &str,
        max: Option<i64>,
        next: Option<&str>,
    ) -> Result<super::Page<IdentityProvider>> {
        self.describe_pool(pool_id).await?;
        let max = max.unwrap_or(60);
        if !(1..=60).contains(&max) {
            return Err(IdpError::InvalidParameter("MaxResults must be 1 to 60.".into()));
        }
        let mut records = self.store.list_providers(pool_id, next, max + 1).await?;
        let more = records.len() as i64 > max;
        records.truncate(max as usize);
        let next_token = if more { records.last().map(|r| r.name.clone()) } else { None };
        let items = records.into_iter().map(|r| self.open_provider(r)).collect::<Result<Vec<_>>>()?;
        Ok(super::Page { items, next_token })
    }

    pub async fn identity_provider_by_identifier(
        &self,
        pool_id: &str,
        identifier: &str,
    ) -> Result<IdentityProvider> {
        self.describe_pool(pool_id).await?;
        for record in self.store.list_providers(pool_id, None, 1000).await? {
            if record.idp_identifiers.iter().any(|i| i == identifier) {
                return self.open_provider(record);
            }
        }
        Err(IdpError::ResourceNotFound(format!("No identity provider has the identifier {identifier}.")))
    }

    /// Refuses a native username that a provider's federated users could
    /// take (`<Provider>_…`, in any case).
    pub(super) async fn check_not_federated_name(&self, pool_id: &str, username: &str) -> Result<()> {
        let lower = username.to_lowercase();
        for name in self.provider_names(pool_id).await? {
            if lower.starts_with(&format!("{}_", name.to_lowercase())) {
                return Err(IdpError::InvalidParameter(format!(
                    "Usernames beginning with {name}_ belong to the {name} identity provider."
                )));
            }
        }
        Ok(())
    }

    /// The names of a pool's providers (for app clients'
    /// SupportedIdentityProviders).
    pub(super) async fn provider_names(&self, pool_id: &str) -> Result<Vec<String>> {
        Ok(self.store.list_providers(pool_id, None, 1000).await?.into_iter().map(|r| r.name).collect())
    }

    /// The provider an `idp_identifier` names, among the client's.
    pub async fn provider_for_identifier(&self, pool_id: &str, identifier: &str) -> Result<Option<String>> {
        Ok(self
            .store
            .list_providers(pool_id, None, 1000)
            .await?
            .into_iter()
            .find(|r| r.idp_identifiers.iter().any(|i| i.eq_ignore_ascii_case(identifier)))
            .map(|r| r.name))
    }
}

// ---------------------------------------------------------------------------
// Signing in through a provider
// ---------------------------------------------------------------------------

impl UserPools {
    fn forget_metadata(&self, provider: &IdentityProvider) {
        if let (Some(issuer), Ok(mut cache)) =
            (provider.details.get("oidc_issuer"), self.metadata.issuers.lock())
        {
            cache.remove(issuer);
        }
    }

    /// The provider's OpenID configuration: discovered from its issuer
    /// (cached ten minutes), with explicitly configured endpoints on top.
    async fn provider_metadata(&self, provider: &IdentityProvider) -> Result<CoreProviderMetadata> {
        let issuer = provider
            .details
            .get("oidc_issuer")
            .ok_or_else(|| IdpError::InvalidParameter("The provider has no oidc_issuer.".into()))?;
        if let Ok(cache) = self.metadata.issuers.lock()
            && let Some((at, metadata)) = cache.get(issuer)
            && at.elapsed() < METADATA_TTL
        {
            return Ok(metadata.clone());
        }
        let issuer_url =
            IssuerUrl::new(issuer.clone()).map_err(|e| IdpError::InvalidParameter(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer_url, &Http(&self.upstream_http))
            .await
            .map_err(|e| upstream(format!("discovery of {issuer} failed: {e}")))?;
        if let Ok(mut cache) = self.metadata.issuers.lock() {
            cache.insert(issuer.clone(), (Instant::now(), metadata.clone()));
        }
        Ok(metadata)
    }

    /// Starts a federated sign-in: the URL of the provider's authorization
    /// endpoint, and the value of the cookie that binds the answer to this
    /// browser.
    pub async fn start_federation(
        &self,
        auth: &Authorization,
        provider_name: &str,
    ) -> Result<(String, String)> {
        let provider = self.describe_identity_provider(&auth.pool.id, provider_name).await?;
        if provider.provider_type == "SAML" {
            return self.start_saml(auth, &provider).await;
        }
        if !matches!(
            provider.provider_type.as_str(),
            "OIDC" | "Google" | "Facebook" | "LoginWithAmazon" | "SignInWithApple"
        ) {
            return Err(IdpError::UnsupportedIdentityProvider(format!(
                "Sign-in through {} providers is not available yet.",
                provider.provider_type
            )));
        }
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let binding = secrets::random_string(32, secrets::ALNUM);
        let nonce = Nonce::new_random();
        let state = FlowState {
            id: uuid::Uuid::new_v4().to_string(),
            pool: auth.pool.id.clone(),
            provider: provider.name.clone(),
            params: auth.request.to_params(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            binding: super::authorize::binding_hash(&binding),
            expires_ms: self.now_ms() + FLOW_LIFE_MS,
        };
        let plain = serde_json::to_vec(&state).map_err(|e| IdpError::Internal(e.to_string()))?;
        let sealed = URL_SAFE_NO_PAD.encode(self.master_key.seal(&plain, STATE_AAD));
        let scopes: Vec<Scope> = provider
            .details
            .get("authorize_scopes")
            .map(String::as_str)
            .unwrap_or("openid")
            .split([' ', ','])
            .filter(|s| !s.is_empty() && *s != "openid")
            .map(|s| Scope::new(s.to_string()))
            .collect();
        if matches!(provider.provider_type.as_str(), "Facebook" | "LoginWithAmazon") {
            let client = self.oauth2_client(&provider, &auth.pool.id)?;
            let (url, _) = client
                .authorize_url(move || CsrfToken::new(sealed))
                .add_scopes(scopes)
                .set_pkce_challenge(challenge)
                .url();
            return Ok((url.to_string(), binding));
        }
        let metadata = self.provider_metadata(&provider).await?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.details.get("client_id").cloned().unwrap_or_default()),
            self.client_secret_for(&provider)?,
        )
        .set_redirect_uri(self.idp_response_url(&auth.pool.id)?);
        // Apple answers requests for name or email by a form POST.
        let form_post = provider.provider_type == "SignInWithApple"
            && scopes.iter().any(|s| s.as_str() == "name" || s.as_str() == "email");
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(sealed),
                move || nonce,
            )
            .add_scopes(scopes)
            .set_pkce_challenge(challenge);
        if form_post {
            request = request.add_extra_param("response_mode", "form_post");
        }
        let (url, _, _) = request.url();
        Ok((url.to_string(), binding))
    }

    /// The client secret for the token endpoint: as configured, or for Sign
    /// in with Apple a short-lived ES256 JWT signed with the team's key.
    fn client_secret_for(&self, provider: &IdentityProvider) -> Result<Option<ClientSecret>> {
        if provider.provider_type != "SignInWithApple" {
            return Ok(provider.details.get("client_secret").map(|s| ClientSecret::new(s.clone())));
        }
        let detail = |k: &str| provider.details.get(k).cloned().unwrap_or_default();
        let key = jsonwebtoken::EncodingKey::from_ec_pem(detail("private_key").as_bytes())
            .map_err(|e| IdpError::InvalidParameter(format!("Sign in with Apple private_key: {e}")))?;
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(detail("key_id"));
        let now = self.now_ms() / 1000;
        let claims = json!({
            "iss": detail("team_id"),
            "iat": now,
            "exp": now + 300,
            "aud": detail("oidc_issuer"),
            "sub": detail("client_id"),
        });
        let secret = jsonwebtoken::encode(&header, &claims, &key)
            .map_err(|e| IdpError::Internal(format!("Sign in with Apple client secret: {e}")))?;
        Ok(Some(ClientSecret::new(secret)))
    }

    /// A plain OAuth 2.0 client (Facebook, Login with Amazon): no ID token,
    /// the user comes from the attributes endpoint.
    fn oauth2_client(
        &self,
        provider: &IdentityProvider,
        pool_id: &str,
    ) -> Result<
        oauth2::basic::BasicClient<
            oauth2::EndpointSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointSet,
        >,
    > {
        let detail = |k: &str| provider.details.get(k).cloned().unwrap_or_default();
        let bad = |e: oauth2::url::ParseError| IdpError::InvalidParameter(format!("provider endpoint: {e}"));
        Ok(oauth2::basic::BasicClient::new(oauth2::ClientId::new(detail("client_id")))
            .set_client_secret(oauth2::ClientSecret::new(detail("client_secret")))
            .set_auth_uri(oauth2::AuthUrl::new(detail("authorize_url")).map_err(bad)?)
            .set_token_uri(oauth2::TokenUrl::new(detail("token_url")).map_err(bad)?)
            .set_auth_type(oauth2::AuthType::RequestBody)
            .set_redirect_uri(
                oauth2::RedirectUrl::new(format!("{}/oauth2/idpresponse", self.issuer(pool_id)))
                    .map_err(bad)?,
            ))
    }

    /// The claims of a plain OAuth 2.0 sign-in: the code exchanged, the
    /// attributes endpoint read with the access token.
    async fn oauth2_claims(
        &self,
        provider: &IdentityProvider,
        pool_id: &str,
        code: &str,
        verifier: &str,
    ) -> Result<Map<String, Value>> {
        use oauth2::TokenResponse as _;
        let client = self.oauth2_client(provider, pool_id)?;
        let tokens = client
            .exchange_code(oauth2::AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(oauth2::PkceCodeVerifier::new(verifier.to_string()))
            .request_async(&Http(&self.upstream_http))
            .await
            .map_err(|e| upstream(format!("the code exchange failed: {e}")))?;
        let mut url = provider.details.get("attributes_url").cloned().unwrap_or_default();
        if provider.details.get("attributes_url_add_attributes").map(String::as_str) == Some("true") {
            // Facebook names the fields it should return.
            let mut fields: Vec<&str> = provider.attribute_mapping.values().map(String::as_str).collect();
            fields.sort_unstable();
            fields.dedup();
            url.push_str(&fields.join(","));
        }
        let info = self
            .upstream_user_info(provider, Some(url), tokens.access_token().secret())
            .await?
            .ok_or_else(|| upstream("the attributes endpoint returned no object".into()))?;
        Ok(info)
    }

    fn idp_response_url(&self, pool_id: &str) -> Result<RedirectUrl> {
        RedirectUrl::new(format!("{}/oauth2/idpresponse", self.issuer(pool_id)))
            .map_err(|e| IdpError::Internal(e.to_string()))
    }

    /// The provider's answer at `oauth2/idpresponse`: checks the state and
    /// its browser binding, exchanges the code, verifies the ID token, maps
    /// the claims and finds, links or creates the user.
    pub async fn finish_federation(
        &self,
        pool_id: &str,
        query: &BTreeMap<String, String>,
        binding_cookie: Option<&str>,
    ) -> Result<FederatedSignIn> {
        let refused = |m: &str| {
            tracing::warn!(target: "audit", pool = %pool_id, reason = m, "a federated sign-in answer was refused");
            IdpError::NotAuthorized(m.to_string())
        };
        let sealed = query.get("state").ok_or_else(|| refused("The provider's answer has no state."))?;
        let plain = URL_SAFE_NO_PAD
            .decode(sealed)
            .ok()
            .and_then(|b| self.master_key.open(&b, STATE_AAD).ok())
            .ok_or_else(|| refused("The provider's answer carries a state this server did not make."))?;
        let state: FlowState =
            serde_json::from_slice(&plain).map_err(|_| refused("The state does not read."))?;
        if state.pool != pool_id || state.expires_ms < self.now_ms() {
            return Err(refused("The sign-in took too long or belongs elsewhere; start again."));
        }
        if !super::authorize::binding_matches(binding_cookie, &state.binding) {
            return Err(refused("This sign-in was not started in this browser; start again."));
        }
        if let Some(error) = query.get("error") {
            let description = query.get("error_description").cloned().unwrap_or_default();
            tracing::info!(target: "audit", pool = %pool_id, provider = %state.provider, error = %error, "the provider refused the sign-in");
            return Err(refused(&format!(
                "The identity provider refused the sign-in ({error}) {description}"
            )));
        }
        let code = query.get("code").ok_or_else(|| refused("The provider's answer has no code."))?;
        // The state is single-use, on every instance.
        self.store
            .consume_session(&state.id, state.expires_ms, self.now_ms())
            .await?
            .then_some(())
            .ok_or_else(|| refused("This sign-in answer was used already."))?;
        let authorization = self
            .check_authorize(pool_id, &state.params)
            .await
            .map_err(|_| refused("The application's sign-in request is no longer valid."))?;
        if !super::authorize::client_providers(&authorization.client).contains(&state.provider) {
            return Err(refused("The application does not allow this identity provider."));
        }
        let provider = self.describe_identity_provider(pool_id, &state.provider).await?;
        if matches!(provider.provider_type.as_str(), "Facebook" | "LoginWithAmazon") {
            let claims = self.oauth2_claims(&provider, pool_id, code, &state.verifier).await?;
            let (user, _) = self.federated_user(&authorization.pool, &provider, &claims).await?;
            if !user.enabled {
                return Err(IdpError::NotAuthorized("User is disabled.".into()));
            }
            let auth_time = self.now_ms() / 1000;
            return Ok(FederatedSignIn { authorization, user, auth_time, provider: provider.name.clone() });
        }
        let metadata = self.provider_metadata(&provider).await?;
        let advertised: Vec<CoreJwsSigningAlgorithm> = metadata
            .id_token_signing_alg_values_supported()
            .iter()
            .filter(|a| ALLOWED_ALGS.contains(a))
            .cloned()
            .collect();
        // Client authentication as the provider advertises it: Basic unless
        // it offers only client_secret_post (Apple does).
        let post_only = metadata.token_endpoint_auth_methods_supported().is_some_and(|methods| {
            use openidconnect::core::CoreClientAuthMethod as M;
            !methods.contains(&M::ClientSecretBasic) && methods.contains(&M::ClientSecretPost)
        });
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.details.get("client_id").cloned().unwrap_or_default()),
            self.client_secret_for(&provider)?,
        )
        .set_redirect_uri(self.idp_response_url(pool_id)?)
        .set_auth_type(if post_only {
            openidconnect::AuthType::RequestBody
        } else {
            openidconnect::AuthType::BasicAuth
        });
        let http = Http(&self.upstream_http);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.clone()))
            .map_err(|e| upstream(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(state.verifier.clone()))
            .request_async(&http)
            .await
            .map_err(|e| upstream(format!("the code exchange failed: {e}")))?;
        let id_token =
            tokens.id_token().ok_or_else(|| upstream("the provider returned no ID token".into()))?;
        let verifier = client.id_token_verifier().set_allowed_algs(if advertised.is_empty() {
            vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]
        } else {
            advertised
        });
        id_token.claims(&verifier, &Nonce::new(state.nonce.clone())).map_err(|e| {
            tracing::warn!(target: "audit", pool = %pool_id, provider = %provider.name, error = %e, "an upstream ID token was refused");
            refused("The identity provider's token did not verify.")
        })?;
        let mut claims = payload_claims(&id_token.to_string());
        let discovered = client.user_info_url().map(|u| u.to_string());
        if let Some(info) =
            self.upstream_user_info(&provider, discovered, tokens.access_token().secret()).await?
            && info.get("sub") == claims.get("sub")
        {
            claims.extend(info);
        }
        // Apple sends the user's name once, beside the code, not as claims.
        if provider.provider_type == "SignInWithApple"
            && let Some(Value::Object(user)) = query.get("user").and_then(|u| serde_json::from_str(u).ok())
            && let Some(Value::Object(name)) = user.get("name")
        {
            let part = |k: &str| name.get(k).and_then(Value::as_str).map(str::to_string);
            let (given, family) = (part("firstName"), part("lastName"));
            if let Some(g) = &given {
                claims.entry("given_name".to_string()).or_insert_with(|| json!(g));
            }
            if let Some(f) = &family {
                claims.entry("family_name".to_string()).or_insert_with(|| json!(f));
            }
            let full: Vec<String> = [given, family].into_iter().flatten().collect();
            if !full.is_empty() {
                claims.entry("name".to_string()).or_insert_with(|| json!(full.join(" ")));
            }
        }
        let (user, _) = self.federated_user(&authorization.pool, &provider, &claims).await?;
        if !user.enabled {
            return Err(IdpError::NotAuthorized("User is disabled.".into()));
        }
        let auth_time = self.now_ms() / 1000;
        Ok(FederatedSignIn { authorization, user, auth_time, provider: provider.name.clone() })
    }

    /// The provider's userInfo claims, when it has a userInfo endpoint.
    async fn upstream_user_info(
        &self,
        provider: &IdentityProvider,
        url: Option<String>,
        access_token: &str,
    ) -> Result<Option<Map<String, Value>>> {
        let Some(url) = url else { return Ok(None) };
        let request = if provider.details.get("attributes_request_method").map(String::as_str) == Some("POST")
        {
            self.upstream_http.post(&url)
        } else {
            self.upstream_http.get(&url)
        };
        let response = request
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(|e| upstream(format!("userInfo request failed: {e}")))?;
        if !response.status().is_success() {
            return Err(upstream(format!("userInfo answered {}", response.status())));
        }
        let bytes = response.bytes().await.map_err(|e| upstream(format!("userInfo did not arrive: {e}")))?;
        let body: Value =
            serde_json::from_slice(&bytes).map_err(|e| upstream(format!("userInfo is not JSON: {e}")))?;
        Ok(match body {
            Value::Object(m) => Some(m),
            _ => None,
        })
    }

    /// The user a provider's claims stand for: a linked native user, or the
    /// federated user `<Provider>_<subject>`, created on first sign-in, its
    /// mapped attributes refreshed on every one.
    pub(super) async fn federated_user(
        &self,
        pool: &UserPool,
        provider: &IdentityProvider,
        claims: &Map<String, Value>,
    ) -> Result<(User, bool)> {
        let subject_claim = provider.attribute_mapping.get("username").map(String::as_str).unwrap_or("sub");
        let subject = claims
            .get(subject_claim)
            .and_then(claim_text)
            .filter(|s| !s.is_empty() && s.len() <= 128)
            .ok_or_else(|| upstream(format!("the provider's claims have no {subject_claim}")))?;
        let identity = json!({
            "userId": subject,
            "providerName": provider.name,
            "providerType": provider.provider_type,
            "issuer": provider.details.get("oidc_issuer"),
            "primary": "true",
            "dateCreated": self.now_ms().to_string(),
        });
        if let Some(link) = self.store.get_link(&pool.id, &provider.name, &subject).await?
            && let Some(mut native) = self.store.get_user(&pool.id, &link.username_key).await?
        {
            add_identity(&mut native, &identity);
            native.updated_ms = self.now_ms();
            self.store.update_user(&native).await?;
            return Ok((native, false));
        }
        let mut mapped: Vec<(String, String)> = Vec::new();
        for (attribute, claim) in &provider.attribute_mapping {
            if attribute == "username" {
                continue;
            }
            if let Some(v) = claims.get(claim).and_then(claim_text) {
                mapped.push((attribute.clone(), v));
            }
        }
        let mut attributes = check_attributes(pool, &mapped, Writer::Admin)?;
        let username = format!("{}_{}", provider.name, subject);
        let key = username_key(pool, &username);
        let now = self.now_ms();
        match self.store.get_user(&pool.id, &key).await? {
            Some(mut user) => {
                // Only the federated user of this very identity: a native
                // user who picked the name `<Provider>_<subject>` must never
                // be signed in by the provider.
                let ours = user.status == UserStatus::EXTERNAL_PROVIDER
                    && has_identity(&user, &provider.name, &subject);
                if !ours {
                    tracing::warn!(target: "audit", pool = %pool.id, provider = %provider.name,
                        "a federated sign-in met a user of the same name that is not that identity");
                    return Err(IdpError::NotAuthorized(
                        "The identity provider's user cannot be signed in here; ask an administrator.".into(),
                    ));
                }
                user.attributes.extend(attributes);
                add_identity(&mut user, &identity);
                user.updated_ms = now;
                self.store.update_user(&user).await?;
                Ok((user, false))
            }
            None => {
                check_required(pool, &attributes)?;
                let sub = uuid::Uuid::new_v4().to_string();
                attributes.insert("sub".into(), sub.clone());
                let mut user =
                    User::fresh(&pool.id, key, username, sub, UserStatus::EXTERNAL_PROVIDER, attributes, now);
                add_identity(&mut user, &identity);
                match self.store.insert_user(&user, &[]).await {
                    Ok(()) => Ok((user, true)),
                    Err(StoreError::Conflict) => {
                        // Another instance created it in the meantime.
                        let user = self
                            .store
                            .get_user(&pool.id, &user.username_key)
                            .await?
                            .ok_or_else(|| IdpError::Internal("federated user vanished".into()))?;
                        Ok((user, false))
                    }
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    /// AdminLinkProviderForUser: a provider's subject signs in as the
    /// native user from now on.
    pub async fn admin_link_provider(
        &self,
        pool_id: &str,
        destination: (&str, &str),
        source: (&str, &str, &str),
    ) -> Result<()> {
        let pool = self.describe_pool(pool_id).await?;
        let (dest_provider, dest_user) = destination;
        let (src_provider, src_attribute, src_value) = source;
        if !dest_provider.eq_ignore_ascii_case("cognito") {
            return Err(IdpError::InvalidParameter("DestinationUser must be a Cognito user.".into()));
        }
        if src_attribute != "Cognito_Subject" {
            return Err(IdpError::InvalidParameter(
                "SourceUser.ProviderAttributeName must be Cognito_Subject for OIDC and social providers."
                    .into(),
            ));
        }
        self.describe_identity_provider(pool_id, src_provider).await?;
        let native = self
            .find_user(&pool, dest_user)
            .await?
            .filter(|u| u.status != UserStatus::EXTERNAL_PROVIDER)
            .ok_or_else(|| IdpError::UserNotFound("User does not exist.".into()))?;
        let federated = username_key(&pool, &format!("{src_provider}_{src_value}"));
        if self.store.get_user(pool_id, &federated).await?.is_some() {
            return Err(IdpError::InvalidParameter(
                "Merging is not currently supported, provide a SourceUser that has not been used to sign into the \
                 user pool."
                    .into(),
            ));
        }
        let link = ProviderLink {
            pool_id: pool_id.to_string(),
            provider_name: src_provider.to_string(),
            provider_subject: src_value.to_string(),
            username_key: native.username_key.clone(),
            created_ms: self.now_ms(),
        };
        match self.store.insert_link(&link).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict) => {
                Err(IdpError::AliasExists("The source user is linked to a user already.".into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// AdminDisableProviderForUser: the link goes, and a federated user of
    /// that subject is disabled.
    pub async fn admin_disable_provider(
        &self,
        pool_id: &str,
        provider: &str,
        attribute: &str,
        value: &str,
    ) -> Result<()> {
        let pool = self.describe_pool(pool_id).await?;
        if attribute != "Cognito_Subject" {
            return Err(IdpError::InvalidParameter(
                "User.ProviderAttributeName must be Cognito_Subject.".into(),
            ));
        }
        self.describe_identity_provider(pool_id, provider).await?;
        let unlinked = self.store.delete_link(pool_id, provider, value).await?;
        let key = username_key(&pool, &format!("{provider}_{value}"));
        let disabled = match self.store.get_user(pool_id, &key).await? {
            Some(mut user) => {
                user.enabled = false;
                user.updated_ms = self.now_ms();
                self.store.update_user(&user).await?;
                true
            }
            None => false,
        };
        if !unlinked && !disabled {
            return Err(IdpError::UserNotFound("User does not exist.".into()));
        }
        Ok(())
    }
}

/// Whether the user carries this provider identity.
fn has_identity(user: &User, provider: &str, subject: &str) -> bool {
    user.attributes
        .get("identities")
        .and_then(|s| serde_json::from_str::<Vec<Value>>(s).ok())
        .is_some_and(|list| list.iter().any(|v| v["providerName"] == provider && v["userId"] == subject))
}

/// Adds (or refreshes) one identity in the user's `identities` attribute.
fn add_identity(user: &mut User, identity: &Value) {
    let mut list: Vec<Value> =
        user.attributes.get("identities").and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
    let same = |v: &Value| v["providerName"] == identity["providerName"] && v["userId"] == identity["userId"];
    match list.iter_mut().find(|v| same(v)) {
        Some(existing) => {
            let created = existing["dateCreated"].clone();
            *existing = identity.clone();
            existing["dateCreated"] = created;
        }
        None => list.push(identity.clone()),
    }
    user.attributes.insert("identities".into(), Value::Array(list).to_string());
}

fn upstream(message: String) -> IdpError {
    tracing::warn!(target: "audit", error = %message, "a federated sign-in failed");
    IdpError::NotAuthorized("The identity provider could not complete the sign-in.".into())
}
