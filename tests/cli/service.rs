//! The background service (issue 4): two devices, each running `sber-tunnel start`, exchange
//! changes by themselves; status over the control socket; pause/resume; stop and restart in
//! the middle of work; one service per configuration.

use std::time::{Duration, Instant};

use confluence_emulator::FaultConfig;

use test_support::cli::{Device, RunningService, Server};
use test_support::seed::bytes;
use test_support::wait::wait_for;

/// Fast polling so a test does not wait 30 s for the remote side.
const FAST: &str = "poll-interval-secs = 1";

const WAIT: Duration = Duration::from_secs(90);

#[test]
fn two_running_services_exchange_changes_by_themselves() {
    let server = Server::start();
    let a = Device::ready_with(&server, FAST);
    let b = Device::ready_with(&server, FAST);
    let _sa = RunningService::start(&a);
    let _sb = RunningService::start(&b);

    a.write("from-a.txt", b"hello from A");
    wait_for("A's new file on B", WAIT, || {
        b.exists("from-a.txt") && b.read("from-a.txt") == b"hello from A"
    });

    b.write("from-a.txt", b"edited on B");
    b.write("docs/new.md", b"# new");
    wait_for("B's edit on A", WAIT, || {
        a.exists("docs/new.md") && a.read("from-a.txt") == b"edited on B"
    });

    std::fs::remove_file(a.folder.join("docs/new.md")).unwrap();
    wait_for("A's deletion on B", WAIT, || !b.exists("docs/new.md"));
    wait_for("both trees equal", WAIT, || a.tree() == b.tree());
}

#[test]
fn status_comes_from_the_running_service_and_a_second_one_is_refused() {
    let server = Server::start();
    let a = Device::ready_with(&server, FAST);
    let out = a.ok(&["status"]);
    assert!(out.contains("not running"), "no service yet: {out}");
    let _s = RunningService::start(&a);
    let out = a.ok(&["--json", "status"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["service"].is_object(),
        "live status over the socket: {out}"
    );
    assert_eq!(v["service"]["folders"].as_array().map(|f| f.len()), Some(1));
    let out = a.ok(&["status"]);
    assert!(
        out.contains("Service:    running") && out.contains("Next check: "),
        "the live state for a person: {out}"
    );

    let second = a.run(&["run"]);
    assert!(
        !second.status.success(),
        "a second service on the same configuration is refused"
    );
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("already running"),
        "with a clear message: {err}"
    );

    // `sync` while the service runs is handed to the service instead of racing it.
    let out = a.ok(&["sync"]);
    assert!(out.contains("running sync service"), "{out}");
}

#[test]
fn pause_and_resume_are_obeyed_and_remembered() {
    let server = Server::start();
    let a = Device::ready_with(&server, FAST);
    let b = Device::ready_with(&server, FAST);
    let _sb = RunningService::start(&b);
    {
        let _sa = RunningService::start(&a);
        a.ok(&["pause"]);
        let out = a.ok(&["--json", "status"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["service"]["state"], "paused", "{out}");
    }
    // Restarted: still paused (remembered in the journal).
    let _sa = RunningService::start(&a);
    let out = a.ok(&["--json", "status"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["service"]["state"], "paused",
        "pause survives a restart: {out}"
    );
    a.write("while-paused.txt", b"waiting");
    a.ok(&["resume"]);
    wait_for(
        "the file written while paused reaches B after resume",
        WAIT,
        || b.exists("while-paused.txt"),
    );
}

/// Issue 12: a request the running service refuses exits with the code of what went wrong —
/// the code the same request gets without a service — not 1 whatever it was.
#[test]
fn a_refusal_from_the_running_service_exits_with_the_code_of_its_error() {
    let server = Server::start();
    let a = Device::ready_with(&server, FAST);
    let elsewhere = tempfile::tempdir().unwrap();
    let not_synced = elsewhere.path().to_str().unwrap();
    let stderr = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();

    let alone = a.run(&["pause", not_synced]);
    assert_eq!(
        alone.status.code(),
        Some(2),
        "without a service: exit 2 = a folder that is not synced: {}",
        stderr(&alone)
    );

    let _s = RunningService::start(&a);
    let asked = a.run(&["pause", not_synced]);
    assert_eq!(
        asked.status.code(),
        Some(2),
        "the service's refusal keeps its code: {}",
        stderr(&asked)
    );
    assert!(
        stderr(&asked).contains("is not a synced folder"),
        "and its message: {}",
        stderr(&asked)
    );

    let out = a.run(&["--json", "resume", not_synced]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["code"].as_str(), v["exit_code"].as_u64()),
        (Some("invalid"), Some(2)),
        "a script sees the same code name the app uses: {v}"
    );
    let status = a.ok(&["--json", "status"]);
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_ne!(
        v["service"]["state"], "paused",
        "the refused pause changed nothing: {status}"
    );
}

#[test]
fn a_service_stopped_mid_upload_finishes_after_a_restart() {
    let server = Server::start();
    let a = Device::ready_with(&server, &format!("{FAST}\nchunk-size = 1048576"));
    let b = Device::ready_with(&server, FAST);
    let data = bytes(77, 8 * 1024 * 1024);
    server.emu().set_faults(FaultConfig {
        latency_ms: 200,
        ..FaultConfig::default()
    });
    {
        let _sa = RunningService::start(&a);
        a.write("big.bin", &data);
        wait_for("a chunk upload to begin", WAIT, || {
            server.emu().requests().iter().any(|r| {
                // A chunk blob, or a pack of the chunks of a file cut by content.
                r.method == "POST"
                    && r.file_names
                        .iter()
                        .any(|n| n.starts_with("c-") || n.starts_with("m-"))
            })
        });
        // Dropping the guard runs `stop` in the middle of the upload.
    }
    server.emu().set_faults(FaultConfig::default());
    let _sa = RunningService::start(&a);
    let _sb = RunningService::start(&b);
    wait_for("the whole file on B", WAIT, || {
        b.exists("big.bin") && b.read("big.bin") == data
    });
}

#[test]
fn the_live_status_shows_a_transfer_while_it_runs() {
    let server = Server::start();
    let a = Device::ready_with(&server, &format!("{FAST}\nchunk-size = 1048576"));
    let data = bytes(78, 16 * 1024 * 1024);
    // Slow requests: sixteen chunk uploads take a few seconds.
    server.emu().set_faults(FaultConfig {
        latency_ms: 300,
        ..FaultConfig::default()
    });
    let _sa = RunningService::start(&a);
    a.write("big.bin", &data);
    wait_for("progress in the live status", WAIT, || {
        let out = a.ok(&["--json", "status"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        let live = &v["service"];
        live["state"] == "syncing"
            && live["transfer"]["bytes_total"].as_u64() == Some(data.len() as u64)
            && live["transfer"]["files_total"].as_u64() == Some(1)
            && live["folders"][0]["pending_bytes"]
                .as_u64()
                .is_some_and(|p| p > 0)
    });
    wait_for("progress for a person", WAIT, || {
        let out = a.ok(&["status"]);
        out.contains("Transfer:   ") && out.contains(" of 1 files") && out.contains("syncing (")
    });
    server.emu().set_faults(FaultConfig::default());
    wait_for("the upload to finish", WAIT, || {
        let out = a.ok(&["--json", "status"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        v["service"]["state"] == "idle" && v["service"]["transfer"].is_null()
    });
}

/// What the running service reports over its socket (`status --json`'s `service`): Null when
/// no service answers.
fn live(d: &Device) -> serde_json::Value {
    let out = d.run(&["--json", "status"]);
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .map(|mut v| v["service"].take())
        .unwrap_or_default()
}

/// The live state a running service reports over its socket (`offline`, `idle`, …).
fn service_state(d: &Device) -> Option<String> {
    live(d)["state"].as_str().map(str::to_owned)
}

#[test]
fn a_service_says_offline_while_the_server_is_down_and_recovers_by_itself() {
    let data = tempfile::tempdir().expect("data dir");
    let mut server = Server::start_with(|b| b.data_dir(data.path()));
    let a = Device::ready_with(&server, FAST);
    let b = Device::ready_with(&server, FAST);
    let _sa = RunningService::start(&a);
    a.write("before.txt", b"synced while the server was up");
    wait_for("A's first file on the server", WAIT, || {
        b.run(&["sync"]).status.success() && b.exists("before.txt")
    });

    // The server goes away (a network outage, a Confluence restart) while A keeps working.
    let addr = server.emu().addr();
    let old = server.emu.take().expect("running");
    server.rt.block_on(old.shutdown());
    a.write("while-down.txt", b"written while the server was down");
    wait_for("A's service to say it is offline", WAIT, || {
        service_state(&a).as_deref() == Some("offline")
    });

    // Back on the same address with the same data: no one touches A, its change still arrives.
    let restarted = server.rt.block_on(
        confluence_emulator::Emulator::builder()
            .user(test_support::cli::USER, test_support::cli::PASSWORD)
            .page(test_support::cli::PAGE)
            .page("777")
            .data_dir(data.path())
            .listen(addr)
            .spawn(),
    );
    server.emu = Some(restarted.expect("the emulator restarts on the same port and data"));
    wait_for("A's change made while offline to reach B", WAIT, || {
        b.run(&["sync"]).status.success() && b.exists("while-down.txt")
    });
    assert_eq!(
        b.read("while-down.txt"),
        b"written while the server was down"
    );
    wait_for("A's service to be back to normal", WAIT, || {
        matches!(service_state(&a).as_deref(), Some("idle") | Some("syncing"))
    });
}

#[test]
fn a_folder_watched_by_polling_says_so_and_still_syncs_its_changes() {
    let server = Server::start();
    // `watch = "poll"` takes the path the service falls back to when the system's limit on
    // watches is reached (which a test cannot bring about without root).
    let a = Device::ready_with(&server, &format!("{FAST}\nwatch = \"poll\""));
    let b = Device::ready_with(&server, FAST);
    let _sa = RunningService::start(&a);
    let _sb = RunningService::start(&b);
    wait_for("A's catch-up sync, watched by polling", WAIT, || {
        let f = &live(&a)["folders"][0];
        f["watch"] == "polling" && f["state"] == "idle" && f["last_sync_at"].is_i64()
    });
    let human = a.ok(&["status"]);
    assert!(
        human.contains("local changes found by polling every 15 s"),
        "{human}"
    );
    let b_live = live(&b);
    assert_eq!(b_live["folders"][0]["watch"], "native", "{b_live}");
    assert!(!b.ok(&["status"]).contains("polling"));

    // Written well after the first sync: only the poller (or a 10-minute rescan) can see it.
    a.write("noticed-by-polling.txt", b"found by a listing");
    wait_for("A's polled change on B", WAIT, || {
        b.exists("noticed-by-polling.txt")
    });
}

/// The files under `root` (hidden names left out), tolerating files that a running service
/// moves or deletes while they are being read: `None` when the walk met one.
fn settled_files(root: &std::path::Path) -> Option<std::collections::BTreeMap<String, Vec<u8>>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).ok()?.flatten() {
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let rel = e
                .path()
                .strip_prefix(root)
                .ok()?
                .to_string_lossy()
                .to_string();
            if e.file_type().ok()?.is_dir() {
                stack.push(e.path());
            } else {
                out.insert(rel, std::fs::read(e.path()).ok()?);
            }
        }
    }
    Some(out)
}

/// Two running services while both users keep working (each in a part of the folder of its
/// own, so every outcome is known): files created, edited, renamed and deleted on both sides
/// at a steady pace, with the services' debounce, watchers, polls and commits racing each other.
/// When the users stop, both folders settle on exactly what the users left, on both devices.
/// `SBER_TUNNEL_SOAK_SECS` (default 12) sets how long the users work, `SBER_TUNNEL_SEED` replays
/// a run's operations.
#[test]
fn two_services_under_steady_work_on_both_sides_end_with_exactly_what_the_users_left() {
    let secs: u64 = std::env::var("SBER_TUNNEL_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let server = Server::start();
    let devices = [
        Device::ready_with(&server, FAST),
        Device::ready_with(&server, FAST),
    ];
    let _running: Vec<RunningService> = devices.iter().map(RunningService::start).collect();
    let mut expected: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
    // A new sequence of operations each run; SBER_TUNNEL_SEED replays one.
    let seed: u64 = std::env::var("SBER_TUNNEL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    let mut state = seed | 1;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut counter = 0u64;
    while Instant::now() < deadline {
        let who = next(2) as usize;
        let d = &devices[who];
        let mine: Vec<String> = expected
            .keys()
            .filter(|k| k.starts_with(&format!("dev{who}/")))
            .cloned()
            .collect();
        counter += 1;
        let len = if next(10) == 0 {
            150_000
        } else {
            50 + next(4_000) as usize
        };
        let content = bytes(counter, len);
        match (next(10), mine.is_empty()) {
            (0..=4, _) | (_, true) => {
                let rel = format!("dev{who}/d{}/f{counter}.bin", next(3));
                d.write(&rel, &content);
                expected.insert(rel, content);
            }
            (5..=6, false) => {
                let rel = &mine[next(mine.len() as u64) as usize];
                d.write(rel, &content);
                expected.insert(rel.clone(), content);
            }
            (7..=8, false) => {
                let rel = mine[next(mine.len() as u64) as usize].clone();
                std::fs::remove_file(d.folder.join(&rel)).expect("delete");
                expected.remove(&rel);
            }
            _ => {
                let from = mine[next(mine.len() as u64) as usize].clone();
                let to = format!("dev{who}/moved/m{counter}.bin");
                std::fs::create_dir_all(d.folder.join(format!("dev{who}/moved"))).expect("mkdir");
                std::fs::rename(d.folder.join(&from), d.folder.join(&to)).expect("rename");
                let v = expected.remove(&from).expect("tracked");
                expected.insert(to, v);
            }
        }
        std::thread::sleep(Duration::from_millis(30 + next(200)));
    }
    let summary = |m: &std::collections::BTreeMap<String, Vec<u8>>| -> Vec<(String, usize)> {
        m.iter().map(|(k, v)| (k.clone(), v.len())).collect()
    };
    for (i, d) in devices.iter().enumerate() {
        let deadline = Instant::now() + WAIT;
        loop {
            if settled_files(&d.folder).as_ref() == Some(&expected) {
                break;
            }
            if Instant::now() > deadline {
                panic!(
                    "device {i} did not settle on what the users left after {counter} operations \
                     (replay with SBER_TUNNEL_SEED={seed})\nexpected: {:?}\nfound: {:?}",
                    summary(&expected),
                    settled_files(&d.folder).as_ref().map(summary)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    eprintln!(
        "soak seed {seed}: {counter} operations over {secs} s, {} files at the end",
        expected.len()
    );
}

#[test]
fn a_folder_that_was_unmounted_and_mounted_again_is_watched_again() {
    let server = Server::start();
    let a = Device::ready_with(&server, FAST);
    let b = Device::ready(&server);
    let _sa = RunningService::start(&a);
    let folder_state = |d: &Device| live(d)["folders"][0]["state"].clone();
    a.write("sub/before.txt", b"synced before the unmount");
    wait_for("A's first file on B", WAIT, || {
        b.run(&["sync"]).status.success() && b.exists("sub/before.txt")
    });

    // Unmounted: the folder is gone, and the service says so when it next looks.
    let aside = a.folder.with_file_name("Sync-unmounted");
    std::fs::rename(&a.folder, &aside).unwrap();
    a.ok(&["sync"]);
    wait_for("A's service to report the missing folder", WAIT, || {
        folder_state(&a) == "error"
    });

    // Mounted again: the same files under a new root directory (a new inode, as after a real
    // mount), and the person asks for a sync.
    std::fs::create_dir(&a.folder).unwrap();
    for entry in std::fs::read_dir(&aside).unwrap() {
        let entry = entry.unwrap();
        std::fs::rename(entry.path(), a.folder.join(entry.file_name())).unwrap();
    }
    std::fs::remove_dir(&aside).unwrap();
    a.ok(&["sync"]);
    wait_for("A's folder to be synced again", WAIT, || {
        folder_state(&a) == "idle"
    });

    // A change in the new root reaches B by itself: the folder is watched again (without a
    // new watch only the 10-minute rescan would find it).
    a.write("after.txt", b"written after the mount");
    wait_for("A's change after the mount on B", WAIT, || {
        b.run(&["sync"]).status.success() && b.exists("after.txt")
    });
}

/// Issue 12: `start` does not wait out its deadline for a service that has already ended: a
/// service that cannot start (here: its client certificate is gone) ends at once, and `start`
/// says so and exits with the service's own code (3: fix the configuration), not 1.
#[test]
fn start_reports_a_service_that_ended_at_once_with_its_exit_code() {
    let server = Server::start();
    let d = Device::ready(&server);
    let cfg = d.config.join("config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let missing = d.config.join("gone.p12");
    let line = format!("p12 = {:?}", missing.to_str().unwrap());
    std::fs::write(
        &cfg,
        test_support::cli::insert_into_section(&text, "remote", &line),
    )
    .unwrap();
    let out = d.run(&["start"]);
    let _ = d.run(&["stop"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "the service's own exit code (3 = fix the configuration): {stderr}"
    );
    assert!(
        stderr.contains("stopped at once"),
        "says the service ended: {stderr}"
    );
}
