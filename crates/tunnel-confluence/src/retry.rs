//! The retry discipline: which failures are transient, how long to wait between attempts, and
//! how `Retry-After` is read.
//!
//! Rules (STYLE.md §2.5, confluence-api.md §10):
//! - retried: connection errors and timeouts, 408, 429, every 5xx, and 409 whose message names
//!   an optimistic-lock collision (`OptimisticLockException`, `Editor might be busy`, …);
//! - everything else 4xx is permanent, and authentication failures are never retried (a wrong
//!   password retried locks the account behind a CAPTCHA);
//! - the wait is exponential backoff with full jitter (`uniform(0, min(max_delay, base·2ⁿ))`),
//!   except that 429/503 honour `Retry-After` (seconds or an HTTP date) when it is at most
//!   `max_retry_after`; a longer `Retry-After` (e.g. `9223372036854775807`: blocked by an
//!   admin) ends the call at once with [`RemoteError::RateLimited`];
//! - at most `max_attempts` attempts in total; every retry logs one `warn!`.

use std::fmt;
use std::time::{Duration, SystemTime};

use rand::Rng as _;
use tracing::warn;
use tunnel_core::remote::RemoteError;

/// How many times and how patiently transient failures are retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (`0` is treated as `1`).
    pub max_attempts: u32,
    /// Backoff before the first retry (upper bound of the jittered wait).
    pub base_delay: Duration,
    /// Upper bound of any backoff wait.
    pub max_delay: Duration,
    /// Longest `Retry-After` we are willing to sleep; a longer one fails the call at once.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Five attempts, 0.5 s doubling up to 30 s, `Retry-After` honoured up to 10 minutes.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(600),
        }
    }
}

impl RetryPolicy {
    /// Upper bound of the wait before retry number `retry` (0-based): `min(max_delay,
    /// base_delay · 2^retry)`.
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// A jittered wait in `0..=backoff_ceiling(retry)` ("full jitter").
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.backoff_ceiling(retry);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::thread_rng().gen_range(0..=millis))
    }

    fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }
}

/// Whether an HTTP status (with the server's message) is worth another attempt.
pub fn is_retryable_status(status: u16, message: &str) -> bool {
    match status {
        408 | 429 => true,
        409 => is_lock_collision(message),
        500..=599 => true,
        _ => false,
    }
}

/// A 409 caused by concurrent database writes rather than by a stale version number.
pub fn is_lock_collision(message: &str) -> bool {
    const MARKERS: [&str; 5] = [
        "optimisticlockexception",
        "editor might be busy",
        "transaction rolled back",
        "unexpectedrollbackexception",
        "unreconciled",
    ];
    let lower = message.to_ascii_lowercase();
    MARKERS.iter().any(|m| lower.contains(m))
}

/// Parse a `Retry-After` value: delta-seconds (any size; `9223372036854775807` included) or
/// an HTTP date (a date in the past means "now"). `None` when unreadable.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than u64 holds still means "for ever".
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Why an attempt failed in a way that may pass on the next one.
#[derive(Debug)]
pub(crate) enum Transient {
    /// The request did not get an answer (connect error, reset, timeout, truncated body).
    Transport {
        /// The URL without query, for the final message.
        url: String,
        /// A readable description of the failure.
        detail: String,
        /// It was a timeout.
        timeout: bool,
    },
    /// The server answered with a retryable status.
    Status {
        /// HTTP status.
        status: u16,
        /// The server's message, trimmed (never a whole HTML page).
        message: String,
        /// The `Retry-After` wait, when the status is 429/503 and the header was readable.
        retry_after: Option<Duration>,
    },
}

impl fmt::Display for Transient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transient::Transport { url, detail, .. } => write!(f, "{url}: {detail}"),
            Transient::Status {
                status, message, ..
            } => write!(f, "HTTP {status}: {message}"),
        }
    }
}

impl Transient {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            Transient::Status { retry_after, .. } => *retry_after,
            Transient::Transport { .. } => None,
        }
    }

    /// The error reported when no attempt is left.
    pub(crate) fn into_final_error(self, attempts: u32) -> RemoteError {
        match self {
            Transient::Transport {
                url,
                detail,
                timeout,
            } => {
                let what = if timeout { "timed out" } else { "failed" };
                RemoteError::Unreachable(format!(
                    "{url} {what} after {attempts} attempt(s): {detail}"
                ))
            }
            Transient::Status {
                status: 429,
                message,
                retry_after,
            } => RemoteError::RateLimited {
                retry_after_secs: retry_after.map(|d| d.as_secs()),
                message: format!(
                    "the server still refused after {attempts} attempt(s) (HTTP 429{})",
                    if message.is_empty() {
                        String::new()
                    } else {
                        format!(": {message}")
                    }
                ),
            },
            Transient::Status {
                status, message, ..
            } => RemoteError::Server {
                status,
                message: format!("{message} (gave up after {attempts} attempt(s))"),
            },
        }
    }

    /// The error for a `Retry-After` longer than we are willing to wait.
    fn into_too_long(self, wait: Duration) -> RemoteError {
        let secs = wait.as_secs();
        let human = if secs >= 1_000_000_000 {
            "for an unlimited time: an administrator has probably blocked this user's REST \
             access"
                .to_owned()
        } else {
            format!("to wait {secs} s")
        };
        match self {
            Transient::Status { status: 503, .. } => RemoteError::Server {
                status: 503,
                message: format!("the server is unavailable and asks us {human}"),
            },
            other => RemoteError::RateLimited {
                retry_after_secs: Some(secs),
                message: format!("the server asks us {human} ({other})"),
            },
        }
    }
}

/// The retry state of one call: counts attempts and sleeps between them.
pub(crate) struct Retrier<'a> {
    policy: &'a RetryPolicy,
    op: &'static str,
    failures: u32,
}

impl<'a> Retrier<'a> {
    /// A fresh state for the operation named `op` (used in logs).
    pub(crate) fn new(policy: &'a RetryPolicy, op: &'static str) -> Self {
        Retrier {
            policy,
            op,
            failures: 0,
        }
    }

    /// Number of failed attempts so far.
    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }

    /// Record a transient failure. Sleeps before the next attempt and returns `Ok(())`, or
    /// returns the final error when no attempt is left or the server asks for a longer wait
    /// than the policy allows.
    pub(crate) async fn wait(&mut self, cause: Transient) -> Result<(), RemoteError> {
        if let Some(wait) = cause.retry_after() {
            if wait > self.policy.max_retry_after {
                return Err(cause.into_too_long(wait));
            }
        }
        self.failures += 1;
        if self.failures >= self.policy.attempts() {
            return Err(cause.into_final_error(self.failures));
        }
        let delay = match cause.retry_after() {
            Some(wait) if !wait.is_zero() => wait,
            _ => self.policy.backoff(self.failures - 1),
        };
        warn!(
            op = self.op,
            attempt = self.failures,
            of = self.policy.attempts(),
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            cause = %cause,
            "transient failure, retrying"
        );
        tokio::time::sleep(delay).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            max_retry_after: Duration::from_secs(60),
        }
    }

    #[test]
    fn classification_follows_the_documented_list() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(s, ""), "{s} is transient");
        }
        for s in [400, 401, 403, 404, 405, 410, 413, 415] {
            assert!(!is_retryable_status(s, ""), "{s} is permanent");
        }
        // A stale version is a real conflict, a lock collision is noise.
        assert!(!is_retryable_status(
            409,
            "You're trying to edit an outdated version of that ContentProperty. Latest version is 4"
        ));
        assert!(is_retryable_status(
            409,
            "javax.persistence.OptimisticLockException: Row was updated"
        ));
        assert!(is_retryable_status(
            409,
            "Editor might be busy. Unable to update"
        ));
    }

    #[test]
    fn retry_after_reads_seconds_dates_and_java_long_max() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("9223372036854775807", now),
            Some(Duration::from_secs(9_223_372_036_854_775_807))
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(120));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(120))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(120));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn backoff_doubles_up_to_the_ceiling_and_jitters_below_it() {
        let p = policy();
        assert_eq!(p.backoff_ceiling(0), Duration::from_millis(100));
        assert_eq!(p.backoff_ceiling(1), Duration::from_millis(200));
        assert_eq!(p.backoff_ceiling(2), Duration::from_millis(350));
        assert_eq!(p.backoff_ceiling(40), Duration::from_millis(350));
        for retry in 0..10 {
            assert!(p.backoff(retry) <= p.backoff_ceiling(retry));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retrier_gives_up_after_max_attempts_with_a_server_error() {
        let p = policy();
        let mut r = Retrier::new(&p, "test");
        let cause = || Transient::Status {
            status: 503,
            message: "down".into(),
            retry_after: None,
        };
        assert!(r.wait(cause()).await.is_ok());
        assert!(r.wait(cause()).await.is_ok());
        let err = r.wait(cause()).await.unwrap_err();
        assert!(
            matches!(err, RemoteError::Server { status: 503, .. }),
            "third failure of three attempts is final: {err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retrier_sleeps_retry_after_and_refuses_a_blocked_user() {
        let p = policy();
        let mut r = Retrier::new(&p, "test");
        let start = tokio::time::Instant::now();
        r.wait(Transient::Status {
            status: 429,
            message: String::new(),
            retry_after: Some(Duration::from_secs(7)),
        })
        .await
        .unwrap();
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(7),
            "paused clock advances by exactly the wait"
        );
        let err = r
            .wait(Transient::Status {
                status: 429,
                message: String::new(),
                retry_after: Some(Duration::from_secs(9_223_372_036_854_775_807)),
            })
            .await
            .unwrap_err();
        match err {
            RemoteError::RateLimited {
                retry_after_secs,
                message,
            } => {
                assert_eq!(retry_after_secs, Some(9_223_372_036_854_775_807));
                assert!(message.contains("administrator"), "{message}");
            }
            other => panic!("expected RateLimited, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transport_failures_end_as_unreachable_with_the_url() {
        let p = policy();
        let mut r = Retrier::new(&p, "test");
        let cause = || Transient::Transport {
            url: "https://wiki.example/rest/api/content/1".into(),
            detail: "connection refused".into(),
            timeout: false,
        };
        r.wait(cause()).await.unwrap();
        r.wait(cause()).await.unwrap();
        let err = r.wait(cause()).await.unwrap_err();
        assert!(matches!(&err, RemoteError::Unreachable(m) if m.contains("https://wiki.example")));
    }
}
