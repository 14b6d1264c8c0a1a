//! Bringing remote files onto the disk: chunks are streamed into a temporary file beside the
//! target, each chunk and the whole file are checked against their SHA-256, the file is
//! fsynced, its mtime restored, and only then renamed over the target — and only if the
//! target is still what the plan saw (a file the user changed meanwhile is left alone).
//!
//! Small files packed together in one blob are fetched with one ranged request per pack into a
//! hidden cache file, then cut out locally, so a thousand small files cost a few requests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tracing::debug;

use crate::hash::{Digest, Hasher};
use crate::manifest::{ChunkRef, FileEntry};
use crate::plan::LocalEntry;
use crate::rel_path::RelPath;
use crate::remote::{BlobName, RemoteError, RemoteStore};

use super::hashing_writer::HashingWriter;

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

/// Decide which pack blobs are worth one ranged fetch for several files.
pub(crate) fn packs_to_prefetch<'a>(
    entries: impl Iterator<Item = &'a FileEntry>,
) -> HashMap<BlobName, (u64, u64)> {
    let mut uses: HashMap<BlobName, (u64, u64, usize)> = HashMap::new();
    for e in entries {
        for c in &e.chunks {
            let end = c.offset.saturating_add(c.size);
            let slot = uses.entry(c.blob.clone()).or_insert((c.offset, end, 0));
            slot.0 = slot.0.min(c.offset);
            slot.1 = slot.1.max(end);
            slot.2 += 1;
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
    let n = store.get_blob(blob, None, Some(start..end), &mut f).await;
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

/// Download `entry` to `root/dest`. `expected` is what the plan saw at `dest` (None: nothing).
pub(crate) async fn download_file(
    store: &dyn RemoteStore,
    root: &Path,
    dest: &RelPath,
    entry: &FileEntry,
    expected: Option<&LocalEntry>,
    packs: &HashMap<BlobName, Arc<PackCache>>,
) -> Result<(), DownloadError> {
    let target = dest.to_native(root);
    let parent = target
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root.to_path_buf());
    tokio::fs::create_dir_all(&parent).await?;
    let temp = parent.join(format!(
        "{TEMP_PREFIX}{}{TEMP_SUFFIX}",
        uuid::Uuid::new_v4().simple()
    ));
    let result = write_verified(store, &temp, entry, packs).await;
    if let Err(e) = result {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(e);
    }
    // The target must still be what the plan saw; otherwise the user changed it meanwhile.
    if !matches_expected(&target, expected).await {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(DownloadError::LocalChanged(dest.clone()));
    }
    // A folder replaced by a file remotely: the (now empty) folder makes way.
    if expected.is_some_and(|e| e.kind == crate::manifest::EntryKind::Dir) {
        if let Err(e) = tokio::fs::remove_dir(&target).await {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(e.into());
        }
    }
    if let Err(e) = tokio::fs::rename(&temp, &target).await {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(e.into());
    }
    if let Ok(dir) = std::fs::File::open(&parent) {
        let _ = dir.sync_all();
    }
    debug!(path = %dest, bytes = entry.size, "downloaded");
    Ok(())
}

async fn write_verified(
    store: &dyn RemoteStore,
    temp: &Path,
    entry: &FileEntry,
    packs: &HashMap<BlobName, Arc<PackCache>>,
) -> Result<(), DownloadError> {
    let mut file = tokio::fs::File::create(temp).await?;
    let mut whole = Hasher::new();
    for chunk in &entry.chunks {
        let (n, digest) = match packs.get(&chunk.blob) {
            Some(cache) => copy_from_cache(&mut file, &mut whole, cache, chunk).await?,
            None => {
                let mut w = HashingWriter::new(&mut file, &mut whole);
                // A chunk blob holds exactly one chunk: fetch it whole. Pack members: a range.
                let whole_blob = chunk.offset == 0 && chunk.blob.as_str().starts_with("c-");
                let range =
                    (!whole_blob).then(|| chunk.offset..chunk.offset.saturating_add(chunk.size));
                store.get_blob(&chunk.blob, None, range, &mut w).await?;
                w.finish()
            }
        };
        check_chunk(entry, chunk, n, &digest)?;
    }
    let got = whole.finish();
    if Some(got) != entry.sha256 {
        return Err(RemoteError::Integrity(format!(
            "{}: the assembled file does not match its SHA-256",
            entry.path
        ))
        .into());
    }
    file.flush().await?;
    file.sync_all().await?;
    let std_file = file.into_std().await;
    let mtime = mtime_from_ns(entry.mtime_ns);
    std_file.set_modified(mtime)?;
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
    out: &mut tokio::fs::File,
    whole: &mut Hasher,
    cache: &PackCache,
    chunk: &ChunkRef,
) -> Result<(u64, Digest), DownloadError> {
    let end = chunk.offset.saturating_add(chunk.size);
    if chunk.offset < cache.start || end > cache.end {
        return Err(RemoteError::Integrity(format!(
            "{}: chunk outside the fetched range",
            chunk.blob
        ))
        .into());
    }
    let mut src = tokio::fs::File::open(&cache.file).await?;
    src.seek(std::io::SeekFrom::Start(chunk.offset - cache.start))
        .await?;
    let mut limited = src.take(chunk.size);
    let mut w = HashingWriter::new(out, whole);
    tokio::io::copy(&mut limited, &mut w).await?;
    Ok(w.finish())
}

/// Whether `path` is (still) what the plan saw: absent when `expected` is None, otherwise a
/// file or folder of the same kind, size and mtime.
pub(crate) async fn matches_expected(path: &Path, expected: Option<&LocalEntry>) -> bool {
    let meta = tokio::fs::symlink_metadata(path).await;
    match (meta, expected) {
        (Err(e), None) => e.kind() == std::io::ErrorKind::NotFound,
        (Ok(_), None) => false,
        (Err(_), Some(_)) => false,
        (Ok(m), Some(exp)) => match exp.kind {
            crate::manifest::EntryKind::Dir => m.is_dir(),
            crate::manifest::EntryKind::File => {
                m.is_file() && m.len() == exp.size && mtime_ns(&m) == Some(exp.mtime_ns)
            }
        },
    }
}

/// Nanoseconds since the epoch of a file's mtime.
pub(crate) fn mtime_ns(m: &std::fs::Metadata) -> Option<i64> {
    let t = m.modified().ok()?;
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).ok(),
        Err(e) => i64::try_from(e.duration().as_nanos()).ok().map(|n| -n),
    }
}

fn mtime_from_ns(ns: i64) -> SystemTime {
    if ns >= 0 {
        UNIX_EPOCH + Duration::from_nanos(ns as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos(ns.unsigned_abs())
    }
}
