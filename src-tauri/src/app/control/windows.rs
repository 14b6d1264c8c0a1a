//! The control channel on Windows: a named pipe that only this user's programs on this computer
//! can open.
//!
//! Pipe names share one namespace per computer, so the name is made of the user and the
//! configuration's endpoint path (`control.sock` in its data folder, never created as a file):
//! two users, or two configurations of one user, never meet. The first server instance is
//! created with `FILE_FLAG_FIRST_PIPE_INSTANCE`, so a pipe of that name that someone else made
//! first is an error instead of a channel we would share; remote clients are rejected; the pipe's
//! default security lets only its creator (and the system and administrators) write to it.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result};
use tokio::net::windows::named_pipe::{ClientOptions, NamedPipeClient, ServerOptions};
use tunnel_core::engine::EngineHandle;

/// `ERROR_PIPE_BUSY`: every instance is taken; the server makes the next one in a moment.
const ERROR_PIPE_BUSY: i32 = 231;
/// How long a client waits for a busy pipe before it counts the service as not answering.
const BUSY_WAIT: Duration = Duration::from_secs(5);

/// The pipe while it is served (it goes away with its last handle).
pub(super) struct Endpoint(String);

impl Endpoint {
    pub(super) fn remove(&self) {}
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `\\.\pipe\sber-tunnel-<user>-<hash of the endpoint path>`.
pub(super) fn pipe_name(user: &str, endpoint: &Path) -> String {
    // FNV-1a over the path's UTF-16 text (lower-cased: Windows paths are case-insensitive):
    // stable across builds, unlike std's hasher, since the CLI and the service may be two
    // versions during an upgrade.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for unit in endpoint.to_string_lossy().to_lowercase().encode_utf16() {
        for byte in unit.to_le_bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    let user: String = user
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '_' })
        .collect();
    format!(r"\\.\pipe\sber-tunnel-{user}-{hash:016x}")
}

fn this_pipe(endpoint: &Path) -> String {
    let user = std::env::var("USERNAME").unwrap_or_default();
    pipe_name(&user, endpoint)
}

/// Serve the pipe for `endpoint`: one server instance waits for a client at a time, and a new
/// one is made as soon as a client takes it.
pub(super) fn listen(
    endpoint: &Path,
    engine: EngineHandle,
    stop_tx: tokio::sync::mpsc::Sender<()>,
) -> Result<(Endpoint, tokio::task::JoinHandle<()>)> {
    let name = this_pipe(endpoint);
    let mut server = ServerOptions::new()
        .first_pipe_instance(true)
        .reject_remote_clients(true)
        .create(&name)
        .with_context(|| {
            format!("creating the control pipe {name} (is another service running?)")
        })?;
    let pipe = name.clone();
    let accept = tokio::spawn(async move {
        loop {
            if let Err(e) = server.connect().await {
                tracing::debug!(error = %e, "control pipe connect failed");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            let next = loop {
                match ServerOptions::new()
                    .reject_remote_clients(true)
                    .create(&pipe)
                {
                    Ok(next) => break next,
                    Err(e) => {
                        // Out of handles and the like: wait instead of spinning.
                        tracing::debug!(error = %e, "control pipe: no new instance");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            };
            let connected = std::mem::replace(&mut server, next);
            tokio::spawn(super::serve_connection(
                connected,
                engine.clone(),
                stop_tx.clone(),
            ));
        }
    });
    Ok((Endpoint(name), accept))
}

/// Connect to a running service; `None` when none listens.
pub(super) async fn connect(endpoint: &Path) -> Option<NamedPipeClient> {
    let name = this_pipe(endpoint);
    let deadline = tokio::time::Instant::now() + BUSY_WAIT;
    loop {
        match ClientOptions::new().open(&name) {
            Ok(client) => return Some(client),
            Err(e)
                if e.raw_os_error() == Some(ERROR_PIPE_BUSY)
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipe_names_differ_per_user_and_configuration_and_ignore_case() {
        let a = Path::new(r"C:\Users\ann\AppData\Local\sber-tunnel\control.sock");
        let b = Path::new(r"D:\portable\.sber-tunnel\control.sock");
        assert_ne!(pipe_name("ann", a), pipe_name("bob", a));
        assert_ne!(pipe_name("ann", a), pipe_name("ann", b));
        assert_eq!(
            pipe_name("ann", a),
            pipe_name(
                "ann",
                Path::new(r"c:\users\ANN\appdata\local\sber-tunnel\control.sock")
            )
        );
        let name = pipe_name("a b\\c", a);
        assert!(name.starts_with(r"\\.\pipe\sber-tunnel-a_b_c-"), "{name}");
        assert_eq!(name.matches('\\').count(), 4, "{name}");
    }

    #[tokio::test]
    async fn a_second_server_for_the_same_pipe_is_refused() {
        let tmp = std::env::temp_dir().join(format!("sber-tunnel-pipe-{}", std::process::id()));
        let name = this_pipe(&tmp);
        let _first = ServerOptions::new()
            .first_pipe_instance(true)
            .create(&name)
            .expect("first instance");
        assert!(ServerOptions::new()
            .first_pipe_instance(true)
            .create(&name)
            .is_err());
    }
}
