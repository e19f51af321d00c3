//! The user-pool service's errors: each variant is an exception of the wire.

use awsapi::AwsError;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    InvalidOAuthFlow(String),
    #[error("{0}")]
    ScopeDoesNotExist(String),
    #[error("{0}")]
    LimitExceeded(String),
    /// A model-constraint failure already in wire form (from `awsapi::json`).
    #[error("{0}")]
    Wire(AwsError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<AwsError> for IdpError {
    fn from(e: AwsError) -> Self {
        Self::Wire(e)
    }
}

impl From<IdpError> for AwsError {
    fn from(e: IdpError) -> Self {
        match e {
            IdpError::ResourceNotFound(m) => AwsError::new("ResourceNotFoundException", m),
            IdpError::InvalidParameter(m) => AwsError::new("InvalidParameterException", m),
            IdpError::InvalidOAuthFlow(m) => AwsError::new("InvalidOAuthFlowException", m),
            IdpError::ScopeDoesNotExist(m) => AwsError::new("ScopeDoesNotExistException", m),
            IdpError::LimitExceeded(m) => AwsError::new("LimitExceededException", m),
            IdpError::Wire(e) => e,
            IdpError::Store(e) => {
                tracing::error!(error = %e, "user-pool store");
                AwsError::internal()
            }
            IdpError::Internal(m) => {
                tracing::error!(error = %m, "user-pool service");
                AwsError::internal()
            }
        }
    }
}

pub type Result<T, E = IdpError> = std::result::Result<T, E>;
