//! The journal: one SQLite file holding everything the engine must remember between runs.
//!
//! Tables:
//! - `dirs`: the tracked folders ([`FolderRecord`]) and their position on the remote;
//! - `files`: the merge base (synced tree) per folder — written only after a file is verified
//!   on both sides;
//! - `remote_meta` + `remote_files`: the remote tree at the last seen sequence number, so a
//!   sync fetches only newer deltas;
//! - `scan_cache`: hashes of local files keyed by (size, mtime, inode), so unchanged files are
//!   never re-read;
//! - `known_blobs`: blobs uploaded or seen, so a resumed sync never sends them twice;
//! - `ops`: pending work that must survive a crash;
//! - `config`: small key/value settings;
//! - `activity`: the newest [`ACTIVITY_KEEP`] history events, as JSON (see `crate::activity`).
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

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{
    params, Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior,
};
use tracing::{debug, warn};

use crate::chunk::ChunkHash;
use crate::clock::unix_now;
use crate::hash::Digest;
use crate::manifest::{FileEntry, RemoteTree};
use crate::rel_path::RelPath;
use crate::remote::{BlobInfo, BlobName};

/// History rows kept in the `activity` table.
pub const ACTIVITY_KEEP: usize = 1000;

/// SQLite's own wait for a lock before it reports `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts for an operation that keeps failing with `SQLITE_BUSY` (after the busy timeout).
const BUSY_ATTEMPTS: u32 = 5;
/// First pause between those attempts; doubled each time.
const BUSY_BACKOFF: Duration = Duration::from_millis(50);

/// The schema, one migration per entry, applied in order. Never edit an entry once released:
/// add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    r#"
    CREATE TABLE dirs (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        path          TEXT NOT NULL UNIQUE,
        page_id       TEXT NOT NULL,
        folder_uuid   TEXT NOT NULL UNIQUE,
        paused        INTEGER NOT NULL DEFAULT 0,
        generation    TEXT,
        seq           INTEGER,
        last_sync_at  INTEGER,
        last_error    TEXT,
        created_at    INTEGER NOT NULL
    );
    CREATE TABLE files (
        folder_id  INTEGER NOT NULL REFERENCES dirs(id) ON DELETE CASCADE,
        path       TEXT NOT NULL,
        entry      TEXT NOT NULL,
        PRIMARY KEY (folder_id, path)
    ) WITHOUT ROWID;
    CREATE TABLE remote_meta (
        folder_id   INTEGER PRIMARY KEY REFERENCES dirs(id) ON DELETE CASCADE,
        generation  TEXT NOT NULL,
        seq         INTEGER NOT NULL
    );
    CREATE TABLE remote_files (
        folder_id  INTEGER NOT NULL REFERENCES dirs(id) ON DELETE CASCADE,
        path       TEXT NOT NULL,
        entry      TEXT NOT NULL,
        PRIMARY KEY (folder_id, path)
    ) WITHOUT ROWID;
    CREATE TABLE scan_cache (
        folder_id  INTEGER NOT NULL REFERENCES dirs(id) ON DELETE CASCADE,
        path       TEXT NOT NULL,
        size       INTEGER NOT NULL,
        mtime_ns   INTEGER NOT NULL,
        inode      INTEGER NOT NULL,
        sha256     TEXT NOT NULL,
        chunks     TEXT NOT NULL,
        PRIMARY KEY (folder_id, path)
    ) WITHOUT ROWID;
    CREATE TABLE known_blobs (
        folder_id  INTEGER NOT NULL REFERENCES dirs(id) ON DELETE CASCADE,
        name       TEXT NOT NULL,
        blob_id    TEXT NOT NULL,
        size       INTEGER NOT NULL,
        version    INTEGER NOT NULL,
        PRIMARY KEY (folder_id, name)
    ) WITHOUT ROWID;
    CREATE TABLE ops (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        folder_id   INTEGER NOT NULL REFERENCES dirs(id) ON DELETE CASCADE,
        kind        TEXT NOT NULL,
        payload     TEXT NOT NULL,
        created_at  INTEGER NOT NULL
    );
    CREATE INDEX ops_by_folder ON ops(folder_id, id);
    CREATE TABLE config (
        key    TEXT PRIMARY KEY,
        value  TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 2: activity history (what was sent, received, deleted, in conflict or failed), newest
    // rows kept; not tied to `dirs`, so the history of a removed folder stays readable.
    r#"
    CREATE TABLE activity (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        at     INTEGER NOT NULL,
        event  TEXT NOT NULL
    );
    "#,
];

/// The `config` key that remembers "pause all".
const PAUSED_ALL_KEY: &str = "paused-all";

/// Errors of the journal. Each says what was being done and for which folder or path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// SQLite failed.
    #[error("journal: {context}: {source}")]
    Sqlite {
        /// What was being done (`"apply_base (folder 3)"`).
        context: String,
        /// Cause.
        #[source]
        source: rusqlite::Error,
    },
    /// The journal was written by a newer version of the program.
    #[error(
        "the journal {} was written by a newer sber-tunnel (schema {found}, this program knows up to {supported}); update sber-tunnel",
        path.display()
    )]
    TooNew {
        /// The journal file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this program knows.
        supported: i64,
    },
    /// The folder is already tracked.
    #[error("{} is already synced", path.display())]
    AlreadyTracked {
        /// The folder.
        path: PathBuf,
    },
    /// The folder is inside, or contains, a tracked folder.
    #[error("{} overlaps the synced folder {}: synced folders cannot be nested", path.display(), existing.display())]
    Overlap {
        /// The folder asked for.
        path: PathBuf,
        /// The tracked folder it overlaps.
        existing: PathBuf,
    },
    /// A folder path must be absolute and valid UTF-8.
    #[error("{}: {reason}", path.display())]
    BadFolderPath {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// No folder with this id.
    #[error("no synced folder with id {0}")]
    UnknownFolder(i64),
    /// A row could not be decoded (the file was edited or damaged).
    #[error("journal: damaged row in {table} ({key}): {message}")]
    Corrupt {
        /// Table.
        table: &'static str,
        /// Row key (folder and path or name).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The remote cache was updated with deltas of another generation.
    #[error("journal: remote cache of folder {folder} is generation {cached}, not {given}")]
    GenerationMismatch {
        /// Folder id.
        folder: i64,
        /// Generation in the cache.
        cached: String,
        /// Generation given.
        given: String,
    },
    /// A number does not fit SQLite's signed 64-bit integers.
    #[error("journal: {what} {value} is too large to store")]
    TooLarge {
        /// Which value.
        what: &'static str,
        /// The value.
        value: u64,
    },
}

impl JournalError {
    /// True when the database was locked by another process for longer than we waited.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            JournalError::Sqlite { source: rusqlite::Error::SqliteFailure(e, _), .. }
                if matches!(e.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
        )
    }
    /// Whether trying again later may succeed (only a busy database).
    pub fn is_retryable(&self) -> bool {
        self.is_busy()
    }
}

impl From<rusqlite::Error> for JournalError {
    fn from(source: rusqlite::Error) -> Self {
        JournalError::Sqlite {
            context: String::new(),
            source,
        }
    }
}

/// Result of journal operations.
pub type Result<T, E = JournalError> = std::result::Result<T, E>;

/// A tracked folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderRecord {
    /// Row id.
    pub id: i64,
    /// Absolute path of the folder.
    pub path: PathBuf,
    /// Confluence page id holding it.
    pub page_id: String,
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

fn corrupt(table: &'static str, key: impl Into<String>, message: impl ToString) -> JournalError {
    JournalError::Corrupt {
        table,
        key: key.into(),
        message: message.to_string(),
    }
}

fn decode_rel(table: &'static str, folder: i64, text: &str) -> Result<RelPath> {
    RelPath::new(text).map_err(|e| corrupt(table, format!("folder {folder}, {text:?}"), e))
}

fn decode_entry(table: &'static str, folder: i64, path: &str, json: &str) -> Result<FileEntry> {
    serde_json::from_str(json).map_err(|e| corrupt(table, format!("folder {folder}, {path:?}"), e))
}

fn encode_entry(entry: &FileEntry) -> Result<String> {
    serde_json::to_string(entry).map_err(|e| corrupt("files", entry.path.to_string(), e))
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

    // ----- folders -----

    /// Start tracking `path` (absolute) synced through page `page_id`. Refuses a folder that
    /// is already tracked, inside a tracked folder, or containing one.
    pub fn add_folder(&self, path: &Path, page_id: &str) -> Result<FolderRecord> {
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
            Ok(tx.last_insert_rowid())
        })?;
        self.folder(id)?.ok_or(JournalError::UnknownFolder(id))
    }

    /// Stop tracking a folder and drop all its rows (base, caches, ops).
    pub fn remove_folder(&self, id: i64) -> Result<()> {
        self.write(&format!("removing folder {id}"), |tx| {
            let n = tx.execute("DELETE FROM dirs WHERE id = ?1", [id])?;
            if n == 0 {
                return Err(JournalError::UnknownFolder(id));
            }
            Ok(())
        })
    }

    /// Every tracked folder, by id.
    pub fn folders(&self) -> Result<Vec<FolderRecord>> {
        self.read("listing folders", folders_in)
    }

    /// One folder by id.
    pub fn folder(&self, id: i64) -> Result<Option<FolderRecord>> {
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
        id: i64,
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
    pub fn set_paused(&self, id: i64, paused: bool) -> Result<()> {
        self.update_folder(
            id,
            "set_paused",
            "UPDATE dirs SET paused = ?1 WHERE id = ?2",
            &[&paused],
        )
    }

    /// Pause or resume every folder (remembered across restarts).
    pub fn set_paused_all(&self, paused: bool) -> Result<()> {
        self.set_config(PAUSED_ALL_KEY, if paused { "1" } else { "0" })
    }

    /// Whether every folder is paused.
    pub fn paused_all(&self) -> Result<bool> {
        Ok(self.get_config(PAUSED_ALL_KEY)?.as_deref() == Some("1"))
    }

    /// Record the remote generation and sequence number the folder is synced with.
    pub fn set_remote_position(&self, id: i64, generation: &str, seq: u64) -> Result<()> {
        let seq = to_i64("seq", seq)?;
        self.update_folder(
            id,
            "set_remote_position",
            "UPDATE dirs SET generation = ?1, seq = ?2 WHERE id = ?3",
            &[&generation, &seq],
        )
    }

    /// Record the end of a sync (`error: None` clears the last error).
    pub fn record_sync(&self, id: i64, at_unix: i64, error: Option<&str>) -> Result<()> {
        self.update_folder(
            id,
            "record_sync",
            "UPDATE dirs SET last_sync_at = ?1, last_error = ?2 WHERE id = ?3",
            &[&at_unix, &error],
        )
    }

    // ----- merge base -----

    /// The merge base (synced tree) of a folder.
    pub fn base(&self, folder: i64) -> Result<BTreeMap<RelPath, FileEntry>> {
        self.read(&format!("reading the base of folder {folder}"), |c| {
            read_entries(c, "files", folder)
        })
    }

    /// Upsert and remove base entries in one transaction.
    pub fn apply_base(
        &self,
        folder: i64,
        upserts: &[FileEntry],
        removals: &[RelPath],
    ) -> Result<()> {
        self.write(&format!("apply_base (folder {folder})"), |tx| {
            ensure_folder(tx, folder)?;
            write_entries(tx, "files", folder, upserts, removals)
        })
    }

    /// Forget the whole base of a folder (the next sync starts from scratch).
    pub fn reset_base(&self, folder: i64) -> Result<()> {
        self.write(&format!("reset_base (folder {folder})"), |tx| {
            tx.execute("DELETE FROM files WHERE folder_id = ?1", [folder])?;
            Ok(())
        })
    }

    // ----- remote cache -----

    /// The cached remote tree of a folder, if any.
    pub fn remote_cache(&self, folder: i64) -> Result<Option<RemoteTree>> {
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
                let Some((generation, seq)) = meta else {
                    return Ok(None);
                };
                let mut tree = RemoteTree::empty(generation);
                tree.seq = u64_col("remote_meta", &folder.to_string(), "seq", seq)?;
                tree.files = read_entries(c, "remote_files", folder)?;
                Ok(Some(tree))
            },
        )
    }

    /// Replace the cached remote tree of a folder.
    pub fn store_remote_cache(&self, folder: i64, tree: &RemoteTree) -> Result<()> {
        let seq = to_i64("seq", tree.seq)?;
        let entries: Vec<FileEntry> = tree.files.values().cloned().collect();
        self.write(&format!("store_remote_cache (folder {folder})"), |tx| {
            ensure_folder(tx, folder)?;
            tx.execute("DELETE FROM remote_files WHERE folder_id = ?1", [folder])?;
            tx.execute(
                "INSERT OR REPLACE INTO remote_meta (folder_id, generation, seq) VALUES (?1, ?2, ?3)",
                params![folder, tree.generation, seq],
            )?;
            write_entries(tx, "remote_files", folder, &entries, &[])
        })
    }

    /// Apply newer entries to the cached remote tree and move it to `seq`. The cache must
    /// exist and be of `generation` (else use [`Journal::store_remote_cache`]).
    pub fn apply_remote_entries(
        &self,
        folder: i64,
        generation: &str,
        seq: u64,
        entries: &[FileEntry],
    ) -> Result<()> {
        let seq = to_i64("seq", seq)?;
        self.write(&format!("apply_remote_entries (folder {folder})"), |tx| {
            ensure_folder(tx, folder)?;
            let cached: Option<String> = tx
                .query_row(
                    "SELECT generation FROM remote_meta WHERE folder_id = ?1",
                    [folder],
                    |r| r.get(0),
                )
                .optional()?;
            match cached {
                Some(g) if g == generation => {}
                other => {
                    return Err(JournalError::GenerationMismatch {
                        folder,
                        cached: other.unwrap_or_else(|| "(none)".into()),
                        given: generation.to_string(),
                    })
                }
            }
            tx.execute(
                "UPDATE remote_meta SET seq = ?1 WHERE folder_id = ?2",
                params![seq, folder],
            )?;
            write_entries(tx, "remote_files", folder, entries, &[])
        })
    }

    // ----- scan cache -----

    /// The scan cache of a folder.
    pub fn scan_cache(&self, folder: i64) -> Result<HashMap<RelPath, CachedHash>> {
        self.read(&format!("reading the scan cache of folder {folder}"), |c| {
            let mut stmt = c.prepare_cached(
                "SELECT path, size, mtime_ns, inode, sha256, chunks FROM scan_cache WHERE folder_id = ?1",
            )?;
            let rows = stmt.query_map([folder], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })?;
            let mut out = HashMap::new();
            for row in rows {
                let (path, size, mtime_ns, inode, sha, chunks) = row?;
                let key = format!("folder {folder}, {path:?}");
                let rel = decode_rel("scan_cache", folder, &path)?;
                let hash = CachedHash {
                    size: u64_col("scan_cache", &key, "size", size)?,
                    mtime_ns,
                    // Stored as the same 64 bits.
                    inode: inode as u64,
                    sha256: Digest::from_hex(&sha).map_err(|e| corrupt("scan_cache", key.clone(), e))?,
                    chunks: serde_json::from_str(&chunks).map_err(|e| corrupt("scan_cache", key, e))?,
                };
                out.insert(rel, hash);
            }
            Ok(out)
        })
    }

    /// Upsert and remove scan-cache rows in one transaction.
    pub fn update_scan_cache(
        &self,
        folder: i64,
        upserts: &[(RelPath, CachedHash)],
        removals: &[RelPath],
    ) -> Result<()> {
        self.write(&format!("update_scan_cache (folder {folder})"), |tx| {
            ensure_folder(tx, folder)?;
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO scan_cache (folder_id, path, size, mtime_ns, inode, sha256, chunks) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for (path, h) in upserts {
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

    // ----- known blobs -----

    /// Blobs uploaded or seen for a folder.
    pub fn known_blobs(&self, folder: i64) -> Result<HashMap<BlobName, BlobInfo>> {
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
    pub fn add_known_blobs(&self, folder: i64, blobs: &[BlobInfo]) -> Result<()> {
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
    pub fn forget_blobs(&self, folder: i64, names: &[BlobName]) -> Result<()> {
        self.write(&format!("forget_blobs (folder {folder})"), |tx| {
            let mut del =
                tx.prepare_cached("DELETE FROM known_blobs WHERE folder_id = ?1 AND name = ?2")?;
            for n in names {
                del.execute(params![folder, n.as_str()])?;
            }
            Ok(())
        })
    }

    // ----- pending ops -----

    /// Record pending work; returns its id.
    pub fn push_op(&self, folder: i64, kind: &str, payload: &serde_json::Value) -> Result<i64> {
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
    pub fn ops(&self, folder: i64) -> Result<Vec<PendingOp>> {
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

    // ----- config -----

    /// A stored setting.
    pub fn get_config(&self, key: &str) -> Result<Option<String>> {
        self.read(&format!("reading setting {key}"), |c| {
            Ok(
                c.query_row("SELECT value FROM config WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
    }

    /// Store a setting.
    pub fn set_config(&self, key: &str, value: &str) -> Result<()> {
        self.write(&format!("writing setting {key}"), |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO config (key, value) VALUES (?1, ?2)",
                params![key, value],
            )?;
            Ok(())
        })
    }

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

fn ensure_folder(c: &Connection, folder: i64) -> Result<()> {
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
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
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

/// `table` is `files` or `remote_files` (same shape).
fn read_entries(
    c: &Connection,
    table: &'static str,
    folder: i64,
) -> Result<BTreeMap<RelPath, FileEntry>> {
    let sql = format!("SELECT path, entry FROM {table} WHERE folder_id = ?1");
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map([folder], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (path, json) = row?;
        let rel = decode_rel(table, folder, &path)?;
        let entry = decode_entry(table, folder, &path, &json)?;
        if entry.path != rel {
            return Err(corrupt(
                table,
                format!("folder {folder}, {path:?}"),
                "row key and entry path differ",
            ));
        }
        out.insert(rel, entry);
    }
    Ok(out)
}

/// `table` is `files` or `remote_files` (same shape).
fn write_entries(
    tx: &Connection,
    table: &'static str,
    folder: i64,
    upserts: &[FileEntry],
    removals: &[RelPath],
) -> Result<()> {
    let mut del = tx.prepare_cached(&format!(
        "DELETE FROM {table} WHERE folder_id = ?1 AND path = ?2"
    ))?;
    for path in removals {
        del.execute(params![folder, path.as_str()])?;
    }
    let mut put = tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO {table} (folder_id, path, entry) VALUES (?1, ?2, ?3)"
    ))?;
    for entry in upserts {
        put.execute(params![folder, entry.path.as_str(), encode_entry(entry)?])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::EntryKind;

    fn rel(s: &str) -> RelPath {
        RelPath::new(s).expect("valid test path")
    }

    fn entry(path: &str, content: &[u8]) -> FileEntry {
        FileEntry {
            path: rel(path),
            kind: EntryKind::File,
            deleted: false,
            size: content.len() as u64,
            mtime_ns: 1_700_000_000_000_000_000,
            sha256: Some(Digest::of(content)),
            version: 1,
            device: "dev-1".into(),
            chunks: Vec::new(),
        }
    }

    fn folder(j: &Journal, path: &str) -> FolderRecord {
        // Unix-style test paths made absolute on this platform (C:/w on Windows).
        j.add_folder(&crate::paths::test_abs(path), "12345")
            .expect("add folder")
    }

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
    fn folders_round_trip_and_refuse_overlaps() {
        let j = Journal::open_in_memory().expect("open");
        let a = folder(&j, "/data/work");
        assert_eq!(a.page_id, "12345");
        assert!(!a.paused);
        assert_eq!(
            (a.generation.clone(), a.seq, a.last_sync_at),
            (None, None, None)
        );
        assert!(uuid::Uuid::parse_str(&a.folder_uuid).is_ok());
        assert!(matches!(
            j.add_folder(&crate::paths::test_abs("/data/work"), "1"),
            Err(JournalError::AlreadyTracked { .. })
        ));
        assert!(matches!(
            j.add_folder(&crate::paths::test_abs("/data/work/sub"), "1"),
            Err(JournalError::Overlap { .. })
        ));
        assert!(matches!(
            j.add_folder(&crate::paths::test_abs("/data"), "1"),
            Err(JournalError::Overlap { .. })
        ));
        assert!(matches!(
            j.add_folder(Path::new("relative"), "1"),
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
            j.set_paused(999, true),
            Err(JournalError::UnknownFolder(999))
        ));
        assert!(j.folder(999).expect("read").is_none());
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

    #[test]
    fn base_round_trip_upsert_remove_reset() {
        let j = Journal::open_in_memory().expect("open");
        let f = folder(&j, "/w");
        let mut dir = entry("d", b"");
        dir.kind = EntryKind::Dir;
        dir.sha256 = None;
        j.apply_base(
            f.id,
            &[entry("d/a.txt", b"a"), entry("b.txt", b"b"), dir.clone()],
            &[],
        )
        .expect("apply");
        let base = j.base(f.id).expect("base");
        assert_eq!(base.len(), 3);
        assert_eq!(base[&rel("d")], dir);
        assert_eq!(base[&rel("d/a.txt")], entry("d/a.txt", b"a"));
        let mut changed = entry("b.txt", b"bb");
        changed.version = 2;
        j.apply_base(f.id, &[changed.clone()], &[rel("d/a.txt")])
            .expect("apply 2");
        let base = j.base(f.id).expect("base");
        assert_eq!(
            base.keys().cloned().collect::<Vec<_>>(),
            vec![rel("b.txt"), rel("d")]
        );
        assert_eq!(base[&rel("b.txt")], changed);
        assert!(matches!(
            j.apply_base(42, &[entry("x", b"x")], &[]),
            Err(JournalError::UnknownFolder(42))
        ));
        j.reset_base(f.id).expect("reset");
        assert!(j.base(f.id).expect("base").is_empty());
    }

    #[test]
    fn failing_apply_base_leaves_nothing_half_written() {
        let j = Journal::open_in_memory().expect("open");
        let f = folder(&j, "/w");
        j.apply_base(f.id, &[entry("keep", b"1")], &[])
            .expect("apply");
        // Make the third row of the batch fail inside SQLite.
        j.conn
            .execute_batch(
                "CREATE TEMP TRIGGER fail_c BEFORE INSERT ON files WHEN NEW.path = 'c' \
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
            )
            .expect("trigger");
        let err = j
            .apply_base(
                f.id,
                &[entry("a", b"a"), entry("b", b"b"), entry("c", b"c")],
                &[rel("keep")],
            )
            .expect_err("the trigger aborts the batch");
        assert!(
            err.to_string().contains("apply_base (folder"),
            "context names the operation: {err}"
        );
        let base = j.base(f.id).expect("base");
        assert_eq!(
            base.keys().cloned().collect::<Vec<_>>(),
            vec![rel("keep")],
            "neither the removal nor the first upserts survived"
        );
    }

    #[test]
    fn remote_cache_full_and_incremental() {
        let j = Journal::open_in_memory().expect("open");
        let f = folder(&j, "/w");
        assert!(j.remote_cache(f.id).expect("read").is_none());
        let mut tree = RemoteTree::empty("gen-a".into());
        tree.seq = 3;
        tree.files.insert(rel("a"), entry("a", b"a"));
        let mut tomb = entry("gone", b"");
        tomb.deleted = true;
        tree.files.insert(rel("gone"), tomb);
        j.store_remote_cache(f.id, &tree).expect("store");
        assert_eq!(j.remote_cache(f.id).expect("read"), Some(tree.clone()));

        let mut a2 = entry("a", b"a2");
        a2.version = 2;
        j.apply_remote_entries(f.id, "gen-a", 4, &[a2.clone(), entry("b", b"b")])
            .expect("incremental");
        let got = j.remote_cache(f.id).expect("read").expect("exists");
        assert_eq!(got.seq, 4);
        assert_eq!(got.files.len(), 3);
        assert_eq!(got.files[&rel("a")], a2);
        assert!(got.files[&rel("gone")].deleted, "tombstones are kept");

        let err = j
            .apply_remote_entries(f.id, "gen-b", 5, &[])
            .expect_err("other generation");
        assert!(matches!(err, JournalError::GenerationMismatch { .. }));

        // A full store replaces everything.
        let fresh = RemoteTree::empty("gen-b".into());
        j.store_remote_cache(f.id, &fresh).expect("store");
        assert_eq!(j.remote_cache(f.id).expect("read"), Some(fresh));
    }

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
    }

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

    #[test]
    fn ops_and_config_round_trip() {
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
            j.push_op(77, "x", &serde_json::json!(null)).is_err(),
            "unknown folder"
        );

        assert_eq!(j.get_config("paused").expect("get"), None);
        j.set_config("paused", "1").expect("set");
        j.set_config("paused", "0").expect("overwrite");
        assert_eq!(j.get_config("paused").expect("get").as_deref(), Some("0"));
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

    #[test]
    fn busy_errors_are_classified() {
        let busy = JournalError::Sqlite {
            context: "x".into(),
            source: rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                None,
            ),
        };
        assert!(busy.is_busy() && busy.is_retryable());
        assert!(!JournalError::UnknownFolder(1).is_retryable());
    }
}
