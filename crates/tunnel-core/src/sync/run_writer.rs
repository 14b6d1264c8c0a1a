//! Several chunks of one file that lie one after another in one blob — the chunks of a big
//! file cut by content, packed in order — are fetched with one ranged request: this writer
//! passes the bytes on to the file, cuts them at the chunk boundaries and hashes each chunk on
//! its own, so each is checked against its SHA-256 as if it had come alone (the whole file's
//! digest is computed elsewhere, on its own thread: `whole_digest.rs`), and reports each chunk's bytes as soon as they landed (the
//! progress of a long run). No more than the run's bytes are ever written.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

use crate::hash::{Digest, Hasher};

/// See the module docs.
pub(crate) struct RunWriter<'a, W> {
    inner: &'a mut W,
    /// Told the size of each chunk once all its bytes landed.
    on_chunk: &'a (dyn Fn(u64) + Send + Sync),
    /// The chunk sizes, in order.
    sizes: Vec<u64>,
    /// Finished chunks: bytes and digest.
    done: Vec<(u64, Digest)>,
    current: Hasher,
    /// Bytes of the current chunk so far.
    in_current: u64,
    overflowed: bool,
}

impl<'a, W: AsyncWrite + Unpin> RunWriter<'a, W> {
    /// A writer for chunks of `sizes` bytes (each at least 1), in order, telling `on_chunk`
    /// as each one is complete.
    pub(crate) fn new(
        inner: &'a mut W,
        sizes: Vec<u64>,
        on_chunk: &'a (dyn Fn(u64) + Send + Sync),
    ) -> Self {
        RunWriter {
            inner,
            on_chunk,
            sizes,
            done: Vec::new(),
            current: Hasher::new(),
            in_current: 0,
            overflowed: false,
        }
    }

    /// Whether more than the run's bytes were offered (and refused).
    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Each chunk's byte count and digest, in order; a chunk cut short (the body ended early)
    /// comes last with the bytes it got, the ones never reached are missing.
    pub(crate) fn finish(self) -> Vec<(u64, Digest)> {
        let mut out = self.done;
        if self.in_current > 0 {
            out.push((self.in_current, self.current.finish()));
        }
        out
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for RunWriter<'_, W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let Some(&size) = this.sizes.get(this.done.len()) else {
            if buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            this.overflowed = true;
            return Poll::Ready(Err(std::io::Error::other(
                "more bytes than the chunks asked for",
            )));
        };
        // At most the rest of the current chunk: its boundary is where its digest ends.
        let room = size - this.in_current;
        let buf = &buf[..usize::try_from(room).map_or(buf.len(), |r| r.min(buf.len()))];
        match Pin::new(&mut *this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                this.current.update(&buf[..n]);
                this.in_current += n as u64;
                if this.in_current == size {
                    let digest = std::mem::take(&mut this.current).finish();
                    this.done.push((size, digest));
                    this.in_current = 0;
                    (this.on_chunk)(size);
                }
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
    async fn each_chunk_is_hashed_alone_whatever_the_write_sizes() {
        let data = b"alphabetagammadelta";
        let sizes = vec![5, 4, 5, 5];
        for step in [1usize, 3, 7, 19] {
            let mut out: Vec<u8> = Vec::new();
            let landed = std::sync::Mutex::new(Vec::new());
            let note = |n: u64| landed.lock().expect("lock").push(n);
            let mut w = RunWriter::new(&mut out, sizes.clone(), &note);
            for piece in data.chunks(step) {
                w.write_all(piece).await.expect("within the run");
            }
            assert!(!w.overflowed());
            let got = w.finish();
            let expected: Vec<(u64, Digest)> = ["alpha", "beta", "gamma", "delta"]
                .iter()
                .map(|s| (s.len() as u64, Digest::of(s.as_bytes())))
                .collect();
            assert_eq!(got, expected, "writes of {step} bytes");
            assert_eq!(
                *landed.lock().expect("lock"),
                sizes,
                "each chunk told as it landed"
            );
            assert_eq!(out, data);
        }
    }

    #[tokio::test]
    async fn more_than_the_run_is_refused_and_a_short_body_shows() {
        let mut out: Vec<u8> = Vec::new();
        let mut w = RunWriter::new(&mut out, vec![2, 2], &|_| {});
        let err = w.write_all(b"abcdE").await.expect_err("one byte too many");
        assert!(w.overflowed(), "{err}");
        assert_eq!(w.finish().len(), 2);
        assert_eq!(out, b"abcd", "nothing past the run reaches the file");

        let mut out: Vec<u8> = Vec::new();
        let mut w = RunWriter::new(&mut out, vec![2, 2], &|_| {});
        w.write_all(b"abc").await.expect("short");
        let got = w.finish();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].0, 1, "the second chunk got one byte of two");
    }
}
