use super::*;
use crate::hash::Digest;
use crate::plan::conflict_copy_name;

fn rel(s: &str) -> RelPath {
    RelPath::new(s).expect("valid test path")
}

fn file(path: &str, content: &[u8], device: &str) -> FileEntry {
    FileEntry {
        path: rel(path),
        kind: EntryKind::File,
        deleted: false,
        size: content.len() as u64,
        mtime_ns: 1_700_000_000_123_000_000,
        sha256: Some(Digest::of(content)),
        version: 1,
        device: device.into(),
        chunks: Default::default(),
    }
}

fn tree(entries: Vec<FileEntry>) -> BTreeMap<RelPath, FileEntry> {
    entries.into_iter().map(|e| (e.path.clone(), e)).collect()
}

fn when() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-23 10:15:00 UTC)
}

#[test]
fn every_copy_name_the_planner_makes_reads_back_as_its_original_device_and_time() {
    let names = [
        "report.txt",
        "docs/report.final.docx",
        "Makefile",
        ".bashrc",
        "a/b/c (conflict from x 2026-01-01 000000).txt", // a copy of a copy
        "notes (1).md",
        "weird) name.txt",
    ];
    for dev in ["laptop", "dev with spaces", "dev (2)", "ноутбук"] {
        for n in names {
            let path = rel(n);
            // The first name, and a numbered one when the first is taken.
            for taken_first in [false, true] {
                let first = conflict_copy_name(&path, dev, when(), |_| false);
                let copy = conflict_copy_name(&path, dev, when(), |c| taken_first && c == &first);
                let parsed = parse_copy_name(copy.file_name())
                    .unwrap_or_else(|| panic!("{copy} is recognised"));
                assert_eq!(parsed.original, path.file_name(), "{copy}: its original");
                assert_eq!(parsed.device, dev, "{copy}: the device named");
                assert_eq!(parsed.made_at, when().unix_timestamp(), "{copy}: the time");
                assert_eq!(copy.parent(), path.parent(), "beside it");
            }
        }
    }
}

#[test]
fn names_that_only_look_like_copies_are_not_read_as_copies() {
    for name in [
        "report.txt",
        "report (conflict from laptop).txt",
        "report (conflict from laptop 2026-13-01 101010).txt",
        "report (conflict from  2026-11-23 101500).txt",
        "report (conflict from laptop 2026-11-23 101500)x.txt",
        " (conflict from laptop 2026-11-23 101500).txt",
        "report (conflict from laptop 2026-11-23 101500) two.txt",
    ] {
        assert_eq!(parse_copy_name(name), None, "{name}");
    }
}

#[test]
fn case_clash_names_read_back_as_the_name_that_gave_way() {
    assert_eq!(
        parse_case_clash_name("Readme (Case Conflict).md").as_deref(),
        Some("Readme.md")
    );
    assert_eq!(
        parse_case_clash_name("Readme (Case Conflict 3).md").as_deref(),
        Some("Readme.md")
    );
    assert_eq!(
        parse_case_clash_name("Makefile (Case Conflict)").as_deref(),
        Some("Makefile")
    );
    for not in [
        "Readme.md",
        "Readme (Case Conflict x).md",
        "(Case Conflict).md",
        "Readme (Case Conflict)x.md",
    ] {
        assert_eq!(parse_case_clash_name(not), None, "{not}");
    }
}

const COPY_FROM_HERE: &str = "d/x (conflict from here 2026-11-23 101500).txt";
const COPY_FROM_THERE: &str = "d/x (conflict from there 2026-11-23 101500) 2.txt";

#[test]
fn a_copy_of_my_version_is_mine_and_a_copy_of_another_devices_version_is_theirs() {
    let base = tree(vec![
        file("d/x.txt", b"winner", "there"),
        // The copy made here when this device's edit lost: written by this device.
        file(COPY_FROM_HERE, b"my edit", "here"),
        // A copy of another device's losing edit (made there or here).
        file(COPY_FROM_THERE, b"their edit", "there"),
    ]);
    let found = find_conflicts(&base, "here", &BTreeSet::new());
    assert_eq!(found.len(), 2, "two copies, two conflicts: {found:#?}");
    let mine_copy = &found[0];
    assert_eq!(mine_copy.copy.path, rel(COPY_FROM_HERE));
    assert_eq!(mine_copy.kind, ConflictKind::Copy);
    assert_eq!(mine_copy.original.path, rel("d/x.txt"));
    assert_eq!(
        mine_copy.mine,
        Side::Copy,
        "my version lost: the copy is mine"
    );
    assert_eq!(mine_copy.theirs(), Side::Original);
    assert_eq!(mine_copy.made_at, Some(when().unix_timestamp()));
    assert_eq!(mine_copy.copy.size, 7);
    assert_eq!(mine_copy.copy.modified_at, 1_700_000_000, "seconds");
    assert_eq!(
        mine_copy.copy.sha256.as_deref(),
        Some(Digest::of(b"my edit").to_hex().as_str())
    );
    let theirs_copy = &found[1];
    assert_eq!(
        theirs_copy.mine,
        Side::Original,
        "another device's version lost: the copy is theirs, what stays at the name is mine"
    );
    // The same tree seen from the other device: the sides swap.
    let there = find_conflicts(&base, "there", &BTreeSet::new());
    assert_eq!(there[0].mine, Side::Original);
    assert_eq!(there[1].mine, Side::Copy);
}

#[test]
fn copies_without_a_live_original_settled_copies_and_folders_are_not_conflicts() {
    let mut gone = file("d/x.txt", b"winner", "there");
    gone.deleted = true;
    let mut dir = file("e (conflict from here 2026-11-23 101500)", b"", "here");
    dir.kind = EntryKind::Dir;
    let base = tree(vec![
        gone,
        file(COPY_FROM_HERE, b"my edit", "here"),
        file("e", b"file", "there"),
        dir,
        file("f/y.txt", b"y", "there"),
        file(
            "f/y (conflict from here 2026-11-23 101500).txt",
            b"y2",
            "here",
        ),
    ]);
    let kept: BTreeSet<RelPath> = [rel("f/y (conflict from here 2026-11-23 101500).txt")].into();
    assert!(
        find_conflicts(&base, "here", &kept).is_empty(),
        "original deleted, a folder copy, and a pair settled with keep both"
    );
    assert_eq!(
        find_conflicts(&base, "here", &BTreeSet::new()).len(),
        1,
        "without the settlement the pair is listed"
    );
}

#[test]
fn a_case_clash_copy_pairs_with_the_name_that_kept_it() {
    let base = tree(vec![
        file("README.md", b"upper", "here"),
        file("Readme (Case Conflict).md", b"mixed", "there"),
        file("other (Case Conflict).md", b"alone", "there"),
    ]);
    let found = find_conflicts(&base, "here", &BTreeSet::new());
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].kind, ConflictKind::CaseClash);
    assert_eq!(found[0].original.path, rel("README.md"));
    assert_eq!(found[0].copy.path, rel("Readme (Case Conflict).md"));
    assert_eq!(found[0].mine, Side::Original, "the copy came from there");
    assert_eq!(found[0].made_at, None);
}

#[test]
fn each_choice_keeps_the_right_file() {
    let base = tree(vec![
        file("d/x.txt", b"winner", "there"),
        file(COPY_FROM_HERE, b"my edit", "here"),
        file(COPY_FROM_THERE, b"their edit", "there"),
    ]);
    let found = find_conflicts(&base, "here", &BTreeSet::new());
    let (mine_is_copy, mine_is_original) = (&found[0], &found[1]);
    let trash = |c: &Conflict| Resolution::TrashCopy {
        copy: c.copy.path.clone(),
    };
    let replace = |c: &Conflict| Resolution::CopyReplacesOriginal {
        copy: c.copy.path.clone(),
        original: c.original.path.clone(),
    };
    let both = |c: &Conflict| Resolution::KeepBoth {
        copy: c.copy.path.clone(),
    };
    let table = [
        (mine_is_copy, Keep::Mine, replace(mine_is_copy)),
        (mine_is_copy, Keep::Theirs, trash(mine_is_copy)),
        (mine_is_copy, Keep::Both, both(mine_is_copy)),
        (mine_is_original, Keep::Mine, trash(mine_is_original)),
        (mine_is_original, Keep::Theirs, replace(mine_is_original)),
        (mine_is_original, Keep::Both, both(mine_is_original)),
    ];
    for (c, keep, want) in table {
        assert_eq!(resolution(c, keep), want, "{:?} keep {keep:?}", c.mine);
    }
}

#[test]
fn keep_parses_the_three_words_only() {
    assert_eq!("mine".parse::<Keep>(), Ok(Keep::Mine));
    assert_eq!("theirs".parse::<Keep>(), Ok(Keep::Theirs));
    assert_eq!("both".parse::<Keep>(), Ok(Keep::Both));
    assert!("Mine".parse::<Keep>().is_err());
}

/// The effects on a real folder: each choice keeps the right content at the right names and
/// puts the other version in the trash; a file changed since the sync is left alone.
#[test]
fn applying_a_resolution_moves_the_version_not_kept_to_the_trash() {
    for (keep, at_name, copy_left, trashed) in [
        (Keep::Mine, &b"my edit"[..], false, Some(&b"winner"[..])),
        (Keep::Theirs, &b"winner"[..], false, Some(&b"my edit"[..])),
        (Keep::Both, &b"winner"[..], true, None),
    ] {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path();
        std::fs::create_dir_all(root.join("d")).expect("mkdir");
        std::fs::write(root.join("d/x.txt"), b"winner").expect("write");
        std::fs::write(root.join(COPY_FROM_HERE), b"my edit").expect("write");
        let base = tree(vec![
            file("d/x.txt", b"winner", "there"),
            file(COPY_FROM_HERE, b"my edit", "here"),
        ]);
        let c = find_conflicts(&base, "here", &BTreeSet::new()).remove(0);
        let record = apply(root, &c, &resolution(&c, keep)).expect("applied");
        assert_eq!(
            std::fs::read(root.join("d/x.txt")).expect("the name holds a version"),
            at_name,
            "{keep:?}"
        );
        assert_eq!(root.join(COPY_FROM_HERE).exists(), copy_left, "{keep:?}");
        match (trashed, record) {
            (None, None) => {}
            (Some(content), Some(r)) => {
                let in_trash = root.join(crate::sync::TRASH_DIR).join(&r.in_trash);
                assert_eq!(std::fs::read(in_trash).expect("kept"), content, "{keep:?}");
                assert_eq!(r.reason, TrashReason::Resolved);
            }
            (want, got) => panic!("{keep:?}: trash {want:?} vs record {got:?}"),
        }
    }
}

use crate::journal::TrashReason;

#[test]
fn a_file_changed_since_the_sync_is_left_alone() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path();
    std::fs::create_dir_all(root.join("d")).expect("mkdir");
    std::fs::write(root.join("d/x.txt"), b"edited again").expect("write");
    std::fs::write(root.join(COPY_FROM_HERE), b"my edit").expect("write");
    let base = tree(vec![
        file("d/x.txt", b"winner", "there"),
        file(COPY_FROM_HERE, b"my edit", "here"),
    ]);
    let c = find_conflicts(&base, "here", &BTreeSet::new()).remove(0);
    let e = apply(root, &c, &resolution(&c, Keep::Mine)).expect_err("refused");
    assert!(
        matches!(e, ConflictError::Changed(ref p) if p == "d/x.txt"),
        "{e}"
    );
    assert_eq!(
        std::fs::read(root.join("d/x.txt")).expect("kept"),
        b"edited again"
    );
    assert!(root.join(COPY_FROM_HERE).exists(), "nothing touched");
}
