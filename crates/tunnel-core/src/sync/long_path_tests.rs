//! Paths longer than Windows' old 260-character limit (`MAX_PATH`): scanned, uploaded,
//! downloaded, replaced and deleted like any other. On Windows every path the core builds
//! is the synced folder's root joined with a [`RelPath`] (absolute, `\`-separated, no `.` or
//! `..`), and the standard library gives such a path the `\\?\` prefix itself when it is long;
//! the root as `add` stores it is canonical, which is already `\\?\C:\…`. These tests run on
//! every platform, under Wine too (the Windows lane); on Linux they only show that nothing
//! in the core shortens or splits such paths.

use super::test_device::{runtime, Device};
use super::*;
use crate::remote::memory::MemoryStore;

/// A relative path of more than 300 characters, in folders of 40-character names.
fn long_rel() -> String {
    let folders: Vec<String> = (0..8).map(|i| format!("{i}-{}", "f".repeat(38))).collect();
    let rel = format!("{}/{}.txt", folders.join("/"), "n".repeat(40));
    assert!(rel.len() > 300, "{}", rel.len());
    rel
}

#[test]
fn a_file_deep_past_max_path_syncs_both_ways() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let (a, b) = (Device::new("dev-a"), Device::new("dev-b"));
        let rel = long_rel();
        let native = RelPath::new(&rel).expect("valid").to_native(&a.root);
        assert!(native.as_os_str().len() > 300);
        std::fs::create_dir_all(native.parent().expect("parent")).expect("mkdir");
        std::fs::write(&native, b"v0 deep").expect("write");

        let s = a.sync(&store).await;
        assert!(s.uploaded >= 1, "{s:?}");
        assert_eq!(s.skipped_unreadable, 0, "{s:?}");
        let s = b.sync(&store).await;
        assert_eq!(s.skipped_unreadable, 0, "{s:?}");
        assert_eq!(b.read(&rel).as_deref(), Some(&b"v0 deep"[..]), "downloaded");

        // Replaced in place, then deleted (through the trash), from the other device.
        b.write(&rel, b"v1 deep, edited on b");
        b.sync(&store).await;
        a.sync(&store).await;
        assert_eq!(
            a.read(&rel).as_deref(),
            Some(&b"v1 deep, edited on b"[..]),
            "replaced"
        );
        std::fs::remove_file(b.root.join(&rel)).expect("rm");
        b.sync(&store).await;
        let s = a.sync(&store).await;
        assert_eq!(s.deleted_local, 1, "{s:?}");
        assert_eq!(a.read(&rel), None, "deleted");
    });
}

#[test]
fn fs_safe_works_past_max_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let rel = RelPath::new(&long_rel()).expect("valid");
    let parent = rel.parent().expect("has a folder");
    fs_safe::create_dir_all(root, &parent).expect("folders made");
    let (d, name) = fs_safe::parent_of(root, &rel, false).expect("walked");
    let mut f = d.create_new("new.partial").expect("created");
    std::io::Write::write_all(&mut f, b"deep").expect("written");
    drop(f);
    d.rename("new.partial", &d, name).expect("renamed");
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut fs_safe::open_file(root, &rel).expect("opened"),
        &mut text,
    )
    .expect("read");
    assert_eq!(text, "deep");
    assert_eq!(
        fs_safe::stat(root, &rel).expect("stat").map(|m| m.kind),
        Some(fs_safe::Kind::File)
    );
    fs_safe::remove_file(root, &rel).expect("removed");
    assert_eq!(fs_safe::stat(root, &rel).expect("stat"), None);
}
