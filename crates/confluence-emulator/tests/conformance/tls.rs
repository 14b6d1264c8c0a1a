//! Mutual TLS: the right client certificate is served; none, expired or foreign ones fail.

use crate::util::{self, PAGE};
use confluence_emulator::testcerts;
use confluence_emulator::TlsConfig;

fn client(pki: &testcerts::TestPki, p12: Option<&std::path::Path>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&pki.ca_pem).unwrap()).unwrap();
    let mut b = reqwest::Client::builder()
        .no_proxy()
        .user_agent(util::UA)
        .tls_backend_native()
        .add_root_certificate(ca);
    if let Some(p) = p12 {
        let id = reqwest::Identity::from_pkcs12_der(
            &std::fs::read(p).unwrap(),
            &pki.client_p12_password,
        )
        .unwrap();
        b = b.identity(id);
    }
    b.build().unwrap()
}

#[tokio::test]
async fn mutual_tls_accepts_only_the_right_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = testcerts::generate(dir.path()).unwrap();
    let emu = util::builder()
        .tls(TlsConfig {
            cert_pem: pki.server_cert_pem.clone(),
            key_pem: pki.server_key_pem.clone(),
            client_ca_pem: Some(pki.ca_pem.clone()),
        })
        .spawn()
        .await
        .unwrap();
    let base = emu.base_url();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let url = format!("{base}/rest/api/content/{PAGE}");
    let get = |c: reqwest::Client| {
        let url = url.clone();
        async move {
            match c.get(&url).basic_auth("alice", Some("secret")).send().await {
                Ok(r) => r
                    .bytes()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
                    .and(Ok(())),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    let ok = client(&pki, Some(&pki.client_p12))
        .get(&url)
        .basic_auth("alice", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let localhost = format!(
        "https://localhost:{}/rest/api/content/{PAGE}",
        emu.addr().port()
    );
    let ok = client(&pki, Some(&pki.client_p12))
        .get(&localhost)
        .basic_auth("alice", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ok.status(),
        200,
        "the server certificate covers localhost too"
    );
    assert!(
        get(client(&pki, None)).await.is_err(),
        "no client certificate: handshake fails"
    );
    assert!(
        get(client(&pki, Some(&pki.expired_client_p12)))
            .await
            .is_err(),
        "expired client certificate refused"
    );
    assert!(
        get(client(&pki, Some(&pki.untrusted_client_p12)))
            .await
            .is_err(),
        "certificate from another CA refused"
    );
}

#[tokio::test]
async fn tls_without_client_ca_serves_any_client() {
    let dir = tempfile::tempdir().unwrap();
    let pki = testcerts::generate(dir.path()).unwrap();
    let emu = util::builder()
        .tls(TlsConfig {
            cert_pem: pki.server_cert_pem.clone(),
            key_pem: pki.server_key_pem.clone(),
            client_ca_pem: None,
        })
        .spawn()
        .await
        .unwrap();
    let r = client(&pki, None)
        .get(format!("{}/rest/api/user/current", emu.base_url()))
        .basic_auth("alice", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
