//! The number of unresolved conflicts the tray shows: counted from the backend when the event
//! bridge starts and again after each folder sync ends or makes a conflict (a resolution ends
//! with a sync of its folder), kept in app state for [`super::event_bridge`]'s tray refresh.

use std::sync::atomic::{AtomicUsize, Ordering};

use tauri::{AppHandle, Manager, Runtime};
use tunnel_core::events::SyncEvent;

use super::backend::DesktopBackend;

/// The last count (app state).
#[derive(Default)]
pub struct ConflictCount(AtomicUsize);

/// The last count; 0 before the first one.
pub fn get<R: Runtime>(app: &AppHandle<R>) -> usize {
    app.try_state::<ConflictCount>()
        .map_or(0, |c| c.0.load(Ordering::Relaxed))
}

/// Whether `event` may change the count.
pub fn changes_with(event: &SyncEvent) -> bool {
    match event {
        SyncEvent::Finished { .. } | SyncEvent::Conflict { .. } => true,
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
    match backend.conflicts().await {
        Ok(list) => {
            if let Some(c) = app.try_state::<ConflictCount>() {
                c.0.store(list.len(), Ordering::Relaxed);
            }
        }
        Err(e) => tracing::debug!(error = %e, "could not count the conflicts"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_end_of_a_sync_and_a_new_conflict_recount() {
        let folder = std::path::PathBuf::from("/f");
        assert!(changes_with(&SyncEvent::Finished {
            folder: folder.clone(),
            summary: Default::default(),
        }));
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
