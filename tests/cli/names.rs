//! Issue 14: names another device publishes that this computer cannot store. The device under
//! test runs with Windows' reserved names forced on through the debug-build-only knob
//! `SBER_TUNNEL_TEST_NAME_RULES` (Linux's disk stores them all; a name left out is never
//! written, so only the probe's answer is simulated).

use tunnel_core::name_rules::TEST_NAME_RULES_ENV;

use std::time::Duration;

use test_support::cli::{Device, RunningService, Server};
use test_support::wait::wait_for;

#[test]
#[cfg_attr(
    windows,
    ignore = "the writer device must create names Windows refuses"
)]
fn status_lists_names_that_cannot_be_stored_on_this_computer() {
    let server = Server::start();
    let linux = Device::ready(&server);
    linux.write("CON.txt", b"a device name");
    linux.write("ok.txt", b"fine");
    linux.sync();

    let win = Device::ready(&server);
    let run = |args: &[&str]| {
        let out = win
            .cmd(args)
            .env(TEST_NAME_RULES_ENV, "windows-reserved")
            .output()
            .expect("binary runs");
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let summary = run(&["sync"]);
    assert!(
        summary.contains("1 item(s) from other devices cannot be stored on this computer"),
        "the sync names what it left out: {summary}"
    );
    assert!(!win.exists("CON.txt"), "never written");
    assert_eq!(win.read("ok.txt"), b"fine");

    let status = win.ok(&["status"]);
    assert!(
        status.contains("cannot be stored on this computer")
            && status.contains("CON.txt  (a device name Windows reserves)"),
        "status lists it with the reason, without the knob too (it is the last sync's list): {status}"
    );
    let json = win.ok(&["--json", "status"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("status --json is JSON");
    assert_eq!(
        v["folders"][0]["cannot_store"][0]["path"], "CON.txt",
        "status --json lists it: {json}"
    );
    assert_eq!(
        v["folders"][0]["cannot_store"][0]["kind"], "reserved-device-name",
        "with a machine word for the reason: {json}"
    );

    // The running service (what the app shows) lists it too, from its first status on.
    {
        let mut start = win.cmd(&["start"]);
        start.env(TEST_NAME_RULES_ENV, "windows-reserved");
        let _service = RunningService::start_as(&win, start);
        wait_for(
            "the live status to list CON.txt",
            Duration::from_secs(60),
            || {
                let v = win.json(&["status"]);
                v["service"]["folders"][0]["unstorable"][0]["path"] == "CON.txt"
                    && v["service"]["folders"][0]["unstorable"][0]["kind"] == "reserved-device-name"
            },
        );
    }

    // Missing there is not a deletion: the Linux device keeps it after the other syncs again.
    win.write("mine.txt", b"from windows");
    run(&["sync"]);
    linux.sync();
    assert_eq!(linux.read("CON.txt"), b"a device name");
    assert_eq!(linux.read("mine.txt"), b"from windows");
}

/// Two names that differ only in case reach a device on a case-insensitive disk (forced with
/// the debug-only knob): the sync says it renamed one to a `(Case Conflict)` copy, `status`
/// does not list it as something this computer cannot store, and the case-sensitive device
/// gets the rename.
#[test]
#[cfg_attr(
    windows,
    ignore = "the writer device must store two names that differ in case"
)]
fn a_case_clash_is_renamed_to_a_visible_copy_and_the_sync_says_so() {
    let server = Server::start();
    let linux = Device::ready(&server);
    linux.write("README.md", b"upper");
    linux.write("Readme.md", b"mixed");
    linux.sync();

    let mac = Device::ready(&server);
    let run = |args: &[&str]| {
        let out = mac
            .cmd(args)
            .env(
                TEST_NAME_RULES_ENV,
                "case-insensitive,normalization-insensitive",
            )
            .output()
            .expect("binary runs");
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let summary = run(&["sync"]);
    assert!(
        summary.contains("renamed 1 name(s) that clash on this disk"),
        "the sync names the rename: {summary}"
    );
    assert!(!summary.contains("cannot be stored"), "{summary}");
    assert_eq!(mac.read("README.md"), b"upper");
    assert_eq!(mac.read("Readme (Case Conflict).md"), b"mixed");
    assert!(!mac.exists("Readme.md"), "the old name is gone here");

    let status = mac.ok(&["status"]);
    assert!(
        !status.contains("cannot be stored on this computer"),
        "a case clash is not listed as unstorable: {status}"
    );
    let json = mac.ok(&["--json", "status"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("status --json is JSON");
    assert_eq!(
        v["folders"][0]["cannot_store"],
        serde_json::json!([]),
        "{json}"
    );

    linux.sync();
    assert_eq!(linux.read("README.md"), b"upper");
    assert_eq!(linux.read("Readme (Case Conflict).md"), b"mixed");
    assert!(!linux.exists("Readme.md"), "renamed on the page");
}
