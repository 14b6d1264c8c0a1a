//! The clean-sync mark of each folder (a `config` row, `clean-sync:<folder id>`): what the
//! last sync that left the folder clean saw — its plan empty and fully carried out — so the
//! next sync can tell "nothing can have changed" without building any tree (see
//! `crate::sync::no_change`). The journal keeps it as opaque text.
//!
//! Invariant: every write that changes what a sync plans from — the base, the cached remote
//! tree, the scan cache, the excluded subtrees, the folder's remote position, the folder
//! itself — removes the mark in its own transaction, so a mark is never read beside state it
//! does not describe.

use rusqlite::{params, Connection, OptionalExtension};

use super::{Journal, Result};
use crate::ids::FolderId;

fn key(folder: FolderId) -> String {
    format!("clean-sync:{folder}")
}

/// Remove `folder`'s mark (inside another write's transaction).
pub(super) fn forget(c: &Connection, folder: FolderId) -> Result<()> {
    c.execute("DELETE FROM config WHERE key = ?1", [key(folder)])?;
    Ok(())
}

impl Journal {
    /// The folder's clean-sync mark, when the last sync left one and nothing removed it since.
    pub fn clean_mark(&self, folder: FolderId) -> Result<Option<String>> {
        self.read(
            &format!("reading the clean-sync mark of folder {folder}"),
            |c| {
                Ok(c.query_row(
                    "SELECT value FROM config WHERE key = ?1",
                    [key(folder)],
                    |r| r.get(0),
                )
                .optional()?)
            },
        )
    }

    /// Leave a clean-sync mark on the folder (an unknown folder is an error).
    pub fn set_clean_mark(&self, folder: FolderId, mark: &str) -> Result<()> {
        self.write(&format!("set_clean_mark (folder {folder})"), |tx| {
            super::folders::ensure_folder(tx, folder)?;
            tx.execute(
                "INSERT OR REPLACE INTO config (key, value) VALUES (?1, ?2)",
                params![key(folder), mark],
            )?;
            Ok(())
        })
    }

    /// Remove the folder's clean-sync mark: its next sync plans in full.
    pub fn clear_clean_mark(&self, folder: FolderId) -> Result<()> {
        self.write(&format!("clear_clean_mark (folder {folder})"), |tx| {
            forget(tx, folder)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::fixtures::{entry, folder, rel};
    use super::*;
    use crate::hash::Digest;
    use crate::journal::CachedHash;
    use crate::manifest::RemoteTree;

    /// A journal with two marked folders; `write` on the first must remove its mark and leave
    /// the other's alone.
    fn clears(what: &str, write: impl FnOnce(&Journal, FolderId)) {
        let j = Journal::open_in_memory().expect("open");
        let f = folder(&j, "/w").id;
        let other = folder(&j, "/other").id;
        let mut tree = RemoteTree::empty("g".into());
        tree.seq = 1;
        j.store_remote_cache(f, &tree).expect("a cached tree");
        j.set_clean_mark(f, "mark").expect("mark");
        j.set_clean_mark(other, "other mark").expect("mark other");
        assert_eq!(j.clean_mark(f).expect("read").as_deref(), Some("mark"));
        write(&j, f);
        assert_eq!(
            j.clean_mark(f).expect("read"),
            None,
            "{what} keeps the mark"
        );
        assert_eq!(
            j.clean_mark(other).expect("read").as_deref(),
            Some("other mark"),
            "{what} removes another folder's mark"
        );
    }

    fn row() -> CachedHash {
        CachedHash {
            size: 1,
            mtime_ns: 5,
            inode: 7,
            sha256: Digest::of(b"x"),
            chunks: Vec::new(),
        }
    }

    #[test]
    fn a_mark_is_kept_until_something_it_describes_changes() {
        let j = Journal::open_in_memory().expect("open");
        let f = folder(&j, "/w").id;
        assert_eq!(j.clean_mark(f).expect("read"), None, "no mark at first");
        j.set_clean_mark(f, "m1").expect("mark");
        j.set_clean_mark(f, "m2").expect("mark again");
        // What a sync plans from is untouched by these.
        j.set_config("seen-head:1", "{}").expect("config");
        j.record_sync(f, 1, None).expect("record sync");
        j.set_paused(f, false).expect("pause");
        j.record_activity(&[(1, "{}".into())]).expect("activity");
        assert_eq!(j.clean_mark(f).expect("read").as_deref(), Some("m2"));
        assert!(
            j.set_clean_mark(FolderId::new(999), "m").is_err(),
            "no mark on an unknown folder"
        );
    }

    #[test]
    fn clearing_the_mark_removes_it() {
        clears("clear_clean_mark", |j, f| {
            j.clear_clean_mark(f).expect("clear")
        });
    }

    #[test]
    fn a_base_change_removes_the_mark() {
        clears("apply_base (upsert)", |j, f| {
            j.apply_base(f, &[entry("a", b"x")], &[]).expect("base")
        });
        clears("apply_base (removal)", |j, f| {
            j.apply_base(f, &[], &[rel("a")]).expect("base")
        });
        clears("reset_base", |j, f| j.reset_base(f).expect("reset"));
    }

    #[test]
    fn a_remote_cache_change_removes_the_mark() {
        clears("store_remote_cache", |j, f| {
            j.store_remote_cache(f, &RemoteTree::empty("g".into()))
                .expect("store")
        });
        clears("apply_remote_entries", |j, f| {
            j.apply_remote_entries(f, "g", 2, &[entry("a", b"x")])
                .expect("apply")
        });
        clears("advance_remote_cache", |j, f| {
            assert!(j
                .advance_remote_cache(f, "g", 1, 2, &[entry("a", b"x")])
                .expect("advance"));
        });
    }

    #[test]
    fn a_scan_cache_change_removes_the_mark() {
        clears("update_scan_cache (upsert)", |j, f| {
            j.update_scan_cache(f, &[(rel("a"), row())], &[])
                .expect("scan cache")
        });
        clears("update_scan_cache (removal)", |j, f| {
            j.update_scan_cache(f, &[], &[rel("a")])
                .expect("scan cache")
        });
    }

    #[test]
    fn an_exclusion_or_position_change_removes_the_mark() {
        clears("set_excluded_paths", |j, f| {
            j.set_excluded_paths(f, &BTreeSet::from([rel("Photos")]))
                .expect("exclude")
        });
        clears("set_excluded_paths (include again)", |j, f| {
            j.set_excluded_paths(f, &BTreeSet::new()).expect("include")
        });
        clears("set_remote_position", |j, f| {
            j.set_remote_position(f, "g", 3).expect("position")
        });
    }

    #[test]
    fn removing_the_folder_removes_its_mark() {
        clears("remove_folder", |j, f| j.remove_folder(f).expect("remove"));
    }
}
