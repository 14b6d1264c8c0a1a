//! The contract between the desktop shell and the sync service: everything the tray and the
//! settings window may ask for. The real implementation wraps the same service the CLI runs
//! (`crate::app::opened_config`); tests use a fake. No business logic lives on the shell's side of this trait.

use std::path::PathBuf;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use tunnel_core::activity::ActivityEntry;
use tunnel_core::events::{FolderStatus, SyncEvent, SyncStatus};
use tunnel_core::ids::PageId;

use crate::app::app_error::AppError;
pub use crate::app::page_privacy::PagePrivacy;

/// How the user authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthKind {
    /// User name + password (Basic).
    Password,
    /// User name + API token (Basic).
    ApiToken,
    /// Personal access token (Bearer).
    Pat,
}

impl From<AuthKind> for tunnel_core::config::AuthKind {
    fn from(k: AuthKind) -> Self {
        match k {
            AuthKind::Password => Self::Password,
            AuthKind::ApiToken => Self::ApiToken,
            AuthKind::Pat => Self::Pat,
        }
    }
}

impl From<tunnel_core::config::AuthKind> for AuthKind {
    fn from(k: tunnel_core::config::AuthKind) -> Self {
        use tunnel_core::config::AuthKind as Core;
        match k {
            Core::Password => AuthKind::Password,
            Core::ApiToken => AuthKind::ApiToken,
            Core::Pat => AuthKind::Pat,
        }
    }
}

/// The connection form of the wizard and the Connection tab. `secret` and `p12_password` are
/// write-only: they are never sent back to the UI.
#[derive(Clone, Deserialize)]
pub struct ConnectionForm {
    /// Base URL, e.g. `https://wiki.example.com/confluence`.
    pub url: String,
    /// Auth kind.
    pub auth: AuthKind,
    /// User name (unused for a PAT).
    pub username: Option<String>,
    /// Password, API token or PAT. `None` keeps the stored one.
    pub secret: Option<String>,
    /// The page that stores folders by default.
    pub page_id: String,
    /// Optional client certificate (PKCS#12).
    pub p12_path: Option<PathBuf>,
    /// Its password. `None` keeps the stored one.
    pub p12_password: Option<String>,
    /// Optional extra CA bundle (PEM).
    pub ca_path: Option<PathBuf>,
}

impl std::fmt::Debug for ConnectionForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionForm")
            .field("url", &self.url)
            .field("auth", &self.auth)
            .field("username", &self.username)
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .field("page_id", &self.page_id)
            .field("p12_path", &self.p12_path)
            .field("p12_password", &self.p12_password.as_ref().map(|_| "***"))
            .field("ca_path", &self.ca_path)
            .finish()
    }
}

/// The saved connection as the UI may see it (no secrets).
#[derive(Clone, Debug, Serialize)]
pub struct ConnectionView {
    /// Base URL.
    pub url: String,
    /// Auth kind.
    pub auth: AuthKind,
    /// User name.
    pub username: Option<String>,
    /// Default page.
    pub page_id: String,
    /// Client certificate path.
    pub p12_path: Option<PathBuf>,
    /// CA bundle path.
    pub ca_path: Option<PathBuf>,
    /// Whether a secret is stored.
    pub has_secret: bool,
}

/// Result of "Test connection".
#[derive(Clone, Debug, Serialize)]
pub struct ConnectionCheck {
    /// The authenticated user.
    pub user: String,
    /// Title of the page.
    pub page_title: String,
    /// Whether attachments may be added (checked for real).
    pub can_write: bool,
}

/// The Settings tab.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SettingsView {
    /// Start the app at login.
    pub start_at_login: bool,
    /// Seconds between remote polls.
    pub poll_interval_secs: u64,
    /// Parallel transfers.
    pub parallel_transfers: usize,
    /// Log level (error, warn, info, debug, trace).
    pub log_level: String,
    /// Upload cap in KiB/s, 0 = unlimited.
    #[serde(default)]
    pub upload_limit_kib_per_sec: u64,
    /// Download cap in KiB/s, 0 = unlimited.
    #[serde(default)]
    pub download_limit_kib_per_sec: u64,
    /// Language of the app, the tray and the command line: `system`, `en` or `ru`.
    #[serde(default)]
    pub language: tunnel_core::config::LanguageSetting,
}

impl SettingsView {
    /// The settings a backend accepts; a message for a person otherwise.
    pub fn validate(&self) -> Result<(), AppError> {
        if !(5..=86_400).contains(&self.poll_interval_secs) {
            return Err(AppError::invalid(
                "The poll interval must be between 5 seconds and a day.",
            ));
        }
        if !(1..=16).contains(&self.parallel_transfers) {
            return Err(AppError::invalid(
                "Parallel transfers must be between 1 and 16.",
            ));
        }
        if !["error", "warn", "info", "debug", "trace"].contains(&self.log_level.as_str()) {
            return Err(AppError::invalid("Unknown log level."));
        }
        let max = tunnel_core::config::MAX_RATE_LIMIT_KIB_PER_SEC;
        if self.upload_limit_kib_per_sec > max || self.download_limit_kib_per_sec > max {
            return Err(AppError::invalid(format!(
                "A bandwidth limit must be at most {max} KiB/s (0 = unlimited)."
            )));
        }
        Ok(())
    }
}

/// Everything the desktop shell needs from the service.
#[async_trait]
pub trait DesktopBackend: Send + Sync + 'static {
    /// The saved connection, if any.
    async fn connection(&self) -> Result<Option<ConnectionView>, AppError>;
    /// Check a connection form without saving it.
    async fn test_connection(&self, form: ConnectionForm) -> Result<ConnectionCheck, AppError>;
    /// Check, then save (only what works is saved).
    async fn save_connection(&self, form: ConnectionForm) -> Result<ConnectionCheck, AppError>;
    /// Tracked folders with their state.
    async fn folders(&self) -> Result<Vec<FolderStatus>, AppError>;
    /// Track a folder (page defaults to the connection's page).
    async fn add_folder(
        &self,
        path: PathBuf,
        page_id: Option<PageId>,
    ) -> Result<FolderStatus, AppError>;
    /// Stop tracking a folder (its files stay).
    async fn remove_folder(&self, path: PathBuf) -> Result<(), AppError>;
    /// Pause or resume one folder, or all when `path` is None.
    async fn set_paused(&self, path: Option<PathBuf>, paused: bool) -> Result<(), AppError>;
    /// Sync one folder, or all, now.
    async fn sync_now(&self, path: Option<PathBuf>) -> Result<(), AppError>;
    /// The Settings tab values.
    async fn settings(&self) -> Result<SettingsView, AppError>;
    /// Save the Settings tab.
    async fn save_settings(&self, settings: SettingsView) -> Result<(), AppError>;
    /// The newest `limit` activity history entries, newest first (empty when not set up).
    async fn recent_activity(&self, limit: usize) -> Result<Vec<ActivityEntry>, AppError>;
    /// Live events.
    fn subscribe(&self) -> broadcast::Receiver<SyncEvent>;
    /// Live status.
    fn status(&self) -> watch::Receiver<SyncStatus>;
    /// Where the logs are.
    fn log_dir(&self) -> PathBuf;
    /// Resolves when someone outside the window asks the app to quit (the command line's
    /// `sber-tunnel stop` over the control socket); never, for a backend nobody can ask.
    async fn quit_requested(&self) {
        std::future::pending::<()>().await
    }
    /// Stop syncing before the app exits: the running transfer finishes or is checkpointed.
    async fn shutdown(&self) {}
    /// Selective sync: what the folder at `path` leaves off this computer, and the page's
    /// subfolders (for "Choose folders…").
    async fn folder_choice(
        &self,
        path: PathBuf,
    ) -> Result<tunnel_core::selective::FolderChoice, AppError>;
    /// Selective sync: exclude (`excluded`) or include again `subpath` of the folder at
    /// `path`; the new choice. The next sync carries it out.
    async fn set_excluded(
        &self,
        path: PathBuf,
        subpath: String,
        excluded: bool,
    ) -> Result<tunnel_core::selective::FolderChoice, AppError>;
    /// What the page of each folder (or of `path`) holds and what garbage collection would
    /// free (a dry run; empty when not set up).
    async fn page_usage(
        &self,
        path: Option<PathBuf>,
    ) -> Result<Vec<crate::app::page_care::FolderUsage>, AppError>;
    /// The warning ahead of the personal access token's expiry, when one is due.
    async fn token_notice(
        &self,
    ) -> Result<Option<tunnel_core::token_notice::TokenNotice>, AppError>;
    /// Who besides the user may view and edit a page (default: the connection's page).
    async fn page_privacy(&self, page_id: Option<PageId>) -> Result<PagePrivacy, AppError>;
    /// Restrict viewing and editing of a page (default: the connection's) to the user.
    async fn make_page_private(&self, page_id: Option<PageId>) -> Result<PagePrivacy, AppError>;
    /// Every unresolved conflict of every tracked folder, with both versions (empty when not
    /// set up).
    async fn conflicts(&self) -> Result<Vec<FolderConflict>, AppError>;
    /// Resolve the conflict `path` (its copy, relative to `folder`) by keeping `keep`; the
    /// version not kept goes to the folder's trash and the folder syncs.
    async fn resolve_conflict(
        &self,
        folder: PathBuf,
        path: String,
        keep: tunnel_core::conflicts::Keep,
    ) -> Result<(), AppError>;
    /// Ignore rules: the global patterns (`folder` None) or a tracked folder's `.sbtignore`,
    /// with every preset, for the rule editor.
    async fn ignore_rules(
        &self,
        folder: Option<PathBuf>,
    ) -> Result<crate::app::ignore_rules::RulesEditor, AppError>;
    /// Ignore rules: which existing files `text` would newly exclude or include, compared
    /// with today's rules (per folder; nothing is saved).
    async fn preview_ignore_rules(
        &self,
        folder: Option<PathBuf>,
        text: String,
    ) -> Result<Vec<crate::app::ignore_rules::FolderPreview>, AppError>;
    /// Ignore rules: save `text` (the folder's `.sbtignore` atomically, or the global patterns
    /// in the configuration, the engine restarted with them); the saved rules.
    async fn save_ignore_rules(
        &self,
        folder: Option<PathBuf>,
        text: String,
    ) -> Result<crate::app::ignore_rules::RulesEditor, AppError>;
    /// Versions view: every path the retained history of the tracked folder `folder` knows —
    /// on the page now or deleted — by path, with its last change.
    async fn history_paths(
        &self,
        folder: PathBuf,
    ) -> Result<Vec<tunnel_core::sync::HistoryPath>, AppError>;
    /// Versions view: the retained versions of `path` (relative to `folder`; `None`: the whole
    /// folder), newest first.
    async fn path_versions(
        &self,
        folder: PathBuf,
        path: Option<String>,
    ) -> Result<Vec<tunnel_core::sync::PathVersion>, AppError>;
    /// Versions view: restore `path` of `folder` (`None`: the whole folder) as `pick` says,
    /// into place (then it syncs as an ordinary change) or into the folder `to`; with
    /// `dry_run` nothing is written and the report says what would change.
    async fn restore_version(
        &self,
        folder: PathBuf,
        path: Option<String>,
        pick: crate::app::versions::RestorePick,
        to: Option<PathBuf>,
        dry_run: bool,
    ) -> Result<tunnel_core::sync::RestoreReport, AppError>;
    /// Trash view: every tracked folder's local trash (what another device's deletion or edit
    /// took away here), newest first, with the retention in days (empty when not set up).
    async fn trash(&self) -> Result<Vec<crate::app::trash_view::FolderTrash>, AppError>;
    /// Trash view: put the item `in_trash` (its place in `folder`'s trash, as listed) back at
    /// its original path, or beside it as `name (restored).ext` when that is taken; it then
    /// syncs as an ordinary change.
    async fn put_back_from_trash(
        &self,
        folder: PathBuf,
        in_trash: String,
    ) -> Result<crate::app::trash_view::PutBack, AppError>;
    /// Trash view: delete everything in `folder`'s trash for good.
    async fn empty_trash(
        &self,
        folder: PathBuf,
    ) -> Result<crate::app::trash_view::Emptied, AppError>;
}

/// An unresolved conflict of a tracked folder, as the Conflicts view shows it.
#[derive(Clone, Debug, Serialize)]
pub struct FolderConflict {
    /// The tracked folder.
    pub folder: PathBuf,
    /// The pair (paths relative to `folder`), which side is mine.
    #[serde(flatten)]
    pub conflict: tunnel_core::conflicts::Conflict,
    /// Which side is theirs.
    pub theirs: tunnel_core::conflicts::Side,
}

impl FolderConflict {
    /// `conflict` of `folder`.
    pub fn new(folder: PathBuf, conflict: tunnel_core::conflicts::Conflict) -> Self {
        let theirs = conflict.theirs();
        Self {
            folder,
            conflict,
            theirs,
        }
    }
}
