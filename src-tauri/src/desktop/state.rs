//! `AppState`: the one value the shell registers with Tauri. It holds the backend handle and
//! nothing else (no locks, no maps): every command is a call on the backend.

use std::sync::Arc;

use super::backend::DesktopBackend;

/// Registered once in `setup`; commands take it as `State<'_, AppState>`.
pub struct AppState {
    /// The service the shell fronts (the real one, or the fake in tests and UI work).
    pub backend: Arc<dyn DesktopBackend>,
}
