//! sber-tunnel: the desktop tray app and, with `--cli`, the headless command line.
//!
//! Started with `--cli` (or with a subcommand, or in a build without the `gui` feature) it runs
//! the command line; otherwise it opens the tray app.

// On Windows the desktop build is a GUI program, so the tray app opens no console window when
// started from the Start menu or at login. Terminals and scripts use sber-tunnel-cli.exe, the
// same program marked as a console program by the installer (scripts/windows/pe_subsystem.py).
#![cfg_attr(all(windows, feature = "gui"), windows_subsystem = "windows")]

mod allocator;
mod app;
mod cli;
#[cfg(test)]
mod command_list;
mod i18n;
mod logging;

// The real backend and its contract hold no GUI code: tests build them without `gui` too, so
// the headless test run covers taking over from a service and serving the control channel
// (without the shell that calls them, much of them is unused there).
#[cfg(all(test, not(feature = "gui")))]
#[allow(dead_code)]
mod desktop {
    pub mod backend;
    mod emulator_app;
    pub mod real_backend;
}

#[cfg(feature = "gui")]
mod desktop;

use std::process::ExitCode;

fn main() -> ExitCode {
    allocator::limit_arenas();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // `--minimized` alone is the desktop app started at login; anything else is the CLI.
    let wants_cli = args.iter().skip(1).any(|a| a == "--cli")
        || args.iter().skip(1).any(|a| a != "--minimized");
    #[cfg(feature = "gui")]
    if !wants_cli {
        return desktop_main();
    }
    let _ = wants_cli;
    cli::main(args)
}

#[cfg(feature = "gui")]
fn desktop_main() -> ExitCode {
    let runtime = match app::runtime::build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sber-tunnel: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    tauri::async_runtime::set(runtime.handle().clone());
    let mut log_guard = None;
    let backend: std::sync::Arc<dyn desktop::backend::DesktopBackend> =
        if let Some(fake) = fake_backend() {
            fake
        } else {
            let paths = match app::opened_config::OpenedConfig::resolve_paths(None) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("sber-tunnel: {e:#}");
                    return ExitCode::FAILURE;
                }
            };
            log_guard = Some(logging::init(Some(&paths.log_dir()), "info", 7, "warn"));
            runtime.block_on(desktop::real_backend::RealBackend::new(paths))
        };
    let result = desktop::run(backend.clone());
    // After Quit (tray, or `sber-tunnel stop`): let the running transfer finish or checkpoint.
    runtime.block_on(backend.shutdown());
    drop(runtime);
    drop(log_guard);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sber-tunnel: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Test builds (feature `fake-backend`) put the scripted fake behind the window when
/// SBER_TUNNEL_FAKE_BACKEND=1; a release build has no fake and always runs the real service.
#[cfg(feature = "gui")]
fn fake_backend() -> Option<std::sync::Arc<dyn desktop::backend::DesktopBackend>> {
    #[cfg(feature = "fake-backend")]
    if std::env::var("SBER_TUNNEL_FAKE_BACKEND").as_deref() == Ok("1") {
        return Some(std::sync::Arc::new(desktop::fake::FakeBackend::new()));
    }
    None
}
