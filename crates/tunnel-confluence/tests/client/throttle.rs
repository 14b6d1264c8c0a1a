//! Bandwidth limits against the emulator: limited uploads and downloads round-trip intact, go
//! through the client's shared limiter (its counters prove it), cannot beat the limit (a lower
//! bound on elapsed time that no slow machine can break), and retried bytes count again.
//! Downloads time their own reads (so the limiter's waits are no timeout): a server that goes
//! silent before or during an answer is still given up on.

use std::time::{Duration, Instant};

use confluence_emulator::{FaultKind, ScriptedFault};
use tunnel_confluence::{BandwidthLimits, ThrottleStats};
use tunnel_core::hash::Digest;
use tunnel_core::remote::{BlobSource, RemoteStore};

use crate::*;

/// 1 MiB/s; the limiter's burst is one second's worth.
const RATE: u64 = 1024 * 1024;

/// Time `bytes` need at least at `RATE` when the bucket starts full (burst = `RATE`).
fn at_least(bytes: u64) -> Duration {
    Duration::from_secs_f64(bytes.saturating_sub(RATE) as f64 / RATE as f64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limited_transfers_round_trip_through_the_shared_limiter() {
    let emu = emulator().await;
    let client = client(&emu);
    // Set through a clone: every clone shares the same limiter.
    client.clone().set_bandwidth_limits(BandwidthLimits {
        upload_bytes_per_sec: RATE,
        download_bytes_per_sec: RATE,
    });
    assert_eq!(client.bandwidth_limits().upload_bytes_per_sec, RATE);
    assert_eq!(client.bandwidth_limits().download_bytes_per_sec, RATE);

    let len = 5 * RATE / 2; // 2.5 MiB: at least 1.5 s each way
    let data = bytes_of(usize::try_from(len).unwrap(), 9);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    std::fs::write(&path, &data).unwrap();
    let blob = name("limited.bin");

    let started = Instant::now();
    client
        .store(PAGE)
        .put_blob(
            &blob,
            BlobSource::File {
                path: path.clone(),
                offset: 0,
                len,
                sha256: Digest::of(&data),
            },
        )
        .await
        .unwrap();
    let up_time = started.elapsed();
    let up = client.upload_throttle_stats();
    assert_eq!(
        up.bytes, len,
        "every file byte went through the upload limiter"
    );
    assert!(
        up_time >= at_least(len),
        "the upload beat the limit: {up_time:?}"
    );

    let started = Instant::now();
    let other_store = client.clone().store(PAGE);
    let got = download(&other_store, &blob, None, None).await.unwrap();
    let down_time = started.elapsed();
    assert!(got == data, "the download is the upload, byte for byte");
    let down = client.download_throttle_stats();
    assert_eq!(
        down.bytes, len,
        "every body byte went through the download limiter"
    );
    assert!(
        down_time >= at_least(len),
        "the download beat the limit: {down_time:?}"
    );
    assert_eq!(
        client.upload_throttle_stats(),
        up,
        "downloads are not counted as uploads"
    );
}

#[tokio::test]
async fn unlimited_transfers_bypass_the_limiter() {
    let emu = emulator().await;
    let client = client(&emu);
    assert_eq!(client.bandwidth_limits(), BandwidthLimits::UNLIMITED);
    let s = client.store(PAGE);
    let blob = name("free.bin");
    let data = bytes_of(600_000, 3);
    s.put_blob(&blob, BlobSource::Bytes(data.clone()))
        .await
        .unwrap();
    assert!(download(&s, &blob, None, None).await.unwrap() == data);
    assert_eq!(client.upload_throttle_stats(), ThrottleStats::default());
    assert_eq!(client.download_throttle_stats(), ThrottleStats::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_of_a_cut_upload_count_again_when_retried() {
    let emu = emulator().await;
    let client = client(&emu);
    // High enough to keep the test quick: the point is the accounting.
    client.set_bandwidth_limits(BandwidthLimits {
        upload_bytes_per_sec: 64 * RATE,
        download_bytes_per_sec: 0,
    });
    let s = client.store(PAGE);
    let blob = name("cut-then-sent.bin");
    let data = bytes_of(400_000, 5);
    emu.fail_next(ScriptedFault::new(
        Some("POST"),
        "/child/attachment",
        FaultKind::ResetMidBody,
        1,
    ));
    s.put_blob(&blob, BlobSource::Bytes(data.clone()))
        .await
        .unwrap();
    let up = client.upload_throttle_stats();
    assert!(
        up.bytes > data.len() as u64,
        "the half sent before the cut and the full retry both count: {up:?}"
    );
    assert!(
        up.bytes <= 2 * data.len() as u64,
        "one cut attempt and one full one: {up:?}"
    );
    assert!(download(&s, &blob, None, None).await.unwrap() == data);
    assert_eq!(
        client.download_throttle_stats(),
        ThrottleStats::default(),
        "no download limit, nothing counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_in_the_download_limiter_is_not_a_read_timeout() {
    let emu = emulator().await;
    let blob = name("slowly.bin");
    let data = bytes_of(32 * 1024, 7);
    store(&emu)
        .put_blob(&blob, BlobSource::Bytes(data.clone()))
        .await
        .unwrap();
    // At 4 KiB/s every network read of 8 KiB or more waits 2 s or more in the limiter before
    // the next read, longer than the 1 s timeout; with a read timeout that ran from the last
    // read instead of timing the reads themselves, this download could never finish.
    let mut cfg = settings(&emu.base_url(), basic(USER, PASSWORD));
    cfg.timeout = Duration::from_secs(1);
    let client = ConfluenceClient::new(cfg).unwrap();
    client.set_bandwidth_limits(BandwidthLimits {
        upload_bytes_per_sec: 0,
        download_bytes_per_sec: 4 * 1024,
    });
    let started = Instant::now();
    let got = download(&client.store(PAGE), &blob, None, None)
        .await
        .unwrap();
    assert!(got == data);
    let stats = client.download_throttle_stats();
    assert_eq!(stats.bytes, data.len() as u64, "one attempt, no retry");
    // 32 KiB with a 16 KiB burst at 4 KiB/s.
    assert!(started.elapsed() >= Duration::from_secs(4));
    let gets = requests_to(&emu, Some("GET"), "/download/");
    assert_eq!(gets.len(), 1, "no timeout, no resumed request: {gets:?}");
}

#[tokio::test]
async fn a_silent_server_still_times_out_a_download() {
    let emu = emulator().await;
    let blob = name("late.bin");
    store(&emu)
        .put_blob(&blob, BlobSource::Bytes(bytes_of(1000, 1)))
        .await
        .unwrap();
    let mut cfg = settings(&emu.base_url(), basic(USER, PASSWORD));
    cfg.timeout = Duration::from_millis(300);
    let client = ConfluenceClient::new(cfg).unwrap();
    emu.fail_next(ScriptedFault::new(
        Some("GET"),
        "/download/",
        FaultKind::Latency(3000),
        100,
    ));
    let err = download(&client.store(PAGE), &blob, None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, tunnel_core::remote::RemoteError::Unreachable(m) if m.contains("timed out")),
        "{err}"
    );
}

#[tokio::test]
async fn a_download_stalled_mid_body_times_out_and_resumes_from_where_it_stopped() {
    let body = "x".repeat(100_000);
    let answer = body.clone();
    let stub = crate::stub::Stub::spawn(move |_, _| crate::stub::StubReply {
        stall_after: Some(40_000),
        ..crate::stub::StubReply::json(answer.clone())
    })
    .await;
    let mut cfg = settings(&stub.base, basic(USER, PASSWORD));
    cfg.timeout = Duration::from_millis(300);
    cfg.retry = tunnel_confluence::RetryPolicy {
        max_attempts: 2,
        ..fast_retry()
    };
    let client = ConfluenceClient::new(cfg).unwrap();
    let err = download(&client.store(PAGE), &name("stalls.bin"), None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, tunnel_core::remote::RemoteError::Unreachable(m) if m.contains("timed out")),
        "{err}"
    );
    let gets = stub.requests();
    assert_eq!(
        gets.len(),
        2,
        "the stalled answer was retried once: {gets:?}"
    );
    assert_eq!(gets[0].range, None);
    assert_eq!(
        gets[1].range.as_deref(),
        Some("bytes=40000-99999"),
        "the retry asks only for what is missing"
    );
}
