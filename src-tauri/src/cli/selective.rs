//! `exclude`, `include`, `excluded`: selective sync (issue 17 item 1). Choose which subfolders
//! of a synced folder live on this computer. An excluded path is never downloaded here and
//! never deleted elsewhere because it is missing here; this computer's copies leave at the
//! next sync (a file changed or made here is sent first); `include` brings it back at the next
//! sync. The choice is this device's own (kept in its journal).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use clap::Args;

use tunnel_core::journal::FolderRecord;
use tunnel_core::rel_path::RelPath;
use tunnel_core::selective::{self, ExcludeOutcome, IncludeOutcome};

use super::output::human_bytes;
use super::{exit, Context};
use crate::app::app_error::AppError;
use crate::app::opened_config::OpenedConfig;
use crate::i18n::t;

#[derive(Debug, Args)]
pub struct PathArgs {
    /// A folder or file inside a synced folder (absolute, from here, or relative to the synced
    /// folder when there is only one). It need not exist yet.
    pub path: PathBuf,
}

#[derive(Debug, Args)]
pub struct ExcludedArgs {
    /// Only this synced folder.
    pub folder: Option<PathBuf>,
}

pub async fn run_exclude(ctx: &Context, args: PathArgs) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    let (folder, rel) = locate(&app, &args.path)?;
    let outcome = app.with_journal(|j| {
        selective::exclude_path(j, &folder, &rel).context(t!(CtxStoreExcluded))
    })?;
    let changed = matches!(outcome, ExcludeOutcome::Excluded { .. });
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({
                "folder": folder.path,
                "path": rel,
                "changed": changed,
                "covered_by": match &outcome {
                    ExcludeOutcome::AlreadyExcluded { by } => Some(by),
                    ExcludeOutcome::Excluded { .. } => None,
                },
            })
        );
        return Ok(exit::OK);
    }
    match outcome {
        ExcludeOutcome::Excluded { .. } => println!(
            "{}",
            t!(SelExcluded, path = folder.path.join(rel.as_str()).display())
        ),
        ExcludeOutcome::AlreadyExcluded { by } => println!(
            "{}",
            t!(
                SelAlreadyExcluded,
                path = folder.path.join(rel.as_str()).display(),
                by = by
            )
        ),
    }
    Ok(exit::OK)
}

pub async fn run_include(ctx: &Context, args: PathArgs) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    let (folder, rel) = locate(&app, &args.path)?;
    let outcome = app.with_journal(|j| {
        selective::include_path(j, &folder, &rel).context(t!(CtxStoreIncluded))
    })?;
    if ctx.json {
        let (changed, still_excluded) = match &outcome {
            IncludeOutcome::Included { .. } => (true, Vec::new()),
            IncludeOutcome::Split { excluded, .. } => (true, excluded.clone()),
            IncludeOutcome::NotExcluded => (false, Vec::new()),
        };
        println!(
            "{}",
            serde_json::json!({
                "folder": folder.path,
                "path": rel,
                "changed": changed,
                "still_excluded": still_excluded,
            })
        );
        return Ok(exit::OK);
    }
    let shown = folder.path.join(rel.as_str());
    match outcome {
        IncludeOutcome::Included { .. } => {
            println!("{}", t!(SelIncluded, path = shown.display()))
        }
        IncludeOutcome::Split { from, excluded } => {
            println!(
                "{}",
                t!(SelIncludedSplit, path = shown.display(), from = from)
            );
            for p in excluded {
                println!("  {p}");
            }
        }
        IncludeOutcome::NotExcluded => {
            println!("{}", t!(SelNotExcluded, path = shown.display()))
        }
    }
    Ok(exit::OK)
}

pub async fn run_list(ctx: &Context, args: ExcludedArgs) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    let folders = super::folder_args::selected_folders(&app, args.folder.as_deref())?;
    let mut rows = Vec::new();
    for f in &folders {
        let choice =
            app.with_journal(|j| selective::folder_choice(j, f).context(t!(CtxReadChoice)))?;
        rows.push((f, choice));
    }
    if ctx.json {
        let rows: Vec<_> = rows
            .iter()
            .map(|(f, c)| {
                serde_json::json!({
                    "folder": f.path,
                    "excluded": c.excluded,
                    "subfolders": c.subfolders,
                })
            })
            .collect();
        println!("{}", serde_json::json!({ "folders": rows }));
        return Ok(exit::OK);
    }
    let mut any = false;
    for (f, c) in &rows {
        for p in &c.excluded {
            any = true;
            // The page's size of an excluded folder, when it holds one.
            let size = c
                .subfolders
                .iter()
                .find(|s| &s.path == p)
                .map(|s| t!(SelSize, files = s.files, size = human_bytes(s.bytes)))
                .unwrap_or_default();
            println!(
                "{:<60}  {size}",
                f.path.join(p.as_str()).display().to_string()
            );
        }
    }
    if !any {
        println!("{}", t!(SelNothing));
    }
    Ok(exit::OK)
}

/// The synced folder and the path inside it that `path` names: a path inside a synced folder
/// (absolute or from here; it need not exist), or, with only one synced folder, a path
/// relative to it.
fn locate(app: &OpenedConfig, path: &Path) -> Result<(FolderRecord, RelPath)> {
    let folders = app.folders()?;
    let abs = std::env::current_dir()
        .map(|d| d.join(path))
        .unwrap_or_else(|_| path.to_path_buf());
    // The deepest existing folder above it, resolved for links and `..`.
    let mut existing = abs.as_path();
    let mut rest: Vec<&std::ffi::OsStr> = Vec::new();
    let resolved = loop {
        if let Ok(c) = std::fs::canonicalize(existing) {
            let mut c = c;
            for part in rest.iter().rev() {
                c.push(part);
            }
            break c;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(p), Some(n)) => {
                rest.push(n);
                existing = p;
            }
            _ => break abs.clone(),
        }
    };
    let inside = folders
        .iter()
        .filter_map(|f| Some((f, resolved.strip_prefix(&f.path).ok()?)))
        .max_by_key(|(f, _)| f.path.as_os_str().len());
    let (folder, rel) = match inside {
        Some((f, rel)) => (f.clone(), rel.to_path_buf()),
        None if path.is_relative() && folders.len() == 1 => (folders[0].clone(), path.into()),
        None => return Err(AppError::invalid(t!(SelNotInside, path = path.display())).into()),
    };
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        return Err(AppError::invalid(t!(SelWholeFolder, path = folder.path.display())).into());
    }
    let rel = RelPath::new(&parts.join("/"))
        .map_err(|e| AppError::invalid(t!(SelCannotSync, path = path.display(), error = e)))?;
    Ok((folder, rel))
}
