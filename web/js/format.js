// Swedish labels and Swedish local time (Europe/Stockholm), whatever the browser's zone.

const TZ = 'Europe/Stockholm';
const dateTime = new Intl.DateTimeFormat('sv-SE', {
  timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
});
const dateOnly = new Intl.DateTimeFormat('sv-SE', {
  timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit',
});
const number = new Intl.NumberFormat('sv-SE');
const decimal = new Intl.NumberFormat('sv-SE', { maximumFractionDigits: 1, minimumFractionDigits: 1 });

export const fmt = {
  time: (iso) => (iso ? dateTime.format(new Date(iso)) : '–'),
  date: (iso) => (iso ? dateOnly.format(new Date(iso)) : '–'),
  num: (n) => number.format(n ?? 0),
  dec: (n) => decimal.format(n ?? 0),
  sek: (n) => (n === null || n === undefined ? '–' : `${number.format(n)} kr`),
  // "om 3 h 20 min" / "för 2 h sedan", for deadlines.
  relative: (iso, now = Date.now()) => {
    const ms = new Date(iso).getTime() - now;
    const mins = Math.round(Math.abs(ms) / 60000);
    const h = Math.floor(mins / 60);
    const m = mins % 60;
    const text = h > 0 ? `${h} h ${m} min` : `${m} min`;
    return ms >= 0 ? `om ${text}` : `för ${text} sedan`;
  },
};

// The local date (YYYY-MM-DD) of an instant in Swedish time.
export function localDate(iso) {
  return new Intl.DateTimeFormat('sv-SE', { timeZone: TZ }).format(new Date(iso));
}

const wallParts = new Intl.DateTimeFormat('en-US', {
  timeZone: TZ, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
  hour: 'numeric', minute: 'numeric', second: 'numeric',
});
// Stockholm's offset from UTC (ms) at an instant, from Intl's own zone data: the browser's zone
// never enters, and summer time is whatever the tz database says for that date.
function offsetAt(ms) {
  const p = Object.fromEntries(wallParts.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - Math.floor(ms / 1000) * 1000;
}

// The instant (RFC 3339, UTC) at which a Swedish calendar day (YYYY-MM-DD, as a date input gives
// it) begins; `days` moves to a later day first. A filter "from D to E" is then the instants in
// [dayStart(D), dayStart(E, 1)): the API compares instants, the user means Swedish days.
// Midnight is never inside a daylight-saving gap in Sweden (the changes are at 02:00 and 03:00).
export function dayStart(day, days = 0) {
  const [y, m, d] = day.split('-').map(Number);
  const wall = Date.UTC(y, m - 1, d + days);
  const first = wall - offsetAt(wall);
  return new Date(wall - offsetAt(first)).toISOString().replace('.000Z', 'Z');
}

export const KIND = {
  admissionNotice: 'Inskrivningsmeddelande',
  dischargeReadyNotice: 'Underrättelse om utskrivningsklar patient',
  estimatedDischargeUpdate: 'Ny beräknad tidpunkt för utskrivning',
  admissionCancellation: 'Makulerad inskrivning',
  deadlineMissed: 'Missad tidsfrist',
  deadlineMissRetracted: 'Missad tidsfrist återkallad',
  deadlineReminder: 'Påminnelse om tidsfrist',
  noticeHeld: 'Meddelande hållet',
  warning: 'Varning',
  paymentLiability: 'Betalningsansvar',
  paymentLiabilityWithdrawn: 'Betalningsansvar återkallat',
};

// The notices a recipient acknowledges (kvittens), as the API has it.
export const NOTICE_KINDS = ['admissionNotice', 'dischargeReadyNotice', 'estimatedDischargeUpdate',
  'admissionCancellation'];

export const DEADLINE = {
  ADMISSION_NOTICE: 'Inskrivningsmeddelande inom 24 h',
  CARE_CONTACT: 'Fast vårdkontakt före utskrivning',
  INFORMATION_TRANSFER: 'Informationsöverföring senast utskrivningsdagen',
  SIP_INVITATION: 'SIP-kallelse inom 3 dagar',
};

export const HELD_REASON = {
  MISSING_CONSENT: 'Samtycke till informationsöverföring saknas (sekretess)',
  MISSING_CONTENT: 'Innehåll som lagen kräver saknas',
  REASON_UNSPECIFIED: 'Okänd orsak',
};

// The content an admission notice must hold (2 kap. 2 §), by the field names noticeHeld carries.
export const MISSING_FIELD = {
  'patient.name': 'namn',
  'patient.address': 'folkbokföringsadress',
  estimatedDischargeAt: 'beräknad tidpunkt för utskrivning',
};
export const missingText = (fields) => (fields || []).map((f) => MISSING_FIELD[f] || f).join(', ');

export const NOTICE = {
  ADMISSION_NOTICE: 'Inskrivningsmeddelande',
  DISCHARGE_READY_NOTICE: 'Underrättelse om utskrivningsklar',
  ESTIMATED_DISCHARGE_UPDATE: 'Ny beräknad utskrivning',
  ADMISSION_CANCELLATION: 'Makulerad inskrivning',
  INFORMATION_TRANSFER: 'Informationsöverföring',
};

export const SERVICE = {
  SOCIAL_SERVICES: 'Socialtjänst',
  MUNICIPAL_HEALTH_CARE: 'Kommunal hälso- och sjukvård',
  OUTPATIENT_CARE: 'Regionfinansierad öppen vård',
};

// A notice's delivery to the organisation's own system (`samordna deliver`), as a caseworker reads
// it: GET /api/v1/notifications/{ref}'s `delivery` items.
export function deliveryText(d) {
  switch (d.state) {
    case 'delivered': return 'Levererad';
    case 'retrying':
      return d.nextAttemptAt ? `Försöker igen (nästa försök ${fmt.time(d.nextAttemptAt)})` : 'Försöker igen';
    case 'dead_lettered':
      if (d.code === 'rejected') return 'Kunde inte levereras (avvisad av ert system)';
      if (d.code === 'exhausted') return `Kunde inte levereras (gav upp efter ${fmt.num(d.attempts)} försök)`;
      if (d.code === 'unprintable') return 'Kunde inte levereras (meddelandet gick inte att skapa i ert format)';
      return 'Kunde inte levereras';
    case 'disabled': return 'Mottagaren har stängt adressen';
    default: return d.state;
  }
}

export const ORG_KIND = {
  MUNICIPALITY: 'Kommun',
  OUTPATIENT_UNIT: 'Öppenvårdsenhet',
  WARD: 'Vårdavdelning',
  REGION: 'Region',
};

export const ROLE = {
  caseworker: 'handläggare',
  coordinator: 'samordnare',
  auditor: 'granskare',
  operator: 'drift',
};

export const STATUS = {
  open: 'Pågår', at_risk: 'Snart', met: 'Uppfylld', missed: 'Missad', waived: 'Bortfallen',
};

export const EPISODE_STATUS = {
  OPEN: 'Inskriven', DISCHARGED: 'Utskriven', SETTLED: 'Avslutad', CANCELLED: 'Makulerad',
};

// The part of a notification that is its kind (the oneof's JSON name).
export function kindOf(n) {
  return Object.keys(KIND).find((k) => n[k] !== undefined) || 'okänd';
}
