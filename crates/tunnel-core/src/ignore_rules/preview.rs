//! What a proposed rule set would change among the files here: which existing files and
//! folders today's rules let through but the proposal excludes, and the reverse. Bounded: the
//! counts are exact, only the first [`PREVIEW_LIMIT`] paths are listed, and a folder that
//! changes as a whole is listed once (`build/`), not file by file.

use std::path::Path;

use crate::manifest::EntryKind;
use crate::rel_path::RelPath;
use crate::scan::{SkipReason, SkipRules, IGNORE_FILE};

use super::{validate_lines, validate_text, IgnoreRulesError};

/// How many paths a preview lists in each direction.
pub const PREVIEW_LIMIT: usize = 50;

/// The rule set proposed in place of today's.
#[derive(Clone, Debug)]
pub enum Proposed {
    /// This text as the folder's root `.sbtignore`.
    FolderRules(String),
    /// These patterns as the global `sync.ignore`.
    Global(Vec<String>),
}

/// What a proposal changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Preview {
    /// Files synced today that the proposal excludes.
    pub excluded_files: u64,
    /// Their bytes.
    pub excluded_bytes: u64,
    /// The first of them (the topmost changed path; folders end with `/`).
    pub excluded: Vec<String>,
    /// Files excluded today that the proposal lets through.
    pub included_files: u64,
    /// Their bytes.
    pub included_bytes: u64,
    /// The first of them.
    pub included: Vec<String>,
    /// More paths changed than are listed.
    pub truncated: bool,
    /// Folders that could not be listed (or whose own `.sbtignore` is broken): not judged.
    pub unreadable: u64,
}

/// Compare today's rules for the folder at `root` (its `.sbtignore` files and the global
/// `extra` patterns) with `proposed`, over the files that exist there now.
pub fn preview(
    root: &Path,
    extra: &[String],
    proposed: &Proposed,
) -> Result<Preview, IgnoreRulesError> {
    let io = |source| IgnoreRulesError::Io {
        what: "cannot list",
        path: root.to_owned(),
        source,
    };
    std::fs::read_dir(root).map_err(io)?;
    let bad_global = |e: crate::scan::ScanError| IgnoreRulesError::BadPattern {
        line: 0,
        pattern: String::new(),
        message: e.to_string(),
    };
    let before = SkipRules::with_extra(root, extra).map_err(bad_global)?;
    let after_extra: &[String] = match proposed {
        Proposed::Global(p) => {
            validate_lines(p)?;
            p
        }
        Proposed::FolderRules(t) => {
            validate_text(t)?;
            extra
        }
    };
    let after = SkipRules::with_extra(root, after_extra).map_err(bad_global)?;
    let mut walk = Walk {
        root,
        proposed,
        before,
        after,
        out: Preview::default(),
    };
    walk.dir("")?;
    Ok(walk.out)
}

struct Walk<'a> {
    root: &'a Path,
    proposed: &'a Proposed,
    before: SkipRules,
    after: SkipRules,
    out: Preview,
}

impl Walk<'_> {
    /// Judge everything in the folder `dir` (rules of the folders above already taken).
    fn dir(&mut self, dir: &str) -> Result<(), IgnoreRulesError> {
        let native = if dir.is_empty() {
            self.root.to_path_buf()
        } else {
            dir.split('/')
                .fold(self.root.to_path_buf(), |p, n| p.join(n))
        };
        let today = std::fs::read_to_string(native.join(IGNORE_FILE)).unwrap_or_default();
        let proposed = match (dir.is_empty(), self.proposed) {
            (true, Proposed::FolderRules(t)) => t.as_str(),
            _ => today.as_str(),
        };
        if self.before.add_dir_rules(dir, &today).is_err() {
            self.out.unreadable += 1;
            return Ok(());
        }
        // The proposal was validated; only a nested file can be broken, and then both are.
        if self.after.add_dir_rules(dir, proposed).is_err() {
            self.out.unreadable += 1;
            return Ok(());
        }
        let Ok(list) = std::fs::read_dir(&native) else {
            self.out.unreadable += 1;
            return Ok(());
        };
        let mut names: Vec<(String, std::fs::Metadata)> = list
            .filter_map(Result::ok)
            .filter_map(|e| Some((e.file_name().into_string().ok()?, e.metadata().ok()?)))
            .collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, meta) in names {
            let text = if dir.is_empty() {
                name.clone()
            } else {
                format!("{dir}/{name}")
            };
            let Ok(rel) = RelPath::new(&text) else {
                continue;
            };
            let kind = if meta.is_dir() {
                EntryKind::Dir
            } else if meta.is_file() {
                EntryKind::File
            } else {
                continue; // links and special files are never synced
            };
            let was = self.before.skip_reason(&rel, kind);
            let will = self.after.skip_reason(&rel, kind);
            let ignored = |r: &Option<SkipReason>| r.is_some();
            if was.as_ref().is_some_and(|r| *r != SkipReason::Ignored) {
                continue; // hidden or temporary: never synced, whatever the rules
            }
            match (ignored(&was), ignored(&will)) {
                (true, true) => continue,
                (false, false) => {
                    if kind == EntryKind::Dir {
                        self.dir(&text)?;
                    }
                }
                (newly_ignored, _) => {
                    let shown = if kind == EntryKind::Dir {
                        format!("{text}/")
                    } else {
                        text.clone()
                    };
                    let (files, bytes) = if kind == EntryKind::Dir {
                        count_files(&native.join(&name))
                    } else {
                        (1, meta.len())
                    };
                    let (list, n, b) = if newly_ignored {
                        (
                            &mut self.out.included,
                            &mut self.out.included_files,
                            &mut self.out.included_bytes,
                        )
                    } else {
                        (
                            &mut self.out.excluded,
                            &mut self.out.excluded_files,
                            &mut self.out.excluded_bytes,
                        )
                    };
                    *n += files;
                    *b += bytes;
                    if list.len() < PREVIEW_LIMIT {
                        list.push(shown);
                    } else {
                        self.out.truncated = true;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Files and bytes below `dir`, hidden and temporary names left out (they are never synced);
/// links are not followed.
fn count_files(dir: &Path) -> (u64, u64) {
    let Ok(list) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    let mut files = 0;
    let mut bytes = 0;
    for e in list.filter_map(Result::ok) {
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        if crate::scan::name_skip_reason(&name).is_some() {
            continue;
        }
        let Ok(meta) = e.metadata() else { continue };
        if meta.is_dir() {
            let (f, b) = count_files(&e.path());
            files += f;
            bytes += b;
        } else if meta.is_file() {
            files += 1;
            bytes += meta.len();
        }
    }
    (files, bytes)
}
