//! The sync service: one actor task that owns the schedule of every tracked folder and runs
//! their syncs one at a time — on local changes (debounced), on a remote poll (cheap: the head
//! property only), on request, and on a slow safety-net rescan. [`EngineHandle`] is how the
//! CLI's service loop and the desktop app talk to it; status is published on a `watch`
//! channel and events on a `broadcast` channel, so readers never wait for a running sync.
//! Those two channels ([`EngineChannels`]) belong to whoever hosts engines: an engine restarted
//! with new settings or a new connection publishes into the same ones, so a reader subscribes
//! once, and the host publishes there itself while no engine runs (not configured yet,
//! waiting for another service to let go).
//!
//! Failures: retryable ones (server unreachable, rate limited) back off exponentially and
//! recover by themselves; the others (wrong password, certificate, permission, mass
//! deletion, missing folder) stop that folder until the user acts (`sync_now`, resume).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::clock::unix_now;
use crate::error::SyncError;
use crate::events::{FolderStatus, SyncEvent, SyncState, SyncStatus, SyncSummary, UnstorableName};
use crate::ids::FolderId;
use crate::journal::FolderRecord;
use crate::manifest::{Head, Limits};
use crate::progress::stall::STALL_AFTER;
use crate::progress::throttle::{Throttle, PROGRESS_EVERY};
use crate::progress::tracker::combine;
use crate::progress::{choose_wait, FolderTracker, RetryCause, WaitFacts, WaitReason};
use crate::remote::{RemoteError, RemoteStore};
use crate::schedule::{Due, Schedule};
use crate::sync::{SyncOptions, Syncer};
use crate::watch::{watch_folder, FolderWatcher};

pub use crate::engine_settings::EngineSettings;

/// Builds the remote store of a folder (the Confluence page it uses).
pub type StoreFactory =
    Arc<dyn Fn(&FolderRecord) -> Result<Arc<dyn RemoteStore>, RemoteError> + Send + Sync>;

/// Errors of the handle.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The service has stopped.
    #[error("the sync service has stopped")]
    Stopped,
    /// No such folder.
    #[error("{0} is not a synced folder")]
    UnknownFolder(PathBuf),
    /// A journal operation failed.
    #[error(transparent)]
    Sync(#[from] SyncError),
}

enum Request {
    SyncNow(Option<PathBuf>, oneshot::Sender<Result<(), EngineError>>),
    SetPaused(
        Option<PathBuf>,
        bool,
        oneshot::Sender<Result<(), EngineError>>,
    ),
    Reload(oneshot::Sender<Result<(), EngineError>>),
    Shutdown(oneshot::Sender<()>),
}

/// Events kept for a slow reader before it starts missing some (it is told how many).
const EVENTS_BUFFER: usize = 1024;

/// The status and event channels engines publish on, created once by their host and outliving
/// any one engine. Cheap to clone (every clone is the same pair of channels).
#[derive(Clone)]
pub struct EngineChannels {
    status: watch::Sender<SyncStatus>,
    events: broadcast::Sender<SyncEvent>,
    /// The history events alone (see [`crate::sync::Syncer::subscribe_history`]).
    history: broadcast::Sender<SyncEvent>,
}

impl EngineChannels {
    /// New channels: the status starts as [`SyncStatus::default`], no events yet.
    pub fn new() -> EngineChannels {
        let (status, _) = watch::channel(SyncStatus::default());
        let (events, _) = broadcast::channel(EVENTS_BUFFER);
        let (history, _) = broadcast::channel(crate::activity::HISTORY_BUFFER);
        EngineChannels {
            status,
            events,
            history,
        }
    }

    /// Live status: the running engine's, or what the host published while none runs.
    pub fn status(&self) -> watch::Receiver<SyncStatus> {
        self.status.subscribe()
    }

    /// Live events of every engine started on these channels.
    pub fn subscribe(&self) -> broadcast::Receiver<SyncEvent> {
        self.events.subscribe()
    }

    /// The history events of every engine started on these channels (what the activity
    /// recorder reads: see [`crate::sync::Syncer::subscribe_history`]).
    pub fn subscribe_history(&self) -> broadcast::Receiver<SyncEvent> {
        self.history.subscribe()
    }

    /// Publish a status while no engine runs (why not: not configured, another service holds
    /// the configuration). A running engine overwrites it with its own at its next change.
    pub fn publish_status(&self, status: SyncStatus) {
        self.status.send_replace(status);
    }
}

impl Default for EngineChannels {
    fn default() -> Self {
        EngineChannels::new()
    }
}

/// Talk to a running engine. Cheap to clone.
#[derive(Clone)]
pub struct EngineHandle {
    tx: mpsc::Sender<Request>,
    channels: EngineChannels,
    /// Cancelled when the actor task ends (shut down, or every handle dropped).
    stopped: CancellationToken,
}

impl EngineHandle {
    /// Start the engine on the current tokio runtime, publishing on `channels`: its status
    /// replaces whatever was there (an earlier engine's, or the host's), and the syncer's
    /// events go to `channels` (not to a receiver taken from `syncer` before).
    pub fn spawn(
        syncer: Syncer,
        stores: StoreFactory,
        settings: EngineSettings,
        channels: &EngineChannels,
    ) -> (EngineHandle, JoinHandle<()>) {
        // Requests are rare (user actions); a small bound is plenty.
        let (tx, rx) = mpsc::channel(32);
        let (dirty_tx, dirty_rx) = mpsc::unbounded_channel();
        // A fresh engine knows no folders yet; the actor publishes them once it has read them.
        channels.publish_status(SyncStatus::default());
        let stopped = CancellationToken::new();
        let actor = Actor {
            syncer: syncer.with_events(channels.events.clone(), channels.history.clone()),
            stores,
            settings,
            folders: HashMap::new(),
            status: channels.status.clone(),
            dirty_tx,
            paused_all: false,
            running: None,
            throttle: Throttle::new(PROGRESS_EVERY),
        };
        let task = tokio::spawn(actor.run(rx, dirty_rx, stopped.clone().drop_guard()));
        (
            EngineHandle {
                tx,
                channels: channels.clone(),
                stopped,
            },
            task,
        )
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, EngineError>>) -> Request,
    ) -> Result<T, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(make(tx))
            .await
            .map_err(|_| EngineError::Stopped)?;
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    /// Sync one folder (or all) as soon as possible.
    pub async fn sync_now(&self, folder: Option<PathBuf>) -> Result<(), EngineError> {
        self.ask(|tx| Request::SyncNow(folder, tx)).await
    }

    /// Pause or resume one folder (or everything). Remembered across restarts.
    pub async fn set_paused(
        &self,
        folder: Option<PathBuf>,
        paused: bool,
    ) -> Result<(), EngineError> {
        self.ask(|tx| Request::SetPaused(folder, paused, tx)).await
    }

    /// Re-read the folder list from the journal (after add/remove).
    pub async fn reload(&self) -> Result<(), EngineError> {
        self.ask(Request::Reload).await
    }

    /// Live status (of the engine's [`EngineChannels`]).
    pub fn status(&self) -> watch::Receiver<SyncStatus> {
        self.channels.status()
    }

    /// Live events (of the engine's [`EngineChannels`]).
    pub fn subscribe(&self) -> broadcast::Receiver<SyncEvent> {
        self.channels.subscribe()
    }

    /// The history events (of the engine's [`EngineChannels`]).
    pub fn subscribe_history(&self) -> broadcast::Receiver<SyncEvent> {
        self.channels.subscribe_history()
    }

    /// Resolves once the engine has stopped (after [`EngineHandle::shutdown`], or when every
    /// handle is gone). Waiting here does not keep the engine alive.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.stopped.clone().cancelled_owned()
    }

    /// Stop: the running folder sync gets `grace` to finish, then is dropped (every sync is
    /// safe to interrupt: sent chunks are remembered, temporary files are cleaned next time).
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Request::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Per-folder schedule.
struct FolderRuntime {
    record: FolderRecord,
    state: SyncState,
    last_error: Option<String>,
    schedule: Schedule,
    /// Progress of this folder's running sync, from the syncer's events.
    progress: Option<FolderTracker>,
    /// Backing off from a retryable failure: its cause and when the next attempt is due.
    retry: Option<(RetryCause, Instant)>,
    watcher: Option<FolderWatcher>,
    /// Files the last sync left because another program holds them open.
    in_use: Vec<String>,
    /// Names from other devices the last full sync could not store here (the journal's
    /// list, read when the folder is added and after each sync).
    unstorable: Vec<UnstorableName>,
}

impl FolderRuntime {
    /// Watch the folder if it is not watched yet and exists (a folder on a drive that was not
    /// mounted when the service started gets its watcher after its first good sync).
    fn ensure_watched(
        &mut self,
        settings: &EngineSettings,
        dirty_tx: &mpsc::UnboundedSender<FolderId>,
    ) {
        if self.watcher.is_some() || !self.record.path.is_dir() {
            return;
        }
        match watch_folder(
            self.record.id,
            &self.record.path,
            dirty_tx.clone(),
            settings.watch,
        ) {
            Ok(w) => self.watcher = Some(w),
            Err(e) => {
                warn!(folder = %self.record.path.display(), error = %e, "not watching; relying on periodic rescans")
            }
        }
    }
}

type RunningSync = (FolderId, JoinHandle<Result<Option<SyncSummary>, SyncError>>);

struct Actor {
    syncer: Syncer,
    stores: StoreFactory,
    settings: EngineSettings,
    folders: HashMap<FolderId, FolderRuntime>,
    status: watch::Sender<SyncStatus>,
    dirty_tx: mpsc::UnboundedSender<FolderId>,
    paused_all: bool,
    running: Option<RunningSync>,
    /// Keeps progress-only status updates to at most one per [`PROGRESS_EVERY`].
    throttle: Throttle,
}

/// While a sync runs, the status is refreshed at least this often even without progress
/// events, so the speed decays when nothing moves and a stall is noticed.
const REFRESH_EVERY: Duration = Duration::from_secs(2);
/// How long a running sync may take to finish when the service stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

impl Actor {
    /// The actor's loop; `_stopped` tells [`EngineHandle::stopped`] when it ends (however).
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Request>,
        mut dirty: mpsc::UnboundedReceiver<FolderId>,
        _stopped: tokio_util::sync::DropGuard,
    ) {
        if let Err(e) = self.reload().await {
            warn!(error = %e, "could not read the folder list");
        }
        self.publish();
        let mut events = self.syncer.subscribe();
        let mut events_open = true;
        loop {
            let wake = self.next_wake();
            // Progress is folded into the published status at most every PROGRESS_EVERY; a
            // running sync is looked at every REFRESH_EVERY (rate decay, stall detection).
            let refresh_at = self
                .running
                .as_ref()
                .map(|_| Instant::now() + REFRESH_EVERY);
            let progress_at = match (self.throttle.due_at(), refresh_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            tokio::select! {
                req = rx.recv() => match req {
                    Some(Request::Shutdown(reply)) => {
                        self.finish_running().await;
                        let _ = reply.send(());
                        info!("sync service stopped");
                        return;
                    }
                    None => {
                        self.finish_running().await;
                        return;
                    }
                    Some(req) => self.handle(req).await,
                },
                Some(id) = dirty.recv() => {
                    let now = Instant::now();
                    if let Some(f) = self.folders.get_mut(&id) {
                        f.schedule.local_change(now, &self.settings);
                    }
                }
                result = wait_running(&mut self.running), if self.running.is_some() => {
                    let (id, _) = self.running.take().expect("checked above");
                    self.on_finished(id, result).await;
                    self.publish();
                }
                ev = events.recv(), if events_open => match ev {
                    Ok(SyncEvent::Progress { folder, progress }) => {
                        let now = Instant::now();
                        if let Some(f) = self.folders.values_mut().find(|f| f.record.path == folder) {
                            let t = f.progress.get_or_insert_with(|| FolderTracker::started(now));
                            t.observe_wire(now, crate::progress::wire::total());
                            t.observe(now, progress);
                            if self.throttle.changed(now) {
                                self.publish();
                            }
                        }
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => events_open = false,
                },
                _ = tokio::time::sleep_until(progress_at.unwrap_or(wake)), if progress_at.is_some() => {
                    let now = Instant::now();
                    for f in self.folders.values_mut() {
                        if let Some(t) = f.progress.as_mut() {
                            t.observe_wire(now, crate::progress::wire::total());
                            t.tick(now);
                        }
                    }
                    self.publish();
                }
                _ = tokio::time::sleep_until(wake) => {}
            }
            if self.running.is_none() {
                self.start_due();
            }
        }
    }

    async fn finish_running(&mut self) {
        if let Some((id, mut task)) = self.running.take() {
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
                Ok(r) => {
                    let r = r.unwrap_or_else(|e| Err(SyncError::Internal(e.to_string())));
                    self.on_finished(id, r).await;
                }
                Err(_) => {
                    task.abort();
                    info!("interrupted the running sync; it resumes next start");
                }
            }
        }
    }

    async fn handle(&mut self, req: Request) {
        match req {
            Request::SyncNow(path, reply) => {
                let r = self.select(&path).map(|ids| {
                    for id in ids {
                        if let Some(f) = self.folders.get_mut(&id) {
                            f.schedule.request_sync();
                        }
                    }
                });
                let _ = reply.send(r);
            }
            Request::SetPaused(path, paused, reply) => {
                let r = self.set_paused(path, paused).await;
                self.publish();
                let _ = reply.send(r);
            }
            Request::Reload(reply) => {
                let r = self.reload().await;
                self.publish();
                let _ = reply.send(r);
            }
            Request::Shutdown(_) => unreachable!("handled in run"),
        }
    }

    fn select(&self, path: &Option<PathBuf>) -> Result<Vec<FolderId>, EngineError> {
        match path {
            None => Ok(self.folders.keys().copied().collect()),
            Some(p) => self
                .folders
                .values()
                .find(|f| &f.record.path == p)
                .map(|f| vec![f.record.id])
                .ok_or_else(|| EngineError::UnknownFolder(p.clone())),
        }
    }

    async fn set_paused(&mut self, path: Option<PathBuf>, paused: bool) -> Result<(), EngineError> {
        let journal = self.syncer.journal();
        match path {
            None => {
                self.paused_all = paused;
                run_journal(journal, move |j| j.set_paused_all(paused)).await?;
                if !paused {
                    for f in self.folders.values_mut() {
                        f.schedule.request_sync();
                    }
                }
            }
            Some(p) => {
                let ids = self.select(&Some(p))?;
                for id in ids {
                    run_journal(journal.clone(), move |j| j.set_paused(id, paused)).await?;
                    if let Some(f) = self.folders.get_mut(&id) {
                        f.record.paused = paused;
                        if !paused {
                            f.schedule.request_sync();
                        }
                    }
                }
            }
        }
        Ok(())
    }

    async fn reload(&mut self) -> Result<(), EngineError> {
        let journal = self.syncer.journal();
        let (records, paused_all) = run_journal(journal, |j| {
            let folders = j.folders()?;
            Ok((folders, j.paused_all()?))
        })
        .await?;
        self.paused_all = paused_all;
        let now = Instant::now();
        let mut next: HashMap<FolderId, FolderRuntime> = HashMap::new();
        for record in records {
            let id = record.id;
            let rt = match self.folders.remove(&id) {
                Some(mut existing) => {
                    existing.record = record;
                    existing
                }
                None => {
                    let mut rt = FolderRuntime {
                        record,
                        state: SyncState::Idle,
                        last_error: None,
                        // Catches up at once with what changed while nothing watched.
                        schedule: Schedule::new(now, &self.settings),
                        progress: None,
                        retry: None,
                        watcher: None,
                        in_use: Vec::new(),
                        unstorable: stored_unstorable(&self.syncer, id).await,
                    };
                    rt.ensure_watched(&self.settings, &self.dirty_tx);
                    rt
                }
            };
            next.insert(id, rt);
        }
        self.folders = next;
        Ok(())
    }

    fn next_wake(&self) -> Instant {
        let now = Instant::now();
        let far = now + Duration::from_secs(3600);
        if self.running.is_some() || self.paused_all {
            return far;
        }
        self.folders
            .values()
            .filter(|f| !f.record.paused)
            .filter_map(|f| f.schedule.wake_at(now, &self.settings))
            .min()
            .unwrap_or(far)
    }

    /// Start the most urgent due folder, if any: a full sync before a poll.
    fn start_due(&mut self) {
        if self.paused_all {
            return;
        }
        let now = Instant::now();
        let settings = &self.settings;
        let due = self
            .folders
            .values()
            .filter(|f| !f.record.paused)
            .filter_map(|f| f.schedule.due(now, settings).map(|d| (d, f.record.id)))
            .min_by_key(|(d, id)| (*d != Due::Full, *id));
        let Some((due, id)) = due else { return };
        let full = due == Due::Full;
        let Some(f) = self.folders.get_mut(&id) else {
            return;
        };
        f.schedule.started(now, due, &self.settings);
        let mut tracker = FolderTracker::started(now);
        tracker.observe_wire(now, crate::progress::wire::total());
        f.progress = Some(tracker);
        f.retry = None;
        f.state = SyncState::Syncing;
        let record = f.record.clone();
        let syncer = self.syncer.clone();
        let store = (self.stores)(&record);
        let limits = Limits::default();
        let task = tokio::spawn(async move {
            let store = store?;
            if !full {
                // Cheap poll: only the head property; sync when it moved.
                let head = store.read_head().await?;
                let seq = head
                    .map(|h| Head::parse(&h.value, &limits).map(|h| (h.generation, h.seq)))
                    .transpose()?;
                let unchanged = match (&seq, &record.generation, record.seq) {
                    (Some((g, s)), Some(rg), Some(rs)) => g == rg && *s == rs,
                    (None, None, _) => true,
                    _ => false,
                };
                if unchanged {
                    debug!(folder = %record.path.display(), "remote unchanged");
                    return Ok(None);
                }
            }
            syncer
                .sync_folder(record.id, store.as_ref(), &SyncOptions::default())
                .await
                .map(Some)
        });
        self.running = Some((id, task));
        self.publish();
    }

    async fn on_finished(&mut self, id: FolderId, result: Result<Option<SyncSummary>, SyncError>) {
        if let (Some(hook), false) = (self.settings.after_sync, matches!(result, Ok(None))) {
            // A sync ran (a cheap poll that found nothing allocates next to nothing).
            drop(tokio::task::spawn_blocking(hook));
        }
        // What the sync left in the journal, read before the folder's state is borrowed.
        let after = if result.is_ok() && self.folders.contains_key(&id) {
            let record = refresh(&self.syncer, id).await;
            Some((record, stored_unstorable(&self.syncer, id).await))
        } else {
            None
        };
        let Some(f) = self.folders.get_mut(&id) else {
            return;
        };
        let now = Instant::now();
        f.progress = None;
        f.retry = None;
        match result {
            Ok(summary) => {
                let moved = summary.as_ref().is_some_and(|s| {
                    s.uploaded + s.downloaded + s.deleted_local + s.deleted_remote > 0
                });
                f.schedule.succeeded(now, moved, &self.settings);
                if let Some(s) = &summary {
                    f.in_use = s.in_use.clone();
                }
                if !f.in_use.is_empty() {
                    f.schedule.left_files_in_use(now, &self.settings);
                }
                f.state = SyncState::Idle;
                f.last_error = None;
                if let Some((record, unstorable)) = after {
                    if let Ok(Some(rec)) = record {
                        f.record = rec;
                    }
                    f.unstorable = unstorable;
                }
                f.ensure_watched(&self.settings, &self.dirty_tx);
            }
            Err(e) if e.is_retryable() => {
                let mut wait = f.schedule.failed_retryable(now, &self.settings);
                if let SyncError::Remote(RemoteError::RateLimited {
                    retry_after_secs: Some(secs),
                    ..
                }) = &e
                {
                    // The server said how long; it is not asked again before that.
                    wait = f.schedule.hold_until(now, now + Duration::from_secs(*secs));
                }
                f.retry = RetryCause::of(&e).map(|c| (c, now + wait));
                f.state = SyncState::Offline;
                f.last_error = Some(e.to_string());
                warn!(folder = %f.record.path.display(), error = %e, retry_in_s = wait.as_secs(), failures = f.schedule.failures(), "sync failed; will retry");
            }
            Err(e) => {
                if matches!(
                    e,
                    SyncError::FolderMissing(_) | SyncError::FolderReplaced { .. }
                ) {
                    // Unmounted, removed or replaced: its watch died with it. A new one is set
                    // up after the next good sync (the drive mounted again, the folder restored).
                    f.watcher = None;
                }
                f.schedule.failed_blocking();
                f.state = SyncState::Error;
                f.last_error = Some(e.to_string());
                warn!(folder = %f.record.path.display(), error = %e, "sync stopped until you act");
            }
        }
    }

    /// Why folder `f` waits, at `now` (see [`choose_wait`]).
    fn wait_reason(&self, f: &FolderRuntime, now: Instant, unix: i64) -> Option<WaitReason> {
        let running_here = self
            .running
            .as_ref()
            .is_some_and(|(id, _)| *id == f.record.id);
        let to_unix = |t: Instant| unix + t.saturating_duration_since(now).as_secs() as i64;
        choose_wait(&WaitFacts {
            waiting_for_lock: false,
            paused: f.record.paused || self.paused_all,
            blocked: f.schedule.is_blocked(),
            running: running_here,
            stalled_for: f
                .progress
                .as_ref()
                .filter(|_| running_here)
                .and_then(|t| t.stalled_for(now, STALL_AFTER)),
            retry: f.retry.map(|(cause, at)| (cause, to_unix(at))),
            // A full sync waiting its turn (a due poll is a single cheap request: not worth
            // a word).
            queued: self.running.is_some()
                && !running_here
                && f.schedule.due(now, &self.settings) == Some(Due::Full),
            in_use: &f.in_use,
        })
    }

    fn publish(&mut self) {
        let now = Instant::now();
        let unix = unix_now();
        self.throttle.published(now);
        let mut folders: Vec<FolderStatus> = self
            .folders
            .values()
            .map(|f| {
                let progress = f.progress.as_ref().map(FolderTracker::report);
                FolderStatus {
                    path: f.record.path.clone(),
                    page_id: f.record.page_id.clone(),
                    state: if f.record.paused || self.paused_all {
                        SyncState::Paused
                    } else {
                        f.state
                    },
                    paused: f.record.paused,
                    last_sync_at: f.record.last_sync_at,
                    last_error: f.last_error.clone().or_else(|| f.record.last_error.clone()),
                    pending_files: progress.as_ref().map_or(0, |p| p.files_to_go),
                    pending_bytes: progress.as_ref().map_or(0, |p| p.bytes_to_go),
                    watch: f.watcher.as_ref().map(|w| w.mode),
                    in_use: f.in_use.clone(),
                    unstorable: f.unstorable.clone(),
                    waiting: self.wait_reason(f, now, unix),
                    progress,
                }
            })
            .collect();
        folders.sort_by(|a, b| a.path.cmp(&b.path));
        let state = if self.paused_all {
            SyncState::Paused
        } else if folders.iter().any(|f| f.state == SyncState::Syncing) {
            SyncState::Syncing
        } else if folders.iter().any(|f| f.state == SyncState::Error) {
            SyncState::Error
        } else if folders.iter().any(|f| f.state == SyncState::Offline) {
            SyncState::Offline
        } else if !folders.is_empty() && folders.iter().all(|f| f.state == SyncState::Paused) {
            SyncState::Paused
        } else {
            SyncState::Idle
        };
        let message = folders.iter().find_map(|f| {
            f.last_error
                .clone()
                .filter(|_| f.state == SyncState::Error || f.state == SyncState::Offline)
        });
        let next_poll_at = self
            .folders
            .values()
            .filter(|f| !f.record.paused && !f.schedule.is_blocked())
            .map(|f| f.schedule.next_poll())
            .min()
            .map(|t| unix + t.saturating_duration_since(now).as_secs() as i64);
        let progress = combine(folders.iter().filter_map(|f| f.progress.as_ref()));
        let waiting = overall_wait(&folders, state);
        self.status.send_replace(SyncStatus {
            state,
            message,
            transfer: self
                .running
                .as_ref()
                .and_then(|(id, _)| self.folders.get(id))
                .and_then(|f| f.progress.as_ref().map(|t| t.latest().clone())),
            folders,
            next_poll_at,
            progress,
            waiting,
        });
    }
}

/// The reason shown for the whole service: a stall first (something is stuck), then the
/// reason of a folder in the overall state (the offline folder of an offline service), then
/// any other. Being next in line is not worth a word at that level.
fn overall_wait(folders: &[FolderStatus], state: SyncState) -> Option<WaitReason> {
    let waits = || {
        folders
            .iter()
            .filter_map(|f| f.waiting.as_ref().map(|w| (f, w)))
            .filter(|(_, w)| **w != WaitReason::Queued)
    };
    waits()
        .find(|(_, w)| matches!(w, WaitReason::Stalled { .. }))
        .or_else(|| waits().find(|(f, _)| f.state == state))
        .or_else(|| waits().next())
        .map(|(_, w)| w.clone())
}

async fn wait_running(running: &mut Option<RunningSync>) -> Result<Option<SyncSummary>, SyncError> {
    match running {
        Some((_, task)) => task
            .await
            .unwrap_or_else(|e| Err(SyncError::Internal(format!("sync task failed: {e}")))),
        None => std::future::pending().await,
    }
}

/// The folder's last list of names this computer cannot store (empty when it cannot be read:
/// the list is advice, the sync does not depend on it). Read on a blocking thread, as every
/// journal access of the engine is: the journal's lock may be held by a sync's long write, and
/// the actor must never wait for it on one of the runtime's workers.
async fn stored_unstorable(syncer: &Syncer, id: FolderId) -> Vec<UnstorableName> {
    run_journal(syncer.journal(), move |j| {
        crate::name_rules::stored_unstorable(j, id)
    })
    .await
    .unwrap_or_else(|e| {
        debug!(error = %e, "could not read the names this computer cannot store");
        Vec::new()
    })
}

/// The folder's record as the journal has it now.
async fn refresh(syncer: &Syncer, id: FolderId) -> Result<Option<FolderRecord>, EngineError> {
    run_journal(syncer.journal(), move |j| j.folder(id)).await
}

async fn run_journal<R: Send + 'static>(
    journal: Arc<std::sync::Mutex<crate::journal::Journal>>,
    f: impl FnOnce(&mut crate::journal::Journal) -> Result<R, crate::journal::JournalError>
        + Send
        + 'static,
) -> Result<R, EngineError> {
    tokio::task::spawn_blocking(move || {
        let mut guard = journal
            .lock()
            .map_err(|_| SyncError::Internal("journal lock poisoned".into()))?;
        f(&mut guard).map_err(|e| EngineError::Sync(SyncError::from(e)))
    })
    .await
    .map_err(|e| EngineError::Sync(SyncError::Internal(e.to_string())))?
}
