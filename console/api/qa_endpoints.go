package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xunjian/xunjian/console/qa"
	"github.com/xunjian/xunjian/console/store"
	"github.com/xunjian/xunjian/gateway/stream/event"
)

// Bounds of the QA requests.
const (
	// maxVerdicts bounds the verdicts, and the missed findings, of a
	// review.
	maxVerdicts = 1000
	// maxKind is the longest kind ("detector.kind"), in bytes.
	maxKind = 128
	// defaultReportWindow is the since of the QA reports and exports
	// when none is given.
	defaultReportWindow = 30 * 24 * time.Hour
)

// defaultTaskStates is the state selection of GET /api/qa/tasks without
// state: the work still to do.
var defaultTaskStates = []store.TaskState{store.TaskOpen, store.TaskInReview}

// qaTasks answers GET /api/qa/tasks.
func (h *Handler) qaTasks(w http.ResponseWriter, r *http.Request, p principal, q *qaService) error {
	if err := allow(p, "the task list", RoleAuditor, RoleSupervisor, RoleAdmin, RoleAgent); err != nil {
		return err
	}
	qs := r.URL.Query()
	f := store.TaskFilter{Tenant: p.tenant, AgentID: qs.Get("agent"), Cursor: qs.Get("cursor"), States: defaultTaskStates}
	switch p.role {
	case RoleAgent:
		if f.AgentID != "" && f.AgentID != p.agent {
			return errForbidden("an agent lists its own tasks only")
		}
		if qs.Get("team") != "" {
			return errForbidden("an agent lists its own tasks only")
		}
		f.AgentID = p.agent
	case RoleAuditor:
		f.Auditor, f.AuditorTeams = p.subject, p.teamFilter()
		if t := qs.Get("team"); t != "" {
			var err error
			if f.Teams, err = p.narrow(t); err != nil {
				return err
			}
		}
	default:
		var err error
		if f.Teams, err = p.narrow(qs.Get("team")); err != nil {
			return err
		}
	}
	switch a := qs.Get("assignee"); a {
	case "":
	case "me":
		f.Assignee = p.subject
	case "none":
		f.Unassigned = true
	default:
		if err := validText("assignee", a, maxAssignee, false); err != nil {
			return err
		}
		f.Assignee = a
	}
	if s := qs.Get("state"); s != "" {
		f.States = nil
		for name := range strings.SplitSeq(s, ",") {
			st := store.TaskState(strings.TrimSpace(name))
			if !st.Valid() {
				return errBadRequest(fmt.Sprintf("state: %q is not open, in_review or done", name))
			}
			f.States = append(f.States, st)
		}
	}
	var err error
	if f.Limit, err = queryInt(qs, "limit", store.DefaultLimit, 1, store.MaxLimit); err != nil {
		return err
	}
	tasks, next, err := q.store.ListTasks(r.Context(), f)
	switch {
	case errors.Is(err, store.ErrMalformedCursor):
		return errBadRequest("cursor: not one this API returned")
	case err != nil:
		return err
	}
	out := make([]taskJSON, len(tasks))
	for i, t := range tasks {
		out[i] = taskOf(t)
	}
	writeJSON(w, http.StatusOK, struct {
		Tasks []taskJSON `json:"tasks"`
		Next  string     `json:"next"`
	}{out, next})
	return nil
}

// qaTask answers GET /api/qa/tasks/{id}.
func (h *Handler) qaTask(w http.ResponseWriter, r *http.Request, p principal, q *qaService) error {
	id, err := pathID(r, "task")
	if err != nil {
		return err
	}
	t, err := q.visibleTask(r.Context(), p, id)
	if err != nil {
		return err
	}
	conv, err := q.store.Conversation(r.Context(), p.tenant, t.ConversationID)
	if errors.Is(err, store.ErrNotFound) {
		conv, err = store.Conversation{Tenant: t.Tenant, ID: t.ConversationID, AgentID: t.AgentID}, nil
	}
	if err != nil {
		return err
	}
	var review *reviewJSON
	disputes := []disputeJSON{}
	rv, err := q.store.TaskReview(r.Context(), p.tenant, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	case p.role == RoleAgent && !rv.Submitted():
		// An agent sees the review once it is submitted, not the draft.
	default:
		j := reviewOf(rv)
		review = &j
		ds, err := q.store.ListDisputes(r.Context(), store.DisputeFilter{Tenant: p.tenant, ReviewID: rv.ID, Limit: store.MaxLimit})
		if err != nil {
			return err
		}
		disputes = disputesOf(ds)
	}
	keep := func(a store.Alert) bool { return p.role != RoleAgent && p.sees(a.Tenant, a.Team) }
	writeJSON(w, http.StatusOK, struct {
		Task         taskJSON         `json:"task"`
		Conversation conversationJSON `json:"conversation"`
		Scorecard    qa.Scorecard     `json:"scorecard"`
		Review       *reviewJSON      `json:"review"`
		Disputes     []disputeJSON    `json:"disputes"`
	}{taskOf(t), conversationOf(conv, keep), q.cfg.Scorecard(p.tenant), review, disputes})
	return nil
}

// rawTurnJSON is a turn of GET /api/qa/tasks/{id}/raw.
type rawTurnJSON struct {
	EventID string `json:"event_id"`
	Text    string `json:"text"`
	// Error is why the text is empty: key_id_mismatch (sealed under
	// another key than the console's) or decrypt_failed.
	Error string `json:"error,omitempty"`
}

// qaRaw answers GET /api/qa/tasks/{id}/raw: the raw text of the task's
// sampled turns, for a principal with the decrypt permission, and writes
// the access to the audit log before answering. Without the permission
// nothing is read and nothing is logged.
func (h *Handler) qaRaw(w http.ResponseWriter, r *http.Request, p principal, q *qaService) error {
	if !p.can(PermDecrypt) {
		return errForbidden("the raw text is for principals with the decrypt permission")
	}
	id, err := pathID(r, "task")
	if err != nil {
		return err
	}
	t, err := q.visibleTask(r.Context(), p, id)
	if err != nil {
		return err
	}
	if q.textKey == nil {
		return errUnavailable("the console holds no text key (qa.text_key_env): no raw text can be shown")
	}
	sealed, err := q.store.SealedTexts(r.Context(), p.tenant, t.ConversationID)
	if err != nil {
		return err
	}
	turns := make([]rawTurnJSON, len(sealed))
	ids := make([]string, 0, len(sealed))
	for i, st := range sealed {
		turns[i] = rawTurnJSON{EventID: st.EventID}
		if st.TextEnc.KeyID != q.textKey.KeyID() {
			turns[i].Error = "key_id_mismatch"
			continue
		}
		ev := event.Event{EventID: st.EventID, TextEnc: &st.TextEnc}
		text, err := ev.DecryptText(q.textKey)
		if err != nil {
			turns[i].Error = "decrypt_failed"
			continue
		}
		turns[i].Text = text
		ids = append(ids, st.EventID)
	}
	if err := q.store.AppendAudit(r.Context(), store.AuditEntry{
		Actor: p.subject, Tenant: p.tenant, Action: store.AuditDecrypt, ConversationID: t.ConversationID, EventIDs: ids, Raw: true,
	}); err != nil {
		return fmt.Errorf("audit log: %w", err) // no text without its record
	}
	writeJSON(w, http.StatusOK, struct {
		Turns []rawTurnJSON `json:"turns"`
	}{turns})
	return nil
}

// qaTake answers POST /api/qa/tasks/{id}/take.
func (h *Handler) qaTake(w http.ResponseWriter, r *http.Request, p principal, q *qaService) error {
	if err := allow(p, "taking a task", RoleAuditor, RoleAdmin); err != nil {
		return err
	}
	id, err := pathID(r, "task")
	if err != nil {
		return err
	}
	if _, err := q.visibleTask(r.Context(), p, id); err != nil {
		return err
	}
	t, err := q.store.TakeTask(r.Context(), p.tenant, id, p.subject)
	if err != nil {
		return qaError(err, fmt.Sprintf("task %d", id))
	}
	writeJSON(w, http.StatusOK, taskOf(t))
	return nil
}

// reviewRequest is the body of PUT /api/qa/tasks/{id}/review: a Review
// without its score. The kind, rule and lexicon of a verdict are accepted
// (a client may send back what it read) and ignored: the store copies
// them from the finding.
type reviewRequest struct {
	// TaskID, when given, must be the task of the path (a Review names
	// its task; a client may send it back as it read it).
	TaskID     int64              `json:"task_id"`
	Categories map[string]float64 `json:"categories"`
	AutoFail   []string           `json:"auto_fail"`
	Verdicts   []struct {
		EventID      string  `json:"event_id"`
		FindingIndex int     `json:"finding_index"`
		Verdict      string  `json:"verdict"`
		CorrectKind  *string `json:"correct_kind"`
		Kind         string  `json:"kind"`
		Rule         string  `json:"rule"`
		Lexicon      string  `json:"lexicon"`
	} `json:"verdicts"`
	Missed []missedJSON `json:"missed"`
	Note   string       `json:"note"`
}

// validKind reports whether s is a kind name, "detector.kind".
func validKind(s string) bool {
	if len(s) > maxKind || !strings.Contains(s, ".") || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") {
		return false
	}
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == ""
}

// draft checks req against the scorecard and returns the store's draft.
func (req reviewRequest) draft(sc qa.Scorecard) (store.ReviewDraft, error) {
	d := store.ReviewDraft{Categories: req.Categories, AutoFail: req.AutoFail, Note: req.Note}
	if err := validText("note", req.Note, MaxNote, true); err != nil {
		return d, err
	}
	if len(req.Verdicts) > maxVerdicts || len(req.Missed) > maxVerdicts || len(req.AutoFail) > maxVerdicts {
		return d, errBadRequest(fmt.Sprintf("at most %d verdicts, missed findings and auto-fail items", maxVerdicts))
	}
	if err := sc.CheckDraft(req.Categories, req.AutoFail); err != nil {
		return d, errBadRequest(err.Error())
	}
	for i, v := range req.Verdicts {
		fv := store.FindingVerdict{EventID: v.EventID, FindingIndex: v.FindingIndex, Verdict: store.Verdict(v.Verdict)}
		switch {
		case v.EventID == "" || len(v.EventID) > maxParam:
			return d, errBadRequest(fmt.Sprintf("verdicts[%d].event_id: want 1 to %d bytes", i, maxParam))
		case !fv.Verdict.Valid():
			return d, errBadRequest(fmt.Sprintf("verdicts[%d].verdict: want correct, false_positive or wrong_kind", i))
		case fv.Verdict == store.VerdictWrongKind && (v.CorrectKind == nil || !validKind(*v.CorrectKind)):
			return d, errBadRequest(fmt.Sprintf("verdicts[%d].correct_kind: a wrong_kind verdict names the kind it should have been (detector.kind)", i))
		case fv.Verdict != store.VerdictWrongKind && v.CorrectKind != nil && *v.CorrectKind != "":
			return d, errBadRequest(fmt.Sprintf("verdicts[%d].correct_kind: only for a wrong_kind verdict", i))
		}
		if v.CorrectKind != nil {
			fv.CorrectKind = *v.CorrectKind
		}
		d.Verdicts = append(d.Verdicts, fv)
	}
	for i, m := range req.Missed {
		switch {
		case m.EventID == "" || len(m.EventID) > maxParam:
			return d, errBadRequest(fmt.Sprintf("missed[%d].event_id: want 1 to %d bytes", i, maxParam))
		case !validKind(m.Kind):
			return d, errBadRequest(fmt.Sprintf("missed[%d].kind: want detector.kind, e.g. privacy.phone", i))
		case m.Start < 0 || m.End <= m.Start:
			return d, errBadRequest(fmt.Sprintf("missed[%d]: want 0 ≤ start < end (code points)", i))
		}
		if err := validText(fmt.Sprintf("missed[%d].note", i), m.Note, MaxNote, true); err != nil {
			return d, err
		}
		d.Missed = append(d.Missed, store.Missed{EventID: m.EventID, Start: m.Start, End: m.End, Kind: m.Kind, Note: m.Note})
	}
	return d, nil
}

// assigned returns the task id if it is visible to p and assigned to p:
// conflict when it is unassigned or another's (take it first).
func (q *qaService) assigned(r *http.Request, p principal, id int64) (store.Task, error) {
	if err := allow(p, "reviewing", RoleAuditor, RoleAdmin); err != nil {
		return store.Task{}, err
	}
	t, err := q.visibleTask(r.Context(), p, id)
	switch {
	case err != nil:
		return store.Task{}, err
	case t.Assignee == "":
		return store.Task{}, errConflict("the task is not assigned to you: take it first")
	case t.Assignee != p.subject:
		return store.Task{}, errConflict("the task is assigned to someone else")
	}
	return t, nil
}

// qaSaveReview answers PUT /api/qa/tasks/{id}/review.
func (h *Handler) qaSaveReview(w http.ResponseWriter, r *http.Request, p principal, q *qaService) error {
	id, err := pathID(r, "task")
	if err != nil {
		return err
	}
	if _, err := q.assigned(r, p, id); err != nil {
		return err
	}
	var req reviewRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if req.TaskID != 0 && req.TaskID != id {
		return errBadRequest(fmt.Sprintf("task_id %d: the review is of task %d", req.TaskID, id))
	}
	d, err := req.draft(q.cfg.Scorecard(p.tenant))
	if err != nil {
		return err
	}
	rv, err := q.store.SaveReview(r.Context(), p.tenant, id, p.subject, d)
	if err != nil {
		return qaError(err, fmt.Sprintf("task %d", id))
	}
	t, err := q.store.Task(r.Context(), p.tenant, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Task   taskJSON   `json:"task"`
		Review reviewJSON `json:"review"`
	}{taskOf(t), reviewOf(rv)})
	return nil
}

// qaSubmit answers POST /api/qa/tasks/{id}/submit: the body is empty, or
// {"version": N} to submit only the draft as it was read.
func (h *Handler) qaSubmit(w http.ResponseWriter, r *http.Request, p principal, q *qaService) error {
	id, err := pathID(r, "task")
	if err != nil {
		return err
	}
	t, err := q.assigned(r, p, id)
	if err != nil {
		return err
	}
	var req struct {
		Version int64 `json:"version"`
	}
	if err := decodeOptionalBody(w, r, &req); err != nil {
		return err
	}
	rv, err := q.store.TaskReview(r.Context(), p.tenant, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errInvalidTransition("no draft to submit: save the review first")
	case err != nil:
		return err
	case rv.Submitted():
		return errInvalidTransition("the review was submitted")
	case req.Version != 0 && req.Version != rv.Version:
		return errConflict("the draft changed since you read it: read it again")
	}
	score, _, err := q.cfg.Scorecard(p.tenant).Score(rv)
	if err != nil {
		return errInvalidTransition("the review cannot be submitted: " + err.Error())
	}
	conv, err := q.store.Conversation(r.Context(), p.tenant, t.ConversationID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	rv, err = q.store.SubmitReview(r.Context(), p.tenant, id, p.subject, rv.Version, score, qa.AutoScore(conv))
	if err != nil {
		return qaError(err, fmt.Sprintf("task %d", id))
	}
	for _, v := range rv.Verdicts {
		rule := v.Rule
		if rule == "" {
			rule = v.Kind
		}
		q.metrics.verdicts.WithLabelValues(rule, string(v.Verdict)).Inc()
	}
	for _, m := range rv.Missed {
		q.metrics.missed.WithLabelValues(m.Kind).Inc()
	}
	if t, err = q.store.Task(r.Context(), p.tenant, id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Task   taskJSON   `json:"task"`
		Review reviewJSON `json:"review"`
	}{taskOf(t), reviewOf(rv)})
	return nil
}

// decodeOptionalBody is decodeBody for a body that may be empty.
func decodeOptionalBody(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		return errBadRequest("body could not be read")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return decodeBody(w, r, v)
}

// disputeRequest is the body of POST /api/qa/reviews/{id}/disputes.
type disputeRequest struct {
	Finding *store.FindingRef `json:"finding"`
	Reason  string            `json:"reason"`
}

// qaFileDispute answers POST /api/qa/reviews/{id}/disputes: the task's
// agent or a supervisor of its team (or an admin) disputes a submitted
// review within the dispute window.
func (h *Handler) qaFileDispute(w http.ResponseWriter, r *http.Request, p principal, q *qaService) error {
	if err := allow(p, "disputing a review", RoleAgent, RoleSupervisor, RoleAdmin); err != nil {
		return err
	}
	id, err := pathID(r, "review")
	if err != nil {
		return err
	}
	notFound := errNotFound(fmt.Sprintf("no review %d", id))
	rv, err := q.store.Review(r.Context(), p.tenant, id)
	if err != nil {
		return orNotFound(err, notFound)
	}
	t, err := q.store.Task(r.Context(), p.tenant, rv.TaskID)
	switch {
	case err != nil:
		return orNotFound(err, notFound)
	case !p.seesTask(t), p.role == RoleAgent && !rv.Submitted():
		return notFound
	}
	var req disputeRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return errBadRequest("reason: say why")
	}
	if err := validText("reason", req.Reason, MaxNote, true); err != nil {
		return err
	}
	if f := req.Finding; f != nil && (f.EventID == "" || len(f.EventID) > maxParam || f.Index < 0) {
		return errBadRequest("finding: want {\"event_id\", \"index\"} of a finding of the conversation")
	}
	d, err := q.store.FileDispute(r.Context(), p.tenant, id, store.DisputeInput{
		Finding: req.Finding, By: p.subject, ByRole: string(p.role), Reason: req.Reason,
	}, q.cfg.DisputeWindow.D())
	if err != nil {
		return qaError(err, fmt.Sprintf("review %d", id))
	}
	q.metrics.disputes.WithLabelValues(string(store.DisputeOpen)).Inc()
	writeJSON(w, http.StatusCreated, disputeOf(d))
	return nil
}

// qaRuling answers POST /api/qa/disputes/{id}/ruling: a supervisor of the
// task's team, or an admin, rules on an open dispute.
func (h *Handler) qaRuling(w http.ResponseWriter, r *http.Request, p principal, q *qaService) error {
	if err := allow(p, "ruling on a dispute", RoleSupervisor, RoleAdmin); err != nil {
		return err
	}
	id, err := pathID(r, "dispute")
	if err != nil {
		return err
	}
	notFound := errNotFound(fmt.Sprintf("no dispute %d", id))
	d, err := q.store.Dispute(r.Context(), p.tenant, id)
	if err != nil {
		return orNotFound(err, notFound)
	}
	t, err := q.store.Task(r.Context(), p.tenant, d.TaskID)
	switch {
	case err != nil:
		return orNotFound(err, notFound)
	case !p.rulesOn(t):
		return notFound
	}
	var req struct {
		Outcome string `json:"outcome"`
		Note    string `json:"note"`
	}
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	outcome := store.DisputeState(req.Outcome)
	if !outcome.Outcome() {
		return errBadRequest("outcome: want accepted, partly_accepted or rejected")
	}
	if err := validText("note", req.Note, MaxNote, true); err != nil {
		return err
	}
	d, err = q.store.RuleDispute(r.Context(), p.tenant, id, outcome, req.Note, p.subject)
	if err != nil {
		return qaError(err, fmt.Sprintf("dispute %d", id))
	}
	q.metrics.disputes.WithLabelValues(string(outcome)).Inc()
	writeJSON(w, http.StatusOK, disputeOf(d))
	return nil
}

// qaDisputes answers GET /api/qa/disputes.
func (h *Handler) qaDisputes(w http.ResponseWriter, r *http.Request, p principal, q *qaService) error {
	qs := r.URL.Query()
	f := store.DisputeFilter{Tenant: p.tenant}
	switch p.role {
	case RoleAgent:
		if qs.Get("team") != "" {
			return errForbidden("an agent lists its own disputes only")
		}
		f.AgentID = p.agent
	default:
		var err error
		if f.Teams, err = p.narrow(qs.Get("team")); err != nil {
			return err
		}
	}
	if s := qs.Get("state"); s != "" {
		for name := range strings.SplitSeq(s, ",") {
			st := store.DisputeState(strings.TrimSpace(name))
			if !st.Valid() {
				return errBadRequest(fmt.Sprintf("state: %q is not open, accepted, partly_accepted or rejected", name))
			}
			f.States = append(f.States, st)
		}
	}
	var err error
	if f.Limit, err = queryInt(qs, "limit", store.DefaultLimit, 1, store.MaxLimit); err != nil {
		return err
	}
	ds, err := q.store.ListDisputes(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Disputes []disputeJSON `json:"disputes"`
	}{disputesOf(ds)})
	return nil
}

// qaQuota answers GET /api/qa/quota.
func (h *Handler) qaQuota(w http.ResponseWriter, r *http.Request, p principal, q *qaService) error {
	if err := allow(p, "the quota", RoleSupervisor, RoleAdmin); err != nil {
		return err
	}
	qs := r.URL.Query()
	day := h.now().UTC()
	if s := qs.Get("day"); s != "" {
		var err error
		if day, err = time.Parse(time.DateOnly, s); err != nil {
			return errBadRequest("day: want YYYY-MM-DD")
		}
	}
	teams, err := p.narrow(qs.Get("team"))
	if err != nil {
		return err
	}
	rows, err := q.store.Quota(r.Context(), p.tenant, teams, day, q.cfg.AgentDailyMin)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Day     string           `json:"day"`
		Minimum int              `json:"minimum"`
		Agents  []store.QuotaRow `json:"agents"`
	}{day.Format(time.DateOnly), q.cfg.AgentDailyMin, rows})
	return nil
}

// qaPrecision answers GET /api/qa/precision.
func (h *Handler) qaPrecision(w http.ResponseWriter, r *http.Request, p principal, q *qaService) error {
	if err := allow(p, "precision", RoleAuditor, RoleSupervisor, RoleAdmin); err != nil {
		return err
	}
	qs := r.URL.Query()
	since, err := parseWindow("since", qs.Get("since"), h.now(), defaultReportWindow)
	if err != nil {
		return err
	}
	teams, err := p.narrow(qs.Get("team"))
	if err != nil {
		return err
	}
	rows, err := q.store.Precision(r.Context(), p.tenant, teams, since)
	if err != nil {
		return err
	}
	out := make([]precisionJSON, len(rows))
	for i, row := range rows {
		out[i] = precisionJSON{By: row.By, Rule: row.Rule, countsJSON: countsOf(row.VerdictCounts), Days: make([]dayJSON, len(row.Days)), Disputes: row.Disputes}
		for j, d := range row.Days {
			out[i].Days[j] = dayJSON{Day: d.Day, countsJSON: countsOf(d.VerdictCounts)}
		}
	}
	writeJSON(w, http.StatusOK, struct {
		Since time.Time       `json:"since"`
		Rules []precisionJSON `json:"rules"`
	}{since.UTC(), out})
	return nil
}

// qaCalibration answers GET /api/qa/calibration.
func (h *Handler) qaCalibration(w http.ResponseWriter, r *http.Request, p principal, q *qaService) error {
	if err := allow(p, "calibration", RoleSupervisor, RoleAdmin); err != nil {
		return err
	}
	qs := r.URL.Query()
	since, err := parseWindow("since", qs.Get("since"), h.now(), defaultReportWindow)
	if err != nil {
		return err
	}
	teams, err := p.narrow(qs.Get("team"))
	if err != nil {
		return err
	}
	rep, err := q.store.Calibration(r.Context(), p.tenant, teams, since)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Since time.Time `json:"since"`
		store.CalibrationReport
	}{since.UTC(), rep})
	return nil
}

// qaExport answers GET /api/qa/export: reviewed cases as check/replay
// JSON lines or as a Rego test file, masked unless raw=1 (the decrypt
// permission); every exported conversation is written to the audit log
// before the answer.
func (h *Handler) qaExport(w http.ResponseWriter, r *http.Request, p principal, q *qaService) error {
	if err := allow(p, "the export", RoleSupervisor, RoleAdmin); err != nil {
		return err
	}
	qs := r.URL.Query()
	now := h.now()
	since, err := parseWindow("since", qs.Get("since"), now, defaultReportWindow)
	if err != nil {
		return err
	}
	verdict := qs.Get("verdict")
	switch verdict {
	case "":
		verdict = store.ExportAll
	case store.ExportAll, store.ExportFalsePositive, store.ExportMissed:
	default:
		return errBadRequest("verdict: want false_positive, missed or all")
	}
	format := qs.Get("format")
	switch format {
	case "":
		format = "jsonl"
	case "jsonl", "rego":
	default:
		return errBadRequest("format: want jsonl or rego")
	}
	raw := false
	switch qs.Get("raw") {
	case "", "0", "false":
	case "1", "true":
		raw = true
	default:
		return errBadRequest("raw: want 1 or 0")
	}
	if raw && !p.can(PermDecrypt) {
		return errForbidden("a raw export is for principals with the decrypt permission")
	}
	if raw && q.textKey == nil {
		return errUnavailable("the console holds no text key (qa.text_key_env): no raw text can be exported")
	}
	teams, err := p.narrow(qs.Get("team"))
	if err != nil {
		return err
	}
	cases, truncated, err := q.store.ExportCases(r.Context(), p.tenant, teams, since, verdict)
	if err != nil {
		return err
	}
	text := qa.TextSource(qa.MaskedText)
	var opened, failed int
	if raw {
		text = qa.RawText(q.textKey, &opened, &failed)
	}
	var body bytes.Buffer
	var ctype, file string
	switch format {
	case "jsonl":
		if err := qa.WriteJSONL(&body, cases, text); err != nil {
			return err
		}
		ctype, file = "application/x-ndjson; charset=utf-8", "xunjian-qa-cases.jsonl"
	case "rego":
		if _, err := qa.WriteRego(&body, cases, text, qa.RegoHeader{Tenant: p.tenant, Actor: p.subject, At: now, Since: since, Verdict: verdict}); err != nil {
			return err
		}
		ctype, file = "text/plain; charset=utf-8", "xunjian_qa_test.rego"
	}
	entries := make([]store.AuditEntry, 0, len(cases))
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.Task.ConversationID] {
			continue
		}
		seen[c.Task.ConversationID] = true
		ids := []string{}
		for _, t := range c.Conversation.Turns {
			if t.EventID != "" {
				ids = append(ids, t.EventID)
			}
		}
		entries = append(entries, store.AuditEntry{Actor: p.subject, Tenant: p.tenant, Action: store.AuditExport,
			ConversationID: c.Task.ConversationID, EventIDs: ids, Raw: raw})
	}
	if len(entries) > 0 {
		if err := q.store.AppendAudit(r.Context(), entries...); err != nil {
			return fmt.Errorf("audit log: %w", err) // no export without its record
		}
	}
	hdr := w.Header()
	hdr.Set("Content-Type", ctype)
	hdr.Set("Content-Disposition", `attachment; filename="`+file+`"`)
	hdr.Set("X-Xunjian-Export-Cases", strconv.Itoa(len(cases)))
	hdr.Set("X-Xunjian-Export-Truncated", strconv.FormatBool(truncated))
	if raw {
		hdr.Set("X-Xunjian-Export-Raw", fmt.Sprintf("opened=%d failed=%d", opened, failed))
	}
	w.WriteHeader(http.StatusOK)
	w.Write(body.Bytes())
	return nil
}

// qaAuditLog answers GET /api/qa/audit-log: admins only.
func (h *Handler) qaAuditLog(w http.ResponseWriter, r *http.Request, p principal, q *qaService) error {
	if err := allow(p, "the audit log", RoleAdmin); err != nil {
		return err
	}
	qs := r.URL.Query()
	since, err := parseWindow("since", qs.Get("since"), h.now(), defaultReportWindow)
	if err != nil {
		return err
	}
	limit, err := queryInt(qs, "limit", store.DefaultLimit, 1, store.MaxLimit)
	if err != nil {
		return err
	}
	es, err := q.store.AuditLog(r.Context(), p.tenant, since, limit)
	if err != nil {
		return err
	}
	out := make([]auditJSON, len(es))
	for i, e := range es {
		out[i] = auditJSON{ID: e.ID, At: e.At.UTC(), Actor: e.Actor, Tenant: e.Tenant, Action: e.Action,
			ConversationID: e.ConversationID, EventIDs: e.EventIDs, Raw: e.Raw}
	}
	writeJSON(w, http.StatusOK, struct {
		Entries []auditJSON `json:"entries"`
	}{out})
	return nil
}

// orNotFound returns notFound, the API's 404 for what the caller may not
// know exists, for the store's ErrNotFound, and err itself otherwise.
func orNotFound(err, notFound error) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	return err
}
