//! Bigger shapes: multi-chunk files, many small files, racing devices, interrupted syncs.

use std::collections::HashMap;
use std::time::Duration;

use confluence_emulator::FaultConfig;

use crate::util::{bytes, Device, Server};

const SMALL_CHUNKS: &str = "chunk-size = 1048576";

#[test]
fn a_multi_chunk_file_syncs_and_a_small_edit_resends_one_chunk() {
    let server = Server::start();
    let a = Device::ready_with(&server, SMALL_CHUNKS);
    let b = Device::ready_with(&server, SMALL_CHUNKS);
    let mut data = bytes(42, 5 * 1024 * 1024 + 123);
    a.write("video.bin", &data);
    a.sync();
    b.sync();
    assert_eq!(b.read("video.bin"), data, "the file arrives intact");

    server.emu().clear_requests();
    data[3 * 1024 * 1024 + 5] ^= 0xff; // one byte in the fourth chunk
    a.write("video.bin", &data);
    a.sync();
    let chunk_uploads: Vec<String> = server
        .emu()
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .flat_map(|r| r.file_names.clone())
        .filter(|n| n.starts_with("c-"))
        .collect();
    assert_eq!(
        chunk_uploads.len(),
        1,
        "only the changed chunk is sent again: {chunk_uploads:?}"
    );
    b.sync();
    assert_eq!(b.read("video.bin"), data, "the edit arrives");
}

#[test]
fn thousands_of_small_files_cost_a_few_requests() {
    let server = Server::start();
    let a = Device::ready(&server);
    let b = Device::ready(&server);
    for i in 0..2000 {
        a.write(
            &format!("d{}/file-{i}.txt", i % 20),
            format!("small file number {i}\n").as_bytes(),
        );
    }
    server.emu().clear_requests();
    a.sync();
    let posts = server
        .emu()
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert!(
        posts < 20,
        "2000 small files are packed: {posts} POST requests"
    );
    server.emu().clear_requests();
    b.sync();
    let gets = server
        .emu()
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .count();
    assert!(
        gets < 30,
        "and downloaded a pack at a time: {gets} GET requests"
    );
    assert_eq!(a.tree(), b.tree());
    let listings = server
        .emu()
        .requests()
        .iter()
        .filter(|r| {
            r.method == "GET"
                && r.path.ends_with("/child/attachment")
                && !r.query.contains("filename=")
        })
        .count();
    assert_eq!(listings, 0, "no full attachment listing per sync");
}

#[test]
fn two_devices_racing_on_the_commit_both_land() {
    let server = Server::start();
    let a = Device::ready(&server);
    let b = Device::ready(&server);
    for i in 0..50 {
        a.write(&format!("a/{i}.txt"), format!("a{i}").as_bytes());
        b.write(&format!("b/{i}.txt"), format!("b{i}").as_bytes());
    }
    let mut pa = a.cmd(&["sync"]).spawn().unwrap();
    let mut pb = b.cmd(&["sync"]).spawn().unwrap();
    assert!(pa.wait().unwrap().success(), "A's sync succeeds");
    assert!(pb.wait().unwrap().success(), "B's sync succeeds");
    a.sync();
    b.sync();
    assert_eq!(a.tree(), b.tree(), "neither overwrote the other's commit");
    assert_eq!(a.tree().len(), 102, "100 files and 2 folders");
}

#[test]
fn a_sync_killed_half_way_resumes_without_resending_chunks() {
    let server = Server::start();
    let a = Device::ready_with(&server, SMALL_CHUNKS);
    let data = bytes(9, 12 * 1024 * 1024);
    a.write("large.bin", &data);
    server.emu().set_faults(FaultConfig {
        latency_ms: 150,
        ..FaultConfig::default()
    });
    server.emu().clear_requests();
    let mut child = a.cmd(&["sync"]).spawn().unwrap();
    // Kill it once a few chunks are stored.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let stored = server
            .emu()
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.status == 200)
            .count();
        if stored >= 3 || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    let _ = child.wait();
    server.emu().set_faults(FaultConfig::default());

    a.sync();
    let mut posted: HashMap<String, usize> = HashMap::new();
    for r in server
        .emu()
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.status == 200)
    {
        for n in &r.file_names {
            *posted.entry(n.clone()).or_default() += 1;
        }
    }
    for (name, n) in &posted {
        if name.starts_with("c-") {
            assert_eq!(
                *n, 1,
                "chunk {name} stored once, not re-sent after the kill"
            );
        }
    }
    let b = Device::ready_with(&server, SMALL_CHUNKS);
    b.sync();
    assert_eq!(
        b.read("large.bin"),
        data,
        "the resumed upload is complete and correct"
    );
}

#[test]
fn a_file_over_100_mb_uses_the_default_chunk_size() {
    let server = Server::start();
    let a = Device::ready(&server);
    let b = Device::ready(&server);
    let data = bytes(100, 100_000_000 + 4096);
    a.write("disk.img", &data);
    a.sync();
    b.sync();
    assert!(
        b.read("disk.img") == data,
        "a file over 100 MB arrives intact"
    );
    let chunks = server
        .emu()
        .attachments(crate::util::PAGE)
        .into_iter()
        .filter(|a| a.title.starts_with("c-"))
        .count();
    assert_eq!(chunks, 2, "split into two chunk attachments");
}

#[test]
fn unreferenced_attachments_go_to_the_trash_only_after_the_grace_period() {
    let server = Server::start();
    let patient = Device::ready(&server); // default grace: a day
    patient.write("big.bin", &bytes(3, 5_000_000));
    patient.sync();
    std::fs::remove_file(patient.folder.join("big.bin")).unwrap();
    patient.sync();
    let chunks = |status: &str| {
        server
            .emu()
            .attachments(crate::util::PAGE)
            .into_iter()
            .filter(|a| a.title.starts_with("c-") && a.status == status)
            .count()
    };
    assert_eq!(
        chunks("current"),
        1,
        "within the grace period the chunk stays"
    );

    let eager = Device::ready_with(&server, "gc-grace-secs = 0");
    eager.write("other.bin", &bytes(4, 5_000_000));
    eager.sync();
    std::fs::remove_file(eager.folder.join("other.bin")).unwrap();
    eager.sync();
    assert_eq!(
        chunks("current"),
        0,
        "after the grace period unreferenced chunks are trashed"
    );
    assert_eq!(
        chunks("trashed"),
        2,
        "to the trash, where an admin can still restore them"
    );
    assert!(
        server
            .emu()
            .attachments(crate::util::PAGE)
            .iter()
            .any(|a| a.title.starts_with("s-") && a.status == "current"),
        "the file list the head names (its snapshot parts) is never collected"
    );
}
