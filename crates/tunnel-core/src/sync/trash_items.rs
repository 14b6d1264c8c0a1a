//! The local trash as people use it: list what is in a folder's `.sber-tunnel-trash` (with the
//! journal's record of each file where there is one: original path, when, why, which
//! device's change), put a file back, and empty it.
//!
//! Restoring never overwrites: when the original path is taken (always so for the previous
//! content of a file another device's edit replaced), the file comes back beside it as
//! `name (restored).ext` (`name (restored 2).ext`, …). The restored file is an ordinary local
//! change that the next sync sends to every device.

use std::io;
use std::path::{Path, PathBuf};

use crate::fs_safe;
use crate::journal::{TrashReason, TrashRecord};
use crate::rel_path::RelPath;

use super::trash::{parse_day, TRASH_DIR};

/// Most `(restored N)` names tried for one restore.
const RESTORE_NAME_TRIES: u32 = 100;

/// One file in a folder's trash.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TrashItem {
    /// Where it was, relative to the folder (for a file without a record: what its place in
    /// the trash tells, numbers given to clashing names included).
    pub path: String,
    /// Where it is, relative to the folder's trash (`2026-01-31/docs/a.txt`).
    pub in_trash: String,
    /// When it went there (Unix seconds; without a record: the start of its day, UTC).
    pub at: i64,
    /// Why (unknown without a record: trashed by an older version).
    pub reason: Option<TrashReason>,
    /// The device whose change it was, when known.
    pub device: Option<String>,
    /// Size in bytes (of the file in the trash).
    pub size: u64,
}

/// Everything in `root`'s trash, newest first, and the records whose file is no longer there
/// (emptied by hand or pruned: the caller forgets them). A trash that is missing is empty; one
/// that is a link or a file is refused.
pub fn list_trash(
    root: &Path,
    records: &[TrashRecord],
) -> io::Result<(Vec<TrashItem>, Vec<String>)> {
    let trash = root.join(TRASH_DIR);
    let mut files = Vec::new();
    match std::fs::symlink_metadata(&trash) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
        Ok(m) if !m.is_dir() => {
            return Err(io::Error::other(format!(
                "{} is not a folder (a link or a file is in the way)",
                trash.display()
            )))
        }
        Ok(_) => walk(&trash, "", &mut files)?,
    }
    let mut items: Vec<TrashItem> = files
        .into_iter()
        .map(
            |(in_trash, size)| match records.iter().find(|r| r.in_trash == in_trash) {
                Some(r) => TrashItem {
                    path: r.path.to_string(),
                    in_trash,
                    at: r.at,
                    reason: Some(r.reason),
                    device: r.device.clone(),
                    size,
                },
                None => {
                    let (day, rest) = in_trash.split_once('/').unwrap_or(("", &in_trash));
                    TrashItem {
                        path: rest.to_string(),
                        at: parse_day(day)
                            .map(|d| d.midnight().assume_utc().unix_timestamp())
                            .unwrap_or(0),
                        in_trash: in_trash.clone(),
                        reason: None,
                        device: None,
                        size,
                    }
                }
            },
        )
        .collect();
    items.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.in_trash.cmp(&a.in_trash)));
    let stale = records
        .iter()
        .filter(|r| !items.iter().any(|i| i.in_trash == r.in_trash))
        .map(|r| r.in_trash.clone())
        .collect();
    Ok((items, stale))
}

/// The regular files below `dir` (links and special files are passed by), as paths relative
/// to the trash with `/`, and their sizes.
fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, u64)>) -> io::Result<()> {
    for e in std::fs::read_dir(dir)?.flatten() {
        let Ok(t) = e.file_type() else { continue };
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = match prefix {
            "" => name,
            p => format!("{p}/{name}"),
        };
        if t.is_dir() {
            walk(&e.path(), &rel, out)?;
        } else if t.is_file() && rel.contains('/') {
            out.push((rel, e.metadata().map(|m| m.len()).unwrap_or(0)));
        }
    }
    Ok(())
}

/// `at` (Unix seconds) as people read it in a trash listing: `2026-01-31 14:05 UTC`.
pub fn trash_time(at: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| at.to_string())
}

/// `name (restored).ext`, then `name (restored 2).ext`…
/// (a name at the file name limit, such as a conflict copy of a conflict copy, gives way in
/// its stem).
pub fn restored_name(name: &str, n: u32) -> String {
    let tag = match n {
        0 | 1 => "restored".to_string(),
        n => format!("restored {n}"),
    };
    super::trash::marked(name, &format!(" ({tag})"))
}

/// The folder of the trash holding `in_trash`, and its name there (no link followed).
fn open_in_trash<'a>(root: &Path, in_trash: &'a str) -> io::Result<(fs_safe::Dir, &'a str)> {
    let rel = RelPath::new(in_trash)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let trash = fs_safe::Dir::root(root)?.open_dir(TRASH_DIR)?;
    let parts: Vec<&'a str> = in_trash.split('/').collect();
    let (name, dirs) = parts
        .split_last()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty path"))?;
    debug_assert_eq!(rel.components().count(), parts.len());
    Ok((trash.walk(dirs.iter().copied(), false)?, name))
}

/// Put `item` back in `root`: at its original path, or beside it as `name (restored).ext`
/// when that is taken; with `to`, into the folder `to` under its own name (the same rule when
/// taken). Nothing is ever overwritten: the new name is made with a hard link (which fails
/// when the name exists), or, where the disk has none, after a check. Returns the new path.
pub fn restore_from_trash(root: &Path, item: &TrashItem, to: Option<&Path>) -> io::Result<PathBuf> {
    let (src, src_name) = open_in_trash(root, &item.in_trash)?;
    let original = RelPath::new(&item.path)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let (dest, name) = match to {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            (fs_safe::Dir::root(dir)?, original.file_name())
        }
        None => fs_safe::parent_of(root, &original, true)?,
    };
    for n in 1..=RESTORE_NAME_TRIES {
        let candidate = match n {
            1 => name.to_string(),
            n => restored_name(name, n - 1),
        };
        if dest.stat(&candidate)?.is_some() {
            continue;
        }
        match src.hard_link(src_name, &dest, &candidate) {
            Ok(()) => {
                src.remove_file(src_name)?;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            // No hard links (another disk, FAT): moved, or copied across disks.
            Err(_) => {
                if src.rename(src_name, &dest, &candidate).is_err() {
                    let mut from = src.open_file(src_name)?;
                    let mut out = dest.create_new(&candidate)?;
                    std::io::copy(&mut from, &mut out)?;
                    if let Ok(m) = from.metadata().and_then(|m| m.modified()) {
                        let _ = out.set_modified(m);
                    }
                    out.sync_all()?;
                    src.remove_file(src_name)?;
                }
            }
        }
        dest.sync();
        let restored = dest.path().join(candidate);
        // On Windows an open folder handle keeps the folder from being removed (fs_safe holds
        // folders without FILE_SHARE_DELETE): let go of both before the trash is tidied.
        drop(src);
        drop(dest);
        remove_empty_folders(root, &item.in_trash);
        return Ok(restored);
    }
    Err(io::Error::other(format!(
        "no free name for {name} in {}",
        dest.path().display()
    )))
}

/// Remove from `root`'s trash the items trashed more than `older_than_days` days before `now`
/// (every item with `None`). Returns the places removed.
pub fn empty_trash(
    root: &Path,
    items: &[TrashItem],
    older_than_days: Option<u64>,
    now: i64,
) -> io::Result<Vec<String>> {
    let mut removed = Vec::new();
    for item in items {
        if let Some(days) = older_than_days {
            let limit = i64::try_from(days.saturating_mul(86_400)).unwrap_or(i64::MAX);
            if now.saturating_sub(item.at) <= limit {
                continue;
            }
        }
        let (dir, name) = open_in_trash(root, &item.in_trash)?;
        match dir.remove_file(name) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        // Let go of the folder first: on Windows an open handle keeps it from being removed.
        drop(dir);
        remove_empty_folders(root, &item.in_trash);
        removed.push(item.in_trash.clone());
    }
    Ok(removed)
}

/// Remove the folders above `in_trash` inside the trash that are empty now (day folders too).
fn remove_empty_folders(root: &Path, in_trash: &str) {
    let Ok(trash) = fs_safe::Dir::root(root).and_then(|t| t.open_dir(TRASH_DIR)) else {
        return;
    };
    let parts: Vec<&str> = in_trash.split('/').collect();
    for depth in (1..parts.len()).rev() {
        let (name, dirs) = (parts[depth - 1], &parts[..depth - 1]);
        let Ok(dir) = trash.walk(dirs.iter().copied(), false) else {
            return;
        };
        if dir.remove_dir(name).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(root: &Path, in_trash: &str, content: &[u8]) {
        let p = root.join(TRASH_DIR).join(in_trash);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }

    fn record(path: &str, in_trash: &str, at: i64) -> TrashRecord {
        TrashRecord {
            path: RelPath::new(path).expect("path"),
            in_trash: in_trash.into(),
            at,
            reason: TrashReason::Replaced,
            device: Some("dev-b".into()),
            size: 3,
        }
    }

    #[test]
    fn listing_joins_records_and_lists_files_without_one_from_their_path() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path();
        assert_eq!(list_trash(root, &[]).expect("no trash"), (vec![], vec![]));
        put(root, "2026-01-02/docs/a.txt", b"new");
        put(root, "2025-12-31/old.txt", b"older version");
        let records = [
            record("docs/a.txt", "2026-01-02/docs/a.txt", 1_767_400_000),
            record("gone.txt", "2026-01-02/gone.txt", 1_767_400_001),
        ];
        let (items, stale) = list_trash(root, &records).expect("list");
        assert_eq!(stale, vec!["2026-01-02/gone.txt".to_string()]);
        assert_eq!(items.len(), 2, "{items:?}");
        assert_eq!(items[0].path, "docs/a.txt");
        assert_eq!(items[0].reason, Some(TrashReason::Replaced));
        assert_eq!(items[0].device.as_deref(), Some("dev-b"));
        assert_eq!(items[0].size, 3);
        assert_eq!(
            items[1],
            TrashItem {
                path: "old.txt".into(),
                in_trash: "2025-12-31/old.txt".into(),
                at: 1_767_139_200,
                reason: None,
                device: None,
                size: 13,
            },
            "an unrecorded file: what its path tells"
        );
    }

    #[test]
    fn restore_puts_a_file_back_and_never_overwrites() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path();
        put(root, "2026-01-02/docs/a.txt", b"v1");
        put(root, "2026-01-03/docs/a.txt", b"v2");
        put(root, "2026-01-04/docs/.hidden", b"h");
        let (items, _) = list_trash(root, &[]).expect("list");
        let find = |t: &str| {
            items
                .iter()
                .find(|i| i.in_trash == t)
                .expect("item")
                .clone()
        };
        // The folder is gone here: made again.
        let p = restore_from_trash(root, &find("2026-01-02/docs/a.txt"), None).expect("restore");
        assert_eq!(p, root.join("docs/a.txt"));
        assert_eq!(std::fs::read(&p).expect("back"), b"v1");
        assert!(
            !root.join(TRASH_DIR).join("2026-01-02").exists(),
            "empty folders go"
        );
        // Taken: beside it.
        let p = restore_from_trash(root, &find("2026-01-03/docs/a.txt"), None).expect("restore");
        assert_eq!(p, root.join("docs/a (restored).txt"));
        assert_eq!(std::fs::read(root.join("docs/a.txt")).expect("kept"), b"v1");
        assert_eq!(std::fs::read(&p).expect("beside"), b"v2");
        // Into another folder.
        let out = tmp.path().join("elsewhere");
        let p = restore_from_trash(root, &find("2026-01-04/docs/.hidden"), Some(&out))
            .expect("restore to");
        assert_eq!(p, out.join(".hidden"));
        assert_eq!(trash_time(1_767_225_600 + 3_900), "2026-01-01 01:05 UTC");
        assert_eq!(restored_name(".hidden", 2), ".hidden (restored 2)");
        assert_eq!(restored_name("a.tar.gz", 1), "a.tar (restored).gz");
        assert!(list_trash(root, &[]).expect("list").0.is_empty());
    }

    #[test]
    fn a_name_at_the_limit_is_put_back_beside_itself_under_a_shortened_name() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path();
        let name = format!("{}.txt", "n".repeat(251));
        assert_eq!(name.len(), 255);
        put(root, &format!("2026-01-02/{name}"), b"old");
        std::fs::write(root.join(&name), b"new").expect("write");
        let (items, _) = list_trash(root, &[]).expect("list");
        let p =
            restore_from_trash(root, &items[0], None).expect("restored beside, not ENAMETOOLONG");
        let beside = p.file_name().expect("name").to_str().expect("utf-8");
        assert_eq!(beside.len(), 255, "{beside}");
        assert!(beside.ends_with("n (restored).txt"), "{beside}");
        assert_eq!(std::fs::read(&p).expect("beside"), b"old");
        assert_eq!(std::fs::read(root.join(&name)).expect("kept"), b"new");
        assert!(restored_name(&name, 7).len() <= 255);
        assert!(restored_name(&"é".repeat(127), 2).len() <= 255);
    }

    #[test]
    fn empty_removes_what_is_older_than_asked_or_everything() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path();
        put(root, "2026-01-01/old.txt", b"o");
        put(root, "2026-01-09/new.txt", b"n");
        let (items, _) = list_trash(root, &[]).expect("list");
        let now = 1_767_225_600 + 10 * 86_400; // 2026-01-11
        let removed = empty_trash(root, &items, Some(5), now).expect("empty");
        assert_eq!(removed, vec!["2026-01-01/old.txt".to_string()]);
        let (left, _) = list_trash(root, &[]).expect("list");
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].path, "new.txt");
        empty_trash(root, &left, None, now).expect("empty all");
        assert!(list_trash(root, &[]).expect("list").0.is_empty());
        assert!(
            root.join(TRASH_DIR).exists(),
            "the trash folder itself stays"
        );
    }
}
