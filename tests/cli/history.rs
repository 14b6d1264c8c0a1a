//! `sber-tunnel history` and `restore` (issue 16 items 1 and 2) through the emulator on a
//! real socket: the versions three devices made, the folder restored at a time between their
//! commits (a dry run first), a restore undone, a deleted folder brought back into place and
//! into another folder, and the history's cost in `status --json`.

use serde_json::Value;
use test_support::cli::{Device, Server};
use test_support::time_text::rfc3339;

fn json(d: &Device, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&d.ok(&all)).expect("--json prints JSON")
}

fn path_of(d: &Device, rel: &str) -> String {
    d.folder.join(rel).to_str().expect("utf-8").to_string()
}

#[test]
fn three_devices_history_and_a_folder_restored_at_a_time_between_commits() {
    let server = Server::start();
    let (a, b, c) = (
        Device::ready(&server),
        Device::ready(&server),
        Device::ready(&server),
    );
    a.write("report.txt", b"a1");
    a.write("notes/x.txt", b"x");
    a.sync();
    b.sync();
    b.write("report.txt", b"b2 longer");
    b.sync();
    c.sync();
    c.write("report.txt", b"c3");
    c.write("new.txt", b"made by c later");
    c.sync();
    a.sync();

    let h = json(&a, &["history", &path_of(&a, "report.txt")]);
    let versions = h["versions"].as_array().expect("versions");
    let rows: Vec<(i64, &str)> = versions
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().expect("a file's version"),
                v["action"].as_str().expect("action"),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![(1, "created"), (2, "modified"), (3, "modified")],
        "{h}"
    );
    let sizes: Vec<u64> = versions
        .iter()
        .map(|v| v["size"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, vec![2, 9, 2]);
    let devices: Vec<&str> = versions
        .iter()
        .map(|v| v["device"].as_str().unwrap())
        .collect();
    assert!(
        devices[0] != devices[1] && devices[1] != devices[2] && devices[0] != devices[2],
        "three devices: {devices:?}"
    );
    let text = a.ok(&["history", &path_of(&a, "report.txt")]);
    assert!(
        text.contains("modified") && text.contains(devices[1]),
        "{text}"
    );

    let (t2, t3) = (
        versions[1]["time_ms"].as_i64().unwrap(),
        versions[2]["time_ms"].as_i64().unwrap(),
    );
    assert!(
        t2 < t3,
        "separate processes commit at separate milliseconds"
    );
    let between = rfc3339(t2 + (t3 - t2) / 2);
    let folder = a.folder.to_str().expect("utf-8").to_string();

    // A dry run lists what would change and changes nothing.
    let dry = json(
        &a,
        &[
            "restore",
            "--folder",
            &folder,
            "--at",
            &between,
            "--dry-run",
        ],
    );
    let changes: Vec<(&str, &str)> = dry["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| (c["path"].as_str().unwrap(), c["change"].as_str().unwrap()))
        .filter(|(_, c)| *c != "skip")
        .collect();
    assert_eq!(
        changes,
        vec![("new.txt", "remove"), ("report.txt", "write")]
    );
    assert_eq!(a.read("report.txt"), b"c3", "the dry run wrote nothing");
    assert!(a.exists("new.txt"));

    let out = a.ok(&["restore", "--folder", &folder, "--at", &between]);
    assert!(out.contains("report.txt"), "{out}");
    assert_eq!(a.read("report.txt"), b"b2 longer");
    assert!(
        !a.exists("new.txt"),
        "made after that time: moved to the local trash"
    );
    a.sync();
    for d in [&b, &c] {
        d.sync();
        assert_eq!(d.read("report.txt"), b"b2 longer");
        assert!(!d.exists("new.txt"));
        assert_eq!(d.read("notes/x.txt"), b"x");
    }

    // The restore is itself a version: undo it with c's version.
    let h = json(&c, &["history", &path_of(&c, "report.txt")]);
    assert_eq!(h["versions"].as_array().unwrap().len(), 4, "{h}");
    c.ok(&["restore", &path_of(&c, "report.txt"), "--version", "3"]);
    assert_eq!(c.read("report.txt"), b"c3");
    c.sync();
    a.sync();
    assert_eq!(a.read("report.txt"), b"c3");

    // Nothing that old is kept: refused input.
    let r = a.run(&[
        "restore",
        &path_of(&a, "report.txt"),
        "--at",
        "2001-01-01 10:00",
    ]);
    assert_eq!(r.status.code(), Some(2), "{r:?}");
    let r = a.run(&["restore", &path_of(&a, "report.txt"), "--at", "not a time"]);
    assert_eq!(r.status.code(), Some(2), "{r:?}");
}

#[test]
fn a_deleted_folder_comes_back_and_status_says_what_history_costs() {
    let server = Server::start();
    let (a, b) = (Device::ready(&server), Device::ready(&server));
    a.write("docs/a.txt", b"alpha");
    a.write("docs/sub/b.txt", b"beta");
    a.sync();
    b.sync();
    std::fs::remove_dir_all(a.folder.join("docs")).expect("rm -r");
    a.sync();
    b.sync();
    assert!(!b.exists("docs"));

    let h = json(&b, &["history", &path_of(&b, "docs")]);
    let versions = h["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 2, "{h}");
    assert_eq!(versions[1]["files"], 0, "the deletion");
    let before = versions[0]["seq"].as_u64().expect("seq").to_string();

    let elsewhere = tempfile::tempdir().expect("temp");
    let to = elsewhere.path().to_str().expect("utf-8");
    b.ok(&[
        "restore",
        &path_of(&b, "docs"),
        "--version",
        &before,
        "--to",
        to,
    ]);
    assert_eq!(
        std::fs::read(elsewhere.path().join("docs/sub/b.txt")).expect("restored elsewhere"),
        b"beta"
    );
    assert!(!b.exists("docs"), "into another folder only");

    b.ok(&["restore", &path_of(&b, "docs"), "--version", &before]);
    assert_eq!(b.read("docs/a.txt"), b"alpha");
    b.sync();
    a.sync();
    assert_eq!(a.read("docs/sub/b.txt"), b"beta");

    // `usage` measures what only the history keeps; `status --json` shows it.
    let u = json(&a, &["usage"]);
    let history_bytes = u["folders"][0]["usage"]["history_bytes"]
        .as_u64()
        .expect("history bytes");
    let s = json(&a, &["status"]);
    assert_eq!(s["folders"][0]["history_bytes"], history_bytes, "{s}");
    assert_eq!(s["folders"][0]["history_keep_days"], 30);
}
