// "Choose folders…" (selective sync, issue 17 item 1): a dialog with one checkbox per subfolder
// of a synced folder, built from the page's file list. A checked box lives on this computer; an
// unchecked one stays on the page only. Each click is applied at once with the same core calls
// as `sber-tunnel exclude` / `include` (the backend answers with the new choice, which is drawn
// again: checking a box inside an unchecked folder brings back only that part). "Done" syncs the
// folder so the choice is carried out.

import { api } from './api.js';
import { t } from './i18n.js';
import { baseName, formatBytes, h, showResult } from './dom.js';

const DIALOG_ID = 'choose-folders';

/** Whether `path` is `top` or lies below it. */
function atOrBelow(top, path) {
  return path === top || path.startsWith(`${top}/`);
}

/** Open the dialog for the synced folder at `folderPath`. */
export async function openChooser(folderPath) {
  document.getElementById(DIALOG_ID)?.remove();
  const tree = h('ul', { class: 'chooser-tree' });
  const result = h('div', { class: 'result' });
  const done = h('button', { class: 'primary chooser-done' }, t('chooser.done'));
  const dialog = h(
    'dialog',
    { id: DIALOG_ID, class: 'chooser', dataset: { folder: folderPath } },
    h('h3', {}, t('chooser.title', { folder: baseName(folderPath) })),
    h('p', { class: 'muted' },
      t('chooser.intro')),
    tree,
    result,
    h('div', { class: 'actions' }, done),
  );
  document.body.append(dialog);

  const draw = (choice) => {
    const excluded = choice.excluded || [];
    const subfolders = choice.subfolders || [];
    if (!subfolders.length) {
      tree.replaceChildren(
        h('li', { class: 'muted chooser-empty' }, t('chooser.empty')),
      );
      return;
    }
    tree.replaceChildren(
      ...subfolders.map((s) => {
        const depth = s.path.split('/').length - 1;
        const box = h('input', { type: 'checkbox', class: 'choose', dataset: { path: s.path } });
        box.checked = !s.excluded;
        // Partly here: included itself, with something excluded below it.
        box.indeterminate =
          !s.excluded && excluded.some((e) => e !== s.path && atOrBelow(s.path, e));
        box.addEventListener('change', async () => {
          tree.querySelectorAll('input').forEach((b) => { b.disabled = true; });
          showResult(result, 'busy', box.checked ? t('chooser.including') : t('chooser.excluding'));
          try {
            draw(await api.setExcluded(folderPath, s.path, !box.checked));
            showResult(result, 'ok', box.checked
              ? t('chooser.included', { path: s.path })
              : t('chooser.excluded', { path: s.path }));
          } catch (e) {
            showResult(result, 'error', e.message);
            draw(await api.folderChoice(folderPath));
          }
        });
        const li = h(
          'li',
          { class: 'chooser-row', dataset: { path: s.path, excluded: String(s.excluded) } },
          h('label', {}, box, h('span', { class: 'chooser-name' }, baseName(s.path)),
            h('span', { class: 'muted chooser-size' },
              `${t('files', { count: s.files })}, ${formatBytes(s.bytes)}`)),
        );
        // Through the CSSOM: the content security policy refuses inline style attributes.
        li.style.paddingLeft = `${depth * 22}px`;
        return li;
      }),
    );
  };

  done.addEventListener('click', async () => {
    dialog.close();
    dialog.remove();
    try {
      await api.syncNow(folderPath);
    } catch {
      // The folder card shows the sync's own errors.
    }
  });
  try {
    draw(await api.folderChoice(folderPath));
  } catch (e) {
    showResult(result, 'error', e.message);
  }
  dialog.showModal();
}
