//! Selective sync (issue 17 item 1) through the real executor: an excluded subtree is never
//! downloaded and never deleted remotely because it is missing here; this device's copies the
//! page holds are removed from the disk; a file created or edited inside it is published
//! before it leaves; what other devices do inside it (renames, deletions, a file replaced by a
//! folder) is never undone; including it again downloads it.

use std::collections::BTreeSet;

use tunnel_core::rel_path::RelPath;
use tunnel_core::remote::memory::MemoryStore;

use crate::util::{runtime, Device};

fn set_excluded(d: &Device, paths: &[&str]) {
    let set: BTreeSet<RelPath> = paths
        .iter()
        .map(|p| RelPath::new(p).expect("valid path"))
        .collect();
    let j = d.syncer.journal();
    let j = j.lock().expect("journal");
    j.set_excluded_paths(d.folder, &set).expect("store");
}

fn names(d: &Device) -> Vec<String> {
    d.tree().into_keys().collect()
}

#[test]
fn an_excluded_folder_leaves_this_device_stays_on_the_page_and_comes_back_when_included() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        a.write("keep.txt", b"kept everywhere");
        a.write("Videos/big.mp4", b"a big video");
        a.write("Videos/2024/trip.mp4", b"another video");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        assert_eq!(a.tree(), b.tree());

        // b excludes Videos: its copies go (the page holds them), nothing is published.
        set_excluded(&b, &["Videos"]);
        let s = b.sync(&store).await.expect("b excludes");
        assert_eq!(
            s.evicted, 4,
            "two files and two folders removed here: {s:?}"
        );
        assert_eq!(
            (s.uploaded, s.deleted_remote, s.deleted_local),
            (0, 0, 0),
            "{s:?}"
        );
        assert!(!b.path("Videos").exists(), "the folder left this computer");
        assert_eq!(names(&b), vec!["keep.txt"]);
        let s = a.sync(&store).await.expect("a");
        assert_eq!(
            (s.deleted_local, s.downloaded),
            (0, 0),
            "missing on b is not a deletion for a: {s:?}"
        );
        assert!(a.path("Videos/big.mp4").exists());

        // Another device edits and adds inside: nothing arrives at b.
        a.write("Videos/big.mp4", b"a big video, edited");
        a.write("Videos/new.mp4", b"new video");
        a.sync(&store).await.expect("a edits");
        let s = b.sync(&store).await.expect("b");
        assert_eq!((s.downloaded, s.deleted_local), (0, 0), "{s:?}");
        assert!(!b.path("Videos").exists());

        // A file created here inside the excluded folder is published, then leaves.
        b.write("Videos/from-b.mp4", b"recorded on b");
        let s = b.sync(&store).await.expect("b publishes");
        assert!(s.uploaded >= 1, "{s:?}");
        b.sync(&store).await.expect("b removes its copy");
        assert!(!b.path("Videos").exists(), "{:?}", names(&b));
        a.sync(&store).await.expect("a receives");
        assert_eq!(
            std::fs::read(a.path("Videos/from-b.mp4")).expect("on a"),
            b"recorded on b",
            "nothing made on b is lost"
        );

        // Included again: everything comes back.
        set_excluded(&b, &[]);
        let s = b.sync(&store).await.expect("b includes");
        assert!(s.downloaded >= 4, "{s:?}");
        assert_eq!(a.tree(), b.tree(), "including again downloads the folder");
    });
}

#[test]
fn renames_deletions_and_type_changes_elsewhere_inside_an_excluded_path_are_never_undone() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        a.write("Old/x.txt", b"x");
        a.write("Gone/y.txt", b"y");
        a.write("Flip", b"a file that becomes a folder");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        set_excluded(&b, &["Old", "Gone", "Flip", "not/here/yet"]);
        b.sync(&store).await.expect("b excludes");
        assert!(names(&b).is_empty(), "{:?}", names(&b));

        // a renames Old, deletes Gone, replaces the file Flip by a folder.
        std::fs::rename(a.path("Old"), a.path("New")).expect("rename");
        std::fs::remove_dir_all(a.path("Gone")).expect("delete");
        std::fs::remove_file(a.path("Flip")).expect("rm");
        a.write("Flip/inside.txt", b"inside");
        a.sync(&store).await.expect("a");
        let s = b.sync(&store).await.expect("b");
        assert_eq!(s.deleted_remote, 0, "{s:?}");
        assert_eq!(
            names(&b),
            vec!["New/x.txt"],
            "a renamed folder arrives under its new name (exclusions are by path)"
        );
        a.sync(&store).await.expect("a again");
        assert_eq!(
            names(&a),
            vec!["Flip/inside.txt", "New/x.txt"],
            "a's changes stand"
        );

        // Something arriving at a path excluded before anything was there stays out.
        a.write("not/here/yet/z.txt", b"z");
        a.sync(&store).await.expect("a adds");
        b.sync(&store).await.expect("b");
        assert!(!b.path("not/here/yet").exists());
        assert!(
            b.path("not/here").is_dir(),
            "the folders above an excluded path are ordinary folders"
        );
    });
}

#[test]
fn an_edit_here_racing_an_edit_there_inside_an_excluded_folder_keeps_both() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        a.write("Docs/report.txt", b"v1");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        // b edits, then excludes before it synced the edit; a edits too.
        b.write("Docs/report.txt", b"v2 from b, never synced");
        set_excluded(&b, &["Docs"]);
        a.write("Docs/report.txt", b"v2 from a");
        a.sync(&store).await.expect("a");
        for _ in 0..2 {
            b.sync(&store).await.expect("b");
        }
        a.sync(&store).await.expect("a");
        assert!(!b.path("Docs").exists(), "{:?}", names(&b));
        let on_a: BTreeSet<Vec<u8>> = a.tree().into_values().collect();
        assert!(
            on_a.contains(b"v2 from b, never synced".as_slice())
                && on_a.contains(b"v2 from a".as_slice()),
            "both edits are kept (one as a conflict copy): {:?}",
            names(&a)
        );
    });
}

#[test]
fn content_made_inside_an_excluded_folder_is_published_then_removed_by_the_very_next_sync() {
    // The sync that publishes it must not leave a clean mark: the next one has the removal to
    // do, and a mark would answer it "nothing to do" (found by the model test; every device
    // here also checks each such answer against the full path, which panics on a wrong one).
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        set_excluded(&a, &["Private"]);
        a.write("Private/notes.txt", b"made here while excluded");
        a.write("open.txt", b"synced");
        // Written well before the sync (no racy timestamps): the sync could leave a mark.
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        for rel in ["Private/notes.txt", "open.txt"] {
            std::fs::File::options()
                .write(true)
                .open(a.path(rel))
                .and_then(|f| f.set_modified(old))
                .expect("set mtime");
        }
        a.sync(&store).await.expect("a publishes");
        b.sync(&store).await.expect("b");
        assert_eq!(names(&b), ["Private/notes.txt", "open.txt"], "published");
        let s = a.sync(&store).await.expect("a again");
        assert_eq!(
            s.evicted, 2,
            "the very next sync removes this device's copy (the file, its folder)"
        );
        assert_eq!(names(&a), ["open.txt"]);
        b.sync(&store).await.expect("b again");
        assert_eq!(
            names(&b),
            ["Private/notes.txt", "open.txt"],
            "still on the page"
        );
    });
}
