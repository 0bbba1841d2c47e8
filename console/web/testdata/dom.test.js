// XSS tests of static/dom.js and static/views.js: every string the server
// sends ends up in text nodes or in plain attribute values, never parsed as
// HTML, never as an event handler, never as a link out. Node has no DOM, so
// fakedom.js brings a minimal one that has no HTML parser at all: innerHTML
// and its kin throw. TestJS (js_test.go) runs it next to the assets.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { descendants, textNodes } from './fakedom.js';

// The modules under test import the fake document through globalThis.
const { h, svg } = await import('./dom.js');
const V = await import('./views.js');
const L = await import('./lib.js');

const dicts = JSON.parse(readFileSync(new URL('./i18n.json', import.meta.url), 'utf8'));

const EVIL = [
  '<img src=x onerror=alert(1)>',
  '"><script>alert(document.cookie)</script>',
  "javascript:alert('x')",
  '{{constructor.constructor("alert(1)")()}}',
  '\u202Egnp.exe',
];

const ALLOWED_TAGS = new Set(['tr', 'td', 'th', 'span', 'a', 'button', 'div', 'p', 'mark', 'li', 'ul', 'ol', 'time', 'q', 'strong',
  'section', 'h3', 'table', 'tbody', 'thead', 'svg', 'title', 'line', 'path']);

/** assertSafe checks a tree: known tags, no handler or style attribute, links of this origin. */
function assertSafe(root) {
  for (const el of [root, ...descendants(root)]) {
    assert.ok(ALLOWED_TAGS.has(el.tagName), 'unexpected element <' + el.tagName + '>');
    for (const [name, value] of el.attrs) {
      assert.ok(!name.startsWith('on'), 'event handler attribute ' + name);
      assert.notEqual(name, 'style');
      assert.notEqual(name, 'srcdoc');
      if (name === 'href' || name === 'src') assert.ok(L.safeHref(value), name + '=' + value);
    }
  }
}

function ctx(lang = 'en', extra = {}) {
  return {
    t: (k, p) => L.translate(dicts[lang], k, p),
    now: Date.UTC(2026, 11, 6, 12, 0, 0),
    fmtTime: (ts) => String(ts || ''),
    selectedId: 1,
    canAct: true,
    onAction: () => {},
    onLink: () => {},
    ...extra,
  };
}

test('h makes text nodes of strings, never markup', () => {
  for (const s of EVIL) {
    const el = h('td', { title: s, 'data-x': s }, s, 42);
    assert.equal(el.childNodes.length, 2);
    assert.equal(el.childNodes[0].nodeType, 3);
    assert.equal(el.childNodes[0].data, s);
    assert.equal(el.childNodes[1].data, '42');
    assert.equal(descendants(el).length, 0);
    assert.equal(el.getAttribute('title'), s);
  }
});

test('h refuses handler, style and foreign-link attributes', () => {
  assert.throws(() => h('div', { onclick: 'alert(1)' }), /not allowed/);
  assert.throws(() => h('img', { onError: 'alert(1)' }), /not allowed/);
  assert.throws(() => h('div', { style: 'color:red' }), /not allowed/);
  assert.throws(() => h('iframe', { srcdoc: '<script>' }), /not allowed/);
  for (const href of ['javascript:alert(1)', '//evil.example/', 'https://evil.example/', 'data:text/html,<script>', '/\\evil.example']) {
    assert.throws(() => h('a', { href }), /origin/, href);
    assert.throws(() => svg('image', { href }), /origin/, href);
  }
  assert.equal(h('a', { href: '/agents/x' }).getAttribute('href'), '/agents/x');
  const fn = () => {};
  assert.deepEqual(h('button', { on: { click: fn } }).listeners.click, [fn]);
});

test('an alert row renders hostile alerts as text', () => {
  for (const s of EVIL) {
    for (const lang of ['en', 'zh-CN']) {
      const a = {
        id: 1, event_id: s, tenant: s, team: s, agent_id: s, conversation_id: s, level: s, kind: s, message: s,
        risk: 0.9, created_at: '2026-12-06T11:59:00Z', state: s, assignee: s, note: s, version: 1,
      };
      const tr = V.alertRow(a, ctx(lang), V.WALL_COLS);
      assertSafe(tr);
      const texts = textNodes(tr);
      for (const field of ['message', 'kind', 'team', 'assignee']) assert.ok(texts.includes(a[field]), field);
      const links = descendants(tr).filter((e) => e.tagName === 'a').map((e) => e.getAttribute('href'));
      assert.deepEqual(links, [L.routePath('agent', s), L.routePath('conversation', s)]);
      // An unknown level still shows in words, not in the server's text.
      const badge = descendants(tr).find((e) => (e.getAttribute('class') || '').startsWith('badge'));
      assert.equal(badge.getAttribute('class'), 'badge lvl-unknown');
    }
  }
});

test('an alert row: level in color and words, selection, actions by state and role', () => {
  const a = { id: 1, level: 'critical', kind: 'complaint', message: 'm', agent_id: 'ag', conversation_id: 'c', risk: 0.2, created_at: '2026-12-06T11:00:00Z', state: 'acknowledged', version: 2 };
  const tr = V.alertRow(a, ctx('zh-CN'));
  const badge = descendants(tr).find((e) => e.getAttribute('class') === 'badge lvl-critical');
  assert.equal(badge.textContent, dicts['zh-CN']['level.critical']);
  assert.equal(tr.getAttribute('aria-selected'), 'true');
  assert.equal(tr.getAttribute('tabindex'), '0');
  const buttons = Object.fromEntries(descendants(tr).filter((e) => e.tagName === 'button').map((b) => [b.getAttribute('data-k'), b]));
  assert.equal(buttons.take.disabled, true, 'an acknowledged alert cannot be taken');
  assert.equal(!!buttons.resolve.disabled, false);
  assert.equal(descendants(tr).find((e) => (e.getAttribute('class') || '').split(' ').includes('c-age')).textContent, dicts['zh-CN']['age.h'].replace('{n}', '1'));

  V.applySelection(tr, false);
  assert.equal(tr.getAttribute('aria-selected'), 'false');
  assert.equal(tr.getAttribute('tabindex'), '-1');
  assert.ok(!tr.classList.contains('sel'));
  for (const b of Object.values(buttons)) assert.equal(b.getAttribute('tabindex'), '-1');

  const ro = V.alertRow({ ...a, state: 'new' }, ctx('en', { canAct: false }));
  for (const b of descendants(ro).filter((e) => e.tagName === 'button')) assert.equal(b.disabled, true, 'an auditor changes nothing');
});

test('a turn underlines its findings by code points, as text', () => {
  const text = '您好😀，请加我微信 👨‍👩‍👧 abc123，电话 138****5678';
  const cps = Array.from(text);
  const at = (sub) => Array.from(text.slice(0, text.indexOf(sub))).length;
  const findings = [
    { detector: 'contact', kind: 'external', severity: 'high', score: 0.9, start: at('微信'), end: at('微信') + 2, evidence: '<b>微信</b>' },
    { detector: 'privacy', kind: 'phone', severity: 'medium', score: 0.8, start: at('138'), end: at('138') + 11, evidence: '138****5678' },
    { detector: EVIL[0], kind: EVIL[1], severity: EVIL[2], score: 'x', start: at('👨'), end: at('👨') + 5, evidence: EVIL[0] },
  ];
  const turn = { event_id: 'e1', role: 'agent', ts: '2026-12-06T11:00:00Z', action: 'block', delivered: false, text_masked: text, findings, risk: 0.4, sampled: true, alerts: [] };
  const li = V.turnView(turn, ctx('en'), null);
  assertSafe(li);
  const marks = descendants(li).filter((e) => e.tagName === 'mark');
  assert.deepEqual(marks.map((m) => m.childNodes[0].data), ['微信', '👨‍👩‍👧', '138****5678']);
  assert.equal(marks[1].getAttribute('data-tip'), `${EVIL[0]}.${EVIL[1]} · info`);
  assert.equal(marks[0].getAttribute('class'), 'finding sev-high');
  assert.equal(marks[0].getAttribute('tabindex'), '0');
  // The text reads back whole (the marks' hidden descriptions aside).
  const p = descendants(li).find((e) => e.tagName === 'p' && e.getAttribute('class') === 'text');
  const visible = p.childNodes.map((c) => (c.nodeType === 3 ? c.data : c.childNodes[0].data)).join('');
  assert.equal(visible, text);
  assert.equal(Array.from(visible).length, cps.length);
  assert.ok(textNodes(li).includes(dicts.en['conv.undelivered']), 'an undelivered draft says so');
  assert.ok(textNodes(li).includes(dicts.en['action.block']));

  const customer = V.turnView({ role: 'customer', ts: '', text_masked: EVIL[1], findings: null, delivered: true }, ctx('zh-CN'), null);
  assertSafe(customer);
  assert.ok(textNodes(customer).includes(EVIL[1]));
  assert.ok(!textNodes(customer).includes(dicts['zh-CN']['conv.undelivered']));
});

test('counters, history and sparkline render hostile data as text', () => {
  const c = { window: '1h', alerts: { [EVIL[0]]: 3, complaint: 5 }, findings: { [EVIL[1]]: 2 }, open: { critical: 1, [EVIL[2]]: 4 } };
  const root = h('div', null, V.countersBody(c, ctx('en'), () => {}));
  assertSafe(root);
  const texts = textNodes(root);
  assert.ok(texts.includes(EVIL[0]) && texts.includes(EVIL[1]));

  const hist = V.historyList([{ actor: EVIL[0], at: '2026-12-06T11:00:00Z', from: 'new', to: 'acknowledged', assignee: EVIL[1], note: EVIL[1] }], ctx('zh-CN'));
  assertSafe(hist);
  assert.ok(textNodes(hist).includes(EVIL[0]));

  const sp = V.sparkline([0, 1, 5, 2], EVIL[0], 'findings');
  assertSafe(sp);
  assert.equal(sp.getAttribute('aria-label'), EVIL[0]);
  assert.equal(sp.getAttribute('role'), 'img');
});
