//! The local pass of a sync: conflict losers moved aside, then deletions that another device
//! published, each checked against what the plan expected to find (a file changed meanwhile
//! is left alone).

use super::*;

impl Syncer {
    pub(super) async fn apply_local_conflict_moves(
        &self,
        folder: &FolderRecord,
        actions: &[Action],
        exec: &mut Execution,
    ) -> Result<(), SyncError> {
        // The scan's rows of the files moved aside (the scan cache holds this scan's rows).
        let losers: Vec<RelPath> = actions
            .iter()
            .filter_map(|a| match a {
                Action::ConflictRemoteWins { path, .. } => Some(path.clone()),
                _ => None,
            })
            .collect();
        if losers.is_empty() {
            return Ok(());
        }
        let id = folder.id;
        let rows = self
            .with_journal(move |j| j.scan_cache_rows(id, &losers))
            .await?;
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
                if crate::in_use::is_in_use(&e) {
                    exec.in_use.insert(path.clone());
                }
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
            if let Some(h) = rows.get(path) {
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
        let case_renames = case_only_renames(actions, self.name_rules(folder).await);
        for a in actions {
            let (path, expected) = match a {
                Action::DeleteLocal { path, expected } => (path, expected),
                Action::Evict { path, expected } => {
                    evict(folder, path, expected, exec).await;
                    continue;
                }
                _ => continue,
            };
            if !download::matches_expected(&folder.path, path, Some(expected)).await {
                exec.failed_files += 1;
                info!(path = %path, "changed locally; not deleting it");
                continue;
            }
            if let Some(to) = case_renames.get(path) {
                match rename_case(&folder.path, path, to) {
                    Ok(()) => {
                        info!(from = %path, to = %to, "renamed here (only the case changed)");
                        exec.base_removals.push(path.clone());
                        exec.renamed.insert((*to).clone());
                        continue;
                    }
                    Err(e) => {
                        debug!(from = %path, to = %to, error = %e, "case-only rename not done here; deleting and downloading instead");
                    }
                }
            }
            let r = match expected.kind {
                EntryKind::File => super::trash::move_to_trash(&folder.path, path).map(Some),
                EntryKind::Dir => fs_safe::remove_dir(&folder.path, path).map(|()| None),
            };
            match r {
                Ok(kept) => {
                    if let Some(in_trash) = kept {
                        // The deleting device is filled in from the remote tombstone.
                        exec.trashed.push(crate::journal::TrashRecord {
                            path: path.clone(),
                            in_trash,
                            at: unix_now(),
                            reason: crate::journal::TrashReason::Deleted,
                            device: None,
                            size: expected.size,
                        });
                    }
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
                    if crate::in_use::is_in_use(&e) {
                        exec.in_use.insert(path.clone());
                    }
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

/// Selective sync: remove this device's copy of an excluded entry the page holds with the same
/// content (checked by the plan against the page's list read for this sync, and here against
/// the disk: a file changed meanwhile stays and is dealt with next sync). Removed outright,
/// not through the trash: freeing the space is the point, and the page keeps the content. A
/// folder that still holds something (hidden or ignored files) stays.
async fn evict(folder: &FolderRecord, path: &RelPath, expected: &LocalEntry, exec: &mut Execution) {
    if !download::matches_expected(&folder.path, path, Some(expected)).await {
        exec.failed_files += 1;
        info!(path = %path, "changed locally; not removing it (excluded)");
        return;
    }
    let r = match expected.kind {
        EntryKind::File => fs_safe::remove_file(&folder.path, path),
        EntryKind::Dir => fs_safe::remove_dir(&folder.path, path),
    };
    match r {
        Ok(()) => {
            debug!(path = %path, "excluded: removed from this computer (the page keeps it)");
            exec.base_removals.push(path.clone());
            exec.summary.evicted += 1;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            exec.base_removals.push(path.clone());
        }
        Err(e) => {
            if crate::in_use::is_in_use(&e) {
                exec.in_use.insert(path.clone());
            }
            debug!(path = %path, error = %e, "excluded, but not removed here; tried again next sync");
        }
    }
}

/// On a case-insensitive disk, a file deleted and a file created by the plan whose names are
/// one name here, in the same folder (the same parent, byte for byte), with the same content:
/// a case-only rename from another device, done as a rename here instead of a trip through the
/// trash and a download. Old name → new name.
fn case_only_renames(
    actions: &[Action],
    rules: crate::name_rules::NameRules,
) -> HashMap<&RelPath, &RelPath> {
    let mut out = HashMap::new();
    if !rules.case_insensitive {
        return out;
    }
    let arriving: HashMap<(Option<RelPath>, String), (&RelPath, &FileEntry)> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Download { path, entry } if entry.kind == EntryKind::File => Some((
                (path.parent(), rules.key(path.file_name()).into_owned()),
                (path, entry),
            )),
            _ => None,
        })
        .collect();
    for a in actions {
        let Action::DeleteLocal { path, expected } = a else {
            continue;
        };
        if expected.kind != EntryKind::File || expected.sha256.is_none() {
            continue;
        }
        let key = (path.parent(), rules.key(path.file_name()).into_owned());
        if let Some((to, entry)) = arriving.get(&key) {
            if *to != path && entry.sha256 == expected.sha256 {
                out.insert(path, *to);
            }
        }
    }
    out
}

/// Rename `from` to `to` (names that differ only in case, same folder), unless a file named
/// exactly `to` is listed there already (then the disk is not case-insensitive after all and
/// the rename would replace another file).
fn rename_case(root: &Path, from: &RelPath, to: &RelPath) -> std::io::Result<()> {
    let parent = match to.parent() {
        Some(p) => p.to_native(root),
        None => root.to_path_buf(),
    };
    let taken = std::fs::read_dir(&parent)?
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_str() == Some(to.file_name()));
    if taken {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "the new name is listed as another file",
        ));
    }
    fs_safe::rename(root, from, to)
}
