package store

import (
	"context"
	"maps"
	"testing"
	"time"
)

// TestAgentStats: findings and alerts per bucket, every bucket from since
// to now, other agents not counted.
func TestAgentStats(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		db.clock.Set(t0.Add(3*time.Hour + 10*time.Minute))
		hour := func(h int, m int) time.Time { return t0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
		ingest(t, s, ev("t1", "c1", "a1", hour(0, 5), withFinding("privacy", "phone"), withFinding("privacy", "email")), findingsTopic)
		ingest(t, s, ev("t1", "c1", "a1", hour(0, 50), withFinding("abuse", "insult"), withAlert("high", "abuse")), alertsTopic)
		ingest(t, s, ev("t1", "c2", "a1", hour(2, 0), withAlert("low", "wait")), alertsTopic)
		ingest(t, s, ev("t1", "c3", "a2", hour(1, 0), withFinding("privacy", "phone"), withAlert("low", "wait")), alertsTopic)
		ingest(t, s, ev("t1", "c1", "a1", hour(-1, 0), withFinding("privacy", "phone")), findingsTopic) // before since

		got, err := s.AgentStats(ctx, "t1", "a1", t0.Add(30*time.Second), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		want := []Bucket{
			{Start: hour(0, 0), Findings: 3, Alerts: 1},
			{Start: hour(1, 0)},
			{Start: hour(2, 0), Alerts: 1},
			{Start: hour(3, 0)},
		}
		if len(got) != len(want) {
			t.Fatalf("%d buckets, want %d: %+v", len(got), len(want), got)
		}
		for i := range want {
			if !got[i].Start.Equal(want[i].Start) || got[i].Findings != want[i].Findings || got[i].Alerts != want[i].Alerts {
				t.Errorf("bucket %d: %+v, want %+v", i, got[i], want[i])
			}
		}
		// By team: a1 was in red for its first hour, then teamless.
		if _, err := s.db.ExecContext(ctx, `UPDATE findings SET team = 'red' WHERE ts_ms < $1`, ms(hour(1, 0))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.db.ExecContext(ctx, `UPDATE alerts SET team = 'red' WHERE created_ms < $1`, ms(hour(1, 0))); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name     string
			teams    []string
			findings [4]int
			alerts   [4]int
		}{
			{"all", nil, [4]int{3, 0, 0, 0}, [4]int{1, 0, 1, 0}},
			{"red", []string{"red"}, [4]int{3, 0, 0, 0}, [4]int{1, 0, 0, 0}},
			{"teamless", []string{NoTeam}, [4]int{}, [4]int{0, 0, 1, 0}},
			{"blue", []string{"blue"}, [4]int{}, [4]int{}},
			{"none", []string{}, [4]int{}, [4]int{}},
		} {
			got, err := s.AgentStatsOfTeams(ctx, "t1", tc.teams, "a1", t0.Add(30*time.Second), time.Hour)
			if err != nil || len(got) != 4 {
				t.Fatalf("%s: %+v, %v", tc.name, got, err)
			}
			for i, b := range got {
				if b.Findings != tc.findings[i] || b.Alerts != tc.alerts[i] {
					t.Errorf("%s: bucket %d: %+v, want %d findings, %d alerts", tc.name, i, b, tc.findings[i], tc.alerts[i])
				}
			}
		}
		if _, err := s.AgentStats(ctx, "t1", "a1", t0, 0); err == nil {
			t.Error("a zero bucket was accepted")
		}
		if _, err := s.AgentStats(ctx, "t1", "a1", t0.Add(-365*24*time.Hour), time.Minute); err == nil {
			t.Error("half a million buckets were accepted")
		}
	})
}

// TestCounters: counts per alert kind and per finding over the window,
// the open backlog whatever its age, by team.
func TestCounters(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		if err := s.SetAgentTeams(ctx, "t1", map[string]string{"ann": "red", "bob": "blue"}); err != nil {
			t.Fatal(err)
		}
		ingest(t, s, ev("t1", "c1", "ann", t0.Add(-2*time.Hour), withFinding("privacy", "phone"), withAlert("critical", "privacy")), alertsTopic) // old, open
		ingest(t, s, ev("t1", "c1", "ann", t0, withFinding("privacy", "phone"), withFinding("privacy", "phone"), withAlert("high", "complaint")), alertsTopic)
		ingest(t, s, ev("t1", "c2", "bob", t0, withFinding("abuse", "insult"), withAlert("high", "complaint"), withAlert("low", "wait")), alertsTopic)
		ingest(t, s, ev("t1", "c3", "cat", t0, withAlert("medium", "risk")), alertsTopic)
		list, _, err := s.ListAlerts(ctx, Filter{Tenant: "t1", AgentID: "bob", Kind: "wait"})
		if err != nil || len(list) != 1 {
			t.Fatal(list, err)
		}
		if _, err := s.Transition(ctx, "t1", list[0].ID, "sup", StateResolved, "", "", 0); err != nil {
			t.Fatal(err)
		}

		since := t0.Add(-time.Hour)
		for _, tc := range []struct {
			name  string
			teams []string
			want  Counts
		}{
			{"all", nil, Counts{
				Alerts:   map[string]int{"complaint": 2, "wait": 1, "risk": 1},
				Findings: map[string]int{"privacy.phone": 2, "abuse.insult": 1},
				Open:     map[string]int{"critical": 1, "high": 2, "medium": 1},
			}},
			{"red", []string{"red"}, Counts{
				Alerts:   map[string]int{"complaint": 1},
				Findings: map[string]int{"privacy.phone": 2},
				Open:     map[string]int{"critical": 1, "high": 1},
			}},
			{"red and blue", []string{"red", "blue"}, Counts{
				Alerts:   map[string]int{"complaint": 2, "wait": 1},
				Findings: map[string]int{"privacy.phone": 2, "abuse.insult": 1},
				Open:     map[string]int{"critical": 1, "high": 2},
			}},
			{"teamless", []string{NoTeam}, Counts{
				Alerts:   map[string]int{"risk": 1},
				Findings: map[string]int{},
				Open:     map[string]int{"medium": 1},
			}},
			{"none", []string{}, Counts{Alerts: map[string]int{}, Findings: map[string]int{}, Open: map[string]int{}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.Counters(ctx, "t1", tc.teams, since)
				if err != nil {
					t.Fatal(err)
				}
				if !maps.Equal(got.Alerts, tc.want.Alerts) || !maps.Equal(got.Findings, tc.want.Findings) || !maps.Equal(got.Open, tc.want.Open) {
					t.Errorf("\n got %+v\nwant %+v", got, tc.want)
				}
			})
		}
		if _, err := s.Counters(ctx, "", nil, since); err == nil {
			t.Error("Counters without a tenant succeeded")
		}
	})
}
