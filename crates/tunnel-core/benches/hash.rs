//! Hashing speed of the sync engine, measured alone (no disk, no network).
//!
//! `cargo bench -p tunnel-core --bench hash [-- --mib N] [--json]` hashes N MiB (default
//! 1024) held in memory with [`tunnel_core::hash::Hasher`], fed in 1 MiB slices as the
//! scanner feeds it, and prints the speed in MB/s (10^6 bytes per second, the unit of
//! `openssl speed`). It also times [`tunnel_core::chunk::hash_file`] on a file of the same size
//! in the page cache: that is what a first scan costs per byte of file (one read pass that
//! computes the whole-file and the per-chunk digests). And the content-defined cutter alone
//! (`chunk::cdc`, chunks of 2 MiB on average as `delta-chunk-size` sets by default) over the
//! bytes in memory: a big new file's read finds its cut points at this speed.
//!
//! Invariants: the buffer is filled before the clock starts; each figure is the best of a
//! few passes (the machine is shared, the best pass is the one least disturbed); the digest
//! is printed so the work cannot be optimised away. Run without `--bench` (as `cargo test
//! --all-targets` does) it hashes 8 MiB once, so tests stay quick; it never asserts a speed.

use std::io::Write;
use std::time::{Duration, Instant};

use tunnel_core::chunk::{hash_file, ContentChunking};
use tunnel_core::hash::Hasher;

/// Slice fed to the hasher per call: the scanner's read buffer.
const SLICE: usize = 1024 * 1024;
/// Chunk size given to `hash_file` (the default `chunk-size`).
const CHUNK_SIZE: u64 = 100_000_000;

struct Options {
    mib: usize,
    passes: usize,
    json: bool,
}

fn options() -> Result<Options, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bench = args.iter().any(|a| a == "--bench");
    let mut o = Options {
        mib: if bench { 1024 } else { 8 },
        passes: if bench { 3 } else { 1 },
        json: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--mib" => {
                let v = it.next().ok_or("--mib needs a number")?;
                o.mib = v.parse().map_err(|e| format!("--mib {v}: {e}"))?;
            }
            "--passes" => {
                let v = it.next().ok_or("--passes needs a number")?;
                o.passes = v.parse().map_err(|e| format!("--passes {v}: {e}"))?;
            }
            "--json" => o.json = true,
            // Flags cargo passes to every bench or test binary.
            _ => {}
        }
    }
    if o.mib == 0 || o.passes == 0 {
        return Err("--mib and --passes must be at least 1".into());
    }
    Ok(o)
}

/// Deterministic, incompressible-looking bytes (xorshift), so nothing is special about them.
fn data(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64().max(1e-9) / 1e6
}

fn main() -> Result<(), String> {
    let o = options()?;
    let bytes = o.mib * 1024 * 1024;
    let buf = data(bytes);

    let mut best_mem = Duration::MAX;
    let mut digest = String::new();
    for _ in 0..o.passes {
        let start = Instant::now();
        let mut h = Hasher::new();
        for s in buf.chunks(SLICE) {
            h.update(s);
        }
        let d = h.finish();
        best_mem = best_mem.min(start.elapsed());
        digest = d.to_hex();
    }

    let cdc = ContentChunking::with_average(2 * 1024 * 1024).ok_or("cutter parameters")?;
    let mut best_cut = Duration::MAX;
    let mut cuts = 0;
    for _ in 0..o.passes {
        let start = Instant::now();
        cuts = cdc.cut_all(&buf).len();
        best_cut = best_cut.min(start.elapsed());
    }

    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let path = dir.path().join("hash-bench.bin");
    {
        let mut f = std::fs::File::create(&path).map_err(|e| format!("create: {e}"))?;
        f.write_all(&buf).map_err(|e| format!("write: {e}"))?;
        f.sync_all().map_err(|e| format!("sync: {e}"))?;
    }
    drop(buf);
    let mut best_file = Duration::MAX;
    for _ in 0..o.passes {
        let start = Instant::now();
        let h = hash_file(&path, CHUNK_SIZE).map_err(|e| format!("hash_file: {e}"))?;
        best_file = best_file.min(start.elapsed());
        if h.sha256.to_hex() != digest {
            return Err("hash_file disagrees with Hasher".into());
        }
    }

    let mem = mb_per_s(bytes, best_mem);
    let file = mb_per_s(bytes, best_file);
    let cut = mb_per_s(bytes, best_cut);
    if o.json {
        println!(
            "{{\"bytes\":{bytes},\"hasher_mb_s\":{mem:.1},\"hash_file_mb_s\":{file:.1},\"cutter_mb_s\":{cut:.1},\"sha256\":\"{digest}\"}}"
        );
    } else {
        println!(
            "Hasher (memory, {} MiB, best of {}): {mem:.1} MB/s",
            o.mib, o.passes
        );
        println!("hash_file (page cache, whole file + chunks): {file:.1} MB/s");
        println!(
            "content-defined cutter (memory, {cuts} chunks of 2 MiB on average): {cut:.1} MB/s"
        );
        println!("sha256 {digest}");
    }
    Ok(())
}
