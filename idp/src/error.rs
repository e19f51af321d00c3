//! The user-pool service's errors: each variant is an exception of the wire.

use awsapi::AwsError;

use crate::store::StoreError;

macro_rules! wire_errors {
    ($($variant:ident => $name:literal),+ $(,)?) => {
        #[derive(Debug, thiserror::Error)]
        pub enum IdpError {
            $(
                #[error("{0}")]
                $variant(String),
            )+
            /// A model-constraint failure already in wire form (from `awsapi::json`).
            #[error("{0}")]
            Wire(AwsError),
            #[error("store: {0}")]
            Store(#[from] StoreError),
            #[error("internal: {0}")]
            Internal(String),
        }

        impl From<IdpError> for AwsError {
            fn from(e: IdpError) -> Self {
                match e {
                    $(IdpError::$variant(m) => AwsError::new($name, m),)+
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
    };
}

wire_errors! {
    ResourceNotFound => "ResourceNotFoundException",
    InvalidParameter => "InvalidParameterException",
    InvalidOAuthFlow => "InvalidOAuthFlowException",
    ScopeDoesNotExist => "ScopeDoesNotExistException",
    LimitExceeded => "LimitExceededException",
    TooManyRequests => "TooManyRequestsException",
    InvalidPassword => "InvalidPasswordException",
    NotAuthorized => "NotAuthorizedException",
    UserNotFound => "UserNotFoundException",
    UserNotConfirmed => "UserNotConfirmedException",
    UsernameExists => "UsernameExistsException",
    AliasExists => "AliasExistsException",
    CodeMismatch => "CodeMismatchException",
    ExpiredCode => "ExpiredCodeException",
    CodeDeliveryFailure => "CodeDeliveryFailureException",
    PasswordResetRequired => "PasswordResetRequiredException",
    UnsupportedOperation => "UnsupportedOperationException",
    UnsupportedTokenType => "UnsupportedTokenTypeException",
    UnsupportedUserState => "UnsupportedUserStateException",
    Unauthorized => "UnauthorizedException",
    GroupExists => "GroupExistsException",
    PreconditionNotMet => "PreconditionNotMetException",
    EnableSoftwareTokenMfa => "EnableSoftwareTokenMFAException",
    UserLambdaValidation => "UserLambdaValidationException",
    UnexpectedLambda => "UnexpectedLambdaException",
    InvalidLambdaResponse => "InvalidLambdaResponseException",
    InvalidUserPoolConfiguration => "InvalidUserPoolConfigurationException",
    DuplicateProvider => "DuplicateProviderException",
    UnsupportedIdentityProvider => "UnsupportedIdentityProviderException",
}

impl From<AwsError> for IdpError {
    fn from(e: AwsError) -> Self {
        Self::Wire(e)
    }
}

pub type Result<T, E = IdpError> = std::result::Result<T, E>;
