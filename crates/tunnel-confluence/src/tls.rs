//! TLS trust and identity for the direct diagnosis of handshake failures.
//!
//! With TLS 1.3 a server that rejects our client certificate (missing, expired, unknown CA)
//! does so *after* the client considers the handshake finished; the alert that says why then
//! races with our HTTP request and usually arrives as a bare "connection reset". To still tell
//! the user what is wrong, after such a reset on an `https` URL the client opens one
//! diagnostic connection with the same identity and roots, sends nothing, and reads: a
//! rejecting server answers with its alert, which [`crate::error::describe_tls_failure`]
//! turns into a sentence.
//!
//! Invariants: the diagnosis never sends credentials or HTTP data; it is bounded by short
//! timeouts and runs on a blocking thread; it goes straight to the server (a proxy in between
//! makes it inconclusive, and inconclusive means "not a TLS problem we can name").

use std::io::Read as _;
use std::net::{TcpStream, ToSocketAddrs as _};
use std::time::Duration;

use url::Url;

use crate::error::{chain_text, describe_tls_failure};

/// How long the diagnostic read waits for an alert before concluding there is none.
const ALERT_WAIT: Duration = Duration::from_secs(2);

/// The one TLS connector of a client: its HTTP clients (with and without a read timeout) and
/// its TLS diagnosis all use it. Building a connector makes OpenSSL read the system's trusted
/// roots (twice: its default paths, then the bundle file found by probing); with one connector
/// instead of three that happens once per client, not three times (about 0.1 s of CPU before
/// the first request on a busy machine). It offers HTTP/2 and HTTP/1.1 by ALPN, as reqwest's
/// own native-tls connector does.
pub(crate) fn connector(
    identity: Option<native_tls::Identity>,
    roots: &[native_tls::Certificate],
    accept_invalid_certs: bool,
) -> Result<native_tls::TlsConnector, native_tls::Error> {
    let mut b = native_tls::TlsConnector::builder();
    b.request_alpns(&["h2", "http/1.1"]);
    if let Some(id) = identity {
        b.identity(id);
    }
    for root in roots {
        b.add_root_certificate(root.clone());
    }
    b.danger_accept_invalid_certs(accept_invalid_certs);
    b.build()
}

/// The client's TLS connector, used for diagnosis.
#[derive(Clone)]
pub(crate) struct TlsDiagnosis {
    connector: native_tls::TlsConnector,
    connect_timeout: Duration,
}

impl TlsDiagnosis {
    /// Diagnose with the client's own connector (same identity, roots and checks).
    pub(crate) fn new(connector: native_tls::TlsConnector, connect_timeout: Duration) -> Self {
        TlsDiagnosis {
            connector,
            connect_timeout: connect_timeout.min(Duration::from_secs(10)),
        }
    }

    /// Connect to the host of `url` and report a TLS problem the server names, if any.
    pub(crate) async fn diagnose(&self, url: &Url) -> Option<String> {
        if url.scheme() != "https" {
            return None;
        }
        let host = url
            .host_str()?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port_or_known_default()?;
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.diagnose_blocking(&host, port))
            .await
            .ok()
            .flatten()
    }

    fn diagnose_blocking(&self, host: &str, port: u16) -> Option<String> {
        let addr = (host, port).to_socket_addrs().ok()?.next()?;
        let tcp = TcpStream::connect_timeout(&addr, self.connect_timeout).ok()?;
        tcp.set_read_timeout(Some(ALERT_WAIT)).ok()?;
        tcp.set_write_timeout(Some(self.connect_timeout)).ok()?;
        let mut tls = match self.connector.connect(host, tcp) {
            Ok(s) => s,
            Err(native_tls::HandshakeError::Failure(e)) => {
                return describe_tls_failure(&chain_text(&e), host, true);
            }
            Err(native_tls::HandshakeError::WouldBlock(_)) => return None,
        };
        let mut byte = [0u8; 1];
        // A rejecting server answers with an alert (an error here); an accepting one sends
        // nothing until asked, and the read times out.
        match tls.read_exact(&mut byte) {
            Err(e) => describe_tls_failure(&chain_text(&e), host, false),
            Ok(()) => None,
        }
    }
}

/// Split a PEM bundle into native-tls certificates (unreadable blocks are left out; the
/// caller compares the count with reqwest's parse of the same bundle).
pub(crate) fn native_roots(pem: &[u8]) -> Vec<native_tls::Certificate> {
    const END: &str = "-----END CERTIFICATE-----";
    let text = String::from_utf8_lossy(pem);
    text.split_inclusive(END)
        .filter(|block| block.contains("-----BEGIN CERTIFICATE-----"))
        .filter_map(|block| native_tls::Certificate::from_pem(block.trim().as_bytes()).ok())
        .collect()
}
