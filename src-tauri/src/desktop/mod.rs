//! The desktop shell: a Tauri v2 tray app with a settings window, kept thin over a
//! [`DesktopBackend`]. Commands translate IPC calls to backend calls ([`commands`]), one event
//! bridge pushes backend events and status to the webview and the tray ([`event_bridge`]), the
//! tray follows the sync state ([`tray`]), and closing the window hides it ([`window`]). The
//! backend behind a real window is [`real_backend`]: the application layer ([`crate::app`])
//! hosted in this process.
//!
//! Invariants: no business logic here or in ui/; the UI reaches Rust only through the commands
//! listed once in [`handler`] and granted in `src-tauri/capabilities/default.json`; the app
//! opens no network port and the webview loads nothing remote.

pub mod backend;
pub mod commands;
pub mod conflict_count;
pub mod event_bridge;
/// A scripted stand-in for the service, for UI tests only (feature `fake-backend`, never in a
/// release build).
#[cfg(feature = "fake-backend")]
pub mod fake;
#[cfg(feature = "fake-backend")]
mod fake_ignore;
pub mod fake_progress;
#[cfg(feature = "fake-backend")]
mod fake_selective;
#[cfg(feature = "fake-backend")]
mod fake_trash;
#[cfg(feature = "fake-backend")]
mod fake_versions;
pub mod real_backend;
pub mod state;
pub mod trash_commands;
pub mod tray;
pub mod tray_progress;
pub mod version_commands;
pub mod window;

#[cfg(test)]
mod chooser_tests;
#[cfg(test)]
mod emulator_app;
#[cfg(all(test, feature = "ipc-test"))]
mod ipc_tests;
#[cfg(all(test, feature = "ipc-test"))]
mod trash_ipc_tests;
#[cfg(all(test, feature = "ipc-test"))]
mod versions_ipc_tests;

use std::sync::Arc;

use anyhow::Context as _;
use tauri::{Builder, Manager, Runtime};

use backend::DesktopBackend;
use state::AppState;

/// Run the desktop app until the person quits it, then return. Blocks the calling (main) thread.
///
/// Uses Tauri's async runtime for the commands and the event bridge; a caller that owns a tokio
/// runtime may hand it over first with `tauri::async_runtime::set(handle)`.
pub fn run(backend: Arc<dyn DesktopBackend>) -> anyhow::Result<()> {
    let builder = tauri::Builder::default()
        // First, so a second launch is stopped before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            window::show_main(app, None);
        }))
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            // Started at login: straight to the tray, no window in the person's face.
            Some(vec![MINIMIZED_FLAG]),
        ));
    let app = configure(builder, backend, true)
        .build(tauri::generate_context!())
        .context("starting the desktop app")?;
    // `run_return` (not `run`, which ends the process) so the caller's clean-up runs after Quit.
    let code = app.run_return(|_, _| {});
    if code != 0 {
        anyhow::bail!("the desktop app stopped with exit code {code}");
    }
    Ok(())
}

/// Everything the app needs on any runtime (the real one, or the mock one in tests): state,
/// commands and window behaviour; [`start`] runs from `setup` once the event loop is up.
pub fn configure<R: Runtime>(
    builder: Builder<R>,
    backend: Arc<dyn DesktopBackend>,
    with_tray: bool,
) -> Builder<R> {
    builder
        .manage(AppState {
            backend: backend.clone(),
        })
        .manage(tray::TrayCache::<R>::default())
        .invoke_handler(handler())
        .on_window_event(window::on_window_event)
        .setup(move |app| {
            start(app.handle(), backend, with_tray)?;
            Ok(())
        })
}

/// Bring the app to life: the tray (when `with_tray`), the event bridge, and the settings window
/// in front. Called from `setup` (the mock runtime's tests call it themselves, as the mock event
/// loop does not run).
pub fn start<R: Runtime>(
    app: &tauri::AppHandle<R>,
    backend: Arc<dyn DesktopBackend>,
    with_tray: bool,
) -> tauri::Result<()> {
    if with_tray {
        tray::create(app)?;
    }
    event_bridge::spawn(app.clone(), backend.clone());
    // `sber-tunnel stop` on the command line ends the app the way Quit in the tray does.
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        backend.quit_requested().await;
        tracing::info!("quitting: the command line asked the sync service to stop");
        handle.exit(0);
    });
    // The window opens at launch (some desktops show no tray, and the wizard lives here),
    // except when started at login with `--minimized`.
    let minimized = std::env::args().any(|a| a == MINIMIZED_FLAG);
    if !minimized {
        if let Some(window) = app.get_webview_window(window::MAIN_WINDOW) {
            window.show()?;
        }
    }
    Ok(())
}

/// Argument the login item passes: start in the tray without opening the window.
pub const MINIMIZED_FLAG: &str = "--minimized";

/// The one list of commands the webview may call.
pub fn handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        commands::get_connection,
        commands::test_connection,
        commands::save_connection,
        commands::list_folders,
        commands::add_folder,
        commands::remove_folder,
        commands::set_paused,
        commands::sync_now,
        commands::get_settings,
        commands::save_settings,
        commands::get_status,
        commands::recent_activity,
        commands::app_info,
        commands::pick_folder,
        commands::pick_file,
        commands::open_folder,
        commands::open_file,
        commands::reveal_file,
        commands::open_log_folder,
        commands::get_folder_choice,
        commands::set_excluded,
        commands::page_usage,
        commands::token_notice,
        commands::list_conflicts,
        commands::resolve_conflict,
        commands::page_privacy,
        commands::make_page_private,
        commands::get_ignore_rules,
        commands::preview_ignore_rules,
        commands::save_ignore_rules,
        commands::get_language,
        version_commands::list_history_paths,
        version_commands::list_path_versions,
        version_commands::restore_version,
        version_commands::pick_copy_folder,
        trash_commands::list_trash,
        trash_commands::put_back_from_trash,
        trash_commands::empty_trash,
    ]
}
