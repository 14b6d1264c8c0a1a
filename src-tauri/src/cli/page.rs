//! `page`: who besides you may view and edit the Confluence page(s) your folders sync through,
//! and `--make-private` to restrict them to you. Also the check `init` and `add` run on their
//! page ([`check_and_offer`]): a plain warning when others can see the files, then — by flag,
//! by asking, or not at all under `--non-interactive` — restricting the page to the user.
//!
//! Everyone who may view a page may download its attachments, i.e. the synced files.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};

use anyhow::{Context as _, Result};
use clap::Args;
use tunnel_confluence::ConfluenceClient;
use tunnel_core::ids::PageId;

use super::{exit, Context};
use crate::app::app_error::AppError;
use crate::app::page_privacy::{self, PagePrivacy};
use crate::i18n::{lang, t};

/// The hint shown wherever a page is left visible to others.
fn hint() -> String {
    t!(PageHint)
}

/// An error from the page's restrictions, in the reader's language.
fn said(e: &tunnel_core::remote::RemoteError) -> String {
    crate::i18n::errors::error_text(e, lang())
}

/// What `init` and `add` do when others can view the page.
#[derive(Debug, Default, Args)]
pub struct PrivacyArgs {
    /// When others can view the page, restrict viewing and editing to you without asking.
    #[arg(long, conflicts_with = "keep_sharing")]
    pub make_private: bool,
    /// When others can view the page, leave its restrictions as they are without asking.
    #[arg(long)]
    pub keep_sharing: bool,
}

#[derive(Debug, Args)]
pub struct PageArgs {
    /// The page to check (default: every page in use — the one given to `init` and those of
    /// the synced folders).
    #[arg(long)]
    pub page_id: Option<PageId>,
    /// Restrict viewing and editing of the page(s) to you.
    #[arg(long)]
    pub make_private: bool,
}

pub async fn run(ctx: &Context, args: PageArgs) -> Result<u8> {
    let (app, _log) = ctx.open()?;
    let pages: BTreeSet<PageId> = match args.page_id {
        Some(p) => BTreeSet::from([p]),
        None => {
            let mut pages: BTreeSet<PageId> =
                app.folders()?.into_iter().map(|f| f.page_id).collect();
            pages.extend(app.config.remote.default_page_id.clone());
            pages
        }
    };
    if pages.is_empty() {
        return Err(AppError::invalid(t!(PageNone)).into());
    }
    let client = app.client()?;
    let mut out = Vec::new();
    for page in &pages {
        let mut privacy = page_privacy::read(&client, page)
            .await
            .with_context(|| t!(CtxReadPrivacy, page = page))?;
        let was_private = privacy.private;
        if args.make_private && !privacy.private {
            privacy = page_privacy::make_private(&client, page)
                .await
                .with_context(|| t!(CtxMakePrivate, page = page))?;
        }
        if !ctx.json {
            if args.make_private && !was_private {
                println!("{}", t!(PageNowPrivate, page = page));
            } else {
                println!("{}", privacy.sentence_in(lang()));
                if !privacy.private {
                    println!("{}", hint());
                }
            }
        }
        out.push(privacy);
    }
    if ctx.json {
        println!("{}", serde_json::json!({ "pages": out }));
    }
    Ok(exit::OK)
}

/// After `init` or `add` reached `page`: tell whether others can see the files and, when they
/// can, restrict the page as `flags` say, or ask (`may_ask`), or leave it with a warning.
/// A page whose restrictions cannot be read only gets a warning; a failed `--make-private`
/// is an error (the script asked for it).
pub async fn check_and_offer(
    client: &ConfluenceClient,
    page: &PageId,
    flags: &PrivacyArgs,
    may_ask: bool,
) -> Result<Option<PagePrivacy>> {
    let privacy = match page_privacy::read(client, page).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{}", t!(PageCheckFailed, page = page, error = said(&e)));
            return Ok(None);
        }
    };
    if privacy.private {
        eprintln!("{}", privacy.sentence_in(lang()));
        return Ok(Some(privacy));
    }
    eprintln!(
        "{}",
        t!(WarningLower, message = privacy.sentence_in(lang()))
    );
    let make_private = if flags.make_private {
        true
    } else if flags.keep_sharing {
        eprintln!("{}", t!(PageLeftFlag, hint = hint()));
        false
    } else if may_ask {
        let yes = ask_yes_no(&t!(PageAsk))?;
        if !yes {
            eprintln!("{}", t!(PageLeft, hint = hint()));
        }
        yes
    } else {
        eprintln!("{}", t!(PageNotChanged, hint = hint()));
        false
    };
    if !make_private {
        return Ok(Some(privacy));
    }
    match page_privacy::make_private(client, page).await {
        Ok(p) => {
            eprintln!("{}", t!(PageNowPrivate, page = page));
            Ok(Some(p))
        }
        Err(e) if flags.make_private => {
            Err(anyhow::Error::new(e).context(t!(CtxMakePrivate, page = page)))
        }
        Err(e) => {
            eprintln!(
                "{}",
                t!(PageMakePrivateFailed, page = page, error = said(&e))
            );
            Ok(Some(privacy))
        }
    }
}

/// Asks on stderr and reads one line; anything but yes (or the end of input) is no.
fn ask_yes_no(question: &str) -> Result<bool> {
    eprint!("{question} ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let n = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context(t!(CtxStdin))?;
    if n == 0 {
        eprintln!();
    }
    Ok(is_yes(&line))
}

fn is_yes(answer: &str) -> bool {
    matches!(
        answer.trim().to_lowercase().as_str(),
        "y" | "yes" | "д" | "да"
    )
}

#[cfg(test)]
mod tests {
    use super::is_yes;

    #[test]
    fn only_a_clear_yes_changes_the_page() {
        for yes in ["y", "Y", "yes", " YES \n", "д", "Да"] {
            assert!(is_yes(yes), "{yes:?} is yes");
        }
        for no in ["", "\n", "n", "no", "нет", "maybe", "yess"] {
            assert!(!is_yes(no), "{no:?} keeps the page as it is");
        }
    }
}
