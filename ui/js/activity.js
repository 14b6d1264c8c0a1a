// The Activity tab: live transfers (from `progress` events), conflicts and recent changes,
// built from the sync events pushed by Rust while the window runs and, below them, the
// history kept in the journal across restarts (`recent_activity`).

import { api } from './api.js';
import { t } from './i18n.js';
import { baseName, formatBytes, formatTime, h } from './dom.js';

/** The time of an entry; with the date when it is not today. */
function formatWhen(date) {
  const today = new Date();
  if (date.toDateString() === today.toDateString()) return formatTime(date);
  return `${date.toLocaleDateString()} ${formatTime(date)}`;
}

const MAX_RECENT = 200;

export class Activity {
  constructor({ transfers, conflicts, recent, recentEmpty, conflictCount, onError }) {
    this.el = { transfers, conflicts, recent, recentEmpty, conflictCount };
    this.onError = onError;
    this.running = new Map(); // folder -> TransferProgress
    this.conflictItems = [];
    // Lines that arrived live, as JSON: the history asked for at start-up may hold them too
    // (recorded between the window's subscription and the history's answer).
    this.liveSeen = [];
  }

  /** Show the syncs already running when the window opens (their events came before it). */
  seed(status) {
    for (const f of status.folders) {
      if (f.state === 'syncing' && !this.running.has(f.path)) this.running.set(f.path, null);
    }
    this.drawTransfers();
  }

  /** Take one live SyncEvent. */
  add(event) {
    if (this.line(event)) {
      this.liveSeen.push(JSON.stringify(event));
      if (this.liveSeen.length > MAX_RECENT) this.liveSeen.shift();
    }
    this.take(event, new Date(), true);
  }

  /**
   * Show the history kept across restarts ({at, event} entries, newest first) below what
   * arrived live since the window opened.
   */
  addHistory(entries) {
    const seen = new Map();
    for (const key of this.liveSeen) seen.set(key, (seen.get(key) || 0) + 1);
    for (const { at, event } of entries) {
      const key = JSON.stringify(event);
      const left = seen.get(key) || 0;
      if (left > 0) {
        seen.set(key, left - 1); // shown already, as it arrived
        continue;
      }
      this.take(event, new Date(at * 1000), false);
    }
  }

  take(event, when, live) {
    switch (event.type) {
      case 'started':
        if (!live) break;
        this.running.set(event.folder, null);
        this.drawTransfers();
        break;
      case 'progress':
        if (!live) break;
        this.running.set(event.folder, event.progress);
        this.drawTransfers();
        break;
      case 'finished':
        if (!live) break;
        this.running.delete(event.folder);
        this.drawTransfers();
        break;
      case 'uploaded':
      case 'downloaded':
      case 'deleted':
        this.show(event, when, live);
        break;
      case 'conflict':
        if (live) this.conflictItems.unshift(event);
        else this.conflictItems.push(event);
        this.show(event, when, live);
        this.drawConflicts();
        break;
      case 'failed':
        if (live) {
          this.running.delete(event.folder);
          this.drawTransfers();
        }
        this.show(event, when, live);
        break;
      default:
        break;
    }
  }

  /** The list's line for `event`: [icon, kind, title, detail, event it opens or null]. */
  line(event) {
    switch (event.type) {
      case 'uploaded':
        return ['↑', 'up', event.path, t('activity.sent', { size: formatBytes(event.bytes) }), event];
      case 'downloaded':
        return ['↓', 'down', event.path, t('activity.received', { size: formatBytes(event.bytes) }), event];
      case 'deleted':
        return ['×', 'del', event.path, event.remote ? t('activity.deletion_sent') : t('activity.deleted_here'), event];
      case 'conflict':
        return ['!', 'conflict', event.path, t('activity.conflict', { copy: event.copy }), event];
      case 'failed':
        return ['!', 'bad', t('activity.failed', { folder: baseName(event.folder) }), event.message, null];
      default:
        return null;
    }
  }

  /** Add `event`'s line, remembering the event so that `relabel` can word it again. */
  show(event, when, live) {
    const line = this.line(event);
    const item = line && this.entry(...line, when, live);
    if (item) item.source = { event, when };
  }

  /** Draw every line again in the language now in use (after a language change). */
  relabel() {
    const sources = [...this.el.recent.children].map((li) => li.source).filter(Boolean);
    this.el.recent.replaceChildren();
    for (const { event, when } of sources) this.show(event, when, false);
    this.el.recentEmpty.hidden = sources.length > 0;
    this.drawTransfers();
    this.drawConflicts();
  }

  reveal(folder, path) {
    return this.guard(() => api.revealFile(folder, path));
  }

  open(folder, path) {
    return this.guard(() => api.openFile(folder, path));
  }

  guard(action) {
    return async () => {
      try {
        await action();
      } catch (e) {
        this.onError(e.message);
      }
    };
  }

  /** One line of the list: on top when live, else below the others (older history); the
   * element, or null when the list is full. */
  entry(icon, kind, title, detail, event, when, live) {
    const list = this.el.recent;
    if (!live && list.children.length >= MAX_RECENT) return null;
    const item = h(
      'li',
      { class: `event ${kind}` },
      h('span', { class: `icon ${kind}` }, icon),
      h('div', { class: 'what' },
        h('div', { class: 'path' }, title),
        h('div', { class: 'sub' }, detail, event ? ` · ${baseName(event.folder)}` : '')),
      h('span', { class: 'when' }, formatWhen(when)),
    );
    if (event && event.type !== 'deleted') {
      item.addEventListener('dblclick', this.reveal(event.folder, event.path));
      item.title = t('activity.reveal_hint');
    }
    if (live) {
      list.prepend(item);
      while (list.children.length > MAX_RECENT) list.lastChild.remove();
    } else {
      list.append(item);
    }
    this.el.recentEmpty.hidden = true;
    return item;
  }

  drawTransfers() {
    if (!this.running.size) {
      this.el.transfers.replaceChildren(h('p', { class: 'empty' }, t('activity.no_transfers')));
      return;
    }
    this.el.transfers.replaceChildren(
      ...[...this.running.entries()].map(([folder, p]) => {
        const fraction = p && p.bytes_total ? p.bytes_done / p.bytes_total
          : p && p.files_total ? p.files_done / p.files_total : 0;
        const bar = h('span');
        bar.style.width = `${Math.round(fraction * 100)}%`;
        const text = p
          ? t('activity.transfer', {
            done: p.files_done, total: p.files_total, bytes_done: formatBytes(p.bytes_done), bytes_total: formatBytes(p.bytes_total),
          })
          : t('activity.looking');
        return h('div', { class: 'transfer', dataset: { folder } },
          h('div', { class: 'transfer-head' }, h('strong', {}, baseName(folder)), h('span', { class: 'muted' }, text)),
          h('div', { class: 'bar' }, bar));
      }),
    );
  }

  drawConflicts() {
    const count = this.conflictItems.length;
    this.el.conflictCount.hidden = count === 0;
    this.el.conflictCount.textContent = String(count);
    if (!count) return;
    this.el.conflicts.replaceChildren(
      h('ul', { class: 'event-list' },
        ...this.conflictItems.map((c) => h('li', { class: 'conflict-item' },
          h('span', { class: 'icon conflict' }, '!'),
          h('div', { class: 'what' },
            h('div', {}, c.path),
            h('div', { class: 'sub' }, t('activity.other_version', { copy: c.copy, folder: baseName(c.folder) }))),
          h('span', { class: 'folder-actions' },
            h('button', { class: 'small', onclick: this.open(c.folder, c.path) }, t('action.open')),
            h('button', { class: 'small', onclick: this.open(c.folder, c.copy) }, t('activity.open_other')),
            h('button', { class: 'small', onclick: this.reveal(c.folder, c.path) }, t('activity.show_in_folder')))))),
    );
  }
}
