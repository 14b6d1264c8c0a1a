//! Request pacing under a server's rate limit: slow down *before* the server answers 429.
//!
//! Confluence DC's rate limiting (an admin's token bucket per user) reports on every answer
//! how many requests the user has left (`X-RateLimit-Remaining`), how fast they come back
//! (`X-RateLimit-FillRate` tokens per `X-RateLimit-Interval-Seconds`) and the bucket size
//! (`X-RateLimit-Limit`); a refused request gets 429 with `Retry-After`.
//!
//! [`Gauge`] is the pure arithmetic (no clock of its own, no locking): a mirror of the server's
//! bucket, set from each answer's headers and drawn down by one token per request we send.
//! While the mirror holds more than [`RESERVE`] tokens a request goes at once; below that,
//! requests are spaced at the fill rate (the caller sleeps the returned wait), so a long sync
//! uses the bucket as fast as it refills instead of emptying it and collecting 429s. A
//! `Retry-After` on a 429 (or 503) holds every request of the client until it has passed,
//! not only the one that got it.
//!
//! Invariants:
//! - with no rate-limit headers seen (the feature is off on most servers) nothing ever waits;
//! - the mirror never holds more than the server said remained (the lower of our own estimate,
//!   which counts requests still in flight, and the server's figure wins), nor more than the
//!   bucket size;
//! - a fill rate of 0 (an admin's "block all") or an absurd `Retry-After` is not paced here:
//!   the retry policy turns it into [`tunnel_core::remote::RemoteError::RateLimited`];
//! - waits are capped at [`MAX_PACE_WAIT`] (a wrong header never stalls a sync for long).
//!
//! Time is `tokio::time::Instant`, so tests can drive it with tokio's paused clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// Tokens kept in reserve: pacing starts when the mirror would fall below this, so requests
/// we cannot see (another device of the same user, a request still in flight) find a token.
pub(crate) const RESERVE: f64 = 2.0;

/// Longest single wait the pacer imposes.
pub(crate) const MAX_PACE_WAIT: Duration = Duration::from_secs(120);

/// What one answer said about the rate limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RateReport {
    /// `X-RateLimit-Remaining`.
    pub remaining: u64,
    /// Tokens per second (`X-RateLimit-FillRate` / `X-RateLimit-Interval-Seconds`).
    pub per_sec: f64,
    /// `X-RateLimit-Limit` (bucket size), when given.
    pub limit: Option<u64>,
}

/// Read the DC rate-limit headers; `None` when the answer carries none (or a fill rate of 0).
pub(crate) fn read_report(headers: &HeaderMap) -> Option<RateReport> {
    let num = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let remaining = num("x-ratelimit-remaining")?;
    let fill = num("x-ratelimit-fillrate")?;
    let interval = num("x-ratelimit-interval-seconds").unwrap_or(1).max(1);
    if fill == 0 {
        return None;
    }
    Some(RateReport {
        remaining,
        per_sec: fill as f64 / interval as f64,
        limit: num("x-ratelimit-limit").filter(|&l| l > 0),
    })
}

/// The mirror of the server's bucket.
#[derive(Debug, Clone)]
pub(crate) struct Gauge {
    /// Learned from the server; `None` until a report arrived.
    known: Option<Known>,
    /// No request goes before this (a `Retry-After`).
    hold_until: Option<Instant>,
}

#[derive(Debug, Clone)]
struct Known {
    per_sec: f64,
    cap: f64,
    /// Tokens at `last` (negative: requests reserved ahead of the refill).
    tokens: f64,
    last: Instant,
}

impl Known {
    fn refill(&mut self, now: Instant) {
        if now > self.last {
            let dt = now.duration_since(self.last).as_secs_f64();
            self.tokens = (self.tokens + dt * self.per_sec).min(self.cap);
            self.last = now;
        }
    }
}

impl Gauge {
    /// A gauge that knows nothing yet (never waits).
    pub(crate) fn new() -> Self {
        Gauge {
            known: None,
            hold_until: None,
        }
    }

    /// Take a token for a request about to be sent at `now`; returns how long to wait first.
    pub(crate) fn reserve(&mut self, now: Instant) -> Duration {
        let held = self
            .hold_until
            .filter(|&t| t > now)
            .map_or(Duration::ZERO, |t| t.duration_since(now));
        let Some(k) = self.known.as_mut() else {
            return held.min(MAX_PACE_WAIT);
        };
        k.refill(now);
        k.tokens -= 1.0;
        let paced = if k.tokens >= RESERVE {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(((RESERVE - k.tokens) / k.per_sec).min(1e6))
        };
        held.max(paced).min(MAX_PACE_WAIT)
    }

    /// Learn from an answer received at `now`: its rate report, and `retry_after` when the
    /// answer was a refusal (429/503) that named one.
    pub(crate) fn observe(
        &mut self,
        report: Option<RateReport>,
        retry_after: Option<Duration>,
        now: Instant,
    ) {
        if let Some(r) = report {
            let cap = r.limit.map_or(f64::MAX, |l| l as f64);
            let seen = r.remaining as f64;
            match self.known.as_mut() {
                Some(k) => {
                    k.refill(now);
                    k.per_sec = r.per_sec;
                    k.cap = cap;
                    // Our estimate counts requests in flight the server has not seen yet.
                    k.tokens = k.tokens.min(seen);
                }
                None => {
                    self.known = Some(Known {
                        per_sec: r.per_sec,
                        cap,
                        tokens: seen,
                        last: now,
                    })
                }
            }
        }
        if let Some(wait) = retry_after.filter(|w| !w.is_zero() && *w <= MAX_PACE_WAIT) {
            let until = now + wait;
            if self.hold_until.is_none_or(|t| t < until) {
                self.hold_until = Some(until);
            }
            if let Some(k) = self.known.as_mut() {
                k.tokens = k.tokens.min(0.0);
            }
        }
    }

    /// Whether requests are being spaced out now (the bucket is nearly empty, or a
    /// `Retry-After` holds them).
    pub(crate) fn is_pacing(&self, now: Instant) -> bool {
        self.hold_until.is_some_and(|t| t > now)
            || self.known.as_ref().is_some_and(|k| {
                let mut k = k.clone();
                k.refill(now);
                k.tokens < RESERVE
            })
    }
}

/// Counters of the pacer, for tests and status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PaceStats {
    /// Requests that were made to wait.
    pub delayed_requests: u64,
    /// Total time they waited, milliseconds.
    pub waited_ms: u64,
}

/// A [`Gauge`] behind a mutex (never held across an `.await`), shared by a client's clones.
#[derive(Debug)]
pub(crate) struct Pacer {
    gauge: Mutex<Gauge>,
    enabled: bool,
    delayed: AtomicU64,
    waited_ms: AtomicU64,
    warned: std::sync::atomic::AtomicBool,
}

impl Pacer {
    pub(crate) fn new(enabled: bool) -> Self {
        Pacer {
            gauge: Mutex::new(Gauge::new()),
            enabled,
            delayed: AtomicU64::new(0),
            waited_ms: AtomicU64::new(0),
            warned: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Wait, if the server's bucket asks for it, before sending a request.
    pub(crate) async fn before_send(&self) {
        if !self.enabled {
            return;
        }
        let wait = match self.gauge.lock() {
            Ok(mut g) => g.reserve(Instant::now()),
            Err(_) => Duration::ZERO,
        };
        if wait.is_zero() {
            return;
        }
        self.delayed.fetch_add(1, Ordering::Relaxed);
        self.waited_ms.fetch_add(
            u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::info!(
                wait_ms = wait.as_millis() as u64,
                "the server's rate limit is nearly used up: slowing down to its refill rate"
            );
        } else {
            tracing::debug!(wait_ms = wait.as_millis() as u64, "rate limit: pacing");
        }
        tokio::time::sleep(wait).await;
    }

    /// Learn from an answer's headers.
    pub(crate) fn after_answer(&self, status: u16, headers: &HeaderMap) {
        if !self.enabled {
            return;
        }
        let report = read_report(headers);
        let retry_after = if matches!(status, 429 | 503) {
            headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| crate::retry::parse_retry_after(v, std::time::SystemTime::now()))
        } else {
            None
        };
        if report.is_none() && retry_after.is_none() {
            return;
        }
        if let Ok(mut g) = self.gauge.lock() {
            g.observe(report, retry_after, Instant::now());
        }
    }

    /// Whether requests are being slowed down now.
    pub(crate) fn is_pacing(&self) -> bool {
        self.gauge
            .lock()
            .map(|g| g.is_pacing(Instant::now()))
            .unwrap_or(false)
    }

    pub(crate) fn stats(&self) -> PaceStats {
        PaceStats {
            delayed_requests: self.delayed.load(Ordering::Relaxed),
            waited_ms: self.waited_ms.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    fn report(remaining: u64, per_sec: f64) -> Option<RateReport> {
        Some(RateReport {
            remaining,
            per_sec,
            limit: Some(10),
        })
    }

    #[test]
    fn reads_dc_headers_and_ignores_their_absence_and_block_all() {
        let h = headers(&[
            ("x-ratelimit-limit", "20"),
            ("x-ratelimit-remaining", "7"),
            ("x-ratelimit-interval-seconds", "2"),
            ("x-ratelimit-fillrate", "10"),
            ("retry-after", "0"),
        ]);
        assert_eq!(
            read_report(&h),
            Some(RateReport {
                remaining: 7,
                per_sec: 5.0,
                limit: Some(20)
            })
        );
        assert_eq!(read_report(&HeaderMap::new()), None, "no limit configured");
        let blocked = headers(&[
            ("x-ratelimit-limit", "0"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-fillrate", "0"),
        ]);
        assert_eq!(
            read_report(&blocked),
            None,
            "block-all is the retry policy's business"
        );
    }

    #[test]
    fn a_gauge_without_reports_never_waits() {
        let mut g = Gauge::new();
        let t = Instant::now();
        for _ in 0..1000 {
            assert_eq!(g.reserve(t), Duration::ZERO);
        }
    }

    #[test]
    fn plenty_remaining_goes_at_once_and_low_remaining_paces_to_the_fill_rate() {
        let t = Instant::now();
        let mut g = Gauge::new();
        g.observe(report(10, 2.0), None, t);
        // 10 tokens: 10 - RESERVE = 8 requests go at once.
        for i in 0..8 {
            assert_eq!(g.reserve(t), Duration::ZERO, "request {i} had tokens");
        }
        assert!(
            !g.is_pacing(t),
            "two tokens left: the reserve, not yet pacing"
        );
        // The next ones are spaced at 1 / (2 per s) = 0.5 s each.
        let w1 = g.reserve(t);
        let w2 = g.reserve(t);
        assert!(
            (w1.as_secs_f64() - 0.5).abs() < 1e-6,
            "the 9th waits for one refill: {w1:?}"
        );
        assert!(
            (w2.as_secs_f64() - 1.0).abs() < 1e-6,
            "the 10th one more (0.5 s apart): {w2:?}"
        );
        assert!(g.is_pacing(t));
        // After the refill the bucket is full again (capped at its size).
        let later = t + Duration::from_secs(60);
        assert_eq!(g.reserve(later), Duration::ZERO);
        assert!(!g.is_pacing(later));
    }

    #[test]
    fn the_lower_of_our_estimate_and_the_servers_figure_wins() {
        let t = Instant::now();
        let mut g = Gauge::new();
        g.observe(report(10, 1.0), None, t);
        // Another device used the bucket: the server says 1 left.
        g.observe(report(1, 1.0), None, t);
        assert!(g.reserve(t) > Duration::ZERO, "1 left is below the reserve");
        // A stale, higher figure does not undo requests we know we sent.
        let mut g = Gauge::new();
        g.observe(report(3, 1.0), None, t);
        for _ in 0..3 {
            g.reserve(t);
        }
        g.observe(report(3, 1.0), None, t);
        assert!(g.reserve(t) >= Duration::from_secs(2));
    }

    #[test]
    fn retry_after_holds_every_request_and_absurd_values_are_left_to_the_retry_policy() {
        let t = Instant::now();
        let mut g = Gauge::new();
        g.observe(None, Some(Duration::from_secs(3)), t);
        assert_eq!(g.reserve(t), Duration::from_secs(3));
        assert_eq!(
            g.reserve(t + Duration::from_secs(1)),
            Duration::from_secs(2)
        );
        assert_eq!(g.reserve(t + Duration::from_secs(4)), Duration::ZERO);
        let mut g = Gauge::new();
        g.observe(
            None,
            Some(Duration::from_secs(9_223_372_036_854_775_807)),
            t,
        );
        assert_eq!(g.reserve(t), Duration::ZERO, "blocked: not our wait");
    }

    #[test]
    fn waits_are_capped() {
        let t = Instant::now();
        let mut g = Gauge::new();
        g.observe(
            Some(RateReport {
                remaining: 0,
                per_sec: 0.0001,
                limit: None,
            }),
            None,
            t,
        );
        assert_eq!(g.reserve(t), MAX_PACE_WAIT);
    }
}
