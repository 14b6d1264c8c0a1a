// Issue 17, item 7 through the real UI: the Page usage panel shows what each folder's page holds
// and what garbage collection would free, and a personal access token that expires soon puts a
// banner on the window (the fake's token always expires in 5 days; the emulator's is given to it
// with --expiring-token and reaches the scenario as E2E_PAT). The token step switches the
// connection to the token and back to the password, so the steps after it run as before.
//
// Called from webdriver.mjs with its helpers: { step, click, type, text, texts, js, until,
// visible, select, screenshot, FAKE, CONF }.

export async function citizenSteps(t) {
  const { step, click, type, text, texts, js, until, visible, select, screenshot, FAKE, CONF } = t;

  await step('the page usage panel shows what the pages hold and what gc would free', async () => {
    await click('.tab[data-tab=folders]');
    await click('#usage-refresh');
    const rows = await until('a row per folder', async () => {
      const all = await texts('#usage-list .usage-folder');
      return all.length >= 2 ? all : null;
    });
    for (const r of rows) {
      if (!r.includes('Attachments') || !r.includes('Garbage collection would free')) {
        throw new Error(`a usage row lacks its figures: ${r}`);
      }
    }
    const attachments = await texts('#usage-list .usage-folder .usage-row:first-of-type b');
    if (!attachments.every((a) => /^[1-9]\d* \(/.test(a))) {
      throw new Error(`every synced page holds attachments: ${attachments}`);
    }
    await js('document.querySelector("#usage-panel").scrollIntoView()');
    await screenshot('page-usage');
  });

  const token = FAKE ? 'a-demo-token' : process.env.E2E_PAT;
  if (!token) return; // an emulator without an expiring token: nothing to show
  await step('a token that expires soon shows a banner', async () => {
    await click('.tab[data-tab=connection]');
    const form = '#connection-slot .connection-form';
    await select(`${form} [name=auth]`, 'pat');
    await type(`${form} [name=secret]`, token);
    await click(`${form} .save`);
    const said = await until('the banner', async () => ((await visible('#token-banner')) ? text('#token-banner .message') : null));
    if (!/expires in \d+ days/.test(said)) throw new Error(`the banner says: ${said}`);
    await screenshot('token-banner');
    // Back to the password the rest of the scenario signs in with.
    await select(`${form} [name=auth]`, 'password');
    await type(`${form} [name=username]`, CONF.user);
    await type(`${form} [name=secret]`, CONF.secret);
    await click(`${form} .save`);
    await until('the banner to go', async () => !(await visible('#token-banner')));
  });
}
