//! The listing pass: walk the folder depth-first in name order, leave out what the skip rules
//! say, record folders, and hand back the regular files found (hashed or taken from the cache
//! afterwards).

use std::ffi::OsString;
use std::fs::{FileType, Metadata};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ignore::gitignore::Gitignore;
use tracing::{debug, warn};

use super::rules::{attribute_skip_reason, is_ignored, load_ignore_file, name_skip_reason};
use super::{LocalScan, ScanError, SkipReason, IGNORE_FILE};
use crate::chunk;
use crate::fs_safe;
use crate::manifest::EntryKind;
use crate::plan::LocalEntry;
use crate::rel_path::RelPath;

/// A regular file the listing kept, with what the listing saw of it.
pub(super) struct ListedFile {
    pub(super) rel: RelPath,
    pub(super) native: PathBuf,
    pub(super) meta: Metadata,
}

/// One folder waiting to be listed, with the ignore matchers that apply inside it
/// (outermost first).
struct Frame {
    native: PathBuf,
    rel: Option<RelPath>,
    matchers: Vec<Arc<Gitignore>>,
}

/// What one name of a listing turned out to be, once kept.
enum Kept {
    Folder(Frame),
    File(ListedFile),
}

/// Walk `root`, recording in `scan` its folders, the paths skipped or unreadable, and the
/// `.sbtignore` rules found; return the files kept, in listing order.
pub(super) fn walk(root: &Path, scan: &mut LocalScan) -> Result<Vec<ListedFile>, ScanError> {
    let extra = scan.rules.extra.clone();
    let mut files = Vec::new();
    let mut stack = vec![Frame {
        native: root.to_owned(),
        rel: None,
        matchers: Vec::new(),
    }];
    while let Some(frame) = stack.pop() {
        let Some(matchers) = folder_matchers(&frame, scan)? else {
            continue;
        };
        let Some(listing) = list_folder(root, &frame, scan)? else {
            continue;
        };
        let mut subdirs = Vec::new();
        for (name, native) in listing {
            match visit(&frame, &matchers, extra.as_deref(), name, native, scan) {
                Some(Kept::Folder(sub)) => subdirs.push(sub),
                Some(Kept::File(file)) => files.push(file),
                None => {}
            }
        }
        // Depth-first, in name order (the stack pops the last pushed first).
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(files)
}

/// The matchers that apply inside `frame`: its parent's, plus its own `.sbtignore` (kept in
/// `scan.rules`). `None` when that file is unusable: the folder is unreadable (the root's:
/// nothing can be scanned safely, an error).
fn folder_matchers(
    frame: &Frame,
    scan: &mut LocalScan,
) -> Result<Option<Vec<Arc<Gitignore>>>, ScanError> {
    let mut matchers = frame.matchers.clone();
    match load_ignore_file(&frame.native) {
        Ok(Some(gi)) => {
            let gi = Arc::new(gi);
            let at = frame.rel.as_ref().map_or("", RelPath::as_str).to_string();
            scan.rules.by_dir.insert(at, Arc::clone(&gi));
            matchers.push(gi);
        }
        Ok(None) => {}
        Err(reason) => match &frame.rel {
            Some(rel) => {
                scan.unreadable.push((rel.clone(), reason));
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
    scan: &mut LocalScan,
) -> Result<Option<Vec<(OsString, PathBuf)>>, ScanError> {
    match list_dir(&frame.native) {
        Ok(l) => Ok(Some(l)),
        Err(e) => match &frame.rel {
            Some(rel) => {
                scan.unreadable
                    .push((rel.clone(), format!("cannot list the folder: {e}")));
                Ok(None)
            }
            None => Err(ScanError::RootUnreadable {
                path: root.to_owned(),
                source: e,
            }),
        },
    }
}

/// Judge one name of `frame`'s listing: skipped (recorded in `scan`), or kept as a folder
/// (recorded, and returned to be listed) or a file (returned to be hashed).
fn visit(
    frame: &Frame,
    matchers: &[Arc<Gitignore>],
    extra: Option<&Gitignore>,
    name: OsString,
    native: PathBuf,
    scan: &mut LocalScan,
) -> Option<Kept> {
    let meta = match std::fs::symlink_metadata(&native) {
        Ok(m) => m,
        Err(e) => {
            // Vanished between listing and stat: it is simply not there any more.
            if e.kind() != std::io::ErrorKind::NotFound {
                if let Some(rel) = child_rel(&frame.rel, &name) {
                    let reason = if crate::in_use::is_in_use(&e) {
                        scan.in_use.push(rel.clone());
                        crate::in_use::IN_USE_REASON.to_string()
                    } else {
                        e.to_string()
                    };
                    scan.unreadable.push((rel, reason));
                }
            }
            return None;
        }
    };
    let Some(name) = name.to_str() else {
        scan.skipped.push((
            native,
            SkipReason::InvalidName("the name is not valid UTF-8".into()),
        ));
        return None;
    };
    let candidate = match &frame.rel {
        Some(parent) => RelPath::new(&format!("{}/{name}", parent.as_str())),
        None => RelPath::new(name),
    };
    let ft = meta.file_type();
    if let Some(reason) = skip_reason(name, &meta, &native) {
        if let Ok(rel) = candidate {
            if rel.file_name() == name {
                scan.excluded.push(rel);
            }
        }
        scan.skipped.push((native, reason));
        return None;
    }
    let rel = match candidate {
        Ok(r) => r,
        Err(e) => {
            scan.skipped
                .push((native, SkipReason::InvalidName(e.to_string())));
            return None;
        }
    };
    if !cfg!(target_os = "macos") && rel.file_name() != name {
        // Stored NFC; a decomposed name on a byte-exact file system would be written
        // back under another name.
        scan.skipped.push((
            native,
            SkipReason::InvalidName("the name is not in Unicode NFC form".into()),
        ));
        return None;
    }
    let is_dir = ft.is_dir();
    if is_ignored(&native, is_dir, matchers, extra) {
        debug!(path = %rel, "ignored");
        scan.excluded.push(rel);
        scan.skipped.push((native, SkipReason::Ignored));
        return None;
    }
    if !is_dir {
        return Some(Kept::File(ListedFile { rel, native, meta }));
    }
    scan.entries.insert(
        rel.clone(),
        LocalEntry {
            kind: EntryKind::Dir,
            size: 0,
            mtime_ns: chunk::mtime_ns(&meta),
            sha256: None,
        },
    );
    Some(Kept::Folder(Frame {
        native,
        rel: Some(rel),
        matchers: matchers.to_vec(),
    }))
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
