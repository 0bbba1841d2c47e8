package inspect

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/xunjian/xunjian/rules"
)

// TestAlertsOncePerReply inspects customer messages that hold several
// findings of one kind (a regulator's hotline and 投诉, threats of media
// and lawyers together): each alert, by kind and message, appears once in
// the reply, while alerts of different kinds or messages stay apart.
func TestAlertsOncePerReply(t *testing.T) {
	in := defaultInspector(t)
	for _, tc := range []struct {
		name, text  string
		escalations int      // complaint.escalation findings: the premise
		want        []string // kind/message pairs that must be present, once each
	}{
		{"hotline and 投诉", "再不处理我就打12315投诉你们", 2, []string{"complaint/顾客威胁投诉或升级", "complaint/会话投诉风险升高", "risk/会话风险超过阈值"}},
		{"regulator, media, lawyer", "我要投诉！再不退款我就去12315投诉你们，还要找媒体曝光，找律师起诉", 3, []string{"complaint/顾客威胁投诉或升级"}},
		{"government hotline twice", "我打12345投诉了，还要再打12345", 2, []string{"complaint/顾客威胁投诉或升级"}},
		{"english", "I will report you to the consumer association and post a review everywhere", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := inspectInto(in, context.Background(), Request{Text: tc.text, Role: RoleCustomer, ConversationID: "c1"}, nil, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, f := range v.Findings {
				if f.Detector == "complaint" && f.Kind == "escalation" {
					n++
				}
			}
			if n < tc.escalations {
				t.Fatalf("%d complaint.escalation findings, want at least %d (findings %+v)", n, tc.escalations, v.Findings)
			}
			seen := map[string]int{}
			for _, a := range v.Alerts {
				seen[a.Kind+"/"+a.Message]++
			}
			for k, n := range seen {
				if n > 1 {
					t.Errorf("alert %s appears %d times: %+v", k, n, v.Alerts)
				}
			}
			for _, k := range tc.want {
				if seen[k] != 1 {
					t.Errorf("alert %s: %d times, want once (alerts %+v, findings %+v)", k, seen[k], v.Alerts, v.Findings)
				}
			}
		})
	}
}

// TestMergeAlerts feeds decisions from a policy that raises one alert per
// finding (a custom bundle, or an older built-in one) and checks the
// verdict: one alert per kind and message, at the highest level, in the
// order of first appearance, without changing the decision's own slice.
func TestMergeAlerts(t *testing.T) {
	p, err := rules.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	esc := func(level string) rules.Alert {
		return rules.Alert{Level: level, Kind: "complaint", Message: "顾客威胁投诉或升级"}
	}
	risk := rules.Alert{Level: "medium", Kind: "complaint", Message: "会话投诉风险升高"}
	convRisk := rules.Alert{Level: "high", Kind: "risk", Message: "会话风险超过阈值"}
	for _, tc := range []struct {
		name     string
		raised   []rules.Alert
		want     []rules.Alert
		sameBack bool // the decision's slice itself comes back
	}{
		{"none", nil, nil, true},
		{"one", []rules.Alert{esc("high")}, []rules.Alert{esc("high")}, true},
		{"distinct", []rules.Alert{esc("high"), risk, convRisk}, []rules.Alert{esc("high"), risk, convRisk}, true},
		{"two of a kind", []rules.Alert{esc("high"), esc("high"), risk, convRisk}, []rules.Alert{esc("high"), risk, convRisk}, false},
		{"highest level kept", []rules.Alert{esc("medium"), risk, esc("critical"), esc("low")}, []rules.Alert{esc("critical"), risk}, false},
		{"same message, other kind", []rules.Alert{esc("high"), {Level: "low", Kind: "wait", Message: "顾客威胁投诉或升级"}, esc("medium")},
			[]rules.Alert{esc("high"), {Level: "low", Kind: "wait", Message: "顾客威胁投诉或升级"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raised := slices.Clone(tc.raised)
			in, err := New(p, Options{Decide: func(context.Context, *rules.Input) (rules.Decision, error) {
				return rules.Decision{Action: rules.Allow, Alerts: raised}, nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			v, err := inspectInto(in, context.Background(), Request{Text: "再不处理我就打12315投诉你们", Role: RoleCustomer}, nil, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(v.Alerts, tc.want) {
				t.Errorf("alerts = %+v, want %+v", v.Alerts, tc.want)
			}
			if !slices.Equal(raised, tc.raised) {
				t.Errorf("the decision's alerts were changed: %+v", raised)
			}
			if tc.sameBack && len(raised) > 0 && &v.Alerts[0] != &raised[0] {
				t.Error("alerts without repeats were copied")
			}
		})
	}
}

// TestRecentTurnsCarryDelivery replays a conversation as the gateway sees
// it: a blocked draft, a held promise and its acked resend, a masked
// reply, customer messages. Each recent turn says what the gateway did
// with it and whether the customer saw it.
func TestRecentTurnsCarryDelivery(t *testing.T) {
	in := defaultInspector(t)
	type want struct {
		role, action string
		delivered    bool
	}
	msgs := []struct {
		req  Request
		want want
	}{
		{Request{Role: RoleCustomer, Text: "你好，我的退款怎么还没到？"}, want{"customer", "", true}},
		{Request{Role: RoleAgent, Text: "亲，加我微信 wxid_abc123 私聊给您处理"}, want{"agent", "block", false}},
		{Request{Role: RoleAgent, Text: "我已经说过了，请您看一下上面的消息"}, want{"agent", "warn", true}},
		{Request{Role: RoleAgent, Text: "保证明天一定到账，百分百没问题"}, want{"agent", "confirm", false}},
		{Request{Role: RoleAgent, Text: "保证明天一定到账，百分百没问题", Acked: true}, want{"agent", "confirm", true}},
		{Request{Role: RoleAgent, Text: "已为您登记手机 13812345678，请留意短信"}, want{"agent", "redact", true}},
		{Request{Role: RoleAgent, Text: "您好，退款已经原路退回，请注意查收"}, want{"agent", "allow", true}},
		{Request{Role: RoleCustomer, Text: "再不处理我就打12315投诉你们"}, want{"customer", "", true}},
	}
	conv := &Conversation{ID: "c1"}
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var wants []want
	for i, m := range msgs {
		m.req.ConversationID = conv.ID
		v, err := inspectInto(in, context.Background(), m.req, conv, t0.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if m.req.Role == RoleAgent && v.Action.String() != m.want.action {
			t.Fatalf("%q: action %s, want %s (the test's premise)", m.req.Text, v.Action, m.want.action)
		}
		wants = append(wants, m.want)
		if len(wants) > MaxRecent {
			wants = wants[1:]
		}
		var got []want
		for _, turn := range conv.Recent {
			got = append(got, want{turn.Role, turn.Action, turn.Delivered})
		}
		if !slices.Equal(got, wants) {
			t.Errorf("after %q: recent = %+v, want %+v", m.req.Text, got, wants)
		}
		if last := conv.Recent[len(conv.Recent)-1]; last.decision.String() != v.DecisionID {
			t.Errorf("last turn recorded for decision %q, want %q", last.decision, v.DecisionID)
		}
	}
}

// TestSetDelivered marks a released draft undelivered, as the gateway does
// when the chat backend cannot be reached, and checks that it finds the
// turn by its decision even after other turns, leaves copies alone, and
// reports a turn already gone from Recent.
func TestSetDelivered(t *testing.T) {
	in := defaultInspector(t)
	conv := &Conversation{ID: "c1"}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	inspect := func(role, text string) Verdict {
		t.Helper()
		now = now.Add(time.Second)
		v, err := inspectInto(in, context.Background(), Request{Role: role, Text: text, ConversationID: conv.ID}, conv, now)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	sent := inspect(RoleAgent, "您好，退款已经原路退回，请注意查收")
	inspect(RoleCustomer, "还没收到")
	snapshot := conv.Clone()
	if !conv.SetDelivered(sent.DecisionID, false) {
		t.Fatal("SetDelivered did not find the draft's turn")
	}
	if conv.Recent[0].Delivered || !conv.Recent[1].Delivered {
		t.Errorf("recent = %+v, want only the draft undelivered", conv.Recent)
	}
	if !snapshot.Recent[0].Delivered {
		t.Error("SetDelivered changed a clone")
	}
	if conv.SetDelivered("", false) || conv.SetDelivered("no-such-decision", false) {
		t.Error("SetDelivered reported a turn for an unknown decision")
	}
	for range MaxRecent {
		inspect(RoleCustomer, "在吗？")
	}
	if conv.SetDelivered(sent.DecisionID, true) {
		t.Error("SetDelivered reported a turn no longer in Recent")
	}
}

// TestTurnJSON: a recent turn's JSON has action for agent drafts only and
// delivered always; a client's inline context without them still decodes.
func TestTurnJSON(t *testing.T) {
	ts := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		turn Turn
		want string
	}{
		{Turn{Role: RoleAgent, Text: "加我微信 wx*********", TS: ts, Action: "block"},
			`{"role":"agent","text":"加我微信 wx*********","ts":"2026-11-23T12:00:00Z","action":"block","delivered":false}`},
		{Turn{Role: RoleCustomer, Text: "再不处理我就打12315投诉你们", TS: ts, Delivered: true},
			`{"role":"customer","text":"再不处理我就打12315投诉你们","ts":"2026-11-23T12:00:00Z","delivered":true}`},
	} {
		b, err := json.Marshal(tc.turn)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("json = %s, want %s", b, tc.want)
		}
	}
	var ctx []Turn
	if err := json.Unmarshal([]byte(`[{"role":"customer","text":"在吗"}]`), &ctx); err != nil || len(ctx) != 1 || ctx[0].Text != "在吗" {
		t.Errorf("inline context: %+v, %v", ctx, err)
	}
}
