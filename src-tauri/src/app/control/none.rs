//! Platforms without a control channel (neither Unix nor Windows). The service runs without one
//! and the CLI finds no running service.

use std::path::Path;

use anyhow::Result;
use tunnel_core::engine::EngineHandle;

/// Nothing is served.
pub(super) struct Endpoint;

impl Endpoint {
    pub(super) fn remove(&self) {}
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no control channel on this platform")
    }
}

pub(super) fn listen(
    _endpoint: &Path,
    _engine: EngineHandle,
    _stop_tx: tokio::sync::mpsc::Sender<()>,
) -> Result<(Endpoint, tokio::task::JoinHandle<()>)> {
    Ok((Endpoint, tokio::spawn(async {})))
}

pub(super) async fn connect(_endpoint: &Path) -> Option<tokio::io::DuplexStream> {
    None
}
