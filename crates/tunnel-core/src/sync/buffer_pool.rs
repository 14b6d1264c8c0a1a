//! Buffers handed from a finished transfer step to the next one of the same pass. With an
//! allocator that gives freed memory back at once (docs/benchmarks-scale.md, round 9), a buffer
//! allocated anew is memory the kernel faults in and zeroes page by page each time: a pack's
//! buffer per pack was a quarter of the client's CPU for one 1 GiB upload, two 1 MiB write
//! buffers per downloaded piece most of a 1 GiB download's page faults (issue 15). A pool
//! lives only as long as the pass (or file) that owns it.

use std::sync::{Arc, Mutex};

/// At most `KEEP` buffers kept for reuse; clones share them.
#[derive(Clone, Default)]
pub(crate) struct BufferPool<const KEEP: usize>(Arc<Mutex<Vec<Vec<u8>>>>);

impl<const KEEP: usize> BufferPool<KEEP> {
    /// Buffers kept at most.
    #[cfg(test)]
    pub(crate) const KEEP: usize = KEEP;

    /// A kept buffer (empty, with the room it had), if there is one.
    pub(crate) fn take(&self) -> Option<Vec<u8>> {
        self.0.lock().ok().and_then(|mut kept| kept.pop())
    }

    /// Keep `buf` (emptied) for a later step, unless `KEEP` are kept already.
    pub(crate) fn give(&self, mut buf: Vec<u8>) {
        buf.clear();
        if let Ok(mut kept) = self.0.lock() {
            if kept.len() < KEEP {
                kept.push(buf);
            }
        }
    }

    /// Buffers kept now.
    #[cfg(test)]
    pub(crate) fn kept(&self) -> usize {
        self.0.lock().map_or(0, |kept| kept.len())
    }

    /// Where each kept buffer's bytes are (to tell a kept buffer from a new one).
    #[cfg(test)]
    pub(crate) fn kept_at(&self) -> Vec<*const u8> {
        self.0.lock().map_or_else(
            |_| Vec::new(),
            |kept| kept.iter().map(|b| b.as_ptr()).collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_comes_back_emptied_with_its_room_and_no_more_than_keep_are_kept() {
        let pool: BufferPool<2> = BufferPool::default();
        assert!(pool.take().is_none());
        let mut a = Vec::with_capacity(1000);
        a.extend_from_slice(b"bytes");
        let at = a.as_ptr();
        pool.clone().give(a);
        pool.give(Vec::with_capacity(10));
        pool.give(Vec::with_capacity(20));
        assert_eq!(pool.kept(), 2, "a third is let go");
        let _ = pool.take();
        let back = pool.take().expect("the first one");
        assert_eq!(back.as_ptr(), at);
        assert!(back.is_empty() && back.capacity() >= 1000);
        assert_eq!(pool.kept(), 0);
    }
}
