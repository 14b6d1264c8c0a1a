//! Tests of the whole scan: listing, skip rules, cache reuse and hashing together.

use super::*;
use crate::manifest::EntryKind;

fn rel(s: &str) -> RelPath {
    RelPath::new(s).expect("valid test path")
}

fn opts() -> ScanOptions {
    ScanOptions {
        chunk_size: 4,
        delta_chunk_size: 0,
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
        delta_chunk_size: 0,
        ..opts()
    };
    let fourth = scan_folder(root, &third.hashes, &other).expect("scan");
    assert_eq!(
        fourth.hashed, 2,
        "chunks cut with another size are recomputed"
    );
}

#[test]
fn a_lent_cache_gives_its_fitting_rows_to_the_scan_and_names_the_rest() {
    // Issue 15: the rows that still fit become the scan's (never held twice); the others are
    // let go and their paths named (files gone, no longer files, or hashed again), from which
    // the sync writes the changes.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    put(root, "same", b"ssss");
    put(root, "edited", b"eeee");
    put(root, "gone", b"gggg");
    put(root, "now-a-folder", b"ffff");
    let first = scan_folder(root, &HashMap::new(), &opts()).expect("scan");
    let mut fresh_first = first.fresh.clone();
    fresh_first.sort();
    assert_eq!(
        fresh_first,
        [rel("edited"), rel("gone"), rel("now-a-folder"), rel("same")],
        "every file of a first scan is hashed fresh"
    );
    put(root, "edited", b"eeeee");
    std::fs::remove_file(root.join("gone")).expect("remove");
    std::fs::remove_file(root.join("now-a-folder")).expect("remove");
    put(root, "now-a-folder/inside", b"iiii");
    put(root, "new", b"nnnn");

    // The cache as the journal gives it: its own copy of each path.
    let cache: HashMap<RelPath, CachedHash> = first
        .hashes
        .iter()
        .map(|(p, h)| (rel(p.as_str()), h.clone()))
        .collect();
    let cached_same = cache
        .get_key_value(&rel("same"))
        .map(|(k, _)| k.as_str().as_ptr())
        .expect("row");
    let (lent, left) = scan_folder_reusing(root, cache, &opts(), None).expect("scan");
    let borrowed = scan_folder(root, &first.hashes, &opts()).expect("scan");
    assert_eq!(
        lent.entries, borrowed.entries,
        "lending changes nothing seen"
    );
    assert_eq!(lent.hashes, borrowed.hashes, "lending changes no row");
    let mut fresh = lent.fresh.clone();
    fresh.sort();
    assert_eq!(
        fresh,
        [rel("edited"), rel("new"), rel("now-a-folder/inside")],
        "only these were read"
    );
    let mut left = left;
    left.sort();
    assert_eq!(
        left,
        [rel("gone"), rel("now-a-folder")],
        "the reused row of `same` stays the scan's, the edited file's fresh row takes its old \
         one's place; the rows of the deleted file and of the file that is a folder now are \
         let go"
    );
    for (p, e) in &lent.entries {
        if e.kind == EntryKind::File {
            assert!(lent.hashes.contains_key(p), "{p} has its row");
        } else {
            assert!(!lent.hashes.contains_key(p), "{p} is a folder: no row");
        }
    }
    for key in [
        lent.entries.get_key_value(&rel("same")).map(|(k, _)| k),
        lent.hashes.get_key_value(&rel("same")).map(|(k, _)| k),
    ] {
        assert_eq!(
            key.map(|k| k.as_str().as_ptr()),
            Some(cached_same),
            "a reused row keeps its path: the scan's entry and row share the cache's text"
        );
    }
    assert_ne!(
        lent.hashes[&rel("edited")],
        first.hashes[&rel("edited")],
        "the edited file's fresh row took the old one's place"
    );
}

#[test]
fn a_lent_cache_whose_every_row_is_hashed_again_is_not_grown() {
    // Issue 15: after a first sync of files written just before it every row is made never
    // to match, and the next scan hashes every file again. Rows taken out left room the
    // table could not reuse (tombstones): the fresh rows made a table for twice the files
    // (23 MB at 100,000) beside the old one. Each fresh row replaces its old one in place.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let n = 3_000;
    for i in 0..n {
        put(root, &format!("d{}/f{i}", i % 7), format!("{i}").as_bytes());
    }
    let first = scan_folder(root, &HashMap::new(), &opts()).expect("scan");
    // Every row stale (as a racy row is): each file is read again.
    let cache: HashMap<RelPath, CachedHash> = first
        .hashes
        .iter()
        .map(|(p, h)| {
            let mut h = h.clone();
            h.mtime_ns -= 1;
            (rel(p.as_str()), h)
        })
        .collect();
    let capacity = cache.capacity();
    let (again, left) = scan_folder_reusing(root, cache, &opts(), None).expect("scan");
    assert_eq!(again.hashed, n as u64, "every file hashed again");
    assert!(left.is_empty(), "each old row replaced in place: {left:?}");
    assert_eq!(again.hashes, first.hashes, "the same rows, read again");
    assert_eq!(
        again.hashes.capacity(),
        capacity,
        "{} rows in the table the cache came in",
        again.hashes.len()
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
        .add_folder(
            &crate::paths::test_abs("/synced"),
            &crate::ids::PageId::parse("1").expect("page id"),
        )
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
        delta_chunk_size: 0,
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
        delta_chunk_size: 0,
        extra_ignores: vec!["*.bak".into(), "node_modules/".into()],
    };
    let scan = scan_folder(root, &HashMap::new(), &o).expect("scan");
    assert_eq!(keys(&scan), vec!["keep"]);
    let bad = ScanOptions {
        chunk_size: 4,
        delta_chunk_size: 0,
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
                test_support::tree::grow(p);
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

#[test]
fn windows_attributes_hide_and_reparse_points_are_links() {
    use crate::fs_safe::attrs::*;
    // Every combination of the attributes that matter, and some that do not.
    let bits = [
        READONLY,
        HIDDEN,
        SYSTEM,
        DIRECTORY,
        ARCHIVE,
        NORMAL,
        REPARSE_POINT,
        OFFLINE,
        RECALL_ON_DATA_ACCESS,
    ];
    for combo in 0u32..(1 << bits.len()) {
        let a = bits
            .iter()
            .enumerate()
            .filter(|(i, _)| combo & (1 << i) != 0)
            .fold(0, |acc, (_, b)| acc | b);
        let expected = if a & REPARSE_POINT != 0 {
            // Links, junctions, mount points and cloud placeholders, hidden or not.
            Some(SkipReason::Symlink)
        } else if a & (HIDDEN | SYSTEM) != 0 {
            Some(SkipReason::Hidden)
        } else {
            None
        };
        assert_eq!(
            rules::attribute_skip_reason(a),
            expected,
            "attributes {a:#x}"
        );
    }
    // A plain OneDrive placeholder (not hidden) is still left alone.
    assert_eq!(
        rules::attribute_skip_reason(REPARSE_POINT | ARCHIVE | RECALL_ON_DATA_ACCESS),
        Some(SkipReason::Symlink)
    );
}

#[test]
fn a_file_held_by_another_program_is_unreadable_and_reported_not_dropped() {
    // The Windows sharing violation, injected (Unix has none; the Windows test below makes a
    // real one under Wine).
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    put(root, "report.docx", b"locked!");
    put(root, "notes.txt", b"free");
    let held = root.join("report.docx");
    crate::in_use::inject::hold(&held);
    let scan = scan_folder(root, &HashMap::new(), &opts());
    crate::in_use::inject::release(&held);
    let scan = scan.expect("scan");
    assert_eq!(keys(&scan), vec!["notes.txt"], "the rest is scanned");
    assert_eq!(scan.in_use, vec![rel("report.docx")]);
    assert_eq!(
        scan.unreadable,
        vec![(rel("report.docx"), crate::in_use::IN_USE_REASON.to_string())],
        "kept as unreadable (left out of the plan), not missing (a deletion)"
    );
    // Let go: read next time.
    let again = scan_folder(root, &scan.hashes, &opts()).expect("scan");
    assert_eq!(keys(&again), vec!["notes.txt", "report.docx"]);
    assert!(again.in_use.is_empty());
}

// Windows only: real attributes and a real sharing violation (Wine implements both).
#[cfg(windows)]
#[test]
fn hidden_and_system_attributes_are_hidden_on_windows() {
    use std::os::windows::fs::MetadataExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    put(root, "visible.txt", b"v");
    put(root, "hidden.txt", b"h");
    put(root, "desktop.ini", b"[.ShellClassInfo]");
    put(root, "secret/inside.txt", b"s");
    set_attributes(&root.join("hidden.txt"), crate::fs_safe::attrs::HIDDEN);
    set_attributes(
        &root.join("desktop.ini"),
        crate::fs_safe::attrs::HIDDEN | crate::fs_safe::attrs::SYSTEM,
    );
    set_attributes(&root.join("secret"), crate::fs_safe::attrs::HIDDEN);
    let m = std::fs::symlink_metadata(root.join("hidden.txt")).expect("stat");
    assert_ne!(
        m.file_attributes() & crate::fs_safe::attrs::HIDDEN,
        0,
        "the attribute was set"
    );
    let scan = scan_folder(root, &HashMap::new(), &opts()).expect("scan");
    assert_eq!(keys(&scan), vec!["visible.txt"]);
    let r = reasons(&scan, root);
    assert!(
        r.contains(&("hidden.txt".into(), SkipReason::Hidden)),
        "{r:?}"
    );
    assert!(
        r.contains(&("desktop.ini".into(), SkipReason::Hidden)),
        "{r:?}"
    );
    assert!(r.contains(&("secret".into(), SkipReason::Hidden)), "{r:?}");
    assert_eq!(
        scan.excluded,
        vec![rel("desktop.ini"), rel("hidden.txt"), rel("secret")],
        "left out of the plan on every side, as dot-files are"
    );
}

#[cfg(windows)]
fn set_attributes(path: &Path, attributes: u32) {
    use std::os::windows::ffi::OsStrExt;
    let wide: Vec<u16> = path
        .as_os_str()
        .encode_wide()
        .chain(std::iter::once(0))
        .collect();
    // SAFETY: a NUL-terminated wide path that outlives the call.
    let ok = unsafe {
        windows_sys::Win32::Storage::FileSystem::SetFileAttributesW(wide.as_ptr(), attributes)
    };
    assert_ne!(ok, 0, "SetFileAttributesW {}", path.display());
}

#[cfg(windows)]
#[test]
fn a_file_open_without_sharing_is_in_use_not_deleted_on_windows() {
    use std::os::windows::fs::OpenOptionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    put(root, "report.docx", b"locked!");
    put(root, "notes.txt", b"free");
    // What Office does with an open document: no sharing at all.
    let office = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .share_mode(0)
        .open(root.join("report.docx"))
        .expect("open without sharing");
    let scan = scan_folder(root, &HashMap::new(), &opts()).expect("scan");
    assert_eq!(keys(&scan), vec!["notes.txt"], "the rest is scanned");
    assert_eq!(
        scan.in_use,
        vec![rel("report.docx")],
        "{:?}",
        scan.unreadable
    );
    assert_eq!(
        scan.unreadable.len(),
        1,
        "kept out of the plan, not deleted"
    );
    // Replacing it fails the same way, classified.
    std::fs::write(root.join("new.tmp"), b"x").expect("write");
    let err = crate::fs_safe::rename(root, &rel("new.tmp"), &rel("report.docx"))
        .expect_err("replacing a file held open fails");
    assert!(crate::in_use::is_in_use(&err), "{err:?}");
    drop(office);
    let again = scan_folder(root, &HashMap::new(), &opts()).expect("scan");
    assert!(again.entries.contains_key(&rel("report.docx")));
    assert!(again.in_use.is_empty());
}

#[test]
fn new_files_the_sync_lets_wait_are_listed_unhashed_and_the_others_hashed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    put(root, "kept", b"kept");
    put(root, "edited", b"v1");
    let first = scan_folder(root, &HashMap::new(), &opts()).expect("scan");
    put(root, "edited", b"v2 longer");
    put(root, "new/wait", b"waits");
    put(root, "new/hash", b"hashed");
    put(root, "empty", b"");
    let asked = std::sync::Mutex::new(Vec::new());
    let later = |new: &[(&RelPath, u64)]| {
        let mut asked = asked.lock().expect("lock");
        asked.extend(new.iter().map(|(p, size)| (p.as_str().to_string(), *size)));
        new.iter().map(|(p, _)| p.as_str() == "new/wait").collect()
    };
    let (scan, _) =
        scan_folder_reusing(root, first.hashes.clone(), &opts(), Some(&later)).expect("scan");
    let mut asked = asked.into_inner().expect("lock");
    asked.sort();
    // Only files without a row are offered (an edited file has one), empty ones are not.
    assert_eq!(
        asked,
        vec![("new/hash".to_string(), 6), ("new/wait".to_string(), 5)]
    );
    let waiting = &scan.entries[&rel("new/wait")];
    assert_eq!(
        (waiting.kind, waiting.size, waiting.sha256),
        (EntryKind::File, 5, None)
    );
    assert!(
        !scan.hashes.contains_key(&rel("new/wait")),
        "no row until it is sent"
    );
    assert_eq!(scan.unhashed, 1);
    assert_eq!(scan.hashed, 3, "edited, new/hash and the empty file");
    assert!(scan.entries[&rel("new/hash")].sha256.is_some());
    assert!(
        scan.listing.is_some(),
        "files in the past: the listing describes the scan"
    );

    // A file left unhashed that was modified just now: the listing does not describe the
    // scan (its row, made once it is sent, never matches).
    std::fs::write(root.join("new/now"), b"just now").expect("write");
    let (scan, _) = scan_folder_reusing(
        root,
        scan.hashes,
        &opts(),
        Some(&|new: &[(&RelPath, u64)]| vec![true; new.len()]),
    )
    .expect("scan");
    assert_eq!(scan.unhashed, 2, "new/wait and new/now");
    assert!(scan.listing.is_none());
}
