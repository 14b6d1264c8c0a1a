//! Delta upload of big files (issue 16, items 5 and 6): files cut where their content says
//! (`chunk::cdc`), their chunks packed like small files. An edit sends only the chunks around
//! it; a device that cuts files at the chunk size (what format 3 builds before content-defined
//! chunking do) reads such files as they are; a damaged chunk inside a pack is refused; garbage
//! collection keeps a pack while any of its chunks is referenced.
//!
//! Sizes are tiny (chunks of 2 to 8 KiB) so that a few hundred KiB make many chunks; the
//! emulator-over-a-socket counterpart with the request log is
//! `tunnel-confluence/tests/client/delta.rs`.

use std::collections::{BTreeMap, BTreeSet};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tunnel_core::config::SyncSettings;
use tunnel_core::manifest::FileEntry;
use tunnel_core::remote::memory::{MemOp, MemoryStore};
use tunnel_core::remote::{BlobName, RemoteError};

use crate::util::{noise, runtime, settings, stray_hidden, Device};

/// Chunks of 2 / 4 / 8 KiB (min / avg / max), packs of 32 KiB.
fn delta_settings() -> SyncSettings {
    SyncSettings {
        chunk_size: 64 * 1024,
        delta_chunk_size: 4096,
        pack_threshold: 1024,
        pack_target: PACK_TARGET,
        ..settings()
    }
}

/// The largest chunk of [`delta_settings`].
const MAX_CHUNK: u64 = 8192;
/// The pack target of [`delta_settings`].
const PACK_TARGET: u64 = 32 * 1024;

/// The live entry of `path` as `dev` last saw the page.
fn remote_entry(dev: &Device, path: &str) -> FileEntry {
    let tree = dev
        .syncer
        .journal()
        .lock()
        .expect("journal lock")
        .remote_cache(dev.folder)
        .expect("remote cache readable")
        .expect("a remote cache");
    let found = tree.live().find(|e| e.path.as_str() == path).cloned();
    found.unwrap_or_else(|| panic!("{path} is on the page"))
}

/// Data blobs (chunks and packs) on the page, with their sizes.
fn data_blobs(store: &MemoryStore) -> BTreeMap<BlobName, u64> {
    store
        .blob_names()
        .into_iter()
        .filter(|n| n.as_str().starts_with("m-") || n.as_str().starts_with("c-"))
        .map(|n| {
            let size = store.blob_bytes(&n).map_or(0, |b| b.len() as u64);
            (n, size)
        })
        .collect()
}

/// What a sync of `dev` added to the page's data blobs: (blobs, bytes).
async fn sync_and_measure(dev: &Device, store: &MemoryStore) -> (usize, u64) {
    let before = data_blobs(store);
    dev.sync(store).await.expect("sync");
    let added: Vec<u64> = data_blobs(store)
        .into_iter()
        .filter(|(n, _)| !before.contains_key(n))
        .map(|(_, s)| s)
        .collect();
    (added.len(), added.iter().sum())
}

#[test]
fn edits_of_a_big_file_send_only_the_chunks_around_them() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = Device::with_settings("a", delta_settings());
        let b = Device::with_settings("b", delta_settings());
        let original = noise(512 * 1024, 1);
        a.write("big.bin", &original);
        let (_, first) = sync_and_measure(&a, &store).await;
        assert!(
            first >= original.len() as u64,
            "the first upload sends the whole file ({first} bytes)"
        );
        let entry = remote_entry(&a, "big.bin");
        assert!(
            entry.chunks.len() > 40,
            "512 KiB in chunks of about 4 KiB: {} chunks",
            entry.chunks.len()
        );
        assert!(
            entry
                .chunks
                .iter()
                .all(|c| c.blob.as_str().starts_with("m-") && c.size <= MAX_CHUNK),
            "every chunk is packed and at most the largest chunk size"
        );
        let sizes: BTreeSet<u64> = entry.chunks.iter().map(|c| c.size).collect();
        assert!(sizes.len() > 10, "cut by content, not in equal pieces");

        let mut edited = original.clone();
        edited[300_000] ^= 0x5a;
        a.write("big.bin", &edited);
        let (blobs, bytes) = sync_and_measure(&a, &store).await;
        assert!(
            blobs == 1 && bytes <= 2 * MAX_CHUNK,
            "a 1-byte edit sends at most two chunks in one pack: {blobs} blobs, {bytes} bytes"
        );

        let mut inserted = noise(1024, 2);
        inserted.extend_from_slice(&edited);
        a.write("big.bin", &inserted);
        let (blobs, bytes) = sync_and_measure(&a, &store).await;
        assert!(
            blobs == 1 && bytes <= 2 * MAX_CHUNK + 1024,
            "1 KiB inserted at the start sends the first chunks only: {blobs} blobs, {bytes} bytes"
        );

        let mut appended = inserted.clone();
        appended.extend_from_slice(&noise(1024, 3));
        a.write("big.bin", &appended);
        let (blobs, bytes) = sync_and_measure(&a, &store).await;
        assert!(
            blobs == 1 && bytes <= 2 * MAX_CHUNK + 1024,
            "1 KiB appended sends the last chunks only: {blobs} blobs, {bytes} bytes"
        );

        b.sync(&store).await.expect("b syncs");
        assert_eq!(
            b.tree().get("big.bin"),
            Some(&appended),
            "the other device assembles the latest version from old and new chunks"
        );
        assert!(stray_hidden(&b.root).is_empty(), "no temporary file left");
    });
}

/// Issue 16 item 6: the file entry of format 3 already names each chunk's blob and offset, and
/// no rule of a reader ties chunk sizes to the chunk size; so a file cut by content, its chunks
/// in packs, is read by a device that cuts files at the chunk size — this build with
/// `delta-chunk-size = 0` reads, checks and writes files with exactly the code of the format 3
/// builds before content-defined chunking (the download path is unchanged). No format bump.
#[test]
fn a_device_cutting_at_the_chunk_size_reads_files_cut_by_content_and_back() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = Device::with_settings("a", delta_settings());
        let fixed = SyncSettings {
            delta_chunk_size: 0,
            ..delta_settings()
        };
        let old = Device::with_settings("old", fixed);
        let big = noise(300 * 1024, 4);
        a.write("big.bin", &big);
        a.write("dir/small.txt", b"small");
        a.sync(&store).await.expect("a uploads");
        let entry = remote_entry(&a, "big.bin");
        let packs: BTreeSet<&BlobName> = entry.chunks.iter().map(|c| &c.blob).collect();
        assert!(
            entry.chunks.len() > packs.len() && entry.chunks.iter().any(|c| c.offset > 0),
            "several chunks share a pack, at offsets"
        );

        old.sync(&store).await.expect("the fixed-size device syncs");
        assert_eq!(
            old.tree(),
            a.tree(),
            "it downloads the file cut by content whole"
        );
        assert!(stray_hidden(&old.root).is_empty(), "no temporary file left");

        // Its own edit goes up in chunk-size pieces, and the first device reads those.
        let mut edited = big.clone();
        edited[1000] ^= 1;
        old.write("big.bin", &edited);
        old.sync(&store)
            .await
            .expect("the fixed-size device uploads");
        let entry = remote_entry(&old, "big.bin");
        assert!(
            entry
                .chunks
                .iter()
                .rev()
                .skip(1)
                .all(|c| c.size == 64 * 1024),
            "cut at the chunk size"
        );
        a.sync(&store).await.expect("a downloads");
        assert_eq!(a.tree().get("big.bin"), Some(&edited));
    });
}

#[test]
fn a_damaged_chunk_inside_a_pack_is_refused() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = Device::with_settings("a", delta_settings());
        let b = Device::with_settings("b", delta_settings());
        let big = noise(200 * 1024, 5);
        a.write("big.bin", &big);
        a.write("other.bin", &noise(50 * 1024, 6));
        a.sync(&store).await.expect("a uploads");
        let entry = remote_entry(&a, "big.bin");
        // One byte of the middle chunk, inside its pack, is changed; sizes stay.
        let victim = &entry.chunks[entry.chunks.len() / 2];
        let mut bytes = store.blob_bytes(&victim.blob).expect("pack").to_vec();
        bytes[(victim.offset + victim.size / 2) as usize] ^= 0xff;
        assert!(store.corrupt_blob(&victim.blob, Bytes::from(bytes)));
        let other_damaged = remote_entry(&a, "other.bin")
            .chunks
            .iter()
            .any(|c| c.blob == victim.blob);

        let _ = b.sync(&store).await;
        let tree = b.tree();
        assert!(
            !tree.contains_key("big.bin"),
            "a file with a damaged chunk is never put in place"
        );
        if !other_damaged {
            assert!(
                tree.contains_key("other.bin"),
                "the rest of the sync goes on"
            );
        }
        assert!(stray_hidden(&b.root).is_empty(), "no temporary file left");
    });
}

#[test]
fn garbage_collection_keeps_a_pack_while_any_chunk_in_it_is_referenced() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let mut a = Device::with_settings("a", delta_settings());
        a.syncer = a
            .syncer
            .clone()
            .with_gc_timing_for_tests(0, 0)
            .with_history_keep_ms_for_tests(0);
        let big = noise(256 * 1024, 7);
        a.write("big.bin", &big);
        a.sync(&store).await.expect("upload");
        let before = remote_entry(&a, "big.bin");
        let mut edited = big.clone();
        edited[100_000] ^= 1;
        a.write("big.bin", &edited);
        a.sync(&store).await.expect("edit; collects");
        let after = remote_entry(&a, "big.bin");
        let dropped: Vec<_> = before
            .chunks
            .iter()
            .filter(|c| !after.chunks.iter().any(|n| n.sha256 == c.sha256))
            .collect();
        assert!(!dropped.is_empty(), "the edit replaced a chunk");
        let live: BTreeSet<BlobName> = store.blob_names().into_iter().collect();
        for c in after.chunks.iter() {
            assert!(
                live.contains(&c.blob),
                "{} holds a referenced chunk and was collected",
                c.blob
            );
        }
        for c in &dropped {
            assert!(
                live.contains(&c.blob),
                "the pack of the replaced chunk still holds referenced ones: kept"
            );
        }
        let b = Device::with_settings("b", delta_settings());
        b.sync(&store).await.expect("b syncs");
        assert_eq!(b.tree().get("big.bin"), Some(&edited));

        // Once nothing references them, the packs go.
        std::fs::remove_file(a.path("big.bin")).expect("rm");
        a.sync(&store).await.expect("delete; collects");
        let trashed: BTreeSet<BlobName> = store.trashed_names().into_iter().collect();
        for c in after.chunks.iter() {
            assert!(trashed.contains(&c.blob), "{} was collected", c.blob);
        }
    });
}

#[test]
fn an_interrupted_upload_of_a_big_file_resumes_with_the_packs_already_sent() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = Device::with_settings("a", delta_settings());
        let big = noise(512 * 1024, 8);
        a.write("big.bin", &big);
        // The upload after the sixth pack fails: the sync stops there.
        let packs = Arc::new(AtomicUsize::new(0));
        let (s2, seen) = (store.clone(), packs.clone());
        store.set_on_put(Some(Arc::new(move |name: &BlobName| {
            if name.as_str().starts_with("m-") && seen.fetch_add(1, Ordering::SeqCst) == 5 {
                s2.fail_next(
                    MemOp::PutBlob,
                    || RemoteError::Unreachable("connection reset".into()),
                    1,
                );
            }
        })));
        assert!(a.sync(&store).await.is_err(), "the sync is cut short");
        // A new file: its upload read, cut and hashed it as it sent its packs.
        assert_eq!(a.syncer.left_unhashed_for_tests(), 1);
        store.set_on_put(None);
        let sent_before = data_blobs(&store);
        assert!(
            sent_before.len() >= 5,
            "at least five packs reached the page: {}",
            sent_before.len()
        );
        let bytes_before: u64 = sent_before.values().sum();
        // Every pack the next sync sends (a pack sent again counts: a server takes its bytes
        // again even when it ends up with the same attachment).
        let put: Arc<std::sync::Mutex<Vec<BlobName>>> = Arc::default();
        let log = put.clone();
        store.set_on_put(Some(Arc::new(move |name: &BlobName| {
            if name.as_str().starts_with("m-") {
                log.lock().expect("lock").push(name.clone());
            }
        })));
        a.sync(&store)
            .await
            .expect("the next sync completes the upload");
        // With packs of an interrupted upload on record, the scan hashes the file first: the
        // upload then knows every chunk it wants, and re-uses those packs whole.
        assert_eq!(a.syncer.left_unhashed_for_tests(), 1);
        store.set_on_put(None);
        let put = put.lock().expect("lock").clone();
        let resent: u64 = put
            .iter()
            .map(|n| store.blob_bytes(n).map_or(0, |b| b.len() as u64))
            .sum();
        // The packs in flight when the sync failed (at most two) reached the page unrecorded:
        // those may go again, no other.
        let again = put.iter().filter(|n| sent_before.contains_key(*n)).count();
        assert!(again <= 2, "{again} packs that made it were sent again");
        assert!(
            resent + bytes_before <= big.len() as u64 + 2 * PACK_TARGET + 2 * MAX_CHUNK,
            "the next sync sends only what was missing: {resent} bytes after {bytes_before}"
        );
        let entry = remote_entry(&a, "big.bin");
        assert!(
            entry
                .chunks
                .iter()
                .any(|c| sent_before.contains_key(&c.blob)),
            "the file's chunks include those of the packs sent before the cut"
        );
        let b = Device::with_settings("b", delta_settings());
        b.sync(&store).await.expect("b syncs");
        assert_eq!(b.tree().get("big.bin"), Some(&big));
    });
}

/// Every request a sync makes, by kind, counted on the store.
fn all_requests(store: &MemoryStore) -> BTreeMap<&'static str, u64> {
    [
        ("probe", MemOp::Probe),
        ("probe_write", MemOp::ProbeWrite),
        ("read_head", MemOp::ReadHead),
        ("write_head", MemOp::WriteHead),
        ("put_blob", MemOp::PutBlob),
        ("put_mutable", MemOp::PutMutable),
        ("get_blob", MemOp::GetBlob),
        ("find_blob", MemOp::FindBlob),
        ("list_blobs", MemOp::ListBlobs),
        ("delete_blob", MemOp::DeleteBlob),
        ("delete_blob_version", MemOp::DeleteBlobVersion),
    ]
    .into_iter()
    .map(|(name, op)| (name, store.request_count(op)))
    .filter(|(_, n)| *n > 0)
    .collect()
}

/// Issue 16 item 5: the sync of a 1-byte in-place edit of a big file makes at most 5
/// requests in all — the head read, the pack with the changed chunks, the delta part of the
/// file list, the head's compare-and-swap, and nothing else that a proof does not need: the
/// blobs the commit introduced were all written by this very sync moments before its
/// compare-and-swap, so no collector can have trashed them (`sync/verify.rs`, `fresh`).
#[test]
fn the_sync_of_a_one_byte_edit_of_a_big_file_makes_at_most_five_requests() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = Device::with_settings("a", delta_settings());
        let original = noise(512 * 1024, 4);
        a.write("big.bin", &original);
        a.sync(&store).await.expect("first sync");
        let mut edited = original.clone();
        edited[200_000] ^= 0x01;
        a.write("big.bin", &edited);
        let before = all_requests(&store);
        a.sync(&store).await.expect("the edit syncs");
        let after = all_requests(&store);
        let made: BTreeMap<&str, u64> = after
            .iter()
            .map(|(k, n)| (*k, n - before.get(k).copied().unwrap_or(0)))
            .filter(|(_, n)| *n > 0)
            .collect();
        let total: u64 = made.values().sum();
        eprintln!("requests of the edit's sync: {made:?}");
        assert!(total <= 5, "at most 5 requests in all: {total} ({made:?})");
        assert_eq!(made.get("write_head"), Some(&1), "one commit: {made:?}");
        assert_eq!(
            made.get("put_blob"),
            Some(&2),
            "the pack and the delta part: {made:?}"
        );
    });
}
