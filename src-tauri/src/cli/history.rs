//! `history PATH`: the retained versions of a file or folder on the page — when, which
//! device, size and what happened. The numbers it shows are what `restore --version` takes.
//! Also the helpers `restore` shares: what a path names and how a time is written.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use clap::Args;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use tunnel_core::journal::FolderRecord;
use tunnel_core::rel_path::RelPath;
use tunnel_core::sync::PathVersion;

use super::folder_args::paths_in_folders;
use super::output::human_bytes;
use super::{exit, Context};
use crate::app::app_error::AppError;
use crate::app::opened_config::OpenedConfig;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// A file or folder inside a synced folder (or the synced folder itself).
    pub path: PathBuf,
}

pub async fn run(ctx: &Context, args: HistoryArgs) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    let (folder, rel) = resolve_path(&app, &args.path)?;
    let client = app.client().context("preparing the connection")?;
    let store = client.store(folder.page_id.as_str());
    let versions = app
        .syncer()
        .path_history(folder.id, &store, rel.as_ref())
        .await
        .with_context(|| format!("while reading the history of {}", args.path.display()))?;
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({
                "folder": folder.path,
                "path": rel.as_ref().map(|r| r.as_str()),
                "versions": versions,
            })
        );
        return Ok(exit::OK);
    }
    if versions.is_empty() {
        println!("No retained versions of {}.", args.path.display());
        return Ok(exit::OK);
    }
    let is_file = versions.iter().any(|v| v.version.is_some());
    println!(
        "{:>8}  {:<20}  {:<16}  {:<9}  {:>10}  Details",
        if is_file { "Version" } else { "Commit" },
        "Time",
        "Device",
        "Change",
        "Size"
    );
    for v in &versions {
        print_row(v, is_file);
    }
    println!(
        "Restore one with `sber-tunnel restore {} --version N` or `--at TIME`.",
        args.path.display()
    );
    Ok(exit::OK)
}

fn print_row(v: &PathVersion, is_file: bool) {
    let number = if is_file {
        v.version.unwrap_or(v.seq)
    } else {
        v.seq
    };
    let details = if is_file {
        String::new()
    } else {
        format!(
            "{} file(s); +{} ~{} -{}",
            v.files, v.created, v.modified, v.deleted
        )
    };
    println!(
        "{:>8}  {:<20}  {:<16}  {:<9}  {:>10}  {}",
        number,
        local_time_text(v.time_ms),
        v.device,
        v.action,
        human_bytes(v.size),
        details
    );
}

/// The synced folder and the path inside it (`None`: the folder itself) that `path` names.
pub fn resolve_path(app: &OpenedConfig, path: &Path) -> Result<(FolderRecord, Option<RelPath>)> {
    let canonical = std::fs::canonicalize(path).ok();
    if let Some(c) = &canonical {
        if let Some(f) = app.folders()?.into_iter().find(|f| &f.path == c) {
            return Ok((f, None));
        }
    }
    let mut found = paths_in_folders(app, path)?;
    match found.len() {
        0 => Err(AppError::invalid(format!(
            "{} is not inside a synced folder (see `sber-tunnel status`)",
            path.display()
        ))
        .into()),
        1 => {
            let (f, rel) = found.remove(0);
            let rel = RelPath::new(&rel)
                .map_err(|e| AppError::invalid(format!("{}: {e}", path.display())))?;
            Ok((f, Some(rel)))
        }
        _ => Err(AppError::invalid(format!(
            "{} names a path in several synced folders; give its full path",
            path.display()
        ))
        .into()),
    }
}

/// A time as people write it: RFC 3339 (`2026-03-01T14:30:00+03:00`, `…Z`), or local
/// `YYYY-MM-DD HH:MM[:SS]` (also with a `T`), or a local date alone (its midnight).
/// Returns ms since the Unix epoch.
pub fn parse_time(text: &str) -> Result<i64> {
    let t = text.trim();
    if let Ok(dt) = OffsetDateTime::parse(t, &Rfc3339) {
        return Ok(millis(dt));
    }
    let normal = t.replacen('T', " ", 1);
    let with_seconds = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let minutes = format_description!("[year]-[month]-[day] [hour]:[minute]");
    let day = format_description!("[year]-[month]-[day]");
    let local = PrimitiveDateTime::parse(&normal, with_seconds)
        .or_else(|_| PrimitiveDateTime::parse(&normal, minutes))
        .or_else(|_| {
            time::Date::parse(&normal, day).map(|d| d.with_time(time::Time::MIDNIGHT))
        })
        .map_err(|_| {
            AppError::invalid(format!(
                "cannot read the time {text:?}: write it as 2026-03-01T14:30:00+03:00 (RFC 3339) \
                 or as local time 2026-03-01 14:30"
            ))
        })?;
    let offset = local_offset_at(local.assume_utc());
    Ok(millis(local.assume_offset(offset)))
}

fn millis(dt: OffsetDateTime) -> i64 {
    i64::try_from(dt.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// This machine's offset from UTC around `at` (UTC when the system does not say).
fn local_offset_at(at: OffsetDateTime) -> UtcOffset {
    UtcOffset::local_offset_at(at).unwrap_or(UtcOffset::UTC)
}

/// `2026-03-01 14:30:05` in local time (`?` for a time that cannot be shown).
pub fn local_time_text(ms: i64) -> String {
    let Ok(utc) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return "?".into();
    };
    let local = utc.to_offset(local_offset_at(utc));
    local
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]"
        ))
        .unwrap_or_else(|_| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_in_rfc_3339_and_local_forms() {
        assert_eq!(
            parse_time("2026-03-01T14:30:00Z").unwrap(),
            1_772_375_400_000,
            "RFC 3339 in UTC"
        );
        assert_eq!(
            parse_time("2026-03-01T17:30:00+03:00").unwrap(),
            1_772_375_400_000,
            "RFC 3339 with an offset is the same instant"
        );
        let local = parse_time("2026-03-01 14:30").unwrap();
        let offset = local_offset_at(OffsetDateTime::from_unix_timestamp(1_772_375_400).unwrap());
        assert_eq!(
            local + i64::from(offset.whole_seconds()) * 1000,
            1_772_375_400_000,
            "a local time is shifted by this machine's offset"
        );
        assert_eq!(
            parse_time("2026-03-01 14:30:59").unwrap(),
            local + 59_000
        );
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("2026-13-01 10:00").is_err());
    }
}
