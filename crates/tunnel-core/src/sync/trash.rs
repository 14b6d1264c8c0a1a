//! The local trash: files deleted here because another device deleted them, and the previous
//! content of files another device's edit replaced, are kept in `.sber-tunnel-trash/<date>/`
//! inside the synced folder for `sync.trash-keep-days` (30 by default), reached without
//! following links; a file that cannot be kept there stays where it is (not deleted, not
//! replaced). Listing, restoring and emptying are in `trash_items`; the journal's `trash`
//! table records each file put here.

use super::*;

/// Hidden folder in each synced folder where files deleted by another device are kept.
pub const TRASH_DIR: &str = ".sber-tunnel-trash";

/// Most numbered alternatives tried for one name in the trash (`a (2)` … ).
const TRASH_NAME_TRIES: u32 = 100;

/// Move a file that another device deleted into `root/.sber-tunnel-trash/<date>/<path>`, so a
/// deletion that was a mistake can be undone; returns where it went, relative to the trash
/// (`2026-01-31/docs/a.txt`). Everything is reached without following links (a
/// `.sber-tunnel-trash` that is a file or a link, planted or not, is refused), and a name
/// already taken in the trash by something else (the file `a` trashed earlier the same day,
/// then `a/b`) gets a number: `a (2)/b`, `notes (2).txt`.
///
/// It never deletes: when the move fails the file stays where it is and the error says why.
/// A `NotFound` error means the file itself is gone.
pub(crate) fn move_to_trash(root: &Path, rel: &RelPath) -> std::io::Result<String> {
    let (src, name) = fs_safe::parent_of(root, rel, false)?;
    let (dir, dest, in_trash) = trash_slot(root, rel)?;
    src.rename(name, &dir, &dest)?;
    Ok(in_trash)
}

/// Keep the current content of `name` in `src` (the file `rel` that a download is about to
/// replace) in the trash, without moving it: a second name (a hard link) is made in
/// `.sber-tunnel-trash/<date>/<path>`, so the file is never missing from its place — a crash
/// at any moment leaves it there, never something a restart would read as a local deletion.
/// Where the disk has no hard links (FAT, some network shares) the file is copied instead.
/// Returns where the content was kept, relative to the trash; the caller removes it again
/// (with [`forget_kept`]) when the replacement does not happen after all.
pub(crate) fn keep_previous(
    root: &Path,
    rel: &RelPath,
    src: &fs_safe::Dir,
    name: &str,
) -> std::io::Result<String> {
    let (dir, dest, in_trash) = trash_slot(root, rel)?;
    if let Err(link_err) = src.hard_link(name, &dir, &dest) {
        if let Err(e) = copy_into(src, name, &dir, &dest) {
            let _ = dir.remove_file(&dest);
            return Err(std::io::Error::other(format!(
                "the trash: no hard link ({link_err}), no copy ({e})"
            )));
        }
    }
    dir.sync();
    Ok(in_trash)
}

/// Remove what [`keep_previous`] kept (the replacement it was kept for did not happen).
pub(crate) fn forget_kept(root: &Path, in_trash: &str) {
    let Ok(rel) = RelPath::new(in_trash) else {
        return;
    };
    if let Ok(trash) = fs_safe::Dir::root(root).and_then(|t| t.open_dir(TRASH_DIR)) {
        let parts: Vec<&str> = rel.components().collect();
        if let Some((name, dirs)) = parts.split_last() {
            if let Ok(dir) = trash.walk(dirs.iter().copied(), false) {
                let _ = dir.remove_file(name);
            }
        }
    }
}

/// Copy the regular file `name` in `src` to the new file `to` in `dest`, its mtime kept.
fn copy_into(src: &fs_safe::Dir, name: &str, dest: &fs_safe::Dir, to: &str) -> std::io::Result<()> {
    let mut from = src.open_file(name)?;
    let mut out = dest.create_new(to)?;
    std::io::copy(&mut from, &mut out)?;
    if let Ok(m) = from.metadata().and_then(|m| m.modified()) {
        let _ = out.set_modified(m);
    }
    out.sync_all()
}

/// The folder in today's trash where `rel` goes (made when missing), the free name for it
/// there, and that place relative to the trash root with `/` separators. Errors are never
/// `NotFound` (that would read as "the file is gone").
fn trash_slot(root: &Path, rel: &RelPath) -> std::io::Result<(fs_safe::Dir, String, String)> {
    let day = time::OffsetDateTime::now_utc().date().to_string();
    let trash_err = |e: std::io::Error| std::io::Error::other(format!("the trash: {e}"));
    let parts: Vec<&str> = rel.components().collect();
    let (name, dirs) = parts
        .split_last()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty path"))?;
    let top = fs_safe::Dir::root(root)
        .and_then(|top| top.open_or_create_dir(TRASH_DIR))
        .map_err(trash_err)?;
    let mut dir = top.open_or_create_dir(&day).map_err(trash_err)?;
    let mut in_trash = vec![day];
    for part in dirs {
        let (next, used) = trash_subfolder(&dir, part).map_err(trash_err)?;
        dir = next;
        in_trash.push(used);
    }
    let dest = trash_free_name(&dir, name).map_err(trash_err)?;
    in_trash.push(dest.clone());
    Ok((dir, dest, in_trash.join("/")))
}

/// `name`, then `name (2)`, `name (3)`… (before the extension of a file name), never longer
/// than a file name may be: the stem gives way (a name of 255 bytes, such as a conflict copy
/// of a conflict copy, put in the trash twice in one day; the caller tries the next number
/// when a shortened name is taken).
pub(super) fn numbered(name: &str, n: u32) -> String {
    if n <= 1 {
        return name.to_string();
    }
    marked(name, &format!(" ({n})"))
}

/// `name` with `mark` before the extension of a file name, the stem shortened so that the
/// whole stays within a file name's limit (see [`numbered`]).
pub(super) fn marked(name: &str, mark: &str) -> String {
    let max = crate::rel_path::MAX_COMPONENT_BYTES;
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 && name.len() - i + mark.len() < max => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    let room = max - mark.len() - ext.len();
    format!("{}{mark}{ext}", crate::plan::truncate_bytes(stem, room))
}

/// The folder `name` in `dir` (made when missing), or a numbered one when a file or a link
/// already holds the name; and the name used.
fn trash_subfolder(dir: &fs_safe::Dir, name: &str) -> std::io::Result<(fs_safe::Dir, String)> {
    for n in 1..=TRASH_NAME_TRIES {
        let candidate = numbered(name, n);
        match dir.open_or_create_dir(&candidate) {
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => continue,
            other => return other.map(|d| (d, candidate)),
        }
    }
    Err(std::io::Error::other(format!(
        "no free name for {name} in {}",
        dir.path().display()
    )))
}

/// A name not yet used in `dir`: `name`, or a numbered one.
pub(super) fn trash_free_name(dir: &fs_safe::Dir, name: &str) -> std::io::Result<String> {
    for n in 1..=TRASH_NAME_TRIES {
        let candidate = numbered(name, n);
        if dir.stat(&candidate)?.is_none() {
            return Ok(candidate);
        }
    }
    Err(std::io::Error::other(format!(
        "no free name for {name} in {}",
        dir.path().display()
    )))
}

/// Remove day folders of the trash older than `keep_days`; returns the day folders removed.
/// A `.sber-tunnel-trash` that is not a real folder (a link planted to make us delete
/// elsewhere) is left alone.
pub(crate) fn prune_trash(root: &Path, keep_days: u64) -> Vec<String> {
    let mut removed = Vec::new();
    let trash = root.join(TRASH_DIR);
    if !std::fs::symlink_metadata(&trash).is_ok_and(|m| m.is_dir()) {
        return removed;
    }
    let Ok(rd) = std::fs::read_dir(&trash) else {
        return removed;
    };
    let today = time::OffsetDateTime::now_utc().date();
    let keep = i64::try_from(keep_days).unwrap_or(i64::MAX);
    for e in rd.flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(day) = parse_day(&name) else {
            continue;
        };
        if (today - day).whole_days() > keep && std::fs::remove_dir_all(e.path()).is_ok() {
            removed.push(name);
        }
    }
    removed
}

/// The date of a day folder of the trash (`2026-01-31`).
pub(crate) fn parse_day(name: &str) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(name, &format).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(s: &str) -> RelPath {
        RelPath::new(s).expect("valid path")
    }

    /// The previous content gets a second name in the trash while the file stays in place —
    /// the state a crash between this step and the rename of the new content leaves behind:
    /// nothing missing, nothing a restart could read as a local deletion.
    #[test]
    fn numbered_names_stay_within_a_file_name_s_limit() {
        assert_eq!(numbered("a.txt", 1), "a.txt");
        assert_eq!(numbered("a.txt", 2), "a (2).txt");
        assert_eq!(numbered("notes", 3), "notes (3)");
        let long = "x".repeat(255);
        let second = numbered(&long, 2);
        assert_eq!(second.len(), 255);
        assert!(second.ends_with("x (2)"), "{second}");
        let long_ext = format!("{}.md", "y".repeat(252));
        let second = numbered(&long_ext, 12);
        assert_eq!(second.len(), 255);
        assert!(second.ends_with("y (12).md"), "{second}");
        // A dot far to the left is no extension to keep whole.
        let dotted = format!("a.{}", "z".repeat(253));
        assert!(numbered(&dotted, 2).len() <= 255);
        assert!(numbered("é".repeat(127).as_str(), 2).len() <= 255);
    }

    #[test]
    fn a_name_of_255_bytes_goes_to_the_trash_twice_in_one_day() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path();
        let name = "c".repeat(255);
        std::fs::write(root.join(&name), b"first").expect("write");
        let r = rel(&name);
        let (dir, n) = fs_safe::parent_of(root, &r, false).expect("parent");
        let first = keep_previous(root, &r, &dir, n).expect("kept once");
        std::fs::write(root.join(&name), b"second").expect("write");
        let second = keep_previous(root, &r, &dir, n).expect("kept again, under a shortened name");
        assert_ne!(first, second);
        assert_eq!(
            std::fs::read(root.join(TRASH_DIR).join(&second)).expect("in the trash"),
            b"second"
        );
    }

    #[test]
    fn keep_previous_links_the_file_into_the_trash_and_leaves_it_in_place() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path();
        std::fs::create_dir_all(root.join("docs")).expect("mkdir");
        std::fs::write(root.join("docs/a.txt"), b"old content").expect("write");
        let r = rel("docs/a.txt");
        let (dir, name) = fs_safe::parent_of(root, &r, false).expect("parent");
        let kept = keep_previous(root, &r, &dir, name).expect("kept");
        let day = time::OffsetDateTime::now_utc().date().to_string();
        assert_eq!(kept, format!("{day}/docs/a.txt"));
        assert_eq!(
            std::fs::read(root.join("docs/a.txt")).expect("still in place"),
            b"old content"
        );
        let in_trash = root.join(TRASH_DIR).join(&kept);
        assert_eq!(
            std::fs::read(&in_trash).expect("in the trash"),
            b"old content"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let (a, b) = (
                std::fs::metadata(root.join("docs/a.txt")).expect("meta"),
                std::fs::metadata(&in_trash).expect("meta"),
            );
            assert_eq!(a.ino(), b.ino(), "a hard link, not a copy");
        }
        // The new content takes the place; the trash keeps the old one.
        std::fs::write(root.join("docs/.new"), b"new").expect("write");
        std::fs::rename(root.join("docs/.new"), root.join("docs/a.txt")).expect("rename");
        assert_eq!(std::fs::read(&in_trash).expect("kept"), b"old content");
        // A second replacement the same day gets a numbered name; forget_kept removes one.
        let kept2 = keep_previous(root, &r, &dir, name).expect("kept again");
        assert_eq!(kept2, format!("{day}/docs/a (2).txt"));
        forget_kept(root, &kept2);
        assert!(!root.join(TRASH_DIR).join(&kept2).exists());
        assert!(in_trash.exists(), "only the one asked for");
    }

    #[test]
    fn keep_previous_never_writes_through_a_planted_trash_and_keeps_the_file() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path();
        std::fs::write(root.join("a.txt"), b"old").expect("write");
        std::fs::write(root.join(TRASH_DIR), b"not a folder").expect("plant");
        let r = rel("a.txt");
        let (dir, name) = fs_safe::parent_of(root, &r, false).expect("parent");
        let e = keep_previous(root, &r, &dir, name).expect_err("refused");
        assert_ne!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
        assert_eq!(std::fs::read(root.join("a.txt")).expect("kept"), b"old");
    }

    #[test]
    fn prune_removes_only_day_folders_older_than_the_setting() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path();
        let today = time::OffsetDateTime::now_utc().date();
        let old = (today - time::Duration::days(8)).to_string();
        let recent = (today - time::Duration::days(6)).to_string();
        for d in [&old, &recent] {
            std::fs::create_dir_all(root.join(TRASH_DIR).join(d)).expect("mkdir");
        }
        assert!(prune_trash(root, 30).is_empty(), "30 days: nothing");
        assert_eq!(
            prune_trash(root, 7),
            vec![old.clone()],
            "7 days: the 8-day-old one"
        );
        assert!(root.join(TRASH_DIR).join(&recent).exists());
    }
}
