//! The transfer rate, smoothed, and the time left it implies.
//!
//! Samples are `(instant, bytes done so far)`. The rate is an exponentially weighted moving
//! average whose weight depends on the time between samples (`1 - e^(-Δt/τ)`), so it is the
//! same whether progress arrives ten times a second or once in two seconds, and it follows a
//! real change of speed within a few `τ` without jumping at every chunk.

use std::time::Duration;

use tokio::time::Instant;

/// How quickly the rate follows a change of speed (its time constant).
pub const RATE_SMOOTHING: Duration = Duration::from_secs(5);
/// Samples closer than this to the previous one are folded into the next (a burst of small
/// files would otherwise read as an absurd speed).
pub const MIN_SAMPLE_GAP: Duration = Duration::from_millis(200);
/// A time left longer than this is not shown (it means "very slow", not a useful date).
pub const MAX_ETA: Duration = Duration::from_secs(100 * 24 * 3600);

/// A smoothed bytes-per-second rate.
#[derive(Clone, Debug)]
pub struct RateMeter {
    last: Option<(Instant, u64)>,
    /// When a byte last moved.
    last_move: Option<Instant>,
    rate: Option<f64>,
    tau: Duration,
}

impl Default for RateMeter {
    fn default() -> Self {
        RateMeter::new(RATE_SMOOTHING)
    }
}

impl RateMeter {
    /// A meter with time constant `tau`.
    pub fn new(tau: Duration) -> RateMeter {
        RateMeter {
            last: None,
            last_move: None,
            rate: None,
            tau: tau.max(Duration::from_millis(1)),
        }
    }

    /// `bytes_done` bytes were done at `now` (a running total). A total that went down means
    /// a new transfer started: the meter starts over.
    pub fn observe(&mut self, now: Instant, bytes_done: u64) {
        let Some((then, before)) = self.last else {
            self.last = Some((now, bytes_done));
            return;
        };
        if bytes_done < before {
            *self = RateMeter::new(self.tau);
            self.last = Some((now, bytes_done));
            return;
        }
        let dt = now.saturating_duration_since(then);
        if dt < MIN_SAMPLE_GAP {
            return;
        }
        let secs = dt.as_secs_f64();
        let instant_rate = (bytes_done - before) as f64 / secs;
        let weight = 1.0 - (-secs / self.tau.as_secs_f64()).exp();
        if bytes_done > before {
            self.last_move = Some(now);
        }
        let still_since = self.last_move.unwrap_or(then);
        self.rate = Some(
            if now.saturating_duration_since(still_since) >= self.tau * 3 {
                // The average only approaches zero; three time constants without a byte is
                // zero, not "8 B/s".
                0.0
            } else {
                match self.rate {
                    None => instant_rate,
                    Some(r) => r + weight * (instant_rate - r),
                }
            },
        );
        self.last = Some((now, bytes_done));
    }

    /// The smoothed rate in bytes per second, once two samples far enough apart were seen.
    pub fn bytes_per_sec(&self) -> Option<u64> {
        self.rate.map(|r| r.round() as u64)
    }
}

/// Seconds until `bytes_to_go` are done at `bytes_per_sec`: `Some(0)` when nothing is left,
/// `None` when the rate is unknown or zero, or the answer is beyond [`MAX_ETA`].
pub fn eta_secs(bytes_to_go: u64, bytes_per_sec: Option<u64>) -> Option<u64> {
    if bytes_to_go == 0 {
        return Some(0);
    }
    let rate = bytes_per_sec.filter(|r| *r > 0)?;
    let secs = bytes_to_go.div_ceil(rate);
    (secs <= MAX_ETA.as_secs()).then_some(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn a_steady_transfer_reads_at_its_speed() {
        let t0 = Instant::now();
        let mut m = RateMeter::default();
        // 1 MB every 500 ms = 2 MB/s, for ten seconds.
        for i in 0..=20u64 {
            m.observe(at(t0, i * 500), i * 1_000_000);
        }
        assert_eq!(
            m.bytes_per_sec(),
            Some(2_000_000),
            "a constant speed is read exactly"
        );
    }

    #[test]
    fn one_sample_is_not_a_rate() {
        let t0 = Instant::now();
        let mut m = RateMeter::default();
        m.observe(t0, 5_000);
        assert_eq!(m.bytes_per_sec(), None, "a speed needs two points in time");
    }

    #[test]
    fn samples_too_close_together_wait_for_the_next() {
        let t0 = Instant::now();
        let mut m = RateMeter::default();
        m.observe(t0, 0);
        // 10 small files in 10 ms would read as 100 MB/s.
        m.observe(at(t0, 10), 1_000_000);
        assert_eq!(
            m.bytes_per_sec(),
            None,
            "a 10 ms gap is folded into the next sample"
        );
        m.observe(at(t0, 1000), 1_000_000);
        assert_eq!(
            m.bytes_per_sec(),
            Some(1_000_000),
            "measured over the whole second since the first sample"
        );
    }

    #[test]
    fn the_rate_follows_a_change_of_speed_smoothly() {
        let t0 = Instant::now();
        let mut m = RateMeter::default();
        let mut bytes = 0;
        for i in 0..=20u64 {
            m.observe(at(t0, i * 1000), bytes);
            bytes += 1_000_000;
        }
        let fast = m.bytes_per_sec().expect("measured");
        assert!(
            fast > 990_000,
            "about 1 MB/s after 20 s at that speed: {fast}"
        );
        // The link slows to 100 kB/s.
        let mut t = 20_000;
        t += 1000;
        bytes = bytes - 1_000_000 + 100_000;
        m.observe(at(t0, t), bytes);
        let after_one = m.bytes_per_sec().expect("measured");
        assert!(
            after_one < fast && after_one > 500_000,
            "one slow second moves the rate down but not all the way: {after_one}"
        );
        for _ in 0..30 {
            t += 1000;
            bytes += 100_000;
            m.observe(at(t0, t), bytes);
        }
        let slow = m.bytes_per_sec().expect("measured");
        assert!(
            (99_000..=105_000).contains(&slow),
            "after 30 s (6 τ) it reads the new speed: {slow}"
        );
    }

    #[test]
    fn the_rate_decays_to_zero_when_nothing_moves() {
        let t0 = Instant::now();
        let mut m = RateMeter::default();
        m.observe(t0, 0);
        m.observe(at(t0, 1000), 1_000_000);
        for s in 2..=60u64 {
            m.observe(at(t0, s * 1000), 1_000_000);
        }
        assert_eq!(
            m.bytes_per_sec(),
            Some(0),
            "a minute without bytes is no speed"
        );
    }

    #[test]
    fn a_total_that_goes_down_starts_a_new_measurement() {
        let t0 = Instant::now();
        let mut m = RateMeter::default();
        m.observe(t0, 0);
        m.observe(at(t0, 1000), 50_000_000);
        m.observe(at(t0, 2000), 10);
        assert_eq!(m.bytes_per_sec(), None, "a new sync starts from nothing");
    }

    #[test]
    fn time_left_is_bytes_over_rate_rounded_up() {
        let cases = [
            (
                0,
                None,
                Some(0),
                "nothing left is done now, whatever the rate",
            ),
            (1000, None, None, "unknown rate, unknown time"),
            (1000, Some(0), None, "no movement, no promise"),
            (1000, Some(300), Some(4), "3.33 s reads as 4 s"),
            (10_000_000, Some(1_000_000), Some(10), "exact"),
            (u64::MAX, Some(1), None, "beyond 100 days is not a date"),
        ];
        for (to_go, rate, want, why) in cases {
            assert_eq!(eta_secs(to_go, rate), want, "{why}");
        }
    }
}
