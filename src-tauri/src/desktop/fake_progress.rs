//! The fake backend's honest progress (issue 17 item 4): what it publishes about a running
//! fake sync — to go, done, speed, time left, the file in transfer — and why a folder waits,
//! chosen by the core's own [`choose_wait`] so the UI sees exactly the shapes the real
//! service sends.
//!
//! Triggers (besides `OFFLINE` and `FAIL`, see [`super::fake`]): a file named `RATE_LIMITED`
//! makes the folder wait for the server's rate limit (retried in 90 s); a file whose name
//! contains `in-use` is left as held by another program; a file named `STALL` holds the sync
//! there for a few steps, reported as stalled.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tunnel_core::events::{FolderStatus, SyncState, TransferProgress};
use tunnel_core::progress::rate::eta_secs;
use tunnel_core::progress::{choose_wait, ProgressReport, RetryCause, WaitFacts, WaitReason};

/// Seconds a fake rate limit holds a folder.
pub const RATE_LIMIT_WAIT_SECS: i64 = 90;
/// Seconds a fake offline folder waits before its next attempt.
pub const OFFLINE_WAIT_SECS: i64 = 30;
/// How many steps a `STALL` file holds the sync.
pub const STALL_STEPS: u32 = 8;
/// What a fake stall reports (the real service says so after five minutes).
pub const STALL_REPORTED_SECS: u64 = 300;

/// Per-folder facts the fake keeps for progress and waiting.
#[derive(Default)]
pub struct FakeProgress {
    started: HashMap<PathBuf, Instant>,
    retry: HashMap<PathBuf, (RetryCause, i64)>,
    stalled: HashMap<PathBuf, bool>,
}

impl FakeProgress {
    /// A sync of `path` starts: earlier waits are over.
    pub fn started(&mut self, path: &Path) {
        self.started.insert(path.to_owned(), Instant::now());
        self.retry.remove(path);
        self.stalled.remove(path);
    }

    /// The sync of `path` failed on a retryable cause; next attempt at `retry_at`.
    pub fn retry(&mut self, path: &Path, cause: RetryCause, retry_at: i64) {
        self.retry.insert(path.to_owned(), (cause, retry_at));
    }

    /// The sync of `path` is (or no longer is) stuck.
    pub fn set_stalled(&mut self, path: &Path, stalled: bool) {
        self.stalled.insert(path.to_owned(), stalled);
    }

    /// The report for `p` of `path`: the rate is the average since the sync started.
    pub fn report(&self, path: &Path, p: &TransferProgress) -> ProgressReport {
        let elapsed = self
            .started
            .get(path)
            .map_or(Duration::ZERO, Instant::elapsed);
        let rate = (elapsed >= Duration::from_millis(200) && p.bytes_done > 0)
            .then(|| (p.bytes_done as f64 / elapsed.as_secs_f64()).round() as u64);
        let bytes_to_go = p.bytes_total.saturating_sub(p.bytes_done);
        ProgressReport {
            files_to_go: p.files_total.saturating_sub(p.files_done),
            bytes_to_go,
            files_done: p.files_done,
            bytes_done: p.bytes_done,
            bytes_per_sec: rate,
            eta_secs: eta_secs(bytes_to_go, rate),
            current_file: p.current.clone(),
        }
    }

    /// Why `f` waits now.
    pub fn wait(&self, f: &FolderStatus) -> Option<WaitReason> {
        let running = f.state == SyncState::Syncing;
        choose_wait(&WaitFacts {
            waiting_for_lock: false,
            paused: f.paused,
            blocked: f.state == SyncState::Error,
            running,
            stalled_for: (running && self.stalled.get(&f.path) == Some(&true))
                .then_some(Duration::from_secs(STALL_REPORTED_SECS)),
            retry: self
                .retry
                .get(&f.path)
                .copied()
                .filter(|_| f.state == SyncState::Offline),
            queued: false,
            in_use: &f.in_use,
        })
    }
}

/// The overall wait: a stall first, then the first folder's reason.
pub fn overall_wait(folders: &[FolderStatus]) -> Option<WaitReason> {
    let waits = || folders.iter().filter_map(|f| f.waiting.clone());
    waits()
        .find(|w| matches!(w, WaitReason::Stalled { .. }))
        .or_else(|| waits().next())
}
