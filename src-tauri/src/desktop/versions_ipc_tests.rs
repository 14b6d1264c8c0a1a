//! The Versions view's commands (issue 16 item 3) through Tauri's mock runtime over the REAL
//! backend, with the Confluence emulator on a real socket: the same IPC path, ACL check and
//! backend the window uses, and the same sync engine and page history the command line's
//! `history` / `restore` read.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use confluence_emulator::EmulatorHandle;
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, WebviewWindow, WebviewWindowBuilder};
use test_support::time_text::rfc3339;
use test_support::wait::wait_for;

use super::backend::DesktopBackend as _;
use super::real_backend::RealBackend;

/// How long a test waits for the engine to sync (a generous bound for a busy CI machine).
const PATIENCE: Duration = Duration::from_secs(60);

/// The app over the real backend and an emulator (the Trash view's tests use it too).
pub(super) struct Harness {
    _emulator: EmulatorHandle,
    backend: Arc<RealBackend>,
    _app: App<MockRuntime>,
    webview: WebviewWindow<MockRuntime>,
    device: String,
}

impl Harness {
    /// The app over a real backend configured for a fresh emulator page (no folder yet).
    pub(super) fn start(home: &Path) -> Harness {
        let emulator = tauri::async_runtime::block_on(super::emulator_app::spawn());
        let opened = super::emulator_app::configured(emulator.base_url(), home);
        let (paths, device) = (opened.paths.clone(), opened.config.device.id.clone());
        drop(opened);
        // On Tauri's runtime, where the commands run: the engine's tasks live there.
        let backend = tauri::async_runtime::block_on(RealBackend::new(paths));
        let app = super::configure(mock_builder(), backend.clone(), false)
            .build(tauri::generate_context!(test = true))
            .expect("the mock app builds");
        super::start(app.handle(), backend.clone(), false).expect("the shell starts");
        let webview =
            WebviewWindowBuilder::new(&app, super::window::MAIN_WINDOW, Default::default())
                .build()
                .expect("the main webview builds");
        Harness {
            _emulator: emulator,
            backend,
            _app: app,
            webview,
            device,
        }
    }

    pub(super) fn invoke(&self, cmd: &str, body: Value) -> Result<Value, Value> {
        let request = InvokeRequest {
            cmd: cmd.to_owned(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().expect("a valid URL"),
            body: InvokeBody::Json(body),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_owned(),
        };
        get_ipc_response(&self.webview, request)
            .map(|body| body.deserialize::<Value>().expect("responses are JSON"))
    }

    pub(super) fn ok(&self, cmd: &str, body: Value) -> Value {
        self.invoke(cmd, body)
            .unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }

    /// The emulator's address (for a second device on the same page).
    pub(super) fn emulator_url(&self) -> String {
        self._emulator.base_url()
    }

    /// The versions of `path` in `folder` (newest first), or none while the page has no
    /// file list yet.
    fn versions(&self, folder: &str, path: &str) -> Vec<Value> {
        self.invoke(
            "list_path_versions",
            json!({"folder": folder, "path": path}),
        )
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
    }

    /// Sync the folder now and wait until `path` has `count` versions on the page.
    pub(super) fn sync_until(&self, folder: &str, path: &str, count: usize) {
        self.ok("sync_now", json!({"path": folder}));
        wait_for(
            &format!("{path} to have {count} versions on the page"),
            PATIENCE,
            || self.versions(folder, path).len() >= count,
        );
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        tauri::async_runtime::block_on(self.backend.shutdown());
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("<{}: {e}>", path.display()))
}

/// The (path, change) pairs of a restore report, by path.
fn changes(report: &Value) -> Vec<(String, String)> {
    report["changes"]
        .as_array()
        .expect("a change list")
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap_or_default().to_owned(),
                c["change"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// A file edited twice then deleted is listed among the folder's paths (as deleted) with
/// its versions newest first; the folder's restore at a time between the edits is previewed
/// (nothing changes) and then done; the restore syncs and is shown as one; a version is
/// restored into place and saved as a copy elsewhere (never over a file, never inside the
/// synced folder).
#[test]
fn a_deleted_file_is_listed_with_its_versions_and_restored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = std::fs::canonicalize(dir.path()).expect("canonical temp dir");
    let synced = home.join("synced");
    std::fs::create_dir_all(&synced).expect("mkdir");
    let notes = synced.join("notes.txt");
    std::fs::write(&notes, "one").expect("write");
    std::fs::write(synced.join("keep.txt"), "kept").expect("write");
    let h = Harness::start(&home);
    let folder = synced.to_str().expect("utf-8 path").to_owned();

    h.ok("add_folder", json!({"path": folder, "page_id": null}));
    h.sync_until(&folder, "notes.txt", 1);
    std::fs::write(&notes, "two two").expect("edit");
    h.sync_until(&folder, "notes.txt", 2);
    std::fs::write(&notes, "three three three").expect("edit");
    std::fs::write(synced.join("later.txt"), "made later").expect("write");
    h.sync_until(&folder, "notes.txt", 3);
    std::fs::remove_file(&notes).expect("delete");
    h.sync_until(&folder, "notes.txt", 4);

    // The file list: the deleted file is findable, marked as deleted.
    let paths = h.ok("list_history_paths", json!({"folder": folder}));
    let row = |p: &str| {
        paths
            .as_array()
            .expect("a list")
            .iter()
            .find(|r| r["path"] == p)
            .unwrap_or_else(|| panic!("{p} listed: {paths}"))
            .clone()
    };
    assert_eq!(
        row("notes.txt")["live"],
        false,
        "deleted on the page: {paths}"
    );
    assert_eq!(row("notes.txt")["changes"], 4, "{paths}");
    assert_eq!(row("keep.txt")["live"], true, "{paths}");
    assert_eq!(row("later.txt")["live"], true, "{paths}");

    // Its versions, newest first, with device, size and what happened.
    let versions = h.versions(&folder, "notes.txt");
    let seen: Vec<(&str, u64)> = versions
        .iter()
        .map(|v| {
            (
                v["action"].as_str().unwrap_or(""),
                v["size"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("deleted", 0),
            ("modified", 17),
            ("modified", 7),
            ("created", 3)
        ],
        "{versions:#?}"
    );
    assert!(
        versions.iter().all(|v| v["device"] == h.device.as_str()),
        "every change was this device's: {versions:#?}"
    );
    let time = |v: &Value| v["time_ms"].as_i64().expect("a time");
    assert!(
        time(&versions[0]) >= time(&versions[1]) && time(&versions[1]) > time(&versions[2]),
        "newest first: {versions:#?}"
    );

    // The folder as it was after the first edit: a preview lists the changes, and writes
    // nothing.
    let at = rfc3339(time(&versions[2]));
    let pick = json!({"at": at});
    let preview = h.ok(
        "restore_version",
        json!({"folder": folder, "path": null, "pick": pick, "to": null, "dry_run": true}),
    );
    assert_eq!(preview["dry_run"], true);
    let listed = changes(&preview);
    for want in [
        ("keep.txt", "skip"),
        ("later.txt", "remove"),
        ("notes.txt", "write"),
    ] {
        assert!(
            listed.contains(&(want.0.to_owned(), want.1.to_owned())),
            "{want:?} in the preview: {listed:?}"
        );
    }
    assert!(!notes.exists(), "a preview does not bring the file back");
    assert!(
        synced.join("later.txt").exists(),
        "a preview removes nothing"
    );

    let refused = h
        .invoke(
            "restore_version",
            json!({"folder": folder, "path": null, "pick": {"at": "not a time"}, "to": null, "dry_run": true}),
        )
        .expect_err("a time that cannot be read");
    assert_eq!(refused["code"], "invalid", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("not a time")),
        "{refused}"
    );

    // Confirmed: the folder is as it was then, and the restore syncs as a change of its own.
    let done = h.ok(
        "restore_version",
        json!({"folder": folder, "path": null, "pick": pick, "to": null, "dry_run": false}),
    );
    assert_eq!(
        done["seq"], preview["seq"],
        "the state previewed is the one restored"
    );
    assert_eq!(read(&notes), "two two");
    assert!(
        !synced.join("later.txt").exists(),
        "what the page had only later went to the local trash"
    );
    wait_for("the restore to reach the page", PATIENCE, || {
        h.versions(&folder, "notes.txt").len() >= 5
    });
    let back = &h.versions(&folder, "notes.txt")[0];
    assert_eq!(back["action"], "created", "{back}");
    assert_eq!(
        back["restored_from"], versions[2]["version"],
        "the view can say which version came back: {back}"
    );

    // One version into place.
    let first = versions[3]["version"].clone();
    let report = h.ok(
        "restore_version",
        json!({"folder": folder, "path": "notes.txt", "pick": {"version": first}, "to": null, "dry_run": false}),
    );
    assert_eq!(
        changes(&report),
        [("notes.txt".to_owned(), "write".to_owned())]
    );
    assert_eq!(read(&notes), "one");

    // "Save a copy…": into another folder, never over what is there, never inside the folder.
    let copies = home.join("copies");
    let third = versions[1]["version"].clone();
    let copy = json!({"folder": folder, "path": "notes.txt", "pick": {"version": third}, "to": copies, "dry_run": false});
    h.ok("restore_version", copy.clone());
    assert_eq!(read(&copies.join("notes.txt")), "three three three");
    std::fs::write(copies.join("notes.txt"), "mine").expect("write");
    let again = h.ok("restore_version", copy);
    assert_eq!(
        changes(&again),
        [("notes.txt".to_owned(), "exists".to_owned())]
    );
    assert_eq!(read(&copies.join("notes.txt")), "mine", "left alone");
    let inside: PathBuf = synced.join("copies");
    let refused = h
        .invoke(
            "restore_version",
            json!({"folder": folder, "path": "notes.txt", "pick": {"version": third}, "to": inside, "dry_run": false}),
        )
        .expect_err("a copy inside the synced folder");
    assert_eq!(refused["code"], "invalid", "{refused}");
    assert_eq!(read(&notes), "one", "the refused copy changed nothing");
}
