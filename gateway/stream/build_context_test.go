package stream

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/inspect/inspecttest"
	"github.com/xunjian/xunjian/gateway/stream/event"
)

// chat is one message of a conversation replayed through the inspector.
type chat struct {
	role, text string
	acked      bool // an agent draft re-sent with its ack token
}

// replay inspects msgs in order in one conversation, a second apart, and
// returns the conversation and the verdict of every message.
func replay(t *testing.T, in *inspect.Inspector, msgs []chat) (*inspect.Conversation, []inspect.Verdict) {
	t.Helper()
	conv := &inspect.Conversation{ID: "c1"}
	var vs []inspect.Verdict
	for i, m := range msgs {
		v, next, err := in.Inspect(context.Background(), inspect.Request{
			Text: m.text, Role: m.role, ConversationID: conv.ID, AgentID: "a1", TenantID: "t1", Acked: m.acked,
		}, *conv, testTS.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatalf("%s %q: %v", m.role, m.text, err)
		}
		*conv = next
		vs = append(vs, v)
	}
	return conv, vs
}

// alertEvent builds the alerts topic's event of the last message, as the
// stream does, checks it against the schema and reads it back.
func alertEvent(t *testing.T, conv *inspect.Conversation, v *inspect.Verdict, role string) (*event.Event, []byte) {
	t.Helper()
	if len(v.Alerts) == 0 {
		t.Fatalf("the last message raised no alert (findings %+v)", v.Findings)
	}
	e, err := NewEvent(EventInput{TS: testTS, Tenant: "t1", ConversationID: conv.ID, AgentID: "a1", Role: role, Verdict: v,
		Masked: conv.Recent[len(conv.Recent)-1].Text, Context: conv.Recent}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := forAlert(e, v, v.Alerts, conv.Recent).Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(compileSchema(t), b); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	back, err := event.Parse(b)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, b)
	}
	return back, b
}

// turnState is what a supervisor reads of a context turn besides its text.
type turnState struct {
	role, action string
	delivered    bool
}

// TestAlertContextShowsUndeliveredDrafts replays conversations in which
// the agent's drafts were blocked or held before the customer complains:
// the complaint alert's context shows those drafts with their action and
// delivered=false, apart from what the customer did see, and keeps their
// text masked.
func TestAlertContextShowsUndeliveredDrafts(t *testing.T) {
	in := inspecttest.Default(t)
	for _, tc := range []struct {
		name string
		msgs []chat
		want []turnState
		// undeliver, when set, is the index of a released draft the
		// backend did not take (marked with SetDelivered).
		undeliver int
	}{
		{
			name: "blocked diversion then complaint",
			msgs: []chat{
				{role: "customer", text: "我的快递三天了还没到"},
				{role: "agent", text: "亲，加我微信 wxid_abc123 私聊给您处理"},
				{role: "customer", text: "再不处理我就打12315投诉你们"},
			},
			want: []turnState{{"customer", "", true}, {"agent", "block", false}, {"customer", "", true}},
		},
		{
			name: "held promise, then the acked resend, then complaint",
			msgs: []chat{
				{role: "customer", text: "明天能到吗？"},
				{role: "agent", text: "保证明天一定送到，百分百没问题"},
				{role: "agent", text: "保证明天一定送到，百分百没问题", acked: true},
				{role: "customer", text: "你们骗人，我要投诉到消协"},
			},
			want: []turnState{{"customer", "", true}, {"agent", "confirm", false}, {"agent", "confirm", true}, {"customer", "", true}},
		},
		{
			name: "rude draft blocked, polite one sent, then escalation",
			msgs: []chat{
				{role: "customer", text: "你们到底管不管？"},
				{role: "agent", text: "你是不是傻，看不懂字吗"},
				{role: "agent", text: "非常抱歉，我马上为您核实"},
				{role: "customer", text: "我要找你们领导，不然就去12345投诉"},
			},
			want: []turnState{{"customer", "", true}, {"agent", "block", false}, {"agent", "allow", true}, {"customer", "", true}},
		},
		{
			name: "a released draft the backend did not take",
			msgs: []chat{
				{role: "customer", text: "退款什么时候到账？"},
				{role: "agent", text: "已为您登记手机 13812345678，请留意短信"},
				{role: "customer", text: "再不退款我就打12315投诉你们"},
			},
			want:      []turnState{{"customer", "", true}, {"agent", "redact", false}, {"customer", "", true}},
			undeliver: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msgs := tc.msgs
			last := msgs[len(msgs)-1]
			conv, vs := replay(t, in, msgs[:len(msgs)-1])
			if tc.undeliver > 0 {
				// What the gateway does when the upstream is unreachable.
				if !conv.SetDelivered(vs[tc.undeliver].DecisionID, false) {
					t.Fatal("SetDelivered found no turn")
				}
			}
			v, next, err := in.Inspect(context.Background(), inspect.Request{Text: last.text, Role: last.role, ConversationID: conv.ID, AgentID: "a1", TenantID: "t1"},
				*conv, testTS.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			*conv = next
			e, b := alertEvent(t, conv, &v, last.role)
			var got []turnState
			for _, turn := range e.Context {
				got = append(got, turnState{turn.Role, turn.Action, turn.Delivered})
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("context = %+v, want %+v\n%s", got, tc.want, b)
			}
			for _, turn := range e.Context {
				for _, secret := range []string{"wxid_abc123", "abc123", "13812345678"} {
					if strings.Contains(turn.TextMasked, secret) {
						t.Errorf("context turn shows %q: %q", secret, turn.TextMasked)
					}
				}
			}
			// The JSON says it in as many words, for consumers that do not
			// use this package.
			var raw struct {
				Context []map[string]any `json:"context"`
			}
			if err := json.Unmarshal(b, &raw); err != nil {
				t.Fatal(err)
			}
			for i, turn := range raw.Context {
				if _, ok := turn["delivered"].(bool); !ok {
					t.Errorf("context[%d] has no delivered boolean: %v", i, turn)
				}
				_, hasAction := turn["action"]
				if hasAction != (turn["role"] == "agent") {
					t.Errorf("context[%d] %v: action present %v, want it on agent turns only", i, turn, hasAction)
				}
			}
		})
	}
}

// TestEventsKeepPublicNumbers inspects the brief's messages end to end and
// checks the events: the hotline stays readable in text_masked, context
// and the complaint finding's evidence, the mobile next to it is masked,
// and the complaint alert appears once.
func TestEventsKeepPublicNumbers(t *testing.T) {
	in := inspecttest.Default(t)
	for _, tc := range []struct {
		role, text string
		clear      []string // must appear as written
		hidden     []string // must not appear
	}{
		{"customer", "再不处理我就打12315投诉你们", []string{"12315"}, nil},
		{"agent", "再不处理我就打12315投诉你们", []string{"12315"}, nil},
		{"agent", "请拨打400-820-8820", []string{"400-820-8820"}, nil},
		{"customer", "打12315也没用，我手机13812345678", []string{"12315", "5678"}, []string{"13812345678", "1381234"}},
		{"agent", "如对处理结果不满意，您可以拨打12315，或拨打客服热线400-820-8820", []string{"12315", "400-820-8820"}, nil},
	} {
		conv, vs := replay(t, in, []chat{{role: tc.role, text: tc.text}})
		v := vs[0]
		e, err := NewEvent(EventInput{TS: testTS, Role: tc.role, Verdict: &v, Masked: conv.Recent[0].Text, Context: conv.Recent}, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := forAlert(e, &v, v.Alerts, conv.Recent).Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		back, err := event.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range tc.clear {
			if !strings.Contains(back.TextMasked, s) || !strings.Contains(back.Context[0].TextMasked, s) {
				t.Errorf("%s %q: %q is not in clear in text_masked %q / context %q", tc.role, tc.text, s, back.TextMasked, back.Context[0].TextMasked)
			}
		}
		for _, s := range tc.hidden {
			if strings.Contains(string(b), s) {
				t.Errorf("%s %q: the event shows %q: %s", tc.role, tc.text, s, b)
			}
		}
		seen := map[[2]string]bool{}
		for _, a := range back.Alerts {
			k := [2]string{a.Kind, a.Message}
			if seen[k] {
				t.Errorf("%s %q: alert %s %q twice: %+v", tc.role, tc.text, a.Kind, a.Message, back.Alerts)
			}
			seen[k] = true
		}
		for _, f := range back.Findings {
			if f.Detector == "complaint" && f.Kind == "escalation" && strings.Contains(tc.text, "12315") && f.Evidence == "*2315" {
				t.Errorf("%s %q: escalation evidence masked as %q", tc.role, tc.text, f.Evidence)
			}
		}
	}
}
