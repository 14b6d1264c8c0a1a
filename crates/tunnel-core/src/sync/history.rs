//! History on the page (format 3): writing the history document when the file list is
//! compacted, reading past file lists back, the versions of a path, and what garbage
//! collection must keep for them.
//!
//! A *timeline* is every retained segment (from the history document) followed by the
//! head's own snapshot and deltas. Each commit in it has a seq and a time; the file list at
//! any of those seqs is rebuilt from its segment's snapshot and deltas by the ordinary reader
//! (`remote_state::fetch_full`), so every blob is checked against its size and SHA-256.

use std::collections::{BTreeMap, HashSet};

use tracing::warn;

use super::file_list::HistoryPolicy;
use super::remote_state::{fetch_delta_of, fetch_full, fetch_verified};
use crate::error::SyncError;
use crate::manifest::history::{history_blob_name, History, Segment};
use crate::manifest::{Delta, FileEntry, Head, Limits, PartRef, RemoteTree, FORMAT_VERSION};
use crate::rel_path::RelPath;
use crate::remote::{BlobName, BlobSource, RemoteStore};

/// Read the history document `head` names (`None` when it names none).
pub(crate) async fn load_history(
    store: &dyn RemoteStore,
    head: &Head,
    limits: &Limits,
) -> Result<Option<History>, SyncError> {
    let Some(p) = &head.history else {
        return Ok(None);
    };
    let bytes = fetch_verified(store, &p.name, None, p.size, &p.sha256, limits).await?;
    let h = History::parse(&bytes, limits)?;
    h.check_against(head)?;
    Ok(Some(h))
}

/// Write the history document a compacting commit needs: the segment `head` (the head read,
/// about to be replaced by a new snapshot) holds is appended to its history, expired segments
/// are dropped. Returns the reference for the new head, `None` when nothing is kept (history
/// off, a format 2 head whose commits have no times, a first commit or a new generation).
pub(crate) async fn carry_history(
    store: &dyn RemoteStore,
    head: &Head,
    policy: HistoryPolicy,
    max_bytes: u64,
    written: &mut Vec<(BlobName, Option<bytes::Bytes>)>,
) -> Result<Option<PartRef>, SyncError> {
    if policy.keep_ms <= 0 || head.format != FORMAT_VERSION {
        return Ok(None);
    }
    let Some(folded) = Segment::of_head(head) else {
        return Ok(None);
    };
    let limits = Limits {
        max_bytes,
        ..Limits::default()
    };
    let mut history = match load_history(store, head, &limits).await {
        Ok(Some(h)) => h,
        Ok(None) => History {
            generation: head.generation.clone(),
            segments: Vec::new(),
        },
        // Never block every commit on an unreadable history: start it again from here.
        Err(e) => {
            warn!(error = %e, "the page's history could not be read; it starts again now");
            History {
                generation: head.generation.clone(),
                segments: Vec::new(),
            }
        }
    };
    history.fold(
        folded,
        policy.now_ms,
        policy.now_ms.saturating_sub(policy.keep_ms),
    );
    let mut bytes = history.to_bytes();
    while bytes.len() as u64 > max_bytes && history.segments.len() > 1 {
        warn!("the history document reached the size limit; dropping its oldest file list");
        history.segments.remove(0);
        bytes = history.to_bytes();
    }
    let sha256 = crate::hash::Digest::of(&bytes);
    let name = history_blob_name(&sha256);
    let size = bytes.len() as u64;
    let bytes = bytes::Bytes::from(bytes);
    store
        .put_blob(&name, BlobSource::Bytes(bytes.clone()))
        .await?;
    let kept = (bytes.len() <= super::verify::KEEP_BYTES_UP_TO).then_some(bytes);
    written.push((name.clone(), kept));
    Ok(Some(PartRef {
        name,
        sha256,
        size,
        entries: Some(history.segments.len() as u64),
    }))
}

/// Every retained segment, oldest first, then the head's own.
pub(crate) async fn timeline(
    store: &dyn RemoteStore,
    head: &Head,
    limits: &Limits,
) -> Result<Vec<Segment>, SyncError> {
    let mut out = load_history(store, head, limits)
        .await?
        .map(|h| h.segments)
        .unwrap_or_default();
    out.extend(Segment::of_head(head));
    Ok(out)
}

/// One step of a walk through the timeline.
pub(crate) enum Step<'a> {
    /// A segment's snapshot: the whole file list at `seq`.
    Snapshot {
        seq: u64,
        time_ms: i64,
        tree: &'a RemoteTree,
    },
    /// One commit's changes.
    Delta {
        seq: u64,
        time_ms: i64,
        delta: &'a Delta,
    },
}

/// Read every file list of the timeline in order, calling `visit` for each snapshot and
/// each delta. Reads every retained blob of the file list once.
pub(crate) async fn walk(
    store: &dyn RemoteStore,
    generation: &str,
    segments: &[Segment],
    limits: &Limits,
    mut visit: impl FnMut(Step<'_>),
) -> Result<(), SyncError> {
    for seg in segments {
        let only_snapshot = Segment {
            snapshot: seg.snapshot.clone(),
            deltas: Vec::new(),
        }
        .head_at(generation, seg.first_seq());
        let tree = fetch_full(store, &only_snapshot, limits).await?;
        visit(Step::Snapshot {
            seq: seg.first_seq(),
            time_ms: seg.snapshot.time_ms.unwrap_or(0),
            tree: &tree,
        });
        for d in &seg.deltas {
            let delta = fetch_delta_of(store, generation, d, limits).await?;
            visit(Step::Delta {
                seq: d.seq,
                time_ms: d.time_ms.unwrap_or(0),
                delta: &delta,
            });
        }
    }
    Ok(())
}

/// The file list at `seq`, if the timeline still holds it.
pub(crate) async fn tree_at(
    store: &dyn RemoteStore,
    generation: &str,
    segments: &[Segment],
    seq: u64,
    limits: &Limits,
) -> Result<Option<RemoteTree>, SyncError> {
    let Some(seg) = segments
        .iter()
        .find(|s| s.first_seq() <= seq && seq <= s.last_seq())
    else {
        return Ok(None);
    };
    let head = seg.head_at(generation, seq);
    Ok(Some(fetch_full(store, &head, limits).await?))
}

/// The commit current at `time_ms`: the last one made at or before it (`None` when the
/// timeline starts later).
pub(crate) fn seq_at_time(segments: &[Segment], time_ms: i64) -> Option<u64> {
    segments
        .iter()
        .flat_map(|s| s.commits())
        .take_while(|&(_, t)| t <= time_ms)
        .map(|(seq, _)| seq)
        .last()
}

/// Every blob a retained past file list needs: the history document, every part of every
/// segment, and the chunks and packs of every file version any of them lists (the head's own
/// deltas included: the versions they replaced are history too).
///
/// `held` is the whole file list at the head, when the caller holds it: a snapshot of that
/// very seq (the one a commit that compacted has just written) lists the same live entries,
/// so its chunks are taken from `held` instead of reading the snapshot back — after a first
/// upload of 100,000 files, a second copy of them all (issue 15).
pub(crate) async fn referenced_by_history(
    store: &dyn RemoteStore,
    head: &Head,
    held: Option<&RemoteTree>,
    limits: &Limits,
) -> Result<HashSet<BlobName>, SyncError> {
    let mut out = HashSet::new();
    if let Some(p) = &head.history {
        out.insert(p.name.clone());
    }
    let mut segments = timeline(store, head, limits).await?;
    for s in &segments {
        out.extend(s.snapshot.parts.iter().map(|p| p.name.clone()));
        for d in &s.deltas {
            out.extend(d.parts.iter().map(|p| p.name.clone()));
        }
    }
    let mut add = |e: &FileEntry| {
        for c in e.chunks.iter() {
            out.insert(c.blob.clone());
        }
    };
    if let Some(tree) = held.filter(|t| t.generation == head.generation && t.seq == head.seq) {
        let before = segments.len();
        segments.retain(|s| !(s.snapshot.seq == tree.seq && s.deltas.is_empty()));
        if segments.len() < before {
            tree.live().for_each(&mut add);
        }
    }
    walk(
        store,
        &head.generation,
        &segments,
        limits,
        |step| match step {
            Step::Snapshot { tree, .. } => tree.live().for_each(&mut add),
            Step::Delta { delta, .. } => delta.entries.iter().for_each(&mut add),
        },
    )
    .await?;
    Ok(out)
}

/// Whether garbage collection must keep what history references on this page: the head
/// names a history, or this device keeps history (its retention is above 0) and the head is
/// of the format that records it.
pub(crate) fn history_matters(head: &Head, keep_ms: i64) -> bool {
    head.format == FORMAT_VERSION && (head.history.is_some() || keep_ms > 0)
}

/// One version of a path (a file, or a folder and everything below it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PathVersion {
    /// The commit that made it (the number `restore --version` takes for a folder).
    pub seq: u64,
    /// When (ms since the Unix epoch, the committing device's clock).
    pub time_ms: i64,
    /// The device whose change it was.
    pub device: String,
    /// What happened: `created`, `modified`, `deleted` (a file) or `changed` (a folder).
    pub action: String,
    /// The file's own version counter (`restore --version` for a file); `None` for a folder.
    pub version: Option<u64>,
    /// Bytes after the change (the file's size, or every live file below the folder).
    pub size: u64,
    /// Live files after the change (1 or 0 for a file).
    pub files: u64,
    /// Files created, modified and deleted by the change (below the path).
    pub created: u64,
    /// See `created`.
    pub modified: u64,
    /// See `created`.
    pub deleted: u64,
    /// A file whose content after the change is that of an earlier version (not the one it
    /// replaced): that version's counter — a restore, or an edit back to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<u64>,
}

/// Whether `p` is `root` or below it (`None` root: the whole folder).
pub(crate) fn is_under(p: &RelPath, root: Option<&RelPath>) -> bool {
    match root {
        None => true,
        Some(r) => {
            p == r
                || p.as_str()
                    .strip_prefix(r.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        }
    }
}

/// Follows the live entries below one path through a walk and records every change.
pub(crate) struct PathTracker {
    root: Option<RelPath>,
    live: BTreeMap<RelPath, FileEntry>,
    /// Each content the tracked file had and the version counter that first had it.
    contents: Vec<(crate::hash::Digest, u64)>,
    /// The versions found, oldest first.
    pub versions: Vec<PathVersion>,
}

impl PathTracker {
    /// Track `root` (`None`: the whole folder).
    pub(crate) fn new(root: Option<RelPath>) -> PathTracker {
        PathTracker {
            root,
            live: BTreeMap::new(),
            contents: Vec::new(),
            versions: Vec::new(),
        }
    }

    /// Take one step of the walk.
    pub(crate) fn step(&mut self, step: Step<'_>) {
        let (seq, time_ms, next, device) = match step {
            Step::Snapshot { seq, time_ms, tree } => {
                let next: BTreeMap<RelPath, FileEntry> = tree
                    .live()
                    .filter(|e| is_under(&e.path, self.root.as_ref()))
                    .map(|e| (e.path.clone(), e.clone()))
                    .collect();
                (seq, time_ms, next, None)
            }
            Step::Delta {
                seq,
                time_ms,
                delta,
            } => {
                let mut next = self.live.clone();
                for e in delta
                    .entries
                    .iter()
                    .filter(|e| is_under(&e.path, self.root.as_ref()))
                {
                    if e.deleted {
                        next.remove(&e.path);
                    } else {
                        next.insert(e.path.clone(), e.clone());
                    }
                }
                (seq, time_ms, next, Some(delta.device.clone()))
            }
        };
        self.record(seq, time_ms, next, device);
    }

    fn record(
        &mut self,
        seq: u64,
        time_ms: i64,
        next: BTreeMap<RelPath, FileEntry>,
        device: Option<String>,
    ) {
        let (mut created, mut modified, mut deleted) = (0u64, 0u64, 0u64);
        let mut changer: Option<&FileEntry> = None;
        for (p, e) in &next {
            match self.live.get(p) {
                None => created += 1,
                Some(old) if !same_version(old, e) => modified += 1,
                Some(_) => continue,
            }
            changer = Some(e);
        }
        deleted += self.live.keys().filter(|p| !next.contains_key(*p)).count() as u64;
        if created + modified + deleted > 0 {
            let is_file = self.root.as_ref().is_some_and(|r| {
                next.get(r)
                    .or_else(|| self.live.get(r))
                    .is_some_and(|e| e.kind == crate::manifest::EntryKind::File)
            });
            let device = device
                .or_else(|| changer.map(|e| e.device.to_string()))
                .unwrap_or_default();
            let action = match (is_file, created, deleted) {
                (false, _, _) => "changed",
                (true, 1, _) => "created",
                (true, _, 1) => "deleted",
                (true, _, _) => "modified",
            };
            let version = if is_file {
                let r = self.root.as_ref().expect("a file is a path");
                next.get(r).map(|e| e.version).or_else(|| {
                    // A deletion: the tombstone's version is one past the deleted file's.
                    self.live.get(r).map(|e| e.version + 1)
                })
            } else {
                None
            };
            let restored_from = if is_file {
                self.earlier_content(next.get(self.root.as_ref().expect("a file is a path")))
            } else {
                None
            };
            let files = next
                .values()
                .filter(|e| e.kind == crate::manifest::EntryKind::File)
                .count() as u64;
            let size = next.values().map(|e| e.size).sum();
            self.versions.push(PathVersion {
                seq,
                time_ms,
                device,
                action: action.to_string(),
                version,
                size,
                files,
                created,
                modified,
                deleted,
                restored_from,
            });
        }
        self.live = next;
    }

    /// For the tracked file's new state: the version that first had this content, when that
    /// is not the version it replaces (so an ordinary edit is not called a restore); then
    /// remember the content.
    fn earlier_content(&mut self, now: Option<&FileEntry>) -> Option<u64> {
        let e = now.filter(|e| e.kind == crate::manifest::EntryKind::File)?;
        let sha = e.sha256?;
        let replaced = self.root.as_ref().and_then(|r| self.live.get(r));
        let same_as_replaced = replaced.is_some_and(|old| old.sha256 == Some(sha));
        let earlier = self
            .contents
            .iter()
            .find(|(c, _)| *c == sha)
            .map(|(_, v)| *v)
            .filter(|_| !same_as_replaced);
        if !self.contents.iter().any(|(c, _)| *c == sha) {
            self.contents.push((sha, e.version));
        }
        earlier
    }
}

fn same_version(a: &FileEntry, b: &FileEntry) -> bool {
    a.version == b.version && a.sha256 == b.sha256 && a.kind == b.kind && a.device == b.device
}
