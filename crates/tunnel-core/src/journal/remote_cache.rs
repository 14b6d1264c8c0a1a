//! The `remote_meta` and `remote_files` tables: the remote tree at the last seen sequence
//! number, so a sync fetches only newer deltas.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};

use super::base::{read_entries_sharing, write_entries};
use super::folders::ensure_folder;
use super::{to_i64, u64_col, Journal, JournalError, Result};
use crate::ids::FolderId;
use crate::manifest::{FileEntry, RemoteTree};
use crate::rel_path::RelPath;

impl Journal {
    /// The cached remote tree of a folder, if any.
    pub fn remote_cache(&self, folder: FolderId) -> Result<Option<RemoteTree>> {
        self.remote_cache_like(folder, None)
    }

    /// [`Journal::remote_cache`], its entries sharing paths and chunk lists with `like`'s.
    pub(super) fn remote_cache_like(
        &self,
        folder: FolderId,
        like: Option<&BTreeMap<RelPath, FileEntry>>,
    ) -> Result<Option<RemoteTree>> {
        self.read(
            &format!("reading the remote cache of folder {folder}"),
            |c| {
                let meta: Option<(String, i64)> = c
                    .query_row(
                        "SELECT generation, seq FROM remote_meta WHERE folder_id = ?1",
                        [folder],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                let Some((generation, seq)) = meta else {
                    return Ok(None);
                };
                let mut tree = RemoteTree::empty(generation);
                tree.seq = u64_col("remote_meta", &folder.to_string(), "seq", seq)?;
                tree.files = read_entries_sharing(c, "remote_files", folder, like)?;
                Ok(Some(tree))
            },
        )
    }

    /// Replace the cached remote tree of a folder.
    pub fn store_remote_cache(&self, folder: FolderId, tree: &RemoteTree) -> Result<()> {
        let seq = to_i64("seq", tree.seq)?;
        self.write(&format!("store_remote_cache (folder {folder})"), |tx| {
            ensure_folder(tx, folder)?;
            super::clean::forget(tx, folder)?;
            tx.execute("DELETE FROM remote_files WHERE folder_id = ?1", [folder])?;
            tx.execute(
                "INSERT OR REPLACE INTO remote_meta (folder_id, generation, seq) VALUES (?1, ?2, ?3)",
                params![folder, tree.generation, seq],
            )?;
            write_entries(tx, "remote_files", folder, tree.files.values(), &[])
        })
    }

    /// Apply newer entries to the cached remote tree and move it to `seq`. The cache must
    /// exist and be of `generation` (else use [`Journal::store_remote_cache`]).
    pub fn apply_remote_entries(
        &self,
        folder: FolderId,
        generation: &str,
        seq: u64,
        entries: &[FileEntry],
    ) -> Result<()> {
        let seq = to_i64("seq", seq)?;
        self.write(&format!("apply_remote_entries (folder {folder})"), |tx| {
            ensure_folder(tx, folder)?;
            let cached: Option<String> = tx
                .query_row(
                    "SELECT generation FROM remote_meta WHERE folder_id = ?1",
                    [folder],
                    |r| r.get(0),
                )
                .optional()?;
            match cached {
                Some(g) if g == generation => {}
                other => {
                    return Err(JournalError::GenerationMismatch {
                        folder,
                        cached: other.unwrap_or_else(|| "(none)".into()),
                        given: generation.to_string(),
                    })
                }
            }
            super::clean::forget(tx, folder)?;
            tx.execute(
                "UPDATE remote_meta SET seq = ?1 WHERE folder_id = ?2",
                params![seq, folder],
            )?;
            write_entries(tx, "remote_files", folder, entries, &[])
        })
    }

    /// Move the cached remote tree from `from_seq` to `seq` by writing only `entries` (what
    /// the deltas in between changed, in order), when the cache holds exactly `generation` at
    /// `from_seq`; returns whether it did. Otherwise nothing is written and the caller stores
    /// the whole tree ([`Journal::store_remote_cache`]). One changed file among 100,000 so
    /// costs one row, not a rewrite of every row (issue 15).
    pub fn advance_remote_cache(
        &self,
        folder: FolderId,
        generation: &str,
        from_seq: u64,
        seq: u64,
        entries: &[FileEntry],
    ) -> Result<bool> {
        let from = to_i64("seq", from_seq)?;
        let to = to_i64("seq", seq)?;
        self.write(&format!("advance_remote_cache (folder {folder})"), |tx| {
            let cached: Option<(String, i64)> = tx
                .query_row(
                    "SELECT generation, seq FROM remote_meta WHERE folder_id = ?1",
                    [folder],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if cached.as_ref() != Some(&(generation.to_string(), from)) {
                return Ok(false);
            }
            super::clean::forget(tx, folder)?;
            tx.execute(
                "UPDATE remote_meta SET seq = ?1 WHERE folder_id = ?2",
                params![to, folder],
            )?;
            write_entries(tx, "remote_files", folder, entries, &[])?;
            Ok(true)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{entry, folder, rel};
    use super::*;

    #[test]
    fn remote_cache_full_and_incremental() {
        let j = Journal::open_in_memory().expect("open");
        let f = folder(&j, "/w");
        assert!(j.remote_cache(f.id).expect("read").is_none());
        let mut tree = RemoteTree::empty("gen-a".into());
        tree.seq = 3;
        tree.files.insert(rel("a"), entry("a", b"a"));
        let mut tomb = entry("gone", b"");
        tomb.deleted = true;
        tree.files.insert(rel("gone"), tomb);
        j.store_remote_cache(f.id, &tree).expect("store");
        assert_eq!(j.remote_cache(f.id).expect("read"), Some(tree.clone()));

        let mut a2 = entry("a", b"a2");
        a2.version = 2;
        j.apply_remote_entries(f.id, "gen-a", 4, &[a2.clone(), entry("b", b"b")])
            .expect("incremental");
        let got = j.remote_cache(f.id).expect("read").expect("exists");
        assert_eq!(got.seq, 4);
        assert_eq!(got.files.len(), 3);
        assert_eq!(got.files[&rel("a")], a2);
        assert!(got.files[&rel("gone")].deleted, "tombstones are kept");

        let err = j
            .apply_remote_entries(f.id, "gen-b", 5, &[])
            .expect_err("other generation");
        assert!(matches!(err, JournalError::GenerationMismatch { .. }));

        // Advancing needs the cache at exactly the generation and seq it starts from.
        let b2 = entry("b", b"b2");
        assert!(
            !j.advance_remote_cache(f.id, "gen-a", 3, 5, std::slice::from_ref(&b2))
                .expect("advance"),
            "the cache is at 4, not 3: nothing written"
        );
        assert!(
            !j.advance_remote_cache(f.id, "gen-x", 4, 5, std::slice::from_ref(&b2))
                .expect("advance"),
            "another generation: nothing written"
        );
        assert_eq!(j.remote_cache(f.id).expect("read"), Some(got.clone()));
        assert!(j
            .advance_remote_cache(f.id, "gen-a", 4, 5, std::slice::from_ref(&b2))
            .expect("advance"));
        let advanced = j.remote_cache(f.id).expect("read").expect("exists");
        assert_eq!(advanced.seq, 5);
        assert_eq!(advanced.files.len(), 3, "only b's row changed");
        assert_eq!(advanced.files[&rel("b")], b2);
        assert_eq!(advanced.files[&rel("a")], a2, "other rows untouched");

        // A full store replaces everything.
        let fresh = RemoteTree::empty("gen-b".into());
        j.store_remote_cache(f.id, &fresh).expect("store");
        assert_eq!(j.remote_cache(f.id).expect("read"), Some(fresh));
    }
}
