//! Confluence behind client-certificate TLS, as our users have it: `init` with a CA file and a
//! .p12, then devices sync over mutual TLS; the certificate's password is never written into
//! the configuration, and a wrong one is caught by `init`.

use test_support::cli::TlsServer;

#[test]
fn devices_sync_over_mutual_tls_with_a_p12_and_a_ca_file() {
    let tls = TlsServer::start();
    let a = tls.device();
    let b = tls.device();
    a.write("report.txt", b"over mutual TLS");
    a.write("big/blob.bin", &test_support::seed::bytes(5, 300_000));
    tls.sync(&a);
    tls.sync(&b);
    assert_eq!(b.tree(), a.tree());

    let config = std::fs::read_to_string(a.config.join("config.toml")).expect("config");
    assert!(
        config.contains("p12"),
        "the certificate's path is kept: {config}"
    );
    assert!(
        !config.contains(&tls.pki.client_p12_password),
        "the certificate's password is not in config.toml"
    );
}

#[test]
fn a_wrong_certificate_password_at_init_says_so_and_saves_nothing() {
    let tls = TlsServer::start();
    let d = test_support::cli::Device::new();
    let ca = tls.pki.ca_pem.to_str().expect("utf-8 path");
    let p12 = tls.pki.client_p12.to_str().expect("utf-8 path");
    let url = tls.server.url();
    let out = d
        .cmd(&[
            "init",
            "--url",
            &url,
            "--username",
            test_support::cli::USER,
            "--page-id",
            test_support::cli::PAGE,
            "--ca",
            ca,
            "--p12",
            p12,
        ])
        .env("SBER_TUNNEL_P12_PASSWORD", "not-the-p12-password")
        .output()
        .expect("init runs");
    assert_eq!(
        out.status.code(),
        Some(3),
        "exit code 3 = fix the configuration"
    );
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        (err.contains("p12") || err.contains("certificate")) && err.contains("password"),
        "the message points at the certificate's password: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!d.config.join("config.toml").exists(), "nothing is saved");
}
