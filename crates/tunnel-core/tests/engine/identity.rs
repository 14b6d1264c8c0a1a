//! Which folder and which remote a sync is about (issue 13, items 4 and 5):
//! - another synced folder moved onto a synced folder's path is refused (its marker names the
//!   other folder), so its files are not published to this page and nothing is deleted on the
//!   devices of this page;
//! - a head that is "gone" for one read (a proxy's 404 taken for "the page was wiped") costs
//!   the base nothing: no file deleted elsewhere comes back, no conflict copy appears;
//! - when the remote really was wiped and rebuilt, the base entries this device could not
//!   re-check are dropped when the new state is adopted, so a file unreadable during that sync
//!   is not later read as "deleted remotely".

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use tunnel_core::config::SyncSettings;
use tunnel_core::error::{ErrorCode, SyncError};
use tunnel_core::ids::FolderId;
use tunnel_core::journal::Journal;
use tunnel_core::remote::memory::MemoryStore;
use tunnel_core::remote::{HeadState, RemoteError, RemoteStore};
use tunnel_core::sync::{SyncOptions, Syncer};

use crate::util::{runtime, settings, tree_of, Device, Hooked, StoreHooks};

/// One journal with two folders, each on its own page (store), like one person's computer.
struct TwoFolders {
    _tmp: tempfile::TempDir,
    syncer: Syncer,
    f1: (FolderId, std::path::PathBuf),
    f2: (FolderId, std::path::PathBuf),
}

impl TwoFolders {
    fn new(settings: SyncSettings) -> TwoFolders {
        let tmp = tempfile::tempdir().expect("temp dir");
        let journal = Journal::open(&tmp.path().join("journal.db")).expect("journal opens");
        let add = |name: &str, page: &str| {
            let root = tmp.path().join(name);
            std::fs::create_dir_all(&root).expect("mkdir");
            let page = tunnel_core::ids::PageId::parse(page).expect("page id");
            let rec = journal.add_folder(&root, &page).expect("folder added");
            Syncer::mark_folder(&root, &rec.folder_uuid).expect("marker");
            (rec.id, root)
        };
        let f1 = add("F1", "111");
        let f2 = add("F2", "222");
        let syncer = Syncer::new(Arc::new(Mutex::new(journal)), settings, "dev-a".into());
        TwoFolders {
            _tmp: tmp,
            syncer,
            f1,
            f2,
        }
    }

    async fn sync(&self, folder: FolderId, store: &dyn RemoteStore) -> Result<(), SyncError> {
        self.syncer
            .sync_folder(folder, store, &SyncOptions::default())
            .await
            .map(|_| ())
    }
}

fn write(root: &std::path::Path, rel: &str, bytes: &[u8]) {
    std::fs::write(root.join(rel), bytes).expect("write");
}

#[test]
fn a_synced_folder_moved_onto_another_is_refused() {
    let rt = runtime();
    rt.block_on(async {
        let (page1, page2) = (MemoryStore::new(), MemoryStore::new());
        // The real guard settings: it stops nothing below 10 files.
        let a = TwoFolders::new(SyncSettings {
            max_delete_share: 0.5,
            max_delete_min_files: 10,
            ..settings()
        });
        let (f1, f1_root) = a.f1.clone();
        let (f2, f2_root) = a.f2.clone();
        for n in 0..3 {
            write(
                &f1_root,
                &format!("one-{n}.txt"),
                format!("<f1> {n}").as_bytes(),
            );
        }
        write(&f2_root, "two.txt", b"<f2> only");
        a.sync(f1, &page1).await.expect("F1 syncs");
        a.sync(f2, &page2).await.expect("F2 syncs");
        let b = Device::new("dev-b");
        b.sync(&page1).await.expect("b syncs F1's page");
        let f1_files = tree_of(&f1_root);
        assert_eq!(b.tree(), f1_files);
        let head_before = page1.read_head().await.expect("head").expect("exists");

        // F1 is replaced by F2 (moved, or restored from a backup, onto F1's path).
        std::fs::remove_dir_all(&f1_root).expect("rm F1");
        std::fs::rename(&f2_root, &f1_root).expect("mv F2 F1");

        let e = a.sync(f1, &page1).await.expect_err("F1 must not sync");
        assert!(
            matches!(e, SyncError::FolderReplaced { .. }),
            "a clear error, not {e:?}"
        );
        assert_eq!(e.code(), ErrorCode::FolderReplaced);
        assert!(!e.is_retryable(), "it needs the person: {e}");
        let text = e.to_string();
        assert!(
            text.contains(&f1_root.display().to_string())
                && text.contains(&f2_root.display().to_string())
                && text.contains("222"),
            "the message names the folder, whose marker it found, and what to do: {text}"
        );
        assert!(
            text.contains("Nothing was uploaded or deleted") && text.contains("add it again"),
            "{text}"
        );
        let head_after = page1.read_head().await.expect("head").expect("exists");
        assert_eq!(
            head_after, head_before,
            "nothing was published to F1's page"
        );
        b.sync(&page1).await.expect("b syncs again");
        assert_eq!(
            b.tree(),
            f1_files,
            "nothing was deleted on the other device"
        );
        assert!(!b.path("two.txt").exists(), "F2's files did not arrive");

        // F2's own path is gone: that is the plain missing-folder error.
        let e = a.sync(f2, &page2).await.expect_err("F2 is gone");
        assert!(matches!(e, SyncError::FolderMissing(_)), "{e:?}");
    });
}

/// A [`MemoryStore`] whose head reads answer "no head" while `vanish` is above zero.
struct Vanishing {
    inner: MemoryStore,
    vanish: AtomicU32,
}

#[async_trait::async_trait]
impl StoreHooks for Vanishing {
    fn inner(&self) -> &MemoryStore {
        &self.inner
    }
    async fn read_head(&self) -> Result<Option<HeadState>, RemoteError> {
        let gone = self
            .vanish
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if gone {
            return Ok(None);
        }
        self.inner.read_head().await
    }
}

fn conflict_copies(d: &Device) -> Vec<String> {
    d.tree()
        .into_keys()
        .filter(|k| k.contains("conflict"))
        .collect()
}

#[test]
fn a_head_missing_for_one_read_costs_the_base_nothing() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        for name in ["a.txt", "b.txt", "c.txt", "d.txt"] {
            a.write(name, format!("<v0> {name}").as_bytes());
        }
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        // Long settled on B: c.txt deleted, b.txt edited. Pending on A: a.txt deleted.
        std::fs::remove_file(b.path("c.txt")).expect("rm c");
        b.write("b.txt", b"<v1> b edited on b");
        b.sync(&store).await.expect("b publishes");
        std::fs::remove_file(a.path("a.txt")).expect("rm a");

        // One head read of A's sync answers "no head" (the page looked wiped for a moment).
        let flaky = Vanishing {
            inner: store.clone(),
            vanish: AtomicU32::new(1),
        };
        let first = a.sync(&Hooked(&flaky)).await;
        assert_eq!(flaky.vanish.load(Ordering::SeqCst), 0, "the fault was used");
        // Whatever that sync did, the next ones see the real head again.
        if let Err(e) = &first {
            assert!(e.is_retryable(), "{e:?}");
        }
        a.sync(&store).await.expect("a again");
        b.sync(&store).await.expect("b again");
        a.sync(&store).await.expect("a settles");

        for d in [&a, &b] {
            let t = d.tree();
            assert!(
                !t.contains_key("c.txt"),
                "{}: c.txt, deleted on b, came back",
                d.id
            );
            assert!(
                !t.contains_key("a.txt"),
                "{}: a.txt, deleted on a, came back",
                d.id
            );
            assert_eq!(
                t.get("b.txt").map(Vec::as_slice),
                Some(&b"<v1> b edited on b"[..]),
                "{}: b's edit lost",
                d.id
            );
            assert!(
                conflict_copies(d).is_empty(),
                "{}: conflict copies appeared: {:?}",
                d.id,
                conflict_copies(d)
            );
        }
        assert_eq!(a.tree(), b.tree());
    });
}

#[test]
fn a_rebuilt_remote_does_not_delete_a_file_unreadable_during_the_rebuild() {
    let rt = runtime();
    rt.block_on(async {
        let old_page = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        a.write("x.txt", b"<v0> x");
        a.write("z.txt", b"<v0> z");
        a.sync(&old_page).await.expect("a");
        b.sync(&old_page).await.expect("b");

        // The page's data is wiped for real (a new, empty page); B, which had deleted z.txt
        // meanwhile, rebuilds it without z.txt.
        std::fs::remove_file(b.path("z.txt")).expect("rm z on b");
        let new_page = MemoryStore::new();
        b.sync(&new_page).await.expect("b rebuilds the remote");
        assert!(!b.path("z.txt").exists());

        // A meets the rebuilt remote while z.txt cannot be read.
        {
            let _unreadable = unreadable(&a.path("z.txt"));
            a.sync(&new_page)
                .await
                .expect("a adopts the rebuilt remote");
        }

        // z.txt is readable again, unchanged: it must be kept (and published), not read as
        // "deleted remotely" on the strength of a base entry from the old remote.
        std::fs::remove_file(a.path("z.txt")).expect("rm the stand-in");
        a.write("z.txt", b"<v0> z");
        a.sync(&new_page).await.expect("a");
        b.sync(&new_page).await.expect("b");
        assert_eq!(
            a.tree().get("z.txt").map(Vec::as_slice),
            Some(&b"<v0> z"[..]),
            "z.txt was deleted on a"
        );
        assert_eq!(a.tree(), b.tree());
    });
}

/// Makes the file at `path` unreadable to the sync while the returned value lives. On Unix a
/// FIFO stands in its place. Windows has no FIFO in a folder (its named pipes live in
/// `\\.\pipe\`), so there the file is rewritten (a new modification time, so the scan must read
/// it) and held open without sharing, as Office holds an open document.
#[cfg(unix)]
fn unreadable(path: &std::path::Path) -> Unreadable {
    std::fs::remove_file(path).expect("rm");
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo");
    Unreadable {}
}

/// See the Unix one.
#[cfg(windows)]
fn unreadable(path: &std::path::Path) -> Unreadable {
    use std::os::windows::fs::OpenOptionsExt as _;
    let content = std::fs::read(path).expect("read");
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(path, content).expect("rewrite");
    let held = std::fs::OpenOptions::new()
        .read(true)
        .share_mode(0)
        .open(path)
        .expect("open without sharing");
    assert!(
        std::fs::File::open(path).is_err(),
        "precondition: the file cannot be opened while held"
    );
    Unreadable { _held: held }
}

/// While it lives, the file it was made for stays unreadable (see [`unreadable`]).
struct Unreadable {
    #[cfg(windows)]
    _held: std::fs::File,
}
