//! The user-pool service on the wire.

pub mod api;
mod auth_api;
pub mod oidc;
