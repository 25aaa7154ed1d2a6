// Avdelningens arbetslista (the ward): notices held back and why, deadlines due within 24 hours
// by urgency, missed deadlines, and per episode a timeline of what happened with the explanation
// of each deadline (rule, anchor, arithmetic: what `samordna explain` prints).

import { api, all } from './api.js';
import { h, replace, table } from './dom.js';
import { fmt, DEADLINE, HELD_REASON, NOTICE, STATUS, EPISODE_STATUS, SERVICE, missingText } from './format.js';

function urgency(dueAt) {
  const hours = (new Date(dueAt).getTime() - Date.now()) / 3600000;
  if (hours < 4) return { cls: 'urgent', label: 'Bråttom (< 4 h)' };
  if (hours < 12) return { cls: 'soon', label: 'Snart (< 12 h)' };
  return { cls: 'later', label: 'Inom 24 h' };
}

function orgText(o) {
  if (!o) return '–';
  return `${{ MUNICIPALITY: 'Kommun', OUTPATIENT_UNIT: 'Öppenvård', WARD: 'Avdelning', REGION: 'Region' }[o.kind] || o.kind} ${o.id}`;
}

function timeline(view) {
  const ev = [];
  const add = (at, text, cls = '') => { if (at) ev.push({ at, text, cls }); };
  add(view.admittedAt, 'Inskriven i sluten vård');
  add(view.estimatedDischargeAt, 'Beräknad tidpunkt för utskrivning', 'muted');
  for (const n of view.notices || []) {
    const what = `${NOTICE[n.kind] || n.kind} till ${orgText(n.recipient)}`;
    if (n.held) add(n.heldAt, `${what}: HÅLLET – ${HELD_REASON[n.heldReason] || n.heldReason}`, 'warn');
    else add(n.issuedAt, `${what} skickat`);
    for (const a of n.acknowledgements || []) add(a.at, `${what}: kvitterat av ${orgText(a.by)}`, 'ok');
  }
  add(view.careContactAt, `Fast vårdkontakt utsedd (${view.careContactUnit || '–'})`);
  add(view.dischargeReadyAt, 'Utskrivningsklar förklarad');
  add(view.dischargedAt, 'Utskriven');
  ev.sort((a, b) => new Date(a.at) - new Date(b.at));
  const deadlines = (view.deadlines || []).map((d) => h('li', { class: `deadline ${d.status}` },
    h('div', { class: 'dl-head' },
      h('strong', {}, DEADLINE[d.kind] || d.kind), ' · ', orgText(d.responsible), ' · sista tid ',
      fmt.time(d.dueAt), ' · ', h('span', { class: `pill ${d.status}` }, STATUS[d.status] || d.status),
      d.fulfilledAt ? ` · uppfylld ${fmt.time(d.fulfilledAt)}` : ''),
    d.explanation ? h('pre', { class: 'explain' }, d.explanation) : null));
  const p = view.patient || {};
  return h('div', { class: 'timeline' },
    h('h3', {}, `Vårdtillfälle ${view.episodeId}`),
    h('p', {}, `${p.name || ''} ${p.personalId || ''} · ${EPISODE_STATUS[view.status] || view.status} · `,
      `hemkommun ${view.homeMunicipality || '–'} · insatser: ${(view.needs || []).map((s) => SERVICE[s] || s).join(', ') || '–'}`),
    h('ol', { class: 'events' }, ev.map((e) => h('li', { class: e.cls }, h('time', { datetime: e.at }, fmt.time(e.at)), ' ', e.text))),
    h('h4', {}, 'Tidsfrister och hur de räknats'),
    h('ul', { class: 'deadlines' }, deadlines));
}

export async function renderWorklist(main) {
  const held = h('div', { class: 'table-wrap' });
  const due = h('div', { class: 'table-wrap' });
  const missed = h('div', { class: 'table-wrap' });
  const detail = h('section', { class: 'panel', id: 'episode-detail', 'aria-live': 'polite', tabindex: '-1' },
    h('h2', {}, 'Tidslinje'), h('p', { class: 'muted' }, 'Välj ett vårdtillfälle i listorna ovan.'));
  let episodes = new Map();

  async function show(id) {
    try {
      const { data } = await api.episode(id, { withinHours: 24 });
      replace(detail, h('h2', {}, 'Tidslinje'), timeline(data));
      detail.focus();
    } catch (e) {
      replace(detail, h('h2', {}, 'Tidslinje'), h('p', { class: 'error' }, `Kunde inte hämtas (${e.message}).`));
    }
  }
  const open = (id, label) => h('button', { type: 'button', class: 'link', onclick: () => show(id) }, label || id);
  const patientOf = (id) => {
    const v = episodes.get(id);
    return v && v.patient ? `${v.patient.name || ''}` : '–';
  };

  async function load() {
    let views, soon, late, heldNotes;
    try {
      [views, soon, late, heldNotes] = await Promise.all([
        all(api.episodes, {}),
        all(api.deadlines, { state: 'at_risk', withinHours: 24 }),
        all(api.deadlines, { state: 'missed' }),
        all(api.inbox, { kind: 'noticeHeld' }),
      ]);
    } catch (e) {
      replace(held, h('p', { class: 'error', role: 'alert' }, `Arbetslistan kunde inte hämtas (${e.message}).`));
      return;
    }
    episodes = new Map(views.map((v) => [v.episodeId, v]));
    // The missing content named by the engine's noticeHeld notification (field names only).
    const missing = new Map();
    for (const it of heldNotes) {
      const nh = it.notification.noticeHeld || {};
      if (nh.missingFields && nh.missingFields.length) missing.set(it.notification.episodeId, nh.missingFields);
    }
    const heldRows = [];
    for (const v of views) {
      for (const n of v.notices || []) {
        if (!n.held) continue;
        const why = HELD_REASON[n.heldReason] || n.heldReason;
        const fields = n.heldReason === 'MISSING_CONTENT' && missing.get(v.episodeId)
          ? `: ${missingText(missing.get(v.episodeId))}` : '';
        heldRows.push(h('tr', {},
          h('td', {}, open(v.episodeId)), h('td', {}, patientOf(v.episodeId)),
          h('td', {}, NOTICE[n.kind] || n.kind), h('td', {}, orgText(n.recipient)),
          h('td', {}, why + fields), h('td', {}, fmt.time(n.heldAt))));
      }
    }
    replace(held, table('Meddelanden som hålls inne', ['Vårdtillfälle', 'Patient', 'Meddelande', 'Mottagare', 'Varför', 'Sedan'], heldRows, { id: 'held-table' }));
    soon.sort((a, b) => new Date(a.dueAt) - new Date(b.dueAt));
    replace(due, table('Tidsfrister inom 24 timmar, mest brådskande först',
      ['Brådska', 'Vårdtillfälle', 'Patient', 'Tidsfrist', 'Ansvarig', 'Sista tid'],
      soon.map((d) => {
        const u = urgency(d.dueAt);
        return h('tr', { class: u.cls },
          h('td', {}, h('span', { class: `pill ${u.cls}` }, u.label)), h('td', {}, open(d.episodeId)),
          h('td', {}, patientOf(d.episodeId)), h('td', {}, DEADLINE[d.kind] || d.kind),
          h('td', {}, orgText(d.responsible)), h('td', {}, `${fmt.time(d.dueAt)} (${fmt.relative(d.dueAt)})`));
      }), { id: 'due-table' }));
    late.sort((a, b) => new Date(b.dueAt) - new Date(a.dueAt));
    replace(missed, table('Missade tidsfrister, senaste först',
      ['Vårdtillfälle', 'Patient', 'Tidsfrist', 'Ansvarig', 'Sista tid', 'Uppfylld'],
      late.slice(0, 200).map((d) => h('tr', {},
        h('td', {}, open(d.episodeId)), h('td', {}, patientOf(d.episodeId)),
        h('td', {}, DEADLINE[d.kind] || d.kind), h('td', {}, orgText(d.responsible)),
        h('td', {}, fmt.time(d.dueAt)), h('td', {}, d.fulfilledAt ? fmt.time(d.fulfilledAt) : 'ej uppfylld'))),
      { id: 'missed-table' }));
  }

  replace(main,
    h('section', { class: 'panel', 'aria-labelledby': 'wl-h' },
      h('h1', { id: 'wl-h' }, 'Avdelningens arbetslista'),
      h('h2', {}, 'Hållna meddelanden'), held,
      h('h2', {}, 'Förfaller inom 24 timmar'), due,
      h('h2', {}, 'Missade tidsfrister'), missed),
    detail);
  await load();
  return load;
}
