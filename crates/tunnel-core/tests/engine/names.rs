//! Issue 14: names one device can store and another cannot. The device under test plans with
//! forced [`NameRules`] (`Syncer::with_name_rules_for_tests`, a test-only knob) on this
//! lane's byte-exact Linux disk. That is honest for what these tests check: a name left out
//! is never written, so the executor does on this disk exactly what it would do on NTFS or
//! APFS; what is simulated is only the probe's answer. The writer device needs a disk that
//! stores every name, hence the tests are not run where the disk is Windows'.

use crate::util::{runtime, tree_of, Device};
use tunnel_core::events::UnstorableName;
use tunnel_core::name_rules::{stored_unstorable, NameRules};
use tunnel_core::remote::memory::MemoryStore;

fn with_rules(mut device: Device, rules: NameRules) -> Device {
    device.syncer = device.syncer.clone().with_name_rules_for_tests(rules);
    device
}

fn listed(device: &Device) -> Vec<UnstorableName> {
    let journal = device.syncer.journal();
    let j = journal.lock().expect("journal");
    stored_unstorable(&j, device.folder).expect("stored list")
}

fn paths(list: &[UnstorableName]) -> Vec<&str> {
    list.iter().map(|u| u.path.as_str()).collect()
}

/// Names Windows refuses, published by a Linux device, reach a Windows device: they are not
/// written, listed (in the summary and for `status`), never deleted remotely, and the rest of
/// the folder syncs both ways.
#[test]
#[cfg_attr(
    windows,
    ignore = "the writer device must create names Windows refuses"
)]
fn names_windows_refuses_are_listed_not_written_and_never_deleted_remotely() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let linux = Device::new("linux");
        let win = with_rules(
            Device::new("win"),
            NameRules {
                windows_reserved: true,
                ..NameRules::EXACT
            },
        );
        linux.write("CON.txt", b"a device name");
        linux.write("aux/x.txt", b"inside a device name");
        linux.write("notes.", b"a trailing dot");
        linux.write("ok.txt", b"fine");
        linux.sync(&store).await.expect("linux");

        let s = win.sync(&store).await.expect("win");
        assert_eq!(paths(&s.unstorable), ["CON.txt", "aux", "notes."], "{s:?}");
        assert_eq!(listed(&win), s.unstorable, "kept for `status`");
        for gone in ["CON.txt", "aux", "notes."] {
            assert!(
                std::fs::symlink_metadata(win.path(gone)).is_err(),
                "{gone} must not be written"
            );
        }
        assert_eq!(
            win.tree().get("ok.txt").map(Vec::as_slice),
            Some(&b"fine"[..])
        );

        // Missing here is not a deletion: a sync with a local change publishes only that.
        win.write("mine.txt", b"from windows");
        let s = win.sync(&store).await.expect("win uploads");
        assert_eq!((s.uploaded, s.deleted_remote), (1, 0), "{s:?}");
        let late = Device::new("late");
        late.sync(&store).await.expect("late");
        let tree = late.tree();
        for kept in ["CON.txt", "aux/x.txt", "notes.", "ok.txt", "mine.txt"] {
            assert!(
                tree.contains_key(kept),
                "{kept} is still on the page: {tree:?}"
            );
        }

        // Deleted where it lives: the list shrinks.
        std::fs::remove_file(linux.path("CON.txt")).expect("rm");
        linux.sync(&store).await.expect("linux deletes");
        let s = win.sync(&store).await.expect("win");
        assert_eq!(paths(&s.unstorable), ["aux", "notes."], "{s:?}");
        assert_eq!(listed(&win), s.unstorable);
    });
}

/// Two names that differ only in case, from a case-sensitive device, reach a device on a
/// case-insensitive disk: one is stored (the byte-wise smaller, as neither is here yet), the
/// other is listed with the name it clashes with; editing the stored one never touches the
/// other, and nothing is deleted remotely.
#[test]
#[cfg_attr(
    windows,
    ignore = "the writer device must store two names that differ in case"
)]
fn names_that_differ_only_in_case_never_collapse_into_one_file() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let linux = Device::new("linux");
        let mac = with_rules(
            Device::new("mac"),
            NameRules {
                case_insensitive: true,
                normalization_insensitive: true,
                ..NameRules::EXACT
            },
        );
        linux.write("README.md", b"upper");
        linux.write("Readme.md", b"mixed");
        linux.sync(&store).await.expect("linux");

        let s = mac.sync(&store).await.expect("mac");
        assert_eq!(paths(&s.unstorable), ["Readme.md"], "{s:?}");
        assert!(s.unstorable[0].reason.contains("README.md"), "{s:?}");
        assert_eq!(
            mac.tree(),
            [("README.md".to_string(), b"upper".to_vec())].into(),
            "only the name that keeps it is written"
        );

        mac.write("README.md", b"upper, edited on the mac");
        let s = mac.sync(&store).await.expect("mac uploads");
        assert_eq!((s.uploaded, s.deleted_remote), (1, 0), "{s:?}");
        linux.sync(&store).await.expect("linux");
        assert_eq!(
            linux.tree().get("README.md").map(Vec::as_slice),
            Some(&b"upper, edited on the mac"[..])
        );
        assert_eq!(
            linux.tree().get("Readme.md").map(Vec::as_slice),
            Some(&b"mixed"[..]),
            "the other name is untouched"
        );

        // The stored name is deleted where it came from: the other one can land now.
        std::fs::remove_file(linux.path("README.md")).expect("rm");
        linux.sync(&store).await.expect("linux deletes");
        let s = mac.sync(&store).await.expect("mac");
        assert!(s.unstorable.is_empty(), "{s:?}");
        assert_eq!(
            mac.tree(),
            [("Readme.md".to_string(), b"mixed".to_vec())].into()
        );
    });
}

/// A rename that only changes case, made on a case-sensitive device, reaches a device on a
/// case-insensitive disk as a rename: the file keeps its content under the new name, nothing
/// goes through the trash or is downloaded again, and nothing is deleted remotely.
#[test]
fn a_rename_that_only_changes_case_syncs_as_a_rename() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let linux = Device::new("linux");
        let mac = with_rules(
            Device::new("mac"),
            NameRules {
                case_insensitive: true,
                ..NameRules::EXACT
            },
        );
        linux.write("report.txt", b"quarterly");
        linux.write("keep.txt", b"untouched");
        linux.sync(&store).await.expect("linux");
        mac.sync(&store).await.expect("mac");

        std::fs::rename(linux.path("report.txt"), linux.path("Report.txt")).expect("rename");
        linux.sync(&store).await.expect("linux renames");
        let s = mac.sync(&store).await.expect("mac");
        assert_eq!(
            (s.deleted_local, s.bytes_down, s.deleted_remote),
            (0, 0, 0),
            "a rename in place, not a deletion and a download: {s:?}"
        );
        assert!(s.unstorable.is_empty(), "{s:?}");
        assert_eq!(
            mac.tree(),
            [
                ("Report.txt".to_string(), b"quarterly".to_vec()),
                ("keep.txt".to_string(), b"untouched".to_vec()),
            ]
            .into()
        );
        let trash = mac.root.join(tunnel_core::sync::TRASH_DIR);
        assert!(
            !trash.exists() || tree_of(&trash).is_empty(),
            "nothing went to the trash"
        );
        // Both converge and stay put.
        let s = mac.sync(&store).await.expect("mac again");
        assert_eq!((s.uploaded, s.downloaded), (0, 0), "{s:?}");
        linux.sync(&store).await.expect("linux again");
        assert_eq!(linux.tree(), mac.tree());
    });
}
