//! Bytes on the wire: a process-wide count of body bytes the remote store sent and received,
//! kept by its implementation ([`note`]) as they pass. One chunk can be 100 MB and take many
//! minutes on a slow link; the sync only learns of it when the chunk is done, so the engine
//! reads this counter to measure the speed while a chunk is under way and to tell a slow
//! transfer from a stalled one. The engine runs one sync at a time, so whatever moves belongs
//! to the running sync.

use std::sync::atomic::{AtomicU64, Ordering};

static WIRE_BYTES: AtomicU64 = AtomicU64::new(0);

/// `n` body bytes were just sent or received.
pub fn note(n: u64) {
    WIRE_BYTES.fetch_add(n, Ordering::Relaxed);
}

/// Body bytes sent and received since the process started (wraps only after 16 EiB).
pub fn total() -> u64 {
    WIRE_BYTES.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noted_bytes_add_up() {
        let before = total();
        note(10);
        note(5);
        assert!(
            total() >= before + 15,
            "other tests may add too, never take away"
        );
    }
}
