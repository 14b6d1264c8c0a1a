//! Newly ignoring files that are already synced (issue 17 item 2): the rule is this device's
//! own, so nothing leaves the page or other devices because of it. The ignored path is left
//! out of the plan on every side: its copy here stays, its changes here are not sent, other
//! devices' changes are not written here, and removing the rule syncs it again.

use super::test_device::{runtime, Device};
use super::*;
use crate::remote::memory::MemoryStore;
use crate::scan::IGNORE_FILE;

#[test]
fn a_newly_ignored_synced_file_is_never_deleted_from_the_page_or_other_devices() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let (a, b) = (Device::new("dev-a"), Device::new("dev-b"));
        a.write("build.log", b"v0 log");
        a.write("notes.txt", b"v0 notes");
        a.sync(&store).await;
        b.sync(&store).await;
        assert_eq!(b.read("build.log").as_deref(), Some(&b"v0 log"[..]));

        // A ignores *.log from now on (written the way the app and CLI save it).
        crate::ignore_rules::save_folder_rules(&a.root, "*.log\n").expect("rules");
        let s = a.sync(&store).await;
        assert_eq!((s.deleted_remote, s.deleted_local), (0, 0), "{s:?}");
        assert_eq!(
            a.read("build.log").as_deref(),
            Some(&b"v0 log"[..]),
            "stays here"
        );

        // Edited here while ignored: not sent. Deleted here while ignored: not deleted there.
        a.write("build.log", b"v1 edited on a, ignored");
        let s = a.sync(&store).await;
        assert_eq!(s.uploaded, 0, "{s:?}");
        std::fs::remove_file(a.root.join("build.log")).expect("rm");
        let s = a.sync(&store).await;
        assert_eq!(s.deleted_remote, 0, "{s:?}");
        let s = b.sync(&store).await;
        assert_eq!(s.deleted_local, 0, "{s:?}");
        assert_eq!(b.read("build.log").as_deref(), Some(&b"v0 log"[..]));

        // Another device's change to it is not written here while it is ignored.
        b.write("build.log", b"v2 from b");
        b.sync(&store).await;
        a.sync(&store).await;
        assert_eq!(a.read("build.log"), None, "not downloaded while ignored");

        // The .sbtignore itself is hidden: it stays on this device.
        assert_eq!(b.read(IGNORE_FILE), None);
        assert_eq!(b.read("notes.txt").as_deref(), Some(&b"v0 notes"[..]));

        // The rule removed: the file syncs again, the page's newer version comes back.
        crate::ignore_rules::save_folder_rules(&a.root, "").expect("rules");
        let s = a.sync(&store).await;
        assert_eq!(s.deleted_remote, 0, "{s:?}");
        assert_eq!(a.read("build.log").as_deref(), Some(&b"v2 from b"[..]));
    });
}

#[test]
fn a_file_deleted_here_while_ignored_counts_as_deleted_once_the_rule_goes() {
    // Documented behaviour: the synced base keeps the file's record while it is ignored, so
    // deleting the copy here and then dropping the rule is an ordinary deletion here, which
    // propagates when nobody else changed the file (into the other devices' local trash).
    runtime().block_on(async {
        let store = MemoryStore::new();
        let (a, b) = (Device::new("dev-a"), Device::new("dev-b"));
        a.write("old.log", b"v0");
        a.sync(&store).await;
        b.sync(&store).await;
        crate::ignore_rules::save_folder_rules(&a.root, "*.log\n").expect("rules");
        a.sync(&store).await;
        std::fs::remove_file(a.root.join("old.log")).expect("rm");
        assert_eq!(a.sync(&store).await.deleted_remote, 0);
        crate::ignore_rules::save_folder_rules(&a.root, "").expect("rules");
        let s = a.sync(&store).await;
        assert_eq!(s.deleted_remote, 1, "{s:?}");
        b.sync(&store).await;
        assert_eq!(b.read("old.log"), None);
    });
}

#[test]
fn a_global_pattern_added_later_deletes_nothing_elsewhere() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        a.write("data.bak", b"backup");
        a.sync(&store).await;
        b.sync(&store).await;

        // The same folder on A, now with `sync.ignore = ["*.bak"]`.
        let a2 = Device {
            syncer: Syncer::new(
                Arc::clone(&a.syncer.journal),
                SyncSettings {
                    ignore: vec!["*.bak".into()],
                    max_delete_share: 1.0,
                    max_delete_min_files: usize::MAX,
                    ..SyncSettings::default()
                },
                "dev-a".into(),
            ),
            ..a
        };
        std::fs::remove_file(a2.root.join("data.bak")).expect("rm");
        let s = a2.sync(&store).await;
        assert_eq!(s.deleted_remote, 0, "{s:?}");
        let s = b.sync(&store).await;
        assert_eq!(s.deleted_local, 0, "{s:?}");
        assert_eq!(b.read("data.bak").as_deref(), Some(&b"backup"[..]));
    });
}
