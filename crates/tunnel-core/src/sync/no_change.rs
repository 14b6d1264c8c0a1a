//! The no-change fast path (issue 15): a sync that finds nothing can have changed ends with
//! "up to date" without building the base, the remote tree, the scan or the scan cache.
//!
//! A sync whose plan was empty and fully carried out leaves a [`CleanMark`] in the journal:
//! the head it read (value and property version), a digest of everything that shapes a plan
//! besides the three trees (settings, device, the disk's name rules, the excluded subtrees,
//! the folder's identity: [`Syncer::plan_shape`]), the digest of the folder's listing
//! ([`crate::scan::LocalScan::listing`]: every name with its stat data, every name left out
//! with its reason, every `.sbtignore` with its text), and what it reported (names from other
//! devices not synced here, names this disk cannot store). The next sync reads the head (its
//! one request, as before), and answers "nothing to do" when the head, the plan's shape and a
//! fresh walk's digest all equal the mark's and no late check of a commit's blobs is due.
//!
//! Why that is the full path's answer: the plan is a pure function of the base, the remote
//! tree, the scan and the shape. The journal removes the mark whenever it writes the base,
//! the remote cache, the scan cache, the exclusions or the folder's position (see
//! `journal::clean`), so those are what they were; an equal head is the same file list (the
//! head names its blobs by hash); an equal listing scans to the same entries, by the same
//! rule the scan cache trusts (size, modification time and inode unchanged: content
//! unchanged; a file modified just before it was hashed leaves no mark), under the same
//! ignore rules. So the full path would plan from the same inputs: the same empty plan.
//!
//! A full sync that only sent changes — every action an upload or a deletion published, all
//! of them committed, nothing else written here — leaves a mark too, with the head it wrote:
//! the folder is as its scan listed it, and base, remote tree and page are what that commit
//! made them, so a full plan from them is empty as well (the sync after a first upload of
//! 100,000 files is answered instead of planning them all again).
//!
//! Another head or a listing that differs (with the mark otherwise holding: same shape, no
//! late check due) hands the mark and the walk's rows to the narrow path (`narrow`), which
//! plans over the paths that changed; anything else — no mark, a changed setting, a due check
//! — takes the full path, unchanged. The walk keeps one compact row per name (path and stat
//! data) so that the narrow path needs no second walk. A missing or replaced root is the
//! same error as on the full path (checked before and after the walk), never "no change".
//!
//! Tests can have every "nothing to do" checked against the full path
//! ([`Syncer::with_no_change_check_for_tests`]).

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use super::Syncer;
use crate::error::SyncError;
use crate::events::{SyncSummary, UnstorableName};
use crate::hash::Digest;
use crate::journal::FolderRecord;
use crate::name_rules::NameRules;
use crate::rel_path::RelPath;
use crate::remote::HeadState;
use crate::scan::ScanOptions;

/// Bumped whenever what a mark means changes: an older mark then never matches.
const MARK_FORMAT: u32 = 2;

/// What the last clean sync of a folder saw (stored as JSON by `Journal::set_clean_mark`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct CleanMark {
    format: u32,
    /// The head property's value and version.
    head: serde_json::Value,
    head_version: u64,
    /// [`Syncer::plan_shape`].
    shape: Digest,
    /// The folder's listing digest.
    listing: Digest,
    /// What the sync reported: live entries from other devices with names not synced here.
    pub(super) skipped_remote: u64,
    /// What the sync reported: names this disk cannot store.
    pub(super) unstorable: Vec<UnstorableName>,
    /// The digest of the folder's `.sbtignore` files ([`crate::scan::LocalScan::ignores`]):
    /// a narrow sync needs the ignore rules unchanged (they judge remote names too).
    pub(super) ignores: Option<Digest>,
}

impl CleanMark {
    /// The mark of a clean sync that read `head`.
    pub(super) fn new(
        head: &HeadState,
        shape: Digest,
        listing: Digest,
        ignores: Option<Digest>,
        summary: &SyncSummary,
    ) -> CleanMark {
        CleanMark {
            format: MARK_FORMAT,
            head: head.value.clone(),
            head_version: head.version,
            shape,
            listing,
            skipped_remote: summary.skipped_remote,
            unstorable: summary.unstorable.clone(),
            ignores,
        }
    }

    fn parse(text: &str) -> Option<CleanMark> {
        serde_json::from_str::<CleanMark>(text)
            .ok()
            .filter(|m| m.format == MARK_FORMAT)
    }

    pub(super) fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The summary the full path gave when it left this mark (nothing moved).
    fn summary(&self) -> SyncSummary {
        SyncSummary {
            skipped_remote: self.skipped_remote,
            unstorable: self.unstorable.clone(),
            ..SyncSummary::default()
        }
    }
}

/// What the no-change check found.
pub(super) enum Quick {
    /// Nothing can have changed: the summary the full path would give.
    Answered(SyncSummary),
    /// Something changed since a clean sync whose mark still holds: try a narrow sync.
    Narrow(Box<super::narrow::NarrowStart>),
    /// Plan in full.
    Full,
}

/// How often the no-change path was tried with a mark and how often it answered (tests read
/// them to show which path a sync took).
#[derive(Debug, Default)]
pub(super) struct Tries {
    with_mark: AtomicU64,
    answered: AtomicU64,
}

/// [`Tries`] as read by a test.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoChangeTries {
    /// Syncs that found a clean mark and compared against it.
    pub with_mark: u64,
    /// Of those, the ones answered "nothing to do" without a plan.
    pub answered: u64,
}

impl Syncer {
    /// The scan options of this syncer (the full scan's and the no-change walk's).
    pub(super) fn scan_options(&self) -> ScanOptions {
        ScanOptions {
            chunk_size: self.settings.chunk_size,
            delta_chunk_size: self.settings.delta_chunk_size,
            extra_ignores: self.settings.ignore.clone(),
        }
    }

    /// A digest of everything that shapes this folder's plan besides the base, the remote
    /// tree and the scan: the program, the settings (chunk sizes as limited for this page,
    /// ignore patterns, deletion guard …), the device, the disk's name rules, the excluded
    /// subtrees, the folder's path, page and identity.
    pub(super) fn plan_shape(
        &self,
        folder: &FolderRecord,
        names: NameRules,
        excluded: &std::collections::BTreeSet<RelPath>,
    ) -> Digest {
        let text = format!(
            "{MARK_FORMAT}\n{}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
            env!("CARGO_PKG_VERSION"),
            self.settings,
            self.device,
            names,
            excluded,
            folder.path,
            folder.page_id,
            folder.folder_uuid,
            self.limits,
        );
        Digest::of(text.as_bytes())
    }

    /// Leave the mark of a sync that ended clean: the folder as its scan listed it
    /// (`listing`, `ignores`), the page at `head` (the one it read, or the one it wrote).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn leave_clean_mark(
        &self,
        folder: &FolderRecord,
        names: NameRules,
        excluded: &std::collections::BTreeSet<RelPath>,
        head: &HeadState,
        listing: Digest,
        ignores: Option<Digest>,
        summary: &SyncSummary,
    ) -> Result<(), SyncError> {
        let id = folder.id;
        let record = self.folder_record(id).await?;
        let shape = self.plan_shape(&record, names, excluded);
        let mark = CleanMark::new(head, shape, listing, ignores, summary).to_text();
        self.with_journal(move |j| j.set_clean_mark(id, &mark))
            .await
    }

    /// The summary of a sync that has nothing to do, when the folder's clean mark shows that
    /// nothing can have changed since (see the module docs); else the mark and the walk of
    /// the folder for a narrow sync (see `narrow`) when the mark still describes the state
    /// the journal holds; else plan in full.
    pub(super) async fn no_change(
        &self,
        folder: &FolderRecord,
        head: Option<&HeadState>,
    ) -> Result<Quick, SyncError> {
        let Some(head) = head else {
            return Ok(Quick::Full);
        };
        let id = folder.id;
        let verify_key = super::verify::pending_key(id);
        let (mark, pending, excluded, record) = self
            .with_journal(move |j| {
                Ok((
                    j.clean_mark(id)?,
                    j.get_config(&verify_key)?,
                    j.excluded_paths(id)?,
                    j.folder(id)?,
                ))
            })
            .await?;
        let Some(mark) = mark.as_deref().and_then(CleanMark::parse) else {
            return Ok(Quick::Full);
        };
        self.no_change_tries
            .with_mark
            .fetch_add(1, Ordering::Relaxed);
        let head_moved = mark.head != head.value || mark.head_version != head.version;
        // A late check of a commit's blobs that is due now is the full path's to run (one
        // not yet due is left for a later sync either way). A list that cannot be read: the
        // full path decides.
        let pending: Option<Vec<super::verify::Pending>> = match pending {
            None => Some(Vec::new()),
            Some(text) => serde_json::from_str(&text).ok(),
        };
        let now = crate::clock::unix_now();
        let window = self.verify_window_secs();
        let due = pending.is_none_or(|list| {
            list.iter()
                .any(|p| now.saturating_sub(p.committed) >= window)
        });
        if due {
            debug!("a late check of a commit's blobs is due");
            return Ok(Quick::Full);
        }
        let Some(record) = record else {
            return Err(SyncError::UnknownFolder(id.to_string()));
        };
        let names = self.name_rules(folder).await;
        if self.plan_shape(&record, names, &excluded) != mark.shape {
            debug!("a setting that shapes the plan changed since the last clean sync");
            return Ok(Quick::Full);
        }
        let root = folder.path.clone();
        let opts = self.scan_options();
        // One walk serves both answers: its digest for "no change", its rows for a narrow
        // sync.
        let walk = tokio::task::spawn_blocking(move || crate::scan::walk_folder(&root, &opts))
            .await
            .map_err(|e| SyncError::Internal(format!("listing task failed: {e}")))??;
        // Checked again after the walk, as after a scan: a folder removed or unmounted while
        // it was walked is an error, never "no change".
        super::check_root(folder)?;
        if head_moved || walk.listing() != Some(mark.listing) {
            debug!(
                head_moved,
                "the page's head or the folder's listing changed since the last clean sync"
            );
            return Ok(Quick::Narrow(Box::new(super::narrow::NarrowStart {
                mark,
                walk,
            })));
        }
        if mark.skipped_remote > 0 {
            warn!(
                count = mark.skipped_remote,
                "entries from other devices have names this device does not sync (hidden, temporary or ignored here); they are skipped"
            );
        }
        if !mark.unstorable.is_empty() {
            warn!(
                count = mark.unstorable.len(),
                "entries from other devices cannot be stored on this computer; they are left alone"
            );
        }
        debug!("nothing changed since the last clean sync");
        self.no_change_tries
            .answered
            .fetch_add(1, Ordering::Relaxed);
        Ok(Quick::Answered(mark.summary()))
    }

    /// Tests only: whenever the no-change path answers "nothing to do", run the full path
    /// too and panic unless its plan is empty and its summary the same.
    #[doc(hidden)]
    pub fn with_no_change_check_for_tests(mut self) -> Self {
        self.check_no_change = true;
        self
    }

    /// Tests only: how often this syncer (and its clones) tried the no-change path with a
    /// mark, and how often it answered.
    #[doc(hidden)]
    pub fn no_change_tries_for_tests(&self) -> NoChangeTries {
        NoChangeTries {
            with_mark: self.no_change_tries.with_mark.load(Ordering::Relaxed),
            answered: self.no_change_tries.answered.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(v: u64) -> HeadState {
        HeadState {
            value: serde_json::json!({"seq": v}),
            version: v,
        }
    }

    #[test]
    fn a_mark_reads_back_and_an_other_format_never_matches() {
        let summary = SyncSummary {
            skipped_remote: 2,
            unstorable: vec![UnstorableName {
                path: "CON".into(),
                reason: "reserved".into(),
                kind: "reserved-device-name".into(),
            }],
            ..SyncSummary::default()
        };
        let mark = CleanMark::new(
            &head(3),
            Digest::of(b"s"),
            Digest::of(b"l"),
            Some(Digest::of(b"i")),
            &summary,
        );
        assert_eq!(CleanMark::parse(&mark.to_text()), Some(mark.clone()));
        assert_eq!(mark.summary(), summary, "the summary the full path gave");
        let mut older = mark.clone();
        older.format = MARK_FORMAT + 1;
        assert_eq!(CleanMark::parse(&older.to_text()), None);
        assert_eq!(CleanMark::parse("not json"), None);
    }
}
