//! The HTTP surface: one `serve` function per request that logs it, applies faults, checks
//! XSRF, authentication and rate limits, dispatches to the endpoint handlers and wraps the
//! response body (byte counting, truncation/reset faults, bandwidth throttling) and the request
//! body (the upload bandwidth cap).
//!
//! Invariants: uploads stream to a temp file and are refused as soon as a limit is crossed
//! (never buffered whole); a request body the handler did not read is drained (bounded) before
//! the answer so clients see the status instead of a reset; the model lock is never held
//! across an `.await`.
//!
//! This file holds the request (`Req`), `serve`, authentication and the route table; one file
//! per resource holds its handlers (`content`, `attachments`, `versions`, `properties`,
//! `users`, `download`, `restrictions` — which also enforces content restrictions on every
//! route), beside the shared pieces: `paging`, `respond`, `request_body`, `multipart`,
//! `fault_answers` and `counting_body`.

// Handlers return a complete HTTP answer as their error; it is built once per request, so
// boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

mod attachments;
mod capped_body;
mod content;
mod counting_body;
mod download;
mod fault_answers;
mod multipart;
mod paging;
mod pat;
mod properties;
mod request_body;
mod respond;
mod restrictions;
mod users;
mod versions;

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH};
use http::{HeaderMap, Method, Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use percent_encoding::percent_decode_str;

use capped_body::CappedBody;
pub(crate) use counting_body::CountingBody;

use crate::auth::{is_browser_agent, xsrf_header_ok, AuthOutcome, Identity};
use crate::faults::RequestClass;
use crate::spawn::{lock, LoggedRequest, Shared};
use attachments::{create_attachments, list_attachments, post_data, put_attachment_metadata};
use content::{delete_content, get_content, put_page};
use download::download;
use fault_answers::fault_response;
use properties::{delete_property, get_property, list_properties, write_property};
use request_body::{drain, has_request_body};
use respond::{add_rate_headers, empty, error_msg, full, html, not_found_page, set_header};
use users::current_user;
use versions::{delete_version, get_version, list_versions};

/// Boxed response body produced by handlers.
pub(crate) type OutBody = BoxBody<Bytes, io::Error>;
/// A request body as handlers read it: through the upload cap.
pub(crate) type InBody = CappedBody<Incoming>;

/// At most this many unread request bytes are drained before answering; beyond, the
/// connection is closed after the answer.
const DRAIN_MAX: u64 = 4 * 1024 * 1024 * 1024;
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
    body: Option<InBody>,
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
        body: Some(CappedBody::new(
            body,
            sh.wire
                .upload_cap(plan.upload_bandwidth, plan.shared_bandwidth),
        )),
        body_read: false,
        who: Identity::Anonymous,
        bytes_in: 0,
        fields: Vec::new(),
        files: Vec::new(),
    };
    let over_proxy_limit = sh.proxy_body_limit.is_some_and(|limit| {
        r.headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|len| len > limit)
    });
    let resp = if over_proxy_limit {
        tracing::info!(%path, "proxy: request body over its limit, 413");
        respond::proxy_too_large()
    } else if let Some(kind) = &plan.replace {
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
        CountingBody::new(
            body,
            sh.clone(),
            seq,
            limit,
            reset,
            sh.wire.download_cap(plan.bandwidth, plan.shared_bandwidth),
        ),
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
    if let Some(refused) = restrictions::enforce(sh, r, &s) {
        return refused;
    }
    match s.as_slice() {
        ["rest", "api" | "experimental", "content", id, "restriction", rest @ ..] => {
            restrictions::route(sh, r, id, rest).await
        }
        ["rest", "api", "user", "current"] if get => current_user(sh, r),
        ["rest", "pat", "latest" | "1.0", "tokens"] if get => pat::list_tokens(sh, r),
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
