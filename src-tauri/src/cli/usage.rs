//! `usage`: what each folder's page holds — attachments, bytes with old versions — and what
//! garbage collection would free (a dry run; nothing is deleted).

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;

use crate::app::page_care::{self, FolderUsage};

use super::output::human_bytes;
use super::{exit, Context};
use crate::i18n::{lang, t};

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// Only this folder.
    pub path: Option<PathBuf>,
}

pub async fn run(ctx: &Context, args: UsageArgs) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    let folders = super::folder_args::selected_folders(&app, args.path.as_deref())?;
    let client = app.client().context(t!(CtxPreparing))?;
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
        println!("{}", t!(CliNoFolders));
    }
    for r in &rows {
        print_usage(r);
    }
    if let Some(n) = notice {
        eprintln!(
            "{}",
            t!(
                WarningCapital,
                message = crate::i18n::token::message(&n, lang())
            )
        );
    }
    Ok(exit::OK)
}

fn print_usage(r: &FolderUsage) {
    let u = &r.usage;
    println!(
        "{}",
        t!(UsageHeader, path = r.path.display(), page = r.page_id)
    );
    println!(
        "{}",
        t!(
            UsageAttachments,
            count = u.attachments,
            size = human_bytes(u.current_bytes)
        )
    );
    println!(
        "{}",
        t!(
            UsageOldVersions,
            count = u.old_versions,
            size = human_bytes(u.old_version_bytes),
            estimated = if u.old_version_bytes_estimated {
                t!(UsageEstimated)
            } else {
                String::new()
            }
        )
    );
    println!("{}", t!(UsageTotal, size = human_bytes(u.total_bytes())));
    println!(
        "{}",
        t!(
            UsageInUse,
            count = u.referenced,
            size = human_bytes(u.referenced_bytes)
        )
    );
    if u.history_attachments > 0 {
        println!(
            "{}",
            t!(
                UsageHistory,
                count = u.history_attachments,
                size = human_bytes(u.history_bytes)
            )
        );
    }
    if u.foreign_attachments > 0 {
        println!("{}", t!(UsageForeign, count = u.foreign_attachments));
    }
    println!(
        "{}",
        t!(
            UsageCollectable,
            count = u.collectable,
            size = human_bytes(u.collectable_bytes)
        )
    );
    if u.waiting > 0 {
        println!(
            "{}",
            t!(
                UsageWaiting,
                count = u.waiting,
                size = human_bytes(u.waiting_bytes),
                hours = u.grace_secs / 3600
            )
        );
    }
    if !u.trash_visible {
        println!("{}", t!(UsageNoTrash));
    }
}
