// WebDriver steps of the conflict centre (issue 17 item 3), called once from webdriver.mjs with
// its helpers. With the fake backend: a conflict copy named by the real rule is put beside its
// file, the Conflicts tab lists both versions (mine/theirs, device, size) with the unresolved
// count on the tab, and "Keep theirs" puts the other version at the name. Against the emulator:
// a second device (the command line with its own configuration) edits a file while the app is
// paused and edits it too, so the app makes a real conflict copy; the tab shows the app's own
// edit as "mine", "Keep mine" takes the name back, and the second device converges on it.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

export async function conflictSteps(t) {
  const { step, click, text, texts, js, until, visible, screenshot, FAKE, CONF, APP, folder } = t;
  const badge = () => js('const e = document.querySelector("#unresolved-count"); return e.hidden ? "" : e.textContent');
  const cards = () => js('return [...document.querySelectorAll("#unresolved-list .conflict-card")].map((c) => c.dataset.copy)');
  const side = (label, field) => text(`#unresolved-list .conflict-card .conflict-version.${label} .${field}`);

  if (FAKE) {
    const copy = 'budget (conflict from laptop 2026-11-23 101500).txt';
    await step('the Conflicts tab lists both versions of a conflict with its count', async () => {
      writeFileSync(join(folder, 'budget.txt'), 'my numbers\n');
      writeFileSync(join(folder, copy), "the laptop's numbers, longer\n");
      await click('#sync-all'); // the list is read again when the sync ends
      await until('the count on the tab', async () => (await badge()) === '1');
      await click('.tab[data-tab=conflicts]');
      await until('the conflict card', async () => (await cards()).includes(copy));
      if ((await side('mine', 'device')) !== 'this-computer') throw new Error(`mine is from ${await side('mine', 'device')}`);
      if ((await side('theirs', 'device')) !== 'laptop') throw new Error(`theirs is from ${await side('theirs', 'device')}`);
      if ((await side('theirs', 'size')) !== '29 B') throw new Error(`theirs is ${await side('theirs', 'size')}`);
      if (!(await visible('#unresolved-list .conflict-card .keep-both'))) throw new Error('no Keep both button');
      await screenshot('conflicts');
    });
    await step('Keep theirs puts the other version at the name and clears the count', async () => {
      await until('the sync to end', async () => (await js('return document.querySelector("#status-pill").dataset.state')) === 'idle');
      await click('#unresolved-list .conflict-card .keep-theirs');
      await until('the list to empty', async () => (await cards()).length === 0);
      await until('the count to go', async () => (await badge()) === '');
      const now = readFileSync(join(folder, 'budget.txt'), 'utf8');
      if (now !== "the laptop's numbers, longer\n") throw new Error(`budget.txt holds ${now}`);
      if (existsSync(join(folder, copy))) throw new Error('the copy is still there');
      if ((await texts('#unresolved-list .empty')).length !== 1) throw new Error('no empty-list line');
      await screenshot('conflicts-resolved');
    });
    return;
  }

  // The real backend: the app's own configuration is in $HOME; the second device has its own.
  const app = (...args) => execFileSync(APP, ['--cli', ...args], { cwd: process.env.HOME, encoding: 'utf8', timeout: 60000 });
  const otherConfig = mkdtempSync(join(tmpdir(), 'sber-tunnel-e2e-other-config-'));
  const otherFolder = mkdtempSync(join(tmpdir(), 'sber-tunnel-e2e-other-'));
  const other = (...args) => execFileSync(APP, ['--cli', '--config-dir', otherConfig, ...args], {
    encoding: 'utf8',
    timeout: 60000,
    env: { ...process.env, SBER_TUNNEL_PASSWORD: CONF.secret },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const copiesIn = (dir) => readdirSync(dir).filter((n) => n.startsWith('report (conflict from '));
  let appDevice;
  let otherDevice;

  await step('a second device and the paused app edit one file: the app lists a real conflict', async () => {
    appDevice = JSON.parse(app('status', '--json')).device;
    other('init', '--url', CONF.url, '--username', CONF.user, '--page-id', CONF.page);
    other('add', otherFolder);
    other('sync');
    otherDevice = JSON.parse(other('status', '--json')).device;
    if (readFileSync(join(otherFolder, 'report.txt'), 'utf8') !== 'quarterly numbers\n') throw new Error('the second device did not get report.txt');
    app('pause');
    await until('the app to be paused', async () => (await js('return document.querySelector("#status-pill").dataset.state')) === 'paused');
    writeFileSync(join(folder, 'report.txt'), 'edited in the app\n');
    await pause(1100); // the other edit is later by the clock: it wins the name
    writeFileSync(join(otherFolder, 'report.txt'), 'edited on the other device, later\n');
    other('sync');
    app('resume');
    await click('#sync-all');
    await until('the count on the tab', async () => (await badge()) === '1');
    await click('.tab[data-tab=conflicts]');
    await until('the conflict card', async () => (await cards()).length === 1);
    if (copiesIn(folder).length !== 1) throw new Error(`copies here: ${copiesIn(folder)}`);
    if ((await side('mine', 'device')) !== appDevice) throw new Error(`mine is from ${await side('mine', 'device')}, the app is ${appDevice}`);
    if ((await side('theirs', 'device')) !== otherDevice) throw new Error(`theirs is from ${await side('theirs', 'device')}`);
    await screenshot('conflicts');
  });

  await step('Keep mine takes the name back and the other device converges', async () => {
    await until('the sync to end', async () => (await js('return document.querySelector("#status-pill").dataset.state')) === 'idle');
    await click('#unresolved-list .conflict-card .keep-mine');
    await until('the list to empty', async () => (await cards()).length === 0 && (await badge()) === '');
    const here = readFileSync(join(folder, 'report.txt'), 'utf8');
    if (here !== 'edited in the app\n') throw new Error(`report.txt holds ${here}`);
    if (copiesIn(folder).length) throw new Error(`the copy is still here: ${copiesIn(folder)}`);
    await until('the other device to hold the kept version', async () => {
      other('sync');
      return readFileSync(join(otherFolder, 'report.txt'), 'utf8') === 'edited in the app\n'
        && copiesIn(otherFolder).length === 0;
    });
    const left = JSON.parse(other('conflicts', '--json')).conflicts;
    if (left.length) throw new Error(`the other device still lists ${JSON.stringify(left)}`);
    await screenshot('conflicts-resolved');
  });
}
