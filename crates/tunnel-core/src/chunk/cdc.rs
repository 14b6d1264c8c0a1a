//! Content-defined chunking (FastCDC with normalized chunking, Xia et al. 2016/2020): where a
//! big file is cut is decided by its bytes, not by their position, so an edit moves at most
//! the cut points next to it and every other chunk keeps its hash — an edited 1 GiB file sends
//! a few megabytes, not the whole chunk around the edit, and bytes inserted at its start do not
//! shift every later chunk.
//!
//! The algorithm: a gear hash `h = (h << 1) + GEAR[byte]` runs over the bytes of the current
//! chunk from its `min`-th byte on (the first `min` bytes are skipped: no chunk is shorter); a
//! chunk ends after the byte where the top bits of `h` selected by a mask are all zero, or at
//! `max` bytes. Before `avg` bytes the mask has two bits more than `log2(avg)` (a cut is
//! harder), after it two bits fewer (easier): this "normalization" gathers chunk sizes around
//! `avg`. Bit `k` of `h` depends on the last `k + 1` bytes only, so the mask takes the top bits
//! (each depending on the last 64 − n or more bytes).
//!
//! Invariants:
//! - the cut points depend only on the bytes, never on how they are fed: [`Cutter`] keeps its
//!   state across buffers (a property test feeds the same bytes in random pieces);
//! - every chunk but the last is `min..=max` bytes long; the last is `1..=max`;
//! - the table, the masks and `min = avg / 2`, `max = 2 * avg` are part of *where* files are
//!   cut, not of the remote format: a reader never recomputes cut points (it checks each
//!   chunk's SHA-256 and the file's). Changing them only costs deduplication against chunks
//!   cut before the change.

/// The gear table: 256 pseudo-random 64-bit values from splitmix64 with a fixed seed (computed
/// at compile time, so it cannot drift between builds).
const GEAR: [u64; 256] = gear_table();

const fn gear_table() -> [u64; 256] {
    let mut table = [0u64; 256];
    let mut state: u64 = 0x5bd1_e995_7f4a_7c15;
    let mut i = 0;
    while i < 256 {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        table[i] = z ^ (z >> 31);
        i += 1;
    }
    table
}

/// The smallest average chunk size accepted (bytes): below it the masks have too few bits.
pub const MIN_AVG: u64 = 64;

/// Sizes and masks of content-defined chunking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentChunking {
    min: u64,
    avg: u64,
    max: u64,
    /// Used before `avg` bytes: `log2(avg) + 2` top bits.
    mask_small: u64,
    /// Used from `avg` bytes on: `log2(avg) - 2` top bits.
    mask_large: u64,
}

impl ContentChunking {
    /// Chunks of `avg` bytes on average (rounded down to a power of two), at least half and at
    /// most twice that. `None` when `avg` is below [`MIN_AVG`].
    pub fn with_average(avg: u64) -> Option<ContentChunking> {
        if avg < MIN_AVG {
            return None;
        }
        let bits = 63 - avg.leading_zeros(); // floor(log2(avg)), 6..=63
        let avg = 1u64 << bits;
        let top = |n: u32| !0u64 << (64 - n.clamp(1, 63));
        Some(ContentChunking {
            min: avg / 2,
            avg,
            max: avg.saturating_mul(2),
            mask_small: top(bits + 2),
            mask_large: top(bits - 2),
        })
    }

    /// No chunk but a file's last is shorter than this.
    pub fn min(&self) -> u64 {
        self.min
    }

    /// The size chunks gather around.
    pub fn avg(&self) -> u64 {
        self.avg
    }

    /// No chunk is longer than this.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// A cutter at the start of a stream.
    pub fn cutter(&self) -> Cutter {
        Cutter {
            params: *self,
            pos: 0,
            hash: 0,
        }
    }

    /// The chunk lengths of `data` as a whole (tests and small inputs).
    pub fn cut_all(&self, data: &[u8]) -> Vec<u64> {
        let mut cutter = self.cutter();
        let mut chunks = Vec::new();
        let mut rest = data;
        // Each call starts at a chunk's first byte, so a cut is that chunk's length.
        while let Some(n) = cutter.next_cut(rest) {
            chunks.push(n as u64);
            rest = &rest[n..];
        }
        chunks.extend(cutter.pending());
        chunks
    }
}

/// The running state of content-defined chunking over one stream of bytes.
#[derive(Clone, Debug)]
pub struct Cutter {
    params: ContentChunking,
    /// Bytes of the current chunk seen so far.
    pos: u64,
    hash: u64,
}

impl Cutter {
    /// Looks at the next bytes of the stream: `Some(n)` when the current chunk ends after the
    /// first `n` bytes of `data` (the cutter then starts the next chunk; call again with
    /// `&data[n..]`), `None` when all of `data` belongs to the current chunk.
    pub fn next_cut(&mut self, data: &[u8]) -> Option<usize> {
        let p = self.params;
        let mut i = 0usize;
        // The first `min` bytes of a chunk are never looked at.
        if self.pos < p.min {
            let skip = usize::try_from(p.min - self.pos).map_or(data.len(), |s| s.min(data.len()));
            self.pos += skip as u64;
            i = skip;
            if self.pos < p.min {
                return None;
            }
        }
        let mut h = self.hash;
        while i < data.len() {
            // Up to `avg` the harder mask, then the easier one up to the forced cut at `max`.
            let (mask, limit) = match self.pos < p.avg {
                true => (p.mask_small, p.avg),
                false => (p.mask_large, p.max),
            };
            let room =
                usize::try_from(limit - self.pos).map_or(data.len() - i, |r| r.min(data.len() - i));
            let start = i;
            let end = i + room;
            // Four bytes a round: the hash after each of them is computed from the hash
            // before the round, not from one another, so the rounds' chain of dependent
            // operations is a shift and an add per four bytes, not per byte (the cutter was a
            // third of a big file's first read, issue 15). The same hashes, the same cuts.
            while i + 4 <= end {
                let g1 = GEAR[data[i] as usize];
                let g2 = GEAR[data[i + 1] as usize];
                let g3 = GEAR[data[i + 2] as usize];
                let g4 = GEAR[data[i + 3] as usize];
                let h1 = (h << 1).wrapping_add(g1);
                let h2 = (h << 2).wrapping_add((g1 << 1).wrapping_add(g2));
                let t3 = (g1 << 2).wrapping_add(g2 << 1).wrapping_add(g3);
                let h3 = (h << 3).wrapping_add(t3);
                let h4 = (h << 4).wrapping_add((t3 << 1).wrapping_add(g4));
                if (h1 & mask == 0) | (h2 & mask == 0) | (h3 & mask == 0) | (h4 & mask == 0) {
                    let at = match () {
                        _ if h1 & mask == 0 => 1,
                        _ if h2 & mask == 0 => 2,
                        _ if h3 & mask == 0 => 3,
                        _ => 4,
                    };
                    return Some(self.cut(i + at));
                }
                h = h4;
                i += 4;
            }
            while i < end {
                h = (h << 1).wrapping_add(GEAR[data[i] as usize]);
                i += 1;
                if h & mask == 0 {
                    return Some(self.cut(i));
                }
            }
            self.pos += (end - start) as u64;
            if self.pos >= p.max {
                return Some(self.cut(i));
            }
        }
        self.hash = h;
        None
    }

    /// Bytes of the unfinished chunk (the file's last, when the stream ends here).
    pub fn pending(&self) -> Option<u64> {
        (self.pos > 0).then_some(self.pos)
    }

    fn cut(&mut self, at: usize) -> usize {
        self.pos = 0;
        self.hash = 0;
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut s = seed;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 24) as u8
            })
            .collect()
    }

    fn cuts_of(c: &ContentChunking, data: &[u8], pieces: &[usize]) -> Vec<u64> {
        // Feed `data` in the given piece lengths (cycled); return the chunk lengths.
        let mut cutter = c.cutter();
        let mut chunks = Vec::new();
        let mut current = 0u64;
        let mut at = 0usize;
        let mut k = 0usize;
        while at < data.len() {
            let len = pieces[k % pieces.len()].max(1).min(data.len() - at);
            k += 1;
            let mut piece = &data[at..at + len];
            at += len;
            while let Some(n) = cutter.next_cut(piece) {
                chunks.push(current + n as u64);
                current = 0;
                piece = &piece[n..];
            }
            current += piece.len() as u64;
        }
        assert_eq!(
            cutter.pending().unwrap_or(0),
            current,
            "pending = bytes since last cut"
        );
        if current > 0 {
            chunks.push(current);
        }
        chunks
    }

    #[test]
    fn the_gear_table_is_fixed() {
        // Where files are cut must not drift between builds: pin a few values (splitmix64 from
        // the seed, computed independently).
        assert_eq!(
            GEAR[..3],
            [
                0x008d_9be5_9c4c_8ec0,
                0x6183_e832_228c_4220,
                0xbf10_3504_ef09_26ca
            ]
        );
        let distinct: std::collections::HashSet<u64> = GEAR.iter().copied().collect();
        assert_eq!(distinct.len(), 256, "every byte has its own gear value");
        let c = ContentChunking::with_average(1024).expect("params");
        let data = noise(64 * 1024, 7);
        let cuts = c.cut_all(&data);
        assert_eq!(cuts.iter().sum::<u64>(), data.len() as u64);
        let again = c.cut_all(&data);
        assert_eq!(cuts, again, "deterministic");
    }

    #[test]
    fn sizes_follow_min_avg_max() {
        let c = ContentChunking::with_average(3000).expect("params");
        assert_eq!(
            (c.min(), c.avg(), c.max()),
            (1024, 2048, 4096),
            "rounded to 2^11"
        );
        assert!(ContentChunking::with_average(MIN_AVG - 1).is_none());
        let big = ContentChunking::with_average(2 * 1024 * 1024).expect("params");
        assert_eq!(
            (big.min(), big.avg(), big.max()),
            (1 << 20, 2 << 20, 4 << 20),
            "the default: 1 / 2 / 4 MiB"
        );
        let data = noise(2 * 1024 * 1024, 1);
        let cuts = c.cut_all(&data);
        assert_eq!(cuts.iter().sum::<u64>(), data.len() as u64);
        let (last, body) = cuts.split_last().expect("chunks");
        assert!(
            body.iter().all(|&n| (c.min()..=c.max()).contains(&n)),
            "every chunk but the last is min..=max"
        );
        assert!((1..=c.max()).contains(last));
        let mean = data.len() as f64 / cuts.len() as f64;
        assert!(
            (0.8 * c.avg() as f64..=1.6 * c.avg() as f64).contains(&mean),
            "chunks gather around avg: mean {mean}"
        );
        let forced = body.iter().filter(|&&n| n == c.max()).count();
        assert!(
            forced * 10 < cuts.len(),
            "few chunks are cut by the max rule: {forced} of {}",
            cuts.len()
        );
    }

    #[test]
    fn uniform_bytes_are_cut_alike() {
        // No content to go by (a zero-filled disk image): each chunk starts from the same state
        // and sees the same bytes, so all are cut at one length, at most `max`.
        let c = ContentChunking::with_average(1024).expect("params");
        let cuts = c.cut_all(&vec![0u8; 100_000]);
        let (_, body) = cuts.split_last().expect("chunks");
        assert!(body.windows(2).all(|w| w[0] == w[1]), "{cuts:?}");
        assert!(body[0] <= c.max() && body[0] >= c.min());
    }

    #[test]
    fn an_edit_changes_only_the_chunks_around_it() {
        let c = ContentChunking::with_average(1024).expect("params");
        let data = noise(256 * 1024, 3);
        let before = chunk_hashes(&c, &data);

        let mut edited = data.clone();
        edited[100_000] ^= 0xff;
        let after = chunk_hashes(&c, &edited);
        let new = after.iter().filter(|h| !before.contains(h)).count();
        assert!(
            new <= 2,
            "an in-place edit makes at most 2 new chunks, got {new}"
        );

        let mut inserted = noise(1000, 99);
        inserted.extend_from_slice(&data);
        let after = chunk_hashes(&c, &inserted);
        let new = after.iter().filter(|h| !before.contains(h)).count();
        assert!(
            new <= 2,
            "1000 bytes inserted at the start: {new} new chunks"
        );

        let mut appended = data.clone();
        appended.extend_from_slice(&noise(1000, 5));
        let after = chunk_hashes(&c, &appended);
        let new = after.iter().filter(|h| !before.contains(h)).count();
        assert!(new <= 2, "1000 bytes appended: {new} new chunks");
    }

    fn chunk_hashes(c: &ContentChunking, data: &[u8]) -> Vec<crate::hash::Digest> {
        let mut at = 0usize;
        c.cut_all(data)
            .into_iter()
            .map(|n| {
                let d = crate::hash::Digest::of(&data[at..at + n as usize]);
                at += n as usize;
                d
            })
            .collect()
    }

    /// The cut points of `data` as the algorithm states them, a byte at a time.
    fn reference_cuts(c: &ContentChunking, data: &[u8]) -> Vec<u64> {
        let mut cuts = Vec::new();
        let (mut len, mut h) = (0u64, 0u64);
        for &b in data {
            len += 1;
            if len <= c.min() {
                continue;
            }
            h = (h << 1).wrapping_add(GEAR[b as usize]);
            let mask = if len <= c.avg() {
                c.mask_small
            } else {
                c.mask_large
            };
            if h & mask == 0 || len == c.max() {
                cuts.push(len);
                len = 0;
                h = 0;
            }
        }
        if len > 0 {
            cuts.push(len);
        }
        cuts
    }

    #[test]
    fn the_cutter_cuts_where_the_byte_at_a_time_algorithm_does() {
        for avg in [64, 100, 1024, 4096, 65_536] {
            let c = ContentChunking::with_average(avg).expect("params");
            for seed in 1..6 {
                let data = noise(600_000, seed);
                let want = reference_cuts(&c, &data);
                assert!(want.len() > 4, "avg {avg}: {} cuts", want.len());
                assert_eq!(c.cut_all(&data), want, "avg {avg}, seed {seed}");
                // Fed in odd pieces too (rounds that straddle buffers).
                assert_eq!(cuts_of(&c, &data, &[1, 3, 7, 4093]), want);
            }
            // Bytes that make cuts frequent and rare: zeros (every hash the same run) and
            // a repeating short pattern.
            for data in [
                vec![0u8; 300_000],
                (0..300_000).map(|i| (i % 7) as u8).collect(),
            ] {
                assert_eq!(c.cut_all(&data), reference_cuts(&c, &data), "avg {avg}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// However the bytes arrive (one buffer, many small ones), they are cut at the same
        /// places.
        #[test]
        fn cuts_do_not_depend_on_how_bytes_are_fed(
            seed in 0u64..1000,
            len in 0usize..40_000,
            pieces in proptest::collection::vec(1usize..5000, 1..8),
            avg in 64u64..4096,
        ) {
            let c = ContentChunking::with_average(avg).expect("params");
            let data = noise(len, seed);
            let whole = cuts_of(&c, &data, &[usize::MAX]);
            let split = cuts_of(&c, &data, &pieces);
            proptest::prop_assert_eq!(&whole, &split);
            proptest::prop_assert_eq!(&whole, &c.cut_all(&data));
            proptest::prop_assert_eq!(&whole, &reference_cuts(&c, &data));
            proptest::prop_assert_eq!(whole.iter().sum::<u64>(), len as u64);
            if let Some((_, body)) = whole.split_last() {
                proptest::prop_assert!(body.iter().all(|&n| n >= c.min() && n <= c.max()));
            }
        }
    }
}
