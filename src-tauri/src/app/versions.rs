//! The desktop app's Versions view (issue 16 item 3) over the page's history: every path the
//! retained history knows (deleted ones too), the versions of one path, and a restore — a
//! version of a path into place or as a copy into another folder, or the whole folder as it
//! was at a time, with a dry run first. The same core calls the command line's `history` and
//! `restore` make (`tunnel_core::sync::Syncer::{history_paths, path_history, restore}`).
//!
//! Invariants: a copy goes only to a full path outside the synced folder (nothing there is
//! overwritten: the core refuses to); the view's times are read by the core's one parser
//! (`tunnel_core::local_time`), in this machine's local time like the window's.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use tunnel_core::journal::FolderRecord;
use tunnel_core::rel_path::RelPath;
use tunnel_core::sync::{HistoryPath, PathVersion, RestoreReport, RestoreTarget, VersionPick};

use super::app_error::{blocking, AppError};
use super::opened_config::OpenedConfig;
use crate::i18n::t;

/// Which past state a restore brings back, as the window asks for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestorePick {
    /// A version from [`versions`]: a file's own counter, or a folder's commit.
    Version(u64),
    /// The state at a time as a person writes it (local `2026-03-01 14:30`, or RFC 3339).
    At(String),
}

impl RestorePick {
    /// The core's pick; a time that cannot be read is refused input.
    pub(crate) fn to_core(&self) -> Result<VersionPick, AppError> {
        match self {
            RestorePick::Version(n) => Ok(VersionPick::Version(*n)),
            RestorePick::At(text) => tunnel_core::local_time::parse_time(text)
                .map(VersionPick::At)
                .map_err(|_| AppError::invalid(t!(VerBadTime, text = text))),
        }
    }
}

/// A tracked folder and, under it, the path the window names (`None` or empty: the folder).
struct Subject {
    folder: FolderRecord,
    rel: Option<RelPath>,
}

impl Subject {
    /// The full path, for messages.
    fn shown(&self) -> PathBuf {
        match &self.rel {
            Some(r) => r.to_native(&self.folder.path),
            None => self.folder.path.clone(),
        }
    }
}

/// The tracked folder at `folder` and the relative `path` below it.
fn subject(app: &OpenedConfig, folder: &Path, path: Option<&str>) -> Result<Subject, AppError> {
    let canonical = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf());
    let record = app
        .with_journal(|j| Ok(j.folder_by_path(&canonical)?))
        .map_err(|e| AppError::from_anyhow(&e))?
        .ok_or_else(|| AppError::invalid(t!(DeskNotSyncedDot, path = folder.display())))?;
    let rel = path
        .map(|p| p.trim_matches('/'))
        .filter(|p| !p.is_empty())
        .map(|p| {
            RelPath::new(p).map_err(|e| AppError::invalid(t!(DeskNotAPath, path = p, error = e)))
        })
        .transpose()?;
    Ok(Subject {
        folder: record,
        rel,
    })
}

/// The folder for a copy: a full path outside the synced folder, created when missing.
pub(crate) fn copy_target(folder: &Path, to: &Path) -> Result<PathBuf, AppError> {
    if !to.is_absolute() {
        return Err(AppError::invalid(t!(VerCopyNotFull, path = to.display())));
    }
    // Refused before anything is created in the synced folder; checked again once the path
    // is resolved (a link may lead inside).
    if to.starts_with(folder) {
        return Err(AppError::invalid(t!(VerCopyInside, path = to.display())));
    }
    std::fs::create_dir_all(to).map_err(|e| {
        AppError::new(
            tunnel_core::error::ErrorCode::Local,
            t!(DeskCouldNotCreate, path = to.display(), error = e),
        )
    })?;
    let to = std::fs::canonicalize(to).map_err(|e| {
        AppError::new(
            tunnel_core::error::ErrorCode::Local,
            t!(CtxReading, path = to.display()) + &format!(": {e}"),
        )
    })?;
    if to.starts_with(folder) {
        return Err(AppError::invalid(t!(VerCopyInside, path = to.display())));
    }
    Ok(to)
}

/// Every path the retained history of the folder at `folder` knows, by path.
pub async fn history_paths(
    app: &Arc<OpenedConfig>,
    folder: &Path,
) -> Result<Vec<HistoryPath>, AppError> {
    let (s, client) = prepare(app, folder, None).await?;
    let store = client.store(s.folder.page_id.as_str());
    app.syncer()
        .history_paths(s.folder.id, &store)
        .await
        .with_context(|| t!(HistCtxReading, path = s.shown().display()))
        .map_err(|e| AppError::from_anyhow(&e))
}

/// The retained versions of `path` in the folder at `folder` (`None`: the whole folder),
/// newest first.
pub async fn versions(
    app: &Arc<OpenedConfig>,
    folder: &Path,
    path: Option<&str>,
) -> Result<Vec<PathVersion>, AppError> {
    let (s, client) = prepare(app, folder, path).await?;
    let store = client.store(s.folder.page_id.as_str());
    let mut found = app
        .syncer()
        .path_history(s.folder.id, &store, s.rel.as_ref())
        .await
        .with_context(|| t!(HistCtxReading, path = s.shown().display()))
        .map_err(|e| AppError::from_anyhow(&e))?;
    found.reverse();
    Ok(found)
}

/// Restore `path` of the folder at `folder` (`None`: the whole folder) as `pick` says, into
/// place or into the folder `to`; with `dry_run`, only say what would change.
pub async fn restore(
    app: &Arc<OpenedConfig>,
    folder: &Path,
    path: Option<&str>,
    pick: &RestorePick,
    to: Option<&Path>,
    dry_run: bool,
) -> Result<RestoreReport, AppError> {
    let pick = pick.to_core()?;
    let (s, client) = prepare(app, folder, path).await?;
    let target = match to {
        None => RestoreTarget::InPlace,
        Some(dir) => {
            let (root, dir) = (s.folder.path.clone(), dir.to_path_buf());
            RestoreTarget::Into(blocking(move || copy_target(&root, &dir)).await?)
        }
    };
    let store = client.store(s.folder.page_id.as_str());
    app.syncer()
        .restore(s.folder.id, &store, s.rel.as_ref(), pick, &target, dry_run)
        .await
        .with_context(|| t!(RestCtx, path = s.shown().display()))
        .map_err(|e| AppError::from_anyhow(&e))
}

/// The subject and a client of the saved connection (the secret may be in the OS keyring,
/// the journal is SQLite: on a blocking thread).
async fn prepare(
    app: &Arc<OpenedConfig>,
    folder: &Path,
    path: Option<&str>,
) -> Result<(Subject, tunnel_confluence::ConfluenceClient), AppError> {
    let (app, folder, path) = (
        Arc::clone(app),
        folder.to_path_buf(),
        path.map(str::to_owned),
    );
    blocking(move || {
        let s = subject(&app, &folder, path.as_deref())?;
        let client = app.client().map_err(AppError::from)?;
        Ok((s, client))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_is_read_as_people_write_it_and_a_bad_one_is_refused_input() {
        assert_eq!(
            RestorePick::At("2026-03-01T14:30:00Z".into()).to_core(),
            Ok(VersionPick::At(1_772_375_400_000))
        );
        assert!(matches!(
            RestorePick::At("2026-03-01 14:30".into()).to_core(),
            Ok(VersionPick::At(_))
        ));
        let refused = RestorePick::At("yesterday-ish".into())
            .to_core()
            .expect_err("not a time");
        assert_eq!(refused.code, tunnel_core::error::ErrorCode::Invalid);
        assert!(
            refused.message.contains("yesterday-ish"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn a_copy_goes_only_to_a_full_path_outside_the_synced_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let synced = std::fs::canonicalize(dir.path())
            .expect("canonical")
            .join("synced");
        std::fs::create_dir_all(&synced).expect("mkdir");
        let inside = copy_target(&synced, &synced.join("sub")).expect_err("inside");
        assert_eq!(inside.code, tunnel_core::error::ErrorCode::Invalid);
        assert!(
            !synced.join("sub").exists(),
            "nothing is made inside the synced folder"
        );
        let relative = copy_target(&synced, Path::new("copies")).expect_err("relative");
        assert_eq!(relative.code, tunnel_core::error::ErrorCode::Invalid);
        let outside = synced.parent().expect("parent").join("copies");
        assert_eq!(
            copy_target(&synced, &outside).expect("outside"),
            outside,
            "an outside folder is made when missing"
        );
        assert!(outside.is_dir());
    }
}
