// Small DOM and formatting helpers. Text always goes in through textContent (file names come
// from disk and must never be parsed as HTML).

import { t } from './i18n.js';

/** Create an element: h('div', {class: 'x', onclick: fn}, child, 'text', ...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Show a result line: kind is 'ok', 'error', 'busy' or '' (clears it). */
export function showResult(el, kind, text) {
  el.className = `result ${kind}`.trim();
  el.textContent = kind ? text : '';
}

const UNITS = ['unit.b', 'unit.kb', 'unit.mb', 'unit.gb', 'unit.tb'];

export function formatBytes(n) {
  let value = Number(n) || 0;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  let number = unit === 0 ? String(value) : value.toFixed(value < 10 ? 1 : 0);
  // Russian writes a decimal comma.
  if (t('unit.decimal') === ',') number = number.replace('.', ',');
  return `${number} ${t(UNITS[unit])}`;
}

/** "just now", "5 min ago", or a date, for a unix time in seconds. */
export function formatAgo(unixSeconds) {
  if (!unixSeconds) return t('time.never');
  const seconds = Math.max(0, Date.now() / 1000 - unixSeconds);
  if (seconds < 45) return t('time.just_now');
  if (seconds < 3600) return t('time.min_ago', { n: Math.round(seconds / 60) });
  if (seconds < 86400) return t('time.h_ago', { n: Math.round(seconds / 3600) });
  return new Date(unixSeconds * 1000).toLocaleString();
}

export function formatTime(date) {
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** The last component of a path, for a folder's display name. */
export function baseName(path) {
  const parts = String(path).split(/[\\/]/).filter(Boolean);
  return parts.length ? parts[parts.length - 1] : String(path);
}

/** The label of a sync state, in the language in use (getters: read at each use). */
export const STATE_LABEL = Object.freeze({
  get idle() { return t('state.idle'); },
  get syncing() { return t('state.syncing'); },
  get paused() { return t('state.paused'); },
  get error() { return t('state.error'); },
  get offline() { return t('state.offline'); },
});
