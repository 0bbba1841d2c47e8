package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xunjian/xunjian/gateway/stream/event"
)

// DisputeState is where a dispute stands: open until ruled, then one of
// the three outcomes (final).
type DisputeState string

// The states of a dispute.
const (
	DisputeOpen           DisputeState = "open"
	DisputeAccepted       DisputeState = "accepted"
	DisputePartlyAccepted DisputeState = "partly_accepted"
	DisputeRejected       DisputeState = "rejected"
)

// Valid reports whether s is one of the four states.
func (s DisputeState) Valid() bool { return s == DisputeOpen || s.Outcome() }

// Outcome reports whether s is a ruling's outcome (not open).
func (s DisputeState) Outcome() bool {
	return s == DisputeAccepted || s == DisputePartlyAccepted || s == DisputeRejected
}

// FindingRef names a finding: its event and its index there.
type FindingRef struct {
	EventID string `json:"event_id"`
	Index   int    `json:"index"`
}

// Dispute is a dispute of a submitted review, or of one of its findings,
// with the task it is about.
type Dispute struct {
	ID       int64  `json:"id"`
	ReviewID int64  `json:"review_id"`
	TaskID   int64  `json:"task_id"`
	Tenant   string `json:"tenant"`
	// ConversationID, AgentID and Team are the task's.
	ConversationID string `json:"conversation_id"`
	AgentID        string `json:"agent_id"`
	Team           string `json:"team"`
	// Auditor is the review's.
	Auditor string `json:"auditor"`
	// Finding is the disputed finding; nil for the review as a whole.
	Finding *FindingRef `json:"finding"`
	// By is who filed it (a subject), ByRole its role (agent, supervisor,
	// admin).
	By         string       `json:"by"`
	ByRole     string       `json:"by_role"`
	Reason     string       `json:"reason"`
	State      DisputeState `json:"state"`
	RulingNote string       `json:"ruling_note"`
	RuledBy    string       `json:"ruled_by"`
	// RuledAt is zero while open.
	RuledAt   time.Time `json:"ruled_at"`
	CreatedAt time.Time `json:"created_at"`
}

// DisputeInput is a dispute to file.
type DisputeInput struct {
	// Finding, when set, names the disputed finding of the review's
	// conversation.
	Finding *FindingRef
	By      string
	ByRole  string
	Reason  string
}

const disputeColumns = `d.id, d.review_id, r.task_id, d.tenant, t.conversation_id, t.agent_id, t.team, r.auditor, d.event_id, d.finding_index,
	d.by_actor, d.by_role, d.reason, d.state, d.ruling_note, d.ruled_by, d.ruled_ms, d.created_ms`

const disputeFrom = ` FROM qa_disputes d JOIN qa_reviews r ON r.id = d.review_id JOIN qa_tasks t ON t.id = r.task_id`

func scanDispute(r rowScanner) (Dispute, error) {
	var (
		d       Dispute
		team    sql.NullString
		eventID sql.NullString
		index   sql.NullInt64
		ruled   sql.NullInt64
		state   string
		created int64
	)
	if err := r.Scan(&d.ID, &d.ReviewID, &d.TaskID, &d.Tenant, &d.ConversationID, &d.AgentID, &team, &d.Auditor, &eventID, &index,
		&d.By, &d.ByRole, &d.Reason, &state, &d.RulingNote, &d.RuledBy, &ruled, &created); err != nil {
		return Dispute{}, err
	}
	d.Team, d.State, d.CreatedAt = team.String, DisputeState(state), fromMS(created)
	if eventID.Valid {
		d.Finding = &FindingRef{EventID: eventID.String, Index: int(index.Int64)}
	}
	if ruled.Valid {
		d.RuledAt = fromMS(ruled.Int64)
	}
	return d, nil
}

func queryDisputes(ctx context.Context, q queryer, query string, a ...any) ([]Dispute, error) {
	rows, err := q.QueryContext(ctx, query, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Dispute{}
	for rows.Next() {
		d, err := scanDispute(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func (s *Store) dispute(ctx context.Context, q queryer, tenant string, id int64) (Dispute, error) {
	d, err := scanDispute(q.QueryRowContext(ctx, `SELECT `+disputeColumns+disputeFrom+` WHERE d.id = $1 AND d.tenant = $2`, id, tenant))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Dispute{}, ErrNotFound
	case err != nil:
		return Dispute{}, err
	}
	return d, nil
}

// Dispute returns the tenant's dispute id, or ErrNotFound.
func (s *Store) Dispute(ctx context.Context, tenant string, id int64) (Dispute, error) {
	d, err := s.dispute(ctx, s.db, tenant, id)
	if err != nil {
		return Dispute{}, fmt.Errorf("store: dispute %d: %w", id, err)
	}
	return d, nil
}

// FileDispute files a dispute of the tenant's review reviewID: only of a
// submitted review (ErrInvalidTransition otherwise), within window of its
// submission (ErrWindowClosed after), of a finding of the task's
// conversation when in.Finding is set (ErrInvalidReview otherwise), and
// once at a time per review and finding (ErrConflict while one is open).
// ErrNotFound for no such review.
func (s *Store) FileDispute(ctx context.Context, tenant string, reviewID int64, in DisputeInput, window time.Duration) (Dispute, error) {
	if tenant == "" || in.By == "" || in.ByRole == "" {
		return Dispute{}, errors.New("store: file dispute: empty tenant or author")
	}
	var out Dispute
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rv, err := s.review(ctx, tx, tenant, "id", reviewID)
		if err != nil {
			return err
		}
		now := s.now()
		switch {
		case !rv.Submitted():
			return fmt.Errorf("%w: the review is not submitted", ErrInvalidTransition)
		case now.After(rv.SubmittedAt.Add(window)):
			return ErrWindowClosed
		}
		var a args
		where := "review_id = " + a.add(reviewID) + " AND state = 'open' AND "
		var eventID sql.NullString
		var index sql.NullInt64
		if f := in.Finding; f != nil {
			t, err := s.task(ctx, tx, tenant, rv.TaskID)
			if err != nil {
				return err
			}
			findings, err := conversationFindings(ctx, tx, tenant, t.ConversationID)
			if err != nil {
				return err
			}
			if fs, ok := findings[f.EventID]; !ok || f.Index < 0 || f.Index >= len(fs) {
				return fmt.Errorf("%w: finding %d of event %q is not of the conversation", ErrInvalidReview, f.Index, f.EventID)
			}
			eventID, index = sql.NullString{String: f.EventID, Valid: true}, sql.NullInt64{Int64: int64(f.Index), Valid: true}
			where += "event_id = " + a.add(f.EventID) + " AND finding_index = " + a.add(int64(f.Index))
		} else {
			where += "event_id IS NULL"
		}
		var open int64
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM qa_disputes WHERE `+where, a...).Scan(&open); err != nil {
			return err
		}
		if open > 0 {
			return fmt.Errorf("%w: a dispute of it is open", ErrConflict)
		}
		var id int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO qa_disputes (tenant, review_id, event_id, finding_index, by_actor, by_role, reason, created_ms)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			tenant, reviewID, eventID, index, in.By, in.ByRole, in.Reason, ms(now)).Scan(&id); err != nil {
			return err
		}
		out, err = s.dispute(ctx, tx, tenant, id)
		return err
	})
	if err != nil {
		return Dispute{}, fmt.Errorf("store: dispute of review %d: %w", reviewID, err)
	}
	return out, nil
}

// RuleDispute rules the tenant's open dispute id with outcome (accepted,
// partly_accepted or rejected), on behalf of by. ErrInvalidTransition when
// it was ruled already or outcome is not an outcome, ErrNotFound.
func (s *Store) RuleDispute(ctx context.Context, tenant string, id int64, outcome DisputeState, note, by string) (Dispute, error) {
	if !outcome.Outcome() {
		return Dispute{}, fmt.Errorf("store: rule dispute %d: %w: %q is not an outcome", id, ErrInvalidTransition, outcome)
	}
	if tenant == "" || by == "" {
		return Dispute{}, errors.New("store: rule dispute: empty tenant or actor")
	}
	var out Dispute
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE qa_disputes SET state = $1, ruling_note = $2, ruled_by = $3, ruled_ms = $4
			WHERE id = $5 AND tenant = $6 AND state = 'open'`, string(outcome), note, by, ms(s.now()), id, tenant)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			if _, err := s.dispute(ctx, tx, tenant, id); err != nil {
				return err
			}
			return fmt.Errorf("%w: the dispute was ruled already", ErrInvalidTransition)
		}
		out, err = s.dispute(ctx, tx, tenant, id)
		return err
	})
	if err != nil {
		return Dispute{}, fmt.Errorf("store: rule dispute %d: %w", id, err)
	}
	return out, nil
}

// DisputeFilter selects the disputes ListDisputes returns. Only Tenant is
// required.
type DisputeFilter struct {
	Tenant string
	// Teams restricts the list to disputes of tasks of these teams, as
	// TaskFilter.Teams.
	Teams []string
	// AgentID, ReviewID, when set, select the disputes of that agent's
	// tasks, of that review.
	AgentID  string
	ReviewID int64
	// States, when not empty, selects disputes in one of these states.
	States []DisputeState
	// Limit caps the list (default DefaultLimit, at most MaxLimit).
	Limit int
}

// ListDisputes returns the disputes f selects, newest first.
func (s *Store) ListDisputes(ctx context.Context, f DisputeFilter) ([]Dispute, error) {
	if f.Tenant == "" {
		return nil, errors.New("store: list disputes: empty tenant")
	}
	if f.Teams != nil && len(f.Teams) == 0 {
		return []Dispute{}, nil
	}
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = DefaultLimit
	case limit > MaxLimit:
		limit = MaxLimit
	}
	var a args
	where := []string{"d.tenant = " + a.add(f.Tenant)}
	if f.Teams != nil {
		where = append(where, a.teams(f.Teams))
	}
	if f.AgentID != "" {
		where = append(where, "t.agent_id = "+a.add(f.AgentID))
	}
	if f.ReviewID != 0 {
		where = append(where, "d.review_id = "+a.add(f.ReviewID))
	}
	if len(f.States) > 0 {
		states := make([]string, len(f.States))
		for i, st := range f.States {
			states[i] = string(st)
		}
		where = append(where, "d.state IN "+a.in(states))
	}
	out, err := queryDisputes(ctx, s.db, `SELECT `+disputeColumns+disputeFrom+` WHERE `+strings.Join(where, " AND ")+
		` ORDER BY d.created_ms DESC, d.id DESC LIMIT `+a.add(int64(limit)), a...)
	if err != nil {
		return nil, fmt.Errorf("store: list disputes: %w", err)
	}
	return out, nil
}

// AuditEntry is one row of the audit log: who read raw text or exported
// cases, when, of which conversation and events.
type AuditEntry struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Tenant string    `json:"tenant"`
	// Action is "decrypt" (raw text read) or "export".
	Action         string   `json:"action"`
	ConversationID string   `json:"conversation_id"`
	EventIDs       []string `json:"event_ids"`
	// Raw reports that raw text was shown or exported.
	Raw bool `json:"raw"`
}

// The actions of the audit log.
const (
	AuditDecrypt = "decrypt"
	AuditExport  = "export"
)

// AppendAudit writes entries to the audit log in one transaction, each at
// the store's clock's time.
func (s *Store) AppendAudit(ctx context.Context, entries ...AuditEntry) error {
	now := ms(s.now())
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for i, e := range entries {
			if e.Tenant == "" || e.Actor == "" || e.Action == "" {
				return fmt.Errorf("entry %d: empty tenant, actor or action", i)
			}
			ids := e.EventIDs
			if ids == nil {
				ids = []string{}
			}
			b, err := json.Marshal(ids)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO qa_audit_log (tenant, at_ms, actor, action, conversation_id, event_ids, raw)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, e.Tenant, now, e.Actor, e.Action, e.ConversationID, string(b), e.Raw); err != nil {
				return fmt.Errorf("entry %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: audit log: %w", err)
	}
	return nil
}

// AuditLog returns the tenant's audit log since since, newest first, at
// most limit entries (default DefaultLimit, at most MaxLimit).
func (s *Store) AuditLog(ctx context.Context, tenant string, since time.Time, limit int) ([]AuditEntry, error) {
	switch {
	case limit <= 0:
		limit = DefaultLimit
	case limit > MaxLimit:
		limit = MaxLimit
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, at_ms, actor, tenant, action, conversation_id, event_ids, raw FROM qa_audit_log
		WHERE tenant = $1 AND at_ms >= $2 ORDER BY at_ms DESC, id DESC LIMIT $3`, tenant, ms(since), int64(limit))
	if err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var (
			e   AuditEntry
			at  int64
			ids string
		)
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Tenant, &e.Action, &e.ConversationID, &ids, &e.Raw); err != nil {
			return nil, fmt.Errorf("store: audit log: %w", err)
		}
		e.At = fromMS(at)
		if err := json.Unmarshal([]byte(ids), &e.EventIDs); err != nil {
			return nil, fmt.Errorf("store: audit log: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	return out, nil
}

// SealedText is the raw text of an event, sealed as the gateway sealed it.
type SealedText struct {
	EventID string
	TextEnc event.TextEnc
}

// SealedTexts returns the sealed texts of the tenant's conversation (those
// of its events that came on the samples topic with a text_enc), oldest
// event first. The store does not open them.
func (s *Store) SealedTexts(ctx context.Context, tenant, conversationID string) ([]SealedText, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT st.event_id, st.text_enc FROM sealed_texts st JOIN events e ON e.event_id = st.event_id
		WHERE st.tenant = $1 AND e.tenant = $1 AND e.conversation_id = $2 ORDER BY e.ts_ms, e.event_id`, tenant, conversationID)
	if err != nil {
		return nil, fmt.Errorf("store: sealed texts of %s: %w", conversationID, err)
	}
	defer rows.Close()
	out := []SealedText{}
	for rows.Next() {
		var (
			st  SealedText
			enc string
		)
		if err := rows.Scan(&st.EventID, &enc); err != nil {
			return nil, fmt.Errorf("store: sealed texts of %s: %w", conversationID, err)
		}
		if err := json.Unmarshal([]byte(enc), &st.TextEnc); err != nil {
			return nil, fmt.Errorf("store: sealed text of event %s: %w", st.EventID, err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: sealed texts of %s: %w", conversationID, err)
	}
	return out, nil
}
