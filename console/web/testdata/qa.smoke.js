// A smoke test of the quality audits' pages (qa.js in app.js) in jsdom,
// against a mock of the API of docs/qa.md: an auditor takes a task from the
// queue (filters, paging, keyboard), judges findings, adds a missed one
// from a text selection, scores the scorecard (weights, auto-fail), asks
// for the raw text, saves and submits; an agent sees only its reviews and
// disputes a finding; a supervisor rules on the dispute and reads quota,
// precision (sorting, export links) and calibration, and is refused the
// raw text. Like app.smoke.js it needs jsdom: TestAppSmoke (js_test.go)
// runs it when XUNJIAN_WEB_NODE_MODULES names a node_modules holding it.

import { JSDOM } from 'jsdom';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';

const html = readFileSync(new URL('./index.html', import.meta.url), 'utf8').replace(/<script[^>]*><\/script>/, '');
const dom = new JSDOM(html, { url: 'http://localhost/?lang=en', pretendToBeVisual: true });
const w = dom.window;
w.Element.prototype.scrollIntoView = function () {};
w.scrollTo = () => {};
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
const iso = (msAhead) => new Date(T0 + msAhead).toISOString();
const H = 3600000;
const EVIL = '<img src=x onerror=alert(1)>';

const T1text = '您好😀，请加我微信 wxid_abc，电话 138****5678';
const cpAt = (text, sub) => Array.from(text.slice(0, text.indexOf(sub))).length;
const conversation = {
  tenant: 'acme', id: 'c1', agent_id: 'ag1', risk: 0.8, turns: [
    { event_id: 'e0', role: 'customer', ts: iso(-3 * H), delivered: true, text_masked: '<script>alert(1)</script>我要打12315投诉', findings: [
      { detector: 'complaint', kind: 'escalation', severity: 'high', score: 0.9, start: 28, end: 33, evidence: '12315', lexicon: 'complaint.12315' }], risk: 0.5 },
    { event_id: 'e1', role: 'agent', ts: iso(-2 * H), action: 'block', delivered: false, text_masked: T1text, findings: [
      { detector: 'diversion', kind: 'contact', severity: 'high', score: 0.95, start: cpAt(T1text, '加我'), end: cpAt(T1text, '，电话'), evidence: EVIL, rule: 'diversion.contact.app_id' },
      { detector: 'privacy', kind: 'phone', severity: 'medium', score: 0.8, start: cpAt(T1text, '138'), end: cpAt(T1text, '138') + 11, evidence: '138****5678', lexicon: 'phone.cn' }], risk: 0.7 },
    { event_id: 'e2', role: 'agent', ts: iso(-1 * H), action: 'confirm', delivered: true, text_masked: '保证明天一定送到', findings: [
      { detector: 'commitment', kind: 'guarantee', severity: 'medium', score: 0.7, start: 0, end: 4, evidence: '保证明天', rule: 'model:2026.1' }], risk: 0.7 },
    { event_id: 'e3', role: 'agent', ts: iso(-0.5 * H), action: 'allow', delivered: true, text_masked: '好的', findings: [], risk: 0.7 },
  ],
};
const scorecard = {
  categories: [
    { id: 'courtesy', name: { zh: '礼貌', en: 'Courtesy' }, weight: 2 },
    { id: 'accuracy', name: { zh: '准确', en: '<b>Accuracy</b>' }, weight: 1 },
    { id: 'compliance', name: { zh: '合规', en: 'Compliance' }, weight: 1 },
  ],
  auto_fail: [
    { id: 'privacy_leak', name: { zh: '泄露隐私', en: 'Privacy leak' }, kinds: ['privacy.*'] },
    { id: 'offplatform', name: 'Off-platform payment', kinds: ['diversion.payment'] },
  ],
};
const api = {
  authed: false,
  me: null,
  tasks: [
    { id: 'T1', tenant: 'acme', conversation_id: 'c1', agent_id: 'ag1', team: 't1', lang: 'zh', risk: 0.8, reason: 'high_risk', assignee: '', state: 'open', due_at: iso(5 * H), created_at: iso(-4 * H) },
    { id: 'T2', tenant: 'acme', conversation_id: 'c2', agent_id: 'ag2', team: 't1', lang: 'zh', risk: 0.1, reason: 'hash', assignee: 'alice', state: 'in_review', due_at: iso(-2 * H), created_at: iso(-50 * H) },
    { id: 'T3', tenant: 'acme', conversation_id: EVIL, agent_id: 'ag1', team: 't1', lang: 'zh', risk: 0.3, reason: 'agent_min', assignee: '', state: 'open', due_at: iso(10 * H), created_at: iso(-1 * H), calibration_group: 'g1' },
  ],
  review: null,
  disputes: [],
  requests: [],
  rawStatus: 200,
};
const json = (status, body) => new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
const err = (status, code, message) => json(status, { error: { code, message } });
const body = (method, path) => JSON.parse(api.requests.filter((r) => r.method === method && r.path === path).at(-1).body);

globalThis.fetch = async (input, init = {}) => {
  const url = String(input);
  if (url.startsWith('file:')) return new Response(readFileSync(new URL(url)), { status: 200 });
  const u = new URL(url, 'http://localhost');
  const method = init.method || 'GET';
  const headers = init.headers || {};
  api.requests.push({ method, path: u.pathname + u.search, headers, body: init.body });
  if (method !== 'GET') assert.equal(headers['X-Xunjian-Console'], '1', method + ' ' + u.pathname);
  if (u.pathname === '/api/session' && method === 'POST') {
    api.authed = true;
    return new Response(null, { status: 204 });
  }
  if (u.pathname === '/api/session' && method === 'DELETE') {
    api.authed = false;
    return new Response(null, { status: 204 });
  }
  if (!api.authed) return err(401, 'unauthenticated', 'sign in');
  const q = u.searchParams;
  if (u.pathname === '/api/me') return json(200, api.me);
  if (u.pathname === '/api/alerts') return json(200, { alerts: [], next: '' });
  if (u.pathname === '/api/counters') return json(200, { window: '1h', alerts: {}, findings: {}, open: {} });
  if (u.pathname === '/api/qa/tasks' && method === 'GET') {
    if (api.me.role === 'agent') return json(200, { tasks: api.tasks.filter((x) => x.agent_id === api.me.subject && x.state === 'done'), next: '' });
    let list = api.tasks.slice();
    if (q.get('state')) list = list.filter((x) => q.get('state').split(',').includes(x.state));
    if (q.get('assignee') === 'me') list = list.filter((x) => x.assignee === api.me.subject || x.assignee === '');
    list.sort((a, b) => a.due_at.localeCompare(b.due_at));
    if (!q.get('cursor') && list.length > 2) return json(200, { tasks: list.slice(0, 2), next: 'page2' });
    return json(200, { tasks: q.get('cursor') ? list.slice(2) : list, next: '' });
  }
  let m = /^\/api\/qa\/tasks\/([^/]+)(\/[a-z]+)?$/.exec(u.pathname);
  if (m) {
    const task = api.tasks.find((x) => x.id === decodeURIComponent(m[1]));
    if (!task) return err(404, 'not_found', 'no task');
    if (m[2] === '/take' && method === 'POST') {
      if (task.assignee && task.assignee !== api.me.subject) return err(409, 'conflict', 'taken');
      Object.assign(task, { assignee: api.me.subject, state: 'in_review' });
      return json(200, task);
    }
    if (m[2] === '/raw') {
      if (api.rawStatus !== 200) return err(api.rawStatus, 'forbidden', 'no decrypt');
      return json(200, { turns: [{ event_id: 'e1', text: '您好😀，请加我微信 wxid_abc，电话 13812345678' }] });
    }
    if (m[2] === '/review' && method === 'PUT') {
      api.review = { ...JSON.parse(init.body), id: 'R1', auditor: api.me.subject };
      return json(200, api.review);
    }
    if (m[2] === '/submit' && method === 'POST') {
      Object.assign(api.review, { score: 75, submitted_at: iso(0) });
      task.state = 'done';
      return json(200, api.review);
    }
    if (!m[2]) return json(200, { task, conversation, scorecard, review: api.review, disputes: api.disputes });
  }
  m = /^\/api\/qa\/reviews\/([^/]+)\/disputes$/.exec(u.pathname);
  if (m && method === 'POST') {
    const b = JSON.parse(init.body);
    const d = { id: 'D' + (api.disputes.length + 1), review_id: m[1], task_id: 'T1', finding: b.finding, by: api.me.subject, reason: b.reason, state: 'open', created_at: iso(0) };
    api.disputes.push(d);
    return json(201, d);
  }
  if (u.pathname === '/api/qa/disputes') {
    const s = q.get('state');
    return json(200, { disputes: api.disputes.filter((d) => !s || d.state === s), next: '' });
  }
  m = /^\/api\/qa\/disputes\/([^/]+)\/ruling$/.exec(u.pathname);
  if (m && method === 'POST') {
    const b = JSON.parse(init.body);
    const d = api.disputes.find((x) => x.id === m[1]);
    Object.assign(d, { state: b.outcome, ruling_note: b.note, ruled_by: api.me.subject, ruled_at: iso(0) });
    return json(200, d);
  }
  if (u.pathname === '/api/qa/quota') {
    return json(200, { day: q.get('day'), agents: [
      { agent_id: 'ag1', team: 't1', sampled: 5, reviewed: 3, minimum: 2, met: true },
      { agent_id: EVIL, team: 't1', sampled: 1, reviewed: 0, minimum: 2, met: false },
    ] });
  }
  if (u.pathname === '/api/qa/precision') {
    return json(200, { since: q.get('since'), rules: [
      { rule: 'phone.cn', correct: 9, false_positive: 1, wrong_kind: 0, missed: 2, precision: 0.9, days: [{ day: '2026-12-01', precision: 1 }, { day: '2026-12-02', precision: 0.8 }] },
      { rule: 'model:2026.1', correct: 1, false_positive: 3, wrong_kind: 0, missed: 0, precision: 0.25 },
      { rule: EVIL, correct: 4, false_positive: 0, wrong_kind: 1, missed: 1 },
    ] });
  }
  if (u.pathname === '/api/qa/calibration') {
    return json(200, {
      groups: [{ id: 'g1', conversation_id: 'c9', categories: [{ id: 'courtesy', scores: { alice: 0.8, bob: 0.6 }, agreement: 0.8 }], agreement: 0.8 }],
      auditors: [{ auditor: 'alice', agreement: 0.9, groups: 3 }, { auditor: EVIL, agreement: 0.5, groups: 2 }],
    });
  }
  return err(404, 'not_found', u.pathname);
};

class FakeES {
  static all = [];
  constructor(url) { this.url = url; this.l = {}; FakeES.all.push(this); }
  addEventListener(t, f) { (this.l[t] ||= []).push(f); }
  close() {}
}
globalThis.EventSource = FakeES;

const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms));
const $ = (s) => w.document.querySelector(s);
const $$ = (s) => [...w.document.querySelectorAll(s)];
const key = (k, target = w.document.activeElement || w.document.body) => target.dispatchEvent(new w.KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true }));
const click = (el) => el.dispatchEvent(new w.MouseEvent('click', { bubbles: true, cancelable: true, button: 0 }));
const rows = () => $$('tr[data-task-id]').map((r) => r.getAttribute('data-task-id'));
const finding = (k) => $(`li[data-finding="${k}"]`);
const score = () => $('#qa-score').textContent;
const setValue = (el, v, type = 'input') => {
  el.value = v;
  el.dispatchEvent(new w.Event(type, { bubbles: true }));
};

async function signIn(me) {
  api.me = me;
  $('#credential').value = 'key';
  $('form.signin-card').dispatchEvent(new w.Event('submit', { cancelable: true }));
  await tick(80);
  assert.ok($('header.top'), 'signed in as ' + me.role);
}

async function signOut() {
  click($$('header button').find((b) => b.textContent === 'Sign out'));
  await tick(50);
  assert.ok($('#credential'));
}

// ---------------------------------------------------------------- run
await import('./app.js');
await tick(50);

// ---- an auditor
await signIn({ subject: 'alice', tenant: 'acme', role: 'auditor', teams: ['t1'], dev: false, permissions: ['decrypt'] });
assert.deepEqual($$('.top-nav a').map((a) => a.textContent), ['Alerts', 'Reviews']);
assert.equal($('.top-nav a[data-nav="wall"]').getAttribute('aria-current'), 'page');
click($('.top-nav a[data-nav="qa"]'));
await tick(80);
assert.equal(w.location.pathname, '/qa');
assert.equal($('.top-nav a[data-nav="qa"]').getAttribute('aria-current'), 'page');
assert.deepEqual($$('.qa-nav a').map((a) => a.getAttribute('data-k')), ['nav-queue', 'nav-disputes', 'nav-precision'], 'an auditor: no quota, no calibration');
assert.ok(api.requests.some((r) => r.path === '/api/qa/tasks?state=open%2Cin_review&assignee=me'), 'the default filters');
assert.deepEqual(rows(), ['T2', 'T1'], 'oldest due first, first page');
assert.ok($('tr[data-task-id="T2"]').classList.contains('overdue'));
assert.equal($('tr[data-task-id="T2"] .badge.overdue').textContent, 'Overdue');
assert.equal($('tr[data-task-id="T1"] .badge.overdue'), null);
assert.equal($('tr[data-task-id="T1"] .c-reason').textContent, 'high risk');
click($('#qa-more'));
await tick(60);
assert.deepEqual(rows(), ['T2', 'T1', 'T3'], 'the next page, by cursor');
assert.ok(api.requests.some((r) => r.path.includes('cursor=page2')));
assert.equal($('tr[data-task-id="T3"] a[data-k="open"]').textContent, EVIL, 'server text as text');
assert.equal($$('img').length, 0);
assert.equal($('tr[data-task-id="T3"] .tag.calib').textContent, 'Calibration');
assert.equal($('tr[data-task-id="T2"] button[data-k="take"]').disabled, false, 'mine: may take again');

// Filters in the URL
const stateSel = $('.qa-filters select[name="state"]');
setValue(stateSel, 'done', 'change');
await tick(60);
assert.equal(w.location.search, '?state=done');
assert.ok(api.requests.at(-1).path.startsWith('/api/qa/tasks?state=done&assignee=me'));
assert.deepEqual(rows(), []);
setValue($('.qa-filters select[name="state"]'), 'active', 'change');
await tick(60);
assert.equal(w.location.search, '');

// Keyboard: j selects, a takes, Enter opens
assert.equal($('tr[data-task-id="T2"]').getAttribute('aria-selected'), 'true', 'the first row is selected, and reachable by Tab');
assert.equal($('tr[data-task-id="T2"]').getAttribute('tabindex'), '0');
w.document.body.focus();
key('j', w.document.body);
assert.equal(w.document.activeElement.getAttribute('data-task-id'), 'T1');
key('k');
assert.equal(w.document.activeElement.getAttribute('data-task-id'), 'T2');
key('j');
assert.equal($('tr[data-task-id="T1"] a[data-k="open"]').getAttribute('tabindex'), '0');
assert.equal($('tr[data-task-id="T2"] a[data-k="open"]').getAttribute('tabindex'), '-1');
key('a');
await tick(60);
assert.equal(api.requests.filter((r) => r.method === 'POST').at(-1).path, '/api/qa/tasks/T1/take');
assert.equal($('tr[data-task-id="T1"] .c-assignee').textContent, 'alice');
assert.match($('#status').textContent, /is yours/);
$('tr[data-task-id="T1"]').focus();
key('Enter');
await tick(80);
assert.equal(w.location.pathname, '/qa/tasks/T1');

// ---- the review
assert.match($('.view-head h2').textContent, /Review of conversation c1/);
const turns = $$('#qa-turns > li');
assert.equal(turns.length, 4);
assert.ok(turns[0].textContent.includes('<script>alert(1)</script>'));
assert.equal($$('script').length, 0);
assert.equal($$('#qa-turns mark.finding').length, 4, 'findings underlined');
assert.equal(finding('e1#0').querySelector('.evidence').textContent, EVIL);
assert.match(finding('e1#0').textContent, /rule diversion\.contact\.app_id/);
assert.match(finding('e1#1').textContent, /rule phone\.cn/);
assert.match(finding('e1#1').textContent, /score 0\.80/);
assert.equal(score(), '100.0', 'every category starts at full marks');
assert.equal($('#qa-auto-score').textContent, '33.3', 'one agent draft of three released without a finding');
assert.match($('tr[data-cat="accuracy"] th').textContent, /<b>Accuracy<\/b>/);

// Scorecard: weights
setValue($('input[data-k="cat"][data-cat="courtesy"]'), '50');
assert.equal(score(), '75.0', '(2×0.5 + 1 + 1) / 4');
assert.equal($('#qa-dirty').textContent, 'Unsaved changes');
setValue($('input[data-k="cat"][data-cat="accuracy"]'), 'abc');
assert.equal(score(), '—');
assert.equal($('input[data-cat="accuracy"]').getAttribute('aria-invalid'), 'true');
setValue($('input[data-k="cat"][data-cat="accuracy"]'), '100');
assert.equal(score(), '75.0');

// Verdicts: a confirmed privacy finding fails the review
click(finding('e1#1').querySelector('[data-k="v-correct"]'));
assert.equal(finding('e1#1').querySelector('[data-k="v-correct"]').getAttribute('aria-pressed'), 'true');
assert.equal(w.document.activeElement.getAttribute('data-k'), 'v-correct', 'focus kept');
assert.equal(score(), '0.0');
assert.match($('#qa-score-why').textContent, /privacy_leak \(privacy\.phone confirmed\)/);
click(finding('e1#1').querySelector('[data-k="v-false_positive"]'));
assert.equal(finding('e1#1').querySelector('[data-k="v-correct"]').getAttribute('aria-pressed'), 'false');
assert.equal(score(), '75.0');
// Keyboard: j / k through the findings, w (wrong kind) then the kind
w.document.body.focus();
key('j', w.document.body);
assert.equal(w.document.activeElement.getAttribute('data-finding'), 'e2#0', 'on from the finding judged last');
key('k');
assert.equal(w.document.activeElement.getAttribute('data-finding'), 'e1#1');
key('k');
assert.equal(w.document.activeElement.getAttribute('data-finding'), 'e1#0');
key('w');
assert.equal(w.document.activeElement.getAttribute('data-k'), 'v-kind', 'the kind picker takes the focus');
const opts = [...$('li[data-finding="e1#0"] select[data-k="v-kind"]').options].map((o) => o.value);
assert.ok(opts.includes('diversion.payment') && opts.includes('privacy.license_plate') && !opts.includes('diversion.contact'));
setValue(w.document.activeElement, 'diversion.payment', 'change');
assert.equal(score(), '0.0', 'corrected to an auto-fail kind');
setValue(finding('e1#0').querySelector('select[data-k="v-kind"]'), 'tone.rude', 'change');
assert.equal(score(), '75.0');
key('j', finding('e1#0'));
key('c');
assert.equal(finding('e1#1').querySelector('[data-k="v-correct"]').getAttribute('aria-pressed'), 'true');
key('c');
assert.equal(finding('e1#1').querySelector('[data-k="v-correct"]').getAttribute('aria-pressed'), 'false', 'c again clears');
key('f');
// Auto-fail ticked
const tick1 = $('input[data-k="autofail"][value="offplatform"]');
tick1.checked = true;
tick1.dispatchEvent(new w.Event('change', { bubbles: true }));
assert.equal(score(), '0.0');
tick1.checked = false;
tick1.dispatchEvent(new w.Event('change', { bubbles: true }));
assert.equal(score(), '75.0');

// A missed finding from a selection: 😀，请 is UTF-16 2..6, code points 2..5
{
  const p = $('li[data-event="e1"] p.text');
  const node = p.firstChild;
  assert.equal(node.nodeType, 3);
  const range = w.document.createRange();
  range.setStart(node, 2);
  range.setEnd(node, 6);
  w.getSelection().removeAllRanges();
  w.getSelection().addRange(range);
  w.document.dispatchEvent(new w.Event('selectionchange'));
  click($('li[data-event="e1"] button[data-k="missed-add"]'));
  await tick();
  assert.ok($('dialog[open] .missed-form'));
  assert.equal($('#missed-start').value, '2');
  assert.equal($('#missed-end').value, '5');
  assert.equal($('#missed-preview mark.pick').textContent, '😀，请');
  $('dialog[open] form').dispatchEvent(new w.Event('submit', { cancelable: true }));
  assert.equal($('#missed-error').textContent, 'Choose a kind.');
  setValue($('#missed-end'), '99');
  assert.match($('#missed-preview').textContent, /outside the message/);
  setValue($('#missed-end'), '5');
  $('#missed-kind').value = 'tone.impatient';
  $('#missed-note').value = '<i>rude emoji</i>';
  $('dialog[open] form').dispatchEvent(new w.Event('submit', { cancelable: true }));
  await tick();
  assert.equal($('dialog'), null);
  const item = $('li[data-event="e1"] .qa-missed-item');
  assert.match(item.textContent, /tone\.impatient/);
  assert.equal(item.querySelector('q').textContent, '😀，请');
  assert.ok(item.textContent.includes('<i>rude emoji</i>'));
}

// The raw text, logged
assert.match($('#qa-raw-notice').textContent, /audit log/);
click($('#qa-raw'));
await tick(60);
assert.ok(api.requests.some((r) => r.path === '/api/qa/tasks/T1/raw'));
assert.equal($('#qa-raw').getAttribute('aria-pressed'), 'true');
assert.ok($('li[data-event="e1"] p.text').textContent.includes('13812345678'));
assert.ok($('li[data-event="e1"] .tag.raw'));
assert.ok($('li[data-event="e1"] .qa-missed-item'), 'the draft survives');
click($('#qa-raw'));
await tick();
assert.ok($('li[data-event="e1"] p.text').textContent.includes('138****5678'));

// The help lists the review's keys
key('?', w.document.body);
assert.match($('dialog[open]').textContent, /the finding is a false positive/);
assert.match($('dialog[open]').textContent, /add a missed finding from the selected text/);
$('dialog[open]').close();

// Save the draft (s)
w.document.body.focus();
key('s', w.document.body);
await tick(60);
const saved = body('PUT', '/api/qa/tasks/T1/review');
assert.deepEqual(saved.categories, { courtesy: 0.5, accuracy: 1, compliance: 1 });
assert.deepEqual(saved.auto_fail, []);
assert.deepEqual(saved.verdicts, [
  { event_id: 'e1', finding_index: 0, verdict: 'wrong_kind', correct_kind: 'tone.rude' },
  { event_id: 'e1', finding_index: 1, verdict: 'false_positive' },
]);
assert.deepEqual(saved.missed, [{ event_id: 'e1', start: 2, end: 5, kind: 'tone.impatient', note: '<i>rude emoji</i>' }]);
assert.equal(saved.score, undefined, 'the server computes the score');
assert.equal($('#qa-dirty').textContent, 'Draft saved');

// Submit, confirmed
click($('#qa-submit'));
await tick();
assert.match($('dialog[open]').textContent, /scores 75\.0/);
click($('dialog[open] [data-k="confirm-ok"]'));
await tick(120);
assert.ok(api.requests.some((r) => r.method === 'POST' && r.path === '/api/qa/tasks/T1/submit'));
assert.equal($('#qa-save'), null, 'read-only after submit');
assert.equal(finding('e1#1').querySelector('[data-k="v-false_positive"]').disabled, true);
assert.equal(finding('e1#1').querySelector('[data-k="v-false_positive"]').getAttribute('aria-pressed'), 'true');
assert.equal($('input[data-k="cat"][data-cat="courtesy"]').disabled, true);
assert.equal(score(), '75.0');
assert.match($('.qa-side .notice.ok').textContent, /Submitted/);
assert.equal($('button[data-k="dispute"]'), null, 'an auditor opens no dispute');
// Esc: back to the queue
key('Escape', w.document.body);
await tick(120);
assert.equal(w.location.pathname, '/qa');
await signOut();

// ---- an agent: its reviews, a dispute
const streams = FakeES.all.length;
history.replaceState(null, '', '/?lang=en');
await signIn({ subject: 'ag1', tenant: 'acme', role: 'agent', teams: [], dev: false, permissions: [] });
assert.equal(w.location.pathname, '/qa/mine', 'an agent sees no alert wall');
assert.equal(FakeES.all.length, streams, 'nor its stream');
assert.equal($('#stream-status'), null);
assert.deepEqual($$('.top-nav a').map((a) => a.textContent), ['My reviews']);
assert.equal($('.filters'), null);
assert.deepEqual(rows(), ['T1']);
click($('tr[data-task-id="T1"] a[data-k="open"]'));
await tick(80);
assert.equal(w.location.pathname, '/qa/tasks/T1');
assert.equal($('#qa-raw'), null, 'no decrypt permission: no raw text button');
assert.match($('.qa-disputes-box').textContent, /Disputes can be opened until/);
click(finding('e1#1').querySelector('[data-k="dispute-finding"]'));
await tick();
assert.match($('dialog[open]').textContent, /privacy\.phone \(message e1, finding 2\)/);
$('#dispute-reason').value = EVIL + ' the customer gave it';
click($('dialog[open] [data-k="dispute-submit"]'));
await tick(80);
assert.deepEqual(body('POST', '/api/qa/reviews/R1/disputes'), { reason: EVIL + ' the customer gave it', finding: { event_id: 'e1', index: 1 } });
assert.ok($('li.qa-dispute[data-dispute-id="D1"]'));
assert.ok(finding('e1#1').textContent.includes('disputed'));
w.document.body.focus();
key('d', w.document.body);
await tick();
assert.match($('dialog[open]').textContent, /The whole review/);
$('#dispute-reason').value = 'unfair';
$('dialog[open] form').dispatchEvent(new w.Event('submit', { cancelable: true }));
await tick(80);
assert.deepEqual(body('POST', '/api/qa/reviews/R1/disputes'), { reason: 'unfair' });
assert.equal($$('li.qa-dispute').length, 2);
await signOut();

// ---- a supervisor: rulings, quota, precision, calibration; raw refused
await signIn({ subject: 'sup', tenant: 'acme', role: 'supervisor', teams: ['t1'], dev: false });
history.pushState(null, '', '/qa/disputes');
w.dispatchEvent(new w.PopStateEvent('popstate'));
await tick(80);
assert.deepEqual($$('.qa-nav a').map((a) => a.getAttribute('data-k')), ['nav-queue', 'nav-disputes', 'nav-quota', 'nav-precision', 'nav-calibration']);
assert.ok(api.requests.some((r) => r.path === '/api/qa/disputes?state=open'));
assert.deepEqual($$('tr[data-dispute-id]').map((r) => r.getAttribute('data-dispute-id')), ['D1', 'D2']);
assert.ok($('tr[data-dispute-id="D1"] .c-msg').textContent.startsWith(EVIL));
click($('tr[data-dispute-id="D1"] [data-k="rule-partly_accepted"]'));
await tick();
assert.equal($('dialog[open] input[name="ruling-outcome"]:checked').value, 'partly_accepted');
$('dialog[open] input[value="rejected"]').checked = true;
$('dialog[open] form').dispatchEvent(new w.Event('submit', { cancelable: true })); // past the browser's own check of required
await tick();
assert.match($('dialog[open] .error').textContent, /Write a note/);
$('#ruling-note').value = 'the phone number was the shop\'s';
click($('dialog[open] [data-k="ruling-submit"]'));
await tick(80);
assert.deepEqual(body('POST', '/api/qa/disputes/D1/ruling'), { outcome: 'rejected', note: 'the phone number was the shop\'s' });
assert.deepEqual($$('tr[data-dispute-id]').map((r) => r.getAttribute('data-dispute-id')), ['D2'], 'open disputes only');
setValue($('#disputes-state'), '', 'change');
await tick(60);
assert.match($('tr[data-dispute-id="D1"] .c-ruling').textContent, /sup/);
assert.match($('tr[data-dispute-id="D1"] .c-state').textContent, /Rejected/);
assert.equal($('tr[data-dispute-id="D1"] [data-k="rule-accepted"]'), null, 'ruled: no more buttons');

click($('.qa-nav a[data-k="nav-quota"]'));
await tick(80);
assert.match(api.requests.at(-1).path, /^\/api\/qa\/quota\?day=\d{4}-\d{2}-\d{2}$/);
assert.deepEqual($$('tr[data-agent]').map((r) => r.getAttribute('data-agent')), [EVIL, 'ag1'], 'unmet first');
assert.match($('tr[data-agent="ag1"]').textContent, /met/);
assert.ok($('tr.unmet .met-no'));
assert.match($('table.qa-quota').closest('section').textContent, /1 of 2 agents met/);

click($('.qa-nav a[data-k="nav-precision"]'));
await tick(80);
assert.ok(api.requests.some((r) => r.path === '/api/qa/precision?since=30d'));
const ruleRows = () => $$('tr[data-rule]').map((r) => r.getAttribute('data-rule'));
assert.deepEqual(ruleRows(), ['model:2026.1', EVIL, 'phone.cn'], 'lowest precision first');
assert.equal($('tr[data-rule="model:2026.1"] .c-source').textContent, 'model');
assert.equal($(`tr[data-rule="phone.cn"] .c-precision`).textContent, '90.0%');
assert.equal($$('tr[data-rule] .c-precision')[1].textContent, '80.0%', 'computed: 4 / (4 + 0 + 1)');
assert.ok($('tr[data-rule="phone.cn"] svg.spark-mini path').getAttribute('d').startsWith('M'));
click($('button[data-sort="correct"]'));
assert.deepEqual(ruleRows(), ['phone.cn', EVIL, 'model:2026.1']);
assert.equal($('th.c-correct').getAttribute('aria-sort'), 'descending');
assert.equal(w.document.activeElement.getAttribute('data-sort'), 'correct');
const jsonl = $('a[data-k="export-jsonl"]');
assert.equal(jsonl.getAttribute('href'), '/api/qa/export?since=30d&verdict=false_positive&format=jsonl');
assert.equal(jsonl.getAttribute('download'), 'xunjian_qa_false_positive_30d.jsonl');
setValue($('#export-verdict'), 'missed', 'change');
assert.equal($('a[data-k="export-rego"]').getAttribute('href'), '/api/qa/export?since=30d&verdict=missed&format=rego');
assert.equal($('a[data-k="export-rego"]').getAttribute('download'), 'xunjian_qa_missed_30d_test.rego');
setValue($('#prec-since'), '7d', 'change');
await tick(60);
assert.equal(w.location.search, '?since=7d');
assert.ok(api.requests.some((r) => r.path === '/api/qa/precision?since=7d'));

click($('.qa-nav a[data-k="nav-calibration"]'));
await tick(80);
assert.ok(api.requests.some((r) => r.path === '/api/qa/calibration?since=30d'));
assert.deepEqual([...$('section[data-group="g1"] thead tr').children].map((c) => c.textContent), ['Category', 'alice', 'bob', 'Agreement']);
assert.deepEqual([...$('section[data-group="g1"] tr[data-cat="courtesy"]').children].map((c) => c.textContent), ['courtesy', '80%', '60%', '80.0%']);
assert.deepEqual($$('tr[data-auditor]').map((r) => r.getAttribute('data-auditor')), [EVIL, 'alice']);

// The raw text refused: /api/me says nothing of permissions, the server says 403
api.rawStatus = 403;
history.pushState(null, '', '/qa/tasks/T1');
w.dispatchEvent(new w.PopStateEvent('popstate'));
await tick(80);
click($('#qa-raw'));
await tick(60);
assert.equal($('#qa-raw'), null);
assert.match($('.qa-raw-bar').textContent, /do not have the permission/);
assert.equal($$('button[data-k="rule-accepted"]').length, 1, 'the open dispute can be ruled from the review');
assert.ok($('button[data-k="dispute"]'), 'a supervisor may dispute too');
// The help lists the review keys
key('?', w.document.body);
assert.match($('dialog[open]').textContent, /dispute the review/);
assert.doesNotMatch($('dialog[open]').textContent, /false positive/, 'a supervisor judges no finding');
$('dialog[open]').close();

// The language
click($$('header button').find((b) => b.textContent === '中文'));
await tick(60);
assert.match($('.qa-side').textContent, /评分卡/);
assert.match($('.top-nav').textContent, /质检/);

assert.deepEqual(errors, []);
console.log('QA SMOKE OK');
process.exit(0);
