//! The local scanner: walk a synced folder into a tree of [`LocalEntry`] values.
//!
//! Invariants:
//! - the root must exist, be a folder and be listable, else [`ScanError`]: a missing root
//!   (an unmounted disk) must never read as "everything was deleted";
//! - a file that cannot be read, or changes while it is hashed, and a subfolder that cannot be
//!   listed go to [`LocalScan::unreadable`] — they are *not* deleted; the rest of the scan
//!   goes on. A file another program holds open (a Windows sharing or lock violation, see
//!   [`crate::in_use`]) is one of them, and also listed in [`LocalScan::in_use`];
//! - a file is hashed only when its (size, mtime, inode) differ from the cache or its cached
//!   chunks could not have been cut with the current chunking (`Chunking::fits`);
//! - skipped, never synced: hidden names (leading `.`, which covers our own `.sbt-*.partial`
//!   downloads, `.sbtignore` and LibreOffice `.~lock.*#`) and, on Windows, files and folders
//!   with the hidden or system attribute, temporary and editor files (`~` prefix or suffix,
//!   `.tmp`, `.swp`, `.swx`, `.part`), symbolic links (on Windows every reparse point:
//!   junctions, mount points, cloud placeholders), sockets/FIFOs/devices,
//!   names that are not valid [`RelPath`]s, and whatever `.sbtignore` files (gitignore syntax,
//!   any level) or the configured extra patterns exclude. A `.sbtignore` that cannot be read or
//!   parsed makes its folder unreadable rather than letting excluded files through;
//! - the output does not depend on listing order or thread timing.
//!
//! The passes, one file each: `walk` lists the folder under the skip `rules` (feeding the
//! `listing` digest on the way), `cache` takes what it can from the scan cache, `hashing`
//! reads the rest. [`listing_digest`] runs the walk alone, holding nothing: the no-change
//! check of a sync (`crate::sync`'s `no_change`).

mod cache;
mod hashing;
mod later;
mod listing;
mod narrow;
mod rules;
mod walk;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ignore::gitignore::Gitignore;
use tracing::warn;

pub(crate) use cache::{row_hashed_later, row_hashed_on_upload};
pub(crate) use narrow::{narrow_scan, walk_folder, FolderWalk, Walked};
pub(crate) use rules::name_skip_reason;
pub use rules::{is_temporary_name, SkipRules};

use crate::bulk_map::BulkMap;
use crate::hash::Digest;
use crate::journal::CachedHash;
use crate::manifest::EntryKind;
use crate::plan::LocalEntry;
use crate::rel_path::RelPath;
use hashing::Hooks;
use listing::Listing;
use walk::{ListedFile, Sink};

/// Name of the per-folder ignore file.
pub const IGNORE_FILE: &str = ".sbtignore";

/// How to scan.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Chunk size used to cut files (bytes, at least 1).
    pub chunk_size: u64,
    /// Average size of content-defined chunks for big files (bytes; 0: files are cut at
    /// `chunk_size` only). See [`crate::chunk::Chunking::new`].
    pub delta_chunk_size: u64,
    /// Extra ignore patterns (gitignore syntax) relative to the root.
    pub extra_ignores: Vec<String>,
}

/// Why a path was left out of the scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The name starts with `.`, or (Windows) the hidden or system attribute is set.
    Hidden,
    /// A temporary, editor or partial-download file.
    Temporary,
    /// A symbolic link (never followed); on Windows any reparse point: a symbolic link, a
    /// junction, a mount point, or a cloud placeholder (OneDrive's files-on-demand, whose
    /// content is another sync client's business and would be downloaded by reading it).
    Symlink,
    /// A socket, FIFO or device.
    Special,
    /// The name cannot be synced (not UTF-8, not NFC, forbidden characters…).
    InvalidName(String),
    /// Matched by `.sbtignore` or the configured ignore patterns.
    Ignored,
}

/// A scan's entries while they are gathered.
type Entries = BulkMap<RelPath, LocalEntry>;

/// The scanned local tree.
#[derive(Clone, Debug, Default)]
pub struct LocalScan {
    /// Every file and folder found (not the root itself).
    pub entries: BTreeMap<RelPath, LocalEntry>,
    /// Hashes of every file in `entries`: the new scan-cache rows.
    pub hashes: HashMap<RelPath, CachedHash>,
    /// Paths that could not be read or changed while being read (with the reason). They are
    /// not deleted; a folder here stands for everything below it.
    pub unreadable: Vec<(RelPath, String)>,
    /// The unreadable files that another program holds open (Office and its locked
    /// documents; see [`crate::in_use`]), sorted: reported by name, retried next sync.
    pub in_use: Vec<RelPath>,
    /// Paths left out on purpose.
    pub skipped: Vec<(PathBuf, SkipReason)>,
    /// The skipped paths that are valid [`RelPath`]s (ignored, hidden, temporary, links,
    /// special files), sorted. They exist locally but are not synced: the engine should leave
    /// them (and everything below them) out of the plan on every side, like `unreadable`, so
    /// that ignoring a synced file never deletes it elsewhere and a remote file never
    /// overwrites a local link or ignored file.
    pub excluded: Vec<RelPath>,
    /// How many files were actually read and hashed (the rest came from the cache or were
    /// left to the upload, see `unhashed`).
    pub hashed: u64,
    /// How many new files were left unhashed because the sync said they may wait (see
    /// [`HashLater`]): their entries have no `sha256` and no row in `hashes`; the upload
    /// hashes the bytes it sends.
    pub unhashed: u64,
    /// The files read and hashed (their rows in `hashes` are new, the others came from the
    /// cache), in no particular order.
    pub fresh: Vec<RelPath>,
    /// The rules the scan applied, to judge paths that are not here (remote entries).
    pub rules: SkipRules,
    /// Nothing was scanned but something was ignored: the ignore rules exclude everything
    /// (a `.sbtignore` holding `*`, say), so nothing is uploaded. Logged as a warning.
    pub everything_ignored: bool,
    /// The digest of what the listing saw (see [`listing_digest`]), when this scan is fully
    /// described by it: nothing unreadable or in use, every file hashed still as listed, no
    /// cache row made never to match (a just-modified file). A later walk with the same
    /// digest would scan to the same entries.
    pub listing: Option<Digest>,
    /// A digest of every `.sbtignore` read (its folder and text): the ignore rules a later
    /// narrow sync must find unchanged (they judge remote names too).
    pub ignores: Option<Digest>,
}

impl LocalScan {
    /// The `.sbtignore` rules of folder `at`, as a walk found them.
    pub(crate) fn note_ignore_rules(&mut self, at: &str, rules: &Arc<Gitignore>) {
        self.rules.by_dir.insert(at.to_string(), Arc::clone(rules));
    }

    /// A name the walk could not read (and whether another program holds it).
    pub(crate) fn note_unreadable(&mut self, rel: RelPath, reason: String, in_use: bool) {
        if in_use {
            self.in_use.push(rel.clone());
        }
        self.unreadable.push((rel, reason));
    }
}

/// The scan could not be done at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// The root does not exist or is not a folder.
    #[error("synced folder {} is missing or not a folder{}", path.display(), detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    RootMissing {
        /// The root.
        path: PathBuf,
        /// The system's words, when there are some.
        detail: Option<String>,
    },
    /// The root exists but cannot be listed.
    #[error("cannot list synced folder {}: {source}", path.display())]
    RootUnreadable {
        /// The root.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A configured ignore pattern is invalid.
    #[error("invalid ignore pattern {pattern:?}: {message}")]
    BadIgnore {
        /// The pattern.
        pattern: String,
        /// Parser message.
        message: String,
    },
    /// The chunk size is zero.
    #[error("chunk size must be at least 1 byte")]
    BadChunkSize,
}

/// Asked once the walk is done, with the files no cache row describes (path and size as
/// listed): for each, whether it may be left unhashed. The caller answers yes only for files
/// whose hash the plan cannot need — no other side knows anything at or around their path or
/// of their size — and that its upload sends whole, hashing the bytes it sends (one read of
/// a new file, not two: the scan's and the upload's, issue 15).
pub type HashLater<'a> = &'a (dyn Fn(&[(&RelPath, u64)]) -> Vec<bool> + Sync);

/// Scan `root` into a [`LocalScan`], reusing `cache` for unchanged files.
pub fn scan_folder(
    root: &Path,
    cache: &HashMap<RelPath, CachedHash>,
    opts: &ScanOptions,
) -> Result<LocalScan, ScanError> {
    scan_folder_observed(root, cache, opts, &|_| {}, &|_| {})
}

/// [`scan_folder`] that takes `cache` and keeps the rows it reuses as they are instead of
/// copying them (a large folder's cache is never held twice; a file hashed again has its row
/// replaced in place). Returns the scan and the paths whose rows it let go: files that are
/// gone, are no longer files or could not be read (their rows are stale). New files `later`
/// allows are left unhashed ([`HashLater`]).
pub fn scan_folder_reusing(
    root: &Path,
    cache: HashMap<RelPath, CachedHash>,
    opts: &ScanOptions,
    later: Option<HashLater<'_>>,
) -> Result<(LocalScan, Vec<RelPath>), ScanError> {
    let mut left = Vec::new();
    let lent = cache::Cache::Lent {
        rows: cache,
        left: &mut left,
    };
    let scan = scan_with(root, lent, opts, later, &|_| {}, &|_| {})?;
    Ok((scan, left))
}

/// [`scan_folder`] with hooks run just before each file is opened to be hashed and after its
/// first read (tests).
pub(crate) fn scan_folder_observed(
    root: &Path,
    cache: &HashMap<RelPath, CachedHash>,
    opts: &ScanOptions,
    after_first_read: &(dyn Fn(&Path) + Sync),
    before_open: &(dyn Fn(&Path) + Sync),
) -> Result<LocalScan, ScanError> {
    scan_with(
        root,
        cache::Cache::Borrowed(cache),
        opts,
        None,
        after_first_read,
        before_open,
    )
}

fn scan_with(
    root: &Path,
    cache: cache::Cache<'_>,
    opts: &ScanOptions,
    later: Option<HashLater<'_>>,
    after_first_read: &(dyn Fn(&Path) + Sync),
    before_open: &(dyn Fn(&Path) + Sync),
) -> Result<LocalScan, ScanError> {
    check_root(root, opts)?;
    let mut scan = LocalScan::default();
    scan.rules.root = root.to_owned();
    scan.rules.extra = rules::build_extra(root, &opts.extra_ignores)?.map(Arc::new);
    let extra = scan.rules.extra.clone();
    let mut listing = Listing::default();
    let chunking = crate::chunk::Chunking::new(opts.chunk_size, opts.delta_chunk_size);
    // Entries are gathered in batches into full nodes (see `bulk_map`): inserted one by one
    // in listing order, each node of the map was about half full (issue 15). The cache's
    // rows are the count to expect.
    let expected = cache.len();
    let mut cache = cache;
    cache.lend_to(&mut scan);
    let mut sink = ScanSink {
        scan: &mut scan,
        entries: BulkMap::with_expected(expected),
        cache,
        chunking: &chunking,
        jobs: Vec::new(),
        ignores: narrow::IgnoreTexts::default(),
    };
    walk::walk(root, extra.as_deref(), &mut sink, &mut listing)?;
    let ignores = sink.ignores.digest();
    let jobs = sink.jobs;
    let mut entries = sink.entries;
    let mut cache = sink.cache;
    let (jobs, later_settled) = match later {
        Some(later) => later::leave_unhashed(&mut scan, &mut entries, jobs, later),
        None => (jobs, true),
    };
    scan.ignores = Some(ignores);
    // The fresh rows' room, made once (a table grown by doubling holds both while it grows):
    // room for the files without a row; a file hashed again replaces its row in place.
    let new_rows = jobs
        .iter()
        .filter(|j| !scan.hashes.contains_key(&j.rel))
        .count();
    scan.hashes.reserve(new_rows);
    let hooks = Hooks {
        after_first_read,
        before_open,
    };
    let as_listed = hashing::hash_into(&mut scan, &mut entries, root, jobs, &chunking, &hooks);
    scan.entries = entries.finish();
    cache.take_back(&mut scan);
    let settled = as_listed
        && later_settled
        && scan.unreadable.is_empty()
        && scan.in_use.is_empty()
        && !scan.fresh.iter().any(|p| {
            scan.hashes
                .get(p)
                .is_some_and(|h| !cache::may_match(h.mtime_ns))
        });
    scan.listing = listing.finish().filter(|_| settled);
    finish(&mut scan, root);
    Ok(scan)
}

/// The digest of a walk of `root` under `opts`' ignore patterns, holding nothing but the
/// walk's pending folders (no entry, no hash, no cache row): what [`LocalScan::listing`]
/// records, so that a folder whose digest is unchanged needs no scan. `None` when something
/// could not be read. The root is checked as the scan checks it (a missing root is an error,
/// never an empty folder).
pub fn listing_digest(root: &Path, opts: &ScanOptions) -> Result<Option<Digest>, ScanError> {
    check_root(root, opts)?;
    let extra = rules::build_extra(root, &opts.extra_ignores)?;
    let mut listing = Listing::default();
    walk::walk(root, extra.as_ref(), &mut DigestOnly, &mut listing)?;
    Ok(listing.finish())
}

/// The full scan's sink: folders and what is left out recorded in the scan, files taken
/// from the cache as they are listed, or collected to be hashed (in listing order).
struct ScanSink<'a, 'c> {
    scan: &'a mut LocalScan,
    /// The scan's entries, gathered (`scan.entries` once the files are hashed).
    entries: Entries,
    cache: cache::Cache<'c>,
    chunking: &'a crate::chunk::Chunking,
    jobs: Vec<hashing::Job>,
    ignores: narrow::IgnoreTexts,
}

impl Sink for ScanSink<'_, '_> {
    fn ignore_rules(&mut self, at: &str, rules: &Arc<Gitignore>, text: &str) {
        self.scan.note_ignore_rules(at, rules);
        self.ignores.add(at, text);
    }

    fn unreadable(&mut self, rel: RelPath, reason: String, in_use: bool) {
        self.scan.note_unreadable(rel, reason, in_use);
    }

    fn skipped(&mut self, native: PathBuf, reason: SkipReason, excluded: Option<RelPath>) {
        if let Some(rel) = excluded {
            self.scan.excluded.push(rel);
        }
        self.scan.skipped.push((native, reason));
    }

    fn folder(&mut self, rel: &RelPath, meta: &std::fs::Metadata) {
        self.entries.push(
            rel.clone(),
            LocalEntry {
                kind: EntryKind::Dir,
                size: 0,
                mtime_ns: crate::chunk::mtime_ns(meta),
                sha256: None,
            },
        );
    }

    fn file(&mut self, file: ListedFile) {
        if let Some(job) = cache::reuse_or_hash(
            file,
            &mut self.cache,
            self.chunking,
            self.scan,
            &mut self.entries,
        ) {
            self.jobs.push(job);
        }
    }
}

/// The digest-only walk's sink: holds nothing; warns of names that cannot be synced as a
/// sync does after its scan.
struct DigestOnly;

impl Sink for DigestOnly {
    fn ignore_rules(&mut self, _: &str, _: &Arc<Gitignore>, _: &str) {}
    fn unreadable(&mut self, _: RelPath, _: String, _: bool) {}
    fn skipped(&mut self, native: PathBuf, reason: SkipReason, _: Option<RelPath>) {
        if let SkipReason::InvalidName(why) = reason {
            warn!(path = %native.display(), "not synced: {why}; rename it to sync it");
        }
    }
    fn folder(&mut self, _: &RelPath, _: &std::fs::Metadata) {}
    fn file(&mut self, _: ListedFile) {}
}

/// Refuse a zero chunk size, and a root that is missing, not a folder or not listable: an
/// empty result from an unreadable root would look like "everything deleted".
fn check_root(root: &Path, opts: &ScanOptions) -> Result<(), ScanError> {
    if opts.chunk_size == 0 {
        return Err(ScanError::BadChunkSize);
    }
    match std::fs::metadata(root) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(ScanError::RootMissing {
                path: root.to_owned(),
                detail: Some("not a folder".into()),
            })
        }
        Err(e) => {
            return Err(ScanError::RootMissing {
                path: root.to_owned(),
                detail: Some(e.to_string()),
            })
        }
    }
    // The root must be listable: an empty result from an unreadable root would look like
    // "everything deleted".
    if let Err(source) = std::fs::read_dir(root) {
        return Err(ScanError::RootUnreadable {
            path: root.to_owned(),
            source,
        });
    }
    Ok(())
}

/// Sort what was gathered (the output must not depend on listing order or thread timing) and
/// notice when the ignore rules leave nothing.
fn finish(scan: &mut LocalScan, root: &Path) {
    scan.unreadable.sort_by(|a, b| a.0.cmp(&b.0));
    scan.in_use.sort();
    scan.skipped.sort_by(|a, b| a.0.cmp(&b.0));
    scan.excluded.sort();
    scan.everything_ignored = scan.entries.is_empty()
        && scan
            .skipped
            .iter()
            .any(|(_, r)| matches!(r, SkipReason::Ignored));
    if scan.everything_ignored {
        warn!(
            root = %root.display(),
            "every file and folder here is excluded by {IGNORE_FILE} or the ignore settings: nothing is uploaded"
        );
    }
}

#[cfg(test)]
mod tests;
