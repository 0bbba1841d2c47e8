package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/stream/event"
)

// TestConversation builds a conversation from events of the three topics
// and alert contexts and checks its turns: in time order, context-only
// turns included, each event's action, delivery, findings and alerts.
func TestConversation(t *testing.T) {
	eachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := db.open(t)
		sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

		// 0s customer asks (never published: only in contexts).
		// 1s agent draft with a phone number: redact, on findings.
		// 2s customer complains: an alert, with context.
		// 3s agent draft blocked: findings and an alert; the context says it
		//    was not delivered.
		// 4s a sampled clean agent reply, on samples.
		draft := ev("t1", "c1", "a1", sec(1), withFinding("privacy", "phone"), withRisk(0.2), func(e *event.Event) {
			e.Action, e.TextMasked = event.ActionRedact, "my number is 138****0000"
		})
		complaint := ev("t1", "c1", "a1", sec(2), asCustomer, withRisk(0.7), withAlert("high", "complaint"), func(e *event.Event) {
			e.TextMasked = "this is unacceptable"
			e.Context = []event.Turn{
				{Role: event.RoleCustomer, TS: sec(0), TextMasked: "where is my order?", Delivered: true},
				{Role: event.RoleAgent, TS: sec(1), TextMasked: "my number is 138****0000", Action: "redact", Delivered: true},
				{Role: event.RoleCustomer, TS: sec(2), TextMasked: "this is unacceptable", Delivered: true},
			}
		})
		blocked := ev("t1", "c1", "a1", sec(3), withFinding("abuse", "insult"), withRisk(0.9), withAlert("critical", "abuse"), withAlert("medium", "risk"), func(e *event.Event) {
			e.Action, e.TextMasked = event.ActionBlock, "you ****"
			e.Context = []event.Turn{
				{Role: event.RoleAgent, TS: sec(1), TextMasked: "my number is 138****0000", Action: "redact", Delivered: false}, // not taken by the backend
				{Role: event.RoleCustomer, TS: sec(2), TextMasked: "this is unacceptable", Delivered: true},
				{Role: event.RoleAgent, TS: sec(3), TextMasked: "you ****", Action: "block", Delivered: false},
			}
		})
		sample := ev("t1", "c1", "a1", sec(4), withRisk(0.9), func(e *event.Event) { e.Sampled, e.TextMasked = true, "sorry, let me help" })
		// Ingested out of order, the alert copies before the events' other copies.
		ingest(t, s, sample, samplesTopic)
		ingest(t, s, blocked, alertsTopic)
		ingest(t, s, complaint, alertsTopic)
		ingest(t, s, draft, findingsTopic)
		ingest(t, s, blocked, findingsTopic)
		// Another conversation of the tenant, and the same id in another tenant.
		ingest(t, s, ev("t1", "c2", "a1", sec(2), withAlert("low", "wait")), alertsTopic)
		ingest(t, s, ev("t2", "c1", "a9", sec(2), withAlert("low", "wait")), alertsTopic)

		c, err := s.Conversation(ctx, "t1", "c1")
		if err != nil {
			t.Fatal(err)
		}
		if c.AgentID != "a1" || c.Risk != 0.9 || c.Tenant != "t1" || c.ID != "c1" {
			t.Errorf("conversation %s/%s agent %s risk %v", c.Tenant, c.ID, c.AgentID, c.Risk)
		}
		type row struct {
			event, role, action, text string
			delivered                 bool
			findings                  string
			alerts                    string
			at                        time.Time
		}
		var got []row
		for _, turn := range c.Turns {
			r := row{event: turn.EventID, role: turn.Role, action: turn.Action, text: turn.TextMasked, delivered: turn.Delivered, at: turn.TS}
			for _, f := range turn.Findings {
				r.findings += f.Name() + " "
			}
			for _, a := range turn.Alerts {
				r.alerts += fmt.Sprintf("%s/%s ", a.Level, a.Kind)
			}
			got = append(got, r)
		}
		want := []row{
			{"", "customer", "", "where is my order?", true, "", "", sec(0)},
			{draft.EventID, "agent", "redact", "my number is 138****0000", false, "privacy.phone ", "", sec(1)},
			{complaint.EventID, "customer", "", "this is unacceptable", true, "", "high/complaint ", sec(2)},
			{blocked.EventID, "agent", "block", "you ****", false, "abuse.insult ", "critical/abuse medium/risk ", sec(3)},
			{sample.EventID, "agent", "allow", "sorry, let me help", true, "", "", sec(4)},
		}
		if len(got) != len(want) {
			t.Fatalf("%d turns, want %d: %+v", len(got), len(want), got)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("turn %d\n got %+v\nwant %+v", i, got[i], want[i])
			}
		}
		if f := c.Turns[1].Findings; len(f) != 1 || f[0].Evidence != "138****0000" || f[0].Start != 3 || f[0].End != 14 || f[0].Severity != event.SeverityHigh {
			t.Errorf("findings of the draft: %+v", f)
		}
		if !c.Turns[4].Sampled || c.Turns[3].Sampled {
			t.Error("sampled flags lost")
		}

		if _, err := s.Conversation(ctx, "t1", "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown conversation: %v, want ErrNotFound", err)
		}
	})
}

// TestDeliveredWithoutContext: an event without context tells delivery by
// its action.
func TestDeliveredWithoutContext(t *testing.T) {
	for _, tc := range []struct {
		role   string
		action event.Action
		want   bool
	}{
		{event.RoleCustomer, event.ActionAllow, true},
		{event.RoleAgent, event.ActionAllow, true},
		{event.RoleAgent, event.ActionWarn, true},
		{event.RoleAgent, event.ActionRedact, true},
		{event.RoleAgent, event.ActionConfirm, false},
		{event.RoleAgent, event.ActionBlock, false},
	} {
		e := ev("t1", "c1", "a1", t0, func(e *event.Event) { e.Role, e.Action = tc.role, tc.action })
		if got := delivered(e); got != tc.want {
			t.Errorf("%s %s: delivered %v, want %v", tc.role, tc.action, got, tc.want)
		}
	}
}
