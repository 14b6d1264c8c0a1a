// Being a good citizen of the company's Confluence (issue 17, item 7): the banner warning ahead
// of the personal access token's expiry, and the "Page usage" panel (what each folder's page
// holds and what garbage collection would free). Data comes from the backend (api.js); the
// decisions were made there. The token check runs when the window opens, when a sync
// finishes (at most once an hour) and after the connection is saved — no polling loop.

import { api } from './api.js';
import { t } from './i18n.js';
import { formatBytes, h, showResult } from './dom.js';

const TOKEN_RECHECK_MS = 60 * 60 * 1000;

let lastTokenCheck = 0;

/** Show or hide the token banner for `notice` (null hides it). */
function showNotice(banner, notice) {
  banner.hidden = !notice;
  if (!notice) return;
  banner.dataset.expired = String(Boolean(notice.expired));
  banner.querySelector('.message').textContent = notice.message;
}

/** Ask the backend whether the token's expiry is near, and show the answer. */
export async function checkToken(banner, { force = false } = {}) {
  const now = Date.now();
  if (!force && now - lastTokenCheck < TOKEN_RECHECK_MS) return;
  lastTokenCheck = now;
  try {
    showNotice(banner, await api.tokenNotice());
  } catch {
    // A courtesy check: a failure shows nothing.
  }
}

function row(label, value) {
  return h('div', { class: 'usage-row' }, h('span', { class: 'muted' }, label), h('b', {}, value));
}

function renderUsage(list, rows) {
  list.replaceChildren();
  if (!rows.length) {
    list.append(h('p', { class: 'empty' }, t('progress.no_folders')));
    return;
  }
  for (const r of rows) {
    const u = r.usage;
    const old = `${u.old_versions} (${formatBytes(u.old_version_bytes)}${u.old_version_bytes_estimated ? t('usage.partly_estimated') : ''})`;
    list.append(h('div', { class: 'usage-folder', dataset: { path: r.path } },
      h('div', { class: 'usage-title' }, r.path, h('span', { class: 'muted' }, ` · ${t('usage.page', { page: r.page_id })}`)),
      row(t('usage.attachments'), `${u.attachments} (${formatBytes(u.current_bytes)})`),
      row(t('usage.old_versions'), old),
      row(t('usage.total'), formatBytes(u.current_bytes + u.old_version_bytes)),
      row(t('usage.referenced'), `${u.referenced} (${formatBytes(u.referenced_bytes)})`),
      u.foreign_attachments ? row(t('usage.foreign'), String(u.foreign_attachments)) : null,
      h('div', { class: 'usage-row gc' },
        h('span', { class: 'muted' }, t('usage.gc_free')),
        h('b', { class: 'gc-free' }, `${u.collectable} (${formatBytes(u.collectable_bytes)})`)),
      u.waiting ? row(t('usage.waiting'), `${u.waiting} (${formatBytes(u.waiting_bytes)})`) : null,
      u.trash_visible ? null : h('p', { class: 'muted small' },
        t('usage.trash_hint'))));
  }
}

/** Wire the Page usage panel: its button loads the figures. */
export function mountUsage(panel) {
  const list = panel.querySelector('#usage-list');
  const result = panel.querySelector('#usage-result');
  panel.querySelector('#usage-refresh').addEventListener('click', async () => {
    showResult(result, 'busy', t('usage.reading'));
    try {
      renderUsage(list, await api.pageUsage(null));
      showResult(result, '', '');
    } catch (e) {
      showResult(result, 'error', e.message);
    }
  });
}
