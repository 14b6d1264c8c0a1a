//! [`ConfluenceClient`]: one configured HTTP client for one Confluence server, and the request
//! machinery every call goes through (one attempt, answer classification, retries).
//!
//! Invariants:
//! - every request carries our own `User-Agent` (`sber-tunnel/<version>`, never a browser's),
//!   `Accept: application/json` (downloads: `*/*`) and the `Authorization` header, which is
//!   marked sensitive and never logged;
//! - redirects are never followed: a 3xx (typically an SSO login page) becomes a
//!   [`RemoteError::Protocol`], so a login page is never mistaken for content;
//! - transient failures are retried per [`RetryPolicy`]; everything else is mapped once to a
//!   [`RemoteError`] with a message for a person;
//! - [`ConfluenceClient::request_count`] counts every request put on the wire;
//! - attachment bodies (uploads and downloads) pass through one bandwidth limiter per
//!   direction, shared by all clones of the client and so by every folder and parallel
//!   transfer using it ([`ConfluenceClient::set_bandwidth_limits`]).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::RequestBuilder;
use tracing::{instrument, warn};
use tunnel_core::remote::RemoteError;
use url::Url;

use crate::api::{CurrentUser, Endpoints};
use crate::auth::{load_ca_file, Auth, ClientIdentity};
use crate::error::{
    chain_text, describe_tls_failure, map_status, map_transport, shorten, Ctx, TransportFailure,
};
use crate::exchange::{
    read_answer, read_limited, BodyError, Prepared, Reply, Step, Success, MAX_JSON_BODY,
};
use crate::pace::{PaceStats, Pacer};
use crate::retry::{Retrier, RetryPolicy, Transient};
use crate::throttle::{Throttle, ThrottleStats};
use crate::tls::TlsDiagnosis;
use crate::upload::{Progress, SourceCheck};

/// Our `User-Agent`. A browser-like one makes DC 7.19 refuse multipart POSTs (XSRF).
pub const USER_AGENT: &str = concat!("sber-tunnel/", env!("CARGO_PKG_VERSION"));

/// How to reach and authenticate to one Confluence server.
#[derive(Clone, Debug)]
pub struct ConnectionSettings {
    /// `https://host[/context]`; a trailing slash is tolerated.
    pub base_url: String,
    /// Basic (user + password, or e-mail + API token) or Bearer (personal access token).
    pub auth: Auth,
    /// Client certificate for mutual TLS (PKCS#12 read in memory, never written as PEM).
    pub client_identity: Option<ClientIdentity>,
    /// Extra trusted root certificate(s), PEM; added to the system roots.
    pub ca_file: Option<PathBuf>,
    /// Skip all server certificate checks. Off unless the user insists; logged loudly.
    pub accept_invalid_certs: bool,
    /// Retry discipline for transient failures.
    pub retry: RetryPolicy,
    /// Connect timeout, read timeout of answers (until the headers, then per chunk of body)
    /// and stall timeout of uploads (time without sending a chunk). Never a total: big bodies
    /// may take as long as they need while they progress.
    pub timeout: Duration,
    /// Slow down on the server's rate-limit headers (`X-RateLimit-Remaining` running low,
    /// `Retry-After`) before it refuses requests with 429 (see `pace`). On by default; off
    /// only to compare in tests.
    pub pace_rate_limits: bool,
}

impl ConnectionSettings {
    /// Settings with defaults: no client certificate, system roots only, certificate checks
    /// on, default retries, 60 s timeouts.
    pub fn new(base_url: impl Into<String>, auth: Auth) -> Self {
        ConnectionSettings {
            base_url: base_url.into(),
            auth,
            client_identity: None,
            ca_file: None,
            accept_invalid_certs: false,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(60),
            pace_rate_limits: true,
        }
    }
}

/// Bandwidth caps of one client, bytes per second; 0 = unlimited.
///
/// They apply to attachment bodies only (the file bytes of uploads, the bytes of downloads,
/// retried bytes included), not to the small JSON requests around them, and are shared by
/// every transfer of the client and its clones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BandwidthLimits {
    /// Upload cap, bytes per second (0 = unlimited).
    pub upload_bytes_per_sec: u64,
    /// Download cap, bytes per second (0 = unlimited).
    pub download_bytes_per_sec: u64,
}

impl BandwidthLimits {
    /// No limit in either direction.
    pub const UNLIMITED: BandwidthLimits = BandwidthLimits {
        upload_bytes_per_sec: 0,
        download_bytes_per_sec: 0,
    };

    /// Limits given in KiB/s (as in the configuration file), 0 = unlimited.
    pub fn from_kib_per_sec(upload: u64, download: u64) -> Self {
        BandwidthLimits {
            upload_bytes_per_sec: upload.saturating_mul(1024),
            download_bytes_per_sec: download.saturating_mul(1024),
        }
    }
}

impl From<&tunnel_core::config::SyncSettings> for BandwidthLimits {
    /// `sync.upload-limit-kib-per-sec` and `sync.download-limit-kib-per-sec`.
    fn from(sync: &tunnel_core::config::SyncSettings) -> Self {
        BandwidthLimits::from_kib_per_sec(
            sync.upload_limit_kib_per_sec,
            sync.download_limit_kib_per_sec,
        )
    }
}

/// A client for one Confluence server. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct ConfluenceClient {
    inner: Arc<Inner>,
}

struct Inner {
    /// For JSON calls (everything but attachment bodies): connect and read timeouts.
    http: reqwest::Client,
    /// For uploads and downloads: connect timeout only; upload stalls are detected through
    /// [`Progress`], download stalls by timing each body read.
    stream_http: reqwest::Client,
    /// The stall timeout of uploads, the read timeout of downloads.
    timeout: Duration,
    /// Direct TLS diagnosis for resets before any answer (https only).
    diagnosis: Option<TlsDiagnosis>,
    /// Some request got an answer (so the TLS identity is accepted).
    connected: AtomicBool,
    endpoints: Endpoints,
    retry: RetryPolicy,
    bearer: bool,
    requests: AtomicU64,
    /// `_links.base` learned from the server (same origin as the configured base).
    links_base: RwLock<Option<String>>,
    /// A foreign `_links.base` was already reported.
    foreign_base_warned: AtomicBool,
    /// Attachment size limit learned from a too-large answer (0 = unknown).
    learned_limit: AtomicU64,
    /// Upload bandwidth limiter (file bytes of uploads).
    upload_throttle: Arc<Throttle>,
    /// Download bandwidth limiter (attachment bytes received).
    download_throttle: Arc<Throttle>,
    /// Request pacing on the server's rate-limit headers.
    pacer: Pacer,
}

impl std::fmt::Debug for ConfluenceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfluenceClient")
            .field("base", &self.inner.endpoints.base())
            .finish_non_exhaustive()
    }
}

impl ConfluenceClient {
    /// Build the client. A bad client certificate (unreadable, wrong password, expired) or CA
    /// file gives [`RemoteError::Certificate`] with a clear message; no request is sent.
    pub fn new(settings: ConnectionSettings) -> Result<Self, RemoteError> {
        let endpoints = Endpoints::new(&settings.base_url)?;
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(AUTHORIZATION, settings.auth.header_value()?);
        let identity = match &settings.client_identity {
            Some(id) => Some(id.load()?),
            None => None,
        };
        let roots = match &settings.ca_file {
            Some(ca) => load_ca_file(ca)?,
            None => Vec::new(),
        };
        if settings.accept_invalid_certs {
            warn!(
                server = %endpoints.base(),
                "!!! TLS CERTIFICATE CHECKS ARE OFF: the server's identity is NOT verified and \
                 anyone on the network path can read and change the traffic, passwords \
                 included. Use a CA file instead. !!!"
            );
        }
        let tls_failure = |chain: String| {
            let host = url::Url::parse(endpoints.base())
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            RemoteError::Certificate(
                describe_tls_failure(&chain, &host, true)
                    .unwrap_or_else(|| format!("cannot set up TLS: {}", shorten(&chain))),
            )
        };
        let connector = crate::tls::connector(identity, &roots, settings.accept_invalid_certs)
            .map_err(|e| tls_failure(chain_text(&e)))?;
        // Two clients on the same connector: attachment bodies get no read timeout. For
        // uploads it would run from the start of the request and cut slow big uploads (they
        // are watched for stalls instead); for downloads it would also run while we wait in
        // the bandwidth limiter between reads (the download times its own reads instead).
        let build = |read_timeout: Option<Duration>| {
            let mut b = reqwest::Client::builder()
                .tls_backend_preconfigured(connector.clone())
                .user_agent(USER_AGENT)
                .default_headers(headers.clone())
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(settings.timeout);
            if let Some(t) = read_timeout {
                b = b.read_timeout(t);
            }
            b.build().map_err(|e| tls_failure(chain_text(&e)))
        };
        let http = build(Some(settings.timeout))?;
        let stream_http = build(None)?;
        tracing::debug!(
            server = %endpoints.base(),
            auth = %settings.auth.describe(),
            client_cert = settings.client_identity.is_some(),
            "Confluence client ready"
        );
        let diagnosis = endpoints
            .base()
            .starts_with("https://")
            .then(|| TlsDiagnosis::new(connector, settings.timeout));
        Ok(ConfluenceClient {
            inner: Arc::new(Inner {
                http,
                stream_http,
                timeout: settings.timeout,
                diagnosis,
                connected: AtomicBool::new(false),
                endpoints,
                retry: settings.retry,
                bearer: matches!(settings.auth, Auth::Bearer { .. }),
                requests: AtomicU64::new(0),
                links_base: RwLock::new(None),
                foreign_base_warned: AtomicBool::new(false),
                learned_limit: AtomicU64::new(0),
                upload_throttle: Arc::new(Throttle::new(0)),
                download_throttle: Arc::new(Throttle::new(0)),
                pacer: Pacer::new(settings.pace_rate_limits),
            }),
        })
    }

    /// The authenticated user's name (`GET /rest/api/user/current`). Fails with
    /// [`RemoteError::Auth`] when the server served us as anonymous (an invalid or expired
    /// personal access token is not refused, it is ignored).
    #[instrument(skip_all, fields(server = %self.inner.endpoints.base()), err(level = "debug"))]
    pub async fn current_user(&self) -> Result<String, RemoteError> {
        let url = self.endpoints().current_user();
        let ctx = Ctx {
            page_id: String::new(),
            forbidden: Some("the server does not let this user use the REST API".into()),
            not_found: Some(
                "the server has no /rest/api/user/current: is the address really a Confluence \
                 server (with its context path, e.g. /confluence)?"
                    .into(),
            ),
            bearer: self.inner.bearer,
        };
        let ok = self
            .call("current_user", &ctx, &url, &[], || {
                Ok(self.get(&url).into())
            })
            .await?
            .into_success()?;
        let user: CurrentUser = ok.json("the current-user request")?;
        user.name().ok_or_else(|| self.anonymous_error())
    }

    /// Number of HTTP requests sent so far (for benchmarks and tests).
    pub fn request_count(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Cap the bandwidth of attachment transfers (0 = unlimited), for this client and all
    /// its clones. Takes effect for the next bytes of transfers already running.
    pub fn set_bandwidth_limits(&self, limits: BandwidthLimits) {
        self.inner
            .upload_throttle
            .set_rate(limits.upload_bytes_per_sec);
        self.inner
            .download_throttle
            .set_rate(limits.download_bytes_per_sec);
        tracing::debug!(
            upload_bytes_per_sec = limits.upload_bytes_per_sec,
            download_bytes_per_sec = limits.download_bytes_per_sec,
            "bandwidth limits set (0 = unlimited)"
        );
    }

    /// The current bandwidth caps.
    pub fn bandwidth_limits(&self) -> BandwidthLimits {
        BandwidthLimits {
            upload_bytes_per_sec: self.inner.upload_throttle.rate(),
            download_bytes_per_sec: self.inner.download_throttle.rate(),
        }
    }

    /// What the upload limiter counted and delayed so far (only while a limit was set).
    pub fn upload_throttle_stats(&self) -> ThrottleStats {
        self.inner.upload_throttle.stats()
    }

    /// What the download limiter counted and delayed so far (only while a limit was set).
    pub fn download_throttle_stats(&self) -> ThrottleStats {
        self.inner.download_throttle.stats()
    }

    /// How often requests were held back to stay under the server's rate limit.
    pub fn pace_stats(&self) -> PaceStats {
        self.inner.pacer.stats()
    }

    /// Whether requests are being slowed down now for the server's rate limit (its bucket is
    /// nearly empty or a `Retry-After` is running): a reason a sync waits.
    pub fn is_rate_limited(&self) -> bool {
        self.inner.pacer.is_pacing()
    }

    // ----- crate-internal machinery -------------------------------------------------------

    pub(crate) fn endpoints(&self) -> &Endpoints {
        &self.inner.endpoints
    }

    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    pub(crate) fn is_bearer(&self) -> bool {
        self.inner.bearer
    }

    /// Connect/read/stall timeout.
    pub(crate) fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The shared upload limiter.
    pub(crate) fn upload_throttle(&self) -> &Arc<Throttle> {
        &self.inner.upload_throttle
    }

    /// The shared download limiter.
    pub(crate) fn download_throttle(&self) -> &Arc<Throttle> {
        &self.inner.download_throttle
    }

    /// The error for an answer served to an anonymous user.
    pub(crate) fn anonymous_error(&self) -> RemoteError {
        if self.inner.bearer {
            RemoteError::Auth(
                "the server treated us as an anonymous user: the access token was not accepted \
                 (wrong, expired or revoked token?)"
                    .into(),
            )
        } else {
            RemoteError::Auth(
                "the server treated us as an anonymous user: the user name and password were not \
                 accepted"
                    .into(),
            )
        }
    }

    pub(crate) fn get(&self, url: &Url) -> RequestBuilder {
        self.inner.http.get(url.clone())
    }
    /// A GET on the streaming client (no read timeout): the caller times the wait for the
    /// answer and every body read itself, so time spent in the download limiter between
    /// reads is never mistaken for a silent server.
    pub(crate) fn get_stream(&self, url: &Url) -> RequestBuilder {
        self.inner.stream_http.get(url.clone())
    }
    pub(crate) fn post(&self, url: &Url) -> RequestBuilder {
        self.inner.http.post(url.clone())
    }
    /// A POST on the streaming client (no read timeout; send it with a [`Progress`]).
    pub(crate) fn post_upload(&self, url: &Url) -> RequestBuilder {
        self.inner.stream_http.post(url.clone())
    }
    pub(crate) fn put(&self, url: &Url) -> RequestBuilder {
        self.inner.http.put(url.clone())
    }
    pub(crate) fn delete(&self, url: &Url) -> RequestBuilder {
        self.inner.http.delete(url.clone())
    }

    /// Remember `_links.base` when it is on the configured origin.
    pub(crate) fn learn_links_base(&self, base: Option<&str>) {
        let Some(base) = base
            .map(|b| b.trim_end_matches('/'))
            .filter(|b| !b.is_empty())
        else {
            return;
        };
        if self.inner.endpoints.same_origin(base) {
            if let Ok(mut slot) = self.inner.links_base.write() {
                if slot.as_deref() != Some(base) {
                    *slot = Some(base.to_owned());
                }
            }
        } else if !self.inner.foreign_base_warned.swap(true, Ordering::Relaxed) {
            warn!(
                configured = %self.inner.endpoints.base(),
                reported = %base,
                "the server reports a different base URL (its 'Server Base URL' setting); \
                 using the configured one"
            );
        }
    }

    /// Base for download URLs: the learned `_links.base`, else the configured base.
    pub(crate) fn download_base(&self) -> String {
        self.inner
            .links_base
            .read()
            .ok()
            .and_then(|s| s.clone())
            .unwrap_or_else(|| self.inner.endpoints.base().to_owned())
    }

    /// `_links.base` if learned (for resolving `next` links).
    pub(crate) fn links_base(&self) -> Option<String> {
        self.inner.links_base.read().ok().and_then(|s| s.clone())
    }

    /// Remember a size limit reported by the server.
    pub(crate) fn learn_limit(&self, limit: Option<u64>) {
        if let Some(n) = limit {
            self.inner.learned_limit.store(n, Ordering::Relaxed);
        }
    }

    /// The size limit learned so far.
    pub(crate) fn learned_limit(&self) -> Option<u64> {
        match self.inner.learned_limit.load(Ordering::Relaxed) {
            0 => None,
            n => Some(n),
        }
    }

    /// Send a request once (counts it) and return the response or a classified failure.
    ///
    /// A connection cut before the first answer this client ever got, on `https`, may be a
    /// TLS 1.3 server refusing our certificate: then the server is asked directly (see
    /// [`crate::tls`]) and a refusal becomes a final [`RemoteError::Certificate`].
    pub(crate) async fn send_once(
        &self,
        req: RequestBuilder,
        url: &Url,
        progress: Option<&Progress>,
    ) -> Result<reqwest::Response, TransportFailure> {
        self.inner.pacer.before_send().await;
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let sent = match progress {
            None => req.send().await,
            Some(progress) => match self.send_watched(req, progress).await {
                Some(r) => r,
                None => {
                    return Err(TransportFailure::Transient(Transient::Transport {
                        url: crate::error::display_url(url),
                        detail: format!(
                            "the upload made no progress for {} s",
                            self.inner.timeout.as_secs_f32()
                        ),
                        timeout: true,
                    }))
                }
            },
        };
        match sent {
            Ok(resp) => {
                self.inner.connected.store(true, Ordering::Relaxed);
                self.inner
                    .pacer
                    .after_answer(resp.status().as_u16(), resp.headers());
                Ok(resp)
            }
            Err(e) => {
                let failure = map_transport(&e, url);
                let cut = matches!(
                    failure,
                    TransportFailure::Transient(Transient::Transport { timeout: false, .. })
                );
                if cut && !self.inner.connected.load(Ordering::Relaxed) {
                    if let Some(diagnosis) = &self.inner.diagnosis {
                        if let Some(msg) = diagnosis.diagnose(url).await {
                            return Err(TransportFailure::Final(RemoteError::Certificate(msg)));
                        }
                    }
                }
                Err(failure)
            }
        }
    }

    /// Send an upload, giving up (`None`, which drops and so aborts the request) when its
    /// body made no progress, or the answer did not come, for the configured timeout.
    async fn send_watched(
        &self,
        req: RequestBuilder,
        progress: &Progress,
    ) -> Option<Result<reqwest::Response, reqwest::Error>> {
        let timeout = self.inner.timeout;
        let send = req.send();
        tokio::pin!(send);
        loop {
            let wait = timeout.saturating_sub(progress.idle());
            if wait.is_zero() {
                return None;
            }
            tokio::select! {
                r = &mut send => return Some(r),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One attempt of a non-streaming call: send, read the body, classify.
    pub(crate) async fn attempt(
        &self,
        ctx: &Ctx,
        url: &Url,
        handled: &[u16],
        prepared: Prepared,
    ) -> Step {
        let source = prepared.source;
        let changed = |source: &Option<(SourceCheck, PathBuf)>| {
            source
                .as_ref()
                .filter(|(check, _)| check.changed())
                .map(|(_, path)| RemoteError::SourceChanged(path.clone()))
        };
        let resp = match self
            .send_once(prepared.req, url, prepared.progress.as_ref())
            .await
        {
            Ok(r) => r,
            Err(failure) => {
                if let Some(e) = changed(&source) {
                    return Step::Fail(e);
                }
                return match failure {
                    TransportFailure::Transient(t) => Step::Retry(t),
                    TransportFailure::Final(e) => Step::Fail(e),
                };
            }
        };
        if let Some(e) = changed(&source) {
            // The server answered although the body was cut: it cannot have stored it.
            return Step::Fail(e);
        }
        let status = resp.status();
        let headers = resp.headers().clone();
        if status.is_success() {
            return match read_limited(resp, MAX_JSON_BODY).await {
                Ok(body) => Step::Done(Reply::Success(Success { headers, body })),
                Err(BodyError::TooBig) => Step::Fail(RemoteError::Protocol(format!(
                    "the answer of {} is larger than {MAX_JSON_BODY} bytes",
                    crate::error::display_url(url)
                ))),
                Err(BodyError::Transport(e)) => match map_transport(&e, url) {
                    TransportFailure::Transient(t) => Step::Retry(t),
                    TransportFailure::Final(e) => Step::Fail(e),
                },
            };
        }
        let answer = read_answer(status, &headers, resp).await;
        if answer.is_too_large() {
            let err = map_status(&answer, ctx);
            if let RemoteError::TooLarge { limit, .. } = &err {
                self.learn_limit(*limit);
            }
            return Step::Fail(err);
        }
        if answer.is_transient() {
            return Step::Retry(answer.to_transient());
        }
        if handled.contains(&answer.status) {
            return Step::Done(Reply::Handled(answer));
        }
        Step::Fail(map_status(&answer, ctx))
    }

    /// A non-streaming call with retries. `make` builds a fresh request for each attempt;
    /// statuses in `handled` come back as [`Reply::Handled`] instead of errors.
    pub(crate) async fn call(
        &self,
        op: &'static str,
        ctx: &Ctx,
        url: &Url,
        handled: &[u16],
        make: impl Fn() -> Result<Prepared, RemoteError>,
    ) -> Result<Reply, RemoteError> {
        self.call_counting(op, ctx, url, handled, make)
            .await
            .map(|(reply, _)| reply)
    }

    /// Like [`Self::call`], also returning how many attempts failed before the answer (a
    /// non-zero count means an earlier attempt may have been carried out by the server).
    pub(crate) async fn call_counting(
        &self,
        op: &'static str,
        ctx: &Ctx,
        url: &Url,
        handled: &[u16],
        make: impl Fn() -> Result<Prepared, RemoteError>,
    ) -> Result<(Reply, u32), RemoteError> {
        let mut retrier = Retrier::new(&self.inner.retry, op);
        loop {
            match self.attempt(ctx, url, handled, make()?).await {
                Step::Done(reply) => return Ok((reply, retrier.failures())),
                Step::Retry(t) => retrier.wait(t).await?,
                Step::Fail(e) => return Err(e),
            }
        }
    }
}
