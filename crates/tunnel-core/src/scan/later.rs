//! New files left unhashed: the files no cache row describes are offered to the sync's
//! [`HashLater`]; those it lets wait get an entry without a hash and are not read here (their
//! upload hashes the bytes it sends). The rest are hashed as usual.

use super::hashing::Job;
use super::{cache, Entries, HashLater, LocalScan};
use crate::manifest::EntryKind;
use crate::plan::LocalEntry;

/// Take out of `jobs` the new files `later` lets wait, recording each as listed (size,
/// modification time, no hash). Returns the jobs still to hash, and whether the scan can
/// still be described by its listing: not when a file left unhashed was modified just now
/// (its cache row, written once it is sent, will be made never to match, as the scan makes
/// a just-modified file's row).
pub(super) fn leave_unhashed(
    scan: &mut LocalScan,
    entries: &mut Entries,
    jobs: Vec<Job>,
    later: HashLater<'_>,
) -> (Vec<Job>, bool) {
    // Only files without any row (new to this scan cache) and not empty are offered: a file
    // with a row that no longer fits was changed, and the sync knows it.
    let offered: Vec<usize> = jobs
        .iter()
        .enumerate()
        .filter(|(_, j)| j.listed.len > 0 && !scan.hashes.contains_key(&j.rel))
        .map(|(k, _)| k)
        .collect();
    if offered.is_empty() {
        return (jobs, true);
    }
    let asked: Vec<_> = offered
        .iter()
        .map(|&k| (&jobs[k].rel, jobs[k].listed.len))
        .collect();
    let answers = later(&asked);
    drop(asked);
    let mut wait = vec![false; jobs.len()];
    for (&k, yes) in offered.iter().zip(answers) {
        wait[k] = yes;
    }
    let mut settled = true;
    let mut keep = Vec::with_capacity(jobs.len());
    for (job, wait) in jobs.into_iter().zip(wait) {
        if !wait {
            keep.push(job);
            continue;
        }
        settled &= !cache::is_racy(job.listed.mtime_ns);
        scan.unhashed += 1;
        entries.push(
            job.rel,
            LocalEntry {
                kind: EntryKind::File,
                size: job.listed.len,
                mtime_ns: job.listed.mtime_ns,
                sha256: None,
            },
        );
    }
    (keep, settled)
}
