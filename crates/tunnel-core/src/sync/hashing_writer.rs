//! An `AsyncWrite` adapter that hashes and counts what passes through it, so downloads are
//! verified on the fly without a second read.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

use crate::hash::{Digest, Hasher};

/// Forwards writes to `inner` and feeds every accepted byte to a per-chunk and, when given, a
/// whole-file hasher (a file of one chunk has the chunk's digest as its own: its bytes are
/// hashed once, not twice). With a limit, bytes past it are refused with an error (and never
/// written), so a server sending more than asked costs at most the limit on disk.
pub(crate) struct HashingWriter<'a, W> {
    inner: &'a mut W,
    /// `None`: a writer that only enforces its limit ([`HashingWriter::limited`]).
    chunk: Option<Hasher>,
    whole: Option<&'a mut Hasher>,
    written: u64,
    limit: u64,
    overflowed: bool,
}

impl<'a, W: AsyncWrite + Unpin> HashingWriter<'a, W> {
    #[cfg(test)]
    pub(crate) fn new(inner: &'a mut W, whole: &'a mut Hasher) -> Self {
        Self::with_limit(inner, Some(whole), u64::MAX)
    }

    /// A writer that accepts at most `limit` bytes, hashing them as a chunk and, with
    /// `whole`, into the whole file's hasher.
    pub(crate) fn with_limit(inner: &'a mut W, whole: Option<&'a mut Hasher>, limit: u64) -> Self {
        HashingWriter {
            inner,
            chunk: Some(Hasher::new()),
            whole,
            written: 0,
            limit,
            overflowed: false,
        }
    }

    /// A writer that accepts at most `limit` bytes and hashes nothing (a pack range fetched to
    /// disk: each file cut out of it is hashed when it is copied).
    pub(crate) fn limited(inner: &'a mut W, limit: u64) -> Self {
        HashingWriter {
            inner,
            chunk: None,
            whole: None,
            written: 0,
            limit,
            overflowed: false,
        }
    }

    /// Whether more than the limit was offered (and refused).
    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Bytes accepted and the digest of this chunk (of nothing for a [`limited`] writer).
    ///
    /// [`limited`]: HashingWriter::limited
    pub(crate) fn finish(self) -> (u64, Digest) {
        (self.written, self.chunk.unwrap_or_default().finish())
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for HashingWriter<'_, W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let room = this.limit.saturating_sub(this.written);
        if !buf.is_empty() && room == 0 {
            this.overflowed = true;
            return Poll::Ready(Err(std::io::Error::other(format!(
                "more than the {} bytes expected",
                this.limit
            ))));
        }
        let buf = &buf[..usize::try_from(room).map_or(buf.len(), |r| r.min(buf.len()))];
        match Pin::new(&mut *this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                if let Some(h) = this.chunk.as_mut() {
                    h.update(&buf[..n]);
                }
                if let Some(h) = this.whole.as_deref_mut() {
                    h.update(&buf[..n]);
                }
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

    #[tokio::test]
    async fn refuses_bytes_past_its_limit() {
        let mut out: Vec<u8> = Vec::new();
        let mut whole = Hasher::new();
        let mut w = HashingWriter::with_limit(&mut out, Some(&mut whole), 3);
        assert!(!w.overflowed());
        let err = w.write_all(b"abcdef").await.expect_err("past the limit");
        assert!(err.to_string().contains("3 bytes"), "{err}");
        assert!(w.overflowed());
        let (n, d) = w.finish();
        assert_eq!(
            (n, d),
            (3, Digest::of(b"abc")),
            "only the allowed bytes count"
        );
        assert_eq!(out, b"abc", "nothing past the limit is written");
    }

    #[tokio::test]
    async fn without_a_whole_hasher_only_the_chunk_is_hashed_and_a_limited_writer_hashes_nothing() {
        let mut out: Vec<u8> = Vec::new();
        let mut w = HashingWriter::with_limit(&mut out, None, 100);
        w.write_all(b"one chunk").await.unwrap();
        assert_eq!(w.finish(), (9, Digest::of(b"one chunk")));
        let mut out: Vec<u8> = Vec::new();
        let mut w = HashingWriter::limited(&mut out, 4);
        w.write_all(b"abcd").await.unwrap();
        assert!(w.write_all(b"e").await.is_err(), "the limit still holds");
        assert!(w.overflowed());
        assert_eq!(w.finish().0, 4);
        assert_eq!(out, b"abcd");
    }
}
