package stream

import (
	"context"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/stream/alerting"
	"github.com/xunjian/xunjian/gateway/stream/sampling"
	"github.com/xunjian/xunjian/rules"
)

// TestPublishDecided: decisions made by the shared state replace the
// stream's own dedup and sampling (an alert its own Dedup would admit is
// suppressed, one it would suppress is admitted, a conversation it would
// not sample is), and a degraded message carries the flag.
func TestPublishDecided(t *testing.T) {
	addr := broker(t)
	s, _ := open(t, Config{Brokers: []string{addr}, Alerts: alerting.Config{Window: duration.Duration(time.Hour)}})
	a := rules.Alert{Level: "high", Kind: "complaint", Message: "m"}
	b := rules.Alert{Level: "high", Kind: "conduct", Message: "m"}
	for _, tc := range []struct {
		conv    string
		decided *Decisions
		deg     bool
	}{
		{"c1", nil, false}, // its own dedup admits both
		{"c1", &Decisions{Admitted: []bool{true}, Sampled: true}, true}, // a admitted again, b suppressed, sampled
		{"c2", &Decisions{}, false},                                     // both suppressed: no alert event
	} {
		if err := s.Publish(context.Background(), Message{Tenant: "t", ConversationID: tc.conv, Role: "agent",
			Verdict: verdict(rules.Allow, 0, a, b), Now: t0, Decided: tc.decided, Degraded: tc.deg}); err != nil {
			t.Fatal(err)
		}
	}
	run(t, s)
	alerts := consume(t, addr, topics.Alerts, 2, 10*time.Second)
	if len(alerts) != 2 || len(alerts[0].ev.Alerts) != 2 || len(alerts[1].ev.Alerts) != 1 || alerts[1].ev.Alerts[0].Kind != "complaint" {
		t.Fatalf("alerts: %+v", alerts)
	}
	if alerts[0].ev.Degraded || !alerts[1].ev.Degraded || !alerts[1].ev.Sampled {
		t.Errorf("degraded %v, %v; sampled %v", alerts[0].ev.Degraded, alerts[1].ev.Degraded, alerts[1].ev.Sampled)
	}
	if got := consume(t, addr, topics.Samples, 1, 10*time.Second); len(got) != 1 || got[0].ev.ConversationID != "c1" {
		t.Errorf("samples: %+v", got)
	}
	if st := s.Stats(); st.Suppressed != 3 {
		t.Errorf("suppressed %d, want 3", st.Suppressed)
	}
	d := s.Decider()
	if d.Window != time.Hour || d.AgentDailyMin != 0 || d.Reason("t", "c1", 0.9, false) != sampling.ReasonHighRisk {
		t.Errorf("Decider = %+v", d)
	}
}
