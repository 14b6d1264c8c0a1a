//! The journal's schema: embedded migrations, applied in order at open (see `Journal::open`).

/// The schema, one migration per entry, applied in order. Never edit an entry once released:
/// add a new one.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 3: the local trash's records (see `trash`): what each file in `.sber-tunnel-trash` was,
    // when and why it went there, and which device's change it was.
    r#"
    CREATE TABLE trash (
        folder_id  INTEGER NOT NULL REFERENCES dirs(id) ON DELETE CASCADE,
        in_trash   TEXT NOT NULL,
        path       TEXT NOT NULL,
        at         INTEGER NOT NULL,
        reason     TEXT NOT NULL,
        device     TEXT,
        size       INTEGER NOT NULL,
        PRIMARY KEY (folder_id, in_trash)
    ) WITHOUT ROWID;
    "#,
    // 4: selective sync (issue 17): the subtrees of each folder this device leaves out (see
    // `crate::selective`); per device, never published.
    r#"
    CREATE TABLE excluded (
        folder_id  INTEGER NOT NULL REFERENCES dirs(id) ON DELETE CASCADE,
        path       TEXT NOT NULL,
        PRIMARY KEY (folder_id, path)
    ) WITHOUT ROWID;
    "#,
];
