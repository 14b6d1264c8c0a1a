//! The request/answer machinery shared by the client and the store: a request ready to send
//! ([`Prepared`]), the outcome of one attempt ([`Step`]) and of a call ([`Reply`],
//! [`Success`]), and bounded reads of answer bodies.

use std::path::PathBuf;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use tunnel_core::remote::RemoteError;

use crate::error::{shorten, Answer, USERNAME_HEADER};
use crate::retry::Transient;
use crate::upload::{Progress, SourceCheck};

/// Largest non-streamed answer body we read (listings of 200 attachments are ~0.5 MB).
pub(crate) const MAX_JSON_BODY: usize = 32 * 1024 * 1024;
/// Largest error body read for its message.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A request ready to send, with the upload check when it streams a file.
pub(crate) struct Prepared {
    /// The request.
    pub req: RequestBuilder,
    /// For file uploads: the hash check of the streamed source and its path.
    pub source: Option<(SourceCheck, PathBuf)>,
    /// For uploads: the body's progress clock (stall timeout instead of read timeout).
    pub progress: Option<Progress>,
}

impl From<RequestBuilder> for Prepared {
    fn from(req: RequestBuilder) -> Self {
        Prepared {
            req,
            source: None,
            progress: None,
        }
    }
}

/// A successful (2xx) answer with its body read.
#[derive(Debug)]
pub(crate) struct Success {
    /// Response headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Success {
    /// `X-AUSERNAME` when present.
    pub(crate) fn username(&self) -> Option<String> {
        self.headers
            .get(USERNAME_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    }

    /// Parse the body as JSON of type `T`; an HTML page or other non-JSON body is a
    /// [`RemoteError::Protocol`] naming `what`.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
    ) -> Result<T, RemoteError> {
        let ct = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let start: Vec<u8> = self
            .body
            .iter()
            .skip_while(|b| b.is_ascii_whitespace())
            .take(5)
            .map(|b| b.to_ascii_lowercase())
            .collect();
        if ct.contains("html") || start.starts_with(b"<") {
            return Err(RemoteError::Protocol(format!(
                "the server answered {what} with an HTML page instead of JSON (a login page or \
                 a proxy in front of Confluence?)"
            )));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            RemoteError::Protocol(format!(
                "the server's answer to {what} is not the expected JSON ({})",
                shorten(&e.to_string())
            ))
        })
    }
}

/// The outcome of a call that did not fail.
#[derive(Debug)]
pub(crate) enum Reply {
    /// 2xx.
    Success(Success),
    /// A non-success status the caller asked to handle itself.
    Handled(Answer),
}

impl Reply {
    /// The success, or a protocol error for a status nobody expected (only for calls that
    /// handle no status themselves).
    pub(crate) fn into_success(self) -> Result<Success, RemoteError> {
        match self {
            Reply::Success(ok) => Ok(ok),
            Reply::Handled(ans) => Err(RemoteError::Protocol(format!(
                "unexpected HTTP {} from the server",
                ans.status
            ))),
        }
    }
}

/// The outcome of one attempt.
pub(crate) enum Step {
    /// Finished (success or a status the caller handles).
    Done(Reply),
    /// Worth another attempt.
    Retry(Transient),
    /// Final failure.
    Fail(RemoteError),
}

/// Why a body could not be read.
pub(crate) enum BodyError {
    /// Larger than allowed.
    TooBig,
    /// The connection failed while reading.
    Transport(reqwest::Error),
}

/// Read a whole body, refusing more than `limit` bytes.
pub(crate) async fn read_limited(
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<Bytes, BodyError> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        if out.len() + chunk.len() > limit {
            return Err(BodyError::TooBig);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(out))
}

/// Read an error answer (first [`MAX_ERROR_BODY`] bytes; a failed read leaves the message
/// empty).
pub(crate) async fn read_answer(
    status: StatusCode,
    headers: &HeaderMap,
    mut resp: reqwest::Response,
) -> Answer {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY {
        match resp.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(MAX_ERROR_BODY);
    Answer::new(status.as_u16(), headers, &body)
}
