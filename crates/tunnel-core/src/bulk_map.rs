//! Building a large `BTreeMap` with full nodes and little beside it (issue 15).
//!
//! A map grown entry by entry has nodes about half full; one collected from a list has full
//! nodes, a third less memory, but the list and the room its sort takes are half again the
//! map beside it while it is built. [`BulkMap`] takes the middle way: entries gather in
//! batches of about an eighth of the expected count, and each batch is merged into the map
//! (`BTreeMap::append` rebuilds it with full nodes, letting go of the old ones as it goes).
//! Costs a few passes over the map; holds at most one batch beside it.

use std::collections::BTreeMap;

/// The smallest batch: below it, the passes cost more than the batch saves.
const MIN_BATCH: usize = 4096;

/// A map built in batches (see the module docs). Entries may come in any order; an entry
/// whose key came before replaces it, as `insert` would.
pub struct BulkMap<K: Ord, V> {
    map: BTreeMap<K, V>,
    batch: Vec<(K, V)>,
    size: usize,
    #[cfg(test)]
    merges: usize,
}

impl<K: Ord, V> BulkMap<K, V> {
    /// A builder for about `expected` entries.
    pub fn with_expected(expected: usize) -> Self {
        let size = (expected / 8).max(MIN_BATCH);
        BulkMap {
            map: BTreeMap::new(),
            batch: Vec::with_capacity(size.min(expected.max(1))),
            size,
            #[cfg(test)]
            merges: 0,
        }
    }

    /// Add an entry.
    pub fn push(&mut self, key: K, value: V) {
        self.batch.push((key, value));
        if self.batch.len() >= self.size {
            self.merge();
            self.batch.reserve_exact(self.size);
        }
    }

    fn merge(&mut self) {
        // Collected in place (the batch's own buffer), sorted, built with full nodes.
        let mut part: BTreeMap<K, V> = std::mem::take(&mut self.batch).into_iter().collect();
        self.map.append(&mut part);
        // A map that outgrows what was expected (a scan without a cache to count its files
        // by) takes batches of an eighth of itself: each merge passes over the whole map, so
        // batches of a fixed size would cost passes in proportion to the square of its size.
        self.size = self.size.max(self.map.len() / 8);
        #[cfg(test)]
        {
            self.merges += 1;
        }
    }

    /// The map.
    pub fn finish(mut self) -> BTreeMap<K, V> {
        self.merge();
        self.map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_built_in_batches_is_the_map_inserts_build() {
        for n in [0usize, 1, 4095, 4096, 4097, 40_000] {
            let mut bulk = BulkMap::with_expected(n / 2);
            let mut plain = BTreeMap::new();
            // Scattered keys, each written twice: the later value wins, as with `insert`.
            for round in 0..2u64 {
                for i in 0..n as u64 {
                    let key = (i * 7_919) % (n as u64).max(1);
                    bulk.push(key, (round, i));
                    plain.insert(key, (round, i));
                }
            }
            assert_eq!(bulk.finish(), plain, "{n} keys");
        }
    }

    #[test]
    fn a_map_far_larger_than_expected_is_merged_in_growing_batches() {
        // No count to go by (a scan without a cache): 300,000 entries in batches of the
        // smallest size would be 73 merges, each a pass over the whole map.
        let n = 300_000u64;
        let mut bulk = BulkMap::with_expected(0);
        for i in 0..n {
            bulk.push((i * 7_919) % n, i);
        }
        assert!(bulk.merges < 30, "{} merges", bulk.merges);
        let map = bulk.finish();
        assert_eq!(map.len(), n as usize);
        assert!(map.iter().all(|(k, v)| (v * 7_919) % n == *k));
    }
}
