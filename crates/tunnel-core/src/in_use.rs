//! "In use by another program": a file another program holds open without sharing it (Office
//! keeps an open document locked on Windows) or has a byte range of locked.
//!
//! Such a file is neither deleted nor changed: the scan keeps it out of the plan (like any
//! unreadable file, so its absence from the scan is never read as a deletion), the upload and
//! download passes leave it for the next sync, and the sync summary lists it by name
//! ([`crate::events::SyncSummary::in_use`]) so the user knows which document to close.
//!
//! The classification is a pure function of the error: on Windows, `ERROR_SHARING_VIOLATION`
//! (32) and `ERROR_LOCK_VIOLATION` (33). Unix has no mandatory sharing modes (a file open
//! elsewhere can always be read and replaced), so nothing is "in use" there; tests on every
//! platform inject the condition with an [`InUse`] error.

use std::io;
use std::path::PathBuf;

/// `ERROR_SHARING_VIOLATION`: opened by another program that does not share it.
pub const ERROR_SHARING_VIOLATION: i32 = 32;
/// `ERROR_LOCK_VIOLATION`: a byte range of it is locked by another program.
pub const ERROR_LOCK_VIOLATION: i32 = 33;

/// What the summary and the logs say about such a file.
pub const IN_USE_REASON: &str = "in use by another program; tried again on the next sync";

/// An "in use" condition met without an OS error code: injected by tests, or found by a probe.
#[derive(Debug, thiserror::Error)]
#[error("{} is in use by another program", path.display())]
pub struct InUse {
    /// The file.
    pub path: PathBuf,
}

impl InUse {
    /// The [`io::Error`] carrying it.
    pub fn into_io(self) -> io::Error {
        io::Error::other(self)
    }
}

/// Whether a Windows error code means "in use by another program".
pub fn is_in_use_code(code: i32) -> bool {
    code == ERROR_SHARING_VIOLATION || code == ERROR_LOCK_VIOLATION
}

/// Whether `err` means that another program holds the file (see the module documentation).
pub fn is_in_use(err: &io::Error) -> bool {
    if err
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<InUse>().is_some())
    {
        return true;
    }
    if cfg!(windows) {
        err.raw_os_error().is_some_and(is_in_use_code)
    } else {
        false
    }
}

/// Test injection: files that act as if another program held them (checked where a file is
/// opened, replaced or moved, see `fs_safe`). Keyed by full path, so tests running in parallel
/// in their own temporary folders do not meet each other's.
#[cfg(test)]
pub(crate) mod inject {
    use std::collections::HashSet;
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    static HELD: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

    /// Act as if another program held `path` until [`release`].
    pub(crate) fn hold(path: &Path) {
        if let Ok(mut held) = HELD.lock() {
            held.get_or_insert_with(HashSet::new)
                .insert(path.to_path_buf());
        }
    }

    /// Let `path` go.
    pub(crate) fn release(path: &Path) {
        if let Ok(mut held) = HELD.lock() {
            if let Some(set) = held.as_mut() {
                set.remove(path);
            }
        }
    }

    /// An [`super::InUse`] error when `path` is held.
    pub(crate) fn check(path: &Path) -> std::io::Result<()> {
        let held = HELD
            .lock()
            .map(|h| h.as_ref().is_some_and(|s| s.contains(path)))
            .unwrap_or(false);
        if held {
            Err(super::InUse {
                path: path.to_path_buf(),
            }
            .into_io())
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sharing_and_lock_violations_are_in_use_and_nothing_else_is() {
        for code in 0..2000 {
            assert_eq!(
                is_in_use_code(code),
                code == 32 || code == 33,
                "Windows error {code}"
            );
        }
        // ERROR_ACCESS_DENIED (5) is a permission problem, not a lock.
        assert!(!is_in_use_code(5));
    }

    #[test]
    fn os_errors_are_judged_by_platform() {
        let sharing = io::Error::from_raw_os_error(ERROR_SHARING_VIOLATION);
        let lock = io::Error::from_raw_os_error(ERROR_LOCK_VIOLATION);
        // On Unix 32 is EPIPE and 33 EDOM: nothing to do with a file held elsewhere.
        assert_eq!(is_in_use(&sharing), cfg!(windows));
        assert_eq!(is_in_use(&lock), cfg!(windows));
        assert!(!is_in_use(&io::Error::from(
            io::ErrorKind::PermissionDenied
        )));
        assert!(!is_in_use(&io::Error::from(io::ErrorKind::NotFound)));
        assert!(!is_in_use(&io::Error::other("something else")));
    }

    #[test]
    fn an_injected_in_use_error_is_in_use_everywhere() {
        let e = InUse {
            path: PathBuf::from("report.docx"),
        }
        .into_io();
        assert!(is_in_use(&e));
        assert!(e.to_string().contains("in use by another program"), "{e}");
    }
}
