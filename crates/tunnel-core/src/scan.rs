//! The local scanner: walk a synced folder into a tree of [`LocalEntry`] values.
//!
//! Invariants:
//! - the root must exist, be a folder and be listable, else [`ScanError`]: a missing root
//!   (an unmounted disk) must never read as "everything was deleted";
//! - a file that cannot be read, or changes while it is hashed, and a subfolder that cannot be
//!   listed go to [`LocalScan::unreadable`] — they are *not* deleted; the rest of the scan
//!   goes on;
//! - a file is hashed only when its (size, mtime, inode) differ from the cache or its cached
//!   chunks were cut with another chunk size;
//! - skipped, never synced: hidden names (leading `.`, which covers our own `.sbt-*.partial`
//!   downloads, `.sbtignore` and LibreOffice `.~lock.*#`), temporary and editor files (`~`
//!   prefix or suffix, `.tmp`, `.swp`, `.swx`, `.part`), symbolic links, sockets/FIFOs/devices,
//!   names that are not valid [`RelPath`]s, and whatever `.sbtignore` files (gitignore syntax,
//!   any level) or the configured extra patterns exclude. A `.sbtignore` that cannot be read or
//!   parsed makes its folder unreadable rather than letting excluded files through;
//! - the output does not depend on listing order or thread timing.

use std::collections::{BTreeMap, HashMap};
use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use tracing::{debug, warn};

use crate::chunk::{self, ChunkHash};
use crate::fs_safe;
use crate::journal::CachedHash;
use crate::manifest::EntryKind;
use crate::plan::LocalEntry;
use crate::rel_path::RelPath;

/// Name of the per-folder ignore file.
pub const IGNORE_FILE: &str = ".sbtignore";
/// Most hashing threads used at once (hashing is I/O- and CPU-bound; more threads than this
/// only thrash the disk).
const MAX_HASH_THREADS: usize = 4;

/// How to scan.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Chunk size used to cut files (bytes, at least 1).
    pub chunk_size: u64,
    /// Extra ignore patterns (gitignore syntax) relative to the root.
    pub extra_ignores: Vec<String>,
}

/// Why a path was left out of the scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The name starts with `.`.
    Hidden,
    /// A temporary, editor or partial-download file.
    Temporary,
    /// A symbolic link (never followed).
    Symlink,
    /// A socket, FIFO or device.
    Special,
    /// The name cannot be synced (not UTF-8, not NFC, forbidden characters…).
    InvalidName(String),
    /// Matched by `.sbtignore` or the configured ignore patterns.
    Ignored,
}

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
    /// Paths left out on purpose.
    pub skipped: Vec<(PathBuf, SkipReason)>,
    /// The skipped paths that are valid [`RelPath`]s (ignored, hidden, temporary, links,
    /// special files), sorted. They exist locally but are not synced: the engine should leave
    /// them (and everything below them) out of the plan on every side, like `unreadable`, so
    /// that ignoring a synced file never deletes it elsewhere and a remote file never
    /// overwrites a local link or ignored file.
    pub excluded: Vec<RelPath>,
    /// How many files were actually read and hashed (the rest came from the cache).
    pub hashed: u64,
    /// The rules the scan applied, to judge paths that are not here (remote entries).
    pub rules: SkipRules,
    /// Nothing was scanned but something was ignored: the ignore rules exclude everything
    /// (a `.sbtignore` holding `*`, say), so nothing is uploaded. Logged as a warning.
    pub everything_ignored: bool,
}

/// The rules that decide what the scanner leaves out, kept to judge a path that does not exist
/// here: an entry arriving from another device (with other ignore rules, or hostile) that this
/// device would never upload is not written here either.
#[derive(Clone, Debug, Default)]
pub struct SkipRules {
    root: PathBuf,
    /// The `.sbtignore` matchers found, by the folder holding them (`""`: the root).
    by_dir: HashMap<String, Arc<Gitignore>>,
    extra: Option<Arc<Gitignore>>,
}

impl SkipRules {
    /// Why the scanner would leave `path` (of `kind`) out, were it here: a hidden or
    /// temporary name anywhere in it, or an ignore rule on it or on a folder above it.
    /// Names (`InvalidName`) are not judged: a [`RelPath`] is valid.
    pub fn skip_reason(&self, path: &RelPath, kind: EntryKind) -> Option<SkipReason> {
        let parts: Vec<&str> = path.components().collect();
        for name in &parts {
            if name.starts_with('.') {
                return Some(SkipReason::Hidden);
            }
            if is_temporary_name(name) {
                return Some(SkipReason::Temporary);
            }
        }
        if self.by_dir.is_empty() && self.extra.is_none() {
            return None;
        }
        let text = path.as_str();
        let mut matchers: Vec<Arc<Gitignore>> = Vec::new();
        let mut native = self.root.clone();
        let mut end = 0;
        for (i, name) in parts.iter().enumerate() {
            let dir_so_far = &text[..end];
            if let Some(m) = self.by_dir.get(dir_so_far) {
                matchers.push(Arc::clone(m));
            }
            end = if i == 0 {
                name.len()
            } else {
                end + 1 + name.len()
            };
            native.push(name);
            let is_dir = i + 1 < parts.len() || kind == EntryKind::Dir;
            if is_ignored(&native, is_dir, &matchers, self.extra.as_deref()) {
                return Some(SkipReason::Ignored);
            }
        }
        None
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

/// True for names of temporary, editor and partial-download files.
pub fn is_temporary_name(name: &str) -> bool {
    let lower = name.to_lowercase();
    name.starts_with('~')
        || name.ends_with('~')
        || [".tmp", ".swp", ".swx", ".part"]
            .iter()
            .any(|s| lower.ends_with(s))
        || (name.starts_with(".~lock.") && name.ends_with('#'))
        || (name.starts_with(".sbt-") && name.ends_with(".partial"))
}

/// Scan `root` into a [`LocalScan`], reusing `cache` for unchanged files.
pub fn scan_folder(
    root: &Path,
    cache: &HashMap<RelPath, CachedHash>,
    opts: &ScanOptions,
) -> Result<LocalScan, ScanError> {
    scan_folder_observed(root, cache, opts, &|_| {}, &|_| {})
}

/// A file to hash.
struct Job {
    rel: RelPath,
    native: PathBuf,
    /// What the listing saw (without following links): the file opened to be hashed must be
    /// this one, not a link or another file swapped in since.
    listed: fs_safe::Meta,
}

/// One folder waiting to be listed, with the ignore matchers that apply inside it
/// (outermost first).
struct Frame {
    native: PathBuf,
    rel: Option<RelPath>,
    matchers: Vec<Arc<Gitignore>>,
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
    let extra = build_extra(root, &opts.extra_ignores)?.map(Arc::new);

    let mut scan = LocalScan::default();
    scan.rules.root = root.to_owned();
    scan.rules.extra = extra.clone();
    let mut jobs: Vec<Job> = Vec::new();
    let mut stack = vec![Frame {
        native: root.to_owned(),
        rel: None,
        matchers: Vec::new(),
    }];
    while let Some(frame) = stack.pop() {
        let mut matchers = frame.matchers.clone();
        match load_ignore_file(&frame.native) {
            Ok(Some(gi)) => {
                let gi = Arc::new(gi);
                let at = frame.rel.as_ref().map_or("", RelPath::as_str).to_string();
                scan.rules.by_dir.insert(at, Arc::clone(&gi));
                matchers.push(gi);
            }
            Ok(None) => {}
            Err(reason) => {
                match &frame.rel {
                    Some(rel) => scan.unreadable.push((rel.clone(), reason)),
                    // The root's own ignore rules are unusable: nothing can be scanned safely.
                    None => {
                        return Err(ScanError::BadIgnore {
                            pattern: IGNORE_FILE.into(),
                            message: reason,
                        })
                    }
                }
                continue;
            }
        }
        let listing = match list_dir(&frame.native) {
            Ok(l) => l,
            Err(e) => {
                match &frame.rel {
                    Some(rel) => scan
                        .unreadable
                        .push((rel.clone(), format!("cannot list the folder: {e}"))),
                    None => {
                        return Err(ScanError::RootUnreadable {
                            path: root.to_owned(),
                            source: e,
                        })
                    }
                }
                continue;
            }
        };
        let mut subdirs = Vec::new();
        for (name, native) in listing {
            let meta = match std::fs::symlink_metadata(&native) {
                Ok(m) => m,
                Err(e) => {
                    // Vanished between listing and stat: it is simply not there any more.
                    if e.kind() != std::io::ErrorKind::NotFound {
                        if let Some(rel) = child_rel(&frame.rel, &name) {
                            scan.unreadable.push((rel, e.to_string()));
                        }
                    }
                    continue;
                }
            };
            let Some(name) = name.to_str() else {
                scan.skipped.push((
                    native,
                    SkipReason::InvalidName("the name is not valid UTF-8".into()),
                ));
                continue;
            };
            let candidate = match &frame.rel {
                Some(parent) => RelPath::new(&format!("{}/{name}", parent.as_str())),
                None => RelPath::new(name),
            };
            let ft = meta.file_type();
            let reason = if name.starts_with('.') {
                Some(SkipReason::Hidden)
            } else if is_temporary_name(name) {
                Some(SkipReason::Temporary)
            } else if ft.is_symlink() {
                warn!(path = %native.display(), "skipping a symbolic link (links are not synced)");
                Some(SkipReason::Symlink)
            } else if !ft.is_file() && !ft.is_dir() {
                Some(SkipReason::Special)
            } else {
                None
            };
            if let Some(reason) = reason {
                if let Ok(rel) = candidate {
                    if rel.file_name() == name {
                        scan.excluded.push(rel);
                    }
                }
                scan.skipped.push((native, reason));
                continue;
            }
            let rel = match candidate {
                Ok(r) => r,
                Err(e) => {
                    scan.skipped
                        .push((native, SkipReason::InvalidName(e.to_string())));
                    continue;
                }
            };
            if !cfg!(target_os = "macos") && rel.file_name() != name {
                // Stored NFC; a decomposed name on a byte-exact file system would be written
                // back under another name.
                scan.skipped.push((
                    native,
                    SkipReason::InvalidName("the name is not in Unicode NFC form".into()),
                ));
                continue;
            }
            let is_dir = ft.is_dir();
            if is_ignored(&native, is_dir, &matchers, extra.as_deref()) {
                debug!(path = %rel, "ignored");
                scan.excluded.push(rel);
                scan.skipped.push((native, SkipReason::Ignored));
                continue;
            }
            if is_dir {
                scan.entries.insert(
                    rel.clone(),
                    LocalEntry {
                        kind: EntryKind::Dir,
                        size: 0,
                        mtime_ns: chunk::mtime_ns(&meta),
                        sha256: None,
                    },
                );
                subdirs.push(Frame {
                    native,
                    rel: Some(rel),
                    matchers: matchers.clone(),
                });
            } else {
                match cache.get(&rel) {
                    Some(c) if cache_fits(c, &meta, opts.chunk_size) => {
                        scan.entries.insert(rel.clone(), file_entry(c));
                        scan.hashes.insert(rel, c.clone());
                    }
                    _ => jobs.push(Job {
                        rel,
                        native,
                        listed: fs_safe::Meta::of(&meta),
                    }),
                }
            }
        }
        // Depth-first, in name order (the stack pops the last pushed first).
        stack.extend(subdirs.into_iter().rev());
    }

    let hooks = Hooks {
        after_first_read,
        before_open,
    };
    for (rel, result) in hash_all(root, jobs, opts.chunk_size, &hooks) {
        match result {
            Ok(h) => {
                scan.hashed += 1;
                let cached = CachedHash {
                    size: h.size,
                    mtime_ns: h.mtime_ns,
                    inode: h.inode,
                    sha256: h.sha256,
                    chunks: h.chunks,
                };
                scan.entries.insert(rel.clone(), file_entry(&cached));
                // Racy timestamps (as in git): a file modified within the file system's
                // timestamp granularity of this hash could change again without its (size,
                // mtime) changing. Such a cache row never matches, so it is hashed again
                // next time, until its mtime is safely in the past.
                let mut cached = cached;
                if is_racy(cached.mtime_ns) {
                    cached.mtime_ns = RACY_MTIME;
                }
                scan.hashes.insert(rel, cached);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                debug!(path = %rel, "vanished while scanning");
            }
            Err(e) => {
                let reason = if chunk::is_file_changed(&e) {
                    "changed while it was being read; will retry on the next sync".to_string()
                } else {
                    e.to_string()
                };
                warn!(path = %rel, "cannot read file: {reason}");
                scan.unreadable.push((rel, reason));
            }
        }
    }
    scan.unreadable.sort_by(|a, b| a.0.cmp(&b.0));
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
    Ok(scan)
}

fn child_rel(parent: &Option<RelPath>, name: &std::ffi::OsStr) -> Option<RelPath> {
    let name = name.to_str()?;
    match parent {
        Some(p) => RelPath::new(&format!("{}/{name}", p.as_str())).ok(),
        None => RelPath::new(name).ok(),
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

/// The cache row still describes this file, and its chunks were cut with `chunk_size`.
/// A cache row with this mtime never matches a file (see the racy-timestamp rule above).
const RACY_MTIME: i64 = i64::MIN;
/// How close to "now" an mtime must be to count as racy (covers 1–2 s timestamp granularity).
const RACY_WINDOW_NS: i64 = 3_000_000_000;

fn is_racy(mtime_ns: i64) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(i64::MAX);
    now.saturating_sub(mtime_ns) < RACY_WINDOW_NS
}

fn cache_fits(c: &CachedHash, meta: &Metadata, chunk_size: u64) -> bool {
    if c.size != meta.len() || c.mtime_ns != chunk::mtime_ns(meta) || c.inode != chunk::inode(meta)
    {
        return false;
    }
    let expected_chunks = c.size.div_ceil(chunk_size);
    c.chunks.len() as u64 == expected_chunks
        && c.chunks.iter().map(|ch: &ChunkHash| ch.size).sum::<u64>() == c.size
        && c.chunks
            .iter()
            .rev()
            .skip(1)
            .all(|ch| ch.size == chunk_size)
}

/// List a folder, sorted by name.
fn list_dir(dir: &Path) -> std::io::Result<Vec<(std::ffi::OsString, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        out.push((entry.file_name(), entry.path()));
    }
    out.sort();
    Ok(out)
}

/// Read `dir/.sbtignore` when it exists. Errors are reasons to treat the folder as unreadable.
fn load_ignore_file(dir: &Path) -> Result<Option<Gitignore>, String> {
    let path = dir.join(IGNORE_FILE);
    let text = match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {IGNORE_FILE}: {e}")),
        Ok(m) if !m.is_file() => return Err(format!("{IGNORE_FILE} is not a regular file")),
        Ok(_) => {
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {IGNORE_FILE}: {e}"))?
        }
    };
    let mut builder = GitignoreBuilder::new(dir);
    for (i, line) in text.lines().enumerate() {
        builder
            .add_line(Some(path.clone()), line)
            .map_err(|e| format!("{IGNORE_FILE} line {}: {e}", i + 1))?;
    }
    builder
        .build()
        .map(Some)
        .map_err(|e| format!("{IGNORE_FILE}: {e}"))
}

fn build_extra(root: &Path, patterns: &[String]) -> Result<Option<Gitignore>, ScanError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut builder = GitignoreBuilder::new(root);
    for p in patterns {
        builder
            .add_line(None, p)
            .map_err(|e| ScanError::BadIgnore {
                pattern: p.clone(),
                message: e.to_string(),
            })?;
    }
    builder.build().map(Some).map_err(|e| ScanError::BadIgnore {
        pattern: patterns.join(", "),
        message: e.to_string(),
    })
}

/// The deepest `.sbtignore` with an opinion decides (a `!pattern` re-includes); the configured
/// patterns come last.
fn is_ignored(
    path: &Path,
    is_dir: bool,
    matchers: &[Arc<Gitignore>],
    extra: Option<&Gitignore>,
) -> bool {
    for m in matchers.iter().rev() {
        let r = m.matched(path, is_dir);
        if r.is_ignore() {
            return true;
        }
        if r.is_whitelist() {
            return false;
        }
    }
    extra.is_some_and(|e| e.matched(path, is_dir).is_ignore())
}

/// Test hooks of the hashing pass.
struct Hooks<'a> {
    after_first_read: &'a (dyn Fn(&Path) + Sync),
    before_open: &'a (dyn Fn(&Path) + Sync),
}

/// Open a listed file without following any link below `root`, check it is the very file the
/// listing saw (a link or another file swapped in since is "changed", retried next sync), and
/// hash it.
fn hash_job(
    root: &Path,
    job: &Job,
    chunk_size: u64,
    hooks: &Hooks<'_>,
) -> std::io::Result<chunk::FileHashes> {
    (hooks.before_open)(&job.native);
    let file = fs_safe::open_file(root, &job.rel).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            e
        } else {
            // A link, a folder or a FIFO where the listing saw a file: it changed.
            debug!(path = %job.rel, error = %e, "not the file that was listed");
            std::io::Error::other(chunk::FileChanged {
                path: job.native.clone(),
            })
        }
    })?;
    let opened = fs_safe::Meta::of(&file.metadata()?);
    if (opened.dev, opened.ino) != (job.listed.dev, job.listed.ino)
        || opened.kind != fs_safe::Kind::File
    {
        return Err(std::io::Error::other(chunk::FileChanged {
            path: job.native.clone(),
        }));
    }
    chunk::hash_open_file(file, &job.native, chunk_size, hooks.after_first_read)
}

/// Hash every job on a few threads; results come back in job order.
fn hash_all(
    root: &Path,
    jobs: Vec<Job>,
    chunk_size: u64,
    hooks: &Hooks<'_>,
) -> Vec<(RelPath, std::io::Result<chunk::FileHashes>)> {
    if jobs.is_empty() {
        return Vec::new();
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_HASH_THREADS)
        .min(jobs.len());
    let results: Vec<Mutex<Option<std::io::Result<chunk::FileHashes>>>> =
        jobs.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let r = hash_job(root, job, chunk_size, hooks);
                // Each slot is written by exactly one thread.
                if let Ok(mut slot) = results[i].lock() {
                    *slot = Some(r);
                }
            });
        }
    });
    jobs.into_iter()
        .zip(results)
        .map(|(job, slot)| {
            let r = slot
                .into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| Err(std::io::Error::other("hashing thread failed")));
            (job.rel, r)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn rel(s: &str) -> RelPath {
        RelPath::new(s).expect("valid test path")
    }

    fn opts() -> ScanOptions {
        ScanOptions {
            chunk_size: 4,
            extra_ignores: Vec::new(),
        }
    }

    /// Write a file with an mtime safely in the past (not "racy"), as files are between syncs.
    fn put(root: &Path, path: &str, bytes: &[u8]) {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, bytes).expect("write");
        let past = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .expect("open");
        f.set_modified(past).expect("backdate");
    }

    #[test]
    fn a_file_modified_just_now_is_hashed_again_next_time() {
        // Racy timestamps: within the file system's granularity an edit may keep (size, mtime).
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::write(root.join("fresh"), b"1111").expect("write");
        let first = scan_folder(root, &HashMap::new(), &opts()).expect("scan");
        let second = scan_folder(root, &first.hashes, &opts()).expect("scan");
        assert_eq!(
            second.hashed, 1,
            "a just-modified file is not trusted from the cache"
        );
    }

    fn keys(scan: &LocalScan) -> Vec<String> {
        scan.entries.keys().map(|k| k.to_string()).collect()
    }

    fn reasons(scan: &LocalScan, root: &Path) -> Vec<(String, SkipReason)> {
        scan.skipped
            .iter()
            .map(|(p, r)| {
                let rel = p.strip_prefix(root).expect("under root");
                // `a/b` on every platform (Windows joins with `\`).
                let parts: Vec<_> = rel.iter().map(|c| c.to_string_lossy()).collect();
                (parts.join("/"), r.clone())
            })
            .collect()
    }

    #[test]
    fn scans_files_and_folders_with_hashes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        put(root, "a.txt", b"hello world");
        put(root, "d/e/f.bin", b"");
        std::fs::create_dir(root.join("empty")).expect("mkdir");
        let scan = scan_folder(root, &HashMap::new(), &opts()).expect("scan");
        assert_eq!(keys(&scan), vec!["a.txt", "d", "d/e", "d/e/f.bin", "empty"]);
        let a = &scan.entries[&rel("a.txt")];
        assert_eq!(a.kind, EntryKind::File);
        assert_eq!(a.size, 11);
        assert_eq!(a.sha256, Some(crate::hash::Digest::of(b"hello world")));
        assert_eq!(
            scan.hashes[&rel("a.txt")].chunks.len(),
            3,
            "11 bytes in 4-byte chunks"
        );
        let d = &scan.entries[&rel("d")];
        assert_eq!((d.kind, d.size, d.sha256), (EntryKind::Dir, 0, None));
        assert_eq!(scan.hashed, 2);
        assert_eq!(scan.hashes.len(), 2, "one cache row per file");
        assert!(scan.unreadable.is_empty());
    }

    #[test]
    fn cache_hits_are_not_rehashed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        put(root, "a", b"aaaa");
        put(root, "b", b"bbbb");
        let first = scan_folder(root, &HashMap::new(), &opts()).expect("scan");
        assert_eq!(first.hashed, 2);
        let second = scan_folder(root, &first.hashes, &opts()).expect("scan");
        assert_eq!(
            second.hashed, 0,
            "nothing changed: every hash comes from the cache"
        );
        assert_eq!(second.entries, first.entries);
        assert_eq!(second.hashes, first.hashes);

        // Change one file (size differs): only it is read again.
        put(root, "b", b"bbbbb");
        let third = scan_folder(root, &second.hashes, &opts()).expect("scan");
        assert_eq!(third.hashed, 1);
        assert_eq!(
            third.entries[&rel("b")].sha256,
            Some(crate::hash::Digest::of(b"bbbbb"))
        );

        // Another chunk size invalidates the cached chunks.
        let other = ScanOptions {
            chunk_size: 2,
            ..opts()
        };
        let fourth = scan_folder(root, &third.hashes, &other).expect("scan");
        assert_eq!(
            fourth.hashed, 2,
            "chunks cut with another size are recomputed"
        );
    }

    #[test]
    fn cache_rows_survive_the_journal_round_trip() {
        // What the engine does between two syncs: store the hashes, read them back, rescan.
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        put(root, "a/b.txt", b"bytes");
        put(root, "c", b"");
        let j = crate::journal::Journal::open_in_memory().expect("journal");
        let f = j
            .add_folder(&crate::paths::test_abs("/synced"), "1")
            .expect("folder");
        let first = scan_folder(root, &HashMap::new(), &opts()).expect("scan");
        let rows: Vec<(RelPath, CachedHash)> = first.hashes.clone().into_iter().collect();
        j.update_scan_cache(f.id, &rows, &[]).expect("store");
        let cache = j.scan_cache(f.id).expect("load");
        let second = scan_folder(root, &cache, &opts()).expect("scan");
        assert_eq!(
            second.hashed, 0,
            "rows read back from SQLite still match the files"
        );
        assert_eq!(second.entries, first.entries);
    }

    #[test]
    fn stale_cache_with_same_size_is_rehashed_when_mtime_differs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        put(root, "a", b"aaaa");
        let first = scan_folder(root, &HashMap::new(), &opts()).expect("scan");
        let mut cache = first.hashes.clone();
        let row = cache.get_mut(&rel("a")).expect("row");
        row.mtime_ns -= 1;
        row.sha256 = crate::hash::Digest::of(b"wrong");
        let second = scan_folder(root, &cache, &opts()).expect("scan");
        assert_eq!(second.hashed, 1);
        assert_eq!(
            second.entries[&rel("a")].sha256,
            Some(crate::hash::Digest::of(b"aaaa"))
        );
    }

    #[test]
    fn hidden_temporary_and_special_names_are_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for name in [
            ".hidden",
            ".git/config",
            "~$report.docx",
            "notes.txt~",
            "x.tmp",
            // Not X.TMP: on a case-insensitive disk (Windows, macOS) that is x.tmp.
            "Y.TMP",
            "a.swp",
            "a.swx",
            ".~lock.doc.odt#",
            "video.mp4.part",
            ".sbt-123.partial",
            "keep.txt",
        ] {
            put(root, name, b"x");
        }
        let scan = scan_folder(root, &HashMap::new(), &opts()).expect("scan");
        assert_eq!(keys(&scan), vec!["keep.txt"]);
        let r = reasons(&scan, root);
        assert!(r.contains(&(".git".into(), SkipReason::Hidden)), "{r:?}");
        assert!(
            r.contains(&("x.tmp".into(), SkipReason::Temporary)),
            "{r:?}"
        );
        assert!(
            r.contains(&("Y.TMP".into(), SkipReason::Temporary)),
            "{r:?}"
        );
        assert!(
            r.contains(&("~$report.docx".into(), SkipReason::Temporary)),
            "{r:?}"
        );
        assert!(
            r.contains(&("video.mp4.part".into(), SkipReason::Temporary)),
            "{r:?}"
        );
        assert_eq!(r.len(), 11, "everything but keep.txt is reported: {r:?}");
    }

    // Unix only: it makes symbolic links and a FIFO. Wine 8's CreateSymbolicLinkW reports
    // success and makes nothing, Windows makes links only in Developer Mode or as an
    // administrator, and has no FIFOs.
    #[cfg(unix)]
    #[test]
    fn symlinks_and_fifos_are_skipped_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        put(outside.path(), "secret.txt", b"s");
        put(root, "real.txt", b"r");
        std::os::unix::fs::symlink(outside.path(), root.join("link-dir")).expect("symlink");
        std::os::unix::fs::symlink(root.join("real.txt"), root.join("link-file")).expect("symlink");
        let fifo = root.join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        let scan = scan_folder(root, &HashMap::new(), &opts()).expect("scan");
        assert_eq!(keys(&scan), vec!["real.txt"], "links are never followed");
        assert!(
            scan.excluded.contains(&rel("link-file")),
            "a local link is kept out of the plan, so no download replaces it"
        );
        let r = reasons(&scan, root);
        assert!(r.contains(&("link-dir".into(), SkipReason::Symlink)));
        assert!(r.contains(&("link-file".into(), SkipReason::Symlink)));
        if made.is_ok_and(|s| s.success()) {
            assert!(
                r.contains(&("pipe".into(), SkipReason::Special)),
                "a FIFO is never opened: {r:?}"
            );
        }
    }

    #[test]
    fn sbtignore_rules_apply_at_every_level() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        put(root, ".sbtignore", b"*.log\nbuild/\n/top-only.txt\n");
        put(root, "a.log", b"x");
        put(root, "top-only.txt", b"x");
        put(root, "build/out.bin", b"x");
        put(root, "src/build/x", b"x");
        put(
            root,
            "src/top-only.txt",
            b"kept: the pattern is anchored to the root",
        );
        put(root, "src/.sbtignore", b"*.o\n!keep.log\n");
        put(root, "src/main.o", b"x");
        put(root, "src/keep.log", b"re-included by the deeper file");
        put(root, "src/other.log", b"x");
        put(root, "docs/readme.md", b"x");
        let scan = scan_folder(root, &HashMap::new(), &opts()).expect("scan");
        assert_eq!(
            keys(&scan),
            vec![
                "docs",
                "docs/readme.md",
                "src",
                "src/keep.log",
                "src/top-only.txt"
            ]
        );
        let r = reasons(&scan, root);
        for ignored in [
            "a.log",
            "build",
            "src/build",
            "src/main.o",
            "src/other.log",
            "top-only.txt",
        ] {
            assert!(
                r.contains(&(ignored.into(), SkipReason::Ignored)),
                "{ignored}: {r:?}"
            );
        }
    }

    /// What the scan would leave out is judged the same for paths that are not here (entries
    /// from other devices): hidden or temporary anywhere in the path, or ignored by the rules
    /// of the folders above it and the configured patterns.
    #[test]
    fn skip_rules_judge_paths_that_are_not_here() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        put(root, ".sbtignore", b"*.log\nbuild/\n");
        put(root, "src/.sbtignore", b"*.o\n!keep.log\n");
        put(root, "src/main.rs", b"x");
        let o = ScanOptions {
            chunk_size: 4,
            extra_ignores: vec!["*.bak".into()],
        };
        let scan = scan_folder(root, &HashMap::new(), &o).expect("scan");
        let judge = |p: &str, kind| scan.rules.skip_reason(&rel(p), kind);
        use EntryKind::{Dir, File};
        assert_eq!(judge(".envrc", File), Some(SkipReason::Hidden));
        assert_eq!(judge(".vscode/tasks.json", File), Some(SkipReason::Hidden));
        assert_eq!(judge("a/.git/config", File), Some(SkipReason::Hidden));
        assert_eq!(judge("notes.txt~", File), Some(SkipReason::Temporary));
        assert_eq!(judge("x.log", File), Some(SkipReason::Ignored));
        assert_eq!(judge("deep/er/x.log", File), Some(SkipReason::Ignored));
        assert_eq!(judge("build", Dir), Some(SkipReason::Ignored));
        assert_eq!(judge("build/out.bin", File), Some(SkipReason::Ignored));
        assert_eq!(judge("src/a.o", File), Some(SkipReason::Ignored));
        assert_eq!(judge("src/keep.log", File), None, "re-included below");
        assert_eq!(judge("other/a.o", File), None, "src's rules stay in src");
        assert_eq!(judge("x.bak", File), Some(SkipReason::Ignored));
        assert_eq!(judge("build", File), None, "build/ names folders only");
        assert_eq!(judge("docs/readme.md", File), None);
        assert!(!scan.everything_ignored);
    }

    #[test]
    fn an_ignore_file_that_excludes_everything_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        put(root, ".sbtignore", b"*\n");
        put(root, "a.txt", b"x");
        put(root, "d/b.txt", b"x");
        let scan = scan_folder(root, &HashMap::new(), &opts()).expect("scan");
        assert!(scan.entries.is_empty());
        assert!(scan.everything_ignored);
        let empty = tempfile::tempdir().expect("tempdir");
        let scan = scan_folder(empty.path(), &HashMap::new(), &opts()).expect("scan");
        assert!(!scan.everything_ignored, "an empty folder ignores nothing");
    }

    #[test]
    fn extra_ignores_apply_and_bad_patterns_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        put(root, "a.bak", b"x");
        put(root, "node_modules/m/index.js", b"x");
        put(root, "keep", b"x");
        let o = ScanOptions {
            chunk_size: 4,
            extra_ignores: vec!["*.bak".into(), "node_modules/".into()],
        };
        let scan = scan_folder(root, &HashMap::new(), &o).expect("scan");
        assert_eq!(keys(&scan), vec!["keep"]);
        let bad = ScanOptions {
            chunk_size: 4,
            extra_ignores: vec!["[z-a]".into()],
        };
        assert!(matches!(
            scan_folder(root, &HashMap::new(), &bad),
            Err(ScanError::BadIgnore { .. })
        ));
    }

    #[test]
    fn broken_nested_sbtignore_makes_the_folder_unreadable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        put(root, "sub/.sbtignore", b"{secret\n");
        put(root, "sub/{secret", b"must not leak");
        put(root, "ok.txt", b"x");
        let scan = scan_folder(root, &HashMap::new(), &opts()).expect("scan");
        assert!(!scan.entries.contains_key(&rel("sub/{secret")));
        assert_eq!(scan.unreadable.len(), 1);
        assert_eq!(scan.unreadable[0].0, rel("sub"));
        assert!(
            scan.unreadable[0].1.contains(".sbtignore"),
            "{:?}",
            scan.unreadable
        );
    }

    #[test]
    fn missing_root_is_an_error_not_an_empty_tree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("gone");
        assert!(matches!(
            scan_folder(&missing, &HashMap::new(), &opts()),
            Err(ScanError::RootMissing { .. })
        ));
        put(dir.path(), "file", b"x");
        assert!(matches!(
            scan_folder(&dir.path().join("file"), &HashMap::new(), &opts()),
            Err(ScanError::RootMissing { .. })
        ));
    }

    #[test]
    fn file_changing_during_hash_is_unreadable_not_deleted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        put(root, "growing.log.txt", b"0123456789");
        put(root, "stable.txt", b"s");
        let scan = scan_folder_observed(
            root,
            &HashMap::new(),
            &opts(),
            &|p| {
                if p.ends_with("growing.log.txt") {
                    let mut f = std::fs::OpenOptions::new()
                        .append(true)
                        .open(p)
                        .expect("open");
                    f.write_all(b"more").expect("append");
                }
            },
            &|_| {},
        )
        .expect("scan");
        assert_eq!(scan.unreadable.len(), 1);
        assert_eq!(scan.unreadable[0].0, rel("growing.log.txt"));
        assert!(
            scan.unreadable[0].1.contains("changed"),
            "{:?}",
            scan.unreadable
        );
        assert!(
            !scan.hashes.contains_key(&rel("growing.log.txt")),
            "no cache row for a torn read"
        );
        assert!(scan.entries.contains_key(&rel("stable.txt")));
    }

    /// A file replaced by a link to a secret outside the folder (or a folder above it replaced
    /// by a link) between the listing and the hashing: the secret is never hashed as the
    /// file's content; the file is "changed", retried next sync.
    // Unix only: it makes symbolic links (see symlinks_and_fifos_are_skipped_not_followed).
    #[cfg(unix)]
    #[test]
    fn a_file_swapped_for_a_link_after_the_listing_is_not_hashed_through_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        put(outside.path(), "id_rsa", b"PRIVATE KEY");
        put(outside.path(), "d/notes.txt", b"PRIVATE KEY");
        put(root, "notes.txt", b"public notes");
        put(root, "d/notes.txt", b"public notes");
        put(root, "stable.txt", b"s");
        let secret = crate::hash::Digest::of(b"PRIVATE KEY");
        let scan = scan_folder_observed(root, &HashMap::new(), &opts(), &|_| {}, &|p| {
            if p.ends_with("notes.txt") && !p.ends_with("d/notes.txt") {
                std::fs::remove_file(p).expect("rm");
                std::os::unix::fs::symlink(outside.path().join("id_rsa"), p).expect("link");
            }
            if p.ends_with("d/notes.txt") {
                let d = p.parent().expect("parent");
                std::fs::remove_dir_all(d).expect("rm dir");
                std::os::unix::fs::symlink(outside.path().join("d"), d).expect("link");
            }
        })
        .expect("scan");
        for (path, e) in &scan.entries {
            assert_ne!(e.sha256, Some(secret), "{path} was hashed through a link");
        }
        for (path, h) in &scan.hashes {
            assert_ne!(h.sha256, secret, "{path}: cache row of the secret");
        }
        let unreadable: Vec<String> = scan.unreadable.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(
            unreadable,
            vec!["d/notes.txt", "notes.txt"],
            "{:?}",
            scan.unreadable
        );
        assert!(scan.entries.contains_key(&rel("stable.txt")));
    }

    // Unix only: it takes read permission away with mode 000. Windows has no modes; denying
    // read there is an ACL edit, which this test does not have yet.
    #[cfg(unix)]
    #[test]
    fn unreadable_file_and_folder_are_reported_and_scan_goes_on() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        put(root, "locked.txt", b"x");
        put(root, "closed/inner.txt", b"x");
        put(root, "fine.txt", b"x");
        std::fs::set_permissions(
            root.join("locked.txt"),
            std::fs::Permissions::from_mode(0o000),
        )
        .expect("chmod");
        std::fs::set_permissions(root.join("closed"), std::fs::Permissions::from_mode(0o000))
            .expect("chmod");
        // Root (and CAP_DAC_OVERRIDE) reads anything: then permissions prove nothing.
        let privileged = std::fs::File::open(root.join("locked.txt")).is_ok();
        let scan = scan_folder(root, &HashMap::new(), &opts()).expect("scan");
        std::fs::set_permissions(root.join("closed"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod back");
        assert!(
            scan.entries.contains_key(&rel("fine.txt")),
            "the rest of the scan goes on"
        );
        if privileged {
            return;
        }
        let unreadable: Vec<_> = scan.unreadable.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(unreadable, vec!["closed", "locked.txt"]);
    }

    #[test]
    fn output_is_deterministic_with_many_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for i in 0..50 {
            put(
                root,
                &format!("d{}/f{i}.txt", i % 5),
                format!("content {i}").as_bytes(),
            );
        }
        let a = scan_folder(root, &HashMap::new(), &opts()).expect("scan");
        let b = scan_folder(root, &HashMap::new(), &opts()).expect("scan");
        assert_eq!(a.entries, b.entries);
        assert_eq!(a.hashes, b.hashes);
        assert_eq!(a.entries.len(), 55);
        for i in 0..50 {
            let key = rel(&format!("d{}/f{i}.txt", i % 5));
            assert_eq!(
                a.entries[&key].sha256,
                Some(crate::hash::Digest::of(format!("content {i}").as_bytes())),
                "each result belongs to its own file"
            );
        }
    }

    #[test]
    fn temporary_name_rules() {
        for t in [
            "~a",
            "a~",
            "a.tmp",
            "a.TMP",
            "a.swp",
            "a.swx",
            ".~lock.x#",
            "a.part",
            ".sbt-1.partial",
        ] {
            assert!(is_temporary_name(t), "{t}");
        }
        for k in ["a.txt", "tmp", "partial.doc", "a.partial", "a~b"] {
            assert!(!is_temporary_name(k), "{k}");
        }
    }
}
