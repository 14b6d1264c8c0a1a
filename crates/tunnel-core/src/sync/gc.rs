//! Garbage collection: blobs (chunks, packs, deltas) that no entry and no head references any
//! more are moved to the page's trash. Deletions notify page watchers on Confluence, so they
//! are capped per run.
//!
//! Safety rules (the argument is in docs/remote-format.md, "Garbage collection"):
//! - only attachments named exactly like ours are candidates ([`is_collectable`]): a file a
//!   person attached by hand (`c-section.pdf`, `P-1.jpg`) is never touched;
//! - age is the store's own time of the blob ([`BlobInfo::modified_ms`]) against the newest
//!   time in the same listing, so no device's clock (and no journal record that may be days
//!   old) decides it; a blob whose time is unknown is kept;
//! - the head is read again right before every trash, and the run stops as soon as it moved:
//!   a commit that landed since the references were computed may need what we would trash.
//!
//! The committing side of the argument (a device that re-uses an existing blob checks, after
//! its commit, that the blob is still there and restores it) lives in `verify.rs`; why the
//! blobs a sync has just created need no look-up right after its commit, in `fresh_blobs.rs`.

use std::collections::HashSet;

use tracing::{debug, info, warn};

use crate::manifest::{Head, RemoteTree};
use crate::remote::{BlobInfo, BlobName, RemoteError, RemoteStore};

/// Most blobs trashed in one run (each trash notifies watchers).
pub(crate) const MAX_DELETIONS_PER_RUN: usize = 200;

/// Whether `name` is exactly one of our content-addressed blob names: `c-<hex>`, `p-<hex>`,
/// `m-<hex>` (a pack named by its member list),
/// `d-<hex>.json`, `s-<hex>.json` (format 2 snapshot parts) or `h-<hex>.json` (format 3
/// history documents), `<hex>` being 64 lower-case
/// hex digits. Everything else on the page belongs to someone else.
pub(crate) fn is_collectable(name: &BlobName) -> bool {
    let n = name.as_str();
    let hex = |h: &str| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if let Some(h) = n
        .strip_prefix("c-")
        .or_else(|| n.strip_prefix("p-"))
        .or_else(|| n.strip_prefix("m-"))
    {
        return hex(h);
    }
    n.strip_prefix("d-")
        .or_else(|| n.strip_prefix("s-"))
        .or_else(|| n.strip_prefix("h-"))
        .and_then(|r| r.strip_suffix(".json"))
        .is_some_and(hex)
}

/// Every blob the head and the tree still need.
pub(crate) fn referenced(head: &Head, tree: &RemoteTree) -> HashSet<BlobName> {
    let mut out: HashSet<BlobName> = HashSet::new();
    for e in tree.live() {
        for c in e.chunks.iter() {
            out.insert(c.blob.clone());
        }
    }
    // Every snapshot part and delta part the head names (format 1: `manifest.json` and the
    // single-blob deltas).
    for p in head.parts() {
        out.insert(p.name.clone());
    }
    // Format 3: the history document the head names (what it names in turn is kept through
    // `history::referenced_by_history`).
    if let Some(h) = &head.history {
        out.insert(h.name.clone());
    }
    out
}

/// The blobs of `listed` that may be trashed: ours by name, not in `keep`, and written at
/// least `grace_secs` before the newest blob of the listing (the store's clock; the newest
/// time is a lower bound of the store's "now", so an age is never overestimated).
pub(crate) fn candidates(
    listed: Vec<BlobInfo>,
    keep: &HashSet<BlobName>,
    grace_secs: u64,
) -> Vec<BlobInfo> {
    let Some(now_ms) = listed.iter().filter_map(|b| b.modified_ms).max() else {
        return Vec::new();
    };
    let grace_ms = i64::try_from(grace_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let mut out: Vec<BlobInfo> = listed
        .into_iter()
        .filter(|b| is_collectable(&b.name) && !keep.contains(&b.name))
        .filter(|b| {
            b.modified_ms
                .is_some_and(|t| now_ms.saturating_sub(t) >= grace_ms)
        })
        .collect();
    // Oldest first: a capped run frees what has waited longest.
    out.sort_by_key(|b| b.modified_ms);
    out
}

/// What one collection pass did.
pub(crate) struct Collected {
    /// Blobs trashed.
    pub trashed: usize,
    /// Bytes of the blobs only the history keeps (see `history::referenced_by_history`).
    pub history_only_bytes: u64,
}

/// One collection pass for the head this device just committed (`head`, at property version
/// `head_version`, describing `tree`); `history` is what the retained history needs besides.
pub(crate) async fn collect(
    store: &dyn RemoteStore,
    head: &Head,
    head_version: u64,
    tree: &RemoteTree,
    history: &HashSet<BlobName>,
    grace_secs: u64,
) -> Result<Collected, RemoteError> {
    let current = referenced(head, tree);
    let listed = store.list_blobs().await?;
    let history_only_bytes = listed
        .iter()
        .filter(|b| history.contains(&b.name) && !current.contains(&b.name))
        .map(|b| b.size)
        .sum();
    let mut keep = current;
    keep.extend(history.iter().cloned());
    let doomed = candidates(listed, &keep, grace_secs);
    let mut trashed = 0;
    for blob in doomed.into_iter().take(MAX_DELETIONS_PER_RUN) {
        // The references above are those of `head`: once another device committed, they
        // may be stale (its commit may re-use this very blob), so the run ends here.
        let now = store.read_head().await?.map(|h| h.version);
        if now != Some(head_version) {
            debug!(
                expected = head_version,
                found = ?now,
                "the head moved during garbage collection; stopping"
            );
            break;
        }
        match store.delete_blob(&blob).await {
            Ok(()) => {
                trashed += 1;
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
    Ok(Collected {
        trashed,
        history_only_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> BlobName {
        BlobName::new(s).expect("valid name")
    }

    fn info(n: &str, modified_ms: Option<i64>) -> BlobInfo {
        BlobInfo {
            name: name(n),
            id: format!("att-{n}"),
            size: 1,
            version: 1,
            modified_ms,
        }
    }

    #[test]
    fn only_our_exact_names_are_collectable() {
        let h = "0123456789abcdef".repeat(4);
        for ours in [
            format!("c-{h}"),
            format!("p-{h}"),
            format!("m-{h}"),
            format!("d-{h}.json"),
            format!("s-{h}.json"),
        ] {
            assert!(is_collectable(&name(&ours)), "{ours} is ours");
        }
        for foreign in [
            "c-section.pdf".to_string(),
            "p-1.jpg".to_string(),
            "d-2024-plan.docx".to_string(),
            "s-notes.json".to_string(),
            "c-".to_string(),
            format!("c-{h}.pdf"),
            format!("c-{}", &h[1..]),
            format!("c-{h}0"),
            format!("d-{h}"),
            format!("p-{h}.json"),
            format!("m-{h}.json"),
            "m-1.jpg".to_string(),
            format!("x-{h}"),
            format!("c-{}", "g".repeat(64)),
            "manifest.json".to_string(),
            "sber-tunnel-probe.txt".to_string(),
        ] {
            assert!(!is_collectable(&name(&foreign)), "{foreign} is not ours");
        }
    }

    #[test]
    fn candidates_are_ours_unreferenced_and_old_by_the_stores_clock() {
        let h = |c: char| c.to_string().repeat(64);
        let old = format!("c-{}", h('1'));
        let young = format!("c-{}", h('2'));
        let kept = format!("p-{}", h('3'));
        let untimed = format!("p-{}", h('4'));
        let listed = vec![
            info(&old, Some(1_000)),
            info(&young, Some(9_500)),
            info(&kept, Some(0)),
            info(&untimed, None),
            info("c-section.pdf", Some(0)),
            info(&format!("d-{}.json", h('5')), Some(10_000)),
        ];
        let keep: HashSet<BlobName> = [name(&kept)].into_iter().collect();
        let got: Vec<String> = candidates(listed, &keep, 1)
            .into_iter()
            .map(|b| b.name.as_str().to_string())
            .collect();
        assert_eq!(
            got,
            vec![old],
            "9 s old by the newest time in the listing: only that one; referenced, untimed \
             and foreign blobs stay, and so does one younger than the grace"
        );
        assert!(
            candidates(vec![info(&young, None)], &HashSet::new(), 0).is_empty(),
            "no time at all: nothing is old"
        );
    }
}
