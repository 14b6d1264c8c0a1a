// Who may see the synced files: a plain notice under the connection (Connection tab and the
// wizard) when others can view or edit the page, with a "Make private" button. Everything is
// decided in Rust (api.pagePrivacy / api.makePagePrivate); this file only shows the answer.

import { api } from './api.js';
import { t } from './i18n.js';
import { h } from './dom.js';

/**
 * Render the notice into `slot` (an empty element). Returns { refresh() }, which asks about
 * the connection's page again. `onError(message)` shows failures of the button.
 */
export function mountPrivacyNotice(slot, { onError = () => {} } = {}) {
  async function refresh() {
    let privacy;
    try {
      privacy = await api.pagePrivacy(null);
    } catch (e) {
      // Not connected yet, or the server has no restriction API: say so quietly.
      show({ state: 'unknown', text: t('privacy.check_failed', { message: e.message }) });
      return;
    }
    render(privacy);
  }

  function render(privacy) {
    if (privacy.private) {
      show({ state: 'private', text: sentence(privacy) });
    } else {
      show({ state: 'shared', text: sentence(privacy), button: true });
    }
  }

  function show({ state, text, button = false }) {
    slot.hidden = false;
    slot.dataset.privacy = state;
    const parts = [h('p', { class: 'privacy-text' }, text)];
    if (state === 'shared') {
      parts.unshift(h('strong', { class: 'privacy-title' }, t('privacy.others_see')));
    }
    if (button) {
      const make = h('button', { type: 'button', class: 'primary make-private' }, t('privacy.make_private'));
      make.addEventListener('click', async () => {
        make.disabled = true;
        make.textContent = t('privacy.restricting');
        try {
          render(await api.makePagePrivate(null));
        } catch (e) {
          make.disabled = false;
          make.textContent = t('privacy.make_private');
          onError(t('privacy.make_failed', { message: e.message }));
        }
      });
      parts.push(h('div', { class: 'actions' }, make));
    }
    slot.replaceChildren(...parts);
  }

  slot.classList.add('privacy-notice');
  slot.hidden = true;
  return { refresh };
}

/** The same words as the command line's `sber-tunnel page`. */
function sentence(p) {
  if (p.visible_to_others) {
    const edit = p.editable_by_others
      ? (p.editors === p.viewers ? t('privacy.they_may_edit') : t('privacy.editors_may_edit', { editors: cap(p.editors) }))
      : '';
    return t('privacy.visible', { page: p.page_id, viewers: p.viewers }) + edit;
  }
  if (p.editable_by_others) {
    return t('privacy.editable', { page: p.page_id, editors: p.editors });
  }
  return t('privacy.private', { page: p.page_id });
}

function cap(s) {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}
