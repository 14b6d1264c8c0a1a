//! The remote store: the small trait the engine talks to, and its error type.
//!
//! Production implementation: `tunnel-confluence::ConfluenceStore` (one Confluence page =
//! one store). Test implementation: [`memory::MemoryStore`] (in-process, with failure
//! injection) and the Confluence emulator over a real socket.
//!
//! Contract every implementation keeps:
//! - blobs are named by [`BlobName`] (`[a-z0-9._-]`, 1..=200 chars), unique per store
//!   case-insensitively; immutable blobs are written once (a second `put_blob` of an existing
//!   name with the same size succeeds without sending the bytes again);
//! - the head is a small JSON value guarded by a version number: `write_head` is a real
//!   compare-and-swap and fails with [`RemoteError::Conflict`] when someone else wrote first;
//! - implementations retry transient failures themselves (bounded, with backoff); an error that
//!   comes out of a method is final for this attempt;
//! - every byte range handed to a sink has been read from the server, never invented; the
//!   caller verifies SHA-256 itself.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWrite;

use crate::hash::Digest;

pub mod memory;

/// Name of a blob (an attachment on the page): 1..=200 characters of `[a-z0-9._-]`,
/// not starting with `.`. The text is shared (an [`arcstr::ArcStr`], one pointer): the many
/// chunks of one pack name the same blob, and a file list read in bulk keeps one copy of
/// each name (see [`BlobNames`]); each chunk reference holds 8 bytes of it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BlobName(arcstr::ArcStr);

/// The text is not a valid [`BlobName`].
#[derive(Debug, thiserror::Error)]
#[error("invalid blob name {0:?}: use 1 to 200 characters of a-z, 0-9, '.', '_', '-'")]
pub struct BadBlobName(pub String);

impl BlobName {
    /// Validate and wrap.
    pub fn new(s: impl Into<String>) -> Result<Self, BadBlobName> {
        let s = s.into();
        let ok = !s.is_empty()
            && s.len() <= 200
            && !s.starts_with('.')
            && s.bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'));
        if ok {
            Ok(BlobName(s.into()))
        } else {
            Err(BadBlobName(s.chars().take(220).collect()))
        }
    }
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BlobName {
    type Error = BadBlobName;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        BlobName::new(s)
    }
}
impl From<BlobName> for String {
    fn from(b: BlobName) -> String {
        b.0.to_string()
    }
}

/// Keeps one copy of each blob name met: entries read in bulk (a file list, the journal's
/// base) name the same pack blob from thousands of chunks, and would otherwise hold one
/// copy of the text per chunk.
#[derive(Default)]
pub struct BlobNames(std::collections::HashSet<BlobName>);

impl BlobNames {
    /// `name` as the copy already kept (or kept from now on).
    pub fn share(&mut self, name: &mut BlobName) {
        match self.0.get(name) {
            Some(kept) => *name = kept.clone(),
            None => {
                self.0.insert(name.clone());
            }
        }
    }
}
impl std::fmt::Debug for BlobName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlobName({})", self.0)
    }
}
impl std::fmt::Display for BlobName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the store knows about one blob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobInfo {
    /// Its name.
    pub name: BlobName,
    /// The store's own id (Confluence attachment id, e.g. `att123`).
    pub id: String,
    /// Size in bytes of the current version.
    pub size: u64,
    /// Current version number (1 for a blob written once).
    pub version: u64,
    /// When the current version was written, by the store's own clock (milliseconds since the
    /// Unix epoch; Confluence's `version.when`). `None` when the store did not say: garbage
    /// collection never trashes a blob whose age it cannot tell.
    #[serde(default)]
    pub modified_ms: Option<i64>,
}

/// The head pointer as stored, with the version that guards it.
#[derive(Clone, Debug, PartialEq)]
pub struct HeadState {
    /// The JSON value (see `manifest::Head`).
    pub value: serde_json::Value,
    /// The version number to pass to the next [`RemoteStore::write_head`].
    pub version: u64,
}

/// Who we are on the remote and what we may do (result of [`RemoteStore::probe`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteIdentity {
    /// The authenticated user name (never empty: anonymous access is an error).
    pub user: String,
    /// The title of the page (or store) holding the folder.
    pub title: String,
    /// Largest blob the store accepts, when it is known.
    pub max_blob_size: Option<u64>,
}

/// Where the bytes of an upload come from.
#[derive(Clone, Debug)]
pub enum BlobSource {
    /// A slice of a local file. The implementation streams it and checks, while sending, that
    /// the bytes hash to `sha256`; when they do not (the file changed under us) it aborts the
    /// upload with [`RemoteError::SourceChanged`] so no torn content is ever committed.
    File {
        /// The file to read.
        path: PathBuf,
        /// First byte.
        offset: u64,
        /// Number of bytes.
        len: u64,
        /// Expected SHA-256 of those bytes.
        sha256: Digest,
    },
    /// A slice of a file the caller already opened, without following links, and checked to
    /// be the file it scanned (what the engine sends: a file swapped for a link to a secret
    /// after the scan can never be read through the path). Read and checked like `File`.
    Open {
        /// The open file; readers use their own handle (`try_clone`) and seek to `offset`.
        file: Arc<std::fs::File>,
        /// Where it is, for messages.
        path: PathBuf,
        /// First byte.
        offset: u64,
        /// Number of bytes.
        len: u64,
        /// Expected SHA-256 of those bytes.
        sha256: Digest,
    },
    /// Bytes already in memory (packs of small files, manifest deltas).
    Bytes(Bytes),
    /// A pack named by its member list (`manifest::pack_name`): its bytes are never hashed
    /// as a whole (each member was checked against its own digest while it was gathered);
    /// the store records the list's digest with it instead of the bytes'.
    Members {
        /// The bytes.
        bytes: Bytes,
        /// SHA-256 of the pack's member list (what its `m-` name holds).
        members: Digest,
    },
}

impl BlobSource {
    /// Number of bytes this source provides.
    pub fn len(&self) -> u64 {
        match self {
            BlobSource::File { len, .. } | BlobSource::Open { len, .. } => *len,
            BlobSource::Bytes(b) | BlobSource::Members { bytes: b, .. } => b.len() as u64,
        }
    }
    /// A reader of the slice and the file's path, for the two file sources (`None` for
    /// bytes). Each call reads from its own position, so a retried upload never shares a file
    /// offset with an earlier attempt still winding down.
    pub fn reader(&self) -> Option<std::io::Result<(SliceReader, &std::path::Path)>> {
        let (file, path, offset) = match self {
            BlobSource::File { path, offset, .. } => {
                (std::fs::File::open(path).map(Arc::new), path, *offset)
            }
            BlobSource::Open {
                file, path, offset, ..
            } => (Ok(Arc::clone(file)), path, *offset),
            BlobSource::Bytes(_) | BlobSource::Members { .. } => return None,
        };
        Some(file.map(|file| (SliceReader { file, pos: offset }, path.as_path())))
    }

    /// True when the source has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads a file from a position with positioned reads (`pread`), never through the file
/// offset shared by every handle of an open file.
#[derive(Debug)]
pub struct SliceReader {
    file: Arc<std::fs::File>,
    pos: u64,
}

impl std::io::Read for SliceReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = read_at(&self.file, buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, buf: &mut [u8], pos: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, pos)
}

#[cfg(windows)]
fn read_at(file: &std::fs::File, buf: &mut [u8], pos: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, pos)
}

#[cfg(not(any(unix, windows)))]
fn read_at(_file: &std::fs::File, _buf: &mut [u8], _pos: u64) -> std::io::Result<usize> {
    Err(std::io::Error::other(
        "positioned reads are not supported here",
    ))
}

/// Coarse classes of [`RemoteError`], for exit codes, UI codes and retry decisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RemoteErrorKind {
    /// Credentials wrong, expired, locked (CAPTCHA) or served as anonymous.
    Auth,
    /// Authenticated but not allowed.
    Permission,
    /// Page or blob does not exist.
    NotFound,
    /// Compare-and-swap lost.
    Conflict,
    /// Blob larger than the server accepts.
    TooLarge,
    /// TLS / certificate problem.
    Certificate,
    /// Could not reach the server (DNS, connect, timeouts) after retries.
    Unreachable,
    /// Rate limited and the wait is longer than we are willing to sleep.
    RateLimited,
    /// The server failed (5xx) after retries.
    Server,
    /// The server answered something we do not understand (HTML login page, bad JSON, redirect
    /// to another host).
    Protocol,
    /// Bytes did not match their hash.
    Integrity,
    /// The local source changed while it was being uploaded.
    SourceChanged,
    /// Local I/O failed.
    Io,
}

/// Errors of a [`RemoteStore`]. Messages are written for a person.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// See [`RemoteErrorKind::Auth`].
    #[error("authentication failed: {0}")]
    Auth(String),
    /// See [`RemoteErrorKind::Permission`].
    #[error("permission denied: {0}")]
    Permission(String),
    /// See [`RemoteErrorKind::NotFound`].
    #[error("not found: {0}")]
    NotFound(String),
    /// The head was written by someone else since we read it.
    #[error("the remote head changed (now at version {current:?})")]
    Conflict {
        /// The version the server reports, when it says.
        current: Option<u64>,
    },
    /// See [`RemoteErrorKind::TooLarge`].
    #[error("too large for this server: {message}")]
    TooLarge {
        /// The limit when known.
        limit: Option<u64>,
        /// Server text.
        message: String,
    },
    /// See [`RemoteErrorKind::Certificate`].
    #[error("certificate problem: {0}")]
    Certificate(String),
    /// See [`RemoteErrorKind::Unreachable`].
    #[error("server unreachable: {0}")]
    Unreachable(String),
    /// See [`RemoteErrorKind::RateLimited`].
    #[error("rate limited by the server: {message}")]
    RateLimited {
        /// Seconds the server asked us to wait, when it said.
        retry_after_secs: Option<u64>,
        /// Human text.
        message: String,
    },
    /// See [`RemoteErrorKind::Server`].
    #[error("server error {status}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// Server text (trimmed).
        message: String,
    },
    /// See [`RemoteErrorKind::Protocol`].
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// See [`RemoteErrorKind::Integrity`].
    #[error("integrity check failed: {0}")]
    Integrity(String),
    /// See [`RemoteErrorKind::SourceChanged`].
    #[error("{0} changed while it was being uploaded")]
    SourceChanged(PathBuf),
    /// See [`RemoteErrorKind::Io`].
    #[error("local I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl RemoteError {
    /// The coarse class of this error.
    pub fn kind(&self) -> RemoteErrorKind {
        match self {
            RemoteError::Auth(_) => RemoteErrorKind::Auth,
            RemoteError::Permission(_) => RemoteErrorKind::Permission,
            RemoteError::NotFound(_) => RemoteErrorKind::NotFound,
            RemoteError::Conflict { .. } => RemoteErrorKind::Conflict,
            RemoteError::TooLarge { .. } => RemoteErrorKind::TooLarge,
            RemoteError::Certificate(_) => RemoteErrorKind::Certificate,
            RemoteError::Unreachable(_) => RemoteErrorKind::Unreachable,
            RemoteError::RateLimited { .. } => RemoteErrorKind::RateLimited,
            RemoteError::Server { .. } => RemoteErrorKind::Server,
            RemoteError::Protocol(_) => RemoteErrorKind::Protocol,
            RemoteError::Integrity(_) => RemoteErrorKind::Integrity,
            RemoteError::SourceChanged(_) => RemoteErrorKind::SourceChanged,
            RemoteError::Io(_) => RemoteErrorKind::Io,
        }
    }

    /// Whether a later attempt (the next sync, after a pause) may succeed without anyone
    /// changing anything. Auth, permission and too-large errors are not: retrying a bad
    /// password locks the account behind a CAPTCHA on real Confluence.
    pub fn is_retryable(&self) -> bool {
        match self.kind() {
            RemoteErrorKind::Unreachable
            | RemoteErrorKind::RateLimited
            | RemoteErrorKind::Server
            | RemoteErrorKind::Conflict
            | RemoteErrorKind::Integrity
            | RemoteErrorKind::SourceChanged => true,
            RemoteErrorKind::Auth
            | RemoteErrorKind::Permission
            | RemoteErrorKind::NotFound
            | RemoteErrorKind::TooLarge
            | RemoteErrorKind::Certificate
            | RemoteErrorKind::Protocol
            | RemoteErrorKind::Io => false,
        }
    }
}

/// A sink for downloads.
pub type BlobSink<'a> = &'a mut (dyn AsyncWrite + Send + Unpin);

/// The remote store of one synced folder (one Confluence page).
///
/// All methods are cancel-safe in the sense that dropping the future leaves the remote in a
/// state the next sync repairs (a blob may or may not exist; the head is unchanged unless
/// `write_head` returned Ok).
#[async_trait]
pub trait RemoteStore: Send + Sync {
    /// Check the connection: the user is really authenticated (not served as anonymous), the
    /// page exists and can be read. Does not write.
    async fn probe(&self) -> Result<RemoteIdentity, RemoteError>;

    /// Check that the user may add blobs (attachments) to the page, without leaving anything
    /// behind if possible.
    async fn probe_write(&self) -> Result<(), RemoteError>;

    /// Read the head pointer; `None` when the store was never initialised.
    async fn read_head(&self) -> Result<Option<HeadState>, RemoteError>;

    /// Compare-and-swap the head. `expected` is the version returned by the last
    /// `read_head` (`None`: the head must not exist yet). Returns the new version.
    /// Fails with [`RemoteError::Conflict`] when the head moved.
    async fn write_head(
        &self,
        value: &serde_json::Value,
        expected: Option<u64>,
    ) -> Result<u64, RemoteError>;

    /// Upload an immutable blob. Idempotent: when a blob of that name already exists with
    /// `source.len()` bytes it is returned as is.
    async fn put_blob(&self, name: &BlobName, source: BlobSource) -> Result<BlobInfo, RemoteError>;

    /// Write a new version of a mutable blob (e.g. `manifest.json`), creating it when missing.
    /// Returns the blob with its new version number.
    async fn put_mutable(&self, name: &BlobName, data: Bytes) -> Result<BlobInfo, RemoteError>;

    /// Stream a blob (a given version, or the latest) into `sink`, optionally only the byte
    /// range `range` (end exclusive). Returns the number of bytes written.
    async fn get_blob(
        &self,
        name: &BlobName,
        version: Option<u64>,
        range: Option<Range<u64>>,
        sink: BlobSink<'_>,
    ) -> Result<u64, RemoteError>;

    /// Look up one blob by name (case-insensitive); `None` when absent.
    async fn find_blob(&self, name: &BlobName) -> Result<Option<BlobInfo>, RemoteError>;

    /// List every blob of the store (follows pagination to the end, de-duplicated).
    /// Costly on big pages: used by garbage collection, never per file.
    async fn list_blobs(&self) -> Result<Vec<BlobInfo>, RemoteError>;

    /// Delete (trash) a blob.
    async fn delete_blob(&self, blob: &BlobInfo) -> Result<(), RemoteError>;

    /// Delete one old version of a mutable blob.
    async fn delete_blob_version(&self, blob: &BlobInfo, version: u64) -> Result<(), RemoteError>;

    /// [`RemoteStore::put_blob`], telling also whether this very call created the blob's
    /// attachment (`true`): then its first version, and so every time a listing shows for
    /// it, is no older than the moment this call began. `false` when the blob was there
    /// already, or when the store cannot tell (the default: never a wrong `true`). The commit
    /// relies on it to spare the immediate existence check of what it has just written
    /// itself (`sync/verify.rs`, docs/remote-format.md "The committer's side").
    async fn put_blob_created(
        &self,
        name: &BlobName,
        source: BlobSource,
    ) -> Result<(BlobInfo, bool), RemoteError> {
        self.put_blob(name, source).await.map(|info| (info, false))
    }
}
