//! The commands the settings window calls: each is one translation step from IPC arguments to a
//! [`DesktopBackend`] call (or to a desktop integration: file picker, file manager, autostart),
//! with errors mapped to [`AppError`] (`{code, message}` on the wire). No business logic lives here.
//!
//! Every command is `async` (nothing blocks the main thread), takes snake_case arguments
//! (`rename_all = "snake_case"`, so the JS side and the Rust side spell fields the same), is listed
//! once in [`super::handler`], and is granted by name in `src-tauri/capabilities/default.json`
//! (the list in `src-tauri/build.rs` generates the `allow-*` permissions).

use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use tauri::{AppHandle, Manager, Runtime, State};
use tunnel_core::events::{FolderStatus, SyncStatus};
use tunnel_core::ids::PageId;

use crate::app::app_error::AppError;

use super::backend::{ConnectionCheck, ConnectionForm, ConnectionView, SettingsView};
use super::state::AppState;

/// The About box.
#[derive(Clone, Debug, Serialize)]
pub struct AppInfo {
    /// Product name.
    pub name: String,
    /// Version of this build.
    pub version: String,
    /// Licence (SPDX).
    pub license: String,
    /// Where the logs are.
    pub log_dir: PathBuf,
}

/// The saved connection (no secrets), or `null` before the first-run wizard.
#[tauri::command(rename_all = "snake_case")]
pub async fn get_connection(
    state: State<'_, AppState>,
) -> Result<Option<ConnectionView>, AppError> {
    state.backend.connection().await
}

/// Check a connection form without saving it.
#[tauri::command(rename_all = "snake_case")]
pub async fn test_connection(
    state: State<'_, AppState>,
    form: ConnectionForm,
) -> Result<ConnectionCheck, AppError> {
    state.backend.test_connection(form).await
}

/// Check a connection form and save it if it works.
#[tauri::command(rename_all = "snake_case")]
pub async fn save_connection(
    state: State<'_, AppState>,
    form: ConnectionForm,
) -> Result<ConnectionCheck, AppError> {
    state.backend.save_connection(form).await
}

/// Tracked folders with their state.
#[tauri::command(rename_all = "snake_case")]
pub async fn list_folders(state: State<'_, AppState>) -> Result<Vec<FolderStatus>, AppError> {
    state.backend.folders().await
}

/// Track a folder; `page_id` defaults to the connection's page.
#[tauri::command(rename_all = "snake_case")]
pub async fn add_folder(
    state: State<'_, AppState>,
    path: PathBuf,
    page_id: Option<String>,
) -> Result<FolderStatus, AppError> {
    // An empty field means the connection's page.
    let page_id = page_id
        .filter(|p| !p.trim().is_empty())
        .map(|p| PageId::parse(&p))
        .transpose()?;
    state.backend.add_folder(path, page_id).await
}

/// Stop tracking a folder (its files stay where they are).
#[tauri::command(rename_all = "snake_case")]
pub async fn remove_folder(state: State<'_, AppState>, path: PathBuf) -> Result<(), AppError> {
    state.backend.remove_folder(path).await
}

/// Pause or resume one folder, or every folder when `path` is null.
#[tauri::command(rename_all = "snake_case")]
pub async fn set_paused(
    state: State<'_, AppState>,
    path: Option<PathBuf>,
    paused: bool,
) -> Result<(), AppError> {
    state.backend.set_paused(path, paused).await
}

/// Sync one folder, or every folder when `path` is null, now.
#[tauri::command(rename_all = "snake_case")]
pub async fn sync_now(state: State<'_, AppState>, path: Option<PathBuf>) -> Result<(), AppError> {
    state.backend.sync_now(path).await
}

/// The Settings tab values.
#[tauri::command(rename_all = "snake_case")]
pub async fn get_settings(state: State<'_, AppState>) -> Result<SettingsView, AppError> {
    state.backend.settings().await
}

/// Save the Settings tab, then make "start at login" true of the desktop session.
#[tauri::command(rename_all = "snake_case")]
pub async fn save_settings<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    settings: SettingsView,
) -> Result<(), AppError> {
    let start_at_login = settings.start_at_login;
    let language = settings.language;
    state.backend.save_settings(settings).await?;
    crate::i18n::set_current(crate::i18n::locale::for_setting(language));
    // The autostart plugin is registered by `run`; the mock-runtime tests run without it.
    if let Some(autostart) = app.try_state::<tauri_plugin_autostart::AutoLaunchManager>() {
        let applied = if start_at_login {
            autostart.enable()
        } else {
            autostart.disable()
        };
        applied.map_err(|e| AppError::internal(crate::i18n::t!(DeskStartAtLogin, error = e)))?;
    }
    Ok(())
}

/// How many history entries the Activity tab shows at most.
const ACTIVITY_SHOWN: usize = 200;

/// The activity history, newest first (kept in the journal across restarts).
#[tauri::command(rename_all = "snake_case")]
pub async fn recent_activity(
    state: State<'_, AppState>,
) -> Result<Vec<tunnel_core::activity::ActivityEntry>, AppError> {
    state.backend.recent_activity(ACTIVITY_SHOWN).await
}

/// The current status (the UI's first picture; later ones arrive as `sync://status` events).
#[tauri::command(rename_all = "snake_case")]
pub async fn get_status(state: State<'_, AppState>) -> Result<SyncStatus, AppError> {
    let status = state.backend.status().borrow().clone();
    Ok(status)
}

/// Version, licence and log folder for the About box.
#[tauri::command(rename_all = "snake_case")]
pub async fn app_info<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<AppInfo, AppError> {
    let package = app.package_info();
    Ok(AppInfo {
        name: package.name.clone(),
        version: package.version.to_string(),
        license: env!("CARGO_PKG_LICENSE").to_owned(),
        log_dir: state.backend.log_dir(),
    })
}

/// The native folder picker; `null` when the person cancels.
#[tauri::command(rename_all = "snake_case")]
pub async fn pick_folder<R: Runtime>(app: AppHandle<R>) -> Result<Option<PathBuf>, AppError> {
    let dialog = file_dialog(&app)?.set_title("Choose a folder to sync");
    let (tx, rx) = tokio::sync::oneshot::channel();
    dialog.pick_folder(move |picked| {
        let _ = tx.send(picked);
    });
    picked_path(rx.await)
}

/// The native file picker for a client certificate (`kind` = "p12") or a CA bundle ("ca").
#[tauri::command(rename_all = "snake_case")]
pub async fn pick_file<R: Runtime>(
    app: AppHandle<R>,
    kind: String,
) -> Result<Option<PathBuf>, AppError> {
    let dialog = file_dialog(&app)?;
    let dialog = match kind.as_str() {
        "p12" => dialog
            .set_title("Choose the client certificate")
            .add_filter("PKCS#12 certificate", &["p12", "pfx"]),
        "ca" => dialog
            .set_title("Choose the CA certificate")
            .add_filter("PEM certificates", &["pem", "crt", "cer"]),
        other => {
            return Err(AppError::invalid(crate::i18n::t!(
                DeskUnknownKind,
                kind = other
            )))
        }
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    dialog.pick_file(move |picked| {
        let _ = tx.send(picked);
    });
    picked_path(rx.await)
}

/// Open a tracked folder in the file manager. Only tracked folders may be opened.
#[tauri::command(rename_all = "snake_case")]
pub async fn open_folder(state: State<'_, AppState>, path: PathBuf) -> Result<(), AppError> {
    open_path(&tracked_folder(&state, &path).await?)
}

/// Open a file of a tracked folder (e.g. both sides of a conflict) with its default application.
#[tauri::command(rename_all = "snake_case")]
pub async fn open_file(
    state: State<'_, AppState>,
    folder: PathBuf,
    path: String,
) -> Result<(), AppError> {
    let (_, target) = file_of_tracked_folder(&state, &folder, &path).await?;
    if !target.is_file() {
        return Err(AppError::invalid(crate::i18n::t!(
            DeskGone,
            path = target.display()
        )));
    }
    open_path(&target)
}

/// Show a file of a tracked folder (a conflict copy, a recent change) in the file manager.
#[tauri::command(rename_all = "snake_case")]
pub async fn reveal_file(
    state: State<'_, AppState>,
    folder: PathBuf,
    path: String,
) -> Result<(), AppError> {
    let (folder, target) = file_of_tracked_folder(&state, &folder, &path).await?;
    let shown = if target.exists() { target } else { folder };
    tauri_plugin_opener::reveal_item_in_dir(&shown).map_err(|e| {
        AppError::internal(crate::i18n::t!(
            DeskCouldNotShow,
            path = shown.display(),
            error = e
        ))
    })
}

/// Open the log folder in the file manager.
#[tauri::command(rename_all = "snake_case")]
pub async fn open_log_folder(state: State<'_, AppState>) -> Result<(), AppError> {
    let dir = state.backend.log_dir();
    std::fs::create_dir_all(&dir).map_err(|e| {
        AppError::internal(crate::i18n::t!(
            DeskCouldNotCreate,
            path = dir.display(),
            error = e
        ))
    })?;
    open_path(&dir)
}

pub(super) fn file_dialog<R: Runtime>(
    app: &AppHandle<R>,
) -> Result<tauri_plugin_dialog::FileDialogBuilder<R>, AppError> {
    // The dialog plugin is registered by `run`; without it there is no picker to show.
    let dialog = app
        .try_state::<tauri_plugin_dialog::Dialog<R>>()
        .ok_or_else(|| AppError::internal(crate::i18n::t!(DeskNoPicker)))?;
    Ok(dialog.file())
}

pub(super) fn picked_path(
    picked: Result<Option<tauri_plugin_dialog::FilePath>, tokio::sync::oneshot::error::RecvError>,
) -> Result<Option<PathBuf>, AppError> {
    let picked = picked.map_err(|_| AppError::internal(crate::i18n::t!(DeskPickerClosed)))?;
    picked
        .map(|p| {
            p.into_path()
                .map_err(|e| AppError::internal(crate::i18n::t!(DeskNotLocal, error = e)))
        })
        .transpose()
}

/// The tracked folder equal to `path`, or an `invalid` error.
async fn tracked_folder(state: &State<'_, AppState>, path: &Path) -> Result<PathBuf, AppError> {
    let folders = state.backend.folders().await?;
    folders
        .into_iter()
        .map(|f| f.path)
        .find(|p| p == path)
        .ok_or_else(|| AppError::invalid(crate::i18n::t!(DeskNotTracked, path = path.display())))
}

/// A file of the tracked folder `folder`: the folder and the file's full path (which may not
/// exist), `path` staying inside the folder.
async fn file_of_tracked_folder(
    state: &State<'_, AppState>,
    folder: &Path,
    path: &str,
) -> Result<(PathBuf, PathBuf), AppError> {
    let folder = tracked_folder(state, folder).await?;
    let target = folder.join(relative_inside(path)?);
    Ok((folder, target))
}

/// Open `path` with the system's default application (a folder: in the file manager).
fn open_path(path: &Path) -> Result<(), AppError> {
    tauri_plugin_opener::open_path(path, None::<&str>).map_err(|e| {
        AppError::internal(crate::i18n::t!(
            DeskCouldNotOpen,
            path = path.display(),
            error = e
        ))
    })
}

/// `path` as a relative path that stays inside its folder (no root, no `..`).
fn relative_inside(path: &str) -> Result<PathBuf, AppError> {
    let rel = PathBuf::from(path);
    let stays_inside = rel
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if stays_inside {
        Ok(rel)
    } else {
        Err(AppError::invalid(crate::i18n::t!(
            DeskNotInside,
            path = path
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::relative_inside;

    #[test]
    fn reveal_refuses_paths_that_leave_the_folder() {
        assert!(
            relative_inside("docs/a.txt").is_ok(),
            "a nested file stays inside"
        );
        assert!(
            relative_inside("../etc/passwd").is_err(),
            "`..` leaves the folder"
        );
        assert!(
            relative_inside("/etc/passwd").is_err(),
            "an absolute path is not inside"
        );
    }
}

/// Selective sync: what the folder leaves off this computer, and the page's subfolders.
#[tauri::command(rename_all = "snake_case")]
pub async fn get_folder_choice(
    state: State<'_, AppState>,
    path: PathBuf,
) -> Result<tunnel_core::selective::FolderChoice, AppError> {
    state.backend.folder_choice(path).await
}

/// Selective sync: exclude or include again a subfolder; the new choice.
#[tauri::command(rename_all = "snake_case")]
pub async fn set_excluded(
    state: State<'_, AppState>,
    path: PathBuf,
    subpath: String,
    excluded: bool,
) -> Result<tunnel_core::selective::FolderChoice, AppError> {
    state.backend.set_excluded(path, subpath, excluded).await
}

/// What each folder's page (or that of `path`) holds and what garbage collection would free.
#[tauri::command(rename_all = "snake_case")]
pub async fn page_usage(
    state: State<'_, AppState>,
    path: Option<PathBuf>,
) -> Result<Vec<crate::app::page_care::FolderUsage>, AppError> {
    state.backend.page_usage(path).await
}

/// The warning ahead of the personal access token's expiry, or `null`.
#[tauri::command(rename_all = "snake_case")]
pub async fn token_notice(
    state: State<'_, AppState>,
) -> Result<Option<tunnel_core::token_notice::TokenNotice>, AppError> {
    let lang = crate::i18n::current();
    Ok(state
        .backend
        .token_notice()
        .await?
        .map(|n| crate::i18n::token::localized(n, lang)))
}

/// Every unresolved conflict of the tracked folders, with both versions (the Conflicts view).
#[tauri::command(rename_all = "snake_case")]
pub async fn list_conflicts(
    state: State<'_, AppState>,
) -> Result<Vec<super::backend::FolderConflict>, AppError> {
    state.backend.conflicts().await
}

/// Resolve a conflict: `keep` is `mine`, `theirs` or `both`; `path` is the copy, relative to
/// `folder`.
#[tauri::command(rename_all = "snake_case")]
pub async fn resolve_conflict<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    folder: PathBuf,
    path: String,
    keep: tunnel_core::conflicts::Keep,
) -> Result<(), AppError> {
    state.backend.resolve_conflict(folder, path, keep).await?;
    // The tray shows the new count with its next refresh (the folder's sync).
    super::conflict_count::recount(&app, &*state.backend).await;
    Ok(())
}

/// Ignore rules of a folder (`folder` null: the global patterns), with the presets.
#[tauri::command(rename_all = "snake_case")]
pub async fn get_ignore_rules(
    state: State<'_, AppState>,
    folder: Option<PathBuf>,
) -> Result<crate::app::ignore_rules::RulesEditor, AppError> {
    state.backend.ignore_rules(folder).await
}

/// Which existing files a proposed rule text would newly exclude or include (nothing saved).
#[tauri::command(rename_all = "snake_case")]
pub async fn preview_ignore_rules(
    state: State<'_, AppState>,
    folder: Option<PathBuf>,
    text: String,
) -> Result<Vec<crate::app::ignore_rules::FolderPreview>, AppError> {
    state.backend.preview_ignore_rules(folder, text).await
}

/// Save a rule text (a folder's `.sbtignore`, or the global patterns).
#[tauri::command(rename_all = "snake_case")]
pub async fn save_ignore_rules(
    state: State<'_, AppState>,
    folder: Option<PathBuf>,
    text: String,
) -> Result<crate::app::ignore_rules::RulesEditor, AppError> {
    state.backend.save_ignore_rules(folder, text).await
}

/// Who besides the user may view and edit a page (`page_id` empty: the connection's page).
#[tauri::command(rename_all = "snake_case")]
pub async fn page_privacy(
    state: State<'_, AppState>,
    page_id: Option<String>,
) -> Result<super::backend::PagePrivacy, AppError> {
    let page_id = optional_page(page_id)?;
    let privacy = state.backend.page_privacy(page_id).await?;
    Ok(privacy.localized(crate::i18n::current()))
}

/// Restrict viewing and editing of a page (`page_id` empty: the connection's) to the user.
#[tauri::command(rename_all = "snake_case")]
pub async fn make_page_private(
    state: State<'_, AppState>,
    page_id: Option<String>,
) -> Result<super::backend::PagePrivacy, AppError> {
    let page_id = optional_page(page_id)?;
    let privacy = state.backend.make_page_private(page_id).await?;
    Ok(privacy.localized(crate::i18n::current()))
}

/// An optional page field: empty means the connection's page.
fn optional_page(page_id: Option<String>) -> Result<Option<PageId>, AppError> {
    Ok(page_id
        .filter(|p| !p.trim().is_empty())
        .map(|p| PageId::parse(&p))
        .transpose()?)
}

/// The language the window speaks: `en` or `ru`, from the Settings' choice or, for `system`,
/// the operating system's language. The tray and notifications follow the same choice.
#[tauri::command(rename_all = "snake_case")]
pub async fn get_language(state: State<'_, AppState>) -> Result<String, AppError> {
    let setting = state.backend.settings().await?.language;
    let lang = crate::i18n::locale::for_setting(setting);
    crate::i18n::set_current(lang);
    Ok(lang.code().to_owned())
}
