//! Server faults injected by the emulator while the real binary syncs.
//!
//! Every sync either completes or exits with a clear error (non-zero exit code, a message on
//! stderr, no panic); after every attempt each synced folder holds only intact content some
//! device wrote (no partial or corrupted file, no leftover temporary file once a sync ran);
//! once the fault is gone the next syncs finish the work and nothing written is lost.
//!
//! `SBER_TUNNEL_FAULT_ROUNDS` sets the rounds of the seeded random-fault test (default 8).

use std::process::{Output, Stdio};
use std::time::Duration;

use confluence_emulator::{Emulator, FaultConfig, FaultKind, ScriptedFault};

use crate::common::{converge, env_num, seed, stray_hidden, Ledger, Rng, SeedGuard, SMALL_CHUNKS};
use test_support::cli::{Device, Server, PAGE, PASSWORD, USER};

/// The outcome of a sync under faults is a success or a clear, non-panicking error.
fn assert_clear_outcome(out: &Output, what: &str) -> bool {
    if out.status.success() {
        return true;
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(101),
        "{what}: the binary panicked: {stderr}"
    );
    assert!(
        out.status.code().is_some(),
        "{what}: killed by a signal: {stderr}"
    );
    assert!(
        !stderr.trim().is_empty(),
        "{what}: failed with no message (exit {:?})",
        out.status.code()
    );
    assert!(!stderr.contains("panicked"), "{what}: panic: {stderr}");
    false
}

/// Every visible file on `dev` is intact content from `ledger` (nothing torn or corrupted).
fn assert_intact(ledger: &Ledger, dev: &Device, what: &str) {
    for (path, bytes) in dev.tree().iter().filter(|(k, _)| !k.ends_with('/')) {
        let tag = crate::common::tag_of(bytes)
            .unwrap_or_else(|| panic!("{what}: {path} holds foreign bytes"));
        let orig = ledger
            .written
            .get(&tag)
            .unwrap_or_else(|| panic!("{what}: {path} holds unknown content {tag}"));
        assert!(
            orig == bytes,
            "{what}: {path} is a partial or corrupted copy of {tag}"
        );
    }
}

#[test]
fn seeded_random_faults_never_leave_a_partial_file() {
    let seed = seed();
    let _guard = SeedGuard("random fault test", seed);
    let rounds = env_num("SBER_TUNNEL_FAULT_ROUNDS", 8);
    let mut rng = Rng::new(seed);
    let server = Server::start();
    let a = Device::ready_with(&server, SMALL_CHUNKS);
    let b = Device::ready_with(&server, SMALL_CHUNKS);
    let mut ledger = Ledger::default();
    server.emu().set_faults(FaultConfig {
        seed,
        error_5xx_share: 0.06,
        rate_limit_share: 0.02,
        retry_after_secs: Some(1),
        reset_mid_body_share: 0.05,
        truncate_download_share: 0.15,
        drop_after_store_share: 0.03,
        // A proxy's 404 (HTML, empty, a gateway's JSON) is an error to retry, never "the
        // page's data is gone" nor "already deleted".
        foreign_not_found_share: 0.03,
        max_faults: Some(12 * rounds),
        ..FaultConfig::default()
    });
    let (mut ok, mut failed) = (0, 0);
    for round in 0..rounds {
        for (name, dev) in [("a", &a), ("b", &b)] {
            ledger.mutate(dev, name, 1 + rng.index(3), &mut rng);
            let out = dev.run(&["sync"]);
            if assert_clear_outcome(&out, &format!("round {round}, device {name}")) {
                ok += 1;
            } else {
                failed += 1;
            }
            assert_intact(&ledger, &a, &format!("round {round} after {name}"));
            assert_intact(&ledger, &b, &format!("round {round} after {name}"));
            let stray = stray_hidden(&dev.folder);
            assert!(
                stray.is_empty(),
                "round {round}: partial files left: {stray:?}"
            );
        }
    }
    let injected = server.emu().faults_injected();
    server.emu().set_faults(FaultConfig::default());
    let tree = converge(&[&a, &b], 2);
    ledger.check(&tree);
    eprintln!(
        "fault seed {seed}: {rounds} rounds, {injected} faults injected, {ok} syncs completed, \
         {failed} stopped with an error, files lost: 0"
    );
    assert!(injected > 0, "the emulator injected no fault");
}

#[test]
fn persistent_5xx_stops_with_a_clear_error_after_bounded_retries() {
    let server = Server::start();
    let a = Device::ready(&server);
    let b = Device::ready(&server);
    a.write("report.txt", b"<a#1>quarterly");
    server.emu().clear_requests();
    server.emu().set_faults(FaultConfig {
        error_5xx_share: 1.0,
        ..FaultConfig::default()
    });
    let out = a.run(&["sync"]);
    assert!(!assert_clear_outcome(&out, "sync against a failing server"));
    let requests = server.emu().requests().len();
    assert!(
        requests <= 20,
        "retries must be bounded: {requests} requests against a server that always fails"
    );
    server.emu().set_faults(FaultConfig::default());
    a.sync();
    b.sync();
    assert_eq!(b.read("report.txt"), b"<a#1>quarterly");
}

#[test]
fn rate_limit_with_retry_after_is_waited_out() {
    let server = Server::start();
    let a = Device::ready(&server);
    let b = Device::ready(&server);
    a.write("notes.txt", b"<a#1>notes");
    server.emu().fail_next(ScriptedFault::new(
        None,
        "",
        FaultKind::RateLimited { retry_after: 1 },
        2,
    ));
    a.sync();
    server.emu().fail_next(ScriptedFault::new(
        Some("GET"),
        "/download/",
        FaultKind::RateLimited { retry_after: 1 },
        1,
    ));
    b.sync();
    assert_eq!(b.read("notes.txt"), b"<a#1>notes");
    assert_eq!(server.emu().faults_injected(), 3);
}

#[test]
fn rate_limit_block_by_an_admin_stops_at_once() {
    let server = Server::start();
    let a = Device::ready(&server);
    a.write("notes.txt", b"<a#1>notes");
    server.emu().clear_requests();
    server.emu().fail_next(ScriptedFault::new(
        None,
        "",
        FaultKind::RateLimited {
            retry_after: 9_223_372_036_854_775_807,
        },
        50,
    ));
    let out = a.run(&["sync"]);
    assert!(!assert_clear_outcome(&out, "sync while blocked"));
    assert!(
        server.emu().requests().len() <= 3,
        "a blocked user must not be retried: {} requests",
        server.emu().requests().len()
    );
}

/// One scripted fault on uploads or downloads, then the sync and the next one.
fn scripted_transfer_fault(method: &str, path: &str, kind: FaultKind, times: u32) {
    let server = Server::start();
    let a = Device::ready_with(&server, SMALL_CHUNKS);
    let b = Device::ready_with(&server, SMALL_CHUNKS);
    let mut ledger = Ledger::default();
    let mut rng = Rng::new(7);
    ledger.write(&a, "a", "big.bin", 2_300_000, &mut rng);
    ledger.write(&a, "a", "docs/small.txt", 300, &mut rng);
    ledger.write(&a, "a", "docs/mid.txt", 90_000, &mut rng);
    let on_upload = method == "POST";
    if on_upload {
        server
            .emu()
            .fail_next(ScriptedFault::new(Some(method), path, kind.clone(), times));
    }
    // Each attempt completes or stops clearly; once the scripted faults are used up, a sync
    // completes.
    let mut attempts = 0;
    while !assert_clear_outcome(&a.run(&["sync"]), "upload under a fault") {
        attempts += 1;
        assert!(
            attempts <= times,
            "uploads still fail after the faults are gone"
        );
    }
    if !on_upload {
        server
            .emu()
            .fail_next(ScriptedFault::new(Some(method), path, kind.clone(), times));
    }
    let mut attempts = 0;
    loop {
        let ok = assert_clear_outcome(&b.run(&["sync"]), "download under a fault");
        assert_intact(&ledger, &b, "after a faulty download");
        assert!(stray_hidden(&b.folder).is_empty(), "partial download left");
        if ok {
            eprintln!("{kind:?} on {method} {path} x{times}: {attempts} download syncs stopped");
            break;
        }
        attempts += 1;
        assert!(
            attempts <= times,
            "downloads still fail after the faults are gone"
        );
    }
    assert!(
        server.emu().faults_injected() >= 1,
        "{kind:?} on {method} {path} was never injected"
    );
    let tree = converge(&[&a, &b], 1);
    ledger.check(&tree);
}

#[test]
fn connection_reset_mid_upload() {
    scripted_transfer_fault("POST", "/child/attachment", FaultKind::ResetMidBody, 2);
}

#[test]
fn answer_lost_after_the_upload_was_stored() {
    scripted_transfer_fault("POST", "/child/attachment", FaultKind::DropAfterStore, 2);
}

#[test]
fn connection_reset_mid_download() {
    scripted_transfer_fault("GET", "/download/", FaultKind::ResetMidBody, 2);
}

#[test]
fn truncated_download_bodies() {
    scripted_transfer_fault("GET", "/download/", FaultKind::TruncateBody, 3);
}

#[test]
fn truncated_download_bodies_beyond_the_retries() {
    scripted_transfer_fault("GET", "/download/", FaultKind::TruncateBody, 12);
}

#[test]
fn slow_server_still_completes() {
    let server = Server::start();
    let a = Device::ready_with(&server, SMALL_CHUNKS);
    let b = Device::ready_with(&server, SMALL_CHUNKS);
    let mut ledger = Ledger::default();
    let mut rng = Rng::new(11);
    ledger.write(&a, "a", "slow.bin", 1_500_000, &mut rng);
    ledger.write(&a, "a", "x.txt", 100, &mut rng);
    server.emu().set_faults(FaultConfig {
        latency_ms: 150,
        bandwidth_bytes_per_sec: Some(2_000_000),
        ..FaultConfig::default()
    });
    a.sync();
    b.sync();
    let tree = converge(&[&a, &b], 1);
    ledger.check(&tree);
}

#[test]
fn emulator_restarted_in_the_middle_of_a_sync() {
    let seed = seed();
    let _guard = SeedGuard("restart test", seed);
    let mut rng = Rng::new(seed);
    let data = tempfile::tempdir().expect("data dir");
    let mut server = Server::start_with(|b| b.data_dir(data.path()));
    let a = Device::ready_with(&server, SMALL_CHUNKS);
    let b = Device::ready_with(&server, SMALL_CHUNKS);
    let mut ledger = Ledger::default();
    for i in 0..4 {
        ledger.write(&a, "a", &format!("f{i}.bin"), 1_200_000, &mut rng);
    }
    ledger.write(&b, "b", "from-b.txt", 500, &mut rng);
    server.emu().set_faults(FaultConfig {
        latency_ms: 30,
        ..FaultConfig::default()
    });
    let addr = server.emu().addr();
    let child = a
        .cmd(&["sync"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sync starts");
    // When the server goes away is the fault being injected.
    std::thread::sleep(Duration::from_millis(100 + rng.range(0..600)));
    let old = server.emu.take().expect("running");
    server.rt.block_on(old.shutdown());
    let restarted = server.rt.block_on(
        Emulator::builder()
            .user(USER, PASSWORD)
            .page(PAGE)
            .page("777")
            .data_dir(data.path())
            .listen(addr)
            .spawn(),
    );
    server.emu = Some(restarted.expect("the emulator restarts on the same port and data"));
    let out = child.wait_with_output().expect("sync ends");
    assert_clear_outcome(&out, "sync across a server restart");
    assert_intact(&ledger, &a, "after the restart");
    let tree = converge(&[&a, &b], 2);
    ledger.check(&tree);
}
