//! The local trash: files deleted here because another device deleted them are kept in
//! `.sber-tunnel-trash/<date>/` inside the synced folder for 30 days, reached without
//! following links; a file that cannot be kept there stays where it is.

use super::*;

/// Hidden folder in each synced folder where files deleted by another device are kept.
pub const TRASH_DIR: &str = ".sber-tunnel-trash";
/// Days a file stays in [`TRASH_DIR`].
pub(super) const TRASH_KEEP_DAYS: i64 = 30;

/// Most numbered alternatives tried for one name in the trash (`a (2)` … ).
const TRASH_NAME_TRIES: u32 = 100;

/// Move a file that another device deleted into `root/.sber-tunnel-trash/<date>/<path>`, so a
/// deletion that was a mistake can be undone by hand; returns where it went. Everything is
/// reached without following links (a `.sber-tunnel-trash` that is a file or a link, planted
/// or not, is refused), and a name already taken in the trash by something else (the file `a`
/// trashed earlier the same day, then `a/b`) gets a number: `a (2)/b`, `notes (2).txt`.
///
/// It never deletes: when the move fails the file stays where it is and the error says why.
/// A `NotFound` error means the file itself is gone.
pub(super) fn move_to_trash(root: &Path, rel: &RelPath) -> std::io::Result<PathBuf> {
    let day = time::OffsetDateTime::now_utc().date().to_string();
    let (src, name) = fs_safe::parent_of(root, rel, false)?;
    // Errors on the trash side are never `NotFound` (that would read as "the file is gone").
    let trash_err = |e: std::io::Error| std::io::Error::other(format!("the trash: {e}"));
    let trash = fs_safe::Dir::root(root)
        .and_then(|top| top.open_or_create_dir(TRASH_DIR))
        .and_then(|t| t.open_or_create_dir(&day))
        .map_err(trash_err)?;
    let parts: Vec<&str> = rel.components().collect();
    let mut dir = trash;
    for part in &parts[..parts.len().saturating_sub(1)] {
        dir = trash_subfolder(&dir, part).map_err(trash_err)?;
    }
    let dest = trash_free_name(&dir, name).map_err(trash_err)?;
    src.rename(name, &dir, &dest)?;
    Ok(dir.path().join(dest))
}

/// `name`, then `name (2)`, `name (3)`… (before the extension of a file name).
pub(super) fn numbered(name: &str, n: u32) -> String {
    if n <= 1 {
        return name.to_string();
    }
    match name.rfind('.') {
        Some(i) if i > 0 => format!("{} ({n}){}", &name[..i], &name[i..]),
        _ => format!("{name} ({n})"),
    }
}

/// The folder `name` in `dir` (made when missing), or a numbered one when a file or a link
/// already holds the name.
pub(super) fn trash_subfolder(dir: &fs_safe::Dir, name: &str) -> std::io::Result<fs_safe::Dir> {
    for n in 1..=TRASH_NAME_TRIES {
        match dir.open_or_create_dir(&numbered(name, n)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => continue,
            other => return other,
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

/// Remove day folders of the trash older than `keep_days`. A `.sber-tunnel-trash` that is not
/// a real folder (a link planted to make us delete elsewhere) is left alone.
pub(super) fn prune_trash(root: &Path, keep_days: i64) {
    let trash = root.join(TRASH_DIR);
    if !std::fs::symlink_metadata(&trash).is_ok_and(|m| m.is_dir()) {
        return;
    }
    let Ok(rd) = std::fs::read_dir(&trash) else {
        return;
    };
    let today = time::OffsetDateTime::now_utc().date();
    let format = time::macros::format_description!("[year]-[month]-[day]");
    for e in rd.flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = e.file_name();
        let Ok(day) = time::Date::parse(&name.to_string_lossy(), &format) else {
            continue;
        };
        if (today - day).whole_days() > keep_days {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
