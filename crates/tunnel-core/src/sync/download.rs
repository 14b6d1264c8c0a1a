//! Bringing remote files onto the disk: chunks are streamed into a temporary file beside the
//! target, each chunk and the whole file are checked against their SHA-256, the file is
//! fsynced, its mtime restored, and only then renamed over the target — and only if the
//! target is still what the plan saw (a file the user changed meanwhile is left alone).
//!
//! Small files packed together in one blob are fetched with one ranged request per pack into a
//! hidden cache file, then cut out locally, so a thousand small files cost a few requests. The
//! chunks of a big file cut by content that lie one after another in one pack (a *run*) are
//! fetched with one ranged request straight into the file, each chunk checked on its own
//! ([`RunWriter`]): no cache file, no second copy on disk.
//!
//! The pieces of one file (runs, single chunks) are fetched up to `sync.parallel-transfers` at
//! a time, each written at its own offset ([`AtWriter`]); the whole file's SHA-256 is computed
//! on its own thread from the file as the pieces land, in order ([`WholeDigest`]), so a big
//! file's two digests run on two cores while the next pieces are on their way (issue 15).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tracing::debug;

use crate::fs_safe;
use futures::stream;

use crate::hash::{Digest, Hasher};
use crate::manifest::{ChunkRef, FileEntry};
use crate::plan::LocalEntry;
use crate::rel_path::RelPath;
use crate::remote::{BlobName, RemoteError, RemoteStore};

use futures::StreamExt as _;

use super::hashing_writer::HashingWriter;
use super::positional::{AtWriter, WriteBuffers};
use super::run_writer::RunWriter;
use super::whole_digest::WholeDigest;

/// The downloads a pass may have under way at once (`sync.parallel-transfers`), shared by
/// every file it fetches: the pieces of one big file go out side by side only as far as the
/// other files leave room, so a folder never has more requests open on the server than the
/// setting says, however many big files it receives at once.
pub(crate) struct RequestSlots {
    open: tokio::sync::Semaphore,
    width: usize,
}

impl RequestSlots {
    /// Room for `width` requests at once (at least one).
    pub(crate) fn new(width: usize) -> Self {
        let width = width.max(1);
        RequestSlots {
            open: tokio::sync::Semaphore::new(width),
            width,
        }
    }

    /// How many requests may be under way at once.
    pub(crate) fn width(&self) -> usize {
        self.width
    }

    /// Wait for room for one more request; the room is given back when the permit drops.
    async fn take(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        // The semaphore is never closed; were it, the request would go ahead unlimited
        // rather than never.
        self.open.acquire().await.ok()
    }
}

/// Prefix of every temporary file we create in a synced folder (hidden, so never synced).
pub const TEMP_PREFIX: &str = ".sbt-";
/// Suffix of every temporary file we create in a synced folder.
pub const TEMP_SUFFIX: &str = ".partial";

/// Why one file could not be downloaded. The sync goes on with the other files.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DownloadError {
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0} changed locally while it was being downloaded; it will be synced next time")]
    LocalChanged(RelPath),
}

/// A byte range of a pack blob saved on disk, shared by the files cut out of it.
#[derive(Debug)]
pub(crate) struct PackCache {
    pub file: PathBuf,
    pub start: u64,
    pub end: u64,
}

impl PackCache {
    /// Where `chunk` starts in the cache file; an error when it lies outside the range fetched.
    fn place_of(&self, chunk: &ChunkRef) -> Result<u64, DownloadError> {
        let end = chunk.offset.saturating_add(chunk.size);
        if chunk.offset < self.start || end > self.end {
            return Err(RemoteError::Integrity(format!(
                "{}: chunk outside the fetched range",
                chunk.blob
            ))
            .into());
        }
        Ok(chunk.offset - self.start)
    }
}

/// Decide which pack blobs are worth one ranged fetch for several files. A run of chunks of one
/// file (see [`runs`]) counts as one use: it is fetched with one request anyway.
pub(crate) fn packs_to_prefetch<'a>(
    entries: impl Iterator<Item = &'a FileEntry>,
) -> HashMap<BlobName, (u64, u64)> {
    let mut uses: HashMap<BlobName, (u64, u64, usize)> = HashMap::new();
    for e in entries {
        for (i, c) in e.chunks.iter().enumerate() {
            let end = c.offset.saturating_add(c.size);
            let slot = uses.entry(c.blob.clone()).or_insert((c.offset, end, 0));
            slot.0 = slot.0.min(c.offset);
            slot.1 = slot.1.max(end);
            let continues = i > 0 && follows(&e.chunks[i - 1], c);
            if !continues {
                slot.2 += 1;
            }
        }
    }
    uses.into_iter()
        .filter(|(_, (_, _, n))| *n >= 2)
        .map(|(b, (s, e, _))| (b, (s, e)))
        .collect()
}

/// Fetch `[start, end)` of a pack into a hidden file in `root`.
pub(crate) async fn prefetch_pack(
    store: &dyn RemoteStore,
    root: &Path,
    blob: &BlobName,
    start: u64,
    end: u64,
) -> Result<PackCache, DownloadError> {
    let file = root.join(format!(
        "{TEMP_PREFIX}pack-{}{TEMP_SUFFIX}",
        uuid::Uuid::new_v4().simple()
    ));
    let mut f = tokio::fs::File::create(&file).await?;
    // At most the range reaches the disk, whatever the server sends. Not hashed here: each
    // file cut out of it is checked against its own digest when it is copied out.
    let mut w = HashingWriter::limited(&mut f, end.saturating_sub(start));
    let n = store
        .get_blob(blob, None, Some(start..end), &mut w)
        .await
        .map_err(|e| match w.overflowed() {
            true => RemoteError::Integrity(format!("{blob}: more than the range asked for")),
            false => e,
        });
    let n = match n {
        Ok(n) => n,
        Err(e) => {
            drop(f);
            let _ = tokio::fs::remove_file(&file).await;
            return Err(e.into());
        }
    };
    f.flush().await?;
    if n != end - start {
        let _ = tokio::fs::remove_file(&file).await;
        return Err(RemoteError::Integrity(format!(
            "{blob}: expected {} bytes, received {n}",
            end - start
        ))
        .into());
    }
    Ok(PackCache { file, start, end })
}

/// Whether replacing the local file `expected` with `entry` keeps its content in the trash
/// first: only a file that is there (the plan downloads over a local file only when it is
/// unchanged since the base, i.e. known and synced) and whose content differs, unless that
/// content arrives in the same plan as a conflict copy of the same file (`arriving`: the
/// files the plan brings here) — the loser of a conflict another device settled is kept as
/// that copy, not a second time in the trash. Our own conflict copies are never downloaded
/// over a local file (`expected` is `None`).
pub(crate) fn keeps_previous(
    expected: Option<&LocalEntry>,
    entry: &FileEntry,
    arriving: &[&FileEntry],
) -> bool {
    let Some(old) = expected.filter(|e| e.kind == crate::manifest::EntryKind::File) else {
        return false;
    };
    entry.kind == crate::manifest::EntryKind::File
        && old.sha256 != entry.sha256
        && !arriving.iter().any(|a| {
            a.sha256.is_some()
                && a.sha256 == old.sha256
                && crate::plan::is_conflict_copy_of(&a.path, &entry.path)
        })
}

/// Download `entry` to `root/dest`. `expected` is what the plan saw at `dest` (None: nothing).
/// With `keep_previous` (see [`keeps_previous`]) the file replaced is kept in the trash first;
/// returns where, relative to the trash.
///
/// The folder of `dest` is reached from `root` without following links (a folder swapped for
/// a link to somewhere else since the plan stops the download, nothing is written there), and
/// the temporary file is created, checked and renamed relative to that folder.
///
/// The caller flushes the folder once the pass is done ([`sync_folders`]).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn download_file(
    store: &dyn RemoteStore,
    root: &Path,
    dest: &RelPath,
    entry: &FileEntry,
    expected: Option<&LocalEntry>,
    keep_previous: bool,
    packs: &HashMap<BlobName, Arc<PackCache>>,
    on_chunk: &(dyn Fn(u64) + Send + Sync),
    slots: &RequestSlots,
) -> Result<Option<String>, DownloadError> {
    let (dir, name) = fs_safe::parent_of(root, dest, true)?;
    let temp = format!(
        "{TEMP_PREFIX}{}{TEMP_SUFFIX}",
        uuid::Uuid::new_v4().simple()
    );
    let file = dir.create_new(&temp)?;
    let result = write_verified(store, file, entry, packs, on_chunk, slots).await;
    if let Err(e) = result {
        let _ = dir.remove_file(&temp);
        return Err(e);
    }
    // The target must still be what the plan saw; otherwise the user changed it meanwhile.
    if !meta_matches(dir.stat(name), expected) {
        let _ = dir.remove_file(&temp);
        return Err(DownloadError::LocalChanged(dest.clone()));
    }
    // A folder replaced by a file remotely: the (now empty) folder makes way.
    if expected.is_some_and(|e| e.kind == crate::manifest::EntryKind::Dir) {
        if let Err(e) = dir.remove_dir(name) {
            let _ = dir.remove_file(&temp);
            return Err(e.into());
        }
    }
    // The previous content gets a second name in the trash before the new file takes its
    // place: the path is never missing, whenever a crash comes. Not kept, not replaced.
    let kept = match keep_previous && expected.is_some() {
        true => match super::trash::keep_previous(root, dest, &dir, name) {
            Ok(p) => Some(p),
            Err(e) => {
                let _ = dir.remove_file(&temp);
                return Err(e.into());
            }
        },
        false => None,
    };
    if let Err(e) = dir.rename(&temp, &dir, name) {
        let _ = dir.remove_file(&temp);
        if let Some(p) = &kept {
            super::trash::forget_kept(root, p);
        }
        return Err(e.into());
    }
    // The folder's entry for the new name is flushed once per folder for the whole pass
    // ([`sync_folders`]), before the base records any of its files (issue 15: a folder
    // flush per file was half the time of a new device receiving 100,000 small files).
    debug!(path = %dest, bytes = entry.size, "downloaded");
    Ok(kept)
}

/// Flush the folders holding `files` (just renamed into place), each folder once, so the
/// renames survive a crash before the base records them: a base that lists a file whose
/// rename was lost would read its absence as a local deletion.
pub(crate) async fn sync_folders(root: &Path, files: Vec<RelPath>) {
    let mut seen = std::collections::HashSet::new();
    let one_per_folder: Vec<RelPath> = files
        .into_iter()
        .filter(|f| seen.insert(f.parent()))
        .collect();
    let root = root.to_owned();
    let _ = tokio::task::spawn_blocking(move || {
        for f in &one_per_folder {
            match fs_safe::parent_of(&root, f, false) {
                Ok((dir, _)) => dir.sync(),
                Err(e) => debug!(path = %f, error = %e, "cannot open a folder to flush it"),
            }
        }
    })
    .await;
}

/// Whether chunk `next` lies right after `prev` in the same blob.
fn follows(prev: &ChunkRef, next: &ChunkRef) -> bool {
    prev.blob == next.blob && prev.offset.checked_add(prev.size) == Some(next.offset)
}

/// The file's chunks in runs: `[start, end)` index ranges of chunks that lie one after another
/// in one blob, each fetched with one request (a chunk alone is a run of one). Chunks of a
/// prefetched pack are cut out of its cache file one by one instead.
fn runs(chunks: &[ChunkRef], packs: &HashMap<BlobName, Arc<PackCache>>) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        match out.last_mut() {
            Some((_, end))
                if *end == i && !packs.contains_key(&c.blob) && follows(&chunks[i - 1], c) =>
            {
                *end = i + 1
            }
            _ => out.push((i, i + 1)),
        }
    }
    out
}

/// Fetch the run `chunks` (two or more, one after another in one blob) with one ranged request
/// into `out`, each chunk checked against its SHA-256.
async fn fetch_run(
    store: &dyn RemoteStore,
    out: &mut AtWriter,
    entry: &FileEntry,
    chunks: &[ChunkRef],
    on_chunk: &(dyn Fn(u64) + Send + Sync),
) -> Result<(), DownloadError> {
    let (Some(first), Some(last)) = (chunks.first(), chunks.last()) else {
        return Ok(());
    };
    let range = first.offset..last.offset.saturating_add(last.size);
    let sizes = chunks.iter().map(|c| c.size).collect();
    let mut w = RunWriter::new(out, sizes, on_chunk);
    match store.get_blob(&first.blob, None, Some(range), &mut w).await {
        Ok(_) => {}
        Err(_) if w.overflowed() => {
            return Err(RemoteError::Integrity(format!(
                "{}: {} sent more than the {} chunks asked for",
                entry.path,
                first.blob,
                chunks.len()
            ))
            .into())
        }
        Err(e) => return Err(e.into()),
    }
    let got = w.finish();
    for (k, chunk) in chunks.iter().enumerate() {
        let (n, digest) = got.get(k).copied().unwrap_or((0, Hasher::new().finish()));
        check_chunk(entry, chunk, n, &digest)?;
    }
    Ok(())
}

/// Fetch one piece of the file (a run of chunks, or one chunk: from its blob or a prefetched
/// pack) through `out` (the file at the piece's offset), every chunk checked; once this
/// returns, its bytes are in the file. Returns the digest of a piece of one chunk.
async fn fetch_piece(
    store: &dyn RemoteStore,
    mut out: AtWriter,
    entry: &FileEntry,
    chunks: &[ChunkRef],
    packs: &HashMap<BlobName, Arc<PackCache>>,
    on_chunk: &(dyn Fn(u64) + Send + Sync),
    slots: &RequestSlots,
) -> Result<Option<Digest>, DownloadError> {
    let [chunk] = chunks else {
        let _slot = slots.take().await;
        fetch_run(store, &mut out, entry, chunks, on_chunk).await?;
        out.flush().await?;
        return Ok(None);
    };
    let (n, digest) = match packs.get(&chunk.blob) {
        Some(cache) => copy_from_cache(&mut out, cache, chunk).await?,
        None => {
            // Never more than the chunk's own size reaches the disk: the request asks for
            // exactly its byte range (a chunk blob holds it from 0), and the writer refuses
            // anything past it, whatever the server sends (an oversized attachment behind a
            // 1-byte chunk is cut at the first surplus byte, not written whole).
            let _slot = slots.take().await;
            let mut w = HashingWriter::with_limit(&mut out, None, chunk.size);
            let range = chunk.offset..chunk.offset.saturating_add(chunk.size);
            match store.get_blob(&chunk.blob, None, Some(range), &mut w).await {
                Ok(_) => {}
                Err(_) if w.overflowed() => {
                    return Err(RemoteError::Integrity(format!(
                        "{}: {} sent more than the {} bytes of chunk {}",
                        entry.path, chunk.blob, chunk.size, chunk.sha256
                    ))
                    .into())
                }
                Err(e) => return Err(e.into()),
            }
            w.finish()
        }
    };
    out.flush().await?;
    check_chunk(entry, chunk, n, &digest)?;
    on_chunk(n);
    Ok(Some(digest))
}

/// Write `entry` into `file`, checked: its pieces (runs of chunks, single chunks) are fetched
/// as many at a time as `slots` allow, each written at its offset with every chunk checked against its
/// SHA-256; the whole file's SHA-256 is computed on its own thread from the bytes as they lie
/// in the file ([`WholeDigest`]), except for a file of one chunk, whose chunk digest is its
/// own (its bytes are hashed once). Then the file is flushed to disk and its mtime set.
async fn write_verified(
    store: &dyn RemoteStore,
    file: std::fs::File,
    entry: &FileEntry,
    packs: &HashMap<BlobName, Arc<PackCache>>,
    on_chunk: &(dyn Fn(u64) + Send + Sync),
    slots: &RequestSlots,
) -> Result<(), DownloadError> {
    if let [chunk] = &entry.chunks[..] {
        if let Some(cache) = packs.get(&chunk.blob) {
            return write_one_from_cache(file, cache, entry, chunk, on_chunk).await;
        }
    }
    let file = Arc::new(file);
    let pieces = runs(&entry.chunks, packs);
    let mut at = 0u64;
    let placed: Vec<(u64, u64)> = pieces
        .iter()
        .map(|&(start, end)| {
            let len: u64 = entry.chunks[start..end].iter().map(|c| c.size).sum();
            at = at.saturating_add(len);
            (at - len, len)
        })
        .collect();
    let single = entry.chunks.len() == 1;
    let whole = (!single).then(|| WholeDigest::start(Arc::clone(&file), placed.clone()));
    let mut single_digest = None;
    let fetched: Result<(), DownloadError> = async {
        let jobs: Vec<(usize, usize, usize, u64)> = pieces
            .iter()
            .zip(&placed)
            .enumerate()
            .map(|(k, (&(start, end), &(offset, _)))| (k, start, end, offset))
            .collect();
        let file = &file;
        let buffers = &WriteBuffers::default();
        let mut fetches = stream::iter(jobs)
            .map(|(k, start, end, offset)| async move {
                let chunks = &entry.chunks[start..end];
                let len = chunks.iter().map(|c| c.size).sum();
                let out = AtWriter::new(Arc::clone(file), offset, len, buffers);
                let r = fetch_piece(store, out, entry, chunks, packs, on_chunk, slots).await;
                (k, r)
            })
            .buffer_unordered(slots.width());
        while let Some((k, r)) = fetches.next().await {
            let digest = r?;
            if let Some(w) = &whole {
                w.landed(k);
            }
            if single {
                single_digest = digest;
            }
        }
        Ok(())
    }
    .await;
    // The hashing thread stops (and lets go of the file) before anything else happens to it.
    let whole_digest = match whole {
        Some(w) => w.finish().await,
        None => Ok(None),
    };
    fetched?;
    let got = match (single_digest, whole_digest?) {
        (Some(d), _) | (None, Some(d)) => d,
        (None, None) => {
            return Err(RemoteError::Integrity(format!(
                "{}: not every piece of the file arrived",
                entry.path
            ))
            .into())
        }
    };
    check_file(entry, &got)?;
    let mtime = mtime_from_ns(entry.mtime_ns);
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        file.sync_all()?;
        file.set_modified(mtime)
    })
    .await
    .map_err(std::io::Error::other)??;
    Ok(())
}

/// Bytes read and written at a time when a file is cut out of a pack's cache file (a buffer on
/// the blocking thread's stack: nothing to allocate per file).
const CUT_PIECE: usize = 64 * 1024;

/// A file of one chunk cut out of a prefetched pack: read from the cache file, hashed,
/// written into `file`, and — only if the chunk and the file's digest match — flushed to disk
/// and dated, all in one blocking task. (Each of these steps was a hand-off between threads of
/// its own — opening the cache, seeking, reading, the writer's write, the flush: for a new
/// device receiving 100,000 small files the hand-offs were a fifth of the time, issue 15.)
/// The checks are those of any chunk and any file.
async fn write_one_from_cache(
    file: std::fs::File,
    cache: &Arc<PackCache>,
    entry: &FileEntry,
    chunk: &ChunkRef,
    on_chunk: &(dyn Fn(u64) + Send + Sync),
) -> Result<(), DownloadError> {
    let from = cache.place_of(chunk)?;
    let (cache, size, want_chunk, want_file) =
        (Arc::clone(cache), chunk.size, chunk.sha256, entry.sha256);
    let mtime = mtime_from_ns(entry.mtime_ns);
    let (n, digest) = tokio::task::spawn_blocking(move || -> std::io::Result<(u64, Digest)> {
        let src = std::fs::File::open(&cache.file)?;
        let mut buf = [0u8; CUT_PIECE];
        let mut hasher = Hasher::new();
        let mut n = 0u64;
        while n < size {
            let want = usize::try_from(size - n).map_or(CUT_PIECE, |left| left.min(CUT_PIECE));
            let got = super::positional::read_at(&src, &mut buf[..want], from + n)?;
            if got == 0 {
                break; // the cache is shorter than it should be: the check below says so
            }
            hasher.update(&buf[..got]);
            super::positional::write_all_at(&file, &buf[..got], n)?;
            n += got as u64;
        }
        let digest = hasher.finish();
        if n == size && digest == want_chunk && Some(digest) == want_file {
            file.sync_all()?;
            file.set_modified(mtime)?;
        }
        Ok((n, digest))
    })
    .await
    .map_err(std::io::Error::other)??;
    check_chunk(entry, chunk, n, &digest)?;
    check_file(entry, &digest)?;
    on_chunk(n);
    Ok(())
}

/// The whole file, once assembled, must hash to the digest its entry lists.
fn check_file(entry: &FileEntry, digest: &Digest) -> Result<(), DownloadError> {
    if Some(*digest) != entry.sha256 {
        return Err(RemoteError::Integrity(format!(
            "{}: the assembled file does not match its SHA-256",
            entry.path
        ))
        .into());
    }
    Ok(())
}

fn check_chunk(
    entry: &FileEntry,
    chunk: &ChunkRef,
    n: u64,
    digest: &Digest,
) -> Result<(), DownloadError> {
    if n != chunk.size || digest != &chunk.sha256 {
        return Err(RemoteError::Integrity(format!(
            "{}: chunk {} at {} of {} does not match its SHA-256 ({n} of {} bytes)",
            entry.path, chunk.sha256, chunk.offset, chunk.blob, chunk.size
        ))
        .into());
    }
    Ok(())
}

async fn copy_from_cache(
    out: &mut AtWriter,
    cache: &PackCache,
    chunk: &ChunkRef,
) -> Result<(u64, Digest), DownloadError> {
    let from = cache.place_of(chunk)?;
    let mut src = tokio::fs::File::open(&cache.file).await?;
    src.seek(std::io::SeekFrom::Start(from)).await?;
    let mut limited = src.take(chunk.size);
    let mut w = HashingWriter::with_limit(out, None, chunk.size);
    tokio::io::copy(&mut limited, &mut w).await?;
    Ok(w.finish())
}

/// Whether `root/rel` is (still) what the plan saw: absent when `expected` is None, otherwise
/// a file or folder of the same kind, size and mtime. Looked at without following links: a
/// link where a file or folder was (or on the way to it) is never what the plan saw.
pub(crate) async fn matches_expected(
    root: &Path,
    rel: &RelPath,
    expected: Option<&LocalEntry>,
) -> bool {
    meta_matches(fs_safe::stat(root, rel), expected)
}

fn meta_matches(
    found: std::io::Result<Option<fs_safe::Meta>>,
    expected: Option<&LocalEntry>,
) -> bool {
    match (found, expected) {
        (Err(_), _) => false,
        (Ok(None), None) => true,
        (Ok(Some(_)), None) | (Ok(None), Some(_)) => false,
        (Ok(Some(m)), Some(exp)) => match exp.kind {
            crate::manifest::EntryKind::Dir => m.kind == fs_safe::Kind::Dir,
            crate::manifest::EntryKind::File => {
                m.kind == fs_safe::Kind::File && m.len == exp.size && m.mtime_ns == exp.mtime_ns
            }
        },
    }
}

fn mtime_from_ns(ns: i64) -> SystemTime {
    if ns >= 0 {
        UNIX_EPOCH + Duration::from_nanos(ns as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos(ns.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::EntryKind;

    fn file(path: &str, content: &[u8]) -> FileEntry {
        FileEntry {
            path: RelPath::new(path).expect("path"),
            kind: EntryKind::File,
            deleted: false,
            size: content.len() as u64,
            mtime_ns: 1,
            sha256: Some(Digest::of(content)),
            version: 2,
            device: "dev-a".into(),
            chunks: Default::default(),
        }
    }

    fn local(content: &[u8]) -> LocalEntry {
        LocalEntry {
            kind: EntryKind::File,
            size: content.len() as u64,
            mtime_ns: 1,
            sha256: Some(Digest::of(content)),
        }
    }

    fn at(blob: &str, offset: u64, size: u64) -> ChunkRef {
        ChunkRef {
            sha256: Digest::of(blob.as_bytes()),
            size,
            blob: BlobName::new(blob).expect("name"),
            offset,
        }
    }

    #[test]
    fn chunks_one_after_another_in_one_blob_are_one_run_and_one_use() {
        let chunks = vec![
            at("p-1", 0, 10),
            at("p-1", 10, 5),
            at("p-1", 15, 7), // run 0..3
            at("p-2", 0, 4),  // another blob
            at("p-2", 9, 4),  // a gap
            at("p-2", 13, 2), // follows the previous: run 4..6
            at("c-3", 0, 8),
        ];
        assert_eq!(
            runs(&chunks, &HashMap::new()),
            vec![(0, 3), (3, 4), (4, 6), (6, 7)]
        );
        let mut e = file("big", b"x");
        e.chunks = chunks.clone().into();
        let prefetch = packs_to_prefetch([&e].into_iter());
        assert_eq!(
            prefetch.keys().map(|b| b.as_str()).collect::<Vec<_>>(),
            vec!["p-2"],
            "p-1 is one run (one request, no cache file); p-2 is used twice"
        );
        // A prefetched pack: its chunks are cut out of the cache one by one.
        let cached: HashMap<BlobName, Arc<PackCache>> = [(
            BlobName::new("p-1").expect("name"),
            Arc::new(PackCache {
                file: PathBuf::from("x"),
                start: 0,
                end: 22,
            }),
        )]
        .into_iter()
        .collect();
        assert_eq!(runs(&chunks[..3], &cached), vec![(0, 1), (1, 2), (2, 3)]);
    }

    /// `data` cut in pieces of `cut` bytes, put into `packs` packs (chunks one after another
    /// in each, so each pack is one run) of a memory store; returns the entry.
    async fn stored(
        store: &crate::remote::memory::MemoryStore,
        data: &[u8],
        cut: usize,
        packs: usize,
    ) -> FileEntry {
        use crate::remote::{BlobSource, RemoteStore};
        let chunks: Vec<&[u8]> = data.chunks(cut).collect();
        let per_pack = chunks.len().div_ceil(packs);
        let mut refs = Vec::new();
        for group in chunks.chunks(per_pack) {
            let bytes: Vec<u8> = group.concat();
            let name = crate::manifest::pack_blob_name(&Digest::of(&bytes));
            store
                .put_blob(&name, BlobSource::Bytes(bytes::Bytes::from(bytes)))
                .await
                .expect("put");
            let mut offset = 0;
            for c in group {
                refs.push(ChunkRef {
                    sha256: Digest::of(c),
                    size: c.len() as u64,
                    blob: name.clone(),
                    offset,
                });
                offset += c.len() as u64;
            }
        }
        let mut e = file("big.bin", data);
        e.chunks = refs.into();
        e
    }

    /// `entry` fetched into `root` as a new file (nothing there before, no pack cache).
    async fn fetch(
        store: &crate::remote::memory::MemoryStore,
        root: &Path,
        entry: &FileEntry,
        on_chunk: &(dyn Fn(u64) + Send + Sync),
        slots: &RequestSlots,
    ) -> Result<Option<String>, DownloadError> {
        let packs = HashMap::new();
        download_file(
            store,
            root,
            &entry.path,
            entry,
            None,
            false,
            &packs,
            on_chunk,
            slots,
        )
        .await
    }

    fn noise(len: usize) -> Vec<u8> {
        let mut x = 0x9e37_79b9_u32;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    #[tokio::test]
    async fn pieces_fetched_at_once_make_the_file_and_a_wrong_whole_digest_is_refused() {
        let store = crate::remote::memory::MemoryStore::new();
        let dir = tempfile::tempdir().expect("tempdir");
        // Seven packs of runs, more than the pieces fetched at once: they land out of order.
        let data = noise(700_001);
        let entry = stored(&store, &data, 33_333, 7).await;
        let dest = RelPath::new("big.bin").expect("path");
        let landed = std::sync::atomic::AtomicU64::new(0);
        let note = |n: u64| {
            landed.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        };
        for parallel in [1, 3] {
            let _ = std::fs::remove_file(dir.path().join("big.bin"));
            landed.store(0, std::sync::atomic::Ordering::Relaxed);
            assert_eq!(entry.path, dest);
            fetch(
                &store,
                dir.path(),
                &entry,
                &note,
                &RequestSlots::new(parallel),
            )
            .await
            .expect("download");
            assert_eq!(
                std::fs::read(dir.path().join("big.bin")).expect("read"),
                data
            );
            assert_eq!(
                landed.load(std::sync::atomic::Ordering::Relaxed),
                data.len() as u64,
                "every chunk told once"
            );
        }
        // Every chunk right, but the file list says another whole file: never put in place.
        let mut lying = entry.clone();
        lying.path = RelPath::new("lying.bin").expect("path");
        lying.sha256 = Some(Digest::of(b"something else"));
        let err = fetch(&store, dir.path(), &lying, &|_| {}, &RequestSlots::new(4))
            .await
            .expect_err("the whole file does not match");
        assert!(err.to_string().contains("SHA-256"), "{err}");
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, vec!["big.bin".to_string()], "no temporary file left");
    }

    /// Two big files fetched at once, as the download pass runs them, never have more requests
    /// under way than the pass's slots (pieces × files would be 6 here), while one file alone
    /// still gets its pieces side by side.
    #[tokio::test]
    async fn the_files_of_a_pass_share_its_requests() {
        use crate::remote::memory::MemoryStore;
        let dir = tempfile::tempdir().expect("tempdir");
        let a = noise(700_001);
        let b: Vec<u8> = a.iter().rev().copied().collect();
        let put = |store: &MemoryStore, data: Vec<u8>, name: &'static str| {
            let store = store.clone();
            async move {
                let mut e = stored(&store, &data, 33_333, 7).await;
                e.path = RelPath::new(name).expect("path");
                e
            }
        };
        let root = dir.path();

        let alone = MemoryStore::new();
        let e = put(&alone, a.clone(), "alone.bin").await;
        fetch(&alone, root, &e, &|_| {}, &RequestSlots::new(3))
            .await
            .expect("download");
        assert!(
            alone.max_open_downloads() >= 2,
            "pieces of one file side by side"
        );

        let shared = MemoryStore::new();
        let (ea, eb) = (
            put(&shared, a, "a.bin").await,
            put(&shared, b, "b.bin").await,
        );
        let slots = RequestSlots::new(3);
        let (ra, rb) = tokio::join!(
            fetch(&shared, root, &ea, &|_| {}, &slots),
            fetch(&shared, root, &eb, &|_| {}, &slots)
        );
        ra.expect("download a.bin");
        rb.expect("download b.bin");
        assert!(
            (2..=3).contains(&shared.max_open_downloads()),
            "{} requests at once, for 3 slots",
            shared.max_open_downloads()
        );
    }

    /// Small files cut out of a prefetched pack's cache file: written whole and dated when
    /// they match; refused, with nothing left behind, when the cache's bytes do not.
    #[tokio::test]
    async fn files_cut_out_of_a_pack_cache_are_checked_before_they_land() {
        let store = crate::remote::memory::MemoryStore::new();
        let root_dir = tempfile::tempdir().expect("tempdir");
        let cache_dir = tempfile::tempdir().expect("tempdir");
        let root = root_dir.path();
        let big = noise(600_000); // more than one piece of the copy
        let mut pack = b"alpha".to_vec();
        pack.extend_from_slice(&big);
        pack.extend_from_slice(b"gamma");
        let cache_file = cache_dir.path().join("pack");
        std::fs::write(&cache_file, &pack).expect("cache");
        let name = BlobName::new("m-0123").expect("name");
        // The cache holds the pack from byte 0 to its end.
        let packs: HashMap<BlobName, Arc<PackCache>> = [(
            name.clone(),
            Arc::new(PackCache {
                file: cache_file.clone(),
                start: 0,
                end: pack.len() as u64,
            }),
        )]
        .into_iter()
        .collect();
        let member = |path: &str, content: &[u8], offset: u64| {
            let mut e = file(path, content);
            e.mtime_ns = 1_600_000_000_123_456_789;
            e.chunks = vec![ChunkRef {
                sha256: Digest::of(content),
                size: content.len() as u64,
                blob: name.clone(),
                offset,
            }]
            .into();
            e
        };
        let get = |e: FileEntry| {
            let (store, packs) = (&store, &packs);
            async move {
                let seen = std::sync::atomic::AtomicU64::new(0);
                let on_chunk = |n: u64| {
                    seen.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                };
                let slots = RequestSlots::new(2);
                let r = download_file(
                    store, root, &e.path, &e, None, false, packs, &on_chunk, &slots,
                )
                .await;
                (r, seen.into_inner())
            }
        };

        for (e, content) in [
            (member("a.txt", b"alpha", 0), &b"alpha"[..]),
            (member("big.bin", &big, 5), &big[..]),
        ] {
            let (r, seen) = get(e.clone()).await;
            r.expect("a member that matches");
            let path = root.join(e.path.as_str());
            assert_eq!(std::fs::read(&path).expect("landed"), content);
            assert_eq!(seen, content.len() as u64, "progress of its bytes");
            let mtime = std::fs::metadata(&path)
                .expect("meta")
                .modified()
                .expect("mtime");
            assert_eq!(mtime, mtime_from_ns(e.mtime_ns), "dated as the entry says");
        }

        // What the cache holds is not what the file list promises: refused, nothing lands.
        let (r, seen) = get(member("g.txt", b"gamme", 5 + big.len() as u64)).await;
        let err = r.expect_err("bytes that do not match");
        assert!(err.to_string().contains("does not match"), "{err}");
        assert_eq!(seen, 0, "no progress for bytes that did not land");
        // A member said to lie past what was fetched.
        let (r, _) = get(member("late.txt", b"alpha", pack.len() as u64)).await;
        let err = r.expect_err("outside the range");
        assert!(
            err.to_string().contains("outside the fetched range"),
            "{err}"
        );
        let mut left: Vec<String> = std::fs::read_dir(root)
            .expect("list")
            .map(|d| d.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, vec!["a.txt", "big.bin"], "no temporary file left");
    }

    #[tokio::test]
    async fn a_damaged_piece_among_several_fetched_at_once_is_refused() {
        let store = crate::remote::memory::MemoryStore::new();
        let dir = tempfile::tempdir().expect("tempdir");
        let data = noise(400_000);
        let entry = stored(&store, &data, 50_000, 4).await;
        // One byte of the third pack changes; its size stays.
        let victim = &entry.chunks[5];
        let mut bytes = store.blob_bytes(&victim.blob).expect("pack").to_vec();
        bytes[victim.offset as usize + 10] ^= 1;
        assert!(store.corrupt_blob(&victim.blob, bytes::Bytes::from(bytes)));
        let err = fetch(&store, dir.path(), &entry, &|_| {}, &RequestSlots::new(4))
            .await
            .expect_err("a damaged chunk");
        assert!(err.to_string().contains(&victim.sha256.to_hex()), "{err}");
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("list").count(),
            0,
            "nothing put in place, no temporary file left"
        );
    }

    #[test]
    fn the_previous_content_is_kept_unless_new_same_or_arriving_as_a_conflict_copy() {
        let new = file("d/plan.txt", b"new");
        assert!(keeps_previous(Some(&local(b"old")), &new, &[&new]));
        assert!(!keeps_previous(None, &new, &[&new]), "nothing there");
        assert!(
            !keeps_previous(Some(&local(b"new")), &new, &[&new]),
            "same content"
        );
        let mut dir = local(b"");
        dir.kind = EntryKind::Dir;
        assert!(!keeps_previous(Some(&dir), &new, &[&new]), "a folder");
        let copy = file("d/plan (conflict from dev-b 2026-01-01 101010).txt", b"old");
        assert!(
            !keeps_previous(Some(&local(b"old")), &new, &[&new, &copy]),
            "the loser arrives as the conflict copy"
        );
        let elsewhere = file("e/plan (conflict from dev-b 2026-01-01 101010).txt", b"old");
        let other = file(
            "d/other (conflict from dev-b 2026-01-01 101010).txt",
            b"old",
        );
        let differs = file("d/plan (conflict from dev-b 2026-01-01 101010).txt", b"x");
        for a in [&elsewhere, &other, &differs] {
            assert!(
                keeps_previous(Some(&local(b"old")), &new, &[&new, a]),
                "{}",
                a.path
            );
        }
    }
}
