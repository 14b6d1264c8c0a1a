//! What a folder's page holds, and what garbage collection would free: a dry run of `gc`
//! over one listing of the page (nothing is deleted, the head is only read).
//!
//! What the store shows and what it does not:
//! - every current attachment with its size and version number (one listing);
//! - old versions are counted from the version numbers. Their sizes are not in the listing:
//!   our content-addressed blobs (`c-`, `p-`, `d-`, `s-`) can only be re-uploaded with the
//!   same bytes, so their old versions are counted at the current size; for other
//!   attachments (the probe, files people attached by hand) the current size is an estimate,
//!   and [`PageUsage::old_version_bytes_estimated`] says so;
//! - the space trash is not listed by Confluence's attachment API: what garbage collection
//!   moved there keeps counting against the space's storage until a space admin purges it,
//!   and is not in these figures ([`PageUsage::trash_visible`] is false).
//!
//! Garbage is exactly what `gc::collect` would trash now: ours by name, referenced by neither
//! the head nor the file list, and older than the grace period by the store's own clock.
//! Unreferenced blobs still inside the grace period are reported apart (they are kept: another
//! device's commit may be about to use them).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::{gc, history, history_ops, Syncer};
use crate::error::SyncError;
use crate::ids::FolderId;
use crate::remote::{BlobInfo, BlobName, RemoteStore};

impl Syncer {
    /// What the page of folder `folder_id` holds and what garbage collection would free
    /// (a dry run: the head and the file list are read, the page listed once, nothing is
    /// written or deleted).
    pub async fn page_usage(
        &self,
        folder_id: FolderId,
        store: &dyn RemoteStore,
    ) -> Result<PageUsage, SyncError> {
        let (folder, view) = self.folder_and_remote(folder_id, store).await?;
        let mut keep = match &view.head {
            Some(head) => gc::referenced(head, &view.tree),
            None => HashSet::new(),
        };
        // What only the retained history needs (format 3): kept by garbage collection too.
        let history = match &view.head {
            Some(head) if history::history_matters(head, self.history_keep_ms(&folder.path)) => {
                history::referenced_by_history(store, head, Some(&view.tree), &self.limits).await?
            }
            _ => HashSet::new(),
        };
        let listed = store.list_blobs().await?;
        let (history_attachments, history_bytes) = listed
            .iter()
            .filter(|b| history.contains(&b.name) && !keep.contains(&b.name))
            .fold((0u64, 0u64), |(n, bytes), b| {
                (n + 1, bytes.saturating_add(b.size))
            });
        keep.extend(history);
        let key = history_ops::history_bytes_key(folder_id);
        let text = history_bytes.to_string();
        self.with_journal(move |j| j.set_config(&key, &text))
            .await?;
        Ok(PageUsage {
            history_attachments,
            history_bytes,
            ..summarize(listed, &keep, self.gc_grace_secs())
        })
    }
}

/// The page of one folder, summed up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageUsage {
    /// Current attachments on the page.
    pub attachments: u64,
    /// Their bytes (current versions).
    pub current_bytes: u64,
    /// Old versions kept by Confluence (every version but the current one).
    pub old_versions: u64,
    /// Their bytes (see the module docs for when this is an estimate).
    pub old_version_bytes: u64,
    /// Whether some old-version sizes are estimated (attachments that are not ours).
    pub old_version_bytes_estimated: bool,
    /// Attachments that are not sber-tunnel's (never touched by garbage collection).
    pub foreign_attachments: u64,
    /// Attachments the current file list needs.
    pub referenced: u64,
    /// Their bytes.
    pub referenced_bytes: u64,
    /// Attachments garbage collection would move to the trash now.
    pub collectable: u64,
    /// Their bytes, old versions included (all versions go to the trash together).
    pub collectable_bytes: u64,
    /// Unreferenced attachments kept for now (younger than the grace period).
    pub waiting: u64,
    /// Their bytes.
    pub waiting_bytes: u64,
    /// The grace period, seconds.
    pub grace_secs: u64,
    /// Whether the trash is included (Confluence's attachment API does not list it).
    pub trash_visible: bool,
    /// Attachments only the retained history needs (counted in `referenced` too).
    #[serde(default)]
    pub history_attachments: u64,
    /// Their bytes (current versions): what the history costs on the page.
    #[serde(default)]
    pub history_bytes: u64,
}

impl PageUsage {
    /// Everything the page costs that is visible: current and old versions.
    pub fn total_bytes(&self) -> u64 {
        self.current_bytes.saturating_add(self.old_version_bytes)
    }
}

/// Sum up `listed` (one listing of the page) against `keep` (what the head and file list
/// reference), with garbage collection's `grace_secs`.
pub(crate) fn summarize(
    listed: Vec<BlobInfo>,
    keep: &HashSet<BlobName>,
    grace_secs: u64,
) -> PageUsage {
    let all_versions = |b: &BlobInfo| b.size.saturating_mul(b.version.max(1));
    let mut u = PageUsage {
        grace_secs,
        trash_visible: false,
        ..PageUsage::default()
    };
    for b in &listed {
        let old = b.version.saturating_sub(1);
        u.attachments += 1;
        u.current_bytes = u.current_bytes.saturating_add(b.size);
        u.old_versions += old;
        u.old_version_bytes = u
            .old_version_bytes
            .saturating_add(b.size.saturating_mul(old));
        let ours = gc::is_collectable(&b.name);
        if !ours && old > 0 {
            u.old_version_bytes_estimated = true;
        }
        if keep.contains(&b.name) {
            u.referenced += 1;
            u.referenced_bytes = u.referenced_bytes.saturating_add(all_versions(b));
        } else if !ours {
            u.foreign_attachments += 1;
        }
    }
    let unreferenced: Vec<&BlobInfo> = listed
        .iter()
        .filter(|b| gc::is_collectable(&b.name) && !keep.contains(&b.name))
        .collect();
    let doomed: HashSet<BlobName> = gc::candidates(listed.clone(), keep, grace_secs)
        .into_iter()
        .map(|b| b.name)
        .collect();
    for b in unreferenced {
        if doomed.contains(&b.name) {
            u.collectable += 1;
            u.collectable_bytes = u.collectable_bytes.saturating_add(all_versions(b));
        } else {
            u.waiting += 1;
            u.waiting_bytes = u.waiting_bytes.saturating_add(all_versions(b));
        }
    }
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(n: &str, size: u64, version: u64, modified_ms: i64) -> BlobInfo {
        BlobInfo {
            name: BlobName::new(n).expect("valid name"),
            id: format!("att-{n}"),
            size,
            version,
            modified_ms: Some(modified_ms),
        }
    }

    fn ours(c: char) -> String {
        format!("c-{}", c.to_string().repeat(64))
    }

    #[test]
    fn counts_current_and_old_versions_ours_and_foreign() {
        let listed = vec![
            blob(&ours('1'), 100, 1, 10_000),
            blob(&ours('2'), 50, 3, 10_000),
            blob("report.pdf", 7, 2, 10_000),
        ];
        let keep: HashSet<BlobName> = listed.iter().map(|b| b.name.clone()).take(2).collect();
        let u = summarize(listed, &keep, 60);
        assert_eq!((u.attachments, u.current_bytes), (3, 157));
        assert_eq!(
            (u.old_versions, u.old_version_bytes),
            (3, 2 * 50 + 7),
            "two old versions of one blob, one of the foreign file"
        );
        assert!(
            u.old_version_bytes_estimated,
            "the foreign file's old size is a guess"
        );
        assert_eq!(u.foreign_attachments, 1);
        assert_eq!((u.referenced, u.referenced_bytes), (2, 100 + 150));
        assert_eq!(u.total_bytes(), 157 + 107);
        assert!(!u.trash_visible);
        assert_eq!((u.collectable, u.waiting), (0, 0), "nothing unreferenced");
    }

    #[test]
    fn garbage_is_what_gc_would_trash_now_and_young_garbage_waits() {
        let listed = vec![
            blob(&ours('1'), 100, 1, 100_000), // referenced, newest: the store's "now"
            blob(&ours('2'), 40, 2, 0),        // unreferenced, old → collectable
            blob(&ours('3'), 30, 1, 99_000),   // unreferenced, 1 s old → waits
            blob("manifest.json", 5, 9, 0),    // not ours: never garbage
        ];
        let keep: HashSet<BlobName> = [listed[0].name.clone()].into_iter().collect();
        let u = summarize(listed, &keep, 60);
        assert_eq!(
            (u.collectable, u.collectable_bytes),
            (1, 80),
            "both versions go"
        );
        assert_eq!((u.waiting, u.waiting_bytes), (1, 30));
        assert_eq!(u.foreign_attachments, 1);
        assert!(
            u.old_version_bytes_estimated,
            "manifest.json has 8 old versions"
        );
    }

    #[test]
    fn an_empty_page_holds_nothing() {
        let u = summarize(Vec::new(), &HashSet::new(), 60);
        assert_eq!(u.total_bytes(), 0);
        assert_eq!(u.attachments, 0);
    }
}
