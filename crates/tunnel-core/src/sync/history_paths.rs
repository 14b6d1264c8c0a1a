//! Every path the retained history of a folder knows — on the page now or deleted from it —
//! with its last change, so a person can find a file to look at or bring back ("undo an
//! accidental deletion" starts from a file that is no longer there).
//!
//! One walk through the timeline (the same reads as `history` on the folder); pure
//! bookkeeping over its steps in [`PathIndex`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::history::{self, Step};
use super::Syncer;
use crate::error::SyncError;
use crate::ids::FolderId;
use crate::manifest::{EntryKind, FileEntry};
use crate::rel_path::RelPath;
use crate::remote::RemoteStore;

/// A path of the folder's retained history and its last change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPath {
    /// Path relative to the synced folder.
    pub path: RelPath,
    /// A file or a folder.
    pub kind: EntryKind,
    /// Whether the page lists it now (`false`: deleted, only the history has it).
    pub live: bool,
    /// Bytes of its last version (a file).
    pub size: u64,
    /// When its last change happened (its deletion, for a deleted path), ms since the epoch.
    pub time_ms: i64,
    /// The device whose change that was.
    pub device: String,
    /// How many changes the retained history holds for it.
    pub changes: u64,
}

/// Follows every path through a walk of the timeline.
#[derive(Default)]
pub(crate) struct PathIndex {
    live: BTreeMap<RelPath, FileEntry>,
    paths: BTreeMap<RelPath, HistoryPath>,
}

impl PathIndex {
    /// Take one step of the walk.
    pub(crate) fn step(&mut self, step: Step<'_>) {
        match step {
            Step::Snapshot { time_ms, tree, .. } => {
                let next: BTreeMap<RelPath, FileEntry> =
                    tree.live().map(|e| (e.path.clone(), e.clone())).collect();
                // Gone between the previous segment and this snapshot: deleted then.
                let gone: Vec<FileEntry> = self
                    .live
                    .values()
                    .filter(|e| !next.contains_key(&e.path))
                    .cloned()
                    .collect();
                for e in gone {
                    let device = e.device.to_string();
                    self.deleted(&e, time_ms, device);
                }
                for e in next.values() {
                    let changed = self.live.get(&e.path).is_none_or(|old| {
                        old.version != e.version || old.sha256 != e.sha256 || old.kind != e.kind
                    });
                    if changed {
                        self.written(e, time_ms, e.device.to_string());
                    }
                }
                self.live = next;
            }
            Step::Delta { time_ms, delta, .. } => {
                for e in &delta.entries {
                    if e.deleted {
                        if let Some(old) = self.live.remove(&e.path) {
                            self.deleted(&old, time_ms, delta.device.clone());
                        }
                    } else {
                        self.written(e, time_ms, delta.device.clone());
                        self.live.insert(e.path.clone(), e.clone());
                    }
                }
            }
        }
    }

    fn written(&mut self, e: &FileEntry, time_ms: i64, device: String) {
        let row = self.paths.entry(e.path.clone()).or_insert(HistoryPath {
            path: e.path.clone(),
            kind: e.kind,
            live: true,
            size: 0,
            time_ms,
            device: String::new(),
            changes: 0,
        });
        row.kind = e.kind;
        row.live = true;
        row.size = e.size;
        row.time_ms = time_ms;
        row.device = device;
        row.changes += 1;
    }

    fn deleted(&mut self, e: &FileEntry, time_ms: i64, device: String) {
        if let Some(row) = self.paths.get_mut(&e.path) {
            row.live = false;
            row.time_ms = time_ms;
            row.device = device;
            row.changes += 1;
        }
    }

    /// Every path seen, by path.
    pub(crate) fn into_paths(self) -> Vec<HistoryPath> {
        self.paths.into_values().collect()
    }
}

impl Syncer {
    /// Every path the folder's retained history knows (files and folders, on the page now or
    /// deleted), by path, each with its last change.
    pub async fn history_paths(
        &self,
        folder_id: FolderId,
        store: &dyn RemoteStore,
    ) -> Result<Vec<HistoryPath>, SyncError> {
        let (_, head, _) = self.head_and_tree(folder_id, store).await?;
        let segments = history::timeline(store, &head, &self.limits).await?;
        let mut index = PathIndex::default();
        history::walk(store, &head.generation, &segments, &self.limits, |s| {
            index.step(s)
        })
        .await?;
        Ok(index.into_paths())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Delta, RemoteTree};

    fn file(path: &str, version: u64, size: u64, device: &str) -> FileEntry {
        FileEntry {
            path: RelPath::new(path).expect("path"),
            kind: EntryKind::File,
            deleted: false,
            size,
            mtime_ns: 0,
            sha256: Some(crate::hash::Digest::of(
                format!("{path}{version}").as_bytes(),
            )),
            version,
            device: device.into(),
            chunks: Default::default(),
        }
    }

    fn tombstone(path: &str, version: u64, device: &str) -> FileEntry {
        FileEntry {
            deleted: true,
            sha256: None,
            size: 0,
            ..file(path, version, 0, device)
        }
    }

    fn delta(device: &str, entries: Vec<FileEntry>) -> Delta {
        Delta {
            format: crate::manifest::FORMAT_VERSION,
            generation: "g".into(),
            seq: 0,
            device: device.into(),
            entries,
        }
    }

    fn tree(entries: Vec<FileEntry>) -> RemoteTree {
        let mut t = RemoteTree::empty("g".into());
        t.files = entries.into_iter().map(|e| (e.path.clone(), e)).collect();
        t
    }

    fn row<'a>(paths: &'a [HistoryPath], p: &str) -> &'a HistoryPath {
        paths
            .iter()
            .find(|r| r.path.as_str() == p)
            .unwrap_or_else(|| panic!("{p} listed: {paths:?}"))
    }

    #[test]
    fn a_deleted_file_stays_listed_with_its_deletion() {
        let mut index = PathIndex::default();
        let first = tree(vec![
            file("a.txt", 1, 10, "laptop"),
            file("b.txt", 1, 5, "laptop"),
        ]);
        index.step(Step::Snapshot {
            seq: 1,
            time_ms: 1_000,
            tree: &first,
        });
        let edit = delta("desktop", vec![file("a.txt", 2, 12, "desktop")]);
        index.step(Step::Delta {
            seq: 2,
            time_ms: 2_000,
            delta: &edit,
        });
        let gone = delta("phone", vec![tombstone("a.txt", 3, "phone")]);
        index.step(Step::Delta {
            seq: 3,
            time_ms: 3_000,
            delta: &gone,
        });
        let paths = index.into_paths();
        let a = row(&paths, "a.txt");
        assert!(
            !a.live,
            "a.txt was deleted: it is listed as such, not dropped"
        );
        assert_eq!(
            (a.time_ms, a.device.as_str()),
            (3_000, "phone"),
            "the deletion is its last change"
        );
        assert_eq!(
            a.size, 12,
            "the size of the last version, the one a restore brings back"
        );
        assert_eq!(a.changes, 3, "created, edited, deleted");
        let b = row(&paths, "b.txt");
        assert!(
            b.live && b.changes == 1,
            "b.txt never changed after the snapshot: {b:?}"
        );
    }

    #[test]
    fn a_path_missing_from_the_next_snapshot_was_deleted_and_one_unchanged_is_no_change() {
        let mut index = PathIndex::default();
        let first = tree(vec![
            file("a.txt", 1, 10, "laptop"),
            file("b.txt", 1, 5, "laptop"),
        ]);
        index.step(Step::Snapshot {
            seq: 1,
            time_ms: 1_000,
            tree: &first,
        });
        // The next segment's snapshot (its deltas were dropped): b.txt is gone, a.txt the same.
        let second = tree(vec![file("a.txt", 1, 10, "laptop")]);
        index.step(Step::Snapshot {
            seq: 40,
            time_ms: 9_000,
            tree: &second,
        });
        let paths = index.into_paths();
        assert!(
            !row(&paths, "b.txt").live,
            "b.txt is not in the newer snapshot"
        );
        assert_eq!(row(&paths, "b.txt").time_ms, 9_000);
        let a = row(&paths, "a.txt");
        assert!(a.live && a.changes == 1 && a.time_ms == 1_000, "{a:?}");
    }

    #[test]
    fn a_file_brought_back_is_live_again() {
        let mut index = PathIndex::default();
        let empty = tree(Vec::new());
        index.step(Step::Snapshot {
            seq: 1,
            time_ms: 1_000,
            tree: &empty,
        });
        for (seq, e) in [
            (2, file("a.txt", 1, 3, "laptop")),
            (3, tombstone("a.txt", 2, "laptop")),
            (4, file("a.txt", 3, 3, "laptop")),
        ] {
            let d = delta("laptop", vec![e]);
            index.step(Step::Delta {
                seq,
                time_ms: seq as i64 * 1_000,
                delta: &d,
            });
        }
        let paths = index.into_paths();
        let a = row(&paths, "a.txt");
        assert!(a.live && a.changes == 3 && a.time_ms == 4_000, "{a:?}");
    }

    /// The versions view's "restored": a file whose content comes back from an earlier
    /// version (a restore after a deletion, or after an edit) names that version; an ordinary
    /// edit, and a first version, name none. (`PathTracker` lives in `history`; the helpers
    /// are here.)
    #[test]
    fn the_versions_of_a_file_say_which_earlier_version_came_back() {
        use super::super::history::PathTracker;
        let with_content = |version: u64, content: &str| FileEntry {
            sha256: Some(crate::hash::Digest::of(content.as_bytes())),
            ..file("a.txt", version, content.len() as u64, "laptop")
        };
        let mut tracker = PathTracker::new(Some(RelPath::new("a.txt").expect("path")));
        let empty = tree(Vec::new());
        tracker.step(Step::Snapshot {
            seq: 1,
            time_ms: 1_000,
            tree: &empty,
        });
        let changes = [
            with_content(1, "one"),
            with_content(2, "two"),
            with_content(3, "one"), // back to version 1's content
            tombstone("a.txt", 4, "laptop"),
            with_content(5, "two"), // the deletion undone with version 2's content
            with_content(6, "six"),
        ];
        for (i, e) in changes.into_iter().enumerate() {
            let d = delta("laptop", vec![e]);
            tracker.step(Step::Delta {
                seq: i as u64 + 2,
                time_ms: (i as i64 + 2) * 1_000,
                delta: &d,
            });
        }
        let seen: Vec<(&str, Option<u64>, Option<u64>)> = tracker
            .versions
            .iter()
            .map(|v| (v.action.as_str(), v.version, v.restored_from))
            .collect();
        assert_eq!(
            seen,
            [
                ("created", Some(1), None),
                ("modified", Some(2), None),
                ("modified", Some(3), Some(1)),
                ("deleted", Some(4), None),
                ("created", Some(5), Some(2)),
                ("modified", Some(6), None),
            ]
        );
    }
}
