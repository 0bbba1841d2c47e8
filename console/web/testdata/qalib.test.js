// Unit tests of static/qalib.js, the pure functions of the quality audits'
// pages (docs/qa.md). TestJS (js_test.go) runs them next to the assets.

import test from 'node:test';
import assert from 'node:assert/strict';
import * as Q from './qalib.js';

const H = 3600000;
const NOW = Date.UTC(2026, 11, 6, 12, 0, 0);
const iso = (ms) => new Date(ms).toISOString();

const scorecard = {
  categories: [
    { id: 'courtesy', name: { zh: '礼貌', en: 'Courtesy' }, weight: 2 },
    { id: 'accuracy', name: { en: 'Accuracy' }, weight: 1 },
    { id: 'compliance', name: 'Compliance', weight: 1 },
  ],
  auto_fail: [
    { id: 'privacy_leak', name: { en: 'Privacy leak' }, kinds: ['privacy.*'] },
    { id: 'offplatform', name: 'Off-platform payment', kinds: ['diversion.payment'] },
  ],
};
const conversation = {
  turns: [
    { event_id: 'e0', role: 'customer', delivered: true, findings: [{ detector: 'complaint', kind: 'escalation', start: 0, end: 2 }] },
    { event_id: 'e1', role: 'agent', delivered: false, findings: [
      { detector: 'diversion', kind: 'contact', start: 0, end: 2 }, { detector: 'privacy', kind: 'phone', start: 3, end: 5 }] },
    { event_id: 'e2', role: 'agent', delivered: true, findings: [{ detector: 'custom', kind: 'thing', start: 0, end: 1 }] },
    { event_id: 'e3', role: 'agent', delivered: true, findings: [] },
    { role: 'agent', delivered: true },
  ],
};
const draftOf = (over = {}) => ({ ...Q.newDraft(null, scorecard), ...over });

test('computeScore: weighted categories, 0..100', () => {
  const d = draftOf();
  assert.deepEqual(Q.computeScore(scorecard, d, conversation), { score: 100, raw: 100, autoFail: false, reasons: [], missing: [] });
  d.categories.courtesy = 0.5;
  assert.equal(Q.computeScore(scorecard, d, conversation).score, 75); // (2×0.5 + 1 + 1) / 4
  d.categories.accuracy = 0;
  d.categories.compliance = 0.25;
  assert.equal(Q.computeScore(scorecard, d, conversation).score, (2 * 0.5 + 0 + 0.25) / 4 * 100);
  // A category without a valid value: no score yet, and which it is.
  delete d.categories.accuracy;
  d.categories.compliance = 1.5;
  const r = Q.computeScore(scorecard, d, conversation);
  assert.equal(r.score, null);
  assert.deepEqual(r.missing, ['accuracy', 'compliance']);
  // Weights summing to 0: no score.
  const zero = { categories: [{ id: 'a', weight: 0 }] };
  assert.equal(Q.computeScore(zero, Q.newDraft(null, zero), conversation).score, null);
  // A weight missing counts 1; a negative one 0.
  const sc2 = { categories: [{ id: 'a' }, { id: 'b', weight: -3 }, { id: 'c', weight: '3' }] };
  const d2 = Q.newDraft({ categories: { a: 0, b: 0, c: 1 } }, sc2);
  assert.equal(Q.computeScore(sc2, d2, conversation).score, 75);
});

test('computeScore: auto-fail by a ticked item or a confirmed finding of its kinds', () => {
  const base = () => draftOf({ verdicts: new Map() });
  let d = base();
  d.auto_fail = ['offplatform'];
  assert.deepEqual(Q.computeScore(scorecard, d, conversation), { score: 0, raw: 100, autoFail: true, reasons: [{ item: 'offplatform' }], missing: [] });
  // A correct verdict on privacy.phone matches privacy.*.
  d = base();
  d.verdicts.set('e1#1', { verdict: 'correct', correct_kind: '' });
  let r = Q.computeScore(scorecard, d, conversation);
  assert.equal(r.score, 0);
  assert.deepEqual(r.reasons, [{ item: 'privacy_leak', kind: 'privacy.phone' }]);
  // A false positive or a wrong kind without its kind confirms nothing.
  d.verdicts.set('e1#1', { verdict: 'false_positive', correct_kind: '' });
  d.verdicts.set('e1#0', { verdict: 'wrong_kind', correct_kind: '' });
  assert.equal(Q.computeScore(scorecard, d, conversation).score, 100);
  // A wrong kind corrected to diversion.payment does.
  d.verdicts.set('e1#0', { verdict: 'wrong_kind', correct_kind: 'diversion.payment' });
  r = Q.computeScore(scorecard, d, conversation);
  assert.deepEqual(r.reasons, [{ item: 'offplatform', kind: 'diversion.payment' }]);
  // So does a missed finding of such a kind; both items listed, in the scorecard's order.
  d.missed.push({ event_id: 'e3', start: 0, end: 1, kind: 'privacy.id_card', note: '' });
  r = Q.computeScore(scorecard, d, conversation);
  assert.deepEqual(r.reasons.map((x) => x.item), ['privacy_leak', 'offplatform']);
  assert.equal(r.raw, 100, 'the raw score is kept');
  // A verdict on a finding the conversation lacks confirms nothing.
  d = base();
  d.verdicts.set('e9#0', { verdict: 'correct', correct_kind: '' });
  d.verdicts.set('e1#7', { verdict: 'correct', correct_kind: '' });
  assert.equal(Q.computeScore(scorecard, d, conversation).autoFail, false);
});

test('kindMatches: exact, family.*, *', () => {
  assert.ok(Q.kindMatches('privacy.*', 'privacy.phone'));
  assert.ok(!Q.kindMatches('privacy.*', 'privacyx.phone'));
  assert.ok(!Q.kindMatches('privacy.*', 'tone.rude'));
  assert.ok(Q.kindMatches('diversion.payment', 'diversion.payment'));
  assert.ok(!Q.kindMatches('diversion.payment', 'diversion.contact'));
  assert.ok(Q.kindMatches('*', 'link.external'));
  assert.ok(!Q.kindMatches('', 'link.external'));
  assert.ok(!Q.kindMatches('privacy.*', ''));
});

test('newDraft and reviewBody round-trip a review', () => {
  const review = {
    task_id: 'T1', categories: { courtesy: 0.5, accuracy: 7, bogus: 1 }, auto_fail: ['offplatform', 'nope'],
    verdicts: [
      { event_id: 'e1', finding_index: 0, verdict: 'wrong_kind', correct_kind: 'tone.rude' },
      { event_id: 'e1', finding_index: 1, verdict: 'correct' },
      { event_id: 'e2', finding_index: 0, verdict: 'maybe' },
      { event_id: 'e#3', finding_index: 2, verdict: 'false_positive' },
    ],
    missed: [{ event_id: 'e3', start: 0, end: 2, kind: 'tone.impatient', note: 'n' }, { event_id: 'e3', start: 'x', end: 2 }],
    note: 'ok',
  };
  const d = Q.newDraft(review, scorecard);
  assert.deepEqual(d.categories, { courtesy: 0.5, accuracy: 1, compliance: 1 }, 'clamped, unknown dropped, missing at 1');
  assert.deepEqual(d.auto_fail, ['offplatform']);
  assert.deepEqual([...d.verdicts.keys()], ['e1#0', 'e1#1', 'e#3#2']);
  const b = Q.reviewBody('T1', d);
  assert.deepEqual(b, {
    task_id: 'T1',
    categories: { courtesy: 0.5, accuracy: 1, compliance: 1 },
    auto_fail: ['offplatform'],
    verdicts: [
      { event_id: 'e1', finding_index: 0, verdict: 'wrong_kind', correct_kind: 'tone.rude' },
      { event_id: 'e1', finding_index: 1, verdict: 'correct' },
      { event_id: 'e#3', finding_index: 2, verdict: 'false_positive' },
    ],
    missed: [{ event_id: 'e3', start: 0, end: 2, kind: 'tone.impatient', note: 'n' }],
    note: 'ok',
  });
  assert.ok(!('score' in b));
});

test('reviewProblems and percentInput', () => {
  const d = draftOf();
  assert.deepEqual(Q.reviewProblems(scorecard, d, conversation), []);
  d.verdicts.set('e1#1', { verdict: 'wrong_kind', correct_kind: '' });
  assert.deepEqual(Q.reviewProblems(scorecard, d, conversation), ['kind']);
  d.verdicts.set('e1#1', { verdict: 'wrong_kind', correct_kind: 'privacy.phone' });
  assert.deepEqual(Q.reviewProblems(scorecard, d, conversation), ['kind'], 'the same kind is no correction');
  d.verdicts.set('e1#1', { verdict: 'wrong_kind', correct_kind: 'privacy.email' });
  delete d.categories.courtesy;
  assert.deepEqual(Q.reviewProblems(scorecard, d, conversation), ['missing']);
  assert.equal(Q.percentInput('50'), 0.5);
  assert.equal(Q.percentInput(' 12.5 % '), 0.125);
  assert.equal(Q.percentInput('100'), 1);
  assert.equal(Q.percentInput('0'), 0);
  for (const bad of ['', '-1', '101', 'abc', '1e2', null]) assert.equal(Q.percentInput(bad), null, String(bad));
});

test('autoScore and formatScore', () => {
  // Agent drafts: e1 (blocked), e2 (a finding), e3 and the last (clean, delivered).
  assert.equal(Q.autoScore(conversation), 50);
  assert.equal(Q.autoScore({ turns: [{ role: 'customer' }] }), null);
  assert.equal(Q.autoScore(null), null);
  assert.equal(Q.formatScore(75), '75.0');
  assert.equal(Q.formatScore(100 / 3), '33.3');
  assert.equal(Q.formatScore(0), '0.0');
  assert.equal(Q.formatScore(null), '—');
  assert.equal(Q.formatScore(undefined), '—');
});

test('spanFromUtf16: a selection to code points, pairs never cut', () => {
  const text = '您好😀，请加我 👨‍👩‍👧 abc';
  // 😀 is UTF-16 2..4, code point 2.
  assert.deepEqual(Q.spanFromUtf16(text, 2, 6), { start: 2, end: 5 });
  assert.deepEqual(Q.spanFromUtf16(text, 6, 2), { start: 2, end: 5 }, 'a backwards selection');
  assert.deepEqual(Q.spanFromUtf16(text, 3, 4), { start: 2, end: 3 }, 'inside a pair: widened to it');
  assert.deepEqual(Q.spanFromUtf16(text, 0, 3), { start: 0, end: 3 });
  assert.deepEqual(Q.spanFromUtf16(text, -5, 999), { start: 0, end: Q.cpLength(text) }, 'clamped');
  // The family emoji is 5 code points (3 people, 2 joiners): all of them.
  const fam = text.indexOf('👨');
  const span = Q.spanFromUtf16(text, fam, fam + '👨‍👩‍👧'.length);
  assert.equal(Q.sliceCodePoints(text, span.start, span.end), '👨‍👩‍👧');
  assert.equal(span.end - span.start, 5);
  assert.equal(Q.sliceCodePoints(text, 2, 5), '😀，请');
  assert.equal(Q.cpLength('😀a'), 2);
});

test('checkSpan', () => {
  const text = 'a😀b';
  assert.equal(Q.checkSpan(text, 0, 3), '');
  assert.equal(Q.checkSpan(text, 1, 2), '');
  assert.equal(Q.checkSpan(text, 1, 1), 'empty');
  assert.equal(Q.checkSpan(text, 2, 1), 'empty');
  assert.equal(Q.checkSpan(text, 0, 4), 'range');
  assert.equal(Q.checkSpan(text, -1, 2), 'range');
  assert.equal(Q.checkSpan(text, 0.5, 2), 'integer');
  assert.equal(Q.checkSpan(text, NaN, 2), 'integer');
});

test('tasks: oldest due first, overdue, merge by id', () => {
  const tasks = [
    { id: '10', due_at: iso(NOW + 5 * H), created_at: iso(NOW - H), state: 'open' },
    { id: '9', due_at: iso(NOW - H), created_at: iso(NOW - 9 * H), state: 'in_review' },
    { id: '11', state: 'open' },
    { id: '2', due_at: iso(NOW + 5 * H), created_at: iso(NOW - 2 * H), state: 'open' },
    { id: '3', due_at: iso(NOW - 2 * H), created_at: iso(NOW - 9 * H), state: 'done' },
    { id: '1', due_at: iso(NOW + 5 * H), created_at: iso(NOW - 2 * H), state: 'open' },
  ];
  assert.deepEqual(tasks.slice().sort(Q.compareTasks).map((x) => x.id), ['3', '9', '1', '2', '10', '11']);
  assert.deepEqual(tasks.filter((x) => Q.isOverdue(x, NOW)).map((x) => x.id), ['9'], 'done is never overdue; no due time is not');
  assert.ok(!Q.isOverdue({ state: 'open', due_at: iso(NOW) }, NOW), 'due now is not yet overdue');
  assert.ok(!Q.isOverdue(null, NOW));
  const merged = Q.mergeTasks(tasks.slice(0, 2), [{ ...tasks[0], assignee: 'alice' }, tasks[4], null, { id: '' }, 'x']);
  assert.deepEqual(merged.map((x) => x.id), ['3', '9', '10']);
  assert.equal(merged[2].assignee, 'alice');
  assert.ok(Number.isNaN(Q.dueIn({}, NOW)));
  assert.equal(Q.dueIn({ due_at: iso(NOW + H) }, NOW), H);
});

test('task filters: role defaults, URL round-trip, the API query', () => {
  assert.deepEqual(Q.normalizeTaskFilters({}, 'auditor'), { state: 'active', assignee: 'me', agent: '', team: '' });
  assert.deepEqual(Q.normalizeTaskFilters({}, 'supervisor'), { state: 'active', assignee: 'all', agent: '', team: '' });
  assert.equal(Q.normalizeTaskFilters({ state: 'bogus' }).state, 'active');
  assert.equal(Q.normalizeTaskFilters({ state: 'any' }).state, '');
  assert.equal(Q.taskFiltersToSearch({}, 'auditor', '?lang=en'), '?lang=en');
  const f = { state: '', assignee: 'all', agent: ' 坐席 1 ', team: 't&1' };
  const s = Q.taskFiltersToSearch(f, 'auditor', '?lang=zh');
  assert.equal(s, '?lang=zh&state=any&assignee=all&agent=%E5%9D%90%E5%B8%AD+1&team=t%261');
  assert.deepEqual(Q.taskFiltersFromSearch(s, 'auditor'), { state: '', assignee: 'all', agent: '坐席 1', team: 't&1' });
  assert.deepEqual(Q.taskFiltersFromSearch('?state=done', 'admin'), { state: 'done', assignee: 'all', agent: '', team: '' });
  assert.equal(Q.tasksQuery({ state: 'active', assignee: 'me' }), 'state=open%2Cin_review&assignee=me');
  assert.equal(Q.tasksQuery({ state: '', assignee: 'all', agent: 'a', team: 't' }, 'cur/1'), 'agent=a&team=t&cursor=cur%2F1');
  assert.equal(Q.tasksQuery({ state: 'done', assignee: 'all' }), 'state=done');
});

test('who may do what', () => {
  const me = (role, subject = 'alice') => ({ role, subject });
  const open = { state: 'open', assignee: '' };
  const bobs = { state: 'in_review', assignee: 'bob' };
  assert.ok(Q.canTake(open, me('auditor')));
  assert.ok(Q.canTake({ state: 'in_review', assignee: 'alice' }, me('auditor')));
  assert.ok(!Q.canTake(bobs, me('auditor')));
  assert.ok(!Q.canTake({ state: 'done', assignee: '' }, me('auditor')));
  assert.ok(!Q.canTake(open, me('supervisor')));
  assert.ok(!Q.canTake(open, me('agent')));
  assert.ok(Q.canTake(open, me('admin')));
  assert.ok(Q.canReview({ state: 'in_review', assignee: 'alice' }, null, me('auditor')));
  assert.ok(Q.canReview({ state: 'open', assignee: 'alice' }, { submitted_at: '' }, me('auditor')));
  assert.ok(!Q.canReview({ state: 'in_review', assignee: 'alice' }, { submitted_at: '2026-12-06T11:00:00Z' }, me('auditor')));
  assert.ok(!Q.canReview({ state: 'done', assignee: 'alice' }, null, me('auditor')));
  assert.ok(!Q.canReview(open, null, me('auditor')), 'take it first');
  assert.ok(!Q.canReview({ state: 'in_review', assignee: 'alice' }, null, me('supervisor')));
  const table = {
    alerts: ['auditor', 'supervisor', 'admin'], queue: ['auditor', 'supervisor', 'admin'], take: ['auditor', 'admin'],
    dispute: ['agent', 'supervisor', 'admin'], rule: ['supervisor', 'admin'], disputes: ['agent', 'auditor', 'supervisor', 'admin'],
    quota: ['supervisor', 'admin'], calibration: ['supervisor', 'admin'], export: ['supervisor', 'admin'],
    precision: ['auditor', 'supervisor', 'admin'], mine: ['agent'],
  };
  for (const [what, roles] of Object.entries(table)) {
    for (const role of ['agent', 'auditor', 'supervisor', 'admin']) assert.equal(Q.can(role, what), roles.includes(role), `${role} ${what}`);
  }
  assert.ok(!Q.can('admin', 'nothing'));
  assert.deepEqual(Q.qaPages('auditor'), ['queue', 'disputes', 'precision']);
  assert.deepEqual(Q.qaPages('admin'), ['queue', 'disputes', 'quota', 'precision', 'calibration']);
  assert.deepEqual(Q.qaPages('agent'), ['mine']);
  assert.equal(Q.homePath('agent'), '/qa/mine');
  assert.equal(Q.homePath('supervisor'), '/');
  assert.ok(Q.hasDecrypt({ role: 'auditor' }), 'no permissions field: try, the server decides');
  assert.ok(Q.hasDecrypt({ permissions: ['decrypt'] }));
  assert.ok(!Q.hasDecrypt({ permissions: [] }));
  assert.ok(!Q.hasDecrypt({ permissions: ['export'] }));
});

test('routes round-trip', () => {
  for (const page of ['queue', 'disputes', 'quota', 'precision', 'calibration', 'mine']) {
    assert.deepEqual(Q.parseQaRoute(Q.qaPath(page)), { view: 'qa', page });
    assert.deepEqual(Q.parseQaRoute(Q.qaPath(page) + '/'), { view: 'qa', page });
  }
  for (const id of ['T1', '任务/1?x#y', '<b>']) assert.deepEqual(Q.parseQaRoute(Q.qaPath('task', id)), { view: 'qa', page: 'task', id });
  assert.equal(Q.qaPath('task', 'a/b'), '/qa/tasks/a%2Fb');
  assert.deepEqual(Q.parseQaRoute('/qa/tasks/%E0%A4%A'), { view: 'qa', page: 'queue' });
  assert.deepEqual(Q.parseQaRoute('/qa/nope'), { view: 'qa', page: 'queue' });
  assert.equal(Q.parseQaRoute('/'), null);
  assert.equal(Q.parseQaRoute('/qax'), null);
  assert.equal(Q.parseQaRoute('/conversations/c1'), null);
  assert.equal(Q.parseQaRoute(undefined), null);
});

test('dispute window: 7 days after submission, or the server\'s', () => {
  const at = NOW - 3 * 24 * H;
  const review = { submitted_at: iso(at) };
  assert.equal(Q.disputeDeadline(review), at + 7 * 24 * H);
  assert.ok(Q.disputeOpen(review, NOW));
  assert.ok(Q.disputeOpen(review, at + 7 * 24 * H), 'the last moment');
  assert.ok(!Q.disputeOpen(review, at + 7 * 24 * H + 1));
  assert.ok(!Q.disputeOpen(review, NOW, 2 * 24 * H), 'a shorter window');
  assert.ok(!Q.disputeOpen({ submitted_at: iso(at), dispute_until: iso(NOW - 1) }, NOW), 'the server says when');
  assert.ok(!Q.disputeOpen({}, NOW), 'not submitted');
  assert.ok(!Q.disputeOpen(null, NOW));
  assert.equal(Q.disputeTaskId({ review_id: 'R1', task_id: 'T1' }), 'T1');
  assert.equal(Q.disputeTaskId({ review_id: 7 }), '7');
  assert.equal(Q.disputeTaskId(null), '');
});

test('precision: the server\'s or computed, formatted, per day, sorted', () => {
  assert.equal(Q.precisionOf({ precision: 0.9, correct: 1, false_positive: 9 }), 0.9);
  assert.equal(Q.precisionOf({ correct: 4, false_positive: 0, wrong_kind: 1 }), 0.8);
  assert.equal(Q.precisionOf({ correct: 0, false_positive: 0, missed: 3 }), null, 'nothing judged');
  assert.equal(Q.precisionOf({ precision: 1.5 }), 1);
  assert.equal(Q.formatPercent(0.8), '80.0%');
  assert.equal(Q.formatPercent(1 / 3, 0), '33%');
  assert.equal(Q.formatPercent(null), '—');
  assert.equal(Q.formatPercent('x'), '—');
  const rows = Q.normalizePrecision({
    rules: [
      { rule: 'phone.cn', correct: 9, false_positive: 1, wrong_kind: 0, missed: 2, precision: 0.9, days: [{ day: '2026-12-02', correct: 1, false_positive: 1 }, { day: '2026-12-01', precision: 1 }] },
      { rule: 'model:2026.1', correct: 1, false_positive: 3 },
      { lexicon: 'tone.rude.01', source: 'lexicon', correct: 2 },
      { rule: 'r', missed: 4 },
    ],
    days: [{ rule: 'model:2026.1', day: '2026-12-03T00:00:00Z', precision: 0.5 }],
  });
  assert.deepEqual(rows.map((r) => [r.rule, r.source, r.precision]), [
    ['phone.cn', 'rule', 0.9], ['model:2026.1', 'model', 0.25], ['tone.rude.01', 'lexicon', 1], ['r', 'rule', null],
  ]);
  assert.deepEqual(rows[0].days, [{ day: '2026-12-01', precision: 1 }, { day: '2026-12-02', precision: 0.5 }], 'oldest first, computed');
  assert.deepEqual(rows[1].days, [{ day: '2026-12-03', precision: 0.5 }], 'from the body\'s days');
  assert.deepEqual(Q.normalizePrecision([{ rule: 'x', correct: 1 }]).map((r) => r.precision), [1], 'a bare list');
  assert.deepEqual(Q.normalizePrecision(null), []);
  // Sorting: empty values last either way, ties stable.
  assert.deepEqual(Q.sortRows(rows, 'precision', 'asc').map((r) => r.rule), ['model:2026.1', 'phone.cn', 'tone.rude.01', 'r']);
  assert.deepEqual(Q.sortRows(rows, 'precision', 'desc').map((r) => r.rule), ['tone.rude.01', 'phone.cn', 'model:2026.1', 'r']);
  assert.deepEqual(Q.sortRows(rows, 'rule', 'asc').map((r) => r.rule), ['model:2026.1', 'phone.cn', 'r', 'tone.rude.01']);
  assert.deepEqual(Q.sortRows(rows, 'false_positive', 'desc').map((r) => r.rule), ['model:2026.1', 'phone.cn', 'tone.rude.01', 'r']);
  assert.deepEqual(Q.nextSort({ key: 'precision', dir: 'asc' }, 'precision'), { key: 'precision', dir: 'desc' });
  assert.deepEqual(Q.nextSort({ key: 'precision', dir: 'desc' }, 'correct'), { key: 'correct', dir: 'desc' });
  assert.deepEqual(Q.nextSort(null, 'rule'), { key: 'rule', dir: 'asc' });
});

test('export: a same-origin path and a file name', () => {
  assert.equal(Q.exportPath({ since: '7d', verdict: 'missed', format: 'rego' }), '/api/qa/export?since=7d&verdict=missed&format=rego');
  assert.equal(Q.exportPath({ since: 'evil', verdict: '<x>', format: 'exe' }), '/api/qa/export?since=30d&verdict=all&format=jsonl');
  assert.equal(Q.exportName({ since: '7d', verdict: 'false_positive', format: 'jsonl' }), 'xunjian_qa_false_positive_7d.jsonl');
  assert.equal(Q.exportName({ format: 'rego' }), 'xunjian_qa_all_30d_test.rego', 'opa test runs *_test.rego');
});

test('quota: unmet first, met computed when missing', () => {
  const rows = Q.normalizeQuota({ agents: [
    { agent_id: 'b', sampled: 3, reviewed: 2, minimum: 2, met: true },
    { agent_id: 'a', sampled: 1, reviewed: 0, minimum: 2 },
    { agent: 'c', sampled: 2, reviewed: 2, min: 2 },
    { agent_id: 'd', reviewed: 5, minimum: 2, met: false },
  ] });
  assert.deepEqual(rows.map((r) => [r.agent_id, r.met]), [['a', false], ['d', false], ['b', true], ['c', true]]);
  assert.equal(rows[1].sampled, 0);
  assert.deepEqual(Q.normalizeQuota([{ agent_id: 'x', minimum: 0 }]).map((r) => r.met), [true]);
  assert.ok(Q.isDay('2026-12-06'));
  assert.ok(!Q.isDay('2026-13-06'));
  assert.ok(!Q.isDay('06/12/2026'));
  assert.ok(!Q.isDay(null));
  assert.match(Q.localDay(NOW), /^2026-12-0[67]$/);
});

test('calibration: lists or maps, auditors least agreeing first', () => {
  const c = Q.normalizeCalibration({
    groups: [
      { id: 'g1', conversation_id: 'c9', agreement: 0.8, categories: [{ id: 'courtesy', scores: { bob: 0.6, alice: 0.8 }, agreement: 0.8 }] },
      { group: 'g2', auditors: ['carol'], categories: { accuracy: { scores: [{ auditor: 'dave', score: 1 }, { auditor: 'carol', score: null }], agreement: '0.5' } } },
    ],
    auditors: [{ auditor: 'alice', agreement: 0.9, groups: 3 }, { id: 'bob', agreement: 0.4, reviews: 2 }, { auditor: 'x' }],
  });
  assert.deepEqual(c.groups[0], {
    id: 'g1', conversation_id: 'c9', auditors: ['alice', 'bob'], agreement: 0.8,
    categories: [{ id: 'courtesy', name: undefined, scores: { bob: 0.6, alice: 0.8 }, agreement: 0.8 }],
  });
  assert.deepEqual(c.groups[1].auditors, ['carol', 'dave']);
  assert.deepEqual(c.groups[1].categories[0].scores, { dave: 1, carol: null });
  assert.equal(c.groups[1].categories[0].agreement, 0.5);
  assert.deepEqual(c.auditors.map((a) => [a.auditor, a.agreement, a.groups]), [['bob', 0.4, 2], ['alice', 0.9, 3], ['x', null, null]]);
  assert.deepEqual(Q.normalizeCalibration(null), { groups: [], auditors: [] });
});

test('kindsFor: the taxonomy, then the other kinds the findings show', () => {
  const kinds = Q.kindsFor(conversation);
  assert.deepEqual(kinds.slice(0, Q.TAXONOMY.length), Q.TAXONOMY);
  assert.deepEqual(kinds.slice(Q.TAXONOMY.length), ['custom.thing']);
  assert.deepEqual(Q.kindsFor({ turns: [{ findings: [{ detector: '<b>', kind: 'x' }] }] }), Q.TAXONOMY, 'malformed kinds are left out');
  assert.equal(new Set(Q.TAXONOMY).size, Q.TAXONOMY.length);
  assert.equal(Q.localName({ zh: '礼貌', en: 'Courtesy' }, 'zh-CN'), '礼貌');
  assert.equal(Q.localName({ zh: '礼貌', en: 'Courtesy' }, 'en'), 'Courtesy');
  assert.equal(Q.localName({ en: 'Courtesy' }, 'zh-CN'), 'Courtesy');
  assert.equal(Q.localName({}, 'en', 'id1'), 'id1');
  assert.equal(Q.localName('Plain', 'zh-CN'), 'Plain');
  assert.equal(Q.findingRule({ lexicon: 'phone.cn' }), 'phone.cn');
  assert.equal(Q.findingRule({ rule: 'r', lexicon: 'l' }), 'r');
  assert.equal(Q.findingRule({ model: '2026.1' }), 'model:2026.1');
  assert.equal(Q.findingRule({}), '');
});

test('qaKeyCommand', () => {
  const k = (key, extra = {}) => ({ key, ...extra });
  assert.equal(Q.qaKeyCommand(k('j'), 'queue'), 'next');
  assert.equal(Q.qaKeyCommand(k('ArrowDown'), 'queue'), '', 'arrows only on a row');
  assert.equal(Q.qaKeyCommand(k('ArrowDown', { row: true }), 'disputes'), 'next');
  assert.equal(Q.qaKeyCommand(k('Enter'), 'queue'), 'open');
  assert.equal(Q.qaKeyCommand(k('Enter', { control: true }), 'queue'), '', 'Enter on a button is the button\'s');
  assert.equal(Q.qaKeyCommand(k('a'), 'queue'), 'take');
  assert.equal(Q.qaKeyCommand(k('a'), 'disputes'), '');
  assert.equal(Q.qaKeyCommand(k('/'), 'queue'), 'filter');
  assert.equal(Q.qaKeyCommand(k('/'), 'mine'), '');
  for (const [key, cmd] of [['j', 'next'], ['k', 'prev'], ['c', 'correct'], ['f', 'false_positive'], ['w', 'wrong_kind'], ['m', 'missed'], ['s', 'save'], ['d', 'dispute']]) {
    assert.equal(Q.qaKeyCommand(k(key), 'task'), cmd, key);
    assert.equal(Q.qaKeyCommand(k(key, { editable: true }), 'task'), '', key + ' while typing');
  }
  assert.equal(Q.qaKeyCommand(k('a'), 'task'), '');
  assert.equal(Q.qaKeyCommand(k('Escape', { editable: true }), 'task'), 'blur');
  assert.equal(Q.qaKeyCommand(k('Escape'), 'precision'), 'back');
  assert.equal(Q.qaKeyCommand(k('?'), 'quota'), 'help');
  assert.equal(Q.qaKeyCommand(k('j'), 'quota'), '');
  assert.equal(Q.qaKeyCommand(k('c', { ctrlKey: true }), 'task'), '', 'copy stays copy');
  assert.equal(Q.qaKeyCommand(k('c', { dialog: true }), 'task'), '');
  assert.equal(Q.moveIndex(0, -1, 1), -1);
  assert.equal(Q.moveIndex(3, -1, 1), 0);
  assert.equal(Q.moveIndex(3, -1, -1), 2);
  assert.equal(Q.moveIndex(3, 2, 1), 2);
  assert.equal(Q.moveIndex(3, 1, -1), 0);
});

test('listOf reads a list from a body', () => {
  assert.deepEqual(Q.listOf({ tasks: [{ id: 1 }, 'x', null] }, 'tasks'), [{ id: 1 }]);
  assert.deepEqual(Q.listOf([{ id: 1 }], 'tasks'), [{ id: 1 }]);
  assert.deepEqual(Q.listOf({ rows: [{ a: 1 }] }, 'agents', 'rows'), [{ a: 1 }]);
  assert.deepEqual(Q.listOf({ tasks: 'no' }, 'tasks'), []);
  assert.deepEqual(Q.listOf(null, 'tasks'), []);
});
