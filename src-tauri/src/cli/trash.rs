//! `trash`: list what the synced folders' local trash holds (files another device deleted,
//! and the previous content of files another device's edit replaced), put one back, or empty
//! it. A restored file is an ordinary local change: the next sync sends it everywhere.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};

use tunnel_core::journal::{FolderRecord, TrashReason};
use tunnel_core::sync::TrashItem;

use super::folder_args::{paths_in_folders, selected_folders};
use super::output::human_bytes;
use super::{exit, Context};
use crate::app::opened_config::OpenedConfig;
use crate::app::trash_view::folder_items as items;
use crate::i18n::t;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TrashArgs {
    #[command(subcommand)]
    pub action: Option<TrashAction>,
    /// Only this synced folder.
    pub folder: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum TrashAction {
    /// Put the newest trashed version of a file back at its original path; when that path
    /// is taken, beside it as `name (restored).ext` (nothing is ever overwritten).
    Restore {
        /// The file's original path: inside a synced folder, or relative to one.
        path: PathBuf,
        /// Put it into this folder instead (under its own name).
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
    },
    /// Delete what is in the trash for good (everything, or what is older than DAYS).
    Empty {
        /// Only this synced folder.
        folder: Option<PathBuf>,
        /// Only what went to the trash more than this many days ago.
        #[arg(long, value_name = "DAYS")]
        older_than: Option<u64>,
    },
}

pub async fn run(ctx: &Context, args: TrashArgs) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    match args.action {
        None => list(ctx, &app, args.folder.as_deref()),
        Some(TrashAction::Restore { path, to }) => restore(ctx, &app, &path, to.as_deref()),
        Some(TrashAction::Empty { folder, older_than }) => {
            empty(ctx, &app, folder.as_deref(), older_than)
        }
    }
}

/// Why an item is in the trash and whose change put it there; `None` without a record.
fn reason_text(r: TrashReason, device: &str) -> String {
    match r {
        TrashReason::Deleted => t!(TrashDeletedBy, device = device),
        TrashReason::Replaced => t!(TrashReplacedBy, device = device),
        TrashReason::Resolved => t!(TrashResolvedBy, device = device),
    }
}

fn list(ctx: &Context, app: &OpenedConfig, only: Option<&Path>) -> Result<u8> {
    let mut rows = Vec::new();
    for f in selected_folders(app, only)? {
        for i in items(app, &f)? {
            rows.push((f.path.clone(), i));
        }
    }
    if ctx.json {
        let rows: Vec<_> = rows
            .iter()
            .map(|(folder, i)| {
                serde_json::json!({
                    "folder": folder,
                    "path": i.path,
                    "in_trash": folder.join(tunnel_core::sync::TRASH_DIR).join(&i.in_trash),
                    "at": i.at,
                    "reason": i.reason,
                    "device": i.device,
                    "size": i.size,
                })
            })
            .collect();
        println!("{}", serde_json::json!({ "trash": rows }));
        return Ok(exit::OK);
    }
    if rows.is_empty() {
        println!("{}", t!(TrashEmpty));
        return Ok(exit::OK);
    }
    for (folder, i) in &rows {
        let who = match (i.reason, &i.device) {
            (None, _) => t!(TrashNoRecord),
            (Some(r), Some(d)) => reason_text(r, d),
            (Some(r), None) => reason_text(r, &t!(TrashAnotherDevice)),
        };
        println!(
            "{}  {:<28}  {:>10}  {}",
            tunnel_core::sync::trash_time(i.at),
            who,
            human_bytes(i.size),
            folder.join(&i.path).display()
        );
    }
    Ok(exit::OK)
}

fn restore(ctx: &Context, app: &OpenedConfig, path: &Path, to: Option<&Path>) -> Result<u8> {
    let mut found: Vec<(FolderRecord, TrashItem)> = Vec::new();
    for (f, rel) in paths_in_folders(app, path)? {
        // Items come newest first: the first one is the newest version.
        if let Some(i) = items(app, &f)?.into_iter().find(|i| i.path == rel) {
            found.push((f, i));
        }
    }
    let (folder, item) = match found.len() {
        0 => bail!(t!(TrashNotIn, path = path.display())),
        1 => found.remove(0),
        _ => bail!(t!(TrashSeveral, path = path.display())),
    };
    let placed = tunnel_core::sync::restore_from_trash(&folder.path, &item, to)
        .with_context(|| t!(CtxRestoring, path = folder.path.join(&item.path).display()))?;
    app.with_journal(|j| Ok(j.forget_trashed(folder.id, std::slice::from_ref(&item.in_trash))?))?;
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({ "restored": folder.path.join(&item.path), "to": placed })
        );
    } else {
        println!("{}", t!(TrashRestored, path = placed.display()));
    }
    Ok(exit::OK)
}

fn empty(
    ctx: &Context,
    app: &OpenedConfig,
    only: Option<&Path>,
    older_than: Option<u64>,
) -> Result<u8> {
    let now = tunnel_core::clock::unix_now();
    let mut removed = 0usize;
    for f in selected_folders(app, only)? {
        let items = items(app, &f)?;
        let gone = tunnel_core::sync::empty_trash(&f.path, &items, older_than, now)
            .with_context(|| t!(CtxEmptyTrash, path = f.path.display()))?;
        app.with_journal(|j| Ok(j.forget_trashed(f.id, &gone)?))?;
        removed += gone.len();
    }
    if ctx.json {
        println!("{}", serde_json::json!({ "removed": removed }));
    } else {
        println!("{}", t!(TrashRemoved, count = removed));
    }
    Ok(exit::OK)
}
