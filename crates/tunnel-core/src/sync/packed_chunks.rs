//! Chunks of big files packed in a sync that did not reach its commit (interrupted, or the
//! commit lost): the journal keeps, per folder, which chunks each such pack holds and where, so
//! the next sync re-uses the pack when it still exists instead of sending those chunks again —
//! a 1 GiB upload cut short at 900 MB resumes at 900 MB, as it does for `c-` chunk blobs
//! (which need no record: their name is the chunk's hash).
//!
//! A pack is re-used only when this sync wants every chunk in it, so that the commit references
//! all its bytes (and the committer's check after the commit can rebuild it from the files).
//! The record (journal `config` key [`key`]) grows while packs are sent and shrinks before
//! each full scan ([`settle`]: a pack sent longer ago than the collector's grace period may
//! be collected, and a resumed upload that late sends its chunks again; before, records were
//! kept for ever) and at the start of each upload pass (a pack all of whose chunks the page's
//! file list references is committed, one that is gone from the page was collected). From a
//! pack sent to the next commit that lands, the scan hashes new big files (see [`settle`]).

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use tracing::debug;

use super::upload::{ChunkIndex, Packed};
use super::*;
use crate::manifest::ChunkRef;
use crate::remote::BlobInfo;

/// The journal key of a folder's record.
fn key(folder: FolderId) -> String {
    format!("packed-chunks:{folder}")
}

/// One pack sent: its size, its chunks (hash, offset, size) and when it was sent (seconds
/// since the epoch; 0 in records written before it was kept: long ago).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct PackRecord {
    size: u64,
    chunks: Vec<(Digest, u64, u64)>,
    #[serde(default)]
    sent: i64,
}

/// Pack name → what it holds.
type Records = BTreeMap<String, PackRecord>;

fn parse(text: Option<String>) -> Records {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// The chunk references a record gives, for the chunks in `wanted`.
fn refs_for(name: &BlobName, rec: &PackRecord, wanted: &HashSet<Digest>) -> Vec<ChunkRef> {
    rec.chunks
        .iter()
        .filter(|(d, _, _)| wanted.contains(d))
        .map(|&(sha256, offset, size)| ChunkRef {
            sha256,
            size,
            blob: name.clone(),
            offset,
        })
        .collect()
}

/// The journal key saying that packs were recorded since `folder`'s last commit.
fn open_key(folder: FolderId) -> String {
    format!("packed-chunks-open:{folder}")
}

/// A commit of `folder` landed: the packs on record are committed or belong to files that
/// changed since they were sent (none is an interrupted upload's to resume).
pub(super) fn mark_committed(
    j: &mut Journal,
    folder: FolderId,
) -> Result<(), crate::journal::JournalError> {
    if j.get_config(&open_key(folder))?
        .is_some_and(|v| !v.is_empty())
    {
        j.set_config(&open_key(folder), "")?;
    }
    Ok(())
}

/// Drop from `folder`'s record the packs sent more than `grace_secs` before `now` (the
/// collector may have taken them, and a resumed upload that late sends its chunks again;
/// before, records were kept for ever); returns whether packs were sent since the last
/// commit (an interrupted upload) and are still on record. While they are, the upload should
/// know every chunk it wants before it sends any, so that it re-uses them: the scan then
/// hashes new big files rather than leave them to be read as they are sent
/// (`upload_stream.rs`, which looks only at the page's chunks). Committed packs stay on
/// record until they expire: a narrow sync, whose tree holds only its own paths, finds a
/// copy's chunks there.
pub(super) fn settle(
    j: &mut Journal,
    folder: FolderId,
    now: i64,
    grace_secs: u64,
) -> Result<bool, crate::journal::JournalError> {
    let records = parse(j.get_config(&key(folder))?);
    if records.is_empty() {
        return Ok(false);
    }
    let oldest = now.saturating_sub(i64::try_from(grace_secs).unwrap_or(i64::MAX));
    let keep: Records = records
        .iter()
        .filter(|(_, rec)| rec.sent > oldest)
        .map(|(name, rec)| (name.clone(), rec.clone()))
        .collect();
    if keep != records {
        j.set_config(
            &key(folder),
            &serde_json::to_string(&keep).unwrap_or_default(),
        )?;
    }
    let open = j
        .get_config(&open_key(folder))?
        .is_some_and(|v| !v.is_empty());
    Ok(open && !keep.is_empty())
}

impl Syncer {
    /// Remember the chunks of big files in pack `info` (none: nothing to remember).
    pub(super) async fn remember_packed_chunks(
        &self,
        folder: FolderId,
        info: &BlobInfo,
        members: &[Packed],
    ) -> Result<(), SyncError> {
        let chunks: Vec<(Digest, u64, u64)> = members
            .iter()
            .filter(|m| !m.whole_file)
            .map(|m| (m.chunk.sha256, m.chunk.offset, m.chunk.size))
            .collect();
        if chunks.is_empty() {
            return Ok(());
        }
        let (name, size) = (info.name.as_str().to_string(), info.size);
        let sent = crate::clock::unix_now();
        self.with_journal(move |j| {
            let mut records = parse(j.get_config(&key(folder))?);
            records.insert(name, PackRecord { size, chunks, sent });
            j.set_config(&open_key(folder), "1")?;
            j.set_config(
                &key(folder),
                &serde_json::to_string(&records).unwrap_or_default(),
            )
        })
        .await
    }

    /// The chunks in `wanted` that a pack of an earlier, uncommitted sync holds, that pack
    /// still being on the page with its size; drops the records no longer needed (every chunk
    /// in `committed`, the page's own index) or whose pack is gone.
    pub(super) async fn reuse_packed_chunks(
        &self,
        folder: FolderId,
        store: &dyn RemoteStore,
        committed: &ChunkIndex,
        wanted: &HashSet<Digest>,
    ) -> Result<Vec<ChunkRef>, SyncError> {
        let mut found_refs = Vec::new();
        let records = parse(
            self.with_journal(move |j| j.get_config(&key(folder)))
                .await?,
        );
        if records.is_empty() {
            return Ok(found_refs);
        }
        let mut keep = Records::new();
        for (name, rec) in &records {
            if rec.chunks.iter().all(|(d, _, _)| committed.contains_key(d)) {
                continue; // committed: the page's file list names them
            }
            let Ok(blob) = BlobName::new(name.as_str()) else {
                continue;
            };
            let useful = refs_for(&blob, rec, wanted);
            // Only a pack all of whose chunks this sync wants is re-used: the commit then
            // references every byte of it, so should a collector trash it before the commit
            // lands, the committer's check can rebuild it from the files (`verify.rs`).
            if useful.len() != rec.chunks.len() {
                keep.insert(name.clone(), rec.clone());
                continue;
            }
            match store.find_blob(&blob).await {
                Ok(Some(found)) if found.size == rec.size => {
                    found_refs.extend(useful);
                    keep.insert(name.clone(), rec.clone());
                }
                Ok(_) => debug!(blob = %name, "a pack sent earlier is gone; its chunks go again"),
                Err(e) if is_fatal(&e) => return Err(SyncError::Remote(e)),
                Err(e) => {
                    debug!(blob = %name, error = %e, "could not check a pack sent earlier");
                    keep.insert(name.clone(), rec.clone());
                }
            }
        }
        if keep != records {
            let text = serde_json::to_string(&keep).unwrap_or_default();
            self.with_journal(move |j| j.set_config(&key(folder), &text))
                .await?;
        }
        Ok(found_refs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_gives_the_wanted_chunks_at_their_offsets_and_survives_a_bad_text() {
        let name = BlobName::new("p-1").expect("name");
        let (a, b) = (Digest::of(b"a"), Digest::of(b"b"));
        let rec = PackRecord {
            size: 30,
            chunks: vec![(a, 0, 10), (b, 10, 20)],
            sent: 1_000,
        };
        let wanted: HashSet<Digest> = [b].into_iter().collect();
        let refs = refs_for(&name, &rec, &wanted);
        assert_eq!(refs.len(), 1);
        assert_eq!((refs[0].sha256, refs[0].offset, refs[0].size), (b, 10, 20));
        let mut records = Records::new();
        records.insert("p-1".into(), rec);
        let text = serde_json::to_string(&records).expect("json");
        assert_eq!(parse(Some(text)), records, "round trip");
        assert!(
            parse(Some("not json".into())).is_empty(),
            "a bad record is no record"
        );
    }

    #[test]
    fn settling_drops_the_packs_older_than_the_grace_and_tells_of_an_interrupted_upload() {
        let mut j = Journal::open_in_memory().expect("open");
        let folder = FolderId::new(7);
        let now = 1_000_000;
        let rec = |sent: i64| PackRecord {
            size: 10,
            chunks: vec![(Digest::of(b"x"), 0, 10)],
            sent,
        };
        let records: Records = [
            ("m-recent".to_string(), rec(now - 10)),
            ("m-old".to_string(), rec(now - 5_000)),
            ("m-before-times-were-kept".to_string(), rec(0)),
        ]
        .into_iter()
        .collect();
        j.set_config(
            &key(folder),
            &serde_json::to_string(&records).expect("json"),
        )
        .expect("write");
        // Recorded, no commit since: an interrupted upload.
        j.set_config(&open_key(folder), "1").expect("open");
        assert!(settle(&mut j, folder, now, 3_600).expect("settle"));
        let left = parse(j.get_config(&key(folder)).expect("read"));
        assert_eq!(
            left.keys().collect::<Vec<_>>(),
            vec!["m-recent"],
            "the packs sent within the grace period stay"
        );
        // A commit landed: nothing to resume, the record stays (a narrow sync finds copies
        // there).
        mark_committed(&mut j, folder).expect("committed");
        assert!(!settle(&mut j, folder, now, 3_600).expect("settle"));
        assert_eq!(parse(j.get_config(&key(folder)).expect("read")).len(), 1);
        // Past the grace period, none is kept, and nothing is left to resume either.
        j.set_config(&open_key(folder), "1").expect("open");
        assert!(!settle(&mut j, folder, now + 3_600, 3_600).expect("settle"));
        assert!(parse(j.get_config(&key(folder)).expect("read")).is_empty());
        // No record at all: nothing to do.
        assert!(!settle(&mut j, FolderId::new(8), now, 3_600).expect("settle"));
    }
}
