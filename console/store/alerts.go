package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Level is an alert's level, low to critical, the higher the graver; it
// marshals as its name. The zero value, LevelUnknown, is a level the store
// did not recognise in an event (it sorts below low).
type Level int

// The levels of xunjian.event/v1 alerts.
const (
	LevelUnknown Level = iota
	LevelLow
	LevelMedium
	LevelHigh
	LevelCritical
)

var levelNames = [...]string{"unknown", "low", "medium", "high", "critical"}

// String returns the level's name.
func (l Level) String() string {
	if l < LevelUnknown || l > LevelCritical {
		return "Level(" + strconv.Itoa(int(l)) + ")"
	}
	return levelNames[l]
}

// ParseLevel returns the level named s (low, medium, high, critical; case
// as in events, lower).
func ParseLevel(s string) (Level, error) {
	for l := LevelLow; l <= LevelCritical; l++ {
		if levelNames[l] == s {
			return l, nil
		}
	}
	return LevelUnknown, fmt.Errorf("store: unknown alert level %q (want low, medium, high or critical)", s)
}

// MarshalText implements encoding.TextMarshaler with the level's name.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; see ParseLevel.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// State is where a supervisor's handling of an alert stands.
type State string

// The states. An alert starts new; it can be acknowledged (someone is on
// it), then resolved, or resolved directly. Resolved is final.
const (
	StateNew          State = "new"
	StateAcknowledged State = "acknowledged"
	StateResolved     State = "resolved"
)

// Valid reports whether s is one of the three states.
func (s State) Valid() bool {
	return s == StateNew || s == StateAcknowledged || s == StateResolved
}

// canTransition reports whether the workflow allows from → to.
func canTransition(from, to State) bool {
	switch from {
	case StateNew:
		return to == StateAcknowledged || to == StateResolved
	case StateAcknowledged:
		return to == StateResolved
	}
	return false
}

// Alert is a supervisor alert: one alert of an event of the alerts topic,
// with its handling.
type Alert struct {
	ID      int64  `json:"id"`
	EventID string `json:"event_id"`
	Tenant  string `json:"tenant"`
	// Team is the agent's team when the alert was ingested (SetAgentTeams);
	// empty when the agent had none.
	Team           string `json:"team,omitempty"`
	AgentID        string `json:"agent_id"`
	ConversationID string `json:"conversation_id"`
	Level          Level  `json:"level"`
	Kind           string `json:"kind"`
	Message        string `json:"message"`
	// Risk is the conversation's complaint risk after the alerting
	// message, in [0, 1].
	Risk float64 `json:"risk"`
	// CreatedAt is the alerting message's time (the event's ts).
	CreatedAt time.Time `json:"created_at"`
	State     State     `json:"state"`
	Assignee  string    `json:"assignee,omitempty"`
	// Note is the note of the latest transition that had one.
	Note string `json:"note,omitempty"`
	// Version counts the alert's changes; pass it to Transition to act
	// only on the alert as it was read.
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Change is one transition of an alert, as its history keeps it.
type Change struct {
	Actor    string    `json:"actor"`
	At       time.Time `json:"at"`
	From     State     `json:"from"`
	To       State     `json:"to"`
	Assignee string    `json:"assignee,omitempty"`
	Note     string    `json:"note,omitempty"`
}

const alertColumns = `id, event_id, tenant, team, agent_id, conversation_id, level_rank, kind, message, risk, created_ms, state, assignee, note, version, updated_ms`

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// scanAlert reads one row of alertColumns.
func scanAlert(r rowScanner) (Alert, error) {
	var (
		a                Alert
		team             sql.NullString
		created, updated int64
		state            string
		level            int64
	)
	if err := r.Scan(&a.ID, &a.EventID, &a.Tenant, &team, &a.AgentID, &a.ConversationID, &level, &a.Kind, &a.Message,
		&a.Risk, &created, &state, &a.Assignee, &a.Note, &a.Version, &updated); err != nil {
		return Alert{}, err
	}
	a.Team, a.Level, a.State = team.String, Level(level), State(state)
	a.CreatedAt, a.UpdatedAt = fromMS(created), fromMS(updated)
	return a, nil
}

// queryAlerts runs a query of alertColumns and reads all its rows.
func queryAlerts(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, a ...any) ([]Alert, error) {
	rows, err := q.QueryContext(ctx, query, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		al, err := scanAlert(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, al)
	}
	return out, rows.Err()
}

// Alert returns the tenant's alert id, or ErrNotFound.
func (s *Store) Alert(ctx context.Context, tenant string, id int64) (Alert, error) {
	a, err := scanAlert(s.db.QueryRowContext(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = $1 AND tenant = $2`, id, tenant))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Alert{}, fmt.Errorf("store: alert %d: %w", id, ErrNotFound)
	case err != nil:
		return Alert{}, fmt.Errorf("store: alert %d: %w", id, err)
	}
	return a, nil
}

// EventAlerts returns the alerts the tenant's event raised, in the event's
// order: for the caller of Ingest, to show or post the alerts it just
// stored.
func (s *Store) EventAlerts(ctx context.Context, tenant, eventID string) ([]Alert, error) {
	out, err := queryAlerts(ctx, s.db, `SELECT `+alertColumns+` FROM alerts WHERE event_id = $1 AND tenant = $2 ORDER BY idx`, eventID, tenant)
	if err != nil {
		return nil, fmt.Errorf("store: alerts of event %s: %w", eventID, err)
	}
	return out, nil
}

// History returns the transitions of the tenant's alert id, oldest first
// (empty for an alert never handled; ErrNotFound for no such alert).
func (s *Store) History(ctx context.Context, tenant string, id int64) ([]Change, error) {
	if _, err := s.Alert(ctx, tenant, id); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT actor, at_ms, from_state, to_state, assignee, note
		FROM alert_history WHERE alert_id = $1 AND tenant = $2 ORDER BY id`, id, tenant)
	if err != nil {
		return nil, fmt.Errorf("store: history of alert %d: %w", id, err)
	}
	defer rows.Close()
	out := []Change{}
	for rows.Next() {
		var (
			c        Change
			at       int64
			from, to string
		)
		if err := rows.Scan(&c.Actor, &at, &from, &to, &c.Assignee, &c.Note); err != nil {
			return nil, fmt.Errorf("store: history of alert %d: %w", id, err)
		}
		c.At, c.From, c.To = fromMS(at), State(from), State(to)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: history of alert %d: %w", id, err)
	}
	return out, nil
}

// Transition moves the tenant's alert id to state to on behalf of actor,
// recording the change in the alert's history, and returns the alert as
// changed.
//
// The workflow is new → acknowledged → resolved, or new → resolved; any
// other change (to the same state, back, out of resolved) fails with
// ErrInvalidTransition. assignee, when not empty, becomes the alert's
// assignee; note, when not empty, its note; both go into the history.
//
// expectedVersion, when not zero, is the Version the caller read: if the
// alert changed since, Transition fails with ErrConflict and changes
// nothing, so of two supervisors acting on one alert as they saw it one
// succeeds and the other is told to reload. With zero, Transition acts on
// the alert as it is, and still fails with ErrConflict if the alert
// changes between its read and its write.
func (s *Store) Transition(ctx context.Context, tenant string, id int64, actor string, to State, assignee, note string, expectedVersion int64) (Alert, error) {
	switch {
	case tenant == "":
		return Alert{}, errors.New("store: transition: empty tenant")
	case actor == "":
		return Alert{}, errors.New("store: transition: empty actor")
	case !to.Valid():
		return Alert{}, fmt.Errorf("store: transition: %w: unknown state %q", ErrInvalidTransition, to)
	}
	var out Alert
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := scanAlert(tx.QueryRowContext(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = $1 AND tenant = $2`, id, tenant))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return err
		case expectedVersion != 0 && cur.Version != expectedVersion:
			return fmt.Errorf("%w: version %d, expected %d", ErrConflict, cur.Version, expectedVersion)
		case !canTransition(cur.State, to):
			return fmt.Errorf("%w: %s → %s", ErrInvalidTransition, cur.State, to)
		}
		next := cur
		next.State, next.Version, next.UpdatedAt = to, cur.Version+1, fromMS(ms(s.now()))
		if assignee != "" {
			next.Assignee = assignee
		}
		if note != "" {
			next.Note = note
		}
		// The version guard makes the write fail if another transaction
		// changed the alert after the read above (PostgreSQL's READ
		// COMMITTED re-checks it after waiting for the other's lock).
		res, err := tx.ExecContext(ctx, `UPDATE alerts SET state = $1, assignee = $2, note = $3, version = $4, updated_ms = $5
			WHERE id = $6 AND tenant = $7 AND version = $8`,
			string(next.State), next.Assignee, next.Note, next.Version, ms(next.UpdatedAt), id, tenant, cur.Version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return fmt.Errorf("%w: version %d changed during the transition", ErrConflict, cur.Version)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO alert_history (alert_id, tenant, actor, at_ms, from_state, to_state, assignee, note)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			id, tenant, actor, ms(next.UpdatedAt), string(cur.State), string(to), assignee, note); err != nil {
			return err
		}
		out = next
		return nil
	})
	if err != nil {
		return Alert{}, fmt.Errorf("store: transition alert %d to %s: %w", id, to, err)
	}
	return out, nil
}

// Filter selects the alerts ListAlerts returns. Only Tenant is required.
type Filter struct {
	// Tenant is the tenant whose alerts are listed (required).
	Tenant string
	// Teams restricts the list to alerts of these teams, NoTeam standing
	// for the alerts of agents without a team. nil means all of the
	// tenant's alerts, teamless ones included; an empty, non-nil slice
	// means none.
	Teams []string
	// AgentID, Kind and ConversationID, when not empty, select alerts of
	// that agent, kind and conversation.
	AgentID        string
	Kind           string
	ConversationID string
	// MinLevel, when set, drops alerts below it.
	MinLevel Level
	// States, when not empty, selects alerts in one of these states.
	States []State
	// Since, when not zero, drops alerts created before it.
	Since time.Time
	// Limit caps the page (default DefaultLimit, at most MaxLimit).
	Limit int
	// Cursor continues a listing where the page that returned it ended;
	// "" starts at the top.
	Cursor string
}

// Page sizes of ListAlerts.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// ListAlerts returns a page of the alerts f selects, gravest first: by
// level (critical first), then by the conversation's risk at the alert
// (highest first), then newest first. next is the Cursor of the page
// after this one, "" at the end. Paging is by position in that order
// (keyset), so alerts ingested while a supervisor pages appear on the
// pages of their place, and none is listed twice.
func (s *Store) ListAlerts(ctx context.Context, f Filter) (alerts []Alert, next string, err error) {
	if f.Tenant == "" {
		return nil, "", errors.New("store: list alerts: empty tenant")
	}
	if f.Teams != nil && len(f.Teams) == 0 {
		return []Alert{}, "", nil
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
		where = append(where, a.teams(f.Teams))
	}
	if f.AgentID != "" {
		where = append(where, "agent_id = "+a.add(f.AgentID))
	}
	if f.Kind != "" {
		where = append(where, "kind = "+a.add(f.Kind))
	}
	if f.ConversationID != "" {
		where = append(where, "conversation_id = "+a.add(f.ConversationID))
	}
	if f.MinLevel > LevelUnknown {
		where = append(where, "level_rank >= "+a.add(int64(f.MinLevel)))
	}
	if len(f.States) > 0 {
		states := make([]string, len(f.States))
		for i, st := range f.States {
			states[i] = string(st)
		}
		where = append(where, "state IN "+a.in(states))
	}
	if !f.Since.IsZero() {
		where = append(where, "created_ms >= "+a.add(ms(f.Since)))
	}
	if f.Cursor != "" {
		c, err := parseCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		// The order is descending on every key: what comes after the
		// cursor is smaller as a row.
		where = append(where, fmt.Sprintf("(level_rank, risk, created_ms, id) < (%s, %s, %s, %s)",
			a.add(c.level), a.add(c.risk), a.add(c.created), a.add(c.id)))
	}
	query := `SELECT ` + alertColumns + ` FROM alerts WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY level_rank DESC, risk DESC, created_ms DESC, id DESC LIMIT ` + a.add(int64(limit+1))
	out, err := queryAlerts(ctx, s.db, query, a...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list alerts: %w", err)
	}
	if out == nil {
		out = []Alert{}
	}
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = cursor{level: int64(last.Level), risk: last.Risk, created: ms(last.CreatedAt), id: last.ID}.String()
	}
	return out, next, nil
}

// cursor is the position of the last alert of a page in ListAlerts's
// order.
type cursor struct {
	level   int64
	risk    float64
	created int64
	id      int64
}

// String encodes c as an opaque URL-safe token. The risk is written with
// the shortest exact representation, so it compares equal to the stored
// value.
func (c cursor) String() string {
	s := fmt.Sprintf("%d|%s|%d|%d", c.level, strconv.FormatFloat(c.risk, 'g', -1, 64), c.created, c.id)
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func parseCursor(s string) (cursor, error) {
	bad := fmt.Errorf("store: list alerts: %w", ErrMalformedCursor)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, bad
	}
	parts := strings.Split(string(b), "|")
	if len(parts) != 4 {
		return cursor{}, bad
	}
	var c cursor
	var errs [4]error
	c.level, errs[0] = strconv.ParseInt(parts[0], 10, 64)
	c.risk, errs[1] = strconv.ParseFloat(parts[1], 64)
	c.created, errs[2] = strconv.ParseInt(parts[2], 10, 64)
	c.id, errs[3] = strconv.ParseInt(parts[3], 10, 64)
	if errors.Join(errs[:]...) != nil {
		return cursor{}, bad
	}
	return c, nil
}
