// Entry point: decides between the first-run wizard and the main window, switches tabs, and
// keeps the screen in step with the status and events pushed by Rust. No business logic: every
// decision is the backend's; this file only shows it.

import { api } from './api.js';
import { Activity } from './activity.js';
import { Conflicts } from './conflicts.js';
import { mountConnectionForm } from './connection.js';
import { h, showResult } from './dom.js';
import { NAVIGATE, on, SYNC_EVENT, SYNC_STATUS } from './events.js';
import { mountFolderForm, refreshTimes, renderFolders } from './folders.js';
import { checkToken, mountUsage } from './citizen.js';
import { mountPrivacyNotice } from './privacy.js';
import { mountIgnoreSettings } from './ignore.js';
import { refreshWaits, statusLine } from './progress.js';
import { onLanguageChange, setLanguage, t } from './i18n.js';
import { mountTrash } from './trash.js';

const $ = (selector) => document.querySelector(selector);
const TABS = ['folders', 'activity', 'connection', 'settings', 'conflicts', 'trash'];
const TIME_REFRESH_MS = 30000; // how often "5 min ago" texts are re-worded (display only)
const WAIT_REFRESH_MS = 1000; // how often "retrying in 30 s" counts down (display only)

const ui = {
  connection: null,
  status: null,
  activity: null,
  conflicts: null,
  tabForm: null,
  folderForm: null,
  info: null,
};

function toast(message) {
  const el = h('div', { class: 'toast', role: 'alert' }, message);
  document.body.append(el);
  setTimeout(() => el.remove(), 6000);
}

// ---- tabs ---------------------------------------------------------------------------------

function showTab(name) {
  if (!TABS.includes(name)) return;
  document.querySelectorAll('.tab').forEach((t) => t.classList.toggle('active', t.dataset.tab === name));
  document.querySelectorAll('.view').forEach((v) => { v.hidden = v.dataset.view !== name; });
  document.body.dataset.tab = name;
}

// ---- status ---------------------------------------------------------------------------------

function applyStatus(status) {
  ui.status = status;
  const pill = $('#status-pill');
  pill.dataset.state = status.state;
  $('#status-text').textContent = statusLine(status);
  $('#status-pill').title = $('#status-text').textContent;
  const allPaused = status.folders.length > 0 && status.folders.every((f) => f.paused);
  const pauseAll = $('#pause-all');
  pauseAll.textContent = allPaused ? t('action.resume_all') : t('action.pause_all');
  pauseAll.dataset.paused = String(allPaused);
  pauseAll.disabled = status.folders.length === 0;
  $('#sync-all').disabled = status.folders.length === 0;
  renderFolders($('#folder-list'), status.folders, toast);
}

// ---- wizard ---------------------------------------------------------------------------------

function wizardStep(step) {
  const order = ['welcome', 'connection', 'folder'];
  const at = order.indexOf(step);
  document.querySelectorAll('.steps li').forEach((li) => {
    const i = order.indexOf(li.dataset.step);
    li.classList.toggle('done', i < at);
    li.classList.toggle('current', i === at);
  });
  document.querySelectorAll('.wizard-step').forEach((s) => { s.hidden = s.dataset.step !== step; });
  $('#wizard').dataset.step = step;
}

function startWizard() {
  $('#shell').hidden = true;
  $('#wizard').hidden = false;
  wizardStep('welcome');
  $('#wizard-start').onclick = () => wizardStep('connection');
  mountConnectionForm($('.wizard-step[data-step="connection"]'), {
    saveKey: 'wizard.save_continue',
    onSaved: async () => {
      ui.connection = await api.getConnection();
      wizardStep('folder');
      mountPrivacyNotice($('#wizard-privacy'), { onError: toast }).refresh();
    },
  });
  mountFolderForm($('#wizard .folder-form-slot'), {
    defaultPage: () => (ui.connection ? ui.connection.page_id : ''),
    onAdded: () => finishWizard('folders'),
  });
  $('#wizard-skip').onclick = () => finishWizard('folders');
}

async function finishWizard(tab) {
  $('#wizard').hidden = true;
  await startShell(tab);
}

// ---- main window ----------------------------------------------------------------------------

async function loadSettings() {
  const form = $('#settings-form');
  const s = await api.getSettings();
  form.elements.namedItem('start_at_login').checked = s.start_at_login;
  form.elements.namedItem('poll_interval_secs').value = s.poll_interval_secs;
  form.elements.namedItem('parallel_transfers').value = s.parallel_transfers;
  form.elements.namedItem('log_level').value = s.log_level;
  // 0 is "unlimited": shown as the empty field with its placeholder.
  form.elements.namedItem('upload_limit_kib_per_sec').value = s.upload_limit_kib_per_sec || '';
  form.elements.namedItem('download_limit_kib_per_sec').value = s.download_limit_kib_per_sec || '';
  form.elements.namedItem('language').value = s.language || 'system';
}

function wireSettings() {
  const form = $('#settings-form');
  const result = $('#settings-result');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    const settings = {
      start_at_login: form.elements.namedItem('start_at_login').checked,
      poll_interval_secs: Number(form.elements.namedItem('poll_interval_secs').value),
      parallel_transfers: Number(form.elements.namedItem('parallel_transfers').value),
      log_level: form.elements.namedItem('log_level').value,
      upload_limit_kib_per_sec: Number(form.elements.namedItem('upload_limit_kib_per_sec').value || 0),
      download_limit_kib_per_sec: Number(form.elements.namedItem('download_limit_kib_per_sec').value || 0),
      language: form.elements.namedItem('language').value,
    };
    try {
      await api.saveSettings(settings);
      setLanguage(await api.getLanguage());
      showResult(result, 'ok', t('settings.saved'));
    } catch (e) {
      showResult(result, 'error', e.message);
    }
  });
  $('#open-logs').addEventListener('click', () => api.openLogFolder().catch((e) => toast(e.message)));
}

async function startShell(tab = 'folders') {
  $('#shell').hidden = false;
  ui.connection = await api.getConnection();
  ui.tabForm.fill(ui.connection);
  ui.privacy.refresh();
  ui.folderForm.refreshPlaceholder();
  const status = await api.getStatus();
  applyStatus(status);
  ui.activity.seed(status);
  try {
    ui.activity.addHistory(await api.recentActivity());
  } catch (e) {
    toast(e.message);
  }
  await loadSettings();
  checkToken($('#token-banner'), { force: true });
  await ui.conflicts.refresh();
  showTab(tab);
}

function showAppInfo() {
  const info = ui.info;
  if (!info) return;
  $('#version-line').textContent = t('app.version', { version: info.version });
  $('#about-version').textContent = t('app.about_version', { version: info.version, license: info.license });
}

/** Redraw what the views composed in the old language (static markup is done by i18n.js). */
function relabel() {
  showAppInfo();
  if (ui.status) {
    $('#folder-list').replaceChildren(); // cards are cached by their data: draw them afresh
    applyStatus(ui.status);
  }
  if (ui.conflicts) {
    ui.conflicts.drawn = null;
    ui.conflicts.draw();
  }
  ui.folderForm?.refreshPlaceholder();
  ui.activity?.relabel();
  // Words the backend puts in the reader's language: ask again in the new one.
  if (ui.connection) {
    ui.privacy?.refresh();
    checkToken($('#token-banner'), { force: true });
  }
}

async function main() {
  try {
    setLanguage(await api.getLanguage());
  } catch (e) {
    setLanguage('en'); // an older backend: English, as before
  }
  onLanguageChange(relabel);
  ui.activity = new Activity({
    transfers: $('#transfer-list'),
    conflicts: $('#conflict-list'),
    recent: $('#activity-list'),
    recentEmpty: $('#activity-empty'),
    conflictCount: $('#conflict-count'),
    onError: toast,
  });
  ui.conflicts = new Conflicts({ list: $('#unresolved-list'), count: $('#unresolved-count'), onError: toast });
  await on(SYNC_EVENT, (event) => ui.activity.add(event));
  await on(SYNC_EVENT, (event) => ui.conflicts.take(event));
  await on(SYNC_STATUS, (status) => applyStatus(status));
  await on(NAVIGATE, (tab) => { if (!$('#shell').hidden) showTab(tab); });

  document.querySelectorAll('.tab').forEach((t) => t.addEventListener('click', () => showTab(t.dataset.tab)));
  $('#sync-all').addEventListener('click', () => api.syncNow(null).catch((e) => toast(e.message)));
  $('#pause-all').addEventListener('click', () => {
    const paused = $('#pause-all').dataset.paused === 'true';
    api.setPaused(null, !paused).catch((e) => toast(e.message));
  });
  ui.tabForm = mountConnectionForm($('#connection-slot'), {
    saveKey: 'common.save',
    onSaved: async () => {
      ui.connection = await api.getConnection();
      ui.folderForm.refreshPlaceholder();
      ui.privacy.refresh();
      checkToken($('#token-banner'), { force: true });
    },
  });
  ui.privacy = mountPrivacyNotice($('#connection-privacy'), { onError: toast });
  ui.folderForm = mountFolderForm($('#folders-add-slot'), {
    defaultPage: () => (ui.connection ? ui.connection.page_id : ''),
  });
  wireSettings();
  mountIgnoreSettings($('#settings-form'));
  mountUsage($('#usage-panel'));
  mountTrash($('#trash-list'));
  await on(SYNC_EVENT, (event) => { if (event.type === 'finished') checkToken($('#token-banner')); });
  $('#token-banner-connection').addEventListener('click', () => showTab('connection'));
  setInterval(() => refreshTimes($('#folder-list')), TIME_REFRESH_MS);
  setInterval(() => refreshWaits($('#folder-list'), ui.status), WAIT_REFRESH_MS);

  const info = await api.appInfo();
  ui.info = info;
  showAppInfo();
  $('#about-name').textContent = info.name;
  $('#about-logs').textContent = info.log_dir;

  const connection = await api.getConnection();
  $('#loading').hidden = true;
  if (connection) {
    await startShell('folders');
  } else {
    startWizard();
  }
  document.body.dataset.ready = 'true';
}

main().catch((e) => {
  $('#loading').hidden = false;
  $('#loading').textContent = t('app.start_failed', { message: e.message || e });
});
