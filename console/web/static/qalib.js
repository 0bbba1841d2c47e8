// The pure functions of the quality audits (docs/qa.md): routes, task
// lists, the scorecard's score, code-point spans, precision and
// calibration tables. No DOM, no network, no global state: the QA pages
// (qa.js, qaviews.js) and their tests (console/web/testdata) import it.

import { parseTime } from './lib.js';

/**
 * The taxonomy of findings, detector.kind, as docs/design.md ("2.
 * Taxonomy") and the event schema name them.
 */
export const TAXONOMY = [
  'privacy.phone', 'privacy.id_card', 'privacy.bank_card', 'privacy.email', 'privacy.address', 'privacy.passport',
  'privacy.license_plate', 'privacy.credential',
  'tone.rude', 'tone.dismissive', 'tone.impatient', 'tone.profanity',
  'diversion.contact', 'diversion.payment',
  'commitment.guarantee', 'commitment.compensation', 'commitment.absolute_claim',
  'complaint.escalation', 'complaint.risk',
  'link.external',
];
/** Task states, in workflow order. */
export const TASK_STATES = ['open', 'in_review', 'done'];
/** Why a conversation was sampled. */
export const REASONS = ['hash', 'high_risk', 'agent_min'];
/** An auditor's verdicts on a finding. */
export const VERDICTS = ['correct', 'false_positive', 'wrong_kind'];
/** Dispute states; a ruling moves an open dispute to one of OUTCOMES. */
export const DISPUTE_STATES = ['open', 'accepted', 'partly_accepted', 'rejected'];
export const OUTCOMES = ['accepted', 'partly_accepted', 'rejected'];
/** The state filter of the queue: 'active' is open and in review, '' any. */
export const TASK_STATE_FILTERS = ['active', 'open', 'in_review', 'done', ''];
/** The periods of the precision and calibration pages. */
export const SINCE = ['7d', '30d', '90d'];
/** The export's verdict filter and formats. */
export const EXPORT_VERDICTS = ['false_positive', 'missed', 'all'];
export const EXPORT_FORMATS = ['jsonl', 'rego'];
/** qa.dispute_window's default: 7 days after the review's submission. */
export const DEFAULT_DISPUTE_WINDOW_MS = 7 * 24 * 3600 * 1000;

const isObj = (x) => x !== null && typeof x === 'object' && !Array.isArray(x);
const str = (v) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
const fin = (x) => (x !== null && x !== '' && x !== undefined && Number.isFinite(+x) ? +x : null);
const clamp01 = (x) => Math.max(0, Math.min(1, x));

// ------------------------------------------------------------ roles

/** The roles of the QA pages besides the agents'. */
export const QA_ROLES = ['auditor', 'supervisor', 'admin'];

/**
 * can reports whether role may use a QA function (the server enforces
 * it anyway; the console hides what a role cannot use):
 *   alerts       the alert wall, conversations, agents (every role but agent)
 *   queue        the review queue, a task (auditor, supervisor, admin)
 *   take         take a task, write a review (auditor, admin)
 *   dispute      open a dispute (agent, supervisor, admin)
 *   rule         rule on a dispute (supervisor, admin)
 *   disputes     the list of disputes (everyone)
 *   quota, calibration, export (supervisor, admin)
 *   precision    (auditor, supervisor, admin)
 *   mine         "my reviews" (agent)
 */
export function can(role, what) {
  const lead = role === 'supervisor' || role === 'admin';
  switch (what) {
    case 'alerts': return role !== 'agent';
    case 'queue':
    case 'precision': return QA_ROLES.includes(role);
    case 'take': return role === 'auditor' || role === 'admin';
    case 'dispute': return role === 'agent' || lead;
    case 'rule':
    case 'quota':
    case 'calibration':
    case 'export': return lead;
    case 'disputes': return role === 'agent' || QA_ROLES.includes(role);
    case 'mine': return role === 'agent';
    default: return false;
  }
}

/**
 * hasDecrypt reports whether the principal (GET /api/me) may ask for raw
 * text: it holds the decrypt permission, or /api/me says nothing of
 * permissions (the server then answers 403 if not).
 */
export function hasDecrypt(me) {
  if (!me || !Array.isArray(me.permissions)) return true;
  return me.permissions.includes('decrypt');
}

// ------------------------------------------------------------ routes

/** The QA pages, in the order of their navigation. */
export const QA_PAGES = ['queue', 'disputes', 'quota', 'precision', 'calibration'];
const PAGE_PATHS = {
  queue: '/qa', disputes: '/qa/disputes', quota: '/qa/quota', precision: '/qa/precision', calibration: '/qa/calibration', mine: '/qa/mine',
};

/** qaPages returns the QA pages of role's navigation. */
export function qaPages(role) {
  if (role === 'agent') return ['mine'];
  return QA_PAGES.filter((p) => can(role, p === 'queue' ? 'queue' : p));
}

/** qaPath returns the application path of a QA page ('task' takes an id). */
export function qaPath(page, id) {
  if (page === 'task') return '/qa/tasks/' + encodeURIComponent(str(id));
  return PAGE_PATHS[page] || '/qa';
}

/**
 * parseQaRoute reads a QA path: {view: 'qa', page, id?}, or null for a
 * path that is not one.
 */
export function parseQaRoute(pathname) {
  const p = str(pathname).replace(/\/+$/, '') || '/';
  const m = /^\/qa\/tasks\/([^/]+)$/.exec(p);
  if (m) {
    try {
      const id = decodeURIComponent(m[1]);
      if (id) return { view: 'qa', page: 'task', id };
    } catch {
      return { view: 'qa', page: 'queue' };
    }
  }
  for (const [page, path] of Object.entries(PAGE_PATHS)) if (p === path) return { view: 'qa', page };
  if (p.startsWith('/qa/')) return { view: 'qa', page: 'queue' };
  return null;
}

/** homePath is where a role starts: the wall, or an agent's reviews. */
export function homePath(role) {
  return can(role, 'alerts') ? '/' : '/qa/mine';
}

// ------------------------------------------------------------ tasks

/**
 * normalizeTaskFilters returns complete queue filters: state (one of
 * TASK_STATE_FILTERS; 'active' by default), assignee ('me' or 'all'; an
 * auditor's default is 'me', a lead's 'all'), agent, team.
 */
export function normalizeTaskFilters(f = {}, role = '') {
  const s = (v) => str(v).trim();
  const state = TASK_STATE_FILTERS.includes(f.state) ? f.state : (f.state === 'any' ? '' : 'active');
  const assignee = f.assignee === 'me' || f.assignee === 'all' ? f.assignee : (role === 'auditor' ? 'me' : 'all');
  return { state, assignee, agent: s(f.agent), team: s(f.team) };
}

/** taskFiltersFromSearch reads the queue's filters from a URL query. */
export function taskFiltersFromSearch(search, role) {
  const p = new URLSearchParams(search);
  const f = {};
  for (const k of ['assignee', 'agent', 'team']) f[k] = p.get(k) || '';
  f.state = p.has('state') ? p.get('state') : undefined;
  return normalizeTaskFilters(f, role);
}

/**
 * taskFiltersToSearch writes the queue's filters into the query base
 * (lang kept), leaving the role's defaults out; "?…" or "".
 */
export function taskFiltersToSearch(filters, role, base = '') {
  const f = normalizeTaskFilters(filters, role);
  const d = normalizeTaskFilters({}, role);
  const p = new URLSearchParams(base);
  for (const k of ['state', 'assignee', 'agent', 'team']) p.delete(k);
  if (f.state !== d.state) p.set('state', f.state || 'any');
  if (f.assignee !== d.assignee) p.set('assignee', f.assignee);
  if (f.agent) p.set('agent', f.agent);
  if (f.team) p.set('team', f.team);
  const s = p.toString();
  return s ? '?' + s : '';
}

/**
 * tasksQuery is the query of GET /api/qa/tasks: state (a comma list, as
 * /api/alerts takes it; none for any), assignee=me (none for all), agent,
 * team, cursor.
 */
export function tasksQuery(filters, cursor = '') {
  const f = normalizeTaskFilters(filters);
  const p = new URLSearchParams();
  if (f.state === 'active') p.set('state', 'open,in_review');
  else if (f.state) p.set('state', f.state);
  if (f.assignee === 'me') p.set('assignee', 'me');
  if (f.agent) p.set('agent', f.agent);
  if (f.team) p.set('team', f.team);
  if (cursor) p.set('cursor', cursor);
  return p.toString();
}

/** isOverdue reports whether a task not done is past its due time. */
export function isOverdue(task, now) {
  if (!task || task.state === 'done') return false;
  const due = parseTime(task.due_at);
  return !Number.isNaN(due) && due < now;
}

const idCmp = (a, b) => {
  const x = str(a);
  const y = str(b);
  if (/^\d+$/.test(x) && /^\d+$/.test(y) && x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
};
const timeOrInf = (s) => {
  const t = parseTime(s);
  return Number.isNaN(t) ? Infinity : t;
};

/**
 * compareTasks orders tasks as the API pages them, oldest due first (a
 * task with no due time last), then the oldest created, then the id.
 */
export function compareTasks(a, b) {
  const da = timeOrInf(a.due_at);
  const db = timeOrInf(b.due_at);
  if (da !== db) return da < db ? -1 : 1;
  const ca = timeOrInf(a.created_at);
  const cb = timeOrInf(b.created_at);
  if (ca !== cb) return ca < cb ? -1 : 1;
  return idCmp(a.id, b.id);
}

/**
 * mergeTasks returns list with tasks added or replaced (by id), sorted by
 * compareTasks; entries that are not objects with an id are dropped.
 */
export function mergeTasks(list, tasks) {
  const by = new Map();
  for (const x of [...(list || []), ...(Array.isArray(tasks) ? tasks : [])]) {
    if (isObj(x) && x.id !== undefined && x.id !== null && x.id !== '') by.set(str(x.id), x);
  }
  return [...by.values()].sort(compareTasks);
}

/** canTake reports whether me may take task (unassigned or mine, not done). */
export function canTake(task, me) {
  if (!task || !me || !can(me.role, 'take') || task.state === 'done') return false;
  return !task.assignee || task.assignee === me.subject;
}

/** canReview reports whether me writes task's review: the assigned auditor, before it is submitted. */
export function canReview(task, review, me) {
  if (!task || !me || !can(me.role, 'take') || task.state === 'done') return false;
  if (review && review.submitted_at) return false;
  return !!task.assignee && task.assignee === me.subject;
}

// ------------------------------------------------------------ findings

/** findingKind is a finding's detector.kind. */
export function findingKind(f) {
  return f ? str(f.detector) + '.' + str(f.kind) : '';
}

/** findingRule names what made a finding: its rule, lexicon entry or model. */
export function findingRule(f) {
  if (!f) return '';
  if (f.rule) return str(f.rule);
  if (f.lexicon) return str(f.lexicon);
  if (f.model) return 'model:' + str(f.model);
  return '';
}

/** verdictKey names a finding in a draft: its event and index. */
export function verdictKey(eventId, index) {
  return str(eventId) + '#' + index;
}

const KIND_RE = /^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/;

/**
 * kindsFor returns the kinds an auditor may pick: the taxonomy, then the
 * other well-formed kinds the conversation's findings show (sorted).
 */
export function kindsFor(conversation) {
  const extra = new Set();
  for (const turn of (conversation && Array.isArray(conversation.turns) ? conversation.turns : [])) {
    for (const f of Array.isArray(turn && turn.findings) ? turn.findings : []) {
      const k = findingKind(f);
      if (KIND_RE.test(k) && !TAXONOMY.includes(k)) extra.add(k);
    }
  }
  return TAXONOMY.concat([...extra].sort());
}

/** kindMatches reports whether kind is one of an auto-fail item's kinds ('privacy.*', 'diversion.payment', '*'). */
export function kindMatches(pattern, kind) {
  const p = str(pattern);
  const k = str(kind);
  if (!p || !k) return false;
  if (p === '*') return true;
  if (p.endsWith('.*')) return k.startsWith(p.slice(0, -1));
  return p === k;
}

/** findingAt returns the finding of a conversation by its event and index. */
export function findingAt(conversation, eventId, index) {
  for (const turn of (conversation && Array.isArray(conversation.turns) ? conversation.turns : [])) {
    if (turn && turn.event_id !== undefined && str(turn.event_id) === str(eventId)) {
      const f = Array.isArray(turn.findings) ? turn.findings[index] : undefined;
      return f || null;
    }
  }
  return null;
}

// ------------------------------------------------------------ the review

/** scorecardOf returns a scorecard's categories and auto-fail items, well-formed. */
export function scorecardOf(sc) {
  const s = isObj(sc) ? sc : {};
  const cats = (Array.isArray(s.categories) ? s.categories : []).filter((c) => isObj(c) && str(c.id))
    .map((c) => ({ id: str(c.id), name: c.name, weight: Math.max(0, fin(c.weight) ?? 1) }));
  const items = (Array.isArray(s.auto_fail) ? s.auto_fail : []).filter((x) => isObj(x) && str(x.id))
    .map((x) => ({ id: str(x.id), name: x.name, kinds: (Array.isArray(x.kinds) ? x.kinds : []).map(str) }));
  return { categories: cats, auto_fail: items };
}

/**
 * localName picks a name's text in a language: {zh, en} (or a plain
 * string); lang 'zh-CN' reads zh, falling back to en, then the id.
 */
export function localName(name, lang, id = '') {
  if (typeof name === 'string' && name) return name;
  if (isObj(name)) {
    const zh = str(name.zh || name['zh-CN']);
    const en = str(name.en);
    return (lang === 'zh-CN' ? zh || en : en || zh) || str(id);
  }
  return str(id);
}

/**
 * newDraft returns the editable form of a review: categories (id → 0..1;
 * a category the review lacks starts at 1, full marks, from which the
 * auditor deducts), auto_fail (ids), verdicts (Map of verdictKey →
 * {verdict, correct_kind}), missed and note.
 */
export function newDraft(review, scorecard) {
  const r = isObj(review) ? review : {};
  const sc = scorecardOf(scorecard);
  const categories = {};
  const given = isObj(r.categories) ? r.categories : {};
  for (const c of sc.categories) {
    const v = fin(given[c.id]);
    categories[c.id] = v === null ? 1 : clamp01(v);
  }
  const verdicts = new Map();
  for (const v of Array.isArray(r.verdicts) ? r.verdicts : []) {
    if (!isObj(v) || !VERDICTS.includes(v.verdict) || !Number.isInteger(v.finding_index)) continue;
    verdicts.set(verdictKey(v.event_id, v.finding_index), { verdict: v.verdict, correct_kind: str(v.correct_kind) });
  }
  const missed = (Array.isArray(r.missed) ? r.missed : []).filter((m) => isObj(m) && Number.isInteger(m.start) && Number.isInteger(m.end))
    .map((m) => ({ event_id: m.event_id, start: m.start, end: m.end, kind: str(m.kind), note: str(m.note) }));
  const known = new Set(sc.auto_fail.map((x) => x.id));
  const autoFail = (Array.isArray(r.auto_fail) ? r.auto_fail : []).map(str).filter((x) => known.has(x));
  return { categories, auto_fail: autoFail, verdicts, missed, note: str(r.note) };
}

/**
 * reviewBody is the body of PUT /api/qa/tasks/{id}/review: the Review of
 * docs/qa.md without its score (the server computes it).
 */
export function reviewBody(taskId, draft) {
  const verdicts = [];
  for (const [key, v] of draft.verdicts) {
    const at = key.lastIndexOf('#');
    const out = { event_id: key.slice(0, at), finding_index: +key.slice(at + 1), verdict: v.verdict };
    if (v.verdict === 'wrong_kind' && v.correct_kind) out.correct_kind = v.correct_kind;
    verdicts.push(out);
  }
  return {
    task_id: taskId,
    categories: { ...draft.categories },
    auto_fail: draft.auto_fail.slice(),
    verdicts,
    missed: draft.missed.map((m) => {
      const out = { event_id: m.event_id, start: m.start, end: m.end, kind: m.kind };
      if (m.note) out.note = m.note;
      return out;
    }),
    note: draft.note || '',
  };
}

/**
 * computeScore computes a review's score as docs/qa.md defines it:
 * sum(weight × category score 0..1) / sum(weight) × 100, and 0 when an
 * auto-fail item is ticked or a finding of one of its kinds is confirmed
 * (a correct verdict on a finding of that kind, a wrong kind corrected to
 * it, or a missed finding of it). It returns {score, raw, autoFail,
 * reasons: [{item, kind?}], missing: [category ids without a valid
 * value]}; score and raw are null while a category is missing or the
 * weights sum to 0.
 */
export function computeScore(scorecard, draft, conversation) {
  const sc = scorecardOf(scorecard);
  const missing = [];
  let sumW = 0;
  let sum = 0;
  for (const c of sc.categories) {
    const v = fin(draft && draft.categories ? draft.categories[c.id] : null);
    if (v === null || v < 0 || v > 1) {
      missing.push(c.id);
      continue;
    }
    sumW += c.weight;
    sum += c.weight * v;
  }
  const raw = missing.length || sumW <= 0 ? null : (sum / sumW) * 100;
  const confirmed = [];
  if (draft) {
    for (const [key, v] of draft.verdicts || []) {
      if (v.verdict === 'correct') {
        const at = key.lastIndexOf('#');
        const f = findingAt(conversation, key.slice(0, at), +key.slice(at + 1));
        if (f) confirmed.push(findingKind(f));
      } else if (v.verdict === 'wrong_kind' && v.correct_kind) confirmed.push(v.correct_kind);
    }
    for (const m of draft.missed || []) if (m.kind) confirmed.push(m.kind);
  }
  const reasons = [];
  for (const item of sc.auto_fail) {
    if (draft && (draft.auto_fail || []).includes(item.id)) {
      reasons.push({ item: item.id });
      continue;
    }
    const kind = confirmed.find((k) => item.kinds.some((p) => kindMatches(p, k)));
    if (kind) reasons.push({ item: item.id, kind });
  }
  const autoFail = reasons.length > 0;
  return { score: autoFail ? 0 : raw, raw, autoFail, reasons, missing };
}

/**
 * autoScore is the automatic score: the share of the conversation's agent
 * drafts the gateway released (delivered) without a finding, × 100; null
 * with no agent draft.
 */
export function autoScore(conversation) {
  const turns = (conversation && Array.isArray(conversation.turns) ? conversation.turns : []).filter((x) => x && x.role === 'agent');
  if (turns.length === 0) return null;
  const clean = turns.filter((x) => x.delivered && !(Array.isArray(x.findings) && x.findings.length)).length;
  return (clean / turns.length) * 100;
}

/** formatScore shows a 0..100 score with one decimal, '—' for none. */
export function formatScore(x) {
  const v = fin(x);
  return v === null ? '—' : (Math.round(v * 10) / 10).toFixed(1);
}

/**
 * reviewProblems lists what keeps a draft from being submitted: 'missing'
 * (a category without a valid score), 'kind' (a wrong-kind verdict with no
 * kind, or with the finding's own).
 */
export function reviewProblems(scorecard, draft, conversation) {
  const out = [];
  if (computeScore(scorecard, draft, conversation).missing.length) out.push('missing');
  for (const [key, v] of draft.verdicts) {
    if (v.verdict !== 'wrong_kind') continue;
    const at = key.lastIndexOf('#');
    const f = findingAt(conversation, key.slice(0, at), +key.slice(at + 1));
    if (!v.correct_kind || (f && findingKind(f) === v.correct_kind)) {
      out.push('kind');
      break;
    }
  }
  return out;
}

/** percentInput reads a 0–100 % field as 0..1, null when it is not a number in range. */
export function percentInput(s) {
  const t = str(s).trim().replace(/%$/, '').trim();
  if (!/^\d+(?:\.\d+)?$/.test(t)) return null;
  const v = +t;
  return v >= 0 && v <= 100 ? v / 100 : null;
}

// ------------------------------------------------------------ spans

const isHigh = (c) => c >= 0xD800 && c <= 0xDBFF;
const isLow = (c) => c >= 0xDC00 && c <= 0xDFFF;

/** cpLength is the length of text in code points. */
export function cpLength(text) {
  return Array.from(str(text)).length;
}

/** sliceCodePoints returns text's code points [start, end). */
export function sliceCodePoints(text, start, end) {
  return Array.from(str(text)).slice(start, end).join('');
}

/**
 * spanFromUtf16 turns two UTF-16 offsets into text (a DOM selection's,
 * in either order) into the code-point span {start, end} the API counts
 * in: clamped to the text, widened so that no surrogate pair is cut.
 */
export function spanFromUtf16(text, a, b) {
  const s = str(text);
  const n = s.length;
  const clamp = (x) => Math.max(0, Math.min(n, Number.isFinite(x) ? Math.floor(x) : 0));
  let lo = clamp(Math.min(a, b));
  let hi = clamp(Math.max(a, b));
  if (lo > 0 && lo < n && isHigh(s.charCodeAt(lo - 1)) && isLow(s.charCodeAt(lo))) lo--;
  if (hi > 0 && hi < n && isHigh(s.charCodeAt(hi - 1)) && isLow(s.charCodeAt(hi))) hi++;
  return { start: cpLength(s.slice(0, lo)), end: cpLength(s.slice(0, hi)) };
}

/**
 * checkSpan validates a code-point span of text: '' when it is one, else
 * 'integer' (not whole numbers), 'range' (outside the text) or 'empty'.
 */
export function checkSpan(text, start, end) {
  if (!Number.isInteger(start) || !Number.isInteger(end)) return 'integer';
  if (start < 0 || end > cpLength(text)) return 'range';
  if (end <= start) return 'empty';
  return '';
}

// ------------------------------------------------------------ disputes

/**
 * disputeDeadline returns when disputes of a review close (ms): the
 * server's dispute_until when it says, else its submission plus windowMs;
 * NaN when the review is not submitted.
 */
export function disputeDeadline(review, windowMs = DEFAULT_DISPUTE_WINDOW_MS) {
  if (!isObj(review)) return NaN;
  const until = parseTime(review.dispute_until);
  if (!Number.isNaN(until)) return until;
  const at = parseTime(review.submitted_at);
  return Number.isNaN(at) ? NaN : at + windowMs;
}

/** disputeOpen reports whether a dispute may still be opened on review at now. */
export function disputeOpen(review, now, windowMs) {
  const d = disputeDeadline(review, windowMs);
  return !Number.isNaN(d) && now <= d;
}

/** disputeTaskId is the task a dispute's review belongs to (a review is its task's: one per task and auditor). */
export function disputeTaskId(d) {
  if (!isObj(d)) return '';
  return str(d.task_id !== undefined && d.task_id !== null && d.task_id !== '' ? d.task_id : d.review_id);
}

/** listOf reads a list from an API body: body[key], or the body when it is an array. */
export function listOf(body, ...keys) {
  if (Array.isArray(body)) return body.filter(isObj);
  for (const k of keys) if (isObj(body) && Array.isArray(body[k])) return body[k].filter(isObj);
  return [];
}

// ------------------------------------------------------------ quota

/**
 * normalizeQuota reads GET /api/qa/quota: rows {agent_id, team, sampled,
 * reviewed, minimum, met} (met, when the server omits it: reviewed ≥
 * minimum), the unmet first, then by agent.
 */
export function normalizeQuota(body) {
  return listOf(body, 'agents', 'quota', 'rows').map((r) => {
    const sampled = fin(r.sampled) ?? 0;
    const reviewed = fin(r.reviewed) ?? 0;
    const minimum = fin(r.minimum ?? r.min) ?? 0;
    return {
      agent_id: str(r.agent_id ?? r.agent), team: str(r.team), sampled, reviewed, minimum,
      met: typeof r.met === 'boolean' ? r.met : reviewed >= minimum,
    };
  }).sort((a, b) => (a.met - b.met) || (a.agent_id < b.agent_id ? -1 : a.agent_id > b.agent_id ? 1 : 0));
}

/** localDay is a time's calendar day, YYYY-MM-DD, in the browser's zone. */
export function localDay(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** isDay reports whether s is a YYYY-MM-DD date. */
export function isDay(s) {
  return typeof s === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(s + 'T00:00:00Z'));
}

// ------------------------------------------------------------ precision

/**
 * precisionOf is a rule's precision: the server's (0..1) when it gives
 * one, else correct / (correct + false positives + wrong kinds); null
 * when nothing was judged.
 */
export function precisionOf(row) {
  if (!isObj(row)) return null;
  const p = fin(row.precision);
  if (p !== null) return clamp01(p);
  const c = fin(row.correct) ?? 0;
  const d = c + (fin(row.false_positive) ?? 0) + (fin(row.wrong_kind) ?? 0);
  return d > 0 ? c / d : null;
}

/** formatPercent shows a share 0..1 as a percentage ('—' for none). */
export function formatPercent(x, digits = 1) {
  const v = fin(x);
  return v === null ? '—' : (v * 100).toFixed(digits) + '%';
}

/** ruleSource says what a rule name is: 'model' (model:<version>), 'lexicon' or 'rule'. */
export function ruleSource(row) {
  const t = str(row && (row.source || row.type));
  if (t === 'model' || t === 'lexicon' || t === 'rule') return t;
  if (str(row && row.rule).startsWith('model:')) return 'model';
  if (row && row.lexicon) return 'lexicon';
  return 'rule';
}

const dayOf = (x) => str(x.day ?? x.date ?? x.start).slice(0, 10);

/**
 * normalizePrecision reads GET /api/qa/precision: rows {rule, source,
 * correct, false_positive, wrong_kind, missed, precision, days: [{day,
 * precision}] oldest first}. The per-day series is a row's days (or
 * per_day), or the body's days (or per_day) entries naming the rule.
 */
export function normalizePrecision(body) {
  const top = isObj(body) ? listOf(body, 'days', 'per_day') : [];
  return listOf(body, 'rules', 'precision', 'rows').map((r) => {
    const rule = str(r.rule ?? r.lexicon ?? r.name);
    const own = Array.isArray(r.days) ? r.days : Array.isArray(r.per_day) ? r.per_day : top.filter((d) => str(d.rule) === rule);
    const days = own.filter(isObj).map((d) => ({ day: dayOf(d), precision: precisionOf(d) }))
      .filter((d) => d.day).sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
    return {
      rule,
      source: ruleSource(r),
      correct: fin(r.correct) ?? 0,
      false_positive: fin(r.false_positive) ?? 0,
      wrong_kind: fin(r.wrong_kind) ?? 0,
      missed: fin(r.missed) ?? 0,
      precision: precisionOf(r),
      days,
    };
  });
}

/** The sortable columns of the precision table. */
export const PRECISION_COLS = ['rule', 'source', 'correct', 'false_positive', 'wrong_kind', 'missed', 'precision'];

/**
 * sortRows returns rows sorted by key, 'asc' or 'desc'; empty values
 * (null, NaN, '') last either way; ties keep their order.
 */
export function sortRows(rows, key, dir = 'asc') {
  const sign = dir === 'desc' ? -1 : 1;
  const empty = (v) => v === null || v === undefined || v === '' || (typeof v === 'number' && Number.isNaN(v));
  return rows.map((r, i) => ({ r, i })).sort((x, y) => {
    const a = x.r[key];
    const b = y.r[key];
    if (empty(a) || empty(b)) return (empty(a) - empty(b)) || (x.i - y.i);
    let c = 0;
    if (typeof a === 'number' && typeof b === 'number') c = a - b;
    else c = String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
    return c * sign || (x.i - y.i);
  }).map((x) => x.r);
}

/** nextSort is the sort after a click on column key: the other direction on the same column; numbers start high. */
export function nextSort(sort, key) {
  if (sort && sort.key === key) return { key, dir: sort.dir === 'asc' ? 'desc' : 'asc' };
  return { key, dir: key === 'rule' || key === 'source' ? 'asc' : 'desc' };
}

/**
 * exportPath is the URL of GET /api/qa/export, and exportName the file's
 * name.
 */
export function exportPath({ since = '30d', verdict = 'all', format = 'jsonl' } = {}) {
  const p = new URLSearchParams();
  p.set('since', SINCE.includes(since) ? since : '30d');
  p.set('verdict', EXPORT_VERDICTS.includes(verdict) ? verdict : 'all');
  p.set('format', EXPORT_FORMATS.includes(format) ? format : 'jsonl');
  return '/api/qa/export?' + p.toString();
}

export function exportName({ since = '30d', verdict = 'all', format = 'jsonl' } = {}) {
  const base = `xunjian_qa_${EXPORT_VERDICTS.includes(verdict) ? verdict : 'all'}_${SINCE.includes(since) ? since : '30d'}`;
  return format === 'rego' ? base + '_test.rego' : base + '.jsonl';
}

// ------------------------------------------------------------ calibration

const scoresOf = (s) => {
  const out = {};
  if (Array.isArray(s)) {
    for (const x of s) if (isObj(x) && str(x.auditor)) out[str(x.auditor)] = fin(x.score);
  } else if (isObj(s)) {
    for (const [k, v] of Object.entries(s)) out[k] = fin(isObj(v) ? v.score : v);
  }
  return out;
};

/**
 * normalizeCalibration reads GET /api/qa/calibration: {groups: [{id,
 * conversation_id, auditors: [names, sorted], categories: [{id, name,
 * scores: {auditor: 0..1|null}, agreement}], agreement}], auditors:
 * [{auditor, agreement, groups}]}. A group's categories may come as a
 * list or as an object by id; the scores as {auditor: score} or
 * [{auditor, score}].
 */
export function normalizeCalibration(body) {
  const groups = listOf(body, 'groups').map((g) => {
    let cats = g.categories;
    if (isObj(cats)) cats = Object.entries(cats).map(([id, c]) => ({ id, ...(isObj(c) ? c : {}) }));
    const categories = (Array.isArray(cats) ? cats : []).filter(isObj).map((c) => ({
      id: str(c.id ?? c.category), name: c.name, scores: scoresOf(c.scores), agreement: fin(c.agreement),
    }));
    const names = new Set(Array.isArray(g.auditors) ? g.auditors.map((a) => str(isObj(a) ? a.auditor : a)) : []);
    for (const c of categories) for (const a of Object.keys(c.scores)) names.add(a);
    names.delete('');
    return {
      id: str(g.id ?? g.group ?? g.calibration_group), conversation_id: str(g.conversation_id),
      auditors: [...names].sort(), categories, agreement: fin(g.agreement),
    };
  });
  const auditors = listOf(body, 'auditors').map((a) => ({
    auditor: str(a.auditor ?? a.id), agreement: fin(a.agreement), groups: fin(a.groups ?? a.reviews),
  })).sort((a, b) => ((a.agreement ?? 2) - (b.agreement ?? 2)) || (a.auditor < b.auditor ? -1 : 1));
  return { groups, auditors };
}

// ------------------------------------------------------------ keyboard

/**
 * qaKeyCommand maps a key press on a QA page to a command, '' for none;
 * k is as keyCommand's (lib.js). Lists (queue, disputes, mine): j/k
 * move, Enter opens, a takes (queue), / filters. The review page: j/k
 * move through the findings, c / f / w judge the current one (correct,
 * false positive, wrong kind), m adds a missed finding from the selected
 * text, s saves the draft, d opens a dispute. Everywhere: Esc back, ?
 * help.
 */
export function qaKeyCommand(k, page) {
  if (k.ctrlKey || k.metaKey || k.altKey || k.dialog) return '';
  if (k.editable) return k.key === 'Escape' ? 'blur' : '';
  if (k.key === '?') return 'help';
  if (k.key === 'Escape') return 'back';
  const list = page === 'queue' || page === 'disputes' || page === 'mine';
  if (list) {
    switch (k.key) {
      case 'j': return 'next';
      case 'k': return 'prev';
      case 'ArrowDown': return k.row ? 'next' : '';
      case 'ArrowUp': return k.row ? 'prev' : '';
      case 'Enter': return k.control ? '' : 'open';
      case 'a': return page === 'queue' ? 'take' : '';
      case '/': return page === 'mine' ? '' : 'filter';
      default: return '';
    }
  }
  if (page === 'task') {
    switch (k.key) {
      case 'j': return 'next';
      case 'k': return 'prev';
      case 'c': return 'correct';
      case 'f': return 'false_positive';
      case 'w': return 'wrong_kind';
      case 'm': return 'missed';
      case 's': return 'save';
      case 'd': return 'dispute';
      default: return '';
    }
  }
  return '';
}

/** moveIndex returns the index after moving by delta in a list of n (clamped; -1 for none). */
export function moveIndex(n, current, delta) {
  if (n <= 0) return -1;
  if (current < 0 || current >= n) return delta >= 0 ? 0 : n - 1;
  return Math.max(0, Math.min(n - 1, current + delta));
}

/** dueIn is a due time's distance from now (ms, negative when past), NaN without one. */
export function dueIn(task, now) {
  const due = parseTime(task && task.due_at);
  return Number.isNaN(due) ? NaN : due - now;
}
