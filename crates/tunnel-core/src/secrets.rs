//! Secrets: the Confluence password or token and the client-certificate passphrase.
//!
//! Lookup order for [`SecretStore::get`]:
//! 1. the environment (`SBER_TUNNEL_PASSWORD`, `SBER_TUNNEL_TOKEN`,
//!    `SBER_TUNNEL_P12_PASSWORD`) — for services and CI;
//! 2. with the `keyring` cargo feature: the OS keyring (macOS Keychain, Windows Credential
//!    Manager, the D-Bus Secret Service on Linux), under service `sber-tunnel` and an account
//!    naming the secret and the configuration folder;
//! 3. `secrets.toml` in the configuration folder.
//!
//! [`SecretStore::set`] writes to the keyring when one answers, else to the file; when no
//! keyring answers (a headless Linux server has no Secret Service) the store stops asking it
//! and uses the file only.
//!
//! Invariants:
//! - the file is created with mode 0600 and written atomically; a file that group or others
//!   can read is refused (never read) with a message telling how to fix it. On Windows the
//!   same with its access list: created with a protected DACL granting this user alone,
//!   refused when it lets anyone but this user, SYSTEM and the Administrators read it
//!   (see [`crate::private_file`]);
//! - secret values are held in [`SecretString`], whose `Debug`/`Display` print `[redacted]`,
//!   and are never logged.
//!
//! The keyring is optional because on Linux it needs a running Secret Service (gnome-keyring,
//! KWallet) that servers lack; the private file is the store that always works.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::paths::AppPaths;

/// Which secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// Password for basic auth.
    Password,
    /// API token or personal access token.
    Token,
    /// Passphrase of the PKCS#12 client certificate.
    P12Password,
}

impl SecretKind {
    /// The environment variable that overrides this secret.
    pub fn env_var(self) -> &'static str {
        match self {
            SecretKind::Password => "SBER_TUNNEL_PASSWORD",
            SecretKind::Token => "SBER_TUNNEL_TOKEN",
            SecretKind::P12Password => "SBER_TUNNEL_P12_PASSWORD",
        }
    }
    /// The key in `secrets.toml`.
    pub fn file_key(self) -> &'static str {
        match self {
            SecretKind::Password => "password",
            SecretKind::Token => "token",
            SecretKind::P12Password => "p12-password",
        }
    }
}

/// A secret value. `Debug` and `Display` never show it; call [`SecretString::expose`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretString(String);

impl SecretString {
    /// Wrap a value.
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(value.into())
    }
    /// The value, for the one place that needs it (building an auth header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}
impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Errors of the secret store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The file can be read by group or others.
    #[error(
        "{} can be read by other users (mode {mode:o}); refusing to use it. Run `chmod 600 {}` or delete it and run init again",
        path.display(),
        path.display()
    )]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file's access list lets other users read it (Windows).
    #[error(
        "{} can be read by other users ({}); refusing to use it. Delete it and run init again (it is then created readable by you alone)",
        path.display(),
        readers.join(", ")
    )]
    TooOpenAcl {
        /// The file.
        path: PathBuf,
        /// Who else may read it (SIDs, or "everyone").
        readers: Vec<String>,
    },
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("{} is not a valid secrets file: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Parser message (never contains values).
        message: String,
    },
}

/// Where the environment comes from (the process, or a fixed map in tests).
#[derive(Clone)]
enum EnvSource {
    Process,
    Fixed(HashMap<String, String>),
}

/// Reads and writes the secrets of one installation.
#[derive(Clone)]
pub struct SecretStore {
    file: PathBuf,
    env: EnvSource,
    /// The OS keyring, when the `keyring` feature is on and this store may use it.
    #[cfg(feature = "keyring")]
    keyring: Option<os_keyring::OsKeyring>,
}

impl fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretStore")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// On-disk form of `secrets.toml`.
#[derive(Default, Serialize, Deserialize)]
#[serde(transparent)]
struct SecretFile(BTreeMap<String, String>);

impl SecretStore {
    /// The store of `paths`, reading the process environment.
    /// With the `keyring` feature it also uses the OS keyring.
    pub fn new(paths: &AppPaths) -> Self {
        SecretStore {
            file: paths.secrets_file(),
            env: EnvSource::Process,
            #[cfg(feature = "keyring")]
            keyring: Some(os_keyring::OsKeyring::new(&paths.config_dir)),
        }
    }

    /// The store of `paths` with a fixed environment and the file only, never the OS keyring
    /// (tests must not touch the user's keyring).
    pub fn with_env(paths: &AppPaths, env: HashMap<String, String>) -> Self {
        SecretStore {
            file: paths.secrets_file(),
            env: EnvSource::Fixed(env),
            #[cfg(feature = "keyring")]
            keyring: None,
        }
    }

    /// The secrets file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    fn env_value(&self, kind: SecretKind) -> Option<String> {
        let v = match &self.env {
            EnvSource::Process => std::env::var(kind.env_var()).ok(),
            EnvSource::Fixed(m) => m.get(kind.env_var()).cloned(),
        };
        v.filter(|v| !v.is_empty())
    }

    /// The secret, or `None` when it is set nowhere or the file cannot be used (the reason is
    /// logged as a warning; use [`SecretStore::try_get`] to get it as an error).
    pub fn get(&self, kind: SecretKind) -> Option<SecretString> {
        match self.try_get(kind) {
            Ok(v) => v,
            Err(e) => {
                warn!(kind = ?kind, "cannot read the secret: {e}");
                None
            }
        }
    }

    /// The secret: environment first, then the file.
    pub fn try_get(&self, kind: SecretKind) -> Result<Option<SecretString>, SecretError> {
        if let Some(v) = self.env_value(kind) {
            return Ok(Some(SecretString(v)));
        }
        #[cfg(feature = "keyring")]
        if let Some(k) = &self.keyring {
            if let Some(v) = k.get(kind) {
                return Ok(Some(SecretString(v)));
            }
        }
        Ok(self
            .read_file()?
            .0
            .remove(kind.file_key())
            .filter(|v| !v.is_empty())
            .map(SecretString))
    }

    /// Store a secret in the file (mode 0600, atomic replace). An environment variable of
    /// the same kind still takes precedence on [`SecretStore::get`].
    pub fn set(&self, kind: SecretKind, value: &str) -> Result<(), SecretError> {
        #[cfg(feature = "keyring")]
        if let Some(k) = &self.keyring {
            if k.set(kind, value) {
                // A stale copy in the file must not outlive the new value.
                if let Ok(mut file) = self.read_file() {
                    if file.0.remove(kind.file_key()).is_some() {
                        self.write_file(&file)?;
                    }
                }
                return Ok(());
            }
        }
        let mut file = self.read_file()?;
        file.0
            .insert(kind.file_key().to_string(), value.to_string());
        self.write_file(&file)
    }

    /// Remove a secret from the file (no error when it was not there).
    pub fn delete(&self, kind: SecretKind) -> Result<(), SecretError> {
        #[cfg(feature = "keyring")]
        if let Some(k) = &self.keyring {
            k.delete(kind);
        }
        let mut file = self.read_file()?;
        if file.0.remove(kind.file_key()).is_some() {
            self.write_file(&file)?;
        }
        Ok(())
    }

    fn io_err(&self, source: std::io::Error) -> SecretError {
        SecretError::Io {
            path: self.file.clone(),
            source,
        }
    }

    fn read_file(&self) -> Result<SecretFile, SecretError> {
        let meta = match std::fs::metadata(&self.file) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SecretFile::default()),
            Err(e) => return Err(self.io_err(e)),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(SecretError::TooOpen {
                    path: self.file.clone(),
                    mode,
                });
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        #[cfg(windows)]
        {
            let dacl = crate::private_file::dacl_of(&self.file).map_err(|e| self.io_err(e))?;
            let readers = crate::private_file::other_readers(dacl.as_deref());
            if !readers.is_empty() {
                return Err(SecretError::TooOpenAcl {
                    path: self.file.clone(),
                    readers,
                });
            }
        }
        let text = std::fs::read_to_string(&self.file).map_err(|e| self.io_err(e))?;
        toml::from_str::<SecretFile>(&text).map_err(|e| SecretError::Parse {
            path: self.file.clone(),
            // The toml message quotes the offending line, which may hold a secret: keep only
            // the position.
            message: e
                .span()
                .map(|s| format!("syntax error at byte {}", s.start))
                .unwrap_or_else(|| "syntax error".into()),
        })
    }

    fn write_file(&self, file: &SecretFile) -> Result<(), SecretError> {
        let mut text = String::from("# sber-tunnel secrets. Keep this file private (mode 0600).\n");
        text.push_str(&toml::to_string(file).map_err(|e| SecretError::Parse {
            path: self.file.clone(),
            message: e.to_string(),
        })?);
        crate::config::write_atomic_with_mode(&self.file, text.as_bytes(), 0o600)
            .map_err(|e| self.io_err(e))
    }
}

/// The OS keyring behind the `keyring` feature. Failures are never errors: a keyring that
/// does not answer is switched off for this store and the file takes over.
#[cfg(feature = "keyring")]
mod os_keyring {
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use tracing::{debug, warn};

    use super::SecretKind;

    /// Service name of every entry.
    const SERVICE: &str = "sber-tunnel";

    #[derive(Clone)]
    pub(super) struct OsKeyring {
        /// Distinguishes installations (several config folders on one machine).
        scope: String,
        /// False once the keyring failed to answer.
        available: Arc<AtomicBool>,
    }

    impl OsKeyring {
        pub(super) fn new(config_dir: &Path) -> Self {
            OsKeyring {
                scope: config_dir.display().to_string(),
                available: Arc::new(AtomicBool::new(true)),
            }
        }

        fn entry(&self, kind: SecretKind) -> Option<keyring::Entry> {
            if !self.available.load(Ordering::Relaxed) {
                return None;
            }
            let account = format!("{}@{}", kind.file_key(), self.scope);
            match keyring::Entry::new(SERVICE, &account) {
                Ok(e) => Some(e),
                Err(e) => {
                    self.give_up(&e);
                    None
                }
            }
        }

        fn give_up(&self, e: &keyring::Error) {
            if self.available.swap(false, Ordering::Relaxed) {
                debug!("OS keyring not available, using the secrets file: {e}");
            }
        }

        pub(super) fn get(&self, kind: SecretKind) -> Option<String> {
            match self.entry(kind)?.get_password() {
                Ok(v) => Some(v),
                Err(keyring::Error::NoEntry) => None,
                Err(e) => {
                    self.give_up(&e);
                    None
                }
            }
        }

        /// True when the keyring stored it.
        pub(super) fn set(&self, kind: SecretKind, value: &str) -> bool {
            let Some(entry) = self.entry(kind) else {
                return false;
            };
            match entry.set_password(value) {
                Ok(()) => true,
                Err(e) => {
                    warn!(kind = ?kind, "could not store the secret in the OS keyring, using the secrets file: {e}");
                    self.give_up(&e);
                    false
                }
            }
        }

        pub(super) fn delete(&self, kind: SecretKind) {
            if let Some(entry) = self.entry(kind) {
                match entry.delete_credential() {
                    Ok(()) | Err(keyring::Error::NoEntry) => {}
                    Err(e) => self.give_up(&e),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path, env: &[(&str, &str)]) -> SecretStore {
        SecretStore::with_env(
            &AppPaths::under(dir),
            env.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// Whether this system keeps the secrets file private: Unix (mode 0600) and Windows (a
    /// DACL with this user alone) do. Wine 8 does not keep a file's DACL (measured: see
    /// `private_file`'s Windows test), and there the store refuses to write the file at all
    /// rather than leave a secret readable by Everyone: the tests that need a stored file
    /// check that refusal instead ([`refuses_to_write`]).
    fn file_can_be_private(dir: &Path) -> bool {
        crate::config::write_atomic_with_mode(&dir.join("probe.toml"), b"", 0o600).is_ok()
    }

    /// `set` refuses, saying why, and leaves no file behind.
    fn refuses_to_write(s: &SecretStore) {
        let err = s
            .set(SecretKind::Token, "t")
            .expect_err("a file others may read is not written");
        assert!(
            err.to_string().contains("did not keep the access list"),
            "{err}"
        );
        assert!(!s.file().exists(), "nothing written");
    }

    #[test]
    fn round_trip_and_delete() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path(), &[]);
        assert_eq!(s.get(SecretKind::Password), None, "nothing stored yet");
        if !file_can_be_private(dir.path()) {
            return refuses_to_write(&s); // Wine (see file_can_be_private)
        }
        s.set(SecretKind::Password, "pa ss\"word'\n").expect("set");
        s.set(SecretKind::P12Password, "p12").expect("set");
        assert_eq!(
            s.get(SecretKind::Password).expect("stored").expose(),
            "pa ss\"word'\n",
            "quotes and newlines survive TOML"
        );
        assert_eq!(
            s.get(SecretKind::P12Password).expect("stored").expose(),
            "p12"
        );
        assert_eq!(s.get(SecretKind::Token), None);
        s.delete(SecretKind::Password).expect("delete");
        assert_eq!(s.get(SecretKind::Password), None);
        assert_eq!(
            s.get(SecretKind::P12Password).expect("kept").expose(),
            "p12"
        );
        s.delete(SecretKind::Token)
            .expect("deleting a missing secret is fine");
    }

    // Unix only: file modes. Windows' equivalent, the file's DACL, is checked by the two
    // Windows tests below.
    #[cfg(unix)]
    #[test]
    fn file_is_created_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path(), &[]);
        s.set(SecretKind::Token, "t").expect("set");
        let mode = std::fs::metadata(s.file())
            .expect("stat")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }

    /// Windows: the file is created readable by this user alone (a protected DACL with one
    /// entry), as 0600 is on Unix; where the system does not keep that DACL (Wine), it is
    /// not written at all.
    #[cfg(windows)]
    #[test]
    fn file_is_created_readable_by_this_user_alone() {
        use crate::private_file::{dacl_of, Trustee};
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path(), &[]);
        if !file_can_be_private(dir.path()) {
            return refuses_to_write(&s); // Wine (see file_can_be_private)
        }
        s.set(SecretKind::Token, "t").expect("set");
        let dacl = dacl_of(s.file())
            .expect("DACL")
            .expect("the file has a DACL");
        let trustees: Vec<&Trustee> = dacl.iter().map(|a| &a.trustee).collect();
        assert_eq!(trustees, vec![&Trustee::CurrentUser], "{dacl:?}");
        assert_eq!(s.get(SecretKind::Token).expect("read back").expose(), "t");
    }

    /// Windows: a secrets file others may read is refused, as mode 0644 is on Unix. (Under
    /// Wine, which does not keep the DACL set here, the file's default DACL already lets
    /// Everyone read: refused all the same.)
    #[cfg(windows)]
    #[test]
    fn file_others_may_read_is_refused_on_windows() {
        use std::os::windows::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path(), &[]);
        std::fs::create_dir_all(s.file().parent().expect("folder")).expect("mkdir");
        std::fs::write(s.file(), "token = \"t\"\n").expect("write");
        const WRITE_DAC: u32 = 0x0004_0000;
        const READ_CONTROL: u32 = 0x0002_0000;
        let f = std::fs::OpenOptions::new()
            .access_mode(WRITE_DAC | READ_CONTROL)
            .open(s.file())
            .expect("open for its DACL");
        crate::private_file::share_with_everyone(&f).expect("share it");
        drop(f);
        let err = s.try_get(SecretKind::Token).expect_err("refused");
        match &err {
            SecretError::TooOpenAcl { readers, .. } => {
                assert_eq!(readers, &vec!["S-1-1-0".to_string()], "Everyone")
            }
            other => panic!("expected TooOpenAcl, got {other:?}"),
        }
        assert!(err.to_string().contains("other users"), "{err}");
    }

    // Unix only: file modes (see file_is_created_with_mode_0600).
    #[cfg(unix)]
    #[test]
    fn readable_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path(), &[]);
        s.set(SecretKind::Token, "t").expect("set");
        std::fs::set_permissions(s.file(), std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = s
            .try_get(SecretKind::Token)
            .expect_err("world-readable file");
        assert!(
            matches!(err, SecretError::TooOpen { mode: 0o644, .. }),
            "{err}"
        );
        assert!(
            err.to_string().contains("chmod 600"),
            "the message tells the fix: {err}"
        );
        assert_eq!(
            s.get(SecretKind::Token),
            None,
            "get hides the value of an open file"
        );
        assert!(
            s.set(SecretKind::Token, "x").is_err(),
            "nor is it rewritten silently"
        );
    }

    #[test]
    fn environment_overrides_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path(), &[("SBER_TUNNEL_TOKEN", "from-env")]);
        if !file_can_be_private(dir.path()) {
            assert_eq!(s.get(SecretKind::Token).expect("env").expose(), "from-env");
            return refuses_to_write(&s); // Wine (see file_can_be_private)
        }
        s.set(SecretKind::Token, "from-file").expect("set");
        assert_eq!(s.get(SecretKind::Token).expect("set").expose(), "from-env");
        let s2 = store(dir.path(), &[("SBER_TUNNEL_TOKEN", "")]);
        assert_eq!(
            s2.get(SecretKind::Token).expect("set").expose(),
            "from-file",
            "an empty variable does not hide the file"
        );
    }

    #[cfg(feature = "keyring")]
    #[test]
    fn without_a_keyring_the_file_takes_over() {
        // Point the D-Bus client at nothing so this test never touches a real keyring.
        let dir = tempfile::tempdir().expect("tempdir");
        let k = os_keyring::OsKeyring::new(dir.path());
        let session_bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
            || std::env::var_os("XDG_RUNTIME_DIR")
                .is_some_and(|d| Path::new(&d).join("bus").exists());
        if session_bus || cfg!(not(target_os = "linux")) {
            return;
        }
        assert!(
            !k.set(SecretKind::Token, "t"),
            "no Secret Service answers here"
        );
        assert_eq!(k.get(SecretKind::Token), None);
        let mut s = store(dir.path(), &[]);
        s.keyring = Some(k);
        s.set(SecretKind::Token, "from-file")
            .expect("falls back to the file");
        assert_eq!(
            s.get(SecretKind::Token).expect("stored").expose(),
            "from-file"
        );
        assert!(s.file().exists());
    }

    #[test]
    fn secret_string_is_redacted() {
        let s = SecretString::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{s}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn parse_errors_do_not_echo_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path(), &[]);
        if !file_can_be_private(dir.path()) {
            // Wine (see file_can_be_private): no private file, so no parse either.
            return refuses_to_write(&s);
        }
        s.set(SecretKind::Token, "x").expect("set");
        // Corrupt it while keeping the mode.
        std::fs::write(s.file(), "token = \"hunter2").expect("write");
        let err = s.try_get(SecretKind::Token).expect_err("bad toml");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
