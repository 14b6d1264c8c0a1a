//! `usage` and the access-token expiry warning (issue 17, item 7), through the binary.

use test_support::cli::{Device, Server, PAGE, USER};

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("JSON expected ({e}): {out}"))
}

#[test]
fn usage_shows_what_the_page_holds_and_what_gc_would_free() {
    let server = Server::start();
    // No history: the replaced chunk is garbage (history would keep it on purpose). Files cut
    // at the chunk size: the uniform bytes below would be one repeated content-defined chunk.
    let d = Device::ready_with(&server, "history-keep-days = 0\ndelta-chunk-size = 0");
    // Over the pack threshold (4 MiB): a chunk of its own, not packed with b.txt.
    const BIG: usize = 5 * 1024 * 1024;
    d.write("a.bin", &vec![1u8; BIG]);
    d.write("b.txt", b"hello");
    d.sync();
    // A new version of a.bin: its old chunk is no longer referenced (but young: kept).
    d.write("a.bin", &vec![2u8; BIG]);
    d.sync();
    let v = json(&d.ok(&["usage", "--json"]));
    let u = &v["folders"][0]["usage"];
    let n = |k: &str| u[k].as_u64().unwrap_or_else(|| panic!("{k} in {u}"));
    let listed = server.emu().attachments(PAGE);
    let blobs = listed
        .iter()
        .filter(|a| a.status == "current" && a.title != tunnel_confluence::PROBE_ATTACHMENT_NAME)
        .count();
    assert_eq!(
        n("attachments"),
        blobs as u64,
        "every current attachment on the page is counted (but our write probe)"
    );
    assert!(
        n("current_bytes") >= 2 * BIG as u64,
        "both versions of a.bin are on the page: {u}"
    );
    assert!(n("referenced") >= 1, "the file list needs some: {u}");
    assert!(
        n("waiting") >= 1 && n("waiting_bytes") >= BIG as u64,
        "the replaced chunk is unreferenced but younger than the grace period: {u}"
    );
    assert_eq!(
        n("collectable"),
        0,
        "nothing is old enough to collect yet: {u}"
    );
    assert_eq!(u["trash_visible"], false, "the API does not list the trash");
    assert_eq!(
        server.emu().attachments(PAGE).len(),
        listed.len(),
        "a dry run: nothing was deleted"
    );

    let text = d.ok(&["usage"]);
    assert!(
        text.contains("Garbage collection would free") && text.contains("Attachments:"),
        "{text}"
    );
}

#[test]
fn a_token_that_expires_soon_is_warned_about_in_status_usage_and_sync() {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let server = Server::start_with(|b| {
        b.expiring_token(USER, "soon-token", "laptop", now_ms + 3 * 86_400_000)
    });
    let d = Device::new();
    let with_token = |args: &[&str]| {
        let out = d
            .cmd(args)
            .env("SBER_TUNNEL_TOKEN", "soon-token")
            .env_remove("SBER_TUNNEL_PASSWORD")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    with_token(&[
        "init",
        "--url",
        &server.url(),
        "--auth",
        "pat",
        "--page-id",
        PAGE,
    ]);
    with_token(&["add", d.folder.to_str().unwrap()]);
    let (status, _) = with_token(&["status"]);
    assert!(
        status.contains("\"laptop\" expires in 2 days")
            || status.contains("\"laptop\" expires in 3 days"),
        "status warns days ahead: {status}"
    );
    let (v, _) = with_token(&["status", "--json"]);
    let v = json(&v);
    assert_eq!(v["token_notice"]["expired"], false, "{v}");
    let (_, err) = with_token(&["sync"]);
    assert!(err.contains("expires in"), "sync warns on stderr: {err}");
    let (_, err) = with_token(&["usage"]);
    assert!(err.contains("expires in"), "usage warns too: {err}");

    // With a password (no token) there is nothing to warn about.
    let plain = Server::start();
    let p = Device::ready(&plain);
    let v = json(&p.ok(&["status", "--json"]));
    assert!(v["token_notice"].is_null(), "{v}");
}
