//! The running tally of one sync's transfers, shared by its download and upload passes: the
//! totals the plan implies (refined by each pass once it knows exactly what it moves), bytes
//! and files done, and the file in transfer. Transfers run in parallel inside one task, so
//! the tally sits behind a plain mutex that is never held across an `.await`.
//!
//! Bytes are credited per file as chunks land; a file that fails gives its bytes back and
//! leaves the totals, so "to go" never counts what this sync no longer tries. Byte-level
//! updates are emitted at most every [`BYTES_EVERY`]; finished files always are.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::events::TransferProgress;
use crate::progress::totals::{Amount, PlanTotals};
use crate::rel_path::RelPath;

/// Least time between two progress events for bytes inside files (finished files are always
/// reported): keeps the event channel, which also carries the activity history, quiet.
pub(super) const BYTES_EVERY: Duration = Duration::from_millis(250);

#[derive(Default)]
struct State {
    p: TransferProgress,
    down: Amount,
    up: Amount,
    credited: HashMap<RelPath, u64>,
    last_emit: Option<Instant>,
}

impl State {
    fn retotal(&mut self) {
        self.p.files_total = self.p.files_done.max(self.down.files + self.up.files);
        self.p.bytes_total = self
            .p
            .bytes_done
            .max(self.down.bytes.saturating_add(self.up.bytes));
    }
}

/// See the module documentation.
#[derive(Default)]
pub(super) struct Tally {
    state: Mutex<State>,
}

impl Tally {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        // A poisoned tally only loses progress numbers; carry on with what it holds.
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// The plan is made: its transfers in both directions.
    pub(super) fn planned(&self, t: PlanTotals) -> TransferProgress {
        self.with(|s| {
            s.down = t.down;
            s.up = t.up;
            s.retotal();
            s.p.clone()
        })
    }

    /// The download pass knows exactly what it fetches.
    pub(super) fn downloads_are(&self, a: Amount) -> TransferProgress {
        self.with(|s| {
            s.down = a;
            s.retotal();
            s.p.clone()
        })
    }

    /// The upload pass knows exactly what it sends (after de-duplication); the download
    /// direction is over by then, so only what it did stays counted.
    pub(super) fn uploads_are(&self, a: Amount) -> TransferProgress {
        self.with(|s| {
            s.down = Amount {
                files: s.p.files_done,
                bytes: s.p.bytes_done,
            };
            s.up = a;
            s.retotal();
            s.p.clone()
        })
    }

    /// `path` is in transfer now.
    pub(super) fn start(&self, path: &RelPath) {
        self.with(|s| s.p.current = Some(path.to_string()));
    }

    /// `n` more bytes of `path` landed; returns the progress to emit when one is due.
    pub(super) fn bytes(&self, path: &RelPath, n: u64) -> Option<TransferProgress> {
        self.with(|s| {
            *s.credited.entry(path.clone()).or_default() += n;
            s.p.bytes_done = s.p.bytes_done.saturating_add(n).min(s.p.bytes_total);
            let now = Instant::now();
            let due = s
                .last_emit
                .is_none_or(|t| now.duration_since(t) >= BYTES_EVERY);
            due.then(|| {
                s.last_emit = Some(now);
                s.p.clone()
            })
        })
    }

    /// `path` is done; it counted for `size` bytes in the totals.
    pub(super) fn file_done(&self, path: &RelPath, size: u64) -> TransferProgress {
        self.with(|s| {
            let credited = s.credited.remove(path).unwrap_or(0);
            s.p.bytes_done = (s.p.bytes_done + size.saturating_sub(credited)).min(s.p.bytes_total);
            s.p.files_done = (s.p.files_done + 1).min(s.p.files_total);
            s.last_emit = Some(Instant::now());
            s.p.clone()
        })
    }

    /// The bytes credited to `path` are forgotten (it is fetched again from the start).
    pub(super) fn restart(&self, path: &RelPath) {
        self.with(|s| {
            let credited = s.credited.remove(path).unwrap_or(0);
            s.p.bytes_done = s.p.bytes_done.saturating_sub(credited);
        });
    }

    /// `path` failed this time (tried again next sync); it counted for `size` bytes, which
    /// leave the totals with it.
    pub(super) fn file_failed(&self, path: &RelPath, size: u64, upload: bool) -> TransferProgress {
        self.with(|s| {
            let credited = s.credited.remove(path).unwrap_or(0);
            s.p.bytes_done = s.p.bytes_done.saturating_sub(credited);
            let dir = if upload { &mut s.up } else { &mut s.down };
            dir.files = dir.files.saturating_sub(1);
            dir.bytes = dir.bytes.saturating_sub(size);
            s.retotal();
            s.p.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).expect("valid")
    }

    fn totals(down: (u64, u64), up: (u64, u64)) -> PlanTotals {
        PlanTotals {
            down: Amount {
                files: down.0,
                bytes: down.1,
            },
            up: Amount {
                files: up.0,
                bytes: up.1,
            },
        }
    }

    #[test]
    fn planning_sets_the_totals_and_passes_refine_them() {
        let t = Tally::default();
        let after_plan = t.planned(totals((2, 300), (1, 1000)));
        assert_eq!(
            (after_plan.files_total, after_plan.bytes_total),
            (3, 1300),
            "known after planning"
        );
        t.downloads_are(Amount {
            files: 2,
            bytes: 300,
        });
        t.file_done(&p("a"), 100);
        t.file_done(&p("b"), 200);
        // De-duplication: only 400 of the file's 1000 bytes are new to the page.
        let up = t.uploads_are(Amount {
            files: 1,
            bytes: 400,
        });
        assert_eq!(
            (up.files_total, up.bytes_total, up.files_done, up.bytes_done),
            (3, 700, 2, 300),
            "what is already on the page is not to go"
        );
    }

    #[test]
    fn bytes_land_inside_a_file_and_the_file_finishes_once() {
        let t = Tally::default();
        t.planned(totals((1, 1000), (0, 0)));
        t.start(&p("big"));
        let first = t.bytes(&p("big"), 400).expect("the first update goes out");
        assert_eq!(first.bytes_done, 400);
        assert_eq!(first.current.as_deref(), Some("big"));
        assert!(
            t.bytes(&p("big"), 100).is_none(),
            "the next within 250 ms waits"
        );
        let done = t.file_done(&p("big"), 1000);
        assert_eq!(
            (done.files_done, done.bytes_done),
            (1, 1000),
            "not 1500: credited bytes count once"
        );
    }

    #[test]
    fn a_failed_file_gives_back_its_bytes_and_leaves_the_totals() {
        let t = Tally::default();
        t.planned(totals((2, 300), (0, 0)));
        t.bytes(&p("a"), 50);
        let after = t.file_failed(&p("a"), 100, false);
        assert_eq!(
            (after.files_total, after.bytes_total, after.bytes_done),
            (1, 200, 0),
            "a file not tried again this sync is not to go"
        );
        t.bytes(&p("b"), 120);
        t.restart(&p("b"));
        let again = t.file_done(&p("b"), 200);
        assert_eq!(
            again.bytes_done, 200,
            "a retried download counts its bytes once"
        );
    }
}
