//! The event bridge: the one task that listens to the backend and tells everyone else. Each
//! [`SyncEvent`] is emitted to the webview as [`SYNC_EVENT`], each new [`SyncStatus`] as
//! [`SYNC_STATUS`], and both refresh the tray; conflicts and errors that need the person raise a
//! desktop notification (routine syncs do not).
//!
//! Invariants: one bridge per app; it never polls (it awaits the broadcast and watch channels);
//! a lagging receiver skips events and says so in the log, it never blocks the backend.

use crate::i18n::{tr, Msg};
use std::sync::Arc;

use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::broadcast::error::RecvError;
use tunnel_core::error::ErrorCode;
use tunnel_core::events::{SyncEvent, SyncStatus};

use super::backend::DesktopBackend;
use super::tray::{self, TrayView};

/// Webview event carrying one [`SyncEvent`]. Mirrored in ui/js/events.js.
pub const SYNC_EVENT: &str = "sync://event";
/// Webview event carrying the latest [`SyncStatus`]. Mirrored in ui/js/events.js.
pub const SYNC_STATUS: &str = "sync://status";

/// Whether a failure with this code needs the person to act: those get a desktop
/// notification; transient ones (unreachable, retried) and ones nobody can fix from here do not.
fn needs_the_user(code: ErrorCode) -> bool {
    match code {
        ErrorCode::Auth
        | ErrorCode::Certificate
        | ErrorCode::Permission
        | ErrorCode::FolderMissing
        | ErrorCode::FolderReplaced
        | ErrorCode::Local
        | ErrorCode::MassDeletion => true,
        ErrorCode::NotFound
        | ErrorCode::Unreachable
        | ErrorCode::RemoteFormat
        | ErrorCode::Invalid
        | ErrorCode::NotConfigured
        | ErrorCode::Internal => false,
    }
}

/// Start the bridge on Tauri's async runtime. It ends when the backend's channels close.
pub fn spawn<R: Runtime>(app: AppHandle<R>, backend: Arc<dyn DesktopBackend>) {
    let mut events = backend.subscribe();
    let mut status = backend.status();
    tauri::async_runtime::spawn(async move {
        // The tray's "recent activity" line starts from the history kept across restarts.
        let mut recent: Option<String> = match backend.recent_activity(1).await {
            Ok(history) => history.first().and_then(|e| activity_line(&e.event)),
            Err(e) => {
                tracing::debug!(error = %e, "no activity history for the tray");
                None
            }
        };
        // Speak the language of the Settings (or the system's) from the first tray update on.
        match backend.settings().await {
            Ok(settings) => {
                crate::i18n::set_current(crate::i18n::locale::for_setting(settings.language))
            }
            Err(e) => tracing::debug!(error = %e, "no settings for the language; the system's"),
        }
        super::conflict_count::recount(&app, &*backend).await;
        let first = status.borrow_and_update().clone();
        publish_status(&app, &first, recent.as_deref());
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Ok(event) => {
                        if let Some(line) = activity_line(&event) {
                            recent = Some(line);
                        }
                        forward_event(&app, &event);
                        if super::conflict_count::changes_with(&event) {
                            super::conflict_count::recount(&app, &*backend).await;
                        }
                        let current = status.borrow().clone();
                        refresh_tray(&app, &current, recent.as_deref());
                    }
                    Err(RecvError::Lagged(skipped)) => {
                        tracing::warn!(skipped, "the event bridge fell behind; events skipped");
                    }
                    Err(RecvError::Closed) => break,
                },
                changed = status.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let current = status.borrow_and_update().clone();
                    publish_status(&app, &current, recent.as_deref());
                }
            }
        }
        tracing::info!("event bridge stopped: the backend closed its channels");
    });
}

fn forward_event<R: Runtime>(app: &AppHandle<R>, event: &SyncEvent) {
    if let Err(e) = app.emit(SYNC_EVENT, event) {
        tracing::warn!(error = %e, "could not forward a sync event to the window");
    }
    if let Some((title, body)) = notification_for(event) {
        notify(app, &title, &body);
    }
}

fn publish_status<R: Runtime>(app: &AppHandle<R>, status: &SyncStatus, recent: Option<&str>) {
    if let Err(e) = app.emit(SYNC_STATUS, status) {
        tracing::warn!(error = %e, "could not send the status to the window");
    }
    refresh_tray(app, status, recent);
}

fn refresh_tray<R: Runtime>(app: &AppHandle<R>, status: &SyncStatus, recent: Option<&str>) {
    let view =
        TrayView::from_status(status, recent).with_conflicts(super::conflict_count::get(app));
    // Tray calls must run on the main thread on some platforms.
    let handle = app.clone();
    let queued = app.run_on_main_thread(move || {
        if let Err(e) = tray::apply(&handle, view) {
            tracing::warn!(error = %e, "could not update the tray");
        }
    });
    if let Err(e) = queued {
        tracing::warn!(error = %e, "could not reach the main thread to update the tray");
    }
}

/// One line for the tray's "recent activity" entry.
fn activity_line(event: &SyncEvent) -> Option<String> {
    match event {
        SyncEvent::Uploaded { path, .. } => Some(tr(Msg::ActivitySent, &[("path", path)])),
        SyncEvent::Downloaded { path, .. } => Some(tr(Msg::ActivityReceived, &[("path", path)])),
        SyncEvent::Deleted { path, .. } => Some(tr(Msg::ActivityDeleted, &[("path", path)])),
        SyncEvent::Conflict { path, .. } => Some(tr(Msg::ActivityConflict, &[("path", path)])),
        SyncEvent::Failed { message, .. } => Some(tr(Msg::ActivityFailed, &[("message", message)])),
        SyncEvent::Started { .. } | SyncEvent::Progress { .. } | SyncEvent::Finished { .. } => None,
    }
}

/// The notification an event deserves, if any: conflicts and failures the person must fix.
fn notification_for(event: &SyncEvent) -> Option<(String, String)> {
    match event {
        SyncEvent::Conflict { folder, path, copy } => Some((
            tr(Msg::NoteConflictTitle, &[]),
            tr(
                Msg::NoteConflictBody,
                &[
                    ("path", path),
                    ("folder", &folder.display()),
                    ("copy", copy),
                ],
            ),
        )),
        SyncEvent::Failed {
            folder,
            message,
            code,
        } if needs_the_user(*code) => Some((
            tr(Msg::NoteStoppedTitle, &[("folder", &folder.display())]),
            message.clone(),
        )),
        _ => None,
    }
}

fn notify<R: Runtime>(app: &AppHandle<R>, title: &str, body: &str) {
    use tauri_plugin_notification::NotificationExt;
    // Registered by `run`; the mock-runtime tests run without it.
    if app
        .try_state::<tauri_plugin_notification::Notification<R>>()
        .is_none()
    {
        return;
    }
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        tracing::warn!(error = %e, "could not show a notification");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use tunnel_core::events::SyncSummary;

    #[test]
    fn only_conflicts_and_errors_that_need_the_user_notify() {
        let folder = PathBuf::from("/f");
        let failed = |code: ErrorCode| SyncEvent::Failed {
            folder: folder.clone(),
            message: "m".to_owned(),
            code,
        };
        assert!(
            notification_for(&failed(ErrorCode::Auth)).is_some(),
            "a refused password needs the user"
        );
        assert!(
            notification_for(&failed(ErrorCode::Unreachable)).is_none(),
            "offline is retried silently"
        );
        let conflict = SyncEvent::Conflict {
            folder: folder.clone(),
            path: "a".to_owned(),
            copy: "b".to_owned(),
        };
        assert!(notification_for(&conflict).is_some(), "conflicts notify");
        let finished = SyncEvent::Finished {
            folder,
            summary: SyncSummary::default(),
        };
        assert!(
            notification_for(&finished).is_none(),
            "routine syncs do not notify"
        );
    }
}
