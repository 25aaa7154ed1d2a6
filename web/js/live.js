// The live stream: GET /api/v1/events/stream read with fetch() so that the token goes in the
// Authorization header (EventSource cannot send one) and never in the URL. Server-sent events
// in long-poll form: each answer carries the events since `after` (or a position after the hold
// time), and the loop asks again with the last id. The events carry no patient data; the views
// fetch what changed through the audited routes.

import { api } from './api.js';

// Parses a text/event-stream body into events {event, id, data}.
export function parseSse(text) {
  const out = [];
  let cur = { event: 'message', data: [] };
  for (const line of text.split(/\r?\n/)) {
    if (line === '') {
      if (cur.data.length || cur.id !== undefined) out.push({ ...cur, data: cur.data.join('\n') });
      cur = { event: 'message', data: [] };
      continue;
    }
    if (line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
    if (field === 'event') cur.event = value;
    else if (field === 'data') cur.data.push(value);
    else if (field === 'id') cur.id = value;
    else if (field === 'retry') cur.retry = Number(value);
  }
  return out;
}

export class Live {
  constructor({ onEvents, onStatus }) {
    this.onEvents = onEvents;
    this.onStatus = onStatus;
    this.after = null;
    this.stopped = false;
    this.abort = null;
  }

  start() {
    this.stopped = false;
    this.loop();
  }

  stop() {
    this.stopped = true;
    if (this.abort) this.abort.abort();
  }

  async loop() {
    let retry = 2000;
    while (!this.stopped) {
      this.abort = new AbortController();
      try {
        const res = await api.stream(this.after, this.abort.signal);
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const events = parseSse(await res.text());
        const news = [];
        for (const e of events) {
          if (e.retry) retry = e.retry;
          if (e.id !== undefined) this.after = e.id;
          if (e.event === 'notification') news.push(JSON.parse(e.data));
        }
        this.onStatus('ansluten');
        if (news.length) this.onEvents(news);
      } catch (err) {
        if (this.stopped) return;
        this.onStatus('frånkopplad, försöker igen');
        await new Promise((r) => setTimeout(r, retry));
      }
    }
  }
}
