//! `sber-tunnel conflicts` (issue 17 item 3): two devices make a real conflict against the
//! emulator; each lists it with both versions and sees its own version as "mine"; resolving it
//! each way (keep mine, keep theirs, keep both) puts the version not kept in the trash and
//! syncs as an ordinary change, so the other device converges.

use test_support::cli::{Device, Server};

fn listed(d: &Device) -> Vec<serde_json::Value> {
    d.json(&["conflicts"])["conflicts"]
        .as_array()
        .expect("a list")
        .clone()
}

/// Both devices edit `name` at once; `a` syncs first, so `b`'s later edit wins and `a`'s
/// version is kept as a conflict copy on both. Returns the copy's path in the folder.
fn make_conflict(a: &Device, b: &Device, name: &str, a_text: &[u8], b_text: &[u8]) -> String {
    a.write(name, b"base");
    a.sync();
    b.sync();
    a.write(name, a_text);
    std::thread::sleep(std::time::Duration::from_millis(30));
    b.write(name, b_text);
    a.sync();
    b.sync();
    a.sync();
    assert_eq!(a.tree(), b.tree(), "both hold the pair");
    let stem = name.trim_end_matches(".txt");
    let copies: Vec<String> = a
        .tree()
        .keys()
        .filter(|k| k.starts_with(&format!("{stem} (conflict from ")))
        .cloned()
        .collect();
    assert_eq!(copies.len(), 1, "one copy of {name}: {copies:?}");
    assert_eq!(
        a.read(&copies[0]),
        a_text,
        "a's version lost and is the copy"
    );
    assert_eq!(a.read(name), b_text, "b's later edit won the name");
    copies[0].clone()
}

#[test]
fn conflicts_list_both_versions_and_resolve_each_way_on_every_device() {
    let server = Server::start();
    let a = Device::ready(&server);
    let b = Device::ready(&server);
    let (a_id, b_id) = (a.id(), b.id());
    assert!(a.ok(&["conflicts"]).contains("No unresolved conflicts."));

    // --- keep mine, on the device whose version lost (a): a's edit takes the name back.
    let copy = make_conflict(&a, &b, "plan.txt", b"A's edit", b"B's later edit!");
    let on_a = listed(&a);
    assert_eq!(on_a.len(), 1, "{on_a:?}");
    let c = &on_a[0];
    assert_eq!(c["kind"], "copy");
    assert_eq!(c["original"]["path"], "plan.txt");
    assert_eq!(c["copy"]["path"], copy.as_str());
    assert_eq!(c["mine"], "copy", "a's version lost: on a the copy is mine");
    assert_eq!(c["theirs"], "original");
    assert_eq!(
        c["copy"]["device"],
        a_id.as_str(),
        "the copy is a's version"
    );
    assert_eq!(c["original"]["device"], b_id.as_str(), "the name holds b's");
    assert_eq!(c["copy"]["size"], 8);
    assert_eq!(c["original"]["size"], 15);
    assert!(
        c["made_at"].as_i64().is_some(),
        "the copy's name carries when"
    );
    let on_b = listed(&b);
    assert_eq!(on_b.len(), 1, "the other device lists it too: {on_b:?}");
    assert_eq!(on_b[0]["mine"], "original", "on b, b's version is mine");
    let text = a.ok(&["conflicts"]);
    assert!(
        text.contains("mine") && text.contains(&a_id) && text.contains(&b_id),
        "{text}"
    );

    let copy_abs = a.folder.join(&copy);
    let out = a.ok(&[
        "conflicts",
        "resolve",
        copy_abs.to_str().expect("utf-8"),
        "--keep",
        "mine",
    ]);
    assert!(out.contains("Kept mine"), "{out}");
    assert_eq!(a.read("plan.txt"), b"A's edit", "mine took the name");
    assert!(!a.exists(&copy), "the copy's name is gone");
    assert!(listed(&a).is_empty(), "resolved here");
    let trash = a.ok(&["--json", "trash"]);
    assert!(
        trash.contains("\"reason\":\"resolved\"") && trash.contains("\"path\":\"plan.txt\""),
        "b's version of plan.txt is in a's trash, as resolved: {trash}"
    );
    a.sync();
    b.sync();
    assert_eq!(
        b.read("plan.txt"),
        b"A's edit",
        "b converges on the kept version"
    );
    assert!(!b.exists(&copy), "and the copy is gone there too");
    assert!(listed(&b).is_empty(), "b has no conflict left");
    assert_eq!(a.tree(), b.tree());

    // --- keep theirs, on the device whose version won (b): theirs is a's losing copy.
    let copy = make_conflict(&a, &b, "notes.txt", b"A notes", b"B notes won");
    let on_b = listed(&b);
    assert_eq!(on_b.len(), 1, "{on_b:?}");
    assert_eq!(on_b[0]["theirs"], "copy");
    let out = b.ok(&["conflicts", "resolve", &copy, "--keep", "theirs"]);
    assert!(
        out.contains("Kept theirs"),
        "a path relative to the folder works: {out}"
    );
    assert_eq!(
        b.read("notes.txt"),
        b"A notes",
        "theirs (a's copy) took the name"
    );
    b.sync();
    a.sync();
    assert_eq!(a.read("notes.txt"), b"A notes");
    assert!(!a.exists(&copy) && !b.exists(&copy));
    assert!(listed(&a).is_empty() && listed(&b).is_empty());
    assert_eq!(a.tree(), b.tree());

    // --- keep theirs on the losing device (a): the winner stays, a's copy goes to the trash.
    let copy = make_conflict(&a, &b, "todo.txt", b"A todo", b"B todo won");
    a.ok(&["conflicts", "resolve", "todo.txt", "--keep", "theirs"]);
    assert_eq!(a.read("todo.txt"), b"B todo won");
    assert!(!a.exists(&copy));
    a.sync();
    b.sync();
    assert!(!b.exists(&copy), "the copy's deletion reached b");
    assert_eq!(a.tree(), b.tree());

    // --- keep both: both names stay, no longer a conflict here; nothing changes elsewhere.
    let copy = make_conflict(&a, &b, "both.txt", b"A both", b"B both won");
    let before = a.tree();
    let out = a.ok(&["--json", "conflicts", "resolve", &copy, "--keep", "both"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["resolved"]["keep"], "both");
    assert_eq!(
        v["resolved"]["in_trash"],
        serde_json::Value::Null,
        "nothing trashed"
    );
    assert_eq!(a.tree(), before, "no file changed");
    assert!(listed(&a).is_empty(), "no longer a conflict here");
    a.sync();
    b.sync();
    assert_eq!(a.tree(), b.tree(), "both files on both devices");

    // A path that is no conflict is refused with the invalid-input exit code.
    let bad = a.run(&["conflicts", "resolve", "plan.txt", "--keep", "mine"]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("not an unresolved conflict"), "{err}");
}
