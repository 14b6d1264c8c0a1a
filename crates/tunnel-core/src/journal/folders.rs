//! The `dirs` table: tracked folders and their position on the remote.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use super::{to_i64, u64_col, Journal, JournalError, Result};
use crate::clock::unix_now;
use crate::ids::{FolderId, PageId};

/// A tracked folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderRecord {
    /// Row id.
    pub id: FolderId,
    /// Absolute path of the folder.
    pub path: PathBuf,
    /// Confluence page id holding it.
    pub page_id: PageId,
    /// Random id of this folder (written into the folder's marker file).
    pub folder_uuid: String,
    /// Sync paused by the user.
    pub paused: bool,
    /// Remote generation last synced with (`None`: never synced).
    pub generation: Option<String>,
    /// Remote sequence number last synced with.
    pub seq: Option<u64>,
    /// End of the last sync, Unix seconds.
    pub last_sync_at: Option<i64>,
    /// Error of the last sync (`None` when it succeeded).
    pub last_error: Option<String>,
}

fn path_text(path: &Path) -> Result<&str> {
    if !path.is_absolute() {
        return Err(JournalError::BadFolderPath {
            path: path.to_owned(),
            reason: "a synced folder must be an absolute path",
        });
    }
    path.to_str().ok_or_else(|| JournalError::BadFolderPath {
        path: path.to_owned(),
        reason: "the folder path is not valid UTF-8",
    })
}

impl Journal {
    /// Start tracking `path` (absolute) synced through page `page_id`. Refuses a folder that
    /// is already tracked, inside a tracked folder, or containing one.
    pub fn add_folder(&self, path: &Path, page_id: &PageId) -> Result<FolderRecord> {
        let text = path_text(path)?;
        let what = format!("adding folder {}", path.display());
        let id = self.write(&what, |tx| {
            for existing in folders_in(tx)? {
                if existing.path == path {
                    return Err(JournalError::AlreadyTracked {
                        path: path.to_owned(),
                    });
                }
                if path.starts_with(&existing.path) || existing.path.starts_with(path) {
                    return Err(JournalError::Overlap {
                        path: path.to_owned(),
                        existing: existing.path,
                    });
                }
            }
            tx.execute(
                "INSERT INTO dirs (path, page_id, folder_uuid, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![text, page_id, uuid::Uuid::new_v4().to_string(), unix_now()],
            )?;
            Ok(FolderId::new(tx.last_insert_rowid()))
        })?;
        self.folder(id)?.ok_or(JournalError::UnknownFolder(id))
    }

    /// Stop tracking a folder and drop all its rows (base, caches, ops).
    pub fn remove_folder(&self, id: FolderId) -> Result<()> {
        self.write(&format!("removing folder {id}"), |tx| {
            let n = tx.execute("DELETE FROM dirs WHERE id = ?1", [id])?;
            if n == 0 {
                return Err(JournalError::UnknownFolder(id));
            }
            super::clean::forget(tx, id)
        })
    }

    /// Every tracked folder, by id.
    pub fn folders(&self) -> Result<Vec<FolderRecord>> {
        self.read("listing folders", folders_in)
    }

    /// One folder by id.
    pub fn folder(&self, id: FolderId) -> Result<Option<FolderRecord>> {
        self.read(&format!("reading folder {id}"), |c| {
            Ok(folders_in(c)?.into_iter().find(|f| f.id == id))
        })
    }

    /// One folder by its exact path.
    pub fn folder_by_path(&self, path: &Path) -> Result<Option<FolderRecord>> {
        self.read(&format!("reading folder {}", path.display()), |c| {
            Ok(folders_in(c)?.into_iter().find(|f| f.path == path))
        })
    }

    fn update_folder(
        &self,
        id: FolderId,
        what: &str,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<()> {
        self.write(&format!("{what} (folder {id})"), |tx| {
            let mut all: Vec<&dyn rusqlite::ToSql> = args.to_vec();
            all.push(&id);
            if tx.execute(sql, all.as_slice())? == 0 {
                return Err(JournalError::UnknownFolder(id));
            }
            Ok(())
        })
    }

    /// Pause or resume a folder.
    pub fn set_paused(&self, id: FolderId, paused: bool) -> Result<()> {
        self.update_folder(
            id,
            "set_paused",
            "UPDATE dirs SET paused = ?1 WHERE id = ?2",
            &[&paused],
        )
    }

    /// Record the remote generation and sequence number the folder is synced with.
    pub fn set_remote_position(&self, id: FolderId, generation: &str, seq: u64) -> Result<()> {
        let seq = to_i64("seq", seq)?;
        self.write(&format!("set_remote_position (folder {id})"), |tx| {
            let n = tx.execute(
                "UPDATE dirs SET generation = ?1, seq = ?2 WHERE id = ?3",
                rusqlite::params![generation, seq, id],
            )?;
            if n == 0 {
                return Err(JournalError::UnknownFolder(id));
            }
            super::clean::forget(tx, id)
        })
    }

    /// Record the end of a sync (`error: None` clears the last error).
    pub fn record_sync(&self, id: FolderId, at_unix: i64, error: Option<&str>) -> Result<()> {
        self.update_folder(
            id,
            "record_sync",
            "UPDATE dirs SET last_sync_at = ?1, last_error = ?2 WHERE id = ?3",
            &[&at_unix, &error],
        )
    }
}

pub(super) fn ensure_folder(c: &Connection, folder: FolderId) -> Result<()> {
    let found: Option<i64> = c
        .query_row("SELECT id FROM dirs WHERE id = ?1", [folder], |r| r.get(0))
        .optional()?;
    found.map(|_| ()).ok_or(JournalError::UnknownFolder(folder))
}

fn folders_in(c: &Connection) -> Result<Vec<FolderRecord>> {
    let mut stmt = c.prepare_cached(
        "SELECT id, path, page_id, folder_uuid, paused, generation, seq, last_sync_at, last_error \
         FROM dirs ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, FolderId>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, PageId>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, bool>(4)?,
            r.get::<_, Option<String>>(5)?,
            r.get::<_, Option<i64>>(6)?,
            r.get::<_, Option<i64>>(7)?,
            r.get::<_, Option<String>>(8)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, path, page_id, folder_uuid, paused, generation, seq, last_sync_at, last_error) =
            row?;
        let seq = match seq {
            Some(s) => Some(u64_col("dirs", &format!("folder {id}"), "seq", s)?),
            None => None,
        };
        out.push(FolderRecord {
            id,
            path: PathBuf::from(path),
            page_id,
            folder_uuid,
            paused,
            generation,
            seq,
            last_sync_at,
            last_error,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{entry, folder, page, rel};
    use super::*;
    use crate::manifest::RemoteTree;
    use crate::remote::{BlobInfo, BlobName};

    #[test]
    fn folders_round_trip_and_refuse_overlaps() {
        let j = Journal::open_in_memory().expect("open");
        let a = folder(&j, "/data/work");
        assert_eq!(a.page_id.as_str(), "12345");
        assert!(!a.paused);
        assert_eq!(
            (a.generation.clone(), a.seq, a.last_sync_at),
            (None, None, None)
        );
        assert!(uuid::Uuid::parse_str(&a.folder_uuid).is_ok());
        assert!(matches!(
            j.add_folder(&crate::paths::test_abs("/data/work"), &page("1")),
            Err(JournalError::AlreadyTracked { .. })
        ));
        assert!(matches!(
            j.add_folder(&crate::paths::test_abs("/data/work/sub"), &page("1")),
            Err(JournalError::Overlap { .. })
        ));
        assert!(matches!(
            j.add_folder(&crate::paths::test_abs("/data"), &page("1")),
            Err(JournalError::Overlap { .. })
        ));
        assert!(matches!(
            j.add_folder(Path::new("relative"), &page("1")),
            Err(JournalError::BadFolderPath { .. })
        ));
        let b = folder(&j, "/data/work2");
        assert_ne!(a.folder_uuid, b.folder_uuid);
        assert_eq!(
            j.folders().expect("list").len(),
            2,
            "a sibling with a common prefix is fine"
        );

        j.set_paused(a.id, true).expect("pause");
        j.set_remote_position(a.id, "gen-1", 7).expect("position");
        j.record_sync(a.id, 1_700_000_000, Some("boom"))
            .expect("record");
        let got = j.folder(a.id).expect("read").expect("exists");
        assert!(got.paused);
        assert_eq!(got.generation.as_deref(), Some("gen-1"));
        assert_eq!(got.seq, Some(7));
        assert_eq!(got.last_sync_at, Some(1_700_000_000));
        assert_eq!(got.last_error.as_deref(), Some("boom"));
        j.record_sync(a.id, 1_700_000_100, None).expect("record ok");
        assert_eq!(
            j.folder(a.id).expect("read").expect("exists").last_error,
            None
        );

        assert!(matches!(
            j.set_paused(FolderId::new(999), true),
            Err(JournalError::UnknownFolder(id)) if id == FolderId::new(999)
        ));
        assert!(j.folder(FolderId::new(999)).expect("read").is_none());
    }

    #[test]
    fn remove_folder_drops_all_rows() {
        let j = Journal::open_in_memory().expect("open");
        let f = folder(&j, "/w");
        j.apply_base(f.id, &[entry("a", b"a")], &[]).expect("base");
        let mut tree = RemoteTree::empty("g".into());
        tree.files.insert(rel("a"), entry("a", b"a"));
        j.store_remote_cache(f.id, &tree).expect("cache");
        j.push_op(f.id, "upload", &serde_json::json!({"p": "a"}))
            .expect("op");
        j.add_known_blobs(
            f.id,
            &[BlobInfo {
                name: BlobName::new("c-1").expect("name"),
                id: "att1".into(),
                size: 1,
                version: 1,
                modified_ms: None,
            }],
        )
        .expect("blobs");
        j.remove_folder(f.id).expect("remove");
        for t in [
            "files",
            "remote_files",
            "remote_meta",
            "ops",
            "known_blobs",
            "scan_cache",
        ] {
            let n: i64 = j
                .conn
                .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                .expect("count");
            assert_eq!(n, 0, "{t} rows must go with their folder");
        }
        assert!(matches!(
            j.remove_folder(f.id),
            Err(JournalError::UnknownFolder(_))
        ));
        // The path can be added again.
        folder(&j, "/w");
    }
}
