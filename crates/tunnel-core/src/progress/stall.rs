//! Stall detection: a sync that has work left but moved nothing for a long time says so
//! instead of spinning.

use std::time::Duration;

use tokio::time::Instant;

/// How long a running sync may go without moving a byte or finishing a file, with work
/// left, before it is reported as stalled.
pub const STALL_AFTER: Duration = Duration::from_secs(5 * 60);

/// Watches one running sync for progress.
#[derive(Clone, Debug)]
pub struct StallWatch {
    last_move: Instant,
    last_seen: (u64, u64),
}

impl StallWatch {
    /// A sync that started at `now`.
    pub fn started(now: Instant) -> StallWatch {
        StallWatch {
            last_move: now,
            last_seen: (0, 0),
        }
    }

    /// The sync reports `files_done` and `bytes_done` at `now`; any change is progress.
    pub fn observe(&mut self, now: Instant, files_done: u64, bytes_done: u64) {
        if (files_done, bytes_done) != self.last_seen {
            self.last_seen = (files_done, bytes_done);
            self.last_move = now;
        }
    }

    /// Something moved at `now` that the counts do not show yet (bytes of a chunk on the
    /// wire): not stalled.
    pub fn touch(&mut self, now: Instant) {
        self.last_move = now;
    }

    /// How long it has been stalled at `now`, if it is: `work_left` and nothing moved for
    /// at least `after`.
    pub fn stalled_for(&self, now: Instant, work_left: bool, after: Duration) -> Option<Duration> {
        let quiet = now.saturating_duration_since(self.last_move);
        (work_left && quiet >= after).then_some(quiet)
    }

    /// When it becomes stalled if nothing moves (for the engine's timer).
    pub fn stalls_at(&self, after: Duration) -> Instant {
        self.last_move + after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn quiet_with_work_left_for_five_minutes_is_a_stall() {
        let t0 = Instant::now();
        let mut w = StallWatch::started(t0);
        w.observe(t0 + MIN, 1, 100);
        assert_eq!(
            w.stalled_for(t0 + 5 * MIN, true, STALL_AFTER),
            None,
            "4 min quiet is patience"
        );
        assert_eq!(
            w.stalled_for(t0 + 6 * MIN, true, STALL_AFTER),
            Some(5 * MIN),
            "5 min quiet since the last byte is a stall, counted from that byte"
        );
        assert_eq!(
            w.stalls_at(STALL_AFTER),
            t0 + 6 * MIN,
            "the engine wakes then"
        );
    }

    #[test]
    fn any_movement_resets_the_clock() {
        let t0 = Instant::now();
        let mut w = StallWatch::started(t0);
        w.observe(t0 + 4 * MIN, 0, 1);
        w.observe(t0 + 8 * MIN, 1, 1);
        assert_eq!(
            w.stalled_for(t0 + 12 * MIN, true, STALL_AFTER),
            None,
            "a file finished at 8 min"
        );
        w.observe(t0 + 12 * MIN, 1, 1);
        assert_eq!(
            w.stalled_for(t0 + 13 * MIN, true, STALL_AFTER),
            Some(5 * MIN),
            "the same numbers again are no movement"
        );
    }

    #[test]
    fn nothing_left_is_never_a_stall() {
        let t0 = Instant::now();
        let w = StallWatch::started(t0);
        assert_eq!(
            w.stalled_for(t0 + 60 * MIN, false, STALL_AFTER),
            None,
            "committing or checking with nothing to transfer is not stuck on a transfer"
        );
    }
}
