//! `restore`: a file, a subtree or the whole folder as it was at a time (`--at`) or a version
//! from `history` (`--version`), into place — the restored content then syncs to every device
//! as an ordinary change, and what it replaced waits in the local trash — or into another
//! folder (`--to`). `--dry-run` lists what would change and writes nothing.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;

use tunnel_core::sync::{RestoreReport, RestoreTarget, VersionPick};

use super::history::{local_time_text, parse_time, resolve_path};
use super::{exit, Context};
use crate::app::app_error::AppError;
use crate::i18n::t;

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The file or folder to restore (inside a synced folder).
    #[arg(required_unless_present = "folder", conflicts_with = "folder")]
    pub path: Option<PathBuf>,
    /// Restore this whole synced folder.
    #[arg(long, value_name = "FOLDER")]
    pub folder: Option<PathBuf>,
    /// As it was at this time: RFC 3339 (2026-03-01T14:30:00+03:00) or local
    /// "2026-03-01 14:30".
    #[arg(
        long,
        value_name = "TIME",
        required_unless_present = "version",
        conflicts_with = "version"
    )]
    pub at: Option<String>,
    /// This version as `history` lists it (a file's version, or a folder's commit).
    #[arg(long, value_name = "N")]
    pub version: Option<u64>,
    /// Write into this folder instead of into place (nothing there is overwritten).
    #[arg(long, value_name = "DIR")]
    pub to: Option<PathBuf>,
    /// Only list what would change.
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(ctx: &Context, args: RestoreArgs) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    let named = args
        .folder
        .as_ref()
        .or(args.path.as_ref())
        .ok_or_else(|| AppError::invalid(t!(RestGiveWhat)))?;
    let (folder, rel) = resolve_path(&app, named)?;
    if args.folder.is_some() && rel.is_some() {
        return Err(AppError::invalid(t!(RestNotFolder, path = named.display())).into());
    }
    let pick = match (&args.at, args.version) {
        (Some(t), _) => VersionPick::At(parse_time(t)?),
        (None, Some(n)) => VersionPick::Version(n),
        (None, None) => return Err(AppError::invalid(t!(RestGiveWhen)).into()),
    };
    let target = match &args.to {
        None => RestoreTarget::InPlace,
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| t!(CtxCreating, path = dir.display()))?;
            let dir =
                std::fs::canonicalize(dir).with_context(|| t!(CtxReading, path = dir.display()))?;
            if dir.starts_with(&folder.path) {
                return Err(AppError::invalid(t!(RestToInside, path = dir.display())).into());
            }
            RestoreTarget::Into(dir)
        }
    };
    let client = app.client().context(t!(CtxPreparing))?;
    let store = client.store(folder.page_id.as_str());
    let report = app
        .syncer()
        .restore(folder.id, &store, rel.as_ref(), pick, &target, args.dry_run)
        .await
        .with_context(|| t!(RestCtx, path = named.display()))?;
    if ctx.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(exit::OK);
    }
    print_report(&report, matches!(target, RestoreTarget::InPlace));
    Ok(exit::OK)
}

fn print_report(r: &RestoreReport, in_place: bool) {
    let time = local_time_text(r.time_ms);
    if r.dry_run {
        println!("{}", t!(RestWould, seq = r.seq, time = time));
    } else {
        println!("{}", t!(RestDone, seq = r.seq, time = time));
    }
    let mut changed = 0;
    for c in &r.changes {
        let what = match c.change.as_str() {
            "write" => t!(RestWrite),
            "create-folder" => t!(RestCreateFolder),
            "remove" => t!(RestToTrash),
            "exists" => t!(RestExists),
            _ => continue,
        };
        changed += 1;
        println!("  {:<20} {}", what, c.target.display());
    }
    if changed == 0 {
        println!("{}", t!(RestNothing));
    } else if in_place && !r.dry_run {
        println!("{}", t!(RestNext));
    }
}
