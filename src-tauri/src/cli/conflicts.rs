//! `conflicts`: list every unresolved conflict of the synced folders with both versions
//! (device, time, size; which is mine and which theirs), and resolve one with
//! `conflicts resolve PATH --keep mine|theirs|both`. The version not kept goes to the folder's
//! local trash; the resolution is an ordinary local change that the next sync sends everywhere
//! (a running service is asked to sync the folder at once).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};

use tunnel_core::conflicts::{Conflict, ConflictKind, Keep, Side, Version};
use tunnel_core::journal::FolderRecord;

use super::folder_args::{paths_in_folders, selected_folders};
use super::output::human_bytes;
use super::{exit, Context};
use crate::app::opened_config::OpenedConfig;
use crate::i18n::t;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ConflictsArgs {
    #[command(subcommand)]
    pub action: Option<ConflictsAction>,
    /// Only this synced folder.
    pub path: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ConflictsAction {
    /// Settle a conflict: keep my version, their version, or both files. The version not kept
    /// goes to the local trash (`sber-tunnel trash`).
    Resolve {
        /// The conflict copy (or the file it copies, when it has one copy): inside a synced
        /// folder, or relative to one.
        path: PathBuf,
        /// mine: my version stays at the file's name; theirs: the other device's does;
        /// both: both files stay under their names and are no longer a conflict.
        #[arg(long, value_name = "mine|theirs|both")]
        keep: Keep,
    },
}

pub async fn run(ctx: &Context, args: ConflictsArgs) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    match args.action {
        None => list(ctx, &app, args.path.as_deref()),
        Some(ConflictsAction::Resolve { path, keep }) => resolve(ctx, &app, &path, keep).await,
    }
}

fn conflicts_of(app: &OpenedConfig, f: &FolderRecord) -> Result<Vec<Conflict>> {
    let device = app.config.device.id.clone();
    app.with_journal(|j| {
        tunnel_core::conflicts::list(j, f, &device)
            .with_context(|| t!(CtxListConflicts, path = f.path.display()))
    })
}

fn side_word(side: Side) -> String {
    match side {
        Side::Original => t!(SideOriginal),
        Side::Copy => t!(SideCopy),
    }
}

fn version_line(label: &str, folder: &Path, v: &Version) -> String {
    t!(
        ConflictVersion,
        label = format!("{label:<7}"),
        path = folder.join(v.path.as_str()).display(),
        device = v.device,
        time = tunnel_core::sync::trash_time(v.modified_at),
        size = human_bytes(v.size)
    )
}

fn list(ctx: &Context, app: &OpenedConfig, only: Option<&Path>) -> Result<u8> {
    let mut rows = Vec::new();
    for f in selected_folders(app, only)? {
        for c in conflicts_of(app, &f)? {
            rows.push((f.path.clone(), c));
        }
    }
    if ctx.json {
        let rows: Vec<_> = rows
            .iter()
            .map(|(folder, c)| {
                serde_json::json!({
                    "folder": folder,
                    "kind": c.kind,
                    "path": folder.join(c.copy.path.as_str()),
                    "original": c.original,
                    "copy": c.copy,
                    "made_at": c.made_at,
                    "mine": c.mine,
                    "theirs": c.theirs(),
                })
            })
            .collect();
        println!("{}", serde_json::json!({ "conflicts": rows }));
        return Ok(exit::OK);
    }
    if rows.is_empty() {
        println!("{}", t!(ConflictsNone));
        return Ok(exit::OK);
    }
    for (folder, c) in &rows {
        let what = match c.kind {
            ConflictKind::Copy => t!(ConflictCopyOf, path = c.original.path),
            ConflictKind::CaseClash => t!(ConflictCaseClash, path = c.original.path),
        };
        println!("{}\n{what}", folder.join(c.copy.path.as_str()).display());
        println!(
            "{}",
            version_line(&t!(ConflictMine), folder, c.version(c.mine))
        );
        println!(
            "{}",
            version_line(&t!(ConflictTheirs), folder, c.version(c.theirs()))
        );
    }
    println!("{}", t!(ConflictsHint));
    Ok(exit::OK)
}

async fn resolve(ctx: &Context, app: &OpenedConfig, path: &Path, keep: Keep) -> Result<u8> {
    // The folder whose conflicts name this path (as a copy or an original).
    let mut found = Vec::new();
    for (f, rel) in paths_in_folders(app, path)? {
        let named = conflicts_of(app, &f)?
            .iter()
            .any(|c| c.copy.path.as_str() == rel || c.original.path.as_str() == rel);
        if named {
            found.push((f, rel));
        }
    }
    let (folder, rel) = match found.len() {
        0 => bail!(tunnel_core::conflicts::ConflictError::NotAConflict(
            path.display().to_string()
        )),
        1 => found.remove(0),
        _ => bail!(t!(ConflictSeveral, path = path.display())),
    };
    let rel = tunnel_core::rel_path::RelPath::new(&rel)
        .with_context(|| t!(InvalidPath, path = path.display()))?;
    let device = app.config.device.id.clone();
    let done = app.with_journal(|j| {
        Ok(tunnel_core::conflicts::resolve(
            j, &folder, &device, &rel, keep,
        )?)
    })?;
    // A running service sends the change now; otherwise the next `sync` does.
    let asked = crate::app::control::request(
        &app.paths.socket_path(),
        &crate::app::control::ControlRequest::Sync {
            path: Some(folder.path.clone()),
        },
    )
    .await
    .ok()
    .flatten()
    .is_some_and(|r| r.ok);
    let trash = done
        .in_trash
        .as_ref()
        .map(|t| folder.path.join(tunnel_core::sync::TRASH_DIR).join(t));
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({
                "resolved": {
                    "folder": folder.path,
                    "copy": folder.path.join(done.conflict.copy.path.as_str()),
                    "keep": done.keep,
                    "path": folder.path.join(done.path.as_str()),
                    "in_trash": trash,
                    "syncing": asked,
                }
            })
        );
        return Ok(exit::OK);
    }
    let c = &done.conflict;
    match keep {
        Keep::Both => println!(
            "{}",
            t!(
                ConflictKeptBoth,
                original = folder.path.join(c.original.path.as_str()).display(),
                copy = folder.path.join(c.copy.path.as_str()).display()
            )
        ),
        Keep::Mine | Keep::Theirs => {
            let kept = if keep == Keep::Mine {
                c.mine
            } else {
                c.theirs()
            };
            let msg = if keep == Keep::Mine {
                crate::i18n::Msg::ConflictKeptMine
            } else {
                crate::i18n::Msg::ConflictKeptTheirs
            };
            println!(
                "{}",
                crate::i18n::tr(
                    msg,
                    &[
                        ("side", &side_word(kept)),
                        ("device", &c.version(kept).device),
                        ("path", &folder.path.join(done.path.as_str()).display()),
                    ]
                )
            );
            if let Some(in_trash) = &trash {
                println!("{}", t!(ConflictOtherInTrash, path = in_trash.display()));
            }
        }
    }
    if !asked {
        println!("{}", t!(ConflictNextSync));
    }
    Ok(exit::OK)
}
