// The Conflicts tab: every unresolved conflict of the tracked folders with both versions side
// by side (which is mine, which is theirs; device, time, size), a button to open either, and the
// three ways to settle it. Which version is "mine" is the backend's decision (see
// crates/tunnel-core/src/conflicts/mod.rs); this file only shows it. The tab's count is the
// number listed; the list is read again after each sync and after each resolution.

import { api } from './api.js';
import { baseName, formatBytes, h } from './dom.js';
import { t } from './i18n.js';

function formatModified(unixSeconds) {
  return new Date(unixSeconds * 1000).toLocaleString();
}

export class Conflicts {
  constructor({ list, count, onError }) {
    this.el = { list, count };
    this.onError = onError;
    this.items = [];
    this.drawn = null; // the list as last drawn (JSON)
    this.loading = null;
  }

  /** Read the list again (coalesced: one read at a time, one more queued at most). */
  async refresh() {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      try {
        this.items = await api.listConflicts();
        // Redrawn only when the list changed: a sync's events must not swap the buttons under
        // the person's pointer.
        const seen = JSON.stringify(this.items);
        if (seen !== this.drawn) {
          this.drawn = seen;
          this.draw();
        }
      } catch (e) {
        this.onError(e.message);
      } finally {
        this.loading = null;
      }
      if (this.again) {
        this.again = false;
        await this.refresh();
      }
    })();
    return this.loading;
  }

  /** A sync event: the end of a sync or a new conflict may change the list. */
  take(event) {
    if (event.type === 'finished' || event.type === 'conflict') this.refresh();
  }

  version(c, side, label) {
    const v = side === 'copy' ? c.copy : c.original;
    return h('div', { class: `conflict-version ${label}`, dataset: { side } },
      h('div', { class: 'version-label' }, label === 'mine' ? t('conflicts.mine') : t('conflicts.theirs'),
        h('span', { class: 'muted' }, side === 'copy' ? ` · ${t('conflicts.the_copy')}` : ` · ${t('conflicts.at_the_name')}`)),
      h('div', { class: 'path', title: v.path }, v.path),
      h('dl', { class: 'version-facts' },
        h('dt', {}, t('conflicts.device')), h('dd', { class: 'device' }, v.device),
        h('dt', {}, t('conflicts.modified')), h('dd', { class: 'modified' }, formatModified(v.modified_at)),
        h('dt', {}, t('conflicts.size')), h('dd', { class: 'size' }, formatBytes(v.size))),
      h('button', {
        class: 'small open',
        onclick: () => api.openFile(c.folder, v.path).catch((e) => this.onError(e.message)),
      }, t('action.open')));
  }

  resolveButton(c, keep, label, primary) {
    return h('button', {
      class: `small keep-${keep}${primary ? ' primary' : ''}`,
      onclick: async (event) => {
        const card = event.target.closest('.conflict-card');
        card.querySelectorAll('button').forEach((b) => { b.disabled = true; });
        try {
          await api.resolveConflict(c.folder, c.copy.path, keep);
        } catch (e) {
          this.onError(e.message);
        }
        this.drawn = null; // drawn again even when unchanged (a refused resolution re-enables its buttons)
        await this.refresh();
      },
    }, label);
  }

  draw() {
    const n = this.items.length;
    this.el.count.hidden = n === 0;
    this.el.count.textContent = String(n);
    if (!n) {
      this.el.list.replaceChildren(h('p', { class: 'empty' }, t('conflicts.none')));
      return;
    }
    this.el.list.replaceChildren(...this.items.map((c) => h('div', {
      class: 'card conflict-card',
      dataset: { folder: c.folder, copy: c.copy.path, kind: c.kind },
    },
    h('div', { class: 'conflict-head' },
      h('strong', { class: 'original' }, c.original.path),
      h('span', { class: 'muted' }, ` ${t('conflicts.in_folder', { folder: baseName(c.folder) })} · `,
        c.kind === 'case-clash' ? t('conflicts.case_clash') : t('conflicts.two_devices'))),
    h('div', { class: 'conflict-versions' },
      this.version(c, c.mine, 'mine'),
      this.version(c, c.theirs, 'theirs')),
    h('div', { class: 'actions conflict-actions' },
      this.resolveButton(c, 'mine', t('conflicts.keep_mine'), false),
      this.resolveButton(c, 'theirs', t('conflicts.keep_theirs'), false),
      this.resolveButton(c, 'both', t('conflicts.keep_both'), false)),
    h('p', { class: 'hint' }, t('conflicts.trash_hint')))));
  }
}
