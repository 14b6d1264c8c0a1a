//! Exit codes of the command line (documented in the README):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | failure not covered below |
//! | 2 | bad command-line usage |
//! | 3 | authentication, certificate or permission problem: fix the configuration |
//! | 4 | server unreachable, rate limited or busy: try again later |
//! | 5 | the sync would delete many files: re-run with `--confirm-deletions` |
//! | 6 | a synced folder is missing, unmounted, or replaced by another folder |
//! | 7 | the remote data is invalid or from a newer version |
//! | 8 | not set up yet: run `init` |
//! | 9 | some files could not be synced this time (the rest was) |

use tunnel_core::error::{ErrorCode, SyncError};
use tunnel_core::remote::{RemoteError, RemoteErrorKind};

pub const OK: u8 = 0;
pub const FAILURE: u8 = 1;
pub const USAGE: u8 = 2;
pub const CONFIG: u8 = 3;
pub const UNREACHABLE: u8 = 4;
pub const MASS_DELETION: u8 = 5;
pub const FOLDER_MISSING: u8 = 6;
pub const REMOTE_FORMAT: u8 = 7;
pub const NOT_CONFIGURED: u8 = 8;
pub const PARTIAL: u8 = 9;

/// The exit code for an error that reached the top.
pub fn code_for(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if cause.downcast_ref::<crate::app::NotConfigured>().is_some() {
            return NOT_CONFIGURED;
        }
        if let Some(s) = cause.downcast_ref::<SyncError>() {
            return code_for_sync(s.code());
        }
        if let Some(r) = cause.downcast_ref::<RemoteError>() {
            return code_for_remote(r.kind());
        }
    }
    FAILURE
}

/// The exit code for a sync error code.
pub fn code_for_sync(code: ErrorCode) -> u8 {
    match code {
        ErrorCode::Auth | ErrorCode::Certificate | ErrorCode::Permission | ErrorCode::NotFound => {
            CONFIG
        }
        ErrorCode::Unreachable => UNREACHABLE,
        ErrorCode::MassDeletion => MASS_DELETION,
        ErrorCode::FolderMissing | ErrorCode::FolderReplaced => FOLDER_MISSING,
        ErrorCode::RemoteFormat => REMOTE_FORMAT,
        ErrorCode::Local | ErrorCode::Internal => FAILURE,
    }
}

/// The exit code for a remote error.
pub fn code_for_remote(kind: RemoteErrorKind) -> u8 {
    match kind {
        RemoteErrorKind::Auth
        | RemoteErrorKind::Permission
        | RemoteErrorKind::NotFound
        | RemoteErrorKind::Certificate => CONFIG,
        RemoteErrorKind::Unreachable
        | RemoteErrorKind::RateLimited
        | RemoteErrorKind::Server
        | RemoteErrorKind::Conflict => UNREACHABLE,
        RemoteErrorKind::Protocol | RemoteErrorKind::Integrity => REMOTE_FORMAT,
        RemoteErrorKind::TooLarge | RemoteErrorKind::SourceChanged | RemoteErrorKind::Io => FAILURE,
    }
}

/// The message for a person: the outermost context, then the causes.
pub fn describe(e: &anyhow::Error) -> String {
    format!("{e:#}")
}
