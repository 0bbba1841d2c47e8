package stream

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/normalize"
	"github.com/xunjian/xunjian/detectors/privacy"
	"github.com/xunjian/xunjian/detectors/registry"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/inspect/inspecttest"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/gateway/stream/event/eventtest"
	"github.com/xunjian/xunjian/rules"
)

func compileSchema(t testing.TB) *eventtest.Schema { return eventtest.Compile(t, event.Schema()) }

func validate(s *eventtest.Schema, b []byte) error { return s.Validate(b) }

func intp(i int) *int { return &i }

// mustEncryptor returns an Encryptor whose key is 32 bytes of b.
func mustEncryptor(t testing.TB, b byte, id string) *event.Encryptor {
	t.Helper()
	e, err := event.NewEncryptor(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)), id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var testTS = time.Date(2026, 11, 23, 12, 3, 28, 123_456_789, time.UTC)

func sampleFindings() []detectors.Finding {
	return []detectors.Finding{
		{Detector: "privacy", Kind: "phone", Severity: detectors.High, Score: 0.98, Start: 5, End: 16, Evidence: "138****5678", Lexicon: "privacy.zh"},
		{Detector: "tone", Kind: "rude", Severity: detectors.Medium, Score: 0.7, Start: 0, End: 4, Evidence: "你有病吧", Rule: "tone.insult"},
		{Detector: "diversion", Kind: "contact", Severity: detectors.High, Score: 1, Start: 20, End: 24, Evidence: "加我\"微信\"\n"},
		{Detector: "commitment", Kind: "absolute_claim", Severity: detectors.Low, Score: 0.000000123, Start: 30, End: 33, Evidence: "最低价"},
		{Detector: "complaint", Kind: "risk", Severity: detectors.Critical, Score: 0.91, Start: 0, End: 40},
		{Detector: "link", Kind: "external", Severity: detectors.Info, Score: 0.5, Start: 41, End: 60, Evidence: "http://evil.example/a?b=<c>&d"},
	}
}

func sampleVerdicts() []inspect.Verdict {
	var out []inspect.Verdict
	for a := rules.Allow; a <= rules.Block; a++ {
		out = append(out, inspect.Verdict{Action: a, Findings: []detectors.Finding{}, Reasons: []rules.Reason{}, PolicyRevision: "rev-1", LatencyUS: 42})
		out = append(out, inspect.Verdict{
			Action:   a,
			Findings: sampleFindings(),
			Reasons: []rules.Reason{
				{Rule: "privacy.phone." + a.String(), Action: a, Message: "请勿发送手机号 \u2028 <b>", Finding: intp(0), Suggestion: "改用平台内联系方式"},
				{Rule: "tone.rude", Action: rules.Warn, Message: "tab\there \\ \x01"},
			},
			Alerts:         []rules.Alert{{Level: "high", Kind: "complaint", Message: "顾客威胁投诉或升级"}},
			PolicyRevision: "sha256:abc",
			LatencyUS:      1234,
			Sample:         a == rules.Block,
			FailOpen:       a == rules.Allow,
			Opinion:        sampleOpinion(a),
		})
	}
	// nil slices, as a hand-built verdict may have them.
	out = append(out, inspect.Verdict{Action: rules.Warn})
	return out
}

// sampleOpinion returns a second opinion of every shape, by action: none,
// a failure, an ok, a harmful one applied.
func sampleOpinion(a rules.Action) *inspect.Opinion {
	switch a {
	case rules.Warn:
		return &inspect.Opinion{Mode: inspect.OpinionShadow, Error: "timeout", Latency: 300 * time.Millisecond}
	case rules.Redact:
		return &inspect.Opinion{Mode: inspect.OpinionShadow, Verdict: inspect.OpinionOK, Model: "qwen-plus", Latency: 80 * time.Millisecond}
	case rules.Confirm:
		return &inspect.Opinion{Mode: inspect.OpinionEnforce, Verdict: inspect.OpinionHarmful, Kinds: []string{"tone.rude"},
			Reason: "讥讽顾客 \u2028 <b>", Model: "qwen-plus", Latency: 120 * time.Millisecond, Applied: true}
	}
	return nil
}

// inputs builds an EventInput for every verdict, role, encryption and optional
// field combination.
func inputs(t testing.TB) []struct {
	in  EventInput
	enc *event.Encryptor
} {
	enc := mustEncryptor(t, 9, "kms/2026-11")
	var out []struct {
		in  EventInput
		enc *event.Encryptor
	}
	vs := sampleVerdicts()
	for i := range vs {
		for _, role := range []string{"", inspect.RoleAgent, inspect.RoleCustomer} {
			for _, e := range []*event.Encryptor{nil, enc} {
				in := EventInput{
					TS: testTS, Tenant: "t1", ConversationID: fmt.Sprintf("c-%d", i), AgentID: "a7",
					Role: role, Verdict: &vs[i], Raw: "您好 13812345678",
				}
				if i%2 == 1 {
					in.Route = "/v1/messages"
					in.Masked = "您好 138****5678"
					in.Shadow = []rules.Reason{{Rule: "shadow.tone", Action: rules.Confirm, Message: "m"}}
					in.Sampled = true
					in.ID = uuid.Must(uuid.NewV7()).String()
					in.Risk = 0.85
					in.Context = []inspect.Turn{
						{Role: inspect.RoleCustomer, Text: "我要投诉, 电话 13812345678", TS: testTS.Add(-time.Minute)},
						{Role: inspect.RoleAgent, Text: "您好 138****5678", TS: testTS},
					}
				}
				if i == 3 {
					in.TS = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CST", 8*3600))
				}
				out = append(out, struct {
					in  EventInput
					enc *event.Encryptor
				}{in, e})
			}
		}
	}
	return out
}

func TestEventsValidate(t *testing.T) {
	s := compileSchema(t)
	n := 0
	for _, tc := range inputs(t) {
		e, err := NewEvent(tc.in, tc.enc)
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate(s, b); err != nil {
			t.Fatalf("%s\n%v", b, err)
		}
		if (e.TextEnc != nil) != (tc.enc != nil) {
			t.Fatalf("text_enc %v with encryptor %v", e.TextEnc, tc.enc)
		}
		if bytes.Contains(b, []byte("13812345678")) {
			t.Fatalf("raw text in clear: %s", b)
		}
		n++
	}
	if n < 50 {
		t.Fatalf("only %d events", n)
	}
}

// plain has Event's fields without its MarshalJSON: encoding/json's view.
type plain event.Event

func TestMarshalMatchesEncodingJSON(t *testing.T) {
	for _, tc := range inputs(t) {
		e, err := NewEvent(tc.in, tc.enc)
		if err != nil {
			t.Fatal(err)
		}
		ours, err := e.Marshal([]byte("prefix"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(ours, []byte("prefix")) {
			t.Fatal("Marshal dropped dst")
		}
		ours = ours[len("prefix"):]
		std, err := json.Marshal((*plain)(e))
		if err != nil {
			t.Fatal(err)
		}
		var a, b map[string]any
		if err := json.Unmarshal(ours, &a); err != nil {
			t.Fatalf("%s: %v", ours, err)
		}
		if err := json.Unmarshal(std, &b); err != nil {
			t.Fatal(err)
		}
		// ts differs only in layout (ms vs ns).
		ta, _ := time.Parse(time.RFC3339Nano, a["ts"].(string))
		tb, _ := time.Parse(time.RFC3339Nano, b["ts"].(string))
		if !ta.Equal(tb.Truncate(time.Millisecond)) {
			t.Fatalf("ts %v vs %v", a["ts"], b["ts"])
		}
		delete(a, "ts")
		delete(b, "ts")
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("ours %s\nstd  %s", ours, std)
		}
		// json.Marshal(e) goes through MarshalJSON (it only adds HTML escapes).
		viaJSON, err := json.Marshal(e)
		var c map[string]any
		if err != nil || json.Unmarshal(viaJSON, &c) != nil {
			t.Fatalf("json.Marshal(e) = %s, %v", viaJSON, err)
		}
		delete(c, "ts")
		if !reflect.DeepEqual(a, c) {
			t.Fatalf("json.Marshal(e) = %s", viaJSON)
		}
	}
}

func TestParseRoundTrip(t *testing.T) {
	for _, tc := range inputs(t) {
		e, err := NewEvent(tc.in, tc.enc)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := e.Marshal(nil)
		got, err := event.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if !got.TS.Equal(e.TS.Truncate(time.Millisecond)) {
			t.Fatalf("ts %v want %v", got.TS, e.TS)
		}
		got.TS, e.TS = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("got  %+v\nwant %+v", got, e)
		}
		if tc.enc != nil {
			raw, err := got.DecryptText(tc.enc)
			if err != nil || raw != tc.in.Raw {
				t.Fatalf("DecryptText = %q, %v", raw, err)
			}
			// The text is bound to its event.
			other := *got
			other.EventID = uuid.Must(uuid.NewV7()).String()
			if _, err := other.DecryptText(tc.enc); err == nil {
				t.Fatal("text_enc opened under another event_id")
			}
		}
	}
	if _, err := event.Parse([]byte(`{"event_id":"x","text":"hi"}`)); err == nil {
		t.Fatal("Parse accepted an unknown field")
	}
}

func TestSchemaRejects(t *testing.T) {
	s := compileSchema(t)
	v := sampleVerdicts()[3]
	enc := mustEncryptor(t, 1, "k")
	e, err := NewEvent(EventInput{TS: testTS, Tenant: "t", ConversationID: "c", AgentID: "a", Verdict: &v, Raw: "raw", Masked: "m"}, enc)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := e.Marshal(nil)
	if err := validate(s, good); err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		_ = json.Unmarshal(good, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	finding := func(m map[string]any) map[string]any { return m["findings"].([]any)[0].(map[string]any) }
	for _, tc := range []struct {
		name string
		edit func(m map[string]any)
	}{
		{"raw text field", func(m map[string]any) { m["text"] = "您好 13812345678" }},
		{"raw field in finding", func(m map[string]any) { finding(m)["raw"] = "13812345678" }},
		{"raw field in text_enc", func(m map[string]any) { m["text_enc"].(map[string]any)["plaintext"] = "x" }},
		{"missing shadow", func(m map[string]any) { delete(m, "shadow") }},
		{"missing event_id", func(m map[string]any) { delete(m, "event_id") }},
		{"uuid v4", func(m map[string]any) { m["event_id"] = uuid.NewString() }},
		{"ts without ms", func(m map[string]any) { m["ts"] = "2026-11-23T12:03:28Z" }},
		{"role", func(m map[string]any) { m["role"] = "bot" }},
		{"action", func(m map[string]any) { m["action"] = "hold" }},
		{"unknown detector", func(m map[string]any) { finding(m)["detector"] = "spam" }},
		{"kind of another detector", func(m map[string]any) { finding(m)["kind"] = "rude" }},
		{"severity", func(m map[string]any) { finding(m)["severity"] = "severe" }},
		{"score above 1", func(m map[string]any) { finding(m)["score"] = 1.5 }},
		{"alg", func(m map[string]any) { m["text_enc"].(map[string]any)["alg"] = "none" }},
		{"nonce not base64", func(m map[string]any) { m["text_enc"].(map[string]any)["nonce"] = "!!!!!!!!!!!!!!!!" }},
		{"sampled not bool", func(m map[string]any) { m["sampled"] = "yes" }},
		{"negative latency", func(m map[string]any) { m["latency_us"] = -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := validate(s, edit(tc.edit)); err == nil {
				t.Fatal("validated")
			}
		})
	}
}

// TestSchemaTaxonomy keeps schema.json's enums in step with the detectors'
// taxonomy and the actions.
func TestSchemaTaxonomy(t *testing.T) {
	var doc struct {
		Defs struct {
			Action  struct{ Enum []string } `json:"action"`
			Finding struct {
				Properties struct {
					Detector struct{ Enum []string } `json:"detector"`
					Severity struct{ Enum []string } `json:"severity"`
				} `json:"properties"`
				OneOf []struct {
					Properties struct {
						Detector struct{ Const string }  `json:"detector"`
						Kind     struct{ Enum []string } `json:"kind"`
					} `json:"properties"`
				} `json:"oneOf"`
			} `json:"finding"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(event.Schema(), &doc); err != nil {
		t.Fatal(err)
	}
	f := doc.Defs.Finding
	var families []string
	taxonomy := map[string][]string{}
	for _, fam := range registry.Families() {
		families = append(families, fam.Name)
		taxonomy[fam.Name] = fam.Kinds
	}
	// The schema lists the families in the DESIGN taxonomy's order, the
	// registry in the order they run (complaint last): compare the sets.
	if !slices.Equal(slices.Sorted(slices.Values(f.Properties.Detector.Enum)), slices.Sorted(slices.Values(families))) {
		t.Errorf("detectors %v, taxonomy %v", f.Properties.Detector.Enum, families)
	}
	if len(f.OneOf) != len(families) {
		t.Errorf("%d oneOf branches", len(f.OneOf))
	}
	for _, b := range f.OneOf {
		if want := taxonomy[b.Properties.Detector.Const]; !slices.Equal(b.Properties.Kind.Enum, want) {
			t.Errorf("%s kinds %v, taxonomy %v", b.Properties.Detector.Const, b.Properties.Kind.Enum, want)
		}
	}
	for i, name := range f.Properties.Severity.Enum {
		if detectors.Severity(i).String() != name {
			t.Errorf("severity %d: %s", i, name)
		}
	}
	for i, name := range doc.Defs.Action.Enum {
		if rules.Action(i).String() != name {
			t.Errorf("action %d: %s", i, name)
		}
	}
	if len(doc.Defs.Action.Enum) != 5 || len(f.Properties.Severity.Enum) != 5 {
		t.Error("action or severity enum incomplete")
	}
}

// TestEventNamesFollowPolicy: the event's actions, severities and roles
// are the policy's, the detectors' and the inspector's, name for name,
// and NewEvent maps each to the one of the same name.
func TestEventNamesFollowPolicy(t *testing.T) {
	for a := rules.Allow; a <= rules.Block; a++ {
		if got, ok := eventAction(a); !ok || got.String() != a.String() {
			t.Errorf("eventAction(%s) = %s, %v", a, got, ok)
		}
	}
	for _, a := range []rules.Action{-1, rules.Block + 1} {
		if got, ok := eventAction(a); ok {
			t.Errorf("eventAction(%d) = %s, want not ok", int(a), got)
		}
	}
	for s := detectors.Info; s <= detectors.Critical; s++ {
		if got, err := eventSeverity(s); err != nil || got.String() != s.String() {
			t.Errorf("eventSeverity(%s) = %s, %v", s, got, err)
		}
	}
	if got, err := eventSeverity(detectors.Critical + 1); err == nil {
		t.Errorf("eventSeverity(%d) = %s, want an error", int(detectors.Critical+1), got)
	}
	if inspect.RoleAgent != event.RoleAgent || inspect.RoleCustomer != event.RoleCustomer {
		t.Errorf("roles %q, %q; the event's %q, %q", inspect.RoleAgent, inspect.RoleCustomer, event.RoleAgent, event.RoleCustomer)
	}
}

func TestNewEventRejects(t *testing.T) {
	ok := inspect.Verdict{Action: rules.Warn}
	for _, tc := range []struct {
		name string
		in   EventInput
	}{
		{"nil verdict", EventInput{}},
		{"invalid action", EventInput{Verdict: &inspect.Verdict{Action: 9}}},
		{"role", EventInput{Verdict: &ok, Role: "bot"}},
		{"uuid v4", EventInput{Verdict: &ok, ID: uuid.NewString()}},
		{"upper-case id", EventInput{Verdict: &ok, ID: strings.ToUpper(uuid.Must(uuid.NewV7()).String())}},
		{"not an id", EventInput{Verdict: &ok, ID: "13812345678"}},
		{"NaN score", EventInput{Verdict: &inspect.Verdict{Findings: []detectors.Finding{{Detector: "tone", Kind: "rude", Score: nan()}}}}},
		{"span", EventInput{Verdict: &inspect.Verdict{Findings: []detectors.Finding{{Detector: "tone", Kind: "rude", Start: 5, End: 2}}}}},
		{"severity", EventInput{Verdict: &inspect.Verdict{Findings: []detectors.Finding{{Detector: "tone", Kind: "rude", Severity: 9}}}}},
		{"reason action", EventInput{Verdict: &inspect.Verdict{Reasons: []rules.Reason{{Action: -1}}}}},
		{"shadow finding", EventInput{Verdict: &ok, Shadow: []rules.Reason{{Finding: intp(-1)}}}},
		{"opinion mode", EventInput{Verdict: &inspect.Verdict{Opinion: &inspect.Opinion{Mode: "enforced", Verdict: "ok"}}}},
		{"opinion verdict", EventInput{Verdict: &inspect.Verdict{Opinion: &inspect.Opinion{Mode: "shadow", Verdict: "rude"}}}},
		{"opinion verdict and error", EventInput{Verdict: &inspect.Verdict{Opinion: &inspect.Opinion{Mode: "shadow", Verdict: "ok", Error: "timeout"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Raw = "13812345678 secret"
			if _, err := NewEvent(tc.in, nil); err == nil {
				t.Fatal("want an error")
			} else if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q holds the text", err)
			}
		})
	}
}

func nan() float64 { var z float64; return z / z }

func TestNewEventDefaultsAndCopies(t *testing.T) {
	fs := []detectors.Finding{{Detector: "privacy", Kind: "phone", Score: 1.2, Evidence: "13812345678"}}
	v := inspect.Verdict{Action: rules.Redact, Findings: fs, LatencyUS: -3}
	e, err := NewEvent(EventInput{Verdict: &v, Tenant: "t9", ConversationID: "conv-1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uuid.Parse(e.EventID); err != nil || uuid.MustParse(e.EventID).Version() != 7 {
		t.Errorf("event_id %q", e.EventID)
	}
	if e.Role != "agent" || e.TS.IsZero() || e.LatencyUS != 0 || e.Findings[0].Score != 1 {
		t.Errorf("defaults: %+v", e)
	}
	if fs[0].Evidence != "13812345678" || e.Findings[0].Evidence != "*******5678" {
		t.Errorf("evidence: verdict %q, event %q", fs[0].Evidence, e.Findings[0].Evidence)
	}
	if e.Reasons == nil || e.Alerts == nil || e.Shadow == nil {
		t.Error("nil slices")
	}
	if string(e.Key()) != "conv-1" {
		t.Errorf("key %q", e.Key())
	}
	if h := e.Headers(); !reflect.DeepEqual(h, [][2]string{{"tenant", "t9"}, {"schema", "xunjian.event/v1"}}) {
		t.Errorf("headers %v", h)
	}
	if e.TextEnc != nil {
		t.Error("text_enc without an encryptor")
	}
	if _, err := e.DecryptText(mustEncryptor(t, 1, "k")); err == nil {
		t.Error("DecryptText without text_enc")
	}
	id1, _ := NewEvent(EventInput{Verdict: &v}, nil)
	id2, _ := NewEvent(EventInput{Verdict: &v}, nil)
	if id1.EventID == id2.EventID {
		t.Error("event ids repeat")
	}
}

// TestPrivacy runs real inspections of texts with private data and checks
// that no raw value reaches the marshaled event, encrypted or not.
func TestPrivacy(t *testing.T) {
	ctx := context.Background()
	in := inspecttest.Default(t)
	pd, err := privacy.Default()
	if err != nil {
		t.Fatal(err)
	}
	norm := normalize.Default()
	secrets := []string{"13812345678", "110101199003074514", "6222021234567890128", "zhangsan.test@example.com", "zhangsan.test"}
	texts := []string{
		"您好，请拨打13812345678联系我",
		"我的身份证号是110101199003074514",
		"退款请打到卡号6222021234567890128",
		"发邮件到zhangsan.test@example.com",
		"加我微信13812345678，身份证110101199003074514，卡6222021234567890128，邮箱zhangsan.test@example.com",
		"My phone is 13812345678 and mail zhangsan.test@example.com",
	}
	s := compileSchema(t)
	enc := mustEncryptor(t, 3, "k")
	for _, text := range texts {
		for _, role := range []string{inspect.RoleAgent, inspect.RoleCustomer} {
			v, _, err := in.Inspect(ctx, inspect.Request{Text: text, Role: role, ConversationID: "c1", AgentID: "a1", TenantID: "t1"}, inspect.Conversation{}, testTS)
			if err != nil {
				t.Fatal(err)
			}
			// A second opinion's reason is free text from outside: one
			// that echoes the message is masked again.
			v.Opinion = &inspect.Opinion{Mode: inspect.OpinionShadow, Verdict: inspect.OpinionHarmful, Kinds: []string{"tone.rude"}, Reason: "the agent wrote: " + text}
			if !slices.ContainsFunc(v.Findings, func(f detectors.Finding) bool { return f.Detector == "privacy" }) {
				t.Fatalf("%q: no privacy finding", text)
			}
			var nt normalize.Text
			var buf normalize.Buffer
			norm.NormalizeInto(&nt, &buf, text)
			masked := pd.Redact(&nt, v.Findings)
			for _, e := range []*event.Encryptor{nil, enc} {
				ev, err := NewEvent(EventInput{TS: testTS, Tenant: "t1", ConversationID: "c1", AgentID: "a1", Role: role, Verdict: &v, Masked: masked, Raw: text}, e)
				if err != nil {
					t.Fatal(err)
				}
				b, err := ev.Marshal(nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, sec := range secrets {
					if bytes.Contains(b, []byte(sec)) {
						t.Errorf("%q in the event: %s", sec, b)
					}
				}
				if err := validate(s, b); err != nil {
					t.Errorf("%s: %v", b, err)
				}
				if e != nil {
					if got, err := ev.DecryptText(e); err != nil || got != text {
						t.Errorf("DecryptText = %q, %v", got, err)
					}
				}
			}
		}
	}
}

func benchVerdict() inspect.Verdict {
	return inspect.Verdict{
		Action:   rules.Confirm,
		Findings: sampleFindings()[:3],
		Reasons: []rules.Reason{
			{Rule: "privacy.phone.redact", Action: rules.Redact, Message: "请勿发送手机号", Finding: intp(0)},
			{Rule: "diversion.contact.confirm", Action: rules.Confirm, Message: "请勿引导顾客离开平台", Finding: intp(2), Suggestion: "请在平台内继续沟通"},
		},
		Alerts:         []rules.Alert{},
		PolicyRevision: "sha256:0123456789abcdef",
		LatencyUS:      87,
	}
}

func BenchmarkNewMarshal(b *testing.B) {
	v := benchVerdict()
	enc := mustEncryptor(b, 5, "k1")
	for _, bc := range []struct {
		name string
		enc  *event.Encryptor
	}{{"plain", nil}, {"encrypted", enc}} {
		b.Run(bc.name, func(b *testing.B) {
			in := EventInput{TS: testTS, Tenant: "t1", ConversationID: "conv-0001", AgentID: "agent-7", Verdict: &v,
				Masked: "你有病吧，打138****5678，加我\"微信\"", Raw: "你有病吧，打13812345678，加我\"微信\"", Route: "/v1/messages"}
			buf := make([]byte, 0, 4096)
			b.ReportAllocs()
			for b.Loop() {
				e, err := NewEvent(in, bc.enc)
				if err != nil {
					b.Fatal(err)
				}
				if buf, err = e.Marshal(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

func TestForAlert(t *testing.T) {
	s := compileSchema(t)
	v := sampleVerdicts()[1]
	e, err := NewEvent(EventInput{TS: testTS, Tenant: "t1", ConversationID: "c1", Verdict: &v}, nil)
	if err != nil {
		t.Fatal(err)
	}
	recent := []inspect.Turn{
		{Role: inspect.RoleCustomer, Text: "我的卡号 6222021234567890123 你们看看", TS: testTS.Add(-time.Second)},
		{Role: inspect.RoleAgent, Text: "好的", TS: testTS},
	}
	admitted := []rules.Alert{{Level: "critical", Kind: "risk", Message: "call 13812345678"}}
	a := forAlert(e, &v, admitted, recent)
	if len(e.Context) != 0 || len(e.Alerts) != 1 || e.Alerts[0].Kind != "complaint" {
		t.Fatalf("forAlert modified the event: %+v", e)
	}
	if len(a.Alerts) != 1 || a.Alerts[0].Kind != "risk" || len(a.Context) != 2 || a.EventID != e.EventID {
		t.Fatalf("alert event %+v", a)
	}
	b, err := a.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(s, b); err != nil {
		t.Fatalf("%s\n%v", b, err)
	}
	for _, raw := range []string{"6222021234567890123", "13812345678"} {
		if bytes.Contains(b, []byte(raw)) {
			t.Fatalf("raw %s in %s", raw, b)
		}
	}
	back, err := event.Parse(b)
	if err != nil || len(back.Context) != 2 || back.Context[0].Role != inspect.RoleCustomer || !back.Context[1].TS.Equal(testTS.Truncate(time.Millisecond)) {
		t.Fatalf("Parse = %+v, %v", back, err)
	}
}
