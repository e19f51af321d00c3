//! The user-pool service on the wire.

use std::sync::Arc;

use axum::Router;

use crate::service::UserPools;

mod accounts_api;
pub mod api;
mod auth_api;
mod branding_api;
mod federation_api;
pub mod hosted_ui;
pub mod import;
mod mfa_api;
pub mod oauth2;
pub mod oidc;

/// The plain-HTTP routes of the user-pool service (beside `POST /`): the
/// per-pool endpoints and the import upload URL.
pub fn routes(pools: Arc<UserPools>) -> Router {
    oidc::router(pools.clone()).merge(oauth2::router(pools.clone())).merge(import::router(pools))
}
