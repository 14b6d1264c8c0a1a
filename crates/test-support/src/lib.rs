//! Helpers shared by the workspace's test suites, and only by them (every user lists this crate
//! under `[dev-dependencies]`; nothing shipped links it):
//! - [`tree`]: a folder as a map of relative path → content, leftover temporary files, a file
//!   grown while it is read;
//! - [`seed`]: seeds of randomised tests (`SBER_TUNNEL_SEED`), a small generator, test data;
//! - [`wait`]: waiting for something another thread or process brings about;
//! - [`time_text`]: an instant written as RFC 3339, as `restore --at` reads it;
//! - `cli` (feature `cli`): an emulator per test and devices that run the real `sber-tunnel`
//!   binary.

#[cfg(feature = "cli")]
pub mod cli;
pub mod seed;
pub mod time_text;
pub mod tree;
pub mod wait;
