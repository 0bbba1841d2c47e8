package inspect

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xunjian/xunjian/detectors/registry"
	"github.com/xunjian/xunjian/rules"
)

// inputSchema is rules.NewInputChecker, failing the test on an error.
func inputSchema(t testing.TB) *rules.InputChecker {
	t.Helper()
	c, err := rules.NewInputChecker()
	if err != nil {
		t.Fatalf("input schema: %v", err)
	}
	return c
}

// inputRecorder is a Decide hook that keeps the JSON encoding of every
// input the pipeline builds, then lets the policy decide as it would have.
type inputRecorder struct {
	policy *rules.Policy
	mu     sync.Mutex
	inputs [][]byte
}

func (r *inputRecorder) decide(ctx context.Context, in *rules.Input) (rules.Decision, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return rules.Decision{}, fmt.Errorf("encode input: %w", err)
	}
	r.mu.Lock()
	r.inputs = append(r.inputs, b)
	r.mu.Unlock()
	return r.policy.Decide(ctx, in)
}

// take returns the inputs recorded since the last call.
func (r *inputRecorder) take() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.inputs
	r.inputs = nil
	return out
}

// recordingInspector is an Inspector for the default policy whose Decide
// hook records the inputs.
func recordingInspector(t *testing.T) (*Inspector, *inputRecorder) {
	t.Helper()
	p, err := rules.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	rec := &inputRecorder{policy: p}
	in, err := New(p, Options{Decide: rec.decide})
	if err != nil {
		t.Fatal(err)
	}
	return in, rec
}

// priorTurn is an earlier message of a conversation, ago before the
// message under test.
type priorTurn struct {
	role, text string
	ago        time.Duration
}

// TestInputSchemaInspector runs realistic messages through the inspector,
// the one code path that builds the policy's input for the gateway, the
// CLI and replay, and validates every input it hands the policy (those of
// earlier turns of the conversation too) against rules/input.schema.json.
// Together the messages carry every kind of the taxonomy.
func TestInputSchemaInspector(t *testing.T) {
	sch := inputSchema(t)
	in, rec := recordingInspector(t)
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	// A conversation in which the customer has escalated and waits.
	heated := []priorTurn{
		{RoleCustomer, "我的快递一周了还没到，怎么回事？", 30 * time.Minute},
		{RoleAgent, "您好，我帮您查一下。", 29 * time.Minute},
		{RoleCustomer, "再不处理我就打12315投诉你们", 20 * time.Minute},
	}
	tests := []struct {
		name         string
		req          Request
		conversation string      // "" = no conversation state (nil)
		prior        []priorTurn // inspected first, in the same conversation
		want         []string    // kinds the message's input must carry
		wantLang     string
		// heated: the input must carry the conversation's state (the
		// customer's escalations, a risk, and for a draft a wait).
		heated bool
	}{
		{name: "polite zh, nothing found", req: Request{Text: "您好，请问有什么可以帮您？"}, want: nil, wantLang: "zh"},
		{name: "polite en in a conversation", req: Request{Text: "Thanks for waiting, your order has shipped.", AgentID: "a7", TenantID: "acme"},
			conversation: "c-polite", prior: []priorTurn{{RoleCustomer, "Where is my order?", 2 * time.Minute}}, want: nil, wantLang: "en"},
		{name: "rude zh", req: Request{Text: "你是不是傻，看不懂字吗"}, want: []string{"tone.rude"}, wantLang: "zh"},
		{name: "rude en", req: Request{Text: "Are you stupid?", Role: RoleAgent}, want: []string{"tone.rude"}, wantLang: "en"},
		{name: "profanity and impatience zh", req: Request{Text: "你他妈的有完没完"}, want: []string{"tone.profanity", "tone.impatient"}},
		{name: "impatient en", req: Request{Text: "I already told you, read my previous message."}, want: []string{"tone.impatient"}},
		{name: "dismissive en", req: Request{Text: "This is none of my business, ask someone else"}, want: []string{"tone.dismissive"}},
		{name: "phone in clear zh", req: Request{Text: "您的手机 138 1234 5678 已登记", TenantID: "acme", AgentID: "a7"}, want: []string{"privacy.phone"}},
		{name: "phone in full-width digits", req: Request{Text: "电话：１３８１２３４５６７８"}, want: []string{"privacy.phone"}},
		{name: "ID number in clear", req: Request{Text: "身份证号 110101199003074514 已核对"}, want: []string{"privacy.id_card"}},
		{name: "bank card in clear", req: Request{Text: "退款会退到卡号 6222 0212 3456 7890 128"}, want: []string{"privacy.bank_card"}},
		{name: "email", req: Request{Text: "邮箱 zhangsan@example.com 已绑定"}, want: []string{"privacy.email"}},
		{name: "address", req: Request{Text: "收货地址：北京市朝阳区建国路88号"}, want: []string{"privacy.address"}},
		{name: "passport", req: Request{Text: "护照号 E12345678"}, want: []string{"privacy.passport"}},
		{name: "license plate", req: Request{Text: "车牌 京A12345"}, want: []string{"privacy.license_plate"}},
		{name: "asking for the verification code", req: Request{Text: "请把手机收到的验证码告诉我"}, want: []string{"privacy.credential"}},
		{name: "加我微信 diversion", req: Request{Text: "亲，加我V信 wxid_abc123 私聊，给您便宜点"}, want: []string{"diversion.contact"}},
		{name: "off-platform payment zh", req: Request{Text: "钱直接转我支付宝就行"}, want: []string{"diversion.payment"}},
		{name: "off-platform payment en", req: Request{Text: "Just paypal me, it is faster"}, want: []string{"diversion.payment"}},
		{name: "unkeepable promise zh", req: Request{Text: "保证明天一定送到"}, want: []string{"commitment.guarantee"}},
		{name: "unkeepable promise en", req: Request{Text: "We guarantee 100% it arrives tomorrow"}, want: []string{"commitment.guarantee"}, wantLang: "en"},
		{name: "rebate for a review", req: Request{Text: "给您好评返现20元"}, want: []string{"commitment.compensation"}},
		{name: "advertising-law absolute", req: Request{Text: "这是全网最低价"}, want: []string{"commitment.absolute_claim"}},
		{name: "external link", req: Request{Text: "详情请看 http://bit.ly/abc"}, want: []string{"link.external"}},
		{name: "several texts of one proxied message", req: Request{Text: "退款已受理\n卡号 6222 0212 3456 7890 128\n加我微信 abc123"},
			want: []string{"privacy.bank_card", "diversion.contact"}},
		{name: "customer threatens 12315, no state", req: Request{Text: "再不处理我就打12315投诉你们", Role: RoleCustomer},
			want: []string{"complaint.escalation", "complaint.risk"}},
		{name: "customer threatens 12315 in a heated conversation", req: Request{Text: "还不回？我现在就打12315，还要曝光你们", Role: RoleCustomer, TenantID: "acme"},
			conversation: "c-heated", prior: heated, want: []string{"complaint.escalation", "complaint.risk"}, heated: true},
		{name: "customer en, lawyer", req: Request{Text: "I will report you to the BBB and my lawyer", Role: RoleCustomer},
			conversation: "c-en", want: []string{"complaint.escalation"}, wantLang: "en"},
		{name: "customer leaks own phone", req: Request{Text: "我的电话是13812345678，快点回电", Role: RoleCustomer}, want: []string{"privacy.phone"}},
		{name: "agent promise to a waiting, escalated customer", req: Request{Text: "保证明天一定送到，您别投诉", AgentID: "a7", TenantID: "acme"},
			conversation: "c-heated-2", prior: heated, want: []string{"commitment.guarantee"}, heated: true},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var conv *Conversation
			if tt.conversation != "" {
				conv = &Conversation{ID: tt.conversation}
				tt.req.ConversationID = tt.conversation
			}
			for _, p := range tt.prior {
				if _, err := inspectInto(in, context.Background(), Request{Text: p.text, Role: p.role, ConversationID: tt.conversation, TenantID: tt.req.TenantID}, conv, now.Add(-p.ago)); err != nil {
					t.Fatalf("prior turn: %v", err)
				}
			}
			if _, err := inspectInto(in, context.Background(), tt.req, conv, now); err != nil {
				t.Fatal(err)
			}
			inputs := rec.take()
			if want := len(tt.prior) + 1; len(inputs) != want {
				t.Fatalf("the policy saw %d inputs, want %d", len(inputs), want)
			}
			for i, b := range inputs {
				if err := sch.Check(b); err != nil {
					t.Errorf("input %d of %d: %v\n%s", i+1, len(inputs), err, b)
				}
			}
			var got rules.Input
			if err := json.Unmarshal(inputs[len(inputs)-1], &got); err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, f := range got.Findings {
				kinds = append(kinds, f.Detector+"."+f.Kind)
				seen[f.Detector+"."+f.Kind] = true
			}
			for _, k := range tt.want {
				if !slices.Contains(kinds, k) {
					t.Errorf("findings %v lack %s", kinds, k)
				}
			}
			if tt.want == nil && len(kinds) > 0 {
				t.Errorf("findings %v, want none", kinds)
			}
			if tt.wantLang != "" && got.Draft.Lang != tt.wantLang {
				t.Errorf("lang %q, want %q", got.Draft.Lang, tt.wantLang)
			}
			if got.Draft.Role == "" {
				t.Error("the input's role is empty; the inspector defaults it to agent")
			}
			if c := got.Conversation; tt.heated && (c.CustomerEscalations < 1 || c.Risk <= 0 || got.Draft.Role == RoleAgent && c.WaitSeconds <= 0) {
				t.Errorf("conversation %+v: want escalations, a risk and (for a draft) a wait", c)
			}
			if tt.prior != nil && got.Conversation.Turns != len(tt.prior)+1 {
				t.Errorf("turns %d, want %d", got.Conversation.Turns, len(tt.prior)+1)
			}
		})
	}
	for _, fam := range registry.Families() {
		for _, k := range fam.Kinds {
			if !seen[fam.Name+"."+k] {
				t.Errorf("no message of the table has a %s.%s finding: add one", fam.Name, k)
			}
		}
	}
}

// TestInputSchemaRejectsInspectorInput: a real input with a field the
// schema does not know, or a value outside one of its enums, is refused,
// so that TestInputSchemaInspector can fail.
func TestInputSchemaRejectsInspectorInput(t *testing.T) {
	sch := inputSchema(t)
	in, rec := recordingInspector(t)
	if _, err := inspectInto(in, context.Background(), Request{Text: "亲，加我微信 wxid_abc123 私聊", TenantID: "acme"}, &Conversation{ID: "c1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	inputs := rec.take()
	if len(inputs) != 1 {
		t.Fatalf("%d inputs, want 1", len(inputs))
	}
	if err := sch.Check(inputs[0]); err != nil {
		t.Fatalf("the real input must be valid: %v", err)
	}
	tests := []struct {
		name string
		edit func(doc map[string]any)
		at   string
	}{
		{"unknown draft field", func(d map[string]any) { d["draft"].(map[string]any)["channel"] = "web" }, "/draft"},
		{"unknown finding field", func(d map[string]any) {
			d["findings"].([]any)[0].(map[string]any)["confidence"] = "high"
		}, "/findings/0"},
		{"severity outside the enum", func(d map[string]any) {
			d["findings"].([]any)[0].(map[string]any)["severity"] = "urgent"
		}, "/findings/0/severity"},
		{"kind outside the family", func(d map[string]any) {
			d["findings"].([]any)[0].(map[string]any)["kind"] = "wechat"
		}, "/findings/0/kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(inputs[0], &doc); err != nil {
				t.Fatal(err)
			}
			tt.edit(doc)
			b, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			err = sch.Check(b)
			if err == nil {
				t.Fatalf("accepted %s", b)
			}
			if want := fmt.Sprintf("%q (", tt.at); !strings.Contains(err.Error(), want) {
				t.Errorf("error does not blame %s: %v", tt.at, err)
			}
		})
	}
}
