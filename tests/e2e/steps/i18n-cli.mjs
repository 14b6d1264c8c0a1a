// Issue 17 item 5, the words the backend puts into the window: in Russian the ignore presets'
// names (from the core), the page-privacy sentence's "who may view" (worded in Rust) and every
// size's unit (КБ/МБ) follow the language, and nothing shows an English unit or phrase.
// Switches back to the language it found, as steps/i18n.mjs does.

export async function i18nCliSteps({ step, click, text, js, until, select, screenshot }) {
  const bodyText = () => js('return document.body.innerText');

  await step('backend words follow the language: presets, privacy, units', async () => {
    await click('.tab[data-tab=settings]');
    const before = await js('return document.querySelector("#settings-form [name=language]").value');
    try {
      await select('#settings-form [name=language]', 'ru');
      await click('#settings-save');
      await until('Russian labels', async () => (await text('.tab[data-tab=folders]')) === 'Папки');

      await click('#open-ignore-global');
      await until('the presets in Russian', async () =>
        (await text('#ignore-rules .ignore-presets')).includes('Результаты сборки'));
      const presets = await text('#ignore-rules .ignore-presets');
      if (presets.includes('Build outputs') || presets.includes('Version control')) {
        throw new Error(`a preset's English name: ${presets}`);
      }
      await screenshot('ignore-presets-russian');
      await click('#ignore-rules .ignore-cancel');

      await click('.tab[data-tab=connection]');
      const shown = await js('return !document.querySelector("#connection-privacy").hidden');
      if (shown) {
        await until('the privacy sentence in Russian', async () => {
          const said = await text('#connection-privacy');
          return /[а-я]/i.test(said) && !said.includes('everyone with access') && !said.includes('only you');
        });
        await screenshot('privacy-russian');
      }

      for (const tab of ['folders', 'activity', 'connection', 'settings']) {
        await click(`.tab[data-tab=${tab}]`);
        const all = await bodyText();
        const unit = all.match(/\b\d+(?:[.,]\d+)? (?:B|KB|MB|GB|KiB|MiB|GiB)\b/);
        if (unit) throw new Error(`the ${tab} tab shows an English unit: "${unit[0]}"`);
      }
    } finally {
      await click('.tab[data-tab=settings]');
      await select('#settings-form [name=language]', before);
      await click('#settings-save');
      await until('English labels again', async () => (await text('.tab[data-tab=folders]')) === 'Folders');
    }
  });
}
