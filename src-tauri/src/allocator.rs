//! Keeping a long-running service small. A sync of many files allocates maps of every entry
//! for a moment; an allocator that keeps what was freed instead of returning it leaves an idle
//! service sitting on the peak of its last sync, and one that fragments holds more than the
//! sync's live heap at that peak.
//!
//! Outside Windows the program's allocator is mimalloc (issue 15: glibc's held 15-25 MB more
//! than the live heap in a sync of 100,000 files; see docs/benchmarks-scale.md, round 9), and
//! after every sync it hands back what it freed. The C libraries (SQLite, OpenSSL) still use
//! the C allocator: on glibc, fewer arenas from the start and a trim after every sync.

/// mimalloc, the program's allocator outside Windows.
#[cfg(not(windows))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `arena_eager_commit` option.
#[cfg(not(windows))]
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
/// mimalloc's `purge_delay` option: how long freed memory is kept before it goes back.
#[cfg(not(windows))]
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc's options, set before the program's first allocation: mimalloc reserves its first
/// arena then, committed up front on Linux unless told otherwise, and what it frees there went
/// back to the system late or not at all; and it keeps freed pages 10 ms (100 ms in arenas)
/// before it purges them, while a sync frees maps of 100,000 entries and builds the next. Set
/// in `main`, the arena option came too late (the runtime allocates before `main`): a sync
/// answered from its mark peaked at 41 MB, the first sync of 100,000 files at 79 MB; set here,
/// at 31 and 67 MB (docs/benchmarks-scale.md, round 9).
#[cfg(not(windows))]
extern "C" fn set_allocator_options() {
    // SAFETY: mi_option_set only stores a value in mimalloc's option table (static data, no
    // allocation), which it reads when it reserves an arena or purges.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

/// Runs [`set_allocator_options`] with the program's constructors, before the runtime starts.
#[cfg(any(target_os = "linux", target_os = "macos"))]
#[used]
#[cfg_attr(target_os = "linux", link_section = ".init_array")]
#[cfg_attr(target_os = "macos", link_section = "__DATA,__mod_init_func")]
static SET_ALLOCATOR_OPTIONS: extern "C" fn() = set_allocator_options;

/// Call first thing in `main`, before threads start: mimalloc's options (where no constructor
/// set them already), and at most two malloc arenas for the C libraries.
pub fn limit_arenas() {
    #[cfg(all(not(windows), not(any(target_os = "linux", target_os = "macos"))))]
    set_allocator_options();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator tunable; it is called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Hand the memory freed since the last call back to the operating system.
pub fn release_freed() {
    #[cfg(not(windows))]
    // SAFETY: mi_collect only walks mimalloc's own free pages; any thread may call it.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; any thread may call it.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    /// The constructor ran before this test's first allocation: mimalloc purges at once and
    /// commits its arenas on demand (the defaults are 10 ms and up front).
    #[cfg(not(windows))]
    #[test]
    fn mimalloc_purges_at_once_and_commits_arenas_on_demand() {
        // SAFETY: mi_option_get only reads mimalloc's option table.
        let (purge, eager) = unsafe {
            (
                libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY),
                libmimalloc_sys::mi_option_get(super::MI_OPTION_ARENA_EAGER_COMMIT),
            )
        };
        assert_eq!((purge, eager), (0, 0));
    }

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
