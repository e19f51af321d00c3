//! What makes temporary credentials mean something: verifying a request
//! signed with them (SigV4, header or presigned form) and evaluating the
//! session's policies for an action on a resource.
//!
//! - [`Verifier::authorize`]: the library call.
//! - [`AuthorizeLayer`]: a tower layer for axum services.
//! - [`SessionCredentials`]: lets the AWS front accept temporary
//!   credentials (GetCallerIdentity, and operations their policy allows).
//!
//! Nothing here touches a database: the session token carries what the
//! check needs and the key ring opens it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use awsapi::sigv4::{self, SigV4Error, SignedRequest};
use awsapi::{Authorize, AwsError, CredentialProvider, PrincipalInfo, SigningIdentity};
use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use time::OffsetDateTime;

use crate::credentials::{ContextValue, SessionClaims, SessionKeys, TokenError};
use crate::policy::{self, Context, Decision, Policy, PolicyKind};
use crate::session::rfc3339;

/// Parsed policies by the session's policy texts: a session's policies are
/// parsed once, and shared, not copied, by its verifications.
#[derive(Default)]
struct PolicyCache {
    parsed: Mutex<HashMap<String, Arc<SessionPolicies>>>,
}

const POLICY_CACHE_MAX: usize = 4096;

impl PolicyCache {
    fn get(&self, claims: &SessionClaims) -> Result<Arc<SessionPolicies>, String> {
        // The texts, NUL-separated; session policies (if any) after a 0x01.
        let mut key = claims.policies.join("\0");
        if let Some(session) = &claims.session_policies {
            key.push('\u{1}');
            key.push_str(&session.join("\0"));
        }
        if let Some(found) = self.parsed.lock().map_err(|_| "policy cache poisoned")?.get(&key) {
            return Ok(found.clone());
        }
        let parse = |texts: &[String]| -> Result<Vec<Policy>, String> {
            texts.iter().map(|t| Policy::parse(t, PolicyKind::Identity).map_err(|e| e.to_string())).collect()
        };
        let policies = Arc::new(SessionPolicies {
            identity: parse(&claims.policies)?,
            session: claims.session_policies.as_deref().map(parse).transpose()?,
        });
        let mut cache = self.parsed.lock().map_err(|_| "policy cache poisoned")?;
        if cache.len() >= POLICY_CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, policies.clone());
        Ok(policies)
    }
}

/// A session's policies, ready to evaluate.
struct SessionPolicies {
    identity: Vec<Policy>,
    session: Option<Vec<Policy>>,
}

impl SessionPolicies {
    fn decide(&self, action: &str, resource: &str, ctx: &Context) -> Decision {
        let request = policy::Request { action, resource, principal: None, context: ctx };
        policy::decide(&self.identity, self.session.as_deref(), &request)
    }
}

/// The request facts policies may test beyond the session's own keys.
#[derive(Debug, Clone, Default)]
pub struct RequestFacts {
    pub source_ip: Option<IpAddr>,
    pub secure_transport: bool,
    pub user_agent: Option<String>,
    pub region: Option<String>,
}

fn context(claims: &SessionClaims, facts: &RequestFacts, now: OffsetDateTime) -> Context {
    let mut ctx = Context::new();
    for (k, v) in &claims.context {
        match v {
            ContextValue::One(s) => ctx.insert(k, s.clone()),
            ContextValue::Many(l) => ctx.insert_multi(k, l.clone()),
        }
    }
    if let Some(ip) = facts.source_ip {
        ctx.insert("aws:SourceIp", ip.to_string());
    }
    ctx.insert("aws:SecureTransport", facts.secure_transport.to_string());
    if let Some(ua) = &facts.user_agent {
        ctx.insert("aws:UserAgent", ua.clone());
    }
    if let Some(region) = &facts.region {
        ctx.insert("aws:RequestedRegion", region.clone());
    }
    ctx.insert("aws:CurrentTime", rfc3339(now.unix_timestamp()));
    ctx.insert("aws:EpochTime", now.unix_timestamp().to_string());
    ctx
}

/// A caller whose request was verified and allowed.
#[derive(Debug, Clone)]
pub struct Authorized {
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub arn: String,
    pub user_id: String,
    pub account: String,
    pub role_arn: String,
    pub access_key_id: String,
    /// The session's context keys (`cognito-identity.amazonaws.com:sub`, …).
    pub claims: SessionClaims,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The request is not signed at all.
    Unsigned,
    /// The signature is malformed or wrong, or the key unknown.
    Signature(String),
    /// The session token is tampered with or not from this broker.
    InvalidToken,
    Expired,
    /// A policy denied it, explicitly or by not allowing it.
    Denied {
        explicit: bool,
    },
    Internal,
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unsigned => "MissingAuthenticationToken",
            Self::Signature(_) => "SignatureDoesNotMatch",
            Self::InvalidToken => "InvalidToken",
            Self::Expired => "ExpiredToken",
            Self::Denied { .. } => "AccessDenied",
            Self::Internal => "InternalError",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::Unsigned => "Request is missing Authentication Token".into(),
            Self::Signature(m) => m.clone(),
            Self::InvalidToken => "The security token included in the request is invalid.".into(),
            Self::Expired => "The security token included in the request is expired.".into(),
            Self::Denied { explicit: true } => "Access denied by an explicit deny in a policy.".into(),
            Self::Denied { explicit: false } => "Access denied: no policy allows this action.".into(),
            Self::Internal => "An internal error occurred.".into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::FORBIDDEN,
        }
    }
}

/// Verifies requests signed with this broker's temporary credentials.
pub struct Verifier {
    keys: SessionKeys,
    cache: PolicyCache,
    clock: fn() -> OffsetDateTime,
}

/// Opens session tokens for `sigv4::verify`, remembering why one failed.
struct TokenProvider<'a> {
    keys: &'a SessionKeys,
    now: i64,
    opened: Mutex<Option<Result<SessionClaims, TokenError>>>,
}

#[async_trait]
impl CredentialProvider for TokenProvider<'_> {
    async fn lookup(&self, akid: &str, token: Option<&str>) -> Result<Option<SigningIdentity>, AwsError> {
        let Some(token) = token else {
            return Ok(None);
        };
        let result = self.keys.open(akid, token, self.now);
        let identity = match &result {
            Ok((claims, secret)) => Some(SigningIdentity {
                secret_access_key: secret.clone(),
                principal: PrincipalInfo {
                    arn: claims.arn.clone(),
                    user_id: claims.user_id.clone(),
                    account_id: claims.account.clone(),
                },
                restriction: None,
            }),
            Err(_) => None,
        };
        if let Ok(mut slot) = self.opened.lock() {
            *slot = Some(result.map(|(c, _)| c));
        }
        Ok(identity)
    }
}

impl Verifier {
    pub fn new(keys: SessionKeys) -> Self {
        Self { keys, cache: PolicyCache::default(), clock: OffsetDateTime::now_utc }
    }

    pub fn with_clock(mut self, clock: fn() -> OffsetDateTime) -> Self {
        self.clock = clock;
        self
    }

    /// Verifies `req`'s signature for `service` and decides `action` on
    /// `resource` under the session's policies.
    pub async fn authorize(
        &self,
        req: &SignedRequest<'_>,
        service: &str,
        action: &str,
        resource: &str,
        facts: &RequestFacts,
    ) -> Result<Authorized, Refusal> {
        let now = (self.clock)();
        let provider =
            TokenProvider { keys: &self.keys, now: now.unix_timestamp(), opened: Mutex::new(None) };
        let verified = sigv4::verify(req, service, now, &provider).await;
        let opened = provider.opened.lock().ok().and_then(|mut s| s.take());
        let claims = match (verified, opened) {
            (Ok(_), Some(Ok(claims))) => claims,
            (_, Some(Err(TokenError::Expired))) => return Err(Refusal::Expired),
            (_, Some(Err(_))) => return Err(Refusal::InvalidToken),
            (Err(SigV4Error::Provider(_)), _) => return Err(Refusal::Internal),
            (Err(SigV4Error::Missing), _) => return Err(Refusal::Unsigned),
            (Err(e), _) => return Err(Refusal::Signature(e.to_query_error().message)),
            (Ok(_), None) => return Err(Refusal::InvalidToken),
        };
        let policies = self.cache.get(&claims).map_err(|e| {
            tracing::error!(error = %e, "a session carries a policy that does not parse");
            Refusal::Internal
        })?;
        let ctx = context(&claims, facts, now);
        match policies.decide(action, resource, &ctx) {
            Decision::Allow => Ok(Authorized {
                arn: claims.arn.clone(),
                user_id: claims.user_id.clone(),
                account: claims.account.clone(),
                role_arn: claims.role_arn.clone(),
                access_key_id: claims.akid.clone(),
                claims,
            }),
            Decision::ExplicitDeny => Err(Refusal::Denied { explicit: true }),
            Decision::ImplicitDeny => Err(Refusal::Denied { explicit: false }),
        }
    }
}

/// Lets the AWS front accept temporary credentials; what they may call is
/// what their policies allow (on any resource: `Resource: "*"` requests).
pub struct SessionCredentials {
    keys: SessionKeys,
    cache: Arc<PolicyCache>,
    clock: fn() -> OffsetDateTime,
}

impl SessionCredentials {
    pub fn new(keys: SessionKeys) -> Self {
        Self { keys, cache: Arc::new(PolicyCache::default()), clock: OffsetDateTime::now_utc }
    }
}

struct SessionRestriction {
    claims: SessionClaims,
    policies: Arc<SessionPolicies>,
    clock: fn() -> OffsetDateTime,
}

impl Authorize for SessionRestriction {
    fn allows(&self, action: &str, source_ip: Option<&str>) -> bool {
        let facts =
            RequestFacts { source_ip: source_ip.and_then(|s| s.parse().ok()), ..RequestFacts::default() };
        let ctx = context(&self.claims, &facts, (self.clock)());
        self.policies.decide(action, "*", &ctx) == Decision::Allow
    }
}

#[async_trait]
impl CredentialProvider for SessionCredentials {
    async fn lookup(&self, akid: &str, token: Option<&str>) -> Result<Option<SigningIdentity>, AwsError> {
        let Some(token) = token else {
            return Ok(None);
        };
        match self.keys.open(akid, token, (self.clock)().unix_timestamp()) {
            Ok((claims, secret)) => {
                let policies = self.cache.get(&claims).map_err(|e| {
                    tracing::error!(error = %e, "a session carries a policy that does not parse");
                    AwsError::internal()
                })?;
                Ok(Some(SigningIdentity {
                    secret_access_key: secret,
                    principal: PrincipalInfo {
                        arn: claims.arn.clone(),
                        user_id: claims.user_id.clone(),
                        account_id: claims.account.clone(),
                    },
                    restriction: Some(Arc::new(SessionRestriction { claims, policies, clock: self.clock })),
                }))
            }
            Err(TokenError::Expired) => {
                Err(AwsError::new("ExpiredToken", "The security token included in the request is expired")
                    .with_status(StatusCode::FORBIDDEN))
            }
            Err(_) => Ok(None),
        }
    }
}

// ---------------------------------------------------------------- tower layer

/// Maps a request to the action and resource to authorize, or None to
/// refuse it as unknown.
pub type RouteFn = dyn Fn(&Method, &Uri) -> Option<(String, String)> + Send + Sync;

/// A tower layer that lets through only requests signed with temporary
/// credentials whose policies allow the request's action on its resource.
/// The allowed caller is put in the request's extensions as [`Authorized`].
#[derive(Clone)]
pub struct AuthorizeLayer {
    verifier: Arc<Verifier>,
    service: Arc<str>,
    route: Arc<RouteFn>,
    body_limit: usize,
}

impl AuthorizeLayer {
    /// `service` is the SigV4 signing name clients use for this service.
    pub fn new(
        verifier: Arc<Verifier>,
        service: &str,
        route: impl Fn(&Method, &Uri) -> Option<(String, String)> + Send + Sync + 'static,
    ) -> Self {
        Self { verifier, service: service.into(), route: Arc::new(route), body_limit: 1 << 20 }
    }

    /// The largest body buffered for the signature check (1 MiB).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }
}

impl<S> tower::Layer<S> for AuthorizeLayer {
    type Service = AuthorizeService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthorizeService { layer: self.clone(), inner }
    }
}

#[derive(Clone)]
pub struct AuthorizeService<S> {
    layer: AuthorizeLayer,
    inner: S,
}

/// A refusal as an XML error body, as AWS services answer.
pub fn refusal_response(refusal: &Refusal) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message></Error>",
        refusal.code(),
        awsapi::query::escape(&refusal.message())
    );
    (refusal.status(), [(http::header::CONTENT_TYPE, "application/xml")], body).into_response()
}

/// The facts of an HTTP request: peer address (or the first
/// `X-Forwarded-For` hop when `trust_forwarded`), scheme.
pub fn request_facts(
    headers: &HeaderMap,
    uri: &Uri,
    peer: Option<IpAddr>,
    trust_forwarded: bool,
) -> RequestFacts {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let forwarded_ip =
        header("x-forwarded-for").and_then(|v| v.split(',').next()).and_then(|v| v.trim().parse().ok());
    let secure = uri.scheme_str() == Some("https")
        || (trust_forwarded && header("x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https")));
    RequestFacts {
        source_ip: if trust_forwarded { forwarded_ip.or(peer) } else { peer },
        secure_transport: secure,
        user_agent: header("user-agent").map(str::to_string),
        region: None,
    }
}

impl<S> tower::Service<Request<Body>> for AuthorizeService<S>
where
    S: tower::Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // The service that was polled ready handles this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let Some((action, resource)) = (layer.route)(&parts.method, &parts.uri) else {
                return Ok(refusal_response(&Refusal::Denied { explicit: false }));
            };
            let bytes: Bytes = match axum::body::to_bytes(body, layer.body_limit).await {
                Ok(b) => b,
                Err(_) => {
                    return Ok((StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response());
                }
            };
            let peer = parts.extensions.get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
            let facts = request_facts(&parts.headers, &parts.uri, peer, false);
            let signed = SignedRequest {
                method: parts.method.as_str(),
                uri: &parts.uri,
                headers: &parts.headers,
                body: &bytes,
            };
            match layer.verifier.authorize(&signed, &layer.service, &action, &resource, &facts).await {
                Ok(caller) => {
                    parts.extensions.insert(caller);
                    inner.call(Request::from_parts(parts, Body::from(bytes))).await
                }
                Err(refusal) => Ok(refusal_response(&refusal)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::time::{Duration, SystemTime};

    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    use secrets::MasterKey;

    use super::*;
    use crate::credentials::TemporaryCredentials;

    const T0: i64 = 1_800_000_000;
    static NOW: AtomicI64 = AtomicI64::new(T0);

    fn clock() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(NOW.load(Ordering::SeqCst)).unwrap()
    }

    /// The second test's clock, so that the tests can run in parallel.
    fn fixed_clock() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(T0 + 10).unwrap()
    }

    const SUB: &str = "us-east-1:11111111-2222-3333-4444-555555555555";

    fn issue(keys: &SessionKeys, session: Option<Vec<String>>) -> TemporaryCredentials {
        let policy = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"photos:*",
             "Resource":"arn:aws:photos:::photo/${cognito-identity.amazonaws.com:sub}/*"},
            {"Effect":"Deny","Action":"photos:PutPhoto","Resource":"*",
             "Condition":{"Bool":{"aws:SecureTransport":"false"},"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}]}"#;
        keys.issue(SessionClaims {
            akid: String::new(),
            arn: "arn:aws:sts::000000000000:assumed-role/photos/s".into(),
            user_id: "AROAEXAMPLE:s".into(),
            account: "000000000000".into(),
            role_arn: "arn:aws:iam::000000000000:role/photos".into(),
            iat: T0,
            exp: T0 + 3600,
            policies: vec![policy.into()],
            session_policies: session,
            context: BTreeMap::from([(
                "cognito-identity.amazonaws.com:sub".to_string(),
                ContextValue::One(SUB.to_string()),
            )]),
        })
        .unwrap()
    }

    /// A request signed as botocore would, in a header or presigned.
    fn signed(
        c: &TemporaryCredentials,
        secret: &str,
        path: &str,
        at: i64,
        presign: bool,
    ) -> (Method, Uri, HeaderMap) {
        let creds = Credentials::new(&c.access_key_id, secret, Some(c.session_token.clone()), None, "t");
        let identity = creds.into();
        let mut settings = SigningSettings::default();
        if presign {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(Duration::from_secs(300));
        }
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("photos")
            .time(SystemTime::UNIX_EPOCH + Duration::from_secs(at as u64))
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let url = format!("http://photos.test{path}");
        let headers = [("host", "photos.test")];
        let signable =
            SignableRequest::new("GET", url.as_str(), headers.into_iter(), SignableBody::Bytes(b"")).unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut req =
            http::Request::builder().method("GET").uri(&url).header("host", "photos.test").body(()).unwrap();
        instructions.apply_to_request_http1x(&mut req);
        let (parts, _) = req.into_parts();
        let uri: Uri = parts.uri.path_and_query().unwrap().as_str().parse().unwrap();
        (parts.method, uri, parts.headers)
    }

    async fn check(
        v: &Verifier,
        (method, uri, headers): (Method, Uri, HeaderMap),
        resource_owner: &str,
        facts: &RequestFacts,
    ) -> Result<Authorized, Refusal> {
        let req = SignedRequest { method: method.as_str(), uri: &uri, headers: &headers, body: b"" };
        let resource = format!("arn:aws:photos:::photo/{resource_owner}/a.jpg");
        v.authorize(&req, "photos", "photos:GetPhoto", &resource, facts).await
    }

    #[tokio::test]
    async fn allowed_denied_expired_tampered_wrong_secret() {
        let keys = SessionKeys::derive(&MasterKey::from_bytes(&[3; 32]).unwrap(), 1, &[]).unwrap();
        let v = Verifier::new(keys.clone()).with_clock(clock);
        let c = issue(&keys, None);
        let facts = RequestFacts::default();
        NOW.store(T0 + 10, Ordering::SeqCst);

        // Own folder: allowed, in the header form and presigned.
        let own = format!("/photos/{SUB}/a.jpg");
        let ok = check(&v, signed(&c, &c.secret_access_key, &own, T0 + 5, false), SUB, &facts).await.unwrap();
        assert_eq!(ok.arn, "arn:aws:sts::000000000000:assumed-role/photos/s");
        assert!(check(&v, signed(&c, &c.secret_access_key, &own, T0 + 5, true), SUB, &facts).await.is_ok());
        // Someone else's folder: no policy allows it.
        let theirs = "/photos/us-east-1:other/a.jpg";
        let denied =
            check(&v, signed(&c, &c.secret_access_key, theirs, T0 + 5, false), "us-east-1:other", &facts);
        assert_eq!(denied.await.unwrap_err(), Refusal::Denied { explicit: false });
        // A wrong secret does not sign.
        let wrong = check(
            &v,
            signed(&c, "0000000000000000000000000000000000000000", &own, T0 + 5, false),
            SUB,
            &facts,
        );
        assert!(matches!(wrong.await.unwrap_err(), Refusal::Signature(_)));
        // A tampered token does not open.
        let mut tampered = c.clone();
        let mid = tampered.session_token.len() / 2;
        let flipped = if &tampered.session_token[mid..mid + 1] == "A" { "B" } else { "A" };
        tampered.session_token.replace_range(mid..mid + 1, flipped);
        let bad = check(&v, signed(&tampered, &c.secret_access_key, &own, T0 + 5, false), SUB, &facts);
        assert_eq!(bad.await.unwrap_err(), Refusal::InvalidToken);
        // After expiry, even a freshly signed request is refused.
        NOW.store(T0 + 3601, Ordering::SeqCst);
        let late = check(&v, signed(&c, &c.secret_access_key, &own, T0 + 3600, false), SUB, &facts);
        assert_eq!(late.await.unwrap_err(), Refusal::Expired);
        // A presigned URL outlives neither its X-Amz-Expires.
        NOW.store(T0 + 400, Ordering::SeqCst);
        let stale = check(&v, signed(&c, &c.secret_access_key, &own, T0 + 5, true), SUB, &facts);
        assert!(matches!(stale.await.unwrap_err(), Refusal::Signature(_)));
    }

    #[tokio::test]
    async fn session_policies_and_request_facts() {
        let keys = SessionKeys::derive(&MasterKey::from_bytes(&[4; 32]).unwrap(), 1, &[]).unwrap();
        let v = Verifier::new(keys.clone()).with_clock(fixed_clock);
        let own = format!("/photos/{SUB}/a.jpg");
        // A session policy that allows only PutPhoto leaves GetPhoto denied.
        let only_put = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"photos:PutPhoto","Resource":"*"}]}"#;
        let c = issue(&keys, Some(vec![only_put.into()]));
        let none = RequestFacts::default();
        let r = check(&v, signed(&c, &c.secret_access_key, &own, T0 + 5, false), SUB, &none);
        assert_eq!(r.await.unwrap_err(), Refusal::Denied { explicit: false });
        // The Deny on PutPhoto applies only from 192.0.2.0/24 without TLS.
        let c = issue(&keys, None);
        let put = |facts: RequestFacts| {
            let s = signed(&c, &c.secret_access_key, &own, T0 + 5, false);
            let v = &v;
            async move {
                let req = SignedRequest { method: s.0.as_str(), uri: &s.1, headers: &s.2, body: b"" };
                let resource = format!("arn:aws:photos:::photo/{SUB}/a.jpg");
                v.authorize(&req, "photos", "photos:PutPhoto", &resource, &facts).await.map(|_| ())
            }
        };
        let inside = RequestFacts { source_ip: "192.0.2.7".parse().ok(), ..RequestFacts::default() };
        assert_eq!(put(inside.clone()).await, Err(Refusal::Denied { explicit: true }));
        assert_eq!(put(RequestFacts { secure_transport: true, ..inside }).await, Ok(()));
        let outside = RequestFacts { source_ip: "198.51.100.1".parse().ok(), ..RequestFacts::default() };
        assert_eq!(put(outside).await, Ok(()));
    }
}
