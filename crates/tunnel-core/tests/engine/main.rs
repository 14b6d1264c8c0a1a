//! Engine-level reliability tests (issue 6): in-process devices (`Syncer` + journal + a
//! temporary folder) over one shared [`MemoryStore`].
//!
//! - `model`: the seeded three-device model test (random edits, renames, deletes, conflicts,
//!   concurrent syncs) with its convergence, rule and no-loss checks;
//! - `fuzz`: bounded-time mutation fuzzing of whole snapshot, delta and head documents;
//! - `hostile`: broken or malicious remote data written straight into the store;
//! - `fs_edges`: files and folders swapped for links between check and use, the local trash
//!   when it cannot take a file, names never synced here arriving from elsewhere;
//! - `delta`: big files cut by content (issue 16, item 5): an edit sends only the chunks
//!   around it, a device cutting at the chunk size reads them, a damaged chunk in a pack is
//!   refused, a pack stays while any chunk in it is referenced;
//! - `format`: the remote format's documents against the server's attachment limit (file
//!   lists cut into parts) and a format 1 page read and upgraded;
//! - `identity`: a synced folder replaced by another one, a head missing for one read, a
//!   wiped and rebuilt remote;
//! - `gc`: garbage collection never trashes what a person attached by hand, and a collector
//!   racing a device that restores deleted content loses nothing;
//! - `local`: local files that change while read or cannot be read, edits racing a download,
//!   normalisation and timestamp-granularity traps;
//! - `names`: names Windows refuses, reaching a device whose disk cannot hold them, and names
//!   that differ only in case, renamed on the page to a `(Case Conflict)` copy (issue 14);
//! - `no_change`: the no-change path (issue 15) answers only while nothing that shapes a plan
//!   changed; each reason to plan in full again, and its result;
//! - `restart`: an engine restarted with new settings publishes on the status and event
//!   channels its host created once, so readers subscribed before keep receiving;
//! - `selective`: excluded subtrees (issue 17): never downloaded or deleted remotely, copies
//!   removed here, local changes published first, others' renames and deletions kept;
//! - `trash`: the local trash keeps what another device's edit replaced or its deletion
//!   removed, with a record of why and whose change it was (issue 16);
//! - `type_change`: a folder replaced by a file (or back) on one device while another adds,
//!   edits or deletes inside it, in both sync orders.
//!
//! Every randomised test prints its seed when it fails; set `SBER_TUNNEL_SEED` to replay one.

mod delta;
mod format;
mod fs_edges;
mod fuzz;
mod gc;
mod history;
mod hostile;
mod identity;
mod local;
mod model;
mod names;
mod narrow;
mod no_change;
mod restart;
mod selective;
mod trash;
mod type_change;
mod util;
