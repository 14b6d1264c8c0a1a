//! The upload of a new big file (cut by content, two packs or more) the scan left unhashed
//! (`hash_later`, `upload::HashedOnUpload`): read once. The file is cut by content as it is
//! read, each chunk hashed and — unless the page or this upload has it already — appended to
//! a pack from the very bytes that were hashed, and the whole file hashed beside
//! (`chunk::hash_open_file_into`, three threads). Full packs go on their way
//! while the file is still being read, at most [`PACKS_IN_FLIGHT`] at once. The new files of
//! one upload are read one after another into shared packs: a pack closes when it is full, not
//! where a file ends, and no file waits for the packs of the one before to land (each file
//! alone, with packs of its own, left a part-filled pack and a pause per file).
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

use futures::stream::FuturesUnordered;

use super::upload::{FileToSend, PackBuffers, PackBuilder};
use super::*;
use crate::chunk::{ChunkHash, ChunkSink, FileHashes};

/// Packs full and waiting for their turn to be sent (beside those in flight).
const PACKS_WAITING: usize = 1;

/// Sees the file's bytes and chunks as they are hashed, and packs the chunks to send.
struct StreamPacker {
    /// The file being read.
    path: Option<RelPath>,
    pack: PackBuilder,
    /// The room each pack reserves.
    room: u64,
    /// A pack this full is sent: the next chunk could take it past its target.
    close_at: u64,
    buffers: PackBuffers,
    /// Where the chunk being read starts in `pack`.
    chunk_at: u64,
    /// Chunks not to send: on the page already, or sent by this upload.
    have: HashSet<Digest>,
    /// Chunks packed so far, of every file (a chunk that repeats goes once).
    packed: HashSet<Digest>,
    out: tokio::sync::mpsc::Sender<PackBuilder>,
}

impl StreamPacker {
    /// Packs of at most `target` bytes (or one chunk, when a chunk may be bigger) of the
    /// chunks (at most `max_chunk` bytes each) that `have` does not hold, of the files read
    /// through it one after another (see [`StreamPacker::start_file`]), each full one sent to
    /// `out`. The files share packs: a pack closes when full, not when a file ends.
    fn new(
        target: u64,
        max_chunk: u64,
        have: HashSet<Digest>,
        out: tokio::sync::mpsc::Sender<PackBuilder>,
    ) -> StreamPacker {
        let room = target.max(max_chunk);
        let buffers = PackBuffers::default();
        StreamPacker {
            path: None,
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

    /// The bytes that follow are `path`'s, from its first.
    fn start_file(&mut self, path: &RelPath) {
        self.path = Some(path.clone());
        self.chunk_at = self.pack.len();
    }

    /// The file being read stopped part-way: the bytes of its chunk in progress go (its
    /// chunks sealed before stay: each is true to its bytes, and what no commit references
    /// is left for the collector).
    fn abandon_file(&mut self) {
        self.pack.cut_back(self.chunk_at);
        self.path = None;
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
        let Some(path) = &self.path else {
            return Err(io::Error::other("a chunk without its file"));
        };
        if self.have.contains(&chunk.sha256) || !self.packed.insert(chunk.sha256) {
            self.pack.cut_back(self.chunk_at);
        } else {
            self.pack.seal_chunk(path, self.chunk_at, chunk);
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
    /// Read, hash and send `files` (new files cut by content, unhashed by the scan) in one
    /// pass each, one after another into shared packs; `have` holds the chunks not to send.
    /// The packs are recorded as they land (`pack_sent`: the index gains their chunks).
    /// Returns each file's hashes, or why it waits for the next sync, in order (the sync
    /// fails with a remote error a pack could not beat).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn send_streamed(
        &self,
        folder: &FolderRecord,
        store: &dyn RemoteStore,
        files: Vec<FileToSend>,
        have: HashSet<Digest>,
        refs: &mut [Option<ChunkRef>],
        file_of: &HashMap<&RelPath, usize>,
        index: &mut upload::ChunkIndex,
        exec: &mut Execution,
    ) -> Result<Vec<Result<FileHashes, RemoteError>>, SyncError> {
        let chunking =
            crate::chunk::Chunking::new(self.settings.chunk_size, self.settings.delta_chunk_size);
        let Some(content) = chunking.content else {
            return Err(SyncError::Internal(
                "no content-defined chunking: nothing can be streamed".into(),
            ));
        };
        if let Some(f) = files
            .iter()
            .find(|f| chunking.content_for(f.size).is_none())
        {
            return Err(SyncError::Internal(format!(
                "{} is not cut by content; it cannot be streamed",
                f.path
            )));
        }
        let Some(first) = files.first() else {
            return Ok(Vec::new());
        };
        exec.tally.start(&first.path);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<PackBuilder>(PACKS_WAITING);
        let packer = StreamPacker::new(self.settings.pack_target, content.max(), have, tx);
        let root = folder.path.clone();
        let count = files.len();
        let reading = tokio::task::spawn_blocking(move || {
            read_into_packs(&root, &files, chunking, packer, &|_| {})
        });
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
                        exec.tally.start(&path);
                        if let Some(p) = exec.tally.bytes(&path, n) {
                            self.emit_progress(folder, p);
                        }
                    }
                }
            }
        }
        match reading.await {
            Ok(read) => Ok(read),
            Err(e) => Ok((0..count)
                .map(|_| {
                    Err(RemoteError::Io(io::Error::other(format!(
                        "the reading thread stopped: {e}"
                    ))))
                })
                .collect()),
        }
    }
}

/// Open each of `files` as listed and read it to its end through `packer`, one after another;
/// each one's hashes when it was read unchanged, else why not. Every pack that holds a chunk
/// of a file given its hashes was handed on: a file read before the upload stopped (its packs
/// could not all be handed on) is given that error instead.
/// (`after_first_read`: see `chunk::hash_open_file_into`; tests change a file there.)
fn read_into_packs(
    root: &std::path::Path,
    files: &[FileToSend],
    chunking: crate::chunk::Chunking,
    mut packer: StreamPacker,
    after_first_read: &(dyn Fn(&std::path::Path) + Sync),
) -> Vec<Result<FileHashes, RemoteError>> {
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        if packer.out.is_closed() {
            out.push(Err(upload_stopped()));
            continue;
        }
        packer.start_file(&f.path);
        let read = read_one(root, f, chunking, &mut packer, after_first_read);
        if read.is_err() {
            packer.abandon_file();
        }
        out.push(read);
    }
    if let Err(e) = packer.flush() {
        for r in out.iter_mut().filter(|r| r.is_ok()) {
            *r = Err(RemoteError::Io(io::Error::new(e.kind(), e.to_string())));
        }
    }
    out
}

fn upload_stopped() -> RemoteError {
    RemoteError::Io(io::Error::other("the upload stopped"))
}

/// Open `f` as listed and read it to its end through `packer`; its hashes when it was read
/// unchanged.
fn read_one(
    root: &std::path::Path,
    f: &FileToSend,
    chunking: crate::chunk::Chunking,
    packer: &mut StreamPacker,
    after_first_read: &(dyn Fn(&std::path::Path) + Sync),
) -> Result<FileHashes, RemoteError> {
    let file = upload::open_scanned(root, f)?;
    let native = f.path.to_native(root);
    let hashes =
        crate::chunk::hash_open_file_into(file, &native, &chunking, after_first_read, packer)
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
        let (packs, mut got) = stream_files(
            root,
            std::slice::from_ref(f),
            target,
            have,
            after_first_read,
        );
        (packs, got.remove(0))
    }

    /// [`stream`] for several files, one after another.
    fn stream_files(
        root: &std::path::Path,
        files: &[FileToSend],
        target: u64,
        have: HashSet<Digest>,
        after_first_read: &(dyn Fn(&std::path::Path) + Sync),
    ) -> (Vec<PackBuilder>, Vec<Result<FileHashes, RemoteError>>) {
        let c = chunking().content.expect("cut by content");
        let (tx, mut rx) = tokio::sync::mpsc::channel(10_000);
        let packer = StreamPacker::new(target, c.max(), have, tx);
        let got = read_into_packs(root, files, chunking(), packer, after_first_read);
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
            test_support::tree::grow(path)
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
    fn files_streamed_one_after_another_share_full_packs_and_one_changed_is_left_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shared = test_support::seed::bytes(20, 24 * 1024);
        let mut a_bytes = test_support::seed::bytes(21, 90 * 1024);
        a_bytes.extend_from_slice(&shared);
        let a = listed(dir.path(), "a.bin", &a_bytes);
        let b = listed(dir.path(), "b.bin", &test_support::seed::bytes(22, 2 << 20));
        // c ends with the block a holds: those chunks go once.
        let mut c_bytes = test_support::seed::bytes(23, 40 * 1024);
        c_bytes.extend_from_slice(&shared);
        let c = listed(dir.path(), "c.bin", &c_bytes);
        const TARGET: u64 = 32 * 1024;
        // b grows while it is read: refused, the bytes of its chunk in progress cut back.
        let grow_b = |path: &std::path::Path| {
            if path.ends_with("b.bin") {
                test_support::tree::grow(path);
            }
        };
        let files = [a.clone(), b, c.clone()];
        let (packs, got) = stream_files(dir.path(), &files, TARGET, HashSet::new(), &grow_b);
        assert_eq!(got.len(), 3);
        assert!(
            matches!(got[1], Err(RemoteError::SourceChanged(_))),
            "{:?}",
            got[1]
        );
        let want_a =
            crate::chunk::hash_file_with(&dir.path().join("a.bin"), &chunking()).expect("hash");
        let want_c =
            crate::chunk::hash_file_with(&dir.path().join("c.bin"), &chunking()).expect("hash");
        assert_eq!(got[0].as_ref().expect("a read"), &want_a);
        assert_eq!(got[2].as_ref().expect("c read"), &want_c);
        // Every pack holds members true to their bytes and nothing else (b's chunk in
        // progress is not left in one), within the target, and all but the last are full:
        // a pack does not close where a file ends.
        let members = members_checked(&packs);
        for (k, p) in packs.iter().enumerate() {
            assert!(p.len() <= TARGET, "a pack of {} bytes", p.len());
            if k + 1 < packs.len() {
                assert!(p.len() > TARGET - 8192, "packs are filled: {}", p.len());
            }
        }
        let sent: HashSet<Digest> = members.iter().map(|m| m.0).collect();
        assert_eq!(sent.len(), members.len(), "no chunk twice");
        for want in [&want_a, &want_c] {
            for ch in &want.chunks {
                assert!(sent.contains(&ch.sha256), "every chunk of a and c is sent");
            }
        }
        let a_chunks: HashSet<Digest> = want_a.chunks.iter().map(|c| c.sha256).collect();
        assert!(
            want_c.chunks.iter().any(|ch| a_chunks.contains(&ch.sha256)),
            "c shares chunks with a (sent once, with a)"
        );
        let first_pack_paths: HashSet<&str> = packs[0]
            .members_for_tests()
            .iter()
            .map(|m| m.path.as_str())
            .collect();
        assert!(first_pack_paths.contains("a.bin"));
        assert!(
            packs.iter().any(|p| p
                .members_for_tests()
                .iter()
                .any(|m| m.path.as_str() == "c.bin")),
            "c's own chunks follow"
        );
    }

    /// A file that stops part-way (a read error) leaves no bytes of its chunk in progress
    /// between the next file's chunks.
    #[test]
    fn a_file_abandoned_part_way_leaves_nothing_of_its_chunk_in_progress() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let mut packer = StreamPacker::new(1 << 20, 4096, HashSet::new(), tx);
        let chunk = |bytes: &[u8]| ChunkHash {
            sha256: Digest::of(bytes),
            size: bytes.len() as u64,
        };
        packer.start_file(&RelPath::new("x").expect("path"));
        packer.bytes(&[1; 100]).expect("bytes");
        packer.chunk_end(chunk(&[1; 100])).expect("chunk");
        packer.bytes(&[2; 50]).expect("bytes");
        packer.abandon_file();
        packer.start_file(&RelPath::new("y").expect("path"));
        packer.bytes(&[3; 70]).expect("bytes");
        packer.chunk_end(chunk(&[3; 70])).expect("chunk");
        packer.flush().expect("flush");
        let pack = rx.try_recv().expect("a pack");
        let members = members_checked(std::slice::from_ref(&pack));
        assert_eq!(
            members,
            [(Digest::of(&[1; 100]), 100), (Digest::of(&[3; 70]), 70)]
        );
    }

    #[test]
    fn a_pack_closes_before_the_next_chunk_could_pass_its_target() {
        assert_eq!(close_at(32, 8), 25);
        // A chunk as big as the target or bigger: each its own pack.
        assert_eq!(close_at(8, 8), 1);
        assert_eq!(close_at(4, 8), 1);
    }
}
