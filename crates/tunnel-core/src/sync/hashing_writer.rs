//! An `AsyncWrite` adapter that hashes and counts what passes through it, so downloads are
//! verified on the fly without a second read.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

use crate::hash::{Digest, Hasher};

/// Forwards writes to `inner` and feeds every accepted byte to a per-chunk and a whole-file hasher.
pub(crate) struct HashingWriter<'a, W> {
    inner: &'a mut W,
    chunk: Hasher,
    whole: &'a mut Hasher,
    written: u64,
}

impl<'a, W: AsyncWrite + Unpin> HashingWriter<'a, W> {
    pub(crate) fn new(inner: &'a mut W, whole: &'a mut Hasher) -> Self {
        HashingWriter {
            inner,
            chunk: Hasher::new(),
            whole,
            written: 0,
        }
    }

    /// Bytes accepted and the digest of this chunk.
    pub(crate) fn finish(self) -> (u64, Digest) {
        (self.written, self.chunk.finish())
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for HashingWriter<'_, W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut *this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                this.chunk.update(&buf[..n]);
                this.whole.update(&buf[..n]);
                this.written += n as u64;
                Poll::Ready(Ok(n))
            }
            other => other,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn hashes_exactly_what_was_written() {
        let mut out: Vec<u8> = Vec::new();
        let mut whole = Hasher::new();
        let mut w = HashingWriter::new(&mut out, &mut whole);
        w.write_all(b"hello ").await.unwrap();
        w.write_all(b"world").await.unwrap();
        let (n, d) = w.finish();
        assert_eq!(n, 11, "every byte written is counted");
        assert_eq!(
            d,
            Digest::of(b"hello world"),
            "the chunk digest covers all writes"
        );
        assert_eq!(whole.finish(), Digest::of(b"hello world"));
        assert_eq!(out, b"hello world", "bytes pass through unchanged");
    }
}
