//! Sending local files: each file becomes a list of chunk references. A chunk the remote (or
//! this device, in an earlier interrupted sync) already has is referenced, not sent again —
//! this is what makes renames, copies and resumed uploads free. Large files cut at the chunk
//! size go up chunk by chunk as `c-<sha256>` blobs, streamed from disk and re-hashed while they
//! are sent; small files — and the missing chunks of big files cut by content (`chunk::cdc`,
//! 1 to 4 MiB each) — are packed together into `m-<sha256 of the member list>` blobs
//! (`manifest::pack_name`), so a folder of many small files, or the few chunks an edit of a big
//! file changed, cost a few requests.

use std::collections::HashMap;
use std::path::Path;

use std::io::Read as _;

use bytes::Bytes;

use tracing::debug;

use crate::chunk::ChunkHash;
use crate::fs_safe;
use crate::hash::Digest;
use crate::manifest::pack_name::MemberList;
use crate::manifest::{chunk_blob_name, ChunkRef};
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
/// member is read and checked against the hash the scan saw on a blocking thread — the one
/// SHA-256 pass the upload makes over its bytes — so the async task only appends bytes. The
/// pack is named by its member list (digests and sizes), never by another pass over its bytes.
#[derive(Default)]
pub(crate) struct PackBuilder {
    buf: Vec<u8>,
    /// Where `buf` goes once the pack is sent, for a later pack.
    buffers: PackBuffers,
    /// The members' digests and sizes so far: the pack's name.
    list: MemberList,
    members: Vec<Packed>,
    /// Bytes reserved for `buf` when its first member comes (a pack's expected size: the
    /// buffer then never moves while it grows; untouched memory costs no RSS).
    reserve: usize,
}

/// Pack buffers back from sent packs, for the next packs of the same upload pass. A pack's
/// buffer is its target size (16 MiB and more); a fresh one is memory the kernel faults in
/// and zeroes page by page as the members are read into it — with an allocator that hands
/// freed memory back at once, once per pack: about a quarter of the client's CPU for one
/// 1 GiB file (issue 15). At most [`PackBuffers::KEEP`] are kept, and only while the pass runs.
#[derive(Clone, Default)]
pub(crate) struct PackBuffers(std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

impl PackBuffers {
    /// Buffers kept at most. The next pack takes a kept buffer when its first member comes,
    /// which is after the packs in flight went down to `PACKS_IN_FLIGHT`: so the buffers
    /// resident at once are still those in flight and the one being filled (a kept buffer
    /// is resident whole, where a fresh one grew page by page).
    pub(crate) const KEEP: usize = 1;

    /// A buffer to fill (empty; a kept one has its room already).
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .ok()
            .and_then(|mut kept| kept.pop())
            .unwrap_or_default()
    }

    /// Keep `buf` for a later pack, unless enough are kept.
    fn give(&self, mut buf: Vec<u8>) {
        buf.clear();
        if let Ok(mut kept) = self.0.lock() {
            if kept.len() < Self::KEEP {
                kept.push(buf);
            }
        }
    }

    /// Buffers kept now.
    #[cfg(test)]
    pub(crate) fn kept(&self) -> usize {
        self.0.lock().map_or(0, |kept| kept.len())
    }
}

/// The name a member carries until its pack is complete: one shared copy (a pack of 100,000
/// tiny files held 100,000 copies of it while it was gathered, issue 15).
fn unnamed_pack() -> crate::remote::BlobName {
    static NAME: std::sync::OnceLock<crate::remote::BlobName> = std::sync::OnceLock::new();
    NAME.get_or_init(|| MemberList::new().name()).clone()
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
    /// An empty pack that will hold at most `room` bytes: its buffer is reserved at that size
    /// when the first member comes, so that it never moves while it grows. (A pack of whole
    /// files passes its target by up to one file: reserved at the target alone, the last file
    /// of nearly every pack copied the pack into a buffer twice its size — about 6 % of the
    /// client's CPU for 1,000 small files.) Its buffer is taken from `buffers` when the first
    /// member comes, if one is kept there, and goes back there once the pack is sent.
    pub(crate) fn with_room(room: u64, buffers: &PackBuffers) -> PackBuilder {
        PackBuilder {
            buffers: buffers.clone(),
            reserve: usize::try_from(room).unwrap_or(0),
            ..PackBuilder::default()
        }
    }

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
        // The member is read straight into the pack's buffer (no copy), which travels to the
        // blocking thread and back; a member that does not match is cut off again.
        let mut buf = std::mem::take(&mut self.buf);
        if buf.capacity() == 0 {
            buf = self.buffers.take();
        }
        if buf.is_empty() {
            // A kept buffer has this room already (reserve is then a no-op).
            buf.reserve(self.reserve.max(usize::try_from(size).unwrap_or(0)));
        }
        let at = buf.len();
        let read = tokio::task::spawn_blocking(move || {
            let r = read_checked(&mut file, &mut buf, offset, size, expected, whole_file);
            if !matches!(r, Ok(true)) {
                buf.truncate(at);
            }
            (buf, r)
        })
        .await;
        let (buf, read) = match read {
            Ok(done) => done,
            Err(e) => {
                // The thread panicked: the bytes gathered so far are lost with it, and so are
                // the members (none of them is sent; their files wait for the next sync).
                self.members.clear();
                self.list = MemberList::new();
                return Err(RemoteError::Io(std::io::Error::other(e)));
            }
        };
        self.buf = buf;
        if !read? {
            return Err(RemoteError::SourceChanged(native));
        }
        let at = at as u64;
        self.list.push(&expected, size);
        self.members.push(Packed {
            path: f.path.clone(),
            chunk: ChunkRef {
                sha256: expected,
                size,
                // Named once the pack is complete (see `send`).
                blob: unnamed_pack(),
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
        let bytes = Bytes::from(self.buf);
        let mine = bytes.clone();
        let members = self.list.finish();
        let name = crate::manifest::pack_name::member_pack_blob_name(&members);
        let info = store
            .put_blob(&name, BlobSource::Members { bytes, members })
            .await;
        // The store holds no copy once it answered (else the buffer is simply let go).
        if let Ok(buf) = mine.try_into_mut() {
            self.buffers.give(buf.into());
        }
        let info = info?;
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

/// Append `size` bytes of `file` from `offset` to `buf` and check them against `expected`;
/// false when they are not what the scan saw (the file is shorter, longer — for a whole
/// file — or different). The caller cuts `buf` back.
fn read_checked(
    file: &mut std::fs::File,
    buf: &mut Vec<u8>,
    offset: u64,
    size: u64,
    expected: Digest,
    whole_file: bool,
) -> std::io::Result<bool> {
    use std::io::Seek as _;
    let at = buf.len();
    buf.reserve(usize::try_from(size).unwrap_or(0));
    file.seek(std::io::SeekFrom::Start(offset))?;
    // One byte more than the member: a whole file that grew is seen.
    file.take(size.saturating_add(1)).read_to_end(buf)?;
    // Past the end of a chunk come the next chunk's bytes: keep only this one's.
    if !whole_file {
        buf.truncate(at.saturating_add(usize::try_from(size).unwrap_or(usize::MAX)));
    }
    let data = &buf[at..];
    // The bytes sent are the bytes hashed here: what is committed under `expected` is what
    // matched it, whatever the file does afterwards.
    Ok(data.len() as u64 == size && Digest::of(data) == expected)
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

    /// `name` written with `bytes` in `root`, as the scan saw it (one chunk).
    fn scanned(root: &Path, name: &str, bytes: &[u8]) -> FileToSend {
        let path = root.join(name);
        std::fs::write(&path, bytes).expect("write");
        let h = crate::chunk::hash_file(&path, 1 << 30).expect("hash");
        FileToSend {
            path: RelPath::new(name).expect("path"),
            size: h.size,
            sha256: h.sha256,
            mtime_ns: h.mtime_ns,
            inode: h.inode,
            chunks: h.chunks,
        }
    }

    #[tokio::test]
    async fn a_member_changed_since_the_scan_leaves_the_pack_as_it_was() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        // Big members and small ones.
        const BIG: usize = 256 * 1024;
        let a: Vec<u8> = (0..BIG * 2).map(|i| (i % 241) as u8).collect();
        let fa = scanned(root, "a.bin", &a);
        let fb = scanned(root, "b.bin", b"bee");
        let big: Vec<u8> = (0..BIG + 9).map(|i| (i % 239) as u8).collect();
        let fc = scanned(root, "c.bin", &big);
        let fd = scanned(root, "d.bin", b"dee");
        // c and d change after the scan: same size, mtime put back (only the bytes tell).
        for (name, f, bytes) in [("c.bin", &fc, &big[..]), ("d.bin", &fd, &b"dee"[..])] {
            let mut other = bytes.to_vec();
            other[1] ^= 0x55;
            std::fs::write(root.join(name), &other).expect("rewrite");
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(f.mtime_ns as u64);
            std::fs::File::options()
                .write(true)
                .open(root.join(name))
                .expect("open")
                .set_modified(t)
                .expect("mtime");
        }
        let mut pack = PackBuilder::with_room(1 << 20, &PackBuffers::default());
        pack.add(root, &fa).await.expect("a as scanned");
        for f in [&fc, &fd] {
            let err = pack.add(root, f).await.expect_err("changed since the scan");
            assert!(matches!(err, RemoteError::SourceChanged(_)), "{err}");
            assert_eq!(pack.len(), a.len() as u64, "the pack is unchanged");
        }
        pack.add(root, &fb).await.expect("b as scanned");
        let mut want = a.clone();
        want.extend_from_slice(b"bee");
        assert_eq!(pack.buf, want, "exactly the members that matched, in order");
        let mut list = MemberList::new();
        list.push(&Digest::of(&a), a.len() as u64);
        list.push(&Digest::of(b"bee"), 3);
        assert_eq!(
            pack.list.clone().finish(),
            list.finish(),
            "the pack's name lists exactly those members"
        );
        assert_eq!(
            pack.members
                .iter()
                .map(|m| (m.path.to_string(), m.chunk.offset, m.chunk.size))
                .collect::<Vec<_>>(),
            vec![
                ("a.bin".to_string(), 0, a.len() as u64),
                ("b.bin".to_string(), a.len() as u64, 3)
            ]
        );
    }

    #[tokio::test]
    async fn a_sent_packs_buffer_serves_the_next_pack_only_once_nobody_holds_its_bytes() {
        use crate::remote::memory::MemoryStore;
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let fa = scanned(root, "a.bin", b"alpha");
        let fb = scanned(root, "b.bin", b"beta");
        let store = MemoryStore::new();
        let buffers = PackBuffers::default();
        const ROOM: u64 = 1 << 20;

        // The store keeps the bytes it was sent: that buffer must never be written again.
        let mut first = PackBuilder::with_room(ROOM, &buffers);
        first.add(root, &fa).await.expect("a");
        let (info, _) = first.send(&store).await.expect("sent");
        assert_eq!(
            buffers.kept(),
            0,
            "a buffer the store still holds is not reused"
        );

        // The same pack again: the store answers from the blob it has and lets our bytes go.
        let mut again = PackBuilder::with_room(ROOM, &buffers);
        again.add(root, &fa).await.expect("a again");
        again.send(&store).await.expect("sent again");
        assert_eq!(buffers.kept(), 1, "a buffer nobody holds is kept");

        // The next pack takes it with its first member, and holds only its own members.
        let kept_at = buffers.0.lock().expect("lock")[0].as_ptr();
        let mut next = PackBuilder::with_room(ROOM, &buffers);
        assert_eq!(
            buffers.kept(),
            1,
            "taken when the first member comes, not before"
        );
        next.add(root, &fb).await.expect("b");
        assert_eq!(buffers.kept(), 0);
        assert_eq!(next.buf, b"beta");
        assert_eq!(
            next.buf.as_ptr(),
            kept_at,
            "the kept buffer itself, not a new one"
        );
        assert!(next.buf.capacity() >= ROOM as usize);

        // What the store received first is untouched.
        let mut stored: Vec<u8> = Vec::new();
        store
            .get_blob(&info.name, None, None, &mut stored)
            .await
            .expect("read back");
        assert_eq!(stored, b"alpha");
    }

    #[tokio::test]
    async fn a_chunk_changed_since_the_scan_is_not_packed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let mut x: u64 = 7;
        let data: Vec<u8> = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        let path = root.join("big.bin");
        std::fs::write(&path, &data).expect("write");
        let chunking = crate::chunk::Chunking::new(64 * 1024, 4096);
        let h = crate::chunk::hash_file_with(&path, &chunking).expect("hash");
        assert!(h.chunks.len() > 3, "cut by content: {}", h.chunks.len());
        let f = FileToSend {
            path: RelPath::new("big.bin").expect("path"),
            size: h.size,
            sha256: h.sha256,
            mtime_ns: h.mtime_ns,
            inode: h.inode,
            chunks: h.chunks,
        };
        // One byte of the second chunk changes after the scan; size and mtime as they were.
        let mut other = data.clone();
        let at = usize::try_from(f.chunks[0].size).expect("size") + 1;
        other[at] ^= 0x55;
        std::fs::write(&path, &other).expect("rewrite");
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(f.mtime_ns as u64);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .expect("open")
            .set_modified(t)
            .expect("mtime");
        let mut pack = PackBuilder::with_room(1 << 20, &PackBuffers::default());
        pack.add_chunk(root, &f, 0)
            .await
            .expect("the first chunk is as scanned");
        let err = pack.add_chunk(root, &f, 1).await.expect_err("changed");
        assert!(matches!(err, RemoteError::SourceChanged(_)), "{err}");
        pack.add_chunk(root, &f, 2)
            .await
            .expect("the third is as scanned");
        let (c0, c2) = (f.chunks[0].size as usize, f.chunks[2].size as usize);
        let c2_at = usize::try_from(chunk_offset(&f, 2)).expect("offset");
        let mut want = data[..c0].to_vec();
        want.extend_from_slice(&data[c2_at..c2_at + c2]);
        assert_eq!(pack.buf, want, "the changed chunk left nothing in the pack");
        let mut list = MemberList::new();
        list.push(&f.chunks[0].sha256, f.chunks[0].size);
        list.push(&f.chunks[2].sha256, f.chunks[2].size);
        assert_eq!(pack.list.clone().finish(), list.finish());
        assert_eq!(
            pack.members
                .iter()
                .map(|m| m.chunk.offset)
                .collect::<Vec<_>>(),
            vec![0, c0 as u64]
        );
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
