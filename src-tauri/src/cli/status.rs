//! `status`.

use crate::i18n::{tr, Msg};
use anyhow::Result;

use tunnel_core::events::{SyncEvent, SyncState, WatchMode};

use tunnel_core::progress::text::{describe_progress, describe_wait};

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
        println!("Token:      {}", n.message);
    }
    println!(
        "{}",
        tr(Msg::CliConfig, &[("path", &app.paths.config_dir.display())])
    );
    let now = tunnel_core::clock::unix_now();
    match &live {
        Some(s) => println!(
            "Service:    running ({})",
            tunnel_core::progress::text::describe_status(s, now)
        ),
        None => println!("{}", tr(Msg::CliServiceStopped, &[])),
    }
    if let Some(t) = live.as_ref().and_then(|s| s.transfer.as_ref()) {
        println!(
            "Transfer:   {} of {} files, {} of {}",
            t.files_done,
            t.files_total,
            human_bytes(t.bytes_done),
            human_bytes(t.bytes_total)
        );
    }
    if let Some(at) = live.as_ref().and_then(|s| s.next_poll_at) {
        println!("Next check: {}", until(at));
    }
    let sync = &app.config.sync;
    if sync.upload_limit_kib_per_sec > 0 || sync.download_limit_kib_per_sec > 0 {
        let rate = |kib: u64| match kib {
            0 => "unlimited".to_string(),
            k => format!("{k} KiB/s"),
        };
        println!(
            "Limits:     upload {}, download {}",
            rate(sync.upload_limit_kib_per_sec),
            rate(sync.download_limit_kib_per_sec)
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
            "MISSING".to_string()
        } else if let Some(l) = running.filter(|l| l.state == SyncState::Syncing) {
            match l
                .progress
                .as_ref()
                .filter(|p| p.files_to_go + p.bytes_to_go > 0)
            {
                None => "syncing".to_string(),
                Some(p) => format!("syncing ({})", describe_progress(p)),
            }
        } else if let Some(e) = running.and_then(|l| l.last_error.as_ref()) {
            format!("error: {e}")
        } else if f.paused {
            "paused".to_string()
        } else if let Some(e) = &f.last_error {
            format!("error: {e}")
        } else if let Some(t) = f.last_sync_at {
            format!("synced {}", ago(t))
        } else {
            "not synced yet".to_string()
        };
        let watch = match running.map(|l| l.watch) {
            Some(Some(WatchMode::Polling)) => format!(
                "  [local changes found by polling every {} s]",
                tunnel_core::watch::POLL_FALLBACK_INTERVAL.as_secs()
            ),
            Some(None) if f.path.is_dir() => {
                "  [not watched: local changes found by the periodic rescan]".to_string()
            }
            _ => String::new(),
        };
        println!(
            "  {}  (page {})  {}{watch}",
            f.path.display(),
            f.page_id,
            state
        );
        if let Some(w) = running.and_then(|l| l.waiting.as_ref()) {
            println!("    waiting: {}", describe_wait(w, now));
        }
        if let Some(l) = running.filter(|l| !l.in_use.is_empty()) {
            println!(
                "    {} file(s) in use by another program, tried again at the next check: {}",
                l.in_use.len(),
                l.in_use.join(", ")
            );
        }
        if let Some(l) = upload_limit(f) {
            println!(
                "    upload size limit: {} ({}); chunks and packs are cut to fit",
                human_bytes(l.bytes),
                if l.reported {
                    "named by the server"
                } else {
                    "learned from a proxy's refusals"
                }
            );
        }
        if let Some(b) = history_bytes(f) {
            println!(
                "    history on the page: {} kept only for restores ({} days)",
                human_bytes(b),
                app.config.sync.history_keep_days_for(&f.path)
            );
        }
        let unstorable = cannot_store(f.id);
        if !unstorable.is_empty() {
            println!(
                "    {} item(s) from other devices cannot be stored on this computer (left alone, not deleted):",
                unstorable.len()
            );
            for u in unstorable.iter().take(UNSTORABLE_SHOWN) {
                println!("      {}  ({})", u.path, u.reason);
            }
            if unstorable.len() > UNSTORABLE_SHOWN {
                println!(
                    "      … and {} more (status --json lists them all)",
                    unstorable.len() - UNSTORABLE_SHOWN
                );
            }
        }
    }
    if !recent.is_empty() {
        println!("{}", tr(Msg::CliRecent, &[]));
        for e in &recent {
            println!("  {:>10}  {}", ago(e.at), describe(&e.event));
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
        } => {
            format!("sent {}/{path} ({})", name(folder), human_bytes(*bytes))
        }
        SyncEvent::Downloaded {
            folder,
            path,
            bytes,
        } => {
            format!("received {}/{path} ({})", name(folder), human_bytes(*bytes))
        }
        SyncEvent::Deleted {
            folder,
            path,
            remote: true,
        } => format!("deletion of {}/{path} sent", name(folder)),
        SyncEvent::Deleted { folder, path, .. } => {
            format!("deleted {}/{path} here", name(folder))
        }
        SyncEvent::Conflict { folder, path, copy } => {
            format!(
                "conflict on {}/{path}; other version kept as {copy}",
                name(folder)
            )
        }
        SyncEvent::Failed {
            folder, message, ..
        } => format!("sync of {} failed: {message}", name(folder)),
        other => format!("{other:?}"),
    }
}

fn until(unix: i64) -> String {
    match unix - tunnel_core::clock::unix_now() {
        ..=0 => "now".to_string(),
        s @ 1..=119 => format!("in {s} s"),
        s => format!("in {} min", s / 60),
    }
}

fn ago(unix: i64) -> String {
    let now = tunnel_core::clock::unix_now();
    let s = (now - unix).max(0);
    match s {
        0..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86399 => format!("{} h ago", s / 3600),
        _ => format!("{} days ago", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_to_come_read_naturally() {
        let now = tunnel_core::clock::unix_now();
        assert_eq!(until(now - 5), "now");
        assert!(until(now + 30).starts_with("in "), "{}", until(now + 30));
        assert_eq!(until(now + 600), "in 10 min");
    }
}
