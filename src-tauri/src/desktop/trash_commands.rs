//! The Trash view's commands (issue 16 item 4): each one translation step to a
//! [`super::backend::DesktopBackend`] call, like those in [`super::commands`] (same rules:
//! `async`, snake_case arguments, listed once in [`super::handler`], granted by name in
//! `src-tauri/capabilities/default.json`; `command_list.rs` reads this file too).

use std::path::PathBuf;

use tauri::State;

use crate::app::app_error::AppError;
use crate::app::trash_view::{Emptied, FolderTrash, PutBack};

use super::state::AppState;

/// Every tracked folder's local trash, newest first, with its retention in days.
#[tauri::command(rename_all = "snake_case")]
pub async fn list_trash(state: State<'_, AppState>) -> Result<Vec<FolderTrash>, AppError> {
    state.backend.trash().await
}

/// Put the item `in_trash` of `folder`'s trash back (at its original path, or beside it as
/// `name (restored).ext` when that is taken).
#[tauri::command(rename_all = "snake_case")]
pub async fn put_back_from_trash(
    state: State<'_, AppState>,
    folder: PathBuf,
    in_trash: String,
) -> Result<PutBack, AppError> {
    state.backend.put_back_from_trash(folder, in_trash).await
}

/// Delete everything in `folder`'s trash for good.
#[tauri::command(rename_all = "snake_case")]
pub async fn empty_trash(state: State<'_, AppState>, folder: PathBuf) -> Result<Emptied, AppError> {
    state.backend.empty_trash(folder).await
}
