// The supervisors' console: sign-in, the alert wall, the conversation and
// agent views, the counters, the live stream and the keyboard, and the
// quality audits' pages (qa.js). docs/console.md and docs/qa.md are the
// contract with the API; lib.js and qalib.js hold the pure logic,
// views.js and qaviews.js the rendering, dom.js the only DOM building.

import * as api from './api.js';
import { h, fill } from './dom.js';
import * as L from './lib.js';
import * as V from './views.js';
import * as QL from './qalib.js';
import { createQa } from './qa.js';

const LANG_KEY = 'xunjian.console.lang';
const COUNTERS_EVERY = 30000;
const AGES_EVERY = 30000;

/** The application's state. */
const S = {
  dicts: null,
  lang: 'en',
  me: null,
  route: { view: 'wall' },
  wallSearch: '',
  selectedId: null,
  selectedIndex: 0,
  wall: null, // AlertList of the wall
  agent: null, // {id, list: AlertList, stats, error}
  conv: null, // {id, data, error, loading}
  counters: null,
  countersError: null,
  countersWindow: '1h',
  countersAt: 0,
  stream: null,
  streamStatus: 'connecting',
  gen: 0, // bumped when every row must be built again (language, principal)
  rowSets: [], // the tables of the current view: {name, tbody, cols, get, cache, empty}
  pending: new Set(), // alerts with a transition in flight
  note: null, // the open note dialog
  timers: [],
  debounce: {},
};

// ---------------------------------------------------------------- i18n

function t(key, params) {
  const d = S.dicts[S.lang] || {};
  return L.translate(Object.prototype.hasOwnProperty.call(d, key) ? d : S.dicts.en, key, params);
}

const storage = {
  get(k) {
    try { return localStorage.getItem(k) || ''; } catch { return ''; }
  },
  set(k, v) {
    try { localStorage.setItem(k, v); } catch { /* private mode: not remembered */ }
  },
};

let timeFmt = null;
function fmtTime(ts) {
  const ms = L.parseTime(ts);
  if (Number.isNaN(ms)) return '';
  if (!timeFmt || timeFmt.lang !== S.lang) {
    timeFmt = {
      lang: S.lang,
      f: new Intl.DateTimeFormat(S.lang, { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }),
    };
  }
  return timeFmt.f.format(new Date(ms));
}

function applyLang() {
  document.documentElement.lang = S.lang;
  document.title = t('app.title');
}

function setLang(lang) {
  S.lang = lang;
  storage.set(LANG_KEY, lang);
  const p = new URLSearchParams(location.search);
  if (p.has('lang')) {
    p.set('lang', lang === 'zh-CN' ? 'zh' : 'en');
    history.replaceState(history.state, '', location.pathname + '?' + p.toString());
  }
  applyLang();
  S.gen++;
  if (S.me) renderApp(); else renderSignIn();
}

function langToggle() {
  const other = S.lang === 'zh-CN' ? 'en' : 'zh-CN';
  return h('button', {
    type: 'button', class: 'btn ghost', lang: other, 'aria-label': t('lang.switchLabel'),
    on: { click: () => setLang(other) },
  }, t('lang.switch'));
}

// ------------------------------------------------------------ messages

function toast(text, kind = 'info') {
  const box = document.getElementById('status');
  const el = h('div', { class: 'toast ' + kind }, text);
  box.appendChild(el);
  while (box.childNodes.length > 3) box.removeChild(box.firstChild);
  setTimeout(() => el.remove(), kind === 'err' ? 10000 : 6000);
}

let announceTimer = 0;
const announceQueue = [];
function announce(text) {
  announceQueue.push(text);
  clearTimeout(announceTimer);
  announceTimer = setTimeout(() => {
    const box = document.getElementById('announcer');
    box.textContent = '';
    const items = announceQueue.splice(0);
    const shown = items.slice(-3);
    if (items.length > shown.length) shown.unshift(t('announce.more', { n: items.length - shown.length }));
    setTimeout(() => { box.textContent = shown.join(' '); }, 60);
  }, 300);
}

function handleError(e, what) {
  if (e && e.name === 'AbortError') return;
  if (e && e.status === 401) {
    signedOut(true);
    return;
  }
  toast(describeError(e, what), 'err');
}

function describeError(e, what) {
  const msg = e && e.message ? e.message : String(e);
  if (e && e.status === 0) return t('err.network', { message: msg });
  if (e && e.status === 403) return t('err.forbidden');
  if (e && e.status === 404) return t('err.notFound', { what: what || '' });
  return t('err.generic', { message: msg });
}

function debounced(name, ms, fn) {
  clearTimeout(S.debounce[name]);
  S.debounce[name] = setTimeout(fn, ms);
}

// ------------------------------------------------------------ alert lists

/** AlertList is a filtered, paged, live list of alerts. */
class AlertList {
  constructor(filters, onChange) {
    this.filters = L.normalizeFilters(filters);
    this.alerts = [];
    this.next = '';
    this.loading = false;
    this.loaded = false;
    this.error = null;
    this.seq = 0;
    this.onChange = onChange;
  }

  async load({ keep = false } = {}) {
    const seq = ++this.seq;
    this.loading = true;
    this.error = null;
    this.onChange();
    const limit = keep ? Math.min(500, Math.max(50, this.alerts.length)) : 50;
    try {
      const r = await api.get('/api/alerts?' + L.alertsQuery(this.filters, { limit }));
      if (seq !== this.seq) return;
      this.alerts = (r && Array.isArray(r.alerts) ? r.alerts : []).slice().sort(L.compareAlerts);
      this.next = (r && r.next) || '';
      this.loaded = true;
    } catch (e) {
      if (seq !== this.seq) return;
      this.error = e;
      if (e.status === 401) handleError(e);
    } finally {
      if (seq === this.seq) {
        this.loading = false;
        this.onChange();
      }
    }
  }

  async more() {
    if (!this.next || this.loading) return;
    const seq = this.seq;
    this.loading = true;
    this.onChange();
    try {
      const r = await api.get('/api/alerts?' + L.alertsQuery(this.filters, { cursor: this.next, limit: 50 }));
      if (seq !== this.seq) return;
      let list = this.alerts;
      for (const a of (r && r.alerts) || []) list = L.mergeAlert(list, a, { filters: this.filters }).list;
      this.alerts = list;
      this.next = (r && r.next) || '';
    } catch (e) {
      if (seq === this.seq) handleError(e);
    } finally {
      if (seq === this.seq) {
        this.loading = false;
        this.onChange();
      }
    }
  }

  merge(a) {
    const r = L.mergeAlert(this.alerts, a, { filters: this.filters, hasMore: !!this.next });
    if (r.op !== 'stale' && r.op !== 'ignored') {
      this.alerts = r.list;
      this.onChange();
    }
    return r.op;
  }

  remove(id) {
    const n = this.alerts.length;
    this.alerts = this.alerts.filter((a) => a.id !== id);
    if (this.alerts.length !== n) this.onChange();
  }
}

function allAlertsOfView() {
  const out = [];
  for (const set of S.rowSets) out.push(...set.get());
  return out;
}

function findAlert(id) {
  return allAlertsOfView().find((a) => a.id === id) || (S.wall && S.wall.alerts.find((a) => a.id === id)) || null;
}

// ------------------------------------------------------------ rows

function viewCtx() {
  return {
    t,
    now: Date.now(),
    fmtTime,
    selectedId: S.selectedId,
    canAct: canAct(),
    onAction: (op, a) => act(op, a),
    onLink,
  };
}

function captureFocus() {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const row = el.closest && el.closest('[data-alert-id]');
  const set = el.closest && el.closest('[data-list]');
  return { el, id: row ? row.getAttribute('data-alert-id') : '', k: el.getAttribute('data-k') || '', set: set ? set.getAttribute('data-list') : '' };
}

function restoreFocus(f) {
  if (!f || f.el.isConnected) return;
  const active = document.activeElement;
  if (active && active !== document.body) return;
  if (!f.id) return;
  const scope = f.set ? document.querySelector(`[data-list="${f.set}"]`) : document;
  const rows = scope ? [...scope.querySelectorAll('tr[data-alert-id]')] : [];
  let row = rows.find((r) => r.getAttribute('data-alert-id') === f.id);
  if (!row) row = rows.find((r) => r.getAttribute('data-alert-id') === String(S.selectedId));
  if (!row) return;
  const target = f.k ? row.querySelector(`[data-k="${f.k}"]`) : null;
  (target && !target.disabled ? target : row).focus({ preventScroll: true });
}

function emptyRow(cols, text) {
  return h('tr', { class: 'empty' }, h('td', { colspan: String(cols.length) }, text));
}

/** syncRows makes set.tbody show set.get(), rebuilding changed rows only. */
function syncRows(set, ctx) {
  const alerts = set.get();
  const rows = [];
  const ids = new Set();
  for (const a of alerts) {
    ids.add(a.id);
    const sel = a.id === S.selectedId;
    const c = set.cache.get(a.id);
    if (c && c.a === a && c.gen === S.gen) {
      if (c.sel !== sel) {
        V.applySelection(c.tr, sel);
        c.sel = sel;
      }
      rows.push(c.tr);
      continue;
    }
    const tr = V.alertRow(a, ctx, set.cols);
    set.cache.set(a.id, { a, sel, gen: S.gen, tr });
    rows.push(tr);
  }
  for (const id of [...set.cache.keys()]) if (!ids.has(id)) set.cache.delete(id);
  if (rows.length === 0) {
    if (!set.emptyRow || set.emptyRow.gen !== S.gen || set.emptyRow.text !== set.empty()) {
      set.emptyRow = { gen: S.gen, text: set.empty(), tr: emptyRow(set.cols, set.empty()) };
    }
    rows.push(set.emptyRow.tr);
  }
  let cur = set.tbody.firstChild;
  for (const tr of rows) {
    if (cur === tr) {
      cur = cur.nextSibling;
      continue;
    }
    set.tbody.insertBefore(tr, cur);
  }
  while (cur) {
    const nx = cur.nextSibling;
    set.tbody.removeChild(cur);
    cur = nx;
  }
}

/** refreshRows brings every table of the view up to date, focus kept. */
function refreshRows() {
  const ids = allAlertsOfView().map((a) => a.id);
  if (ids.length && !ids.includes(S.selectedId)) {
    S.selectedId = ids[Math.min(Math.max(0, S.selectedIndex), ids.length - 1)];
  }
  S.selectedIndex = Math.max(0, ids.indexOf(S.selectedId));
  const focus = captureFocus();
  const ctx = viewCtx();
  for (const set of S.rowSets) if (set.tbody.isConnected) syncRows(set, ctx);
  restoreFocus(focus);
}

function rowSet(name, cols, get, empty, label) {
  const table = V.alertTable(viewCtx(), cols, label);
  const tbody = table.querySelector('tbody');
  const set = { name, cols, get, empty, tbody, cache: new Map(), emptyRow: null };
  tbody.addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-alert-id]');
    if (!tr || e.target.closest('a, button')) return;
    select(+tr.getAttribute('data-alert-id'), { focus: true });
  });
  tbody.addEventListener('dblclick', (e) => {
    const tr = e.target.closest('tr[data-alert-id]');
    if (tr && !e.target.closest('a, button')) openConversation(findAlert(+tr.getAttribute('data-alert-id')));
  });
  tbody.addEventListener('focusin', (e) => {
    const tr = e.target.closest('tr[data-alert-id]');
    if (tr && +tr.getAttribute('data-alert-id') !== S.selectedId) select(+tr.getAttribute('data-alert-id'), { focus: false });
  });
  S.rowSets.push(set);
  return { table, set };
}

function select(id, { focus = false } = {}) {
  S.selectedId = id;
  refreshRows();
  if (!focus) return;
  const row = document.querySelector(`tr[data-alert-id="${id}"]`);
  if (row) {
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: 'nearest' });
  }
}

function flash(id) {
  requestAnimationFrame(() => {
    for (const row of document.querySelectorAll(`tr[data-alert-id="${id}"]`)) {
      row.classList.add('fresh');
      setTimeout(() => row.classList.remove('fresh'), 2500);
    }
  });
}

// ------------------------------------------------------------ actions

function canAct() {
  return !!S.me && S.me.role !== 'auditor' && S.me.role !== 'agent';
}

function act(op, a) {
  if (!a) {
    toast(t('err.noSelection'), 'warn');
    return;
  }
  if (!canAct()) {
    toast(t('act.readonly'), 'warn');
    return;
  }
  const can = V.actionsOf(a, true);
  if (!can[op]) {
    toast(t('err.cannot', { id: a.id, state: t('state.' + (L.STATES.includes(a.state) ? a.state : 'new')) }), 'warn');
    return;
  }
  if (op === 'take') transition(a, 'acknowledged');
  else if (op === 'resolve') transition(a, 'resolved');
  else if (op === 'note') openNote(a);
}

/**
 * transition moves alert a to state to (with a note), as read (its
 * version). Returns {ok} or {ok: false, conflict, message}.
 */
async function transition(a, to, note = '') {
  if (S.pending.has(a.id)) return { ok: false, message: t('err.busy') };
  S.pending.add(a.id);
  const body = { to, version: a.version };
  if (to === 'acknowledged') body.assignee = S.me.subject;
  if (note) body.note = note;
  try {
    const r = await api.post(`/api/alerts/${encodeURIComponent(a.id)}/transition`, body);
    const na = r && r.alert && typeof r.alert === 'object' ? r.alert : r;
    if (na && na.id !== undefined) applyAlert(na, false);
    else await reloadAlert(a.id);
    toast(t(note ? 'toast.noted' : to === 'resolved' ? 'toast.resolved' : 'toast.taken', { id: a.id }), 'ok');
    return { ok: true };
  } catch (e) {
    if (e.status === 409) {
      const message = t('err.conflict', { id: a.id });
      toast(message, 'warn');
      await reloadAlert(a.id);
      return { ok: false, conflict: true, message };
    }
    if (e.status === 422) {
      const message = t('err.invalid', { id: a.id, message: e.message });
      toast(message, 'err');
      await reloadAlert(a.id);
      return { ok: false, message };
    }
    handleError(e);
    return { ok: false, message: describeError(e) };
  } finally {
    S.pending.delete(a.id);
  }
}

/** reloadAlert reads one alert again and applies it; its history is returned. */
async function reloadAlert(id) {
  try {
    const r = await api.get(`/api/alerts/${encodeURIComponent(id)}`);
    if (r && r.alert) applyAlert(r.alert, false, true);
    return r;
  } catch (e) {
    if (e.status === 404) removeAlert(id);
    else handleError(e);
    return null;
  }
}

function removeAlert(id) {
  if (S.wall) S.wall.remove(id);
  if (S.agent) S.agent.list.remove(id);
  if (S.conv && S.conv.data) {
    for (const turn of S.conv.data.turns || []) turn.alerts = (turn.alerts || []).filter((x) => x.id !== id);
  }
  refreshRows();
}

/**
 * applyAlert applies an alert, new (isNew) or changed, to every list.
 * reread marks an alert read again after a conflict.
 */
function applyAlert(a, isNew, reread = false) {
  const wallOp = S.wall ? S.wall.merge(a) : 'ignored';
  let rerender = false;
  if (S.agent && S.agent.id === a.agent_id) S.agent.list.merge(a);
  if (S.conv && S.conv.data && S.conv.id === a.conversation_id) {
    const turns = S.conv.data.turns || [];
    let found = false;
    for (const turn of turns) {
      const list = turn.alerts || [];
      const i = list.findIndex((x) => x.id === a.id);
      if (i >= 0) {
        if ((+list[i].version || 0) <= (+a.version || 0)) turn.alerts = list.slice(0, i).concat([a], list.slice(i + 1));
        found = true;
      }
    }
    if (!found) {
      const turn = turns.find((x) => x.event_id && x.event_id === a.event_id);
      if (turn) {
        rerender = !turn.alerts || turn.alerts.length === 0; // the turn had no table of alerts
        turn.alerts = (turn.alerts || []).concat([a]);
      } else debounced('conv', 800, () => loadConversation(S.conv.id, true));
    }
  }
  if (S.note && S.note.alert.id === a.id && (+a.version || 0) > (+S.note.alert.version || 0) && (reread || !S.pending.has(a.id))) {
    S.note.update(a, !reread);
  }
  if (rerender && S.route.view === 'conversation') renderView();
  else refreshRows();
  if (isNew && wallOp === 'inserted') {
    flash(a.id);
    if (L.levelRank(a.level) >= L.levelRank('high')) {
      announce(t('announce.new', { level: t('level.' + a.level), kind: a.kind, agent: a.agent_id, message: a.message }));
    }
  }
}

// ------------------------------------------------------------ dialogs

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * modal opens a modal dialog with a focus trap; Esc closes it, and the
 * focus goes back where it was. Returns the dialog element.
 */
function modal(labelId, children, { onClose } = {}) {
  const back = document.activeElement;
  const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': labelId, 'aria-modal': 'true' }, children);
  dlg.addEventListener('keydown', (e) => {
    if (e.key !== 'Tab') return;
    const items = [...dlg.querySelectorAll(FOCUSABLE)].filter((el) => el.offsetParent !== null || el === document.activeElement);
    if (items.length === 0) {
      e.preventDefault();
      return;
    }
    const first = items[0];
    const last = items[items.length - 1];
    if (e.shiftKey && (document.activeElement === first || !dlg.contains(document.activeElement))) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  });
  dlg.addEventListener('close', () => {
    dlg.remove();
    if (onClose) onClose();
    const row = document.querySelector(`tr[data-alert-id="${S.selectedId}"]`);
    const to = back && back.isConnected && back !== document.body ? back : row;
    if (to) to.focus({ preventScroll: true });
  });
  document.body.appendChild(dlg);
  dlg.showModal();
  const auto = dlg.querySelector('[autofocus]') || dlg.querySelector(FOCUSABLE);
  if (auto) auto.focus();
  return dlg;
}

function openHelp() {
  if (document.querySelector('dialog[open]')) return;
  const role = S.me ? S.me.role : '';
  const sections = [];
  if (QL.can(role, 'alerts')) {
    sections.push([t('help.wall'), [
      ['j', 'help.next'], ['k', 'help.prev'], ['Enter', 'help.open'], ['a', 'help.take'], ['r', 'help.resolve'],
      ['n', 'help.note'], ['/', 'help.filter'], ['Esc', 'help.back'], ['?', 'help.help'],
    ]]);
  }
  if (QL.can(role, 'queue')) {
    sections.push([t('help.queue'), [
      ['j', 'help.qaNext'], ['k', 'help.qaPrev'], ['Enter', 'help.qaOpen'], ['a', 'help.qaTake'], ['/', 'help.filter'],
    ]]);
  } else if (QL.can(role, 'mine')) {
    sections.push([t('help.mine'), [['j', 'help.qaNext'], ['k', 'help.qaPrev'], ['Enter', 'help.qaOpen'], ['?', 'help.help']]]);
  }
  const review = [['j', 'help.findingNext'], ['k', 'help.findingPrev']];
  if (QL.can(role, 'take')) {
    review.push(['c', 'help.correct'], ['f', 'help.falsePositive'], ['w', 'help.wrongKind'], ['m', 'help.missed'], ['s', 'help.save']);
  }
  if (QL.can(role, 'dispute')) review.push(['d', 'help.dispute']);
  review.push(['Esc', 'help.qaBack']);
  sections.push([t('help.review'), review]);
  let dlg = null;
  dlg = modal('help-title', [
    h('h2', { id: 'help-title' }, t('help.title')),
    sections.map(([title, keys]) => [h('h3', { class: 'keys-title' }, title),
      h('dl', { class: 'keys' }, keys.map(([k, key]) => [h('dt', null, h('kbd', null, k)), h('dd', null, t(key))]))]),
    h('p', { class: 'hint' }, t('help.tab')),
    h('div', { class: 'buttons' }, h('button', { type: 'button', class: 'btn', autofocus: true, on: { click: () => dlg.close() } }, t('common.close'))),
  ]);
}

function openNote(a) {
  if (document.querySelector('dialog[open]')) return;
  const ctx = viewCtx();
  const notice = h('p', { class: 'notice', role: 'alert', hidden: true });
  const summary = h('div', { class: 'summary' });
  const area = h('textarea', { id: 'note-text', rows: '4', maxlength: '2000', required: true, autofocus: true });
  const thenBox = h('fieldset', { class: 'then' });
  const history = h('div', { class: 'history-box' }, h('p', { class: 'none' }, t('app.loading')));
  const save = h('button', { type: 'submit', class: 'btn primary' }, t('note.save'));
  const state = { alert: a };

  const renderSummary = () => {
    const x = state.alert;
    fill(summary, V.levelBadge(x.level, t), ' ', h('span', { class: 'kind' }, x.kind || ''), ' ',
      V.stateBadge(x.state, t), x.assignee ? [' ', h('span', { class: 'tag' }, t('note.assignedTo', { who: x.assignee }))] : null,
      h('p', { class: 'msg' }, x.message || ''),
      x.note ? h('p', { class: 'current' }, h('span', { class: 'label' }, t('note.current')), ' ', h('q', null, x.note)) : null);
    const can = V.actionsOf(x, true);
    const opts = [];
    if (can.take) opts.push(['acknowledged', t('note.thenTake')]);
    if (can.resolve) opts.push(['resolved', t('note.thenResolve')]);
    fill(thenBox, h('legend', null, t('note.then')), opts.map(([v, label], i) => h('label', { class: 'radio' },
      h('input', { type: 'radio', name: 'note-to', value: v, checked: i === 0 }), ' ', label)));
    save.disabled = opts.length === 0;
  };
  renderSummary();

  const form = h('form', { method: 'dialog', class: 'note-form' },
    h('h2', { id: 'note-title' }, t('note.title', { id: a.id })),
    summary, notice,
    h('label', { for: 'note-text' }, t('note.label')), area,
    thenBox,
    h('details', { class: 'history-details' }, h('summary', null, t('note.history')), history),
    h('div', { class: 'buttons' }, save,
      h('button', { type: 'button', class: 'btn', on: { click: () => dlg.close() } }, t('common.cancel'))));

  const showNotice = (text) => {
    notice.textContent = text;
    notice.hidden = !text;
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = area.value.trim();
    const picked = form.querySelector('input[name="note-to"]:checked');
    if (!text) {
      showNotice(t('note.empty'));
      area.focus();
      return;
    }
    if (!picked) return;
    save.disabled = true;
    const r = await transition(state.alert, picked.value, text);
    save.disabled = false;
    if (r.ok) {
      dlg.close();
      return;
    }
    showNotice(r.message || '');
  });

  const dlg = modal('note-title', form, { onClose: () => { S.note = null; } });
  S.note = {
    alert: a,
    update(na, bySomeoneElse) {
      state.alert = na;
      this.alert = na;
      renderSummary();
      if (bySomeoneElse) showNotice(t('note.changed'));
    },
  };
  api.get(`/api/alerts/${encodeURIComponent(a.id)}`).then((r) => {
    if (!dlg.isConnected) return;
    fill(history, V.historyList(r && r.history, ctx));
    if (r && r.alert) applyAlert(r.alert, false, true);
  }, (e) => {
    fill(history, h('p', { class: 'error' }, describeError(e)));
  });
}

// ------------------------------------------------------------ the QA pages

const qa = createQa({
  t, fmtTime, toast, announce, handleError, describeError, modal, navigate, onLink, viewHead, replaceSearch,
  me: () => S.me,
  lang: () => S.lang,
  route: () => S.route,
});

// ------------------------------------------------------------ navigation

/** replaceSearch changes the query of the current view (its filters), making no new view. */
function replaceSearch(search) {
  history.replaceState(history.state, '', location.pathname + search);
  lastLocation = location.pathname + location.search;
}

function onLink(e) {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.currentTarget;
  e.preventDefault();
  navigate(a.getAttribute('href'));
}

function navigate(path, { replace = false } = {}) {
  if (S.route.view === 'wall') S.wallSearch = location.search;
  if (replace) history.replaceState({ inApp: true }, '', path);
  else history.pushState({ inApp: true }, '', path);
  route();
}

/** toWall follows the title's link: the wall as it was left, filters and all. */
function toWall(e) {
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  if (!QL.can(S.me && S.me.role, 'alerts')) navigate(QL.homePath(S.me && S.me.role));
  else if (S.route.view !== 'wall') navigate('/' + S.wallSearch);
}

function goBack() {
  if (S.route.view === 'wall') return;
  if (S.route.view === 'qa' && S.route.page !== 'task') return;
  if (history.state && history.state.inApp) history.back();
  else navigate(S.route.view === 'qa' ? qa.backPath() : '/' + S.wallSearch, { replace: true });
}

function openConversation(a) {
  if (!a) {
    toast(t('err.noSelection'), 'warn');
    return;
  }
  if (S.route.view === 'conversation' && S.conv && S.conv.id === a.conversation_id) return;
  navigate(L.routePath('conversation', a.conversation_id));
}

let lastLocation = '';
function route() {
  const loc = location.pathname + location.search;
  if (loc === lastLocation && S.route.rendered) return;
  lastLocation = loc;
  const from = S.route.rendered ? S.route.view + ':' + (S.route.page || '') + ':' + (S.route.id || '') : '';
  let qr = QL.parseQaRoute(location.pathname);
  if (!qr && !QL.can(S.me.role, 'alerts')) {
    // An agent sees no alert wall: its reviews instead.
    history.replaceState({ inApp: true }, '', QL.homePath(S.me.role));
    lastLocation = location.pathname + location.search;
    qr = QL.parseQaRoute(location.pathname);
  }
  S.route = qr || L.parseRoute(location.pathname);
  if (S.route.view === 'qa') {
    qa.route(S.route, location.search);
  } else if (S.route.view === 'wall') {
    const f = L.filtersFromSearch(location.search);
    if (!S.wall) {
      S.wall = new AlertList(f, onWallChange);
      S.wall.load();
    } else if (JSON.stringify(f) !== JSON.stringify(S.wall.filters)) {
      S.wall.filters = f;
      S.wall.load();
    }
    if (Date.now() - S.countersAt > COUNTERS_EVERY) loadCounters();
  } else if (S.route.view === 'agent') {
    if (!S.agent || S.agent.id !== S.route.id) {
      const id = S.route.id;
      S.agent = { id, stats: null, error: null, list: new AlertList({ agent: id }, () => { if (S.route.view === 'agent') renderAgentList(); }) };
      S.agent.list.load();
      loadAgentStats(id);
    }
  } else if (S.route.view === 'conversation') {
    if (!S.conv || S.conv.id !== S.route.id) loadConversation(S.route.id);
    else loadConversation(S.route.id, true);
  }
  renderView();
  S.route.rendered = true;
  renderNav();
  // A new view takes the focus: its selected alert, else its content.
  if (from && from !== S.route.view + ':' + (S.route.page || '') + ':' + (S.route.id || '')) {
    const row = document.querySelector(`#main tr[data-alert-id="${S.selectedId}"]`);
    const to = row || document.getElementById('main');
    if (to) to.focus({ preventScroll: !!row });
    if (row) row.scrollIntoView({ block: 'center' });
  }
}

// ------------------------------------------------------------ loading

async function loadCounters() {
  S.countersAt = Date.now();
  try {
    S.counters = await api.get('/api/counters?window=' + encodeURIComponent(S.countersWindow));
    S.countersError = null;
  } catch (e) {
    S.countersError = e;
    if (e.status === 401) handleError(e);
  }
  renderCounters();
}

async function loadAgentStats(id) {
  try {
    const r = await api.get(`/api/agents/${encodeURIComponent(id)}/stats?since=24h&bucket=1h`);
    if (!S.agent || S.agent.id !== id) return;
    S.agent.stats = r;
    S.agent.error = null;
  } catch (e) {
    if (!S.agent || S.agent.id !== id) return;
    S.agent.error = e;
    if (e.status === 401) handleError(e);
  }
  if (S.route.view === 'agent') renderAgentStats();
}

async function loadConversation(id, quiet = false) {
  if (!quiet || !S.conv || S.conv.id !== id) S.conv = { id, data: null, error: null, loading: true };
  if (S.route.view === 'conversation' && !quiet) renderView();
  try {
    const data = await api.get(`/api/conversations/${encodeURIComponent(id)}`);
    if (!S.conv || S.conv.id !== id) return;
    S.conv = { id, data, error: null, loading: false };
  } catch (e) {
    if (!S.conv || S.conv.id !== id) return;
    if (e.status === 401) {
      handleError(e);
      return;
    }
    S.conv = { id, data: quiet && S.conv.data ? S.conv.data : null, error: e, loading: false };
  }
  if (S.route.view === 'conversation') renderView();
}

// ------------------------------------------------------------ stream

function startStream() {
  if (S.stream) S.stream.stop();
  S.stream = new api.Stream('/api/stream', {
    alert: (a) => {
      applyAlert(a, true);
      debounced('counters', 1500, () => { if (S.route.view === 'wall') loadCounters(); });
      if (S.agent && S.agent.id === a.agent_id) debounced('agentStats', 1500, () => loadAgentStats(a.agent_id));
    },
    update: (a) => applyAlert(a, false),
    open: (again) => {
      if (!again) return;
      if (S.wall) S.wall.load({ keep: true });
      if (S.agent) {
        S.agent.list.load({ keep: true });
        loadAgentStats(S.agent.id);
      }
      if (S.conv && S.route.view === 'conversation') loadConversation(S.conv.id, true);
      loadCounters();
    },
    status: (s) => {
      S.streamStatus = s;
      renderStreamStatus();
    },
    error: () => {
      api.get('/api/me').catch((e) => { if (e.status === 401) signedOut(true); });
    },
  });
  S.stream.start();
}

// ------------------------------------------------------------ rendering

function app() {
  return document.getElementById('app');
}

function renderStreamStatus() {
  const el = document.getElementById('stream-status');
  if (!el) return;
  el.className = 'stream ' + S.streamStatus;
  el.textContent = t('stream.' + S.streamStatus);
}

function renderApp() {
  const me = S.me;
  const header = h('header', { class: 'top' },
    h('a', { class: 'skip', href: '#main' }, t('nav.skip')),
    h('h1', null, h('a', { href: QL.homePath(me.role), on: { click: toWall } }, t('app.title'))),
    topNav(me),
    QL.can(me.role, 'alerts') ? h('span', { id: 'stream-status', class: 'stream' }) : null,
    h('span', { class: 'spacer' }),
    h('span', { class: 'me', title: me.tenant ? t('me.tenant', { tenant: me.tenant }) : '' },
      h('span', { class: 'subject' }, me.subject || ''), ' ',
      h('span', { class: 'tag' }, ['supervisor', 'auditor', 'admin', 'agent'].includes(me.role) ? t('role.' + me.role) : String(me.role || '')),
      me.dev ? [' ', h('span', { class: 'tag dev' }, t('me.dev'))] : null),
    langToggle(),
    h('button', { type: 'button', class: 'btn ghost', 'aria-label': t('nav.helpLabel'), title: t('nav.helpLabel'), on: { click: openHelp } }, '?'),
    me.dev ? null : h('button', { type: 'button', class: 'btn ghost', on: { click: signOut } }, t('nav.signout')));
  const main = h('main', { id: 'main', tabindex: '-1' });
  fill(app(), header, main);
  app().removeAttribute('aria-busy');
  renderStreamStatus();
  S.route.rendered = false;
  lastLocation = '';
  route();
}

/** topNav links the role's parts of the console: the alert wall, the reviews (or an agent's own). */
function topNav(me) {
  const items = [];
  if (QL.can(me.role, 'alerts')) items.push(['wall', '/', t('nav.alerts')]);
  if (QL.can(me.role, 'queue')) items.push(['qa', '/qa', t('nav.reviews')]);
  if (QL.can(me.role, 'mine')) items.push(['mine', '/qa/mine', t('nav.mine')]);
  if (items.length < 2 && !QL.can(me.role, 'mine')) return null;
  return h('nav', { class: 'top-nav', 'aria-label': t('nav.label') }, h('ul', null, items.map(([k, path, label]) => h('li', null,
    h('a', { href: path, 'data-nav': k, on: { click: onLink } }, label)))));
}

/** renderNav marks the current part of the console in the top navigation. */
function renderNav() {
  const cur = S.route.view === 'qa' ? (S.route.page === 'mine' ? 'mine' : 'qa') : S.route.view === 'wall' ? 'wall' : '';
  for (const a of document.querySelectorAll('.top-nav a[data-nav]')) {
    if (a.getAttribute('data-nav') === cur) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function viewHead(title, extra) {
  return h('div', { class: 'view-head' },
    h('button', { type: 'button', class: 'btn', on: { click: goBack }, title: t('conv.backTitle') }, '← ', t('conv.back')),
    h('h2', null, title), extra || null);
}

function renderView() {
  const main = document.getElementById('main');
  if (!main) return;
  S.rowSets = [];
  if (S.route.view === 'qa') qa.render(main);
  else if (S.route.view === 'conversation') renderConversation(main);
  else if (S.route.view === 'agent') renderAgent(main);
  else renderWall(main);
}

// ---- wall

let filterForm = null;

function onWallChange() {
  if (S.route.view !== 'wall') return;
  refreshRows();
  renderWallMeta();
}

function setFilters(f) {
  const search = L.filtersToSearch(f, location.search);
  history.replaceState(history.state, '', '/' + search);
  lastLocation = location.pathname + location.search;
  S.wallSearch = search;
  S.wall.filters = L.normalizeFilters(f);
  S.wall.load();
}

function readFilterForm() {
  const v = (name) => filterForm.querySelector(`[name="${name}"]`).value;
  const state = [...filterForm.querySelectorAll('input[name="state"]:checked')].map((x) => x.value);
  return { team: v('team'), agent: v('agent'), kind: v('kind'), state, min_level: v('min_level') };
}

function renderWall(main) {
  const f = S.wall.filters;
  const field = (name, label, list) => h('label', { class: 'field' }, h('span', null, label),
    h('input', { name, type: 'search', value: f[name], list: list || null, autocomplete: 'off', spellcheck: 'false', size: '12' }));
  const teams = (S.me && S.me.teams) || [];
  const levelSelect = h('select', { name: 'min_level' }, h('option', { value: '' }, t('filter.any')),
    L.LEVELS.slice().reverse().map((l) => h('option', { value: l }, t('level.' + l))));
  levelSelect.value = f.min_level;
  const kinds = new Set(Object.keys((S.counters && S.counters.alerts) || {}));
  for (const a of S.wall.alerts) if (a.kind) kinds.add(a.kind);
  filterForm = h('form', { class: 'filters', role: 'search', 'aria-label': t('filter.label') },
    field('team', t('filter.team'), 'dl-teams'),
    h('datalist', { id: 'dl-teams' }, teams.map((x) => h('option', { value: x }))),
    field('agent', t('filter.agent')),
    field('kind', t('filter.kind'), 'dl-kinds'),
    h('datalist', { id: 'dl-kinds' }, [...kinds].sort().map((x) => h('option', { value: x }))),
    h('fieldset', { class: 'field states' }, h('legend', null, t('filter.state')),
      L.STATES.map((s) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'state', value: s, checked: f.state.includes(s) }), ' ', t('state.' + s)))),
    h('label', { class: 'field' }, h('span', null, t('filter.min_level')), levelSelect),
    h('button', { type: 'button', class: 'btn ghost', on: { click: () => { setFilters({}); renderView(); } } }, t('filter.clear')));
  filterForm.addEventListener('submit', (e) => {
    e.preventDefault();
    setFilters(readFilterForm());
  });
  filterForm.addEventListener('input', (e) => {
    if (e.target.type === 'search') debounced('filter', 400, () => setFilters(readFilterForm()));
  });
  filterForm.addEventListener('change', (e) => {
    if (e.target.type !== 'search') setFilters(readFilterForm());
  });

  const { table } = rowSet('wall', V.WALL_COLS, () => S.wall.alerts, () => (S.wall.loaded ? t('list.empty') : t('app.loading')), t('wall.title'));
  const list = h('section', { class: 'list', 'data-list': 'wall', 'aria-labelledby': 'wall-title' },
    h('div', { class: 'list-head' }, h('h2', { id: 'wall-title' }, t('wall.title')), h('span', { id: 'wall-meta', class: 'meta' })),
    h('div', { class: 'table-wrap' }, table),
    h('div', { class: 'more' }, h('button', { type: 'button', id: 'wall-more', class: 'btn', hidden: true, on: { click: () => S.wall.more() } }, t('list.more'))));
  const counters = h('aside', { class: 'counters', 'aria-labelledby': 'counters-title' },
    h('div', { class: 'list-head' }, h('h2', { id: 'counters-title' }, t('counters.title')),
      h('div', { class: 'seg', role: 'group', 'aria-label': t('counters.windowLabel') },
        ['1h', '24h'].map((w) => h('button', {
          type: 'button', class: 'btn small', 'data-window': w, 'aria-pressed': S.countersWindow === w ? 'true' : 'false',
          on: { click: () => { S.countersWindow = w; renderCountersWindow(); loadCounters(); } },
        }, w === '1h' ? t('counters.window1h') : t('counters.window24h'))))),
    h('div', { id: 'counters-body', 'aria-live': 'off' }));
  fill(main, h('div', { class: 'wall' }, filterForm, h('div', { class: 'wall-body' }, list, counters)));
  refreshRows();
  renderWallMeta();
  renderCounters();
}

function renderWallMeta() {
  const meta = document.getElementById('wall-meta');
  if (!meta) return;
  const w = S.wall;
  const parts = [t('list.count', { n: w.alerts.length }) + (w.next ? '+' : '')];
  if (w.loading) parts.push(t('app.loading'));
  fill(meta, parts.join(' · '), w.error ? h('span', { class: 'error', role: 'alert' }, ' ', t('list.error', { message: describeError(w.error) })) : null);
  document.querySelector('.list[data-list="wall"] table').setAttribute('aria-busy', w.loading ? 'true' : 'false');
  const more = document.getElementById('wall-more');
  more.hidden = !w.next;
  more.disabled = w.loading;
}

function renderCountersWindow() {
  for (const b of document.querySelectorAll('.counters .seg button')) {
    b.setAttribute('aria-pressed', b.getAttribute('data-window') === S.countersWindow ? 'true' : 'false');
  }
}

function renderCounters() {
  const body = document.getElementById('counters-body');
  if (!body) return;
  const ctx = viewCtx();
  fill(body,
    S.countersError ? h('p', { class: 'error' }, describeError(S.countersError)) : null,
    S.counters ? V.countersBody(S.counters, ctx, (kind) => { setFilters({ ...S.wall.filters, kind }); renderView(); }) : h('p', { class: 'none' }, t('app.loading')),
    S.countersAt ? h('p', { class: 'hint' }, t('counters.updated', { time: fmtTime(new Date(S.countersAt).toISOString()) })) : null);
}

// ---- agent

function renderAgent(main) {
  const id = S.agent.id;
  const { table } = rowSet('agent', V.AGENT_COLS, () => S.agent.list.alerts, () => (S.agent.list.loaded ? t('agent.noOpen') : t('app.loading')), t('agent.open'));
  fill(main, h('div', { class: 'agent' },
    viewHead(t('agent.title', { id })),
    h('section', { id: 'agent-stats', class: 'stats', 'aria-label': t('agent.statsLabel') }),
    h('section', { class: 'list', 'data-list': 'agent', 'aria-labelledby': 'agent-open' },
      h('div', { class: 'list-head' }, h('h3', { id: 'agent-open' }, t('agent.open')), h('span', { id: 'agent-meta', class: 'meta' })),
      h('div', { class: 'table-wrap' }, table),
      h('div', { class: 'more' }, h('button', { type: 'button', id: 'agent-more', class: 'btn', hidden: true, on: { click: () => S.agent.list.more() } }, t('list.more'))))));
  renderAgentStats();
  renderAgentList();
}

function renderAgentList() {
  refreshRows();
  const meta = document.getElementById('agent-meta');
  if (!meta) return;
  const l = S.agent.list;
  fill(meta, t('list.count', { n: l.alerts.length }) + (l.next ? '+' : ''), l.loading ? ' · ' + t('app.loading') : '',
    l.error ? h('span', { class: 'error', role: 'alert' }, ' ', describeError(l.error)) : null);
  const more = document.getElementById('agent-more');
  more.hidden = !l.next;
  more.disabled = l.loading;
}

function renderAgentStats() {
  const box = document.getElementById('agent-stats');
  if (!box) return;
  const a = S.agent;
  if (a.error) {
    fill(box, h('p', { class: 'error' }, describeError(a.error)));
    return;
  }
  if (!a.stats) {
    fill(box, h('p', { class: 'none' }, t('app.loading')));
    return;
  }
  const buckets = Array.isArray(a.stats.buckets) ? a.stats.buckets : [];
  const series = (key, label, cls) => {
    const values = buckets.map((b) => +b[key] || 0);
    const total = values.reduce((x, y) => x + y, 0);
    const peak = values.length ? Math.max(...values) : 0;
    const aria = t('agent.sparkLabel', { label, total, peak });
    return h('figure', { class: 'series' },
      h('figcaption', null, h('span', { class: 'label' }, label), ' ',
        h('strong', { class: 'num' }, String(total)), ' ', h('span', { class: 'hint' }, t('agent.peak', { n: peak }))),
      V.sparkline(values, aria, cls));
  };
  const range = buckets.length
    ? h('p', { class: 'hint' }, fmtTime(buckets[0].start), ' – ', t('agent.now'))
    : h('p', { class: 'none' }, t('agent.noData'));
  fill(box, series('findings', t('agent.findings'), 'findings'), series('alerts', t('agent.alerts'), 'alerts'), range,
    buckets.length ? h('details', { class: 'hourly' }, h('summary', null, t('agent.table')),
      h('table', { class: 'counts' },
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('agent.hour')), h('th', { scope: 'col' }, t('agent.findings')), h('th', { scope: 'col' }, t('agent.alerts')))),
        h('tbody', null, buckets.map((b) => h('tr', null, h('th', { scope: 'row' }, fmtTime(b.start)),
          h('td', { class: 'num' }, String(+b.findings || 0)), h('td', { class: 'num' }, String(+b.alerts || 0))))))) : null);
}

// ---- conversation

function renderConversation(main) {
  const c = S.conv;
  const head = viewHead(t('conv.title', { id: c.id }), c.data ? h('div', { class: 'conv-meta' },
    c.data.agent_id ? [h('span', { class: 'label' }, t('col.agent')), ' ', V.link(L.routePath('agent', c.data.agent_id), c.data.agent_id, viewCtx()), ' '] : null,
    h('span', { class: 'label' }, t('conv.risk')), ' ', h('strong', { class: 'num' + (+c.data.risk >= 0.7 ? ' risk-hi' : '') }, L.formatRisk(c.data.risk))) : null);
  if (!c.data) {
    fill(main, h('div', { class: 'conv' }, head,
      c.error ? h('p', { class: 'error', role: 'alert' }, describeError(c.error, c.id)) : h('p', { class: 'none' }, t('app.loading'))));
    return;
  }
  const turns = Array.isArray(c.data.turns) ? c.data.turns : [];
  const ctx = viewCtx();
  const items = turns.map((turn, i) => {
    let table = null;
    if (Array.isArray(turn.alerts) && turn.alerts.length) {
      const r = rowSet('turn' + i, V.TURN_COLS, () => turn.alerts || [], () => '', t('conv.alerts'));
      table = h('div', { class: 'raised', 'data-list': 'turn' + i }, h('h4', null, t('conv.alerts')), h('div', { class: 'table-wrap' }, r.table));
    }
    return V.turnView(turn, ctx, table);
  });
  fill(main, h('div', { class: 'conv' }, head,
    c.error ? h('p', { class: 'error' }, describeError(c.error, c.id)) : null,
    items.length ? h('ol', { class: 'turns', 'aria-label': t('conv.turns') }, items) : h('p', { class: 'none' }, t('conv.empty'))));
  refreshRows();
  const sel = main.querySelector(`tr[data-alert-id="${S.selectedId}"]`);
  if (sel) sel.scrollIntoView({ block: 'center' });
}

// ------------------------------------------------------------ keyboard

function onKey(e) {
  if (!S.me) return;
  const tgt = e.target instanceof Element ? e.target : document.body;
  const cmd = L.keyCommand({
    key: e.key,
    ctrlKey: e.ctrlKey,
    metaKey: e.metaKey,
    altKey: e.altKey,
    dialog: !!document.querySelector('dialog[open]'),
    editable: !!tgt.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]'),
    control: !!tgt.closest('button, a[href], summary'),
    row: tgt.matches('tr[data-alert-id]'),
  });
  if (S.route.view === 'qa') {
    const k = {
      key: e.key, ctrlKey: e.ctrlKey, metaKey: e.metaKey, altKey: e.altKey,
      dialog: !!document.querySelector('dialog[open]'),
      editable: !!tgt.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]'),
      control: !!tgt.closest('button, a[href], summary'),
      row: tgt.matches('tr[data-task-id], tr[data-dispute-id]'),
    };
    const qcmd = QL.qaKeyCommand(k, S.route.page);
    if (!qcmd) return;
    e.preventDefault();
    if (qcmd === 'help') openHelp();
    else if (qcmd === 'back') goBack();
    else if (qcmd === 'blur') {
      tgt.blur();
      document.getElementById('main')?.focus({ preventScroll: true });
    } else qa.command(qcmd);
    return;
  }
  if (!cmd) return;
  e.preventDefault();
  const ids = allAlertsOfView().map((a) => a.id);
  const selected = () => allAlertsOfView().find((a) => a.id === S.selectedId) || null;
  switch (cmd) {
    case 'next':
    case 'prev': {
      const i = L.moveSelection(ids, S.selectedId, cmd === 'next' ? 1 : -1);
      if (i >= 0) select(ids[i], { focus: true });
      break;
    }
    case 'open': openConversation(selected()); break;
    case 'take': act('take', selected()); break;
    case 'resolve': act('resolve', selected()); break;
    case 'note': act('note', selected()); break;
    case 'filter':
      if (S.route.view !== 'wall') navigate('/' + S.wallSearch);
      document.querySelector('.filters input')?.focus();
      break;
    case 'back': goBack(); break;
    case 'blur': {
      tgt.blur();
      const row = document.querySelector(`tr[data-alert-id="${S.selectedId}"]`);
      (row || document.getElementById('main'))?.focus({ preventScroll: true });
      break;
    }
    case 'help': openHelp(); break;
    default: break;
  }
}

// ------------------------------------------------------------ session

function renderSignIn(message = '') {
  const input = h('input', { id: 'credential', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, autofocus: true, 'aria-describedby': 'signin-hint' });
  const error = h('p', { class: 'error', role: 'alert' }, message);
  const submit = h('button', { type: 'submit', class: 'btn primary' }, t('signin.submit'));
  const form = h('form', { class: 'signin-card', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, t('app.title')),
    h('h2', null, t('signin.title')),
    h('label', { for: 'credential' }, t('signin.label')), input,
    h('p', { id: 'signin-hint', class: 'hint' }, t('signin.hint')),
    error,
    h('div', { class: 'buttons' }, submit, langToggle()));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = input.value.trim();
    if (!v) {
      error.textContent = t('signin.empty');
      input.focus();
      return;
    }
    submit.disabled = true;
    error.textContent = '';
    submit.textContent = t('signin.busy');
    try {
      await api.signIn(v);
      input.value = '';
      S.me = await api.get('/api/me');
      startApp();
    } catch (err) {
      error.textContent = err.status === 401 || err.status === 403 ? t('signin.invalid') : t('signin.failed', { message: describeError(err) });
      submit.disabled = false;
      submit.textContent = t('signin.submit');
      input.select();
    }
  });
  fill(app(), h('main', { id: 'main', class: 'signin' }, form));
  app().removeAttribute('aria-busy');
  input.focus();
}

function stopAll() {
  if (S.stream) S.stream.stop();
  S.stream = null;
  for (const id of S.timers) clearInterval(id);
  S.timers = [];
  for (const k of Object.keys(S.debounce)) clearTimeout(S.debounce[k]);
  for (const d of document.querySelectorAll('dialog')) d.remove();
  S.note = null;
}

function signedOut(expired) {
  if (!S.me) return;
  stopAll();
  S.me = null;
  S.wall = null;
  S.agent = null;
  S.conv = null;
  S.counters = null;
  S.selectedId = null;
  S.rowSets = [];
  qa.reset();
  renderSignIn(expired ? t('signin.expired') : '');
}

async function signOut() {
  try {
    await api.del('/api/session');
  } catch (e) {
    if (e.status !== 401) {
      handleError(e);
      return;
    }
  }
  signedOut(false);
}

function startApp() {
  stopAll();
  S.gen++;
  renderApp();
  if (QL.can(S.me.role, 'alerts')) startStream();
  S.timers.push(setInterval(() => {
    if (S.route.view === 'wall' && !document.hidden) loadCounters();
  }, COUNTERS_EVERY));
  S.timers.push(setInterval(() => {
    const now = Date.now();
    for (const td of document.querySelectorAll('td[data-ts]')) td.textContent = L.formatAge(td.getAttribute('data-ts'), now, t);
  }, AGES_EVERY));
}

function fatal(message) {
  const box = document.getElementById('app');
  box.removeAttribute('aria-busy');
  fill(box, h('main', { class: 'fatal' }, h('p', { role: 'alert' }, message),
    h('button', { type: 'button', class: 'btn', on: { click: () => location.reload() } }, S.dicts ? t('common.retry') : 'Retry')));
}

async function boot() {
  try {
    const res = await fetch(new URL('./i18n.json', import.meta.url), { credentials: 'same-origin' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    S.dicts = await res.json();
  } catch (e) {
    fatal('The console could not load its texts (' + e.message + '). 控制台无法加载界面文字。');
    return;
  }
  const param = new URLSearchParams(location.search).get('lang') || '';
  if (L.normalizeLang(param)) storage.set(LANG_KEY, L.normalizeLang(param));
  S.lang = L.pickLang({ param, stored: storage.get(LANG_KEY), languages: navigator.languages || [navigator.language] });
  applyLang();
  document.addEventListener('keydown', onKey);
  window.addEventListener('popstate', () => { if (S.me) route(); });
  window.addEventListener('beforeunload', (e) => {
    if (!qa.unsaved()) return;
    e.preventDefault();
    e.returnValue = '';
  });
  try {
    S.me = await api.get('/api/me');
  } catch (e) {
    if (e.status === 401) renderSignIn();
    else fatal(t('err.start', { message: describeError(e) }));
    return;
  }
  startApp();
}

boot();
