//! The number of unresolved conflicts the tray shows: counted from the backend when the event
//! bridge starts, after a sync makes a conflict or ends having changed something (a copy
//! deleted by hand, one that arrived), and after each resolution (by the command, before the
//! sync of its folder refreshes the tray); kept in app state for [`super::event_bridge`]'s tray
//! refresh. A sync that changed nothing does not count again: listing reads a folder's whole
//! synced tree, and polls end every 30 s.

use std::sync::atomic::{AtomicUsize, Ordering};

use tauri::{AppHandle, Manager, Runtime};
use tunnel_core::events::SyncEvent;

use super::backend::DesktopBackend;

/// The last count (app state), and the lock that keeps counts in order: a recount lists and
/// stores under it, so a slow listing begun before a resolution cannot store its older count
/// after the resolution's (the event bridge and the command both recount).
#[derive(Default)]
pub struct ConflictCount {
    count: AtomicUsize,
    counting: tokio::sync::Mutex<()>,
}

/// The last count; 0 before the first one.
pub fn get<R: Runtime>(app: &AppHandle<R>) -> usize {
    app.try_state::<ConflictCount>()
        .map_or(0, |c| c.count.load(Ordering::Relaxed))
}

/// Whether `event` may change the count.
pub fn changes_with(event: &SyncEvent) -> bool {
    match event {
        SyncEvent::Finished { summary, .. } => {
            summary.uploaded
                + summary.downloaded
                + summary.deleted_local
                + summary.deleted_remote
                + summary.conflicts
                + summary.case_renamed
                > 0
        }
        SyncEvent::Conflict { .. } => true,
        SyncEvent::Started { .. }
        | SyncEvent::Progress { .. }
        | SyncEvent::Uploaded { .. }
        | SyncEvent::Downloaded { .. }
        | SyncEvent::Deleted { .. }
        | SyncEvent::Failed { .. } => false,
    }
}

/// Count again (a failure keeps the last count).
pub async fn recount<R: Runtime>(app: &AppHandle<R>, backend: &dyn DesktopBackend) {
    if app.try_state::<ConflictCount>().is_none() {
        app.manage(ConflictCount::default());
    }
    let Some(state) = app.try_state::<ConflictCount>() else {
        return;
    };
    let _in_order = state.counting.lock().await;
    match backend.conflicts().await {
        Ok(list) => state.count.store(list.len(), Ordering::Relaxed),
        Err(e) => tracing::debug!(error = %e, "could not count the conflicts"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_sync_that_changed_something_and_a_new_conflict_recount() {
        let folder = std::path::PathBuf::from("/f");
        assert!(
            !changes_with(&SyncEvent::Finished {
                folder: folder.clone(),
                summary: Default::default(),
            }),
            "a poll that changed nothing"
        );
        assert!(
            changes_with(&SyncEvent::Finished {
                folder: folder.clone(),
                summary: tunnel_core::events::SyncSummary {
                    deleted_remote: 1,
                    ..Default::default()
                },
            }),
            "a copy deleted by hand"
        );
        assert!(changes_with(&SyncEvent::Conflict {
            folder: folder.clone(),
            path: "a".into(),
            copy: "b".into(),
        }));
        assert!(!changes_with(&SyncEvent::Uploaded {
            folder,
            path: "a".into(),
            bytes: 1,
        }));
    }
}
