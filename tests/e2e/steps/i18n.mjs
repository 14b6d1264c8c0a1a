// Issue 17 item 5, Russian and English, through the real window: Settings → Language switches
// the tab names, the buttons and the status pill to Russian at once (no restart), and back.
// The scenario's HOME has no Russian locale, so the window starts in English and the other
// steps keep matching English texts.

export async function i18nSteps({ step, click, text, js, until, select, screenshot }) {
  const lang = () => js('return document.documentElement.lang');
  const labels = async () => ({
    folders: await text('.tab[data-tab=folders]'),
    settings: await text('.tab[data-tab=settings]'),
    syncAll: await text('#sync-all'),
    save: await text('#settings-save'),
  });

  await step('Settings switch the window to Russian and back', async () => {
    await click('.tab[data-tab=settings]');
    if ((await lang()) !== 'en') throw new Error(`the window starts in "${await lang()}", not English`);
    const before = await js('return document.querySelector("#settings-form [name=language]").value');
    const english = await labels();
    if (english.folders !== 'Folders' || english.syncAll !== 'Sync now') {
      throw new Error(`English labels read ${JSON.stringify(english)}`);
    }

    try {
      await toRussian();
    } finally {
      // Back to the language the other steps expect, even when a check above failed.
      await click('.tab[data-tab=settings]');
      await select('#settings-form [name=language]', before);
      await click('#settings-save');
      await until('English labels again', async () => (await text('.tab[data-tab=folders]')) === 'Folders');
    }
    const back = await labels();
    if (JSON.stringify(back) !== JSON.stringify(english)) {
      throw new Error(`after switching back: ${JSON.stringify(back)} instead of ${JSON.stringify(english)}`);
    }
  });

  async function toRussian() {
    await select('#settings-form [name=language]', 'ru');
    await click('#settings-save');
    await until('Russian labels', async () => (await text('.tab[data-tab=folders]')) === 'Папки');
    const russian = await labels();
    const want = { folders: 'Папки', settings: 'Настройки', syncAll: 'Синхронизировать сейчас', save: 'Сохранить настройки' };
    for (const [k, v] of Object.entries(want)) {
      if (russian[k] !== v) throw new Error(`${k} reads "${russian[k]}", not "${v}"`);
    }
    if ((await lang()) !== 'ru') throw new Error('<html lang> did not follow');
    await until('the saved message in Russian', async () => (await text('#settings-result')) === 'Сохранено.');
    const state = await js('return document.querySelector("#status-pill").dataset.state');
    if (state === 'idle') {
      // "Up to date", maybe followed by why a folder waits (a file in use…).
      await until('the status pill in Russian', async () => (await text('#status-text')).startsWith('Всё синхронизировано'));
    }
    await screenshot('settings-russian');
    await click('.tab[data-tab=folders]');
    await screenshot('folders-russian');
  }
}
