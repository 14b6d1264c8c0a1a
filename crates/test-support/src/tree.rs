//! A folder as the tests compare it: every visible file by `/`-separated relative path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every visible (not hidden) file under `root` with its content, by `/`-separated relative
/// path. Hidden names are never synced, so they are left out.
pub fn tree_of(root: &Path) -> BTreeMap<String, Vec<u8>> {
    walk(root, false)
}

/// Like [`tree_of`], with every visible folder as an entry `dir/` with empty content (for
/// tests about folders, e.g. type changes and empty folders).
pub fn tree_with_dirs(root: &Path) -> BTreeMap<String, Vec<u8>> {
    walk(root, true)
}

fn walk(root: &Path, with_dirs: bool) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("readable dir").flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            let rel = relative(root, &e.path());
            if e.file_type().expect("file type").is_dir() {
                if with_dirs {
                    out.insert(format!("{rel}/"), Vec::new());
                }
                stack.push(e.path());
            } else {
                out.insert(rel, std::fs::read(e.path()).expect("readable file"));
            }
        }
    }
    out
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .expect("under root")
        .to_string_lossy()
        .replace('\\', "/")
}

/// Hidden files under `root` other than `marker` (the synced folder's own marker file):
/// leftover temporary files of interrupted downloads. A folder that vanishes during the walk
/// is skipped.
pub fn stray_hidden(root: &Path, marker: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(e.path());
            } else if name.starts_with('.') && name != marker {
                out.push(e.path());
            }
        }
    }
    out
}

/// Append a few bytes to the file at `path`: a file that changes while a test reads it (the
/// readers' "changed while read" checks).
pub fn grow(path: &Path) {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open for append")
        .write_all(b"more")
        .expect("append");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_list_visible_files_and_optionally_folders() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("a/b")).expect("mkdir");
        std::fs::write(dir.path().join("a/b/f.txt"), b"x").expect("write");
        std::fs::write(dir.path().join(".hidden"), b"h").expect("write");
        std::fs::write(dir.path().join(".marker"), b"m").expect("write");
        let files = tree_of(dir.path());
        assert_eq!(files.keys().collect::<Vec<_>>(), ["a/b/f.txt"]);
        let all = tree_with_dirs(dir.path());
        assert_eq!(all.keys().collect::<Vec<_>>(), ["a/", "a/b/", "a/b/f.txt"]);
        let stray = stray_hidden(dir.path(), ".marker");
        assert_eq!(stray, vec![dir.path().join(".hidden")]);
    }
}
