//! The HTTP surface: one `serve` function per request that logs it, applies faults, checks
//! XSRF, authentication and rate limits, dispatches to the endpoint handlers and wraps the
//! response body (byte counting, truncation/reset faults, bandwidth throttling).
//!
//! Invariants: uploads stream to a temp file and are refused as soon as a limit is crossed
//! (never buffered whole); a request body the handler did not read is drained (bounded) before
//! the answer so clients see the status instead of a reset; the model lock is never held
//! across an `.await`.

// Handlers return a complete HTTP answer as their error; it is built once per request, so
// boxing it would only add an allocation.
#![allow(clippy::result_large_err)]
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, BodyStream, Empty, Full, StreamBody};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use percent_encoding::percent_decode_str;
use serde_json::{json, Value};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use crate::auth::{is_browser_agent, xsrf_header_ok, AuthOutcome, Identity};
use crate::faults::{FaultKind, ForeignBody, RateHeaders, RequestClass};
use crate::model::{
    limits, no_content, resolve_media_type, strip_path, MetadataUpdate, ModelError, NewFile, Status,
};
use crate::render::{self, Expand};
use crate::spawn::{lock, now_ms, LoggedRequest, Notification, NotificationKind, Shared};

/// Boxed response body produced by handlers.
pub(crate) type OutBody = BoxBody<Bytes, io::Error>;

/// Largest JSON request body (`@LimitRequestSize(0x500000)`).
const JSON_BODY_MAX: u64 = 5 * 1024 * 1024;
/// Largest multipart text part we keep.
const TEXT_PART_MAX: usize = 64 * 1024;
/// At most this many unread request bytes are drained before answering; beyond, the
/// connection is closed after the answer.
const DRAIN_MAX: u64 = 4 * 1024 * 1024 * 1024;
/// Pause between the last bytes sent and an injected mid-body reset.
const RESET_GRACE: Duration = Duration::from_millis(50);
/// Write buffer of uploads and read chunk of downloads.
const IO_BUF: usize = 1 << 20;

/// The service error that makes hyper close the connection without an answer.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by an injected fault")]
pub(crate) struct Dropped;

/// A request on its way through the handlers.
struct Req {
    method: Method,
    headers: HeaderMap,
    /// Path after the context path (`None` when outside it).
    rel: Option<String>,
    query: Vec<(String, String)>,
    body: Option<Incoming>,
    /// Whether a handler started reading the body.
    body_read: bool,
    who: Identity,
    bytes_in: u64,
    fields: Vec<(String, String)>,
    files: Vec<String>,
}

impl Req {
    fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn user(&self) -> &str {
        self.who.name().unwrap_or("anonymous")
    }

    fn is_json(&self) -> bool {
        self.header("content-type").is_some_and(|c| {
            c.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
    }
}

// ---------------------------------------------------------------- response helpers

fn full(status: u16, content_type: Option<&str>, body: impl Into<Bytes>) -> Response<OutBody> {
    let body: Bytes = body.into();
    let mut r = Response::new(Full::new(body.clone()).map_err(|e| match e {}).boxed());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(ct) = content_type {
        if let Ok(v) = HeaderValue::from_str(ct) {
            r.headers_mut().insert(CONTENT_TYPE, v);
        }
    }
    r.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    r
}

fn json_resp(status: u16, v: &Value) -> Response<OutBody> {
    full(
        status,
        Some("application/json;charset=UTF-8"),
        v.to_string(),
    )
}

fn error_resp(e: &ModelError) -> Response<OutBody> {
    json_resp(e.status(), &render::error(e.status(), &e.to_string()))
}

fn error_msg(status: u16, msg: &str) -> Response<OutBody> {
    json_resp(status, &render::error(status, msg))
}

fn empty(status: u16) -> Response<OutBody> {
    let mut r = Response::new(Empty::new().map_err(|e| match e {}).boxed());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r
}

fn html(status: u16, title: &str, text: &str) -> Response<OutBody> {
    full(
        status,
        Some("text/html;charset=UTF-8"),
        format!("<!DOCTYPE html>\n<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>\n"),
    )
}

fn set_header(r: &mut Response<OutBody>, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(HeaderName::from_static(name), v);
    }
}

fn add_rate_headers(r: &mut Response<OutBody>, h: &RateHeaders) {
    for (k, v) in h.pairs() {
        set_header(r, k, &v);
    }
}

fn not_found_page() -> Response<OutBody> {
    html(
        404,
        "Page Not Found",
        "The page you were looking for could not be found.",
    )
}

fn too_large(sh: &Shared) -> Response<OutBody> {
    if sh.too_large_as_404 {
        error_msg(
            404,
            &format!(
                "The field file exceeds its maximum permitted size of {} bytes.",
                sh.max_attachment_size
            ),
        )
    } else {
        full(
            413,
            Some("text/html"),
            "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
        )
    }
}

fn fault_response(
    sh: &Shared,
    kind: &FaultKind,
    retry_after: Option<u64>,
    path: &str,
) -> Response<OutBody> {
    match kind {
        FaultKind::Status5xx(500) => error_msg(
            500,
            "java.lang.RuntimeException: Transaction rolled back because it has been marked as rollback-only",
        ),
        FaultKind::Status5xx(code) => {
            let reason = render::reason(*code);
            let mut r = html(*code, &format!("{code} {reason}"), "The server is temporarily unable to service your request.");
            if let Some(s) = retry_after {
                set_header(&mut r, "retry-after", &s.to_string());
            }
            r
        }
        FaultKind::Unavailable { retry_after } => {
            let mut r = html(
                503,
                "503 Service Temporarily Unavailable",
                "The server is temporarily unable to service your request.",
            );
            set_header(&mut r, "retry-after", &retry_after.to_string());
            r
        }
        FaultKind::OptimisticLock => error_msg(
            409,
            "com.atlassian.confluence.api.service.exceptions.ConflictException: javax.persistence.OptimisticLockException: Row was updated or deleted by another transaction",
        ),
        FaultKind::RateLimited { retry_after } => {
            let mut r = error_msg(429, "Rate limit exceeded");
            add_rate_headers(
                &mut r,
                &RateHeaders {
                    limit: 10,
                    remaining: 0,
                    interval_secs: 1,
                    fill_rate: 5,
                    retry_after: *retry_after,
                },
            );
            r
        }
        FaultKind::HtmlLoginPage => full(
            200,
            Some("text/html;charset=UTF-8"),
            "<!DOCTYPE html><html><head><title>Log in - SSO</title></head><body><form method=\"post\" action=\"/login\"><input name=\"username\"><input type=\"password\" name=\"password\"><button>Log in</button></form></body></html>",
        ),
        FaultKind::RedirectToSso => {
            let mut r = empty(302);
            let target = format!(
                "https://sso.example.invalid/oauth2/start?rd={}",
                render::encode_name(&format!("{}{}", sh.links.base, path))
            );
            set_header(&mut r, "location", &target);
            r
        }
        FaultKind::ForeignNotFound(ForeignBody::Html) => full(
            404,
            Some("text/html"),
            "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
        ),
        FaultKind::ForeignNotFound(ForeignBody::Empty) => empty(404),
        FaultKind::ForeignNotFound(ForeignBody::Json) => full(
            404,
            Some("application/json"),
            "{\"status\":404,\"error\":\"Not Found\",\"message\":\"No route\",\"path\":\"/\"}",
        ),
        FaultKind::ResetMidBody | FaultKind::TruncateBody | FaultKind::DropAfterStore | FaultKind::Latency(_) => {
            empty(500)
        }
    }
}

// ---------------------------------------------------------------- body helpers

fn has_request_body(h: &HeaderMap) -> bool {
    let len = h
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    len.is_some_and(|l| l > 0) || h.contains_key("transfer-encoding")
}

async fn drain(body: &mut Incoming, cap: u64) -> u64 {
    let mut n = 0u64;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                if let Some(d) = f.data_ref() {
                    n += d.len() as u64;
                }
            }
            Err(_) => break,
        }
        if n >= cap {
            break;
        }
    }
    n
}

/// Reads a JSON body (≤ 5 MiB). Errors are complete responses.
async fn read_json(r: &mut Req) -> Result<Value, Response<OutBody>> {
    if !r.is_json() {
        return Err(html(415, "Unsupported Media Type", "The server refused this request because the request entity is in a format not supported by the requested resource."));
    }
    r.body_read = true;
    let Some(body) = r.body.as_mut() else {
        return Err(error_msg(400, "No request body"));
    };
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| error_msg(400, "Request body could not be read"))?;
        if let Some(d) = frame.data_ref() {
            r.bytes_in += d.len() as u64;
            if buf.len() as u64 + d.len() as u64 > JSON_BODY_MAX {
                return Err(error_msg(413, "Request entity too large"));
            }
            buf.extend_from_slice(d);
        }
    }
    serde_json::from_slice(&buf).map_err(|e| {
        error_msg(
            400,
            &format!("com.fasterxml.jackson.core.JsonParseException: {e}"),
        )
    })
}

/// One uploaded file part, stored in a temp file.
struct UploadedFile {
    sent_name: String,
    name: String,
    key: String,
    tmp: std::path::PathBuf,
    size: u64,
    part_type: Option<String>,
}

/// Parsed multipart upload.
#[derive(Default)]
struct Upload {
    files: Vec<UploadedFile>,
    comments: Vec<String>,
    minor_edits: Vec<bool>,
    hidden: Vec<bool>,
}

impl Upload {
    fn minor(&self, i: usize) -> bool {
        self.minor_edits.get(i).copied().unwrap_or(false)
    }
    /// Whether watchers hear about file `i` (DC's listener skips minor and hidden uploads).
    fn notifies(&self, i: usize) -> bool {
        !self.minor(i) && !self.hidden.get(i).copied().unwrap_or(false)
    }
    fn comment(&self, i: usize) -> String {
        self.comments.get(i).cloned().unwrap_or_default()
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        // Temp files of committed uploads were renamed away; the rest are removed here.
        for f in &self.files {
            if let Err(e) = std::fs::remove_file(&f.tmp) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(path = %f.tmp.display(), error = %e, "cannot remove upload temp file");
                }
            }
        }
    }
}

/// Streams a multipart body: file parts to temp files, text parts to memory.
async fn read_multipart(sh: &Shared, r: &mut Req) -> Result<Upload, Response<OutBody>> {
    let ct = r.header("content-type").unwrap_or("").to_string();
    if !ct.to_ascii_lowercase().starts_with("multipart/form-data") {
        return Err(html(
            415,
            "Unsupported Media Type",
            "Expected multipart/form-data.",
        ));
    }
    let boundary = multer::parse_boundary(&ct)
        .map_err(|_| error_msg(400, "Missing or invalid multipart boundary"))?;
    r.body_read = true;
    let Some(body) = r.body.as_mut() else {
        return Err(error_msg(400, "No request body"));
    };
    let counter = Arc::new(AtomicU64::new(0));
    let over_request = Arc::new(AtomicBool::new(false));
    let request_max = sh
        .max_attachment_size
        .saturating_mul(limits::REQUEST_SIZE_FACTOR)
        .max(sh.max_attachment_size.saturating_add(1 << 20));
    let stream = {
        let counter = counter.clone();
        let over = over_request.clone();
        BodyStream::new(&mut *body).filter_map(move |f| {
            let out = match f {
                Ok(frame) => frame.into_data().ok().map(|d| {
                    let total =
                        counter.fetch_add(d.len() as u64, Ordering::Relaxed) + d.len() as u64;
                    if total > request_max {
                        over.store(true, Ordering::Relaxed);
                        Err(io::Error::other("request exceeds the multipart size limit"))
                    } else {
                        Ok(d)
                    }
                }),
                Err(e) => Some(Err(io::Error::other(e))),
            };
            futures::future::ready(out)
        })
    };
    let mut mp = multer::Multipart::new(stream, boundary);
    let mut up = Upload::default();
    let mut fields = Vec::new();
    let mut files = Vec::new();
    let result: Result<(), Response<OutBody>> = async {
        loop {
            let field = match mp.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    if over_request.load(Ordering::Relaxed) {
                        return Err(too_large(sh));
                    }
                    return Err(error_msg(
                        400,
                        &format!("Unable to parse multipart request: {e}"),
                    ));
                }
            };
            let name = field.name().unwrap_or("").to_string();
            if let (true, Some(fname)) = (name == "file", field.file_name().map(str::to_string)) {
                files.push(fname.clone());
                let part_type = field.content_type().map(|m| m.to_string());
                let (key, tmp) = sh.store.new_upload();
                up.files.push(UploadedFile {
                    name: strip_path(&fname),
                    sent_name: fname,
                    key,
                    tmp: tmp.clone(),
                    size: 0,
                    part_type,
                });
                let file = tokio::fs::File::create(&tmp)
                    .await
                    .map_err(|e| error_msg(500, &format!("cannot store upload: {e}")))?;
                let mut w = tokio::io::BufWriter::with_capacity(IO_BUF, file);
                let mut size = 0u64;
                let mut field = field;
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            size += chunk.len() as u64;
                            if size > sh.max_attachment_size {
                                return Err(too_large(sh));
                            }
                            w.write_all(&chunk).await.map_err(|e| {
                                error_msg(500, &format!("cannot store upload: {e}"))
                            })?;
                        }
                        Ok(None) => break,
                        Err(e) => {
                            if over_request.load(Ordering::Relaxed) {
                                return Err(too_large(sh));
                            }
                            return Err(error_msg(
                                400,
                                &format!("Unable to parse multipart request: {e}"),
                            ));
                        }
                    }
                }
                w.flush()
                    .await
                    .map_err(|e| error_msg(500, &format!("cannot store upload: {e}")))?;
                if let Some(last) = up.files.last_mut() {
                    last.size = size;
                }
            } else {
                let mut text = Vec::new();
                let mut field = field;
                loop {
                    match field.chunk().await {
                        Ok(Some(c)) => {
                            if text.len() + c.len() <= TEXT_PART_MAX {
                                text.extend_from_slice(&c);
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            if over_request.load(Ordering::Relaxed) {
                                return Err(too_large(sh));
                            }
                            return Err(error_msg(
                                400,
                                &format!("Unable to parse multipart request: {e}"),
                            ));
                        }
                    }
                }
                let text = String::from_utf8_lossy(&text).into_owned();
                fields.push((name.clone(), text.clone()));
                match name.as_str() {
                    "comment" => up.comments.push(text),
                    "minorEdit" => up
                        .minor_edits
                        .push(text.trim().eq_ignore_ascii_case("true")),
                    "hidden" => up.hidden.push(text.trim().eq_ignore_ascii_case("true")),
                    _ => {}
                }
            }
        }
        Ok(())
    }
    .await;
    drop(mp);
    r.bytes_in += counter.load(Ordering::Relaxed);
    r.fields.extend(fields);
    r.files.extend(files);
    result.map(|()| up)
}

// ---------------------------------------------------------------- entry point

/// Serves one request (the hyper service function).
pub(crate) async fn serve(
    sh: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<CountingBody>, Dropped> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let seq = lock(&sh.log).push(LoggedRequest {
        method: parts.method.to_string(),
        path: path.clone(),
        query: query.clone(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        status: 0,
        multipart_fields: Vec::new(),
        file_names: Vec::new(),
        bytes_in: 0,
        bytes_out: 0,
    });
    let ctx = &sh.links.context;
    let rel = if ctx.is_empty() {
        Some(path.clone())
    } else {
        path.strip_prefix(ctx.as_str())
            .filter(|r| r.is_empty() || r.starts_with('/'))
            .map(str::to_string)
    };
    let is_download = rel.as_deref().is_some_and(|r| r.starts_with("/download/"));
    let plan = lock(&sh.faults).plan(RequestClass {
        method: parts.method.as_str(),
        path: &path,
        is_download,
        is_write: !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS),
    });
    if plan.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(plan.latency_ms)).await;
    }
    let mut r = Req {
        method: parts.method.clone(),
        headers: parts.headers,
        rel,
        query: url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect(),
        body: Some(body),
        body_read: false,
        who: Identity::Anonymous,
        bytes_in: 0,
        fields: Vec::new(),
        files: Vec::new(),
    };
    let resp = if let Some(kind) = &plan.replace {
        fault_response(&sh, kind, plan.retry_after, &path)
    } else if plan.reset_mid_body && has_request_body(&r.headers) {
        // Cut the upload halfway: read about half of it, then drop the connection unanswered.
        let half = r
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(64 * 1024, |l| (l / 2).max(1));
        if let Some(b) = r.body.as_mut() {
            r.bytes_in += drain(b, half).await;
        }
        let bytes_in = r.bytes_in;
        lock(&sh.log).update(seq, |e| e.bytes_in = bytes_in);
        tracing::warn!(%path, "fault: connection reset while reading the request body");
        return Err(Dropped);
    } else {
        handle(&sh, &mut r).await
    };
    let expects_continue = r
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
    if let Some(mut b) = r.body.take() {
        // A client waiting for `100 Continue` has not sent the body: answer without asking for it
        // (hyper then closes the connection). Otherwise read what was sent so the client gets
        // the answer instead of a reset.
        if r.body_read || !expects_continue {
            r.bytes_in += drain(&mut b, DRAIN_MAX).await;
        }
    }
    let status = resp.status().as_u16();
    let dropped = plan.drop_after_store && resp.status().is_success();
    {
        let mut log = lock(&sh.log);
        log.update(seq, |e| {
            e.status = if dropped { 0 } else { status };
            e.bytes_in = r.bytes_in;
            e.multipart_fields = std::mem::take(&mut r.fields);
            e.file_names = std::mem::take(&mut r.files);
        });
    }
    if dropped {
        tracing::warn!(%path, status, "fault: request processed, answer dropped");
        return Err(Dropped);
    }
    let (mut parts, body) = resp.into_parts();
    let len = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut limit = None;
    let mut reset = false;
    if plan.truncate_body || plan.reset_mid_body {
        let half = len.unwrap_or(0) / 2;
        limit = Some(half);
        if plan.truncate_body {
            parts
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(half));
        } else {
            reset = true;
        }
    }
    let body = if r.method == Method::HEAD {
        Empty::new().map_err(|e| match e {}).boxed()
    } else {
        body
    };
    Ok(Response::from_parts(
        parts,
        CountingBody {
            inner: body,
            shared: sh.clone(),
            seq,
            remaining: limit,
            reset,
            bandwidth: plan.bandwidth,
            sleep: None,
            done: false,
        },
    ))
}

async fn handle(sh: &Shared, r: &mut Req) -> Response<OutBody> {
    let Some(rel) = r.rel.clone() else {
        return not_found_page();
    };
    // XSRF protection applies to form/multipart POSTs and runs before authentication.
    if r.method == Method::POST && !r.is_json() {
        let ua = r.header("user-agent");
        if is_browser_agent(ua) || !xsrf_header_ok(r.header("x-atlassian-token")) {
            return full(403, Some("text/plain;charset=UTF-8"), "XSRF check failed");
        }
    }
    match sh.users.authenticate(r.header("authorization")) {
        AuthOutcome::Failed => {
            let mut resp = full(
                401,
                Some("text/html;charset=UTF-8"),
                "Basic Authentication Failure - Reason : AUTHENTICATION_FAILED",
            );
            set_header(&mut resp, "x-seraph-loginreason", "AUTHENTICATION_FAILED");
            set_header(&mut resp, "www-authenticate", "Basic realm=\"Confluence\"");
            return resp;
        }
        AuthOutcome::Captcha => {
            let mut resp = html(
                401,
                "Unauthorized (401)",
                "Basic Authentication Failure - Reason : AUTHENTICATION_DENIED. The user has exceeded the maximum number of failed login attempts; a CAPTCHA must be solved through the web UI.",
            );
            set_header(&mut resp, "x-seraph-loginreason", "AUTHENTICATION_DENIED");
            let realm = format!("OAuth realm=\"{}\"", sh.links.base);
            set_header(&mut resp, "www-authenticate", &realm);
            return resp;
        }
        AuthOutcome::Identified(who) => r.who = who,
    }
    let rate = match &sh.rate {
        None => None,
        Some(rl) => match lock(rl).take(r.user(), Instant::now()) {
            Ok(h) => Some(h),
            Err(h) => {
                let mut resp = error_msg(429, "Rate limit exceeded");
                add_rate_headers(&mut resp, &h);
                return resp;
            }
        },
    };
    let mut resp = route(sh, r, &rel).await;
    if let Some(h) = rate {
        add_rate_headers(&mut resp, &h);
    }
    if let Some(name) = r.who.name() {
        set_header(&mut resp, "x-ausername", name);
        set_header(&mut resp, "x-seraph-loginreason", "OK");
    }
    resp
}

async fn route(sh: &Shared, r: &mut Req, rel: &str) -> Response<OutBody> {
    let segs: Vec<String> = rel
        .trim_start_matches('/')
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = r.method.clone();
    let get = m == Method::GET || m == Method::HEAD;
    match s.as_slice() {
        ["rest", "api", "user", "current"] if get => current_user(sh, r),
        ["rest", "api", "content", id] => match m {
            _ if get => get_content(sh, r, id),
            Method::PUT => put_page(sh, r, id).await,
            Method::DELETE => delete_content(sh, r, id),
            _ => empty(405),
        },
        ["rest", "api", "content", id, "child", "attachment"] => match m {
            _ if get => list_attachments(sh, r, id),
            Method::POST => create_attachments(sh, r, id).await,
            _ => empty(405),
        },
        ["rest", "api", "content", _page, "child", "attachment", att] => match m {
            Method::PUT => put_attachment_metadata(sh, r, att).await,
            _ => empty(405),
        },
        ["rest", "api", "content", page, "child", "attachment", att, "data"] => match m {
            Method::POST => post_data(sh, r, page, att).await,
            _ => empty(405),
        },
        ["rest", "api", "content", id, "property"] => match m {
            _ if get => list_properties(sh, r, id),
            Method::POST => write_property(sh, r, id, None).await,
            _ => empty(405),
        },
        ["rest", "api", "content", id, "property", key] => match m {
            _ if get => get_property(sh, r, id, key),
            Method::POST | Method::PUT => write_property(sh, r, id, Some(key)).await,
            Method::DELETE => delete_property(sh, r, id, key),
            _ => empty(405),
        },
        ["rest", "experimental", "content", id, "version"] if get => list_versions(sh, r, id),
        ["rest", "experimental", "content", id, "version", n] => match m {
            _ if get => get_version(sh, r, id, n),
            Method::DELETE => delete_version(sh, r, id, n),
            _ => empty(405),
        },
        ["download", "attachments", page, name] if get => download(sh, r, page, name).await,
        _ => not_found_page(),
    }
}

// ---------------------------------------------------------------- pages and users

fn current_user(sh: &Shared, r: &Req) -> Response<OutBody> {
    match r.who.name() {
        Some(name) => {
            let mut v = render::user(&sh.links, name);
            v["_links"]["base"] = json!(sh.links.base);
            v["_links"]["context"] = json!(sh.links.context);
            json_resp(200, &v)
        }
        None => json_resp(200, &render::anonymous(&sh.links)),
    }
}

fn get_content(sh: &Shared, r: &Req, id: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    let expand = Expand::parse(Some(r.q("expand").unwrap_or("history,space,version")));
    let model = lock(&sh.model);
    if let Some(p) = model.pages.get(id) {
        return json_resp(200, &render::page(&sh.links, p, &expand, true));
    }
    let Some(a) = model.attachment(id) else {
        return error_resp(&no_content(id));
    };
    let status_ok = match r.q("status") {
        Some("any") | Some("trashed") => true,
        _ => a.status == Status::Current,
    };
    if !status_ok {
        return error_resp(&no_content(id));
    }
    let v = match r.q("version").map(str::parse::<u64>) {
        Some(Ok(n)) => match a.version(n) {
            Some(v) => v,
            None => return error_resp(&no_content(id)),
        },
        _ => a.current(),
    };
    json_resp(
        200,
        &render::attachment(&sh.links, a, v, model.pages.get(&a.page_id), &expand, true),
    )
}

async fn put_page(sh: &Shared, r: &mut Req, id: &str) -> Response<OutBody> {
    let body = match read_json(r).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    if !r.who.can_write() {
        return error_msg(
            403,
            &format!("Not permitted to update content with id: ContentId{{id={id}}}"),
        );
    }
    let mut model = lock(&sh.model);
    let minor = body["version"]["minorEdit"].as_bool().unwrap_or(false);
    let result = model.update_page(
        id,
        body["title"].as_str(),
        body["version"]["number"].as_u64(),
        body["body"]["storage"]["value"].as_str(),
        minor,
        r.user(),
        now_ms(),
    );
    match result {
        Ok(p) => {
            let out = render::page(
                &sh.links,
                p,
                &Expand::of(&["history", "space", "version"]),
                true,
            );
            let title = p.title.clone();
            sh.persist(&model);
            drop(model);
            if !minor {
                sh.notify(Notification {
                    kind: NotificationKind::PageUpdated,
                    page_id: id.to_string(),
                    content_id: id.to_string(),
                    title,
                    user: r.user().to_string(),
                });
            }
            json_resp(200, &out)
        }
        Err(e) => error_resp(&e),
    }
}

fn delete_content(sh: &Shared, r: &Req, id: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    let mut model = lock(&sh.model);
    if model.pages.contains_key(id) {
        return error_msg(
            403,
            &format!("Not permitted to delete content with id: ContentId{{id={id}}}"),
        );
    }
    match r.q("status") {
        None | Some("current") => {
            if !r.who.can_write() {
                return error_msg(
                    403,
                    &format!(
                        "You do not have the permissions to remove the attachment with id: {id}"
                    ),
                );
            }
            match model.trash_attachment(id) {
                Ok(a) => {
                    let n = Notification {
                        kind: NotificationKind::AttachmentTrashed,
                        page_id: a.page_id.clone(),
                        content_id: id.to_string(),
                        title: a.title.clone(),
                        user: r.user().to_string(),
                    };
                    sh.persist(&model);
                    drop(model);
                    sh.notify(n);
                    empty(204)
                }
                Err(e) => error_resp(&e),
            }
        }
        Some("trashed") => match model.purge_attachment(id, r.who.is_space_admin()) {
            Ok(freed) => {
                sh.persist(&model);
                drop(model);
                sh.store.remove_blobs(&freed);
                empty(204)
            }
            Err(e) => error_resp(&e),
        },
        Some("draft") => error_resp(&no_content(id)),
        Some(_) => error_msg(
            400,
            "Specified status for Content DELETE can only be 'current', 'draft' or 'trashed'",
        ),
    }
}

// ---------------------------------------------------------------- attachments

fn parse_usize(r: &Req, name: &str, default: usize) -> Result<usize, Response<OutBody>> {
    match r.q(name) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| error_msg(400, &format!("Invalid value for parameter {name}: {v}"))),
    }
}

/// `next`/`prev` links relative to base, keeping the other query parameters.
fn page_links(
    r: &Req,
    path: &str,
    start: usize,
    limit: usize,
    effective: usize,
    total: usize,
) -> (Option<String>, Option<String>) {
    let keep: Vec<(String, String)> = r
        .query
        .iter()
        .filter(|(k, _)| k != "start" && k != "limit")
        .cloned()
        .collect();
    let link = |s: usize| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &keep {
            q.append_pair(k, v);
        }
        q.append_pair("limit", &limit.to_string());
        q.append_pair("start", &s.to_string());
        format!("{path}?{}", q.finish())
    };
    let next = (effective > 0 && start + effective < total).then(|| link(start + effective));
    let prev = (start > 0).then(|| link(start.saturating_sub(effective.max(1))));
    (next, prev)
}

fn list_attachments(sh: &Shared, r: &Req, id: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    let (start, limit) = match (
        parse_usize(r, "start", 0),
        parse_usize(r, "limit", limits::ATTACHMENT_LIST_DEFAULT),
    ) {
        (Ok(s), Ok(l)) => (s, l),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let effective = limit.min(limits::ATTACHMENT_LIST_CAP);
    let expand = Expand::parse(r.q("expand"));
    let model = lock(&sh.model);
    let Some(page) = model.pages.get(id) else {
        return error_resp(&no_content(id));
    };
    let all = model.list_attachments(id, r.q("filename"), r.q("mediaType"));
    let path = format!("/rest/api/content/{id}/child/attachment");
    let bugged = sh.listing_bug_past_200
        && start >= limits::ATTACHMENT_LIST_CAP
        && all.len() > limits::ATTACHMENT_LIST_CAP
        && effective > 0;
    let chosen: Vec<_> = if bugged {
        // CONFSERVER-95396: a full page of (repeating) items, whatever is left.
        all.iter()
            .cycle()
            .skip(start % all.len())
            .take(effective)
            .collect()
    } else {
        all.iter().skip(start).take(effective).collect()
    };
    let results: Vec<Value> = chosen
        .into_iter()
        .map(|a| render::attachment(&sh.links, a, a.current(), Some(page), &expand, false))
        .collect();
    let total = if bugged { usize::MAX } else { all.len() };
    let (next, prev) = page_links(r, &path, start, limit, effective, total);
    json_resp(
        200,
        &render::rest_list(
            &sh.links,
            results,
            Some(start),
            Some(limit),
            &path,
            next,
            prev,
        ),
    )
}

fn upload_notification(
    kind: NotificationKind,
    page: &str,
    id: &str,
    title: &str,
    user: &str,
) -> Notification {
    Notification {
        kind,
        page_id: page.to_string(),
        content_id: id.to_string(),
        title: title.to_string(),
        user: user.to_string(),
    }
}

async fn create_attachments(sh: &Shared, r: &mut Req, page_id: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous || !lock(&sh.model).pages.contains_key(page_id) {
        return error_resp(&no_content(page_id));
    }
    if !r.who.can_write() {
        return error_msg(
            403,
            &format!(
                "User not permitted to create attachments for content: ContentId{{id={page_id}}}"
            ),
        );
    }
    let allow_duplicated = r
        .q("allowDuplicated")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let up = match read_multipart(sh, r).await {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    let names: Vec<String> = up.files.iter().map(|f| f.name.clone()).collect();
    let user = r.user().to_string();
    let mut model = lock(&sh.model);
    if let Err(e) = model.check_create(
        page_id,
        &names,
        &up.comments,
        up.minor_edits.len(),
        allow_duplicated,
    ) {
        let msg = e.to_string();
        return if msg.starts_with("Cannot add a new attachment with same file name") {
            error_msg(
                400,
                &format!("{msg}. Log referral number is {}", uuid::Uuid::new_v4()),
            )
        } else {
            error_resp(&e)
        };
    }
    let now = now_ms();
    let mut stored = Vec::new();
    let mut notes = Vec::new();
    for (i, f) in up.files.iter().enumerate() {
        if let Err(e) = sh.store.commit_upload(&f.tmp, &f.key) {
            tracing::error!(error = %e, "cannot commit upload");
            sh.persist(&model);
            return error_msg(500, &format!("Could not save attachment: {e}"));
        }
        let minor = up.minor(i);
        let s = model.store_file(
            page_id,
            NewFile {
                name: f.name.clone(),
                blob: f.key.clone(),
                size: f.size,
                media_type: resolve_media_type(&f.name, f.part_type.as_deref()),
                comment: up.comment(i),
                minor_edit: minor,
            },
            &user,
            now,
        );
        tracing::debug!(id = %s.id, sent = %f.sent_name, size = f.size, created = s.created, "attachment stored");
        if up.notifies(i) {
            let kind = if s.created {
                NotificationKind::AttachmentCreated
            } else {
                NotificationKind::AttachmentUpdated
            };
            notes.push(upload_notification(kind, page_id, &s.id, &f.name, &user));
        }
        stored.push(s.id);
    }
    sh.persist(&model);
    let page = model.pages.get(page_id);
    let expand = Expand::of(&["version", "container"]);
    let results: Vec<Value> = stored
        .iter()
        .filter_map(|id| model.attachment(id))
        .map(|a| render::attachment(&sh.links, a, a.current(), page, &expand, false))
        .collect();
    drop(model);
    for n in notes {
        sh.notify(n);
    }
    let n = results.len();
    json_resp(
        200,
        &render::rest_list(
            &sh.links,
            results,
            Some(0),
            Some(n),
            &format!("/rest/api/content/{page_id}/child/attachment"),
            None,
            None,
        ),
    )
}

async fn post_data(sh: &Shared, r: &mut Req, page_id: &str, att_id: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(page_id));
    }
    let found = lock(&sh.model)
        .check_data(att_id, None)
        .map(|a| a.status == Status::Current);
    match found {
        Err(e) => return error_resp(&e),
        Ok(false) => return error_msg(404, &format!("Can't find attachment with id: {att_id}")),
        Ok(true) => {}
    }
    if !r.who.can_write() {
        return error_msg(403, "You do not have permission to update this Attachment");
    }
    let up = match read_multipart(sh, r).await {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    let Some(f) = up.files.first() else {
        return error_msg(400, "At least one attachment file must be included.");
    };
    if up.files.len() > 1 {
        return error_msg(400, "Only one attachment file can be updated at a time.");
    }
    let user = r.user().to_string();
    let minor = up.minor(0);
    let mut model = lock(&sh.model);
    if let Err(e) = model.check_data(att_id, Some(&up.comment(0))) {
        return error_resp(&e);
    }
    if let Err(e) = sh.store.commit_upload(&f.tmp, &f.key) {
        return error_msg(500, &format!("Could not save attachment: {e}"));
    }
    let file = NewFile {
        name: f.name.clone(),
        blob: f.key.clone(),
        size: f.size,
        media_type: resolve_media_type(&f.name, f.part_type.as_deref()),
        comment: up.comment(0),
        minor_edit: minor,
    };
    let out = match model.add_data_version(att_id, file, &user, now_ms()) {
        Ok(a) => {
            let a = a.clone();
            let page = page_snapshot(&model, &a.page_id);
            render::attachment(
                &sh.links,
                &a,
                a.current(),
                page.as_ref(),
                &Expand::of(&["version", "container"]),
                true,
            )
        }
        Err(e) => {
            sh.store.remove_blobs(std::slice::from_ref(&f.key));
            return error_resp(&e);
        }
    };
    sh.persist(&model);
    let title = out["title"].as_str().unwrap_or_default().to_string();
    let page = model
        .attachment(att_id)
        .map(|a| a.page_id.clone())
        .unwrap_or_default();
    drop(model);
    if up.notifies(0) {
        sh.notify(upload_notification(
            NotificationKind::AttachmentUpdated,
            &page,
            att_id,
            &title,
            &user,
        ));
    }
    json_resp(200, &out)
}

/// A copy of a page, so it can be rendered next to a mutably borrowed attachment.
fn page_snapshot(model: &crate::model::Model, id: &str) -> Option<crate::model::Page> {
    model.pages.get(id).cloned()
}

async fn put_attachment_metadata(sh: &Shared, r: &mut Req, att_id: &str) -> Response<OutBody> {
    let body = match read_json(r).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(att_id));
    }
    if !r.who.can_write() {
        return error_msg(403, "You do not have permission to update this Attachment");
    }
    let upd = MetadataUpdate {
        id: body["id"].as_str().map(str::to_string),
        version: body["version"]["number"].as_u64(),
        title: body["title"].as_str().map(str::to_string),
        comment: body["metadata"]["comment"].as_str().map(str::to_string),
        media_type: body["metadata"]["mediaType"].as_str().map(str::to_string),
        container_id: body["container"]["id"]
            .as_str()
            .map(str::to_string)
            .or_else(|| body["container"]["id"].as_u64().map(|n| n.to_string())),
        minor_edit: body["version"]["minorEdit"].as_bool().unwrap_or(false),
    };
    let mut model = lock(&sh.model);
    let out = match model.update_metadata(upd, r.who.is_space_admin(), r.user(), now_ms()) {
        Ok(a) => {
            let a = a.clone();
            let page = page_snapshot(&model, &a.page_id);
            render::attachment(
                &sh.links,
                &a,
                a.current(),
                page.as_ref(),
                &Expand::of(&["version", "container"]),
                true,
            )
        }
        Err(e) => return error_resp(&e),
    };
    sh.persist(&model);
    json_resp(200, &out)
}

// ---------------------------------------------------------------- versions

fn list_versions(sh: &Shared, r: &Req, id: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    let (start, limit) = match (
        parse_usize(r, "start", 0),
        parse_usize(r, "limit", limits::VERSION_LIST_DEFAULT),
    ) {
        (Ok(s), Ok(l)) => (s, l),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let effective = limit.min(limits::VERSION_LIST_DEFAULT);
    let model = lock(&sh.model);
    let Some(a) = model.attachment(id) else {
        return error_resp(&no_content(id));
    };
    let results: Vec<Value> = a
        .versions
        .iter()
        .rev()
        .skip(start)
        .take(effective)
        .map(|v| render::attachment_version(&sh.links, a, v))
        .collect();
    let path = format!("/rest/experimental/content/{id}/version");
    let (next, prev) = page_links(r, &path, start, limit, effective, a.versions.len());
    json_resp(
        200,
        &render::rest_list(
            &sh.links,
            results,
            Some(start),
            Some(limit),
            &path,
            next,
            prev,
        ),
    )
}

fn get_version(sh: &Shared, r: &Req, id: &str, n: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    let model = lock(&sh.model);
    let Some(a) = model.attachment(id) else {
        return error_resp(&no_content(id));
    };
    match n.parse::<u64>().ok().and_then(|n| a.version(n)) {
        Some(v) => {
            let mut out = render::attachment_version(&sh.links, a, v);
            out["_links"]["base"] = json!(sh.links.base);
            out["_links"]["context"] = json!(sh.links.context);
            json_resp(200, &out)
        }
        None => error_msg(
            404,
            &format!("No version: {n} for content with id: ContentId{{id={id}}}"),
        ),
    }
}

fn delete_version(sh: &Shared, r: &Req, id: &str, n: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    let Ok(number) = n.parse::<u64>() else {
        return error_msg(400, &format!("Invalid version number: {n}"));
    };
    if !r.who.can_write() {
        return error_msg(
            403,
            &format!("You do not have the permissions to remove the attachment with id: {id}"),
        );
    }
    let mut model = lock(&sh.model);
    let Some((page, title)) = model
        .attachment(id)
        .map(|a| (a.page_id.clone(), a.title.clone()))
    else {
        return error_resp(&no_content(id));
    };
    match model.delete_version(id, number) {
        Ok((freed, _gone)) => {
            sh.persist(&model);
            drop(model);
            sh.store.remove_blobs(&freed);
            sh.notify(upload_notification(
                NotificationKind::AttachmentVersionDeleted,
                &page,
                id,
                &title,
                r.user(),
            ));
            empty(204)
        }
        Err(e) => error_resp(&e),
    }
}

// ---------------------------------------------------------------- properties

fn list_properties(sh: &Shared, r: &Req, id: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    let (start, limit) = match (
        parse_usize(r, "start", 0),
        parse_usize(r, "limit", limits::PROPERTY_LIST_DEFAULT),
    ) {
        (Ok(s), Ok(l)) => (s, l),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let model = lock(&sh.model);
    let props = match model.properties_of(id) {
        Ok(p) => p,
        Err(e) => return error_resp(&e),
    };
    let Some(page) = model.pages.get(id) else {
        return error_resp(&no_content(id));
    };
    let results: Vec<Value> = props
        .iter()
        .skip(start)
        .take(limit)
        .map(|p| render::property(&sh.links, p, page))
        .collect();
    let path = format!("/rest/api/content/{id}/property");
    let (next, prev) = page_links(r, &path, start, limit, limit, props.len());
    json_resp(
        200,
        &render::rest_list(
            &sh.links,
            results,
            Some(start),
            Some(limit),
            &path,
            next,
            prev,
        ),
    )
}

fn get_property(sh: &Shared, r: &Req, id: &str, key: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    let model = lock(&sh.model);
    match model.property(id, key) {
        Ok(p) => match model.pages.get(id) {
            Some(page) => json_resp(200, &render::property(&sh.links, p, page)),
            None => error_resp(&no_content(id)),
        },
        Err(e) => error_resp(&e),
    }
}

async fn write_property(
    sh: &Shared,
    r: &mut Req,
    id: &str,
    path_key: Option<&str>,
) -> Response<OutBody> {
    let body = match read_json(r).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    if !r.who.can_write() {
        if !lock(&sh.model).pages.contains_key(id) {
            return error_resp(&no_content(id));
        }
        return error_msg(
            403,
            &format!("User not permitted to edit content with id: ContentId{{id={id}}}"),
        );
    }
    let value = body.get("value").cloned();
    let user = r.user().to_string();
    let now = now_ms();
    let mut model = lock(&sh.model);
    let result = match (r.method.clone(), path_key) {
        (Method::PUT, Some(key)) => model.put_property(
            id,
            key,
            body["key"].as_str(),
            value,
            body["version"]["number"].as_u64(),
            body["version"]["minorEdit"].as_bool().unwrap_or(false),
            &user,
            now,
        ),
        (_, Some(key)) => {
            if body["key"].as_str().is_some_and(|k| k != key) {
                Err(ModelError::BadRequest("Path/value mismatch on key".into()))
            } else {
                model.create_property(id, key, value, &user, now)
            }
        }
        (_, None) => match body["key"].as_str() {
            Some(key) => model.create_property(id, key, value, &user, now),
            None => Err(ModelError::BadRequest(
                "Property key cannot be blank".into(),
            )),
        },
    };
    let out = match result {
        Ok(p) => {
            let p = p.clone();
            match model.pages.get(id) {
                Some(page) => render::property(&sh.links, &p, page),
                None => return error_resp(&no_content(id)),
            }
        }
        Err(e) => return error_resp(&e),
    };
    sh.persist(&model);
    json_resp(200, &out)
}

fn delete_property(sh: &Shared, r: &Req, id: &str, key: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return error_resp(&no_content(id));
    }
    if !r.who.can_write() {
        return error_msg(
            403,
            &format!("User not permitted to edit content with id: ContentId{{id={id}}}"),
        );
    }
    let mut model = lock(&sh.model);
    match model.delete_property(id, key) {
        Ok(()) => {
            sh.persist(&model);
            empty(204)
        }
        Err(e) => error_resp(&e),
    }
}

// ---------------------------------------------------------------- download servlet

/// A single byte range resolved against a length.
#[derive(Debug, PartialEq, Eq)]
enum RangeSpec {
    /// Serve everything (no, multiple or unparseable ranges).
    Full,
    /// Inclusive byte range.
    Part(u64, u64),
    /// 416.
    Unsatisfiable,
}

fn parse_range(header: Option<&str>, len: u64) -> RangeSpec {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeSpec::Full;
    };
    if spec.contains(',') {
        return RangeSpec::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeSpec::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        return match b.parse::<u64>() {
            Ok(0) => RangeSpec::Unsatisfiable,
            Ok(_) if len == 0 => RangeSpec::Unsatisfiable,
            Ok(n) => RangeSpec::Part(len.saturating_sub(n), len - 1),
            Err(_) => RangeSpec::Full,
        };
    }
    let Ok(start) = a.parse::<u64>() else {
        return RangeSpec::Full;
    };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => e,
            _ => return RangeSpec::Full,
        }
    };
    if start >= len {
        return RangeSpec::Unsatisfiable;
    }
    RangeSpec::Part(start, end.min(len - 1))
}

async fn download(sh: &Shared, r: &Req, page_id: &str, name: &str) -> Response<OutBody> {
    if r.who == Identity::Anonymous {
        return not_found_page();
    }
    let found = {
        let model = lock(&sh.model);
        model.find_by_name(page_id, name).and_then(|a| {
            let v = match r.q("version").map(str::parse::<u64>) {
                Some(Ok(n)) => a.version(n)?,
                Some(Err(_)) | None => a.current(),
            };
            Some((a.title.clone(), v.clone()))
        })
    };
    let Some((title, v)) = found else {
        return not_found_page();
    };
    let path = sh.store.blob_path(&v.blob);
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "blob missing");
            return not_found_page();
        }
    };
    let len = v.size;
    let (status, start, count) = match parse_range(r.header("range"), len) {
        RangeSpec::Full => (200, 0, len),
        RangeSpec::Part(a, b) => (206, a, b - a + 1),
        RangeSpec::Unsatisfiable => {
            let mut resp = empty(416);
            set_header(&mut resp, "content-range", &format!("bytes */{len}"));
            set_header(&mut resp, "accept-ranges", "bytes");
            return resp;
        }
    };
    if start > 0 {
        if let Err(e) = file.seek(io::SeekFrom::Start(start)).await {
            return error_msg(500, &format!("cannot read attachment: {e}"));
        }
    }
    let reader = tokio::io::AsyncReadExt::take(file, count);
    let stream =
        tokio_util::io::ReaderStream::with_capacity(reader, IO_BUF).map(|c| c.map(Frame::data));
    let mut resp = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(count));
    set_header(&mut resp, "content-type", &v.media_type);
    set_header(&mut resp, "accept-ranges", "bytes");
    set_header(
        &mut resp,
        "content-disposition",
        &format!(
            "attachment; filename*=UTF-8''{}",
            render::encode_name(&title)
        ),
    );
    if status == 206 {
        set_header(
            &mut resp,
            "content-range",
            &format!("bytes {start}-{}/{len}", start + count - 1),
        );
    }
    resp
}

// ---------------------------------------------------------------- response body wrapper

/// Response body that counts bytes into the request log and applies body faults and the
/// bandwidth throttle.
pub(crate) struct CountingBody {
    inner: OutBody,
    shared: Arc<Shared>,
    seq: u64,
    /// Bytes still allowed (`None` = unlimited).
    remaining: Option<u64>,
    /// At the limit: `true` cuts the connection, `false` ends the body quietly.
    reset: bool,
    bandwidth: Option<u64>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    done: bool,
}

impl Body for CountingBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(s) = this.sleep.as_mut() {
            if s.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.sleep = None;
        }
        if this.remaining == Some(0) {
            this.done = true;
            return Poll::Ready(if this.reset {
                tracing::warn!("fault: connection reset in the middle of the response body");
                Some(Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "injected reset",
                )))
            } else {
                None
            });
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(mut data) => {
                    if let Some(rem) = this.remaining.as_mut() {
                        if data.len() as u64 > *rem {
                            data.truncate(*rem as usize);
                        }
                        *rem -= data.len() as u64;
                    }
                    let n = data.len() as u64;
                    lock(&this.shared.log).update(this.seq, |e| e.bytes_out += n);
                    if let Some(bw) = this.bandwidth {
                        let secs = n as f64 / bw as f64;
                        this.sleep =
                            Some(Box::pin(tokio::time::sleep(Duration::from_secs_f64(secs))));
                    }
                    if this.reset && this.remaining == Some(0) {
                        // Let hyper flush the headers and the first half before the cut, so the
                        // client sees a response whose body breaks, not a refused request.
                        this.sleep = Some(Box::pin(tokio::time::sleep(RESET_GRACE)));
                    }
                    Poll::Ready(Some(Ok(Frame::data(data))))
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || (self.inner.is_end_stream() && self.remaining != Some(0))
    }

    fn size_hint(&self) -> SizeHint {
        match self.remaining {
            Some(r) if !self.reset => {
                let mut h = SizeHint::new();
                h.set_upper(r);
                h
            }
            _ => self.inner.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_like_a_single_range_server() {
        assert_eq!(parse_range(None, 10), RangeSpec::Full);
        assert_eq!(parse_range(Some("bytes=2-4"), 10), RangeSpec::Part(2, 4));
        assert_eq!(parse_range(Some("bytes=5-"), 10), RangeSpec::Part(5, 9));
        assert_eq!(parse_range(Some("bytes=-3"), 10), RangeSpec::Part(7, 9));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), RangeSpec::Part(8, 9));
        assert_eq!(parse_range(Some("bytes=10-"), 10), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), RangeSpec::Full);
        assert_eq!(parse_range(Some("bytes=4-2"), 10), RangeSpec::Full);
    }
}
