// The web app's shell: login, the views this organisation and role may use, the count of
// unacknowledged notices, the live stream and its alerts. Views render into <main>; the hash
// (#/inkorg) only ever names a view, never a patient or an episode.

import { api, setToken, token } from './api.js';
import { h, replace } from './dom.js';
import { ORG_KIND, ROLE, KIND, fmt } from './format.js';
import { renderLogin } from './login.js';
import { renderInbox } from './inbox.js';
import { renderWorklist } from './worklist.js';
import { renderFollowup } from './followup.js';
import { Live } from './live.js';

const VIEWS = {
  inkorg: { title: 'Inkorg', render: renderInbox },
  arbetslista: { title: 'Avdelningens arbetslista', render: renderWorklist },
  uppfoljning: { title: 'Uppföljning', render: renderFollowup },
};

// Which views an organisation kind and role get (connectors/serve/README.md "Who sees what").
function viewsFor(session) {
  const { kind } = session.org;
  const coordinator = session.role === 'coordinator';
  if (session.role !== 'caseworker' && !coordinator) return [];
  if (kind === 'WARD') return ['arbetslista', 'inkorg'];
  if (kind === 'REGION') return coordinator ? ['uppfoljning'] : [];
  if (kind === 'MUNICIPALITY') return coordinator ? ['inkorg', 'uppfoljning'] : ['inkorg'];
  return ['inkorg'];
}

const state = { session: null, views: [], live: null, current: null, refresh: null };
const main = document.getElementById('main');

function orgLabel(org) {
  return `${ORG_KIND[org.kind] || org.kind} ${org.id}`;
}

// The header's count of unacknowledged notices: the API counts them (`unacknowledged`, whatever
// the filter), so one item is enough to ask for. The inbox sets it from each of its pages too.
export function setUnacked(n) {
  document.getElementById('unacked-count').textContent = Number.isInteger(n) ? fmt.num(n) : '?';
}

export async function refreshUnacked() {
  if (!state.session || !state.views.includes('inkorg')) return;
  try {
    const { data } = await api.inbox({ acknowledged: 'false', limit: 1 });
    setUnacked(data.unacknowledged);
  } catch {
    setUnacked(null);
  }
}

function renderTabs() {
  const tabs = document.getElementById('tabs');
  replace(tabs, state.views.map((v) => h('a', {
    href: `#/${v}`,
    class: state.current === v ? 'tab active' : 'tab',
    'aria-current': state.current === v ? 'page' : false,
  }, VIEWS[v].title)));
  tabs.hidden = state.views.length === 0;
}

export function alertUser(text, { kind = 'info' } = {}) {
  const box = document.getElementById('alerts');
  const close = h('button', { type: 'button', class: 'close', 'aria-label': 'Stäng avisering' }, '×');
  const item = h('div', { class: `alert ${kind}` }, h('span', {}, text), close);
  close.addEventListener('click', () => item.remove());
  box.prepend(item);
  while (box.children.length > 5) box.lastChild.remove();
  if (document.getElementById('sound').checked) beep();
}

function beep() {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.08;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.2);
  } catch { /* no audio: the visible alert is enough */ }
}

async function route() {
  const name = (location.hash.replace(/^#\/?/, '') || '').split('?')[0];
  if (!token() || !state.session) {
    document.getElementById('who').hidden = true;
    document.getElementById('tabs').hidden = true;
    document.title = 'Logga in – samordna';
    renderLogin(main, login);
    return;
  }
  const view = state.views.includes(name) ? name : state.views[0];
  if (!view) {
    replace(main, h('section', { class: 'panel' }, h('h1', {}, 'Ingen vy'),
      h('p', {}, `Rollen ${ROLE[state.session.role] || state.session.role} för ${orgLabel(state.session.org)} har ingen vy i webbappen.`)));
    return;
  }
  if (view !== name) {
    history.replaceState(null, '', `#/${view}`);
  }
  state.current = view;
  renderTabs();
  document.title = `${VIEWS[view].title} – samordna`;
  state.refresh = await VIEWS[view].render(main, { session: state.session, alertUser, refreshUnacked, setUnacked });
  main.focus({ preventScroll: true });
}

async function login(t) {
  setToken(t);
  try {
    const { data } = await api.session();
    start(data);
    if (!location.hash || location.hash === '#/login') location.hash = `#/${state.views[0] || ''}`;
    else route();
    return null;
  } catch (e) {
    setToken(null);
    return e.status === 401 ? 'Token godtogs inte (fel nyckel, utgången eller fel utfärdare).'
      : 'Kunde inte nå servern.';
  }
}

function start(session) {
  state.session = session;
  state.views = viewsFor(session);
  document.getElementById('who').hidden = false;
  document.getElementById('org-label').textContent =
    `${orgLabel(session.org)} · ${ROLE[session.role] || session.role}`;
  document.getElementById('unacked-link').hidden = !state.views.includes('inkorg');
  refreshUnacked();
  if (state.live) state.live.stop();
  const liveState = document.getElementById('live-state');
  if (session.role === 'caseworker' || session.role === 'coordinator') {
    state.live = new Live({
      onStatus: (text) => { liveState.textContent = `Live: ${text}`; },
      onEvents: (events) => {
        for (const e of events) {
          alertUser(`Nytt: ${KIND[e.kind] || e.kind} (${new Date(e.issuedAt).toLocaleString('sv-SE', { timeZone: 'Europe/Stockholm' })})`,
            { kind: ['deadlineMissed', 'noticeHeld'].includes(e.kind) ? 'warn' : 'info' });
        }
        refreshUnacked();
        if (state.refresh) state.refresh();
      },
    });
    state.live.start();
  } else {
    liveState.textContent = 'Live: –';
  }
}

function logout() {
  setToken(null);
  state.session = null;
  state.views = [];
  if (state.live) state.live.stop();
  state.live = null;
  replace(document.getElementById('alerts'));
  location.hash = '#/login';
  route();
}

window.addEventListener('hashchange', route);
window.addEventListener('samordna:unauthorized', () => {
  if (state.session) {
    alertUser('Inloggningen har gått ut. Logga in igen.', { kind: 'warn' });
    logout();
  }
});
document.getElementById('logout').addEventListener('click', logout);

(async () => {
  if (token()) {
    try {
      const { data } = await api.session();
      start(data);
    } catch {
      setToken(null);
    }
  }
  route();
})();
