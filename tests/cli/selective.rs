//! `sber-tunnel exclude / include / excluded` (issue 17 item 1): two devices on the emulator;
//! one keeps a subfolder off its disk, the other keeps working in it, nothing is lost, and
//! including it again brings it back.

use test_support::cli::{Device, Server};

#[test]
fn exclude_keeps_a_subfolder_off_this_computer_and_include_brings_it_back() {
    let server = Server::start();
    let a = Device::ready(&server);
    let b = Device::ready(&server);
    a.write("notes.txt", b"everywhere");
    a.write("Videos/big.mp4", b"a big video");
    a.write("Videos/2024/trip.mp4", b"a trip");
    a.sync();
    b.sync();
    assert!(b.exists("Videos/big.mp4"));
    assert!(b.ok(&["excluded"]).contains("Nothing is excluded"));

    // A path relative to the only synced folder.
    let out = b.ok(&["exclude", "Videos"]);
    assert!(out.contains("Excluded"), "{out}");
    let again = b.ok(&["exclude", "Videos/2024"]);
    assert!(again.contains("already excluded (by Videos)"), "{again}");
    let out = b.sync();
    assert!(
        out.contains("excluded item(s) removed from this computer"),
        "the summary says what left: {out}"
    );
    assert!(
        !b.exists("Videos"),
        "the excluded folder left b: {:?}",
        b.tree()
    );
    assert!(b.exists("notes.txt"));

    let listed = b.json(&["excluded"]);
    let folder = &listed["folders"][0];
    assert_eq!(
        folder["excluded"],
        serde_json::json!(["Videos"]),
        "{listed}"
    );
    let videos = folder["subfolders"]
        .as_array()
        .expect("subfolders")
        .iter()
        .find(|s| s["path"] == "Videos")
        .expect("the page's Videos folder is listed")
        .clone();
    assert_eq!(videos["excluded"], true);
    assert_eq!(videos["files"], 2, "{videos}");
    let text = b.ok(&["excluded"]);
    assert!(
        text.contains("Videos") && text.contains("2 file(s)"),
        "{text}"
    );

    // a keeps Videos and keeps working in it; b's absence deletes nothing.
    a.sync();
    assert_eq!(a.read("Videos/big.mp4"), b"a big video");
    a.write("Videos/new.mp4", b"new on a");
    a.sync();
    b.sync();
    assert!(!b.exists("Videos"), "nothing arrives at b");

    // A file b makes inside its excluded folder reaches the page before it leaves b.
    b.write("Videos/from-b.mp4", b"made on b");
    b.sync();
    b.sync();
    assert!(!b.exists("Videos/from-b.mp4"));
    a.sync();
    assert_eq!(a.read("Videos/from-b.mp4"), b"made on b");

    // Include again (by absolute path): everything comes back.
    let abs = b.folder.join("Videos");
    let out = b.ok(&["include", abs.to_str().expect("utf-8")]);
    assert!(out.contains("Included"), "{out}");
    b.sync();
    assert_eq!(a.tree(), b.tree(), "including again downloads the folder");
    assert_eq!(
        b.json(&["excluded"])["folders"][0]["excluded"],
        serde_json::json!([])
    );
}

#[test]
fn include_inside_an_excluded_folder_brings_back_only_that_part() {
    let server = Server::start();
    let a = Device::ready(&server);
    let b = Device::ready(&server);
    a.write("Projects/alpha/a.txt", b"alpha");
    a.write("Projects/beta/b.txt", b"beta");
    a.write("Projects/readme.txt", b"readme");
    a.sync();
    b.sync();
    b.ok(&["exclude", "Projects"]);
    b.sync();
    assert!(!b.exists("Projects"));
    let out = b.ok(&["--json", "include", "Projects/alpha"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        v["still_excluded"],
        serde_json::json!(["Projects/beta", "Projects/readme.txt"]),
        "{v}"
    );
    b.sync();
    assert_eq!(b.read("Projects/alpha/a.txt"), b"alpha");
    assert!(!b.exists("Projects/beta") && !b.exists("Projects/readme.txt"));
}

#[test]
fn exclude_refuses_a_whole_synced_folder_and_paths_outside_one() {
    let server = Server::start();
    let b = Device::ready(&server);
    let root = b.folder.to_str().expect("utf-8").to_string();
    let out = b.run(&["exclude", &root]);
    assert_eq!(out.status.code(), Some(2), "usage error: {out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sber-tunnel remove"),
        "{out:?}"
    );
    let elsewhere = tempfile::tempdir().expect("tmp");
    let out = b.run(&["exclude", elsewhere.path().to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not inside a synced folder"),
        "{out:?}"
    );
    // A path nothing is at yet is accepted: what arrives there later stays out.
    assert!(b.ok(&["exclude", "later/big"]).contains("Excluded"));
}
