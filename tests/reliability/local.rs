//! Local trouble on one device: its folder removed in the middle of a sync, and a full disk.
//! The rest of the folder syncs, failures are reported clearly, and nothing is deleted
//! remotely because of a local problem.

use std::process::{Command, Stdio};
use std::time::Duration;

use confluence_emulator::FaultConfig;

use crate::common::{converge, seed, stray_hidden, Ledger, Rng, SeedGuard, SMALL_CHUNKS};
use test_support::cli::{Device, Server};

#[test]
fn folder_removed_while_syncing_deletes_nothing_remotely() {
    let seed = seed();
    let _guard = SeedGuard("folder removal test", seed);
    let mut rng = Rng::new(seed);
    let server = Server::start();
    let a = Device::ready_with(&server, SMALL_CHUNKS);
    let b = Device::ready_with(&server, SMALL_CHUNKS);
    let mut ledger = Ledger::default();
    for i in 0..6 {
        ledger.write(&a, "a", &format!("keep/k{i}.txt"), 2_000, &mut rng);
    }
    converge(&[&a, &b], 1);
    for i in 0..3 {
        ledger.write(&a, "a", &format!("new{i}.bin"), 1_200_000, &mut rng);
    }
    server.emu().set_faults(FaultConfig {
        latency_ms: 30,
        ..FaultConfig::default()
    });
    let child = a
        .cmd(&["sync"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sync starts");
    // When the folder disappears is the fault being injected.
    std::thread::sleep(Duration::from_millis(50 + rng.range(0..500)));
    std::fs::remove_dir_all(&a.folder).expect("folder removed");
    let out = child.wait_with_output().expect("sync ends");
    assert_ne!(out.status.code(), Some(101), "panicked: {out:?}");
    server.emu().set_faults(FaultConfig::default());
    // The next sync of the device without its folder refuses clearly.
    let again = a.run(&["sync"]);
    assert!(
        !again.status.success(),
        "a sync without the folder succeeded"
    );
    let msg = String::from_utf8_lossy(&again.stderr).to_lowercase();
    assert!(
        msg.contains("missing") && msg.contains("nothing was deleted"),
        "{msg}"
    );
    // The other device still has every file.
    b.sync();
    for i in 0..6 {
        assert!(
            b.exists(&format!("keep/k{i}.txt")),
            "k{i} was deleted remotely"
        );
    }
    for (path, bytes) in b.tree().iter().filter(|(k, _)| !k.ends_with('/')) {
        let tag = crate::common::tag_of(bytes).expect("tagged");
        assert!(ledger.written.get(&tag) == Some(bytes), "{path} corrupted");
    }
}

/// A tmpfs mounted on a device's folder; unmounted on drop.
struct Mount(std::path::PathBuf);
impl Mount {
    fn tmpfs(at: &std::path::Path, size: &str) -> Option<Mount> {
        std::fs::create_dir_all(at).expect("mkdir");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then(|| Mount(at.to_path_buf()))
    }
    fn resize(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "remount");
    }
}
impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn disk_full_reports_and_the_rest_still_syncs() {
    let server = Server::start();
    let a = Device::ready_with(&server, SMALL_CHUNKS);
    let b = Device::ready_with(&server, SMALL_CHUNKS);
    let marker = b.folder.join(tunnel_core::sync::FOLDER_MARKER);
    let marker_bytes = std::fs::read(&marker).expect("marker written by add");
    let Some(mount) = Mount::tmpfs(&b.folder, "1m") else {
        eprintln!("SKIPPED disk_full: cannot mount a tmpfs here (needs root)");
        return;
    };
    std::fs::write(&marker, marker_bytes).expect("marker on the small disk");
    let mut ledger = Ledger::default();
    let mut rng = Rng::new(3);
    ledger.write(&a, "a", "small1.txt", 300, &mut rng);
    ledger.write(&a, "a", "big.bin", 2_500_000, &mut rng);
    ledger.write(&a, "a", "docs/small2.txt", 300, &mut rng);
    a.sync();
    let out = b.run(&["sync"]);
    assert_ne!(out.status.code(), Some(101), "panicked: {out:?}");
    let text = String::from_utf8_lossy(&out.stderr).to_lowercase()
        + &String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(
        text.contains("space") || text.contains("full"),
        "a full disk is not reported clearly: {text}"
    );
    assert!(!b.exists("big.bin"), "a partial big.bin landed");
    assert!(
        stray_hidden(&b.folder).is_empty(),
        "temporary files left on the full disk"
    );
    assert!(
        b.exists("small1.txt") && b.exists("docs/small2.txt"),
        "the files that fit did not sync: {:?}",
        b.tree().keys().collect::<Vec<_>>()
    );
    // Nothing was deleted remotely.
    a.sync();
    assert!(
        a.exists("big.bin"),
        "big.bin deleted because the disk of b was full"
    );
    mount.resize("8m");
    let tree = converge(&[&a, &b], 1);
    ledger.check(&tree);
}
