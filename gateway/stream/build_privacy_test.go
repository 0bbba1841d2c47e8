package stream

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/inspect/inspecttest"
	"github.com/xunjian/xunjian/gateway/internal/leaktest"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/rules"
)

// TestEventsCarryNoPrivateData inspects drafts and customer messages the
// way agents and attackers write them, builds their events as the gateway
// does (text_masked and context from the inspector's masked turns, the
// alerts topic's copy), adds policy messages, suggestions and alerts that
// quote the values, and checks that the marshalled JSON shows no phone or
// QQ number in any digit form and no contact handle, and that evidence
// and text_masked mask a handle the same way.
func TestEventsCarryNoPrivateData(t *testing.T) {
	ctx := context.Background()
	in := inspecttest.Default(t)
	const phone, qq = "13812345678", "1234567890"
	numbers := []string{phone, qq, "110101199003074514"}
	handles := []string{"secrethandle", "wxid_", "abc_12345", "secret_handle"}
	texts := []string{
		strings.Repeat(phone+" ", 8),
		"加我QQ 1234567890 给您返现",
		"QQ 1234567890",
		"加我微信 wxid_secrethandle 私聊",
		"亲，加我V信：abc_12345，给您优惠",
		"telegram @secret_handle",
		"我的电话一三八一二三四五六七八",
		"电话①③⑧①②③④⑤⑥⑦⑧",
		"电话¹³⁸¹²³⁴⁵⁶⁷⁸",
		"电话壹叁捌壹贰叁肆伍陆柒捌",
		"电话1三8一2三4五6七8",
		"电话138\u200b1234\u200b5678",
		"电话 138-1234-5678，身份证110101199003074514",
		"加我微信 wxid_secrethandle，电话13812345678",
	}
	s := compileSchema(t)
	now := testTS
	for _, role := range []string{inspect.RoleAgent, inspect.RoleCustomer} {
		conv := &inspect.Conversation{ID: "c-" + role}
		for i, text := range texts {
			v, next, err := in.Inspect(ctx, inspect.Request{Text: text, Role: role, ConversationID: conv.ID, AgentID: "a1", TenantID: "t1"}, *conv, now.Add(time.Duration(i)*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			*conv = next
			// What a careless policy might say: the raw text quoted back.
			v.Reasons = append(v.Reasons, rules.Reason{Rule: "test.quote", Action: rules.Warn, Message: "您发送了：" + text, Suggestion: "不要发送 " + text})
			v.Alerts = append(v.Alerts, rules.Alert{Level: "high", Kind: "test.quote", Message: "坐席发送了 " + text})
			masked := conv.Recent[len(conv.Recent)-1].Text
			e, err := NewEvent(EventInput{TS: now, Tenant: "t1", ConversationID: conv.ID, AgentID: "a1", Role: role, Verdict: &v, Masked: masked, Raw: text, Context: conv.Recent}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range []*event.Event{e, forAlert(e, &v, v.Alerts, conv.Recent)} {
				b, err := ev.Marshal(nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := validate(s, b); err != nil {
					t.Errorf("%s: %v", b, err)
				}
				var all []string
				collectStrings(t, b, &all)
				for _, field := range all {
					if _, err := uuid.Parse(field); err == nil {
						// The event id, random hex: it holds no message data,
						// and a run of its digits may match five of a number.
						continue
					}
					for _, n := range numbers {
						if w, ok := leaktest.Window(field, n, 5); ok {
							t.Errorf("%s %q: the event shows %s of %s in %q", role, text, w, n, field)
						}
					}
					for _, h := range handles {
						if strings.Contains(field, h) {
							t.Errorf("%s %q: the event shows the handle %q in %q", role, text, h, field)
						}
					}
				}
				for _, f := range ev.Findings {
					if f.Name() == "diversion.contact" && !strings.Contains(ev.TextMasked, f.Evidence) {
						t.Errorf("%s %q: evidence %q is masked otherwise than text_masked %q", role, text, f.Evidence, ev.TextMasked)
					}
				}
			}
		}
	}
}

// collectStrings appends every string value of the JSON document b but
// timestamps ("ts"), whose digits are no one's private data.
func collectStrings(t *testing.T, b []byte, out *[]string) {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("event JSON: %v", err)
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			*out = append(*out, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for k, e := range x {
				if k != "ts" {
					walk(e)
				}
			}
		}
	}
	walk(v)
}
