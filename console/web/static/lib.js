// The console's pure functions: no DOM, no network, no global state. The
// application and its tests (console/web/testdata) both import this module.

/** Alert levels, the least grave first (docs/console.md). */
export const LEVELS = ['low', 'medium', 'high', 'critical'];
/** Alert states, in workflow order. */
export const STATES = ['new', 'acknowledged', 'resolved'];
/** The states the wall shows unless told otherwise (the API's default). */
export const DEFAULT_STATES = ['new', 'acknowledged'];
/** The gateway's actions on an agent's draft, the most permissive first. */
export const ACTIONS = ['allow', 'warn', 'redact', 'confirm', 'block'];
/** Finding severities, the least grave first. */
export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'];
/** The languages of the interface. */
export const LANGS = ['zh-CN', 'en'];
/** The filter fields of the alert wall, as named in the API's query. */
export const FILTER_KEYS = ['team', 'agent', 'kind', 'state', 'min_level'];

/** levelRank ranks a level: 1 (low) … 4 (critical), 0 when unknown. */
export function levelRank(level) {
  return LEVELS.indexOf(level) + 1;
}

/** severityRank ranks a finding severity: 0 (info or unknown) … 4. */
export function severityRank(sev) {
  return Math.max(0, SEVERITIES.indexOf(sev));
}

/**
 * parseTime returns the milliseconds of an RFC 3339 time (Go writes up to
 * nine fraction digits, which not every Date.parse accepts), NaN when it is
 * not one.
 */
export function parseTime(s) {
  if (typeof s !== 'string') return NaN;
  const m = /^(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return NaN;
  const frac = m[2] ? m[2].slice(0, 4).padEnd(4, '0') : '';
  return Date.parse(m[1].replace(/[t ]/, 'T') + frac + m[3].toUpperCase());
}

const num = (x) => (Number.isFinite(+x) ? +x : 0);
const timeOr0 = (s) => {
  const t = parseTime(s);
  return Number.isNaN(t) ? 0 : t;
};

/**
 * compareAlerts orders alerts gravest first, as the API pages them: level
 * (critical > high > medium > low), then the conversation's risk, higher
 * first, then the newest; the id, higher first, settles ties.
 */
export function compareAlerts(a, b) {
  return (levelRank(b.level) - levelRank(a.level))
    || (num(b.risk) - num(a.risk))
    || (timeOr0(b.created_at) - timeOr0(a.created_at))
    || (num(b.id) - num(a.id));
}

/**
 * insertPosition returns where alert goes in list, a list sorted by
 * compareAlerts: after every alert that sorts before it or equal.
 */
export function insertPosition(list, alert) {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareAlerts(list[mid], alert) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** normalizeFilters returns a complete filter object from a partial one. */
export function normalizeFilters(f = {}) {
  const str = (v) => (typeof v === 'string' ? v.trim() : '');
  const want = Array.isArray(f.state) ? f.state : str(f.state).split(',');
  let state = STATES.filter((s) => want.includes(s));
  if (state.length === 0) state = DEFAULT_STATES.slice();
  return {
    team: str(f.team),
    agent: str(f.agent),
    kind: str(f.kind),
    state,
    min_level: LEVELS.includes(f.min_level) ? f.min_level : '',
  };
}

/** isDefaultStates reports whether states are the wall's default ones. */
export function isDefaultStates(states) {
  return states.length === DEFAULT_STATES.length && DEFAULT_STATES.every((s) => states.includes(s));
}

/**
 * filtersFromSearch reads the wall's filters from a URL query (a string
 * such as location.search, or URLSearchParams).
 */
export function filtersFromSearch(search) {
  const p = new URLSearchParams(search);
  const f = {};
  for (const k of FILTER_KEYS) f[k] = p.get(k) || '';
  return normalizeFilters(f);
}

/**
 * filtersToSearch writes filters into the URL query base (other
 * parameters, such as lang, are kept) and returns it, "?…" or "" when
 * empty. Empty filters and the default states are left out, so that the
 * plain wall is at "/".
 */
export function filtersToSearch(filters, base = '') {
  const f = normalizeFilters(filters);
  const p = new URLSearchParams(base);
  for (const k of FILTER_KEYS) p.delete(k);
  for (const k of ['team', 'agent', 'kind']) if (f[k]) p.set(k, f[k]);
  if (!isDefaultStates(f.state)) p.set('state', f.state.join(','));
  if (f.min_level) p.set('min_level', f.min_level);
  const s = p.toString();
  return s ? '?' + s : '';
}

/**
 * alertsQuery returns the query of GET /api/alerts for filters, a cursor
 * and a page size.
 */
export function alertsQuery(filters, { cursor = '', limit = 50 } = {}) {
  const f = normalizeFilters(filters);
  const p = new URLSearchParams();
  p.set('state', f.state.join(','));
  for (const k of ['team', 'agent', 'kind', 'min_level']) if (f[k]) p.set(k, f[k]);
  p.set('limit', String(Math.max(1, Math.min(500, Math.floor(limit) || 50))));
  if (cursor) p.set('cursor', cursor);
  return p.toString();
}

/** matchesFilter reports whether alert is one the filters select. */
export function matchesFilter(alert, filters) {
  const f = normalizeFilters(filters);
  if (f.team && (alert.team || '') !== f.team) return false;
  if (f.agent && alert.agent_id !== f.agent) return false;
  if (f.kind && alert.kind !== f.kind) return false;
  if (!f.state.includes(alert.state)) return false;
  if (f.min_level && levelRank(alert.level) < levelRank(f.min_level)) return false;
  return true;
}

/**
 * mergeAlert applies one alert (pushed, or as a transition returned it) to
 * list, a list sorted by compareAlerts, and returns {list, op}: a new list
 * and what happened, one of
 *   'inserted' (new, at its sorted place),
 *   'replaced' (known by id, put back at its sorted place),
 *   'removed'  (known, and no longer selected by filters),
 *   'stale'    (known with a higher version: nothing changes),
 *   'ignored'  (not selected, or it sorts after the last alert while more
 *               pages remain: it belongs to a page not loaded yet).
 * Options: filters (undefined: every alert), hasMore.
 */
export function mergeAlert(list, alert, { filters, hasMore = false } = {}) {
  const i = list.findIndex((x) => x.id === alert.id);
  if (i >= 0 && num(list[i].version) > num(alert.version)) return { list, op: 'stale' };
  const rest = i >= 0 ? list.slice(0, i).concat(list.slice(i + 1)) : list.slice();
  if (filters && !matchesFilter(alert, filters)) {
    return i >= 0 ? { list: rest, op: 'removed' } : { list, op: 'ignored' };
  }
  const at = insertPosition(rest, alert);
  if (i < 0 && hasMore && at === rest.length) return { list, op: 'ignored' };
  rest.splice(at, 0, alert);
  return { list: rest, op: i >= 0 ? 'replaced' : 'inserted' };
}

/**
 * segments cuts text into runs by findings' spans, counted in code points
 * (as the gateway counts them; a JS string counts UTF-16 units). Each run
 * is {text, start, end, findings}: its text, its code-point span and the
 * indexes of the findings covering it (empty for plain text). Spans are
 * clamped to the text; empty, reversed or non-integer spans are skipped.
 * Overlapping findings give runs covered by both.
 */
export function segments(text, findings) {
  const cps = Array.from(typeof text === 'string' ? text : '');
  const n = cps.length;
  const spans = [];
  (Array.isArray(findings) ? findings : []).forEach((f, idx) => {
    if (!f) return;
    let s = f.start;
    let e = f.end;
    if (!Number.isInteger(s) || !Number.isInteger(e)) return;
    s = Math.max(0, s);
    e = Math.min(n, e);
    if (s < e) spans.push({ s, e, idx });
  });
  const cuts = new Set([0, n]);
  for (const x of spans) {
    cuts.add(x.s);
    cuts.add(x.e);
  }
  const pts = [...cuts].sort((a, b) => a - b);
  const out = [];
  for (let k = 0; k + 1 < pts.length; k++) {
    const a = pts[k];
    const b = pts[k + 1];
    const cover = spans.filter((x) => x.s <= a && x.e >= b).map((x) => x.idx);
    out.push({ text: cps.slice(a, b).join(''), start: a, end: b, findings: cover });
  }
  return out;
}

/** maxSeverity returns the gravest severity of findings ('info' if none). */
export function maxSeverity(findings) {
  let best = 0;
  for (const f of findings) best = Math.max(best, severityRank(f && f.severity));
  return SEVERITIES[best];
}

/**
 * ageParts splits an age in milliseconds into the unit the wall shows:
 * {unit: 'now'} under 10 s, then seconds, minutes, hours (under two
 * days) and days; a negative age (a clock ahead of ours) is 'now'.
 */
export function ageParts(ms) {
  const s = Number.isFinite(ms) ? Math.floor(ms / 1000) : 0;
  if (s < 10) return { unit: 'now', n: 0 };
  if (s < 60) return { unit: 's', n: s };
  const m = Math.floor(s / 60);
  if (m < 60) return { unit: 'm', n: m };
  const h = Math.floor(m / 60);
  if (h < 48) return { unit: 'h', n: h };
  return { unit: 'd', n: Math.floor(h / 24) };
}

/**
 * formatAge formats the age of a time (RFC 3339) at now (ms) with t, the
 * translator: the keys age.now, age.s, age.m, age.h and age.d, {n}.
 */
export function formatAge(time, now, t) {
  const at = parseTime(time);
  if (Number.isNaN(at)) return '';
  const p = ageParts(now - at);
  return t('age.' + p.unit, { n: p.n });
}

/** formatRisk shows a risk in [0, 1] with two decimals. */
export function formatRisk(r) {
  return Number.isFinite(+r) ? (+r).toFixed(2) : '';
}

/**
 * translate returns dict[key] with {name} placeholders replaced from
 * params; the key itself when dict lacks it (visible, never blank).
 */
export function translate(dict, key, params) {
  let s = dict && Object.prototype.hasOwnProperty.call(dict, key) ? dict[key] : key;
  if (params) {
    s = s.replace(/\{(\w+)\}/g, (m, k) => (Object.prototype.hasOwnProperty.call(params, k) ? String(params[k]) : m));
  }
  return s;
}

/** normalizeLang maps a language tag to one of LANGS, '' if none fits. */
export function normalizeLang(tag) {
  const s = typeof tag === 'string' ? tag.trim().toLowerCase() : '';
  if (s === 'zh' || s.startsWith('zh-') || s.startsWith('zh_')) return 'zh-CN';
  if (s === 'en' || s.startsWith('en-') || s.startsWith('en_')) return 'en';
  return '';
}

/**
 * pickLang chooses the interface language: the URL's ?lang=, else the
 * one remembered, else the browser's first language we have, else en.
 */
export function pickLang({ param = '', stored = '', languages = [] } = {}) {
  for (const c of [param, stored, ...languages]) {
    const l = normalizeLang(c);
    if (l) return l;
  }
  return 'en';
}

/**
 * backoffDelay returns the wait in ms before reconnection attempt n (0,
 * 1, …): 1 s doubling to 30 s, with jitter (half to all of it). rand is
 * Math.random or a test's.
 */
export function backoffDelay(attempt, rand = Math.random) {
  const base = Math.min(30000, 1000 * 2 ** Math.min(Math.max(0, attempt), 15));
  return Math.round(base * (0.5 + 0.5 * rand()));
}

/** routePath returns the application path of a view. */
export function routePath(view, id) {
  switch (view) {
    case 'conversation': return '/conversations/' + encodeURIComponent(id);
    case 'agent': return '/agents/' + encodeURIComponent(id);
    default: return '/';
  }
}

/**
 * parseRoute reads the view of an application path: {view: 'wall'},
 * {view: 'conversation', id} or {view: 'agent', id}. Anything else is
 * the wall.
 */
export function parseRoute(pathname) {
  const m = /^\/(conversations|agents)\/([^/]+)\/?$/.exec(pathname || '');
  if (m) {
    try {
      const id = decodeURIComponent(m[2]);
      if (id) return { view: m[1] === 'agents' ? 'agent' : 'conversation', id };
    } catch {
      // a malformed escape: the wall
    }
  }
  return { view: 'wall' };
}

/**
 * keyCommand maps a key press to a console command, '' for none. k holds
 * the event's key and modifiers and where it happened: editable (an
 * input, select or textarea), control (a button or link: Enter is
 * theirs) and dialog (a modal dialog is open: it handles its keys).
 */
export function keyCommand(k) {
  if (k.ctrlKey || k.metaKey || k.altKey || k.dialog) return '';
  if (k.editable) return k.key === 'Escape' ? 'blur' : '';
  switch (k.key) {
    case 'j': return 'next';
    case 'k': return 'prev';
    case 'ArrowDown': return k.row ? 'next' : '';
    case 'ArrowUp': return k.row ? 'prev' : '';
    case 'Enter': return k.control ? '' : 'open';
    case 'a': return 'take';
    case 'r': return 'resolve';
    case 'n': return 'note';
    case '/': return 'filter';
    case 'Escape': return 'back';
    case '?': return 'help';
    default: return '';
  }
}

/** moveSelection returns the index after moving by delta (clamped). */
export function moveSelection(ids, current, delta) {
  if (ids.length === 0) return -1;
  const i = ids.indexOf(current);
  if (i < 0) return delta >= 0 ? 0 : ids.length - 1;
  return Math.max(0, Math.min(ids.length - 1, i + delta));
}

/**
 * sparkPath returns the SVG path ("M x y L …") of values over a w × h
 * box, the highest value (at least max) at the top, zero at the bottom,
 * pad units of margin; '' for no values.
 */
export function sparkPath(values, w, h, { max = 1, pad = 2 } = {}) {
  const n = values.length;
  if (n === 0) return '';
  const top = Math.max(max, ...values.map(num));
  const y = (v) => +(h - pad - (num(v) / top) * (h - 2 * pad)).toFixed(2);
  if (n === 1) return `M${pad} ${y(values[0])} L${w - pad} ${y(values[0])}`;
  const dx = (w - 2 * pad) / (n - 1);
  return values.map((v, i) => `${i ? 'L' : 'M'}${+(pad + i * dx).toFixed(2)} ${y(v)}`).join(' ');
}

/** sortedCounts returns an object's [key, n] pairs, most first. */
export function sortedCounts(counts) {
  return Object.entries(counts || {})
    .filter(([, n]) => Number.isFinite(+n))
    .sort((a, b) => (+b[1] - +a[1]) || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/**
 * safeHref reports whether href is a link the console may render: a path
 * of its own origin (one leading slash, not two) or a fragment.
 */
export function safeHref(href) {
  return typeof href === 'string' && (/^\/(?![/\\])/.test(href) || href.startsWith('#'));
}
