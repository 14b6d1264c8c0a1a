//! Engine-level reliability tests (issue 6): in-process devices (`Syncer` + journal + a
//! temporary folder) over one shared [`MemoryStore`].
//!
//! - `model`: the seeded three-device model test (random edits, renames, deletes, conflicts,
//!   concurrent syncs) with its convergence, rule and no-loss checks;
//! - `fuzz`: bounded-time mutation fuzzing of whole snapshot, delta and head documents;
//! - `hostile`: broken or malicious remote data written straight into the store;
//! - `gc`: garbage collection never trashes what a person attached by hand, and a collector
//!   racing a device that restores deleted content loses nothing;
//! - `local`: local files that change while read or cannot be read, edits racing a download,
//!   normalisation and timestamp-granularity traps.
//!
//! Every randomised test prints its seed when it fails; set `SBER_TUNNEL_SEED` to replay one.

mod fuzz;
mod gc;
mod hostile;
mod local;
mod model;
mod util;
