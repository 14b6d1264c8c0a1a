//! Secrets never leak: after `init` and a full sync (with trace logging), no password or
//! token — nor the Basic `Authorization` value derived from it — appears in the log files,
//! in any output, in config.toml or anywhere else in the configuration folder except the
//! secrets file, which is 0600. A sync that fails on authentication does not echo the secret.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use test_support::cli::{Device, Server, PAGE, PASSWORD, USER};

const TOKEN: &str = "pat-NjQ3MzI1ODk0-Zx9tokenvalue";

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Every file under `dir` except `skip`, with its bytes.
fn files_under(dir: &Path, skip: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if e.file_name().to_string_lossy() != skip {
                out.push((
                    p.display().to_string(),
                    std::fs::read(&p).unwrap_or_default(),
                ));
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn assert_no_secret(what: &str, bytes: &[u8], secrets: &[String]) {
    for s in secrets {
        assert!(!contains(bytes, s), "{what} contains the secret {s:?}");
    }
}

fn outputs(outs: &[Output]) -> Vec<u8> {
    let mut all = Vec::new();
    for o in outs {
        all.extend_from_slice(&o.stdout);
        all.extend_from_slice(&o.stderr);
    }
    all
}

/// Check the configuration folder of `d` after a run.
fn check_config_dir(d: &Device, secrets: &[String]) {
    let secrets_file = d.config.join("secrets.toml");
    if secrets_file.exists() {
        let mode = std::fs::metadata(&secrets_file)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "secrets.toml is {:o}", mode & 0o777);
    }
    let config = std::fs::read(d.config.join("config.toml")).expect("config.toml");
    assert_no_secret("config.toml", &config, secrets);
    let files = files_under(&d.config, "secrets.toml");
    let logs: Vec<_> = files.iter().filter(|(p, _)| p.contains("/logs/")).collect();
    assert!(
        logs.iter().any(|(_, b)| !b.is_empty()),
        "a full sync wrote no log under {}/logs",
        d.config.display()
    );
    for (path, bytes) in &files {
        assert_no_secret(path, bytes, secrets);
    }
}

#[test]
fn password_is_in_no_log_output_or_config() {
    let server = Server::start();
    let d = Device::ready(&server);
    let other = Device::ready(&server);
    other.write("from-other.txt", b"hi");
    other.sync();
    d.write("a.txt", b"content");
    let run = |args: &[&str]| {
        d.cmd(args)
            .env_remove("SBER_TUNNEL_PASSWORD")
            .env("RUST_LOG", "trace")
            .output()
            .expect("runs")
    };
    let outs = vec![
        run(&["sync"]),
        run(&["--json", "sync"]),
        run(&["status"]),
        run(&["--json", "status"]),
    ];
    assert!(
        outs[0].status.success(),
        "sync with the stored password: {outs:?}"
    );
    assert_eq!(d.read("from-other.txt"), b"hi");
    assert_eq!(base64(b"alice:s3cret-pw"), "YWxpY2U6czNjcmV0LXB3");
    let secrets = vec![
        PASSWORD.to_string(),
        base64(format!("{USER}:{PASSWORD}").as_bytes()),
    ];
    assert_no_secret("output", &outputs(&outs), &secrets);
    check_config_dir(&d, &secrets);
}

#[test]
fn a_rejected_password_is_not_echoed() {
    let server = Server::start();
    let d = Device::ready(&server);
    d.write("a.txt", b"content");
    let wrong = "Wr0ng-Secret-Value";
    // Replace the stored secret with a wrong one through a fresh init.
    let init = d
        .cmd(&[
            "init",
            "--url",
            &server.url(),
            "--username",
            USER,
            "--page-id",
            PAGE,
        ])
        .env("SBER_TUNNEL_PASSWORD", wrong)
        .env("RUST_LOG", "trace")
        .output()
        .expect("runs");
    let sync = d
        .cmd(&["sync"])
        .env("SBER_TUNNEL_PASSWORD", wrong)
        .env("RUST_LOG", "trace")
        .output()
        .expect("runs");
    assert!(
        !sync.status.success() || !init.status.success(),
        "a wrong password was accepted"
    );
    let secrets = vec![
        wrong.to_string(),
        PASSWORD.to_string(),
        base64(format!("{USER}:{wrong}").as_bytes()),
    ];
    assert_no_secret("output", &outputs(&[init, sync]), &secrets);
    for (path, bytes) in files_under(&d.config, "secrets.toml") {
        assert_no_secret(&path, &bytes, &secrets);
    }
}

#[test]
fn token_is_in_no_log_output_or_config() {
    let server = Server::start_with(|b| b.token(USER, TOKEN));
    let d = Device::new();
    let init = d
        .cmd(&[
            "init",
            "--url",
            &server.url(),
            "--auth",
            "pat",
            "--page-id",
            PAGE,
        ])
        .env("SBER_TUNNEL_TOKEN", TOKEN)
        .env_remove("SBER_TUNNEL_PASSWORD")
        .env("RUST_LOG", "trace")
        .output()
        .expect("runs");
    assert!(init.status.success(), "init with a PAT: {init:?}");
    let add = d
        .cmd(&["add", d.folder.to_str().expect("utf-8")])
        .env_remove("SBER_TUNNEL_PASSWORD")
        .output()
        .expect("runs");
    assert!(add.status.success(), "add: {add:?}");
    d.write("t.txt", b"token sync");
    let sync = d
        .cmd(&["sync"])
        .env_remove("SBER_TUNNEL_PASSWORD")
        .env("RUST_LOG", "trace")
        .output()
        .expect("runs");
    assert!(
        sync.status.success(),
        "sync with the stored token: {sync:?}"
    );
    let secrets = vec![TOKEN.to_string()];
    assert_no_secret("output", &outputs(&[init, add, sync]), &secrets);
    check_config_dir(&d, &secrets);
}

#[test]
fn secrets_are_never_taken_from_the_command_line() {
    // A secret on the command line would be visible to every user in the process list.
    let d = Device::new();
    for flag in ["--password", "--token", "--p12-password"] {
        let out = d
            .cmd(&["init", flag, "x", "--non-interactive"])
            .env_remove("SBER_TUNNEL_PASSWORD")
            .output()
            .expect("runs");
        assert!(
            !out.status.success(),
            "init accepted {flag} on the command line"
        );
    }
}

#[test]
fn switching_certificate_checks_off_is_never_silent() {
    let server = Server::start();
    let d = Device::ready(&server);
    let cfg = d.config.join("config.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("accept-invalid-certs"))
        .map(String::from)
        .collect();
    let at = lines
        .iter()
        .position(|l| l.trim() == "[remote]")
        .expect("a [remote] section");
    lines.insert(at + 1, "accept-invalid-certs = true".into());
    std::fs::write(&cfg, lines.join("\n") + "\n").expect("config");
    d.write("a.txt", b"x");
    let out = d.cmd(&["sync"]).output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        stderr.contains("certificate")
            && (stderr.contains("off") || stderr.contains("not verified")),
        "a sync with certificate checks off says nothing on stderr: {stderr:?}"
    );
}

/// Inodes of the TCP sockets in LISTEN state on this machine.
fn listening_tcp_inodes() -> Vec<String> {
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // st == 0A is LISTEN; column 9 is the inode.
            if cols.len() > 9 && cols[3] == "0A" {
                out.push(cols[9].to_string());
            }
        }
    }
    out
}

/// The background service talks to its clients over a local socket only: none of its
/// sockets listens on TCP.
#[test]
fn the_service_opens_no_network_port() {
    let server = Server::start();
    let d = Device::ready(&server);
    d.ok(&["start"]);
    let config = d.config.to_string_lossy().to_string();
    let pids: Vec<String> = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_string_lossy().to_string();
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            (pid.chars().all(|c| c.is_ascii_digit()) && cmd.contains(&config)).then_some(pid)
        })
        .collect();
    let listening = listening_tcp_inodes();
    let mut sockets = 0;
    for pid in &pids {
        for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let t = target.to_string_lossy().to_string();
            if let Some(inode) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
                sockets += 1;
                assert!(
                    !listening.iter().any(|l| l == inode),
                    "process {pid} of the service listens on a TCP port"
                );
            }
        }
    }
    let _ = d.run(&["stop"]);
    assert!(!pids.is_empty(), "the service process was not found");
    assert!(
        sockets > 0,
        "the service holds no socket at all (control socket expected)"
    );
}
