//! `SyncError`: everything a folder sync can fail with, with a stable [`ErrorCode`] for exit
//! codes and the UI, and a message written for a person.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::remote::{RemoteError, RemoteErrorKind};

/// Stable, closed set of error codes (CLI exit codes and UI codes are derived from it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// Wrong credentials, expired token, locked account.
    Auth,
    /// Certificate problem.
    Certificate,
    /// No permission on the page.
    Permission,
    /// Page or blob missing.
    NotFound,
    /// Network trouble, server down, rate limited: retry later.
    Unreachable,
    /// The remote data is invalid or from a newer version.
    RemoteFormat,
    /// The sync would delete many files and needs confirmation.
    MassDeletion,
    /// The folder root is missing or unmounted.
    FolderMissing,
    /// Another folder (another synced folder moved or restored there) is at a synced folder's
    /// path.
    FolderReplaced,
    /// Local disk or journal trouble.
    Local,
    /// Anything else.
    Internal,
}

impl ErrorCode {
    /// The kebab-case name used in JSON and events.
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorCode::Auth => "auth",
            ErrorCode::Certificate => "certificate",
            ErrorCode::Permission => "permission",
            ErrorCode::NotFound => "not-found",
            ErrorCode::Unreachable => "unreachable",
            ErrorCode::RemoteFormat => "remote-format",
            ErrorCode::MassDeletion => "mass-deletion",
            ErrorCode::FolderMissing => "folder-missing",
            ErrorCode::FolderReplaced => "folder-replaced",
            ErrorCode::Local => "local",
            ErrorCode::Internal => "internal",
        }
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
            SyncError::Remote(e) => match e.kind() {
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
            },
            SyncError::Manifest(_) => ErrorCode::RemoteFormat,
            SyncError::Journal(_) | SyncError::Scan(_) | SyncError::Io { .. } => ErrorCode::Local,
            SyncError::FolderMissing(_) => ErrorCode::FolderMissing,
            SyncError::FolderReplaced { .. } => ErrorCode::FolderReplaced,
            SyncError::MassDeletion { .. } => ErrorCode::MassDeletion,
            SyncError::CommitContention(_) => ErrorCode::Unreachable,
            SyncError::UnknownFolder(_) => ErrorCode::NotFound,
            SyncError::Internal(_) => ErrorCode::Internal,
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
