//! The narrow path (issue 15): a sync after a clean one plans over the few paths that changed
//! since, with the base, the remote tree and the scan cache read for those paths only. One
//! test per cross-path rule the planner applies — a move, a folder replaced by a file, a
//! folder deleted with its contents (on either side), an ignored file, an excluded folder —
//! each checking that the sync planned narrowly and that its result is right; and one test per
//! reason to plan in full instead. Every narrow plan is also checked against the full path's
//! plan of the same state (`util::Device` turns the check on).

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use tunnel_core::events::SyncSummary;
use tunnel_core::name_rules::NameRules;
use tunnel_core::rel_path::RelPath;
use tunnel_core::remote::memory::{MemOp, MemoryStore};
use tunnel_core::remote::RemoteStore;
use tunnel_core::sync::{NarrowFallback, NarrowTries};

use crate::util::{noise, runtime, settings, Device};

/// Write `rel` with a modification time a minute ago (the scan cache vouches for it at once,
/// so a sync can leave a clean mark).
fn write_old(d: &Device, rel: &str, bytes: &[u8]) {
    d.write(rel, bytes);
    let past = SystemTime::now() - Duration::from_secs(60);
    std::fs::OpenOptions::new()
        .write(true)
        .open(d.path(rel))
        .expect("open")
        .set_modified(past)
        .expect("backdate");
}

fn narrow(d: &Device) -> NarrowTries {
    d.syncer.narrow_tries_for_tests()
}

fn moved(s: &SyncSummary) -> (u64, u64, u64, u64, u64) {
    (
        s.uploaded,
        s.downloaded,
        s.deleted_local,
        s.deleted_remote,
        s.conflicts,
    )
}

/// Sync `d` until it is answered from its clean mark (at most four syncs).
async fn until_clean(d: &Device, store: &dyn RemoteStore) {
    for _ in 0..4 {
        let before = d.syncer.no_change_tries_for_tests().answered;
        d.sync(store).await.expect("sync");
        if d.syncer.no_change_tries_for_tests().answered > before {
            return;
        }
    }
    panic!("{} never reached a clean mark", d.id);
}

/// A device with a few old files in folders, synced to a clean mark.
async fn settled_with(id: &str, store: &MemoryStore, d: Device) -> Device {
    let _ = id;
    for (rel, body) in [
        ("a.txt", "first"),
        ("docs/b.txt", "second"),
        ("docs/deep/c.txt", "third"),
        ("docs/deep/d.txt", "fourth"),
        ("photos/e.jpg", "fifth"),
    ] {
        write_old(&d, rel, body.as_bytes());
    }
    until_clean(&d, store).await;
    d
}

async fn settled(id: &str, store: &MemoryStore) -> Device {
    settled_with(id, store, Device::new(id)).await
}

/// A second device that received everything, at a clean mark.
async fn joined(id: &str, store: &MemoryStore) -> Device {
    let d = Device::new(id);
    until_clean(&d, store).await;
    d
}

/// One sync of `d` that must plan narrowly; returns its summary.
async fn planned_narrowly(d: &Device, store: &dyn RemoteStore) -> SyncSummary {
    let before = narrow(d);
    let s = d.sync(store).await.expect("sync");
    let after = narrow(d);
    assert_eq!(
        (after.tried, after.planned, &after.fallbacks),
        (before.tried + 1, before.planned + 1, &before.fallbacks),
        "{}: the sync must plan narrowly",
        d.id
    );
    s
}

/// One sync of `d` that must try the narrow path and fall back for `why`.
async fn fell_back(d: &Device, store: &dyn RemoteStore, why: NarrowFallback) -> SyncSummary {
    let before = narrow(d);
    let s = d.sync(store).await.expect("sync");
    let after = narrow(d);
    assert_eq!(after.planned, before.planned, "{}: planned narrowly", d.id);
    assert_eq!(
        after.fallbacks.get(before.fallbacks.len()),
        Some(&why),
        "{}: {:?}",
        d.id,
        after
    );
    s
}

#[test]
#[cfg_attr(
    windows,
    ignore = "a new name arriving on a disk that folds case plans in full (as a_new_name_on_a_disk_that_folds_case_plans_in_full shows with case-folding rules)"
)]
fn one_edit_here_and_one_on_the_page_are_planned_narrowly() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        let b = joined("dev-b", &store).await;
        write_old(&a, "docs/deep/c.txt", b"third, edited");
        let s = planned_narrowly(&a, &store).await;
        assert_eq!(moved(&s), (1, 0, 0, 0, 0), "{s:?}");
        let s = planned_narrowly(&b, &store).await;
        assert_eq!(moved(&s), (0, 1, 0, 0, 0), "{s:?}");
        assert_eq!(a.tree(), b.tree());
        // A sync that moved something leaves no mark: the next one plans in full (and
        // leaves one). Then a new file in a new folder, both ways.
        until_clean(&a, &store).await;
        until_clean(&b, &store).await;
        write_old(&b, "new/inner/f.txt", b"new here");
        let s = planned_narrowly(&b, &store).await;
        assert_eq!(s.uploaded, 3, "two folders and a file: {s:?}");
        planned_narrowly(&a, &store).await;
        assert_eq!(a.tree(), b.tree());
    });
}

#[test]
#[cfg_attr(
    windows,
    ignore = "a new name arriving on a disk that folds case plans in full (as a_new_name_on_a_disk_that_folds_case_plans_in_full shows with case-folding rules)"
)]
fn a_move_is_planned_narrowly_and_sends_no_content_again() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        let b = joined("dev-b", &store).await;
        let blobs = store.blob_names().len();
        std::fs::create_dir_all(a.path("archive")).expect("mkdir");
        std::fs::rename(a.path("docs/deep/c.txt"), a.path("archive/c.txt")).expect("move");
        let s = planned_narrowly(&a, &store).await;
        assert_eq!(
            moved(&s),
            (2, 0, 0, 1, 0),
            "the folder, the file, a tombstone: {s:?}"
        );
        assert_eq!(
            store.blob_names().len(),
            blobs + 1,
            "only the delta of the file list is new: the content is found under its old name"
        );
        let s = planned_narrowly(&b, &store).await;
        assert_eq!((s.downloaded, s.deleted_local), (2, 1), "{s:?}");
        assert_eq!(a.tree(), b.tree());
    });
}

#[test]
fn a_copy_of_a_file_from_another_device_is_planned_narrowly_and_sends_no_content_again() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        let talk = noise(3 << 19, 7);
        write_old(&a, "videos/talk.bin", &talk);
        until_clean(&a, &store).await;
        let b = joined("dev-b", &store).await;
        // b copies the file a sent: the narrow tree holds only the copy's path, the page
        // holds every chunk of it under the original's.
        let puts = || store.request_count(MemOp::PutBlob);
        let before = puts();
        write_old(&b, "videos/talk (copy).bin", &talk);
        let s = planned_narrowly(&b, &store).await;
        assert_eq!(moved(&s), (1, 0, 0, 0, 0), "{s:?}");
        assert_eq!(narrow(&b).found_outside, 1);
        assert_eq!(
            puts() - before,
            1,
            "only the delta of the file list is sent: the content is found under the original"
        );
        // An edited copy (bytes inserted in the middle) sends a few chunks, not the file.
        until_clean(&b, &store).await;
        let mut edited = talk.clone();
        edited.splice(700_000..700_000, noise(1000, 9));
        write_old(&b, "videos/talk (edited).bin", &edited);
        let before = puts();
        planned_narrowly(&b, &store).await;
        let sent = puts() - before;
        assert!(
            sent <= 4,
            "the delta and the chunks around the insertion, not {sent} blobs"
        );
        // The other device receives both (narrowly where its disk compares names exactly: on
        // a disk that folds case new names arriving plan in full).
        let s = a.sync(&store).await.expect("sync");
        assert_eq!(s.downloaded, 2, "{s:?}");
        let got = a.tree();
        assert_eq!(got.get("videos/talk (copy).bin"), Some(&talk));
        assert_eq!(got.get("videos/talk (edited).bin"), Some(&edited));
        assert_eq!(a.tree(), b.tree());
    });
}

#[test]
fn a_folder_replaced_by_a_file_is_planned_narrowly() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        let b = joined("dev-b", &store).await;
        std::fs::remove_dir_all(a.path("docs/deep")).expect("rm");
        write_old(&a, "docs/deep", b"a file now");
        let s = planned_narrowly(&a, &store).await;
        assert_eq!(s.uploaded, 1, "{s:?}");
        assert_eq!(s.deleted_remote, 2, "the two files inside: {s:?}");
        planned_narrowly(&b, &store).await;
        assert_eq!(a.tree(), b.tree());
        assert!(b.path("docs/deep").is_file());
    });
}

#[test]
fn a_folder_deleted_with_its_contents_is_planned_narrowly_on_both_sides() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        let b = joined("dev-b", &store).await;
        std::fs::remove_dir_all(a.path("docs")).expect("rm");
        let s = planned_narrowly(&a, &store).await;
        assert_eq!(s.deleted_remote, 5, "two folders, three files: {s:?}");
        let s = planned_narrowly(&b, &store).await;
        assert!(s.deleted_local >= 3, "{s:?}");
        assert!(!b.path("docs").exists());
        assert_eq!(a.tree(), b.tree());
    });
}

#[test]
fn a_folder_deleted_on_the_page_keeps_what_was_added_inside_here() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        let b = joined("dev-b", &store).await;
        std::fs::remove_dir_all(a.path("docs/deep")).expect("rm");
        planned_narrowly(&a, &store).await;
        // Meanwhile b added a file in the folder a deleted: it survives, with its folder.
        write_old(&b, "docs/deep/new.txt", b"added on b");
        let s = planned_narrowly(&b, &store).await;
        assert!(b.path("docs/deep/new.txt").is_file(), "{s:?}");
        until_clean(&b, &store).await;
        a.sync(&store).await.expect("a");
        assert_eq!(a.tree(), b.tree());
    });
}

#[test]
fn an_ignored_file_added_is_planned_narrowly_and_sends_nothing() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        let blobs = store.blob_names().len();
        write_old(&a, "docs/notes.tmp", b"temporary");
        write_old(&a, "docs/.hidden", b"hidden");
        let s = planned_narrowly(&a, &store).await;
        assert_eq!(moved(&s), (0, 0, 0, 0, 0), "{s:?}");
        assert_eq!(store.blob_names().len(), blobs);
        // That sync was clean: the next one is answered from its mark.
        let before = a.syncer.no_change_tries_for_tests().answered;
        a.sync(&store).await.expect("sync");
        assert_eq!(a.syncer.no_change_tries_for_tests().answered, before + 1);
    });
}

#[test]
fn a_change_in_an_excluded_folder_is_planned_narrowly_and_not_downloaded() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        let b = joined("dev-b", &store).await;
        let set: BTreeSet<RelPath> = [RelPath::new("photos").expect("path")].into();
        let (journal, id) = (b.syncer.journal(), b.folder);
        journal
            .lock()
            .expect("journal")
            .set_excluded_paths(id, &set)
            .expect("exclude");
        until_clean(&b, &store).await;
        assert!(!b.path("photos/e.jpg").exists(), "evicted");
        write_old(&a, "photos/f.jpg", b"new photo");
        write_old(&a, "a.txt", b"first, edited");
        planned_narrowly(&a, &store).await;
        let s = planned_narrowly(&b, &store).await;
        assert_eq!(s.downloaded, 1, "a.txt only: {s:?}");
        assert!(!b.path("photos").exists());
    });
}

#[test]
fn a_conflict_plans_in_full() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        let b = joined("dev-b", &store).await;
        write_old(&a, "a.txt", b"a's version");
        planned_narrowly(&a, &store).await;
        write_old(&b, "a.txt", b"b's version");
        let s = fell_back(&b, &store, NarrowFallback::Conflict).await;
        assert_eq!(s.conflicts, 1, "{s:?}");
    });
}

#[test]
fn a_changed_ignore_file_plans_in_full() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        tunnel_core::ignore_rules::save_folder_rules(&a.root, "*.jpg\n").expect("rules");
        fell_back(&a, &store, NarrowFallback::IgnoreRules).await;
    });
}

#[test]
fn names_not_synced_here_plan_in_full() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        let mut s = settings();
        s.ignore = vec!["*.log".into()];
        let b = Device::with_settings("dev-b", s);
        until_clean(&b, &store).await;
        write_old(&a, "x.log", b"a log");
        planned_narrowly(&a, &store).await;
        let s = fell_back(&b, &store, NarrowFallback::ForeignNames).await;
        assert_eq!(s.skipped_remote, 1, "{s:?}");
        until_clean(&b, &store).await;
        // The mark holds a name not synced here: every later change plans in full.
        write_old(&a, "a.txt", b"edited");
        a.sync(&store).await.expect("a");
        fell_back(&b, &store, NarrowFallback::ForeignNames).await;
    });
}

#[test]
#[cfg_attr(
    windows,
    ignore = "the writer device must store two names that differ in case"
)]
fn a_new_name_on_a_disk_that_folds_case_plans_in_full() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        let mut b = Device::new("dev-b");
        b.syncer = b.syncer.clone().with_name_rules_for_tests(NameRules {
            case_insensitive: true,
            ..NameRules::EXACT
        });
        until_clean(&b, &store).await;
        // An edit of a known name is narrow; a new name may clash with any name here.
        write_old(&a, "a.txt", b"edited");
        a.sync(&store).await.expect("a");
        planned_narrowly(&b, &store).await;
        until_clean(&b, &store).await;
        write_old(&a, "A.TXT", b"same name on b's disk");
        a.sync(&store).await.expect("a");
        let s = fell_back(&b, &store, NarrowFallback::CaseFolding).await;
        assert_eq!(s.case_renamed, 1, "{s:?}");
    });
}

#[test]
fn many_deletions_plan_in_full_where_the_guard_counts_the_base() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let mut s = settings();
        s.max_delete_min_files = 1;
        s.max_delete_share = 0.5;
        let a = settled_with("dev-a", &store, Device::with_settings("dev-a", s.clone())).await;
        // Two of five files: above the guard's minimum, below its share.
        std::fs::remove_file(a.path("docs/deep/c.txt")).expect("rm");
        std::fs::remove_file(a.path("docs/deep/d.txt")).expect("rm");
        let s = fell_back(&a, &store, NarrowFallback::Deletions).await;
        assert_eq!(s.deleted_remote, 2, "{s:?}");
    });
}

#[test]
fn too_many_changes_plan_in_full() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        for i in 0..1001 {
            write_old(&a, &format!("many/{i:04}.txt"), format!("{i}").as_bytes());
        }
        let s = fell_back(&a, &store, NarrowFallback::TooMany).await;
        assert_eq!(s.uploaded, 1002, "{s:?}");
    });
}

#[test]
fn a_compacted_page_plans_in_full() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        let b = joined("dev-b", &store).await;
        // b writes until the page's file list is compacted into a new snapshot: a's cache
        // is behind the snapshot, and a reads the page in full.
        let snapshot_of = |store: &MemoryStore| {
            store
                .head()
                .and_then(|h| h.value.get("snapshot").and_then(|s| s.get("seq")).cloned())
        };
        let first = snapshot_of(&store);
        let mut i = 0;
        while snapshot_of(&store) == first {
            write_old(&b, "a.txt", format!("edit {i}").as_bytes());
            b.sync(&store).await.expect("b");
            i += 1;
            assert!(i < 200, "never compacted");
        }
        let s = fell_back(&a, &store, NarrowFallback::Remote).await;
        assert_eq!(s.downloaded, 1, "{s:?}");
        assert_eq!(a.tree(), b.tree());
    });
}

/// A delta that puts an entry below a live file, or turns a folder with live entries into a
/// file, is refused by the full path (the tree's rule: a live file is nobody's parent). The
/// narrow tree holds what is above and below every changed path, so the narrow path finds
/// the same fault and leaves the sync to the full path, which refuses it.
#[test]
fn a_delta_breaking_the_tree_is_refused_as_the_full_path_refuses_it() {
    use crate::hostile::{append_delta, delta_doc, file_entry};
    runtime().block_on(async {
        // Below a live file: the file is above the changed path.
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        let child = file_entry(&store, "a.txt/child.txt", b"child").await;
        let doc = delta_doc(&store, vec![child]);
        append_delta(&store, doc).await;
        let before = narrow(&a);
        let err = a.sync(&store).await.expect_err("refused");
        assert!(err.to_string().contains("parent"), "{err}");
        assert_eq!(
            narrow(&a).fallbacks[before.fallbacks.len()..],
            [NarrowFallback::Remote]
        );
        // A folder turned into a file without its contents' tombstones: they are below.
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        let docs = file_entry(&store, "docs/deep", b"now a file").await;
        let doc = delta_doc(&store, vec![docs]);
        append_delta(&store, doc).await;
        let before = narrow(&a);
        let err = a.sync(&store).await.expect_err("refused");
        assert!(err.to_string().contains("parent"), "{err}");
        assert_eq!(
            narrow(&a).fallbacks[before.fallbacks.len()..],
            [NarrowFallback::Remote]
        );
        assert_eq!(a.tree().len(), 5, "nothing changed here");
    });
}
