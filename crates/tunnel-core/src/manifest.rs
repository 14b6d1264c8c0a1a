//! The remote format, version 1: the head pointer (a content property), the file list
//! snapshot (`manifest.json`) and the deltas (`d-<sha256>.json`) that follow it.
//! See docs/remote-format.md for the specification.
//!
//! Parsing is strict and bounded: the byte length is checked before parsing, an unknown
//! format version is refused before anything else is looked at, and every entry is
//! validated (paths through [`RelPath`], sizes, chunk lists, duplicates).

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::hash::Digest;
use crate::rel_path::RelPath;
use crate::remote::BlobName;

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Key of the content property holding the head.
pub const HEAD_PROPERTY_KEY: &str = "sber-tunnel.head";
/// Name of the snapshot attachment.
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
    /// Device that wrote this version.
    pub device: String,
    /// Where the bytes are (live files only; empty for an empty file).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunks: Vec<ChunkRef>,
}

/// Points at a snapshot (a version of `manifest.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotRef {
    /// Attachment name.
    pub name: BlobName,
    /// Attachment version holding this snapshot.
    pub version: u64,
    /// SHA-256 of its bytes.
    pub sha256: Digest,
    /// Its length.
    pub size: u64,
    /// The seq it describes.
    pub seq: u64,
}

/// Points at a delta blob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeltaRef {
    /// Blob name (`d-<sha256>.json`).
    pub name: BlobName,
    /// SHA-256 of its bytes.
    pub sha256: Digest,
    /// Its length.
    pub size: u64,
    /// The seq it brings the tree to.
    pub seq: u64,
}

/// The head: the value of the content property, the one thing a commit swaps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    /// Format version.
    pub format: u32,
    /// Random id of this remote's history; a new one means "not the remote you knew".
    pub generation: String,
    /// Number of commits so far.
    pub seq: u64,
    /// The latest snapshot.
    #[serde(default)]
    pub snapshot: Option<SnapshotRef>,
    /// Deltas after the snapshot, in order: seq snapshot.seq+1 ..= seq.
    #[serde(default)]
    pub deltas: Vec<DeltaRef>,
}

/// `manifest.json`: the whole file list at one seq.
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

/// One commit's changes.
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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 1 << 30,
            max_entries: 5_000_000,
            max_chunks_per_file: 100_000,
            max_head_bytes: 32_000,
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
    /// Deltas missing.
    #[error("the remote file list has a gap: expected seq {expected}, found {found}")]
    SeqGap {
        /// Expected.
        expected: u64,
        /// Found.
        found: u64,
    },
}

fn invalid(path: impl Into<String>, reason: impl Into<String>) -> ManifestError {
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

/// Refuse anything but [`FORMAT_VERSION`]; called before the rest is looked at so a newer
/// document is refused with the "upgrade" message, not a confusing shape error.
fn check_format(format: Option<&serde_json::Value>) -> Result<(), ManifestError> {
    match format {
        None => Err(invalid("format", "missing format version")),
        Some(v) => match v.as_u64() {
            Some(f) if f == u64::from(FORMAT_VERSION) => Ok(()),
            Some(f) if f > u64::from(FORMAT_VERSION) => Err(ManifestError::UnsupportedFormat {
                found: f,
                supported: FORMAT_VERSION,
            }),
            _ => Err(invalid("format", format!("unknown format version {v}"))),
        },
    }
}

/// Size check, then format check, then the typed parse (serde_json errors keep their
/// line and column).
fn parse_bounded<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    limits: &Limits,
) -> Result<T, ManifestError> {
    if bytes.len() as u64 > limits.max_bytes {
        return Err(ManifestError::TooLarge {
            size: bytes.len() as u64,
            limit: limits.max_bytes,
        });
    }
    let probe: FormatOnly = serde_json::from_slice(bytes)?;
    check_format(probe.format.as_ref())?;
    Ok(serde_json::from_slice(bytes)?)
}

fn check_generation(g: &str) -> Result<(), ManifestError> {
    if g.is_empty() || g.len() > 100 || !g.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(invalid(
            "generation",
            "must be 1 to 100 characters of a-z, 0-9, -",
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
    for c in &e.chunks {
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
fn validate_entries(entries: &[FileEntry], limits: &Limits) -> Result<(), ManifestError> {
    if entries.len() > limits.max_entries {
        return Err(ManifestError::TooLarge {
            size: entries.len() as u64,
            limit: limits.max_entries as u64,
        });
    }
    let mut seen: HashSet<&str> = HashSet::with_capacity(entries.len());
    let mut live_files: HashSet<&str> = HashSet::new();
    for e in entries {
        validate_entry(e, limits)?;
        if !seen.insert(e.path.as_str()) {
            return Err(invalid(e.path.as_str(), "listed twice"));
        }
        if !e.deleted && e.kind == EntryKind::File {
            live_files.insert(e.path.as_str());
        }
    }
    for e in entries.iter().filter(|e| !e.deleted) {
        let mut parent = e.path.parent();
        while let Some(p) = parent {
            if live_files.contains(p.as_str()) {
                return Err(invalid(
                    e.path.as_str(),
                    format!("its parent {p} is a file"),
                ));
            }
            parent = p.parent();
        }
    }
    Ok(())
}

impl Head {
    /// Parse and validate a head property value.
    pub fn parse(value: &serde_json::Value, limits: &Limits) -> Result<Head, ManifestError> {
        let text_len = value.to_string().len();
        if text_len > limits.max_head_bytes {
            return Err(ManifestError::TooLarge {
                size: text_len as u64,
                limit: limits.max_head_bytes as u64,
            });
        }
        check_format(value.get("format"))?;
        let head: Head = serde_json::from_value(value.clone())?;
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

    /// The property value.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a Head has only string keys and plain values")
    }

    /// Whether the next commit should write a fresh snapshot (too many deltas, or the head
    /// gets near the property's size limit).
    pub fn needs_compaction(&self) -> bool {
        self.deltas.len() > 32
            || self.to_value().to_string().len() > Limits::default().max_head_bytes / 2
    }
}

impl Snapshot {
    /// Parse and validate `manifest.json`.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Snapshot, ManifestError> {
        let s: Snapshot = parse_bounded(bytes, limits)?;
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
    /// Parse and validate a delta.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Delta, ManifestError> {
        let d: Delta = parse_bounded(bytes, limits)?;
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
        if d.generation != self.generation {
            return Err(ManifestError::GenerationMismatch);
        }
        let expected = self.seq.checked_add(1).ok_or(ManifestError::SeqGap {
            expected: self.seq,
            found: d.seq,
        })?;
        if d.seq != expected {
            return Err(ManifestError::SeqGap {
                expected,
                found: d.seq,
            });
        }
        let mut previous: Vec<(RelPath, Option<FileEntry>)> = Vec::with_capacity(d.entries.len());
        let mut touched: Vec<RelPath> = Vec::with_capacity(d.entries.len());
        for e in d.entries {
            touched.push(e.path.clone());
            let old = self.files.insert(e.path.clone(), e);
            previous.push((touched[touched.len() - 1].clone(), old));
        }
        if let Err(e) = self.check_no_file_parents(&touched) {
            for (path, old) in previous.into_iter().rev() {
                match old {
                    Some(old) => self.files.insert(path, old),
                    None => self.files.remove(&path),
                };
            }
            return Err(e);
        }
        self.seq = d.seq;
        Ok(())
    }

    /// A live file may not be the parent of a live entry; checks the paths in `touched`
    /// against the whole tree (their ancestors and their descendants).
    fn check_no_file_parents(&self, touched: &[RelPath]) -> Result<(), ManifestError> {
        let live_file = |p: &RelPath| {
            self.files
                .get(p)
                .is_some_and(|e| !e.deleted && e.kind == EntryKind::File)
        };
        for path in touched {
            let Some(entry) = self.files.get(path) else {
                continue;
            };
            if entry.deleted {
                continue;
            }
            let mut parent = path.parent();
            while let Some(p) = parent {
                if live_file(&p) {
                    return Err(invalid(path.as_str(), format!("its parent {p} is a file")));
                }
                parent = p.parent();
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
        let prefix = format!("{}/", dir.as_str());
        let dir = dir.clone();
        self.files
            .range::<RelPath, _>((
                std::ops::Bound::Excluded(&dir),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(k, _)| {
                k.as_str() < prefix.as_str() || k.as_str().starts_with(prefix.as_str())
            })
            .map(|(_, e)| e)
            .filter(move |e| !e.deleted && dir.is_ancestor_of(&e.path))
    }

    /// The snapshot of this tree; tombstones older than `drop_tombstones_before_ns` are left out.
    pub fn to_snapshot(&self, drop_tombstones_before_ns: Option<i64>) -> Snapshot {
        let files = self
            .files
            .values()
            .filter(|e| !(e.deleted && drop_tombstones_before_ns.is_some_and(|t| e.mtime_ns < t)))
            .cloned()
            .collect();
        Snapshot {
            format: FORMAT_VERSION,
            generation: self.generation.clone(),
            seq: self.seq,
            files,
        }
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

/// `p-<hex>`: a pack of small files, named by the hash of its bytes.
pub fn pack_blob_name(d: &Digest) -> BlobName {
    BlobName::new(format!("p-{}", d.to_hex())).expect("hex is a valid blob name")
}

/// `d-<hex>.json`: a delta, named by the hash of its bytes.
pub fn delta_blob_name(d: &Digest) -> BlobName {
    BlobName::new(format!("d-{}.json", d.to_hex())).expect("hex is a valid blob name")
}

/// `manifest.json`.
pub fn snapshot_blob_name() -> BlobName {
    BlobName::new(SNAPSHOT_NAME).expect("constant is a valid blob name")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
                vec![]
            } else {
                vec![ChunkRef { sha256: sha, size: content.len() as u64, blob: pack_blob_name(&Digest::of(b"pack")), offset: 7 }]
            },
        }
    }

    fn snapshot(files: Vec<FileEntry>) -> Snapshot {
        Snapshot { format: FORMAT_VERSION, generation: "gen-1".into(), seq: 3, files }
    }

    #[test]
    fn snapshot_round_trips_and_reads_like_json() {
        let s = snapshot(vec![file("b.txt", b"bb"), file("a/x.txt", b"x"), file("empty", b"")]);
        let bytes = s.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("{\"format\":1,\"generation\":\"gen-1\",\"seq\":3,\"files\":[\n"), "{text}");
        assert!(text.find("a/x.txt").unwrap() < text.find("b.txt").unwrap(), "sorted by path");
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
        let ok_entry = |path: &str| format!(r#"{{"path":"{path}","kind":"dir","mtime_ns":0,"version":1,"device":"d"}}"#);
        let doc = |entries: &[String]| format!(r#"{{"format":1,"generation":"g","seq":1,"files":[{}]}}"#, entries.join(","));
        for bad_path in ["../etc/passwd", "/abs", "a\\\\b", "C:/x", "a/../../b", "a\\u0000b", "", "a//b"] {
            assert!(matches!(refused(&doc(&[ok_entry(bad_path)])), ManifestError::Json(_)), "path {bad_path:?} is refused");
        }
        let long = "x".repeat(300);
        assert!(matches!(refused(&doc(&[ok_entry(&long)])), ManifestError::Json(_)), "over-long names");
        assert!(matches!(refused(&doc(&[ok_entry("a"), ok_entry("a")])), ManifestError::Invalid { .. }), "duplicates");
        let bad_sum = r#"{"path":"f","kind":"file","size":10,"mtime_ns":0,"version":1,"device":"d","sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","chunks":[{"sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","size":3,"blob":"c-1","offset":0}]}"#;
        assert!(matches!(refused(&doc(&[bad_sum.to_string()])), ManifestError::Invalid { .. }), "sizes that do not add up");
        let overflow = r#"{"path":"f","kind":"file","size":1,"mtime_ns":0,"version":1,"device":"d","sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","chunks":[{"sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","size":1,"blob":"c-1","offset":18446744073709551615}]}"#;
        assert!(matches!(refused(&doc(&[overflow.to_string()])), ManifestError::Invalid { .. }), "offset overflow");
        let no_hash = r#"{"path":"f","kind":"file","size":0,"mtime_ns":0,"version":1,"device":"d"}"#;
        assert!(matches!(refused(&doc(&[no_hash.to_string()])), ManifestError::Invalid { .. }), "file without hash");
        let parent_file = [
            r#"{"path":"f","kind":"file","size":0,"mtime_ns":0,"version":1,"device":"d","sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}"#.to_string(),
            ok_entry("f/child"),
        ];
        assert!(matches!(refused(&doc(&parent_file)), ManifestError::Invalid { .. }), "a file that is also a folder");
        let bad_blob = r#"{"path":"f","kind":"file","size":1,"mtime_ns":0,"version":1,"device":"d","sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","chunks":[{"sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","size":1,"blob":"../x","offset":0}]}"#;
        assert!(matches!(refused(&doc(&[bad_blob.to_string()])), ManifestError::Json(_)), "blob names are validated");
        assert!(matches!(refused(r#"{"format":2,"generation":"g","seq":1,"files":[],"new_field":1}"#), ManifestError::UnsupportedFormat { found: 2, .. }), "newer format first");
        assert!(matches!(refused("{not json"), ManifestError::Json(_)));
        assert!(matches!(refused(r#"{"generation":"g","seq":1,"files":[]}"#), ManifestError::Invalid { .. }), "missing format");
        assert!(matches!(refused(r#"{"format":1,"generation":"g","seq":1,"files":[],"x":1}"#), ManifestError::Json(_)), "unknown fields");
    }

    #[test]
    fn an_enormous_document_is_refused_before_parsing() {
        let limits = Limits { max_bytes: 1000, ..Limits::default() };
        let big = vec![b' '; 5000];
        assert!(matches!(Snapshot::parse(&big, &limits), Err(ManifestError::TooLarge { size: 5000, limit: 1000 })));
        let many = Limits { max_entries: 2, ..Limits::default() };
        let s = snapshot(vec![file("a", b"1"), file("b", b"2"), file("c", b"3")]);
        assert!(matches!(Snapshot::parse(&s.to_bytes(), &many), Err(ManifestError::TooLarge { .. })));
    }

    #[test]
    fn head_checks_its_delta_chain_and_asks_for_compaction() {
        let d = |seq| DeltaRef { name: delta_blob_name(&Digest::of(&[seq as u8])), sha256: Digest::of(b"x"), size: 1, seq };
        let snap = SnapshotRef { name: snapshot_blob_name(), version: 2, sha256: Digest::of(b"s"), size: 1, seq: 5 };
        let head = Head { format: 1, generation: "g".into(), seq: 7, snapshot: Some(snap.clone()), deltas: vec![d(6), d(7)] };
        assert_eq!(Head::parse(&head.to_value(), &Limits::default()).unwrap(), head);
        let gap = Head { deltas: vec![d(7)], ..head.clone() };
        assert!(matches!(Head::parse(&gap.to_value(), &Limits::default()), Err(ManifestError::SeqGap { .. })));
        let newer = serde_json::json!({"format": 9, "generation": "g", "seq": 1});
        assert!(matches!(Head::parse(&newer, &Limits::default()), Err(ManifestError::UnsupportedFormat { .. })));
        assert!(!head.needs_compaction());
        let long = Head { seq: 5 + 40, deltas: (6..=45).map(d).collect(), ..head };
        assert!(long.needs_compaction(), "more than 32 deltas");
    }

    #[test]
    fn deltas_apply_in_order_only() {
        let mut tree = RemoteTree::empty("g".into());
        let delta = |seq, entries| Delta { format: 1, generation: "g".into(), seq, device: "d".into(), entries };
        tree.apply_delta(delta(1, vec![file("a", b"1")])).unwrap();
        assert!(matches!(tree.apply_delta(delta(3, vec![])), Err(ManifestError::SeqGap { expected: 2, found: 3 })));
        let other = Delta { generation: "h".into(), ..delta(2, vec![]) };
        assert!(matches!(tree.apply_delta(other), Err(ManifestError::GenerationMismatch)));
        let mut gone = file("a", b"1");
        gone.deleted = true;
        gone.sha256 = None;
        gone.size = 0;
        gone.chunks.clear();
        gone.version = 2;
        tree.apply_delta(delta(2, vec![gone])).unwrap();
        assert_eq!(tree.live().count(), 0);
        assert_eq!(tree.to_snapshot(Some(i64::MAX)).files.len(), 0, "old tombstones are dropped at compaction");
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
