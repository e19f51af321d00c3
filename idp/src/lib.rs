//! Cirrus user pools.
//!
//! Layers, one direction: [`http`] (wire) → [`service`] (rules) →
//! [`store`] (SQL). The service knows nothing of HTTP; the store nothing of
//! the rules.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo))]

pub mod delivery;
pub mod error;
pub mod http;
pub mod model;
pub mod service;
pub mod store;

pub use http::api::UserPoolApi;
pub use service::UserPools;
