//! Persistence: the metadata file (the serialised `Model`, written atomically — temp file then
//! rename — after every mutation) and the blob directory (one file per stored upload).
//!
//! Layout of a data dir: `metadata.json`, `blobs/<key>`, `tmp/` (uploads in progress; emptied at
//! start). Ephemeral mode uses a temporary directory with the same layout, removed on drop, and
//! never writes `metadata.json`.
//!
//! Invariant: a blob file appears under `blobs/` only once its upload completed (rename from
//! `tmp/`), so a refused or cut upload leaves nothing stored.

use std::path::{Path, PathBuf};

use crate::model::Model;

const METADATA: &str = "metadata.json";

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// File system error.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was attempted.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The metadata file is not valid.
    #[error("metadata file {path} is corrupt: {source}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { what, path, source }
}

/// The blob directory and, when persistent, the metadata file.
#[derive(Debug)]
pub struct Store {
    blobs: PathBuf,
    tmp: PathBuf,
    metadata: Option<PathBuf>,
    _ephemeral: Option<tempfile::TempDir>,
}

impl Store {
    /// Opens `data_dir` (creating it) or a temporary directory; returns the saved model if any.
    pub fn open(data_dir: Option<&Path>) -> Result<(Store, Option<Model>), StoreError> {
        let (root, ephemeral) = match data_dir {
            Some(d) => (d.to_path_buf(), None),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("confluence-emulator-")
                    .tempdir()
                    .map_err(io("create temp dir", &std::env::temp_dir()))?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        let blobs = root.join("blobs");
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&blobs).map_err(io("create", &blobs))?;
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io("clean", &tmp))?;
        }
        std::fs::create_dir_all(&tmp).map_err(io("create", &tmp))?;
        let metadata = data_dir.map(|_| root.join(METADATA));
        let model = match &metadata {
            Some(m) if m.exists() => {
                let bytes = std::fs::read(m).map_err(io("read", m))?;
                let mut model: Model =
                    serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt {
                        path: m.clone(),
                        source,
                    })?;
                let dropped = model.repair();
                if dropped > 0 {
                    tracing::warn!(dropped, "metadata held attachments without versions");
                }
                Some(model)
            }
            _ => None,
        };
        Ok((
            Store {
                blobs,
                tmp,
                metadata,
                _ephemeral: ephemeral,
            },
            model,
        ))
    }

    /// Path of a stored blob.
    pub fn blob_path(&self, key: &str) -> PathBuf {
        self.blobs.join(key)
    }

    /// A fresh blob key and the temp path to write its upload to.
    pub fn new_upload(&self) -> (String, PathBuf) {
        let key = uuid::Uuid::new_v4().simple().to_string();
        let tmp = self.tmp.join(format!("{key}.part"));
        (key, tmp)
    }

    /// Moves a completed upload into the blob directory.
    pub fn commit_upload(&self, tmp: &Path, key: &str) -> Result<(), StoreError> {
        let dest = self.blob_path(key);
        std::fs::rename(tmp, &dest).map_err(io("store blob", &dest))
    }

    /// Deletes blobs no longer referenced (missing files are ignored).
    pub fn remove_blobs(&self, keys: &[String]) {
        for k in keys {
            let p = self.blob_path(k);
            if let Err(e) = std::fs::remove_file(&p) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %p.display(), error = %e, "cannot delete blob");
                }
            }
        }
    }

    /// Writes the metadata file atomically (no-op when ephemeral).
    pub fn save(&self, model: &Model) -> Result<(), StoreError> {
        let Some(path) = &self.metadata else {
            return Ok(());
        };
        let bytes = serde_json::to_vec_pretty(model).map_err(|source| StoreError::Corrupt {
            path: path.clone(),
            source,
        })?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, bytes).map_err(io("write", &tmp))?;
        std::fs::rename(&tmp, path).map_err(io("replace", path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persistent_round_trip_and_ephemeral_cleanup() {
        let dir = tempfile::tempdir().unwrap();
        let (store, none) = Store::open(Some(dir.path())).unwrap();
        assert!(none.is_none());
        let mut m = Model::default();
        m.add_page("1", "P", "a", 0);
        store.save(&m).unwrap();
        let (_, again) = Store::open(Some(dir.path())).unwrap();
        assert_eq!(again, Some(m), "a reopened dir serves the same state");

        let (eph, _) = Store::open(None).unwrap();
        let root = eph.blobs.parent().unwrap().to_path_buf();
        assert!(root.exists());
        drop(eph);
        assert!(!root.exists(), "ephemeral blobs are removed on drop");
    }
}
