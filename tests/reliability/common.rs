//! Helpers of this suite on top of `test_support`: tagged content that says who wrote it, a record of
//! what was written and discarded, seeds, and the content checks every test ends with.
//!
//! Invariant: every byte a test writes into a synced folder starts with a unique `<tag>`, so
//! any file can be traced back to the write that produced it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use test_support::cli::Device;

pub use test_support::seed::{env_num, seed, Rng, SeedGuard};

/// The `<…>` tag at the start of `bytes`.
pub fn tag_of(bytes: &[u8]) -> Option<String> {
    if bytes.first() != Some(&b'<') {
        return None;
    }
    let end = bytes.iter().position(|&b| b == b'>')?;
    String::from_utf8(bytes[..=end].to_vec()).ok()
}

/// What the test wrote: tag → bytes, and the tags a user overwrote or deleted.
#[derive(Default)]
pub struct Ledger {
    pub written: BTreeMap<String, Vec<u8>>,
    pub discarded: BTreeSet<String>,
    counter: u64,
}

impl Ledger {
    /// New unique content of about `len` bytes by `who`.
    pub fn content(&mut self, who: &str, len: usize, rng: &mut Rng) -> Vec<u8> {
        self.counter += 1;
        let tag = format!("<{who}#{}>", self.counter);
        let mut bytes = tag.clone().into_bytes();
        while bytes.len() < len {
            bytes.push(b'a' + rng.range(0..26) as u8);
        }
        self.written.insert(tag, bytes.clone());
        bytes
    }

    /// The content at `path` (if any) is being overwritten or deleted by a user.
    pub fn discard(&mut self, path: &Path) {
        if let Ok(bytes) = std::fs::read(path) {
            if let Some(t) = tag_of(&bytes) {
                self.discarded.insert(t);
            }
        }
    }

    /// Write new content to `rel` on `dev`.
    pub fn write(&mut self, dev: &Device, who: &str, rel: &str, len: usize, rng: &mut Rng) {
        self.discard(&dev.folder.join(rel));
        let bytes = self.content(who, len, rng);
        dev.write(rel, &bytes);
    }

    /// A few random user operations (create, edit, delete, rename) on `dev`.
    pub fn mutate(&mut self, dev: &Device, who: &str, ops: usize, rng: &mut Rng) {
        const POOL: &[&str] = &["a.txt", "b.txt", "docs/c.txt", "docs/d.bin", "e/f/g.txt"];
        for _ in 0..ops {
            let files: Vec<String> = dev
                .tree()
                .into_keys()
                .filter(|k| !k.ends_with('/'))
                .collect();
            let len = match rng.range(0..10) {
                0..=6 => rng.range(20..2_000),
                7..=8 => rng.range(20_000..200_000),
                // Over one chunk (1 MiB): chunked upload and download.
                _ => rng.range(1_100_000..2_500_000),
            } as usize;
            match rng.range(0..10) {
                0..=5 => {
                    let rel = if !files.is_empty() && rng.chance(0.5) {
                        files[rng.index(files.len())].clone()
                    } else {
                        POOL[rng.index(POOL.len())].to_string()
                    };
                    self.write(dev, who, &rel, len, rng);
                }
                6..=7 if !files.is_empty() => {
                    let rel = &files[rng.index(files.len())];
                    let p = dev.folder.join(rel);
                    self.discard(&p);
                    std::fs::remove_file(&p).expect("delete");
                }
                8..=9 if !files.is_empty() => {
                    let from = &files[rng.index(files.len())];
                    self.counter += 1;
                    let to = dev.folder.join(format!("moved/r{}.txt", self.counter));
                    std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
                    std::fs::rename(dev.folder.join(from), to).expect("rename");
                }
                _ => {}
            }
        }
    }

    /// Every file of `tree` is intact content we wrote, and every content that no user
    /// overwrote or deleted is still there.
    pub fn check(&self, tree: &BTreeMap<String, Vec<u8>>) {
        let mut present = BTreeSet::new();
        for (path, bytes) in tree.iter().filter(|(k, _)| !k.ends_with('/')) {
            let tag = tag_of(bytes).unwrap_or_else(|| panic!("{path} holds foreign bytes"));
            let orig = self
                .written
                .get(&tag)
                .unwrap_or_else(|| panic!("{path} holds unknown content {tag}"));
            assert!(
                orig == bytes,
                "{path}: content {tag} is torn or corrupted ({} bytes, wrote {})",
                bytes.len(),
                orig.len()
            );
            present.insert(tag);
        }
        let lost: Vec<&String> = self
            .written
            .keys()
            .filter(|t| !self.discarded.contains(*t) && !present.contains(*t))
            .collect();
        assert!(lost.is_empty(), "content lost: {lost:?}");
    }
}

/// Hidden files other than the folder marker (leftover partial downloads) under `root`.
pub fn stray_hidden(root: &Path) -> Vec<std::path::PathBuf> {
    test_support::tree::stray_hidden(root, tunnel_core::sync::FOLDER_MARKER)
}

/// Sync settings with 1 MiB chunks and small packs.
pub const SMALL_CHUNKS: &str =
    "chunk-size = 1048576\npack-threshold = 65536\npack-target = 262144\nmax-delete-share = 1.0";

/// Sync `devs` in turn, `rounds` times, and require that they agree and hold no temporary file.
pub fn converge(devs: &[&Device], rounds: usize) -> BTreeMap<String, Vec<u8>> {
    for _ in 0..rounds {
        for d in devs {
            d.sync();
        }
    }
    let first = devs[0].tree();
    for d in &devs[1..] {
        let t = d.tree();
        if t != first {
            let a: BTreeSet<_> = first.iter().map(|(k, v)| (k, tag_of(v))).collect();
            let b: BTreeSet<_> = t.iter().map(|(k, v)| (k, tag_of(v))).collect();
            panic!(
                "devices disagree:\nonly on the first: {:?}\nonly on another: {:?}",
                a.difference(&b).collect::<Vec<_>>(),
                b.difference(&a).collect::<Vec<_>>()
            );
        }
    }
    for d in devs {
        let stray = stray_hidden(&d.folder);
        assert!(stray.is_empty(), "leftover temporary files: {stray:?}");
    }
    first
}
