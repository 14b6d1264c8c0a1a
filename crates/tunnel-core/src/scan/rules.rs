//! What the scanner leaves out on purpose: hidden and temporary names, `.sbtignore` files at
//! any level and the configured extra patterns, and [`SkipRules`], which keeps those rules to
//! judge paths that are not here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::{ScanError, SkipReason, IGNORE_FILE};
use crate::fs_safe::attrs;
use crate::manifest::EntryKind;
use crate::rel_path::RelPath;

/// The rules that decide what the scanner leaves out, kept to judge a path that does not exist
/// here: an entry arriving from another device (with other ignore rules, or hostile) that this
/// device would never upload is not written here either.
#[derive(Clone, Debug, Default)]
pub struct SkipRules {
    pub(super) root: PathBuf,
    /// The `.sbtignore` matchers found, by the folder holding them (`""`: the root).
    pub(super) by_dir: HashMap<String, Arc<Gitignore>>,
    pub(super) extra: Option<Arc<Gitignore>>,
}

impl SkipRules {
    /// Why the scanner would leave `path` (of `kind`) out, were it here: a hidden or
    /// temporary name anywhere in it, or an ignore rule on it or on a folder above it.
    /// Names (`InvalidName`) are not judged: a [`RelPath`] is valid.
    pub fn skip_reason(&self, path: &RelPath, kind: EntryKind) -> Option<SkipReason> {
        let parts: Vec<&str> = path.components().collect();
        if let Some(reason) = parts.iter().find_map(|name| name_skip_reason(name)) {
            return Some(reason);
        }
        if self.by_dir.is_empty() && self.extra.is_none() {
            return None;
        }
        let text = path.as_str();
        let mut matchers: Vec<Arc<Gitignore>> = Vec::new();
        let mut native = self.root.clone();
        let mut end = 0;
        for (i, name) in parts.iter().enumerate() {
            let dir_so_far = &text[..end];
            if let Some(m) = self.by_dir.get(dir_so_far) {
                matchers.push(Arc::clone(m));
            }
            end = if i == 0 {
                name.len()
            } else {
                end + 1 + name.len()
            };
            native.push(name);
            let is_dir = i + 1 < parts.len() || kind == EntryKind::Dir;
            if is_ignored(&native, is_dir, &matchers, self.extra.as_deref()) {
                return Some(SkipReason::Ignored);
            }
        }
        None
    }
}

impl SkipRules {
    /// Rules for `root` with the configured `extra` patterns and no `.sbtignore` yet (add them
    /// with [`SkipRules::add_dir_rules`], parents before children).
    pub(crate) fn with_extra(root: &Path, extra: &[String]) -> Result<SkipRules, ScanError> {
        Ok(SkipRules {
            root: root.to_owned(),
            by_dir: HashMap::new(),
            extra: build_extra(root, extra)?.map(Arc::new),
        })
    }

    /// Take `text` as the `.sbtignore` of the folder `dir` (`""`: the root).
    pub(crate) fn add_dir_rules(&mut self, dir: &str, text: &str) -> Result<(), String> {
        let native = if dir.is_empty() {
            self.root.clone()
        } else {
            dir.split('/').fold(self.root.clone(), |p, n| p.join(n))
        };
        let m = parse_ignore_text(&native, text)?;
        self.by_dir.insert(dir.to_string(), Arc::new(m));
        Ok(())
    }
}

/// Why a name is left out wherever it stands: hidden (leading `.`) or temporary.
pub(crate) fn name_skip_reason(name: &str) -> Option<SkipReason> {
    if name.starts_with('.') {
        Some(SkipReason::Hidden)
    } else if is_temporary_name(name) {
        Some(SkipReason::Temporary)
    } else {
        None
    }
}

/// Why an entry is left out for its Windows attributes (0 on Unix: never): any reparse point
/// (a symbolic link, junction, mount point or cloud placeholder; see
/// [`crate::fs_safe::attrs`]) as a link, before a hidden or system attribute.
pub(crate) fn attribute_skip_reason(attributes: u32) -> Option<SkipReason> {
    if attrs::is_reparse_point(attributes) {
        Some(SkipReason::Symlink)
    } else if attrs::is_hidden(attributes) {
        Some(SkipReason::Hidden)
    } else {
        None
    }
}

/// True for names of temporary, editor and partial-download files.
pub fn is_temporary_name(name: &str) -> bool {
    let lower = name.to_lowercase();
    name.starts_with('~')
        || name.ends_with('~')
        || [".tmp", ".swp", ".swx", ".part"]
            .iter()
            .any(|s| lower.ends_with(s))
        || (name.starts_with(".~lock.") && name.ends_with('#'))
        || (name.starts_with(".sbt-") && name.ends_with(".partial"))
}

/// Read `dir/.sbtignore` when it exists: its rules and its text. Errors are reasons to treat
/// the folder as unreadable.
pub(super) fn load_ignore_file(dir: &Path) -> Result<Option<(Gitignore, String)>, String> {
    let path = dir.join(IGNORE_FILE);
    let text = match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {IGNORE_FILE}: {e}")),
        Ok(m) if !m.is_file() => return Err(format!("{IGNORE_FILE} is not a regular file")),
        Ok(_) => {
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {IGNORE_FILE}: {e}"))?
        }
    };
    let rules = parse_ignore_text(dir, &text)?;
    Ok(Some((rules, text)))
}

/// Parse the text of `dir/.sbtignore`.
pub(crate) fn parse_ignore_text(dir: &Path, text: &str) -> Result<Gitignore, String> {
    let path = dir.join(IGNORE_FILE);
    let mut builder = GitignoreBuilder::new(dir);
    for (i, line) in text.lines().enumerate() {
        builder
            .add_line(Some(path.clone()), line)
            .map_err(|e| format!("{IGNORE_FILE} line {}: {e}", i + 1))?;
    }
    builder.build().map_err(|e| format!("{IGNORE_FILE}: {e}"))
}

pub(super) fn build_extra(
    root: &Path,
    patterns: &[String],
) -> Result<Option<Gitignore>, ScanError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut builder = GitignoreBuilder::new(root);
    for p in patterns {
        builder
            .add_line(None, p)
            .map_err(|e| ScanError::BadIgnore {
                pattern: p.clone(),
                message: e.to_string(),
            })?;
    }
    builder.build().map(Some).map_err(|e| ScanError::BadIgnore {
        pattern: patterns.join(", "),
        message: e.to_string(),
    })
}

/// The deepest `.sbtignore` with an opinion decides (a `!pattern` re-includes); the configured
/// patterns come last.
pub(super) fn is_ignored(
    path: &Path,
    is_dir: bool,
    matchers: &[Arc<Gitignore>],
    extra: Option<&Gitignore>,
) -> bool {
    for m in matchers.iter().rev() {
        let r = m.matched(path, is_dir);
        if r.is_ignore() {
            return true;
        }
        if r.is_whitelist() {
            return false;
        }
    }
    extra.is_some_and(|e| e.matched(path, is_dir).is_ignore())
}
