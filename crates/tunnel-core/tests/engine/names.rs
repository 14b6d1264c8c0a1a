//! Issue 14: names one device can store and another cannot. The device under test plans with
//! forced [`NameRules`] (`Syncer::with_name_rules_for_tests`, a test-only knob) on this
//! lane's byte-exact Linux disk. That is honest for what these tests check: a name left out
//! is never written, and a plan never writes two names that are one name under the forced
//! rules (a clash is renamed to a `(Case Conflict)` copy), so the executor does on this disk
//! exactly what it would do on NTFS or APFS; what is simulated is only the probe's answer. The writer device needs a disk that
//! stores every name, hence the tests are not run where the disk is Windows'.

use crate::util::{runtime, tree_of, Device, Hooked, StoreHooks};
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

fn case_insensitive(device: Device) -> Device {
    with_rules(
        device,
        NameRules {
            case_insensitive: true,
            normalization_insensitive: true,
            ..NameRules::EXACT
        },
    )
}

/// What is in `device`'s trash: the paths in the folder, without the trash's day folder.
fn trash(device: &Device) -> Vec<String> {
    let dir = device.root.join(tunnel_core::sync::TRASH_DIR);
    if !dir.exists() {
        return Vec::new();
    }
    tree_of(&dir)
        .into_keys()
        .map(|k| {
            k.split_once('/')
                .map_or(k.clone(), |(_, rest)| rest.to_string())
        })
        .collect()
}

/// Two names that differ only in case, from a case-sensitive device, reach a device on a
/// case-insensitive disk: one keeps its name (the byte-wise smaller, as neither is here yet),
/// the other is renamed on the page to a visible `(Case Conflict)` copy and stored here under
/// it. Neither is read as an edit or a deletion: the case-sensitive device ends up with both
/// contents (one renamed), nothing is sent again, and only the rename's old name goes through
/// its trash, as any rename from elsewhere does.
#[test]
#[cfg_attr(
    windows,
    ignore = "the writer device must store two names that differ in case"
)]
fn names_that_differ_only_in_case_are_kept_apart_by_a_case_conflict_copy() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let linux = Device::new("linux");
        let mac = case_insensitive(Device::new("mac"));
        linux.write("README.md", b"upper");
        linux.write("Readme.md", b"mixed");
        linux.sync(&store).await.expect("linux");
        let sent = store.bytes_received();

        let s = mac.sync(&store).await.expect("mac");
        assert!(s.unstorable.is_empty(), "renamed, not left out: {s:?}");
        assert_eq!(s.case_renamed, 1, "{s:?}");
        assert_eq!(
            (s.deleted_remote, s.uploaded),
            (0, 0),
            "a rename only: {s:?}"
        );
        let both: std::collections::BTreeMap<String, Vec<u8>> = [
            ("README.md".to_string(), b"upper".to_vec()),
            ("Readme (Case Conflict).md".to_string(), b"mixed".to_vec()),
        ]
        .into();
        assert_eq!(
            mac.tree(),
            both,
            "both contents here, one under the copy name"
        );
        assert!(
            store.bytes_received() - sent < 4096,
            "no content sent again, only the file list"
        );
        assert!(listed(&mac).is_empty(), "status lists no case clash");

        // The page holds the rename: a fresh device and the writer both see it.
        let late = Device::new("late");
        late.sync(&store).await.expect("late");
        assert_eq!(late.tree(), both);
        let s = linux.sync(&store).await.expect("linux");
        assert_eq!(linux.tree(), both, "{s:?}");
        assert_eq!(
            trash(&linux),
            ["Readme.md"],
            "the rename's old name, nothing else"
        );
        assert!(trash(&mac).is_empty());

        // Settled: nothing more to do on either side.
        let s = mac.sync(&store).await.expect("mac again");
        assert_eq!(
            (s.uploaded, s.downloaded, s.case_renamed),
            (0, 0, 0),
            "{s:?}"
        );

        // An edit of the name kept touches only it, both ways.
        mac.write("README.md", b"upper, edited on the mac");
        let s = mac.sync(&store).await.expect("mac uploads");
        assert_eq!((s.uploaded, s.deleted_remote), (1, 0), "{s:?}");
        linux.sync(&store).await.expect("linux");
        assert_eq!(
            linux.tree().get("README.md").map(Vec::as_slice),
            Some(&b"upper, edited on the mac"[..])
        );
        linux.write("Readme (Case Conflict).md", b"mixed, edited on linux");
        linux.sync(&store).await.expect("linux uploads");
        mac.sync(&store).await.expect("mac");
        assert_eq!(linux.tree(), mac.tree());
    });
}

/// A folder and a file arriving from a case-sensitive device clash with a folder here: the
/// remote folder moves on the page with everything in it, the one here keeps its name.
#[test]
#[cfg_attr(
    windows,
    ignore = "the writer device must store two names that differ in case"
)]
fn a_clashing_remote_folder_moves_with_everything_in_it() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let linux = Device::new("linux");
        let mac = case_insensitive(Device::new("mac"));
        mac.write("Docs/mine.txt", b"from the mac");
        linux.write("docs/a.txt", b"a");
        linux.write("docs/deep/b.txt", b"b");
        linux.sync(&store).await.expect("linux");

        let s = mac.sync(&store).await.expect("mac");
        assert!(s.unstorable.is_empty(), "{s:?}");
        assert_eq!(
            s.case_renamed, 1,
            "one folder renamed, with what it holds: {s:?}"
        );
        let want: std::collections::BTreeMap<String, Vec<u8>> = [
            ("Docs/mine.txt".to_string(), b"from the mac".to_vec()),
            ("docs (Case Conflict)/a.txt".to_string(), b"a".to_vec()),
            ("docs (Case Conflict)/deep/b.txt".to_string(), b"b".to_vec()),
        ]
        .into();
        assert_eq!(mac.tree(), want);
        linux.sync(&store).await.expect("linux");
        assert_eq!(linux.tree(), want, "the exact device sees the move");
        assert_eq!(
            trash(&linux),
            ["docs/a.txt", "docs/deep/b.txt"],
            "only what the move took away"
        );
    });
}

/// The commit that publishes a case-conflict rename fails (the network drops) after the copy
/// was downloaded here: the next sync takes that copy as the rename's, and publishes the
/// rename once; no second copy, nothing uploaded again.
#[test]
#[cfg_attr(
    windows,
    ignore = "the writer device must store two names that differ in case"
)]
fn a_rename_whose_commit_failed_reuses_the_copy_already_here() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let linux = Device::new("linux");
        let mac = case_insensitive(Device::new("mac"));
        linux.write("README.md", b"upper");
        linux.write("Readme.md", b"mixed");
        linux.sync(&store).await.expect("linux");

        store.fail_next(
            tunnel_core::remote::memory::MemOp::WriteHead,
            || tunnel_core::remote::RemoteError::Unreachable("down".into()),
            1,
        );
        mac.sync(&store).await.expect_err("the commit fails");
        assert!(
            mac.path("Readme (Case Conflict).md").exists(),
            "downloaded before the commit"
        );

        let s = mac.sync(&store).await.expect("mac again");
        assert_eq!(
            (s.case_renamed, s.uploaded, s.downloaded),
            (1, 0, 0),
            "{s:?}"
        );
        let both: std::collections::BTreeMap<String, Vec<u8>> = [
            ("README.md".to_string(), b"upper".to_vec()),
            ("Readme (Case Conflict).md".to_string(), b"mixed".to_vec()),
        ]
        .into();
        assert_eq!(mac.tree(), both);
        let late = Device::new("late");
        late.sync(&store).await.expect("late");
        assert_eq!(late.tree(), both, "one copy on the page");
    });
}

/// What a [`StoreHooks`] wrapper serves as the head the first time it is read: the page as
/// it was before another device committed, so this device plans on it, and loses the race.
struct StaleHeadOnce {
    inner: MemoryStore,
    stale: std::sync::Mutex<Option<tunnel_core::remote::HeadState>>,
}

#[async_trait::async_trait]
impl StoreHooks for StaleHeadOnce {
    fn inner(&self) -> &MemoryStore {
        &self.inner
    }
    async fn read_head(
        &self,
    ) -> Result<Option<tunnel_core::remote::HeadState>, tunnel_core::remote::RemoteError> {
        let stale = self.stale.lock().expect("lock").take();
        match stale {
            Some(h) => Ok(Some(h)),
            None => tunnel_core::remote::RemoteStore::read_head(&self.inner).await,
        }
    }
}

/// Two case-insensitive devices make the same case-conflict rename at once: the one that
/// loses the commit race plans again on the renamed page and converges on the same copy;
/// there is one copy, not two, and nothing goes to anyone's trash.
#[test]
#[cfg_attr(
    windows,
    ignore = "the writer device must store two names that differ in case"
)]
fn two_devices_renaming_the_same_clash_at_once_converge_on_one_copy() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let linux = Device::new("linux");
        let a = case_insensitive(Device::new("mac-a"));
        let b = case_insensitive(Device::new("mac-b"));
        linux.write("README.md", b"upper");
        linux.write("Readme.md", b"mixed");
        linux.sync(&store).await.expect("linux");
        let before = store.head();

        let s = a.sync(&store).await.expect("a");
        assert_eq!(s.case_renamed, 1, "{s:?}");
        // B read the page before A's commit: it plans the same rename and loses the race.
        let racing = StaleHeadOnce {
            inner: store.clone(),
            stale: std::sync::Mutex::new(before),
        };
        let s = b.sync(&Hooked(&racing)).await.expect("b");
        assert!(s.commit_retries >= 1, "b lost the race: {s:?}");
        assert_eq!((s.uploaded, s.deleted_remote), (0, 0), "{s:?}");

        let both: std::collections::BTreeMap<String, Vec<u8>> = [
            ("README.md".to_string(), b"upper".to_vec()),
            ("Readme (Case Conflict).md".to_string(), b"mixed".to_vec()),
        ]
        .into();
        assert_eq!(b.tree(), both);
        for d in [&a, &b, &linux] {
            d.sync(&store).await.expect("settle");
        }
        let late = Device::new("late");
        late.sync(&store).await.expect("late");
        assert_eq!(late.tree(), both, "one copy on the page");
        assert_eq!(a.tree(), both);
        assert_eq!(b.tree(), both);
        assert_eq!(linux.tree(), both);
        assert!(trash(&a).is_empty() && trash(&b).is_empty());
        let s = b.sync(&store).await.expect("b settled");
        assert_eq!(
            (s.uploaded, s.downloaded, s.case_renamed),
            (0, 0, 0),
            "{s:?}"
        );
    });
}

/// A rename that only changes case, made on a case-sensitive device, reaches a device on a
/// case-insensitive disk as a rename: the file keeps its content under the new name, nothing
/// goes through the trash or is downloaded again, and nothing is deleted remotely.
#[test]
#[cfg_attr(
    windows,
    ignore = "the writer device must rename on a case-sensitive disk (every disk is case-insensitive under Windows)"
)]
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
