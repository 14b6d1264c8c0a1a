//! Reliability and security suite (issue 6), driving the real `sber-tunnel` binary as devices
//! against the Confluence emulator:
//! - `crash`: kill -9 of `sber-tunnel --cli sync` at seeded random moments, then recovery;
//! - `faults`: server faults (5xx, 429, resets, truncation, slowness, restarts);
//! - `local`: local trouble (unreadable files, a folder removed while syncing);
//! - `secrets`: no password or token in logs, output, config or process arguments.
//!
//! Engine-level tests (the three-device model, hostile remote data) live in
//! `crates/tunnel-core/tests/engine`. See docs/reliability.md for the long runs.

mod common;
mod crash;
mod faults;
mod local;
mod secrets;
