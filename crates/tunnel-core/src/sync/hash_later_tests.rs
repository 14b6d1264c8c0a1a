//! New files the scan leaves for their upload to hash (`hash_later`, issue 15): they arrive
//! intact with the hash of the bytes sent, the next scan finds them in its cache, and a file
//! whose hash the plan needs (the same path added elsewhere, a possible copy) is hashed by
//! the scan as before.

use super::test_device::{runtime, Device};
use super::*;
use crate::remote::memory::MemoryStore;

/// A file's bytes, `len` long, unique to `seed`.
fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_mul(31).wrapping_add((i % 251) as u8))
        .collect()
}

#[test]
fn new_files_hashed_by_their_upload_arrive_intact_and_are_cached() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let (a, b) = (Device::new("dev-a"), Device::new("dev-b"));
        std::fs::create_dir_all(a.root.join("docs")).expect("mkdir");
        let files = [
            ("docs/one.txt", bytes(1, 300)),
            ("docs/two.txt", bytes(2, 301)),
            ("three.bin", bytes(3, 70_000)),
        ];
        for (rel, data) in &files {
            a.write(rel, data);
        }
        let s = a.sync(&store).await;
        assert_eq!(s.uploaded, 4, "three files and a folder: {s:?}");
        assert_eq!(
            a.syncer.left_unhashed_for_tests(),
            3,
            "none was read by the scan"
        );

        // The page holds the right hashes: the other device verifies each file it receives.
        let s = b.sync(&store).await;
        assert_eq!(s.downloaded, 4, "{s:?}");
        for (rel, data) in &files {
            assert_eq!(b.read(rel).as_deref(), Some(&data[..]), "{rel}");
        }

        // Each file's cache row is what hashing it gives: the next scan reads none of them.
        let rows = cache_rows(&a);
        for (rel, _) in &files {
            let h = crate::chunk::hash_file(&a.root.join(rel), a.syncer.settings.chunk_size)
                .expect("hash");
            assert_row_is(&rows, rel, &h);
        }
        assert_rescan_reads_nothing(&a, rows);
    });
}

/// `d`'s scan-cache rows.
fn cache_rows(d: &Device) -> HashMap<RelPath, crate::journal::CachedHash> {
    d.syncer
        .journal()
        .lock()
        .expect("journal")
        .scan_cache(d.folder)
        .expect("rows")
}

/// The row of `rel` in `rows` is what hashing the file gave (`h`).
fn assert_row_is(
    rows: &HashMap<RelPath, crate::journal::CachedHash>,
    rel: &str,
    h: &crate::chunk::FileHashes,
) {
    let row = rows.get(&RelPath::new(rel).expect("path")).expect("a row");
    assert_eq!(
        (row.size, row.mtime_ns, row.inode, row.sha256, &row.chunks),
        (h.size, h.mtime_ns, h.inode, h.sha256, &h.chunks),
        "{rel}"
    );
}

/// A scan of `d`'s folder with `rows` reads no file (and leaves none unhashed).
fn assert_rescan_reads_nothing(d: &Device, rows: HashMap<RelPath, crate::journal::CachedHash>) {
    let (scan, _) = crate::scan::scan_folder_reusing(
        &d.root,
        rows,
        &d.syncer.scan_options(),
        Some(&|new: &[(&RelPath, u64)]| vec![true; new.len()]),
    )
    .expect("scan");
    assert_eq!((scan.hashed, scan.unhashed), (0, 0));
}

#[test]
fn the_same_file_added_on_two_devices_is_compared_not_conflicted() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let (a, b) = (Device::new("dev-a"), Device::new("dev-b"));
        let same = bytes(7, 4_000);
        a.write("report.pdf", &same);
        b.write("report.pdf", &same);
        a.sync(&store).await;
        assert_eq!(a.syncer.left_unhashed_for_tests(), 1);
        // B's new file has the page's name: the scan hashes it, the plan finds it the same.
        let s = b.sync(&store).await;
        assert_eq!(b.syncer.left_unhashed_for_tests(), 0);
        assert_eq!((s.conflicts, s.uploaded, s.downloaded), (0, 0, 0), "{s:?}");
        let names: Vec<_> = std::fs::read_dir(&b.root)
            .expect("list")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        assert_eq!(names, vec!["report.pdf".to_string()], "no conflict copy");

        // Different content under one new name on both: a conflict, both kept.
        a.write("notes.txt", &bytes(8, 500));
        b.write("notes.txt", &bytes(9, 600));
        a.sync(&store).await;
        let s = b.sync(&store).await;
        assert_eq!(s.conflicts, 1, "{s:?}");
    });
}

#[test]
fn a_copy_of_a_file_on_the_page_is_hashed_by_the_scan_and_not_sent_again() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let (a, b) = (Device::new("dev-a"), Device::new("dev-b"));
        let data = bytes(5, 9_000);
        a.write("original.dat", &data);
        a.sync(&store).await;
        // B's first sync (the full path): a copy of the page's file, and a new file. A file
        // of a size the page holds may be a copy, so the scan hashes it and the upload
        // re-uses the page's bytes; the other waits for its upload.
        b.write("copy.dat", &data);
        b.write("fresh.dat", &bytes(6, 9_001));
        let s = b.sync(&store).await;
        assert_eq!(b.syncer.left_unhashed_for_tests(), 1);
        assert_eq!((s.uploaded, s.bytes_up), (2, 9_001), "{s:?}");
        a.sync(&store).await;
        assert_eq!(a.read("copy.dat").as_deref(), Some(&data[..]));
        assert_eq!(a.read("fresh.dat").as_deref(), Some(&bytes(6, 9_001)[..]));
    });
}

#[test]
fn on_a_disk_that_folds_case_a_new_name_the_page_has_in_another_case_is_hashed() {
    runtime().block_on(async {
        let folding = crate::name_rules::NameRules {
            case_insensitive: true,
            normalization_insensitive: false,
            windows_reserved: false,
        };
        let store = MemoryStore::new();
        let a = Device::new("dev-a");
        let mut b = Device::new("dev-b");
        b.syncer = b.syncer.clone().with_name_rules_for_tests(folding);
        let theirs = bytes(4, 4_096);
        let mine = bytes(5, 5_000);
        a.write("Report.txt", &theirs);
        a.sync(&store).await;
        // B's report.txt (another size) is the page's Report.txt on its disk: the plan
        // settles the two names, so the scan hashes it rather than leave it to its upload.
        b.write("report.txt", &mine);
        b.sync(&store).await;
        assert_eq!(b.syncer.left_unhashed_for_tests(), 0);
        // Both contents live on, on both devices.
        a.sync(&store).await;
        for d in [&a, &b] {
            let held: Vec<Vec<u8>> = std::fs::read_dir(&d.root)
                .expect("list")
                .filter_map(|e| e.ok())
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .filter_map(|e| std::fs::read(e.path()).ok())
                .collect();
            assert!(
                held.contains(&theirs) && held.contains(&mine),
                "{}",
                d.root.display()
            );
        }
    });
}

/// Chunks of 2 to 8 KiB cut by content above 8 KiB, small files whole in packs up to 1 KiB,
/// packs of 32 KiB.
fn delta_settings() -> SyncSettings {
    SyncSettings {
        chunk_size: 64 * 1024,
        delta_chunk_size: 4096,
        pack_threshold: 1024,
        pack_target: 32 * 1024,
        ..SyncSettings::default()
    }
}

#[test]
fn a_new_big_file_is_read_once_by_its_upload_cut_as_the_scan_would_and_cached() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = Device::with_settings("dev-a", delta_settings());
        let b = Device::with_settings("dev-b", delta_settings());
        let big = test_support::seed::bytes(1, 300 * 1024);
        let small = bytes(2, 500);
        a.write("big.bin", &big);
        a.write("small.txt", &small);
        let s = a.sync(&store).await;
        assert_eq!(s.uploaded, 2, "{s:?}");
        assert_eq!(
            a.syncer.left_unhashed_for_tests(),
            2,
            "the scan read neither"
        );
        assert_eq!(s.bytes_up, (big.len() + small.len()) as u64, "{s:?}");

        // Its entry on the page is what hashing it gives, chunk by chunk.
        let chunking = crate::chunk::Chunking::new(64 * 1024, 4096);
        let h = crate::chunk::hash_file_with(&a.root.join("big.bin"), &chunking).expect("hash");
        let tree = a
            .syncer
            .journal()
            .lock()
            .expect("journal")
            .remote_cache(a.folder)
            .expect("cache")
            .expect("a tree");
        let e = tree
            .files
            .get(&RelPath::new("big.bin").expect("path"))
            .expect("its entry");
        assert_eq!(e.sha256, Some(h.sha256));
        let chunks: Vec<(Digest, u64)> = e.chunks.iter().map(|c| (c.sha256, c.size)).collect();
        let want: Vec<(Digest, u64)> = h.chunks.iter().map(|c| (c.sha256, c.size)).collect();
        assert!(want.len() > 30, "cut by content: {} chunks", want.len());
        assert_eq!(chunks, want);

        // Another device verifies and receives it.
        b.sync(&store).await;
        assert_eq!(b.read("big.bin").as_deref(), Some(&big[..]));
        assert_eq!(b.read("small.txt").as_deref(), Some(&small[..]));

        // Its cache row is the scan's: the next scan reads nothing.
        let rows = cache_rows(&a);
        assert_row_is(&rows, "big.bin", &h);
        let s = a.sync(&store).await;
        assert_eq!((s.uploaded, s.bytes_up), (0, 0), "{s:?}");
        assert_rescan_reads_nothing(&a, rows);
    });
}

#[test]
fn an_edited_copy_of_a_big_file_on_the_page_sends_only_the_chunks_it_changed() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = Device::with_settings("dev-a", delta_settings());
        let original = test_support::seed::bytes(4, 300 * 1024);
        a.write("film.mov", &original);
        a.sync(&store).await;
        // Another device holds an edited copy, saved under another name with 1 KiB inserted
        // at its start, when it first syncs (the full path): another size, so no plan needs
        // its hash, and its upload finds the page's chunks as it reads.
        let b = Device::with_settings("dev-b", delta_settings());
        let mut edited = test_support::seed::bytes(5, 1024);
        edited.extend_from_slice(&original);
        b.write("film (edited).mov", &edited);
        let s = b.sync(&store).await;
        assert_eq!(
            b.syncer.left_unhashed_for_tests(),
            1,
            "the scan did not read it"
        );
        assert_eq!((s.uploaded, s.downloaded), (1, 1), "{s:?}");
        // The first chunks, until the cut points fall where they fell in the original (chunks
        // of 8 KiB at most): a few, of the 37 or so the file has.
        assert!(
            s.bytes_up <= 5 * 8192,
            "only the chunks around the insertion: {} bytes of {}",
            s.bytes_up,
            edited.len()
        );
        a.sync(&store).await;
        assert_eq!(a.read("film (edited).mov").as_deref(), Some(&edited[..]));
        assert_eq!(b.read("film.mov").as_deref(), Some(&original[..]));
    });
}

#[test]
fn two_new_big_files_sharing_content_send_it_once() {
    runtime().block_on(async {
        let store = MemoryStore::new();
        let a = Device::with_settings("dev-a", delta_settings());
        let one = test_support::seed::bytes(6, 200 * 1024);
        let mut two = one.clone();
        two.extend_from_slice(&test_support::seed::bytes(7, 20 * 1024));
        a.write("one.bin", &one);
        a.write("two.bin", &two);
        let s = a.sync(&store).await;
        assert_eq!(a.syncer.left_unhashed_for_tests(), 2);
        assert!(
            s.bytes_up <= (two.len() + 2 * 8192) as u64,
            "the shared bytes once: {} bytes for {} + {}",
            s.bytes_up,
            one.len(),
            two.len()
        );
        let b = Device::with_settings("dev-b", delta_settings());
        b.sync(&store).await;
        assert_eq!(b.read("one.bin").as_deref(), Some(&one[..]));
        assert_eq!(b.read("two.bin").as_deref(), Some(&two[..]));
    });
}
