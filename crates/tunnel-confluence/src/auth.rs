//! Credentials: [`Secret`] (a string that never shows in logs), [`Auth`] (Basic or Bearer),
//! [`ClientIdentity`] (a PKCS#12 client certificate) and the code that turns them into what
//! reqwest needs.
//!
//! Invariants: a secret is only readable through [`Secret::expose`]; `Debug`/`Display` of every
//! type here print `***` in place of passwords and tokens. The PKCS#12 file is read into memory
//! and handed to the TLS stack as is; its key is never written anywhere (no PEM on disk).

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use reqwest::header::HeaderValue;
use tunnel_core::remote::RemoteError;

/// A password, token or passphrase. `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret text. Call it only where the value is sent, never to log or display.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How requests authenticate to Confluence.
#[derive(Clone, Debug)]
pub enum Auth {
    /// `Authorization: Basic` with a user name and a password (or, on Cloud, an e-mail and an
    /// API token).
    Basic {
        /// User name (or e-mail on Cloud).
        username: String,
        /// Password or API token.
        password: Secret,
    },
    /// `Authorization: Bearer` with a personal access token (Data Center 7.9+).
    Bearer {
        /// The personal access token.
        token: Secret,
    },
}

impl Auth {
    /// The `Authorization` header value, marked sensitive so that hyper never logs it.
    pub(crate) fn header_value(&self) -> Result<HeaderValue, RemoteError> {
        let text = match self {
            Auth::Basic { username, password } => {
                if username.contains(':') {
                    return Err(RemoteError::Auth(
                        "the user name contains ':', which Basic authentication cannot send".into(),
                    ));
                }
                let raw = format!("{username}:{}", password.expose());
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                )
            }
            Auth::Bearer { token } => format!("Bearer {}", token.expose().trim()),
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| {
            RemoteError::Auth(
                "the user name, password or token contains characters that cannot be sent in an \
                 HTTP header (line breaks or control characters)"
                    .into(),
            )
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Short description for logs (no secret): `basic user NAME` or `bearer token`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Auth::Basic { username, .. } => format!("basic user {username}"),
            Auth::Bearer { .. } => "personal access token".into(),
        }
    }
}

/// A client certificate for mutual TLS: a PKCS#12 (`.p12`/`.pfx`) file and its password.
#[derive(Clone, Debug)]
pub struct ClientIdentity {
    /// Path of the PKCS#12 file.
    pub p12_path: PathBuf,
    /// Its password (may be empty).
    pub password: Secret,
}

impl ClientIdentity {
    /// Read the file and build the TLS identity. Errors are [`RemoteError::Certificate`] with a
    /// message saying what to do (wrong password, expired, not a PKCS#12 file, …).
    pub(crate) fn load(&self) -> Result<native_tls::Identity, RemoteError> {
        let path = &self.p12_path;
        let der = std::fs::read(path).map_err(|e| {
            RemoteError::Certificate(format!(
                "cannot read the client certificate file {}: {e}",
                path.display()
            ))
        })?;
        check_p12(path, &der, self.password.expose())?;
        native_tls::Identity::from_pkcs12(&der, self.password.expose()).map_err(|e| {
            RemoteError::Certificate(describe_p12_error(path, &crate::error::chain_text(&e)))
        })
    }
}

/// Turn an error text from the PKCS#12 parser into a sentence for a person.
pub(crate) fn describe_p12_error(path: &Path, detail: &str) -> String {
    let lower = detail.to_ascii_lowercase();
    let shown = path.display();
    if lower.contains("mac verify") || lower.contains("invalid password") {
        format!("wrong password for the client certificate {shown}")
    } else if lower.contains("unsupported") || lower.contains("rc2") || lower.contains("legacy") {
        format!(
            "the client certificate {shown} uses an old encryption (RC2/3DES) that this system \
             cannot read; re-export it with AES, e.g. `openssl pkcs12 -export -keypbe \
             AES-256-CBC -certpbe AES-256-CBC …` ({detail})"
        )
    } else {
        format!(
            "cannot read the client certificate {shown}: is it a PKCS#12 (.p12/.pfx) file with \
             its private key? ({detail})"
        )
    }
}

/// Parse the PKCS#12 with OpenSSL to give precise messages before any connection: wrong
/// password, no key inside, expired or not yet valid certificate.
#[cfg(not(any(target_os = "windows", target_vendor = "apple")))]
fn check_p12(path: &Path, der: &[u8], password: &str) -> Result<(), RemoteError> {
    use std::cmp::Ordering;

    let cert_err = |detail: String| RemoteError::Certificate(describe_p12_error(path, &detail));
    let p12 = openssl::pkcs12::Pkcs12::from_der(der).map_err(|e| cert_err(e.to_string()))?;
    let parsed = p12.parse2(password).map_err(|e| cert_err(e.to_string()))?;
    let shown = path.display();
    if parsed.pkey.is_none() {
        return Err(RemoteError::Certificate(format!(
            "the client certificate file {shown} holds no private key; export it together with \
             its key"
        )));
    }
    let Some(cert) = parsed.cert else {
        return Err(RemoteError::Certificate(format!(
            "the client certificate file {shown} holds no certificate"
        )));
    };
    let now = openssl::asn1::Asn1Time::days_from_now(0)
        .map_err(|e| RemoteError::Certificate(format!("cannot read the system clock: {e}")))?;
    if cert.not_after().compare(&now).ok() == Some(Ordering::Less) {
        return Err(RemoteError::Certificate(format!(
            "the client certificate {shown} expired on {}; ask for a new one",
            cert.not_after()
        )));
    }
    if cert.not_before().compare(&now).ok() == Some(Ordering::Greater) {
        return Err(RemoteError::Certificate(format!(
            "the client certificate {shown} is not valid before {} (check the computer's clock)",
            cert.not_before()
        )));
    }
    Ok(())
}

/// On Windows and macOS the system TLS stack reads the file; it reports problems itself.
#[cfg(any(target_os = "windows", target_vendor = "apple"))]
fn check_p12(_path: &Path, _der: &[u8], _password: &str) -> Result<(), RemoteError> {
    Ok(())
}

/// Read a PEM file of one or more trusted root certificates, for the one TLS connector the
/// HTTP clients and the TLS diagnosis share. The whole bundle must parse (a garbled block is an
/// error, not skipped) and hold at least one certificate.
pub(crate) fn load_ca_file(path: &Path) -> Result<Vec<native_tls::Certificate>, RemoteError> {
    let pem = std::fs::read(path).map_err(|e| {
        RemoteError::Certificate(format!(
            "cannot read the CA certificate file {}: {e}",
            path.display()
        ))
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        RemoteError::Certificate(format!(
            "the CA certificate file {} is not a PEM certificate bundle ({})",
            path.display(),
            crate::error::chain_text(&e)
        ))
    })?;
    if certs.is_empty() {
        return Err(RemoteError::Certificate(format!(
            "the CA certificate file {} contains no certificate (expected PEM `BEGIN CERTIFICATE`)",
            path.display()
        )));
    }
    let roots = crate::tls::native_roots(&pem);
    if roots.len() != certs.len() {
        return Err(RemoteError::Certificate(format!(
            "the CA certificate file {} holds a certificate that cannot be read ({} of {} read)",
            path.display(),
            roots.len(),
            certs.len()
        )));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug_or_display() {
        let auth = Auth::Basic {
            username: "svc".into(),
            password: Secret::new("hunter2"),
        };
        let shown = format!("{auth:?} {}", Secret::new("hunter2"));
        assert!(!shown.contains("hunter2"), "password leaked: {shown}");
        assert!(
            shown.contains("svc"),
            "the user name is not a secret: {shown}"
        );
        let bearer = Auth::Bearer {
            token: Secret::new("tok123"),
        };
        assert!(!format!("{bearer:?}").contains("tok123"));
        let id = ClientIdentity {
            p12_path: "/x.p12".into(),
            password: Secret::new("p12pw"),
        };
        assert!(!format!("{id:?}").contains("p12pw"));
    }

    #[test]
    fn header_values_are_encoded_and_sensitive() {
        let basic = Auth::Basic {
            username: "Aladdin".into(),
            password: Secret::new("open sesame"),
        }
        .header_value()
        .unwrap();
        // RFC 7617's example.
        assert_eq!(
            basic.to_str().unwrap(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert!(basic.is_sensitive());
        let bearer = Auth::Bearer {
            token: Secret::new(" abc \n"),
        }
        .header_value()
        .unwrap();
        assert_eq!(bearer.to_str().unwrap(), "Bearer abc");
        let bad = Auth::Basic {
            username: "a:b".into(),
            password: Secret::new("x"),
        };
        assert!(matches!(bad.header_value(), Err(RemoteError::Auth(_))));
        let bad = Auth::Bearer {
            token: Secret::new("ab\ncd"),
        };
        assert!(matches!(bad.header_value(), Err(RemoteError::Auth(_))));
    }

    #[test]
    fn p12_errors_read_like_sentences() {
        let p = Path::new("/c/me.p12");
        assert_eq!(
            describe_p12_error(p, "error:11800071:PKCS12 routines:mac verify failure"),
            "wrong password for the client certificate /c/me.p12"
        );
        assert!(describe_p12_error(p, "unsupported algorithm RC2-40-CBC").contains("AES"));
        assert!(describe_p12_error(p, "asn1 garbage").contains("PKCS#12"));
    }
}
