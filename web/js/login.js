// The login page: takes a bearer token (from the region's identity provider, or in the demo
// one that `samordna token` minted and deploy/demo.sh printed). The token is kept in
// sessionStorage only: it leaves with the tab.

import { h, replace } from './dom.js';

export function renderLogin(main, login) {
  const error = h('p', { class: 'error', id: 'login-error', role: 'alert' });
  const input = h('textarea', {
    id: 'token', name: 'token', rows: 5, required: true, autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': 'token-help login-error',
  });
  const form = h('form', { class: 'panel login', novalidate: true },
    h('h1', {}, 'Logga in'),
    h('p', { id: 'token-help' },
      'Klistra in din åtkomsttoken (JWT) från regionens inloggningstjänst. I demon skriver ',
      h('code', {}, 'deploy/demo.sh'), ' ut en färdig token per organisation. ',
      'Token sparas bara i den här fliken (sessionStorage) och försvinner när fliken stängs.'),
    h('label', { for: 'token' }, 'Token'),
    input,
    error,
    h('button', { type: 'submit' }, 'Logga in'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const t = input.value.trim().replace(/^Bearer\s+/i, '');
    if (!t) {
      error.textContent = 'Ange en token.';
      input.focus();
      return;
    }
    error.textContent = '';
    const problem = await login(t);
    if (problem) {
      error.textContent = problem;
      input.focus();
    }
  });
  replace(main, form);
  input.focus();
}
