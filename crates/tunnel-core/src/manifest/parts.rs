//! Format 2: the file list snapshot and every delta are cut into parts, each an immutable
//! blob named by the SHA-256 of its bytes (`s-<sha256>.json`, `d-<sha256>.json`) and no
//! larger than the part limit the writer was given (below the server's attachment limit and
//! the readers' cap), and the head lists them.
//!
//! A snapshot part holds a sorted slice of the file list; the slices follow each other in
//! path order without overlap. A delta part holds a sorted slice of one commit's entries.
//! Each part names its position (`part` of `parts`), generation and seq, and the reader
//! checks all of it against the head before the parts are joined (see
//! [`assemble_snapshot`], [`assemble_delta`]).

use serde::{Deserialize, Serialize};

use super::{
    check_generation, delta_blob_name, invalid, parse_bounded, snapshot_part_blob_name,
    validate_entries, Delta, DeltaRef, FileEntry, Head, Limits, ManifestError, PartRef, RemoteTree,
    Snapshot, SnapshotRef, FORMAT_V2, PART_FORMAT,
};
use crate::hash::Digest;

/// One part as the head lists it (the blob name follows from the digest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PartWire {
    pub(super) sha256: Digest,
    pub(super) size: u64,
    pub(super) entries: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SnapshotWire {
    pub(super) seq: u64,
    /// Format 3 only (required there): when the commit that wrote it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) time_ms: Option<i64>,
    pub(super) parts: Vec<PartWire>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeltaWire {
    pub(super) seq: u64,
    /// Format 3 only (required there): when the commit happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) time_ms: Option<i64>,
    pub(super) parts: Vec<PartWire>,
}

/// Format 2 and 3 wire shape of the head (format 3 adds the times and `history`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeadV2 {
    format: u32,
    generation: String,
    seq: u64,
    #[serde(default)]
    snapshot: Option<SnapshotWire>,
    #[serde(default)]
    deltas: Vec<DeltaWire>,
    /// Format 3 only: the history document (`h-<sha256>.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    history: Option<PartWire>,
}

/// One part of a format 2 snapshot (`s-<sha256>.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotPart {
    /// Format version (2).
    pub format: u32,
    /// Generation.
    pub generation: String,
    /// The seq the whole snapshot describes.
    pub seq: u64,
    /// Position of this part, from 0.
    pub part: u32,
    /// Number of parts of the snapshot.
    pub parts: u32,
    /// A slice of the file list, sorted by path.
    pub files: Vec<FileEntry>,
}

/// One part of a format 2 delta (`d-<sha256>.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeltaPart {
    /// Format version (2).
    pub format: u32,
    /// Generation.
    pub generation: String,
    /// The seq this delta brings the tree to.
    pub seq: u64,
    /// The committing device.
    pub device: String,
    /// Position of this part, from 0.
    pub part: u32,
    /// Number of parts of the delta.
    pub parts: u32,
    /// A slice of the commit's entries, sorted by path.
    pub entries: Vec<FileEntry>,
}

/// A part ready to upload: where the head points and the bytes.
#[derive(Clone, Debug)]
pub struct EncodedPart {
    /// The head's reference to it.
    pub part: PartRef,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

pub(super) fn wire_to_part(p: PartWire, name: fn(&Digest) -> crate::remote::BlobName) -> PartRef {
    PartRef {
        name: name(&p.sha256),
        sha256: p.sha256,
        size: p.size,
        entries: Some(p.entries),
    }
}

pub(super) fn part_to_wire(p: &PartRef) -> PartWire {
    PartWire {
        sha256: p.sha256,
        size: p.size,
        entries: p.entries.unwrap_or(0),
    }
}

/// Check the part list of one snapshot or delta as the head names it.
pub(super) fn check_part_list(
    what: &str,
    parts: &[PartWire],
    snapshot: bool,
    limits: &Limits,
) -> Result<(), ManifestError> {
    if parts.is_empty() {
        return Err(invalid(what, "names no part"));
    }
    let mut total: u64 = 0;
    for p in parts {
        if p.size > limits.max_bytes {
            return Err(ManifestError::TooLarge {
                size: p.size,
                limit: limits.max_bytes,
            });
        }
        // Only a snapshot of an empty tree has an empty part, and then only one.
        if p.entries == 0 && !(snapshot && parts.len() == 1) {
            return Err(invalid(what, "names an empty part"));
        }
        total = total.saturating_add(p.entries);
    }
    if total > limits.max_entries as u64 {
        return Err(ManifestError::TooLarge {
            size: total,
            limit: limits.max_entries as u64,
        });
    }
    Ok(())
}

/// Parse a format 2 head (its `format` already checked); the seq chain is checked by the
/// caller.
pub(super) fn head_from_value(
    value: &serde_json::Value,
    limits: &Limits,
) -> Result<Head, ManifestError> {
    let h: HeadV2 = serde_json::from_value(value.clone())?;
    check_times(
        h.format,
        h.snapshot.as_ref().map(|s| s.time_ms),
        h.deltas.iter().map(|d| d.time_ms),
    )?;
    if h.format == FORMAT_V2 && h.history.is_some() {
        return Err(invalid("head", "a format 2 head names a history document"));
    }
    let count = h.snapshot.as_ref().map_or(0, |s| s.parts.len())
        + h.deltas.iter().map(|d| d.parts.len()).sum::<usize>();
    if count > limits.max_parts {
        return Err(invalid(
            "head",
            format!("names {count} parts, more than {}", limits.max_parts),
        ));
    }
    if let Some(s) = &h.snapshot {
        check_part_list("snapshot", &s.parts, true, limits)?;
    }
    for d in &h.deltas {
        check_part_list(&format!("delta {}", d.seq), &d.parts, false, limits)?;
    }
    Ok(Head {
        format: h.format,
        generation: h.generation,
        seq: h.seq,
        snapshot: h.snapshot.map(|s| SnapshotRef {
            seq: s.seq,
            parts: s
                .parts
                .into_iter()
                .map(|p| wire_to_part(p, snapshot_part_blob_name))
                .collect(),
            manifest_version: None,
            time_ms: s.time_ms,
        }),
        deltas: h
            .deltas
            .into_iter()
            .map(|d| DeltaRef {
                seq: d.seq,
                parts: d
                    .parts
                    .into_iter()
                    .map(|p| wire_to_part(p, delta_blob_name))
                    .collect(),
                time_ms: d.time_ms,
            })
            .collect(),
        history: h
            .history
            .map(|p| wire_to_part(p, super::history::history_blob_name)),
    })
}

/// Format 3 names the time of every commit it lists; format 2 none.
pub(super) fn check_times(
    format: u32,
    snapshot: Option<Option<i64>>,
    deltas: impl Iterator<Item = Option<i64>>,
) -> Result<(), ManifestError> {
    let mut times = snapshot.into_iter().chain(deltas);
    if format == FORMAT_V2 {
        if times.any(|t| t.is_some()) {
            return Err(invalid("head", "a format 2 head with commit times"));
        }
    } else if times.any(|t| t.is_none()) {
        return Err(invalid("head", "a commit without its time"));
    }
    Ok(())
}

/// Serialise a format 2 head.
pub(super) fn head_to_value(head: &Head) -> serde_json::Value {
    let wire = HeadV2 {
        format: head.format,
        generation: head.generation.clone(),
        seq: head.seq,
        snapshot: head.snapshot.as_ref().map(|s| SnapshotWire {
            seq: s.seq,
            time_ms: s.time_ms,
            parts: s.parts.iter().map(part_to_wire).collect(),
        }),
        deltas: head
            .deltas
            .iter()
            .map(|d| DeltaWire {
                seq: d.seq,
                time_ms: d.time_ms,
                parts: d.parts.iter().map(part_to_wire).collect(),
            })
            .collect(),
        history: head.history.as_ref().map(part_to_wire),
    };
    serde_json::to_value(wire).expect("a head has only string keys and plain values")
}

/// Entries of one part must be strictly sorted by path.
fn check_sorted(entries: &[FileEntry]) -> Result<(), ManifestError> {
    for w in entries.windows(2) {
        if w[0].path >= w[1].path {
            return Err(invalid(
                w[1].path.as_str(),
                "part entries are not sorted by path (or listed twice)",
            ));
        }
    }
    Ok(())
}

fn check_position(part: u32, parts: u32, entries: usize) -> Result<(), ManifestError> {
    if parts == 0 || part >= parts {
        return Err(invalid("part", format!("part {part} of {parts}")));
    }
    if entries == 0 && parts != 1 {
        return Err(invalid("part", "an empty part in a list of several"));
    }
    Ok(())
}

impl SnapshotPart {
    /// Parse and validate one snapshot part on its own (its place in the whole is checked by
    /// [`assemble_snapshot`]).
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<SnapshotPart, ManifestError> {
        let s: SnapshotPart = parse_bounded(bytes, PART_FORMAT, limits)?;
        check_generation(&s.generation)?;
        check_position(s.part, s.parts, s.files.len())?;
        validate_entries(&s.files, limits)?;
        check_sorted(&s.files)?;
        Ok(s)
    }
}

impl DeltaPart {
    /// Parse and validate one delta part on its own.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<DeltaPart, ManifestError> {
        let d: DeltaPart = parse_bounded(bytes, PART_FORMAT, limits)?;
        check_generation(&d.generation)?;
        if d.device.is_empty() {
            return Err(invalid("device", "empty device id"));
        }
        check_position(d.part, d.parts, d.entries.len())?;
        if d.entries.is_empty() {
            return Err(invalid("part", "an empty delta part"));
        }
        validate_entries(&d.entries, limits)?;
        check_sorted(&d.entries)?;
        Ok(d)
    }
}

/// Check that part `i` of `n` read for `refs[i]` is the one the head means, and that it
/// continues the previous part in path order.
fn check_in_place(
    i: usize,
    refs: &[PartRef],
    (generation, seq, part, parts): (&str, u64, u32, u32),
    want: (&str, u64),
    entries: &[FileEntry],
    previous_last: Option<&FileEntry>,
) -> Result<(), ManifestError> {
    if generation != want.0 {
        return Err(ManifestError::GenerationMismatch);
    }
    if seq != want.1 {
        return Err(invalid(
            "part",
            format!("a part of seq {seq} where seq {} belongs", want.1),
        ));
    }
    if part as usize != i || parts as usize != refs.len() {
        return Err(invalid(
            "part",
            format!(
                "part {part} of {parts} found where part {i} of {} belongs",
                refs.len()
            ),
        ));
    }
    if let Some(n) = refs[i].entries {
        if n != entries.len() as u64 {
            return Err(invalid(
                "part",
                format!(
                    "part {i} holds {} entries, the head says {n}",
                    entries.len()
                ),
            ));
        }
    }
    if let (Some(last), Some(first)) = (previous_last, entries.first()) {
        if last.path >= first.path {
            return Err(invalid(
                first.path.as_str(),
                format!("part {i} overlaps or comes before the previous part"),
            ));
        }
    }
    Ok(())
}

/// Join the parts of a snapshot (in head order) into the tree, checking each against the
/// head and the whole list against every rule (a live file may not be the parent of an entry
/// in another part either).
pub fn assemble_snapshot(
    generation: &str,
    snapshot: &SnapshotRef,
    parts: Vec<SnapshotPart>,
    limits: &Limits,
) -> Result<RemoteTree, ManifestError> {
    if parts.len() != snapshot.parts.len() {
        return Err(invalid(
            "snapshot",
            format!(
                "{} parts read, the head names {}",
                parts.len(),
                snapshot.parts.len()
            ),
        ));
    }
    // Every part checked in place first (each is sorted, and comes after the one before it:
    // the whole list is strictly sorted, so no path is listed twice).
    let mut total = 0usize;
    let mut previous: Option<&FileEntry> = None;
    for (i, p) in parts.iter().enumerate() {
        check_in_place(
            i,
            &snapshot.parts,
            (&p.generation, p.seq, p.part, p.parts),
            (generation, snapshot.seq),
            &p.files,
            previous,
        )?;
        total += p.files.len();
        if total > limits.max_entries {
            return Err(ManifestError::TooLarge {
                size: total as u64,
                limit: limits.max_entries as u64,
            });
        }
        previous = p.files.last().or(previous);
    }
    // Then the tree, each part let go of as its entries move in (see `crate::bulk_map`: a
    // list of every entry, then a list of pairs and the room to sort it, were more than twice
    // the tree beside it: a new device's peak, issue 15), and every rule checked on the tree.
    let mut files = crate::bulk_map::BulkMap::with_expected(total);
    for p in parts {
        for e in p.files {
            files.push(e.path.clone(), e);
        }
    }
    let files = files.finish();
    crate::manifest::validate_sorted_entries(files.values(), files.len(), limits)?;
    Ok(RemoteTree {
        generation: generation.to_string(),
        seq: snapshot.seq,
        files,
    })
}

/// Join the parts of a delta (in head order) into one [`Delta`], checking each against the
/// head.
pub fn assemble_delta(
    generation: &str,
    delta: &DeltaRef,
    parts: Vec<DeltaPart>,
    limits: &Limits,
) -> Result<Delta, ManifestError> {
    if parts.len() != delta.parts.len() {
        return Err(invalid(
            "delta",
            format!(
                "{} parts read, the head names {}",
                parts.len(),
                delta.parts.len()
            ),
        ));
    }
    let mut entries: Vec<FileEntry> = Vec::new();
    let mut device: Option<String> = None;
    for (i, p) in parts.into_iter().enumerate() {
        check_in_place(
            i,
            &delta.parts,
            (&p.generation, p.seq, p.part, p.parts),
            (generation, delta.seq),
            &p.entries,
            entries.last(),
        )?;
        match &device {
            Some(d) if d != &p.device => {
                return Err(invalid(
                    "device",
                    "the parts of one delta name different devices",
                ))
            }
            _ => device = Some(p.device),
        }
        if entries.len() + p.entries.len() > limits.max_entries {
            return Err(ManifestError::TooLarge {
                size: (entries.len() + p.entries.len()) as u64,
                limit: limits.max_entries as u64,
            });
        }
        entries.extend(p.entries);
    }
    validate_entries(&entries, limits)?;
    Ok(Delta {
        format: PART_FORMAT,
        generation: generation.to_string(),
        seq: delta.seq,
        device: device.unwrap_or_default(),
        entries,
    })
}

/// Widest possible part header: the real one is never longer, so sizes computed with it are
/// upper bounds.
const WIDE_INDEX: u32 = u32::MAX;

/// The opening of part `part` of `parts`, up to the `[` of its entry list.
type HeaderFn = Box<dyn Fn(u32, u32) -> String + Send + Sync>;

/// What closes every part after its last entry line.
const TAIL: &str = "\n]}\n";

/// Cuts a sorted entry list into parts: [`PartWriter::plan`] decides where to cut for a
/// given size limit (cheaply, so a writer can try several), [`PartWriter::encode`] builds
/// the bytes.
///
/// It holds no copy of the entries' text (issue 15: at 100,000 entries the lines, kept as
/// strings, cost 50 MB per writer): only each entry's line length, for the plan; a part's
/// lines are written again, straight into its buffer, when it is encoded.
pub struct PartWriter<'a> {
    /// The entries, sorted by path.
    entries: Vec<&'a FileEntry>,
    /// The length of each entry's JSON line (in `entries`' order).
    line_lens: Vec<usize>,
    header: HeaderFn,
    name: fn(&Digest) -> crate::remote::BlobName,
}

/// Where to cut: the entry range of each part and the part's exact size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartPlan {
    ranges: Vec<std::ops::Range<usize>>,
    sizes: Vec<u64>,
}

impl PartPlan {
    /// Number of parts.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether there is no part (never: even an empty list is one part).
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The head's references these parts would get, with a placeholder digest: exactly as
    /// long in the head as the real ones, so a writer can check the head's size first.
    pub fn placeholder_refs(&self) -> Vec<PartRef> {
        let zero = Digest::of(b"");
        self.ranges
            .iter()
            .zip(&self.sizes)
            .map(|(r, size)| PartRef {
                name: delta_blob_name(&zero),
                sha256: zero,
                size: *size,
                entries: Some(r.len() as u64),
            })
            .collect()
    }
}

/// `entries` sorted by path, with the length of each one's line.
fn sorted_entries(entries: &[FileEntry]) -> (Vec<&FileEntry>, Vec<usize>) {
    let mut refs: Vec<&FileEntry> = entries.iter().collect();
    refs.sort_by(|a, b| a.path.cmp(&b.path));
    let lens = line_lengths(&refs);
    (refs, lens)
}

/// The length of each entry's line.
fn line_lengths(refs: &[&FileEntry]) -> Vec<usize> {
    let mut line = Vec::new();
    let lens = refs
        .iter()
        .map(|e| {
            line.clear();
            write_line(&mut line, e);
            line.len()
        })
        .collect();
    lens
}

/// One entry's line: its compact JSON (which escapes every newline inside it).
fn write_line(out: &mut Vec<u8>, e: &FileEntry) {
    serde_json::to_writer(out, e).expect("an entry serialises");
}

impl<'a> PartWriter<'a> {
    /// The parts of a snapshot (the whole file list at its seq), one entry per line so a
    /// part stays readable.
    pub fn snapshot(s: &'a Snapshot) -> PartWriter<'a> {
        let (entries, line_lens) = sorted_entries(&s.files);
        PartWriter::snapshot_parts(&s.generation, s.seq, entries, line_lens)
    }

    /// A snapshot's parts of `entries` (in path order, with their line lengths).
    fn snapshot_parts(
        generation: &str,
        seq: u64,
        entries: Vec<&'a FileEntry>,
        line_lens: Vec<usize>,
    ) -> PartWriter<'a> {
        let generation = serde_json::Value::String(generation.to_owned()).to_string();
        PartWriter {
            entries,
            line_lens,
            header: Box::new(move |part, parts| {
                format!(
                    "{{\"format\":{PART_FORMAT},\"generation\":{generation},\"seq\":{seq},\"part\":{part},\"parts\":{parts},\"files\":["
                )
            }),
            name: snapshot_part_blob_name,
        }
    }

    /// The parts of a snapshot of `tree` without the tombstones older than
    /// `drop_tombstones_before_ns`: the same parts as [`PartWriter::snapshot`] of
    /// [`RemoteTree::to_snapshot`], from the tree's own entries (a copy of a large tree is
    /// not made for them).
    pub fn snapshot_of_tree(
        tree: &'a RemoteTree,
        drop_tombstones_before_ns: i64,
    ) -> PartWriter<'a> {
        let entries: Vec<&FileEntry> = tree
            .snapshot_entries(Some(drop_tombstones_before_ns))
            .collect();
        let line_lens = line_lengths(&entries);
        PartWriter::snapshot_parts(&tree.generation, tree.seq, entries, line_lens)
    }

    /// How many entries the parts hold.
    pub fn entry_count(&self) -> usize {
        self.entries.len()
    }

    /// The parts of one commit's delta.
    pub fn delta(d: &'a Delta) -> PartWriter<'a> {
        let generation = serde_json::Value::String(d.generation.clone()).to_string();
        let device = serde_json::Value::String(d.device.clone()).to_string();
        let seq = d.seq;
        let (entries, line_lens) = sorted_entries(&d.entries);
        PartWriter {
            entries,
            line_lens,
            header: Box::new(move |part, parts| {
                format!(
                    "{{\"format\":{PART_FORMAT},\"generation\":{generation},\"seq\":{seq},\"device\":{device},\"part\":{part},\"parts\":{parts},\"entries\":["
                )
            }),
            name: delta_blob_name,
        }
    }

    /// The bytes around part `part` of `parts`'s lines (header and tail).
    fn frame_len(&self, part: u32, parts: u32) -> u64 {
        ((self.header)(part, parts).len() + TAIL.len()) as u64
    }

    /// Cut into parts of at most `limit` bytes each, as few as possible (greedy, in path
    /// order); an entry that does not fit in `limit` alone gets a part of its own of at most
    /// `hard` bytes. An entry too large even for that is an error naming it.
    pub fn plan(&self, limit: u64, hard: u64) -> Result<PartPlan, ManifestError> {
        let limit = limit.min(hard);
        let overhead = self.frame_len(WIDE_INDEX, WIDE_INDEX);
        let mut ranges = Vec::new();
        let mut start = 0usize;
        let mut size = overhead;
        for (i, (len, entry)) in self.line_lens.iter().zip(&self.entries).enumerate() {
            // The line and its separator ("\n" or ",\n").
            let add = *len as u64 + 2;
            if overhead + add > hard {
                return Err(ManifestError::EntryTooLarge {
                    path: entry.path.to_string(),
                    size: overhead + add,
                    limit: hard,
                });
            }
            if size + add > limit && i > start {
                ranges.push(start..i);
                start = i;
                size = overhead;
            }
            size += add;
        }
        if start < self.entries.len() || ranges.is_empty() {
            ranges.push(start..self.entries.len());
        }
        if ranges.len() >= WIDE_INDEX as usize {
            return Err(invalid("parts", "too many parts"));
        }
        let n = ranges.len() as u32;
        let sizes = ranges
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let lines: u64 = self.line_lens[r.clone()]
                    .iter()
                    .map(|l| *l as u64 + 2)
                    .sum();
                // The first line's separator is one byte ("\n"), not two.
                self.frame_len(i as u32, n) + lines - u64::from(!r.is_empty())
            })
            .collect();
        Ok(PartPlan { ranges, sizes })
    }

    /// Build the parts of `plan`.
    pub fn encode(&self, plan: &PartPlan) -> Vec<EncodedPart> {
        (0..plan.len()).map(|i| self.encode_part(plan, i)).collect()
    }

    /// Build part `i` of `plan` alone (a writer uploads parts one at a time, so only one is
    /// in memory), in a buffer of exactly its planned size.
    pub fn encode_part(&self, plan: &PartPlan, i: usize) -> EncodedPart {
        let r = plan.ranges[i].clone();
        let mut bytes = Vec::with_capacity(usize::try_from(plan.sizes[i]).unwrap_or(0));
        bytes.extend_from_slice((self.header)(i as u32, plan.ranges.len() as u32).as_bytes());
        for (n, e) in self.entries[r.clone()].iter().enumerate() {
            bytes.extend_from_slice(if n == 0 { b"\n" } else { b",\n" });
            write_line(&mut bytes, e);
        }
        bytes.extend_from_slice(TAIL.as_bytes());
        debug_assert_eq!(bytes.len() as u64, plan.sizes[i], "the planned size");
        let sha256 = Digest::of(&bytes);
        EncodedPart {
            part: PartRef {
                name: (self.name)(&sha256),
                sha256,
                size: bytes.len() as u64,
                entries: Some(r.len() as u64),
            },
            bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{snapshot_blob_name, ChunkRef, EntryKind, FORMAT_V1};
    use crate::rel_path::RelPath;

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
            chunks: vec![ChunkRef {
                sha256: sha,
                size: content.len() as u64,
                blob: crate::manifest::chunk_blob_name(&sha),
                offset: 0,
            }]
            .into(),
        }
    }

    fn snapshot(n: usize) -> Snapshot {
        Snapshot {
            format: FORMAT_V1,
            generation: "gen-1".into(),
            seq: 7,
            files: (0..n)
                .map(|i| file(&format!("dir/file-{i:05}.txt"), format!("{i}").as_bytes()))
                .collect(),
        }
    }

    fn v2_head(snapshot: SnapshotRef) -> Head {
        Head {
            history: None,
            format: FORMAT_V2,
            generation: "gen-1".into(),
            seq: snapshot.seq,
            snapshot: Some(snapshot),
            deltas: Vec::new(),
        }
    }

    /// Encode `s` at `limit` and return the head reference and the parsed parts.
    fn encoded(s: &Snapshot, limit: u64) -> (SnapshotRef, Vec<EncodedPart>) {
        let w = PartWriter::snapshot(s);
        let plan = w.plan(limit, limit).unwrap();
        let parts = w.encode(&plan);
        for (p, placeholder) in parts.iter().zip(plan.placeholder_refs()) {
            assert_eq!(p.part.size, placeholder.size, "the plan's sizes are exact");
            assert_eq!(p.part.size, p.bytes.len() as u64);
            assert!(p.part.size <= limit, "{} > {limit}", p.part.size);
        }
        let r = SnapshotRef {
            time_ms: None,
            seq: s.seq,
            parts: parts.iter().map(|p| p.part.clone()).collect(),
            manifest_version: None,
        };
        (r, parts)
    }

    fn parse_all(parts: &[EncodedPart]) -> Vec<SnapshotPart> {
        parts
            .iter()
            .map(|p| SnapshotPart::parse(&p.bytes, &Limits::default()).unwrap())
            .collect()
    }

    #[test]
    fn a_snapshot_cut_into_parts_reads_back_whole() {
        let s = snapshot(300);
        let (r, parts) = encoded(&s, 4096);
        assert!(parts.len() > 10, "{} parts", parts.len());
        for p in &parts {
            assert_eq!(p.part.name, snapshot_part_blob_name(&Digest::of(&p.bytes)));
        }
        // The head lists them and survives its own round trip.
        let head = v2_head(r.clone());
        let value = head.to_value();
        assert_eq!(value["format"], 2);
        assert_eq!(Head::parse(&value, &Limits::default()).unwrap(), head);
        let tree = assemble_snapshot("gen-1", &r, parse_all(&parts), &Limits::default()).unwrap();
        assert_eq!(tree, RemoteTree::from_snapshot(s));
        // Readable: one entry per line.
        let text = String::from_utf8(parts[1].bytes.clone()).unwrap();
        assert!(
            text.starts_with(&format!(
                "{{\"format\":2,\"generation\":\"gen-1\",\"seq\":7,\"part\":1,\"parts\":{},\"files\":[\n{{\"path\":",
                parts.len()
            )),
            "{text}"
        );
    }

    #[test]
    fn a_tree_s_snapshot_is_written_from_its_own_entries_as_a_copy_of_it_would_be() {
        let mut s = snapshot(120);
        // Names whose string order differs from a naive one ('-' < '/' < 'a'), and two
        // tombstones: one older than the cut-off (dropped), one newer (kept).
        s.files.push(file("dir-a", b"dash"));
        s.files.push(file("dir/a-b", b"slash"));
        let mut old = file("gone-old", b"");
        old.deleted = true;
        old.mtime_ns = 10;
        let mut recent = file("gone-recent", b"");
        recent.deleted = true;
        recent.mtime_ns = 1_000;
        s.files.extend([old, recent]);
        let tree = RemoteTree::from_snapshot(s);
        let copied = tree.to_snapshot(Some(500));
        let from_copy = PartWriter::snapshot(&copied);
        let lent = PartWriter::snapshot_of_tree(&tree, 500);
        assert_eq!(lent.entry_count(), copied.files.len());
        assert_eq!(
            lent.entry_count(),
            120 + 2 + 1,
            "the old tombstone is dropped"
        );
        for limit in [1024, 1 << 20] {
            let a = from_copy.encode(&from_copy.plan(limit, limit).unwrap());
            let b = lent.encode(&lent.plan(limit, limit).unwrap());
            let bytes = |p: &[EncodedPart]| p.iter().map(|p| p.bytes.clone()).collect::<Vec<_>>();
            assert_eq!(bytes(&a), bytes(&b), "limit {limit}");
        }
    }

    #[test]
    fn each_entry_is_one_line_of_its_own_json_in_path_order() {
        let s = Snapshot {
            files: vec![file("b/x", b"2"), file("a", b"1"), file("b", b"3")],
            ..snapshot(0)
        };
        let w = PartWriter::snapshot(&s);
        let parts = w.encode(&w.plan(1 << 20, 1 << 20).unwrap());
        assert_eq!(parts.len(), 1);
        let text = String::from_utf8(parts[0].bytes.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut sorted = s.files.clone();
        sorted.sort_by(|a, b| a.path.cmp(&b.path));
        let want: Vec<String> = sorted
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let json = serde_json::to_string(e).unwrap();
                if i + 1 < sorted.len() {
                    json + ","
                } else {
                    json
                }
            })
            .collect();
        assert_eq!(lines[1..lines.len() - 1], want[..], "{text}");
        assert_eq!(lines.last(), Some(&"]}"));
    }

    #[test]
    fn an_empty_tree_is_one_empty_part() {
        let s = Snapshot {
            files: vec![],
            ..snapshot(0)
        };
        let (r, parts) = encoded(&s, 4096);
        assert_eq!(parts.len(), 1);
        assert_eq!(r.parts[0].entries, Some(0));
        Head::parse(&v2_head(r.clone()).to_value(), &Limits::default()).unwrap();
        let tree = assemble_snapshot("gen-1", &r, parse_all(&parts), &Limits::default()).unwrap();
        assert!(tree.files.is_empty());
    }

    #[test]
    fn a_missing_part_or_parts_out_of_order_are_refused() {
        let (r, parts) = encoded(&snapshot(100), 2048);
        assert!(parts.len() >= 3);
        // A gap: the head skips the middle part.
        let mut gap = r.clone();
        gap.parts.remove(1);
        let mut docs = parse_all(&parts);
        docs.remove(1);
        let err = assemble_snapshot("gen-1", &gap, docs, &Limits::default()).unwrap_err();
        assert!(err.to_string().contains("found where part"), "{err}");
        // Swapped: each part says where it belongs.
        let mut swapped = r.clone();
        swapped.parts.swap(0, 1);
        let mut docs = parse_all(&parts);
        docs.swap(0, 1);
        let err = assemble_snapshot("gen-1", &swapped, docs, &Limits::default()).unwrap_err();
        assert!(err.to_string().contains("part 1 of"), "{err}");
        // Fewer documents than the head names.
        let mut docs = parse_all(&parts);
        docs.pop();
        assert!(assemble_snapshot("gen-1", &r, docs, &Limits::default()).is_err());
        // A part of another seq or generation.
        let docs = parse_all(&parts);
        let other_seq = SnapshotRef {
            time_ms: None,
            seq: 8,
            ..r.clone()
        };
        assert!(assemble_snapshot("gen-1", &other_seq, docs.clone(), &Limits::default()).is_err());
        assert!(matches!(
            assemble_snapshot("gen-2", &r, docs, &Limits::default()),
            Err(ManifestError::GenerationMismatch)
        ));
    }

    /// Hand-made parts: `files` per part, numbered in order.
    fn hand_parts(groups: Vec<Vec<FileEntry>>) -> (SnapshotRef, Vec<SnapshotPart>) {
        let n = groups.len() as u32;
        let docs: Vec<SnapshotPart> = groups
            .into_iter()
            .enumerate()
            .map(|(i, files)| SnapshotPart {
                format: PART_FORMAT,
                generation: "gen-1".into(),
                seq: 7,
                part: i as u32,
                parts: n,
                files,
            })
            .collect();
        let r = SnapshotRef {
            time_ms: None,
            seq: 7,
            parts: docs
                .iter()
                .map(|d| PartRef {
                    name: snapshot_part_blob_name(&Digest::of(b"x")),
                    sha256: Digest::of(b"x"),
                    size: 1,
                    entries: Some(d.files.len() as u64),
                })
                .collect(),
            manifest_version: None,
        };
        (r, docs)
    }

    #[test]
    fn overlapping_or_unsorted_parts_are_refused() {
        let limits = Limits::default();
        let (r, docs) = hand_parts(vec![
            vec![file("a", b"1"), file("c", b"2")],
            vec![file("b", b"3"), file("d", b"4")],
        ]);
        let err = assemble_snapshot("gen-1", &r, docs, &limits).unwrap_err();
        assert!(err.to_string().contains("overlaps"), "{err}");
        let (r, docs) = hand_parts(vec![
            vec![file("a", b"1"), file("c", b"2")],
            vec![file("c", b"3")],
        ]);
        assert!(
            assemble_snapshot("gen-1", &r, docs, &limits).is_err(),
            "a path in two parts"
        );
        // Within one part, entries must be sorted.
        let unsorted = br#"{"format":2,"generation":"g","seq":1,"part":0,"parts":1,"files":[
{"path":"b","kind":"dir","mtime_ns":0,"version":1,"device":"d"},
{"path":"a","kind":"dir","mtime_ns":0,"version":1,"device":"d"}
]}"#;
        let err = SnapshotPart::parse(unsorted, &limits).unwrap_err();
        assert!(err.to_string().contains("sorted"), "{err}");
        // A live file in one part may not be the parent of an entry in the next.
        let (r, docs) = hand_parts(vec![vec![file("a", b"1")], vec![file("a/b", b"2")]]);
        let err = assemble_snapshot("gen-1", &r, docs, &limits).unwrap_err();
        assert!(err.to_string().contains("is a file"), "{err}");
        // The head's entry count must match the part.
        let (mut r, docs) = hand_parts(vec![vec![file("a", b"1")], vec![file("b", b"2")]]);
        r.parts[1].entries = Some(5);
        assert!(assemble_snapshot("gen-1", &r, docs, &limits).is_err());
    }

    fn head_value(parts: usize, size: u64, entries: u64) -> serde_json::Value {
        let part = serde_json::json!({"sha256": Digest::of(b"x").to_hex(), "size": size, "entries": entries});
        serde_json::json!({"format": 2, "generation": "g", "seq": 1,
            "snapshot": {"seq": 1, "parts": vec![part; parts]}})
    }

    #[test]
    fn a_head_naming_a_part_over_the_limit_or_too_many_parts_is_refused() {
        let limits = Limits {
            max_bytes: 1000,
            ..Limits::default()
        };
        Head::parse(&head_value(2, 1000, 1), &limits).unwrap();
        assert!(matches!(
            Head::parse(&head_value(2, 1001, 1), &limits),
            Err(ManifestError::TooLarge {
                size: 1001,
                limit: 1000
            })
        ));
        let few = Limits {
            max_parts: 3,
            ..Limits::default()
        };
        Head::parse(&head_value(3, 10, 1), &few).unwrap();
        let err = Head::parse(&head_value(4, 10, 1), &few).unwrap_err();
        assert!(err.to_string().contains("4 parts"), "{err}");
        // No part at all, or an empty part among several, is refused too.
        assert!(Head::parse(&head_value(0, 10, 1), &Limits::default()).is_err());
        assert!(Head::parse(&head_value(2, 10, 0), &Limits::default()).is_err());
        // More entries in all than a reader holds.
        let entries = Limits {
            max_entries: 10,
            ..Limits::default()
        };
        assert!(matches!(
            Head::parse(&head_value(2, 10, 6), &entries),
            Err(ManifestError::TooLarge { .. })
        ));
        // Unknown fields are refused in format 2 too.
        let mut extra = head_value(1, 10, 1);
        extra["snapshot"]["parts"][0]["first"] = serde_json::json!("a");
        assert!(matches!(
            Head::parse(&extra, &Limits::default()),
            Err(ManifestError::Json(_))
        ));
        // A part larger than the limit is refused by its length before parsing.
        let big = vec![b' '; 1001];
        assert!(matches!(
            SnapshotPart::parse(&big, &limits),
            Err(ManifestError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_format_1_page_is_read_by_this_build() {
        let v1 = serde_json::json!({"format": 1, "generation": "g", "seq": 2,
            "snapshot": {"name": "manifest.json", "version": 3, "sha256": Digest::of(b"s").to_hex(), "size": 10, "seq": 1},
            "deltas": [{"name": format!("d-{}.json", Digest::of(b"d").to_hex()), "sha256": Digest::of(b"d").to_hex(), "size": 5, "seq": 2}]});
        let head = Head::parse(&v1, &Limits::default()).unwrap();
        assert_eq!(head.format, FORMAT_V1);
        let s = head.snapshot.as_ref().unwrap();
        assert_eq!(s.manifest_version, Some(3));
        assert_eq!(s.parts[0].name, snapshot_blob_name());
        assert_eq!(head.to_value(), v1, "written back unchanged");
        assert!(head.needs_compaction(), "the next commit writes format 2");
        // A format 1 snapshot document is still read; a format 2 part is not a format 1 one.
        let doc = snapshot(3).to_bytes();
        Snapshot::parse(&doc, &Limits::default()).unwrap();
        let (_, parts) = encoded(&snapshot(3), 1 << 20);
        assert!(Snapshot::parse(&parts[0].bytes, &Limits::default()).is_err());
        assert!(SnapshotPart::parse(&doc, &Limits::default()).is_err());
    }

    #[test]
    fn a_reader_limited_to_format_1_refuses_a_format_2_head_cleanly() {
        let v1_reader = Limits {
            max_format: FORMAT_V1,
            ..Limits::default()
        };
        let (r, parts) = encoded(&snapshot(5), 1 << 20);
        let err = Head::parse(&v2_head(r).to_value(), &v1_reader).unwrap_err();
        assert!(
            matches!(
                err,
                ManifestError::UnsupportedFormat {
                    found: 2,
                    supported: 1
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("upgrade"), "{err}");
        let err = SnapshotPart::parse(&parts[0].bytes, &v1_reader).unwrap_err();
        assert!(matches!(err, ManifestError::UnsupportedFormat { .. }));
    }

    #[test]
    fn deltas_are_cut_into_sorted_parts_and_joined_back() {
        let entries: Vec<FileEntry> = (0..120)
            .rev()
            .map(|i| file(&format!("f{i:04}"), format!("{i}").as_bytes()))
            .collect();
        let d = Delta {
            format: PART_FORMAT,
            generation: "gen-1".into(),
            seq: 8,
            device: "laptop".into(),
            entries,
        };
        let w = PartWriter::delta(&d);
        let plan = w.plan(2048, 2048).unwrap();
        let parts = w.encode(&plan);
        assert!(parts.len() > 3);
        let r = DeltaRef {
            time_ms: None,
            seq: 8,
            parts: parts.iter().map(|p| p.part.clone()).collect(),
        };
        assert!(r.parts.iter().all(|p| p.name.as_str().starts_with("d-")));
        let docs: Vec<DeltaPart> = parts
            .iter()
            .map(|p| DeltaPart::parse(&p.bytes, &Limits::default()).unwrap())
            .collect();
        let joined = assemble_delta("gen-1", &r, docs.clone(), &Limits::default()).unwrap();
        let mut sorted = d.entries.clone();
        sorted.sort_by(|a, b| a.path.cmp(&b.path));
        assert_eq!(joined.entries, sorted);
        assert_eq!(joined.device, "laptop");
        // Parts of different devices do not make one delta.
        let mut mixed = docs;
        mixed[1].device = "other".into();
        assert!(assemble_delta("gen-1", &r, mixed, &Limits::default()).is_err());
    }

    #[test]
    fn an_entry_larger_than_the_preferred_size_gets_a_part_of_its_own_up_to_the_hard_limit() {
        let mut big = file("big", b"x");
        big.chunks = (0..50)
            .map(|i| ChunkRef {
                sha256: Digest::of(&[i]),
                size: 1,
                blob: crate::manifest::chunk_blob_name(&Digest::of(&[i])),
                offset: 0,
            })
            .collect();
        big.size = 50;
        let s = Snapshot {
            files: vec![file("a", b"1"), big, file("c", b"3")],
            ..snapshot(0)
        };
        let w = PartWriter::snapshot(&s);
        let plan = w.plan(1024, 64 * 1024).unwrap();
        assert_eq!(plan.len(), 3, "a, big alone, c");
        assert!(matches!(
            w.plan(1024, 2048),
            Err(ManifestError::EntryTooLarge { ref path, .. }) if path == "big"
        ));
    }
}
