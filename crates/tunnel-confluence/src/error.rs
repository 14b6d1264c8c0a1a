//! Mapping of HTTP answers and transport failures to [`RemoteError`]s with messages a person
//! understands (wrong password, locked account, untrusted certificate, no permission, …).
//!
//! Invariants: no message contains a credential or a response body beyond the server's own
//! short error text (at most [`MAX_MESSAGE_CHARS`] characters; HTML pages are never quoted).
//! The functions here are pure: they read an already received [`Answer`] or error value.

use reqwest::header::HeaderMap;
use serde::Deserialize;
use tunnel_core::remote::RemoteError;

use crate::retry::{is_retryable_status, parse_retry_after, Transient};

/// Longest server text quoted in an error message.
pub(crate) const MAX_MESSAGE_CHARS: usize = 300;

/// Header Confluence sets on every request it authenticated.
pub(crate) const USERNAME_HEADER: &str = "x-ausername";
/// Header carrying Seraph's login verdict (`OK`, `AUTHENTICATION_DENIED`, …).
pub(crate) const LOGIN_REASON_HEADER: &str = "x-seraph-loginreason";

/// The text of an error and of all its sources, joined by `": "` (duplicates skipped).
pub(crate) fn chain_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// Whether any error in the chain is the TLS stack's own error type.
fn chain_has_tls_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.is::<native_tls::Error>() {
            return true;
        }
        cur = e.source();
    }
    false
}

/// Recognise a TLS/certificate failure in an error chain (OpenSSL, Schannel and Secure
/// Transport wordings) and describe it. `None` when the failure is not about TLS.
pub(crate) fn describe_tls_failure(
    chain: &str,
    host: &str,
    tls_error_seen: bool,
) -> Option<String> {
    let l = chain.to_ascii_lowercase();
    let has = |s: &str| l.contains(s);
    // Alerts are sent by the server about *our* certificate.
    let msg = if has("alert certificate expired") || has("alert_certificate_expired") {
        format!("the server {host} rejected our client certificate: it has expired")
    } else if has("alert unknown ca") || has("alert_unknown_ca") {
        format!(
            "the server {host} does not trust our client certificate (it was issued by a CA the \
             server does not know)"
        )
    } else if has("certificate required") || has("alert handshake failure") && !has("verify") {
        format!(
            "the server {host} requires a client certificate; configure the .p12 certificate \
             (or check that it is the right one)"
        )
    } else if has("alert bad certificate")
        || has("alert certificate unknown")
        || has("alert certificate revoked")
        || has("alert unsupported certificate")
        || has("alert access denied")
    {
        format!(
            "the server {host} rejected our client certificate ({})",
            tail(chain)
        )
    } else if has("certificate has expired") || has("certificate expired") {
        format!("the certificate of the server {host} has expired")
    } else if has("hostname mismatch")
        || has("does not match")
        || has("ip address mismatch")
        || has("certificate is not valid for")
    {
        format!("the certificate of the server does not belong to {host}")
    } else if has("self-signed")
        || has("self signed")
        || has("unable to get local issuer")
        || has("unable to get issuer")
        || has("certificate verify failed")
        || has("untrusted root")
        || has("not trusted")
        || has("unknown issuer")
    {
        format!(
            "the certificate of the server {host} is not trusted; add your organisation's root \
             CA (a PEM file) as the CA file ({})",
            tail(chain)
        )
    } else if has("wrong version number") || has("http request") && has("https") {
        format!("{host} does not speak TLS on this port: check http:// versus https://")
    } else if tls_error_seen || has("ssl routines") || has("tls handshake") {
        format!("the TLS connection to {host} failed ({})", tail(chain))
    } else {
        return None;
    };
    Some(msg)
}

/// The last, most specific part of an error chain, shortened.
fn tail(chain: &str) -> String {
    let last = chain
        .rsplit(": ")
        .find(|s| !s.trim().is_empty())
        .unwrap_or(chain);
    shorten(last)
}

/// Cut a text to [`MAX_MESSAGE_CHARS`] characters on a char boundary, single-line.
pub(crate) fn shorten(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= MAX_MESSAGE_CHARS {
        one_line
    } else {
        let cut: String = one_line.chars().take(MAX_MESSAGE_CHARS).collect();
        format!("{cut}…")
    }
}

/// What to do after a request failed before an answer arrived.
pub(crate) enum TransportFailure {
    /// Worth another attempt.
    Transient(Transient),
    /// Final (certificate problems, invalid request).
    Final(RemoteError),
}

/// Classify a reqwest error for `url` (no query string, no credentials in it).
pub(crate) fn map_transport(err: &reqwest::Error, url: &url::Url) -> TransportFailure {
    let chain = chain_text(err);
    let host = url.host_str().unwrap_or("the server").to_owned();
    if let Some(msg) = describe_tls_failure(&chain, &host, chain_has_tls_error(err)) {
        return TransportFailure::Final(RemoteError::Certificate(msg));
    }
    if err.is_builder() {
        return TransportFailure::Final(RemoteError::Protocol(format!(
            "could not build a request for {}: {}",
            display_url(url),
            shorten(&chain)
        )));
    }
    let detail = if err.is_connect() {
        match crate::proxy_env::proxy_for(url, |v| std::env::var(v).ok()) {
            Some(p) => format!(
                "cannot connect to the proxy {} (set by {}): {}",
                p.url,
                p.var,
                tail(&chain)
            ),
            None => format!("cannot connect ({})", tail(&chain)),
        }
    } else {
        shorten(&chain)
    };
    TransportFailure::Transient(Transient::Transport {
        url: display_url(url),
        detail,
        timeout: err.is_timeout(),
    })
}

/// `scheme://host[:port]/path` of a URL: no query, no user info.
pub(crate) fn display_url(url: &url::Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    // Setting empty user info cannot fail for http(s) URLs; ignore the impossible error.
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

/// The DC error body shape (`statusCode`, `message`, `reason`, …); only `message` and
/// `statusCode` are used.
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "statusCode")]
    status_code: Option<u64>,
}

/// An HTTP answer reduced to what error mapping needs. The body is read (bounded) only for
/// non-success statuses.
#[derive(Clone, Debug)]
pub(crate) struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `X-AUSERNAME` when present.
    pub username: Option<String>,
    /// `X-Seraph-LoginReason` when present.
    pub login_reason: Option<String>,
    /// `Location` for redirects.
    pub location: Option<String>,
    /// `Retry-After`, parsed.
    pub retry_after: Option<std::time::Duration>,
    /// The server's error text: JSON `message`, or plain text; empty for HTML.
    pub message: String,
    /// The body was an HTML page.
    pub html: bool,
    /// The body is Confluence's own JSON error: an object with a `message` and a
    /// `statusCode` equal to the HTTP status. Proxies, gateways and servlet containers in
    /// front of Confluence answer with HTML, plain text, an empty body or JSON of another
    /// shape, so only such an answer may be read as "this does not exist".
    pub confluence: bool,
}

impl Answer {
    /// Build from headers and a (possibly truncated) body.
    pub(crate) fn new(status: u16, headers: &HeaderMap, body: &[u8]) -> Self {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_owned())
        };
        let content_type = header("content-type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let html = content_type.contains("html") || looks_like_html(body);
        let mut confluence = false;
        let message = if html {
            String::new()
        } else {
            match serde_json::from_slice::<ErrorBody>(body) {
                Ok(ErrorBody {
                    message: Some(m),
                    status_code,
                }) => {
                    confluence = status_code == Some(u64::from(status));
                    shorten(&m)
                }
                _ => shorten(&String::from_utf8_lossy(body)),
            }
        };
        Answer {
            status,
            username: header(USERNAME_HEADER).filter(|u| !u.is_empty()),
            login_reason: header(LOGIN_REASON_HEADER),
            location: header("location"),
            retry_after: header("retry-after")
                .and_then(|v| parse_retry_after(&v, std::time::SystemTime::now())),
            message,
            html,
            confluence,
        }
    }

    /// Whether another attempt may succeed.
    pub(crate) fn is_transient(&self) -> bool {
        is_retryable_status(self.status, &self.message) && !self.is_too_large()
    }

    /// The retry cause for a transient answer (`Retry-After` only counts for 429 and 503).
    pub(crate) fn to_transient(&self) -> Transient {
        let retry_after = match self.status {
            429 | 503 => self.retry_after,
            _ => None,
        };
        Transient::Status {
            status: self.status,
            message: if self.message.is_empty() {
                reason_phrase(self.status)
            } else {
                self.message.clone()
            },
            retry_after,
        }
    }

    /// Whether the server refused the size of the upload.
    pub(crate) fn is_too_large(&self) -> bool {
        self.status == 413
            || ((400..500).contains(&self.status)
                && self
                    .message
                    .to_ascii_lowercase()
                    .contains("exceeds its maximum permitted size"))
    }
}

fn looks_like_html(body: &[u8]) -> bool {
    let start: Vec<u8> = body
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(15)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    start.starts_with(b"<!doctype html") || start.starts_with(b"<html")
}

fn reason_phrase(status: u16) -> String {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("no message")
        .to_owned()
}

/// First number after `marker` (case-insensitive), skipping spaces, `:` and `=`.
fn number_after(text: &str, marker: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let idx = lower.rfind(marker)? + marker.len();
    let rest = &text[idx..];
    let rest = rest.trim_start_matches([' ', ':', '=']);
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// The latest version named by a 409 message (`… Latest version is 5`, `… Current version
/// is: 5`).
pub(crate) fn parse_current_version(message: &str) -> Option<u64> {
    number_after(message, "version is")
}

/// The size limit named by a too-large message (`… maximum permitted size of 1048576 bytes`).
pub(crate) fn parse_size_limit(message: &str) -> Option<u64> {
    number_after(message, "permitted size of").or_else(|| number_after(message, "size of"))
}

/// What the request was about, for messages.
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    /// The page the store works on.
    pub page_id: String,
    /// Message for 403 (without the "permission denied: " prefix).
    pub forbidden: Option<String>,
    /// Message for 404 (without the "not found: " prefix).
    pub not_found: Option<String>,
    /// Credentials were Bearer (affects the 401 wording).
    pub bearer: bool,
}

/// The final error for a non-success, non-transient answer.
pub(crate) fn map_status(ans: &Answer, ctx: &Ctx) -> RemoteError {
    let server_says = if ans.message.is_empty() {
        String::new()
    } else {
        format!(" (server: {})", ans.message)
    };
    let anonymous_hint = if ans.username.is_none() {
        " — note: the server treated the request as anonymous, so the credentials may not have \
         been accepted"
    } else {
        ""
    };
    if ans.is_too_large() {
        let limit = parse_size_limit(&ans.message);
        let message = match limit {
            Some(n) => format!("the attachment is larger than this server allows ({n} bytes)"),
            None => format!(
                "the server (or a proxy in front of it) refused the upload as too large \
                 (HTTP {}){server_says}",
                ans.status
            ),
        };
        return RemoteError::TooLarge { limit, message };
    }
    match ans.status {
        300..=399 => redirect_error(ans),
        401 => {
            let denied = ans
                .login_reason
                .as_deref()
                .is_some_and(|r| r.to_ascii_uppercase().contains("AUTHENTICATION_DENIED"));
            if denied {
                RemoteError::Auth(
                    "Confluence refused the login because the account is locked behind a \
                     CAPTCHA after failed logins: log in once in the browser and solve the \
                     CAPTCHA, then try again (check the password first)"
                        .into(),
                )
            } else if ctx.bearer {
                RemoteError::Auth(
                    "the access token was not accepted (HTTP 401): it may be wrong, expired or \
                     revoked"
                        .into(),
                )
            } else {
                RemoteError::Auth(format!(
                    "wrong user name or password (HTTP 401){server_says}"
                ))
            }
        }
        403 if ans.message.to_ascii_lowercase().contains("xsrf") => RemoteError::Protocol(
            "the server refused the request as cross-site (XSRF check failed); a proxy may be \
             rewriting the request headers"
                .into(),
        ),
        403 => RemoteError::Permission(format!(
            "{}{server_says}{anonymous_hint}",
            ctx.forbidden
                .clone()
                .unwrap_or_else(|| format!("not allowed on page {}", ctx.page_id))
        )),
        404 => RemoteError::NotFound(format!(
            "{}{server_says}{anonymous_hint}",
            ctx.not_found.clone().unwrap_or_else(|| format!(
                "page {} does not exist (or you may not see it)",
                ctx.page_id
            ))
        )),
        409 => RemoteError::Conflict {
            current: parse_current_version(&ans.message),
        },
        429 => RemoteError::RateLimited {
            retry_after_secs: ans.retry_after.map(|d| d.as_secs()),
            message: format!("HTTP 429{server_says}"),
        },
        500..=599 => RemoteError::Server {
            status: ans.status,
            message: if ans.message.is_empty() {
                reason_phrase(ans.status)
            } else {
                ans.message.clone()
            },
        },
        _ if ans.html => RemoteError::Protocol(format!(
            "the server answered HTTP {} with an HTML page instead of a REST answer (a login \
             page or a proxy error?)",
            ans.status
        )),
        status => RemoteError::Protocol(format!(
            "the server rejected the request (HTTP {status}){server_says}"
        )),
    }
}

/// The error for a 3xx answer: we never follow redirects (an SSO login page is not content).
pub(crate) fn redirect_error(ans: &Answer) -> RemoteError {
    match ans.location.as_deref() {
        Some(loc) => RemoteError::Protocol(format!(
            "the server redirected the request to {} — probably a single sign-on login page; \
             sber-tunnel needs direct REST access (check the server address, or ask for the \
             REST and download paths to be exempted from SSO)",
            shorten(strip_query(loc))
        )),
        None => RemoteError::Protocol(format!(
            "the server answered with a redirect (HTTP {}) without a target",
            ans.status
        )),
    }
}

fn strip_query(loc: &str) -> &str {
    loc.split(['?', '#']).next().unwrap_or(loc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        Answer::new(status, &map, body.as_bytes())
    }

    fn ctx() -> Ctx {
        Ctx {
            page_id: "65601".into(),
            forbidden: Some("no permission to add attachments to page 65601".into()),
            not_found: None,
            bearer: false,
        }
    }

    const JSON: (&str, &str) = ("content-type", "application/json");
    const USER: (&str, &str) = ("x-ausername", "svc");

    #[test]
    fn auth_errors_read_like_sentences() {
        let e = map_status(&answer(401, &[], ""), &ctx());
        assert!(
            matches!(&e, RemoteError::Auth(m) if m.contains("wrong user name or password")),
            "{e}"
        );
        let e = map_status(
            &answer(
                401,
                &[
                    ("x-seraph-loginreason", "AUTHENTICATION_DENIED"),
                    ("content-type", "text/html"),
                ],
                "<html>captcha</html>",
            ),
            &ctx(),
        );
        assert!(
            matches!(&e, RemoteError::Auth(m) if m.contains("CAPTCHA") && m.contains("browser")),
            "{e}"
        );
        let e = map_status(
            &answer(401, &[], ""),
            &Ctx {
                bearer: true,
                ..ctx()
            },
        );
        assert!(
            matches!(&e, RemoteError::Auth(m) if m.contains("token")),
            "{e}"
        );
    }

    #[test]
    fn permission_and_not_found_name_the_page() {
        let body = r#"{"statusCode":403,"message":"User not permitted to create attachments for content: 65601","reason":"Forbidden"}"#;
        let e = map_status(&answer(403, &[JSON, USER], body), &ctx());
        assert!(
            matches!(&e, RemoteError::Permission(m)
                if m.starts_with("no permission to add attachments to page 65601")
                && m.contains("User not permitted") && !m.contains("anonymous")),
            "{e}"
        );
        let body =
            r#"{"statusCode":404,"message":"No content found with id: ContentId{id=65601}"}"#;
        let e = map_status(&answer(404, &[JSON, USER], body), &ctx());
        assert!(
            matches!(&e, RemoteError::NotFound(m)
                if m.starts_with("page 65601 does not exist (or you may not see it)")),
            "{e}"
        );
        let e = map_status(&answer(404, &[JSON], body), &ctx());
        assert!(
            matches!(&e, RemoteError::NotFound(m) if m.contains("anonymous")),
            "{e}"
        );
    }

    #[test]
    fn too_large_is_recognised_by_status_and_by_text() {
        let e = map_status(
            &answer(413, &[("content-type", "text/html")], "<html>nginx</html>"),
            &ctx(),
        );
        assert!(
            matches!(e, RemoteError::TooLarge { limit: None, .. }),
            "{e}"
        );
        let body =
            r#"{"message":"The field file exceeds its maximum permitted size of 1048576 bytes."}"#;
        let ans = answer(404, &[JSON, USER], body);
        assert!(ans.is_too_large());
        let e = map_status(&ans, &ctx());
        match e {
            RemoteError::TooLarge { limit, message } => {
                assert_eq!(limit, Some(1_048_576));
                assert_eq!(
                    message,
                    "the attachment is larger than this server allows (1048576 bytes)"
                );
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    #[test]
    fn html_and_redirect_answers_are_protocol_errors() {
        let e = map_status(
            &answer(
                302,
                &[("location", "https://sso.bank/login?return=secret")],
                "",
            ),
            &ctx(),
        );
        assert!(
            matches!(&e, RemoteError::Protocol(m) if m.contains("sso.bank/login") && !m.contains("secret")),
            "{e}"
        );
        let e = map_status(
            &answer(
                400,
                &[("content-type", "text/html")],
                "<html><body>secret page</body></html>",
            ),
            &ctx(),
        );
        assert!(
            matches!(&e, RemoteError::Protocol(m) if m.contains("HTML") && !m.contains("secret")),
            "{e}"
        );
        let xsrf = answer(403, &[("content-type", "text/plain")], "XSRF check failed");
        assert!(matches!(
            map_status(&xsrf, &ctx()),
            RemoteError::Protocol(_)
        ));
    }

    #[test]
    fn conflicts_carry_the_latest_version() {
        let body = r#"{"statusCode":409,"message":"You're trying to edit an outdated version of that ContentProperty. Latest version is 12"}"#;
        let ans = answer(409, &[JSON, USER], body);
        assert!(!ans.is_transient());
        assert!(matches!(
            map_status(&ans, &ctx()),
            RemoteError::Conflict { current: Some(12) }
        ));
        assert_eq!(
            parse_current_version("Version must be incremented on update. Current version is: 5"),
            Some(5)
        );
        assert_eq!(parse_current_version("nothing here"), None);
        let lock = answer(
            409,
            &[JSON],
            r#"{"message":"Editor might be busy. Unable to update"}"#,
        );
        assert!(lock.is_transient());
    }

    #[test]
    fn retry_after_only_counts_for_429_and_503() {
        let t = answer(429, &[("retry-after", "3")], "").to_transient();
        assert!(matches!(t, Transient::Status { retry_after: Some(d), .. } if d.as_secs() == 3));
        let t = answer(502, &[("retry-after", "3")], "").to_transient();
        assert!(matches!(
            t,
            Transient::Status {
                retry_after: None,
                ..
            }
        ));
    }

    #[test]
    fn tls_failures_are_described() {
        let h = "wiki.bank";
        let cases = [
            (
                "error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:ssl/statem/statem_clnt.c:2092: (self-signed certificate in certificate chain)",
                "not trusted",
            ),
            (
                "error:0A000415:SSL routines:ssl3_read_bytes:sslv3 alert certificate expired",
                "client certificate: it has expired",
            ),
            (
                "error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca",
                "does not trust our client certificate",
            ),
            (
                "error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required",
                "requires a client certificate",
            ),
            (
                "certificate verify failed: (certificate has expired)",
                "server wiki.bank has expired",
            ),
            ("error:0A00010B:SSL routines:ssl3_get_record:wrong version number", "http://"),
        ];
        for (chain, expect) in cases {
            let msg = describe_tls_failure(chain, h, true).expect(chain);
            assert!(msg.contains(expect), "{chain} → {msg}");
        }
        assert_eq!(describe_tls_failure("connection refused", h, false), None);
    }

    #[test]
    fn messages_are_shortened_to_one_line() {
        let long = "x ".repeat(1000);
        let s = shorten(&long);
        assert!(s.chars().count() <= MAX_MESSAGE_CHARS + 1);
        assert!(!s.contains('\n'));
    }
}
