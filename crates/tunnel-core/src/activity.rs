//! Activity history: the sync events a person wants to look back at (files sent, received,
//! deleted, conflicts, failed syncs), kept in the journal so the desktop app's Activity tab
//! and the tray show them after a restart, whichever ran the syncs (the desktop app or the
//! headless service).
//!
//! The recorder subscribes to the history events of a syncer or an engine (a channel of their
//! own, [`crate::sync::Syncer::subscribe_history`], holding [`HISTORY_BUFFER`]: as many as
//! the journal keeps) and writes them in small batches (one transaction per batch); the
//! journal keeps the newest [`crate::journal::ACTIVITY_KEEP`]. Progress, start and finish
//! events are not history. A recorder that falls behind by more than the channel holds misses
//! the oldest of the burst: events the journal would have dropped for the newer ones anyway.
//! A row that cannot be decoded (written by a newer version, damaged) is skipped on reading.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::clock::unix_now;
use crate::events::SyncEvent;
use crate::journal::{Journal, JournalError};

/// One history entry: when, and what happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActivityEntry {
    /// Unix seconds.
    pub at: i64,
    /// The event (only the kinds [`is_history`] accepts).
    pub event: SyncEvent,
}

/// Most rows written in one transaction.
const BATCH: usize = 256;

/// History events a history channel holds for a recorder that falls behind: as many as the
/// journal keeps, so what it misses would not have been kept.
pub const HISTORY_BUFFER: usize = crate::journal::ACTIVITY_KEEP;

/// True for the events that belong in the history.
pub fn is_history(event: &SyncEvent) -> bool {
    matches!(
        event,
        SyncEvent::Uploaded { .. }
            | SyncEvent::Downloaded { .. }
            | SyncEvent::Deleted { .. }
            | SyncEvent::Conflict { .. }
            | SyncEvent::Failed { .. }
    )
}

/// The journal row of `event` at `at`, or `None` when it is not history.
pub fn to_row(event: &SyncEvent, at: i64) -> Option<(i64, String)> {
    if !is_history(event) {
        return None;
    }
    serde_json::to_string(event).ok().map(|json| (at, json))
}

/// The newest `limit` entries, newest first; undecodable rows are skipped.
pub fn recent(journal: &Journal, limit: usize) -> Result<Vec<ActivityEntry>, JournalError> {
    Ok(journal
        .recent_activity(limit)?
        .into_iter()
        .filter_map(|(at, json)| match serde_json::from_str(&json) {
            Ok(event) => Some(ActivityEntry { at, event }),
            Err(e) => {
                debug!(error = %e, "skipping an activity row this version cannot read");
                None
            }
        })
        .collect())
}

/// Record every history event received on `events` into `journal`, until the channel closes.
pub fn spawn_recorder(
    journal: Arc<Mutex<Journal>>,
    events: broadcast::Receiver<SyncEvent>,
) -> JoinHandle<()> {
    spawn_recorder_until(journal, events, std::future::pending())
}

/// Like [`spawn_recorder`], and also ends when `stop` resolves (the engine whose events these
/// are has stopped, while its channel lives on for the next one): the events already sent by
/// then are still recorded.
pub fn spawn_recorder_until(
    journal: Arc<Mutex<Journal>>,
    mut events: broadcast::Receiver<SyncEvent>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        tokio::pin!(stop);
        loop {
            let received = tokio::select! {
                // Events first: whatever was sent before `stop` is still written.
                biased;
                r = events.recv() => r,
                () = &mut stop => return,
            };
            let first = match received {
                Ok(e) => e,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    lagged(n);
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            // Whatever else is already waiting goes into the same transaction.
            let now = unix_now();
            let mut rows: Vec<(i64, String)> = to_row(&first, now).into_iter().collect();
            while rows.len() < BATCH {
                match events.try_recv() {
                    Ok(e) => rows.extend(to_row(&e, now)),
                    Err(broadcast::error::TryRecvError::Lagged(n)) => lagged(n),
                    Err(_) => break,
                }
            }
            if rows.is_empty() {
                continue;
            }
            let journal = journal.clone();
            let written = tokio::task::spawn_blocking(move || {
                let guard = journal
                    .lock()
                    .map_err(|_| "the journal lock is poisoned".to_string())?;
                guard.record_activity(&rows).map_err(|e| e.to_string())
            })
            .await;
            match written {
                Ok(Ok(())) => {}
                Ok(Err(e)) => warn!(error = %e, "could not record activity"),
                Err(e) => warn!(error = %e, "could not record activity"),
            }
        }
    })
}

/// The recorder fell `n` events behind. On a history channel (see the module note) those are
/// older than the newest [`HISTORY_BUFFER`] events, which the journal keeps instead.
fn lagged(n: u64) {
    debug!(
        missed = n,
        "activity recorder behind: older history events skipped"
    );
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::events::{SyncSummary, TransferProgress};

    fn folder() -> PathBuf {
        PathBuf::from("/home/u/Docs")
    }

    fn history_events() -> Vec<SyncEvent> {
        vec![
            SyncEvent::Uploaded {
                folder: folder(),
                path: "a.txt".into(),
                bytes: 3,
            },
            SyncEvent::Downloaded {
                folder: folder(),
                path: "b/c.txt".into(),
                bytes: 5,
            },
            SyncEvent::Deleted {
                folder: folder(),
                path: "old.txt".into(),
                remote: true,
            },
            SyncEvent::Conflict {
                folder: folder(),
                path: "x.txt".into(),
                copy: "x (conflict from laptop 2026-11-23 101500).txt".into(),
            },
            SyncEvent::Failed {
                folder: folder(),
                message: "Wrong password".into(),
                code: crate::error::ErrorCode::Auth,
            },
        ]
    }

    #[test]
    fn only_what_a_person_looks_back_at_is_history() {
        for e in history_events() {
            assert!(is_history(&e), "{e:?}");
            let (at, json) = to_row(&e, 7).expect("a row");
            assert_eq!(at, 7);
            assert_eq!(
                serde_json::from_str::<SyncEvent>(&json).expect("decodes"),
                e
            );
        }
        let not = [
            SyncEvent::Started { folder: folder() },
            SyncEvent::Progress {
                folder: folder(),
                progress: TransferProgress::default(),
            },
            SyncEvent::Finished {
                folder: folder(),
                summary: SyncSummary::default(),
            },
        ];
        for e in not {
            assert!(!is_history(&e) && to_row(&e, 1).is_none(), "{e:?}");
        }
    }

    #[test]
    fn undecodable_rows_are_skipped_not_fatal() {
        let j = Journal::open_in_memory().expect("journal");
        let good = to_row(&history_events()[0], 5).expect("row");
        j.record_activity(&[
            good.clone(),
            (6, "{\"type\":\"from-the-future\"}".into()),
            (7, "not json".into()),
        ])
        .expect("record");
        let got = recent(&j, 10).expect("read");
        assert_eq!(
            got,
            vec![ActivityEntry {
                at: 5,
                event: history_events()[0].clone()
            }]
        );
    }

    #[tokio::test]
    async fn the_recorder_writes_history_events_and_stops_with_the_channel() {
        let journal = Arc::new(Mutex::new(Journal::open_in_memory().expect("journal")));
        let (tx, rx) = broadcast::channel(64);
        let task = spawn_recorder(journal.clone(), rx);
        tx.send(SyncEvent::Started { folder: folder() })
            .expect("send");
        for e in history_events() {
            tx.send(e).expect("send");
        }
        drop(tx);
        task.await
            .expect("the recorder ends when the channel closes");
        let got = recent(&journal.lock().expect("lock"), 100).expect("read");
        let events: Vec<SyncEvent> = got.into_iter().rev().map(|e| e.event).collect();
        assert_eq!(
            events,
            history_events(),
            "in order, without the start event"
        );
    }

    /// An engine host's channel outlives each engine: the recorder of one engine ends when
    /// that engine stops (not when the channel closes), after writing what it sent before.
    #[tokio::test]
    async fn the_recorder_until_a_stop_writes_what_came_before_it_and_ends() {
        let journal = Arc::new(Mutex::new(Journal::open_in_memory().expect("journal")));
        let (tx, rx) = broadcast::channel(64);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = spawn_recorder_until(journal.clone(), rx, async {
            let _ = stop_rx.await;
        });
        for e in history_events() {
            tx.send(e).expect("send");
        }
        stop_tx.send(()).expect("stop");
        tokio::time::timeout(std::time::Duration::from_secs(30), task)
            .await
            .expect("the recorder ends on stop although the channel stays open")
            .expect("the recorder does not panic");
        tx.send(history_events()[0].clone())
            .expect_err("nobody listens on the channel after the stop");
        let got = recent(&journal.lock().expect("lock"), 100).expect("read");
        let events: Vec<SyncEvent> = got.into_iter().rev().map(|e| e.event).collect();
        assert_eq!(
            events,
            history_events(),
            "everything sent before the stop is recorded, once"
        );
    }
}
