// Uppföljning (a region's or a municipality's coordinator): missed deadlines per week and month
// with trend charts and by kind, unit and municipality; days as discharge-ready per municipality
// (SKR's indicators); payment liability per municipality and month; CSV from the API's routes.

import { api } from './api.js';
import { h, replace, table } from './dom.js';
import { barChart } from './charts.js';
import { fmt, DEADLINE, ORG_KIND } from './format.js';

function sum(rows, key, val) {
  const m = new Map();
  for (const r of rows) m.set(key(r), (m.get(key(r)) || 0) + val(r));
  return m;
}

// A row's amount: none known ("–") when no stay in it had a daily rate (the rule set lacks that
// year's figure), rather than the API's 0, which would read as nothing owed.
function amount(r) {
  return r.liableStays > 0 && r.staysWithoutAmount >= r.liableStays ? '–' : fmt.sek(r.amountSek);
}

function csvButton(which, label) {
  const b = h('button', { type: 'button', class: 'secondary small' }, `Ladda ner CSV: ${label}`);
  b.addEventListener('click', async () => {
    const blob = await api.statsCsv(which, {});
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: `samordna-${which}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });
  return b;
}

export async function renderFollowup(main, { session }) {
  const box = h('div', {});
  replace(main, h('section', { class: 'panel', 'aria-labelledby': 'fu-h' },
    h('h1', { id: 'fu-h' }, 'Uppföljning'),
    h('p', { class: 'muted' }, session.org.kind === 'REGION'
      ? `Region ${session.org.id}: alla kommuner i regionen.` : `Kommun ${session.org.id}.`),
    box));

  async function load() {
    let missed, weekly, dr, liab;
    try {
      [missed, weekly, dr, liab] = await Promise.all([
        api.stats('missed-deadlines', {}),
        api.stats('missed-deadlines', { period: 'week' }),
        api.stats('discharge-ready', {}),
        api.stats('payment-liability', {}),
      ]);
    } catch (e) {
      replace(box, h('p', { class: 'error', role: 'alert' }, `Statistiken kunde inte hämtas (${e.message}).`));
      return;
    }
    const m = missed.data.items;
    const byMonth = [...sum(m, (r) => r.month, (r) => r.missed)].sort();
    // Counted by the API over every missed deadline (ISO weeks of the local due date).
    const byWeek = [...sum(weekly.data.items, (r) => r.week, (r) => r.missed)].sort().slice(-26);
    const byKind = [...sum(m, (r) => r.deadline, (r) => r.missed)].sort((a, b) => b[1] - a[1]);
    const byUnit = [...sum(m, (r) => `${ORG_KIND[r.unitKind] || r.unitKind} ${r.unit}`, (r) => r.missed)].sort((a, b) => b[1] - a[1]);
    const byMunicipality = [...sum(m, (r) => r.municipality || '–', (r) => r.missed)].sort((a, b) => b[1] - a[1]);

    const d = dr.data.items;
    const drMun = [...sum(d, (r) => r.municipality, (r) => r.days)].map(([mun, days]) => {
      const stays = d.filter((r) => r.municipality === mun).reduce((a, r) => a + r.stays, 0);
      return { mun, days, stays, mean: stays ? days / stays : 0 };
    }).sort((a, b) => b.mean - a.mean);

    const l = liab.data.items.slice().sort((a, b) => (a.municipality + a.month).localeCompare(b.municipality + b.month));

    replace(box,
      h('h2', {}, 'Missade tidsfrister'),
      h('div', { class: 'charts' },
        h('figure', {}, barChart('Missade tidsfrister per månad', byMonth.map(([label, value]) => ({ label, value }))),
          h('figcaption', {}, 'Per månad (förfallodag, svensk tid)')),
        h('figure', {}, barChart('Missade tidsfrister per vecka', byWeek.map(([label, value]) => ({ label: label.slice(5), value }))),
          h('figcaption', {}, 'Per vecka, senaste 26 veckorna'))),
      h('div', { class: 'cols' },
        table('Per tidsfrist', ['Tidsfrist', 'Missade'], byKind.map(([k, v]) => h('tr', {}, h('td', {}, DEADLINE[k] || k), h('td', { class: 'num' }, fmt.num(v))))),
        table('Per ansvarig enhet', ['Enhet', 'Missade'], byUnit.slice(0, 15).map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', { class: 'num' }, fmt.num(v))))),
        table('Per kommun (patientens hemkommun)', ['Kommun', 'Missade'], byMunicipality.slice(0, 15).map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', { class: 'num' }, fmt.num(v)))))),
      table('Missade tidsfrister per månad', ['Månad', 'Missade'], byMonth.map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', { class: 'num' }, fmt.num(v)))), { class: 'compact' }),
      csvButton('missed-deadlines', 'missade tidsfrister'),

      h('h2', {}, 'Dagar som utskrivningsklar per kommun'),
      h('figure', {}, barChart('Medelantal dagar som utskrivningsklar per kommun', drMun.map((r) => ({ label: r.mun, value: Number(r.mean.toFixed(1)) })), { unit: ' dagar' }),
        h('figcaption', {}, 'Medel per vårdtillfälle med minst en dag som utskrivningsklar')),
      table('Dagar som utskrivningsklar (SKR:s indikator)', ['Kommun', 'Vårdtillfällen', 'Dagar', 'Medel'],
        drMun.map((r) => h('tr', {}, h('td', {}, r.mun), h('td', { class: 'num' }, fmt.num(r.stays)), h('td', { class: 'num' }, fmt.num(r.days)), h('td', { class: 'num' }, fmt.dec(r.mean))))),
      csvButton('discharge-ready', 'utskrivningsklara dagar'),

      h('h2', {}, 'Betalningsansvar per kommun och månad'),
      h('figure', {}, barChart('Dagar med betalningsansvar per månad, alla kommuner',
        [...sum(l, (r) => r.month, (r) => r.days)].sort().map(([label, value]) => ({ label, value })), { unit: ' dagar' }),
      h('figcaption', {}, 'Dagar med betalningsansvar per utskrivningsmånad')),
      table('Betalningsansvar (5 kap. lag 2017:612)', ['Kommun', 'Månad', 'Vårdtillfällen', 'Dagar', 'Belopp', 'Utan dagsbelopp'],
        l.map((r) => h('tr', {}, h('td', {}, r.municipality), h('td', {}, r.month), h('td', { class: 'num' }, fmt.num(r.liableStays)),
          h('td', { class: 'num' }, fmt.num(r.days)), h('td', { class: 'num' }, amount(r)), h('td', { class: 'num' }, fmt.num(r.staysWithoutAmount)))),
        { id: 'liability-table' }),
      csvButton('payment-liability', 'betalningsansvar'));
  }
  await load();
  return load;
}
