//! The binary refuses to sync a folder that is not the one it synced (another synced folder
//! moved onto its path), and a proxy's 404 is not taken for a wiped page.

use confluence_emulator::{FaultKind, ForeignBody, ScriptedFault};

use test_support::cli::{Device, Server};
use test_support::tree::tree_with_dirs;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_synced_folder_moved_onto_another_is_not_synced_as_it() {
    let server = Server::start();
    let a = Device::ready(&server);
    let second = a.folder.with_file_name("Second");
    a.ok(&[
        "add",
        second.to_str().expect("utf-8 path"),
        "--page-id",
        "777",
    ]);
    a.write("report.txt", b"first folder's report");
    a.write("notes/plan.txt", b"first folder's plan");
    std::fs::write(second.join("other.txt"), b"second folder's file").expect("write");
    a.sync();
    let b = Device::ready(&server);
    b.sync();
    let before = b.tree();
    assert!(before.contains_key("report.txt"), "{before:?}");

    // The second folder is moved onto the first one's path.
    std::fs::remove_dir_all(&a.folder).expect("rm first");
    std::fs::rename(&second, &a.folder).expect("mv second first");
    let moved = tree_with_dirs(&a.folder);

    let out = a.run(&["sync"]);
    b.sync();
    assert_eq!(b.tree(), before, "the other device keeps its files");
    assert!(!b.exists("other.txt"), "the moved folder was not published");
    assert_eq!(
        tree_with_dirs(&a.folder),
        moved,
        "the moved folder is untouched"
    );
    assert_eq!(
        out.status.code(),
        Some(6),
        "a replaced folder stops like a missing one: {}",
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("is not the folder synced there") && err.contains("Second"),
        "the message says what was found: {err}"
    );
    assert!(err.contains("add it again"), "and what to do: {err}");
}

#[test]
fn a_proxy_404_on_the_head_is_not_a_wiped_page() {
    let server = Server::start();
    let a = Device::ready(&server);
    let b = Device::ready(&server);
    for name in ["a.txt", "b.txt", "c.txt"] {
        a.write(name, format!("<v0> {name}").as_bytes());
    }
    a.sync();
    b.sync();
    std::fs::remove_file(b.folder.join("c.txt")).expect("rm c");
    b.write("b.txt", b"<v1> edited on b");
    b.sync();
    std::fs::remove_file(a.folder.join("a.txt")).expect("rm a");

    // The head read of A's next sync meets a proxy's HTML 404.
    server.emu().fail_next(ScriptedFault::new(
        Some("GET"),
        "/property/",
        FaultKind::ForeignNotFound(ForeignBody::Html),
        1,
    ));
    let out = a.run(&["sync"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "an error to retry later: {}",
        stderr(&out)
    );
    a.sync();
    b.sync();
    for d in [&a, &b] {
        let t = d.tree();
        assert!(!t.contains_key("a.txt"), "a.txt came back: {t:?}");
        assert!(!t.contains_key("c.txt"), "c.txt came back: {t:?}");
        assert_eq!(
            t.get("b.txt").map(Vec::as_slice),
            Some(&b"<v1> edited on b"[..])
        );
        assert!(
            !t.keys().any(|k| k.contains("conflict")),
            "conflict copies: {t:?}"
        );
    }
}
