//! The fake backend's history, for the Versions view's UI tests: a plausible, deterministic
//! story told from what the folder holds on disk. Every file there was created on another
//! device three days ago and edited here a day ago; one file, [`DELETED_FILE`], was created
//! five days ago, edited four days ago and deleted two hours ago by another device (unless it
//! is on disk again). Restores are carried out for real on disk (fake content that names the
//! version) and add a "restored" version; a folder restore moves what it removes to the
//! folder's local trash, as the real one does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tunnel_core::clock::unix_now;
use tunnel_core::manifest::EntryKind;
use tunnel_core::rel_path::RelPath;
use tunnel_core::sync::{HistoryPath, PathVersion, RestoreChange, RestoreReport, TRASH_DIR};

use crate::app::app_error::AppError;
use crate::app::versions::RestorePick;

use super::fake::FAKE_DEVICE;

/// The file the fake's history says another device deleted.
pub const DELETED_FILE: &str = "old-notes.txt";
/// The device whose changes the fake's history shows beside this one.
const OTHER_DEVICE: &str = "laptop";
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Versions added by restores, per folder and path (oldest first).
#[derive(Default)]
pub struct FakeVersions {
    restored: Mutex<HashMap<(PathBuf, String), Vec<PathVersion>>>,
}

fn now_ms() -> i64 {
    unix_now().saturating_mul(1000)
}

fn version(seq: u64, time_ms: i64, device: &str, action: &str, n: u64, size: u64) -> PathVersion {
    let live = u64::from(action != "deleted");
    PathVersion {
        seq,
        time_ms,
        device: device.into(),
        action: action.into(),
        version: Some(n),
        size: size * live,
        files: live,
        created: u64::from(action == "created"),
        modified: u64::from(action == "modified"),
        deleted: u64::from(action == "deleted"),
        restored_from: None,
    }
}

/// The folder's commits: (seq, time).
fn commits(now: i64) -> [(u64, i64); 4] {
    [
        (1, now - 5 * DAY_MS),
        (2, now - 3 * DAY_MS),
        (3, now - DAY_MS),
        (4, now - 2 * HOUR_MS),
    ]
}

impl FakeVersions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(PathBuf, String), Vec<PathVersion>>> {
        self.restored.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The versions of one file, oldest first (empty: the history does not know it).
    fn file_versions(&self, folder: &Path, path: &str, now: i64) -> Vec<PathVersion> {
        let [(s1, t1), (s2, t2), (s3, t3), (s4, t4)] = commits(now);
        let on_disk = std::fs::metadata(folder.join(path))
            .ok()
            .filter(|m| m.is_file());
        let mut out = if path == DELETED_FILE {
            vec![
                version(s1, t1, OTHER_DEVICE, "created", 1, 120),
                version(s2, t2, FAKE_DEVICE, "modified", 2, 140),
                version(s4, t4, OTHER_DEVICE, "deleted", 3, 0),
            ]
        } else if let Some(m) = &on_disk {
            vec![
                version(s2, t2, OTHER_DEVICE, "created", 1, m.len() / 2 + 1),
                version(s3, t3, FAKE_DEVICE, "modified", 2, m.len()),
            ]
        } else {
            Vec::new()
        };
        out.extend(
            self.lock()
                .get(&(folder.to_path_buf(), path.to_owned()))
                .cloned()
                .unwrap_or_default(),
        );
        out
    }

    /// Every path the history knows: the files and folders on disk, and the deleted file.
    pub fn paths(&self, folder: &Path) -> Result<Vec<HistoryPath>, AppError> {
        let now = now_ms();
        let files = super::fake::list_files(folder)
            .map_err(|e| AppError::new(tunnel_core::error::ErrorCode::Local, e.to_string()))?;
        let mut out: Vec<HistoryPath> = Vec::new();
        let mut dirs = std::collections::BTreeSet::new();
        let mut names: Vec<String> = files.into_iter().map(|(rel, _, _)| rel).collect();
        if !names.iter().any(|n| n == DELETED_FILE) {
            names.push(DELETED_FILE.to_owned());
        }
        for rel in names {
            let mut parent = rel.as_str();
            while let Some((up, _)) = parent.rsplit_once('/') {
                dirs.insert(up.to_owned());
                parent = up;
            }
            let versions = self.file_versions(folder, &rel, now);
            let Some(last) = versions.last() else {
                continue;
            };
            out.push(HistoryPath {
                path: relpath(&rel)?,
                kind: EntryKind::File,
                live: last.action != "deleted",
                size: versions
                    .iter()
                    .rev()
                    .find(|v| v.action != "deleted")
                    .map_or(0, |v| v.size),
                time_ms: last.time_ms,
                device: last.device.clone(),
                changes: versions.len() as u64,
            });
        }
        let [_, (_, t2), ..] = commits(now);
        for d in dirs {
            out.push(HistoryPath {
                path: relpath(&d)?,
                kind: EntryKind::Dir,
                live: true,
                size: 0,
                time_ms: t2,
                device: OTHER_DEVICE.into(),
                changes: 1,
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// The versions of `path` (`None`: the folder), newest first.
    pub fn versions(
        &self,
        folder: &Path,
        path: Option<&str>,
    ) -> Result<Vec<PathVersion>, AppError> {
        let now = now_ms();
        let mut out = match path {
            Some(p) if !is_dir(folder, p) => self.file_versions(folder, p, now),
            _ => commits(now)
                .iter()
                .map(|&(seq, t)| PathVersion {
                    version: None,
                    action: "changed".into(),
                    ..version(seq, t, OTHER_DEVICE, "modified", 0, 0)
                })
                .collect(),
        };
        if out.is_empty() {
            return Err(AppError::invalid(format!(
                "{} has no retained versions.",
                path.unwrap_or_default()
            )));
        }
        out.reverse();
        Ok(out)
    }

    /// Restore as the real backend would, with fake content.
    pub fn restore(
        &self,
        folder: &Path,
        path: Option<&str>,
        pick: &RestorePick,
        to: Option<&Path>,
        dry_run: bool,
    ) -> Result<RestoreReport, AppError> {
        let now = now_ms();
        let target = match to {
            Some(dir) => Some(crate::app::versions::copy_target(folder, dir)?),
            None => None,
        };
        match path.filter(|p| !p.is_empty() && !is_dir(folder, p)) {
            Some(p) => self.restore_file(folder, p, pick, target.as_deref(), dry_run, now),
            None => self.restore_folder(folder, pick, target.as_deref(), dry_run, now),
        }
    }

    fn restore_file(
        &self,
        folder: &Path,
        path: &str,
        pick: &RestorePick,
        to: Option<&Path>,
        dry_run: bool,
        now: i64,
    ) -> Result<RestoreReport, AppError> {
        let versions = self.file_versions(folder, path, now);
        let mut live = versions.iter().rev().filter(|v| v.action != "deleted");
        let chosen = match pick.to_core()? {
            tunnel_core::sync::VersionPick::Version(n) => live.find(|v| v.version == Some(n)),
            tunnel_core::sync::VersionPick::At(t) => live.find(|v| v.time_ms <= t),
        }
        .cloned()
        .ok_or_else(|| AppError::invalid(format!("no such version of {path} is kept")))?;
        let n = chosen.version.unwrap_or(0);
        let name = path.rsplit('/').next().unwrap_or(path);
        let dest = match to {
            Some(dir) => dir.join(name),
            None => folder.join(path),
        };
        let change = if to.is_some() && dest.exists() {
            "exists"
        } else {
            "write"
        };
        if !dry_run && change == "write" {
            write_fake(&dest, path, n)?;
            if to.is_none() {
                let mut restored = self.lock();
                let list = restored
                    .entry((folder.to_path_buf(), path.to_owned()))
                    .or_default();
                let next = versions.last().and_then(|v| v.version).unwrap_or(0) + 1;
                let was_live = versions.last().is_some_and(|v| v.action != "deleted");
                list.push(PathVersion {
                    restored_from: Some(n),
                    ..version(
                        5 + list.len() as u64,
                        now,
                        FAKE_DEVICE,
                        if was_live { "modified" } else { "created" },
                        next,
                        chosen.size,
                    )
                });
            }
        }
        Ok(RestoreReport {
            seq: chosen.seq,
            time_ms: chosen.time_ms,
            dry_run,
            changes: vec![RestoreChange {
                path: path.to_owned(),
                target: dest,
                change: change.into(),
                size: chosen.size,
                version: Some(n),
                device: Some(chosen.device.clone()),
            }],
        })
    }

    fn restore_folder(
        &self,
        folder: &Path,
        pick: &RestorePick,
        to: Option<&Path>,
        dry_run: bool,
        now: i64,
    ) -> Result<RestoreReport, AppError> {
        let all = commits(now);
        let (seq, time_ms) = match pick.to_core()? {
            tunnel_core::sync::VersionPick::Version(n) => all.iter().find(|c| c.0 == n).copied(),
            tunnel_core::sync::VersionPick::At(t) => all.iter().rev().find(|c| c.1 <= t).copied(),
        }
        .ok_or_else(|| {
            AppError::invalid(format!(
                "the page's history starts at {}; nothing older is kept",
                tunnel_core::local_time::local_time_text(all[0].1)
            ))
        })?;
        let root = to.unwrap_or(folder);
        let mut changes = Vec::new();
        for p in self
            .paths(folder)?
            .into_iter()
            .filter(|p| p.kind == EntryKind::File)
        {
            let rel = p.path.as_str().to_owned();
            let versions = self.file_versions(folder, &rel, now);
            let then = versions.iter().rev().find(|v| v.seq <= seq);
            let now_live = folder.join(&rel).is_file();
            let dest = root.join(&rel);
            let change = match then {
                Some(v) if v.action != "deleted" => {
                    let current = versions.last().is_some_and(|l| l.seq == v.seq);
                    if to.is_some() && dest.exists() {
                        "exists"
                    } else if to.is_none() && current && now_live {
                        "skip"
                    } else {
                        "write"
                    }
                }
                _ if now_live && to.is_none() => "remove",
                _ => continue,
            };
            let v = then.filter(|v| v.action != "deleted");
            changes.push(RestoreChange {
                path: rel,
                target: dest,
                change: change.into(),
                size: v.map_or(p.size, |v| v.size),
                version: v.and_then(|v| v.version),
                device: v.map(|v| v.device.clone()),
            });
        }
        if !dry_run {
            for c in &changes {
                match c.change.as_str() {
                    "write" => write_fake(&c.target, &c.path, c.version.unwrap_or(0))?,
                    "remove" => to_trash(folder, &c.path)?,
                    _ => {}
                }
            }
        }
        Ok(RestoreReport {
            seq,
            time_ms,
            dry_run,
            changes,
        })
    }
}

fn is_dir(folder: &Path, path: &str) -> bool {
    folder.join(path).is_dir()
}

fn relpath(p: &str) -> Result<RelPath, AppError> {
    RelPath::new(p).map_err(|e| AppError::invalid(format!("{p}: {e}")))
}

fn local(e: std::io::Error, what: &Path) -> AppError {
    AppError::new(
        tunnel_core::error::ErrorCode::Local,
        format!("{}: {e}", what.display()),
    )
}

fn write_fake(dest: &Path, path: &str, n: u64) -> Result<(), AppError> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|e| local(e, parent))?;
    }
    std::fs::write(dest, format!("{path} as it was in version {n}\n")).map_err(|e| local(e, dest))
}

fn to_trash(folder: &Path, path: &str) -> Result<(), AppError> {
    let from = folder.join(path);
    let to = folder.join(TRASH_DIR).join(path);
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| local(e, parent))?;
    }
    std::fs::rename(&from, &to).map_err(|e| local(e, &from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deleted_file_comes_back_and_its_history_says_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let folder = dir.path();
        std::fs::write(folder.join("report.txt"), b"numbers").expect("write");
        let fake = FakeVersions::default();
        let paths = fake.paths(folder).expect("paths");
        let deleted = paths
            .iter()
            .find(|p| p.path.as_str() == DELETED_FILE)
            .expect("the deleted file is listed");
        assert!(!deleted.live, "{deleted:?}");
        let versions = fake.versions(folder, Some(DELETED_FILE)).expect("versions");
        assert_eq!(versions[0].action, "deleted", "newest first");
        let preview = fake
            .restore(folder, None, &RestorePick::Version(3), None, true)
            .expect("preview");
        assert!(
            preview
                .changes
                .iter()
                .any(|c| c.path == DELETED_FILE && c.change == "write"),
            "before the deletion the file was there: {preview:?}"
        );
        assert!(
            !folder.join(DELETED_FILE).exists(),
            "a preview writes nothing"
        );
        fake.restore(
            folder,
            Some(DELETED_FILE),
            &RestorePick::Version(2),
            None,
            false,
        )
        .expect("restore");
        assert!(folder.join(DELETED_FILE).is_file());
        let versions = fake.versions(folder, Some(DELETED_FILE)).expect("versions");
        assert_eq!(
            (versions[0].action.as_str(), versions[0].restored_from),
            ("created", Some(2))
        );
        let copy = fake
            .restore(
                folder,
                Some(DELETED_FILE),
                &RestorePick::Version(2),
                Some(folder),
                false,
            )
            .expect_err("not into the synced folder");
        assert_eq!(copy.code, tunnel_core::error::ErrorCode::Invalid);
    }
}
