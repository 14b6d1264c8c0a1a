//! `sync`: sync every folder (or one) once, with progress on a terminal and a summary.

use crate::i18n::{lang, t, tr, Lang, Msg};
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use tunnel_core::error::{ErrorCode, SyncError};
use tunnel_core::events::SyncSummary;
use tunnel_core::sync::SyncOptions;

use super::output::spawn_progress;
use super::{exit, Context};

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Only this folder.
    pub path: Option<PathBuf>,
    /// Carry out the sync even if it deletes more than the configured share of a folder.
    #[arg(long)]
    pub confirm_deletions: bool,
}

pub async fn run(ctx: &Context, args: SyncArgs) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    let mut folders = super::folder_args::selected_folders(&app, args.path.as_deref())?;
    if args.path.is_none() {
        folders.retain(|f| !f.paused);
    }
    if folders.is_empty() {
        if !ctx.json {
            println!("{}", tr(Msg::CliNoFoldersToSync, &[]));
        } else {
            println!("{}", serde_json::json!({"folders": []}));
        }
        return Ok(exit::OK);
    }
    // A running service owns the folders: ask it to sync instead of racing it.
    let _lock = match crate::app::engine_host::lock_instance(&app) {
        Ok(lock) => lock,
        Err(_) => {
            let path = args
                .path
                .as_ref()
                .map(|p| std::fs::canonicalize(p).unwrap_or(p.clone()));
            let req = crate::app::control::ControlRequest::Sync { path };
            match crate::app::control::request(&app.paths.socket_path(), &req).await? {
                Some(resp) => {
                    // A refusal exits as if this command had found the error itself.
                    resp.into_result()?;
                    println!("{}", tr(Msg::CliServiceSyncing, &[]));
                    return Ok(exit::OK);
                }
                None => anyhow::bail!(t!(SyncBusy)),
            }
        }
    };
    let client = app.client().context(t!(CtxPreparing))?;
    let syncer = app.syncer();
    let progress = spawn_progress(syncer.subscribe(), !ctx.json && !ctx.quiet);
    // The history `status` and the desktop app's Activity tab show, as the service keeps it.
    let recorder =
        tunnel_core::activity::spawn_recorder(app.journal.clone(), syncer.subscribe_history());
    let opts = SyncOptions {
        confirm_deletions: args.confirm_deletions,
    };
    let mut results: Vec<(PathBuf, Result<SyncSummary, SyncError>)> = Vec::new();
    for f in &folders {
        let store = client.store(f.page_id.as_str());
        let r = syncer.sync_folder(f.id, &store, &opts).await;
        let stop =
            matches!(&r, Err(e) if matches!(e.code(), ErrorCode::Auth | ErrorCode::Certificate));
        results.push((f.path.clone(), r));
        if stop {
            // Repeated bad logins lock the account behind a CAPTCHA: stop at once.
            break;
        }
    }
    progress.abort();
    // The recorder ends once the last sender is gone, after writing what it received.
    // (bounded: a sender kept alive by mistake must not hang the command).
    drop(syncer);
    match tokio::time::timeout(std::time::Duration::from_secs(5), recorder).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "the activity recorder failed"),
        Err(_) => tracing::warn!("the activity history may miss the last events"),
    }

    let mut code = exit::OK;
    let mut json_rows = Vec::new();
    for (path, r) in &results {
        match r {
            Ok(s) => {
                if s.skipped_unreadable > 0 && code == exit::OK {
                    code = exit::PARTIAL;
                }
                if ctx.json {
                    json_rows.push(serde_json::json!({"path": path, "ok": true, "summary": s}));
                } else if !ctx.quiet {
                    println!("{}: {}", path.display(), describe_summary(s));
                }
            }
            Err(e) => {
                if code == exit::OK || code == exit::PARTIAL {
                    code = exit::exit_code(e.code());
                }
                if ctx.json {
                    json_rows.push(serde_json::json!({"path": path, "ok": false, "error": e.to_string(), "code": e.code()}));
                } else {
                    eprintln!(
                        "{}: {}",
                        path.display(),
                        crate::i18n::errors::error_text(e, lang())
                    );
                }
            }
        }
    }
    // Warn ahead of the access token's expiry (logged as a warning on stderr when due).
    let _ = crate::app::page_care::token_notice(&client, app.config.remote.token_expiry_warn_days)
        .await;
    if ctx.json {
        println!(
            "{}",
            serde_json::json!({ "folders": json_rows, "requests": client.request_count() })
        );
    }
    Ok(code)
}

/// "up to date" or "3 sent (1.2 MiB), 2 received, 1 conflict", in the current language.
pub fn describe_summary(s: &SyncSummary) -> String {
    describe_summary_in(lang(), s)
}

/// [`describe_summary`] in `lang`.
pub fn describe_summary_in(lang: Lang, s: &SyncSummary) -> String {
    let say = |msg: Msg, count: &dyn std::fmt::Display| msg.render(lang, &[("count", count)]);
    let bytes = |n: u64| tunnel_core::progress::text::format_bytes_in(lang, n);
    let mut parts = Vec::new();
    if s.uploaded > 0 {
        parts.push(Msg::SumSent.render(
            lang,
            &[("count", &s.uploaded), ("size", &bytes(s.bytes_up))],
        ));
    }
    if s.downloaded > 0 {
        parts.push(Msg::SumReceived.render(
            lang,
            &[("count", &s.downloaded), ("size", &bytes(s.bytes_down))],
        ));
    }
    if s.deleted_local > 0 {
        parts.push(say(Msg::SumDeletedHere, &s.deleted_local));
    }
    if s.deleted_remote > 0 {
        parts.push(say(Msg::SumDeletionsSent, &s.deleted_remote));
    }
    if s.conflicts > 0 {
        parts.push(say(Msg::SumConflicts, &s.conflicts));
    }
    if s.case_renamed > 0 {
        parts.push(say(Msg::SumCaseRenamed, &s.case_renamed));
    }
    if s.evicted > 0 {
        parts.push(say(Msg::SumEvicted, &s.evicted));
    }
    if s.skipped_unreadable > 0 {
        parts.push(say(Msg::SumSkipped, &s.skipped_unreadable));
    }
    if !s.in_use.is_empty() {
        parts.push(Msg::SumInUse.render(
            lang,
            &[("count", &s.in_use.len()), ("files", &s.in_use.join(", "))],
        ));
    }
    let mut text = if parts.is_empty() {
        Msg::SumUpToDate.text(lang).to_string()
    } else {
        parts.join(", ")
    };
    if s.skipped_remote > 0 {
        text.push_str(&say(Msg::SumSkippedRemote, &s.skipped_remote));
    }
    if !s.unstorable.is_empty() {
        text.push_str(&say(Msg::SumUnstorable, &s.unstorable.len()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_what_moved_and_what_is_not_stored_here() {
        assert_eq!(
            describe_summary_in(Lang::En, &SyncSummary::default()),
            "up to date"
        );
        let s = SyncSummary {
            uploaded: 2,
            bytes_up: 2048,
            skipped_remote: 3,
            ..SyncSummary::default()
        };
        let text = describe_summary_in(Lang::En, &s);
        assert!(text.starts_with("2 sent ("), "{text}");
        assert!(
            text.ends_with(
                "3 file(s) from other devices not stored here (hidden or ignored on this computer)"
            ),
            "{text}"
        );
        let s = SyncSummary {
            unstorable: vec![tunnel_core::events::UnstorableName {
                path: "CON.txt".into(),
                reason: "a device name Windows reserves".into(),
                kind: "reserved-device-name".into(),
            }],
            ..SyncSummary::default()
        };
        assert_eq!(
            describe_summary_in(Lang::En, &s),
            "up to date; 1 item(s) from other devices cannot be stored on this computer (see `status`)",
            "issue 14: names this computer cannot store are named in the summary"
        );
        let s = SyncSummary {
            downloaded: 2,
            case_renamed: 1,
            ..SyncSummary::default()
        };
        assert!(
            describe_summary_in(Lang::En, &s).ends_with(
                "renamed 1 name(s) that clash on this disk (kept as \"(Case Conflict)\" copies)"
            ),
            "issue 14: a case-conflict copy is named in the summary: {}",
            describe_summary_in(Lang::En, &s)
        );
        let s = SyncSummary {
            evicted: 3,
            ..SyncSummary::default()
        };
        assert_eq!(
            describe_summary_in(Lang::En, &s),
            "3 excluded item(s) removed from this computer (kept on the page)",
            "issue 17: what selective sync removed here is named in the summary"
        );
        let s = SyncSummary {
            skipped_unreadable: 1,
            in_use: vec!["report.docx".into()],
            ..SyncSummary::default()
        };
        assert_eq!(
            describe_summary_in(Lang::En, &s),
            "1 file(s) skipped this time (unreadable or changing), 1 in use by another program, tried again next sync: report.docx",
            "issue 14: a file held open by another program is named in the summary"
        );
        let s = SyncSummary {
            uploaded: 3,
            bytes_up: 1536,
            conflicts: 1,
            ..SyncSummary::default()
        };
        assert_eq!(
            describe_summary_in(Lang::Ru, &s),
            "отправлено: 3 (1,5 КБ), конфликтов сохранено как копии: 1",
            "issue 17: the summary in Russian"
        );
        assert_eq!(
            describe_summary_in(Lang::Ru, &SyncSummary::default()),
            "всё синхронизировано"
        );
    }
}
