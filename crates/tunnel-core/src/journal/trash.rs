//! The `trash` table: a record of each file this device put in a folder's local trash
//! (`.sber-tunnel-trash`, see `crate::sync::trash`) — its original path, where it is in the
//! trash, when, why, which device's change it was and its size — so the trash can be listed
//! and restored by what happened, not only by what its paths tell.

use rusqlite::params;

use super::{decode_rel, u64_col, Journal, Result};
use crate::ids::FolderId;
use crate::rel_path::RelPath;

/// Why a file went to the trash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrashReason {
    /// Another device deleted it.
    Deleted,
    /// Another device's edit replaced it: this is the content it had before.
    Replaced,
    /// A conflict was resolved here: this is the version not kept.
    Resolved,
}

impl TrashReason {
    /// The word stored in the table (and shown by `--json`).
    pub fn as_str(self) -> &'static str {
        match self {
            TrashReason::Deleted => "deleted",
            TrashReason::Replaced => "replaced",
            TrashReason::Resolved => "resolved",
        }
    }

    fn parse(s: &str) -> Option<TrashReason> {
        match s {
            "deleted" => Some(TrashReason::Deleted),
            "replaced" => Some(TrashReason::Replaced),
            "resolved" => Some(TrashReason::Resolved),
            _ => None,
        }
    }
}

/// One file put in the trash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrashRecord {
    /// Where it was, relative to the folder.
    pub path: RelPath,
    /// Where it is, relative to the folder's trash (`2026-01-31/docs/a (2).txt`).
    pub in_trash: String,
    /// When it went there (Unix seconds).
    pub at: i64,
    /// Why.
    pub reason: TrashReason,
    /// The device whose change it was (the id its remote entry names), when known.
    pub device: Option<String>,
    /// Size in bytes.
    pub size: u64,
}

impl Journal {
    /// Record files put in `folder`'s trash, in one transaction (a record of the same place
    /// in the trash is replaced).
    pub fn record_trashed(&self, folder: FolderId, items: &[TrashRecord]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        self.write("recording trashed files", |tx| {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO trash (folder_id, in_trash, path, at, reason, device, size) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for t in items {
                insert.execute(params![
                    folder,
                    t.in_trash,
                    t.path.as_str(),
                    t.at,
                    t.reason.as_str(),
                    t.device,
                    super::to_i64("trashed file size", t.size)?,
                ])?;
            }
            Ok(())
        })
    }

    /// Every record of `folder`'s trash, oldest first.
    pub fn trash_records(&self, folder: FolderId) -> Result<Vec<TrashRecord>> {
        self.read("reading the trash records", |c| {
            let mut stmt = c.prepare_cached(
                "SELECT in_trash, path, at, reason, device, size FROM trash \
                 WHERE folder_id = ?1 ORDER BY at, in_trash",
            )?;
            let rows = stmt.query_map([folder], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (in_trash, path, at, reason, device, size) = row?;
                let key = format!("folder {folder}, {in_trash:?}");
                out.push(TrashRecord {
                    path: decode_rel("trash", folder, &path)?,
                    reason: TrashReason::parse(&reason).ok_or_else(|| {
                        super::corrupt("trash", key.clone(), format!("reason {reason:?}"))
                    })?,
                    size: u64_col("trash", &key, "size", size)?,
                    in_trash,
                    at,
                    device,
                });
            }
            Ok(out)
        })
    }

    /// Forget the records of these places in `folder`'s trash (restored, emptied, pruned).
    pub fn forget_trashed(&self, folder: FolderId, in_trash: &[String]) -> Result<()> {
        if in_trash.is_empty() {
            return Ok(());
        }
        self.write("forgetting trashed files", |tx| {
            let mut delete =
                tx.prepare_cached("DELETE FROM trash WHERE folder_id = ?1 AND in_trash = ?2")?;
            for p in in_trash {
                delete.execute(params![folder, p])?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{folder, rel};
    use super::*;

    fn record(path: &str, in_trash: &str, at: i64, reason: TrashReason) -> TrashRecord {
        TrashRecord {
            path: rel(path),
            in_trash: in_trash.into(),
            at,
            reason,
            device: Some("dev-b".into()),
            size: 12,
        }
    }

    #[test]
    fn trash_records_round_trip_per_folder_and_are_forgotten() {
        let j = Journal::open_in_memory().expect("open");
        let a = folder(&j, "/data/a");
        let b = folder(&j, "/data/b");
        assert!(j.trash_records(a.id).expect("empty").is_empty());
        j.record_trashed(a.id, &[]).expect("nothing to record");
        let old = record(
            "docs/x.txt",
            "2026-01-01/docs/x.txt",
            100,
            TrashReason::Replaced,
        );
        let mut new = record(
            "docs/x.txt",
            "2026-01-02/docs/x.txt",
            200,
            TrashReason::Deleted,
        );
        new.device = None;
        j.record_trashed(a.id, &[new.clone(), old.clone()])
            .expect("record");
        j.record_trashed(
            b.id,
            &[record("y", "2026-01-01/y", 5, TrashReason::Deleted)],
        )
        .expect("other folder");
        assert_eq!(
            j.trash_records(a.id).expect("read"),
            vec![old.clone(), new.clone()],
            "oldest first, every field kept, the unknown device as none"
        );
        j.forget_trashed(a.id, std::slice::from_ref(&old.in_trash))
            .expect("forget");
        assert_eq!(j.trash_records(a.id).expect("read"), vec![new]);
        assert_eq!(j.trash_records(b.id).expect("read").len(), 1, "b untouched");
        j.remove_folder(b.id).expect("remove folder");
        assert!(
            j.trash_records(b.id).expect("read").is_empty(),
            "a removed folder's records go with it"
        );
    }
}
