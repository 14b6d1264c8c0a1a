//! Waiting for a condition that another thread, task or process brings about. A timeout is a
//! test failure that names what was awaited; the waits are generous, since CI machines are busy.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is checked again.
const STEP: Duration = Duration::from_millis(100);

/// Block until `done()` holds; panic naming `what` after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(STEP);
    }
}

/// The async form of [`wait_for`], for tests on a tokio runtime.
pub async fn wait_for_async<F, Fut>(what: &str, timeout: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(STEP).await;
    }
}
