//! The tray icon: a fixed id ([`TRAY_ID`]), a closed set of menu actions ([`TrayAction`], each
//! with a stable menu id), and a [`TrayView`] computed purely from the [`SyncStatus`] — icon,
//! tooltip, menu labels — which [`apply`] pushes to the real tray only where it changed.
//!
//! Invariants: the icon always matches `status.state`; the menu has one "Open folder" entry per
//! tracked folder, in the status' order; the tray is updated from the event bridge (no polling).
//! On Linux (AppIndicator) tooltips are not shown, so the status line is also the first, disabled
//! menu item.

use crate::i18n::{Lang, Msg, Plural};
use std::path::PathBuf;
use std::sync::Mutex;

use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Runtime};
use tunnel_core::events::{SyncState, SyncStatus};

use super::state::AppState;

/// The one tray icon's id.
pub const TRAY_ID: &str = "sber-tunnel";

const ICON_IDLE: &[u8] = include_bytes!("../../../icons/tray-idle.png");
const ICON_SYNCING: &[u8] = include_bytes!("../../../icons/tray-syncing.png");
const ICON_PAUSED: &[u8] = include_bytes!("../../../icons/tray-paused.png");
const ICON_ERROR: &[u8] = include_bytes!("../../../icons/tray-error.png");
const ICON_OFFLINE: &[u8] = include_bytes!("../../../icons/tray-offline.png");

/// Longest folder label or status line shown in the menu.
const MAX_LABEL_CHARS: usize = 60;

/// What a tray menu item does. `id()` and `from_id()` are inverse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrayAction {
    /// Show and focus the settings window.
    Open,
    /// Sync every folder now.
    SyncNow,
    /// Pause every folder.
    Pause,
    /// Resume every folder.
    Resume,
    /// Open a tracked folder in the file manager.
    OpenFolder(PathBuf),
    /// Show the Activity tab (the recent-activity / last-error line).
    ShowActivity,
    /// Show the Conflicts tab (the unresolved-conflicts line).
    ShowConflicts,
    /// Quit the app.
    Quit,
}

const FOLDER_PREFIX: &str = "folder:";

impl TrayAction {
    /// The menu id of this action.
    pub fn id(&self) -> String {
        match self {
            Self::Open => "open".to_owned(),
            Self::SyncNow => "sync-now".to_owned(),
            Self::Pause => "pause".to_owned(),
            Self::Resume => "resume".to_owned(),
            Self::OpenFolder(path) => format!("{FOLDER_PREFIX}{}", path.display()),
            Self::ShowActivity => "activity".to_owned(),
            Self::ShowConflicts => "conflicts".to_owned(),
            Self::Quit => "quit".to_owned(),
        }
    }

    /// The action of a menu id, if it is one of ours.
    pub fn from_id(id: &str) -> Option<Self> {
        Some(match id {
            "open" => Self::Open,
            "sync-now" => Self::SyncNow,
            "pause" => Self::Pause,
            "resume" => Self::Resume,
            "activity" => Self::ShowActivity,
            "conflicts" => Self::ShowConflicts,
            "quit" => Self::Quit,
            other => Self::OpenFolder(PathBuf::from(other.strip_prefix(FOLDER_PREFIX)?)),
        })
    }
}

/// Everything the tray shows, as plain data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrayView {
    /// Which icon.
    pub state: SyncState,
    /// Tooltip (and the first menu line).
    pub tooltip: String,
    /// Pause or Resume.
    pub pause_action: TrayAction,
    /// (label, path) per tracked folder.
    pub folders: Vec<(String, PathBuf)>,
    /// The last error, or the most recent activity, if any.
    pub activity: Option<String>,
    /// Unresolved conflicts (see [`TrayView::with_conflicts`]).
    pub conflicts: usize,
    /// The language of the texts (a change rebuilds the menu).
    pub lang: Lang,
}

impl TrayView {
    /// The tray for `status`; `recent` is the bridge's one-line summary of the last activity.
    pub fn from_status(status: &SyncStatus, recent: Option<&str>) -> Self {
        Self::from_status_at(status, recent, tunnel_core::clock::unix_now())
    }

    /// [`TrayView::from_status`] at `now` (unix seconds), for "retrying in …".
    pub fn from_status_at(status: &SyncStatus, recent: Option<&str>, now: i64) -> Self {
        Self::from_status_in(crate::i18n::current(), status, recent, now)
    }

    /// [`TrayView::from_status_at`] in `lang`.
    pub fn from_status_in(lang: Lang, status: &SyncStatus, recent: Option<&str>, now: i64) -> Self {
        let headline = match status.state {
            SyncState::Idle if status.folders.is_empty() => {
                Msg::TrayNoFolders.text(lang).to_owned()
            }
            SyncState::Idle => Msg::TrayUpToDate.text(lang).to_owned(),
            SyncState::Syncing => match &status.transfer {
                Some(t) if t.files_total > 0 => {
                    // By bytes when there are any; by files for a batch of empty files.
                    let percent = t
                        .bytes_done
                        .saturating_mul(100)
                        .checked_div(t.bytes_total)
                        .unwrap_or(t.files_done.saturating_mul(100) / t.files_total);
                    Msg::TraySyncingOf.render(
                        lang,
                        &[
                            ("done", &t.files_done),
                            ("total", &t.files_total),
                            ("percent", &percent),
                        ],
                    )
                }
                _ => Msg::TraySyncing.text(lang).to_owned(),
            },
            SyncState::Paused => Msg::TrayPaused.text(lang).to_owned(),
            SyncState::Error => Msg::TrayNeedsAttention.text(lang).to_owned(),
            SyncState::Offline => Msg::TrayOffline.text(lang).to_owned(),
        };
        let headline = super::tray_progress::with_progress(lang, headline, status, now);
        let all_paused = !status.folders.is_empty() && status.folders.iter().all(|f| f.paused);
        let error = status.folders.iter().find_map(|f| f.last_error.as_deref());
        let activity = match (status.state, error) {
            (SyncState::Error, Some(e)) => Some(Msg::TrayError.render(lang, &[("message", &e)])),
            _ => recent.map(str::to_owned),
        };
        Self {
            state: status.state,
            tooltip: shorten_to(
                &format!("sber-tunnel — {headline}"),
                super::tray_progress::MAX_TOOLTIP_CHARS,
            ),
            pause_action: if all_paused || status.state == SyncState::Paused {
                TrayAction::Resume
            } else {
                TrayAction::Pause
            },
            folders: status
                .folders
                .iter()
                .map(|f| {
                    (
                        shorten(&Msg::MenuOpenFolder.render(lang, &[("path", &f.path.display())])),
                        f.path.clone(),
                    )
                })
                .collect(),
            activity: activity.map(|a| shorten(&a)),
            conflicts: 0,
            lang,
        }
    }

    /// The same view telling of `n` unresolved conflicts: in the tooltip (and so the status
    /// line) and as a menu item that opens the Conflicts tab.
    pub fn with_conflicts(mut self, n: usize) -> Self {
        self.conflicts = n;
        if n > 0 {
            self.tooltip = shorten(&format!("{} · {}", self.tooltip, conflicts_label(n)));
        }
        self
    }
}

/// "1 unresolved conflict", "3 unresolved conflicts".
fn conflicts_label(n: usize) -> String {
    conflicts_label_in(crate::i18n::current(), n)
}

fn conflicts_label_in(lang: Lang, n: usize) -> String {
    let msg = match crate::i18n::plural(lang, n as u64) {
        Plural::One => Msg::TrayUnresolvedOne,
        Plural::Few => Msg::TrayUnresolvedFew,
        Plural::Many => Msg::TrayUnresolvedMany,
    };
    msg.render(lang, &[("count", &n)])
}

/// What the tray shows now, with the menu items whose text changes in place.
struct Shown<R: Runtime> {
    view: TrayView,
    status_item: MenuItem<R>,
    activity_item: Option<MenuItem<R>>,
}

/// The last view pushed to the tray. Text changes (progress, latest activity) are applied to the
/// existing menu items: rebuilding the menu would close it under the person's pointer while a
/// sync reports progress. The menu is rebuilt only when its shape changes.
pub struct TrayCache<R: Runtime>(Mutex<Option<Shown<R>>>);

impl<R: Runtime> Default for TrayCache<R> {
    fn default() -> Self {
        Self(Mutex::new(None))
    }
}

impl TrayView {
    /// Whether `other` needs the same menu entries (only their texts may differ).
    fn same_shape(&self, other: &TrayView) -> bool {
        self.pause_action == other.pause_action
            && self.folders == other.folders
            && self.activity.is_some() == other.activity.is_some()
            && self.conflicts == other.conflicts
            && self.lang == other.lang
    }
}

/// Create the tray icon with its first view. Called once from `setup`.
pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<TrayIcon<R>> {
    let view = TrayView::from_status(&SyncStatus::default(), None);
    let (menu, status_item, activity_item) = menu(app, &view)?;
    let tray = TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(view.state)?)
        .tooltip(&view.tooltip)
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| on_action(app, event.id.as_ref()))
        .build(app)?;
    if let Some(cache) = app.try_state::<TrayCache<R>>() {
        *cache.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Shown {
            view,
            status_item,
            activity_item,
        });
    }
    Ok(tray)
}

/// Push `view` to the tray, touching only what changed. A missing tray (tests, or no tray
/// support) is not an error: there is nothing to update.
pub fn apply<R: Runtime>(app: &AppHandle<R>, view: TrayView) -> tauri::Result<()> {
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return Ok(());
    };
    let Some(cache) = app.try_state::<TrayCache<R>>() else {
        return Ok(());
    };
    let mut shown = cache.0.lock().unwrap_or_else(|p| p.into_inner());
    let previous = shown.as_ref().map(|s| &s.view);
    if previous == Some(&view) {
        return Ok(());
    }
    if previous.map(|p| p.state) != Some(view.state) {
        tray.set_icon(Some(icon(view.state)?))?;
    }
    if previous.map(|p| &p.tooltip) != Some(&view.tooltip) {
        tray.set_tooltip(Some(&view.tooltip))?;
    }
    match shown.as_mut() {
        Some(current) if current.view.same_shape(&view) => {
            current.status_item.set_text(status_line(&view))?;
            if let (Some(item), Some(text)) = (&current.activity_item, &view.activity) {
                item.set_text(text)?;
            }
            current.view = view;
        }
        _ => {
            let (menu, status_item, activity_item) = menu(app, &view)?;
            tray.set_menu(Some(menu))?;
            *shown = Some(Shown {
                view,
                status_item,
                activity_item,
            });
        }
    }
    Ok(())
}

/// The picture for a state.
pub fn icon(state: SyncState) -> tauri::Result<Image<'static>> {
    let bytes = match state {
        SyncState::Idle => ICON_IDLE,
        SyncState::Syncing => ICON_SYNCING,
        SyncState::Paused => ICON_PAUSED,
        SyncState::Error => ICON_ERROR,
        SyncState::Offline => ICON_OFFLINE,
    };
    Image::from_bytes(bytes)
}

/// The first, disabled menu line: the tooltip without the product name.
fn status_line(view: &TrayView) -> &str {
    view.tooltip.trim_start_matches("sber-tunnel — ")
}

/// The menu for `view`, with its status item and its activity item (when there is one).
#[allow(clippy::type_complexity)]
fn menu<R: Runtime>(
    app: &AppHandle<R>,
    view: &TrayView,
) -> tauri::Result<(Menu<R>, MenuItem<R>, Option<MenuItem<R>>)> {
    let menu = Menu::new(app)?;
    let status_item = MenuItem::with_id(app, "status", status_line(view), false, None::<&str>)?;
    menu.append(&status_item)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    let item = |action: TrayAction, label: &str| {
        MenuItem::with_id(app, action.id(), label, true, None::<&str>)
    };
    if view.conflicts > 0 {
        menu.append(&item(
            TrayAction::ShowConflicts,
            &format!("{}…", conflicts_label(view.conflicts)),
        )?)?;
    }
    let lang = view.lang;
    menu.append(&item(TrayAction::Open, Msg::MenuOpenApp.text(lang))?)?;
    menu.append(&item(TrayAction::SyncNow, Msg::MenuSyncNow.text(lang))?)?;
    let pause_label = match view.pause_action {
        TrayAction::Resume => Msg::MenuResume.text(lang),
        _ => Msg::MenuPause.text(lang),
    };
    menu.append(&item(view.pause_action.clone(), pause_label)?)?;
    if !view.folders.is_empty() {
        menu.append(&PredefinedMenuItem::separator(app)?)?;
        for (label, path) in &view.folders {
            menu.append(&item(TrayAction::OpenFolder(path.clone()), label)?)?;
        }
    }
    let activity_item = match &view.activity {
        Some(activity) => {
            menu.append(&PredefinedMenuItem::separator(app)?)?;
            let activity_item = item(TrayAction::ShowActivity, activity)?;
            menu.append(&activity_item)?;
            Some(activity_item)
        }
        None => None,
    };
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&item(TrayAction::Quit, Msg::MenuQuit.text(lang))?)?;
    Ok((menu, status_item, activity_item))
}

/// Carry out a tray menu click.
pub fn on_action<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let Some(action) = TrayAction::from_id(id) else {
        return;
    };
    tracing::info!(?action, "tray action");
    let backend = app.state::<AppState>().backend.clone();
    match action {
        TrayAction::Open => super::window::show_main(app, None),
        TrayAction::ShowActivity => super::window::show_main(app, Some("activity")),
        TrayAction::ShowConflicts => super::window::show_main(app, Some("conflicts")),
        TrayAction::Quit => app.exit(0),
        TrayAction::SyncNow => {
            tauri::async_runtime::spawn(async move {
                if let Err(e) = backend.sync_now(None).await {
                    tracing::warn!(error = %e, "sync now from the tray failed");
                }
            });
        }
        TrayAction::Pause | TrayAction::Resume => {
            let paused = action == TrayAction::Pause;
            tauri::async_runtime::spawn(async move {
                if let Err(e) = backend.set_paused(None, paused).await {
                    tracing::warn!(error = %e, "pause/resume from the tray failed");
                }
            });
        }
        TrayAction::OpenFolder(path) => {
            if let Err(e) = tauri_plugin_opener::open_path(&path, None::<&str>) {
                tracing::warn!(error = %e, folder = %path.display(), "could not open the folder");
            }
        }
    }
}

fn shorten(s: &str) -> String {
    shorten_to(s, MAX_LABEL_CHARS)
}

fn shorten_to(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tunnel_core::events::{FolderStatus, TransferProgress};

    fn folder(path: &str, paused: bool, error: Option<&str>) -> FolderStatus {
        FolderStatus {
            path: PathBuf::from(path),
            page_id: tunnel_core::ids::PageId::parse("1").expect("digits"),
            state: SyncState::Idle,
            paused,
            last_sync_at: None,
            last_error: error.map(str::to_owned),
            pending_files: 0,
            pending_bytes: 0,
            watch: None,
            in_use: Vec::new(),
            progress: None,
            waiting: None,
            unstorable: Vec::new(),
        }
    }

    #[test]
    fn menu_ids_round_trip() {
        for action in [
            TrayAction::Open,
            TrayAction::SyncNow,
            TrayAction::Pause,
            TrayAction::Resume,
            TrayAction::OpenFolder(PathBuf::from("/home/a/My Docs")),
            TrayAction::ShowActivity,
            TrayAction::ShowConflicts,
            TrayAction::Quit,
        ] {
            assert_eq!(
                TrayAction::from_id(&action.id()),
                Some(action.clone()),
                "{action:?}"
            );
        }
        assert_eq!(
            TrayAction::from_id("status"),
            None,
            "the status line does nothing"
        );
    }

    #[test]
    fn syncing_shows_progress_in_the_tooltip() {
        let status = SyncStatus {
            state: SyncState::Syncing,
            folders: vec![folder("/a", false, None)],
            transfer: Some(TransferProgress {
                files_done: 3,
                files_total: 10,
                bytes_done: 50,
                bytes_total: 200,
                current: None,
            }),
            ..SyncStatus::default()
        };
        let view = TrayView::from_status(&status, None);
        assert_eq!(view.state, SyncState::Syncing);
        assert_eq!(
            view.tooltip, "sber-tunnel — Syncing 3 of 10 files (25%)",
            "bytes give the percent"
        );
        assert_eq!(view.pause_action, TrayAction::Pause);
        assert_eq!(
            view.folders,
            vec![("Open /a".to_owned(), PathBuf::from("/a"))]
        );
    }

    #[test]
    fn russian_tray_speaks_russian() {
        let status = SyncStatus {
            state: SyncState::Syncing,
            folders: vec![folder("/a", false, None)],
            transfer: Some(TransferProgress {
                files_done: 3,
                files_total: 10,
                bytes_done: 50,
                bytes_total: 200,
                current: None,
            }),
            ..SyncStatus::default()
        };
        let view = TrayView::from_status_in(Lang::Ru, &status, None, 0);
        assert_eq!(view.tooltip, "sber-tunnel — Синхронизация: 3 из 10 (25%)");
        assert_eq!(
            view.folders,
            vec![("Открыть /a".to_owned(), PathBuf::from("/a"))]
        );
        let idle = SyncStatus::default();
        assert_eq!(
            TrayView::from_status_in(Lang::Ru, &idle, None, 0).tooltip,
            "sber-tunnel — Папок пока нет"
        );
        assert_eq!(conflicts_label_in(Lang::Ru, 1), "1 неразрешённый конфликт");
        assert_eq!(conflicts_label_in(Lang::Ru, 3), "3 неразрешённых конфликта");
        assert_eq!(
            conflicts_label_in(Lang::Ru, 5),
            "5 неразрешённых конфликтов"
        );
        assert_eq!(conflicts_label_in(Lang::En, 1), "1 unresolved conflict");
        assert_eq!(conflicts_label_in(Lang::En, 2), "2 unresolved conflicts");
    }

    #[test]
    fn paused_offers_resume_and_error_shows_the_error() {
        let paused = SyncStatus {
            state: SyncState::Paused,
            folders: vec![folder("/a", true, None)],
            ..SyncStatus::default()
        };
        let view = TrayView::from_status(&paused, Some("Uploaded a.txt"));
        assert_eq!(
            view.pause_action,
            TrayAction::Resume,
            "all folders paused → Resume"
        );
        assert_eq!(
            view.activity.as_deref(),
            Some("Uploaded a.txt"),
            "recent activity is shown"
        );

        let failed = SyncStatus {
            state: SyncState::Error,
            folders: vec![folder("/a", false, Some("Wrong password"))],
            ..SyncStatus::default()
        };
        let view = TrayView::from_status(&failed, Some("Uploaded a.txt"));
        assert_eq!(
            view.activity.as_deref(),
            Some("Error: Wrong password"),
            "the error wins"
        );
        assert_eq!(view.tooltip, "sber-tunnel — Needs attention");
    }

    #[test]
    fn every_state_has_a_decodable_icon() {
        for state in [
            SyncState::Idle,
            SyncState::Syncing,
            SyncState::Paused,
            SyncState::Error,
            SyncState::Offline,
        ] {
            let image = icon(state).expect("the embedded PNG decodes");
            assert_eq!((image.width(), image.height()), (64, 64), "{state:?}");
        }
    }

    #[test]
    fn unresolved_conflicts_show_in_the_tooltip_and_change_the_menu() {
        let status = SyncStatus {
            folders: vec![folder("/a", false, None)],
            ..SyncStatus::default()
        };
        let plain = TrayView::from_status(&status, None);
        assert_eq!(
            plain.clone().with_conflicts(0),
            plain,
            "no conflicts: nothing changes"
        );
        let one = plain.clone().with_conflicts(1);
        assert_eq!(
            one.tooltip, "sber-tunnel — Up to date · 1 unresolved conflict",
            "the count is in the tooltip"
        );
        let three = plain.clone().with_conflicts(3);
        assert!(
            three.tooltip.ends_with("3 unresolved conflicts"),
            "{}",
            three.tooltip
        );
        assert!(
            !one.same_shape(&plain) && !three.same_shape(&one),
            "a new count rebuilds the menu so its conflicts item is right"
        );
    }
}
