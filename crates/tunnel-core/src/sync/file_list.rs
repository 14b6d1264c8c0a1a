//! Writing the file list of one commit (format 2): the commit's delta in parts or, when the
//! head asks for it, a fresh snapshot in parts. Every part stays below the part limit (the
//! server's attachment limit and the readers' cap), and the head that lists them below its
//! own limit; a file list that cannot fit is refused before anything is committed.

use tracing::{info, warn};

use crate::error::SyncError;
use crate::manifest::parts::{PartPlan, PartWriter};
use crate::manifest::{
    Delta, DeltaRef, Head, ManifestError, PartRef, RemoteTree, SnapshotRef, FORMAT_VERSION,
};
use crate::remote::{BlobName, BlobSource, RemoteError, RemoteStore};

/// The part size a file list is cut at when the head has room (issue 15): a part is built
/// whole in memory before it is sent, so at 100,000 files one part of the whole list (35 MB)
/// was a third of a first sync's peak. Readers fetch the parts one after the other too.
pub(crate) const PREFERRED_PART_BYTES: u64 = 8 << 20;

/// How large parts and the head may be.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PartLimits {
    /// Parts are cut at this size when the head has room for them (at most
    /// [`PREFERRED_PART_BYTES`], and the chunk size, which the server accepts for chunks too).
    pub preferred: u64,
    /// Never larger than this (what every reader accepts).
    pub hard: u64,
    /// Largest serialised head.
    pub head_bytes: usize,
    /// Most parts one head may name.
    pub max_parts: usize,
}

impl PartLimits {
    /// A commit's limits: parts cut at the chunk size the page accepts, never above
    /// [`PREFERRED_PART_BYTES`]; `hard`, `head_bytes` and `max_parts` are the readers' caps.
    pub(crate) fn for_commit(
        chunk_size: u64,
        hard: u64,
        head_bytes: usize,
        max_parts: usize,
    ) -> Self {
        PartLimits {
            preferred: chunk_size.min(PREFERRED_PART_BYTES),
            hard,
            head_bytes,
            max_parts,
        }
    }
}

/// What the commit keeps of older file lists (format 3 history).
#[derive(Clone, Copy, Debug)]
pub(crate) struct HistoryPolicy {
    /// This commit's time (the device's clock, ms since the Unix epoch).
    pub now_ms: i64,
    /// How long a replaced file list stays retrievable (ms); 0 keeps none.
    pub keep_ms: i64,
}

/// The file list written for a commit: the head to swap in and whether it compacted.
pub(crate) struct Written {
    pub head: Head,
    pub compacted: bool,
    /// Every part uploaded, with its bytes when they are small enough to keep for a later
    /// check that the part is still on the page (see `verify`).
    pub parts: Vec<(BlobName, Option<bytes::Bytes>)>,
}

/// Upload the commit's delta (or a new snapshot) and return the head naming it, still to be
/// committed by the caller. `head` is the head read (with `seq` already the new one);
/// `tree` the tree after `delta`. A part the server refuses as too large, with its limit
/// in the answer, makes the whole list be cut again below that limit, once.
pub(crate) async fn write_file_list(
    store: &dyn RemoteStore,
    head: &Head,
    delta: &Delta,
    tree: Option<&RemoteTree>,
    drop_tombstones_before_ns: i64,
    mut limits: PartLimits,
    history: HistoryPolicy,
) -> Result<Written, SyncError> {
    let mut learned = false;
    loop {
        match attempt(
            store,
            head,
            delta,
            tree,
            drop_tombstones_before_ns,
            &limits,
            history,
        )
        .await
        {
            Err(SyncError::Remote(RemoteError::TooLarge { limit: Some(l), .. }))
                if !learned && l < limits.hard =>
            {
                warn!(
                    limit = l,
                    "the server refused a file list part as too large; cutting smaller parts"
                );
                limits.hard = l;
                limits.preferred = limits.preferred.min(l);
                learned = true;
            }
            other => return other,
        }
    }
}

async fn attempt(
    store: &dyn RemoteStore,
    head: &Head,
    delta: &Delta,
    tree: Option<&RemoteTree>,
    drop_tombstones_before_ns: i64,
    limits: &PartLimits,
    history: HistoryPolicy,
) -> Result<Written, SyncError> {
    let writer = PartWriter::delta(delta);
    let plan = writer.plan(limits.preferred, limits.hard)?;
    let (mut next, compacting) = with_delta(head, delta, &plan, limits, Some(history.now_ms));
    if !compacting {
        let (refs, parts) = upload(store, &writer, &plan).await?;
        if let Some(last) = next.deltas.last_mut() {
            last.parts = refs;
        }
        return Ok(Written {
            head: next,
            compacted: false,
            parts,
        });
    }

    // A new snapshot, in as few parts as the head comfortably holds: parts are cut at the
    // preferred size, larger (up to the hard limit) while the list would fill more than a
    // quarter of the head, so deltas keep room after it. It lists every entry: a caller
    // holding only some of the tree (a narrow sync that did not foresee this, after a
    // server's lower part limit) plans again, in full.
    let Some(tree) = tree else {
        return Err(RemoteError::Conflict { current: None }.into());
    };
    let writer = PartWriter::snapshot_of_tree(tree, drop_tombstones_before_ns);
    // The file lists this compaction replaces go to the history (format 3), written first:
    // the new head names it.
    let mut parts_written = Vec::new();
    let history_ref =
        super::history::carry_history(store, head, history, limits.hard, &mut parts_written)
            .await?;
    let with_parts = |parts: Vec<PartRef>| Head {
        history: history_ref.clone(),
        format: FORMAT_VERSION,
        generation: next.generation.clone(),
        seq: delta.seq,
        snapshot: Some(SnapshotRef {
            seq: delta.seq,
            parts,
            manifest_version: None,
            time_ms: Some(history.now_ms),
        }),
        deltas: Vec::new(),
    };
    let mut size = limits.preferred.min(limits.hard);
    let mut plan: PartPlan = writer.plan(size, limits.hard)?;
    while with_parts(plan.placeholder_refs()).byte_len() > limits.head_bytes / 4
        && size < limits.hard
    {
        size = size.saturating_mul(2).min(limits.hard);
        plan = writer.plan(size, limits.hard)?;
    }
    let head_bytes = with_parts(plan.placeholder_refs()).byte_len();
    if head_bytes > limits.head_bytes || plan.len() > limits.max_parts {
        return Err(ManifestError::TooManyParts {
            parts: plan.len(),
            part_limit: size,
            head_bytes,
            head_limit: limits.head_bytes,
        }
        .into());
    }
    info!(
        entries = writer.entry_count(),
        parts = plan.len(),
        "writing a new snapshot of the file list"
    );
    let (refs, parts) = upload(store, &writer, &plan).await?;
    parts_written.extend(parts);
    Ok(Written {
        head: with_parts(refs),
        compacted: true,
        parts: parts_written,
    })
}

/// `head` with `delta`'s reference (parts as `plan` cuts them) added, and whether that head
/// must be compacted into a new snapshot instead.
fn with_delta(
    head: &Head,
    delta: &Delta,
    plan: &PartPlan,
    limits: &PartLimits,
    time_ms: Option<i64>,
) -> (Head, bool) {
    let mut next = head.clone();
    next.seq = delta.seq;
    next.deltas.push(DeltaRef {
        time_ms,
        seq: delta.seq,
        parts: plan.placeholder_refs(),
    });
    let compacting = next.snapshot.is_none()
        || next.needs_compaction()
        || next.byte_len() > limits.head_bytes
        || next.parts().count() > limits.max_parts;
    (next, compacting)
}

/// Whether writing `delta` on `head` (with `seq` already the new one) writes a new snapshot
/// rather than the delta, under `limits` (which needs the whole tree).
pub(crate) fn compacts(
    head: &Head,
    delta: &Delta,
    limits: PartLimits,
    now_ms: i64,
) -> Result<bool, SyncError> {
    let plan = PartWriter::delta(delta).plan(limits.preferred, limits.hard)?;
    Ok(with_delta(head, delta, &plan, &limits, Some(now_ms)).1)
}

/// Build and upload the parts one after the other (only one large part in memory at a
/// time); returns their references and their names, with the bytes of the small ones.
async fn upload(
    store: &dyn RemoteStore,
    writer: &PartWriter<'_>,
    plan: &PartPlan,
) -> Result<(Vec<PartRef>, Vec<(BlobName, Option<bytes::Bytes>)>), SyncError> {
    let mut refs = Vec::with_capacity(plan.len());
    let mut parts = Vec::with_capacity(plan.len());
    for i in 0..plan.len() {
        let p = writer.encode_part(plan, i);
        let bytes = bytes::Bytes::from(p.bytes);
        store
            .put_blob(&p.part.name, BlobSource::Bytes(bytes.clone()))
            .await?;
        let kept = (bytes.len() <= super::verify::KEEP_BYTES_UP_TO).then_some(bytes);
        parts.push((p.part.name.clone(), kept));
        refs.push(p.part);
    }
    Ok((refs, parts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{EntryKind, FileEntry};
    use crate::rel_path::RelPath;
    use crate::remote::memory::MemoryStore;

    const NO_HISTORY: HistoryPolicy = HistoryPolicy {
        now_ms: 0,
        keep_ms: 0,
    };

    fn dir(i: usize) -> FileEntry {
        FileEntry {
            path: RelPath::new(&format!("folder-{i:05}")).unwrap(),
            kind: EntryKind::Dir,
            deleted: false,
            size: 0,
            mtime_ns: 0,
            sha256: None,
            version: 1,
            device: "d".into(),
            chunks: Default::default(),
        }
    }

    fn first_commit(n: usize) -> (Head, Delta, RemoteTree) {
        let delta = Delta {
            format: FORMAT_VERSION,
            generation: "g".into(),
            seq: 1,
            device: "d".into(),
            entries: (0..n).map(dir).collect(),
        };
        let mut tree = RemoteTree::empty("g".into());
        tree.apply_delta(delta.clone()).unwrap();
        let head = Head {
            history: None,
            format: FORMAT_VERSION,
            generation: "g".into(),
            seq: 1,
            snapshot: None,
            deltas: vec![],
        };
        (head, delta, tree)
    }

    #[test]
    fn a_commit_cuts_its_file_list_at_the_chunk_size_or_8_mib_whichever_is_smaller() {
        let default_chunks = PartLimits::for_commit(100_000_000, 256 << 20, 1 << 20, 1000);
        assert_eq!(default_chunks.preferred, 8 << 20);
        assert_eq!(default_chunks.hard, 256 << 20);
        assert_eq!(
            PartLimits::for_commit(1 << 20, 256 << 20, 1 << 20, 1000).preferred,
            1 << 20
        );
    }

    #[tokio::test]
    async fn a_list_that_cannot_fit_the_head_is_refused_before_anything_is_uploaded() {
        let store = MemoryStore::new();
        let (head, delta, tree) = first_commit(2000);
        let limits = PartLimits {
            preferred: 1024,
            hard: 1024,
            head_bytes: 4000,
            max_parts: 1000,
        };
        let err = write_file_list(&store, &head, &delta, Some(&tree), 0, limits, NO_HISTORY)
            .await
            .err()
            .expect("refused");
        assert!(
            matches!(
                err,
                SyncError::Manifest(ManifestError::TooManyParts {
                    part_limit: 1024,
                    ..
                })
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("chunk-size"), "{err}");
        assert!(store.blob_names().is_empty(), "nothing was uploaded");
    }

    #[tokio::test]
    async fn parts_grow_up_to_the_hard_limit_to_keep_the_head_small() {
        let store = MemoryStore::new();
        let (head, delta, tree) = first_commit(2000);
        let limits = PartLimits {
            preferred: 1024,
            hard: 1 << 20,
            head_bytes: 4000,
            max_parts: 1000,
        };
        let w = write_file_list(&store, &head, &delta, Some(&tree), 0, limits, NO_HISTORY)
            .await
            .unwrap();
        assert!(w.compacted, "the first commit writes a snapshot");
        assert!(w.head.byte_len() <= 1000, "a quarter of the head at most");
        let parts = &w.head.snapshot.as_ref().unwrap().parts;
        assert!(
            parts.iter().any(|p| p.size > 1024),
            "parts were made larger"
        );
        // The delta of a compacting commit is not uploaded: the snapshot holds it.
        assert!(store
            .blob_names()
            .iter()
            .all(|n| n.as_str().starts_with("s-")));
    }
}
