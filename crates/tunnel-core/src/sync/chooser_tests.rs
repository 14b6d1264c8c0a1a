//! What the desktop's "Choose folders…" dialog reads after and during syncs: the journal's
//! cached copy of the page's file list (`selective::folder_choice`). Issue 15 made that cache
//! move by the changed rows only (a commit's own entries, a fetch's new deltas) instead of a
//! rewrite of every row; these tests hold it equal to the page's list after every kind of sync,
//! and check that the journal is free for the dialog while a sync talks to the page.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::test_device::{runtime, Device};
use super::*;
use crate::manifest::{Head, Limits};
use crate::remote::memory::MemoryStore;
use crate::selective::{folder_choice, FolderChoice};

fn put(d: &Device, rel: &str, bytes: &[u8]) {
    let p = d.root.join(rel);
    std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
    d.write(rel, bytes);
}

fn choice(d: &Device) -> FolderChoice {
    let j = d.syncer.journal();
    let j = j.lock().expect("journal");
    let rec = j.folder(d.folder).expect("read").expect("tracked");
    folder_choice(&j, &rec).expect("choice")
}

fn subfolders(d: &Device) -> Vec<String> {
    choice(d)
        .subfolders
        .iter()
        .map(|s| s.path.to_string())
        .collect()
}

/// The journal's cached file list equals the page's, read afresh from its head.
async fn assert_cache_is_the_page(d: &Device, store: &MemoryStore, when: &str) {
    let limits = Limits::default();
    let head = store.read_head().await.expect("head").expect("a head");
    let head = Head::parse(&head.value, &limits).expect("parse");
    let page = remote_state::fetch_full(store, &head, &limits)
        .await
        .expect("the page's list");
    let cached = {
        let j = d.syncer.journal();
        let j = j.lock().expect("journal");
        j.remote_cache(d.folder).expect("read").expect("a cache")
    };
    assert_eq!(
        (cached.generation.as_str(), cached.seq),
        (page.generation.as_str(), page.seq),
        "{when}: the cache is at another position"
    );
    let differ: Vec<String> = page
        .files
        .iter()
        .filter(|(p, e)| cached.files.get(*p) != Some(*e))
        .map(|(p, _)| p.to_string())
        .chain(
            cached
                .files
                .keys()
                .filter(|p| !page.files.contains_key(*p))
                .map(|p| format!("{p} (not on the page)")),
        )
        .collect();
    assert!(differ.is_empty(), "{when}: rows differ: {differ:?}");
}

#[test]
fn the_chooser_lists_what_the_page_holds_after_every_kind_of_sync() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let (a, b) = (Device::new("dev-a"), Device::new("dev-b"));
        a.write("top.txt", b"top");
        a.sync(&store).await;
        assert_cache_is_the_page(&a, &store, "a's first commit (stored whole)").await;
        b.sync(&store).await;
        assert_cache_is_the_page(&b, &store, "b's first read (fetched whole)").await;

        // The desktop scenario's step: subfolders written, one sync, the dialog opened.
        put(&a, "Big/movie.bin", &[3; 4096]);
        put(&a, "Big/inner/notes.txt", b"inside");
        put(&a, "Keep/k.txt", b"stays");
        a.sync(&store).await;
        assert_cache_is_the_page(&a, &store, "a's commit on its own cache").await;
        assert_eq!(subfolders(&a), ["Big", "Big/inner", "Keep"]);
        let big = &choice(&a).subfolders[0];
        assert_eq!((big.files, big.bytes), (2, 4096 + 6));

        // b reads only the new delta, then commits on top of it.
        b.sync(&store).await;
        assert_cache_is_the_page(&b, &store, "b's read of one new delta").await;
        assert_eq!(subfolders(&b), ["Big", "Big/inner", "Keep"]);
        put(&b, "New/deeper/x.txt", b"from b");
        std::fs::remove_file(b.root.join("Keep/k.txt")).expect("rm");
        b.sync(&store).await;
        assert_cache_is_the_page(&b, &store, "b's commit").await;

        // a, two commits behind by then (b's and a's own next one), reads and commits.
        put(&a, "Later/y.txt", b"from a");
        a.sync(&store).await;
        assert_cache_is_the_page(&a, &store, "a's read of b's delta and its commit").await;
        let a_dirs = subfolders(&a);
        for want in ["Big", "Big/inner", "Later", "New", "New/deeper"] {
            assert!(a_dirs.iter().any(|d| d == want), "{want} in {a_dirs:?}");
        }
        b.sync(&store).await;
        assert_cache_is_the_page(&b, &store, "b again").await;
        assert_eq!(subfolders(&a), subfolders(&b));
        // A sync that changes nothing leaves the cache as it is.
        a.sync(&store).await;
        assert_cache_is_the_page(&a, &store, "a's sync without changes").await;
    });
}

#[test]
fn the_chooser_is_answered_while_a_sync_sends_files() {
    // The dialog reads the same journal as the sync (one mutex): the sync must never hold it
    // while it waits for the page. Every upload here waits 100 ms on the "network"; a reader
    // beside it opens the dialog over and over and must always be answered at once.
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        a.write("top.txt", b"top");
        a.sync(&store).await;
        for i in 0..12 {
            put(&a, &format!("Big/f{i}.bin"), &[i as u8; 300 * 1024]);
        }
        let puts = Arc::new(AtomicU64::new(0));
        let seen = puts.clone();
        store.set_on_put(Some(Arc::new(move |_| {
            seen.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(100));
        })));
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (stop, journal, id) = (stop.clone(), a.syncer.journal(), a.folder);
            std::thread::spawn(move || {
                let (mut calls, mut slowest) = (0u32, Duration::ZERO);
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    {
                        let j = journal.lock().expect("journal");
                        let rec = j.folder(id).expect("read").expect("tracked");
                        folder_choice(&j, &rec).expect("choice");
                    }
                    slowest = slowest.max(t.elapsed());
                    calls += 1;
                    std::thread::sleep(Duration::from_millis(5));
                }
                (calls, slowest)
            })
        };
        a.sync(&store).await;
        stop.store(true, Ordering::Relaxed);
        let (calls, slowest) = reader.join().expect("reader");
        store.set_on_put(None);
        assert!(puts.load(Ordering::Relaxed) >= 2, "the sync sent blobs");
        assert!(
            calls > 5,
            "the dialog was opened during the sync ({calls} times)"
        );
        assert!(
            slowest < Duration::from_secs(5),
            "one opening waited {slowest:?} for the journal"
        );
        assert_eq!(subfolders(&a), ["Big"]);
    });
}
