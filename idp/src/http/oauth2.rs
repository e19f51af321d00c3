//! `POST {issuer}/oauth2/token`: form in, JSON out, RFC 6749 errors
//! (`invalid_client` as 401 with `WWW-Authenticate`), `no-store` caching.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::service::UserPools;
use crate::service::oauth::OAuthError;

pub fn router(pools: Arc<UserPools>) -> Router {
    Router::new()
        .route("/{pool_id}/oauth2/token", post(token))
        .route("/{pool_id}/oauth2/revoke", post(revoke))
        .with_state(pools)
}

/// `Authorization: Basic base64(client_id:client_secret)`, each part
/// form-urlencoded first (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| OAuthError::InvalidClient)?;
    let Some(encoded) = text.strip_prefix("Basic ").or_else(|| text.strip_prefix("basic ")) else {
        return Err(OAuthError::InvalidClient);
    };
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| OAuthError::InvalidClient)?;
    let decoded = String::from_utf8(decoded).map_err(|_| OAuthError::InvalidClient)?;
    let (id, secret) = decoded.split_once(':').ok_or(OAuthError::InvalidClient)?;
    let unescape =
        |s: &str| form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Ok(Some((unescape(id).unwrap_or_default(), unescape(secret).unwrap_or_default())))
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json;charset=UTF-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        body.to_string(),
    )
        .into_response()
}

fn error_response(e: &OAuthError) -> Response {
    let mut body = json!({ "error": e.code() });
    if let Some(d) = e.description() {
        body["error_description"] = json!(d);
    }
    let status = match e {
        OAuthError::InvalidClient => StatusCode::UNAUTHORIZED,
        OAuthError::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = json_response(status, body);
    if matches!(e, OAuthError::InvalidClient)
        && let Ok(v) = header::HeaderValue::from_str("Basic realm=\"cirrus\"")
    {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    response
}

/// A request's form parameters and its HTTP Basic client credentials.
type OAuthRequest = (BTreeMap<String, String>, Option<(String, String)>);

/// The form and Basic credentials of a token or revocation request.
fn parse_request(headers: &HeaderMap, body: &[u8]) -> Result<OAuthRequest, OAuthError> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(OAuthError::InvalidRequest("The body must be application/x-www-form-urlencoded.".into()));
    }
    let mut form = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        if form.insert(k.into_owned(), v.into_owned()).is_some() {
            return Err(OAuthError::InvalidRequest("A parameter is repeated.".into()));
        }
    }
    Ok((form, basic_credentials(headers)?))
}

async fn revoke(
    State(pools): State<Arc<UserPools>>,
    Path(pool_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, basic) = match parse_request(&headers, &body) {
        Ok(r) => r,
        Err(e) => return error_response(&e),
    };
    match pools.oauth_revoke(&pool_id, &form, basic).await {
        Ok(()) => json_response(StatusCode::OK, json!({})),
        Err(e) => error_response(&e),
    }
}

async fn token(
    State(pools): State<Arc<UserPools>>,
    Path(pool_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, basic) = match parse_request(&headers, &body) {
        Ok(r) => r,
        Err(e) => return error_response(&e),
    };
    match pools.oauth_token(&pool_id, &form, basic).await {
        Ok(t) => {
            let mut body = json!({
                "access_token": t.access_token,
                "expires_in": t.expires_in,
                "token_type": "Bearer",
            });
            if let Some(id) = t.id_token {
                body["id_token"] = json!(id);
            }
            if let Some(r) = t.refresh_token {
                body["refresh_token"] = json!(r);
            }
            json_response(StatusCode::OK, body)
        }
        Err(e) => error_response(&e),
    }
}
