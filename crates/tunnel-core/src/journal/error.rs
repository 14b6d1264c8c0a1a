//! The journal's error type.

use std::path::PathBuf;

use rusqlite::ErrorCode;

use crate::ids::FolderId;

/// Errors of the journal. Each says what was being done and for which folder or path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// SQLite failed.
    #[error("journal: {context}: {source}")]
    Sqlite {
        /// What was being done (`"apply_base (folder 3)"`).
        context: String,
        /// Cause.
        #[source]
        source: rusqlite::Error,
    },
    /// The journal was written by a newer version of the program.
    #[error(
        "the journal {} was written by a newer sber-tunnel (schema {found}, this program knows up to {supported}); update sber-tunnel",
        path.display()
    )]
    TooNew {
        /// The journal file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this program knows.
        supported: i64,
    },
    /// The folder is already tracked.
    #[error("{} is already synced", path.display())]
    AlreadyTracked {
        /// The folder.
        path: PathBuf,
    },
    /// The folder is inside, or contains, a tracked folder.
    #[error("{} overlaps the synced folder {}: synced folders cannot be nested", path.display(), existing.display())]
    Overlap {
        /// The folder asked for.
        path: PathBuf,
        /// The tracked folder it overlaps.
        existing: PathBuf,
    },
    /// A folder path must be absolute and valid UTF-8.
    #[error("{}: {reason}", path.display())]
    BadFolderPath {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// No folder with this id.
    #[error("no synced folder with id {0}")]
    UnknownFolder(FolderId),
    /// A row could not be decoded (the file was edited or damaged).
    #[error("journal: damaged row in {table} ({key}): {message}")]
    Corrupt {
        /// Table.
        table: &'static str,
        /// Row key (folder and path or name).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The remote cache was updated with deltas of another generation.
    #[error("journal: remote cache of folder {folder} is generation {cached}, not {given}")]
    GenerationMismatch {
        /// Folder id.
        folder: FolderId,
        /// Generation in the cache.
        cached: String,
        /// Generation given.
        given: String,
    },
    /// A number does not fit SQLite's signed 64-bit integers.
    #[error("journal: {what} {value} is too large to store")]
    TooLarge {
        /// Which value.
        what: &'static str,
        /// The value.
        value: u64,
    },
}

impl JournalError {
    /// True when the database was locked by another process for longer than we waited.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            JournalError::Sqlite { source: rusqlite::Error::SqliteFailure(e, _), .. }
                if matches!(e.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
        )
    }
    /// Whether trying again later may succeed (only a busy database).
    pub fn is_retryable(&self) -> bool {
        self.is_busy()
    }
}

impl From<rusqlite::Error> for JournalError {
    fn from(source: rusqlite::Error) -> Self {
        JournalError::Sqlite {
            context: String::new(),
            source,
        }
    }
}

/// Result of journal operations.
pub type Result<T, E = JournalError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_errors_are_classified() {
        let busy = JournalError::Sqlite {
            context: "x".into(),
            source: rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                None,
            ),
        };
        assert!(busy.is_busy() && busy.is_retryable());
        assert!(!JournalError::UnknownFolder(FolderId::new(1)).is_retryable());
    }
}
