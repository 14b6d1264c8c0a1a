//! Selective sync (issue 17): the subtrees of a synced folder that this device leaves out.
//!
//! The set is per device and per folder (kept in the journal, see
//! `Journal::excluded_paths`); other devices never see it. Each entry is a path relative to
//! the folder (a folder, standing for everything below it, or a single file). Names are
//! compared as this disk compares them ([`NameRules::key`]): on a case-insensitive disk,
//! excluding `Photos` also leaves out `photos/…` from another device.
//!
//! What an exclusion does is decided by the planner (`plan`, see its module docs):
//! excluded remote entries are never downloaded and never deleted remotely because they are
//! missing here; this device's copies the page holds unchanged are removed here; what is
//! changed or new here is published first and removed once the page holds it. Including a
//! subtree again only takes it out of the set: the next sync downloads it.
//!
//! Invariant kept by [`exclude`] and [`include`]: no entry lies at or below another (a nested
//! exclusion is part of its ancestor's), so "is this path excluded" is one walk up its
//! ancestors, and the set reads as the unchecked boxes of a tree.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::journal::{FolderRecord, Journal, JournalError};
use crate::manifest::{EntryKind, FileEntry};
use crate::name_rules::NameRules;
use crate::rel_path::RelPath;

/// The excluded entry at or above `path` (compared as this disk compares names), if any.
pub fn covering<'a>(
    excluded: &'a BTreeSet<RelPath>,
    path: &RelPath,
    names: NameRules,
) -> Option<&'a RelPath> {
    if excluded.is_empty() {
        return None;
    }
    if !names.folds_names() {
        return excluded
            .get(path.as_str())
            .or_else(|| path.ancestors().find_map(|a| excluded.get(a)));
    }
    let keys: BTreeMap<String, &RelPath> = excluded
        .iter()
        .map(|e| (names.key(e.as_str()).into_owned(), e))
        .collect();
    std::iter::once(path.as_str())
        .chain(path.ancestors())
        .find_map(|a| keys.get(names.key(a).as_ref()).copied())
}

/// Whether `path` lies in an excluded subtree.
pub fn is_excluded(excluded: &BTreeSet<RelPath>, path: &RelPath, names: NameRules) -> bool {
    covering(excluded, path, names).is_some()
}

/// What [`exclude`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExcludeOutcome {
    /// `path` is excluded now; `absorbed` are the exclusions below it it replaced.
    Excluded {
        /// Former entries below the new one (now part of it).
        absorbed: Vec<RelPath>,
    },
    /// Nothing changed: `by` (the path itself or a folder above it) is excluded already.
    AlreadyExcluded {
        /// The entry that covers the path.
        by: RelPath,
    },
}

/// Leave `path` (and everything below it) out on this device. A path nothing is at yet is
/// accepted: whatever arrives there later is left out too.
pub fn exclude(
    excluded: &mut BTreeSet<RelPath>,
    path: &RelPath,
    names: NameRules,
) -> ExcludeOutcome {
    if let Some(by) = covering(excluded, path, names) {
        return ExcludeOutcome::AlreadyExcluded { by: by.clone() };
    }
    let key = names.key(path.as_str()).into_owned();
    let absorbed: Vec<RelPath> = excluded
        .iter()
        .filter(|e| e.ancestors().any(|a| names.key(a) == key.as_str()))
        .cloned()
        .collect();
    for a in &absorbed {
        excluded.remove(a);
    }
    excluded.insert(path.clone());
    ExcludeOutcome::Excluded { absorbed }
}

/// What [`include`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IncludeOutcome {
    /// These entries (the path itself and/or exclusions below it) were removed.
    Included {
        /// The removed entries.
        removed: Vec<RelPath>,
    },
    /// The path lay inside the excluded folder `from`: `from` is no longer excluded as a
    /// whole; its other contents along the way (`excluded`) stay out instead.
    Split {
        /// The former entry above the path.
        from: RelPath,
        /// The new entries: everything beside the path on the way down from `from`.
        excluded: Vec<RelPath>,
    },
    /// Nothing at or below the path was excluded.
    NotExcluded,
}

/// Bring `path` (and everything below it) back to this device. When a folder above it is
/// excluded, that folder is split: the path comes back, and every other entry beside the way
/// down to it that `known` lists (the page's and this disk's paths) stays out.
pub fn include(
    excluded: &mut BTreeSet<RelPath>,
    path: &RelPath,
    known: &BTreeSet<RelPath>,
    names: NameRules,
) -> IncludeOutcome {
    let key = names.key(path.as_str()).into_owned();
    match covering(excluded, path, names).cloned() {
        Some(from) if names.key(from.as_str()) != key.as_str() => {
            excluded.remove(&from);
            // The folders from `from` down to the path's parent, each with the child on the
            // way down: everything else below each of them stays excluded.
            let mut siblings: BTreeMap<String, RelPath> = BTreeMap::new();
            let on_way: BTreeSet<String> = std::iter::once(path.as_str())
                .chain(path.ancestors())
                .map(|a| names.key(a).into_owned())
                .collect();
            let from_key = names.key(from.as_str()).into_owned();
            let from_depth = from.depth();
            for k in known {
                let k_key = names.key(k.as_str()).into_owned();
                // The ancestor chain of `k` (itself first): its first component below a
                // folder on the way whose own next component is off the way.
                let chain: Vec<&str> = std::iter::once(k.as_str()).chain(k.ancestors()).collect();
                let inside_from = chain
                    .iter()
                    .any(|a| names.key(a).as_ref() == from_key.as_str())
                    && k_key != from_key;
                let below_path = chain.iter().any(|a| names.key(a).as_ref() == key.as_str());
                if !inside_from || below_path {
                    continue;
                }
                // Deepest first: find the shallowest entry of the chain below `from` that is
                // off the way to `path`.
                let off_way = chain
                    .iter()
                    .rev()
                    .filter(|a| a.matches('/').count() + 1 > from_depth)
                    .find(|a| !on_way.contains(names.key(a).as_ref()));
                if let Some(a) = off_way {
                    if let Ok(a) = RelPath::new(a) {
                        siblings
                            .entry(names.key(a.as_str()).into_owned())
                            .or_insert(a);
                    }
                }
            }
            let new: Vec<RelPath> = siblings.into_values().collect();
            excluded.extend(new.iter().cloned());
            IncludeOutcome::Split {
                from,
                excluded: new,
            }
        }
        _ => {
            let removed: Vec<RelPath> = excluded
                .iter()
                .filter(|e| {
                    names.key(e.as_str()) == key.as_str()
                        || e.ancestors().any(|a| names.key(a) == key.as_str())
                })
                .cloned()
                .collect();
            if removed.is_empty() {
                return IncludeOutcome::NotExcluded;
            }
            for r in &removed {
                excluded.remove(r);
            }
            IncludeOutcome::Included { removed }
        }
    }
}

/// How `folder`'s disk compares names (probed; the platform's usual rules when it cannot be).
fn names_of(folder: &FolderRecord) -> NameRules {
    crate::name_rules::probe(&folder.path).unwrap_or_else(|_| NameRules::platform_default())
}

/// Exclude `path` of `folder` on this device and store the choice; the next sync removes this
/// device's copies (see the module docs).
pub fn exclude_path(
    journal: &Journal,
    folder: &FolderRecord,
    path: &RelPath,
) -> Result<ExcludeOutcome, JournalError> {
    let mut set = journal.excluded_paths(folder.id)?;
    let outcome = exclude(&mut set, path, names_of(folder));
    if matches!(outcome, ExcludeOutcome::Excluded { .. }) {
        journal.set_excluded_paths(folder.id, &set)?;
    }
    Ok(outcome)
}

/// Include `path` of `folder` again on this device and store the choice; the next sync
/// downloads it. A folder above it that is excluded is split using the page's file list as
/// last read (see [`include`]).
pub fn include_path(
    journal: &Journal,
    folder: &FolderRecord,
    path: &RelPath,
) -> Result<IncludeOutcome, JournalError> {
    let mut set = journal.excluded_paths(folder.id)?;
    let known: BTreeSet<RelPath> = journal
        .remote_cache(folder.id)?
        .map(|t| {
            t.files
                .into_iter()
                .filter(|(_, e)| !e.deleted)
                .map(|(p, _)| p)
                .collect()
        })
        .unwrap_or_default();
    let outcome = include(&mut set, path, &known, names_of(folder));
    if !matches!(outcome, IncludeOutcome::NotExcluded) {
        journal.set_excluded_paths(folder.id, &set)?;
    }
    Ok(outcome)
}

/// One folder of a synced folder's page, for choosing what lives on this computer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SubfolderChoice {
    /// Path relative to the synced folder.
    pub path: RelPath,
    /// Left out on this device (itself or a folder above it is excluded).
    pub excluded: bool,
    /// Files below it on the page, at any depth.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// A synced folder's selective-sync state: what this device excludes, and every subfolder
/// the page holds (from its file list as last read), sorted by path.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FolderChoice {
    /// The stored exclusions (folders or files, possibly with nothing there yet).
    pub excluded: Vec<RelPath>,
    /// Every folder on the page.
    pub subfolders: Vec<SubfolderChoice>,
}

/// The subfolders of a page's file list with what they hold, marked against `excluded`.
pub fn subfolders_of<'a>(
    files: impl IntoIterator<Item = &'a FileEntry>,
    excluded: &BTreeSet<RelPath>,
    names: NameRules,
) -> Vec<SubfolderChoice> {
    let mut dirs: BTreeMap<RelPath, (u64, u64)> = BTreeMap::new();
    for e in files.into_iter().filter(|e| !e.deleted) {
        if e.kind == EntryKind::Dir {
            dirs.entry(e.path.clone()).or_default();
        }
        for a in e.path.ancestors() {
            let Ok(a) = RelPath::new(a) else { continue };
            let d = dirs.entry(a).or_default();
            if e.kind == EntryKind::File {
                d.0 += 1;
                d.1 += e.size;
            }
        }
    }
    dirs.into_iter()
        .map(|(path, (files, bytes))| SubfolderChoice {
            excluded: is_excluded(excluded, &path, names),
            path,
            files,
            bytes,
        })
        .collect()
}

/// What [`FolderChoice`] shows for `folder`.
pub fn folder_choice(
    journal: &Journal,
    folder: &FolderRecord,
) -> Result<FolderChoice, JournalError> {
    let set = journal.excluded_paths(folder.id)?;
    let tree = journal.remote_cache(folder.id)?;
    let subfolders = match &tree {
        Some(t) => subfolders_of(t.files.values(), &set, names_of(folder)),
        None => Vec::new(),
    };
    Ok(FolderChoice {
        excluded: set.into_iter().collect(),
        subfolders,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).expect("valid path")
    }

    fn set(items: &[&str]) -> BTreeSet<RelPath> {
        items.iter().map(|s| p(s)).collect()
    }

    const FOLD: NameRules = NameRules {
        case_insensitive: true,
        normalization_insensitive: false,
        windows_reserved: false,
    };

    #[test]
    fn a_path_is_excluded_by_itself_or_a_folder_above_it_never_by_a_prefix_of_its_name() {
        let ex = set(&["Photos", "docs/big.iso"]);
        let r = NameRules::EXACT;
        assert!(is_excluded(&ex, &p("Photos"), r));
        assert!(is_excluded(&ex, &p("Photos/2024/a.jpg"), r));
        assert!(is_excluded(&ex, &p("docs/big.iso"), r));
        assert!(!is_excluded(&ex, &p("docs"), r), "a folder above is not");
        assert!(
            !is_excluded(&ex, &p("docs/big.iso2"), r),
            "a name prefix is not"
        );
        assert!(
            !is_excluded(&ex, &p("Photos2/a"), r),
            "a name prefix is not"
        );
        assert!(
            !is_excluded(&ex, &p("photos/a"), r),
            "byte-exact disk: case counts"
        );
        assert!(
            !is_excluded(&BTreeSet::new(), &p("a"), r),
            "nothing is excluded by default"
        );
    }

    #[test]
    fn on_a_case_insensitive_disk_another_spelling_is_the_same_excluded_folder() {
        let ex = set(&["Photos"]);
        assert_eq!(covering(&ex, &p("photos/a.jpg"), FOLD), Some(&p("Photos")));
        assert_eq!(covering(&ex, &p("PHOTOS"), FOLD), Some(&p("Photos")));
        assert_eq!(covering(&ex, &p("Photo/a"), FOLD), None);
    }

    #[test]
    fn exclude_absorbs_nested_exclusions_and_ignores_what_is_covered() {
        let mut ex = set(&["a/b", "a/c/d", "x"]);
        assert_eq!(
            exclude(&mut ex, &p("a"), NameRules::EXACT),
            ExcludeOutcome::Excluded {
                absorbed: vec![p("a/b"), p("a/c/d")]
            }
        );
        assert_eq!(ex, set(&["a", "x"]), "no entry below another");
        assert_eq!(
            exclude(&mut ex, &p("a/b/c"), NameRules::EXACT),
            ExcludeOutcome::AlreadyExcluded { by: p("a") }
        );
        assert_eq!(
            exclude(&mut ex, &p("x"), NameRules::EXACT),
            ExcludeOutcome::AlreadyExcluded { by: p("x") }
        );
        assert_eq!(
            exclude(&mut ex, &p("not/here/yet"), NameRules::EXACT),
            ExcludeOutcome::Excluded { absorbed: vec![] },
            "a path nothing is at yet can be excluded (what arrives there stays out)"
        );
        assert_eq!(ex, set(&["a", "not/here/yet", "x"]));
    }

    #[test]
    fn exclude_compares_names_as_the_disk_does() {
        let mut ex = set(&["Docs/Old"]);
        assert_eq!(
            exclude(&mut ex, &p("docs"), FOLD),
            ExcludeOutcome::Excluded {
                absorbed: vec![p("Docs/Old")]
            }
        );
        assert_eq!(
            exclude(&mut ex, &p("DOCS"), FOLD),
            ExcludeOutcome::AlreadyExcluded { by: p("docs") }
        );
        let mut exact = set(&["Docs/Old"]);
        exclude(&mut exact, &p("docs"), NameRules::EXACT);
        assert_eq!(
            exact,
            set(&["Docs/Old", "docs"]),
            "two names on a byte-exact disk"
        );
    }

    #[test]
    fn include_removes_the_path_and_exclusions_below_it() {
        let mut ex = set(&["a", "b/c", "b/d/e", "bb"]);
        assert_eq!(
            include(&mut ex, &p("b"), &BTreeSet::new(), NameRules::EXACT),
            IncludeOutcome::Included {
                removed: vec![p("b/c"), p("b/d/e")]
            }
        );
        assert_eq!(ex, set(&["a", "bb"]));
        assert_eq!(
            include(&mut ex, &p("a"), &BTreeSet::new(), NameRules::EXACT),
            IncludeOutcome::Included {
                removed: vec![p("a")]
            }
        );
        assert_eq!(
            include(&mut ex, &p("zzz"), &BTreeSet::new(), NameRules::EXACT),
            IncludeOutcome::NotExcluded
        );
        assert_eq!(ex, set(&["bb"]));
    }

    #[test]
    fn include_inside_an_excluded_folder_splits_it_keeping_the_rest_out() {
        let known = set(&[
            "a",
            "a/keep.txt",
            "a/x",
            "a/x/want",
            "a/x/want/f.txt",
            "a/x/other",
            "a/x/other/g.txt",
            "a/x/h.txt",
            "a/y/i.txt",
            "b/j.txt",
        ]);
        let mut ex = set(&["a", "b"]);
        assert_eq!(
            include(&mut ex, &p("a/x/want"), &known, NameRules::EXACT),
            IncludeOutcome::Split {
                from: p("a"),
                excluded: vec![p("a/keep.txt"), p("a/x/h.txt"), p("a/x/other"), p("a/y")],
            }
        );
        assert_eq!(
            ex,
            set(&["a/keep.txt", "a/x/h.txt", "a/x/other", "a/y", "b"]),
            "only the way down to a/x/want comes back"
        );
        for back in ["a", "a/x", "a/x/want", "a/x/want/f.txt"] {
            assert!(!is_excluded(&ex, &p(back), NameRules::EXACT), "{back}");
        }
        for out in ["a/keep.txt", "a/x/other/g.txt", "a/y/i.txt", "b/j.txt"] {
            assert!(is_excluded(&ex, &p(out), NameRules::EXACT), "{out}");
        }
    }

    #[test]
    fn include_inside_an_excluded_folder_on_a_case_insensitive_disk() {
        let known = set(&["Docs/A/f", "Docs/B/g"]);
        let mut ex = set(&["Docs"]);
        assert_eq!(
            include(&mut ex, &p("docs/a"), &known, FOLD),
            IncludeOutcome::Split {
                from: p("Docs"),
                excluded: vec![p("Docs/B")],
            }
        );
        assert!(!is_excluded(&ex, &p("Docs/A/f"), FOLD));
        assert!(is_excluded(&ex, &p("docs/b/g"), FOLD));
    }

    #[test]
    fn subfolders_come_from_files_and_folder_entries_with_their_sizes() {
        let file = |path: &str, size: u64, deleted: bool| FileEntry {
            path: p(path),
            kind: EntryKind::File,
            deleted,
            size,
            mtime_ns: 0,
            sha256: None,
            version: 1,
            device: "d".into(),
            chunks: Default::default(),
        };
        let dir = |path: &str| FileEntry {
            kind: EntryKind::Dir,
            ..file(path, 0, false)
        };
        let files = [
            file("top.txt", 1, false),
            file("a/b/c.txt", 10, false),
            file("a/d.txt", 5, false),
            file("gone/x.txt", 7, true),
            dir("empty"),
        ];
        let got = subfolders_of(files.iter(), &set(&["a/b"]), NameRules::EXACT);
        let row = |path: &str, excluded: bool, files: u64, bytes: u64| SubfolderChoice {
            path: p(path),
            excluded,
            files,
            bytes,
        };
        assert_eq!(
            got,
            vec![
                row("a", false, 2, 15),
                row("a/b", true, 1, 10),
                row("empty", false, 0, 0),
            ],
            "deleted entries are not shown; sizes count every file below"
        );
    }

    #[test]
    fn exclude_then_include_of_the_same_path_is_a_round_trip() {
        for start in [set(&[]), set(&["q"]), set(&["a/b"])] {
            let mut ex = start.clone();
            exclude(&mut ex, &p("z"), NameRules::EXACT);
            include(&mut ex, &p("z"), &BTreeSet::new(), NameRules::EXACT);
            assert_eq!(ex, start);
        }
    }
}
