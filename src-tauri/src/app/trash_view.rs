//! The desktop app's Trash view (issue 16 item 4) over each synced folder's local trash
//! (`.sber-tunnel-trash`): what another device's deletion removed here and the previous
//! content of files another device's edit replaced, with when, why and whose change it was;
//! an item put back, or a folder's trash emptied. The same core calls the command line's
//! `trash` makes (`tunnel_core::sync::{list_trash, restore_from_trash, empty_trash}`), and the
//! same journal bookkeeping ([`folder_items`] is shared with `cli/trash.rs`).
//!
//! Invariants: an item is put back at its original path, or beside it as
//! `name (restored).ext` when that path is taken — nothing is ever overwritten (the core
//! refuses to); the window names an item by its place in the trash, and only an item the
//! listing shows is touched (a name the listing does not know is refused input).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;
use tunnel_core::journal::FolderRecord;
use tunnel_core::rel_path::RelPath;
use tunnel_core::sync::TrashItem;

use super::app_error::AppError;
use super::opened_config::OpenedConfig;
use crate::i18n::t;

/// A tracked folder's trash as the view shows it.
#[derive(Clone, Debug, Serialize)]
pub struct FolderTrash {
    /// The synced folder.
    pub folder: PathBuf,
    /// How many days an item stays before it is deleted for good (`sync.trash-keep-days`).
    pub keep_days: u64,
    /// The items, newest first.
    pub items: Vec<TrashItem>,
}

/// What putting an item back did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PutBack {
    /// The item's original path (full).
    pub original: PathBuf,
    /// Where the file is now (full).
    pub placed: PathBuf,
    /// The original path was taken: the file went beside it under a `(restored)` name.
    pub beside: bool,
}

/// What emptying a folder's trash did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Emptied {
    /// The synced folder.
    pub folder: PathBuf,
    /// How many files were deleted for good.
    pub removed: usize,
}

/// A folder's trash joined with the journal's records, newest first; the records of files no
/// longer there are forgotten.
pub(crate) fn folder_items(app: &OpenedConfig, f: &FolderRecord) -> anyhow::Result<Vec<TrashItem>> {
    let records = app.with_journal(|j| Ok(j.trash_records(f.id)?))?;
    let (items, stale) = tunnel_core::sync::list_trash(&f.path, &records)
        .with_context(|| t!(CtxReadTrash, path = f.path.display()))?;
    app.with_journal(|j| Ok(j.forget_trashed(f.id, &stale)?))?;
    Ok(items)
}

/// Every tracked folder's trash, by folder.
pub fn list(app: &OpenedConfig) -> Result<Vec<FolderTrash>, AppError> {
    let keep_days = app.config.sync.trash_keep_days;
    let folders = app.folders().map_err(|e| AppError::from_anyhow(&e))?;
    folders
        .iter()
        .map(|f| -> Result<FolderTrash, AppError> {
            Ok(FolderTrash {
                folder: f.path.clone(),
                keep_days,
                items: folder_items(app, f).map_err(|e| AppError::from_anyhow(&e))?,
            })
        })
        .collect()
}

/// Put the item `in_trash` (its place in the trash, as listed) of the folder at `folder` back:
/// at its original path, or beside it when that is taken. A put-back file is an ordinary local
/// change: the next sync sends it everywhere.
pub fn put_back(app: &OpenedConfig, folder: &Path, in_trash: &str) -> Result<PutBack, AppError> {
    let f = tracked(app, folder)?;
    let item = folder_items(app, &f)
        .map_err(|e| AppError::from_anyhow(&e))?
        .into_iter()
        .find(|i| i.in_trash == in_trash)
        .ok_or_else(|| AppError::invalid(t!(TrashItemGone, path = in_trash)))?;
    // In the platform's separators (the listing's paths use `/`).
    let original = RelPath::new(&item.path)
        .map(|r| r.to_native(&f.path))
        .unwrap_or_else(|_| f.path.join(&item.path));
    let placed = tunnel_core::sync::restore_from_trash(&f.path, &item, None)
        .with_context(|| t!(CtxRestoring, path = original.display()))
        .map_err(|e| AppError::from_anyhow(&e))?;
    app.with_journal(|j| Ok(j.forget_trashed(f.id, std::slice::from_ref(&item.in_trash))?))
        .map_err(|e| AppError::from_anyhow(&e))?;
    Ok(PutBack {
        beside: placed.file_name() != original.file_name(),
        original,
        placed,
    })
}

/// Delete everything in the trash of the folder at `folder` for good.
pub fn empty(app: &OpenedConfig, folder: &Path) -> Result<Emptied, AppError> {
    let f = tracked(app, folder)?;
    let items = folder_items(app, &f).map_err(|e| AppError::from_anyhow(&e))?;
    let gone =
        tunnel_core::sync::empty_trash(&f.path, &items, None, tunnel_core::clock::unix_now())
            .with_context(|| t!(CtxEmptyTrash, path = f.path.display()))
            .map_err(|e| AppError::from_anyhow(&e))?;
    app.with_journal(|j| Ok(j.forget_trashed(f.id, &gone)?))
        .map_err(|e| AppError::from_anyhow(&e))?;
    Ok(Emptied {
        folder: f.path,
        removed: gone.len(),
    })
}

/// The tracked folder at `folder`; refused input when it is not one.
fn tracked(app: &OpenedConfig, folder: &Path) -> Result<FolderRecord, AppError> {
    let canonical = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf());
    app.with_journal(|j| Ok(j.folder_by_path(&canonical)?))
        .map_err(|e| AppError::from_anyhow(&e))?
        .ok_or_else(|| AppError::invalid(t!(DeskNotSyncedDot, path = folder.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tunnel_core::config::{Config, DeviceConfig};
    use tunnel_core::error::ErrorCode;
    use tunnel_core::ids::PageId;
    use tunnel_core::paths::AppPaths;

    /// An opened configuration in `home` tracking `home/synced`.
    fn tracking(home: &Path) -> (OpenedConfig, PathBuf) {
        let paths = AppPaths::resolve(Some(&home.join("config")), None, home).expect("paths");
        let mut config = Config {
            device: DeviceConfig::generate(),
            ..Config::default()
        };
        config.sync.trash_keep_days = 12;
        std::fs::create_dir_all(&paths.config_dir).expect("config dir");
        let app = OpenedConfig::with_config(paths, config).expect("opened");
        let synced = home.join("synced");
        let page = PageId::parse("4242").expect("page id");
        let record = app.track_folder(&synced, &page).expect("tracked");
        (app, record.path)
    }

    fn put(root: &Path, in_trash: &str, content: &str) {
        let p = root.join(tunnel_core::sync::TRASH_DIR).join(in_trash);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }

    #[test]
    fn items_are_put_back_never_over_a_file_and_the_rest_emptied() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = std::fs::canonicalize(dir.path()).expect("canonical");
        let (app, synced) = tracking(&home);
        put(&synced, "2026-01-02/docs/a.txt", "old a");
        put(&synced, "2026-01-03/docs/a.txt", "newer a");
        put(&synced, "2026-01-03/b.txt", "b");

        let listed = list(&app).expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].folder, synced);
        assert_eq!(listed[0].keep_days, 12, "the configured retention");
        let names: Vec<&str> = listed[0]
            .items
            .iter()
            .map(|i| i.in_trash.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "2026-01-03/docs/a.txt",
                "2026-01-03/b.txt",
                "2026-01-02/docs/a.txt"
            ],
            "newest first"
        );

        let first = put_back(&app, &synced, "2026-01-03/docs/a.txt").expect("put back");
        assert_eq!(first.original, synced.join("docs/a.txt"));
        assert_eq!(first.placed, synced.join("docs").join("a.txt"));
        assert!(!first.beside, "the original path was free");
        let second = put_back(&app, &synced, "2026-01-02/docs/a.txt").expect("put back");
        assert!(second.beside, "the original path is taken now");
        assert_eq!(second.placed, synced.join("docs").join("a (restored).txt"));
        assert_eq!(
            std::fs::read_to_string(synced.join("docs/a.txt")).expect("read"),
            "newer a",
            "never overwritten"
        );
        assert_eq!(
            std::fs::read_to_string(&second.placed).expect("read"),
            "old a"
        );

        let again = put_back(&app, &synced, "2026-01-02/docs/a.txt").expect_err("gone");
        assert_eq!(again.code, ErrorCode::Invalid);
        let outside = put_back(&app, &synced, "../../etc/passwd").expect_err("not listed");
        assert_eq!(outside.code, ErrorCode::Invalid);
        let untracked = empty(&app, &home).expect_err("not a synced folder");
        assert_eq!(untracked.code, ErrorCode::Invalid);

        let emptied = empty(&app, &synced).expect("empty");
        assert_eq!(emptied.removed, 1, "b.txt only");
        assert!(list(&app).expect("list")[0].items.is_empty());
        assert!(
            synced.join("b.txt").symlink_metadata().is_err(),
            "deleted, not put back"
        );
    }
}
