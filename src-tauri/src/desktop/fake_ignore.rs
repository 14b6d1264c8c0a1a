//! The fake backend's ignore rules: a folder's `.sbtignore` is read, previewed and written on
//! disk with the same calls the real backend makes (`crate::app::ignore_rules`); the global
//! patterns are kept in memory (the fake has no configuration file).

use std::path::PathBuf;
use std::sync::Mutex;

use tunnel_core::config::Config;

use crate::app::app_error::AppError;
use crate::app::ignore_rules::{self as rules, FolderPreview, RulesEditor, Target};

/// The global patterns of the fake ("sync.ignore").
#[derive(Default)]
pub struct FakeIgnore {
    config: Mutex<Config>,
}

impl FakeIgnore {
    fn config(&self) -> Config {
        self.config
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn target(folder: Option<PathBuf>) -> Target {
        folder.map_or(Target::Global, Target::Folder)
    }

    /// The editor's view of a folder's rules (tracked: the caller checks) or the global ones.
    pub fn editor(&self, folder: Option<PathBuf>) -> Result<RulesEditor, AppError> {
        rules::editor(&self.config(), &Self::target(folder))
    }

    /// What `text` would change in that folder, or (global) in each of `folders`.
    pub fn preview(
        &self,
        folders: &[PathBuf],
        folder: Option<PathBuf>,
        text: &str,
    ) -> Result<Vec<FolderPreview>, AppError> {
        rules::preview(&self.config(), folders, &Self::target(folder), text)
            .map_err(|e| AppError::from_anyhow(&e))
    }

    /// Save: the folder's `.sbtignore` on disk, or the global patterns in memory.
    pub fn save(&self, folder: Option<PathBuf>, text: &str) -> Result<RulesEditor, AppError> {
        match folder {
            Some(root) => {
                tunnel_core::ignore_rules::save_folder_rules(&root, text)
                    .map_err(|e| AppError::invalid(e.to_string()))?;
                self.editor(Some(root))
            }
            None => {
                let next = rules::with_global(&self.config(), text)?;
                *self
                    .config
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = next;
                self.editor(None)
            }
        }
    }
}
