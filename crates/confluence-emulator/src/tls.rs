//! HTTPS for the emulator: an OpenSSL acceptor built from PEM files, optionally requiring a
//! client certificate signed by a given CA (verify mode `PEER | FAIL_IF_NO_PEER_CERT`;
//! OpenSSL's chain verification refuses expired certificates and other CAs).
//!
//! TLS needs the `tls` feature (on by default). Without it (the Windows test builds under Wine,
//! where no OpenSSL exists: see docs/platforms.md) the emulator serves plain HTTP only and a
//! [`TlsConfig`] makes `spawn` fail with [`TlsError::NotBuilt`].
//!
//! Invariant: when `client_ca_pem` is set, no request is ever served over a connection whose
//! handshake did not verify a client certificate.

use std::path::PathBuf;

/// TLS settings of the listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// Server certificate (PEM, may hold the chain).
    pub cert_pem: PathBuf,
    /// Server private key (PEM).
    pub key_pem: PathBuf,
    /// `Some(ca)`: a client certificate signed by this CA is required.
    pub client_ca_pem: Option<PathBuf>,
}

/// Why the TLS acceptor could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// OpenSSL refused a file or setting.
    #[cfg(feature = "tls")]
    #[error("TLS setup failed for {what}: {source}")]
    OpenSsl {
        /// What was being loaded.
        what: String,
        /// The OpenSSL error.
        #[source]
        source: openssl::error::ErrorStack,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// This emulator was built without the `tls` feature.
    #[error("this emulator was built without TLS (the `tls` feature): it serves plain HTTP only")]
    NotBuilt,
}

#[cfg(feature = "tls")]
pub(crate) use with_openssl::{build_acceptor, Acceptor};

#[cfg(feature = "tls")]
mod with_openssl {
    use std::net::SocketAddr;
    use std::pin::Pin;

    use openssl::ssl::{Ssl, SslAcceptor, SslFiletype, SslMethod, SslVerifyMode};
    use openssl::x509::X509;
    use tokio::net::TcpStream;

    use super::{TlsConfig, TlsError};

    /// A connection after its TLS handshake.
    pub(crate) type TlsStream = tokio_openssl::SslStream<TcpStream>;

    /// The listener's TLS side.
    pub(crate) struct Acceptor(SslAcceptor);

    impl Acceptor {
        /// Runs the handshake on `tcp`; `None` (logged) when it fails.
        pub(crate) async fn accept(&self, tcp: TcpStream, peer: SocketAddr) -> Option<TlsStream> {
            let stream =
                Ssl::new(self.0.context()).and_then(|ssl| tokio_openssl::SslStream::new(ssl, tcp));
            let mut stream = match stream {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot set up TLS session");
                    return None;
                }
            };
            if let Err(e) = Pin::new(&mut stream).accept().await {
                tracing::info!(%peer, error = %e, "TLS handshake refused");
                return None;
            }
            Some(stream)
        }
    }

    fn ossl(what: impl Into<String>) -> impl FnOnce(openssl::error::ErrorStack) -> TlsError {
        let what = what.into();
        move |source| TlsError::OpenSsl { what, source }
    }

    /// Builds the acceptor for `cfg`.
    pub(crate) fn build_acceptor(cfg: &TlsConfig) -> Result<Acceptor, TlsError> {
        let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())
            .map_err(ossl("acceptor"))?;
        b.set_certificate_chain_file(&cfg.cert_pem)
            .map_err(ossl(format!("certificate {}", cfg.cert_pem.display())))?;
        b.set_private_key_file(&cfg.key_pem, SslFiletype::PEM)
            .map_err(ossl(format!("private key {}", cfg.key_pem.display())))?;
        b.check_private_key()
            .map_err(ossl("key/certificate match"))?;
        if let Some(ca) = &cfg.client_ca_pem {
            b.set_ca_file(ca)
                .map_err(ossl(format!("client CA {}", ca.display())))?;
            let pem = std::fs::read(ca).map_err(|source| TlsError::Io {
                path: ca.clone(),
                source,
            })?;
            let mut names = openssl::stack::Stack::new().map_err(ossl("CA names"))?;
            for cert in X509::stack_from_pem(&pem).map_err(ossl("client CA PEM"))? {
                names
                    .push(cert.subject_name().to_owned().map_err(ossl("CA name"))?)
                    .map_err(ossl("CA names"))?;
            }
            b.set_client_ca_list(names);
            b.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
        }
        Ok(Acceptor(b.build()))
    }
}

#[cfg(not(feature = "tls"))]
pub(crate) use without_openssl::{build_acceptor, Acceptor};

#[cfg(not(feature = "tls"))]
mod without_openssl {
    use std::net::SocketAddr;

    use tokio::net::TcpStream;

    use super::{TlsConfig, TlsError};

    /// Never made: no connection gets a TLS side in this build.
    pub(crate) type TlsStream = TcpStream;

    /// No value exists: [`build_acceptor`] always fails in this build.
    pub(crate) enum Acceptor {}

    impl Acceptor {
        pub(crate) async fn accept(&self, _tcp: TcpStream, _peer: SocketAddr) -> Option<TlsStream> {
            match *self {}
        }
    }

    /// Always [`TlsError::NotBuilt`].
    pub(crate) fn build_acceptor(_cfg: &TlsConfig) -> Result<Acceptor, TlsError> {
        Err(TlsError::NotBuilt)
    }
}
