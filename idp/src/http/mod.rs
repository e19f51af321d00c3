//! The user-pool service on the wire.

mod accounts_api;
pub mod api;
mod auth_api;
pub mod oidc;
