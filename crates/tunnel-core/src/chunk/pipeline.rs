//! Hashing a file of several chunks on three threads: the caller's thread reads and finds the
//! cut points (the content-defined cutter costs about a third of a SHA-256 pass), one thread
//! hashes the chunks, one the whole file. Each read buffer goes to both hashers at once and
//! comes back to the reader when both are done with it; at most [`BUFFERS`] exist.
//!
//! Before, the reader also hashed the chunks: reading, cutting and one SHA-256 pass on one
//! thread were the scan's bound on a big file (docs/benchmarks.md, 2026-12-06, second section).
//!
//! A [`ChunkSink`] sees the bytes on the chunk-hashing thread, in order, and the end of each
//! chunk with its digest as soon as it is known: the upload of a new big file packs its chunks
//! from the very bytes that were hashed, in the one read (`sync/upload_stream.rs`).

use std::io::{self, Read};
use std::path::Path;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;

use super::{ChunkHash, Cut, READ_BUFFER};
use crate::hash::{Digest, Hasher};

/// Read buffers in use at once (1 MiB each), shared by the reader and both hashers.
pub(super) const BUFFERS: usize = 4;

/// A read buffer, its first `len` bytes the file's next bytes, and where chunks end in them
/// (offsets into the buffer, ascending, each at most `len`).
struct Piece {
    buf: Vec<u8>,
    len: usize,
    cuts: Vec<usize>,
}

/// What sees a file's bytes as they are hashed: every byte in order, and the end of each
/// chunk with its digest (after that chunk's last byte, before the next chunk's first). An
/// error stops the read; the hashing fails with it.
pub(crate) trait ChunkSink: Send {
    /// Whether [`ChunkSink::bytes`] wants the bytes (`false`: a file of one chunk may be
    /// hashed on the reading thread alone).
    const SEES_BYTES: bool = true;
    /// The file's next bytes.
    fn bytes(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// The chunk that the bytes so far end.
    fn chunk_end(&mut self, chunk: ChunkHash) -> io::Result<()>;
}

/// No sink: only the hashes are wanted.
impl ChunkSink for () {
    const SEES_BYTES: bool = false;
    fn bytes(&mut self, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn chunk_end(&mut self, _: ChunkHash) -> io::Result<()> {
        Ok(())
    }
}

/// Reads `file` to its end, cutting it where `cut` says; returns the bytes read, the chunk
/// hashes and the whole file's digest. `sink` sees the bytes and the chunks on the
/// chunk-hashing thread.
pub(super) fn read_cut_and_hash<S: ChunkSink>(
    file: &mut std::fs::File,
    path: &Path,
    cut: Cut,
    after_first_read: &(dyn Fn(&Path) + Sync),
    sink: &mut S,
) -> io::Result<(u64, Vec<ChunkHash>, Digest)> {
    let stopped = || io::Error::other("a hashing thread stopped");
    std::thread::scope(|scope| {
        let (to_chunks, chunk_rx) = sync_channel::<Arc<Piece>>(BUFFERS);
        let (to_whole, whole_rx) = sync_channel::<Arc<Piece>>(BUFFERS);
        let (give_back, returned) = channel::<Arc<Piece>>();
        let back = give_back.clone();
        let chunks = scope.spawn(move || hash_chunks(chunk_rx, back, sink));
        let whole = scope.spawn(move || hash_whole(whole_rx, give_back));
        let mut pool = Pool {
            returned,
            allocated: 0,
        };
        let read = feed(
            file,
            path,
            cut,
            after_first_read,
            &mut pool,
            &to_chunks,
            &to_whole,
        );
        // The hashers end when their channels close.
        drop((to_chunks, to_whole));
        // The sink's own error first: it is why the reader stopped.
        let chunks = chunks.join().map_err(|_| stopped())??;
        let whole = whole.join().map_err(|_| stopped());
        Ok((read?, chunks, whole?))
    })
}

/// Reads `file` to its end on this thread, finding the cut points of each buffer, and hands
/// every buffer to both hashers; returns the bytes read.
fn feed(
    file: &mut std::fs::File,
    path: &Path,
    mut cut: Cut,
    after_first_read: &(dyn Fn(&Path) + Sync),
    pool: &mut Pool,
    to_chunks: &SyncSender<Arc<Piece>>,
    to_whole: &SyncSender<Arc<Piece>>,
) -> io::Result<u64> {
    let stopped = || io::Error::other("a hashing thread stopped");
    let mut total: u64 = 0;
    let mut piece_len: u64 = 0;
    let mut first = true;
    loop {
        let mut buf = pool.take().ok_or_else(stopped)?;
        let n = loop {
            match file.read(&mut buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                read => break read?,
            }
        };
        if n == 0 {
            break;
        }
        if first {
            first = false;
            after_first_read(path);
        }
        total += n as u64;
        let mut cuts = Vec::new();
        let mut at = 0;
        while at < n {
            let (take, ends) = cut.take(&buf[at..n], piece_len);
            piece_len += take as u64;
            at += take;
            if ends {
                cuts.push(at);
                piece_len = 0;
            }
        }
        let piece = Arc::new(Piece { buf, len: n, cuts });
        to_chunks.send(Arc::clone(&piece)).map_err(|_| stopped())?;
        to_whole.send(piece).map_err(|_| stopped())?;
    }
    Ok(total)
}

/// Buffers that came back from the hashers, and how many were made.
struct Pool {
    returned: Receiver<Arc<Piece>>,
    allocated: usize,
}

impl Pool {
    /// A buffer to read into: one both hashers are done with, a new one while fewer than
    /// [`BUFFERS`] exist, else the next to come back. `None`: the hashers stopped.
    fn take(&mut self) -> Option<Vec<u8>> {
        // Each piece comes back twice (once per hasher); the later return holds it alone.
        let reuse = |p: Arc<Piece>| Arc::try_unwrap(p).ok().map(|p| p.buf);
        while let Ok(p) = self.returned.try_recv() {
            if let Some(buf) = reuse(p) {
                return Some(buf);
            }
        }
        if self.allocated < BUFFERS {
            self.allocated += 1;
            return Some(vec![0u8; READ_BUFFER]);
        }
        loop {
            if let Some(buf) = reuse(self.returned.recv().ok()?) {
                return Some(buf);
            }
        }
    }
}

/// The chunk hashes, from the pieces in order, each byte and chunk shown to `sink` too.
fn hash_chunks<S: ChunkSink>(
    pieces: Receiver<Arc<Piece>>,
    back: Sender<Arc<Piece>>,
    sink: &mut S,
) -> io::Result<Vec<ChunkHash>> {
    let mut chunks = Vec::new();
    let mut hasher = Hasher::new();
    let mut len: u64 = 0;
    while let Ok(p) = pieces.recv() {
        let mut from = 0;
        for &to in &p.cuts {
            hasher.update(&p.buf[from..to]);
            sink.bytes(&p.buf[from..to])?;
            len += (to - from) as u64;
            let chunk = ChunkHash {
                sha256: std::mem::take(&mut hasher).finish(),
                size: len,
            };
            chunks.push(chunk);
            sink.chunk_end(chunk)?;
            len = 0;
            from = to;
        }
        hasher.update(&p.buf[from..p.len]);
        sink.bytes(&p.buf[from..p.len])?;
        len += (p.len - from) as u64;
        // The reader may have stopped already; the buffer is then just dropped.
        let _ = back.send(p);
    }
    if len > 0 {
        let chunk = ChunkHash {
            sha256: hasher.finish(),
            size: len,
        };
        chunks.push(chunk);
        sink.chunk_end(chunk)?;
    }
    Ok(chunks)
}

/// The whole file's digest, from the pieces in order.
fn hash_whole(pieces: Receiver<Arc<Piece>>, back: Sender<Arc<Piece>>) -> Digest {
    let mut hasher = Hasher::new();
    while let Ok(p) = pieces.recv() {
        hasher.update(&p.buf[..p.len]);
        let _ = back.send(p);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::super::{hash_file_observed, hash_file_with, is_file_changed, Chunking};
    use super::*;

    /// Bytes that do not repeat (so content-defined cuts fall at varied places).
    fn noise(len: usize) -> Vec<u8> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn a_file_cut_by_content_over_many_buffers_hashes_as_its_pieces_do() {
        let dir = tempfile::tempdir().expect("tempdir");
        // More buffers than ever exist at once (they go round), and a tail that is not a
        // whole buffer.
        let data = noise(READ_BUFFER * (BUFFERS * 2 + 1) + 12_345);
        let p = dir.path().join("big");
        std::fs::write(&p, &data).expect("write");
        let chunking = Chunking::new(8 << 20, 64 << 10);
        let content = chunking
            .content_for(data.len() as u64)
            .expect("cut by content");
        let h = hash_file_with(&p, &chunking).expect("hash");
        let mut at = 0usize;
        let want: Vec<ChunkHash> = content
            .cut_all(&data)
            .into_iter()
            .map(|n| {
                let piece = &data[at..at + n as usize];
                at += n as usize;
                ChunkHash {
                    sha256: Digest::of(piece),
                    size: n,
                }
            })
            .collect();
        assert!(
            want.len() > 100,
            "many chunks, across buffers: {}",
            want.len()
        );
        assert_eq!(h.chunks, want, "every chunk where the cutter says, hashed");
        assert_eq!(h.sha256, Digest::of(&data), "the whole file, in order");
        assert_eq!(h.size, data.len() as u64);
    }

    #[test]
    fn a_file_cut_by_content_that_grows_while_read_is_changed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("big");
        std::fs::write(&p, noise(READ_BUFFER * 3)).expect("write");
        let chunking = Chunking::new(8 << 20, 64 << 10);
        let res = hash_file_observed(&p, &chunking, &|path| test_support::tree::grow(path));
        let err = res.expect_err("the file grew while it was read");
        assert!(is_file_changed(&err), "unexpected error {err}");
    }
}
