// Russian and English for the window. `t(key, params)` looks a message up in the catalogue of
// the language in use (ui/i18n/en.js, ru.js), fills its {placeholders} and, when params.count is
// given and the key has plural forms (key.one / key.few / key.many), picks the right form.
// Static markup carries data-i18n (text), data-i18n-placeholder and data-i18n-aria-label
// attributes; `setLanguage` re-applies them and tells the views to redraw.

import { en } from '../i18n/en.js';
import { ru } from '../i18n/ru.js';

const CATALOGS = { en, ru };
let lang = 'en';
const listeners = [];

/** The language in use: 'en' or 'ru'. */
export function language() {
  return lang;
}

/** Russian plural form of n: one (1, 21…), few (2–4, 22–24…), many (0, 5–20, 25…). */
export function pluralForm(code, n) {
  const abs = Math.abs(Math.trunc(Number(n) || 0));
  if (code !== 'ru') return abs === 1 ? 'one' : 'many';
  const d10 = abs % 10;
  const d100 = abs % 100;
  if (d10 === 1 && d100 !== 11) return 'one';
  if (d10 >= 2 && d10 <= 4 && (d100 < 12 || d100 > 14)) return 'few';
  return 'many';
}

/** The message `key` in the language in use, {name} placeholders filled from `params`. */
export function t(key, params = {}) {
  const catalog = CATALOGS[lang];
  let text = catalog[key];
  if (text === undefined && params.count !== undefined) {
    text = catalog[`${key}.${pluralForm(lang, params.count)}`];
  }
  if (text === undefined) text = en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

function applyTo(root) {
  root.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
  root.querySelectorAll('[data-i18n-placeholder]').forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  root.querySelectorAll('[data-i18n-aria-label]').forEach((el) => { el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel)); });
}

/** Translate the static markup of the page and of its templates (for forms cloned later). */
export function applyStatic(root = document) {
  applyTo(root);
  root.querySelectorAll('template').forEach((tpl) => applyTo(tpl.content));
}

/** Speak `code` ('en' or 'ru'; anything else is English) and redraw. */
export function setLanguage(code) {
  lang = code === 'ru' ? 'ru' : 'en';
  document.documentElement.lang = lang;
  applyStatic();
  listeners.forEach((fn) => fn(lang));
}

/** Run `fn` after every language change (views redraw their dynamic texts). */
export function onLanguageChange(fn) {
  listeners.push(fn);
}
