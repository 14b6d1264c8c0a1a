//! The `activity` table: the newest [`ACTIVITY_KEEP`] history events, as JSON (see
//! `crate::activity`).

use rusqlite::params;

use super::{Journal, Result};

/// History rows kept in the `activity` table.
pub const ACTIVITY_KEEP: usize = 1000;

impl Journal {
    /// Append history rows `(unix seconds, event JSON)` in one transaction and drop all but
    /// the newest [`ACTIVITY_KEEP`].
    pub fn record_activity(&self, rows: &[(i64, String)]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        self.write("recording activity", |tx| {
            let mut insert =
                tx.prepare_cached("INSERT INTO activity (at, event) VALUES (?1, ?2)")?;
            for (at, event) in rows {
                insert.execute(params![at, event])?;
            }
            tx.execute(
                "DELETE FROM activity WHERE id <= (SELECT MAX(id) FROM activity) - ?1",
                [ACTIVITY_KEEP as i64],
            )?;
            Ok(())
        })
    }

    /// The newest `limit` history rows `(unix seconds, event JSON)`, newest first.
    pub fn recent_activity(&self, limit: usize) -> Result<Vec<(i64, String)>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read("reading activity", |c| {
            let mut stmt =
                c.prepare_cached("SELECT at, event FROM activity ORDER BY id DESC LIMIT ?1")?;
            let rows = stmt.query_map([limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_is_newest_first_and_bounded() {
        let j = Journal::open_in_memory().expect("open");
        assert!(j.recent_activity(10).expect("empty").is_empty());
        j.record_activity(&[]).expect("nothing to record");
        // Several batches, more rows in all than are kept.
        let all: Vec<(i64, String)> = (0..ACTIVITY_KEEP as i64 + 250)
            .map(|i| (1_700_000_000 + i, format!("{{\"n\":{i}}}")))
            .collect();
        for batch in all.chunks(97) {
            j.record_activity(batch).expect("record");
        }
        let kept = j.recent_activity(usize::MAX).expect("read");
        assert_eq!(kept.len(), ACTIVITY_KEEP);
        let newest: Vec<_> = all.iter().rev().take(ACTIVITY_KEEP).cloned().collect();
        assert_eq!(kept, newest, "the newest rows, newest first");
        assert_eq!(j.recent_activity(3).expect("read"), newest[..3].to_vec());
    }
}
