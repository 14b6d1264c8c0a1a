//! `AppPaths`: where the configuration, the journal, the secrets and the logs live.
//!
//! Precedence (first that applies wins):
//! 1. the `--config-dir` flag;
//! 2. the `SBER_TUNNEL_HOME` environment variable;
//! 3. `./.sber-tunnel/` in the current folder, when it exists (a portable setup);
//! 4. the platform folders from `directories` (Linux: `~/.config/sber-tunnel`,
//!    `~/.local/share/sber-tunnel`).
//!
//! With one root folder (cases 1–3) everything lives under it: `config.toml`, `secrets.toml`,
//! `journal.db`, `logs/`. Nothing here reads the environment itself: the caller passes the
//! values in, so tests never touch the user's home.

use std::path::{Path, PathBuf};

/// Name of the portable folder looked up in the current folder.
pub const PORTABLE_DIR: &str = ".sber-tunnel";
/// Environment variable naming the root folder.
pub const HOME_ENV: &str = "SBER_TUNNEL_HOME";

/// No folder could be determined.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PathsError {
    /// No home folder: pass `--config-dir` or set `SBER_TUNNEL_HOME`.
    #[error("cannot find a home folder for the configuration: pass --config-dir or set SBER_TUNNEL_HOME")]
    NoHome,
    /// A given folder is empty text.
    #[error("the configuration folder given by {0} is empty")]
    Empty(&'static str),
}

/// The folders of one installation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppPaths {
    /// `config.toml` and `secrets.toml`.
    pub config_dir: PathBuf,
    /// `journal.db`, the lock file and the control socket.
    pub data_dir: PathBuf,
    /// Log files.
    pub log_dir: PathBuf,
}

impl AppPaths {
    /// Decide the folders; see the module docs for the precedence. Relative folders are
    /// taken relative to `cwd`.
    pub fn resolve(
        flag: Option<&Path>,
        env_home: Option<&Path>,
        cwd: &Path,
    ) -> Result<AppPaths, PathsError> {
        if let Some(dir) = flag {
            if dir.as_os_str().is_empty() {
                return Err(PathsError::Empty("--config-dir"));
            }
            return Ok(AppPaths::under(cwd.join(dir)));
        }
        if let Some(dir) = env_home.filter(|d| !d.as_os_str().is_empty()) {
            return Ok(AppPaths::under(cwd.join(dir)));
        }
        let portable = cwd.join(PORTABLE_DIR);
        if portable.is_dir() {
            return Ok(AppPaths::under(portable));
        }
        let dirs = directories::ProjectDirs::from("org", "sbertunnel", "sber-tunnel")
            .ok_or(PathsError::NoHome)?;
        let data_dir = dirs.data_local_dir().to_owned();
        Ok(AppPaths {
            config_dir: dirs.config_dir().to_owned(),
            log_dir: data_dir.join("logs"),
            data_dir,
        })
    }

    /// Everything under one root folder.
    pub fn under(root: impl Into<PathBuf>) -> AppPaths {
        let root = root.into();
        AppPaths {
            config_dir: root.clone(),
            log_dir: root.join("logs"),
            data_dir: root,
        }
    }

    /// `config.toml`.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }
    /// `journal.db`.
    pub fn journal_file(&self) -> PathBuf {
        self.data_dir.join("journal.db")
    }
    /// `secrets.toml` (mode 0600), used when no keyring is available.
    pub fn secrets_file(&self) -> PathBuf {
        self.config_dir.join("secrets.toml")
    }
    /// The lock file held by the running service.
    pub fn lock_file(&self) -> PathBuf {
        self.data_dir.join("sber-tunnel.lock")
    }
    /// The control socket of the running service.
    pub fn socket_path(&self) -> PathBuf {
        self.data_dir.join("control.sock")
    }
    /// The log folder.
    pub fn log_dir(&self) -> PathBuf {
        self.log_dir.clone()
    }
}

/// An absolute path for tests, written the Unix way: `/x/y` on Unix, `C:/x/y` on Windows, where
/// `/x/y` has no drive and so is not absolute.
#[cfg(test)]
pub(crate) fn test_abs(unix_style: &str) -> PathBuf {
    if cfg!(windows) {
        PathBuf::from(format!("C:{unix_style}"))
    } else {
        PathBuf::from(unix_style)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_wins_over_everything() {
        let cwd = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(cwd.path().join(PORTABLE_DIR)).expect("portable dir");
        let p = AppPaths::resolve(
            Some(&test_abs("/x/flag")),
            Some(&test_abs("/x/env")),
            cwd.path(),
        )
        .expect("resolve");
        assert_eq!(p, AppPaths::under(test_abs("/x/flag")));
        assert_eq!(p.config_file(), test_abs("/x/flag/config.toml"));
        assert_eq!(p.journal_file(), test_abs("/x/flag/journal.db"));
        assert_eq!(p.secrets_file(), test_abs("/x/flag/secrets.toml"));
        assert_eq!(p.log_dir(), test_abs("/x/flag/logs"));
        assert!(p.socket_path().starts_with(test_abs("/x/flag")));
        assert!(p.lock_file().starts_with(test_abs("/x/flag")));
    }

    #[test]
    fn env_wins_over_portable_folder() {
        let cwd = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(cwd.path().join(PORTABLE_DIR)).expect("portable dir");
        let p = AppPaths::resolve(None, Some(&test_abs("/x/env")), cwd.path()).expect("resolve");
        assert_eq!(p.config_dir, test_abs("/x/env"));
    }

    #[test]
    fn relative_folders_are_taken_from_cwd() {
        let p = AppPaths::resolve(Some(Path::new("rel")), None, Path::new("/work/here"))
            .expect("resolve");
        assert_eq!(p.config_dir, Path::new("/work/here/rel"));
    }

    #[test]
    fn portable_folder_is_used_only_when_it_exists() {
        let cwd = tempfile::tempdir().expect("tempdir");
        let without = AppPaths::resolve(None, None, cwd.path());
        if let Ok(p) = &without {
            assert!(
                !p.config_dir.starts_with(cwd.path()),
                "no portable folder: platform folders, not cwd"
            );
        }
        std::fs::create_dir(cwd.path().join(PORTABLE_DIR)).expect("portable dir");
        let p = AppPaths::resolve(None, None, cwd.path()).expect("resolve");
        assert_eq!(p, AppPaths::under(cwd.path().join(PORTABLE_DIR)));
    }

    #[test]
    fn empty_values_are_handled() {
        assert!(AppPaths::resolve(Some(Path::new("")), None, Path::new("/")).is_err());
        let cwd = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(cwd.path().join(PORTABLE_DIR)).expect("portable dir");
        let p = AppPaths::resolve(None, Some(Path::new("")), cwd.path()).expect("resolve");
        assert_eq!(
            p.config_dir,
            cwd.path().join(PORTABLE_DIR),
            "empty env var is ignored"
        );
    }
}
