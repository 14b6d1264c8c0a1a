//! `OpenedConfig`: one opened configuration — its paths, config file, journal, secrets — and the ways
//! to reach the remote from it. Both the command line and the desktop shell start here.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use tunnel_confluence::{BandwidthLimits, ConfluenceClient, ConnectionSettings};
use tunnel_core::config::Config;
use tunnel_core::ids::PageId;
use tunnel_core::journal::{FolderRecord, Journal};
use tunnel_core::paths::AppPaths;
use tunnel_core::remote::RemoteError;
use tunnel_core::secrets::SecretStore;
use tunnel_core::sync::Syncer;

/// An opened configuration.
pub struct OpenedConfig {
    pub paths: AppPaths,
    pub config: Config,
    pub journal: Arc<Mutex<Journal>>,
    pub secrets: SecretStore,
}

impl OpenedConfig {
    /// Resolve where the configuration lives (flag > SBER_TUNNEL_HOME > ./.sber-tunnel > platform).
    pub fn resolve_paths(flag: Option<&Path>) -> Result<AppPaths> {
        let env_home = std::env::var_os("SBER_TUNNEL_HOME").map(PathBuf::from);
        let cwd = std::env::current_dir().with_context(|| crate::i18n::t!(CtxCwd))?;
        AppPaths::resolve(flag, env_home.as_deref(), &cwd)
            .with_context(|| crate::i18n::t!(CtxConfigFolder))
    }

    /// Open an initialised configuration.
    pub fn open(paths: AppPaths) -> Result<OpenedConfig> {
        let config_file = paths.config_file();
        if !config_file.exists() {
            anyhow::bail!(NotConfigured(config_file));
        }
        let config = Config::load(&config_file)
            .with_context(|| crate::i18n::t!(CtxReading, path = config_file.display()))?;
        Self::with_config(paths, config)
    }

    /// Open with a given config (used by `init` before the file exists).
    pub fn with_config(paths: AppPaths, config: Config) -> Result<OpenedConfig> {
        std::fs::create_dir_all(&paths.data_dir)
            .with_context(|| crate::i18n::t!(CtxCreating, path = paths.data_dir.display()))?;
        let journal_file = paths.journal_file();
        let journal = Journal::open(&journal_file)
            .with_context(|| crate::i18n::t!(CtxOpeningJournal, path = journal_file.display()))?;
        let secrets = SecretStore::new(&paths);
        Ok(OpenedConfig {
            paths,
            config,
            journal: Arc::new(Mutex::new(journal)),
            secrets,
        })
    }

    /// The connection settings of the saved configuration, secrets included.
    pub fn connection_settings(&self) -> Result<ConnectionSettings, RemoteError> {
        crate::app::connection::saved_settings(&self.config, &self.secrets)
    }

    /// A client for the saved configuration, with its bandwidth limits
    /// (`sync.upload-limit-kib-per-sec`, `sync.download-limit-kib-per-sec`).
    pub fn client(&self) -> Result<ConfluenceClient, RemoteError> {
        let client = ConfluenceClient::new(self.connection_settings()?)?;
        client.set_bandwidth_limits(BandwidthLimits::from(&self.config.sync));
        Ok(client)
    }

    /// A syncer over this configuration's journal.
    pub fn syncer(&self) -> Syncer {
        Syncer::new(
            self.journal.clone(),
            self.config.sync.clone(),
            self.config.device.id.clone(),
        )
    }

    /// Tracked folders.
    pub fn folders(&self) -> Result<Vec<FolderRecord>> {
        let j = self
            .journal
            .lock()
            .map_err(|_| anyhow::anyhow!("journal lock poisoned"))?;
        Ok(j.folders()?)
    }

    /// Start tracking the folder at `path` (created when missing) with page `page_id`: the
    /// journal's record and the folder's marker. A running engine picks it up on `reload`.
    pub fn track_folder(&self, path: &Path, page_id: &PageId) -> Result<FolderRecord, TrackError> {
        std::fs::create_dir_all(path)
            .map_err(|e| TrackError::io(crate::i18n::Msg::CtxCreating, path, e))?;
        let path = std::fs::canonicalize(path)
            .map_err(|e| TrackError::io(crate::i18n::Msg::CtxResolving, path, e))?;
        let record = self
            .with_journal(|j| Ok(j.add_folder(&path, page_id)?))
            .map_err(TrackError::Refused)?;
        Syncer::mark_folder(&path, &record.folder_uuid)
            .map_err(|e| TrackError::Io(anyhow::Error::new(e)))?;
        Ok(record)
    }

    /// Stop tracking the folder at `path`; its files stay. Returns the path as tracked.
    pub fn untrack_folder(&self, path: &Path) -> Result<PathBuf, TrackError> {
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let record = self
            .with_journal(|j| Ok(j.folder_by_path(&path)?))
            .map_err(TrackError::Io)?
            .ok_or_else(|| TrackError::NotTracked(path.clone()))?;
        self.with_journal(|j| Ok(j.remove_folder(record.id)?))
            .map_err(TrackError::Io)?;
        let _ = std::fs::remove_file(path.join(tunnel_core::sync::FOLDER_MARKER));
        Ok(path)
    }

    /// Run `f` with the journal.
    pub fn with_journal<R>(&self, f: impl FnOnce(&mut Journal) -> Result<R>) -> Result<R> {
        let mut j = self
            .journal
            .lock()
            .map_err(|_| anyhow::anyhow!("journal lock poisoned"))?;
        f(&mut j)
    }
}

/// Why a folder could not be tracked or untracked.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    /// The file system or the journal failed.
    #[error("{0:#}")]
    Io(anyhow::Error),
    /// The journal refused the folder (already synced, inside another synced folder, …).
    #[error("{0:#}")]
    Refused(anyhow::Error),
    /// The folder is not synced.
    #[error("{} is not a synced folder", .0.display())]
    NotTracked(PathBuf),
}

impl TrackError {
    fn io(what: crate::i18n::Msg, path: &Path, e: std::io::Error) -> Self {
        let context = crate::i18n::tr(what, &[("path", &path.display())]);
        TrackError::Io(anyhow::Error::new(e).context(context))
    }
}

/// The configuration does not exist yet.
#[derive(Debug, thiserror::Error)]
#[error("sber-tunnel is not set up here yet ({0} is missing): run `sber-tunnel init` first")]
pub struct NotConfigured(pub PathBuf);
