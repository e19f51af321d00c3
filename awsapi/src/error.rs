//! The wire error: one value, two renderings (JSON 1.1 envelope, Query XML).

use std::borrow::Cow;

use http::StatusCode;

/// An error as the client sees it: a name, a message and an HTTP status.
///
/// For the JSON protocols `name` is the `__type` (e.g.
/// `InvalidParameterException`); for the Query protocol it is the `Code`
/// (e.g. `InvalidIdentityToken`). Services convert their own error enums into
/// this type; nothing else decides statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub name: Cow<'static, str>,
    pub message: String,
    pub status: StatusCode,
}

impl AwsError {
    pub fn new(name: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self { name: name.into(), message: message.into(), status: StatusCode::BAD_REQUEST }
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// The one server-side fault: its message never carries the cause, which
    /// goes to the log with the request id instead.
    pub fn internal() -> Self {
        Self::new("InternalErrorException", "An internal error occurred; see the server log.")
            .with_status(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterException", message)
    }

    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", message)
    }

    pub fn unknown_operation(operation: &str) -> Self {
        Self::new("UnknownOperationException", format!("Unknown operation {operation}"))
    }

    pub fn is_fault(&self) -> bool {
        self.status.is_server_error()
    }

    /// Body of an AWS JSON 1.1 error.
    pub fn json_body(&self) -> Vec<u8> {
        serde_json::json!({ "__type": self.name, "message": self.message }).to_string().into_bytes()
    }

    /// Body of a Query-protocol error (`ErrorResponse/Error`).
    pub fn query_body(&self, xml_namespace: &str, request_id: &str) -> String {
        let kind = if self.is_fault() { "Receiver" } else { "Sender" };
        format!(
            "<ErrorResponse xmlns=\"{ns}\"><Error><Type>{kind}</Type><Code>{code}</Code>\
             <Message>{msg}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>",
            ns = crate::query::escape(xml_namespace),
            code = crate::query::escape(&self.name),
            msg = crate::query::escape(&self.message),
            rid = crate::query::escape(request_id),
        )
    }
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl std::error::Error for AwsError {}
