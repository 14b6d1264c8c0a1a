//! [`EngineSettings`]: the timing of the sync service, read by the engine and by the pure
//! [`crate::schedule`] it drives (kept apart so that the schedule does not import the engine).
//! Re-exported as `engine::EngineSettings`.

use std::time::Duration;

use crate::watch::WatchMode;

/// Timing of the service.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// How often the remote head is checked while nothing happens (the configured
    /// `poll-interval-secs`; 30 s by default, gentle on a shared server).
    pub poll_interval: Duration,
    /// How often it is checked while the folder is active (see `active_window`): someone is
    /// working, so a change from another device is likely and should arrive in seconds.
    pub active_poll_interval: Duration,
    /// How long a folder stays active after a local change or a sync that moved something.
    pub active_window: Duration,
    /// Quiet period after the last local change before a sync starts.
    pub debounce: Duration,
    /// A folder that keeps changing is synced at least this often.
    pub max_debounce: Duration,
    /// Full rescan of every folder even without events (safety net).
    pub rescan_interval: Duration,
    /// Longest wait between retries while offline.
    pub max_backoff: Duration,
    /// How to watch folders for local changes: `Native` (with polling as the fallback when the
    /// system's limit on watches is reached) or `Polling` (the `watch = "poll"` setting).
    pub watch: WatchMode,
    /// Called on a blocking thread after every sync (not after a cheap poll). The app uses
    /// it to hand the memory a sync used back to the operating system, so an idle service
    /// stays small.
    pub after_sync: Option<fn()>,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            poll_interval: Duration::from_secs(30),
            active_poll_interval: Duration::from_secs(2),
            active_window: Duration::from_secs(600),
            debounce: Duration::from_secs(2),
            max_debounce: Duration::from_secs(30),
            rescan_interval: Duration::from_secs(600),
            max_backoff: Duration::from_secs(600),
            watch: WatchMode::Native,
            after_sync: None,
        }
    }
}
