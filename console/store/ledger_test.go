package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestLedgerRestart claims and finishes keys, closes the store (a console
// restart) and reopens the same database: what was done stays done, what
// was only claimed is claimed again.
func TestLedgerRestart(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s, err := Open(ctx, db.dsn, WithClock(db.clock.Now))
		if err != nil {
			t.Fatal(err)
		}
		claim := func(s *Store, key string, want bool) {
			t.Helper()
			if done, err := s.Claim(ctx, key); err != nil || done != want {
				t.Errorf("Claim(%s) = %v, %v; want %v", key, done, err, want)
			}
		}
		claim(s, "alert-1/slack", false)
		claim(s, "alert-2/slack", false)
		if err := s.Done(ctx, "alert-1/slack"); err != nil {
			t.Fatal(err)
		}
		claim(s, "alert-1/slack", true)
		if err := s.Done(ctx, "alert-1/slack"); err != nil { // twice: fine
			t.Fatal(err)
		}
		if err := s.Done(ctx, "alert-3/slack"); err != nil { // never claimed: fine
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		s = db.open(t)
		claim(s, "alert-1/slack", true)
		claim(s, "alert-2/slack", false) // the send before the restart may not have happened
		claim(s, "alert-3/slack", true)
		claim(s, "alert-4/slack", false)
		var attempts int
		if err := s.db.QueryRowContext(ctx, `SELECT attempts FROM deliveries WHERE delivery_key = $1`, "alert-2/slack").Scan(&attempts); err != nil || attempts != 2 {
			t.Errorf("alert-2 attempts %d, %v; want 2", attempts, err)
		}
		if _, err := s.Claim(ctx, ""); err == nil {
			t.Error("an empty key was claimed")
		}
	})
}

// TestDeadLetters: dead letters are listed newest first, their texts
// bounded.
func TestDeadLetters(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		long := strings.Repeat("错", 1000) // 3000 bytes
		for i, key := range []string{"k1", "k2", "k3"} {
			db.clock.Set(t0.Add(time.Duration(i) * time.Second))
			if err := s.Dead(ctx, key, "wecom", "alert "+key+" (high, complaint)", "HTTP 500 "+long); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.DeadLetters(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Key != "k3" || got[1].Key != "k2" {
			t.Fatalf("DeadLetters(2) = %+v, want k3, k2", got)
		}
		d := got[0]
		if d.Channel != "wecom" || d.Summary != "alert k3 (high, complaint)" || !d.CreatedAt.Equal(t0.Add(2*time.Second)) {
			t.Errorf("dead letter %+v", d)
		}
		if len(d.Error) > maxError || !strings.HasPrefix(d.Error, "HTTP 500 错") || strings.ToValidUTF8(d.Error, "?") != d.Error {
			t.Errorf("error of %d bytes, valid UTF-8 %v", len(d.Error), strings.ToValidUTF8(d.Error, "?") == d.Error)
		}
		if all, err := s.DeadLetters(ctx, 0); err != nil || len(all) != 3 {
			t.Errorf("DeadLetters(0) = %d, %v; want all 3", len(all), err)
		}
	})
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abc", 2, "ab"},
		{"a错b", 2, "a"},
		{"a错b", 3, "a"},
		{"a错b", 4, "a错"},
		{"错", 0, ""},
	} {
		if got := truncate(tc.s, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}
