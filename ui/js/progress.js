// Honest progress (issue 17 item 4): the words for a folder's ProgressReport and WaitReason
// (both from tunnel-core's progress module, mirrored here) on the folder cards and the status
// pill. The same sentences as the CLI's `status` and the tray tooltip. Display only: every
// number and reason comes from the backend.

import { t } from './i18n.js';
import { formatBytes, h, STATE_LABEL } from './dom.js';

/** 75 → "1 min 15 s" (as tunnel_core::progress::text::format_duration). */
export function formatDuration(secs) {
  const s = Math.max(0, Math.round(Number(secs) || 0));
  const [sec, min, hour] = [t('unit.s'), t('unit.min'), t('unit.h')];
  if (s < 60) return `${s} ${sec}`;
  if (s < 3600) return s % 60 ? `${Math.floor(s / 60)} ${min} ${s % 60} ${sec}` : `${s / 60} ${min}`;
  const m = Math.floor((s % 3600) / 60);
  return m ? `${Math.floor(s / 3600)} ${hour} ${m} ${min}` : `${Math.floor(s / 3600)} ${hour}`;
}

function retryIn(retryAt, now) {
  const secs = retryAt - now;
  return secs <= 0 ? t('wait.retrying_now') : t('wait.retrying_in', { time: formatDuration(secs) });
}

/** Why a folder waits (WaitReason, tagged by `kind`), at `now` (unix seconds). */
export function describeWait(w, now = Date.now() / 1000) {
  if (!w) return '';
  switch (w.kind) {
    case 'paused': return t('wait.paused');
    case 'offline': return t('wait.offline', { retry: retryIn(w.retry_at, now) });
    case 'rate-limited': return t('wait.rate_limited', { retry: retryIn(w.retry_at, now) });
    case 'page-busy': return t('wait.page_busy', { retry: retryIn(w.retry_at, now) });
    case 'local-error': return t('wait.local_error', { retry: retryIn(w.retry_at, now) });
    case 'files-in-use': {
      const more = w.count - w.files.length;
      const names = w.files.join(', ') + (more > 0 ? t('wait.and_more', { more }) : '');
      return t('wait.in_use', { files: t('files', { count: w.count }), names });
    }
    case 'waiting-for-lock': return t('wait.lock');
    case 'queued': return t('wait.queued');
    case 'stalled': return t('wait.stalled', { time: formatDuration(w.for_secs) });
    default: return w.kind;
  }
}

/** "3 files, 12 MB to go · 1.2 MB/s · 10 s left" (without the file). */
export function describeProgress(p) {
  const parts = [t('progress.to_go', { files: t('files', { count: p.files_to_go }), size: formatBytes(p.bytes_to_go) })];
  if (p.bytes_per_sec != null) parts.push(`${formatBytes(p.bytes_per_sec)}/s`);
  if (p.eta_secs != null && p.bytes_to_go > 0) parts.push(t('progress.left', { time: formatDuration(p.eta_secs) }));
  return parts.join(' · ');
}

/** The pill's one line for the whole service. */
export function statusLine(status, now = Date.now() / 1000) {
  if (!status.folders.length) return t('progress.no_folders');
  let line = STATE_LABEL[status.state] || status.state;
  const p = status.progress;
  if (status.state === 'syncing' && p) {
    line += ` · ${describeProgress(p)}`;
    if (p.current_file) line += ` · ${p.current_file}`;
  } else if (status.message && (status.state === 'error' || (status.state === 'offline' && !status.waiting))) {
    line = status.message;
  }
  const w = status.waiting;
  // An error says what is wrong itself (a lock held elsewhere too).
  if (w && w.kind !== 'paused' && w.kind !== 'queued' && status.state !== 'error') {
    const why = describeWait(w, now);
    line = status.state === 'offline' ? why.charAt(0).toUpperCase() + why.slice(1) : `${line} — ${why}`;
  }
  return line;
}

/** The progress and waiting lines of a folder card (null when there is nothing to say). */
export function folderProgress(f) {
  const p = f.state === 'syncing' ? f.progress : null;
  const w = f.waiting && f.waiting.kind !== 'paused' ? f.waiting : null;
  if (!p && !w) return null;
  const total = p ? p.bytes_done + p.bytes_to_go : 0;
  const percent = total ? Math.floor((p.bytes_done * 100) / total) : 0;
  // Set through the CSSOM: the content security policy refuses inline style attributes.
  const fill = h('span');
  fill.style.width = `${percent}%`;
  return h(
    'div',
    { class: 'folder-progress' },
    p ? h('div', { class: 'progress-bar', role: 'progressbar', 'aria-valuenow': String(percent), 'aria-valuemin': '0', 'aria-valuemax': '100' },
      fill) : null,
    p ? h('div', { class: 'progress-line' },
      h('span', { class: 'to-go' }, describeProgress(p)),
      p.current_file ? h('span', { class: 'current-file', title: p.current_file }, p.current_file) : null) : null,
    w ? h('div', { class: 'wait-reason', dataset: { kind: w.kind, retryAt: w.retry_at || '' } }, describeWait(w)) : null,
  );
}

/** Re-word "retrying in …" (the clock moves on while the status does not). */
export function refreshWaits(root, status) {
  root.querySelectorAll('.wait-reason[data-retry-at]').forEach((el) => {
    const at = Number(el.dataset.retryAt);
    if (at) el.textContent = describeWait({ kind: el.dataset.kind, retry_at: at });
  });
  if (status) document.querySelector('#status-text').textContent = statusLine(status);
}
