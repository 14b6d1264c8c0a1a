//! The listing digest: one SHA-256 over everything a walk saw, name by name in walk order —
//! each folder and file kept with what the scan cache compares (kind, size, modification
//! time, inode), each name left out with its reason, each `.sbtignore` with its text. Two
//! walks of a folder give the same digest exactly when they saw the same names with the same
//! stat data and the same ignore rules; a walk that met anything unreadable gives none.
//!
//! The no-change check ([`super::listing_digest`]) compares a fresh walk's digest with the one
//! the last clean sync recorded, holding nothing but the walk's pending folders.

use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::SkipReason;
use crate::hash::Digest;
use crate::rel_path::RelPath;

/// Bumped whenever what goes into the digest changes (an old digest then never matches).
const LISTING_FORMAT: &[u8] = b"sber-tunnel listing 1\n";

/// A digest being fed by a walk.
pub(crate) struct Listing {
    sha: Sha256,
    /// Something could not be read (or vanished while listed): no digest.
    unsettled: bool,
}

impl Default for Listing {
    fn default() -> Self {
        let mut sha = Sha256::new();
        sha.update(LISTING_FORMAT);
        Listing {
            sha,
            unsettled: false,
        }
    }
}

impl Listing {
    fn tag(&mut self, tag: u8, text: &str) {
        self.sha.update([tag]);
        self.sha.update((text.len() as u64).to_le_bytes());
        self.sha.update(text.as_bytes());
    }

    /// The `.sbtignore` of folder `at` holds `text`.
    pub(super) fn ignore_file(&mut self, at: &str, text: &str) {
        self.tag(b'I', at);
        self.tag(b'T', text);
    }

    /// Something could not be read: the listing is not one to compare.
    pub(crate) fn unreadable(&mut self) {
        self.unsettled = true;
    }

    /// A name left out on purpose.
    pub(super) fn skipped(&mut self, native: &Path, reason: &SkipReason) {
        self.tag(b'S', &native.to_string_lossy());
        let why = match reason {
            SkipReason::Hidden => "hidden".to_string(),
            SkipReason::Temporary => "temporary".to_string(),
            SkipReason::Symlink => "link".to_string(),
            SkipReason::Special => "special".to_string(),
            SkipReason::InvalidName(why) => format!("invalid: {why}"),
            SkipReason::Ignored => "ignored".to_string(),
        };
        self.tag(b'R', &why);
    }

    /// A folder kept.
    pub(super) fn folder(&mut self, rel: &RelPath, mtime_ns: i64) {
        self.tag(b'D', rel.as_str());
        self.sha.update(mtime_ns.to_le_bytes());
    }

    /// A regular file kept.
    pub(super) fn file(&mut self, rel: &RelPath, size: u64, mtime_ns: i64, inode: u64) {
        self.tag(b'F', rel.as_str());
        self.sha.update(size.to_le_bytes());
        self.sha.update(mtime_ns.to_le_bytes());
        self.sha.update(inode.to_le_bytes());
    }

    /// The digest, `None` when something could not be read.
    pub(crate) fn finish(self) -> Option<Digest> {
        (!self.unsettled).then(|| Digest(self.sha.finalize().into()))
    }
}
