//! The `confluence-emulator` binary: announces its URL, serves, and exits cleanly on SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

#[cfg(unix)]
#[tokio::test]
async fn binary_prints_ready_line_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_confluence-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--user",
            "alice:secret",
            "--page",
            "12345",
            "--context-path",
            "/confluence",
            "--token",
            "alice:PAT",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("ready line within 30 s")
        .unwrap()
        .expect("a line");
    let base = line
        .strip_prefix("Confluence emulator ready at ")
        .expect("ready line format")
        .to_string();
    assert!(
        base.starts_with("http://127.0.0.1:") && base.ends_with("/confluence"),
        "{base}"
    );

    let r = crate::util::http()
        .get(format!("{base}/rest/api/content/12345"))
        .bearer_auth("PAT")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        dir.path().join("metadata.json").exists(),
        "the data dir is used"
    );

    let pid = child.id().expect("running").to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "clean exit: {status:?}");
}

/// `--restrict` and `--group` set content restrictions at start (issue 17 item 6).
#[cfg(unix)]
#[tokio::test]
async fn binary_restricts_pages_at_start() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_confluence-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--user",
            "alice:secret",
            "--user",
            "bob:pw",
            "--user",
            "carol:pw",
            "--page",
            "12345",
            "--restrict",
            "12345:read:alice",
            "--restrict",
            "12345:update:alice",
            "--group",
            "carol:team",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("ready line within 30 s")
        .unwrap()
        .expect("a line");
    let base = line
        .strip_prefix("Confluence emulator ready at ")
        .expect("ready line format")
        .to_string();
    let get = |user: &'static str, pw: &'static str| {
        crate::util::http()
            .get(format!("{base}/rest/api/content/12345"))
            .basic_auth(user, Some(pw))
            .send()
    };
    assert_eq!(get("alice", "secret").await.unwrap().status(), 200);
    assert_eq!(
        get("bob", "pw").await.unwrap().status(),
        404,
        "bob is outside the read restriction given on the command line"
    );
    child.kill().await.expect("stopped");

    let bad = tokio::process::Command::new(env!("CARGO_BIN_EXE_confluence-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--restrict",
            "12345:delete:alice",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .expect("binary runs");
    assert!(!bad.success(), "an unknown operation is refused");
}
