//! Engine-level reliability tests (issue 6): in-process devices (`Syncer` + journal + a
//! temporary folder) over one shared [`MemoryStore`].
//!
//! - `model`: the seeded three-device model test (random edits, renames, deletes, conflicts,
//!   concurrent syncs) with its convergence, rule and no-loss checks;
//! - `fuzz`: bounded-time mutation fuzzing of whole snapshot, delta and head documents;
//! - `hostile`: broken or malicious remote data written straight into the store;
//! - `local`: local files that change while read or cannot be read, edits racing a download,
//!   normalisation and timestamp-granularity traps;
//! - `type_change`: a folder replaced by a file (or back) on one device while another adds,
//!   edits or deletes inside it, in both sync orders.
//!
//! Every randomised test prints its seed when it fails; set `SBER_TUNNEL_SEED` to replay one.

mod fuzz;
mod hostile;
mod local;
mod model;
mod type_change;
mod util;
