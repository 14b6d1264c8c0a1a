//! Upload bodies: the multipart `file` part built from a [`BlobSource`], streamed from disk
//! and hashed on the fly.
//!
//! Invariant: for a file source, the **last** chunk is released to the HTTP body only after
//! the SHA-256 of all bytes matched the expected digest. On a mismatch (or a file that became
//! shorter) the stream fails before the body is complete, so the server receives a truncated
//! request and stores nothing; the shared [`SourceCheck`] flag tells the caller to report
//! [`RemoteError::SourceChanged`] instead of retrying.
//!
//! Reading and hashing run on a blocking thread (never on the reactor) and hand chunks over a
//! small bounded channel, so memory stays at a few chunks whatever the file size.
//!
//! Every chunk taken by the HTTP stack touches a [`Progress`] clock: reqwest's read timeout
//! runs from the start of the request to the answer, which a big upload on a slow link would
//! exceed; uploads instead use a stall timeout measured from the last chunk sent.
//!
//! Under an upload limit the body passes through the client's shared [`Throttle`]: chunks
//! are cut into slices of at most one burst and each slice waits for its tokens before the
//! HTTP stack gets it. Time spent waiting in our own limiter is not a stall (the [`Progress`]
//! clock is held while waiting). Every attempt builds a new body, so retried bytes count again.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use reqwest::multipart::Part;
use tokio::sync::mpsc;
use tunnel_core::hash::{Digest, Hasher};
use tunnel_core::remote::{BlobSource, RemoteError};

use crate::throttle::Throttle;

/// Bytes read from disk per chunk.
const CHUNK_BYTES: usize = 256 * 1024;
/// Chunks buffered between the reading thread and the HTTP body (memory ≤ 4 × 256 KiB).
const CHANNEL_CHUNKS: usize = 4;

/// Set when the file no longer matches its expected hash; shared by the stream and the caller.
#[derive(Clone, Debug, Default)]
pub(crate) struct SourceCheck(Arc<AtomicBool>);

impl SourceCheck {
    /// Whether the stream found the source changed.
    pub(crate) fn changed(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
    fn mark_changed(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// When the upload body last made progress (a chunk was taken by the HTTP stack).
#[derive(Clone, Debug)]
pub(crate) struct Progress {
    start: Instant,
    last_ms: Arc<AtomicU64>,
    /// The body is waiting in our bandwidth limiter (not stalled).
    throttled: Arc<AtomicBool>,
}

impl Progress {
    fn new() -> Self {
        Progress {
            start: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
            throttled: Arc::new(AtomicBool::new(false)),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Time since the last progress (or since the upload was prepared); zero while the body
    /// waits in the bandwidth limiter.
    pub(crate) fn idle(&self) -> Duration {
        if self.throttled.load(Ordering::Relaxed) {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }

    /// Wait for `bytes` of upload bandwidth without the wait counting as a stall.
    async fn throttle(&self, throttle: &Throttle, bytes: u64) {
        let wait = throttle.reserve(bytes);
        if !wait.is_zero() {
            self.throttled.store(true, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
            self.touch();
            self.throttled.store(false, Ordering::Relaxed);
        }
    }
}

/// `chunks` as an upload body stream: cut to the throttle's slice length, each slice
/// reserved in `throttle` (waiting when over the limit), each one touching `clock`.
fn throttled_body<S>(
    chunks: S,
    throttle: Arc<Throttle>,
    clock: Progress,
) -> impl Stream<Item = ChunkResult> + Send + 'static
where
    S: Stream<Item = ChunkResult> + Send + Unpin + 'static,
{
    futures::stream::unfold(
        (chunks, Bytes::new(), throttle, clock),
        |(mut chunks, mut pending, throttle, clock)| async move {
            if pending.is_empty() {
                match chunks.next().await? {
                    Ok(chunk) => pending = chunk,
                    Err(e) => return Some((Err(e), (chunks, pending, throttle, clock))),
                }
            }
            let take = pending.len().min(throttle.slice_len());
            let slice = pending.split_to(take);
            clock.throttle(&throttle, slice.len() as u64).await;
            clock.touch();
            tunnel_core::progress::wire::note(slice.len() as u64);
            Some((Ok(slice), (chunks, pending, throttle, clock)))
        },
    )
    .fuse()
}

/// The digest an upload records in its comment: `sha256=<hex>` of its bytes (given for files,
/// computed for in-memory bytes), or `members-sha256=<hex>` of the member list of a pack named
/// by its members (whose bytes are never hashed as a whole; its name says the same digest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Recorded {
    key: &'static str,
    digest: Digest,
}

impl Recorded {
    /// The attachment's comment.
    pub(crate) fn comment(&self) -> String {
        format!("{}={}", self.key, self.digest.to_hex())
    }

    /// Whether an attachment's `comment` records other bytes: a digest of ours of another
    /// kind or value. `None` when it records none (another tool's, or no comment).
    pub(crate) fn differs_from(&self, comment: &str) -> Option<bool> {
        let (key, hex) = comment.trim().split_once('=')?;
        if key != "sha256" && key != "members-sha256" {
            return None;
        }
        Some(key != self.key || !hex.eq_ignore_ascii_case(&self.digest.to_hex()))
    }
}

/// What the upload of `source` records of it (see [`Recorded`]).
pub(crate) fn source_digest(source: &BlobSource) -> Recorded {
    let (key, digest) = match source {
        BlobSource::File { sha256, .. } | BlobSource::Open { sha256, .. } => ("sha256", *sha256),
        BlobSource::Bytes(b) => ("sha256", Digest::of(b)),
        BlobSource::Members { members, .. } => ("members-sha256", *members),
    };
    Recorded { key, digest }
}

/// The multipart `file` part for `source`, named `filename`, with its hash check and progress
/// clock. A file source is opened here (`BlobSource::File`, so a missing file is an immediate
/// [`RemoteError::Io`]) or arrives opened and checked by the engine (`BlobSource::Open`); it is
/// read with positioned reads on a blocking thread and verified while streaming.
pub(crate) fn file_part(
    source: &BlobSource,
    filename: &str,
    throttle: &Arc<Throttle>,
) -> Result<(Part, SourceCheck, Progress), RemoteError> {
    let check = SourceCheck::default();
    let progress = Progress::new();
    let part = match source {
        BlobSource::Bytes(bytes) | BlobSource::Members { bytes, .. } => {
            // Slices of the same buffer (no copy), so that progress is seen per chunk.
            let slices: Vec<Bytes> = (0..bytes.len())
                .step_by(CHUNK_BYTES)
                .map(|at| bytes.slice(at..(at + CHUNK_BYTES).min(bytes.len())))
                .collect();
            let stream = futures::stream::iter(slices.into_iter().map(Ok));
            let body = throttled_body(stream, Arc::clone(throttle), progress.clone());
            Part::stream_with_length(reqwest::Body::wrap_stream(body), bytes.len() as u64)
        }
        BlobSource::File { len, sha256, .. } | BlobSource::Open { len, sha256, .. } => {
            let Some(opened) = source.reader() else {
                return Err(RemoteError::Protocol("not a file source".into()));
            };
            let (reader, path) = opened?;
            let rx = spawn_reader(reader, path.to_path_buf(), *len, *sha256, check.clone());
            let stream = futures::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            })
            .boxed();
            let body = throttled_body(stream, Arc::clone(throttle), progress.clone());
            Part::stream_with_length(reqwest::Body::wrap_stream(body), *len)
        }
    };
    let part = part
        .file_name(filename.to_owned())
        .mime_str("application/octet-stream")
        .map_err(|e| RemoteError::Protocol(format!("cannot build the upload: {e}")))?;
    Ok((part, check, progress))
}

type ChunkResult = Result<Bytes, std::io::Error>;

/// Start the blocking reader. It stops on its own when the receiver is dropped (the request
/// ended or was cancelled).
fn spawn_reader(
    file: impl Read + Send + 'static,
    path: PathBuf,
    len: u64,
    expected: Digest,
    check: SourceCheck,
) -> mpsc::Receiver<ChunkResult> {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = read_verified(file, &path, len, expected, &check, &tx) {
            // The receiver may be gone already; then nobody needs the error.
            let _ = tx.blocking_send(Err(e));
        }
    });
    rx
}

/// Read `len` bytes, send them in chunks, and hold back the last chunk until the digest is
/// checked. Returns an error (after marking `check`) when the bytes differ.
fn read_verified(
    mut file: impl Read,
    path: &Path,
    len: u64,
    expected: Digest,
    check: &SourceCheck,
    tx: &mpsc::Sender<ChunkResult>,
) -> Result<(), std::io::Error> {
    let mut hasher = Hasher::new();
    let mut remaining = len;
    let changed = |why: &str| {
        check.mark_changed();
        std::io::Error::other(format!("{} changed while uploading: {why}", path.display()))
    };
    loop {
        let want = usize::try_from(remaining.min(CHUNK_BYTES as u64)).unwrap_or(CHUNK_BYTES);
        let mut buf = vec![0u8; want];
        let mut filled = 0;
        while filled < want {
            let n = file.read(&mut buf[filled..])?;
            if n == 0 {
                return Err(changed("the file became shorter"));
            }
            filled += n;
        }
        hasher.update(&buf);
        remaining -= want as u64;
        if remaining == 0 {
            if hasher.finish() != expected {
                return Err(changed(
                    "its content no longer matches the expected SHA-256",
                ));
            }
            if want > 0 {
                let _ = tx.blocking_send(Ok(Bytes::from(buf)));
            }
            return Ok(());
        }
        if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
            // The request is gone; stop reading.
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom};

    async fn collect(rx: mpsc::Receiver<ChunkResult>) -> (Vec<u8>, Option<std::io::Error>) {
        let mut out = Vec::new();
        let mut stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
        .boxed();
        while let Some(item) = stream.next().await {
            match item {
                Ok(b) => out.extend_from_slice(&b),
                Err(e) => return (out, Some(e)),
            }
        }
        (out, None)
    }

    #[tokio::test]
    async fn a_matching_slice_streams_completely() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..(CHUNK_BYTES * 2 + 17))
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let slice = &data[5..5 + CHUNK_BYTES + 3];
        let mut f = std::fs::File::open(&path).unwrap();
        f.seek(SeekFrom::Start(5)).unwrap();
        let check = SourceCheck::default();
        let rx = spawn_reader(
            f,
            path.clone(),
            slice.len() as u64,
            Digest::of(slice),
            check.clone(),
        );
        let (got, err) = collect(rx).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(got, slice, "exactly the slice, in order");
        assert!(!check.changed());
    }

    #[tokio::test]
    async fn a_changed_file_never_releases_its_last_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data = vec![7u8; CHUNK_BYTES + 10];
        std::fs::write(&path, &data).unwrap();
        let check = SourceCheck::default();
        let wrong = Digest::of(b"something else");
        let f = std::fs::File::open(&path).unwrap();
        let rx = spawn_reader(f, path.clone(), data.len() as u64, wrong, check.clone());
        let (got, err) = collect(rx).await;
        assert!(err.is_some(), "the stream must fail");
        assert!(got.len() < data.len(), "the body stays incomplete");
        assert!(check.changed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_limited_body_is_sliced_paced_and_never_seen_as_stalled() {
        let rate = 1_000_000u64;
        let throttle = Arc::new(Throttle::new(rate));
        let data: Vec<u8> = (0..3 * rate as usize).map(|i| (i % 253) as u8).collect();
        let chunks: Vec<ChunkResult> = data
            .chunks(CHUNK_BYTES * 5)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let clock = Progress::new();
        let mut body = throttled_body(
            futures::stream::iter(chunks),
            Arc::clone(&throttle),
            clock.clone(),
        )
        .boxed();
        let start = tokio::time::Instant::now();
        let mut got = Vec::new();
        let mut waited_once = false;
        loop {
            let mut next = body.next();
            let item = match futures::poll!(&mut next) {
                std::task::Poll::Ready(item) => item,
                std::task::Poll::Pending => {
                    // Sleeping in the limiter: the stall clock must not run.
                    assert!(clock.throttled.load(Ordering::Relaxed));
                    assert_eq!(clock.idle(), Duration::ZERO, "waiting is not a stall");
                    waited_once = true;
                    next.await
                }
            };
            let Some(item) = item else { break };
            let slice = item.expect("no error in the source");
            assert!(slice.len() as u64 <= rate, "slices of at most one burst");
            got.extend_from_slice(&slice);
        }
        assert!(waited_once, "the limit made the body wait");
        assert!(got == data, "the bytes, complete and in order");
        // 3 MB at 1 MB/s with a 1 MB burst.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        assert_eq!(throttle.stats().bytes, 3 * rate);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unlimited_body_passes_chunks_unchanged() {
        let throttle = Arc::new(Throttle::new(0));
        let chunks: Vec<ChunkResult> = (0..3)
            .map(|_| Ok(Bytes::from(vec![1u8; 1 << 20])))
            .collect();
        let body = throttled_body(futures::stream::iter(chunks), throttle, Progress::new());
        let lens: Vec<usize> = body.map(|c| c.expect("ok").len()).collect().await;
        assert_eq!(lens, vec![1 << 20; 3]);
    }

    #[tokio::test]
    async fn a_shorter_file_is_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        let check = SourceCheck::default();
        let f = std::fs::File::open(&path).unwrap();
        let rx = spawn_reader(
            f,
            path.clone(),
            10,
            Digest::of(b"abcdefghij"),
            check.clone(),
        );
        let (_, err) = collect(rx).await;
        assert!(err.is_some());
        assert!(check.changed());
    }

    #[tokio::test]
    async fn an_empty_slice_is_checked_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        let check = SourceCheck::default();
        let f = std::fs::File::open(&path).unwrap();
        let rx = spawn_reader(f, path.clone(), 0, Digest::of(b""), check.clone());
        let (got, err) = collect(rx).await;
        assert!(got.is_empty() && err.is_none());
        let f = std::fs::File::open(&path).unwrap();
        let rx = spawn_reader(f, path.clone(), 0, Digest::of(b"x"), check.clone());
        let (_, err) = collect(rx).await;
        assert!(err.is_some() && check.changed());
    }
}
