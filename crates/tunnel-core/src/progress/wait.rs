//! Why a folder waits: one pure choice from what the engine knows about it, in a fixed order
//! of precedence (what the user did first, then what holds everything, then what holds this
//! folder, then what it left behind).

use std::time::Duration;

use crate::error::SyncError;
use crate::remote::{RemoteError, RemoteErrorKind};

use super::WaitReason;

/// What kind of retryable failure a folder is backing off from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryCause {
    /// The server could not be reached, timed out, or failed (5xx).
    Offline,
    /// The server's rate limit (429 with a `Retry-After` longer than the client waits).
    RateLimited,
    /// Another device committed at the same time, again and again.
    PageBusy,
    /// A local read or write failed.
    Local,
}

impl RetryCause {
    /// The cause of a retryable sync failure; `None` for a failure that needs the user.
    pub fn of(e: &SyncError) -> Option<RetryCause> {
        if !e.is_retryable() {
            return None;
        }
        Some(match e {
            SyncError::Remote(r) => Self::of_remote(r),
            SyncError::CommitContention(_) => RetryCause::PageBusy,
            SyncError::Io { .. } => RetryCause::Local,
            // Retryable but not named above: treat as a connection problem.
            _ => RetryCause::Offline,
        })
    }

    fn of_remote(e: &RemoteError) -> RetryCause {
        match e.kind() {
            RemoteErrorKind::RateLimited => RetryCause::RateLimited,
            RemoteErrorKind::Conflict => RetryCause::PageBusy,
            RemoteErrorKind::SourceChanged | RemoteErrorKind::Io => RetryCause::Local,
            RemoteErrorKind::Unreachable
            | RemoteErrorKind::Server
            | RemoteErrorKind::Integrity
            | RemoteErrorKind::Auth
            | RemoteErrorKind::Permission
            | RemoteErrorKind::NotFound
            | RemoteErrorKind::TooLarge
            | RemoteErrorKind::Certificate
            | RemoteErrorKind::Protocol => RetryCause::Offline,
        }
    }
}

/// Files listed by name in a [`WaitReason::FilesInUse`]; the rest are counted.
pub const IN_USE_LISTED: usize = 3;

/// What the engine knows about one folder at one moment.
#[derive(Clone, Debug, Default)]
pub struct WaitFacts<'a> {
    /// The service waits for another one to release the configuration.
    pub waiting_for_lock: bool,
    /// Paused by the user (the folder or everything).
    pub paused: bool,
    /// Stopped on an error that needs the user (shown as the error, not as a wait).
    pub blocked: bool,
    /// Its sync is running now.
    pub running: bool,
    /// The running sync has moved nothing for this long with work left.
    pub stalled_for: Option<Duration>,
    /// Backing off from a retryable failure: its cause and the next attempt (unix seconds).
    pub retry: Option<(RetryCause, i64)>,
    /// A sync of it is due, but another folder's sync runs (one runs at a time).
    pub queued: bool,
    /// Files the last sync left because another program holds them.
    pub in_use: &'a [String],
}

/// Why the folder waits, or `None` when it is syncing normally, up to date, or stopped on an
/// error (which the status shows as the error).
pub fn choose_wait(f: &WaitFacts<'_>) -> Option<WaitReason> {
    if f.waiting_for_lock {
        return Some(WaitReason::WaitingForLock);
    }
    if f.paused {
        return Some(WaitReason::Paused);
    }
    if f.blocked {
        return None;
    }
    if f.running {
        return f.stalled_for.map(|d| WaitReason::Stalled {
            for_secs: d.as_secs(),
        });
    }
    if let Some((cause, retry_at)) = f.retry {
        return Some(match cause {
            RetryCause::Offline => WaitReason::Offline { retry_at },
            RetryCause::RateLimited => WaitReason::RateLimited { retry_at },
            RetryCause::PageBusy => WaitReason::PageBusy { retry_at },
            RetryCause::Local => WaitReason::LocalError { retry_at },
        });
    }
    if f.queued {
        return Some(WaitReason::Queued);
    }
    if !f.in_use.is_empty() {
        return Some(WaitReason::FilesInUse {
            files: f.in_use.iter().take(IN_USE_LISTED).cloned().collect(),
            count: f.in_use.len() as u64,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_use() -> Vec<String> {
        ["a.docx", "b.xlsx", "c.pptx", "d.docx"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn each_fact_alone_gives_its_reason() {
        let files = in_use();
        let min5 = Duration::from_secs(300);
        let cases: Vec<(WaitFacts, Option<WaitReason>, &str)> = vec![
            (
                WaitFacts::default(),
                None,
                "nothing to say about an idle folder",
            ),
            (
                WaitFacts {
                    running: true,
                    ..Default::default()
                },
                None,
                "a sync that moves is not waiting",
            ),
            (
                WaitFacts {
                    waiting_for_lock: true,
                    ..Default::default()
                },
                Some(WaitReason::WaitingForLock),
                "another service holds the lock",
            ),
            (
                WaitFacts {
                    paused: true,
                    ..Default::default()
                },
                Some(WaitReason::Paused),
                "paused",
            ),
            (
                WaitFacts {
                    blocked: true,
                    ..Default::default()
                },
                None,
                "an error for the user is shown as the error",
            ),
            (
                WaitFacts {
                    running: true,
                    stalled_for: Some(min5),
                    ..Default::default()
                },
                Some(WaitReason::Stalled { for_secs: 300 }),
                "a running sync without progress is stalled",
            ),
            (
                WaitFacts {
                    retry: Some((RetryCause::Offline, 1000)),
                    ..Default::default()
                },
                Some(WaitReason::Offline { retry_at: 1000 }),
                "offline, with the next attempt",
            ),
            (
                WaitFacts {
                    retry: Some((RetryCause::RateLimited, 1000)),
                    ..Default::default()
                },
                Some(WaitReason::RateLimited { retry_at: 1000 }),
                "the server's rate limit",
            ),
            (
                WaitFacts {
                    retry: Some((RetryCause::PageBusy, 7)),
                    ..Default::default()
                },
                Some(WaitReason::PageBusy { retry_at: 7 }),
                "another device committing",
            ),
            (
                WaitFacts {
                    retry: Some((RetryCause::Local, 7)),
                    ..Default::default()
                },
                Some(WaitReason::LocalError { retry_at: 7 }),
                "a local error, retried",
            ),
            (
                WaitFacts {
                    queued: true,
                    ..Default::default()
                },
                Some(WaitReason::Queued),
                "next in line",
            ),
            (
                WaitFacts {
                    in_use: &files,
                    ..Default::default()
                },
                Some(WaitReason::FilesInUse {
                    files: files[..IN_USE_LISTED].to_vec(),
                    count: 4,
                }),
                "files in use, a few by name and all counted",
            ),
        ];
        for (facts, want, why) in cases {
            assert_eq!(choose_wait(&facts), want, "{why}");
        }
    }

    #[test]
    fn precedence_goes_from_what_the_user_did_to_what_was_left() {
        let files = in_use();
        let all = WaitFacts {
            waiting_for_lock: true,
            paused: true,
            blocked: false,
            running: false,
            stalled_for: None,
            retry: Some((RetryCause::RateLimited, 5)),
            queued: true,
            in_use: &files,
        };
        assert_eq!(
            choose_wait(&all),
            Some(WaitReason::WaitingForLock),
            "the lock holds everything"
        );
        let f = WaitFacts {
            waiting_for_lock: false,
            ..all.clone()
        };
        assert_eq!(
            choose_wait(&f),
            Some(WaitReason::Paused),
            "then the user's pause"
        );
        let f = WaitFacts { paused: false, ..f };
        assert_eq!(
            choose_wait(&f),
            Some(WaitReason::RateLimited { retry_at: 5 }),
            "then the backoff, which also holds a queued sync"
        );
        let f = WaitFacts { retry: None, ..f };
        assert_eq!(choose_wait(&f), Some(WaitReason::Queued), "then the queue");
        let f = WaitFacts { queued: false, ..f };
        assert!(
            matches!(choose_wait(&f), Some(WaitReason::FilesInUse { .. })),
            "last, files left behind"
        );
    }

    #[test]
    fn failures_map_to_their_cause() {
        let rl = SyncError::Remote(RemoteError::RateLimited {
            retry_after_secs: Some(120),
            message: "slow down".into(),
        });
        assert_eq!(RetryCause::of(&rl), Some(RetryCause::RateLimited));
        let off = SyncError::Remote(RemoteError::Unreachable("refused".into()));
        assert_eq!(RetryCause::of(&off), Some(RetryCause::Offline));
        assert_eq!(
            RetryCause::of(&SyncError::CommitContention(5)),
            Some(RetryCause::PageBusy)
        );
        let auth = SyncError::Remote(RemoteError::Auth("wrong".into()));
        assert_eq!(RetryCause::of(&auth), None, "needs the user: not a wait");
    }
}
