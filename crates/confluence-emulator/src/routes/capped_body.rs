//! The request body wrapper: the upload bandwidth cap. Each data frame is counted in the cap
//! and handed on once the cap has room for it; meanwhile nothing more is read, so the sender
//! is held back by TCP flow control as behind a slow uplink.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use crate::link::Cap;

/// A request body read no faster than its cap (`None`: as fast as it comes).
pub(crate) struct CappedBody<B> {
    inner: B,
    cap: Option<Cap>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    /// A frame waiting for the cap.
    held: Option<Frame<Bytes>>,
}

impl<B> CappedBody<B> {
    pub(crate) fn new(inner: B, cap: Option<Cap>) -> Self {
        CappedBody {
            inner,
            cap,
            sleep: None,
            held: None,
        }
    }
}

impl<B> Body for CappedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        loop {
            if let Some(s) = this.sleep.as_mut() {
                if s.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.sleep = None;
            }
            if let Some(frame) = this.held.take() {
                return Poll::Ready(Some(Ok(frame)));
            }
            let polled = Pin::new(&mut this.inner).poll_frame(cx);
            if let (Poll::Ready(Some(Ok(frame))), Some(cap)) = (&polled, &this.cap) {
                if let Some(data) = frame.data_ref() {
                    let wait = cap.sent(data.len() as u64);
                    if !wait.is_zero() {
                        // Over the cap: the handler gets the frame once the link had room.
                        if let Poll::Ready(Some(Ok(frame))) = polled {
                            this.held = Some(frame);
                        }
                        this.sleep = Some(Box::pin(tokio::time::sleep(wait)));
                        continue;
                    }
                }
            }
            return polled;
        }
    }

    fn is_end_stream(&self) -> bool {
        self.held.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::{Link, Meter};
    use http_body_util::{BodyExt, StreamBody};
    use std::convert::Infallible;
    use std::sync::Arc;
    use std::time::Duration;

    fn body(frames: usize, len: usize) -> impl Body<Data = Bytes, Error = Infallible> + Unpin {
        let it = (0..frames)
            .map(move |i| Ok::<_, Infallible>(Frame::data(Bytes::from(vec![i as u8; len]))));
        StreamBody::new(futures::stream::iter(it))
    }

    #[tokio::test(start_paused = true)]
    async fn a_capped_body_arrives_whole_at_the_rate_and_is_metered() {
        let meter = Arc::new(Meter::default());
        let cap = Cap {
            link: Arc::new(Link::new(1_000_000)),
            meter: Arc::clone(&meter),
        };
        let start = tokio::time::Instant::now();
        let got = CappedBody::new(body(20, 100_000), Some(cap))
            .collect()
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(got.len(), 2_000_000);
        assert!(
            got[..100_000].iter().all(|b| *b == 0) && got[1_900_000..].iter().all(|b| *b == 19)
        );
        // 2 MB at 1 MB/s, less the 65,536-byte burst allowance.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(1930) && took <= Duration::from_millis(1940),
            "{took:?}"
        );
        let stats = meter.stats();
        assert_eq!(stats.bytes, 2_000_000);
        // The waits asked for add up to nearly all of it (the timer's rounding to whole
        // milliseconds makes some waits end late, so later ones ask for less).
        assert!(
            stats.waited >= Duration::from_millis(1900) && stats.waited <= took,
            "{stats:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_uncapped_body_never_waits() {
        let start = tokio::time::Instant::now();
        let got = CappedBody::new(body(5, 1000), None)
            .collect()
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(got.len(), 5000);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
