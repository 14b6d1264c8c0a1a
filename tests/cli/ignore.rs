//! `sber-tunnel ignore` (issue 17 item 2): show the rules, add and remove patterns and presets
//! in a folder's `.sbtignore` or the global patterns, each with a preview of the existing
//! files it newly excludes or includes; `--dry-run` saves nothing; a newly ignored file that
//! is already synced stays on the page and the other device.

use test_support::cli::{Device, Server};

#[test]
fn ignore_previews_saves_and_never_deletes_elsewhere() {
    let server = Server::start();
    let a = Device::ready(&server);
    let b = Device::ready(&server);
    a.write("notes.txt", b"notes");
    a.write("target/debug/app", b"binary");
    a.write("node_modules/x/index.js", b"js");
    a.sync();
    b.sync();
    assert!(b.exists("target/debug/app"));

    let shown = a.ok(&["ignore"]);
    assert!(shown.contains("(none)"), "{shown}");

    // A dry run previews and saves nothing.
    let out = a.json(&["ignore", "preset", "build", "--dry-run"]);
    assert_eq!(out["changed"], true, "{out}");
    assert_eq!(out["saved"], false);
    let preview = &out["preview"][0];
    assert_eq!(preview["excluded"], serde_json::json!(["target/"]), "{out}");
    assert_eq!(preview["excluded_files"], 1);
    assert!(!a.exists(".sbtignore"), "a dry run writes nothing");

    // Saved for real: the folder's .sbtignore holds the preset.
    let text = a.ok(&["ignore", "preset", "build"]);
    assert!(text.contains("newly excluded 1 file(s)"), "{text}");
    assert!(text.contains("target/"), "{text}");
    let saved = String::from_utf8(a.read(".sbtignore")).expect("utf-8");
    assert!(saved.lines().any(|l| l == "target/"), "{saved}");
    let shown = a.json(&["ignore"]);
    assert_eq!(
        shown["folders"][0]["presets"],
        serde_json::json!(["build"]),
        "{shown}"
    );

    // A global pattern, previewed over every folder, saved in the configuration.
    let out = a.json(&["ignore", "add", "node_modules/", "--global"]);
    assert_eq!(out["saved"], true, "{out}");
    assert_eq!(
        out["preview"][0]["excluded"],
        serde_json::json!(["node_modules/"]),
        "{out}"
    );
    let config = std::fs::read_to_string(a.config.join("config.toml")).expect("config");
    assert!(config.contains("node_modules/"), "{config}");
    assert_eq!(a.json(&["ignore"])["global"]["text"], "node_modules/\n");

    // Syncing with the new rules deletes nothing on the page or the other device.
    a.write("target/debug/app", b"rebuilt here, not sent");
    a.sync();
    b.sync();
    assert_eq!(b.read("target/debug/app"), b"binary");
    assert!(b.exists("node_modules/x/index.js"));
    assert!(
        !b.exists(".sbtignore"),
        "the rules file stays on its device"
    );

    // Removing a pattern previews what comes back; a bad pattern is refused (exit 2).
    let out = a.json(&["ignore", "remove", "target/", "--dry-run"]);
    assert_eq!(
        out["preview"][0]["included"],
        serde_json::json!(["target/"]),
        "{out}"
    );
    let bad = a.run(&["ignore", "add", "{unclosed"]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    let unknown = a.run(&["ignore", "preset", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("build"),
        "{unknown:?}"
    );
    let same = a.ok(&["ignore", "preset", "build"]);
    assert!(same.contains("No change"), "{same}");
}
