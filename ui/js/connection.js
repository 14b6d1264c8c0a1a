// The connection form, used by the first-run wizard and the Connection tab. It only collects
// what the person typed and shows what Rust answers; every check happens in the backend.

import { api, ErrorCode } from './api.js';
import { showResult } from './dom.js';
import { t } from './i18n.js';

const SECRET_LABEL = {
  password: () => t('connection.secret_password'),
  'api-token': () => t('connection.secret_api_token'),
  pat: () => t('connection.secret_pat'),
};

const ERROR_TITLE = {
  [ErrorCode.AUTH]: () => t('error.auth'),
  [ErrorCode.CERTIFICATE]: () => t('error.certificate'),
  [ErrorCode.PERMISSION]: () => t('error.permission'),
  [ErrorCode.NOT_FOUND]: () => t('error.not_found'),
  [ErrorCode.UNREACHABLE]: () => t('error.unreachable'),
  [ErrorCode.REMOTE_FORMAT]: () => t('error.remote_format'),
  [ErrorCode.INVALID]: () => t('error.invalid'),
};

/**
 * Render the form into `slot`. `onSaved(check)` runs after a successful save.
 * Returns { fill(connectionView) }.
 */
export function mountConnectionForm(slot, { saveKey = 'common.save', onSaved = () => {} } = {}) {
  const template = document.getElementById('connection-form-template');
  slot.replaceChildren(template.content.cloneNode(true));
  const form = slot.querySelector('form');
  const field = (name) => form.elements.namedItem(name);
  const result = form.querySelector('.result');
  const save = form.querySelector('.save');
  const test = form.querySelector('.test');
  save.dataset.i18n = saveKey; // kept by later language changes
  save.textContent = t(saveKey);
  let hasSecret = false;

  function syncAuthFields() {
    const auth = field('auth').value;
    const label = form.querySelector('.secret-label');
    label.dataset.i18n = `connection.secret_${auth.replace('-', '_')}`;
    label.textContent = SECRET_LABEL[auth]();
    form.querySelector('.username-field').hidden = auth === 'pat';
    field('secret').placeholder = hasSecret ? t('connection.secret_stored') : '';
  }
  field('auth').addEventListener('change', syncAuthFields);

  const optional = (value) => (value && value.trim() ? value.trim() : null);
  function read() {
    const auth = field('auth').value;
    return {
      url: field('url').value.trim(),
      auth,
      username: auth === 'pat' ? null : optional(field('username').value),
      secret: field('secret').value === '' ? null : field('secret').value,
      page_id: field('page_id').value.trim(),
      p12_path: optional(field('p12_path').value),
      p12_password: field('p12_password').value === '' ? null : field('p12_password').value,
      ca_path: optional(field('ca_path').value),
    };
  }

  function showError(e) {
    const title = ERROR_TITLE[e.code] ? ERROR_TITLE[e.code]() : t('error.other');
    showResult(result, 'error', t('connection.error', { title, message: e.message }));
  }

  async function run(action, button) {
    if (!form.reportValidity()) return;
    button.disabled = true;
    showResult(result, 'busy', t('connection.checking'));
    try {
      const check = await action(read());
      const write = check.can_write ? t('connection.can_write') : t('connection.cannot_write');
      showResult(result, 'ok', t('connection.connected', { user: check.user, page: check.page_title, write }));
      return check;
    } catch (e) {
      showError(e);
      return null;
    } finally {
      button.disabled = false;
    }
  }

  test.addEventListener('click', () => run(api.testConnection, test));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const check = await run(api.saveConnection, save);
    if (check) {
      hasSecret = true;
      field('secret').value = '';
      field('p12_password').value = '';
      syncAuthFields();
      onSaved(check);
    }
  });

  form.querySelectorAll('[data-pick]').forEach((button) => {
    button.addEventListener('click', async () => {
      const kind = button.dataset.pick;
      try {
        const path = await api.pickFile(kind);
        if (path) field(kind === 'p12' ? 'p12_path' : 'ca_path').value = path;
      } catch (e) {
        showError(e);
      }
    });
  });

  syncAuthFields();
  return {
    fill(view) {
      if (!view) return;
      field('url').value = view.url || '';
      field('auth').value = view.auth || 'password';
      field('username').value = view.username || '';
      field('page_id').value = view.page_id || '';
      field('p12_path').value = view.p12_path || '';
      field('ca_path').value = view.ca_path || '';
      if (view.p12_path || view.ca_path) form.querySelector('details').open = true;
      hasSecret = Boolean(view.has_secret);
      syncAuthFields();
    },
  };
}
