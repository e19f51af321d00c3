//! The broker's own HTTP routes: its OpenID issuer's discovery document
//! and JWKS, and `POST /broker/authorize`, the verification endpoint for
//! resource servers written in other languages.
//!
//! `/broker/authorize` takes the signed request as the resource server
//! received it and the action and resource to decide:
//!
//! ```json
//! {"Method": "GET", "Path": "/photos/us-east-1:…/a.jpg?x=1",
//!  "Headers": [["host", "photos.example"], ["x-amz-date", "…"], …],
//!  "Body": "<base64, optional>", "Service": "execute-api",
//!  "Action": "photos:GetPhoto", "Resource": "arn:aws:photos:::photo/…",
//!  "SourceIp": "203.0.113.9", "SecureTransport": true}
//! ```
//!
//! and answers 200 with `{"Allowed": true, "Principal": {...}, "Context": {...}}`
//! or `{"Allowed": false, "Code": "AccessDenied", "Message": "..."}`; 400
//! when the input itself is malformed.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::json;

use crate::Broker;
use crate::verify::{RequestFacts, Verifier};

struct BrokerHttp {
    broker: Arc<Broker>,
    verifier: Verifier,
}

/// The broker's routes, to merge into the server's router.
pub fn routes(broker: Arc<Broker>) -> Router {
    let verifier = Verifier::new(broker.session_keys.clone()).with_clock(broker.clock);
    let state = Arc::new(BrokerHttp { broker, verifier });
    Router::new()
        .route("/cognito-identity/.well-known/openid-configuration", get(discovery))
        .route("/cognito-identity/.well-known/jwks.json", get(jwks))
        .route("/broker/authorize", post(authorize))
        .with_state(state)
}

async fn discovery(State(s): State<Arc<BrokerHttp>>) -> Response {
    let issuer = s.broker.issuer();
    axum::Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["sub", "aud", "amr", "iss", "iat", "exp"],
    }))
    .into_response()
}

async fn jwks(State(s): State<Arc<BrokerHttp>>) -> Response {
    match s.broker.jwks().await {
        Ok(keys) => axum::Json(keys).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "keys unavailable").into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AuthorizeRequest {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
    service: String,
    action: String,
    resource: String,
    source_ip: Option<String>,
    secure_transport: Option<bool>,
}

fn bad_request(message: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({ "Code": "ValidationError", "Message": message.into() })))
        .into_response()
}

async fn authorize(State(s): State<Arc<BrokerHttp>>, body: Bytes) -> Response {
    let r: AuthorizeRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad_request(format!("Malformed request: {e}")),
    };
    let uri: Uri = match r.path.parse() {
        Ok(u) => u,
        Err(_) => return bad_request("Path is not a valid request target."),
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &r.headers {
        let (Ok(n), Ok(v)) = (HeaderName::try_from(name.as_str()), HeaderValue::try_from(value.as_str()))
        else {
            return bad_request(format!("Header {name:?} is not a valid HTTP header."));
        };
        headers.append(n, v);
    }
    let payload = match r.body.as_deref().map(|b| STANDARD.decode(b)).transpose() {
        Ok(p) => p.unwrap_or_default(),
        Err(_) => return bad_request("Body must be base64."),
    };
    let source_ip = match r.source_ip.as_deref().map(str::parse).transpose() {
        Ok(ip) => ip,
        Err(_) => return bad_request("SourceIp is not an IP address."),
    };
    let facts = RequestFacts {
        source_ip,
        secure_transport: r.secure_transport.unwrap_or(false),
        user_agent: headers.get("user-agent").and_then(|v| v.to_str().ok()).map(str::to_string),
        region: None,
    };
    let signed =
        awsapi::sigv4::SignedRequest { method: &r.method, uri: &uri, headers: &headers, body: &payload };
    match s.verifier.authorize(&signed, &r.service, &r.action, &r.resource, &facts).await {
        Ok(caller) => axum::Json(json!({
            "Allowed": true,
            "Principal": {
                "Arn": caller.arn,
                "UserId": caller.user_id,
                "Account": caller.account,
                "RoleArn": caller.role_arn,
                "AccessKeyId": caller.access_key_id,
            },
            "Context": caller.claims.context,
        }))
        .into_response(),
        Err(refusal) => axum::Json(json!({
            "Allowed": false,
            "Code": refusal.code(),
            "Message": refusal.message(),
        }))
        .into_response(),
    }
}
