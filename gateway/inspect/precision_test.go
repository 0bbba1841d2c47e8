package inspect

import (
	"context"
	"testing"
	"time"

	"github.com/xunjian/xunjian/rules"
)

// TestPolicyInputPrecision: the policy gets the wait in whole seconds and
// the risk to two decimals, both rounded down; the conversation keeps the
// exact risk.
func TestPolicyInputPrecision(t *testing.T) {
	p, err := rules.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var got []rules.Conversation
	in, err := New(p, Options{Decide: func(ctx context.Context, input *rules.Input) (rules.Decision, error) {
		got = append(got, input.Conversation)
		return p.Decide(ctx, input)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	conv := &Conversation{ID: "p1"}
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	if _, err := inspectInto(in, context.Background(), Request{Text: "再不处理我就打12315投诉你们", Role: RoleCustomer, ConversationID: "p1"}, conv, t0); err != nil {
		t.Fatal(err)
	}
	v, err := inspectInto(in, context.Background(), Request{Text: "您好，让您久等了", ConversationID: "p1"}, conv, t0.Add(200*time.Second+750*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d decisions", len(got))
	}
	c := got[1]
	if c.WaitSeconds != 200 {
		t.Errorf("wait %v, want 200 (200.75 s rounded down)", c.WaitSeconds)
	}
	if conv.Risk <= 0 || c.Risk != rules.RoundRisk(conv.Risk) || c.Risk > conv.Risk || conv.Risk-c.Risk >= 0.01 {
		t.Errorf("policy risk %v, conversation risk %v", c.Risk, conv.Risk)
	}
	if !hasAlert(v, "wait") {
		t.Errorf("200 s of waiting raised no wait alert: %+v", v.Alerts)
	}
}
