// The API client: every call carries the bearer token in the Authorization header, never in the
// URL. The token lives in sessionStorage (gone when the tab closes); nothing else is stored in
// the browser: patient data stays in memory, in the page.

const KEY = 'samordna.token';

export function token() {
  return sessionStorage.getItem(KEY);
}

export function setToken(t) {
  if (t) sessionStorage.setItem(KEY, t);
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path, { query, body, accept, signal } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
  }
  const headers = { Authorization: `Bearer ${token()}` };
  if (accept) headers.Accept = accept;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    cache: 'no-store',
  });
  if (res.status === 401) {
    window.dispatchEvent(new CustomEvent('samordna:unauthorized'));
  }
  return res;
}

async function json(method, path, opts) {
  const res = await call(method, path, opts);
  let data = null;
  const type = res.headers.get('Content-Type') || '';
  if (type.includes('json')) data = await res.json();
  if (!res.ok) throw new ApiError(res.status, data && data.error, data && data.message);
  return { status: res.status, data };
}

export const api = {
  session: () => json('GET', '/api/v1/session'),
  inbox: (query) => json('GET', '/api/v1/notifications', { query }),
  notification: (ref) => json('GET', `/api/v1/notifications/${encodeURIComponent(ref)}`),
  ack: (ref) => json('POST', `/api/v1/notifications/${encodeURIComponent(ref)}/ack`),
  episodes: (query) => json('GET', '/api/v1/episodes', { query }),
  episode: (id, query) => json('GET', `/api/v1/episodes/${encodeURIComponent(id)}`, { query }),
  deadlines: (query) => json('GET', '/api/v1/deadlines', { query }),
  stats: (which, query) => json('GET', `/api/v1/statistics/${which}`, { query }),
  // The CSV of a statistics route, as a Blob (the token cannot ride in a download link's URL).
  statsCsv: async (which, query) => {
    const res = await call('GET', `/api/v1/statistics/${which}`, {
      query: { ...query, format: 'csv' },
      accept: 'text/csv',
    });
    if (!res.ok) throw new ApiError(res.status);
    return res.blob();
  },
  stream: (after, signal) => call('GET', '/api/v1/events/stream', { query: { after }, signal }),
};

// Every page of a list route, up to `max` items.
export async function all(fetchPage, query, max = 2000) {
  const items = [];
  let offset = 0;
  for (;;) {
    const { data } = await fetchPage({ ...query, limit: 500, offset });
    items.push(...data.items);
    if (data.nextOffset === undefined || items.length >= max) break;
    offset = data.nextOffset;
  }
  return items;
}
