//! Cognito's Lambda triggers as signed HTTP webhooks.
//!
//! A pool's `LambdaConfig` names, per trigger, an `https://` URL (or, for
//! development, `http://` on a loopback address) where Cognito would take a
//! Lambda ARN. Cirrus POSTs the trigger event, shaped as Cognito's
//! (`version`, `triggerSource`, `region`, `userPoolId`, `userName`,
//! `callerContext`, `request`, `response`), and reads the event the hook
//! sends back, as a Lambda function returns it. Each call carries
//! `X-Cirrus-Timestamp` and `X-Cirrus-Signature: sha256=<hex
//! HMAC-SHA256(pool hook secret, timestamp + "." + body)>`; the pool's secret
//! is derived from the master key (`cirrus hook-secret --pool-id …`).
//!
//! Outcomes, as Cognito reports a Lambda's: a non-2xx answer is the hook
//! refusing (`UserLambdaValidationException`, "<Trigger> failed with error
//! <message>."); no answer within the timeout (5 s), or a connection failure,
//! is `UnexpectedLambdaException`; an answer that is not the event JSON is
//! `InvalidLambdaResponseException`. After five failures in a row a hook is
//! not called for 30 s (its calls fail at once with
//! `UnexpectedLambdaException`), so a dead hook cannot hold every request
//! for its timeout.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::UserPools;
use crate::error::{IdpError, Result};
use crate::model::UserPool;

const TIMEOUT: Duration = Duration::from_secs(5);
const BREAKER_FAILURES: u32 = 5;
const BREAKER_OPEN: Duration = Duration::from_secs(30);

/// The triggers, by their `LambdaConfig` member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    PreSignUp,
    PostConfirmation,
    PreAuthentication,
    PostAuthentication,
    PreTokenGeneration,
    CustomMessage,
    UserMigration,
    DefineAuthChallenge,
    CreateAuthChallenge,
    VerifyAuthChallengeResponse,
    CustomEmailSender,
    CustomSmsSender,
}

impl Trigger {
    pub fn name(self) -> &'static str {
        match self {
            Self::PreSignUp => "PreSignUp",
            Self::PostConfirmation => "PostConfirmation",
            Self::PreAuthentication => "PreAuthentication",
            Self::PostAuthentication => "PostAuthentication",
            Self::PreTokenGeneration => "PreTokenGeneration",
            Self::CustomMessage => "CustomMessage",
            Self::UserMigration => "UserMigration",
            Self::DefineAuthChallenge => "DefineAuthChallenge",
            Self::CreateAuthChallenge => "CreateAuthChallenge",
            Self::VerifyAuthChallengeResponse => "VerifyAuthChallengeResponse",
            Self::CustomEmailSender => "CustomEmailSender",
            Self::CustomSmsSender => "CustomSMSSender",
        }
    }
}

/// Per-hook failure counts: the circuit breaker.
#[derive(Default)]
pub struct HookState {
    failures: Mutex<HashMap<String, (u32, Option<Instant>)>>,
    http: std::sync::OnceLock<reqwest::Client>,
}

impl HookState {
    fn client(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .timeout(TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_else(|_| reqwest::Client::new())
        })
    }

    fn open(&self, url: &str) -> bool {
        let Ok(map) = self.failures.lock() else { return false };
        map.get(url).and_then(|(_, until)| *until).is_some_and(|until| Instant::now() < until)
    }

    fn record(&self, url: &str, ok: bool) {
        let Ok(mut map) = self.failures.lock() else { return };
        if ok {
            map.remove(url);
            return;
        }
        let entry = map.entry(url.to_string()).or_insert((0, None));
        entry.0 += 1;
        if entry.0 >= BREAKER_FAILURES {
            entry.1 = Some(Instant::now() + BREAKER_OPEN);
            entry.0 = 0;
        }
    }
}

/// Whether `url` may be called: https anywhere, http only on loopback.
pub fn hook_url_allowed(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else { return false };
    match parsed.scheme() {
        "https" => parsed.host().is_some(),
        "http" => match parsed.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            None => false,
        },
        _ => false,
    }
}

/// Refuses a LambdaConfig whose trigger targets are neither Lambda ARNs
/// (kept for compatibility, never called) nor callable webhook URLs: a
/// mistyped URL must not silently turn a check off.
pub fn check_lambda_config(config: &Map<String, Value>) -> Result<()> {
    for (name, value) in config {
        if name == "KMSKeyID" {
            continue;
        }
        let target = match value {
            Value::String(s) => Some(s.as_str()),
            Value::Object(o) => o.get("LambdaArn").and_then(Value::as_str),
            _ => None,
        };
        let Some(target) = target else { continue };
        if !(target.starts_with("arn:") || hook_url_allowed(target)) {
            return Err(IdpError::InvalidParameter(format!(
                "LambdaConfig.{name}: {target} is neither a Lambda ARN nor a webhook URL this server may call \
                 (https://…, or http:// on a loopback address)."
            )));
        }
    }
    Ok(())
}

/// The webhook URL configured for `trigger`, if any. Lambda ARNs (a pool
/// created for AWS) are not callable here and count as unset.
pub fn hook_url(pool: &UserPool, trigger: Trigger) -> Option<String> {
    let config = pool.settings.lambda_config.as_ref()?;
    // Most triggers take a string; the custom senders `{LambdaVersion, LambdaArn}`.
    let direct = config
        .get(trigger.name())
        .and_then(|v| v.as_str().or_else(|| v.get("LambdaArn").and_then(Value::as_str)));
    let versioned = match trigger {
        Trigger::PreTokenGeneration => {
            config.get("PreTokenGenerationConfig").and_then(|c| c.get("LambdaArn")).and_then(Value::as_str)
        }
        _ => None,
    };
    versioned.or(direct).filter(|u| hook_url_allowed(u)).map(str::to_string)
}

/// The `PreTokenGeneration` event version: "1" unless the pool asks for V2_0.
pub fn pre_token_version(pool: &UserPool) -> &'static str {
    let version = pool
        .settings
        .lambda_config
        .as_ref()
        .and_then(|c| c.get("PreTokenGenerationConfig"))
        .and_then(|c| c.get("LambdaVersion"))
        .and_then(Value::as_str);
    match version {
        Some("V2_0") | Some("V3_0") => "2",
        _ => "1",
    }
}

/// The secret that signs a pool's hook calls: hex of a key derived from
/// the master key for that pool.
pub fn hook_secret(master: &secrets::MasterKey, pool_id: &str) -> String {
    hex::encode(master.derive(&format!("hooks/{pool_id}")).as_ref())
}

/// What a trigger call is about.
pub struct Event<'a> {
    pub trigger: Trigger,
    pub source: &'a str,
    pub user_name: &'a str,
    pub client_id: Option<&'a str>,
    pub request: Value,
    pub version: &'a str,
}

impl UserPools {
    /// The secret that signs `pool_id`'s hook calls.
    pub fn hook_secret(&self, pool_id: &str) -> String {
        hook_secret(&self.master_key, pool_id)
    }

    /// Calls the pool's hook for `event.trigger`; `None` when none is
    /// configured. Returns the `response` object of the hook's answer.
    pub(super) async fn call_hook(
        &self,
        pool: &UserPool,
        event: Event<'_>,
    ) -> Result<Option<Map<String, Value>>> {
        let Some(url) = hook_url(pool, event.trigger) else {
            return Ok(None);
        };
        let name = event.trigger.name();
        let unexpected = || {
            IdpError::UnexpectedLambda(format!(
                "{name} invocation failed due to error AccessDeniedException."
            ))
        };
        if self.hooks.open(&url) {
            tracing::warn!(pool = %pool.id, trigger = name, "hook skipped: circuit open after repeated failures");
            return Err(unexpected());
        }
        let body = json!({
            "version": event.version,
            "triggerSource": event.source,
            "region": self.settings.region,
            "userPoolId": pool.id,
            "userName": event.user_name,
            "callerContext": {"awsSdkVersion": "cirrus", "clientId": event.client_id.unwrap_or("CLIENT_ID_NOT_APPLICABLE")},
            "request": event.request,
            "response": {},
        })
        .to_string();
        let timestamp = self.now_ms() / 1000;
        let mut signed = format!("{timestamp}.").into_bytes();
        signed.extend_from_slice(body.as_bytes());
        let signature = format!(
            "sha256={}",
            hex::encode(secrets::hmac_sha256(self.hook_secret(&pool.id).as_bytes(), &signed))
        );
        let started = Instant::now();
        let result = self
            .hooks
            .client()
            .post(&url)
            .header("content-type", "application/json")
            .header("x-cirrus-timestamp", timestamp.to_string())
            .header("x-cirrus-signature", signature)
            .header("x-cirrus-trigger", event.source)
            .body(body)
            .send()
            .await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                self.hooks.record(&url, false);
                let why = if e.is_timeout() { "timeout" } else { "connection" };
                tracing::warn!(pool = %pool.id, trigger = name, elapsed_ms, outcome = why, "hook failed");
                return Err(if e.is_timeout() {
                    IdpError::UnexpectedLambda(format!(
                        "{name} invocation failed due to error TimeoutException."
                    ))
                } else {
                    unexpected()
                });
            }
        };
        let status = response.status();
        let text = match response.text().await {
            Ok(t) => t,
            Err(_) => {
                self.hooks.record(&url, false);
                return Err(unexpected());
            }
        };
        if !status.is_success() {
            // The hook's own refusal: its message goes back to the caller.
            self.hooks.record(&url, status.is_client_error());
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| {
                    v.get("errorMessage")
                        .or_else(|| v.get("message"))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .unwrap_or_else(|| text.chars().take(500).collect());
            tracing::info!(pool = %pool.id, trigger = name, elapsed_ms, status = status.as_u16(), "hook refused");
            return Err(IdpError::UserLambdaValidation(format!("{name} failed with error {message}.")));
        }
        self.hooks.record(&url, true);
        tracing::debug!(pool = %pool.id, trigger = name, elapsed_ms, "hook answered");
        let answer: Value = serde_json::from_str(&text)
            .map_err(|_| IdpError::InvalidLambdaResponse(format!("Invalid lambda response from {name}.")))?;
        match answer.get("response") {
            Some(Value::Object(map)) => Ok(Some(map.clone())),
            Some(Value::Null) | None => Ok(Some(Map::new())),
            Some(_) => Err(IdpError::InvalidLambdaResponse(format!("Invalid lambda response from {name}."))),
        }
    }
}

/// A string map of user attributes for an event's `request.userAttributes`.
pub fn attributes_json(attributes: &std::collections::BTreeMap<String, String>) -> Value {
    Value::Object(attributes.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
}

/// A response member as a boolean (`true` or `"true"`).
pub fn flag(response: &Map<String, Value>, name: &str) -> bool {
    match response.get(name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Claims a PreTokenGeneration hook may not change (Cognito's list).
const PROTECTED_CLAIMS: &[&str] = &[
    "acr",
    "amr",
    "aud",
    "auth_time",
    "azp",
    "at_hash",
    "c_hash",
    "exp",
    "iat",
    "iss",
    "jti",
    "nbf",
    "nonce",
    "origin_jti",
    "sub",
    "token_use",
    "cognito:username",
    "username",
    "client_id",
    "event_id",
    "scope",
    "identities",
];

fn adjust_claims(token: &mut Map<String, Value>, details: Option<&Value>) {
    let Some(details) = details else { return };
    if let Some(Value::Object(add)) = details.get("claimsToAddOrOverride") {
        for (k, v) in add {
            if !PROTECTED_CLAIMS.contains(&k.as_str()) && !k.starts_with("cognito:") {
                token.insert(k.clone(), v.clone());
            }
        }
    }
    if let Some(Value::Array(remove)) = details.get("claimsToSuppress") {
        for k in remove.iter().filter_map(Value::as_str) {
            if !PROTECTED_CLAIMS.contains(&k) && !k.starts_with("cognito:") {
                token.remove(k);
            }
        }
    }
}

fn string_array(v: Option<&Value>) -> Option<Vec<Value>> {
    v.and_then(Value::as_array).map(|a| a.iter().filter(|x| x.is_string()).cloned().collect())
}

/// Applies a PreTokenGeneration answer (v1 `claimsOverrideDetails`, v2
/// `claimsAndScopeOverrideDetails`) to the claims about to be signed.
pub fn apply_pre_token(
    response: &Map<String, Value>,
    id: &mut Map<String, Value>,
    access: &mut Map<String, Value>,
) {
    let (v2, details) =
        match (response.get("claimsAndScopeOverrideDetails"), response.get("claimsOverrideDetails")) {
            (Some(d @ Value::Object(_)), _) => (true, d),
            (_, Some(d @ Value::Object(_))) => (false, d),
            _ => return,
        };
    if v2 {
        adjust_claims(id, details.get("idTokenGeneration"));
        let access_details = details.get("accessTokenGeneration");
        adjust_claims(access, access_details);
        if let Some(a) = access_details {
            let mut scopes: Vec<String> = access
                .get("scope")
                .and_then(Value::as_str)
                .map(|s| s.split(' ').filter(|x| !x.is_empty()).map(str::to_string).collect())
                .unwrap_or_default();
            for s in string_array(a.get("scopesToAdd")).unwrap_or_default().iter().filter_map(Value::as_str) {
                if !scopes.iter().any(|x| x == s) {
                    scopes.push(s.to_string());
                }
            }
            let suppress = string_array(a.get("scopesToSuppress")).unwrap_or_default();
            scopes.retain(|s| !suppress.iter().any(|x| x.as_str() == Some(s.as_str())));
            access.insert("scope".into(), Value::String(scopes.join(" ")));
        }
    } else {
        adjust_claims(id, Some(details));
    }
    if let Some(groups) = details.get("groupOverrideDetails").filter(|g| g.is_object()) {
        if let Some(names) = string_array(groups.get("groupsToOverride")) {
            for token in [&mut *id, &mut *access] {
                if names.is_empty() {
                    token.remove("cognito:groups");
                } else {
                    token.insert("cognito:groups".into(), Value::Array(names.clone()));
                }
            }
        }
        if let Some(roles) = string_array(groups.get("iamRolesToOverride")) {
            if roles.is_empty() {
                id.remove("cognito:roles");
            } else {
                id.insert("cognito:roles".into(), Value::Array(roles));
            }
        }
        match groups.get("preferredRole") {
            Some(Value::String(r)) => {
                id.insert("cognito:preferred_role".into(), Value::String(r.clone()));
            }
            Some(Value::Null) => {
                id.remove("cognito:preferred_role");
            }
            _ => {}
        }
    }
}

impl UserPools {
    /// PreAuthentication, before any first factor is checked (password,
    /// SRP): the hook may refuse the attempt.
    pub(super) async fn pre_authentication(
        &self,
        pool: &UserPool,
        client: &crate::model::AppClient,
        user: &crate::model::User,
    ) -> Result<()> {
        let request = json!({
            "userAttributes": attributes_json(&user.attributes),
            "userNotFound": false,
            "validationData": {},
        });
        let event = Event {
            trigger: Trigger::PreAuthentication,
            source: "PreAuthentication_Authentication",
            user_name: &user.username,
            client_id: Some(&client.client_id),
            request,
            version: "1",
        };
        self.call_hook(pool, event).await.map(|_| ())
    }

    /// UserMigration: an unknown user signing in (with `password`) or
    /// asking for a reset is looked up by the hook in another system; if it
    /// answers with attributes, the user is created here (with the password
    /// just entered, so it works natively from now on). `None` when no hook
    /// is configured or the hook does not know the user either.
    pub(super) async fn migrate_user(
        &self,
        pool: &UserPool,
        client: &crate::model::AppClient,
        username: &str,
        password: Option<&str>,
    ) -> Result<Option<crate::model::User>> {
        use super::users::{aliases_of, is_email, username_key};
        use crate::model::{User, UserStatus};
        if hook_url(pool, Trigger::UserMigration).is_none() {
            return Ok(None);
        }
        let source =
            if password.is_some() { "UserMigration_Authentication" } else { "UserMigration_ForgotPassword" };
        let mut request = json!({ "validationData": {}, "clientMetadata": {} });
        if let Some(p) = password {
            request["password"] = json!(p);
        }
        let event = Event {
            trigger: Trigger::UserMigration,
            source,
            user_name: username,
            client_id: Some(&client.client_id),
            request,
            version: "1",
        };
        let response = match self.call_hook(pool, event).await {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(None),
            // The other system does not know the user (or refuses): as unknown.
            Err(IdpError::UserLambdaValidation(m)) => {
                tracing::info!(pool = %pool.id, reason = %m, "user migration declined");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let Some(Value::Object(given)) = response.get("userAttributes") else {
            return Err(IdpError::InvalidLambdaResponse(
                "Invalid lambda response from UserMigration.".into(),
            ));
        };
        let mut attributes: std::collections::BTreeMap<String, String> = given
            .iter()
            .filter(|(k, _)| k.as_str() != "sub")
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k.clone(), s.clone())),
                Value::Bool(b) => Some((k.clone(), b.to_string())),
                Value::Number(n) => Some((k.clone(), n.to_string())),
                _ => None,
            })
            .collect();
        let sub = uuid::Uuid::new_v4().to_string();
        let by_attribute = !pool.settings.username_attributes.clone().unwrap_or_default().is_empty();
        let internal = if by_attribute {
            let attr = if is_email(username) { "email" } else { "phone_number" };
            attributes.entry(attr.to_string()).or_insert_with(|| username.to_string());
            sub.clone()
        } else {
            username.to_string()
        };
        attributes.insert("sub".into(), sub.clone());
        let status = match (password, response.get("finalUserStatus").and_then(Value::as_str)) {
            (None, _) | (_, Some("RESET_REQUIRED")) => UserStatus::RESET_REQUIRED,
            _ => UserStatus::CONFIRMED,
        };
        let now = self.now_ms();
        let mut user =
            User::fresh(&pool.id, username_key(pool, &internal), internal, sub, status, attributes, now);
        if let Some(p) = password {
            self.set_password(pool, &mut user, p).await?;
        }
        let aliases = aliases_of(pool, &user.attributes);
        self.store.insert_user(&user, &aliases).await.map_err(|e| match e {
            crate::store::StoreError::Conflict | crate::store::StoreError::AliasConflict => {
                IdpError::UsernameExists(
                    "An account with the migrated user's name or alias already exists.".into(),
                )
            }
            e => e.into(),
        })?;
        tracing::info!(pool = %pool.id, source, "user migrated");
        Ok(Some(user))
    }
}

/// The key that encrypts codes for the custom senders: `KMSKeyID` when it
/// is `base64:<32 bytes>`, else HMAC-SHA256(pool hook secret,
/// "cirrus/custom-sender").
pub fn sender_key(pool: &UserPool, hook_secret: &str) -> [u8; 32] {
    use base64::Engine;
    let configured = pool
        .settings
        .lambda_config
        .as_ref()
        .and_then(|c| c.get("KMSKeyID"))
        .and_then(Value::as_str)
        .and_then(|k| k.strip_prefix("base64:"))
        .and_then(|k| base64::engine::general_purpose::STANDARD.decode(k).ok())
        .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok());
    configured.unwrap_or_else(|| secrets::hmac_sha256(hook_secret.as_bytes(), b"cirrus/custom-sender"))
}

/// A code for a custom sender: base64(12-byte nonce ‖ AES-256-GCM
/// ciphertext and tag), no associated data.
pub fn encrypt_code(key: &[u8; 32], code: &str) -> Result<String> {
    use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
    use base64::Engine;
    let internal = |e: aws_lc_rs::error::Unspecified| IdpError::Internal(format!("sender code: {e}"));
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(internal)?);
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(internal)?;
    let mut sealed = code.as_bytes().to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut sealed)
        .map_err(internal)?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(base64::engine::general_purpose::STANDARD.encode(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(hook_url_allowed("https://hooks.example.com/pre-sign-up"));
        assert!(hook_url_allowed("http://127.0.0.1:8080/x"));
        assert!(hook_url_allowed("http://[::1]:8080/x"));
        assert!(hook_url_allowed("http://localhost:9/x"));
        assert!(!hook_url_allowed("http://10.0.0.1/x"));
        assert!(!hook_url_allowed("http://hooks.example.com/x"));
        assert!(!hook_url_allowed("arn:aws:lambda:us-east-1:123456789012:function:f"));
        assert!(!hook_url_allowed("ftp://127.0.0.1/x"));
    }
}
