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
use crate::link::Cap;
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
    /// The download bandwidth cap.
    cap: Option<Cap>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    /// A frame waiting for the cap to let it go.
    held: Option<Frame<Bytes>>,
    done: bool,
}

impl CountingBody {
    /// Wrap `inner`, the body of the answer to the request logged as `seq`: at most `limit`
    /// bytes are sent (`None`: all), then the body ends, or with `reset` the connection is
    /// cut; `cap` throttles it.
    pub(super) fn new(
        inner: OutBody,
        shared: Arc<Shared>,
        seq: u64,
        limit: Option<u64>,
        reset: bool,
        cap: Option<Cap>,
    ) -> CountingBody {
        CountingBody {
            inner,
            shared,
            seq,
            remaining: limit,
            reset,
            cap,
            sleep: None,
            held: None,
            done: false,
        }
    }
}

impl CountingBody {
    /// A frame was handed to hyper: at the reset point, let hyper flush the headers and the
    /// first half before the cut, so the client sees a response whose body breaks, not a
    /// refused request.
    fn after_send(&mut self) {
        if self.reset && self.remaining == Some(0) {
            self.sleep = Some(Box::pin(tokio::time::sleep(RESET_GRACE)));
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
        loop {
            if let Some(s) = this.sleep.as_mut() {
                if s.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.sleep = None;
            }
            if let Some(frame) = this.held.take() {
                this.after_send();
                return Poll::Ready(Some(Ok(frame)));
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
            return match Pin::new(&mut this.inner).poll_frame(cx) {
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
                        let wait = this.cap.as_ref().map_or(Duration::ZERO, |c| c.sent(n));
                        if !wait.is_zero() {
                            // Over the cap: the frame leaves once the link has room for it.
                            this.held = Some(Frame::data(data));
                            this.sleep = Some(Box::pin(tokio::time::sleep(wait)));
                            continue;
                        }
                        this.after_send();
                        Poll::Ready(Some(Ok(Frame::data(data))))
                    }
                    Err(frame) => Poll::Ready(Some(Ok(frame))),
                },
            };
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
            || (self.held.is_none() && self.inner.is_end_stream() && self.remaining != Some(0))
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
