//! The words for a person: one line per folder and one for the whole service, shared by the
//! CLI's `status`, its `sync` progress line and the tray tooltip, so they say the same thing.

use crate::events::{SyncState, SyncStatus};
use crate::lang::Lang;

use super::{ProgressReport, WaitReason};

/// 1536 → "1.5 KiB".
pub fn format_bytes(n: u64) -> String {
    format_bytes_in(Lang::En, n)
}

/// 1536 → "1.5 KiB" in English, "1,5 КБ" in Russian (binary units both; Russian writes them
/// КБ/МБ and a decimal comma).
pub fn format_bytes_in(lang: Lang, n: u64) -> String {
    let units: [&str; 5] = lang.pick(
        ["B", "KiB", "MiB", "GiB", "TiB"],
        ["Б", "КБ", "МБ", "ГБ", "ТБ"],
    );
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} {}", units[0])
    } else {
        let number = format!("{v:.1}");
        let number = match lang {
            Lang::En => number,
            Lang::Ru => number.replace('.', ","),
        };
        format!("{number} {}", units[u])
    }
}

/// 75 → "1 min 15 s"; 3700 → "1 h 2 min"; whole seconds under a minute.
pub fn format_duration(secs: u64) -> String {
    format_duration_in(Lang::En, secs)
}

/// [`format_duration`] in `lang` ("1 мин 15 с").
pub fn format_duration_in(lang: Lang, secs: u64) -> String {
    let (s_, min, h) = lang.pick(("s", "min", "h"), ("с", "мин", "ч"));
    match secs {
        0..=59 => format!("{secs} {s_}"),
        60..=3599 => match secs % 60 {
            0 => format!("{} {min}", secs / 60),
            s => format!("{} {min} {s} {s_}", secs / 60),
        },
        _ => match (secs % 3600) / 60 {
            0 => format!("{} {h}", secs / 3600),
            m => format!("{} {h} {m} {min}", secs / 3600),
        },
    }
}

fn retry_in(lang: Lang, retry_at: i64, now: i64) -> String {
    let secs = retry_at.saturating_sub(now);
    if secs <= 0 {
        lang.pick("retrying now", "повтор сейчас").to_string()
    } else {
        let d = format_duration_in(lang, secs as u64);
        lang.pick(format!("retrying in {d}"), format!("повтор через {d}"))
    }
}

/// Why a folder waits, for a person, at `now` (unix seconds).
pub fn describe_wait(w: &WaitReason, now: i64) -> String {
    describe_wait_in(Lang::En, w, now)
}

/// [`describe_wait`] in `lang`.
pub fn describe_wait_in(lang: Lang, w: &WaitReason, now: i64) -> String {
    let retry = |at: &i64| retry_in(lang, *at, now);
    match (lang, w) {
        (Lang::En, WaitReason::Paused) => "paused".to_string(),
        (Lang::Ru, WaitReason::Paused) => "приостановлено".to_string(),
        (Lang::En, WaitReason::Offline { retry_at }) => format!("offline, {}", retry(retry_at)),
        (Lang::Ru, WaitReason::Offline { retry_at }) => format!("нет связи, {}", retry(retry_at)),
        (Lang::En, WaitReason::RateLimited { retry_at }) => {
            format!("the server's rate limit, {}", retry(retry_at))
        }
        (Lang::Ru, WaitReason::RateLimited { retry_at }) => {
            format!("ограничение частоты запросов сервера, {}", retry(retry_at))
        }
        (Lang::En, WaitReason::PageBusy { retry_at }) => {
            format!("another device is writing to the page, {}", retry(retry_at))
        }
        (Lang::Ru, WaitReason::PageBusy { retry_at }) => format!(
            "другое устройство записывает на страницу, {}",
            retry(retry_at)
        ),
        (Lang::En, WaitReason::LocalError { retry_at }) => format!(
            "a local file could not be read or written, {}",
            retry(retry_at)
        ),
        (Lang::Ru, WaitReason::LocalError { retry_at }) => format!(
            "не удалось прочитать или записать локальный файл, {}",
            retry(retry_at)
        ),
        (_, WaitReason::FilesInUse { files, count }) => {
            let names = files.join(", ");
            let more = count.saturating_sub(files.len() as u64);
            match (lang, more) {
                (Lang::En, 0) => format!(
                    "{count} {} in use by another program ({names})",
                    lang.plural(*count, "file", "files", "files")
                ),
                (Lang::En, m) => format!(
                    "{count} {} in use by another program ({names} and {m} more)",
                    lang.plural(*count, "file", "files", "files")
                ),
                (Lang::Ru, 0) => format!(
                    "{count} {} другой программой ({names})",
                    lang.plural(*count, "файл занят", "файла заняты", "файлов заняты")
                ),
                (Lang::Ru, m) => format!(
                    "{count} {} другой программой ({names} и ещё {m})",
                    lang.plural(*count, "файл занят", "файла заняты", "файлов заняты")
                ),
            }
        }
        (Lang::En, WaitReason::WaitingForLock) => {
            "waiting for another sber-tunnel to release the configuration".to_string()
        }
        (Lang::Ru, WaitReason::WaitingForLock) => {
            "ожидание, пока другой sber-tunnel освободит настройки".to_string()
        }
        (Lang::En, WaitReason::Queued) => "waiting for another folder to finish".to_string(),
        (Lang::Ru, WaitReason::Queued) => "ожидание завершения другой папки".to_string(),
        (Lang::En, WaitReason::Stalled { for_secs }) => {
            format!(
                "stalled: no progress for {}",
                format_duration_in(lang, *for_secs)
            )
        }
        (Lang::Ru, WaitReason::Stalled { for_secs }) => {
            format!(
                "зависло: нет продвижения уже {}",
                format_duration_in(lang, *for_secs)
            )
        }
    }
}

/// "3 files, 12.0 MiB to go · 1.2 MiB/s · 10 s left · report.pdf".
pub fn describe_progress(p: &ProgressReport) -> String {
    describe_progress_in(Lang::En, p)
}

/// [`describe_progress`] in `lang` ("осталось 3 файла, 12,0 МБ · 1,2 МБ/с · ещё 10 с · …").
pub fn describe_progress_in(lang: Lang, p: &ProgressReport) -> String {
    let n = p.files_to_go;
    let bytes = format_bytes_in(lang, p.bytes_to_go);
    let mut parts = vec![match lang {
        Lang::En => format!(
            "{n} {}, {bytes} to go",
            lang.plural(n, "file", "files", "files")
        ),
        Lang::Ru => format!(
            "осталось {n} {}, {bytes}",
            lang.plural(n, "файл", "файла", "файлов")
        ),
    }];
    if let Some(r) = p.bytes_per_sec {
        let rate = format_bytes_in(lang, r);
        parts.push(lang.pick(format!("{rate}/s"), format!("{rate}/с")));
    }
    if let (Some(eta), true) = (p.eta_secs, p.bytes_to_go > 0) {
        let d = format_duration_in(lang, eta);
        parts.push(lang.pick(format!("{d} left"), format!("ещё {d}")));
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
    describe_status_in(Lang::En, s, now)
}

/// The word for a state: "Up to date", "Syncing"… ("Синхронизация"…).
pub fn describe_state_in(lang: Lang, state: SyncState) -> &'static str {
    match state {
        SyncState::Idle => lang.pick("Up to date", "Всё синхронизировано"),
        SyncState::Syncing => lang.pick("Syncing", "Синхронизация"),
        SyncState::Paused => lang.pick("Paused", "Приостановлено"),
        SyncState::Error => lang.pick("Error", "Ошибка"),
        SyncState::Offline => lang.pick("Offline", "Нет связи"),
    }
}

/// [`describe_status`] in `lang`. The service's message (an error's text) is shown as given.
pub fn describe_status_in(lang: Lang, s: &SyncStatus, now: i64) -> String {
    let mut line = describe_state_in(lang, s.state).to_string();
    if let Some(p) = s
        .progress
        .as_ref()
        .filter(|_| s.state == SyncState::Syncing)
    {
        line = format!("{line}: {}", describe_progress_in(lang, p));
    }
    let error = (s.state == SyncState::Error)
        .then_some(s.message.as_ref())
        .flatten();
    if let Some(m) = error {
        // The error says what is wrong (and a lock held elsewhere says so in its message).
        return format!("{line}: {m}");
    }
    if let Some(w) = s.waiting.as_ref().filter(|w| **w != WaitReason::Paused) {
        let why = describe_wait_in(lang, w, now);
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

    /// Three files and 12 MiB to go at 1 MiB/s, `docs/report.pdf` in transfer.
    fn three_files_in_transfer() -> ProgressReport {
        ProgressReport {
            files_to_go: 3,
            bytes_to_go: 12 << 20,
            files_done: 1,
            bytes_done: 1,
            bytes_per_sec: Some(1 << 20),
            eta_secs: Some(12),
            current_file: Some("docs/report.pdf".into()),
        }
    }

    #[test]
    fn progress_says_what_is_known_only() {
        let p = three_files_in_transfer();
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
    #[test]
    fn russian_words_for_the_same_values() {
        let ru = Lang::Ru;
        assert_eq!(format_bytes_in(ru, 0), "0 Б");
        assert_eq!(format_bytes_in(ru, 1536), "1,5 КБ");
        assert_eq!(format_bytes_in(ru, 3 << 20), "3,0 МБ");
        assert_eq!(format_duration_in(ru, 75), "1 мин 15 с");
        assert_eq!(format_duration_in(ru, 3720), "1 ч 2 мин");
        let now = 1_000;
        let cases = [
            (WaitReason::Paused, "приостановлено"),
            (
                WaitReason::Offline { retry_at: 1_030 },
                "нет связи, повтор через 30 с",
            ),
            (
                WaitReason::FilesInUse {
                    files: vec!["a".into(), "b".into()],
                    count: 5,
                },
                "5 файлов заняты другой программой (a, b и ещё 3)",
            ),
            (
                WaitReason::FilesInUse {
                    files: vec!["a.docx".into()],
                    count: 1,
                },
                "1 файл занят другой программой (a.docx)",
            ),
            (
                WaitReason::Stalled { for_secs: 360 },
                "зависло: нет продвижения уже 6 мин",
            ),
        ];
        for (w, want) in cases {
            assert_eq!(describe_wait_in(ru, &w, now), want);
        }
        let p = three_files_in_transfer();
        assert_eq!(
            describe_progress_in(ru, &p),
            "осталось 3 файла, 12,0 МБ · 1,0 МБ/с · ещё 12 с · docs/report.pdf"
        );
        let off = SyncStatus {
            state: SyncState::Offline,
            waiting: Some(WaitReason::Offline { retry_at: 60 }),
            ..Default::default()
        };
        assert_eq!(
            describe_status_in(ru, &off, 0),
            "Нет связи, повтор через 1 мин"
        );
    }

    /// Every wait reason and state has a Russian text that is not the English one.
    #[test]
    fn no_russian_line_falls_back_to_english() {
        let reasons = [
            WaitReason::Paused,
            WaitReason::Offline { retry_at: 5 },
            WaitReason::RateLimited { retry_at: 5 },
            WaitReason::PageBusy { retry_at: 5 },
            WaitReason::LocalError { retry_at: 5 },
            WaitReason::FilesInUse {
                files: vec!["x".into()],
                count: 2,
            },
            WaitReason::WaitingForLock,
            WaitReason::Queued,
            WaitReason::Stalled { for_secs: 5 },
        ];
        for w in reasons {
            let ru = describe_wait_in(Lang::Ru, &w, 0);
            assert_ne!(ru, describe_wait_in(Lang::En, &w, 0));
            assert!(ru.chars().any(|c| ('а'..='я').contains(&c)), "{ru}");
        }
        for state in [
            SyncState::Idle,
            SyncState::Syncing,
            SyncState::Paused,
            SyncState::Error,
            SyncState::Offline,
        ] {
            assert_ne!(
                describe_state_in(Lang::Ru, state),
                describe_state_in(Lang::En, state)
            );
        }
    }
}
