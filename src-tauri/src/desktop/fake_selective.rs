//! The fake backend's selective sync: the "page" of a folder is what the folder holds on disk
//! (every visible subfolder and file), the choice is kept in memory, and it is read and changed
//! with the same core calls the real backend makes (`tunnel_core::selective`). Nothing on disk
//! is removed (the fake never syncs for real).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tunnel_core::manifest::{EntryKind, FileEntry};
use tunnel_core::name_rules::NameRules;
use tunnel_core::rel_path::RelPath;
use tunnel_core::selective::{self, FolderChoice};

use crate::app::app_error::AppError;

/// Most entries the fake reads from one folder (a big folder is shown in part).
const MAX_ENTRIES: usize = 20_000;

/// Each folder's excluded paths.
#[derive(Default)]
pub struct FakeChoices {
    excluded: Mutex<HashMap<PathBuf, BTreeSet<RelPath>>>,
}

impl FakeChoices {
    /// What `folder` excludes and the subfolders it holds.
    pub fn choice(&self, folder: &Path) -> FolderChoice {
        let set = self.set_of(folder);
        let page = page_of(folder);
        FolderChoice {
            subfolders: selective::subfolders_of(page.iter(), &set, NameRules::EXACT),
            excluded: set.into_iter().collect(),
        }
    }

    /// Exclude or include `subpath` of `folder`; the new choice.
    pub fn set(
        &self,
        folder: &Path,
        subpath: &str,
        excluded: bool,
    ) -> Result<FolderChoice, AppError> {
        let rel = RelPath::new(subpath).map_err(|e| {
            AppError::invalid(format!("{subpath:?} is not a path in the folder: {e}"))
        })?;
        let known: BTreeSet<RelPath> = page_of(folder).into_iter().map(|e| e.path).collect();
        {
            let mut all = self.excluded.lock().unwrap_or_else(|p| p.into_inner());
            let set = all.entry(folder.to_path_buf()).or_default();
            if excluded {
                selective::exclude(set, &rel, NameRules::EXACT);
            } else {
                selective::include(set, &rel, &known, NameRules::EXACT);
            }
        }
        Ok(self.choice(folder))
    }

    /// Forget a folder that is no longer tracked.
    pub fn forget(&self, folder: &Path) {
        self.excluded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(folder);
    }

    fn set_of(&self, folder: &Path) -> BTreeSet<RelPath> {
        self.excluded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(folder)
            .cloned()
            .unwrap_or_default()
    }
}

/// The visible files and folders below `root`, as page entries.
fn page_of(root: &Path) -> Vec<FileEntry> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if out.len() >= MAX_ENTRIES {
                return out;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(kind) = e.file_type() else { continue };
            if name.starts_with('.') || kind.is_symlink() {
                continue;
            }
            let Ok(path) = RelPath::from_native(root, &e.path()) else {
                continue;
            };
            let size = if kind.is_file() {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            } else {
                0
            };
            if kind.is_dir() {
                stack.push(e.path());
            }
            out.push(FileEntry {
                path,
                kind: if kind.is_dir() {
                    EntryKind::Dir
                } else {
                    EntryKind::File
                },
                deleted: false,
                size,
                mtime_ns: 0,
                sha256: None,
                version: 1,
                device: "fake".into(),
                chunks: Default::default(),
            });
        }
    }
    out
}
