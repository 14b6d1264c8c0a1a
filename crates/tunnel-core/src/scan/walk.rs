//! The listing pass: walk the folder depth-first in name order, leave out what the skip rules
//! say, and report every name to a [`Sink`] — the full scan records folders and collects the
//! regular files (hashed or taken from the cache afterwards); the no-change check only needs
//! the [`Listing`] digest the walk feeds on the way, and holds nothing else.

use std::ffi::OsString;
use std::fs::{FileType, Metadata};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ignore::gitignore::Gitignore;
use tracing::{debug, warn};

use super::listing::Listing;
use super::rules::{attribute_skip_reason, is_ignored, load_ignore_file, name_skip_reason};
use super::{ScanError, SkipReason, IGNORE_FILE};
use crate::chunk;
use crate::fs_safe;
use crate::rel_path::RelPath;

/// A regular file the listing kept, with what the listing saw of it.
pub(super) struct ListedFile {
    pub(super) rel: RelPath,
    pub(super) meta: Metadata,
}

/// What the walk found, name by name, in walk order.
pub(super) trait Sink {
    /// The `.sbtignore` of the folder `at` (`""`: the root), parsed, and its `text`.
    fn ignore_rules(&mut self, at: &str, rules: &Arc<Gitignore>, text: &str);
    /// A path that could not be read (a folder: everything below it); `in_use` when another
    /// program holds it.
    fn unreadable(&mut self, rel: RelPath, reason: String, in_use: bool);
    /// A name left out on purpose; `excluded` is its path when it is a valid [`RelPath`].
    fn skipped(&mut self, native: PathBuf, reason: SkipReason, excluded: Option<RelPath>);
    /// A folder kept (listed next, depth-first).
    fn folder(&mut self, rel: &RelPath, meta: &Metadata);
    /// A regular file kept.
    fn file(&mut self, file: ListedFile);
}

/// One folder waiting to be listed, with the ignore matchers that apply inside it
/// (outermost first).
struct Frame {
    native: PathBuf,
    rel: Option<RelPath>,
    matchers: Vec<Arc<Gitignore>>,
}

/// Walk `root` under the configured `extra` ignore patterns, reporting every name to `sink`
/// and feeding `listing`. Only the walk's pending folders are held, never the tree.
pub(super) fn walk(
    root: &Path,
    extra: Option<&Gitignore>,
    sink: &mut dyn Sink,
    listing: &mut Listing,
) -> Result<(), ScanError> {
    let mut stack = vec![Frame {
        native: root.to_owned(),
        rel: None,
        matchers: Vec::new(),
    }];
    while let Some(frame) = stack.pop() {
        let Some(matchers) = folder_matchers(&frame, sink, listing)? else {
            continue;
        };
        let Some(names) = list_folder(root, &frame, sink, listing)? else {
            continue;
        };
        let mut subdirs = Vec::new();
        for (name, native) in names {
            if let Some(sub) = visit(&frame, &matchers, extra, name, native, sink, listing) {
                subdirs.push(sub);
            }
        }
        // Depth-first, in name order (the stack pops the last pushed first).
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(())
}

/// The matchers that apply inside `frame`: its parent's, plus its own `.sbtignore` (reported
/// to the sink). `None` when that file is unusable: the folder is unreadable (the root's:
/// nothing can be scanned safely, an error).
fn folder_matchers(
    frame: &Frame,
    sink: &mut dyn Sink,
    listing: &mut Listing,
) -> Result<Option<Vec<Arc<Gitignore>>>, ScanError> {
    let mut matchers = frame.matchers.clone();
    match load_ignore_file(&frame.native) {
        Ok(Some((gi, text))) => {
            let gi = Arc::new(gi);
            let at = frame.rel.as_ref().map_or("", RelPath::as_str);
            listing.ignore_file(at, &text);
            sink.ignore_rules(at, &gi, &text);
            matchers.push(gi);
        }
        Ok(None) => {}
        Err(reason) => match &frame.rel {
            Some(rel) => {
                listing.unreadable();
                sink.unreadable(rel.clone(), reason, false);
                return Ok(None);
            }
            // The root's own ignore rules are unusable: nothing can be scanned safely.
            None => {
                return Err(ScanError::BadIgnore {
                    pattern: IGNORE_FILE.into(),
                    message: reason,
                })
            }
        },
    }
    Ok(Some(matchers))
}

/// The names in `frame`'s folder, sorted; `None` when a subfolder cannot be listed (it is
/// unreadable; the root: an error).
fn list_folder(
    root: &Path,
    frame: &Frame,
    sink: &mut dyn Sink,
    listing: &mut Listing,
) -> Result<Option<Vec<(OsString, PathBuf)>>, ScanError> {
    match list_dir(&frame.native) {
        Ok(l) => Ok(Some(l)),
        Err(e) => match &frame.rel {
            Some(rel) => {
                listing.unreadable();
                sink.unreadable(rel.clone(), format!("cannot list the folder: {e}"), false);
                Ok(None)
            }
            None => Err(ScanError::RootUnreadable {
                path: root.to_owned(),
                source: e,
            }),
        },
    }
}

/// Judge one name of `frame`'s listing: skipped or kept as a file (both reported to the
/// sink), or kept as a folder (reported, and returned to be listed).
fn visit(
    frame: &Frame,
    matchers: &[Arc<Gitignore>],
    extra: Option<&Gitignore>,
    name: OsString,
    native: PathBuf,
    sink: &mut dyn Sink,
    listing: &mut Listing,
) -> Option<Frame> {
    let meta = match std::fs::symlink_metadata(&native) {
        Ok(m) => m,
        Err(e) => {
            // Vanished between listing and stat: it is simply not there any more.
            if e.kind() != std::io::ErrorKind::NotFound {
                listing.unreadable();
                if let Some(rel) = child_rel(&frame.rel, &name) {
                    let in_use = crate::in_use::is_in_use(&e);
                    let reason = if in_use {
                        crate::in_use::IN_USE_REASON.to_string()
                    } else {
                        e.to_string()
                    };
                    sink.unreadable(rel, reason, in_use);
                }
            } else {
                // Gone between the listing and now: the listing is no longer what is there.
                listing.unreadable();
            }
            return None;
        }
    };
    let Some(name) = name.to_str() else {
        skip(
            native,
            SkipReason::InvalidName("the name is not valid UTF-8".into()),
            None,
            sink,
            listing,
        );
        return None;
    };
    let candidate = match &frame.rel {
        Some(parent) => RelPath::new(&format!("{}/{name}", parent.as_str())),
        None => RelPath::new(name),
    };
    let ft = meta.file_type();
    if let Some(reason) = skip_reason(name, &meta, &native) {
        let excluded = candidate.ok().filter(|rel| rel.file_name() == name);
        skip(native, reason, excluded, sink, listing);
        return None;
    }
    let rel = match candidate {
        Ok(r) => r,
        Err(e) => {
            skip(
                native,
                SkipReason::InvalidName(e.to_string()),
                None,
                sink,
                listing,
            );
            return None;
        }
    };
    if !cfg!(target_os = "macos") && rel.file_name() != name {
        // Stored NFC; a decomposed name on a byte-exact file system would be written
        // back under another name.
        skip(
            native,
            SkipReason::InvalidName("the name is not in Unicode NFC form".into()),
            None,
            sink,
            listing,
        );
        return None;
    }
    let is_dir = ft.is_dir();
    if is_ignored(&native, is_dir, matchers, extra) {
        debug!(path = %rel, "ignored");
        skip(native, SkipReason::Ignored, Some(rel), sink, listing);
        return None;
    }
    if !is_dir {
        listing.file(
            &rel,
            meta.len(),
            chunk::mtime_ns(&meta),
            chunk::inode(&meta),
        );
        sink.file(ListedFile { rel, meta });
        return None;
    }
    listing.folder(&rel, chunk::mtime_ns(&meta));
    sink.folder(&rel, &meta);
    Some(Frame {
        native,
        rel: Some(rel),
        matchers: matchers.to_vec(),
    })
}

fn skip(
    native: PathBuf,
    reason: SkipReason,
    excluded: Option<RelPath>,
    sink: &mut dyn Sink,
    listing: &mut Listing,
) {
    listing.skipped(&native, &reason);
    sink.skipped(native, reason, excluded);
}

/// Why a listed name is left out before any ignore rule is asked: its name, its Windows
/// attributes (hidden, system, a reparse point), or being a link or a special file.
fn skip_reason(name: &str, meta: &Metadata, native: &Path) -> Option<SkipReason> {
    let ft = meta.file_type();
    let reason = name_skip_reason(name)
        .or_else(|| attribute_skip_reason(fs_safe::attrs::of(meta)))
        .or_else(|| type_skip_reason(ft))?;
    if reason == SkipReason::Symlink {
        warn!(path = %native.display(), "skipping a symbolic link, junction or placeholder (links are not synced)");
    }
    Some(reason)
}

/// Links (never followed) and sockets, FIFOs and devices.
fn type_skip_reason(ft: FileType) -> Option<SkipReason> {
    if ft.is_symlink() {
        Some(SkipReason::Symlink)
    } else if !ft.is_file() && !ft.is_dir() {
        Some(SkipReason::Special)
    } else {
        None
    }
}

fn child_rel(parent: &Option<RelPath>, name: &std::ffi::OsStr) -> Option<RelPath> {
    let name = name.to_str()?;
    match parent {
        Some(p) => RelPath::new(&format!("{}/{name}", p.as_str())).ok(),
        None => RelPath::new(name).ok(),
    }
}

/// List a folder, sorted by name.
fn list_dir(dir: &Path) -> std::io::Result<Vec<(OsString, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        out.push((entry.file_name(), entry.path()));
    }
    out.sort();
    Ok(out)
}
