package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/xunjian/xunjian/gateway/stream/event"
)

// TestIngestIdempotent: the same event twice (a redelivery, at another
// offset after a rebalance) is stored once.
func TestIngestIdempotent(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		e := ev("t1", "c1", "a1", t0, withFinding("privacy", "phone"), withAlert("high", "privacy"), withAlert("low", "wait"))
		for i, want := range []bool{true, false} {
			got, err := s.Ingest(ctx, e, alertsTopic, 2, int64(100+i))
			if err != nil || got != want {
				t.Fatalf("Ingest #%d = %v, %v; want %v", i+1, got, err, want)
			}
		}
		for table, want := range map[string]int{"events": 1, "findings": 1, "alerts": 2, "ingested": 1} {
			if n := count(t, s, table, "1 = 1"); n != want {
				t.Errorf("%d rows in %s, want %d", n, table, want)
			}
		}
		var offset int64
		if err := s.db.QueryRowContext(ctx, `SELECT kafka_offset FROM ingested WHERE event_id = $1`, e.EventID).Scan(&offset); err != nil || offset != 100 {
			t.Errorf("kafka_offset %d, %v; want the first delivery's, 100", offset, err)
		}
	})
}

// TestIngestTopics: the gateway sends one event to several topics; the
// message is stored once, and alerts come only from the alerts topic's
// copy (deduplicated by the gateway), never from the others' (all the
// policy's alerts).
func TestIngestTopics(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		full := ev("t1", "c1", "a1", t0, withFinding("privacy", "phone"), withAlert("high", "privacy"), withAlert("medium", "complaint"))
		forAlerts := *full
		forAlerts.Alerts = full.Alerts[:1] // the gateway suppressed the repeat "complaint"
		for _, step := range []struct {
			e     *event.Event
			topic string
			want  bool
		}{
			{full, findingsTopic, true},
			{full, samplesTopic, true},
			{&forAlerts, alertsTopic, true},
			{full, findingsTopic, false},
			{&forAlerts, alertsTopic, false},
		} {
			if got := ingest(t, s, step.e, step.topic); got != step.want {
				t.Errorf("Ingest from %s = %v, want %v", step.topic, got, step.want)
			}
		}
		if n := count(t, s, "events", "1 = 1"); n != 1 {
			t.Errorf("%d events, want 1", n)
		}
		if n := count(t, s, "findings", "1 = 1"); n != 1 {
			t.Errorf("%d findings, want 1", n)
		}
		alerts, err := s.EventAlerts(ctx, "t1", full.EventID)
		if err != nil {
			t.Fatal(err)
		}
		if len(alerts) != 1 || alerts[0].Kind != "privacy" || alerts[0].Level != LevelHigh || alerts[0].State != StateNew {
			t.Errorf("alerts %+v, want the one privacy alert of the alerts topic", alerts)
		}

		// A custom alerts topic.
		s2 := db.open(t, WithAlertsTopic("acme.alerts"))
		e := ev("t1", "c2", "a1", t0, withAlert("low", "wait"))
		ingest(t, s2, e, alertsTopic) // not the alerts topic of s2
		ingest(t, s2, e, "acme.alerts")
		if alerts, err := s2.EventAlerts(ctx, "t1", e.EventID); err != nil || len(alerts) != 1 {
			t.Errorf("alerts from acme.alerts: %d, %v; want 1", len(alerts), err)
		}
	})
}

// TestIngestConcurrent ingests one event from 8 goroutines at once (8
// consumers after a rebalance): one stores it, seven find it stored.
func TestIngestConcurrent(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		e := ev("t1", "c1", "a1", t0, withFinding("privacy", "phone"), withAlert("critical", "privacy"),
			func(e *event.Event) {
				e.Context = []event.Turn{{Role: event.RoleAgent, TS: e.TS, TextMasked: "x", Action: "allow", Delivered: true}}
			})
		var inserted atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				ok, err := s.Ingest(ctx, e, alertsTopic, i%3, int64(i))
				if err != nil {
					t.Errorf("goroutine %d: %v", i, err)
				}
				if ok {
					inserted.Add(1)
				}
			})
		}
		wg.Wait()
		if n := inserted.Load(); n != 1 {
			t.Errorf("%d goroutines inserted, want 1", n)
		}
		for table, want := range map[string]int{"events": 1, "findings": 1, "alerts": 1, "ingested": 1, "context_turns": 1} {
			if n := count(t, s, table, "1 = 1"); n != want {
				t.Errorf("%d rows in %s, want %d", n, table, want)
			}
		}
	})
}

// TestIngestRefuses: malformed events and an event_id reused by another
// tenant are errors, and store nothing.
func TestIngestRefuses(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		e := ev("t1", "c1", "a1", t0, withAlert("high", "privacy"))
		ingest(t, s, e, findingsTopic)
		forged := *e
		forged.Tenant = "t2"
		if _, err := s.Ingest(ctx, &forged, alertsTopic, 0, 9); !errors.Is(err, ErrTenantMismatch) {
			t.Errorf("Ingest of t1's event_id for t2: %v, want ErrTenantMismatch", err)
		}
		if n := count(t, s, "alerts", "1 = 1"); n != 0 {
			t.Errorf("%d alerts stored from the refused event", n)
		}
		if n := count(t, s, "ingested", "topic = $1", alertsTopic); n != 0 {
			t.Errorf("the refused delivery was recorded as ingested")
		}
		for name, bad := range map[string]*event.Event{
			"nil":         nil,
			"no event_id": ev("t1", "c1", "a1", t0, func(e *event.Event) { e.EventID = "" }),
			"no tenant":   ev("", "c1", "a1", t0),
			"no convers.": ev("t1", "", "a1", t0),
		} {
			if _, err := s.Ingest(ctx, bad, alertsTopic, 0, 0); err == nil {
				t.Errorf("%s: Ingest succeeded", name)
			}
		}
		if _, err := s.Ingest(ctx, ev("t1", "c1", "a1", t0), "", 0, 0); err == nil {
			t.Error("empty topic: Ingest succeeded")
		}
	})
}

// TestIngestUnknownLevel: an alert of a level the store does not know is
// kept (rank unknown, below low), not dropped and not an error that would
// stall the consumer.
func TestIngestUnknownLevel(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		s := db.open(t)
		e := ev("t1", "c1", "a1", t0, withAlert("urgent", "x"))
		ingest(t, s, e, alertsTopic)
		alerts, err := s.EventAlerts(context.Background(), "t1", e.EventID)
		if err != nil || len(alerts) != 1 || alerts[0].Level != LevelUnknown {
			t.Fatalf("alerts %+v, %v", alerts, err)
		}
	})
}
