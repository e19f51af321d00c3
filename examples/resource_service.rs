//! A resource server that trusts Cirrus temporary credentials: a tiny photo
//! store whose every request must be SigV4-signed (signing name `photos`)
//! with credentials from Cirrus (GetCredentialsForIdentity or
//! AssumeRoleWithWebIdentity), and allowed by the session's policies.
//!
//!   GET /photos/{owner}/{name}  → photos:GetPhoto on arn:aws:photos:::photo/{owner}/{name}
//!   PUT /photos/{owner}/{name}  → photos:PutPhoto on the same resource
//!
//! A role policy such as
//!   {"Effect": "Allow", "Action": "photos:*",
//!    "Resource": "arn:aws:photos:::photo/${cognito-identity.amazonaws.com:sub}/*"}
//! then gives each identity its own folder.
//!
//! Run: `CIRRUS_SESSION_KEYS=$(cirrus session-keys) cargo run --example resource_service`
//! (listens on RESOURCE_LISTEN, default 127.0.0.1:9330; prints the address).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{Method, StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use sts_broker::SessionKeys;
use sts_broker::verify::{AuthorizeLayer, Authorized, Verifier};

type Photos = Arc<Mutex<HashMap<String, Bytes>>>;

/// The action and resource a request asks for.
fn route(method: &Method, uri: &Uri) -> Option<(String, String)> {
    let rest = uri.path().strip_prefix("/photos/")?;
    let (owner, name) = rest.split_once('/')?;
    if owner.is_empty() || name.is_empty() || name.contains('/') {
        return None;
    }
    let action = match *method {
        Method::GET => "photos:GetPhoto",
        Method::PUT => "photos:PutPhoto",
        _ => return None,
    };
    Some((action.to_string(), format!("arn:aws:photos:::photo/{owner}/{name}")))
}

async fn get_photo(
    State(photos): State<Photos>,
    Path((owner, name)): Path<(String, String)>,
    Extension(caller): Extension<Authorized>,
) -> Result<(StatusCode, Json<serde_json::Value>), StatusCode> {
    let key = format!("{owner}/{name}");
    let found = photos.lock().map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?.get(&key).cloned();
    match found {
        Some(bytes) => {
            Ok((StatusCode::OK, Json(json!({ "photo": key, "bytes": bytes.len(), "caller": caller.arn }))))
        }
        None => Err(StatusCode::NOT_FOUND),
    }
}

async fn put_photo(
    State(photos): State<Photos>,
    Path((owner, name)): Path<(String, String)>,
    Extension(caller): Extension<Authorized>,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), StatusCode> {
    let key = format!("{owner}/{name}");
    let size = body.len();
    photos.lock().map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?.insert(key.clone(), body);
    Ok((StatusCode::CREATED, Json(json!({ "photo": key, "bytes": size, "caller": caller.arn }))))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ring =
        std::env::var("CIRRUS_SESSION_KEYS").map_err(|_| "set CIRRUS_SESSION_KEYS (cirrus session-keys)")?;
    let keys = SessionKeys::import(&ring)?;
    let verifier = Arc::new(Verifier::new(keys));
    let photos: Photos = Arc::default();
    let app = Router::new()
        .route("/photos/{owner}/{name}", get(get_photo).put(put_photo))
        .with_state(photos)
        .layer(AuthorizeLayer::new(verifier, "photos", route));
    let listen = std::env::var("RESOURCE_LISTEN").unwrap_or_else(|_| "127.0.0.1:9330".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("resource service listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
    Ok(())
}
