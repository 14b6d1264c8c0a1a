//! The Versions view's commands (issue 16 item 3): each one translation step to a
//! [`super::backend::DesktopBackend`] call, like those in [`super::commands`] (same rules:
//! `async`, snake_case arguments, listed once in [`super::handler`], granted by name in
//! `src-tauri/capabilities/default.json`; `command_list.rs` reads this file too).

use std::path::PathBuf;

use tauri::{AppHandle, Runtime, State};
use tunnel_core::sync::{HistoryPath, PathVersion, RestoreReport};

use crate::app::app_error::AppError;
use crate::app::versions::RestorePick;

use super::state::AppState;

/// Every path the retained history of a tracked folder knows (deleted ones too).
#[tauri::command(rename_all = "snake_case")]
pub async fn list_history_paths(
    state: State<'_, AppState>,
    folder: PathBuf,
) -> Result<Vec<HistoryPath>, AppError> {
    state.backend.history_paths(folder).await
}

/// The versions of `path` in `folder` (`path` null: the whole folder), newest first.
#[tauri::command(rename_all = "snake_case")]
pub async fn list_path_versions(
    state: State<'_, AppState>,
    folder: PathBuf,
    path: Option<String>,
) -> Result<Vec<PathVersion>, AppError> {
    state.backend.path_versions(folder, path).await
}

/// Restore `path` of `folder` (null: the whole folder) as `pick` says (`{"version": N}` or
/// `{"at": "2026-03-01 14:30"}`), into place or into `to`; `dry_run` only reports.
#[tauri::command(rename_all = "snake_case")]
pub async fn restore_version(
    state: State<'_, AppState>,
    folder: PathBuf,
    path: Option<String>,
    pick: RestorePick,
    to: Option<PathBuf>,
    dry_run: bool,
) -> Result<RestoreReport, AppError> {
    state
        .backend
        .restore_version(folder, path, pick, to, dry_run)
        .await
}

/// The native folder picker for "Save a copy…"; `null` when the person cancels.
#[tauri::command(rename_all = "snake_case")]
pub async fn pick_copy_folder<R: Runtime>(app: AppHandle<R>) -> Result<Option<PathBuf>, AppError> {
    let dialog = super::commands::file_dialog(&app)?.set_title(crate::i18n::t!(VerPickCopyTitle));
    let (tx, rx) = tokio::sync::oneshot::channel();
    dialog.pick_folder(move |picked| {
        let _ = tx.send(picked);
    });
    super::commands::picked_path(rx.await)
}
