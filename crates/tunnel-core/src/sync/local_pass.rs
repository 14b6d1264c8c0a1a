//! The local pass of a sync: conflict losers moved aside, then deletions that another device
//! published, each checked against what the plan expected to find (a file changed meanwhile
//! is left alone).

use super::*;

impl Syncer {
    pub(super) async fn apply_local_conflict_moves(
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

    pub(super) async fn delete_local(
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
                EntryKind::File => super::trash::move_to_trash(&folder.path, path).map(|_| ()),
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
}
