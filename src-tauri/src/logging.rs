//! The one place that installs a tracing subscriber: a daily-rolling log file in the log
//! folder (a bounded number kept) plus, for the command line, stderr at the chosen verbosity.
//! The level comes from `-v`, `SBER_TUNNEL_LOG` / `RUST_LOG`, then the config file.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

/// Lines the background log writer may hold before a logging thread waits for it.
const LOG_QUEUE_LINES: usize = 4096;

/// Keeps the file writer alive; drop it last.
pub struct LogGuard(#[allow(dead_code)] Option<WorkerGuard>);

/// Install logging. `stderr_level` is what the terminal shows (warn by default); the file gets
/// `file_level` or the environment's filter.
pub fn init(
    log_dir: Option<&Path>,
    file_level: &str,
    keep_files: usize,
    stderr_level: &str,
) -> LogGuard {
    let env_filter = std::env::var("SBER_TUNNEL_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    let stderr_filter = EnvFilter::try_new(
        env_filter
            .clone()
            .unwrap_or_else(|| format!("{stderr_level},hyper=warn,reqwest=warn,hyper_util=warn")),
    )
    .unwrap_or_else(|_| EnvFilter::new("warn"));
    let stderr_layer = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .with_filter(stderr_filter);

    let mut guard = None;
    let file_layer = log_dir.and_then(|dir| {
        std::fs::create_dir_all(dir).ok()?;
        let appender = tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix("sber-tunnel")
            .filename_suffix("log")
            .max_log_files(keep_files.max(1))
            .build(dir)
            .ok()?;
        // The default queue (128,000 lines) is allocated up front: 4 MB resident for ever in
        // a service that logs a few lines a minute. A full queue makes the logger wait
        // (lossy = false) rather than drop lines.
        let (writer, g) = tracing_appender::non_blocking::NonBlockingBuilder::default()
            .buffered_lines_limit(LOG_QUEUE_LINES)
            .lossy(false)
            .finish(appender);
        guard = Some(g);
        let filter =
            EnvFilter::try_new(env_filter.clone().unwrap_or_else(|| {
                format!("{file_level},hyper=warn,reqwest=warn,hyper_util=warn")
            }))
            .unwrap_or_else(|_| EnvFilter::new("info"));
        Some(
            fmt::layer()
                .with_writer(writer)
                .with_ansi(false)
                .with_filter(filter),
        )
    });
    let _ = tracing_subscriber::registry()
        .with(stderr_layer)
        .with(file_layer)
        .try_init();
    LogGuard(guard)
}
