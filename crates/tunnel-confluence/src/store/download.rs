//! Downloading a blob, whole or a byte range: the attempts, resumed with `Range` after a
//! broken or silent connection, each answer's status checked against what was asked for,
//! and the body streamed into the sink through the download limiter.

use std::ops::Range;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use tokio::io::AsyncWriteExt as _;
use tracing::debug;
use tunnel_core::remote::{BlobName, BlobSink, RemoteError};

use super::ConfluenceStore;
use crate::api::Endpoints;
use crate::error::{map_status, redirect_error, Ctx, TransportFailure};
use crate::exchange::read_answer;
use crate::retry::{Retrier, Transient};
use crate::throttle::Throttle;

impl ConfluenceStore {
    /// [`tunnel_core::remote::RemoteStore::get_blob`]: write blob `name` (`version`, or the
    /// current one), or the bytes `range` of it, into `sink`; returns the bytes written.
    pub(super) async fn download(
        &self,
        name: &BlobName,
        version: Option<u64>,
        range: Option<Range<u64>>,
        mut sink: BlobSink<'_>,
    ) -> Result<u64, RemoteError> {
        if let Some(r) = &range {
            if r.end < r.start {
                return Err(RemoteError::Protocol(format!(
                    "invalid byte range {}..{}",
                    r.start, r.end
                )));
            }
            if r.end == r.start {
                return Ok(0);
            }
        }
        let start = range.as_ref().map_or(0, |r| r.start);
        // Exclusive end; learned from the first answer when downloading the whole blob.
        let mut end = range.as_ref().map(|r| r.end);
        let url = Endpoints::download(
            &self.client.download_base(),
            &self.page_id,
            name.as_str(),
            version,
        )?;
        let what = match version {
            Some(v) => format!("attachment {name} (version {v})"),
            None => format!("attachment {name}"),
        };
        let ctx = Ctx {
            not_found: Some(format!("{what} is not on page {}", self.page_id)),
            ..self.read_ctx()
        };
        let policy = self.client.retry_policy();
        let mut retrier = Retrier::new(policy, "get_blob");
        let mut written = 0u64;
        loop {
            let from = start + written;
            let ranged = range.is_some() || written > 0;
            let mut req = self.client.get_stream(&url).header(ACCEPT, "*/*");
            if ranged {
                let spec = match end {
                    Some(e) => format!("bytes={from}-{}", e - 1),
                    None => format!("bytes={from}-"),
                };
                req = req.header(RANGE, spec);
            }
            let timeout = self.client.timeout();
            let sent = tokio::time::timeout(timeout, self.client.send_once(req, &url, None)).await;
            let mut resp = match sent {
                Ok(Ok(r)) => r,
                Ok(Err(TransportFailure::Transient(t))) => {
                    retrier.wait(t).await?;
                    continue;
                }
                Ok(Err(TransportFailure::Final(e))) => return Err(e),
                Err(_) => {
                    retrier
                        .wait(silent_server(&url, timeout, "no answer from the server"))
                        .await?;
                    continue;
                }
            };
            let status = resp.status();
            let headers = resp.headers().clone();
            let skip = match status.as_u16() {
                206 => {
                    let cr = headers
                        .get(CONTENT_RANGE)
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_content_range)
                        .ok_or_else(|| {
                            RemoteError::Protocol(format!(
                                "the server sent part of {what} without a valid Content-Range"
                            ))
                        })?;
                    let (first, last, total) = cr;
                    if first != from {
                        return Err(RemoteError::Protocol(format!(
                            "asked for {what} from byte {from}, the server sent from byte {first}"
                        )));
                    }
                    if let (Some(e), Some(t)) = (end, total) {
                        if e > t {
                            return Err(RemoteError::Protocol(format!(
                                "asked for bytes {start}..{e} of {what}, which has only {t} bytes"
                            )));
                        }
                    }
                    if end.is_none() {
                        end = Some(total.unwrap_or(last + 1));
                    }
                    0
                }
                200 => {
                    let length = resp.content_length();
                    if end.is_none() {
                        end = length;
                    }
                    if ranged {
                        // The server ignored Range: drop the bytes we already have.
                        debug!("the server ignored the Range header; skipping {from} bytes");
                        from
                    } else {
                        0
                    }
                }
                _ => {
                    let Ok(ans) =
                        tokio::time::timeout(timeout, read_answer(status, &headers, resp)).await
                    else {
                        retrier
                            .wait(silent_server(&url, timeout, "the error answer stalled"))
                            .await?;
                        continue;
                    };
                    if (300..400).contains(&ans.status) {
                        return Err(redirect_error(&ans));
                    }
                    if ans.is_transient() {
                        retrier.wait(ans.to_transient()).await?;
                        continue;
                    }
                    if ans.status == 416 {
                        return Err(RemoteError::Protocol(format!(
                            "the server cannot serve bytes from {from} of {what} (HTTP 416: \
                             beyond its end?)"
                        )));
                    }
                    return Err(map_status(&ans, &ctx));
                }
            };
            let ct = headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_ascii_lowercase();
            if ct.starts_with("text/html") {
                return Err(RemoteError::Protocol(format!(
                    "the download of {what} returned an HTML page instead of the file (a login \
                     page of a single sign-on proxy?); nothing was saved"
                )));
            }
            let before = written;
            let remaining = end.map(|e| e.saturating_sub(from));
            let body = BodyRead {
                throttle: self.client.download_throttle(),
                timeout,
            };
            let outcome = body
                .stream(&mut resp, &mut sink, skip, remaining, &mut written)
                .await;
            if written > before {
                // Progress was made: the next failure starts a fresh count.
                retrier = Retrier::new(policy, "get_blob");
            }
            let cause = match outcome {
                Err(BodyFailure::Sink(e)) => return Err(RemoteError::Io(e)),
                Err(BodyFailure::Silent) => silent_server(&url, timeout, "no data from the server"),
                Err(BodyFailure::Transport(e)) => match crate::error::map_transport(&e, &url) {
                    TransportFailure::Transient(t) => t,
                    TransportFailure::Final(e) => return Err(e),
                },
                Ok(()) => match end {
                    Some(e) if start + written < e => Transient::Transport {
                        url: crate::error::display_url(&url),
                        detail: format!(
                            "the connection closed after {} of {} bytes",
                            written,
                            e - start
                        ),
                        timeout: false,
                    },
                    _ => {
                        sink.flush().await?;
                        return Ok(written);
                    }
                },
            };
            debug!(
                written,
                "download interrupted; resuming with a Range request"
            );
            retrier.wait(cause).await?;
        }
    }
}

/// How one download attempt's body is read: counted in the download limiter, each read
/// timed.
struct BodyRead<'a> {
    /// The client's download limiter.
    throttle: &'a Throttle,
    /// Longest wait for the next piece of body.
    timeout: Duration,
}

impl BodyRead<'_> {
    /// Stream one download attempt's body into the sink. Counts what was written in
    /// `written`; a transport error mid-body is returned with the count so far. Every piece
    /// received is charged to the limiter (including bytes skipped because the server ignored
    /// `Range`: they crossed the wire) and the limiter's wait happens before the next read.
    async fn stream(
        &self,
        resp: &mut reqwest::Response,
        sink: &mut BlobSink<'_>,
        mut skip: u64,
        mut remaining: Option<u64>,
        written: &mut u64,
    ) -> Result<(), BodyFailure> {
        loop {
            if remaining == Some(0) {
                return Ok(());
            }
            let next = tokio::time::timeout(self.timeout, resp.chunk())
                .await
                .map_err(|_| BodyFailure::Silent)?;
            let Some(mut chunk) = next.map_err(BodyFailure::Transport)? else {
                return Ok(());
            };
            self.throttle.acquire(chunk.len() as u64).await;
            if skip > 0 {
                let drop = usize::try_from(skip.min(chunk.len() as u64)).unwrap_or(chunk.len());
                let _ = chunk.split_to(drop);
                skip -= drop as u64;
            }
            if let Some(rem) = remaining.as_mut() {
                if chunk.len() as u64 > *rem {
                    chunk.truncate(usize::try_from(*rem).unwrap_or(chunk.len()));
                }
                *rem -= chunk.len() as u64;
            }
            if !chunk.is_empty() {
                sink.write_all(&chunk).await.map_err(BodyFailure::Sink)?;
                *written += chunk.len() as u64;
                tunnel_core::progress::wire::note(chunk.len() as u64);
            }
        }
    }
}

/// The transient failure of a server that sent nothing for `timeout` (`what`: what was
/// missing).
fn silent_server(url: &url::Url, timeout: Duration, what: &str) -> Transient {
    Transient::Transport {
        url: crate::error::display_url(url),
        detail: format!("{what} for {} s", timeout.as_secs_f32()),
        timeout: true,
    }
}

/// How streaming a download body failed.
enum BodyFailure {
    /// The connection broke (resumable).
    Transport(reqwest::Error),
    /// Writing to the sink failed (final).
    Sink(std::io::Error),
    /// Nothing arrived for the timeout (resumable).
    Silent,
}

/// Parse `Content-Range: bytes a-b/total` (total may be `*`).
fn parse_content_range(value: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let (a, b) = span.split_once('-')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_is_parsed() {
        assert_eq!(
            parse_content_range("bytes 0-99/1000"),
            Some((0, 99, Some(1000)))
        );
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, 9, None)));
        assert_eq!(parse_content_range("items 0-1/2"), None);
        assert_eq!(parse_content_range("bytes x-1/2"), None);
    }
}
