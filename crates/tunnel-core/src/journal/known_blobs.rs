//! The `known_blobs` table: blobs uploaded or seen, so a resumed sync never sends them twice.

use std::collections::HashMap;

use rusqlite::params;

use super::folders::ensure_folder;
use super::{corrupt, to_i64, u64_col, Journal, Result};
use crate::ids::FolderId;
use crate::remote::{BlobInfo, BlobName};

impl Journal {
    /// Blobs uploaded or seen for a folder.
    pub fn known_blobs(&self, folder: FolderId) -> Result<HashMap<BlobName, BlobInfo>> {
        self.read(&format!("reading known blobs of folder {folder}"), |c| {
            let mut stmt = c.prepare_cached(
                "SELECT name, blob_id, size, version FROM known_blobs WHERE folder_id = ?1",
            )?;
            let rows = stmt.query_map([folder], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            let mut out = HashMap::new();
            for row in rows {
                let (name, id, size, version) = row?;
                let key = format!("folder {folder}, {name}");
                let name =
                    BlobName::new(name).map_err(|e| corrupt("known_blobs", key.clone(), e))?;
                let info = BlobInfo {
                    name: name.clone(),
                    id,
                    size: u64_col("known_blobs", &key, "size", size)?,
                    version: u64_col("known_blobs", &key, "version", version)?,
                    modified_ms: None,
                };
                out.insert(name, info);
            }
            Ok(out)
        })
    }

    /// Remember blobs (replacing what was known under their names).
    pub fn add_known_blobs(&self, folder: FolderId, blobs: &[BlobInfo]) -> Result<()> {
        self.write(&format!("add_known_blobs (folder {folder})"), |tx| {
            ensure_folder(tx, folder)?;
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO known_blobs (folder_id, name, blob_id, size, version) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for b in blobs {
                put.execute(params![
                    folder,
                    b.name.as_str(),
                    b.id,
                    to_i64("size", b.size)?,
                    to_i64("version", b.version)?
                ])?;
            }
            Ok(())
        })
    }

    /// Forget blobs (deleted remotely, or found missing).
    pub fn forget_blobs(&self, folder: FolderId, names: &[BlobName]) -> Result<()> {
        self.write(&format!("forget_blobs (folder {folder})"), |tx| {
            let mut del =
                tx.prepare_cached("DELETE FROM known_blobs WHERE folder_id = ?1 AND name = ?2")?;
            for n in names {
                del.execute(params![folder, n.as_str()])?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::folder;
    use super::*;

    #[test]
    fn known_blobs_round_trip() {
        let j = Journal::open_in_memory().expect("open");
        let f = folder(&j, "/w");
        let info = |n: &str, v: u64| BlobInfo {
            name: BlobName::new(n).expect("name"),
            id: format!("att-{n}"),
            size: 100,
            version: v,
            modified_ms: None,
        };
        j.add_known_blobs(f.id, &[info("c-1", 1), info("p-2", 1)])
            .expect("add");
        j.add_known_blobs(f.id, &[info("c-1", 2)]).expect("replace");
        let got = j.known_blobs(f.id).expect("read");
        assert_eq!(got.len(), 2);
        assert_eq!(got[&BlobName::new("c-1").expect("name")], info("c-1", 2));
        j.forget_blobs(f.id, &[BlobName::new("c-1").expect("name")])
            .expect("forget");
        assert_eq!(j.known_blobs(f.id).expect("read").len(), 1);
    }
}
