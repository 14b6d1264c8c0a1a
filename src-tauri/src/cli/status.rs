//! `status`.

use crate::i18n::{lang, t, tr, Lang, Msg};
use anyhow::Result;

use tunnel_core::events::{SyncEvent, SyncState, WatchMode};

use tunnel_core::progress::text::{describe_progress_in, describe_status_in, describe_wait_in};

use super::output::human_bytes;
use super::{exit, Context};

pub async fn run_status(ctx: &Context) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    let folders = app.folders()?;
    let live = crate::app::control::request(
        &app.paths.socket_path(),
        &crate::app::control::ControlRequest::Status,
    )
    .await
    .ok()
    .flatten()
    .and_then(|r| r.status);
    let recent = app
        .with_journal(|j| Ok(tunnel_core::activity::recent(j, RECENT_SHOWN)?))
        .unwrap_or_default();
    // Names from other devices that the last sync of each folder could not store here.
    let cannot_store = |id: tunnel_core::ids::FolderId| {
        app.with_journal(|j| Ok(tunnel_core::name_rules::stored_unstorable(j, id)?))
            .unwrap_or_default()
    };
    // The attachment size each folder's page accepts, when a refusal taught it.
    let upload_limit = |f: &tunnel_core::journal::FolderRecord| {
        app.with_journal(|j| Ok(tunnel_core::upload_limit::stored(j, &f.page_id)?))
            .ok()
            .flatten()
    };
    // What the page's history costs (bytes only history keeps), as last measured.
    let history_bytes = |f: &tunnel_core::journal::FolderRecord| {
        app.with_journal(|j| Ok(tunnel_core::sync::stored_history_bytes(j, f.id)?))
            .ok()
            .flatten()
    };
    // Ahead of the personal access token's expiry, where the server says when.
    let token_notice = crate::app::page_care::token_notice_for(&app).await;
    // What the running service says about a folder (progress, why it waits).
    let live_folder = |f: &tunnel_core::journal::FolderRecord| {
        live.as_ref()
            .and_then(|s| s.folders.iter().find(|l| l.path == f.path))
    };
    if ctx.json {
        let rows: Vec<_> = folders
            .iter()
            .map(|f| {
                serde_json::json!({
                    "path": f.path, "page_id": f.page_id, "paused": f.paused,
                    "last_sync_at": f.last_sync_at, "last_error": f.last_error,
                    "remote_seq": f.seq, "present": f.path.is_dir(),
                    "cannot_store": cannot_store(f.id),
                    "upload_limit": upload_limit(f),
                    "progress": live_folder(f).and_then(|l| l.progress.clone()),
                    "waiting": live_folder(f).and_then(|l| l.waiting.clone()),
                    "history_bytes": history_bytes(f),
                    "history_keep_days": app.config.sync.history_keep_days_for(&f.path),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "url": app.config.remote.url, "user": app.config.remote.username,
                "device": app.config.device.id, "config_dir": app.paths.config_dir,
                "folders": rows,
                "service": live,
                "recent": recent,
                "token_notice": token_notice,
            })
        );
        return Ok(exit::OK);
    }
    println!(
        "{}",
        tr(Msg::CliConfluence, &[("url", &app.config.remote.url)])
    );
    if let Some(u) = &app.config.remote.username {
        println!("{}", tr(Msg::CliUser, &[("user", u)]));
    }
    println!(
        "{}",
        tr(Msg::CliDevice, &[("device", &app.config.device.id)])
    );
    if let Some(n) = &token_notice {
        println!(
            "{}",
            t!(
                StatusToken,
                message = crate::i18n::token::message(n, lang())
            )
        );
    }
    println!(
        "{}",
        tr(Msg::CliConfig, &[("path", &app.paths.config_dir.display())])
    );
    let now = tunnel_core::clock::unix_now();
    match &live {
        Some(s) => println!(
            "{}",
            t!(
                StatusServiceRunning,
                status = describe_status_in(lang(), s, now)
            )
        ),
        None => println!("{}", tr(Msg::CliServiceStopped, &[])),
    }
    if let Some(t) = live.as_ref().and_then(|s| s.transfer.as_ref()) {
        println!(
            "{}",
            t!(
                StatusTransfer,
                files_done = t.files_done,
                files_total = t.files_total,
                bytes_done = human_bytes(t.bytes_done),
                bytes_total = human_bytes(t.bytes_total)
            )
        );
    }
    if let Some(at) = live.as_ref().and_then(|s| s.next_poll_at) {
        println!("{}", t!(StatusNextCheck, when = until(lang(), at)));
    }
    let sync = &app.config.sync;
    if sync.upload_limit_kib_per_sec > 0 || sync.download_limit_kib_per_sec > 0 {
        let rate = |kib: u64| match kib {
            0 => t!(StatusUnlimited),
            k => t!(StatusRate, kib = k),
        };
        println!(
            "{}",
            t!(
                StatusLimits,
                up = rate(sync.upload_limit_kib_per_sec),
                down = rate(sync.download_limit_kib_per_sec)
            )
        );
    }
    if folders.is_empty() {
        println!("{}", tr(Msg::CliNoFolders, &[]));
    }
    for f in &folders {
        let running = live
            .as_ref()
            .and_then(|s| s.folders.iter().find(|l| l.path == f.path));
        let state = if !f.path.is_dir() {
            t!(FolderMissing)
        } else if let Some(l) = running.filter(|l| l.state == SyncState::Syncing) {
            match l
                .progress
                .as_ref()
                .filter(|p| p.files_to_go + p.bytes_to_go > 0)
            {
                None => t!(FolderSyncing),
                Some(p) => t!(
                    FolderSyncingProgress,
                    progress = describe_progress_in(lang(), p)
                ),
            }
        } else if let Some(e) = running.and_then(|l| l.last_error.as_ref()) {
            t!(FolderError, message = e)
        } else if f.paused {
            t!(FolderPaused)
        } else if let Some(e) = &f.last_error {
            t!(FolderError, message = e)
        } else if let Some(at) = f.last_sync_at {
            t!(FolderSynced, ago = ago(lang(), at))
        } else {
            t!(FolderNotSynced)
        };
        let watch = match running.map(|l| l.watch) {
            Some(Some(WatchMode::Polling)) => t!(
                FolderPolling,
                secs = tunnel_core::watch::POLL_FALLBACK_INTERVAL.as_secs()
            ),
            Some(None) if f.path.is_dir() => t!(FolderNotWatched),
            _ => String::new(),
        };
        println!(
            "{}",
            t!(
                FolderLine,
                path = f.path.display(),
                page = f.page_id,
                state = state,
                watch = watch
            )
        );
        if let Some(w) = running.and_then(|l| l.waiting.as_ref()) {
            println!(
                "{}",
                t!(FolderWaiting, reason = describe_wait_in(lang(), w, now))
            );
        }
        if let Some(l) = running.filter(|l| !l.in_use.is_empty()) {
            println!(
                "{}",
                t!(
                    FolderInUse,
                    count = l.in_use.len(),
                    files = l.in_use.join(", ")
                )
            );
        }
        if let Some(l) = upload_limit(f) {
            println!(
                "{}",
                t!(
                    FolderUploadLimit,
                    size = human_bytes(l.bytes),
                    source = if l.reported {
                        t!(LimitNamed)
                    } else {
                        t!(LimitLearned)
                    }
                )
            );
        }
        if let Some(b) = history_bytes(f) {
            println!(
                "{}",
                t!(
                    StatusHistoryCost,
                    size = human_bytes(b),
                    days = app.config.sync.history_keep_days_for(&f.path)
                )
            );
        }
        let unstorable = cannot_store(f.id);
        if !unstorable.is_empty() {
            println!("{}", t!(FolderUnstorable, count = unstorable.len()));
            for u in unstorable.iter().take(UNSTORABLE_SHOWN) {
                println!("      {}  ({})", u.path, unstorable_reason(lang(), u));
            }
            if unstorable.len() > UNSTORABLE_SHOWN {
                println!(
                    "{}",
                    t!(
                        FolderUnstorableMore,
                        count = unstorable.len() - UNSTORABLE_SHOWN
                    )
                );
            }
        }
    }
    if !recent.is_empty() {
        println!("{}", tr(Msg::CliRecent, &[]));
        for e in &recent {
            println!("  {:>10}  {}", ago(lang(), e.at), describe(&e.event));
        }
    }
    Ok(exit::OK)
}

/// Names that cannot be stored here that `status` lists per folder (--json lists all).
const UNSTORABLE_SHOWN: usize = 10;

/// History lines `status` shows.
const RECENT_SHOWN: usize = 5;

/// One history event for a person.
fn describe(event: &SyncEvent) -> String {
    let name = |folder: &std::path::Path| {
        folder
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| folder.display().to_string())
    };
    match event {
        SyncEvent::Uploaded {
            folder,
            path,
            bytes,
        } => t!(
            RecentSent,
            path = format!("{}/{path}", name(folder)),
            size = human_bytes(*bytes)
        ),
        SyncEvent::Downloaded {
            folder,
            path,
            bytes,
        } => t!(
            RecentReceived,
            path = format!("{}/{path}", name(folder)),
            size = human_bytes(*bytes)
        ),
        SyncEvent::Deleted {
            folder,
            path,
            remote: true,
        } => t!(
            RecentDeletionSent,
            path = format!("{}/{path}", name(folder))
        ),
        SyncEvent::Deleted { folder, path, .. } => {
            t!(RecentDeletedHere, path = format!("{}/{path}", name(folder)))
        }
        SyncEvent::Conflict { folder, path, copy } => t!(
            RecentConflict,
            path = format!("{}/{path}", name(folder)),
            copy = copy
        ),
        SyncEvent::Failed {
            folder, message, ..
        } => t!(RecentFailed, folder = name(folder), message = message),
        other => format!("{other:?}"),
    }
}

fn until(lang: Lang, unix: i64) -> String {
    let (msg, n) = match unix - tunnel_core::clock::unix_now() {
        ..=0 => return Msg::TimeNow.text(lang).to_string(),
        s @ 1..=119 => (Msg::TimeInSecs, s),
        s => (Msg::TimeInMin, s / 60),
    };
    msg.render(lang, &[("n", &n)])
}

fn ago(lang: Lang, unix: i64) -> String {
    let now = tunnel_core::clock::unix_now();
    let s = (now - unix).max(0);
    let (msg, n) = match s {
        0..=59 => (Msg::AgoSecs, s),
        60..=3599 => (Msg::AgoMin, s / 60),
        3600..=86399 => (Msg::AgoHours, s / 3600),
        _ => (Msg::AgoDays, s / 86400),
    };
    msg.render(lang, &[("n", &n)])
}

/// Why a name cannot be stored here, in `lang` where its kind is known (the core's English
/// words otherwise: a case clash names the other path).
fn unstorable_reason(lang: Lang, u: &tunnel_core::events::UnstorableName) -> String {
    let msg = match u.kind.as_str() {
        "control-character" => Msg::UnstorableControl,
        "forbidden-character" => Msg::UnstorableForbidden,
        "trailing-dot-or-space" => Msg::UnstorableTrailing,
        "reserved-device-name" => Msg::UnstorableDevice,
        _ => return u.reason.clone(),
    };
    msg.render(lang, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_a_name_cannot_be_stored_are_the_cores_words_in_english_and_russian_in_russian() {
        for name in ["a\u{1}b", "a?b", "a.", "NUL.txt"] {
            let why = tunnel_core::name_rules::windows_reserved_reason(name).expect("refused");
            let u = tunnel_core::events::UnstorableName {
                path: name.into(),
                reason: why.into(),
                kind: tunnel_core::name_rules::reserved_reason_kind(why).into(),
            };
            assert_eq!(unstorable_reason(Lang::En, &u), why, "{name:?}");
            let ru = unstorable_reason(Lang::Ru, &u);
            assert!(
                ru != why && ru.chars().any(|c| ('а'..='я').contains(&c)),
                "{ru}"
            );
        }
        let older = tunnel_core::events::UnstorableName {
            path: "x".into(),
            reason: "stored by an older version".into(),
            kind: String::new(),
        };
        assert_eq!(
            unstorable_reason(Lang::Ru, &older),
            "stored by an older version"
        );
    }

    #[test]
    fn times_to_come_read_naturally() {
        let now = tunnel_core::clock::unix_now();
        assert_eq!(until(Lang::En, now - 5), "now");
        let soon = until(Lang::En, now + 30);
        assert!(soon.starts_with("in "), "{soon}");
        assert_eq!(until(Lang::En, now + 600), "in 10 min");
        assert_eq!(until(Lang::Ru, now + 600), "через 10 мин");
        assert_eq!(ago(Lang::Ru, now - 7200), "2 ч назад");
    }
}
