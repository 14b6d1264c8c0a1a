// Issue 17 item 4, honest progress, through the real window: a folder card and the status
// pill show files and bytes to go, speed, time left and the file in transfer while a sync
// runs, and say why a folder waits (stalled, files in use, the server's rate limit).
//
// With the fake backend (paced at 400 ms a file) every state is reached on purpose through
// the fake's triggers (a file named STALL, a name containing "in-use", a file named
// RATE_LIMITED). With the real backend and the emulator, big files are added to the first
// folder and its card is watched until they are sent: whatever progress it showed on the way
// must be consistent (never more to go than was written), and it ends without a stale line.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function progressSteps({ step, until, click, text, js, visible, screenshot, type, fake, folder }) {
  const dir = mkdtempSync(join(tmpdir(), 'sber-tunnel-e2e-progress-'));
  const card = `#folder-list .folder[data-path="${dir}"]`;
  const form = '#folders-add-slot .folder-form';
  const cardText = (css) => js('const e = document.querySelector(arguments[0]); return e ? e.textContent : null;', `${card} ${css}`);

  if (fake) {
    // The fake syncs files in name order: the parts ("0…" sorts before "STALL"), then the
    // stall, then the held file.
    for (let i = 1; i <= 9; i += 1) writeFileSync(join(dir, `0-part-${i}.bin`), Buffer.alloc(256 * 1024, i));
    writeFileSync(join(dir, 'STALL'), '');
    writeFileSync(join(dir, 'z-budget in-use.xlsx'), 'open in another program');

    await step('a syncing folder shows what is left, the speed, the time left and the file', async () => {
      await click('.tab[data-tab=folders]');
      await type(`${form} [name=folder-path]`, dir);
      await type(`${form} [name=folder-page]`, '4444');
      await click(`${form} .add`);
      await until('the card', () => visible(card));
      const line = await until('a progress line with a speed and a time left', async () => {
        const t = await cardText('.folder-progress .to-go');
        return t && /^\d+ files?, [\d.]+ (KB|MB) to go · [\d.]+ (KB|MB)\/s · \d+ (s|min)/.test(t) ? t : null;
      });
      const file = await cardText('.folder-progress .current-file');
      if (!/^0-part-\d\.bin$/.test(file || '')) throw new Error(`the file in transfer reads "${file}" (line: ${line})`);
      const bar = await js('return document.querySelector(arguments[0]).getAttribute("aria-valuenow")', `${card} .progress-bar`);
      if (!(Number(bar) > 0 && Number(bar) < 100)) throw new Error(`the bar is at ${bar}%`);
      const pill = await text('#status-text');
      if (!pill.startsWith('Syncing · ') || !pill.includes(' to go')) throw new Error(`the pill says "${pill}"`);
      await screenshot('progress-syncing');
    });

    await step('a sync that stops moving says it is stalled', async () => {
      const why = await until('the stalled line', async () => cardText('.wait-reason[data-kind="stalled"]'));
      if (why !== 'stalled: no progress for 5 min') throw new Error(`the card says "${why}"`);
      await until('the pill to say so', async () => (await text('#status-text')).includes('— stalled: no progress for 5 min'));
      await screenshot('progress-stalled');
    });

    await step('a file held by another program is named after the sync', async () => {
      const why = await until('the in-use line', async () => cardText('.wait-reason[data-kind="files-in-use"]'));
      if (why !== '1 file in use by another program (z-budget in-use.xlsx)') throw new Error(`the card says "${why}"`);
      const left = await cardText('.folder-progress .to-go');
      if (left !== null) throw new Error(`an idle folder still shows progress: ${left}`);
    });

    await step('the server\'s rate limit and the next attempt are shown', async () => {
      writeFileSync(join(dir, 'RATE_LIMITED'), '');
      await click(`${card} .sync`);
      const why = await until('the rate-limit line', async () => cardText('.wait-reason[data-kind="rate-limited"]'));
      if (!/^the server's rate limit, retrying in (1 min( \d+ s)?|\d+ s)$/.test(why)) throw new Error(`the card says "${why}"`);
      const pill = await until('the pill to say so', async () => {
        const t = await text('#status-text');
        return t.startsWith("The server's rate limit, retrying in") ? t : null;
      });
      // The countdown moves without a new status from the backend.
      await until('the countdown to move', async () => (await cardText('.wait-reason[data-kind="rate-limited"]')) !== why);
      await screenshot('progress-rate-limited');
      if (!pill) throw new Error('no pill text');
    });

    await step('the progress folder is removed again', async () => {
      await click(`${card} .remove`);
      await click(`${card} .remove`);
      await until('the card to go', async () => !(await visible(card)));
    });
    return;
  }

  // The real backend against the emulator: big files in the first folder (its page is the
  // emulator's; a third page is not served), synced at once.
  const mainCard = `#folder-list .folder[data-path="${folder}"]`;
  const mainText = (css) => js('const e = document.querySelector(arguments[0]); return e ? e.textContent : null;', `${mainCard} ${css}`);
  const sizes = [3, 5, 8].map((mb) => mb * 1024 * 1024);
  sizes.forEach((n, i) => writeFileSync(join(folder, `big-${i + 1}.bin`), Buffer.alloc(n, i + 1)));
  const written = sizes.reduce((a, b) => a + b, 0);

  await step('a real sync shows consistent progress and ends without a stale line', async () => {
    await click('.tab[data-tab=folders]');
    await click(`${mainCard} .sync`);
    const seen = [];
    await until('the big files to be sent and the folder up to date', async () => {
      const line = await mainText('.folder-progress .to-go');
      if (line) seen.push(line);
      const state = await js('const e = document.querySelector(arguments[0]); return e && e.dataset.state;', mainCard);
      const sent = await js('return [...document.querySelectorAll("#activity-list li .path")].map((e) => e.textContent.trim())');
      return state === 'idle' && sizes.every((_, i) => sent.includes(`big-${i + 1}.bin`));
    });
    for (const line of seen) {
      const m = line.match(/^(\d+) files?, ([\d.]+) (B|KB|MB) to go/);
      if (!m) throw new Error(`a progress line reads "${line}"`);
      const bytes = Number(m[2]) * { B: 1, KB: 1024, MB: 1024 * 1024 }[m[3]];
      // Bytes, not files: the steps before this one (ignore rules, selective sync) can leave
      // a few small files of this folder for the same sync, so the file count may exceed the
      // three written here while their bytes stay far below the margin.
      if (bytes > written * 1.05) throw new Error(`more to go than was written: "${line}"`);
    }
    // It ends without a stale line: the card and the pill drop the progress once nothing
    // syncs. Another sync may start right after this one (the watcher saw the files written
    // before the click) and show its own line while it runs ("0 files, 0 B to go" as it
    // plans): that one is waited out; a line that stays while nothing syncs fails.
    let last = {};
    try {
      await until('the folder idle, no progress line, the pill "Up to date"', async () => {
        const state = await js('const e = document.querySelector(arguments[0]); return e && e.dataset.state;', mainCard);
        last = { state, line: await mainText('.folder-progress'), pill: await text('#status-text') };
        return state === 'idle' && !last.line && last.pill === 'Up to date';
      });
    } catch (e) {
      throw new Error(`${e.message}: the folder is ${last.state}, its card shows "${last.line}", the pill "${last.pill}"`);
    }
    await screenshot('progress-real-done');
  });
}
