//! Honest progress: what a folder (and the whole service) still has to transfer, how fast it
//! goes, when it should be done, which file is in transfer, and why a folder waits instead of
//! syncing. The engine folds the syncer's progress events into one [`FolderTracker`] per folder
//! and publishes a [`ProgressReport`] and a [`WaitReason`] in each
//! [`crate::events::FolderStatus`].
//!
//! Every decision here is pure and takes the time as an argument, so it is tested on a fake
//! clock: the smoothed rate and time left ([`rate`]), the choice of the wait reason ([`wait`]),
//! stall detection ([`stall`]), the publishing throttle ([`throttle`]), the transfer totals a
//! plan implies ([`totals`]) and the words for a person ([`text`]).

pub mod rate;
pub mod stall;
pub mod text;
pub mod throttle;
pub mod totals;
pub mod tracker;
pub mod wait;
pub mod wire;

use serde::{Deserialize, Serialize};

pub use tracker::FolderTracker;
pub use wait::{choose_wait, RetryCause, WaitFacts};

/// Where a transfer stands, with speed and time left; one per folder and one overall.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressReport {
    /// Files still to transfer (known after planning; refined as the passes learn more).
    pub files_to_go: u64,
    /// Bytes still to transfer (after de-duplication once the upload pass knows it).
    pub bytes_to_go: u64,
    /// Files transferred so far in this sync.
    pub files_done: u64,
    /// Bytes transferred so far in this sync.
    pub bytes_done: u64,
    /// Smoothed transfer rate in bytes per second; `None` until it can be measured.
    pub bytes_per_sec: Option<u64>,
    /// Time left in seconds at that rate; `None` while the rate is unknown or zero.
    pub eta_secs: Option<u64>,
    /// The file in transfer (path inside the folder), when one is.
    pub current_file: Option<String>,
}

/// Why a folder is not syncing right now although it may have work (or why it is not done).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum WaitReason {
    /// Paused by the user (this folder or everything).
    Paused,
    /// The server could not be reached; the next attempt is at `retry_at` (unix seconds).
    Offline {
        /// When the next attempt is due (unix seconds).
        retry_at: i64,
    },
    /// The server asked us to slow down (HTTP 429, `Retry-After`); next attempt at `retry_at`.
    RateLimited {
        /// When the next attempt is due (unix seconds).
        retry_at: i64,
    },
    /// Another device was committing to the page at the same time; tried again at `retry_at`.
    PageBusy {
        /// When the next attempt is due (unix seconds).
        retry_at: i64,
    },
    /// A local file could not be read or written; tried again at `retry_at`.
    LocalError {
        /// When the next attempt is due (unix seconds).
        retry_at: i64,
    },
    /// Files held open by another program (a document open in Office) were left; they are
    /// tried again at the next poll.
    FilesInUse {
        /// Paths inside the folder (at most a few; `count` says how many in all).
        files: Vec<String>,
        /// How many files in all.
        count: u64,
    },
    /// Another service holds the configuration's lock (a second instance); this one waits
    /// for it to let go.
    WaitingForLock,
    /// Another folder is syncing; this one is next in line.
    Queued,
    /// The sync runs but nothing moved for `for_secs` with work left.
    Stalled {
        /// Seconds without progress.
        for_secs: u64,
    },
}
