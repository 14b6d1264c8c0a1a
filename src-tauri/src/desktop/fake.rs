//! `FakeBackend`: an in-memory [`DesktopBackend`] for the shell's tests and for UI work before the
//! real service is wired (`SBER_TUNNEL_FAKE_BACKEND=1`).
//!
//! It behaves like a small, honest service: the connection form is checked by rules a person can
//! trigger on purpose, folders must exist on disk, and a "sync" walks the folder for real and
//! reports every file it has not reported before, one by one, with `Started` / `Progress` /
//! `Uploaded` / `Conflict` / `Finished` events and a status that goes Syncing → Idle. Nothing
//! leaves the machine.
//!
//! Triggers (documented so tests and people can reach every error the UI must show):
//! - connection: a URL that is not `http(s)://…` is `invalid`; a host containing `unreachable` is
//!   `unreachable`; the secret `wrong` is `auth`; a page ID that is not all digits is `invalid`;
//!   page `404` is `not-found`; page `403` is `permission` (cannot add attachments); a p12 or CA
//!   path that does not exist is `certificate`;
//! - sync: a file named `FAIL` in a folder makes its sync fail with code `permission`; a file
//!   named `OFFLINE` makes the folder Offline (code `unreachable`); a file whose
//!   name contains `conflict` is reported as a conflict (its copy named `… (conflict).ext`).
//!
//! - page privacy: every page is visible to the whole space until made private; page `403`
//!   cannot be made private (`permission`).
//! - versions: the history tells a fixed story about the files on disk, plus a deleted
//!   `old-notes.txt` (see `fake_versions`); restores write files for real.
//! - trash: each folder's trash holds two canned items, one deleted and one replaced by another
//!   device (see `fake_trash`); putting one back writes the file for real.
//!
//! Invariants: the status published on the watch channel is always recomputed from the folder
//! list after a change (never edited piecemeal); no lock is held across an `.await`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::sync::{broadcast, watch};
use tunnel_core::activity::ActivityEntry;
use tunnel_core::clock::unix_now;
use tunnel_core::events::{
    FolderStatus, SyncEvent, SyncState, SyncStatus, SyncSummary, TransferProgress, WatchMode,
};
use tunnel_core::ids::PageId;

use crate::app::app_error::{AppError, ErrorCode};

use super::backend::{
    AuthKind, ConnectionCheck, ConnectionForm, ConnectionView, DesktopBackend, FolderConflict,
    PagePrivacy, SettingsView,
};

/// How long the fake takes per file when started by [`FakeBackend::new`]: slow enough for a
/// person (and a screenshot) to see a sync in progress.
const STEP_FOR_PEOPLE: Duration = Duration::from_millis(400);

/// Environment variable read by [`FakeBackend::new`]: folders to start with.
pub const SEED_VAR: &str = "SBER_TUNNEL_FAKE_FOLDERS";

/// Most files one fake sync reports (a folder with more is reported in several syncs).
const MAX_FILES_PER_SYNC: usize = 500;

/// Room in the event channel; a slow listener skips events rather than blocking the fake.
const EVENT_CAPACITY: usize = 256;

/// The in-memory service. Cheap to clone (all state is shared).
#[derive(Clone)]
pub struct FakeBackend {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<FakeState>,
    events: broadcast::Sender<SyncEvent>,
    status: watch::Sender<SyncStatus>,
    step: Duration,
    log_dir: PathBuf,
    /// Selective sync's choices (see `fake_selective`).
    choices: super::fake_selective::FakeChoices,
    /// Ignore rules (see `fake_ignore`).
    ignore: super::fake_ignore::FakeIgnore,
    /// The Versions view's history (see `fake_versions`).
    versions: super::fake_versions::FakeVersions,
    /// The Trash view's canned items (see `fake_trash`).
    trash: super::fake_trash::FakeTrash,
}

struct FakeState {
    connection: Option<ConnectionView>,
    folders: Vec<FolderStatus>,
    settings: SettingsView,
    /// Files already "uploaded", per folder: relative path → (size, modified).
    synced: HashMap<PathBuf, HashMap<String, (u64, Option<SystemTime>)>>,
    /// Folders whose sync task is running (a second request while one runs is merged).
    running: HashSet<PathBuf>,
    /// Transfer progress of the running syncs.
    transfers: HashMap<PathBuf, TransferProgress>,
    /// Activity history, oldest first (the real backend keeps it in the journal).
    history: Vec<ActivityEntry>,
    /// Speed, time left and why folders wait (see [`super::fake_progress`]).
    progress: super::fake_progress::FakeProgress,
    /// Conflict copies settled with "keep both", per folder.
    kept_both: HashMap<PathBuf, std::collections::BTreeSet<tunnel_core::rel_path::RelPath>>,
    /// Pages made private (every other page is visible to the whole space).
    private_pages: HashSet<String>,
}

impl Default for FakeBackend {
    fn default() -> Self {
        Self::new()
    }
}

/// The fake's answer: the whole space may view and edit, or only `user`.
fn fake_privacy(page: &PageId, user: &str, private: bool) -> PagePrivacy {
    let only = |on: bool| tunnel_confluence::Subjects {
        users: if on {
            vec![user.to_owned()]
        } else {
            Vec::new()
        },
        groups: Vec::new(),
    };
    let access = tunnel_confluence::PageAccess {
        read: only(private),
        update: only(private),
    };
    PagePrivacy::from_access(page, user, &access)
}

impl FakeBackend {
    /// The page a privacy request is about (default: the connection's) and the user.
    fn privacy_subject(&self, page_id: Option<PageId>) -> Result<(PageId, String), AppError> {
        let state = self.lock();
        let Some(connection) = &state.connection else {
            return Err(AppError::new(
                ErrorCode::NotConfigured,
                "connect to Confluence first",
            ));
        };
        let page = match page_id {
            Some(p) => p,
            None => PageId::parse(&connection.page_id)?,
        };
        let user = connection
            .username
            .clone()
            .unwrap_or_else(|| "you".to_owned());
        Ok((page, user))
    }

    /// A fake that paces its syncs for people to watch. Unconfigured, unless the environment
    /// variable `SBER_TUNNEL_FAKE_FOLDERS` lists folders (separated like `PATH`): then it starts
    /// connected to a demo page with those folders tracked and idle (the tray test uses this).
    pub fn new() -> Self {
        let fake = Self::with_step(STEP_FOR_PEOPLE);
        if let Some(folders) = std::env::var_os(SEED_VAR) {
            fake.seed(
                std::env::split_paths(&folders)
                    .filter(|p| p.is_absolute())
                    .collect(),
            );
        }
        fake
    }

    /// Connect to a demo page and track `folders` (idle, never synced), without any sync.
    pub fn seed(&self, folders: Vec<PathBuf>) {
        {
            let mut state = self.lock();
            state.connection = Some(ConnectionView {
                url: "https://wiki.example.com/confluence".to_owned(),
                auth: AuthKind::Password,
                username: Some("demo".to_owned()),
                page_id: "4242".to_owned(),
                p12_path: None,
                ca_path: None,
                has_secret: true,
            });
            let page = PageId::parse("4242").expect("the demo page id is digits");
            for path in folders {
                state.folders.push(idle_folder(path, page.clone()));
            }
        }
        self.publish();
    }

    /// A fresh, unconfigured fake whose syncs take `step` per file (zero in tests).
    pub fn with_step(step: Duration) -> Self {
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let (status, _) = watch::channel(SyncStatus::default());
        let log_dir = std::env::temp_dir().join("sber-tunnel-fake-logs");
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(FakeState {
                    connection: None,
                    folders: Vec::new(),
                    settings: SettingsView {
                        start_at_login: false,
                        poll_interval_secs: 30,
                        parallel_transfers: 4,
                        log_level: "info".to_owned(),
                        upload_limit_kib_per_sec: 0,
                        download_limit_kib_per_sec: 0,
                        language: Default::default(),
                    },
                    synced: HashMap::new(),
                    running: HashSet::new(),
                    transfers: HashMap::new(),
                    history: Vec::new(),
                    progress: Default::default(),
                    kept_both: HashMap::new(),
                    private_pages: HashSet::new(),
                }),
                events,
                status,
                step,
                log_dir,
                choices: Default::default(),
                ignore: Default::default(),
                versions: Default::default(),
                trash: Default::default(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, FakeState> {
        // A panic while holding the lock would be a bug in this file; the data stays usable.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn emit(&self, event: SyncEvent) {
        if tunnel_core::activity::is_history(&event) {
            let at = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let mut state = self.lock();
            state.history.push(ActivityEntry {
                at,
                event: event.clone(),
            });
            let excess = state
                .history
                .len()
                .saturating_sub(tunnel_core::journal::ACTIVITY_KEEP);
            state.history.drain(..excess);
        }
        // No listener is fine: the event is simply not seen.
        let _ = self.inner.events.send(event);
    }

    /// Recompute and publish the status from the folder list.
    fn publish(&self) {
        let status = {
            let state = self.lock();
            compute_status(&state)
        };
        self.inner.status.send_replace(status);
    }

    fn update_folder(&self, path: &Path, f: impl FnOnce(&mut FolderStatus)) {
        {
            let mut state = self.lock();
            if let Some(folder) = state.folders.iter_mut().find(|x| x.path == path) {
                f(folder);
            }
        }
        self.publish();
    }

    fn require_connection(&self) -> Result<ConnectionView, AppError> {
        self.lock().connection.clone().ok_or_else(|| AppError {
            code: ErrorCode::NotConfigured,
            message: "Connect to Confluence first.".to_owned(),
        })
    }

    /// Refuse a path that is not a tracked folder.
    fn require_tracked(&self, path: &Path) -> Result<(), AppError> {
        if self.lock().folders.iter().any(|f| f.path == path) {
            return Ok(());
        }
        Err(AppError {
            code: ErrorCode::Invalid,
            message: format!("{} is not a tracked folder.", path.display()),
        })
    }

    /// Start a sync of `path` unless one runs or the folder is paused.
    fn start_sync(&self, path: PathBuf) {
        {
            let mut state = self.lock();
            let Some(folder) = state.folders.iter().find(|f| f.path == path) else {
                return;
            };
            if folder.paused || state.running.contains(&path) {
                return;
            }
            state.running.insert(path.clone());
        }
        let me = self.clone();
        tokio::spawn(async move {
            me.run_sync(&path).await;
            me.lock().running.remove(&path);
            me.lock().transfers.remove(&path);
            me.publish();
        });
    }

    async fn run_sync(&self, path: &Path) {
        self.lock().progress.started(path);
        self.update_folder(path, |f| {
            f.state = SyncState::Syncing;
            f.last_error = None;
        });
        self.emit(SyncEvent::Started {
            folder: path.to_owned(),
        });

        let root = path.to_owned();
        let listed = tokio::task::spawn_blocking(move || list_files(&root)).await;
        let files = match listed {
            Ok(Ok(files)) => files,
            Ok(Err(e)) => {
                return self.fail(
                    path,
                    ErrorCode::FolderMissing,
                    format!("Cannot read {}: {e}", path.display()),
                )
            }
            Err(e) => {
                return self.fail(
                    path,
                    ErrorCode::Internal,
                    format!("The folder scan stopped: {e}"),
                )
            }
        };
        if files.iter().any(|(rel, _, _)| rel == "RATE_LIMITED") {
            self.lock().progress.retry(
                path,
                tunnel_core::progress::RetryCause::RateLimited,
                unix_now() + super::fake_progress::RATE_LIMIT_WAIT_SECS,
            );
            return self.fail(
                path,
                ErrorCode::Unreachable,
                "wiki.example.com asks to slow down (HTTP 429); retrying.".to_owned(),
            );
        }
        if files.iter().any(|(rel, _, _)| rel == "OFFLINE") {
            self.lock().progress.retry(
                path,
                tunnel_core::progress::RetryCause::Offline,
                unix_now() + super::fake_progress::OFFLINE_WAIT_SECS,
            );
            return self.fail(
                path,
                ErrorCode::Unreachable,
                "Cannot reach wiki.example.com; retrying.".to_owned(),
            );
        }
        if files.iter().any(|(rel, _, _)| rel == "FAIL") {
            let page = self
                .lock()
                .folders
                .iter()
                .find(|f| f.path == path)
                .map(|f| f.page_id.to_string());
            return self.fail(
                path,
                ErrorCode::Permission,
                format!(
                    "No permission to add attachments to page {}.",
                    page.unwrap_or_default()
                ),
            );
        }
        let todo: Vec<(String, u64, Option<SystemTime>)> = {
            let state = self.lock();
            let done = state.synced.get(path);
            files
                .into_iter()
                .filter(|(rel, size, mtime)| {
                    done.and_then(|d| d.get(rel)) != Some(&(*size, *mtime))
                })
                .take(MAX_FILES_PER_SYNC)
                .collect()
        };
        // Files another program holds are left, like the real service leaves them.
        let (held, todo): (Vec<_>, Vec<_>) = todo
            .into_iter()
            .partition(|(rel, _, _)| rel.contains("in-use"));
        let held: Vec<String> = held.into_iter().map(|(rel, _, _)| rel).collect();
        // A name containing "cannot-store" stands for a name another device published that
        // this computer refuses (Windows' reserved names): listed, never sent.
        let (refused, todo): (Vec<_>, Vec<_>) = todo
            .into_iter()
            .partition(|(rel, _, _)| rel.contains("cannot-store"));
        let unstorable: Vec<tunnel_core::events::UnstorableName> = refused
            .into_iter()
            .map(|(rel, _, _)| tunnel_core::events::UnstorableName {
                path: rel,
                reason: "a device name Windows reserves".into(),
                kind: "reserved-device-name".into(),
            })
            .collect();
        let mut progress = TransferProgress {
            files_done: 0,
            files_total: todo.len() as u64,
            bytes_done: 0,
            bytes_total: todo.iter().map(|(_, size, _)| size).sum(),
            current: None,
        };
        let mut summary = SyncSummary::default();
        self.set_transfer(path, &progress);
        for (rel, size, mtime) in todo {
            if self.is_paused(path) {
                break;
            }
            progress.current = Some(rel.clone());
            self.set_transfer(path, &progress);
            if rel == "STALL" {
                self.lock().progress.set_stalled(path, true);
                self.publish();
                tokio::time::sleep(self.inner.step * super::fake_progress::STALL_STEPS).await;
                self.lock().progress.set_stalled(path, false);
            }
            if !self.inner.step.is_zero() {
                tokio::time::sleep(self.inner.step).await;
            }
            if rel.contains("conflict") && !rel.contains("(conflict)") {
                let copy = conflict_copy_name(&rel);
                summary.conflicts += 1;
                self.emit(SyncEvent::Conflict {
                    folder: path.to_owned(),
                    path: rel.clone(),
                    copy,
                });
            } else {
                summary.uploaded += 1;
                summary.bytes_up += size;
                self.emit(SyncEvent::Uploaded {
                    folder: path.to_owned(),
                    path: rel.clone(),
                    bytes: size,
                });
            }
            self.lock()
                .synced
                .entry(path.to_owned())
                .or_default()
                .insert(rel, (size, mtime));
            progress.files_done += 1;
            progress.bytes_done += size;
            self.emit(SyncEvent::Progress {
                folder: path.to_owned(),
                progress: progress.clone(),
            });
            self.set_transfer(path, &progress);
        }
        let paused = self.is_paused(path);
        let remaining_files = progress.files_total - progress.files_done;
        let remaining_bytes = progress.bytes_total - progress.bytes_done;
        self.update_folder(path, |f| {
            f.state = if paused {
                SyncState::Paused
            } else {
                SyncState::Idle
            };
            f.pending_files = remaining_files;
            f.pending_bytes = remaining_bytes;
            f.in_use = held;
            f.unstorable = unstorable.clone();
            f.progress = None;
            if !paused {
                f.last_sync_at = Some(unix_now());
            }
        });
        self.emit(SyncEvent::Finished {
            folder: path.to_owned(),
            summary,
        });
    }

    fn fail(&self, path: &Path, code: ErrorCode, message: String) {
        tracing::warn!(folder = %path.display(), %code, "fake sync failed");
        let shown = message.clone();
        // Like the real service: an unreachable server is a state that retries by itself, not
        // an error for the person.
        let state = if code == ErrorCode::Unreachable {
            SyncState::Offline
        } else {
            SyncState::Error
        };
        self.update_folder(path, |f| {
            f.state = state;
            f.last_error = Some(shown);
        });
        self.emit(SyncEvent::Failed {
            folder: path.to_owned(),
            message,
            code,
        });
    }

    fn is_paused(&self, path: &Path) -> bool {
        self.lock()
            .folders
            .iter()
            .find(|f| f.path == path)
            .is_none_or(|f| f.paused)
    }

    fn set_transfer(&self, path: &Path, progress: &TransferProgress) {
        {
            let mut state = self.lock();
            state.transfers.insert(path.to_owned(), progress.clone());
            let report = state.progress.report(path, progress);
            if let Some(folder) = state.folders.iter_mut().find(|f| f.path == path) {
                folder.pending_files = progress.files_total - progress.files_done;
                folder.pending_bytes = progress.bytes_total - progress.bytes_done;
                folder.progress = Some(report);
            }
        }
        self.publish();
    }

    fn check(&self, form: &ConnectionForm) -> Result<ConnectionCheck, AppError> {
        let err = |code, message: String| Err(AppError { code, message });
        let url = form.url.trim();
        let Some(rest) = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
        else {
            return err(
                ErrorCode::Invalid,
                format!("“{url}” is not an http(s) URL."),
            );
        };
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() {
            return err(ErrorCode::Invalid, "The URL has no host name.".to_owned());
        }
        if host.contains("unreachable") {
            return err(
                ErrorCode::Unreachable,
                format!(
                    "Cannot reach {host}: connection refused. Check the address and your network."
                ),
            );
        }
        for (label, path) in [
            ("client certificate", &form.p12_path),
            ("CA file", &form.ca_path),
        ] {
            if let Some(path) = path.as_ref().filter(|p| !p.as_os_str().is_empty()) {
                if !path.is_file() {
                    return err(
                        ErrorCode::Certificate,
                        format!("The {label} {} cannot be read.", path.display()),
                    );
                }
            }
        }
        let stored_secret = self
            .lock()
            .connection
            .as_ref()
            .is_some_and(|c| c.has_secret);
        let secret = form.secret.as_deref().filter(|s| !s.is_empty());
        if secret.is_none() && !stored_secret {
            return err(
                ErrorCode::Invalid,
                "Enter the password or token.".to_owned(),
            );
        }
        let user = match form.auth {
            AuthKind::Pat => "token-user".to_owned(),
            AuthKind::Password | AuthKind::ApiToken => {
                match form
                    .username
                    .as_deref()
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                {
                    Some(u) => u.to_owned(),
                    None => return err(ErrorCode::Invalid, "Enter the user name.".to_owned()),
                }
            }
        };
        if secret == Some("wrong") {
            let what = match form.auth {
                AuthKind::Password => "Wrong user name or password",
                AuthKind::ApiToken => "Wrong user name or API token",
                AuthKind::Pat => "The personal access token was refused",
            };
            return err(ErrorCode::Auth, format!("{what} (HTTP 401 from {host})."));
        }
        let page = form.page_id.trim();
        if page.is_empty() || !page.chars().all(|c| c.is_ascii_digit()) {
            return err(
                ErrorCode::Invalid,
                "The page ID is the number in the page's URL (pageId=…).".to_owned(),
            );
        }
        match page {
            "404" => err(
                ErrorCode::NotFound,
                format!("Page {page} was not found, or {user} cannot see it."),
            ),
            "403" => err(
                ErrorCode::Permission,
                format!("{user} can read page {page} but cannot add attachments to it."),
            ),
            _ => Ok(ConnectionCheck {
                user,
                page_title: format!("Sync storage {page}"),
                can_write: true,
            }),
        }
    }
}

/// A folder just tracked: idle, never synced, watched natively.
fn idle_folder(path: PathBuf, page_id: PageId) -> FolderStatus {
    FolderStatus {
        path,
        page_id,
        state: SyncState::Idle,
        paused: false,
        last_sync_at: None,
        last_error: None,
        pending_files: 0,
        pending_bytes: 0,
        watch: Some(WatchMode::Native),
        in_use: Vec::new(),
        progress: None,
        waiting: None,
        unstorable: Vec::new(),
    }
}

#[async_trait]
impl DesktopBackend for FakeBackend {
    async fn connection(&self) -> Result<Option<ConnectionView>, AppError> {
        Ok(self.lock().connection.clone())
    }

    async fn test_connection(&self, form: ConnectionForm) -> Result<ConnectionCheck, AppError> {
        self.check(&form)
    }

    async fn save_connection(&self, form: ConnectionForm) -> Result<ConnectionCheck, AppError> {
        let check = self.check(&form)?;
        let non_empty = |p: Option<PathBuf>| p.filter(|p| !p.as_os_str().is_empty());
        self.lock().connection = Some(ConnectionView {
            url: form.url.trim().trim_end_matches('/').to_owned(),
            auth: form.auth,
            username: match form.auth {
                AuthKind::Pat => None,
                AuthKind::Password | AuthKind::ApiToken => Some(check.user.clone()),
            },
            page_id: form.page_id.trim().to_owned(),
            p12_path: non_empty(form.p12_path),
            ca_path: non_empty(form.ca_path),
            has_secret: true,
        });
        self.publish();
        Ok(check)
    }

    async fn folders(&self) -> Result<Vec<FolderStatus>, AppError> {
        Ok(self.lock().folders.clone())
    }

    async fn add_folder(
        &self,
        path: PathBuf,
        page_id: Option<PageId>,
    ) -> Result<FolderStatus, AppError> {
        let connection = self.require_connection()?;
        let invalid = |message: String| AppError {
            code: ErrorCode::Invalid,
            message,
        };
        if !path.is_absolute() {
            return Err(invalid(format!(
                "{} is not an absolute path.",
                path.display()
            )));
        }
        let is_dir = tokio::fs::metadata(&path)
            .await
            .map(|m| m.is_dir())
            .unwrap_or(false);
        if !is_dir {
            return Err(AppError {
                code: ErrorCode::NotFound,
                message: format!("{} is not a folder on this computer.", path.display()),
            });
        }
        let page_id = match page_id {
            Some(page_id) => page_id,
            None => PageId::parse(&connection.page_id)?,
        };
        let folder = {
            let mut state = self.lock();
            if let Some(other) = state
                .folders
                .iter()
                .find(|f| path.starts_with(&f.path) || f.path.starts_with(&path))
            {
                return Err(invalid(format!(
                    "{} overlaps the tracked folder {}.",
                    path.display(),
                    other.path.display()
                )));
            }
            let folder = idle_folder(path.clone(), page_id);
            state.folders.push(folder.clone());
            folder
        };
        self.publish();
        self.start_sync(path);
        Ok(folder)
    }

    async fn remove_folder(&self, path: PathBuf) -> Result<(), AppError> {
        {
            let mut state = self.lock();
            let before = state.folders.len();
            state.folders.retain(|f| f.path != path);
            if state.folders.len() == before {
                return Err(AppError {
                    code: ErrorCode::Invalid,
                    message: format!("{} is not a tracked folder.", path.display()),
                });
            }
            state.synced.remove(&path);
        }
        self.inner.choices.forget(&path);
        self.publish();
        Ok(())
    }

    async fn set_paused(&self, path: Option<PathBuf>, paused: bool) -> Result<(), AppError> {
        let resumed: Vec<PathBuf> = {
            let mut state = self.lock();
            if let Some(p) = &path {
                if !state.folders.iter().any(|f| &f.path == p) {
                    return Err(AppError {
                        code: ErrorCode::Invalid,
                        message: format!("{} is not a tracked folder.", p.display()),
                    });
                }
            }
            let mut changed = Vec::new();
            let running = state.running.clone();
            for folder in state.folders.iter_mut() {
                if path.as_ref().is_some_and(|p| p != &folder.path) || folder.paused == paused {
                    continue;
                }
                folder.paused = paused;
                if !running.contains(&folder.path) {
                    folder.state = if paused {
                        SyncState::Paused
                    } else {
                        SyncState::Idle
                    };
                }
                changed.push(folder.path.clone());
            }
            changed
        };
        self.publish();
        if !paused {
            for p in resumed {
                self.start_sync(p);
            }
        }
        Ok(())
    }

    async fn sync_now(&self, path: Option<PathBuf>) -> Result<(), AppError> {
        self.require_connection()?;
        let targets: Vec<PathBuf> = {
            let state = self.lock();
            match &path {
                Some(p) if !state.folders.iter().any(|f| &f.path == p) => {
                    return Err(AppError {
                        code: ErrorCode::Invalid,
                        message: format!("{} is not a tracked folder.", p.display()),
                    })
                }
                Some(p) => vec![p.clone()],
                None => state.folders.iter().map(|f| f.path.clone()).collect(),
            }
        };
        for p in targets {
            self.start_sync(p);
        }
        Ok(())
    }

    async fn settings(&self) -> Result<SettingsView, AppError> {
        Ok(self.lock().settings.clone())
    }

    async fn save_settings(&self, settings: SettingsView) -> Result<(), AppError> {
        settings.validate()?;
        self.lock().settings = settings;
        Ok(())
    }

    async fn recent_activity(&self, limit: usize) -> Result<Vec<ActivityEntry>, AppError> {
        Ok(self
            .lock()
            .history
            .iter()
            .rev()
            .take(limit)
            .cloned()
            .collect())
    }

    fn subscribe(&self) -> broadcast::Receiver<SyncEvent> {
        self.inner.events.subscribe()
    }

    fn status(&self) -> watch::Receiver<SyncStatus> {
        self.inner.status.subscribe()
    }

    fn log_dir(&self) -> PathBuf {
        self.inner.log_dir.clone()
    }

    async fn page_usage(
        &self,
        path: Option<PathBuf>,
    ) -> Result<Vec<crate::app::page_care::FolderUsage>, AppError> {
        let state = self.lock();
        Ok(state
            .folders
            .iter()
            .filter(|f| path.as_ref().is_none_or(|p| p == &f.path))
            .map(|f| fake_usage(f, state.synced.get(&f.path)))
            .collect())
    }

    async fn token_notice(
        &self,
    ) -> Result<Option<tunnel_core::token_notice::TokenNotice>, AppError> {
        // The fake's token (when the connection uses one) expires in a few days, so the
        // banner can be seen; passwords have no expiry to warn about.
        let pat = self
            .lock()
            .connection
            .as_ref()
            .is_some_and(|c| c.auth == super::backend::AuthKind::Pat);
        let now = tunnel_core::clock::unix_now();
        Ok(pat
            .then(|| {
                tunnel_core::token_notice::notice(
                    "demo",
                    now + FAKE_TOKEN_DAYS_LEFT * 86_400 + 3600,
                    now,
                    tunnel_core::token_notice::DEFAULT_WARN_DAYS,
                )
            })
            .flatten())
    }

    async fn conflicts(&self) -> Result<Vec<FolderConflict>, AppError> {
        let folders: Vec<(PathBuf, _)> = {
            let state = self.lock();
            state
                .folders
                .iter()
                .map(|f| {
                    let kept = state.kept_both.get(&f.path).cloned().unwrap_or_default();
                    (f.path.clone(), kept)
                })
                .collect()
        };
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for (root, kept) in folders {
                for c in disk_conflicts(&root, &kept) {
                    out.push(FolderConflict::new(root.clone(), c));
                }
            }
            out
        })
        .await
        .map_err(|e| AppError {
            code: ErrorCode::Internal,
            message: format!("listing conflicts stopped: {e}"),
        })
    }

    async fn resolve_conflict(
        &self,
        folder: PathBuf,
        path: String,
        keep: tunnel_core::conflicts::Keep,
    ) -> Result<(), AppError> {
        let kept = self
            .lock()
            .kept_both
            .get(&folder)
            .cloned()
            .unwrap_or_default();
        let root = folder.clone();
        let done = tokio::task::spawn_blocking(move || {
            let conflict = disk_conflicts(&root, &kept)
                .into_iter()
                .find(|c| c.copy.path.as_str() == path)
                .ok_or_else(|| AppError {
                    code: ErrorCode::Invalid,
                    message: format!("{path} is not an unresolved conflict."),
                })?;
            let plan = tunnel_core::conflicts::resolution(&conflict, keep);
            tunnel_core::conflicts::apply(&root, &conflict, &plan).map_err(|e| AppError {
                code: e.code(),
                message: e.to_string(),
            })?;
            Ok::<_, AppError>(plan)
        })
        .await
        .map_err(|e| AppError {
            code: ErrorCode::Internal,
            message: format!("resolving stopped: {e}"),
        })??;
        if let tunnel_core::conflicts::Resolution::KeepBoth { copy } = done {
            self.lock()
                .kept_both
                .entry(folder.clone())
                .or_default()
                .insert(copy);
        }
        self.sync_now(Some(folder)).await
    }

    async fn page_privacy(&self, page_id: Option<PageId>) -> Result<PagePrivacy, AppError> {
        let (page, user) = self.privacy_subject(page_id)?;
        let private = self.lock().private_pages.contains(page.as_str());
        Ok(fake_privacy(&page, &user, private))
    }

    async fn make_page_private(&self, page_id: Option<PageId>) -> Result<PagePrivacy, AppError> {
        let (page, user) = self.privacy_subject(page_id)?;
        if page.as_str() == "403" {
            return Err(AppError::new(
                ErrorCode::Permission,
                format!("{user} may not change who may view page {page}"),
            ));
        }
        self.lock().private_pages.insert(page.to_string());
        Ok(fake_privacy(&page, &user, true))
    }

    async fn folder_choice(
        &self,
        path: PathBuf,
    ) -> Result<tunnel_core::selective::FolderChoice, AppError> {
        self.require_tracked(&path)?;
        Ok(self.inner.choices.choice(&path))
    }

    async fn set_excluded(
        &self,
        path: PathBuf,
        subpath: String,
        excluded: bool,
    ) -> Result<tunnel_core::selective::FolderChoice, AppError> {
        self.require_tracked(&path)?;
        self.inner.choices.set(&path, &subpath, excluded)
    }

    async fn ignore_rules(
        &self,
        folder: Option<PathBuf>,
    ) -> Result<crate::app::ignore_rules::RulesEditor, AppError> {
        if let Some(f) = &folder {
            self.require_tracked(f)?;
        }
        self.inner.ignore.editor(folder)
    }

    async fn preview_ignore_rules(
        &self,
        folder: Option<PathBuf>,
        text: String,
    ) -> Result<Vec<crate::app::ignore_rules::FolderPreview>, AppError> {
        if let Some(f) = &folder {
            self.require_tracked(f)?;
        }
        let folders: Vec<PathBuf> = self.lock().folders.iter().map(|f| f.path.clone()).collect();
        self.inner.ignore.preview(&folders, folder, &text)
    }

    async fn save_ignore_rules(
        &self,
        folder: Option<PathBuf>,
        text: String,
    ) -> Result<crate::app::ignore_rules::RulesEditor, AppError> {
        if let Some(f) = &folder {
            self.require_tracked(f)?;
        }
        self.inner.ignore.save(folder, &text)
    }

    async fn history_paths(
        &self,
        folder: PathBuf,
    ) -> Result<Vec<tunnel_core::sync::HistoryPath>, AppError> {
        self.require_tracked(&folder)?;
        self.inner.versions.paths(&folder)
    }

    async fn path_versions(
        &self,
        folder: PathBuf,
        path: Option<String>,
    ) -> Result<Vec<tunnel_core::sync::PathVersion>, AppError> {
        self.require_tracked(&folder)?;
        self.inner.versions.versions(&folder, path.as_deref())
    }

    async fn restore_version(
        &self,
        folder: PathBuf,
        path: Option<String>,
        pick: crate::app::versions::RestorePick,
        to: Option<PathBuf>,
        dry_run: bool,
    ) -> Result<tunnel_core::sync::RestoreReport, AppError> {
        self.require_tracked(&folder)?;
        let report =
            self.inner
                .versions
                .restore(&folder, path.as_deref(), &pick, to.as_deref(), dry_run)?;
        if to.is_none() && !dry_run {
            self.sync_now(Some(folder)).await?;
        }
        Ok(report)
    }

    async fn trash(&self) -> Result<Vec<crate::app::trash_view::FolderTrash>, AppError> {
        let folders: Vec<PathBuf> = self.lock().folders.iter().map(|f| f.path.clone()).collect();
        Ok(self.inner.trash.list(&folders))
    }

    async fn put_back_from_trash(
        &self,
        folder: PathBuf,
        in_trash: String,
    ) -> Result<crate::app::trash_view::PutBack, AppError> {
        self.require_tracked(&folder)?;
        let done = self.inner.trash.put_back(&folder, &in_trash)?;
        self.sync_now(Some(folder)).await?;
        Ok(done)
    }

    async fn empty_trash(
        &self,
        folder: PathBuf,
    ) -> Result<crate::app::trash_view::Emptied, AppError> {
        self.require_tracked(&folder)?;
        self.inner.trash.empty(&folder)
    }
}

/// The device the fake calls itself: conflict copies named after it are "mine".
pub const FAKE_DEVICE: &str = "this-computer";

/// The conflicts in `root` as the files on disk show them (the fake has no synced tree): a
/// conflict copy named by the real rule beside its original; a copy's writer is the device its
/// name gives, every other file is this device's.
fn disk_conflicts(
    root: &Path,
    kept: &std::collections::BTreeSet<tunnel_core::rel_path::RelPath>,
) -> Vec<tunnel_core::conflicts::Conflict> {
    use tunnel_core::manifest::{EntryKind, FileEntry};
    let Ok(files) = list_files(root) else {
        return Vec::new();
    };
    let tree = files
        .into_iter()
        .filter_map(|(rel, size, mtime)| {
            let path = tunnel_core::rel_path::RelPath::new(&rel).ok()?;
            let device = tunnel_core::conflicts::parse_copy_name(path.file_name())
                .map_or_else(|| FAKE_DEVICE.to_owned(), |c| c.device);
            let mtime_ns = mtime
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
            let entry = FileEntry {
                path: path.clone(),
                kind: EntryKind::File,
                deleted: false,
                size,
                mtime_ns,
                sha256: None,
                version: 1,
                device: device.into(),
                chunks: Default::default(),
            };
            Some((path, entry))
        })
        .collect();
    tunnel_core::conflicts::find_conflicts(&tree, FAKE_DEVICE, kept)
}

/// Days the fake's personal access token has left.
const FAKE_TOKEN_DAYS_LEFT: i64 = 5;

/// The fake's page of `folder`: one attachment per synced file, each written once, a small
/// file list beside them; nothing to collect.
fn fake_usage(
    folder: &FolderStatus,
    synced: Option<&HashMap<String, (u64, Option<SystemTime>)>>,
) -> crate::app::page_care::FolderUsage {
    let files = synced.map_or(0, |m| m.len() as u64);
    let bytes: u64 = synced.map_or(0, |m| m.values().map(|(size, _)| *size).sum());
    let list_bytes = 512;
    crate::app::page_care::FolderUsage {
        path: folder.path.clone(),
        page_id: folder.page_id.to_string(),
        usage: tunnel_core::sync::PageUsage {
            attachments: files + 1,
            current_bytes: bytes + list_bytes,
            referenced: files + 1,
            referenced_bytes: bytes + list_bytes,
            grace_secs: 86_400,
            ..Default::default()
        },
    }
}

/// The whole picture from the folder list: Syncing while any syncs, else the worst state.
fn compute_status(state: &FakeState) -> SyncStatus {
    let mut folders = state.folders.clone();
    for f in &mut folders {
        f.waiting = state.progress.wait(f);
        if f.state != SyncState::Syncing {
            f.progress = None;
        }
    }
    let any = |s: SyncState| folders.iter().any(|f| f.state == s);
    let overall = if any(SyncState::Syncing) {
        SyncState::Syncing
    } else if any(SyncState::Error) {
        SyncState::Error
    } else if any(SyncState::Offline) {
        SyncState::Offline
    } else if !folders.is_empty() && folders.iter().all(|f| f.paused) {
        SyncState::Paused
    } else {
        SyncState::Idle
    };
    let transfer = (!state.transfers.is_empty()).then(|| {
        state
            .transfers
            .values()
            .fold(TransferProgress::default(), |mut acc, t| {
                acc.files_done += t.files_done;
                acc.files_total += t.files_total;
                acc.bytes_done += t.bytes_done;
                acc.bytes_total += t.bytes_total;
                acc
            })
    });
    let message = match overall {
        SyncState::Syncing => transfer
            .as_ref()
            .map(|t| format!("Syncing {} of {} files", t.files_done, t.files_total)),
        SyncState::Error => folders.iter().find_map(|f| f.last_error.clone()),
        SyncState::Paused => Some("Paused".to_owned()),
        SyncState::Offline => Some("Offline; retrying".to_owned()),
        SyncState::Idle if folders.is_empty() => None,
        SyncState::Idle => Some("Up to date".to_owned()),
    };
    SyncStatus {
        state: overall,
        message,
        progress: tunnel_core::progress::tracker::combine(
            folders.iter().filter_map(|f| f.progress.as_ref()),
        ),
        waiting: super::fake_progress::overall_wait(&folders),
        folders,
        transfer,
        next_poll_at: None,
    }
}

/// Every regular file under `root` (hidden entries skipped), sorted, with size and mtime.
pub(super) fn list_files(root: &Path) -> std::io::Result<Vec<(String, u64, Option<SystemTime>)>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                let rel = entry
                    .path()
                    .strip_prefix(root)
                    .map(|p| p.to_path_buf())
                    .unwrap_or_default();
                let rel = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((rel, meta.len(), meta.modified().ok()));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn conflict_copy_name(rel: &str) -> String {
    match rel.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !stem.ends_with('/') => {
            format!("{stem} (conflict).{ext}")
        }
        _ => format!("{rel} (conflict)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(secret: &str, page: &str) -> ConnectionForm {
        ConnectionForm {
            url: "https://wiki.example.com".to_owned(),
            auth: AuthKind::Password,
            username: Some("alice".to_owned()),
            secret: Some(secret.to_owned()),
            page_id: page.to_owned(),
            p12_path: None,
            p12_password: None,
            ca_path: None,
        }
    }

    #[tokio::test]
    async fn connection_errors_carry_the_code_a_person_needs() {
        let fake = FakeBackend::with_step(Duration::ZERO);
        let code = |r: Result<ConnectionCheck, AppError>| r.err().map(|e| e.code);
        assert_eq!(
            code(fake.test_connection(form("wrong", "1")).await),
            Some(ErrorCode::Auth)
        );
        assert_eq!(
            code(fake.test_connection(form("s", "404")).await),
            Some(ErrorCode::NotFound)
        );
        assert_eq!(
            code(fake.test_connection(form("s", "403")).await),
            Some(ErrorCode::Permission)
        );
        assert!(
            fake.test_connection(form("s", "42")).await.is_ok(),
            "a good form passes"
        );
        assert!(
            fake.connection().await.ok().flatten().is_none(),
            "testing saves nothing"
        );
    }

    #[tokio::test]
    async fn a_sync_reports_each_file_then_goes_idle() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("a.txt"), b"hello").expect("write");
        std::fs::write(dir.path().join("b conflict.txt"), b"x").expect("write");
        let fake = FakeBackend::with_step(Duration::ZERO);
        let mut events = fake.subscribe();
        fake.save_connection(form("s", "42")).await.expect("saved");
        fake.add_folder(dir.path().to_owned(), None)
            .await
            .expect("added");
        let mut seen = Vec::new();
        loop {
            let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
                .await
                .expect("the fake sync reports within 10 s")
                .expect("channel open");
            let done = matches!(event, SyncEvent::Finished { .. });
            seen.push(event);
            if done {
                break;
            }
        }
        assert!(
            seen.iter().any(
                |e| matches!(e, SyncEvent::Uploaded { path, bytes: 5, .. } if path == "a.txt")
            ),
            "a.txt is uploaded with its size: {seen:?}"
        );
        assert!(
            seen.iter().any(|e| matches!(e, SyncEvent::Conflict { copy, .. } if copy == "b conflict (conflict).txt")),
            "the conflict file is reported as one: {seen:?}"
        );
        let mut status = fake.status();
        let status = status
            .wait_for(|s| s.state == SyncState::Idle)
            .await
            .expect("status")
            .clone();
        assert_eq!(status.folders.len(), 1, "one folder is tracked");
        assert!(
            status.folders[0].last_sync_at.is_some(),
            "a finished sync records its time"
        );
    }
}
