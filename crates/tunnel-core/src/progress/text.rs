//! The words for a person: one line per folder and one for the whole service, shared by the
//! CLI's `status`, its `sync` progress line and the tray tooltip, so they say the same thing.

use crate::events::{SyncState, SyncStatus};

use super::{ProgressReport, WaitReason};

/// 1536 → "1.5 KiB".
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// 75 → "1 min 15 s"; 3700 → "1 h 2 min"; whole seconds under a minute.
pub fn format_duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => match secs % 60 {
            0 => format!("{} min", secs / 60),
            s => format!("{} min {s} s", secs / 60),
        },
        _ => match (secs % 3600) / 60 {
            0 => format!("{} h", secs / 3600),
            m => format!("{} h {m} min", secs / 3600),
        },
    }
}

fn retry_in(retry_at: i64, now: i64) -> String {
    let secs = retry_at.saturating_sub(now);
    if secs <= 0 {
        "retrying now".to_string()
    } else {
        format!("retrying in {}", format_duration(secs as u64))
    }
}

/// Why a folder waits, for a person, at `now` (unix seconds).
pub fn describe_wait(w: &WaitReason, now: i64) -> String {
    match w {
        WaitReason::Paused => "paused".to_string(),
        WaitReason::Offline { retry_at } => format!("offline, {}", retry_in(*retry_at, now)),
        WaitReason::RateLimited { retry_at } => {
            format!("the server's rate limit, {}", retry_in(*retry_at, now))
        }
        WaitReason::PageBusy { retry_at } => format!(
            "another device is writing to the page, {}",
            retry_in(*retry_at, now)
        ),
        WaitReason::LocalError { retry_at } => format!(
            "a local file could not be read or written, {}",
            retry_in(*retry_at, now)
        ),
        WaitReason::FilesInUse { files, count } => {
            let names = files.join(", ");
            let more = count.saturating_sub(files.len() as u64);
            let what = if *count == 1 { "file" } else { "files" };
            match more {
                0 => format!("{count} {what} in use by another program ({names})"),
                m => format!("{count} {what} in use by another program ({names} and {m} more)"),
            }
        }
        WaitReason::WaitingForLock => {
            "waiting for another sber-tunnel to release the configuration".to_string()
        }
        WaitReason::Queued => "waiting for another folder to finish".to_string(),
        WaitReason::Stalled { for_secs } => {
            format!("stalled: no progress for {}", format_duration(*for_secs))
        }
    }
}

/// "3 files, 12.0 MiB to go · 1.2 MiB/s · 10 s left · report.pdf".
pub fn describe_progress(p: &ProgressReport) -> String {
    let what = if p.files_to_go == 1 { "file" } else { "files" };
    let mut parts = vec![format!(
        "{} {what}, {} to go",
        p.files_to_go,
        format_bytes(p.bytes_to_go)
    )];
    if let Some(r) = p.bytes_per_sec {
        parts.push(format!("{}/s", format_bytes(r)));
    }
    if let (Some(eta), true) = (p.eta_secs, p.bytes_to_go > 0) {
        parts.push(format!("{} left", format_duration(eta)));
    }
    if let Some(f) = &p.current_file {
        parts.push(f.clone());
    }
    parts.join(" · ")
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// One line for the whole service (the tray tooltip, the top of `status`), at `now`.
pub fn describe_status(s: &SyncStatus, now: i64) -> String {
    let head = match s.state {
        SyncState::Idle => "Up to date",
        SyncState::Syncing => "Syncing",
        SyncState::Paused => "Paused",
        SyncState::Error => "Error",
        SyncState::Offline => "Offline",
    };
    let mut line = head.to_string();
    if let Some(p) = s
        .progress
        .as_ref()
        .filter(|_| s.state == SyncState::Syncing)
    {
        line = format!("{line}: {}", describe_progress(p));
    }
    let error = (s.state == SyncState::Error)
        .then_some(s.message.as_ref())
        .flatten();
    if let Some(m) = error {
        // The error says what is wrong (and a lock held elsewhere says so in its message).
        return format!("{line}: {m}");
    }
    if let Some(w) = s.waiting.as_ref().filter(|w| **w != WaitReason::Paused) {
        let why = describe_wait(w, now);
        line = match s.state {
            // The reason says it all ("offline, retrying in 30 s").
            SyncState::Offline => capitalized(&why),
            _ => format!("{line} — {why}"),
        };
    } else if let (Some(m), SyncState::Error | SyncState::Offline) = (&s.message, s.state) {
        line = format!("{line}: {m}");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(3 << 20), "3.0 MiB");
        let d = [
            (0, "0 s"),
            (59, "59 s"),
            (60, "1 min"),
            (75, "1 min 15 s"),
            (3600, "1 h"),
            (3720, "1 h 2 min"),
        ];
        for (secs, want) in d {
            assert_eq!(format_duration(secs), want);
        }
    }

    #[test]
    fn every_wait_reads_as_a_reason() {
        let now = 1_000;
        let cases = [
            (WaitReason::Paused, "paused"),
            (
                WaitReason::Offline { retry_at: 1_030 },
                "offline, retrying in 30 s",
            ),
            (
                WaitReason::Offline { retry_at: 900 },
                "offline, retrying now",
            ),
            (
                WaitReason::RateLimited { retry_at: 1_120 },
                "the server's rate limit, retrying in 2 min",
            ),
            (
                WaitReason::PageBusy { retry_at: 1_005 },
                "another device is writing to the page, retrying in 5 s",
            ),
            (
                WaitReason::LocalError { retry_at: 1_005 },
                "a local file could not be read or written, retrying in 5 s",
            ),
            (
                WaitReason::FilesInUse {
                    files: vec!["a.docx".into()],
                    count: 1,
                },
                "1 file in use by another program (a.docx)",
            ),
            (
                WaitReason::FilesInUse {
                    files: vec!["a".into(), "b".into()],
                    count: 5,
                },
                "5 files in use by another program (a, b and 3 more)",
            ),
            (
                WaitReason::WaitingForLock,
                "waiting for another sber-tunnel to release the configuration",
            ),
            (WaitReason::Queued, "waiting for another folder to finish"),
            (
                WaitReason::Stalled { for_secs: 360 },
                "stalled: no progress for 6 min",
            ),
        ];
        for (w, want) in cases {
            assert_eq!(describe_wait(&w, now), want);
        }
    }

    #[test]
    fn progress_says_what_is_known_only() {
        let p = ProgressReport {
            files_to_go: 3,
            bytes_to_go: 12 << 20,
            files_done: 1,
            bytes_done: 1,
            bytes_per_sec: Some(1 << 20),
            eta_secs: Some(12),
            current_file: Some("docs/report.pdf".into()),
        };
        assert_eq!(
            describe_progress(&p),
            "3 files, 12.0 MiB to go · 1.0 MiB/s · 12 s left · docs/report.pdf"
        );
        let early = ProgressReport {
            files_to_go: 1,
            bytes_to_go: 10,
            ..Default::default()
        };
        assert_eq!(
            describe_progress(&early),
            "1 file, 10 B to go",
            "no speed or time left before they can be measured"
        );
    }

    #[test]
    fn the_status_line_joins_state_progress_and_reason() {
        let mut s = SyncStatus {
            state: SyncState::Syncing,
            progress: Some(ProgressReport {
                files_to_go: 2,
                bytes_to_go: 2048,
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(describe_status(&s, 0), "Syncing: 2 files, 2.0 KiB to go");
        s.waiting = Some(WaitReason::Stalled { for_secs: 300 });
        assert_eq!(
            describe_status(&s, 0),
            "Syncing: 2 files, 2.0 KiB to go — stalled: no progress for 5 min"
        );
        let off = SyncStatus {
            state: SyncState::Offline,
            message: Some("server unreachable: refused".into()),
            waiting: Some(WaitReason::Offline { retry_at: 60 }),
            ..Default::default()
        };
        assert_eq!(describe_status(&off, 0), "Offline, retrying in 1 min");
        let paused = SyncStatus {
            state: SyncState::Paused,
            waiting: Some(WaitReason::Paused),
            ..Default::default()
        };
        assert_eq!(
            describe_status(&paused, 0),
            "Paused",
            "not 'Paused — paused'"
        );
        let locked = SyncStatus {
            state: SyncState::Error,
            message: Some("another sber-tunnel sync service is running".into()),
            waiting: Some(WaitReason::WaitingForLock),
            ..Default::default()
        };
        assert_eq!(
            describe_status(&locked, 0),
            "Error: another sber-tunnel sync service is running",
            "the message says it once"
        );
    }
}
