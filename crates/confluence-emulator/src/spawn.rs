//! Starting and stopping the server: the `Emulator` builder, the `EmulatorHandle` tests hold,
//! the accept loop (plain TCP or TLS from `tls.rs`, HTTP/1.1 via hyper) and the inspection types
//! (`LoggedRequest`, `Notification`, `AttachmentSnapshot`).
//!
//! Invariants: the listener is bound before `spawn` returns, so `base_url()` is immediately
//! usable; dropping the handle (or `shutdown`) stops accepting and closes connections; the
//! ephemeral blob directory lives as long as the last connection task.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Users;
use crate::faults::{FaultConfig, Faults, RateLimit, RateLimiter, ScriptedFault};
use crate::link::{LinkStats, Wire};
use crate::model::{limits, Model, Status};
use crate::render::Links;
use crate::restrictions::{Operation, PageRestrictions};
use crate::store::{Store, StoreError};
use crate::tls::{build_acceptor, Acceptor, TlsConfig, TlsError};

/// Entry point of the builder.
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// A builder with defaults: `127.0.0.1:0`, no users, no pages, ephemeral storage.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            users: Users::default(),
            pages: Vec::new(),
            context_path: String::new(),
            max_attachment_size: limits::DEFAULT_MAX_ATTACHMENT_SIZE,
            too_large_as_404: false,
            listing_bug_past_200: false,
            data_dir: None,
            tls: None,
            faults: FaultConfig::default(),
            rate_limit: None,
            proxy_body_limit: None,
            restrictions: Vec::new(),
            request_log: None,
        }
    }
}

/// Configures an emulator before it listens.
#[derive(Debug)]
pub struct EmulatorBuilder {
    listen: SocketAddr,
    users: Users,
    pages: Vec<(String, String)>,
    context_path: String,
    max_attachment_size: u64,
    too_large_as_404: bool,
    listing_bug_past_200: bool,
    data_dir: Option<PathBuf>,
    tls: Option<TlsConfig>,
    faults: FaultConfig,
    rate_limit: Option<RateLimit>,
    proxy_body_limit: Option<u64>,
    restrictions: Vec<(String, Operation, Subject)>,
    request_log: Option<PathBuf>,
}

/// Who a restriction given to the builder names.
#[derive(Debug, Clone)]
enum Subject {
    User(String),
    Group(String),
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// TLS configuration failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The data dir could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The request log file could not be created.
    #[error("cannot create the request log {path}: {source}")]
    RequestLog {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl EmulatorBuilder {
    /// Address to bind (default `127.0.0.1:0`).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// A user who may read and write every page.
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.users.add_user(name, password);
        self
    }

    /// A user who may read but not add attachments or properties.
    pub fn read_only_user(mut self, name: &str, password: &str) -> Self {
        self.users.add_read_only_user(name, password);
        self
    }

    /// A personal access token (sent as `Bearer`) of `user`.
    pub fn token(mut self, user: &str, token: &str) -> Self {
        self.users.add_token(user, token);
        self
    }

    /// A personal access token of `user` named `name` that expires at `expiring_at_ms` (ms
    /// since the epoch); listed by `/rest/pat/latest/tokens`, anonymous once expired.
    pub fn expiring_token(
        mut self,
        user: &str,
        token: &str,
        name: &str,
        expiring_at_ms: i64,
    ) -> Self {
        self.users
            .add_expiring_token(user, token, name, expiring_at_ms);
        self
    }

    /// Put a reverse proxy with a request body limit in front (nginx `client_max_body_size`):
    /// any request whose `Content-Length` exceeds `bytes` gets nginx's 413 HTML page before
    /// Confluence sees it.
    pub fn proxy_body_limit(mut self, bytes: u64) -> Self {
        self.proxy_body_limit = Some(bytes);
        self
    }

    /// Makes `user` a space admin (may purge the trash).
    pub fn space_admin(mut self, user: &str) -> Self {
        self.users.add_space_admin(user);
        self
    }

    /// A page titled `Page {id}` in space TST.
    pub fn page(self, id: &str) -> Self {
        let title = format!("Page {id}");
        self.page_titled(id, &title)
    }

    /// A page with a title.
    pub fn page_titled(mut self, id: &str, title: &str) -> Self {
        self.pages.push((id.to_string(), title.to_string()));
        self
    }

    /// Context path such as `/confluence` (default none).
    pub fn context_path(mut self, p: &str) -> Self {
        let p = p.trim().trim_end_matches('/');
        self.context_path = if p.is_empty() || p.starts_with('/') {
            p.to_string()
        } else {
            format!("/{p}")
        };
        self
    }

    /// Per-file attachment limit in bytes (default 104 857 600).
    pub fn max_attachment_size(mut self, bytes: u64) -> Self {
        self.max_attachment_size = bytes;
        self
    }

    /// Answer oversized uploads with the Jira-style 404 JSON instead of 413 HTML.
    pub fn too_large_as_404(mut self, yes: bool) -> Self {
        self.too_large_as_404 = yes;
        self
    }

    /// Reproduce CONFSERVER-95396: listings with `start >= 200` on a page with more than 200
    /// attachments report a full page (repeating items) and always carry `_links.next`.
    pub fn listing_bug_past_200(mut self, yes: bool) -> Self {
        self.listing_bug_past_200 = yes;
        self
    }

    /// Persist state in `dir` (default: ephemeral).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Serve HTTPS.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Also write every request, as it arrives, to this file (created or truncated): one
    /// line `METHOD PATH?QUERY` each, for benchmarks that count requests from outside.
    pub fn request_log(mut self, path: impl Into<PathBuf>) -> Self {
        self.request_log = Some(path.into());
        self
    }

    /// Seeded fault injection.
    pub fn faults(mut self, f: FaultConfig) -> Self {
        self.faults = f;
        self
    }

    /// DC rate limiting (off by default).
    pub fn rate_limit(mut self, r: RateLimit) -> Self {
        self.rate_limit = Some(r);
        self
    }

    /// Every Basic login of this user gets the CAPTCHA 401.
    pub fn captcha_user(mut self, user: &str) -> Self {
        self.users.add_captcha_user(user);
        self
    }

    /// Puts `user` in `group` (every user is also in `confluence-users`).
    pub fn group(mut self, user: &str, group: &str) -> Self {
        self.users.add_to_group(user, group);
        self
    }

    /// Restricts `op` (view or edit) of page `page_id` to `user`, in addition to the users and
    /// groups already given for it (replacing what a data dir held for that page).
    pub fn restrict(mut self, page_id: &str, op: Operation, user: &str) -> Self {
        self.restrictions
            .push((page_id.to_string(), op, Subject::User(user.to_string())));
        self
    }

    /// Restricts `op` of page `page_id` to the members of `group` (plus others given).
    pub fn restrict_group(mut self, page_id: &str, op: Operation, group: &str) -> Self {
        self.restrictions
            .push((page_id.to_string(), op, Subject::Group(group.to_string())));
        self
    }

    /// Binds, loads state and starts serving.
    pub async fn spawn(self) -> Result<EmulatorHandle, EmulatorError> {
        let acceptor = self.tls.as_ref().map(build_acceptor).transpose()?;
        let log_file =
            match &self.request_log {
                Some(path) => Some(std::fs::File::create(path).map_err(|source| {
                    EmulatorError::RequestLog {
                        path: path.clone(),
                        source,
                    }
                })?),
                None => None,
            };
        let (store, saved) = Store::open(self.data_dir.as_deref())?;
        let mut model = saved.unwrap_or_default();
        let author = "admin";
        let now = now_ms();
        for (id, title) in &self.pages {
            if !model.pages.contains_key(id) {
                model.add_page(id, title, author, now);
            }
        }
        let restricted: BTreeSet<&String> = self.restrictions.iter().map(|(p, _, _)| p).collect();
        for page in restricted {
            model.restrictions.remove(page);
        }
        for (page, op, who) in &self.restrictions {
            let subjects = model
                .restrictions
                .entry(page.clone())
                .or_default()
                .of_mut(*op);
            match who {
                Subject::User(u) => subjects.users.insert(u.clone()),
                Subject::Group(g) => subjects.groups.insert(g.clone()),
            };
        }
        store.save(&model)?;
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(|source| EmulatorError::Bind {
                addr: self.listen,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                addr: self.listen,
                source,
            })?;
        let host = match addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_string(),
            IpAddr::V6(ip) if ip.is_unspecified() => "[::1]".to_string(),
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        let base = format!("{scheme}://{host}:{}{}", addr.port(), self.context_path);
        let shared = Arc::new(Shared {
            links: Links {
                base: base.clone(),
                context: self.context_path.clone(),
            },
            users: self.users,
            model: Mutex::new(model),
            store,
            max_attachment_size: self.max_attachment_size,
            too_large_as_404: self.too_large_as_404,
            listing_bug_past_200: self.listing_bug_past_200,
            faults: Mutex::new(Faults::new(self.faults)),
            rate: self.rate_limit.map(|r| Mutex::new(RateLimiter::new(r))),
            proxy_body_limit: self.proxy_body_limit,
            log: Mutex::new(RequestLog {
                file: log_file,
                ..RequestLog::default()
            }),
            notifications: Mutex::new(Vec::new()),
            wire: Wire::default(),
        });
        let token = CancellationToken::new();
        let tracker = TaskTracker::new();
        tracker.spawn(accept_loop(
            listener,
            acceptor.map(Arc::new),
            shared.clone(),
            token.clone(),
            tracker.clone(),
        ));
        tracing::info!(%base, "Confluence emulator listening");
        Ok(EmulatorHandle {
            shared,
            addr,
            base,
            token,
            tracker,
        })
    }
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

/// State shared by all connections.
pub(crate) struct Shared {
    pub(crate) links: Links,
    pub(crate) users: Users,
    pub(crate) model: Mutex<Model>,
    pub(crate) store: Store,
    pub(crate) max_attachment_size: u64,
    pub(crate) too_large_as_404: bool,
    pub(crate) listing_bug_past_200: bool,
    pub(crate) faults: Mutex<Faults>,
    pub(crate) rate: Option<Mutex<RateLimiter>>,
    /// A proxy's request body limit in front of the server (413 HTML above it).
    pub(crate) proxy_body_limit: Option<u64>,
    pub(crate) log: Mutex<RequestLog>,
    pub(crate) notifications: Mutex<Vec<Notification>>,
    /// The bandwidth caps and what they did.
    pub(crate) wire: Wire,
}

/// Locks a mutex, recovering from poisoning (a panicked handler must not wedge the server).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Records a notification.
    pub(crate) fn notify(&self, n: Notification) {
        tracing::info!(kind = ?n.kind, content = %n.content_id, "would notify watchers");
        lock(&self.notifications).push(n);
    }

    /// Saves the model (logging, not failing the request, when the disk refuses).
    pub(crate) fn persist(&self, model: &Model) {
        if let Err(e) = self.store.save(model) {
            tracing::error!(error = %e, "cannot save emulator metadata");
        }
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// Method.
    pub method: String,
    /// Path without query (incl. context path).
    pub path: String,
    /// Raw query string (`""` when none).
    pub query: String,
    /// Headers with lower-case names.
    pub headers: Vec<(String, String)>,
    /// Status sent; `0` when no answer was sent (connection cut by a fault).
    pub status: u16,
    /// Non-file multipart parts as `(name, value)`.
    pub multipart_fields: Vec<(String, String)>,
    /// File names of multipart file parts, as sent.
    pub file_names: Vec<String>,
    /// Request body bytes read.
    pub bytes_in: u64,
    /// Response body bytes sent.
    pub bytes_out: u64,
}

impl LoggedRequest {
    /// First value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The request log, addressed by sequence numbers so `clear` cannot confuse updates.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    entries: Vec<(u64, LoggedRequest)>,
    next: u64,
    /// Where each request is also written (`--request-log`).
    file: Option<std::fs::File>,
}

impl RequestLog {
    pub(crate) fn push(&mut self, r: LoggedRequest) -> u64 {
        let seq = self.next;
        self.next += 1;
        if let Some(f) = self.file.as_mut() {
            use std::io::Write as _;
            let sep = if r.query.is_empty() { "" } else { "?" };
            let line = format!("{} {}{sep}{}\n", r.method, r.path, r.query);
            if let Err(e) = f.write_all(line.as_bytes()) {
                tracing::warn!(error = %e, "cannot write the request log; it stops here");
                self.file = None;
            }
        }
        self.entries.push((seq, r));
        seq
    }

    pub(crate) fn update(&mut self, seq: u64, f: impl FnOnce(&mut LoggedRequest)) {
        if let Ok(i) = self.entries.binary_search_by_key(&seq, |(s, _)| *s) {
            f(&mut self.entries[i].1);
        }
    }
}

/// An operation that would e-mail the page's watchers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// What happened.
    pub kind: NotificationKind,
    /// Page the content belongs to.
    pub page_id: String,
    /// Attachment (or page) id.
    pub content_id: String,
    /// Attachment file name or page title.
    pub title: String,
    /// Acting user.
    pub user: String,
}

/// Kinds of notifying operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationKind {
    /// Attachment created with `minorEdit=false` (or absent).
    AttachmentCreated,
    /// Attachment version added with `minorEdit=false` (or absent).
    AttachmentUpdated,
    /// Attachment moved to the trash.
    AttachmentTrashed,
    /// One attachment version deleted.
    AttachmentVersionDeleted,
    /// Page updated without `minorEdit: true`.
    PageUpdated,
}

/// State of one attachment, for test assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentSnapshot {
    /// `att<n>`.
    pub id: String,
    /// File name.
    pub title: String,
    /// `"current"` or `"trashed"`.
    pub status: String,
    /// Versions, ascending.
    pub versions: Vec<VersionSnapshot>,
}

/// One stored version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionSnapshot {
    /// Version number.
    pub number: u64,
    /// Size in bytes.
    pub size: u64,
    /// Version comment.
    pub comment: String,
    /// Minor edit flag.
    pub minor_edit: bool,
    /// Stored media type.
    pub media_type: String,
    /// File holding the bytes.
    pub path: PathBuf,
}

/// A running emulator. Dropping it stops the server.
#[derive(Debug)]
pub struct EmulatorHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    base: String,
    token: CancellationToken,
    tracker: TaskTracker,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("base", &self.links.base)
            .finish_non_exhaustive()
    }
}

impl EmulatorHandle {
    /// `scheme://127.0.0.1:PORT` + context path, no trailing slash.
    pub fn base_url(&self) -> String {
        self.base.clone()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The request log in arrival order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log)
            .entries
            .iter()
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        lock(&self.shared.log).entries.clear();
    }

    /// Operations that would have notified watchers.
    pub fn notifications(&self) -> Vec<Notification> {
        lock(&self.shared.notifications).clone()
    }

    /// Replaces the seeded fault configuration.
    pub fn set_faults(&self, f: FaultConfig) {
        lock(&self.shared.faults).set_config(f);
    }

    /// Queues a deterministic fault.
    pub fn fail_next(&self, rule: ScriptedFault) {
        lock(&self.shared.faults).push_scripted(rule);
    }

    /// What the upload bandwidth caps did so far: request body bytes through them and the
    /// waits they imposed.
    pub fn upload_cap_stats(&self) -> LinkStats {
        self.shared.wire.upload_stats()
    }

    /// What the download bandwidth caps did so far.
    pub fn download_cap_stats(&self) -> LinkStats {
        self.shared.wire.download_stats()
    }

    /// Number of faults injected so far (seeded and scripted).
    pub fn faults_injected(&self) -> u64 {
        lock(&self.shared.faults).injected()
    }

    /// Attachments of a page (current and trashed, with versions), in creation order.
    pub fn attachments(&self, page_id: &str) -> Vec<AttachmentSnapshot> {
        let model = lock(&self.shared.model);
        let mut atts: Vec<_> = model
            .attachments
            .values()
            .filter(|a| a.page_id == page_id)
            .collect();
        atts.sort_by_key(|a| {
            a.id.trim_start_matches("att")
                .parse::<u64>()
                .unwrap_or(u64::MAX)
        });
        atts.into_iter()
            .map(|a| AttachmentSnapshot {
                id: a.id.clone(),
                title: a.title.clone(),
                status: match a.status {
                    Status::Current => "current",
                    Status::Trashed => "trashed",
                }
                .to_string(),
                versions: a
                    .versions
                    .iter()
                    .map(|v| VersionSnapshot {
                        number: v.number,
                        size: v.size,
                        comment: v.comment.clone(),
                        minor_edit: v.minor_edit,
                        media_type: v.media_type.clone(),
                        path: self.shared.store.blob_path(&v.blob),
                    })
                    .collect(),
            })
            .collect()
    }

    /// The content restrictions of a page (empty when it has none).
    pub fn restrictions(&self, page_id: &str) -> PageRestrictions {
        lock(&self.shared.model).restrictions_of(page_id)
    }

    /// Replaces the content restrictions of a page, as an administrator would (no check).
    pub fn set_restrictions(&self, page_id: &str, restrictions: PageRestrictions) {
        let mut model = lock(&self.shared.model);
        if restrictions.is_empty() {
            model.restrictions.remove(page_id);
        } else {
            model.restrictions.insert(page_id.to_string(), restrictions);
        }
        self.shared.persist(&model);
    }

    /// Stops accepting, lets in-flight requests finish (up to 5 s), then returns.
    pub async fn shutdown(self) {
        self.token.cancel();
        self.tracker.close();
        if tokio::time::timeout(Duration::from_secs(5), self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("emulator connections did not finish within 5 s");
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    acceptor: Option<Arc<Acceptor>>,
    shared: Arc<Shared>,
    token: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            _ = token.cancelled() => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let shared = shared.clone();
        let token = token.clone();
        let acceptor = acceptor.clone();
        tracker.spawn(async move {
            match acceptor {
                None => serve_connection(TokioIo::new(tcp), shared, token).await,
                Some(acc) => {
                    if let Some(stream) = acc.accept(tcp, peer).await {
                        serve_connection(TokioIo::new(stream), shared, token).await
                    }
                }
            }
        });
    }
    tracing::debug!("accept loop stopped");
}

async fn serve_connection<I>(io: I, shared: Arc<Shared>, token: CancellationToken)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| crate::routes::serve(shared.clone(), req));
    let conn = http1::Builder::new()
        .max_buf_size(1 << 20)
        .serve_connection(io, svc);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        _ = token.cancelled() => {
            conn.as_mut().graceful_shutdown();
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error during shutdown");
            }
        }
    }
}
