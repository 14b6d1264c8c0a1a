//! The journal: one SQLite file holding everything the engine must remember between runs.
//!
//! Tables, each with its methods in its own file (this file opens, migrates and runs the
//! transactions; `schema` holds the migrations):
//! - `dirs` (`folders`): the tracked folders ([`FolderRecord`]) and their position on the
//!   remote;
//! - `files` (`base`): the merge base (synced tree) per folder — written only after a file is
//!   verified on both sides;
//! - `remote_meta` + `remote_files` (`remote_cache`): the remote tree at the last seen sequence
//!   number, so a sync fetches only newer deltas;
//! - `scan_cache`: hashes of local files keyed by (size, mtime, inode), so unchanged files are
//!   never re-read;
//! - `known_blobs`: blobs uploaded or seen, so a resumed sync never sends them twice;
//! - `ops`: pending work that must survive a crash;
//! - `config`: small key/value settings;
//! - `activity`: the newest [`ACTIVITY_KEEP`] history events, as JSON (see `crate::activity`);
//! - `trash`: a record of each file put in a folder's local trash ([`TrashRecord`]).
//!
//! Invariants:
//! - WAL, `synchronous=NORMAL`, `foreign_keys=ON`, a busy timeout, and `SQLITE_BUSY` retried
//!   with a bounded backoff on top of it;
//! - migrations are embedded, ordered and run at open inside one transaction; their count is
//!   `PRAGMA user_version`; a journal from a newer program is refused, never downgraded;
//! - every change of several rows is one transaction: it lands whole or not at all;
//! - deleting a folder deletes all its rows (foreign keys with `ON DELETE CASCADE`).
//!
//! The journal is a plain synchronous type; async code calls it from `spawn_blocking`.

mod activity;
mod base;
mod clean;
mod config;
mod error;
mod excluded;
mod folders;
mod known_blobs;
mod narrow;
mod ops;
mod remote_cache;
mod scan_cache;
mod schema;
mod trash;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tracing::{debug, warn};

pub use activity::ACTIVITY_KEEP;
pub use error::{JournalError, Result};
pub use folders::FolderRecord;
pub use narrow::{CachedStat, StoredTree};
pub use ops::PendingOp;
pub use scan_cache::{CachedHash, ScanRows};
pub use trash::{TrashReason, TrashRecord};

use crate::ids::FolderId;
use crate::rel_path::RelPath;
use schema::MIGRATIONS;

/// SQLite's own wait for a lock before it reports `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts for an operation that keeps failing with `SQLITE_BUSY` (after the busy timeout).
const BUSY_ATTEMPTS: u32 = 5;
/// First pause between those attempts; doubled each time.
const BUSY_BACKOFF: Duration = Duration::from_millis(50);

/// The journal; see the module docs.
pub struct Journal {
    conn: Connection,
    /// The file, for messages (`:memory:` for an in-memory journal).
    path: PathBuf,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn to_i64(what: &'static str, value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| JournalError::TooLarge { what, value })
}

fn corrupt(table: &'static str, key: impl Into<String>, message: impl ToString) -> JournalError {
    JournalError::Corrupt {
        table,
        key: key.into(),
        message: message.to_string(),
    }
}

fn decode_rel(table: &'static str, folder: FolderId, text: &str) -> Result<RelPath> {
    RelPath::new(text).map_err(|e| corrupt(table, format!("folder {folder}, {text:?}"), e))
}

/// How many rows of `folder` `table` holds: the room to make before reading them all.
fn folder_rows(c: &rusqlite::Connection, table: &'static str, folder: FolderId) -> Result<usize> {
    let n: i64 = c
        .prepare_cached(&format!(
            "SELECT COUNT(*) FROM {table} WHERE folder_id = ?1"
        ))?
        .query_row([folder], |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

fn u64_col(table: &'static str, key: &str, what: &str, v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| corrupt(table, key.to_string(), format!("negative {what} {v}")))
}

impl Journal {
    /// Open (creating when missing) the journal file and bring its schema up to date.
    pub fn open(path: &Path) -> Result<Journal> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if let Err(e) = std::fs::create_dir_all(parent) {
                return Err(JournalError::Sqlite {
                    context: format!("creating {}", parent.display()),
                    source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
                });
            }
        }
        let conn = Connection::open(path).map_err(|source| JournalError::Sqlite {
            context: format!("opening {}", path.display()),
            source,
        })?;
        Journal::setup(conn, path.to_owned())
    }

    /// A journal in memory (tests, dry runs).
    pub fn open_in_memory() -> Result<Journal> {
        let conn = Connection::open_in_memory()?;
        Journal::setup(conn, PathBuf::from(":memory:"))
    }

    fn setup(conn: Connection, path: PathBuf) -> Result<Journal> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let ctx = |what: &str| format!("{what} of {}", path.display());
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|source| JournalError::Sqlite {
                context: ctx("switching to WAL"),
                source,
            })?;
        debug!(journal = %path.display(), mode = %mode, "journal opened");
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(|source| JournalError::Sqlite {
                context: ctx("setting pragmas"),
                source,
            })?;
        let journal = Journal { conn, path };
        journal.migrate()?;
        Ok(journal)
    }

    /// Apply the migrations this file lacks, in one transaction.
    fn migrate(&self) -> Result<()> {
        let supported = MIGRATIONS.len() as i64;
        self.write("migrating the schema", |tx| {
            let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if found > supported {
                return Err(JournalError::TooNew {
                    path: self.path.clone(),
                    found,
                    supported,
                });
            }
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
                debug!(version = i + 1, "applying journal migration");
                tx.execute_batch(sql)?;
            }
            if found != supported {
                tx.pragma_update(None, "user_version", supported)?;
            }
            Ok(())
        })
    }

    /// The schema version of this journal.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Run `f` in an immediate (write-locking) transaction, retrying on `SQLITE_BUSY`.
    fn write<T>(&self, what: &str, mut f: impl FnMut(&Transaction<'_>) -> Result<T>) -> Result<T> {
        self.with_retry(what, || {
            let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })
    }

    /// Run a read `f` in a deferred transaction (one consistent snapshot), retrying on busy.
    fn read<T>(&self, what: &str, mut f: impl FnMut(&Connection) -> Result<T>) -> Result<T> {
        self.with_retry(what, || {
            let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })
    }

    fn with_retry<T>(&self, what: &str, mut f: impl FnMut() -> Result<T>) -> Result<T> {
        let mut pause = BUSY_BACKOFF;
        let mut attempt = 1;
        loop {
            match f() {
                Ok(v) => return Ok(v),
                Err(e) if e.is_busy() && attempt < BUSY_ATTEMPTS => {
                    warn!(journal = %self.path.display(), operation = what, attempt, "journal busy; retrying");
                    std::thread::sleep(pause);
                    pause *= 2;
                    attempt += 1;
                }
                Err(JournalError::Sqlite { context, source }) if context.is_empty() => {
                    return Err(JournalError::Sqlite {
                        context: what.to_string(),
                        source,
                    })
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{entry, folder};
    use super::*;

    #[test]
    fn a_journal_of_the_first_schema_gains_the_activity_table_and_keeps_its_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.db");
        {
            // What the previous release wrote: schema 1 only, with a folder in it.
            let c = Connection::open(&path).expect("create");
            c.execute_batch(MIGRATIONS[0]).expect("schema 1");
            c.pragma_update(None, "user_version", 1).expect("version");
            c.execute(
                "INSERT INTO dirs (path, page_id, folder_uuid, created_at) \
                 VALUES ('/data/Docs', '42', 'uuid-1', 0)",
                [],
            )
            .expect("folder");
        }
        let j = Journal::open(&path).expect("upgrade");
        assert_eq!(
            j.schema_version().expect("version"),
            MIGRATIONS.len() as i64
        );
        assert_eq!(j.folders().expect("folders").len(), 1, "old rows kept");
        j.record_activity(&[(1, "{}".into())])
            .expect("the new table works");
        assert_eq!(
            j.recent_activity(5).expect("read"),
            vec![(1, "{}".to_string())]
        );
    }

    #[test]
    fn migrations_from_empty_set_user_version() {
        let j = Journal::open_in_memory().expect("open");
        assert_eq!(
            j.schema_version().expect("version"),
            MIGRATIONS.len() as i64
        );
        let tables: Vec<String> = j
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        for t in [
            "config",
            "dirs",
            "files",
            "known_blobs",
            "ops",
            "remote_files",
            "scan_cache",
            "activity",
            "trash",
        ] {
            assert!(
                tables.iter().any(|n| n == t),
                "table {t} missing from {tables:?}"
            );
        }
    }

    #[test]
    fn file_journal_uses_wal_and_reopen_keeps_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/journal.db");
        {
            let j = Journal::open(&path).expect("open");
            let mode: String = j
                .conn
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .expect("mode");
            assert_eq!(mode, "wal");
            let fk: i64 = j
                .conn
                .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
                .expect("fk");
            assert_eq!(fk, 1);
            let f = folder(&j, "/data/work");
            j.apply_base(f.id, &[entry("a.txt", b"a")], &[])
                .expect("base");
            j.set_config("k", "v").expect("config");
        }
        let j = Journal::open(&path).expect("reopen");
        let f = j
            .folder_by_path(&crate::paths::test_abs("/data/work"))
            .expect("read")
            .expect("kept");
        assert_eq!(j.base(f.id).expect("base").len(), 1);
        assert_eq!(j.get_config("k").expect("get").as_deref(), Some("v"));
    }

    #[test]
    fn newer_journal_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.db");
        {
            let j = Journal::open(&path).expect("open");
            j.conn
                .pragma_update(None, "user_version", MIGRATIONS.len() as i64 + 1)
                .expect("bump version");
        }
        let err = Journal::open(&path).expect_err("newer schema");
        assert!(
            matches!(err, JournalError::TooNew { found, .. } if found == MIGRATIONS.len() as i64 + 1)
        );
        assert!(err.to_string().contains("newer sber-tunnel"), "{err}");
    }

    #[test]
    fn journal_file_opened_twice_shares_data_and_waits_for_locks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.db");
        let one = Journal::open(&path).expect("open one");
        let two = Journal::open(&path).expect("open two");
        let f = folder(&one, "/w");
        assert_eq!(
            two.folder(f.id)
                .expect("read")
                .expect("seen by the second handle")
                .path,
            crate::paths::test_abs("/w")
        );

        // Hold a write lock on one handle while the other writes from a thread: the writer
        // waits (busy timeout) and lands after the lock is released.
        let tx =
            Transaction::new_unchecked(&one.conn, TransactionBehavior::Immediate).expect("lock");
        tx.execute("INSERT INTO config (key, value) VALUES ('held', '1')", [])
            .expect("write");
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let writer = std::thread::spawn(move || {
            started_tx.send(()).expect("signal");
            two.set_config("other", "2")
                .expect("write after the lock is released");
            two
        });
        started_rx.recv().expect("writer started");
        tx.commit().expect("release");
        let two = writer.join().expect("writer thread");
        assert_eq!(one.get_config("other").expect("get").as_deref(), Some("2"));
        assert_eq!(two.get_config("held").expect("get").as_deref(), Some("1"));
    }

    #[test]
    fn busy_retries_are_bounded_and_name_the_operation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.db");
        let holder = Journal::open(&path).expect("open one");
        let waiter = Journal::open(&path).expect("open two");
        // No SQLite-level wait, so only our own bounded retry loop runs.
        waiter
            .conn
            .busy_timeout(Duration::ZERO)
            .expect("busy timeout");
        let tx = Transaction::new_unchecked(&holder.conn, TransactionBehavior::Immediate)
            .expect("hold the write lock");
        let err = waiter
            .set_config("k", "v")
            .expect_err("the lock is never released");
        assert!(err.is_busy(), "{err}");
        assert!(err.to_string().contains("writing setting k"), "{err}");
        drop(tx);
        waiter
            .set_config("k", "v")
            .expect("works once the lock is gone");
    }
}

/// Rows the tests of every table start from.
#[cfg(test)]
mod fixtures {
    use super::{FolderRecord, Journal};
    use crate::hash::Digest;
    use crate::manifest::{EntryKind, FileEntry};
    use crate::rel_path::RelPath;

    pub(super) fn rel(s: &str) -> RelPath {
        RelPath::new(s).expect("valid test path")
    }

    pub(super) fn entry(path: &str, content: &[u8]) -> FileEntry {
        FileEntry {
            path: rel(path),
            kind: EntryKind::File,
            deleted: false,
            size: content.len() as u64,
            mtime_ns: 1_700_000_000_000_000_000,
            sha256: Some(Digest::of(content)),
            version: 1,
            device: "dev-1".into(),
            chunks: Default::default(),
        }
    }

    pub(super) fn folder(j: &Journal, path: &str) -> FolderRecord {
        // Unix-style test paths made absolute on this platform (C:/w on Windows).
        j.add_folder(&crate::paths::test_abs(path), &page("12345"))
            .expect("add folder")
    }

    pub(super) fn page(id: &str) -> crate::ids::PageId {
        crate::ids::PageId::parse(id).expect("a test page id is digits")
    }
}
