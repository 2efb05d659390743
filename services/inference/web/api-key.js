/*
 * The API key of the viewer and the training monitor, when the service requires one (LVSEG_API_KEYS; README
 * "Security"). Kept in sessionStorage (this tab only, gone when it closes; never in localStorage or a cookie) and sent
 * as `Authorization: Bearer <key>` by the pages' API calls. The form shows itself once a call is refused (401/403) or a
 * key is stored; saving or forgetting the key reloads the page, so every view is read again with it.
 * Plain browser JS (no build step): window.lvsegApiKey = { key(), headers(), show(reason) }.
 */
(function () {
  'use strict';

  // The viewer bundle reads the same item (viewer/api-client.ts).
  const STORAGE_ITEM = 'lvseg.apiKey';

  function key() {
    try {
      return sessionStorage.getItem(STORAGE_ITEM) || '';
    } catch {
      return '';
    }
  }

  function headers() {
    const k = key();
    return k ? { Authorization: `Bearer ${k}` } : {};
  }

  let form = null;

  /** Renders the key form into the page header (once). */
  function ensureForm() {
    if (form) return form;
    const header = document.querySelector('header.top');
    if (!header) return null;
    form = document.createElement('form');
    form.className = 'api-key';
    form.id = 'api-key-form';
    form.setAttribute('aria-label', 'API key');
    const label = document.createElement('label');
    label.htmlFor = 'api-key-input';
    label.textContent = 'API key';
    const input = document.createElement('input');
    input.id = 'api-key-input';
    input.type = 'password';
    input.autocomplete = 'off';
    input.spellcheck = false;
    input.placeholder = key() ? 'stored for this tab' : 'Bearer secret';
    const use = document.createElement('button');
    use.type = 'submit';
    use.textContent = 'Use key';
    const forget = document.createElement('button');
    forget.type = 'button';
    forget.id = 'api-key-forget';
    forget.textContent = 'Forget key';
    forget.hidden = !key();
    const status = document.createElement('span');
    status.id = 'api-key-status';
    status.className = 'api-key-status';
    status.setAttribute('role', 'status');
    status.textContent = key() ? 'A key is set for this tab.' : '';
    form.append(label, input, use, forget, status);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (!value) return;
      try {
        sessionStorage.setItem(STORAGE_ITEM, value);
      } catch {
        status.textContent = 'This browser does not let the page keep the key (sessionStorage is off).';
        return;
      }
      location.reload();
    });
    forget.addEventListener('click', () => {
      try {
        sessionStorage.removeItem(STORAGE_ITEM);
      } catch {
        // nothing stored
      }
      location.reload();
    });
    header.append(form);
    return form;
  }

  /** Shows the form with why it is needed (the API's refusal). */
  function show(reason) {
    const f = ensureForm();
    if (!f) return;
    const status = f.querySelector('#api-key-status');
    if (reason) status.textContent = reason;
    f.hidden = false;
  }

  window.lvsegApiKey = { key, headers, show };

  if (key()) {
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => ensureForm());
    else ensureForm();
  }
})();
