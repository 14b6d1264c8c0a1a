//! Reading request bodies: whether there is one, draining what a handler left, JSON.

use http::header::CONTENT_LENGTH;
use http::{HeaderMap, Response};
use http_body_util::BodyExt;
use serde_json::Value;

use super::respond::{error_msg, html};
use super::{InBody, OutBody, Req};

/// Largest JSON request body (`@LimitRequestSize(0x500000)`).
const JSON_BODY_MAX: u64 = 5 * 1024 * 1024;

pub(super) fn has_request_body(h: &HeaderMap) -> bool {
    let len = h
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    len.is_some_and(|l| l > 0) || h.contains_key("transfer-encoding")
}

pub(super) async fn drain(body: &mut InBody, cap: u64) -> u64 {
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
pub(super) async fn read_json(r: &mut Req) -> Result<Value, Response<OutBody>> {
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
