package notify

import (
	"bytes"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/xunjian/xunjian/gateway/stream/event"
)

func TestFromEvent(t *testing.T) {
	e := &event.Event{
		EventID: "0190f3b2-7c4e-7a00-8000-000000000009", TS: t0, Tenant: "acme", ConversationID: "conv-42", AgentID: "agent-7",
		Risk: 0.9,
		Alerts: []event.Alert{
			{Level: "medium", Kind: "complaint", Message: "first"},
			{Level: "high", Kind: "wait", Message: "waiting"},
			{Level: "critical", Kind: "complaint", Message: "graver"},
		},
		Context: []event.Turn{{Role: "customer", TextMasked: "138****5678", Delivered: true}},
	}
	ns, err := FromEvent(e, "vip")
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 2 {
		t.Fatalf("%d notifications, want 2 (one per kind)", len(ns))
	}
	c, w := ns[0], ns[1]
	switch {
	case c.Kind != "complaint" || c.Level != LevelCritical || c.Message != "graver":
		t.Errorf("the complaint keeps the graver alert: %+v", c)
	case w.Kind != "wait" || w.Level != LevelHigh || w.Team != "vip" || w.Tenant != "acme" || w.Risk != 0.9 || !w.Time.Equal(t0):
		t.Errorf("wait: %+v", w)
	case c.Context[0].TextMasked != "138****5678":
		t.Errorf("context %+v", c.Context)
	}
	e.Context[0].TextMasked = "changed"
	if c.Context[0].TextMasked != "138****5678" {
		t.Error("the notification shares the event's context")
	}
	for name, a := range map[string]event.Alert{
		`unknown alert level "urgent"`: {Level: "urgent", Kind: "x"},
		"no kind":                      {Level: "low"},
	} {
		e.Alerts = []event.Alert{a}
		if _, err := FromEvent(e, ""); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	e.Alerts = nil
	if ns, err := FromEvent(e, ""); err != nil || ns != nil {
		t.Errorf("no alerts: %v, %v", ns, err)
	}
}

// Keys differ for every (event id, kind, channel) and are stable.
func TestKey(t *testing.T) {
	n := func(id, kind string) *Notification { return &Notification{EventID: id, Kind: kind} }
	keys := map[string]string{}
	for name, k := range map[string]string{
		"base":           n("e1", "complaint").Key("ops"),
		"other event":    n("e2", "complaint").Key("ops"),
		"other kind":     n("e1", "wait").Key("ops"),
		"other channel":  n("e1", "complaint").Key("ops2"),
		"shifted a":      n("e1c", "omplaint").Key("ops"),
		"shifted b":      n("e1", "complaintops").Key(""),
		"digest-looking": (&Digest{Channel: "ops"}).Key(),
	} {
		if other, ok := keys[k]; ok {
			t.Errorf("%s and %s share the key %s", name, other, k)
		}
		keys[k] = name
		if !regexp.MustCompile(`^[nd]1-[0-9a-f]{32}$`).MatchString(k) {
			t.Errorf("%s: key %q", name, k)
		}
	}
	if a, b := n("e1", "complaint").Key("ops"), n("e1", "complaint").Key("ops"); a != b {
		t.Error("the key is not stable")
	}
}

// A notification logs its ids, never its text.
func TestLogValue(t *testing.T) {
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "n", sample())
	out := buf.String()
	if !strings.Contains(out, `"event_id":"0190f3b2-7c4e-7a00-8000-000000000001"`) || !strings.Contains(out, `"kind":"complaint"`) {
		t.Errorf("log %s", out)
	}
	if strings.Contains(out, "5678") || strings.Contains(out, "验证码") {
		t.Errorf("the log holds text: %s", out)
	}
}

func TestParseLevel(t *testing.T) {
	for _, s := range []string{"low", "medium", "high", "critical"} {
		l, err := ParseLevel(s)
		if err != nil || l.String() != s || !l.Valid() {
			t.Errorf("ParseLevel(%q) = %v, %v", s, l, err)
		}
	}
	for _, s := range []string{"", "High", "info"} {
		if _, err := ParseLevel(s); err == nil {
			t.Errorf("ParseLevel(%q) succeeded", s)
		}
	}
	if LevelLow >= LevelMedium || LevelHigh >= LevelCritical || Level(0).Valid() {
		t.Error("levels out of order")
	}
}
