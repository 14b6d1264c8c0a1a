// "Ignore rules…" (issue 17 item 2): a dialog to edit a synced folder's .sbtignore (from the
// folder card) or the global patterns (from Settings). Preset checkboxes add or remove their
// lines in the text; "Preview" shows which existing files the text would newly exclude or
// include, compared with today's rules, before anything is saved; "Save" writes it (the same
// core calls as `sber-tunnel ignore`). Files already synced that a new rule ignores are not
// deleted anywhere: this computer just stops syncing them.

import { api } from './api.js';
import { baseName, formatBytes, h, showResult } from './dom.js';
import { language, t } from './i18n.js';

const DIALOG_ID = 'ignore-rules';

/** The lines of `text` without trailing carriage returns. */
function linesOf(text) {
  return text.split('\n').map((l) => l.replace(/\r$/, ''));
}

/** Whether `text` holds every line of `preset`. */
export function hasPreset(text, preset) {
  const lines = new Set(linesOf(text));
  return preset.lines.every((l) => lines.has(l));
}

/** `text` with the preset's missing lines appended (as the core's apply_preset). */
export function addPreset(text, preset) {
  const have = new Set(linesOf(text));
  const missing = preset.lines.filter((l) => !have.has(l));
  if (!missing.length) return text;
  const base = text === '' || text.endsWith('\n') ? text : `${text}\n`;
  return `${base}${missing.join('\n')}\n`;
}

/** `text` without the preset's lines (as the core's remove_preset). */
export function removePreset(text, preset) {
  const drop = new Set(preset.lines);
  const kept = linesOf(text.replace(/\n$/, '')).filter((l) => !drop.has(l));
  const joined = kept.join('\n');
  return joined.trim() === '' ? '' : `${joined}\n`;
}

function previewBlock(p, multiple) {
  const out = [];
  const where = multiple ? `${baseName(p.folder)}: ` : '';
  if (!p.excluded.length && !p.included.length) {
    out.push(h('p', { class: 'muted ignore-nothing' }, `${where}${t('ignore.no_change')}`));
    return out;
  }
  if (p.excluded.length) {
    out.push(h('p', { class: 'ignore-excluded-head' },
      where + t('ignore.newly_excluded', {
        files: t('files', { count: p.excluded_files }),
        size: formatBytes(p.excluded_bytes),
      })));
    out.push(h('ul', { class: 'ignore-list ignore-excluded' },
      ...p.excluded.map((s) => h('li', {}, s))));
  }
  if (p.included.length) {
    out.push(h('p', { class: 'ignore-included-head' },
      where + t('ignore.newly_included', {
        files: t('files', { count: p.included_files }),
        size: formatBytes(p.included_bytes),
      })));
    out.push(h('ul', { class: 'ignore-list ignore-included' },
      ...p.included.map((s) => h('li', {}, s))));
  }
  if (p.truncated) out.push(h('p', { class: 'muted' }, t('ignore.and_more')));
  return out;
}

/** Open the editor for the synced folder at `folderPath`, or the global patterns (null). */
export async function openIgnoreEditor(folderPath) {
  document.getElementById(DIALOG_ID)?.remove();
  const text = h('textarea', { class: 'ignore-text', rows: '10', spellcheck: 'false' });
  const presets = h('div', { class: 'ignore-presets' });
  const preview = h('div', { class: 'ignore-preview-out' });
  const result = h('div', { class: 'result' });
  const previewBtn = h('button', { class: 'ignore-preview' }, t('ignore.preview'));
  const save = h('button', { class: 'primary ignore-save' }, t('ignore.save'));
  const cancel = h('button', { class: 'ignore-cancel' }, t('ignore.cancel'));
  const title = folderPath
    ? t('ignore.title_folder', { name: baseName(folderPath) })
    : t('ignore.title_global');
  const note = folderPath
    ? t('ignore.note_folder')
    : t('ignore.note_global');
  const dialog = h(
    'dialog',
    { id: DIALOG_ID, class: 'chooser ignore-editor', dataset: { folder: folderPath || '' } },
    h('h3', {}, title),
    h('p', { class: 'muted' }, note),
    h('p', { class: 'muted' }, t('ignore.note_synced')),
    presets,
    text,
    preview,
    result,
    h('div', { class: 'actions' }, previewBtn, save, cancel),
  );
  document.body.append(dialog);

  let available = [];
  const syncBoxes = () => {
    presets.querySelectorAll('input').forEach((box) => {
      const p = available.find((a) => a.name === box.dataset.name);
      box.checked = Boolean(p) && hasPreset(text.value, p);
    });
  };
  const draw = (view) => {
    available = view.available || [];
    text.value = view.text || '';
    presets.replaceChildren(...available.map((p) => {
      const box = h('input', { type: 'checkbox', class: 'ignore-preset', dataset: { name: p.name } });
      box.addEventListener('change', () => {
        text.value = box.checked ? addPreset(text.value, p) : removePreset(text.value, p);
        preview.replaceChildren();
        syncBoxes();
      });
      return h('label', { class: 'check', title: p.lines.join('  ') }, box, ` ${language() === 'ru' && p.title_ru ? p.title_ru : p.title}`);
    }));
    syncBoxes();
  };
  text.addEventListener('input', () => { syncBoxes(); preview.replaceChildren(); });

  previewBtn.addEventListener('click', async () => {
    showResult(result, 'busy', t('ignore.looking'));
    try {
      const list = await api.previewIgnoreRules(folderPath, text.value);
      preview.replaceChildren(...list.flatMap((p) => previewBlock(p, list.length > 1)));
      if (!list.length) preview.replaceChildren(h('p', { class: 'muted' }, t('ignore.no_folder')));
      showResult(result, '', '');
    } catch (e) {
      showResult(result, 'error', e.message);
    }
  });
  save.addEventListener('click', async () => {
    showResult(result, 'busy', t('ignore.saving'));
    try {
      draw(await api.saveIgnoreRules(folderPath, text.value));
      showResult(result, 'ok', t('ignore.saved'));
    } catch (e) {
      showResult(result, 'error', e.message);
    }
  });
  cancel.addEventListener('click', () => { dialog.close(); dialog.remove(); });
  try {
    draw(await api.ignoreRules(folderPath));
  } catch (e) {
    showResult(result, 'error', e.message);
  }
  dialog.showModal();
}

/** A Settings card with the button that opens the global patterns' editor. */
export function mountIgnoreSettings(slot) {
  if (!slot) return;
  const card = h('div', { class: 'card ignore-settings' },
    h('h3', { dataset: { i18n: 'ignore.settings_title' } }, t('ignore.settings_title')),
    h('p', { class: 'muted', dataset: { i18n: 'ignore.settings_text' } }, t('ignore.settings_text')),
    h('button', {
      type: 'button',
      id: 'open-ignore-global',
      dataset: { i18n: 'ignore.settings_edit' },
      onclick: () => openIgnoreEditor(null),
    }, t('ignore.settings_edit')));
  slot.after(card);
}
