// The Trash tab (issue 16 item 4): per synced folder, what is in its local trash — files
// another device's change deleted here and the previous content of files another device's
// edit replaced — newest first, with when (local time), why and whose change it was, and the
// size. "Put back" returns an item to its original path, or beside it as `name (restored).ext`
// when that path is taken (never over a file; the backend decides, as `sber-tunnel trash
// restore` does); "Empty trash…" deletes a folder's trash for good after a confirmation. The
// retention (days before the trash empties itself) is shown per folder. Every decision is the
// backend's; this file only shows it. The list is read when the tab opens, after each action,
// and after each finished sync while the tab is shown.

import { api } from './api.js';
import { baseName, formatBytes, h, showResult } from './dom.js';
import { on, SYNC_EVENT } from './events.js';
import { onLanguageChange, t } from './i18n.js';

/** Why an item is in the trash and whose change it was, in the reader's words. */
function reasonText(item) {
  const device = item.device;
  switch (item.reason) {
    case 'deleted': return device ? t('trash.deleted_by', { device }) : t('trash.deleted_other');
    case 'replaced': return device ? t('trash.replaced_by', { device }) : t('trash.replaced_other');
    case 'resolved': return device ? t('trash.resolved_by', { device }) : t('trash.resolved_other');
    default: return t('trash.no_record');
  }
}

/** A time (Unix seconds) in the reader's local time. */
function localTime(seconds) {
  return new Date(seconds * 1000).toLocaleString();
}

/** Mount the Trash tab's list into `list`; it reads itself when the tab opens. */
export function mountTrash(list, { tab = document.querySelector('.tab[data-tab=trash]') } = {}) {
  let folders = null; // the last listing
  let drawn = null; // the listing as last drawn (JSON)
  let force = false; // redraw even when the listing did not change
  const results = new Map(); // folder -> [kind, text]: the result line survives a redraw
  let loading = null;
  let again = false;

  const shown = () => document.body.dataset.tab === 'trash';

  /** Read the list again (coalesced); redrawn only when it changed (or `redraw`), so a sync's
   * events do not swap the buttons — or close a confirmation — under the person's pointer. */
  async function refresh(redraw = false) {
    force = force || redraw;
    if (loading) {
      again = true;
      return loading;
    }
    loading = (async () => {
      try {
        folders = await api.listTrash();
        const seen = JSON.stringify(folders);
        if (force || seen !== drawn) {
          force = false;
          draw();
        }
      } catch (e) {
        drawn = null;
        list.replaceChildren(h('p', { class: 'result error' }, e.message));
      } finally {
        loading = null;
      }
      if (again) {
        again = false;
        await refresh();
      }
    })();
    return loading;
  }

  function say(folder, kind, text) {
    results.set(folder, [kind, text]);
    const el = [...list.querySelectorAll('.trash-folder')].find((c) => c.dataset.folder === folder);
    if (el) showResult(el.querySelector('.trash-result .result'), kind, text);
  }

  function draw() {
    if (!folders) return;
    drawn = JSON.stringify(folders);
    if (!folders.length) {
      list.replaceChildren(h('p', { class: 'empty' }, t('trash.no_folders')));
      return;
    }
    list.replaceChildren(...folders.map(drawFolder));
  }

  function drawFolder(f) {
    // Found through its wrapper: showResult sets the element's class to the kind of result.
    const result = h('div', { class: 'result', role: 'status' });
    const [kind, text] = results.get(f.folder) || ['', ''];
    showResult(result, kind, text);
    const confirmRow = h('div', { class: 'trash-confirm', hidden: true });
    const empty = h('button', { class: 'small danger empty-trash', disabled: !f.items.length }, t('trash.empty_button'));
    empty.addEventListener('click', () => openConfirm(confirmRow, f, empty));
    return h('article', { class: 'card trash-folder', dataset: { folder: f.folder } },
      h('h3', {}, baseName(f.folder)),
      h('div', { class: 'muted trash-folder-path' }, f.folder),
      h('p', { class: 'muted trash-keep', dataset: { days: String(f.keep_days) } },
        t('trash.keep_days', { days: f.keep_days })),
      f.items.length
        ? h('ul', { class: 'trash-items' }, ...f.items.map((i) => drawItem(f.folder, i)))
        : h('p', { class: 'empty trash-none' }, t('trash.folder_empty')),
      h('div', { class: 'actions' }, empty),
      confirmRow,
      h('div', { class: 'trash-result' }, result));
  }

  function drawItem(folder, item) {
    const putBack = h('button', { class: 'small put-back' }, t('trash.put_back'));
    putBack.addEventListener('click', () => doPutBack(folder, item, putBack));
    return h('li', {
      class: 'trash-item',
      dataset: { path: item.path, inTrash: item.in_trash, reason: item.reason || 'unknown' },
    },
    h('div', { class: 'trash-main' },
      h('span', { class: 'trash-path', title: item.path }, item.path),
      h('span', { class: 'muted trash-size' }, formatBytes(item.size))),
    h('div', { class: 'muted trash-facts' },
      h('span', { class: 'trash-reason' }, reasonText(item)),
      ' · ',
      h('span', { class: 'trash-when' }, localTime(item.at))),
    h('div', { class: 'actions' }, putBack));
  }

  async function doPutBack(folder, item, button) {
    button.disabled = true;
    say(folder, 'busy', t('trash.putting_back'));
    try {
      const done = await api.putBackFromTrash(folder, item.in_trash);
      const text = done.beside
        ? t('trash.put_back_beside', { path: item.path, name: baseName(done.placed) })
        : t('trash.put_back_done', { path: item.path });
      results.set(folder, ['ok', text]);
      await refresh();
      say(folder, 'ok', text); // also when another read drew the new list first
    } catch (e) {
      say(folder, 'error', e.message);
      button.disabled = false;
    }
  }

  function openConfirm(row, f, emptyButton) {
    const yes = h('button', { class: 'small danger trash-confirm-yes' }, t('trash.empty_confirm'));
    const no = h('button', { class: 'small trash-confirm-no' }, t('trash.empty_cancel'));
    no.addEventListener('click', () => {
      row.hidden = true;
      emptyButton.disabled = false;
      say(f.folder, 'ok', t('trash.empty_cancelled'));
    });
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      no.disabled = true;
      say(f.folder, 'busy', t('trash.emptying'));
      try {
        const done = await api.emptyTrash(f.folder);
        const text = t('trash.emptied', { files: t('files', { count: done.removed }) });
        results.set(f.folder, ['ok', text]);
        await refresh();
        say(f.folder, 'ok', text);
      } catch (e) {
        say(f.folder, 'error', e.message);
        yes.disabled = false;
        no.disabled = false;
      }
    });
    row.replaceChildren(
      h('p', { class: 'trash-confirm-text' },
        t('trash.empty_question', { files: t('files', { count: f.items.length }), folder: baseName(f.folder) })),
      h('div', { class: 'actions' }, yes, no));
    row.hidden = false;
    emptyButton.disabled = true;
    yes.focus();
  }

  tab?.addEventListener('click', () => { results.clear(); refresh(true); });
  on(SYNC_EVENT, (event) => { if (event.type === 'finished' && shown()) refresh(); });
  onLanguageChange(draw);
  return { refresh };
}
