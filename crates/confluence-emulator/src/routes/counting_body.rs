//! The response body wrapper: counts bytes into the request log and applies body faults
//! (truncation, mid-body reset) and the bandwidth throttle.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use super::OutBody;
use crate::spawn::{lock, Shared};

/// Pause between the last bytes sent and an injected mid-body reset.
const RESET_GRACE: Duration = Duration::from_millis(50);

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

impl CountingBody {
    /// Wrap `inner`, the body of the answer to the request logged as `seq`: at most `limit`
    /// bytes are sent (`None`: all), then the body ends, or with `reset` the connection is
    /// cut; `bandwidth` (bytes per second) throttles it.
    pub(super) fn new(
        inner: OutBody,
        shared: Arc<Shared>,
        seq: u64,
        limit: Option<u64>,
        reset: bool,
        bandwidth: Option<u64>,
    ) -> CountingBody {
        CountingBody {
            inner,
            shared,
            seq,
            remaining: limit,
            reset,
            bandwidth,
            sleep: None,
            done: false,
        }
    }
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
