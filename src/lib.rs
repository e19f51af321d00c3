//! The `cirrus` process: configuration, database, admin credentials, and
//! the user-pool and STS services mounted on one listener.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo))]

pub mod admin;
pub mod config;
pub mod db;
pub mod server;

pub use config::Config;
pub use server::{RunningServer, start};
