//! Fault injection and DC rate limiting.
//!
//! Two sources of faults: *scripted* one-shot rules (`ScriptedFault`, matched by method and a
//! path substring, consumed `times` times, checked first) and *seeded* random faults
//! (`FaultConfig`, a ChaCha RNG seeded by `seed`). The RNG draws the same number of values for
//! every request, so the decisions are deterministic given the same request order.
//! `max_faults` caps the number of seeded and scripted faults together. Every injected fault is
//! counted and logged at `warn` level.
//!
//! The rate limiter is Confluence DC's per-user token bucket (off unless configured).

use std::collections::HashMap;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Seeded random faults; shares are probabilities in `0.0..=1.0` per eligible request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultConfig {
    /// RNG seed.
    pub seed: u64,
    /// Share of requests answered with a 5xx (500/502/503/504) before they are processed.
    pub error_5xx_share: f64,
    /// Share of requests answered 429 before they are processed.
    pub rate_limit_share: f64,
    /// `Retry-After` seconds for seeded 429 and 503 answers (`None` = no header).
    pub retry_after_secs: Option<u64>,
    /// Latency added to every request.
    pub latency_ms: u64,
    /// Throttles response bodies to this many bytes per second.
    pub bandwidth_bytes_per_sec: Option<u64>,
    /// Throttles request bodies (uploads) to this many bytes per second.
    pub upload_bandwidth_bytes_per_sec: Option<u64>,
    /// The two bandwidth caps are one link shared by all connections (each direction its
    /// own), instead of a cap per request and per response.
    pub shared_bandwidth: bool,
    /// Share of requests whose connection is cut mid-body (the upload while it is read, or
    /// the response after half of it).
    pub reset_mid_body_share: f64,
    /// Share of downloads whose body is silently shortened (consistent `Content-Length`).
    pub truncate_download_share: f64,
    /// Share of successful writes whose answer is never sent (stored, then connection cut).
    pub drop_after_store_share: f64,
    /// Share of requests answered 404 by something in front of Confluence (an HTML page, an
    /// empty body or a gateway's JSON, drawn in turn) before they are processed.
    pub foreign_not_found_share: f64,
    /// At most this many faults in total (`None` = unlimited).
    pub max_faults: Option<u64>,
}

/// What an injected fault does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this status before processing (500 has a JSON body, others a proxy page).
    Status5xx(u16),
    /// Answer 503 from a proxy page with this `Retry-After` (seconds).
    Unavailable {
        /// Seconds in `Retry-After`.
        retry_after: u64,
    },
    /// Answer 409 with DC's retryable optimistic-lock message (a concurrent DB write).
    OptimisticLock,
    /// Answer 429 with DC rate-limit headers and this `Retry-After`.
    RateLimited {
        /// Seconds in `Retry-After`.
        retry_after: u64,
    },
    /// Cut the connection in the middle of the request body (uploads) or response body.
    ResetMidBody,
    /// Send only half of the response body, with a matching `Content-Length`.
    TruncateBody,
    /// Process (store) the request, then close the connection without an answer.
    DropAfterStore,
    /// Answer 200 `text/html` with an SSO-style login page.
    HtmlLoginPage,
    /// Answer 302 to a login page on another host.
    RedirectToSso,
    /// Delay the request by this many milliseconds, then process it normally.
    Latency(u64),
    /// Answer 404 the way something in front of Confluence does (a proxy, a servlet container
    /// after a context path change), not with Confluence's JSON error.
    ForeignNotFound(ForeignBody),
}

/// The body of a [`FaultKind::ForeignNotFound`] answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForeignBody {
    /// An nginx-style HTML error page.
    Html,
    /// No body at all.
    Empty,
    /// JSON of another shape (an API gateway's `{"status":404,"error":"Not Found"}`).
    Json,
}

/// A deterministic fault for the next matching request(s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptedFault {
    /// HTTP method to match (case-insensitive); `None` matches any.
    pub method: Option<String>,
    /// Substring the request path (without query) must contain; `""` matches any.
    pub path_contains: String,
    /// The fault.
    pub kind: FaultKind,
    /// How many matching requests it applies to.
    pub times: u32,
}

impl ScriptedFault {
    /// A fault for the next `times` requests whose path contains `path_contains`.
    pub fn new(method: Option<&str>, path_contains: &str, kind: FaultKind, times: u32) -> Self {
        ScriptedFault {
            method: method.map(str::to_string),
            path_contains: path_contains.to_string(),
            kind,
            times,
        }
    }
}

/// What the request handler must do for one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// Answer with this instead of processing.
    pub replace: Option<FaultKind>,
    /// Sleep this long first.
    pub latency_ms: u64,
    /// Cut the connection mid-body.
    pub reset_mid_body: bool,
    /// Truncate the response body.
    pub truncate_body: bool,
    /// Process, then drop the connection.
    pub drop_after_store: bool,
    /// Response throttle.
    pub bandwidth: Option<u64>,
    /// Request body throttle.
    pub upload_bandwidth: Option<u64>,
    /// The throttles are links shared by all connections.
    pub shared_bandwidth: bool,
    /// `Retry-After` for a replacing 503 (seeded faults only).
    pub retry_after: Option<u64>,
}

/// Facts about a request that decide which faults may apply.
#[derive(Debug, Clone, Copy)]
pub struct RequestClass<'a> {
    /// Method.
    pub method: &'a str,
    /// Path without query.
    pub path: &'a str,
    /// A download servlet request.
    pub is_download: bool,
    /// A state-changing method (POST/PUT/DELETE).
    pub is_write: bool,
}

/// Fault state: configuration, RNG, scripted rules, counter.
#[derive(Debug)]
pub struct Faults {
    config: FaultConfig,
    rng: ChaCha8Rng,
    scripted: Vec<ScriptedFault>,
    injected: u64,
}

impl Faults {
    /// New state from a configuration.
    pub fn new(config: FaultConfig) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(config.seed);
        Faults {
            config,
            rng,
            scripted: Vec::new(),
            injected: 0,
        }
    }

    /// Replaces the seeded configuration (re-seeds the RNG; keeps scripted rules and counter).
    pub fn set_config(&mut self, config: FaultConfig) {
        self.rng = ChaCha8Rng::seed_from_u64(config.seed);
        self.config = config;
    }

    /// Queues a scripted fault.
    pub fn push_scripted(&mut self, rule: ScriptedFault) {
        if rule.times > 0 {
            self.scripted.push(rule);
        }
    }

    /// Number of faults injected so far.
    pub fn injected(&self) -> u64 {
        self.injected
    }

    fn budget_left(&self) -> bool {
        self.config.max_faults.is_none_or(|m| self.injected < m)
    }

    /// Decides the faults of one request (call once per request, in arrival order).
    pub fn plan(&mut self, req: RequestClass<'_>) -> FaultPlan {
        let mut plan = FaultPlan {
            latency_ms: self.config.latency_ms,
            bandwidth: self.config.bandwidth_bytes_per_sec.filter(|b| *b > 0),
            upload_bandwidth: self
                .config
                .upload_bandwidth_bytes_per_sec
                .filter(|b| *b > 0),
            shared_bandwidth: self.config.shared_bandwidth,
            ..FaultPlan::default()
        };
        // Always draw the same number of values so the sequence only depends on request order.
        let draws: [f64; 7] = std::array::from_fn(|_| self.rng.gen::<f64>());
        let budget_left = self.budget_left();
        if budget_left {
            if let Some(pos) = self.scripted.iter().position(|r| {
                r.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(req.method))
                    && req.path.contains(&r.path_contains)
            }) {
                let rule = &mut self.scripted[pos];
                rule.times -= 1;
                let kind = rule.kind.clone();
                if rule.times == 0 {
                    self.scripted.remove(pos);
                }
                self.record(&kind, req, "scripted");
                apply(&mut plan, kind);
                return plan;
            }
        }
        if !budget_left {
            return plan;
        }
        let c = &self.config;
        let kind = if draws[0] < c.error_5xx_share {
            const CODES: [u16; 4] = [500, 502, 503, 504];
            let idx = ((draws[5] * CODES.len() as f64) as usize).min(CODES.len() - 1);
            Some(FaultKind::Status5xx(CODES[idx]))
        } else if draws[1] < c.rate_limit_share {
            Some(FaultKind::RateLimited {
                retry_after: c.retry_after_secs.unwrap_or(1),
            })
        } else if draws[2] < c.reset_mid_body_share {
            Some(FaultKind::ResetMidBody)
        } else if req.is_download && draws[3] < c.truncate_download_share {
            Some(FaultKind::TruncateBody)
        } else if req.is_write && draws[4] < c.drop_after_store_share {
            Some(FaultKind::DropAfterStore)
        } else if draws[6] < c.foreign_not_found_share {
            const BODIES: [ForeignBody; 3] =
                [ForeignBody::Html, ForeignBody::Empty, ForeignBody::Json];
            let idx = ((draws[5] * BODIES.len() as f64) as usize).min(BODIES.len() - 1);
            Some(FaultKind::ForeignNotFound(BODIES[idx]))
        } else {
            None
        };
        if let Some(kind) = kind {
            if kind == FaultKind::Status5xx(503) {
                plan.retry_after = c.retry_after_secs;
            }
            self.record(&kind, req, "seeded");
            apply(&mut plan, kind);
        }
        plan
    }

    fn record(&mut self, kind: &FaultKind, req: RequestClass<'_>, source: &str) {
        self.injected += 1;
        tracing::warn!(
            fault = ?kind,
            source,
            method = req.method,
            path = req.path,
            total = self.injected,
            "injecting fault"
        );
    }
}

fn apply(plan: &mut FaultPlan, kind: FaultKind) {
    match kind {
        FaultKind::Latency(ms) => plan.latency_ms += ms,
        FaultKind::ResetMidBody => plan.reset_mid_body = true,
        FaultKind::TruncateBody => plan.truncate_body = true,
        FaultKind::DropAfterStore => plan.drop_after_store = true,
        other @ (FaultKind::Status5xx(_)
        | FaultKind::Unavailable { .. }
        | FaultKind::OptimisticLock
        | FaultKind::RateLimited { .. }
        | FaultKind::HtmlLoginPage
        | FaultKind::RedirectToSso
        | FaultKind::ForeignNotFound(_)) => plan.replace = Some(other),
    }
}

/// Confluence DC rate limiting settings (a per-user token bucket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Tokens added per interval (`X-RateLimit-FillRate`).
    pub fill_rate: u64,
    /// Interval in seconds (`X-RateLimit-Interval-Seconds`).
    pub interval_secs: u64,
    /// Bucket size (`X-RateLimit-Limit`).
    pub max_requests: u64,
    /// "Block all": every request gets 429 with `Retry-After: 9223372036854775807`.
    pub blocked: bool,
}

impl RateLimit {
    /// `n` requests per second, burst `n`.
    pub fn per_second(n: u64) -> Self {
        RateLimit {
            fill_rate: n,
            interval_secs: 1,
            max_requests: n,
            blocked: false,
        }
    }

    /// The admin's "block all" mode.
    pub fn blocked() -> Self {
        RateLimit {
            fill_rate: 0,
            interval_secs: 1,
            max_requests: 0,
            blocked: true,
        }
    }
}

/// Headers of a rate-limited (or rate-accounted) answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateHeaders {
    /// `X-RateLimit-Limit`.
    pub limit: u64,
    /// `X-RateLimit-Remaining`.
    pub remaining: u64,
    /// `X-RateLimit-Interval-Seconds`.
    pub interval_secs: u64,
    /// `X-RateLimit-FillRate`.
    pub fill_rate: u64,
    /// `Retry-After` (0 when tokens remain).
    pub retry_after: u64,
}

impl RateHeaders {
    /// As header pairs.
    pub fn pairs(&self) -> [(&'static str, String); 5] {
        [
            ("x-ratelimit-limit", self.limit.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
            (
                "x-ratelimit-interval-seconds",
                self.interval_secs.to_string(),
            ),
            ("x-ratelimit-fillrate", self.fill_rate.to_string()),
            ("retry-after", self.retry_after.to_string()),
        ]
    }
}

/// Per-user token buckets.
#[derive(Debug)]
pub struct RateLimiter {
    cfg: RateLimit,
    buckets: HashMap<String, (f64, Instant)>,
}

impl RateLimiter {
    /// New limiter.
    pub fn new(cfg: RateLimit) -> Self {
        RateLimiter {
            cfg,
            buckets: HashMap::new(),
        }
    }

    /// Takes a token for `user`: `Ok` with headers to add, `Err` with the 429 headers.
    pub fn take(&mut self, user: &str, now: Instant) -> Result<RateHeaders, RateHeaders> {
        let c = self.cfg;
        if c.blocked {
            return Err(RateHeaders {
                limit: 0,
                remaining: 0,
                interval_secs: c.interval_secs,
                fill_rate: 0,
                retry_after: i64::MAX as u64,
            });
        }
        let per_sec = c.fill_rate as f64 / c.interval_secs.max(1) as f64;
        let (tokens, last) = self
            .buckets
            .entry(user.to_string())
            .or_insert((c.max_requests as f64, now));
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * per_sec).min(c.max_requests as f64);
        *last = now;
        let mut h = RateHeaders {
            limit: c.max_requests,
            remaining: 0,
            interval_secs: c.interval_secs,
            fill_rate: c.fill_rate,
            retry_after: 0,
        };
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            h.remaining = tokens.floor() as u64;
            Ok(h)
        } else {
            h.retry_after = if per_sec > 0.0 {
                ((1.0 - *tokens) / per_sec).ceil().max(1.0) as u64
            } else {
                i64::MAX as u64
            };
            Err(h)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(method: &str, path: &str) -> RequestClass<'static> {
        let method: &'static str = Box::leak(method.to_string().into_boxed_str());
        let path: &'static str = Box::leak(path.to_string().into_boxed_str());
        RequestClass {
            method,
            path,
            is_download: false,
            is_write: method != "GET",
        }
    }

    #[test]
    fn seeded_faults_are_deterministic_and_capped() {
        let cfg = FaultConfig {
            seed: 7,
            error_5xx_share: 0.3,
            rate_limit_share: 0.2,
            max_faults: Some(5),
            ..FaultConfig::default()
        };
        let run = || {
            let mut f = Faults::new(cfg.clone());
            (0..100)
                .map(|_| f.plan(class("GET", "/x")).replace)
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run(), "same seed and order give the same faults");
        assert_eq!(
            a.iter().filter(|p| p.is_some()).count(),
            5,
            "max_faults caps"
        );
    }

    #[test]
    fn scripted_faults_match_and_expire() {
        let mut f = Faults::new(FaultConfig::default());
        f.push_scripted(ScriptedFault::new(
            Some("post"),
            "/child/attachment",
            FaultKind::Status5xx(503),
            2,
        ));
        assert_eq!(
            f.plan(class("GET", "/rest/api/content/1/child/attachment"))
                .replace,
            None
        );
        for _ in 0..2 {
            assert_eq!(
                f.plan(class("POST", "/rest/api/content/1/child/attachment"))
                    .replace,
                Some(FaultKind::Status5xx(503))
            );
        }
        assert_eq!(
            f.plan(class("POST", "/rest/api/content/1/child/attachment"))
                .replace,
            None
        );
        assert_eq!(f.injected(), 2);
    }

    #[test]
    fn token_bucket_refuses_then_refills() {
        let mut rl = RateLimiter::new(RateLimit::per_second(2));
        let t0 = Instant::now();
        assert_eq!(rl.take("a", t0).map(|h| h.remaining), Ok(1));
        assert!(rl.take("a", t0).is_ok());
        let refused = rl.take("a", t0).unwrap_err();
        assert_eq!((refused.remaining, refused.retry_after), (0, 1));
        assert!(rl.take("b", t0).is_ok(), "buckets are per user");
        assert!(rl.take("a", t0 + std::time::Duration::from_secs(1)).is_ok());
        let blocked = RateLimiter::new(RateLimit::blocked())
            .take("a", t0)
            .unwrap_err();
        assert_eq!(blocked.retry_after, 9_223_372_036_854_775_807);
    }
}
