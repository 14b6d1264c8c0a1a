//! `Config`: the one configuration file (`config.toml`), its defaults and validation.
//!
//! The file is TOML in kebab-case; unknown keys are refused so a typo never silently falls
//! back to a default. Secrets (passwords, tokens, certificate passphrases) never live here —
//! see [`crate::secrets`]. Saving is atomic (temporary file, fsync, rename), so a crash leaves
//! either the old or the new file, never half of one.
//!
//! Precedence (flags > environment > file > defaults) is applied by the binary; this module
//! holds the file and the defaults.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Smallest accepted chunk size (1 MiB): smaller chunks mean too many attachments.
pub const MIN_CHUNK_SIZE: u64 = 1024 * 1024;
/// Largest accepted chunk size (2 GiB): bigger uploads fail on most servers and proxies.
pub const MAX_CHUNK_SIZE: u64 = 2 * 1024 * 1024 * 1024;
/// Largest number of parallel transfers accepted.
pub const MAX_PARALLEL_TRANSFERS: usize = 32;
/// Longest device id.
pub const MAX_DEVICE_ID_LEN: usize = 40;
/// Largest accepted bandwidth limit, KiB/s (10 GiB/s): no link this tool meets is faster, so a
/// larger value is a typo; it also keeps the limit in bytes per second far from overflow.
pub const MAX_RATE_LIMIT_KIB_PER_SEC: u64 = 10 * 1024 * 1024;

/// Shortest accepted garbage-collection grace period (1 hour). The grace keeps blobs another
/// device uploaded but has not committed yet: a commit normally follows its uploads within
/// seconds, and a sync that uploads for longer is still covered by the committer's own check
/// after its commit (docs/remote-format.md, "Garbage collection") — at the price of sending
/// again what was collected. An hour keeps that price rare; shorter values only save a little
/// space for a while.
pub const MIN_GC_GRACE_SECS: u64 = 3600;

/// Environment variable that sets the garbage-collection grace period (seconds) below
/// [`MIN_GC_GRACE_SECS`] — honoured by debug builds only, for tests of the binary.
pub const TEST_GC_GRACE_ENV: &str = "SBER_TUNNEL_TEST_GC_GRACE_SECS";

/// Errors of loading, saving and validating the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration.
    #[error("{}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Cause (names the line and key).
        #[source]
        source: toml::de::Error,
    },
    /// The configuration could not be serialised.
    #[error("cannot write the configuration: {0}")]
    Serialize(#[from] toml::ser::Error),
    /// A value is out of range.
    #[error("invalid configuration: {key}: {message}")]
    Invalid {
        /// The key (e.g. `sync.chunk-size`).
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// How we authenticate to Confluence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthKind {
    /// Basic auth with user name and password (secret: `Password`).
    #[default]
    Password,
    /// Basic auth with user name and API token (secret: `Token`).
    ApiToken,
    /// Bearer personal access token (secret: `Token`).
    Pat,
}

impl AuthKind {
    /// The secret this way of signing in needs.
    pub fn secret_kind(self) -> crate::secrets::SecretKind {
        match self {
            AuthKind::Password => crate::secrets::SecretKind::Password,
            AuthKind::ApiToken | AuthKind::Pat => crate::secrets::SecretKind::Token,
        }
    }
}

/// The whole configuration file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// The Confluence server.
    pub remote: RemoteConfig,
    /// Sync limits and tuning.
    pub sync: SyncSettings,
    /// This device.
    pub device: DeviceConfig,
    /// Logging.
    pub log: LogConfig,
    /// The user interface (written only when it differs from the default).
    #[serde(skip_serializing_if = "UiConfig::is_default")]
    pub ui: UiConfig,
}

/// `[ui]`: how the app, the tray and the command line talk to the user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct UiConfig {
    /// `system` (the operating system's language), `en` or `ru`.
    pub language: LanguageSetting,
}

impl UiConfig {
    fn is_default(&self) -> bool {
        *self == UiConfig::default()
    }
}

/// `ui.language`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LanguageSetting {
    /// Follow the operating system's language (Russian when it is Russian, English otherwise).
    #[default]
    System,
    /// English.
    En,
    /// Russian.
    Ru,
}

/// `[remote]`: where and as whom.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct RemoteConfig {
    /// Base URL of the Confluence server (e.g. `https://wiki.example.com`).
    pub url: String,
    /// User name (for password and API-token auth).
    pub username: Option<String>,
    /// Authentication method.
    pub auth: AuthKind,
    /// Page id used by `add` when none is given.
    pub default_page_id: Option<crate::ids::PageId>,
    /// Client certificate (PKCS#12) for mutual TLS.
    pub p12: Option<PathBuf>,
    /// Extra CA certificate (PEM) to trust.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate (testing only).
    pub accept_invalid_certs: bool,
    /// Warn this many days before the personal access token expires, where the server says
    /// when (default [`crate::token_notice::DEFAULT_WARN_DAYS`]; 0 = never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_expiry_warn_days: Option<u32>,
}

/// `[sync]`: limits and tuning of the sync engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct SyncSettings {
    /// Files larger than this are split into chunks of this size (bytes).
    pub chunk_size: u64,
    /// Files smaller than this are packed together (bytes).
    pub pack_threshold: u64,
    /// Target size of a pack (bytes).
    pub pack_target: u64,
    /// Uploads/downloads in flight at once.
    pub parallel_transfers: usize,
    /// Seconds between polls of the remote head.
    pub poll_interval_secs: u64,
    /// Refuse a sync that deletes more than this share of the files (0..=1)…
    pub max_delete_share: f64,
    /// …when it deletes more than this many files.
    pub max_delete_min_files: usize,
    /// Extra ignore patterns (gitignore syntax) for every folder.
    pub ignore: Vec<String>,
    /// Unreferenced blobs are trashed only when the server wrote them at least this long ago
    /// (seconds; at least [`MIN_GC_GRACE_SECS`]), so a device still committing what it just
    /// uploaded does not have to send it again.
    pub gc_grace_secs: u64,
    /// Upload bandwidth cap in KiB/s for all folders and parallel transfers together
    /// (0 = unlimited, at most [`MAX_RATE_LIMIT_KIB_PER_SEC`]). Read when the service starts.
    pub upload_limit_kib_per_sec: u64,
    /// Download bandwidth cap in KiB/s for all folders and parallel transfers together
    /// (0 = unlimited, at most [`MAX_RATE_LIMIT_KIB_PER_SEC`]). Read when the service starts.
    pub download_limit_kib_per_sec: u64,
    /// How the service notices local changes: `auto` (native notifications; polling when the
    /// system's limit on watches is reached) or `poll` (list the folders periodically: for
    /// network shares, where native notifications miss changes made by other machines).
    pub watch: WatchSetting,
    /// Days a file deleted or replaced by another device's change stays in the folder's local
    /// trash (`.sber-tunnel-trash`) before a sync empties it (at least 1).
    pub trash_keep_days: u64,
    /// Days every replaced file list stays on the page as history, so that any file or the
    /// whole folder can be restored as it was (0 = keep only the current state). Applied by
    /// the device that compacts the file list; see docs/remote-format.md, "History".
    pub history_keep_days: u64,
    /// Per-folder overrides of `history-keep-days`, by the folder's absolute path.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub folder_history_keep_days: std::collections::BTreeMap<PathBuf, u64>,
    /// Files larger than twice this are cut where their content says, into chunks of this
    /// size on average (half to twice it), so that an edit uploads only the chunks around it
    /// (bytes, rounded down to a power of two; 0 = files are cut at `chunk-size` only). Never
    /// above half of `chunk-size` (lowered to fit). See docs/remote-format.md, "File entries".
    pub delta_chunk_size: u64,
}

impl SyncSettings {
    /// The history retention of the folder at `path`, in days (its override, else
    /// `history-keep-days`).
    pub fn history_keep_days_for(&self, path: &std::path::Path) -> u64 {
        self.folder_history_keep_days
            .get(path)
            .copied()
            .unwrap_or(self.history_keep_days)
    }

    /// The grace period garbage collection uses: `gc_grace_secs`, never below
    /// [`MIN_GC_GRACE_SECS`] (a file written by hand is not validated by every caller). Debug
    /// builds take [`TEST_GC_GRACE_ENV`] instead when it is set, so tests of the binary can
    /// collect at once.
    pub fn gc_grace(&self) -> u64 {
        #[cfg(debug_assertions)]
        if let Some(secs) = std::env::var(TEST_GC_GRACE_ENV)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return secs;
        }
        self.gc_grace_secs.max(MIN_GC_GRACE_SECS)
    }
}

/// `sync.watch`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WatchSetting {
    /// Native notifications, polling as the fallback.
    #[default]
    Auto,
    /// Always poll.
    Poll,
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            chunk_size: 100_000_000,
            pack_threshold: 4 * 1024 * 1024,
            pack_target: 16 * 1024 * 1024,
            parallel_transfers: 4,
            poll_interval_secs: 30,
            max_delete_share: 0.5,
            max_delete_min_files: 10,
            ignore: Vec::new(),
            gc_grace_secs: 24 * 3600,
            upload_limit_kib_per_sec: 0,
            download_limit_kib_per_sec: 0,
            watch: WatchSetting::Auto,
            trash_keep_days: 30,
            history_keep_days: 30,
            folder_history_keep_days: std::collections::BTreeMap::new(),
            delta_chunk_size: DEFAULT_DELTA_CHUNK_SIZE,
        }
    }
}

/// Default of `sync.delta-chunk-size`: chunks of 1 to 4 MiB, 2 MiB on average.
pub const DEFAULT_DELTA_CHUNK_SIZE: u64 = 2 * 1024 * 1024;

/// `[device]`: who this machine is in the manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct DeviceConfig {
    /// Stable id: `[a-z0-9-]`, at most 40 characters.
    pub id: String,
    /// Human name.
    pub name: String,
}

/// `[log]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct LogConfig {
    /// Default level (`error`, `warn`, `info`, `debug`, `trace`) or an env-filter string.
    pub level: String,
    /// Number of daily log files kept.
    pub keep_files: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            keep_files: 7,
        }
    }
}

impl Config {
    /// Read and parse `path` (it is not validated; call [`Config::validate`]).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// Parse TOML text.
    pub fn parse(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// Write to `path` atomically: temporary file in the same folder, fsync, rename.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let text = toml::to_string_pretty(self)?;
        write_atomic(path, text.as_bytes()).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })
    }

    /// Check ranges and formats; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid =
            |key: &'static str, message: String| Err(ConfigError::Invalid { key, message });
        let s = &self.sync;
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&s.chunk_size) {
            return invalid(
                "sync.chunk-size",
                format!(
                    "{} is outside {MIN_CHUNK_SIZE}..={MAX_CHUNK_SIZE} bytes",
                    s.chunk_size
                ),
            );
        }
        if s.pack_threshold > s.chunk_size {
            return invalid(
                "sync.pack-threshold",
                format!(
                    "{} is larger than chunk-size {}",
                    s.pack_threshold, s.chunk_size
                ),
            );
        }
        if s.pack_target < s.pack_threshold || s.pack_target > s.chunk_size {
            return invalid(
                "sync.pack-target",
                format!(
                    "{} must be between pack-threshold {} and chunk-size {}",
                    s.pack_target, s.pack_threshold, s.chunk_size
                ),
            );
        }
        if s.parallel_transfers == 0 || s.parallel_transfers > MAX_PARALLEL_TRANSFERS {
            return invalid(
                "sync.parallel-transfers",
                format!(
                    "{} is outside 1..={MAX_PARALLEL_TRANSFERS}",
                    s.parallel_transfers
                ),
            );
        }
        if s.gc_grace_secs < MIN_GC_GRACE_SECS {
            return invalid(
                "sync.gc-grace-secs",
                format!(
                    "{} is below the minimum of {MIN_GC_GRACE_SECS} seconds (1 hour)",
                    s.gc_grace_secs
                ),
            );
        }
        if s.trash_keep_days == 0 {
            return invalid("sync.trash-keep-days", "must be at least 1".into());
        }
        if s.poll_interval_secs == 0 {
            return invalid("sync.poll-interval-secs", "must be at least 1".into());
        }
        if s.delta_chunk_size != 0 && s.delta_chunk_size < crate::chunk::cdc::MIN_AVG {
            return invalid(
                "sync.delta-chunk-size",
                format!(
                    "{} is below {} bytes (0 turns content-defined chunking off)",
                    s.delta_chunk_size,
                    crate::chunk::cdc::MIN_AVG
                ),
            );
        }
        if !(s.max_delete_share.is_finite() && (0.0..=1.0).contains(&s.max_delete_share)) {
            return invalid(
                "sync.max-delete-share",
                format!("{} is outside 0..=1", s.max_delete_share),
            );
        }
        for (key, value) in [
            ("sync.upload-limit-kib-per-sec", s.upload_limit_kib_per_sec),
            (
                "sync.download-limit-kib-per-sec",
                s.download_limit_kib_per_sec,
            ),
        ] {
            if value > MAX_RATE_LIMIT_KIB_PER_SEC {
                return invalid(
                    key,
                    format!("{value} is above {MAX_RATE_LIMIT_KIB_PER_SEC} KiB/s (0 = unlimited)"),
                );
            }
        }
        for pattern in &s.ignore {
            if let Err(e) = ignore::gitignore::GitignoreBuilder::new("/").add_line(None, pattern) {
                return invalid("sync.ignore", format!("{pattern:?}: {e}"));
            }
        }
        if !self.device.id.is_empty() && !is_valid_device_id(&self.device.id) {
            return invalid(
                "device.id",
                format!(
                    "{:?}: use 1 to {MAX_DEVICE_ID_LEN} characters of a-z, 0-9 and '-'",
                    self.device.id
                ),
            );
        }
        let url = &self.remote.url;
        if !url.is_empty() && !url.starts_with("https://") && !url.starts_with("http://") {
            return invalid(
                "remote.url",
                format!("{:?} must start with https:// or http://", self.remote.url),
            );
        }
        if matches!(self.remote.auth, AuthKind::Password | AuthKind::ApiToken)
            && !self.remote.url.is_empty()
            && self.remote.username.as_deref().is_none_or(str::is_empty)
        {
            return invalid(
                "remote.username",
                "needed for password and api-token auth".into(),
            );
        }
        if self.log.keep_files == 0 {
            return invalid("log.keep-files", "must be at least 1".into());
        }
        Ok(())
    }
}

/// True for a valid device id: 1..=40 characters of `[a-z0-9-]`.
pub fn is_valid_device_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_DEVICE_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl DeviceConfig {
    /// A new identity for this machine: id = sanitised host name + `-` + 4 random hex
    /// characters; name = the host name.
    pub fn generate() -> DeviceConfig {
        let host = host_name();
        DeviceConfig {
            id: device_id_from(&host, rand::thread_rng().gen::<u16>()),
            name: if host.is_empty() {
                "device".into()
            } else {
                host
            },
        }
    }
}

/// Build a device id from a host name and a random suffix.
fn device_id_from(host: &str, suffix: u16) -> String {
    let mut base = String::new();
    for c in host.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            base.push(c);
        } else if !base.ends_with('-') {
            base.push('-');
        }
    }
    let mut base = base.trim_matches('-').to_string();
    if base.is_empty() {
        base = "device".into();
    }
    base.truncate(MAX_DEVICE_ID_LEN - 5);
    let base = base.trim_end_matches('-');
    format!("{base}-{suffix:04x}")
}

/// The machine's host name, best effort (empty when unknown).
fn host_name() -> String {
    for var in ["HOSTNAME", "COMPUTERNAME"] {
        if let Ok(v) = std::env::var(var) {
            if !v.trim().is_empty() {
                return v.trim().to_string();
            }
        }
    }
    for file in ["/proc/sys/kernel/hostname", "/etc/hostname"] {
        if let Ok(v) = std::fs::read_to_string(file) {
            if !v.trim().is_empty() {
                return v.trim().to_string();
            }
        }
    }
    String::new()
}

/// Write `bytes` to `path` atomically (temporary file beside it, fsync, rename, fsync of the
/// folder where the platform allows it).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with_mode(path, bytes, 0o644)
}

/// [`write_atomic`] creating the file with Unix permission bits `mode` (ignored elsewhere);
/// the file never exists with wider permissions, not even for a moment.
pub(crate) fn write_atomic_with_mode(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(
        ".{file_name}.{:08x}.tmp",
        rand::thread_rng().gen::<u32>()
    ));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(mode);
        }
        // Windows: a private file (no bit for group or others, as 0600) gets a DACL that
        // lets this user alone in, set before anything is written to it (and kept by the
        // rename).
        #[cfg(windows)]
        let private = mode & 0o077 == 0;
        #[cfg(windows)]
        if private {
            use std::os::windows::fs::OpenOptionsExt;
            const FILE_GENERIC_WRITE: u32 = 0x0012_0116;
            const READ_CONTROL: u32 = 0x0002_0000;
            const WRITE_DAC: u32 = 0x0004_0000;
            options.access_mode(FILE_GENERIC_WRITE | READ_CONTROL | WRITE_DAC);
        }
        #[cfg(not(any(unix, windows)))]
        let _ = mode;
        let mut f = options.open(&tmp)?;
        #[cfg(windows)]
        if private {
            crate::private_file::restrict_to_current_user(&f)?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_as_documented_and_valid() {
        let c = Config::default();
        assert_eq!(c.sync.chunk_size, 100_000_000);
        assert_eq!(c.sync.pack_threshold, 4 * 1024 * 1024);
        assert_eq!(c.sync.pack_target, 16 * 1024 * 1024);
        assert_eq!(c.sync.parallel_transfers, 4);
        assert_eq!(c.sync.poll_interval_secs, 30);
        assert_eq!(c.sync.max_delete_min_files, 10);
        assert_eq!(c.sync.upload_limit_kib_per_sec, 0, "unlimited");
        assert_eq!(c.sync.download_limit_kib_per_sec, 0, "unlimited");
        assert_eq!(c.log.level, "info");
        assert_eq!(c.log.keep_files, 7);
        c.validate().expect("defaults are valid");
    }

    #[test]
    fn example_config_parses_and_validates() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/config.example.toml");
        let c = Config::load(&path).expect("docs/config.example.toml parses");
        c.validate().expect("the example is valid");
        assert_eq!(
            c.remote.auth,
            AuthKind::Pat,
            "the example shows a PAT setup"
        );
        assert!(
            !c.sync.ignore.is_empty(),
            "the example shows ignore patterns"
        );
    }

    #[test]
    fn gc_grace_has_a_floor_of_an_hour() {
        let c = Config::parse("[sync]\ngc-grace-secs = 0\n").expect("parses");
        let err = c.validate().expect_err("below the minimum");
        assert!(err.to_string().contains("sync.gc-grace-secs"), "{err}");
        if std::env::var_os(TEST_GC_GRACE_ENV).is_none() {
            assert_eq!(
                c.sync.gc_grace(),
                MIN_GC_GRACE_SECS,
                "a file that was never validated still gets the minimum"
            );
        }
        let c = Config::parse("[sync]\ngc-grace-secs = 3600\n").expect("parses");
        c.validate().expect("the minimum itself is fine");
        assert_eq!(SyncSettings::default().gc_grace_secs, 24 * 3600);
    }

    #[test]
    fn trash_keep_days_defaults_to_30_and_is_at_least_1() {
        assert_eq!(SyncSettings::default().trash_keep_days, 30);
        let c = Config::parse("[sync]\ntrash-keep-days = 0\n").expect("parses");
        let err = c.validate().expect_err("0 refused");
        assert!(err.to_string().contains("sync.trash-keep-days"), "{err}");
        let c = Config::parse("[sync]\ntrash-keep-days = 90\n").expect("parses");
        c.validate().expect("valid");
        assert_eq!(c.sync.trash_keep_days, 90);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = Config::parse("[sync]\nchunk-sise = 5\n").expect_err("typo");
        assert!(err.to_string().contains("chunk-sise"), "{err}");
        Config::parse("colour = 1\n").expect_err("unknown top-level key");
    }

    #[test]
    fn partial_file_keeps_defaults() {
        let c = Config::parse(
            "[remote]\nurl = \"https://w\"\nauth = \"api-token\"\nusername = \"u\"\n",
        )
        .expect("parse");
        assert_eq!(c.remote.auth, AuthKind::ApiToken);
        assert_eq!(c.sync, SyncSettings::default());
        c.validate().expect("valid");
    }

    #[test]
    fn bandwidth_limits_parse_and_old_files_without_them_load() {
        let old = Config::parse("[sync]\npoll-interval-secs = 60\nparallel-transfers = 2\n")
            .expect("a file from before the limits existed");
        assert_eq!(old.sync.upload_limit_kib_per_sec, 0);
        assert_eq!(old.sync.download_limit_kib_per_sec, 0);
        old.validate().expect("valid");
        let c = Config::parse(
            "[sync]\nupload-limit-kib-per-sec = 512\ndownload-limit-kib-per-sec = 2048\n",
        )
        .expect("parse");
        assert_eq!(c.sync.upload_limit_kib_per_sec, 512);
        assert_eq!(c.sync.download_limit_kib_per_sec, 2048);
        c.validate().expect("valid");
        let text = toml::to_string_pretty(&c).expect("serialise");
        assert!(text.contains("upload-limit-kib-per-sec = 512"), "{text}");
        assert_eq!(Config::parse(&text).expect("round trip"), c);
    }

    #[test]
    fn the_watch_setting_parses_and_defaults_to_auto() {
        let old = Config::parse("[sync]\npoll-interval-secs = 60\n").expect("an older file");
        assert_eq!(old.sync.watch, WatchSetting::Auto);
        let c = Config::parse("[sync]\nwatch = \"poll\"\n").expect("parse");
        assert_eq!(c.sync.watch, WatchSetting::Poll);
        let text = toml::to_string_pretty(&c).expect("serialise");
        assert!(text.contains("watch = \"poll\""), "{text}");
        let err = Config::parse("[sync]\nwatch = \"sometimes\"\n")
            .expect_err("an unknown mode is refused")
            .to_string();
        assert!(err.contains("sometimes") || err.contains("watch"), "{err}");
    }

    #[test]
    fn bandwidth_limits_are_bounded() {
        let mut c = Config::default();
        c.sync.upload_limit_kib_per_sec = MAX_RATE_LIMIT_KIB_PER_SEC;
        c.sync.download_limit_kib_per_sec = MAX_RATE_LIMIT_KIB_PER_SEC;
        c.validate().expect("the bound itself is accepted");
        c.sync.upload_limit_kib_per_sec = MAX_RATE_LIMIT_KIB_PER_SEC + 1;
        assert!(matches!(
            c.validate(),
            Err(ConfigError::Invalid {
                key: "sync.upload-limit-kib-per-sec",
                ..
            })
        ));
        let mut c = Config::default();
        c.sync.download_limit_kib_per_sec = u64::MAX;
        assert!(matches!(
            c.validate(),
            Err(ConfigError::Invalid {
                key: "sync.download-limit-kib-per-sec",
                ..
            })
        ));
    }

    #[test]
    fn save_then_load_round_trips_atomically() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/config.toml");
        let mut c = Config::default();
        c.remote.url = "https://wiki.example.com".into();
        c.remote.username = Some("alice".into());
        c.remote.p12 = Some(PathBuf::from("/etc/me.p12"));
        c.sync.ignore = vec!["*.bak".into()];
        c.device = DeviceConfig::generate();
        c.save(&path).expect("save");
        assert_eq!(Config::load(&path).expect("load"), c);
        // A second save replaces the file and leaves no temporary files behind.
        c.log.level = "debug".into();
        c.save(&path).expect("save again");
        assert_eq!(Config::load(&path).expect("load").log.level, "debug");
        let names: Vec<_> = std::fs::read_dir(path.parent().expect("parent"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("config.toml")]);
    }

    #[test]
    fn validation_catches_bad_values() {
        let mut c = Config::default();
        c.sync.chunk_size = 10;
        assert!(matches!(
            c.validate(),
            Err(ConfigError::Invalid {
                key: "sync.chunk-size",
                ..
            })
        ));
        let mut c = Config::default();
        c.sync.parallel_transfers = 0;
        assert!(c.validate().is_err());
        let mut c = Config::default();
        c.sync.max_delete_share = 1.5;
        assert!(c.validate().is_err());
        let mut c = Config::default();
        c.device.id = "Not Valid".into();
        assert!(c.validate().is_err());
        let mut c = Config::default();
        c.remote.url = "ftp://x".into();
        assert!(c.validate().is_err());
        let mut c = Config::default();
        c.remote.url = "https://x".into();
        c.remote.auth = AuthKind::Password;
        assert!(c.validate().is_err(), "password auth needs a user name");
        c.remote.auth = AuthKind::Pat;
        c.validate().expect("a PAT needs no user name");
    }

    #[test]
    fn generated_device_ids_are_valid() {
        let d = DeviceConfig::generate();
        assert!(is_valid_device_id(&d.id), "{:?}", d.id);
        for host in [
            "My-Laptop.local",
            "",
            "---",
            "ÄÖÜ",
            &"x".repeat(100),
            "a_b c",
        ] {
            let id = device_id_from(host, 0xabcd);
            assert!(is_valid_device_id(&id), "{host:?} gave {id:?}");
            assert!(id.ends_with("-abcd"), "{id}");
        }
        assert_eq!(
            device_id_from("My-Laptop.local", 0x1a2b),
            "my-laptop-local-1a2b"
        );
    }
}
