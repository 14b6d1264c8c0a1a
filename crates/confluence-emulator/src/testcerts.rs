//! A throw-away PKI for tests: a CA, a server certificate for `127.0.0.1` and `localhost`,
//! client PKCS#12 bundles (valid, expired, and one signed by another CA).
//!
//! Invariant: everything is written inside the given directory and nowhere else.

use std::path::{Path, PathBuf};

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509NameBuilder, X509};

/// Paths of the generated files.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// CA certificate (PEM) that signed the server and the good client certificates.
    pub ca_pem: PathBuf,
    /// Server certificate (PEM) for `127.0.0.1` and `localhost`.
    pub server_cert_pem: PathBuf,
    /// Server private key (PEM).
    pub server_key_pem: PathBuf,
    /// Valid client certificate + key (PKCS#12).
    pub client_p12: PathBuf,
    /// Password of every generated PKCS#12 file.
    pub client_p12_password: String,
    /// Client bundle whose certificate expired yesterday.
    pub expired_client_p12: PathBuf,
    /// Client bundle signed by another CA.
    pub untrusted_client_p12: PathBuf,
}

/// Why the PKI could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum TestCertError {
    /// OpenSSL failed.
    #[error("certificate generation failed: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
    /// Writing a file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

const DAY: i64 = 86_400;

fn key() -> Result<PKey<Private>, TestCertError> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    Ok(PKey::from_ec_key(EcKey::generate(&group)?)?)
}

enum Role {
    Ca,
    Server,
    Client,
}

fn cert(
    cn: &str,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
    role: Role,
    days: (i64, i64),
) -> Result<X509, TestCertError> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(Nid::COMMONNAME, cn)?;
    name.append_entry_by_nid(Nid::ORGANIZATIONNAME, "sber-tunnel tests")?;
    let name = name.build();
    let mut b = X509::builder()?;
    b.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(120, MsbOption::MAYBE_ZERO, false)?;
    let serial = serial.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_pubkey(key)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let not_before = Asn1Time::from_unix(now + days.0 * DAY)?;
    let not_after = Asn1Time::from_unix(now + days.1 * DAY)?;
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    match role {
        Role::Ca => {
            b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .build()?,
            )?;
        }
        Role::Server | Role::Client => {
            b.append_extension(BasicConstraints::new().build()?)?;
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .key_agreement()
                    .build()?,
            )?;
        }
    }
    match role {
        Role::Server => {
            b.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
            let ctx = b.x509v3_context(issuer.map(|i| &**i.0), None);
            let san = SubjectAlternativeName::new()
                .ip("127.0.0.1")
                .dns("localhost")
                .build(&ctx)?;
            b.append_extension(san)?;
        }
        Role::Client => {
            b.append_extension(ExtendedKeyUsage::new().client_auth().build()?)?;
        }
        Role::Ca => {}
    }
    match issuer {
        Some((ica, ikey)) => {
            b.set_issuer_name(ica.subject_name())?;
            b.sign(ikey, MessageDigest::sha256())?;
        }
        None => {
            b.set_issuer_name(&name)?;
            b.sign(key, MessageDigest::sha256())?;
        }
    }
    Ok(b.build())
}

fn write(path: &Path, bytes: &[u8]) -> Result<PathBuf, TestCertError> {
    std::fs::write(path, bytes).map_err(|source| TestCertError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(path.to_path_buf())
}

fn p12(
    dir: &Path,
    file: &str,
    cert: &X509,
    key: &PKey<Private>,
    password: &str,
) -> Result<PathBuf, TestCertError> {
    let bundle = Pkcs12::builder()
        .name("client")
        .pkey(key)
        .cert(cert)
        .build2(password)?;
    write(&dir.join(file), &bundle.to_der()?)
}

/// Generates the PKI into `dir` (which must exist).
pub fn generate(dir: &Path) -> Result<TestPki, TestCertError> {
    let ca_key = key()?;
    let ca = cert("sber-tunnel test CA", &ca_key, None, Role::Ca, (-1, 3650))?;
    let server_key = key()?;
    let server = cert(
        "127.0.0.1",
        &server_key,
        Some((&ca, &ca_key)),
        Role::Server,
        (-1, 3650),
    )?;
    let client_key = key()?;
    let client = cert(
        "alice",
        &client_key,
        Some((&ca, &ca_key)),
        Role::Client,
        (-1, 3650),
    )?;
    let expired = cert(
        "alice-expired",
        &client_key,
        Some((&ca, &ca_key)),
        Role::Client,
        (-30, -1),
    )?;
    let other_key = key()?;
    let other_ca = cert("another CA", &other_key, None, Role::Ca, (-1, 3650))?;
    let untrusted = cert(
        "mallory",
        &client_key,
        Some((&other_ca, &other_key)),
        Role::Client,
        (-1, 3650),
    )?;
    let password = "test-p12-pass".to_string();
    Ok(TestPki {
        ca_pem: write(&dir.join("ca.pem"), &ca.to_pem()?)?,
        server_cert_pem: write(&dir.join("server.pem"), &server.to_pem()?)?,
        server_key_pem: write(
            &dir.join("server.key"),
            &server_key.private_key_to_pem_pkcs8()?,
        )?,
        client_p12: p12(dir, "client.p12", &client, &client_key, &password)?,
        expired_client_p12: p12(dir, "client-expired.p12", &expired, &client_key, &password)?,
        untrusted_client_p12: p12(
            dir,
            "client-untrusted.p12",
            &untrusted,
            &client_key,
            &password,
        )?,
        client_p12_password: password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_parseable_files_inside_dir() {
        let dir = tempfile::tempdir().unwrap();
        let pki = generate(dir.path()).unwrap();
        for p in [
            &pki.ca_pem,
            &pki.server_cert_pem,
            &pki.server_key_pem,
            &pki.client_p12,
        ] {
            assert!(
                p.starts_with(dir.path()),
                "{} stays in the dir",
                p.display()
            );
        }
        let der = std::fs::read(&pki.client_p12).unwrap();
        let parsed = Pkcs12::from_der(&der)
            .unwrap()
            .parse2(&pki.client_p12_password)
            .unwrap();
        assert!(parsed.cert.is_some() && parsed.pkey.is_some());
    }
}
