//! What a person does with the history: list the versions of a path, and restore a file, a
//! subtree or the whole folder as it was at a time or a version — into place (it then syncs
//! to every device as an ordinary change, itself undoable) or into another folder.
//!
//! Safety: every file comes through the sync's own download (each chunk and the whole file
//! checked against their SHA-256, a temporary file renamed into place, never through a link
//! and never outside the target). Into place, the content a restore replaces is kept in the
//! folder's local trash first, and a file is only removed when the page listed it now and
//! not at the restored time (moved to the local trash, never deleted); files the page never
//! had are left alone. Into another folder, nothing there is overwritten.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tracing::info;

use super::download::{download_file, RequestSlots};
use super::history::{self, is_under, PathTracker, PathVersion};
use super::Syncer;
use crate::error::SyncError;
use crate::fs_safe;
use crate::ids::FolderId;
use crate::journal::FolderRecord;
use crate::manifest::{EntryKind, FileEntry, Head, RemoteTree};
use crate::plan::LocalEntry;
use crate::rel_path::RelPath;
use crate::remote::RemoteStore;

/// Which past state: the one current at a time, or a version from `history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionPick {
    /// The state current at this time (ms since the Unix epoch).
    At(i64),
    /// A version as `history` lists it: a file's own version counter, or for a folder the
    /// commit (seq).
    Version(u64),
}

/// Where a restore writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreTarget {
    /// Into the synced folder itself.
    InPlace,
    /// Into this folder (outside the synced one); the path keeps its last component.
    Into(PathBuf),
}

/// One change a restore makes (or would make, in a dry run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreChange {
    /// Path relative to the synced folder.
    pub path: String,
    /// Where it is written (absolute).
    pub target: PathBuf,
    /// `write` (the file gets its past content), `create-folder`, `remove` (moved to the
    /// local trash: the page had it only after the restored time), `skip` (already as it
    /// was) or `exists` (into another folder: something is there already; left alone).
    pub change: String,
    /// Bytes of the past version (files).
    pub size: u64,
    /// The past version's counter and device (files).
    pub version: Option<u64>,
    /// See `version`.
    pub device: Option<String>,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreReport {
    /// The commit restored.
    pub seq: u64,
    /// Its time (ms since the Unix epoch).
    pub time_ms: i64,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Every change, by path.
    pub changes: Vec<RestoreChange>,
}

/// Journal key of the bytes only the history keeps on a folder's page (measured by the last
/// garbage collection or `usage`).
pub(crate) fn history_bytes_key(id: FolderId) -> String {
    format!("history-bytes:{id}")
}

/// The bytes only the history keeps on a folder's page, as last measured (by garbage
/// collection or `usage`); `None` before the first measurement. For `status`.
pub fn stored_history_bytes(
    j: &crate::journal::Journal,
    id: FolderId,
) -> Result<Option<u64>, crate::journal::JournalError> {
    Ok(j.get_config(&history_bytes_key(id))?
        .and_then(|s| s.parse().ok()))
}

impl Syncer {
    /// Test-only: keep history for `ms` instead of `history-keep-days`.
    pub fn with_history_keep_ms_for_tests(mut self, ms: i64) -> Self {
        self.history_keep_ms_for_tests = Some(ms);
        self
    }

    /// Test-only: read no format newer than `format`, like an older build (which reads the
    /// head's `format` first and refuses a newer one).
    pub fn with_max_format_for_tests(mut self, format: u32) -> Self {
        self.limits.max_format = format;
        self
    }

    /// How long this device keeps replaced file lists of the folder at `path` (ms).
    pub(crate) fn history_keep_ms(&self, path: &Path) -> i64 {
        self.history_keep_ms_for_tests.unwrap_or_else(|| {
            let days = self.settings.history_keep_days_for(path);
            i64::try_from(days.saturating_mul(24 * 3600 * 1000)).unwrap_or(i64::MAX)
        })
    }

    /// The bytes only the history keeps on the folder's page, as last measured (by garbage
    /// collection or [`Syncer::page_usage`]); `None` before the first measurement.
    pub async fn history_bytes(&self, folder_id: FolderId) -> Result<Option<u64>, SyncError> {
        let key = history_bytes_key(folder_id);
        let v = self.with_journal(move |j| j.get_config(&key)).await?;
        Ok(v.and_then(|s| s.parse().ok()))
    }

    pub(super) async fn head_and_tree(
        &self,
        folder_id: FolderId,
        store: &dyn RemoteStore,
    ) -> Result<(FolderRecord, Head, RemoteTree), SyncError> {
        let (folder, view) = self.folder_and_remote(folder_id, store).await?;
        let Some(head) = view.head else {
            return Err(SyncError::NotInHistory(
                "the page holds no file list yet".into(),
            ));
        };
        Ok((folder, head, view.tree))
    }

    /// Every retained version of `path` (`None`: the whole folder), oldest first: each
    /// commit that changed it, with time, device, size and what happened.
    pub async fn path_history(
        &self,
        folder_id: FolderId,
        store: &dyn RemoteStore,
        path: Option<&RelPath>,
    ) -> Result<Vec<PathVersion>, SyncError> {
        let (_, head, _) = self.head_and_tree(folder_id, store).await?;
        let segments = history::timeline(store, &head, &self.limits).await?;
        let mut tracker = PathTracker::new(path.cloned());
        history::walk(store, &head.generation, &segments, &self.limits, |s| {
            tracker.step(s)
        })
        .await?;
        Ok(tracker.versions)
    }

    /// Restore `path` (`None`: the whole folder) as it was at `pick`, into `target`; with
    /// `dry_run` only say what would change.
    pub async fn restore(
        &self,
        folder_id: FolderId,
        store: &dyn RemoteStore,
        path: Option<&RelPath>,
        pick: VersionPick,
        target: &RestoreTarget,
        dry_run: bool,
    ) -> Result<RestoreReport, SyncError> {
        let (folder, head, now_tree) = self.head_and_tree(folder_id, store).await?;
        let segments = history::timeline(store, &head, &self.limits).await?;
        let commits: BTreeMap<u64, i64> = segments.iter().flat_map(|s| s.commits()).collect();
        let oldest = commits.iter().next().map(|(s, t)| (*s, *t));
        let seq = match pick {
            VersionPick::At(t) => history::seq_at_time(&segments, t).ok_or_else(|| {
                SyncError::NotInHistory(match oldest {
                    Some((_, t0)) => format!(
                        "the page's history starts at {} (ms since 1970); nothing older is kept",
                        t0
                    ),
                    None => "the page keeps no history".into(),
                })
            })?,
            VersionPick::Version(n) => {
                let versions = self.path_history(folder_id, store, path).await?;
                versions
                    .iter()
                    .find(|v| v.version.map_or(v.seq == n, |ver| ver == n))
                    .filter(|v| v.action != "deleted")
                    .map(|v| v.seq)
                    .ok_or_else(|| {
                        SyncError::NotInHistory(format!(
                            "no version {n} of {} in the retained history (see `history`)",
                            path.map_or("the folder", |p| p.as_str())
                        ))
                    })?
            }
        };
        let time_ms = commits.get(&seq).copied().unwrap_or(0);
        let past = history::tree_at(store, &head.generation, &segments, seq, &self.limits)
            .await?
            .ok_or_else(|| SyncError::NotInHistory(format!("commit {seq} is not retained")))?;
        // Into place, what this device excludes (selective sync) stays off it.
        let excluded = match target {
            RestoreTarget::InPlace => {
                self.with_journal(move |j| j.excluded_paths(folder_id))
                    .await?
            }
            RestoreTarget::Into(_) => Default::default(),
        };
        let kept_off = |p: &RelPath| excluded.iter().any(|x| is_under(p, Some(x)));
        let wanted: Vec<&FileEntry> = past
            .live()
            .filter(|e| is_under(&e.path, path) && !kept_off(&e.path))
            .collect();
        if let Some(p) = path {
            if wanted.is_empty() {
                return Err(SyncError::NotInHistory(format!(
                    "{p} did not exist at the restored time (commit {seq})"
                )));
            }
        }
        let (root, strip) = match target {
            RestoreTarget::InPlace => (folder.path.clone(), None),
            RestoreTarget::Into(dir) => (dir.clone(), path.and_then(|p| p.parent())),
        };
        let dest_of = |rel: &RelPath| -> Result<RelPath, SyncError> {
            match &strip {
                None => Ok(rel.clone()),
                Some(parent) => {
                    let rest = rel
                        .as_str()
                        .strip_prefix(parent.as_str())
                        .and_then(|r| r.strip_prefix('/'))
                        .unwrap_or(rel.as_str());
                    RelPath::new(rest).map_err(|e| {
                        SyncError::Internal(format!("restoring {rel}: bad target path: {e}"))
                    })
                }
            }
        };
        let in_place = matches!(target, RestoreTarget::InPlace);
        let mut changes = Vec::new();
        let mut writes: Vec<(RelPath, FileEntry, Option<LocalEntry>)> = Vec::new();
        // Into place, what the page lists now below the path but did not then goes to the
        // local trash, and so does what is in the way of a past entry of another type (a file
        // where a folder was, a folder — emptied by the first rule — where a file was).
        let mut removals: Vec<RelPath> = Vec::new();
        let remove_change = |p: &RelPath, size: u64| RestoreChange {
            path: p.to_string(),
            target: p.to_native(&root),
            change: "remove".into(),
            size,
            version: None,
            device: None,
        };
        for e in &wanted {
            let dest = dest_of(&e.path)?;
            // A path below a file that gives way to a folder cannot be looked at yet: it is
            // not there.
            let found = fs_safe::stat(&root, &dest).ok().flatten();
            let in_the_way = match (e.kind, &found) {
                (EntryKind::Dir, Some(m)) => m.kind != fs_safe::Kind::Dir,
                (EntryKind::File, Some(m)) => m.kind != fs_safe::Kind::File,
                (_, None) => false,
            };
            let change = match (e.kind, &found) {
                (_, Some(_)) if in_the_way && !in_place => "exists",
                (EntryKind::Dir, Some(_)) if in_the_way => "create-folder",
                (EntryKind::Dir, Some(_)) => "skip",
                (EntryKind::Dir, None) => "create-folder",
                (EntryKind::File, Some(_)) if in_the_way => "write",
                (EntryKind::File, Some(_)) if !in_place => "exists",
                (EntryKind::File, Some(m))
                    if m.len == e.size && local_sha256(&root, &dest) == e.sha256 =>
                {
                    "skip"
                }
                (EntryKind::File, _) => "write",
            };
            if in_place && in_the_way {
                removals.push(dest.clone());
                changes.push(remove_change(&dest, 0));
            }
            if change == "write" {
                let expected = found.filter(|_| !in_the_way).map(|m| LocalEntry {
                    kind: EntryKind::File,
                    size: m.len,
                    mtime_ns: m.mtime_ns,
                    sha256: None,
                });
                writes.push((dest.clone(), (*e).clone(), expected));
            }
            changes.push(RestoreChange {
                path: e.path.to_string(),
                target: dest.to_native(&root),
                change: change.into(),
                size: e.size,
                version: (e.kind == EntryKind::File).then_some(e.version),
                device: (e.kind == EntryKind::File).then(|| e.device.to_string()),
            });
        }
        if in_place {
            let then: std::collections::HashSet<&RelPath> =
                wanted.iter().map(|e| &e.path).collect();
            for e in now_tree.live() {
                if is_under(&e.path, path) && !then.contains(&e.path) && !kept_off(&e.path) {
                    if let Ok(Some(_)) = fs_safe::stat(&root, &e.path) {
                        removals.push(e.path.clone());
                        changes.push(remove_change(&e.path, e.size));
                    }
                }
            }
        }
        changes.sort_by(|a, b| a.path.cmp(&b.path));
        if !dry_run {
            // Deepest first, so a folder is emptied before it is looked at.
            removals.sort_by(|a, b| b.depth().cmp(&a.depth()).then_with(|| a.cmp(b)));
            removals.dedup();
            for rel in &removals {
                let empty_dir = |rel: &RelPath| {
                    std::fs::read_dir(rel.to_native(&root))
                        .map(|mut d| d.next().is_none())
                        .unwrap_or(false)
                };
                match fs_safe::stat(&root, rel) {
                    // Only an empty folder goes; one that still holds files the page never had
                    // stays (a file restored there then fails, saying so).
                    Ok(Some(m)) if m.kind == fs_safe::Kind::Dir && !empty_dir(rel) => {}
                    Ok(Some(_)) => {
                        super::move_to_trash(&root, rel)
                            .map_err(|err| SyncError::io(format!("removing {rel}"), err))?;
                    }
                    _ => {}
                }
            }
            for e in wanted.iter().filter(|e| e.kind == EntryKind::Dir) {
                let dest = dest_of(&e.path)?;
                if let Ok(None) = fs_safe::stat(&root, &dest) {
                    fs_safe::create_dir_all(&root, &dest)
                        .map_err(|err| SyncError::io(format!("creating {dest}"), err))?;
                }
            }
            let no_packs = HashMap::new();
            let slots = RequestSlots::new(self.settings.parallel_transfers);
            for (dest, entry, expected) in &writes {
                download_file(
                    store,
                    &root,
                    dest,
                    entry,
                    expected.as_ref(),
                    in_place,
                    &no_packs,
                    &|_| {},
                    &slots,
                )
                .await
                .map_err(|err| SyncError::Internal(format!("restoring {dest}: {err}")))?;
            }
            info!(seq, changes = changes.len(), "restored");
        }
        Ok(RestoreReport {
            seq,
            time_ms,
            dry_run,
            changes,
        })
    }
}

/// SHA-256 of a file below `root`, `None` when it cannot be read.
fn local_sha256(root: &Path, rel: &RelPath) -> Option<crate::hash::Digest> {
    let path = rel.to_native(root);
    crate::chunk::hash_file(&path, u64::MAX)
        .ok()
        .map(|h| h.sha256)
}
