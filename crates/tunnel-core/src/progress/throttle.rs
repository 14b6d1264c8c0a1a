//! The publishing throttle: progress reaches the status channel at most once per interval
//! (4 times a second by default), however many chunks finish meanwhile; the last change is
//! never lost, it is published when the interval ends.

use std::time::Duration;

use tokio::time::Instant;

/// Least time between two status updates caused by progress alone (≤ 4 a second).
pub const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Decides when pending progress is published.
#[derive(Clone, Debug)]
pub struct Throttle {
    every: Duration,
    last: Option<Instant>,
    pending: bool,
}

impl Throttle {
    /// At most one update per `every`.
    pub fn new(every: Duration) -> Throttle {
        Throttle {
            every,
            last: None,
            pending: false,
        }
    }

    /// Something changed at `now`: true when it may be published at once (then it counts as
    /// published); otherwise it is pending until [`Throttle::due_at`].
    pub fn changed(&mut self, now: Instant) -> bool {
        match self.last {
            Some(t) if now.saturating_duration_since(t) < self.every => {
                self.pending = true;
                false
            }
            _ => {
                self.published(now);
                true
            }
        }
    }

    /// When pending progress is to be published, if any is pending.
    pub fn due_at(&self) -> Option<Instant> {
        match (self.pending, self.last) {
            (true, Some(t)) => Some(t + self.every),
            (true, None) => Some(Instant::now()),
            _ => None,
        }
    }

    /// The status was published at `now` (for progress or any other reason).
    pub fn published(&mut self, now: Instant) {
        self.last = Some(now);
        self.pending = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_published_at_most_four_times_a_second() {
        let t0 = Instant::now();
        let mut th = Throttle::new(PROGRESS_EVERY);
        let mut published = 0;
        // A chunk finishes every 10 ms for 2 s; the engine publishes when told to, or when
        // the pending update comes due.
        let mut ms = 0u64;
        while ms <= 2000 {
            let now = t0 + Duration::from_millis(ms);
            if th.due_at().is_some_and(|d| d <= now) {
                th.published(now);
                published += 1;
            }
            if th.changed(now) {
                published += 1;
            }
            ms += 10;
        }
        assert!(published <= 9, "2 s at ≤ 4/s (plus the first): {published}");
        assert!(
            published >= 8,
            "but every interval carries an update: {published}"
        );
    }

    #[test]
    fn the_last_change_is_published_when_the_interval_ends() {
        let t0 = Instant::now();
        let mut th = Throttle::new(PROGRESS_EVERY);
        assert!(th.changed(t0), "the first change goes out at once");
        assert!(
            !th.changed(t0 + Duration::from_millis(100)),
            "the second waits"
        );
        assert_eq!(
            th.due_at(),
            Some(t0 + PROGRESS_EVERY),
            "and is due when the interval ends, not lost"
        );
        th.published(t0 + PROGRESS_EVERY);
        assert_eq!(th.due_at(), None, "nothing pending after publishing");
        assert!(
            th.changed(t0 + PROGRESS_EVERY * 2),
            "a change after a quiet interval goes out at once"
        );
    }
}
