//! The real [`DesktopBackend`]: the same configuration, journal and sync engine the command
//! line uses, hosted in the desktop app's process. The shell stays a thin translation layer.
//!
//! Invariants: the backend owns one pair of [`EngineChannels`] for its whole life and every
//! engine it starts publishes there, so the shell's subscriptions never go stale and nothing
//! copies one channel into another. While another service (`--cli start`, a systemd unit) holds
//! the configuration's lock, a waiter ([`engine_host::wait_for_lock`]) is woken the moment it
//! lets go; after Quit nothing starts again. Journal, config and secret files are touched only
//! inside `spawn_blocking`; the state mutex is a std one held for quick reads and swaps, and the
//! one lock held across an engine's shutdown ([`RealBackend::lifecycle`]) is taken only by
//! restarts and by commands that need the next engine, never by the views.

use std::path::PathBuf;
use std::sync::{Arc, MutexGuard, PoisonError, Weak};

use async_trait::async_trait;
use tokio::sync::{broadcast, mpsc, watch, Mutex};
use tokio::task::JoinHandle;
use tunnel_core::activity::ActivityEntry;
use tunnel_core::config::Config;
use tunnel_core::engine::{EngineChannels, EngineHandle};
use tunnel_core::events::{FolderStatus, SyncEvent, SyncState, SyncStatus};
use tunnel_core::ids::PageId;
use tunnel_core::paths::AppPaths;
use tunnel_core::secrets::SecretStore;

use crate::app::app_error::{blocking, AppError, ErrorCode};
use crate::app::connection::{self, ConnectionInput};
use crate::app::control::ControlServer;
use crate::app::engine_host::{self, AlreadyRunning, InstanceLock};
use crate::app::opened_config::OpenedConfig;
use crate::app::page_privacy;
use crate::desktop::backend::{
    ConnectionCheck, ConnectionForm, ConnectionView, DesktopBackend, FolderConflict, PagePrivacy,
    SettingsView,
};

const START_AT_LOGIN_KEY: &str = "start-at-login";

/// The configuration's single-instance lock, as far as this app is concerned.
#[derive(Default)]
enum Lock {
    /// Not tried yet (no configuration), or released.
    #[default]
    NotTaken,
    /// Another service holds it; this task takes over when it lets go.
    Waiting(JoinHandle<()>),
    /// This app runs the configuration's sync service (released when dropped).
    Held { _lock: InstanceLock },
}

/// A running engine and the command line's way in to it.
struct Hosted {
    engine: EngineHandle,
    /// `status`, `sync`, `pause`, `stop` from the command line while the engine runs.
    control: Option<ControlServer>,
}

impl Hosted {
    /// Close the control channel, then stop the engine.
    async fn stop(self) {
        // The channel first, so no request reaches an engine that is going away.
        drop(self.control);
        self.engine.shutdown().await;
    }
}

/// What the backend runs now.
#[derive(Default)]
struct State {
    /// The opened configuration; `None` until the wizard saves a connection, and after Quit.
    app: Option<Arc<OpenedConfig>>,
    engine: Option<Hosted>,
    lock: Lock,
    /// Quit: nothing starts again.
    quit: bool,
}

/// The desktop app's backend.
pub struct RealBackend {
    paths: AppPaths,
    /// The status and events of every engine this backend starts, and its own word while
    /// none runs. Created once; the shell subscribes here.
    channels: EngineChannels,
    state: std::sync::Mutex<State>,
    /// Held while an engine starts, stops or restarts (also across its shutdown), so those
    /// happen one at a time; engine commands wait on it for the engine that comes next.
    lifecycle: Mutex<()>,
    /// This backend, for the task that waits for the lock.
    me: Weak<RealBackend>,
    /// `stop` requests from the control socket; the shell quits the app on one.
    quit_tx: mpsc::Sender<()>,
    quit_rx: Mutex<mpsc::Receiver<()>>,
}

impl RealBackend {
    /// Open the configuration at `paths` (it may not exist yet: the wizard creates it).
    pub async fn new(paths: AppPaths) -> Arc<RealBackend> {
        let (quit_tx, quit_rx) = mpsc::channel(1);
        let backend = Arc::new_cyclic(|me| RealBackend {
            paths: paths.clone(),
            channels: EngineChannels::new(),
            state: std::sync::Mutex::new(State::default()),
            lifecycle: Mutex::new(()),
            me: me.clone(),
            quit_tx,
            quit_rx: Mutex::new(quit_rx),
        });
        let opened =
            blocking(move || OpenedConfig::open(paths).map_err(|e| AppError::from_anyhow(&e)))
                .await;
        if let Ok(app) = opened {
            let _lifecycle = backend.lifecycle.lock().await;
            let app = Arc::new(app);
            backend.state().app = Some(app.clone());
            backend.start_engine(app).await;
        }
        backend
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every change to `State` is a plain assignment: a panic elsewhere cannot leave it torn.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Start the engine for `app`, once this app holds the configuration's lock; while another
    /// service holds it, say so and wait for it to let go. Caller holds `lifecycle` (so Quit
    /// cannot come in between) and not the state mutex: the connection's secrets, perhaps in
    /// the OS keyring, are read on a blocking thread with no lock held.
    async fn start_engine(&self, app: Arc<OpenedConfig>) {
        if !self.hold_lock(&app) {
            return;
        }
        let stores = {
            let app = app.clone();
            blocking(move || {
                engine_host::store_factory(&app).map_err(|e| AppError::from_anyhow(&e))
            })
            .await
        };
        let stores = match stores {
            Ok(stores) => stores,
            Err(e) => {
                tracing::warn!(error = %e, "the sync engine did not start");
                return;
            }
        };
        let (engine, _task) = engine_host::spawn_engine(&app, stores, &self.channels);
        let control = match ControlServer::start(&app, engine.clone(), self.quit_tx.clone()) {
            Ok(control) => Some(control),
            Err(e) => {
                tracing::warn!(
                    error = %format!("{e:#}"),
                    "no control socket: the command line cannot reach this app"
                );
                None
            }
        };
        self.state().engine = Some(Hosted { engine, control });
    }

    /// Whether this app holds the configuration's lock (taking it if it can). While another
    /// service holds it, say so in the status and start a waiter that takes over when it lets go.
    fn hold_lock(&self, app: &OpenedConfig) -> bool {
        let mut s = self.state();
        if s.quit {
            return false;
        }
        match s.lock {
            Lock::Held { .. } => true,
            // The status says why; the waiter starts the engine.
            Lock::Waiting(_) => false,
            Lock::NotTaken => match engine_host::lock_instance(app) {
                Ok(lock) => {
                    s.lock = Lock::Held { _lock: lock };
                    true
                }
                Err(e) => {
                    // Most likely the headless service (`--cli start` or a systemd unit); the
                    // app takes over the moment it stops.
                    let waiting_for_lock = e.is::<AlreadyRunning>();
                    let message = if waiting_for_lock {
                        let waiter = take_over_when_free(self.me.clone(), self.paths.clone());
                        s.lock = Lock::Waiting(tokio::spawn(waiter));
                        "another sber-tunnel sync service is running for this configuration; \
                         stop it with `sber-tunnel --cli stop` and this app takes over"
                            .to_string()
                    } else {
                        format!("{e:#}")
                    };
                    self.channels.publish_status(SyncStatus {
                        state: SyncState::Error,
                        message: Some(message),
                        waiting: waiting_for_lock
                            .then_some(tunnel_core::progress::WaitReason::WaitingForLock),
                        ..SyncStatus::default()
                    });
                    false
                }
            },
        }
    }

    /// Stop the running engine, if any, and start one for `app`. Caller holds `lifecycle`.
    async fn restart_with(&self, app: OpenedConfig) {
        let running = self.state().engine.take();
        if let Some(hosted) = running {
            hosted.stop().await;
        }
        let app = Arc::new(app);
        self.state().app = Some(app.clone());
        self.start_engine(app).await;
    }

    async fn engine(&self) -> Result<EngineHandle, AppError> {
        // A restart under way: the command is for the engine that comes next.
        let _lifecycle = self.lifecycle.lock().await;
        self.state()
            .engine
            .as_ref()
            .map(|h| h.engine.clone())
            .ok_or_else(not_configured)
    }

    fn app(&self) -> Result<Arc<OpenedConfig>, AppError> {
        self.state().app.clone().ok_or_else(not_configured)
    }

    /// A client of the saved connection and the page asked about (default: the connection's).
    async fn page_client(
        &self,
        page_id: Option<PageId>,
    ) -> Result<(tunnel_confluence::ConfluenceClient, PageId), AppError> {
        let app = self.app()?;
        // The secret may live in the OS keyring: a blocking call.
        blocking(move || {
            let page = page_id
                .or_else(|| app.config.remote.default_page_id.clone())
                .ok_or_else(|| AppError::invalid(crate::i18n::t!(DeskWhichPage)))?;
            Ok((app.client().map_err(AppError::from)?, page))
        })
        .await
    }

    async fn check(&self, form: &ConnectionForm) -> Result<ConnectionCheck, AppError> {
        let input = connection_input(form)?;
        let paths = self.paths.clone();
        // A secret not typed again comes from the store, perhaps the OS keyring: blocking.
        let (settings, input) = blocking(move || {
            let settings = input
                .settings(&SecretStore::new(&paths))
                .map_err(|e| AppError::invalid(e.to_string()))?;
            Ok((settings, input))
        })
        .await?;
        let identity = connection::check(settings, &input.page_id)
            .await
            .map_err(|f| AppError::from(f.error))?;
        Ok(ConnectionCheck {
            user: identity.user,
            page_title: identity.title,
            can_write: true,
        })
    }
}

/// Wait for the configuration's lock, held by another service, and start the engine once it
/// is free. Aborted on Quit; a lock taken after that is released at once.
async fn take_over_when_free(me: Weak<RealBackend>, paths: AppPaths) {
    let taken = engine_host::wait_for_lock(&paths).await;
    let Some(backend) = me.upgrade() else {
        return;
    };
    let _lifecycle = backend.lifecycle.lock().await;
    let app = {
        let mut s = backend.state();
        if s.quit {
            return;
        }
        match taken {
            Ok(lock) => {
                s.lock = Lock::Held { _lock: lock };
                s.app.clone()
            }
            Err(e) => {
                s.lock = Lock::NotTaken;
                backend.channels.publish_status(SyncStatus {
                    state: SyncState::Error,
                    message: Some(format!("{e:#}")),
                    ..SyncStatus::default()
                });
                return;
            }
        }
    };
    if let Some(app) = app {
        backend.start_engine(app).await;
        if backend.state().engine.is_some() {
            tracing::info!("the other sync service is gone; this app syncs now");
        }
    }
}

/// The wizard's form as the application layer's connection input. The form has no "do not
/// verify certificates" switch: the app always verifies.
fn connection_input(form: &ConnectionForm) -> Result<ConnectionInput, AppError> {
    Ok(ConnectionInput {
        url: form.url.clone(),
        auth: form.auth.into(),
        username: form.username.clone(),
        page_id: PageId::parse(&form.page_id)?,
        secret: form.secret.clone(),
        p12: form.p12_path.clone(),
        p12_password: form.p12_password.clone(),
        ca_file: form.ca_path.clone(),
        accept_invalid_certs: false,
    })
}

/// What a request that needs a connection gets before there is one.
fn not_configured() -> AppError {
    AppError::new(ErrorCode::NotConfigured, crate::i18n::t!(DeskConnectFirst))
}

#[async_trait]
impl DesktopBackend for RealBackend {
    async fn connection(&self) -> Result<Option<ConnectionView>, AppError> {
        let Some(app) = self.state().app.clone() else {
            return Ok(None);
        };
        // The secret may live in the OS keyring: a blocking call.
        blocking(move || {
            let c = &app.config.remote;
            Ok(Some(ConnectionView {
                url: c.url.clone(),
                auth: c.auth.into(),
                username: c.username.clone(),
                page_id: c
                    .default_page_id
                    .as_ref()
                    .map(PageId::to_string)
                    .unwrap_or_default(),
                p12_path: c.p12.clone(),
                ca_path: c.ca_file.clone(),
                has_secret: app.secrets.get(c.auth.secret_kind()).is_some(),
            }))
        })
        .await
    }

    async fn test_connection(&self, form: ConnectionForm) -> Result<ConnectionCheck, AppError> {
        self.check(&form).await
    }

    async fn save_connection(&self, form: ConnectionForm) -> Result<ConnectionCheck, AppError> {
        let check = self.check(&form).await?;
        let _lifecycle = self.lifecycle.lock().await;
        let running = self.state().engine.take();
        if let Some(hosted) = running {
            hosted.stop().await;
        }
        let paths = self.paths.clone();
        let app = blocking(move || {
            let config = connection_input(&form)?
                .save(&paths)
                .map_err(|e| AppError::from_anyhow(&e))?;
            OpenedConfig::with_config(paths, config).map_err(|e| AppError::from_anyhow(&e))
        })
        .await?;
        self.restart_with(app).await;
        Ok(check)
    }

    async fn folders(&self) -> Result<Vec<FolderStatus>, AppError> {
        Ok(self.channels.status().borrow().folders.clone())
    }

    async fn add_folder(
        &self,
        path: PathBuf,
        page_id: Option<PageId>,
    ) -> Result<FolderStatus, AppError> {
        let engine = self.engine().await?;
        let app = self.app()?;
        let path = blocking(move || {
            let page = page_id
                .or_else(|| app.config.remote.default_page_id.clone())
                .ok_or_else(|| AppError::invalid(crate::i18n::t!(DeskWhichPageFolder)))?;
            Ok(app.track_folder(&path, &page).map_err(AppError::from)?.path)
        })
        .await?;
        engine.reload().await.map_err(AppError::from)?;
        // The engine publishes its status before `reload` answers.
        let status = engine
            .status()
            .borrow()
            .folders
            .iter()
            .find(|f| f.path == path)
            .cloned();
        status.ok_or_else(|| AppError::internal(crate::i18n::t!(DeskNotListed)))
    }

    async fn remove_folder(&self, path: PathBuf) -> Result<(), AppError> {
        let engine = self.engine().await?;
        let app = self.app()?;
        blocking(move || app.untrack_folder(&path).map_err(AppError::from)).await?;
        engine.reload().await.map_err(AppError::from)
    }

    async fn set_paused(&self, path: Option<PathBuf>, paused: bool) -> Result<(), AppError> {
        self.engine()
            .await?
            .set_paused(path, paused)
            .await
            .map_err(AppError::from)
    }

    async fn sync_now(&self, path: Option<PathBuf>) -> Result<(), AppError> {
        self.engine()
            .await?
            .sync_now(path)
            .await
            .map_err(AppError::from)
    }

    async fn settings(&self) -> Result<SettingsView, AppError> {
        let app = self.state().app.clone();
        let (config, start) = match app {
            Some(app) => {
                blocking(move || {
                    let start = app
                        .with_journal(|j| Ok(j.get_config(START_AT_LOGIN_KEY)?))
                        .ok()
                        .flatten();
                    Ok((app.config.clone(), start))
                })
                .await?
            }
            None => (Config::default(), None),
        };
        Ok(SettingsView {
            start_at_login: start.as_deref() == Some("1"),
            poll_interval_secs: config.sync.poll_interval_secs,
            parallel_transfers: config.sync.parallel_transfers,
            log_level: config.log.level.clone(),
            upload_limit_kib_per_sec: config.sync.upload_limit_kib_per_sec,
            download_limit_kib_per_sec: config.sync.download_limit_kib_per_sec,
            language: config.ui.language,
        })
    }

    async fn save_settings(&self, settings: SettingsView) -> Result<(), AppError> {
        let _lifecycle = self.lifecycle.lock().await;
        let old = self.app()?;
        settings.validate()?;
        let mut config = old.config.clone();
        config.sync.poll_interval_secs = settings.poll_interval_secs;
        config.sync.parallel_transfers = settings.parallel_transfers;
        config.log.level = settings.log_level.clone();
        config.sync.upload_limit_kib_per_sec = settings.upload_limit_kib_per_sec;
        config.sync.download_limit_kib_per_sec = settings.download_limit_kib_per_sec;
        config.ui.language = settings.language;
        let config_file = self.paths.config_file();
        let app = blocking(move || {
            config
                .save(&config_file)
                .map_err(|e| AppError::internal(e.to_string()))?;
            let v = if settings.start_at_login { "1" } else { "0" };
            old.with_journal(|j| Ok(j.set_config(START_AT_LOGIN_KEY, v)?))
                .map_err(|e| AppError::from_anyhow(&e))?;
            // The same journal and secrets, the new settings.
            Ok(OpenedConfig {
                paths: old.paths.clone(),
                config,
                journal: old.journal.clone(),
                secrets: old.secrets.clone(),
            })
        })
        .await?;
        self.restart_with(app).await;
        Ok(())
    }

    async fn recent_activity(&self, limit: usize) -> Result<Vec<ActivityEntry>, AppError> {
        let Some(app) = self.state().app.clone() else {
            return Ok(Vec::new());
        };
        blocking(move || {
            app.with_journal(|j| Ok(tunnel_core::activity::recent(j, limit)?))
                .map_err(|e| AppError::from_anyhow(&e))
        })
        .await
    }

    fn subscribe(&self) -> broadcast::Receiver<SyncEvent> {
        self.channels.subscribe()
    }

    fn status(&self) -> watch::Receiver<SyncStatus> {
        self.channels.status()
    }

    fn log_dir(&self) -> PathBuf {
        self.paths.log_dir()
    }

    async fn quit_requested(&self) {
        if self.quit_rx.lock().await.recv().await.is_none() {
            std::future::pending::<()>().await
        }
    }

    async fn shutdown(&self) {
        let _lifecycle = self.lifecycle.lock().await;
        let (running, lock, app) = {
            let mut s = self.state();
            s.quit = true;
            (s.engine.take(), std::mem::take(&mut s.lock), s.app.take())
        };
        // Nothing left to take over: a lock the waiter gets later is dropped at once.
        if let Lock::Waiting(waiter) = &lock {
            waiter.abort();
        }
        if let Some(hosted) = running {
            hosted.stop().await;
        }
        // The lock goes last, after the engine has stopped.
        drop(lock);
        drop(app);
    }

    async fn page_usage(
        &self,
        path: Option<PathBuf>,
    ) -> Result<Vec<crate::app::page_care::FolderUsage>, AppError> {
        let Some(app) = self.state().app.clone() else {
            return Ok(Vec::new());
        };
        let reader = app.clone();
        // The journal, and the secret perhaps in the OS keyring: blocking calls.
        let (mut folders, client) = blocking(move || {
            let folders = reader.folders().map_err(|e| AppError::from_anyhow(&e))?;
            Ok((folders, reader.client().map_err(AppError::from)?))
        })
        .await?;
        if let Some(p) = &path {
            folders.retain(|f| &f.path == p);
        }
        crate::app::page_care::page_usage(&client, &app.syncer(), &folders)
            .await
            .map_err(|e| AppError::from_anyhow(&e))
    }

    async fn token_notice(
        &self,
    ) -> Result<Option<tunnel_core::token_notice::TokenNotice>, AppError> {
        let Some(app) = self.state().app.clone() else {
            return Ok(None);
        };
        // The secret may live in the OS keyring (a D-Bus call that can wait for its timeout):
        // built on a blocking thread, never on one of the workers that answer the window.
        let opened = app.clone();
        let Ok(client) = blocking(move || opened.client().map_err(AppError::from)).await else {
            return Ok(None);
        };
        let warn_days = app.config.remote.token_expiry_warn_days;
        Ok(crate::app::page_care::token_notice(&client, warn_days).await)
    }

    async fn conflicts(&self) -> Result<Vec<FolderConflict>, AppError> {
        let Some(app) = self.state().app.clone() else {
            return Ok(Vec::new());
        };
        // SQLite and a stat per file: blocking.
        blocking(move || {
            let device = app.config.device.id.clone();
            let mut out = Vec::new();
            for f in app.folders().map_err(|e| AppError::from_anyhow(&e))? {
                let found = app
                    .with_journal(|j| Ok(tunnel_core::conflicts::list(j, &f, &device)?))
                    .map_err(|e| AppError::from_anyhow(&e))?;
                out.extend(
                    found
                        .into_iter()
                        .map(|c| FolderConflict::new(f.path.clone(), c)),
                );
            }
            Ok(out)
        })
        .await
    }

    async fn resolve_conflict(
        &self,
        folder: PathBuf,
        path: String,
        keep: tunnel_core::conflicts::Keep,
    ) -> Result<(), AppError> {
        let app = self.app()?;
        let rel = tunnel_core::rel_path::RelPath::new(&path)
            .map_err(|e| AppError::invalid(format!("{path}: {e}")))?;
        let synced = blocking(move || {
            let record = app
                .folders()
                .map_err(|e| AppError::from_anyhow(&e))?
                .into_iter()
                .find(|f| f.path == folder)
                .ok_or_else(|| {
                    AppError::invalid(crate::i18n::t!(ErrUnknownFolder, path = folder.display()))
                })?;
            let device = app.config.device.id.clone();
            app.with_journal(|j| {
                Ok(tunnel_core::conflicts::resolve(
                    j, &record, &device, &rel, keep,
                )?)
            })
            .map_err(|e| AppError::from_anyhow(&e))?;
            Ok(record.path)
        })
        .await?;
        // The resolution is a local change: send it now (a paused folder sends it on resume).
        if let Err(e) = self.sync_now(Some(synced)).await {
            tracing::info!(error = %e, "the resolved conflict syncs later");
        }
        Ok(())
    }

    async fn page_privacy(&self, page_id: Option<PageId>) -> Result<PagePrivacy, AppError> {
        let (client, page) = self.page_client(page_id).await?;
        page_privacy::read(&client, &page)
            .await
            .map_err(AppError::from)
    }

    async fn make_page_private(&self, page_id: Option<PageId>) -> Result<PagePrivacy, AppError> {
        let (client, page) = self.page_client(page_id).await?;
        page_privacy::make_private(&client, &page)
            .await
            .map_err(AppError::from)
    }

    async fn folder_choice(
        &self,
        path: PathBuf,
    ) -> Result<tunnel_core::selective::FolderChoice, AppError> {
        let app = self.app()?;
        blocking(move || crate::app::selective::choice(&app, &path)).await
    }

    async fn set_excluded(
        &self,
        path: PathBuf,
        subpath: String,
        excluded: bool,
    ) -> Result<tunnel_core::selective::FolderChoice, AppError> {
        let app = self.app()?;
        blocking(move || crate::app::selective::set_excluded(&app, &path, &subpath, excluded)).await
    }

    async fn ignore_rules(
        &self,
        folder: Option<PathBuf>,
    ) -> Result<crate::app::ignore_rules::RulesEditor, AppError> {
        let app = self.app()?;
        blocking(move || {
            let target = crate::app::ignore_rules::target_of(&app, folder)?;
            crate::app::ignore_rules::editor(&app.config, &target)
        })
        .await
    }

    async fn preview_ignore_rules(
        &self,
        folder: Option<PathBuf>,
        text: String,
    ) -> Result<Vec<crate::app::ignore_rules::FolderPreview>, AppError> {
        let app = self.app()?;
        blocking(move || {
            let target = crate::app::ignore_rules::target_of(&app, folder)?;
            let folders: Vec<PathBuf> = app
                .folders()
                .map_err(|e| AppError::from_anyhow(&e))?
                .into_iter()
                .map(|f| f.path)
                .collect();
            crate::app::ignore_rules::preview(&app.config, &folders, &target, &text)
                .map_err(|e| AppError::from_anyhow(&e))
        })
        .await
    }

    async fn save_ignore_rules(
        &self,
        folder: Option<PathBuf>,
        text: String,
    ) -> Result<crate::app::ignore_rules::RulesEditor, AppError> {
        use crate::app::ignore_rules::{self as rules, Target};
        let old = self.app()?;
        let target = {
            let app = Arc::clone(&old);
            blocking(move || rules::target_of(&app, folder)).await?
        };
        if let Target::Folder(root) = &target {
            // Read at the folder's next sync; nothing to restart.
            let (root, t) = (root.clone(), text.clone());
            blocking(move || {
                tunnel_core::ignore_rules::save_folder_rules(&root, &t)
                    .map_err(|e| AppError::invalid(e.to_string()))
            })
            .await?;
            return rules::editor(&old.config, &target);
        }
        // The global patterns: saved in the configuration, the engine restarted with them
        // (as the Settings tab's save does).
        let _lifecycle = self.lifecycle.lock().await;
        let config = rules::with_global(&old.config, &text)?;
        let config_file = self.paths.config_file();
        let app = blocking(move || {
            config
                .save(&config_file)
                .map_err(|e| AppError::internal(e.to_string()))?;
            Ok(OpenedConfig {
                paths: old.paths.clone(),
                config,
                journal: old.journal.clone(),
                secrets: old.secrets.clone(),
            })
        })
        .await?;
        let view = rules::editor(&app.config, &target);
        self.restart_with(app).await;
        view
    }

    async fn history_paths(
        &self,
        folder: PathBuf,
    ) -> Result<Vec<tunnel_core::sync::HistoryPath>, AppError> {
        crate::app::versions::history_paths(&self.app()?, &folder).await
    }

    async fn path_versions(
        &self,
        folder: PathBuf,
        path: Option<String>,
    ) -> Result<Vec<tunnel_core::sync::PathVersion>, AppError> {
        crate::app::versions::versions(&self.app()?, &folder, path.as_deref()).await
    }

    async fn restore_version(
        &self,
        folder: PathBuf,
        path: Option<String>,
        pick: crate::app::versions::RestorePick,
        to: Option<PathBuf>,
        dry_run: bool,
    ) -> Result<tunnel_core::sync::RestoreReport, AppError> {
        let app = self.app()?;
        let report = crate::app::versions::restore(
            &app,
            &folder,
            path.as_deref(),
            &pick,
            to.as_deref(),
            dry_run,
        )
        .await?;
        // Into place it is a local change: send it now (a paused folder sends it on resume).
        if to.is_none() && !dry_run {
            if let Err(e) = self.sync_now(Some(folder)).await {
                tracing::info!(error = %e, "the restored files sync later");
            }
        }
        Ok(report)
    }

    async fn trash(&self) -> Result<Vec<crate::app::trash_view::FolderTrash>, AppError> {
        let Some(app) = self.state().app.clone() else {
            return Ok(Vec::new());
        };
        // SQLite and a walk of each trash folder: blocking.
        blocking(move || crate::app::trash_view::list(&app)).await
    }

    async fn put_back_from_trash(
        &self,
        folder: PathBuf,
        in_trash: String,
    ) -> Result<crate::app::trash_view::PutBack, AppError> {
        let app = self.app()?;
        let at = folder.clone();
        let done = blocking(move || crate::app::trash_view::put_back(&app, &at, &in_trash)).await?;
        // A put-back file is a local change: send it now (a paused folder sends it on resume).
        if let Err(e) = self.sync_now(Some(folder)).await {
            tracing::info!(error = %e, "the file put back syncs later");
        }
        Ok(done)
    }

    async fn empty_trash(
        &self,
        folder: PathBuf,
    ) -> Result<crate::app::trash_view::Emptied, AppError> {
        let app = self.app()?;
        blocking(move || crate::app::trash_view::empty(&app, &folder)).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::app::control::{request, ControlRequest};
    use crate::app::engine_host::lock_instance;
    use test_support::wait::wait_for_async;
    use tunnel_core::config::DeviceConfig;

    /// How long a test waits for the app to react.
    const PATIENCE: Duration = Duration::from_secs(30);

    /// The desktop app hosts the service the command line talks to: while a headless service
    /// holds the configuration it waits and says why, takes over once that one stops, answers
    /// on the control socket, and quits on `stop` releasing the lock and the socket.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_app_takes_over_from_a_headless_service_and_serves_the_control_socket() {
        let emulator = super::super::emulator_app::spawn().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let app = super::super::emulator_app::configured(emulator.base_url(), dir.path());
        let paths = app.paths.clone();
        let socket = paths.socket_path();

        // A headless service (`--cli start`) holds the configuration.
        let headless = lock_instance(&app).expect("lock");
        let backend = RealBackend::new(paths.clone()).await;
        let status = backend.status().borrow().clone();
        assert_eq!(status.state, tunnel_core::events::SyncState::Error);
        let message = status.message.unwrap_or_default();
        assert!(
            message.contains("sber-tunnel --cli stop"),
            "the app should say how to let it take over: {message}"
        );
        assert!(request(&socket, &ControlRequest::Status)
            .await
            .expect("request")
            .is_none());

        // The headless service stops: the app takes over and serves the command line.
        drop(headless);
        wait_for_async(
            "the app to answer on the control socket",
            PATIENCE,
            || async {
                matches!(request(&socket, &ControlRequest::Status).await, Ok(Some(r)) if r.ok)
            },
        )
        .await;
        assert_ne!(
            backend.status().borrow().state,
            tunnel_core::events::SyncState::Error
        );
        let paused = request(
            &socket,
            &ControlRequest::Pause {
                path: None,
                paused: true,
            },
        )
        .await
        .expect("request")
        .expect("an answer");
        assert!(paused.ok, "{:?}", paused.error);
        wait_for_async("the app's status to say paused", PATIENCE, || async {
            backend.status().borrow().state == tunnel_core::events::SyncState::Paused
        })
        .await;

        // `sber-tunnel stop`: the app is asked to quit, then lets go of everything.
        let stop = request(&socket, &ControlRequest::Stop)
            .await
            .expect("request")
            .expect("an answer");
        assert!(stop.ok);
        tokio::time::timeout(Duration::from_secs(10), backend.quit_requested())
            .await
            .expect("the stop request reaches the shell");
        backend.shutdown().await;
        assert!(lock_instance(&app).is_ok(), "the lock is released");
        assert!(!socket.exists(), "the socket file is removed");
        // Nothing restarts behind the person's back after Quit: no engine, nobody waiting.
        {
            let s = backend.state();
            assert!(s.quit && s.engine.is_none() && s.app.is_none());
            assert!(matches!(s.lock, Lock::NotTaken), "no waiter for the lock");
        }
        assert!(request(&socket, &ControlRequest::Status)
            .await
            .expect("request")
            .is_none());
    }

    /// Quit while a headless service holds the configuration: the app stops waiting, and when
    /// that service lets go later the lock is free for whoever comes next (not kept by the
    /// thread that was waiting for the app).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn quitting_while_waiting_for_the_lock_leaves_it_to_whoever_comes_next() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths =
            AppPaths::resolve(Some(&dir.path().join("config")), None, dir.path()).expect("paths");
        let mut config = Config::default();
        // Never reached: the engine does not start while the lock is held elsewhere.
        config.remote.url = "https://127.0.0.1:9".into();
        config.remote.default_page_id = PageId::parse("4242").ok();
        config.device = DeviceConfig::generate();
        std::fs::create_dir_all(&paths.config_dir).expect("config dir");
        config.save(&paths.config_file()).expect("config");
        let app = OpenedConfig::with_config(paths.clone(), config).expect("app");

        let headless = lock_instance(&app).expect("lock");
        let backend = RealBackend::new(paths.clone()).await;
        assert!(
            matches!(backend.state().lock, Lock::Waiting(_)),
            "the app waits for the headless service"
        );
        backend.shutdown().await;
        assert!(matches!(backend.state().lock, Lock::NotTaken));

        drop(headless);
        // Blocks until the lock is free: if the abandoned waiter kept it, this times out.
        let next = tokio::time::timeout(
            Duration::from_secs(60),
            crate::app::engine_host::wait_for_lock(&paths),
        )
        .await
        .expect("the lock is free again once the headless service lets go")
        .expect("lock");
        drop(next);
        assert!(
            backend.state().engine.is_none() && !paths.socket_path().exists(),
            "the app did not start syncing after Quit"
        );
    }
}
