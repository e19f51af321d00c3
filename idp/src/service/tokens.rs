//! Per-pool signing keys, JWKS, ID/access/refresh tokens, refresh,
//! revocation and access-token checks.

use super::triggers;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::UserPools;
use super::users::username_key;
use crate::error::{IdpError, Result};
use crate::model::{AppClient, RefreshToken, SigningKey, TimeUnit, User, UserPool};

/// How long a process trusts its copy of a pool's keys; rotation by
/// another instance is seen within this time.
const KEY_CACHE_TTL: Duration = Duration::from_secs(30);
/// Retired keys stay published this long: the longest ID/access token life.
const RETIRED_KEY_GRACE_MS: i64 = 24 * 3600 * 1000;
const ADMIN_SCOPE: &str = "aws.cognito.signin.user.admin";

/// A pool's keys, ready to sign and verify.
struct PoolKeys {
    signing: (String, EncodingKey),
    verifying: HashMap<String, DecodingKey>,
    jwks: Value,
}

#[derive(Default)]
pub(super) struct KeyCache {
    pools: Mutex<HashMap<String, (Instant, Arc<PoolKeys>)>>,
}

/// What a sign-in or refresh hands out.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub id_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: i64,
    /// The scopes of an OAuth grant; `None` for the API's sign-ins.
    pub scopes: Option<String>,
}

/// The OAuth side of issuing tokens (see [`UserPools::issue_tokens_with`]).
#[derive(Debug, Clone, Default)]
pub(super) struct OAuthIssue {
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    /// A new sign-in's `origin_jti`, fixed in advance (by the code).
    pub origin_jti: Option<String>,
}

/// A verified access token.
#[derive(Debug, Clone)]
pub struct AccessContext {
    pub pool: UserPool,
    pub user: User,
    pub client_id: String,
}

fn validity_seconds(value: Option<i64>, unit: Option<TimeUnit>, default_unit: TimeUnit, default: i64) -> i64 {
    value.unwrap_or(default) * unit.unwrap_or(default_unit).seconds()
}

fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

impl UserPools {
    /// A new RSA-2048 key for the pool, sealed and stored; returns its kid.
    async fn create_signing_key(&self, pool_id: &str) -> Result<String> {
        let (der, jwk) = tokio::task::spawn_blocking(|| -> Result<(Vec<u8>, Jwk)> {
            let pair = KeyPair::generate(KeySize::Rsa2048)
                .map_err(|e| IdpError::Internal(format!("RSA keygen: {e}")))?;
            let der =
                pair.as_der().map_err(|e| IdpError::Internal(format!("RSA key DER: {e}")))?.as_ref().to_vec();
            let encoding = EncodingKey::from_rsa_pem(secrets::pkcs8_pem(&der).as_bytes())
                .map_err(|e| IdpError::Internal(format!("RSA key PEM: {e}")))?;
            let jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256)
                .map_err(|e| IdpError::Internal(format!("JWK: {e}")))?;
            Ok((der, jwk))
        })
        .await
        .map_err(|e| IdpError::Internal(format!("keygen task: {e}")))??;
        let kid = secrets::random_string(22, secrets::ALNUM);
        let mut jwk = jwk;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let public_jwk = serde_json::to_string(&jwk).map_err(|e| IdpError::Internal(e.to_string()))?;
        self.store
            .insert_signing_key(&SigningKey {
                kid: kid.clone(),
                pool_id: pool_id.to_string(),
                private_key_sealed: self.master_key.seal(&der, kid.as_bytes()),
                public_jwk,
                created_ms: self.now_ms(),
                retired_ms: None,
            })
            .await?;
        Ok(kid)
    }

    /// Rotation: a new key signs from now on; older keys stay in the JWKS
    /// until every token they signed has expired.
    pub async fn rotate_signing_key(&self, pool_id: &str) -> Result<String> {
        self.describe_pool(pool_id).await?;
        let kid = self.create_signing_key(pool_id).await?;
        self.store.retire_signing_keys(pool_id, &kid, self.now_ms()).await?;
        self.keys.pools.lock().map_err(|_| IdpError::Internal("key cache poisoned".into()))?.remove(pool_id);
        Ok(kid)
    }

    async fn pool_keys(&self, pool_id: &str, fresh: bool) -> Result<Arc<PoolKeys>> {
        if !fresh {
            let cache =
                self.keys.pools.lock().map_err(|_| IdpError::Internal("key cache poisoned".into()))?;
            if let Some((at, keys)) = cache.get(pool_id)
                && at.elapsed() < KEY_CACHE_TTL
            {
                return Ok(keys.clone());
            }
        }
        let mut stored = self.store.signing_keys(pool_id).await?;
        if !stored.iter().any(|k| k.retired_ms.is_none()) {
            self.create_signing_key(pool_id).await?;
            stored = self.store.signing_keys(pool_id).await?;
        }
        let now = self.now_ms();
        let active = stored
            .iter()
            .find(|k| k.retired_ms.is_none())
            .ok_or_else(|| IdpError::Internal(format!("pool {pool_id} has no signing key")))?;
        let der = self
            .master_key
            .open(&active.private_key_sealed, active.kid.as_bytes())
            .map_err(|e| IdpError::Internal(format!("signing key {}: {e}", active.kid)))?;
        let signing = EncodingKey::from_rsa_pem(secrets::pkcs8_pem(&der).as_bytes())
            .map_err(|e| IdpError::Internal(format!("signing key {}: {e}", active.kid)))?;
        let mut verifying = HashMap::new();
        let mut published = Vec::new();
        for key in stored.iter().filter(|k| k.retired_ms.is_none_or(|r| r + RETIRED_KEY_GRACE_MS > now)) {
            let jwk: Jwk =
                serde_json::from_str(&key.public_jwk).map_err(|e| IdpError::Internal(e.to_string()))?;
            verifying.insert(
                key.kid.clone(),
                DecodingKey::from_jwk(&jwk)
                    .map_err(|e| IdpError::Internal(format!("JWK {}: {e}", key.kid)))?,
            );
            published.push(serde_json::to_value(&jwk).map_err(|e| IdpError::Internal(e.to_string()))?);
        }
        let keys = Arc::new(PoolKeys {
            signing: (active.kid.clone(), signing),
            verifying,
            jwks: json!({ "keys": published }),
        });
        self.keys
            .pools
            .lock()
            .map_err(|_| IdpError::Internal("key cache poisoned".into()))?
            .insert(pool_id.to_string(), (Instant::now(), keys.clone()));
        Ok(keys)
    }

    /// `{"keys": [...]}` for `<issuer>/.well-known/jwks.json`.
    pub async fn jwks(&self, pool_id: &str) -> Result<Value> {
        self.describe_pool(pool_id).await?;
        Ok(self.pool_keys(pool_id, false).await?.jwks.clone())
    }

    fn sign(&self, keys: &PoolKeys, claims: &Value) -> Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = None;
        header.kid = Some(keys.signing.0.clone());
        jsonwebtoken::encode(&header, claims, &keys.signing.1)
            .map_err(|e| IdpError::Internal(format!("signing: {e}")))
    }

    /// Signs an ID and an access token for `user`; with `refresh` a new
    /// refresh token too (a sign-in), else the `origin_jti` of the refresh
    /// token being used.
    pub(super) async fn issue_tokens(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        auth_time: i64,
        origin: Option<String>,
    ) -> Result<Tokens> {
        self.issue_tokens_with(pool, client, user, auth_time, origin, None).await
    }

    /// The end of a sign-in: tokens, or in the hosted UI the signed-in user.
    pub(super) async fn signed_in(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        auth_time: i64,
    ) -> Result<super::AuthOutcome> {
        if super::hosted_ui() {
            return Ok(super::AuthOutcome::SignedIn { user: Box::new(user.clone()), auth_time });
        }
        Ok(super::AuthOutcome::Tokens(self.issue_tokens(pool, client, user, auth_time, None).await?))
    }

    /// [`Self::issue_tokens`], for an OAuth grant when `oauth` is given:
    /// the access token carries the granted scopes and `version` 2, the ID
    /// token `at_hash` and, on the first issue, the authorization request's
    /// `nonce`.
    pub(super) async fn issue_tokens_with(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        auth_time: i64,
        origin: Option<String>,
        oauth: Option<&OAuthIssue>,
    ) -> Result<Tokens> {
        let keys = self.pool_keys(&pool.id, false).await?;
        let now_ms = self.now_ms();
        let iat = now_ms / 1000;
        let s = &client.settings;
        let units = s.token_validity_units.clone().unwrap_or_default();
        let access_life = validity_seconds(s.access_token_validity, units.access_token, TimeUnit::hours, 1);
        let id_life = validity_seconds(s.id_token_validity, units.id_token, TimeUnit::hours, 1);
        let refresh_life =
            validity_seconds(s.refresh_token_validity, units.refresh_token, TimeUnit::days, 30);
        let issuer = self.issuer(&pool.id);
        let new_sign_in = origin.is_none();
        // One event per sign-in or refresh, named in both tokens.
        let event_id = uuid::Uuid::new_v4().to_string();
        let origin_jti = origin
            .or_else(|| oauth.and_then(|o| o.origin_jti.clone()))
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let scope = oauth.map(|o| o.scopes.join(" ")).unwrap_or_else(|| ADMIN_SCOPE.to_string());

        let mut groups = self.group_claims(user).await?;
        // A federated user is in the group of its provider, as in Cognito.
        if user.status == crate::model::UserStatus::EXTERNAL_PROVIDER
            && let Some((provider, _)) = user.username.split_once('_')
        {
            groups.names.push(format!("{}_{provider}", pool.id));
        }
        let mut id = Map::new();
        id.insert("sub".into(), json!(user.sub));
        if !groups.names.is_empty() {
            id.insert("cognito:groups".into(), json!(groups.names));
        }
        if !groups.roles.is_empty() {
            id.insert("cognito:roles".into(), json!(groups.roles));
        }
        if let Some(role) = &groups.preferred_role {
            id.insert("cognito:preferred_role".into(), json!(role));
        }
        for (name, value) in readable_attributes(client, user) {
            id.insert(name, value);
        }
        id.insert("iss".into(), json!(issuer));
        id.insert("cognito:username".into(), json!(user.username));
        id.insert("origin_jti".into(), json!(origin_jti));
        id.insert("aud".into(), json!(client.client_id));
        id.insert("event_id".into(), json!(event_id));
        id.insert("token_use".into(), json!("id"));
        id.insert("auth_time".into(), json!(auth_time));
        id.insert("exp".into(), json!(iat + id_life));
        id.insert("iat".into(), json!(iat));
        id.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));

        let mut access = json!({
            "sub": user.sub,
            "iss": issuer,
            "client_id": client.client_id,
            "origin_jti": origin_jti,
            "event_id": event_id,
            "token_use": "access",
            "scope": scope,
            "auth_time": auth_time,
            "exp": iat + access_life,
            "iat": iat,
            "jti": uuid::Uuid::new_v4().to_string(),
            "username": user.username,
        });
        if let (false, Value::Object(map)) = (groups.names.is_empty(), &mut access) {
            map.insert("cognito:groups".into(), json!(groups.names));
        }
        if let (Some(o), Value::Object(map)) = (oauth, &mut access) {
            map.insert("version".into(), json!(2));
            if let Some(nonce) = &o.nonce {
                id.insert("nonce".into(), json!(nonce));
            }
        }
        // PreTokenGeneration: the hook may add, override and suppress claims
        // (and, from V2_0, access-token claims and scopes) and groups.
        if let Value::Object(access_map) = &mut access {
            let version = triggers::pre_token_version(pool);
            let mut request = json!({
                "userAttributes": triggers::attributes_json(&user.attributes),
                "groupConfiguration": {
                    "groupsToOverride": groups.names,
                    "iamRolesToOverride": groups.roles,
                    "preferredRole": groups.preferred_role,
                },
                "clientMetadata": {},
            });
            if version == "2" {
                request["scopes"] = json!(scope.split(' ').filter(|s| !s.is_empty()).collect::<Vec<_>>());
            }
            let event = triggers::Event {
                trigger: triggers::Trigger::PreTokenGeneration,
                source: if new_sign_in {
                    "TokenGeneration_Authentication"
                } else {
                    "TokenGeneration_RefreshTokens"
                },
                user_name: &user.username,
                client_id: Some(&client.client_id),
                request,
                version,
            };
            if let Some(response) = self.call_hook(pool, event).await? {
                triggers::apply_pre_token(&response, &mut id, access_map);
            }
        }
        let access_token = self.sign(&keys, &access)?;
        if oauth.is_some() {
            // OIDC Core §3.1.3.6: the left half of the SHA-256 of the access token.
            let digest = Sha256::digest(access_token.as_bytes());
            let at_hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16]);
            id.insert("at_hash".into(), json!(at_hash));
        }
        let id_token = self.sign(&keys, &Value::Object(id))?;
        let refresh_token = if new_sign_in {
            let token = secrets::random_string(96, secrets::ALNUM);
            self.store
                .insert_refresh_token(&RefreshToken {
                    token_hash: hash_token(&token),
                    pool_id: pool.id.clone(),
                    client_id: client.client_id.clone(),
                    username_key: user.username_key.clone(),
                    origin_jti,
                    auth_time,
                    created_ms: now_ms,
                    expires_ms: now_ms + refresh_life * 1000,
                    revoked_ms: None,
                    scopes: oauth.map(|o| o.scopes.join(" ")),
                })
                .await?;
            Some(token)
        } else {
            None
        };
        Ok(Tokens {
            access_token,
            id_token,
            refresh_token,
            expires_in: access_life,
            scopes: oauth.map(|o| o.scopes.join(" ")),
        })
    }

    /// REFRESH_TOKEN_AUTH and GetTokensFromRefreshToken: new ID and access
    /// tokens for the same sign-in (same `auth_time` and `origin_jti`).
    pub(super) async fn refresh(
        &self,
        pool: &UserPool,
        client: &AppClient,
        refresh_token: &str,
        client_proof: RefreshProof<'_>,
    ) -> Result<Tokens> {
        let invalid = || IdpError::NotAuthorized("Invalid Refresh Token".into());
        let stored = self.store.get_refresh_token(&hash_token(refresh_token)).await?.ok_or_else(invalid)?;
        if stored.client_id != client.client_id || stored.pool_id != pool.id {
            return Err(invalid());
        }
        if stored.revoked_ms.is_some() {
            return Err(IdpError::NotAuthorized("Refresh Token has been revoked".into()));
        }
        if stored.expires_ms < self.now_ms() {
            return Err(IdpError::NotAuthorized("Refresh Token has expired".into()));
        }
        let user = self.store.get_user(&pool.id, &stored.username_key).await?.ok_or_else(invalid)?;
        match client_proof {
            RefreshProof::SecretHash { username, secret_hash } => {
                let names: Vec<&str> =
                    [Some(user.username.as_str()), username].into_iter().flatten().collect();
                self.check_secret_hash_any(client, &names, secret_hash)?;
            }
            RefreshProof::ClientSecret(given) => self.check_client_secret(client, given)?,
        }
        if !user.enabled {
            return Err(IdpError::NotAuthorized("User is disabled.".into()));
        }
        let oauth = stored.scopes.as_deref().map(|s| OAuthIssue {
            scopes: s.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            ..OAuthIssue::default()
        });
        self.issue_tokens_with(pool, client, &user, stored.auth_time, Some(stored.origin_jti), oauth.as_ref())
            .await
    }

    /// The client's own secret, where an operation takes it instead of a
    /// SECRET_HASH (RevokeToken, GetTokensFromRefreshToken).
    pub(super) fn check_client_secret(&self, client: &AppClient, given: Option<&str>) -> Result<()> {
        use subtle::ConstantTimeEq;
        let Some(secret) = self.client_secret(client)? else { return Ok(()) };
        match given {
            Some(g) if bool::from(g.as_bytes().ct_eq(secret.as_bytes())) => Ok(()),
            _ => Err(IdpError::NotAuthorized(format!(
                "Unable to verify secret for client {}",
                client.client_id
            ))),
        }
    }

    /// Checks an access token: signature with the pool's keys, issuer,
    /// expiry, `token_use`, the admin scope, the user, and that its sign-in
    /// was not revoked. Any failure is `NotAuthorizedException`.
    pub async fn verify_access_token(&self, token: &str) -> Result<AccessContext> {
        let (context, scopes) = self.verify_access_claims(token).await?;
        if !scopes.iter().any(|s| s == ADMIN_SCOPE) {
            return Err(IdpError::NotAuthorized("Access Token does not have required scopes".into()));
        }
        Ok(context)
    }

    /// An access token's checks but the scope, which the caller judges:
    /// the context and the token's scopes.
    pub(super) async fn verify_access_claims(&self, token: &str) -> Result<(AccessContext, Vec<String>)> {
        let invalid = || IdpError::NotAuthorized("Invalid Access Token".into());
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        let kid = header.kid.ok_or_else(invalid)?;
        let payload = unverified_payload(token).ok_or_else(invalid)?;
        let issuer = payload.get("iss").and_then(Value::as_str).ok_or_else(invalid)?;
        let pool_id = issuer
            .strip_prefix(&format!("{}/", self.settings.public_url))
            .filter(|p| !p.contains('/'))
            .ok_or_else(invalid)?;
        let pool = self.store.get_pool(pool_id).await?.ok_or_else(invalid)?;
        let mut keys = self.pool_keys(&pool.id, false).await?;
        if !keys.verifying.contains_key(&kid) {
            keys = self.pool_keys(&pool.id, true).await?;
        }
        let key = keys.verifying.get(&kid).ok_or_else(invalid)?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.validate_aud = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let claims = jsonwebtoken::decode::<Value>(token, key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    IdpError::NotAuthorized("Access Token has expired".into())
                }
                _ => invalid(),
            })?
            .claims;
        if claims.get("token_use").and_then(Value::as_str) != Some("access") {
            return Err(invalid());
        }
        let scopes: Vec<String> = claims
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let username = claims.get("username").and_then(Value::as_str).ok_or_else(invalid)?;
        let origin = claims.get("origin_jti").and_then(Value::as_str).ok_or_else(invalid)?;
        let client_id = claims.get("client_id").and_then(Value::as_str).ok_or_else(invalid)?.to_string();
        match self.store.origin_revoked(origin).await? {
            Some(false) => {}
            _ => return Err(IdpError::NotAuthorized("Access Token has been revoked".into())),
        }
        let user =
            self.store.get_user(&pool.id, &username_key(&pool, username)).await?.ok_or_else(invalid)?;
        if !user.enabled {
            return Err(IdpError::NotAuthorized("User is disabled.".into()));
        }
        Ok((AccessContext { pool, user, client_id }, scopes))
    }

    /// RevokeToken: a refresh token, and every token of its sign-in.
    pub async fn revoke_token(
        &self,
        token: &str,
        client_id: &str,
        client_secret: Option<&str>,
    ) -> Result<()> {
        let (_pool, client) = self.client_and_pool(client_id).await?;
        if client.settings.enable_token_revocation == Some(false) {
            return Err(IdpError::UnsupportedOperation(
                "Token revocation is not enabled for this client.".into(),
            ));
        }
        if self.client_secret(&client)?.is_some() {
            self.check_client_secret(&client, client_secret).map_err(|_| {
                IdpError::Unauthorized(format!("Invalid client secret for client {client_id}"))
            })?;
        }
        if unverified_payload(token).is_some() {
            return Err(IdpError::UnsupportedTokenType("Only refresh tokens can be revoked.".into()));
        }
        if let Some(stored) = self.store.get_refresh_token(&hash_token(token)).await? {
            // Another client's token is left alone, and the answer is the same.
            if stored.client_id == client.client_id {
                self.store.revoke_refresh_token(&stored.token_hash, self.now_ms()).await?;
            }
        }
        Ok(())
    }

    pub async fn global_sign_out(&self, access_token: &str) -> Result<()> {
        let ctx = self.verify_access_token(access_token).await?;
        self.store.sign_out_everywhere(&ctx.pool.id, &ctx.user.username_key, self.now_ms()).await?;
        Ok(())
    }

    pub async fn admin_user_global_sign_out(&self, pool_id: &str, username: &str) -> Result<()> {
        let pool = self.describe_pool(pool_id).await?;
        let user = self
            .find_user(&pool, username)
            .await?
            .ok_or_else(|| IdpError::UserNotFound("User does not exist.".into()))?;
        self.store.sign_out_everywhere(&pool.id, &user.username_key, self.now_ms()).await?;
        Ok(())
    }

    pub async fn get_tokens_from_refresh_token(
        &self,
        refresh_token: &str,
        client_id: &str,
        client_secret: Option<&str>,
    ) -> Result<Tokens> {
        let (pool, client) = self.client_and_pool(client_id).await?;
        self.refresh(&pool, &client, refresh_token, RefreshProof::ClientSecret(client_secret)).await
    }
}

/// How a refresh proves the client: SECRET_HASH (InitiateAuth) or the
/// secret itself (GetTokensFromRefreshToken).
pub(super) enum RefreshProof<'a> {
    SecretHash { username: Option<&'a str>, secret_hash: Option<&'a str> },
    ClientSecret(Option<&'a str>),
}

/// The payload of a JWS without checking it (to find its issuer and key);
/// never trusted before the signature is verified.
fn unverified_payload(token: &str) -> Option<Map<String, Value>> {
    let mut parts = token.split('.');
    let (_, payload, _, rest) = (parts.next()?, parts.next()?, parts.next()?, parts.next());
    if rest.is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The user's attributes that go into the ID token for this client:
/// booleans as JSON booleans, developer-only attributes never.
fn readable_attributes(client: &AppClient, user: &User) -> Vec<(String, Value)> {
    user.attributes
        .iter()
        .filter(|(name, _)| name.as_str() != "sub" && !name.starts_with("dev:"))
        .filter(|(name, _)| {
            client.settings.read_attributes.as_ref().is_none_or(|r| r.iter().any(|n| n == *name))
        })
        .map(|(name, value)| {
            let v = match name.as_str() {
                "email_verified" | "phone_number_verified" => json!(value == "true"),
                // Federated identities go out as the JSON array they are.
                "identities" => serde_json::from_str(value).unwrap_or_else(|_| json!(value)),
                "updated_at" => value.parse::<i64>().map(|n| json!(n)).unwrap_or_else(|_| json!(value)),
                _ => json!(value),
            };
            (name.clone(), v)
        })
        .collect()
}

impl UserPools {
    /// A client_credentials access token: `sub` and `client_id` are the
    /// client, `scope` the granted custom scopes; no ID or refresh token.
    pub(super) async fn client_credentials_token(
        &self,
        pool: &UserPool,
        client: &AppClient,
        scopes: &[String],
    ) -> Result<(String, i64)> {
        let keys = self.pool_keys(&pool.id, false).await?;
        let iat = self.now_ms() / 1000;
        let s = &client.settings;
        let units = s.token_validity_units.clone().unwrap_or_default();
        let life = validity_seconds(s.access_token_validity, units.access_token, TimeUnit::hours, 1);
        let claims = json!({
            "sub": client.client_id,
            "token_use": "access",
            "scope": scopes.join(" "),
            "auth_time": iat,
            "iss": self.issuer(&pool.id),
            "exp": iat + life,
            "iat": iat,
            "version": 2,
            "jti": uuid::Uuid::new_v4().to_string(),
            "client_id": client.client_id,
        });
        Ok((self.sign(&keys, &claims)?, life))
    }
}
