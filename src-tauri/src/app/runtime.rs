//! The one tokio runtime of the process: both faces build it here, so the command line and the
//! desktop app run the engine on the same kind of runtime (multi-thread, I/O and timers on).

use anyhow::{Context as _, Result};

/// Build the process's multi-thread runtime.
pub fn build() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start")
}
