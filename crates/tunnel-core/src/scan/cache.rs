//! Reusing the scan cache: a listed file whose cached hash still fits is not read again; a
//! fresh hash becomes the next scan's cache row, except that a just-modified file's row is
//! made never to match (racy timestamps).

use std::collections::HashMap;
use std::fs::Metadata;

use super::hashing::Job;
use super::walk::ListedFile;
use super::{Entries, LocalScan};
use crate::chunk::{self, FileHashes};
use crate::fs_safe;
use crate::journal::CachedHash;
use crate::manifest::EntryKind;
use crate::plan::LocalEntry;
use crate::rel_path::RelPath;

/// A cache row with this mtime never matches a file (see [`record_fresh`]).
const RACY_MTIME: i64 = i64::MIN;
/// How close to "now" an mtime must be to count as racy (covers 1–2 s timestamp granularity).
const RACY_WINDOW_NS: i64 = 3_000_000_000;

/// The scan cache a scan reads: borrowed (its rows are copied into the scan) or lent. A lent
/// cache's rows become the scan's own `hashes` when the walk begins ([`Cache::lend_to`]):
/// the rows that still fit stay where they are, so 100,000 rows are never held twice, nor in
/// two tables (issue 15). A row that no longer fits is replaced in place by its file's fresh
/// row; at the end ([`Cache::take_back`]) the rows no file of the scan took (files gone, now
/// folders, not read) are let go, their paths noted in `left`. The caller drops the rows of
/// the paths in `left`.
pub(super) enum Cache<'a> {
    Borrowed(&'a HashMap<RelPath, CachedHash>),
    Lent {
        rows: HashMap<RelPath, CachedHash>,
        left: &'a mut Vec<RelPath>,
    },
}

impl Cache<'_> {
    /// How many rows it holds (a lent cache: until [`Cache::lend_to`] moves them).
    pub(super) fn len(&self) -> usize {
        match self {
            Cache::Borrowed(m) => m.len(),
            Cache::Lent { rows, .. } => rows.len(),
        }
    }

    /// Before the walk: a lent cache's rows move into `scan.hashes` (the table itself, not
    /// row by row).
    pub(super) fn lend_to(&mut self, scan: &mut LocalScan) {
        if let Cache::Lent { rows, .. } = self {
            scan.hashes = std::mem::take(rows);
        }
    }

    /// After the hashing: the rows that no file of the scan took (files gone, now folders,
    /// or not read) are let go, their paths noted in `left`.
    pub(super) fn take_back(&mut self, scan: &mut LocalScan) {
        if let Cache::Lent { left, .. } = self {
            let entries = &scan.entries;
            left.extend(
                scan.hashes
                    .extract_if(|p, _| entries.get(p).is_none_or(|e| e.kind != EntryKind::File))
                    .map(|(p, _)| p),
            );
        }
    }
}

/// Record `file` in `scan` when its cached hash still fits; otherwise it is a job, to be
/// hashed. Called for each file as the walk lists it, so a listing of 100,000 files (each
/// with its path and metadata) is never held whole (issue 15). A row that fits keeps its own
/// path (shared with the base's, see `Journal::scan_cache_sharing`); the walk's is dropped.
pub(super) fn reuse_or_hash(
    file: ListedFile,
    cache: &mut Cache<'_>,
    chunking: &chunk::Chunking,
    scan: &mut LocalScan,
    entries: &mut Entries,
) -> Option<Job> {
    match cache {
        Cache::Borrowed(m) => match m.get(&file.rel) {
            Some(c) if cache_fits(c, &file.meta, chunking) => {
                entries.push(file.rel.clone(), file_entry(c));
                scan.hashes.insert(file.rel, c.clone());
                return None;
            }
            _ => {}
        },
        // A row that does not fit stays where it is until the file's fresh row replaces it (a
        // file that cannot be read again has no entry, and its row goes with the others in
        // `take_back`). Taken out at once, the rows left room the table could not reuse: after
        // a first sync of files written just before it (racy rows, every one hashed again)
        // the fresh rows made a table of twice the size beside it (issue 15).
        Cache::Lent { .. } => {
            if let Some((rel, c)) = scan.hashes.get_key_value(&file.rel) {
                if cache_fits(c, &file.meta, chunking) {
                    entries.push(rel.clone(), file_entry(c));
                    return None;
                }
            }
        }
    }
    Some(Job {
        rel: file.rel,
        listed: fs_safe::Meta::of(&file.meta),
    })
}

/// Record a file just hashed in `scan`: its entry, and its cache row for the next scan.
pub(super) fn record_fresh(
    scan: &mut LocalScan,
    entries: &mut Entries,
    rel: RelPath,
    h: FileHashes,
) {
    scan.hashed += 1;
    scan.fresh.push(rel.clone());
    let cached = CachedHash {
        size: h.size,
        mtime_ns: h.mtime_ns,
        inode: h.inode,
        sha256: h.sha256,
        chunks: h.chunks,
    };
    entries.push(rel.clone(), file_entry(&cached));
    let cached = CachedHash {
        mtime_ns: row_mtime(cached.mtime_ns),
        ..cached
    };
    scan.hashes.insert(rel, cached);
}

/// The cache row of a file of one chunk left unhashed by the scan and hashed by its upload,
/// from what the upload read (the file as listed: `size`, `mtime_ns`, `inode`; its digest):
/// made as [`record_fresh`] makes a row, a just-modified file's never to match.
pub(crate) fn row_hashed_later(
    size: u64,
    mtime_ns: i64,
    inode: u64,
    sha256: crate::hash::Digest,
) -> CachedHash {
    CachedHash {
        size,
        mtime_ns: row_mtime(mtime_ns),
        inode,
        sha256,
        chunks: vec![chunk::ChunkHash { sha256, size }],
    }
}

/// The cache row of a big file left unhashed by the scan and hashed by its upload as it was
/// read (`sync/upload_stream.rs`): made as [`record_fresh`] makes a row.
pub(crate) fn row_hashed_on_upload(h: chunk::FileHashes) -> CachedHash {
    CachedHash {
        size: h.size,
        mtime_ns: row_mtime(h.mtime_ns),
        inode: h.inode,
        sha256: h.sha256,
        chunks: h.chunks,
    }
}

/// The modification time a cache row records for a file hashed now. Racy timestamps (as in
/// git): a file modified within the file system's timestamp granularity of its hash could
/// change again without its (size, mtime) changing. Such a row never matches, so the file is
/// hashed again next time, until its mtime is safely in the past.
fn row_mtime(mtime_ns: i64) -> i64 {
    if is_racy(mtime_ns) {
        RACY_MTIME
    } else {
        mtime_ns
    }
}

fn file_entry(c: &CachedHash) -> LocalEntry {
    LocalEntry {
        kind: EntryKind::File,
        size: c.size,
        mtime_ns: c.mtime_ns,
        sha256: Some(c.sha256),
    }
}

/// Whether a cache row with this modification time can match a file (not one made never to
/// match because its file was modified just before it was hashed).
pub(super) fn may_match(mtime_ns: i64) -> bool {
    mtime_ns != RACY_MTIME
}

pub(crate) fn is_racy(mtime_ns: i64) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(i64::MAX);
    now.saturating_sub(mtime_ns) < RACY_WINDOW_NS
}

/// The cache row still describes this file, and its chunks could have been cut by `chunking`.
fn cache_fits(c: &CachedHash, meta: &Metadata, chunking: &chunk::Chunking) -> bool {
    c.size == meta.len()
        && c.mtime_ns == chunk::mtime_ns(meta)
        && c.inode == chunk::inode(meta)
        && chunking.fits(&c.chunks, c.size)
}
