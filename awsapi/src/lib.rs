//! The AWS wire that Cirrus services share.
//!
//! - [`error`]: the wire error, rendered as an AWS JSON 1.1 envelope or as a
//!   Query-protocol XML `ErrorResponse`.
//! - [`json`]: decoding of JSON 1.1 request bodies into typed requests.
//! - [`query`]: form parameters in, XML out.
//! - [`sigv4`]: verification of SigV4-signed requests.
//! - [`front`]: the `POST /` endpoint that routes on `X-Amz-Target` or
//!   `Action` to the services registered with it.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo))]

pub mod error;
pub mod front;
pub mod json;
pub mod query;
pub mod sigv4;

pub use error::AwsError;
pub use front::{Access, AwsFront, JsonService, QueryService, RequestContext};
pub use sigv4::{Authorize, CredentialProvider, Principal, PrincipalInfo, SigningIdentity};
