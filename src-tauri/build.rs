//! Build script: runs `tauri-build` only for the desktop app (feature `gui`), so the headless
//! build never touches Tauri. The config sits at the top level beside the root manifest (the
//! default place); the capabilities live in `src-tauri/capabilities/`.

fn main() {
    #[cfg(feature = "gui")]
    desktop();
}

/// The app commands the UI may call; each gets an `allow-<name>` permission that a capability
/// must grant (so a command the capabilities do not name is refused at the IPC layer).
#[cfg(feature = "gui")]
const COMMANDS: &[&str] = &[
    "get_connection",
    "test_connection",
    "save_connection",
    "list_folders",
    "add_folder",
    "remove_folder",
    "set_paused",
    "sync_now",
    "get_settings",
    "save_settings",
    "get_status",
    "recent_activity",
    "app_info",
    "pick_folder",
    "pick_file",
    "open_folder",
    "open_file",
    "reveal_file",
    "open_log_folder",
    "get_folder_choice",
    "set_excluded",
    "page_usage",
    "token_notice",
    "list_conflicts",
    "resolve_conflict",
    "page_privacy",
    "make_page_private",
    "get_ignore_rules",
    "preview_ignore_rules",
    "save_ignore_rules",
    "get_language",
    "list_history_paths",
    "list_path_versions",
    "restore_version",
    "pick_copy_folder",
    "list_trash",
    "put_back_from_trash",
    "empty_trash",
];

#[cfg(feature = "gui")]
fn desktop() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        // A build script reports by panicking; the message names the broken config or capability.
        panic!("tauri-build failed: {error:#}");
    }
}
