//! `history PATH`: the retained versions of a file or folder on the page — when, which
//! device, size and what happened. The numbers it shows are what `restore --version` takes.
//! Also the helpers `restore` shares: what a path names and how a time is written.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use clap::Args;

use tunnel_core::journal::FolderRecord;
use tunnel_core::rel_path::RelPath;
use tunnel_core::sync::PathVersion;

use super::folder_args::paths_in_folders;
use super::output::human_bytes;
use super::{exit, Context};
use crate::app::app_error::AppError;
use crate::app::opened_config::OpenedConfig;
use crate::i18n::t;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// A file or folder inside a synced folder (or the synced folder itself).
    pub path: PathBuf,
}

pub async fn run(ctx: &Context, args: HistoryArgs) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    let (folder, rel) = resolve_path(&app, &args.path)?;
    let client = app.client().context(t!(CtxPreparing))?;
    let store = client.store(folder.page_id.as_str());
    let versions = app
        .syncer()
        .path_history(folder.id, &store, rel.as_ref())
        .await
        .with_context(|| t!(HistCtxReading, path = args.path.display()))?;
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
        println!("{}", t!(HistNone, path = args.path.display()));
        return Ok(exit::OK);
    }
    let is_file = versions.iter().any(|v| v.version.is_some());
    println!(
        "{:>8}  {:<20}  {:<16}  {:<9}  {:>10}  {}",
        if is_file {
            t!(HistColVersion)
        } else {
            t!(HistColCommit)
        },
        t!(HistColTime),
        t!(HistColDevice),
        t!(HistColChange),
        t!(HistColSize),
        t!(HistColDetails),
    );
    for v in &versions {
        print_row(v, is_file);
    }
    println!("{}", t!(HistHint, path = args.path.display()));
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
        t!(
            HistFolderDetails,
            files = v.files,
            created = v.created,
            modified = v.modified,
            deleted = v.deleted
        )
    };
    println!(
        "{:>8}  {:<20}  {:<16}  {:<9}  {:>10}  {}",
        number,
        local_time_text(v.time_ms),
        v.device,
        action_text(&v.action),
        human_bytes(v.size),
        details
    );
}

/// A version's change in the reader's language (the machine word for an unknown one).
fn action_text(action: &str) -> String {
    match action {
        "changed" => t!(HistActChanged),
        "created" => t!(HistActCreated),
        "deleted" => t!(HistActDeleted),
        "modified" => t!(HistActModified),
        other => other.to_owned(),
    }
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
        0 => Err(AppError::invalid(t!(SelNotInside, path = path.display())).into()),
        1 => {
            let (f, rel) = found.remove(0);
            let rel = RelPath::new(&rel)
                .map_err(|e| AppError::invalid(format!("{}: {e}", path.display())))?;
            Ok((f, Some(rel)))
        }
        _ => Err(AppError::invalid(t!(HistSeveral, path = path.display())).into()),
    }
}

/// A time as people write it (see [`tunnel_core::local_time::parse_time`]), in ms since the
/// Unix epoch; refused input (exit 2) when it cannot be read.
pub fn parse_time(text: &str) -> Result<i64> {
    tunnel_core::local_time::parse_time(text).map_err(|e| AppError::invalid(e).into())
}

pub use tunnel_core::local_time::local_time_text;
