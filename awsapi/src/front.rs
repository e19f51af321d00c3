//! `POST /` (and `GET /` for Query): the one entry point of every AWS-wire
//! service, routing on `X-Amz-Target` (JSON 1.1) or `Action` (Query).
//!
//! The front owns framing, request ids, SigV4 and error envelopes; services
//! only see decoded operations. A signed operation reaches a service only
//! through [`JsonService::call_signed`] / [`QueryService::call_signed`], which
//! take the verified [`Principal`].

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use time::OffsetDateTime;

use crate::AwsError;
use crate::query::QueryParams;
use crate::sigv4::{self, CredentialProvider, Principal, SignedRequest};

const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const REQUEST_ID: &str = "x-amzn-requestid";
const ERROR_TYPE: &str = "x-amzn-errortype";

/// Whether an operation is called unsigned (authorised by its own inputs)
/// or SigV4-signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    Signed,
}

/// What a service may know of the HTTP request beyond its operation.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub user_agent: Option<String>,
    /// The peer's address, when the server records connection info.
    pub source_ip: Option<String>,
}

/// A service on the AWS JSON 1.1 protocol (`X-Amz-Target: <prefix>.<Op>`).
#[async_trait]
pub trait JsonService: Send + Sync {
    /// e.g. `AWSCognitoIdentityProviderService`.
    fn target_prefix(&self) -> &'static str;
    /// SigV4 service name in the credential scope, e.g. `cognito-idp`.
    fn signing_name(&self) -> &'static str;
    /// `None` for an operation the service does not have.
    fn access(&self, operation: &str) -> Option<Access>;
    /// Operations any signed caller may call, whatever its policy allows.
    fn unrestricted(&self, _operation: &str) -> bool {
        false
    }
    async fn call_public(
        &self,
        operation: &str,
        body: &[u8],
        ctx: &RequestContext,
    ) -> Result<serde_json::Value, AwsError>;
    async fn call_signed(
        &self,
        operation: &str,
        caller: &Principal,
        body: &[u8],
        ctx: &RequestContext,
    ) -> Result<serde_json::Value, AwsError>;
}

/// A service on the AWS Query protocol (form in, XML out).
#[async_trait]
pub trait QueryService: Send + Sync {
    fn signing_name(&self) -> &'static str;
    /// e.g. `https://sts.amazonaws.com/doc/2011-06-15/`.
    fn xml_namespace(&self) -> &'static str;
    fn access(&self, action: &str) -> Option<Access>;
    /// Actions any signed caller may call, whatever its policy allows
    /// (STS `GetCallerIdentity`).
    fn unrestricted(&self, _action: &str) -> bool {
        false
    }
    /// Returns the inside of `<ActionResult>`.
    async fn call_public(
        &self,
        action: &str,
        params: &QueryParams,
        ctx: &RequestContext,
    ) -> Result<String, AwsError>;
    async fn call_signed(
        &self,
        action: &str,
        caller: &Principal,
        params: &QueryParams,
        ctx: &RequestContext,
    ) -> Result<String, AwsError>;
}

/// The services mounted on `/` and what verifies their signatures.
pub struct AwsFront {
    json: Vec<Arc<dyn JsonService>>,
    query: Vec<Arc<dyn QueryService>>,
    credentials: Arc<dyn CredentialProvider>,
    clock: fn() -> OffsetDateTime,
}

impl AwsFront {
    pub fn new(credentials: Arc<dyn CredentialProvider>) -> Self {
        Self { json: Vec::new(), query: Vec::new(), credentials, clock: OffsetDateTime::now_utc }
    }

    pub fn with_json(mut self, service: Arc<dyn JsonService>) -> Self {
        self.json.push(service);
        self
    }

    pub fn with_query(mut self, service: Arc<dyn QueryService>) -> Self {
        self.query.push(service);
        self
    }

    /// Replaces the clock used for the signature time window.
    pub fn with_clock(mut self, clock: fn() -> OffsetDateTime) -> Self {
        self.clock = clock;
        self
    }

    pub fn router(self) -> Router {
        Router::new().route("/", post(handle).get(handle)).with_state(Arc::new(self))
    }

    async fn json(
        &self,
        target: &str,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        ctx: &RequestContext,
    ) -> Result<serde_json::Value, AwsError> {
        let (prefix, operation) = target.rsplit_once('.').unwrap_or(("", target));
        let service = self
            .json
            .iter()
            .find(|s| s.target_prefix() == prefix)
            .ok_or_else(|| AwsError::unknown_operation(target))?;
        let access = service.access(operation).ok_or_else(|| AwsError::unknown_operation(target))?;
        if method != Method::POST {
            return Err(AwsError::unknown_operation(&format!("{method} {target}")));
        }
        check_json_content_type(headers)?;
        match access {
            Access::Public => service.call_public(operation, body, ctx).await,
            Access::Signed => {
                let caller = self
                    .verify(method, uri, headers, body, service.signing_name())
                    .await
                    .map_err(|e| e.to_json_error())?;
                let action = format!("{}:{operation}", service.signing_name());
                if !service.unrestricted(operation) && !caller.may(&action, ctx.source_ip.as_deref()) {
                    return Err(access_denied(&caller, &action));
                }
                service.call_signed(operation, &caller, body, ctx).await
            }
        }
    }

    async fn query(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        ctx: &RequestContext,
    ) -> (&'static str, Result<(String, String), AwsError>) {
        let default_ns = self.query.first().map_or("", |s| s.xml_namespace());
        let form_body = if is_form(headers) { body } else { &[][..] };
        let params = QueryParams::parse(uri.query(), form_body);
        let Some(action) = params.get("Action").map(str::to_owned) else {
            let err = AwsError::new("MissingAction", "The request must contain the parameter Action");
            return (default_ns, Err(err));
        };
        let scope_service = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split("Credential=").nth(1))
            .and_then(|c| c.split('/').nth(3))
            .map(|s| s.trim_end_matches(',').to_owned());
        let candidates = || self.query.iter().filter(|s| s.access(&action).is_some());
        let service = candidates()
            .find(|s| Some(s.signing_name()) == scope_service.as_deref())
            .or_else(|| candidates().next());
        let Some(service) = service else {
            let version = params.get("Version").unwrap_or("");
            let err = AwsError::new(
                "InvalidAction",
                format!("Could not find operation {action} for version {version}"),
            );
            return (default_ns, Err(err));
        };
        let ns = service.xml_namespace();
        let result = match service.access(&action) {
            Some(Access::Signed) => {
                match self.verify(method, uri, headers, body, service.signing_name()).await {
                    Ok(caller) => {
                        let iam_action = format!("{}:{action}", service.signing_name());
                        if !service.unrestricted(&action)
                            && !caller.may(&iam_action, ctx.source_ip.as_deref())
                        {
                            Err(AwsError::new("AccessDenied", access_denied(&caller, &iam_action).message)
                                .with_status(StatusCode::FORBIDDEN))
                        } else {
                            service.call_signed(&action, &caller, &params, ctx).await
                        }
                    }
                    Err(e) => Err(e.to_query_error()),
                }
            }
            _ => service.call_public(&action, &params, ctx).await,
        };
        (ns, result.map(|inner| (action, inner)))
    }

    async fn verify(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        service: &str,
    ) -> Result<Principal, sigv4::SigV4Error> {
        let req = SignedRequest { method: method.as_str(), uri, headers, body };
        let result = sigv4::verify(&req, service, (self.clock)(), self.credentials.as_ref()).await;
        if let Err(e) = &result {
            tracing::info!(reason = ?e, "signature refused");
        }
        result
    }
}

fn access_denied(caller: &Principal, action: &str) -> AwsError {
    AwsError::new(
        "AccessDeniedException",
        format!(
            "User: {} is not authorized to perform: {action} because no identity-based policy allows the \
             {action} action",
            caller.arn()
        ),
    )
}

fn check_json_content_type(headers: &HeaderMap) -> Result<(), AwsError> {
    let value = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/x-amz-json-1.1" | "application/x-amz-json-1.0" | "application/json" => Ok(()),
        _ => Err(AwsError::serialization(format!(
            "Unsupported Content-Type '{value}': send {JSON_CONTENT_TYPE}"
        ))),
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
}

async fn handle(
    State(front): State<Arc<AwsFront>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    body: Bytes,
) -> Response {
    let ctx = RequestContext {
        request_id: uuid::Uuid::new_v4().to_string(),
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
        source_ip: extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip().to_string()),
    };
    let target = headers.get("x-amz-target").map(|v| v.to_str().unwrap_or("<non-ascii>").to_owned());
    let response = match target {
        Some(target) => {
            let result = front.json(&target, &method, &uri, &headers, &body, &ctx).await;
            log_outcome(&target, &ctx, result.as_ref().err());
            match result {
                Ok(value) => json_response(StatusCode::OK, value.to_string().into_bytes()),
                Err(e) => json_error(&e),
            }
        }
        None if is_form(&headers) || uri.query().is_some_and(|q| q.contains("Action=")) => {
            let (ns, result) = front.query(&method, &uri, &headers, &body, &ctx).await;
            match result {
                Ok((action, inner)) => {
                    log_outcome(&action, &ctx, None);
                    xml_response(
                        StatusCode::OK,
                        format!(
                            "<{action}Response xmlns=\"{ns}\"><{action}Result>{inner}</{action}Result>\
                             <ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata>\
                             </{action}Response>",
                            rid = ctx.request_id
                        ),
                    )
                }
                Err(e) => {
                    log_outcome("query", &ctx, Some(&e));
                    xml_response(e.status, e.query_body(ns, &ctx.request_id))
                }
            }
        }
        None => json_error(&AwsError::new(
            "UnknownOperationException",
            "The request names no operation: send X-Amz-Target (JSON 1.1) or an Action parameter (Query)",
        )),
    };
    with_request_id(response, &ctx.request_id)
}

fn log_outcome(operation: &str, ctx: &RequestContext, error: Option<&AwsError>) {
    match error {
        None => tracing::debug!(operation, request_id = %ctx.request_id, "ok"),
        Some(e) if e.is_fault() => {
            tracing::error!(operation, request_id = %ctx.request_id, error = %e.name, "fault")
        }
        // Refusals are the client's business and can come by the thousand
        // under load; they are logged at debug.
        Some(e) => tracing::debug!(operation, request_id = %ctx.request_id, error = %e.name, "refused"),
    }
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, JSON_CONTENT_TYPE)], body).into_response()
}

fn json_error(e: &AwsError) -> Response {
    let mut response = json_response(e.status, e.json_body());
    if let Ok(v) = HeaderValue::from_str(&e.name) {
        response.headers_mut().insert(ERROR_TYPE, v);
    }
    response
}

fn xml_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    response
}
