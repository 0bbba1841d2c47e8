package inspect

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/complaint"
	"github.com/xunjian/xunjian/detectors/normalize"
	"github.com/xunjian/xunjian/rules"
)

// TestInspectActions runs drafts through the whole pipeline with the default
// policy and checks the action the agent client would act on.
func TestInspectActions(t *testing.T) {
	in := defaultInspector(t)
	tests := []struct {
		name, role, text string
		want             rules.Action
		finding          string // a finding that must be present
	}{
		{"polite zh", "", "您好，请问有什么可以帮您？", rules.Allow, ""},
		{"polite en", "", "Thanks for waiting, your order has shipped and should arrive on Tuesday.", rules.Allow, ""},
		{"wechat diversion", "", "亲，加我微信 wxid_abc123 私聊给您优惠", rules.Block, "diversion.contact"},
		{"wechat look-alike", "", "加我V信：abc_12345，便宜点", rules.Block, "diversion.contact"},
		{"rude zh", "", "你是不是傻，看不懂字吗", rules.Block, "tone.rude"},
		{"rude traditional", "", "你是不是傻，看不懂字嗎", rules.Block, "tone.rude"},
		{"profanity evasion", "", "傻 逼客户", rules.Block, "tone.profanity"},
		{"rude en", "", "Are you stupid? Read the listing.", rules.Block, "tone.rude"},
		{"impatient", "", "我已经说过了，请您看一下上面的消息", rules.Warn, "tone.impatient"},
		{"phone redact", "", "已为您登记手机 13812345678，请留意短信", rules.Redact, "privacy.phone"},
		{"asking for a code", "", "请把手机收到的验证码告诉我，我帮您操作", rules.Block, "privacy.credential"},
		{"guarantee", "", "保证明天一定送到，百分百没问题", rules.Confirm, "commitment.guarantee"},
		{"customer escalation is never held", "customer", "再不处理我就打12315投诉你们", rules.Allow, "complaint.escalation"},
		{"customer rudeness is never held", "customer", "你们客服都是傻逼吗", rules.Allow, "tone.profanity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := inspectInto(in, context.Background(), Request{Text: tt.text, Role: tt.role, ConversationID: "c1"}, nil, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if v.Action != tt.want {
				t.Errorf("action = %s, want %s (findings %+v, reasons %+v)", v.Action, tt.want, v.Findings, v.Reasons)
			}
			if tt.finding != "" && !hasFinding(v, tt.finding) {
				t.Errorf("findings %+v lack %s", v.Findings, tt.finding)
			}
			if v.PolicyRevision == "" || v.DecisionID == "" {
				t.Errorf("revision %q, decision id %q: want both set", v.PolicyRevision, v.DecisionID)
			}
			if v.Action == rules.Block && len(v.Reasons) == 0 {
				t.Error("a block without reasons")
			}
		})
	}
}

func hasFinding(v Verdict, name string) bool {
	for _, f := range v.Findings {
		if f.Name() == name {
			return true
		}
	}
	return false
}

func TestInspectRedactsWhatTheAgentTyped(t *testing.T) {
	in := defaultInspector(t)
	text := "您的手机 138 1234 5678 已登记"
	v, err := inspectInto(in, context.Background(), Request{Text: text}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if v.Action != rules.Redact {
		t.Fatalf("action = %s, want redact", v.Action)
	}
	if strings.Contains(v.Redacted, "1234") || !strings.HasPrefix(v.Redacted, "您的手机 ") || !strings.HasSuffix(v.Redacted, " 已登记") {
		t.Errorf("redacted = %q: want the number masked and the rest unchanged", v.Redacted)
	}
	for _, f := range v.Findings {
		if f.Name() == "privacy.phone" {
			if got := string([]rune(text)[f.Start:f.End]); got != "138 1234 5678" {
				t.Errorf("phone span covers %q, want the number as typed", got)
			}
			if strings.Contains(f.Evidence, "1234") {
				t.Errorf("evidence %q shows the number in clear", f.Evidence)
			}
		}
	}
}

func TestInspectRejectsBadInput(t *testing.T) {
	in := defaultInspector(t)
	for _, tt := range []struct {
		name string
		req  Request
		want string
	}{
		{"empty", Request{Text: "  "}, "text: empty"},
		{"huge", Request{Text: strings.Repeat("好", DefaultMaxTextBytes)}, "over the limit"},
		{"invalid utf8", Request{Text: "ab\xffcd"}, "invalid UTF-8"},
		{"unknown role", Request{Text: "hi", Role: "bot"}, `role "bot"`},
	} {
		_, err := inspectInto(in, context.Background(), tt.req, nil, time.Now())
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want ErrInvalid mentioning %q", tt.name, err, tt.want)
		}
	}
}

// TestConversationRisk feeds a customer who escalates; the risk must rise,
// a complaint.risk finding appear and the policy raise an alert, while the
// customer's messages are still allowed.
func TestConversationRisk(t *testing.T) {
	in := defaultInspector(t)
	conv := &Conversation{ID: "c9"}
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	msgs := []string{"我的快递三天了还没到", "你们太慢了，什么破服务", "再不处理我就给差评，还要打12315投诉你们", "我已经联系律师了，还要去消协和市场监管局投诉"}
	var last Verdict
	prevRisk := -1.0
	for _, m := range msgs {
		now = now.Add(time.Minute)
		v, err := inspectInto(in, context.Background(), Request{Text: m, Role: RoleCustomer, ConversationID: "c9"}, conv, now)
		if err != nil {
			t.Fatal(err)
		}
		if v.Action != rules.Allow {
			t.Errorf("customer message %q got %s, want allow", m, v.Action)
		}
		if conv.Risk < prevRisk {
			t.Errorf("risk fell from %.2f to %.2f on %q", prevRisk, conv.Risk, m)
		}
		prevRisk = conv.Risk
		last = v
	}
	if conv.CustomerEscalations < 2 || conv.Risk < complaint.RiskFindingAt {
		t.Fatalf("after four angry messages: escalations %d, risk %.2f", conv.CustomerEscalations, conv.Risk)
	}
	if !hasFinding(last, "complaint.risk") || len(last.Alerts) == 0 {
		t.Errorf("last verdict: findings %+v, alerts %+v; want complaint.risk and an alert", last.Findings, last.Alerts)
	}
	if w := conv.WaitSeconds(now.Add(90 * time.Second)); w < 90 {
		t.Errorf("customer wait = %v, want at least 90s", w)
	}
	if _, err := inspectInto(in, context.Background(), Request{Text: "非常抱歉，马上为您处理", ConversationID: "c9"}, conv, now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if w := conv.WaitSeconds(now.Add(3 * time.Minute)); w != 0 {
		t.Errorf("wait after the agent answered = %v, want 0", w)
	}
	if len(conv.Recent) != MaxRecent || conv.Recent[MaxRecent-1].Text != "非常抱歉，马上为您处理" || conv.Recent[0].Role != RoleCustomer {
		t.Errorf("recent turns = %+v, want the last %d, oldest first", conv.Recent, MaxRecent)
	}
	if _, err := inspectInto(in, context.Background(), Request{Text: "我的手机是13812345678", Role: RoleCustomer, ConversationID: "c9"}, conv, now.Add(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if last := conv.Recent[MaxRecent-1].Text; strings.Contains(last, "12345678") || !strings.Contains(last, "138") {
		t.Errorf("recent turn %q: want the phone masked", last)
	}
}

func BenchmarkInspect(b *testing.B) {
	in := defaultInspector(b)
	for _, bc := range []struct{ name, text string }{
		{"zh", "亲，您好！您的订单已经发货了，快递单号是YT1234567890，预计明天下午送达。如有问题请随时联系我们，祝您购物愉快，感谢您对本店的支持！"},
		{"en", "Hi there, thanks for reaching out! Your order has shipped and should arrive by Tuesday. Let me know if you need anything else."},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := inspectInto(in, ctx, Request{Text: bc.text, ConversationID: "c"}, nil, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var sink []detectors.Finding

func BenchmarkDetectors(b *testing.B) {
	in := defaultInspector(b)
	for _, bc := range []struct{ name, text string }{
		{"zh", "亲，您好！您的订单已经发货了，快递单号是YT1234567890，预计明天下午送达。如有问题请随时联系我们，祝您购物愉快，感谢您对本店的支持！"},
		{"en", "Hi there, thanks for reaching out! Your order has shipped and should arrive by Tuesday. Let me know if you need anything else."},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var (
				t   normalize.Text
				buf normalize.Buffer
			)
			b.ReportAllocs()
			for b.Loop() {
				in.norm.NormalizeInto(&t, &buf, bc.text)
				sink = in.detect(&t, "", RoleAgent, sink[:0])
			}
		})
	}
}

// TestBundleLexiconOverride loads a bundle whose data replaces the tone
// lexicon: the bundle's terms apply, the embedded ones no longer do, and the
// lexicon version changes so caches keyed on it cannot serve old findings.
func TestBundleLexiconOverride(t *testing.T) {
	lex := `{"tone": {"entries": [{"id": "custom.pineapple", "kind": "rude", "severity": "high", "terms": ["菠萝头"]}]}}`
	bundle := bundleWith(t, map[string]string{"xunjian/lexicons/data.json": lex})
	p, err := rules.Load(context.Background(), bundle)
	if err != nil {
		t.Fatal(err)
	}
	custom, err := New(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	def := defaultInspector(t)
	if custom.LexiconVersion() == def.LexiconVersion() {
		t.Error("overriding a lexicon left the lexicon version unchanged")
	}
	v, err := inspectInto(custom, context.Background(), Request{Text: "你这个菠萝头"}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !hasFinding(v, "tone.rude") || v.Action != rules.Block {
		t.Errorf("bundle term: action %s, findings %+v; want tone.rude and block", v.Action, v.Findings)
	}
	if v.Findings[0].Lexicon != "custom.pineapple" {
		t.Errorf("finding lexicon %q, want the bundle entry id", v.Findings[0].Lexicon)
	}
	v, err = inspectInto(custom, context.Background(), Request{Text: "你是不是傻，看不懂字吗"}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The model still judges the message as a whole (its findings name
	// it in Rule); no embedded lexicon entry matches any more.
	if slices.ContainsFunc(v.Findings, func(f detectors.Finding) bool { return f.Detector == "tone" && !strings.HasPrefix(f.Rule, "model:") }) {
		t.Errorf("embedded tone terms still apply after the bundle replaced the lexicon: %+v", v.Findings)
	}

	// A broken bundle lexicon fails New with the family named.
	if err := os.WriteFile(filepath.Join(bundle, "xunjian", "lexicons", "data.json"), []byte(`{"tone": {"entries": [{"id": "x", "kind": "nice", "terms": ["a"]}]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err = rules.Load(context.Background(), bundle)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(p, Options{}); err == nil || !strings.Contains(err.Error(), "tone") || !strings.Contains(err.Error(), "nice") {
		t.Errorf("bad bundle lexicon: err = %v, want one naming the tone detector and the bad kind", err)
	}
}

// bundleWith copies the default bundle into a temporary directory and adds
// files (path relative to the bundle root → content).
func bundleWith(t *testing.T, files map[string]string) string {
	t.Helper()
	bundle := filepath.Join(t.TempDir(), "bundle")
	if err := rules.WriteDefaultBundle(bundle); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		path := filepath.Join(bundle, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return bundle
}

// TestTenantLinkAllowlist: a host one tenant allows in its bundle data is
// still an external link for every other tenant.
func TestTenantLinkAllowlist(t *testing.T) {
	bundle := bundleWith(t, map[string]string{"xunjian/tenants/shop/data.json": `{"link_allow": ["shop.example.com"]}`})
	p, err := rules.Load(context.Background(), bundle)
	if err != nil {
		t.Fatal(err)
	}
	in, err := New(p, Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	text := "商品详情请看 https://shop.example.com/item/1"
	for _, tt := range []struct {
		tenant string
		link   bool
	}{{"shop", false}, {"other", true}, {"shop", false}, {"other", true}} {
		v, err := inspectInto(in, context.Background(), Request{Text: text, TenantID: tt.tenant}, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if hasFinding(v, "link.external") != tt.link {
			t.Errorf("tenant %s: findings %+v, want link.external %v", tt.tenant, v.Findings, tt.link)
		}
	}
	bad := bundleWith(t, map[string]string{"xunjian/tenants/shop/data.json": `{"link_allow": "shop.example.com"}`})
	if p, err = rules.Load(context.Background(), bad); err != nil {
		t.Fatal(err)
	}
	if _, err := New(p, Options{}); err == nil || !strings.Contains(err.Error(), "tenants.shop.link_allow") {
		t.Errorf("link_allow not a list: err = %v", err)
	}
}

// TestWaitAlert: a customer left waiting past the policy's threshold makes
// the agent's next draft carry a wait alert.
func TestWaitAlert(t *testing.T) {
	in := defaultInspector(t)
	conv := &Conversation{ID: "w"}
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	if _, err := inspectInto(in, context.Background(), Request{Text: "请问我的快递到哪了？", Role: RoleCustomer}, conv, t0); err != nil {
		t.Fatal(err)
	}
	quick, err := inspectInto(in, context.Background(), Request{Text: "您好，马上为您查询"}, conv, t0.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if hasAlert(quick, "wait") {
		t.Errorf("an answer after 30s raised a wait alert: %+v", quick.Alerts)
	}
	if _, err := inspectInto(in, context.Background(), Request{Text: "还在吗？", Role: RoleCustomer}, conv, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	late, err := inspectInto(in, context.Background(), Request{Text: "您好，让您久等了"}, conv, t0.Add(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !hasAlert(late, "wait") {
		t.Errorf("an answer after 9 minutes of waiting raised no wait alert: %+v", late.Alerts)
	}
}

func hasAlert(v Verdict, kind string) bool {
	for _, a := range v.Alerts {
		if a.Kind == kind {
			return true
		}
	}
	return false
}

// TestBundleLexiconAdditions: entries under xunjian.lexicon_additions add
// to a family's lexicon without replacing it.
func TestBundleLexiconAdditions(t *testing.T) {
	adds := `{"tone": {"entries": [{"id": "custom.pineapple", "kind": "rude", "severity": "high", "terms": ["菠萝头"]}]}}`
	p, err := rules.Load(context.Background(), bundleWith(t, map[string]string{"xunjian/lexicon_additions/data.json": adds}))
	if err != nil {
		t.Fatal(err)
	}
	in, err := New(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	for _, text := range []string{"你这个菠萝头", "你是不是傻，看不懂字吗"} {
		v, err := inspectInto(in, context.Background(), Request{Text: text}, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !hasFinding(v, "tone.rude") {
			t.Errorf("%q: findings %+v, want tone.rude (added and embedded terms both apply)", text, v.Findings)
		}
	}
	p, err = rules.Load(context.Background(), bundleWith(t, map[string]string{"xunjian/lexicon_additions/data.json": `{"shoes": {"entries": []}}`}))
	if err != nil {
		t.Fatal(err)
	}
	if in, err := New(p, Options{}); err == nil || !strings.Contains(err.Error(), "lexicon_additions.shoes") {
		if in != nil {
			in.Close()
		}
		t.Errorf("unknown family: err = %v", err)
	}
}

// TestDecideHook: Options.Decide takes the policy's place and gets the
// input the pipeline built.
func TestDecideHook(t *testing.T) {
	p, err := rules.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var got *rules.Input
	in, err := New(p, Options{Decide: func(_ context.Context, input *rules.Input) (rules.Decision, error) {
		got = input
		return rules.Decision{Action: rules.Confirm, Reasons: []rules.Reason{{Rule: "sidecar", Action: rules.Confirm}}, Revision: "opa"}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	v, err := inspectInto(in, context.Background(), Request{Text: "您的手机 13812345678 已登记", TenantID: "t1"}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if v.Action != rules.Confirm || len(v.Reasons) != 1 || v.Reasons[0].Rule != "sidecar" {
		t.Errorf("verdict %+v, want the hook's decision", v)
	}
	if got == nil || got.Tenant.ID != "t1" || len(got.Findings) == 0 || got.Findings[0].Kind != "phone" || got.Draft.Lang != "zh" {
		t.Errorf("hook input %+v", got)
	}
}
