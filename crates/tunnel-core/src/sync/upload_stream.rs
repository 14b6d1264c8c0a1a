//! The upload of a new big file (cut by content, two packs or more) the scan left unhashed
//! (`hash_later`, `upload::HashedOnUpload`): read once. The file is cut by content as it is
//! read, each chunk hashed and — unless the page or this upload has it already — appended to
//! a pack from the very bytes that were hashed, and the whole file hashed beside
//! (`chunk::hash_open_file_into`, three threads). Full packs go on their way
//! while the file is still being read, at most [`PACKS_IN_FLIGHT`] at once.
//!
//! Before, such a file was read and hashed twice by the scan (each chunk, the whole file), and
//! read and hashed once more by the upload's check of each chunk against the scan: a 1 GiB
//! file took its scan's second before its first byte was sent (issue 15 item 3).
//!
//! What stays as it was:
//! - nothing torn is committed: the file must be as listed when opened (size, modification
//!   time, a regular file reached without links) and unchanged once read to its end; else its
//!   packs are left on the page for the collector and the file waits for the next sync;
//! - every chunk sent is named by the digest of its bytes in the pack (`m-` name from the
//!   member list), verified on download;
//! - chunks the page holds already (an edited copy of a big file) are referenced, not sent:
//!   the chunks of the page's files cut in several are looked up as each chunk is hashed;
//! - an interrupted upload resumes: each pack sent is recorded (`packed_chunks`), and from a
//!   pack recorded to the next commit that lands the scan hashes new big files, so that the
//!   next upload knows which chunks it wants and re-uses those packs.

use std::collections::HashSet;
use std::io;
use std::sync::Arc;

use futures::stream::FuturesUnordered;

use super::upload::{FileToSend, PackBuffers, PackBuilder};
use super::*;
use crate::chunk::{ChunkHash, ChunkSink, FileHashes};

/// Packs full and waiting for their turn to be sent (beside those in flight).
const PACKS_WAITING: usize = 1;

/// Sees the file's bytes and chunks as they are hashed, and packs the chunks to send.
struct StreamPacker {
    path: RelPath,
    pack: PackBuilder,
    /// The room each pack reserves.
    room: u64,
    /// A pack this full is sent: the next chunk could take it past its target.
    close_at: u64,
    buffers: PackBuffers,
    /// Where the chunk being read starts in `pack`.
    chunk_at: u64,
    /// Chunks not to send: on the page already, or sent by this upload.
    have: Arc<HashSet<Digest>>,
    /// Chunks of this file packed so far (a chunk that repeats goes once).
    packed: HashSet<Digest>,
    out: tokio::sync::mpsc::Sender<PackBuilder>,
}

impl StreamPacker {
    /// Packs of at most `target` bytes (or one chunk, when a chunk may be bigger) of the
    /// chunks of `path` (at most `max_chunk` bytes each) that `have` does not hold, each full
    /// one sent to `out`.
    fn new(
        path: &RelPath,
        target: u64,
        max_chunk: u64,
        have: Arc<HashSet<Digest>>,
        out: tokio::sync::mpsc::Sender<PackBuilder>,
    ) -> StreamPacker {
        let room = target.max(max_chunk);
        let buffers = PackBuffers::default();
        StreamPacker {
            path: path.clone(),
            pack: PackBuilder::with_room(room, &buffers),
            room,
            close_at: close_at(target, max_chunk),
            buffers,
            chunk_at: 0,
            have,
            packed: HashSet::new(),
            out,
        }
    }

    /// Send the pack gathered so far (if it holds anything) and start the next.
    fn flush(&mut self) -> io::Result<()> {
        let next = PackBuilder::with_room(self.room, &self.buffers);
        let full = std::mem::replace(&mut self.pack, next);
        self.chunk_at = 0;
        if full.is_empty() {
            return Ok(());
        }
        self.out
            .blocking_send(full)
            .map_err(|_| io::Error::other("the upload stopped"))
    }
}

impl ChunkSink for StreamPacker {
    fn bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.pack.append(bytes);
        Ok(())
    }

    fn chunk_end(&mut self, chunk: ChunkHash) -> io::Result<()> {
        if self.have.contains(&chunk.sha256) || !self.packed.insert(chunk.sha256) {
            self.pack.cut_back(self.chunk_at);
        } else {
            self.pack.seal_chunk(&self.path, self.chunk_at, chunk);
        }
        self.chunk_at = self.pack.len();
        if self.pack.len() >= self.close_at {
            self.flush()?;
        }
        Ok(())
    }
}

/// When a streamed pack is closed, for packs of at most `target` bytes and chunks of at most
/// `max_chunk`: once the next chunk could take it past the target (a chunk bigger than the
/// target has a pack of its own).
pub(super) fn close_at(target: u64, max_chunk: u64) -> u64 {
    target.saturating_sub(max_chunk).saturating_add(1).max(1)
}

impl Syncer {
    /// Read, hash and send `f` (a new big file cut by content, unhashed by the scan) in one
    /// pass; `have` holds the chunks not to send. Its packs are recorded as they land
    /// (`pack_sent`: the index gains their chunks). Returns the file's hashes, or why it
    /// waits for the next sync (the sync fails with a remote error a pack could not beat).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn send_streamed(
        &self,
        folder: &FolderRecord,
        store: &dyn RemoteStore,
        f: &FileToSend,
        have: Arc<HashSet<Digest>>,
        refs: &mut [Option<ChunkRef>],
        file_of: &HashMap<&RelPath, usize>,
        index: &mut upload::ChunkIndex,
        exec: &mut Execution,
    ) -> Result<Result<FileHashes, RemoteError>, SyncError> {
        let chunking =
            crate::chunk::Chunking::new(self.settings.chunk_size, self.settings.delta_chunk_size);
        let Some(content) = chunking.content_for(f.size) else {
            return Err(SyncError::Internal(format!(
                "{} is not cut by content; it cannot be streamed",
                f.path
            )));
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel::<PackBuilder>(PACKS_WAITING);
        let packer = StreamPacker::new(&f.path, self.settings.pack_target, content.max(), have, tx);
        let root = folder.path.clone();
        let listed = f.clone();
        let reading = tokio::task::spawn_blocking(move || {
            read_into_packs(&root, &listed, chunking, packer, &|_| {})
        });
        exec.tally.start(&f.path);
        let mut in_flight = FuturesUnordered::new();
        let mut reading_done = false;
        while !reading_done || !in_flight.is_empty() {
            tokio::select! {
                pack = rx.recv(), if !reading_done && in_flight.len() < PACKS_IN_FLIGHT => {
                    match pack {
                        Some(pack) => in_flight.push(pack.send(store)),
                        None => reading_done = true,
                    }
                }
                Some(r) = in_flight.next(), if !in_flight.is_empty() => {
                    // A pack that fails ends the sync as in the upload pass; dropping `rx`
                    // stops the reader at its next pack.
                    let sent = self.pack_sent(r, refs, file_of, index, exec, folder).await?;
                    for (path, n) in sent {
                        if let Some(p) = exec.tally.bytes(&path, n) {
                            self.emit_progress(folder, p);
                        }
                    }
                }
            }
        }
        match reading.await {
            Ok(read) => Ok(read),
            Err(e) => Ok(Err(RemoteError::Io(io::Error::other(format!(
                "the reading thread of {} stopped: {e}",
                f.path
            ))))),
        }
    }
}

/// Open `f` as listed, read it to its end through `packer`; its hashes when it was read
/// unchanged.
/// (`after_first_read`: see `chunk::hash_open_file_into`; tests change the file there.)
fn read_into_packs(
    root: &std::path::Path,
    f: &FileToSend,
    chunking: crate::chunk::Chunking,
    mut packer: StreamPacker,
    after_first_read: &(dyn Fn(&std::path::Path) + Sync),
) -> Result<FileHashes, RemoteError> {
    let file = upload::open_scanned(root, f)?;
    let native = f.path.to_native(root);
    let hashes =
        crate::chunk::hash_open_file_into(file, &native, &chunking, after_first_read, &mut packer)
            .map_err(|e| match crate::chunk::is_file_changed(&e) {
                true => RemoteError::SourceChanged(native.clone()),
                false => RemoteError::Io(e),
            })?;
    // The open file was unchanged from the first byte to the last (`hash_open_file_into`), and
    // as listed when opened (`open_scanned`, and again here: it is what was read): these are
    // the bytes of the file the plan saw.
    if hashes.size != f.size || hashes.mtime_ns != f.mtime_ns {
        return Err(RemoteError::SourceChanged(native));
    }
    packer.flush()?;
    Ok(hashes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::Chunking;

    /// Chunks of 2 to 8 KiB.
    fn chunking() -> Chunking {
        Chunking::new(64 * 1024, 4096)
    }

    /// `bytes` written to `name` under `root`, listed as a scan lists a file it leaves unhashed.
    fn listed(root: &std::path::Path, name: &str, bytes: &[u8]) -> FileToSend {
        let path = root.join(name);
        std::fs::write(&path, bytes).expect("write");
        let meta = std::fs::metadata(&path).expect("stat");
        FileToSend {
            path: RelPath::new(name).expect("path"),
            size: meta.len(),
            sha256: Digest([0; 32]),
            hashed: false,
            mtime_ns: crate::chunk::mtime_ns(&meta),
            inode: 0,
            chunks: Vec::new(),
        }
    }

    /// Stream `f` with a pack target of `target` and the chunks in `have` not sent; the packs
    /// made (in order) and the outcome.
    fn stream(
        root: &std::path::Path,
        f: &FileToSend,
        target: u64,
        have: HashSet<Digest>,
        after_first_read: &(dyn Fn(&std::path::Path) + Sync),
    ) -> (Vec<PackBuilder>, Result<FileHashes, RemoteError>) {
        let c = chunking().content_for(f.size).expect("cut by content");
        let (tx, mut rx) = tokio::sync::mpsc::channel(10_000);
        let packer = StreamPacker::new(&f.path, target, c.max(), Arc::new(have), tx);
        let got = read_into_packs(root, f, chunking(), packer, after_first_read);
        let mut packs = Vec::new();
        while let Ok(p) = rx.try_recv() {
            packs.push(p);
        }
        (packs, got)
    }

    /// Each member of `packs`: its bytes hash to its digest; returns (digest, size) in order.
    fn members_checked(packs: &[PackBuilder]) -> Vec<(Digest, u64)> {
        let mut out = Vec::new();
        for p in packs {
            let mut at = 0;
            for m in p.members_for_tests() {
                assert_eq!(m.chunk.offset, at, "members follow each other");
                let bytes = &p.bytes_for_tests()[at as usize..(at + m.chunk.size) as usize];
                assert_eq!(Digest::of(bytes), m.chunk.sha256, "a member is its bytes");
                at += m.chunk.size;
                out.push((m.chunk.sha256, m.chunk.size));
            }
            assert_eq!(at, p.len(), "a pack holds its members and nothing else");
        }
        out
    }

    #[test]
    fn a_streamed_file_is_packed_chunk_by_chunk_within_the_target_and_hashed_as_the_scan_does() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = test_support::seed::bytes(3, 400 * 1024);
        let f = listed(dir.path(), "big.bin", &data);
        const TARGET: u64 = 32 * 1024;
        let (packs, got) = stream(dir.path(), &f, TARGET, HashSet::new(), &|_| {});
        let h = got.expect("read unchanged");
        let want =
            crate::chunk::hash_file_with(&dir.path().join("big.bin"), &chunking()).expect("hash");
        assert_eq!(h, want, "the same hashes as the scan's");
        assert!(packs.len() > 5, "several packs: {}", packs.len());
        for (k, p) in packs.iter().enumerate() {
            assert!(p.len() <= TARGET, "a pack of {} bytes", p.len());
            if k + 1 < packs.len() {
                assert!(p.len() > TARGET - 8192, "packs are filled: {}", p.len());
            }
        }
        let members = members_checked(&packs);
        let chunks: Vec<(Digest, u64)> = want.chunks.iter().map(|c| (c.sha256, c.size)).collect();
        assert_eq!(members, chunks, "every chunk, in order, once");
    }

    #[test]
    fn chunks_the_page_has_or_that_repeat_are_not_packed() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A block that repeats, between other bytes: cut alike each time.
        let block = test_support::seed::bytes(9, 40 * 1024);
        let mut data = test_support::seed::bytes(10, 30 * 1024);
        for _ in 0..4 {
            data.extend_from_slice(&block);
        }
        data.extend_from_slice(&test_support::seed::bytes(11, 30 * 1024));
        let f = listed(dir.path(), "big.bin", &data);
        let want =
            crate::chunk::hash_file_with(&dir.path().join("big.bin"), &chunking()).expect("hash");
        let distinct: HashSet<Digest> = want.chunks.iter().map(|c| c.sha256).collect();
        assert!(distinct.len() < want.chunks.len(), "some chunks repeat");
        // The page has the file's first chunk.
        let first = want.chunks[0].sha256;
        let (packs, got) = stream(dir.path(), &f, 32 * 1024, HashSet::from([first]), &|_| {});
        assert_eq!(got.expect("read"), want);
        let members = members_checked(&packs);
        let sent: HashSet<Digest> = members.iter().map(|m| m.0).collect();
        assert_eq!(sent.len(), members.len(), "no chunk twice");
        assert!(!sent.contains(&first), "the page's chunk is not sent");
        assert_eq!(sent.len(), distinct.len() - 1, "every other chunk is");
    }

    #[test]
    fn a_file_changed_while_streamed_or_since_it_was_listed_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = test_support::seed::bytes(5, 3 * 1024 * 1024);
        let f = listed(dir.path(), "big.bin", &data);
        // Grown while it is read (after its first megabyte).
        let (packs, got) = stream(dir.path(), &f, 32 * 1024, HashSet::new(), &|path| {
            use std::io::Write as _;
            let mut w = std::fs::OpenOptions::new()
                .append(true)
                .open(path)
                .expect("open");
            w.write_all(b"more").expect("append");
        });
        assert!(matches!(got, Err(RemoteError::SourceChanged(_))), "{got:?}");
        // What went out before it was noticed is chunks true to their bytes (left for the
        // collector; nothing commits them).
        members_checked(&packs);

        // Rewritten since the scan listed it (another modification time): not read at all.
        let g = listed(
            dir.path(),
            "other.bin",
            &test_support::seed::bytes(6, 100 * 1024),
        );
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(dir.path().join("other.bin"))
            .expect("open")
            .set_modified(later)
            .expect("mtime");
        let (packs, got) = stream(dir.path(), &g, 32 * 1024, HashSet::new(), &|_| {});
        assert!(matches!(got, Err(RemoteError::SourceChanged(_))), "{got:?}");
        assert!(packs.is_empty(), "nothing of it was packed");
    }

    #[test]
    fn a_pack_closes_before_the_next_chunk_could_pass_its_target() {
        assert_eq!(close_at(32, 8), 25);
        // A chunk as big as the target or bigger: each its own pack.
        assert_eq!(close_at(8, 8), 1);
        assert_eq!(close_at(4, 8), 1);
    }
}
