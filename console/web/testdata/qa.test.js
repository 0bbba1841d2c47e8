// XSS and rendering tests of static/qaviews.js, the quality audits' views,
// on the fake DOM of fakedom.js (no HTML parser: innerHTML and its kin
// throw): hostile server data in every field of tasks, conversations,
// findings, scorecards, disputes, quota, precision and calibration ends up
// as text; links stay in the console; the controls carry the hooks the
// browser tests use (data-k, data-task-id, data-finding, …).

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { descendants, textNodes } from './fakedom.js';

const QV = await import('./qaviews.js');
const Q = await import('./qalib.js');
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
const NOW = Date.UTC(2026, 11, 6, 12, 0, 0);
const H = 3600000;
const iso = (ms) => new Date(ms).toISOString();

const ALLOWED_TAGS = new Set(['tr', 'td', 'th', 'span', 'a', 'button', 'div', 'p', 'mark', 'li', 'ul', 'ol', 'time', 'q', 'strong',
  'section', 'h3', 'h4', 'table', 'tbody', 'thead', 'svg', 'title', 'line', 'path', 'select', 'option', 'label', 'input', 'textarea',
  'fieldset', 'legend', 'output', 'code', 'nav']);

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

const byK = (root, k) => descendants(root).filter((e) => e.getAttribute('data-k') === k);
const byTag = (root, tag) => descendants(root).filter((e) => e.tagName === tag);
const hasClass = (e, c) => (e.getAttribute('class') || '').split(/\s+/).includes(c);

function ctx(lang = 'en', extra = {}) {
  return {
    t: (k, p) => L.translate(dicts[lang], k, p),
    lang,
    now: NOW,
    fmtTime: (ts) => String(ts || ''),
    onLink: () => {},
    alerts: true,
    ...extra,
  };
}

test('a task row renders hostile tasks as text, with its hooks', () => {
  for (const s of EVIL) {
    for (const lang of ['en', 'zh-CN']) {
      const task = {
        id: s, tenant: s, conversation_id: s, agent_id: s, team: s, lang: s, risk: 0.9, reason: s, assignee: s, state: s,
        due_at: iso(NOW - H), created_at: s, calibration_group: s,
      };
      const taken = [];
      const tr = QV.taskRow(task, ctx(lang, { selectedTask: s, canTake: () => true, onTake: (x) => taken.push(x) }));
      assertSafe(tr);
      assert.equal(tr.getAttribute('data-task-id'), s);
      assert.equal(tr.getAttribute('aria-selected'), 'true');
      const texts = textNodes(tr);
      for (const f of ['conversation_id', 'team', 'assignee', 'reason', 'state']) assert.ok(texts.includes(task[f]), f);
      const links = byTag(tr, 'a').map((e) => e.getAttribute('href'));
      assert.deepEqual(links, [Q.qaPath('task', s), '/agents/' + encodeURIComponent(s)]);
      // Unknown reason and state: shown as they are, in a neutral style.
      assert.ok(descendants(tr).some((e) => hasClass(e, 'rs-unknown')));
      assert.ok(descendants(tr).some((e) => hasClass(e, 'ts-unknown')));
      // Overdue (not done, due an hour ago) and calibration.
      assert.ok(hasClass(tr, 'overdue'));
      assert.equal(descendants(tr).find((e) => hasClass(e, 'overdue')).textContent, dicts[lang]['task.overdue']);
      const calib = descendants(tr).find((e) => hasClass(e, 'calib'));
      assert.equal(calib.textContent, dicts[lang]['task.calibration']);
      assert.ok(calib.getAttribute('title').includes(s));
      const [take] = byK(tr, 'take');
      assert.equal(!!take.disabled, false);
      take.listeners.click[0]({ stopPropagation() {} });
      assert.deepEqual(taken, [task]);
      assert.equal(byK(tr, 'open').length, 1);
    }
  }
});

test('a task row: known reasons and states in words, take by rights, no agent link for agents', () => {
  const task = { id: 'T1', conversation_id: 'c1', agent_id: 'ag1', reason: 'agent_min', state: 'done', due_at: iso(NOW - H), risk: 0.2 };
  const tr = QV.taskRow(task, ctx('zh-CN', { selectedTask: 'T2', canTake: () => false, alerts: false }));
  assert.ok(!hasClass(tr, 'overdue'), 'a done task is never overdue');
  assert.equal(tr.getAttribute('tabindex'), '-1');
  assert.ok(textNodes(tr).includes(dicts['zh-CN']['reason.agent_min']));
  assert.ok(textNodes(tr).includes(dicts['zh-CN']['tstate.done']));
  assert.equal(byK(tr, 'take')[0].disabled, true);
  assert.equal(byK(tr, 'agent').length, 0, 'an agent sees no agent pages');
  for (const el of byK(tr, 'open')) assert.equal(el.getAttribute('tabindex'), '-1');
  const table = QV.taskTable([], ctx(), QV.MINE_COLS, 'x', 'none');
  assertSafe(table);
  assert.equal(textNodes(table).at(-1), 'none');
  assert.deepEqual(byTag(table, 'th').map((e) => e.textContent), QV.MINE_COLS.map((c) => dicts.en['tcol.' + c]));
});

const hostileTurn = (s) => ({
  event_id: s, role: 'agent', ts: s, action: s, delivered: false, text_masked: s + ' 138****5678 ' + s, risk: 0.5,
  findings: [
    { detector: s, kind: s, severity: s, score: 0.5, start: 0, end: 3, evidence: s, rule: s },
    { detector: 'privacy', kind: 'phone', severity: 'medium', score: 'x', start: Array.from(s).length + 1, end: Array.from(s).length + 12, evidence: '138****5678', lexicon: s },
  ],
});

test('a turn under review: findings, verdicts and missed findings as text', () => {
  for (const s of EVIL) {
    const turn = hostileTurn(s);
    const draft = Q.newDraft({
      verdicts: [{ event_id: s, finding_index: 1, verdict: 'wrong_kind', correct_kind: s }],
      missed: [{ event_id: s, start: 0, end: 2, kind: s, note: s }, { event_id: 'other', start: 0, end: 1, kind: 'x' }],
    }, {});
    const calls = [];
    const c = ctx('en', {
      editable: true, draft, kinds: Q.TAXONOMY, raw: null, conversation: { turns: [turn] },
      disputes: [{ id: s, finding: { event_id: s, index: 1 }, state: s }],
      onVerdict: (...a) => calls.push(['verdict', ...a]), onKind: (...a) => calls.push(['kind', ...a]),
      onMissedAdd: (x) => calls.push(['add', x]), onMissedRemove: (i) => calls.push(['remove', i]),
      canDispute: true, onDispute: (f) => calls.push(['dispute', f]),
    });
    const li = QV.reviewTurn(turn, c);
    assertSafe(li);
    assert.equal(li.getAttribute('data-event'), s);
    const texts = textNodes(li);
    assert.ok(texts.includes(s), 'the evidence, the kind');
    // Findings: one item each, keyed by event and index.
    const items = descendants(li).filter((e) => e.getAttribute('data-finding') !== null);
    assert.deepEqual(items.map((e) => e.getAttribute('data-finding')), [Q.verdictKey(s, 0), Q.verdictKey(s, 1)]);
    assert.ok(textNodes(items[0]).includes(dicts.en['rev.ruleShort'].replace('{rule}', s)));
    assert.ok(textNodes(items[1]).includes(dicts.en['rev.ruleShort'].replace('{rule}', s)), 'the lexicon entry as the rule');
    // Verdict buttons: pressed as the draft says.
    const pressed = (item) => ['v-correct', 'v-false_positive', 'v-wrong_kind'].map((k) => byK(item, k)[0].getAttribute('aria-pressed'));
    assert.deepEqual(pressed(items[0]), ['false', 'false', 'false']);
    assert.deepEqual(pressed(items[1]), ['false', 'false', 'true']);
    byK(items[0], 'v-false_positive')[0].listeners.click[0]();
    byK(items[1], 'v-wrong_kind')[0].listeners.click[0]();
    assert.deepEqual(calls.slice(0, 2), [['verdict', Q.verdictKey(s, 0), 'false_positive'], ['verdict', Q.verdictKey(s, 1), '']], 'pressed again: cleared');
    // The kind picker: the taxonomy without the finding's own kind, and the server's odd kind kept.
    const [sel] = byK(items[1], 'v-kind');
    const opts = byTag(sel, 'option').map((o) => o.value);
    assert.ok(!opts.includes('privacy.phone'));
    assert.ok(opts.includes('privacy.email') && opts.includes(s));
    assert.equal(sel.value, s);
    sel.listeners.change[0]({ target: { value: 'tone.rude' } });
    assert.deepEqual(calls.at(-1), ['kind', Q.verdictKey(s, 1), 'tone.rude']);
    assert.equal(byK(items[0], 'v-kind').length, 0);
    // The dispute on finding 2 is shown on it, and each finding may be disputed.
    assert.ok(textNodes(items[1]).includes(dicts.en['disp.disputed']));
    byK(items[1], 'dispute-finding')[0].listeners.click[0]();
    assert.deepEqual(calls.at(-1), ['dispute', { event_id: s, index: 1 }]);
    // Missed findings of this turn only, their text cut by code points.
    const missed = descendants(li).filter((e) => e.getAttribute('data-missed-index') !== null);
    assert.equal(missed.length, 1);
    assert.equal(byTag(missed[0], 'q')[0].textContent, Array.from(s).slice(0, 2).join(''));
    byK(missed[0], 'missed-remove')[0].listeners.click[0]();
    assert.deepEqual(calls.at(-1), ['remove', 0]);
    byK(li, 'missed-add')[0].listeners.click[0]();
    assert.deepEqual(calls.at(-1), ['add', turn]);
  }
});

test('a turn under review: read-only, raw text, no event id', () => {
  const s = EVIL[0];
  const turn = hostileTurn(s);
  const draft = Q.newDraft({ verdicts: [{ event_id: s, finding_index: 0, verdict: 'correct' }] }, {});
  const ro = QV.reviewTurn(turn, ctx('zh-CN', { editable: false, draft, kinds: Q.TAXONOMY, canDispute: false, disputes: [] }));
  assertSafe(ro);
  for (const b of byTag(ro, 'button')) assert.equal(b.disabled, true, 'read-only: ' + b.getAttribute('data-k'));
  assert.equal(byK(ro, 'v-correct')[0].getAttribute('aria-pressed'), 'true', 'the verdicts still show');
  assert.equal(byK(ro, 'missed-add').length, 0);
  assert.equal(byK(ro, 'dispute-finding').length, 0);
  // Raw text instead of the masked, marked as such; the findings still underline it.
  const raw = new Map([[s, s + ' 13812345678 ' + s]]);
  const li = QV.reviewTurn(turn, ctx('en', { editable: false, draft, kinds: [], raw, disputes: [] }));
  assertSafe(li);
  const p = byTag(li, 'p').find((e) => hasClass(e, 'text'));
  assert.ok(p.textContent.includes('13812345678'));
  assert.equal(byTag(p, 'mark')[1].childNodes[0].data, '13812345678');
  assert.ok(textNodes(li).includes(dicts.en['rev.rawTag']));
  // A turn without an event id cannot be judged nor get missed findings.
  const noEvent = QV.reviewTurn({ ...turn, event_id: '' }, ctx('en', { editable: true, draft, kinds: [], disputes: [], onMissedAdd() {} }));
  assert.equal(byK(noEvent, 'v-correct').length, 0);
  assert.equal(byK(noEvent, 'missed-add').length, 0);
  assert.ok(textNodes(noEvent).includes(dicts.en['rev.noEvent']));
});

test('the scorecard: hostile names as text, inputs per category, auto-fail boxes, the score', () => {
  for (const s of EVIL) {
    const sc = Q.scorecardOf({
      categories: [{ id: s, name: { zh: s, en: s }, weight: 2 }, { id: 'b', name: s, weight: 1 }],
      auto_fail: [{ id: s, name: { en: s }, kinds: [s] }],
    });
    const draft = Q.newDraft({ categories: { [s]: 0.25 }, auto_fail: [s], note: s }, { categories: [{ id: s }, { id: 'b' }], auto_fail: [{ id: s }] });
    for (const editable of [true, false]) {
      const score = V.sparkline([], 'x', 'y'); // any node: the controller fills it
      const panel = QV.scorecardPanel(sc, draft, ctx('zh-CN', { editable }), score, null);
      assertSafe(panel);
      const inputs = byK(panel, 'cat');
      assert.deepEqual(inputs.map((i) => i.getAttribute('data-cat')), [s, 'b']);
      assert.deepEqual(inputs.map((i) => i.value), ['25', '100']);
      assert.ok(inputs.every((i) => !!i.disabled === !editable));
      assert.ok(inputs[0].getAttribute('aria-label').includes(s));
      const [box] = byK(panel, 'autofail');
      assert.equal(box.value, s);
      assert.equal(box.checked, true);
      assert.equal(!!box.disabled, !editable);
      if (editable) assert.equal(byK(panel, 'review-note')[0].value, s);
      else assert.equal(descendants(panel).find((e) => e.getAttribute('id') === 'qa-note').textContent, s, 'read-only: the note as text');
      assert.ok(textNodes(panel).includes(s));
    }
    const result = Q.computeScore(sc, draft, { turns: [] });
    const view = QV.scoreView(result, 50, ctx('en'), null);
    for (const n of view.filter(Boolean)) assertSafe(n);
    const why = view[1];
    assert.ok(why.textContent.includes(s), 'the item named as text');
    assert.equal(byK(view[0], 'score')[0].textContent, '0.0');
    const submitted = QV.scoreView(result, null, ctx('en'), { score: 88 });
    assert.equal(byK(submitted[0], 'score')[0].textContent, '88.0');
    assert.equal(submitted[1], null, 'once submitted, the server\'s score alone');
  }
});

test('disputes: hostile text, rulings only for leads on open ones', () => {
  for (const s of EVIL) {
    const d = { id: s, review_id: s, task_id: s, finding: { event_id: s, index: 0 }, by: s, reason: s, state: 'open', ruling_note: s, ruled_by: s, ruled_at: s, created_at: s };
    const ruled = [];
    const c = ctx('en', { canRule: true, onRule: (x, o) => ruled.push([x.id, o]), conversation: { turns: [hostileTurn(s)] } });
    const tr = QV.disputeRow(d, c);
    assertSafe(tr);
    assert.equal(tr.getAttribute('data-dispute-id'), s);
    assert.deepEqual(byTag(tr, 'a').map((a) => a.getAttribute('href')), [Q.qaPath('task', s)]);
    for (const f of ['reason', 'by', 'ruling_note', 'ruled_by']) assert.ok(textNodes(tr).includes(d[f]), f);
    assert.ok(textNodes(tr).some((x) => x.startsWith(s + '.' + s)), 'the finding named by its kind');
    for (const o of Q.OUTCOMES) byK(tr, 'rule-' + o)[0].listeners.click[0]({ stopPropagation() {} });
    assert.deepEqual(ruled, Q.OUTCOMES.map((o) => [s, o]));
    const item = QV.disputeItem({ ...d, state: s, finding: null }, c);
    assertSafe(item);
    assert.equal(byK(item, 'rule-accepted').length, 0, 'not open: no ruling');
    assert.ok(textNodes(item).includes(dicts.en['disp.whole']));
    const bare = QV.disputeRow(d, ctx('en', { conversation: null }));
    assert.ok(textNodes(bare).includes(L.translate(dicts.en, 'disp.findingAt', { n: 1, event: s })), 'no conversation: the finding by its place');
    assert.ok(descendants(item).some((e) => hasClass(e, 'ds-unknown')));
    const plain = QV.disputeRow(d, ctx('en', { canRule: false }));
    assert.equal(byK(plain, 'rule-rejected').length, 0, 'an auditor or agent does not rule');
  }
  const table = QV.disputeTable([], ctx('zh-CN'), QV.DISPUTE_COLS, 'x', 'none');
  assertSafe(table);
  assert.deepEqual(byTag(table, 'th').map((e) => e.textContent), QV.DISPUTE_COLS.map((c) => dicts['zh-CN']['dcol.' + c]));
});

test('quota, precision and calibration render hostile data as text', () => {
  const s = EVIL[0];
  const quota = QV.quotaTable(Q.normalizeQuota([{ agent_id: s, team: s, sampled: 1, reviewed: 0, minimum: 2 }, { agent_id: 'ok', sampled: 2, reviewed: 2, minimum: 2 }]), ctx('en'));
  assertSafe(quota);
  const qrows = descendants(quota).filter((e) => e.getAttribute('data-agent') !== null);
  assert.deepEqual(qrows.map((r) => r.getAttribute('data-agent')), [s, 'ok']);
  assert.ok(hasClass(qrows[0], 'unmet') && hasClass(qrows[1], 'met'));
  assert.ok(textNodes(qrows[0]).includes(dicts.en['quota.unmet']));

  const rows = Q.normalizePrecision({ rules: [
    { rule: s, correct: 1, false_positive: 3, days: [{ day: '2026-12-01', precision: 0.2 }, { day: '2026-12-02', precision: 0.4 }] },
    { rule: 'model:' + s, correct: 0, false_positive: 0 },
  ] });
  const sorted = [];
  const prec = QV.precisionTable(rows, { key: 'precision', dir: 'asc' }, ctx('en', { onSort: (k) => sorted.push(k) }));
  assertSafe(prec);
  const prow = descendants(prec).filter((e) => e.getAttribute('data-rule') !== null);
  assert.deepEqual(prow.map((r) => r.getAttribute('data-rule')), [s, 'model:' + s]);
  assert.ok(hasClass(prow[0], 'low-precision'));
  assert.ok(textNodes(prow[0]).includes('25.0%'));
  assert.ok(textNodes(prow[1]).includes('—'), 'nothing judged: no precision');
  const spark = byTag(prow[0], 'svg')[0];
  assert.ok(spark.getAttribute('aria-label').includes(s));
  assert.ok(byTag(spark, 'path')[0].getAttribute('d').startsWith('M'));
  const ths = byTag(prec, 'th').filter((e) => e.getAttribute('aria-sort') !== null);
  assert.deepEqual(ths.map((e) => e.getAttribute('aria-sort')), Q.PRECISION_COLS.map((c) => (c === 'precision' ? 'ascending' : 'none')));
  descendants(prec).find((e) => e.getAttribute('data-sort') === 'missed').listeners.click[0]();
  assert.deepEqual(sorted, ['missed']);

  const cal = Q.normalizeCalibration({
    groups: [{ id: s, conversation_id: s, categories: [{ id: s, name: { en: s }, scores: { [s]: 0.5 }, agreement: 0.4 }] }],
    auditors: [{ auditor: s, agreement: 0.5, groups: 1 }],
  });
  const root = V.sparkline([], 'x', 'y');
  for (const n of QV.calibrationView(cal, ctx('zh-CN'))) {
    assertSafe(n);
    root.appendChild(n);
  }
  assert.ok(textNodes(root).includes(s));
  assert.ok(textNodes(root).includes('50%'));
  assert.equal(descendants(root).filter((e) => e.getAttribute('data-auditor') === s).length, 1);
  assert.equal(descendants(root).filter((e) => e.getAttribute('data-group') === s).length, 1);
});

test('the QA navigation marks the current page', () => {
  const nav = QV.qaNav(Q.qaPages('admin'), 'quota', ctx('en'));
  assertSafe(nav);
  const links = byTag(nav, 'a');
  assert.deepEqual(links.map((a) => a.getAttribute('href')), ['/qa', '/qa/disputes', '/qa/quota', '/qa/precision', '/qa/calibration']);
  assert.deepEqual(links.map((a) => a.getAttribute('aria-current')), [null, null, 'page', null, null]);
  assert.equal(QV.qaNav(['mine'], 'mine', ctx('en')), null, 'one page: no navigation');
});

test('textOffset maps a selection in an underlined text to its offset, what screen readers alone hear left out', () => {
  const text = '您好😀，请加我微信 wxid，电话 138****5678';
  const at = (sub) => Array.from(text.slice(0, text.indexOf(sub))).length;
  const findings = [
    { detector: 'diversion', kind: 'contact', severity: 'high', start: at('加我'), end: at('，电话') },
    { detector: 'privacy', kind: 'phone', severity: 'medium', start: at('138'), end: at('138') + 11 },
  ];
  const p = V.highlighted(text, findings, ctx('en'));
  const [t0, mark1] = p.childNodes;
  assert.equal(t0.data, '您好😀，请');
  // In the first text node.
  assert.equal(QV.textOffset(p, t0, 2), 2);
  // In the mark's text: its start plus the offset.
  const m1text = mark1.childNodes[0];
  assert.equal(QV.textOffset(p, m1text, 1), t0.data.length + 1);
  // In the hidden description: the end of the mark's visible text.
  const hidden = mark1.childNodes[1].childNodes[0];
  assert.equal(QV.textOffset(p, hidden, 3), t0.data.length + m1text.data.length);
  // Element boundaries: before the second child, after the last.
  assert.equal(QV.textOffset(p, p, 1), t0.data.length);
  assert.equal(QV.textOffset(p, p, p.childNodes.length), text.length);
  assert.equal(QV.textOffset(p, mark1, 0), t0.data.length);
  // Outside the paragraph.
  const other = V.highlighted('x', [], ctx('en'));
  assert.equal(QV.textOffset(p, other.childNodes[0], 0), -1);
  // The whole phone number selected, mark to mark: its code points.
  const phone = p.childNodes.find((n) => n.nodeType === 1 && n.childNodes[0].data === '138****5678');
  const a = QV.textOffset(p, phone.childNodes[0], 0);
  const b = QV.textOffset(p, phone.childNodes[0], 11);
  assert.deepEqual(Q.spanFromUtf16(text, a, b), { start: findings[1].start, end: findings[1].end });
  // 😀，请 across the emoji: code points 2..5.
  assert.deepEqual(Q.spanFromUtf16(text, QV.textOffset(p, t0, 2), QV.textOffset(p, t0, 6)), { start: 2, end: 5 });
});
