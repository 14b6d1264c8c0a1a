//! One folder's running sync as the engine sees it: the latest progress from the syncer, the
//! smoothed rate and the stall watch, folded into a [`ProgressReport`]; and the overall
//! report of several folders.

use std::time::Duration;

use tokio::time::Instant;

use crate::events::TransferProgress;

use super::rate::{eta_secs, RateMeter};
use super::stall::StallWatch;
use super::ProgressReport;

/// Tracks the progress of one running sync.
#[derive(Clone, Debug)]
pub struct FolderTracker {
    latest: TransferProgress,
    rate: RateMeter,
    stall: StallWatch,
    /// The wire counter when the sync started and when it was last read; `None` until bytes
    /// were seen on the wire (a store that reports none, like the in-memory one: the rate
    /// then follows the bytes done).
    wire: Option<(u64, u64)>,
    wire_start: Option<u64>,
}

impl FolderTracker {
    /// A sync that started at `now`, with nothing known yet.
    pub fn started(now: Instant) -> FolderTracker {
        let mut rate = RateMeter::default();
        rate.observe(now, 0);
        FolderTracker {
            latest: TransferProgress::default(),
            rate,
            stall: StallWatch::started(now),
            wire: None,
            wire_start: None,
        }
    }

    /// The wire counter ([`super::wire::total`]) reads `total` at `now`. Bytes on the wire
    /// are movement (a big chunk under way is not a stall), and once some were seen the rate
    /// is measured on them: the speed of the link, also inside a chunk.
    pub fn observe_wire(&mut self, now: Instant, total: u64) {
        let start = *self.wire_start.get_or_insert(total);
        match self.wire {
            None if total == start => {}
            None => {
                // The first bytes on the wire: measure on them from now on.
                self.rate = RateMeter::default();
                self.rate.observe(now, 0);
                self.rate.observe(now, total - start);
                self.stall.touch(now);
                self.wire = Some((start, total));
            }
            Some((start, last)) => {
                if total != last {
                    self.stall.touch(now);
                }
                self.rate.observe(now, total.saturating_sub(start));
                self.wire = Some((start, total));
            }
        }
    }

    /// The syncer reported `p` at `now`.
    pub fn observe(&mut self, now: Instant, p: TransferProgress) {
        self.stall.observe(now, p.files_done, p.bytes_done);
        if self.wire.is_none() {
            self.rate.observe(now, p.bytes_done);
        }
        self.latest = p;
    }

    /// Time passed without a report (the rate decays toward zero).
    pub fn tick(&mut self, now: Instant) {
        if self.wire.is_none() {
            self.rate.observe(now, self.latest.bytes_done);
        }
    }

    /// The latest raw progress.
    pub fn latest(&self) -> &TransferProgress {
        &self.latest
    }

    /// Something is left to transfer.
    pub fn work_left(&self) -> bool {
        self.latest.files_done < self.latest.files_total
            || self.latest.bytes_done < self.latest.bytes_total
    }

    /// How long it has moved nothing with work left, once that is at least `after`.
    pub fn stalled_for(&self, now: Instant, after: Duration) -> Option<Duration> {
        self.stall.stalled_for(now, self.work_left(), after)
    }

    /// When it counts as stalled if nothing moves until then (only with work left).
    pub fn stalls_at(&self, after: Duration) -> Option<Instant> {
        self.work_left().then(|| self.stall.stalls_at(after))
    }

    /// Where it stands.
    pub fn report(&self) -> ProgressReport {
        let p = &self.latest;
        let bytes_to_go = p.bytes_total.saturating_sub(p.bytes_done);
        let bytes_per_sec = self.rate.bytes_per_sec();
        ProgressReport {
            files_to_go: p.files_total.saturating_sub(p.files_done),
            bytes_to_go,
            files_done: p.files_done,
            bytes_done: p.bytes_done,
            bytes_per_sec,
            eta_secs: eta_secs(bytes_to_go, bytes_per_sec),
            current_file: p.current.clone(),
        }
    }
}

/// The overall report of several folders' reports: sums, the summed rate, the time left at
/// that rate, and the first file in transfer. `None` when there are none.
pub fn combine<'a>(
    reports: impl IntoIterator<Item = &'a ProgressReport>,
) -> Option<ProgressReport> {
    let mut out: Option<ProgressReport> = None;
    for r in reports {
        let o = out.get_or_insert_with(ProgressReport::default);
        o.files_to_go += r.files_to_go;
        o.bytes_to_go = o.bytes_to_go.saturating_add(r.bytes_to_go);
        o.files_done += r.files_done;
        o.bytes_done = o.bytes_done.saturating_add(r.bytes_done);
        o.bytes_per_sec = match (o.bytes_per_sec, r.bytes_per_sec) {
            (Some(a), Some(b)) => Some(a.saturating_add(b)),
            (a, b) => a.or(b),
        };
        if o.current_file.is_none() {
            o.current_file = r.current_file.clone();
        }
    }
    if let Some(o) = out.as_mut() {
        o.eta_secs = eta_secs(o.bytes_to_go, o.bytes_per_sec);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::stall::STALL_AFTER;

    fn progress(files: (u64, u64), bytes: (u64, u64), current: Option<&str>) -> TransferProgress {
        TransferProgress {
            files_done: files.0,
            files_total: files.1,
            bytes_done: bytes.0,
            bytes_total: bytes.1,
            current: current.map(String::from),
        }
    }

    #[test]
    fn reports_what_is_left_the_speed_and_the_time_left() {
        let t0 = Instant::now();
        let mut t = FolderTracker::started(t0);
        t.observe(
            t0 + Duration::from_secs(1),
            progress((0, 4), (0, 10_000_000), Some("a.bin")),
        );
        for s in 2..=11u64 {
            // 1 MB/s from the second second on.
            t.observe(
                t0 + Duration::from_secs(s),
                progress((s / 4, 4), ((s - 1) * 500_000, 10_000_000), Some("a.bin")),
            );
        }
        let r = t.report();
        assert_eq!(r.files_done, 2);
        assert_eq!(r.files_to_go, 2);
        assert_eq!(r.bytes_done, 5_000_000);
        assert_eq!(r.bytes_to_go, 5_000_000);
        let rate = r.bytes_per_sec.expect("measured over 11 s");
        assert!(
            (400_000..=500_000).contains(&rate),
            "toward 0.5 MB/s after two time constants, from a first quiet second: {rate}"
        );
        assert_eq!(
            r.eta_secs,
            Some(5_000_000u64.div_ceil(rate)),
            "time left is to-go over rate"
        );
        assert_eq!(r.current_file.as_deref(), Some("a.bin"));
    }

    #[test]
    fn a_transfer_that_stops_moving_is_stalled_after_five_minutes() {
        let t0 = Instant::now();
        let mut t = FolderTracker::started(t0);
        t.observe(
            t0 + Duration::from_secs(10),
            progress((0, 1), (100, 1000), None),
        );
        assert_eq!(
            t.stalls_at(STALL_AFTER),
            Some(t0 + Duration::from_secs(310))
        );
        let later = t0 + Duration::from_secs(400);
        t.tick(later);
        assert_eq!(
            t.stalled_for(later, STALL_AFTER),
            Some(Duration::from_secs(390))
        );
        assert_eq!(
            t.report().bytes_per_sec,
            Some(0),
            "no bytes for minutes: no speed"
        );
        assert_eq!(t.report().eta_secs, None, "and no promise of a time");
        t.observe(later, progress((1, 1), (1000, 1000), None));
        assert_eq!(
            t.stalled_for(later, STALL_AFTER),
            None,
            "done: nothing left to stall on"
        );
        assert_eq!(t.stalls_at(STALL_AFTER), None);
    }

    #[test]
    fn bytes_on_the_wire_inside_a_big_chunk_are_speed_and_not_a_stall() {
        let t0 = Instant::now();
        let mut t = FolderTracker::started(t0);
        t.observe_wire(t0, 1_000);
        t.observe(t0, progress((0, 1), (0, 100_000_000), Some("big.iso")));
        // One 100 MB chunk at 100 kB/s: the sync hears of it only at the end.
        for s in 1..=600u64 {
            let now = t0 + Duration::from_secs(s);
            t.observe_wire(now, 1_000 + s * 100_000);
            t.tick(now);
        }
        let now = t0 + Duration::from_secs(600);
        assert_eq!(
            t.stalled_for(now, STALL_AFTER),
            None,
            "10 min of steady bytes is slow, not stalled"
        );
        let rate = t.report().bytes_per_sec.expect("measured on the wire");
        assert!(
            (95_000..=105_000).contains(&rate),
            "the link's speed: {rate}"
        );
        // The link goes quiet.
        for s in 601..=1000u64 {
            let now = t0 + Duration::from_secs(s);
            t.observe_wire(now, 1_000 + 600 * 100_000);
            t.tick(now);
        }
        let now = t0 + Duration::from_secs(1000);
        assert_eq!(
            t.stalled_for(now, STALL_AFTER),
            Some(Duration::from_secs(400))
        );
        assert_eq!(t.report().bytes_per_sec, Some(0));
    }

    #[test]
    fn the_overall_report_sums_the_folders() {
        let a = ProgressReport {
            files_to_go: 1,
            bytes_to_go: 1000,
            files_done: 1,
            bytes_done: 10,
            bytes_per_sec: Some(100),
            eta_secs: Some(10),
            current_file: None,
        };
        let b = ProgressReport {
            files_to_go: 2,
            bytes_to_go: 1000,
            bytes_per_sec: Some(100),
            current_file: Some("b.txt".into()),
            ..Default::default()
        };
        let all = combine([&a, &b]).expect("two folders");
        assert_eq!(all.files_to_go, 3);
        assert_eq!(all.bytes_to_go, 2000);
        assert_eq!(all.bytes_per_sec, Some(200));
        assert_eq!(all.eta_secs, Some(10), "2000 B at 200 B/s");
        assert_eq!(all.current_file.as_deref(), Some("b.txt"));
        assert_eq!(combine(std::iter::empty()), None);
    }
}
