//! A device for the sync unit tests: one journal, one syncer, one synced folder (the
//! integration tests in tests/engine have a fuller one; these tests need the crate's
//! test-only hooks, so they live inside it).

use super::*;
use crate::remote::memory::MemoryStore;

pub(super) struct Device {
    pub(super) _tmp: tempfile::TempDir,
    pub(super) root: PathBuf,
    pub(super) syncer: Syncer,
    pub(super) folder: FolderId,
}

impl Device {
    pub(super) fn new(id: &str) -> Device {
        Device::with_settings(id, SyncSettings::default())
    }

    /// A device whose syncer uses `settings` (deletion guards off, as in [`Device::new`]).
    pub(super) fn with_settings(id: &str, settings: SyncSettings) -> Device {
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = tmp.path().join("Sync");
        std::fs::create_dir_all(&root).expect("mkdir root");
        let journal = Journal::open(&tmp.path().join("journal.db")).expect("journal");
        let page = crate::ids::PageId::parse("12345").expect("page id");
        let rec = journal.add_folder(&root, &page).expect("folder added");
        Syncer::mark_folder(&root, &rec.folder_uuid).expect("marker");
        let settings = SyncSettings {
            max_delete_share: 1.0,
            max_delete_min_files: usize::MAX,
            ..settings
        };
        Device {
            // Every "nothing to do" of the no-change path is checked against the full path.
            syncer: Syncer::new(Arc::new(Mutex::new(journal)), settings, id.into())
                .with_no_change_check_for_tests()
                .with_narrow_check_for_tests(),
            _tmp: tmp,
            root,
            folder: rec.id,
        }
    }

    pub(super) async fn sync(&self, store: &MemoryStore) -> SyncSummary {
        self.syncer
            .sync_folder(self.folder, store, &SyncOptions::default())
            .await
            .expect("the sync completes")
    }

    /// Write `rel` with an mtime in the past, so that the scan cache vouches for it later
    /// (a file written just now is read again on every scan).
    pub(super) fn write(&self, rel: &str, bytes: &[u8]) {
        let p = self.root.join(rel);
        std::fs::write(&p, bytes).expect("write");
        let past = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .expect("open");
        f.set_modified(past).expect("backdate");
    }

    pub(super) fn read(&self, rel: &str) -> Option<Vec<u8>> {
        std::fs::read(self.root.join(rel)).ok()
    }
}

pub(super) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}
