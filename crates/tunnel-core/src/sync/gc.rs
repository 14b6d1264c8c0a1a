//! Garbage collection: blobs (chunks, packs, deltas) that no entry and no head references any
//! more are moved to the page's trash — but only after they have stayed unreferenced for the
//! grace period, so a device that uploaded chunks and has not committed yet never loses them.
//! Deletions notify page watchers on Confluence, so they are batched and capped per run.
//!
//! The first time a blob is seen unreferenced is remembered in the journal (per folder).

use std::collections::{HashMap, HashSet};

use tracing::{debug, info, warn};

use crate::manifest::{Head, RemoteTree};
use crate::remote::{BlobName, RemoteStore};

/// Most blobs trashed in one run (each trash notifies watchers).
pub(crate) const MAX_DELETIONS_PER_RUN: usize = 200;

/// Names that garbage collection may touch: ours, content-addressed.
fn is_collectable(name: &BlobName) -> bool {
    let n = name.as_str();
    n.starts_with("c-") || n.starts_with("p-") || n.starts_with("d-")
}

/// Every blob the head and the tree still need.
pub(crate) fn referenced(head: &Head, tree: &RemoteTree) -> HashSet<BlobName> {
    let mut out: HashSet<BlobName> = HashSet::new();
    for e in tree.live() {
        for c in &e.chunks {
            out.insert(c.blob.clone());
        }
    }
    // Every snapshot part and delta part the head names (format 1: `manifest.json` and the
    // single-blob deltas).
    for p in head.parts() {
        out.insert(p.name.clone());
    }
    out
}

/// The journal key holding when each unreferenced blob was first seen.
pub(crate) fn seen_key(folder_id: i64) -> String {
    format!("gc-unreferenced-since:{folder_id}")
}

/// One collection pass. `seen` maps blob name → unix seconds it was first seen unreferenced;
/// it is updated in place. Returns how many blobs were trashed.
pub(crate) async fn collect(
    store: &dyn RemoteStore,
    head: &Head,
    tree: &RemoteTree,
    seen: &mut HashMap<String, i64>,
    now: i64,
    grace_secs: u64,
) -> Result<usize, crate::remote::RemoteError> {
    let keep = referenced(head, tree);
    let listed = store.list_blobs().await?;
    let unreferenced: Vec<_> = listed
        .into_iter()
        .filter(|b| is_collectable(&b.name) && !keep.contains(&b.name))
        .collect();
    let names: HashSet<String> = unreferenced
        .iter()
        .map(|b| b.name.as_str().to_string())
        .collect();
    // Forget blobs that came back into use or are gone.
    seen.retain(|name, _| names.contains(name));
    let mut trashed = 0;
    for blob in unreferenced {
        let since = *seen.entry(blob.name.as_str().to_string()).or_insert(now);
        if now.saturating_sub(since) < grace_secs as i64 || trashed >= MAX_DELETIONS_PER_RUN {
            continue;
        }
        match store.delete_blob(&blob).await {
            Ok(()) => {
                trashed += 1;
                seen.remove(blob.name.as_str());
                debug!(blob = %blob.name, "trashed an unreferenced blob");
            }
            Err(e) => warn!(blob = %blob.name, error = %e, "could not trash an unreferenced blob"),
        }
    }
    if trashed > 0 {
        info!(
            trashed,
            "garbage collection moved unreferenced attachments to the trash"
        );
    }
    Ok(trashed)
}
