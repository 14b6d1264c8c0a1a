//! The background service of one configuration: the sync engine plus a local control socket
//! (a Unix socket in the configuration folder, mode 0600, so only this user can talk to it)
//! that the CLI's `status`, `sync`, `pause`, `resume` and `stop` use. A lock file keeps a
//! second service on the same configuration from starting. The headless service (`run`) and
//! the desktop app (which hosts the same engine in-process) both serve the socket, so the CLI
//! works the same whichever of the two runs.
//!
//! Protocol: one JSON request per line, one JSON answer per line:
//! `{"op":"status"}`, `{"op":"sync","path":null}`, `{"op":"pause","path":"/abs","paused":true}`,
//! `{"op":"reload"}`, `{"op":"stop"}` → `{"ok":true,"status":{…}}` or `{"ok":false,"error":"…"}`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use tunnel_core::config::WatchSetting;
use tunnel_core::engine::{EngineHandle, EngineSettings, StoreFactory};
use tunnel_core::events::{SyncStatus, WatchMode};
use tunnel_core::remote::RemoteStore;

use crate::app::App;

/// A request on the control socket.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum ControlRequest {
    /// Live status.
    Status,
    /// Sync now (one folder or all).
    Sync {
        /// The folder, or all.
        path: Option<PathBuf>,
    },
    /// Pause or resume.
    Pause {
        /// The folder, or all.
        path: Option<PathBuf>,
        /// Pause (true) or resume.
        paused: bool,
    },
    /// Re-read the folder list.
    Reload,
    /// Stop the service.
    Stop,
}

/// The answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct ControlResponse {
    /// Whether the request worked.
    pub ok: bool,
    /// Live status (on success).
    #[serde(default)]
    pub status: Option<SyncStatus>,
    /// The error (on failure).
    #[serde(default)]
    pub error: Option<String>,
}

/// Holds the single-instance lock while alive.
pub struct InstanceLock {
    _file: File,
}

/// Take the configuration's lock, or say that a service already runs.
pub fn lock_instance(app: &App) -> Result<InstanceLock> {
    let path = app.paths.lock_file();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(InstanceLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => {
            bail!(AlreadyRunning(app.paths.config_dir.clone()))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// Another service holds the lock.
#[derive(Debug, thiserror::Error)]
#[error("a sync service is already running for {0} (stop it with `sber-tunnel stop`)")]
pub struct AlreadyRunning(pub PathBuf);

/// Engine settings from the configuration.
pub fn engine_settings(app: &App) -> EngineSettings {
    EngineSettings {
        poll_interval: Duration::from_secs(app.config.sync.poll_interval_secs.max(1)),
        watch: match app.config.sync.watch {
            WatchSetting::Auto => WatchMode::Native,
            WatchSetting::Poll => WatchMode::Polling,
        },
        after_sync: Some(crate::memory::release_freed),
        ..EngineSettings::default()
    }
}

/// Start the engine for `app` on the current runtime.
pub fn start_engine(app: &App) -> Result<(EngineHandle, tokio::task::JoinHandle<()>)> {
    let client = app.client().context("preparing the connection")?;
    let stores: StoreFactory = Arc::new(move |f| {
        let store: Arc<dyn RemoteStore> = Arc::new(client.store(&f.page_id));
        Ok(store)
    });
    let (engine, task) = EngineHandle::spawn(app.syncer(), stores, engine_settings(app));
    // The history the desktop app's Activity tab shows, whoever ran the syncs.
    tunnel_core::activity::spawn_recorder(app.journal.clone(), engine.subscribe());
    Ok((engine, task))
}

/// Run the service in the foreground until Ctrl-C, SIGTERM or a `stop` request.
#[cfg(unix)]
pub async fn run_foreground(app: &App) -> Result<()> {
    let _lock = lock_instance(app)?;
    let (engine, task) = start_engine(app)?;
    let (stop_tx, mut stop_rx) = tokio::sync::mpsc::channel::<()>(1);
    let control = ControlServer::start(app, engine.clone(), stop_tx)?;
    tracing::info!(socket = %control.socket.display(), "sync service running");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = stop_rx.recv() => {}
    }
    tracing::info!("stopping the sync service");
    engine.shutdown().await;
    let _ = task.await;
    drop(control);
    Ok(())
}

/// The control socket of a running service (the headless one, or the desktop app's in-process
/// one): answers `status`, `sync`, `pause`, `reload` and `stop` until dropped, then removes the
/// socket file. A `stop` request is passed on to `stop_tx`; whoever owns the service ends it.
pub struct ControlServer {
    socket: PathBuf,
    accept: tokio::task::JoinHandle<()>,
}

impl ControlServer {
    /// Listen on the configuration's socket (mode 0600). The caller holds the instance lock, so
    /// a socket file left there is stale and replaced.
    #[cfg(unix)]
    pub fn start(
        app: &App,
        engine: EngineHandle,
        stop_tx: tokio::sync::mpsc::Sender<()>,
    ) -> Result<ControlServer> {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        use tokio::net::UnixListener;

        let socket = app.paths.socket_path();
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket)
            .with_context(|| format!("listening on {}", socket.display()))?;
        set_owner_only(&socket)?;
        let accept = tokio::spawn(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::debug!(error = %e, "control socket accept failed");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
                let engine = engine.clone();
                let stop_tx = stop_tx.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let (resp, stop) = answer(&engine, &line).await;
                        let mut text = serde_json::to_string(&resp)
                            .unwrap_or_else(|_| "{\"ok\":false}".into());
                        text.push('\n');
                        if write.write_all(text.as_bytes()).await.is_err() {
                            break;
                        }
                        if stop {
                            let _ = stop_tx.send(()).await;
                            break;
                        }
                    }
                });
            }
        });
        Ok(ControlServer { socket, accept })
    }

    /// Non-Unix systems have no control socket yet: the service runs without one.
    #[cfg(not(unix))]
    pub fn start(
        app: &App,
        _engine: EngineHandle,
        _stop_tx: tokio::sync::mpsc::Sender<()>,
    ) -> Result<ControlServer> {
        Ok(ControlServer {
            socket: app.paths.socket_path(),
            accept: tokio::spawn(async {}),
        })
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.accept.abort();
        #[cfg(unix)]
        let _ = std::fs::remove_file(&self.socket);
    }
}

#[cfg(unix)]
fn set_owner_only(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting {}", path.display()))
}

async fn answer(engine: &EngineHandle, line: &str) -> (ControlResponse, bool) {
    let req: ControlRequest = match serde_json::from_str(line) {
        Ok(r) => r,
        Err(e) => return (failure(format!("bad request: {e}")), false),
    };
    let stop = matches!(req, ControlRequest::Stop);
    let result = match req {
        ControlRequest::Status | ControlRequest::Stop => Ok(()),
        ControlRequest::Sync { path } => engine.sync_now(path).await,
        ControlRequest::Pause { path, paused } => engine.set_paused(path, paused).await,
        ControlRequest::Reload => engine.reload().await,
    };
    let resp = match result {
        Ok(()) => ControlResponse {
            ok: true,
            status: Some(engine.status().borrow().clone()),
            error: None,
        },
        Err(e) => failure(e.to_string()),
    };
    (resp, stop)
}

fn failure(error: String) -> ControlResponse {
    ControlResponse {
        ok: false,
        status: None,
        error: Some(error),
    }
}

/// Send one request to a running service; `Ok(None)` when none runs.
#[cfg(unix)]
pub async fn request(socket: &Path, req: &ControlRequest) -> Result<Option<ControlResponse>> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let stream = match tokio::net::UnixStream::connect(socket).await {
        Ok(s) => s,
        Err(_) => return Ok(None),
    };
    let (read, mut write) = stream.into_split();
    let mut text = serde_json::to_string(req)?;
    text.push('\n');
    write.write_all(text.as_bytes()).await?;
    let mut lines = BufReader::new(read).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .context("the service did not answer")??
        .context("the service closed the connection")?;
    Ok(Some(
        serde_json::from_str(&line).context("reading the service's answer")?,
    ))
}

/// Non-Unix systems have no control socket yet.
#[cfg(not(unix))]
pub async fn request(_socket: &Path, _req: &ControlRequest) -> Result<Option<ControlResponse>> {
    Ok(None)
}

/// Non-Unix systems: the service runs in the desktop app only.
#[cfg(not(unix))]
pub async fn run_foreground(_app: &App) -> Result<()> {
    bail!("the headless service is available on Linux and macOS; use the desktop app")
}
