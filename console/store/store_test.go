package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/xunjian/xunjian/gateway/stream/event"
)

// TestMigrationsMatch keeps the dialects' migrations in step: the same
// versions, with the same names.
func TestMigrationsMatch(t *testing.T) {
	lite, err := migrations(sqlite)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := migrations(postgres)
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) != len(pg) {
		t.Fatalf("%d sqlite migrations, %d postgres", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].name != pg[i].name {
			t.Errorf("migration %d: sqlite %s, postgres %s", i+1, lite[i].name, pg[i].name)
		}
	}
	if SchemaVersion() != int64(len(lite)) {
		t.Errorf("SchemaVersion() = %d, want %d", SchemaVersion(), len(lite))
	}
}

// TestMigrate opens an empty database (it is migrated), opens it again (a
// no-op), and opens it from four goroutines at once (each migration is
// applied once; no Open fails).
func TestMigrate(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		versions := func() []string {
			rows, err := s.db.QueryContext(ctx, `SELECT version, name, applied_ms FROM schema_migrations ORDER BY version`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []string
			for rows.Next() {
				var (
					v, at int64
					name  string
				)
				if err := rows.Scan(&v, &name, &at); err != nil {
					t.Fatal(err)
				}
				out = append(out, fmt.Sprintf("%d %s %d", v, name, at))
			}
			return out
		}
		first := versions()
		if int64(len(first)) != SchemaVersion() {
			t.Fatalf("after Open: %q, want %d versions", first, SchemaVersion())
		}

		db.clock.Set(t0.Add(1e9)) // a re-applied migration would show a new applied_ms
		db.open(t)
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				s, err := Open(ctx, db.dsn, WithClock(db.clock.Now))
				if err == nil {
					err = s.Close()
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent Open: %v", err)
			}
		}
		if again := versions(); strings.Join(again, ",") != strings.Join(first, ",") {
			t.Errorf("schema_migrations changed by a re-open: %q, was %q", again, first)
		}
	})
}

// TestMigrateConcurrentFromEmpty starts four Opens at once on an empty
// database: one migrates, the others wait and find it done.
func TestMigrateConcurrentFromEmpty(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				s, err := Open(ctx, db.dsn)
				if err == nil {
					err = s.Close()
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent Open: %v", err)
			}
		}
		s := db.open(t)
		if n := count(t, s, "schema_migrations", "1 = 1"); int64(n) != SchemaVersion() {
			t.Errorf("%d rows in schema_migrations, want %d", n, SchemaVersion())
		}
	})
}

// TestFutureSchemaRefused: a database migrated by a newer console is
// refused, and left as it was.
func TestFutureSchemaRefused(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		future := SchemaVersion() + 1
		if _, err := s.db.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, 'from_the_future', 0)`, future); err != nil {
			t.Fatal(err)
		}
		s.Close()
		_, err := Open(ctx, db.dsn)
		if !errors.Is(err, ErrSchemaTooNew) {
			t.Fatalf("Open of a version %d database: %v, want ErrSchemaTooNew", future, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprint(future)) {
			t.Errorf("error %q does not name version %d", err, future)
		}
	})
}

// TestOpenDSN checks the DSNs Open accepts and refuses.
func TestOpenDSN(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		dsn     string
		wantErr string
	}{
		{dsn: "sqlite::memory:"},
		{dsn: "sqlite://" + t.TempDir() + "/a.db"},
		{dsn: "sqlite:", wantErr: "without a path"},
		{dsn: "sqlite:///tmp/x.db?_pragma=foo", wantErr: "not allowed"},
		{dsn: "mysql://localhost/db", wantErr: "unknown DSN scheme"},
		{dsn: "", wantErr: "unknown DSN scheme"},
		{dsn: "postgres://user:secret@127.0.0.1:1/db?connect_timeout=1", wantErr: "connect"},
	} {
		t.Run(tc.dsn, func(t *testing.T) {
			s, err := Open(ctx, tc.dsn)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want an error with %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

// TestSealedTextOnlyFromSamples ingests an event whose raw text is sealed
// in text_enc (with alerts and context) from the findings and alerts
// topics: no column of any table holds the ciphertext, the nonce or the
// raw text. Then from the samples topic: the sealed text is kept, in
// sealed_texts.text_enc only, still sealed (the raw text is nowhere), and
// it opens with the key.
func TestSealedTextOnlyFromSamples(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		const raw = "call me at 13800138000, RAW-PLAINTEXT-MARKER"
		enc, err := event.NewEncryptor(base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")), "k1")
		if err != nil {
			t.Fatal(err)
		}
		e := ev("t1", "c1", "a1", t0, withFinding("privacy", "phone"), withAlert("high", "privacy"))
		e.TextMasked = "call me at 138****8000"
		e.Context = []event.Turn{{Role: event.RoleAgent, TS: e.TS, TextMasked: e.TextMasked, Action: "block"}}
		sealed, err := enc.Encrypt([]byte(raw), []byte(e.EventID))
		if err != nil {
			t.Fatal(err)
		}
		e.TextEnc = &sealed
		// Round-trip through the wire form, as the console receives it.
		b, err := e.Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		if e, err = event.Parse(b); err != nil {
			t.Fatal(err)
		}
		forbidden := map[string][]byte{
			"ciphertext":        sealed.Ciphertext,
			"ciphertext base64": []byte(base64.StdEncoding.EncodeToString(sealed.Ciphertext)),
			"nonce base64":      []byte(base64.StdEncoding.EncodeToString(sealed.Nonce)),
			"raw text":          []byte(raw),
			"raw marker":        []byte("RAW-PLAINTEXT-MARKER"),
		}
		// check scans every cell, wanting none to hold a forbidden value
		// but the sealed ones in allowed ("table.column").
		check := func(allowed string) {
			t.Helper()
			cells := 0
			for _, table := range tables(t, s) {
				rows, err := s.db.QueryContext(ctx, `SELECT * FROM `+table)
				if err != nil {
					t.Fatal(err)
				}
				cols, _ := rows.Columns()
				for rows.Next() {
					vals := make([]any, len(cols))
					ptrs := make([]any, len(cols))
					for i := range vals {
						ptrs[i] = &vals[i]
					}
					if err := rows.Scan(ptrs...); err != nil {
						t.Fatal(err)
					}
					for i, v := range vals {
						var cell []byte
						switch v := v.(type) {
						case []byte:
							cell = v
						case string:
							cell = []byte(v)
						default:
							cell = fmt.Append(nil, v)
						}
						cells++
						for what, f := range forbidden {
							if !strings.Contains(string(cell), string(f)) {
								continue
							}
							if table+"."+cols[i] == allowed && !strings.HasPrefix(what, "raw") {
								continue
							}
							t.Errorf("%s.%s holds the %s", table, cols[i], what)
						}
					}
				}
				rows.Close()
			}
			if cells < 50 {
				t.Errorf("only %d cells checked: the event was not stored?", cells)
			}
		}
		for _, topic := range []string{findingsTopic, alertsTopic} {
			ingest(t, s, e, topic)
		}
		check("")
		ingest(t, s, e, samplesTopic)
		check("sealed_texts.text_enc")
		got, err := s.SealedTexts(ctx, "t1", "c1")
		if err != nil || len(got) != 1 || got[0].EventID != e.EventID {
			t.Fatalf("SealedTexts = %+v, %v", got, err)
		}
		opened := event.Event{EventID: e.EventID, TextEnc: &got[0].TextEnc}
		if text, err := opened.DecryptText(enc); err != nil || text != raw {
			t.Errorf("the kept sealed text opens to %q, %v", text, err)
		}
		if other, err := s.SealedTexts(ctx, "t2", "c1"); err != nil || len(other) != 0 {
			t.Errorf("another tenant's SealedTexts = %+v, %v", other, err)
		}
	})
}

// tables lists the store's tables.
func tables(t *testing.T, s *Store) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if s.dialect == postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	}
	rows, err := s.db.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		out = append(out, name)
	}
	if len(out) < 10 {
		t.Fatalf("tables: %q", out)
	}
	return out
}

// TestMemoryDSN: sqlite::memory: is one database for all the Store's
// callers (one connection), also under concurrency.
func TestMemoryDSN(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite::memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := s.Ingest(ctx, ev("t1", fmt.Sprint("c", i), "a1", t0, withAlert("low", "wait")), alertsTopic, 0, int64(i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	alerts, _, err := s.ListAlerts(ctx, Filter{Tenant: "t1"})
	if err != nil || len(alerts) != 8 {
		t.Fatalf("ListAlerts: %d alerts, %v; want 8", len(alerts), err)
	}
	var mode string
	if err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "memory" {
		t.Errorf("journal_mode %q, %v", mode, err)
	}
}

// TestSQLiteSettings checks what every SQLite connection is set to.
func TestSQLiteSettings(t *testing.T) {
	s := freshDB(t, "sqlite").open(t)
	ctx := context.Background()
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000"} {
		var got string
		if err := s.db.QueryRowContext(ctx, `PRAGMA `+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}
