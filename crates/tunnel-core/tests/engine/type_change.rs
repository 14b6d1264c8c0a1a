//! Type changes racing edits, on real devices: a folder replaced by a file (or a file by a
//! folder) on one device while the other adds, edits or deletes something at or inside the
//! same path, at depth too, in both sync orders. Both devices must converge, every sync must
//! succeed (no commit refused by manifest validation), and every content a user did not
//! overwrite or delete must survive; where a folder and a file meet, the folder keeps the path
//! and the file lives on as `x (conflict from DEVICE …)`.

use std::collections::BTreeSet;

use tunnel_core::remote::memory::MemoryStore;

use crate::util::{runtime, stray_hidden, Device};

/// Replace whatever is at `rel` by a file holding `bytes`.
fn replace_by_file(d: &Device, rel: &str, bytes: &[u8]) {
    let p = d.path(rel);
    if p.is_dir() {
        std::fs::remove_dir_all(&p).expect("remove folder");
    } else {
        std::fs::remove_file(&p).expect("remove file");
    }
    d.write(rel, bytes);
}

/// Replace the file at `rel` by a folder holding `inside` (relative to it).
fn replace_by_folder(d: &Device, rel: &str, inside: &[(&str, &[u8])]) {
    std::fs::remove_file(d.path(rel)).expect("remove file");
    std::fs::create_dir_all(d.path(rel)).expect("mkdir");
    for (name, bytes) in inside {
        d.write(&format!("{rel}/{name}"), bytes);
    }
}

fn remove(d: &Device, rel: &str) {
    let p = d.path(rel);
    if p.is_dir() {
        std::fs::remove_dir_all(&p).expect("remove folder");
    } else {
        std::fs::remove_file(&p).expect("remove file");
    }
}

type Op = fn(&Device);

struct Scenario {
    name: &'static str,
    /// Files both devices hold before the race.
    before: &'static [(&'static str, &'static [u8])],
    on_a: Op,
    on_b: Op,
    /// Contents that must still be somewhere in the end.
    survive: &'static [&'static [u8]],
    /// A path that must be a folder in the end (the folder wins), if any.
    folder: Option<&'static str>,
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "folder replaced by a file on A, a file added inside on B",
            before: &[("x/a.txt", b"<0>a")],
            on_a: |d| replace_by_file(d, "x", b"<A>file x"),
            on_b: |d| d.write("x/new.txt", b"<B>new"),
            survive: &[b"<A>file x", b"<B>new"],
            folder: Some("x"),
        },
        Scenario {
            name: "folder replaced by a file on A, a file inside edited on B",
            before: &[("x/a.txt", b"<0>a")],
            on_a: |d| replace_by_file(d, "x", b"<A>file x"),
            on_b: |d| d.write("x/a.txt", b"<B>edited a"),
            survive: &[b"<A>file x", b"<B>edited a"],
            folder: Some("x"),
        },
        Scenario {
            name: "folder replaced by a file on A, a nested file added on B",
            before: &[("x/a.txt", b"<0>a"), ("x/deep/b.txt", b"<0>b")],
            on_a: |d| replace_by_file(d, "x", b"<A>file x"),
            on_b: |d| d.write("x/deep/c.txt", b"<B>c"),
            survive: &[b"<A>file x", b"<B>c"],
            folder: Some("x"),
        },
        Scenario {
            name: "a folder deep inside replaced by a file on A, a file in it edited on B",
            before: &[("x/y/z.txt", b"<0>z"), ("x/keep.txt", b"<0>keep")],
            on_a: |d| replace_by_file(d, "x/y", b"<A>file y"),
            on_b: |d| d.write("x/y/z.txt", b"<B>edited z"),
            survive: &[b"<A>file y", b"<B>edited z", b"<0>keep"],
            folder: Some("x/y"),
        },
        Scenario {
            name: "file replaced by a folder on A, the file edited on B",
            before: &[("x", b"<0>x")],
            on_a: |d| replace_by_folder(d, "x", &[("in.txt", b"<A>in"), ("sub/s.txt", b"<A>s")]),
            on_b: |d| d.write("x", b"<B>edited x"),
            survive: &[b"<A>in", b"<A>s", b"<B>edited x"],
            folder: Some("x"),
        },
        Scenario {
            name: "folder replaced by a file on A, the folder deleted on B",
            before: &[("x/a.txt", b"<0>a")],
            on_a: |d| replace_by_file(d, "x", b"<A>file x"),
            on_b: |d| remove(d, "x"),
            survive: &[b"<A>file x"],
            folder: None,
        },
        Scenario {
            name: "folder replaced by a file on both, differently",
            before: &[("x/a.txt", b"<0>a")],
            on_a: |d| replace_by_file(d, "x", b"<A>file x"),
            on_b: |d| replace_by_file(d, "x", b"<B>file x"),
            survive: &[b"<A>file x", b"<B>file x"],
            folder: None,
        },
        Scenario {
            name: "file replaced by a folder on A, the file deleted on B",
            before: &[("x", b"<0>x")],
            on_a: |d| replace_by_folder(d, "x", &[("in.txt", b"<A>in")]),
            on_b: |d| remove(d, "x"),
            survive: &[b"<A>in"],
            folder: Some("x"),
        },
        Scenario {
            name: "file replaced by a folder on A, by a folder with other files on B",
            before: &[("x", b"<0>x")],
            on_a: |d| replace_by_folder(d, "x", &[("a.txt", b"<A>a")]),
            on_b: |d| replace_by_folder(d, "x", &[("deep/b.txt", b"<B>b")]),
            survive: &[b"<A>a", b"<B>b"],
            folder: Some("x"),
        },
    ]
}

async fn run(s: &Scenario, a_first: bool) {
    let label = format!(
        "{} ({} syncs first)",
        s.name,
        if a_first { "A" } else { "B" }
    );
    let store = MemoryStore::new();
    let a = Device::new("dev-a");
    let b = Device::new("dev-b");
    for (rel, bytes) in s.before {
        a.write(rel, bytes);
    }
    a.sync(&store).await.expect("first sync of A");
    b.sync(&store).await.expect("first sync of B");
    assert_eq!(a.tree(), b.tree(), "{label}: set up");
    (s.on_a)(&a);
    (s.on_b)(&b);
    let (first, second) = if a_first { (&a, &b) } else { (&b, &a) };
    for d in [first, second, first, second] {
        let summary = d
            .sync(&store)
            .await
            .unwrap_or_else(|e| panic!("{label}: sync of {} failed: {e}", d.id));
        // Every action is carried out in a safe order: none fails and waits for a later sync.
        assert_eq!(
            summary.skipped_unreadable, 0,
            "{label}: a sync of {} left work undone: {summary:?}",
            d.id
        );
    }
    let tree = a.tree();
    assert_eq!(tree, b.tree(), "{label}: both devices hold the same tree");
    let present: BTreeSet<&Vec<u8>> = tree.values().collect();
    for want in s.survive {
        assert!(
            present.contains(&want.to_vec()),
            "{label}: {:?} is lost; tree: {:?}",
            String::from_utf8_lossy(want),
            tree.keys().collect::<Vec<_>>()
        );
    }
    if let Some(folder) = s.folder {
        for d in [&a, &b] {
            assert!(
                d.path(folder).is_dir(),
                "{label}: {folder} is a folder on {}",
                d.id
            );
        }
    }
    for d in [&a, &b] {
        assert!(stray_hidden(&d.root).is_empty(), "{label}: leftovers");
        let s = d.sync(&store).await.expect("quiet sync");
        assert_eq!(
            (s.uploaded, s.downloaded, s.deleted_local, s.deleted_remote),
            (0, 0, 0, 0),
            "{label}: {} still changes things: {s:?}",
            d.id
        );
    }
    // A new device gets the same tree.
    let c = Device::new("dev-c");
    c.sync(&store).await.expect("newcomer");
    assert_eq!(c.tree(), tree, "{label}: a new device gets the same tree");
}

#[test]
fn type_changes_racing_edits_converge_and_lose_nothing() {
    let rt = runtime();
    rt.block_on(async {
        for s in scenarios() {
            for a_first in [true, false] {
                run(&s, a_first).await;
            }
        }
    });
}

#[test]
fn the_file_that_gives_way_is_kept_beside_the_folder_under_its_writers_name() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        a.write("x/a.txt", b"<0>a");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        replace_by_file(&a, "x", b"<A>file x");
        b.write("x/new.txt", b"<B>new");
        a.sync(&store).await.expect("a publishes the file");
        b.sync(&store)
            .await
            .expect("b's commit is not refused for ever");
        a.sync(&store).await.expect("a again");
        let tree = b.tree();
        assert_eq!(tree, a.tree());
        let keys: Vec<&str> = tree.keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 2, "{keys:?}");
        assert!(
            keys[0].starts_with("x (conflict from dev-a "),
            "the file is kept beside the folder, named after its writer: {keys:?}"
        );
        assert_eq!(tree[keys[0]], b"<A>file x");
        assert_eq!(keys[1], "x/new.txt", "{keys:?}");
    });
}

#[test]
fn a_folder_holding_only_unsynced_files_is_not_replaced_by_a_remote_file() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        a.write("x/a.txt", b"<0>a");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        // A hidden file is never synced, but it is B's and it lives in x.
        b.write("x/.DS_Store", b"<B>hidden");
        replace_by_file(&a, "x", b"<A>file x");
        a.sync(&store).await.expect("a");
        for d in [&b, &a, &b] {
            let s = d.sync(&store).await.expect("sync");
            assert_eq!(s.skipped_unreadable, 0, "{} is not stuck on x: {s:?}", d.id);
        }
        let tree = a.tree();
        assert_eq!(tree, b.tree(), "both converge");
        assert_eq!(
            std::fs::read(b.path("x/.DS_Store")).expect("the hidden file stays"),
            b"<B>hidden"
        );
        let copies: Vec<&String> = tree
            .keys()
            .filter(|k| k.starts_with("x (conflict from dev-a "))
            .collect();
        assert_eq!(copies.len(), 1, "A's file is kept beside: {tree:?}");
        assert_eq!(tree[copies[0]], b"<A>file x");
        assert!(a.path("x").is_dir() && b.path("x").is_dir());
    });
}
