//! The error vocabulary of sber-tunnel. [`ErrorCode`] is the one closed set of codes that sync
//! events, the desktop app, the control channel and the command line's exit codes share, with
//! the one mapping from a remote failure to a code; [`SyncError`] is everything a folder sync
//! can fail with, each with its code and a message written for a person.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::remote::{RemoteError, RemoteErrorKind};

/// Declares [`ErrorCode`] with its wire name per variant, and [`ErrorCode::ALL`] from the same
/// list, so the list of every code cannot miss one.
macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, )+) => {
        /// The one closed set of error codes of sber-tunnel: sync events, the desktop app's IPC
        /// errors (mirrored in `ui/js/api.js`), the control channel's replies and the command
        /// line's exit codes all use it. On the wire it is the kebab-case name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )+
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The kebab-case name used in JSON, events and `ui/js/api.js`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)+
                }
            }
        }
    };
}

error_codes! {
    /// Wrong credentials, expired token, locked account.
    Auth => "auth",
    /// Certificate problem.
    Certificate => "certificate",
    /// No permission on the page.
    Permission => "permission",
    /// Page or blob missing.
    NotFound => "not-found",
    /// Network trouble, server down, rate limited: retry later.
    Unreachable => "unreachable",
    /// The remote data is invalid or from a newer version.
    RemoteFormat => "remote-format",
    /// The sync would delete many files and needs confirmation.
    MassDeletion => "mass-deletion",
    /// The folder root is missing or unmounted.
    FolderMissing => "folder-missing",
    /// Another folder (another synced folder moved or restored there) is at a synced folder's
    /// path.
    FolderReplaced => "folder-replaced",
    /// Local disk or journal trouble.
    Local => "local",
    /// Input refused: a path that is not a synced folder, a folder that cannot be added, a bad
    /// URL or setting.
    Invalid => "invalid",
    /// Not set up yet: no connection saved.
    NotConfigured => "not-configured",
    /// Anything else.
    Internal => "internal",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one mapping from a remote failure to its code; every front end goes through it.
impl From<RemoteErrorKind> for ErrorCode {
    fn from(kind: RemoteErrorKind) -> Self {
        match kind {
            RemoteErrorKind::Auth => ErrorCode::Auth,
            RemoteErrorKind::Certificate => ErrorCode::Certificate,
            RemoteErrorKind::Permission => ErrorCode::Permission,
            RemoteErrorKind::NotFound => ErrorCode::NotFound,
            RemoteErrorKind::Unreachable
            | RemoteErrorKind::RateLimited
            | RemoteErrorKind::Server
            | RemoteErrorKind::Conflict => ErrorCode::Unreachable,
            RemoteErrorKind::Protocol | RemoteErrorKind::Integrity => ErrorCode::RemoteFormat,
            RemoteErrorKind::TooLarge => ErrorCode::Internal,
            RemoteErrorKind::SourceChanged | RemoteErrorKind::Io => ErrorCode::Local,
        }
    }
}

impl RemoteError {
    /// The stable code of this error (see `From<RemoteErrorKind> for ErrorCode`).
    pub fn code(&self) -> ErrorCode {
        self.kind().into()
    }
}

/// Why a folder sync stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The remote store failed.
    #[error("{0}")]
    Remote(#[from] RemoteError),
    /// The remote manifest is invalid, or written by a newer version.
    #[error("the remote file list cannot be used: {0}")]
    Manifest(#[from] crate::manifest::ManifestError),
    /// The journal failed.
    #[error("local journal: {0}")]
    Journal(#[from] crate::journal::JournalError),
    /// The folder could not be scanned.
    #[error("{0}")]
    Scan(#[from] crate::scan::ScanError),
    /// The folder root is gone (unmounted, renamed): refusing to read that as "all deleted".
    #[error(
        "the folder {0} is missing or no longer the synced folder (its marker file is gone); \
             if it was moved, remove and add it again; nothing was deleted"
    )]
    FolderMissing(PathBuf),
    /// The folder's marker names another folder: another synced folder was moved or restored
    /// onto this path. Syncing it would publish its files as this folder's and delete this
    /// folder's files on every other device.
    #[error(
        "the folder {folder} is not the folder synced there: {found}. Nothing was uploaded or \
             deleted. If another folder was moved or restored there by mistake, put the \
             synced folder back; to sync what is there now with this folder's page, remove the \
             folder from sber-tunnel and add it again (files on both sides are kept)"
    )]
    FolderReplaced {
        /// The synced folder's path.
        folder: PathBuf,
        /// What the marker showed, for a person.
        found: String,
    },
    /// The plan deletes more than the configured share of the folder.
    #[error(
        "this sync would delete {count} of {total} files in {folder}; nothing was changed. \
             If that is intended, run `sber-tunnel sync --confirm-deletions`"
    )]
    MassDeletion {
        /// The folder.
        folder: PathBuf,
        /// Files the plan deletes.
        count: usize,
        /// Files tracked.
        total: usize,
    },
    /// Another device kept winning the commit race.
    #[error(
        "gave up after {0} attempts to commit: other devices kept changing the folder; try again"
    )]
    CommitContention(u32),
    /// Local I/O failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// The folder is not tracked.
    #[error("no tracked folder {0}")]
    UnknownFolder(String),
    /// A background task failed unexpectedly.
    #[error("internal error: {0}")]
    Internal(String),
    /// What a history or restore asked for is not in the page's retained history.
    #[error("{0}")]
    NotInHistory(String),
}

impl SyncError {
    /// Wrap an I/O error with what we were doing.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        SyncError::Io {
            context: context.into(),
            source,
        }
    }

    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            SyncError::Remote(e) => e.code(),
            SyncError::Manifest(_) => ErrorCode::RemoteFormat,
            SyncError::Journal(_) | SyncError::Scan(_) | SyncError::Io { .. } => ErrorCode::Local,
            SyncError::FolderMissing(_) => ErrorCode::FolderMissing,
            SyncError::FolderReplaced { .. } => ErrorCode::FolderReplaced,
            SyncError::MassDeletion { .. } => ErrorCode::MassDeletion,
            SyncError::CommitContention(_) => ErrorCode::Unreachable,
            // A folder that is not (or no longer) synced is refused input, as for the engine.
            SyncError::UnknownFolder(_) => ErrorCode::Invalid,
            SyncError::Internal(_) => ErrorCode::Internal,
            SyncError::NotInHistory(_) => ErrorCode::Invalid,
        }
    }

    /// Whether the same sync may succeed later without the user doing anything.
    pub fn is_retryable(&self) -> bool {
        match self {
            SyncError::Remote(e) => e.is_retryable(),
            SyncError::CommitContention(_) => true,
            SyncError::Io { .. } => true,
            _ => false,
        }
    }
}

// Here rather than beside `EngineError`, so every code decision of the crate is in one file.
impl crate::engine::EngineError {
    /// The stable code of this error: a path that is not a synced folder is refused input.
    pub fn code(&self) -> ErrorCode {
        match self {
            crate::engine::EngineError::Stopped => ErrorCode::Internal,
            crate::engine::EngineError::UnknownFolder(_) => ErrorCode::Invalid,
            crate::engine::EngineError::Sync(e) => e.code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_goes_on_the_wire_under_its_own_name() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(code).expect("a code serialises");
            assert_eq!(
                json,
                format!("\"{}\"", code.as_str()),
                "serde and as_str must agree, ui/js/api.js is checked against as_str"
            );
            let back: ErrorCode = serde_json::from_str(&json).expect("and parses back");
            assert_eq!(back, *code);
        }
    }

    #[test]
    fn the_codes_of_earlier_versions_keep_their_names() {
        // Events in the activity history and older front ends read these names.
        let earlier = [
            "auth",
            "certificate",
            "permission",
            "not-found",
            "unreachable",
            "remote-format",
            "mass-deletion",
            "folder-missing",
            "folder-replaced",
            "local",
            "internal",
        ];
        for name in earlier {
            assert!(
                ErrorCode::ALL.iter().any(|c| c.as_str() == name),
                "{name} is still a code"
            );
        }
    }

    #[test]
    fn a_remote_failure_has_one_code() {
        use RemoteErrorKind as K;
        let cases = [
            (K::Auth, ErrorCode::Auth),
            (K::Certificate, ErrorCode::Certificate),
            (K::Permission, ErrorCode::Permission),
            (K::NotFound, ErrorCode::NotFound),
            (K::Unreachable, ErrorCode::Unreachable),
            (K::RateLimited, ErrorCode::Unreachable),
            (K::Server, ErrorCode::Unreachable),
            (K::Conflict, ErrorCode::Unreachable),
            (K::Protocol, ErrorCode::RemoteFormat),
            (K::Integrity, ErrorCode::RemoteFormat),
            (K::TooLarge, ErrorCode::Internal),
            (K::SourceChanged, ErrorCode::Local),
            (K::Io, ErrorCode::Local),
        ];
        for (kind, code) in cases {
            assert_eq!(ErrorCode::from(kind), code, "{kind:?}");
        }
    }
}
