//! Hosting the sync engine for one configuration: the single-instance lock (taken at once, or
//! waited for without polling), the engine's settings from the configuration, and the headless
//! service (`run`). The desktop app hosts the same engine in-process; both serve the control
//! channel ([`crate::app::control`]).

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use tunnel_core::config::WatchSetting;
use tunnel_core::engine::{EngineChannels, EngineHandle, EngineSettings, StoreFactory};
use tunnel_core::events::WatchMode;
use tunnel_core::paths::AppPaths;
use tunnel_core::remote::RemoteStore;

use crate::app::control::ControlServer;
use crate::app::opened_config::OpenedConfig;

/// Holds the single-instance lock while alive.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
}

/// Take the configuration's lock, or say that a service already runs.
pub fn lock_instance(app: &OpenedConfig) -> Result<InstanceLock> {
    let (path, file) = open_lock_file(&app.paths)?;
    match file.try_lock() {
        Ok(()) => Ok(InstanceLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => {
            bail!(AlreadyRunning(app.paths.config_dir.clone()))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| crate::i18n::t!(CtxLocking, path = path.display()))
        }
    }
}

/// Wait until the service holding the lock of the configuration at `paths` lets go, and take
/// the lock. No polling: a thread of its own blocks in the system's lock call (`flock`,
/// `LockFileEx`) and hands the lock over the moment it is free. Dropping the future abandons
/// the wait; a lock the thread takes after that is released at once.
///
/// A plain thread, not `spawn_blocking`: a runtime waits for its blocking tasks when it shuts
/// down, and an app quitting while another service runs must not wait for that one.
pub async fn wait_for_lock(paths: &AppPaths) -> Result<InstanceLock> {
    let (path, file) = open_lock_file(paths)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("instance-lock".into())
        .spawn(move || {
            let locked = loop {
                match file.lock() {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    r => break r,
                }
            };
            // Nobody waits any more (the app quit): the lock goes with `file`, here.
            let _ = tx.send(locked.map(|()| InstanceLock { _file: file }));
        })
        .context("starting the thread that waits for the lock")?;
    rx.await
        .context("the thread waiting for the lock ended")?
        .with_context(|| crate::i18n::t!(CtxLocking, path = path.display()))
}

/// The lock file of `paths`, created (with its folder) when missing.
fn open_lock_file(paths: &AppPaths) -> Result<(PathBuf, File)> {
    let path = paths.lock_file();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| crate::i18n::t!(CtxOpening, path = path.display()))?;
    Ok((path, file))
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

/// Start the engine for `app` on the current runtime, publishing on `channels` (the host's,
/// kept across restarts of the engine). Reads the connection's secrets: see [`store_factory`].
pub fn start_engine(
    app: &OpenedConfig,
    channels: &EngineChannels,
) -> Result<(EngineHandle, tokio::task::JoinHandle<()>)> {
    Ok(spawn_engine(app, store_factory(app)?, channels))
}

/// The remote store of each folder of `app`: its page through the saved connection. Blocks:
/// it reads the secrets (perhaps from the OS keyring) and the client certificate.
pub fn store_factory(app: &OpenedConfig) -> Result<StoreFactory> {
    let client = app
        .client()
        .with_context(|| crate::i18n::t!(CtxPreparing))?;
    Ok(Arc::new(move |f| {
        let store: Arc<dyn RemoteStore> = Arc::new(client.store(f.page_id.as_str()));
        Ok(store)
    }))
}

/// Start the engine for `app` with `stores` on the current runtime, publishing on `channels`.
pub fn spawn_engine(
    app: &OpenedConfig,
    stores: StoreFactory,
    channels: &EngineChannels,
) -> (EngineHandle, tokio::task::JoinHandle<()>) {
    let (engine, task) = EngineHandle::spawn(app.syncer(), stores, engine_settings(app), channels);
    // The history the desktop app's Activity tab shows, whoever ran the syncs; one recorder
    // per engine, ending with it (the channels live on).
    tunnel_core::activity::spawn_recorder_until(
        app.journal.clone(),
        engine.subscribe_history(),
        engine.stopped(),
    );
    (engine, task)
}

/// Run the service in the foreground until Ctrl-C, SIGTERM or a `stop` request.
#[cfg(unix)]
pub async fn run_foreground(app: &OpenedConfig) -> Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    serve_until(app, async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    })
    .await
}

/// Run the service in the foreground until Ctrl-C, the console closing, logoff or shutdown, or
/// a `stop` request (on the named pipe; a detached `start` has no console, so that is its way).
#[cfg(windows)]
pub async fn run_foreground(app: &OpenedConfig) -> Result<()> {
    use tokio::signal::windows::{ctrl_close, ctrl_logoff, ctrl_shutdown};
    let (mut close, mut logoff, mut shutdown) = (ctrl_close()?, ctrl_logoff()?, ctrl_shutdown()?);
    serve_until(app, async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = close.recv() => {}
            _ = logoff.recv() => {}
            _ = shutdown.recv() => {}
        }
    })
    .await
}

/// The headless service: take the lock, run the engine and serve the control channel until
/// `stopped` (the platform's signals) resolves or a `stop` request comes, then shut down.
#[cfg(any(unix, windows))]
async fn serve_until(
    app: &OpenedConfig,
    stopped: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let _lock = lock_instance(app)?;
    let (engine, task) = start_engine(app, &EngineChannels::new())?;
    let (stop_tx, mut stop_rx) = tokio::sync::mpsc::channel::<()>(1);
    let control = ControlServer::start(app, engine.clone(), stop_tx)?;
    tracing::info!(channel = %control.address(), "sync service running");
    tokio::select! {
        _ = stopped => {}
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

#[cfg(test)]
mod tests {
    use super::*;
    use tunnel_core::config::Config;

    fn opened(dir: &std::path::Path) -> OpenedConfig {
        let paths = AppPaths::resolve(Some(&dir.join("config")), None, dir).expect("paths");
        OpenedConfig::with_config(paths, Config::default()).expect("opened")
    }

    /// The lock is handed over the moment the other service lets go, by the thread blocked in
    /// the system's lock call. The clock is paused: a retry on a timer (the 3 s poll this
    /// replaced) would have to advance it, and the test checks that it did not move.
    #[tokio::test(start_paused = true)]
    async fn a_waiting_host_gets_the_lock_when_the_holder_lets_go_without_a_timer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = opened(dir.path());
        let held = lock_instance(&app).expect("the first service takes the lock");
        let mut waiting = Box::pin(wait_for_lock(&app.paths));
        // With the clock paused this hour passes at once, unless the wait ends first.
        tokio::time::timeout(Duration::from_secs(3600), &mut waiting)
            .await
            .expect_err("nobody gets the lock while the first service holds it");

        let released_at = tokio::time::Instant::now();
        drop(held);
        let lock = waiting.await.expect("the lock, once free");
        assert_eq!(
            released_at.elapsed(),
            Duration::ZERO,
            "handed over by the waiting thread, not found by a retry after a sleep"
        );
        assert!(
            lock_instance(&app).is_err(),
            "the waiter holds the lock now"
        );
        drop(lock);
        assert!(
            lock_instance(&app).is_ok(),
            "and lets go of it when dropped"
        );
    }

    /// An app that quits while waiting leaves the lock to whoever comes next: the thread that
    /// still waits takes it when it is free and drops it at once.
    #[tokio::test]
    async fn an_abandoned_wait_releases_the_lock_it_takes_later() {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = opened(dir.path());
        let held = lock_instance(&app).expect("the first service takes the lock");
        tokio::time::timeout(Duration::from_millis(50), wait_for_lock(&app.paths))
            .await
            .expect_err("still held; the wait is abandoned");
        drop(held);
        // Blocks until the lock is free: if the abandoned waiter kept it, this times out.
        let next = tokio::time::timeout(Duration::from_secs(60), wait_for_lock(&app.paths))
            .await
            .expect("the abandoned waiter does not keep the lock")
            .expect("the lock");
        drop(next);
    }
}
