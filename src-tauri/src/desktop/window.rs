//! The settings window's life: closing it hides it (the app lives on in the tray), the tray and
//! a second launch (single instance) bring it back and focus it, optionally on a given tab.

use tauri::{AppHandle, Emitter, Manager, Runtime, Window, WindowEvent};

/// The settings window's label (also named by the capability).
pub const MAIN_WINDOW: &str = "main";

/// Event asking the UI to switch to a tab (payload: the tab name). Mirrored in ui/js/events.js.
pub const NAVIGATE_EVENT: &str = "app://navigate";

/// Show, un-minimise and focus the settings window; switch to `tab` when given.
pub fn show_main<R: Runtime>(app: &AppHandle<R>, tab: Option<&str>) {
    let Some(window) = app.get_webview_window(MAIN_WINDOW) else {
        tracing::warn!("the settings window is gone");
        return;
    };
    let shown = window
        .show()
        .and_then(|()| window.unminimize())
        .and_then(|()| window.set_focus());
    if let Err(e) = shown {
        tracing::warn!(error = %e, "could not show the settings window");
    }
    if let Some(tab) = tab {
        if let Err(e) = window.emit(NAVIGATE_EVENT, tab) {
            tracing::warn!(error = %e, "could not switch the settings tab");
        }
    }
}

/// Window event hook: closing the settings window hides it instead of quitting.
pub fn on_window_event<R: Runtime>(window: &Window<R>, event: &WindowEvent) {
    if let WindowEvent::CloseRequested { api, .. } = event {
        if window.label() == MAIN_WINDOW {
            api.prevent_close();
            if let Err(e) = window.hide() {
                tracing::warn!(error = %e, "could not hide the settings window");
            }
        }
    }
}
