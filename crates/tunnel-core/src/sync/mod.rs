//! One folder sync, start to finish: read the remote, scan the disk, reconcile against the
//! journal's base, carry out the plan, and publish our changes with a compare-and-swap on
//! the head. When another device wins the race, everything is re-read and re-planned
//! (uploaded chunks are content-addressed, so nothing is sent twice).
//!
//! Safety rules kept here:
//! - a missing folder root or marker is an error, never "everything was deleted";
//! - files that could not be read are left out of the plan (neither uploaded nor deleted);
//! - a plan that deletes more than the configured share stops unless confirmed;
//! - downloads land through a verified temporary file (see [`download`]);
//! - the base is updated only for what is verified on both sides: downloads after their
//!   rename, our uploads after the head commit succeeded.

mod download;
mod file_list;
mod gc;
mod hashing_writer;
mod marker;
mod remote_state;
mod upload;
mod verify;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::stream::{self, StreamExt};
use tokio::sync::broadcast;
use tracing::{debug, info, instrument, warn};

use crate::config::SyncSettings;
use crate::error::SyncError;
use crate::events::{SyncEvent, SyncSummary, TransferProgress};
use crate::fs_safe;
use crate::hash::Digest;
use crate::journal::{FolderRecord, Journal};
use crate::manifest::{
    ChunkRef, Delta, EntryKind, FileEntry, Head, Limits, RemoteTree, FORMAT_VERSION,
};
use crate::plan::{reconcile, Action, LocalEntry, PlanInput};
use crate::rel_path::RelPath;
use crate::remote::{BlobName, RemoteError, RemoteStore};
use crate::scan::{scan_folder, LocalScan, ScanOptions, SkipReason};

use download::{DownloadError, PackCache};
use upload::{ChunkIndex, FileToSend, PackBuilder, SendPlan};

pub use download::{TEMP_PREFIX, TEMP_SUFFIX};

/// Name of the marker file kept in every synced folder's root, holding the folder's id. Its
/// absence means the folder was unmounted, moved or replaced, and the sync refuses to run; so
/// does a marker of another folder (see `marker`).
pub const FOLDER_MARKER: &str = ".sber-tunnel-folder";

/// How many times a sync re-plans after losing the commit race before giving up.
const MAX_COMMIT_ATTEMPTS: u32 = 8;
/// Tombstones older than this are dropped when the file list is compacted.
const TOMBSTONE_KEEP_NS: i64 = 30 * 24 * 3600 * 1_000_000_000;
/// Packs sent at once (each holds up to `pack_target` bytes in memory).
const PACKS_IN_FLIGHT: usize = 2;

/// Options of one sync run.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Carry out a plan even when it deletes more than the configured share of the folder.
    pub confirm_deletions: bool,
}

/// Runs folder syncs for one configuration (one device).
#[derive(Clone)]
pub struct Syncer {
    journal: Arc<Mutex<Journal>>,
    settings: SyncSettings,
    device: String,
    events: broadcast::Sender<SyncEvent>,
    limits: Limits,
    /// Test-only garbage-collection timing: (grace, verification window), in seconds.
    gc_timing_for_tests: Option<(u64, i64)>,
}

impl Syncer {
    /// A syncer over `journal` for device `device`.
    pub fn new(journal: Arc<Mutex<Journal>>, settings: SyncSettings, device: String) -> Self {
        let (events, _) = broadcast::channel(1024);
        let limits = Limits {
            max_bytes: 256 << 20,
            ..Limits::default()
        };
        Syncer {
            journal,
            settings,
            device,
            events,
            limits,
            gc_timing_for_tests: None,
        }
    }

    /// Live events of every sync run by this syncer.
    pub fn subscribe(&self) -> broadcast::Receiver<SyncEvent> {
        self.events.subscribe()
    }

    /// The shared journal.
    pub fn journal(&self) -> Arc<Mutex<Journal>> {
        self.journal.clone()
    }

    fn emit(&self, e: SyncEvent) {
        let _ = self.events.send(e);
    }

    async fn with_journal<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Journal) -> Result<R, crate::journal::JournalError> + Send + 'static,
    ) -> Result<R, SyncError> {
        let journal = self.journal.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = journal
                .lock()
                .map_err(|_| SyncError::Internal("journal lock poisoned".into()))?;
            f(&mut guard).map_err(SyncError::from)
        })
        .await
        .map_err(|e| SyncError::Internal(format!("journal task failed: {e}")))?
    }

    /// Mark a new folder's root so a vanished folder is never mistaken for an emptied one.
    pub fn mark_folder(root: &Path, folder_uuid: &str) -> Result<(), SyncError> {
        marker::write(root, folder_uuid)
    }

    /// Sync one folder with its remote store.
    #[instrument(skip_all, fields(folder = folder_id), err(level = "debug"))]
    pub async fn sync_folder(
        &self,
        folder_id: i64,
        store: &dyn RemoteStore,
        opts: &SyncOptions,
    ) -> Result<SyncSummary, SyncError> {
        let folder = self
            .with_journal(move |j| j.folder(folder_id))
            .await?
            .ok_or_else(|| SyncError::UnknownFolder(folder_id.to_string()))?;
        self.emit(SyncEvent::Started {
            folder: folder.path.clone(),
        });
        let result = self.sync_attempts(&folder, store, opts).await;
        let now = unix_now();
        let error_text = result.as_ref().err().map(|e| e.to_string());
        let id = folder.id;
        let et = error_text.clone();
        self.with_journal(move |j| j.record_sync(id, now, et.as_deref()))
            .await?;
        match &result {
            Ok(summary) => self.emit(SyncEvent::Finished {
                folder: folder.path.clone(),
                summary: summary.clone(),
            }),
            Err(e) => self.emit(SyncEvent::Failed {
                folder: folder.path.clone(),
                message: e.to_string(),
                code: e.code().as_str().to_string(),
            }),
        }
        result
    }

    async fn sync_attempts(
        &self,
        folder: &FolderRecord,
        store: &dyn RemoteStore,
        opts: &SyncOptions,
    ) -> Result<SyncSummary, SyncError> {
        if let Err(e) = check_root(folder) {
            // A foreign marker: name the folder it belongs to when it is one of ours.
            let others = self.with_journal(|j| j.folders()).await.unwrap_or_default();
            return Err(marker::check(folder, &others).err().unwrap_or(e));
        }
        prune_trash(&folder.path, TRASH_KEEP_DAYS);
        let mut summary = SyncSummary::default();
        for attempt in 1..=MAX_COMMIT_ATTEMPTS {
            match self.sync_once(folder, store, opts, &mut summary).await {
                Ok(()) => return Ok(summary),
                Err(SyncError::Remote(RemoteError::Conflict { .. })) => {
                    summary.commit_retries += 1;
                    let wait = backoff_ms(attempt);
                    info!(
                        attempt,
                        wait_ms = wait,
                        "another device committed first; re-planning"
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(SyncError::CommitContention(MAX_COMMIT_ATTEMPTS))
    }

    async fn sync_once(
        &self,
        folder: &FolderRecord,
        store: &dyn RemoteStore,
        opts: &SyncOptions,
        summary: &mut SyncSummary,
    ) -> Result<(), SyncError> {
        let id = folder.id;
        // 1. The remote side.
        let cached = self.with_journal(move |j| j.remote_cache(id)).await?;
        let folder_now = self
            .with_journal(move |j| j.folder(id))
            .await?
            .ok_or_else(|| SyncError::UnknownFolder(id.to_string()))?;
        let seen_key = format!("seen-head:{id}");
        let sk = seen_key.clone();
        let seen: Option<serde_json::Value> = self
            .with_journal(move |j| j.get_config(&sk))
            .await?
            .and_then(|t| serde_json::from_str(&t).ok());
        let view =
            remote_state::load_remote(store, &folder_now, cached, seen.as_ref(), &self.limits)
                .await?;
        if view.fetched {
            let tree = view.tree.clone();
            self.with_journal(move |j| j.store_remote_cache(id, &tree))
                .await?;
        }

        // 2. The local side. The root is checked again after the scan: a folder removed or
        // unmounted while it was being read looks exactly like "every file deleted".
        let scan = self.scan(folder).await?;
        check_root(folder)?;
        // The scan passed our own leftovers (hidden names) by; no download runs now.
        remove_stale_temp_files(&scan.skipped);
        for (path, reason) in &scan.skipped {
            if let SkipReason::InvalidName(why) = reason {
                warn!(path = %path.display(), "not synced: {why}; rename it to sync it");
            }
        }
        let base = self.with_journal(move |j| j.base(id)).await?;
        // An untrusted base (remote wiped, replaced, gone back in time) is not planned with.
        // Its entries are dropped only when a new remote state is adopted (step 5), never
        // before: a head "gone" for one request must not cost the base its record of
        // deletions and edits. Entries this sync records again are not stale.
        let mut stale_base: HashSet<RelPath> = if view.base_trusted {
            HashSet::new()
        } else {
            base.keys().cloned().collect()
        };

        // 3. The plan, without anything we could not read.
        let mut unreadable: Vec<RelPath> = scan.unreadable.iter().map(|(p, _)| p.clone()).collect();
        summary.skipped_unreadable = unreadable.len() as u64;
        // Ignored, hidden and temporary paths and symlinks are neither ours to delete
        // remotely nor to overwrite locally.
        unreadable.extend(scan.excluded.iter().cloned());
        // Remote entries this device would never upload (hidden, temporary or ignored names,
        // e.g. a `.sbtignore` or `.envrc` from a device with other rules, or hostile) are not
        // written here, and left out on every side like the local ones.
        let foreign = names_not_synced_here(&view.tree, &scan);
        summary.skipped_remote = foreign.iter().filter(|(_, live)| *live).count() as u64;
        unreadable.extend(foreign.into_iter().map(|(p, _)| p));
        let local = without(&scan.entries, &unreadable);
        let base = without(&base, &unreadable);
        let remote = without(&view.tree.files, &unreadable);
        // Folders holding what is left out (not our stale downloads, removed above): a remote
        // file never takes their place.
        let holding_unsynced: BTreeSet<RelPath> = unreadable
            .iter()
            .filter(|p| {
                let name = p.file_name();
                !(name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX))
            })
            .flat_map(|p| std::iter::successors(p.parent(), |a| a.parent()))
            .collect();
        let plan = reconcile(&PlanInput {
            base: &base,
            local: &local,
            remote: &remote,
            device: &self.device,
            now_utc: time::OffsetDateTime::now_utc(),
            base_trusted: view.base_trusted,
            holding_unsynced: &holding_unsynced,
        });
        self.guard_deletions(folder, &plan.actions, &base, opts)?;
        debug!(actions = plan.actions.len(), "plan");

        // 4. Carry it out.
        let mut exec = Execution::new();
        self.apply_local_conflict_moves(folder, &plan.actions, &scan, &mut exec)
            .await?;
        // Deletions first: a folder replaced by a file (or a case-only rename on a
        // case-insensitive disk) needs the old entry gone before the new one lands.
        self.delete_local(folder, &plan.actions, &mut exec).await?;
        self.download_all(folder, store, &plan.actions, &local, &mut exec)
            .await?;
        for p in exec.base_upserts.iter().map(|e| &e.path) {
            stale_base.remove(p);
        }
        let base_updates = exec.base_upserts.clone();
        let base_removals = exec.base_removals.clone();
        self.with_journal(move |j| j.apply_base(id, &base_updates, &base_removals))
            .await?;
        exec.base_upserts.clear();
        exec.base_removals.clear();

        let to_publish = self
            .upload_all(folder, store, &plan.actions, &scan, &view.tree, &mut exec)
            .await?;

        // 5. Publish (the root checked once more: deletions are only published for a folder
        // that is still there).
        check_root(folder)?;
        if !to_publish.is_empty() {
            for e in &to_publish {
                stale_base.remove(&e.path);
            }
            self.commit(folder, store, &view, to_publish, &exec.copies_not_here)
                .await?;
            if !stale_base.is_empty() {
                let stale: Vec<RelPath> = stale_base.into_iter().collect();
                self.with_journal(move |j| j.apply_base(id, &[], &stale))
                    .await?;
            }
        } else if let Some(head) = &view.head {
            let (g, s) = (view.tree.generation.clone(), view.tree.seq);
            let text = head.to_value().to_string();
            let stale: Vec<RelPath> = stale_base.into_iter().collect();
            self.with_journal(move |j| {
                if !stale.is_empty() {
                    j.apply_base(id, &[], &stale)?;
                }
                j.set_remote_position(id, &g, s)?;
                j.set_config(&seen_key, &text)
            })
            .await?;
            self.check_introduced(
                folder,
                store,
                head,
                &view.tree,
                Default::default(),
                &HashMap::new(),
            )
            .await;
        }
        summary.uploaded += exec.summary.uploaded;
        summary.downloaded += exec.summary.downloaded;
        summary.deleted_local += exec.summary.deleted_local;
        summary.deleted_remote += exec.summary.deleted_remote;
        summary.conflicts += exec.summary.conflicts;
        summary.bytes_up += exec.summary.bytes_up;
        summary.bytes_down += exec.summary.bytes_down;
        summary.skipped_unreadable += exec.failed_files;
        Ok(())
    }

    async fn scan(&self, folder: &FolderRecord) -> Result<LocalScan, SyncError> {
        let id = folder.id;
        let cache = self.with_journal(move |j| j.scan_cache(id)).await?;
        let root = folder.path.clone();
        let opts = ScanOptions {
            chunk_size: self.settings.chunk_size,
            extra_ignores: self.settings.ignore.clone(),
        };
        let (scan, cache) = tokio::task::spawn_blocking(move || {
            let scan = scan_folder(&root, &cache, &opts);
            (scan, cache)
        })
        .await
        .map_err(|e| SyncError::Internal(format!("scan task failed: {e}")))?;
        let scan = scan?;
        // Only rows that changed are written back: an unchanged folder of 100,000 files costs
        // no journal writes.
        let upserts: Vec<(RelPath, crate::journal::CachedHash)> = scan
            .hashes
            .iter()
            .filter(|(p, h)| cache.get(*p) != Some(*h))
            .map(|(p, h)| (p.clone(), h.clone()))
            .collect();
        let stale: Vec<RelPath> = cache
            .keys()
            .filter(|p| !scan.hashes.contains_key(*p))
            .cloned()
            .collect();
        if !upserts.is_empty() || !stale.is_empty() {
            self.with_journal(move |j| j.update_scan_cache(id, &upserts, &stale))
                .await?;
        }
        Ok(scan)
    }

    fn guard_deletions(
        &self,
        folder: &FolderRecord,
        actions: &[Action],
        base: &BTreeMap<RelPath, FileEntry>,
        opts: &SyncOptions,
    ) -> Result<(), SyncError> {
        if opts.confirm_deletions {
            return Ok(());
        }
        // Only deletions this device would publish count: deletions arriving from the remote
        // were published by a device that passed this same guard (or whose user confirmed).
        let count = actions
            .iter()
            .filter(|a| match a {
                Action::DeleteRemote { tombstone, .. } => tombstone.kind == EntryKind::File,
                _ => false,
            })
            .count();
        let total = base.values().filter(|e| e.kind == EntryKind::File).count();
        let share_limit = (self.settings.max_delete_share * total as f64).floor() as usize;
        if count > self.settings.max_delete_min_files && count > share_limit {
            return Err(SyncError::MassDeletion {
                folder: folder.path.clone(),
                count,
                total,
            });
        }
        Ok(())
    }

    async fn apply_local_conflict_moves(
        &self,
        folder: &FolderRecord,
        actions: &[Action],
        scan: &LocalScan,
        exec: &mut Execution,
    ) -> Result<(), SyncError> {
        for a in actions {
            let Action::ConflictRemoteWins {
                path, copy, local, ..
            } = a
            else {
                continue;
            };
            if !download::matches_expected(&folder.path, path, Some(local)).await
                || !download::matches_expected(&folder.path, copy, None).await
            {
                exec.failed_files += 1;
                warn!(path = %path, "changed while syncing; conflict resolved next time");
                continue;
            }
            if let Err(e) = fs_safe::rename(&folder.path, path, copy) {
                exec.failed_files += 1;
                warn!(path = %path, error = %e, "could not keep the local version aside");
                continue;
            }
            exec.moved.insert(copy.clone(), path.clone());
            exec.summary.conflicts += 1;
            self.emit(SyncEvent::Conflict {
                folder: folder.path.clone(),
                path: path.to_string(),
                copy: copy.to_string(),
            });
            // The scan's hashes of `path` now describe `copy`.
            if let Some(h) = scan.hashes.get(path) {
                exec.moved_hashes.insert(copy.clone(), h.clone());
            }
        }
        Ok(())
    }

    async fn download_all(
        &self,
        folder: &FolderRecord,
        store: &dyn RemoteStore,
        actions: &[Action],
        local: &BTreeMap<RelPath, LocalEntry>,
        exec: &mut Execution,
    ) -> Result<(), SyncError> {
        // (destination, entry to fetch, what we expect to find at the destination)
        let mut jobs: Vec<(RelPath, FileEntry, Option<LocalEntry>)> = Vec::new();
        // Conflict copies of the remote version: their base is recorded only after the commit
        // that publishes them, or a lost commit race would read them as deleted remotely.
        let mut copies: HashSet<RelPath> = HashSet::new();
        for a in actions {
            match a {
                Action::Download { path, entry } => match entry.kind {
                    EntryKind::Dir => {
                        // A file replaced by a folder remotely: the plan saw the file
                        // unchanged since the base, so it may go.
                        if let Some(l) = local.get(path).filter(|l| l.kind == EntryKind::File) {
                            if download::matches_expected(&folder.path, path, Some(l)).await {
                                let _ = fs_safe::remove_file(&folder.path, path);
                            }
                        }
                        match fs_safe::create_dir_all(&folder.path, path) {
                            Ok(()) => {
                                exec.base_upserts.push(entry.clone());
                                exec.summary.downloaded += 1;
                            }
                            Err(e) => {
                                exec.failed_files += 1;
                                warn!(path = %path, error = %e, "could not create folder");
                            }
                        }
                    }
                    EntryKind::File => {
                        jobs.push((path.clone(), entry.clone(), local.get(path).cloned()))
                    }
                },
                Action::ConflictRemoteWins {
                    path, copy, entry, ..
                } if exec.moved.contains_key(copy) => {
                    if entry.kind == EntryKind::Dir {
                        // The local file moved aside for a folder: the folder takes its place
                        // now, before the files inside it are fetched.
                        let native = path.to_native(&folder.path);
                        match tokio::fs::create_dir_all(&native).await {
                            Ok(()) => exec.base_upserts.push(entry.clone()),
                            Err(e) => {
                                exec.failed_files += 1;
                                warn!(path = %path, error = %e, "could not create folder");
                            }
                        }
                    } else {
                        jobs.push((path.clone(), entry.clone(), None));
                    }
                }
                Action::ConflictLocalWins { copy, entry, .. } => {
                    let mut as_copy = entry.clone();
                    as_copy.path = copy.clone();
                    copies.insert(copy.clone());
                    jobs.push((copy.clone(), as_copy, None));
                }
                Action::RecordBase { entry, .. } => exec.base_upserts.push(entry.clone()),
                Action::ForgetBase { path } => exec.base_removals.push(path.clone()),
                Action::Upload { .. }
                | Action::ConflictRemoteWins { .. }
                | Action::DeleteLocal { .. }
                | Action::DeleteRemote { .. } => {}
            }
        }
        if jobs.is_empty() {
            return Ok(());
        }
        let total_bytes: u64 = jobs.iter().map(|(_, e, _)| e.size).sum();
        let mut progress = TransferProgress {
            files_total: jobs.len() as u64,
            bytes_total: total_bytes,
            ..Default::default()
        };
        let packs = self
            .prefetch_packs(folder, store, jobs.iter().map(|(_, e, _)| e))
            .await;
        let packs = match packs {
            Ok(p) => p,
            Err(e) => return Err(e),
        };
        let root = folder.path.clone();
        let results: Vec<_> = stream::iter(jobs)
            .map(|(dest, entry, expected)| {
                let packs = &packs;
                let root = &root;
                async move {
                    let fetch = || {
                        download::download_file(
                            store,
                            root,
                            &dest,
                            &entry,
                            expected.as_ref(),
                            packs,
                        )
                    };
                    let mut r = fetch().await;
                    // A damaged body (truncated by a proxy, corrupted) is fetched once more.
                    if matches!(&r, Err(DownloadError::Remote(RemoteError::Integrity(_)))) {
                        r = fetch().await;
                    }
                    (dest, entry, expected, r)
                }
            })
            .buffer_unordered(self.settings.parallel_transfers.max(1))
            .collect()
            .await;
        // Local I/O failures (a disk filled up by a big file in parallel, say) are tried once
        // more one at a time, smallest first, once the failed transfers' temporary files are
        // gone: what fits still lands.
        let mut results = results;
        let mut again: Vec<usize> = (0..results.len())
            .filter(|&i| matches!(results[i].3, Err(DownloadError::Io(_))))
            .collect();
        again.sort_by_key(|&i| results[i].1.size);
        for i in again {
            let (dest, entry, expected, _) = &results[i];
            let r =
                download::download_file(store, &root, dest, entry, expected.as_ref(), &packs).await;
            results[i].3 = r;
        }
        for pack in packs.values() {
            let _ = tokio::fs::remove_file(&pack.file).await;
        }
        let mut fatal: Option<SyncError> = None;
        for (dest, entry, _, r) in results {
            if r.is_err() && copies.contains(&dest) {
                exec.copies_not_here.insert(dest.clone());
            }
            match r {
                Ok(()) => {
                    progress.files_done += 1;
                    progress.bytes_done += entry.size;
                    exec.summary.downloaded += 1;
                    exec.summary.bytes_down += entry.size;
                    self.emit(SyncEvent::Downloaded {
                        folder: folder.path.clone(),
                        path: dest.to_string(),
                        bytes: entry.size,
                    });
                    if !copies.contains(&dest) {
                        exec.base_upserts.push(entry);
                    }
                }
                Err(DownloadError::LocalChanged(p)) => {
                    exec.failed_files += 1;
                    info!(path = %p, "changed locally during the download; next sync");
                }
                Err(DownloadError::Remote(e)) if is_fatal(&e) => {
                    fatal.get_or_insert(SyncError::Remote(e));
                }
                Err(e) => {
                    exec.failed_files += 1;
                    warn!(path = %dest, error = %e, "download failed; retried next sync");
                }
            }
            self.emit(SyncEvent::Progress {
                folder: folder.path.clone(),
                progress: progress.clone(),
            });
        }
        match fatal {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn prefetch_packs<'a>(
        &self,
        folder: &FolderRecord,
        store: &dyn RemoteStore,
        entries: impl Iterator<Item = &'a FileEntry>,
    ) -> Result<HashMap<BlobName, Arc<PackCache>>, SyncError> {
        let wanted = download::packs_to_prefetch(entries);
        let root = folder.path.clone();
        let fetched: Vec<_> = stream::iter(wanted)
            .map(|(blob, (start, end))| {
                let root = &root;
                async move {
                    let r = download::prefetch_pack(store, root, &blob, start, end).await;
                    (blob, r)
                }
            })
            .buffer_unordered(PACKS_IN_FLIGHT)
            .collect()
            .await;
        let mut out = HashMap::new();
        for (blob, r) in fetched {
            match r {
                Ok(cache) => {
                    out.insert(blob, Arc::new(cache));
                }
                Err(DownloadError::Remote(e)) if is_fatal(&e) => {
                    for c in out.values() {
                        let c: &Arc<PackCache> = c;
                        let _ = std::fs::remove_file(&c.file);
                    }
                    return Err(SyncError::Remote(e));
                }
                // The files of this pack fall back to one ranged request each.
                Err(e) => warn!(blob = %blob, error = %e, "could not prefetch a pack"),
            }
        }
        Ok(out)
    }

    async fn delete_local(
        &self,
        folder: &FolderRecord,
        actions: &[Action],
        exec: &mut Execution,
    ) -> Result<(), SyncError> {
        for a in actions {
            let Action::DeleteLocal { path, expected } = a else {
                continue;
            };
            if !download::matches_expected(&folder.path, path, Some(expected)).await {
                exec.failed_files += 1;
                info!(path = %path, "changed locally; not deleting it");
                continue;
            }
            let r = match expected.kind {
                EntryKind::File => move_to_trash(&folder.path, path).map(|_| ()),
                EntryKind::Dir => fs_safe::remove_dir(&folder.path, path),
            };
            match r {
                Ok(()) => {
                    exec.base_removals.push(path.clone());
                    exec.summary.deleted_local += 1;
                    self.emit(SyncEvent::Deleted {
                        folder: folder.path.clone(),
                        path: path.to_string(),
                        remote: false,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    exec.base_removals.push(path.clone());
                }
                Err(e) if expected.kind == EntryKind::File => {
                    // Never deleted without a copy in the trash: the file stays here and in
                    // the base, so the next sync tries again (forgetting it would read it as
                    // new and upload it again, undoing the other device's deletion).
                    exec.failed_files += 1;
                    warn!(path = %path, error = %e,
                        "deleted on another device, but it could not be moved to the trash; kept here, tried again next sync");
                }
                Err(e) => {
                    // A folder that still holds ignored files stays; nothing is lost.
                    debug!(path = %path, error = %e, "not deleted");
                }
            }
        }
        Ok(())
    }

    /// Send what the plan publishes; returns the entries for the commit.
    async fn upload_all(
        &self,
        folder: &FolderRecord,
        store: &dyn RemoteStore,
        actions: &[Action],
        scan: &LocalScan,
        remote: &RemoteTree,
        exec: &mut Execution,
    ) -> Result<Vec<FileEntry>, SyncError> {
        let now_ns = unix_now_ns();
        let mut entries: Vec<FileEntry> = Vec::new();
        let mut files: Vec<(FileToSend, FileEntry)> = Vec::new();
        let add_upload = |path: &RelPath,
                          local: &LocalEntry,
                          version: u64,
                          hashes: Option<&crate::journal::CachedHash>,
                          entries: &mut Vec<FileEntry>,
                          files: &mut Vec<(FileToSend, FileEntry)>| {
            let entry = FileEntry {
                path: path.clone(),
                kind: local.kind,
                deleted: false,
                size: if local.kind == EntryKind::File {
                    local.size
                } else {
                    0
                },
                mtime_ns: local.mtime_ns,
                sha256: if local.kind == EntryKind::File {
                    local.sha256
                } else {
                    None
                },
                version,
                device: self.device.clone(),
                chunks: Vec::new(),
            };
            match (local.kind, local.sha256, hashes) {
                (EntryKind::Dir, _, _) => entries.push(entry),
                (EntryKind::File, Some(sha256), Some(h)) => files.push((
                    FileToSend {
                        path: path.clone(),
                        size: local.size,
                        sha256,
                        mtime_ns: local.mtime_ns,
                        inode: h.inode,
                        chunks: h.chunks.clone(),
                    },
                    entry,
                )),
                (EntryKind::File, _, _) => {
                    warn!(path = %path, "no hashes for a file to upload; next sync");
                }
            }
        };
        for a in actions {
            match a {
                Action::Upload {
                    path,
                    local,
                    version,
                } => add_upload(
                    path,
                    local,
                    *version,
                    scan.hashes.get(path),
                    &mut entries,
                    &mut files,
                ),
                Action::ConflictLocalWins {
                    path,
                    copy,
                    entry,
                    local,
                    version,
                } => {
                    add_upload(
                        path,
                        local,
                        *version,
                        scan.hashes.get(path),
                        &mut entries,
                        &mut files,
                    );
                    // The remote version lives on under `copy`, re-using its chunks.
                    let mut kept = entry.clone();
                    kept.path = copy.clone();
                    kept.version = 1;
                    entries.push(kept);
                    exec.summary.conflicts += 1;
                    self.emit(SyncEvent::Conflict {
                        folder: folder.path.clone(),
                        path: path.to_string(),
                        copy: copy.to_string(),
                    });
                }
                Action::ConflictRemoteWins {
                    path,
                    copy,
                    local,
                    entry,
                } => {
                    // A folder the remote does not hold (deleted there while something was
                    // added inside) is published with the copy.
                    let live_there = remote.files.get(path).is_some_and(|e| !e.deleted);
                    if exec.moved.contains_key(copy) && entry.kind == EntryKind::Dir && !live_there
                    {
                        entries.push(entry.clone());
                    }
                    if exec.moved.contains_key(copy) {
                        add_upload(
                            copy,
                            local,
                            1,
                            exec.moved_hashes.get(copy),
                            &mut entries,
                            &mut files,
                        );
                    }
                }
                Action::DeleteRemote { tombstone, .. } => {
                    let mut t = tombstone.clone();
                    t.mtime_ns = now_ns;
                    entries.push(t);
                    exec.summary.deleted_remote += 1;
                }
                Action::Download { .. }
                | Action::DeleteLocal { .. }
                | Action::RecordBase { .. }
                | Action::ForgetBase { .. } => {}
            }
        }

        // Where each chunk can already be found: the remote tree, then blobs this device sent
        // in an earlier, interrupted sync.
        let mut index: ChunkIndex = HashMap::new();
        for e in remote.files.values().filter(|e| !e.deleted) {
            for c in &e.chunks {
                index.entry(c.sha256).or_insert_with(|| c.clone());
            }
        }
        let id = folder.id;
        let known = self.with_journal(move |j| j.known_blobs(id)).await?;
        let wanted: HashSet<Digest> = files
            .iter()
            .flat_map(|(f, _)| f.chunks.iter().map(|c| c.sha256))
            .filter(|d| !index.contains_key(d))
            .collect();
        let mut gone: Vec<BlobName> = Vec::new();
        for (name, info) in &known {
            let Some(d) = name
                .as_str()
                .strip_prefix("c-")
                .and_then(|h| Digest::from_hex(h).ok())
            else {
                continue;
            };
            if !wanted.contains(&d) {
                continue;
            }
            // Sent in an earlier, interrupted sync: still there? (It may have been garbage
            // collected since; then it is simply sent again.)
            match store.find_blob(name).await {
                Ok(Some(found)) if found.size == info.size => {
                    index.entry(d).or_insert_with(|| ChunkRef {
                        sha256: d,
                        size: info.size,
                        blob: name.clone(),
                        offset: 0,
                    });
                }
                Ok(_) => gone.push(name.clone()),
                Err(e) if is_fatal(&e) => return Err(SyncError::Remote(e)),
                Err(e) => debug!(blob = %name, error = %e, "could not check a blob sent earlier"),
            }
        }
        if !gone.is_empty() {
            self.with_journal(move |j| j.forget_blobs(id, &gone))
                .await?;
        }

        let total_bytes: u64 = files.iter().map(|(f, _)| f.size).sum();
        let mut progress = TransferProgress {
            files_total: files.len() as u64 + entries.len() as u64,
            bytes_total: total_bytes,
            ..Default::default()
        };

        // Big files: their missing chunks, in parallel.
        let mut chunk_jobs: Vec<(usize, usize)> = Vec::new();
        let mut pack_members: Vec<usize> = Vec::new();
        let mut resolved: HashMap<usize, Vec<ChunkRef>> = HashMap::new();
        for (i, (f, _)) in files.iter().enumerate() {
            match upload::plan_send(f, &index, self.settings.pack_threshold) {
                SendPlan::Ready(refs) => {
                    resolved.insert(i, refs);
                }
                SendPlan::Pack => pack_members.push(i),
                SendPlan::Chunks { missing } => {
                    chunk_jobs.extend(missing.into_iter().map(|c| (i, c)));
                }
            }
        }
        let root = folder.path.clone();
        let mut failed: HashSet<usize> = HashSet::new();
        let mut fatal: Option<SyncError> = None;
        {
            let files_ref = &files;
            let root_ref = &root;
            let mut sent = stream::iter(chunk_jobs)
                .map(|(i, c)| async move {
                    let r = upload::send_chunk(store, root_ref, &files_ref[i].0, c).await;
                    (i, r)
                })
                .buffer_unordered(self.settings.parallel_transfers.max(1));
            while let Some((i, r)) = sent.next().await {
                match r {
                    Ok((info, chunk)) => {
                        progress.bytes_done += chunk.size;
                        exec.summary.bytes_up += chunk.size;
                        index.insert(chunk.sha256, chunk);
                        let info2 = info.clone();
                        self.with_journal(move |j| j.add_known_blobs(id, &[info2]))
                            .await?;
                        self.emit(SyncEvent::Progress {
                            folder: folder.path.clone(),
                            progress: progress.clone(),
                        });
                    }
                    Err(e) if is_fatal(&e) => {
                        fatal.get_or_insert(SyncError::Remote(e));
                    }
                    Err(e) => {
                        warn!(path = %files_ref[i].0.path, error = %e, "upload failed; retried next sync");
                        failed.insert(i);
                    }
                }
            }
        }
        if let Some(e) = fatal {
            return Err(e);
        }

        // Small files: packs.
        let mut pack_refs: HashMap<RelPath, ChunkRef> = HashMap::new();
        let mut builder = PackBuilder::default();
        let mut pending_packs: Vec<PackBuilder> = Vec::new();
        for &i in &pack_members {
            let f = &files[i].0;
            match builder.add(&root, f).await {
                Ok(()) => {}
                Err(e) => {
                    info!(path = %f.path, error = %e, "not packed this time");
                    failed.insert(i);
                    continue;
                }
            }
            if builder.len() >= self.settings.pack_target {
                pending_packs.push(std::mem::take(&mut builder));
                if pending_packs.len() >= PACKS_IN_FLIGHT {
                    self.send_packs(
                        store,
                        &mut pending_packs,
                        &mut pack_refs,
                        exec,
                        &mut progress,
                        folder,
                    )
                    .await?;
                }
            }
        }
        if !builder.is_empty() {
            pending_packs.push(builder);
        }
        self.send_packs(
            store,
            &mut pending_packs,
            &mut pack_refs,
            exec,
            &mut progress,
            folder,
        )
        .await?;

        // Assemble the entries.
        for (i, (f, mut entry)) in files.into_iter().enumerate() {
            if failed.contains(&i) {
                exec.failed_files += 1;
                continue;
            }
            let refs = if let Some(r) = resolved.remove(&i) {
                r
            } else if let Some(r) = pack_refs.remove(&f.path) {
                vec![r]
            } else {
                let refs: Option<Vec<ChunkRef>> = f
                    .chunks
                    .iter()
                    .map(|c| index.get(&c.sha256).cloned())
                    .collect();
                match refs {
                    Some(r) => r,
                    None => {
                        exec.failed_files += 1;
                        continue;
                    }
                }
            };
            entry.chunks = refs;
            entries.push(entry);
        }
        for e in &entries {
            if !e.deleted {
                exec.summary.uploaded += 1;
                self.emit(SyncEvent::Uploaded {
                    folder: folder.path.clone(),
                    path: e.path.to_string(),
                    bytes: e.size,
                });
            }
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_packs(
        &self,
        store: &dyn RemoteStore,
        pending: &mut Vec<PackBuilder>,
        refs: &mut HashMap<RelPath, ChunkRef>,
        exec: &mut Execution,
        progress: &mut TransferProgress,
        folder: &FolderRecord,
    ) -> Result<(), SyncError> {
        let batch: Vec<PackBuilder> = std::mem::take(pending);
        let results: Vec<_> = stream::iter(batch)
            .map(|p| async move { p.send(store).await })
            .buffer_unordered(PACKS_IN_FLIGHT)
            .collect()
            .await;
        let id = folder.id;
        for r in results {
            let (info, members) = r.map_err(SyncError::Remote)?;
            progress.bytes_done += info.size;
            exec.summary.bytes_up += info.size;
            self.with_journal(move |j| j.add_known_blobs(id, &[info]))
                .await?;
            refs.extend(members);
            self.emit(SyncEvent::Progress {
                folder: folder.path.clone(),
                progress: progress.clone(),
            });
        }
        Ok(())
    }

    /// Publish `entries` as the next delta and move the head with a compare-and-swap.
    async fn commit(
        &self,
        folder: &FolderRecord,
        store: &dyn RemoteStore,
        view: &remote_state::RemoteView,
        entries: Vec<FileEntry>,
        not_here: &HashSet<RelPath>,
    ) -> Result<(), SyncError> {
        // Committing on a history we could not trust (restored page, rewritten history):
        // start a new generation with a full snapshot, so every other device notices and
        // re-reads instead of applying our delta on top of a different past.
        let fresh_generation = view.head.is_some() && !view.base_trusted;
        let mut base_tree = view.tree.clone();
        if fresh_generation {
            base_tree.generation = uuid::Uuid::new_v4().to_string();
            info!("starting a new remote generation after a rewritten history");
        }
        let generation = base_tree.generation.clone();
        let seq = view.tree.seq + 1;
        let delta = Delta {
            format: FORMAT_VERSION,
            generation: generation.clone(),
            seq,
            device: self.device.clone(),
            entries: entries.clone(),
        };
        let mut tree = base_tree;
        tree.apply_delta(delta.clone())?;

        let mut head = match &view.head {
            Some(h) if !fresh_generation => h.clone(),
            _ => Head {
                format: FORMAT_VERSION,
                generation: generation.clone(),
                seq: 0,
                snapshot: None,
                deltas: Vec::new(),
            },
        };
        head.seq = seq;
        // What this commit adds to the page's references: checked after the head moved.
        let mut introduced = verify::introduced(&entries, &view.tree);
        let removes_references = entries.iter().any(|e| {
            view.tree
                .files
                .get(&e.path)
                .is_some_and(|old| !old.chunks.is_empty() && old.chunks != e.chunks)
        });
        // The delta in parts, or a new snapshot in parts (format 2): every part below the
        // chunk size the server accepts and the readers' cap, the head below its limit.
        let written = file_list::write_file_list(
            store,
            &head,
            &delta,
            &tree,
            unix_now_ns() - TOMBSTONE_KEEP_NS,
            file_list::PartLimits {
                preferred: self.settings.chunk_size,
                hard: self.limits.max_bytes,
                head_bytes: self.limits.max_head_bytes,
                max_parts: self.limits.max_parts,
            },
        )
        .await?;
        let head = written.head;
        let compacting = written.compacted;
        // The file list's own parts are new references too; the small ones can be restored
        // from memory (they exist nowhere on disk).
        let mut known_bytes: HashMap<BlobName, bytes::Bytes> = HashMap::new();
        for (name, bytes) in written.parts {
            introduced.insert(name.clone());
            if let Some(b) = bytes {
                known_bytes.insert(name, b);
            }
        }
        let head_version = store
            .write_head(&head.to_value(), view.head_version)
            .await?;
        info!(seq, entries = entries.len(), "committed");

        let id = folder.id;
        // The base is what this folder holds: a published entry that is not here (a conflict
        // copy whose download failed) stays out of it and is downloaded next time.
        let upserts: Vec<FileEntry> = entries
            .iter()
            .filter(|e| !e.deleted && !not_here.contains(&e.path))
            .cloned()
            .collect();
        let removals: Vec<RelPath> = entries
            .iter()
            .filter(|e| e.deleted)
            .map(|e| e.path.clone())
            .collect();
        for e in entries.iter().filter(|e| e.deleted) {
            self.emit(SyncEvent::Deleted {
                folder: folder.path.clone(),
                path: e.path.to_string(),
                remote: true,
            });
        }
        let g = generation.clone();
        let tree_for_gc = tree.clone();
        let seen_text = head.to_value().to_string();
        self.with_journal(move |j| {
            j.apply_base(id, &upserts, &removals)?;
            j.store_remote_cache(id, &tree)?;
            j.set_remote_position(id, &g, seq)?;
            j.set_config(&format!("seen-head:{id}"), &seen_text)
        })
        .await?;
        self.check_introduced(folder, store, &head, &tree_for_gc, introduced, &known_bytes)
            .await;
        if compacting || removes_references {
            self.maybe_collect_garbage(folder, store, &head, head_version, &tree_for_gc)
                .await;
        }
        Ok(())
    }

    /// Check the blobs a commit introduced (`fresh`, empty after a sync without a commit) now,
    /// and those of earlier commits once their verification window has passed; restore any
    /// that a collector trashed meanwhile (see [`verify`]). Failures are logged: the list stays
    /// in the journal and is tried again next sync.
    async fn check_introduced(
        &self,
        folder: &FolderRecord,
        store: &dyn RemoteStore,
        head: &Head,
        tree: &RemoteTree,
        fresh: std::collections::BTreeSet<BlobName>,
        known: &HashMap<BlobName, bytes::Bytes>,
    ) {
        let id = folder.id;
        let key = verify::pending_key(id);
        let k = key.clone();
        let Ok(stored) = self.with_journal(move |j| j.get_config(&k)).await else {
            return;
        };
        let mut pending: Vec<verify::Pending> = stored
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        if fresh.is_empty() && pending.is_empty() {
            return;
        }
        let now = unix_now();
        let window = self.verify_window_secs();
        // What no head references any more needs nothing.
        let needed = gc::referenced(head, tree);
        pending.retain(|p| needed.contains(&p.blob));
        let due: std::collections::BTreeSet<BlobName> = pending
            .iter()
            .filter(|p| now.saturating_sub(p.committed) >= window)
            .map(|p| p.blob.clone())
            .chain(fresh.iter().cloned())
            .collect();
        let mut known = known.clone();
        for p in &pending {
            if let Some(b) = p.bytes_hex.as_deref().and_then(|h| hex::decode(h).ok()) {
                known.entry(p.blob.clone()).or_insert_with(|| b.into());
            }
        }
        match verify::ensure_present(store, &folder.path, tree, &due, &known).await {
            // Checked late enough, present, restored or (logged) lost for good: done.
            Ok(_) => pending.retain(|p| !due.contains(&p.blob)),
            Err(e) => warn!(error = %e, "could not check the blobs of a commit; next sync"),
        }
        for blob in fresh {
            if !pending.iter().any(|p| p.blob == blob) {
                let bytes_hex = known
                    .get(&blob)
                    .filter(|b| b.len() <= verify::KEEP_BYTES_UP_TO)
                    .map(hex::encode);
                pending.push(verify::Pending {
                    blob,
                    committed: now,
                    bytes_hex,
                });
            }
        }
        let text = serde_json::to_string(&pending).unwrap_or_else(|_| "[]".into());
        let _ = self.with_journal(move |j| j.set_config(&key, &text)).await;
    }

    /// Garbage collection of what `head` (just committed, at property version
    /// `head_version`) no longer references, at most once per `min(grace, 1 h)` per folder.
    /// Failures are logged, never fatal: nothing is lost by collecting later.
    async fn maybe_collect_garbage(
        &self,
        folder: &FolderRecord,
        store: &dyn RemoteStore,
        head: &Head,
        head_version: u64,
        tree: &RemoteTree,
    ) {
        let id = folder.id;
        let now = unix_now();
        let grace = self.gc_grace_secs();
        let every = grace.min(3600) as i64;
        let last_key = format!("gc-last-run:{id}");
        let lk = last_key.clone();
        let Ok(last) = self.with_journal(move |j| j.get_config(&lk)).await else {
            return;
        };
        let last: i64 = last.and_then(|s| s.parse().ok()).unwrap_or(0);
        if now.saturating_sub(last) < every {
            return;
        }
        match gc::collect(store, head, head_version, tree, grace).await {
            Ok(_) => {
                let _ = self
                    .with_journal(move |j| j.set_config(&last_key, &now.to_string()))
                    .await;
            }
            Err(e) => warn!(error = %e, "garbage collection skipped"),
        }
    }

    /// The grace period garbage collection waits (see [`SyncSettings::gc_grace`]).
    fn gc_grace_secs(&self) -> u64 {
        self.gc_timing_for_tests
            .map_or_else(|| self.settings.gc_grace(), |(grace, _)| grace)
    }

    /// How long after a commit its introduced blobs are checked once more.
    fn verify_window_secs(&self) -> i64 {
        self.gc_timing_for_tests
            .map_or(verify::VERIFY_WINDOW_SECS, |(_, window)| window)
    }

    /// Tests only: collect garbage after `grace_secs` instead of the configured grace, below
    /// the product minimum ([`crate::config::MIN_GC_GRACE_SECS`]), and check the blobs a
    /// commit introduced once more `verify_window_secs` after it instead of an hour: a
    /// test can then race a collector against other devices without waiting an hour.
    #[doc(hidden)]
    pub fn with_gc_timing_for_tests(mut self, grace_secs: u64, verify_window_secs: i64) -> Self {
        self.gc_timing_for_tests = Some((grace_secs, verify_window_secs));
        self
    }
}

/// What one attempt did so far.
struct Execution {
    summary: SyncSummary,
    base_upserts: Vec<FileEntry>,
    base_removals: Vec<RelPath>,
    /// Conflict copies made by moving the local version aside: copy → original path.
    moved: HashMap<RelPath, RelPath>,
    moved_hashes: HashMap<RelPath, crate::journal::CachedHash>,
    /// Conflict copies of a losing remote version that are published but did not arrive here
    /// (a failed download): the commit must not record them in the base, or the next sync
    /// would read their absence as a local deletion and delete them everywhere.
    copies_not_here: HashSet<RelPath>,
    failed_files: u64,
}

impl Execution {
    fn new() -> Self {
        Execution {
            summary: SyncSummary::default(),
            base_upserts: Vec::new(),
            base_removals: Vec::new(),
            moved: HashMap::new(),
            moved_hashes: HashMap::new(),
            copies_not_here: HashSet::new(),
            failed_files: 0,
        }
    }
}

/// Hidden folder in each synced folder where files deleted by another device are kept.
pub const TRASH_DIR: &str = ".sber-tunnel-trash";
/// Days a file stays in [`TRASH_DIR`].
const TRASH_KEEP_DAYS: i64 = 30;

/// Most numbered alternatives tried for one name in the trash (`a (2)` … ).
const TRASH_NAME_TRIES: u32 = 100;

/// Move a file that another device deleted into `root/.sber-tunnel-trash/<date>/<path>`, so a
/// deletion that was a mistake can be undone by hand; returns where it went. Everything is
/// reached without following links (a `.sber-tunnel-trash` that is a file or a link, planted
/// or not, is refused), and a name already taken in the trash by something else (the file `a`
/// trashed earlier the same day, then `a/b`) gets a number: `a (2)/b`, `notes (2).txt`.
///
/// It never deletes: when the move fails the file stays where it is and the error says why.
/// A `NotFound` error means the file itself is gone.
fn move_to_trash(root: &Path, rel: &RelPath) -> std::io::Result<PathBuf> {
    let day = time::OffsetDateTime::now_utc().date().to_string();
    let (src, name) = fs_safe::parent_of(root, rel, false)?;
    // Errors on the trash side are never `NotFound` (that would read as "the file is gone").
    let trash_err = |e: std::io::Error| std::io::Error::other(format!("the trash: {e}"));
    let trash = fs_safe::Dir::root(root)
        .and_then(|top| top.open_or_create_dir(TRASH_DIR))
        .and_then(|t| t.open_or_create_dir(&day))
        .map_err(trash_err)?;
    let parts: Vec<&str> = rel.components().collect();
    let mut dir = trash;
    for part in &parts[..parts.len().saturating_sub(1)] {
        dir = trash_subfolder(&dir, part).map_err(trash_err)?;
    }
    let dest = trash_free_name(&dir, name).map_err(trash_err)?;
    src.rename(name, &dir, &dest)?;
    Ok(dir.path().join(dest))
}

/// `name`, then `name (2)`, `name (3)`… (before the extension of a file name).
fn numbered(name: &str, n: u32) -> String {
    if n <= 1 {
        return name.to_string();
    }
    match name.rfind('.') {
        Some(i) if i > 0 => format!("{} ({n}){}", &name[..i], &name[i..]),
        _ => format!("{name} ({n})"),
    }
}

/// The folder `name` in `dir` (made when missing), or a numbered one when a file or a link
/// already holds the name.
fn trash_subfolder(dir: &fs_safe::Dir, name: &str) -> std::io::Result<fs_safe::Dir> {
    for n in 1..=TRASH_NAME_TRIES {
        match dir.open_or_create_dir(&numbered(name, n)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => continue,
            other => return other,
        }
    }
    Err(std::io::Error::other(format!(
        "no free name for {name} in {}",
        dir.path().display()
    )))
}

/// A name not yet used in `dir`: `name`, or a numbered one.
fn trash_free_name(dir: &fs_safe::Dir, name: &str) -> std::io::Result<String> {
    for n in 1..=TRASH_NAME_TRIES {
        let candidate = numbered(name, n);
        if dir.stat(&candidate)?.is_none() {
            return Ok(candidate);
        }
    }
    Err(std::io::Error::other(format!(
        "no free name for {name} in {}",
        dir.path().display()
    )))
}

/// Remove day folders of the trash older than `keep_days`. A `.sber-tunnel-trash` that is not
/// a real folder (a link planted to make us delete elsewhere) is left alone.
fn prune_trash(root: &Path, keep_days: i64) {
    let trash = root.join(TRASH_DIR);
    if !std::fs::symlink_metadata(&trash).is_ok_and(|m| m.is_dir()) {
        return;
    }
    let Ok(rd) = std::fs::read_dir(&trash) else {
        return;
    };
    let today = time::OffsetDateTime::now_utc().date();
    let format = time::macros::format_description!("[year]-[month]-[day]");
    for e in rd.flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = e.file_name();
        let Ok(day) = time::Date::parse(&name.to_string_lossy(), &format) else {
            continue;
        };
        if (today - day).whole_days() > keep_days {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Errors that stop the whole sync rather than one file.
fn is_fatal(e: &RemoteError) -> bool {
    use crate::remote::RemoteErrorKind as K;
    matches!(
        e.kind(),
        K::Auth
            | K::Permission
            | K::Certificate
            | K::Unreachable
            | K::RateLimited
            | K::TooLarge
            | K::Server
            | K::Conflict
    )
}

/// The folder's root is there and its marker names this folder.
fn check_root(folder: &FolderRecord) -> Result<(), SyncError> {
    marker::check(folder, &[])
}

/// Remote entries (with whether each is live) that the scanner would leave out were they here.
/// The live ones are reported: one warning with their number, the first few paths at info.
fn names_not_synced_here(tree: &RemoteTree, scan: &LocalScan) -> Vec<(RelPath, bool)> {
    const LISTED: usize = 20;
    let out: Vec<(RelPath, bool)> = tree
        .files
        .values()
        .filter_map(|e| {
            let reason = scan.rules.skip_reason(&e.path, e.kind)?;
            Some((e.path.clone(), !e.deleted, reason))
        })
        .enumerate()
        .map(|(i, (path, live, reason))| {
            if live && i < LISTED {
                info!(path = %path, ?reason, "from another device, not synced here");
            }
            (path, live)
        })
        .collect();
    let live = out.iter().filter(|(_, l)| *l).count();
    if live > 0 {
        warn!(
            count = live,
            "entries from other devices have names this device does not sync (hidden, temporary or ignored here); they are skipped"
        );
    }
    out
}

/// Remove temporary files left by a sync that was killed (they are ours by name).
fn remove_stale_temp_files(skipped: &[(PathBuf, SkipReason)]) {
    for (path, reason) in skipped {
        let ours = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(TEMP_PREFIX) && n.ends_with(TEMP_SUFFIX));
        if !ours || !matches!(reason, SkipReason::Hidden) {
            continue;
        }
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) {
            match std::fs::remove_file(path) {
                Ok(()) => {
                    debug!(path = %path.display(), "removed a download left by an interrupted sync")
                }
                Err(e) => {
                    warn!(path = %path.display(), error = %e, "cannot remove a stale temporary file")
                }
            }
        }
    }
}

/// `map` without the excluded paths and everything below them; borrowed (no copy of a
/// large tree) when none of them is in it.
fn without<'a, V: Clone>(
    map: &'a BTreeMap<RelPath, V>,
    excluded: &[RelPath],
) -> std::borrow::Cow<'a, BTreeMap<RelPath, V>> {
    // Excluded paths are usually not in the map at all (hidden and ignored names): each is
    // checked with one lookup and one range probe, never a walk over the whole map, so a
    // folder with many ignored files stays fast.
    let relevant: HashSet<&str> = excluded
        .iter()
        .filter(|x| map.contains_key(*x) || has_descendant(map, x))
        .map(RelPath::as_str)
        .collect();
    if relevant.is_empty() {
        return std::borrow::Cow::Borrowed(map);
    }
    // `p` is left out when it, or a folder above it, is excluded.
    let hit = |p: &RelPath| {
        let s = p.as_str();
        relevant.contains(s)
            || s.match_indices('/')
                .any(|(i, _)| relevant.contains(&s[..i]))
    };
    std::borrow::Cow::Owned(
        map.iter()
            .filter(|(p, _)| !hit(p))
            .map(|(p, v)| (p.clone(), v.clone()))
            .collect(),
    )
}

/// Whether `map` holds a path below `dir`. Paths order as strings, so everything below `dir`
/// (`dir/…`) sits together from `dir/` on.
fn has_descendant<V>(map: &BTreeMap<RelPath, V>, dir: &RelPath) -> bool {
    let from = format!("{}/", dir.as_str());
    map.range::<str, _>((
        std::ops::Bound::Included(from.as_str()),
        std::ops::Bound::Unbounded,
    ))
    .next()
    .is_some_and(|(p, _)| dir.is_ancestor_of(p))
}

fn backoff_ms(attempt: u32) -> u64 {
    use rand::Rng;
    let cap = 100u64 << attempt.min(6);
    rand::thread_rng().gen_range(cap / 2..=cap)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn unix_now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).expect("valid path")
    }

    fn keys(m: &BTreeMap<RelPath, ()>) -> Vec<&str> {
        m.keys().map(RelPath::as_str).collect()
    }

    #[test]
    fn without_leaves_out_excluded_paths_and_everything_below_them() {
        // Neighbours that sort between a folder and its contents ('-' and '.' come before '/').
        let all = ["a", "a/b", "a/b/c.txt", "a-b.txt", "a.txt", "ab/x", "z.txt"];
        let m: BTreeMap<RelPath, ()> = all.iter().map(|s| (p(s), ())).collect();

        let r = without(&m, &[p(".hidden"), p("nope/x"), p("a/q"), p("a/b/c")]);
        assert!(matches!(r, Cow::Borrowed(_)), "nothing excluded is here");

        let r = without(&m, &[p("a")]);
        assert_eq!(keys(&r), ["a-b.txt", "a.txt", "ab/x", "z.txt"]);

        let r = without(&m, &[p("ab")]);
        assert_eq!(
            keys(&r),
            ["a", "a-b.txt", "a.txt", "a/b", "a/b/c.txt", "z.txt"],
            "a folder that is not an entry itself still takes its contents out"
        );

        let r = without(&m, &[p("a/b/c.txt"), p("z.txt")]);
        assert_eq!(keys(&r), ["a", "a-b.txt", "a.txt", "a/b", "ab/x"]);
    }

    #[test]
    fn has_descendant_finds_only_paths_below() {
        let m: BTreeMap<RelPath, ()> = ["a-b", "a.txt", "ab/x"]
            .iter()
            .map(|s| (p(s), ()))
            .collect();
        assert!(!has_descendant(&m, &p("a")));
        assert!(has_descendant(&m, &p("ab")));
        assert!(!has_descendant(&m, &p("ab/x")));
    }
}
