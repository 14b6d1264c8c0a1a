//! The hashing pass: read the files the cache could not vouch for on a few threads, each
//! opened without following links and checked to be the very file the listing saw. Tests
//! observe it through [`Hooks`].

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use tracing::{debug, warn};

use super::cache::record_fresh;
use super::{Entries, LocalScan};
use crate::chunk;
use crate::fs_safe;
use crate::in_use::{self, IN_USE_REASON};
use crate::rel_path::RelPath;

/// Most hashing threads used at once (hashing is I/O- and CPU-bound; more threads than this
/// only thrash the disk).
const MAX_HASH_THREADS: usize = 4;

/// A file to hash (its native path is made from `rel` when it is opened: 100,000 files to
/// hash held 100,000 paths twice, issue 15).
pub(super) struct Job {
    pub(super) rel: RelPath,
    /// What the listing saw (without following links): the file opened to be hashed must be
    /// this one, not a link or another file swapped in since.
    pub(super) listed: fs_safe::Meta,
}

/// Test hooks of the hashing pass: run just before each file is opened to be hashed and
/// after its first read.
pub(super) struct Hooks<'a> {
    pub(super) after_first_read: &'a (dyn Fn(&Path) + Sync),
    pub(super) before_open: &'a (dyn Fn(&Path) + Sync),
}

/// Hash `jobs` and record the outcome in `scan`: a fresh entry and cache row, nothing for a
/// file that vanished, an unreadable path for one that could not be read or changed meanwhile.
/// Returns whether every file hashed was still what the listing saw (same size and
/// modification time): when not, the listing's digest does not describe the scan.
pub(super) fn hash_into(
    scan: &mut LocalScan,
    entries: &mut Entries,
    root: &Path,
    jobs: Vec<Job>,
    chunking: &chunk::Chunking,
    hooks: &Hooks<'_>,
) -> bool {
    let mut as_listed = true;
    hash_all(root, &jobs, chunking, hooks, |job, result| match result {
        Ok(h) => {
            as_listed &= h.size == job.listed.len && h.mtime_ns == job.listed.mtime_ns;
            record_fresh(scan, entries, job.rel.clone(), h)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            as_listed = false;
            debug!(path = %job.rel, "vanished while scanning");
        }
        Err(e) => {
            let reason = if in_use::is_in_use(&e) {
                scan.in_use.push(job.rel.clone());
                IN_USE_REASON.to_string()
            } else if chunk::is_file_changed(&e) {
                "changed while it was being read; will retry on the next sync".to_string()
            } else {
                e.to_string()
            };
            warn!(path = %job.rel, "cannot read file: {reason}");
            scan.unreadable.push((job.rel.clone(), reason));
        }
    });
    as_listed
}

/// Open a listed file without following any link below `root`, check it is the very file the
/// listing saw (a link or another file swapped in since is "changed", retried next sync), and
/// hash it.
fn hash_job(
    root: &Path,
    job: &Job,
    chunking: &chunk::Chunking,
    hooks: &Hooks<'_>,
) -> std::io::Result<chunk::FileHashes> {
    let native = job.rel.to_native(root);
    (hooks.before_open)(&native);
    let file = fs_safe::open_file(root, &job.rel).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound || in_use::is_in_use(&e) {
            e
        } else {
            // A link, a folder or a FIFO where the listing saw a file: it changed.
            debug!(path = %job.rel, error = %e, "not the file that was listed");
            std::io::Error::other(chunk::FileChanged {
                path: native.clone(),
            })
        }
    })?;
    let opened = fs_safe::Meta::of(&file.metadata()?);
    if (opened.dev, opened.ino) != (job.listed.dev, job.listed.ino)
        || opened.kind != fs_safe::Kind::File
    {
        return Err(std::io::Error::other(chunk::FileChanged { path: native }));
    }
    chunk::hash_open_file(file, &native, chunking, hooks.after_first_read)
}

/// Hash every job on a few threads; `record` takes each job with its result as it comes, on
/// the calling thread and in no particular order. Nothing is gathered: the results of
/// 100,000 files were held in two lists of their own before they were recorded (issue 15).
fn hash_all(
    root: &Path,
    jobs: &[Job],
    chunking: &chunk::Chunking,
    hooks: &Hooks<'_>,
    mut record: impl FnMut(&Job, std::io::Result<chunk::FileHashes>),
) {
    if jobs.is_empty() {
        return;
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_HASH_THREADS)
        .min(jobs.len());
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let (done, results) = mpsc::sync_channel(threads * 4);
        for _ in 0..threads {
            let done = done.clone();
            let next = &next;
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                if done
                    .send((i, hash_job(root, job, chunking, hooks)))
                    .is_err()
                {
                    break;
                }
            });
        }
        drop(done);
        // Every job is answered: a worker that panicked makes `scope` panic once the
        // others are joined, so no job is left without a result.
        for (i, r) in results {
            if let Some(job) = jobs.get(i) {
                record(job, r);
            }
        }
    });
}
