//! Hosting the sync engine for one configuration: the single-instance lock, the engine's
//! settings from the configuration, and the headless service (`run`). The desktop app hosts
//! the same engine in-process; both serve the control channel ([`crate::control`]).

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use tunnel_core::config::WatchSetting;
use tunnel_core::engine::{EngineHandle, EngineSettings, StoreFactory};
use tunnel_core::events::WatchMode;
use tunnel_core::remote::RemoteStore;

use crate::control::ControlServer;
use crate::opened_config::OpenedConfig;

/// Holds the single-instance lock while alive.
pub struct InstanceLock {
    _file: File,
}

/// Take the configuration's lock, or say that a service already runs.
pub fn lock_instance(app: &OpenedConfig) -> Result<InstanceLock> {
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
pub fn engine_settings(app: &OpenedConfig) -> EngineSettings {
    EngineSettings {
        poll_interval: Duration::from_secs(app.config.sync.poll_interval_secs.max(1)),
        watch: match app.config.sync.watch {
            WatchSetting::Auto => WatchMode::Native,
            WatchSetting::Poll => WatchMode::Polling,
        },
        after_sync: Some(crate::allocator::release_freed),
        ..EngineSettings::default()
    }
}

/// Start the engine for `app` on the current runtime.
pub fn start_engine(app: &OpenedConfig) -> Result<(EngineHandle, tokio::task::JoinHandle<()>)> {
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
pub async fn run_foreground(app: &OpenedConfig) -> Result<()> {
    let _lock = lock_instance(app)?;
    let (engine, task) = start_engine(app)?;
    let (stop_tx, mut stop_rx) = tokio::sync::mpsc::channel::<()>(1);
    let control = ControlServer::start(app, engine.clone(), stop_tx)?;
    tracing::info!(channel = %control.address(), "sync service running");
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

/// Run the service in the foreground until Ctrl-C, the console closing, logoff or shutdown, or
/// a `stop` request (on the named pipe; a detached `start` has no console, so that is its way).
#[cfg(windows)]
pub async fn run_foreground(app: &OpenedConfig) -> Result<()> {
    use tokio::signal::windows::{ctrl_close, ctrl_logoff, ctrl_shutdown};
    let _lock = lock_instance(app)?;
    let (mut close, mut logoff, mut shutdown) = (ctrl_close()?, ctrl_logoff()?, ctrl_shutdown()?);
    let (engine, task) = start_engine(app)?;
    let (stop_tx, mut stop_rx) = tokio::sync::mpsc::channel::<()>(1);
    let control = ControlServer::start(app, engine.clone(), stop_tx)?;
    tracing::info!(channel = %control.address(), "sync service running");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = close.recv() => {}
        _ = logoff.recv() => {}
        _ = shutdown.recv() => {}
        _ = stop_rx.recv() => {}
    }
    tracing::info!("stopping the sync service");
    engine.shutdown().await;
    let _ = task.await;
    drop(control);
    Ok(())
}

/// Other systems: the service runs in the desktop app only.
#[cfg(not(any(unix, windows)))]
pub async fn run_foreground(_app: &OpenedConfig) -> Result<()> {
    bail!("the headless service is available on Linux and macOS; use the desktop app")
}
