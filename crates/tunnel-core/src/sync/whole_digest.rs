//! The whole-file digest of a download whose pieces are fetched several at a time: a blocking
//! thread reads the file being assembled back, in file order, as its pieces land, and hashes
//! it — while the next pieces are still being fetched and their chunks checked on the async
//! side. So each byte is hashed twice (its chunk's digest, the file's) on two cores, not one
//! after the other on one, and the file's digest is that of the bytes where they lie on disk.

use std::fs::File;
use std::io;
use std::sync::mpsc;
use std::sync::Arc;

use tokio::task::JoinHandle;

use super::positional::read_at;
use crate::hash::{Digest, Hasher};

/// Read buffer of the hashing thread.
const BUFFER: usize = 1024 * 1024;

/// See the module docs.
pub(crate) struct WholeDigest {
    landed: mpsc::Sender<usize>,
    done: JoinHandle<io::Result<Option<Digest>>>,
}

impl WholeDigest {
    /// Start hashing `file`, whose pieces are `pieces` (offset and length, in file order,
    /// one after another from offset 0).
    pub(crate) fn start(file: Arc<File>, pieces: Vec<(u64, u64)>) -> WholeDigest {
        let (landed, rx) = mpsc::channel::<usize>();
        let done = tokio::task::spawn_blocking(move || hash_in_order(&file, &pieces, &rx));
        WholeDigest { landed, done }
    }

    /// All bytes of piece `i` are in the file.
    pub(crate) fn landed(&self, i: usize) {
        // The thread stops only once every piece was hashed, or on a read error (reported by
        // `finish`).
        let _ = self.landed.send(i);
    }

    /// The digest of the whole file; `None` when some piece never landed.
    pub(crate) async fn finish(self) -> io::Result<Option<Digest>> {
        drop(self.landed);
        self.done.await.map_err(io::Error::other)?
    }
}

fn hash_in_order(
    file: &File,
    pieces: &[(u64, u64)],
    landed: &mpsc::Receiver<usize>,
) -> io::Result<Option<Digest>> {
    let mut here = vec![false; pieces.len()];
    let mut next = 0;
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; BUFFER];
    loop {
        while next < pieces.len() && here[next] {
            let (offset, len) = pieces[next];
            hash_range(file, offset, len, &mut buf, &mut hasher)?;
            next += 1;
        }
        if next == pieces.len() {
            return Ok(Some(hasher.finish()));
        }
        match landed.recv() {
            Ok(i) => {
                if let Some(slot) = here.get_mut(i) {
                    *slot = true;
                }
            }
            Err(_) => return Ok(None),
        }
    }
}

fn hash_range(
    file: &File,
    mut offset: u64,
    len: u64,
    buf: &mut [u8],
    hasher: &mut Hasher,
) -> io::Result<()> {
    let end = offset + len;
    while offset < end {
        let want = usize::try_from(end - offset).map_or(buf.len(), |w| w.min(buf.len()));
        let n = read_at(file, &mut buf[..want], offset)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file being downloaded is shorter than its pieces",
            ));
        }
        hasher.update(&buf[..n]);
        offset += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(data: &[u8]) -> (tempfile::TempDir, Arc<File>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, data).expect("write");
        let f = File::open(&path).expect("open");
        (dir, Arc::new(f))
    }

    #[tokio::test]
    async fn pieces_landing_out_of_order_are_hashed_in_file_order() {
        let data: Vec<u8> = (0..(BUFFER * 3 + 11)).map(|i| (i % 249) as u8).collect();
        let (_dir, f) = file_with(&data);
        let pieces = vec![
            (0, 10),
            (10, BUFFER as u64 * 2),
            (BUFFER as u64 * 2 + 10, BUFFER as u64 + 1),
        ];
        let w = WholeDigest::start(f, pieces);
        for i in [2, 0, 1] {
            w.landed(i);
        }
        assert_eq!(w.finish().await.expect("read"), Some(Digest::of(&data)));
    }

    #[tokio::test]
    async fn a_piece_that_never_landed_gives_no_digest_and_no_pieces_is_the_empty_digest() {
        let (_dir, f) = file_with(b"abcdef");
        let w = WholeDigest::start(Arc::clone(&f), vec![(0, 3), (3, 3)]);
        w.landed(1);
        assert_eq!(w.finish().await.expect("read"), None);
        let w = WholeDigest::start(f, Vec::new());
        assert_eq!(w.finish().await.expect("read"), Some(Digest::of(b"")));
    }

    #[tokio::test]
    async fn a_file_shorter_than_its_pieces_is_an_error() {
        let (_dir, f) = file_with(b"abc");
        let w = WholeDigest::start(f, vec![(0, 5)]);
        w.landed(0);
        assert!(w.finish().await.is_err());
    }
}
