//! Positioned file I/O for downloads that fetch several pieces of one file at once: each piece
//! is written at its own offset through [`AtWriter`] (an `AsyncWrite` whose writes run on a
//! blocking thread, like `tokio::fs::File`, but at an explicit position, so several writers can
//! share one open file), and the whole file's digest is read back with [`read_at`].
//!
//! Nothing here moves a shared file cursor that another writer relies on: every read and write
//! names its offset (`pread`/`pwrite` on Unix, `seek_read`/`seek_write` on Windows).

use std::fs::File;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use tokio::task::JoinHandle;

/// Bytes gathered before they are handed to a blocking task to be written (fewer, larger
/// writes: a task per network read would cost more than the write).
const MAX_WRITE: usize = 1024 * 1024;

/// Write all of `buf` at `offset` of `file`.
pub(crate) fn write_all_at(file: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        let n = write_at(file, buf, offset)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "the file took no bytes",
            ));
        }
        buf = &buf[n..];
        offset += n as u64;
    }
    Ok(())
}

/// Read into `buf` from `offset` of `file`; returns the bytes read (0 at the end).
pub(crate) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    loop {
        #[cfg(unix)]
        let r = std::os::unix::fs::FileExt::read_at(file, buf, offset);
        #[cfg(windows)]
        let r = std::os::windows::fs::FileExt::seek_read(file, buf, offset);
        match r {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn write_at(file: &File, buf: &[u8], offset: u64) -> io::Result<usize> {
    loop {
        #[cfg(unix)]
        let r = std::os::unix::fs::FileExt::write_at(file, buf, offset);
        #[cfg(windows)]
        let r = std::os::windows::fs::FileExt::seek_write(file, buf, offset);
        match r {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Write buffers of one file's pieces, handed from a finished piece's writer to the next one
/// (two fresh 1 MiB buffers per writer were 32,000 of the 47,000 page faults of a 1 GiB
/// download, issue 15). Only full-size ones are kept, at most 16: two per piece written at
/// once is the most that is ever in use.
pub(crate) type WriteBuffers = super::buffer_pool::BufferPool<16>;

/// Writes into a shared file from a given offset on. Bytes are gathered up to [`MAX_WRITE`] and
/// then written on a blocking thread while the next ones are gathered (one write in flight);
/// the next full buffer (or a flush) waits for it and reports its error. After `flush`
/// returned, every byte accepted is in the file.
pub(crate) struct AtWriter {
    file: Arc<File>,
    /// Where `gathered` goes.
    pos: u64,
    gathered: Vec<u8>,
    /// A buffer back from its write, gathered into next (two buffers per writer at most).
    spare: Vec<u8>,
    op: Option<JoinHandle<(Vec<u8>, io::Result<()>)>>,
    /// Where its buffers come from and go back to.
    buffers: WriteBuffers,
}

impl AtWriter {
    /// A writer whose first byte lands at `offset` of `file`, for about `len` bytes (its
    /// buffer is no bigger: a small file costs a small buffer). A piece of [`MAX_WRITE`] or
    /// more takes a kept buffer from `buffers` where there is one; both its buffers go back
    /// there when it is dropped.
    pub(crate) fn new(file: Arc<File>, offset: u64, len: u64, buffers: &WriteBuffers) -> Self {
        let room = usize::try_from(len).map_or(MAX_WRITE, |l| l.clamp(1, MAX_WRITE));
        let gathered = match room {
            MAX_WRITE => buffers.take(),
            _ => None,
        }
        .unwrap_or_else(|| Vec::with_capacity(room));
        AtWriter {
            file,
            pos: offset,
            gathered,
            spare: Vec::new(),
            op: None,
            buffers: buffers.clone(),
        }
    }

    /// Wait for the write in flight, if any.
    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(op) = self.op.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let r = match Pin::new(op).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok((mut buf, r))) => {
                buf.clear();
                self.spare = buf;
                r
            }
            Poll::Ready(Err(e)) => Err(io::Error::other(e)),
        };
        self.op = None;
        Poll::Ready(r)
    }

    /// Start writing what was gathered (once the write before it is done).
    fn poll_start(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.poll_op(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        if !self.gathered.is_empty() {
            let data = std::mem::replace(&mut self.gathered, std::mem::take(&mut self.spare));
            let (file, at) = (Arc::clone(&self.file), self.pos);
            self.pos += data.len() as u64;
            self.op = Some(tokio::task::spawn_blocking(move || {
                let r = write_all_at(&file, &data, at);
                (data, r)
            }));
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for AtWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.gathered.len() >= MAX_WRITE {
            match this.poll_start(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        if this.gathered.capacity() == 0 {
            // The first buffer went to be written and none came back yet.
            match this.buffers.take() {
                Some(kept) => this.gathered = kept,
                None => this.gathered.reserve(MAX_WRITE),
            }
        }
        let n = buf.len().min(MAX_WRITE - this.gathered.len());
        this.gathered.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match this.poll_start(cx) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
            if this.gathered.is_empty() {
                // Started the last write, or nothing was left: wait for it.
                return this.poll_op(cx);
            }
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl Drop for AtWriter {
    fn drop(&mut self) {
        // A buffer still being written (a writer dropped before its flush) is let go with its
        // task; the others, if full-size, serve the next piece.
        for buf in [
            std::mem::take(&mut self.gathered),
            std::mem::take(&mut self.spare),
        ] {
            if buf.capacity() == MAX_WRITE {
                self.buffers.give(buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn pieces_written_out_of_order_at_their_offsets_make_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let file = Arc::new(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
                .expect("create"),
        );
        let data: Vec<u8> = (0..(MAX_WRITE * 2 + 77)).map(|i| (i % 253) as u8).collect();
        let cut = MAX_WRITE + 5;
        // The second piece first, in one write larger than MAX_WRITE; then the first in small
        // writes.
        let buffers = WriteBuffers::default();
        let mut second = AtWriter::new(
            Arc::clone(&file),
            cut as u64,
            (data.len() - cut) as u64,
            &buffers,
        );
        second.write_all(&data[cut..]).await.expect("write");
        second.flush().await.expect("flush");
        drop(second);
        assert_eq!(buffers.kept(), 2, "both buffers of a big piece are kept");
        let mut first = AtWriter::new(Arc::clone(&file), 0, 10, &buffers);
        for piece in data[..cut].chunks(1000) {
            first.write_all(piece).await.expect("write");
        }
        first.flush().await.expect("flush");
        assert_eq!(std::fs::read(&path).expect("read"), data);
        let mut back = vec![0u8; 10];
        assert_eq!(read_at(&file, &mut back, cut as u64).expect("read_at"), 10);
        assert_eq!(back, &data[cut..cut + 10]);
        assert_eq!(
            read_at(&file, &mut back, data.len() as u64).expect("at the end"),
            0
        );
    }

    #[tokio::test]
    async fn a_finished_pieces_buffers_serve_the_next_piece_and_write_its_own_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let file = Arc::new(std::fs::File::create(&path).expect("create"));
        let buffers = WriteBuffers::default();
        let a: Vec<u8> = vec![0xAA; MAX_WRITE + 3];
        let b: Vec<u8> = (0..MAX_WRITE + 9).map(|i| (i % 251) as u8).collect();
        let mut first = AtWriter::new(Arc::clone(&file), 0, a.len() as u64, &buffers);
        first.write_all(&a).await.expect("write a");
        first.flush().await.expect("flush a");
        drop(first);
        let kept = buffers.kept_at();
        assert_eq!(kept.len(), 2);
        // The next piece writes from the kept buffers, and only its own bytes.
        let mut second = AtWriter::new(Arc::clone(&file), a.len() as u64, b.len() as u64, &buffers);
        assert!(
            kept.contains(&second.gathered.as_ptr()),
            "a kept buffer, not a new one"
        );
        second.write_all(&b).await.expect("write b");
        second.flush().await.expect("flush b");
        drop(second);
        let mut want = a.clone();
        want.extend_from_slice(&b);
        assert_eq!(std::fs::read(&path).expect("read"), want);
        assert!(buffers.kept() <= WriteBuffers::KEEP);
        // A small piece takes a small buffer of its own and keeps none.
        let small = WriteBuffers::default();
        let w = AtWriter::new(Arc::clone(&file), 0, 10, &small);
        assert!(w.gathered.capacity() < MAX_WRITE);
        drop(w);
        assert_eq!(small.kept(), 0);
    }
}
