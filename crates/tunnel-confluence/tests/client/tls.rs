//! Mutual TLS: a good client certificate works; a missing, expired, untrusted or
//! wrongly-unlocked one, and an untrusted server, each give a `Certificate` error that says
//! what is wrong.

use confluence_emulator::testcerts::{generate, TestPki};
use confluence_emulator::{EmulatorHandle, TlsConfig};
use tunnel_confluence::{ClientIdentity, ConfluenceClient, ConnectionSettings};
use tunnel_core::remote::{BlobSource, RemoteError, RemoteStore};

use crate::*;

struct Mtls {
    _dir: tempfile::TempDir,
    pki: TestPki,
    emu: EmulatorHandle,
}

async fn mtls() -> Mtls {
    let dir = tempfile::tempdir().unwrap();
    let pki = generate(dir.path()).expect("test PKI");
    let emu = builder()
        .tls(TlsConfig {
            cert_pem: pki.server_cert_pem.clone(),
            key_pem: pki.server_key_pem.clone(),
            client_ca_pem: Some(pki.ca_pem.clone()),
        })
        .spawn()
        .await
        .expect("TLS emulator");
    assert!(emu.base_url().starts_with("https://"));
    Mtls {
        _dir: dir,
        pki,
        emu,
    }
}

fn tls_settings(m: &Mtls, p12: Option<&std::path::Path>, password: &str) -> ConnectionSettings {
    let mut s = settings(&m.emu.base_url(), basic(USER, PASSWORD));
    s.ca_file = Some(m.pki.ca_pem.clone());
    s.client_identity = p12.map(|p| ClientIdentity {
        p12_path: p.to_path_buf(),
        password: Secret::new(password),
    });
    s
}

fn certificate_message(err: &RemoteError) -> &str {
    match err {
        RemoteError::Certificate(m) => m,
        other => panic!("expected a certificate error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_client_certificate_and_ca_file_work_end_to_end() {
    let m = mtls().await;
    let client = ConfluenceClient::new(tls_settings(
        &m,
        Some(&m.pki.client_p12),
        &m.pki.client_p12_password,
    ))
    .unwrap();
    let s = client.store(PAGE);
    assert_eq!(s.probe().await.unwrap().user, USER);
    let b = name("tls.bin");
    let data = bytes_of(300_000, 8);
    s.put_blob(&b, BlobSource::Bytes(data.clone()))
        .await
        .unwrap();
    assert_eq!(download(&s, &b, None, None).await.unwrap(), data);
}

#[tokio::test]
async fn no_client_certificate_is_a_certificate_error() {
    let m = mtls().await;
    let client = ConfluenceClient::new(tls_settings(&m, None, "")).unwrap();
    let err = client.store(PAGE).probe().await.unwrap_err();
    let msg = certificate_message(&err);
    assert!(msg.contains("requires a client certificate"), "{msg}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_wrong_p12_password_is_said_so_before_connecting() {
    let m = mtls().await;
    let err =
        ConfluenceClient::new(tls_settings(&m, Some(&m.pki.client_p12), "not-it")).unwrap_err();
    let msg = certificate_message(&err);
    assert!(msg.contains("wrong password"), "{msg}");
    assert!(!msg.contains("not-it"), "the password is not echoed");
}

#[tokio::test]
async fn an_expired_client_certificate_is_refused_with_its_date() {
    let m = mtls().await;
    let err = ConfluenceClient::new(tls_settings(
        &m,
        Some(&m.pki.expired_client_p12),
        &m.pki.client_p12_password,
    ))
    .unwrap_err();
    let msg = certificate_message(&err);
    assert!(msg.contains("expired"), "{msg}");
}

#[tokio::test]
async fn an_untrusted_client_certificate_is_refused_by_the_server() {
    let m = mtls().await;
    let client = ConfluenceClient::new(tls_settings(
        &m,
        Some(&m.pki.untrusted_client_p12),
        &m.pki.client_p12_password,
    ))
    .unwrap();
    let err = client.store(PAGE).probe().await.unwrap_err();
    let msg = certificate_message(&err);
    assert!(
        msg.contains("does not trust our client certificate"),
        "{msg}"
    );
}

#[tokio::test]
async fn an_untrusted_server_needs_the_ca_file() {
    let m = mtls().await;
    let mut s = tls_settings(&m, Some(&m.pki.client_p12), &m.pki.client_p12_password);
    s.ca_file = None;
    let client = ConfluenceClient::new(s).unwrap();
    let err = client.store(PAGE).probe().await.unwrap_err();
    let msg = certificate_message(&err);
    assert!(msg.contains("not trusted") && msg.contains("CA"), "{msg}");
    assert_eq!(
        client.request_count(),
        1,
        "certificate problems are not retried"
    );
}

#[tokio::test]
async fn accept_invalid_certs_connects_without_the_ca_file() {
    let m = mtls().await;
    let mut s = tls_settings(&m, Some(&m.pki.client_p12), &m.pki.client_p12_password);
    s.ca_file = None;
    s.accept_invalid_certs = true;
    let client = ConfluenceClient::new(s).unwrap();
    assert_eq!(client.store(PAGE).probe().await.unwrap().user, USER);
}

#[tokio::test]
async fn unreadable_certificate_files_are_explained() {
    let m = mtls().await;
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.p12");
    std::fs::write(&junk, b"not a certificate").unwrap();
    let err = ConfluenceClient::new(tls_settings(&m, Some(&junk), "x")).unwrap_err();
    assert!(certificate_message(&err).contains("PKCS#12"), "{err}");

    let err = ConfluenceClient::new(tls_settings(&m, Some(&dir.path().join("missing.p12")), "x"))
        .unwrap_err();
    assert!(certificate_message(&err).contains("cannot read"), "{err}");

    let mut s = tls_settings(&m, None, "");
    s.ca_file = Some(junk);
    let err = ConfluenceClient::new(s).unwrap_err();
    assert!(
        certificate_message(&err).contains("CA certificate file"),
        "{err}"
    );
}
