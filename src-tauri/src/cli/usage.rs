//! `usage`: what each folder's page holds — attachments, bytes with old versions — and what
//! garbage collection would free (a dry run; nothing is deleted).

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;

use crate::app::page_care::{self, FolderUsage};

use super::output::human_bytes;
use super::{exit, Context};

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// Only this folder.
    pub path: Option<PathBuf>,
}

pub async fn run(ctx: &Context, args: UsageArgs) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    let folders = super::folder_args::selected_folders(&app, args.path.as_deref())?;
    let client = app.client().context("preparing the connection")?;
    let rows = page_care::page_usage(&client, &app.syncer(), &folders).await?;
    let notice = page_care::token_notice(&client, app.config.remote.token_expiry_warn_days).await;
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({ "folders": rows, "token_notice": notice })
        );
        return Ok(exit::OK);
    }
    if rows.is_empty() {
        println!("No folders yet. Add one with `sber-tunnel add <folder>`.");
    }
    for r in &rows {
        print_usage(r);
    }
    if let Some(n) = notice {
        eprintln!("Warning: {}", n.message);
    }
    Ok(exit::OK)
}

fn print_usage(r: &FolderUsage) {
    let u = &r.usage;
    println!("{}  (page {})", r.path.display(), r.page_id);
    println!(
        "  Attachments:      {} ({} in current versions)",
        u.attachments,
        human_bytes(u.current_bytes)
    );
    println!(
        "  Old versions:     {} ({}{})",
        u.old_versions,
        human_bytes(u.old_version_bytes),
        if u.old_version_bytes_estimated {
            ", partly estimated"
        } else {
            ""
        }
    );
    println!("  Total on page:    {}", human_bytes(u.total_bytes()));
    println!(
        "  In use:           {} attachment(s), {}",
        u.referenced,
        human_bytes(u.referenced_bytes)
    );
    if u.history_attachments > 0 {
        println!(
            "  Kept for history: {} attachment(s), {} (see `sber-tunnel history`)",
            u.history_attachments,
            human_bytes(u.history_bytes)
        );
    }
    if u.foreign_attachments > 0 {
        println!(
            "  Not sber-tunnel's: {} attachment(s) (never touched)",
            u.foreign_attachments
        );
    }
    println!(
        "  Garbage collection would free: {} attachment(s), {} (moved to the space trash)",
        u.collectable,
        human_bytes(u.collectable_bytes)
    );
    if u.waiting > 0 {
        println!(
            "  Unreferenced but kept for now: {} attachment(s), {} (younger than {} h)",
            u.waiting,
            human_bytes(u.waiting_bytes),
            u.grace_secs / 3600
        );
    }
    if !u.trash_visible {
        println!(
            "  The space trash is not shown: Confluence's API does not list trashed \
             attachments; they count against the space until a space admin purges them."
        );
    }
}
