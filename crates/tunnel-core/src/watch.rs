//! Local change detection: notify events for a folder become "folder N is dirty" messages.
//! Our own temporary files and hidden names are ignored. When the OS limit on watches is
//! reached (inotify's `max_user_watches`), the folder falls back to polling and says so.
//! Debouncing (a burst of writes → one sync after a quiet period) is the engine's job.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{Event, EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::ids::FolderId;

pub use crate::events::WatchMode;

/// Keeps a folder watched while alive.
pub struct FolderWatcher {
    _watcher: Box<dyn Watcher + Send>,
    /// How the folder is watched.
    pub mode: WatchMode,
}

impl std::fmt::Debug for FolderWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolderWatcher")
            .field("mode", &self.mode)
            .finish()
    }
}

/// Interval of the polling fallback.
pub const POLL_FALLBACK_INTERVAL: Duration = Duration::from_secs(15);

/// Whether an event path is worth a sync (not our temp files, not hidden names).
pub fn is_relevant(root: &Path, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(root) else {
        return false;
    };
    !rel.components().any(|c| {
        let s = c.as_os_str().to_string_lossy();
        s.starts_with('.')
    })
}

/// Watch `root` recursively; each relevant change sends `id` on `tx`. `Native` tries native
/// notifications first and falls back to polling; `Polling` polls from the start.
pub fn watch_folder(
    id: FolderId,
    root: &Path,
    tx: mpsc::UnboundedSender<FolderId>,
    wanted: WatchMode,
) -> Result<FolderWatcher, notify::Error> {
    if wanted == WatchMode::Polling {
        return poll_folder(id, root, tx);
    }
    let handler = make_handler(id, root.to_path_buf(), tx.clone());
    match notify::recommended_watcher(handler) {
        Ok(mut w) => match w.watch(root, RecursiveMode::Recursive) {
            Ok(()) => {
                return Ok(FolderWatcher {
                    _watcher: Box::new(w),
                    mode: WatchMode::Native,
                })
            }
            Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
                warn!(folder = %root.display(), "the system's limit on watched folders is reached; polling this folder every {}s instead (raise fs.inotify.max_user_watches to avoid this)", POLL_FALLBACK_INTERVAL.as_secs());
            }
            Err(e) => {
                warn!(folder = %root.display(), error = %e, "cannot watch this folder natively; polling it instead");
            }
        },
        Err(e) => warn!(error = %e, "native file watching unavailable; polling instead"),
    }
    poll_folder(id, root, tx)
}

fn poll_folder(
    id: FolderId,
    root: &Path,
    tx: mpsc::UnboundedSender<FolderId>,
) -> Result<FolderWatcher, notify::Error> {
    let handler = make_handler(id, root.to_path_buf(), tx);
    let mut w = notify::PollWatcher::new(
        handler,
        notify::Config::default().with_poll_interval(POLL_FALLBACK_INTERVAL),
    )?;
    w.watch(root, RecursiveMode::Recursive)?;
    Ok(FolderWatcher {
        _watcher: Box::new(w),
        mode: WatchMode::Polling,
    })
}

fn make_handler(
    id: FolderId,
    root: PathBuf,
    tx: mpsc::UnboundedSender<FolderId>,
) -> impl FnMut(notify::Result<Event>) + Send + 'static {
    move |res: notify::Result<Event>| match res {
        Ok(event) => {
            if matches!(event.kind, EventKind::Access(_)) {
                return;
            }
            if event.paths.iter().any(|p| is_relevant(&root, p)) {
                let _ = tx.send(id);
            }
        }
        Err(e) => debug!(error = %e, "watch error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_and_temporary_names_are_not_relevant() {
        let root = Path::new("/r");
        assert!(is_relevant(root, Path::new("/r/a/b.txt")));
        assert!(
            !is_relevant(root, Path::new("/r/.sbt-123.partial")),
            "our own temp files"
        );
        assert!(
            !is_relevant(root, Path::new("/r/.git/index")),
            "hidden folders"
        );
        assert!(
            !is_relevant(root, Path::new("/elsewhere/x")),
            "outside the root"
        );
    }

    #[tokio::test]
    async fn a_write_in_a_watched_folder_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let w = watch_folder(FolderId::new(7), dir.path(), tx, WatchMode::Native).unwrap();
        assert_eq!(w.mode, WatchMode::Native);
        std::fs::write(dir.path().join("new.txt"), b"x").unwrap();
        let got = tokio::time::timeout(Duration::from_secs(20), rx.recv()).await;
        assert_eq!(
            got.ok().flatten(),
            Some(FolderId::new(7)),
            "the folder id arrives after a write"
        );
    }

    #[tokio::test]
    async fn a_polled_folder_reports_a_write_too() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("old.txt"), b"x").unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let w = watch_folder(FolderId::new(8), dir.path(), tx, WatchMode::Polling).unwrap();
        assert_eq!(w.mode, WatchMode::Polling);
        std::fs::write(dir.path().join("new.txt"), b"y").unwrap();
        let wait = POLL_FALLBACK_INTERVAL * 3;
        let got = tokio::time::timeout(wait, rx.recv()).await;
        assert_eq!(
            got.ok().flatten(),
            Some(FolderId::new(8)),
            "found by the next listing"
        );
    }
}
