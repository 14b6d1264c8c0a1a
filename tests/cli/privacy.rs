//! A private page (issue 17 item 6): `init` and `add` say plainly when others can view the page
//! (and so download the synced files) and offer to restrict it; `page` shows and fixes it
//! later. Once private, a second user of the space is locked out of the page.

use std::io::Write;
use std::process::{Output, Stdio};

use confluence_emulator::restrictions::Operation;
use serde_json::Value;
use test_support::cli::{Device, Server, PAGE, PASSWORD, USER};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn init_args(server: &Server) -> Vec<String> {
    [
        "init",
        "--url",
        &server.url(),
        "--username",
        USER,
        "--page-id",
        PAGE,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run(d: &Device, args: &[String]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    d.run(&args)
}

/// Whether carol, a second user of the space (with the test password), can set up a device
/// on the page: `init` reads the page as her.
fn carol_can_reach_the_page(server: &Server) -> bool {
    Device::new()
        .run(&[
            "init",
            "--url",
            &server.url(),
            "--username",
            "carol",
            "--page-id",
            PAGE,
            "--non-interactive",
            "--keep-sharing",
        ])
        .status
        .success()
}

fn private_to_alice(server: &Server) -> bool {
    let r = server.emu().restrictions(PAGE);
    r.read.users.iter().eq([USER]) && r.update.users.iter().eq([USER])
}

#[test]
fn init_warns_about_a_page_others_can_view_and_changes_nothing_unasked() {
    let server = Server::start_with(|b| b.user("carol", PASSWORD));
    let d = Device::new();
    let mut args = init_args(&server);
    args.push("--non-interactive".into());
    let out = run(&d, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "Page 12345 is visible to everyone with access to the space: they can download \
             every file you sync through it."
        ),
        "a plain warning: {err}"
    );
    assert!(err.contains("Not changed (--non-interactive)"), "{err}");
    assert!(
        err.contains("sber-tunnel page --make-private"),
        "how to fix it later: {err}"
    );
    assert!(
        server.emu().restrictions(PAGE).is_empty(),
        "nothing changes without the user's yes"
    );
    assert!(
        carol_can_reach_the_page(&server),
        "the page is still shared"
    );

    // Piped input that ends without an answer is a no as well.
    let again = Device::new();
    let out = run(&again, &init_args(&server));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("Left as it is."), "{}", stderr(&out));
    assert!(server.emu().restrictions(PAGE).is_empty());
}

#[test]
fn init_makes_the_page_private_when_asked_and_a_second_user_is_locked_out() {
    let server = Server::start_with(|b| b.user("carol", PASSWORD));
    assert!(
        carol_can_reach_the_page(&server),
        "carol sees the page before"
    );
    let d = Device::new();
    let args = init_args(&server);
    let mut child = d
        .cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("init starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"y\n")
        .expect("answer written");
    let out = child.wait_with_output().expect("init ends");
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("Restrict the page so that only you can view and edit it?"),
        "{err}"
    );
    assert!(err.contains("Page 12345 is now private"), "{err}");
    assert!(
        private_to_alice(&server),
        "view and edit restricted to alice"
    );
    assert!(
        !carol_can_reach_the_page(&server),
        "carol, another user of the space, no longer reaches the page"
    );
    // Syncing still works for the owner.
    d.ok(&["add", d.folder.to_str().expect("utf-8")]);
    d.write("secret.txt", b"mine");
    d.sync();
    assert!(
        !server.emu().attachments(PAGE).is_empty(),
        "the owner still syncs into her private page"
    );
}

#[test]
fn flags_decide_for_scripts_and_json_reports_the_page() {
    let server = Server::start();
    let d = Device::new();
    let mut args = init_args(&server);
    args.extend(["--keep-sharing".to_string(), "--json".to_string()]);
    let out = run(&d, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["page_privacy"]["visible_to_others"], true, "{v}");
    assert_eq!(v["page_privacy"]["private"], false);
    assert_eq!(
        v["page_privacy"]["viewers"],
        "everyone with access to the space"
    );
    assert!(server.emu().restrictions(PAGE).is_empty(), "--keep-sharing");

    let folder = d.folder.to_str().expect("utf-8").to_string();
    let out = d.run(&["add", &folder, "--make-private", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["page_privacy"]["private"], true, "{v}");
    assert!(
        private_to_alice(&server),
        "add --make-private restricted the page"
    );

    let out = d.run(&["add", &folder, "--make-private", "--keep-sharing"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "the two flags contradict each other"
    );
}

#[test]
fn page_shows_who_can_see_the_files_and_fixes_it() {
    let server = Server::start_with(|b| {
        b.user("carol", PASSWORD)
            .restrict(PAGE, Operation::Read, USER)
            .restrict(PAGE, Operation::Read, "carol")
    });
    let d = Device::new();
    let mut args = init_args(&server);
    args.push("--non-interactive".into());
    assert!(run(&d, &args).status.success());
    let text = d.ok(&["page"]);
    assert!(
        text.contains("Page 12345 is visible to carol: they can download every file you sync"),
        "{text}"
    );
    assert!(text.contains("sber-tunnel page --make-private"), "{text}");
    let v: Value = serde_json::from_str(&d.ok(&["page", "--json"])).expect("JSON");
    assert_eq!(v["pages"][0]["page_id"], PAGE);
    assert_eq!(v["pages"][0]["user"], USER);
    assert_eq!(v["pages"][0]["viewers"], "carol");
    assert_eq!(v["pages"][0]["visible_to_others"], true);

    let text = d.ok(&["page", "--make-private"]);
    assert!(text.contains("Page 12345 is now private"), "{text}");
    assert!(private_to_alice(&server));
    let text = d.ok(&["page"]);
    assert!(
        text.contains("Page 12345 is private: only you can view and edit it."),
        "{text}"
    );
    let v: Value =
        serde_json::from_str(&d.ok(&["page", "--page-id", "777", "--json"])).expect("JSON");
    assert_eq!(
        v["pages"][0]["visible_to_others"], true,
        "--page-id checks another page: {v}"
    );
}
