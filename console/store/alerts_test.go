package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/stream/event"
)

// oneAlert ingests an event with one alert and returns the alert.
func oneAlert(t *testing.T, s *Store, tenant, conv, agent string, ts time.Time, level, kind string, risk float64) Alert {
	t.Helper()
	e := ev(tenant, conv, agent, ts, withAlert(level, kind), withRisk(risk))
	ingest(t, s, e, alertsTopic)
	alerts, err := s.EventAlerts(context.Background(), tenant, e.EventID)
	if err != nil || len(alerts) != 1 {
		t.Fatalf("EventAlerts: %+v, %v", alerts, err)
	}
	return alerts[0]
}

// TestTransitions walks the workflow: what is allowed, what is not, and
// what the history keeps.
func TestTransitions(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		a := oneAlert(t, s, "t1", "c1", "a1", t0, "high", "complaint", 0.5)
		if a.State != StateNew || a.Version != 1 {
			t.Fatalf("new alert: %+v", a)
		}
		b := oneAlert(t, s, "t1", "c2", "a1", t0, "low", "wait", 0)

		type step struct {
			id        int64
			to        State
			assignee  string
			note      string
			expect    int64
			wantErr   error
			wantState State
		}
		for i, st := range []step{
			{id: a.ID, to: StateNew, wantErr: ErrInvalidTransition},            // new → new
			{id: a.ID, to: "closed", wantErr: ErrInvalidTransition},            // no such state
			{id: a.ID, to: StateAcknowledged, expect: 7, wantErr: ErrConflict}, // stale version
			{id: a.ID, to: StateAcknowledged, assignee: "sup-1", expect: 1, wantState: StateAcknowledged},
			{id: a.ID, to: StateAcknowledged, wantErr: ErrInvalidTransition}, // ack → ack
			{id: a.ID, to: StateNew, wantErr: ErrInvalidTransition},          // ack → new
			{id: a.ID, to: StateResolved, note: "called the customer back", expect: 2, wantState: StateResolved},
			{id: a.ID, to: StateNew, wantErr: ErrInvalidTransition},                    // resolved → new
			{id: a.ID, to: StateAcknowledged, wantErr: ErrInvalidTransition},           // resolved → ack
			{id: a.ID, to: StateResolved, wantErr: ErrInvalidTransition},               // resolved → resolved
			{id: b.ID, to: StateResolved, note: "no action", wantState: StateResolved}, // new → resolved
			{id: 999999, to: StateAcknowledged, wantErr: ErrNotFound},
		} {
			got, err := s.Transition(ctx, "t1", st.id, "sup-1", st.to, st.assignee, st.note, st.expect)
			if st.wantErr != nil {
				if !errors.Is(err, st.wantErr) {
					t.Errorf("step %d (→ %s): %v, want %v", i, st.to, err, st.wantErr)
				}
				continue
			}
			if err != nil {
				t.Fatalf("step %d (→ %s): %v", i, st.to, err)
			}
			if got.State != st.wantState {
				t.Errorf("step %d: state %s, want %s", i, got.State, st.wantState)
			}
		}

		final, err := s.Alert(ctx, "t1", a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if final.State != StateResolved || final.Version != 3 || final.Assignee != "sup-1" || final.Note != "called the customer back" || !final.UpdatedAt.Equal(t0) {
			t.Errorf("after ack and resolve: %+v", final)
		}
		hist, err := s.History(ctx, "t1", a.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []Change{
			{Actor: "sup-1", At: t0, From: StateNew, To: StateAcknowledged, Assignee: "sup-1"},
			{Actor: "sup-1", At: t0, From: StateAcknowledged, To: StateResolved, Note: "called the customer back"},
		}
		if !slices.Equal(hist, want) {
			t.Errorf("history\n got %+v\nwant %+v", hist, want)
		}
		if _, err := s.Transition(ctx, "t1", a.ID, "", StateResolved, "", "", 0); err == nil {
			t.Error("a transition without an actor succeeded")
		}
	})
}

// TestTransitionRace: two supervisors acknowledge the same alert at once,
// each with the version they read: one succeeds, the other gets
// ErrConflict. Repeated over several alerts to give the race a chance.
func TestTransitionRace(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		for i := range 10 {
			a := oneAlert(t, s, "t1", fmt.Sprint("c", i), "a1", t0, "critical", "complaint", 0.9)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for j := range 2 {
				wg.Go(func() {
					_, errs[j] = s.Transition(ctx, "t1", a.ID, fmt.Sprint("sup-", j), StateAcknowledged, fmt.Sprint("sup-", j), "", a.Version)
				})
			}
			wg.Wait()
			ok, conflicts := 0, 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case errors.Is(err, ErrConflict):
					conflicts++
				default:
					t.Errorf("alert %d: %v", a.ID, err)
				}
			}
			if ok != 1 || conflicts != 1 {
				t.Errorf("alert %d: %d successes and %d conflicts, want 1 and 1 (%v)", a.ID, ok, conflicts, errs)
			}
			if h, err := s.History(ctx, "t1", a.ID); err != nil || len(h) != 1 {
				t.Errorf("alert %d: history %+v, %v; want one change", a.ID, h, err)
			}
		}
	})
}

// TestListAlertsOrder: critical first, then the riskier conversation,
// then the newest; paging by cursor walks the same order without repeats
// or gaps.
func TestListAlertsOrder(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		min := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
		// Ingested in an order that is none of the sort keys.
		type in struct {
			level string
			risk  float64
			at    time.Time
			name  string
		}
		ins := []in{
			{"low", 0.9, min(5), "low-risky"},
			{"critical", 0.1, min(1), "crit-old-calm"},
			{"high", 0.5, min(3), "high"},
			{"critical", 0.8, min(0), "crit-risky"},
			{"critical", 0.1, min(2), "crit-new-calm"},
			{"medium", 0.3, min(4), "medium"},
			{"critical", 0.1, min(2), "crit-new-calm-2"}, // a tie on every key but id
		}
		for i, x := range ins {
			e := ev("t1", fmt.Sprint("c", i), "a1", x.at, withRisk(x.risk), func(e *event.Event) {
				e.Alerts = []event.Alert{{Level: x.level, Kind: "k", Message: x.name}}
			})
			ingest(t, s, e, alertsTopic)
		}
		want := []string{"crit-risky", "crit-new-calm-2", "crit-new-calm", "crit-old-calm", "high", "medium", "low-risky"}

		all, next, err := s.ListAlerts(ctx, Filter{Tenant: "t1"})
		if err != nil || next != "" {
			t.Fatalf("ListAlerts: next %q, %v", next, err)
		}
		if got := messages(all); !slices.Equal(got, want) {
			t.Errorf("order\n got %q\nwant %q", got, want)
		}

		for _, limit := range []int{1, 2, 3} {
			var got []string
			cursor := ""
			for page := 0; ; page++ {
				alerts, next, err := s.ListAlerts(ctx, Filter{Tenant: "t1", Limit: limit, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				if len(alerts) > limit {
					t.Fatalf("limit %d: page of %d", limit, len(alerts))
				}
				got = append(got, messages(alerts)...)
				if next == "" {
					break
				}
				if page > len(want) {
					t.Fatalf("limit %d: no end of pages", limit)
				}
				cursor = next
			}
			if !slices.Equal(got, want) {
				t.Errorf("limit %d: pages\n got %q\nwant %q", limit, got, want)
			}
		}
		if _, _, err := s.ListAlerts(ctx, Filter{Tenant: "t1", Cursor: "not-a-cursor!"}); !errors.Is(err, ErrMalformedCursor) {
			t.Errorf("a malformed cursor: %v, want ErrMalformedCursor", err)
		}
		if _, _, err := s.ListAlerts(ctx, Filter{}); err == nil {
			t.Error("ListAlerts without a tenant succeeded")
		}
	})
}

func messages(alerts []Alert) []string {
	out := make([]string, len(alerts))
	for i, a := range alerts {
		out[i] = a.Message
	}
	return out
}

// TestListAlertsFilters checks each filter alone and some together.
func TestListAlertsFilters(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		if err := s.SetAgentTeams(ctx, "t1", map[string]string{"ann": "red", "bob": "blue"}); err != nil {
			t.Fatal(err)
		}
		// Alerts named by message: agent/team, kind, level, minute.
		for i, x := range []struct{ agent, kind, level string }{
			{"ann", "complaint", "critical"}, // ann-complaint-critical-0
			{"ann", "wait", "low"},           // ann-wait-low-1
			{"bob", "complaint", "high"},     // bob-complaint-high-2
			{"bob", "risk", "medium"},        // bob-risk-medium-3
			{"cat", "complaint", "medium"},   // cat (no team)-complaint-medium-4
		} {
			name := fmt.Sprintf("%s-%s-%s-%d", x.agent, x.kind, x.level, i)
			e := ev("t1", "conv-"+x.agent, x.agent, t0.Add(time.Duration(i)*time.Minute), func(e *event.Event) {
				e.Alerts = []event.Alert{{Level: x.level, Kind: x.kind, Message: name}}
			})
			ingest(t, s, e, alertsTopic)
		}
		all, _, err := s.ListAlerts(ctx, Filter{Tenant: "t1"})
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]int64{}
		for _, a := range all {
			ids[a.Message] = a.ID
		}
		if _, err := s.Transition(ctx, "t1", ids["bob-complaint-high-2"], "sup", StateAcknowledged, "", "", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Transition(ctx, "t1", ids["ann-wait-low-1"], "sup", StateResolved, "", "", 0); err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			name string
			f    Filter
			want []string // in list order
		}{
			{"all", Filter{}, []string{"ann-complaint-critical-0", "bob-complaint-high-2", "cat-complaint-medium-4", "bob-risk-medium-3", "ann-wait-low-1"}},
			{"team red", Filter{Teams: []string{"red"}}, []string{"ann-complaint-critical-0", "ann-wait-low-1"}},
			{"teams red blue", Filter{Teams: []string{"red", "blue"}}, []string{"ann-complaint-critical-0", "bob-complaint-high-2", "bob-risk-medium-3", "ann-wait-low-1"}},
			{"no team", Filter{Teams: []string{}}, []string{}},
			{"unknown team", Filter{Teams: []string{"green"}}, []string{}},
			{"teamless", Filter{Teams: []string{NoTeam}}, []string{"cat-complaint-medium-4"}},
			{"red and teamless", Filter{Teams: []string{NoTeam, "red"}}, []string{"ann-complaint-critical-0", "cat-complaint-medium-4", "ann-wait-low-1"}},
			{"agent", Filter{AgentID: "bob"}, []string{"bob-complaint-high-2", "bob-risk-medium-3"}},
			{"kind", Filter{Kind: "complaint"}, []string{"ann-complaint-critical-0", "bob-complaint-high-2", "cat-complaint-medium-4"}},
			{"conversation", Filter{ConversationID: "conv-cat"}, []string{"cat-complaint-medium-4"}},
			{"min level high", Filter{MinLevel: LevelHigh}, []string{"ann-complaint-critical-0", "bob-complaint-high-2"}},
			{"min level low", Filter{MinLevel: LevelLow}, []string{"ann-complaint-critical-0", "bob-complaint-high-2", "cat-complaint-medium-4", "bob-risk-medium-3", "ann-wait-low-1"}},
			{"state new", Filter{States: []State{StateNew}}, []string{"ann-complaint-critical-0", "cat-complaint-medium-4", "bob-risk-medium-3"}},
			{"open", Filter{States: []State{StateNew, StateAcknowledged}}, []string{"ann-complaint-critical-0", "bob-complaint-high-2", "cat-complaint-medium-4", "bob-risk-medium-3"}},
			{"since", Filter{Since: t0.Add(2 * time.Minute)}, []string{"bob-complaint-high-2", "cat-complaint-medium-4", "bob-risk-medium-3"}},
			{"team, kind, open", Filter{Teams: []string{"blue"}, Kind: "complaint", States: []State{StateNew, StateAcknowledged}}, []string{"bob-complaint-high-2"}},
			{"other tenant", Filter{Tenant: "t2"}, []string{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := tc.f
				if f.Tenant == "" {
					f.Tenant = "t1"
				}
				got, _, err := s.ListAlerts(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if m := messages(got); !slices.Equal(m, tc.want) {
					t.Errorf("\n got %q\nwant %q", m, tc.want)
				}
			})
		}
		for _, a := range all {
			wantTeam := map[string]string{"ann": "red", "bob": "blue"}[a.AgentID]
			if a.Team != wantTeam {
				t.Errorf("%s: team %q, want %q", a.Message, a.Team, wantTeam)
			}
		}
	})
}

// TestAgentTeams: SetAgentTeams replaces a tenant's mapping, and a team
// change does not move alerts already stored.
func TestAgentTeams(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		if err := s.SetAgentTeams(ctx, "t1", map[string]string{"ann": "red", "bob": "blue"}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetAgentTeams(ctx, "t2", map[string]string{"ann": "green"}); err != nil {
			t.Fatal(err)
		}
		before := oneAlert(t, s, "t1", "c1", "ann", t0, "low", "wait", 0)
		if err := s.SetAgentTeams(ctx, "t1", map[string]string{"ann": "blue"}); err != nil {
			t.Fatal(err)
		}
		after := oneAlert(t, s, "t1", "c2", "ann", t0, "low", "wait", 0)
		if before.Team != "red" || after.Team != "blue" {
			t.Errorf("teams %q then %q, want red then blue", before.Team, after.Team)
		}
		got, err := s.AgentTeams(ctx, "t1")
		if err != nil || len(got) != 1 || got["ann"] != "blue" {
			t.Errorf("AgentTeams(t1) = %v, %v; want ann: blue only", got, err)
		}
		if got, _ := s.AgentTeams(ctx, "t2"); got["ann"] != "green" {
			t.Errorf("AgentTeams(t2) = %v: t1's change leaked", got)
		}
		if err := s.SetAgentTeams(ctx, "t1", map[string]string{"ann": ""}); err == nil {
			t.Error("an empty team was accepted")
		}
	})
}

// TestTenantIsolation stores the same conversation, agent and kinds for
// two tenants and checks that no read, and no transition, of one tenant
// reaches the other's rows.
func TestTenantIsolation(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		var alerts = map[string]Alert{}
		var events = map[string]string{}
		for _, tenant := range []string{"t1", "t2"} {
			if err := s.SetAgentTeams(ctx, tenant, map[string]string{"a1": "red"}); err != nil {
				t.Fatal(err)
			}
			e := ev(tenant, "c1", "a1", t0, withFinding("privacy", "phone"), withAlert("high", "privacy"),
				func(e *event.Event) {
					e.TextMasked = "text of " + tenant
					e.Context = []event.Turn{{Role: event.RoleCustomer, TS: t0.Add(-time.Second), TextMasked: "customer of " + tenant, Delivered: true}}
				})
			ingest(t, s, e, alertsTopic)
			as, err := s.EventAlerts(ctx, tenant, e.EventID)
			if err != nil || len(as) != 1 {
				t.Fatal(as, err)
			}
			alerts[tenant], events[tenant] = as[0], e.EventID
		}
		other := map[string]string{"t1": "t2", "t2": "t1"}
		for tenant, a := range alerts {
			o := other[tenant]
			list, _, err := s.ListAlerts(ctx, Filter{Tenant: tenant, Teams: []string{"red"}})
			if err != nil || len(list) != 1 || list[0].Tenant != tenant {
				t.Errorf("%s: ListAlerts = %+v, %v", tenant, list, err)
			}
			if _, err := s.Alert(ctx, o, a.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s's alert read as %s: %v, want ErrNotFound", tenant, o, err)
			}
			if _, err := s.History(ctx, o, a.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s's history read as %s: %v, want ErrNotFound", tenant, o, err)
			}
			if _, err := s.Transition(ctx, o, a.ID, "intruder", StateResolved, "", "", 0); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s's alert resolved as %s: %v, want ErrNotFound", tenant, o, err)
			}
			if got, err := s.EventAlerts(ctx, o, events[tenant]); err != nil || len(got) != 0 {
				t.Errorf("%s's event alerts read as %s: %+v, %v", tenant, o, got, err)
			}
			c, err := s.Conversation(ctx, tenant, "c1")
			if err != nil {
				t.Fatal(err)
			}
			for _, turn := range c.Turns {
				if !strings.HasSuffix(turn.TextMasked, " of "+tenant) {
					t.Errorf("%s's conversation shows %q", tenant, turn.TextMasked)
				}
				for _, al := range turn.Alerts {
					if al.Tenant != tenant {
						t.Errorf("%s's conversation shows an alert of %s", tenant, al.Tenant)
					}
				}
			}
			if len(c.Turns) != 2 {
				t.Errorf("%s: %d turns, want 2", tenant, len(c.Turns))
			}
			counts, err := s.Counters(ctx, tenant, nil, t0.Add(-time.Hour))
			if err != nil || counts.Alerts["privacy"] != 1 || counts.Findings["privacy.phone"] != 1 || counts.Open["high"] != 1 {
				t.Errorf("%s: Counters = %+v, %v; want one of each", tenant, counts, err)
			}
			stats, err := s.AgentStats(ctx, tenant, "a1", t0, time.Hour)
			if err != nil || len(stats) != 1 || stats[0].Alerts != 1 || stats[0].Findings != 1 {
				t.Errorf("%s: AgentStats = %+v, %v; want one of each", tenant, stats, err)
			}
		}
		// The alert of t1 is untouched by t2's attempts.
		if a, err := s.Alert(ctx, "t1", alerts["t1"].ID); err != nil || a.State != StateNew || a.Version != 1 {
			t.Errorf("t1's alert after t2's attempts: %+v, %v", a, err)
		}
		if _, err := s.Conversation(ctx, "t3", "c1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("t3's conversation c1: %v, want ErrNotFound", err)
		}
	})
}
