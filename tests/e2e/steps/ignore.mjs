// Ignore rules through the real UI (issue 17 item 2): "Ignore rules…" on a folder card opens
// an editor of the folder's .sbtignore; a preset checkbox adds its lines, "Preview" lists the
// existing files the text would newly exclude before anything is saved, "Save" writes the
// file. Settings opens the same editor for the global patterns.
//
// Called from webdriver.mjs with its helpers and the scenario's folder.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export async function ignoreSteps({ step, click, type, text, until, js, screenshot, folder }) {
  const card = `#folder-list .folder[data-path="${folder}"]`;
  const dialog = '#ignore-rules';
  const open = () => js('return !!document.querySelector(arguments[0])?.open', dialog);
  const value = () => js('return document.querySelector(arguments[0]).value', `${dialog} .ignore-text`);
  const rulesFile = join(folder, '.sbtignore');
  const close = async () => {
    await click(`${dialog} .ignore-cancel`);
    await until('the editor to close', async () => !(await open()));
  };

  await step('ignore rules: a preset, previewed before it is saved', async () => {
    mkdirSync(join(folder, 'proj', 'build'), { recursive: true });
    writeFileSync(join(folder, 'proj', 'build', 'app.bin'), Buffer.alloc(4096, 7));
    writeFileSync(join(folder, 'proj', 'main.c'), 'int main(void) { return 0; }\n');
    await click('.tab[data-tab=folders]');
    await click(`${card} .ignore-rules`);
    await until('the rule editor', open);
    await click(`${dialog} input.ignore-preset[data-name="build"]`);
    await until('the preset\'s lines in the text', async () => (await value()).split('\n').includes('build/'));
    if (existsSync(rulesFile)) throw new Error('nothing is saved before Save');
    await click(`${dialog} .ignore-preview`);
    await until('proj/build/ among the newly excluded', async () =>
      (await text(`${dialog} .ignore-preview-out`)).includes('proj/build/'));
    const listed = await text(`${dialog} .ignore-preview-out`);
    if (listed.includes('proj/main.c')) throw new Error(`main.c is not excluded: ${listed}`);
    await screenshot('ignore-preview');
    await click(`${dialog} .ignore-save`);
    await until('saved', async () => (await text(`${dialog} .result`)).includes('Saved'));
    await until('the .sbtignore on disk', () =>
      existsSync(rulesFile) && readFileSync(rulesFile, 'utf8').split('\n').includes('build/'));
  });

  await step('ignore rules: unchecking the preset takes its lines out again', async () => {
    await click(`${dialog} input.ignore-preset[data-name="build"]`);
    await until('the preset\'s lines gone', async () => !(await value()).includes('build/'));
    await click(`${dialog} .ignore-preview`);
    await until('proj/build/ among the newly included', async () =>
      (await text(`${dialog} .ignore-preview-out`)).includes('Newly included'));
    await click(`${dialog} .ignore-save`);
    await until('the empty rules removed the file', () => !existsSync(rulesFile));
    await close();
  });

  await step('ignore rules: the global patterns from Settings', async () => {
    writeFileSync(join(folder, 'scratch.ignoreme'), 'scratch\n');
    await click('.tab[data-tab=settings]');
    await click('#open-ignore-global');
    await until('the global editor', async () =>
      (await open()) && (await js('return document.querySelector(arguments[0]).dataset.folder', dialog)) === '');
    await type(`${dialog} .ignore-text`, '*.ignoreme\n');
    await click(`${dialog} .ignore-preview`);
    await until('scratch.ignoreme among the newly excluded', async () =>
      (await text(`${dialog} .ignore-preview-out`)).includes('scratch.ignoreme'));
    await screenshot('ignore-global-preview');
    await close();
    await click('.tab[data-tab=folders]');
  });
}
