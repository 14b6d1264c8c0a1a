//! Chunks of big files packed in a sync that did not reach its commit (interrupted, or the
//! commit lost): the journal keeps, per folder, which chunks each such pack holds and where, so
//! the next sync re-uses the pack when it still exists instead of sending those chunks again —
//! a 1 GiB upload cut short at 900 MB resumes at 900 MB, as it does for `c-` chunk blobs
//! (which need no record: their name is the chunk's hash).
//!
//! A pack is re-used only when this sync wants every chunk in it, so that the commit references
//! all its bytes (and the committer's check after the commit can rebuild it from the files).
//! The record (journal `config` key [`key`]) only grows while packs are sent and shrinks at the
//! start of each upload pass: a pack all of whose chunks the page's file list references is
//! committed (no longer needed here), one that is gone from the page was collected.

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

/// One pack sent: its size and its chunks (hash, offset, size).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct PackRecord {
    size: u64,
    chunks: Vec<(Digest, u64, u64)>,
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
        self.with_journal(move |j| {
            let mut records = parse(j.get_config(&key(folder))?);
            records.insert(name, PackRecord { size, chunks });
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
}
