//! Reading the remote side of a folder: the head pointer, then the file list, fetching only
//! the deltas this device has not seen yet (the journal caches the tree at the last seen seq).
//!
//! Every manifest blob (format 1 `manifest.json` and deltas, format 2 snapshot and delta
//! parts) is checked against the size and SHA-256 the head names before it is parsed, and
//! parsing is bounded by [`Limits`].

use bytes::Bytes;
use tracing::{debug, info, warn};

use crate::error::SyncError;
use crate::hash::Digest;
use crate::journal::FolderRecord;
use crate::manifest::parts::{assemble_delta, assemble_snapshot, DeltaPart, SnapshotPart};
use crate::manifest::{Delta, DeltaRef, Head, Limits, PartRef, RemoteTree, Snapshot, FORMAT_V1};
use crate::remote::{BlobName, HeadState, RemoteError, RemoteStore};

/// The remote as this sync sees it.
#[derive(Debug, Clone)]
pub(crate) struct RemoteView {
    /// The parsed head, `None` when the store was never initialised.
    pub head: Option<Head>,
    /// The property version to pass to the compare-and-swap.
    pub head_version: Option<u64>,
    /// The file list at `head.seq`.
    pub tree: RemoteTree,
    /// False when the remote generation changed or its seq went back in time: the journal's
    /// base no longer describes this remote, so nothing may be deleted on its strength.
    pub base_trusted: bool,
    /// Whether `tree` was (partly) downloaded rather than taken from the cache.
    pub fetched: bool,
    /// When `tree` is the journal's cached tree at seq `.0` plus newer deltas: the entries
    /// those deltas brought, in order, so the cache is brought up to date by writing only
    /// them ([`crate::journal::Journal::advance_remote_cache`]).
    pub delta_since_cache: Option<(u64, Vec<crate::manifest::FileEntry>)>,
}

/// Read the head and bring `cached` (the journal's copy) up to date.
pub(crate) async fn load_remote(
    store: &dyn RemoteStore,
    folder: &FolderRecord,
    cached: Option<RemoteTree>,
    seen: Option<&serde_json::Value>,
    limits: &Limits,
) -> Result<RemoteView, SyncError> {
    let state = store.read_head().await?;
    load_remote_at(store, folder, state, cached, seen, limits).await
}

/// [`load_remote`] with the head already read (`state`).
pub(crate) async fn load_remote_at(
    store: &dyn RemoteStore,
    folder: &FolderRecord,
    state: Option<HeadState>,
    cached: Option<RemoteTree>,
    seen: Option<&serde_json::Value>,
    limits: &Limits,
) -> Result<RemoteView, SyncError> {
    let Some(state) = state else {
        // Never initialised, or wiped since we last synced.
        let trusted = folder.generation.is_none();
        if !trusted {
            warn!(folder = %folder.path.display(), "the remote file list is gone; treating every difference as a conflict, deleting nothing");
        }
        return Ok(RemoteView {
            head: None,
            head_version: None,
            tree: RemoteTree::empty(uuid::Uuid::new_v4().to_string()),
            base_trusted: trusted,
            fetched: false,
            delta_since_cache: None,
        });
    };
    let head = Head::parse(&state.value, limits)?;
    let mut base_trusted = true;
    if let Some(generation) = &folder.generation {
        if generation != &head.generation {
            warn!(folder = %folder.path.display(), "the remote was replaced (new generation); no deletions this sync");
            base_trusted = false;
        } else if folder.seq.unwrap_or(0) > head.seq {
            warn!(folder = %folder.path.display(), seen = folder.seq, now = head.seq, "the remote went back in time; no deletions this sync");
            base_trusted = false;
        }
    }

    // The head we synced to last time must still be part of this head's history: a page
    // restored to an older version and committed on again re-uses seq numbers, and a cache
    // keyed by (generation, seq) alone would then silently diverge.
    let seen = seen.and_then(|v| Head::parse(v, limits).ok());
    let mut forked = false;
    if let Some(seen) = seen.as_ref().filter(|s| s.generation == head.generation) {
        if !same_history(seen, &head) {
            warn!(folder = %folder.path.display(), "the remote history was rewritten (page restored?); re-reading it, no deletions this sync");
            base_trusted = false;
            forked = true;
        }
    }
    let cached = if forked { None } else { cached };
    let loaded = match cached {
        Some(c) if c.generation == head.generation && c.seq == head.seq => Ok((c, false, None)),
        Some(c)
            if c.generation == head.generation
                && c.seq < head.seq
                && deltas_cover(&head, c.seq) =>
        {
            debug!(from = c.seq, to = head.seq, "fetching new deltas only");
            let from = c.seq;
            let mut changed = Vec::new();
            apply_deltas(store, c, &head, limits, Some(&mut changed))
                .await
                .map(|t| (t, true, Some((from, changed))))
        }
        _ => fetch_full(store, &head, limits)
            .await
            .map(|t| (t, true, None)),
    };
    let (mut tree, fetched, delta_since_cache) = match loaded {
        Ok(l) => l,
        // A file-list blob vanished under us: another device compacted and collected the
        // old deltas (or manifest versions) since we read the head. Read afresh, like after a
        // lost commit race; only a head that still names a missing blob is an error.
        Err(SyncError::Remote(RemoteError::NotFound(what))) => {
            let now = store.read_head().await?.map(|h| h.version);
            if now != Some(state.version) {
                info!(%what, "the file list changed while it was read; reading it again");
                return Err(RemoteError::Conflict { current: now }.into());
            }
            return Err(RemoteError::NotFound(what).into());
        }
        Err(e) => return Err(e),
    };
    if fetched {
        // One copy of each blob name for the whole tree (a pack holds many files).
        let mut names = crate::remote::BlobNames::default();
        for e in tree.files.values_mut() {
            e.share_blob_names(&mut names);
        }
    }
    if tree.seq != head.seq {
        return Err(SyncError::Manifest(
            crate::manifest::ManifestError::SeqGap {
                expected: head.seq,
                found: tree.seq,
            },
        ));
    }
    Ok(RemoteView {
        head: Some(head),
        head_version: Some(state.version),
        tree,
        base_trusted,
        fetched,
        delta_since_cache,
    })
}

/// The seq a narrow sync reads the new deltas from: the journal's cached tree's (`cached`),
/// when the base can be trusted on `head` (same generation, not back in time, the same
/// history as the head last seen, `seen`) and the head still lists every delta after it.
/// `None`: read the file list as [`load_remote_at`] does.
pub(crate) fn narrow_from(
    folder: &FolderRecord,
    cached: Option<&(String, u64)>,
    seen: Option<&serde_json::Value>,
    head: &Head,
    limits: &Limits,
) -> Option<u64> {
    let (generation, seq) = cached?;
    let trusted = folder.generation.as_ref() == Some(&head.generation)
        && folder.seq.unwrap_or(0) <= head.seq
        && *generation == head.generation
        && *seq <= head.seq
        && deltas_cover(head, *seq);
    let seen = seen.and_then(|v| Head::parse(v, limits).ok())?;
    (trusted && seen.generation == head.generation && same_history(&seen, head)).then_some(*seq)
}

/// The deltas of `head` after seq `from`, in order, each checked against the head and
/// parsed within `limits`.
pub(crate) async fn deltas_after(
    store: &dyn RemoteStore,
    head: &Head,
    from: u64,
    limits: &Limits,
) -> Result<Vec<Delta>, SyncError> {
    let mut out = Vec::new();
    for d in head.deltas.iter().filter(|d| d.seq > from) {
        out.push(fetch_delta(store, head, d, limits).await?);
    }
    Ok(out)
}

/// The digest naming commit `seq` in `head`, when the head still lists it.
fn commit_id(head: &Head, seq: u64) -> Option<Digest> {
    if let Some(d) = head.deltas.iter().find(|d| d.seq == seq) {
        return d.id();
    }
    head.snapshot
        .as_ref()
        .filter(|s| s.seq == seq)
        .and_then(|s| s.id())
}

/// Whether `head` continues the history `seen` was part of. Unknown (compacted away) counts
/// as continuing; a head behind `seen` is handled by the seq check.
fn same_history(seen: &Head, head: &Head) -> bool {
    if head.seq < seen.seq {
        return true;
    }
    match (commit_id(seen, seen.seq), commit_id(head, seen.seq)) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// True when the head's delta list holds every delta after `seq`.
fn deltas_cover(head: &Head, seq: u64) -> bool {
    let snapshot_seq = head.snapshot.as_ref().map(|s| s.seq).unwrap_or(0);
    snapshot_seq <= seq
}

pub(crate) async fn fetch_full(
    store: &dyn RemoteStore,
    head: &Head,
    limits: &Limits,
) -> Result<RemoteTree, SyncError> {
    let tree = match &head.snapshot {
        Some(s) if head.format == FORMAT_V1 => {
            let part = single_part(&s.parts)?;
            info!(seq = s.seq, bytes = part.size, "downloading the file list");
            let bytes = fetch_verified(
                store,
                &part.name,
                s.manifest_version,
                part.size,
                &part.sha256,
                limits,
            )
            .await?;
            let snapshot = Snapshot::parse(&bytes, limits)?;
            if snapshot.generation != head.generation || snapshot.seq != s.seq {
                return Err(SyncError::Manifest(
                    crate::manifest::ManifestError::GenerationMismatch,
                ));
            }
            RemoteTree::from_snapshot(snapshot)
        }
        Some(s) => {
            let bytes: u64 = s.parts.iter().map(|p| p.size).sum();
            info!(
                seq = s.seq,
                bytes,
                parts = s.parts.len(),
                "downloading the file list"
            );
            let mut parts = Vec::with_capacity(s.parts.len());
            for p in &s.parts {
                let bytes = fetch_verified(store, &p.name, None, p.size, &p.sha256, limits).await?;
                parts.push(SnapshotPart::parse(&bytes, limits)?);
            }
            assemble_snapshot(&head.generation, s, parts, limits)?
        }
        None => RemoteTree::empty(head.generation.clone()),
    };
    apply_deltas(store, tree, head, limits, None).await
}

/// The one blob of a format 1 snapshot or delta.
fn single_part(parts: &[PartRef]) -> Result<&PartRef, SyncError> {
    match parts {
        [p] => Ok(p),
        _ => Err(SyncError::Manifest(
            crate::manifest::ManifestError::Invalid {
                path: "head".into(),
                reason: "a format 1 snapshot or delta is one blob".into(),
            },
        )),
    }
}

/// Download and join one delta (one blob in format 1, its parts in format 2).
async fn fetch_delta(
    store: &dyn RemoteStore,
    head: &Head,
    d: &DeltaRef,
    limits: &Limits,
) -> Result<Delta, SyncError> {
    if head.format == FORMAT_V1 {
        let p = single_part(&d.parts)?;
        let bytes = fetch_verified(store, &p.name, None, p.size, &p.sha256, limits).await?;
        return Ok(Delta::parse(&bytes, limits)?);
    }
    let mut parts = Vec::with_capacity(d.parts.len());
    for p in &d.parts {
        let bytes = fetch_verified(store, &p.name, None, p.size, &p.sha256, limits).await?;
        parts.push(DeltaPart::parse(&bytes, limits)?);
    }
    Ok(assemble_delta(&head.generation, d, parts, limits)?)
}

/// Download and join one delta of a format 2 or 3 head of `generation` (history reads).
pub(crate) async fn fetch_delta_of(
    store: &dyn RemoteStore,
    generation: &str,
    d: &DeltaRef,
    limits: &Limits,
) -> Result<Delta, SyncError> {
    let mut parts = Vec::with_capacity(d.parts.len());
    for p in &d.parts {
        let bytes = fetch_verified(store, &p.name, None, p.size, &p.sha256, limits).await?;
        parts.push(DeltaPart::parse(&bytes, limits)?);
    }
    Ok(assemble_delta(generation, d, parts, limits)?)
}

/// `tree` with the head's deltas after its seq applied; the entries they brought are added
/// to `changed` when it is given.
async fn apply_deltas(
    store: &dyn RemoteStore,
    mut tree: RemoteTree,
    head: &Head,
    limits: &Limits,
    mut changed: Option<&mut Vec<crate::manifest::FileEntry>>,
) -> Result<RemoteTree, SyncError> {
    let from = tree.seq;
    for d in head.deltas.iter().filter(|d| d.seq > from) {
        let delta = fetch_delta(store, head, d, limits).await?;
        if let Some(changed) = changed.as_deref_mut() {
            changed.extend(delta.entries.iter().cloned());
        }
        tree.apply_delta(delta)?;
    }
    Ok(tree)
}

/// Download a whole manifest blob into memory, refusing anything larger than announced or
/// than the limits, and checking its SHA-256. A body that arrives damaged (truncated by a
/// proxy, corrupted) is fetched once more before the sync gives up.
pub(crate) async fn fetch_verified(
    store: &dyn RemoteStore,
    name: &BlobName,
    version: Option<u64>,
    size: u64,
    sha256: &Digest,
    limits: &Limits,
) -> Result<Bytes, SyncError> {
    match fetch_verified_once(store, name, version, size, sha256, limits).await {
        Err(SyncError::Remote(RemoteError::Integrity(why))) => {
            warn!(blob = %name, %why, "damaged file list download; fetching it again");
            fetch_verified_once(store, name, version, size, sha256, limits).await
        }
        other => other,
    }
}

async fn fetch_verified_once(
    store: &dyn RemoteStore,
    name: &BlobName,
    version: Option<u64>,
    size: u64,
    sha256: &Digest,
    limits: &Limits,
) -> Result<Bytes, SyncError> {
    if size > limits.max_bytes {
        return Err(SyncError::Manifest(
            crate::manifest::ManifestError::TooLarge {
                size,
                limit: limits.max_bytes,
            },
        ));
    }
    let mut sink = BoundedSink {
        buf: Vec::with_capacity(size.min(64 << 20) as usize),
        limit: size,
    };
    let n = match store.get_blob(name, version, None, &mut sink).await {
        Ok(n) => n,
        Err(_) if sink.buf.len() as u64 >= size && sink.overflowed() => {
            return Err(RemoteError::Integrity(format!(
                "{name}: the server sent more than the announced {size} bytes"
            ))
            .into())
        }
        Err(e) => return Err(e.into()),
    };
    let buf = sink.buf;
    if n != size || buf.len() as u64 != size {
        return Err(RemoteError::Integrity(format!(
            "{name}: expected {size} bytes, received {}",
            buf.len()
        ))
        .into());
    }
    let got = Digest::of(&buf);
    if &got != sha256 {
        return Err(RemoteError::Integrity(format!("{name}: SHA-256 mismatch")).into());
    }
    Ok(Bytes::from(buf))
}

/// Collects at most `limit` bytes; one byte more fails the write, so a hostile or broken
/// server cannot make us hold more than the head announced.
struct BoundedSink {
    buf: Vec<u8>,
    limit: u64,
}

impl BoundedSink {
    fn overflowed(&self) -> bool {
        self.buf.len() as u64 >= self.limit
    }
}

impl tokio::io::AsyncWrite for BoundedSink {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let room = this.limit.saturating_sub(this.buf.len() as u64);
        if data.len() as u64 > room {
            return std::task::Poll::Ready(Err(std::io::Error::other(
                "more bytes than the file list announced",
            )));
        }
        this.buf.extend_from_slice(data);
        std::task::Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
