// The connection form, used by the first-run wizard and the Connection tab. It only collects
// what the person typed and shows what Rust answers; every check happens in the backend.

import { api, ErrorCode } from './api.js';
import { showResult } from './dom.js';

const SECRET_LABEL = {
  password: 'Password',
  'api-token': 'API token',
  pat: 'Personal access token',
};

const ERROR_TITLE = {
  [ErrorCode.AUTH]: 'Sign-in refused',
  [ErrorCode.CERTIFICATE]: 'Certificate problem',
  [ErrorCode.PERMISSION]: 'Not allowed',
  [ErrorCode.NOT_FOUND]: 'Page not found',
  [ErrorCode.UNREACHABLE]: 'Server unreachable',
  [ErrorCode.REMOTE_FORMAT]: 'Unexpected answer from the server',
  [ErrorCode.INVALID]: 'Check the form',
};

/**
 * Render the form into `slot`. `onSaved(check)` runs after a successful save.
 * Returns { fill(connectionView) }.
 */
export function mountConnectionForm(slot, { saveLabel = 'Save', onSaved = () => {} } = {}) {
  const template = document.getElementById('connection-form-template');
  slot.replaceChildren(template.content.cloneNode(true));
  const form = slot.querySelector('form');
  const field = (name) => form.elements.namedItem(name);
  const result = form.querySelector('.result');
  const save = form.querySelector('.save');
  const test = form.querySelector('.test');
  save.textContent = saveLabel;
  let hasSecret = false;

  function syncAuthFields() {
    const auth = field('auth').value;
    form.querySelector('.secret-label').textContent = SECRET_LABEL[auth];
    form.querySelector('.username-field').hidden = auth === 'pat';
    field('secret').placeholder = hasSecret ? 'Stored — leave empty to keep it' : '';
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
    const title = ERROR_TITLE[e.code] || 'Something went wrong';
    showResult(result, 'error', `${title}: ${e.message}`);
  }

  async function run(action, button) {
    if (!form.reportValidity()) return;
    button.disabled = true;
    showResult(result, 'busy', 'Checking the connection…');
    try {
      const check = await action(read());
      const write = check.can_write ? 'may add attachments' : 'cannot add attachments';
      showResult(result, 'ok', `Connected as ${check.user} to “${check.page_title}” (${write}).`);
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
