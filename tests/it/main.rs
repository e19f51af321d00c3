//! End-to-end tests: the real server, in-process, on an ephemeral port,
//! with a fresh database per test (SQLite file, or a PostgreSQL schema).

mod accounts;
mod auth;
mod broker;
mod harness;
mod import;
mod lifecycle;
mod mfa;
mod oauth;
mod pools;
mod store;
mod wire;
