//! Building answers: JSON, HTML, empty, errors in Confluence's shapes, headers.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use serde_json::Value;

use super::OutBody;
use crate::faults::RateHeaders;
use crate::model::ModelError;
use crate::render;
use crate::spawn::Shared;

pub(super) fn full(
    status: u16,
    content_type: Option<&str>,
    body: impl Into<Bytes>,
) -> Response<OutBody> {
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

pub(super) fn json_resp(status: u16, v: &Value) -> Response<OutBody> {
    full(
        status,
        Some("application/json;charset=UTF-8"),
        v.to_string(),
    )
}

pub(super) fn error_resp(e: &ModelError) -> Response<OutBody> {
    json_resp(e.status(), &render::error(e.status(), &e.to_string()))
}

pub(super) fn error_msg(status: u16, msg: &str) -> Response<OutBody> {
    json_resp(status, &render::error(status, msg))
}

pub(super) fn empty(status: u16) -> Response<OutBody> {
    let mut r = Response::new(Empty::new().map_err(|e| match e {}).boxed());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r
}

pub(super) fn html(status: u16, title: &str, text: &str) -> Response<OutBody> {
    full(
        status,
        Some("text/html;charset=UTF-8"),
        format!("<!DOCTYPE html>\n<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>\n"),
    )
}

pub(super) fn set_header(r: &mut Response<OutBody>, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(HeaderName::from_static(name), v);
    }
}

pub(super) fn add_rate_headers(r: &mut Response<OutBody>, h: &RateHeaders) {
    for (k, v) in h.pairs() {
        set_header(r, k, &v);
    }
}

pub(super) fn not_found_page() -> Response<OutBody> {
    html(
        404,
        "Page Not Found",
        "The page you were looking for could not be found.",
    )
}

pub(super) fn too_large(sh: &Shared) -> Response<OutBody> {
    if sh.too_large_as_404 {
        error_msg(
            404,
            &format!(
                "The field file exceeds its maximum permitted size of {} bytes.",
                sh.max_attachment_size
            ),
        )
    } else {
        proxy_too_large()
    }
}

/// nginx's answer to a body over `client_max_body_size`.
pub(super) fn proxy_too_large() -> Response<OutBody> {
    full(
        413,
        Some("text/html"),
        "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
    )
}
