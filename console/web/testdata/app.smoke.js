// A smoke test of the whole application (app.js) in jsdom, against a mock of
// the API of docs/console.md: sign-in, the wall (sorting, live inserts and
// updates, announcements), the keyboard, take / resolve / note with 409, the
// filters in the URL, the conversation and agent views, the language toggle,
// reconnection and sign-out. It needs jsdom, which the repository does not
// ship: TestAppSmoke (js_test.go) runs it only when XUNJIAN_WEB_NODE_MODULES
// names a node_modules directory holding jsdom (`npm install jsdom` in any
// folder). It runs in a temporary directory next to the assets.

import { JSDOM } from 'jsdom';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';

const html = readFileSync(new URL('./index.html', import.meta.url), 'utf8').replace(/<script[^>]*><\/script>/, '');
const dom = new JSDOM(html, { url: 'http://localhost/?lang=en', pretendToBeVisual: true });
const w = dom.window;
w.Element.prototype.scrollIntoView = function () {};
if (!w.HTMLDialogElement.prototype.showModal) {
  w.HTMLDialogElement.prototype.showModal = function () { this.setAttribute('open', ''); };
  w.HTMLDialogElement.prototype.close = function () {
    if (!this.hasAttribute('open')) return;
    this.removeAttribute('open');
    this.dispatchEvent(new w.Event('close'));
  };
}
for (const k of ['window', 'document', 'history', 'location', 'localStorage', 'Element', 'HTMLElement', 'Node', 'requestAnimationFrame']) {
  Object.defineProperty(globalThis, k, { value: k === 'window' ? w : w[k], configurable: true, writable: true });
}
Object.defineProperty(globalThis, 'navigator', { value: { languages: ['en-US'], language: 'en-US' }, configurable: true });

const errors = [];
w.addEventListener('error', (e) => errors.push(e.error || e.message));
process.on('unhandledRejection', (e) => { errors.push(e); console.error('UNHANDLED', e); });

// ---------------------------------------------------------------- API mock
const T0 = Date.now();
const iso = (msAgo) => new Date(T0 - msAgo).toISOString().replace('Z', '123456Z').replace(/\.(\d{3})123456Z/, '.$1123456Z');
const api = {
  authed: false,
  me: { subject: 'alice', tenant: 'acme', role: 'supervisor', teams: ['t1'], dev: false },
  alerts: [
    { id: 1, event_id: 'e1', tenant: 'acme', team: 't1', agent_id: 'ag1', conversation_id: 'c1', level: 'high', kind: 'complaint', message: '<img src=x onerror=alert(1)> 顾客威胁投诉', risk: 0.8, created_at: iso(120000), state: 'new', version: 1, updated_at: iso(0) },
    { id: 2, event_id: 'e2', tenant: 'acme', team: 't1', agent_id: 'ag2', conversation_id: 'c2', level: 'low', kind: 'wait', message: 'slow', risk: 0.1, created_at: iso(3600000), state: 'acknowledged', assignee: 'bob', version: 3, updated_at: iso(0) },
    { id: 3, event_id: 'e3', tenant: 'acme', team: 't1', agent_id: 'ag1', conversation_id: 'c1', level: 'critical', kind: 'risk', message: 'risk!', risk: 0.95, created_at: iso(30000), state: 'new', version: 1, updated_at: iso(0) },
  ],
  requests: [],
};
const json = (status, body) => new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
const err = (status, code, message) => json(status, { error: { code, message } });

globalThis.fetch = async (input, init = {}) => {
  const url = String(input);
  if (url.startsWith('file:')) return new Response(readFileSync(new URL(url)), { status: 200 });
  const u = new URL(url, 'http://localhost');
  const method = init.method || 'GET';
  const headers = init.headers || {};
  api.requests.push({ method, path: u.pathname + u.search, headers, body: init.body });
  if (u.pathname === '/api/session' && method === 'POST') {
    assert.equal(headers['X-Xunjian-Console'], '1');
    if (headers.Authorization !== 'Bearer good-key') return err(401, 'unauthenticated', 'bad key');
    api.authed = true;
    return new Response(null, { status: 204 });
  }
  if (u.pathname === '/api/session' && method === 'DELETE') {
    assert.equal(headers['X-Xunjian-Console'], '1');
    api.authed = false;
    return new Response(null, { status: 204 });
  }
  if (!api.authed) return err(401, 'unauthenticated', 'sign in');
  if (u.pathname === '/api/me') return json(200, api.me);
  if (u.pathname === '/api/alerts') {
    const states = (u.searchParams.get('state') || 'new,acknowledged').split(',');
    let list = api.alerts.filter((a) => states.includes(a.state));
    for (const [k, f] of [['agent', 'agent_id'], ['team', 'team'], ['kind', 'kind']]) {
      if (u.searchParams.get(k)) list = list.filter((a) => a[f] === u.searchParams.get(k));
    }
    const ranks = ['low', 'medium', 'high', 'critical'];
    if (u.searchParams.get('min_level')) list = list.filter((a) => ranks.indexOf(a.level) >= ranks.indexOf(u.searchParams.get('min_level')));
    return json(200, { alerts: list, next: '' });
  }
  let m = /^\/api\/alerts\/(\d+)$/.exec(u.pathname);
  if (m) {
    const a = api.alerts.find((x) => x.id === +m[1]);
    return a ? json(200, { alert: a, history: [{ actor: 'bob', at: iso(1000), from: 'new', to: 'acknowledged', assignee: 'bob', note: '<b>hi</b>' }] }) : err(404, 'not_found', 'no');
  }
  m = /^\/api\/alerts\/(\d+)\/transition$/.exec(u.pathname);
  if (m && method === 'POST') {
    assert.equal(headers['X-Xunjian-Console'], '1');
    const body = JSON.parse(init.body);
    const i = api.alerts.findIndex((x) => x.id === +m[1]);
    const a = api.alerts[i];
    if (body.version && body.version !== a.version) return err(409, 'conflict', 'changed');
    if (a.state === 'resolved' || (a.state === 'acknowledged' && body.to === 'acknowledged')) return err(422, 'invalid_transition', `${a.state} → ${body.to}`);
    const na = { ...a, state: body.to, version: a.version + 1, assignee: body.assignee || a.assignee, note: body.note || a.note };
    api.alerts[i] = na;
    return json(200, na);
  }
  m = /^\/api\/conversations\/(.+)$/.exec(u.pathname);
  if (m) {
    const id = decodeURIComponent(m[1]);
    const text = '你好😀，我的电话 138****5678';
    return json(200, {
      tenant: 'acme', id, agent_id: 'ag1', risk: 0.95, turns: [
        { role: 'customer', ts: iso(200000), delivered: true, text_masked: '<script>alert(1)</script>我要投诉', findings: [], risk: 0, sampled: false, alerts: [] },
        { event_id: 'e1', role: 'agent', ts: iso(120000), agent_id: 'ag1', action: 'block', delivered: false, text_masked: text, findings: [{ detector: 'privacy', kind: 'phone', severity: 'high', score: 0.9, start: 9, end: 20, evidence: '138****5678' }], risk: 0.8, sampled: true, alerts: api.alerts.filter((a) => a.event_id === 'e1') },
        { event_id: 'e3', role: 'agent', ts: iso(30000), agent_id: 'ag1', action: 'allow', delivered: true, text_masked: 'ok', findings: [], risk: 0.95, sampled: false, alerts: api.alerts.filter((a) => a.event_id === 'e3') },
      ],
    });
  }
  m = /^\/api\/agents\/(.+)\/stats$/.exec(u.pathname);
  if (m) return json(200, { agent: decodeURIComponent(m[1]), buckets: Array.from({ length: 25 }, (_, i) => ({ start: iso((24 - i) * 3600000), findings: i % 5, alerts: i % 7 === 0 ? 1 : 0 })) });
  if (u.pathname === '/api/counters') return json(200, { window: u.searchParams.get('window'), alerts: { complaint: 3, risk: 1 }, findings: { 'privacy.phone': 4 }, open: { critical: 1, high: 1, low: 1 } });
  return err(404, 'not_found', u.pathname);
};

class FakeES {
  static all = [];
  constructor(url) { this.url = url; this.l = {}; this.closed = false; FakeES.all.push(this); }
  addEventListener(t, f) { (this.l[t] ||= []).push(f); }
  close() { this.closed = true; }
  emit(t, data) { for (const f of this.l[t] || []) f({ data: data === undefined ? undefined : JSON.stringify(data) }); }
}
globalThis.EventSource = FakeES;

const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));
const $ = (s) => w.document.querySelector(s);
const $$ = (s) => [...w.document.querySelectorAll(s)];
const key = (k, target = w.document.activeElement || w.document.body, extra = {}) => target.dispatchEvent(new w.KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true, ...extra }));
const rowIds = (scope = '') => $$(`${scope} tr[data-alert-id]`).map((r) => +r.getAttribute('data-alert-id'));

// ---------------------------------------------------------------- run
await import('./app.js');
await tick(50);

// Sign-in screen
assert.ok($('#credential'), 'sign-in screen');
assert.equal(w.document.documentElement.lang, 'en');
$('#credential').value = 'bad';
$('form.signin-card').dispatchEvent(new w.Event('submit', { cancelable: true }));
await tick();
assert.match($('.signin-card .error').textContent, /not accepted/);
$('#credential').value = 'good-key';
$('form.signin-card').dispatchEvent(new w.Event('submit', { cancelable: true }));
await tick(60);
assert.ok($('header.top'), 'app after sign-in');
assert.equal($('#credential'), null);

// Wall
assert.deepEqual(rowIds(), [3, 1, 2], 'sorted');
assert.ok($$('td.c-msg')[1].textContent.includes('<img src=x onerror=alert(1)>'), 'text, not html');
assert.equal($$('img').length, 0);
assert.equal($('tr[data-alert-id="3"]').getAttribute('aria-selected'), 'true', 'first selected');
assert.equal($('.badge.lvl-critical').textContent, 'Critical');
assert.match($('#counters-body').textContent, /complaint/);
const es = FakeES.all.at(-1);
es.emit('open');
assert.equal($('#stream-status').textContent, 'Live');

// Live alert: medium, lands between 1 (high) and 2 (low)
api.alerts.push({ id: 4, event_id: 'e4', tenant: 'acme', team: 't1', agent_id: 'ag3', conversation_id: 'c3', level: 'medium', kind: 'rude', message: 'rude', risk: 0.5, created_at: new Date().toISOString(), state: 'new', version: 1 });
es.emit('alert', api.alerts.at(-1));
await tick();
assert.deepEqual(rowIds(), [3, 1, 4, 2]);
// Live critical: announced
api.alerts.push({ id: 5, event_id: 'e5', tenant: 'acme', team: 't1', agent_id: 'ag3', conversation_id: 'c3', level: 'critical', kind: 'risk', message: '顾客要报警', risk: 0.99, created_at: new Date().toISOString(), state: 'new', version: 1 });
es.emit('alert', api.alerts.at(-1));
await tick(500);
assert.deepEqual(rowIds(), [5, 3, 1, 4, 2]);
assert.match($('#announcer').textContent, /New Critical alert, risk, agent ag3: 顾客要报警/);

// Keyboard: j moves, a takes
w.document.body.focus();
key('j');
assert.equal(w.document.activeElement.getAttribute('data-alert-id'), '1', 'j → the row after 3 (the selection stayed on 3 over the inserts)');
key('j');
assert.equal(w.document.activeElement.getAttribute('data-alert-id'), '4');
key('k');
assert.equal(w.document.activeElement.getAttribute('data-alert-id'), '1');
key('a');
await tick(50);
let tr = api.requests.filter((r) => r.path.endsWith('/transition')).at(-1);
assert.equal(tr.path, '/api/alerts/1/transition');
assert.deepEqual(JSON.parse(tr.body), { to: 'acknowledged', version: 1, assignee: 'alice' });
assert.equal($('tr[data-alert-id="1"] .c-assignee').textContent, 'alice');
assert.match($('#status').textContent, /is yours/);
assert.equal(w.document.activeElement.getAttribute('data-alert-id'), '1', 'focus kept on the changed row');

// SSE update replaces by id (someone resolves 4 → leaves the default wall)
const a4 = { ...api.alerts.find((a) => a.id === 4), state: 'resolved', version: 2 };
api.alerts[api.alerts.findIndex((a) => a.id === 4)] = a4;
es.emit('update', a4);
await tick();
assert.deepEqual(rowIds(), [5, 3, 1, 2]);

// 409: the alert changed behind our back (local version stale)
api.alerts[api.alerts.findIndex((a) => a.id === 5)] = { ...api.alerts.find((a) => a.id === 5), assignee: 'carol', state: 'acknowledged', version: 2 };
$('tr[data-alert-id="5"]').focus();
await tick();
key('r', $('tr[data-alert-id="5"]'));
await tick(80);
assert.match($('#status').textContent, /changed by someone else/);
assert.equal($('tr[data-alert-id="5"] .c-assignee').textContent, 'carol', 'reloaded');
// 422 path: take on acknowledged → refused locally
key('a', $('tr[data-alert-id="5"]'));
await tick();
assert.match($('#status').textContent, /not possible/);

// Note dialog
key('n', $('tr[data-alert-id="5"]'));
await tick(50);
const dlg = $('dialog[open]');
assert.ok(dlg, 'note dialog');
assert.equal(w.document.activeElement.id, 'note-text');
assert.match(dlg.textContent, /<b>hi<\/b>/, 'history as text');
assert.equal(dlg.querySelectorAll('b').length, 0);
key('j'); // ignored inside the dialog
assert.ok($('dialog[open]'));
$('#note-text').value = 'called the customer back';
dlg.querySelector('form').dispatchEvent(new w.Event('submit', { cancelable: true }));
await tick(80);
tr = api.requests.filter((r) => r.path.endsWith('/transition')).at(-1);
assert.deepEqual(JSON.parse(tr.body), { to: 'resolved', version: 2, note: 'called the customer back' });
assert.equal($('dialog'), null, 'closed');
assert.deepEqual(rowIds(), [3, 1, 2], 'resolved left the wall');

// Filters reflected in the URL
const kind = $('.filters input[name="kind"]');
key('/', w.document.body);
assert.equal(w.document.activeElement.name, 'team');
kind.value = 'complaint';
kind.dispatchEvent(new w.Event('input', { bubbles: true }));
await tick(500);
assert.equal(w.location.search, '?lang=en&kind=complaint');
assert.deepEqual(rowIds(), [1]);
assert.ok(api.requests.some((r) => r.path.includes('kind=complaint')));
const lvl = $('.filters select[name="min_level"]');
lvl.value = 'critical';
lvl.dispatchEvent(new w.Event('change', { bubbles: true }));
await tick(50);
assert.equal(w.location.search, '?lang=en&kind=complaint&min_level=critical');
assert.deepEqual(rowIds(), []);
assert.match($('tr.empty').textContent, /No alerts match/);
$$('.filters button').find((b) => /Clear/.test(b.textContent)).click();
await tick(50);
assert.equal(w.location.search, '?lang=en');
assert.deepEqual(rowIds(), [3, 1, 2]);

// Conversation view: Enter on the selected row
$('tr[data-alert-id="1"]').focus();
await tick();
key('Enter', $('tr[data-alert-id="1"]'));
await tick(80);
assert.equal(w.location.pathname, '/conversations/c1');
const turns = $$('ol.turns > li');
assert.equal(turns.length, 3);
assert.ok(turns[0].classList.contains('role-customer'));
assert.ok(turns[0].textContent.includes('<script>alert(1)</script>'));
assert.equal($$('script').length, 0);
assert.ok(turns[1].classList.contains('undelivered'));
assert.match(turns[1].textContent, /customer did not see this/);
assert.equal(turns[1].querySelector('mark').firstChild.textContent, '138****5678');
assert.equal(turns[1].querySelector('mark').getAttribute('data-tip'), 'privacy.phone · high');
assert.deepEqual(rowIds('ol.turns'), [1, 3]);
assert.equal($('tr[data-alert-id="1"]').getAttribute('aria-selected'), 'true');
// j in the conversation moves among its alerts
key('j', $('tr[data-alert-id="1"]'));
assert.equal(w.document.activeElement.getAttribute('data-alert-id'), '3');
// Esc: back to the wall
key('Escape');
await tick(80);
// jsdom's history.back is async and fires popstate
await tick(80);
assert.equal(w.location.pathname, '/');
assert.ok($('.filters'), 'wall again');

// Agent view by link
$('tr[data-alert-id="1"] a[data-k="agent"]').dispatchEvent(new w.MouseEvent('click', { bubbles: true, cancelable: true, button: 0 }));
await tick(80);
assert.equal(w.location.pathname, '/agents/ag1');
assert.equal($$('svg.spark').length, 2);
assert.ok($('svg.spark.findings path').getAttribute('d').startsWith('M'));
assert.match($('svg.spark.findings').getAttribute('aria-label'), /Findings per hour: \d+ in the last 24 hours/);
assert.deepEqual(rowIds('[data-list="agent"]'), [3, 1]);
assert.ok(api.requests.some((r) => r.path === '/api/agents/ag1/stats?since=24h&bucket=1h'));
assert.ok(api.requests.some((r) => r.path.startsWith('/api/alerts?') && r.path.includes('agent=ag1')));

// Help overlay and language toggle
key('?', w.document.body);
assert.ok($('dialog[open] dl.keys'));
$('dialog[open]').close();
assert.equal($('dialog'), null);
$$('header button').find((b) => b.textContent === '中文').click();
await tick(30);
assert.equal(w.document.documentElement.lang, 'zh-CN');
assert.equal(w.localStorage.getItem('xunjian.console.lang'), 'zh-CN');
assert.equal(w.location.search, '', 'navigation dropped ?lang=, the language is remembered');
assert.match($('header').textContent, /巡检控制台/);
assert.match($('.agent').textContent, /未关闭的告警/);

// Reconnect: error → backoff → open → refetch
const before = api.requests.length;
es.emit('error');
assert.equal(es.closed, true);
await tick(1100);
const es2 = FakeES.all.at(-1);
assert.notEqual(es2, es);
es2.emit('open');
await tick(50);
assert.ok(api.requests.slice(before).some((r) => r.path.startsWith('/api/alerts?')), 'refetched after reconnect');
assert.ok(api.requests.slice(before).some((r) => r.path.startsWith('/api/me')), 'session checked on error');

// Session expiry during use → sign-in
api.authed = false;
es2.emit('error');
await tick(50);
assert.ok($('#credential'), 'signed out when the session is gone');
assert.match($('.signin-card .error').textContent, /会话已结束/);

// Sign out button
api.authed = true;
$('#credential').value = 'good-key';
$('form.signin-card').dispatchEvent(new w.Event('submit', { cancelable: true }));
await tick(80);
$$('header button').find((b) => b.textContent === '退出登录').click();
await tick(50);
assert.ok($('#credential'));
assert.equal(api.authed, false);

assert.deepEqual(errors, []);
console.log('SMOKE OK');
process.exit(0);
