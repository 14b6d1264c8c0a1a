//! A large file goes up streamed from disk and comes back streamed into a hashing sink:
//! memory stays flat and the SHA-256 of what arrives equals the source's.

use std::io::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use tunnel_core::hash::{Digest, Hasher};
use tunnel_core::remote::{BlobSource, RemoteStore};

use crate::*;

/// Size of the big file (300 MB; `SBER_TUNNEL_BIG_TEST_MB` overrides it).
fn big_len() -> u64 {
    std::env::var("SBER_TUNNEL_BIG_TEST_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(300)
        * 1_000_000
}

/// A sink that hashes and counts what it receives, storing nothing.
#[derive(Default)]
struct HashingSink {
    hasher: Hasher,
    len: u64,
}

impl AsyncWrite for HashingSink {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.hasher.update(buf);
        self.len += buf.len() as u64;
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Write `len` pseudo-random bytes to `path`, returning their SHA-256.
fn write_big_file(path: &std::path::Path, len: u64) -> Digest {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut hasher = Hasher::new();
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut block = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for chunk in block.chunks_mut(8) {
            // xorshift64: cheap, not compressible, deterministic.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        let n = usize::try_from(left.min(block.len() as u64)).unwrap();
        hasher.update(&block[..n]);
        file.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    file.flush().unwrap();
    hasher.finish()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_file_streams_up_and_down_with_its_hash_intact() {
    let len = big_len();
    let emu = builder()
        .max_attachment_size(len + 1)
        .spawn()
        .await
        .unwrap();
    let s = store(&emu);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.dat");
    let digest = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || write_big_file(&path, len))
            .await
            .unwrap()
    };
    let blob = name("big-file.bin");
    let info = s
        .put_blob(
            &blob,
            BlobSource::File {
                path: path.clone(),
                offset: 0,
                len,
                sha256: digest,
            },
        )
        .await
        .unwrap();
    assert_eq!(info.size, len);
    let post = requests_to(&emu, Some("POST"), "/child/attachment");
    assert_eq!(post.len(), 1);
    assert!(
        post[0].bytes_in >= len,
        "the whole file went up in one request"
    );

    let mut sink = HashingSink::default();
    let n = s.get_blob(&blob, None, None, &mut sink).await.unwrap();
    assert_eq!((n, sink.len), (len, len));
    assert_eq!(
        sink.hasher.finish(),
        digest,
        "what came back is what went up"
    );
}
