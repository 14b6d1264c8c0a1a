// The Folders tab: the add-folder form (also used by the wizard) and one card per tracked
// folder, drawn from the latest status. Buttons call commands; the status event redraws.

import { api } from './api.js';
import { t } from './i18n.js';
import { baseName, formatAgo, formatBytes, h, showResult, STATE_LABEL } from './dom.js';
import { openChooser } from './selective.js';
import { openIgnoreEditor } from './ignore.js';
import { openVersions } from './versions.js';
import { folderProgress } from './progress.js';

/** How the folder's own changes are noticed (FolderStatus.watch, mirrored from events.rs). */
const WATCH_LABEL = Object.freeze({
  get native() { return t('folders.watch_native'); },
  get polling() { return t('folders.watch_polling'); },
  get none() { return t('folders.watch_none'); },
});

/** Render the add-folder form into `slot`; `onAdded(folder)` runs after a success. */
export function mountFolderForm(slot, { defaultPage = () => '', onAdded = () => {} } = {}) {
  const template = document.getElementById('folder-form-template');
  slot.replaceChildren(template.content.cloneNode(true));
  const form = slot.querySelector('form');
  const path = form.elements.namedItem('folder-path');
  const page = form.elements.namedItem('folder-page');
  const result = form.querySelector('.result');
  const add = form.querySelector('.add');

  const refreshPlaceholder = () => {
    const fallback = defaultPage();
    page.placeholder = fallback ? t('folders.default_page', { page: fallback }) : '';
  };
  refreshPlaceholder();

  form.querySelector('.browse').addEventListener('click', async () => {
    try {
      const picked = await api.pickFolder();
      if (picked) path.value = picked;
    } catch (e) {
      showResult(result, 'error', e.message);
    }
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    add.disabled = true;
    showResult(result, 'busy', t('folders.adding'));
    try {
      const folder = await api.addFolder(path.value.trim(), page.value.trim());
      showResult(result, 'ok', t('folders.added', { path: folder.path }));
      path.value = '';
      page.value = '';
      onAdded(folder);
    } catch (e) {
      showResult(result, 'error', e.message);
    } finally {
      add.disabled = false;
    }
  });
  return { refreshPlaceholder };
}

/**
 * Redraw the folder cards from `folders` (FolderStatus[]). A card whose folder did not change is
 * kept as it is (so a half-confirmed Remove or a focused button survives progress updates).
 */
export function renderFolders(list, folders, onError) {
  if (!folders.length) {
    list.replaceChildren(
      h('div', { class: 'card empty' }, t('folders.none')),
    );
    return;
  }
  const existing = new Map(
    [...list.querySelectorAll('.folder')].map((card) => [card.dataset.path, card]),
  );
  list.replaceChildren(
    ...folders.map((f) => {
      const signature = JSON.stringify(f);
      const card = existing.get(f.path);
      if (card && card.dataset.signature === signature) return card;
      const fresh = folderCard(f, onError);
      fresh.dataset.signature = signature;
      // While a folder syncs its card changes several times a second: keep the same buttons
      // when what they do is unchanged, so a click is never lost to a redraw between the
      // press and the release (and a "Really stop syncing?" stays armed).
      const kept = card?.querySelector(':scope > .folder-actions');
      if (kept && kept.dataset.key === actionsKey(f)) {
        fresh.querySelector(':scope > .folder-actions').replaceWith(kept);
      }
      return fresh;
    }),
  );
}

/** What a card's buttons depend on: the same key, the same buttons. */
const actionsKey = (f) => JSON.stringify([f.path, Boolean(f.paused)]);

function folderCard(f, onError) {
  const act = (fn) => async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      await fn();
    } catch (e) {
      onError(e.message);
    } finally {
      button.disabled = false;
    }
  };
  const state = f.paused && f.state !== 'syncing' ? 'paused' : f.state;
  const pending = f.pending_files
    ? t('folders.pending_files', { files: t('files', { count: f.pending_files }), size: formatBytes(f.pending_bytes) })
    : t('folders.pending_nothing');
  let removeArmed = false;
  const remove = h('button', { class: 'small danger remove' }, t('folders.remove'));
  remove.addEventListener('click', act(async () => {
    if (!removeArmed) {
      removeArmed = true;
      remove.textContent = t('folders.remove_confirm');
      return;
    }
    await api.removeFolder(f.path);
  }));
  return h(
    'article',
    { class: 'folder', dataset: { path: f.path, state } },
    h(
      'div',
      {},
      h('div', { class: 'folder-name' }, baseName(f.path),
        h('span', { class: 'badge state', dataset: { state } }, STATE_LABEL[state] || state)),
      h('div', { class: 'folder-path' }, f.path),
    ),
    h(
      'div',
      { class: 'folder-actions', dataset: { key: actionsKey(f) } },
      h('button', { class: 'small sync', onclick: act(() => api.syncNow(f.path)) }, t('action.sync_now')),
      h(
        'button',
        { class: 'small pause', onclick: act(() => api.setPaused(f.path, !f.paused)) },
        f.paused ? t('action.resume') : t('action.pause'),
      ),
      h('button', { class: 'small open', onclick: act(() => api.openFolder(f.path)) }, t('action.open')),
      h('button', { class: 'small choose-folders', onclick: act(() => openChooser(f.path)) },
        t('folders.choose')),
      h('button', { class: 'small ignore-rules', onclick: act(() => openIgnoreEditor(f.path)) },
        t('folders.ignore_rules')),
      h('button', { class: 'small versions', onclick: act(() => openVersions(f.path)) },
        t('folders.versions')),
      remove,
    ),
    h(
      'div',
      { class: 'folder-facts' },
      h('span', {}, `${t('folders.page')} `, h('b', {}, f.page_id)),
      h('span', { class: 'last-sync' }, `${t('folders.last_sync')} `,
        h('b', { dataset: { at: f.last_sync_at || '' } }, formatAgo(f.last_sync_at))),
      h('span', { class: 'pending' }, `${t('folders.pending')} `, h('b', {}, pending)),
      h('span', { class: 'watch', dataset: { watch: f.watch || 'none' } }, `${t('folders.local_changes')} `,
        h('b', {}, WATCH_LABEL[f.watch] || WATCH_LABEL.none)),
    ),
    folderProgress(f),
    f.last_error ? h('div', { class: 'folder-error' }, f.last_error) : null,
    unstorableNames(f),
  );
}

/** Why a name cannot be stored here, in the window's language (the backend's words otherwise). */
const UNSTORABLE_REASON = Object.freeze({
  'control-character': () => t('folders.unstorable_reason.control'),
  'forbidden-character': () => t('folders.unstorable_reason.forbidden'),
  'trailing-dot-or-space': () => t('folders.unstorable_reason.trailing'),
  'reserved-device-name': () => t('folders.unstorable_reason.device'),
  'case-conflict': () => t('folders.unstorable_reason.case'),
});

/**
 * Names from other devices this computer cannot store (Windows' reserved names and the like):
 * one line, the names and why on demand. They stay on the page and on the other devices.
 */
function unstorableNames(f) {
  const list = f.unstorable || [];
  if (!list.length) return null;
  return h(
    'details',
    { class: 'folder-unstorable' },
    h('summary', {}, t('folders.unstorable', { names: t('names', { count: list.length }) })),
    h(
      'ul',
      {},
      ...list.map((u) => h(
        'li',
        { dataset: { kind: u.kind || '' } },
        h('code', {}, u.path),
        ` — ${UNSTORABLE_REASON[u.kind]?.() ?? u.reason}`,
      )),
    ),
  );
}

/** Re-word the "Last sync … ago" texts (the clock moves on while the data does not). */
export function refreshTimes(list) {
  list.querySelectorAll('.last-sync b').forEach((b) => {
    b.textContent = formatAgo(Number(b.dataset.at) || null);
  });
}
