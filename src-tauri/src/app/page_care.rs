//! Being a good citizen of the company's Confluence, for both faces: the warning ahead of the
//! personal access token's expiry, and what each folder's page holds (and what garbage
//! collection would free). The decisions live in tunnel-core (`token_notice`,
//! `sync::PageUsage`); this module only fetches and assembles.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use tunnel_confluence::{ConfluenceClient, TokenExpiry};
use tunnel_core::journal::FolderRecord;
use tunnel_core::sync::{PageUsage, Syncer};
use tunnel_core::token_notice::{self, TokenNotice, DEFAULT_WARN_DAYS};

use super::opened_config::OpenedConfig;

/// Longest wait for the token list (a courtesy check never holds up a command for long).
const TOKEN_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// The notice due for the token in use, if the server says when it expires and that is
/// soon (`None` also when the check is off, not possible or fails: it never fails a command).
pub async fn token_notice(
    client: &ConfluenceClient,
    warn_days: Option<u32>,
) -> Option<TokenNotice> {
    let warn_days = warn_days.unwrap_or(DEFAULT_WARN_DAYS);
    if warn_days == 0 {
        return None;
    }
    let expiry = match tokio::time::timeout(TOKEN_CHECK_TIMEOUT, client.token_expiry()).await {
        Ok(Ok(e)) => e,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "token expiry check failed");
            return None;
        }
        Err(_) => {
            tracing::debug!("token expiry check timed out");
            return None;
        }
    };
    match expiry {
        TokenExpiry::At { name, unix_secs } => {
            let now = tunnel_core::clock::unix_now();
            let n = token_notice::notice(&name, unix_secs, now, warn_days);
            if let Some(n) = &n {
                // Shown on the terminal too: in the reader's language.
                let said = crate::i18n::token::message(n, crate::i18n::current());
                tracing::warn!(days_left = n.days_left, "{said}");
            }
            n
        }
        _ => None,
    }
}

/// The notice for an opened configuration (`None` when no client can be built).
pub async fn token_notice_for(app: &OpenedConfig) -> Option<TokenNotice> {
    let client = app.client().ok()?;
    token_notice(&client, app.config.remote.token_expiry_warn_days).await
}

/// One folder's page, summed up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderUsage {
    /// The synced folder.
    pub path: PathBuf,
    /// Its page.
    pub page_id: String,
    /// What the page holds.
    pub usage: PageUsage,
}

/// What the pages of `folders` hold (a dry run: nothing is written or deleted).
pub async fn page_usage(
    client: &ConfluenceClient,
    syncer: &Syncer,
    folders: &[FolderRecord],
) -> Result<Vec<FolderUsage>> {
    let mut out = Vec::new();
    for f in folders {
        let store = client.store(f.page_id.as_str());
        let usage = syncer.page_usage(f.id, &store).await.with_context(|| {
            crate::i18n::t!(CtxPageOf, page = f.page_id, path = f.path.display())
        })?;
        out.push(FolderUsage {
            path: f.path.clone(),
            page_id: f.page_id.to_string(),
            usage,
        });
    }
    Ok(out)
}
