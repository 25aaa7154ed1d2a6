// Inkorg: the notices addressed to the logged-in organisation (municipality, outpatient unit,
// ward), unacknowledged first and newest first as the API orders them; kvittera one or several.
// A kvittens goes POST .../ack -> Kafka -> the engine -> the episode's view -> the read model,
// and shows as acknowledged only once it has come back that way.
// The API filters and pages (a large municipality has tens of thousands of notices): the page
// holds one page of the answer and the counts the API gives with it, never the whole inbox.

import { api } from './api.js';
import { h, replace, table } from './dom.js';
import { fmt, dayStart, deliveryText, KIND, NOTICE_KINDS, SERVICE, DEADLINE, HELD_REASON, missingText } from './format.js';

const PAGE = 50;
const pending = new Map(); // ref -> started (ms): acknowledged, not yet back from the engine

function kindOf(n) {
  return Object.keys(KIND).find((k) => n[k] !== undefined) || '';
}
function body(n) {
  return n[kindOf(n)] || {};
}
function recipientLabel(r) {
  if (!r) return '–';
  return [SERVICE[r.service] || r.service, r.unit].filter(Boolean).join(' · ');
}

function details(n) {
  const b = body(n);
  const p = b.patient || {};
  const rows = [];
  const add = (label, value) => { if (value) rows.push(h('div', {}, h('dt', {}, label), h('dd', {}, value))); };
  add('Namn', p.name);
  add('Personnummer', p.personalId);
  add('Folkbokföringsadress', p.address);
  add('Folkbokföringskommun', p.homeMunicipality);
  add('Avdelning', b.careUnit);
  add('Inskriven', b.admittedAt && fmt.time(b.admittedAt));
  add('Beräknad utskrivning', b.estimatedDischargeAt && fmt.time(b.estimatedDischargeAt));
  add('Utskrivningsklar förklarad', b.declaredAt && fmt.time(b.declaredAt));
  add('Insatser', (b.needs || []).map((s) => SERVICE[s] || s).join(', '));
  add('Tidsfrist', b.deadline && (DEADLINE[b.deadline] || b.deadline));
  add('Sista tid', b.dueAt && fmt.time(b.dueAt));
  add('Orsak', b.reason && (HELD_REASON[b.reason] || b.reason));
  add('Saknat innehåll', missingText(b.missingFields));
  add('Vårdtillfälle', n.episodeId);
  return h('dl', { class: 'details' }, rows);
}

// "Leverans till ert system": the notice's delivery to each of the organisation's own endpoints
// (`samordna deliver`), asked of the API each time the details open. Nothing when it has none.
const DELIVERY_PILL = { delivered: 'ok', retrying: 'wait', dead_lettered: 'missed', disabled: 'missed' };
async function showDelivery(box, ref) {
  // Opened, closed and opened again quickly: only the latest answer is drawn.
  const mine = (box.seq = (box.seq || 0) + 1);
  box.setAttribute('aria-busy', 'true');
  let delivery;
  try {
    ({ data: { delivery = [] } } = await api.notification(ref));
  } catch (e) {
    if (mine !== box.seq) return;
    replace(box, h('p', { class: 'error' }, `Leveransstatus kunde inte hämtas (${e.message}).`));
    box.setAttribute('aria-busy', 'false');
    return;
  }
  if (mine !== box.seq) return;
  replace(box, delivery.length ? table('Leverans till ert system',
    ['System', 'Status', 'Försök', 'Senaste svar', 'Tidpunkt', 'Orsak'],
    delivery.map((d) => h('tr', { class: `delivery ${d.state}`, 'data-endpoint': d.endpoint },
      h('td', {}, d.endpoint),
      h('td', {}, h('span', { class: `pill ${DELIVERY_PILL[d.state] || ''}` }, deliveryText(d))),
      h('td', { class: 'num' }, fmt.num(d.attempts)),
      h('td', {}, d.lastStatus ? `HTTP ${d.lastStatus}` : '–'),
      h('td', {}, fmt.time(d.at)),
      h('td', {}, d.reason || '–'))),
    { class: 'delivery' }) : null);
  box.setAttribute('aria-busy', 'false');
}

// The API's query for the form's filters. Dates are Swedish calendar days: "from D to E" is the
// instants from D's first moment up to, not including, the day after E (`to` is exclusive).
function query(f, offset) {
  return {
    kind: f.kind,
    service: f.service,
    unit: f.unit,
    acknowledged: f.acked,
    from: f.from ? dayStart(f.from) : '',
    to: f.to ? dayStart(f.to, 1) : '',
    limit: PAGE,
    offset,
  };
}

export async function renderInbox(main, { alertUser, refreshUnacked, setUnacked }) {
  const filters = { kind: '', service: '', unit: '', from: '', to: '', acked: 'false' };
  const count = h('p', { class: 'count', id: 'inbox-count', 'aria-live': 'polite' });
  // aria-busy while a page is on its way (assistive technology waits; so does the browser test).
  const list = h('div', { class: 'table-wrap', id: 'inbox-list', 'aria-busy': 'true' });
  const selectAll = h('input', { type: 'checkbox', id: 'select-all', 'aria-label': 'Markera alla okvitterade på sidan' });
  const ackSelected = h('button', { type: 'button', id: 'ack-selected', disabled: true }, 'Kvittera markerade');
  const kindSel = h('select', { id: 'f-kind' }, h('option', { value: '' }, 'Alla typer'),
    Object.entries(KIND).map(([k, v]) => h('option', { value: k }, v)));
  // The recipient's service: a municipality's socialtjänst and its hälso- och sjukvård
  // (hemsjukvård) work different queues. Choices: the services of the whole inbox (the API's).
  const serviceSel = h('select', { id: 'f-service' }, h('option', { value: '' }, 'Alla tjänster'));
  const unitSel = h('select', { id: 'f-unit' }, h('option', { value: '' }, 'Alla enheter'));
  const ackSel = h('select', { id: 'f-acked' },
    h('option', { value: 'false' }, 'Okvitterade'), h('option', { value: 'true' }, 'Kvitterade'),
    h('option', { value: '' }, 'Alla'));
  const from = h('input', { type: 'date', id: 'f-from' });
  const to = h('input', { type: 'date', id: 'f-to' });
  const prev = h('button', { type: 'button', class: 'secondary small', id: 'page-prev', disabled: true }, 'Föregående sida');
  const next = h('button', { type: 'button', class: 'secondary small', id: 'page-next', disabled: true }, 'Nästa sida');
  const where = h('span', { id: 'page-label' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Sidor i inkorgen' }, prev, where, next);
  let items = [];
  let offset = 0;
  let total = 0;
  let nextOffset;
  let unacked = 0;
  const selected = new Set();

  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter för inkorgen' },
    h('div', {}, h('label', { for: 'f-acked' }, 'Visa'), ackSel),
    h('div', {}, h('label', { for: 'f-kind' }, 'Typ'), kindSel),
    h('div', {}, h('label', { for: 'f-service' }, 'Tjänst'), serviceSel),
    h('div', {}, h('label', { for: 'f-unit' }, 'Enhet'), unitSel),
    h('div', {}, h('label', { for: 'f-from' }, 'Från och med'), from),
    h('div', {}, h('label', { for: 'f-to' }, 'Till och med'), to));
  form.addEventListener('change', () => {
    Object.assign(filters, { kind: kindSel.value, service: serviceSel.value, unit: unitSel.value, from: from.value, to: to.value, acked: ackSel.value });
    offset = 0;
    load();
  });
  form.addEventListener('submit', (e) => e.preventDefault());
  prev.addEventListener('click', () => { offset = Math.max(0, offset - PAGE); load(); });
  next.addEventListener('click', () => { if (nextOffset !== undefined) { offset = nextOffset; load(); } });

  async function ack(refs) {
    ackSelected.disabled = true;
    let failed = 0;
    await Promise.all(refs.map(async (ref) => {
      try {
        const { status } = await api.ack(ref);
        if (status === 202) pending.set(ref, Date.now());
      } catch {
        failed += 1;
      }
    }));
    if (failed) alertUser(`${failed} kvittens(er) kunde inte skickas. Försök igen.`, { kind: 'warn' });
    selected.clear();
    await load();
    watchPending();
  }

  // Ask again until the engine's projection shows each kvittens (or give up after a minute).
  let watching = false;
  async function watchPending() {
    if (watching) return;
    watching = true;
    while (pending.size && main.isConnected) {
      await new Promise((r) => setTimeout(r, 1000));
      for (const [ref, started] of pending) {
        try {
          const { data } = await api.notification(ref);
          if (data.acknowledged || Date.now() - started > 60000) pending.delete(ref);
        } catch { pending.delete(ref); }
      }
      if (!pending.size) {
        await load();
        refreshUnacked();
      }
    }
    watching = false;
  }

  const ackable = (it) => NOTICE_KINDS.includes(kindOf(it.notification)) && !it.acknowledged && !pending.has(it.ref);

  function draw() {
    const first = items.length ? offset + 1 : 0;
    count.textContent = `${fmt.num(first)}–${fmt.num(offset + items.length)} av ${fmt.num(total)} visas · `
      + `${fmt.num(unacked)} okvitterade meddelanden totalt`;
    where.textContent = total > PAGE
      ? `Sida ${fmt.num(Math.floor(offset / PAGE) + 1)} av ${fmt.num(Math.ceil(total / PAGE))}` : '';
    prev.disabled = offset === 0;
    next.disabled = nextOffset === undefined || offset + items.length >= total;
    pager.hidden = total <= PAGE && offset === 0;
    ackSelected.disabled = selected.size === 0;
    ackSelected.textContent = selected.size ? `Kvittera markerade (${selected.size})` : 'Kvittera markerade';
    const candidates = items.filter(ackable);
    selectAll.checked = candidates.length > 0 && candidates.every((it) => selected.has(it.ref));
    const trs = [];
    for (const it of items) {
      const n = it.notification;
      const k = kindOf(n);
      const b = body(n);
      const canAck = ackable(it);
      const box = h('input', {
        type: 'checkbox', 'aria-label': `Markera ${KIND[k] || k} ${fmt.time(n.issuedAt)}`,
        disabled: !canAck, checked: selected.has(it.ref),
      });
      box.addEventListener('change', () => {
        if (box.checked) selected.add(it.ref); else selected.delete(it.ref);
        draw();
      });
      let status;
      if (it.acknowledged) status = h('span', { class: 'pill ok' }, `Kvitterad ${fmt.time(it.acknowledgedAt)}`);
      else if (pending.has(it.ref)) status = h('span', { class: 'pill wait' }, 'Kvittens skickad, väntar på bekräftelse');
      else if (NOTICE_KINDS.includes(k)) status = h('span', { class: 'pill new' }, 'Okvitterad');
      else status = h('span', { class: 'pill' }, 'Information');
      const more = h('button', { type: 'button', class: 'link', 'aria-expanded': 'false' }, 'Visa');
      const delivery = h('div', { class: 'delivery-status', 'aria-busy': 'false' });
      const detailRow = h('tr', { class: 'detail', hidden: true }, h('td', { colspan: 7 }, details(n), delivery));
      more.addEventListener('click', () => {
        detailRow.hidden = !detailRow.hidden;
        more.setAttribute('aria-expanded', String(!detailRow.hidden));
        more.textContent = detailRow.hidden ? 'Visa' : 'Dölj';
        if (!detailRow.hidden) showDelivery(delivery, it.ref);
      });
      const ackBtn = canAck
        ? h('button', { type: 'button', class: 'small', onclick: () => ack([it.ref]) }, 'Kvittera')
        : null;
      const patient = b.patient ? `${b.patient.name || ''} ${b.patient.personalId || ''}`.trim() : '';
      trs.push(h('tr', { class: it.acknowledged ? 'acked' : 'unacked', 'data-ref': it.ref },
        h('td', {}, box),
        h('td', {}, KIND[k] || k),
        h('td', {}, patient || '–'),
        h('td', {}, recipientLabel(b.recipient)),
        h('td', {}, fmt.time(n.issuedAt)),
        h('td', {}, status),
        h('td', { class: 'actions' }, ackBtn, more)));
      trs.push(detailRow);
    }
    replace(list, table('Meddelanden till er organisation',
      [selectAll, 'Typ', 'Patient', 'Mottagare', 'Skickat', 'Status', 'Åtgärd'], trs, { id: 'inbox-table' }));
  }

  // "Markera alla" means this page's unacknowledged notices: the ones the user can see.
  selectAll.addEventListener('change', () => {
    for (const it of items.filter(ackable)) {
      if (selectAll.checked) selected.add(it.ref); else selected.delete(it.ref);
    }
    draw();
  });
  ackSelected.addEventListener('click', () => ack([...selected]));

  // Answers can cross (a filter changed twice quickly): only the latest request's is drawn.
  let seq = 0;
  async function load() {
    const mine = ++seq;
    list.setAttribute('aria-busy', 'true');
    let data;
    try {
      ({ data } = await api.inbox(query(filters, offset)));
    } catch (e) {
      if (mine !== seq) return;
      replace(list, h('p', { class: 'error', role: 'alert' }, `Inkorgen kunde inte hämtas (${e.message}).`));
      list.setAttribute('aria-busy', 'false');
      return;
    }
    if (mine !== seq) return;
    // Acknowledged or filtered away past the end (the last page emptied): show the last page.
    if (!data.items.length && offset > 0 && data.total > 0) {
      offset = Math.floor((data.total - 1) / PAGE) * PAGE;
      load();
      return;
    }
    ({ items, total, nextOffset, unacknowledged: unacked } = data);
    for (const it of items) if (it.acknowledged) pending.delete(it.ref);
    // Ticked boxes are only ever ones the user can see on this page.
    const shown = new Set(items.filter(ackable).map((it) => it.ref));
    for (const ref of [...selected]) if (!shown.has(ref)) selected.delete(ref);
    // The units of the whole inbox (the API's), whatever this page holds.
    const units = [...(data.units || [])];
    if (filters.unit && !units.includes(filters.unit)) units.push(filters.unit);
    replace(unitSel, h('option', { value: '' }, 'Alla enheter'), units.map((u) => h('option', { value: u }, u)));
    unitSel.value = filters.unit;
    const services = [...(data.services || [])];
    if (filters.service && !services.includes(filters.service)) services.push(filters.service);
    replace(serviceSel, h('option', { value: '' }, 'Alla tjänster'),
      services.map((v) => h('option', { value: v }, SERVICE[v] || v)));
    serviceSel.value = filters.service;
    setUnacked(unacked);
    draw();
    list.setAttribute('aria-busy', 'false');
  }

  replace(main, h('section', { class: 'panel', 'aria-labelledby': 'inbox-h' },
    h('div', { class: 'head' }, h('h1', { id: 'inbox-h' }, 'Inkorg'), count),
    form,
    h('div', { class: 'bulk' }, ackSelected, pager),
    list));
  await load();
  watchPending();
  return load;
}
