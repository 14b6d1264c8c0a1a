// End-to-end test of the real desktop app over WebDriver (tauri-driver + WebKitWebDriver), with
// the fake backend: first-run wizard, add a folder, watch the folder and activity lists update,
// pause and resume, visit every tab. Plain `fetch`, no npm dependency. Screenshots of each
// screen go to $E2E_SCREENSHOTS (default target/e2e-screenshots). Prints "N passed, M failed".
//
// usage: node tests/e2e/webdriver.mjs /abs/path/to/sber-tunnel
//
// The connection typed into the wizard comes from the environment, so the same scenario runs
// against the fake backend (the defaults) or the real one and the Confluence emulator:
//   E2E_URL, E2E_USER, E2E_SECRET, E2E_WRONG_SECRET, E2E_PAGE, E2E_PAGE2 (the second folder's
//   page), and E2E_FAKE=0 for a real backend
//   (then fake-only checks are skipped, the files are looked for on the emulator's pages, the
//   command line (`--cli status/pause/resume`) is pointed at the running app, and the last
//   step quits the app with `--cli stop`).

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { selectiveSteps } from './steps/selective.mjs';
import { citizenSteps } from './steps/citizen.mjs';
import { progressSteps } from './steps/progress.mjs';
import { conflictSteps } from './steps/conflicts.mjs';
import { privatePage } from './steps/private.mjs';
import { ignoreSteps } from './steps/ignore.mjs';
import { i18nSteps } from './steps/i18n.mjs';
import { unstorableSteps } from './steps/unstorable.mjs';
import { i18nCliSteps } from './steps/i18n-cli.mjs';
import { versionsSteps } from './steps/versions.mjs';
import { trashSteps } from './steps/trash.mjs';

const DRIVER = process.env.WEBDRIVER_URL || 'http://127.0.0.1:4444';
const APP = resolve(process.argv[2] || 'target/debug/sber-tunnel');
const SHOTS = resolve(process.env.E2E_SCREENSHOTS || 'target/e2e-screenshots');
const WAIT_MS = 15000; // the longest a step may take before it fails
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

const CONF = {
  url: process.env.E2E_URL || 'https://wiki.example.com/confluence',
  user: process.env.E2E_USER || 'alice',
  secret: process.env.E2E_SECRET || 'correct horse',
  wrongSecret: process.env.E2E_WRONG_SECRET || 'wrong', // the fake refuses exactly this one
  page: process.env.E2E_PAGE || '4242',
  // The second folder's own page (the emulator serves it; the fake accepts any number).
  page2: process.env.E2E_PAGE2 || '4343',
};
const FAKE = (process.env.E2E_FAKE ?? '1') !== '0';

mkdirSync(SHOTS, { recursive: true });

async function wd(method, path, body) {
  const response = await fetch(`${DRIVER}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) {
    const v = json.value || {};
    throw new Error(`${method} ${path}: ${v.error || response.status} ${v.message || ''}`);
  }
  return json.value;
}

let session;
const s = (path) => `/session/${session}${path}`;

async function find(css) {
  const el = await wd('POST', s('/element'), { using: 'css selector', value: css });
  if (!el[ELEMENT]) throw new Error(`no element id in ${JSON.stringify(el)}`);
  return el[ELEMENT];
}
async function findAll(css) {
  const els = await wd('POST', s('/elements'), { using: 'css selector', value: css });
  return els.map((e) => e[ELEMENT]);
}
// What stands in the way of clicking `css`: its box, what is at its centre, open dialogs.
async function whyNotInteractable(css) {
  return JSON.stringify(await js(`
    const el = document.querySelector(arguments[0]);
    if (!el) return { missing: true };
    const r = el.getBoundingClientRect();
    const at = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
    return {
      rect: [Math.round(r.x), Math.round(r.y), Math.round(r.width), Math.round(r.height)],
      viewport: [innerWidth, innerHeight],
      disabled: !!el.disabled, inert: !!el.closest('[inert]'),
      atCentre: at ? at.tagName + '#' + at.id + '.' + at.className : null,
      openDialogs: [...document.querySelectorAll('dialog[open]')].map((d) => d.id || d.className),
    };`, css));
}

// Clicks what `css` names now: the status a sync pushes can redraw part of the screen between
// finding an element and clicking it, so a stale reference is looked up again (a few times).
async function click(css) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await wd('POST', s(`/element/${await find(css)}/click`), {});
      return;
    } catch (e) {
      if (/not interactable/.test(e.message)) throw new Error(`${e.message} ${await whyNotInteractable(css)}`);
      if (attempt >= 3 || !/stale element/.test(e.message)) throw e;
    }
  }
}
async function type(css, text) {
  const id = await find(css);
  await wd('POST', s(`/element/${id}/clear`), {});
  await wd('POST', s(`/element/${id}/value`), { text });
}
// textContent through script: WebKitWebDriver's rendered-text atom returns "" for elements with
// `overflow: hidden` + ellipsis, which the UI uses for long names.
async function text(css) {
  await find(css); // fails clearly when the element is missing
  return js('return document.querySelector(arguments[0]).textContent.trim()', css);
}
async function texts(css) {
  return js('return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent.trim())', css);
}
async function js(script, ...args) { return wd('POST', s('/execute/sync'), { script, args }); }
async function select(css, value) {
  await js('const e = document.querySelector(arguments[0]); e.value = arguments[1]; e.dispatchEvent(new Event("change"));', css, value);
}

/** Poll `probe` until it returns a truthy value; fail with `what` after WAIT_MS. */
async function until(what, probe) {
  const deadline = Date.now() + WAIT_MS;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (last) return last;
    } catch (e) {
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

async function visible(css) {
  return js('const e = document.querySelector(arguments[0]); return !!e && e.offsetParent !== null;', css);
}

let shot = 0;
async function screenshot(name) {
  // The compositor may lag the DOM by a frame or two; give it a moment before the picture.
  await new Promise((r) => setTimeout(r, 400));
  shot += 1;
  const png = await wd('GET', s('/screenshot'));
  const file = join(SHOTS, `${String(shot).padStart(2, '0')}-${name}.png`);
  writeFileSync(file, Buffer.from(png, 'base64'));
}

// ---- the scenario --------------------------------------------------------------------------

const folder = mkdtempSync(join(tmpdir(), 'sber-tunnel-e2e-'));
const folder2 = mkdtempSync(join(tmpdir(), 'sber-tunnel-e2e-second-'));
writeFileSync(join(folder2, 'second.txt'), 'a file of the second folder\n');
writeFileSync(join(folder, 'report.txt'), 'quarterly numbers\n');
writeFileSync(join(folder, 'photo.jpg'), Buffer.alloc(48 * 1024, 7));
writeFileSync(join(folder, 'plan conflict.md'), '# plan\n');

const results = [];
async function step(name, fn) {
  try {
    // A dialog a failed step left open (or that opened late, after its step gave up) is modal:
    // it would fail every later step too. Right after a failed step, close such leftovers
    // first, so the report names the step that failed, not the dozen after it. Only then:
    // later steps may hand an open dialog on to the next on purpose (the Versions steps).
    const previous = results[results.length - 1];
    if (previous && previous[1]) {
      await js("document.querySelectorAll('dialog[open]').forEach((d) => d.close()); return true")
        .catch(() => { /* no window to clean up */ });
    }
    await fn();
    results.push([name, null]);
    console.log(`ok   ${name}`);
  } catch (e) {
    results.push([name, e]);
    console.log(`FAIL ${name}: ${e.message}`);
    try { await screenshot(`failed-${name.replace(/\W+/g, '-')}`); } catch { /* no picture */ }
    if (results.filter(([, err]) => err).length === 1) dumpAppThreads(name);
  }
}

/**
 * After the first failed step: what every thread of the app was doing (gdb, when installed),
 * next to the screenshots — a step that times out because the app hangs says where it hangs.
 */
function dumpAppThreads(name) {
  try {
    const pids = execFileSync('pgrep', ['-f', '-d', ' ', `^${APP}( |$)`], { encoding: 'utf8' }).trim();
    const pid = pids.split(' ').filter(Boolean).pop();
    if (!pid) return;
    const out = execFileSync('gdb', ['-p', pid, '-batch', '-ex', 'thread apply all bt 30'],
      { encoding: 'utf8', timeout: 60000, stdio: ['ignore', 'pipe', 'pipe'] });
    const file = join(SHOTS, `app-threads-after-${name.replace(/\W+/g, '-')}.txt`);
    writeFileSync(file, out);
    console.log(`     the app's threads (pid ${pid}) at that moment: ${file}`);
  } catch (e) {
    console.log(`     (no thread dump of the app: ${e.message.split('\n')[0]})`);
  }
}

async function run() {
  session = (await wd('POST', '/session', {
    capabilities: { alwaysMatch: { 'tauri:options': { application: APP } } },
  })).sessionId;

  await step('the first run opens the wizard', async () => {
    await until('the window to be ready', () => js('return document.body.dataset.ready === "true"'));
    await until('the wizard', () => visible('#wizard'));
    await screenshot('wizard-welcome');
  });

  await step('a wrong password shows the precise error', async () => {
    await click('#wizard-start');
    const form = '#wizard .connection-form';
    await type(`${form} [name=url]`, CONF.url);
    await select(`${form} [name=auth]`, 'password');
    await type(`${form} [name=username]`, CONF.user);
    await type(`${form} [name=secret]`, CONF.wrongSecret);
    await type(`${form} [name=page_id]`, CONF.page);
    await click(`${form} .test`);
    const shown = await until('an error', async () => {
      const t = await text(`${form} .result`);
      return t.includes('refused') ? t : null;
    });
    if (!/password/i.test(shown)) throw new Error(`the error does not name the password: ${shown}`);
    await screenshot('wizard-wrong-password');
  });

  await step('a working connection is saved and the wizard moves on', async () => {
    const form = '#wizard .connection-form';
    await type(`${form} [name=secret]`, CONF.secret);
    await click(`${form} .save`);
    await until('the folder step', () => visible('#wizard .folder-form'));
    await screenshot('wizard-folder-step');
  });

  await step('adding a folder opens the main window with it', async () => {
    await type('#wizard [name=folder-path]', folder);
    await click('#wizard .folder-form .add');
    await until('the folder list', () => visible(`#folder-list .folder[data-path="${folder}"]`));
  });

  await step('the folder finishes its first sync', async () => {
    await until('the folder to be up to date', async () => {
      const last = await text(`#folder-list .folder[data-path="${folder}"] .last-sync`);
      const state = await js(`return document.querySelector('#folder-list .folder').dataset.state`);
      return state === 'idle' && !last.includes('never');
    });
    await until('the status pill to say so', async () => (await text('#status-text')).includes('Up to date'));
    const watch = await text(`#folder-list .folder[data-path="${folder}"] .watch`);
    if (watch !== 'Local changes seen at once') throw new Error(`the card says "${watch}"`);
    await screenshot('folders');
  });

  await step('the activity list shows the sent files and the conflict', async () => {
    await click('.tab[data-tab=activity]');
    const paths = await until('three entries', async () => {
      const all = await texts('#activity-list li .path');
      return all.length >= 3 ? all : null;
    });
    for (const want of ['report.txt', 'photo.jpg', 'plan conflict.md']) {
      if (!paths.includes(want)) throw new Error(`${want} is not in the activity list: ${paths}`);
    }
    const conflicts = await findAll('#conflict-list .conflict-item');
    const expected = FAKE ? 1 : 0; // the fake reports files named "…conflict…" as conflicts
    if (conflicts.length !== expected) throw new Error(`expected ${expected} conflicts, saw ${conflicts.length}`);
    await screenshot('activity');
  });

  await step('pause and resume a folder', async () => {
    await click('.tab[data-tab=folders]');
    const card = `#folder-list .folder[data-path="${folder}"]`;
    await click(`${card} .pause`);
    await until('the paused badge', async () => (await text(`${card} .state`)) === 'Paused');
    await until('the pill to say paused', async () => (await js('return document.querySelector("#status-pill").dataset.state')) === 'paused');
    await until('the resume button', async () => (await text(`${card} .pause`)) === 'Resume');
    await screenshot('folder-paused');
    await click(`${card} .pause`);
    await until('the folder to run again', async () => {
      const state = await js(`return document.querySelector(arguments[0]).dataset.state`, card);
      return state === 'idle' || state === 'syncing';
    });
    await until('the pause button', async () => (await text(`${card} .pause`)) === 'Pause');
  });

  await step('new files sync after Sync now, with live progress', async () => {
    writeFileSync(join(folder, 'later.txt'), 'written after the first sync\n');
    for (let i = 1; i <= 4; i += 1) writeFileSync(join(folder, `batch-${i}.dat`), Buffer.alloc(64 * 1024, i));
    await click('.tab[data-tab=activity]');
    await click('#sync-all');
    if (FAKE) {
      // The fake paces its transfers, so the live view can be caught; a real sync of 5 small
      // files may finish before any poll sees it.
      await until('a live transfer with a progress bar', () => visible('#transfer-list .transfer .bar'));
      await until('some progress', async () => (await text('#transfer-list .transfer-head .muted')).match(/^[1-9]\d* of 5 files/));
      await screenshot('activity-transfer');
    }
    await until('later.txt in the activity list', async () => (await texts('#activity-list li .path')).includes('later.txt'));
    await until('the transfer to end', async () => (await texts('#transfer-list .transfer')).length === 0);
  });

  await step('a second folder on its own page syncs too', async () => {
    await click('.tab[data-tab=folders]');
    const form = '#folders-add-slot .folder-form';
    await type(`${form} [name=folder-path]`, folder2);
    await type(`${form} [name=folder-page]`, CONF.page2);
    await click(`${form} .add`);
    const card = `#folder-list .folder[data-path="${folder2}"]`;
    await until('the second folder in the list', () => visible(card));
    await until('both folders to be up to date', async () => {
      const states = await js('return [...document.querySelectorAll("#folder-list .folder")].map((f) => f.dataset.state)');
      const last = await text(`${card} .last-sync`);
      return states.length === 2 && states.every((st) => st === 'idle') && !last.includes('never');
    });
    await screenshot('two-folders');
  });

  await selectiveSteps({ step, click, text, until, js, screenshot, folder, FAKE });
  await ignoreSteps({ step, click, type, text, until, js, screenshot, folder });
  await progressSteps({ step, until, click, text, texts, js, visible, screenshot, type, fake: FAKE, folder });
  await unstorableSteps({ step, until, click, type, js, visible, screenshot, fake: FAKE });

  if (!FAKE) {
    const attachments = async (page) => {
      const auth = Buffer.from(`${CONF.user}:${CONF.secret}`).toString('base64');
      const res = await fetch(`${CONF.url.replace(/\/+$/, '')}/rest/api/content/${page}/child/attachment?limit=200`, {
        headers: { authorization: `Basic ${auth}`, accept: 'application/json' },
      });
      const body = await res.json();
      if (!res.ok || !(body.results || []).length) throw new Error(`no attachments on page ${page}: ${res.status}`);
      return body.results;
    };
    await step('the files of both folders reached their Confluence pages', async () => {
      await attachments(CONF.page);
      const second = await until('the second page to hold the second folder', async () => {
        try { return await attachments(CONF.page2); } catch { return null; }
      });
      // Remote format 2: the file list is stored in snapshot parts named s-<sha256>.json.
      if (!second.some((a) => /^s-[0-9a-f]{64}\.json$/.test(a.title))) {
        throw new Error(`page ${CONF.page2} has no file list: ${second.map((a) => a.title)}`);
      }
    });
  }

  await step('the connection tab shows the saved connection without its secret', async () => {
    await click('.tab[data-tab=connection]');
    const url = await js('return document.querySelector("#connection-slot [name=url]").value');
    if (url !== CONF.url.replace(/\/+$/, '')) throw new Error(`url is ${url}`);
    const secret = await js('return document.querySelector("#connection-slot [name=secret]").value');
    if (secret !== '') throw new Error('the secret came back to the UI');
    await screenshot('connection');
  });
  await privatePage({ step, click, text, js, until, visible, screenshot, CONF, FAKE });

  await step('settings save and the about box shows the version', async () => {
    await click('.tab[data-tab=settings]');
    await type('#settings-form [name=poll_interval_secs]', '90');
    await type('#settings-form [name=upload_limit_kib_per_sec]', '2048');
    await click('#settings-save');
    await until('saved', async () => (await text('#settings-result')) === 'Saved.');
    const about = await text('#about-version');
    if (!/\d+\.\d+\.\d+/.test(about) || !about.includes('MIT')) throw new Error(`about says ${about}`);
    await screenshot('settings');
  });

  await step('after a reload the settings and the activity history are still there', async () => {
    // Saving settings restarted the sync engine; a reload rebuilds the window from the backend,
    // so what it shows came from where it is kept (the journal, with the real backend).
    // The old page answers "ready" until the reload replaces it: wait for a new document.
    await js('window.__beforeReload = true; location.reload()');
    await until('the window to be ready again', () =>
      js('return !window.__beforeReload && document.body.dataset.ready === "true"'));
    await click('.tab[data-tab=settings]');
    const limit = await until('the upload limit', async () => {
      const v = await js('return document.querySelector("#settings-form [name=upload_limit_kib_per_sec]").value');
      return v || null;
    });
    if (limit !== '2048') throw new Error(`the upload limit reads ${limit}`);
    await click('.tab[data-tab=activity]');
    const paths = await until('the history', async () => {
      const all = await texts('#activity-list li .path');
      return all.includes('report.txt') && all.includes('second.txt') ? all : null;
    });
    await screenshot('activity-history');
    if (!paths.includes('later.txt')) throw new Error(`later.txt is not in the history: ${paths}`);
  });

  await i18nSteps({ step, click, text, js, until, select, screenshot });
  await i18nCliSteps({ step, click, text, js, until, select, screenshot });
  await citizenSteps({ step, click, type, text, texts, js, until, visible, select, screenshot, FAKE, CONF });
  await conflictSteps({ step, find, findAll, click, type, text, texts, js, until, visible, screenshot, FAKE, CONF, APP, folder });
  await versionsSteps({ step, click, type, text, texts, js, until, screenshot, FAKE, APP, folder });
  await trashSteps({ step, click, text, js, until, screenshot, FAKE, folder, folder2 });

  if (!FAKE) {
    // The app hosts the sync service the command line talks to (same HOME, same configuration).
    const cli = (...args) => execFileSync(APP, ['--cli', ...args], { cwd: process.env.HOME, encoding: 'utf8', timeout: 60000 });
    const pill = () => js('return document.querySelector("#status-pill").dataset.state');
    await step('the command line sees and steers the service inside the app', async () => {
      const status = JSON.parse(cli('status', '--json'));
      if (!status.service) throw new Error('`status` did not reach the running app');
      if (status.folders.length !== 2) throw new Error(`status lists ${status.folders.length} folders`);
      cli('pause');
      await until('the window to show the pause from the command line', async () => (await pill()) === 'paused');
      cli('resume');
      await until('the window to show the resume', async () => (await pill()) !== 'paused');
    });

    await step('`sber-tunnel stop` quits the app', async () => {
      const out = cli('stop');
      if (!out.includes('Sync service stopped.')) throw new Error(`stop said: ${out}`);
      // `stop` returns once the lock is let go, which the app does after leaving its event loop.
      const running = () => {
        try {
          execFileSync('pgrep', ['-f', `^${APP}( |$)`]);
          return true;
        } catch {
          return false;
        }
      };
      await until('the app process to end', () => !running());
      session = null;
    });
  }
}

try {
  await run();
} catch (e) {
  results.push(['session', e]);
  console.log(`FAIL session: ${e.message}`);
} finally {
  if (session) await wd('DELETE', `/session/${session}`).catch(() => {});
}
const failed = results.filter(([, e]) => e).length;
console.log(`screenshots in ${SHOTS}`);
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
