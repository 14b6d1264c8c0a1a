//! `AppError`: a failure as the front ends report it — a code from tunnel-core's one closed
//! [`ErrorCode`] set and a sentence for a person. The desktop commands return it to the webview
//! as `{code, message}` (the codes are mirrored in `ui/js/api.js`; a test below compares them),
//! the control channel sends the code back to the command line, and the command line turns the
//! code into its exit code with `cli::exit::exit_code` — the same function whether it did the
//! work itself or asked a running service.
//!
//! Invariants: a library error becomes a code only here (through the libraries' own `code()`
//! methods, whose remote part is tunnel-core's one `From<RemoteErrorKind> for ErrorCode`); the
//! UI branches on the code and never parses the message. Lives outside `desktop/` so the
//! headless command line uses the same type.

use serde::{Deserialize, Serialize};
use tunnel_core::engine::EngineError;
use tunnel_core::error::SyncError;
use tunnel_core::ids::InvalidPageId;
use tunnel_core::remote::RemoteError;

pub use tunnel_core::error::ErrorCode;

use crate::app::opened_config::{NotConfigured, TrackError};

/// A failure with its code and a message for a person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    /// What kind of failure (kebab-case on the wire).
    pub code: ErrorCode,
    /// A sentence for a person.
    pub message: String,
}

/// Run blocking work (SQLite, configuration and secret files, perhaps the OS keyring) on a
/// blocking thread, never on one of the runtime's workers that answer the window and run the
/// engine.
pub async fn blocking<R: Send + 'static>(
    work: impl FnOnce() -> Result<R, AppError> + Send + 'static,
) -> Result<R, AppError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::internal(e.to_string()))?
}

impl AppError {
    /// A failure of kind `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// An input that is refused (e.g. a path that is not a synced folder).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Invalid, message)
    }

    /// A failure with no better code (file picker, file manager, autostart, …).
    #[cfg_attr(not(feature = "gui"), allow(dead_code))] // the desktop shell's and tests' helper
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    /// Any error that reached the top: its code (see [`code_of`]) and its whole chain as the
    /// message, in the language the process speaks (see [`crate::i18n::errors`]).
    pub fn from_anyhow(e: &anyhow::Error) -> Self {
        Self::new(
            code_of(e),
            crate::i18n::errors::chain_text(e, crate::i18n::current()),
        )
    }
}

/// The library errors that know their own code ([`RemoteError::code`] and the like): each
/// becomes an `AppError` with that code and its message, and [`code_of`] finds it in a chain.
macro_rules! errors_with_a_code {
    ($($error:ty),+ $(,)?) => {
        $(
            impl From<$error> for AppError {
                fn from(e: $error) -> Self {
                    Self::new(
                        e.code(),
                        crate::i18n::errors::error_text(&e, crate::i18n::current()),
                    )
                }
            }
        )+

        /// The code of `cause` when it is one of the errors that know theirs.
        fn own_code(cause: &(dyn std::error::Error + 'static)) -> Option<ErrorCode> {
            $(
                if let Some(e) = cause.downcast_ref::<$error>() {
                    return Some(e.code());
                }
            )+
            None
        }
    };
}

errors_with_a_code!(
    RemoteError,
    SyncError,
    EngineError,
    TrackError,
    tunnel_core::conflicts::ConflictError,
);

impl From<InvalidPageId> for AppError {
    fn from(e: InvalidPageId) -> Self {
        Self::invalid(e.to_string())
    }
}

impl TrackError {
    /// The stable code of this error: a folder that cannot be added, or is not synced, is
    /// refused input.
    pub fn code(&self) -> ErrorCode {
        match self {
            TrackError::Io(_) => ErrorCode::Local,
            TrackError::Refused(_) | TrackError::NotTracked(_) => ErrorCode::Invalid,
        }
    }
}

/// The code of an error that reached the top of a command: that of the outermost cause that
/// has one, `internal` when none has.
pub fn code_of(e: &anyhow::Error) -> ErrorCode {
    for cause in e.chain() {
        if let Some(a) = cause.downcast_ref::<AppError>() {
            return a.code;
        }
        if cause.is::<NotConfigured>() {
            return ErrorCode::NotConfigured;
        }
        if cause.is::<InvalidPageId>() {
            return ErrorCode::Invalid;
        }
        if let Some(code) = own_code(cause) {
            return code;
        }
    }
    ErrorCode::Internal
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    const API_JS: &str = include_str!("../../../ui/js/api.js");

    /// The `NAME: 'value'` entries of `export const ErrorCode = Object.freeze({ … })`.
    fn ui_codes() -> BTreeMap<String, String> {
        let start = "export const ErrorCode = Object.freeze({";
        let from = API_JS
            .find(start)
            .expect("ui/js/api.js exports ErrorCode as Object.freeze({ … })")
            + start.len();
        let len = API_JS[from..]
            .find("});")
            .expect("the ErrorCode object ends");
        API_JS[from..from + len]
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let (name, value) = entry
                    .split_once(':')
                    .unwrap_or_else(|| panic!("not a `NAME: 'value'` entry: {entry:?}"));
                (
                    name.trim().to_string(),
                    value.trim().trim_matches('\'').to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn the_ui_knows_exactly_the_codes_the_app_sends() {
        let ours: BTreeMap<String, String> = ErrorCode::ALL
            .iter()
            .map(|c| {
                (
                    c.as_str().to_uppercase().replace('-', "_"),
                    c.as_str().into(),
                )
            })
            .collect();
        assert_eq!(
            ui_codes(),
            ours,
            "ui/js/api.js's ErrorCode and tunnel_core::error::ErrorCode disagree \
             (a JS name is the code in upper case with `_` for `-`)"
        );
    }

    #[test]
    fn the_webview_receives_code_and_message() {
        let e = AppError::new(ErrorCode::NotConfigured, "connect first");
        assert_eq!(
            serde_json::to_value(&e).expect("serialises"),
            serde_json::json!({"code": "not-configured", "message": "connect first"}),
            "ui/js/api.js reads exactly these two fields"
        );
    }

    #[test]
    fn the_code_of_an_error_is_found_under_its_context() {
        use anyhow::Context as _;
        let wrapped = |e: anyhow::Error| -> anyhow::Error {
            Err::<(), _>(e).context("while doing it").unwrap_err()
        };
        let cases = [
            (
                wrapped(NotConfigured(PathBuf::from("/c/config.toml")).into()),
                ErrorCode::NotConfigured,
            ),
            (
                wrapped(AppError::invalid("no such folder").into()),
                ErrorCode::Invalid,
            ),
            (
                wrapped(RemoteError::Auth("wrong password".into()).into()),
                ErrorCode::Auth,
            ),
            (
                wrapped(SyncError::FolderMissing(PathBuf::from("/f")).into()),
                ErrorCode::FolderMissing,
            ),
            (
                wrapped(EngineError::UnknownFolder(PathBuf::from("/f")).into()),
                ErrorCode::Invalid,
            ),
            (
                wrapped(TrackError::NotTracked(PathBuf::from("/f")).into()),
                ErrorCode::Invalid,
            ),
            (
                wrapped(anyhow::anyhow!("something odd")),
                ErrorCode::Internal,
            ),
        ];
        for (e, code) in cases {
            assert_eq!(code_of(&e), code, "{e:#}");
        }
    }

    #[test]
    fn a_sync_error_from_the_remote_keeps_the_remote_code() {
        let e = SyncError::from(RemoteError::Auth("wrong password".into()));
        assert_eq!(AppError::from(e).code, ErrorCode::Auth);
    }
}
