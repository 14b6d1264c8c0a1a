// WebDriver steps of the Trash tab (issue 16 item 4), called once from webdriver.mjs with its
// helpers. The tab lists, per synced folder, what is in its local trash, newest first, with
// why, whose change, when and the size, and the retention; "Put back" returns an item to its
// place, or beside it as `name (restored).ext` when that path is taken (never over a file);
// "Empty trash…" asks first, Cancel keeps everything, the confirmation deletes it for good.
// With the fake backend each folder's trash holds two canned items on disk (see
// src-tauri/src/desktop/fake_trash.rs): `old-budget.csv` deleted and the previous content of
// `report.txt` replaced by the device "laptop". Against the emulator the steps put two files
// into the folders' real `.sber-tunnel-trash` first (listed without a record of why, as the
// core lists what the journal does not know) and the real backend puts back and empties them.

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const TRASH_DIR = '.sber-tunnel-trash';

/** Every file under `dir` (relative paths). */
function filesUnder(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory()
    ? filesUnder(join(dir, e.name)).map((f) => `${e.name}/${f}`)
    : [e.name]));
}

export async function trashSteps({ step, click, text, texts, js, until, screenshot, FAKE, folder, folder2 }) {
  const card = (f) => `#trash-list .trash-folder[data-folder="${f}"]`;
  const row = (f, path) => `${card(f)} .trash-item[data-path="${path}"]`;
  const listed = (f) => js(`return [...document.querySelectorAll('${card(f)} .trash-item')].map((r) => r.dataset.path)`);
  const result = (f) => text(`${card(f)} .trash-result`);
  // The items, newest first, and what each holds.
  const items = FAKE
    ? [{ path: 'old-budget.csv', reason: 'deleted', why: 'Deleted by laptop' }, { path: 'report.txt', reason: 'replaced', why: 'Replaced by laptop' }]
    : [{ path: 'trash-demo.txt', reason: 'unknown', why: 'no record' }, { path: 'report.txt', reason: 'unknown', why: 'no record' }];
  const content = (path) => (FAKE ? `${path} as it was before laptop's change\n` : `${path} from the trash\n`);

  if (!FAKE) {
    await step('trash: files are put into the folders\' local trash', async () => {
      const day = new Date().toISOString().slice(0, 10);
      for (const f of [folder, folder2]) {
        mkdirSync(join(f, TRASH_DIR, day), { recursive: true });
        for (const i of items) writeFileSync(join(f, TRASH_DIR, day, i.path), content(i.path));
      }
    });
  }

  await step('trash: the tab lists each folder\'s items newest first with why, when and size', async () => {
    await click('.tab[data-tab=trash]');
    const paths = await until('two items in the trash', async () => {
      const seen = await listed(folder);
      return seen.length === 2 ? seen : null;
    });
    if (paths.join() !== items.map((i) => i.path).join()) throw new Error(`the trash lists ${paths}`);
    for (const i of items) {
      const reason = await js('return document.querySelector(arguments[0]).dataset.reason', row(folder, i.path));
      if (reason !== i.reason) throw new Error(`${i.path}: reason ${reason}, not ${i.reason}`);
      const why = await text(`${row(folder, i.path)} .trash-reason`);
      if (!why.includes(i.why)) throw new Error(`${i.path}: "${why}" should say "${i.why}"`);
      if (!/\d/.test(await text(`${row(folder, i.path)} .trash-when`))) throw new Error(`${i.path}: no time`);
      if (!/\d/.test(await text(`${row(folder, i.path)} .trash-size`))) throw new Error(`${i.path}: no size`);
    }
    const keep = await text(`${card(folder)} .trash-keep`);
    if (!keep.includes('30 days')) throw new Error(`the retention reads "${keep}"`);
    await screenshot('trash-list');
  });

  await step('trash: "Put back" returns an item to its place, or beside a file that took it', async () => {
    const [first, second] = items;
    await click(`${row(folder, first.path)} .put-back`);
    await until('the put-back message', async () => (await result(folder)) === `${first.path} is back in its place.`);
    const back = join(folder, first.path);
    await until(`${first.path} on disk`, () => existsSync(back) && readFileSync(back, 'utf8') === content(first.path));
    const before = readFileSync(join(folder, second.path), 'utf8');
    await click(`${row(folder, second.path)} .put-back`);
    const beside = 'report (restored).txt';
    await until('the put-beside message', async () => (await result(folder)) === `${second.path} is taken: put back beside it as ${beside}.`);
    if (readFileSync(join(folder, beside), 'utf8') !== content(second.path)) throw new Error(`${beside} holds the wrong content`);
    if (readFileSync(join(folder, second.path), 'utf8') !== before) throw new Error(`${second.path} was overwritten`);
    await until('the folder\'s trash to be empty', async () => (await listed(folder)).length === 0
      && (await texts(`${card(folder)} .trash-none`)).length === 1);
    if (filesUnder(join(folder, TRASH_DIR)).length) throw new Error(`files left in the trash: ${filesUnder(join(folder, TRASH_DIR))}`);
    await screenshot('trash-put-back');
  });

  await step('trash: "Empty trash…" asks first; Cancel keeps everything, the confirmation deletes it', async () => {
    await until('the second folder\'s items', async () => (await listed(folder2)).length === 2);
    await click(`${card(folder2)} .empty-trash`);
    const question = await text(`${card(folder2)} .trash-confirm-text`);
    if (!question.includes('2 files') || !question.includes('cannot be undone')) throw new Error(`the question reads "${question}"`);
    await screenshot('trash-empty-confirm');
    await click(`${card(folder2)} .trash-confirm-no`);
    await until('the cancelled message', async () => (await result(folder2)) === 'Nothing was deleted.');
    if ((await listed(folder2)).length !== 2) throw new Error('Cancel removed items');
    if (filesUnder(join(folder2, TRASH_DIR)).length !== 2) throw new Error('Cancel removed files');
    await click(`${card(folder2)} .empty-trash`);
    await click(`${card(folder2)} .trash-confirm-yes`);
    await until('the emptied message', async () => (await result(folder2)) === 'Deleted 2 files for good.');
    await until('the second folder\'s trash to be empty', async () => (await listed(folder2)).length === 0);
    if (filesUnder(join(folder2, TRASH_DIR)).length) throw new Error(`files left: ${filesUnder(join(folder2, TRASH_DIR))}`);
    for (const i of items) {
      if (existsSync(join(folder2, i.path)) && i.path !== 'report.txt') throw new Error(`${i.path} was put back instead of deleted`);
    }
  });
}
