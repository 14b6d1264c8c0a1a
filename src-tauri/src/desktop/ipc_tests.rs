//! The shell without a window: Tauri's mock runtime runs the real commands, capabilities and
//! event bridge over a [`FakeBackend`]. Each test builds its own app; requests go through the
//! same IPC path (and ACL check) as the webview's.

use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, Listener, WebviewWindow, WebviewWindowBuilder};

use super::event_bridge::{SYNC_EVENT, SYNC_STATUS};
use super::fake::FakeBackend;

/// How long a test waits for an event before it fails (an event, not a sleep, ends the wait).
const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

struct Harness {
    app: App<MockRuntime>,
    webview: WebviewWindow<MockRuntime>,
}

fn harness() -> Harness {
    harness_with_step(Duration::ZERO)
}

/// A harness whose fake takes `step` per file (to catch a sync in the middle).
fn harness_with_step(step: Duration) -> Harness {
    let backend = Arc::new(FakeBackend::with_step(step));
    let app = super::configure(mock_builder(), backend.clone(), false)
        .build(tauri::generate_context!(test = true))
        .expect("the mock app builds");
    // What `setup` does in the real app (the mock event loop never runs it).
    super::start(app.handle(), backend, false).expect("the shell starts");
    let webview = WebviewWindowBuilder::new(&app, super::window::MAIN_WINDOW, Default::default())
        .build()
        .expect("the main webview builds");
    Harness { app, webview }
}

impl Harness {
    fn invoke(&self, cmd: &str, body: Value) -> Result<Value, Value> {
        self.invoke_from(&self.webview, cmd, body)
    }

    fn invoke_from(
        &self,
        webview: &WebviewWindow<MockRuntime>,
        cmd: &str,
        body: Value,
    ) -> Result<Value, Value> {
        let request = InvokeRequest {
            cmd: cmd.to_owned(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().expect("a valid URL"),
            body: InvokeBody::Json(body),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_owned(),
        };
        get_ipc_response(webview, request)
            .map(|body| body.deserialize::<Value>().expect("responses are JSON"))
    }

    fn ok(&self, cmd: &str, body: Value) -> Value {
        self.invoke(cmd, body)
            .unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }

    fn connect(&self) {
        self.ok("save_connection", json!({"form": good_form()}));
    }

    /// Collect `event` payloads until `done` says so, or fail after [`EVENT_TIMEOUT`].
    fn wait_for(&self, event: &str, mut done: impl FnMut(&Value) -> bool, trigger: impl FnOnce()) {
        let (tx, rx) = mpsc::channel::<Value>();
        let id = self.app.listen_any(event, move |e| {
            let payload = serde_json::from_str(e.payload()).expect("event payloads are JSON");
            let _ = tx.send(payload);
        });
        trigger();
        // The last payloads seen, for the failure message.
        let mut seen: Vec<Value> = Vec::new();
        loop {
            let payload = rx.recv_timeout(EVENT_TIMEOUT).unwrap_or_else(|_| {
                let last = &seen[seen.len().saturating_sub(3)..];
                panic!(
                    "no matching {event} within {EVENT_TIMEOUT:?}; {} seen, the last: {last:#?}",
                    seen.len()
                )
            });
            if done(&payload) {
                break;
            }
            seen.push(payload);
        }
        self.app.unlisten(id);
    }
}

fn good_form() -> Value {
    json!({
        "url": "https://wiki.example.com/confluence",
        "auth": "password",
        "username": "alice",
        "secret": "s3cret",
        "page_id": "4242",
        "p12_path": null,
        "p12_password": null,
        "ca_path": null
    })
}

fn folder_with_files(dir: &Path) {
    std::fs::write(dir.join("report.txt"), b"quarterly numbers").expect("write a file");
    std::fs::create_dir(dir.join("sub")).expect("make a sub-folder");
    std::fs::write(dir.join("sub").join("notes.md"), b"# notes").expect("write a file");
}

#[test]
fn connection_commands_round_trip_and_keep_secrets_out() {
    let h = harness();
    assert_eq!(
        h.ok("get_connection", json!({})),
        Value::Null,
        "nothing saved at first"
    );
    let check = h.ok("test_connection", json!({"form": good_form()}));
    assert_eq!(check["user"], "alice", "the check names the user: {check}");
    assert_eq!(
        h.ok("get_connection", json!({})),
        Value::Null,
        "testing saves nothing"
    );

    h.connect();
    let saved = h.ok("get_connection", json!({}));
    assert_eq!(saved["url"], "https://wiki.example.com/confluence");
    assert_eq!(saved["auth"], "password");
    assert_eq!(saved["page_id"], "4242");
    assert_eq!(saved["has_secret"], true);
    assert!(
        !saved.to_string().contains("s3cret"),
        "the secret never comes back: {saved}"
    );
}

#[test]
fn errors_arrive_as_code_and_message() {
    let h = harness();
    let mut form = good_form();
    form["secret"] = json!("wrong");
    let err = h
        .invoke("save_connection", json!({"form": form}))
        .expect_err("a wrong password fails");
    assert_eq!(err["code"], "auth", "the UI branches on the code: {err}");
    assert!(
        err["message"]
            .as_str()
            .is_some_and(|m| m.contains("password")),
        "{err}"
    );
    assert_eq!(
        h.ok("get_connection", json!({})),
        Value::Null,
        "a failing form is not saved"
    );

    let err = h
        .invoke("add_folder", json!({"path": "/tmp", "page_id": null}))
        .expect_err("no folder before a connection");
    assert_eq!(err["code"], "not-configured", "{err}");

    h.connect();
    let err = h
        .invoke("open_folder", json!({"path": "/etc"}))
        .expect_err("only tracked folders open");
    assert_eq!(err["code"], "invalid", "{err}");
    let err = h
        .invoke("pick_file", json!({"kind": "exe"}))
        .expect_err("unknown kind");
    assert_eq!(
        err["code"], "internal",
        "no picker in the mock app is an internal error: {err}"
    );
}

#[test]
fn folder_commands_round_trip() {
    let h = harness();
    h.connect();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_str().expect("utf-8 temp path").to_owned();

    let err = h
        .invoke("add_folder", json!({"path": path, "page_id": "Home"}))
        .expect_err("a page id is the page's number");
    assert_eq!(err["code"], "invalid", "{err}");
    assert_eq!(
        h.ok("list_folders", json!({})),
        json!([]),
        "nothing is tracked with a bad page id"
    );
    let added = h.ok("add_folder", json!({"path": path, "page_id": "777"}));
    assert_eq!(added["path"], path.as_str());
    assert_eq!(
        added["page_id"], "777",
        "an explicit page wins over the default"
    );
    let listed = h.ok("list_folders", json!({}));
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");

    h.ok("set_paused", json!({"path": path, "paused": true}));
    assert_eq!(
        h.ok("list_folders", json!({}))[0]["paused"],
        true,
        "pause sticks"
    );
    h.ok("set_paused", json!({"path": null, "paused": false}));
    assert_eq!(
        h.ok("list_folders", json!({}))[0]["paused"],
        false,
        "resume-all resumes it"
    );
    h.ok("sync_now", json!({"path": path}));
    let status = h.ok("get_status", json!({}));
    assert_eq!(
        status["folders"][0]["path"],
        path.as_str(),
        "the status lists it: {status}"
    );

    let err = h
        .invoke("add_folder", json!({"path": path, "page_id": null}))
        .expect_err("twice");
    assert_eq!(err["code"], "invalid", "{err}");
    h.ok("remove_folder", json!({"path": path}));
    assert_eq!(h.ok("list_folders", json!({})), json!([]), "removed");
}

#[test]
fn settings_and_about_round_trip() {
    let h = harness();
    let mut settings = h.ok("get_settings", json!({}));
    settings["poll_interval_secs"] = json!(120);
    settings["log_level"] = json!("debug");
    h.ok("save_settings", json!({"settings": settings}));
    let again = h.ok("get_settings", json!({}));
    assert_eq!(again["poll_interval_secs"], 120);
    assert_eq!(again["log_level"], "debug");

    assert_eq!(again["upload_limit_kib_per_sec"], 0, "unlimited by default");
    settings["upload_limit_kib_per_sec"] = json!(512);
    settings["download_limit_kib_per_sec"] = json!(2048);
    h.ok("save_settings", json!({"settings": settings}));
    let again = h.ok("get_settings", json!({}));
    assert_eq!(again["upload_limit_kib_per_sec"], 512);
    assert_eq!(again["download_limit_kib_per_sec"], 2048);

    let mut too_fast = settings.clone();
    too_fast["download_limit_kib_per_sec"] = json!(u64::MAX);
    let err = h
        .invoke("save_settings", json!({"settings": too_fast}))
        .expect_err("refused");
    assert_eq!(err["code"], "invalid", "{err}");

    settings["parallel_transfers"] = json!(0);
    let err = h
        .invoke("save_settings", json!({"settings": settings}))
        .expect_err("refused");
    assert_eq!(err["code"], "invalid", "{err}");

    let about = h.ok("app_info", json!({}));
    assert_eq!(about["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(about["license"], "MIT");
}

#[test]
fn the_bridge_forwards_events_and_status() {
    let h = harness();
    h.connect();
    let dir = tempfile::tempdir().expect("temp dir");
    folder_with_files(dir.path());
    let path = dir.path().to_str().expect("utf-8 temp path").to_owned();

    let mut uploaded = Vec::new();
    h.wait_for(
        SYNC_EVENT,
        |event| {
            if event["type"] == "uploaded" {
                uploaded.push(event["path"].as_str().unwrap_or_default().to_owned());
            }
            event["type"] == "finished"
        },
        || {
            h.ok("add_folder", json!({"path": path, "page_id": null}));
        },
    );
    uploaded.sort();
    assert_eq!(
        uploaded,
        ["report.txt", "sub/notes.md"],
        "each file is reported once"
    );
    // What the Activity tab lists after a restart: the same files, newest first, with times.
    let history = h.ok("recent_activity", json!({}));
    let mut listed: Vec<&str> = history
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| {
            assert!(e["at"].as_i64().is_some_and(|t| t > 0), "{e}");
            assert_eq!(e["event"]["type"], "uploaded", "{e}");
            e["event"]["path"].as_str().unwrap_or_default()
        })
        .collect();
    listed.sort();
    assert_eq!(listed, ["report.txt", "sub/notes.md"], "{history}");

    h.wait_for(
        SYNC_STATUS,
        |status| status["state"] == "paused",
        || {
            h.ok("set_paused", json!({"path": null, "paused": true}));
        },
    );
}

#[test]
fn a_window_the_capability_does_not_name_is_refused() {
    let h = harness();
    let other = WebviewWindowBuilder::new(&h.app, "other", Default::default())
        .build()
        .expect("a second webview builds");
    let refused = h.invoke_from(&other, "get_connection", json!({}));
    let message = refused
        .expect_err("commands are granted to the main window only")
        .to_string();
    assert!(
        message.contains("not allowed"),
        "the ACL refuses it: {message}"
    );
}

/// Issue 17 item 4: while a folder syncs, the status the window receives says how many files
/// and bytes are left, the speed and the file in transfer, for the folder and overall.
#[test]
fn the_status_carries_progress_while_a_folder_syncs() {
    let h = harness_with_step(Duration::from_millis(150));
    h.connect();
    let dir = tempfile::tempdir().expect("temp dir");
    for i in 0..4 {
        std::fs::write(dir.path().join(format!("part-{i}.bin")), vec![7u8; 10_000])
            .expect("write a file");
    }
    let path = dir.path().to_str().expect("utf-8 temp path").to_owned();
    let mut seen: Option<Value> = None;
    h.wait_for(
        SYNC_STATUS,
        |status| {
            let p = &status["folders"][0]["progress"];
            let mid = status["state"] == "syncing"
                && p["files_done"].as_u64().is_some_and(|n| n >= 2)
                && p["files_to_go"].as_u64().is_some_and(|n| n >= 1)
                && p["current_file"]
                    .as_str()
                    .is_some_and(|f| f.starts_with("part-"));
            if mid {
                seen = Some(status.clone());
            }
            mid
        },
        || {
            h.ok("add_folder", json!({"path": path, "page_id": null}));
        },
    );
    let status = seen.expect("a status in the middle of the sync");
    let p = &status["folders"][0]["progress"];
    let to_go = p["files_to_go"].as_u64().expect("files to go");
    assert_eq!(
        p["bytes_to_go"].as_u64(),
        Some(to_go * 10_000),
        "each file left is 10 000 bytes: {p}"
    );
    assert!(
        p["bytes_per_sec"].as_u64().is_some_and(|r| r > 0),
        "files done over time is a speed: {p}"
    );
    assert!(p["eta_secs"].as_u64().is_some(), "and a time left: {p}");
    assert_eq!(
        status["progress"]["bytes_to_go"], p["bytes_to_go"],
        "overall = the one folder"
    );
}

/// Issue 17 item 4: why a folder waits reaches the window: the server's rate limit with the
/// time of the next attempt, and files another program holds.
#[test]
fn the_status_says_why_a_folder_waits() {
    let h = harness();
    h.connect();
    let limited = tempfile::tempdir().expect("temp dir");
    std::fs::write(limited.path().join("RATE_LIMITED"), b"").expect("write the trigger");
    let path = limited.path().to_str().expect("utf-8 temp path").to_owned();
    let before = tunnel_core::clock::unix_now();
    let mut waiting = Value::Null;
    h.wait_for(
        SYNC_STATUS,
        |status| {
            waiting = status["folders"][0]["waiting"].clone();
            waiting["kind"] == "rate-limited"
        },
        || {
            h.ok("add_folder", json!({"path": path, "page_id": null}));
        },
    );
    let retry_at = waiting["retry_at"].as_i64().expect("a time");
    assert!(
        retry_at >= before + super::fake_progress::RATE_LIMIT_WAIT_SECS,
        "the next attempt is in the future: {waiting}"
    );
    let status = h.ok("get_status", json!({}));
    assert_eq!(status["state"], "offline");
    assert_eq!(status["waiting"], waiting, "the pill shows the same reason");
    h.ok("remove_folder", json!({"path": path}));

    let held = tempfile::tempdir().expect("temp dir");
    std::fs::write(held.path().join("budget in-use.xlsx"), b"open in Excel").expect("write");
    std::fs::write(held.path().join("notes.txt"), b"free").expect("write");
    let path = held.path().to_str().expect("utf-8 temp path").to_owned();
    h.wait_for(
        SYNC_STATUS,
        |status| {
            status["folders"][0]["waiting"]
                == json!({"kind": "files-in-use", "files": ["budget in-use.xlsx"], "count": 1})
        },
        || {
            h.ok("add_folder", json!({"path": path, "page_id": null}));
        },
    );
}

/// The Conflicts view's commands (issue 17 item 3): both versions with mine/theirs, and each
/// resolution through IPC with the version not kept in the folder's trash.
#[test]
fn conflicts_are_listed_with_both_versions_and_resolved() {
    let h = harness();
    h.connect();
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let theirs_copy = "report (conflict from laptop 2026-11-23 101500).txt";
    let mine_copy = "plan (conflict from this-computer 2026-11-23 101500).md";
    std::fs::write(root.join("report.txt"), b"mine at the name").expect("write");
    std::fs::write(root.join(theirs_copy), b"laptop's version").expect("write");
    std::fs::write(root.join("plan.md"), b"theirs").expect("write");
    std::fs::write(root.join(mine_copy), b"my plan").expect("write");
    let path = root.to_str().expect("utf-8 temp path").to_owned();
    h.ok("add_folder", json!({"path": path, "page_id": null}));

    let listed = h.ok("list_conflicts", json!({}));
    let all = listed.as_array().expect("a list");
    assert_eq!(all.len(), 2, "{listed}");
    let by_copy = |copy: &str| {
        all.iter()
            .find(|c| c["copy"]["path"] == copy)
            .unwrap_or_else(|| panic!("{copy} listed: {listed}"))
            .clone()
    };
    let report = by_copy(theirs_copy);
    assert_eq!(report["folder"], path.as_str());
    assert_eq!(report["kind"], "copy");
    assert_eq!(report["original"]["path"], "report.txt");
    assert_eq!(
        report["copy"]["device"], "laptop",
        "the device the name gives"
    );
    assert_eq!(report["copy"]["size"], 16);
    assert_eq!(
        report["mine"], "original",
        "another device's copy is theirs"
    );
    assert_eq!(report["theirs"], "copy");
    assert!(report["made_at"].is_i64(), "{report}");
    assert_eq!(
        by_copy(mine_copy)["mine"],
        "copy",
        "a copy of this device's version is mine"
    );

    h.ok(
        "resolve_conflict",
        json!({"folder": path, "path": theirs_copy, "keep": "theirs"}),
    );
    assert_eq!(
        std::fs::read(root.join("report.txt")).expect("read"),
        b"laptop's version",
        "theirs took the name"
    );
    assert!(!root.join(theirs_copy).exists(), "the copy's name is gone");
    assert_eq!(
        super::conflict_count::get(h.app.handle()),
        1,
        "the tray's count follows the resolution"
    );
    let trash = root.join(tunnel_core::sync::TRASH_DIR);
    let trashed: Vec<_> = walk_files(&trash);
    assert!(
        trashed
            .iter()
            .any(|p| std::fs::read(p).ok().as_deref() == Some(b"mine at the name")),
        "the version not kept is in the trash: {trashed:?}"
    );

    h.ok(
        "resolve_conflict",
        json!({"folder": path, "path": mine_copy, "keep": "both"}),
    );
    assert!(root.join(mine_copy).exists() && root.join("plan.md").exists());
    assert_eq!(
        h.ok("list_conflicts", json!({})),
        json!([]),
        "nothing left to resolve"
    );
    let err = h
        .invoke(
            "resolve_conflict",
            json!({"folder": path, "path": "plan.md", "keep": "mine"}),
        )
        .expect_err("not a conflict any more");
    assert_eq!(err["code"], "invalid", "{err}");
}

fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Issue 17 item 6: the Connection view asks who may see the page and can make it private.
#[test]
fn page_privacy_is_read_and_the_page_made_private() {
    let h = harness();
    let before = h
        .invoke("page_privacy", json!({}))
        .expect_err("no connection yet");
    assert_eq!(before["code"], "not-configured", "{before}");

    h.connect();
    let open = h.ok("page_privacy", json!({}));
    assert_eq!(open["page_id"], "4242", "the connection's page: {open}");
    assert_eq!(open["user"], "alice");
    assert_eq!(open["visible_to_others"], true);
    assert_eq!(open["viewers"], "everyone with access to the space");

    let private = h.ok("make_page_private", json!({"page_id": ""}));
    assert_eq!(private["private"], true, "{private}");
    assert_eq!(private["visible_to_others"], false);
    assert_eq!(
        h.ok("page_privacy", json!({"page_id": null}))["private"],
        true,
        "read back as private"
    );
    assert_eq!(
        h.ok("page_privacy", json!({"page_id": "777"}))["visible_to_others"],
        true,
        "another page is asked about by id"
    );
    let refused = h
        .invoke("make_page_private", json!({"page_id": "403"}))
        .expect_err("the fake's permission trigger");
    assert_eq!(refused["code"], "permission", "{refused}");
    let bad = h
        .invoke("page_privacy", json!({"page_id": "abc"}))
        .expect_err("not a page id");
    assert_eq!(bad["code"], "invalid", "{bad}");
}

/// Issue 17, item 7: the page-usage panel and the token-expiry banner get their data over IPC.
#[test]
fn page_usage_and_token_notice_round_trip() {
    let h = harness();
    assert_eq!(
        h.ok("page_usage", json!({"path": null})),
        json!([]),
        "nothing to show before a connection"
    );
    h.connect();
    assert_eq!(
        h.ok("token_notice", json!({})),
        Value::Null,
        "a password has no expiry to warn about"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    folder_with_files(dir.path());
    let path = dir.path().to_str().expect("utf-8 temp path").to_owned();
    h.wait_for(
        SYNC_EVENT,
        |event| event["type"] == "finished",
        || {
            h.ok("add_folder", json!({"path": path, "page_id": null}));
        },
    );
    let usage = h.ok("page_usage", json!({"path": path}));
    let row = &usage[0];
    assert_eq!(row["path"], path.as_str(), "{usage}");
    assert!(
        row["usage"]["attachments"].as_u64().is_some_and(|n| n >= 2),
        "the two synced files are on the page: {usage}"
    );
    assert_eq!(row["usage"]["collectable"], 0, "{usage}");
    assert_eq!(row["usage"]["trash_visible"], false, "{usage}");

    let mut pat = good_form();
    pat["auth"] = json!("pat");
    pat["username"] = Value::Null;
    pat["secret"] = json!("a-token");
    h.ok("save_connection", json!({"form": pat}));
    let notice = h.ok("token_notice", json!({}));
    assert_eq!(notice["days_left"], 5, "{notice}");
    assert_eq!(notice["expired"], false, "{notice}");
    assert!(
        notice["message"]
            .as_str()
            .is_some_and(|m| m.contains("expires in 5 days")),
        "{notice}"
    );
}

/// Issue 17 item 1: "Choose folders…" reads a folder's subfolders and excludes and includes
/// them through the same commands the window calls.
#[test]
fn folder_choice_excludes_and_includes_subfolders() {
    let h = harness();
    h.connect();
    let dir = tempfile::tempdir().expect("temp dir");
    folder_with_files(dir.path());
    std::fs::create_dir_all(dir.path().join("sub").join("deep")).expect("mkdir");
    std::fs::write(dir.path().join("sub").join("deep").join("x.bin"), b"12345").expect("write");
    let path = dir.path().to_str().expect("utf-8 temp path").to_owned();
    h.ok("add_folder", json!({"path": path, "page_id": null}));

    let choice = h.ok("get_folder_choice", json!({"path": path}));
    assert_eq!(
        choice["excluded"],
        json!([]),
        "nothing excluded at first: {choice}"
    );
    let subs = choice["subfolders"].as_array().expect("a list").clone();
    assert_eq!(
        subs.iter().map(|s| s["path"].clone()).collect::<Vec<_>>(),
        vec![json!("sub"), json!("sub/deep")],
        "{choice}"
    );
    assert_eq!(
        subs[0]["files"], 2,
        "files below sub, at any depth: {choice}"
    );
    assert_eq!(subs[0]["bytes"], 12, "{choice}");

    let choice = h.ok(
        "set_excluded",
        json!({"path": path, "subpath": "sub", "excluded": true}),
    );
    assert_eq!(choice["excluded"], json!(["sub"]), "{choice}");
    assert_eq!(
        choice["subfolders"][1]["excluded"], true,
        "sub/deep goes with sub"
    );
    assert_eq!(
        h.ok("get_folder_choice", json!({"path": path}))["excluded"],
        json!(["sub"]),
        "the choice is kept"
    );
    // Checking a box inside an excluded folder brings back only that part.
    let choice = h.ok(
        "set_excluded",
        json!({"path": path, "subpath": "sub/deep", "excluded": false}),
    );
    assert_eq!(choice["excluded"], json!(["sub/notes.md"]), "{choice}");
    let choice = h.ok(
        "set_excluded",
        json!({"path": path, "subpath": "sub", "excluded": false}),
    );
    assert_eq!(choice["excluded"], json!([]), "{choice}");

    let err = h
        .invoke(
            "set_excluded",
            json!({"path": path, "subpath": "../outside", "excluded": true}),
        )
        .expect_err("a path leaving the folder");
    assert_eq!(err["code"], "invalid", "{err}");
    let err = h
        .invoke("get_folder_choice", json!({"path": "/not/tracked"}))
        .expect_err("an untracked folder");
    assert_eq!(err["code"], "invalid", "{err}");
}

/// Issue 17 item 2: the rule editor reads a folder's `.sbtignore` and the global patterns with
/// the presets, previews which existing files a text would newly exclude, and saves it.
#[test]
fn ignore_rules_are_read_previewed_and_saved() {
    let h = harness();
    h.connect();
    let dir = tempfile::tempdir().expect("temp dir");
    folder_with_files(dir.path());
    std::fs::create_dir_all(dir.path().join("build")).expect("mkdir");
    std::fs::write(dir.path().join("build").join("app.bin"), b"1234").expect("write");
    let path = dir.path().to_str().expect("utf-8 temp path").to_owned();
    h.ok("add_folder", json!({"path": path, "page_id": null}));

    let view = h.ok("get_ignore_rules", json!({"folder": path}));
    assert_eq!(view["text"], "", "{view}");
    assert_eq!(view["presets"], json!([]), "{view}");
    let names: Vec<_> = view["available"]
        .as_array()
        .expect("presets")
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert!(names.contains(&json!("build")), "{view}");

    let preview = h.ok(
        "preview_ignore_rules",
        json!({"folder": path, "text": "build/\n"}),
    );
    assert_eq!(preview[0]["excluded"], json!(["build/"]), "{preview}");
    assert_eq!(preview[0]["excluded_files"], 1, "{preview}");
    assert!(
        !dir.path().join(".sbtignore").exists(),
        "a preview saves nothing"
    );

    let saved = h.ok(
        "save_ignore_rules",
        json!({"folder": path, "text": "build/\n"}),
    );
    assert_eq!(saved["text"], "build/\n", "{saved}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".sbtignore")).expect("saved"),
        "build/\n"
    );

    // The global patterns.
    let global = h.ok(
        "save_ignore_rules",
        json!({"folder": null, "text": "*.md\n"}),
    );
    assert_eq!(global["folder"], Value::Null, "{global}");
    assert_eq!(
        h.ok("get_ignore_rules", json!({"folder": null}))["text"],
        "*.md\n"
    );

    let err = h
        .invoke(
            "save_ignore_rules",
            json!({"folder": path, "text": "{unclosed\n"}),
        )
        .expect_err("a bad pattern");
    assert_eq!(err["code"], "invalid", "{err}");
    let err = h
        .invoke("get_ignore_rules", json!({"folder": "/not/tracked"}))
        .expect_err("an untracked folder");
    assert_eq!(err["code"], "invalid", "{err}");
}
