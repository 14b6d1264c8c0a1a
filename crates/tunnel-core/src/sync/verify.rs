//! After a commit: every blob the commit introduced — referenced by its entries but not by the
//! tree it was built on, so found on the page or sent during this sync — must still exist. A
//! collector on another device may have trashed it between our look at it and our commit
//! (see `gc.rs` and docs/remote-format.md, "Garbage collection"). A missing one is restored
//! from local bytes: blob names are content hashes, so the restored blob is exactly the one
//! the commit references.
//!
//! Each introduced blob is checked right after the commit — unless this very sync's upload
//! created it moments before, when no collector can have trashed it (`fresh_blobs.rs` has the
//! rule and the argument) — and every one once more on the first sync at least
//! [`VERIFY_WINDOW_SECS`] later, which covers a collector whose trash request was already on
//! its way when we first looked. The journal keeps the list ([`pending_key`]) until then.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tracing::{debug, info, warn};

use crate::hash::Digest;
use crate::ids::FolderId;
use crate::manifest::pack_name::PackNaming;
use crate::manifest::{FileEntry, RemoteTree};
use crate::remote::{BlobName, BlobSource, RemoteError, RemoteStore};

/// How long after a commit its introduced blobs are checked once more (seconds): longer than
/// one trash request can take to reach the server. The Confluence client gives up on a request
/// after 5 attempts of at most 60 s each with at most 4 waits of at most 10 minutes (the
/// longest `Retry-After` it honours) between them: 45 minutes.
pub(crate) const VERIFY_WINDOW_SECS: i64 = 3600;

/// One introduced blob still to be checked late.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pending {
    /// The blob.
    pub blob: BlobName,
    /// Unix seconds of the commit that introduced it.
    pub committed: i64,
    /// Its bytes, hex-encoded, when this device wrote them from memory (a delta) and they
    /// are small: nothing on disk could give them back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_hex: Option<String>,
}

/// Largest blob whose bytes a [`Pending`] keeps.
pub(crate) const KEEP_BYTES_UP_TO: usize = 256 * 1024;

/// The journal key of a folder's pending checks.
pub(crate) fn pending_key(folder_id: FolderId) -> String {
    format!("gc-verify:{folder_id}")
}

/// The blobs `entries` reference that no live entry of `before` references.
pub(crate) fn introduced(entries: &[FileEntry], before: &RemoteTree) -> BTreeSet<BlobName> {
    let mut wanted: BTreeSet<BlobName> = entries
        .iter()
        .filter(|e| !e.deleted)
        .flat_map(|e| e.chunks.iter().map(|c| c.blob.clone()))
        .collect();
    if wanted.is_empty() {
        return wanted;
    }
    let had: HashSet<&BlobName> = before
        .live()
        .flat_map(|e| e.chunks.iter().map(|c| &c.blob))
        .collect();
    wanted.retain(|b| !had.contains(b));
    wanted
}

/// Check that each of `blobs` exists and restore the missing ones: from `known` (bytes this
/// device holds, e.g. the delta it just wrote) or from the local files of `tree`'s entries
/// that reference them. Returns the blobs that are missing and could not be restored.
pub(crate) async fn ensure_present(
    store: &dyn RemoteStore,
    root: &Path,
    tree: &RemoteTree,
    blobs: &BTreeSet<BlobName>,
    known: &HashMap<BlobName, Bytes>,
) -> Result<Vec<BlobName>, RemoteError> {
    let mut lost = Vec::new();
    for name in blobs {
        if store.find_blob(name).await?.is_some() {
            continue;
        }
        warn!(blob = %name, "a blob our commit references was trashed meanwhile; restoring it");
        let mut sources: Vec<BlobSource> = Vec::new();
        if let Some(b) = known.get(name) {
            sources.push(BlobSource::Bytes(b.clone()));
        }
        sources.extend(local_sources(root, tree, name).await);
        let mut restored = false;
        for source in sources {
            match store.put_blob(name, source).await {
                Ok(_) => {
                    restored = true;
                    break;
                }
                // The local file changed since: another copy may still hold the bytes.
                Err(RemoteError::SourceChanged(p)) => {
                    debug!(blob = %name, path = %p.display(), "changed; trying another copy")
                }
                Err(e) => return Err(e),
            }
        }
        if restored {
            info!(blob = %name, "restored a trashed blob from local files");
        } else {
            warn!(blob = %name, "a trashed blob could not be restored: no unchanged local copy");
            lost.push(name.clone());
        }
    }
    Ok(lost)
}

/// Ways to rebuild blob `name` from the local files of `tree`'s live entries: for a chunk
/// blob, each file slice that should hold it (checked while it is sent); for a pack, its
/// bytes assembled from every member, each checked against its hash, the whole against the
/// pack's name. Empty when the local files cannot give it back.
async fn local_sources(root: &Path, tree: &RemoteTree, name: &BlobName) -> Vec<BlobSource> {
    let (want, pack) = match (
        name.as_str()
            .strip_prefix("c-")
            .and_then(|h| Digest::from_hex(h).ok()),
        PackNaming::of(name),
    ) {
        (Some(want), _) => (want, None),
        (None, Some(pack)) => (Digest([0; 32]), Some(pack)),
        (None, None) => return Vec::new(),
    };
    // Offset in the blob → (size, hash, file, offset in the file); several files may hold
    // the same piece.
    let mut pieces: BTreeMap<u64, Vec<(u64, Digest, PathBuf, u64)>> = BTreeMap::new();
    for e in tree.live() {
        let mut at = 0u64;
        for c in e.chunks.iter() {
            if &c.blob == name {
                pieces.entry(c.offset).or_default().push((
                    c.size,
                    c.sha256,
                    e.path.to_native(root),
                    at,
                ));
            }
            at = at.saturating_add(c.size);
        }
    }
    let Some(pack) = pack else {
        return pieces
            .remove(&0)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, sha, _, _)| *sha == want)
            .map(|(len, sha256, path, offset)| BlobSource::File {
                path,
                offset,
                len,
                sha256,
            })
            .collect();
    };
    let mut buf: Vec<u8> = Vec::new();
    let mut members: Vec<(Digest, u64)> = Vec::new();
    for (offset, copies) in pieces {
        if offset != buf.len() as u64 {
            // A gap (a member nobody references any more) or an overlap: not rebuildable.
            return Vec::new();
        }
        let mut found = false;
        for (size, sha, path, at) in copies {
            if let Some(bytes) = read_slice(&path, at, size).await {
                if Digest::of(&bytes) == sha {
                    buf.extend_from_slice(&bytes);
                    members.push((sha, size));
                    found = true;
                    break;
                }
            }
        }
        if !found {
            return Vec::new();
        }
    }
    // The whole against the pack's name: its bytes' digest (`p-`) or its member list (`m-`).
    if buf.is_empty() || !pack.matches(&members, &buf) {
        return Vec::new();
    }
    let bytes = Bytes::from(buf);
    match pack {
        PackNaming::Bytes(_) => vec![BlobSource::Bytes(bytes)],
        PackNaming::Members(members) => vec![BlobSource::Members { bytes, members }],
    }
}

async fn read_slice(path: &Path, offset: u64, len: u64) -> Option<Vec<u8>> {
    let mut f = tokio::fs::File::open(path).await.ok()?;
    f.seek(std::io::SeekFrom::Start(offset)).await.ok()?;
    let mut out = Vec::with_capacity(usize::try_from(len).ok()?.min(64 << 20));
    f.take(len).read_to_end(&mut out).await.ok()?;
    (out.len() as u64 == len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{pack_blob_name, ChunkRef, EntryKind};
    use crate::rel_path::RelPath;
    use crate::remote::memory::MemoryStore;

    fn entry(path: &str, content: &[u8], blob: &BlobName, offset: u64) -> FileEntry {
        FileEntry {
            path: RelPath::new(path).expect("path"),
            kind: EntryKind::File,
            deleted: false,
            size: content.len() as u64,
            mtime_ns: 1,
            sha256: Some(Digest::of(content)),
            version: 1,
            device: "d".into(),
            chunks: vec![ChunkRef {
                sha256: Digest::of(content),
                size: content.len() as u64,
                blob: blob.clone(),
                offset,
            }]
            .into(),
        }
    }

    fn tree_of(entries: Vec<FileEntry>) -> RemoteTree {
        let mut t = RemoteTree::empty("g".into());
        for e in entries {
            t.files.insert(e.path.clone(), e);
        }
        t
    }

    #[tokio::test]
    async fn a_trashed_pack_is_rebuilt_from_its_members_and_a_partial_one_is_not() {
        // Both namings: the old `p-` (its bytes' digest) and `m-` (its member list).
        let mut list = crate::manifest::pack_name::MemberList::new();
        list.push(&Digest::of(b"alpha"), 5);
        list.push(&Digest::of(b"beta"), 4);
        for pack in [pack_blob_name(&Digest::of(b"alphabeta")), list.name()] {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::write(dir.path().join("a"), b"alpha").expect("write");
            std::fs::write(dir.path().join("b"), b"beta").expect("write");
            let tree = tree_of(vec![
                entry("a", b"alpha", &pack, 0),
                entry("b", b"beta", &pack, 5),
            ]);
            let store = MemoryStore::new();
            let wanted: BTreeSet<BlobName> = [pack.clone()].into_iter().collect();
            let lost = ensure_present(&store, dir.path(), &tree, &wanted, &HashMap::new())
                .await
                .expect("checked");
            assert!(lost.is_empty(), "{pack} rebuilt: {lost:?}");
            assert_eq!(
                store.blob_bytes(&pack).expect("restored"),
                Bytes::from_static(b"alphabeta")
            );

            // Only one member referenced any more: the pack cannot be rebuilt.
            let store = MemoryStore::new();
            let tree = tree_of(vec![entry("b", b"beta", &pack, 5)]);
            let lost = ensure_present(&store, dir.path(), &tree, &wanted, &HashMap::new())
                .await
                .expect("checked");
            assert_eq!(lost, vec![pack.clone()]);
            assert!(store.blob_names().is_empty(), "nothing made up");

            // Members that are not the pack's (another member list, in the entries as on
            // disk): their bytes check out one by one, but not against the pack's name.
            std::fs::write(dir.path().join("a"), b"ALPHA").expect("write");
            let tree = tree_of(vec![
                entry("a", b"ALPHA", &pack, 0),
                entry("b", b"beta", &pack, 5),
            ]);
            let lost = ensure_present(&store, dir.path(), &tree, &wanted, &HashMap::new())
                .await
                .expect("checked");
            assert_eq!(lost, vec![pack.clone()], "{pack}: another pack's members");

            // A member changed on disk: not rebuilt either.
            let tree = tree_of(vec![
                entry("a", b"alpha", &pack, 0),
                entry("b", b"beta", &pack, 5),
            ]);
            let lost = ensure_present(&store, dir.path(), &tree, &wanted, &HashMap::new())
                .await
                .expect("checked");
            assert_eq!(lost, vec![pack]);
        }
    }

    #[test]
    fn introduced_blobs_are_those_the_base_tree_did_not_reference() {
        let old = pack_blob_name(&Digest::of(b"old"));
        let new = pack_blob_name(&Digest::of(b"new"));
        let before = tree_of(vec![entry("x", b"old", &old, 0)]);
        let entries = vec![
            entry("renamed", b"old", &old, 0),
            entry("fresh", b"new", &new, 0),
        ];
        assert_eq!(
            introduced(&entries, &before),
            [new].into_iter().collect::<BTreeSet<_>>()
        );
    }
}
