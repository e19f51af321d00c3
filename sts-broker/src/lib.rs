//! Cirrus identity pools and STS: web-identity tokens in, policy-scoped
//! temporary credentials out, and the verification that gives them meaning.
//!
//! - [`identity`]: the Cognito Identity API (`AWSCognitoIdentityService`).
//! - [`iam`]: roles, inline and managed policies, OIDC providers (Query).
//! - [`sts`]: `AssumeRoleWithWebIdentity`, `GetCallerIdentity` (Query).
//! - [`credentials`]: sealed, stateless session tokens.
//! - [`policy`]: IAM policy parsing and evaluation.
//! - [`verify`]: SigV4 + policy checks for resource servers: a library
//!   call, a tower layer, and an HTTP endpoint.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo))]

use std::sync::Arc;

use awsapi::AwsError;
use secrets::MasterKey;
use time::OffsetDateTime;

pub mod credentials;
pub mod http;
pub mod iam;
pub mod identity;
pub mod model;
pub mod policy;
pub mod providers;
pub mod session;
pub mod store;
pub mod sts;
pub mod verify;

pub use credentials::SessionKeys;
pub use identity::IdentityApi;
pub use providers::{SamlLogin, UserPoolDirectory};
pub use sts::StsApi;

use crate::model::Role;
use crate::providers::{BrokerKey, TokenVerifier};
use crate::store::{BrokerStore, DocKind};

/// Where and as whom the broker runs.
#[derive(Debug, Clone)]
pub struct BrokerSettings {
    pub region: String,
    pub account_id: String,
    /// The server's public base URL; the broker's OpenID issuer is
    /// `{public_url}/cognito-identity`.
    pub public_url: String,
}

/// The broker: identity pools, IAM, STS and session keys over one store.
pub struct Broker {
    pub(crate) store: Arc<dyn BrokerStore>,
    pub(crate) master: MasterKey,
    pub session_keys: SessionKeys,
    pub(crate) tokens: TokenVerifier,
    key: tokio::sync::OnceCell<BrokerKey>,
    pub settings: BrokerSettings,
    pub(crate) clock: fn() -> OffsetDateTime,
}

impl Broker {
    pub fn new(
        store: Arc<dyn BrokerStore>,
        master: MasterKey,
        session_keys: SessionKeys,
        user_pools: Option<Arc<dyn UserPoolDirectory>>,
        settings: BrokerSettings,
    ) -> Self {
        Self {
            store,
            master,
            session_keys,
            tokens: TokenVerifier::new(user_pools),
            key: tokio::sync::OnceCell::new(),
            settings,
            clock: OffsetDateTime::now_utc,
        }
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: fn() -> OffsetDateTime) -> Self {
        self.clock = clock;
        self
    }

    pub fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

    pub(crate) fn now_ms(&self) -> i64 {
        (self.now().unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// The issuer of the broker's OpenID tokens.
    pub fn issuer(&self) -> String {
        format!("{}/cognito-identity", self.settings.public_url)
    }

    pub(crate) async fn broker_key(&self) -> Result<&BrokerKey, AwsError> {
        self.key
            .get_or_try_init(|| async {
                BrokerKey::load_or_create(self.store.as_ref(), &self.master, self.now_ms()).await
            })
            .await
            .map_err(|e| internal("broker key", e))
    }

    /// The JWKS of the broker's OpenID tokens.
    pub async fn jwks(&self) -> Result<serde_json::Value, AwsError> {
        let key = self.broker_key().await?;
        serde_json::to_value(&key.jwks).map_err(|e| internal("jwks", e))
    }

    /// The role an ARN names, if it exists in this account.
    pub async fn role_by_arn(&self, arn: &str) -> Result<Option<Role>, AwsError> {
        let prefix = format!("arn:aws:iam::{}:role/", self.settings.account_id);
        let Some(rest) = arn.strip_prefix(&prefix) else {
            return Ok(None);
        };
        let name = rest.rsplit('/').next().unwrap_or(rest);
        let Some(doc) = self.store.get_doc(DocKind::Role, name).await.map_err(store_error)? else {
            return Ok(None);
        };
        let role: Role = serde_json::from_str(&doc).map_err(|e| internal("role document", e))?;
        Ok((role.arn == arn).then_some(role))
    }
}

pub(crate) fn internal(what: &str, e: impl std::fmt::Display) -> AwsError {
    tracing::error!(error = %e, "{what}");
    AwsError::internal()
}

pub(crate) fn store_error(e: store::StoreError) -> AwsError {
    internal("broker store", e)
}

/// Epoch milliseconds → the fractional epoch seconds of JSON dates.
pub(crate) fn epoch_seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

pub(crate) fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}
