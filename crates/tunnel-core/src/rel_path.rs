//! `RelPath`: a validated, normalised path relative to a synced folder's root.
//!
//! Invariants (checked by [`RelPath::new`], the only constructor):
//! - POSIX separators `/`, no leading or trailing `/`, no empty, `.` or `..` component;
//! - no NUL, no control characters, no backslash, no `:` in the first component (a Windows
//!   drive letter such as `C:`);
//! - Unicode NFC;
//! - each component at most 255 bytes, the whole path at most 4096 bytes.
//!
//! So [`RelPath::to_native`] can never name anything outside the root.
//!
//! Storage (issue 15): the text is shared ([`ArcStr`]: one pointer, half of an `Arc<str>`,
//! whose length lives beside the text), so the copies of one path that the base, the scan,
//! the remote list and the plan hold are one allocation, a clone costs a reference count
//! instead of a copy of the text, and each copy — a map key, an entry's own path — takes
//! 8 bytes. A path of ASCII text is NFC already and is not run through the normaliser.

use arcstr::ArcStr;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Longest accepted path in bytes.
pub const MAX_PATH_BYTES: usize = 4096;
/// Longest accepted component in bytes.
pub const MAX_COMPONENT_BYTES: usize = 255;

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path breaks one of the rules.
    #[error("invalid path {path:?}: {reason}")]
    Invalid {
        /// The offending path (truncated for display).
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A native path is not under the folder's root.
    #[error("{0} is not inside the synced folder")]
    OutsideRoot(PathBuf),
}

fn invalid(path: &str, reason: &'static str) -> PathError {
    PathError::Invalid {
        path: path.chars().take(120).collect(),
        reason,
    }
}

/// A validated relative path; see the module docs for its invariants.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RelPath(ArcStr);

impl TryFrom<String> for RelPath {
    type Error = PathError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        RelPath::new(&s)
    }
}
impl From<RelPath> for String {
    fn from(p: RelPath) -> String {
        p.0.to_string()
    }
}

/// Lets ordered maps keyed by `RelPath` be searched by string ranges (`BTreeMap::range`); the
/// order is the same, as `RelPath` orders by its string.
impl std::borrow::Borrow<str> for RelPath {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RelPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}
impl std::fmt::Display for RelPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl RelPath {
    /// Validate and NFC-normalise `s`.
    pub fn new(s: &str) -> Result<Self, PathError> {
        if s.is_empty() {
            return Err(invalid(s, "empty path"));
        }
        if s.len() > MAX_PATH_BYTES * 4 {
            return Err(invalid(s, "longer than 4096 bytes"));
        }
        // ASCII text has one normal form: skip the normaliser (most paths, and every path a
        // large folder is read back with from the journal and the file list).
        let s: String = if s.is_ascii() {
            s.to_owned()
        } else {
            s.nfc().collect()
        };
        if s.len() > MAX_PATH_BYTES {
            return Err(invalid(&s, "longer than 4096 bytes"));
        }
        if s.starts_with('/') {
            return Err(invalid(&s, "absolute path"));
        }
        if s.contains('\\') {
            return Err(invalid(&s, "backslash in path"));
        }
        if s.chars().any(|c| c == '\0' || c.is_control()) {
            return Err(invalid(&s, "NUL or control character in path"));
        }
        for (i, part) in s.split('/').enumerate() {
            match part {
                "" => {
                    return Err(invalid(
                        &s,
                        "empty component (leading, trailing or double '/')",
                    ))
                }
                "." | ".." => return Err(invalid(&s, "'.' or '..' component")),
                _ => {}
            }
            if part.len() > MAX_COMPONENT_BYTES {
                return Err(invalid(&s, "a component is longer than 255 bytes"));
            }
            if i == 0 && part.contains(':') {
                return Err(invalid(&s, "drive letter or ':' in the first component"));
            }
        }
        Ok(RelPath(ArcStr::from(s)))
    }

    /// The path text (`a/b/c.txt`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The native path under `root`.
    ///
    /// Joined as text, never with `Path::push`: on Windows `push("C:x")` starts a path on
    /// drive C, so a name such as `a/C:x` (valid on Linux) would leave the root. Here every
    /// component stays a name under `root`, whatever it holds (Windows never gets to store
    /// such a name: the planner leaves names it cannot store out, see `name_rules`).
    pub fn to_native(&self, root: &Path) -> PathBuf {
        let mut p = root.as_os_str().to_owned();
        let mut need_separator = !p.is_empty() && !ends_with_separator(root);
        for part in self.0.split('/') {
            if need_separator {
                p.push(std::path::MAIN_SEPARATOR_STR);
            }
            p.push(part);
            need_separator = true;
        }
        PathBuf::from(p)
    }

    /// The relative path of `full`, which must be under `root`.
    pub fn from_native(root: &Path, full: &Path) -> Result<Self, PathError> {
        let rel = full
            .strip_prefix(root)
            .map_err(|_| PathError::OutsideRoot(full.to_path_buf()))?;
        let mut parts: Vec<&str> = Vec::new();
        for c in rel.components() {
            match c {
                Component::Normal(os) => parts.push(
                    os.to_str()
                        .ok_or_else(|| invalid(&os.to_string_lossy(), "not valid UTF-8"))?,
                ),
                _ => return Err(PathError::OutsideRoot(full.to_path_buf())),
            }
        }
        RelPath::new(&parts.join("/"))
    }

    /// The containing folder, `None` at the top level.
    pub fn parent(&self) -> Option<RelPath> {
        self.0
            .rfind('/')
            .map(|i| RelPath(ArcStr::from(&self.0[..i])))
    }

    /// The last component.
    pub fn file_name(&self) -> &str {
        match self.0.rfind('/') {
            Some(i) => &self.0[i + 1..],
            None => &self.0,
        }
    }

    /// `self/name`, validated.
    pub fn join(&self, name: &str) -> Result<RelPath, PathError> {
        RelPath::new(&format!("{}/{}", self.0, name))
    }

    /// The components.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// Number of components.
    pub fn depth(&self) -> usize {
        self.0.split('/').count()
    }

    /// True when `other` is strictly inside `self`.
    pub fn is_ancestor_of(&self, other: &RelPath) -> bool {
        other.0.len() > self.0.len()
            && other.0.starts_with(&*self.0)
            && other.0.as_bytes()[self.0.len()] == b'/'
    }

    /// The folders above this path, deepest first (`a/b` then `a` for `a/b/c`), as slices of
    /// it: no copy, so walking every ancestor is linear in the path's length.
    pub fn ancestors(&self) -> impl Iterator<Item = &str> {
        folders_above(&self.0)
    }

    /// A keyed hash of the path and of each folder above it (top first), computed in one pass:
    /// the hash of `a/b` continues the one of `a`, so all of them cost one read of the path.
    /// The last item is the whole path's own hash. Only comparable with hashes made by the
    /// same `keys`.
    pub(crate) fn prefix_hashes<'a>(
        &'a self,
        keys: &std::hash::RandomState,
    ) -> impl Iterator<Item = (u64, &'a str)> + 'a {
        use std::hash::{BuildHasher, Hasher};
        let s: &str = &self.0;
        let mut h = keys.build_hasher();
        let mut end = 0usize;
        self.0.split('/').map(move |part| {
            h.write(part.as_bytes());
            h.write_u8(b'/');
            end += part.len();
            let prefix = &s[..end];
            end += 1;
            (h.clone().finish(), prefix)
        })
    }

    /// Lower-cased form, for case-insensitive comparisons.
    pub fn to_lowercase_key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// The folders above `path` (a relative path's text, or a key made from one, such as
/// [`crate::name_rules::NameRules::key`]), deepest first, as slices of it.
pub(crate) fn folders_above(path: &str) -> impl Iterator<Item = &str> {
    path.rmatch_indices('/').map(move |(i, _)| &path[..i])
}

/// Whether `root`'s text ends with a path separator (`/`, or `\` on Windows).
fn ends_with_separator(root: &Path) -> bool {
    let text = root.as_os_str().to_string_lossy();
    text.ends_with('/') || text.ends_with(std::path::MAIN_SEPARATOR)
}
#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_path_is_one_pointer_and_its_copies_share_the_text() {
        // Every map of 100,000 paths (base, remote tree, scan, plan) holds each path at this
        // size, often twice (key and entry): 8 bytes, not the 16 of an `Arc<str>` (issue 15).
        assert_eq!(std::mem::size_of::<RelPath>(), 8);
        let p = RelPath::new("dir/a file.txt").unwrap();
        let q = p.clone();
        assert!(std::ptr::eq(p.as_str(), q.as_str()));
        assert_eq!(p.parent().unwrap().as_str(), "dir");
        assert_eq!(format!("{p}"), "dir/a file.txt");
    }

    #[test]
    fn accepts_ordinary_paths_and_normalises_to_nfc() {
        assert_eq!(RelPath::new("a/b/c.txt").unwrap().as_str(), "a/b/c.txt");
        let decomposed = "e\u{301}.txt";
        assert_eq!(
            RelPath::new(decomposed).unwrap().as_str(),
            "\u{e9}.txt",
            "NFC"
        );
        assert_eq!(RelPath::new("отчёт/файл 1.docx").unwrap().depth(), 2);
    }

    #[test]
    fn refuses_every_escape() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            "a//b",
            "a/",
            "C:/x",
            "C:",
            "a\\b",
            "..\\x",
            "a\0b",
            "a\nb",
            ".",
            "..",
        ] {
            assert!(RelPath::new(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(
            RelPath::new(&"x".repeat(256)).is_err(),
            "component over 255 bytes"
        );
        assert!(
            RelPath::new(&vec!["abc"; 1100].join("/")).is_err(),
            "path over 4096 bytes"
        );
        assert!(
            serde_json::from_str::<RelPath>("\"../x\"").is_err(),
            "deserialising validates too"
        );
    }

    #[test]
    fn parents_names_and_ancestry() {
        let p = RelPath::new("a/b/c.txt").unwrap();
        assert_eq!(p.parent().unwrap().as_str(), "a/b");
        assert_eq!(p.file_name(), "c.txt");
        assert!(RelPath::new("a").unwrap().is_ancestor_of(&p));
        assert!(!RelPath::new("a/b/c")
            .unwrap()
            .is_ancestor_of(&RelPath::new("a/b/cd").unwrap()));
        assert!(!p.is_ancestor_of(&p), "strict");
        assert_eq!(
            p.to_native(Path::new("/root")),
            PathBuf::from("/root/a/b/c.txt")
        );
        assert_eq!(
            RelPath::from_native(Path::new("/root"), Path::new("/root/a/b/c.txt")).unwrap(),
            p
        );
        assert!(RelPath::from_native(Path::new("/root"), Path::new("/other/x")).is_err());
    }

    /// A 4,000-byte path of 2,000 one-letter folders is valid, and walking its ancestors or
    /// hashing all of its prefixes reads it once (slices, no copies; checked on the output).
    #[test]
    fn deep_paths_are_valid_and_their_ancestors_cost_one_pass() {
        let deep = vec!["a"; 2000].join("/");
        assert_eq!(deep.len(), 3999);
        let p = RelPath::new(&deep).expect("a deep path is valid");
        assert_eq!(p.depth(), 2000);
        let ancestors: Vec<&str> = p.ancestors().collect();
        assert_eq!(ancestors.len(), 1999);
        assert_eq!(ancestors[0].len(), 3997, "the parent first");
        assert_eq!(ancestors[1998], "a", "the top folder last");
        for a in &ancestors {
            assert!(
                std::ptr::eq(a.as_ptr(), p.as_str().as_ptr()),
                "a slice, not a copy"
            );
        }
        let keys = std::hash::RandomState::new();
        let hashes: Vec<(u64, &str)> = p.prefix_hashes(&keys).collect();
        assert_eq!(hashes.len(), 2000);
        assert_eq!(hashes[1999].1, p.as_str());
        // Each prefix hashes like the path of that name does on its own.
        let q = RelPath::new(hashes[700].1).expect("prefix");
        assert_eq!(
            q.prefix_hashes(&keys).last().map(|(h, _)| h),
            Some(hashes[700].0)
        );
        let distinct: std::collections::HashSet<u64> = hashes.iter().map(|(h, _)| *h).collect();
        assert_eq!(distinct.len(), 2000, "every prefix hashes differently");
    }

    #[test]
    fn native_paths_join_names_under_the_root_only() {
        let sep = std::path::MAIN_SEPARATOR_STR;
        let p = RelPath::new("a/C:x").expect("valid on Linux");
        let native = p.to_native(Path::new("root"));
        assert_eq!(native, PathBuf::from(format!("root{sep}a{sep}C:x")));
        assert!(native.starts_with("root"));
        let under_slash = RelPath::new("b").expect("valid").to_native(Path::new("/"));
        assert_eq!(under_slash, PathBuf::from("/b"));
        let under_empty = RelPath::new("c/d").expect("valid").to_native(Path::new(""));
        assert_eq!(under_empty, PathBuf::from(format!("c{sep}d")));
    }

    proptest! {
        // On Windows this found "a/C:x" leaving the root through `Path::push` (fixed in
        // `to_native`).
        #[test]
        fn never_panics_and_accepted_paths_stay_under_the_root(s in "\\PC{0,64}") {
            if let Ok(p) = RelPath::new(&s) {
                let root = Path::new("/sync/root");
                let native = p.to_native(root);
                prop_assert!(native.starts_with(root));
                prop_assert!(native.components().all(|c| matches!(c, Component::Normal(_) | Component::RootDir)));
                let again = RelPath::new(p.as_str()).unwrap();
                prop_assert_eq!(&again, &p, "NFC normalisation is idempotent");
                let json = serde_json::to_string(&p).unwrap();
                prop_assert_eq!(serde_json::from_str::<RelPath>(&json).unwrap(), p);
            }
        }

        // On Windows this found "a/C:x" leaving the root through `Path::push` (fixed in
        // `to_native`).
        #[test]
        fn never_panics_on_any_string(s in any::<String>()) {
            if let Ok(p) = RelPath::new(&s) {
                prop_assert!(p.as_str().len() <= MAX_PATH_BYTES);
                prop_assert!(!p.as_str().chars().any(|c| c.is_control() || c == '\\'));
                prop_assert!(p.to_native(Path::new("/r")).starts_with("/r"));
            }
        }

        #[test]
        fn paths_made_of_dots_and_slashes_are_handled(parts in proptest::collection::vec(prop_oneof![Just(".."), Just("."), Just(""), Just("a"), Just("b.c")], 1..6)) {
            let s = parts.join("/");
            let r = RelPath::new(&s);
            let bad = parts.iter().any(|p| matches!(*p, ".." | "." | ""));
            prop_assert_eq!(r.is_err(), bad);
        }
    }
}
