// The console's views as functions of data: they build DOM (with dom.js,
// text as text nodes) and keep no state. ctx gives what they need:
//   t(key, params)   the translator
//   now              the time to age alerts against (ms)
//   fmtTime(ts)      a time for people (RFC 3339 in, text out)
//   selectedId       the selected alert's id
//   canAct           whether the principal may change alerts
//   onAction(op, a)  'take' | 'resolve' | 'note' on alert a
//   onLink(e)        a click on a console link (for client-side routing)

import { h, svg } from './dom.js';
import {
  LEVELS, STATES, ACTIONS, SEVERITIES, segments, maxSeverity, formatAge, formatRisk, routePath, sparkPath,
  sortedCounts, levelRank,
} from './lib.js';

/** The columns of the alert wall. */
export const WALL_COLS = ['level', 'kind', 'message', 'agent', 'team', 'conversation', 'risk', 'age', 'state', 'assignee', 'actions'];
/** The columns of an agent's alerts (the agent is known). */
export const AGENT_COLS = ['level', 'kind', 'message', 'team', 'conversation', 'risk', 'age', 'state', 'assignee', 'actions'];
/** The columns of the alerts a turn raised (the conversation is known). */
export const TURN_COLS = ['level', 'kind', 'message', 'age', 'state', 'assignee', 'actions'];

const DASH = '—';

const known = (list, v, dflt) => (list.includes(v) ? v : dflt);

/** levelBadge shows a level in color and in words. */
export function levelBadge(level, t) {
  const l = known(LEVELS, level, 'unknown');
  return h('span', { class: 'badge lvl-' + l }, t('level.' + l));
}

/** stateBadge shows an alert's state. */
export function stateBadge(state, t) {
  const s = known(STATES, state, '');
  return h('span', { class: 'state st-' + (s || 'unknown') }, s ? t('state.' + s) : String(state || DASH));
}

/** link is a link inside the console (routed on the client). */
export function link(path, text, ctx, props = {}) {
  return h('a', { ...props, href: path, on: { click: ctx.onLink } }, text);
}

/** actionsOf reports which actions alert a allows: {take, resolve, note}. */
export function actionsOf(a, canAct) {
  return {
    take: canAct && a.state === 'new',
    resolve: canAct && (a.state === 'new' || a.state === 'acknowledged'),
    note: canAct && (a.state === 'new' || a.state === 'acknowledged'),
  };
}

function actionButtons(a, ctx) {
  const { t } = ctx;
  const can = actionsOf(a, ctx.canAct);
  const btn = (op, label, key) => h('button', {
    type: 'button',
    class: 'btn small act-' + op,
    'data-k': op,
    disabled: !can[op],
    title: ctx.canAct ? t('act.' + op + 'Title') + ' (' + key + ')' : t('act.readonly'),
    'aria-label': t('act.' + op + 'Label', { id: a.id }),
    on: { click: (e) => { e.stopPropagation(); ctx.onAction(op, a); } },
  }, label);
  return [btn('take', t('act.take'), 'a'), btn('resolve', t('act.resolve'), 'r'), btn('note', t('act.note'), 'n')];
}

function cell(col, a, ctx) {
  const { t } = ctx;
  switch (col) {
    case 'level': return h('td', { class: 'c-level' }, levelBadge(a.level, t));
    case 'kind': return h('td', { class: 'c-kind' }, a.kind || DASH);
    case 'message': return h('td', { class: 'c-msg', title: a.message || '' }, a.message || '');
    case 'agent': return h('td', { class: 'c-agent' }, a.agent_id ? link(routePath('agent', a.agent_id), a.agent_id, ctx, { 'data-k': 'agent' }) : DASH);
    case 'team': return h('td', { class: 'c-team' }, a.team || DASH);
    case 'conversation': return h('td', { class: 'c-conv', title: a.conversation_id || '' },
      a.conversation_id ? link(routePath('conversation', a.conversation_id), a.conversation_id, ctx, { 'data-k': 'conv' }) : DASH);
    case 'risk': return h('td', { class: 'c-risk num' + (+a.risk >= 0.7 ? ' risk-hi' : '') }, formatRisk(a.risk));
    case 'age': return h('td', { class: 'c-age num', 'data-ts': a.created_at || '', title: ctx.fmtTime(a.created_at) },
      formatAge(a.created_at, ctx.now, t));
    case 'state': return h('td', { class: 'c-state' }, stateBadge(a.state, t));
    case 'assignee': return h('td', { class: 'c-assignee' }, a.assignee || DASH);
    case 'actions': return h('td', { class: 'c-actions' }, h('div', { class: 'acts' }, actionButtons(a, ctx)));
    default: return h('td', null);
  }
}

/**
 * alertRow is one alert of a table: a row of the grid, selectable (the
 * selected one is the row Tab reaches).
 */
export function alertRow(a, ctx, cols = WALL_COLS) {
  const l = known(LEVELS, a.level, 'unknown');
  const tr = h('tr', {
    class: 'alert lvl-' + l + ' st-' + known(STATES, a.state, 'unknown'),
    'data-alert-id': String(a.id),
  }, cols.map((c) => cell(c, a, ctx)));
  applySelection(tr, a.id === ctx.selectedId);
  return tr;
}

/**
 * applySelection marks a row selected or not, in place (rebuilding it
 * would drop a click under way): aria-selected, and the Tab order of the
 * row and its controls.
 */
export function applySelection(tr, sel) {
  if (sel) tr.classList.add('sel');
  else tr.classList.remove('sel');
  tr.setAttribute('aria-selected', sel ? 'true' : 'false');
  tr.setAttribute('tabindex', sel ? '0' : '-1');
  for (const el of tr.querySelectorAll('[data-k]')) el.setAttribute('tabindex', sel ? '0' : '-1');
}

/** alertTable is a grid of alerts with a header row; rows go in tbody. */
export function alertTable(ctx, cols, label) {
  const { t } = ctx;
  return h('table', { class: 'alerts', role: 'grid', 'aria-label': label, 'aria-rowcount': '-1' },
    h('thead', null, h('tr', null, cols.map((c) => h('th', { scope: 'col', class: 'c-' + c }, t('col.' + c))))),
    h('tbody', null));
}

/** highlighted is text with its findings underlined, spans in code points. */
export function highlighted(text, findings, ctx) {
  const { t } = ctx;
  const p = h('p', { class: 'text' });
  for (const seg of segments(text, findings)) {
    if (seg.findings.length === 0) {
      p.appendChild(globalThis.document.createTextNode(seg.text));
      continue;
    }
    const fs = seg.findings.map((i) => findings[i]);
    const tip = fs.map((f) => `${f.detector}.${f.kind} · ${t('sev.' + known(SEVERITIES, f.severity, 'info'))}`).join('\n');
    p.appendChild(h('mark', { class: 'finding sev-' + maxSeverity(fs), tabindex: '0', 'data-tip': tip },
      seg.text, h('span', { class: 'sr-only' }, ' (' + tip.replace(/\n/g, '; ') + ')')));
  }
  return p;
}

/**
 * turnMeta is the line above a message: who wrote it, when, the
 * gateway's action, whether the customer saw it, the risk after it.
 */
export function turnMeta(turn, ctx) {
  const { t } = ctx;
  const agent = turn.role === 'agent';
  const action = known(ACTIONS, turn.action, '');
  const undelivered = agent && !turn.delivered;
  return h('div', { class: 'meta' },
    h('span', { class: 'who' }, agent ? t('conv.agentRole') : turn.role === 'customer' ? t('conv.customer') : String(turn.role || DASH)),
    h('time', { datetime: turn.ts || '', title: ctx.fmtTime(turn.ts) }, ctx.fmtTime(turn.ts)),
    agent && turn.action ? h('span', { class: 'action act-' + (action || 'unknown') }, action ? t('action.' + action) : turn.action) : null,
    agent ? (undelivered
      ? h('span', { class: 'undelivered-label' }, t('conv.undelivered'))
      : h('span', { class: 'delivered-label' }, t('conv.delivered'))) : null,
    turn.event_id ? h('span', { class: 'risk num', title: t('conv.riskAfter') }, t('conv.risk') + ' ' + formatRisk(turn.risk)) : null,
    turn.sampled ? h('span', { class: 'tag' }, t('conv.sampled')) : null);
}

/** turnView is one message of a conversation. */
export function turnView(turn, ctx, alertsTable) {
  const { t } = ctx;
  const agent = turn.role === 'agent';
  const undelivered = agent && !turn.delivered;
  const meta = turnMeta(turn, ctx);
  const findings = Array.isArray(turn.findings) ? turn.findings : [];
  return h('li', { class: 'turn role-' + (agent ? 'agent' : 'customer') + (undelivered ? ' undelivered' : '') },
    meta,
    highlighted(turn.text_masked || '', findings, ctx),
    findings.length ? h('ul', { class: 'chips', 'aria-label': t('conv.findings') }, findings.map((f) => h('li', {
      class: 'chip sev-' + known(SEVERITIES, f.severity, 'info'),
      title: f.evidence ? t('conv.evidence', { text: f.evidence }) : '',
    }, `${f.detector}.${f.kind}`, ' · ', t('sev.' + known(SEVERITIES, f.severity, 'info')),
    Number.isFinite(+f.score) ? ` · ${(+f.score).toFixed(2)}` : ''))) : null,
    alertsTable || null);
}

/**
 * sparkline is an inline SVG line of values (one per bucket), labelled for
 * screen readers.
 */
export function sparkline(values, label, cls) {
  const w = 288;
  const ht = 48;
  const path = sparkPath(values, w, ht, { pad: 3 });
  return svg('svg', {
    class: 'spark ' + cls, viewBox: `0 0 ${w} ${ht}`, width: String(w), height: String(ht),
    role: 'img', 'aria-label': label, preserveAspectRatio: 'none', focusable: 'false',
  }, svg('title', null, label), svg('line', { class: 'base', x1: '0', y1: String(ht - 3), x2: String(w), y2: String(ht - 3) }),
  path ? svg('path', { class: 'line', d: path }) : null);
}

function countsList(entries, ctx, onPick) {
  if (entries.length === 0) return h('p', { class: 'none' }, ctx.t('counters.none'));
  return h('table', { class: 'counts' }, h('tbody', null, entries.map(([k, n]) => h('tr', null,
    h('th', { scope: 'row' }, onPick ? h('button', { type: 'button', class: 'linklike', title: ctx.t('counters.pick'), on: { click: () => onPick(k) } }, k) : k),
    h('td', { class: 'num' }, String(n))))));
}

/**
 * countersBody is the counters panel's content: open backlog per level,
 * alerts per kind, findings per kind. onKind filters the wall by a kind.
 */
export function countersBody(c, ctx, onKind) {
  const { t } = ctx;
  const open = c && c.open ? c.open : {};
  const levels = LEVELS.slice().reverse();
  const extra = Object.keys(open).filter((l) => !LEVELS.includes(l));
  return [
    h('section', { class: 'counter', 'aria-labelledby': 'cnt-open' }, h('h3', { id: 'cnt-open' }, t('counters.open')),
      h('ul', { class: 'backlog' }, levels.concat(extra).sort((a, b) => levelRank(b) - levelRank(a)).map((l) => h('li', null,
        levelBadge(l, t), h('span', { class: 'num' }, String(+open[l] || 0)))))),
    h('section', { class: 'counter', 'aria-labelledby': 'cnt-alerts' }, h('h3', { id: 'cnt-alerts' }, t('counters.alerts')),
      countsList(sortedCounts(c && c.alerts), ctx, onKind)),
    h('section', { class: 'counter', 'aria-labelledby': 'cnt-findings' }, h('h3', { id: 'cnt-findings' }, t('counters.findings')),
      countsList(sortedCounts(c && c.findings).slice(0, 15), ctx, null)),
  ];
}

/** historyList shows an alert's changes, oldest first. */
export function historyList(changes, ctx) {
  const { t } = ctx;
  if (!changes || changes.length === 0) return h('p', { class: 'none' }, t('note.noHistory'));
  return h('ol', { class: 'history' }, changes.map((c) => h('li', null,
    h('time', { datetime: c.at || '' }, ctx.fmtTime(c.at)), ' ',
    h('strong', null, c.actor || DASH), ' ',
    stateBadge(c.from, t), ' → ', stateBadge(c.to, t),
    c.assignee ? [' ', h('span', { class: 'tag' }, t('note.assignedTo', { who: c.assignee }))] : null,
    c.note ? h('q', { class: 'note-text' }, c.note) : null)));
}
