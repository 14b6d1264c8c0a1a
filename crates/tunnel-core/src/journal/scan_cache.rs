//! The `scan_cache` table: hashes of local files keyed by (size, mtime, inode), so unchanged
//! files are never re-read.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{params, OptionalExtension};

use super::folders::ensure_folder;
use super::{corrupt, decode_rel, to_i64, u64_col, Journal, Result};
use crate::chunk::ChunkHash;
use crate::hash::Digest;
use crate::ids::FolderId;
use crate::rel_path::RelPath;

/// Cached hash of a local file, valid while (size, mtime, inode) are unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedHash {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i64,
    /// Inode number (0 where unknown).
    pub inode: u64,
    /// SHA-256 of the whole file.
    pub sha256: Digest,
    /// Chunk hashes in order.
    pub chunks: Vec<ChunkHash>,
}

/// Scan-cache rows read back by path ([`Journal::scan_cache_rows`]): a list sorted by path,
/// each row taken out once. A table keyed by path cost twice the rows (2,097,152 buckets of
/// 89 bytes for the 1,000,000 files of a first sync, beside its plan, issue 15).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScanRows(Vec<(RelPath, Option<CachedHash>)>);

impl ScanRows {
    fn new(mut rows: Vec<(RelPath, Option<CachedHash>)>) -> ScanRows {
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        rows.dedup_by(|a, b| a.0 == b.0);
        rows.shrink_to_fit();
        ScanRows(rows)
    }

    fn slot(&self, path: &RelPath) -> Option<usize> {
        self.0.binary_search_by(|(p, _)| p.cmp(path)).ok()
    }

    /// The row of `path`, unless it was taken.
    pub fn get(&self, path: &RelPath) -> Option<&CachedHash> {
        self.slot(path).and_then(|i| self.0[i].1.as_ref())
    }

    /// The row of `path`, taken out (a second take finds nothing).
    pub fn take(&mut self, path: &RelPath) -> Option<CachedHash> {
        let i = self.slot(path)?;
        self.0[i].1.take()
    }

    /// How many paths had a row.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No path had a row.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Journal {
    /// The scan cache of a folder.
    pub fn scan_cache(&self, folder: FolderId) -> Result<HashMap<RelPath, CachedHash>> {
        self.scan_cache_sharing(folder, &BTreeMap::<RelPath, ()>::new())
    }

    /// [`Journal::scan_cache`], each row's path sharing its text with the key of the same
    /// path in `paths` (the base: a full sync holds both, issue 15).
    pub fn scan_cache_sharing<V>(
        &self,
        folder: FolderId,
        paths: &BTreeMap<RelPath, V>,
    ) -> Result<HashMap<RelPath, CachedHash>> {
        self.read(&format!("reading the scan cache of folder {folder}"), |c| {
            // Sized once (a table grown by doubling holds the old one beside the new while
            // it grows).
            let mut out = HashMap::with_capacity(super::folder_rows(c, "scan_cache", folder)?);
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ROW_COLUMNS} FROM scan_cache WHERE folder_id = ?1"
            ))?;
            let rows = stmt.query_map([folder], read_row)?;
            for row in rows {
                let (rel, hash) = decode_row(folder, row?)?;
                let rel = paths.get_key_value(&rel).map_or(rel, |(k, _)| k.clone());
                out.insert(rel, hash);
            }
            Ok(out)
        })
    }

    /// The rows of `paths` (those the cache holds), each looked up alone: a sync reads the
    /// rows of the files it sends when it sends them, not the whole cache beside its plan
    /// (issue 15).
    pub fn scan_cache_rows(&self, folder: FolderId, paths: &[RelPath]) -> Result<ScanRows> {
        self.read(
            &format!("reading scan-cache rows of folder {folder}"),
            |c| {
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT {ROW_COLUMNS} FROM scan_cache WHERE folder_id = ?1 AND path = ?2"
                ))?;
                let mut rows = Vec::with_capacity(paths.len());
                for p in paths {
                    if let Some(row) = stmt
                        .query_row(params![folder, p.as_str()], read_row)
                        .optional()?
                    {
                        let (_, hash) = decode_row(folder, row)?;
                        rows.push((p.clone(), Some(hash)));
                    }
                }
                Ok(ScanRows::new(rows))
            },
        )
    }

    /// Upsert and remove scan-cache rows in one transaction.
    pub fn update_scan_cache(
        &self,
        folder: FolderId,
        upserts: &[(RelPath, CachedHash)],
        removals: &[RelPath],
    ) -> Result<()> {
        self.update_scan_cache_from(folder, upserts.iter().map(|(p, h)| (p, h)), removals)
    }

    /// [`Journal::update_scan_cache`] for rows held elsewhere (a scan's, lent to the journal
    /// thread: not copied into a list of their own). `upserts` is gone through again if the
    /// write is retried.
    pub fn update_scan_cache_from<'r>(
        &self,
        folder: FolderId,
        upserts: impl IntoIterator<Item = (&'r RelPath, &'r CachedHash)> + Clone,
        removals: &[RelPath],
    ) -> Result<()> {
        self.write(&format!("update_scan_cache (folder {folder})"), |tx| {
            ensure_folder(tx, folder)?;
            super::clean::forget(tx, folder)?;
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO scan_cache (folder_id, path, size, mtime_ns, inode, sha256, chunks) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for (path, h) in upserts.clone() {
                let chunks = serde_json::to_string(&h.chunks)
                    .map_err(|e| corrupt("scan_cache", path.to_string(), e))?;
                put.execute(params![
                    folder,
                    path.as_str(),
                    to_i64("size", h.size)?,
                    h.mtime_ns,
                    // The same 64 bits; inode numbers above i64::MAX exist on some file systems.
                    h.inode as i64,
                    h.sha256.to_hex(),
                    chunks
                ])?;
            }
            let mut del =
                tx.prepare_cached("DELETE FROM scan_cache WHERE folder_id = ?1 AND path = ?2")?;
            for path in removals {
                del.execute(params![folder, path.as_str()])?;
            }
            Ok(())
        })
    }
}

/// A row's columns as stored: path, size, mtime, inode, SHA-256 (hex), chunks (JSON).
type Row = (String, i64, i64, i64, String, String);

/// The columns [`read_row`] reads, in its order.
const ROW_COLUMNS: &str = "path, size, mtime_ns, inode, sha256, chunks";

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn decode_row(folder: FolderId, row: Row) -> Result<(RelPath, CachedHash)> {
    let (path, size, mtime_ns, inode, sha, chunks) = row;
    let key = format!("folder {folder}, {path:?}");
    let rel = decode_rel("scan_cache", folder, &path)?;
    let mut hash = CachedHash {
        size: u64_col("scan_cache", &key, "size", size)?,
        mtime_ns,
        // Stored as the same 64 bits.
        inode: inode as u64,
        sha256: Digest::from_hex(&sha).map_err(|e| corrupt("scan_cache", key.clone(), e))?,
        chunks: serde_json::from_str(&chunks).map_err(|e| corrupt("scan_cache", key, e))?,
    };
    // No spare room (a parsed list of one chunk holds room for four).
    hash.chunks.shrink_to_fit();
    Ok((rel, hash))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{folder, rel};
    use super::*;

    #[test]
    fn scan_cache_round_trip() {
        let j = Journal::open_in_memory().expect("open");
        let f = folder(&j, "/w");
        let h = CachedHash {
            size: 10,
            mtime_ns: -5,
            inode: u64::MAX - 1,
            sha256: Digest::of(b"x"),
            chunks: vec![ChunkHash {
                sha256: Digest::of(b"x"),
                size: 10,
            }],
        };
        j.update_scan_cache(f.id, &[(rel("a"), h.clone()), (rel("b"), h.clone())], &[])
            .expect("update");
        let got = j.scan_cache(f.id).expect("read");
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[&rel("a")],
            h,
            "large inode numbers survive the i64 column"
        );
        j.update_scan_cache(f.id, &[], &[rel("a")]).expect("remove");
        assert_eq!(
            j.scan_cache(f.id)
                .expect("read")
                .keys()
                .cloned()
                .collect::<Vec<_>>(),
            vec![rel("b")]
        );
        let mut other = h.clone();
        other.size = 11;
        j.update_scan_cache(f.id, &[(rel("c"), other.clone())], &[])
            .expect("update");
        let mut rows = j
            .scan_cache_rows(f.id, &[rel("c"), rel("a"), rel("b"), rel("c")])
            .expect("rows");
        assert_eq!(rows.len(), 2, "the rows asked for that the cache holds");
        assert_eq!(rows.get(&rel("a")), None);
        assert_eq!(rows.get(&rel("b")), Some(&h), "each as stored");
        assert_eq!(rows.take(&rel("c")), Some(other));
        assert_eq!(rows.take(&rel("c")), None, "a row is taken once");
        assert_eq!(rows.get(&rel("b")), Some(&h), "the others stay");
        assert!(j.scan_cache_rows(f.id, &[]).expect("rows").is_empty());
    }
}
