//! The blobs a sync created on the page itself, and when: what lets a commit spare the
//! immediate existence check of what it has just written (issue 16 item 5: a 1-byte edit of
//! a big file in at most 5 requests).
//!
//! The argument (docs/remote-format.md, "The committer's side"): a collector trashes a blob
//! only when its listing showed it written at least the grace before the newest attachment
//! of that listing (C3), and that listing came before the collector's last head read, which
//! came before the commit that first references the blob again (C2, C4). An attachment this
//! sync's own upload created is no older than the moment that upload began; so if the
//! commit's compare-and-swap came less than the shortest grace any collector may use after
//! that moment, no collector's listing can have shown the attachment old enough: nothing can
//! have trashed it by the time of the check right after the commit, and the check is spared.
//! A trash request decided on a listing from before the upload names an earlier attachment
//! (by its id), never the one the upload created. Blobs the commit found on the page and
//! re-used, blobs an upload found already there, and blobs whose upload began too long before
//! the compare-and-swap are checked at once as before; every introduced blob is still checked
//! once more an hour later (`verify.rs`).
//!
//! [`Recording`] wraps the store for one attempt of a sync and notes each upload that says it
//! created its attachment ([`RemoteStore::put_blob_created`]); [`spared`] is the decision.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;

use crate::clock::unix_now_ns;
use crate::remote::{
    BlobInfo, BlobName, BlobSink, BlobSource, HeadState, RemoteError, RemoteIdentity, RemoteStore,
};

/// What is taken off the shortest grace before an upload counts as recent enough (seconds):
/// room for what no clock here measures (the server's clock running at another rate, a
/// listing's newest attachment lagging behind the server's now), far more than either needs.
pub(crate) const SAFETY_MARGIN_SECS: u64 = 30 * 60;

/// How long after the start of its upload a blob this sync created may be committed without
/// the immediate check (seconds), given `grace_secs`, the grace this device's own collector
/// uses. Collectors elsewhere may use any grace down to [`crate::config::MIN_GC_GRACE_SECS`],
/// so the shorter of the two counts; a test-only grace below the minimum shortens it, and any
/// grace of at most the margin leaves nothing spared (so tests that shorten the grace still
/// see the check).
pub(crate) fn spare_window_secs(grace_secs: u64) -> u64 {
    grace_secs
        .min(crate::config::MIN_GC_GRACE_SECS)
        .saturating_sub(SAFETY_MARGIN_SECS)
}

/// A moment on two clocks: the monotonic one (which stops while the machine sleeps on some
/// systems) and the wall clock (which may be set back). Time between two stamps is the
/// longer of the two readings, so neither a suspended machine nor a clock set back makes an
/// upload look more recent than it is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stamp {
    mono: Instant,
    wall_ns: i64,
}

impl Stamp {
    /// Now.
    pub(crate) fn now() -> Self {
        Stamp {
            mono: Instant::now(),
            wall_ns: unix_now_ns(),
        }
    }

    /// Whole seconds from `self` to `later`, by the clock that measured more (rounded up).
    pub(crate) fn secs_until(&self, later: &Stamp) -> u64 {
        let mono = later.mono.saturating_duration_since(self.mono);
        let mono_ns = u64::try_from(mono.as_nanos()).unwrap_or(u64::MAX);
        let wall_ns = u64::try_from(later.wall_ns.saturating_sub(self.wall_ns)).unwrap_or(0);
        mono_ns.max(wall_ns).div_ceil(1_000_000_000)
    }

    #[cfg(test)]
    fn shifted(&self, mono_secs: u64, wall_secs: i64) -> Stamp {
        Stamp {
            mono: self.mono + std::time::Duration::from_secs(mono_secs),
            wall_ns: self.wall_ns + wall_secs * 1_000_000_000,
        }
    }
}

/// The blobs of `introduced` whose immediate check after a commit is spared: each created by
/// an upload of this attempt (`created`: the moment that upload began) that began less than
/// `window_secs` before `committed`, the moment the compare-and-swap returned.
pub(crate) fn spared(
    introduced: &BTreeSet<BlobName>,
    created: &HashMap<BlobName, Stamp>,
    committed: &Stamp,
    window_secs: u64,
) -> BTreeSet<BlobName> {
    introduced
        .iter()
        .filter(|b| {
            created
                .get(*b)
                .is_some_and(|began| began.secs_until(committed) < window_secs)
        })
        .cloned()
        .collect()
}

/// A store that notes the blobs its uploads created (see the module's text); everything else
/// passes straight through.
pub(crate) struct Recording<'a> {
    inner: &'a dyn RemoteStore,
    created: Mutex<HashMap<BlobName, Stamp>>,
}

impl<'a> Recording<'a> {
    pub(crate) fn new(inner: &'a dyn RemoteStore) -> Self {
        Recording {
            inner,
            created: Mutex::new(HashMap::new()),
        }
    }

    /// The blobs uploads through this store created, each with the moment its upload began.
    pub(crate) fn created(&self) -> HashMap<BlobName, Stamp> {
        self.created
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn note(&self, name: &BlobName, began: Stamp, created: bool) {
        let mut map = self
            .created
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if created {
            map.insert(name.clone(), began);
        } else {
            // Found on the page: perhaps not the attachment an earlier upload created.
            map.remove(name);
        }
    }
}

#[async_trait]
impl RemoteStore for Recording<'_> {
    async fn probe(&self) -> Result<RemoteIdentity, RemoteError> {
        self.inner.probe().await
    }

    async fn probe_write(&self) -> Result<(), RemoteError> {
        self.inner.probe_write().await
    }

    async fn read_head(&self) -> Result<Option<HeadState>, RemoteError> {
        self.inner.read_head().await
    }

    async fn write_head(
        &self,
        value: &serde_json::Value,
        expected: Option<u64>,
    ) -> Result<u64, RemoteError> {
        self.inner.write_head(value, expected).await
    }

    async fn put_blob(&self, name: &BlobName, source: BlobSource) -> Result<BlobInfo, RemoteError> {
        self.put_blob_created(name, source)
            .await
            .map(|(info, _)| info)
    }

    async fn put_mutable(&self, name: &BlobName, data: Bytes) -> Result<BlobInfo, RemoteError> {
        let r = self.inner.put_mutable(name, data).await;
        self.note(name, Stamp::now(), false);
        r
    }

    async fn get_blob(
        &self,
        name: &BlobName,
        version: Option<u64>,
        range: Option<Range<u64>>,
        sink: BlobSink<'_>,
    ) -> Result<u64, RemoteError> {
        self.inner.get_blob(name, version, range, sink).await
    }

    async fn find_blob(&self, name: &BlobName) -> Result<Option<BlobInfo>, RemoteError> {
        self.inner.find_blob(name).await
    }

    async fn list_blobs(&self) -> Result<Vec<BlobInfo>, RemoteError> {
        self.inner.list_blobs().await
    }

    async fn delete_blob(&self, blob: &BlobInfo) -> Result<(), RemoteError> {
        self.note(&blob.name, Stamp::now(), false);
        self.inner.delete_blob(blob).await
    }

    async fn delete_blob_version(&self, blob: &BlobInfo, version: u64) -> Result<(), RemoteError> {
        self.inner.delete_blob_version(blob, version).await
    }

    async fn put_blob_created(
        &self,
        name: &BlobName,
        source: BlobSource,
    ) -> Result<(BlobInfo, bool), RemoteError> {
        let began = Stamp::now();
        match self.inner.put_blob_created(name, source).await {
            Ok((info, created)) => {
                self.note(name, began, created);
                Ok((info, created))
            }
            Err(e) => {
                // Whatever an interrupted upload left is not known to be ours.
                self.note(name, began, false);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MIN_GC_GRACE_SECS;
    use crate::remote::memory::MemoryStore;

    fn name(s: &str) -> BlobName {
        BlobName::new(s).expect("valid name")
    }

    #[test]
    fn the_window_is_the_shortest_grace_less_the_margin() {
        assert_eq!(
            spare_window_secs(24 * 3600),
            30 * 60,
            "a day: the minimum counts"
        );
        assert_eq!(spare_window_secs(MIN_GC_GRACE_SECS), 30 * 60);
        assert_eq!(
            spare_window_secs(45 * 60),
            15 * 60,
            "a test grace below the minimum"
        );
        assert_eq!(
            spare_window_secs(30 * 60),
            0,
            "no room left: nothing spared"
        );
        assert_eq!(
            spare_window_secs(0),
            0,
            "tests with no grace see every check"
        );
    }

    #[test]
    fn the_longer_reading_of_the_two_clocks_counts() {
        let t = Stamp::now();
        assert_eq!(t.secs_until(&t), 0);
        assert_eq!(t.secs_until(&t.shifted(10, 10)), 10);
        assert_eq!(
            t.secs_until(&t.shifted(10, 7200)),
            7200,
            "the machine slept: the monotonic clock stood still, the wall clock did not"
        );
        assert_eq!(
            t.secs_until(&t.shifted(7200, -3600)),
            7200,
            "the wall clock was set back: the monotonic one still counts"
        );
    }

    #[test]
    fn only_recent_uploads_that_created_their_blob_are_spared() {
        let t = Stamp::now();
        let (fresh, old, reused) = (name("c-1"), name("c-2"), name("c-3"));
        let introduced: BTreeSet<BlobName> = [fresh.clone(), old.clone(), reused.clone()]
            .into_iter()
            .collect();
        let created: HashMap<BlobName, Stamp> =
            [(fresh.clone(), t), (old.clone(), t)].into_iter().collect();
        let window = spare_window_secs(MIN_GC_GRACE_SECS);
        let committed = t.shifted(window - 1, window as i64 - 1);
        assert_eq!(
            spared(&introduced, &created, &committed, window),
            [fresh.clone(), old.clone()].into_iter().collect(),
            "both uploads began within the window; the re-used blob is never spared"
        );
        let created: HashMap<BlobName, Stamp> =
            [(fresh.clone(), t.shifted(1, 1)), (old.clone(), t)]
                .into_iter()
                .collect();
        let committed = t.shifted(window, window as i64);
        assert_eq!(
            spared(&introduced, &created, &committed, window),
            [fresh].into_iter().collect(),
            "an upload that began a whole window before the commit is checked"
        );
        assert!(
            spared(&introduced, &created, &committed, 0).is_empty(),
            "no window: nothing spared"
        );
    }

    #[tokio::test]
    async fn a_blob_counts_as_created_only_when_the_upload_created_it() {
        let inner = MemoryStore::new();
        let there = name("c-there");
        inner
            .put_blob(&there, BlobSource::Bytes(Bytes::from_static(b"old")))
            .await
            .expect("put");
        let store = Recording::new(&inner);
        let new = name("c-new");
        store
            .put_blob(&new, BlobSource::Bytes(Bytes::from_static(b"new")))
            .await
            .expect("put");
        store
            .put_blob(&there, BlobSource::Bytes(Bytes::from_static(b"old")))
            .await
            .expect("put");
        let created = store.created();
        assert!(created.contains_key(&new), "created by this upload");
        assert!(!created.contains_key(&there), "found on the page: not ours");

        // Created, then found again (after another device's trash and upload, say): no
        // longer known to be the attachment this sync created.
        let info = inner.find_blob(&new).await.expect("find").expect("there");
        inner.delete_blob(&info).await.expect("trash");
        inner
            .put_blob(&new, BlobSource::Bytes(Bytes::from_static(b"new")))
            .await
            .expect("put");
        store
            .put_blob(&new, BlobSource::Bytes(Bytes::from_static(b"new")))
            .await
            .expect("put");
        assert!(store.created().is_empty(), "{:?}", store.created().keys());
    }
}
