//! The transfers a plan implies, counted before any of them starts, so "to go" is known as
//! soon as planning ends. The passes refine it: the download pass knows which files it
//! fetches, the upload pass which bytes the page does not hold yet (de-duplication).

use crate::manifest::EntryKind;
use crate::plan::Action;

/// Files and bytes to move in one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Amount {
    /// Files.
    pub files: u64,
    /// Bytes.
    pub bytes: u64,
}

impl Amount {
    fn add(&mut self, bytes: u64) {
        self.files += 1;
        self.bytes = self.bytes.saturating_add(bytes);
    }
}

/// What a plan brings here and sends away.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanTotals {
    /// Files fetched from the page (conflict copies of the remote version included).
    pub down: Amount,
    /// Files sent to the page (conflict copies of the local version included), before
    /// de-duplication.
    pub up: Amount,
}

/// Count the transfers of `actions`. Folders, deletions and renames that move no content
/// are not transfers.
pub fn plan_totals(actions: &[Action]) -> PlanTotals {
    let mut t = PlanTotals::default();
    for a in actions {
        match a {
            Action::Download { entry, .. } if entry.kind == EntryKind::File => {
                t.down.add(entry.size)
            }
            Action::Upload { local, .. } if local.kind == EntryKind::File => t.up.add(local.size),
            Action::ConflictRemoteWins { entry, local, .. } => {
                if entry.kind == EntryKind::File {
                    t.down.add(entry.size);
                }
                if local.kind == EntryKind::File {
                    t.up.add(local.size);
                }
            }
            Action::ConflictLocalWins { entry, local, .. } => {
                if entry.kind == EntryKind::File {
                    t.down.add(entry.size);
                }
                if local.kind == EntryKind::File {
                    t.up.add(local.size);
                }
            }
            Action::RenameRemote {
                entry, here: false, ..
            } if entry.kind == EntryKind::File => t.down.add(entry.size),
            Action::Download { .. }
            | Action::Upload { .. }
            | Action::RenameRemote { .. }
            | Action::DeleteLocal { .. }
            | Action::DeleteRemote { .. }
            | Action::RecordBase { .. }
            | Action::ForgetBase { .. }
            | Action::Evict { .. } => {}
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::FileEntry;
    use crate::plan::LocalEntry;
    use crate::rel_path::RelPath;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).expect("valid")
    }

    fn remote(path: &str, kind: EntryKind, size: u64) -> FileEntry {
        FileEntry {
            path: p(path),
            kind,
            deleted: false,
            size,
            mtime_ns: 0,
            sha256: None,
            version: 1,
            device: "other".into(),
            chunks: Default::default(),
        }
    }

    fn local(kind: EntryKind, size: u64) -> LocalEntry {
        LocalEntry {
            kind,
            size,
            mtime_ns: 0,
            sha256: None,
        }
    }

    #[test]
    fn counts_files_both_ways_and_leaves_out_what_moves_no_content() {
        let actions = vec![
            Action::Download {
                path: p("a"),
                entry: remote("a", EntryKind::File, 100),
            },
            Action::Download {
                path: p("d"),
                entry: remote("d", EntryKind::Dir, 0),
            },
            Action::Upload {
                path: p("b"),
                local: local(EntryKind::File, 40),
                version: 1,
            },
            Action::Upload {
                path: p("e"),
                local: local(EntryKind::Dir, 0),
                version: 1,
            },
            Action::ConflictRemoteWins {
                path: p("c"),
                copy: p("c (conflict)"),
                entry: Box::new(remote("c", EntryKind::File, 7)),
                local: local(EntryKind::File, 8),
            },
            Action::ConflictLocalWins {
                path: p("x"),
                copy: p("x (conflict)"),
                entry: Box::new(remote("x", EntryKind::File, 1)),
                local: local(EntryKind::File, 2),
                version: 2,
            },
            Action::RenameRemote {
                path: p("R (Case Conflict)"),
                from: p("R"),
                entry: Box::new(remote("R (Case Conflict)", EntryKind::File, 1000)),
                tombstone: Box::new(remote("R", EntryKind::File, 0)),
                here: false,
            },
            Action::RenameRemote {
                path: p("S (Case Conflict)"),
                from: p("S"),
                entry: Box::new(remote("S (Case Conflict)", EntryKind::File, 5000)),
                tombstone: Box::new(remote("S", EntryKind::File, 0)),
                here: true,
            },
            Action::DeleteRemote {
                path: p("gone"),
                tombstone: remote("gone", EntryKind::File, 9),
            },
            Action::ForgetBase { path: p("old") },
        ];
        let t = plan_totals(&actions);
        assert_eq!(
            t.down,
            Amount {
                files: 4,
                bytes: 100 + 7 + 1 + 1000
            },
            "a download, both conflict sides fetched, a rename not here yet; not a folder, \
             not a copy already here"
        );
        assert_eq!(
            t.up,
            Amount {
                files: 3,
                bytes: 40 + 8 + 2
            },
            "an upload and the local side of both conflicts; not a folder, not a deletion"
        );
    }
}
