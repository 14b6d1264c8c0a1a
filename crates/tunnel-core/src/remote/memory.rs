//! `MemoryStore`: an in-process [`RemoteStore`] for engine tests, with failure injection.
//!
//! It keeps the contract written in [`crate::remote`] the way the Confluence client does:
//! - the head is a compare-and-swap value with a version (1 on creation, +1 per write);
//! - `put_blob` is idempotent: an existing blob of the same size is returned as is (no bytes
//!   counted as sent); other bytes under that name become a new version (a repaired upload);
//! - mutable blobs keep every version; `get_blob` reads any version and any byte range (end
//!   exclusive, clamped to the size);
//! - names are compared case-insensitively; deleted blobs move to a trash;
//! - every version records when it was written (`BlobInfo::modified_ms`, the system clock);
//! - a file source ([`BlobSource::File`], [`BlobSource::Open`]) is read and hashed, and the upload fails with
//!   [`RemoteError::SourceChanged`] when the bytes do not match, leaving nothing behind.
//!
//! Test controls: [`MemoryStore::fail_next`], [`MemoryStore::request_count`],
//! [`MemoryStore::blob_names`], [`MemoryStore::blob_bytes`], [`MemoryStore::set_on_put`] (a
//! hook when an upload starts), [`MemoryStore::record_sources`] (every byte read from files,
//! even of refused uploads). Clones share one state, so two
//! engines holding clones are two devices on one page.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use super::{
    BlobInfo, BlobName, BlobSink, BlobSource, HeadState, RemoteError, RemoteIdentity, RemoteStore,
};
use crate::hash::Hasher;

/// The store's operations, for failure injection and request counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MemOp {
    /// [`RemoteStore::probe`].
    Probe,
    /// [`RemoteStore::probe_write`].
    ProbeWrite,
    /// [`RemoteStore::read_head`].
    ReadHead,
    /// [`RemoteStore::write_head`].
    WriteHead,
    /// [`RemoteStore::put_blob`].
    PutBlob,
    /// [`RemoteStore::put_mutable`].
    PutMutable,
    /// [`RemoteStore::get_blob`].
    GetBlob,
    /// [`RemoteStore::find_blob`].
    FindBlob,
    /// [`RemoteStore::list_blobs`].
    ListBlobs,
    /// [`RemoteStore::delete_blob`].
    DeleteBlob,
    /// [`RemoteStore::delete_blob_version`].
    DeleteBlobVersion,
}

/// Size of the read buffer when streaming a file source.
const UPLOAD_BUFFER: usize = 256 * 1024;

struct StoredBlob {
    id: String,
    /// Version number → bytes; deleted versions are removed.
    versions: BTreeMap<u64, Bytes>,
    /// Version number → when it was written (the store's clock, ms since the Unix epoch).
    written_ms: BTreeMap<u64, i64>,
}

impl StoredBlob {
    fn latest(&self) -> Option<(u64, &Bytes)> {
        self.versions.iter().next_back().map(|(v, b)| (*v, b))
    }
    fn info(&self, name: &BlobName) -> Option<BlobInfo> {
        self.latest().map(|(version, bytes)| BlobInfo {
            name: name.clone(),
            id: self.id.clone(),
            size: bytes.len() as u64,
            version,
            modified_ms: self.written_ms.get(&version).copied(),
        })
    }
}

struct Failure {
    op: MemOp,
    make: fn() -> RemoteError,
    times: usize,
}

#[derive(Default)]
struct State {
    head: Option<HeadState>,
    /// Keyed by the lower-cased name.
    blobs: BTreeMap<String, (BlobName, StoredBlob)>,
    trash: Vec<(BlobName, StoredBlob)>,
    next_id: u64,
    failures: Vec<Failure>,
    counts: HashMap<MemOp, u64>,
    bytes_received: u64,
    max_blob_size: Option<u64>,
    /// Every byte read from a file source, kept when `record_sources` is on.
    record_sources: bool,
    sources_read: Vec<Bytes>,
    /// Run when a `put_blob` starts (tests: change the disk between scan and upload).
    on_put: Option<PutHook>,
    /// Downloads (`get_blob`) under way now, and the most there ever were at once.
    gets_open: u64,
    gets_open_max: u64,
}

/// One download under way, counted in [`MemoryStore::max_open_downloads`] until dropped.
struct OpenDownload<'a>(&'a MemoryStore);

impl<'a> OpenDownload<'a> {
    fn start(store: &'a MemoryStore) -> Self {
        let mut st = store.lock();
        st.gets_open += 1;
        st.gets_open_max = st.gets_open_max.max(st.gets_open);
        OpenDownload(store)
    }
}

impl Drop for OpenDownload<'_> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.gets_open = st.gets_open.saturating_sub(1);
    }
}

/// See [`MemoryStore::set_on_put`].
pub type PutHook = Arc<dyn Fn(&BlobName) + Send + Sync>;

/// In-memory remote store; see the module docs.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

fn key(name: &BlobName) -> String {
    name.as_str().to_ascii_lowercase()
}

impl MemoryStore {
    /// An empty store (no head, no blobs).
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in another test thread must not hide this test's result.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The store's clock (the system clock), in ms since the Unix epoch.
    fn now_ms() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    /// Refuse blobs larger than `limit` bytes with [`RemoteError::TooLarge`].
    pub fn set_max_blob_size(&self, limit: Option<u64>) {
        self.lock().max_blob_size = limit;
    }

    /// Make the next `times` calls of `op` fail with `err()` (before they change anything).
    /// Several injections queue up in order.
    pub fn fail_next(&self, op: MemOp, err: fn() -> RemoteError, times: usize) {
        if times > 0 {
            self.lock().failures.push(Failure {
                op,
                make: err,
                times,
            });
        }
    }

    /// Keep every byte read from a file source, even of uploads refused afterwards because
    /// the bytes did not match (a real server would have received most of them).
    pub fn record_sources(&self, on: bool) {
        self.lock().record_sources = on;
    }

    /// The bytes read from file sources since [`MemoryStore::record_sources`] was turned on.
    pub fn sources_read(&self) -> Vec<Bytes> {
        self.lock().sources_read.clone()
    }

    /// Run `hook` with the blob's name whenever a `put_blob` starts (before it reads its
    /// source); `None` removes it.
    pub fn set_on_put(&self, hook: Option<PutHook>) {
        self.lock().on_put = hook;
    }

    /// How many calls of `op` were made (failed ones included).
    pub fn request_count(&self, op: MemOp) -> u64 {
        self.lock().counts.get(&op).copied().unwrap_or(0)
    }

    /// Total bytes received by uploads that stored bytes (idempotent no-ops count zero).
    pub fn bytes_received(&self) -> u64 {
        self.lock().bytes_received
    }

    /// Names of the live (not deleted) blobs, sorted.
    pub fn blob_names(&self) -> Vec<BlobName> {
        self.lock().blobs.values().map(|(n, _)| n.clone()).collect()
    }

    /// Names of deleted (trashed) blobs, in deletion order.
    pub fn trashed_names(&self) -> Vec<BlobName> {
        self.lock().trash.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The latest bytes of a live blob.
    pub fn blob_bytes(&self, name: &BlobName) -> Option<Bytes> {
        self.lock()
            .blobs
            .get(&key(name))
            .and_then(|(_, b)| b.latest().map(|(_, bytes)| bytes.clone()))
    }

    /// The version numbers a live blob still holds.
    pub fn blob_versions(&self, name: &BlobName) -> Vec<u64> {
        self.lock()
            .blobs
            .get(&key(name))
            .map(|(_, b)| b.versions.keys().copied().collect())
            .unwrap_or_default()
    }

    /// The current head, as a test would inspect it.
    pub fn head(&self) -> Option<HeadState> {
        self.lock().head.clone()
    }

    /// Replace the head as another writer would (its version moves on), bypassing the
    /// compare-and-swap; returns the new version.
    pub fn force_head(&self, value: serde_json::Value) -> u64 {
        let mut st = self.lock();
        let version = st.head.as_ref().map_or(1, |h| h.version + 1);
        st.head = Some(HeadState { value, version });
        version
    }

    /// Remove a blob without a trace (simulates an attachment deleted by someone else).
    pub fn remove_blob(&self, name: &BlobName) -> bool {
        self.lock().blobs.remove(&key(name)).is_some()
    }

    /// Overwrite a blob's latest bytes without any check (simulates corruption on the server).
    pub fn corrupt_blob(&self, name: &BlobName, bytes: Bytes) -> bool {
        let mut st = self.lock();
        match st.blobs.get_mut(&key(name)) {
            Some((_, blob)) => match blob.versions.iter_mut().next_back() {
                Some((_, b)) => {
                    *b = bytes;
                    true
                }
                None => false,
            },
            None => false,
        }
    }

    /// Count the call and pop an injected failure for `op`.
    /// The most downloads (`get_blob`) that were ever under way at once: each one yields to
    /// the runtime before it answers, so downloads started together overlap.
    pub fn max_open_downloads(&self) -> u64 {
        self.lock().gets_open_max
    }

    fn enter(&self, op: MemOp) -> Result<(), RemoteError> {
        let mut st = self.lock();
        *st.counts.entry(op).or_insert(0) += 1;
        if let Some(i) = st.failures.iter().position(|f| f.op == op) {
            let make = st.failures[i].make;
            st.failures[i].times -= 1;
            if st.failures[i].times == 0 {
                st.failures.remove(i);
            }
            return Err(make());
        }
        Ok(())
    }

    fn check_size(st: &State, len: u64) -> Result<(), RemoteError> {
        match st.max_blob_size {
            Some(limit) if len > limit => Err(RemoteError::TooLarge {
                limit: Some(limit),
                message: format!("{len} bytes is over the limit of {limit}"),
            }),
            _ => Ok(()),
        }
    }

    /// Store `data` as a new version of `name` (creating it), returning its info.
    fn store_version(st: &mut State, name: &BlobName, data: Bytes) -> BlobInfo {
        st.bytes_received += data.len() as u64;
        let now_ms = Self::now_ms();
        let k = key(name);
        if !st.blobs.contains_key(&k) {
            st.next_id += 1;
            let id = format!("att{}", st.next_id);
            st.blobs.insert(
                k.clone(),
                (
                    name.clone(),
                    StoredBlob {
                        id,
                        versions: BTreeMap::new(),
                        written_ms: BTreeMap::new(),
                    },
                ),
            );
        }
        let (stored_name, blob) = st.blobs.get_mut(&k).expect("inserted above");
        let version = blob.latest().map_or(1, |(v, _)| v + 1);
        blob.versions.insert(version, data);
        blob.written_ms.insert(version, now_ms);
        blob.info(stored_name).expect("a version was just added")
    }

    /// Read the bytes of a source, checking a file source against its hash.
    async fn read_source(&self, source: &BlobSource) -> Result<Bytes, RemoteError> {
        match source {
            BlobSource::Bytes(b) => Ok(b.clone()),
            BlobSource::Members { bytes, .. } => Ok(bytes.clone()),
            BlobSource::File { len, sha256, .. } | BlobSource::Open { len, sha256, .. } => {
                let (len, sha256) = (*len, *sha256);
                let Some(opened) = source.reader() else {
                    return Err(RemoteError::Protocol("not a file source".into()));
                };
                let (mut reader, path) = opened?;
                let path = path.to_path_buf();
                let record = self.lock().record_sources;
                let (out, hash) = tokio::task::spawn_blocking(move || {
                    use std::io::Read;
                    let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
                    let mut hasher = Hasher::new();
                    let mut buf = vec![0u8; UPLOAD_BUFFER];
                    let mut left = len;
                    while left > 0 {
                        let want = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
                        let n = reader.read(&mut buf[..want])?;
                        if n == 0 {
                            // Shorter than announced: the file was truncated under us.
                            break;
                        }
                        hasher.update(&buf[..n]);
                        out.extend_from_slice(&buf[..n]);
                        left -= n as u64;
                    }
                    Ok::<_, std::io::Error>((out, hasher.finish()))
                })
                .await
                .map_err(|e| RemoteError::Io(std::io::Error::other(e)))??;
                if record {
                    // What a real server would have received over the wire before the check.
                    self.lock().sources_read.push(Bytes::from(out.clone()));
                }
                if out.len() as u64 != len || hash != sha256 {
                    return Err(RemoteError::SourceChanged(path));
                }
                Ok(Bytes::from(out))
            }
        }
    }
}

#[async_trait]
impl RemoteStore for MemoryStore {
    async fn probe(&self) -> Result<RemoteIdentity, RemoteError> {
        self.enter(MemOp::Probe)?;
        Ok(RemoteIdentity {
            user: "memory".into(),
            title: "in-memory store".into(),
            max_blob_size: self.lock().max_blob_size,
        })
    }

    async fn probe_write(&self) -> Result<(), RemoteError> {
        self.enter(MemOp::ProbeWrite)
    }

    async fn read_head(&self) -> Result<Option<HeadState>, RemoteError> {
        self.enter(MemOp::ReadHead)?;
        Ok(self.lock().head.clone())
    }

    async fn write_head(
        &self,
        value: &serde_json::Value,
        expected: Option<u64>,
    ) -> Result<u64, RemoteError> {
        self.enter(MemOp::WriteHead)?;
        let mut st = self.lock();
        let current = st.head.as_ref().map(|h| h.version);
        if current != expected {
            return Err(RemoteError::Conflict { current });
        }
        let version = current.map_or(1, |v| v + 1);
        st.head = Some(HeadState {
            value: value.clone(),
            version,
        });
        Ok(version)
    }

    async fn put_blob(&self, name: &BlobName, source: BlobSource) -> Result<BlobInfo, RemoteError> {
        self.put_blob_created(name, source)
            .await
            .map(|(info, _)| info)
    }

    async fn put_blob_created(
        &self,
        name: &BlobName,
        source: BlobSource,
    ) -> Result<(BlobInfo, bool), RemoteError> {
        self.enter(MemOp::PutBlob)?;
        let hook = self.lock().on_put.clone();
        if let Some(hook) = hook {
            hook(name);
        }
        {
            let st = self.lock();
            Self::check_size(&st, source.len())?;
            if let Some((stored_name, blob)) = st.blobs.get(&key(name)) {
                if let Some(info) = blob.info(stored_name) {
                    if info.size == source.len() {
                        return Ok((info, false));
                    }
                }
            }
        }
        let data = self.read_source(&source).await?;
        let mut st = self.lock();
        // Created only when no attachment of that name was there (else a new version).
        let created = !st.blobs.contains_key(&key(name));
        Ok((Self::store_version(&mut st, name, data), created))
    }

    async fn put_mutable(&self, name: &BlobName, data: Bytes) -> Result<BlobInfo, RemoteError> {
        self.enter(MemOp::PutMutable)?;
        let mut st = self.lock();
        Self::check_size(&st, data.len() as u64)?;
        Ok(Self::store_version(&mut st, name, data))
    }

    async fn get_blob(
        &self,
        name: &BlobName,
        version: Option<u64>,
        range: Option<Range<u64>>,
        sink: BlobSink<'_>,
    ) -> Result<u64, RemoteError> {
        self.enter(MemOp::GetBlob)?;
        let _open = OpenDownload::start(self);
        // A real server answers later: let the other downloads started together begin first.
        tokio::task::yield_now().await;
        let bytes = {
            let st = self.lock();
            let (_, blob) = st
                .blobs
                .get(&key(name))
                .ok_or_else(|| RemoteError::NotFound(format!("blob {name}")))?;
            match version {
                Some(v) => blob
                    .versions
                    .get(&v)
                    .cloned()
                    .ok_or_else(|| RemoteError::NotFound(format!("blob {name} version {v}")))?,
                None => blob
                    .latest()
                    .map(|(_, b)| b.clone())
                    .ok_or_else(|| RemoteError::NotFound(format!("blob {name}")))?,
            }
        };
        let size = bytes.len() as u64;
        let (start, end) = match range {
            None => (0, size),
            Some(r) if r.end < r.start => {
                return Err(RemoteError::Protocol(format!(
                    "invalid byte range {}..{}",
                    r.start, r.end
                )))
            }
            Some(r) if r.start == r.end => return Ok(0),
            Some(r) if r.start >= size => {
                return Err(RemoteError::Protocol(format!(
                    "range {}..{} starts past the end of {name} ({size} bytes)",
                    r.start, r.end
                )))
            }
            Some(r) => (r.start, r.end.min(size)),
        };
        // Both bounds are ≤ size, which is a usize.
        let slice = bytes.slice(start as usize..end as usize);
        sink.write_all(&slice).await?;
        sink.flush().await?;
        Ok(end - start)
    }

    async fn find_blob(&self, name: &BlobName) -> Result<Option<BlobInfo>, RemoteError> {
        self.enter(MemOp::FindBlob)?;
        let st = self.lock();
        Ok(st
            .blobs
            .get(&key(name))
            .and_then(|(stored_name, blob)| blob.info(stored_name)))
    }

    async fn list_blobs(&self) -> Result<Vec<BlobInfo>, RemoteError> {
        self.enter(MemOp::ListBlobs)?;
        let st = self.lock();
        Ok(st.blobs.values().filter_map(|(n, b)| b.info(n)).collect())
    }

    async fn delete_blob(&self, blob: &BlobInfo) -> Result<(), RemoteError> {
        self.enter(MemOp::DeleteBlob)?;
        let mut st = self.lock();
        match st.blobs.remove(&key(&blob.name)) {
            Some(entry) => {
                st.trash.push(entry);
                Ok(())
            }
            None => Err(RemoteError::NotFound(format!("blob {}", blob.name))),
        }
    }

    async fn delete_blob_version(&self, blob: &BlobInfo, version: u64) -> Result<(), RemoteError> {
        self.enter(MemOp::DeleteBlobVersion)?;
        let mut st = self.lock();
        let (_, stored) = st
            .blobs
            .get_mut(&key(&blob.name))
            .ok_or_else(|| RemoteError::NotFound(format!("blob {}", blob.name)))?;
        if stored.latest().map(|(v, _)| v) == Some(version) {
            return Err(RemoteError::Protocol(format!(
                "cannot delete the current version {version} of {}",
                blob.name
            )));
        }
        stored
            .versions
            .remove(&version)
            .map(|_| ())
            .ok_or_else(|| RemoteError::NotFound(format!("blob {} version {version}", blob.name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Digest;

    fn name(s: &str) -> BlobName {
        BlobName::new(s).expect("valid name")
    }

    async fn read(
        store: &MemoryStore,
        n: &BlobName,
        v: Option<u64>,
        r: Option<Range<u64>>,
    ) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::new();
        let got = store.get_blob(n, v, r, &mut out).await.expect("get_blob");
        assert_eq!(got, out.len() as u64, "returned count is what was written");
        out
    }

    #[tokio::test]
    async fn head_is_compare_and_swap() {
        let s = MemoryStore::new();
        assert!(s.read_head().await.expect("read").is_none());
        let v1 = s
            .write_head(&serde_json::json!({"seq": 1}), None)
            .await
            .expect("create");
        assert_eq!(v1, 1);
        let err = s
            .write_head(&serde_json::json!({"seq": 9}), None)
            .await
            .expect_err("head exists: creating again must conflict");
        assert!(matches!(err, RemoteError::Conflict { current: Some(1) }));
        let v2 = s
            .write_head(&serde_json::json!({"seq": 2}), Some(1))
            .await
            .expect("cas");
        assert_eq!(v2, 2);
        let err = s
            .write_head(&serde_json::json!({"seq": 3}), Some(1))
            .await
            .expect_err("stale version");
        assert!(matches!(err, RemoteError::Conflict { current: Some(2) }));
        let head = s.read_head().await.expect("read").expect("exists");
        assert_eq!(
            head.value,
            serde_json::json!({"seq": 2}),
            "the losing write changed nothing"
        );
        assert_eq!(head.version, 2);
    }

    #[tokio::test]
    async fn put_blob_is_idempotent_and_ranges_work() {
        let s = MemoryStore::new();
        let n = name("c-abc");
        let info = s
            .put_blob(&n, BlobSource::Bytes(Bytes::from_static(b"0123456789")))
            .await
            .expect("put");
        assert_eq!((info.size, info.version), (10, 1));
        let again = s
            .put_blob(&n, BlobSource::Bytes(Bytes::from_static(b"0123456789")))
            .await
            .expect("put again");
        assert_eq!(again, info, "same name and size: returned as is");
        assert_eq!(s.bytes_received(), 10, "the second put sent nothing");
        assert_eq!(read(&s, &n, None, Some(2..5)).await, b"234");
        assert_eq!(
            read(&s, &n, None, Some(8..100)).await,
            b"89",
            "end clamped to size"
        );
        assert_eq!(read(&s, &n, None, Some(4..4)).await, b"");
        let mut sink: Vec<u8> = Vec::new();
        assert!(s.get_blob(&n, None, Some(20..30), &mut sink).await.is_err());
        assert_eq!(read(&s, &n, None, None).await, b"0123456789");
        // Other bytes under the name repair it as a new version.
        let fixed = s
            .put_blob(&n, BlobSource::Bytes(Bytes::from_static(b"xyz")))
            .await
            .expect("put");
        assert_eq!(
            (fixed.size, fixed.version, fixed.id.as_str()),
            (3, 2, info.id.as_str())
        );
    }

    #[tokio::test]
    async fn mutable_blobs_keep_versions() {
        let s = MemoryStore::new();
        let n = name("manifest.json");
        assert_eq!(
            s.put_mutable(&n, Bytes::from_static(b"one"))
                .await
                .expect("v1")
                .version,
            1
        );
        assert_eq!(
            s.put_mutable(&n, Bytes::from_static(b"two"))
                .await
                .expect("v2")
                .version,
            2
        );
        assert_eq!(read(&s, &n, Some(1), None).await, b"one");
        assert_eq!(read(&s, &n, None, None).await, b"two");
        let info = s.find_blob(&n).await.expect("find").expect("exists");
        s.delete_blob_version(&info, 1)
            .await
            .expect("delete old version");
        assert_eq!(s.blob_versions(&n), vec![2]);
        let mut sink: Vec<u8> = Vec::new();
        let err = s
            .get_blob(&n, Some(1), None, &mut sink)
            .await
            .expect_err("gone");
        assert!(matches!(err, RemoteError::NotFound(_)));
        assert!(
            s.delete_blob_version(&info, 2).await.is_err(),
            "the current version stays"
        );
    }

    #[tokio::test]
    async fn delete_moves_to_trash_and_list_finds_live_blobs() {
        let s = MemoryStore::new();
        let a = s
            .put_blob(&name("a"), BlobSource::Bytes(Bytes::from_static(b"a")))
            .await
            .expect("a");
        s.put_blob(&name("b"), BlobSource::Bytes(Bytes::from_static(b"bb")))
            .await
            .expect("b");
        assert_eq!(s.list_blobs().await.expect("list").len(), 2);
        s.delete_blob(&a).await.expect("delete");
        assert_eq!(s.blob_names(), vec![name("b")]);
        assert_eq!(s.trashed_names(), vec![name("a")]);
        assert!(s.find_blob(&name("a")).await.expect("find").is_none());
        assert!(matches!(
            s.delete_blob(&a).await,
            Err(RemoteError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn file_source_is_hash_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello world").expect("write");
        let s = MemoryStore::new();
        let good = BlobSource::File {
            path: path.clone(),
            offset: 6,
            len: 5,
            sha256: Digest::of(b"world"),
        };
        s.put_blob(&name("w"), good)
            .await
            .expect("matching slice uploads");
        assert_eq!(
            s.blob_bytes(&name("w")).expect("stored"),
            Bytes::from_static(b"world")
        );
        let bad = BlobSource::File {
            path: path.clone(),
            offset: 0,
            len: 5,
            sha256: Digest::of(b"HELLO"),
        };
        let err = s
            .put_blob(&name("h"), bad)
            .await
            .expect_err("hash mismatch");
        assert!(matches!(err, RemoteError::SourceChanged(p) if p == path));
        assert!(
            s.blob_bytes(&name("h")).is_none(),
            "nothing is committed on mismatch"
        );
        let short = BlobSource::File {
            path: path.clone(),
            offset: 8,
            len: 10,
            sha256: Digest::of(b"rld"),
        };
        assert!(matches!(
            s.put_blob(&name("s"), short).await,
            Err(RemoteError::SourceChanged(_))
        ));
    }

    #[tokio::test]
    async fn failures_are_injected_counted_and_shared_by_clones() {
        let s = MemoryStore::new();
        let other = s.clone();
        s.fail_next(
            MemOp::ReadHead,
            || RemoteError::Unreachable("down".into()),
            2,
        );
        assert!(matches!(
            other.read_head().await,
            Err(RemoteError::Unreachable(_))
        ));
        assert!(matches!(
            s.read_head().await,
            Err(RemoteError::Unreachable(_))
        ));
        assert!(
            other.read_head().await.is_ok(),
            "two failures, then success"
        );
        assert_eq!(s.request_count(MemOp::ReadHead), 3);
        assert_eq!(s.request_count(MemOp::WriteHead), 0);
        other
            .write_head(&serde_json::json!(1), None)
            .await
            .expect("write");
        assert_eq!(s.head().expect("visible through the clone").version, 1);
        s.fail_next(
            MemOp::PutBlob,
            || RemoteError::Server {
                status: 503,
                message: "x".into(),
            },
            1,
        );
        assert!(s
            .put_blob(&name("z"), BlobSource::Bytes(Bytes::from_static(b"z")))
            .await
            .is_err());
        assert!(s.blob_names().is_empty(), "a failed call changes nothing");
    }

    #[tokio::test]
    async fn foreign_writes_are_visible_to_cas() {
        let s = MemoryStore::new();
        let v = s
            .write_head(&serde_json::json!(1), None)
            .await
            .expect("create");
        assert_eq!(s.force_head(serde_json::json!(2)), v + 1);
        assert!(
            matches!(
                s.write_head(&serde_json::json!(3), Some(v)).await,
                Err(RemoteError::Conflict { .. })
            ),
            "a forced head makes our stale CAS lose"
        );
        s.put_blob(&name("gone"), BlobSource::Bytes(Bytes::from_static(b"g")))
            .await
            .expect("put");
        assert!(s.remove_blob(&name("gone")));
        assert!(s.find_blob(&name("gone")).await.expect("find").is_none());
        assert!(s.trashed_names().is_empty(), "removed without a trace");
    }

    #[tokio::test]
    async fn too_large_is_refused() {
        let s = MemoryStore::new();
        s.set_max_blob_size(Some(3));
        let err = s
            .put_blob(&name("big"), BlobSource::Bytes(Bytes::from_static(b"1234")))
            .await
            .expect_err("limit");
        assert!(matches!(err, RemoteError::TooLarge { limit: Some(3), .. }));
    }
}
