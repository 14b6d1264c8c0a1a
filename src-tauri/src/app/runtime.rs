//! The one tokio runtime of the process: both faces build it here, so the command line and the
//! desktop app run the engine on the same kind of runtime (multi-thread, I/O and timers on).

use anyhow::{Context as _, Result};

/// The fewest worker threads the runtime gets, whatever the number of cores.
///
/// tokio's default is one worker per core: two on the 2-core office machines and CI runners.
/// The desktop app answers its window's commands and runs the engine on these workers, so one
/// call that blocks a worker by mistake (a library that waits on D-Bus inside, a lock held by
/// a long journal write) would leave a single worker for everything else, and two such calls
/// stall the window. Idle workers cost a parked thread each.
pub const MIN_WORKERS: usize = 4;

/// How many workers for a machine with `cores` cores.
pub fn workers_for(cores: usize) -> usize {
    cores.max(MIN_WORKERS)
}

/// Build the process's multi-thread runtime.
pub fn build() -> Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers_for(cores))
        .enable_all()
        .build()
        .context("cannot start")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_machines_get_the_minimum_and_big_ones_a_worker_per_core() {
        assert_eq!(workers_for(1), MIN_WORKERS);
        assert_eq!(workers_for(2), MIN_WORKERS);
        assert_eq!(workers_for(16), 16);
    }

    #[test]
    fn the_runtime_has_at_least_the_minimum_of_workers() {
        let rt = build().expect("runtime");
        assert!(rt.metrics().num_workers() >= MIN_WORKERS);
    }
}
