//! The control channel on Unix: a socket in the configuration folder, mode 0600.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};
use tokio::net::{UnixListener, UnixStream};
use tunnel_core::engine::EngineHandle;

/// The socket file while it is served.
pub(super) struct Endpoint(PathBuf);

impl Endpoint {
    pub(super) fn remove(&self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.display())
    }
}

/// Listen on `socket` (a stale file there is replaced) and serve every connection.
pub(super) fn listen(
    socket: &Path,
    engine: EngineHandle,
    stop_tx: tokio::sync::mpsc::Sender<()>,
) -> Result<(Endpoint, tokio::task::JoinHandle<()>)> {
    let _ = std::fs::remove_file(socket);
    let listener =
        UnixListener::bind(socket).with_context(|| format!("listening on {}", socket.display()))?;
    set_owner_only(socket)?;
    let accept = tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(super::serve_connection(
                        stream,
                        engine.clone(),
                        stop_tx.clone(),
                    ));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::debug!(error = %e, "control socket accept failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    });
    Ok((Endpoint(socket.to_path_buf()), accept))
}

/// Connect to a running service; `None` when none listens.
pub(super) async fn connect(socket: &Path) -> Option<UnixStream> {
    UnixStream::connect(socket).await.ok()
}

fn set_owner_only(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting {}", path.display()))
}
