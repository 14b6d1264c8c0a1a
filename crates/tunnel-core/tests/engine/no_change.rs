//! The no-change path (issue 15): a sync after a clean one answers "nothing to do" from the
//! folder's clean mark, without a plan, only while nothing that shapes a plan changed. One
//! test per reason to plan in full again — a file touched without a change of content, an
//! ignored file added, an ignore rule changed, a setting changed, a subtree excluded, a
//! download that failed, a change on the page, the folder's root gone — each checking that
//! the sync took the full path and that its result is right. Every answer of the no-change
//! path is also checked against the full path's plan (`util::Device` turns the check on).

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use tunnel_core::error::SyncError;
use tunnel_core::events::SyncSummary;
use tunnel_core::rel_path::RelPath;
use tunnel_core::remote::memory::MemoryStore;
use tunnel_core::remote::{RemoteError, RemoteStore};
use tunnel_core::sync::{NoChangeTries, Syncer};

use crate::util::{runtime, settings, Device, Hooked, Intercept};

/// Write `rel` with a modification time a minute ago: the scan cache vouches for it from
/// the first hash on (a file modified just before it is hashed is read again next time, and
/// leaves no clean mark).
fn write_old(d: &Device, rel: &str, bytes: &[u8]) {
    d.write(rel, bytes);
    set_old(d, rel);
}

fn set_old(d: &Device, rel: &str) {
    let past = SystemTime::now() - Duration::from_secs(60);
    std::fs::OpenOptions::new()
        .write(true)
        .open(d.path(rel))
        .expect("open")
        .set_modified(past)
        .expect("backdate");
}

fn tries(d: &Device) -> NoChangeTries {
    d.syncer.no_change_tries_for_tests()
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

/// Sync `d` until a sync is answered by the no-change path (at most three syncs: the one that
/// moves things, the clean one that leaves the mark, the answered one).
async fn until_answered(d: &Device, store: &dyn RemoteStore) {
    for _ in 0..3 {
        let before = tries(d).answered;
        d.sync(store).await.expect("sync");
        if tries(d).answered > before {
            return;
        }
    }
    panic!(
        "{} never answered from its clean mark: {:?}",
        d.id,
        tries(d)
    );
}

/// One sync of `d` that must find the clean mark, not answer from it, and plan in full.
async fn planned_in_full(d: &Device, store: &dyn RemoteStore) -> SyncSummary {
    let before = tries(d);
    let s = d.sync(store).await.expect("sync");
    let after = tries(d);
    assert_eq!(
        (after.with_mark, after.answered),
        (before.with_mark + 1, before.answered),
        "{}: the sync must compare with the mark and plan in full",
        d.id
    );
    s
}

/// A device with two old files and a subfolder, synced to a clean mark.
async fn settled(id: &str, store: &MemoryStore) -> Device {
    let d = Device::new(id);
    write_old(&d, "a.txt", b"first file");
    write_old(&d, "docs/b.txt", b"second file");
    until_answered(&d, store).await;
    d
}

#[test]
fn a_clean_folder_is_answered_without_a_plan_and_keeps_its_report() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        let before = tries(&a);
        let s = a.sync(&store).await.expect("sync");
        assert_eq!(tries(&a).answered, before.answered + 1);
        assert_eq!(s, SyncSummary::default(), "nothing moved, nothing skipped");
        assert_eq!(a.tree().len(), 2);
    });
}

#[test]
fn a_file_touched_without_a_change_is_planned_in_full_and_sends_nothing() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        // A new modification time, the same bytes.
        let past = SystemTime::now() - Duration::from_secs(30);
        std::fs::OpenOptions::new()
            .write(true)
            .open(a.path("a.txt"))
            .expect("open")
            .set_modified(past)
            .expect("touch");
        let s = planned_in_full(&a, &store).await;
        assert_eq!(moved(&s), (0, 0, 0, 0, 0), "same content: {s:?}");
        // The full sync found it clean again and left a new mark.
        until_answered(&a, &store).await;
    });
}

#[test]
fn an_edit_that_keeps_size_and_time_is_seen_after_its_racy_hash() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        let b = settled("dev-b", &store).await;
        // The same bytes written again now: hashed while its time is too recent to vouch for
        // it; nothing to send, and no mark left.
        a.write("a.txt", b"first file");
        let s = planned_in_full(&a, &store).await;
        assert_eq!(moved(&s), (0, 0, 0, 0, 0), "{s:?}");
        // Other bytes of the same size with the same modification time (an edit within the
        // file system's timestamp granularity): only a new hash can tell.
        let mtime = std::fs::metadata(a.path("a.txt"))
            .expect("stat")
            .modified()
            .expect("mtime");
        std::fs::write(a.path("a.txt"), b"FIRST FILE").expect("rewrite");
        std::fs::OpenOptions::new()
            .write(true)
            .open(a.path("a.txt"))
            .expect("open")
            .set_modified(mtime)
            .expect("same time");
        let before = tries(&a);
        let s = a.sync(&store).await.expect("sync");
        assert_eq!(tries(&a), before, "a racy hash leaves no mark");
        assert_eq!(s.uploaded, 1, "the edit is sent: {s:?}");
        b.sync(&store).await.expect("b");
        assert_eq!(b.tree(), a.tree());
    });
}

#[test]
fn an_ignored_or_hidden_file_added_is_planned_in_full_and_sends_nothing() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        write_old(&a, "docs/.hidden", b"never synced");
        let s = planned_in_full(&a, &store).await;
        assert_eq!(moved(&s), (0, 0, 0, 0, 0), "{s:?}");
        until_answered(&a, &store).await;
        write_old(&a, "notes.tmp", b"a temporary file");
        let s = planned_in_full(&a, &store).await;
        assert_eq!(moved(&s), (0, 0, 0, 0, 0), "{s:?}");
        let b = Device::new("dev-b");
        b.sync(&store).await.expect("b");
        assert_eq!(
            b.tree().into_keys().collect::<Vec<_>>(),
            ["a.txt", "docs/b.txt"],
            "only what is synced reached the page"
        );
    });
}

#[test]
fn an_ignore_rule_let_go_downloads_what_it_held_back() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        let b = Device::new("dev-b");
        write_old(&b, ".sbtignore", b"build/\n");
        until_answered(&b, &store).await;
        write_old(&a, "build/out.bin", b"built elsewhere");
        a.sync(&store).await.expect("a sends build/");
        until_answered(&b, &store).await;
        assert!(!b.path("build").exists(), "ignored here");
        // The rule goes; nothing else here changed.
        write_old(&b, ".sbtignore", b"# nothing ignored\n");
        let s = planned_in_full(&b, &store).await;
        assert_eq!(s.downloaded, 2, "build/ and its file arrive: {s:?}");
        assert_eq!(b.tree(), a.tree());
    });
}

#[test]
fn an_ignore_rule_added_keeps_the_file_on_the_page() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        write_old(&a, ".sbtignore", b"docs/\n");
        let s = planned_in_full(&a, &store).await;
        assert_eq!(moved(&s), (0, 0, 0, 0, 0), "ignored is not deleted: {s:?}");
        let b = Device::new("dev-b");
        b.sync(&store).await.expect("b");
        assert!(b.path("docs/b.txt").exists());
    });
}

#[test]
fn a_changed_setting_is_planned_in_full() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let ignoring = tunnel_core::config::SyncSettings {
            ignore: vec!["c.txt".into()],
            ..settings()
        };
        let mut a = Device::with_settings("dev-a", ignoring);
        write_old(&a, "a.txt", b"first file");
        until_answered(&a, &store).await;
        let b = settled("dev-b", &store).await;
        write_old(&b, "docs/c.txt", b"third file");
        b.sync(&store).await.expect("b sends docs/c.txt");
        let s = a.sync(&store).await.expect("a");
        assert_eq!(s.skipped_remote, 1, "ignored here by setting: {s:?}");
        assert!(!a.path("docs/c.txt").exists());
        // The report survives the no-change path.
        until_answered(&a, &store).await;
        let s = a.sync(&store).await.expect("answered");
        assert_eq!(s.skipped_remote, 1, "{s:?}");
        // The setting goes (a new syncer over the same journal, as after a restart): nothing
        // else changed, and the file arrives.
        a.syncer = Syncer::new(a.syncer.journal(), settings(), a.id.clone())
            .with_no_change_check_for_tests()
            .with_narrow_check_for_tests();
        let s = planned_in_full(&a, &store).await;
        assert_eq!(s.downloaded, 1, "{s:?}");
        assert_eq!(a.tree(), b.tree());
    });
}

#[test]
fn a_subtree_excluded_or_included_is_planned_in_full() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        let b = settled("dev-b", &store).await;
        let exclude = |paths: &[&str]| {
            let set: BTreeSet<RelPath> = paths
                .iter()
                .map(|p| RelPath::new(p).expect("path"))
                .collect();
            let j = b.syncer.journal();
            let j = j.lock().expect("journal");
            j.set_excluded_paths(b.folder, &set).expect("exclude");
        };
        exclude(&["docs"]);
        let before = tries(&b);
        let s = b.sync(&store).await.expect("b excludes docs");
        assert_eq!(
            tries(&b),
            before,
            "excluding drops the mark: nothing to compare"
        );
        assert_eq!(s.evicted, 2, "docs/ and its file leave: {s:?}");
        until_answered(&b, &store).await;
        exclude(&[]);
        let s = b.sync(&store).await.expect("b includes docs");
        assert_eq!(s.downloaded, 2, "{s:?}");
        assert_eq!(a.tree(), b.tree());
    });
}

#[test]
fn a_download_that_failed_leaves_no_mark_and_is_fetched_next_time() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        let b = settled("dev-b", &store).await;
        write_old(&a, "docs/new.txt", b"a new file");
        a.sync(&store).await.expect("a sends it");
        let failing = Intercept {
            inner: store.clone(),
            // Content (chunks and packs) fails; the file list reads.
            on_get: Box::new(|name| {
                let content = name.as_str().starts_with("m-") || name.as_str().starts_with("c-");
                if content {
                    Err(RemoteError::Integrity("damaged on the way".into()))
                } else {
                    Ok(())
                }
            }),
        };
        let s = b.sync(&Hooked(&failing)).await.expect("b, failing");
        assert_eq!(s.downloaded, 0, "nothing arrived: {s:?}");
        assert!(s.skipped_unreadable > 0, "{s:?}");
        let before = tries(&b);
        let s = b.sync(&store).await.expect("b");
        assert_eq!(tries(&b), before, "the failed sync left no mark");
        assert_eq!(s.downloaded, 1, "{s:?}");
        assert_eq!(a.tree(), b.tree());
    });
}

#[test]
fn a_change_on_the_page_is_planned_in_full() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        let b = settled("dev-b", &store).await;
        std::fs::remove_file(a.path("docs/b.txt")).expect("delete");
        a.sync(&store).await.expect("a deletes");
        let s = planned_in_full(&b, &store).await;
        assert_eq!(s.deleted_local, 1, "{s:?}");
        assert_eq!(a.tree(), b.tree());
    });
}

#[test]
fn a_vanished_root_is_an_error_never_an_answer() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = settled("dev-a", &store).await;
        let moved_away = a.root.with_file_name("Moved");
        std::fs::rename(&a.root, &moved_away).expect("move the folder away");
        let before = tries(&a);
        let r = a.sync(&store).await;
        assert!(
            matches!(r, Err(SyncError::FolderMissing(_))),
            "a missing folder is an error: {r:?}"
        );
        assert_eq!(tries(&a).answered, before.answered);
        // An empty folder in its place (an unmounted disk's mount point): still an error.
        std::fs::create_dir(&a.root).expect("empty root");
        let r = a.sync(&store).await;
        assert!(r.is_err(), "an empty folder without its marker: {r:?}");
        std::fs::remove_dir(&a.root).expect("rmdir");
        std::fs::rename(&moved_away, &a.root).expect("move it back");
        let s = a.sync(&store).await.expect("back");
        assert_eq!(moved(&s), (0, 0, 0, 0, 0), "{s:?}");
        let b = Device::new("dev-b");
        b.sync(&store).await.expect("b");
        assert_eq!(b.tree().len(), 2, "nothing was deleted on the page");
    });
}

#[test]
fn a_due_check_of_a_commits_blobs_is_planned_in_full() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let mut a = Device::new("dev-a");
        // No check against the full path here: it would run the late check itself. Blobs are
        // checked once more four seconds after their commit (the clean sync below must come
        // before that); no collection of its own.
        a.syncer = Syncer::new(a.syncer.journal(), settings(), a.id.clone())
            .with_gc_timing_for_tests(u64::MAX / 4, 4);
        write_old(&a, "first.txt", b"the first commit");
        a.sync(&store).await.expect("first commit");
        let before = store.blob_names();
        write_old(&a, "second.txt", b"the second commit, packed");
        a.sync(&store).await.expect("second commit");
        let introduced: Vec<_> = store
            .blob_names()
            .into_iter()
            .filter(|n| n.as_str().starts_with("c-") || n.as_str().starts_with("m-"))
            .filter(|n| !before.contains(n))
            .collect();
        assert!(!introduced.is_empty());
        // A clean sync before the late check is due leaves a mark.
        a.sync(&store).await.expect("clean");
        // A collector elsewhere trashes what the second commit introduced.
        for n in &introduced {
            assert!(store.remove_blob(n), "{n} was there");
        }
        tokio::time::sleep(Duration::from_millis(4100)).await;
        let t = tries(&a);
        a.sync(&store).await.expect("the late check");
        assert_eq!(
            (tries(&a).with_mark, tries(&a).answered),
            (t.with_mark + 1, t.answered),
            "a due check is not answered from the mark"
        );
        for n in &introduced {
            assert!(store.blob_bytes(n).is_some(), "{n} was put back");
        }
    });
}

#[test]
fn the_sync_after_one_that_only_sent_changes_is_answered_from_its_mark() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        write_old(&a, "a.txt", b"first file");
        write_old(&a, "docs/b.txt", b"second file");
        // The first upload: everything sent, nothing else done.
        let s = a.sync(&store).await.expect("first sync");
        assert_eq!(moved(&s), (3, 0, 0, 0, 0), "two files and a folder");
        let before = tries(&a);
        let s = a.sync(&store).await.expect("sync");
        assert_eq!(
            tries(&a).answered,
            before.answered + 1,
            "the upload left a mark: {:?}",
            tries(&a)
        );
        assert_eq!(s, SyncSummary::default());
        // An edit and a deletion sent by a narrow sync (which leaves no mark after a
        // commit: see `carry_out`).
        write_old(&a, "a.txt", b"first file, edited");
        std::fs::remove_file(a.path("docs/b.txt")).expect("remove");
        let s = a.sync(&store).await.expect("sync");
        assert_eq!(moved(&s), (1, 0, 0, 1, 0));
        until_answered(&a, &store).await;
        // What was sent is what another device gets.
        let b = Device::new("dev-b");
        let s = b.sync(&store).await.expect("sync");
        assert_eq!(s.downloaded, 2, "a.txt and the folder docs");
        assert_eq!(
            std::fs::read(b.path("a.txt")).expect("read"),
            b"first file, edited"
        );
        assert!(!b.path("docs/b.txt").exists());
        // A sync that wrote here (a download) leaves no mark: the next one plans.
        let before = tries(&b);
        b.sync(&store).await.expect("sync");
        assert_eq!(tries(&b).answered, before.answered, "{:?}", tries(&b));
        // A change on the page after the sender's mark: planned, received.
        write_old(&b, "c.txt", b"from b");
        b.sync(&store).await.expect("sync");
        let s = a.sync(&store).await.expect("sync");
        assert_eq!(s.downloaded, 1);
        assert_eq!(std::fs::read(a.path("c.txt")).expect("read"), b"from b");
    });
}
