//! The user-pool service on the wire.

pub mod api;
