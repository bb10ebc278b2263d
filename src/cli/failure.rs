//! How a command fails: a message for stderr and the exit code (1 for
//! refused input, 2 for usage), built from the errors of the layers below,
//! which know nothing of exit codes.

use crate::api::client::ClientError;
use crate::api::ApiError;
use crate::diagnostics::QueryError;

/// An outcome with its exit code: 1 for refused input, 2 for usage.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn refused(message: impl Into<String>) -> Self {
        Failure {
            code: 1,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
}

impl From<QueryError> for Failure {
    /// As the daemon's refusal of the same query.
    fn from(e: QueryError) -> Failure {
        ApiError::from(e).into()
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Failure {
        Failure {
            code: e.exit_code(),
            message: e.to_string(),
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        match e {
            ClientError::Unreachable(m) => Failure::refused(m),
            ClientError::Refused(e) => e.into(),
        }
    }
}
