//! `add` and `remove`: start or stop syncing a folder.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use tunnel_core::ids::PageId;
use tunnel_core::remote::RemoteStore;

use crate::app::app_error::AppError;
use crate::i18n::t;

use super::{exit, Context};

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The folder to sync (created when missing).
    pub path: PathBuf,
    /// The Confluence page that stores it (default: the page given to `init`). Each folder
    /// may use its own page.
    #[arg(long)]
    pub page_id: Option<PageId>,
    /// Never ask (when others can view the page: warn, change nothing, unless a flag says).
    #[arg(long)]
    pub non_interactive: bool,
    #[command(flatten)]
    pub privacy: super::page::PrivacyArgs,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The folder to stop syncing. Its files stay; nothing is deleted anywhere.
    pub path: PathBuf,
}

pub async fn run_add(ctx: &Context, args: AddArgs) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    let page_id = match args
        .page_id
        .or_else(|| app.config.remote.default_page_id.clone())
    {
        Some(p) => p,
        None => return Err(AppError::invalid(t!(AddNoPage)).into()),
    };
    // The page must be reachable before we promise to sync into it.
    let client = app.client()?;
    let identity = client
        .store(page_id.as_str())
        .probe()
        .await
        .with_context(|| t!(CtxCheckingPage, page = page_id))?;
    let may_ask = !args.non_interactive && std::io::stdin().is_terminal();
    let privacy = super::page::check_and_offer(&client, &page_id, &args.privacy, may_ask).await?;
    let path = app.track_folder(&args.path, &page_id)?.path;
    notify_service(&app).await;
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({"path": path, "page_id": page_id, "page_title": identity.title,
                "page_privacy": privacy})
        );
    } else {
        println!(
            "{}",
            t!(
                AddSyncing,
                path = path.display(),
                page = page_id,
                title = identity.title
            )
        );
    }
    Ok(exit::OK)
}

pub async fn run_remove(ctx: &Context, args: RemoveArgs) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    let path = app.untrack_folder(&args.path)?;
    notify_service(&app).await;
    if ctx.json {
        println!("{}", serde_json::json!({"removed": path}));
    } else {
        println!("{}", t!(RemoveDone, path = path.display()));
    }
    Ok(exit::OK)
}

/// Tell a running service that the folder list changed.
async fn notify_service(app: &crate::app::opened_config::OpenedConfig) {
    let _ = crate::app::control::request(
        &app.paths.socket_path(),
        &crate::app::control::ControlRequest::Reload,
    )
    .await;
}
