//! Errors in the reader's language, at the edge (issue 17 item 5). The libraries word their
//! errors in English (`thiserror` messages that logs and tests read); here each error type
//! that knows its fields is worded again from the catalogue, and a context string made with
//! the catalogue is already in the reader's language. In English the text is exactly the
//! chain `{e:#}` has always printed; in Russian a library's own detail (a server's answer, an
//! operating-system message) stays as it came.

use std::error::Error as StdError;
use std::fmt::Display;

use tunnel_core::conflicts::ConflictError;
use tunnel_core::engine::EngineError;
use tunnel_core::error::SyncError;
use tunnel_core::remote::RemoteError;

use super::{Lang, Msg};
use crate::app::engine_host::AlreadyRunning;
use crate::app::opened_config::{NotConfigured, TrackError};

/// The whole chain of `e` for a person in `lang` ("context: cause: cause").
pub fn chain_text(e: &anyhow::Error, lang: Lang) -> String {
    match lang {
        Lang::En => format!("{e:#}"),
        Lang::Ru => {
            let mut parts: Vec<String> = Vec::new();
            for cause in e.chain() {
                match worded(cause, lang) {
                    Some(text) => {
                        // The worded text says what its sources said.
                        parts.push(text);
                        break;
                    }
                    None => parts.push(cause.to_string()),
                }
            }
            parts.dedup();
            parts.join(": ")
        }
    }
}

/// One error (not its chain's context) for a person in `lang`.
pub fn error_text(e: &(dyn StdError + 'static), lang: Lang) -> String {
    match lang {
        Lang::En => e.to_string(),
        Lang::Ru => worded(e, lang).unwrap_or_else(|| e.to_string()),
    }
}

fn render(msg: Msg, lang: Lang, params: &[(&str, &dyn Display)]) -> String {
    msg.render(lang, params)
}

/// The catalogue's wording of an error this edge knows, with its sources; `None` for others.
fn worded(cause: &(dyn StdError + 'static), lang: Lang) -> Option<String> {
    if let Some(e) = cause.downcast_ref::<RemoteError>() {
        return Some(remote(e, lang));
    }
    if let Some(e) = cause.downcast_ref::<SyncError>() {
        return sync(e, lang);
    }
    if let Some(e) = cause.downcast_ref::<EngineError>() {
        return Some(match e {
            EngineError::Stopped => render(Msg::ErrServiceStopped, lang, &[]),
            EngineError::UnknownFolder(p) => {
                render(Msg::ErrUnknownFolder, lang, &[("path", &p.display())])
            }
            EngineError::Sync(s) => sync(s, lang).unwrap_or_else(|| s.to_string()),
        });
    }
    if let Some(e) = cause.downcast_ref::<TrackError>() {
        return match e {
            TrackError::NotTracked(p) => Some(render(
                Msg::ErrUnknownFolder,
                lang,
                &[("path", &p.display())],
            )),
            TrackError::Io(inner) | TrackError::Refused(inner) => Some(chain_text(inner, lang)),
        };
    }
    if let Some(NotConfigured(path)) = cause.downcast_ref::<NotConfigured>() {
        return Some(render(
            Msg::ErrNotConfigured,
            lang,
            &[("path", &path.display())],
        ));
    }
    if let Some(AlreadyRunning(path)) = cause.downcast_ref::<AlreadyRunning>() {
        return Some(render(
            Msg::ErrAlreadyRunning,
            lang,
            &[("path", &path.display())],
        ));
    }
    if let Some(e) = cause.downcast_ref::<ConflictError>() {
        return match e {
            ConflictError::NotAConflict(p) => {
                Some(render(Msg::ErrNotAConflict, lang, &[("path", p)]))
            }
            ConflictError::Ambiguous { path, copies } => Some(render(
                Msg::ErrAmbiguousConflict,
                lang,
                &[("path", path), ("count", copies)],
            )),
            ConflictError::Changed(p) => {
                Some(render(Msg::ErrConflictChanged, lang, &[("path", p)]))
            }
            #[allow(unreachable_patterns)]
            _ => None,
        };
    }
    None
}

fn remote(e: &RemoteError, lang: Lang) -> String {
    let d = |msg: Msg, detail: &dyn Display| render(msg, lang, &[("detail", detail)]);
    match e {
        RemoteError::Auth(m) => d(Msg::ErrAuth, m),
        RemoteError::Permission(m) => d(Msg::ErrPermission, m),
        RemoteError::NotFound(m) => d(Msg::ErrNotFound, m),
        RemoteError::Conflict { .. } => render(Msg::ErrHeadChanged, lang, &[]),
        RemoteError::TooLarge { message, .. } => d(Msg::ErrTooLarge, message),
        RemoteError::Certificate(m) => d(Msg::ErrCertificate, m),
        RemoteError::Unreachable(m) => d(Msg::ErrUnreachable, m),
        RemoteError::RateLimited { message, .. } => d(Msg::ErrRateLimited, message),
        RemoteError::Server { status, message } => render(
            Msg::ErrServer,
            lang,
            &[("status", status), ("detail", message)],
        ),
        RemoteError::Protocol(m) => d(Msg::ErrProtocol, m),
        RemoteError::Integrity(m) => d(Msg::ErrIntegrity, m),
        RemoteError::SourceChanged(p) => {
            render(Msg::ErrSourceChanged, lang, &[("path", &p.display())])
        }
        RemoteError::Io(io) => d(Msg::ErrLocalIo, io),
        #[allow(unreachable_patterns)] // non-exhaustive: a new error keeps its own words
        other => other.to_string(),
    }
}

fn sync(e: &SyncError, lang: Lang) -> Option<String> {
    Some(match e {
        SyncError::Remote(r) => remote(r, lang),
        SyncError::Manifest(m) => render(Msg::ErrManifest, lang, &[("detail", m)]),
        SyncError::Journal(j) => render(Msg::ErrJournal, lang, &[("detail", j)]),
        SyncError::FolderMissing(p) => {
            render(Msg::ErrFolderMissing, lang, &[("path", &p.display())])
        }
        SyncError::FolderReplaced { folder, found } => render(
            Msg::ErrFolderReplaced,
            lang,
            &[("folder", &folder.display()), ("found", found)],
        ),
        SyncError::MassDeletion {
            folder,
            count,
            total,
        } => render(
            Msg::ErrMassDeletion,
            lang,
            &[
                ("folder", &folder.display()),
                ("count", count),
                ("total", total),
            ],
        ),
        SyncError::CommitContention(n) => render(Msg::ErrCommitContention, lang, &[("count", n)]),
        SyncError::UnknownFolder(f) => render(Msg::ErrUnknownFolder, lang, &[("path", f)]),
        SyncError::Internal(m) => render(Msg::ErrInternal, lang, &[("detail", m)]),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;
    use std::path::PathBuf;

    #[test]
    fn english_is_the_chain_as_before() {
        let e = anyhow::Error::new(RemoteError::Auth("wrong password".into()))
            .context("checking page 1");
        assert_eq!(chain_text(&e, Lang::En), format!("{e:#}"));
    }

    #[test]
    fn russian_words_the_known_errors_and_keeps_the_detail() {
        let e = Err::<(), _>(RemoteError::Auth("wrong password".into()))
            .context(Msg::CtxCheckingPage.render(Lang::Ru, &[("page", &"1")]))
            .unwrap_err();
        assert_eq!(
            chain_text(&e, Lang::Ru),
            "проверка страницы 1: ошибка входа: wrong password"
        );
        let e = anyhow::Error::new(SyncError::MassDeletion {
            folder: PathBuf::from("/f"),
            count: 9,
            total: 10,
        });
        assert!(chain_text(&e, Lang::Ru).starts_with("эта синхронизация удалила бы 9 из 10"));
        let e = anyhow::Error::new(NotConfigured(PathBuf::from("/c/config.toml")));
        assert!(chain_text(&e, Lang::Ru).contains("ещё не настроен"));
        let e = anyhow::Error::new(TrackError::NotTracked(PathBuf::from("/f")));
        assert_eq!(chain_text(&e, Lang::Ru), "/f — не синхронизируемая папка");
        // A SyncError wrapping a RemoteError says it once.
        let e = anyhow::Error::new(SyncError::from(RemoteError::Unreachable("refused".into())));
        assert_eq!(chain_text(&e, Lang::Ru), "сервер недоступен: refused");
    }
}
