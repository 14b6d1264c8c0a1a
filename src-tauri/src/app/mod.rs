//! The application layer: the one layer both faces — the command line (`cli/`) and the desktop
//! app (`desktop/`) — call, so that each job is written once and the faces only translate
//! arguments and results.
//!
//! - [`opened_config`]: an opened configuration (paths, config file, journal, secrets), and
//!   folders tracked and untracked through it.
//! - [`connection`]: saving a connection (settings built, page probed, config and secrets
//!   written) and the connection settings of a saved configuration.
//! - [`engine_host`]: hosting the sync engine — the single-instance lock, the engine's settings
//!   and channels, the headless service.
//! - [`control`]: the control channel of a running service (protocol here, transport per
//!   platform: Unix socket, Windows named pipe).
//! - [`page_privacy`]: who besides the user may view and edit a page; making it private.
//! - [`app_error`]: the one error type both faces report, with its code from tunnel-core's
//!   `ErrorCode`.
//! - [`runtime`]: the process's tokio runtime.
//! - [`selective`]: a folder's selective-sync choice, as the desktop app reads and changes it.
//! - [`page_care`]: the token-expiry warning and what each folder's page holds.
//! - [`ignore_rules`]: the global and per-folder ignore rules, presets and their preview.
//! - [`versions`]: the desktop's Versions view over the page's history, and its restores.
//! - [`trash_view`]: the desktop's Trash view over each folder's local trash (shared with the
//!   command line's `trash`).
//!
//! Nothing here knows about Tauri or clap.

pub mod app_error;
pub mod connection;
pub mod control;
pub mod engine_host;
pub mod ignore_rules;
pub mod opened_config;
pub mod page_care;
pub mod page_privacy;
pub mod runtime;
// The desktop app's (the command line calls tunnel_core::selective itself); the headless
// test build compiles the real backend, which calls it, without the shell.
#[cfg_attr(not(feature = "gui"), allow(dead_code))]
pub mod selective;
// The desktop app's Versions view (the command line has its own `history` and `restore`).
#[cfg_attr(not(feature = "gui"), allow(dead_code))]
pub mod versions;
// The desktop app's Trash view; `folder_items` is the command line's too.
#[cfg_attr(not(feature = "gui"), allow(dead_code))]
pub mod trash_view;
