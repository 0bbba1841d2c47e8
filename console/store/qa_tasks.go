package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xunjian/xunjian/gateway/stream/event"
)

// TaskState is where a review task stands.
type TaskState string

// The states of a task: open when created, in_review once an auditor took
// it or saved a draft, done once its review is submitted (final).
const (
	TaskOpen     TaskState = "open"
	TaskInReview TaskState = "in_review"
	TaskDone     TaskState = "done"
)

// Valid reports whether s is one of the three states.
func (s TaskState) Valid() bool { return s == TaskOpen || s == TaskInReview || s == TaskDone }

// Why a conversation was sampled (Task.Reason). The gateway's events do
// not say: the planner infers it (see docs/qa.md).
const (
	ReasonHash     = "hash"
	ReasonHighRisk = "high_risk"
	ReasonAgentMin = "agent_min"
	ReasonPolicy   = "policy"
)

// Task is a review task: one per sampled conversation and reviewer.
type Task struct {
	ID             int64  `json:"id"`
	Tenant         string `json:"tenant"`
	ConversationID string `json:"conversation_id"`
	// AgentID is the agent of the conversation's first sampled event.
	AgentID string `json:"agent_id"`
	// Team is the agent's team when the task was created; empty for none.
	Team string  `json:"team"`
	Lang string  `json:"lang"`
	Risk float64 `json:"risk"`
	// Reason is why the conversation was sampled: ReasonHash,
	// ReasonHighRisk, ReasonAgentMin or ReasonPolicy.
	Reason string `json:"reason"`
	// Assignee is the auditor's subject; empty while unassigned.
	Assignee string    `json:"assignee"`
	State    TaskState `json:"state"`
	DueAt    time.Time `json:"due_at"`
	// SampledAt is the time of the conversation's first sampled event:
	// the day the task counts for in the quota.
	SampledAt time.Time `json:"sampled_at"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// CalibrationGroup is shared by the tasks of a conversation chosen
	// for calibration, one per auditor; empty otherwise.
	CalibrationGroup string `json:"calibration_group,omitempty"`
}

// SampledConversation is what a TaskPlanner knows of a conversation whose
// first event just arrived on the samples topic.
type SampledConversation struct {
	Tenant         string
	ConversationID string
	AgentID        string
	// Team is the agent's team (SetAgentTeams), NoTeam for none.
	Team string
	// Risk is the conversation's risk after the event.
	Risk float64
	// TS is the event's time.
	TS time.Time
	// TextMasked is the event's masked text (to tell its language).
	TextMasked string
	// AgentSampledToday counts the agent's other conversations sampled on
	// TS's UTC day, as the store has seen them.
	AgentSampledToday int
}

// TaskPlan is a TaskPlanner's decision for a sampled conversation.
type TaskPlan struct {
	// Reason is why the conversation was sampled (Task.Reason).
	Reason string
	// Lang is the conversation's language (Task.Lang).
	Lang string
	// Due is how long the reviewers have: Task.DueAt is the creation
	// plus Due.
	Due time.Duration
	// Calibration, when it names two auditors or more, gives each a task
	// of its own in the group CalibrationGroup, and Pool is ignored.
	Calibration      []string
	CalibrationGroup string
	// Pool are the auditors the conversation's one task goes to, in turn
	// (a counter per tenant and pool, in the database, so that several
	// consoles share the turns); empty leaves the task unassigned.
	Pool []string
}

// TaskPlanner decides the review tasks of a newly sampled conversation:
// the console's qa configuration (package console/qa). Its method must
// not block: it runs inside Ingest's transaction.
type TaskPlanner interface {
	PlanTasks(SampledConversation) TaskPlan
}

// ingestSample keeps what the samples topic adds to an event: its sealed
// text, and, for the first event of its conversation there, the
// conversation's review tasks. It runs in Ingest's transaction.
func (s *Store) ingestSample(ctx context.Context, tx *sql.Tx, ev *event.Event, team sql.NullString, now int64) error {
	if ev.TextEnc != nil {
		enc, err := json.Marshal(ev.TextEnc)
		if err != nil {
			return fmt.Errorf("text_enc: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sealed_texts (event_id, tenant, text_enc) VALUES ($1, $2, $3)
			ON CONFLICT (event_id) DO NOTHING`, ev.EventID, ev.Tenant, string(enc)); err != nil {
			return fmt.Errorf("sealed text: %w", err)
		}
	}
	if s.planner == nil {
		return nil
	}
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM qa_tasks WHERE tenant = $1 AND conversation_id = $2`,
		ev.Tenant, ev.ConversationID).Scan(&n); err != nil {
		return fmt.Errorf("tasks: %w", err)
	}
	if n > 0 {
		return nil // tasks are made once per conversation
	}
	day := ms(ev.TS) - ms(ev.TS)%msPerDay
	var today int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(DISTINCT conversation_id) FROM qa_tasks
		WHERE tenant = $1 AND agent_id = $2 AND sampled_ms >= $3 AND sampled_ms < $4`,
		ev.Tenant, ev.AgentID, day, day+msPerDay).Scan(&today); err != nil {
		return fmt.Errorf("tasks of the agent: %w", err)
	}
	plan := s.planner.PlanTasks(SampledConversation{
		Tenant: ev.Tenant, ConversationID: ev.ConversationID, AgentID: ev.AgentID, Team: team.String, Risk: ev.Risk,
		TS: ev.TS, TextMasked: ev.TextMasked, AgentSampledToday: int(today),
	})
	insert := func(slot, assignee string, group sql.NullString) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO qa_tasks (tenant, conversation_id, slot, agent_id, team, lang, risk, reason,
				assignee, calibration_group, sampled_ms, due_ms, created_ms, updated_ms)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
			ON CONFLICT (tenant, conversation_id, slot) DO NOTHING`,
			ev.Tenant, ev.ConversationID, slot, ev.AgentID, team, plan.Lang, ev.Risk, plan.Reason, assignee, group,
			ms(ev.TS), now+plan.Due.Milliseconds(), now)
		if err != nil {
			return fmt.Errorf("task: %w", err)
		}
		return nil
	}
	if len(plan.Calibration) >= 2 {
		group := sql.NullString{String: plan.CalibrationGroup, Valid: true}
		for _, auditor := range plan.Calibration {
			if err := insert(auditor, auditor, group); err != nil {
				return err
			}
		}
		return nil
	}
	assignee := ""
	if len(plan.Pool) > 0 {
		var turn int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO qa_assign (tenant, pool, n) VALUES ($1, $2, 1)
			ON CONFLICT (tenant, pool) DO UPDATE SET n = qa_assign.n + 1 RETURNING n`,
			ev.Tenant, strings.Join(plan.Pool, "\n")).Scan(&turn); err != nil {
			return fmt.Errorf("assignment turn: %w", err)
		}
		assignee = plan.Pool[(turn-1)%int64(len(plan.Pool))]
	}
	return insert("", assignee, sql.NullString{})
}

// msPerDay is a UTC day in milliseconds.
const msPerDay = 24 * 60 * 60 * 1000

const taskColumns = `id, tenant, conversation_id, agent_id, team, lang, risk, reason, assignee, state, calibration_group,
	sampled_ms, due_ms, created_ms, updated_ms`

// scanTask reads one row of taskColumns.
func scanTask(r rowScanner) (Task, error) {
	var (
		t                               Task
		team, group                     sql.NullString
		state                           string
		sampled, due, created, modified int64
	)
	if err := r.Scan(&t.ID, &t.Tenant, &t.ConversationID, &t.AgentID, &team, &t.Lang, &t.Risk, &t.Reason, &t.Assignee,
		&state, &group, &sampled, &due, &created, &modified); err != nil {
		return Task{}, err
	}
	t.Team, t.State, t.CalibrationGroup = team.String, TaskState(state), group.String
	t.SampledAt, t.DueAt, t.CreatedAt, t.UpdatedAt = fromMS(sampled), fromMS(due), fromMS(created), fromMS(modified)
	return t, nil
}

// queryer is *sql.DB or *sql.Tx.
type queryer interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// queryTasks runs a query of taskColumns and reads all its rows.
func queryTasks(ctx context.Context, q queryer, query string, a ...any) ([]Task, error) {
	rows, err := q.QueryContext(ctx, query, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Task{}
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Task returns the tenant's task id, or ErrNotFound.
func (s *Store) Task(ctx context.Context, tenant string, id int64) (Task, error) {
	return s.task(ctx, s.db, tenant, id)
}

func (s *Store) task(ctx context.Context, q queryer, tenant string, id int64) (Task, error) {
	t, err := scanTask(q.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM qa_tasks WHERE id = $1 AND tenant = $2`, id, tenant))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Task{}, fmt.Errorf("store: task %d: %w", id, ErrNotFound)
	case err != nil:
		return Task{}, fmt.Errorf("store: task %d: %w", id, err)
	}
	return t, nil
}

// ConversationTasks returns the tenant's tasks of a conversation, oldest
// first (several for a calibration group).
func (s *Store) ConversationTasks(ctx context.Context, tenant, conversationID string) ([]Task, error) {
	out, err := queryTasks(ctx, s.db, `SELECT `+taskColumns+` FROM qa_tasks WHERE tenant = $1 AND conversation_id = $2 ORDER BY id`,
		tenant, conversationID)
	if err != nil {
		return nil, fmt.Errorf("store: tasks of conversation %s: %w", conversationID, err)
	}
	return out, nil
}

// TaskFilter selects the tasks ListTasks returns. Only Tenant is
// required.
type TaskFilter struct {
	// Tenant is the tenant whose tasks are listed (required).
	Tenant string
	// Teams restricts the list to tasks of these teams, as Filter.Teams
	// does for alerts: nil for all, NoTeam for agents without a team,
	// empty for none.
	Teams []string
	// Auditor, when set, restricts the list to what that auditor sees:
	// the tasks assigned to it, whatever their team, and the unassigned
	// ones of AuditorTeams (as Teams: nil for all, empty for none).
	Auditor      string
	AuditorTeams []string
	// Assignee, when set, selects the tasks assigned to it; Unassigned
	// selects those assigned to no one.
	Assignee   string
	Unassigned bool
	// AgentID, when set, selects the tasks of that agent.
	AgentID string
	// States, when not empty, selects tasks in one of these states.
	States []TaskState
	// Limit caps the page (default DefaultLimit, at most MaxLimit).
	Limit int
	// Cursor continues a listing where the page that returned it ended.
	Cursor string
}

// ListTasks returns a page of the tasks f selects, the soonest due first
// (then by id), and the Cursor of the next page ("" at the end). Paging is
// keyset, as ListAlerts's.
func (s *Store) ListTasks(ctx context.Context, f TaskFilter) (tasks []Task, next string, err error) {
	if f.Tenant == "" {
		return nil, "", errors.New("store: list tasks: empty tenant")
	}
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = DefaultLimit
	case limit > MaxLimit:
		limit = MaxLimit
	}
	var a args
	where := []string{"tenant = " + a.add(f.Tenant)}
	if f.Teams != nil {
		if len(f.Teams) == 0 {
			return []Task{}, "", nil
		}
		where = append(where, a.teams(f.Teams))
	}
	switch {
	case f.Auditor != "" && f.AuditorTeams != nil && len(f.AuditorTeams) == 0:
		where = append(where, "assignee = "+a.add(f.Auditor))
	case f.Auditor != "" && f.AuditorTeams != nil:
		where = append(where, "(assignee = "+a.add(f.Auditor)+" OR (assignee = '' AND "+a.teams(f.AuditorTeams)+"))")
	case f.Auditor != "":
		where = append(where, "(assignee = "+a.add(f.Auditor)+" OR assignee = '')")
	}
	if f.Assignee != "" {
		where = append(where, "assignee = "+a.add(f.Assignee))
	}
	if f.Unassigned {
		where = append(where, "assignee = ''")
	}
	if f.AgentID != "" {
		where = append(where, "agent_id = "+a.add(f.AgentID))
	}
	if len(f.States) > 0 {
		states := make([]string, len(f.States))
		for i, st := range f.States {
			states[i] = string(st)
		}
		where = append(where, "state IN "+a.in(states))
	}
	if f.Cursor != "" {
		due, id, err := parseTaskCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		where = append(where, fmt.Sprintf("(due_ms, id) > (%s, %s)", a.add(due), a.add(id)))
	}
	out, err := queryTasks(ctx, s.db, `SELECT `+taskColumns+` FROM qa_tasks WHERE `+strings.Join(where, " AND ")+
		` ORDER BY due_ms, id LIMIT `+a.add(int64(limit+1)), a...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list tasks: %w", err)
	}
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d|%d", ms(last.DueAt), last.ID))
	}
	return out, next, nil
}

// parseTaskCursor reads a cursor of ListTasks.
func parseTaskCursor(s string) (due, id int64, err error) {
	bad := fmt.Errorf("store: list tasks: %w", ErrMalformedCursor)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, 0, bad
	}
	d, i, ok := strings.Cut(string(b), "|")
	if !ok {
		return 0, 0, bad
	}
	due, err1 := strconv.ParseInt(d, 10, 64)
	id, err2 := strconv.ParseInt(i, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, bad
	}
	return due, id, nil
}

// TakeTask assigns the tenant's task id to auditor and puts it in review:
// when it is unassigned or already the auditor's. ErrConflict when it is
// another auditor's, ErrInvalidTransition when it is done, ErrNotFound.
func (s *Store) TakeTask(ctx context.Context, tenant string, id int64, auditor string) (Task, error) {
	if tenant == "" || auditor == "" {
		return Task{}, errors.New("store: take task: empty tenant or auditor")
	}
	var out Task
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		t, err := s.task(ctx, tx, tenant, id)
		switch {
		case err != nil:
			return err
		case t.State == TaskDone:
			return fmt.Errorf("%w: the task is done", ErrInvalidTransition)
		case t.Assignee != "" && t.Assignee != auditor:
			return fmt.Errorf("%w: the task is assigned to someone else", ErrConflict)
		}
		now := ms(s.now())
		res, err := tx.ExecContext(ctx, `UPDATE qa_tasks SET assignee = $1, state = $2, updated_ms = $3
			WHERE id = $4 AND tenant = $5 AND assignee IN ('', $1) AND state <> 'done'`,
			auditor, string(TaskInReview), now, id, tenant)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return fmt.Errorf("%w: the task changed meanwhile", ErrConflict)
		}
		t.Assignee, t.State, t.UpdatedAt = auditor, TaskInReview, fromMS(now)
		out = t
		return nil
	})
	if err != nil {
		return Task{}, fmt.Errorf("store: take task %d: %w", id, err)
	}
	return out, nil
}
