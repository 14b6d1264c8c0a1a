//! The sber-tunnel sync engine.
//!
//! Folders on several devices converge through one remote store (a Confluence page in
//! production, see `tunnel-confluence`). This crate holds everything that is not HTTP and not
//! GUI: the validated path type, the remote manifest format, the SQLite journal (the merge
//! base), the local scanner, the pure reconciler and the executor that carries out its plan.
//!
//! Invariants kept across the crate:
//! - only a [`rel_path::RelPath`] ever reaches a file-system write, so nothing is written
//!   outside a synced folder, and every write, rename and read below a folder's root goes
//!   through [`fs_safe`], which never follows a symbolic link there;
//! - every byte that arrives from the remote is checked against its SHA-256 before it is
//!   renamed into place;
//! - the journal's synced tree (the merge base) is written only after a file is verified on
//!   both sides.
#![warn(missing_docs)]

pub mod activity;
mod bulk_map;
pub mod chunk;
pub mod clock;
pub mod config;
pub mod conflicts;
pub mod engine;
mod engine_settings;
pub mod error;
pub mod events;
pub mod fs_safe;
pub mod hash;
pub mod ids;
pub mod ignore_rules;
pub mod in_use;
pub mod journal;
pub mod lang;
pub mod local_time;
pub mod manifest;
pub mod name_rules;
pub mod paths;
pub mod plan;
pub mod private_file;
pub mod progress;
pub mod rel_path;
pub mod remote;
pub mod scan;
pub mod schedule;
pub mod secrets;
pub mod selective;
pub mod sync;
pub mod token_notice;
pub mod upload_limit;
pub mod watch;
