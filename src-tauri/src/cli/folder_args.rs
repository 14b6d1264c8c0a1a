//! What a command's folder or path argument names among the synced folders: one rule for
//! every command, so that a path is read the same way by `sync`, `usage`, `trash`,
//! `conflicts` and `excluded`, and a folder that is not synced is refused input (exit 2).

use std::path::Path;

use anyhow::Result;

use tunnel_core::journal::FolderRecord;

use crate::app::app_error::AppError;
use crate::app::opened_config::OpenedConfig;

/// The synced folders a command works on: every one, or the one `only` names (refused input
/// when it is not a synced folder).
pub fn selected_folders(app: &OpenedConfig, only: Option<&Path>) -> Result<Vec<FolderRecord>> {
    let folders = app.folders()?;
    let Some(p) = only else {
        return Ok(folders);
    };
    let p = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let found: Vec<_> = folders.into_iter().filter(|f| f.path == p).collect();
    if found.is_empty() {
        return Err(AppError::invalid(crate::i18n::t!(NotSyncedFolder, path = p.display())).into());
    }
    Ok(found)
}

/// The folders and paths inside them (`/`-separated) that `path` may name: the synced folder
/// it lies in (absolute or from the current directory; it need not exist), or, when it is
/// relative and inside none, the same relative path in every synced folder (the caller keeps
/// the folders where it finds something).
pub fn paths_in_folders(app: &OpenedConfig, path: &Path) -> Result<Vec<(FolderRecord, String)>> {
    let folders = app.folders()?;
    let abs = std::env::current_dir()
        .map(|d| d.join(path))
        .unwrap_or_else(|_| path.to_path_buf());
    // The parent exists even when the file does not: resolve it for links and `..`.
    let resolved = match (abs.parent(), abs.file_name()) {
        (Some(p), Some(n)) => std::fs::canonicalize(p).map(|p| p.join(n)).unwrap_or(abs),
        _ => abs,
    };
    let inside: Vec<_> = folders
        .iter()
        .filter_map(|f| {
            let rel = resolved.strip_prefix(&f.path).ok()?;
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            (!parts.is_empty()).then(|| (f.clone(), parts.join("/")))
        })
        .collect();
    if !inside.is_empty() || path.is_absolute() {
        return Ok(inside);
    }
    let rel = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    Ok(folders.into_iter().map(|f| (f, rel.clone())).collect())
}
