//! Verifying the web-identity tokens that come in (user-pool ID tokens,
//! any registered OpenID Connect provider's ID tokens, the broker's own
//! OpenID tokens) and signing the broker's own.
//!
//! The broker trusts a Cirrus user pool as it trusts any OIDC provider: by
//! issuer and JWKS. In one process the binary hands it a
//! [`UserPoolDirectory`] that reads the pool keys directly; OIDC providers'
//! keys are found by discovery and cached, refetched when a token names a
//! key the cache does not have (rotation), at most every few seconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrets::MasterKey;
use serde_json::{Map, Value};

use crate::store::BrokerStore;

/// How long fetched provider keys are trusted before a refetch.
const JWKS_TTL: Duration = Duration::from_secs(600);
/// The least time between two refetches for an unknown `kid`.
const REFETCH_EVERY: Duration = Duration::from_secs(5);
/// Clock skew allowed on `exp`, `nbf`, `iat`.
const LEEWAY_SECONDS: u64 = 300;

pub type Claims = Map<String, Value>;

/// The user pools of this deployment, as the broker needs them.
#[async_trait]
pub trait UserPoolDirectory: Send + Sync {
    /// The pool's issuer and JWKS (`{"keys": [...]}`), or None when there is
    /// no such pool.
    async fn user_pool_keys(&self, pool_id: &str) -> Result<Option<(String, Value)>, String>;
    /// `ServerSideTokenCheck`: whether the user an ID token names still
    /// exists, is enabled, and was not signed out since.
    async fn sign_in_active(&self, pool_id: &str, claims: &Claims) -> Result<bool, String>;
    /// Checks SAML metadata (readable, with a signing certificate).
    async fn check_saml_metadata(&self, metadata: &str) -> Result<(), String>;
    /// Verifies a base64 SAML response addressed to AWS against an IdP's
    /// metadata (signature, audience, recipient, validity, replay): the
    /// subject (NameID), the issuer and the attributes. `Err(None)` for a
    /// response that does not verify, `Err(Some(_))` for a failure here.
    async fn verify_saml(&self, metadata: &str, response: &str) -> Result<SamlLogin, Option<String>>;
}

/// A verified SAML login (see [`UserPoolDirectory::verify_saml`]).
#[derive(Debug, Clone)]
pub struct SamlLogin {
    pub subject: String,
    pub issuer: String,
    pub attributes: Claims,
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFailure {
    Invalid(String),
    Expired,
    /// The provider's keys could not be fetched.
    Unreachable(String),
}

struct CachedKeys {
    fetched: Instant,
    keys: JwkSet,
}

/// Verifies JWTs against issuers' keys.
pub struct TokenVerifier {
    user_pools: Option<Arc<dyn UserPoolDirectory>>,
    http: reqwest::Client,
    cache: Mutex<HashMap<String, CachedKeys>>,
    refetch_every: Duration,
}

impl TokenVerifier {
    pub fn new(user_pools: Option<Arc<dyn UserPoolDirectory>>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self { user_pools, http, cache: Mutex::new(HashMap::new()), refetch_every: REFETCH_EVERY }
    }

    /// A user-pool ID token: RS256 with the pool's keys, the pool's issuer,
    /// `token_use` = id, `aud` one of `clients` (any when empty).
    pub async fn verify_user_pool(
        &self,
        pool_id: &str,
        token: &str,
        clients: &[String],
    ) -> Result<Claims, TokenFailure> {
        let directory =
            self.user_pools.as_ref().ok_or_else(|| TokenFailure::Invalid("no user pools here".into()))?;
        let (issuer, jwks) = directory
            .user_pool_keys(pool_id)
            .await
            .map_err(TokenFailure::Unreachable)?
            .ok_or_else(|| TokenFailure::Invalid(format!("no user pool {pool_id}")))?;
        let keys: JwkSet =
            serde_json::from_value(jwks).map_err(|e| TokenFailure::Unreachable(format!("pool JWKS: {e}")))?;
        let claims = verify_jwt(token, &keys, &issuer, clients, &[Algorithm::RS256])?;
        if claims.get("token_use").and_then(Value::as_str) != Some("id") {
            return Err(TokenFailure::Invalid("not an ID token".into()));
        }
        Ok(claims)
    }

    /// `ServerSideTokenCheck` of a verified user-pool ID token.
    pub async fn user_pool_sign_in_active(
        &self,
        pool_id: &str,
        claims: &Claims,
    ) -> Result<bool, TokenFailure> {
        match &self.user_pools {
            Some(d) => d.sign_in_active(pool_id, claims).await.map_err(TokenFailure::Unreachable),
            None => Ok(false),
        }
    }

    /// A SAML response for a SAML provider registered with IAM.
    pub async fn verify_saml(&self, metadata: &str, response: &str) -> Result<SamlLogin, TokenFailure> {
        let directory =
            self.user_pools.as_ref().ok_or_else(|| TokenFailure::Invalid("no SAML verifier here".into()))?;
        directory.verify_saml(metadata, response).await.map_err(|e| match e {
            None => TokenFailure::Invalid("the SAML response did not verify".into()),
            Some(m) => TokenFailure::Unreachable(m),
        })
    }

    /// SAML metadata fit to register.
    pub async fn check_saml_metadata(&self, metadata: &str) -> Result<(), String> {
        match &self.user_pools {
            Some(d) => d.check_saml_metadata(metadata).await,
            None => Err("SAML is not available here".into()),
        }
    }

    /// An OpenID Connect provider's ID token: keys by discovery from
    /// `issuer`, `aud` (or `azp`) one of `clients` (any when empty).
    pub async fn verify_oidc(
        &self,
        issuer: &str,
        token: &str,
        clients: &[String],
    ) -> Result<Claims, TokenFailure> {
        let kid = jsonwebtoken::decode_header(token)
            .map_err(|e| TokenFailure::Invalid(format!("header: {e}")))?
            .kid;
        let keys = self.provider_keys(issuer, kid.as_deref()).await?;
        let algorithms = [
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::PS256,
        ];
        verify_jwt(token, &keys, issuer, clients, &algorithms)
    }

    async fn provider_keys(&self, issuer: &str, kid: Option<&str>) -> Result<JwkSet, TokenFailure> {
        let cached = {
            let cache = self.cache.lock().map_err(|_| TokenFailure::Unreachable("key cache".into()))?;
            cache.get(issuer).map(|c| (c.fetched, c.keys.clone()))
        };
        if let Some((fetched, keys)) = cached {
            let fresh = fetched.elapsed() < JWKS_TTL;
            let has_kid = kid.is_none_or(|k| keys.find(k).is_some());
            if fresh && (has_kid || fetched.elapsed() < self.refetch_every) {
                return Ok(keys);
            }
        }
        let keys = self.fetch_keys(issuer).await?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(issuer.to_string(), CachedKeys { fetched: Instant::now(), keys: keys.clone() });
        }
        Ok(keys)
    }

    async fn fetch_keys(&self, issuer: &str) -> Result<JwkSet, TokenFailure> {
        let unreachable = |e: reqwest::Error| TokenFailure::Unreachable(format!("{issuer}: {e}"));
        let discovery = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let config: Value = self
            .http
            .get(&discovery)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unreachable)?
            .json()
            .await
            .map_err(unreachable)?;
        if config.get("issuer").and_then(Value::as_str) != Some(issuer) {
            return Err(TokenFailure::Unreachable(format!("{discovery} names another issuer")));
        }
        let jwks_uri = config
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| TokenFailure::Unreachable(format!("{discovery} has no jwks_uri")))?;
        self.http
            .get(jwks_uri)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unreachable)?
            .json()
            .await
            .map_err(unreachable)
    }
}

/// Checks signature (with an algorithm from `algorithms`, matching the
/// key's), issuer, times and audience; returns the claims.
pub fn verify_jwt(
    token: &str,
    keys: &JwkSet,
    issuer: &str,
    audiences: &[String],
    algorithms: &[Algorithm],
) -> Result<Claims, TokenFailure> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| TokenFailure::Invalid(format!("header: {e}")))?;
    if !algorithms.contains(&header.alg) {
        return Err(TokenFailure::Invalid(format!("algorithm {:?} is not accepted", header.alg)));
    }
    let jwk = match &header.kid {
        Some(kid) => keys.find(kid),
        None if keys.keys.len() == 1 => keys.keys.first(),
        None => None,
    }
    .ok_or_else(|| TokenFailure::Invalid("signed with an unknown key".into()))?;
    if let Some(alg) = jwk.common.key_algorithm
        && format!("{alg:?}") != format!("{:?}", header.alg)
    {
        return Err(TokenFailure::Invalid("the token's algorithm is not its key's".into()));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| TokenFailure::Invalid(format!("key: {e}")))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.validate_aud = false;
    validation.validate_nbf = true;
    validation.leeway = LEEWAY_SECONDS;
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => TokenFailure::Expired,
            _ => TokenFailure::Invalid(e.to_string()),
        })?
        .claims;
    if !audiences.is_empty() {
        let mut token_audiences: Vec<&str> = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if let Some(azp) = claims.get("azp").and_then(Value::as_str) {
            token_audiences.push(azp);
        }
        if !token_audiences.iter().any(|a| audiences.iter().any(|c| c == a)) {
            return Err(TokenFailure::Invalid("the token's audience is not a client of this pool".into()));
        }
    }
    Ok(claims)
}

/// The broker's own RSA key, which signs its OpenID tokens.
pub struct BrokerKey {
    pub kid: String,
    encoding: EncodingKey,
    pub jwks: JwkSet,
}

impl BrokerKey {
    /// The newest stored key, made (and stored sealed) on first use.
    pub async fn load_or_create(
        store: &dyn BrokerStore,
        master: &MasterKey,
        now_ms: i64,
    ) -> Result<Self, String> {
        let mut stored = store.signing_keys().await.map_err(|e| e.to_string())?;
        if stored.is_empty() {
            let der = tokio::task::spawn_blocking(|| -> Result<Vec<u8>, String> {
                let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|e| format!("RSA keygen: {e}"))?;
                Ok(pair.as_der().map_err(|e| format!("RSA key DER: {e}"))?.as_ref().to_vec())
            })
            .await
            .map_err(|e| e.to_string())??;
            let kid = format!("broker-{}", secrets::random_string(16, secrets::ALNUM));
            // Another instance may have made one meanwhile: then use the stored one.
            let _ = store.insert_signing_key(&kid, &master.seal(&der, kid.as_bytes()), now_ms).await;
            stored = store.signing_keys().await.map_err(|e| e.to_string())?;
        }
        let mut keys = Vec::new();
        let mut newest = None;
        for (kid, sealed, _) in &stored {
            let der = master.open(sealed, kid.as_bytes()).map_err(|e| format!("broker key {kid}: {e}"))?;
            let encoding =
                EncodingKey::from_rsa_pem(secrets::pkcs8_pem(&der).as_bytes()).map_err(|e| e.to_string())?;
            let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).map_err(|e| e.to_string())?;
            jwk.common.key_id = Some(kid.clone());
            jwk.common.public_key_use = Some(PublicKeyUse::Signature);
            keys.push(jwk);
            newest = Some((kid.clone(), encoding));
        }
        let (kid, encoding) = newest.ok_or("no broker key")?;
        Ok(Self { kid, encoding, jwks: JwkSet { keys } })
    }

    pub fn sign(&self, claims: &Value) -> Result<String, String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::extract::State;
    use axum::routing::get;
    use serde_json::json;

    use super::*;

    struct Issuer {
        base: String,
        keys: Mutex<Vec<Jwk>>,
        fetches: AtomicUsize,
    }

    fn key(kid: &str) -> (EncodingKey, Jwk) {
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let encoding =
            EncodingKey::from_rsa_pem(secrets::pkcs8_pem(pair.as_der().unwrap().as_ref()).as_bytes())
                .unwrap();
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).unwrap();
        jwk.common.key_id = Some(kid.into());
        (encoding, jwk)
    }

    fn token(key: &EncodingKey, kid: &str, iss: &str, aud: &str, exp_in: i64) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.into());
        let claims = json!({"iss": iss, "sub": "user-1", "aud": aud, "iat": now, "exp": now + exp_in});
        jsonwebtoken::encode(&header, &claims, key).unwrap()
    }

    async fn serve() -> Arc<Issuer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let issuer = Arc::new(Issuer { base, keys: Mutex::new(Vec::new()), fetches: AtomicUsize::new(0) });
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(|State(i): State<Arc<Issuer>>| async move {
                    axum::Json(json!({"issuer": i.base, "jwks_uri": format!("{}/jwks", i.base)}))
                }),
            )
            .route(
                "/jwks",
                get(|State(i): State<Arc<Issuer>>| async move {
                    i.fetches.fetch_add(1, Ordering::SeqCst);
                    let keys = i.keys.lock().unwrap().clone();
                    axum::Json(JwkSet { keys })
                }),
            )
            .with_state(issuer.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        issuer
    }

    #[tokio::test]
    async fn oidc_keys_by_discovery_cached_and_refetched_on_rotation() {
        let issuer = serve().await;
        let (k1, j1) = key("k1");
        let (k2, j2) = key("k2");
        issuer.keys.lock().unwrap().push(j1);
        let mut verifier = TokenVerifier::new(None);
        verifier.refetch_every = Duration::ZERO;
        let clients = vec!["client-a".to_string()];
        let iss = issuer.base.clone();

        let claims =
            verifier.verify_oidc(&iss, &token(&k1, "k1", &iss, "client-a", 300), &clients).await.unwrap();
        assert_eq!(claims["sub"], "user-1");
        verifier.verify_oidc(&iss, &token(&k1, "k1", &iss, "client-a", 300), &clients).await.unwrap();
        assert_eq!(issuer.fetches.load(Ordering::SeqCst), 1, "the second token is checked against the cache");

        // Refusals: another audience, expired, another issuer, a key we never published.
        let other_aud = verifier.verify_oidc(&iss, &token(&k1, "k1", &iss, "client-b", 300), &clients).await;
        assert!(matches!(other_aud, Err(TokenFailure::Invalid(_))));
        let expired = verifier.verify_oidc(&iss, &token(&k1, "k1", &iss, "client-a", -600), &clients).await;
        assert_eq!(expired.unwrap_err(), TokenFailure::Expired);
        let wrong_iss =
            verifier.verify_oidc(&iss, &token(&k1, "k1", "http://evil", "client-a", 300), &clients).await;
        assert!(matches!(wrong_iss, Err(TokenFailure::Invalid(_))));
        let forged = token(&k2, "k1", &iss, "client-a", 300);
        assert!(matches!(verifier.verify_oidc(&iss, &forged, &clients).await, Err(TokenFailure::Invalid(_))));

        // Rotation: the issuer now signs with k2; a k2 token makes the cache refetch.
        issuer.keys.lock().unwrap().push(j2);
        let before = issuer.fetches.load(Ordering::SeqCst);
        verifier.verify_oidc(&iss, &token(&k2, "k2", &iss, "client-a", 300), &clients).await.unwrap();
        assert_eq!(issuer.fetches.load(Ordering::SeqCst), before + 1);

        // An HS256 token made with the public key as secret is refused (algorithm pinning).
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let hs = jsonwebtoken::encode(
            &header,
            &json!({"iss": iss, "sub": "x", "aud": "client-a", "exp": 4_000_000_000i64}),
            &EncodingKey::from_secret(b"public"),
        )
        .unwrap();
        assert!(matches!(verifier.verify_oidc(&iss, &hs, &clients).await, Err(TokenFailure::Invalid(_))));

        // An unreachable issuer is not an invalid token.
        let gone = verifier
            .verify_oidc(
                "http://127.0.0.1:9",
                &token(&k1, "k1", "http://127.0.0.1:9", "client-a", 300),
                &clients,
            )
            .await;
        assert!(matches!(gone, Err(TokenFailure::Unreachable(_))));
    }
}
