package event

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/stream/event/eventtest"
)

// The event package's own tests use hand-built events; the events the
// gateway builds from inspections are tested where they are built
// (gateway/stream).

var testTS = time.Date(2026, 11, 23, 12, 3, 28, 123_456_789, time.UTC)

func intp(i int) *int { return &i }

// fullEvent has every field set, with values that need escaping.
func fullEvent(t testing.TB) *Event {
	enc := mustEncryptor(t, 7, "kms/1")
	e := &Event{
		EventID: "01890a5d-ac96-774b-bcce-b302099a8057", TS: testTS, Tenant: "t1", ConversationID: "c-1", AgentID: "a7",
		Role: RoleAgent, Action: ActionConfirm,
		Findings: []Finding{
			{Detector: "privacy", Kind: "phone", Severity: SeverityHigh, Score: 0.98, Start: 5, End: 16, Evidence: "138****5678", Lexicon: "privacy.zh"},
			{Detector: "tone", Kind: "rude", Severity: SeverityMedium, Score: 0.7, Start: 0, End: 4, Evidence: "你有病吧", Rule: "tone.insult"},
			{Detector: "commitment", Kind: "absolute_claim", Severity: SeverityLow, Score: 0.000000123, Start: 30, End: 33, Evidence: "最低价"},
			{Detector: "link", Kind: "external", Severity: SeverityInfo, Score: 0.5, Start: 41, End: 60, Evidence: "http://evil.example/a?b=<c>&d"},
			{Detector: "complaint", Kind: "risk", Severity: SeverityCritical, Score: 1, Start: 0, End: 40},
		},
		Reasons: []Reason{
			{Rule: "privacy.phone.confirm", Action: ActionConfirm, Message: "请勿发送手机号 \u2028 <b>", Finding: intp(0), Suggestion: "改用平台内联系方式"},
			{Rule: "tone.rude", Action: ActionWarn, Message: "tab\there \\ \x01"},
		},
		Alerts:         []Alert{{Level: "high", Kind: "complaint", Message: "顾客威胁投诉或升级"}},
		PolicyRevision: "sha256:abc",
		Shadow:         []Reason{{Rule: "shadow.tone", Action: ActionBlock, Message: "m"}},
		LatencyUS:      1234,
		Sampled:        true,
		AgentClaimed:   true,
		FailOpen:       true,
		Route:          "/v1/messages",
		TextMasked:     "您好 138****5678",
		Risk:           0.85,
		Context: []Turn{
			{Role: RoleCustomer, TS: testTS.Add(-time.Minute).Truncate(time.Millisecond), TextMasked: "我要投诉", Delivered: true},
			{Role: RoleAgent, TS: testTS.Truncate(time.Millisecond), TextMasked: "您好 138****5678", Action: "redact"},
		},
		Opinion: &Opinion{Verdict: "harmful", Kinds: []string{"tone.rude", "tone.dismissive"}, Reason: "反问 \"嘲讽\" \u2028", Model: "qwen-plus", Mode: "enforce", LatencyMS: 212, Applied: true},
	}
	te, err := enc.Encrypt([]byte("您好 13812345678"), []byte(e.EventID))
	if err != nil {
		t.Fatal(err)
	}
	e.TextEnc = &te
	return e
}

// minimalEvent has only the required fields, with empty lists.
func minimalEvent() *Event {
	return &Event{
		EventID: "01890a5d-ac96-774b-bcce-b302099a8058", TS: testTS, Role: RoleCustomer,
		Findings: []Finding{}, Reasons: []Reason{}, Alerts: []Alert{}, Shadow: []Reason{},
	}
}

// plain has Event's fields without its MarshalJSON: encoding/json's view.
type plain Event

func TestMarshalHandBuilt(t *testing.T) {
	s := eventtest.Compile(t, Schema())
	failed := minimalEvent()
	failed.Opinion = &Opinion{Mode: "shadow", Error: "timeout", LatencyMS: 300}
	for _, e := range []*Event{fullEvent(t), minimalEvent(), failed} {
		ours, err := e.Marshal([]byte("prefix"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(ours, []byte("prefix")) {
			t.Fatal("Marshal dropped dst")
		}
		ours = ours[len("prefix"):]
		if err := s.Validate(ours); err != nil {
			t.Fatalf("%s\n%v", ours, err)
		}
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
		delete(a, "ts")
		delete(b, "ts")
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("ours %s\nstd  %s", ours, std)
		}
		back, err := Parse(ours)
		if err != nil {
			t.Fatal(err)
		}
		if !back.TS.Equal(e.TS.Truncate(time.Millisecond)) {
			t.Fatalf("ts %v, want %v", back.TS, e.TS)
		}
		want := *e
		back.TS, want.TS = time.Time{}, time.Time{}
		if !reflect.DeepEqual(back, &want) {
			t.Fatalf("Parse(Marshal(e))\n got %+v\nwant %+v", back, &want)
		}
	}
}

// TestMarshalFieldOrder pins the layout of the minimal event: the field
// order and the omitted optional fields are part of what consumers see.
func TestMarshalFieldOrder(t *testing.T) {
	b, err := minimalEvent().Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"event_id":"01890a5d-ac96-774b-bcce-b302099a8058","ts":"2026-11-23T12:03:28.123Z","tenant":"","conversation_id":"","agent_id":"",` +
		`"role":"customer","action":"allow","findings":[],"reasons":[],"alerts":[],"policy_revision":"","shadow":[],"latency_us":0,"sampled":false}`
	if string(b) != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", b, want)
	}
}

// TestMarshalRefusesInvalid: values the schema cannot hold are refused,
// and dst comes back as it was.
func TestMarshalRefusesInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(e *Event)
	}{
		{"action", func(e *Event) { e.Action = Action(9) }},
		{"negative action", func(e *Event) { e.Action = Action(-1) }},
		{"severity", func(e *Event) { e.Findings[0].Severity = Severity(5) }},
		{"reason action", func(e *Event) { e.Reasons[1].Action = Action(5) }},
		{"shadow action", func(e *Event) { e.Shadow[0].Action = Action(-1) }},
		{"NaN score", func(e *Event) { e.Findings[1].Score = math.NaN() }},
		{"infinite risk", func(e *Event) { e.Risk = math.Inf(1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := fullEvent(t)
			tc.edit(e)
			dst := []byte("prefix")
			got, err := e.Marshal(dst)
			if err == nil {
				t.Fatalf("Marshal = %s, want an error", got)
			}
			if string(got) != "prefix" {
				t.Errorf("dst = %q after an error", got)
			}
			if _, err := e.MarshalJSON(); err == nil {
				t.Error("MarshalJSON: want an error")
			}
		})
	}
}

// TestParseRefuses: Parse is strict: unknown fields, and actions and
// severities the schema does not name, are refused.
func TestParseRefuses(t *testing.T) {
	good, err := fullEvent(t).Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(good); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, old, new string }{
		{"unknown action", `"action":"confirm"`, `"action":"hold"`},
		{"upper-case action", `"action":"confirm"`, `"action":"CONFIRM"`},
		{"numeric action", `"action":"confirm"`, `"action":3`},
		{"unknown reason action", `"action":"warn"`, `"action":"nope"`},
		{"unknown severity", `"severity":"high"`, `"severity":"severe"`},
		{"numeric severity", `"severity":"high"`, `"severity":3`},
		{"unknown field", `"tenant":"t1"`, `"tenant":"t1","text":"13812345678"`},
		{"unknown finding field", `"lexicon":"privacy.zh"`, `"lexicon":"privacy.zh","raw":"13812345678"`},
		{"trailing data", `"sampled":true`, `"sampled":true}{"x":1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := strings.Replace(string(good), tc.old, tc.new, 1)
			if b == string(good) {
				t.Fatalf("%s not in %s", tc.old, good)
			}
			if e, err := Parse([]byte(b)); err == nil {
				t.Fatalf("Parse accepted %s: %+v", b, e)
			}
		})
	}
}

// TestNamesMatchSchema keeps the names Action, Severity and the roles
// marshal to in step with schema.json's enums.
func TestNamesMatchSchema(t *testing.T) {
	var doc struct {
		Properties struct {
			Role struct{ Enum []string } `json:"role"`
		} `json:"properties"`
		Defs struct {
			Action  struct{ Enum []string } `json:"action"`
			Finding struct {
				Properties struct {
					Severity struct{ Enum []string } `json:"severity"`
				} `json:"properties"`
			} `json:"finding"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(Schema(), &doc); err != nil {
		t.Fatal(err)
	}
	var actions, severities []string
	for a := ActionAllow; a.Valid(); a++ {
		actions = append(actions, a.String())
		if got, err := ParseAction(a.String()); err != nil || got != a {
			t.Errorf("ParseAction(%q) = %v, %v", a, got, err)
		}
	}
	for s := SeverityInfo; s.Valid(); s++ {
		severities = append(severities, s.String())
		if got, err := ParseSeverity(s.String()); err != nil || got != s {
			t.Errorf("ParseSeverity(%q) = %v, %v", s, got, err)
		}
	}
	if !slices.Equal(actions, doc.Defs.Action.Enum) {
		t.Errorf("actions %v, schema %v", actions, doc.Defs.Action.Enum)
	}
	if !slices.Equal(severities, doc.Defs.Finding.Properties.Severity.Enum) {
		t.Errorf("severities %v, schema %v", severities, doc.Defs.Finding.Properties.Severity.Enum)
	}
	if roles := []string{RoleAgent, RoleCustomer}; !slices.Equal(roles, doc.Properties.Role.Enum) {
		t.Errorf("roles %v, schema %v", roles, doc.Properties.Role.Enum)
	}
	if Action(5).Valid() || Action(-1).Valid() || Severity(5).Valid() {
		t.Error("an out-of-range value is valid")
	}
	if Action(7).String() != "Action(7)" || Severity(7).String() != "severity(7)" {
		t.Errorf("out-of-range names %q, %q", Action(7), Severity(7))
	}
}

func TestKeyAndHeaders(t *testing.T) {
	e := &Event{Tenant: "t9", ConversationID: "conv-1"}
	if string(e.Key()) != "conv-1" {
		t.Errorf("key %q", e.Key())
	}
	if h := e.Headers(); !reflect.DeepEqual(h, [][2]string{{"tenant", "t9"}, {"schema", "xunjian.event/v1"}}) {
		t.Errorf("headers %v", h)
	}
}

// TestDegraded: the degraded flag is written, valid under the schema, as
// encoding/json writes it, and read back; absent when false.
func TestDegraded(t *testing.T) {
	s := eventtest.Compile(t, Schema())
	for _, degraded := range []bool{true, false} {
		e := minimalEvent()
		e.Degraded = degraded
		b, err := e.Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(b); err != nil {
			t.Fatalf("%s\n%v", b, err)
		}
		if got := bytes.Contains(b, []byte(`"degraded":true`)); got != degraded {
			t.Errorf("degraded %v: %s", degraded, b)
		}
		std, err := json.Marshal((*plain)(e))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(std, []byte("degraded")) != degraded {
			t.Errorf("encoding/json disagrees: %s", std)
		}
		back, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if back.Degraded != degraded {
			t.Errorf("Parse: degraded %v, want %v", back.Degraded, degraded)
		}
	}
}
