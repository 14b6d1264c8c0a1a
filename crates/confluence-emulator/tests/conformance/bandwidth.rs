//! The bandwidth caps (test knobs, off by default): the upload cap throttles request bodies,
//! shared caps are one link for all connections, and uncapped servers account nothing.
//! Asserted through the emulator's own accounting and lower bounds on time only (a busy
//! machine can only make things slower, never faster than the cap allows). Also the request
//! log file that benchmarks count requests with.

use std::time::{Duration, Instant};

use confluence_emulator::FaultConfig;

use crate::util::{self, C, PAGE};

const RATE: u64 = 4_000_000;

#[tokio::test]
async fn the_upload_cap_throttles_request_bodies_and_accounts_for_them() {
    let emu = util::start().await;
    let c = C::alice(&emu);
    c.upload_one("free.bin", &[1u8; 100_000]).await;
    assert_eq!(
        emu.upload_cap_stats().bytes,
        0,
        "no cap by default: nothing passes through one"
    );
    emu.set_faults(FaultConfig {
        upload_bandwidth_bytes_per_sec: Some(RATE),
        ..FaultConfig::default()
    });
    let data = vec![7u8; 2_000_000];
    let start = Instant::now();
    c.upload_one("capped.bin", &data).await;
    let took = start.elapsed();
    let stats = emu.upload_cap_stats();
    assert!(
        stats.bytes > data.len() as u64,
        "the whole multipart body went through the cap: {stats:?}"
    );
    // 2 MB at 4 MB/s is 0.5 s; the burst allowance is 0.05 s of the rate.
    assert!(
        stats.waited >= Duration::from_millis(400),
        "the cap held the body back: {stats:?}"
    );
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert_eq!(
        emu.download_cap_stats().bytes,
        0,
        "responses are not capped by the upload cap"
    );
    let got = c
        .get(&format!("/download/attachments/{PAGE}/capped.bin"))
        .await
        .bytes()
        .await
        .unwrap();
    assert!(got == data, "the capped upload stored the same bytes");
}

#[tokio::test]
async fn a_shared_cap_is_one_link_for_parallel_uploads() {
    let emu = util::start().await;
    emu.set_faults(FaultConfig {
        upload_bandwidth_bytes_per_sec: Some(RATE),
        shared_bandwidth: true,
        ..FaultConfig::default()
    });
    let c = C::alice(&emu);
    let data = vec![9u8; 1_000_000];
    let start = Instant::now();
    let (a, b) = tokio::join!(c.upload_one("a.bin", &data), c.upload_one("b.bin", &data));
    assert_ne!(a, b);
    let took = start.elapsed();
    // Two bodies of 1 MB through one 4 MB/s link: at least 0.5 s minus the burst, where two
    // links of their own would have taken 0.25 s.
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(emu.upload_cap_stats().bytes > 2_000_000);
}

#[tokio::test]
async fn the_download_cap_accounts_for_response_bodies() {
    let emu = util::start().await;
    let c = C::alice(&emu);
    c.upload_one("d.bin", &[5u8; 1_000_000]).await;
    emu.set_faults(FaultConfig {
        bandwidth_bytes_per_sec: Some(RATE),
        shared_bandwidth: true,
        ..FaultConfig::default()
    });
    let start = Instant::now();
    let got = c
        .get(&format!("/download/attachments/{PAGE}/d.bin"))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.len(), 1_000_000);
    assert!(start.elapsed() >= Duration::from_millis(190));
    let stats = emu.download_cap_stats();
    assert!(stats.bytes >= 1_000_000, "{stats:?}");
    assert!(stats.waited >= Duration::from_millis(190), "{stats:?}");
    assert_eq!(emu.upload_cap_stats().bytes, 0);
}

#[tokio::test]
async fn the_request_log_file_lists_every_request_as_it_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("requests.log");
    let emu = util::builder()
        .request_log(&path)
        .spawn()
        .await
        .expect("emulator starts");
    let c = C::alice(&emu);
    c.upload_one("x.bin", b"x").await;
    let r = c
        .get(&format!("/rest/api/content/{PAGE}?expand=version"))
        .await;
    assert_eq!(r.status(), 200);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        vec![
            format!("POST /rest/api/content/{PAGE}/child/attachment"),
            format!("GET /rest/api/content/{PAGE}?expand=version"),
        ],
        "{text}"
    );
    assert_eq!(lines.len(), emu.requests().len());
}
