//! The pure three-way reconciler: from the last synced state (base), the local scan and the
//! remote file list, decide what to do. No I/O, no clock (the time is passed in), the same
//! inputs always give the same plan.
//!
//! Rules (see the README's SEMANTICS): sides are compared with the base by content (kind and
//! SHA-256), never by size or mtime alone; a change on one side wins; both changed to the same
//! content is already in sync; both changed differently → the later mtime wins (ties: the
//! greater device id) and the loser is kept as a conflict copy; an edit beats a concurrent
//! delete; a deletion propagates only when the other side is unchanged; a folder is only
//! deleted when nothing survives inside it; a file/folder clash keeps the folder at the path
//! and the file as a conflict copy; with an untrusted base (the remote was replaced or went
//! back in time) nothing is deleted at all; a case-only rename (`A.txt` → `a.txt`) is a
//! deletion plus a creation of the same content, so the content is never lost.
//!
//! Names (issue 14): the plan is made for the folder's [`NameRules`]. Remote names the disk
//! refuses (Windows' reserved names) are listed in [`Plan::unstorable`] and left out on every
//! side: not written here, never deleted remotely, and a folder holding one is never deleted
//! or replaced by a file remotely.
//!
//! Two names that are one name on this disk (`README.md` and `Readme.md` on a
//! case-insensitive disk; NFC and NFD spellings are one [`RelPath`] already) never collapse
//! into one file, and neither is read as an edit or a deletion. As Dropbox does, one keeps its
//! name and the other is renamed **on the page** to a visible copy, `Readme (Case
//! Conflict).md` (a folder: `docs (Case Conflict)`, with everything in it; `(Case Conflict
//! 2)`, … when that name is taken or is itself one name here with another): the name already
//! here keeps it, else the one in the base, else the byte-wise smaller. The rename is
//! [`Action::RenameRemote`]: the same entry (same content, same blobs, nothing uploaded again)
//! published under the new name with a tombstone at the old one, and downloaded here under
//! the new name. Why rename on the page rather than only here: a name that exists here
//! under another spelling than on the page would need a mapping kept for ever on this device
//! (and every edit of it mapped back), and a device that only leaves the name out (what this
//! planner did before) never shows that content at all. Renaming on the page makes every
//! device converge on names that fit every disk; a byte-exact device sees an ordinary rename
//! (the old name goes through its trash as any rename from elsewhere does). Two devices that
//! make the same rename at once converge: the one that loses the commit race plans again on
//! the page that holds the rename already, finds the copy it downloaded equal to the page's
//! and only records it; likewise a device whose commit failed after it downloaded the copy
//! takes the file it finds under the copy name with the loser's content (known to neither the
//! base nor the page) as the copy (`here: true`), and sends nothing again. (Devices whose
//! disks hold different names can pick different names for the copy; then both copies stay,
//! and no content is lost.) The one case still left out
//! as unstorable ([`UnstorableReason::CaseConflict`]) is a name so long that no copy name fits
//! within the path length limit. A case-only rename is not a clash (the old name is deleted
//! before the new one is written), so it syncs as a rename.
//!
//! Type changes: a folder replaced by a file (or a file by a folder) on one side is an
//! ordinary change of that path, and the entries inside the old folder are deleted or
//! created like any others. When the other side added, edited or kept something alive inside
//! the folder (at any depth), the folder wins the path and the file is kept beside it as
//! `x (conflict from WRITER …)` (a local folder holding files that are not synced, such as
//! hidden ones, keeps content too): a remote file arriving over a local folder that keeps content
//! becomes [`Action::ConflictLocalWins`], a local file leaving over a remote folder that keeps
//! content becomes [`Action::ConflictRemoteWins`] (see `folders_win_over_files`). Hence a plan
//! never publishes a live file that is the parent of a live entry, which the manifest refuses.
//!
//! Selective sync (issue 17): [`PlanInput::excluded`] lists the subtrees this device leaves
//! out (names compared as this disk compares them). Inside them nothing is downloaded, and
//! nothing is deleted remotely because it is missing here: a path missing here is only
//! forgotten by the base (so including it again downloads it), and remote entries there stay
//! alive like left-out names do (a folder holding one is never deleted or replaced remotely).
//! What is here is dealt with so that nothing is lost: a copy the page holds with the same
//! content is removed here ([`Action::Evict`]; a folder only once nothing else stays below
//! it); a copy unchanged here that the page changed or deleted goes through the trash, as an
//! included one would be replaced or deleted; a change or a new entry made here is planned as
//! for an included path (an upload, or a conflict when the page changed too), so it reaches
//! the page first and a later sync removes it here. What other devices do inside an excluded
//! subtree (edits, renames, deletions, type changes) is never undone by this device.
//!
//! Order of [`Plan::actions`]: conflicts, then deletions children-first, then folder
//! creations (and folder renames on the page) parents-first, then files by path (renamed
//! files among them), then base bookkeeping. Deletions come before
//! creations on purpose: a type change (a folder replaced by a file of the same name) and a
//! case-only rename on a case-insensitive file system both need the old entry gone before
//! the new one is written. Conflicts come first so that a local file giving way to a folder
//! is moved aside before the folder and anything inside it lands. Executors that run the plan
//! in passes must keep that order.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use time::OffsetDateTime;

use crate::hash::Digest;
use crate::manifest::{EntryKind, FileEntry};
use crate::name_rules::NameRules;
use crate::rel_path::RelPath;

/// What the scanner saw at a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalEntry {
    /// File or folder.
    pub kind: EntryKind,
    /// Size (0 for folders).
    pub size: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i64,
    /// Content hash (files only).
    pub sha256: Option<Digest>,
}

/// Everything the reconciler looks at.
pub struct PlanInput<'a> {
    /// Last synced state (live entries only).
    pub base: &'a BTreeMap<RelPath, FileEntry>,
    /// The local scan (unreadable paths are left out by the caller).
    pub local: &'a BTreeMap<RelPath, LocalEntry>,
    /// The remote file list, tombstones included.
    pub remote: &'a BTreeMap<RelPath, FileEntry>,
    /// This device's id.
    pub device: &'a str,
    /// Now, for conflict-copy names.
    pub now_utc: OffsetDateTime,
    /// False when the base no longer describes this remote: never delete.
    pub base_trusted: bool,
    /// Local folders holding something left out of the plan (hidden, ignored, unreadable):
    /// a remote file cannot take their place, so they count as keeping content.
    pub holding_unsynced: &'a BTreeSet<RelPath>,
    /// How this folder's disk treats names (case, normalisation, reserved names).
    pub names: NameRules,
    /// Subtrees this device leaves out (selective sync, see [`crate::selective`]): never
    /// downloaded, never deleted remotely because they are missing here (see the module docs).
    pub excluded: &'a BTreeSet<RelPath>,
}

/// A remote name this disk cannot hold. It is left out of the plan on every side: not
/// written here, and never deleted remotely because it is missing here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unstorable {
    /// The remote path (a folder stands for everything below it).
    pub path: RelPath,
    /// Why it cannot be stored.
    pub reason: UnstorableReason,
}

/// Why a remote name cannot be stored on this disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnstorableReason {
    /// The platform refuses the name (Windows: `CON`, `a?b`, a trailing dot…).
    Reserved(&'static str),
    /// On this disk it is the same name as `with` (they differ only in case), and no
    /// `(Case Conflict)` copy name fits within the path length limits (a name at the very end
    /// of [`crate::rel_path::MAX_PATH_BYTES`]): the one case where a clash is still left out
    /// instead of renamed (see the module docs).
    CaseConflict {
        /// The path that keeps the name here.
        with: RelPath,
    },
}

impl std::fmt::Display for UnstorableReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnstorableReason::Reserved(why) => write!(f, "{why}"),
            UnstorableReason::CaseConflict { with } => write!(
                f,
                "same name on this disk as {with} (differs only in case), and too long to rename"
            ),
        }
    }
}

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Publish the local file or folder at `path` with this version.
    Upload {
        /// Path.
        path: RelPath,
        /// What is there.
        local: LocalEntry,
        /// The new version counter.
        version: u64,
    },
    /// Bring the remote file or folder here.
    Download {
        /// Path.
        path: RelPath,
        /// The remote state.
        entry: FileEntry,
    },
    /// Delete the local file or folder (it was deleted remotely; unchanged here).
    DeleteLocal {
        /// Path.
        path: RelPath,
        /// What must still be there for the deletion to go ahead.
        expected: LocalEntry,
    },
    /// Publish a deletion.
    DeleteRemote {
        /// Path.
        path: RelPath,
        /// The tombstone to publish.
        tombstone: FileEntry,
    },
    /// Both changed, the remote wins: move the local file to `copy` (then upload it there)
    /// and download `entry` into `path`.
    ConflictRemoteWins {
        /// Path.
        path: RelPath,
        /// Where the local version is kept.
        copy: RelPath,
        /// The winning remote state (boxed, as in the other rare variants: an `Action` is as
        /// large as its largest variant, and a plan of 100,000 downloads is a vector of them).
        entry: Box<FileEntry>,
        /// The losing local state.
        local: LocalEntry,
    },
    /// Both changed, the local wins: keep the remote version at `copy` (published re-using
    /// its chunks, downloaded here) and upload the local one at `path`.
    ConflictLocalWins {
        /// Path.
        path: RelPath,
        /// Where the remote version is kept.
        copy: RelPath,
        /// The losing remote state.
        entry: Box<FileEntry>,
        /// The winning local state.
        local: LocalEntry,
        /// Version for the upload at `path`.
        version: u64,
    },
    /// Both sides already hold the same content: the base becomes `entry`.
    RecordBase {
        /// Path.
        path: RelPath,
        /// The synced state.
        entry: FileEntry,
    },
    /// Gone on both sides: forget the base.
    ForgetBase {
        /// Path.
        path: RelPath,
    },
    /// A remote name that is one name on this disk with another that keeps it (a case
    /// clash): renamed on the page to the visible copy `path` (`Readme (Case Conflict).md`),
    /// the same content and blobs under the new name plus a tombstone at `from`, and brought
    /// here under the new name. Every other device sees a rename; nothing is re-uploaded.
    /// A folder that gives way moves with everything in it: one action per entry.
    RenameRemote {
        /// The new name (the copy), where the entry lands here and on the page.
        path: RelPath,
        /// The remote name that gives way.
        from: RelPath,
        /// The entry to publish at `path`: the remote entry of `from` with its new path.
        entry: Box<FileEntry>,
        /// The tombstone to publish at `from`.
        tombstone: Box<FileEntry>,
        /// The content is here already under `path` (a copy an earlier attempt downloaded
        /// before its commit failed): nothing to download.
        here: bool,
    },
    /// Selective sync: remove this device's copy of an excluded entry, which the page holds
    /// with the same content (a folder only when nothing else stays below it here). Nothing
    /// is published; the base forgets the path.
    Evict {
        /// Path.
        path: RelPath,
        /// What must still be there for the removal to go ahead (the page's content).
        expected: LocalEntry,
    },
}

impl Action {
    /// The path the action is about.
    pub fn path(&self) -> &RelPath {
        match self {
            Action::Upload { path, .. }
            | Action::Download { path, .. }
            | Action::DeleteLocal { path, .. }
            | Action::DeleteRemote { path, .. }
            | Action::ConflictRemoteWins { path, .. }
            | Action::ConflictLocalWins { path, .. }
            | Action::RecordBase { path, .. }
            | Action::RenameRemote { path, .. }
            | Action::Evict { path, .. }
            | Action::ForgetBase { path } => path,
        }
    }

    fn phase(&self) -> u8 {
        match self {
            Action::ConflictRemoteWins { .. } | Action::ConflictLocalWins { .. } => 0,
            Action::DeleteLocal { .. } | Action::DeleteRemote { .. } | Action::Evict { .. } => 1,
            Action::Download { entry, .. } if entry.kind == EntryKind::Dir => 2,
            Action::Upload { local, .. } if local.kind == EntryKind::Dir => 2,
            Action::RenameRemote { entry, .. } if entry.kind == EntryKind::Dir => 2,
            Action::Download { .. } | Action::Upload { .. } | Action::RenameRemote { .. } => 3,
            Action::RecordBase { .. } | Action::ForgetBase { .. } => 4,
        }
    }
}

/// An ordered list of actions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// In execution order: conflicts, deletions (children first), folder creations (parents
    /// first), file transfers by path, base bookkeeping.
    pub actions: Vec<Action>,
    /// Remote names this disk cannot hold, left out of `actions` (with everything below
    /// them), sorted by path.
    pub unstorable: Vec<Unstorable>,
}

impl Plan {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
    /// Local deletions.
    pub fn deletions_local(&self) -> usize {
        self.actions
            .iter()
            .filter(|a| matches!(a, Action::DeleteLocal { .. }))
            .count()
    }
    /// Remote deletions.
    pub fn deletions_remote(&self) -> usize {
        self.actions
            .iter()
            .filter(|a| matches!(a, Action::DeleteRemote { .. }))
            .count()
    }
    /// How many actions of each sort the plan holds.
    pub fn summary(&self) -> PlanSummary {
        let mut s = PlanSummary::default();
        for a in &self.actions {
            match a {
                Action::Upload { .. } => s.uploads += 1,
                Action::Download { .. } => s.downloads += 1,
                Action::DeleteLocal { .. } => s.deletions_local += 1,
                Action::DeleteRemote { .. } => s.deletions_remote += 1,
                Action::ConflictRemoteWins { .. } | Action::ConflictLocalWins { .. } => {
                    s.conflicts += 1
                }
                Action::RecordBase { .. } | Action::ForgetBase { .. } => s.bookkeeping += 1,
                Action::RenameRemote { .. } => s.renames_remote += 1,
                Action::Evict { .. } => s.evictions += 1,
            }
        }
        s
    }
}

/// Counts of a plan's actions by sort.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanSummary {
    /// Uploads of files and folders.
    pub uploads: usize,
    /// Downloads of files and folders.
    pub downloads: usize,
    /// Local deletions.
    pub deletions_local: usize,
    /// Remote deletions (tombstones).
    pub deletions_remote: usize,
    /// Conflicts (either side winning).
    pub conflicts: usize,
    /// Base-only updates (`RecordBase`, `ForgetBase`).
    pub bookkeeping: usize,
    /// Remote names renamed to a `(Case Conflict)` copy (one per entry moved).
    pub renames_remote: usize,
    /// Copies of excluded entries removed here (selective sync).
    pub evictions: usize,
}

fn same_local(l: &LocalEntry, e: &FileEntry) -> bool {
    !e.deleted && l.kind == e.kind && (l.kind == EntryKind::Dir || l.sha256 == e.sha256)
}

fn same_entry(a: &FileEntry, b: &FileEntry) -> bool {
    a.deleted == b.deleted && a.kind == b.kind && (a.kind == EntryKind::Dir || a.sha256 == b.sha256)
}

fn version_of(e: Option<&FileEntry>) -> u64 {
    e.map(|e| e.version).unwrap_or(0)
}

/// Longest prefix of `s` that is at most `max` bytes and ends on a character boundary.
pub(crate) fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// What a conflict copy's name carries after the stem of the file it copies.
pub(crate) const CONFLICT_COPY_MARK: &str = " (conflict from ";

/// A file name's stem and extension as the copy namers split it: the extension is what follows
/// the last dot, at most 32 bytes; none for folders, dotless names and dot-files.
pub(crate) fn split_extension(name: &str, is_dir: bool) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if !is_dir && i > 0 && name.len() - i <= 32 => (&name[..i], &name[i..]),
        _ => (name, ""),
    }
}

/// Whether `copy` is named as a conflict copy of `path` by [`conflict_copy_name`]: beside it,
/// its stem followed by ` (conflict from `. A copy whose stem was shortened or which went to
/// the top level (over-long names) is not recognised.
pub(crate) fn is_conflict_copy_of(copy: &RelPath, path: &RelPath) -> bool {
    let (stem, _) = split_extension(path.file_name(), false);
    copy.parent() == path.parent()
        && copy
            .file_name()
            .strip_prefix(stem)
            .is_some_and(|rest| rest.starts_with(CONFLICT_COPY_MARK))
}

/// Name of a conflict copy: `name (conflict from DEVICE YYYY-MM-DD HHMMSS).ext` beside
/// `path` (DEVICE = the loser's device id, time in UTC; the extension is what follows the
/// last dot of the file name, none for dotless and dot-files), with ` 2`, ` 3`, … added
/// before the extension while `taken` says the name is used. Over-long names are shortened
/// (the stem first, then the extension is folded into it) so the result is always a valid
/// path; a parent so deep that no name fits puts the copy at the top level.
pub fn conflict_copy_name(
    path: &RelPath,
    loser_device: &str,
    when: OffsetDateTime,
    taken: impl Fn(&RelPath) -> bool,
) -> RelPath {
    let when = when.to_offset(time::UtcOffset::UTC);
    let (stem, ext) = split_extension(path.file_name(), false);
    let stamp = format!(
        "{:04}-{:02}-{:02} {:02}{:02}{:02}",
        when.year(),
        u8::from(when.month()),
        when.day(),
        when.hour(),
        when.minute(),
        when.second()
    );
    let device: String = loser_device
        .chars()
        .filter(|c| !matches!(c, '/' | '\\' | ':') && !c.is_control())
        .collect();
    let device = truncate_bytes(&device, 64);
    let parent = path.parent();
    // Bytes left for the file name under this parent.
    let budget = |parent: Option<&RelPath>| {
        let used = parent.map_or(0, |p| p.as_str().len() + 1);
        crate::rel_path::MAX_COMPONENT_BYTES
            .min(crate::rel_path::MAX_PATH_BYTES.saturating_sub(used))
    };
    for n in 1u64.. {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!(" {n}")
        };
        let middle = format!("{CONFLICT_COPY_MARK}{device} {stamp}){suffix}");
        let mut dir = parent.as_ref();
        if budget(dir) < middle.len() + ext.len() + 1 {
            dir = None; // absurdly deep parent: fall back to the top level
        }
        let room = budget(dir).saturating_sub(middle.len() + ext.len());
        let candidate = format!("{}{middle}{ext}", truncate_bytes(stem, room));
        let candidate = match dir {
            Some(p) => p.join(&candidate),
            None => RelPath::new(&candidate),
        };
        match candidate {
            Ok(c) if !taken(&c) && &c != path => return c,
            Ok(_) => {}
            Err(e) => {
                // Cannot happen (every piece is valid and fits); try the next number anyway.
                tracing::warn!(%path, error = %e, "conflict copy name refused");
            }
        }
    }
    unreachable!("some numbered name is always free")
}

/// Name of the visible copy a remote name gives way under when it is one name on this disk
/// with another (a case clash): `name (Case Conflict).ext` beside `path` (a folder: `name
/// (Case Conflict)`, no extension split), then `(Case Conflict 2)`, `(Case Conflict 3)`, …
/// while `taken` says the name is used. The stem is shortened for over-long names. `None`
/// when no such name fits in `path`'s folder (the path length limit).
pub fn case_conflict_name(
    path: &RelPath,
    is_dir: bool,
    taken: impl Fn(&RelPath) -> bool,
) -> Option<RelPath> {
    const MOST_TRIED: u64 = 10_000;
    let (stem, ext) = split_extension(path.file_name(), is_dir);
    let parent = path.parent();
    let used = parent.as_ref().map_or(0, |p| p.as_str().len() + 1);
    let budget = crate::rel_path::MAX_COMPONENT_BYTES
        .min(crate::rel_path::MAX_PATH_BYTES.saturating_sub(used));
    for n in 1..=MOST_TRIED {
        let middle = if n == 1 {
            " (Case Conflict)".to_string()
        } else {
            format!(" (Case Conflict {n})")
        };
        if budget < middle.len() + ext.len() + 1 {
            return None;
        }
        let room = budget - middle.len() - ext.len();
        let candidate = format!("{}{middle}{ext}", truncate_bytes(stem, room));
        let candidate = match &parent {
            Some(p) => p.join(&candidate),
            None => RelPath::new(&candidate),
        };
        if let Ok(c) = candidate {
            if !taken(&c) && &c != path {
                return Some(c);
            }
        }
    }
    None
}

/// Decide what to do. See the module docs for the rules.
///
/// Names first: remote names the disk refuses ([`NameRules::unstorable_prefix`]) are left out
/// on every side. Then the plan is made, and the names it would leave here checked: when two
/// of them are one name on this disk ([`NameRules::key`]), the one not here yet gives way (the
/// one here keeps the name; among arrivals the one in the base, else the byte-wise smaller).
/// The one giving way is renamed on the page to a `(Case Conflict)` copy (with everything
/// below it, for a folder) and the plan is made again, with the remote list as it will be
/// after the renames. So a plan never writes two names that are one file here, and never
/// reads the collapse as an edit or a deletion.
pub fn reconcile(input: &PlanInput) -> Plan {
    let rules = input.names;
    // Names in use, read from the three lists only when a copy name must be chosen (most
    // plans choose none), and never copied: each round starts from them and the renames of
    // the rounds before (issue 15: 100,000 names, twice, at a new device's peak).
    let in_use = NamesInUse::of(input);
    let mut renamed_keys: BTreeSet<String> = BTreeSet::new();
    let mut unstorable: BTreeMap<RelPath, UnstorableReason> = BTreeMap::new();
    for e in input.remote.values().filter(|e| !e.deleted) {
        if let Some((prefix, why)) = rules.unstorable_prefix(&e.path) {
            unstorable
                .entry(prefix)
                .or_insert(UnstorableReason::Reserved(why));
        }
    }
    // The remote list as the plan sees it: renamed entries under their new names (borrowed
    // until a clash is renamed, so a folder without clashes costs no copy of its list).
    let mut remote: std::borrow::Cow<BTreeMap<RelPath, FileEntry>> =
        std::borrow::Cow::Borrowed(input.remote);
    // Renamed entries: new name → the remote entry as it is on the page now.
    let mut moved: BTreeMap<RelPath, FileEntry> = BTreeMap::new();
    // Each round renames (or leaves out) at least one more remote name, or ends; the bound is
    // only a guard.
    let mut rounds = 0usize;
    loop {
        rounds += 1;
        let excluded: BTreeSet<RelPath> = unstorable.keys().cloned().collect();
        let (base, local, storable_remote) = (
            without_names(input.base, &excluded),
            without_names(input.local, &excluded),
            without_names(&remote, &excluded),
        );
        let storable = PlanInput {
            base: &base,
            local: &local,
            remote: &storable_remote,
            ..*input
        };
        // Left-out names stay alive remotely: a folder holding one is never deleted there,
        // nor replaced by a file (the published list would hold a file above a live entry).
        let kept_remote: BTreeSet<RelPath> = remote
            .iter()
            .filter(|(p, e)| !e.deleted && !storable_remote.contains_key(*p))
            .map(|(p, _)| p.clone())
            .collect();
        let mut added = renamed_keys.clone();
        let taken = Taken {
            in_use: &in_use,
            added: &mut added,
        };
        let actions = reconcile_storable(&storable, taken, &kept_remote);
        let mut losers = if rules.folds_names() && rounds <= input.remote.len() + 1 {
            colliding_arrivals(&storable, &actions)
        } else {
            Vec::new()
        };
        // Only names that come from the remote give way (conflict copies and renamed copies
        // take names free of every name and folder in use, so they never clash).
        losers.retain(|(path, _)| {
            !unstorable.contains_key(path)
                && live_at_or_below(&storable_remote, path).next().is_some()
        });
        if losers.is_empty() {
            return Plan {
                actions: as_renames(actions, &moved, input),
                unstorable: unstorable
                    .into_iter()
                    .map(|(path, reason)| Unstorable { path, reason })
                    .collect(),
            };
        }
        for (path, with) in losers {
            // A name no live entry lists is a folder (something lives below it).
            let is_dir = remote
                .get(&path)
                .filter(|e| !e.deleted)
                .is_none_or(|e| e.kind == EntryKind::Dir);
            // A file here with the loser's content under a copy name, known to neither the
            // base nor the page, is the copy an earlier attempt downloaded before its commit
            // failed (or lost the race to a commit without the rename): it is taken as the
            // copy, not duplicated.
            let loser_file = remote
                .get(&path)
                .filter(|e| !e.deleted && e.kind == EntryKind::File);
            let left_here = |c: &RelPath| {
                loser_file.is_some_and(|e| {
                    input
                        .local
                        .get(c)
                        .is_some_and(|l| l.kind == EntryKind::File && l.sha256 == e.sha256)
                        && !input.base.contains_key(c)
                        && !input.remote.contains_key(c)
                })
            };
            let taken = Taken {
                in_use: &in_use,
                added: &mut renamed_keys,
            };
            let copy = case_conflict_name(&path, is_dir, |c| {
                !left_here(c)
                    && (taken.contains(rules.key(c.as_str()).as_ref())
                        || rules.unstorable_reason(c).is_some())
            });
            let renames: Option<Vec<(RelPath, RelPath)>> = copy.and_then(|copy| {
                live_at_or_below(&remote, &path)
                    .map(|old| {
                        let new =
                            format!("{}{}", copy.as_str(), &old.as_str()[path.as_str().len()..]);
                        RelPath::new(&new).ok().map(|new| (old.clone(), new))
                    })
                    .collect()
            });
            let Some(renames) = renames else {
                // No copy name fits (a path at the length limit): left out, as a name
                // Windows refuses is.
                unstorable.insert(path, UnstorableReason::CaseConflict { with });
                continue;
            };
            let remote = remote.to_mut();
            for (old, new) in renames {
                let Some(mut e) = remote.remove(&old) else {
                    continue;
                };
                let original = moved.remove(&old).unwrap_or_else(|| e.clone());
                renamed_keys.insert(rules.key(new.as_str()).into_owned());
                for a in new.ancestors() {
                    renamed_keys.insert(rules.key(a).into_owned());
                }
                e.path = new.clone();
                remote.insert(new.clone(), e);
                moved.insert(new, original);
            }
        }
    }
}

/// The live entries of `map` at `path` or below it.
fn live_at_or_below<'a>(
    map: &'a BTreeMap<RelPath, FileEntry>,
    path: &'a RelPath,
) -> impl Iterator<Item = &'a RelPath> + 'a {
    let below = format!("{}/", path.as_str());
    map.get_key_value(path)
        .into_iter()
        .chain(
            map.range::<str, _>((Bound::Excluded(below.as_str()), Bound::Unbounded))
                .take_while(move |(p, _)| path.is_ancestor_of(p)),
        )
        .filter(|(_, e)| !e.deleted)
        .map(|(p, _)| p)
        .collect::<Vec<_>>()
        .into_iter()
}

/// The downloads of renamed entries (see [`reconcile`]) become [`Action::RenameRemote`]: the
/// entry is published under its new name with a tombstone at its old one, and brought here
/// (or only recorded, when a copy left by an earlier attempt is here already).
fn as_renames(
    actions: Vec<Action>,
    moved: &BTreeMap<RelPath, FileEntry>,
    input: &PlanInput,
) -> Vec<Action> {
    actions
        .into_iter()
        .map(|a| match a {
            Action::Download { path, entry } => match moved.get(&path) {
                Some(original) => Action::RenameRemote {
                    from: original.path.clone(),
                    tombstone: Box::new(tombstone(original, input.device, input.now_utc)),
                    path,
                    entry: Box::new(entry),
                    here: false,
                },
                None => Action::Download { path, entry },
            },
            Action::RecordBase { path, entry } => match moved.get(&path) {
                Some(original) => Action::RenameRemote {
                    from: original.path.clone(),
                    tombstone: Box::new(tombstone(original, input.device, input.now_utc)),
                    path,
                    entry: Box::new(entry),
                    here: true,
                },
                None => Action::RecordBase { path, entry },
            },
            other => other,
        })
        .collect()
}

/// `map` without the `excluded` paths and everything below them (borrowed when none is
/// excluded).
fn without_names<'a, V: Clone>(
    map: &'a BTreeMap<RelPath, V>,
    excluded: &BTreeSet<RelPath>,
) -> std::borrow::Cow<'a, BTreeMap<RelPath, V>> {
    if excluded.is_empty() {
        return std::borrow::Cow::Borrowed(map);
    }
    let hit =
        |p: &RelPath| excluded.contains(p.as_str()) || p.ancestors().any(|a| excluded.contains(a));
    std::borrow::Cow::Owned(
        map.iter()
            .filter(|(p, _)| !hit(p))
            .map(|(p, v)| (p.clone(), v.clone()))
            .collect(),
    )
}

/// Names the plan would leave here that are one name on this disk with another: for each such
/// group, every name not here yet except the one that keeps the name, paired with the keeper.
/// Folders above every name count (a download of `Docs/x` makes `Docs` here).
fn colliding_arrivals(input: &PlanInput, actions: &[Action]) -> Vec<(RelPath, RelPath)> {
    let mut after: BTreeSet<RelPath> = input.local.keys().cloned().collect();
    for a in actions {
        match a {
            Action::DeleteLocal { path, .. } | Action::Evict { path, .. } => {
                after.remove(path);
            }
            Action::Download { path, .. } => {
                after.insert(path.clone());
            }
            Action::ConflictRemoteWins { path, copy, .. } => {
                after.insert(path.clone());
                after.insert(copy.clone());
            }
            Action::ConflictLocalWins { copy, .. } => {
                after.insert(copy.clone());
            }
            Action::RenameRemote { path, .. } => {
                after.insert(path.clone());
            }
            Action::Upload { .. }
            | Action::DeleteRemote { .. }
            | Action::RecordBase { .. }
            | Action::ForgetBase { .. } => {}
        }
    }
    let mut all: BTreeSet<RelPath> = BTreeSet::new();
    for p in &after {
        let mut cur = Some(p.clone());
        while let Some(c) = cur {
            cur = c.parent();
            if !all.insert(c) {
                break;
            }
        }
    }
    let mut groups: BTreeMap<String, Vec<RelPath>> = BTreeMap::new();
    for p in all {
        groups
            .entry(input.names.key(p.as_str()).into_owned())
            .or_default()
            .push(p);
    }
    // Only the shallowest clashes this round: deeper ones may go with a losing folder (or
    // lose their keeper to it), which the next round sees.
    let Some(depth) = groups
        .values()
        .filter(|v| v.len() > 1)
        .map(|v| v[0].depth())
        .min()
    else {
        return Vec::new();
    };
    let mut losers = Vec::new();
    for (_, mut names) in groups
        .into_iter()
        .filter(|(_, v)| v.len() > 1 && v[0].depth() == depth)
    {
        // Here first, then in the base, then byte-wise smaller.
        names.sort_by_key(|n| {
            (
                !input.local.contains_key(n),
                !input.base.contains_key(n),
                n.clone(),
            )
        });
        let keeper = names[0].clone();
        for n in names.into_iter().skip(1) {
            if !input.local.contains_key(&n) {
                losers.push((n, keeper.clone()));
            }
        }
    }
    losers
}

/// The keys ([`NameRules::key`]) of every name in use in a plan's three lists, folders
/// above a name included (even when no entry lists them): built on first use.
struct NamesInUse<'i> {
    input: &'i PlanInput<'i>,
    keys: std::cell::OnceCell<BTreeSet<String>>,
}

impl<'i> NamesInUse<'i> {
    fn of(input: &'i PlanInput<'i>) -> Self {
        NamesInUse {
            input,
            keys: std::cell::OnceCell::new(),
        }
    }

    fn contains(&self, key: &str) -> bool {
        self.keys
            .get_or_init(|| {
                let (input, rules) = (self.input, self.input.names);
                let mut keys = BTreeSet::new();
                for p in input
                    .base
                    .keys()
                    .chain(input.local.keys())
                    .chain(input.remote.keys())
                {
                    keys.insert(rules.key(p.as_str()).into_owned());
                    for a in p.ancestors() {
                        keys.insert(rules.key(a).into_owned());
                    }
                }
                keys
            })
            .contains(key)
    }
}

/// The names a plan may not give a copy: those in use, and those it has given already.
struct Taken<'t, 'i> {
    in_use: &'t NamesInUse<'i>,
    added: &'t mut BTreeSet<String>,
}

impl Taken<'_, '_> {
    fn contains(&self, key: &str) -> bool {
        self.added.contains(key) || self.in_use.contains(key)
    }

    fn insert(&mut self, key: String) {
        self.added.insert(key);
    }
}

/// The plan for names this disk can all hold (see [`reconcile`]); `taken` holds the keys of
/// every name in use, so conflict copies never take a name that is already one here.
fn reconcile_storable(
    input: &PlanInput,
    mut taken: Taken,
    kept_remote: &BTreeSet<RelPath>,
) -> Vec<Action> {
    let empty = BTreeMap::new();
    let base = if input.base_trusted {
        input.base
    } else {
        &empty
    };
    let mut paths: BTreeSet<&RelPath> = BTreeSet::new();
    paths.extend(base.keys());
    paths.extend(input.local.keys());
    paths.extend(
        input
            .remote
            .iter()
            .filter(|(_, e)| !e.deleted)
            .map(|(p, _)| p),
    );

    let excluded_keys: BTreeSet<String> = input
        .excluded
        .iter()
        .map(|e| input.names.key(e.as_str()).into_owned())
        .collect();
    // At most one action per path: room for all of them at once (untouched room costs no
    // memory) instead of a vector that doubles — a copy of up to 100,000 actions beside the
    // next one while it grows — and is given back below (issue 15).
    let mut actions: Vec<Action> = Vec::with_capacity(paths.len());
    for &path in &paths {
        let b = base.get(path);
        let l = input.local.get(path);
        let r_any = input.remote.get(path);
        let r = r_any.filter(|e| !e.deleted);
        let local_changed = match (b, l) {
            (None, None) => false,
            (Some(b), Some(l)) => !same_local(l, b),
            _ => true,
        };
        let remote_changed = match (b, r) {
            (None, None) => false,
            (Some(b), Some(r)) => !same_entry(r, b),
            _ => true,
        };
        let next_version = version_of(b).max(version_of(r_any)) + 1;
        let action = match (local_changed, remote_changed) {
            (false, false) => match (b, r) {
                (Some(b), Some(r)) if r != b => Some(Action::RecordBase {
                    path: path.clone(),
                    entry: r.clone(),
                }),
                _ => None,
            },
            (true, false) => match l {
                Some(l) => match r {
                    Some(r) if same_local(l, r) => Some(Action::RecordBase {
                        path: path.clone(),
                        entry: r.clone(),
                    }),
                    _ => Some(Action::Upload {
                        path: path.clone(),
                        local: l.clone(),
                        version: next_version,
                    }),
                },
                None => match r {
                    Some(r) if input.base_trusted => Some(Action::DeleteRemote {
                        path: path.clone(),
                        tombstone: tombstone(r, input.device, input.now_utc),
                    }),
                    Some(r) => Some(Action::Download {
                        path: path.clone(),
                        entry: r.clone(),
                    }),
                    None => Some(Action::ForgetBase { path: path.clone() }),
                },
            },
            (false, true) => match r {
                Some(r) => match l {
                    Some(l) if same_local(l, r) => Some(Action::RecordBase {
                        path: path.clone(),
                        entry: r.clone(),
                    }),
                    _ => Some(Action::Download {
                        path: path.clone(),
                        entry: r.clone(),
                    }),
                },
                None => match l {
                    Some(l) if input.base_trusted => Some(Action::DeleteLocal {
                        path: path.clone(),
                        expected: l.clone(),
                    }),
                    Some(l) => Some(Action::Upload {
                        path: path.clone(),
                        local: l.clone(),
                        version: next_version,
                    }),
                    None => Some(Action::ForgetBase { path: path.clone() }),
                },
            },
            (true, true) => match (l, r) {
                (None, None) => b.map(|_| Action::ForgetBase { path: path.clone() }),
                (None, Some(r)) => Some(Action::Download {
                    path: path.clone(),
                    entry: r.clone(),
                }),
                (Some(l), None) => Some(Action::Upload {
                    path: path.clone(),
                    local: l.clone(),
                    version: next_version,
                }),
                (Some(l), Some(r)) if same_local(l, r) => Some(Action::RecordBase {
                    path: path.clone(),
                    entry: r.clone(),
                }),
                (Some(l), Some(r)) => Some(conflict(path, l, r, input, next_version, &mut taken)),
            },
        };
        let action = if excluded_here(&excluded_keys, path, input.names) {
            left_out(path, b, l, r, action)
        } else {
            action
        };
        if let Some(a) = action {
            actions.push(a);
        }
    }
    actions.shrink_to_fit();
    keep_evicted_folders_with_survivors(&mut actions, input);
    keep_folders_with_survivors(&mut actions, input, kept_remote);
    folders_win_over_files(&mut actions, input, base, &mut taken, kept_remote);
    remove_excluded_downloads(&mut actions, input, &excluded_keys);
    sort_stably_in_place(&mut actions, |a, b| {
        a.phase().cmp(&b.phase()).then_with(|| {
            if a.phase() == 1 {
                b.path().cmp(a.path()) // children before their folders
            } else {
                a.path().cmp(b.path())
            }
        })
    });
    actions
}

/// `v` sorted as a stable sort would, without its scratch copy of half the elements (8 MB
/// for a plan of 100,000 downloads, at a new device's peak; issue 15): the positions are
/// sorted, then the elements moved to theirs by swaps.
fn sort_stably_in_place<T>(v: &mut [T], cmp: impl Fn(&T, &T) -> std::cmp::Ordering) {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| cmp(&v[a], &v[b]));
    // Element `order[k]` belongs at `k`: each cycle of the permutation is walked once.
    for start in 0..v.len() {
        let mut at = start;
        while order[at] != start {
            let from = order[at];
            v.swap(at, from);
            order[at] = at;
            at = from;
        }
        order[at] = at;
    }
}

/// Whether `path` lies in a subtree this device leaves out (`keys`: the excluded paths as this
/// disk compares names).
fn excluded_here(keys: &BTreeSet<String>, path: &RelPath, names: NameRules) -> bool {
    !keys.is_empty()
        && std::iter::once(path.as_str())
            .chain(path.ancestors())
            .any(|a| keys.contains(names.key(a).as_ref()))
}

/// The action for a path in an excluded subtree, from the one an included path would get
/// (`action`). Selective sync's rules (see the module docs):
/// - nothing here: nothing happens (no download, and no remote deletion because it is missing
///   here); the base forgets the path, so including it again downloads it;
/// - here with the page's content: the copy here is removed ([`Action::Evict`]);
/// - here unchanged while the page changed or deleted it: removed here through the trash, as
///   an included file would be replaced or deleted ([`Action::DeleteLocal`]);
/// - changed or new here: what an included path gets (an upload, or a conflict when the page
///   changed too), so it reaches the page before a later sync removes it here.
fn left_out(
    path: &RelPath,
    b: Option<&FileEntry>,
    l: Option<&LocalEntry>,
    r: Option<&FileEntry>,
    action: Option<Action>,
) -> Option<Action> {
    let Some(l) = l else {
        return b.map(|_| Action::ForgetBase { path: path.clone() });
    };
    if r.is_some_and(|r| same_local(l, r)) {
        return Some(Action::Evict {
            path: path.clone(),
            expected: l.clone(),
        });
    }
    match action {
        // A file from the page over a folder here: left for `folders_win_over_files` (the
        // folder wins when something stays inside it), then `remove_excluded_downloads`.
        Some(Action::Download { entry, .. })
            if l.kind == EntryKind::Dir && entry.kind == EntryKind::File =>
        {
            Some(Action::Download {
                path: path.clone(),
                entry,
            })
        }
        // Only planned when this side is unchanged since the base: the page moved on.
        Some(Action::Download { .. }) => Some(Action::DeleteLocal {
            path: path.clone(),
            expected: l.clone(),
        }),
        other => other,
    }
}

/// A download left in an excluded subtree (a file from the page over an unchanged folder here
/// that keeps nothing) removes the folder here instead.
fn remove_excluded_downloads(actions: &mut [Action], input: &PlanInput, keys: &BTreeSet<String>) {
    for a in actions.iter_mut() {
        let Action::Download { path, .. } = a else {
            continue;
        };
        if !excluded_here(keys, path, input.names) {
            continue;
        }
        if let Some(l) = input.local.get(path) {
            *a = Action::DeleteLocal {
                path: path.clone(),
                expected: l.clone(),
            };
        }
    }
}

/// A folder is only evicted when everything here below it goes too: a changed or new file
/// inside an excluded folder keeps it until the file has reached the page.
fn keep_evicted_folders_with_survivors(actions: &mut Vec<Action>, input: &PlanInput) {
    let going: BTreeSet<RelPath> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Evict { path, .. } | Action::DeleteLocal { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect();
    let staying: BTreeSet<RelPath> = input
        .local
        .keys()
        .filter(|p| !going.contains(*p))
        .cloned()
        .collect();
    actions.retain(|a| match a {
        Action::Evict { path, expected } if expected.kind == EntryKind::Dir => {
            !has_survivor_below(&staying, path)
        }
        _ => true,
    });
}

/// The tombstone that deletes `r`: next version, this device, stamped with the deletion time.
fn tombstone(r: &FileEntry, device: &str, now: OffsetDateTime) -> FileEntry {
    let now_ns = i64::try_from(now.unix_timestamp_nanos()).unwrap_or(i64::MAX);
    FileEntry {
        path: r.path.clone(),
        kind: r.kind,
        deleted: true,
        size: 0,
        mtime_ns: now_ns,
        sha256: None,
        version: r.version + 1,
        device: crate::manifest::device_name(device),
        chunks: Default::default(),
    }
}

/// A conflict copy name for `path` that is no name in use on this disk (compared by
/// [`NameRules::key`]), taken at once.
fn free_copy_name(
    path: &RelPath,
    loser_device: &str,
    input: &PlanInput,
    taken: &mut Taken,
) -> RelPath {
    let copy = conflict_copy_name(path, loser_device, input.now_utc, |c| {
        taken.contains(input.names.key(c.as_str()).as_ref())
    });
    taken.insert(input.names.key(copy.as_str()).into_owned());
    copy
}

fn conflict(
    path: &RelPath,
    l: &LocalEntry,
    r: &FileEntry,
    input: &PlanInput,
    version: u64,
    taken: &mut Taken,
) -> Action {
    // A file/folder clash keeps the folder at the path and the file as a copy.
    let local_wins = match (l.kind, r.kind) {
        (EntryKind::Dir, EntryKind::File) => true,
        (EntryKind::File, EntryKind::Dir) => false,
        (EntryKind::Dir, EntryKind::Dir) => true,
        (EntryKind::File, EntryKind::File) => {
            l.mtime_ns > r.mtime_ns || (l.mtime_ns == r.mtime_ns && input.device > &*r.device)
        }
    };
    let loser_device = if local_wins { &*r.device } else { input.device };
    let copy = free_copy_name(path, loser_device, input, taken);
    if local_wins {
        Action::ConflictLocalWins {
            path: path.clone(),
            copy,
            entry: Box::new(r.clone()),
            local: l.clone(),
            version,
        }
    } else {
        Action::ConflictRemoteWins {
            path: path.clone(),
            copy,
            entry: Box::new(r.clone()),
            local: l.clone(),
        }
    }
}

/// Paths alive on some side after the plan: everything seen locally or live remotely that
/// the plan does not delete, and the remote names left out of the plan (`kept_remote`).
fn survivors(
    actions: &[Action],
    input: &PlanInput,
    kept_remote: &BTreeSet<RelPath>,
) -> BTreeSet<RelPath> {
    let alive_on_page = |path: &RelPath| input.remote.get(path).is_some_and(|e| !e.deleted);
    let deleted: BTreeSet<&RelPath> = actions
        .iter()
        .filter_map(|a| match a {
            Action::DeleteLocal { path, .. } | Action::DeleteRemote { path, .. } => Some(path),
            // Forgetting the base deletes nothing on the page: an entry an excluded subtree
            // holds there (missing here, so only forgotten) still lives, and keeps its folder.
            Action::ForgetBase { path } if !alive_on_page(path) => Some(path),
            _ => None,
        })
        .collect();
    input
        .local
        .keys()
        .chain(
            input
                .remote
                .iter()
                .filter(|(_, e)| !e.deleted)
                .map(|(p, _)| p),
        )
        .filter(|p| !deleted.contains(p))
        .chain(kept_remote)
        .cloned()
        .collect()
}

/// Whether something in `survivors` lies below `path`.
fn has_survivor_below(survivors: &BTreeSet<RelPath>, path: &RelPath) -> bool {
    // Descendants of `path` sort right after it, after only its "siblings" that share the
    // prefix and continue with a byte below '/' ("a b", "a-c", "a.txt").
    let prefix = format!("{}/", path.as_str());
    survivors
        .range::<RelPath, _>((Bound::Excluded(path), Bound::Unbounded))
        .take_while(|s| s.as_str() < prefix.as_str() || s.as_str().starts_with(&prefix))
        .any(|s| path.is_ancestor_of(s))
}

/// A folder deletion whose folder still has something inside after the plan is turned into
/// keeping the folder: a local folder deletion becomes an upload of the folder (it is alive
/// here), a remote one a download (it is alive there).
fn keep_folders_with_survivors(
    actions: &mut [Action],
    input: &PlanInput,
    kept_remote: &BTreeSet<RelPath>,
) {
    let survivors = survivors(actions, input, kept_remote);
    for a in actions.iter_mut() {
        let path = a.path().clone();
        match a {
            Action::DeleteLocal { expected, .. }
                if expected.kind == EntryKind::Dir && has_survivor_below(&survivors, &path) =>
            {
                let version = input.remote.get(&path).map(|e| e.version).unwrap_or(0) + 1;
                *a = Action::Upload {
                    path: path.clone(),
                    local: expected.clone(),
                    version,
                };
            }
            Action::DeleteRemote { tombstone, .. }
                if tombstone.kind == EntryKind::Dir && has_survivor_below(&survivors, &path) =>
            {
                if let Some(r) = input.remote.get(&path) {
                    *a = Action::Download {
                        path: path.clone(),
                        entry: r.clone(),
                    };
                }
            }
            _ => {}
        }
    }
}

/// A file that would land at a path where something stays alive below it (a folder replaced
/// by a file on one side while the other side added or changed something inside it, at any
/// depth) gives way: the folder keeps the path and the file is kept beside it as a conflict
/// copy named after its writer. A remote file coming here over a local folder becomes
/// [`Action::ConflictLocalWins`] (the folder is published, the file kept as a copy); a local
/// file going out over a remote folder becomes [`Action::ConflictRemoteWins`] (the file moves
/// aside, the folder is created here), with a new folder entry to publish when the remote
/// holds none (its folder was deleted while something was added inside). So no plan ever
/// publishes a file that is the parent of a live entry, which manifest validation refuses.
fn folders_win_over_files(
    actions: &mut [Action],
    input: &PlanInput,
    base: &BTreeMap<RelPath, FileEntry>,
    taken: &mut Taken,
    kept_remote: &BTreeSet<RelPath>,
) {
    let survivors = survivors(actions, input, kept_remote);
    for a in actions.iter_mut() {
        let path = a.path().clone();
        let next_version = version_of(base.get(&path)).max(version_of(input.remote.get(&path))) + 1;
        match a {
            Action::Download { entry, .. } if entry.kind == EntryKind::File => {
                let Some(l) = input.local.get(&path).filter(|l| l.kind == EntryKind::Dir) else {
                    continue;
                };
                if !has_survivor_below(&survivors, &path) && !input.holding_unsynced.contains(&path)
                {
                    continue;
                }
                let copy = free_copy_name(&path, &entry.device, input, taken);
                *a = Action::ConflictLocalWins {
                    path,
                    copy,
                    entry: Box::new(entry.clone()),
                    local: l.clone(),
                    version: next_version,
                };
            }
            Action::Upload { local, .. } if local.kind == EntryKind::File => {
                if !has_survivor_below(&survivors, &path) {
                    continue;
                }
                let entry = match input
                    .remote
                    .get(&path)
                    .filter(|r| !r.deleted && r.kind == EntryKind::Dir)
                {
                    Some(r) => r.clone(),
                    None => FileEntry {
                        path: path.clone(),
                        kind: EntryKind::Dir,
                        deleted: false,
                        size: 0,
                        mtime_ns: i64::try_from(input.now_utc.unix_timestamp_nanos())
                            .unwrap_or(i64::MAX),
                        sha256: None,
                        version: next_version,
                        device: crate::manifest::device_name(input.device),
                        chunks: Default::default(),
                    },
                };
                let copy = free_copy_name(&path, input.device, input, taken);
                *a = Action::ConflictRemoteWins {
                    path,
                    copy,
                    entry: Box::new(entry),
                    local: local.clone(),
                };
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const ME: &str = "me-0001";
    const OTHER: &str = "other-0002";

    proptest! {
        /// The in-place sort leaves elements exactly where a stable sort puts them, equal
        /// keys in their first order included.
        #[test]
        fn the_in_place_sort_is_the_stable_sort(keys in proptest::collection::vec(0u8..6, 0..200)) {
            let tagged: Vec<(u8, usize)> = keys.iter().copied().zip(0..).collect();
            let mut stable = tagged.clone();
            stable.sort_by_key(|a| a.0);
            let mut in_place = tagged;
            sort_stably_in_place(&mut in_place, |a, b| a.0.cmp(&b.0));
            prop_assert_eq!(in_place, stable);
        }
    }

    fn p(s: &str) -> RelPath {
        RelPath::new(s).unwrap()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap()
    }

    /// Content is identified by a small number; mtime doubles as the "when" of a write.
    fn remote_file(path: &str, content: u8, mtime: i64, version: u64, device: &str) -> FileEntry {
        FileEntry {
            path: p(path),
            kind: EntryKind::File,
            deleted: false,
            size: 1,
            mtime_ns: mtime,
            sha256: Some(Digest::of(&[content])),
            version,
            device: device.into(),
            chunks: Default::default(),
        }
    }

    fn remote_dir(path: &str, version: u64) -> FileEntry {
        FileEntry {
            path: p(path),
            kind: EntryKind::Dir,
            deleted: false,
            size: 0,
            mtime_ns: 0,
            sha256: None,
            version,
            device: OTHER.into(),
            chunks: Default::default(),
        }
    }

    fn gone(e: &FileEntry) -> FileEntry {
        let mut t = e.clone();
        t.deleted = true;
        t.sha256 = None;
        t.size = 0;
        t.version += 1;
        t
    }

    fn local_file(content: u8, mtime: i64) -> LocalEntry {
        LocalEntry {
            kind: EntryKind::File,
            size: 1,
            mtime_ns: mtime,
            sha256: Some(Digest::of(&[content])),
        }
    }

    fn local_dir() -> LocalEntry {
        LocalEntry {
            kind: EntryKind::Dir,
            size: 0,
            mtime_ns: 0,
            sha256: None,
        }
    }

    struct Case {
        base: BTreeMap<RelPath, FileEntry>,
        local: BTreeMap<RelPath, LocalEntry>,
        remote: BTreeMap<RelPath, FileEntry>,
        trusted: bool,
        holding_unsynced: BTreeSet<RelPath>,
        names: NameRules,
        excluded: BTreeSet<RelPath>,
    }

    impl Case {
        fn new() -> Self {
            Case {
                base: BTreeMap::new(),
                local: BTreeMap::new(),
                remote: BTreeMap::new(),
                trusted: true,
                holding_unsynced: BTreeSet::new(),
                names: NameRules::EXACT,
                excluded: BTreeSet::new(),
            }
        }
        fn exclude(mut self, path: &str) -> Self {
            self.excluded.insert(p(path));
            self
        }
        fn base(mut self, e: FileEntry) -> Self {
            self.base.insert(e.path.clone(), e);
            self
        }
        fn local(mut self, path: &str, l: LocalEntry) -> Self {
            self.local.insert(p(path), l);
            self
        }
        fn remote(mut self, e: FileEntry) -> Self {
            self.remote.insert(e.path.clone(), e);
            self
        }
        fn plan(&self) -> Plan {
            reconcile(&PlanInput {
                base: &self.base,
                local: &self.local,
                remote: &self.remote,
                device: ME,
                now_utc: now(),
                base_trusted: self.trusted,
                holding_unsynced: &self.holding_unsynced,
                names: self.names,
                excluded: &self.excluded,
            })
        }
    }

    fn kinds(plan: &Plan) -> Vec<&'static str> {
        plan.actions
            .iter()
            .map(|a| match a {
                Action::Upload { .. } => "upload",
                Action::Download { .. } => "download",
                Action::DeleteLocal { .. } => "delete-local",
                Action::DeleteRemote { .. } => "delete-remote",
                Action::ConflictRemoteWins { .. } => "conflict-remote-wins",
                Action::ConflictLocalWins { .. } => "conflict-local-wins",
                Action::RecordBase { .. } => "record-base",
                Action::ForgetBase { .. } => "forget-base",
                Action::RenameRemote { .. } => "rename-remote",
                Action::Evict { .. } => "evict",
            })
            .collect()
    }

    #[test]
    fn table_of_single_file_cases() {
        let x = remote_file("f", 1, 10, 1, OTHER);
        let y = remote_file("f", 2, 20, 2, OTHER);
        let cases: Vec<(&str, Case, Vec<&str>)> = vec![
            ("nothing anywhere", Case::new(), vec![]),
            (
                "in sync",
                Case::new()
                    .base(x.clone())
                    .local("f", local_file(1, 10))
                    .remote(x.clone()),
                vec![],
            ),
            (
                "created locally",
                Case::new().local("f", local_file(1, 10)),
                vec!["upload"],
            ),
            (
                "created remotely",
                Case::new().remote(x.clone()),
                vec!["download"],
            ),
            (
                "created on both, same content",
                Case::new().local("f", local_file(1, 99)).remote(x.clone()),
                vec!["record-base"],
            ),
            (
                "created on both, different",
                Case::new().local("f", local_file(2, 99)).remote(x.clone()),
                vec!["conflict-local-wins"],
            ),
            (
                "modified locally",
                Case::new()
                    .base(x.clone())
                    .local("f", local_file(2, 20))
                    .remote(x.clone()),
                vec!["upload"],
            ),
            (
                "modified remotely",
                Case::new()
                    .base(x.clone())
                    .local("f", local_file(1, 10))
                    .remote(y.clone()),
                vec!["download"],
            ),
            (
                "modified both, same",
                Case::new()
                    .base(x.clone())
                    .local("f", local_file(2, 30))
                    .remote(y.clone()),
                vec!["record-base"],
            ),
            (
                "modified both, local later",
                Case::new()
                    .base(x.clone())
                    .local("f", local_file(3, 30))
                    .remote(y.clone()),
                vec!["conflict-local-wins"],
            ),
            (
                "modified both, remote later",
                Case::new()
                    .base(x.clone())
                    .local("f", local_file(3, 15))
                    .remote(y.clone()),
                vec!["conflict-remote-wins"],
            ),
            (
                "deleted locally",
                Case::new().base(x.clone()).remote(x.clone()),
                vec!["delete-remote"],
            ),
            (
                "deleted remotely",
                Case::new()
                    .base(x.clone())
                    .local("f", local_file(1, 10))
                    .remote(gone(&x)),
                vec!["delete-local"],
            ),
            (
                "deleted remotely, entry pruned",
                Case::new().base(x.clone()).local("f", local_file(1, 10)),
                vec!["delete-local"],
            ),
            (
                "deleted on both",
                Case::new().base(x.clone()).remote(gone(&x)),
                vec!["forget-base"],
            ),
            (
                "edited here, deleted there",
                Case::new()
                    .base(x.clone())
                    .local("f", local_file(2, 20))
                    .remote(gone(&x)),
                vec!["upload"],
            ),
            (
                "deleted here, edited there",
                Case::new().base(x.clone()).remote(y.clone()),
                vec!["download"],
            ),
            ("tombstone only", Case::new().remote(gone(&x)), vec![]),
            (
                "created here over an old tombstone",
                Case::new().local("f", local_file(5, 50)).remote(gone(&x)),
                vec!["upload"],
            ),
            (
                "metadata-only remote change",
                Case::new()
                    .base(x.clone())
                    .local("f", local_file(1, 10))
                    .remote(remote_file("f", 1, 77, 3, OTHER)),
                vec!["record-base"],
            ),
        ];
        for (name, case, expected) in cases {
            assert_eq!(kinds(&case.plan()), expected, "case: {name}");
        }
    }

    #[test]
    fn versions_move_past_both_sides() {
        let x = remote_file("f", 1, 10, 4, OTHER);
        let plan = Case::new()
            .base(remote_file("f", 1, 10, 2, OTHER))
            .local("f", local_file(2, 20))
            .remote(x)
            .plan();
        match &plan.actions[0] {
            Action::Upload { version, .. } => assert_eq!(*version, 5, "max(base 2, remote 4) + 1"),
            a => panic!("unexpected {a:?}"),
        }
        let t = gone(&remote_file("f", 1, 10, 7, OTHER));
        let plan = Case::new().local("f", local_file(2, 20)).remote(t).plan();
        assert!(
            matches!(&plan.actions[0], Action::Upload { version: 9, .. }),
            "past the tombstone: {plan:?}"
        );
    }

    #[test]
    fn ties_are_broken_by_device_id() {
        let base = remote_file("f", 1, 10, 1, OTHER);
        // Same mtime on both sides: the greater device id wins ("other-…" > "me-…").
        let plan = Case::new()
            .base(base)
            .local("f", local_file(2, 20))
            .remote(remote_file("f", 3, 20, 2, OTHER))
            .plan();
        assert!(
            matches!(plan.actions[0], Action::ConflictRemoteWins { .. }),
            "{plan:?}"
        );
    }

    #[test]
    fn conflict_copies_are_recognised_by_the_namer_s_own_split() {
        let when = now();
        let long_ext = format!("notes.{}", "x".repeat(40)); // no extension: over 32 bytes
        for original in ["docs/report.final.docx", "Makefile", ".env", &long_ext] {
            let path = p(original);
            let copy = conflict_copy_name(&path, "pc", when, |_| false);
            assert!(is_conflict_copy_of(&copy, &path), "{copy} copies {path}");
            let second = conflict_copy_name(&path, "pc", when, |c| c == &copy);
            assert!(
                is_conflict_copy_of(&second, &path),
                "{second} copies {path}"
            );
        }
        let path = p("docs/report.docx");
        for other in [
            "report (conflict from pc 2026-11-18 110640).docx",
            "docs/report (copy).docx",
            "docs/other (conflict from pc 2026-11-18 110640).docx",
        ] {
            assert!(!is_conflict_copy_of(&p(other), &path), "{other}");
        }
    }

    #[test]
    fn conflict_copies_are_named_after_the_loser_and_never_collide() {
        let when = now();
        let name = conflict_copy_name(&p("docs/report.final.docx"), "laptop-1a2b", when, |_| false);
        assert_eq!(
            name.as_str(),
            "docs/report.final (conflict from laptop-1a2b 2026-11-18 110640).docx"
        );
        let dotless = conflict_copy_name(&p("Makefile"), "pc", when, |_| false);
        assert_eq!(
            dotless.as_str(),
            "Makefile (conflict from pc 2026-11-18 110640)"
        );
        let first = conflict_copy_name(&p("a.txt"), "pc", when, |_| false);
        let second = conflict_copy_name(&p("a.txt"), "pc", when, |c| c == &first);
        assert_eq!(
            second.as_str(),
            "a (conflict from pc 2026-11-18 110640) 2.txt"
        );
        let hostile = conflict_copy_name(&p("a.txt"), "ev/il\\dev", when, |_| false);
        assert!(
            RelPath::new(hostile.as_str()).is_ok() && hostile.parent().is_none(),
            "device text cannot add folders: {hostile}"
        );
    }

    #[test]
    fn a_remote_win_keeps_the_local_version_under_this_devices_name() {
        let base = remote_file("f.txt", 1, 10, 1, OTHER);
        let c = Case::new()
            .base(base)
            .local("f.txt", local_file(2, 15))
            .remote(remote_file("f.txt", 3, 20, 2, OTHER));
        let plan = c.plan();
        match &plan.actions[0] {
            Action::ConflictRemoteWins { copy, .. } => {
                assert!(copy.as_str().contains(ME), "{copy}")
            }
            a => panic!("unexpected {a:?}"),
        }
    }

    #[test]
    fn folders_are_created_parents_first_and_deleted_children_first() {
        let c = Case::new()
            .remote(remote_dir("a", 1))
            .remote(remote_dir("a/b", 1))
            .remote(remote_file("a/b/f", 1, 1, 1, OTHER));
        let order: Vec<String> = c
            .plan()
            .actions
            .iter()
            .map(|a| a.path().to_string())
            .collect();
        assert_eq!(order, vec!["a", "a/b", "a/b/f"]);

        let mut c = Case::new();
        for e in [
            remote_dir("a", 1),
            remote_dir("a/b", 1),
            remote_file("a/b/f", 1, 1, 1, OTHER),
        ] {
            c = c.base(e.clone()).remote(gone(&e));
        }
        c = c
            .local("a", local_dir())
            .local("a/b", local_dir())
            .local("a/b/f", local_file(1, 1));
        let order: Vec<String> = c
            .plan()
            .actions
            .iter()
            .map(|a| a.path().to_string())
            .collect();
        assert_eq!(
            order,
            vec!["a/b/f", "a/b", "a"],
            "children before their folder"
        );
    }

    #[test]
    fn a_folder_deleted_remotely_stays_while_new_local_files_live_in_it() {
        let d = remote_dir("d", 1);
        let plan = Case::new()
            .base(d.clone())
            .remote(gone(&d))
            .local("d", local_dir())
            .local("d/new.txt", local_file(9, 9))
            .plan();
        let k = kinds(&plan);
        assert!(
            !k.contains(&"delete-local"),
            "the folder is not deleted: {plan:?}"
        );
        assert_eq!(
            k,
            vec!["upload", "upload"],
            "folder and new file are published: {plan:?}"
        );
    }

    #[test]
    fn only_real_children_keep_a_deleted_folder() {
        let d = remote_dir("d", 1);
        // "d b" and "d.txt" sort between "d" and "d/…" but are not inside it.
        let plan = Case::new()
            .base(d.clone())
            .remote(gone(&d))
            .local("d", local_dir())
            .local("d b", local_file(1, 1))
            .local("d.txt", local_file(2, 1))
            .plan();
        assert!(
            matches!(&plan.actions[0], Action::DeleteLocal { path, .. } if path.as_str() == "d"),
            "{plan:?}"
        );
        let plan = Case::new()
            .base(d.clone())
            .remote(gone(&d))
            .local("d", local_dir())
            .local("d b", local_file(1, 1))
            .local("d/z/new", local_file(2, 1))
            .local("d/z", local_dir())
            .plan();
        assert_eq!(plan.deletions_local(), 0, "{plan:?}");
    }

    #[test]
    fn a_file_folder_clash_keeps_the_folder_at_the_path() {
        let plan = Case::new()
            .local("x", local_dir())
            .remote(remote_file("x", 1, 1, 1, OTHER))
            .plan();
        assert!(
            matches!(&plan.actions[0], Action::ConflictLocalWins { local, .. } if local.kind == EntryKind::Dir)
        );
        let plan = Case::new()
            .local("x", local_file(1, 99))
            .remote(remote_dir("x", 1))
            .plan();
        assert!(
            matches!(&plan.actions[0], Action::ConflictRemoteWins { entry, .. } if entry.kind == EntryKind::Dir)
        );
    }

    #[test]
    fn an_untrusted_base_never_deletes() {
        let x = remote_file("f", 1, 10, 1, OTHER);
        let mut c = Case::new()
            .base(x.clone())
            .base(remote_file("g", 2, 10, 1, OTHER))
            .remote(x.clone())
            .local("g", local_file(2, 10));
        c.trusted = false;
        let k = kinds(&c.plan());
        assert!(
            !k.contains(&"delete-local") && !k.contains(&"delete-remote"),
            "{k:?}"
        );
        assert_eq!(
            k,
            vec!["download", "upload"],
            "each side's file goes to the other"
        );
    }

    #[test]
    fn case_only_rename_is_a_delete_and_a_create_that_keeps_the_content() {
        let a = remote_file("Report.txt", 1, 10, 1, OTHER);
        let plan = Case::new()
            .base(a.clone())
            .remote(a.clone())
            .local("report.txt", local_file(1, 10))
            .plan();
        let k = kinds(&plan);
        assert_eq!(k, vec!["delete-remote", "upload"], "{plan:?}");
    }

    #[test]
    fn table_of_single_folder_cases() {
        let d = remote_dir("d", 1);
        let f = remote_file("d", 1, 10, 1, OTHER);
        let cases: Vec<(&str, Case, Vec<&str>)> = vec![
            (
                "in sync",
                Case::new()
                    .base(d.clone())
                    .local("d", local_dir())
                    .remote(d.clone()),
                vec![],
            ),
            (
                "created locally",
                Case::new().local("d", local_dir()),
                vec!["upload"],
            ),
            (
                "created remotely",
                Case::new().remote(d.clone()),
                vec!["download"],
            ),
            (
                "created on both",
                Case::new().local("d", local_dir()).remote(d.clone()),
                vec!["record-base"],
            ),
            (
                "deleted locally",
                Case::new().base(d.clone()).remote(d.clone()),
                vec!["delete-remote"],
            ),
            (
                "deleted remotely",
                Case::new()
                    .base(d.clone())
                    .local("d", local_dir())
                    .remote(gone(&d)),
                vec!["delete-local"],
            ),
            (
                "deleted on both",
                Case::new().base(d.clone()).remote(gone(&d)),
                vec!["forget-base"],
            ),
            ("tombstone only", Case::new().remote(gone(&d)), vec![]),
            (
                "folder became a file here",
                Case::new()
                    .base(d.clone())
                    .local("d", local_file(1, 10))
                    .remote(d.clone()),
                vec!["upload"],
            ),
            (
                "folder became a file there",
                Case::new()
                    .base(d.clone())
                    .local("d", local_dir())
                    .remote(f.clone()),
                vec!["download"],
            ),
            (
                "file became a folder here",
                Case::new()
                    .base(f.clone())
                    .local("d", local_dir())
                    .remote(f.clone()),
                vec!["upload"],
            ),
            (
                "file became a folder there",
                Case::new()
                    .base(f.clone())
                    .local("d", local_file(1, 10))
                    .remote(d.clone()),
                vec!["download"],
            ),
            (
                "file became a folder here, edited there",
                Case::new()
                    .base(f.clone())
                    .local("d", local_dir())
                    .remote(remote_file("d", 2, 20, 2, OTHER)),
                vec!["conflict-local-wins"],
            ),
            (
                "folder became a file on both",
                Case::new()
                    .base(d.clone())
                    .local("d", local_file(1, 10))
                    .remote(f.clone()),
                vec!["record-base"],
            ),
            (
                "folder deleted here, became a file there",
                Case::new().base(d.clone()).remote(f.clone()),
                vec!["download"],
            ),
        ];
        for (name, case, expected) in cases {
            assert_eq!(kinds(&case.plan()), expected, "case: {name}");
        }
    }

    #[test]
    fn a_folder_replaced_by_a_file_deletes_its_children_on_the_other_side() {
        let d = remote_dir("d", 1);
        let child = remote_file("d/x", 1, 10, 1, OTHER);
        let plan = Case::new()
            .base(d.clone())
            .base(child.clone())
            .remote(d.clone())
            .remote(child.clone())
            .local("d", local_file(2, 20))
            .plan();
        assert_eq!(kinds(&plan), vec!["delete-remote", "upload"], "{plan:?}");
        assert_eq!(plan.actions[0].path().as_str(), "d/x");
        assert_eq!(plan.actions[1].path().as_str(), "d");
    }

    /// A folder replaced by a file on one side while the other side added or changed
    /// something inside it, at any depth, and the other combinations of type changes: the
    /// folder keeps the path, the file is kept beside it as a conflict copy, nothing any side
    /// wrote is lost and the published tree never has a file as the parent of a live entry.
    #[test]
    fn table_of_type_change_cases() {
        let dx = remote_dir("x", 1);
        let xa = remote_file("x/a", 1, 10, 1, OTHER);
        let deep = remote_dir("x/deep", 1);
        let deep_b = remote_file("x/deep/b", 2, 10, 1, OTHER);
        // The other device replaced folder x by a file.
        let fx = remote_file("x", 5, 20, 2, OTHER);
        // x was a file in the base.
        let fx0 = remote_file("x", 1, 10, 1, OTHER);
        let xy = remote_dir("x/y", 1);
        let xyz = remote_file("x/y/z", 3, 10, 1, OTHER);
        let untrusted = |mut c: Case| {
            c.trusted = false;
            c
        };
        let cases: Vec<(&str, Case, Vec<&str>)> = vec![
            (
                "folder became a file there, nothing new here",
                Case::new()
                    .base(dx.clone())
                    .base(xa.clone())
                    .remote(fx.clone())
                    .remote(gone(&xa))
                    .local("x", local_dir())
                    .local("x/a", local_file(1, 10)),
                vec!["delete-local", "download"],
            ),
            (
                "folder became a file there, only unsynced files left inside here",
                {
                    let mut c = Case::new()
                        .base(dx.clone())
                        .base(xa.clone())
                        .remote(fx.clone())
                        .remote(gone(&xa))
                        .local("x", local_dir())
                        .local("x/a", local_file(1, 10));
                    c.holding_unsynced.insert(p("x"));
                    c
                },
                vec!["conflict-local-wins", "delete-local"],
            ),
            (
                "folder became a file there, a file added inside here",
                Case::new()
                    .base(dx.clone())
                    .base(xa.clone())
                    .remote(fx.clone())
                    .remote(gone(&xa))
                    .local("x", local_dir())
                    .local("x/a", local_file(1, 10))
                    .local("x/new.txt", local_file(9, 30)),
                vec!["conflict-local-wins", "delete-local", "upload"],
            ),
            (
                "folder became a file there, a file inside edited here",
                Case::new()
                    .base(dx.clone())
                    .base(xa.clone())
                    .remote(fx.clone())
                    .remote(gone(&xa))
                    .local("x", local_dir())
                    .local("x/a", local_file(2, 30)),
                vec!["conflict-local-wins", "upload"],
            ),
            (
                "folder became a file there, a nested file added here",
                Case::new()
                    .base(dx.clone())
                    .base(xa.clone())
                    .remote(fx.clone())
                    .remote(gone(&xa))
                    .local("x", local_dir())
                    .local("x/a", local_file(1, 10))
                    .local("x/deep", local_dir())
                    .local("x/deep/b", local_file(4, 30)),
                vec!["conflict-local-wins", "delete-local", "upload", "upload"],
            ),
            (
                "folder became a file there, a nested file edited here",
                Case::new()
                    .base(dx.clone())
                    .base(deep.clone())
                    .base(deep_b.clone())
                    .remote(fx.clone())
                    .remote(gone(&deep))
                    .remote(gone(&deep_b))
                    .local("x", local_dir())
                    .local("x/deep", local_dir())
                    .local("x/deep/b", local_file(4, 30)),
                vec!["conflict-local-wins", "upload", "upload"],
            ),
            (
                "folder became a file here, a file added inside there",
                Case::new()
                    .base(dx.clone())
                    .base(xa.clone())
                    .remote(dx.clone())
                    .remote(xa.clone())
                    .remote(remote_file("x/new.txt", 9, 30, 1, OTHER))
                    .local("x", local_file(7, 30)),
                vec!["conflict-remote-wins", "delete-remote", "download"],
            ),
            (
                "folder became a file here, a file inside edited there",
                Case::new()
                    .base(dx.clone())
                    .base(xa.clone())
                    .remote(dx.clone())
                    .remote(remote_file("x/a", 2, 20, 2, OTHER))
                    .local("x", local_file(7, 30)),
                vec!["conflict-remote-wins", "download"],
            ),
            (
                "folder became a file here, a nested file edited there",
                Case::new()
                    .base(dx.clone())
                    .base(deep.clone())
                    .base(deep_b.clone())
                    .remote(dx.clone())
                    .remote(deep.clone())
                    .remote(remote_file("x/deep/b", 4, 20, 2, OTHER))
                    .local("x", local_file(7, 30)),
                vec!["conflict-remote-wins", "download", "download"],
            ),
            (
                "file became a folder here, the file edited there",
                Case::new()
                    .base(fx0.clone())
                    .remote(remote_file("x", 2, 20, 2, OTHER))
                    .local("x", local_dir())
                    .local("x/a", local_file(3, 30)),
                vec!["conflict-local-wins", "upload"],
            ),
            (
                "file became a folder there, the file edited here",
                Case::new()
                    .base(fx0.clone())
                    .remote(remote_dir("x", 2))
                    .remote(remote_file("x/a", 3, 20, 1, OTHER))
                    .local("x", local_file(2, 30)),
                vec!["conflict-remote-wins", "download"],
            ),
            (
                "folder became a file on both sides, differently",
                Case::new()
                    .base(dx.clone())
                    .base(xa.clone())
                    .remote(fx.clone())
                    .remote(gone(&xa))
                    .local("x", local_file(6, 30)),
                vec!["conflict-local-wins", "forget-base"],
            ),
            (
                "file became a folder on both sides, different files inside",
                Case::new()
                    .base(fx0.clone())
                    .remote(remote_dir("x", 2))
                    .remote(remote_file("x/a", 3, 20, 1, OTHER))
                    .local("x", local_dir())
                    .local("x/b", local_file(4, 30)),
                vec!["download", "upload", "record-base"],
            ),
            (
                "a folder deep inside became a file there, a file in it edited here",
                Case::new()
                    .base(dx.clone())
                    .base(xy.clone())
                    .base(xyz.clone())
                    .remote(dx.clone())
                    .remote(remote_file("x/y", 6, 20, 2, OTHER))
                    .remote(gone(&xyz))
                    .local("x", local_dir())
                    .local("x/y", local_dir())
                    .local("x/y/z", local_file(4, 30)),
                vec!["conflict-local-wins", "upload"],
            ),
            (
                "a folder deep inside became a file here, a file in it edited there",
                Case::new()
                    .base(dx.clone())
                    .base(xy.clone())
                    .base(xyz.clone())
                    .remote(dx.clone())
                    .remote(xy.clone())
                    .remote(remote_file("x/y/z", 4, 20, 2, OTHER))
                    .local("x", local_dir())
                    .local("x/y", local_file(6, 30)),
                vec!["conflict-remote-wins", "download"],
            ),
            (
                "folder became a file there, the folder deleted here",
                Case::new()
                    .base(dx.clone())
                    .base(xa.clone())
                    .remote(fx.clone())
                    .remote(gone(&xa)),
                vec!["download", "forget-base"],
            ),
            (
                "folder deleted there, became a file here",
                Case::new()
                    .base(dx.clone())
                    .base(xa.clone())
                    .remote(gone(&dx))
                    .remote(gone(&xa))
                    .local("x", local_file(6, 30)),
                vec!["upload", "forget-base"],
            ),
            (
                "file became a folder there, the file deleted here",
                Case::new()
                    .base(fx0.clone())
                    .remote(remote_dir("x", 2))
                    .remote(remote_file("x/a", 3, 20, 1, OTHER)),
                vec!["download", "download"],
            ),
            (
                "file deleted there, became a folder here",
                Case::new()
                    .base(fx0.clone())
                    .remote(gone(&fx0))
                    .local("x", local_dir())
                    .local("x/a", local_file(3, 30)),
                vec!["upload", "upload"],
            ),
            (
                "folder deleted there with a file added inside by a third device, a file here",
                Case::new()
                    .base(dx.clone())
                    .base(xa.clone())
                    .remote(gone(&dx))
                    .remote(gone(&xa))
                    .remote(remote_file("x/new.txt", 9, 30, 1, OTHER))
                    .local("x", local_file(6, 30)),
                vec!["conflict-remote-wins", "download", "forget-base"],
            ),
            (
                "untrusted: a folder with files here, a file there",
                untrusted(
                    Case::new()
                        .base(dx.clone())
                        .remote(fx.clone())
                        .local("x", local_dir())
                        .local("x/new.txt", local_file(9, 30)),
                ),
                vec!["conflict-local-wins", "upload"],
            ),
            (
                "untrusted: a file here, a folder with files there",
                untrusted(
                    Case::new()
                        .base(dx.clone())
                        .remote(dx.clone())
                        .remote(xa.clone())
                        .local("x", local_file(6, 30)),
                ),
                vec!["conflict-remote-wins", "download"],
            ),
            (
                "untrusted: a file here, files there under a deleted folder",
                untrusted(
                    Case::new()
                        .base(dx.clone())
                        .remote(gone(&dx))
                        .remote(remote_file("x/new.txt", 9, 30, 1, OTHER))
                        .local("x", local_file(6, 30)),
                ),
                vec!["conflict-remote-wins", "download"],
            ),
        ];
        for (name, case, expected) in cases {
            let plan = case.plan();
            assert_eq!(kinds(&plan), expected, "case: {name}: {plan:?}");
            check(case.base, case.local, case.remote, case.trusted, case.names);
        }
    }

    #[test]
    fn a_file_giving_way_to_a_folder_is_kept_under_its_writers_name() {
        let dx = remote_dir("x", 1);
        let xa = remote_file("x/a", 1, 10, 1, OTHER);
        // The remote's file loses to the folder here: the copy is named after its writer.
        let plan = Case::new()
            .base(dx.clone())
            .base(xa.clone())
            .remote(remote_file("x", 5, 20, 2, OTHER))
            .remote(gone(&xa))
            .local("x", local_dir())
            .local("x/new.txt", local_file(9, 30))
            .plan();
        match &plan.actions[0] {
            Action::ConflictLocalWins {
                path,
                copy,
                local,
                version,
                ..
            } => {
                assert_eq!(path.as_str(), "x");
                assert_eq!(local.kind, EntryKind::Dir);
                assert_eq!(
                    copy.as_str(),
                    "x (conflict from other-0002 2026-11-18 110640)"
                );
                assert_eq!(*version, 3, "past the remote file's version");
            }
            a => panic!("unexpected {a:?}"),
        }
        // This device's file loses to the remote folder: named after this device; when the
        // remote holds no live folder entry, the plan carries a new one to publish.
        let plan = Case::new()
            .base(dx.clone())
            .base(xa.clone())
            .remote(gone(&dx))
            .remote(gone(&xa))
            .remote(remote_file("x/new.txt", 9, 30, 1, OTHER))
            .local("x", local_file(6, 30))
            .plan();
        match &plan.actions[0] {
            Action::ConflictRemoteWins {
                path, copy, entry, ..
            } => {
                assert_eq!(path.as_str(), "x");
                assert!(copy.as_str().contains(ME), "{copy}");
                assert_eq!(entry.kind, EntryKind::Dir);
                assert!(!entry.deleted);
                assert_eq!(entry.version, 3, "past the tombstone");
                assert_eq!(&*entry.device, ME);
            }
            a => panic!("unexpected {a:?}"),
        }
    }

    #[test]
    fn an_untrusted_base_turns_differences_into_conflicts_not_deletions() {
        let x = remote_file("f", 1, 10, 1, OTHER);
        let mut c = Case::new()
            .base(x.clone())
            .local("f", local_file(2, 5))
            .remote(x.clone());
        c.trusted = false;
        let plan = c.plan();
        assert_eq!(
            kinds(&plan),
            vec!["conflict-remote-wins"],
            "no 'modified here' without a base"
        );
        let mut c = Case::new()
            .base(x.clone())
            .local("f", local_file(1, 10))
            .remote(x.clone());
        c.trusted = false;
        assert_eq!(kinds(&c.plan()), vec!["record-base"]);
        let mut c = Case::new()
            .base(x.clone())
            .local("f", local_file(1, 10))
            .remote(gone(&x));
        c.trusted = false;
        assert_eq!(
            kinds(&c.plan()),
            vec!["upload"],
            "a remote tombstone deletes nothing"
        );
    }

    #[test]
    fn a_remote_case_only_rename_keeps_the_content_here() {
        let old = remote_file("Report.txt", 1, 10, 1, OTHER);
        let new = remote_file("report.txt", 1, 20, 1, OTHER);
        let plan = Case::new()
            .base(old.clone())
            .local("Report.txt", local_file(1, 10))
            .remote(gone(&old))
            .remote(new.clone())
            .plan();
        assert_eq!(kinds(&plan), vec!["delete-local", "download"], "{plan:?}");
        assert!(
            matches!(&plan.actions[1], Action::Download { entry, .. } if entry.sha256 == old.sha256)
        );
        assert_eq!(
            plan.actions[0].path().to_lowercase_key(),
            plan.actions[1].path().to_lowercase_key()
        );
    }

    #[test]
    fn tombstones_carry_the_next_version_this_device_and_the_deletion_time() {
        let x = remote_file("f", 1, 10, 4, OTHER);
        let plan = Case::new().base(x.clone()).remote(x).plan();
        match &plan.actions[0] {
            Action::DeleteRemote { tombstone, .. } => {
                assert!(
                    tombstone.deleted && tombstone.sha256.is_none() && tombstone.chunks.is_empty()
                );
                assert_eq!(tombstone.version, 5);
                assert_eq!(&*tombstone.device, ME);
                assert_eq!(i128::from(tombstone.mtime_ns), now().unix_timestamp_nanos());
            }
            a => panic!("unexpected {a:?}"),
        }
        assert_eq!(
            plan.summary(),
            PlanSummary {
                deletions_remote: 1,
                ..PlanSummary::default()
            }
        );
        assert_eq!(plan.deletions_remote(), 1);
        assert_eq!(plan.deletions_local(), 0);
    }

    #[test]
    fn conflict_names_skip_every_taken_path_and_stay_valid_when_long() {
        let when = now();
        // Nested, dotted, numbered past names taken on any side (base included even untrusted).
        let taken_copy = p("a/b/x (conflict from me-0001 2026-11-18 110640).txt");
        let base = remote_file(taken_copy.as_str(), 7, 1, 1, OTHER);
        let mut c = Case::new()
            .base(base)
            .local("a/b/x.txt", local_file(2, 5))
            .remote(remote_file("a/b/x.txt", 3, 20, 1, OTHER));
        c.trusted = false;
        match &c.plan().actions[0] {
            Action::ConflictRemoteWins { copy, .. } => {
                assert_eq!(
                    copy.as_str(),
                    "a/b/x (conflict from me-0001 2026-11-18 110640) 2.txt"
                )
            }
            a => panic!("unexpected {a:?}"),
        }
        // Times are shown in UTC whatever the offset given.
        let shifted = when.to_offset(time::UtcOffset::from_hms(3, 0, 0).unwrap());
        assert_eq!(
            conflict_copy_name(&p("n.md"), "pc", shifted, |_| false).as_str(),
            "n (conflict from pc 2026-11-18 110640).md"
        );
        // A 255-byte name still gets a valid copy name, keeping the marker and extension.
        let long = format!("{}.txt", "я".repeat(125));
        let copy = conflict_copy_name(&p(&long), &"d".repeat(300), when, |_| false);
        assert!(
            copy.as_str().len() <= 255 && copy.as_str().ends_with(").txt"),
            "{copy}"
        );
        assert!(copy.as_str().contains("(conflict from ddd"), "{copy}");
        let dot = conflict_copy_name(&p(".bashrc"), "pc", when, |_| false);
        assert_eq!(dot.as_str(), ".bashrc (conflict from pc 2026-11-18 110640)");
        // A parent so deep that no name fits under it: the copy goes to the top level.
        let deep = p(&format!(
            "{}/{}/f.txt",
            vec!["x".repeat(200); 20].join("/"),
            "y".repeat(40)
        ));
        let copy = conflict_copy_name(&deep, "pc", when, |_| false);
        assert_eq!(copy.as_str(), "f (conflict from pc 2026-11-18 110640).txt");
        // Many taken numbers: keeps counting.
        let copy = conflict_copy_name(&p("a"), "pc", when, |c| !c.as_str().ends_with(" 40"));
        assert_eq!(copy.as_str(), "a (conflict from pc 2026-11-18 110640) 40");
    }

    // ---- names: case-insensitive disks and names the platform refuses (issue 14) ----

    /// Every combination of the three name rules.
    fn all_rules() -> Vec<NameRules> {
        let mut v = Vec::new();
        for bits in 0u8..8 {
            v.push(NameRules {
                case_insensitive: bits & 1 != 0,
                normalization_insensitive: bits & 2 != 0,
                windows_reserved: bits & 4 != 0,
            });
        }
        v
    }

    fn left_out(plan: &Plan) -> Vec<(&str, String)> {
        plan.unstorable
            .iter()
            .map(|u| (u.path.as_str(), u.reason.to_string()))
            .collect()
    }

    fn paths_of<'a>(plan: &'a Plan, kind: &str) -> Vec<&'a str> {
        kinds(plan)
            .into_iter()
            .zip(&plan.actions)
            .filter(|(k, _)| *k == kind)
            .map(|(_, a)| a.path().as_str())
            .collect()
    }

    /// One table row: a situation, and what a byte-exact disk and a case-insensitive disk
    /// each do with it (normalisation-insensitivity changes nothing: paths are NFC already).
    /// `folded` holds the action kinds and the renames on the page (old name → copy).
    struct NameCase {
        what: &'static str,
        case: Case,
        exact: Vec<&'static str>,
        folded: (Vec<&'static str>, Vec<(&'static str, &'static str)>),
    }

    fn name_cases() -> Vec<NameCase> {
        let readme_a = remote_file("README.md", 1, 10, 1, OTHER);
        let readme_b = remote_file("Readme.md", 2, 20, 1, OTHER);
        let lower = remote_file("a.txt", 1, 10, 1, OTHER);
        let upper = remote_file("A.txt", 1, 20, 1, OTHER);
        vec![
            NameCase {
                what: "two new remote names that are one name here",
                case: Case::new()
                    .remote(readme_a.clone())
                    .remote(readme_b.clone()),
                exact: vec!["download", "download"],
                // The byte-wise smaller keeps the name ('E' < 'e'); the other is renamed.
                folded: (
                    vec!["download", "rename-remote"],
                    vec![("Readme.md", "Readme (Case Conflict).md")],
                ),
            },
            NameCase {
                what: "three remote names that are one name here",
                case: Case::new()
                    .remote(readme_a.clone())
                    .remote(readme_b.clone())
                    .remote(remote_file("readme.md", 3, 30, 1, OTHER)),
                exact: vec!["download", "download", "download"],
                folded: (
                    vec!["download", "rename-remote", "rename-remote"],
                    vec![
                        ("readme.md", "readme (Case Conflict 2).md"),
                        ("Readme.md", "Readme (Case Conflict).md"),
                    ],
                ),
            },
            NameCase {
                what: "the copy name is taken, in another case too",
                case: Case::new()
                    .remote(readme_a.clone())
                    .remote(readme_b.clone())
                    .remote(remote_file("readme (case conflict).md", 3, 30, 1, OTHER)),
                exact: vec!["download", "download", "download"],
                folded: (
                    vec!["download", "rename-remote", "download"],
                    vec![("Readme.md", "Readme (Case Conflict 2).md")],
                ),
            },
            NameCase {
                what: "a synced file and a new remote name that differs only in case",
                case: Case::new()
                    .base(readme_b.clone())
                    .local("Readme.md", local_file(2, 20))
                    .remote(readme_b.clone())
                    .remote(readme_a.clone()),
                exact: vec!["download"],
                // The one here keeps its name even though it sorts after the other.
                folded: (
                    vec!["rename-remote"],
                    vec![("README.md", "README (Case Conflict).md")],
                ),
            },
            NameCase {
                what: "a new local file and a new remote one that differ only in case",
                case: Case::new()
                    .local("Readme.md", local_file(2, 20))
                    .remote(readme_a.clone()),
                exact: vec!["download", "upload"],
                folded: (
                    vec!["rename-remote", "upload"],
                    vec![("README.md", "README (Case Conflict).md")],
                ),
            },
            NameCase {
                what: "a remote rename that only changes case, nothing changed here",
                case: Case::new()
                    .base(lower.clone())
                    .local("a.txt", local_file(1, 10))
                    .remote(gone(&lower))
                    .remote(upper.clone()),
                // Deletion first, so on a case-insensitive disk the new name lands after the
                // old is gone: a rename, not a collision.
                exact: vec!["delete-local", "download"],
                folded: (vec!["delete-local", "download"], vec![]),
            },
            NameCase {
                what: "a local rename that only changes case",
                case: Case::new()
                    .base(lower.clone())
                    .local("A.txt", local_file(1, 10))
                    .remote(lower.clone()),
                exact: vec!["delete-remote", "upload"],
                folded: (vec!["delete-remote", "upload"], vec![]),
            },
            NameCase {
                what: "a remote case rename of a file edited here: the edit keeps the old name",
                case: Case::new()
                    .base(lower.clone())
                    .local("a.txt", local_file(3, 30))
                    .remote(gone(&lower))
                    .remote(upper.clone()),
                exact: vec!["download", "upload"],
                folded: (
                    vec!["rename-remote", "upload"],
                    vec![("A.txt", "A (Case Conflict).txt")],
                ),
            },
            NameCase {
                what: "two new folders that differ only in case, one here, one remote",
                case: Case::new()
                    .local("Docs", local_dir())
                    .local("Docs/a", local_file(1, 10))
                    .remote(remote_dir("docs", 1))
                    .remote(remote_file("docs/b", 2, 10, 1, OTHER)),
                exact: vec!["upload", "download", "upload", "download"],
                // The remote folder moves with everything in it.
                folded: (
                    vec!["upload", "rename-remote", "upload", "rename-remote"],
                    vec![
                        ("docs", "docs (Case Conflict)"),
                        ("docs/b", "docs (Case Conflict)/b"),
                    ],
                ),
            },
            NameCase {
                what: "two remote folders that differ only in case, clashing inside too",
                case: Case::new()
                    .remote(remote_dir("Docs", 1))
                    .remote(remote_file("Docs/a.txt", 1, 10, 1, OTHER))
                    .remote(remote_file("Docs/A.txt", 2, 10, 1, OTHER))
                    .remote(remote_dir("docs", 1))
                    .remote(remote_file("docs/a.txt", 3, 10, 1, OTHER)),
                exact: vec!["download", "download", "download", "download", "download"],
                folded: (
                    vec![
                        "download",
                        "rename-remote",
                        "download",
                        "rename-remote",
                        "rename-remote",
                    ],
                    vec![
                        ("Docs/a.txt", "Docs/a (Case Conflict).txt"),
                        ("docs", "docs (Case Conflict)"),
                        ("docs/a.txt", "docs (Case Conflict)/a.txt"),
                    ],
                ),
            },
            NameCase {
                what: "a remote file and a remote folder that differ only in case",
                case: Case::new()
                    .remote(remote_file("Notes", 1, 10, 1, OTHER))
                    .remote(remote_dir("notes", 1))
                    .remote(remote_file("notes/x", 2, 10, 1, OTHER)),
                exact: vec!["download", "download", "download"],
                // Folders first (parents before their contents), then files by path.
                folded: (
                    vec!["rename-remote", "download", "rename-remote"],
                    vec![
                        ("notes", "notes (Case Conflict)"),
                        ("notes/x", "notes (Case Conflict)/x"),
                    ],
                ),
            },
            NameCase {
                what: "a remote folder no entry lists clashes with one here",
                case: Case::new().local("Docs", local_dir()).remote(remote_file(
                    "docs/x.txt",
                    2,
                    10,
                    1,
                    OTHER,
                )),
                exact: vec!["upload", "download"],
                folded: (
                    vec!["upload", "rename-remote"],
                    vec![("docs/x.txt", "docs (Case Conflict)/x.txt")],
                ),
            },
        ]
    }

    #[test]
    fn a_copy_left_here_by_a_failed_commit_is_the_renames_copy() {
        let upper = remote_file("README.md", 1, 10, 1, OTHER);
        let mixed = remote_file("Readme.md", 2, 20, 1, OTHER);
        for (content, want) in [
            (2, ("Readme (Case Conflict).md", true)),
            // Something else under that name (edited since, or the person's own file): a
            // new copy name, and that file is uploaded as any new file.
            (3, ("Readme (Case Conflict 2).md", false)),
        ] {
            let mut case = Case::new()
                .base(upper.clone())
                .local("README.md", local_file(1, 10))
                .local("Readme (Case Conflict).md", local_file(content, 30))
                .remote(upper.clone())
                .remote(mixed.clone());
            case.names.case_insensitive = true;
            let plan = case.plan();
            let got: Vec<(&str, bool)> = plan
                .actions
                .iter()
                .filter_map(|a| match a {
                    Action::RenameRemote { path, here, .. } => Some((path.as_str(), *here)),
                    _ => None,
                })
                .collect();
            assert_eq!(got, [want], "{plan:?}");
            assert_eq!(plan.summary().uploads, usize::from(!want.1), "{plan:?}");
            check(case.base, case.local, case.remote, true, case.names);
        }
    }

    #[test]
    fn a_clash_too_deep_to_rename_is_left_out_and_never_deleted() {
        // A folder so deep that no `(Case Conflict)` name fits beside its files.
        let mut parent = vec!["d".repeat(250); 16];
        parent.push("e".repeat(64));
        let parent = parent.join("/");
        let upper = remote_file(&format!("{parent}/A"), 1, 10, 1, OTHER);
        let lower = remote_file(&format!("{parent}/a"), 2, 10, 1, OTHER);
        let mut case = Case::new().remote(upper.clone()).remote(lower.clone());
        case.names.case_insensitive = true;
        let plan = case.plan();
        assert_eq!(kinds(&plan), ["download"], "{plan:?}");
        assert_eq!(
            plan.actions[0].path(),
            &upper.path,
            "the byte-wise smaller keeps it"
        );
        assert_eq!(
            plan.unstorable,
            [Unstorable {
                path: lower.path.clone(),
                reason: UnstorableReason::CaseConflict {
                    with: upper.path.clone()
                },
            }]
        );
    }

    /// The renames a plan makes on the page: (old name, copy).
    fn renames(plan: &Plan) -> Vec<(&str, &str)> {
        plan.actions
            .iter()
            .filter_map(|a| match a {
                Action::RenameRemote { path, from, .. } => Some((from.as_str(), path.as_str())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn table_of_case_collisions_under_every_combination_of_rules() {
        for row in name_cases() {
            for names in all_rules() {
                let mut case = Case::new();
                case.base = row.case.base.clone();
                case.local = row.case.local.clone();
                case.remote = row.case.remote.clone();
                case.names = names;
                let plan = case.plan();
                let (kinds_want, renames_want) = if names.case_insensitive {
                    (&row.folded.0, row.folded.1.clone())
                } else {
                    (&row.exact, vec![])
                };
                assert_eq!(
                    &kinds(&plan),
                    kinds_want,
                    "{}: {names:?}\n{plan:?}",
                    row.what
                );
                let mut got = renames(&plan);
                got.sort();
                let mut want = renames_want;
                want.sort();
                assert_eq!(got, want, "{}: {names:?}", row.what);
                assert!(
                    plan.unstorable.is_empty(),
                    "{}: a clash is renamed, not left out: {:?}",
                    row.what,
                    plan.unstorable
                );
                for a in &plan.actions {
                    if let Action::RenameRemote {
                        path,
                        from,
                        entry,
                        tombstone,
                        here,
                    } = a
                    {
                        assert!(!here, "{}: nothing is here under the copy name", row.what);
                        let was = &case.remote[from];
                        assert_eq!(
                            (entry.kind, entry.sha256, &entry.chunks, &entry.path),
                            (was.kind, was.sha256, &was.chunks, path),
                            "{}: the same content under the new name",
                            row.what
                        );
                        assert!(tombstone.deleted && &tombstone.path == from);
                        assert!(tombstone.version > was.version);
                        assert!(names.unstorable_reason(path).is_none());
                    }
                }
                assert_eq!(
                    plan.deletions_remote(),
                    kinds_want.iter().filter(|k| **k == "delete-remote").count(),
                    "{}: a name renamed is never deleted remotely",
                    row.what
                );
                check(
                    case.base.clone(),
                    case.local.clone(),
                    case.remote.clone(),
                    true,
                    names,
                );
            }
        }
    }

    #[test]
    fn case_conflict_names_keep_the_extension_and_fit_the_length_limits() {
        let none = |_: &RelPath| false;
        let name =
            |path: &str, dir: bool| case_conflict_name(&p(path), dir, none).map(|c| c.to_string());
        assert_eq!(
            name("Readme.md", false).as_deref(),
            Some("Readme (Case Conflict).md")
        );
        assert_eq!(
            name("a/v1.2", true).as_deref(),
            Some("a/v1.2 (Case Conflict)")
        );
        assert_eq!(name(".env", false).as_deref(), Some(".env (Case Conflict)"));
        assert_eq!(
            name("Makefile", false).as_deref(),
            Some("Makefile (Case Conflict)")
        );
        let taken = |c: &RelPath| !c.as_str().contains(" 3)");
        assert_eq!(
            case_conflict_name(&p("x.txt"), false, taken)
                .map(|c| c.to_string())
                .as_deref(),
            Some("x (Case Conflict 3).txt")
        );
        // A long name is shortened (the stem), never beyond one component's limit.
        let long = format!("{}.txt", "é".repeat(120));
        let c = case_conflict_name(&p(&long), false, none).expect("fits");
        assert!(
            c.as_str().len() <= crate::rel_path::MAX_COMPONENT_BYTES,
            "{c}"
        );
        assert!(c.as_str().ends_with(" (Case Conflict).txt"), "{c}");
        // A folder so deep that no copy name fits beside it: none.
        let deep = format!(
            "{}/x",
            vec!["d"; crate::rel_path::MAX_PATH_BYTES / 2 - 1].join("/")
        );
        if let Ok(deep) = RelPath::new(&deep) {
            assert_eq!(case_conflict_name(&deep, false, none), None);
        }
    }

    #[test]
    fn names_windows_refuses_are_left_out_and_never_deleted_remotely() {
        let con = remote_file("CON.txt", 1, 10, 1, OTHER);
        let dot = remote_file("notes.", 2, 10, 1, OTHER);
        let ok = remote_file("ok.txt", 3, 10, 1, OTHER);
        let aux = remote_dir("aux", 1);
        let inside = remote_file("aux/x.txt", 4, 10, 1, OTHER);
        for names in all_rules() {
            // Fresh: nothing here yet.
            let mut case = Case::new()
                .remote(con.clone())
                .remote(dot.clone())
                .remote(ok.clone())
                .remote(aux.clone())
                .remote(inside.clone());
            case.names = names;
            let plan = case.plan();
            if names.windows_reserved {
                assert_eq!(paths_of(&plan, "download"), vec!["ok.txt"], "{plan:?}");
                assert_eq!(
                    left_out(&plan),
                    vec![
                        ("CON.txt", "a device name Windows reserves".to_string()),
                        ("aux", "a device name Windows reserves".to_string()),
                        ("notes.", "the name ends with a dot or a space".to_string()),
                    ],
                    "a folder stands for what is inside it"
                );
            } else {
                assert_eq!(plan.summary().downloads, 5, "{names:?}: {plan:?}");
                assert!(plan.unstorable.is_empty());
            }
            check(
                case.base.clone(),
                case.local.clone(),
                case.remote.clone(),
                true,
                names,
            );

            // Even with a base that lists them (a folder moved here from Linux, say), missing
            // here is not a deletion.
            let mut case = Case::new()
                .base(con.clone())
                .base(ok.clone())
                .local("ok.txt", local_file(3, 10))
                .remote(con.clone())
                .remote(ok.clone());
            case.names = names;
            let plan = case.plan();
            if names.windows_reserved {
                assert!(plan.is_empty(), "{plan:?}");
                assert_eq!(left_out(&plan).len(), 1);
            } else {
                assert_eq!(kinds(&plan), vec!["delete-remote"], "{names:?}");
            }
        }
    }

    #[test]
    fn conflict_copies_never_take_a_name_that_is_one_name_here() {
        let remote = remote_file("x.txt", 2, 20, 2, OTHER);
        let plain = conflict_copy_name(&p("x.txt"), ME, now(), |_| false);
        let shouting = remote_file(&plain.as_str().to_uppercase(), 9, 1, 1, OTHER);
        // A folder of that name that no entry lists (only a file inside it) is a name in use too.
        let inside = remote_file(
            &format!("{}/inner", plain.as_str().to_uppercase()),
            9,
            1,
            1,
            OTHER,
        );
        for (names, shouting) in all_rules()
            .into_iter()
            .flat_map(|r| [(r, shouting.clone()), (r, inside.clone())])
        {
            let mut case = Case::new()
                .base(remote_file("x.txt", 1, 10, 1, OTHER))
                .local("x.txt", local_file(3, 10))
                .remote(remote.clone())
                .remote(shouting.clone());
            case.names = names;
            let plan = case.plan();
            let copy = plan
                .actions
                .iter()
                .find_map(|a| match a {
                    Action::ConflictRemoteWins { copy, .. } => Some(copy.clone()),
                    _ => None,
                })
                .expect("the remote version is newer: the local one moves aside");
            if names.case_insensitive {
                let clash = shouting
                    .path
                    .as_str()
                    .split('/')
                    .next()
                    .expect("a first component");
                assert_ne!(
                    names.key(copy.as_str()),
                    names.key(clash),
                    "one file here with a remote name"
                );
                assert!(copy.as_str().ends_with(" 2.txt"), "{copy}");
            } else {
                assert_eq!(copy, plain);
            }
            check(
                case.base.clone(),
                case.local.clone(),
                case.remote.clone(),
                true,
                names,
            );
        }
    }

    // ---- simulation: apply a plan to both sides, check convergence and no loss ----

    type Tree = BTreeMap<RelPath, (EntryKind, Option<Digest>)>;

    /// Insert into a local tree, as a disk with `names` would: a name that is one name here
    /// with another entry (not itself) would overwrite that entry, which a plan must never do.
    fn write_local(
        tree: &mut Tree,
        names: NameRules,
        path: &RelPath,
        v: (EntryKind, Option<Digest>),
    ) {
        let key = names.key(path.as_str()).into_owned();
        let clash = tree
            .keys()
            .find(|p| *p != path && names.key(p.as_str()) == key.as_str());
        assert!(
            clash.is_none(),
            "{path} would land on {clash:?}: one file on this disk ({names:?})"
        );
        tree.insert(path.clone(), v);
    }

    fn apply(input: &PlanInput, plan: &Plan) -> (Tree, Tree) {
        let names = input.names;
        let mut local: Tree = input
            .local
            .iter()
            .map(|(p, l)| (p.clone(), (l.kind, l.sha256)))
            .collect();
        let mut remote: Tree = input
            .remote
            .iter()
            .filter(|(_, e)| !e.deleted)
            .map(|(p, e)| (p.clone(), (e.kind, e.sha256)))
            .collect();
        for a in &plan.actions {
            match a {
                Action::Upload { path, local: l, .. } => {
                    remote.insert(path.clone(), (l.kind, l.sha256));
                }
                Action::Download { path, entry } => {
                    write_local(&mut local, names, path, (entry.kind, entry.sha256));
                }
                Action::DeleteLocal { path, .. } | Action::Evict { path, .. } => {
                    local.remove(path);
                }
                Action::DeleteRemote { path, .. } => {
                    remote.remove(path);
                }
                Action::ConflictRemoteWins {
                    path,
                    copy,
                    entry,
                    local: l,
                } => {
                    write_local(&mut local, names, copy, (l.kind, l.sha256));
                    remote.insert(copy.clone(), (l.kind, l.sha256));
                    local.insert(path.clone(), (entry.kind, entry.sha256));
                    // A folder the remote does not hold (yet) is published.
                    remote
                        .entry(path.clone())
                        .or_insert((entry.kind, entry.sha256));
                }
                Action::ConflictLocalWins {
                    path,
                    copy,
                    entry,
                    local: l,
                    ..
                } => {
                    write_local(&mut local, names, copy, (entry.kind, entry.sha256));
                    remote.insert(copy.clone(), (entry.kind, entry.sha256));
                    remote.insert(path.clone(), (l.kind, l.sha256));
                }
                Action::RenameRemote {
                    path, from, entry, ..
                } => {
                    write_local(&mut local, names, path, (entry.kind, entry.sha256));
                    let was = remote.remove(from);
                    assert_eq!(
                        was,
                        Some((entry.kind, entry.sha256)),
                        "a rename moves a live remote entry as it is"
                    );
                    remote.insert(path.clone(), (entry.kind, entry.sha256));
                }
                Action::RecordBase { .. } | Action::ForgetBase { .. } => {}
            }
        }
        (local, remote)
    }

    /// Whether `path` is `x` or lies below it.
    fn at_or_below(x: &RelPath, path: &RelPath) -> bool {
        x == path || x.is_ancestor_of(path)
    }

    fn check(
        base: BTreeMap<RelPath, FileEntry>,
        local: BTreeMap<RelPath, LocalEntry>,
        remote: BTreeMap<RelPath, FileEntry>,
        trusted: bool,
        names: NameRules,
    ) {
        let input = PlanInput {
            base: &base,
            local: &local,
            remote: &remote,
            device: ME,
            now_utc: now(),
            base_trusted: trusted,
            holding_unsynced: &BTreeSet::new(),
            names,
            excluded: &BTreeSet::new(),
        };
        let plan = reconcile(&input);
        let again = reconcile(&input);
        assert_eq!(plan, again, "deterministic");
        let ctx = || format!("base {base:?}\nlocal {local:?}\nremote {remote:?}\nplan {plan:?}");
        // Names this disk cannot hold: never one here already, never touched by the plan.
        let left_out = |path: &RelPath| plan.unstorable.iter().any(|u| at_or_below(&u.path, path));
        for u in &plan.unstorable {
            assert!(
                remote
                    .iter()
                    .any(|(p, e)| !e.deleted && at_or_below(&u.path, p)),
                "only live remote names are reported: {u:?}\n{}",
                ctx()
            );
            assert!(
                !local.contains_key(&u.path),
                "a name already here is never the one left out: {u:?}\n{}",
                ctx()
            );
            // A clash is renamed, never left out (but for names too long to rename, which
            // these trees do not hold).
            assert!(
                matches!(u.reason, UnstorableReason::Reserved(_)),
                "{u:?}\n{}",
                ctx()
            );
        }
        for a in &plan.actions {
            assert!(
                !left_out(a.path()),
                "the plan touches a name left out: {a:?}\n{}",
                ctx()
            );
        }
        // Renames on the page (case clashes): only where names fold, each from a live remote
        // name not here, once, to a name free on every side, with the same content; and no
        // other action touches the old name (it is renamed, not deleted or edited).
        let mut renamed: BTreeMap<&RelPath, &RelPath> = BTreeMap::new();
        for a in &plan.actions {
            let Action::RenameRemote {
                path, from, entry, ..
            } = a
            else {
                continue;
            };
            assert!(
                names.folds_names(),
                "no rename on a byte-exact disk\n{}",
                ctx()
            );
            let was = remote.get(from).filter(|e| !e.deleted);
            assert!(
                was.is_some_and(|w| w.kind == entry.kind && w.sha256 == entry.sha256),
                "{from} → {path}: a live remote entry moves as it is\n{}",
                ctx()
            );
            assert!(!local.contains_key(from), "{from} is here\n{}", ctx());
            // Free, or a copy left here earlier with this very content.
            let left_here = local
                .get(path)
                .is_some_and(|l| l.kind == EntryKind::File && l.sha256 == entry.sha256);
            assert!(
                !base.contains_key(path)
                    && (!local.contains_key(path) || left_here)
                    && !remote.contains_key(path),
                "{path} was free\n{}",
                ctx()
            );
            assert!(
                renamed.insert(from, path).is_none(),
                "{from} renamed twice\n{}",
                ctx()
            );
        }
        for a in &plan.actions {
            if !matches!(a, Action::RenameRemote { .. }) {
                assert!(
                    !renamed.contains_key(a.path()) || matches!(a, Action::ForgetBase { .. }),
                    "a renamed name is not touched otherwise: {a:?}\n{}",
                    ctx()
                );
            }
        }
        let (l2, r2) = apply(&input, &plan);
        for (from, to) in &renamed {
            assert!(
                !r2.contains_key(*from) && r2.get(*to) == l2.get(*to) && l2.contains_key(*to),
                "{from} lives on as {to} on both sides\n{}",
                ctx()
            );
        }
        // No two names here are one file on this disk.
        let mut keys_here = BTreeSet::new();
        for p in l2.keys() {
            assert!(
                keys_here.insert(names.key(p.as_str()).into_owned()),
                "{p} collapses with another name here\n{}",
                ctx()
            );
        }
        // What is left out stays on the remote exactly as it was: never deleted there.
        for (path, e) in remote.iter().filter(|(p, e)| !e.deleted && left_out(p)) {
            assert_eq!(
                r2.get(path),
                Some(&(e.kind, e.sha256)),
                "{path} is not stored here and stays remotely\n{}",
                ctx()
            );
        }
        let r2_here: Tree = r2
            .iter()
            .filter(|(p, _)| !left_out(p))
            .map(|(p, v)| (p.clone(), *v))
            .collect();
        assert_eq!(
            l2,
            r2_here,
            "both sides converge (but for names left out)\n{}",
            ctx()
        );
        // The published tree is one manifest validation accepts: no live file is the parent
        // of another live entry (a commit refused there would be refused for ever).
        for (path, _) in r2.iter().filter(|(_, (k, _))| *k == EntryKind::File) {
            let child = r2.keys().find(|c| path.is_ancestor_of(c));
            assert!(
                child.is_none(),
                "file {path} is the parent of {child:?}\n{}",
                ctx()
            );
        }
        // No content written on either side is lost. The only content allowed to go is a
        // side's version that is unchanged since the base while the other side changed or
        // deleted it (the newer change wins) — and with an untrusted base, nothing at all.
        let final_contents: BTreeSet<Option<Digest>> = l2.values().map(|(_, d)| *d).collect();
        let remote_live = |path: &RelPath| remote.get(path).filter(|r| !r.deleted);
        for (path, l) in &local {
            if l.kind != EntryKind::File {
                continue;
            }
            let b = base.get(path);
            let unchanged_here = trusted && b.is_some_and(|b| same_local(l, b));
            let changed_there = match (b, remote_live(path)) {
                (Some(b), Some(r)) => !same_entry(r, b),
                (Some(_), None) => true,
                _ => false,
            };
            if unchanged_here && changed_there {
                continue;
            }
            assert!(
                final_contents.contains(&l.sha256),
                "local content of {path} survives\n{}",
                ctx()
            );
        }
        for (path, r) in remote
            .iter()
            .filter(|(p, r)| !r.deleted && r.kind == EntryKind::File && !left_out(p))
        {
            let b = base.get(path);
            let unchanged_there = trusted && b.is_some_and(|b| same_entry(r, b));
            let changed_here = match (b, local.get(path)) {
                (Some(b), Some(l)) => !same_local(l, b),
                (Some(_), None) => true,
                _ => false,
            };
            if unchanged_there && changed_here {
                continue;
            }
            assert!(
                final_contents.contains(&r.sha256),
                "remote content of {path} survives\n{}",
                ctx()
            );
        }
        // A second round on the converged state has nothing left to do, and leaves out the
        // same names.
        let entry = |p: &RelPath, (k, d): &(EntryKind, Option<Digest>)| FileEntry {
            path: p.clone(),
            kind: *k,
            deleted: false,
            size: 0,
            mtime_ns: 0,
            sha256: *d,
            version: 1,
            device: ME.into(),
            chunks: Default::default(),
        };
        let new_base: BTreeMap<RelPath, FileEntry> =
            l2.iter().map(|(p, v)| (p.clone(), entry(p, v))).collect();
        let new_remote: BTreeMap<RelPath, FileEntry> =
            r2.iter().map(|(p, v)| (p.clone(), entry(p, v))).collect();
        let new_local: BTreeMap<RelPath, LocalEntry> = l2
            .iter()
            .map(|(p, (k, d))| {
                (
                    p.clone(),
                    LocalEntry {
                        kind: *k,
                        size: 0,
                        mtime_ns: 0,
                        sha256: *d,
                    },
                )
            })
            .collect();
        let second = reconcile(&PlanInput {
            base: &new_base,
            local: &new_local,
            remote: &new_remote,
            device: ME,
            now_utc: now(),
            base_trusted: true,
            holding_unsynced: &BTreeSet::new(),
            names,
            excluded: &BTreeSet::new(),
        });
        assert!(
            second.actions.is_empty(),
            "stable after one round: {second:?}\n{}",
            ctx()
        );
        let left: Vec<&RelPath> = second.unstorable.iter().map(|u| &u.path).collect();
        let first: Vec<&RelPath> = plan
            .unstorable
            .iter()
            .map(|u| &u.path)
            .filter(|p| r2.keys().any(|r| at_or_below(p, r)))
            .collect();
        assert_eq!(left, first, "the same names stay left out\n{}", ctx());
    }

    type PathMap<E> = BTreeMap<RelPath, E>;
    /// Trusted base or not; base, here and the page.
    type SinglePathCase = (
        bool,
        PathMap<FileEntry>,
        PathMap<LocalEntry>,
        PathMap<FileEntry>,
    );

    /// Every combination for one path `f`: base ∈ {none, A, dir}; local ∈ {none, A, B, C,
    /// dir}; remote ∈ {none, tombstone, A, B, C, dir}; with both mtime orders; trusted or not.
    fn single_path_cases() -> Vec<SinglePathCase> {
        let contents = [1u8, 2, 3];
        let mut locals: Vec<Option<LocalEntry>> = vec![None, Some(local_dir())];
        let mut remotes: Vec<Option<FileEntry>> = vec![
            None,
            Some(gone(&remote_file("f", 1, 5, 1, OTHER))),
            Some(remote_dir("f", 2)),
        ];
        for (i, &c) in contents.iter().enumerate() {
            locals.push(Some(local_file(c, 10 + i as i64 * 10)));
            remotes.push(Some(remote_file("f", c, 15 + i as i64 * 10, 2, OTHER)));
        }
        let bases = [
            None,
            Some(remote_file("f", 1, 5, 1, OTHER)),
            Some(remote_dir("f", 1)),
        ];
        let mut cases = Vec::new();
        for trusted in [true, false] {
            for b in &bases {
                for l in &locals {
                    for r in &remotes {
                        let base = b.iter().map(|e| (e.path.clone(), e.clone())).collect();
                        let local = l.iter().map(|e| (p("f"), e.clone())).collect();
                        let remote = r.iter().map(|e| (e.path.clone(), e.clone())).collect();
                        cases.push((trusted, base, local, remote));
                    }
                }
            }
        }
        cases
    }

    /// Every combination for one file: base ∈ {none, A}; local ∈ {none, A, B, C, dir};
    /// remote ∈ {none, tombstone, A, B, C, dir}; with both mtime orders; trusted or not.
    #[test]
    fn exhaustive_single_path_combinations_converge_without_loss() {
        for (trusted, base, local, remote) in single_path_cases() {
            check(base, local, remote, trusted, NameRules::EXACT);
        }
    }

    fn arb_tree() -> impl Strategy<
        Value = (
            BTreeMap<RelPath, FileEntry>,
            BTreeMap<RelPath, LocalEntry>,
            BTreeMap<RelPath, FileEntry>,
        ),
    > {
        // "d" and "d/e" are files in some draws and folders (parents of later entries, which
        // replace them) in others: type changes on any side.
        let files = ["a", "b", "d", "d/e", "d/x", "d/y", "d/e/z"];
        let n = files.len();
        (
            proptest::collection::vec(0u8..4, n),
            proptest::collection::vec(0u8..5, n),
            proptest::collection::vec(0u8..6, n),
            proptest::collection::vec(0i64..3, n),
        )
            .prop_map(move |(bs, ls, rs, times)| {
                let mut base = BTreeMap::new();
                let mut local = BTreeMap::new();
                let mut remote = BTreeMap::new();
                for (i, f) in files.iter().enumerate() {
                    let parents: Vec<RelPath> = {
                        let mut v = vec![];
                        let mut cur = p(f).parent();
                        while let Some(c) = cur {
                            cur = c.parent();
                            v.push(c);
                        }
                        v
                    };
                    if bs[i] > 0 {
                        base.insert(p(f), remote_file(f, bs[i], 1, 1, OTHER));
                        for d in &parents {
                            base.insert(d.clone(), remote_dir(d.as_str(), 1));
                        }
                    }
                    if ls[i] > 0 && ls[i] < 4 {
                        local.insert(p(f), local_file(ls[i], 10 + times[i]));
                        for d in &parents {
                            local.insert(d.clone(), local_dir());
                        }
                    }
                    match rs[i] {
                        0 => {}
                        4 | 5 => {
                            if bs[i] > 0 {
                                remote.insert(p(f), gone(&remote_file(f, bs[i], 1, 1, OTHER)));
                            }
                        }
                        c => {
                            remote.insert(p(f), remote_file(f, c, 10 + (2 - times[i]), 2, OTHER));
                            for d in &parents {
                                remote.insert(d.clone(), remote_dir(d.as_str(), 1));
                            }
                        }
                    }
                }
                (base, local, remote)
            })
    }

    /// Trees whose names differ only in case (and NFC/NFD spelling, which [`RelPath`] makes
    /// one name) or are refused by Windows; the local tree and the base are what a disk with
    /// `names` can hold: no two names with one key, no refused name.
    fn arb_named_tree(
        names: NameRules,
    ) -> impl Strategy<
        Value = (
            BTreeMap<RelPath, FileEntry>,
            BTreeMap<RelPath, LocalEntry>,
            BTreeMap<RelPath, FileEntry>,
        ),
    > {
        // Clashes among remote names, between a remote name and one here, folder against
        // folder (`D`/`d`, `É`/`é`, with clashing and distinct contents), a file against a
        // folder, and names a case-conflict copy would take (`a (Case Conflict)`).
        let files = [
            "a",
            "A",
            "d",
            "D/e",
            "d/e",
            "d/E",
            "D/f",
            "\u{e9}",
            "E\u{301}",
            "\u{c9}/x",
            "e\u{301}/X",
            "aux",
            "a (Case Conflict)",
            "A (case conflict 2)",
        ];
        let n = files.len();
        (
            proptest::collection::vec(0u8..4, n),
            proptest::collection::vec(0u8..5, n),
            proptest::collection::vec(0u8..6, n),
            proptest::collection::vec(0i64..3, n),
        )
            .prop_map(move |(bs, ls, rs, times)| {
                let mut base = BTreeMap::new();
                let mut local = BTreeMap::new();
                let mut remote = BTreeMap::new();
                // Whether `path` and its folders fit on this disk beside what `tree` holds.
                fn fits<V>(tree: &BTreeMap<RelPath, V>, names: NameRules, path: &RelPath) -> bool {
                    let mut all = vec![path.clone()];
                    let mut cur = path.parent();
                    while let Some(c) = cur {
                        cur = c.parent();
                        all.push(c);
                    }
                    all.iter().all(|x| {
                        names.unstorable_reason(x).is_none()
                            && !tree
                                .keys()
                                .any(|k| k != x && names.key(k.as_str()) == names.key(x.as_str()))
                    })
                }
                for (i, f) in files.iter().enumerate() {
                    let path = p(f);
                    let parents: Vec<RelPath> = {
                        let mut v = vec![];
                        let mut cur = path.parent();
                        while let Some(c) = cur {
                            cur = c.parent();
                            v.push(c);
                        }
                        v
                    };
                    let mut in_base = false;
                    if bs[i] > 0 && fits(&base, names, &path) {
                        in_base = true;
                        base.insert(path.clone(), remote_file(f, bs[i], 1, 1, OTHER));
                        for d in &parents {
                            base.insert(d.clone(), remote_dir(d.as_str(), 1));
                        }
                    }
                    if ls[i] > 0 && ls[i] < 4 && fits(&local, names, &path) {
                        local.insert(path.clone(), local_file(ls[i], 10 + times[i]));
                        for d in &parents {
                            local.insert(d.clone(), local_dir());
                        }
                    }
                    match rs[i] {
                        0 => {}
                        4 | 5 => {
                            if in_base {
                                remote.insert(
                                    path.clone(),
                                    gone(&remote_file(f, bs[i], 1, 1, OTHER)),
                                );
                            }
                        }
                        c => {
                            remote.insert(
                                path.clone(),
                                remote_file(f, c, 10 + (2 - times[i]), 2, OTHER),
                            );
                            for d in &parents {
                                remote.insert(d.clone(), remote_dir(d.as_str(), 1));
                            }
                        }
                    }
                }
                (base, local, remote)
            })
    }

    fn arb_rules() -> impl Strategy<Value = NameRules> {
        (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(c, n, w)| NameRules {
            case_insensitive: c,
            normalization_insensitive: n,
            windows_reserved: w,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn random_trees_converge_without_loss((base, local, remote) in arb_tree(), trusted in any::<bool>()) {
            check(base, local, remote, trusted, NameRules::EXACT);
        }

        /// Issue 14: names that are one name on a case-insensitive disk never collapse, names
        /// left out are never deleted remotely, and everything else converges without loss.
        #[test]
        fn random_trees_with_clashing_names_converge_without_collapse(
            (names, (base, local, remote)) in arb_rules().prop_flat_map(|r| (Just(r), arb_named_tree(r))),
            trusted in any::<bool>(),
        ) {
            check(base, local, remote, trusted, names);
        }
    }

    // ---- selective sync (issue 17) ----

    #[test]
    fn table_of_excluded_single_file_cases() {
        let x = remote_file("big/f", 1, 10, 1, OTHER);
        let y = remote_file("big/f", 2, 20, 2, OTHER);
        let cases: Vec<(&str, Case, Vec<&str>)> = vec![
            (
                "arriving from the page: not downloaded",
                Case::new().remote(y.clone()),
                vec![],
            ),
            (
                "missing here after it was synced: the base forgets it, the page keeps it",
                Case::new().base(x.clone()).remote(x.clone()),
                vec!["forget-base"],
            ),
            (
                "missing here, edited on the page: nothing downloaded, the base forgets it",
                Case::new().base(x.clone()).remote(y.clone()),
                vec!["forget-base"],
            ),
            (
                "missing here, deleted on the page: only the base forgets it",
                Case::new().base(x.clone()).remote(gone(&x)),
                vec!["forget-base"],
            ),
            (
                "here with the page's content: the copy here is removed",
                Case::new()
                    .base(x.clone())
                    .local("big/f", local_file(1, 10))
                    .remote(x.clone()),
                vec!["evict"],
            ),
            (
                "here with the page's content, never synced: removed",
                Case::new()
                    .local("big/f", local_file(2, 10))
                    .remote(y.clone()),
                vec!["evict"],
            ),
            (
                "unchanged here, edited on the page: the old copy goes to the trash",
                Case::new()
                    .base(x.clone())
                    .local("big/f", local_file(1, 10))
                    .remote(y.clone()),
                vec!["delete-local"],
            ),
            (
                "unchanged here, deleted on the page: deleted here (trash)",
                Case::new()
                    .base(x.clone())
                    .local("big/f", local_file(1, 10))
                    .remote(gone(&x)),
                vec!["delete-local"],
            ),
            (
                "edited here: published first (removed by a later sync)",
                Case::new()
                    .base(x.clone())
                    .local("big/f", local_file(3, 30))
                    .remote(x.clone()),
                vec!["upload"],
            ),
            (
                "created here: published first",
                Case::new().local("big/f", local_file(3, 30)),
                vec!["upload"],
            ),
            (
                "edited here and on the page: a conflict keeps both",
                Case::new()
                    .base(x.clone())
                    .local("big/f", local_file(3, 30))
                    .remote(y.clone()),
                vec!["conflict-local-wins"],
            ),
            (
                "edited here, deleted on the page: the edit is published",
                Case::new()
                    .base(x.clone())
                    .local("big/f", local_file(3, 30))
                    .remote(gone(&x)),
                vec!["upload"],
            ),
        ];
        for (name, case, want) in cases {
            let case = case.exclude("big");
            let plan = case.plan();
            assert_eq!(kinds(&plan), want, "{name}: {plan:?}");
            for a in &plan.actions {
                assert!(
                    !matches!(a, Action::Download { .. } | Action::DeleteRemote { .. }),
                    "{name}: an excluded path is never downloaded or deleted remotely: {a:?}"
                );
            }
        }
    }

    #[test]
    fn an_excluded_folder_is_removed_here_only_once_nothing_else_stays_in_it() {
        let d = remote_dir("big", 1);
        let f = remote_file("big/f", 1, 10, 1, OTHER);
        let synced = Case::new()
            .base(d.clone())
            .base(f.clone())
            .local("big", local_dir())
            .local("big/f", local_file(1, 10))
            .remote(d.clone())
            .remote(f.clone())
            .exclude("big");
        let plan = synced.plan();
        assert_eq!(
            plan.actions
                .iter()
                .map(|a| (kinds_of(a), a.path().as_str()))
                .collect::<Vec<_>>(),
            vec![("evict", "big/f"), ("evict", "big")],
            "children first, then the emptied folder"
        );
        let with_new = synced.local("big/new", local_file(7, 70));
        let plan = with_new.plan();
        assert_eq!(
            plan.actions
                .iter()
                .map(|a| (kinds_of(a), a.path().as_str()))
                .collect::<Vec<_>>(),
            vec![("evict", "big/f"), ("upload", "big/new")],
            "a new file keeps its folder until it has reached the page"
        );
    }

    #[test]
    fn a_folder_above_excluded_content_is_never_deleted_remotely() {
        // `top` deleted here (its excluded subfolder was never here): the page keeps `top`,
        // since `top/big/f` lives there.
        let top = remote_dir("top", 1);
        let big = remote_dir("top/big", 1);
        let f = remote_file("top/big/f", 1, 10, 1, OTHER);
        let g = remote_file("top/g", 2, 10, 1, OTHER);
        let plan = Case::new()
            .base(top.clone())
            .base(g.clone())
            .remote(top.clone())
            .remote(big.clone())
            .remote(f.clone())
            .remote(g.clone())
            .exclude("top/big")
            .plan();
        assert!(
            !plan
                .actions
                .iter()
                .any(|a| matches!(a, Action::DeleteRemote { path, .. } if path.as_str() == "top")),
            "{plan:?}"
        );
        assert!(
            plan.actions.iter().any(
                |a| matches!(a, Action::DeleteRemote { path, .. } if path.as_str() == "top/g")
            ),
            "the deletion of an included file still propagates: {plan:?}"
        );
    }

    /// Found by the model test (seed 1796554678563030800 at 150 operations): a file made here
    /// at an excluded folder's path, whose files live on the page but are missing here. Their
    /// base is only forgotten, so the folder must still win: publishing the file over it made a
    /// file list with a live file above live entries, which every device then refused.
    #[test]
    fn a_file_made_here_at_an_excluded_folder_does_not_replace_it_on_the_page() {
        let docs = remote_dir("docs", 1);
        let d = remote_file("docs/d.txt", 1, 10, 1, OTHER);
        let plan = Case::new()
            .base(docs.clone())
            .base(d.clone())
            .local("docs", local_file(7, 70))
            .remote(docs)
            .remote(d)
            .exclude("docs")
            .plan();
        assert!(
            !plan.actions.iter().any(|a| matches!(
                a,
                Action::Upload { path, local, .. }
                    if path.as_str() == "docs" && local.kind == EntryKind::File
            )),
            "the file must not replace the folder on the page: {plan:?}"
        );
        assert!(
            plan.actions.iter().any(|a| matches!(
                a,
                Action::ConflictRemoteWins { path, .. } if path.as_str() == "docs"
            )),
            "the folder wins and the file here is kept as a conflict copy: {plan:?}"
        );
        assert!(
            !plan.actions.iter().any(
                |a| matches!(a, Action::DeleteRemote { path, .. } if path.as_str() == "docs/d.txt")
            ),
            "{plan:?}"
        );
    }

    #[test]
    fn excluded_names_are_compared_as_the_disk_does() {
        let f = remote_file("Big/f", 1, 10, 1, OTHER);
        let exact = Case::new().remote(f.clone()).exclude("big");
        assert_eq!(
            kinds(&exact.plan()),
            vec!["download"],
            "on a byte-exact disk `big` and `Big` are two folders"
        );
        let mut folding = Case::new()
            .remote(f)
            .local("BIG", local_dir())
            .local("BIG/g", local_file(4, 40))
            .exclude("big");
        folding.names = NameRules {
            case_insensitive: true,
            ..NameRules::EXACT
        };
        assert_eq!(
            kinds(&folding.plan()),
            vec!["upload", "upload"],
            "on a case-insensitive disk `big` covers `Big` and `BIG`: nothing arrives, the new \
             file is published first: {:?}",
            folding.plan()
        );
    }

    #[test]
    fn a_file_replaced_by_a_folder_at_an_excluded_path_on_the_page() {
        // Synced as a file; another device made it a folder with files inside.
        let was = remote_file("big", 1, 10, 1, OTHER);
        let plan = Case::new()
            .base(was.clone())
            .local("big", local_file(1, 10))
            .remote(remote_dir("big", 2))
            .remote(remote_file("big/n", 5, 50, 1, OTHER))
            .exclude("big")
            .plan();
        assert_eq!(
            kinds(&plan),
            vec!["delete-local"],
            "the old file goes (through the trash), nothing of the folder arrives: {plan:?}"
        );
    }

    #[test]
    fn excluding_a_path_nothing_is_at_changes_nothing() {
        let f = remote_file("a", 1, 10, 1, OTHER);
        let plain = Case::new()
            .base(f.clone())
            .local("a", local_file(1, 10))
            .remote(remote_file("a", 2, 20, 2, OTHER));
        let with = Case {
            excluded: [p("nothing/here")].into(),
            ..Case::new()
                .base(f)
                .local("a", local_file(1, 10))
                .remote(remote_file("a", 2, 20, 2, OTHER))
        };
        assert_eq!(plain.plan(), with.plan());
    }

    fn kinds_of(a: &Action) -> &'static str {
        kinds(&Plan {
            actions: vec![a.clone()],
            unstorable: vec![],
        })[0]
    }

    /// Selective sync's properties, over several rounds (a change made inside an excluded
    /// subtree is published first and removed here by a later round): every round is
    /// deterministic; nothing is ever downloaded or deleted remotely in an excluded subtree
    /// (only a conflict brings the page's version here, to keep both); a live remote entry
    /// there stays live; no content is lost; within three rounds the device holds nothing
    /// excluded and exactly what the page holds elsewhere, and a further round does nothing.
    fn check_excluded(
        base: BTreeMap<RelPath, FileEntry>,
        local: BTreeMap<RelPath, LocalEntry>,
        remote: BTreeMap<RelPath, FileEntry>,
        trusted: bool,
        names: NameRules,
        excluded: BTreeSet<RelPath>,
    ) {
        let keys: BTreeSet<String> = excluded
            .iter()
            .map(|e| names.key(e.as_str()).into_owned())
            .collect();
        let out = |path: &RelPath| excluded_here(&keys, path, names);
        let entry = |p: &RelPath, (k, d): &(EntryKind, Option<Digest>)| FileEntry {
            path: p.clone(),
            kind: *k,
            deleted: false,
            size: 0,
            mtime_ns: 0,
            sha256: *d,
            version: 1,
            device: ME.into(),
            chunks: Default::default(),
        };
        let as_local = |(k, d): &(EntryKind, Option<Digest>)| LocalEntry {
            kind: *k,
            size: 0,
            mtime_ns: 0,
            sha256: *d,
        };
        // Content that may go: a side's version unchanged since the base while the other side
        // changed or deleted it (as for included paths).
        let mut must_survive: BTreeSet<Option<Digest>> = BTreeSet::new();
        for (path, l) in local.iter().filter(|(_, l)| l.kind == EntryKind::File) {
            let b = base.get(path);
            let r = remote.get(path).filter(|r| !r.deleted);
            let unchanged_here = trusted && b.is_some_and(|b| same_local(l, b));
            let changed_there = match (b, r) {
                (Some(b), Some(r)) => !same_entry(r, b),
                (Some(_), None) => true,
                _ => false,
            };
            if !(unchanged_here && changed_there) {
                must_survive.insert(l.sha256);
            }
        }
        for (path, r) in remote
            .iter()
            .filter(|(_, r)| !r.deleted && r.kind == EntryKind::File)
        {
            let b = base.get(path);
            let unchanged_there = trusted && b.is_some_and(|b| same_entry(r, b));
            let changed_here = match (b, local.get(path)) {
                (Some(b), Some(l)) => !same_local(l, b),
                (Some(_), None) => !out(path),
                _ => false,
            };
            if !(unchanged_there && changed_here) {
                must_survive.insert(r.sha256);
            }
        }
        let (mut base, mut local, mut remote, mut trusted) = (base, local, remote, trusted);
        let mut rounds = Vec::new();
        for round in 0..4 {
            let input = PlanInput {
                base: &base,
                local: &local,
                remote: &remote,
                device: ME,
                now_utc: now(),
                base_trusted: trusted,
                holding_unsynced: &BTreeSet::new(),
                names,
                excluded: &excluded,
            };
            let plan = reconcile(&input);
            assert_eq!(plan, reconcile(&input), "deterministic");
            let ctx = || {
                format!(
                    "excluded {excluded:?}\nbase {base:?}\nlocal {local:?}\nremote {remote:?}\nplan {plan:?}\nearlier rounds {rounds:?}"
                )
            };
            if round == 3 {
                assert!(
                    plan.actions.is_empty(),
                    "stable after three rounds\n{}",
                    ctx()
                );
                break;
            }
            for a in &plan.actions {
                match a {
                    Action::Download { path, .. } | Action::DeleteRemote { path, .. } => assert!(
                        !out(path),
                        "an excluded path is never downloaded or deleted remotely: {a:?}\n{}",
                        ctx()
                    ),
                    _ => {}
                }
            }
            let (l2, r2) = apply(&input, &plan);
            for (path, e) in remote.iter().filter(|(p, e)| !e.deleted && out(p)) {
                assert!(
                    r2.contains_key(path),
                    "{path} ({e:?}) stays on the page\n{}",
                    ctx()
                );
            }
            let contents: BTreeSet<Option<Digest>> =
                l2.values().chain(r2.values()).map(|(_, d)| *d).collect();
            for c in &must_survive {
                assert!(contents.contains(c), "content {c:?} survives\n{}", ctx());
            }
            // The next round: what both sides hold alike is the base.
            base = l2
                .iter()
                .filter(|(p, v)| r2.get(*p) == Some(*v))
                .map(|(p, v)| (p.clone(), entry(p, v)))
                .collect();
            local = l2.iter().map(|(p, v)| (p.clone(), as_local(v))).collect();
            remote = r2.iter().map(|(p, v)| (p.clone(), entry(p, v))).collect();
            trusted = true;
            rounds.push(plan);
        }
        let here: Vec<&RelPath> = local.keys().filter(|p| out(p)).collect();
        assert!(
            here.is_empty(),
            "nothing excluded stays here: {here:?}\nexcluded {excluded:?}\nrounds {rounds:?}"
        );
        let page_here: BTreeMap<&RelPath, Option<Digest>> = remote
            .iter()
            .filter(|(p, _)| !out(p))
            .map(|(p, e)| (p, e.sha256))
            .collect();
        let local_here: BTreeMap<&RelPath, Option<Digest>> =
            local.iter().map(|(p, l)| (p, l.sha256)).collect();
        assert_eq!(
            local_here, page_here,
            "this device holds what the page holds outside the excluded subtrees\nexcluded {excluded:?}\nrounds {rounds:?}"
        );
    }

    /// Every combination for one file inside an excluded folder (and the folder itself
    /// excluded while a file or a folder): base, here and the page each none, one of three
    /// contents or a folder; trusted or not.
    #[test]
    fn exhaustive_excluded_single_path_combinations_lose_nothing_and_settle() {
        for (trusted, base, local, remote) in single_path_cases() {
            check_excluded(
                base,
                local,
                remote,
                trusted,
                NameRules::EXACT,
                [p("f")].into(),
            );
        }
    }

    fn arb_excluded() -> impl Strategy<Value = BTreeSet<RelPath>> {
        // Folders and files at several depths, in other spellings too (`D` for `d`), and a
        // path nothing is at.
        let candidates = ["d", "D", "d/e", "b", "d/e/z", "nothing/here"];
        proptest::collection::vec(any::<bool>(), candidates.len()).prop_map(move |picks| {
            candidates
                .iter()
                .zip(picks)
                .filter(|(_, on)| *on)
                .map(|(c, _)| p(c))
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Issue 17: random trees with random excluded subtrees (nested, other spellings,
        /// missing) lose nothing, never download or delete remotely what is excluded, and
        /// settle on what the page holds outside them.
        #[test]
        fn random_trees_with_excluded_subtrees_lose_nothing_and_settle(
            (base, local, remote) in arb_tree(),
            trusted in any::<bool>(),
            case_insensitive in any::<bool>(),
            excluded in arb_excluded(),
        ) {
            let names = NameRules { case_insensitive, ..NameRules::EXACT };
            check_excluded(base, local, remote, trusted, names, excluded);
        }
    }
}

#[cfg(test)]
mod action_size {
    use super::*;

    /// A plan of 100,000 downloads is a vector of 100,000 actions, each as large as the largest
    /// variant: the rare ones (conflicts, case renames) box their entries so an action stays
    /// about a download's size (it was 296 bytes with them inline, 152 since).
    #[test]
    fn an_action_is_about_the_size_of_a_download() {
        let download = std::mem::size_of::<RelPath>() + std::mem::size_of::<FileEntry>();
        assert!(
            std::mem::size_of::<Action>() <= download + 8,
            "Action is {} bytes, a download's fields {download}",
            std::mem::size_of::<Action>()
        );
    }
}
