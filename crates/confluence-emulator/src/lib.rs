//! A Confluence Server/Data Center compatible REST server for tests and demos.
//!
//! It reproduces the behaviour the sber-tunnel client depends on, as documented in
//! `confluence-api.md`: pages, attachments (multipart create, `/data` versions, metadata PUT,
//! trash and purge, version history), the download servlet with ranges, content properties with
//! compare-and-swap, Basic/Bearer authentication with Confluence's failure modes, XSRF rules,
//! size limits, DC rate limiting, mutual TLS and deterministic fault injection.
//!
//! Tests start it with [`Emulator::builder`] on `127.0.0.1:0` and talk to it over a real socket.
//! It shares no types with the client crate: its wire shapes come from the documentation.
//!
//! ```no_run
//! # async fn demo() -> Result<(), confluence_emulator::EmulatorError> {
//! use confluence_emulator::{Emulator, FaultKind, ScriptedFault};
//! let emu = Emulator::builder()
//!     .user("alice", "secret")
//!     .page("12345")
//!     .context_path("/confluence")
//!     .spawn()
//!     .await?;
//! // e.g. http://127.0.0.1:41234/confluence
//! let base = emu.base_url();
//! emu.fail_next(ScriptedFault::new(Some("POST"), "/child/attachment", FaultKind::DropAfterStore, 1));
//! # let _ = base;
//! emu.shutdown().await;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod auth;
pub mod faults;
mod link;
pub mod model;
pub mod render;
pub mod restrictions;
mod routes;
pub mod spawn;
pub mod store;
#[cfg(feature = "tls")]
pub mod testcerts;
pub mod tls;

pub use faults::{FaultConfig, FaultKind, ForeignBody, RateLimit, ScriptedFault};
pub use link::LinkStats;
pub use spawn::{
    AttachmentSnapshot, Emulator, EmulatorBuilder, EmulatorError, EmulatorHandle, LoggedRequest,
    Notification, NotificationKind, VersionSnapshot,
};
pub use tls::TlsConfig;
