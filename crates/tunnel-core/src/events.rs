//! `SyncEvent` and `SyncStatus`: what the engine reports, read by the CLI, the tray and the UI.
//!
//! These are plain serde values with no behaviour, so any front end can render them and the
//! desktop shell can forward them to the webview unchanged (kebab-case tags, camelCase fields
//! are not used: the UI reads snake_case).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;

/// The state of one folder or of the whole service, in the order a tray shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SyncState {
    /// Up to date; nothing to do.
    #[default]
    Idle,
    /// A sync is running.
    Syncing,
    /// Paused by the user.
    Paused,
    /// The last sync failed with an error that needs the user (password, permission, disk).
    Error,
    /// The server cannot be reached; the service retries by itself.
    Offline,
}

/// How the service notices local changes in a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WatchMode {
    /// Native notifications (inotify, FSEvents, ReadDirectoryChangesW): changes sync in seconds.
    Native,
    /// The folder is listed periodically: the system's limit on watches was reached, native
    /// watching failed, or the configuration asks for it (`watch = "poll"`, for network shares).
    Polling,
}

/// Progress of the running transfer phase of a sync.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferProgress {
    /// Files finished.
    pub files_done: u64,
    /// Files to transfer in all.
    pub files_total: u64,
    /// Bytes finished.
    pub bytes_done: u64,
    /// Bytes to transfer in all.
    pub bytes_total: u64,
    /// The file in transfer (path inside the folder; the latest one started when several
    /// run in parallel).
    #[serde(default)]
    pub current: Option<String>,
}

/// The state of one tracked folder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FolderStatus {
    /// Absolute path of the folder.
    pub path: PathBuf,
    /// The Confluence page that stores it.
    pub page_id: crate::ids::PageId,
    /// Its state.
    pub state: SyncState,
    /// Paused by the user.
    pub paused: bool,
    /// When it last finished a sync (unix seconds).
    pub last_sync_at: Option<i64>,
    /// The last error, if the last sync failed.
    pub last_error: Option<String>,
    /// Files waiting to be transferred.
    pub pending_files: u64,
    /// Bytes waiting to be transferred.
    pub pending_bytes: u64,
    /// How local changes are noticed; `None` when the folder is not watched (it is missing, or
    /// watching failed: only the periodic rescan finds changes then).
    #[serde(default)]
    pub watch: Option<WatchMode>,
    /// Files the last sync left because another program holds them open (see
    /// [`SyncSummary::in_use`]); tried again at the next poll.
    #[serde(default)]
    pub in_use: Vec<String>,
    /// Where its running sync stands: to go, done, speed, time left, the file in transfer.
    #[serde(default)]
    pub progress: Option<crate::progress::ProgressReport>,
    /// Why it waits instead of syncing (paused, offline and retrying, rate limited, files in
    /// use, queued, stalled), when it does.
    #[serde(default)]
    pub waiting: Option<crate::progress::WaitReason>,
    /// Names from other devices the last sync could not store here (see
    /// [`crate::name_rules`]); they are left alone, never deleted elsewhere.
    #[serde(default)]
    pub unstorable: Vec<UnstorableName>,
}

/// The whole picture, published whenever it changes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// The overall state (the worst of the folders, or Syncing while any syncs).
    pub state: SyncState,
    /// One line for a tooltip ("Syncing 3 of 10 files", "Wrong password for …").
    pub message: Option<String>,
    /// Every tracked folder.
    pub folders: Vec<FolderStatus>,
    /// Progress of the running sync, if one runs.
    pub transfer: Option<TransferProgress>,
    /// When the next remote poll is due (unix seconds), when a service runs.
    pub next_poll_at: Option<i64>,
    /// Every running sync's progress together (see [`FolderStatus::progress`]).
    #[serde(default)]
    pub progress: Option<crate::progress::ProgressReport>,
    /// The most pressing reason a folder waits (see [`FolderStatus::waiting`]).
    #[serde(default)]
    pub waiting: Option<crate::progress::WaitReason>,
}

/// What one sync did, for summaries and the activity list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncSummary {
    /// Files and folders sent.
    pub uploaded: u64,
    /// Files and folders received.
    pub downloaded: u64,
    /// Deleted here because they were deleted elsewhere.
    pub deleted_local: u64,
    /// Deletions published.
    pub deleted_remote: u64,
    /// Conflicts resolved with a conflict copy.
    pub conflicts: u64,
    /// Bytes sent (after de-duplication).
    pub bytes_up: u64,
    /// Bytes received.
    pub bytes_down: u64,
    /// Files that could not be read this time (retried next sync, never deleted remotely).
    pub skipped_unreadable: u64,
    /// Of those, the files another program holds open (a document open in Office on
    /// Windows): neither read, replaced nor deleted this time, tried again on the next sync.
    /// Paths inside the folder, sorted.
    #[serde(default)]
    pub in_use: Vec<String>,
    /// Commit attempts lost to another device (re-planned).
    pub commit_retries: u64,
    /// Entries from other devices with names this device never syncs (hidden, temporary, or
    /// ignored here): not written here, never deleted remotely by this device.
    #[serde(default)]
    pub skipped_remote: u64,
    /// Entries from other devices that cannot be stored on this computer (a name Windows
    /// refuses): not written here, never deleted remotely by this device.
    #[serde(default)]
    pub unstorable: Vec<UnstorableName>,
    /// Entries from other devices whose names clash on this disk with another name (they
    /// differ only in case): renamed on the page to a visible `(Case Conflict)` copy and
    /// stored here under it (a folder moved with what it holds counts once).
    #[serde(default)]
    pub case_renamed: u64,
    /// Selective sync: copies of excluded entries removed from this computer (the page
    /// holds them; see `crate::selective`).
    #[serde(default)]
    pub evicted: u64,
}

/// A remote name that cannot be stored on this computer, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnstorableName {
    /// Path inside the folder (a folder stands for everything below it).
    pub path: String,
    /// Why, for a person ("a device name Windows reserves", "the name ends with a dot …").
    pub reason: String,
    /// Why, for a program (a translation, `--json`): `control-character`,
    /// `forbidden-character`, `trailing-dot-or-space`, `reserved-device-name` or
    /// `case-conflict`; empty in a list an older version stored.
    #[serde(default)]
    pub kind: String,
}

/// Something that happened, pushed to listeners as it happens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum SyncEvent {
    /// A folder sync started.
    Started {
        /// The folder.
        folder: PathBuf,
    },
    /// Transfer progress of a folder sync.
    Progress {
        /// The folder.
        folder: PathBuf,
        /// Where it stands.
        progress: TransferProgress,
    },
    /// A file or folder was sent.
    Uploaded {
        /// The folder.
        folder: PathBuf,
        /// Path inside the folder.
        path: String,
        /// Size in bytes.
        bytes: u64,
    },
    /// A file or folder was received.
    Downloaded {
        /// The folder.
        folder: PathBuf,
        /// Path inside the folder.
        path: String,
        /// Size in bytes.
        bytes: u64,
    },
    /// A file was deleted here (remote deletion) or a local deletion was published.
    Deleted {
        /// The folder.
        folder: PathBuf,
        /// Path inside the folder.
        path: String,
        /// True when the deletion was published to the remote.
        remote: bool,
    },
    /// Two devices changed one file; the loser was kept as `copy`.
    Conflict {
        /// The folder.
        folder: PathBuf,
        /// Path inside the folder.
        path: String,
        /// Where the losing version was kept.
        copy: String,
    },
    /// A folder sync finished.
    Finished {
        /// The folder.
        folder: PathBuf,
        /// What it did.
        summary: SyncSummary,
    },
    /// A folder sync failed.
    Failed {
        /// The folder.
        folder: PathBuf,
        /// The message for a person.
        message: String,
        /// What kind of failure (kebab-case on the wire).
        code: ErrorCode,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_carries_its_code_by_name() {
        let event = SyncEvent::Failed {
            folder: PathBuf::from("/f"),
            message: "Wrong password".into(),
            code: ErrorCode::Auth,
        };
        let json = serde_json::to_value(&event).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({
                "type": "failed",
                "folder": "/f",
                "message": "Wrong password",
                "code": "auth",
            }),
            "the UI and the activity history read this shape"
        );
    }
}
