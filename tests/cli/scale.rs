//! Bigger shapes: multi-chunk files, many small files, racing devices, interrupted syncs.

use std::collections::HashMap;
use std::time::Duration;

use confluence_emulator::FaultConfig;

use test_support::cli::{Device, Server};
use test_support::seed::bytes;

/// Chunks of 1 MiB cut at the chunk size (content-defined chunking off: these tests count
/// `c-` chunk blobs; big files cut by content are tested in tunnel-core's `delta` tests, the
/// client's `delta` test and `scripts/bench --delta`).
const SMALL_CHUNKS: &str = "chunk-size = 1048576\ndelta-chunk-size = 0";

/// History off: deleted content is garbage at once (issue 16 keeps it for 30 days by default);
/// files cut at the chunk size (the tests count `c-` chunk blobs).
const NO_HISTORY: &str = "history-keep-days = 0\ndelta-chunk-size = 0";

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
    // Content-defined chunking off: the file is cut at the default chunk size.
    let a = Device::ready_with(&server, "delta-chunk-size = 0");
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
        .attachments(test_support::cli::PAGE)
        .into_iter()
        .filter(|a| a.title.starts_with("c-"))
        .count();
    assert_eq!(chunks, 2, "split into two chunk attachments");
}

#[test]
fn unreferenced_attachments_go_to_the_trash_only_after_the_grace_period() {
    let server = Server::start();
    // Default grace (a day); no history, which would keep the deleted file's chunk on purpose.
    let patient = Device::ready_with(&server, NO_HISTORY);
    patient.write("big.bin", &bytes(3, 5_000_000));
    patient.sync();
    std::fs::remove_file(patient.folder.join("big.bin")).unwrap();
    patient.sync();
    let chunks = |status: &str| {
        server
            .emu()
            .attachments(test_support::cli::PAGE)
            .into_iter()
            .filter(|a| a.title.starts_with("c-") && a.status == status)
            .count()
    };
    assert_eq!(
        chunks("current"),
        1,
        "within the grace period the chunk stays"
    );

    let eager = Device::ready_with(&server, NO_HISTORY);
    eager.write("other.bin", &bytes(4, 5_000_000));
    sync_collecting_at_once(&eager);
    std::fs::remove_file(eager.folder.join("other.bin")).unwrap();
    sync_collecting_at_once(&eager);
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
            .attachments(test_support::cli::PAGE)
            .iter()
            .any(|a| a.title.starts_with("s-") && a.status == "current"),
        "the file list the head names (its snapshot parts) is never collected"
    );
}

/// `sync` with no garbage-collection grace: below the product minimum of an hour, which only a
/// debug build lets a test set (`SBER_TUNNEL_TEST_GC_GRACE_SECS`).
fn sync_collecting_at_once(d: &Device) {
    let out = d
        .cmd(&["sync"])
        .env(tunnel_core::config::TEST_GC_GRACE_ENV, "0")
        .output()
        .expect("binary runs");
    assert!(
        out.status.success(),
        "sync failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Attach `bytes` as `name` to the page the way a person's browser would (one multipart POST),
/// bypassing sber-tunnel entirely.
fn attach_by_hand(server: &Server, name: &str, bytes: &[u8]) {
    use std::io::{Read, Write};
    let addr = server.emu().addr();
    let boundary = "----by-hand-7f3a";
    let mut body: Vec<u8> = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let auth = base64(
        format!(
            "{}:{}",
            test_support::cli::USER,
            test_support::cli::PASSWORD
        )
        .as_bytes(),
    );
    let head = format!(
        "POST /rest/api/content/{}/child/attachment HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Basic {auth}\r\nX-Atlassian-Token: no-check\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        test_support::cli::PAGE,
        body.len()
    );
    let mut conn = std::net::TcpStream::connect(addr).expect("connect to the emulator");
    conn.write_all(head.as_bytes()).expect("send");
    conn.write_all(&body).expect("send");
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "attaching {name} by hand: {}",
        answer.lines().next().unwrap_or("")
    );
}

fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in input.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn attachments_a_person_added_to_the_page_survive_garbage_collection() {
    let server = Server::start();
    let hex = "ab".repeat(32);
    let by_hand = [
        "c-section.pdf".to_string(),
        "P-1.jpg".to_string(),
        "d-2024-plan.docx".to_string(),
        format!("C-{}", hex.to_ascii_uppercase()),
        format!("p-{hex}.png"),
    ];
    for name in &by_hand {
        attach_by_hand(&server, name, b"a person's own file");
    }
    let d = Device::ready_with(&server, NO_HISTORY);
    d.write("big.bin", &bytes(5, 3_000_000));
    d.write("small.txt", b"small");
    sync_collecting_at_once(&d);
    std::fs::remove_file(d.folder.join("big.bin")).unwrap();
    std::fs::remove_file(d.folder.join("small.txt")).unwrap();
    sync_collecting_at_once(&d);
    let atts = server.emu().attachments(test_support::cli::PAGE);
    assert!(
        atts.iter()
            .any(|a| a.title.starts_with("m-") && a.status == "trashed"),
        "the collector ran and trashed our own pack: {atts:?}"
    );
    for name in &by_hand {
        let a = atts
            .iter()
            .find(|a| &a.title == name)
            .unwrap_or_else(|| panic!("{name} is on the page"));
        assert_eq!(a.status, "current", "{name}, attached by hand, was trashed");
    }
}
