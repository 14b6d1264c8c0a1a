//! Queries of the narrow sync (issue 15): the scan cache's stat data and the base's paths in
//! path order (a merge against a sorted walk, holding nothing per row), and base, remote and
//! scan-cache rows of a few paths or below a folder — indexed lookups on the tables' primary
//! key `(folder_id, path)`, never the whole map.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use rusqlite::{params, Connection, OptionalExtension};

use super::base::decode_entry;
use super::{corrupt, decode_rel, u64_col, CachedHash, Journal, Result};
use crate::hash::Digest;
use crate::ids::FolderId;
use crate::manifest::{ChunkRef, FileEntry};
use crate::rel_path::RelPath;

/// One of the two trees the journal keeps with the same row shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoredTree {
    /// The merge base (`files`).
    Base,
    /// The cached remote tree (`remote_files`).
    Remote,
}

impl StoredTree {
    fn table(self) -> &'static str {
        match self {
            StoredTree::Base => "files",
            StoredTree::Remote => "remote_files",
        }
    }
}

/// A scan-cache row's stat data: (size, modification time, inode).
pub type CachedStat = (u64, i64, u64);

/// The first path after every path below `dir` (`dir` + one past `/`).
fn below_end(dir: &RelPath) -> String {
    format!("{}0", dir.as_str())
}

fn entries_at(
    c: &Connection,
    tree: StoredTree,
    folder: FolderId,
    paths: &BTreeSet<RelPath>,
) -> Result<BTreeMap<RelPath, FileEntry>> {
    let table = tree.table();
    let mut stmt = c.prepare_cached(&format!(
        "SELECT entry FROM {table} WHERE folder_id = ?1 AND path = ?2"
    ))?;
    let mut out = BTreeMap::new();
    for p in paths {
        let json: Option<String> = stmt
            .query_row(params![folder, p.as_str()], |r| r.get(0))
            .optional()?;
        if let Some(json) = json {
            let entry = decode_entry(table, folder, p.as_str(), &json)?;
            if entry.path != *p {
                return Err(corrupt(
                    table,
                    format!("folder {folder}, {:?}", p.as_str()),
                    "row key and entry path differ",
                ));
            }
            out.insert(p.clone(), entry);
        }
    }
    Ok(out)
}

impl Journal {
    /// Fold `step` over the folder's scan-cache rows in path order (byte order), with each
    /// row's stat data; `init` starts the fold (again, should a busy journal retry the read).
    pub fn fold_scan_stats<T: Clone>(
        &self,
        folder: FolderId,
        init: T,
        mut step: impl FnMut(&mut T, &str, CachedStat),
    ) -> Result<T> {
        self.read(&format!("listing the scan cache of folder {folder}"), |c| {
            let mut stmt = c.prepare_cached(
                "SELECT path, size, mtime_ns, inode FROM scan_cache WHERE folder_id = ?1 ORDER BY path",
            )?;
            let mut rows = stmt.query([folder])?;
            let mut acc = init.clone();
            while let Some(r) = rows.next()? {
                let path: String = r.get(0)?;
                let size = u64_col("scan_cache", &path, "size", r.get(1)?)?;
                let inode: i64 = r.get(3)?;
                // Stored as the same 64 bits.
                step(&mut acc, &path, (size, r.get(2)?, inode as u64));
            }
            Ok(acc)
        })
    }

    /// Fold `step` over the paths of the folder's `tree` in path order (byte order).
    pub fn fold_paths<T: Clone>(
        &self,
        folder: FolderId,
        tree: StoredTree,
        init: T,
        mut step: impl FnMut(&mut T, &str),
    ) -> Result<T> {
        let table = tree.table();
        self.read(
            &format!("listing the paths of {table} of folder {folder}"),
            |c| {
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT path FROM {table} WHERE folder_id = ?1 ORDER BY path"
                ))?;
                let mut rows = stmt.query([folder])?;
                let mut acc = init.clone();
                while let Some(r) = rows.next()? {
                    let path: String = r.get(0)?;
                    step(&mut acc, &path);
                }
                Ok(acc)
            },
        )
    }

    /// The entries of `tree` at `paths` (those it has).
    pub fn entries_at(
        &self,
        folder: FolderId,
        tree: StoredTree,
        paths: &BTreeSet<RelPath>,
    ) -> Result<BTreeMap<RelPath, FileEntry>> {
        self.read(&format!("reading entries of folder {folder}"), |c| {
            entries_at(c, tree, folder, paths)
        })
    }

    /// The paths of `tree` below the folder `dir` (a range of the primary key).
    pub fn paths_below(
        &self,
        folder: FolderId,
        tree: StoredTree,
        dir: &RelPath,
    ) -> Result<Vec<RelPath>> {
        let table = tree.table();
        let from = format!("{}/", dir.as_str());
        let to = below_end(dir);
        self.read(&format!("listing below {dir} in folder {folder}"), |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT path FROM {table} WHERE folder_id = ?1 AND path >= ?2 AND path < ?3 ORDER BY path"
            ))?;
            let rows = stmt.query_map(params![folder, from, to], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for row in rows {
                out.push(decode_rel(table, folder, &row?)?);
            }
            Ok(out)
        })
    }

    /// The scan-cache rows of `paths` (those it has).
    pub fn scan_rows_at(
        &self,
        folder: FolderId,
        paths: &BTreeSet<RelPath>,
    ) -> Result<HashMap<RelPath, CachedHash>> {
        self.read(&format!("reading scan-cache rows of folder {folder}"), |c| {
            let mut stmt = c.prepare_cached(
                "SELECT size, mtime_ns, inode, sha256, chunks FROM scan_cache WHERE folder_id = ?1 AND path = ?2",
            )?;
            let mut out = HashMap::new();
            for p in paths {
                let row: Option<(i64, i64, i64, String, String)> = stmt
                    .query_row(params![folder, p.as_str()], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                    })
                    .optional()?;
                let Some((size, mtime_ns, inode, sha, chunks)) = row else {
                    continue;
                };
                let key = format!("folder {folder}, {:?}", p.as_str());
                out.insert(
                    p.clone(),
                    CachedHash {
                        size: u64_col("scan_cache", &key, "size", size)?,
                        mtime_ns,
                        inode: inode as u64,
                        sha256: Digest::from_hex(&sha)
                            .map_err(|e| corrupt("scan_cache", key.clone(), e))?,
                        chunks: serde_json::from_str(&chunks)
                            .map_err(|e| corrupt("scan_cache", key, e))?,
                    },
                );
            }
            Ok(out)
        })
    }

    /// Where the folder's cached remote tree holds each chunk of `wanted`: the first live
    /// file in path order that lists it. A pass over every row (only the chunk lists are
    /// decoded), stopped once all are found: for a narrow sync's upload, whose tree holds
    /// only its own paths, to find a copy of a file that lives elsewhere on the page.
    pub fn remote_chunks_among(
        &self,
        folder: FolderId,
        wanted: &HashSet<Digest>,
    ) -> Result<HashMap<Digest, ChunkRef>> {
        /// What of an entry the pass reads (other fields skipped, not checked).
        #[derive(serde::Deserialize)]
        struct Located {
            #[serde(default)]
            deleted: bool,
            #[serde(default)]
            chunks: Vec<ChunkRef>,
        }
        if wanted.is_empty() {
            return Ok(HashMap::new());
        }
        self.read(
            &format!("looking for chunks in the remote cache of folder {folder}"),
            |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT path, entry FROM remote_files WHERE folder_id = ?1 ORDER BY path",
                )?;
                let mut rows = stmt.query([folder])?;
                let mut found = HashMap::new();
                while let Some(r) = rows.next()? {
                    let json: String = r.get(1)?;
                    let e: Located = serde_json::from_str(&json).map_err(|e| {
                        let path: String = r.get(0).unwrap_or_default();
                        corrupt("remote_files", format!("folder {folder}, {path:?}"), e)
                    })?;
                    if e.deleted {
                        continue;
                    }
                    for c in e.chunks {
                        if wanted.contains(&c.sha256) {
                            found.entry(c.sha256).or_insert(c);
                        }
                    }
                    if found.len() == wanted.len() {
                        break;
                    }
                }
                Ok(found)
            },
        )
    }

    /// The cached remote tree's generation and seq, when there is one.
    pub fn remote_cache_position(&self, folder: FolderId) -> Result<Option<(String, u64)>> {
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
                meta.map(|(g, s)| Ok((g, u64_col("remote_meta", &folder.to_string(), "seq", s)?)))
                    .transpose()
            },
        )
    }

    /// Forget the cached remote tree: the next sync reads the file list in full.
    pub fn forget_remote_cache(&self, folder: FolderId) -> Result<()> {
        self.write(&format!("forget_remote_cache (folder {folder})"), |tx| {
            super::clean::forget(tx, folder)?;
            tx.execute("DELETE FROM remote_files WHERE folder_id = ?1", [folder])?;
            tx.execute("DELETE FROM remote_meta WHERE folder_id = ?1", [folder])?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{entry, folder, rel};
    use super::*;
    use crate::manifest::RemoteTree;

    fn set(paths: &[&str]) -> BTreeSet<RelPath> {
        paths.iter().map(|p| rel(p)).collect()
    }

    #[test]
    fn folds_run_in_byte_order_and_ranges_take_only_what_is_below() {
        let j = Journal::open_in_memory().expect("open");
        let f = folder(&j, "/w").id;
        let names = ["a", "a-b", "a.txt", "a/b", "a/b/c", "ab"];
        let entries: Vec<FileEntry> = names.iter().map(|n| entry(n, b"x")).collect();
        j.apply_base(f, &entries, &[]).expect("base");
        let order = j
            .fold_paths(f, StoredTree::Base, Vec::new(), |v: &mut Vec<String>, p| {
                v.push(p.to_owned())
            })
            .expect("fold");
        let mut sorted: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        sorted.sort();
        assert_eq!(order, sorted, "byte order, as a sorted walk");
        let below: Vec<String> = j
            .paths_below(f, StoredTree::Base, &rel("a"))
            .expect("below")
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(below, ["a/b", "a/b/c"]);
        let at = j
            .entries_at(f, StoredTree::Base, &set(&["a/b", "nope", "ab"]))
            .expect("at");
        assert_eq!(
            at.keys().cloned().collect::<Vec<_>>(),
            [rel("a/b"), rel("ab")]
        );
    }

    #[test]
    fn the_remote_cache_position_reads_and_forgetting_removes_it() {
        let j = Journal::open_in_memory().expect("open");
        let f = folder(&j, "/w").id;
        assert_eq!(j.remote_cache_position(f).expect("read"), None);
        let mut tree = RemoteTree::empty("g".into());
        tree.seq = 4;
        tree.files.insert(rel("a"), entry("a", b"x"));
        j.store_remote_cache(f, &tree).expect("store");
        assert_eq!(
            j.remote_cache_position(f).expect("read"),
            Some(("g".to_string(), 4))
        );
        assert_eq!(
            j.entries_at(f, StoredTree::Remote, &set(&["a"]))
                .expect("at")
                .len(),
            1
        );
        j.set_clean_mark(f, "m").expect("mark");
        j.forget_remote_cache(f).expect("forget");
        assert_eq!(j.remote_cache_position(f).expect("read"), None);
        assert!(j.remote_cache(f).expect("read").is_none());
        assert_eq!(j.clean_mark(f).expect("read"), None, "the mark goes too");
    }

    #[test]
    fn scan_stats_fold_in_order_and_rows_read_by_path() {
        let j = Journal::open_in_memory().expect("open");
        let f = folder(&j, "/w").id;
        let row = |size| CachedHash {
            size,
            mtime_ns: 5,
            inode: u64::MAX,
            sha256: Digest::of(b"x"),
            chunks: Vec::new(),
        };
        j.update_scan_cache(f, &[(rel("b"), row(2)), (rel("a"), row(1))], &[])
            .expect("rows");
        let seen = j
            .fold_scan_stats(f, Vec::new(), |v: &mut Vec<(String, CachedStat)>, p, s| {
                v.push((p.to_owned(), s))
            })
            .expect("fold");
        assert_eq!(
            seen,
            [
                ("a".to_string(), (1, 5, u64::MAX)),
                ("b".to_string(), (2, 5, u64::MAX))
            ]
        );
        let rows = j.scan_rows_at(f, &set(&["b", "c"])).expect("rows");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[&rel("b")], row(2));
    }

    #[test]
    fn chunks_are_found_in_live_remote_entries_the_first_in_path_order() {
        use crate::remote::BlobName;
        let j = Journal::open_in_memory().expect("open");
        let f = folder(&j, "/w").id;
        let chunk = |bytes: &[u8], blob: &str, offset| ChunkRef {
            sha256: Digest::of(bytes),
            size: bytes.len() as u64,
            blob: BlobName::new(blob).expect("name"),
            offset,
        };
        let with = |path: &str, chunks: Vec<ChunkRef>| {
            let mut e = entry(path, b"whatever");
            e.chunks = chunks.into();
            e
        };
        let mut gone = with("a-gone", vec![chunk(b"one", "p-gone", 0)]);
        gone.deleted = true;
        let mut tree = RemoteTree::empty("g".into());
        for e in [
            gone,
            with(
                "b",
                vec![chunk(b"one", "p-1", 10), chunk(b"two", "p-1", 13)],
            ),
            with(
                "c",
                vec![chunk(b"one", "p-2", 0), chunk(b"three", "p-2", 3)],
            ),
        ] {
            tree.files.insert(e.path.clone(), e);
        }
        j.store_remote_cache(f, &tree).expect("store");
        let wanted: HashSet<Digest> = [b"one".as_slice(), b"three", b"nowhere"]
            .iter()
            .map(|b| Digest::of(b))
            .collect();
        let found = j.remote_chunks_among(f, &wanted).expect("pass");
        assert_eq!(found.len(), 2, "what no live entry lists is not found");
        assert_eq!(
            found[&Digest::of(b"one")],
            chunk(b"one", "p-1", 10),
            "the first live file's, not the tombstone's"
        );
        assert_eq!(found[&Digest::of(b"three")], chunk(b"three", "p-2", 3));
        assert!(j
            .remote_chunks_among(f, &HashSet::new())
            .expect("nothing wanted")
            .is_empty());
    }
}
