package store

import (
	"context"
	"testing"
	"time"
)

// TestAlertsSince: the recovery listing spans tenants, starts at since,
// runs oldest first and honours the limit.
func TestAlertsSince(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		s := db.open(t)
		t0 := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
		old := ev("t1", "c0", "a1", t0.Add(-2*time.Hour), withAlert("high", "complaint"))
		a := ev("t1", "c1", "a1", t0.Add(time.Minute), withAlert("high", "complaint"))
		b := ev("t2", "c2", "a2", t0.Add(2*time.Minute), withAlert("low", "wait"), withAlert("critical", "risk"))
		ingest(t, s, b, "xunjian.alerts")
		ingest(t, s, old, "xunjian.alerts")
		ingest(t, s, a, "xunjian.alerts")
		ingest(t, s, ev("t1", "c3", "a1", t0.Add(3*time.Minute), withAlert("high", "complaint")), "xunjian.findings") // no alert from findings
		got, err := s.AlertsSince(context.Background(), t0, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, al := range got {
			ids = append(ids, al.Tenant+"/"+al.EventID[len(al.EventID)-4:]+"/"+al.Kind)
		}
		want := []string{"t1/" + a.EventID[len(a.EventID)-4:] + "/complaint", "t2/" + b.EventID[len(b.EventID)-4:] + "/wait", "t2/" + b.EventID[len(b.EventID)-4:] + "/risk"}
		if len(ids) != len(want) {
			t.Fatalf("AlertsSince = %v, want %v", ids, want)
		}
		for i := range want {
			if ids[i] != want[i] {
				t.Errorf("AlertsSince = %v, want %v", ids, want)
				break
			}
		}
		// Paging: one at a time, each page after the last one read.
		var paged []string
		since, after := t0, int64(0)
		for {
			page, err := s.AlertsSince(context.Background(), since, after, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			paged = append(paged, page[0].Kind)
			since, after = page[0].CreatedAt, page[0].ID
		}
		if len(paged) != 3 {
			t.Errorf("paged %v, want the 3 alerts once each", paged)
		}
	})
}
