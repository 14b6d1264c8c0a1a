//! The control channel of a running sync service: how the CLI's `status`, `sync`, `pause`,
//! `resume`, `add` and `stop` reach the engine that the headless service (`run`) or the desktop
//! app hosts, so the CLI works the same whichever of the two runs. Only this user can open it.
//! The protocol lives here; the transport is per platform (`unix`: a socket in the
//! configuration folder, mode 0600; `windows`: a named pipe of this user and configuration;
//! elsewhere none).
//!
//! Protocol: one JSON request per line, one JSON answer per line:
//! `{"op":"status"}`, `{"op":"sync","path":null}`, `{"op":"pause","path":"/abs","paused":true}`,
//! `{"op":"reload"}`, `{"op":"stop"}` → `{"ok":true,"status":{…}}` or
//! `{"ok":false,"error":"…","code":"invalid"}`, where `code` is an [`ErrorCode`] so the command
//! line exits with the same code as when it does the work itself. A reply without a code (from
//! a service older than the code) reads as `internal`.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as transport;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as transport;
#[cfg(not(any(unix, windows)))]
mod none;
#[cfg(not(any(unix, windows)))]
use none as transport;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tunnel_core::engine::EngineHandle;
use tunnel_core::events::SyncStatus;

use crate::app::app_error::{AppError, ErrorCode};
use crate::app::opened_config::OpenedConfig;

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
    /// The error for a person (on failure).
    #[serde(default)]
    pub error: Option<String>,
    /// What kind of failure (on failure).
    #[serde(default)]
    pub code: Option<ErrorCode>,
}

impl ControlResponse {
    /// The answer when the request worked.
    fn success(status: SyncStatus) -> ControlResponse {
        ControlResponse {
            ok: true,
            status: Some(status),
            error: None,
            code: None,
        }
    }

    /// The answer when the request was refused or failed.
    fn refused(e: AppError) -> ControlResponse {
        ControlResponse {
            ok: false,
            status: None,
            error: Some(e.message),
            code: Some(e.code),
        }
    }

    /// The answer, or the service's refusal as an error with the service's code.
    pub fn into_result(self) -> Result<ControlResponse, AppError> {
        if self.ok {
            return Ok(self);
        }
        Err(AppError::new(
            self.code.unwrap_or(ErrorCode::Internal),
            self.error
                .unwrap_or_else(|| "the service refused".to_string()),
        ))
    }
}

/// The control channel of a running service (the headless one, or the desktop app's
/// in-process one): answers `status`, `sync`, `pause`, `reload` and `stop` until dropped, then
/// removes its endpoint. A `stop` request is passed on to `stop_tx`; whoever owns the service
/// ends it.
pub struct ControlServer {
    endpoint: transport::Endpoint,
    accept: tokio::task::JoinHandle<()>,
}

impl ControlServer {
    /// Listen on the configuration's channel. The caller holds the instance lock, so an
    /// endpoint left there by a killed service is stale and replaced.
    pub fn start(
        app: &OpenedConfig,
        engine: EngineHandle,
        stop_tx: tokio::sync::mpsc::Sender<()>,
    ) -> Result<ControlServer> {
        let (endpoint, accept) = transport::listen(&app.paths.socket_path(), engine, stop_tx)?;
        Ok(ControlServer { endpoint, accept })
    }

    /// Where it listens, for the log.
    pub fn address(&self) -> String {
        self.endpoint.to_string()
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.accept.abort();
        self.endpoint.remove();
    }
}

/// Answer the requests of one connection, one JSON line each, until it closes or asks to stop.
async fn serve_connection<S>(
    stream: S,
    engine: EngineHandle,
    stop_tx: tokio::sync::mpsc::Sender<()>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (read, mut write) = tokio::io::split(stream);
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let (resp, stop) = answer(&engine, &line).await;
        let mut text = serde_json::to_string(&resp).unwrap_or_else(|_| "{\"ok\":false}".into());
        text.push('\n');
        if write.write_all(text.as_bytes()).await.is_err() {
            break;
        }
        if stop {
            let _ = stop_tx.send(()).await;
            break;
        }
    }
}

async fn answer(engine: &EngineHandle, line: &str) -> (ControlResponse, bool) {
    let req: ControlRequest = match serde_json::from_str(line) {
        Ok(r) => r,
        Err(e) => {
            let refused = AppError::invalid(format!("bad request: {e}"));
            return (ControlResponse::refused(refused), false);
        }
    };
    let stop = matches!(req, ControlRequest::Stop);
    let result = match req {
        ControlRequest::Status | ControlRequest::Stop => Ok(()),
        ControlRequest::Sync { path } => engine.sync_now(path).await,
        ControlRequest::Pause { path, paused } => engine.set_paused(path, paused).await,
        ControlRequest::Reload => engine.reload().await,
    };
    let resp = match result {
        Ok(()) => ControlResponse::success(engine.status().borrow().clone()),
        Err(e) => ControlResponse::refused(e.into()),
    };
    (resp, stop)
}

/// Send one request to a running service; `Ok(None)` when none runs.
pub async fn request(
    endpoint: &std::path::Path,
    req: &ControlRequest,
) -> Result<Option<ControlResponse>> {
    let Some(stream) = transport::connect(endpoint).await else {
        return Ok(None);
    };
    let (read, mut write) = tokio::io::split(stream);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_carries_its_code_to_the_command_line() {
        let sent = ControlResponse::refused(AppError::invalid("/x is not a synced folder"));
        let line = serde_json::to_string(&sent).expect("serialises");
        assert!(line.contains(r#""code":"invalid""#), "{line}");
        let received: ControlResponse = serde_json::from_str(&line).expect("parses");
        assert_eq!(
            received.into_result().expect_err("a refusal"),
            AppError::invalid("/x is not a synced folder"),
            "the command line sees the service's code and message"
        );
    }

    #[test]
    fn a_refusal_from_a_service_without_codes_reads_as_internal() {
        let older: ControlResponse =
            serde_json::from_str(r#"{"ok":false,"error":"boom"}"#).expect("parses");
        assert_eq!(
            older.into_result().expect_err("a refusal"),
            AppError::internal("boom")
        );
    }

    #[test]
    fn an_answer_that_worked_is_passed_on() {
        let ok = ControlResponse::success(SyncStatus::default());
        let received = ok.into_result().expect("worked");
        assert_eq!(received.status, Some(SyncStatus::default()));
    }
}
