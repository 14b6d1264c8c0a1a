//! Keeping a long-running service small. A sync of many files allocates maps of every entry
//! for a moment; glibc's allocator keeps what was freed (in one arena per busy thread) instead
//! of returning it, so an idle service would sit on the peak of its last sync. Two fixes, both
//! no-ops off glibc: fewer arenas from the start, and a trim after every sync.

/// Call first thing in `main`, before threads start: at most two malloc arenas.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator tunable; it is called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Hand the memory freed since the last call back to the operating system.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; any thread may call it.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn trimming_after_a_large_free_is_safe_and_repeatable() {
        let big: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 64 * 1024]).collect();
        drop(big);
        super::release_freed();
        super::release_freed();
        let again = vec![7u8; 1 << 20];
        assert_eq!(again.iter().map(|&b| b as usize).sum::<usize>(), 7 << 20);
    }
}
