//! The per-pool JWKS under `{public_url}/{pool_id}/` (the OAuth 2.0 token
//! and revocation endpoints are in `oauth2.rs`).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::error::IdpError;
use crate::service::UserPools;

pub fn router(pools: Arc<UserPools>) -> Router {
    Router::new().route("/{pool_id}/.well-known/jwks.json", get(jwks)).with_state(pools)
}

async fn jwks(State(pools): State<Arc<UserPools>>, Path(pool_id): Path<String>) -> Response {
    match pools.jwks(&pool_id).await {
        Ok(keys) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "public, max-age=60")],
            keys.to_string(),
        )
            .into_response(),
        Err(IdpError::ResourceNotFound(_) | IdpError::Wire(_)) => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json")],
            json!({"error": "unknown user pool"}).to_string(),
        )
            .into_response(),
        Err(e) => {
            let wire: awsapi::AwsError = e.into();
            (
                wire.status,
                [(header::CONTENT_TYPE, "application/json")],
                json!({"error": "server_error"}).to_string(),
            )
                .into_response()
        }
    }
}
