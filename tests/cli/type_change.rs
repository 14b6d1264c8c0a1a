//! A folder replaced by a file on one device while another adds a file inside it: both
//! `sber-tunnel --cli` devices keep syncing (no commit refused for ever), converge, and lose
//! nothing — the folder keeps the path, the file is kept beside it as a conflict copy.

use test_support::cli::{Device, Server};

fn folder_replaced_by_a_file_while_a_file_is_added_inside(replacer_syncs_first: bool) {
    let server = Server::start();
    let a = Device::ready(&server);
    let b = Device::ready(&server);
    a.write("x/a.txt", b"old a");
    a.sync();
    b.sync();
    assert_eq!(a.tree(), b.tree(), "set up");

    std::fs::remove_dir_all(a.folder.join("x")).unwrap();
    a.write("x", b"A's file x");
    b.write("x/new.txt", b"B's new file");
    let (first, second) = if replacer_syncs_first {
        (&a, &b)
    } else {
        (&b, &a)
    };
    // Every sync succeeds (`sync` requires exit code 0).
    first.sync();
    second.sync();
    first.sync();
    second.sync();

    let tree = a.tree();
    assert_eq!(tree, b.tree(), "both devices converge");
    assert_eq!(
        tree.get("x/new.txt").map(Vec::as_slice),
        Some(&b"B's new file"[..]),
        "the file added inside survives in the folder: {:?}",
        tree.keys()
    );
    let copies: Vec<&String> = tree
        .keys()
        .filter(|k| k.starts_with("x (conflict from "))
        .collect();
    assert_eq!(copies.len(), 1, "one copy of the file: {:?}", tree.keys());
    assert_eq!(
        tree[copies[0]], b"A's file x",
        "the file is kept beside the folder"
    );
    assert!(!tree.contains_key("x/a.txt"), "the replaced content goes");
    let out = a.sync();
    assert!(out.contains("up to date"), "nothing left to do: {out}");
}

#[test]
fn a_folder_replaced_by_a_file_while_another_device_adds_inside_converges() {
    folder_replaced_by_a_file_while_a_file_is_added_inside(true);
}

#[test]
fn a_file_added_inside_a_folder_another_device_replaced_by_a_file_converges() {
    folder_replaced_by_a_file_while_a_file_is_added_inside(false);
}
