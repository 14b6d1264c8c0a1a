// Selective sync through the real UI (issue 17 item 1): "Choose folders…" on a folder card
// shows the page's subfolders as checkboxes; unchecking one keeps it off this computer (with
// the real backend its files leave the disk at the sync "Done" starts, and stay on the page);
// checking it again brings it back.
//
// Called from webdriver.mjs with its helpers and the scenario's folder.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export async function selectiveSteps({ step, click, text, until, js, screenshot, folder, FAKE }) {
  const card = `#folder-list .folder[data-path="${folder}"]`;
  const dialog = '#choose-folders';
  const box = (path) => `${dialog} input.choose[data-path="${path}"]`;
  const row = (path) => `${dialog} .chooser-row[data-path="${path}"]`;
  // A modal <dialog> sits in the top layer (no offsetParent): ask whether it is open.
  const visible = (css) => js('return !!document.querySelector(arguments[0])?.open', css);
  // Click "Choose folders…" and give the dialog 3 s to open; false when it did not (a click
  // that lands while the card is redrawn by a status update is lost: the caller, inside an
  // `until`, clicks again — one click waited on for the whole step failed CI twice).
  const opened = async () => {
    if (await visible(dialog)) return true;
    await click(`${card} .choose-folders`);
    for (let i = 0; i < 30; i += 1) {
      if (await visible(dialog)) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  };
  const idle = async () => {
    const state = await js('return document.querySelector(arguments[0]).dataset.state', card);
    return state === 'idle';
  };

  await step('choose folders: the page\'s subfolders are listed as checkboxes', async () => {
    mkdirSync(join(folder, 'Big', 'inner'), { recursive: true });
    writeFileSync(join(folder, 'Big', 'movie.bin'), Buffer.alloc(96 * 1024, 3));
    writeFileSync(join(folder, 'Big', 'inner', 'notes.txt'), 'inside an excluded folder\n');
    mkdirSync(join(folder, 'Keep'), { recursive: true });
    writeFileSync(join(folder, 'Keep', 'k.txt'), 'stays here\n');
    await click('.tab[data-tab=folders]');
    await click(`${card} .sync`);
    // The list is the page's (with the real backend, once the sync has sent them): open the
    // chooser until it shows them.
    await until('Big, Big/inner and Keep in the chooser', async () => {
      if (!(await opened())) return null;
      const paths = await js(`return [...document.querySelectorAll('${dialog} .chooser-row')].map((r) => r.dataset.path)`);
      if (['Big', 'Big/inner', 'Keep'].every((p) => paths.includes(p))) return paths;
      await js('document.querySelector(arguments[0]).close()', dialog);
      return null;
    });
    const checked = await js('return document.querySelector(arguments[0]).checked', box('Big'));
    if (!checked) throw new Error('Big should start checked (nothing excluded)');
    const size = await text(`${row('Big')} .chooser-size`);
    if (!size.startsWith('2 files')) throw new Error(`Big's size reads "${size}"`);
    await screenshot('choose-folders');
  });

  await step('choose folders: unchecking a folder excludes it and everything inside', async () => {
    await click(box('Big'));
    await until('Big to be excluded', async () =>
      (await js('return document.querySelector(arguments[0]).dataset.excluded', row('Big'))) === 'true');
    await until('Big/inner to go with it', async () =>
      (await js('return document.querySelector(arguments[0]).dataset.excluded', row('Big/inner'))) === 'true');
    const keep = await js('return document.querySelector(arguments[0]).checked', box('Keep'));
    if (!keep) throw new Error('Keep must stay checked');
    await until('the result line', async () => (await text(`${dialog} .result`)).includes('will leave this computer'));
    await screenshot('choose-folders-excluded');
    await click(`${dialog} .chooser-done`);
    await until('the chooser to close', async () => !(await visible(dialog)));
    if (!FAKE) {
      await until('Big to leave this computer', () => !existsSync(join(folder, 'Big', 'movie.bin')));
      if (!existsSync(join(folder, 'Keep', 'k.txt'))) throw new Error('Keep/k.txt left too');
    }
  });

  await step('choose folders: checking it again brings it back', async () => {
    await until('the folder to be idle', idle);
    await until('the chooser', opened);
    await until('Big unchecked', async () =>
      (await js('return document.querySelector(arguments[0])?.checked', box('Big'))) === false);
    await click(box('Big'));
    await until('Big to be included', async () =>
      (await js('return document.querySelector(arguments[0]).dataset.excluded', row('Big'))) === 'false');
    await click(`${dialog} .chooser-done`);
    await until('the chooser to close', async () => !(await visible(dialog)));
    if (!FAKE) {
      await until('Big to come back', () => existsSync(join(folder, 'Big', 'inner', 'notes.txt')));
    }
    await until('the folder to be idle', idle);
  });
}
