// Unit tests of static/lib.js, the console's pure functions. TestJS (js_test.go)
// copies them next to the assets in a temporary directory and runs them with
// `node --test`; the imports below are relative to that directory.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as L from './lib.js';

const dicts = JSON.parse(readFileSync(new URL('./i18n.json', import.meta.url), 'utf8'));

const A = (id, level, risk, createdAt, extra = {}) => ({
  id, level, risk, created_at: createdAt, state: 'new', version: 1, team: 't1', agent_id: 'a1', kind: 'complaint', ...extra,
});

// A deterministic PRNG (mulberry32) for the randomised checks.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6D2B79F5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('parseTime reads RFC 3339 with any fraction and offsets', () => {
  assert.equal(L.parseTime('2026-12-06T12:47:05Z'), Date.UTC(2026, 11, 6, 12, 47, 5));
  assert.equal(L.parseTime('2026-12-06T12:47:05.123456789Z'), Date.UTC(2026, 11, 6, 12, 47, 5, 123));
  assert.equal(L.parseTime('2026-12-06T12:47:05.5Z'), Date.UTC(2026, 11, 6, 12, 47, 5, 500));
  assert.equal(L.parseTime('2026-12-06T20:47:05+08:00'), Date.UTC(2026, 11, 6, 12, 47, 5));
  assert.ok(Number.isNaN(L.parseTime('yesterday')));
  assert.ok(Number.isNaN(L.parseTime(undefined)));
});

test('compareAlerts: level, then risk, then the newest, then the id', () => {
  const list = [
    A(1, 'low', 0.9, '2026-12-06T10:00:00Z'),
    A(2, 'critical', 0.1, '2026-12-06T09:00:00Z'),
    A(3, 'high', 0.5, '2026-12-06T10:00:00Z'),
    A(4, 'high', 0.8, '2026-12-06T08:00:00Z'),
    A(5, 'high', 0.5, '2026-12-06T10:00:00.000000001Z'),
    A(6, 'medium', 0.5, '2026-12-06T10:00:00Z'),
    A(7, 'bogus', 1, '2026-12-06T12:00:00Z'),
    A(8, 'high', 0.5, '2026-12-06T18:00:00+08:00'), // 10:00Z, as 3
    A(9, 'high', 0.5, '2026-12-06T10:00:01Z'),
  ];
  assert.deepEqual(list.sort(L.compareAlerts).map((a) => a.id), [2, 4, 9, 8, 5, 3, 6, 1, 7]);
});

test('insertPosition keeps a list sorted (randomised)', () => {
  const rand = rng(42);
  const levels = [...L.LEVELS, 'unknown'];
  let list = [];
  for (let i = 1; i <= 400; i++) {
    const a = A(i, levels[Math.floor(rand() * levels.length)], Math.round(rand() * 10) / 10,
      new Date(Date.UTC(2026, 11, 6, 10, Math.floor(rand() * 5))).toISOString());
    const at = L.insertPosition(list, a);
    list = list.slice(0, at).concat([a], list.slice(at));
  }
  const sorted = list.slice().sort(L.compareAlerts);
  assert.deepEqual(list.map((a) => a.id), sorted.map((a) => a.id));
  assert.equal(L.insertPosition([], A(1, 'low', 0, '2026-12-06T10:00:00Z')), 0);
});

test('mergeAlert inserts, replaces, ignores stale versions and drops what the filter no longer selects', () => {
  const f = L.normalizeFilters({});
  let list = [A(1, 'critical', 0.5, '2026-12-06T10:00:00Z'), A(2, 'low', 0.5, '2026-12-06T10:00:00Z')];

  let r = L.mergeAlert(list, A(3, 'high', 0.2, '2026-12-06T11:00:00Z'), { filters: f });
  assert.equal(r.op, 'inserted');
  assert.deepEqual(r.list.map((a) => a.id), [1, 3, 2]);
  assert.deepEqual(list.map((a) => a.id), [1, 2], 'the input list is not changed');
  list = r.list;

  r = L.mergeAlert(list, A(3, 'high', 0.2, '2026-12-06T11:00:00Z', { state: 'acknowledged', assignee: 'me', version: 2 }), { filters: f });
  assert.equal(r.op, 'replaced');
  assert.equal(r.list[1].assignee, 'me');
  list = r.list;

  r = L.mergeAlert(list, A(3, 'high', 0.2, '2026-12-06T11:00:00Z', { version: 1 }), { filters: f });
  assert.equal(r.op, 'stale');
  assert.equal(r.list, list);

  r = L.mergeAlert(list, A(3, 'high', 0.2, '2026-12-06T11:00:00Z', { state: 'resolved', version: 3 }), { filters: f });
  assert.equal(r.op, 'removed');
  assert.deepEqual(r.list.map((a) => a.id), [1, 2]);

  r = L.mergeAlert(list, A(4, 'high', 0.2, '2026-12-06T11:00:00Z', { team: 'other' }), { filters: { team: 't1' } });
  assert.equal(r.op, 'ignored');

  // Below the last alert of a list with more pages: it belongs to a later page.
  r = L.mergeAlert(list, A(5, 'low', 0.1, '2026-12-06T09:00:00Z'), { filters: f, hasMore: true });
  assert.equal(r.op, 'ignored');
  r = L.mergeAlert(list, A(5, 'low', 0.1, '2026-12-06T09:00:00Z'), { filters: f, hasMore: false });
  assert.equal(r.op, 'inserted');
  assert.equal(r.list.at(-1).id, 5);

  // Without filters, every alert is kept.
  r = L.mergeAlert([], A(6, 'low', 0, '2026-12-06T09:00:00Z', { state: 'resolved' }));
  assert.equal(r.op, 'inserted');
});

test('matchesFilter', () => {
  const a = A(1, 'high', 0.5, '2026-12-06T10:00:00Z', { team: '客服一组', agent_id: 'ag-7', kind: 'risk' });
  assert.ok(L.matchesFilter(a, {}));
  assert.ok(L.matchesFilter(a, { team: '客服一组', agent: 'ag-7', kind: 'risk', min_level: 'high' }));
  assert.ok(!L.matchesFilter(a, { min_level: 'critical' }));
  assert.ok(!L.matchesFilter(a, { team: '客服二组' }));
  assert.ok(!L.matchesFilter(a, { state: ['resolved'] }));
  assert.ok(!L.matchesFilter({ ...a, team: undefined }, { team: 'x' }));
});

test('segments cut by code points, with emoji and CJK', () => {
  // 你 好 😀 1 3 8 号 码: the emoji is two UTF-16 units and one code point.
  const text = '你好😀138号码';
  let s = L.segments(text, [{ start: 3, end: 6, detector: 'privacy', kind: 'phone', severity: 'high' }]);
  assert.deepEqual(s.map((x) => [x.text, x.findings]), [['你好😀', []], ['138', [0]], ['号码', []]]);

  // A family emoji is five code points (three people, two joiners).
  const fam = '👨‍👩‍👧';
  assert.equal(Array.from(fam).length, 5);
  const t2 = 'a' + fam + '电话13812345678';
  s = L.segments(t2, [{ start: 1, end: 6 }, { start: 8, end: 19 }]);
  assert.deepEqual(s.map((x) => x.text), ['a', fam, '电话', '13812345678']);
  assert.deepEqual(s.map((x) => x.findings), [[], [0], [], [1]]);

  // Overlaps: the shared run is covered by both.
  s = L.segments('abcdefgh', [{ start: 0, end: 4 }, { start: 2, end: 6 }]);
  assert.deepEqual(s.map((x) => [x.text, x.findings]), [['ab', [0]], ['cd', [0, 1]], ['ef', [1]], ['gh', []]]);

  // Clamped, empty, reversed and malformed spans.
  s = L.segments('中文😀', [{ start: -3, end: 1 }, { start: 2, end: 99 }, { start: 2, end: 2 }, { start: 2, end: 1 }, { start: '0', end: 1 }, { start: 0.5, end: 1 }, null]);
  assert.deepEqual(s.map((x) => [x.text, x.findings]), [['中', [0]], ['文', []], ['😀', [1]]]);

  assert.deepEqual(L.segments('', [{ start: 0, end: 3 }]), []);
  assert.deepEqual(L.segments(undefined, undefined), []);
  assert.deepEqual(L.segments('plain', []).map((x) => x.text), ['plain']);

  // The runs always put the text back together (randomised).
  const rand = rng(7);
  const alphabet = Array.from('ab中文😀👍🏽\u0301x');
  for (let i = 0; i < 200; i++) {
    const cps = Array.from({ length: Math.floor(rand() * 20) }, () => alphabet[Math.floor(rand() * alphabet.length)]);
    const str = cps.join('');
    const n = Array.from(str).length;
    const fs = Array.from({ length: Math.floor(rand() * 4) }, () => {
      const a = Math.floor(rand() * (n + 2)) - 1;
      return { start: a, end: a + Math.floor(rand() * 6) };
    });
    const segs = L.segments(str, fs);
    assert.equal(segs.map((x) => x.text).join(''), str);
    for (const seg of segs) {
      assert.equal(Array.from(seg.text).join(''), Array.from(str).slice(seg.start, seg.end).join(''));
      for (const fi of seg.findings) assert.ok(fs[fi].start <= seg.start && fs[fi].end >= seg.end);
    }
  }
});

test('maxSeverity', () => {
  assert.equal(L.maxSeverity([{ severity: 'low' }, { severity: 'high' }, { severity: 'medium' }]), 'high');
  assert.equal(L.maxSeverity([]), 'info');
  assert.equal(L.maxSeverity([{ severity: 'bogus' }]), 'info');
});

test('formatAge in both languages', () => {
  const now = Date.UTC(2026, 11, 6, 12, 0, 0);
  const at = (ms) => new Date(now - ms).toISOString();
  const en = (key, p) => L.translate(dicts.en, key, p);
  const zh = (key, p) => L.translate(dicts['zh-CN'], key, p);
  const cases = [
    [0, 'now', '刚刚'],
    [9999, 'now', '刚刚'],
    [45000, '45s', '45秒'],
    [12 * 60000 + 5000, '12m', '12分钟'],
    [3 * 3600000 + 1, '3h', '3小时'],
    [47 * 3600000, '47h', '47小时'],
    [50 * 3600000, '2d', '2天'],
    [-60000, 'now', '刚刚'],
  ];
  for (const [ms, e, z] of cases) {
    assert.equal(L.formatAge(at(ms), now, en), e, `en ${ms}`);
    assert.equal(L.formatAge(at(ms), now, zh), z, `zh ${ms}`);
  }
  assert.equal(L.formatAge('not a time', now, en), '');
  assert.equal(L.formatAge('2026-12-06T11:59:00.123456789Z', now, en), '59s');
});

test('filters round-trip through the URL', () => {
  const cases = [
    {},
    { team: 'support', agent: 'ag-1', kind: 'complaint', state: ['new'], min_level: 'high' },
    { team: '客服一组', agent: 'a&b=c d%', kind: 'risk/wait', state: ['resolved', 'new'] },
    { state: ['new', 'acknowledged', 'resolved'], min_level: 'low' },
    { team: '  spaced  ' },
  ];
  for (const f of cases) {
    const search = L.filtersToSearch(f);
    assert.deepEqual(L.filtersFromSearch(search), L.normalizeFilters(f), search);
    assert.deepEqual(L.filtersFromSearch(L.filtersToSearch(L.filtersFromSearch(search))), L.normalizeFilters(f));
  }
  assert.equal(L.filtersToSearch({}), '');
  assert.equal(L.filtersToSearch({ state: ['acknowledged', 'new'] }), '', 'the default states are left out');
  assert.equal(L.filtersToSearch({ state: ['resolved', 'new'] }), '?state=new%2Cresolved');
  assert.equal(L.filtersToSearch({ team: 'a' }, '?lang=zh&team=b&kind=x'), '?lang=zh&team=a', 'other parameters are kept');
  assert.deepEqual(L.filtersFromSearch('?state=bogus&min_level=extreme'), L.normalizeFilters({}));
  assert.deepEqual(L.filtersFromSearch('?state=resolved,bogus').state, ['resolved']);
});

test('alertsQuery', () => {
  const q = new URLSearchParams(L.alertsQuery({ team: '客服', min_level: 'medium' }, { cursor: 'c/1=', limit: 9999 }));
  assert.equal(q.get('state'), 'new,acknowledged');
  assert.equal(q.get('team'), '客服');
  assert.equal(q.get('min_level'), 'medium');
  assert.equal(q.get('cursor'), 'c/1=');
  assert.equal(q.get('limit'), '500');
  assert.equal(q.has('agent'), false);
  assert.equal(new URLSearchParams(L.alertsQuery({})).get('limit'), '50');
});

test('translate and pickLang', () => {
  const d = { 'a.b': 'Alert #{id} by {who}' };
  assert.equal(L.translate(d, 'a.b', { id: 7, who: '<b>x</b>' }), 'Alert #7 by <b>x</b>');
  assert.equal(L.translate(d, 'a.b', { id: 7 }), 'Alert #7 by {who}');
  assert.equal(L.translate(d, 'missing.key'), 'missing.key');
  assert.equal(L.translate(d, 'toString'), 'toString');
  assert.equal(L.pickLang({ param: 'zh', stored: 'en' }), 'zh-CN');
  assert.equal(L.pickLang({ param: 'fr', stored: 'en' }), 'en');
  assert.equal(L.pickLang({ stored: '', languages: ['de-DE', 'zh-TW', 'en'] }), 'zh-CN');
  assert.equal(L.pickLang({ languages: ['en-GB'] }), 'en');
  assert.equal(L.pickLang({}), 'en');
});

test('backoffDelay grows, is capped and jittered', () => {
  assert.equal(L.backoffDelay(0, () => 1), 1000);
  assert.equal(L.backoffDelay(0, () => 0), 500);
  assert.equal(L.backoffDelay(3, () => 1), 8000);
  assert.equal(L.backoffDelay(10, () => 1), 30000);
  assert.equal(L.backoffDelay(1e9, () => 1), 30000);
  assert.equal(L.backoffDelay(-1, () => 1), 1000);
});

test('routes round-trip', () => {
  for (const id of ['c-1', 'a/b', '会话 42', '100%', '?x=1#y']) {
    assert.deepEqual(L.parseRoute(L.routePath('conversation', id)), { view: 'conversation', id });
    assert.deepEqual(L.parseRoute(L.routePath('agent', id)), { view: 'agent', id });
  }
  assert.deepEqual(L.parseRoute('/'), { view: 'wall' });
  assert.deepEqual(L.parseRoute('/nowhere/x/y'), { view: 'wall' });
  assert.deepEqual(L.parseRoute('/conversations/%E0%A4%A'), { view: 'wall' });
  assert.equal(L.routePath('wall'), '/');
});

test('keyCommand', () => {
  const k = (key, o = {}) => L.keyCommand({ key, ...o });
  assert.equal(k('j'), 'next');
  assert.equal(k('k'), 'prev');
  assert.equal(k('Enter'), 'open');
  assert.equal(k('Enter', { control: true }), '');
  assert.equal(k('a'), 'take');
  assert.equal(k('r'), 'resolve');
  assert.equal(k('n'), 'note');
  assert.equal(k('/'), 'filter');
  assert.equal(k('Escape'), 'back');
  assert.equal(k('?'), 'help');
  assert.equal(k('ArrowDown'), '');
  assert.equal(k('ArrowDown', { row: true }), 'next');
  assert.equal(k('j', { editable: true }), '');
  assert.equal(k('Escape', { editable: true }), 'blur');
  assert.equal(k('j', { dialog: true }), '');
  assert.equal(k('r', { ctrlKey: true }), '');
  assert.equal(k('x'), '');
});

test('moveSelection', () => {
  assert.equal(L.moveSelection([], 1, 1), -1);
  assert.equal(L.moveSelection([5, 6, 7], null, 1), 0);
  assert.equal(L.moveSelection([5, 6, 7], null, -1), 2);
  assert.equal(L.moveSelection([5, 6, 7], 6, 1), 2);
  assert.equal(L.moveSelection([5, 6, 7], 7, 1), 2);
  assert.equal(L.moveSelection([5, 6, 7], 5, -1), 0);
});

test('sparkPath', () => {
  assert.equal(L.sparkPath([], 100, 20), '');
  assert.equal(L.sparkPath([3], 100, 20, { pad: 2 }), 'M2 2 L98 2');
  const p = L.sparkPath([0, 5, 10, 0], 100, 20, { pad: 2 });
  const pts = p.split(/ ?[ML]/).filter(Boolean).map((x) => x.split(' ').map(Number));
  assert.equal(pts.length, 4);
  assert.deepEqual(pts[0], [2, 18]);
  assert.deepEqual(pts[2], [66, 2]);
  assert.deepEqual(pts[3], [98, 18]);
  // All zero: a flat line at the bottom.
  assert.ok(L.sparkPath([0, 0], 10, 10, { pad: 1 }).endsWith('9 9'));
});

test('sortedCounts and safeHref', () => {
  assert.deepEqual(L.sortedCounts({ b: 2, a: 2, c: 5, x: 'n' }), [['c', 5], ['a', 2], ['b', 2]]);
  assert.deepEqual(L.sortedCounts(undefined), []);
  assert.ok(L.safeHref('/agents/x'));
  assert.ok(L.safeHref('#main'));
  for (const bad of ['//evil.example/x', '/\\evil.example', 'javascript:alert(1)', 'https://evil.example', 'data:text/html,x', '', null]) {
    assert.ok(!L.safeHref(bad), String(bad));
  }
});
