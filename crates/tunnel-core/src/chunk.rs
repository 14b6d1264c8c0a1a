//! Chunking and hashing of local files.
//!
//! A file is cut into pieces ([`Chunking`]): of `chunk_size` bytes (the last one shorter), or —
//! a file larger than the largest content-defined chunk, when content-defined chunking is on —
//! where its content says ([`cdc`]), so that an edit of a big file changes only the chunks
//! around it. Each piece and the whole file are hashed with SHA-256 in one read pass through a
//! bounded buffer; the cut points are found in the same pass.
//!
//! Invariants:
//! - an empty file has zero chunks; a file of at most `chunk_size` bytes that is not cut by
//!   content has exactly one chunk whose hash equals the whole-file hash; the chunk sizes
//!   always add up to the file size;
//! - [`hash_file`] never returns hashes of a torn file: size and mtime are compared before and
//!   after reading, and the byte count read must equal the size; otherwise it fails with
//!   [`FileChanged`] (find it with [`is_file_changed`]).
//!
//! SHA-256 comes from `sha2` with its default features: on x86-64 it detects SHA-NI at run time
//! (and falls back to portable code), which is as fast as the `asm` feature and needs no C
//! toolchain.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::hash::{Digest, Hasher};

pub mod cdc;
mod pipeline;

pub use cdc::ContentChunking;
pub(crate) use pipeline::ChunkSink;

/// How files are cut into chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunking {
    /// Pieces of this many bytes (at least 1), for files not cut by content.
    pub fixed: u64,
    /// Content-defined chunking for files larger than its largest chunk (`None`: off).
    pub content: Option<ContentChunking>,
}

impl Chunking {
    /// Fixed-size pieces of `chunk_size` bytes only.
    pub fn fixed(chunk_size: u64) -> Chunking {
        Chunking {
            fixed: chunk_size,
            content: None,
        }
    }

    /// Pieces of `chunk_size` bytes, and content-defined chunks of `avg` bytes on average for
    /// big files (`avg` 0: none). The largest content-defined chunk never passes `chunk_size`
    /// (which the server accepts): `avg` is lowered to fit, and content-defined chunking is
    /// off when not even [`cdc::MIN_AVG`] fits.
    pub fn new(chunk_size: u64, avg: u64) -> Chunking {
        let content = match avg {
            0 => None,
            a => ContentChunking::with_average(a.min(chunk_size / 2)),
        };
        Chunking {
            fixed: chunk_size,
            content,
        }
    }

    /// The content-defined chunking a file of `size` bytes is cut with, if any.
    pub fn content_for(&self, size: u64) -> Option<ContentChunking> {
        self.content.filter(|c| size > c.max())
    }

    /// Whether `chunks` (of a file of `size` bytes, from an earlier hash) could have been cut by
    /// this chunking: the right number of fixed pieces, or — for a file cut by content — every
    /// chunk but the last `min..=max` bytes and the last at most `max`. Content-defined cut
    /// points cannot be checked without reading the file; chunks of the right sizes are valid
    /// chunks whatever the parameters that cut them.
    pub fn fits(&self, chunks: &[ChunkHash], size: u64) -> bool {
        if chunks.iter().map(|c| c.size).sum::<u64>() != size {
            return false;
        }
        match self.content_for(size) {
            Some(c) => match chunks.split_last() {
                Some((last, body)) => {
                    last.size >= 1
                        && last.size <= c.max()
                        && body.iter().all(|ch| (c.min()..=c.max()).contains(&ch.size))
                }
                None => false,
            },
            None => {
                chunks.len() as u64 == size.div_ceil(self.fixed.max(1))
                    && chunks.iter().rev().skip(1).all(|ch| ch.size == self.fixed)
            }
        }
    }
}

/// Size of the read buffer used while hashing (bounded memory per file).
const READ_BUFFER: usize = 1024 * 1024;

/// Bytes read at a time from a file of one chunk, hashed on the reading thread.
const SMALL_READ: usize = 256 * 1024;

/// Hash and size of one chunk of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChunkHash {
    /// SHA-256 of the chunk's bytes.
    pub sha256: Digest,
    /// Number of bytes in the chunk.
    pub size: u64,
}

/// Result of [`hash_file`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileHashes {
    /// Size in bytes.
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Inode number (0 where the platform has none).
    pub inode: u64,
    /// SHA-256 of the whole file.
    pub sha256: Digest,
    /// The chunks in file order.
    pub chunks: Vec<ChunkHash>,
}

/// The file changed (size, mtime or length read) while it was being hashed.
///
/// Carried inside an [`io::Error`] of kind [`io::ErrorKind::Other`]; use [`is_file_changed`].
#[derive(Debug, thiserror::Error)]
#[error("{} changed while it was being read", path.display())]
pub struct FileChanged {
    /// The file.
    pub path: PathBuf,
}

/// True when `err` is the [`FileChanged`] error of [`hash_file`].
pub fn is_file_changed(err: &io::Error) -> bool {
    err.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<FileChanged>().is_some())
}

/// Modification time of `meta` in nanoseconds since the Unix epoch (negative before it).
pub fn mtime_ns(meta: &Metadata) -> i64 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        meta.mtime()
            .saturating_mul(1_000_000_000)
            .saturating_add(meta.mtime_nsec())
    }
    #[cfg(not(unix))]
    {
        match meta.modified() {
            Ok(t) => match t.duration_since(std::time::UNIX_EPOCH) {
                Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
                Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
            },
            Err(_) => 0,
        }
    }
}

/// Inode number of `meta` (0 where the platform has none).
pub fn inode(meta: &Metadata) -> u64 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        meta.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        0
    }
}

/// Hash `path` whole and in `chunk_size` pieces in one pass.
///
/// Fails with [`FileChanged`] (inside an `io::Error`, see [`is_file_changed`]) when the file
/// is modified while it is read. `chunk_size` must be at least 1.
pub fn hash_file(path: &Path, chunk_size: u64) -> io::Result<FileHashes> {
    hash_file_observed(path, &Chunking::fixed(chunk_size), &|_| {})
}

/// [`hash_file`] cutting with `chunking` (content-defined chunks for big files, if it says so).
pub fn hash_file_with(path: &Path, chunking: &Chunking) -> io::Result<FileHashes> {
    hash_file_observed(path, chunking, &|_| {})
}

/// [`hash_file`] calling `after_first_read` once the first buffer was read (tests use it to
/// change the file mid-read, deterministically).
pub(crate) fn hash_file_observed(
    path: &Path,
    chunking: &Chunking,
    after_first_read: &(dyn Fn(&Path) + Sync),
) -> io::Result<FileHashes> {
    let file = File::open(path)?;
    hash_open_file(file, path, chunking, after_first_read)
}

/// [`hash_file_observed`] on a file the caller opened (the scanner opens it without following
/// links and checks it is the file it listed); `path` names it in errors and for the hook.
/// "Changed while read" is judged on the open file itself, not on whatever the path names now.
pub(crate) fn hash_open_file(
    file: File,
    path: &Path,
    chunking: &Chunking,
    after_first_read: &(dyn Fn(&Path) + Sync),
) -> io::Result<FileHashes> {
    hash_open_file_into(file, path, chunking, after_first_read, &mut ())
}

/// [`hash_open_file`] showing every byte read, and each chunk once hashed, to `sink` (on the
/// thread that hashes the chunks): the bytes it sees are the bytes hashed. The hashes are
/// returned only when the whole file was read unchanged; the sink may have seen a file that
/// changed while it was read (it then gets an error back, and must not trust the whole).
pub(crate) fn hash_open_file_into<S: ChunkSink>(
    mut file: File,
    path: &Path,
    chunking: &Chunking,
    after_first_read: &(dyn Fn(&Path) + Sync),
    sink: &mut S,
) -> io::Result<FileHashes> {
    let chunk_size = chunking.fixed;
    if chunk_size == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "chunk size must be at least 1 byte",
        ));
    }
    let before = file.metadata()?;
    if !before.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    let size = before.len();
    let mtime = mtime_ns(&before);
    let content = chunking.content_for(size);

    // A file of one chunk has the chunk's digest as its own: hash its bytes once, not twice,
    // on this thread. A bigger one needs a second digest over the same bytes: its chunks and
    // the whole file are hashed on two threads while this one reads and cuts (`pipeline`), so
    // hashing a big file takes the time of one pass. (A file cut by content is larger than its
    // largest chunk: never one chunk.)
    let single = size <= chunk_size && content.is_none() && !S::SEES_BYTES;
    let cut = Cut::new(chunk_size, content);
    let (total, chunks, whole) = match single {
        true => {
            let (total, chunks) = read_and_hash(&mut file, path, cut, after_first_read, size)?;
            (total, chunks, None)
        }
        false => {
            let (total, chunks, whole) =
                pipeline::read_cut_and_hash(&mut file, path, cut, after_first_read, sink)?;
            (total, chunks, Some(whole))
        }
    };
    let after = file.metadata()?;
    if total != size || after.len() != size || mtime_ns(&after) != mtime {
        return Err(io::Error::other(FileChanged {
            path: path.to_owned(),
        }));
    }
    let sha256 = match (whole, chunks.as_slice()) {
        (Some(d), _) => d,
        (None, [only]) => only.sha256,
        (None, _) => Hasher::new().finish(), // empty file: no chunk
    };
    Ok(FileHashes {
        size,
        mtime_ns: mtime,
        inode: inode(&before),
        sha256,
        chunks,
    })
}

/// Where the next chunk ends: after a fixed number of bytes, or where the content says.
enum Cut {
    Fixed(u64),
    Content(cdc::Cutter),
}

impl Cut {
    fn new(chunk_size: u64, content: Option<ContentChunking>) -> Cut {
        match content {
            Some(c) => Cut::Content(c.cutter()),
            None => Cut::Fixed(chunk_size),
        }
    }

    /// How many bytes of `rest` belong to the current chunk (`piece_len` bytes long so far),
    /// and whether the chunk ends after them.
    fn take(&mut self, rest: &[u8], piece_len: u64) -> (usize, bool) {
        match self {
            Cut::Fixed(size) => {
                let room = *size - piece_len;
                let take = usize::try_from(room).map_or(rest.len(), |r| r.min(rest.len()));
                (take, piece_len + take as u64 == *size)
            }
            Cut::Content(cutter) => match cutter.next_cut(rest) {
                Some(n) => (n, true),
                None => (rest.len(), false),
            },
        }
    }
}

/// Reads `file` (`size` bytes when it was opened) to its end, hashing the pieces `cut` says on
/// this thread; returns the bytes read and the chunk hashes.
fn read_and_hash(
    file: &mut File,
    path: &Path,
    cut: Cut,
    after_first_read: &(dyn Fn(&Path) + Sync),
    size: u64,
) -> io::Result<(u64, Vec<ChunkHash>)> {
    // A byte more than the file is a file that grew.
    let want = usize::try_from(size).map_or(usize::MAX, |s| s.saturating_add(1));
    with_thread_buffer(want, |buf| {
        read_and_hash_with(file, path, cut, after_first_read, buf)
    })
}

/// Run `f` with this thread's read buffer, `want` bytes long (at most [`SMALL_READ`]); the
/// buffer is kept for the thread's next file. A heap buffer per file was fresh memory each
/// time — faulted in and zeroed page by page, since the allocator hands freed memory back at
/// once: about a tenth of the client's CPU on the first upload of 1,000 small files (issue 15);
/// and one on the stack is zeroed whole for every file, 20-byte ones included.
fn with_thread_buffer<R>(want: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let want = want.min(SMALL_READ);
    BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < want {
                buf.resize(want, 0);
            }
            f(&mut buf[..want])
        }
        // Called from inside `f` on the same thread: a buffer of its own.
        Err(_) => f(&mut vec![0u8; want]),
    })
}

fn read_and_hash_with(
    file: &mut File,
    path: &Path,
    mut cut: Cut,
    after_first_read: &(dyn Fn(&Path) + Sync),
    buf: &mut [u8],
) -> io::Result<(u64, Vec<ChunkHash>)> {
    let mut piece = Hasher::new();
    let mut piece_len: u64 = 0;
    let mut chunks = Vec::new();
    let mut total: u64 = 0;
    let mut first = true;
    loop {
        let n = match file.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if first {
            first = false;
            after_first_read(path);
        }
        total += n as u64;
        let data = &buf[..n];
        let mut rest = data;
        while !rest.is_empty() {
            let (take, ends) = cut.take(rest, piece_len);
            piece.update(&rest[..take]);
            piece_len += take as u64;
            rest = &rest[take..];
            if ends {
                let done = std::mem::take(&mut piece);
                chunks.push(ChunkHash {
                    sha256: done.finish(),
                    size: piece_len,
                });
                piece_len = 0;
            }
        }
    }
    if piece_len > 0 {
        chunks.push(ChunkHash {
            sha256: piece.finish(),
            size: piece_len,
        });
    }
    // Kept in the scan (and its cache rows) for every file: one chunk, not the four a first
    // push makes room for (12 MB at 100,000 small files, issue 15).
    chunks.shrink_to_fit();
    Ok((total, chunks))
}

/// The bytes did not hash to what was expected.
#[derive(Debug, thiserror::Error)]
#[error("integrity check failed for {what}: expected {expected}, got {actual}")]
pub struct Integrity {
    /// What was checked (a path, a path and chunk index, a blob name).
    pub what: String,
    /// The expected SHA-256.
    pub expected: Digest,
    /// What the bytes hashed to.
    pub actual: Digest,
}

/// Hashes bytes as they stream by and checks them against an expected digest at the end.
#[derive(Clone)]
pub struct ChunkVerifier {
    what: String,
    expected: Digest,
    hasher: Hasher,
    len: u64,
}

impl ChunkVerifier {
    /// A verifier for bytes that must hash to `expected`; `what` names them in the error
    /// (e.g. `"docs/a.pdf chunk 3"`).
    pub fn new(what: impl Into<String>, expected: Digest) -> Self {
        ChunkVerifier {
            what: what.into(),
            expected,
            hasher: Hasher::new(),
            len: 0,
        }
    }

    /// Feed the next bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// Number of bytes fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when nothing was fed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Finish: `Ok(digest)` when the bytes hash to the expected value.
    pub fn finish(self) -> Result<Digest, Integrity> {
        let actual = self.hasher.finish();
        if actual == self.expected {
            Ok(actual)
        } else {
            Err(Integrity {
                what: self.what,
                expected: self.expected,
                actual,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).expect("write test file");
        p
    }

    #[test]
    fn a_threads_read_buffer_is_kept_sized_as_asked_and_safe_to_ask_for_within() {
        let first = with_thread_buffer(100, |buf| {
            assert_eq!(buf.len(), 100);
            buf.fill(7);
            buf.as_ptr() as usize
        });
        let again = with_thread_buffer(50, |buf| {
            assert_eq!(buf.len(), 50);
            // Asked for again from inside: another buffer, no panic.
            let inner = with_thread_buffer(10, |b| b.as_ptr() as usize);
            assert_ne!(inner, buf.as_ptr() as usize);
            buf.as_ptr() as usize
        });
        assert_eq!(first, again, "the thread's buffer is kept, not made anew");
        assert_eq!(with_thread_buffer(usize::MAX, |b| b.len()), SMALL_READ);
    }

    #[test]
    fn empty_file_has_no_chunks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(dir.path(), "e", b"");
        let h = hash_file(&p, 4).expect("hash");
        assert_eq!(h.size, 0);
        assert!(
            h.chunks.is_empty(),
            "an empty file is stored without chunks"
        );
        assert_eq!(h.sha256, Digest::of(b""));
    }

    #[test]
    fn small_file_has_one_chunk_equal_to_file_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        for len in [1usize, 3, 4] {
            let data = vec![7u8; len];
            let p = write(dir.path(), "s", &data);
            let h = hash_file(&p, 4).expect("hash");
            assert_eq!(h.chunks.len(), 1, "{len} bytes ≤ chunk size is one chunk");
            assert_eq!(
                h.chunks[0].sha256, h.sha256,
                "single chunk hash is the file hash"
            );
            assert_eq!(h.chunks[0].size, len as u64);
        }
    }

    #[test]
    fn chunks_match_independent_hashes_across_buffer_boundaries() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Larger than the read buffer, with a chunk size that does not divide it.
        let data: Vec<u8> = (0..(READ_BUFFER * 2 + 12_345))
            .map(|i| (i % 251) as u8)
            .collect();
        let p = write(dir.path(), "big", &data);
        let chunk = 300_007u64;
        let h = hash_file(&p, chunk).expect("hash");
        let expected: Vec<ChunkHash> = data
            .chunks(chunk as usize)
            .map(|c| ChunkHash {
                sha256: Digest::of(c),
                size: c.len() as u64,
            })
            .collect();
        assert_eq!(h.chunks, expected, "each chunk hashed on its own bytes");
        assert_eq!(h.sha256, Digest::of(&data));
        assert_eq!(h.size, data.len() as u64);
        assert_eq!(h.chunks.iter().map(|c| c.size).sum::<u64>(), h.size);
    }

    #[test]
    fn a_file_of_many_buffers_reuses_them_and_digests_every_byte_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Many more read buffers than the hashers may hold: buffers go round.
        let len = READ_BUFFER * (pipeline::BUFFERS * 3) + 777;
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
        let p = write(dir.path(), "many", &data);
        let chunk = (READ_BUFFER + 4099) as u64;
        let h = hash_file(&p, chunk).expect("hash");
        assert_eq!(
            h.sha256,
            Digest::of(&data),
            "whole digest over every buffer, in order"
        );
        assert_eq!(h.chunks.len(), data.chunks(chunk as usize).len());
        assert_eq!(
            h.chunks.last().map(|c| c.sha256),
            data.chunks(chunk as usize).last().map(Digest::of)
        );
    }

    #[test]
    fn exact_multiple_has_no_empty_tail_chunk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(dir.path(), "m", &[1u8; 12]);
        let h = hash_file(&p, 4).expect("hash");
        assert_eq!(
            h.chunks.len(),
            3,
            "12 bytes in 4-byte chunks is exactly 3 chunks"
        );
    }

    #[test]
    fn zero_chunk_size_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(dir.path(), "z", b"abc");
        let err = hash_file(&p, 0).expect_err("zero chunk size");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn file_changed_error_is_matchable() {
        let err = io::Error::other(FileChanged {
            path: PathBuf::from("x"),
        });
        assert!(is_file_changed(&err));
        assert!(!is_file_changed(&io::Error::other("something else")));
    }

    #[test]
    fn file_written_during_hash_is_reported_as_changed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(dir.path(), "g", &vec![0u8; READ_BUFFER * 2]);
        let res = hash_file_observed(&p, &Chunking::fixed(1 << 20), &|path| {
            test_support::tree::grow(path)
        });
        let err = res.expect_err("the file grew while it was read");
        assert!(is_file_changed(&err), "unexpected error {err}");
    }

    #[test]
    fn verifier_accepts_right_bytes_and_names_wrong_ones() {
        let mut v = ChunkVerifier::new("a.txt chunk 0", Digest::of(b"hello"));
        v.update(b"hel");
        v.update(b"lo");
        assert_eq!(v.len(), 5);
        assert_eq!(v.finish().expect("matches"), Digest::of(b"hello"));

        let mut v = ChunkVerifier::new("a.txt chunk 1", Digest::of(b"hello"));
        v.update(b"jello");
        let err = v.finish().expect_err("different bytes");
        assert!(err.to_string().contains("a.txt chunk 1"), "{err}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever the sizes, the chunks are the file cut at multiples of the chunk size,
        /// each hashed on its own, and they add up to the file.
        #[test]
        fn chunks_are_the_file_cut_in_pieces(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000),
            chunk_size in 1u64..700,
        ) {
            let dir = tempfile::tempdir().expect("tempdir");
            let p = write(dir.path(), "p", &data);
            let h = hash_file(&p, chunk_size).expect("hash");
            let expected: Vec<ChunkHash> = data
                .chunks(chunk_size as usize)
                .map(|c| ChunkHash { sha256: Digest::of(c), size: c.len() as u64 })
                .collect();
            proptest::prop_assert_eq!(&h.chunks, &expected);
            proptest::prop_assert_eq!(h.sha256, Digest::of(&data));
            proptest::prop_assert_eq!(h.size, data.len() as u64);
            if !data.is_empty() && data.len() as u64 <= chunk_size {
                proptest::prop_assert_eq!(h.chunks[0].sha256, h.sha256);
            }
        }
    }
}
