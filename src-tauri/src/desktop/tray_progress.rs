//! The progress part of the tray's one line: to the headline ("Syncing 3 of 10 files (25%)",
//! "Offline — will retry") it adds the speed, the time left and the file in transfer while a
//! sync runs, and why the service waits (the server's rate limit and when it is tried again,
//! files in use, a stall) — the same words as the CLI's `status`
//! ([`tunnel_core::progress::text`]).

use tunnel_core::events::{SyncState, SyncStatus};
use tunnel_core::progress::text::{describe_wait_in, format_bytes_in, format_duration_in};
use tunnel_core::progress::WaitReason;

use crate::i18n::{Lang, Msg};

/// Longest tooltip (tooltips wrap or cut long text on every desktop; menu lines are shorter).
pub const MAX_TOOLTIP_CHARS: usize = 120;

/// `headline` with what the status adds about progress and waiting, at `now` (unix seconds),
/// in `lang`.
pub fn with_progress(lang: Lang, headline: String, status: &SyncStatus, now: i64) -> String {
    let describe_wait = |w: &WaitReason, now: i64| describe_wait_in(lang, w, now);
    let format_bytes = |n: u64| format_bytes_in(lang, n);
    let mut line = match (status.state, &status.waiting) {
        // The reason says more than "Offline — will retry": which limit, and until when.
        (SyncState::Offline, Some(w)) => capitalized(&describe_wait(w, now)),
        _ => headline,
    };
    // The reason first: a long line is cut at the end, and why it waits matters most.
    match (&status.waiting, status.state) {
        (Some(WaitReason::Paused) | Some(WaitReason::Queued), _) | (None, _) => {}
        (Some(_), SyncState::Offline | SyncState::Error) => {}
        (Some(w), _) => line.push_str(&format!(" — {}", describe_wait(w, now))),
    }
    if let (SyncState::Syncing, Some(p)) = (status.state, &status.progress) {
        if p.bytes_to_go > 0 {
            let size = format_bytes(p.bytes_to_go);
            line.push_str(&format!(
                " · {}",
                Msg::TipToGo.render(lang, &[("size", &size)])
            ));
        }
        if let Some(r) = p.bytes_per_sec.filter(|r| *r > 0) {
            let rate = format_bytes(r);
            line.push_str(&format!(
                " · {}",
                Msg::TipRate.render(lang, &[("rate", &rate)])
            ));
        }
        if let Some(eta) = p.eta_secs.filter(|_| p.bytes_to_go > 0) {
            let time = format_duration_in(lang, eta);
            line.push_str(&format!(
                " · {}",
                Msg::TipLeft.render(lang, &[("time", &time)])
            ));
        }
        if let Some(f) = &p.current_file {
            line.push_str(&format!(" · {f}"));
        }
    }
    line
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desktop::tray::TrayView;
    use tunnel_core::events::TransferProgress;
    use tunnel_core::progress::ProgressReport;

    fn syncing() -> SyncStatus {
        SyncStatus {
            state: SyncState::Syncing,
            transfer: Some(TransferProgress {
                files_done: 1,
                files_total: 4,
                bytes_done: 1 << 20,
                bytes_total: 4 << 20,
                current: Some("report.pdf".into()),
            }),
            progress: Some(ProgressReport {
                files_to_go: 3,
                bytes_to_go: 3 << 20,
                files_done: 1,
                bytes_done: 1 << 20,
                bytes_per_sec: Some(1 << 20),
                eta_secs: Some(3),
                current_file: Some("report.pdf".into()),
            }),
            ..SyncStatus::default()
        }
    }

    #[test]
    fn the_tooltip_says_speed_time_left_and_the_file_in_one_line() {
        let view = TrayView::from_status_at(&syncing(), None, 0);
        assert_eq!(
            view.tooltip,
            "sber-tunnel — Syncing 1 of 4 files (25%) · 3.0 MiB to go · 1.0 MiB/s · 3 s left · report.pdf"
        );
    }

    #[test]
    fn a_stalled_sync_says_so_instead_of_spinning() {
        let mut s = syncing();
        s.waiting = Some(WaitReason::Stalled { for_secs: 420 });
        let view = TrayView::from_status_at(&s, None, 0);
        assert!(
            view.tooltip.starts_with(
                "sber-tunnel — Syncing 1 of 4 files (25%) — stalled: no progress for 7 min · "
            ),
            "the reason before the details, which a long line loses first: {}",
            view.tooltip
        );
    }

    #[test]
    fn offline_says_which_limit_and_when_it_tries_again() {
        let s = SyncStatus {
            state: SyncState::Offline,
            waiting: Some(WaitReason::RateLimited { retry_at: 1_090 }),
            ..SyncStatus::default()
        };
        let view = TrayView::from_status_at(&s, None, 1_000);
        assert_eq!(
            view.tooltip,
            "sber-tunnel — The server's rate limit, retrying in 1 min 30 s"
        );
        let s = SyncStatus {
            state: SyncState::Offline,
            waiting: Some(WaitReason::Offline { retry_at: 1_030 }),
            ..SyncStatus::default()
        };
        assert_eq!(
            TrayView::from_status_at(&s, None, 1_000).tooltip,
            "sber-tunnel — Offline, retrying in 30 s"
        );
    }

    #[test]
    fn files_in_use_follow_up_to_date() {
        let s = SyncStatus {
            state: SyncState::Idle,
            folders: vec![],
            waiting: Some(WaitReason::FilesInUse {
                files: vec!["a.docx".into()],
                count: 1,
            }),
            ..SyncStatus::default()
        };
        assert_eq!(
            with_progress(Lang::En, "Up to date".into(), &s, 0),
            "Up to date — 1 file in use by another program (a.docx)"
        );
    }

    #[test]
    fn the_russian_tooltip_has_no_english_word() {
        let view = TrayView::from_status_in(Lang::Ru, &syncing(), None, 0);
        assert_eq!(
            view.tooltip,
            "sber-tunnel — Синхронизация: 1 из 4 (25%) · осталось 3,0 МБ · 1,0 МБ/с · ещё 3 с · report.pdf"
        );
        let s = SyncStatus {
            state: SyncState::Offline,
            waiting: Some(WaitReason::RateLimited { retry_at: 1_090 }),
            ..SyncStatus::default()
        };
        assert_eq!(
            TrayView::from_status_in(Lang::Ru, &s, None, 1_000).tooltip,
            "sber-tunnel — Ограничение частоты запросов сервера, повтор через 1 мин 30 с"
        );
    }
}
