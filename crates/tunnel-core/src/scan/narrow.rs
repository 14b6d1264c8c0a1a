//! The narrow scan (issue 15): one walk that keeps every name with its stat data (and the
//! listing digest on the way), so a sync after a clean one can tell which few paths changed
//! and scan only those — the rest is read neither from the disk nor from the scan cache.
//!
//! [`walk_folder`] lists the folder as the full scan does (the same walk, the same skip
//! rules), holding one compact row per file and folder; [`narrow_scan`] then builds a
//! [`LocalScan`] of the wanted paths only: folders as listed, unchanged files from their
//! cache rows, changed files hashed. What is left out, unreadable or in use is reported for
//! the whole folder, exactly as a full scan reports it.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ignore::gitignore::Gitignore;

use super::hashing::{self, Hooks, Job};
use super::listing::Listing;
use super::walk::{self, ListedFile, Sink};
use super::{check_root, finish, rules, LocalScan, ScanError, ScanOptions, SkipReason};
use crate::fs_safe;
use crate::hash::Digest;
use crate::journal::CachedHash;
use crate::manifest::EntryKind;
use crate::plan::LocalEntry;
use crate::rel_path::RelPath;

/// The `.sbtignore` files a walk read, folder and text, in walk order.
#[derive(Default)]
pub(super) struct IgnoreTexts(String);

impl IgnoreTexts {
    pub(super) fn add(&mut self, at: &str, text: &str) {
        use std::fmt::Write as _;
        let _ = write!(self.0, "{}:{at}\n{}:{text}\n", at.len(), text.len());
    }

    pub(super) fn digest(&self) -> Digest {
        Digest::of(self.0.as_bytes())
    }
}

/// One name the walk kept: a file or a folder, with what the listing saw of it.
#[derive(Clone, Debug)]
pub(crate) struct Walked {
    pub(crate) rel: RelPath,
    pub(crate) meta: fs_safe::Meta,
    /// A folder (else a regular file).
    pub(crate) dir: bool,
}

impl Walked {
    pub(crate) fn is_dir(&self) -> bool {
        self.dir
    }
}

/// A whole walk of a folder: every name kept, sorted by path (byte order, as the journal
/// sorts), and everything a full scan reports besides its entries.
pub(crate) struct FolderWalk {
    root: PathBuf,
    pub(crate) listed: Vec<Walked>,
    /// `unreadable`, `in_use`, `skipped`, `excluded` and `rules` as a full scan fills them;
    /// no entries yet.
    shell: LocalScan,
    /// The listing digest, `None` when something could not be read.
    listing: Option<Digest>,
    /// [`LocalScan::ignores`].
    pub(crate) ignores: Digest,
}

impl FolderWalk {
    /// The listing digest, as the no-change check compares it.
    pub(crate) fn listing(&self) -> Option<Digest> {
        self.listing
    }

    /// The names below the folder `dir`.
    pub(crate) fn below<'a>(&'a self, dir: &'a RelPath) -> impl Iterator<Item = &'a Walked> + 'a {
        let from = format!("{}/", dir.as_str());
        let start = self
            .listed
            .partition_point(|w| w.rel.as_str() < from.as_str());
        self.listed[start..]
            .iter()
            .take_while(move |w| dir.is_ancestor_of(&w.rel))
    }
}

/// Walk `root` as the full scan does, keeping one compact row per name.
pub(crate) fn walk_folder(root: &Path, opts: &ScanOptions) -> Result<FolderWalk, ScanError> {
    check_root(root, opts)?;
    let mut shell = LocalScan::default();
    shell.rules.root = root.to_owned();
    shell.rules.extra = rules::build_extra(root, &opts.extra_ignores)?.map(Arc::new);
    let extra = shell.rules.extra.clone();
    let mut listing = Listing::default();
    let mut sink = WalkSink {
        shell: &mut shell,
        listed: Vec::new(),
        ignores: IgnoreTexts::default(),
    };
    walk::walk(root, extra.as_deref(), &mut sink, &mut listing)?;
    let ignores = sink.ignores.digest();
    let mut listed = sink.listed;
    listed.sort_by(|a, b| a.rel.as_str().cmp(b.rel.as_str()));
    Ok(FolderWalk {
        root: root.to_owned(),
        listed,
        shell,
        listing: listing.finish(),
        ignores,
    })
}

/// The scan of `walk`'s folder restricted to `wanted` paths: folders as listed, files in
/// `rehash` read and hashed, the other files from `cached` (their scan-cache rows, which the
/// caller found to match the listing). Unreadable, in-use and excluded paths are reported
/// for the whole folder; `listing` is the walk's digest when the scan is settled, by the
/// full scan's rule.
pub(crate) fn narrow_scan(
    walk: FolderWalk,
    wanted: &BTreeSet<RelPath>,
    rehash: &BTreeSet<RelPath>,
    mut cached: HashMap<RelPath, CachedHash>,
    opts: &ScanOptions,
) -> LocalScan {
    let FolderWalk {
        root,
        listed,
        mut shell,
        listing,
        ignores,
    } = walk;
    let nothing_listed = listed.is_empty();
    let mut jobs = Vec::new();
    for w in listed {
        if !wanted.contains(&w.rel) {
            continue;
        }
        if w.is_dir() {
            shell.entries.insert(
                w.rel,
                LocalEntry {
                    kind: EntryKind::Dir,
                    size: 0,
                    mtime_ns: w.meta.mtime_ns,
                    sha256: None,
                },
            );
            continue;
        }
        match cached.remove(&w.rel).filter(|_| !rehash.contains(&w.rel)) {
            Some(c) => {
                shell.entries.insert(
                    w.rel.clone(),
                    LocalEntry {
                        kind: EntryKind::File,
                        size: c.size,
                        mtime_ns: c.mtime_ns,
                        sha256: Some(c.sha256),
                    },
                );
                shell.hashes.insert(w.rel, c);
            }
            None => jobs.push(Job {
                rel: w.rel,
                listed: w.meta,
            }),
        }
    }
    let chunking = crate::chunk::Chunking::new(opts.chunk_size, opts.delta_chunk_size);
    let hooks = Hooks {
        after_first_read: &|_| {},
        before_open: &|_| {},
    };
    let mut hashed = super::Entries::with_expected(jobs.len());
    let as_listed = hashing::hash_into(&mut shell, &mut hashed, &root, jobs, &chunking, &hooks);
    shell.entries.append(&mut hashed.finish());
    let settled = as_listed
        && shell.unreadable.is_empty()
        && shell.in_use.is_empty()
        && !shell.fresh.iter().any(|p| {
            shell
                .hashes
                .get(p)
                .is_some_and(|h| !super::cache::may_match(h.mtime_ns))
        });
    shell.listing = listing.filter(|_| settled);
    shell.ignores = Some(ignores);
    finish(&mut shell, &root);
    // Judged on the whole walk, not on the wanted entries.
    shell.everything_ignored = nothing_listed
        && shell
            .skipped
            .iter()
            .any(|(_, r)| matches!(r, SkipReason::Ignored));
    shell
}

/// The narrow walk's sink: a compact row per name kept; the rest as the full scan records it.
struct WalkSink<'a> {
    shell: &'a mut LocalScan,
    listed: Vec<Walked>,
    ignores: IgnoreTexts,
}

impl Sink for WalkSink<'_> {
    fn ignore_rules(&mut self, at: &str, rules: &Arc<Gitignore>, text: &str) {
        self.shell.note_ignore_rules(at, rules);
        self.ignores.add(at, text);
    }

    fn unreadable(&mut self, rel: RelPath, reason: String, in_use: bool) {
        self.shell.note_unreadable(rel, reason, in_use);
    }

    fn skipped(&mut self, native: PathBuf, reason: SkipReason, excluded: Option<RelPath>) {
        // Named once per walk, as the full scan's caller names them.
        if let SkipReason::InvalidName(why) = &reason {
            tracing::warn!(path = %native.display(), "not synced: {why}; rename it to sync it");
        }
        if let Some(rel) = excluded {
            self.shell.excluded.push(rel);
        }
        self.shell.skipped.push((native, reason));
    }

    fn folder(&mut self, rel: &RelPath, meta: &std::fs::Metadata) {
        self.listed.push(Walked {
            rel: rel.clone(),
            meta: fs_safe::Meta::of(meta),
            dir: true,
        });
    }

    fn file(&mut self, file: ListedFile) {
        self.listed.push(Walked {
            rel: file.rel,
            meta: fs_safe::Meta::of(&file.meta),
            dir: false,
        });
    }
}
