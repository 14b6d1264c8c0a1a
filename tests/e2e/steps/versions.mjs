// WebDriver steps of the Versions view (issue 16 item 3), called once from webdriver.mjs with
// its helpers. "Versions…" on a folder card lists every path the page's history keeps, deleted
// ones too (with a filter); a deleted file's versions are listed newest first; "Restore" brings
// it back into place, "Save a copy…" writes a version into another folder; "Restore this folder
// as it was at …" shows a preview, and Cancel leaves everything as it was.
// With the fake backend the deleted file is its canned `old-notes.txt` (see
// src-tauri/src/desktop/fake_versions.rs); against the emulator the steps first make, edit and
// delete a file through real syncs (the command line's `history` tells when each reached the
// page).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A local time as the view's field takes it: "2026-03-01 14:30". */
function localText(date) {
  const p = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())} ${p(date.getHours())}:${p(date.getMinutes())}`;
}

export async function versionsSteps({ step, click, type, text, texts, js, until, screenshot, FAKE, APP, folder }) {
  const card = `#folder-list .folder[data-path="${folder}"]`;
  const dialog = '#versions';
  const isOpen = () => js('return !!document.querySelector(arguments[0])?.open', dialog);
  const name = FAKE ? 'old-notes.txt' : 'versions-demo.txt';
  const file = join(folder, name);
  const fileRow = `${dialog} .versions-file[data-path="${name}"]`;
  const rows = () => js(`return [...document.querySelectorAll('${dialog} .version-row')].map((r) => r.dataset.action)`);
  const contents = FAKE
    ? { 1: `${name} as it was in version 1\n`, 2: `${name} as it was in version 2\n` }
    : { 1: 'first\n', 2: 'second, longer\n' };
  // Against the emulator: the file's versions as the command line sees them on the page.
  const cli = (...args) => execFileSync(APP, ['--cli', ...args], { cwd: process.env.HOME, encoding: 'utf8', timeout: 60000 });
  const pageVersions = () => {
    try {
      return JSON.parse(cli('--json', 'history', file)).versions;
    } catch {
      return [];
    }
  };
  const idle = async () => (await js('return document.querySelector(arguments[0]).dataset.state', card)) === 'idle';

  if (!FAKE) {
    await step('versions: a file is made, edited and deleted, each change synced', async () => {
      await click('.tab[data-tab=folders]');
      const changes = [() => writeFileSync(file, contents[1]), () => writeFileSync(file, contents[2]), () => unlinkSync(file)];
      for (let i = 0; i < changes.length; i += 1) {
        await until('the folder to be idle', idle);
        changes[i]();
        await click(`${card} .sync`);
        await until(`change ${i + 1} of ${name} on the page`, async () => pageVersions().length >= i + 1);
      }
    });
  }

  await step('versions: the folder card opens the view; the deleted file is found with the filter', async () => {
    await click('.tab[data-tab=folders]');
    await click(`${card} .versions`);
    await until('the Versions dialog', isOpen);
    await until(`${name} in the file list`, () => js('return !!document.querySelector(arguments[0])', fileRow));
    const live = await js('return document.querySelector(arguments[0]).dataset.live', fileRow);
    if (live !== 'false') throw new Error(`${name} should be listed as deleted, live=${live}`);
    await type(`${dialog} .versions-filter`, name.slice(0, 8));
    await until('the filter to leave only matching files', async () => {
      const shown = await js(`return [...document.querySelectorAll('${dialog} .versions-file')].map((r) => r.dataset.path)`);
      return shown.length > 0 && shown.every((p) => p.includes(name.slice(0, 8))) && shown.includes(name);
    });
    await click(`${dialog} .versions-deleted-only`);
    await until('only deleted files', async () => {
      const live = await js(`return [...document.querySelectorAll('${dialog} .versions-file')].map((r) => r.dataset.live)`);
      return live.length > 0 && live.every((l) => l === 'false');
    });
    await screenshot('versions-files');
  });

  await step('versions: a deleted file\'s versions, newest first, with time, device and size', async () => {
    await click(fileRow);
    const actions = await until('three versions', async () => {
      const seen = await rows();
      return seen.length === 3 ? seen : null;
    });
    if (actions.join() !== 'deleted,modified,created') throw new Error(`versions read ${actions}`);
    const first = `${dialog} .version-row[data-action="deleted"]`;
    if (!(await text(`${first} .version-time`))) throw new Error('no time on the deleted version');
    if (!(await text(`${first} .version-device`))) throw new Error('no device on the deleted version');
    if (await js('return !!document.querySelector(arguments[0])', `${first} .restore`)) {
      throw new Error('a deletion has nothing to restore');
    }
    const size = await text(`${dialog} .version-row[data-action="modified"] .version-size`);
    if (!/\d/.test(size)) throw new Error(`the edited version's size reads "${size}"`);
    await screenshot('versions-list');
  });

  await step('versions: "Save a copy…" writes the first version into another folder', async () => {
    const copies = mkdtempSync(join(tmpdir(), 'sber-tunnel-e2e-copies-'));
    await click(`${dialog} .version-row[data-action="created"] .save-copy`);
    await type(`${dialog} .version-row[data-action="created"] .copy-to`, copies);
    await click(`${dialog} .version-row[data-action="created"] .copy-save`);
    await until('the saved message', async () => (await text(`#versions-result`)).startsWith('Saved version'));
    const copy = join(copies, name);
    const got = existsSync(copy) ? readFileSync(copy, 'utf8') : '<missing>';
    if (got !== contents[1]) throw new Error(`the copy holds ${JSON.stringify(got)}`);
    if (existsSync(file)) throw new Error('a copy must not bring the file back into the folder');
  });

  await step('versions: Restore brings the deleted file back into the folder', async () => {
    await click(`${dialog} .version-row[data-action="modified"] .restore`);
    await until('the restored message', async () => (await text(`#versions-result`)).startsWith('Restored version'));
    await until(`${name} back on disk`, () => existsSync(file) && readFileSync(file, 'utf8') === contents[2]);
    if (!FAKE) {
      // The restore syncs as an ordinary change: the page lists the file again.
      await until('the restore to reach the page', async () => pageVersions().length >= 4);
    }
    await screenshot('versions-restored');
  });

  await step('versions: a folder restore is previewed, and Cancel changes nothing', async () => {
    let at;
    if (FAKE) {
      at = localText(new Date(Date.now() - 2 * 24 * 3600 * 1000));
    } else {
      // Just before the file was first made: restoring then would take it away again.
      const created = pageVersions().find((v) => v.action === 'created');
      at = new Date(created.time_ms - 1).toISOString();
    }
    const before = readdirSync(folder).sort().join('\n');
    await type(`${dialog} .restore-at`, at);
    await click(`${dialog} .restore-preview-button`);
    const listed = await until('the preview', async () => {
      const changes = await js(`return [...document.querySelectorAll('${dialog} .restore-change')].map((c) => c.dataset.change + ' ' + c.dataset.path)`);
      return changes.length ? changes : null;
    });
    const expected = FAKE ? `write ${name}` : `remove ${name}`;
    if (!listed.includes(expected)) throw new Error(`the preview should list "${expected}": ${listed}`);
    if (!(await text(`${dialog} .restore-summary`)).includes('Nothing has changed yet')) throw new Error('no summary line');
    await screenshot('versions-folder-preview');
    await click(`${dialog} .restore-cancel`);
    await until('the cancelled message', async () => (await text(`#restore-result`)) === 'Nothing was changed.');
    const after = readdirSync(folder).sort().join('\n');
    if (after !== before) throw new Error(`the folder changed:\n${before}\n---\n${after}`);
    if (readFileSync(file, 'utf8') !== contents[2]) throw new Error(`${name} changed`);
    await click(`${dialog} .versions-close`);
    await until('the dialog to close', async () => !(await isOpen()));
  });
}
