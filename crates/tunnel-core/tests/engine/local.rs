//! Local trouble at the engine level: a file rewritten again and again while the sync reads
//! it, and a synced file replaced by a FIFO (which would block a reader forever). The rest of
//! the folder syncs, nothing torn is uploaded, and nothing is deleted remotely because a
//! local file could not be read.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tunnel_core::remote::memory::MemoryStore;

use tunnel_core::config::SyncSettings;

use crate::util::{runtime, settings, Device};

/// A guard against a hang (a FIFO opened for reading blocks); not a timing assertion.
const HANG: Duration = Duration::from_secs(120);

#[test]
fn a_file_rewritten_during_the_sync_is_never_uploaded_torn() {
    rewritten_during_the_sync(settings());
}

/// The same with the busy file cut by content into many chunks, packed several to a pack: each
/// chunk is read and checked once while the pack is gathered (the pack is named by its member
/// list, not hashed again), a chunk that no longer matches keeps the whole file back.
#[test]
fn a_big_file_cut_by_content_rewritten_during_the_sync_is_never_uploaded_torn() {
    rewritten_during_the_sync(SyncSettings {
        chunk_size: 64 * 1024,
        delta_chunk_size: 4096,
        pack_threshold: 1024,
        pack_target: 32 * 1024,
        ..settings()
    });
}

fn rewritten_during_the_sync(settings: SyncSettings) {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let a = Device::with_settings("dev-a", settings.clone());
        let b = Device::with_settings("dev-b", settings);
        a.write("stable.txt", b"<v0>stable");
        a.write("busy.bin", b"<v0>busy");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        let mut versions: BTreeMap<Vec<u8>, ()> = BTreeMap::new();
        versions.insert(b"<v0>busy".to_vec(), ());
        // `fs::write` truncates before it writes: a scan may really see the file empty.
        versions.insert(Vec::new(), ());
        let versions = Arc::new(Mutex::new(versions));
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let path = a.path("busy.bin");
        let writer = {
            let (stop, versions, count) = (stop.clone(), versions.clone(), count.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let len = 300_000 + (n as usize % 7) * 150_000;
                    let mut bytes = format!("<w{n}>").into_bytes();
                    // Bytes that vary (content-defined cuts fall all over), different per
                    // version.
                    let mut x = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
                    bytes.extend((bytes.len()..len).map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        (x >> 32) as u8
                    }));
                    versions.lock().expect("lock").insert(bytes.clone(), ());
                    if std::fs::write(&path, &bytes).is_err() {
                        break; // the test failed and its folder is gone
                    }
                    count.fetch_add(1, Ordering::Relaxed);
                }
                n
            })
        };
        // Wait until the writer is busy.
        while count.load(Ordering::Relaxed) < 3 {
            tokio::task::yield_now().await;
        }
        a.write("other.txt", b"<v1>other");
        a.write("stable.txt", b"<v1>stable edited");
        let mut unreadable = 0;
        for round in 0..3 {
            let r = tokio::time::timeout(HANG, a.sync(&store))
                .await
                .expect("no hang");
            let summary = r.expect("the sync completes despite the busy file");
            unreadable += summary.skipped_unreadable;
            b.sync(&store).await.expect("b");
            let tree = b.tree();
            assert_eq!(
                tree.get("other.txt").map(Vec::as_slice),
                Some(&b"<v1>other"[..])
            );
            assert_eq!(
                tree.get("stable.txt").map(Vec::as_slice),
                Some(&b"<v1>stable edited"[..])
            );
            let busy = tree.get("busy.bin").expect("busy.bin was deleted remotely");
            assert!(
                versions.lock().expect("lock").contains_key(busy),
                "round {round}: busy.bin on b is torn ({} bytes); {summary:?}",
                busy.len()
            );
        }
        stop.store(true, Ordering::Relaxed);
        let rewrites = writer.join().expect("writer");
        // Once quiet, the last version goes through.
        a.sync(&store).await.expect("a again");
        b.sync(&store).await.expect("b again");
        assert_eq!(a.tree(), b.tree());
        eprintln!(
            "busy file: {rewrites} rewrites during 3 syncs, {unreadable} reported unreadable"
        );
    });
}

/// Unix only: Windows has no FIFO (nor socket or device) inside a folder, its named pipes live
/// in `\\.\pipe\`; what stands in for an unreadable file there, one held open by another
/// program, is in identity.rs.
#[cfg(unix)]
#[test]
fn a_file_replaced_by_a_fifo_is_not_deleted_remotely() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        a.write("pipe.txt", b"<v0>was a file");
        a.write("x.txt", b"<v0>x");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        std::fs::remove_file(a.path("pipe.txt")).expect("rm");
        let status = std::process::Command::new("mkfifo")
            .arg(a.path("pipe.txt"))
            .status()
            .expect("mkfifo runs");
        assert!(status.success(), "mkfifo");
        a.write("x.txt", b"<v1>x edited");
        tokio::time::timeout(HANG, a.sync(&store))
            .await
            .expect("a FIFO must not block the sync")
            .expect("the sync completes");
        b.sync(&store).await.expect("b");
        assert_eq!(
            b.tree().get("pipe.txt").map(Vec::as_slice),
            Some(&b"<v0>was a file"[..]),
            "an unreadable local path deleted the file remotely"
        );
        assert_eq!(
            b.tree().get("x.txt").map(Vec::as_slice),
            Some(&b"<v1>x edited"[..])
        );
        // And the FIFO on a is left alone, not overwritten by the remote file.
        let ft = std::fs::symlink_metadata(a.path("pipe.txt")).expect("still there");
        assert!(!ft.is_file(), "the FIFO was replaced");
    });
}

/// An edit that keeps the size and lands within the file system's timestamp granularity of
/// the previous scan (same mtime, same inode: `fs::write` rewrites in place) — routine on
/// file systems with 1–2 s timestamps and possible within one kernel clock tick elsewhere.
/// The scan cache must not hide it, or a remote edit silently overwrites it.
#[test]
fn an_edit_within_the_timestamp_granularity_is_not_lost() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        a.write("f.txt", b"<a1>first version");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        let path = a.path("f.txt");
        let mtime = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .expect("mtime");
        // Same size, same inode, and (as on a coarse clock) the same mtime.
        std::fs::write(&path, b"<a2>local edit!!!").expect("edit");
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        f.set_modified(mtime).expect("same mtime");
        drop(f);
        b.write("f.txt", b"<b1>remote edit, longer");
        b.sync(&store).await.expect("b");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        let everywhere: Vec<Vec<u8>> = a
            .tree()
            .into_values()
            .chain(b.tree().into_values())
            .collect();
        assert!(
            everywhere.iter().any(|c| c == b"<a2>local edit!!!"),
            "the local edit is gone: a has {:?}",
            a.tree().keys().collect::<Vec<_>>()
        );
    });
}

/// Two local names that differ only in Unicode normalisation (NFC `é` and NFD `e` + U+0301,
/// both possible on Linux) would map to one synced path. The NFC one syncs; the NFD one is
/// reported as an invalid name and left alone: it is never uploaded under the NFC name, and
/// nothing that arrives for the NFC name ever touches it. An edit made elsewhere to the NFC
/// file replaces the NFC file only, as any update does (that edit started from its content).
#[test]
fn names_equal_after_normalisation_lose_nothing() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        let (nfc, nfd) = ("caf\u{e9}.txt", "cafe\u{301}.txt");
        a.write(nfc, b"<nfc>composed");
        a.write(nfd, b"<nfd>decomposed");
        a.write("plain.txt", b"<p>plain");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        let got = b.tree();
        assert_eq!(
            got.get(nfc).map(Vec::as_slice),
            Some(&b"<nfc>composed"[..]),
            "the NFC file syncs under its own name: {:?}",
            got.keys().collect::<Vec<_>>()
        );
        assert!(!got.contains_key(nfd), "the NFD name is never synced");
        assert_eq!(
            got.get("plain.txt").map(Vec::as_slice),
            Some(&b"<p>plain"[..])
        );

        b.write(nfc, b"<b>edited on b");
        b.sync(&store).await.expect("b again");
        a.sync(&store).await.expect("a again");
        assert_eq!(
            std::fs::read(a.path(nfc)).expect("nfc"),
            b"<b>edited on b",
            "the edit of the synced file arrives"
        );
        assert_eq!(
            std::fs::read(a.path(nfd)).expect("nfd"),
            b"<nfd>decomposed",
            "the other file, which looks the same to a person, is untouched"
        );
    });
}

/// One device turns a file into a folder while another edits the file: both the edit and the
/// folder's content must survive on every device.
#[test]
fn file_turned_folder_against_a_concurrent_edit_loses_nothing() {
    let rt = runtime();
    for b_first in [false, true] {
        rt.block_on(one_order(b_first));
    }
}

/// One run of the file-to-folder race; `b_first`: the editing device commits first.
async fn one_order(b_first: bool) {
    {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        a.write("x", b"<a1>file x");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        std::fs::remove_file(a.path("x")).expect("rm");
        a.write("x/inner.txt", b"<a2>inside the new folder");
        b.write("x", b"<b1>edited file x");
        if b_first {
            b.sync(&store).await.expect("b");
        }
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        a.sync(&store).await.expect("a again");
        b.sync(&store).await.expect("b again");
        assert_eq!(a.tree(), b.tree(), "devices disagree");
        let all: Vec<Vec<u8>> = a.tree().into_values().collect();
        for want in [&b"<a2>inside the new folder"[..], &b"<b1>edited file x"[..]] {
            assert!(
                all.iter().any(|c| c == want),
                "{:?} lost (b first: {b_first}); tree {:?}",
                String::from_utf8_lossy(want),
                a.tree().keys().collect::<Vec<_>>()
            );
        }
    }
}

/// The user edits a file on this device while the sync downloads the other device's version
/// of it: the local edit must not be overwritten, and must reach the other device.
#[test]
fn an_edit_during_its_download_is_left_alone() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        a.write("f.txt", b"<a1>first");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        a.write("f.txt", b"<a2>edited on a, bigger than before");
        a.sync(&store).await.expect("a");
        let target = b.path("f.txt");
        let done = Arc::new(AtomicBool::new(false));
        let fired = done.clone();
        let hooked = crate::util::Intercept {
            inner: store.clone(),
            on_get: Box::new(move |name| {
                let content = name.as_str().starts_with("m-") || name.as_str().starts_with("c-");
                if content && !done.swap(true, Ordering::SeqCst) {
                    std::fs::write(&target, b"<b1>typed on b during the download")
                        .expect("user edit");
                }
                Ok(())
            }),
        };
        let r = b.sync(&crate::util::Hooked(&hooked)).await;
        assert!(fired.load(Ordering::SeqCst), "no content download happened");
        assert_eq!(
            b.tree().get("f.txt").map(Vec::as_slice),
            Some(&b"<b1>typed on b during the download"[..]),
            "the edit made during the download was overwritten ({r:?})"
        );
        for _ in 0..2 {
            b.sync(&store).await.expect("b");
            a.sync(&store).await.expect("a");
        }
        assert_eq!(a.tree(), b.tree(), "devices disagree");
        let all: Vec<Vec<u8>> = a.tree().into_values().collect();
        for want in [
            &b"<a2>edited on a, bigger than before"[..],
            &b"<b1>typed on b during the download"[..],
        ] {
            assert!(
                all.iter().any(|c| c == want),
                "{:?} lost: {:?}",
                String::from_utf8_lossy(want),
                a.tree().keys().collect::<Vec<_>>()
            );
        }
    });
}

/// The folder is being removed (`rm -rf`) while a sync runs: the scan sees some files gone
/// with the marker still there, and by the time the sync commits the whole folder is gone.
/// The vanished folder must be reported, not published as deletions. Deterministic: the
/// removal is done from store hooks, half before the scan and the rest before the commit.
#[test]
fn a_folder_removed_during_the_sync_deletes_nothing_remotely() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        for i in 0..4 {
            a.write(&format!("keep/k{i}.txt"), format!("<a>k{i}").as_bytes());
        }
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        b.write("from-b.txt", b"<b>new");
        b.sync(&store).await.expect("b");
        let root = a.root.clone();
        let hooked = crate::util::Intercept {
            inner: store.clone(),
            on_get: Box::new(move |name| {
                let n = name.as_str();
                if n.starts_with("d-") || n == "manifest.json" {
                    // rm -rf under way: the files go first…
                    let _ = std::fs::remove_dir_all(root.join("keep"));
                } else {
                    // …then the marker and the folder itself.
                    let _ = std::fs::remove_dir_all(&root);
                }
                Ok(())
            }),
        };
        let r = a.sync(&crate::util::Hooked(&hooked)).await;
        b.sync(&store).await.expect("b");
        for i in 0..4 {
            assert!(
                b.path(&format!("keep/k{i}.txt")).exists(),
                "k{i} was deleted remotely because a's folder was being removed ({r:?})"
            );
        }
    });
}

#[test]
fn downloads_left_by_a_killed_sync_are_removed_and_nothing_else_hidden_is_touched() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        a.write("docs/report.txt", b"report");
        a.sync(&store).await.expect("first sync");
        // What a sync killed mid-download leaves, at the top and deeper down.
        let stale = [".sbt-1f2e3d.partial", "docs/.sbt-pack-9a8b.partial"];
        for rel in stale {
            a.write(rel, b"half a download");
        }
        // Hidden things that are not ours, or inside a hidden folder we never enter.
        let kept = [".sbt-notes.txt", "docs/.partial", ".git/.sbt-x.partial"];
        for rel in kept {
            a.write(rel, b"keep me");
        }
        a.sync(&store).await.expect("second sync");
        for rel in stale {
            assert!(!a.path(rel).exists(), "{rel} is left behind");
        }
        for rel in kept {
            assert_eq!(
                std::fs::read(a.path(rel)).expect(rel),
                b"keep me",
                "{rel} was touched"
            );
        }
        assert_eq!(
            std::fs::read(a.path("docs/report.txt")).expect("report"),
            b"report"
        );
    });
}

/// Both devices edit a file; here the local edit wins, so the other device's version is kept
/// as a conflict copy: published, and downloaded here. When that download fails, the copy must
/// not be taken as "here and synced": the next sync would read its absence as a deletion made
/// on this device and delete the other device's version everywhere. (Found by the seeded fault
/// test in tests/reliability with SBER_TUNNEL_SEED=1795494716930757396.)
#[test]
fn a_conflict_copy_whose_download_failed_is_fetched_later_not_deleted() {
    let rt = runtime();
    rt.block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let b = Device::new("dev-b");
        a.write("f.txt", b"<v0>first");
        a.sync(&store).await.expect("a");
        b.sync(&store).await.expect("b");
        a.write("f.txt", b"<a1>edited on a");
        a.sync(&store).await.expect("a");
        std::thread::sleep(Duration::from_millis(20));
        b.write("f.txt", b"<b1>edited on b, later");

        // B's sync: its edit wins; A's version becomes a conflict copy whose download fails.
        let failing = crate::util::Intercept {
            inner: store.clone(),
            on_get: Box::new(|name| {
                let n = name.as_str();
                if n.starts_with("m-") || n.starts_with("c-") {
                    Err(tunnel_core::remote::RemoteError::Integrity(
                        "injected: the body arrived damaged".into(),
                    ))
                } else {
                    Ok(())
                }
            }),
        };
        let r = b
            .sync(&crate::util::Hooked(&failing))
            .await
            .expect("b syncs with one download failed");
        assert_eq!(r.conflicts, 1, "{r:?}");
        assert!(
            r.skipped_unreadable >= 1,
            "the failed download is reported: {r:?}"
        );
        let copy_here = |d: &Device| {
            d.tree()
                .into_iter()
                .any(|(k, v)| k.contains("conflict") && v == b"<a1>edited on a")
        };
        assert!(!copy_here(&b), "the copy's download was made to fail");

        // Later syncs fetch the copy; nobody deletes it.
        for _ in 0..2 {
            b.sync(&store).await.expect("b");
            a.sync(&store).await.expect("a");
        }
        assert!(
            copy_here(&b),
            "the conflict copy arrived on b: {:?}",
            b.tree().keys()
        );
        assert!(
            copy_here(&a),
            "a keeps its version as the copy: {:?}",
            a.tree().keys()
        );
        assert_eq!(a.tree(), b.tree(), "devices disagree");
        assert_eq!(
            a.tree().get("f.txt").map(Vec::as_slice),
            Some(&b"<b1>edited on b, later"[..])
        );
    });
}
