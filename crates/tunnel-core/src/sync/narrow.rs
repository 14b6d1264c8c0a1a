//! The narrow path (issue 15): a sync after a clean one, when a few paths changed since, plans
//! over those paths only — the base, the remote tree and the scan cache are read for them
//! (indexed lookups in the journal), never as whole maps, and only their files are scanned.
//!
//! Why that is the full path's plan: the folder's clean mark (see `no_change`) says the last
//! sync planned nothing and carried everything out, and that the journal has not been written
//! since; so for every path then, the local entry, the base and the remote entry agreed, and
//! the plan of a path whose three entries agree is empty. What can differ now:
//! - here: a file whose stat differs from its scan-cache row, or that has no row (new); a row
//!   without its file (gone); a base path not on disk any more; a name on disk the base does
//!   not hold (a new folder). The walk is the full scan's walk (same skip rules), sorted and
//!   merged with the scan cache and the base in path order, holding one compact row per name;
//! - on the page: the paths named by the deltas after the cached tree's seq, read as the full
//!   path reads them (the same checks of generation, history and the deltas' hashes).
//!
//! The planner's rules that look across paths are covered by planning over the changed paths
//! plus every folder above them and every entry below them, on every side: a folder's
//! deletion waits for what survives inside it, a file and a folder at one path look at what
//! is below, a delta is checked against the tree above and below what it touches. Everything
//! left out (ignored, hidden, unreadable) is reported by the walk for the whole folder, as a
//! full scan reports it. A local move is a path gone and a path new: both are changed, and the
//! gone path's remote entry (its chunks) is among the narrow tree's entries, so the upload
//! finds them there. A copy of a file elsewhere on the page is not: when a narrow upload has
//! more than a mebibyte left to send, it looks its chunks up in the journal's whole remote
//! cache (one pass over it; `Journal::remote_chunks_among`), so a copy is not sent again.
//!
//! Anything the narrow plan cannot prove equal to the full plan goes to the full path before
//! anything is carried out: more than [`MAX_CHANGED`] changed paths or [`MAX_PATHS`] paths to
//! plan over, other ignore rules (they judge remote names), names from other devices not
//! synced here or that this disk cannot store (the summary lists all of them), a conflict or a
//! case-conflict rename (a copy's name must be free among all names), a new name arriving on a
//! disk that folds case (it may clash with any name here), more deletions than the deletion
//! guard lets through without counting the whole base, a page that cannot be read from the
//! cache (another generation, a rewritten history, compacted deltas), or a delta that fails.
//!
//! Tests can have every narrow plan checked against the full path's plan of the same state
//! ([`Syncer::with_narrow_check_for_tests`]), and read why a narrow sync fell back
//! ([`Syncer::narrow_fallbacks_for_tests`]).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::Ordering;

use tracing::debug;

use super::no_change::CleanMark;
use super::*;
use crate::journal::{CachedStat, StoredTree};
use crate::manifest::Head;
use crate::remote::HeadState;
use crate::scan::{FolderWalk, Walked};

/// Above this many changed paths a sync plans in full.
pub(super) const MAX_CHANGED: usize = 1_000;
/// Above this many paths to plan over (the changed ones with what is above and below them) a
/// sync plans in full.
pub(super) const MAX_PATHS: usize = 20_000;

/// What the no-change check hands on: the folder's clean mark and its walk.
pub(crate) struct NarrowStart {
    pub(super) mark: CleanMark,
    pub(super) walk: FolderWalk,
}

/// Why a narrow sync planned in full (tests read them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// More changed paths than [`MAX_CHANGED`], or paths to plan over than [`MAX_PATHS`].
    TooMany,
    /// A `.sbtignore` changed.
    IgnoreRules,
    /// Names from other devices are not synced here, or cannot be stored on this disk.
    ForeignNames,
    /// The page cannot be read from the cache (or a delta failed).
    Remote,
    /// The plan holds a conflict or a case-conflict rename.
    Conflict,
    /// A new name arrives on a disk that folds case.
    CaseFolding,
    /// More deletions than the deletion guard lets through without counting.
    Deletions,
}

/// The local changes a walk shows against the scan cache and the base.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct LocalDiff {
    /// Every path that changed here: new, gone, modified, of another kind.
    pub(super) changed: BTreeSet<RelPath>,
    /// The files to read and hash (no row, or a row whose stat differs).
    pub(super) rehash: BTreeSet<RelPath>,
    /// Scan-cache rows with no file any more.
    pub(super) stale_rows: Vec<RelPath>,
}

/// Merge state over the walk's sorted rows.
#[derive(Clone)]
pub(super) struct Cursor {
    at: usize,
    hit: Vec<bool>,
    missing: Vec<String>,
}

impl Cursor {
    fn new(n: usize) -> Cursor {
        Cursor {
            at: 0,
            hit: vec![false; n],
            missing: Vec::new(),
        }
    }

    /// The walked row at `path`, moving past the rows before it.
    fn seek(&mut self, listed: &[Walked], path: &str) -> Option<usize> {
        while self.at < listed.len() && listed[self.at].rel.as_str() < path {
            self.at += 1;
        }
        (self.at < listed.len() && listed[self.at].rel.as_str() == path).then(|| {
            self.at += 1;
            self.at - 1
        })
    }
}

/// The local changes: `listed` (the walk, sorted) merged with the scan cache's stat data and
/// the base's paths, both in path order (`scan_rows` and `base_paths` fold over them).
pub(super) fn local_diff(
    listed: &[Walked],
    scan_rows: impl FnOnce(
        Cursor,
        &mut dyn FnMut(&mut Cursor, &str, CachedStat),
    ) -> Result<Cursor, SyncError>,
    base_paths: impl FnOnce(Cursor, &mut dyn FnMut(&mut Cursor, &str)) -> Result<Cursor, SyncError>,
) -> Result<LocalDiff, SyncError> {
    let rows = scan_rows(
        Cursor::new(listed.len()),
        &mut |c, path, (size, mtime, inode)| match c.seek(listed, path) {
            Some(i) if !listed[i].dir => {
                let m = &listed[i].meta;
                c.hit[i] = m.len == size && m.mtime_ns == mtime && m.ino == inode;
            }
            _ => c.missing.push(path.to_owned()),
        },
    )?;
    let base = base_paths(Cursor::new(listed.len()), &mut |c, path| {
        if c.seek(listed, path).map(|i| c.hit[i] = true).is_none() {
            c.missing.push(path.to_owned());
        }
    })?;
    let mut diff = LocalDiff::default();
    for (i, w) in listed.iter().enumerate() {
        if !w.dir && !rows.hit[i] {
            diff.rehash.insert(w.rel.clone());
            diff.changed.insert(w.rel.clone());
        }
        if !base.hit[i] {
            diff.changed.insert(w.rel.clone());
        }
    }
    for p in rows.missing.iter() {
        let rel = RelPath::new(p).map_err(|e| SyncError::Internal(format!("scan cache: {e}")))?;
        diff.stale_rows.push(rel.clone());
        diff.changed.insert(rel);
    }
    for p in base.missing.iter() {
        let rel = RelPath::new(p).map_err(|e| SyncError::Internal(format!("base: {e}")))?;
        diff.changed.insert(rel);
    }
    Ok(diff)
}

/// The paths to plan over: `changed`, every folder above them, and everything below them
/// that `below` finds (on disk, in the base, in the cached remote tree).
pub(super) fn relevant_paths(
    changed: &BTreeSet<RelPath>,
    mut below: impl FnMut(&RelPath) -> Result<Vec<RelPath>, SyncError>,
) -> Result<BTreeSet<RelPath>, SyncError> {
    let mut out = BTreeSet::new();
    for c in changed {
        let mut up = c.parent();
        while let Some(a) = up {
            up = a.parent();
            if !out.insert(a) {
                break;
            }
        }
        out.insert(c.clone());
        out.extend(below(c)?);
        if out.len() > MAX_PATHS {
            break;
        }
    }
    Ok(out)
}

impl Syncer {
    /// A narrow sync from the no-change check's `start` (see the module docs): `Some(number
    /// of actions)` when it planned and carried out, `None` when the full path must plan
    /// (nothing was carried out; the caches it wrote are what the full path writes too).
    pub(super) async fn sync_narrow(
        &self,
        folder: &FolderRecord,
        store: &dyn RemoteStore,
        opts: &SyncOptions,
        summary: &mut SyncSummary,
        head: Option<HeadState>,
        start: NarrowStart,
    ) -> Result<Option<usize>, SyncError> {
        let id = folder.id;
        let NarrowStart { mark, walk } = start;
        self.narrow_tries.tried.fetch_add(1, Ordering::Relaxed);
        if mark.ignores != Some(walk.ignores) {
            return Ok(self.fall_back(Fallback::IgnoreRules));
        }
        if mark.skipped_remote > 0 || !mark.unstorable.is_empty() {
            return Ok(self.fall_back(Fallback::ForeignNames));
        }
        let Some(state) = head else {
            return Ok(self.fall_back(Fallback::Remote));
        };
        let Ok(parsed) = Head::parse(&state.value, &self.limits) else {
            return Ok(self.fall_back(Fallback::Remote));
        };

        // 1. The page: the deltas after the cached tree.
        let seen_key = format!("seen-head:{id}");
        let (record, cached, seen) = self
            .with_journal(move |j| {
                Ok((
                    j.folder(id)?,
                    j.remote_cache_position(id)?,
                    j.get_config(&seen_key)?,
                ))
            })
            .await?;
        let record = record.ok_or_else(|| SyncError::UnknownFolder(id.to_string()))?;
        let seen: Option<serde_json::Value> = seen.and_then(|t| serde_json::from_str(&t).ok());
        let Some(from) = remote_state::narrow_from(
            &record,
            cached.as_ref(),
            seen.as_ref(),
            &parsed,
            &self.limits,
        ) else {
            return Ok(self.fall_back(Fallback::Remote));
        };
        let deltas = match remote_state::deltas_after(store, &parsed, from, &self.limits).await {
            Ok(d) => d,
            Err(e) => {
                debug!(error = %e, "the new deltas could not be read narrowly");
                return Ok(self.fall_back(Fallback::Remote));
            }
        };
        let changed_remote: BTreeSet<RelPath> = deltas
            .iter()
            .flat_map(|d| d.entries.iter().map(|e| e.path.clone()))
            .collect();

        // 2. Here: the walk against the scan cache and the base.
        let (walk, diff) = {
            let journal = self.journal.clone();
            tokio::task::spawn_blocking(move || {
                let j = journal
                    .lock()
                    .map_err(|_| SyncError::Internal("journal lock poisoned".into()))?;
                let diff = local_diff(
                    &walk.listed,
                    |init, step| Ok(j.fold_scan_stats(id, init, |c, p, s| step(c, p, s))?),
                    |init, step| Ok(j.fold_paths(id, StoredTree::Base, init, |c, p| step(c, p))?),
                )?;
                Ok::<_, SyncError>((walk, diff))
            })
            .await
            .map_err(|e| SyncError::Internal(format!("narrow diff task failed: {e}")))??
        };
        let mut changed = diff.changed.clone();
        changed.extend(changed_remote.iter().cloned());
        if changed.len() > MAX_CHANGED {
            return Ok(self.fall_back(Fallback::TooMany));
        }

        // 3. The paths to plan over, and their entries.
        let journal = self.journal.clone();
        let below_here: Vec<(RelPath, Vec<RelPath>)> = changed
            .iter()
            .map(|c| (c.clone(), walk.below(c).map(|w| w.rel.clone()).collect()))
            .collect();
        let rehash = diff.rehash.clone();
        let ch = changed.clone();
        let read = tokio::task::spawn_blocking(move || {
            let j = journal
                .lock()
                .map_err(|_| SyncError::Internal("journal lock poisoned".into()))?;
            let here: BTreeMap<RelPath, Vec<RelPath>> = below_here.into_iter().collect();
            let paths = relevant_paths(&ch, |c| {
                let mut v = j.paths_below(id, StoredTree::Base, c)?;
                v.extend(j.paths_below(id, StoredTree::Remote, c)?);
                v.extend(here.get(c).into_iter().flatten().cloned());
                Ok(v)
            })?;
            if paths.len() > MAX_PATHS {
                return Ok(None);
            }
            let base = j.entries_at(id, StoredTree::Base, &paths)?;
            let remote = j.entries_at(id, StoredTree::Remote, &paths)?;
            let unchanged: BTreeSet<RelPath> = paths.difference(&rehash).cloned().collect();
            let rows = j.scan_rows_at(id, &unchanged)?;
            Ok::<_, SyncError>(Some((paths, base, remote, rows)))
        })
        .await
        .map_err(|e| SyncError::Internal(format!("narrow read task failed: {e}")))??;
        let Some((paths, base, cached_remote, rows)) = read else {
            return Ok(self.fall_back(Fallback::TooMany));
        };
        let mut tree = RemoteTree::empty(parsed.generation.clone());
        tree.seq = from;
        tree.files = cached_remote;
        let mut delta_entries = Vec::new();
        for d in deltas {
            delta_entries.extend(d.entries.iter().cloned());
            if let Err(e) = tree.apply_delta(d) {
                debug!(error = %e, "a new delta does not apply");
                return Ok(self.fall_back(Fallback::Remote));
            }
        }

        // 4. The scan of those paths.
        let sopts = self.scan_options();
        let want = paths.clone();
        let rehash = diff.rehash.clone();
        let scan = tokio::task::spawn_blocking(move || {
            crate::scan::narrow_scan(walk, &want, &rehash, rows, &sopts)
        })
        .await
        .map_err(|e| SyncError::Internal(format!("narrow scan task failed: {e}")))?;
        check_root(folder)?;

        // 5. The plan, and whether it is the full path's.
        let names = self.name_rules(folder).await;
        let excluded = self.with_journal(move |j| j.excluded_paths(id)).await?;
        let now_utc = time::OffsetDateTime::now_utc();
        let planned = plan_trees(
            &scan,
            &base,
            &tree,
            &PlanShape {
                base_trusted: true,
                names,
                excluded: &excluded,
                device: &self.device,
                now_utc,
            },
        );
        if let Some(why) = self.narrow_refusal(&planned, &base, names) {
            return Ok(self.fall_back(why));
        }

        // 6. Narrow it is: the caches move as the full path would move them.
        // Our own leftovers go, as after a full scan (the walk named invalid names).
        remove_stale_temp_files(&scan.skipped);
        let (g, to) = (tree.generation.clone(), tree.seq);
        let upserts: Vec<(RelPath, crate::journal::CachedHash)> = scan
            .fresh
            .iter()
            .filter_map(|p| scan.hashes.get_key_value(p))
            .map(|(p, h)| (p.clone(), h.clone()))
            .collect();
        // Rows of files gone, and of files that were to be hashed and were not (unreadable,
        // vanished): the full scan drops both.
        let stale: Vec<RelPath> = diff
            .stale_rows
            .iter()
            .chain(&diff.rehash)
            .filter(|p| !scan.hashes.contains_key(*p))
            .cloned()
            .collect();
        let advanced = self
            .with_journal(move |j| {
                let advanced =
                    to == from || j.advance_remote_cache(id, &g, from, to, &delta_entries)?;
                if !upserts.is_empty() || !stale.is_empty() {
                    j.update_scan_cache(id, &upserts, &stale)?;
                }
                Ok(advanced)
            })
            .await?;
        if !advanced {
            // The cache moved under us: plan again (in full).
            return Err(RemoteError::Conflict { current: None }.into());
        }
        self.narrow_tries.planned.fetch_add(1, Ordering::Relaxed);
        if self.check_narrow {
            let (view, full_scan, full_base) =
                self.read_full(folder, store, Some(state.clone())).await?;
            let full = plan_trees(
                &full_scan,
                &full_base,
                &view.tree,
                &PlanShape {
                    base_trusted: view.base_trusted,
                    names,
                    excluded: &excluded,
                    device: &self.device,
                    now_utc,
                },
            );
            assert_eq!(
                planned.plan.actions, full.plan.actions,
                "the narrow plan differs from the full path's plan"
            );
            assert_eq!(planned.plan.unstorable, full.plan.unstorable);
            assert_eq!(
                (planned.skipped_unreadable, planned.skipped_remote),
                (full.skipped_unreadable, full.skipped_remote),
                "the narrow plan's report differs from the full path's"
            );
        }
        let view = remote_state::RemoteView {
            head: Some(parsed),
            head_version: Some(state.version),
            tree,
            base_trusted: true,
            fetched: false,
            delta_since_cache: None,
        };
        self.carry_out(
            folder,
            store,
            opts,
            summary,
            Carry {
                planned,
                scan,
                base,
                view,
                stale_base: HashSet::new(),
                names,
                excluded: &excluded,
                head_read: Some(state),
                whole_tree: false,
            },
        )
        .await
        .map(Some)
    }

    /// Why the full path must plan instead of `planned` (see the module docs), if it must.
    fn narrow_refusal(
        &self,
        planned: &Planned,
        base: &BTreeMap<RelPath, FileEntry>,
        names: NameRules,
    ) -> Option<Fallback> {
        if planned.skipped_remote > 0 || !planned.plan.unstorable.is_empty() {
            return Some(Fallback::ForeignNames);
        }
        let mut deletions = 0usize;
        for a in &planned.plan.actions {
            match a {
                Action::ConflictLocalWins { .. }
                | Action::ConflictRemoteWins { .. }
                | Action::RenameRemote { .. } => return Some(Fallback::Conflict),
                Action::Download { path, .. }
                    if names.folds_names() && !base.contains_key(path) =>
                {
                    return Some(Fallback::CaseFolding)
                }
                Action::DeleteRemote { tombstone, .. } if tombstone.kind == EntryKind::File => {
                    deletions += 1;
                }
                _ => {}
            }
        }
        (deletions > self.settings.max_delete_min_files).then_some(Fallback::Deletions)
    }

    fn fall_back(&self, why: Fallback) -> Option<usize> {
        debug!(?why, "planning in full instead of narrowly");
        if let Ok(mut v) = self.narrow_tries.fallbacks.lock() {
            v.push(why);
        }
        None
    }

    /// Tests only: after every narrow plan, make the full path's plan of the same state too
    /// and panic unless the two are the same.
    #[doc(hidden)]
    pub fn with_narrow_check_for_tests(mut self) -> Self {
        self.check_narrow = true;
        self
    }

    /// Tests only: a narrow sync's upload looks for chunks outside its tree from `bytes` to
    /// send (0: whenever it sends anything), not from a mebibyte.
    #[doc(hidden)]
    pub fn with_narrow_lookup_from_for_tests(mut self, bytes: u64) -> Self {
        self.narrow_lookup_from = bytes;
        self
    }

    /// Tests only: how many syncs this syncer (and its clones) tried narrowly and planned
    /// narrowly, and why the others fell back.
    #[doc(hidden)]
    pub fn narrow_tries_for_tests(&self) -> NarrowTries {
        NarrowTries {
            tried: self.narrow_tries.tried.load(Ordering::Relaxed),
            planned: self.narrow_tries.planned.load(Ordering::Relaxed),
            fallbacks: self
                .narrow_tries
                .fallbacks
                .lock()
                .map(|v| v.clone())
                .unwrap_or_default(),
            found_outside: self.narrow_tries.found_outside.load(Ordering::Relaxed),
        }
    }
}

/// Counters of the narrow path (tests).
#[derive(Debug, Default)]
pub(super) struct Tries {
    tried: std::sync::atomic::AtomicU64,
    planned: std::sync::atomic::AtomicU64,
    fallbacks: std::sync::Mutex<Vec<Fallback>>,
    /// Narrow uploads that found chunks on the page outside their tree.
    pub(super) found_outside: std::sync::atomic::AtomicU64,
}

/// [`Tries`] as read by a test.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NarrowTries {
    /// Syncs that tried the narrow path.
    pub tried: u64,
    /// Of those, the ones that planned narrowly.
    pub planned: u64,
    /// Why the others planned in full, in order.
    pub fallbacks: Vec<Fallback>,
    /// Narrow uploads that found chunks to re-use outside their tree (see `upload_pass`).
    pub found_outside: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs_safe::{Kind, Meta};

    fn p(s: &str) -> RelPath {
        RelPath::new(s).expect("valid path")
    }

    fn file(rel: &str, len: u64, mtime_ns: i64, ino: u64) -> Walked {
        Walked {
            rel: p(rel),
            meta: Meta {
                kind: Kind::File,
                len,
                mtime_ns,
                dev: 1,
                ino,
            },
            dir: false,
        }
    }

    fn dir(rel: &str) -> Walked {
        Walked {
            rel: p(rel),
            meta: Meta {
                kind: Kind::Dir,
                len: 0,
                mtime_ns: 9,
                dev: 1,
                ino: 0,
            },
            dir: true,
        }
    }

    /// The diff of `listed` (sorted here) against scan-cache rows and base paths.
    fn diff(mut listed: Vec<Walked>, rows: &[(&str, CachedStat)], base: &[&str]) -> LocalDiff {
        listed.sort_by(|a, b| a.rel.as_str().cmp(b.rel.as_str()));
        let mut rows: Vec<(&str, CachedStat)> = rows.to_vec();
        rows.sort();
        let mut base: Vec<&str> = base.to_vec();
        base.sort();
        local_diff(
            &listed,
            |mut c, step| {
                for (path, stat) in &rows {
                    step(&mut c, path, *stat);
                }
                Ok(c)
            },
            |mut c, step| {
                for path in &base {
                    step(&mut c, path);
                }
                Ok(c)
            },
        )
        .expect("diff")
    }

    fn set(v: &[&str]) -> BTreeSet<RelPath> {
        v.iter().map(|s| p(s)).collect()
    }

    #[test]
    fn an_unchanged_folder_has_no_changes() {
        let d = diff(
            vec![dir("d"), file("d/a", 1, 5, 7), file("a-b", 2, 5, 8)],
            &[("d/a", (1, 5, 7)), ("a-b", (2, 5, 8))],
            &["d", "d/a", "a-b"],
        );
        assert_eq!(d, LocalDiff::default());
    }

    #[test]
    fn a_stat_that_differs_in_size_time_or_inode_is_hashed_again() {
        let d = diff(
            vec![file("a", 1, 5, 7), file("b", 1, 5, 7), file("c", 1, 5, 7)],
            &[("a", (2, 5, 7)), ("b", (1, 6, 7)), ("c", (1, 5, 8))],
            &["a", "b", "c"],
        );
        assert_eq!(d.rehash, set(&["a", "b", "c"]));
        assert_eq!(d.changed, set(&["a", "b", "c"]));
        assert!(d.stale_rows.is_empty());
    }

    #[test]
    fn new_gone_and_retyped_names_are_changes() {
        let d = diff(
            vec![
                dir("new"),               // a new folder: not in the base
                file("new/x", 1, 1, 1),   // a new file: no row, not in the base
                dir("was-file"),          // a file replaced by a folder: its row is stale
                file("was-dir", 3, 3, 3), // a folder replaced by a file: no row
                file("same", 4, 4, 4),
            ],
            &[
                ("was-file", (1, 1, 1)),
                ("same", (4, 4, 4)),
                ("gone", (5, 5, 5)),
            ],
            &[
                "was-file",
                "was-dir",
                "was-dir/inner",
                "same",
                "gone",
                "gone-dir",
            ],
        );
        assert_eq!(
            d.changed,
            set(&[
                "new",
                "new/x",
                "was-file",
                "was-dir",
                "was-dir/inner",
                "gone",
                "gone-dir"
            ])
        );
        assert_eq!(d.rehash, set(&["new/x", "was-dir"]));
        assert_eq!(d.stale_rows, vec![p("gone"), p("was-file")]);
    }

    #[test]
    fn a_file_with_its_row_but_not_in_the_base_is_a_change() {
        let d = diff(vec![file("a", 1, 1, 1)], &[("a", (1, 1, 1))], &[]);
        assert_eq!(d.changed, set(&["a"]));
        assert!(d.rehash.is_empty(), "its row still vouches for its content");
    }

    #[test]
    fn relevant_paths_add_every_folder_above_and_what_is_below() {
        let changed = set(&["a/b/c.txt", "d"]);
        let out = relevant_paths(&changed, |c| {
            Ok(match c.as_str() {
                "d" => vec![p("d/x"), p("d/y/z")],
                _ => Vec::new(),
            })
        })
        .expect("paths");
        assert_eq!(out, set(&["a", "a/b", "a/b/c.txt", "d", "d/x", "d/y/z"]));
    }
}
