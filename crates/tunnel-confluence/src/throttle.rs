//! Bandwidth limits: a token bucket per direction, shared by every transfer of one client.
//!
//! [`Bucket`] is the pure arithmetic (no clock of its own, no locking): a bucket of at most
//! `capacity` bytes, refilled at `rate` bytes per second. Taking bytes never fails; it may
//! leave the bucket in debt, and returns how long the caller must wait until the debt is paid.
//! Because later callers see the debt of earlier ones, concurrent transfers are served in the
//! order they asked, each with one sleep (no polling, no busy waiting).
//!
//! [`Throttle`] puts a bucket behind a mutex (never held across an `.await`) with a limit that
//! can change at any time, plus counters for tests and status.
//!
//! Invariants:
//! - the level is kept in exact integer units (bytes × 10⁹, refilled by elapsed ns × rate),
//!   so long transfers do not drift however many small pieces they are cut into;
//! - the level never exceeds the capacity: a burst after an idle period is at most one
//!   capacity ([`burst_for`]: one second's worth, at least [`MIN_BURST`]);
//! - over any period starting with a full bucket, at most `capacity + rate × elapsed` bytes
//!   are let through;
//! - limit 0 means unlimited: [`Throttle::reserve`] is then one atomic load, no lock, no
//!   counting, no sleep.
//!
//! Time is `tokio::time::Instant`, so tests drive it with tokio's paused clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Smallest burst (bytes): one network read or one upload slice passes without waiting, even
/// under a limit of a few KiB/s.
pub(crate) const MIN_BURST: u64 = 16 * 1024;

/// Units of the bucket level per byte (the level is in byte-nanoseconds per second).
const UNITS_PER_BYTE: i128 = 1_000_000_000;

/// The burst allowed at `rate` bytes/s: one second's worth, at least [`MIN_BURST`].
pub(crate) fn burst_for(rate: u64) -> u64 {
    rate.max(MIN_BURST)
}

/// A token bucket: pure arithmetic over the instants it is given.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    /// Refill rate, bytes per second (> 0).
    rate: u64,
    /// Largest level, bytes.
    capacity: u64,
    /// Current level in bytes × [`UNITS_PER_BYTE`]; negative = debt.
    level: i128,
    /// When `level` was last brought up to date.
    last: Instant,
}

impl Bucket {
    /// A full bucket. `rate` 0 is treated as 1 byte/s (callers use 0 for "no bucket").
    pub(crate) fn new(rate: u64, capacity: u64, now: Instant) -> Self {
        Bucket {
            rate: rate.max(1),
            capacity,
            level: i128::from(capacity) * UNITS_PER_BYTE,
            last: now,
        }
    }

    /// The refill rate, bytes per second.
    pub(crate) fn rate(&self) -> u64 {
        self.rate
    }

    /// Whole bytes available at `now` (negative: debt).
    #[cfg(test)]
    pub(crate) fn available(&mut self, now: Instant) -> i128 {
        self.refill(now);
        self.level.div_euclid(UNITS_PER_BYTE)
    }

    /// Bring the level up to `now` (an instant before the last one changes nothing).
    fn refill(&mut self, now: Instant) {
        if now <= self.last {
            return;
        }
        let elapsed = i128::try_from(now.duration_since(self.last).as_nanos()).unwrap_or(i128::MAX);
        let full = i128::from(self.capacity) * UNITS_PER_BYTE;
        self.level = self
            .level
            .saturating_add(elapsed.saturating_mul(i128::from(self.rate)))
            .min(full);
        self.last = now;
    }

    /// Take `bytes` at `now`; returns how long to wait before they may go on the wire (zero
    /// when the bucket held them).
    pub(crate) fn take(&mut self, bytes: u64, now: Instant) -> Duration {
        self.refill(now);
        self.level = self
            .level
            .saturating_sub(i128::from(bytes).saturating_mul(UNITS_PER_BYTE));
        if self.level >= 0 {
            return Duration::ZERO;
        }
        // Round up: after the wait the level is back to >= 0.
        let rate = i128::from(self.rate);
        let nanos = (-self.level + rate - 1) / rate;
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Change rate and capacity at `now`: what was earned so far at the old rate is kept (at
    /// most the new capacity), debt is kept and now repaid at the new rate.
    pub(crate) fn set_rate(&mut self, rate: u64, capacity: u64, now: Instant) {
        self.refill(now);
        self.rate = rate.max(1);
        self.capacity = capacity;
        self.level = self.level.min(i128::from(capacity) * UNITS_PER_BYTE);
    }
}

/// What a throttle let through while it was limiting (for tests, benchmarks and status).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThrottleStats {
    /// Bytes counted against the limit (retried bytes count again).
    pub bytes: u64,
    /// How many of the reservations had to wait.
    pub waits: u64,
    /// Total time those reservations were told to wait (summed over parallel transfers).
    pub waited: Duration,
}

/// One direction's limit, shared by every transfer of a client (put it in an `Arc`).
#[derive(Debug)]
pub(crate) struct Throttle {
    /// Bytes per second; 0 = unlimited.
    rate: AtomicU64,
    /// The bucket; `None` until the first limited reservation.
    bucket: Mutex<Option<Bucket>>,
    bytes: AtomicU64,
    waits: AtomicU64,
    waited_ns: AtomicU64,
}

impl Throttle {
    /// A throttle at `rate` bytes per second (0 = unlimited).
    pub(crate) fn new(rate: u64) -> Self {
        Throttle {
            rate: AtomicU64::new(rate),
            bucket: Mutex::new(None),
            bytes: AtomicU64::new(0),
            waits: AtomicU64::new(0),
            waited_ns: AtomicU64::new(0),
        }
    }

    /// The limit, bytes per second (0 = unlimited).
    pub(crate) fn rate(&self) -> u64 {
        self.rate.load(Ordering::Relaxed)
    }

    /// Change the limit; the next reservation uses it (a reservation already sleeping
    /// finishes its wait).
    pub(crate) fn set_rate(&self, rate: u64) {
        self.rate.store(rate, Ordering::Relaxed);
    }

    /// The largest piece worth reserving at once: the burst (so one piece never waits for
    /// more than about one second of its own bytes); unlimited: no cut.
    pub(crate) fn slice_len(&self) -> usize {
        match self.rate() {
            0 => usize::MAX,
            rate => usize::try_from(burst_for(rate)).unwrap_or(usize::MAX),
        }
    }

    /// Count `bytes` and return how long to wait before sending (or after receiving) them.
    pub(crate) fn reserve(&self, bytes: u64) -> Duration {
        let rate = self.rate();
        if rate == 0 || bytes == 0 {
            return Duration::ZERO;
        }
        let now = Instant::now();
        let wait = {
            // A poisoned lock only means another transfer panicked mid-arithmetic; the
            // bucket is still a valid (if approximate) state.
            let mut slot = self
                .bucket
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let bucket = slot.get_or_insert_with(|| Bucket::new(rate, burst_for(rate), now));
            if bucket.rate() != rate {
                bucket.set_rate(rate, burst_for(rate), now);
            }
            bucket.take(bytes, now)
        };
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if !wait.is_zero() {
            self.waits.fetch_add(1, Ordering::Relaxed);
            let ns = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
            self.waited_ns.fetch_add(ns, Ordering::Relaxed);
        }
        wait
    }

    /// Count `bytes` and sleep as long as the limit requires.
    pub(crate) async fn acquire(&self, bytes: u64) {
        let wait = self.reserve(bytes);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// The counters so far.
    pub(crate) fn stats(&self) -> ThrottleStats {
        ThrottleStats {
            bytes: self.bytes.load(Ordering::Relaxed),
            waits: self.waits.load(Ordering::Relaxed),
            waited: Duration::from_nanos(self.waited_ns.load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[tokio::test(start_paused = true)]
    async fn a_full_bucket_lets_its_capacity_through_then_charges_exactly() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1000, 500, t0);
        assert_eq!(b.take(500, t0), Duration::ZERO, "the burst passes at once");
        assert_eq!(b.take(1, t0), MS, "1 byte at 1000 B/s is 1 ms");
        assert_eq!(
            b.take(250, t0),
            Duration::from_millis(251),
            "debt accumulates"
        );
        // 251 ms later the debt is paid exactly.
        assert_eq!(b.available(t0 + Duration::from_millis(251)), 0);
        assert_eq!(
            b.take(1000, t0 + Duration::from_millis(251)),
            Duration::from_secs(1)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_bucket_refills_up_to_its_capacity_only() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1000, 500, t0);
        assert_eq!(b.take(500, t0), Duration::ZERO);
        assert_eq!(b.available(t0 + Duration::from_millis(100)), 100);
        // An hour idle earns one capacity, not an hour's worth.
        assert_eq!(b.available(t0 + Duration::from_secs(3600)), 500);
        let t1 = t0 + Duration::from_secs(3600);
        assert_eq!(b.take(500, t1), Duration::ZERO);
        assert_eq!(b.take(1000, t1), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn small_pieces_do_not_drift() {
        // 3 bytes at 7 B/s do not divide evenly; a million pieces must still add up exactly.
        let t0 = Instant::now();
        let mut b = Bucket::new(7, 1, t0);
        let mut now = t0;
        let _ = b.take(1, now);
        for _ in 0..1_000_000 {
            now += b.take(3, now);
        }
        // 3 000 000 bytes at 7 B/s: 428 571.428… s, rounded up once per wait at most.
        let exact = Duration::from_nanos(3_000_000u64 * 1_000_000_000 / 7);
        let spent = now - t0;
        assert!(spent >= exact, "{spent:?} < {exact:?}");
        assert!(
            spent - exact < Duration::from_micros(1),
            "rounding does not accumulate: {:?}",
            spent - exact
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_change_keeps_debt_and_repays_it_at_the_new_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1000, 1000, t0);
        assert_eq!(b.take(2000, t0), Duration::from_secs(1));
        b.set_rate(10_000, 10_000, t0);
        assert_eq!(b.available(t0), -1000);
        assert_eq!(b.take(0, t0), Duration::from_millis(100));
        // Lowering the capacity cuts what was saved.
        let mut b = Bucket::new(1000, 1000, t0);
        b.set_rate(100, 100, t0);
        assert_eq!(b.available(t0), 100);
    }

    #[tokio::test(start_paused = true)]
    async fn the_throttle_holds_one_transfer_to_the_rate() {
        let rate = 1_000_000; // 1000 bytes per ms
        let throttle = Throttle::new(rate);
        let start = Instant::now();
        let total = 5 * rate; // five seconds' worth, in pieces of 1000 bytes
        for _ in 0..(total / 1000) {
            throttle.acquire(1000).await;
        }
        // The first second's worth is the burst; the rest goes at the rate, to the ms.
        assert_eq!(start.elapsed(), Duration::from_secs(4));
        let stats = throttle.stats();
        assert_eq!(stats.bytes, total);
        assert_eq!(stats.waits, (total - rate) / 1000);
    }

    #[tokio::test(start_paused = true)]
    async fn parallel_transfers_share_one_rate() {
        let rate = 1_000_000;
        let throttle = Arc::new(Throttle::new(rate));
        let start = Instant::now();
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let t = Arc::clone(&throttle);
                tokio::spawn(async move {
                    for _ in 0..1000 {
                        t.acquire(1000).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("transfer task");
        }
        // 4 MB at 1 MB/s with a 1 MB burst: 3 s for all four together, not 0.
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        assert_eq!(throttle.stats().bytes, 4_000_000);
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_never_waits_nor_counts() {
        let throttle = Throttle::new(0);
        let start = Instant::now();
        for _ in 0..1000 {
            assert_eq!(throttle.reserve(1 << 30), Duration::ZERO);
        }
        throttle.acquire(u64::MAX).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(throttle.stats(), ThrottleStats::default());
        assert_eq!(throttle.slice_len(), usize::MAX);
    }

    #[tokio::test(start_paused = true)]
    async fn a_live_limit_change_applies_to_the_next_bytes() {
        let throttle = Throttle::new(100_000);
        let start = Instant::now();
        throttle.acquire(100_000).await; // the burst
        throttle.acquire(100_000).await; // one second at 100 kB/s
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        throttle.set_rate(1_000_000);
        throttle.acquire(1_000_000).await; // one second at 1 MB/s, no saved burst
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        throttle.set_rate(0);
        throttle.acquire(u64::MAX).await;
        assert_eq!(start.elapsed(), Duration::from_secs(2), "unlimited again");
        assert_eq!(
            throttle.stats().bytes,
            1_200_000,
            "unlimited bytes are not counted"
        );
    }

    #[test]
    fn the_burst_is_a_second_but_at_least_one_read() {
        assert_eq!(burst_for(1), MIN_BURST);
        assert_eq!(burst_for(1 << 20), 1 << 20);
        let t = Throttle::new(1024);
        assert_eq!(t.slice_len(), MIN_BURST as usize);
    }
}
