//! The rules of user pools and app clients, apart from HTTP and SQL.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrets::MasterKey;
use time::OffsetDateTime;

use crate::error::{IdpError, Result};
use crate::store::IdpStore;

mod clients;
mod pools;
pub mod schema;

pub use clients::{ClientWithSecret, NewClient};
pub use pools::NewPool;

/// The user-pool service: pools and app clients for now; sign-up, sign-in
/// and tokens join it in later issues.
pub struct UserPools {
    store: Arc<dyn IdpStore>,
    master_key: MasterKey,
    region: String,
    account_id: String,
    clock: fn() -> OffsetDateTime,
}

/// One page of a listing and the token of the next, if any.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

impl UserPools {
    pub fn new(store: Arc<dyn IdpStore>, master_key: MasterKey, region: &str, account_id: &str) -> Self {
        Self {
            store,
            master_key,
            region: region.to_string(),
            account_id: account_id.to_string(),
            clock: OffsetDateTime::now_utc,
        }
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: fn() -> OffsetDateTime) -> Self {
        self.clock = clock;
        self
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn pool_arn(&self, pool_id: &str) -> String {
        format!("arn:aws:cognito-idp:{}:{}:userpool/{pool_id}", self.region, self.account_id)
    }

    fn now_ms(&self) -> i64 {
        let now = (self.clock)();
        now.unix_timestamp() * 1000 + i64::from(now.millisecond())
    }
}

/// Listing position tokens: the last key returned, opaque to clients.
fn encode_token(last_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(last_key)
}

fn decode_token(token: Option<&str>) -> Result<Option<String>> {
    token
        .map(|t| {
            URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| IdpError::InvalidParameter("The pagination token is invalid.".into()))
        })
        .transpose()
}

/// Takes `limit` items of a `limit + 1` fetch and makes the next token.
fn page<T>(mut items: Vec<T>, limit: i64, key: impl Fn(&T) -> &str) -> Page<T> {
    let more = items.len() as i64 > limit;
    items.truncate(limit.max(0) as usize);
    let next_token = if more { items.last().map(|t| encode_token(key(t))) } else { None };
    Page { items, next_token }
}
