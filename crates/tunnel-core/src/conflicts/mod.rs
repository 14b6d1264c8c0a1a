//! The conflict centre: every unresolved conflict of a synced folder with both of its versions,
//! and how to settle one (keep mine, keep theirs, keep both).
//!
//! A conflict is a pair of live files in the folder's synced tree (the journal's base, which
//! every device converges on):
//! - a **conflict copy** `name (conflict from DEVICE YYYY-MM-DD HHMMSS).ext` (made by
//!   [`crate::plan::conflict_copy_name`] when two devices changed one file) beside the file it
//!   copies, `name.ext` — the *original*, the version that won the path;
//! - a **case clash copy** `name (Case Conflict).ext` (a remote name that was one name on a
//!   case-insensitive disk with another, renamed on the page by
//!   [`crate::plan::case_conflict_name`]) beside the file that kept the name (same name up to
//!   case). Folders that gave way in a case clash are not listed.
//!
//! Each version comes with what the sync knows of it: the device that wrote it, its
//! modification time, size and SHA-256 (the manifest entry of each path carries them: a
//! conflict copy keeps the losing version's entry, its writer included, so nothing extra needs
//! recording when a copy is made). A copy whose original is gone, a copy whose name was
//! shortened (over-long names) or put at the top level (absurdly deep folders) is an ordinary
//! file, not a conflict.
//!
//! **Mine and theirs.** The copy always holds the version that lost. When that version was
//! written by this device (the copy's writer is this device's id — whether this device made
//! the copy or another device made it from what this device had sent), the copy is **mine**
//! and the original is **theirs**. Otherwise the copy is **theirs** (the other device's
//! version) and the original, the version at the name on this computer, is **mine**.
//!
//! **Resolving** ([`resolution`], carried out by [`apply`]) never loses data: the version not
//! kept goes to the folder's local trash (`sber-tunnel trash`), and the result is an ordinary
//! local change the next sync sends everywhere, so every device converges:
//! - keeping the original's version moves the copy to the trash (the others see a deletion);
//! - keeping the copy's version puts it at the original's name (the original's content is
//!   kept in the trash first) and the copy's name goes away (the others see an edit and a
//!   deletion);
//! - keeping both changes no file: both names stay, and the pair is remembered (on this
//!   device, in the journal) as no longer a conflict.

mod apply;
mod store;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::manifest::{EntryKind, FileEntry};
use crate::plan::{split_extension, CONFLICT_COPY_MARK};
use crate::rel_path::RelPath;

pub use apply::{apply, list, resolve, Resolved};
pub use store::{forget_kept_both, kept_both, record_kept_both};

/// Errors of listing and resolving conflicts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConflictError {
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    /// A file could not be read, moved or kept in the trash.
    #[error("{path}: {source}")]
    Io {
        /// The file, relative to the folder.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The path names no unresolved conflict.
    #[error("{0} is not an unresolved conflict (see `sber-tunnel conflicts`)")]
    NotAConflict(String),
    /// The path is the original of several conflict copies: the copy must be named.
    #[error("{path} has {copies} conflict copies; name the copy to resolve")]
    Ambiguous {
        /// The original.
        path: String,
        /// How many copies it has.
        copies: usize,
    },
    /// A file of the pair is not what the last sync recorded (changed or gone since).
    #[error("{0} changed since the last sync; sync first, then resolve")]
    Changed(String),
}

impl ConflictError {
    /// The stable code of this error.
    pub fn code(&self) -> crate::error::ErrorCode {
        use crate::error::ErrorCode;
        match self {
            ConflictError::Journal(_) | ConflictError::Io { .. } => ErrorCode::Local,
            ConflictError::NotAConflict(_)
            | ConflictError::Ambiguous { .. }
            | ConflictError::Changed(_) => ErrorCode::Invalid,
        }
    }
}

/// What made the pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictKind {
    /// Two devices changed one file: `name (conflict from DEVICE …).ext`.
    Copy,
    /// Two names that are one name on a case-insensitive disk: `name (Case Conflict).ext`.
    CaseClash,
}

/// One of the two versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Version {
    /// Where it is, relative to the folder.
    pub path: RelPath,
    /// The device that wrote it.
    pub device: String,
    /// Its modification time (Unix seconds).
    pub modified_at: i64,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 (hex), when known.
    pub sha256: Option<String>,
}

impl Version {
    fn of(e: &FileEntry) -> Version {
        Version {
            path: e.path.clone(),
            device: e.device.to_string(),
            modified_at: e.mtime_ns.div_euclid(1_000_000_000),
            size: e.size,
            sha256: e.sha256.as_ref().map(|d| d.to_hex()),
        }
    }
}

/// Which file of the pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Side {
    /// The file at the name (the version that won).
    Original,
    /// The copy beside it (the version that lost, or the name that gave way).
    Copy,
}

impl Side {
    /// The other file.
    pub fn other(self) -> Side {
        match self {
            Side::Original => Side::Copy,
            Side::Copy => Side::Original,
        }
    }
}

/// An unresolved conflict: the original and the copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// What made it.
    pub kind: ConflictKind,
    /// The file at the name.
    pub original: Version,
    /// The copy beside it.
    pub copy: Version,
    /// When the copy was made (Unix seconds, from its name; conflict copies only).
    pub made_at: Option<i64>,
    /// Which file is mine (see the module's documentation); the other is theirs.
    pub mine: Side,
}

impl Conflict {
    /// The version on `side`.
    pub fn version(&self, side: Side) -> &Version {
        match side {
            Side::Original => &self.original,
            Side::Copy => &self.copy,
        }
    }

    /// Which file is theirs.
    pub fn theirs(&self) -> Side {
        self.mine.other()
    }
}

/// What to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Keep {
    /// My version (see the module's documentation).
    Mine,
    /// Their version.
    Theirs,
    /// Both files, under their names.
    Both,
}

impl std::str::FromStr for Keep {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mine" => Ok(Keep::Mine),
            "theirs" => Ok(Keep::Theirs),
            "both" => Ok(Keep::Both),
            other => Err(format!("{other:?}: expected mine, theirs or both")),
        }
    }
}

/// What resolving a conflict does to the files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// The original's version stays: the copy goes to the trash.
    TrashCopy {
        /// The copy.
        copy: RelPath,
    },
    /// The copy's version takes the original's name (the original's content goes to the
    /// trash first); the copy's name goes away.
    CopyReplacesOriginal {
        /// The copy.
        copy: RelPath,
        /// The original.
        original: RelPath,
    },
    /// Both files stay; the pair is no longer a conflict.
    KeepBoth {
        /// The copy.
        copy: RelPath,
    },
}

/// What resolving `conflict` by keeping `keep` does.
pub fn resolution(conflict: &Conflict, keep: Keep) -> Resolution {
    let kept = match keep {
        Keep::Both => {
            return Resolution::KeepBoth {
                copy: conflict.copy.path.clone(),
            }
        }
        Keep::Mine => conflict.mine,
        Keep::Theirs => conflict.theirs(),
    };
    match kept {
        Side::Original => Resolution::TrashCopy {
            copy: conflict.copy.path.clone(),
        },
        Side::Copy => Resolution::CopyReplacesOriginal {
            copy: conflict.copy.path.clone(),
            original: conflict.original.path.clone(),
        },
    }
}

/// What a conflict copy's file name tells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyName {
    /// The name of the file it copies.
    pub original: String,
    /// The device named (the writer of the version that lost; sanitised, at most 64 bytes).
    pub device: String,
    /// When the copy was made (Unix seconds, UTC).
    pub made_at: i64,
}

/// Read a conflict copy's file name (`name (conflict from DEVICE YYYY-MM-DD HHMMSS)[ N].ext`),
/// the inverse of [`crate::plan::conflict_copy_name`] for names that were not shortened.
/// A copy of a copy names the copy it was made of.
pub fn parse_copy_name(name: &str) -> Option<CopyName> {
    // The last mark: a copy of a copy carries the first one in its stem.
    let at = name.rfind(CONFLICT_COPY_MARK)?;
    let stem = &name[..at];
    let rest = &name[at + CONFLICT_COPY_MARK.len()..];
    // `DEVICE YYYY-MM-DD HHMMSS)`: the device may hold spaces and parentheses, the stamp not.
    const STAMP: usize = " YYYY-MM-DD HHMMSS".len();
    for (close, _) in rest.match_indices(')') {
        let Some(start) = close.checked_sub(STAMP) else {
            continue;
        };
        let Some(made_at) = rest.get(start..close).and_then(parse_stamp) else {
            continue;
        };
        let device = &rest[..start];
        let mut after = &rest[close + 1..];
        // ` N` (2, 3, …) when the first name was taken.
        if let Some(num) = after.strip_prefix(' ') {
            let digits = num.bytes().take_while(u8::is_ascii_digit).count();
            if digits > 0 {
                after = &num[digits..];
            }
        }
        let ext = after;
        if !(ext.is_empty() || ext.starts_with('.')) || device.is_empty() || stem.is_empty() {
            continue;
        }
        let original = format!("{stem}{ext}");
        // The extension must be the one the namer splits off the original.
        if split_extension(&original, false).1 != ext {
            continue;
        }
        return Some(CopyName {
            original,
            device: device.to_string(),
            made_at,
        });
    }
    None
}

/// ` YYYY-MM-DD HHMMSS` as Unix seconds (UTC).
fn parse_stamp(s: &str) -> Option<i64> {
    let format =
        time::macros::format_description!(" [year]-[month]-[day] [hour repr:24][minute][second]");
    time::PrimitiveDateTime::parse(s, &format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// The name a case clash copy (`name (Case Conflict)[ N].ext`) was renamed from, up to case.
pub fn parse_case_clash_name(name: &str) -> Option<String> {
    const MARK: &str = " (Case Conflict";
    let at = name.rfind(MARK)?;
    let stem = &name[..at];
    let rest = &name[at + MARK.len()..];
    let rest = match rest.strip_prefix(' ') {
        Some(num) => {
            let digits = num.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            &num[digits..]
        }
        None => rest,
    };
    let ext = rest.strip_prefix(')')?;
    if stem.is_empty() || !(ext.is_empty() || ext.starts_with('.')) {
        return None;
    }
    let original = format!("{stem}{ext}");
    (split_extension(&original, false).1 == ext).then_some(original)
}

/// Every unresolved conflict in a folder's synced tree `base`, ordered by the copy's path;
/// `this_device` decides which side is mine, `kept_both` are copies settled with "keep
/// both". Pure: what the files on disk hold is checked by the caller.
pub fn find_conflicts(
    base: &BTreeMap<RelPath, FileEntry>,
    this_device: &str,
    kept_both: &BTreeSet<RelPath>,
) -> Vec<Conflict> {
    let live_file = |e: &FileEntry| !e.deleted && e.kind == EntryKind::File;
    // Live files by folder and lower-cased name, for case clashes.
    let mut by_lower: BTreeMap<(Option<RelPath>, String), Vec<&FileEntry>> = BTreeMap::new();
    for e in base.values().filter(|e| live_file(e)) {
        by_lower
            .entry((e.path.parent(), e.path.file_name().to_lowercase()))
            .or_default()
            .push(e);
    }
    let mut out = Vec::new();
    for copy in base.values().filter(|e| live_file(e)) {
        if kept_both.contains(&copy.path) {
            continue;
        }
        let name = copy.path.file_name();
        let parent = copy.path.parent();
        let sibling = |n: &str| match &parent {
            Some(p) => p.join(n).ok(),
            None => RelPath::new(n).ok(),
        };
        let found = if let Some(parsed) = parse_copy_name(name) {
            sibling(&parsed.original)
                .and_then(|p| base.get(&p))
                .filter(|e| live_file(e))
                .map(|o| (ConflictKind::Copy, o, Some(parsed.made_at)))
        } else if let Some(original) = parse_case_clash_name(name) {
            by_lower
                .get(&(parent.clone(), original.to_lowercase()))
                .and_then(|v| {
                    // The name that kept it: one of the others, never the copy itself (on a
                    // case-sensitive disk both spellings can be present; take the first).
                    v.iter().find(|e| e.path != copy.path).copied()
                })
                .map(|o| (ConflictKind::CaseClash, o, None))
        } else {
            None
        };
        let Some((kind, original, made_at)) = found else {
            continue;
        };
        let mine = if *copy.device == *this_device {
            Side::Copy
        } else {
            Side::Original
        };
        out.push(Conflict {
            kind,
            original: Version::of(original),
            copy: Version::of(copy),
            made_at,
            mine,
        });
    }
    out
}

#[cfg(test)]
mod tests;
