//! kill -9 of `sber-tunnel --cli sync` at seeded random moments.
//!
//! Each trial changes one or both devices, starts `sync` on one with an emulator latency of
//! 0–40 ms per request (so scan, upload, commit and download each take long enough to be hit),
//! waits a seeded random delay within the length of a whole sync and sends SIGKILL. Then the
//! restarted sync runs with the same latency (its length adapts the kill window), then the
//! latency is removed and the other device and the victim sync once each. After every trial:
//! - the killed device's journal opens cleanly (and `status` succeeds, every tenth trial);
//! - both devices hold the same tree, with no partial download left behind;
//! - every file holds, byte for byte, content some device wrote, and every content no user
//!   overwrote or deleted is still there.
//!
//! `SBER_TUNNEL_CRASH_TRIALS` sets the number of trials (default 50); `SBER_TUNNEL_SEED`
//! replays a seed.

use std::process::Stdio;
use std::time::{Duration, Instant};

use confluence_emulator::FaultConfig;

use crate::common::{converge, env_num, seed, Ledger, Rng, SeedGuard, SMALL_CHUNKS};
use test_support::cli::{Device, Server};

#[test]
fn kill_during_sync_then_every_device_converges() {
    let seed = seed();
    let _guard = SeedGuard("crash test", seed);
    let trials = env_num("SBER_TUNNEL_CRASH_TRIALS", 50);
    let mut rng = Rng::new(seed);
    let server = Server::start();
    let a = Device::ready_with(&server, SMALL_CHUNKS);
    let b = Device::ready_with(&server, SMALL_CHUNKS);
    let devs = [("a", &a), ("b", &b)];
    let mut ledger = Ledger::default();
    // Upper bound of the kill delay: the longest complete sync seen so far.
    let mut window = Duration::from_millis(600);
    let (mut killed, mut finished_first) = (0u64, 0u64);
    for trial in 0..trials {
        let victim = rng.index(2);
        let (name, dev) = devs[victim];
        ledger.mutate(dev, name, 1 + rng.index(4), &mut rng);
        if rng.chance(0.3) {
            // The other device changed too: the restarted sync also downloads and may conflict.
            let (oname, odev) = devs[1 - victim];
            ledger.mutate(odev, oname, 1 + rng.index(3), &mut rng);
            if rng.chance(0.5) {
                odev.sync();
            }
        }
        server.emu().set_faults(FaultConfig {
            seed: seed ^ trial,
            latency_ms: rng.range(0..40),
            ..FaultConfig::default()
        });
        // Within the first three quarters of a typical sync: `window` runs long on purpose
        // (a quarter above the average), and a delay beyond the sync's end injects nothing
        // (about 4 runs in 100 ended with fewer than half the trials killed).
        let delay = Duration::from_millis(rng.range(0..window.as_millis() as u64 * 3 / 4 + 1));
        let mut child = dev
            .cmd(&["sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sync starts");
        // The delay is the fault being injected (when to kill), not a synchronisation.
        std::thread::sleep(delay);
        match child.try_wait().expect("child status") {
            Some(_) => finished_first += 1,
            None => {
                child.kill().expect("SIGKILL");
                child.wait().expect("reaped");
                killed += 1;
            }
        }
        let j = tunnel_core::journal::Journal::open(&dev.config.join("journal.db"))
            .unwrap_or_else(|e| panic!("trial {trial}: journal does not open: {e}"));
        j.folders()
            .unwrap_or_else(|e| panic!("trial {trial}: journal unreadable: {e}"));
        drop(j);
        if trial % 10 == 0 {
            dev.ok(&["status"]);
        }
        // The restart, still slow: its length keeps the kill window near a whole sync.
        let restart = Instant::now();
        dev.sync();
        window = ((window + restart.elapsed()) / 2 + restart.elapsed() / 4)
            .clamp(Duration::from_millis(300), Duration::from_secs(3));
        server.emu().set_faults(FaultConfig::default());
        // The other device picks up the restarted work, then the victim picks up theirs.
        let tree = converge(&[devs[1 - victim].1, dev], 1);
        ledger.check(&tree);
    }
    eprintln!(
        "crash seed {seed}: {trials} trials, {killed} killed mid-sync, {finished_first} finished \
         before the kill, {} contents written, files lost: 0",
        ledger.written.len()
    );
    assert!(
        killed * 2 >= trials,
        "most trials must really kill a running sync"
    );
}
