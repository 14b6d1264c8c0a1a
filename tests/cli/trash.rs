//! `sber-tunnel trash` (issue 16 item 4): what another device's edit replaced or its deletion
//! removed is listed with whose change it was, restored without overwriting anything (the
//! restore then syncs), and emptied.

use test_support::cli::{Device, Server};

fn listed(d: &Device) -> Vec<serde_json::Value> {
    d.json(&["trash"])["trash"]
        .as_array()
        .expect("a list")
        .clone()
}

#[test]
fn trash_lists_restores_and_empties_what_other_devices_changed() {
    let server = Server::start();
    let a = Device::ready(&server);
    let b = Device::ready(&server);
    let a_id = a.id();
    a.write("notes/plan.txt", b"version 1");
    a.write("gone.txt", b"deleted on a");
    a.sync();
    b.sync();
    assert_eq!(b.ok(&["trash"]).trim(), "The trash is empty.");

    a.write("notes/plan.txt", b"version 2 from a");
    std::fs::remove_file(a.folder.join("gone.txt")).expect("rm");
    a.sync();
    b.sync();
    assert_eq!(b.read("notes/plan.txt"), b"version 2 from a");
    assert!(!b.exists("gone.txt"));

    let rows = listed(&b);
    assert_eq!(rows.len(), 2, "{rows:?}");
    let row = |p: &str| rows.iter().find(|r| r["path"] == p).expect(p).clone();
    let replaced = row("notes/plan.txt");
    assert_eq!(replaced["reason"], "replaced");
    assert_eq!(replaced["device"], a_id.as_str(), "whose edit");
    assert_eq!(replaced["size"], 9);
    let deleted = row("gone.txt");
    assert_eq!(deleted["reason"], "deleted");
    assert_eq!(deleted["device"], a_id.as_str(), "whose deletion");
    let text = b.ok(&["trash"]);
    assert!(
        text.contains(&format!("replaced by {a_id}")) && text.contains("plan.txt"),
        "{text}"
    );
    assert!(
        a.ok(&["trash"]).contains("empty"),
        "the changing device trashed nothing"
    );

    // The previous version comes back beside the current one (never over it), the deleted
    // file at its place; both then sync to A as ordinary local changes.
    let out = b.ok(&["trash", "restore", "notes/plan.txt"]);
    assert!(out.contains("plan (restored).txt"), "{out}");
    assert_eq!(
        b.read("notes/plan.txt"),
        b"version 2 from a",
        "not overwritten"
    );
    assert_eq!(b.read("notes/plan (restored).txt"), b"version 1");
    let abs = b.folder.join("gone.txt");
    b.ok(&["trash", "restore", abs.to_str().expect("utf-8")]);
    assert_eq!(b.read("gone.txt"), b"deleted on a");
    assert!(listed(&b).is_empty(), "restored items leave the trash");
    let err = b.run(&["trash", "restore", "gone.txt"]);
    assert!(!err.status.success(), "nothing left to restore");
    assert!(
        String::from_utf8_lossy(&err.stderr).contains("is not in the trash"),
        "{}",
        String::from_utf8_lossy(&err.stderr)
    );
    b.sync();
    a.sync();
    assert_eq!(a.read("notes/plan (restored).txt"), b"version 1");
    assert_eq!(a.read("gone.txt"), b"deleted on a");
    assert_eq!(a.tree(), b.tree());

    // Emptying: `--older-than` keeps what is recent, a plain `empty` removes everything.
    a.write("notes/plan.txt", b"version 3 from a");
    a.sync();
    b.sync();
    assert_eq!(listed(&b).len(), 1);
    let out = b.ok(&["trash", "empty", "--older-than", "1"]);
    assert!(out.contains("Removed 0"), "{out}");
    assert_eq!(listed(&b).len(), 1);
    let out = b.ok(&["trash", "empty"]);
    assert!(out.contains("Removed 1"), "{out}");
    assert!(listed(&b).is_empty());
}

#[test]
fn files_trashed_without_a_record_are_listed_from_their_path_and_old_ones_pruned() {
    let server = Server::start();
    let b = Device::ready_with(&server, "trash-keep-days = 7");
    // What an older version left: no journal record.
    let old_day = b.folder.join(".sber-tunnel-trash/2020-01-01/old");
    std::fs::create_dir_all(&old_day).expect("mkdir");
    std::fs::write(old_day.join("a.txt"), b"old").expect("write");
    let rows = listed(&b);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["path"], "old/a.txt");
    assert!(rows[0]["reason"].is_null() && rows[0]["device"].is_null());
    assert_eq!(rows[0]["at"], 1_577_836_800);
    // The sync prunes by the configured retention.
    b.sync();
    assert!(listed(&b).is_empty(), "older than 7 days: pruned");
}
