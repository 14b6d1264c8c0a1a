//! Which new files the scan may leave unhashed (`scan::HashLater`): a file the upload sends
//! whole in a pack, hashing the bytes it sends, need not be read and hashed by the scan first
//! — as long as nothing the plan decides depends on its hash. The plan compares a local
//! file's hash only with entries of the base and the page: at its own path (unchanged? the
//! same content added on both sides?) and, for a conflict copy, with a remote file whose copy
//! it may be. So a file may wait when
//! - the upload can hash it (`takes`, by its size: a file sent whole in a pack, a big one cut
//!   by content and packed as it is read);
//! - neither the base nor the page has an entry at its path, or below it (a folder there),
//!   nor a file, a deletion or a folder the page no longer holds at a folder above it (a type
//!   change or a deleted folder, where the plan may move it aside) — all compared as this
//!   disk compares names;
//! - no file of the base or the page has its size: then no hash there can equal its own,
//!   whatever the plan compares it with, and no chunk on the page can be its content (its
//!   upload would find nothing to re-use).
//!
//! Pure: the base, the page's tree and the candidates in, a yes or no for each out. Cost: one
//! pass over the base and the page, only when some file is new; memory in proportion to the
//! new files, not to the folder (issue 15).

use std::collections::{BTreeMap, HashSet};
use std::hash::BuildHasher;

use crate::manifest::{EntryKind, FileEntry};
use crate::name_rules::NameRules;
use crate::rel_path::{folders_above, RelPath};

/// For each candidate (a new file's path and size), whether it may be left unhashed; see the
/// module's rules. `base` holds live entries, `remote` the page's (deletions too).
pub(crate) fn may_wait(
    base: &BTreeMap<RelPath, FileEntry>,
    remote: &BTreeMap<RelPath, FileEntry>,
    names: NameRules,
    takes: impl Fn(u64) -> bool,
    candidates: &[(&RelPath, u64)],
) -> Vec<bool> {
    let mut ok: Vec<bool> = candidates
        .iter()
        .map(|&(_, size)| size > 0 && takes(size))
        .collect();
    if base.is_empty() && remote.is_empty() {
        return ok;
    }
    let state = std::hash::RandomState::new();
    let hash = |key: &str| state.hash_one(key);
    // Keyed hashes of each candidate's name as this disk compares names, and of each folder
    // above it; sorted, to be found by binary search. Two names with one hash only make a
    // file hashed that could have waited.
    let mut own: Vec<(u64, usize)> = Vec::new();
    let mut above: Vec<(u64, usize)> = Vec::new();
    let mut sizes: HashSet<u64> = HashSet::new();
    for (i, &(path, size)) in candidates.iter().enumerate() {
        if !ok[i] {
            continue;
        }
        let key = names.key(path.as_str());
        own.push((hash(&key), i));
        above.extend(folders_above(&key).map(|a| (hash(a), i)));
        sizes.insert(size);
    }
    own.sort_unstable();
    above.sort_unstable();
    let mark = |list: &[(u64, usize)], h: u64, ok: &mut [bool]| {
        let from = list.partition_point(|&(x, _)| x < h);
        for &(_, i) in list[from..].iter().take_while(|&&(x, _)| x == h) {
            ok[i] = false;
        }
    };
    let mut taken_sizes: HashSet<u64> = HashSet::new();
    let entries = base
        .iter()
        .map(|(p, e)| (p, e, true))
        .chain(remote.iter().map(|(p, e)| (p, e, false)));
    for (path, e, in_base) in entries {
        if e.kind == EntryKind::File && sizes.contains(&e.size) {
            taken_sizes.insert(e.size);
        }
        let key = names.key(path.as_str());
        let h = hash(&key);
        // An entry at the candidate's own name.
        mark(&own, h, &mut ok);
        // An entry below it: the candidate's name is a folder on that side.
        for a in folders_above(&key) {
            mark(&own, hash(a), &mut ok);
        }
        // A folder above the candidate that is a file, a deletion, or a folder the page no
        // longer holds on that side.
        let blocks = match in_base {
            true => {
                e.kind == EntryKind::File
                    || !remote
                        .get(path)
                        .is_some_and(|r| !r.deleted && r.kind == EntryKind::Dir)
            }
            false => e.deleted || e.kind == EntryKind::File,
        };
        if blocks {
            mark(&above, h, &mut ok);
        }
    }
    for (i, &(_, size)) in candidates.iter().enumerate() {
        if taken_sizes.contains(&size) {
            ok[i] = false;
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Digest;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).expect("path")
    }

    fn file(path: &str, size: u64) -> (RelPath, FileEntry) {
        (
            p(path),
            FileEntry {
                path: p(path),
                kind: EntryKind::File,
                deleted: false,
                size,
                mtime_ns: 0,
                sha256: Some(Digest::of(path.as_bytes())),
                version: 1,
                device: "other".into(),
                chunks: Default::default(),
            },
        )
    }

    fn dir(path: &str) -> (RelPath, FileEntry) {
        let (k, mut e) = file(path, 0);
        e.kind = EntryKind::Dir;
        e.sha256 = None;
        (k, e)
    }

    fn deleted(mut entry: (RelPath, FileEntry)) -> (RelPath, FileEntry) {
        entry.1.deleted = true;
        entry
    }

    const SENSITIVE: NameRules = NameRules {
        case_insensitive: false,
        normalization_insensitive: false,
        windows_reserved: false,
    };

    const FOLDING: NameRules = NameRules {
        case_insensitive: true,
        normalization_insensitive: false,
        windows_reserved: false,
    };

    /// The answer for one new file `path` of `size` bytes (at most 100 sent whole).
    fn waits(
        base: &[(RelPath, FileEntry)],
        remote: &[(RelPath, FileEntry)],
        names: NameRules,
        path: &str,
        size: u64,
    ) -> bool {
        let base: BTreeMap<_, _> = base.iter().cloned().collect();
        let remote: BTreeMap<_, _> = remote.iter().cloned().collect();
        let path = p(path);
        may_wait(&base, &remote, names, |s| s <= 100, &[(&path, size)])[0]
    }

    #[test]
    fn a_new_file_no_other_side_knows_of_waits_for_its_upload() {
        assert!(waits(&[], &[], SENSITIVE, "a.txt", 10));
        let synced = [dir("docs"), file("docs/old.txt", 7)];
        assert!(waits(&synced, &synced, SENSITIVE, "docs/new.txt", 10));
        assert!(waits(&synced, &synced, FOLDING, "Docs/new.txt", 10));
    }

    #[test]
    fn empty_files_and_those_the_upload_cannot_hash_are_hashed_by_the_scan() {
        assert!(!waits(&[], &[], SENSITIVE, "empty", 0));
        assert!(!waits(&[], &[], SENSITIVE, "big", 101));
        assert!(waits(&[], &[], SENSITIVE, "just", 100));
        // The upload says which sizes it hashes: small ones and big ones, say, not between.
        let new = [p("small"), p("middle"), p("big"), p("empty")];
        let asked: Vec<(&RelPath, u64)> = new.iter().zip([10, 500, 5_000, 0]).collect();
        let takes = |size: u64| size <= 100 || size > 1_000;
        let got = may_wait(&BTreeMap::new(), &BTreeMap::new(), SENSITIVE, takes, &asked);
        assert_eq!(got, vec![true, false, true, false]);
        let synced: BTreeMap<_, _> = [dir("d")].into_iter().collect();
        let got = may_wait(&synced, &synced, SENSITIVE, takes, &asked);
        assert_eq!(
            got,
            vec![true, false, true, false],
            "with a base and a page too"
        );
    }

    #[test]
    fn an_entry_at_its_path_on_either_side_needs_its_hash() {
        // Added on both sides (the same content is no conflict), or a deletion there.
        assert!(!waits(&[], &[file("a.txt", 7)], SENSITIVE, "a.txt", 10));
        assert!(!waits(
            &[],
            &[deleted(file("a.txt", 7))],
            SENSITIVE,
            "a.txt",
            10
        ));
        assert!(!waits(&[file("a.txt", 7)], &[], SENSITIVE, "a.txt", 10));
        assert!(!waits(&[], &[dir("a.txt")], SENSITIVE, "a.txt", 10));
        // The same name as this disk sees it.
        assert!(!waits(&[], &[file("A.TXT", 7)], FOLDING, "a.txt", 10));
        assert!(waits(&[], &[file("A.TXT", 7)], SENSITIVE, "a.txt", 10));
    }

    #[test]
    fn something_below_its_path_on_either_side_needs_its_hash() {
        assert!(!waits(&[], &[file("a/b/c", 7)], SENSITIVE, "a", 10));
        assert!(!waits(&[file("a/b", 7)], &[], SENSITIVE, "a", 10));
        assert!(!waits(&[], &[file("A/b", 7)], FOLDING, "a", 10));
        // A name that only starts like it is something else.
        assert!(waits(&[], &[file("ab/c", 7)], SENSITIVE, "a", 10));
    }

    #[test]
    fn a_file_deletion_or_vanished_folder_above_it_needs_its_hash() {
        // The page holds a file where this device has a folder (a type change).
        assert!(!waits(&[], &[file("a", 7)], SENSITIVE, "a/new", 10));
        assert!(!waits(&[file("a", 7)], &[], SENSITIVE, "a/b/new", 10));
        // The folder was deleted on the page: the plan may keep the new file aside.
        assert!(!waits(
            &[dir("a")],
            &[deleted(dir("a"))],
            SENSITIVE,
            "a/new",
            10
        ));
        // Or is gone from it altogether.
        assert!(!waits(&[dir("a")], &[], SENSITIVE, "a/new", 10));
        assert!(!waits(&[], &[file("A", 7)], FOLDING, "a/new", 10));
        // A folder both sides hold is the usual place of a new file.
        assert!(waits(&[dir("a")], &[dir("a")], SENSITIVE, "a/new", 10));
    }

    #[test]
    fn a_file_of_the_same_size_on_either_side_needs_its_hash() {
        // It may be a copy of it (re-used, not sent) or the copy a conflict left.
        assert!(!waits(&[], &[file("x/other", 10)], SENSITIVE, "new", 10));
        assert!(!waits(&[file("x/other", 10)], &[], SENSITIVE, "new", 10));
        assert!(!waits(
            &[],
            &[deleted(file("x/other", 10))],
            SENSITIVE,
            "new",
            10
        ));
        assert!(waits(&[], &[file("x/other", 11)], SENSITIVE, "new", 10));
    }

    #[test]
    fn each_candidate_gets_its_own_answer() {
        let remote: BTreeMap<_, _> = [file("taken", 5), dir("d")].into_iter().collect();
        let (a, b, c, d) = (p("taken"), p("free"), p("d/x"), p("sized"));
        let got = may_wait(
            &BTreeMap::new(),
            &remote,
            SENSITIVE,
            |s| s <= 100,
            &[(&a, 1), (&b, 2), (&c, 3), (&d, 5)],
        );
        assert_eq!(got, vec![false, true, true, false]);
    }
}
