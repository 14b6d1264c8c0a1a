//! sber-tunnel: the desktop tray app and, with `--cli`, the headless command line.
//!
//! Started with `--cli` (or with a subcommand, or in a build without the `gui` feature) it runs
//! the command line; otherwise it opens the tray app.

mod app;
mod cli;
mod logging;
mod service;

#[cfg(feature = "gui")]
mod desktop_backend;

#[cfg(feature = "gui")]
mod desktop;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let wants_cli = args.iter().skip(1).any(|a| a == "--cli") || args.len() > 1;
    #[cfg(feature = "gui")]
    if !wants_cli {
        return desktop_main();
    }
    let _ = wants_cli;
    cli::main(args)
}

#[cfg(feature = "gui")]
fn desktop_main() -> ExitCode {
    match std::env::var("SBER_TUNNEL_FAKE_BACKEND").as_deref() {
        Ok("1") => {
            let backend = std::sync::Arc::new(desktop::fake::FakeBackend::new());
            match desktop::run(backend) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("sber-tunnel: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!("sber-tunnel: the desktop backend is not wired yet; run with --cli");
            ExitCode::FAILURE
        }
    }
}
