//! The desktop app's command list is written in five places that Tauri's design keeps apart:
//! the build script (one `allow-<name>` permission per command), the handler list in
//! `desktop/mod.rs`, the `#[tauri::command]` functions in `desktop/commands.rs` (and the
//! Versions view's in `desktop/version_commands.rs`, the Trash view's in
//! `desktop/trash_commands.rs`), the
//! capability that grants them (`capabilities/default.json`) and the UI's only caller
//! (`ui/js/api.js`). This test reads all five as text — so it runs in the headless build too —
//! and fails, naming the command and the file, when one of them lists a command the others do
//! not.

use std::collections::BTreeSet;

const BUILD_RS: &str = include_str!("../build.rs");
const HANDLER: &str = include_str!("desktop/mod.rs");
const COMMANDS: &str = include_str!("desktop/commands.rs");
const VERSION_COMMANDS: &str = include_str!("desktop/version_commands.rs");
const TRASH_COMMANDS: &str = include_str!("desktop/trash_commands.rs");
const CAPABILITY: &str = include_str!("../capabilities/default.json");
const API_JS: &str = include_str!("../../ui/js/api.js");

/// The text between `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not found"))
        + start.len();
    let len = text[from..]
        .find(end)
        .unwrap_or_else(|| panic!("{end:?} not found after {start:?}"));
    &text[from..from + len]
}

/// Every word in `text` that follows `open` up to `close` (e.g. `call('name'`).
fn quoted(text: &str, open: &str, close: char) -> BTreeSet<String> {
    text.split(open)
        .skip(1)
        .filter_map(|rest| rest.split(close).next())
        .map(str::to_string)
        .collect()
}

fn build_script() -> BTreeSet<String> {
    list_items(between(BUILD_RS, "const COMMANDS: &[&str] = &[", "];"))
        .map(|s| s.trim_matches('"').to_string())
        .collect()
}

/// The comma-separated items of a list, trimmed, without empty ones.
fn list_items(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn handler() -> BTreeSet<String> {
    list_items(between(HANDLER, "generate_handler![", "]"))
        // `commands::name`, `version_commands::name`: the function's own name.
        .map(|s| s.rsplit("::").next().unwrap_or(s).to_string())
        .collect()
}

fn command_functions() -> BTreeSet<String> {
    [COMMANDS, VERSION_COMMANDS, TRASH_COMMANDS]
        .iter()
        .flat_map(|text| text.split("#[tauri::command").skip(1))
        .filter_map(|rest| {
            let after = rest.split("pub async fn ").nth(1)?;
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            Some(name)
        })
        .collect()
}

fn capability() -> BTreeSet<String> {
    let v: serde_json::Value = serde_json::from_str(CAPABILITY).expect("default.json is JSON");
    v["permissions"]
        .as_array()
        .expect("a permissions list")
        .iter()
        .filter_map(|p| p.as_str())
        .filter_map(|p| p.strip_prefix("allow-"))
        .map(|p| p.replace('-', "_"))
        .collect()
}

fn ui_calls() -> BTreeSet<String> {
    quoted(API_JS, "call('", '\'')
}

#[test]
fn every_place_lists_the_same_desktop_commands() {
    let reference = build_script();
    assert!(
        reference.len() >= 10,
        "the build script's list was not read: {reference:?}"
    );
    for (place, set) in [
        (
            "src-tauri/src/desktop/mod.rs (generate_handler!)",
            handler(),
        ),
        (
            "src-tauri/src/desktop/commands.rs (#[tauri::command] fns)",
            command_functions(),
        ),
        ("src-tauri/capabilities/default.json", capability()),
        ("ui/js/api.js (call('…'))", ui_calls()),
    ] {
        let missing: Vec<_> = reference.difference(&set).collect();
        let extra: Vec<_> = set.difference(&reference).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{place} disagrees with src-tauri/build.rs's COMMANDS: missing {missing:?}, \
             not in build.rs {extra:?}"
        );
    }
}

#[test]
fn the_readers_see_a_difference() {
    // The test above is only as good as its readers: each must notice one command more.
    let with_extra = API_JS.replace("call('app_info')", "call('app_info_two')");
    assert_ne!(quoted(&with_extra, "call('", '\''), ui_calls());
    assert!(handler().contains("get_status") && command_functions().contains("get_status"));
    assert!(capability().contains("open_log_folder") && build_script().contains("pick_file"));
    // The Versions view's commands live in their own file; both files are read.
    assert!(
        handler().contains("restore_version") && command_functions().contains("restore_version")
    );
    // So do the Trash view's.
    assert!(handler().contains("empty_trash") && command_functions().contains("empty_trash"));
}
