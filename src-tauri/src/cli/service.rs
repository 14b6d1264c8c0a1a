//! `start`, `run`, `stop`, `pause`, `resume`: the background sync service.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use clap::Args;

use super::{exit, Context};
use crate::app::app_error::AppError;
use crate::app::control::{request, ControlRequest};
use crate::i18n::t;

#[derive(Debug, Args)]
pub struct PauseArgs {
    /// Only this folder (default: everything).
    pub path: Option<PathBuf>,
}

/// `run`: the service in the foreground (for systemd units and `start`).
pub async fn run_foreground(ctx: &Context) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    crate::app::engine_host::run_foreground(&app).await?;
    Ok(exit::OK)
}

/// `start`: launch the service in the background and return once it answers.
pub async fn start(ctx: &Context) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    let socket = app.paths.socket_path();
    if request(&socket, &ControlRequest::Status).await?.is_some() {
        println!("{}", t!(SvcAlreadyRunning));
        return Ok(exit::OK);
    }
    let exe = std::env::current_exe().context(t!(CtxFindingBinary))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--cli")
        .arg("--config-dir")
        .arg(&app.paths.config_dir)
        .arg("run")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    detach(&mut cmd);
    let mut child = cmd.spawn().context(t!(CtxStartingService))?;
    // The detached service has no way back to this process but its control channel (a pipe to
    // it would outlive us and break its next write), so ask that channel until it answers —
    // and stop asking at once when the service ends first, exiting as it did.
    let deadline = tokio::time::Instant::now() + START_DEADLINE;
    let mut pause = Duration::from_millis(10);
    loop {
        if request(&socket, &ControlRequest::Status).await?.is_some() {
            if ctx.json {
                println!(
                    "{}",
                    serde_json::json!({"started": true, "pid": child.id()})
                );
            } else {
                println!(
                    "{}",
                    t!(
                        SvcStarted,
                        pid = child.id(),
                        path = app.paths.log_dir().display()
                    )
                );
            }
            return Ok(exit::OK);
        }
        if let Some(ended) = child.try_wait().context(t!(CtxWatchingService))? {
            let code = ended
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .filter(|c| *c != exit::OK)
                .unwrap_or(exit::FAILURE);
            eprintln!(
                "{}",
                t!(
                    SvcStoppedAtOnce,
                    code = code,
                    path = app.paths.log_dir().display()
                )
            );
            return Ok(code);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(t!(SvcNotUp, path = app.paths.log_dir().display()))
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// How long `start` waits for the service to answer on its control channel.
const START_DEADLINE: Duration = Duration::from_secs(10);

#[cfg(unix)]
fn detach(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // A new session: the service survives the terminal that started it.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(windows)]
fn detach(cmd: &mut std::process::Command) {
    use std::os::windows::process::CommandExt;
    /// No console of its own and none inherited: no window opens, and closing the terminal
    /// that ran `start` does not end it.
    const DETACHED_PROCESS: u32 = 0x0000_0008;
    /// Ctrl-C in that terminal does not reach it either.
    const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
    cmd.creation_flags(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP);
}

#[cfg(not(any(unix, windows)))]
fn detach(_cmd: &mut std::process::Command) {}

/// `stop`: ask the service to finish and wait until it is gone.
pub async fn stop(ctx: &Context) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    let socket = app.paths.socket_path();
    match request(&socket, &ControlRequest::Stop).await? {
        None => {
            println!("{}", t!(SvcNoneRunning));
            Ok(exit::OK)
        }
        Some(_) => {
            // Gone when its lock is free: woken the moment it lets go, not polled.
            let gone = crate::app::engine_host::wait_for_lock(&app.paths);
            match tokio::time::timeout(Duration::from_secs(30), gone).await {
                Ok(lock) => {
                    drop(lock?);
                    println!("{}", t!(SvcStopped));
                    Ok(exit::OK)
                }
                Err(_) => bail!(t!(SvcStillFinishing)),
            }
        }
    }
}

/// `pause` / `resume`.
pub async fn pause(ctx: &Context, args: PauseArgs, paused: bool) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    let path = args.path.map(|p| std::fs::canonicalize(&p).unwrap_or(p));
    let socket = app.paths.socket_path();
    let req = ControlRequest::Pause {
        path: path.clone(),
        paused,
    };
    match request(&socket, &req).await? {
        // A refusal exits as if this command had found the error itself.
        Some(resp) => {
            resp.into_result()?;
        }
        None => {
            // No service: remember it in the journal for the next start.
            app.with_journal(|j| {
                match &path {
                    Some(p) => {
                        let f = j.folder_by_path(p)?.ok_or_else(|| {
                            AppError::invalid(t!(IgnNotSynced, path = p.display()))
                        })?;
                        j.set_paused(f.id, paused)?;
                    }
                    None => j.set_paused_all(paused)?,
                }
                Ok(())
            })?;
        }
    }
    let said = match (&path, paused) {
        (None, true) => t!(SvcPausedAll),
        (None, false) => t!(SvcResumedAll),
        (Some(p), true) => t!(SvcPaused, path = p.display()),
        (Some(p), false) => t!(SvcResumed, path = p.display()),
    };
    println!("{said}");
    Ok(exit::OK)
}
