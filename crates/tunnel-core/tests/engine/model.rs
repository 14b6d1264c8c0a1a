//! The seeded three-device model test.
//!
//! Three devices share one [`MemoryStore`]. Between syncs they create, edit, delete and rename
//! files, make conflicting edits of the same file, and change types: a folder (at any depth)
//! replaced by a file, a file replaced by a folder with files inside (nested too), often while
//! another device adds or edits inside the same folder or edits the same file; writing below a
//! path that is a file replaces that file by a folder too. Devices other than the first also
//! exclude subtrees from this device and include them again (selective sync, issue 17: nested,
//! covered and not-yet-existing paths, while they or others write inside them, rename them
//! away or delete them). Some syncs run concurrently. Every
//! written content is unique (it starts with a `<device#n>` tag), so the test knows who wrote
//! every byte. Checked:
//! - at every checkpoint and at the end, every device holds the first device's tree (which
//!   excludes nothing) minus what it excludes, and nothing inside what it excludes, with no
//!   leftover temporary file; once every device includes everything again, all hold the same
//!   tree;
//! - every file holds, byte for byte, content that some device wrote;
//! - no content is lost: every written content that no user overwrote or deleted on some
//!   device is still somewhere in the final tree (conflict copies included);
//! - the rules, at checkpoints with controlled modification times: the later write wins and
//!   the loser is kept as `… (conflict from LOSER …)`; an edit beats a concurrent delete;
//! - once converged, another round of syncs changes nothing, and a new device receives the
//!   same tree.
//!
//! - history (issue 16): at random moments while the devices work, a random recorded past
//!   state of the whole folder is restored into another folder by a random device and must be
//!   exactly the tree recorded then (the first device collects garbage at once, so a retained
//!   version whose blobs were collected would show); at some checkpoints the first device
//!   restores a past state into place, and once converged every device holds that state.
//!
//! - delta upload (issue 16, item 5): files above 4 KiB are cut by content (the test settings'
//!   chunk size of 4 KiB makes content-defined chunks of 1 to 4 KiB); now and then such a file
//!   is edited the way big files are — one byte changed in place, 1 KiB inserted at its start
//!   or appended — so its new version shares most chunks with the page's, on every device.
//!
//! - new files left unhashed by the scan (issue 15, `hash_later`): most new files are hashed
//!   by their upload; now and then the same new file is saved on two devices before either
//!   syncs, and 64-byte writes share their size with most files, so the rules that make the
//!   scan hash a file (a name or a size the other sides know) are exercised too. A new file
//!   cut by content (over 4 KiB) is read, hashed and packed by its upload in one pass
//!   (`upload_stream`, counted in `streamed`): now and then a big file is saved under a new
//!   name, often an edited copy of another, whose chunks the upload finds on the page.
//!
//! - the no-change path (issue 15): every device checks each "nothing to do" it answers
//!   from its clean mark against the full path's plan (`util::Device`); the stats count how
//!   often a mark was compared and how often it answered.
//!
//! - the narrow path (issue 15): every narrow plan is checked against the full path's plan
//!   (`util::Device`); now and then a device its service keeps in sync (files not modified
//!   just now, synced until nothing is left) saves a big file, often an edited copy of one
//!   another device sent, and syncs narrowly: its upload finds the copied chunks outside the
//!   narrow tree (`narrow_found_outside`).
//!
//! `SBER_TUNNEL_MODEL_OPS` sets the number of user operations (default 1,000);
//! `SBER_TUNNEL_SEED` replays a seed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tunnel_core::name_rules::NameRules;
use tunnel_core::rel_path::RelPath;
use tunnel_core::remote::memory::MemoryStore;
use tunnel_core::selective;
use tunnel_core::sync::{RestoreTarget, VersionPick};

use crate::util::{env_num, runtime, seed, stray_hidden, Device};

const POOL: &[&str] = &[
    "a.txt",
    "b.txt",
    "c.bin",
    "g.md",
    "h.txt",
    "docs/d.txt",
    "docs/e.txt",
    "docs/deep/f.txt",
];

/// Prints the seed when the test panics.
struct SeedGuard(u64);
impl Drop for SeedGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("model test failed; replay with SBER_TUNNEL_SEED={}", self.0);
        }
    }
}

#[derive(Default, Debug)]
struct Stats {
    ops: u64,
    syncs: u64,
    concurrent_syncs: u64,
    conflicts: u64,
    commit_retries: u64,
    rule_checks: u64,
    type_changes: u64,
    excludes: u64,
    includes: u64,
    evicted: u64,
    past_states: u64,
    restores_in_place: u64,
    big_edits: u64,
    /// Big files saved under new names (`save_big_copy`).
    big_copies: u64,
    /// The same new file saved on two devices before either synced.
    same_adds: u64,
    /// New files the scans left for their uploads to hash (issue 15: `hash_later`).
    left_unhashed: u64,
    streamed: u64,
    /// Syncs that found the previous sync's clean mark, and those of them answered "nothing
    /// to do" without a plan (each checked against the full path: see `util::Device`).
    no_change_tries: u64,
    /// Syncs that tried the narrow path (issue 15), those that planned narrowly (each plan
    /// checked against the full path's: see `util::Device`), and those that fell back.
    narrow_tries: u64,
    narrow_plans: u64,
    narrow_fallbacks: u64,
    /// Narrow uploads that found chunks on the page outside their tree (a copy of a file
    /// that lives elsewhere).
    narrow_found_outside: u64,
    no_change_answers: u64,
}

struct Model {
    rng: StdRng,
    store: MemoryStore,
    devs: Vec<Device>,
    /// Tag → the exact bytes written.
    written: BTreeMap<String, Vec<u8>>,
    /// Tags a user overwrote or deleted on some device.
    discarded: BTreeSet<String>,
    counter: u64,
    stats: Stats,
    /// Each device's excluded subtrees (the first device's stays empty: the full tree).
    excluded: Vec<BTreeSet<RelPath>>,
    /// Converged trees with the time they were current (ms), to restore later.
    past: Vec<(i64, BTreeMap<String, Vec<u8>>)>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64
}

/// The `<device#n>` tag at the start of `bytes`.
fn tag_of(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|&b| b == b'>')?;
    if bytes.first() != Some(&b'<') {
        return None;
    }
    String::from_utf8(bytes[..=end].to_vec()).ok()
}

impl Model {
    fn content(&mut self, dev: usize) -> Vec<u8> {
        self.counter += 1;
        let tag = format!("<{}#{}>", self.devs[dev].id, self.counter);
        let len = match self.rng.gen_range(0..10) {
            // Same size as most other writes: an edit the scan can only see by mtime or hash.
            0..=4 => 64,
            5..=8 => self.rng.gen_range(tag.len()..700),
            _ => self.rng.gen_range(5_000..13_000),
        };
        let mut bytes = tag.clone().into_bytes();
        while bytes.len() < len {
            bytes.push(self.rng.gen_range(b'a'..=b'z'));
        }
        self.written.insert(tag, bytes.clone());
        bytes
    }

    fn files(&self, dev: usize) -> Vec<String> {
        self.devs[dev].tree().into_keys().collect()
    }

    /// Every visible folder of device `dev` (not the root), by relative path.
    fn dirs(&self, dev: usize) -> Vec<String> {
        let root = &self.devs[dev].root;
        let mut out = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).expect("readable dir").flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with('.') || !e.file_type().expect("file type").is_dir() {
                    continue;
                }
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .expect("under root")
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push(rel);
                stack.push(e.path());
            }
        }
        out.sort();
        out
    }

    /// Make `rel` writable as a file on `dev`: a file at one of its parents is replaced by a
    /// folder (a type change; the file's content is discarded by the user). False when `rel`
    /// itself is a folder.
    fn make_room(&mut self, dev: usize, rel: &str) -> bool {
        let mut prefix = String::new();
        for part in rel
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .expect("a name")
            .1
        {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            let p = self.devs[dev].path(&prefix);
            if p.is_file() {
                self.discard(dev, &prefix);
                std::fs::remove_file(&p).expect("remove a file in the way");
                self.stats.type_changes += 1;
            }
        }
        !self.devs[dev].path(rel).is_dir()
    }

    /// Replace folder `rel` of `dev` by a file (the user throws away what it held there).
    fn folder_to_file(&mut self, dev: usize, rel: &str) {
        let prefix = format!("{rel}/");
        for f in self.files(dev) {
            if f.starts_with(&prefix) {
                self.discard(dev, &f);
            }
        }
        std::fs::remove_dir_all(self.devs[dev].path(rel)).expect("remove folder");
        self.write(dev, rel);
        self.stats.type_changes += 1;
    }

    /// Replace file `rel` of `dev` by a folder holding one or two new files, maybe nested.
    fn file_to_folder(&mut self, dev: usize, rel: &str) {
        self.discard(dev, rel);
        std::fs::remove_file(self.devs[dev].path(rel)).expect("remove file");
        self.counter += 1;
        self.write(dev, &format!("{rel}/n{}.txt", self.counter));
        if self.rng.gen_bool(0.5) {
            self.counter += 1;
            self.write(dev, &format!("{rel}/s{}/k.txt", self.counter));
        }
        self.stats.type_changes += 1;
    }

    /// The files of `dev` larger than 4 KiB (cut by content).
    fn big_files(&self, dev: usize) -> Vec<String> {
        self.files(dev)
            .into_iter()
            .filter(|f| std::fs::metadata(self.devs[dev].path(f)).is_ok_and(|m| m.len() > 4096))
            .collect()
    }

    /// A file of `dev` larger than 4 KiB (cut by content) edited the way big files are: its
    /// tag renewed and one byte changed in place, 1 KiB inserted at its start or 1 KiB
    /// appended. The rest of its bytes stay, so most of its chunks are on the page already.
    fn edit_big(&mut self, dev: usize) {
        let big = self.big_files(dev);
        let Some(rel) = big.choose(&mut self.rng).cloned() else {
            return;
        };
        let Ok(old) = std::fs::read(self.devs[dev].path(&rel)) else {
            return;
        };
        let Some(old_tag) = tag_of(&old) else {
            return;
        };
        self.discarded.insert(old_tag.clone());
        self.counter += 1;
        let tag = format!("<{}#{}>", self.devs[dev].id, self.counter);
        let mut body = old[old_tag.len()..].to_vec();
        let letters = |rng: &mut StdRng, n: usize| -> Vec<u8> {
            (0..n).map(|_| rng.gen_range(b'a'..=b'z')).collect()
        };
        match self.rng.gen_range(0..3) {
            0 if !body.is_empty() => {
                let i = self.rng.gen_range(0..body.len());
                body[i] = body[i].wrapping_add(1);
            }
            1 => {
                let mut front = letters(&mut self.rng, 1024);
                front.extend_from_slice(&body);
                body = front;
            }
            _ => body.extend(letters(&mut self.rng, 1024)),
        }
        let mut bytes = tag.clone().into_bytes();
        bytes.extend_from_slice(&body);
        self.written.insert(tag, bytes.clone());
        self.devs[dev].write(&rel, &bytes);
        self.stats.ops += 1;
        self.stats.big_edits += 1;
    }

    /// A big file saved under a name never used before: half the time an edited copy of a
    /// big file of `dev` (its tag renewed, 1 KiB inserted at its start or appended: another
    /// size, most chunks those of a file on the page), else new content of two packs or
    /// more. No other side knows the name, so a file of two packs or more is read, hashed
    /// and packed by its upload in one pass, which looks each of its chunks up on the page as
    /// it goes (`upload_stream`); a smaller one is hashed by the scan.
    fn save_big_copy(&mut self, dev: usize) {
        let big = self.big_files(dev);
        self.counter += 1;
        let rel = format!("imports/i{}.bin", self.counter);
        if !self.make_room(dev, &rel) {
            return;
        }
        let old = match big.choose(&mut self.rng) {
            Some(from) if self.rng.gen_bool(0.5) => std::fs::read(self.devs[dev].path(from)).ok(),
            _ => None,
        };
        let bytes = match old.as_deref().and_then(|o| tag_of(o).map(|t| (o, t))) {
            Some((old, old_tag)) => {
                let tag = format!("<{}#{}>", self.devs[dev].id, self.counter);
                let body = &old[old_tag.len()..];
                let extra: Vec<u8> = (0..1024).map(|_| self.rng.gen_range(b'a'..=b'z')).collect();
                let mut bytes = tag.clone().into_bytes();
                match self.rng.gen_bool(0.5) {
                    true => {
                        bytes.extend_from_slice(&extra);
                        bytes.extend_from_slice(body);
                    }
                    false => {
                        bytes.extend_from_slice(body);
                        bytes.extend_from_slice(&extra);
                    }
                }
                self.written.insert(tag, bytes.clone());
                bytes
            }
            // Two packs or more (the test settings' packs are 16 KiB): streamed.
            None => {
                let tag = format!("<{}#{}>", self.devs[dev].id, self.counter);
                let len = self.rng.gen_range(33_000..80_000);
                let mut bytes = tag.clone().into_bytes();
                while bytes.len() < len {
                    bytes.push(self.rng.gen_range(b'a'..=b'z'));
                }
                self.written.insert(tag, bytes.clone());
                bytes
            }
        };
        self.devs[dev].write(&rel, &bytes);
        // Mostly looking old, as `write` does: then the sync that sends it can leave a clean
        // mark, and the next copy is sent by a narrow sync, whose tree holds only the copy's
        // path: its upload finds the chunks of a file it copies (often one another device
        // sent) in the journal's remote cache (`narrow_found_outside`).
        if self.rng.gen_bool(0.85) {
            self.counter += 1;
            let t = SystemTime::now() - std::time::Duration::from_secs(3600)
                + std::time::Duration::from_millis(self.counter);
            set_mtime(&self.devs[dev].path(&rel), t);
        }
        self.stats.ops += 1;
        self.stats.big_copies += 1;
    }

    fn discard(&mut self, dev: usize, rel: &str) {
        if let Ok(bytes) = std::fs::read(self.devs[dev].path(rel)) {
            if let Some(t) = tag_of(&bytes) {
                self.discarded.insert(t);
            }
        }
    }

    fn write(&mut self, dev: usize, rel: &str) {
        if !self.make_room(dev, rel) {
            return;
        }
        self.discard(dev, rel);
        let bytes = self.content(dev);
        self.devs[dev].write(rel, &bytes);
        // Most writes look old, each at its own time: the scan cache vouches for them at
        // once, so the sync after them can leave a clean mark and the next change is planned
        // narrowly (issue 15), moves and type changes included.
        if self.rng.gen_bool(0.85) {
            self.counter += 1;
            let t = SystemTime::now() - std::time::Duration::from_secs(3600)
                + std::time::Duration::from_millis(self.counter);
            set_mtime(&self.devs[dev].path(rel), t);
        }
        self.stats.ops += 1;
    }

    /// A device other than the first excludes a subtree (an existing folder or file of the
    /// full tree, one from the pool, or one nothing is at), or includes one again (what it
    /// excludes, or something inside it, which splits it).
    fn toggle_exclusion(&mut self) {
        let dev = self.rng.gen_range(1..self.devs.len());
        // Every path of the full tree, folders included.
        let mut known: BTreeSet<String> = self.files(0).into_iter().collect();
        known.extend(self.dirs(0));
        // `rules/` is where the rule checks write on every device: never excluded.
        let candidates: Vec<String> = known
            .iter()
            .filter(|p| !p.starts_with("rules"))
            .cloned()
            .chain(
                ["docs", "docs/deep", "moved", "not/yet/here"]
                    .iter()
                    .map(|s| s.to_string()),
            )
            .collect();
        let known: BTreeSet<RelPath> = known.iter().filter_map(|p| RelPath::new(p).ok()).collect();
        let set = &mut self.excluded[dev];
        if !set.is_empty() && self.rng.gen_bool(0.5) {
            let mut inside: Vec<&String> = candidates
                .iter()
                .filter(|c| {
                    RelPath::new(c).is_ok_and(|c| selective::is_excluded(set, &c, NameRules::EXACT))
                })
                .collect();
            inside.sort();
            let whole: Vec<RelPath> = set.iter().cloned().collect();
            let path = match inside.choose(&mut self.rng) {
                Some(c) if self.rng.gen_bool(0.5) => RelPath::new(c).expect("valid"),
                _ => whole.choose(&mut self.rng).expect("non-empty").clone(),
            };
            selective::include(set, &path, &known, NameRules::EXACT);
            self.stats.includes += 1;
        } else {
            let c = candidates.choose(&mut self.rng).expect("non-empty");
            selective::exclude(set, &RelPath::new(c).expect("valid"), NameRules::EXACT);
            self.stats.excludes += 1;
        }
        let (set, id) = (self.excluded[dev].clone(), self.devs[dev].folder);
        self.devs[dev]
            .syncer
            .journal()
            .lock()
            .expect("journal lock")
            .set_excluded_paths(id, &set)
            .expect("store the excluded paths");
    }

    fn is_excluded(&self, dev: usize, path: &str) -> bool {
        RelPath::new(path)
            .is_ok_and(|p| selective::is_excluded(&self.excluded[dev], &p, NameRules::EXACT))
    }

    /// One random user operation on a random device.
    /// The same file saved on two devices before either syncs (an attachment saved on the
    /// office desktop and on the laptop), at a name the first may already use or at a new
    /// one: the plan must compare the two (equal: no conflict), so neither scan may leave it
    /// unhashed once the other's is on the page.
    fn write_same(&mut self) {
        let dev = self.rng.gen_range(0..self.devs.len());
        let other = (dev + self.rng.gen_range(1..self.devs.len())) % self.devs.len();
        self.counter += 1;
        let rel = match self.rng.gen_bool(0.5) {
            true => POOL.choose(&mut self.rng).expect("pool").to_string(),
            false => format!("saved/s{}.txt", self.counter),
        };
        if !self.make_room(dev, &rel) || !self.make_room(other, &rel) {
            return;
        }
        self.discard(dev, &rel);
        self.discard(other, &rel);
        let bytes = self.content(dev);
        self.devs[dev].write(&rel, &bytes);
        self.devs[other].write(&rel, &bytes);
        self.stats.same_adds += 1;
        self.stats.ops += 1;
    }

    fn user_op(&mut self) {
        if self.rng.gen_bool(0.04) {
            self.toggle_exclusion();
            return;
        }
        if self.rng.gen_bool(0.03) {
            self.write_same();
            return;
        }
        if self.rng.gen_bool(0.06) {
            let dev = self.rng.gen_range(0..self.devs.len());
            self.edit_big(dev);
            return;
        }
        if self.rng.gen_bool(0.03) {
            let dev = self.rng.gen_range(0..self.devs.len());
            self.save_big_copy(dev);
            return;
        }
        let dev = self.rng.gen_range(0..self.devs.len());
        let files = self.files(dev);
        let choice = self.rng.gen_range(0..100);
        if files.is_empty() || choice < 30 {
            let rel = if !files.is_empty() && self.rng.gen_bool(0.6) {
                files.choose(&mut self.rng).expect("non-empty").clone()
            } else {
                POOL.choose(&mut self.rng).expect("pool").to_string()
            };
            self.write(dev, &rel);
        } else if choice < 45 || files.len() > 40 {
            let rel = files.choose(&mut self.rng).expect("non-empty").clone();
            self.discard(dev, &rel);
            std::fs::remove_file(self.devs[dev].path(&rel)).expect("delete");
            self.stats.ops += 1;
        } else if choice < 60 {
            let from = files.choose(&mut self.rng).expect("non-empty").clone();
            self.counter += 1;
            let to = match self.rng.gen_bool(0.5) {
                true => POOL.choose(&mut self.rng).expect("pool").to_string(),
                false => format!("moved/m{}.txt", self.counter),
            };
            if to == from
                || to.starts_with(&format!("{from}/"))
                || self.devs[dev].path(&to).exists()
                || !self.make_room(dev, &to)
            {
                return;
            }
            let target = self.devs[dev].path(&to);
            std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
            std::fs::rename(self.devs[dev].path(&from), target).expect("rename");
            self.stats.ops += 1;
        } else if choice < 88 {
            // A type change, often racing another device's change at or inside the same path.
            let other = (dev + self.rng.gen_range(1..self.devs.len())) % self.devs.len();
            let dirs = self.dirs(dev);
            if !dirs.is_empty() && self.rng.gen_bool(0.5) {
                let rel = dirs.choose(&mut self.rng).expect("non-empty").clone();
                self.folder_to_file(dev, &rel);
                if self.devs[other].path(&rel).is_dir() && self.rng.gen_bool(0.7) {
                    let prefix = format!("{rel}/");
                    let inside: Vec<String> = self
                        .files(other)
                        .into_iter()
                        .filter(|f| f.starts_with(&prefix))
                        .collect();
                    self.counter += 1;
                    let target = match inside.choose(&mut self.rng) {
                        Some(f) if self.rng.gen_bool(0.5) => f.clone(),
                        _ => format!("{rel}/r{}.txt", self.counter),
                    };
                    self.write(other, &target);
                }
            } else {
                let rel = files.choose(&mut self.rng).expect("non-empty").clone();
                self.file_to_folder(dev, &rel);
                if self.devs[other].path(&rel).is_file() && self.rng.gen_bool(0.7) {
                    self.write(other, &rel);
                }
            }
        } else {
            // A conflicting edit: the same file changed on two devices before either syncs.
            let other = (dev + self.rng.gen_range(1..self.devs.len())) % self.devs.len();
            let theirs: BTreeSet<String> = self.files(other).into_iter().collect();
            let shared: Vec<&String> = files.iter().filter(|f| theirs.contains(*f)).collect();
            let Some(rel) = shared.choose(&mut self.rng).map(|s| s.to_string()) else {
                return;
            };
            self.write(dev, &rel);
            self.write(other, &rel);
        }
    }

    async fn sync(&mut self, dev: usize) {
        let s = self.devs[dev]
            .sync(&self.store)
            .await
            .unwrap_or_else(|e| panic!("sync of {} failed: {e}", self.devs[dev].id));
        self.stats.syncs += 1;
        self.stats.conflicts += s.conflicts;
        self.stats.commit_retries += s.commit_retries;
        self.stats.evicted += s.evicted;
    }

    /// A device whose service keeps it in sync (synced until nothing is left, so its last
    /// sync left a clean mark) gets a big file saved under a new name, often an edited copy
    /// of a file another device sent, and syncs: a narrow sync, whose upload finds the copied
    /// chunks outside its tree, in the journal's remote cache (`narrow_found_outside`).
    async fn copy_on_a_settled_device(&mut self) {
        let dev = self.rng.gen_range(0..self.devs.len());
        // Time has passed: no file was modified just now (the scan cache could not vouch
        // for one, and no sync would leave a mark).
        let now = SystemTime::now();
        for rel in self.files(dev) {
            let path = self.devs[dev].path(&rel);
            let recent = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t + std::time::Duration::from_secs(60) > now);
            if recent {
                self.counter += 1;
                let t = now - std::time::Duration::from_secs(3600)
                    + std::time::Duration::from_millis(self.counter);
                set_mtime(&path, t);
            }
        }
        self.sync(dev).await;
        self.sync(dev).await;
        self.save_big_copy(dev);
        self.sync(dev).await;
    }

    /// Two or three devices sync at the same time.
    async fn sync_concurrently(&mut self) {
        let mut order: Vec<usize> = (0..self.devs.len()).collect();
        order.shuffle(&mut self.rng);
        let n = self.rng.gen_range(2..=self.devs.len());
        let futs = order[..n].iter().map(|&i| {
            let d = &self.devs[i];
            let store = &self.store;
            async move { (d.id.clone(), d.sync(store).await) }
        });
        for (id, r) in futures::future::join_all(futs).await {
            let s = r.unwrap_or_else(|e| panic!("concurrent sync of {id} failed: {e}"));
            self.stats.syncs += 1;
            self.stats.conflicts += s.conflicts;
            self.stats.commit_retries += s.commit_retries;
        }
        self.stats.concurrent_syncs += 1;
    }

    /// Sync every device until all have seen everything; assert they agree on what each
    /// includes (a change made inside an excluded subtree takes a round to reach the page
    /// and another to leave this device). Returns the full tree (the first device's).
    async fn converge(&mut self) -> BTreeMap<String, Vec<u8>> {
        for _ in 0..3 {
            for d in 0..self.devs.len() {
                self.sync(d).await;
            }
        }
        let first = self.devs[0].tree();
        for (i, d) in self.devs.iter().enumerate().skip(1) {
            let t = d.tree();
            let inside: Vec<&String> = t.keys().filter(|p| self.is_excluded(i, p)).collect();
            assert!(
                inside.is_empty(),
                "{} keeps files inside what it excludes ({:?}): {inside:?}",
                d.id,
                self.excluded[i]
            );
            let first: BTreeMap<String, Vec<u8>> = first
                .iter()
                .filter(|(p, _)| !self.is_excluded(i, p))
                .map(|(p, v)| (p.clone(), v.clone()))
                .collect();
            if t != first {
                let a: BTreeSet<_> = first.iter().map(|(k, v)| (k, tag_of(v))).collect();
                let b: BTreeSet<_> = t.iter().map(|(k, v)| (k, tag_of(v))).collect();
                panic!(
                    "devices {} and {} disagree after converging:\nonly on {}: {:?}\nonly on {}: {:?}",
                    self.devs[0].id,
                    d.id,
                    self.devs[0].id,
                    a.difference(&b).collect::<Vec<_>>(),
                    d.id,
                    b.difference(&a).collect::<Vec<_>>()
                );
            }
        }
        for d in &self.devs {
            let stray = stray_hidden(&d.root);
            assert!(
                stray.is_empty(),
                "leftover temporary files on {}: {stray:?}",
                d.id
            );
        }
        first
    }

    /// Last write wins and the loser is kept as a conflict copy named after the loser.
    async fn check_last_write_wins(&mut self) {
        let rel = format!("rules/lww{}.txt", self.counter);
        self.write(0, &rel);
        self.converge().await;
        let (a, b) = {
            let mut idx: Vec<usize> = (0..self.devs.len()).collect();
            idx.shuffle(&mut self.rng);
            (idx[0], idx[1])
        };
        self.discard(a, &rel);
        let ca = self.content(a);
        let cb = self.content(b);
        self.devs[a].write(&rel, &ca);
        self.devs[b].write(&rel, &cb);
        // b writes later (by modification time) whatever the sync order.
        let now = SystemTime::now();
        set_mtime(&self.devs[a].path(&rel), now - Duration::from_secs(20));
        set_mtime(&self.devs[b].path(&rel), now - Duration::from_secs(10));
        if self.rng.gen_bool(0.5) {
            self.sync(a).await;
            self.sync(b).await;
        } else {
            self.sync(b).await;
            self.sync(a).await;
        }
        let tree = self.converge().await;
        assert_eq!(
            tree.get(&rel).and_then(|v| tag_of(v)),
            tag_of(&cb),
            "the later write (by {}) must win at {rel}",
            self.devs[b].id
        );
        let loser = format!("(conflict from {} ", self.devs[a].id);
        let copies: Vec<_> = tree
            .iter()
            .filter(|(k, v)| k.starts_with("rules/lww") && k.contains(&loser) && **v == ca)
            .collect();
        assert_eq!(
            copies.len(),
            1,
            "the loser's version must be kept once as a conflict copy named after {}; tree: {:?}",
            self.devs[a].id,
            tree.keys().collect::<Vec<_>>()
        );
        self.stats.rule_checks += 1;
    }

    /// An edit beats a concurrent delete, whichever syncs first.
    async fn check_edit_beats_delete(&mut self) {
        let rel = format!("rules/ebd{}.txt", self.counter);
        self.write(0, &rel);
        self.converge().await;
        let mut idx: Vec<usize> = (0..self.devs.len()).collect();
        idx.shuffle(&mut self.rng);
        let (del, edit) = (idx[0], idx[1]);
        self.discard(del, &rel);
        std::fs::remove_file(self.devs[del].path(&rel)).expect("delete");
        self.write(edit, &rel);
        let edited = std::fs::read(self.devs[edit].path(&rel)).expect("just written");
        if self.rng.gen_bool(0.5) {
            self.sync(del).await;
            self.sync(edit).await;
        } else {
            self.sync(edit).await;
            self.sync(del).await;
        }
        let tree = self.converge().await;
        assert_eq!(
            tree.get(&rel),
            Some(&edited),
            "the edit by {} must beat the delete by {}",
            self.devs[edit].id,
            self.devs[del].id
        );
        self.stats.rule_checks += 1;
    }

    /// Remember the converged `tree` as the state current now; the next commit comes later
    /// (commit times are ms).
    fn record_past(&mut self, tree: BTreeMap<String, Vec<u8>>) {
        let t = now_ms();
        while now_ms() <= t {
            std::thread::yield_now();
        }
        self.past.push((t, tree));
    }

    /// A random device restores a random recorded state into another folder: exactly what
    /// the folder held then.
    async fn check_past_state(&mut self) {
        let Some((t, tree)) = self.past.choose(&mut self.rng).cloned() else {
            return;
        };
        let dev = self.rng.gen_range(0..self.devs.len());
        let out = tempfile::tempdir().expect("temp dir");
        let d = &self.devs[dev];
        d.syncer
            .restore(
                d.folder,
                &self.store,
                None,
                VersionPick::At(t),
                &RestoreTarget::Into(out.path().to_path_buf()),
                false,
            )
            .await
            .unwrap_or_else(|e| panic!("{} could not restore the state at {t}: {e}", d.id));
        let got = crate::util::tree_of(out.path());
        if got != tree {
            let a: BTreeSet<_> = tree.iter().map(|(k, v)| (k, tag_of(v))).collect();
            let b: BTreeSet<_> = got.iter().map(|(k, v)| (k, tag_of(v))).collect();
            panic!(
                "the state at {t} restored by {} differs:\nmissing: {:?}\nextra: {:?}",
                d.id,
                a.difference(&b).collect::<Vec<_>>(),
                b.difference(&a).collect::<Vec<_>>()
            );
        }
        self.stats.past_states += 1;
    }

    /// The first device (which excludes nothing) puts the whole folder back as it was at a
    /// recorded time; it syncs everywhere as ordinary changes.
    async fn restore_in_place(&mut self) {
        let Some((t, past)) = self.past.choose(&mut self.rng).cloned() else {
            return;
        };
        let now = self.converge().await;
        let d = &self.devs[0];
        d.syncer
            .restore(
                d.folder,
                &self.store,
                None,
                VersionPick::At(t),
                &RestoreTarget::InPlace,
                false,
            )
            .await
            .unwrap_or_else(|e| panic!("restoring the state at {t} into place failed: {e}"));
        // What the restore replaced is the user's choice to drop (it waits in the trash).
        let kept: BTreeSet<Option<String>> = past.values().map(|v| tag_of(v)).collect();
        for v in now.values() {
            if let Some(tag) = tag_of(v).filter(|t| !kept.contains(&Some(t.clone()))) {
                self.discarded.insert(tag);
            }
        }
        let after = self.converge().await;
        assert!(
            after == past,
            "after restoring the state at {t} into place the devices hold another tree"
        );
        self.stats.restores_in_place += 1;
    }

    /// Every file is intact content some device wrote; nothing not discarded is missing.
    fn check_contents(&self, tree: &BTreeMap<String, Vec<u8>>) {
        let mut present = BTreeSet::new();
        for (path, bytes) in tree {
            let tag = tag_of(bytes).unwrap_or_else(|| panic!("{path} holds foreign bytes"));
            let orig = self
                .written
                .get(&tag)
                .unwrap_or_else(|| panic!("{path} holds unknown tag {tag}"));
            assert!(orig == bytes, "{path}: content {tag} is corrupted");
            present.insert(tag);
        }
        let lost: Vec<&String> = self
            .written
            .keys()
            .filter(|t| !self.discarded.contains(*t) && !present.contains(*t))
            .collect();
        assert!(
            lost.is_empty(),
            "content written and never overwritten or deleted by a user is gone: {lost:?}"
        );
    }
}

fn set_mtime(path: &std::path::Path, t: SystemTime) {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open for mtime");
    f.set_modified(t).expect("set mtime");
}

#[test]
fn three_devices_converge_without_losing_content() {
    let seed = seed();
    let _guard = SeedGuard(seed);
    let target_ops = env_num("SBER_TUNNEL_MODEL_OPS", 1_000);
    let rt = runtime();
    rt.block_on(async move {
        let mut m = Model {
            rng: StdRng::seed_from_u64(seed),
            store: MemoryStore::new(),
            devs: vec![
                // The first device collects garbage after every commit, at once: a retained
                // version it collected would fail the restores below.
                {
                    let mut d = Device::new("dev-a");
                    d.syncer = d.syncer.clone().with_gc_timing_for_tests(0, 0);
                    d
                },
                Device::new("dev-b"),
                Device::new("dev-c"),
            ],
            written: BTreeMap::new(),
            discarded: BTreeSet::new(),
            counter: 0,
            stats: Stats::default(),
            excluded: vec![BTreeSet::new(); 3],
            past: Vec::new(),
        };
        let mut next_checkpoint = 150;
        while m.stats.ops < target_ops {
            match m.rng.gen_range(0..100) {
                0..=75 => m.user_op(),
                76..=77 => m.copy_on_a_settled_device().await,
                78..=92 => {
                    let d = m.rng.gen_range(0..m.devs.len());
                    m.sync(d).await;
                    // Often synced again at once: a sync with nothing left to do leaves a
                    // clean mark, and the device's next change is planned narrowly (issue 15).
                    if m.rng.gen_bool(0.4) {
                        m.sync(d).await;
                    }
                }
                93..=98 => m.sync_concurrently().await,
                _ => m.check_past_state().await,
            }
            if m.stats.ops >= next_checkpoint {
                next_checkpoint += 150;
                let tree = m.converge().await;
                m.check_contents(&tree);
                m.record_past(tree);
                if m.rng.gen_bool(0.5) {
                    m.restore_in_place().await;
                    let tree = m.converge().await;
                    m.check_contents(&tree);
                    m.record_past(tree);
                }
                if m.rng.gen_bool(0.5) {
                    m.check_last_write_wins().await;
                } else {
                    m.check_edit_beats_delete().await;
                }
            }
        }
        let tree = m.converge().await;
        m.check_contents(&tree);
        // Every recorded past state is still retained and intact.
        for _ in 0..m.past.len() {
            m.check_past_state().await;
        }
        // Stable: nothing moves any more.
        for d in 0..m.devs.len() {
            let s = m.devs[d].sync(&m.store).await.expect("quiet sync");
            assert_eq!(
                (s.uploaded, s.downloaded, s.deleted_local, s.deleted_remote, s.conflicts),
                (0, 0, 0, 0, 0),
                "a converged device {} still changes things: {s:?}",
                m.devs[d].id
            );
        }
        // A new device receives the same tree.
        let newcomer = Device::new("dev-new");
        newcomer.sync(&m.store).await.expect("newcomer sync");
        assert!(newcomer.tree() == tree, "a new device gets another tree");
        // Issue 17: including everything again brings every device the whole tree.
        for d in 1..m.devs.len() {
            m.excluded[d].clear();
            let id = m.devs[d].folder;
            m.devs[d]
                .syncer
                .journal()
                .lock()
                .expect("journal lock")
                .set_excluded_paths(id, &BTreeSet::new())
                .expect("include everything");
        }
        let again = m.converge().await;
        assert!(again == tree, "including again changed the full tree");
        for d in &m.devs[1..] {
            assert!(
                d.tree() == tree,
                "{} includes everything again but lacks files",
                d.id
            );
        }
        for d in &m.devs {
            let t = d.syncer.no_change_tries_for_tests();
            m.stats.no_change_tries += t.with_mark;
            m.stats.no_change_answers += t.answered;
            let n = d.syncer.narrow_tries_for_tests();
            m.stats.narrow_tries += n.tried;
            m.stats.narrow_plans += n.planned;
            m.stats.narrow_fallbacks += n.fallbacks.len() as u64;
            m.stats.narrow_found_outside += n.found_outside;
            m.stats.left_unhashed += d.syncer.left_unhashed_for_tests();
            m.stats.streamed += d.syncer.streamed_for_tests();
        }
        eprintln!(
            "model seed {seed}: {:?}; {} files at the end, {} contents written, {} discarded, files lost: 0",
            m.stats,
            tree.len(),
            m.written.len(),
            m.discarded.len()
        );
    });
}
