//! History on the page and restores (issue 16 items 1, 2, 6):
//! - a file's versions by three devices, and the folder restored at a time between commits;
//! - the retention boundary: no history with retention 0, older file lists kept across
//!   compactions within it, dropped once the commit that replaced them is older than it;
//! - garbage collection (grace 0) never collects a retained version's blobs;
//! - the upgrade of a format 2 page, with a device still on format 2.

use std::collections::BTreeMap;

use tunnel_core::error::SyncError;
use tunnel_core::rel_path::RelPath;
use tunnel_core::remote::memory::MemoryStore;
use tunnel_core::sync::{RestoreTarget, VersionPick};

use crate::util::{runtime, tree_of, Device};

/// Commits past this many deltas compact the file list (`Head::needs_compaction`).
const DELTAS_BEFORE_COMPACTION: usize = 33;

fn rel(p: &str) -> RelPath {
    RelPath::new(p).expect("valid path")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64
}

/// The whole folder as it was at `at`, restored into a fresh folder by `d`.
async fn state_at(d: &Device, store: &MemoryStore, at: i64) -> BTreeMap<String, Vec<u8>> {
    let out = tempfile::tempdir().expect("temp dir");
    d.syncer
        .restore(
            d.folder,
            store,
            None,
            VersionPick::At(at),
            &RestoreTarget::Into(out.path().to_path_buf()),
            false,
        )
        .await
        .expect("the state is retained");
    tree_of(out.path())
}

/// Wait until the clock moved past `t` (commit times are ms).
fn after(t: i64) -> i64 {
    while now_ms() <= t {
        std::thread::yield_now();
    }
    now_ms()
}

#[test]
fn three_devices_versions_and_a_restore_at_a_time_between_their_commits() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let (a, b, c) = (Device::new("a"), Device::new("b"), Device::new("c"));
        a.write("report.txt", b"a1");
        a.write("notes/x.txt", b"x");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        b.write("report.txt", b"b2 longer");
        b.sync(&store).await.expect("b edits");
        let between = after(now_ms());
        after(between);
        c.sync(&store).await.expect("c");
        c.write("report.txt", b"c3");
        c.write("new.txt", b"made by c later");
        c.sync(&store).await.expect("c edits");
        a.sync(&store).await.expect("a catches up");

        let versions = a
            .syncer
            .path_history(a.folder, &store, Some(&rel("report.txt")))
            .await
            .expect("history");
        let who: Vec<(&str, &str, Option<u64>, u64)> = versions
            .iter()
            .map(|v| (v.device.as_str(), v.action.as_str(), v.version, v.size))
            .collect();
        assert_eq!(
            who,
            vec![
                ("a", "created", Some(1), 2),
                ("b", "modified", Some(2), 9),
                ("c", "modified", Some(3), 2)
            ],
            "every device's version, in order"
        );
        assert!(versions[1].time_ms < between && between < versions[2].time_ms);

        // The folder as it was between b's and c's commits: a dry run first changes nothing.
        let dry = a
            .syncer
            .restore(
                a.folder,
                &store,
                None,
                VersionPick::At(between),
                &RestoreTarget::InPlace,
                true,
            )
            .await
            .expect("dry run");
        let changes: Vec<(&str, &str)> = dry
            .changes
            .iter()
            .filter(|c| c.change != "skip")
            .map(|c| (c.path.as_str(), c.change.as_str()))
            .collect();
        assert_eq!(
            changes,
            vec![("new.txt", "remove"), ("report.txt", "write")]
        );
        assert_eq!(
            a.tree().get("report.txt").map(|v| v.as_slice()),
            Some(&b"c3"[..])
        );

        a.syncer
            .restore(
                a.folder,
                &store,
                None,
                VersionPick::At(between),
                &RestoreTarget::InPlace,
                false,
            )
            .await
            .expect("restore");
        let expected: BTreeMap<String, Vec<u8>> = [
            ("notes/x.txt".to_string(), b"x".to_vec()),
            ("report.txt".to_string(), b"b2 longer".to_vec()),
        ]
        .into();
        assert_eq!(a.tree(), expected, "as it was between the commits");
        // It syncs as an ordinary change, to every device.
        a.sync(&store).await.expect("a publishes the restore");
        for d in [&b, &c] {
            d.sync(&store).await.expect("others receive it");
            assert_eq!(d.tree(), expected, "{} has the restored folder", d.id);
        }
        // And it is itself undoable: c's version is still in the history.
        c.syncer
            .restore(
                c.folder,
                &store,
                Some(&rel("report.txt")),
                VersionPick::Version(3),
                &RestoreTarget::InPlace,
                false,
            )
            .await
            .expect("c's version back");
        assert_eq!(c.tree()["report.txt"], b"c3");
        let err = c
            .syncer
            .restore(
                c.folder,
                &store,
                Some(&rel("report.txt")),
                VersionPick::At(0),
                &RestoreTarget::InPlace,
                true,
            )
            .await
            .expect_err("nothing is that old");
        assert!(matches!(err, SyncError::NotInHistory(_)), "{err}");
    });
}

#[test]
fn a_deleted_folder_is_restored_into_place_and_into_another_folder() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let (a, b) = (Device::new("a"), Device::new("b"));
        a.write("docs/a.txt", b"alpha");
        a.write("docs/sub/b.txt", b"beta");
        a.write("keep.txt", b"untouched");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        std::fs::remove_dir_all(a.path("docs")).expect("rm -r docs");
        a.sync(&store).await.expect("a deletes");
        b.sync(&store).await.expect("b sees the deletion");
        assert!(!b.path("docs").exists());

        let versions = b
            .syncer
            .path_history(b.folder, &store, Some(&rel("docs")))
            .await
            .expect("history of the folder");
        assert_eq!(versions.len(), 2, "{versions:?}");
        assert_eq!((versions[0].files, versions[0].created), (2, 4), "created");
        assert_eq!((versions[1].files, versions[1].deleted), (0, 4), "deleted");
        let before = versions[0].seq;

        let out = tempfile::tempdir().expect("temp");
        b.syncer
            .restore(
                b.folder,
                &store,
                Some(&rel("docs")),
                VersionPick::Version(before),
                &RestoreTarget::Into(out.path().to_path_buf()),
                false,
            )
            .await
            .expect("into another folder");
        assert_eq!(
            tree_of(out.path()),
            BTreeMap::from([
                ("docs/a.txt".to_string(), b"alpha".to_vec()),
                ("docs/sub/b.txt".to_string(), b"beta".to_vec()),
            ])
        );
        assert!(!b.path("docs").exists(), "into another folder only");

        b.syncer
            .restore(
                b.folder,
                &store,
                Some(&rel("docs")),
                VersionPick::Version(before),
                &RestoreTarget::InPlace,
                false,
            )
            .await
            .expect("into place");
        b.sync(&store).await.expect("b publishes");
        a.sync(&store).await.expect("a receives");
        assert_eq!(a.tree(), b.tree());
        assert_eq!(a.tree()["docs/sub/b.txt"], b"beta");
        assert_eq!(a.tree()["keep.txt"], b"untouched");
    });
}

/// Commits `n` edits of `f.txt` on `d`, each its own content; returns (time, content) after
/// each commit.
async fn edits(d: &Device, store: &MemoryStore, n: usize, tag: &str) -> Vec<(i64, Vec<u8>)> {
    let mut out = Vec::new();
    for i in 0..n {
        let content = format!("{tag} edit {i} {}", "z".repeat(i % 7)).into_bytes();
        d.write("f.txt", &content);
        d.sync(store).await.expect("edit");
        out.push((after(now_ms()), content));
    }
    out
}

#[test]
fn the_retention_boundary_decides_what_survives_compaction() {
    runtime().block_on(async {
        // Retention 0: only the current state.
        let store = MemoryStore::new();
        let mut d = Device::new("none");
        d.syncer = d.syncer.clone().with_history_keep_ms_for_tests(0);
        let states = edits(&d, &store, DELTAS_BEFORE_COMPACTION + 2, "none").await;
        let head = store.head().expect("head").value;
        assert!(head.get("history").is_none(), "no history document: {head}");
        assert_not_in_history(&d, &store, states[0].0, "compacted away").await;

        // An hour: every state survives two compactions.
        let store = MemoryStore::new();
        let mut d = Device::new("hour");
        d.syncer = d.syncer.clone().with_history_keep_ms_for_tests(3_600_000);
        let states = edits(&d, &store, 2 * DELTAS_BEFORE_COMPACTION + 2, "hour").await;
        let head = store.head().expect("head").value;
        assert!(head["history"].is_object(), "{head}");
        for (t, content) in states.iter().step_by(5) {
            assert_eq!(&state_at(&d, &store, *t).await["f.txt"], content);
        }

        // A short retention: a file list replaced longer ago than it goes at the next
        // compaction; the ones replaced within it stay.
        let store = MemoryStore::new();
        let mut d = Device::new("short");
        let keep_ms = 400;
        d.syncer = d.syncer.clone().with_history_keep_ms_for_tests(keep_ms);
        let first = edits(&d, &store, DELTAS_BEFORE_COMPACTION + 1, "short").await;
        // The first compaction folded the first segment into the history just now.
        let replaced_at = first.last().expect("edits").0;
        assert_eq!(
            &state_at(&d, &store, first[0].0).await["f.txt"],
            &first[0].1
        );
        after(replaced_at + keep_ms + 50);
        let second = edits(&d, &store, DELTAS_BEFORE_COMPACTION + 1, "short2").await;
        assert_not_in_history(
            &d,
            &store,
            first[0].0,
            "replaced longer ago than the retention",
        )
        .await;
        // What the second compaction replaced a moment ago is still there.
        let (t, content) = &second[second.len() / 2];
        assert_eq!(&state_at(&d, &store, *t).await["f.txt"], content);
    });
}

#[test]
fn garbage_collection_never_collects_a_retained_version() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let mut a = Device::new("a");
        let mut b = Device::new("b");
        // Collect at once, every time.
        a.syncer = a.syncer.clone().with_gc_timing_for_tests(0, 0);
        b.syncer = b
            .syncer
            .clone()
            .with_gc_timing_for_tests(0, 0)
            .with_history_keep_ms_for_tests(0);
        // a's history exists before b collects: b, which keeps no history itself, must keep
        // what the page's history needs all the same. (Before a page has a history document,
        // a device with retention 0 collects what only the head's own deltas replaced: the
        // retention is a device's setting, the same on every device is best.)
        let mut states = edits(&a, &store, DELTAS_BEFORE_COMPACTION + 1, "first").await;
        assert!(store.head().expect("head").value["history"].is_object());
        for round in 0..3 {
            // Big files (chunks) and small ones (packs), replaced and deleted.
            a.write("big.bin", &vec![round as u8; 9_000 + round]);
            states.extend(edits(&a, &store, DELTAS_BEFORE_COMPACTION / 2, "a").await);
            std::fs::remove_file(a.path("big.bin")).expect("rm");
            b.sync(&store).await.expect("b");
            b.write("f.txt", format!("b {round}").as_bytes());
            b.sync(&store).await.expect("b edits");
            a.sync(&store).await.expect("a");
            states.push((after(now_ms()), format!("b {round}").into_bytes()));
        }
        assert!(
            !store.trashed_names().is_empty(),
            "garbage collection ran and trashed something"
        );
        for (t, content) in &states {
            assert_eq!(
                &state_at(&a, &store, *t).await["f.txt"],
                content,
                "the version at {t} is intact"
            );
        }
        let usage = a.syncer.page_usage(a.folder, &store).await.expect("usage");
        assert!(usage.history_bytes > 0, "{usage:?}");
        assert_eq!(
            a.syncer.history_bytes(a.folder).await.expect("stored"),
            Some(usage.history_bytes)
        );
    });
}

#[test]
fn a_format_2_page_is_upgraded_and_a_format_2_device_refuses_it_without_damage() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("a");
        let mut old = Device::new("old");
        old.syncer = old.syncer.clone().with_max_format_for_tests(2);
        a.write("one.txt", b"1");
        a.sync(&store).await.expect("a");
        // What a format 2 build wrote: the same parts, a head without times or history.
        let mut head = store.head().expect("head").value;
        head["format"] = 2.into();
        head["snapshot"]
            .as_object_mut()
            .expect("snapshot")
            .remove("time_ms");
        for d in head["deltas"].as_array_mut().expect("deltas") {
            d.as_object_mut().expect("delta").remove("time_ms");
        }
        head.as_object_mut().expect("head").remove("history");
        store.force_head(head.clone());
        old.sync(&store)
            .await
            .expect("a format 2 device reads the format 2 page");
        assert_eq!(old.tree()["one.txt"], b"1");

        // The first commit of this build upgrades the page in place.
        a.write("two.txt", b"2");
        a.sync(&store).await.expect("a upgrades");
        let upgraded = store.head().expect("head").value;
        assert_eq!(upgraded["format"], 3);
        assert_eq!(upgraded["generation"], head["generation"], "same history");

        // The format 2 device, with a change of its own, refuses and writes nothing.
        old.write("mine.txt", b"not sent");
        let blobs_before = store.blob_names();
        let err = old.sync(&store).await.expect_err("refused");
        assert!(err.to_string().contains("upgrade sber-tunnel"), "{err}");
        assert_eq!(
            store.head().expect("head").value,
            upgraded,
            "head untouched"
        );
        assert_eq!(store.blob_names(), blobs_before, "nothing uploaded");
        assert_eq!(old.tree()["mine.txt"], b"not sent", "its files untouched");

        // Upgraded, it syncs on.
        old.syncer = old.syncer.clone().with_max_format_for_tests(3);
        old.sync(&store).await.expect("upgraded device");
        a.sync(&store).await.expect("a");
        assert_eq!(a.tree(), old.tree());
    });
}

/// A dry-run restore of the whole folder at `time_ms` is refused as no longer in the history.
async fn assert_not_in_history(d: &Device, store: &MemoryStore, time_ms: i64, why: &str) {
    let err = d
        .syncer
        .restore(
            d.folder,
            store,
            None,
            VersionPick::At(time_ms),
            &RestoreTarget::InPlace,
            true,
        )
        .await
        .expect_err(why);
    assert!(matches!(err, SyncError::NotInHistory(_)), "{why}: {err}");
}
