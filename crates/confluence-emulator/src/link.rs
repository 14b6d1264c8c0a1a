//! Bandwidth caps, a test knob (off by default): a token bucket per direction that request
//! bodies (uploads) and response bodies (downloads) pass through.
//!
//! A [`Link`] is the cap; [`Link::reserve`] is its only decision, pure given the time it is
//! told: `n` more bytes at `now` push the bucket's theoretical arrival time `n / rate` further,
//! and the sender waits for whatever is more than the burst allowance ahead of `now` (GCRA).
//! The allowance ([`BURST`] of the rate, at least [`MIN_BURST_BYTES`]) absorbs the timer's
//! oversleep, so a capped body runs at the rate, not below it.
//!
//! Either every request (response) gets a link of its own — the cap applies per connection, as
//! `--bandwidth` always did — or all share one, a link between the client and the server: four
//! parallel uploads then get a quarter of the cap each (`--shared-bandwidth`).
//!
//! A [`Meter`] per direction counts the bytes that went through caps and the waits they
//! imposed, so a test can read the emulator's own accounting instead of timing itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::spawn::lock;

/// Burst allowance as a share of one second of the rate (50 ms).
const BURST: f64 = 0.05;
/// Smallest burst allowance, in bytes.
const MIN_BURST_BYTES: u64 = 64 * 1024;

/// One cap: `rate` bytes per second with a small burst allowance.
#[derive(Debug)]
pub(crate) struct Link {
    rate: u64,
    /// The burst allowance, as time.
    tau: Duration,
    /// Theoretical arrival time of the next byte (`None`: idle since created).
    tat: Mutex<Option<Instant>>,
}

impl Link {
    /// A cap of `rate` bytes per second (`rate` > 0).
    pub(crate) fn new(rate: u64) -> Link {
        let rate = rate.max(1);
        let burst = ((rate as f64 * BURST) as u64).max(MIN_BURST_BYTES);
        Link {
            rate,
            tau: Duration::from_secs_f64(burst as f64 / rate as f64),
            tat: Mutex::new(None),
        }
    }

    /// The rate, bytes per second.
    pub(crate) fn rate(&self) -> u64 {
        self.rate
    }

    /// Count `n` bytes sent at `now`; returns how long the sender must wait before sending
    /// more (zero while within the burst allowance).
    pub(crate) fn reserve(&self, n: u64, now: Instant) -> Duration {
        let mut tat = lock(&self.tat);
        let start = match *tat {
            Some(t) if t > now => t,
            _ => now,
        };
        let next = start + Duration::from_secs_f64(n as f64 / self.rate as f64);
        *tat = Some(next);
        next.saturating_duration_since(now).saturating_sub(self.tau)
    }
}

/// Where one direction's cap comes from: a link per body, or one shared by all.
#[derive(Debug, Default)]
pub(crate) struct LinkSlot {
    shared: Mutex<Option<Arc<Link>>>,
}

impl LinkSlot {
    /// The link a body at `rate` goes through: the shared one (made anew when the rate
    /// changed) when `shared`, otherwise a new one of its own.
    pub(crate) fn link(&self, rate: u64, shared: bool) -> Arc<Link> {
        if !shared {
            return Arc::new(Link::new(rate));
        }
        let mut slot = lock(&self.shared);
        match slot.as_ref() {
            Some(l) if l.rate() == rate => Arc::clone(l),
            _ => {
                let l = Arc::new(Link::new(rate));
                *slot = Some(Arc::clone(&l));
                l
            }
        }
    }
}

/// What the caps of one direction did: bytes through them and the waits they imposed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Body bytes that passed through a cap.
    pub bytes: u64,
    /// Total wait the caps imposed on senders (summed over bodies, so parallel bodies can add
    /// up to more than the wall-clock time).
    pub waited: Duration,
}

/// Counters behind [`LinkStats`].
#[derive(Debug, Default)]
pub(crate) struct Meter {
    bytes: AtomicU64,
    waited_us: AtomicU64,
}

impl Meter {
    /// Record `n` bytes and the wait they caused.
    pub(crate) fn add(&self, n: u64, wait: Duration) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
        let us = u64::try_from(wait.as_micros()).unwrap_or(u64::MAX);
        self.waited_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The counts so far.
    pub(crate) fn stats(&self) -> LinkStats {
        LinkStats {
            bytes: self.bytes.load(Ordering::Relaxed),
            waited: Duration::from_micros(self.waited_us.load(Ordering::Relaxed)),
        }
    }
}

/// A cap and its meter, for one body.
#[derive(Debug, Clone)]
pub(crate) struct Cap {
    pub(crate) link: Arc<Link>,
    pub(crate) meter: Arc<Meter>,
}

impl Cap {
    /// Count `n` bytes sent now; returns the wait before more may be sent.
    pub(crate) fn sent(&self, n: u64) -> Duration {
        let wait = self.link.reserve(n, tokio::time::Instant::now().into_std());
        self.meter.add(n, wait);
        wait
    }
}

/// Both directions' caps and meters, shared by all connections.
#[derive(Debug, Default)]
pub(crate) struct Wire {
    up: LinkSlot,
    down: LinkSlot,
    up_meter: Arc<Meter>,
    down_meter: Arc<Meter>,
}

impl Wire {
    /// The cap of one request body: `rate` bytes per second (`None` or 0: uncapped).
    pub(crate) fn upload_cap(&self, rate: Option<u64>, shared: bool) -> Option<Cap> {
        Self::cap(&self.up, &self.up_meter, rate, shared)
    }

    /// The cap of one response body.
    pub(crate) fn download_cap(&self, rate: Option<u64>, shared: bool) -> Option<Cap> {
        Self::cap(&self.down, &self.down_meter, rate, shared)
    }

    fn cap(slot: &LinkSlot, meter: &Arc<Meter>, rate: Option<u64>, shared: bool) -> Option<Cap> {
        let rate = rate.filter(|r| *r > 0)?;
        Some(Cap {
            link: slot.link(rate, shared),
            meter: Arc::clone(meter),
        })
    }

    /// What the upload caps did so far.
    pub(crate) fn upload_stats(&self) -> LinkStats {
        self.up_meter.stats()
    }

    /// What the download caps did so far.
    pub(crate) fn download_stats(&self) -> LinkStats {
        self.down_meter.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1_000_000;

    #[test]
    fn within_the_burst_nothing_waits_then_the_rate_holds() {
        let link = Link::new(MB); // burst: 64 KiB (more than 5 % of 1 MB)
        let t0 = Instant::now();
        assert_eq!(link.reserve(60_000, t0), Duration::ZERO, "inside the burst");
        // 1 MB more at the same instant: it is due 1.06 s from now, minus the burst.
        let wait = link.reserve(MB, t0);
        let tau = Duration::from_secs_f64(65_536.0 / MB as f64);
        let due = Duration::from_secs_f64(1.06);
        assert!(
            (wait.as_secs_f64() - (due - tau).as_secs_f64()).abs() < 1e-6,
            "{wait:?}"
        );
    }

    #[test]
    fn a_sender_at_the_rate_never_waits_and_idle_time_is_not_saved_up() {
        let link = Link::new(10 * MB);
        let t0 = Instant::now();
        // 100 KB every 10 ms is exactly the rate: never more than the burst ahead.
        for i in 0..100u32 {
            let now = t0 + Duration::from_millis(10) * i;
            assert_eq!(link.reserve(100_000, now), Duration::ZERO, "step {i}");
        }
        // After 10 s of silence a 5 MB burst is not free: idle time earns no credit.
        let later = t0 + Duration::from_secs(11);
        let wait = link.reserve(5 * MB, later);
        assert!(wait >= Duration::from_millis(440), "{wait:?}");
    }

    #[test]
    fn total_time_follows_the_rate_whatever_the_frame_sizes() {
        // A sender that always waits what it is told: N bytes take N / rate, minus the burst.
        for frame in [1_000u64, 16_384, 400_000, 3 * MB] {
            let link = Link::new(2 * MB);
            let mut now = Instant::now();
            let t0 = now;
            let mut left = 8 * MB;
            while left > 0 {
                let n = left.min(frame);
                now += link.reserve(n, now);
                left -= n;
            }
            let took = (now - t0).as_secs_f64();
            assert!(
                (3.9..=4.0).contains(&took),
                "8 MB at 2 MB/s in frames of {frame}: {took} s"
            );
        }
    }

    #[test]
    fn a_shared_slot_hands_out_one_link_per_rate_and_private_ones_otherwise() {
        let slot = LinkSlot::default();
        let a = slot.link(MB, true);
        let b = slot.link(MB, true);
        assert!(Arc::ptr_eq(&a, &b), "one link shared by all bodies");
        let c = slot.link(2 * MB, true);
        assert!(!Arc::ptr_eq(&a, &c), "a new rate makes a new link");
        let d = slot.link(2 * MB, false);
        assert!(!Arc::ptr_eq(&c, &d), "per-body links are never shared");
    }

    #[test]
    fn the_meter_adds_bytes_and_waits() {
        let m = Meter::default();
        m.add(10, Duration::from_millis(3));
        m.add(5, Duration::ZERO);
        assert_eq!(
            m.stats(),
            LinkStats {
                bytes: 15,
                waited: Duration::from_millis(3)
            }
        );
    }
}
