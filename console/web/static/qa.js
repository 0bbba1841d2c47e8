// The quality audits' pages (docs/qa.md): the review queue, the review of
// a conversation on the scorecard, disputes, quota, precision (and the
// export of test cases) and calibration, and an agent's own reviews.
// app.js owns the page, the header, the routing and the dialogs; it hands
// this module a host:
//   t, fmtTime, toast, announce, handleError, describeError
//   modal(labelId, children, {onClose})   a modal dialog (focus trapped)
//   navigate(path, {replace}), onLink(e)  client-side routing
//   replaceSearch(search)                 change the query, no new view
//   viewHead(title, extra)                a view's head with its back button
//   me(), lang(), route()                 the principal, the language, the route
// qalib.js holds the logic, qaviews.js the rendering.

import * as api from './api.js';
import { h, fill } from './dom.js';
import * as Q from './qalib.js';
import * as QV from './qaviews.js';

const str = (v) => (v === undefined || v === null ? '' : String(v));
const enc = encodeURIComponent;

/** createQa returns the QA pages' controller: route, render, command, back, reset. */
export function createQa(host) {
  const { t } = host;
  const S = {
    route: null,
    queue: null,
    task: null,
    drafts: new Map(), // unsaved drafts by task id, kept across views
    disputes: null,
    quota: null,
    precision: null,
    calibration: null,
    mine: null,
    selection: null, // the last text selected in a turn: {event_id, start, end}
  };
  const role = () => (host.me() ? host.me().role : '');
  const me = () => host.me() || {};
  const main = () => document.getElementById('main');

  const baseCtx = () => ({
    t, lang: host.lang(), now: Date.now(), fmtTime: host.fmtTime, onLink: host.onLink, alerts: Q.can(role(), 'alerts'),
  });

  function failed(e, what) {
    if (e && e.status === 401) host.handleError(e);
    return e;
  }

  // ------------------------------------------------------------ routing

  /** route loads what the page at r needs; search is location.search. */
  function route(r, search) {
    S.route = r;
    const p = new URLSearchParams(search);
    switch (r.page) {
      case 'queue': {
        const f = Q.taskFiltersFromSearch(search, role());
        if (!S.queue || JSON.stringify(f) !== JSON.stringify(S.queue.filters)) {
          S.queue = { filters: f, tasks: [], next: '', loading: false, loaded: false, error: null, seq: 0, selected: S.queue ? S.queue.selected : null };
          if (Q.can(role(), 'queue')) loadQueue();
        } else if (Q.can(role(), 'queue')) loadQueue();
        break;
      }
      case 'task':
        if (!S.task || S.task.id !== r.id) loadTask(r.id);
        else if (!S.task.dirty) loadTask(r.id, true);
        break;
      case 'disputes': {
        const st = p.has('state') ? p.get('state') : 'open';
        const state = Q.DISPUTE_STATES.includes(st) ? st : '';
        if (!S.disputes || S.disputes.state !== state) S.disputes = { state, list: [], next: '', loading: false, loaded: false, error: null, seq: 0, selected: null };
        loadDisputes();
        break;
      }
      case 'quota': {
        const day = Q.isDay(p.get('day')) ? p.get('day') : Q.localDay(Date.now());
        S.quota = { day, rows: S.quota && S.quota.day === day ? S.quota.rows : null, error: null, loading: false };
        if (Q.can(role(), 'quota')) loadQuota();
        break;
      }
      case 'precision': {
        const since = Q.SINCE.includes(p.get('since')) ? p.get('since') : '30d';
        const keep = S.precision && S.precision.since === since;
        S.precision = {
          since, rows: keep ? S.precision.rows : null, error: null, loading: false,
          sort: S.precision ? S.precision.sort : { key: 'precision', dir: 'asc' },
          verdict: S.precision ? S.precision.verdict : 'false_positive',
        };
        if (Q.can(role(), 'precision')) loadPrecision();
        break;
      }
      case 'calibration': {
        const since = Q.SINCE.includes(p.get('since')) ? p.get('since') : '30d';
        S.calibration = { since, data: S.calibration && S.calibration.since === since ? S.calibration.data : null, error: null };
        if (Q.can(role(), 'calibration')) loadCalibration();
        break;
      }
      case 'mine':
        S.mine = { tasks: S.mine ? S.mine.tasks : [], tasksError: null, disputes: S.mine ? S.mine.disputes : [], disputesError: null, loaded: false, selected: null };
        loadMine();
        break;
      default:
        break;
    }
  }

  function rerender() {
    const m = main();
    if (m && S.route && host.route().view === 'qa') render(m);
  }

  /** backPath is where Esc leaves a review for: the queue (as filtered), or an agent's reviews. */
  function backPath() {
    if (!Q.can(role(), 'queue')) return Q.qaPath('mine');
    return '/qa' + (S.queue ? Q.taskFiltersToSearch(S.queue.filters, role(), '') : '');
  }

  function reset() {
    S.queue = null;
    S.task = null;
    S.drafts.clear();
    S.disputes = null;
    S.quota = null;
    S.precision = null;
    S.calibration = null;
    S.mine = null;
    S.selection = null;
  }

  // ------------------------------------------------------------ rendering

  function render(m) {
    const r = S.route;
    const need = { queue: 'queue', task: null, disputes: 'disputes', quota: 'quota', precision: 'precision', calibration: 'calibration', mine: 'mine' }[r.page];
    if (need && !Q.can(role(), need)) {
      fill(m, frame(r.page, t('page.' + r.page), null, h('p', { class: 'notice', role: 'alert' }, t('qa.notForRole'))));
      return;
    }
    switch (r.page) {
      case 'queue': renderQueue(m); break;
      case 'task': renderTask(m); break;
      case 'disputes': renderDisputes(m); break;
      case 'quota': renderQuota(m); break;
      case 'precision': renderPrecision(m); break;
      case 'calibration': renderCalibration(m); break;
      case 'mine': renderMine(m); break;
      default: break;
    }
  }

  function frame(page, title, extra, ...body) {
    return h('div', { class: 'qa qa-' + page },
      QV.qaNav(Q.qaPages(role()), page, baseCtx()),
      h('div', { class: 'view-head' }, h('h2', { id: 'qa-title' }, title), extra || null),
      body);
  }

  const sinceSelect = (id, value, onChange) => h('label', { class: 'field' }, h('span', null, t('qa.since')),
    (() => {
      const s = h('select', { id, on: { change: (e) => onChange(e.target.value) } },
        Q.SINCE.map((x) => h('option', { value: x }, t('since.' + x))));
      s.value = value;
      return s;
    })());

  function statusLine(x, count) {
    return h('span', { class: 'meta', id: 'qa-meta' },
      count !== undefined ? t('qa.count', { n: count }) : null,
      x.loading ? [' · ', t('app.loading')] : null,
      x.error ? h('span', { class: 'error', role: 'alert' }, ' ', host.describeError(x.error)) : null);
  }

  // ---- the queue

  async function loadQueue(more = false) {
    const q = S.queue;
    if (!q || (more && (!q.next || q.loading))) return;
    const seq = more ? q.seq : ++q.seq;
    q.loading = true;
    q.error = null;
    refreshList();
    try {
      const r = await api.get('/api/qa/tasks?' + Q.tasksQuery(q.filters, more ? q.next : ''));
      if (S.queue !== q || seq !== q.seq) return;
      q.tasks = Q.mergeTasks(more ? q.tasks : [], Q.listOf(r, 'tasks'));
      q.next = str(r && r.next);
      q.loaded = true;
    } catch (e) {
      if (S.queue !== q || seq !== q.seq) return;
      q.error = failed(e);
    }
    q.loading = false;
    refreshList();
  }

  function queueCtx() {
    return {
      ...baseCtx(), selectedTask: S.queue.selected, canTake: (task) => Q.canTake(task, me()), onTake: take,
    };
  }

  function setQueueFilters(f) {
    const filters = Q.normalizeTaskFilters(f, role());
    host.replaceSearch(Q.taskFiltersToSearch(filters, role(), location.search));
    S.queue = { ...S.queue, filters, tasks: [], next: '', loaded: false };
    loadQueue();
  }

  function renderQueue(m) {
    const q = S.queue;
    const f = q.filters;
    const stateSel = h('select', { name: 'state' }, Q.TASK_STATE_FILTERS.map((s) => h('option', { value: s },
      s === 'active' ? t('task.stateActive') : s === '' ? t('task.stateAny') : t('tstate.' + s))));
    stateSel.value = f.state;
    const assigneeSel = h('select', { name: 'assignee' }, h('option', { value: 'me' }, t('task.assigneeMe')), h('option', { value: 'all' }, t('task.assigneeAll')));
    assigneeSel.value = f.assignee;
    const teams = me().teams || [];
    const field = (name, label, list) => h('label', { class: 'field' }, h('span', null, label),
      h('input', { name, type: 'search', value: f[name], list: list || null, autocomplete: 'off', spellcheck: 'false', size: '12' }));
    const form = h('form', { class: 'filters qa-filters', role: 'search', 'aria-label': t('task.filters') },
      h('label', { class: 'field' }, h('span', null, t('task.state')), stateSel),
      h('label', { class: 'field' }, h('span', null, t('task.assignee')), assigneeSel),
      field('agent', t('filter.agent')),
      field('team', t('filter.team'), 'qa-dl-teams'),
      h('datalist', { id: 'qa-dl-teams' }, teams.map((x) => h('option', { value: x }))));
    const read = () => ({
      state: stateSel.value, assignee: assigneeSel.value,
      agent: form.querySelector('[name="agent"]').value, team: form.querySelector('[name="team"]').value,
    });
    form.addEventListener('submit', (e) => { e.preventDefault(); setQueueFilters(read()); });
    form.addEventListener('change', (e) => { if (e.target.type !== 'search') setQueueFilters(read()); });
    let timer = 0;
    form.addEventListener('input', (e) => {
      if (e.target.type !== 'search') return;
      clearTimeout(timer);
      timer = setTimeout(() => setQueueFilters(read()), 400);
    });
    fill(m, frame('queue', t('page.queue'), null, form,
      h('section', { class: 'list', 'data-list': 'qa-queue', 'aria-labelledby': 'qa-title' },
        h('div', { class: 'list-head' }, h('span', { id: 'qa-list-meta', class: 'meta' })),
        h('div', { class: 'table-wrap', id: 'qa-list' }),
        h('div', { class: 'more' }, h('button', { type: 'button', id: 'qa-more', class: 'btn', hidden: true, on: { click: () => loadQueue(true) } }, t('list.more'))))));
    refreshList();
  }

  /** refreshList rebuilds the current list page's table, the focus kept. */
  function refreshList() {
    const box = document.getElementById('qa-list');
    if (!box || !S.route) return;
    const page = S.route.page;
    const focus = document.activeElement;
    const row = focus && focus.closest ? focus.closest('tr[data-task-id], tr[data-dispute-id]') : null;
    const keep = row ? { id: row.getAttribute('data-task-id') ?? row.getAttribute('data-dispute-id'), k: focus.getAttribute('data-k') } : null;
    let x = null;
    const l = listRows();
    if (l && l.x && !l.ids.includes(str(l.x.selected))) l.x.selected = l.ids.length ? l.ids[0] : null;
    if (page === 'queue' && S.queue) {
      x = S.queue;
      fill(box, QV.taskTable(x.tasks, queueCtx(), QV.TASK_COLS, t('page.queue'), x.loaded ? t('task.empty') : t('app.loading')));
    } else if (page === 'disputes' && S.disputes) {
      x = S.disputes;
      fill(box, QV.disputeTable(x.list, disputesCtx(x.selected), QV.DISPUTE_COLS, t('page.disputes'), x.loaded ? t('disp.empty') : t('app.loading')));
    } else return;
    const meta = document.getElementById('qa-list-meta');
    if (meta) fill(meta, statusLine(x, page === 'queue' ? x.tasks.length : x.list.length));
    const more = document.getElementById('qa-more');
    if (more) {
      more.hidden = !x.next;
      more.disabled = x.loading;
    }
    if (keep && (!focus.isConnected)) {
      const attr = page === 'queue' ? 'data-task-id' : 'data-dispute-id';
      const r = [...box.querySelectorAll(`tr[${attr}]`)].find((el) => el.getAttribute(attr) === keep.id);
      const target = r && keep.k ? r.querySelector(`[data-k="${keep.k}"]`) : null;
      if (r) (target && !target.disabled ? target : r).focus({ preventScroll: true });
    }
  }

  async function take(task) {
    if (!Q.canTake(task, me())) {
      host.toast(t('task.cannotTake'), 'warn');
      return;
    }
    try {
      const r = await api.post(`/api/qa/tasks/${enc(task.id)}/take`);
      const nt = r && r.task && typeof r.task === 'object' ? r.task : r;
      const updated = nt && nt.id !== undefined ? nt : { ...task, assignee: me().subject, state: 'in_review' };
      if (S.queue) {
        S.queue.tasks = Q.mergeTasks(S.queue.tasks, [updated]);
        refreshList();
      }
      if (S.task && S.task.id === str(task.id)) loadTask(S.task.id, true);
      host.toast(t('task.taken', { id: str(task.conversation_id) || str(task.id) }), 'ok');
    } catch (e) {
      if (e.status === 401) return host.handleError(e);
      host.toast(e.status === 409 || e.status === 422 ? t('task.takeConflict') : host.describeError(e), e.status === 409 ? 'warn' : 'err');
      if (S.queue) loadQueue();
    }
  }

  // ---- the review of one task

  async function loadTask(id, quiet = false) {
    if (!quiet || !S.task || S.task.id !== id) {
      S.task = { id, data: null, error: null, draft: null, dirty: false, raw: null, rawShown: false, rawState: '', busy: false, cur: '' };
      if (S.route && S.route.page === 'task') rerender();
    }
    const T = S.task;
    try {
      const data = await api.get(`/api/qa/tasks/${enc(id)}`);
      if (S.task !== T) return;
      T.data = data && typeof data === 'object' ? data : {};
      T.error = null;
      const kept = S.drafts.get(id);
      if (kept && !submitted(T)) {
        T.draft = kept;
        T.dirty = true;
      } else {
        T.draft = Q.newDraft(T.data.review, T.data.scorecard);
        T.dirty = false;
        S.drafts.delete(id);
      }
    } catch (e) {
      if (S.task !== T) return;
      T.error = failed(e);
    }
    if (S.route && S.route.page === 'task' && S.route.id === id) rerender();
  }

  const submitted = (T) => !!(T.data && ((T.data.review && T.data.review.submitted_at) || (T.data.task && T.data.task.state === 'done')));
  const taskOf = (T) => (T.data && T.data.task && typeof T.data.task === 'object' ? T.data.task : { id: T.id });
  const convOf = (T) => (T.data && T.data.conversation && typeof T.data.conversation === 'object' ? T.data.conversation : { turns: [] });
  const editable = (T) => !!T.data && Q.canReview(taskOf(T), T.data.review, me());
  const canDispute = (T) => Q.can(role(), 'dispute') && submitted(T) && Q.disputeOpen(T.data.review, Date.now());
  const reviewId = (T) => {
    const r = T.data && T.data.review;
    return str(r && (r.id ?? r.task_id)) || str(taskOf(T).id) || T.id;
  };

  function reviewCtx(T) {
    return {
      ...baseCtx(),
      editable: editable(T),
      draft: T.draft,
      kinds: Q.kindsFor(convOf(T)),
      raw: T.rawShown ? T.raw : null,
      conversation: convOf(T),
      disputes: Array.isArray(T.data.disputes) ? T.data.disputes : [],
      onVerdict: (key, v) => setVerdict(key, v),
      onKind: (key, kind) => setKind(key, kind),
      onMissedAdd: (turn) => openMissed(turn),
      onMissedRemove: (i) => removeMissed(i),
      canDispute: canDispute(T),
      onDispute: (finding) => openDispute(finding),
      canRule: Q.can(role(), 'rule'),
      onRule: (d, o) => openRuling(d, o),
    };
  }

  function renderTask(m) {
    const T = S.task;
    const task = T.data ? taskOf(T) : null;
    const title = t('rev.title', { id: str(task && task.conversation_id) || T.id });
    const metaLine = task ? h('div', { class: 'conv-meta qa-task-meta' },
      QV.reasonBadge(task.reason, t), ' ', QV.taskStateBadge(task.state, t), ' ',
      task.calibration_group ? [QV.calibBadge(task, t), ' '] : null,
      task.agent_id ? [h('span', { class: 'label' }, t('tcol.agent')), ' ', str(task.agent_id), ' '] : null,
      h('span', { class: 'label' }, t('tcol.assignee')), ' ', str(task.assignee) || '—', ' ',
      task.due_at ? [h('span', { class: 'label' }, t('tcol.due')), ' ', h('time', { datetime: str(task.due_at) }, host.fmtTime(task.due_at)),
        Q.isOverdue(task, Date.now()) ? [' ', h('span', { class: 'badge overdue' }, t('task.overdue'))] : null] : null) : null;
    const head = host.viewHead(title, metaLine);
    if (!T.data) {
      fill(m, h('div', { class: 'qa qa-task' }, head,
        T.error ? h('p', { class: 'error', role: 'alert' }, host.describeError(T.error, T.id)) : h('p', { class: 'none' }, t('app.loading'))));
      return;
    }
    const ctx = reviewCtx(T);
    const turns = Array.isArray(convOf(T).turns) ? convOf(T).turns : [];
    const sc = Q.scorecardOf(T.data.scorecard);
    const scoreBox = h('div', { id: 'qa-score-box' });
    const isSubmitted = submitted(T);
    const buttons = ctx.editable ? h('div', { class: 'buttons' },
      h('button', { type: 'button', id: 'qa-save', class: 'btn', 'data-k': 'save', title: t('rev.saveTitle'), on: { click: () => saveDraft() } }, t('rev.save')),
      h('button', { type: 'button', id: 'qa-submit', class: 'btn primary', 'data-k': 'submit', on: { click: () => submitReview() } }, t('rev.submit')),
      h('span', { id: 'qa-dirty', class: 'hint', 'aria-live': 'polite' }, T.dirty ? t('rev.unsaved') : '')) : null;
    const card = QV.scorecardPanel(sc, T.draft, ctx, scoreBox, buttons);
    card.addEventListener('input', onCardInput);
    card.addEventListener('change', onCardInput);
    const status = isSubmitted
      ? h('p', { class: 'notice ok' }, t('rev.submittedAt', { time: host.fmtTime(T.data.review && T.data.review.submitted_at) || '—' }))
      : ctx.editable ? null
        : Q.canTake(task, me()) ? h('p', { class: 'notice' }, t('rev.takeFirst'), ' ',
          h('button', { type: 'button', class: 'btn small', 'data-k': 'take', on: { click: () => take(task) } }, t('task.take')))
          : h('p', { class: 'notice' }, t('rev.readonly'));
    fill(m, h('div', { class: 'qa qa-task' }, head,
      T.error ? h('p', { class: 'error' }, host.describeError(T.error, T.id)) : null,
      rawBar(T),
      h('div', { class: 'qa-review' },
        h('section', { class: 'qa-conv', 'aria-label': t('conv.turns') },
          turns.length ? h('ol', { class: 'turns', id: 'qa-turns' }, turns.map((turn) => QV.reviewTurn(turn, ctx))) : h('p', { class: 'none' }, t('conv.empty'))),
        h('aside', { class: 'qa-side' }, status, card, disputesBox(T, ctx)))));
    updateScore();
  }

  function rawBar(T) {
    if (!Q.hasDecrypt(me()) || T.rawState === 'denied') {
      return T.rawState === 'denied' ? h('p', { class: 'hint qa-raw-bar' }, t('rev.rawDenied')) : null;
    }
    return h('div', { class: 'qa-raw-bar' },
      h('button', {
        type: 'button', id: 'qa-raw', class: 'btn small', 'data-k': 'raw', 'aria-pressed': T.rawShown ? 'true' : 'false',
        disabled: T.rawState === 'loading', 'aria-describedby': 'qa-raw-notice', on: { click: () => toggleRaw() },
      }, T.rawShown ? t('rev.rawHide') : t('rev.rawShow')),
      h('span', { id: 'qa-raw-notice', class: 'notice' }, t('rev.rawNotice')));
  }

  async function toggleRaw() {
    const T = S.task;
    if (!T || !T.data) return;
    if (T.raw) {
      T.rawShown = !T.rawShown;
      rerender();
      return;
    }
    T.rawState = 'loading';
    rerender();
    try {
      const r = await api.get(`/api/qa/tasks/${enc(T.id)}/raw`);
      if (S.task !== T) return;
      T.raw = new Map(Q.listOf(r, 'turns').map((x) => [str(x.event_id), str(x.text)]));
      T.rawShown = true;
      T.rawState = '';
      host.announce(t('rev.rawShownAnnounce'));
    } catch (e) {
      if (S.task !== T) return;
      if (e.status === 401) return host.handleError(e);
      T.rawState = e.status === 403 ? 'denied' : '';
      host.toast(e.status === 403 ? t('rev.rawDenied') : host.describeError(e), e.status === 403 ? 'warn' : 'err');
    }
    rerender();
  }

  function markDirty() {
    const T = S.task;
    T.dirty = true;
    S.drafts.set(T.id, T.draft);
    const d = document.getElementById('qa-dirty');
    if (d) d.textContent = t('rev.unsaved');
  }

  function onCardInput(e) {
    const T = S.task;
    if (!T || !editable(T)) return;
    const el = e.target;
    const k = el.getAttribute('data-k');
    if (k === 'cat') {
      const v = Q.percentInput(el.value);
      const id = el.getAttribute('data-cat');
      if (v === null) delete T.draft.categories[id];
      else T.draft.categories[id] = v;
      el.setAttribute('aria-invalid', v === null ? 'true' : 'false');
    } else if (k === 'autofail') {
      if (e.type !== 'change') return;
      const set = new Set(T.draft.auto_fail);
      if (el.checked) set.add(el.value);
      else set.delete(el.value);
      T.draft.auto_fail = [...set];
    } else if (k === 'review-note') {
      T.draft.note = el.value;
    } else return;
    markDirty();
    updateScore();
  }

  function updateScore() {
    const T = S.task;
    const box = document.getElementById('qa-score-box');
    if (!box || !T || !T.data) return;
    const conv = convOf(T);
    const result = Q.computeScore(T.data.scorecard, T.draft, conv);
    const review = T.data.review || {};
    const auto = Number.isFinite(+review.auto_score) && review.auto_score !== null ? +review.auto_score : Q.autoScore(conv);
    fill(box, QV.scoreView(result, auto, baseCtx(), submitted(T) ? { score: review.score } : null));
  }

  /** replaceFinding rebuilds one finding's item, the focus kept on the same control. */
  function replaceFinding(key, focusK) {
    const T = S.task;
    const m = main();
    const old = m && [...m.querySelectorAll('li[data-finding]')].find((el) => el.getAttribute('data-finding') === key);
    if (!old) return;
    const at = key.lastIndexOf('#');
    const ev = key.slice(0, at);
    const index = +key.slice(at + 1);
    const turn = (convOf(T).turns || []).find((x) => str(x.event_id) === ev);
    if (!turn) return;
    const li = QV.findingItem(turn, turn.findings[index], index, reviewCtx(T));
    old.replaceWith(li);
    const target = (focusK && li.querySelector(`[data-k="${focusK}"]`)) || li;
    target.focus({ preventScroll: true });
  }

  function setVerdict(key, verdict) {
    const T = S.task;
    if (!T || !editable(T)) {
      host.toast(t('rev.readonly'), 'warn');
      return;
    }
    const prev = T.draft.verdicts.get(key);
    if (!verdict) T.draft.verdicts.delete(key);
    else T.draft.verdicts.set(key, { verdict, correct_kind: prev ? prev.correct_kind : '' });
    T.cur = key;
    markDirty();
    replaceFinding(key, verdict === 'wrong_kind' ? 'v-kind' : 'v-' + (verdict || (prev && prev.verdict) || 'correct'));
    updateScore();
  }

  function setKind(key, kind) {
    const T = S.task;
    const v = T && T.draft.verdicts.get(key);
    if (!v || !editable(T)) return;
    v.correct_kind = kind;
    markDirty();
    updateScore();
  }

  function removeMissed(i) {
    const T = S.task;
    if (!T || !editable(T)) return;
    T.draft.missed.splice(i, 1);
    markDirty();
    rerenderKeepFocus();
  }

  /** rerenderKeepFocus renders the review again where the reader was. */
  function rerenderKeepFocus() {
    const y = window.scrollY;
    rerender();
    if (window.scrollY !== y) window.scrollTo(0, y);
  }

  // ---- selecting text in a turn

  function onSelectionChange() {
    if (!S.route || S.route.page !== 'task' || !document.getSelection) return;
    const sel = document.getSelection();
    if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return;
    const r = sel.getRangeAt(0);
    const start = r.startContainer.nodeType === 1 ? r.startContainer : r.startContainer.parentNode;
    const li = start && start.closest ? start.closest('li[data-event]') : null;
    const p = li ? li.querySelector('p.text') : null;
    if (!p || !li.getAttribute('data-event')) return;
    const turn = turnByEvent(li.getAttribute('data-event'));
    if (!turn) return;
    const text = QV.turnText(turn, reviewCtx(S.task)).text;
    let a = QV.textOffset(p, r.startContainer, r.startOffset);
    let b = QV.textOffset(p, r.endContainer, r.endOffset);
    if (a < 0 && b < 0) return;
    if (a < 0) a = 0;
    if (b < 0) b = text.length;
    const span = Q.spanFromUtf16(text, a, b);
    if (span.end > span.start) S.selection = { event_id: str(turn.event_id), ...span };
  }
  document.addEventListener('selectionchange', onSelectionChange);

  const turnByEvent = (ev) => (S.task && S.task.data ? (convOf(S.task).turns || []).find((x) => str(x.event_id) === str(ev)) : null);

  function openMissed(turn) {
    const T = S.task;
    if (!T || !editable(T) || document.querySelector('dialog[open]')) return;
    const text = QV.turnText(turn, reviewCtx(T)).text;
    const n = Q.cpLength(text);
    const sel = S.selection && S.selection.event_id === str(turn.event_id) ? S.selection : null;
    const start = h('input', { id: 'missed-start', type: 'number', min: '0', max: String(n), step: '1', value: String(sel ? sel.start : 0), required: true });
    const end = h('input', { id: 'missed-end', type: 'number', min: '0', max: String(n), step: '1', value: String(sel ? sel.end : n), required: true });
    const preview = h('p', { class: 'text qa-pick', id: 'missed-preview', 'aria-live': 'polite' });
    const kind = h('select', { id: 'missed-kind', required: true }, h('option', { value: '' }, t('rev.pickKind')),
      Q.kindsFor(convOf(T)).map((k) => h('option', { value: k }, k)));
    const note = h('textarea', { id: 'missed-note', rows: '2', maxlength: '1000' });
    const error = h('p', { class: 'error', role: 'alert', id: 'missed-error' });
    const show = () => {
      const s = Math.floor(+start.value);
      const e = Math.floor(+end.value);
      const bad = Q.checkSpan(text, +start.value, +end.value);
      const cps = Array.from(text);
      fill(preview, bad ? h('span', { class: 'hint' }, t('span.' + bad))
        : [cps.slice(0, s).join(''), h('mark', { class: 'pick' }, cps.slice(s, e).join('')), cps.slice(e).join('')]);
    };
    start.addEventListener('input', show);
    end.addEventListener('input', show);
    show();
    const form = h('form', { method: 'dialog', class: 'missed-form' },
      h('h2', { id: 'missed-title' }, t('rev.missedTitle')),
      h('p', { class: 'hint' }, sel ? t('rev.missedFromSelection') : t('rev.missedHelp')),
      preview,
      h('div', { class: 'span-fields' },
        h('label', { for: 'missed-start' }, t('rev.start')), start,
        h('label', { for: 'missed-end' }, t('rev.end')), end,
        h('span', { class: 'hint' }, t('rev.length', { n }))),
      h('label', { for: 'missed-kind' }, t('rev.kind')), kind,
      h('label', { for: 'missed-note' }, t('rev.missedNote')), note,
      error,
      h('div', { class: 'buttons' },
        h('button', { type: 'submit', class: 'btn primary', 'data-k': 'missed-submit' }, t('rev.missedSubmit')),
        h('button', { type: 'button', class: 'btn', on: { click: () => dlg.close() } }, t('common.cancel'))));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const s = +start.value;
      const en = +end.value;
      const bad = Q.checkSpan(text, s, en);
      if (bad) {
        error.textContent = t('span.' + bad);
        start.focus();
        return;
      }
      if (!kind.value) {
        error.textContent = t('rev.kindRequired');
        kind.focus();
        return;
      }
      T.draft.missed.push({ event_id: turn.event_id, start: s, end: en, kind: kind.value, note: note.value.trim() });
      S.selection = null;
      markDirty();
      dlg.close();
      rerenderKeepFocus();
      host.announce(t('rev.missedAdded', { kind: kind.value }));
    });
    const dlg = host.modal('missed-title', form);
    (sel ? kind : start).focus();
  }

  // ---- saving and submitting

  async function saveDraft(quiet = false) {
    const T = S.task;
    if (!T || !editable(T) || T.busy) return false;
    T.busy = true;
    try {
      await api.put(`/api/qa/tasks/${enc(T.id)}/review`, Q.reviewBody(taskOf(T).id ?? T.id, T.draft));
      T.dirty = false;
      S.drafts.delete(T.id);
      const d = document.getElementById('qa-dirty');
      if (d) d.textContent = t('rev.saved');
      if (taskOf(T).state === 'open') taskOf(T).state = 'in_review';
      if (!quiet) host.toast(t('rev.savedToast'), 'ok');
      return true;
    } catch (e) {
      if (e.status === 401) host.handleError(e);
      else host.toast(e.status === 409 || e.status === 422 ? t('rev.saveConflict', { message: e.message }) : host.describeError(e), 'err');
      return false;
    } finally {
      T.busy = false;
    }
  }

  async function submitReview() {
    const T = S.task;
    if (!T || !editable(T) || T.busy) return;
    const conv = convOf(T);
    const problems = Q.reviewProblems(T.data.scorecard, T.draft, conv);
    if (problems.length) {
      host.toast(problems.map((p) => t('problem.' + p)).join(' '), 'warn');
      return;
    }
    const res = Q.computeScore(T.data.scorecard, T.draft, conv);
    const ok = await confirmBox(t('rev.submitTitle'), t('rev.submitBody', { score: Q.formatScore(res.score) }), t('rev.submit'));
    if (!ok || S.task !== T) return;
    if (!(await saveDraft(true))) return;
    T.busy = true;
    try {
      await api.post(`/api/qa/tasks/${enc(T.id)}/submit`);
      S.drafts.delete(T.id);
      host.toast(t('rev.submittedToast'), 'ok');
      T.busy = false;
      await loadTask(T.id, true);
      if (S.queue) loadQueue();
    } catch (e) {
      T.busy = false;
      if (e.status === 401) host.handleError(e);
      else host.toast(e.status === 409 || e.status === 422 ? t('rev.saveConflict', { message: e.message }) : host.describeError(e), 'err');
    }
  }

  /** confirmBox asks a question in a modal dialog; it resolves true when confirmed. */
  function confirmBox(title, text, okLabel) {
    return new Promise((resolve) => {
      let answer = false;
      let dlg = null;
      const form = h('form', { method: 'dialog', class: 'confirm-form' },
        h('h2', { id: 'qa-confirm-title' }, title),
        h('p', null, text),
        h('div', { class: 'buttons' },
          h('button', { type: 'submit', class: 'btn primary', 'data-k': 'confirm-ok', autofocus: true }, okLabel),
          h('button', { type: 'button', class: 'btn', 'data-k': 'confirm-cancel', on: { click: () => dlg.close() } }, t('common.cancel'))));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        answer = true;
        dlg.close();
      });
      dlg = host.modal('qa-confirm-title', form, { onClose: () => resolve(answer) });
    });
  }

  // ---- disputes

  function disputesBox(T, ctx) {
    const list = ctx.disputes;
    const review = T.data.review;
    const deadline = Q.disputeDeadline(review);
    const isSubmitted = submitted(T);
    let windowNote = null;
    if (isSubmitted && !Number.isNaN(deadline) && Q.can(role(), 'dispute')) {
      const iso = new Date(deadline).toISOString();
      windowNote = h('p', { class: 'hint' }, ctx.canDispute ? t('disp.openUntil', { time: host.fmtTime(iso) }) : t('disp.closedAt', { time: host.fmtTime(iso) }));
    }
    if (!isSubmitted && list.length === 0) return null;
    return h('section', { class: 'qa-disputes-box', 'aria-labelledby': 'qa-disputes-title' },
      h('h3', { id: 'qa-disputes-title' }, t('disp.title')),
      windowNote,
      ctx.canDispute ? h('button', { type: 'button', class: 'btn', 'data-k': 'dispute', on: { click: () => openDispute(null) } }, t('disp.onReview')) : null,
      list.length ? h('ul', { class: 'qa-dispute-list' }, list.map((d) => QV.disputeItem(d, ctx))) : h('p', { class: 'none' }, t('disp.none')));
  }

  function openDispute(finding) {
    const T = S.task;
    if (!T || !T.data || !canDispute(T) || document.querySelector('dialog[open]')) return;
    const area = h('textarea', { id: 'dispute-reason', rows: '4', maxlength: '2000', required: true, autofocus: true });
    const error = h('p', { class: 'error', role: 'alert' });
    const submit = h('button', { type: 'submit', class: 'btn primary', 'data-k': 'dispute-submit' }, t('disp.submit'));
    const form = h('form', { method: 'dialog', class: 'dispute-form' },
      h('h2', { id: 'dispute-title' }, t('disp.dialogTitle')),
      h('p', null, QV.findingLabel(finding, reviewCtx(T))),
      h('label', { for: 'dispute-reason' }, t('disp.reason')), area,
      error,
      h('div', { class: 'buttons' }, submit, h('button', { type: 'button', class: 'btn', on: { click: () => dlg.close() } }, t('common.cancel'))));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const reason = area.value.trim();
      if (!reason) {
        error.textContent = t('disp.reasonRequired');
        area.focus();
        return;
      }
      submit.disabled = true;
      const body = { reason };
      if (finding) body.finding = { event_id: finding.event_id, index: finding.index };
      try {
        await api.post(`/api/qa/reviews/${enc(reviewId(T))}/disputes`, body);
        dlg.close();
        host.toast(t('disp.opened'), 'ok');
        loadTask(T.id, true);
      } catch (err) {
        submit.disabled = false;
        if (err.status === 401) {
          dlg.close();
          host.handleError(err);
          return;
        }
        error.textContent = err.status === 409 || err.status === 422 ? t('disp.refused', { message: err.message }) : host.describeError(err);
      }
    });
    const dlg = host.modal('dispute-title', form);
  }

  function openRuling(d, outcome) {
    if (!Q.can(role(), 'rule') || document.querySelector('dialog[open]')) return;
    const area = h('textarea', { id: 'ruling-note', rows: '3', maxlength: '2000', required: true });
    const error = h('p', { class: 'error', role: 'alert' });
    const submit = h('button', { type: 'submit', class: 'btn primary', 'data-k': 'ruling-submit' }, t('disp.rulingSubmit'));
    const form = h('form', { method: 'dialog', class: 'ruling-form' },
      h('h2', { id: 'ruling-title' }, t('disp.rulingTitle', { id: str(d.id) })),
      h('p', null, h('strong', null, str(d.by)), ': ', h('q', null, str(d.reason))),
      h('fieldset', { class: 'then' }, h('legend', null, t('disp.outcome')),
        Q.OUTCOMES.map((o) => h('label', { class: 'radio' },
          h('input', { type: 'radio', name: 'ruling-outcome', value: o, checked: o === outcome, 'data-k': 'outcome-' + o }), ' ', t('outcome.' + o)))),
      h('label', { for: 'ruling-note' }, t('disp.rulingNote')), area,
      error,
      h('div', { class: 'buttons' }, submit, h('button', { type: 'button', class: 'btn', on: { click: () => dlg.close() } }, t('common.cancel'))));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const picked = form.querySelector('input[name="ruling-outcome"]:checked');
      const note = area.value.trim();
      if (!picked) return;
      if (!note) {
        error.textContent = t('disp.noteRequired');
        area.focus();
        return;
      }
      submit.disabled = true;
      try {
        await api.post(`/api/qa/disputes/${enc(d.id)}/ruling`, { outcome: picked.value, note });
        dlg.close();
        host.toast(t('disp.ruled', { outcome: t('outcome.' + picked.value) }), 'ok');
        if (S.route.page === 'task' && S.task) loadTask(S.task.id, true);
        else if (S.route.page === 'disputes') loadDisputes();
      } catch (err) {
        submit.disabled = false;
        if (err.status === 401) {
          dlg.close();
          host.handleError(err);
          return;
        }
        error.textContent = err.status === 409 || err.status === 422 ? t('disp.refused', { message: err.message }) : host.describeError(err);
      }
    });
    const dlg = host.modal('ruling-title', form);
    area.focus();
  }

  function disputesCtx(selected) {
    return { ...baseCtx(), selectedTask: selected, canRule: Q.can(role(), 'rule'), onRule: openRuling, conversation: null };
  }

  async function loadDisputes(more = false) {
    const x = S.disputes;
    if (!x || (more && (!x.next || x.loading))) return;
    const seq = more ? x.seq : ++x.seq;
    x.loading = true;
    x.error = null;
    refreshList();
    const p = new URLSearchParams();
    if (x.state) p.set('state', x.state);
    if (more) p.set('cursor', x.next);
    try {
      const r = await api.get('/api/qa/disputes' + (p.toString() ? '?' + p.toString() : ''));
      if (S.disputes !== x || seq !== x.seq) return;
      x.list = (more ? x.list : []).concat(Q.listOf(r, 'disputes'));
      x.next = str(r && !Array.isArray(r) ? r.next : '');
      x.loaded = true;
    } catch (e) {
      if (S.disputes !== x || seq !== x.seq) return;
      x.error = failed(e);
    }
    x.loading = false;
    refreshList();
  }

  function renderDisputes(m) {
    const x = S.disputes;
    const sel = h('select', { id: 'disputes-state', name: 'state' }, h('option', { value: '' }, t('disp.stateAny')),
      Q.DISPUTE_STATES.map((s) => h('option', { value: s }, t('dstate.' + s))));
    sel.value = x.state;
    sel.addEventListener('change', () => {
      const p = new URLSearchParams(location.search);
      if (sel.value === 'open') p.delete('state');
      else p.set('state', sel.value || 'any');
      host.replaceSearch(p.toString() ? '?' + p.toString() : '');
      S.disputes = { ...x, state: sel.value, list: [], next: '', loaded: false };
      loadDisputes();
    });
    fill(m, frame('disputes', t('page.disputes'), null,
      h('form', { class: 'filters', role: 'search', 'aria-label': t('disp.filters'), on: { submit: (e) => e.preventDefault() } },
        h('label', { class: 'field' }, h('span', null, t('disp.state')), sel)),
      h('section', { class: 'list', 'data-list': 'qa-disputes', 'aria-labelledby': 'qa-title' },
        h('div', { class: 'list-head' }, h('span', { id: 'qa-list-meta', class: 'meta' })),
        h('div', { class: 'table-wrap', id: 'qa-list' }),
        h('div', { class: 'more' }, h('button', { type: 'button', id: 'qa-more', class: 'btn', hidden: true, on: { click: () => loadDisputes(true) } }, t('list.more'))))));
    refreshList();
  }

  // ---- an agent's own reviews

  async function loadMine() {
    const x = S.mine;
    const [tasks, disputes] = await Promise.allSettled([
      api.get('/api/qa/tasks?state=done'),
      api.get('/api/qa/disputes'),
    ]);
    if (S.mine !== x) return;
    if (tasks.status === 'fulfilled') x.tasks = Q.mergeTasks([], Q.listOf(tasks.value, 'tasks')).reverse();
    else x.tasksError = failed(tasks.reason);
    if (disputes.status === 'fulfilled') x.disputes = Q.listOf(disputes.value, 'disputes');
    else x.disputesError = failed(disputes.reason);
    x.loaded = true;
    if (S.route && S.route.page === 'mine') rerender();
  }

  function renderMine(m) {
    const x = S.mine;
    if (!x.tasks.some((task) => str(task.id) === str(x.selected))) x.selected = x.tasks.length ? str(x.tasks[0].id) : null;
    const ctx = { ...baseCtx(), selectedTask: x.selected };
    const cols = QV.DISPUTE_COLS.filter((c) => c !== 'actions');
    fill(m, frame('mine', t('page.mine'), null,
      h('p', { class: 'hint' }, t('mine.intro')),
      h('section', { class: 'list', 'data-list': 'qa-mine', 'aria-labelledby': 'mine-reviews' },
        h('div', { class: 'list-head' }, h('h3', { id: 'mine-reviews' }, t('mine.reviews'))),
        x.tasksError ? h('p', { class: 'hint' }, x.tasksError.status === 403 ? t('mine.noList') : host.describeError(x.tasksError)) : null,
        h('div', { class: 'table-wrap' }, QV.taskTable(x.tasks, ctx, QV.MINE_COLS, t('mine.reviews'), x.loaded ? t('mine.none') : t('app.loading')))),
      h('section', { class: 'list', 'aria-labelledby': 'mine-disputes' },
        h('div', { class: 'list-head' }, h('h3', { id: 'mine-disputes' }, t('mine.disputes'))),
        x.disputesError ? h('p', { class: 'error' }, host.describeError(x.disputesError)) : null,
        h('div', { class: 'table-wrap' }, QV.disputeTable(x.disputes, { ...ctx, selectedTask: null }, cols, t('mine.disputes'), x.loaded ? t('disp.empty') : t('app.loading'))))));
  }

  // ---- quota

  async function loadQuota() {
    const x = S.quota;
    x.loading = true;
    try {
      const r = await api.get('/api/qa/quota?day=' + enc(x.day));
      if (S.quota !== x) return;
      x.rows = Q.normalizeQuota(r);
      x.error = null;
    } catch (e) {
      if (S.quota !== x) return;
      x.error = failed(e);
    }
    x.loading = false;
    if (S.route && S.route.page === 'quota') rerender();
  }

  function renderQuota(m) {
    const x = S.quota;
    const day = h('input', { id: 'quota-day', type: 'date', value: x.day, max: Q.localDay(Date.now()), required: true });
    day.addEventListener('change', () => {
      if (!Q.isDay(day.value)) return;
      const p = new URLSearchParams(location.search);
      p.set('day', day.value);
      host.replaceSearch('?' + p.toString());
      S.quota = { day: day.value, rows: null, error: null, loading: false };
      loadQuota();
    });
    const rows = x.rows || [];
    const met = rows.filter((r) => r.met).length;
    fill(m, frame('quota', t('page.quota'), null,
      h('form', { class: 'filters', 'aria-label': t('quota.filters'), on: { submit: (e) => e.preventDefault() } },
        h('label', { class: 'field', for: 'quota-day' }, h('span', null, t('quota.day')), day)),
      h('section', { class: 'list', 'aria-labelledby': 'qa-title' },
        h('div', { class: 'list-head' }, h('span', { class: 'meta' }, x.rows ? t('quota.summary', { met, n: rows.length }) : t('app.loading'),
          x.error ? h('span', { class: 'error', role: 'alert' }, ' ', host.describeError(x.error)) : null)),
        h('div', { class: 'table-wrap' }, x.rows ? QV.quotaTable(rows, baseCtx()) : null))));
  }

  // ---- precision and the export

  async function loadPrecision() {
    const x = S.precision;
    x.loading = true;
    try {
      const r = await api.get('/api/qa/precision?since=' + enc(x.since));
      if (S.precision !== x) return;
      x.rows = Q.normalizePrecision(r);
      x.error = null;
    } catch (e) {
      if (S.precision !== x) return;
      x.error = failed(e);
    }
    x.loading = false;
    if (S.route && S.route.page === 'precision') rerender();
  }

  function setSince(page, since) {
    const p = new URLSearchParams(location.search);
    if (since === '30d') p.delete('since');
    else p.set('since', since);
    const search = p.toString() ? '?' + p.toString() : '';
    host.replaceSearch(search);
    route(S.route, search);
    rerender();
  }

  function renderPrecision(m) {
    const x = S.precision;
    const rows = x.rows ? Q.sortRows(x.rows, x.sort.key, x.sort.dir) : [];
    const ctx = {
      ...baseCtx(),
      onSort: (key) => {
        x.sort = Q.nextSort(x.sort, key);
        rerender();
        const b = document.querySelector(`button[data-sort="${key}"]`);
        if (b) b.focus();
      },
    };
    let exportBox = null;
    if (Q.can(role(), 'export')) {
      const verdict = h('select', { id: 'export-verdict' }, Q.EXPORT_VERDICTS.map((v) => h('option', { value: v }, t('expverdict.' + v))));
      verdict.value = x.verdict;
      const links = h('span', { class: 'export-links' });
      const drawLinks = () => fill(links, Q.EXPORT_FORMATS.map((format) => {
        const o = { since: x.since, verdict: x.verdict, format };
        return [h('a', {
          class: 'btn small', href: Q.exportPath(o), download: Q.exportName(o), 'data-k': 'export-' + format,
          title: t('export.linkTitle'),
        }, t('expfmt.' + format)), ' '];
      }));
      verdict.addEventListener('change', () => {
        x.verdict = verdict.value;
        drawLinks();
      });
      drawLinks();
      exportBox = h('section', { class: 'qa-export', 'aria-labelledby': 'export-title' },
        h('h3', { id: 'export-title' }, t('export.title')),
        h('p', { class: 'hint' }, t('export.hint')),
        h('div', { class: 'filters' }, h('label', { class: 'field', for: 'export-verdict' }, h('span', null, t('export.verdict')), verdict), links),
        h('p', { class: 'hint' }, t('export.logged')));
    }
    fill(m, frame('precision', t('page.precision'), null,
      h('form', { class: 'filters', 'aria-label': t('prec.filters'), on: { submit: (e) => e.preventDefault() } },
        sinceSelect('prec-since', x.since, (v) => setSince('precision', v))),
      h('section', { class: 'list', 'aria-labelledby': 'qa-title' },
        h('div', { class: 'list-head' }, h('span', { class: 'meta' }, x.rows ? t('prec.summary', { n: rows.length }) : t('app.loading'),
          x.error ? h('span', { class: 'error', role: 'alert' }, ' ', host.describeError(x.error)) : null),
        h('span', { class: 'hint' }, t('prec.definition'))),
        h('div', { class: 'table-wrap' }, x.rows ? QV.precisionTable(rows, x.sort, ctx) : null)),
      exportBox));
  }

  // ---- calibration

  async function loadCalibration() {
    const x = S.calibration;
    try {
      const r = await api.get('/api/qa/calibration?since=' + enc(x.since));
      if (S.calibration !== x) return;
      x.data = Q.normalizeCalibration(r);
      x.error = null;
    } catch (e) {
      if (S.calibration !== x) return;
      x.error = failed(e);
    }
    if (S.route && S.route.page === 'calibration') rerender();
  }

  function renderCalibration(m) {
    const x = S.calibration;
    fill(m, frame('calibration', t('page.calibration'), null,
      h('form', { class: 'filters', 'aria-label': t('cal.filters'), on: { submit: (e) => e.preventDefault() } },
        sinceSelect('cal-since', x.since, (v) => setSince('calibration', v))),
      h('p', { class: 'hint' }, t('cal.hint')),
      x.error ? h('p', { class: 'error', role: 'alert' }, host.describeError(x.error)) : null,
      x.data ? h('div', { class: 'qa-cal-body' }, QV.calibrationView(x.data, baseCtx())) : h('p', { class: 'none' }, t('app.loading'))));
  }

  // ------------------------------------------------------------ keyboard

  function listRows() {
    const page = S.route.page;
    if (page === 'queue') return { ids: S.queue ? S.queue.tasks.map((x) => str(x.id)) : [], x: S.queue, attr: 'data-task-id' };
    if (page === 'disputes') return { ids: S.disputes ? S.disputes.list.map((x) => str(x.id)) : [], x: S.disputes, attr: 'data-dispute-id' };
    if (page === 'mine') return { ids: S.mine ? S.mine.tasks.map((x) => str(x.id)) : [], x: S.mine, attr: 'data-task-id' };
    return null;
  }

  /** markSelected marks the row of id selected in place: aria-selected, and the Tab order of the rows and their controls. */
  function markSelected(attr, id) {
    let found = null;
    for (const r of document.querySelectorAll(`#main tr[${attr}]`)) {
      const on = r.getAttribute(attr) === id;
      if (on) found = r;
      r.setAttribute('aria-selected', on ? 'true' : 'false');
      r.setAttribute('tabindex', on ? '0' : '-1');
      r.classList.toggle('sel', on);
      for (const el of r.querySelectorAll('[data-k]')) el.setAttribute('tabindex', on ? '0' : '-1');
    }
    return found;
  }

  function selectRow(l, id, focus = true) {
    l.x.selected = id;
    const row = markSelected(l.attr, id);
    if (row && focus) {
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: 'nearest' });
    }
  }

  // A click or Tab into a row of a list selects it.
  document.addEventListener('focusin', (e) => {
    if (!S.route || host.route().view !== 'qa') return;
    const l = listRows();
    const row = l && e.target.closest ? e.target.closest(`#main tr[${l.attr}]`) : null;
    if (row && row.getAttribute(l.attr) !== str(l.x && l.x.selected)) selectRow(l, row.getAttribute(l.attr), false);
  });

  function findingKeys() {
    return [...document.querySelectorAll('#qa-turns li[data-finding]')].map((el) => el.getAttribute('data-finding')).filter(Boolean);
  }

  function currentFinding() {
    const el = document.activeElement;
    const li = el && el.closest ? el.closest('li[data-finding]') : null;
    if (li && li.getAttribute('data-finding')) return li.getAttribute('data-finding');
    return S.task ? S.task.cur : '';
  }

  function focusFinding(key) {
    const li = [...document.querySelectorAll('#qa-turns li[data-finding]')].find((el) => el.getAttribute('data-finding') === key);
    if (!li) return;
    S.task.cur = key;
    li.focus({ preventScroll: true });
    li.scrollIntoView({ block: 'nearest' });
  }

  /** command runs a keyboard command of qaKeyCommand (help and blur stay with the app); true when it was one. */
  function command(cmd) {
    const page = S.route ? S.route.page : '';
    const l = listRows();
    if (l) {
      const i = l.ids.indexOf(str(l.x && l.x.selected));
      switch (cmd) {
        case 'next':
        case 'prev': {
          const j = Q.moveIndex(l.ids.length, i, cmd === 'next' ? 1 : -1);
          if (j >= 0) selectRow(l, l.ids[j]);
          return true;
        }
        case 'open':
          if (i < 0) {
            host.toast(t('qa.noSelection'), 'warn');
            return true;
          }
          if (page === 'disputes') {
            const d = S.disputes.list[i];
            const id = Q.disputeTaskId(d);
            if (id) host.navigate(Q.qaPath('task', id));
          } else host.navigate(Q.qaPath('task', l.ids[i]));
          return true;
        case 'take': {
          const task = S.queue && S.queue.tasks[i];
          if (!task) host.toast(t('qa.noSelection'), 'warn');
          else take(task);
          return true;
        }
        case 'filter': {
          const el = document.querySelector('#main .filters select, #main .filters input');
          if (el) el.focus();
          return true;
        }
        default: return false;
      }
    }
    if (page !== 'task' || !S.task || !S.task.data) return false;
    const T = S.task;
    switch (cmd) {
      case 'next':
      case 'prev': {
        const keys = findingKeys();
        const j = Q.moveIndex(keys.length, keys.indexOf(currentFinding()), cmd === 'next' ? 1 : -1);
        if (j >= 0) focusFinding(keys[j]);
        return true;
      }
      case 'correct':
      case 'false_positive':
      case 'wrong_kind': {
        const key = currentFinding();
        if (!key) {
          host.toast(t('rev.noFinding'), 'warn');
          return true;
        }
        const v = T.draft.verdicts.get(key);
        setVerdict(key, v && v.verdict === cmd ? '' : cmd);
        return true;
      }
      case 'missed': {
        if (!editable(T)) {
          host.toast(t('rev.readonly'), 'warn');
          return true;
        }
        const ev = S.selection ? S.selection.event_id : (currentFinding() ? currentFinding().slice(0, currentFinding().lastIndexOf('#')) : '');
        const turn = ev ? turnByEvent(ev) : null;
        if (!turn) host.toast(t('rev.selectFirst'), 'warn');
        else openMissed(turn);
        return true;
      }
      case 'save':
        if (editable(T)) saveDraft();
        else host.toast(t('rev.readonly'), 'warn');
        return true;
      case 'dispute':
        if (canDispute(T)) openDispute(null);
        else host.toast(t('disp.cannot'), 'warn');
        return true;
      default: return false;
    }
  }

  /** unsaved reports whether a review has changes not saved (for beforeunload). */
  const unsaved = () => !!(S.task && S.task.dirty);

  return { route, render, command, backPath, reset, unsaved };
}
