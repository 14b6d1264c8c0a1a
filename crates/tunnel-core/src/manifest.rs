//! The remote format: the head pointer (a content property) and the documents it names.
//! Version 2 (written by this build) splits the file list snapshot into content-addressed
//! parts (`s-<sha256>.json`, see [`parts`]) and every delta into parts (`d-<sha256>.json`),
//! each below the attachment limit; version 1 (a single mutable `manifest.json` and
//! single-blob deltas) is still read, so existing pages keep working.
//! See docs/remote-format.md for the specification.
//!
//! Parsing is strict and bounded: the byte length is checked before parsing, an unknown
//! format version is refused before anything else is looked at, and every entry is
//! validated (paths through [`RelPath`], sizes, chunk lists, duplicates).

pub mod history;
pub mod pack_name;
pub mod parts;

pub use arcstr::ArcStr;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::hash::Digest;
use crate::rel_path::RelPath;
use crate::remote::BlobName;

/// The format version this build writes (and the newest it reads). Format 3 is format 2 with
/// history: commit times in the head and a history document it names (see
/// [`history`]); its snapshot and delta parts are unchanged ([`PART_FORMAT`]).
pub const FORMAT_VERSION: u32 = 3;
/// Format 2: the file list in parts, no history. Still read; the next commit upgrades it.
pub const FORMAT_V2: u32 = 2;
/// The format of snapshot and delta parts, the same in formats 2 and 3.
pub const PART_FORMAT: u32 = FORMAT_V2;
/// The first format: one mutable `manifest.json` snapshot, single-blob deltas. Still read.
pub const FORMAT_V1: u32 = 1;
/// Key of the content property holding the head.
pub const HEAD_PROPERTY_KEY: &str = "sber-tunnel.head";
/// Name of the format 1 snapshot attachment (read only: format 2 writes `s-` parts).
pub const SNAPSHOT_NAME: &str = "manifest.json";

/// What a path is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A folder.
    Dir,
}

/// Bytes `[offset, offset + size)` of blob `blob` hold a chunk whose SHA-256 is `sha256`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkRef {
    /// SHA-256 of the chunk's bytes.
    pub sha256: Digest,
    /// Its length.
    pub size: u64,
    /// The blob that holds it.
    pub blob: BlobName,
    /// Where it starts in the blob.
    pub offset: u64,
}

/// The state of one path on the remote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// The path, relative to the folder.
    pub path: RelPath,
    /// File or folder.
    pub kind: EntryKind,
    /// A tombstone: the path was deleted.
    #[serde(default)]
    pub deleted: bool,
    /// Size in bytes (0 for folders and tombstones).
    #[serde(default)]
    pub size: u64,
    /// Modification time, ns since the epoch (for tombstones: when it was deleted).
    pub mtime_ns: i64,
    /// SHA-256 of the content; present exactly for live files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Digest>,
    /// Per-path change counter.
    pub version: u64,
    /// Device that wrote this version: one shared copy of the name per device (see
    /// [`device_name`]).
    #[serde(deserialize_with = "shared_device_name")]
    pub device: ArcStr,
    /// Where the bytes are (live files only; empty for an empty file). Shared by the copies
    /// of an entry: the base, the remote tree, the plan, the delta and the journal's writes
    /// each hold one copy of an entry, and a copy costs no allocation (issue 15).
    #[serde(
        default,
        skip_serializing_if = "no_chunks",
        deserialize_with = "chunk_list"
    )]
    pub chunks: Chunks,
}

/// A file's chunks (see [`FileEntry::chunks`]).
pub type Chunks = Arc<[ChunkRef]>;

fn no_chunks(c: &Chunks) -> bool {
    c.is_empty()
}

/// A list read into one allocation of its exact size.
fn chunk_list<'de, D>(d: D) -> Result<Chunks, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(Vec::<ChunkRef>::deserialize(d)?.into())
}

fn shared_device_name<'de, D>(d: D) -> Result<ArcStr, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
    Ok(device_name(&name))
}

/// How many names [`device_name`] keeps per thread before it starts afresh: a page has a
/// handful of devices; a hostile list of a million names costs this many at most.
const DEVICE_NAMES_KEPT: usize = 256;

thread_local! {
    static DEVICE_NAMES: std::cell::RefCell<HashSet<ArcStr>> =
        std::cell::RefCell::new(HashSet::new());
}

/// `name` as a shared copy: the entries of a tree read from the page or the journal hold one
/// copy of each device's name between them, not one each (issue 15: 100,000 entries held
/// 100,000 copies of a few names, in every tree and plan).
pub fn device_name(name: &str) -> ArcStr {
    DEVICE_NAMES.with(|names| {
        let mut names = names.borrow_mut();
        if let Some(kept) = names.get(name) {
            return kept.clone();
        }
        if names.len() >= DEVICE_NAMES_KEPT {
            names.clear();
        }
        let kept = ArcStr::from(name);
        names.insert(kept.clone());
        kept
    })
}

impl FileEntry {
    /// This entry's blob names as the copies `names` keeps (see
    /// [`crate::remote::BlobNames`]). Only an entry whose chunk list is its own (as it is
    /// right after parsing) is changed.
    pub fn share_blob_names(&mut self, names: &mut crate::remote::BlobNames) {
        if let Some(chunks) = Arc::get_mut(&mut self.chunks) {
            for c in chunks {
                names.share(&mut c.blob);
            }
        }
    }
}

/// One blob of a snapshot or delta: its name, SHA-256 and size (checked before parsing),
/// and how many entries it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartRef {
    /// Attachment name (`s-<sha256>.json`, `d-<sha256>.json`; `manifest.json` in format 1).
    pub name: BlobName,
    /// SHA-256 of its bytes.
    pub sha256: Digest,
    /// Its length.
    pub size: u64,
    /// Entries it holds (format 2; format 1 does not record it).
    pub entries: Option<u64>,
}

/// Points at the latest snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotRef {
    /// The seq it describes.
    pub seq: u64,
    /// Its parts in order (format 1: exactly one, `manifest.json`).
    pub parts: Vec<PartRef>,
    /// Format 1 only: the attachment version of `manifest.json` holding it.
    pub manifest_version: Option<u64>,
    /// Format 3: when the commit that wrote it happened (the committing device's clock, ms
    /// since the Unix epoch).
    pub time_ms: Option<i64>,
}

/// Points at one commit's delta.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeltaRef {
    /// The seq it brings the tree to.
    pub seq: u64,
    /// Its parts in order (format 1: exactly one).
    pub parts: Vec<PartRef>,
    /// Format 3: when the commit happened (the committing device's clock, ms since the Unix
    /// epoch).
    pub time_ms: Option<i64>,
}

impl SnapshotRef {
    /// What identifies this snapshot in a history: its first part's digest.
    pub fn id(&self) -> Option<Digest> {
        self.parts.first().map(|p| p.sha256)
    }
}

impl DeltaRef {
    /// What identifies this delta in a history: its first part's digest.
    pub fn id(&self) -> Option<Digest> {
        self.parts.first().map(|p| p.sha256)
    }
}

/// The head: the value of the content property, the one thing a commit swaps. It keeps the
/// format it was read in; [`Head::to_value`] writes that format back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// Format version.
    pub format: u32,
    /// Random id of this remote's history; a new one means "not the remote you knew".
    pub generation: String,
    /// Number of commits so far.
    pub seq: u64,
    /// The latest snapshot.
    pub snapshot: Option<SnapshotRef>,
    /// Deltas after the snapshot, in order: seq snapshot.seq+1 ..= seq.
    pub deltas: Vec<DeltaRef>,
    /// Format 3: the history document (`h-<sha256>.json`) naming the retained file lists
    /// older than the snapshot; `None` when nothing older is kept.
    pub history: Option<PartRef>,
}

/// Format 1 wire shape of the snapshot pointer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotRefV1 {
    name: BlobName,
    version: u64,
    sha256: Digest,
    size: u64,
    seq: u64,
}

/// Format 1 wire shape of a delta pointer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeltaRefV1 {
    name: BlobName,
    sha256: Digest,
    size: u64,
    seq: u64,
}

/// Format 1 wire shape of the head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeadV1 {
    format: u32,
    generation: String,
    seq: u64,
    #[serde(default)]
    snapshot: Option<SnapshotRefV1>,
    #[serde(default)]
    deltas: Vec<DeltaRefV1>,
}

/// Format 1 `manifest.json`: the whole file list at one seq (also the in-memory list a
/// format 2 snapshot is cut into parts from).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Format version.
    pub format: u32,
    /// Generation.
    pub generation: String,
    /// The seq it describes.
    pub seq: u64,
    /// Every entry, sorted by path.
    pub files: Vec<FileEntry>,
}

/// One commit's changes (the format 1 document; also what the parts of a format 2 delta
/// add up to).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delta {
    /// Format version.
    pub format: u32,
    /// Generation.
    pub generation: String,
    /// The seq this delta brings the tree to.
    pub seq: u64,
    /// The committing device.
    pub device: String,
    /// New states of the changed paths.
    pub entries: Vec<FileEntry>,
}

/// The remote file list at one seq, tombstones included.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteTree {
    /// Generation.
    pub generation: String,
    /// Seq.
    pub seq: u64,
    /// Every path.
    pub files: BTreeMap<RelPath, FileEntry>,
}

/// Bounds on what a parser accepts.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest snapshot or delta in bytes.
    pub max_bytes: u64,
    /// Most entries in one document.
    pub max_entries: usize,
    /// Most chunks of one file.
    pub max_chunks_per_file: usize,
    /// Largest serialised head (the property limit is 32 768 characters).
    pub max_head_bytes: usize,
    /// Most parts (snapshot and delta parts together) one head may name.
    pub max_parts: usize,
    /// Newest format this reader accepts (a reader limited to an older format refuses newer
    /// documents exactly like an older build).
    pub max_format: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 1 << 30,
            max_entries: 5_000_000,
            max_chunks_per_file: 100_000,
            max_head_bytes: 32_000,
            max_parts: 1_000,
            max_format: FORMAT_VERSION,
        }
    }
}

/// Why a remote document was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Written by a newer version.
    #[error("the remote was written by a newer sber-tunnel (format {found}, this build reads up to {supported}): upgrade sber-tunnel")]
    UnsupportedFormat {
        /// Found.
        found: u64,
        /// Supported.
        supported: u32,
    },
    /// Not valid JSON or not the expected shape.
    #[error("invalid remote file list: {0}")]
    Json(#[from] serde_json::Error),
    /// Bigger than the limits allow.
    #[error("the remote file list is too large ({size} bytes, limit {limit})")]
    TooLarge {
        /// Size.
        size: u64,
        /// Limit.
        limit: u64,
    },
    /// An entry breaks a rule.
    #[error("invalid remote entry {path:?}: {reason}")]
    Invalid {
        /// The path (or a description).
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A delta or snapshot of another remote history.
    #[error("the remote file list belongs to another history (generation mismatch)")]
    GenerationMismatch,
    /// The file list cannot be written within the attachment and head limits.
    #[error("the remote file list needs {parts} parts of at most {part_limit} bytes, which do not fit in the head ({head_bytes} bytes, limit {head_limit}): raise sync.chunk-size (and the server's attachment size limit)")]
    TooManyParts {
        /// Parts needed.
        parts: usize,
        /// Largest part allowed.
        part_limit: u64,
        /// Size the head would have.
        head_bytes: usize,
        /// Head limit.
        head_limit: usize,
    },
    /// One entry alone is larger than a part may be.
    #[error("the remote entry {path:?} alone takes {size} bytes, more than a part may hold ({limit}): raise sync.chunk-size")]
    EntryTooLarge {
        /// The path.
        path: String,
        /// Its serialised size.
        size: u64,
        /// The part limit.
        limit: u64,
    },
    /// Deltas missing.
    #[error("the remote file list has a gap: expected seq {expected}, found {found}")]
    SeqGap {
        /// Expected.
        expected: u64,
        /// Found.
        found: u64,
    },
}

pub(crate) fn invalid(path: impl Into<String>, reason: impl Into<String>) -> ManifestError {
    ManifestError::Invalid {
        path: path.into(),
        reason: reason.into(),
    }
}

/// Just the `format` field; everything else is skipped.
#[derive(Deserialize)]
struct FormatOnly {
    format: Option<serde_json::Value>,
}

/// Read the `format` field: a number above `limits.max_format` is refused with the
/// "upgrade" message before the rest is looked at (so a newer document never gets a
/// confusing shape error); missing, 0 or not a number is invalid.
fn read_format(format: Option<&serde_json::Value>, limits: &Limits) -> Result<u32, ManifestError> {
    let Some(v) = format else {
        return Err(invalid("format", "missing format version"));
    };
    match v.as_u64() {
        Some(f) if f > u64::from(limits.max_format) => Err(ManifestError::UnsupportedFormat {
            found: f,
            supported: limits.max_format,
        }),
        Some(f) if f >= u64::from(FORMAT_V1) => Ok(f as u32),
        _ => Err(invalid("format", format!("unknown format version {v}"))),
    }
}

/// Refuse a document that is not of format `expected` (newer ones with "upgrade").
fn check_format(
    format: Option<&serde_json::Value>,
    expected: u32,
    limits: &Limits,
) -> Result<(), ManifestError> {
    let found = read_format(format, limits)?;
    if found != expected {
        return Err(invalid(
            "format",
            format!("a format {found} document where format {expected} belongs"),
        ));
    }
    Ok(())
}

/// Size check, then format check, then the typed parse (serde_json errors keep their
/// line and column).
pub(crate) fn parse_bounded<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    expected_format: u32,
    limits: &Limits,
) -> Result<T, ManifestError> {
    if bytes.len() as u64 > limits.max_bytes {
        return Err(ManifestError::TooLarge {
            size: bytes.len() as u64,
            limit: limits.max_bytes,
        });
    }
    let probe: FormatOnly = serde_json::from_slice(bytes)?;
    check_format(probe.format.as_ref(), expected_format, limits)?;
    Ok(serde_json::from_slice(bytes)?)
}

pub(crate) fn check_generation(g: &str) -> Result<(), ManifestError> {
    if g.is_empty() || g.len() > 100 || !g.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(invalid(
            "generation",
            "must be 1 to 100 characters of letters, digits and -",
        ));
    }
    Ok(())
}

/// Validate one entry on its own.
pub fn validate_entry(e: &FileEntry, limits: &Limits) -> Result<(), ManifestError> {
    let p = e.path.as_str();
    if e.device.is_empty() || e.device.len() > 200 {
        return Err(invalid(p, "device id must be 1 to 200 characters"));
    }
    if e.version == 0 {
        return Err(invalid(p, "version must be at least 1"));
    }
    if e.deleted || e.kind == EntryKind::Dir {
        if e.size != 0 || !e.chunks.is_empty() || e.sha256.is_some() {
            return Err(invalid(
                p,
                "a folder or deleted entry carries no size, hash or chunks",
            ));
        }
        return Ok(());
    }
    if e.sha256.is_none() {
        return Err(invalid(p, "a file needs its sha256"));
    }
    if e.chunks.len() > limits.max_chunks_per_file {
        return Err(invalid(p, "too many chunks"));
    }
    let mut total: u64 = 0;
    for c in e.chunks.iter() {
        if c.size == 0 {
            return Err(invalid(p, "empty chunk"));
        }
        c.offset
            .checked_add(c.size)
            .ok_or_else(|| invalid(p, "chunk offset overflows"))?;
        total = total
            .checked_add(c.size)
            .ok_or_else(|| invalid(p, "chunk sizes overflow"))?;
    }
    if total != e.size {
        return Err(invalid(
            p,
            format!(
                "chunk sizes add up to {total}, not the file size {}",
                e.size
            ),
        ));
    }
    if e.size == 0 && e.sha256 != Some(Digest::of(b"")) {
        return Err(invalid(p, "an empty file must have the empty sha256"));
    }
    if e.chunks.len() == 1 && e.chunks[0].sha256 != e.sha256.unwrap_or(e.chunks[0].sha256) {
        return Err(invalid(
            p,
            "a single-chunk file's chunk hash must equal the file hash",
        ));
    }
    Ok(())
}

/// Validate a list of entries: each one, no duplicate paths, no live file that is also the
/// parent of another live entry.
pub(crate) fn validate_entries(
    entries: &[FileEntry],
    limits: &Limits,
) -> Result<(), ManifestError> {
    check_entries(entries.iter(), entries.len(), limits, true)
}

/// [`validate_entries`] for entries known to be strictly sorted by path (a tree's, or a
/// snapshot's whose parts were checked in place): no path can be listed twice, so none is
/// looked for (a set of 1,000,000 paths, issue 15).
pub(crate) fn validate_sorted_entries<'a>(
    entries: impl Iterator<Item = &'a FileEntry> + Clone,
    count: usize,
    limits: &Limits,
) -> Result<(), ManifestError> {
    check_entries(entries, count, limits, false)
}

fn check_entries<'a>(
    entries: impl Iterator<Item = &'a FileEntry> + Clone,
    count: usize,
    limits: &Limits,
    may_repeat: bool,
) -> Result<(), ManifestError> {
    if count > limits.max_entries {
        return Err(ManifestError::TooLarge {
            size: count as u64,
            limit: limits.max_entries as u64,
        });
    }
    let mut seen: HashSet<&str> = HashSet::with_capacity(if may_repeat { count } else { 0 });
    let live = entries
        .clone()
        .filter(|e| !e.deleted && e.kind == EntryKind::File)
        .count();
    let mut live_files = LiveFiles::with_capacity(live);
    for e in entries.clone() {
        validate_entry(e, limits)?;
        if may_repeat && !seen.insert(e.path.as_str()) {
            return Err(invalid(e.path.as_str(), "listed twice"));
        }
        if !e.deleted && e.kind == EntryKind::File {
            live_files.insert(&e.path);
        }
    }
    drop(seen);
    for e in entries.filter(|e| !e.deleted) {
        if let Some(p) = live_files.file_above(&e.path) {
            return Err(invalid(
                e.path.as_str(),
                format!("its parent {p} is a file"),
            ));
        }
    }
    Ok(())
}

/// Live file paths indexed by a keyed hash, to ask "is a folder above this path a live file?"
/// in one pass over the path (see [`RelPath::prefix_hashes`]): linear in the path's length
/// however deep it is, where looking each ancestor up by its text costs the square of it.
#[derive(Default)]
struct LiveFiles<'a> {
    keys: std::hash::RandomState,
    /// The first path of each hash, held inline (a list per path was about 100 bytes per
    /// live file: 100 MB at 1,000,000 files, issue 15)…
    by_hash: std::collections::HashMap<u64, &'a str>,
    /// …and the other paths of a hash that several share.
    collided: std::collections::HashMap<u64, Vec<&'a str>>,
}

impl<'a> LiveFiles<'a> {
    /// Room for `n` paths.
    fn with_capacity(n: usize) -> Self {
        LiveFiles {
            keys: std::hash::RandomState::new(),
            by_hash: std::collections::HashMap::with_capacity(n),
            collided: std::collections::HashMap::new(),
        }
    }

    fn insert(&mut self, path: &'a RelPath) {
        if let Some((h, _)) = path.prefix_hashes(&self.keys).last() {
            match self.by_hash.entry(h) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(path.as_str());
                }
                std::collections::hash_map::Entry::Occupied(o) => {
                    if *o.get() != path.as_str() {
                        self.collided.entry(h).or_default().push(path.as_str());
                    }
                }
            }
        }
    }

    /// The live file that is a folder above `path`, if any.
    fn file_above<'p>(&self, path: &'p RelPath) -> Option<&'p str> {
        let depth = path.depth();
        path.prefix_hashes(&self.keys)
            .take(depth - 1)
            .find(|(h, prefix)| {
                self.by_hash.get(h) == Some(prefix)
                    || self
                        .collided
                        .get(h)
                        .is_some_and(|paths| paths.contains(prefix))
            })
            .map(|(_, prefix)| prefix)
    }
}

impl Head {
    /// Parse and validate a head property value (format 1 or 2).
    pub fn parse(value: &serde_json::Value, limits: &Limits) -> Result<Head, ManifestError> {
        let text_len = value.to_string().len();
        if text_len > limits.max_head_bytes {
            return Err(ManifestError::TooLarge {
                size: text_len as u64,
                limit: limits.max_head_bytes as u64,
            });
        }
        let head = match read_format(value.get("format"), limits)? {
            FORMAT_V1 => Head::from_v1(serde_json::from_value(value.clone())?),
            _ => parts::head_from_value(value, limits)?,
        };
        check_generation(&head.generation)?;
        let mut expect = head.snapshot.as_ref().map(|s| s.seq).unwrap_or(0);
        if expect > head.seq {
            return Err(invalid("head", "snapshot is newer than the head"));
        }
        for d in &head.deltas {
            expect += 1;
            if d.seq != expect {
                return Err(ManifestError::SeqGap {
                    expected: expect,
                    found: d.seq,
                });
            }
        }
        if expect != head.seq {
            return Err(ManifestError::SeqGap {
                expected: head.seq,
                found: expect,
            });
        }
        Ok(head)
    }

    fn from_v1(h: HeadV1) -> Head {
        Head {
            history: None,
            format: FORMAT_V1,
            generation: h.generation,
            seq: h.seq,
            snapshot: h.snapshot.map(|s| SnapshotRef {
                time_ms: None,
                seq: s.seq,
                parts: vec![PartRef {
                    name: s.name,
                    sha256: s.sha256,
                    size: s.size,
                    entries: None,
                }],
                manifest_version: Some(s.version),
            }),
            deltas: h
                .deltas
                .into_iter()
                .map(|d| DeltaRef {
                    time_ms: None,
                    seq: d.seq,
                    parts: vec![PartRef {
                        name: d.name,
                        sha256: d.sha256,
                        size: d.size,
                        entries: None,
                    }],
                })
                .collect(),
        }
    }

    fn to_v1(&self) -> HeadV1 {
        let first = |parts: &[PartRef]| {
            parts.first().cloned().unwrap_or(PartRef {
                name: snapshot_blob_name(),
                sha256: Digest::of(b""),
                size: 0,
                entries: None,
            })
        };
        HeadV1 {
            format: FORMAT_V1,
            generation: self.generation.clone(),
            seq: self.seq,
            snapshot: self.snapshot.as_ref().map(|s| {
                let p = first(&s.parts);
                SnapshotRefV1 {
                    name: p.name,
                    version: s.manifest_version.unwrap_or(1),
                    sha256: p.sha256,
                    size: p.size,
                    seq: s.seq,
                }
            }),
            deltas: self
                .deltas
                .iter()
                .map(|d| {
                    let p = first(&d.parts);
                    DeltaRefV1 {
                        name: p.name,
                        sha256: p.sha256,
                        size: p.size,
                        seq: d.seq,
                    }
                })
                .collect(),
        }
    }

    /// The property value, in the head's own format (a format 1 head read from a page
    /// serialises back to the same document).
    pub fn to_value(&self) -> serde_json::Value {
        if self.format == FORMAT_V1 {
            serde_json::to_value(self.to_v1())
                .expect("a format 1 head has only string keys and plain values")
        } else {
            parts::head_to_value(self)
        }
    }

    /// Every part the head names: the snapshot's, then the deltas'.
    pub fn parts(&self) -> impl Iterator<Item = &PartRef> {
        self.snapshot
            .iter()
            .flat_map(|s| s.parts.iter())
            .chain(self.deltas.iter().flat_map(|d| d.parts.iter()))
    }

    /// The serialised length of the head.
    pub fn byte_len(&self) -> usize {
        self.to_value().to_string().len()
    }

    /// Whether the next commit should write a fresh snapshot (too many deltas, the head
    /// gets near the property's size limit, or the head is still of format 1).
    pub fn needs_compaction(&self) -> bool {
        self.format != FORMAT_VERSION
            || self.deltas.len() > 32
            || self.byte_len() > Limits::default().max_head_bytes / 2
    }
}

impl Snapshot {
    /// Parse and validate a format 1 `manifest.json`.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Snapshot, ManifestError> {
        let s: Snapshot = parse_bounded(bytes, FORMAT_V1, limits)?;
        check_generation(&s.generation)?;
        validate_entries(&s.files, limits)?;
        Ok(s)
    }

    /// Serialise (sorted by path, one entry per line, readable).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut files = self.files.clone();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut out = format!(
            "{{\"format\":{},\"generation\":{},\"seq\":{},\"files\":[",
            self.format,
            serde_json::Value::String(self.generation.clone()),
            self.seq
        );
        for (i, f) in files.iter().enumerate() {
            out.push_str(if i == 0 { "\n" } else { ",\n" });
            out.push_str(&serde_json::to_string(f).expect("an entry serialises"));
        }
        out.push_str("\n]}\n");
        out.into_bytes()
    }
}

impl Delta {
    /// Parse and validate a format 1 delta.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Delta, ManifestError> {
        let d: Delta = parse_bounded(bytes, FORMAT_V1, limits)?;
        check_generation(&d.generation)?;
        if d.device.is_empty() {
            return Err(invalid("device", "empty device id"));
        }
        validate_entries(&d.entries, limits)?;
        Ok(d)
    }

    /// Serialise.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a delta serialises")
    }
}

impl RemoteTree {
    /// An empty tree of a new history.
    pub fn empty(generation: String) -> RemoteTree {
        RemoteTree {
            generation,
            seq: 0,
            files: BTreeMap::new(),
        }
    }

    /// The tree a snapshot describes.
    pub fn from_snapshot(s: Snapshot) -> RemoteTree {
        RemoteTree {
            generation: s.generation,
            seq: s.seq,
            files: s.files.into_iter().map(|e| (e.path.clone(), e)).collect(),
        }
    }

    /// Apply the next delta: its entries replace the tree's per path. On error the tree is
    /// left as it was.
    pub fn apply_delta(&mut self, d: Delta) -> Result<(), ManifestError> {
        self.apply_entries(&d.generation, d.seq, d.entries)
    }

    /// [`RemoteTree::apply_delta`] of a delta this device keeps: its entries are copied in
    /// one by one, never as a second list (issue 15).
    pub fn apply_delta_ref(&mut self, d: &Delta) -> Result<(), ManifestError> {
        self.apply_entries(&d.generation, d.seq, d.entries.iter().cloned())
    }

    fn apply_entries(
        &mut self,
        generation: &str,
        seq: u64,
        entries: impl IntoIterator<Item = FileEntry>,
    ) -> Result<(), ManifestError> {
        let entries = entries.into_iter();
        if generation != self.generation {
            return Err(ManifestError::GenerationMismatch);
        }
        let expected = self.seq.checked_add(1).ok_or(ManifestError::SeqGap {
            expected: self.seq,
            found: seq,
        })?;
        if seq != expected {
            return Err(ManifestError::SeqGap {
                expected,
                found: seq,
            });
        }
        if self.files.is_empty() {
            // A first upload (or a new generation's first delta): the tree is built in
            // batches, with full nodes (see `crate::bulk_map`; entry by entry, the tree of a
            // first upload of 100,000 files was half again its size, at that sync's peak).
            let mut files = crate::bulk_map::BulkMap::with_expected(entries.size_hint().0);
            for e in entries {
                files.push(e.path.clone(), e);
            }
            self.files = files.finish();
            let touched: Vec<RelPath> = self.files.keys().cloned().collect();
            if let Err(e) = self.check_no_file_parents(&touched) {
                self.files.clear();
                return Err(e);
            }
            self.seq = seq;
            return Ok(());
        }
        // What the delta replaced, to undo it if it breaks the tree's rule: only the
        // replaced entries are kept (a first upload replaces none).
        let mut touched: Vec<RelPath> = Vec::with_capacity(entries.size_hint().0);
        let mut replaced: Vec<(usize, FileEntry)> = Vec::new();
        for e in entries {
            touched.push(e.path.clone());
            if let Some(old) = self.files.insert(e.path.clone(), e) {
                replaced.push((touched.len() - 1, old));
            }
        }
        if let Err(e) = self.check_no_file_parents(&touched) {
            // In reverse order, so a path the delta named twice gets its first old entry.
            let mut replaced = replaced.into_iter().rev().peekable();
            for (i, path) in touched.into_iter().enumerate().rev() {
                match replaced.next_if(|(at, _)| *at == i) {
                    Some((_, old)) => self.files.insert(path, old),
                    None => self.files.remove(&path),
                };
            }
            return Err(e);
        }
        self.seq = seq;
        Ok(())
    }

    /// A live file may not be the parent of a live entry; checks the paths in `touched`
    /// against the whole tree (their ancestors and their descendants).
    ///
    /// Bounded work on deep paths: the folders above a path are looked up as slices of it,
    /// deepest first, and the walk stops at an untouched live folder (the tree held the rule
    /// before this delta, so nothing above that folder is a live file, and a touched file above
    /// it is caught by its own descendant check). A walk that goes on for long (a hostile
    /// delta of deep paths without folder entries) switches to a hash index of the tree's live
    /// files, which answers for a whole path in one pass over it.
    fn check_no_file_parents(&self, touched: &[RelPath]) -> Result<(), ManifestError> {
        const SHORT_WALK: usize = 16;
        let touched_set: HashSet<&str> = touched.iter().map(RelPath::as_str).collect();
        let mut index: Option<LiveFiles<'_>> = None;
        for path in touched {
            let Some(entry) = self.files.get(path) else {
                continue;
            };
            if entry.deleted {
                continue;
            }
            let mut settled = false;
            for (step, p) in path.ancestors().enumerate() {
                if step == SHORT_WALK {
                    break;
                }
                match self.files.get(p) {
                    Some(e) if !e.deleted && e.kind == EntryKind::File => {
                        return Err(invalid(path.as_str(), format!("its parent {p} is a file")));
                    }
                    Some(e) if !e.deleted && !touched_set.contains(p) => {
                        settled = true;
                        break;
                    }
                    _ => {}
                }
            }
            if !settled && path.depth() > SHORT_WALK + 1 {
                let index = index.get_or_insert_with(|| {
                    let mut live = LiveFiles::default();
                    for e in self.files.values() {
                        if !e.deleted && e.kind == EntryKind::File {
                            live.insert(&e.path);
                        }
                    }
                    live
                });
                if let Some(p) = index.file_above(path) {
                    return Err(invalid(path.as_str(), format!("its parent {p} is a file")));
                }
            }
            if entry.kind == EntryKind::File {
                if let Some(child) = self.live_descendants(path).next() {
                    return Err(invalid(
                        child.path.as_str(),
                        format!("its parent {path} is a file"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Live entries strictly inside `dir`.
    pub fn live_descendants<'a>(&'a self, dir: &RelPath) -> impl Iterator<Item = &'a FileEntry> {
        // Everything below `dir` sits together from `dir/` on (names such as `dir-x` sort
        // between `dir` and `dir/` and are never visited).
        let prefix = format!("{}/", dir.as_str());
        self.files
            .range::<str, _>((
                std::ops::Bound::Included(prefix.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(k, _)| k.as_str().starts_with(prefix.as_str()))
            .map(|(_, e)| e)
            .filter(|e| !e.deleted)
    }

    /// The snapshot of this tree; tombstones older than `drop_tombstones_before_ns` are left out.
    pub fn to_snapshot(&self, drop_tombstones_before_ns: Option<i64>) -> Snapshot {
        let files = self
            .snapshot_entries(drop_tombstones_before_ns)
            .cloned()
            .collect();
        Snapshot {
            format: FORMAT_V1,
            generation: self.generation.clone(),
            seq: self.seq,
            files,
        }
    }

    /// The entries a snapshot of this tree lists, in path order: all but the tombstones older
    /// than `drop_tombstones_before_ns`.
    pub fn snapshot_entries(
        &self,
        drop_tombstones_before_ns: Option<i64>,
    ) -> impl Iterator<Item = &FileEntry> {
        self.files.values().filter(move |e| {
            !(e.deleted && drop_tombstones_before_ns.is_some_and(|t| e.mtime_ns < t))
        })
    }

    /// Live entries (no tombstones).
    pub fn live(&self) -> impl Iterator<Item = &FileEntry> {
        self.files.values().filter(|e| !e.deleted)
    }
}

/// `c-<hex>`: a blob holding exactly one chunk.
pub fn chunk_blob_name(d: &Digest) -> BlobName {
    BlobName::new(format!("c-{}", d.to_hex())).expect("hex is a valid blob name")
}

/// `p-<hex>`: a pack named by the hash of its bytes (written until 2026-12; read still; new
/// packs are `m-`, see [`pack_name`]).
pub fn pack_blob_name(d: &Digest) -> BlobName {
    BlobName::new(format!("p-{}", d.to_hex())).expect("hex is a valid blob name")
}

/// `d-<hex>.json`: a delta, named by the hash of its bytes.
pub fn delta_blob_name(d: &Digest) -> BlobName {
    BlobName::new(format!("d-{}.json", d.to_hex())).expect("hex is a valid blob name")
}

/// `s-<hex>.json`: one part of a format 2 snapshot, named by the hash of its bytes.
pub fn snapshot_part_blob_name(d: &Digest) -> BlobName {
    BlobName::new(format!("s-{}.json", d.to_hex())).expect("hex is a valid blob name")
}

/// `manifest.json` (format 1).
pub fn snapshot_blob_name() -> BlobName {
    BlobName::new(SNAPSHOT_NAME).expect("constant is a valid blob name")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_entry_and_a_chunk_reference_hold_their_shared_names_in_one_pointer_each() {
        // The base, the remote tree and the plan each hold 100,000 entries (and a chunk
        // reference per file): the path, the device and the blob name are shared text, a
        // pointer each (issue 15: 112 and 64 bytes with `Arc<str>`).
        assert_eq!(std::mem::size_of::<BlobName>(), 8);
        assert_eq!(std::mem::size_of::<ChunkRef>(), 56);
        assert_eq!(std::mem::size_of::<FileEntry>(), 96);
        let a = device_name("laptop");
        let b = device_name("laptop");
        assert!(
            std::ptr::eq(a.as_str(), b.as_str()),
            "one copy per device name"
        );
    }

    fn file(path: &str, content: &[u8]) -> FileEntry {
        let sha = Digest::of(content);
        FileEntry {
            path: RelPath::new(path).unwrap(),
            kind: EntryKind::File,
            deleted: false,
            size: content.len() as u64,
            mtime_ns: 1_700_000_000_000_000_000,
            sha256: Some(sha),
            version: 1,
            device: "dev-1".into(),
            chunks: if content.is_empty() {
                Default::default()
            } else {
                vec![ChunkRef {
                    sha256: sha,
                    size: content.len() as u64,
                    blob: pack_blob_name(&Digest::of(b"pack")),
                    offset: 7,
                }]
                .into()
            },
        }
    }

    fn snapshot(files: Vec<FileEntry>) -> Snapshot {
        Snapshot {
            format: FORMAT_V1,
            generation: "gen-1".into(),
            seq: 3,
            files,
        }
    }

    #[test]
    fn live_files_find_a_path_that_shares_its_hash_with_another() {
        // Two live files whose hashes collide (forced: the first slot of the hash holds
        // another path): the second is kept beside it, found, and not confused with it.
        let a = RelPath::new("a/b").expect("path");
        let other = RelPath::new("zz").expect("path");
        let mut live = LiveFiles::default();
        let (h, _) = a.prefix_hashes(&live.keys).last().expect("a hash");
        live.by_hash.insert(h, other.as_str());
        live.insert(&a);
        assert_eq!(
            live.collided.get(&h),
            Some(&vec!["a/b"]),
            "kept beside the other"
        );
        let below = RelPath::new("a/b/c").expect("path");
        assert_eq!(live.file_above(&below), Some("a/b"));
        let beside = RelPath::new("a/x").expect("path");
        assert_eq!(live.file_above(&beside), None);
    }

    #[test]
    fn snapshot_round_trips_and_reads_like_json() {
        let s = snapshot(vec![
            file("b.txt", b"bb"),
            file("a/x.txt", b"x"),
            file("empty", b""),
        ]);
        let bytes = s.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.starts_with("{\"format\":1,\"generation\":\"gen-1\",\"seq\":3,\"files\":[\n"),
            "{text}"
        );
        assert!(
            text.find("a/x.txt").unwrap() < text.find("b.txt").unwrap(),
            "sorted by path"
        );
        let back = Snapshot::parse(&bytes, &Limits::default()).unwrap();
        let mut expected = s.clone();
        expected.files.sort_by(|a, b| a.path.cmp(&b.path));
        assert_eq!(back, expected);
    }

    #[test]
    fn a_known_document_parses() {
        let doc = br#"{"format":1,"generation":"g-1","seq":1,"files":[
            {"path":"docs","kind":"dir","mtime_ns":0,"version":1,"device":"d"},
            {"path":"docs/a.txt","kind":"file","size":3,"mtime_ns":5,"version":2,"device":"d",
             "sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
             "chunks":[{"sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","size":3,"blob":"p-00","offset":0}]},
            {"path":"gone.txt","kind":"file","deleted":true,"mtime_ns":9,"version":4,"device":"d"}]}"#;
        let s = Snapshot::parse(doc, &Limits::default()).unwrap();
        assert_eq!(s.files.len(), 3);
        let tree = RemoteTree::from_snapshot(s);
        assert_eq!(tree.live().count(), 2, "the tombstone is kept but not live");
    }

    fn refused(doc: &str) -> ManifestError {
        Snapshot::parse(doc.as_bytes(), &Limits::default()).expect_err(doc)
    }

    #[test]
    fn hostile_and_broken_documents_are_refused_with_a_reason() {
        let ok_entry = |path: &str| {
            format!(r#"{{"path":"{path}","kind":"dir","mtime_ns":0,"version":1,"device":"d"}}"#)
        };
        let doc = |entries: &[String]| {
            format!(
                r#"{{"format":1,"generation":"g","seq":1,"files":[{}]}}"#,
                entries.join(",")
            )
        };
        for bad_path in [
            "../etc/passwd",
            "/abs",
            "a\\\\b",
            "C:/x",
            "a/../../b",
            "a\\u0000b",
            "",
            "a//b",
        ] {
            assert!(
                matches!(refused(&doc(&[ok_entry(bad_path)])), ManifestError::Json(_)),
                "path {bad_path:?} is refused"
            );
        }
        let long = "x".repeat(300);
        assert!(
            matches!(refused(&doc(&[ok_entry(&long)])), ManifestError::Json(_)),
            "over-long names"
        );
        assert!(
            matches!(
                refused(&doc(&[ok_entry("a"), ok_entry("a")])),
                ManifestError::Invalid { .. }
            ),
            "duplicates"
        );
        let bad_sum = r#"{"path":"f","kind":"file","size":10,"mtime_ns":0,"version":1,"device":"d","sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","chunks":[{"sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","size":3,"blob":"c-1","offset":0}]}"#;
        assert!(
            matches!(
                refused(&doc(&[bad_sum.to_string()])),
                ManifestError::Invalid { .. }
            ),
            "sizes that do not add up"
        );
        let overflow = r#"{"path":"f","kind":"file","size":1,"mtime_ns":0,"version":1,"device":"d","sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","chunks":[{"sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","size":1,"blob":"c-1","offset":18446744073709551615}]}"#;
        assert!(
            matches!(
                refused(&doc(&[overflow.to_string()])),
                ManifestError::Invalid { .. }
            ),
            "offset overflow"
        );
        let no_hash =
            r#"{"path":"f","kind":"file","size":0,"mtime_ns":0,"version":1,"device":"d"}"#;
        assert!(
            matches!(
                refused(&doc(&[no_hash.to_string()])),
                ManifestError::Invalid { .. }
            ),
            "file without hash"
        );
        let parent_file = [
            r#"{"path":"f","kind":"file","size":0,"mtime_ns":0,"version":1,"device":"d","sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}"#.to_string(),
            ok_entry("f/child"),
        ];
        assert!(
            matches!(refused(&doc(&parent_file)), ManifestError::Invalid { .. }),
            "a file that is also a folder"
        );
        let bad_blob = r#"{"path":"f","kind":"file","size":1,"mtime_ns":0,"version":1,"device":"d","sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","chunks":[{"sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","size":1,"blob":"../x","offset":0}]}"#;
        assert!(
            matches!(
                refused(&doc(&[bad_blob.to_string()])),
                ManifestError::Json(_)
            ),
            "blob names are validated"
        );
        assert!(
            matches!(
                refused(r#"{"format":4,"generation":"g","seq":1,"files":[],"new_field":1}"#),
                ManifestError::UnsupportedFormat { found: 4, .. }
            ),
            "newer format first"
        );
        assert!(matches!(refused("{not json"), ManifestError::Json(_)));
        assert!(
            matches!(
                refused(r#"{"generation":"g","seq":1,"files":[]}"#),
                ManifestError::Invalid { .. }
            ),
            "missing format"
        );
        assert!(
            matches!(
                refused(r#"{"format":1,"generation":"g","seq":1,"files":[],"x":1}"#),
                ManifestError::Json(_)
            ),
            "unknown fields"
        );
    }

    #[test]
    fn an_enormous_document_is_refused_before_parsing() {
        let limits = Limits {
            max_bytes: 1000,
            ..Limits::default()
        };
        let big = vec![b' '; 5000];
        assert!(matches!(
            Snapshot::parse(&big, &limits),
            Err(ManifestError::TooLarge {
                size: 5000,
                limit: 1000
            })
        ));
        let many = Limits {
            max_entries: 2,
            ..Limits::default()
        };
        let s = snapshot(vec![file("a", b"1"), file("b", b"2"), file("c", b"3")]);
        assert!(matches!(
            Snapshot::parse(&s.to_bytes(), &many),
            Err(ManifestError::TooLarge { .. })
        ));
    }

    #[test]
    fn head_checks_its_delta_chain_and_asks_for_compaction() {
        let part = |name: BlobName| PartRef {
            name,
            sha256: Digest::of(b"x"),
            size: 1,
            entries: None,
        };
        let d = |seq| DeltaRef {
            time_ms: None,
            seq,
            parts: vec![part(delta_blob_name(&Digest::of(&[seq as u8])))],
        };
        let snap = SnapshotRef {
            time_ms: None,
            seq: 5,
            parts: vec![part(snapshot_blob_name())],
            manifest_version: Some(2),
        };
        let head = Head {
            history: None,
            format: 1,
            generation: "g".into(),
            seq: 7,
            snapshot: Some(snap.clone()),
            deltas: vec![d(6), d(7)],
        };
        assert_eq!(
            Head::parse(&head.to_value(), &Limits::default()).unwrap(),
            head
        );
        let gap = Head {
            history: None,
            deltas: vec![d(7)],
            ..head.clone()
        };
        assert!(matches!(
            Head::parse(&gap.to_value(), &Limits::default()),
            Err(ManifestError::SeqGap { .. })
        ));
        let newer = serde_json::json!({"format": 9, "generation": "g", "seq": 1});
        assert!(matches!(
            Head::parse(&newer, &Limits::default()),
            Err(ManifestError::UnsupportedFormat { .. })
        ));
        assert!(
            head.needs_compaction(),
            "a format 1 head is compacted into format 2 by the next commit"
        );
        let v2 = |deltas: Vec<DeltaRef>| Head {
            history: None,
            format: FORMAT_VERSION,
            seq: 5 + deltas.len() as u64,
            snapshot: Some(SnapshotRef {
                time_ms: None,
                seq: 5,
                parts: vec![PartRef {
                    entries: Some(1),
                    ..part(snapshot_part_blob_name(&Digest::of(b"x")))
                }],
                manifest_version: None,
            }),
            deltas,
            ..head.clone()
        };
        assert!(!v2(vec![d(6), d(7)]).needs_compaction());
        assert!(
            v2((6..=45).map(d).collect()).needs_compaction(),
            "more than 32 deltas"
        );
    }

    #[test]
    fn deltas_apply_in_order_only() {
        let mut tree = RemoteTree::empty("g".into());
        let delta = |seq, entries| Delta {
            format: 1,
            generation: "g".into(),
            seq,
            device: "d".into(),
            entries,
        };
        tree.apply_delta(delta(1, vec![file("a", b"1")])).unwrap();
        assert!(matches!(
            tree.apply_delta(delta(3, vec![])),
            Err(ManifestError::SeqGap {
                expected: 2,
                found: 3
            })
        ));
        let other = Delta {
            generation: "h".into(),
            ..delta(2, vec![])
        };
        assert!(matches!(
            tree.apply_delta(other),
            Err(ManifestError::GenerationMismatch)
        ));
        let mut gone = file("a", b"1");
        gone.deleted = true;
        gone.sha256 = None;
        gone.size = 0;
        gone.chunks = Default::default();
        gone.version = 2;
        tree.apply_delta(delta(2, vec![gone])).unwrap();
        assert_eq!(tree.live().count(), 0);
        assert_eq!(
            tree.to_snapshot(Some(i64::MAX)).files.len(),
            0,
            "old tombstones are dropped at compaction"
        );
        assert_eq!(tree.to_snapshot(None).files.len(), 1, "and kept otherwise");
        let bytes = delta(3, vec![file("b", b"2")]).to_bytes();
        assert_eq!(Delta::parse(&bytes, &Limits::default()).unwrap().seq, 3);
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Snapshot::parse(&bytes, &Limits::default());
            let _ = Delta::parse(&bytes, &Limits::default());
        }

        #[test]
        fn mutated_documents_never_panic(pos in 0usize..400, byte in any::<u8>()) {
            let mut bytes = snapshot(vec![file("a/b.txt", b"hello"), file("c", b"")]).to_bytes();
            let i = pos % bytes.len();
            bytes[i] = byte;
            if let Ok(s) = Snapshot::parse(&bytes, &Limits::default()) {
                // Whatever parses is valid by construction.
                for f in &s.files {
                    prop_assert!(validate_entry(f, &Limits::default()).is_ok());
                }
            }
        }

        #[test]
        fn serialise_then_parse_is_identity(names in proptest::collection::btree_set("[a-z]{1,8}", 0..20)) {
            let files: Vec<FileEntry> = names.iter().map(|n| file(n, n.as_bytes())).collect();
            let s = snapshot(files);
            let back = Snapshot::parse(&s.to_bytes(), &Limits::default()).unwrap();
            prop_assert_eq!(back.files.len(), names.len());
        }
    }
}

/// Fixed documents written out literally, and every refusal the format spec lists.
#[cfg(test)]
mod format_tests {
    use super::*;
    use proptest::prelude::*;

    const HELLO: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    const WORLD: &str = "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7";
    const HELLOWORLD: &str = "936a185caaa266bb9cbe981e9e05cb78cd732b0b3280eb944412bb6f8f8f07af";
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn d(hex: &str) -> Digest {
        Digest::from_hex(hex).unwrap()
    }
    fn p(s: &str) -> RelPath {
        RelPath::new(s).unwrap()
    }
    fn file(path: &str, content: &[u8], version: u64) -> FileEntry {
        let sha = Digest::of(content);
        FileEntry {
            path: p(path),
            kind: EntryKind::File,
            deleted: false,
            size: content.len() as u64,
            mtime_ns: 1_700_000_000_000_000_000,
            sha256: Some(sha),
            version,
            device: "laptop".into(),
            chunks: if content.is_empty() {
                Default::default()
            } else {
                vec![ChunkRef {
                    sha256: sha,
                    size: content.len() as u64,
                    blob: chunk_blob_name(&sha),
                    offset: 0,
                }]
                .into()
            },
        }
    }
    fn dir(path: &str) -> FileEntry {
        FileEntry {
            path: p(path),
            kind: EntryKind::Dir,
            deleted: false,
            size: 0,
            mtime_ns: 5,
            sha256: None,
            version: 1,
            device: "laptop".into(),
            chunks: Default::default(),
        }
    }
    fn tomb(path: &str) -> FileEntry {
        FileEntry {
            deleted: true,
            size: 0,
            sha256: None,
            chunks: Default::default(),
            version: 2,
            ..file(path, b"x", 1)
        }
    }
    fn snapshot(files: Vec<FileEntry>) -> Snapshot {
        Snapshot {
            format: FORMAT_V1,
            generation: "gen-1".into(),
            seq: 3,
            files,
        }
    }
    fn invalid_reason(r: Result<Snapshot, ManifestError>) -> (String, String) {
        match r {
            Err(ManifestError::Invalid { path, reason }) => (path, reason),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn snapshot_serialises_to_the_documented_readable_form() {
        let two_chunks = FileEntry {
            path: p("docs/big.bin"),
            kind: EntryKind::File,
            deleted: false,
            size: 10,
            mtime_ns: 42,
            sha256: Some(d(HELLOWORLD)),
            version: 7,
            device: "desk".into(),
            chunks: vec![
                ChunkRef {
                    sha256: d(HELLO),
                    size: 5,
                    blob: pack_blob_name(&d(EMPTY)),
                    offset: 100,
                },
                ChunkRef {
                    sha256: d(WORLD),
                    size: 5,
                    blob: chunk_blob_name(&d(WORLD)),
                    offset: 0,
                },
            ]
            .into(),
        };
        // Given out of order: written sorted by path.
        let s = snapshot(vec![
            two_chunks,
            dir("docs"),
            tomb("old.txt"),
            file("empty", b"", 1),
        ]);
        let expected = format!(
            r#"{{"format":1,"generation":"gen-1","seq":3,"files":[
{{"path":"docs","kind":"dir","deleted":false,"size":0,"mtime_ns":5,"version":1,"device":"laptop"}},
{{"path":"docs/big.bin","kind":"file","deleted":false,"size":10,"mtime_ns":42,"sha256":"{HELLOWORLD}","version":7,"device":"desk","chunks":[{{"sha256":"{HELLO}","size":5,"blob":"p-{EMPTY}","offset":100}},{{"sha256":"{WORLD}","size":5,"blob":"c-{WORLD}","offset":0}}]}},
{{"path":"empty","kind":"file","deleted":false,"size":0,"mtime_ns":1700000000000000000,"sha256":"{EMPTY}","version":1,"device":"laptop"}},
{{"path":"old.txt","kind":"file","deleted":true,"size":0,"mtime_ns":1700000000000000000,"version":2,"device":"laptop"}}
]}}
"#
        );
        let bytes = s.to_bytes();
        assert_eq!(String::from_utf8(bytes.clone()).unwrap(), expected);
        let back = Snapshot::parse(&bytes, &Limits::default()).unwrap();
        assert_eq!(back.files.len(), 4);
        assert_eq!(back.files[0].path.as_str(), "docs", "sorted by path");
        assert_eq!(RemoteTree::from_snapshot(back).live().count(), 3);
    }

    #[test]
    fn a_hand_written_snapshot_parses() {
        let text = format!(
            r#"{{
  "format": 1, "generation": "0f3a-77", "seq": 1,
  "files": [
    {{"path": "a.txt", "kind": "file", "size": 5, "mtime_ns": -3,
      "sha256": "{HELLO}", "version": 1, "device": "d1",
      "chunks": [{{"sha256": "{HELLO}", "size": 5, "blob": "c-{HELLO}", "offset": 0}}]}},
    {{"path": "gone", "kind": "dir", "deleted": true, "mtime_ns": 9, "version": 4, "device": "d2"}}
  ]
}}"#
        );
        let s = Snapshot::parse(text.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(s.files[0].sha256, Some(d(HELLO)));
        assert!(s.files[1].deleted);
        assert_eq!(s.files[1].kind, EntryKind::Dir);
    }

    #[test]
    fn head_round_trips_through_its_documented_json() {
        let text = format!(
            r#"{{"format":1,"generation":"gen-1","seq":3,"snapshot":{{"name":"manifest.json","version":2,"sha256":"{HELLO}","size":120,"seq":1}},"deltas":[{{"name":"d-{WORLD}.json","sha256":"{WORLD}","size":80,"seq":2}},{{"name":"d-{EMPTY}.json","sha256":"{EMPTY}","size":81,"seq":3}}]}}"#
        );
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let head = Head::parse(&value, &Limits::default()).unwrap();
        assert_eq!(head.seq, 3);
        assert_eq!(
            head.snapshot.as_ref().unwrap().parts[0].name,
            snapshot_blob_name()
        );
        assert_eq!(head.deltas[0].parts[0].name, delta_blob_name(&d(WORLD)));
        assert_eq!(
            head.to_value(),
            value,
            "serialises back to the same document"
        );
        assert!(
            head.needs_compaction(),
            "the next commit rewrites a format 1 head as format 2"
        );

        let empty: serde_json::Value =
            serde_json::from_str(r#"{"format":1,"generation":"g","seq":0}"#).unwrap();
        let h = Head::parse(&empty, &Limits::default()).unwrap();
        assert!(h.snapshot.is_none() && h.deltas.is_empty());
    }

    #[test]
    fn head_refuses_gaps_and_newer_formats() {
        let limits = Limits::default();
        let gap = serde_json::json!({"format":1,"generation":"g","seq":3,
            "deltas":[{"name":format!("d-{HELLO}.json"),"sha256":HELLO,"size":1,"seq":1},
                      {"name":format!("d-{WORLD}.json"),"sha256":WORLD,"size":1,"seq":3}]});
        assert!(matches!(
            Head::parse(&gap, &limits),
            Err(ManifestError::SeqGap {
                expected: 2,
                found: 3
            })
        ));
        let short = serde_json::json!({"format":1,"generation":"g","seq":5});
        assert!(matches!(
            Head::parse(&short, &limits),
            Err(ManifestError::SeqGap { .. })
        ));
        // A newer format is refused before its (unknown) shape is looked at.
        let newer = serde_json::json!({"format":4,"whatever":{"new":true}});
        let err = Head::parse(&newer, &limits).unwrap_err();
        assert!(matches!(
            err,
            ManifestError::UnsupportedFormat {
                found: 4,
                supported: 3
            }
        ));
        assert!(err.to_string().contains("upgrade"), "{err}");
        let huge = serde_json::json!({"format":1,"generation":"g","seq":0,"x":"y".repeat(40_000)});
        assert!(matches!(
            Head::parse(&huge, &limits),
            Err(ManifestError::TooLarge { .. })
        ));
        let bad_gen = serde_json::json!({"format":1,"generation":"a b","seq":0});
        assert!(Head::parse(&bad_gen, &limits).is_err());
        let unknown = serde_json::json!({"format":1,"generation":"g","seq":0,"extra":1});
        assert!(matches!(
            Head::parse(&unknown, &limits),
            Err(ManifestError::Json(_))
        ));
    }

    #[test]
    fn compaction_is_due_after_32_deltas() {
        let mut head = Head {
            history: None,
            format: FORMAT_VERSION,
            generation: "g".into(),
            seq: 0,
            snapshot: None,
            deltas: Vec::new(),
        };
        for i in 1..=33u64 {
            let h = Digest::of(&i.to_le_bytes());
            head.seq = i;
            head.deltas.push(DeltaRef {
                time_ms: None,
                seq: i,
                parts: vec![PartRef {
                    name: delta_blob_name(&h),
                    sha256: h,
                    size: 100,
                    entries: Some(1),
                }],
            });
            assert_eq!(head.needs_compaction(), i > 32, "at {i} deltas");
            assert!(head.to_value().to_string().len() < Limits::default().max_head_bytes);
        }
    }

    #[test]
    fn every_invalid_entry_is_refused_naming_its_path() {
        let limits = Limits::default();
        let parse = |files: Vec<FileEntry>| Snapshot::parse(&snapshot(files).to_bytes(), &limits);

        let (path, reason) =
            invalid_reason(parse(vec![file("a", b"hello", 1), file("a", b"hello", 2)]));
        assert_eq!((path.as_str(), reason.as_str()), ("a", "listed twice"));

        let mut no_sha = file("n", b"hello", 1);
        no_sha.sha256 = None;
        assert_eq!(invalid_reason(parse(vec![no_sha])).0, "n");

        let mut bad_sum = file("s", b"hello", 1);
        bad_sum.size = 6;
        let (path, reason) = invalid_reason(parse(vec![bad_sum]));
        assert_eq!(path, "s");
        assert!(reason.contains("add up"), "{reason}");

        let mut many = file("m", b"hello", 1);
        many.size = 3;
        many.sha256 = Some(d(HELLO));
        many.chunks = (0..3)
            .map(|i| ChunkRef {
                sha256: d(WORLD),
                size: 1,
                blob: chunk_blob_name(&d(WORLD)),
                offset: i,
            })
            .collect();
        let small = Limits {
            max_chunks_per_file: 2,
            ..Limits::default()
        };
        let r = Snapshot::parse(&snapshot(vec![many.clone()]).to_bytes(), &small);
        assert_eq!(invalid_reason(r), ("m".into(), "too many chunks".into()));
        assert!(
            parse(vec![many.clone()]).is_ok(),
            "3 chunks are fine by default"
        );

        let mut dir_chunks = dir("dc");
        dir_chunks.chunks = file("x", b"hello", 1).chunks;
        assert_eq!(invalid_reason(parse(vec![dir_chunks])).0, "dc");
        let mut dir_size = dir("ds");
        dir_size.size = 1;
        assert_eq!(invalid_reason(parse(vec![dir_size])).0, "ds");
        let mut tomb_size = tomb("ts");
        tomb_size.size = 5;
        assert_eq!(invalid_reason(parse(vec![tomb_size])).0, "ts");
        let mut tomb_chunks = tomb("tc");
        tomb_chunks.chunks = file("x", b"hello", 1).chunks;
        assert_eq!(invalid_reason(parse(vec![tomb_chunks])).0, "tc");
        let mut tomb_sha = tomb("th");
        tomb_sha.sha256 = Some(d(HELLO));
        assert_eq!(invalid_reason(parse(vec![tomb_sha])).0, "th");

        let (path, reason) = invalid_reason(parse(vec![file("f", b"hello", 1), dir("f/sub")]));
        assert_eq!(path, "f/sub");
        assert!(reason.contains("is a file"), "{reason}");
        let nested = invalid_reason(parse(vec![file("f", b"hello", 1), file("f/a/b", b"x", 1)]));
        assert_eq!(nested.0, "f/a/b");
        assert!(
            parse(vec![tomb("f"), file("f/a", b"x", 1)]).is_ok(),
            "a tombstone may have live children"
        );

        let mut overflow = file("o", b"hello", 1);
        Arc::make_mut(&mut overflow.chunks)[0].offset = u64::MAX - 2;
        let (path, reason) = invalid_reason(parse(vec![overflow]));
        assert_eq!(path, "o");
        assert!(reason.contains("overflow"), "{reason}");
        let mut sum_overflow = file("so", b"hello", 1);
        sum_overflow.size = 0;
        let mut overflowing = sum_overflow.chunks[0].clone();
        overflowing.size = u64::MAX;
        sum_overflow.chunks = vec![overflowing, sum_overflow.chunks[0].clone()].into();
        assert_eq!(invalid_reason(parse(vec![sum_overflow])).0, "so");

        let mut no_device = file("nd", b"hello", 1);
        no_device.device = String::new().into();
        assert_eq!(invalid_reason(parse(vec![no_device])).0, "nd");

        let mut empty_bad = file("e", b"", 1);
        empty_bad.sha256 = Some(d(HELLO));
        assert_eq!(invalid_reason(parse(vec![empty_bad])).0, "e");
        let mut one_chunk_bad = file("oc", b"hello", 1);
        Arc::make_mut(&mut one_chunk_bad.chunks)[0].sha256 = d(WORLD);
        assert_eq!(invalid_reason(parse(vec![one_chunk_bad])).0, "oc");
        let mut zero_version = file("z", b"hello", 1);
        zero_version.version = 0;
        assert_eq!(invalid_reason(parse(vec![zero_version])).0, "z");
    }

    #[test]
    fn paths_are_validated_by_the_rel_path_deserializer() {
        for bad in [
            "../x",
            "/etc/passwd",
            "a\\\\b",
            "C:/x",
            "a\\u0000b",
            "a//b",
            ".",
        ] {
            let text = format!(
                r#"{{"format":1,"generation":"g","seq":1,"files":[{{"path":"{bad}","kind":"dir","mtime_ns":0,"version":1,"device":"d"}}]}}"#
            );
            let r = Snapshot::parse(text.as_bytes(), &Limits::default());
            assert!(matches!(r, Err(ManifestError::Json(_))), "{bad}: {r:?}");
        }
        let long = "x".repeat(300);
        let text = format!(
            r#"{{"format":1,"generation":"g","seq":1,"files":[{{"path":"{long}","kind":"dir","mtime_ns":0,"version":1,"device":"d"}}]}}"#
        );
        assert!(Snapshot::parse(text.as_bytes(), &Limits::default()).is_err());
    }

    #[test]
    fn unknown_formats_bad_json_and_huge_inputs_are_refused() {
        let limits = Limits::default();
        let newer = br#"{"files": "a shape this build does not know", "format": 7}"#;
        let err = Snapshot::parse(newer, &limits).unwrap_err();
        assert!(
            matches!(err, ManifestError::UnsupportedFormat { found: 7, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("newer sber-tunnel"), "{err}");
        assert!(matches!(
            Delta::parse(br#"{"format":99}"#, &limits),
            Err(ManifestError::UnsupportedFormat { found: 99, .. })
        ));
        assert!(matches!(
            Snapshot::parse(
                br#"{"format":0,"generation":"g","seq":0,"files":[]}"#,
                &limits
            ),
            Err(ManifestError::Invalid { .. })
        ));
        assert!(matches!(
            Snapshot::parse(br#"{"generation":"g","seq":0,"files":[]}"#, &limits),
            Err(ManifestError::Invalid { .. })
        ));

        let err = Snapshot::parse(b"{\"format\":1,\n\"files\": [,]}", &limits).unwrap_err();
        assert!(matches!(err, ManifestError::Json(_)));
        assert!(
            err.to_string().contains("line 2"),
            "position is reported: {err}"
        );

        // Not even JSON, but refused by its length before the parser sees it.
        let small = Limits {
            max_bytes: 1000,
            ..Limits::default()
        };
        let huge = vec![b'['; 1001];
        assert!(matches!(
            Snapshot::parse(&huge, &small),
            Err(ManifestError::TooLarge {
                size: 1001,
                limit: 1000
            })
        ));
        assert!(matches!(
            Delta::parse(&huge, &small),
            Err(ManifestError::TooLarge { .. })
        ));
        let entries = Limits {
            max_entries: 1,
            ..Limits::default()
        };
        let two = snapshot(vec![dir("a"), dir("b")]).to_bytes();
        assert!(matches!(
            Snapshot::parse(&two, &entries),
            Err(ManifestError::TooLarge { .. })
        ));
    }

    fn delta(seq: u64, entries: Vec<FileEntry>) -> Delta {
        Delta {
            format: FORMAT_V1,
            generation: "gen-1".into(),
            seq,
            device: "laptop".into(),
            entries,
        }
    }

    #[test]
    fn deltas_apply_in_order_and_replace_per_path() {
        let mut tree = RemoteTree::from_snapshot(snapshot(vec![file("a", b"hello", 1), dir("d")]));
        let d4 = delta(
            4,
            vec![file("a", b"world", 2), tomb("d"), file("n", b"x", 1)],
        );
        let bytes = d4.to_bytes();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            format!(
                r#"{{"format":1,"generation":"gen-1","seq":4,"device":"laptop","entries":[{{"path":"a","kind":"file","deleted":false,"size":5,"mtime_ns":1700000000000000000,"sha256":"{WORLD}","version":2,"device":"laptop","chunks":[{{"sha256":"{WORLD}","size":5,"blob":"c-{WORLD}","offset":0}}]}},{{"path":"d","kind":"file","deleted":true,"size":0,"mtime_ns":1700000000000000000,"version":2,"device":"laptop"}},{{"path":"n","kind":"file","deleted":false,"size":1,"mtime_ns":1700000000000000000,"sha256":"2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881","version":1,"device":"laptop","chunks":[{{"sha256":"2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881","size":1,"blob":"c-2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881","offset":0}}]}}]}}"#
            )
        );
        let parsed = Delta::parse(&bytes, &Limits::default()).unwrap();
        assert_eq!(parsed, d4);
        tree.apply_delta(parsed).unwrap();
        assert_eq!(tree.seq, 4);
        assert_eq!(tree.files[&p("a")].sha256, Some(d(WORLD)));
        assert!(tree.files[&p("d")].deleted);
        let live: Vec<&str> = tree.live().map(|e| e.path.as_str()).collect();
        assert_eq!(live, ["a", "n"]);

        assert!(matches!(
            tree.apply_delta(delta(6, vec![])),
            Err(ManifestError::SeqGap {
                expected: 5,
                found: 6
            })
        ));
        let mut other = delta(5, vec![]);
        other.generation = "gen-2".into();
        assert!(matches!(
            tree.apply_delta(other),
            Err(ManifestError::GenerationMismatch)
        ));
        assert_eq!(tree.seq, 4, "refused deltas change nothing");

        let empty = Delta::parse(
            br#"{"format":1,"generation":"gen-1","seq":5,"device":"","entries":[]}"#,
            &Limits::default(),
        );
        assert!(
            matches!(empty, Err(ManifestError::Invalid { .. })),
            "empty device"
        );
    }

    #[test]
    fn a_delta_that_puts_a_file_above_a_live_entry_is_refused_and_rolled_back() {
        let mut tree = RemoteTree::from_snapshot(snapshot(vec![dir("d"), file("d/x", b"x", 1)]));
        let before = tree.clone();
        let mut as_file = file("d", b"hello", 2);
        as_file.version = 2;
        let err = tree
            .apply_delta(delta(4, vec![file("new", b"x", 1), as_file]))
            .unwrap_err();
        assert!(
            matches!(err, ManifestError::Invalid { ref path, .. } if path == "d/x"),
            "{err:?}"
        );
        assert_eq!(tree, before);
        let err = tree
            .apply_delta(delta(4, vec![file("d/x/y", b"x", 1)]))
            .unwrap_err();
        assert!(matches!(err, ManifestError::Invalid { ref path, .. } if path == "d/x/y"));
        assert_eq!(tree, before);
        // Replacing the folder by a file together with deleting its child is fine.
        tree.apply_delta(delta(4, vec![tomb("d/x"), file("d", b"hello", 2)]))
            .unwrap();
        assert_eq!(tree.live().count(), 1);
    }

    /// Deep paths (2,000 nested folders, 4,000 bytes) in numbers: the "no live file above a live
    /// entry" rule is still enforced at every depth, by snapshots and by deltas, with work
    /// linear in each path (ancestors are slices and hashed in one pass, see `LiveFiles`).
    #[test]
    fn the_file_above_rule_holds_on_deep_paths() {
        let deep = |n: usize| vec!["a"; n].join("/");
        let parse = |files: Vec<FileEntry>| {
            Snapshot::parse(&snapshot(files).to_bytes(), &Limits::default())
        };
        // Many deep files below a deep folder chain without folder entries: valid.
        let many: Vec<FileEntry> = (0..100)
            .map(|i| file(&format!("{}/f{i}", deep(1990)), b"x", 1))
            .collect();
        let ok = parse(many.clone()).expect("deep files are fine");
        assert_eq!(ok.files.len(), 100);
        // A live file 1,000 folders up: refused; deleted: fine.
        let mut above = many.clone();
        above.push(file(&deep(1000), b"in the way", 1));
        let (path, reason) = invalid_reason(parse(above));
        assert!(reason.contains("is a file"), "{reason}");
        assert!(path.starts_with(&deep(1001)), "{path}");
        let mut gone = many.clone();
        gone.push(tomb(&deep(1000)));
        parse(gone).expect("a tombstone above is fine");

        // The same through deltas on a tree of deep files.
        let mut tree = RemoteTree::from_snapshot(snapshot(many));
        let before = tree.clone();
        let err = tree
            .apply_delta(delta(4, vec![file(&deep(1000), b"in the way", 1)]))
            .expect_err("a file above live entries");
        assert!(matches!(err, ManifestError::Invalid { .. }), "{err:?}");
        assert_eq!(tree, before);
        let err = tree
            .apply_delta(delta(
                4,
                vec![file(&format!("{}/f7/below", deep(1990)), b"x", 1)],
            ))
            .expect_err("an entry below a live file");
        assert!(matches!(err, ManifestError::Invalid { .. }), "{err:?}");
        assert_eq!(tree, before);
        let deeper: Vec<FileEntry> = (0..100)
            .map(|i| file(&format!("{}/g{i}", deep(1995)), b"y", 1))
            .collect();
        tree.apply_delta(delta(4, deeper)).expect("more deep files");
        assert_eq!(tree.live().count(), 200);
    }

    #[test]
    fn snapshots_drop_old_tombstones_on_request() {
        let mut old = tomb("old");
        old.mtime_ns = 10;
        let mut recent = tomb("recent");
        recent.mtime_ns = 100;
        let tree = RemoteTree::from_snapshot(snapshot(vec![old, recent, file("a", b"hello", 1)]));
        let all = tree.to_snapshot(None);
        assert_eq!(all.files.len(), 3);
        let trimmed = tree.to_snapshot(Some(50));
        let names: Vec<&str> = trimmed.files.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(names, ["a", "recent"]);
        assert_eq!(trimmed.seq, 3);
        assert_eq!(RemoteTree::empty("g".into()).seq, 0);
    }

    #[test]
    fn blob_names() {
        assert_eq!(chunk_blob_name(&d(HELLO)).as_str(), format!("c-{HELLO}"));
        assert_eq!(pack_blob_name(&d(HELLO)).as_str(), format!("p-{HELLO}"));
        assert_eq!(
            delta_blob_name(&d(HELLO)).as_str(),
            format!("d-{HELLO}.json")
        );
        assert_eq!(snapshot_blob_name().as_str(), "manifest.json");
    }

    fn arb_entry() -> impl Strategy<Value = FileEntry> {
        let name = "[a-zA-Z0-9 ._é-]{1,12}".prop_filter_map("valid", |s| RelPath::new(&s).ok());
        (
            name,
            0u8..3,
            proptest::collection::vec(any::<u8>(), 0..40),
            any::<i64>(),
            1u64..1000,
            "[a-z0-9]{1,10}",
            1usize..4,
        )
            .prop_map(|(path, kind, content, mtime_ns, version, device, parts)| {
                let mut e = FileEntry {
                    path: path.clone(),
                    mtime_ns,
                    version,
                    device: device.into(),
                    ..file("x", &content, 1)
                };
                match kind {
                    0 => {
                        e.kind = EntryKind::Dir;
                        e.size = 0;
                        e.sha256 = None;
                        e.chunks = Default::default();
                    }
                    1 => {
                        e.deleted = true;
                        e.size = 0;
                        e.sha256 = None;
                        e.chunks = Default::default();
                    }
                    _ if content.len() >= parts && parts > 1 => {
                        let step = content.len() / parts;
                        e.chunks = (0..parts)
                            .map(|i| {
                                let end = if i + 1 == parts {
                                    content.len()
                                } else {
                                    (i + 1) * step
                                };
                                let bytes = &content[i * step..end];
                                ChunkRef {
                                    sha256: Digest::of(bytes),
                                    size: bytes.len() as u64,
                                    blob: pack_blob_name(&Digest::of(&content)),
                                    offset: (i * step) as u64,
                                }
                            })
                            .collect();
                    }
                    _ => {}
                }
                e
            })
    }

    fn arb_snapshot() -> impl Strategy<Value = Snapshot> {
        (proptest::collection::vec(arb_entry(), 0..12), any::<u64>()).prop_map(|(entries, seq)| {
            let files: BTreeMap<RelPath, FileEntry> =
                entries.into_iter().map(|e| (e.path.clone(), e)).collect();
            Snapshot {
                format: FORMAT_V1,
                generation: "gen".into(),
                seq,
                files: files.into_values().collect(),
            }
        })
    }

    proptest! {
        #[test]
        fn snapshot_and_delta_round_trip(s in arb_snapshot()) {
            let limits = Limits::default();
            let back = Snapshot::parse(&s.to_bytes(), &limits).unwrap();
            prop_assert_eq!(&back, &s);
            let delta = Delta {
                format: FORMAT_V1,
                generation: s.generation.clone(),
                seq: 1,
                device: "dev".into(),
                entries: s.files.clone(),
            };
            prop_assert_eq!(Delta::parse(&delta.to_bytes(), &limits).unwrap(), delta.clone());
            let mut tree = RemoteTree::empty(s.generation.clone());
            tree.apply_delta(delta).unwrap();
            prop_assert_eq!(tree.to_snapshot(None).files, s.files);
        }

        #[test]
        fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let limits = Limits::default();
            let _ = Snapshot::parse(&bytes, &limits);
            let _ = Delta::parse(&bytes, &limits);
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                let _ = Head::parse(&v, &limits);
            }
        }

        #[test]
        fn parsing_mutated_documents_never_panics(
            s in arb_snapshot(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        ) {
            let mut bytes = s.to_bytes();
            for (at, b) in edits {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            if let Ok(parsed) = Snapshot::parse(&bytes, &Limits::default()) {
                // Whatever is accepted serialises and parses back to itself.
                let again = Snapshot::parse(&parsed.to_bytes(), &Limits::default()).unwrap();
                prop_assert_eq!(again.files.len(), parsed.files.len());
            }
        }
    }
}
