// Issue 14 item 4, through the real window: names from other devices that this computer
// cannot store (Windows' reserved names and the like) are listed on the folder's card with
// why, in the window's language. The fake backend treats a name containing "cannot-store" as
// such a name; with the real backend the same list comes from the service's status (the CLI
// test tests/cli/names.rs checks that the running service carries it).

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function unstorableSteps({ step, until, click, type, js, visible, screenshot, fake }) {
  if (!fake) return;
  const dir = mkdtempSync(join(tmpdir(), 'sber-tunnel-e2e-unstorable-'));
  writeFileSync(join(dir, 'CON cannot-store.txt'), 'a name Windows refuses');
  writeFileSync(join(dir, 'fine.txt'), 'stored');
  const card = `#folder-list .folder[data-path="${dir}"]`;
  const form = '#folders-add-slot .folder-form';
  const read = (css) => js('const e = document.querySelector(arguments[0]); return e ? e.textContent : null;', css);

  await step('names this computer cannot store are listed on the card with why', async () => {
    await click('.tab[data-tab=folders]');
    await type(`${form} [name=folder-path]`, dir);
    await type(`${form} [name=folder-page]`, '5555');
    await click(`${form} .add`);
    await until('the card', () => visible(card));
    const line = await until('the line about names not stored', () => read(`${card} .folder-unstorable summary`));
    const want = '1 name from other devices cannot be stored on this computer (left on the page and the other devices)';
    if (line !== want) throw new Error(`the card says "${line}"`);
    await click(`${card} .folder-unstorable summary`);
    const item = await until('the name with its reason', () => read(`${card} .folder-unstorable li[data-kind="reserved-device-name"]`));
    if (item !== 'CON cannot-store.txt — a device name Windows reserves') throw new Error(`the list says "${item}"`);
    await screenshot('unstorable-names');
  });

  await step('the unstorable folder is removed again', async () => {
    await click(`${card} .remove`);
    await click(`${card} .remove`);
    await until('the card to go', async () => !(await visible(card)));
  });
}
