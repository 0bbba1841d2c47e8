// The console's API client (docs/console.md, "HTTP API") and its live
// stream. Requests go to the console's own origin with its session cookie;
// every state-changing request carries X-Xunjian-Console: 1.

import { backoffDelay } from './lib.js';

/** ApiError is a failed API call: the HTTP status and the API's error. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || ('HTTP ' + status));
    this.name = 'ApiError';
    this.status = status;
    this.code = code || '';
  }
}

const CONSOLE_HEADER = { 'X-Xunjian-Console': '1' };

async function errorOf(res) {
  let code = '';
  let message = '';
  try {
    const body = await res.json();
    if (body && body.error) {
      code = String(body.error.code || '');
      message = String(body.error.message || '');
    }
  } catch {
    // not the API's JSON (a proxy's page): the status says enough
  }
  return new ApiError(res.status, code, message || res.statusText);
}

/**
 * request calls the API: method, path (with its query) and an optional
 * JSON body; it returns the decoded JSON (null for an empty body) or
 * throws an ApiError (status 0 when the network failed). Extra headers
 * come in opts.headers.
 */
export async function request(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json', ...(opts.headers || {}) };
  if (method !== 'GET' && method !== 'HEAD') Object.assign(headers, CONSOLE_HEADER);
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (opts.signal) init.signal = opts.signal;
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', e && e.message ? e.message : String(e));
  }
  if (!res.ok) throw await errorOf(res);
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(res.status, 'bad_response', 'not JSON');
  }
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body, opts) => request('POST', path, body, opts);
export const put = (path, body, opts) => request('PUT', path, body, opts);
export const del = (path, opts) => request('DELETE', path, undefined, opts);

/** signIn trades a key or token for the session cookie. */
export function signIn(credential) {
  return request('POST', '/api/session', undefined, { headers: { Authorization: 'Bearer ' + credential } });
}

/**
 * Stream is the live stream, GET /api/stream (Server-Sent Events), kept
 * open: after an error it closes the EventSource and reconnects with
 * backoff. Handlers: alert(a), update(a), open(again) — again is true
 * when a stream was open or failed before, so events may have been
 * missed: the caller refetches —, status('connecting' | 'live' |
 * 'reconnecting'), error() before a reconnection is scheduled.
 */
export class Stream {
  constructor(url, handlers) {
    this.url = url;
    this.on = handlers;
    this.es = null;
    this.timer = 0;
    this.attempt = 0;
    this.opened = false;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.es) this.es.close();
    this.es = null;
  }

  connect() {
    if (this.stopped) return;
    this.on.status(this.opened ? 'reconnecting' : 'connecting');
    const es = new EventSource(this.url);
    this.es = es;
    es.addEventListener('open', () => {
      const again = this.opened;
      this.opened = true;
      this.attempt = 0;
      this.on.status('live');
      this.on.open(again);
    });
    const data = (fn) => (e) => {
      let a;
      try {
        a = JSON.parse(e.data);
      } catch {
        return;
      }
      if (a && typeof a === 'object' && a.id !== undefined) fn(a);
    };
    es.addEventListener('alert', data((a) => this.on.alert(a)));
    es.addEventListener('update', data((a) => this.on.update(a)));
    es.addEventListener('error', () => {
      if (this.es !== es) return;
      es.close();
      this.es = null;
      if (this.stopped) return;
      this.on.status('reconnecting');
      this.on.error();
      this.opened = true; // the next open is a reconnection: refetch
      this.timer = setTimeout(() => this.connect(), backoffDelay(this.attempt++));
    });
  }
}
