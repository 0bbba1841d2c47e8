// The QA pages' views as functions of data (docs/qa.md): the review queue,
// the review of a conversation (findings with verdicts, missed findings,
// the scorecard), disputes, quota, precision and calibration. They build
// DOM with dom.js (all server text as text nodes) and keep no state. ctx
// gives, besides what views.js's ctx gives (t, now, fmtTime, onLink):
//   lang              the interface language (names of categories)
//   selectedTask      the selected task's id (queue)
//   canTake(task)     whether the principal may take a task
//   onTake(task)      take it
//   alerts            whether the principal sees agents' pages
//   editable          whether the review may be changed
//   draft             the review's draft (qalib newDraft)
//   kinds             the kinds an auditor may pick
//   raw               Map event_id → raw text, shown instead of the masked
//   onVerdict(key, v) / onKind(key, kind)      a finding's verdict
//   onMissedAdd(turn) / onMissedRemove(i)      missed findings
//   canDispute        whether a dispute may be opened now
//   onDispute(finding) open one (finding {event_id, index} or null)
//   canRule           whether the principal rules on disputes
//   onRule(d, outcome) rule on dispute d
//   conversation      the conversation (to name a dispute's finding)

import { h, svg } from './dom.js';
import { formatRisk, sparkPath } from './lib.js';
import {
  REASONS, TASK_STATES, VERDICTS, DISPUTE_STATES, OUTCOMES, isOverdue, findingKind, findingRule, verdictKey, localName,
  sliceCodePoints, formatPercent, formatScore, findingAt, qaPath, disputeTaskId, PRECISION_COLS,
} from './qalib.js';
import { turnMeta, highlighted } from './views.js';

const DASH = '—';
const known = (list, v, dflt) => (list.includes(v) ? v : dflt);
const str = (v) => (v === undefined || v === null ? '' : String(v));

/** The columns of the review queue. */
export const TASK_COLS = ['due', 'conversation', 'agent', 'team', 'reason', 'risk', 'state', 'assignee', 'actions'];
/** The columns of an agent's own reviews. */
export const MINE_COLS = ['created', 'conversation', 'reason', 'state'];
/** The columns of the disputes list. */
export const DISPUTE_COLS = ['review', 'finding', 'by', 'reason', 'state', 'ruling', 'actions'];

/** qaLink is a link inside the console (routed on the client). */
function qaLink(path, text, ctx, props = {}) {
  return h('a', { ...props, href: path, on: { click: ctx.onLink } }, text);
}

/** reasonBadge shows why a conversation was sampled. */
export function reasonBadge(reason, t) {
  const r = known(REASONS, reason, '');
  return h('span', { class: 'tag reason rs-' + (r || 'unknown') }, r ? t('reason.' + r) : str(reason) || DASH);
}

/** taskStateBadge shows a task's state. */
export function taskStateBadge(state, t) {
  const s = known(TASK_STATES, state, '');
  return h('span', { class: 'state ts-' + (s || 'unknown') }, s ? t('tstate.' + s) : str(state) || DASH);
}

/** disputeStateBadge shows a dispute's state. */
export function disputeStateBadge(state, t) {
  const s = known(DISPUTE_STATES, state, '');
  return h('span', { class: 'state ds-' + (s || 'unknown') }, s ? t('dstate.' + s) : str(state) || DASH);
}

/** calibBadge marks a task reviewed by several auditors for calibration. */
export function calibBadge(task, t) {
  if (!task || !task.calibration_group) return null;
  return h('span', { class: 'tag calib', title: t('task.calibrationGroup', { group: str(task.calibration_group) }) }, t('task.calibration'));
}

/** dueCell shows a due time, and the word "overdue" when it is past. */
function dueView(task, ctx) {
  const over = isOverdue(task, ctx.now);
  return [
    h('time', { datetime: str(task.due_at), title: ctx.fmtTime(task.due_at) }, ctx.fmtTime(task.due_at) || DASH),
    over ? [' ', h('span', { class: 'badge overdue' }, ctx.t('task.overdue'))] : null,
  ];
}

function taskCell(col, task, ctx) {
  const { t } = ctx;
  switch (col) {
    case 'due': return h('td', { class: 'c-due' }, dueView(task, ctx));
    case 'created': return h('td', { class: 'c-created' }, h('time', { datetime: str(task.created_at) }, ctx.fmtTime(task.created_at) || DASH));
    case 'conversation': return h('td', { class: 'c-conv', title: str(task.conversation_id) },
      qaLink(qaPath('task', task.id), str(task.conversation_id) || '#' + str(task.id), ctx, { 'data-k': 'open', 'aria-label': t('task.openLabel', { id: str(task.conversation_id) || str(task.id) }) }),
      task.calibration_group ? [' ', calibBadge(task, t)] : null);
    case 'agent': return h('td', { class: 'c-agent' }, task.agent_id
      ? (ctx.alerts ? qaLink('/agents/' + encodeURIComponent(str(task.agent_id)), str(task.agent_id), ctx, { 'data-k': 'agent' }) : str(task.agent_id)) : DASH);
    case 'team': return h('td', { class: 'c-team' }, str(task.team) || DASH);
    case 'reason': return h('td', { class: 'c-reason' }, reasonBadge(task.reason, t));
    case 'risk': return h('td', { class: 'c-risk num' + (+task.risk >= 0.7 ? ' risk-hi' : '') }, formatRisk(task.risk));
    case 'state': return h('td', { class: 'c-state' }, taskStateBadge(task.state, t));
    case 'assignee': return h('td', { class: 'c-assignee' }, str(task.assignee) || DASH);
    case 'actions': {
      const ok = ctx.canTake ? ctx.canTake(task) : false;
      return h('td', { class: 'c-actions' }, h('button', {
        type: 'button', class: 'btn small', 'data-k': 'take', disabled: !ok,
        title: t('task.takeTitle') + ' (a)', 'aria-label': t('task.takeLabel', { id: str(task.conversation_id) || str(task.id) }),
        on: { click: (e) => { e.stopPropagation(); if (ctx.onTake) ctx.onTake(task); } },
      }, t('task.take')));
    }
    default: return h('td', null);
  }
}

/** taskRow is one task of the queue: a selectable row of the grid. */
export function taskRow(task, ctx, cols = TASK_COLS) {
  const sel = str(task.id) === str(ctx.selectedTask);
  const tr = h('tr', {
    class: 'task ts-' + known(TASK_STATES, task.state, 'unknown') + (isOverdue(task, ctx.now) ? ' overdue' : '') + (sel ? ' sel' : ''),
    'data-task-id': str(task.id),
    'aria-selected': sel ? 'true' : 'false',
    tabindex: sel ? '0' : '-1',
  }, cols.map((c) => taskCell(c, task, ctx)));
  for (const el of tr.querySelectorAll('[data-k]')) el.setAttribute('tabindex', sel ? '0' : '-1');
  return tr;
}

/** qaTable is a table with a header row of cols (keys prefix + col); rows go in tbody. */
export function qaTable(cols, prefix, label, ctx, cls) {
  return h('table', { class: 'alerts ' + cls, role: 'grid', 'aria-label': label },
    h('thead', null, h('tr', null, cols.map((c) => h('th', { scope: 'col', class: 'c-' + c }, ctx.t(prefix + c))))),
    h('tbody', null));
}

/** taskTable is the queue's table, its rows filled. */
export function taskTable(tasks, ctx, cols, label, empty) {
  const table = qaTable(cols, 'tcol.', label, ctx, 'qa-tasks');
  const tbody = table.childNodes[1];
  if (tasks.length === 0) tbody.appendChild(h('tr', { class: 'empty' }, h('td', { colspan: String(cols.length) }, empty)));
  for (const task of tasks) tbody.appendChild(taskRow(task, ctx, cols));
  return table;
}

// ------------------------------------------------------------ the review

/** findingItem is one finding of a turn: what it is, its rule and score, the verdict buttons. */
export function findingItem(turn, f, index, ctx) {
  const { t } = ctx;
  const kind = findingKind(f);
  const hasEvent = turn.event_id !== undefined && turn.event_id !== null && turn.event_id !== '';
  const key = hasEvent ? verdictKey(turn.event_id, index) : '';
  const v = key && ctx.draft ? ctx.draft.verdicts.get(key) : null;
  const rule = findingRule(f);
  const score = Number.isFinite(+f.score) && f.score !== null && f.score !== '' ? (+f.score).toFixed(2) : '';
  const buttons = hasEvent ? h('div', { class: 'verdicts', role: 'group', 'aria-label': t('rev.verdictLabel', { kind }) },
    VERDICTS.map((vd) => h('button', {
      type: 'button', class: 'btn small vd-' + vd, 'data-k': 'v-' + vd, 'aria-pressed': v && v.verdict === vd ? 'true' : 'false',
      disabled: !ctx.editable, title: t('verdict.' + vd + 'Title'),
      on: { click: () => ctx.onVerdict(key, v && v.verdict === vd ? '' : vd) },
    }, t('verdict.' + vd)))) : h('p', { class: 'hint' }, t('rev.noEvent'));
  let picker = null;
  if (v && v.verdict === 'wrong_kind') {
    const sel = h('select', {
      'data-k': 'v-kind', 'aria-label': t('rev.correctKind', { kind }), disabled: !ctx.editable, required: true,
      on: { change: (e) => ctx.onKind(key, e.target.value) },
    }, h('option', { value: '' }, t('rev.pickKind')),
    (ctx.kinds || []).filter((k) => k !== kind || k === v.correct_kind).map((k) => h('option', { value: k }, k)));
    if (v.correct_kind && !(ctx.kinds || []).includes(v.correct_kind)) sel.appendChild(h('option', { value: v.correct_kind }, v.correct_kind));
    sel.value = v.correct_kind || '';
    picker = h('label', { class: 'kind-pick' }, h('span', null, t('rev.correctKindShort')), ' ', sel);
  }
  const disputes = (ctx.disputes || []).filter((d) => d.finding && str(d.finding.event_id) === str(turn.event_id) && +d.finding.index === index);
  return h('li', {
    class: 'qa-finding' + (v ? ' judged vd-' + v.verdict : ''), 'data-finding': key, tabindex: '-1',
    'aria-label': t('rev.findingLabel', { kind, n: index + 1 }),
  },
  h('div', { class: 'fhead' },
    h('strong', { class: 'kind' }, kind),
    h('span', { class: 'tag sev' }, str(f.severity) || DASH),
    score ? h('span', { class: 'num', title: t('rev.score') }, t('rev.scoreShort', { score })) : null,
    h('span', { class: 'rule', title: t('rev.rule') }, t('rev.ruleShort', { rule: rule || DASH })),
    f.evidence ? h('q', { class: 'evidence' }, str(f.evidence)) : null),
  buttons, picker,
  hasEvent && ctx.canDispute ? h('button', {
    type: 'button', class: 'btn small ghost', 'data-k': 'dispute-finding', on: { click: () => ctx.onDispute({ event_id: turn.event_id, index }) },
  }, t('disp.onFinding')) : null,
  disputes.length ? h('ul', { class: 'chips' }, disputes.map((d) => h('li', { class: 'chip' }, t('disp.disputed'), ' · ', disputeStateBadge(d.state, t)))) : null);
}

/** missedItem is a finding the auditor added. */
export function missedItem(m, i, text, ctx) {
  const { t } = ctx;
  return h('li', { class: 'qa-missed-item', 'data-missed-index': String(i) },
    h('strong', { class: 'kind' }, str(m.kind)), ' ',
    h('span', { class: 'num hint' }, t('rev.span', { start: m.start, end: m.end })), ' ',
    h('q', { class: 'evidence' }, sliceCodePoints(text, m.start, m.end)),
    m.note ? [' ', h('span', { class: 'note-text' }, str(m.note))] : null,
    ctx.editable ? [' ', h('button', {
      type: 'button', class: 'btn small ghost', 'data-k': 'missed-remove', 'aria-label': t('rev.missedRemoveLabel', { kind: str(m.kind) }),
      on: { click: () => ctx.onMissedRemove(i) },
    }, t('rev.missedRemove'))] : null);
}

/** turnText is the text a turn shows: the raw text when it was asked for, else the masked. */
export function turnText(turn, ctx) {
  const raw = ctx.raw && turn.event_id !== undefined ? ctx.raw.get(str(turn.event_id)) : undefined;
  return typeof raw === 'string' ? { text: raw, raw: true } : { text: str(turn.text_masked), raw: false };
}

/** reviewTurn is one message of the conversation under review. */
export function reviewTurn(turn, ctx) {
  const { t } = ctx;
  const agent = turn.role === 'agent';
  const undelivered = agent && !turn.delivered;
  const findings = Array.isArray(turn.findings) ? turn.findings : [];
  const { text, raw } = turnText(turn, ctx);
  const hasEvent = turn.event_id !== undefined && turn.event_id !== null && turn.event_id !== '';
  const missed = ctx.draft ? ctx.draft.missed.map((m, i) => ({ m, i })).filter((x) => hasEvent && str(x.m.event_id) === str(turn.event_id)) : [];
  return h('li', { class: 'turn role-' + (agent ? 'agent' : 'customer') + (undelivered ? ' undelivered' : ''), 'data-event': hasEvent ? str(turn.event_id) : '' },
    turnMeta(turn, ctx),
    raw ? h('span', { class: 'tag raw' }, t('rev.rawTag')) : null,
    highlighted(text, findings, ctx),
    findings.length ? h('ul', { class: 'qa-findings', 'aria-label': t('conv.findings') }, findings.map((f, i) => findingItem(turn, f, i, ctx))) : null,
    missed.length ? h('ul', { class: 'qa-missed', 'aria-label': t('rev.missed') }, missed.map((x) => missedItem(x.m, x.i, text, ctx))) : null,
    ctx.editable && hasEvent ? h('button', {
      type: 'button', class: 'btn small ghost', 'data-k': 'missed-add', title: t('rev.missedAddTitle'),
      on: { click: () => ctx.onMissedAdd(turn) },
    }, t('rev.missedAdd')) : null);
}

/**
 * scorecardPanel is the scorecard: a 0–100 % field per category with its
 * weight, the auto-fail items, the note. score is the element the
 * controller fills with scoreView.
 */
export function scorecardPanel(sc, draft, ctx, score, buttons) {
  const { t } = ctx;
  const ro = !ctx.editable;
  return h('section', { class: 'qa-card', 'aria-labelledby': 'qa-card-title' },
    h('h3', { id: 'qa-card-title' }, t('rev.scorecard')),
    sc.categories.length ? h('table', { class: 'counts qa-cats' },
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('rev.category')), h('th', { scope: 'col', class: 'num' }, t('rev.weight')),
        h('th', { scope: 'col', class: 'num' }, t('rev.catScore')))),
      h('tbody', null, sc.categories.map((c) => {
        const name = localName(c.name, ctx.lang, c.id);
        const v = draft.categories[c.id];
        return h('tr', { 'data-cat': c.id },
          h('th', { scope: 'row' }, name),
          h('td', { class: 'num' }, String(c.weight)),
          h('td', { class: 'num' }, h('input', {
            type: 'number', min: '0', max: '100', step: '5', inputmode: 'decimal', class: 'pct', 'data-k': 'cat', 'data-cat': c.id,
            value: Number.isFinite(v) ? String(Math.round(v * 1000) / 10) : '', disabled: ro, required: true,
            'aria-label': t('rev.catLabel', { name, weight: String(c.weight) }),
          }), ' %'));
      }))) : h('p', { class: 'none' }, t('rev.noCategories')),
    sc.auto_fail.length ? h('fieldset', { class: 'qa-autofail' }, h('legend', null, t('rev.autoFail')),
      sc.auto_fail.map((x) => h('label', { class: 'check' },
        h('input', { type: 'checkbox', 'data-k': 'autofail', value: x.id, checked: draft.auto_fail.includes(x.id), disabled: ro }), ' ',
        localName(x.name, ctx.lang, x.id),
        x.kinds.length ? [' ', h('span', { class: 'hint' }, '(' + x.kinds.join(', ') + ')')] : null))) : null,
    score,
    ro ? (draft.note ? [h('h4', { class: 'qa-note-label' }, t('rev.note')), h('p', { class: 'note-text', id: 'qa-note' }, draft.note)] : null)
      : [h('label', { class: 'qa-note-label', for: 'qa-note' }, t('rev.note')),
        h('textarea', { id: 'qa-note', 'data-k': 'review-note', rows: '3', maxlength: '4000', value: draft.note })],
    buttons || null);
}

/**
 * scoreView shows the review's score (computed live, or the server's once
 * submitted) beside the automatic one, and why it is 0 on an auto-fail.
 */
export function scoreView(result, auto, ctx, submitted) {
  const { t } = ctx;
  const shown = submitted ? submitted.score : result.score;
  const why = result.reasons.map((r) => (r.kind ? t('rev.failKind', { item: r.item, kind: r.kind }) : t('rev.failTicked', { item: r.item })));
  return [
    h('div', { class: 'qa-scores' },
      h('div', { class: 'score-box' + (result.autoFail ? ' failed' : '') },
        h('span', { class: 'label' }, submitted ? t('rev.scoreSubmitted') : t('rev.scoreLive')),
        h('output', { id: 'qa-score', 'data-k': 'score', 'aria-live': 'polite' }, formatScore(shown))),
      h('div', { class: 'score-box auto' },
        h('span', { class: 'label', title: t('rev.autoScoreTitle') }, t('rev.autoScore')),
        h('span', { id: 'qa-auto-score' }, formatScore(auto)))),
    !submitted && result.autoFail ? h('p', { class: 'error', id: 'qa-score-why' }, t('rev.autoFailed'), ' ', why.join('; ')) : null,
    !submitted && result.missing.length ? h('p', { class: 'hint' }, t('rev.missingCats', { n: result.missing.length })) : null,
  ];
}

/** findingLabel names a dispute's finding: its kind when the conversation has it. */
export function findingLabel(finding, ctx) {
  if (!finding) return ctx.t('disp.whole');
  const f = ctx.conversation ? findingAt(ctx.conversation, finding.event_id, +finding.index) : null;
  const p = { event: str(finding.event_id), n: (+finding.index || 0) + 1 };
  return f ? ctx.t('disp.finding', { kind: findingKind(f), ...p }) : ctx.t('disp.findingAt', p);
}

function rulingView(d, ctx) {
  if (!d.ruled_by && !d.ruled_at && !d.ruling_note) return DASH;
  return [
    d.ruled_by ? h('strong', null, str(d.ruled_by)) : null, ' ',
    d.ruled_at ? h('time', { datetime: str(d.ruled_at) }, ctx.fmtTime(d.ruled_at)) : null, ' ',
    d.ruling_note ? h('q', { class: 'note-text' }, str(d.ruling_note)) : null,
  ];
}

function rulingButtons(d, ctx) {
  if (!ctx.canRule || d.state !== 'open') return null;
  return h('div', { class: 'acts', role: 'group', 'aria-label': ctx.t('disp.ruleLabel', { id: str(d.id) }) },
    OUTCOMES.map((o) => h('button', {
      type: 'button', class: 'btn small out-' + o, 'data-k': 'rule-' + o, on: { click: (e) => { e.stopPropagation(); ctx.onRule(d, o); } },
    }, ctx.t('outcome.' + o))));
}

function disputeCell(col, d, ctx) {
  const { t } = ctx;
  switch (col) {
    case 'review': {
      const id = disputeTaskId(d);
      return h('td', { class: 'c-review' }, id ? qaLink(qaPath('task', id), '#' + id, ctx, { 'data-k': 'open' }) : DASH);
    }
    case 'finding': return h('td', { class: 'c-finding' }, findingLabel(d.finding, ctx));
    case 'by': return h('td', { class: 'c-by' }, str(d.by) || DASH,
      d.created_at ? [' ', h('time', { class: 'hint', datetime: str(d.created_at) }, ctx.fmtTime(d.created_at))] : null);
    case 'reason': return h('td', { class: 'c-msg' }, str(d.reason));
    case 'state': return h('td', { class: 'c-state' }, disputeStateBadge(d.state, t));
    case 'ruling': return h('td', { class: 'c-ruling' }, rulingView(d, ctx));
    case 'actions': return h('td', { class: 'c-actions' }, rulingButtons(d, ctx));
    default: return h('td', null);
  }
}

/** disputeRow is one dispute of the list. */
export function disputeRow(d, ctx, cols = DISPUTE_COLS) {
  const sel = str(d.id) === str(ctx.selectedTask);
  const tr = h('tr', {
    class: 'dispute ds-' + known(DISPUTE_STATES, d.state, 'unknown') + (sel ? ' sel' : ''), 'data-dispute-id': str(d.id),
    'aria-selected': sel ? 'true' : 'false', tabindex: sel ? '0' : '-1',
  }, cols.map((c) => disputeCell(c, d, ctx)));
  for (const el of tr.querySelectorAll('[data-k]')) el.setAttribute('tabindex', sel ? '0' : '-1');
  return tr;
}

/** disputeTable is a table of disputes. */
export function disputeTable(list, ctx, cols, label, empty) {
  const table = qaTable(cols, 'dcol.', label, ctx, 'qa-disputes');
  const tbody = table.childNodes[1];
  if (list.length === 0) tbody.appendChild(h('tr', { class: 'empty' }, h('td', { colspan: String(cols.length) }, empty)));
  for (const d of list) tbody.appendChild(disputeRow(d, ctx, cols));
  return table;
}

/** disputeItem is a dispute on the review page. */
export function disputeItem(d, ctx) {
  const { t } = ctx;
  return h('li', { class: 'qa-dispute ds-' + known(DISPUTE_STATES, d.state, 'unknown'), 'data-dispute-id': str(d.id) },
    h('div', { class: 'fhead' }, disputeStateBadge(d.state, t), ' ', h('strong', null, str(d.by) || DASH), ' ',
      d.created_at ? h('time', { class: 'hint', datetime: str(d.created_at) }, ctx.fmtTime(d.created_at)) : null, ' ',
      h('span', { class: 'hint' }, findingLabel(d.finding, ctx))),
    h('q', { class: 'note-text' }, str(d.reason)),
    d.state !== 'open' || d.ruled_by ? h('p', { class: 'ruling' }, h('span', { class: 'label' }, t('disp.ruling')), ' ', rulingView(d, ctx)) : null,
    rulingButtons(d, ctx));
}

// ------------------------------------------------------------ quota

/** quotaTable shows per agent the conversations sampled, reviewed, the minimum and whether it is met. */
export function quotaTable(rows, ctx) {
  const { t } = ctx;
  const cols = ['agent', 'team', 'sampled', 'reviewed', 'minimum', 'met'];
  const table = qaTable(cols, 'qcol.', t('quota.title'), ctx, 'qa-quota');
  table.setAttribute('role', 'table');
  const tbody = table.childNodes[1];
  if (rows.length === 0) tbody.appendChild(h('tr', { class: 'empty' }, h('td', { colspan: String(cols.length) }, t('quota.empty'))));
  for (const r of rows) {
    tbody.appendChild(h('tr', { class: r.met ? 'met' : 'unmet', 'data-agent': r.agent_id },
      h('th', { scope: 'row' }, r.agent_id || DASH),
      h('td', null, r.team || DASH),
      h('td', { class: 'num' }, String(r.sampled)),
      h('td', { class: 'num' }, String(r.reviewed)),
      h('td', { class: 'num' }, String(r.minimum)),
      h('td', null, h('span', { class: r.met ? 'met-yes' : 'met-no' }, r.met ? t('quota.met') : t('quota.unmet')))));
  }
  return table;
}

// ------------------------------------------------------------ precision

/** miniSpark is a small inline SVG line of shares 0..1 (one per day), labelled. */
export function miniSpark(values, label) {
  const w = 96;
  const ht = 22;
  const path = sparkPath(values, w, ht, { max: 1, pad: 2 });
  return svg('svg', {
    class: 'spark-mini', viewBox: `0 0 ${w} ${ht}`, width: String(w), height: String(ht),
    role: 'img', 'aria-label': label, preserveAspectRatio: 'none', focusable: 'false',
  }, svg('title', null, label), svg('line', { class: 'base', x1: '0', y1: String(ht - 2), x2: String(w), y2: String(ht - 2) }),
  path ? svg('path', { class: 'line', d: path }) : null);
}

/**
 * precisionTable shows per rule the verdicts and the precision, sortable
 * (sort {key, dir}; ctx.onSort(key)), with a sparkline of the precision
 * per day.
 */
export function precisionTable(rows, sort, ctx) {
  const { t } = ctx;
  const head = PRECISION_COLS.map((c) => {
    const active = sort && sort.key === c;
    return h('th', {
      scope: 'col', class: 'c-' + c + (c === 'rule' || c === 'source' ? '' : ' num'),
      'aria-sort': active ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none',
    }, h('button', { type: 'button', class: 'linklike', 'data-sort': c, on: { click: () => ctx.onSort(c) } },
      t('pcol.' + c), active ? (sort.dir === 'asc' ? ' ▲' : ' ▼') : ''));
  });
  const table = h('table', { class: 'alerts qa-precision', 'aria-label': t('prec.title') },
    h('thead', null, h('tr', null, head, h('th', { scope: 'col', class: 'c-days' }, t('pcol.days')))),
    h('tbody', null));
  const tbody = table.childNodes[1];
  if (rows.length === 0) tbody.appendChild(h('tr', { class: 'empty' }, h('td', { colspan: String(PRECISION_COLS.length + 1) }, t('prec.empty'))));
  for (const r of rows) {
    const vals = r.days.filter((d) => d.precision !== null).map((d) => d.precision);
    const label = vals.length
      ? t('prec.sparkLabel', { rule: r.rule, n: vals.length, first: formatPercent(vals[0]), last: formatPercent(vals[vals.length - 1]) })
      : t('prec.noDays');
    tbody.appendChild(h('tr', { 'data-rule': r.rule, class: r.precision !== null && r.precision < 0.5 ? 'low-precision' : '' },
      h('th', { scope: 'row', class: 'c-rule' }, h('code', null, r.rule || DASH)),
      h('td', { class: 'c-source' }, h('span', { class: 'tag' }, t('source.' + r.source))),
      h('td', { class: 'num' }, String(r.correct)),
      h('td', { class: 'num' }, String(r.false_positive)),
      h('td', { class: 'num' }, String(r.wrong_kind)),
      h('td', { class: 'num' }, String(r.missed)),
      h('td', { class: 'num c-precision' }, formatPercent(r.precision)),
      h('td', { class: 'c-days' }, vals.length ? miniSpark(vals, label) : h('span', { class: 'hint' }, DASH))));
  }
  return table;
}

// ------------------------------------------------------------ calibration

/** calibrationView shows each group's scores per category and auditor, then each auditor's agreement. */
export function calibrationView(cal, ctx, names) {
  const { t } = ctx;
  const catName = (c) => localName(c.name || (names && names[c.id]), ctx.lang, c.id);
  const groups = cal.groups.length ? cal.groups.map((g) => h('section', { class: 'qa-group', 'data-group': g.id, 'aria-label': t('cal.group', { id: g.id }) },
    h('h4', null, t('cal.group', { id: g.id }),
      g.conversation_id ? [' · ', h('span', { class: 'hint' }, t('cal.conversation', { id: g.conversation_id }))] : null,
      g.agreement !== null ? [' · ', h('span', null, t('cal.agreementIs', { value: formatPercent(g.agreement) }))] : null),
    h('div', { class: 'table-wrap' }, h('table', { class: 'counts qa-cal' },
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('rev.category')),
        g.auditors.map((a) => h('th', { scope: 'col', class: 'num' }, a)),
        h('th', { scope: 'col', class: 'num' }, t('cal.agreement')))),
      h('tbody', null, g.categories.map((c) => h('tr', { 'data-cat': c.id },
        h('th', { scope: 'row' }, catName(c)),
        g.auditors.map((a) => h('td', { class: 'num' }, formatPercent(c.scores[a] ?? null, 0))),
        h('td', { class: 'num' + (c.agreement !== null && c.agreement < 0.7 ? ' risk-hi' : '') }, formatPercent(c.agreement)))))))))
    : [h('p', { class: 'none' }, t('cal.empty'))];
  return [
    h('section', { class: 'qa-cal-groups', 'aria-labelledby': 'cal-groups' }, h('h3', { id: 'cal-groups' }, t('cal.groups')), groups),
    h('section', { class: 'qa-cal-auditors', 'aria-labelledby': 'cal-auditors' }, h('h3', { id: 'cal-auditors' }, t('cal.auditors')),
      cal.auditors.length ? h('table', { class: 'counts' },
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('cal.auditor')), h('th', { scope: 'col', class: 'num' }, t('cal.agreementMedian')),
          h('th', { scope: 'col', class: 'num' }, t('cal.groupsN')))),
        h('tbody', null, cal.auditors.map((a) => h('tr', { 'data-auditor': a.auditor },
          h('th', { scope: 'row' }, a.auditor || DASH),
          h('td', { class: 'num' + (a.agreement !== null && a.agreement < 0.7 ? ' risk-hi' : '') }, formatPercent(a.agreement)),
          h('td', { class: 'num' }, a.groups === null ? DASH : String(a.groups)))))) : h('p', { class: 'none' }, t('cal.empty'))),
  ];
}

// ------------------------------------------------------------ navigation

/** qaNav is the QA pages' navigation, the current one marked. */
export function qaNav(pages, current, ctx) {
  if (pages.length < 2) return null;
  return h('nav', { class: 'qa-nav', 'aria-label': ctx.t('qa.navLabel') }, h('ul', null, pages.map((p) => h('li', null,
    qaLink(qaPath(p), ctx.t('page.' + p), ctx, { 'data-k': 'nav-' + p, 'aria-current': p === current ? 'page' : null })))));
}

// ------------------------------------------------------------ selections

const isSkipped = (el) => {
  const cls = el.getAttribute ? str(el.getAttribute('class')) : '';
  return cls.split(/\s+/).includes('sr-only') || (el.getAttribute && el.getAttribute('aria-hidden') === 'true');
};

const within = (outer, node) => {
  for (let n = node; n; n = n.parentNode) if (n === outer) return true;
  return false;
};

/**
 * textOffset returns the UTF-16 offset in root's visible text (its text
 * nodes in order, what is hidden for screen readers only left out) of
 * the DOM boundary point (node, offset), as a Selection's anchor or focus
 * gives it; -1 when the point is outside root.
 */
export function textOffset(root, node, offset) {
  let acc = 0;
  let found = -1;
  const walk = (n) => {
    if (n.nodeType === 3) {
      if (n === node) found = acc + Math.max(0, Math.min(offset, n.data.length));
      else acc += n.data.length;
      return;
    }
    if (n !== root && n.nodeType === 1 && isSkipped(n)) {
      if (within(n, node)) found = acc;
      return;
    }
    const kids = n.childNodes || [];
    for (let i = 0; i < kids.length && found < 0; i++) {
      if (n === node && i === offset) {
        found = acc;
        return;
      }
      walk(kids[i]);
    }
    if (found < 0 && n === node) found = acc;
  };
  if (!within(root, node)) return -1;
  walk(root);
  return found;
}
