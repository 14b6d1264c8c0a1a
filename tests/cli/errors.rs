//! What the user sees when something is wrong: clear messages and documented exit codes.

use test_support::cli::{Device, Server, PAGE, USER};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn init_with_a_wrong_password_saves_nothing_and_says_why() {
    let server = Server::start();
    let d = Device::new();
    let out = d
        .cmd(&[
            "init",
            "--url",
            &server.url(),
            "--username",
            USER,
            "--page-id",
            PAGE,
        ])
        .env("SBER_TUNNEL_PASSWORD", "Wr0ng-Pa55-93412")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "exit code 3 = fix the configuration; stderr: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).to_lowercase().contains("password"),
        "the message names the password: {}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("ERROR"),
        "one message for a person, no log line before it: {}",
        stderr(&out)
    );
    assert!(
        !d.config.join("config.toml").exists(),
        "nothing is saved when the check fails"
    );
    assert!(
        !stderr(&out).contains("Wr0ng-Pa55-93412"),
        "the secret never appears in messages"
    );
}

#[test]
fn init_with_an_invalid_token_is_caught_although_the_server_serves_it_as_anonymous() {
    let server = Server::start_with(|b| b.token(USER, "good-token"));
    let d = Device::new();
    let out = d
        .cmd(&[
            "init",
            "--url",
            &server.url(),
            "--auth",
            "pat",
            "--page-id",
            PAGE,
        ])
        .env("SBER_TUNNEL_TOKEN", "bad-token")
        .env_remove("SBER_TUNNEL_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).to_lowercase().contains("token"),
        "the message names the token: {}",
        stderr(&out)
    );

    let ok = d
        .cmd(&[
            "init",
            "--url",
            &server.url(),
            "--auth",
            "pat",
            "--page-id",
            PAGE,
        ])
        .env("SBER_TUNNEL_TOKEN", "good-token")
        .env_remove("SBER_TUNNEL_PASSWORD")
        .output()
        .unwrap();
    assert!(ok.status.success(), "a valid token works: {}", stderr(&ok));
}

#[test]
fn init_on_a_missing_page_or_without_write_permission_fails_clearly() {
    let server = Server::start_with(|b| b.read_only_user("reader", "pw"));
    let d = Device::new();
    let out = d
        .cmd(&[
            "init",
            "--url",
            &server.url(),
            "--username",
            USER,
            "--page-id",
            "999",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("999"),
        "names the page: {}",
        stderr(&out)
    );

    let out = d
        .cmd(&[
            "init",
            "--url",
            &server.url(),
            "--username",
            "reader",
            "--page-id",
            PAGE,
        ])
        .env("SBER_TUNNEL_PASSWORD", "pw")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).to_lowercase().contains("permission"),
        "says it is a permission problem: {}",
        stderr(&out)
    );
}

#[test]
fn unreachable_server_is_exit_code_4() {
    let d = Device::new();
    let out = d
        .cmd(&[
            "init",
            "--url",
            "http://127.0.0.1:9",
            "--username",
            USER,
            "--page-id",
            PAGE,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "stderr: {}", stderr(&out));
}

#[test]
fn deleting_most_of_a_folder_needs_confirmation() {
    let server = Server::start();
    let a = Device::ready(&server);
    let b = Device::ready(&server);
    for i in 0..30 {
        a.write(&format!("f{i}.txt"), format!("{i}").as_bytes());
    }
    a.sync();
    b.sync();
    for i in 0..30 {
        std::fs::remove_file(a.folder.join(format!("f{i}.txt"))).unwrap();
    }
    let out = a.run(&["sync"]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "a mass deletion stops: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("--confirm-deletions"),
        "and says how to go on: {}",
        stderr(&out)
    );
    b.sync();
    assert_eq!(b.tree().len(), 30, "nothing was deleted elsewhere");
    a.ok(&["sync", "--confirm-deletions"]);
    b.sync();
    assert!(b.tree().is_empty(), "confirmed deletions propagate");
}

#[test]
fn a_vanished_folder_is_not_read_as_everything_deleted() {
    let server = Server::start();
    let a = Device::ready(&server);
    let b = Device::ready(&server);
    a.write("precious.txt", b"keep me");
    a.sync();
    b.sync();
    let moved = a.folder.with_file_name("Sync-unmounted");
    std::fs::rename(&a.folder, &moved).unwrap();
    std::fs::create_dir_all(&a.folder).unwrap(); // an empty mount point
    let out = a.run(&["sync"]);
    assert_eq!(
        out.status.code(),
        Some(6),
        "missing marker = folder missing: {}",
        stderr(&out)
    );
    b.sync();
    assert_eq!(
        b.read("precious.txt"),
        b"keep me",
        "nothing was deleted remotely"
    );
}

#[test]
fn commands_before_init_say_what_to_do() {
    let d = Device::new();
    let out = d.run(&["status"]);
    assert_eq!(
        out.status.code(),
        Some(8),
        "exit 8 = not set up: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("init"),
        "points to init: {}",
        stderr(&out)
    );
}

/// Issue 12: a path that is not a synced folder is refused input (exit 2) for every command
/// that takes a synced folder, not a failure "not covered" (exit 1).
#[test]
fn a_folder_that_is_not_synced_is_refused_input_for_every_command() {
    let server = Server::start();
    let a = Device::ready(&server);
    let elsewhere = tempfile::tempdir().unwrap();
    let not_synced = elsewhere.path().to_str().unwrap();
    for command in [
        "sync",
        "pause",
        "resume",
        "remove",
        "trash",
        "conflicts",
        "excluded",
        "usage",
    ] {
        let out = a.run(&[command, not_synced]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "`{command}` of a folder that is not synced: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("not a synced folder"),
            "`{command}` says why: {}",
            stderr(&out)
        );
    }
}

/// Issue 12: what a person typed wrong on the command line (or answered wrong when asked) is
/// bad usage, exit 2 as the README's table says — not a failure "not covered" (exit 1) — and
/// nothing is saved.
#[test]
fn init_and_add_refuse_bad_input_as_usage_errors() {
    let server = Server::start();
    let d = Device::new();
    let url = server.url();
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "a URL that is not http(s)",
            vec![
                "init",
                "--url",
                "ftp://wiki",
                "--username",
                USER,
                "--page-id",
                PAGE,
            ],
            "https://",
        ),
        (
            "a page id that is not a number",
            vec![
                "init",
                "--url",
                &url,
                "--username",
                USER,
                "--page-id",
                "Home",
            ],
            "pageId=",
        ),
        (
            "a missing page id with --non-interactive",
            vec![
                "init",
                "--url",
                &url,
                "--username",
                USER,
                "--non-interactive",
            ],
            "--non-interactive",
        ),
        (
            "add with a page id that is not a number",
            vec!["add", "/tmp", "--page-id", "12a"],
            "pageId=",
        ),
    ];
    for (what, args, says) in cases {
        let out = d.run(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{what} is bad usage (exit 2): {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains(says),
            "{what}: the message says what is expected ({says}): {}",
            stderr(&out)
        );
        assert!(
            !d.config.join("config.toml").exists(),
            "{what}: nothing is saved"
        );
    }
}
