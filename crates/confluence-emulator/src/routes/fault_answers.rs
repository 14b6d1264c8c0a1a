//! The answers of a failing server or of something in front of it, for injected faults.

use super::respond::{add_rate_headers, empty, error_msg, full, html, set_header};
use super::OutBody;
use crate::faults::{FaultKind, ForeignBody, RateHeaders};
use crate::render;
use crate::spawn::Shared;
use http::Response;

pub(super) fn fault_response(
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
