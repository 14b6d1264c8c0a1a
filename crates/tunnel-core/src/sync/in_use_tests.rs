//! A file another program holds open (injected: see `crate::in_use::inject`) during a whole
//! sync: it is neither read, replaced nor deleted, it is reported by name, the rest of the
//! folder syncs, and it is never taken for a deletion; once let go it syncs.

use super::test_device::{runtime, Device};
use super::*;
use crate::in_use::inject;
use crate::remote::memory::MemoryStore;

/// Holds `path` for the lifetime of the guard (released even when the test fails).
struct Held(PathBuf);
impl Held {
    fn new(path: PathBuf) -> Held {
        inject::hold(&path);
        Held(path)
    }
}
impl Drop for Held {
    fn drop(&mut self) {
        inject::release(&self.0);
    }
}

#[test]
fn a_held_file_edited_here_is_reported_and_not_uploaded_nor_deleted() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let (a, b) = (Device::new("dev-a"), Device::new("dev-b"));
        a.write("report.docx", b"v0 report");
        a.write("notes.txt", b"v0 notes");
        a.sync(&store).await;
        b.sync(&store).await;

        // Saved in Office and still open there: the scan must read it, and cannot.
        a.write("report.docx", b"v1 report, saved while open");
        a.write("notes.txt", b"v1 notes");
        let held = Held::new(a.root.join("report.docx"));
        let s = a.sync(&store).await;
        assert_eq!(s.in_use, vec!["report.docx".to_string()], "{s:?}");
        assert_eq!(s.deleted_remote, 0, "never read as a deletion");
        assert_eq!(s.uploaded, 1, "the rest of the folder syncs: {s:?}");
        b.sync(&store).await;
        assert_eq!(b.read("notes.txt").as_deref(), Some(&b"v1 notes"[..]));
        assert_eq!(
            b.read("report.docx").as_deref(),
            Some(&b"v0 report"[..]),
            "the other device keeps the file"
        );

        // Closed: the next sync sends it.
        drop(held);
        let s = a.sync(&store).await;
        assert!(s.in_use.is_empty(), "{s:?}");
        b.sync(&store).await;
        assert_eq!(
            b.read("report.docx").as_deref(),
            Some(&b"v1 report, saved while open"[..])
        );
    });
}

#[test]
fn a_held_file_is_not_replaced_nor_deleted_by_another_devices_change() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let (a, b) = (Device::new("dev-a"), Device::new("dev-b"));
        a.write("report.docx", b"v0 report");
        a.write("old.docx", b"v0 old");
        a.sync(&store).await;
        b.sync(&store).await;

        b.write("report.docx", b"v1 from b");
        std::fs::remove_file(b.root.join("old.docx")).expect("rm");
        b.write("new.txt", b"new from b");
        b.sync(&store).await;

        // Both files are open in Office here (unchanged, so the scan does not read them).
        let h1 = Held::new(a.root.join("report.docx"));
        let h2 = Held::new(a.root.join("old.docx"));
        let s = a.sync(&store).await;
        assert_eq!(
            s.in_use,
            vec!["old.docx".to_string(), "report.docx".to_string()],
            "{s:?}"
        );
        assert_eq!(a.read("report.docx").as_deref(), Some(&b"v0 report"[..]));
        assert_eq!(a.read("old.docx").as_deref(), Some(&b"v0 old"[..]));
        assert_eq!(
            a.read("new.txt").as_deref(),
            Some(&b"new from b"[..]),
            "the rest of the folder syncs"
        );
        assert_eq!(s.deleted_remote, 0);
        assert_eq!(s.uploaded, 0, "the held files are not sent back as edits");

        // Closed: the next sync brings both changes.
        drop((h1, h2));
        let s = a.sync(&store).await;
        assert!(s.in_use.is_empty(), "{s:?}");
        assert_eq!(a.read("report.docx").as_deref(), Some(&b"v1 from b"[..]));
        assert_eq!(a.read("old.docx"), None, "deleted as the other device did");
        b.sync(&store).await;
        assert_eq!(b.read("old.docx"), None, "and not brought back");
    });
}

#[test]
fn the_service_status_lists_held_files_until_they_sync() {
    use crate::engine::{EngineChannels, EngineHandle, EngineSettings, StoreFactory};
    use crate::events::SyncStatus;
    use crate::events::WatchMode;
    use crate::remote::RemoteStore;
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        a.write("report.docx", b"v0 report");
        a.sync(&store).await;
        a.write("report.docx", b"v1 report, saved while open");
        let held = Held::new(a.root.join("report.docx"));

        let channels = EngineChannels::new();
        let status = channels.status();
        let stores: StoreFactory = {
            let store = store.clone();
            Arc::new(move |_| Ok(Arc::new(store.clone()) as Arc<dyn RemoteStore>))
        };
        let settings = EngineSettings {
            watch: WatchMode::Polling,
            ..EngineSettings::default()
        };
        let (engine, task) = EngineHandle::spawn(a.syncer.clone(), stores, settings, &channels);
        let wait = |what: &'static str, ok: fn(&SyncStatus) -> bool| {
            let mut status = status.clone();
            async move {
                tokio::time::timeout(std::time::Duration::from_secs(30), async {
                    while !ok(&status.borrow_and_update()) {
                        status.changed().await.expect("engine alive");
                    }
                })
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
            }
        };
        engine.sync_now(None).await.expect("sync requested");
        wait("the held file in the status", |s| {
            s.folders.len() == 1 && s.folders[0].in_use == vec!["report.docx".to_string()]
        })
        .await;

        drop(held);
        engine.sync_now(None).await.expect("sync requested");
        wait("the file synced and gone from the status", |s| {
            s.folders.len() == 1 && s.folders[0].in_use.is_empty()
        })
        .await;
        engine.shutdown().await;
        task.await.expect("the engine ends cleanly");
        let b = Device::new("dev-b");
        b.sync(&store).await;
        assert_eq!(
            b.read("report.docx").as_deref(),
            Some(&b"v1 report, saved while open"[..])
        );
    });
}

/// Open `path` as Office opens a document: no sharing at all (Windows).
#[cfg(windows)]
fn open_like_office(path: &Path) -> std::fs::File {
    use std::os::windows::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .share_mode(0)
        .open(path)
        .expect("open without sharing")
}

/// The same as the injected tests above with real sharing violations (Windows; Wine
/// implements share modes): an edited document open here is not sent, and a change from
/// another device neither replaces nor deletes a document open here.
#[cfg(windows)]
#[test]
fn documents_open_without_sharing_are_left_and_reported_on_windows() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let (a, b) = (Device::new("dev-a"), Device::new("dev-b"));
        a.write("edited.docx", b"v0 edited");
        a.write("report.docx", b"v0 report");
        a.write("old.docx", b"v0 old");
        a.sync(&store).await;
        b.sync(&store).await;

        a.write("edited.docx", b"v1 saved while open");
        b.write("report.docx", b"v1 from b");
        std::fs::remove_file(b.root.join("old.docx")).expect("rm");
        b.write("new.txt", b"new from b");
        b.sync(&store).await;
        let open: Vec<std::fs::File> = ["edited.docx", "report.docx", "old.docx"]
            .iter()
            .map(|n| open_like_office(&a.root.join(n)))
            .collect();
        let s = a.sync(&store).await;
        assert_eq!(
            s.in_use,
            vec![
                "edited.docx".to_string(),
                "old.docx".to_string(),
                "report.docx".to_string()
            ],
            "{s:?}"
        );
        assert_eq!(s.deleted_remote, 0, "{s:?}");
        assert_eq!(a.read("new.txt").as_deref(), Some(&b"new from b"[..]));

        drop(open);
        let s = a.sync(&store).await;
        assert!(s.in_use.is_empty(), "{s:?}");
        assert_eq!(a.read("report.docx").as_deref(), Some(&b"v1 from b"[..]));
        assert_eq!(a.read("old.docx"), None);
        b.sync(&store).await;
        assert_eq!(
            b.read("edited.docx").as_deref(),
            Some(&b"v1 saved while open"[..])
        );
    });
}
