//! `IpcError`: the only error type a command returns. It reaches the UI as `{code, message}`,
//! where `code` is the closed [`ErrorCode`] set mirrored in `ui/js/api.js`; the UI branches on the
//! code and shows the message, it never parses the message.

use serde::Serialize;

use super::backend::{BackendError, ErrorCode};

/// An error as the webview receives it.
#[derive(Clone, Debug, Serialize, thiserror::Error, PartialEq, Eq)]
#[error("{message}")]
pub struct IpcError {
    /// What kind of failure (kebab-case on the wire).
    pub code: ErrorCode,
    /// A sentence for a person.
    pub message: String,
}

impl IpcError {
    /// An input the shell itself refuses (e.g. a path outside every tracked folder).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::Invalid,
            message: message.into(),
        }
    }

    /// A failure of the desktop integration (file picker, file manager, autostart).
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::Internal,
            message: message.into(),
        }
    }
}

impl From<BackendError> for IpcError {
    fn from(e: BackendError) -> Self {
        Self {
            code: e.code,
            message: e.message,
        }
    }
}
