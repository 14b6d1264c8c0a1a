//! The real [`DesktopBackend`]: the same configuration, journal and sync engine the command
//! line uses, hosted in the desktop app's process. The shell stays a thin translation layer.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{broadcast, mpsc, watch, Mutex};
use tunnel_core::activity::ActivityEntry;
use tunnel_core::config::Config;
use tunnel_core::engine::EngineHandle;
use tunnel_core::events::{FolderStatus, SyncEvent, SyncStatus};
use tunnel_core::paths::AppPaths;
use tunnel_core::secrets::SecretStore;

use crate::app_error::{AppError, ErrorCode};
use crate::connection::{self, ConnectionInput};
use crate::control::ControlServer;
use crate::desktop::backend::{
    ConnectionCheck, ConnectionForm, ConnectionView, DesktopBackend, SettingsView,
};
use crate::opened_config::OpenedConfig;

const START_AT_LOGIN_KEY: &str = "start-at-login";

/// How often the app tries again to take over from a headless service that holds the lock.
const LOCK_RETRY: Duration = Duration::from_secs(3);

struct Running {
    app: OpenedConfig,
    engine: Option<EngineHandle>,
    /// The command line's way in while the engine runs (`status`, `sync`, `pause`, `stop`).
    control: Option<ControlServer>,
    /// The app runs the sync service in-process: one per configuration.
    lock: Option<crate::engine_host::InstanceLock>,
}

impl Running {
    fn new(app: OpenedConfig, lock: Option<crate::engine_host::InstanceLock>) -> Running {
        Running {
            app,
            engine: None,
            control: None,
            lock,
        }
    }

    /// Stop the engine and close its control socket (the lock stays held).
    async fn stop_engine(&mut self) {
        // The socket first, so no request reaches an engine that is going away.
        self.control = None;
        if let Some(e) = self.engine.take() {
            e.shutdown().await;
        }
    }
}

/// The desktop app's backend.
pub struct RealBackend {
    paths: AppPaths,
    inner: Mutex<Option<Running>>,
    status_tx: watch::Sender<SyncStatus>,
    events_tx: broadcast::Sender<SyncEvent>,
    /// `stop` requests from the control socket; the shell quits the app on one.
    quit_tx: mpsc::Sender<()>,
    quit_rx: Mutex<mpsc::Receiver<()>>,
}

impl RealBackend {
    /// Open the configuration at `paths` (it may not exist yet: the wizard creates it).
    pub async fn new(paths: AppPaths) -> Arc<RealBackend> {
        let (status_tx, _) = watch::channel(SyncStatus::default());
        let (events_tx, _) = broadcast::channel(1024);
        let (quit_tx, quit_rx) = mpsc::channel(1);
        let backend = Arc::new(RealBackend {
            paths: paths.clone(),
            inner: Mutex::new(None),
            status_tx,
            events_tx,
            quit_tx,
            quit_rx: Mutex::new(quit_rx),
        });
        if let Ok(app) = OpenedConfig::open(paths) {
            let mut guard = backend.inner.lock().await;
            let r = guard.insert(Running::new(app, None));
            backend.start_engine(r);
        }
        tokio::spawn(take_over_when_free(Arc::downgrade(&backend)));
        backend
    }

    fn start_engine(&self, r: &mut Running) {
        if r.lock.is_none() {
            match crate::engine_host::lock_instance(&r.app) {
                Ok(lock) => r.lock = Some(lock),
                Err(e) => {
                    // Most likely the headless service (`--cli start` or a systemd unit); the
                    // app keeps trying and takes over once it is stopped.
                    let message = if e.is::<crate::engine_host::AlreadyRunning>() {
                        "another sber-tunnel sync service is running for this configuration; \
                         stop it with `sber-tunnel --cli stop` and this app takes over"
                            .to_string()
                    } else {
                        format!("{e:#}")
                    };
                    self.status_tx.send_replace(SyncStatus {
                        state: tunnel_core::events::SyncState::Error,
                        message: Some(message),
                        ..SyncStatus::default()
                    });
                    return;
                }
            }
        }
        match crate::engine_host::start_engine(&r.app) {
            Ok((engine, _task)) => {
                let mut status = engine.status();
                let status_tx = self.status_tx.clone();
                tokio::spawn(async move {
                    loop {
                        let s = status.borrow_and_update().clone();
                        status_tx.send_replace(s);
                        if status.changed().await.is_err() {
                            break;
                        }
                    }
                });
                let mut events = engine.subscribe();
                let events_tx = self.events_tx.clone();
                tokio::spawn(async move {
                    loop {
                        match events.recv().await {
                            Ok(e) => {
                                let _ = events_tx.send(e);
                            }
                            Err(broadcast::error::RecvError::Lagged(_)) => {}
                            Err(broadcast::error::RecvError::Closed) => break,
                        }
                    }
                });
                match ControlServer::start(&r.app, engine.clone(), self.quit_tx.clone()) {
                    Ok(control) => r.control = Some(control),
                    Err(e) => tracing::warn!(
                        error = %format!("{e:#}"),
                        "no control socket: the command line cannot reach this app"
                    ),
                }
                r.engine = Some(engine);
            }
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "the sync engine did not start"),
        }
    }

    async fn engine(&self) -> Result<EngineHandle, AppError> {
        let guard = self.inner.lock().await;
        guard
            .as_ref()
            .and_then(|r| r.engine.clone())
            .ok_or_else(not_configured)
    }

    async fn check(&self, form: &ConnectionForm) -> Result<ConnectionCheck, AppError> {
        let settings = connection_input(form)
            .settings(&SecretStore::new(&self.paths))
            .map_err(|e| AppError::invalid(e.to_string()))?;
        let identity = connection::check(settings, form.page_id.trim())
            .await
            .map_err(|f| AppError::from(f.error))?;
        Ok(ConnectionCheck {
            user: identity.user,
            page_title: identity.title,
            can_write: true,
        })
    }
}

/// The wizard's form as the application layer's connection input. The form has no "do not
/// verify certificates" switch: the app always verifies.
fn connection_input(form: &ConnectionForm) -> ConnectionInput {
    ConnectionInput {
        url: form.url.clone(),
        auth: form.auth.into(),
        username: form.username.clone(),
        page_id: form.page_id.clone(),
        secret: form.secret.clone(),
        p12: form.p12_path.clone(),
        p12_password: form.p12_password.clone(),
        ca_file: form.ca_path.clone(),
        accept_invalid_certs: false,
    }
}

/// What a request that needs a connection gets before there is one.
fn not_configured() -> AppError {
    AppError::new(ErrorCode::NotConfigured, "connect to Confluence first")
}

#[async_trait]
impl DesktopBackend for RealBackend {
    async fn connection(&self) -> Result<Option<ConnectionView>, AppError> {
        let guard = self.inner.lock().await;
        Ok(guard.as_ref().map(|r| {
            let c = &r.app.config.remote;
            ConnectionView {
                url: c.url.clone(),
                auth: c.auth.into(),
                username: c.username.clone(),
                page_id: c.default_page_id.clone().unwrap_or_default(),
                p12_path: c.p12.clone(),
                ca_path: c.ca_file.clone(),
                has_secret: r.app.secrets.get(c.auth.secret_kind()).is_some(),
            }
        }))
    }

    async fn test_connection(&self, form: ConnectionForm) -> Result<ConnectionCheck, AppError> {
        self.check(&form).await
    }

    async fn save_connection(&self, form: ConnectionForm) -> Result<ConnectionCheck, AppError> {
        let check = self.check(&form).await?;
        let mut guard = self.inner.lock().await;
        if let Some(r) = guard.as_mut() {
            r.stop_engine().await;
        }
        let config = connection_input(&form)
            .save(&self.paths)
            .map_err(|e| AppError::from_anyhow(&e))?;
        let app = OpenedConfig::with_config(self.paths.clone(), config)
            .map_err(|e| AppError::from_anyhow(&e))?;
        let lock = guard.as_mut().and_then(|r| r.lock.take());
        let mut running = Running::new(app, lock);
        self.start_engine(&mut running);
        *guard = Some(running);
        Ok(check)
    }

    async fn folders(&self) -> Result<Vec<FolderStatus>, AppError> {
        Ok(self.status_tx.borrow().folders.clone())
    }

    async fn add_folder(
        &self,
        path: PathBuf,
        page_id: Option<String>,
    ) -> Result<FolderStatus, AppError> {
        let engine = self.engine().await?;
        let path = {
            let guard = self.inner.lock().await;
            let r = guard.as_ref().ok_or_else(not_configured)?;
            let page = page_id
                .filter(|p| !p.is_empty())
                .or_else(|| r.app.config.remote.default_page_id.clone())
                .ok_or_else(|| AppError::invalid("which page should store this folder?"))?;
            r.app.track_folder(&path, &page)?.path
        };
        engine.reload().await.map_err(AppError::from)?;
        // The engine's own status: it is published before `reload` answers. (`status_tx` is a
        // copy a forwarding task makes a moment later; reading it here raced that task.)
        let status = engine
            .status()
            .borrow()
            .folders
            .iter()
            .find(|f| f.path == path)
            .cloned();
        status.ok_or_else(|| AppError::internal("the folder was added but is not listed"))
    }

    async fn remove_folder(&self, path: PathBuf) -> Result<(), AppError> {
        let engine = self.engine().await?;
        {
            let guard = self.inner.lock().await;
            let r = guard.as_ref().ok_or_else(not_configured)?;
            r.app.untrack_folder(&path)?;
        }
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
        let guard = self.inner.lock().await;
        let (config, start) = match guard.as_ref() {
            Some(r) => (
                r.app.config.clone(),
                r.app
                    .with_journal(|j| Ok(j.get_config(START_AT_LOGIN_KEY)?))
                    .ok()
                    .flatten(),
            ),
            None => (Config::default(), None),
        };
        Ok(SettingsView {
            start_at_login: start.as_deref() == Some("1"),
            poll_interval_secs: config.sync.poll_interval_secs,
            parallel_transfers: config.sync.parallel_transfers,
            log_level: config.log.level.clone(),
            upload_limit_kib_per_sec: config.sync.upload_limit_kib_per_sec,
            download_limit_kib_per_sec: config.sync.download_limit_kib_per_sec,
        })
    }

    async fn save_settings(&self, settings: SettingsView) -> Result<(), AppError> {
        let mut guard = self.inner.lock().await;
        let r = guard.as_mut().ok_or_else(not_configured)?;
        settings.validate()?;
        r.app.config.sync.poll_interval_secs = settings.poll_interval_secs;
        r.app.config.sync.parallel_transfers = settings.parallel_transfers;
        r.app.config.log.level = settings.log_level.clone();
        r.app.config.sync.upload_limit_kib_per_sec = settings.upload_limit_kib_per_sec;
        r.app.config.sync.download_limit_kib_per_sec = settings.download_limit_kib_per_sec;
        r.app
            .config
            .save(&self.paths.config_file())
            .map_err(|e| AppError::internal(e.to_string()))?;
        let v = if settings.start_at_login { "1" } else { "0" };
        r.app
            .with_journal(|j| Ok(j.set_config(START_AT_LOGIN_KEY, v)?))
            .map_err(|e| AppError::from_anyhow(&e))?;
        r.stop_engine().await;
        self.start_engine(r);
        Ok(())
    }

    async fn recent_activity(&self, limit: usize) -> Result<Vec<ActivityEntry>, AppError> {
        let guard = self.inner.lock().await;
        let Some(r) = guard.as_ref() else {
            return Ok(Vec::new());
        };
        r.app
            .with_journal(|j| Ok(tunnel_core::activity::recent(j, limit)?))
            .map_err(|e| AppError::from_anyhow(&e))
    }

    fn subscribe(&self) -> broadcast::Receiver<SyncEvent> {
        self.events_tx.subscribe()
    }

    fn status(&self) -> watch::Receiver<SyncStatus> {
        self.status_tx.subscribe()
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
        let mut guard = self.inner.lock().await;
        if let Some(r) = guard.as_mut() {
            r.stop_engine().await;
        }
        // Nothing left to take over or restart; the lock goes with it.
        *guard = None;
    }
}

/// While another service holds the configuration's lock, try again every [`LOCK_RETRY`] and
/// start the engine as soon as it is free. Ends with the backend.
async fn take_over_when_free(backend: std::sync::Weak<RealBackend>) {
    loop {
        tokio::time::sleep(LOCK_RETRY).await;
        let Some(backend) = backend.upgrade() else {
            return;
        };
        let mut guard = backend.inner.lock().await;
        if let Some(r) = guard.as_mut() {
            if r.lock.is_none() && r.engine.is_none() {
                backend.start_engine(r);
                if r.engine.is_some() {
                    tracing::info!("the other sync service is gone; this app syncs now");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{request, ControlRequest};
    use crate::engine_host::lock_instance;
    use confluence_emulator::Emulator;
    use tunnel_core::config::{AuthKind as CoreAuth, DeviceConfig};
    use tunnel_core::secrets::SecretKind;

    async fn wait_for<F, Fut>(what: &str, mut probe: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        for _ in 0..300 {
            if probe().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting for {what}");
    }

    /// The desktop app hosts the service the command line talks to: while a headless service
    /// holds the configuration it waits and says why, takes over once that one stops, answers
    /// on the control socket, and quits on `stop` releasing the lock and the socket.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_app_takes_over_from_a_headless_service_and_serves_the_control_socket() {
        let emulator = Emulator::builder()
            .user("alice", "s3cret")
            .page("4242")
            .spawn()
            .await
            .expect("emulator");
        let dir = tempfile::tempdir().expect("tempdir");
        let paths =
            AppPaths::resolve(Some(&dir.path().join("config")), None, dir.path()).expect("paths");
        let mut config = Config::default();
        config.remote.url = emulator.base_url();
        config.remote.auth = CoreAuth::Password;
        config.remote.username = Some("alice".into());
        config.remote.default_page_id = Some("4242".into());
        config.device = DeviceConfig::generate();
        std::fs::create_dir_all(&paths.config_dir).expect("config dir");
        config.save(&paths.config_file()).expect("config");
        let app = OpenedConfig::with_config(paths.clone(), config).expect("app");
        app.secrets
            .set(SecretKind::Password, "s3cret")
            .expect("secret");
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
        wait_for("the app to answer on the control socket", || async {
            matches!(request(&socket, &ControlRequest::Status).await, Ok(Some(r)) if r.ok)
        })
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
        wait_for("the app's status to say paused", || async {
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
        // Nothing restarts behind the person's back after Quit.
        tokio::time::sleep(LOCK_RETRY + Duration::from_millis(500)).await;
        assert!(request(&socket, &ControlRequest::Status)
            .await
            .expect("request")
            .is_none());
    }
}
