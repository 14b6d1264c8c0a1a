//! The effects of the conflict centre: list a folder's conflicts whose two files are both on
//! disk, and carry out a [`Resolution`] on the files — the version not kept always goes to the
//! folder's local trash first, and a file that is not what the last sync recorded is left
//! alone (the person syncs first).

use std::io::Read;
use std::path::Path;

use super::{find_conflicts, kept_both, resolution, Conflict, ConflictError, Keep, Resolution};
use crate::fs_safe;
use crate::hash::Hasher;
use crate::journal::{FolderRecord, Journal, TrashReason, TrashRecord};
use crate::rel_path::RelPath;

/// What a resolution did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Resolved {
    /// The conflict as it was.
    pub conflict: Conflict,
    /// What was kept.
    pub keep: Keep,
    /// The path now holding the version kept (both paths for "keep both").
    pub path: RelPath,
    /// Where the version not kept went, relative to the folder's trash.
    pub in_trash: Option<String>,
}

/// Every unresolved conflict of `folder` (see the module above) whose two files are on disk,
/// by the copy's path. Copies settled with "keep both" that the synced tree no longer holds
/// are forgotten here.
pub fn list(
    j: &Journal,
    folder: &FolderRecord,
    this_device: &str,
) -> Result<Vec<Conflict>, ConflictError> {
    let base = j.base(folder.id)?;
    let mut kept = kept_both(j, folder.id)?;
    let stale: Vec<RelPath> = kept
        .iter()
        .filter(|p| base.get(*p).is_none_or(|e| e.deleted))
        .cloned()
        .collect();
    if !stale.is_empty() {
        super::forget_kept_both(j, folder.id, &stale)?;
        for s in &stale {
            kept.remove(s);
        }
    }
    let is_file = |p: &RelPath| matches!(fs_safe::stat(&folder.path, p), Ok(Some(m)) if m.kind == fs_safe::Kind::File);
    Ok(find_conflicts(&base, this_device, &kept)
        .into_iter()
        .filter(|c| is_file(&c.original.path) && is_file(&c.copy.path))
        .collect())
}

/// Resolve the conflict that `path` names (its copy, or its original when it has one copy)
/// by keeping `keep`: the files change as [`resolution`] says, the version not kept is
/// recorded in the trash's table, "keep both" is remembered. The next sync sends the change.
pub fn resolve(
    j: &Journal,
    folder: &FolderRecord,
    this_device: &str,
    path: &RelPath,
    keep: Keep,
) -> Result<Resolved, ConflictError> {
    let conflicts = list(j, folder, this_device)?;
    let conflict = match conflicts.iter().find(|c| &c.copy.path == path) {
        Some(c) => c.clone(),
        None => {
            let of: Vec<&Conflict> = conflicts
                .iter()
                .filter(|c| &c.original.path == path)
                .collect();
            match of.as_slice() {
                [] => return Err(ConflictError::NotAConflict(path.to_string())),
                [one] => (*one).clone(),
                many => {
                    return Err(ConflictError::Ambiguous {
                        path: path.to_string(),
                        copies: many.len(),
                    })
                }
            }
        }
    };
    let plan = resolution(&conflict, keep);
    let trashed = apply(&folder.path, &conflict, &plan)?;
    if let Some(t) = &trashed {
        j.record_trashed(folder.id, std::slice::from_ref(t))?;
    }
    let kept_at = match &plan {
        Resolution::KeepBoth { copy } => {
            super::record_kept_both(j, folder.id, copy)?;
            conflict.original.path.clone()
        }
        Resolution::TrashCopy { .. } => conflict.original.path.clone(),
        Resolution::CopyReplacesOriginal { original, .. } => original.clone(),
    };
    tracing::info!(folder = %folder.path.display(), copy = %conflict.copy.path, ?keep, "conflict resolved");
    Ok(Resolved {
        keep,
        path: kept_at,
        in_trash: trashed.map(|t| t.in_trash),
        conflict,
    })
}

/// Carry out `plan` for `conflict` in the folder at `root`; returns the trash record of the
/// version not kept. Both files must still hold what the synced tree says (else
/// [`ConflictError::Changed`], nothing touched).
pub fn apply(
    root: &Path,
    conflict: &Conflict,
    plan: &Resolution,
) -> Result<Option<TrashRecord>, ConflictError> {
    for v in [&conflict.original, &conflict.copy] {
        let Some(want) = &v.sha256 else { continue };
        if hash_file(root, &v.path)?.as_deref() != Some(want.as_str()) {
            return Err(ConflictError::Changed(v.path.to_string()));
        }
    }
    let io = |path: &RelPath| {
        let path = path.to_string();
        move |source| ConflictError::Io { path, source }
    };
    let record = |path: &RelPath, in_trash: String, v: &super::Version| TrashRecord {
        path: path.clone(),
        in_trash,
        at: crate::clock::unix_now(),
        reason: TrashReason::Resolved,
        device: Some(v.device.clone()),
        size: v.size,
    };
    match plan {
        Resolution::KeepBoth { .. } => Ok(None),
        Resolution::TrashCopy { copy } => {
            let in_trash = crate::sync::move_to_trash(root, copy).map_err(io(copy))?;
            Ok(Some(record(copy, in_trash, &conflict.copy)))
        }
        Resolution::CopyReplacesOriginal { copy, original } => {
            // The original's content gets a second name in the trash while it stays in
            // place, then the copy is renamed over it: the name is never missing.
            let (dir, name) = fs_safe::parent_of(root, original, false).map_err(io(original))?;
            let in_trash =
                crate::sync::keep_previous(root, original, &dir, name).map_err(io(original))?;
            if let Err(e) = fs_safe::rename(root, copy, original) {
                crate::sync::forget_kept(root, &in_trash);
                return Err(io(copy)(e));
            }
            Ok(Some(record(original, in_trash, &conflict.original)))
        }
    }
}

/// The SHA-256 (hex) of the regular file `root/rel`; `None` when it is gone.
fn hash_file(root: &Path, rel: &RelPath) -> Result<Option<String>, ConflictError> {
    let mut f = match fs_safe::open_file(root, rel) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConflictError::Io {
                path: rel.to_string(),
                source,
            })
        }
    };
    let mut h = Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(|source| ConflictError::Io {
            path: rel.to_string(),
            source,
        })?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(Some(h.finish().to_hex()))
}
