// "Versions…" (issue 16 item 3): a dialog over a synced folder's history on the page. On the
// left, every path the retained history knows — deleted ones too, with a filter — so an
// accidental deletion can be found; on the right, the versions of the path picked, newest
// first (local time, device, size, what happened), each with "Restore" (into place: it then
// syncs as an ordinary change) and "Save a copy…" (into a folder outside). Below, "Restore this
// folder as it was at …": a preview (the backend's dry run) first, then Restore or Cancel.
// Every decision is the backend's (the same calls as `sber-tunnel history` / `restore`); this
// file only shows them.

import { api } from './api.js';
import { t } from './i18n.js';
import { baseName, formatBytes, h, showResult } from './dom.js';

const DIALOG_ID = 'versions';

/** A time (ms since the epoch) in the reader's local time. */
function localTime(ms) {
  return new Date(ms).toLocaleString();
}

/** Now, as a person writes a local time: "2026-03-01 14:30". */
function nowText() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** What a version's change was, in the reader's words. */
function actionText(v) {
  if (v.restored_from !== undefined && v.restored_from !== null) {
    return t('versions.restored_from', { version: v.restored_from });
  }
  switch (v.action) {
    case 'created': return t('versions.created');
    case 'modified': return t('versions.edited');
    case 'deleted': return t('versions.deleted');
    case 'changed': return t('versions.changed');
    default: return v.action;
  }
}

/** The number a restore takes: a file's own version, or a folder's commit. */
const versionNumber = (v) => (v.version ?? v.seq);

/** Open the Versions dialog of the synced folder at `folderPath`. */
export async function openVersions(folderPath) {
  document.getElementById(DIALOG_ID)?.remove();
  const filter = h('input', {
    class: 'versions-filter', type: 'search', placeholder: t('versions.filter'),
    'aria-label': t('versions.filter'),
  });
  const deletedOnly = h('input', { type: 'checkbox', class: 'versions-deleted-only' });
  const files = h('ul', { class: 'versions-files' });
  const heading = h('div', { class: 'versions-path' }, t('versions.pick_a_path'));
  const list = h('ul', { class: 'versions-list' });
  // Found by id: showResult sets the class to the kind of result.
  const result = h('div', { id: 'versions-result', class: 'result', role: 'status' });
  const atField = h('input', { class: 'restore-at', value: nowText(), placeholder: '2026-03-01 14:30' });
  const preview = h('div', { class: 'restore-preview', hidden: true });
  const folderResult = h('div', { id: 'restore-result', class: 'result', role: 'status' });
  const close = h('button', { class: 'versions-close' }, t('versions.close'));
  const dialog = h(
    'dialog',
    { id: DIALOG_ID, class: 'chooser versions-dialog', dataset: { folder: folderPath } },
    h('h3', {}, t('versions.title', { folder: baseName(folderPath) })),
    h('p', { class: 'muted' }, t('versions.intro')),
    h('div', { class: 'versions-body' },
      h('div', { class: 'versions-left' },
        filter,
        h('label', { class: 'check small' }, deletedOnly, h('span', {}, t('versions.deleted_only'))),
        files),
      h('div', { class: 'versions-right' }, heading, list, result)),
    h('section', { class: 'versions-folder' },
      h('h4', {}, t('versions.folder_title')),
      h('div', { class: 'actions' },
        atField,
        h('button', { class: 'restore-preview-button', onclick: () => previewFolder() }, t('versions.preview'))),
      preview,
      folderResult),
    h('div', { class: 'actions' }, close),
  );
  document.body.append(dialog);
  close.addEventListener('click', () => { dialog.close(); dialog.remove(); });

  let paths = [];
  let selected = null; // the path whose versions are shown

  const drawFiles = () => {
    const needle = filter.value.trim().toLowerCase();
    const shown = paths.filter((p) => (!deletedOnly.checked || !p.live)
      && (!needle || p.path.toLowerCase().includes(needle)));
    if (!shown.length) {
      files.replaceChildren(h('li', { class: 'muted versions-none' }, t('versions.no_paths')));
      return;
    }
    files.replaceChildren(...shown.map((p) => {
      const depth = p.path.split('/').length - 1;
      const li = h('li', {
        class: `versions-file${p.path === selected ? ' selected' : ''}`,
        dataset: { path: p.path, live: String(p.live), kind: p.kind },
        tabindex: '0',
        onclick: () => showVersions(p.path),
        onkeydown: (e) => { if (e.key === 'Enter') showVersions(p.path); },
      },
      h('span', { class: 'versions-name' }, p.kind === 'dir' ? `${baseName(p.path)}/` : baseName(p.path)),
      p.live ? null : h('span', { class: 'badge versions-gone' }, t('versions.deleted_badge')),
      h('span', { class: 'muted versions-when' },
        p.kind === 'dir' ? localTime(p.time_ms) : `${formatBytes(p.size)} · ${localTime(p.time_ms)}`));
      li.title = p.path;
      // Through the CSSOM: the content security policy refuses inline style attributes.
      li.style.paddingLeft = `${6 + depth * 16}px`;
      return li;
    }));
  };

  const loadPaths = async () => {
    try {
      paths = await api.listHistoryPaths(folderPath);
      drawFiles();
    } catch (e) {
      files.replaceChildren(h('li', { class: 'result error' }, e.message));
    }
  };

  async function showVersions(path) {
    selected = path;
    drawFiles();
    heading.textContent = path;
    showResult(result, '', '');
    list.replaceChildren(h('li', { class: 'muted' }, t('versions.reading')));
    try {
      const versions = await api.listPathVersions(folderPath, path);
      if (selected !== path) return; // another path was picked meanwhile
      drawVersions(path, versions);
    } catch (e) {
      list.replaceChildren();
      showResult(result, 'error', e.message);
    }
  }

  function drawVersions(path, versions) {
    if (!versions.length) {
      list.replaceChildren(h('li', { class: 'muted' }, t('versions.none')));
      return;
    }
    list.replaceChildren(...versions.map((v) => {
      const n = versionNumber(v);
      const gone = v.action === 'deleted';
      const copyRow = h('div', { class: 'versions-copy', hidden: true });
      return h('li', { class: 'version-row', dataset: { version: String(n), action: v.action } },
        h('div', { class: 'version-main' },
          h('span', { class: 'version-number' }, `#${n}`),
          h('span', { class: 'version-action' }, actionText(v)),
          h('span', { class: 'version-time' }, localTime(v.time_ms))),
        h('div', { class: 'muted version-facts-line' },
          h('span', { class: 'version-device' }, v.device || '—'),
          gone ? null : h('span', { class: 'version-size' }, ` · ${formatBytes(v.size)}`),
          v.version === null || v.version === undefined
            ? h('span', {}, ` · ${t('files', { count: v.files })}`) : null),
        gone ? null : h('div', { class: 'actions version-actions' },
          h('button', { class: 'small restore', onclick: (e) => restoreHere(e.currentTarget, path, n) },
            t('versions.restore')),
          h('button', { class: 'small save-copy', onclick: () => openCopy(copyRow, path, n) },
            t('versions.save_copy'))),
        copyRow);
    }));
  }

  async function restoreHere(button, path, n) {
    button.disabled = true;
    showResult(result, 'busy', t('versions.restoring'));
    try {
      await api.restoreVersion(folderPath, path, { version: n }, null, false);
      // Read again (the restore is a new version once it has synced), then say what was done.
      await loadPaths();
      await showVersions(path);
      showResult(result, 'ok', t('versions.restored', { version: n, path }));
    } catch (e) {
      showResult(result, 'error', e.message);
    } finally {
      button.disabled = false;
    }
  }

  function openCopy(row, path, n) {
    const to = h('input', { class: 'copy-to', placeholder: t('versions.copy_placeholder') });
    const save = h('button', { class: 'small primary copy-save' }, t('versions.copy_save'));
    const browse = h('button', { class: 'small copy-browse' }, t('common.browse'));
    browse.addEventListener('click', async () => {
      try {
        const picked = await api.pickCopyFolder();
        if (picked) to.value = picked;
      } catch (e) {
        showResult(result, 'error', e.message);
      }
    });
    save.addEventListener('click', async () => {
      if (!to.value.trim()) {
        to.focus();
        return;
      }
      save.disabled = true;
      showResult(result, 'busy', t('versions.saving'));
      try {
        const report = await api.restoreVersion(folderPath, path, { version: n }, to.value.trim(), false);
        const c = report.changes[0];
        showResult(result, c && c.change === 'exists' ? 'error' : 'ok', c && c.change === 'exists'
          ? t('versions.copy_exists', { target: c.target })
          : t('versions.copy_saved', { version: n, target: c ? c.target : to.value.trim() }));
        row.hidden = true;
      } catch (e) {
        showResult(result, 'error', e.message);
      } finally {
        save.disabled = false;
      }
    });
    row.replaceChildren(h('span', { class: 'file-row' }, to, browse), save);
    row.hidden = false;
    to.focus();
  }

  const COUNTED = ['write', 'create-folder', 'remove', 'exists'];

  async function previewFolder() {
    const at = atField.value.trim();
    preview.hidden = true;
    showResult(folderResult, 'busy', t('versions.previewing'));
    let report;
    try {
      report = await api.restoreVersion(folderPath, null, { at }, null, true);
    } catch (e) {
      showResult(folderResult, 'error', e.message);
      return;
    }
    showResult(folderResult, '', '');
    const changes = report.changes.filter((c) => COUNTED.includes(c.change));
    const count = (kind) => changes.filter((c) => c.change === kind).length;
    const when = localTime(report.time_ms);
    const label = {
      write: t('versions.change_write'),
      'create-folder': t('versions.change_create'),
      remove: t('versions.change_remove'),
      exists: t('versions.change_exists'),
    };
    const confirm = h('button', { class: 'primary restore-confirm' }, t('versions.confirm'));
    const cancel = h('button', { class: 'restore-cancel' }, t('versions.cancel'));
    confirm.addEventListener('click', async () => {
      confirm.disabled = true;
      cancel.disabled = true;
      showResult(folderResult, 'busy', t('versions.restoring'));
      try {
        await api.restoreVersion(folderPath, null, { at }, null, false);
        preview.hidden = true;
        showResult(folderResult, 'ok', t('versions.folder_restored', { time: when }));
        await loadPaths();
        if (selected) await showVersions(selected);
      } catch (e) {
        showResult(folderResult, 'error', e.message);
        confirm.disabled = false;
        cancel.disabled = false;
      }
    });
    cancel.addEventListener('click', () => {
      preview.hidden = true;
      preview.replaceChildren();
      showResult(folderResult, 'ok', t('versions.cancelled'));
    });
    preview.dataset.seq = String(report.seq);
    preview.replaceChildren(
      h('p', { class: 'restore-summary' }, changes.length
        ? t('versions.preview_summary', {
          time: when,
          write: count('write'),
          create: count('create-folder'),
          remove: count('remove'),
        })
        : t('versions.preview_nothing', { time: when })),
      changes.length ? h('ul', { class: 'restore-changes' }, ...changes.map((c) => h('li', {
        class: 'restore-change', dataset: { change: c.change, path: c.path },
      }, h('span', { class: 'restore-change-kind' }, label[c.change]), ' ', h('code', {}, c.path)))) : null,
      h('div', { class: 'actions' }, changes.length ? confirm : null, cancel),
    );
    preview.hidden = false;
  }

  filter.addEventListener('input', drawFiles);
  deletedOnly.addEventListener('change', drawFiles);
  files.replaceChildren(h('li', { class: 'muted' }, t('versions.reading')));
  dialog.showModal();
  await loadPaths();
}
