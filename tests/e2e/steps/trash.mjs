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

export async function trashSteps({ step, click, text, js, until, screenshot, FAKE, folder, folder2 }) {
  const card = (f) => `#trash-list .trash-folder[data-folder="${f}"]`;
  const row = (f, inTrash) => `${card(f)} .trash-item[data-in-trash="${inTrash}"]`;
  // Every listed item of a folder: { path, inTrash, reason }, in the order shown.
  const listed = (f) => js(`return [...document.querySelectorAll('${card(f)} .trash-item')].map((r) => ({ ...r.dataset }))`);
  const result = (f) => text(`${card(f)} .trash-result`);
  // The items these steps follow, newest first (the trash may hold others: a resolved
  // conflict's version, say), and what each holds.
  const items = FAKE
    ? [{ path: 'old-budget.csv', reason: 'deleted', why: 'Deleted by laptop' }, { path: 'report.txt', reason: 'replaced', why: 'Replaced by laptop' }]
    : [{ path: 'trash-demo.txt', reason: 'unknown', why: 'no record' }, { path: 'report.txt', reason: 'unknown', why: 'no record' }];
  const content = (path) => (FAKE ? `${path} as it was before laptop's change\n` : `${path} from the trash\n`);
  const ours = (rows) => items.map((i) => rows.find((r) => r.path === i.path && r.reason === i.reason)).filter(Boolean);
  const inTrashFiles = (f) => filesUnder(join(f, TRASH_DIR));

  if (!FAKE) {
    await step('trash: files are put into the folders\' local trash', async () => {
      // Yesterday's day folder: today's may hold a resolved conflict's report.txt.
      const day = new Date(Date.now() - 24 * 3600 * 1000).toISOString().slice(0, 10);
      for (const f of [folder, folder2]) {
        mkdirSync(join(f, TRASH_DIR, day), { recursive: true });
        for (const i of items) writeFileSync(join(f, TRASH_DIR, day, i.path), content(i.path));
      }
    });
  }

  let found; // this folder's rows of `items`
  await step('trash: the tab lists each folder\'s items newest first with why, when and size', async () => {
    await click('.tab[data-tab=trash]');
    found = await until('the items in the trash', async () => {
      const rows = ours(await listed(folder));
      return rows.length === items.length ? rows : null;
    });
    const all = (await listed(folder)).map((r) => r.inTrash);
    if (all.indexOf(found[0].inTrash) > all.indexOf(found[1].inTrash)) throw new Error(`not newest first: ${all}`);
    for (const [n, i] of items.entries()) {
      const r = row(folder, found[n].inTrash);
      const why = await text(`${r} .trash-reason`);
      if (!why.includes(i.why)) throw new Error(`${i.path}: "${why}" should say "${i.why}"`);
      if (!/\d/.test(await text(`${r} .trash-when`))) throw new Error(`${i.path}: no time`);
      if (!/\d/.test(await text(`${r} .trash-size`))) throw new Error(`${i.path}: no size`);
    }
    const keep = await text(`${card(folder)} .trash-keep`);
    if (!keep.includes('30 days')) throw new Error(`the retention reads "${keep}"`);
    await screenshot('trash-list');
  });

  await step('trash: "Put back" returns an item to its place, or beside a file that took it', async () => {
    const [first, second] = items;
    await click(`${row(folder, found[0].inTrash)} .put-back`);
    await until('the put-back message', async () => (await result(folder)) === `${first.path} is back in its place.`);
    const back = join(folder, first.path);
    await until(`${first.path} on disk`, () => existsSync(back) && readFileSync(back, 'utf8') === content(first.path));
    const taken = join(folder, second.path);
    if (!existsSync(taken)) writeFileSync(taken, 'the file at the name now\n');
    const before = readFileSync(taken, 'utf8');
    await click(`${row(folder, found[1].inTrash)} .put-back`);
    const beside = 'report (restored).txt';
    await until('the put-beside message', async () => (await result(folder)) === `${second.path} is taken: put back beside it as ${beside}.`);
    if (readFileSync(join(folder, beside), 'utf8') !== content(second.path)) throw new Error(`${beside} holds the wrong content`);
    if (readFileSync(taken, 'utf8') !== before) throw new Error(`${second.path} was overwritten`);
    await until('the items to leave the list', async () => ours(await listed(folder)).length === 0);
    const left = inTrashFiles(folder).filter((f) => found.some((r) => r.inTrash === f));
    if (left.length) throw new Error(`still in the trash: ${left}`);
    await screenshot('trash-put-back');
  });

  await step('trash: "Empty trash…" asks first; Cancel keeps everything, the confirmation deletes it', async () => {
    const count = (await until('the second folder\'s items', async () => {
      const rows = await listed(folder2);
      return ours(rows).length === items.length ? rows : null;
    })).length;
    const onDisk = inTrashFiles(folder2).length;
    await click(`${card(folder2)} .empty-trash`);
    const question = await text(`${card(folder2)} .trash-confirm-text`);
    if (!question.includes(`${count} files`) || !question.includes('cannot be undone')) throw new Error(`the question reads "${question}"`);
    await screenshot('trash-empty-confirm');
    await click(`${card(folder2)} .trash-confirm-no`);
    await until('the cancelled message', async () => (await result(folder2)) === 'Nothing was deleted.');
    if ((await listed(folder2)).length !== count) throw new Error('Cancel removed items');
    if (inTrashFiles(folder2).length !== onDisk) throw new Error('Cancel removed files');
    await click(`${card(folder2)} .empty-trash`);
    await click(`${card(folder2)} .trash-confirm-yes`);
    await until('the emptied message', async () => (await result(folder2)) === `Deleted ${count} files for good.`);
    await until('the second folder\'s trash to be empty', async () => (await listed(folder2)).length === 0
      && !!(await js('return !!document.querySelector(arguments[0])', `${card(folder2)} .trash-none`)));
    if (inTrashFiles(folder2).length) throw new Error(`files left: ${inTrashFiles(folder2)}`);
    if (existsSync(join(folder2, items[0].path))) throw new Error(`${items[0].path} was put back instead of deleted`);
  });
}
