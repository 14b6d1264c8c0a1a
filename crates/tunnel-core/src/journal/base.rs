//! The `files` table: the merge base (synced tree) of each folder, and the row codec it
//! shares with `remote_files`.

use std::collections::BTreeMap;

use rusqlite::{params, Connection};

use super::folders::ensure_folder;
use super::{corrupt, decode_rel, Journal, Result};
use crate::ids::FolderId;
use crate::manifest::FileEntry;
use crate::rel_path::RelPath;
use crate::remote::BlobNames;

impl Journal {
    /// The merge base (synced tree) of a folder.
    pub fn base(&self, folder: FolderId) -> Result<BTreeMap<RelPath, FileEntry>> {
        self.read(&format!("reading the base of folder {folder}"), |c| {
            read_entries(c, "files", folder)
        })
    }

    /// The base of a folder and its cached remote tree, read in that order, the tree's
    /// entries sharing their paths and chunk lists with the base's where they agree (see
    /// [`read_entries_sharing`]).
    pub fn base_and_remote_cache(
        &self,
        folder: FolderId,
    ) -> Result<(
        BTreeMap<RelPath, FileEntry>,
        Option<crate::manifest::RemoteTree>,
    )> {
        let base = self.base(folder)?;
        let tree = self.remote_cache_like(folder, Some(&base))?;
        Ok((base, tree))
    }

    /// Upsert and remove base entries in one transaction.
    pub fn apply_base(
        &self,
        folder: FolderId,
        upserts: &[FileEntry],
        removals: &[RelPath],
    ) -> Result<()> {
        self.apply_base_from(folder, upserts, removals)
    }

    /// [`Journal::apply_base`] for entries held elsewhere (a plan's downloads, lent to the
    /// journal thread: 100,000 of them are not copied into a list of their own, issue 15).
    /// `upserts` is gone through again if the write is retried.
    pub fn apply_base_from<'e>(
        &self,
        folder: FolderId,
        upserts: impl IntoIterator<Item = &'e FileEntry> + Clone,
        removals: &[RelPath],
    ) -> Result<()> {
        self.write(&format!("apply_base (folder {folder})"), |tx| {
            ensure_folder(tx, folder)?;
            super::clean::forget(tx, folder)?;
            write_entries(tx, "files", folder, upserts.clone(), removals)
        })
    }

    /// Forget the whole base of a folder (the next sync starts from scratch).
    pub fn reset_base(&self, folder: FolderId) -> Result<()> {
        self.write(&format!("reset_base (folder {folder})"), |tx| {
            tx.execute("DELETE FROM files WHERE folder_id = ?1", [folder])?;
            super::clean::forget(tx, folder)
        })
    }
}

pub(super) fn decode_entry(
    table: &'static str,
    folder: FolderId,
    path: &str,
    json: &str,
) -> Result<FileEntry> {
    serde_json::from_str(json).map_err(|e| corrupt(table, format!("folder {folder}, {path:?}"), e))
}

fn encode_entry(entry: &FileEntry) -> Result<String> {
    serde_json::to_string(entry).map_err(|e| corrupt("files", entry.path.to_string(), e))
}

/// `table` is `files` or `remote_files` (same shape).
pub(super) fn read_entries(
    c: &Connection,
    table: &'static str,
    folder: FolderId,
) -> Result<BTreeMap<RelPath, FileEntry>> {
    read_entries_sharing(c, table, folder, None)
}

/// [`read_entries`], each entry sharing its path and chunk list with the entry of the same
/// path in `like` where that entry holds the same chunks: the base and the remote tree
/// describe mostly the same files, and a full sync holds both (issue 15: 11 MB of a full
/// sync of 100,000 files was the second copy of each path and chunk list).
pub(super) fn read_entries_sharing(
    c: &Connection,
    table: &'static str,
    folder: FolderId,
    like: Option<&BTreeMap<RelPath, FileEntry>>,
) -> Result<BTreeMap<RelPath, FileEntry>> {
    // Built in batches (see `crate::bulk_map`): full nodes, without a list of every row and
    // its sort's room beside the map (half again its size, at the peak of a full sync).
    let mut out = crate::bulk_map::BulkMap::with_expected(super::folder_rows(c, table, folder)?);
    let sql = format!("SELECT path, entry FROM {table} WHERE folder_id = ?1");
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map([folder], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut names = BlobNames::default();
    for row in rows {
        let (path, json) = row?;
        let rel = decode_rel(table, folder, &path)?;
        let mut entry = decode_entry(table, folder, &path, &json)?;
        if entry.path != rel {
            return Err(corrupt(
                table,
                format!("folder {folder}, {path:?}"),
                "row key and entry path differ",
            ));
        }
        match like.and_then(|m| m.get_key_value(&rel)) {
            Some((key, same)) => {
                entry.path = key.clone();
                if same.chunks == entry.chunks {
                    entry.chunks = same.chunks.clone();
                } else {
                    entry.share_blob_names(&mut names);
                }
            }
            None => entry.share_blob_names(&mut names),
        }
        // The key shares the entry's path text.
        out.push(entry.path.clone(), entry);
    }
    Ok(out.finish())
}

/// `table` is `files` or `remote_files` (same shape). `upserts` is borrowed (a slice, or a
/// whole tree's values without a copy of them).
pub(super) fn write_entries<'a>(
    tx: &Connection,
    table: &'static str,
    folder: FolderId,
    upserts: impl IntoIterator<Item = &'a FileEntry>,
    removals: &[RelPath],
) -> Result<()> {
    let mut del = tx.prepare_cached(&format!(
        "DELETE FROM {table} WHERE folder_id = ?1 AND path = ?2"
    ))?;
    for path in removals {
        del.execute(params![folder, path.as_str()])?;
    }
    let mut put = tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO {table} (folder_id, path, entry) VALUES (?1, ?2, ?3)"
    ))?;
    for entry in upserts {
        put.execute(params![folder, entry.path.as_str(), encode_entry(entry)?])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{entry, folder, rel};
    use super::super::JournalError;
    use super::*;
    use crate::manifest::EntryKind;
    use std::sync::Arc;

    /// `entry` with one chunk in blob `blob`.
    fn stored(path: &str, content: &[u8], blob: &str) -> FileEntry {
        let mut e = entry(path, content);
        e.chunks = vec![crate::manifest::ChunkRef {
            sha256: e.sha256.expect("a file"),
            size: e.size,
            blob: crate::remote::BlobName::new(blob.to_string()).expect("blob name"),
            offset: 0,
        }]
        .into();
        e
    }

    #[test]
    fn a_remote_cache_read_with_the_base_shares_what_they_agree_on() {
        // Issue 15: a full sync holds the base and the remote tree, which mostly describe the
        // same files; read together, the tree's entries share the base's path and chunk list
        // where the chunks agree, and read exactly as they read alone.
        let j = Journal::open_in_memory().expect("open");
        let f = folder(&j, "/w");
        j.apply_base(
            f.id,
            &[stored("same", b"s", "c-1"), stored("edited", b"old", "c-2")],
            &[],
        )
        .expect("base");
        let mut tree = crate::manifest::RemoteTree::empty("g".into());
        tree.seq = 7;
        for e in [
            stored("same", b"s", "c-1"),
            stored("edited", b"new", "c-3"),
            stored("remote-only", b"r", "c-4"),
        ] {
            tree.files.insert(e.path.clone(), e);
        }
        j.store_remote_cache(f.id, &tree).expect("store");

        let (base, cached) = j.base_and_remote_cache(f.id).expect("read");
        let cached = cached.expect("a cache");
        assert_eq!(cached, tree, "the tree reads as it was stored");
        assert_eq!(Some(&cached), j.remote_cache(f.id).expect("read").as_ref());
        assert_eq!(base, j.base(f.id).expect("base"));
        let parts = |m: &BTreeMap<RelPath, FileEntry>, p: &str| {
            let (k, e) = m.get_key_value(&rel(p)).expect("entry");
            (
                k.as_str().as_ptr(),
                e.path.as_str().as_ptr(),
                Arc::as_ptr(&e.chunks) as *const u8,
            )
        };
        let (bk, bp, bc) = parts(&base, "same");
        let (ck, cp, cc) = parts(&cached.files, "same");
        assert_eq!(bk, bp, "a key shares its entry's path");
        assert_eq!((ck, cp), (bk, bk), "the tree's key and path are the base's");
        assert_eq!(cc, bc, "the same chunks: one list");
        let (bk, _, bc) = parts(&base, "edited");
        let (ck, cp, cc) = parts(&cached.files, "edited");
        assert_eq!(
            (ck, cp),
            (bk, bk),
            "the path is shared whatever the content"
        );
        assert_ne!(cc, bc, "other chunks: a list of its own");
    }

    #[test]
    fn a_base_read_in_batches_is_the_whole_base() {
        // Issue 15: rows are merged into the map in batches (at least 4,096 rows each); rows
        // come in whatever order the table gives, so batches interleave.
        let j = Journal::open_in_memory().expect("open");
        let f = folder(&j, "/w");
        let n = 10_007u64;
        // Written in a scattered order (a multiplier prime to n walks every index once).
        let entries: Vec<FileEntry> = (0..n)
            .map(|i| (i * 7_919) % n)
            .map(|k| stored(&format!("d{}/f{k:05}", k % 13), &k.to_le_bytes(), "c-1"))
            .collect();
        j.apply_base(f.id, &entries, &[]).expect("base");
        let expected: BTreeMap<RelPath, FileEntry> = entries
            .iter()
            .map(|e| (e.path.clone(), e.clone()))
            .collect();
        let got = j.base(f.id).expect("read");
        assert_eq!(got.len(), n as usize);
        assert_eq!(got, expected);
        let (base, _) = j.base_and_remote_cache(f.id).expect("read");
        assert_eq!(base, expected);
    }

    #[test]
    fn base_round_trip_upsert_remove_reset() {
        let j = Journal::open_in_memory().expect("open");
        let f = folder(&j, "/w");
        let mut dir = entry("d", b"");
        dir.kind = EntryKind::Dir;
        dir.sha256 = None;
        j.apply_base(
            f.id,
            &[entry("d/a.txt", b"a"), entry("b.txt", b"b"), dir.clone()],
            &[],
        )
        .expect("apply");
        let base = j.base(f.id).expect("base");
        assert_eq!(base.len(), 3);
        assert_eq!(base[&rel("d")], dir);
        assert_eq!(base[&rel("d/a.txt")], entry("d/a.txt", b"a"));
        let mut changed = entry("b.txt", b"bb");
        changed.version = 2;
        j.apply_base(f.id, &[changed.clone()], &[rel("d/a.txt")])
            .expect("apply 2");
        let base = j.base(f.id).expect("base");
        assert_eq!(
            base.keys().cloned().collect::<Vec<_>>(),
            vec![rel("b.txt"), rel("d")]
        );
        assert_eq!(base[&rel("b.txt")], changed);
        assert!(matches!(
            j.apply_base(FolderId::new(42), &[entry("x", b"x")], &[]),
            Err(JournalError::UnknownFolder(id)) if id == FolderId::new(42)
        ));
        j.reset_base(f.id).expect("reset");
        assert!(j.base(f.id).expect("base").is_empty());
    }

    #[test]
    fn failing_apply_base_leaves_nothing_half_written() {
        let j = Journal::open_in_memory().expect("open");
        let f = folder(&j, "/w");
        j.apply_base(f.id, &[entry("keep", b"1")], &[])
            .expect("apply");
        // Make the third row of the batch fail inside SQLite.
        j.conn
            .execute_batch(
                "CREATE TEMP TRIGGER fail_c BEFORE INSERT ON files WHEN NEW.path = 'c' \
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
            )
            .expect("trigger");
        let err = j
            .apply_base(
                f.id,
                &[entry("a", b"a"), entry("b", b"b"), entry("c", b"c")],
                &[rel("keep")],
            )
            .expect_err("the trigger aborts the batch");
        assert!(
            err.to_string().contains("apply_base (folder"),
            "context names the operation: {err}"
        );
        let base = j.base(f.id).expect("base");
        assert_eq!(
            base.keys().cloned().collect::<Vec<_>>(),
            vec![rel("keep")],
            "neither the removal nor the first upserts survived"
        );
    }
}
