//! Typed ids, so that a folder id is never passed where another number is meant.
//!
//! [`FolderId`] is the journal's row id of a tracked folder (`dirs.id`). It is stored in
//! SQLite as the same integer ([`rusqlite::ToSql`]/[`rusqlite::FromSql`]), serialised as a bare
//! number and displayed as one, so messages and the database read as before.

use std::fmt;

use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Serialize};

/// The journal's id of a tracked folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FolderId(i64);

impl FolderId {
    /// The id with this number (as the journal gave it).
    pub const fn new(id: i64) -> FolderId {
        FolderId(id)
    }

    /// The number, for SQL and wire formats.
    pub const fn as_i64(self) -> i64 {
        self.0
    }
}

impl From<i64> for FolderId {
    fn from(id: i64) -> FolderId {
        FolderId(id)
    }
}

impl From<FolderId> for i64 {
    fn from(id: FolderId) -> i64 {
        id.0
    }
}

impl fmt::Display for FolderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl ToSql for FolderId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

impl FromSql for FolderId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<FolderId> {
        i64::column_result(value).map(FolderId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_id_reads_and_writes_as_its_number() {
        let id = FolderId::new(42);
        assert_eq!(id.to_string(), "42");
        assert_eq!(serde_json::to_string(&id).expect("json"), "42");
        assert_eq!(serde_json::from_str::<FolderId>("42").expect("json"), id);
        assert_eq!(i64::from(id), 42);
        let c = rusqlite::Connection::open_in_memory().expect("db");
        let back: FolderId = c
            .query_row("SELECT ?1", [id], |r| r.get(0))
            .expect("round trip");
        assert_eq!(back, id);
    }
}
