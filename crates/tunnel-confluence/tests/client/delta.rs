//! Delta upload of big files (issue 16, item 5) through the real client and a real socket: the
//! sync engine against the emulator, counted by the emulator's request log (counts, never
//! time). A 1-byte edit of a big file cut by content uploads one pack of at most two chunks in
//! at most 5 requests in all; another device downloads the file cut by content and checks it.
//! (The engine-level cases with the in-memory store are `tunnel-core/tests/engine/delta.rs`.)

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use confluence_emulator::LoggedRequest;
use tunnel_core::config::SyncSettings;
use tunnel_core::ids::{FolderId, PageId};
use tunnel_core::journal::Journal;
use tunnel_core::sync::{SyncOptions, Syncer};

use crate::{emulator, store, PAGE};

/// Chunks of 8 / 16 / 32 KiB (min / avg / max), packs of 128 KiB.
fn delta_settings() -> SyncSettings {
    SyncSettings {
        chunk_size: 256 * 1024,
        delta_chunk_size: 16 * 1024,
        pack_threshold: 4096,
        pack_target: 128 * 1024,
        parallel_transfers: 3,
        ..SyncSettings::default()
    }
}

/// The largest chunk of [`delta_settings`].
const MAX_CHUNK: u64 = 32 * 1024;

/// One device: its journal, folder and syncer.
struct Dev {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    syncer: Syncer,
    folder: FolderId,
}

impl Dev {
    fn new(id: &str) -> Dev {
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = tmp.path().join("Sync");
        std::fs::create_dir_all(&root).expect("mkdir root");
        let journal = Journal::open(&tmp.path().join("journal.db")).expect("journal");
        let page = PageId::parse(PAGE).expect("page id");
        let rec = journal.add_folder(&root, &page).expect("folder added");
        Syncer::mark_folder(&root, &rec.folder_uuid).expect("marker");
        let syncer = Syncer::new(
            Arc::new(Mutex::new(journal)),
            delta_settings(),
            id.to_string(),
        );
        Dev {
            _tmp: tmp,
            root,
            syncer,
            folder: rec.id,
        }
    }

    async fn sync(&self, store: &tunnel_confluence::ConfluenceStore) {
        let s = self
            .syncer
            .sync_folder(self.folder, store, &SyncOptions::default())
            .await
            .expect("sync");
        assert_eq!(s.skipped_unreadable, 0, "nothing failed: {s:?}");
    }
}

fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

/// Requests that change something on the server (uploads, the head's update, deletions).
fn writes(log: &[LoggedRequest]) -> Vec<&LoggedRequest> {
    log.iter()
        .filter(|r| !r.method.eq_ignore_ascii_case("GET") && !r.method.eq_ignore_ascii_case("HEAD"))
        .collect()
}

/// Uploads of data blobs (chunks and packs).
fn data_uploads(log: &[LoggedRequest]) -> Vec<&LoggedRequest> {
    log.iter()
        .filter(|r| {
            r.file_names
                .iter()
                .any(|n| n.starts_with("m-") || n.starts_with("c-"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_byte_edit_of_a_big_file_uploads_one_small_pack_in_a_few_requests() {
    let emu = emulator().await;
    let store = store(&emu);
    let a = Dev::new("a");
    let b = Dev::new("b");
    let original = noise(4 * 1024 * 1024, 1);
    std::fs::write(a.root.join("big.bin"), &original).expect("write");
    a.sync(&store).await;
    let first = emu.requests();
    let first_bytes: u64 = data_uploads(&first).iter().map(|r| r.bytes_in).sum();
    assert!(
        first_bytes >= original.len() as u64,
        "the first upload sends the whole file: {first_bytes} bytes"
    );
    assert!(
        data_uploads(&first).len() >= 30,
        "4 MiB in packs of 128 KiB: {} uploads",
        data_uploads(&first).len()
    );
    b.sync(&store).await;
    assert_eq!(
        std::fs::read(b.root.join("big.bin")).expect("b has it"),
        original,
        "the other device downloads the file cut by content, checked chunk by chunk"
    );

    let mut edited = original.clone();
    edited[2_500_000] ^= 0x01;
    std::fs::write(a.root.join("big.bin"), &edited).expect("edit");
    emu.clear_requests();
    a.sync(&store).await;
    let log = emu.requests();
    let show = || {
        log.iter()
            .map(|r| format!("{} {} {} bytes in", r.method, r.path, r.bytes_in))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let data = data_uploads(&log);
    let data_bytes: u64 = data.iter().map(|r| r.bytes_in).sum();
    eprintln!(
        "1-byte edit: {} data upload(s) of {data_bytes} bytes; {} writing requests of {}",
        data.len(),
        writes(&log).len(),
        log.len()
    );
    assert_eq!(
        data.len(),
        1,
        "one pack holds the changed chunks:\n{}",
        show()
    );
    assert!(
        data_bytes <= 2 * MAX_CHUNK + 4096,
        "at most two chunks (and the multipart envelope) go up: {data_bytes} bytes\n{}",
        show()
    );
    assert!(
        writes(&log).len() <= 5,
        "the pack, the file list's delta and the head: {} writing requests\n{}",
        writes(&log).len(),
        show()
    );
    // Issue 16 item 5 counts every request: the head read, the writes above, and no look-up
    // after the commit of what this very sync just created (`sync/fresh_blobs.rs`).
    assert!(
        log.len() <= 5,
        "at most 5 requests in all, GETs included: {}\n{}",
        log.len(),
        show()
    );

    b.sync(&store).await;
    assert_eq!(
        std::fs::read(b.root.join("big.bin")).expect("b has it"),
        edited,
        "the other device assembles the new version from old and new chunks"
    );
}
