//! Selective sync for the desktop app (issue 17 item 1): a synced folder's choice of what lives
//! on this computer, read and changed with the same core calls the command line's `exclude` /
//! `include` / `excluded` make (`tunnel_core::selective`). The next sync carries it out.

use std::path::Path;

use tunnel_core::journal::FolderRecord;
use tunnel_core::rel_path::RelPath;
use tunnel_core::selective::{self, FolderChoice};

use super::app_error::AppError;
use super::opened_config::OpenedConfig;

/// The tracked folder at `path`.
fn tracked(app: &OpenedConfig, path: &Path) -> Result<FolderRecord, AppError> {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    app.with_journal(|j| Ok(j.folder_by_path(&path)?))
        .map_err(|e| AppError::from_anyhow(&e))?
        .ok_or_else(|| AppError::invalid(crate::i18n::t!(DeskNotSyncedDot, path = path.display())))
}

/// What the folder at `path` excludes on this computer, and the page's subfolders.
pub fn choice(app: &OpenedConfig, path: &Path) -> Result<FolderChoice, AppError> {
    let folder = tracked(app, path)?;
    app.with_journal(|j| Ok(selective::folder_choice(j, &folder)?))
        .map_err(|e| AppError::from_anyhow(&e))
}

/// Exclude (`excluded`) or include again `subpath` (relative, `/`-separated) of the folder at
/// `path`; returns the new choice.
pub fn set_excluded(
    app: &OpenedConfig,
    path: &Path,
    subpath: &str,
    excluded: bool,
) -> Result<FolderChoice, AppError> {
    let folder = tracked(app, path)?;
    let rel = RelPath::new(subpath).map_err(|e| {
        AppError::invalid(crate::i18n::t!(
            DeskNotAPath,
            path = format!("{subpath:?}"),
            error = e
        ))
    })?;
    app.with_journal(|j| {
        if excluded {
            selective::exclude_path(j, &folder, &rel)?;
        } else {
            selective::include_path(j, &folder, &rel)?;
        }
        Ok(selective::folder_choice(j, &folder)?)
    })
    .map_err(|e| AppError::from_anyhow(&e))
}
