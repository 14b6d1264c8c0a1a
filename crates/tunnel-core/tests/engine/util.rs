//! Shared helpers: a [`Device`] is one journal, one syncer and one synced folder.
//!
//! Invariant: every device of a test shares the same [`MemoryStore`] (one page).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tunnel_core::config::SyncSettings;
use tunnel_core::error::SyncError;
use tunnel_core::events::SyncSummary;
use tunnel_core::ids::FolderId;
use tunnel_core::journal::Journal;
use tunnel_core::remote::memory::MemoryStore;
use tunnel_core::remote::{
    BlobInfo, BlobName, BlobSink, BlobSource, HeadState, RemoteError, RemoteIdentity, RemoteStore,
};
use tunnel_core::sync::{SyncOptions, Syncer};

/// Small chunks and packs so that a few KiB exercise chunking and packing.
pub fn settings() -> SyncSettings {
    SyncSettings {
        chunk_size: 4096,
        pack_threshold: 1024,
        pack_target: 16 * 1024,
        parallel_transfers: 3,
        max_delete_share: 1.0,
        max_delete_min_files: usize::MAX,
        ..SyncSettings::default()
    }
}

/// One device: its own journal and folder.
pub struct Device {
    /// Device id as written in the manifest.
    pub id: String,
    _tmp: tempfile::TempDir,
    /// The synced folder.
    pub root: PathBuf,
    /// The syncer.
    pub syncer: Syncer,
    /// The journal's folder id.
    pub folder: FolderId,
}

impl Device {
    /// A fresh device `id` with an empty, tracked, marked folder.
    pub fn new(id: &str) -> Device {
        Device::with_settings(id, settings())
    }

    /// Like [`Device::new`], with other sync settings.
    pub fn with_settings(id: &str, settings: SyncSettings) -> Device {
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = tmp.path().join("Sync");
        std::fs::create_dir_all(&root).expect("mkdir root");
        let journal = Journal::open(&tmp.path().join("journal.db")).expect("journal opens");
        let page = tunnel_core::ids::PageId::parse("12345").expect("page id");
        let rec = journal.add_folder(&root, &page).expect("folder added");
        Syncer::mark_folder(&root, &rec.folder_uuid).expect("marker");
        // Every "nothing to do" of the no-change path is checked against the full path; every
        // narrow upload looks for its chunks on the whole page (the model test's files are
        // small).
        let syncer = Syncer::new(Arc::new(Mutex::new(journal)), settings, id.to_string())
            .with_no_change_check_for_tests()
            .with_narrow_check_for_tests()
            .with_narrow_lookup_from_for_tests(0);
        Device {
            id: id.to_string(),
            _tmp: tmp,
            root,
            syncer,
            folder: rec.id,
        }
    }

    /// Sync with `store`.
    pub async fn sync(&self, store: &dyn RemoteStore) -> Result<SyncSummary, SyncError> {
        self.syncer
            .sync_folder(self.folder, store, &SyncOptions::default())
            .await
    }

    /// Absolute path of `rel`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Write `bytes` to `rel`, creating parents.
    pub fn write(&self, rel: &str, bytes: &[u8]) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().expect("has parent")).expect("mkdir");
        std::fs::write(&p, bytes).expect("write");
    }

    /// Every visible file with its content.
    pub fn tree(&self) -> BTreeMap<String, Vec<u8>> {
        tree_of(&self.root)
    }
}

pub use test_support::seed::{env_num, seed};
pub use test_support::tree::tree_of;

/// Every hidden entry under `root` other than our marker (leftover temporary files).
pub fn stray_hidden(root: &Path) -> Vec<PathBuf> {
    test_support::tree::stray_hidden(root, tunnel_core::sync::FOLDER_MARKER)
}

/// Pseudo-random bytes: content-defined chunking needs content to cut at, and a chunk of it
/// does not repeat within a file (`test_support::seed::bytes`, length first).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    test_support::seed::bytes(seed, len)
}

/// A multi-threaded runtime for one test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A [`MemoryStore`] that runs `on_get` before serving every blob download: a deterministic
/// way to make something happen in the middle of a sync (a user editing a file, a download
/// that fails: `on_get` returning an error fails that download with it).
pub struct Intercept {
    /// The store served.
    pub inner: MemoryStore,
    /// Called with the blob's name before each `get_blob`.
    pub on_get: OnGet,
}

/// What [`Intercept`] runs before each download.
pub type OnGet = Box<dyn Fn(&BlobName) -> Result<(), RemoteError> + Send + Sync>;

#[async_trait::async_trait]
impl StoreHooks for Intercept {
    fn inner(&self) -> &MemoryStore {
        &self.inner
    }
    async fn get_blob(
        &self,
        name: &BlobName,
        version: Option<u64>,
        range: Option<std::ops::Range<u64>>,
        sink: BlobSink<'_>,
    ) -> Result<u64, RemoteError> {
        (self.on_get)(name)?;
        self.inner.get_blob(name, version, range, sink).await
    }
}

/// What a test's store wrapper changes about a [`MemoryStore`]: the requests a race or a
/// fault needs to step into. Every method not overridden passes straight through; serve it
/// with [`Hooked`].
#[async_trait::async_trait]
pub trait StoreHooks: Send + Sync {
    /// The store behind the hooks.
    fn inner(&self) -> &MemoryStore;
    /// See [`RemoteStore::read_head`].
    async fn read_head(&self) -> Result<Option<HeadState>, RemoteError> {
        self.inner().read_head().await
    }
    /// See [`RemoteStore::get_blob`].
    async fn get_blob(
        &self,
        name: &BlobName,
        version: Option<u64>,
        range: Option<std::ops::Range<u64>>,
        sink: BlobSink<'_>,
    ) -> Result<u64, RemoteError> {
        self.inner().get_blob(name, version, range, sink).await
    }
    /// See [`RemoteStore::list_blobs`].
    async fn list_blobs(&self) -> Result<Vec<BlobInfo>, RemoteError> {
        self.inner().list_blobs().await
    }
    /// See [`RemoteStore::delete_blob`].
    async fn delete_blob(&self, blob: &BlobInfo) -> Result<(), RemoteError> {
        self.inner().delete_blob(blob).await
    }
}

/// A [`RemoteStore`] made of [`StoreHooks`]: one delegating implementation for every test. It
/// borrows the hooks, so a test still reads what they recorded.
pub struct Hooked<'a, H>(pub &'a H);

#[async_trait::async_trait]
impl<H: StoreHooks> RemoteStore for Hooked<'_, H> {
    async fn probe(&self) -> Result<RemoteIdentity, RemoteError> {
        self.0.inner().probe().await
    }
    async fn probe_write(&self) -> Result<(), RemoteError> {
        self.0.inner().probe_write().await
    }
    async fn read_head(&self) -> Result<Option<HeadState>, RemoteError> {
        self.0.read_head().await
    }
    async fn write_head(
        &self,
        value: &serde_json::Value,
        expected: Option<u64>,
    ) -> Result<u64, RemoteError> {
        self.0.inner().write_head(value, expected).await
    }
    async fn put_blob(&self, name: &BlobName, source: BlobSource) -> Result<BlobInfo, RemoteError> {
        self.0.inner().put_blob(name, source).await
    }
    async fn put_mutable(
        &self,
        name: &BlobName,
        data: bytes::Bytes,
    ) -> Result<BlobInfo, RemoteError> {
        self.0.inner().put_mutable(name, data).await
    }
    async fn get_blob(
        &self,
        name: &BlobName,
        version: Option<u64>,
        range: Option<std::ops::Range<u64>>,
        sink: BlobSink<'_>,
    ) -> Result<u64, RemoteError> {
        self.0.get_blob(name, version, range, sink).await
    }
    async fn find_blob(&self, name: &BlobName) -> Result<Option<BlobInfo>, RemoteError> {
        self.0.inner().find_blob(name).await
    }
    async fn list_blobs(&self) -> Result<Vec<BlobInfo>, RemoteError> {
        self.0.list_blobs().await
    }
    async fn delete_blob(&self, blob: &BlobInfo) -> Result<(), RemoteError> {
        self.0.delete_blob(blob).await
    }
    async fn delete_blob_version(&self, blob: &BlobInfo, version: u64) -> Result<(), RemoteError> {
        self.0.inner().delete_blob_version(blob, version).await
    }
}
