//! `demo`: builds made with the cargo feature `demo` (scripts/demo.sh, this test suite in CI)
//! carry the built-in Confluence emulator and run two devices through one of its pages; builds
//! without it (what `tauri build` and the .deb ship) carry no server and say where the demo is.

use test_support::cli::Device;

#[cfg(feature = "demo")]
#[test]
fn the_demo_runs_two_devices_through_the_built_in_emulator() {
    let d = Device::new();
    let work = d._tmp.path().join("demo");
    // The demo's devices use the demo's own password, not the test server's one.
    let out = d
        .cmd(&["demo", "--dir", work.to_str().expect("utf-8 path")])
        .env_remove("SBER_TUNNEL_PASSWORD")
        .output()
        .expect("binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the demo succeeds: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Confluence emulator running at http://127.0.0.1:"));
    let laptop = test_support::tree::tree_with_dirs(&work.join("laptop/Sync"));
    let desktop = test_support::tree::tree_with_dirs(&work.join("desktop/Sync"));
    assert_eq!(laptop, desktop, "both demo devices end with the same files");
    assert_eq!(
        laptop.get("notes/todo.md").map(Vec::as_slice),
        Some(&b"- try sber-tunnel\n- done!\n"[..]),
        "the desktop's edit reached the laptop"
    );
    assert!(!laptop.contains_key("notes/ideas.md"), "the deletion too");
    assert!(
        laptop
            .keys()
            .any(|k| k.starts_with("README") && k.contains("conflict")),
        "the losing README edit is kept as a conflict copy: {:?}",
        laptop.keys()
    );
}

#[cfg(not(feature = "demo"))]
#[test]
fn a_build_without_the_emulator_says_where_the_demo_is() {
    let out = Device::new().run(&["demo"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "usage error: {stderr}");
    assert!(stderr.contains("scripts/demo.sh"), "{stderr}");
}
