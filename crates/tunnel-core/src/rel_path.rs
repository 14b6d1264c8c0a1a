//! `RelPath`: a validated, normalised path relative to a synced folder's root.
//!
//! Invariants (checked by [`RelPath::new`], the only constructor):
//! - POSIX separators `/`, no leading or trailing `/`, no empty, `.` or `..` component;
//! - no NUL, no backslash, no `:` in the first component that would make a drive letter
//!   (`C:`), no control characters;
//! - Unicode NFC;
//! - each component at most 255 bytes, the whole path at most 4096 bytes.
//!
//! So [`RelPath::to_native`] can never name anything outside the root.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Placeholder until the module is implemented.
    #[error("invalid path {path:?}: {reason}")]
    Invalid {
        /// The offending path (truncated for display).
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// A validated relative path; see the module docs for its invariants.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RelPath(String);

impl TryFrom<String> for RelPath {
    type Error = PathError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        RelPath::new(&s)
    }
}
impl From<RelPath> for String {
    fn from(p: RelPath) -> String {
        p.0
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
        let _ = s;
        unimplemented!("rel_path: implemented by the core helper")
    }
    /// The path text (`a/b/c.txt`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[allow(dead_code)]
fn _assert_api(p: &RelPath, root: &Path) -> PathBuf {
    root.join(p.as_str())
}
