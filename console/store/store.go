// Package store is the database of `xunjian console`: the events the
// console consumes from the gateway's topics (findings, alerts, samples),
// the supervisors' alerts and their handling, and the delivery ledger of
// the chat-channel notifier.
//
// One Store works on SQLite (modernc.org/sqlite, pure Go, the embedded
// default) or PostgreSQL (pgx), chosen by the DSN given to Open. The code
// path is database/sql for both; the dialects differ only in their
// migrations (embedded, per dialect) and in how Open serialises them.
//
// # What is stored
//
// Events are xunjian.event/v1 events, already masked by the gateway. The
// store keeps their masked parts: text_masked, the findings (with masked
// evidence), the alerts and the context turns. Of text_enc, the raw text
// sealed for auditors, it keeps only that of the events of the samples
// topic (the conversations sampled for QA), still sealed: the store never
// opens it. The API opens it for a principal holding the decrypt
// permission, with the console's text key, and writes every such access
// to the audit log (docs/qa.md). The text_enc of an event of the other
// topics is dropped.
//
// # Quality audits
//
// The first event of a conversation on the samples topic creates its
// review tasks (see TaskPlanner and Ingest); reviews, verdicts, missed
// findings, disputes and the audit log are kept beside them, and the
// reports of docs/qa.md (quota, precision, calibration, export) are
// queries over them.
//
// The gateway publishes one event to up to three topics under one
// event_id: the findings and samples topics get the event with all the
// policy's alerts; the alerts topic gets a copy with only the alerts that
// passed the gateway's deduplication, and the conversation's last turns as
// context. So Ingest is idempotent by (event_id, topic): the message is
// stored once whichever copy comes first, alerts are created only from the
// copy of the alerts topic (the deduplicated ones, as supervisors must see
// them), and a redelivery of a copy already ingested changes nothing.
//
// # Tenants
//
// Every read and every change of an alert, a task, a review, a dispute or
// the audit log takes the tenant explicitly and never returns or touches
// another tenant's rows. The delivery ledger and
// its dead letters are the operator's, not a tenant's: they are keyed by
// the notifier's own keys.
//
// # Times
//
// Times are stored as Unix milliseconds (BIGINT) in both dialects: events
// carry milliseconds, and integer buckets are one expression in both.
//
// # Tests
//
// The tests run every case on SQLite, and on PostgreSQL too when
// XUNJIAN_TEST_POSTGRES holds a DSN; scripts/postgres.sh starts a
// throwaway cluster and prints it:
//
//	scripts/postgres.sh start && eval "export $(scripts/postgres.sh env)" &&
//	  go test -count=1 ./console/...; scripts/postgres.sh stop
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	// The PostgreSQL driver "pgx" for database/sql.
	_ "github.com/jackc/pgx/v5/stdlib"
	// The SQLite driver "sqlite" for database/sql.
	sqlitedriver "modernc.org/sqlite"
	sqlitelib "modernc.org/sqlite/lib"
)

// Sentinel errors, for errors.Is.
var (
	// ErrNotFound is returned when the tenant has no such alert or
	// conversation.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict is returned by Transition when the alert changed since
	// the version the caller saw (another supervisor acted first).
	ErrConflict = errors.New("store: alert changed concurrently")
	// ErrInvalidTransition is returned by Transition for a state change the
	// workflow does not allow (resolved → new, new → new, …).
	ErrInvalidTransition = errors.New("store: invalid state transition")
	// ErrSchemaTooNew is returned by Open when the database was migrated by
	// a newer console than this one: running older code on it could
	// corrupt what the newer code wrote.
	ErrSchemaTooNew = errors.New("store: database schema is newer than this program")
	// ErrTenantMismatch is returned by Ingest for an event whose event_id
	// is already stored under another tenant or conversation: an event_id
	// is unique, so one of the two is forged or broken.
	ErrTenantMismatch = errors.New("store: event_id already stored for another tenant or conversation")
	// ErrMalformedCursor is returned by ListAlerts and ListTasks for a
	// Cursor they did not make: the caller's fault, not the database's.
	ErrMalformedCursor = errors.New("malformed cursor")
	// ErrInvalidReview is returned (wrapped with what is wrong) by
	// SaveReview and FileDispute for a verdict, a missed finding or a
	// disputed finding that names no finding or event of the task's
	// conversation: the caller's fault.
	ErrInvalidReview = errors.New("store: invalid review")
	// ErrWindowClosed is returned by FileDispute once the dispute window
	// of the review has passed. It wraps ErrInvalidTransition.
	ErrWindowClosed = fmt.Errorf("%w: the dispute window has closed", ErrInvalidTransition)
)

// NoTeam, in Filter.Teams or the teams of Counters and AgentStatsOfTeams,
// stands for the rows of agents without a team (SetAgentTeams gave them
// none): a supervisor of no team sees those only.
const NoTeam = ""

// DefaultAlertsTopic is the gateway's default alerts topic
// (stream.DefaultAlertsTopic, not imported to keep the gateway's packages
// out of the console's store): Ingest creates alerts only from events
// delivered on it.
const DefaultAlertsTopic = "xunjian.alerts"

// DefaultSamplesTopic is the gateway's default samples topic
// (stream.DefaultSamplesTopic): Ingest keeps the sealed text of the events
// delivered on it, and creates the review tasks of their conversations.
const DefaultSamplesTopic = "xunjian.samples"

// dialect is the SQL database behind a Store.
type dialect int

const (
	sqlite dialect = iota
	postgres
)

func (d dialect) String() string {
	if d == postgres {
		return "postgres"
	}
	return "sqlite"
}

// Store is the console's database. It is safe for concurrent use, also by
// several console processes on one database (PostgreSQL, or SQLite on one
// machine). Close releases it.
type Store struct {
	db           *sql.DB
	dialect      dialect
	alertsTopic  string
	samplesTopic string
	planner      TaskPlanner
	now          func() time.Time
}

// Option configures Open.
type Option func(*options)

type options struct {
	alertsTopic  string
	samplesTopic string
	planner      TaskPlanner
	now          func() time.Time
}

// WithAlertsTopic names the alerts topic, when the gateway's
// stream.topics.alerts is not DefaultAlertsTopic: Ingest creates alerts
// only from events delivered on it.
func WithAlertsTopic(topic string) Option {
	return func(o *options) { o.alertsTopic = topic }
}

// WithSamplesTopic names the samples topic, when the gateway's
// stream.topics.samples is not DefaultSamplesTopic: Ingest keeps the sealed
// text of the events delivered on it and creates their review tasks.
func WithSamplesTopic(topic string) Option {
	return func(o *options) { o.samplesTopic = topic }
}

// WithTaskPlanner sets what decides the review tasks of a newly sampled
// conversation (the console's qa configuration). Without one, Ingest
// creates no task.
func WithTaskPlanner(p TaskPlanner) Option {
	return func(o *options) { o.planner = p }
}

// WithClock sets the clock the store reads for the times it records itself
// (ingestion, transitions, the ledger) and for the end of AgentStats's
// buckets; the default is time.Now. For tests.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// Open opens the database named by dsn and migrates it to the schema this
// code knows, refusing one migrated by newer code (ErrSchemaTooNew).
// Several processes may Open one database at once: the migrations run
// under a lock, each in a transaction.
//
// The DSN is one of:
//   - sqlite:///abs/path/console.db or sqlite:relative/console.db: a SQLite
//     file (created if missing), in WAL mode;
//   - sqlite::memory:: a private in-memory SQLite database, gone on Close
//     (tests, demos);
//   - postgres://… or postgresql://…: PostgreSQL, the URL as pgx reads it
//     (user, password, host, port, database, sslmode, search_path, …).
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{alertsTopic: DefaultAlertsTopic, samplesTopic: DefaultSamplesTopic, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case o.alertsTopic == "":
		return nil, errors.New("store: empty alerts topic")
	case o.samplesTopic == "":
		return nil, errors.New("store: empty samples topic")
	case o.samplesTopic == o.alertsTopic:
		return nil, errors.New("store: the samples topic is the alerts topic")
	}
	db, d, wal, err := openDB(dsn)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, dialect: d, alertsTopic: o.alertsTopic, samplesTopic: o.samplesTopic, planner: o.planner, now: o.now}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect (%s): %w", d, err)
	}
	if wal {
		if err := setWAL(ctx, db); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// sqliteParams are the connection settings of every SQLite connection:
// wait up to 10 s for a lock instead of failing with SQLITE_BUSY, enforce
// foreign keys, and begin every transaction with BEGIN IMMEDIATE (take the
// write lock first, so two writers queue instead of deadlocking on a lock
// upgrade; the migrations rely on it to serialise two processes).
const sqliteParams = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"

// openDB opens (without connecting) the database of dsn; wal reports a
// SQLite file, to be put in WAL mode.
func openDB(dsn string) (db *sql.DB, d dialect, wal bool, err error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		if _, err := url.Parse(dsn); err != nil {
			// url's error quotes the DSN, which may hold a password.
			return nil, 0, false, errors.New("store: postgres DSN is not a URL")
		}
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, 0, false, fmt.Errorf("store: open postgres: %w", err)
		}
		db.SetMaxOpenConns(16)
		db.SetMaxIdleConns(4)
		db.SetConnMaxIdleTime(5 * time.Minute)
		return db, postgres, false, nil
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "//")
		switch {
		case path == "":
			return nil, 0, false, errors.New("store: sqlite DSN without a path (want sqlite:///path/file.db or sqlite::memory:)")
		case strings.ContainsAny(path, "?#"):
			return nil, 0, false, fmt.Errorf("store: sqlite path %q: ? and # are not allowed", path)
		}
		if path == ":memory:" {
			// Every connection to :memory: is a database of its own: keep
			// exactly one, never closed while the Store is open.
			db, err := sql.Open("sqlite", ":memory:?"+sqliteParams)
			if err != nil {
				return nil, 0, false, fmt.Errorf("store: open sqlite: %w", err)
			}
			db.SetMaxOpenConns(1)
			db.SetMaxIdleConns(1)
			db.SetConnMaxLifetime(0)
			db.SetConnMaxIdleTime(0)
			return db, sqlite, false, nil
		}
		// synchronous=NORMAL is safe in WAL mode (a crash may lose the
		// last commits, never corrupt) and is per connection; WAL itself
		// is a property of the file, set once by setWAL.
		db, err := sql.Open("sqlite", path+"?"+sqliteParams+"&_pragma=synchronous(NORMAL)")
		if err != nil {
			return nil, 0, false, fmt.Errorf("store: open sqlite %s: %w", path, err)
		}
		// WAL lets readers run beside the one writer; writers queue on
		// the busy timeout.
		db.SetMaxOpenConns(4)
		return db, sqlite, true, nil
	}
	return nil, 0, false, errors.New("store: unknown DSN scheme (want sqlite:… or postgres://…)")
}

// walTimeout bounds how long setWAL retries.
const walTimeout = 10 * time.Second

// setWAL puts a SQLite file in WAL mode, which persists in the file. The
// change needs the database to itself and SQLite may answer SQLITE_BUSY at
// once, without waiting on the busy timeout, while another connection or
// process opens it: setWAL retries that until walTimeout. (Set as a DSN
// pragma instead, every new connection of the pool would run it, and one
// could fail in the middle of a query.)
func setWAL(ctx context.Context, db *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, walTimeout)
	defer cancel()
	wait := 5 * time.Millisecond
	for {
		var mode string
		err := db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode)
		var serr *sqlitedriver.Error
		switch {
		case err == nil && strings.EqualFold(mode, "wal"):
			return nil
		case err == nil:
			return fmt.Errorf("store: sqlite journal mode is %q, not wal", mode)
		case !errors.As(err, &serr) || serr.Code()&0xff != sqlitelib.SQLITE_BUSY:
			return fmt.Errorf("store: sqlite WAL mode: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("store: sqlite WAL mode: %w (%w)", err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Dialect names the database behind the store: "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect.String() }

// ms converts t to the stored Unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMS converts stored Unix milliseconds back to a UTC time.
func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// inTx runs f in a transaction, committing when f returns nil and rolling
// back otherwise.
func (s *Store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// args builds a statement's positional arguments and their $n
// placeholders, which both dialects read.
type args []any

// add appends v and returns its placeholder.
func (a *args) add(v any) string {
	*a = append(*a, v)
	return fmt.Sprintf("$%d", len(*a))
}

// teams appends the team names of teams and returns the condition on the
// team column that selects them, NoTeam selecting the rows without a team;
// teams must not be empty.
func (a *args) teams(teams []string) string {
	var named []string
	teamless := false
	for _, t := range teams {
		if t == NoTeam {
			teamless = true
		} else {
			named = append(named, t)
		}
	}
	switch {
	case len(named) == 0:
		return "team IS NULL"
	case teamless:
		return "(team IN " + a.in(named) + " OR team IS NULL)"
	}
	return "team IN " + a.in(named)
}

// in appends vs and returns "(p1, p2, …)" for an IN list; vs must not be
// empty.
func (a *args) in(vs []string) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.add(v))
	}
	b.WriteByte(')')
	return b.String()
}
