package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xunjian/xunjian/console/qa"
	"github.com/xunjian/xunjian/console/store"
	"github.com/xunjian/xunjian/gateway/stream/event"
)

// QAStore is what the quality-audit endpoints read and change of the
// console's database; *store.Store implements it. Every method takes the
// tenant.
type QAStore interface {
	ListTasks(ctx context.Context, f store.TaskFilter) ([]store.Task, string, error)
	Task(ctx context.Context, tenant string, id int64) (store.Task, error)
	TakeTask(ctx context.Context, tenant string, id int64, auditor string) (store.Task, error)
	TaskReview(ctx context.Context, tenant string, taskID int64) (store.Review, error)
	Review(ctx context.Context, tenant string, id int64) (store.Review, error)
	SaveReview(ctx context.Context, tenant string, taskID int64, auditor string, d store.ReviewDraft) (store.Review, error)
	SubmitReview(ctx context.Context, tenant string, taskID int64, auditor string, version int64, score, autoScore float64) (store.Review, error)
	Conversation(ctx context.Context, tenant, id string) (store.Conversation, error)
	SealedTexts(ctx context.Context, tenant, conversationID string) ([]store.SealedText, error)
	FileDispute(ctx context.Context, tenant string, reviewID int64, in store.DisputeInput, window time.Duration) (store.Dispute, error)
	RuleDispute(ctx context.Context, tenant string, id int64, outcome store.DisputeState, note, by string) (store.Dispute, error)
	Dispute(ctx context.Context, tenant string, id int64) (store.Dispute, error)
	ListDisputes(ctx context.Context, f store.DisputeFilter) ([]store.Dispute, error)
	Quota(ctx context.Context, tenant string, teams []string, day time.Time, minimum int) ([]store.QuotaRow, error)
	Precision(ctx context.Context, tenant string, teams []string, since time.Time) ([]store.PrecisionRow, error)
	Calibration(ctx context.Context, tenant string, teams []string, since time.Time) (store.CalibrationReport, error)
	ExportCases(ctx context.Context, tenant string, teams []string, since time.Time, filter string) ([]store.ExportCase, bool, error)
	AppendAudit(ctx context.Context, entries ...store.AuditEntry) error
	AuditLog(ctx context.Context, tenant string, since time.Time, limit int) ([]store.AuditEntry, error)
}

// QAOptions enable the quality-audit endpoints under /api/qa
// (docs/qa.md).
type QAOptions struct {
	// Store is the console's database (required).
	Store QAStore
	// Config is the qa section of the configuration, defaulted and
	// validated (required).
	Config *qa.Config
	// TextKey opens the sealed raw text of sampled conversations; nil
	// shows raw text to no one (503 on the endpoints that would).
	TextKey *event.Encryptor
}

// qaService is the state of the quality-audit endpoints.
type qaService struct {
	store   QAStore
	cfg     *qa.Config
	textKey *event.Encryptor
	metrics *qaMetrics
}

// newQA checks o and registers the QA metrics in reg.
func newQA(o *QAOptions, reg prometheus.Registerer) (*qaService, error) {
	if o.Store == nil || o.Config == nil {
		return nil, errors.New("api: qa: no store or no configuration")
	}
	m, err := newQAMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &qaService{store: o.Store, cfg: o.Config, textKey: o.TextKey, metrics: m}, nil
}

// qaMetrics are the QA's Prometheus metrics.
type qaMetrics struct {
	verdicts *prometheus.CounterVec
	missed   *prometheus.CounterVec
	disputes *prometheus.CounterVec
}

func newQAMetrics(reg prometheus.Registerer) (*qaMetrics, error) {
	m := &qaMetrics{
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xunjian_console_qa_verdicts_total",
			Help: "Verdicts of submitted QA reviews on the gateway's findings, by the finding's rule (its kind when it has none) and verdict (correct, false_positive, wrong_kind).",
		}, []string{"rule", "verdict"}),
		missed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xunjian_console_qa_missed_total",
			Help: "Findings the gateway missed, per submitted QA review, by kind.",
		}, []string{"kind"}),
		disputes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xunjian_console_qa_disputes_total",
			Help: "QA disputes, by outcome: open when filed, then accepted, partly_accepted or rejected when ruled.",
		}, []string{"outcome"}),
	}
	for _, c := range []prometheus.Collector{m.verdicts, m.missed, m.disputes} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("api: qa metrics: %w", err)
		}
	}
	return m, nil
}

// qaRoutes adds the endpoints of docs/qa.md to m: answered 404 when the
// QA is not enabled (Options.QA nil).
func (h *Handler) qaRoutes(m *http.ServeMux) {
	route := func(pattern string, f func(w http.ResponseWriter, r *http.Request, p principal, q *qaService) error) {
		m.Handle(pattern, h.agentAPI(func(w http.ResponseWriter, r *http.Request, p principal) error {
			if h.qa == nil {
				return errNotFound("the quality audits are not enabled")
			}
			return f(w, r, p, h.qa)
		}))
	}
	route("GET /api/qa/tasks", h.qaTasks)
	route("POST /api/qa/tasks/{id}/take", h.qaTake)
	route("GET /api/qa/tasks/{id}", h.qaTask)
	route("GET /api/qa/tasks/{id}/raw", h.qaRaw)
	route("PUT /api/qa/tasks/{id}/review", h.qaSaveReview)
	route("POST /api/qa/tasks/{id}/submit", h.qaSubmit)
	route("POST /api/qa/reviews/{id}/disputes", h.qaFileDispute)
	route("POST /api/qa/disputes/{id}/ruling", h.qaRuling)
	route("GET /api/qa/disputes", h.qaDisputes)
	route("GET /api/qa/quota", h.qaQuota)
	route("GET /api/qa/precision", h.qaPrecision)
	route("GET /api/qa/calibration", h.qaCalibration)
	route("GET /api/qa/export", h.qaExport)
	route("GET /api/qa/audit-log", h.qaAuditLog)
}

// allow returns forbidden unless p's role is one of roles.
func allow(p principal, what string, roles ...Role) error {
	for _, r := range roles {
		if p.role == r {
			return nil
		}
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return errForbidden(fmt.Sprintf("%s: for %s only", what, strings.Join(names, ", ")))
}

// seesTask reports whether p may read the task t of its tenant: an admin
// every task; a supervisor those of its teams; an auditor those assigned
// to it, whatever their team, and the unassigned ones of its teams (which
// it may take); an agent those of its own conversations.
func (p principal) seesTask(t store.Task) bool {
	switch {
	case t.Tenant != p.tenant:
		return false
	case p.role == RoleAdmin:
		return true
	case p.role == RoleSupervisor:
		return p.sees(t.Tenant, t.Team)
	case p.role == RoleAuditor:
		return t.Assignee == p.subject || t.Assignee == "" && p.sees(t.Tenant, t.Team)
	case p.role == RoleAgent:
		return p.agent != "" && t.AgentID == p.agent
	}
	return false
}

// rulesOn reports whether p rules on the disputes of task t: a supervisor
// of its team, an admin.
func (p principal) rulesOn(t store.Task) bool {
	return t.Tenant == p.tenant && (p.role == RoleAdmin || p.role == RoleSupervisor && p.sees(t.Tenant, t.Team))
}

// pathID reads the {id} of a path: a positive integer.
func pathID(r *http.Request, what string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errBadRequest(what + " id: want a positive integer")
	}
	return id, nil
}

// visibleTask returns the task id if p may read it, else not_found: a
// task of another tenant, team, auditor or agent is not revealed to
// exist.
func (q *qaService) visibleTask(ctx context.Context, p principal, id int64) (store.Task, error) {
	t, err := q.store.Task(ctx, p.tenant, id)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && !p.seesTask(t):
		return store.Task{}, errNotFound(fmt.Sprintf("no task %d", id))
	case err != nil:
		return store.Task{}, err
	}
	return t, nil
}

// qaError maps the store's errors of a QA change to their answers; what
// names the thing changed, for not_found.
func qaError(err error, what string) error {
	var ae *apiError
	switch {
	case err == nil || errors.As(err, &ae):
		return err
	case errors.Is(err, store.ErrNotFound):
		return errNotFound("no " + what)
	case errors.Is(err, store.ErrWindowClosed):
		return errInvalidTransition("the dispute window of the review has closed")
	case errors.Is(err, store.ErrInvalidTransition):
		return errInvalidTransition(after(err, store.ErrInvalidTransition))
	case errors.Is(err, store.ErrConflict):
		return errConflict(after(err, store.ErrConflict))
	case errors.Is(err, store.ErrInvalidReview):
		return errBadRequest(after(err, store.ErrInvalidReview))
	}
	return err
}

// after returns what err says after sentinel: the store wraps its
// sentinels as "sentinel: detail", and the detail is meant for the
// client (ids and field names, nothing secret).
func after(err, sentinel error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, sentinel.Error()+": "); i >= 0 {
		return msg[i+len(sentinel.Error())+2:]
	}
	return strings.TrimPrefix(sentinel.Error(), "store: ")
}

// parseWindow reads a since parameter of the QA reports: RFC 3339, a
// duration ("720h"), or a number of days ("30d"); def when empty.
func parseWindow(name, s string, now time.Time, def time.Duration) (time.Time, error) {
	if s == "" {
		return now.Add(-def), nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 && n <= 3660 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	t, err := parseSince(name, s, now)
	if err != nil {
		return time.Time{}, errBadRequest(fmt.Sprintf("%s: want an RFC 3339 time, a positive duration such as 24h or a number of days such as 30d", name))
	}
	return t, nil
}
