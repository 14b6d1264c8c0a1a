//! The `ops` table: pending work that must survive a crash.

use rusqlite::params;

use super::folders::ensure_folder;
use super::{corrupt, Journal, Result};
use crate::clock::unix_now;
use crate::ids::FolderId;

/// A pending operation recorded by [`Journal::push_op`].
#[derive(Clone, Debug, PartialEq)]
pub struct PendingOp {
    /// Row id (for [`Journal::remove_op`]).
    pub id: i64,
    /// Kind chosen by the caller.
    pub kind: String,
    /// Payload chosen by the caller.
    pub payload: serde_json::Value,
    /// When it was recorded, Unix seconds.
    pub created_at: i64,
}

impl Journal {
    /// Record pending work; returns its id.
    pub fn push_op(
        &self,
        folder: FolderId,
        kind: &str,
        payload: &serde_json::Value,
    ) -> Result<i64> {
        let text = payload.to_string();
        self.write(&format!("push_op {kind} (folder {folder})"), |tx| {
            ensure_folder(tx, folder)?;
            tx.execute(
                "INSERT INTO ops (folder_id, kind, payload, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![folder, kind, text, unix_now()],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// Pending work of a folder, oldest first.
    pub fn ops(&self, folder: FolderId) -> Result<Vec<PendingOp>> {
        self.read(&format!("reading ops of folder {folder}"), |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, kind, payload, created_at FROM ops WHERE folder_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([folder], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, kind, payload, created_at) = row?;
                let payload = serde_json::from_str(&payload)
                    .map_err(|e| corrupt("ops", format!("op {id}"), e))?;
                out.push(PendingOp {
                    id,
                    kind,
                    payload,
                    created_at,
                });
            }
            Ok(out)
        })
    }

    /// Drop a pending op (done or abandoned). Unknown ids are ignored.
    pub fn remove_op(&self, id: i64) -> Result<()> {
        self.write(&format!("remove_op {id}"), |tx| {
            tx.execute("DELETE FROM ops WHERE id = ?1", [id])?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::folder;
    use super::*;

    #[test]
    fn ops_round_trip() {
        let j = Journal::open_in_memory().expect("open");
        let f = folder(&j, "/w");
        let a = j
            .push_op(f.id, "upload", &serde_json::json!({"path": "a"}))
            .expect("push");
        let b = j
            .push_op(f.id, "delete", &serde_json::json!([1, 2]))
            .expect("push");
        let ops = j.ops(f.id).expect("ops");
        assert_eq!(
            ops.iter().map(|o| o.id).collect::<Vec<_>>(),
            vec![a, b],
            "oldest first"
        );
        assert_eq!(ops[0].kind, "upload");
        assert_eq!(ops[1].payload, serde_json::json!([1, 2]));
        assert!(ops[0].created_at > 0);
        j.remove_op(a).expect("remove");
        assert_eq!(j.ops(f.id).expect("ops").len(), 1);
        assert!(
            j.push_op(FolderId::new(77), "x", &serde_json::json!(null))
                .is_err(),
            "unknown folder"
        );
    }
}
