//! When a tracked folder syncs: the sync service's timing rules as a pure state machine, so
//! they can be tested without clocks, watchers or servers. The engine feeds it what happened
//! (a local change, a user request, a sync's outcome) with the current instant and asks what
//! is due and when to wake up.
//!
//! The rules:
//! - a new folder (service start, folder added) syncs at once: it catches up with what changed
//!   while nothing watched it;
//! - local changes sync after a quiet period (`debounce`) since the last one, or after
//!   `max_debounce` since the first, for a folder that never stops changing; while one is
//!   pending nothing else runs (that full sync reads the remote anyway);
//! - the remote head is polled every `poll_interval`, or every `active_poll_interval` while
//!   the folder is active: for `active_window` after a local change or a sync that moved
//!   something, when an answer from another device is likely;
//! - a full rescan runs every `rescan_interval` as a safety net for missed watch events;
//! - a retryable failure (offline, rate limited) holds everything but an explicit request for
//!   an exponentially growing wait (capped at `max_backoff`), after which a failed full sync is
//!   tried again as a full sync (the local changes it was to send are still unsent); a blocking
//!   failure (wrong password, permission, mass deletion) holds everything until the user asks
//!   again.
//!
//! Invariant: `due(wake_at())` is `Some` unless the folder is blocked, and nothing is due
//! before `wake_at()`; the engine can therefore sleep until the earliest `wake_at` of all folders.

use std::time::Duration;

use tokio::time::Instant;

use crate::engine_settings::EngineSettings;

/// What kind of sync is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Scan the folder and sync everything (local changes, rescan, request, catch-up).
    Full,
    /// Read the remote head only; sync when it moved.
    Poll,
}

/// The timing state of one folder.
#[derive(Debug, Clone)]
pub struct Schedule {
    dirty_since: Option<Instant>,
    last_change: Option<Instant>,
    next_poll: Instant,
    next_rescan: Instant,
    active_until: Option<Instant>,
    retry_at: Option<Instant>,
    failures: u32,
    blocked: bool,
    wants_sync: bool,
    /// The sync that is running (or ran last) is a full one.
    running_full: bool,
    /// A full sync failed on a retryable error: the local changes it was to carry are still
    /// unsent, so the attempt after the backoff is a full sync again, not a poll.
    retry_full: bool,
}

/// Longest doubling of the backoff (2^6 × the poll interval before the cap).
const MAX_BACKOFF_DOUBLINGS: u32 = 6;

impl Schedule {
    /// A folder the service just started to look after: a full sync is due at once.
    pub fn new(now: Instant, s: &EngineSettings) -> Schedule {
        Schedule {
            dirty_since: None,
            last_change: None,
            next_poll: now + s.poll_interval,
            next_rescan: now + s.rescan_interval,
            active_until: None,
            retry_at: None,
            failures: 0,
            blocked: false,
            wants_sync: true,
            running_full: false,
            retry_full: false,
        }
    }

    /// The watcher saw a change in the folder.
    pub fn local_change(&mut self, now: Instant, s: &EngineSettings) {
        self.dirty_since.get_or_insert(now);
        self.last_change = Some(now);
        // Fast polling starts with the sync of this change (see `started`).
        self.active_until = Some(now + s.active_window);
    }

    /// The user asked for a sync (also after resume or a fixed password): due at once, even
    /// during a backoff or after a blocking error.
    pub fn request_sync(&mut self) {
        self.wants_sync = true;
        self.blocked = false;
        self.retry_at = None;
    }

    /// Stopped until the user acts (a blocking error).
    pub fn is_blocked(&self) -> bool {
        self.blocked
    }

    /// Failures in a row since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// When the remote head is next read.
    pub fn next_poll(&self) -> Instant {
        self.next_poll
    }

    /// True while the folder polls at the fast rate.
    pub fn is_active(&self, now: Instant) -> bool {
        self.active_until.is_some_and(|t| t > now)
    }

    /// What is due at `now`, if anything.
    pub fn due(&self, now: Instant, s: &EngineSettings) -> Option<Due> {
        if self.blocked {
            return None;
        }
        if self.wants_sync {
            return Some(Due::Full);
        }
        if self.retry_at.is_some_and(|t| now < t) {
            return None;
        }
        if self.retry_full {
            return Some(Due::Full);
        }
        if let Some(deadline) = self.dirty_deadline(s) {
            // A full sync is coming; it reads the remote too, so no poll meanwhile.
            return (now >= deadline).then_some(Due::Full);
        }
        if now >= self.next_rescan {
            return Some(Due::Full);
        }
        if now >= self.next_poll {
            return Some(Due::Poll);
        }
        None
    }

    /// The earliest instant something becomes due (`None` while blocked).
    pub fn wake_at(&self, now: Instant, s: &EngineSettings) -> Option<Instant> {
        if self.blocked {
            return None;
        }
        if self.wants_sync {
            return Some(now);
        }
        let t = if self.retry_full {
            now
        } else {
            self.dirty_deadline(s)
                .unwrap_or(self.next_poll.min(self.next_rescan))
        };
        Some(match self.retry_at {
            Some(r) => t.max(r),
            None => t,
        })
    }

    /// A sync of kind `due` starts now.
    pub fn started(&mut self, now: Instant, due: Due, s: &EngineSettings) {
        self.next_poll = now + self.poll_every(now, s);
        self.running_full = due == Due::Full;
        if due == Due::Full {
            self.retry_full = false;
            // A full sync covers every local change seen so far; a poll covers none.
            self.wants_sync = false;
            self.dirty_since = None;
            self.last_change = None;
            self.next_rescan = now + s.rescan_interval;
        }
    }

    /// The sync finished well; `moved` when it transferred or deleted something.
    pub fn succeeded(&mut self, now: Instant, moved: bool, s: &EngineSettings) {
        self.failures = 0;
        self.retry_at = None;
        if moved {
            self.activate(now, s);
        }
    }

    /// The sync failed with an error that goes away by itself; returns the wait before the
    /// next attempt.
    pub fn failed_retryable(&mut self, now: Instant, s: &EngineSettings) -> Duration {
        self.failures = self.failures.saturating_add(1);
        // `started` cleared what the failed full sync was to carry; carry it next time.
        self.retry_full |= self.running_full;
        let wait = s
            .poll_interval
            .saturating_mul(1u32 << self.failures.min(MAX_BACKOFF_DOUBLINGS))
            .min(s.max_backoff);
        self.retry_at = Some(now + wait);
        self.next_poll = now + wait;
        self.next_rescan = self.next_rescan.max(now + wait);
        wait
    }

    /// After a retryable failure, the server asked for a longer wait than the backoff (the
    /// `Retry-After` of a rate limit): nothing is tried before `t`. Returns the wait from
    /// `now` that now applies.
    pub fn hold_until(&mut self, now: Instant, t: Instant) -> Duration {
        let until = self.retry_at.map_or(t, |r| r.max(t));
        self.retry_at = Some(until);
        self.next_poll = self.next_poll.max(until);
        self.next_rescan = self.next_rescan.max(until);
        until.saturating_duration_since(now)
    }

    /// The sync that just succeeded left files another program holds open (see
    /// [`crate::in_use`]): a full sync tries them again at the next poll, not only at the
    /// next rescan, because closing a document changes nothing the watcher would see.
    pub fn left_files_in_use(&mut self, now: Instant, s: &EngineSettings) {
        self.next_rescan = self.next_rescan.min(now + s.poll_interval);
    }

    /// The sync failed with an error that needs the user.
    pub fn failed_blocking(&mut self) {
        self.failures = self.failures.saturating_add(1);
        self.blocked = true;
    }

    fn activate(&mut self, now: Instant, s: &EngineSettings) {
        self.active_until = Some(now + s.active_window);
        self.next_poll = self.next_poll.min(now + s.active_poll_interval);
    }

    fn poll_every(&self, now: Instant, s: &EngineSettings) -> Duration {
        if self.is_active(now) {
            s.active_poll_interval.min(s.poll_interval)
        } else {
            s.poll_interval
        }
    }

    fn dirty_deadline(&self, s: &EngineSettings) -> Option<Instant> {
        match (self.dirty_since, self.last_change) {
            (Some(since), Some(last)) => Some((last + s.debounce).min(since + s.max_debounce)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults: the tests below count in them.
    fn settings() -> EngineSettings {
        EngineSettings::default()
    }

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let s = settings();
        let got = [
            s.poll_interval,
            s.active_poll_interval,
            s.active_window,
            s.debounce,
            s.max_debounce,
            s.rescan_interval,
            s.max_backoff,
        ];
        let want = [30, 2, 600, 2, 30, 600, 600].map(Duration::from_secs);
        assert_eq!(got, want, "README and docs quote these");
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// A schedule past its catch-up sync, idle, at `t0`.
    fn settled(t0: Instant, s: &EngineSettings) -> Schedule {
        let mut sch = Schedule::new(t0, s);
        assert_eq!(
            sch.due(t0, s),
            Some(Due::Full),
            "a new folder catches up at once"
        );
        sch.started(t0, Due::Full, s);
        sch.succeeded(t0, false, s);
        sch
    }

    #[test]
    fn an_idle_folder_polls_at_the_configured_interval() {
        let s = settings();
        let t0 = Instant::now();
        let mut sch = settled(t0, &s);
        assert_eq!(sch.due(t0 + secs(29), &s), None);
        assert_eq!(sch.wake_at(t0, &s), Some(t0 + secs(30)));
        assert_eq!(sch.due(t0 + secs(30), &s), Some(Due::Poll));
        sch.started(t0 + secs(30), Due::Poll, &s);
        sch.succeeded(t0 + secs(30), false, &s);
        assert_eq!(sch.next_poll(), t0 + secs(60));
        assert!(!sch.is_active(t0 + secs(30)));
    }

    #[test]
    fn a_burst_of_local_changes_becomes_one_sync_after_the_quiet_period() {
        let s = settings();
        let t0 = Instant::now();
        let mut sch = settled(t0, &s);
        for ms in [0u64, 300, 900, 1500] {
            sch.local_change(t0 + Duration::from_millis(ms), &s);
        }
        let last = t0 + Duration::from_millis(1500);
        assert_eq!(sch.due(last + Duration::from_millis(1999), &s), None);
        assert_eq!(sch.wake_at(last, &s), Some(last + secs(2)));
        assert_eq!(sch.due(last + secs(2), &s), Some(Due::Full));
        sch.started(last + secs(2), Due::Full, &s);
        assert_eq!(
            sch.due(last + secs(3), &s),
            None,
            "the sync covered the burst"
        );
    }

    #[test]
    fn a_folder_that_never_stops_changing_still_syncs_at_the_longest_debounce() {
        let s = settings();
        let t0 = Instant::now();
        let mut sch = settled(t0, &s);
        let mut t = t0;
        while t < t0 + secs(30) {
            sch.local_change(t, &s);
            assert_eq!(
                sch.due(t, &s),
                None,
                "still changing: the quiet period never comes"
            );
            t += Duration::from_millis(500);
        }
        assert_eq!(sch.due(t0 + secs(30), &s), Some(Due::Full));
    }

    #[test]
    fn activity_makes_the_folder_poll_fast_for_the_active_window() {
        let s = settings();
        let t0 = Instant::now();
        let mut sch = settled(t0, &s);
        // A sync that downloaded something: another device is at work.
        sch.started(t0 + secs(30), Due::Poll, &s);
        sch.succeeded(t0 + secs(31), true, &s);
        assert!(sch.is_active(t0 + secs(31)));
        assert_eq!(sch.wake_at(t0 + secs(31), &s), Some(t0 + secs(33)));
        let mut t = t0 + secs(33);
        let (mut polls, mut rescans) = (0, 0);
        while sch.is_active(t) {
            // A poll, or once the full rescan (due at 600 s).
            let due = sch.due(t, &s).expect("due every 2 s");
            if due == Due::Full {
                assert!(t >= t0 + secs(600), "a full sync at {:?}", t - t0);
                rescans += 1;
            }
            sch.started(t, due, &s);
            sch.succeeded(t, false, &s);
            polls += 1;
            t = sch.next_poll();
        }
        // 600 s of activity at one poll every 2 s.
        assert!((298..=301).contains(&polls), "{polls} polls");
        assert_eq!(rescans, 1);
        // Back to the idle rate.
        sch.started(t, Due::Poll, &s);
        assert_eq!(sch.next_poll(), t + secs(30));
    }

    #[test]
    fn a_local_change_also_makes_the_folder_active() {
        let s = settings();
        let t0 = Instant::now();
        let mut sch = settled(t0, &s);
        sch.local_change(t0 + secs(5), &s);
        assert!(sch.is_active(t0 + secs(5)));
        assert_eq!(sch.due(t0 + secs(7), &s), Some(Due::Full));
        sch.started(t0 + secs(7), Due::Full, &s);
        assert_eq!(sch.next_poll(), t0 + secs(9));
    }

    #[test]
    fn the_active_poll_never_exceeds_a_shorter_configured_interval() {
        let s = EngineSettings {
            poll_interval: secs(1),
            ..settings()
        };
        let t0 = Instant::now();
        let mut sch = settled(t0, &s);
        sch.local_change(t0, &s);
        sch.started(t0 + secs(2), Due::Full, &s);
        assert_eq!(sch.next_poll(), t0 + secs(3));
    }

    #[test]
    fn retryable_failures_back_off_exponentially_up_to_the_cap() {
        let s = settings();
        let t0 = Instant::now();
        let mut sch = settled(t0, &s);
        let mut t = t0 + secs(30);
        let mut waits = Vec::new();
        for _ in 0..8 {
            let due = sch.due(t, &s).expect("due at its retry time");
            sch.started(t, due, &s);
            let w = sch.failed_retryable(t, &s);
            assert_eq!(sch.due(t + w - Duration::from_millis(1), &s), None);
            waits.push(w.as_secs());
            t += w;
        }
        assert_eq!(waits, vec![60, 120, 240, 480, 600, 600, 600, 600]);
        assert_eq!(sch.failures(), 8);
        // Back online: the rescan held back during the backoff runs first.
        assert_eq!(sch.due(t, &s), Some(Due::Full));
        sch.started(t, Due::Full, &s);
        sch.succeeded(t, false, &s);
        assert_eq!(sch.failures(), 0);
        assert_eq!(sch.due(t + secs(29), &s), None);
        assert_eq!(sch.due(t + secs(30), &s), Some(Due::Poll));
    }

    #[test]
    fn local_changes_wait_for_the_backoff_but_a_request_does_not() {
        let s = settings();
        let t0 = Instant::now();
        let mut sch = settled(t0, &s);
        let w = sch.failed_retryable(t0, &s);
        sch.local_change(t0 + secs(1), &s);
        assert_eq!(
            sch.due(t0 + secs(10), &s),
            None,
            "offline: no point trying yet"
        );
        assert_eq!(sch.wake_at(t0 + secs(10), &s), Some(t0 + w));
        assert_eq!(
            sch.due(t0 + w, &s),
            Some(Due::Full),
            "the change syncs when retrying"
        );
        sch.request_sync();
        assert_eq!(sch.due(t0 + secs(10), &s), Some(Due::Full));
    }

    #[test]
    fn a_failed_full_sync_is_retried_as_a_full_sync_not_a_poll() {
        let s = settings();
        let t0 = Instant::now();
        let mut sch = settled(t0, &s);
        sch.local_change(t0, &s);
        let t1 = t0 + s.debounce;
        assert_eq!(sch.due(t1, &s), Some(Due::Full));
        sch.started(t1, Due::Full, &s);
        // The server went away while the change was being sent.
        let w = sch.failed_retryable(t1, &s);
        assert_eq!(sch.due(t1 + w - secs(1), &s), None, "backing off");
        assert_eq!(sch.wake_at(t1, &s), Some(t1 + w));
        assert_eq!(
            sch.due(t1 + w, &s),
            Some(Due::Full),
            "the unsent change goes with the retry; a poll would find the remote unchanged"
        );
        // Still down: the next retry is full again, after a longer wait.
        let t2 = t1 + w;
        sch.started(t2, Due::Full, &s);
        let w2 = sch.failed_retryable(t2, &s);
        assert!(w2 > w);
        assert_eq!(sch.due(t2 + w2, &s), Some(Due::Full));
        // Back: once it went through, the folder polls again.
        let t3 = t2 + w2;
        sch.started(t3, Due::Full, &s);
        sch.succeeded(t3, true, &s);
        assert_eq!(sch.due(t3 + secs(1), &s), None);
        assert_eq!(sch.due(t3 + s.active_poll_interval, &s), Some(Due::Poll));
    }

    #[test]
    fn a_failed_poll_is_retried_as_a_poll() {
        let s = settings();
        let t0 = Instant::now();
        let mut sch = settled(t0, &s);
        let t1 = t0 + s.poll_interval;
        assert_eq!(sch.due(t1, &s), Some(Due::Poll));
        sch.started(t1, Due::Poll, &s);
        let w = sch.failed_retryable(t1, &s);
        assert_eq!(sch.due(t1 + w - secs(1), &s), None);
        assert_eq!(
            sch.due(t1 + w, &s),
            Some(Due::Poll),
            "nothing local is pending"
        );
    }

    #[test]
    fn a_blocking_failure_holds_the_folder_until_the_user_acts() {
        let s = settings();
        let t0 = Instant::now();
        let mut sch = settled(t0, &s);
        sch.failed_blocking();
        sch.local_change(t0 + secs(1), &s);
        for later in [secs(5), secs(700), secs(100_000)] {
            assert_eq!(sch.due(t0 + later, &s), None);
        }
        assert_eq!(sch.wake_at(t0, &s), None);
        assert!(sch.is_blocked());
        sch.request_sync();
        assert!(!sch.is_blocked());
        assert_eq!(sch.due(t0 + secs(2), &s), Some(Due::Full));
    }

    #[test]
    fn the_safety_net_rescan_is_a_full_sync_every_rescan_interval() {
        let s = settings();
        let t0 = Instant::now();
        let mut sch = settled(t0, &s);
        let mut t = t0;
        let mut full = 0;
        // An hour of quiet: polls every 30 s, a full rescan every 10 minutes.
        while t < t0 + secs(3600) {
            t = sch.wake_at(t, &s).expect("not blocked");
            let due = sch.due(t, &s).expect("due when it said");
            if due == Due::Full {
                full += 1;
            }
            sch.started(t, due, &s);
            sch.succeeded(t, false, &s);
        }
        assert_eq!(full, 6);
    }

    #[test]
    fn files_left_in_use_are_tried_again_by_a_full_sync_at_the_next_poll() {
        let s = settings();
        let t0 = Instant::now();
        let mut sch = settled(t0, &s);
        let t = sch.wake_at(t0, &s).expect("not blocked");
        let due = sch.due(t, &s).expect("due");
        sch.started(t, due, &s);
        sch.succeeded(t, false, &s);
        sch.left_files_in_use(t, &s);
        let next = sch.wake_at(t, &s).expect("not blocked");
        assert_eq!(next, t + s.poll_interval);
        assert_eq!(
            sch.due(next, &s),
            Some(Due::Full),
            "a full sync, not a poll"
        );
        // Once they synced, the rescan is back to its interval.
        sch.started(next, Due::Full, &s);
        sch.succeeded(next, true, &s);
        assert_eq!(sch.due(next + s.poll_interval, &s), Some(Due::Poll));
    }

    /// Random sequences of everything that can happen: whatever the history, `wake_at` is
    /// exactly the first instant something is due.
    #[test]
    fn wake_at_is_the_first_instant_anything_is_due() {
        let s = settings();
        let t0 = Instant::now();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..300 {
            let mut sch = Schedule::new(t0, &s);
            let mut t = t0;
            for _ in 0..40 {
                t += Duration::from_millis(next(40_000));
                match next(6) {
                    0 | 1 => sch.local_change(t, &s),
                    2 => {
                        if let Some(d) = sch.due(t, &s) {
                            sch.started(t, d, &s);
                            sch.succeeded(t, next(2) == 0, &s);
                            if next(3) == 0 {
                                sch.left_files_in_use(t, &s);
                            }
                        }
                    }
                    3 => {
                        if let Some(d) = sch.due(t, &s) {
                            sch.started(t, d, &s);
                            sch.failed_retryable(t, &s);
                        }
                    }
                    4 if next(10) == 0 => sch.failed_blocking(),
                    _ => sch.request_sync(),
                }
                match sch.wake_at(t, &s) {
                    None => assert!(sch.is_blocked()),
                    Some(w) => {
                        assert!(sch.due(w.max(t), &s).is_some(), "due at its wake time");
                        if w > t {
                            let before = w - Duration::from_millis(1);
                            assert_eq!(sch.due(before.max(t), &s), None, "nothing due before");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_retry_after_longer_than_the_backoff_holds_the_folder_until_then() {
        let s = settings();
        let t0 = Instant::now();
        let mut sc = Schedule::new(t0, &s);
        sc.started(t0, Due::Full, &s);
        let backoff = sc.failed_retryable(t0, &s);
        let server_wait = backoff * 3;
        let wait = sc.hold_until(t0, t0 + server_wait);
        assert_eq!(
            wait, server_wait,
            "the server's wait is longer, so it applies"
        );
        assert_eq!(
            sc.due(t0 + backoff, &s),
            None,
            "nothing at the end of the backoff alone"
        );
        assert_eq!(
            sc.wake_at(t0, &s),
            Some(t0 + server_wait),
            "the engine sleeps until then"
        );
        assert_eq!(
            sc.due(t0 + server_wait, &s),
            Some(Due::Full),
            "then the failed sync again"
        );
        let shorter = sc.hold_until(t0, t0 + Duration::from_secs(1));
        assert_eq!(
            shorter, server_wait,
            "a shorter hold never shortens the wait"
        );
    }
}
