//! Two and three devices converge: create, modify, delete, rename, conflicts, folders.

use test_support::cli::{Device, Server};
use test_support::seed::bytes;

#[test]
fn two_devices_exchange_creates_edits_deletes_and_renames() {
    let server = Server::start();
    let a = Device::ready(&server);
    let b = Device::ready(&server);

    a.write("hello.txt", b"hello");
    a.write("docs/report.md", b"# report\n");
    a.write("docs/deep/nested/file.bin", &bytes(1, 50_000));
    std::fs::create_dir_all(a.folder.join("empty-folder")).unwrap();
    a.sync();
    b.sync();
    assert_eq!(
        a.tree(),
        b.tree(),
        "B receives every file and folder A created"
    );

    // B edits, deletes and renames; A receives all three.
    b.write("hello.txt", b"hello, edited on B");
    std::fs::remove_file(b.folder.join("docs/report.md")).unwrap();
    std::fs::rename(
        b.folder.join("docs/deep/nested/file.bin"),
        b.folder.join("moved.bin"),
    )
    .unwrap();
    b.sync();
    a.sync();
    assert_eq!(
        a.read("hello.txt"),
        b"hello, edited on B",
        "the edit arrives"
    );
    assert!(!a.exists("docs/report.md"), "the deletion arrives");
    let trashed = test_support::tree::tree_with_dirs(&a.folder.join(".sber-tunnel-trash"));
    assert!(
        trashed
            .iter()
            .any(|(k, v)| k.ends_with("docs/report.md") && v == b"# report\n"),
        "a file deleted by another device is kept in the hidden trash: {:?}",
        trashed.keys()
    );
    assert!(
        !a.exists("docs/deep/nested/file.bin"),
        "the rename removes the old name"
    );
    assert_eq!(
        a.read("moved.bin"),
        bytes(1, 50_000),
        "the rename keeps the content"
    );
    assert_eq!(a.tree(), b.tree(), "both devices hold the same tree");

    // A rename re-uses the uploaded chunks: no new chunk or pack was sent for it.
    let uploads_for_rename = server
        .emu()
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/child/attachment"))
        .flat_map(|r| r.file_names.clone())
        .filter(|n| n.starts_with("c-") || n.starts_with("m-"))
        .count();
    // hello (A), report, file.bin, then hello edited (B) — at most one pack per sync that had new content.
    assert!(
        uploads_for_rename <= 3,
        "renames send no content again (saw {uploads_for_rename} content uploads)"
    );

    // A second sync with nothing changed does nothing.
    let out = a.sync();
    assert!(out.contains("up to date"), "nothing to do: {out}");
}

#[test]
fn three_devices_converge() {
    let server = Server::start();
    let devices: Vec<Device> = (0..3).map(|_| Device::ready(&server)).collect();
    for (i, d) in devices.iter().enumerate() {
        d.write(&format!("from-{i}.txt"), format!("device {i}").as_bytes());
        d.write("shared/common.txt", b"same content everywhere");
    }
    for _round in 0..2 {
        for d in &devices {
            d.sync();
        }
    }
    let t0 = devices[0].tree();
    assert_eq!(
        t0.len(),
        5,
        "three own files, the shared folder and its file: {:?}",
        t0.keys()
    );
    for d in &devices[1..] {
        assert_eq!(d.tree(), t0, "every device ends with the same tree");
    }
}

#[test]
fn concurrent_edits_keep_the_loser_as_a_conflict_copy() {
    let server = Server::start();
    let a = Device::ready(&server);
    let b = Device::ready(&server);
    a.write("plan.txt", b"v1");
    a.sync();
    b.sync();

    a.write("plan.txt", b"A's edit");
    std::thread::sleep(std::time::Duration::from_millis(30));
    b.write("plan.txt", b"B's later edit");
    a.sync();
    b.sync();
    a.sync();

    assert_eq!(
        a.read("plan.txt"),
        b"B's later edit",
        "the later write wins"
    );
    assert_eq!(a.tree(), b.tree(), "both devices converge");
    let copies: Vec<String> = a
        .tree()
        .keys()
        .filter(|k| k.contains("(conflict from "))
        .cloned()
        .collect();
    assert_eq!(copies.len(), 1, "exactly one conflict copy: {copies:?}");
    assert!(
        copies[0].starts_with("plan (conflict from ") && copies[0].ends_with(".txt"),
        "named after the file: {}",
        copies[0]
    );
    assert_eq!(
        a.tree()[&copies[0]],
        b"A's edit",
        "the losing edit is kept, not lost"
    );

    let listed = a.ok(&["conflicts"]);
    assert!(
        listed.contains("conflict from"),
        "`conflicts` lists it: {listed}"
    );
}

#[test]
fn an_edit_beats_a_concurrent_delete() {
    let server = Server::start();
    let a = Device::ready(&server);
    let b = Device::ready(&server);
    a.write("keep.txt", b"original");
    a.sync();
    b.sync();
    std::fs::remove_file(a.folder.join("keep.txt")).unwrap();
    b.write("keep.txt", b"edited on B");
    b.sync();
    a.sync();
    assert_eq!(
        a.read("keep.txt"),
        b"edited on B",
        "the edit survives the delete"
    );
    b.sync();
    assert_eq!(a.tree(), b.tree());
}

#[test]
fn folders_can_use_their_own_pages_and_status_reports_them() {
    let server = Server::start();
    let a = Device::ready(&server);
    let other = a.folder.parent().unwrap().join("Other");
    a.ok(&["add", other.to_str().unwrap(), "--page-id", "777"]);
    std::fs::write(other.join("x.txt"), b"on page 777").unwrap();
    a.sync();
    assert!(
        server
            .emu()
            .attachments("777")
            .iter()
            .any(|att| att.title.starts_with("s-")),
        "the second folder's files live on its own page"
    );
    let status = a.ok(&["--json", "status"]);
    let v: serde_json::Value = serde_json::from_str(&status).expect("status --json is JSON");
    assert_eq!(
        v["folders"].as_array().map(|f| f.len()),
        Some(2),
        "both folders listed: {status}"
    );
    // The history of what was sent, kept across runs.
    let recent = v["recent"].as_array().expect("recent activity");
    assert!(
        recent
            .iter()
            .any(|e| e["event"]["type"] == "uploaded" && e["event"]["path"] == "x.txt"),
        "{status}"
    );
    let human = a.ok(&["status"]);
    assert!(
        human.contains("Recent:") && human.contains("sent Other/x.txt"),
        "{human}"
    );
}

#[test]
fn uploads_are_minor_edits_and_notify_nobody() {
    let server = Server::start();
    let a = Device::ready(&server);
    a.write("a.txt", b"a");
    a.write("big.bin", &bytes(7, 5_000_000));
    a.sync();
    let reqs = server.emu().requests();
    let uploads: Vec<_> = reqs
        .iter()
        .filter(|r| r.method == "POST" && !r.file_names.is_empty())
        .collect();
    assert!(!uploads.is_empty(), "something was uploaded");
    for r in &uploads {
        assert!(
            r.multipart_fields
                .iter()
                .any(|(k, v)| k == "minorEdit" && v == "true"),
            "every upload is a minor edit: {} {}",
            r.method,
            r.path
        );
    }
    assert!(
        server.emu().notifications().is_empty(),
        "no watcher is notified: {:?}",
        server.emu().notifications()
    );
}
