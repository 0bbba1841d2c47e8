package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/xunjian/xunjian/console/store/storetest"
	"github.com/xunjian/xunjian/gateway/stream/event"
)

// Topics as the gateway names them by default.
const (
	findingsTopic = "xunjian.findings"
	alertsTopic   = DefaultAlertsTopic
	samplesTopic  = "xunjian.samples"
)

// t0 is the tests' "now".
var t0 = time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)

// testDB is a fresh, empty database of one dialect.
type testDB struct {
	dialect string
	dsn     string
	clock   *clock
}

// eachDialect runs f as a subtest per dialect, each on a fresh database:
// SQLite always (a file in a temp dir), PostgreSQL (a schema of its own in
// the database of storetest.PostgresEnv) when the variable is set.
func eachDialect(t *testing.T, f func(t *testing.T, db testDB)) {
	t.Helper()
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) { f(t, freshDB(t, d)) })
	}
}

// freshDB returns an empty database of dialect d, removed after the test.
func freshDB(t *testing.T, d string) testDB {
	t.Helper()
	return testDB{dialect: d, clock: &clock{now: t0}, dsn: storetest.DSN(t, d)}
}

// open opens the database with the test's clock, closing it after the
// test.
func (db testDB) open(t *testing.T, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), db.dsn, append([]Option{WithClock(db.clock.Now)}, opts...)...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// ev builds an agent draft's event; opts change it.
func ev(tenant, conv, agent string, ts time.Time, opts ...func(*event.Event)) *event.Event {
	e := &event.Event{
		EventID: uuid.Must(uuid.NewV7()).String(), TS: ts.Truncate(time.Millisecond), Tenant: tenant,
		ConversationID: conv, AgentID: agent, Role: event.RoleAgent, Action: event.ActionAllow,
		Findings: []event.Finding{}, Reasons: []event.Reason{}, Alerts: []event.Alert{}, Shadow: []event.Reason{},
		PolicyRevision: "rev-1", TextMasked: "masked text",
	}
	for _, o := range opts {
		o(e)
	}
	return e
}

// withAlert adds an alert.
func withAlert(level, kind string) func(*event.Event) {
	return func(e *event.Event) {
		e.Alerts = append(e.Alerts, event.Alert{Level: level, Kind: kind, Message: kind + " (" + level + ")"})
	}
}

// withRisk sets the conversation's risk.
func withRisk(r float64) func(*event.Event) { return func(e *event.Event) { e.Risk = r } }

// withFinding adds a finding.
func withFinding(detector, kind string) func(*event.Event) {
	return func(e *event.Event) {
		e.Findings = append(e.Findings, event.Finding{Detector: detector, Kind: kind, Severity: event.SeverityHigh,
			Score: 0.9, Start: 3, End: 14, Evidence: "138****0000", Rule: detector + "." + kind})
	}
}

// asCustomer makes the event a customer's message.
func asCustomer(e *event.Event) { e.Role, e.Action = event.RoleCustomer, event.ActionAllow }

// ingest ingests e from topic, failing the test on an error.
func ingest(t *testing.T, s *Store, e *event.Event, topic string) bool {
	t.Helper()
	ok, err := s.Ingest(context.Background(), e, topic, 0, 1)
	if err != nil {
		t.Fatalf("Ingest %s from %s: %v", e.EventID, topic, err)
	}
	return ok
}

// count returns SELECT COUNT(*) FROM table WHERE where.
func count(t *testing.T, s *Store, table, where string, a ...any) int {
	t.Helper()
	var n int
	if err := s.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM `+table+` WHERE `+where, a...).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}
