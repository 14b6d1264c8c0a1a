//! Garbage collection after a commit that wrote a snapshot: what the retained history needs is
//! found without reading that snapshot back (issue 15: after a first upload of 100,000 files
//! the read-back held a second copy of every entry at the sync's peak).

use super::test_device::{runtime, Device};
use super::*;
use crate::remote::memory::{MemOp, MemoryStore};

#[test]
fn a_first_upload_does_not_read_back_the_snapshot_it_has_just_written() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        for i in 0..20 {
            a.write(&format!("f{i}.txt"), format!("file {i}").as_bytes());
        }
        let s = a.sync(&store).await;
        assert_eq!(s.uploaded, 20);
        // The commit compacted (a first file list is a snapshot) and garbage collection ran,
        // keeping what the history needs: nothing was fetched to find that out.
        assert!(a
            .syncer
            .with_journal(move |j| j.get_config(&format!("gc-last-run:{}", a.folder)))
            .await
            .expect("journal")
            .is_some());
        assert_eq!(store.request_count(MemOp::GetBlob), 0);
    });
}

/// The blobs the history needs, found with and without the tree held at the head: the same,
/// and the held tree spares the read-back of a snapshot of its own seq (only of that seq).
async fn same_with_and_without_the_held_tree(a: &Device, store: &MemoryStore) -> bool {
    let (_, view) = a
        .syncer
        .folder_and_remote(a.folder, store)
        .await
        .expect("remote");
    let head = view.head.as_ref().expect("a head");
    let limits = Limits::default();
    let gets = || store.request_count(MemOp::GetBlob);
    let before = gets();
    let read_back = history::referenced_by_history(store, head, None, &limits)
        .await
        .expect("history");
    let read_back_gets = gets() - before;
    let before = gets();
    let held = history::referenced_by_history(store, head, Some(&view.tree), &limits)
        .await
        .expect("history");
    let held_gets = gets() - before;
    assert!(!read_back.is_empty());
    assert_eq!(held, read_back);
    // A tree of another seq is never taken for the snapshot.
    let mut other = view.tree.clone();
    other.seq += 1;
    let before = gets();
    let not_held = history::referenced_by_history(store, head, Some(&other), &limits)
        .await
        .expect("history");
    assert_eq!(not_held, read_back);
    assert_eq!(gets() - before, read_back_gets);
    held_gets < read_back_gets
}

#[test]
fn the_held_tree_names_the_same_blobs_as_the_snapshot_read_back() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        a.write("keep.txt", b"kept all along");
        a.write("edit.txt", b"first version");
        a.sync(&store).await;
        // The head's snapshot is of the head's seq: taken from the tree.
        assert!(same_with_and_without_the_held_tree(&a, &store).await);
        a.write("edit.txt", b"second version, longer");
        a.write("new.txt", b"new");
        a.sync(&store).await;
        // A delta after it: the snapshot is read as before.
        assert!(!same_with_and_without_the_held_tree(&a, &store).await);
    });
}
