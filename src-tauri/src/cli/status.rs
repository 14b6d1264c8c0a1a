//! `status` and `conflicts`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::{exit, Context};

#[derive(Debug, Args)]
pub struct ConflictsArgs {
    /// Only this folder.
    pub path: Option<PathBuf>,
}

pub async fn run_status(ctx: &Context) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    let folders = app.folders()?;
    let live = crate::service::request(
        &app.paths.socket_path(),
        &crate::service::ControlRequest::Status,
    )
    .await
    .ok()
    .flatten()
    .and_then(|r| r.status);
    if ctx.json {
        let rows: Vec<_> = folders
            .iter()
            .map(|f| {
                serde_json::json!({
                    "path": f.path, "page_id": f.page_id, "paused": f.paused,
                    "last_sync_at": f.last_sync_at, "last_error": f.last_error,
                    "remote_seq": f.seq, "present": f.path.is_dir(),
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
            })
        );
        return Ok(exit::OK);
    }
    println!("Confluence: {}", app.config.remote.url);
    if let Some(u) = &app.config.remote.username {
        println!("User:       {u}");
    }
    println!("Device:     {}", app.config.device.id);
    println!("Config:     {}", app.paths.config_dir.display());
    match &live {
        Some(s) => println!(
            "Service:    running ({}{})",
            serde_json::to_value(s.state)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            s.message
                .as_ref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ),
        None => println!("Service:    not running (start it with `sber-tunnel start`)"),
    }
    if folders.is_empty() {
        println!("No folders yet. Add one with `sber-tunnel add <folder>`.");
    }
    for f in &folders {
        let state = if !f.path.is_dir() {
            "MISSING".to_string()
        } else if f.paused {
            "paused".to_string()
        } else if let Some(e) = &f.last_error {
            format!("error: {e}")
        } else if let Some(t) = f.last_sync_at {
            format!("synced {}", ago(t))
        } else {
            "not synced yet".to_string()
        };
        println!("  {}  (page {})  {}", f.path.display(), f.page_id, state);
    }
    Ok(exit::OK)
}

pub async fn run_conflicts(ctx: &Context, args: ConflictsArgs) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    let mut found = Vec::new();
    for f in app.folders()? {
        if let Some(p) = &args.path {
            let p = std::fs::canonicalize(p).unwrap_or(p.clone());
            if f.path != p {
                continue;
            }
        }
        let base = app.with_journal(|j| Ok(j.base(f.id)?))?;
        for path in base.keys() {
            if path.as_str().contains(" (conflict from ") {
                found.push(f.path.join(path.as_str()));
            }
        }
    }
    if ctx.json {
        println!("{}", serde_json::json!({ "conflicts": found }));
    } else if found.is_empty() {
        println!("No conflict copies.");
    } else {
        for p in &found {
            println!("{}", p.display());
        }
    }
    Ok(exit::OK)
}

fn ago(unix: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(unix);
    let s = (now - unix).max(0);
    match s {
        0..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86399 => format!("{} h ago", s / 3600),
        _ => format!("{} days ago", s / 86400),
    }
}
