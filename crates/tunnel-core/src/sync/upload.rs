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

/// One file to publish, with the chunk hashes the scanner computed — or, for a new file the
/// scan left unhashed (`hashed` false), none yet: it is sent whole in a pack, hashed from the
/// bytes sent.
#[derive(Debug, Clone)]
pub(crate) struct FileToSend {
    pub path: RelPath,
    pub size: u64,
    /// The whole file's hash (meaningless while `hashed` is false).
    pub sha256: Digest,
    /// Whether the scan hashed it (`sha256` and `chunks` are what it saw).
    pub hashed: bool,
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

/// The largest file `settings` send whole, as one member of a pack: a file of one chunk (not
/// cut by content) up to the pack threshold. Such a file may be left unhashed by the scan (see
/// `hash_later`) and its pack hashes it: the scan and the upload both ask here, so that they
/// never disagree on which files those are.
pub(crate) fn sent_whole_up_to(settings: &crate::config::SyncSettings) -> u64 {
    let chunking = crate::chunk::Chunking::new(settings.chunk_size, settings.delta_chunk_size);
    let one_chunk = chunking
        .content
        .map_or(chunking.fixed, |c| c.max().min(chunking.fixed));
    one_chunk.min(settings.pack_threshold)
}

/// Which new files the upload hashes itself, by size, when the scan left them unhashed (see
/// `hash_later`): a file sent whole in a pack (up to [`sent_whole_up_to`]), and — when
/// `streaming` — a big file cut by content that fills two packs or more, read once by its
/// upload (`upload_stream.rs`). A smaller one is hashed by the scan, beside the other files,
/// and packed with them: streamed one after another, each alone, the few files of 4 to 8 MiB
/// in a folder of 1,000 made its upload a quarter slower (issue 15), and streamed into shared
/// packs no faster than hashed by the scan (their hashing only moves into the upload, where
/// both cores are busy already); a file of two packs or more keeps its reading and its
/// sending side by side.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HashedOnUpload {
    whole_up_to: u64,
    streamed: Option<crate::chunk::ContentChunking>,
    stream_from: u64,
}

impl HashedOnUpload {
    pub(crate) fn new(settings: &crate::config::SyncSettings, streaming: bool) -> HashedOnUpload {
        let chunking = crate::chunk::Chunking::new(settings.chunk_size, settings.delta_chunk_size);
        HashedOnUpload {
            whole_up_to: sent_whole_up_to(settings),
            streamed: chunking.content.filter(|_| streaming),
            stream_from: settings.pack_target.saturating_mul(2),
        }
    }

    /// Sent whole in a pack, hashed from the bytes packed.
    pub(crate) fn sent_whole(&self, size: u64) -> bool {
        (1..=self.whole_up_to).contains(&size)
    }

    /// Cut by content and packed as it is read.
    pub(crate) fn streamed(&self, size: u64) -> bool {
        self.streamed.is_some_and(|c| size > c.max()) && size >= self.stream_from
    }

    /// Either.
    pub(crate) fn takes(&self, size: u64) -> bool {
        self.sent_whole(size) || self.streamed(size)
    }
}

/// Add to `index` where the page holds each chunk in `wanted` (the first live file that
/// references it).
pub(crate) fn index_page_chunks(
    remote: &crate::manifest::RemoteTree,
    wanted: &std::collections::HashSet<Digest>,
    index: &mut ChunkIndex,
) {
    for e in remote.files.values().filter(|e| !e.deleted) {
        for c in e.chunks.iter().filter(|c| wanted.contains(&c.sha256)) {
            index.entry(c.sha256).or_insert_with(|| c.clone());
        }
    }
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

/// The pack members, `(file, None)` for a whole file or `(file, Some(chunk))`, grouped into
/// packs in their order by `size_of` each: each pack as the range of `members` it takes. A
/// pack is closed once it reaches `target`, and a chunk that would take a pack with members
/// past `target` opens the next one (a whole file, at most the pack threshold, may take it
/// past; chunks keep packs within what the server takes). Ranges, not copies: 1,000,000 tiny
/// files are a few packs of hundreds of thousands of members each.
pub(crate) fn group_into_packs(
    members: &[(usize, Option<usize>)],
    target: u64,
    size_of: impl Fn(usize, Option<usize>) -> u64,
) -> Vec<std::ops::Range<usize>> {
    let mut packs = Vec::new();
    let mut start = 0;
    let mut len: u64 = 0;
    for (k, &(i, c)) in members.iter().enumerate() {
        let size = size_of(i, c);
        if c.is_some() && k > start && len.saturating_add(size) > target {
            packs.push(start..k);
            start = k;
            len = 0;
        }
        len = len.saturating_add(size);
        if len >= target {
            packs.push(start..k + 1);
            start = k + 1;
            len = 0;
        }
    }
    if start < members.len() {
        packs.push(start..members.len());
    }
    packs
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

/// Pack buffers back from sent packs, for the next packs of the same upload pass (or of the
/// same streamed file). A pack's buffer is its target size (16 MiB and more), a fresh one
/// faulted in page by page as the members are read into it. Up to four are kept: a buffer is
/// allocated only when none is kept, so no more exist at once than are being filled, waiting
/// or sent — `PACKS_IN_FLIGHT + 1` for the pass's packs (it starts reading a pack only while
/// fewer are read or sent), four for a streamed file (one filling, one waiting, two on the
/// wire). With one kept, a streamed file let most of its buffers go when two packs landed
/// close together, and faulted fresh ones in: 68,000–119,000 page faults for one 1 GiB file,
/// 18,500 with four kept (0.15–0.25 s less CPU; its peak RSS 73–81 → 88–89 MB, the kept
/// buffers being resident whole).
pub(crate) type PackBuffers = super::buffer_pool::BufferPool<4>;

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
    /// For a file the scan left unhashed, what was read: its modification time and inode
    /// (with `chunk`, its scan-cache row, see [`Packed::cache_row`]); `None` for the others.
    pub read_as: Option<(i64, u64)>,
    /// Its bytes in the pack (once sent, the pack is `chunk.blob`).
    pub chunk: ChunkRef,
    /// The whole file (a small one), or one chunk of a big file.
    pub whole_file: bool,
}

impl Packed {
    /// The scan-cache row of a whole file the scan left unhashed, from what was read (for
    /// the next scan); `None` for the others.
    pub(crate) fn cache_row(&self) -> Option<crate::journal::CachedHash> {
        let (mtime_ns, inode) = self.read_as?;
        Some(crate::scan::row_hashed_later(
            self.chunk.size,
            mtime_ns,
            inode,
            self.chunk.sha256,
        ))
    }
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

    /// Append `bytes`, the next bytes of a chunk being streamed in (see
    /// [`PackBuilder::seal_chunk`]); the buffer is taken or reserved with the first bytes.
    pub(crate) fn append(&mut self, bytes: &[u8]) {
        if self.buf.capacity() == 0 {
            self.buf = self.buffers.take().unwrap_or_default();
            self.buf.reserve(self.reserve);
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The bytes from `at` to the end, appended since, are chunk `chunk` of `path` (a big file
    /// cut by content, hashed from those very bytes): a member of the pack.
    pub(crate) fn seal_chunk(&mut self, path: &RelPath, at: u64, chunk: ChunkHash) {
        debug_assert_eq!(self.len() - at, chunk.size);
        self.list.push(&chunk.sha256, chunk.size);
        self.members.push(Packed {
            path: path.clone(),
            read_as: None,
            chunk: ChunkRef {
                sha256: chunk.sha256,
                size: chunk.size,
                blob: unnamed_pack(),
                offset: at,
            },
            whole_file: false,
        });
    }

    /// Drop the bytes appended from `at` on (a chunk not to be sent after all).
    pub(crate) fn cut_back(&mut self, at: u64) {
        self.buf.truncate(usize::try_from(at).unwrap_or(usize::MAX));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn members_for_tests(&self) -> &[Packed] {
        &self.members
    }

    #[cfg(test)]
    pub(crate) fn bytes_for_tests(&self) -> &[u8] {
        &self.buf
    }

    /// Read `f` (a single-chunk file) into the pack. Returns `SourceChanged` when its bytes no
    /// longer hash to what the scan saw; the pack is then unchanged.
    #[cfg(test)]
    pub(crate) async fn add(&mut self, root: &Path, f: &FileToSend) -> Result<(), RemoteError> {
        self.add_one(root, MemberRead::whole(0, f)).await
    }

    /// Read chunk `i` of `f` (a big file cut by content) into the pack, checked against the
    /// chunk's hash like [`PackBuilder::add`].
    #[cfg(test)]
    pub(crate) async fn add_chunk(
        &mut self,
        root: &Path,
        f: &FileToSend,
        i: usize,
    ) -> Result<(), RemoteError> {
        self.add_one(root, MemberRead::chunk(0, f, i, chunk_offset(f, i)))
            .await
    }

    #[cfg(test)]
    async fn add_one(&mut self, root: &Path, read: MemberRead) -> Result<(), RemoteError> {
        let (pack, mut refused) = std::mem::take(self).fill(root, vec![read]).await;
        *self = pack;
        refused.pop().map_or(Ok(()), |(_, e)| Err(e))
    }

    /// Read `reads` into the pack, in order, on one blocking thread (one hand-off per pack,
    /// not one per member: 1,000 small files were 1,000 round trips to a blocking thread, the
    /// upload's bound, issue 15). Each member is checked against the hash the scan saw; one
    /// that does not match (or cannot be opened as the file that was scanned) is left out
    /// and the others keep their order. Returns the pack and the members left out, each by
    /// its `job` with the reason.
    pub(crate) async fn fill(
        mut self,
        root: &Path,
        reads: Vec<MemberRead>,
    ) -> (PackBuilder, Vec<(usize, RemoteError)>) {
        let room: u64 = reads.iter().map(|r| r.size).sum();
        // The members are read straight into the pack's buffer (no copy), which travels to the
        // blocking thread and back; a member that does not match is cut off again.
        let mut buf = std::mem::take(&mut self.buf);
        if buf.capacity() == 0 {
            buf = self.buffers.take().unwrap_or_default();
        }
        if buf.is_empty() {
            // A kept buffer has this room already (reserve is then a no-op).
            buf.reserve(self.reserve.max(usize::try_from(room).unwrap_or(0)));
        }
        let root_owned = root.to_path_buf();
        let jobs: Vec<usize> = reads.iter().map(|r| r.job).collect();
        let read = tokio::task::spawn_blocking(move || {
            let placed = read_members(&root_owned, &reads, &mut buf);
            (buf, reads, placed)
        })
        .await;
        let (buf, reads, placed) = match read {
            Ok(done) => done,
            Err(e) => {
                // The thread panicked: the bytes gathered so far are lost with it, and so are
                // the members (none of them is sent; their files wait for the next sync).
                self.members.clear();
                self.list = MemberList::new();
                let refused = jobs
                    .into_iter()
                    .map(|job| (job, RemoteError::Io(std::io::Error::other(e.to_string()))))
                    .collect();
                return (self, refused);
            }
        };
        self.buf = buf;
        let mut refused = Vec::new();
        for (r, place) in reads.into_iter().zip(placed) {
            match place {
                Ok(read) => {
                    self.list.push(&read.sha256, r.size);
                    self.members.push(Packed {
                        path: r.file.path,
                        read_as: r
                            .expected
                            .is_none()
                            .then_some((r.file.mtime_ns, read.inode)),
                        chunk: ChunkRef {
                            sha256: read.sha256,
                            size: r.size,
                            // Named once the pack is complete (see `send`).
                            blob: unnamed_pack(),
                            offset: read.at,
                        },
                        whole_file: r.whole_file,
                    });
                }
                Err(e) => refused.push((r.job, e)),
            }
        }
        (self, refused)
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

/// One member to read into a pack: a whole small file, or one chunk of a big file cut by
/// content. `job` is the caller's own number for it (its outcome comes back under it).
#[derive(Debug)]
pub(crate) struct MemberRead {
    pub job: usize,
    /// The file as the scan saw it (identity, size and mtime; without its chunk list).
    pub file: FileToSend,
    pub offset: u64,
    pub size: u64,
    /// What its bytes must hash to; `None` for a file the scan left unhashed: what is read is
    /// its content, provided the file is still as listed once read.
    pub expected: Option<Digest>,
    pub whole_file: bool,
}

impl MemberRead {
    /// All of `f`, a file of one chunk.
    pub(crate) fn whole(job: usize, f: &FileToSend) -> MemberRead {
        MemberRead {
            job,
            file: f.without_chunks(),
            offset: 0,
            size: f.size,
            expected: f.hashed.then_some(f.sha256),
            whole_file: true,
        }
    }

    /// Chunk `i` of `f`, which starts at `offset` of it.
    pub(crate) fn chunk(job: usize, f: &FileToSend, i: usize, offset: u64) -> MemberRead {
        let c = f.chunks[i];
        MemberRead {
            job,
            file: f.without_chunks(),
            offset,
            size: c.size,
            expected: Some(c.sha256),
            whole_file: false,
        }
    }
}

impl FileToSend {
    /// The file's identity and size, without its chunk list.
    fn without_chunks(&self) -> FileToSend {
        FileToSend {
            path: self.path.clone(),
            size: self.size,
            sha256: self.sha256,
            hashed: self.hashed,
            mtime_ns: self.mtime_ns,
            inode: self.inode,
            chunks: Vec::new(),
        }
    }
}

/// Where a member landed in its pack, and what was read.
#[derive(Debug)]
struct Placed {
    at: u64,
    sha256: Digest,
    /// The inode of the file read (0 where none).
    inode: u64,
}

/// Append each member of `reads` to `buf` in order, each checked as it was scanned: where
/// each landed in `buf`, or why it was left out. A file is opened once for consecutive
/// members of it (the chunks of one big file).
fn read_members(
    root: &Path,
    reads: &[MemberRead],
    buf: &mut Vec<u8>,
) -> Vec<Result<Placed, RemoteError>> {
    let mut placed = Vec::with_capacity(reads.len());
    let mut open: Option<(&RelPath, std::fs::File)> = None;
    for r in reads {
        let (_, file) = match open.take() {
            Some((path, file)) if *path == r.file.path => open.insert((path, file)),
            _ => match open_scanned(root, &r.file) {
                Ok(file) => open.insert((&r.file.path, file)),
                Err(e) => {
                    placed.push(Err(e));
                    continue;
                }
            },
        };
        let at = buf.len();
        let read = read_checked(file, buf, r.offset, r.size, r.expected, r.whole_file).and_then(
            |d| match (d, r.expected) {
                // Unhashed by the scan: the bytes are its content only if the file did not
                // change while they were read (as the scan judges a file it hashes).
                (Some(d), None) => still_as_listed(file, &r.file).map(|ino| ino.map(|i| (d, i))),
                (d, _) => Ok(d.map(|d| (d, r.file.inode))),
            },
        );
        match read {
            Ok(Some((sha256, inode))) => placed.push(Ok(Placed {
                at: at as u64,
                sha256,
                inode,
            })),
            Ok(None) => {
                buf.truncate(at);
                placed.push(Err(RemoteError::SourceChanged(r.file.path.to_native(root))));
            }
            Err(e) => {
                buf.truncate(at);
                placed.push(Err(e.into()));
            }
        }
    }
    placed
}

/// The inode of `file` when it is still the size and modification time `f` says (after a
/// read), `None` when it changed.
fn still_as_listed(file: &std::fs::File, f: &FileToSend) -> std::io::Result<Option<u64>> {
    let m = fs_safe::Meta::of(&file.metadata()?);
    Ok((m.len == f.size && m.mtime_ns == f.mtime_ns).then_some(m.ino))
}

/// Append `size` bytes of `file` from `offset` to `buf` and check them against `expected`
/// (if any); returns their hash, `None` when they are not what the scan saw (the file is
/// shorter, longer — for a whole file — or different). The caller cuts `buf` back.
fn read_checked(
    file: &mut std::fs::File,
    buf: &mut Vec<u8>,
    offset: u64,
    size: u64,
    expected: Option<Digest>,
    whole_file: bool,
) -> std::io::Result<Option<Digest>> {
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
    if data.len() as u64 != size {
        return Ok(None);
    }
    let got = Digest::of(data);
    Ok(expected.is_none_or(|e| e == got).then_some(got))
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
            hashed: true,
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
            hashed: true,
            mtime_ns: h.mtime_ns,
            inode: h.inode,
            chunks: h.chunks,
        }
    }

    /// Put `bytes` in `f`'s place with the modification time the scan saw: a change only
    /// its bytes tell.
    fn rewrite_as_scanned(root: &Path, f: &FileToSend, bytes: &[u8]) {
        rewrite_at(root, f, bytes, f.mtime_ns);
    }

    /// Put `bytes` in `f`'s place with modification time `mtime_ns`.
    fn rewrite_at(root: &Path, f: &FileToSend, bytes: &[u8], mtime_ns: i64) {
        let path = f.path.to_native(root);
        std::fs::write(&path, bytes).expect("rewrite");
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(mtime_ns as u64);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .expect("open")
            .set_modified(t)
            .expect("mtime");
    }

    #[tokio::test]
    async fn a_file_the_scan_left_unhashed_is_hashed_as_it_is_packed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let scanned = scanned(root, "new.txt", b"fresh bytes");
        // As the upload pass makes it for a file without a hash: size and mtime as listed.
        let f = FileToSend {
            sha256: Digest([0; 32]),
            hashed: false,
            inode: 0,
            chunks: Vec::new(),
            ..scanned.clone()
        };
        let (pack, refused) = PackBuilder::with_room(1 << 20, &PackBuffers::default())
            .fill(root, vec![MemberRead::whole(7, &f)])
            .await;
        assert!(refused.is_empty(), "{refused:?}");
        let m = &pack.members[0];
        assert_eq!(m.chunk.sha256, Digest::of(b"fresh bytes"));
        let row = m.cache_row().expect("its cache row");
        assert_eq!(
            (row.size, row.inode, row.sha256, &row.chunks),
            (scanned.size, scanned.inode, scanned.sha256, &scanned.chunks)
        );
        // Written just now: its row never matches (racy timestamps), as the scan makes it.
        assert_eq!(row.mtime_ns, i64::MIN);
        // The pack is named by what was read.
        let mut list = MemberList::new();
        list.push(&Digest::of(b"fresh bytes"), 11);
        assert_eq!(pack.list.finish(), list.finish());

        // Changed since it was listed (another modification time): not read, not packed.
        rewrite_at(root, &f, b"fresh BYTES", scanned.mtime_ns + 1_000_000_000);
        let (pack, refused) = PackBuilder::with_room(1 << 20, &PackBuffers::default())
            .fill(root, vec![MemberRead::whole(7, &f)])
            .await;
        assert!(pack.is_empty());
        assert!(
            matches!(refused.as_slice(), [(7, RemoteError::SourceChanged(_))]),
            "{refused:?}"
        );
    }

    #[test]
    fn a_file_written_while_it_was_read_is_not_as_listed_after_the_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let listed = scanned(root, "doc.txt", b"first");
        let file = open_scanned(root, &listed).expect("as listed when opened");
        assert_eq!(
            still_as_listed(&file, &listed).expect("stat"),
            Some(listed.inode),
            "unchanged: its inode"
        );
        // Written by another program between the open and the end of the read: the same
        // size, a later modification time.
        rewrite_at(root, &listed, b"other", listed.mtime_ns + 1_000_000_000);
        assert_eq!(still_as_listed(&file, &listed).expect("stat"), None);
        // Grown: another size.
        rewrite_as_scanned(root, &listed, b"first, then more");
        assert_eq!(still_as_listed(&file, &listed).expect("stat"), None);
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
        for (f, bytes) in [(&fc, &big[..]), (&fd, &b"dee"[..])] {
            let mut other = bytes.to_vec();
            other[1] ^= 0x55;
            rewrite_as_scanned(root, f, &other);
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
        let kept_at = buffers.kept_at()[0];
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
            hashed: true,
            mtime_ns: h.mtime_ns,
            inode: h.inode,
            chunks: h.chunks,
        };
        // One byte of the second chunk changes after the scan; size and mtime as they were.
        let mut other = data.clone();
        let at = usize::try_from(f.chunks[0].size).expect("size") + 1;
        other[at] ^= 0x55;
        rewrite_as_scanned(root, &f, &other);
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
        assert_eq!(pack.list.clone().finish(), list.clone().finish());
        assert_eq!(
            pack.members
                .iter()
                .map(|m| m.chunk.offset)
                .collect::<Vec<_>>(),
            vec![0, c0 as u64]
        );

        // The same three chunks read in one go (the file opened once for its run of chunks):
        // the same pack, the changed chunk refused under its own number.
        let reads = (0..3)
            .map(|i| MemberRead::chunk(100 + i, &f, i, chunk_offset(&f, i)))
            .collect();
        let (at_once, refused) = PackBuilder::with_room(1 << 20, &PackBuffers::default())
            .fill(root, reads)
            .await;
        assert_eq!(
            refused.iter().map(|(job, _)| *job).collect::<Vec<_>>(),
            vec![101]
        );
        assert_eq!(at_once.buf, want);
        assert_eq!(at_once.list.clone().finish(), list.finish());
    }

    #[tokio::test]
    async fn a_pack_filled_at_once_keeps_the_members_that_match_in_order_and_refuses_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let fa = scanned(root, "a.bin", b"alpha");
        let fb = scanned(root, "b.bin", b"bravo!");
        let fc = scanned(root, "c.bin", b"charlie");
        let fd = scanned(root, "d.bin", b"delta");
        let fe = scanned(root, "e.bin", b"echo");
        // b changes after the scan (same size, mtime put back: only the bytes tell), c is
        // swapped for a link to a file outside, d is gone.
        rewrite_as_scanned(root, &fb, b"BRAVO!");
        let outside = tempfile::tempdir().expect("outside");
        std::fs::write(outside.path().join("secret"), b"charlie").expect("secret");
        std::fs::remove_file(root.join("c.bin")).expect("rm c");
        #[cfg(unix)]
        std::os::unix::fs::symlink(outside.path().join("secret"), root.join("c.bin"))
            .expect("link");
        std::fs::remove_file(root.join("d.bin")).expect("rm d");

        let reads = [&fa, &fb, &fc, &fd, &fe]
            .iter()
            .enumerate()
            .map(|(job, f)| MemberRead::whole(10 + job, f))
            .collect();
        let pack = PackBuilder::with_room(1 << 20, &PackBuffers::default());
        let (pack, refused) = pack.fill(root, reads).await;
        let refused_jobs: Vec<usize> = refused.iter().map(|(job, _)| *job).collect();
        assert_eq!(refused_jobs, vec![11, 12, 13], "b, c and d are left out");
        assert!(
            matches!(refused[0].1, RemoteError::SourceChanged(_)),
            "{}",
            refused[0].1
        );
        assert_eq!(pack.buf, b"alphaecho", "only what matched, in order");
        assert_eq!(
            pack.members
                .iter()
                .map(|m| (m.path.to_string(), m.chunk.offset, m.chunk.size))
                .collect::<Vec<_>>(),
            vec![("a.bin".to_string(), 0, 5), ("e.bin".to_string(), 5, 4)]
        );
        let mut list = MemberList::new();
        list.push(&Digest::of(b"alpha"), 5);
        list.push(&Digest::of(b"echo"), 4);
        assert_eq!(pack.list.clone().finish(), list.finish());
    }

    #[test]
    fn the_upload_hashes_small_new_files_and_big_ones_of_two_packs_or_more() {
        let settings = crate::config::SyncSettings::default();
        let on = HashedOnUpload::new(&settings, true);
        let mib = 1024 * 1024;
        assert!(!on.takes(0), "an empty file has nothing to hash");
        assert!(on.sent_whole(1) && on.sent_whole(4 * mib));
        // Cut by content (over 4 MiB) but under two packs of 16 MiB: the scan hashes it.
        assert!(!on.takes(4 * mib + 1) && !on.takes(32 * mib - 1));
        assert!(on.streamed(32 * mib) && on.streamed(1 << 30));
        // Streaming off (packs of an interrupted upload on record): small ones only.
        let off = HashedOnUpload::new(&settings, false);
        assert!(off.takes(10) && !off.takes(1 << 30));
        // Files not cut by content are never streamed.
        let fixed = crate::config::SyncSettings {
            delta_chunk_size: 0,
            ..settings
        };
        assert!(!HashedOnUpload::new(&fixed, true).takes(1 << 30));
    }

    #[test]
    fn members_are_grouped_into_packs_by_size_as_they_come() {
        // (file, chunk) with sizes: whole files may take a pack past the target, a chunk
        // that would opens the next pack.
        let sizes = |i: usize, c: Option<usize>| match (i, c) {
            (0, None) => 6,
            (1, None) => 6,
            (2, Some(0)) => 3,
            (2, Some(1)) => 3,
            (3, None) => 2,
            (4, Some(0)) => 9,
            _ => 1,
        };
        let members = [
            (0, None),
            (1, None),
            (2, Some(0)),
            (2, Some(1)),
            (3, None),
            (4, Some(0)),
            (5, None),
        ];
        let packs = group_into_packs(&members, 10, sizes);
        assert_eq!(
            packs,
            vec![
                // 6 + 6 = 12 ≥ 10: closed (a whole file may take it past).
                0..2,
                // 3 + 3 + 2 = 8; the chunk of 9 would take it past: the next pack.
                2..5,
                5..7,
            ]
        );
        assert!(group_into_packs(&[], 10, sizes).is_empty());
        // A first chunk bigger than the target still gets a pack (of its own).
        assert_eq!(group_into_packs(&[(4, Some(0))], 5, sizes), vec![0..1]);
        // Every member lands in exactly one pack, in order.
        let flat: Vec<_> = packs.into_iter().flatten().collect();
        assert_eq!(flat, (0..members.len()).collect::<Vec<_>>());
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
