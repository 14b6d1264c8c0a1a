//! The wall clock, read in one place. Logic that decides by time (the schedule, the planner)
//! takes the time as an argument instead; these are for the edges that stamp records.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in whole seconds since the Unix epoch (0 if the clock is before 1970).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Now, in nanoseconds since the Unix epoch (0 if the clock is before 1970).
pub fn unix_now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_nanoseconds_agree() {
        let s = unix_now();
        let ns = unix_now_ns();
        assert!(s > 1_600_000_000, "a clock after 2020");
        assert!((ns / 1_000_000_000 - s).abs() <= 1);
    }
}
