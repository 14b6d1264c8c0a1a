//! Issue 17 item 4, honest progress, end to end: a running service's `status` reports the
//! bytes and files to go, the speed and the file in transfer while a download crawls through
//! a slow link (the emulator's bandwidth and latency options), and why the folder waits when
//! the server rate-limits it.

use std::time::Duration;

use confluence_emulator::FaultConfig;

use test_support::cli::{Device, RunningService, Server};
use test_support::seed::bytes;
use test_support::wait::wait_for;

const FAST: &str = "poll-interval-secs = 1\nchunk-size = 1048576";
const WAIT: Duration = Duration::from_secs(90);

fn live(d: &Device) -> serde_json::Value {
    let out = d.run(&["--json", "status"]);
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .map(|mut v| v["service"].take())
        .unwrap_or_default()
}

#[test]
fn status_reports_bytes_to_go_speed_and_file_then_the_rate_limit_it_waits_for() {
    let server = Server::start();
    let a = Device::ready_with(&server, FAST);
    let b = Device::ready_with(&server, FAST);
    let data = bytes(91, 6 * 1024 * 1024);
    a.write("big.bin", &data);
    a.ok(&["sync"]);

    // A slow link: 512 KiB/s with latency, so B's download of 6 MiB takes about 12 seconds.
    server.emu().set_faults(FaultConfig {
        latency_ms: 100,
        bandwidth_bytes_per_sec: Some(512 * 1024),
        ..FaultConfig::default()
    });
    let _sb = RunningService::start(&b);
    // Both views are watched in one loop: the download lasts a few seconds only, and a busy
    // machine answers each `status` slowly, so waiting for one view and then the other could
    // miss the window.
    let (mut seen_json, mut seen_text) = (false, false);
    wait_for(
        "bytes to go, a speed and the file in the live status and in `status`",
        WAIT,
        || {
            let s = live(&b);
            let p = &s["folders"][0]["progress"];
            seen_json |= s["state"] == "syncing"
                && p["bytes_to_go"]
                    .as_u64()
                    .is_some_and(|n| n > 0 && n < data.len() as u64)
                && p["files_to_go"].as_u64() == Some(1)
                && p["current_file"] == "big.bin"
                && p["bytes_per_sec"].as_u64().is_some_and(|r| r > 0)
                && s["progress"]["bytes_to_go"] == p["bytes_to_go"];
            let out = b.ok(&["status"]);
            seen_text |= out.contains("syncing (1 file, ")
                && out.contains(" to go")
                && out.contains("big.bin");
            seen_json && seen_text
        },
    );
    wait_for("the download to finish", WAIT, || {
        b.exists("big.bin") && b.read("big.bin") == data
    });

    // The server starts answering 429 with a Retry-After longer than the client waits in a
    // request: the service backs off for that long and says why.
    server.emu().set_faults(FaultConfig {
        rate_limit_share: 1.0,
        retry_after_secs: Some(3600),
        ..FaultConfig::default()
    });
    wait_for(
        "the rate limit as the reason the folder waits",
        WAIT,
        || {
            let s = live(&b);
            let w = &s["folders"][0]["waiting"];
            w["kind"] == "rate-limited"
                && w["retry_at"].as_i64().is_some_and(|t| {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs() as i64);
                    t > now + 3000
                })
        },
    );
    let out = b.ok(&["status"]);
    assert!(
        out.contains("waiting: the server's rate limit, retrying in 59 min")
            || out.contains("waiting: the server's rate limit, retrying in 1 h"),
        "a person reads why and until when: {out}"
    );
    server.emu().set_faults(FaultConfig::default());
}
