//! Sending local files: each file becomes a list of chunk references. A chunk the remote (or
//! this device, in an earlier interrupted sync) already has is referenced, not sent again —
//! this is what makes renames, copies and resumed uploads free. Large files cut at the chunk
//! size go up chunk by chunk as `c-<sha256>` blobs, streamed from disk and re-hashed while they
//! are sent; small files — and the missing chunks of big files cut by content (`chunk::cdc`,
//! 1 to 4 MiB each) — are packed together into `p-<sha256>` blobs, so a folder of many small
//! files, or the few chunks an edit of a big file changed, cost a few requests.

use std::collections::HashMap;
use std::path::Path;

use std::io::Read as _;

use bytes::{Bytes, BytesMut};

use tracing::debug;

use crate::chunk::ChunkHash;
use crate::fs_safe;
use crate::hash::{Digest, Hasher};
use crate::manifest::{chunk_blob_name, pack_blob_name, ChunkRef};
use crate::rel_path::RelPath;
use crate::remote::{BlobInfo, BlobSource, RemoteError, RemoteStore};

/// Where each chunk hash can already be found remotely.
pub(crate) type ChunkIndex = HashMap<Digest, ChunkRef>;

/// One file to publish, with the chunk hashes the scanner computed.
#[derive(Debug, Clone)]
pub(crate) struct FileToSend {
    pub path: RelPath,
    pub size: u64,
    pub sha256: Digest,
    /// Modification time the scan saw.
    pub mtime_ns: i64,
    /// Inode the scan saw (0 where the platform has none).
    pub inode: u64,
    pub chunks: Vec<ChunkHash>,
}

/// Open the file `f` names without following any link below `root`, and check it is the file
/// the scan hashed (a regular file with the same inode, size and mtime). A file swapped for a
/// link — to `~/.ssh/id_rsa`, say — or for another file since the scan is `SourceChanged`:
/// nothing of it is read, and it is retried on the next sync.
pub(crate) fn open_scanned(root: &Path, f: &FileToSend) -> Result<std::fs::File, RemoteError> {
    let native = || f.path.to_native(root);
    let file = match fs_safe::open_file(root, &f.path) {
        Ok(file) => file,
        // Gone, or held open by another program: said as it is (the latter is reported).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound || crate::in_use::is_in_use(&e) => {
            return Err(e.into())
        }
        Err(e) => {
            debug!(path = %f.path, error = %e, "not the file that was scanned");
            return Err(RemoteError::SourceChanged(native()));
        }
    };
    let m = fs_safe::Meta::of(&file.metadata()?);
    let same_inode = f.inode == 0 || m.ino == 0 || f.inode == m.ino;
    if m.kind != fs_safe::Kind::File || !same_inode || m.len != f.size || m.mtime_ns != f.mtime_ns {
        return Err(RemoteError::SourceChanged(native()));
    }
    Ok(file)
}

/// How the chunks of one file will be obtained.
#[derive(Debug)]
pub(crate) enum SendPlan {
    /// Every chunk is already on the remote.
    Ready(Vec<ChunkRef>),
    /// Small file: goes into a pack.
    Pack,
    /// Large file: these chunk indexes must be uploaded as chunk blobs.
    Chunks { missing: Vec<usize> },
    /// Large file cut by content: these chunk indexes go into packs.
    PackChunks { missing: Vec<usize> },
}

/// Decide how to send `f`; `content_defined`: its chunks were cut by content (small chunks
/// that are packed, not sent one request each).
pub(crate) fn plan_send(
    f: &FileToSend,
    index: &ChunkIndex,
    pack_threshold: u64,
    content_defined: bool,
) -> SendPlan {
    let refs: Option<Vec<ChunkRef>> = f
        .chunks
        .iter()
        .map(|c| index.get(&c.sha256).cloned())
        .collect();
    if let Some(refs) = refs {
        return SendPlan::Ready(refs);
    }
    if f.size <= pack_threshold && f.chunks.len() == 1 {
        return SendPlan::Pack;
    }
    let missing = f
        .chunks
        .iter()
        .enumerate()
        .filter(|(_, c)| !index.contains_key(&c.sha256))
        .map(|(i, _)| i)
        .collect();
    match content_defined {
        true => SendPlan::PackChunks { missing },
        false => SendPlan::Chunks { missing },
    }
}

/// Where chunk `i` of `f` starts in the file.
pub(crate) fn chunk_offset(f: &FileToSend, i: usize) -> u64 {
    f.chunks[..i].iter().map(|c| c.size).sum()
}

/// Upload chunk `i` of `f` as its own blob. Returns the blob and the reference.
pub(crate) async fn send_chunk(
    store: &dyn RemoteStore,
    root: &Path,
    f: &FileToSend,
    i: usize,
) -> Result<(BlobInfo, ChunkRef), RemoteError> {
    let c = &f.chunks[i];
    let offset = chunk_offset(f, i);
    let name = chunk_blob_name(&c.sha256);
    let file = open_scanned(root, f)?;
    let info = store
        .put_blob(
            &name,
            BlobSource::Open {
                file: std::sync::Arc::new(file),
                path: f.path.to_native(root),
                offset,
                len: c.size,
                sha256: c.sha256,
            },
        )
        .await?;
    Ok((
        info,
        ChunkRef {
            sha256: c.sha256,
            size: c.size,
            blob: name,
            offset: 0,
        },
    ))
}

/// Small files, and chunks of big files cut by content, gathered into one pack blob. Each
/// member is read, checked against the hash the scan saw and added to the pack's running hash
/// on a blocking thread, so the async task only appends bytes, and sending the pack does not
/// hash it once more.
#[derive(Default)]
pub(crate) struct PackBuilder {
    buf: BytesMut,
    /// SHA-256 of `buf` so far.
    hasher: Hasher,
    members: Vec<Packed>,
}

/// One member of a pack and where it lies in it.
#[derive(Debug, Clone)]
pub(crate) struct Packed {
    /// The file it comes from.
    pub path: RelPath,
    /// Its bytes in the pack (once sent, the pack is `chunk.blob`).
    pub chunk: ChunkRef,
    /// The whole file (a small one), or one chunk of a big file.
    pub whole_file: bool,
}

impl PackBuilder {
    /// Bytes gathered so far.
    pub(crate) fn len(&self) -> u64 {
        self.buf.len() as u64
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Read `f` (a single-chunk file) into the pack. Returns `SourceChanged` when its bytes no
    /// longer hash to what the scan saw; the pack is then unchanged.
    pub(crate) async fn add(&mut self, root: &Path, f: &FileToSend) -> Result<(), RemoteError> {
        self.add_slice(root, f, 0, f.size, f.sha256, true).await
    }

    /// Read chunk `i` of `f` (a big file cut by content) into the pack, checked against the
    /// chunk's hash like [`PackBuilder::add`].
    pub(crate) async fn add_chunk(
        &mut self,
        root: &Path,
        f: &FileToSend,
        i: usize,
    ) -> Result<(), RemoteError> {
        let c = f.chunks[i];
        self.add_slice(root, f, chunk_offset(f, i), c.size, c.sha256, false)
            .await
    }

    async fn add_slice(
        &mut self,
        root: &Path,
        f: &FileToSend,
        offset: u64,
        size: u64,
        expected: Digest,
        whole_file: bool,
    ) -> Result<(), RemoteError> {
        let native = f.path.to_native(root);
        let mut file = open_scanned(root, f)?;
        let pack = self.hasher.clone();
        let read = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            use std::io::Seek as _;
            let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            file.seek(std::io::SeekFrom::Start(offset))?;
            file.take(size.saturating_add(1)).read_to_end(&mut data)?;
            // Past the end of a chunk come the next chunk's bytes: keep only this one's.
            if !whole_file {
                data.truncate(usize::try_from(size).unwrap_or(usize::MAX));
            }
            if data.len() as u64 != size || Digest::of(&data) != expected {
                return Ok(None);
            }
            let mut pack = pack;
            pack.update(&data);
            Ok(Some((data, pack)))
        })
        .await
        .map_err(|e| RemoteError::Io(std::io::Error::other(e)))??;
        let Some((data, pack)) = read else {
            return Err(RemoteError::SourceChanged(native));
        };
        let at = self.buf.len() as u64;
        self.buf.extend_from_slice(&data);
        self.hasher = pack;
        self.members.push(Packed {
            path: f.path.clone(),
            chunk: ChunkRef {
                sha256: expected,
                size,
                // Named once the pack is complete (see `send`).
                blob: pack_blob_name(&Digest([0; 32])),
                offset: at,
            },
            whole_file,
        });
        Ok(())
    }

    /// Upload the pack; returns the blob and its members, each with its chunk reference.
    pub(crate) async fn send(
        self,
        store: &dyn RemoteStore,
    ) -> Result<(BlobInfo, Vec<Packed>), RemoteError> {
        let bytes: Bytes = self.buf.freeze();
        let sha256 = self.hasher.finish();
        let name = pack_blob_name(&sha256);
        let info = store
            .put_blob(&name, BlobSource::HashedBytes { bytes, sha256 })
            .await?;
        let members = self
            .members
            .into_iter()
            .map(|mut m| {
                m.chunk.blob = name.clone();
                m
            })
            .collect();
        Ok((info, members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::BlobName;

    fn file(size: u64, chunk_hashes: &[&[u8]]) -> FileToSend {
        let chunks: Vec<ChunkHash> = chunk_hashes
            .iter()
            .map(|b| ChunkHash {
                sha256: Digest::of(b),
                size: b.len() as u64,
            })
            .collect();
        FileToSend {
            path: RelPath::new("a.bin").unwrap(),
            size,
            sha256: Digest::of(b"whole"),
            mtime_ns: 0,
            inode: 0,
            chunks,
        }
    }

    #[test]
    fn known_chunks_are_referenced_not_sent() {
        let f = file(6, &[b"abc", b"def"]);
        let mut index = ChunkIndex::new();
        for (i, c) in f.chunks.iter().enumerate() {
            index.insert(
                c.sha256,
                ChunkRef {
                    sha256: c.sha256,
                    size: c.size,
                    blob: BlobName::new(format!("p-{i}")).unwrap(),
                    offset: 7,
                },
            );
        }
        match plan_send(&f, &index, 1 << 20, false) {
            SendPlan::Ready(refs) => assert_eq!(refs.len(), 2, "both chunks come from the index"),
            other => panic!("expected Ready, got {other:?}"),
        }
    }

    #[test]
    fn small_unknown_files_are_packed_and_big_ones_send_only_missing_chunks() {
        let small = file(3, &[b"abc"]);
        assert!(matches!(
            plan_send(&small, &ChunkIndex::new(), 1 << 20, false),
            SendPlan::Pack
        ));
        let big = file(6, &[b"abc", b"def"]);
        let mut index = ChunkIndex::new();
        let c0 = &big.chunks[0];
        index.insert(
            c0.sha256,
            ChunkRef {
                sha256: c0.sha256,
                size: 3,
                blob: chunk_blob_name(&c0.sha256),
                offset: 0,
            },
        );
        match plan_send(&big, &index, 2, false) {
            SendPlan::Chunks { missing } => {
                assert_eq!(missing, vec![1], "only the changed chunk is sent")
            }
            other => panic!("expected Chunks, got {other:?}"),
        }
        match plan_send(&big, &index, 2, true) {
            SendPlan::PackChunks { missing } => {
                assert_eq!(
                    missing,
                    vec![1],
                    "cut by content: the changed chunk is packed"
                )
            }
            other => panic!("expected PackChunks, got {other:?}"),
        }
    }
}
