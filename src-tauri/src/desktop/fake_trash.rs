//! The fake backend's local trash, for the Trash view's UI tests: the first time a folder's
//! trash is listed, two plausible items are put into its real `.sber-tunnel-trash` on disk —
//! [`DELETED_FILE`], deleted by another device two hours ago, and the previous content of
//! [`REPLACED_FILE`], replaced by that device's edit a day ago. Their records (why, whose
//! change) live here, as the journal holds them for the real backend; listing, putting back
//! and emptying are the core's own calls on disk (so "never overwrite" is the real rule).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tunnel_core::clock::unix_now;
use tunnel_core::journal::{TrashReason, TrashRecord};
use tunnel_core::rel_path::RelPath;
use tunnel_core::sync::TRASH_DIR;

use crate::app::app_error::AppError;
use crate::app::trash_view::{Emptied, FolderTrash, PutBack};
use crate::i18n::t;

/// The file the fake's trash says another device deleted.
pub const DELETED_FILE: &str = "old-budget.csv";
/// The file whose previous content the fake's trash keeps (another device edited it).
pub const REPLACED_FILE: &str = "report.txt";
/// The device whose changes put the canned items in the trash.
const OTHER_DEVICE: &str = "laptop";
/// The retention the fake shows (the real default).
const KEEP_DAYS: u64 = 30;

/// The trash records per folder; a folder is seeded the first time it is listed.
#[derive(Default)]
pub struct FakeTrash {
    records: Mutex<HashMap<PathBuf, Vec<TrashRecord>>>,
}

/// What a canned item holds on disk.
fn canned_content(path: &str) -> String {
    format!("{path} as it was before {OTHER_DEVICE}'s change\n")
}

/// Put one canned item into `folder`'s trash; its record.
fn seed_one(folder: &Path, path: &str, at: i64, reason: TrashReason) -> Option<TrashRecord> {
    let day = tunnel_core::sync::trash_time(at).get(..10)?.to_owned();
    let in_trash = format!("{day}/{path}");
    let file = folder.join(TRASH_DIR).join(&day).join(path);
    std::fs::create_dir_all(file.parent()?).ok()?;
    let content = canned_content(path);
    std::fs::write(&file, &content).ok()?;
    Some(TrashRecord {
        path: RelPath::new(path).ok()?,
        in_trash,
        at,
        reason,
        device: Some(OTHER_DEVICE.into()),
        size: content.len() as u64,
    })
}

impl FakeTrash {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Vec<TrashRecord>>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The records of `folder`, seeding its trash the first time.
    fn records(&self, folder: &Path) -> Vec<TrashRecord> {
        self.lock()
            .entry(folder.to_path_buf())
            .or_insert_with(|| {
                let now = unix_now();
                [
                    seed_one(folder, DELETED_FILE, now - 2 * 3600, TrashReason::Deleted),
                    seed_one(
                        folder,
                        REPLACED_FILE,
                        now - 24 * 3600,
                        TrashReason::Replaced,
                    ),
                ]
                .into_iter()
                .flatten()
                .collect()
            })
            .clone()
    }

    fn items(&self, folder: &Path) -> Result<Vec<tunnel_core::sync::TrashItem>, AppError> {
        let records = self.records(folder);
        let (items, stale) = tunnel_core::sync::list_trash(folder, &records)
            .map_err(|e| AppError::internal(e.to_string()))?;
        self.forget(folder, &stale);
        Ok(items)
    }

    fn forget(&self, folder: &Path, gone: &[String]) {
        if let Some(r) = self.lock().get_mut(folder) {
            r.retain(|r| !gone.contains(&r.in_trash));
        }
    }

    /// Every folder's trash.
    pub fn list(&self, folders: &[PathBuf]) -> Vec<FolderTrash> {
        folders
            .iter()
            .map(|f| FolderTrash {
                folder: f.clone(),
                keep_days: KEEP_DAYS,
                items: self.items(f).unwrap_or_default(),
            })
            .collect()
    }

    /// Put an item back, by the core's rule (never over a file).
    pub fn put_back(&self, folder: &Path, in_trash: &str) -> Result<PutBack, AppError> {
        let item = self
            .items(folder)?
            .into_iter()
            .find(|i| i.in_trash == in_trash)
            .ok_or_else(|| AppError::invalid(t!(TrashItemGone, path = in_trash)))?;
        let original = folder.join(&item.path);
        let placed = tunnel_core::sync::restore_from_trash(folder, &item, None)
            .map_err(|e| AppError::internal(e.to_string()))?;
        self.forget(folder, std::slice::from_ref(&item.in_trash));
        Ok(PutBack {
            beside: placed.file_name() != original.file_name(),
            original,
            placed,
        })
    }

    /// Delete everything in a folder's trash.
    pub fn empty(&self, folder: &Path) -> Result<Emptied, AppError> {
        let items = self.items(folder)?;
        let gone = tunnel_core::sync::empty_trash(folder, &items, None, unix_now())
            .map_err(|e| AppError::internal(e.to_string()))?;
        self.forget(folder, &gone);
        Ok(Emptied {
            folder: folder.to_path_buf(),
            removed: gone.len(),
        })
    }
}
