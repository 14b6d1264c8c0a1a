//! Editing ignore rules (issue 17 item 2): named presets of gitignore lines, adding and
//! removing patterns in a rule text, validating it, a bounded preview of what a proposed rule
//! set would newly exclude or include among the files here, and saving a folder's root
//! `.sbtignore` atomically. The global patterns live in the configuration (`sync.ignore`,
//! validated by [`crate::config::Config::validate`]); saving them is the caller's business.
//!
//! What newly ignored, already synced files do: nothing leaves the page or other devices. The
//! sync leaves an ignored path out of the plan on every side (local, remote and the synced
//! base), so this device neither uploads its later changes nor deletes anything because of the
//! rule; the copy here stays where it is. Other devices keep syncing it among themselves.
//! Un-ignoring it later syncs it again like any file (a conflict copy if both sides changed).
//!
//! The `.sbtignore` file itself has a hidden name, so it is not synced: each device keeps its
//! own rules (see the README's "What is not synced").

mod edit;
mod presets;
mod preview;

pub use edit::{add_pattern, remove_pattern, rule_lines, validate_lines, validate_text};
pub use presets::{apply_preset, has_preset, preset, remove_preset, Preset, PRESETS};
pub use preview::{preview, Preview, Proposed, PREVIEW_LIMIT};

use std::path::Path;

use crate::scan::IGNORE_FILE;

/// A rule text that cannot be used, or a rule file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IgnoreRulesError {
    /// A line is not a valid gitignore pattern.
    #[error("line {line}: invalid ignore pattern {pattern:?}: {message}")]
    BadPattern {
        /// 1-based line number in the text (or the position in a list).
        line: usize,
        /// The pattern.
        pattern: String,
        /// Parser message.
        message: String,
    },
    /// No preset has this name.
    #[error("no preset named {0:?} (one of: {names})", names = presets::names())]
    UnknownPreset(String),
    /// The folder is missing or its rule file cannot be read or written.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: std::path::PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// The text of `root/.sbtignore` ("" when there is none).
pub fn read_folder_rules(root: &Path) -> Result<String, IgnoreRulesError> {
    let path = root.join(IGNORE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(IgnoreRulesError::Io {
            what: "cannot read",
            path,
            source,
        }),
    }
}

/// Validate `text` and write it as `root/.sbtignore` atomically (temporary file beside it,
/// fsync, rename): a reader never sees half a rule set. An empty text (only blanks) removes
/// the file. The folder must exist.
pub fn save_folder_rules(root: &Path, text: &str) -> Result<(), IgnoreRulesError> {
    validate_text(text)?;
    let io = |what, source| IgnoreRulesError::Io {
        what,
        path: root.to_owned(),
        source,
    };
    let meta = std::fs::metadata(root).map_err(|e| io("cannot open the folder", e))?;
    if !meta.is_dir() {
        return Err(io(
            "not a folder:",
            std::io::Error::other("the synced folder is not a folder"),
        ));
    }
    let path = root.join(IGNORE_FILE);
    if text.trim().is_empty() {
        return match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(IgnoreRulesError::Io {
                what: "cannot remove",
                path,
                source,
            }),
        };
    }
    let mut body = text.to_string();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    crate::config::write_atomic(&path, body.as_bytes()).map_err(|source| IgnoreRulesError::Io {
        what: "cannot write",
        path,
        source,
    })
}

#[cfg(test)]
mod tests;
