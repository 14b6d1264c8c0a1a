//! Typed ids, so that a folder id is never passed where another number is meant, nor a page id
//! where another string is.
//!
//! [`FolderId`] is the journal's row id of a tracked folder (`dirs.id`). It is stored in
//! SQLite as the same integer ([`rusqlite::ToSql`]/[`rusqlite::FromSql`]), serialised as a bare
//! number and displayed as one, so messages and the database read as before.
//!
//! [`PageId`] is the id of the Confluence page that stores a folder: the number in the page's
//! URL (`…?pageId=12345`). It is stored, serialised and displayed as that text, so the
//! configuration file, the journal and the JSON of status and events read as before. Invariant:
//! it is one to [`PageId::MAX_LEN`] ASCII digits — checked when it is made from what a person
//! typed ([`PageId::parse`]) and again when it is read from a file or the journal.

use std::fmt;
use std::str::FromStr;

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

/// The id of a Confluence page: one to [`PageId::MAX_LEN`] ASCII digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PageId(String);

/// Text that is not a page id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the page ID is the number in the page's URL (…?pageId=12345), got {0:?}")]
pub struct InvalidPageId(pub String);

impl PageId {
    /// The longest page id accepted: Confluence's ids are 64-bit numbers (at most 20 digits).
    pub const MAX_LEN: usize = 20;

    /// The page id written in `text`, white space around it ignored.
    pub fn parse(text: &str) -> Result<PageId, InvalidPageId> {
        let id = text.trim();
        if id.is_empty() || id.len() > Self::MAX_LEN || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidPageId(text.to_owned()));
        }
        Ok(PageId(id.to_owned()))
    }

    /// The id as text, for URLs and wire formats.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for PageId {
    type Err = InvalidPageId;

    fn from_str(text: &str) -> Result<PageId, InvalidPageId> {
        PageId::parse(text)
    }
}

impl AsRef<str> for PageId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<PageId> for String {
    fn from(id: PageId) -> String {
        id.0
    }
}

impl fmt::Display for PageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PageId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<PageId, D::Error> {
        let text = String::deserialize(d)?;
        PageId::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl ToSql for PageId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

impl FromSql for PageId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<PageId> {
        let text = String::column_result(value)?;
        PageId::parse(&text).map_err(|e| rusqlite::types::FromSqlError::Other(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_id_is_the_digits_a_person_typed_and_reads_and_writes_as_that_text() {
        let id = PageId::parse(" 12345 ").expect("digits with spaces around are a page id");
        assert_eq!(id.as_str(), "12345", "the spaces are not part of the id");
        assert_eq!(id.to_string(), "12345");
        assert_eq!(serde_json::to_string(&id).expect("json"), "\"12345\"");
        assert_eq!(
            serde_json::from_str::<PageId>("\"12345\"").expect("json"),
            id
        );
        let c = rusqlite::Connection::open_in_memory().expect("db");
        let back: PageId = c
            .query_row("SELECT ?1", [&id], |r| r.get(0))
            .expect("round trip");
        assert_eq!(back, id);
        let stored: String = c
            .query_row("SELECT ?1", [&id], |r| r.get(0))
            .expect("stored as text");
        assert_eq!(stored, "12345", "the journal keeps the text it kept before");
    }

    #[test]
    fn anything_but_one_to_twenty_digits_is_not_a_page_id() {
        for bad in [
            "",
            "  ",
            "12a",
            "-1",
            "1 2",
            "１２",
            "page-1",
            "123456789012345678901",
        ] {
            assert_eq!(
                PageId::parse(bad),
                Err(InvalidPageId(bad.to_owned())),
                "{bad:?} is not the number of a page"
            );
            assert!(
                serde_json::from_str::<PageId>(&format!("{bad:?}")).is_err(),
                "{bad:?} is refused when read from a file too"
            );
        }
        assert!(
            PageId::parse("12345678901234567890").is_ok(),
            "20 digits fit"
        );
    }

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
