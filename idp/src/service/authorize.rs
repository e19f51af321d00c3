//! The authorization endpoint's rules (`{issuer}/oauth2/authorize`):
//! requests checked against the app client, hosted-UI sign-in sessions,
//! authorization codes and implicit-grant tokens, userInfo and the logout
//! endpoint's targets. The HTTP side is `http::hosted_ui`.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::UserPools;
use super::tokens::OAuthIssue;
use crate::error::{IdpError, Result};
use crate::model::{
    AppClient, AuthorizationCode, CodeGrant, OAuthFlow, UiSession, User, UserPool, UserStatus,
};

/// Authorization codes are good for five minutes.
pub(super) const CODE_LIFE_MS: i64 = 5 * 60 * 1000;
/// A hosted-UI sign-in lasts an hour, as Cognito's does.
pub const UI_SESSION_SECONDS: i64 = 3600;
/// The longest `state` and `nonce` taken.
const MAX_PARAM: usize = 2048;

/// The parameters of an authorization request that matter once checked.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeRequest {
    pub response_type: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Vec<String>,
    pub login_hint: Option<String>,
    pub lang: Option<String>,
    /// Where to sign in: `COGNITO` or a provider's name (also from
    /// `idp_identifier`).
    pub identity_provider: Option<String>,
}

impl AuthorizeRequest {
    /// The request as query parameters again (to resume it later).
    pub fn to_params(&self) -> BTreeMap<String, String> {
        let mut p = BTreeMap::new();
        p.insert("response_type".to_string(), self.response_type.clone());
        p.insert("client_id".to_string(), self.client_id.clone());
        p.insert("redirect_uri".to_string(), self.redirect_uri.clone());
        p.insert("scope".to_string(), self.scopes.join(" "));
        let optional = [
            ("state", &self.state),
            ("nonce", &self.nonce),
            ("login_hint", &self.login_hint),
            ("lang", &self.lang),
        ];
        for (k, v) in optional {
            if let Some(v) = v {
                p.insert(k.to_string(), v.clone());
            }
        }
        if let Some(c) = &self.code_challenge {
            p.insert("code_challenge".to_string(), c.clone());
            p.insert("code_challenge_method".to_string(), "S256".to_string());
        }
        p
    }

    pub fn implicit(&self) -> bool {
        self.response_type == "token"
    }

    pub fn prompt(&self, value: &str) -> bool {
        self.prompt.iter().any(|p| p == value)
    }
}

/// Why an authorization request fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client or its redirect URI cannot be trusted: an error page,
    /// never a redirect (RFC 6749 §4.1.2.1).
    Page(String),
    /// Sent back to the client's redirect URI.
    Redirect {
        redirect_uri: String,
        fragment: bool,
        error: &'static str,
        description: String,
        state: Option<String>,
    },
}

impl AuthorizeError {
    /// The URL an error goes back to, or `None` for an error page.
    pub fn location(&self) -> Option<String> {
        let Self::Redirect { redirect_uri, fragment, error, description, state } = self else {
            return None;
        };
        let mut pairs = vec![("error", error.to_string()), ("error_description", description.clone())];
        if let Some(s) = state {
            pairs.push(("state", s.clone()));
        }
        Some(with_params(redirect_uri, &pairs, *fragment))
    }
}

/// `uri` with `pairs` added to its query, or set as its fragment.
pub fn with_params(uri: &str, pairs: &[(&str, String)], fragment: bool) -> String {
    let mut encoded = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        encoded.append_pair(k, v);
    }
    let encoded = encoded.finish();
    if fragment {
        format!("{uri}#{encoded}")
    } else if uri.contains('?') {
        format!("{uri}&{encoded}")
    } else {
        format!("{uri}?{encoded}")
    }
}

/// A checked authorization request and the client it is for.
#[derive(Debug, Clone)]
pub struct Authorization {
    pub pool: UserPool,
    pub client: AppClient,
    pub request: AuthorizeRequest,
}

/// A hosted-UI sign-in found by its cookie.
#[derive(Debug, Clone)]
pub struct SignedInUser {
    pub user: User,
    pub auth_time: i64,
    /// `COGNITO` or the identity provider of the sign-in.
    pub provider: String,
}

/// Where the logout endpoint sends the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutTarget {
    /// One of the client's LogoutURLs.
    Uri(String),
    /// Sign in again with this authorization request.
    Login(BTreeMap<String, String>),
}

pub(super) fn hash(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

/// What a sealed federation state keeps of its browser-binding cookie.
pub(super) fn binding_hash(cookie: &str) -> String {
    URL_SAFE_NO_PAD.encode(hash(cookie))
}

/// Whether the browser returned the cookie a state was bound to (constant time).
pub(super) fn binding_matches(cookie: Option<&str>, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    cookie.is_some_and(|c| bool::from(binding_hash(c).as_bytes().ct_eq(expected.as_bytes())))
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn pkce_shaped(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether a PKCE verifier matches its S256 challenge (constant time).
pub(super) fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    use subtle::ConstantTimeEq;
    if !pkce_shaped(verifier) {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

/// The identity providers a client may sign in through (COGNITO when the
/// client names none).
pub fn client_providers(client: &AppClient) -> Vec<String> {
    client.settings.supported_identity_providers.clone().unwrap_or_else(|| vec!["COGNITO".to_string()])
}

impl UserPools {
    /// Checks an authorization request (also re-checked on every hosted-UI
    /// form post, whose hidden fields carry it).
    pub async fn check_authorize(
        &self,
        pool_id: &str,
        params: &BTreeMap<String, String>,
    ) -> std::result::Result<Authorization, AuthorizeError> {
        let param = |name: &str| params.get(name).map(String::as_str).filter(|v| !v.is_empty());
        let page = |m: &str| AuthorizeError::Page(m.to_string());
        let client_id = param("client_id").ok_or_else(|| page("The request names no client_id."))?;
        let (pool, client) = match self.client_and_pool(client_id).await {
            Ok(found) if found.0.id == pool_id => found,
            Ok(_) | Err(IdpError::ResourceNotFound(_)) => {
                return Err(page("The client_id is not a client of this user pool."));
            }
            Err(e) => {
                tracing::error!(error = %e, "authorization request");
                return Err(page("The server could not handle the request; try again."));
            }
        };
        let callbacks = client.settings.callback_urls.clone().unwrap_or_default();
        let redirect_uri = match param("redirect_uri") {
            Some(uri) => uri.to_string(),
            None => client
                .settings
                .default_redirect_uri
                .clone()
                .ok_or_else(|| page("The request names no redirect_uri."))?,
        };
        // Exact string comparison: no prefix, case or port leeway.
        if !callbacks.iter().any(|c| c == &redirect_uri) {
            return Err(page("The redirect_uri is not one of the client's callback URLs."));
        }
        let state = param("state").map(str::to_string);
        let response_type = param("response_type").unwrap_or_default().to_string();
        let fragment = response_type == "token";
        let fail = |error: &'static str, description: &str| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            fragment,
            error,
            description: description.to_string(),
            state: state.clone(),
        };
        if state.as_ref().is_some_and(|s| s.len() > MAX_PARAM) {
            return Err(fail("invalid_request", "state is too long."));
        }
        let flows = client.settings.allowed_oauth_flows.clone().unwrap_or_default();
        let flow = match response_type.as_str() {
            "code" => OAuthFlow::code,
            "token" => OAuthFlow::implicit,
            "" => return Err(fail("invalid_request", "response_type is required.")),
            _ => return Err(fail("unsupported_response_type", "response_type must be code or token.")),
        };
        if client.settings.allowed_oauth_flows_user_pool_client != Some(true) || !flows.contains(&flow) {
            return Err(fail("unauthorized_client", "The client may not use this response_type."));
        }
        let allowed = client.settings.allowed_oauth_scopes.clone().unwrap_or_default();
        let scopes: Vec<String> = match param("scope") {
            None => allowed.clone(),
            Some(requested) => {
                let mut asked: Vec<String> = Vec::new();
                for s in requested.split(' ').filter(|s| !s.is_empty()) {
                    if !allowed.iter().any(|a| a == s) {
                        return Err(fail(
                            "invalid_scope",
                            &format!("The scope {s} is not allowed for this client."),
                        ));
                    }
                    if !asked.iter().any(|a| a == s) {
                        asked.push(s.to_string());
                    }
                }
                asked
            }
        };
        if scopes.is_empty() {
            return Err(fail("invalid_scope", "No scope is allowed for this client."));
        }
        let nonce = param("nonce").map(str::to_string);
        if nonce.as_ref().is_some_and(|n| n.len() > MAX_PARAM) {
            return Err(fail("invalid_request", "nonce is too long."));
        }
        let code_challenge = param("code_challenge").map(str::to_string);
        match (param("code_challenge_method"), &code_challenge) {
            (Some("S256"), Some(c)) if pkce_shaped(c) => {}
            (Some("S256"), Some(_)) => {
                return Err(fail("invalid_request", "code_challenge must be 43 to 128 URL-safe characters."));
            }
            (Some("S256"), None) => return Err(fail("invalid_request", "code_challenge is required.")),
            (Some(_), _) | (None, Some(_)) => {
                return Err(fail("invalid_request", "code_challenge_method must be S256."));
            }
            (None, None) => {
                // A client that cannot keep a secret must prove it started
                // the request (RFC 7636; OAuth 2.0 Security BCP §2.1.1).
                if flow == OAuthFlow::code && client.secret_sealed.is_none() {
                    return Err(fail("invalid_request", "PKCE (code_challenge with S256) is required."));
                }
            }
        }
        let providers = client_providers(&client);
        let mut identity_provider = param("identity_provider").map(str::to_string);
        if identity_provider.is_none()
            && let Some(identifier) = param("idp_identifier")
        {
            let found = self.provider_for_identifier(&pool.id, identifier).await.map_err(|e| {
                tracing::error!(error = %e, "idp_identifier");
                fail("server_error", "The identity provider could not be looked up.")
            })?;
            identity_provider =
                Some(found.ok_or_else(|| {
                    fail("invalid_request", "No identity provider has that idp_identifier.")
                })?);
        }
        if let Some(idp) = &identity_provider
            && !providers.iter().any(|p| p == idp)
        {
            return Err(fail("invalid_request", "The identity_provider is not enabled for this client."));
        }
        if providers.is_empty() {
            return Err(fail("unauthorized_client", "The client has no identity provider to sign in with."));
        }
        let prompt: Vec<String> = param("prompt")
            .unwrap_or_default()
            .split(' ')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
            return Err(fail("invalid_request", "prompt=none cannot be combined with other values."));
        }
        let request = AuthorizeRequest {
            response_type,
            client_id: client.client_id.clone(),
            redirect_uri,
            state,
            scopes,
            nonce,
            code_challenge,
            prompt,
            login_hint: param("login_hint").map(str::to_string),
            lang: param("lang").map(str::to_string),
            identity_provider,
        };
        Ok(Authorization { pool, client, request })
    }

    /// The sign-in a hosted-UI session cookie stands for, if it is still
    /// good: not expired, not ended by a global sign-out, the user enabled.
    pub async fn ui_session(&self, pool_id: &str, cookie: &str) -> Result<Option<SignedInUser>> {
        if cookie.is_empty() || cookie.len() > 128 {
            return Ok(None);
        }
        let Some(session) = self.store.get_ui_session(&hash(cookie)).await? else { return Ok(None) };
        if session.pool_id != pool_id || session.expires_ms <= self.now_ms() {
            return Ok(None);
        }
        let Some(user) = self.store.get_user(&session.pool_id, &session.username_key).await? else {
            return Ok(None);
        };
        let usable = user.enabled
            && matches!(user.status, UserStatus::CONFIRMED | UserStatus::EXTERNAL_PROVIDER)
            // Not ended by a global sign-out (or a reset) since it began.
            && user.tokens_valid_after_ms <= session.expires_ms - UI_SESSION_SECONDS * 1000;
        Ok(usable.then_some(SignedInUser { user, auth_time: session.auth_time, provider: session.provider }))
    }

    /// Starts a hosted-UI session; returns the cookie's value.
    pub async fn start_ui_session(
        &self,
        pool: &UserPool,
        user: &User,
        auth_time: i64,
        provider: &str,
    ) -> Result<String> {
        let id = secrets::random_string(43, secrets::ALNUM);
        self.store
            .insert_ui_session(&UiSession {
                id_hash: hash(&id),
                pool_id: pool.id.clone(),
                username_key: user.username_key.clone(),
                auth_time,
                expires_ms: self.now_ms() + UI_SESSION_SECONDS * 1000,
                provider: provider.to_string(),
            })
            .await?;
        Ok(id)
    }

    pub async fn end_ui_session(&self, cookie: &str) -> Result<()> {
        if !cookie.is_empty() && cookie.len() <= 128 {
            self.store.delete_ui_session(&hash(cookie)).await?;
        }
        Ok(())
    }

    /// Completes an authorization for a signed-in user: the redirect URI
    /// with a code (or, for the implicit grant, the tokens in the fragment).
    pub async fn complete_authorization(
        &self,
        auth: &Authorization,
        user: &User,
        auth_time: i64,
    ) -> Result<String> {
        let request = &auth.request;
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if request.implicit() {
            let issue =
                OAuthIssue { scopes: request.scopes.clone(), nonce: request.nonce.clone(), origin_jti: None };
            let tokens =
                self.issue_tokens_with(&auth.pool, &auth.client, user, auth_time, None, Some(&issue)).await?;
            pairs.push(("access_token", tokens.access_token));
            if request.scopes.iter().any(|s| s == "openid") {
                pairs.push(("id_token", tokens.id_token));
            }
            pairs.push(("token_type", "Bearer".to_string()));
            pairs.push(("expires_in", tokens.expires_in.to_string()));
        } else {
            let code = secrets::random_string(43, secrets::ALNUM);
            self.store
                .insert_code(&AuthorizationCode {
                    code_hash: hash(&code),
                    pool_id: auth.pool.id.clone(),
                    client_id: auth.client.client_id.clone(),
                    username_key: user.username_key.clone(),
                    origin_jti: uuid::Uuid::new_v4().to_string(),
                    grant: CodeGrant {
                        redirect_uri: request.redirect_uri.clone(),
                        scopes: request.scopes.clone(),
                        nonce: request.nonce.clone(),
                        code_challenge: request.code_challenge.clone(),
                        auth_time,
                    },
                    expires_ms: self.now_ms() + CODE_LIFE_MS,
                    used_ms: None,
                })
                .await?;
            pairs.push(("code", code));
        }
        if let Some(state) = &request.state {
            pairs.push(("state", state.clone()));
        }
        Ok(with_params(&request.redirect_uri, &pairs, request.implicit()))
    }

    /// `oauth2/userInfo`: the user's claims that the access token's scopes
    /// allow. `Err(None)` for a bad token, `Err(Some(scope))` for a token
    /// without the scope `openid`.
    pub async fn user_info(
        &self,
        pool_id: &str,
        token: &str,
    ) -> std::result::Result<Value, Option<&'static str>> {
        let (context, scopes) = match self.verify_access_claims(token).await {
            Ok(found) => found,
            Err(IdpError::NotAuthorized(_)) => return Err(None),
            Err(e) => {
                tracing::error!(error = %e, "userInfo");
                return Err(None);
            }
        };
        if context.pool.id != pool_id {
            return Err(None);
        }
        if !scopes.iter().any(|s| s == "openid") {
            return Err(Some("openid"));
        }
        let has = |s: &str| scopes.iter().any(|g| g == s);
        let user = &context.user;
        let client = self.store.get_client(pool_id, &context.client_id).await.ok().flatten();
        let readable = |name: &str| {
            client
                .as_ref()
                .and_then(|c| c.settings.read_attributes.as_ref())
                .is_none_or(|r| r.iter().any(|n| n == name))
        };
        let mut out = Map::new();
        out.insert("sub".into(), json!(user.sub));
        for (name, value) in &user.attributes {
            if name == "sub" || name.starts_with("dev:") || !readable(name) {
                continue;
            }
            let allowed = match name.as_str() {
                "email" | "email_verified" => has("email"),
                "phone_number" | "phone_number_verified" => has("phone"),
                _ => has("profile"),
            };
            if allowed {
                out.insert(name.clone(), json!(value));
            }
        }
        out.insert("username".into(), json!(user.username));
        Ok(Value::Object(out))
    }

    /// Where `logout` sends the browser, per its parameters; an error
    /// message (for an error page) when they do not check out.
    pub async fn logout_target(
        &self,
        pool_id: &str,
        params: &BTreeMap<String, String>,
    ) -> std::result::Result<LogoutTarget, String> {
        let client_id =
            params.get("client_id").filter(|c| !c.is_empty()).ok_or("The request names no client_id.")?;
        let client = match self.client_and_pool(client_id).await {
            Ok((pool, client)) if pool.id == pool_id => client,
            _ => return Err("The client_id is not a client of this user pool.".into()),
        };
        if let Some(uri) = params.get("logout_uri") {
            let registered = client.settings.logout_urls.clone().unwrap_or_default();
            return if registered.iter().any(|u| u == uri) {
                Ok(LogoutTarget::Uri(uri.clone()))
            } else {
                Err("The logout_uri is not one of the client's sign-out URLs.".into())
            };
        }
        if params.contains_key("redirect_uri") && params.contains_key("response_type") {
            return match self.check_authorize(pool_id, params).await {
                Ok(_) => Ok(LogoutTarget::Login(params.clone())),
                Err(AuthorizeError::Page(m)) => Err(m),
                Err(AuthorizeError::Redirect { description, .. }) => Err(description),
            };
        }
        Err("The request needs a logout_uri, or a redirect_uri and response_type.".into())
    }
}

/// What the hosted UI needs to know of a pool to draw its forms.
#[derive(Debug, Clone)]
pub struct PoolForms {
    pub pool_name: String,
    /// "email", "phone_number", "email phone_number", or empty for a
    /// plain user name.
    pub username_attributes: Vec<String>,
    /// Required attributes (besides the username ones).
    pub required: Vec<String>,
    pub signup_allowed: bool,
    pub password_hint: String,
}

impl UserPools {
    pub fn pool_forms(&self, pool: &UserPool) -> PoolForms {
        let username_attributes: Vec<String> = pool
            .settings
            .username_attributes
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|a| a.as_str().to_string())
            .collect();
        let required: Vec<String> = pool
            .schema
            .iter()
            .filter(|a| a.required == Some(true) && a.developer_only_attribute != Some(true))
            .filter_map(|a| a.name.clone())
            // `sub` is required of every user, but the pool makes it.
            .filter(|n| n != "sub")
            .filter(|n| !username_attributes.contains(n))
            .collect();
        let signup_allowed =
            pool.settings.admin_create_user_config.as_ref().and_then(|c| c.allow_admin_create_user_only)
                != Some(true);
        let policy = self.password_policy(pool);
        let mut needs = Vec::new();
        if policy.require_uppercase.unwrap_or(true) {
            needs.push("an upper-case letter");
        }
        if policy.require_lowercase.unwrap_or(true) {
            needs.push("a lower-case letter");
        }
        if policy.require_numbers.unwrap_or(true) {
            needs.push("a number");
        }
        if policy.require_symbols.unwrap_or(true) {
            needs.push("a symbol");
        }
        let mut password_hint = format!("At least {} characters", policy.minimum_length.unwrap_or(8));
        match needs.len() {
            0 => {}
            1 => password_hint.push_str(&format!(", with {}", needs[0])),
            n => {
                password_hint.push_str(&format!(", with {} and {}", needs[..n - 1].join(", "), needs[n - 1]))
            }
        }
        password_hint.push('.');
        PoolForms {
            pool_name: pool.name.clone(),
            username_attributes,
            required,
            signup_allowed,
            password_hint,
        }
    }

    /// The CSRF token that goes with a browser's CSRF cookie: an HMAC of
    /// the cookie under a key derived from the master key.
    pub fn csrf_token(&self, cookie: &str) -> String {
        let key = self.master_key.derive("hosted-ui/csrf");
        URL_SAFE_NO_PAD.encode(secrets::hmac_sha256(key.as_ref(), cookie.as_bytes()))
    }

    /// Checks a form's CSRF token against the cookie, in constant time.
    pub fn csrf_matches(&self, cookie: &str, token: &str) -> bool {
        use subtle::ConstantTimeEq;
        !cookie.is_empty() && bool::from(self.csrf_token(cookie).as_bytes().ct_eq(token.as_bytes()))
    }
}
