// Issue 17 item 6, a private page: the wizard and the Connection view say plainly when others
// can view the page (and so download the synced files), and "Make private" restricts it to the
// user. Against the emulator, a second user of the space is then locked out of the page.
//
// Called once from tests/e2e/webdriver.mjs, after the Connection tab step, with its helpers.
// The second user comes from E2E_SECOND_USER (user:password; scripts/gui-test.sh starts the
// emulator with bob:e2e-bob).

export async function privatePage({ step, click, text, js, until, visible, screenshot, CONF, FAKE }) {
  const warning = 'is visible to everyone with access to the space';

  await step('the wizard warned that others can view the page', async () => {
    // The wizard is gone by now; what it showed after the connection was saved stays in the DOM.
    const shown = await js('const e = document.querySelector("#wizard-privacy"); return e ? [e.hidden, e.textContent] : null');
    if (!shown) throw new Error('the wizard has no privacy notice');
    const [hidden, said] = shown;
    if (hidden || !said.includes('Others can see your files') || !said.includes(warning)) {
      throw new Error(`the wizard's notice (hidden: ${hidden}) said: ${said}`);
    }
  });

  await step('the connection view warns that others can see the files', async () => {
    await click('.tab[data-tab=connection]');
    await until('the privacy notice', () => visible('#connection-privacy .make-private'));
    const said = await text('#connection-privacy .privacy-text');
    if (!said.includes(`Page ${CONF.page} ${warning}`) || !said.includes('they can download every file')) {
      throw new Error(`the notice says: ${said}`);
    }
    await screenshot('connection-page-shared');
  });

  await step('Make private restricts the page to the user', async () => {
    await click('#connection-privacy .make-private');
    await until('the page to be private', async () => {
      const said = await text('#connection-privacy .privacy-text');
      return said.includes(`Page ${CONF.page} is private: only you can view and edit it.`);
    });
    if (await visible('#connection-privacy .make-private')) throw new Error('the button is still offered');
    await screenshot('connection-page-private');
  });

  if (!FAKE) {
    const base = CONF.url.replace(/\/+$/, '');
    const get = (who, path) => fetch(`${base}${path}`, {
      headers: { authorization: `Basic ${Buffer.from(who).toString('base64')}`, accept: 'application/json' },
    });
    await step('the emulator restricts the page to the user and locks a second user out', async () => {
      const res = await get(`${CONF.user}:${CONF.secret}`, `/rest/api/content/${CONF.page}/restriction/byOperation`);
      const body = await res.json();
      for (const op of ['read', 'update']) {
        const users = (body[op]?.restrictions?.user?.results || []).map((u) => u.username);
        if (users.join() !== CONF.user) throw new Error(`${op} is restricted to [${users}]`);
      }
      const second = process.env.E2E_SECOND_USER || 'bob:e2e-bob';
      const other = await get(second, `/rest/api/content/${CONF.page}/child/attachment`);
      if (other.status !== 404) throw new Error(`the second user got ${other.status}, not 404`);
      const download = await get(second, `/rest/api/content/${CONF.page}`);
      if (download.status !== 404) throw new Error(`the second user reads the page: ${download.status}`);
    });
  }
}
