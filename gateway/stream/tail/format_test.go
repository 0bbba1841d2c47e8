package tail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/stream"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/rules"
)

// cst is China Standard Time without the tz database.
var cst = time.FixedZone("CST", 8*3600)

// blockEvent has every part the layout shows: risk, sampled, masked text,
// findings with and without evidence, reasons with and without message and
// suggestion, a shadow reason, an alert and its context.
func blockEvent(t *testing.T) *event.Event {
	ts := time.Date(2026, 11, 23, 4, 3, 28, 123_000_000, time.UTC)
	e, err := stream.NewEvent(stream.EventInput{
		TS: ts, Tenant: "acme", ConversationID: "conv-17", AgentID: "a7", Role: inspect.RoleAgent,
		Verdict: &inspect.Verdict{
			Action: rules.Block,
			Findings: []detectors.Finding{
				{Detector: "privacy", Kind: "phone", Severity: detectors.High, Score: 0.98, Start: 9, End: 20, Evidence: "138****5678"},
				{Detector: "complaint", Kind: "risk", Severity: detectors.Critical, Score: 0.91, Start: 0, End: 20},
			},
			Reasons: []rules.Reason{
				{Rule: "privacy.phone.block", Action: rules.Block, Message: "请勿发送手机号", Finding: intp(0), Suggestion: "改用平台内联系方式"},
				{Rule: "tone.rude", Action: rules.Warn},
			},
			Alerts:         []rules.Alert{{Level: "high", Kind: "complaint", Message: "顾客威胁投诉或升级"}},
			PolicyRevision: "sha256:abc",
			LatencyUS:      1234,
			Sample:         true,
		},
		Shadow: []rules.Reason{{Rule: "tone.shadow", Action: rules.Confirm, Message: "语气偏硬"}},
		Masked: "您好，我的电话是 138****5678",
		Risk:   0.85,
		Context: []inspect.Turn{
			{Role: inspect.RoleCustomer, Text: "我要投诉，你们太慢了", TS: ts.Add(-77 * time.Second)},
			{Role: inspect.RoleAgent, Text: "您好，我的电话是 138****5678", TS: ts},
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// customerEvent is a bare customer message released fail-open, with no
// tenant or agent, just after midnight in CST.
func customerEvent(t *testing.T) *event.Event {
	e, err := stream.NewEvent(stream.EventInput{
		TS: time.Date(2026, 11, 23, 16, 30, 0, 0, time.UTC), ConversationID: "c-9", Role: inspect.RoleCustomer,
		Verdict: &inspect.Verdict{Action: rules.Allow, FailOpen: true, PolicyRevision: "r"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// hostileEvent is what a broken or malicious producer could send (Parse
// accepts it): escapes, line breaks, a bidi override, long texts.
func hostileEvent() *event.Event {
	ts := time.Date(2026, 11, 23, 4, 3, 28, 123_000_000, time.UTC)
	return &event.Event{
		EventID: "x", TS: ts, Tenant: "acme", ConversationID: "c\x1b[31m1", AgentID: "a\nb", Role: "agent",
		Action:     event.ActionRedact,
		Findings:   []event.Finding{{Detector: "diversion", Kind: "contact", Severity: event.SeverityMedium, Evidence: "\u202eevil"}},
		Reasons:    []event.Reason{{Rule: "r1", Action: event.ActionRedact, Message: "a\tb"}},
		Alerts:     []event.Alert{{Level: "high", Kind: "complaint", Message: "顾客威胁投诉或升级并要求赔偿退款"}},
		TextMasked: "line1\nline2\u2028end",
		Risk:       1,
		Context:    []event.Turn{{Role: "customer", TS: ts.Add(-77 * time.Second), TextMasked: "我要投诉我要投诉我要投诉"}},
	}
}

// TestFormatGolden compares the layout with hand-written files in
// testdata (there is no -update flag: edit them by hand and review).
func TestTailFormatGolden(t *testing.T) {
	for _, tc := range []struct {
		golden string
		e      *event.Event
		f      Format
	}{
		{"block.golden", blockEvent(t), Format{Location: cst}},
		{"customer.golden", customerEvent(t), Format{Location: cst}},
		{"hostile.golden", hostileEvent(), Format{Location: cst, Width: 20}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", tc.golden))
			if err != nil {
				t.Fatal(err)
			}
			// The event goes through the wire format, as tail sees it.
			e, err := event.Parse(marshal(t, tc.e))
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.f.Append(nil, e); string(got) != string(want) {
				t.Errorf("got:\n%s\nwant (testdata/%s):\n%s", got, tc.golden, want)
			}
		})
	}
}

func TestTailFormatPieces(t *testing.T) {
	long := strings.Repeat("投诉", 50) // 200 columns
	for _, tc := range []struct {
		name      string
		e         *event.Event
		f         Format
		want, not []string
	}{
		{
			name: "default width cuts at 72 columns",
			e:    &event.Event{Role: "agent", TextMasked: long},
			f:    Format{Location: time.UTC},
			want: []string{"  text " + strings.Repeat("投诉", 17) + "投…\n"},
		},
		{
			name: "negative width never cuts",
			e:    &event.Event{Role: "agent", TextMasked: long},
			f:    Format{Location: time.UTC, Width: -1},
			want: []string{"  text " + long + "\n"},
		},
		{
			name: "exact fit is not cut",
			e:    &event.Event{Role: "agent", TextMasked: "abcde"},
			f:    Format{Location: time.UTC, Width: 5},
			want: []string{"  text abcde\n"},
		},
		{
			name: "one column too many",
			e:    &event.Event{Role: "agent", TextMasked: "abcdef"},
			f:    Format{Location: time.UTC, Width: 5},
			want: []string{"  text abcd…\n"},
		},
		{
			name: "empty identifiers are dashes",
			e:    &event.Event{},
			f:    Format{Location: time.UTC},
			want: []string{"00:00:00.000 -/- - -  ALLOW\n"},
		},
		{
			name: "invalid action",
			e:    &event.Event{Role: "agent", Action: event.Action(42), Reasons: []event.Reason{{Rule: "x", Action: event.Action(-1)}}},
			f:    Format{Location: time.UTC},
			want: []string{"  ?\n", "  rule x ?\n"},
		},
		{
			name: "controls escaped everywhere",
			e: &event.Event{Tenant: "t\r", ConversationID: "c\u0085", AgentID: "\x7f", Role: "agent",
				Alerts:  []event.Alert{{Level: "\u2066", Kind: "k\u200f", Message: "m\u0000"}},
				Context: []event.Turn{{Role: "x\ny", TextMasked: "\u061c"}}},
			f:    Format{Location: time.UTC},
			want: []string{`t\r/c\u0085 agent \x7f`, `ALERT \u2066 k\u200f: m\x00`, `    x\ny     00:00:00 \u061c`},
			not:  []string{"\r", "\u0085", "\x7f", "\u2066", "\u200f", "\x00", "\u061c"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(tc.f.Append(nil, tc.e))
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("output holds %q:\n%q", n, got)
				}
			}
			if !strings.HasSuffix(got, "\n") {
				t.Errorf("output does not end with a newline: %q", got)
			}
		})
	}
}

func TestTailAppendDay(t *testing.T) {
	ts := time.Date(2026, 11, 23, 16, 30, 0, 0, time.UTC)
	if got := string(Format{Location: cst}.AppendDay(nil, ts)); got != "-- 2026-11-24 +08:00\n" {
		t.Errorf("AppendDay = %q", got)
	}
	if got := string(Format{Location: time.UTC}.AppendDay([]byte("x"), ts)); got != "x-- 2026-11-23 +00:00\n" {
		t.Errorf("AppendDay = %q", got)
	}
}

// TestDayLines checks that the printer opens each new day with a day line
// and only then.
func TestTailDayLines(t *testing.T) {
	var out strings.Builder
	o := Options{Format: Format{Location: time.UTC}, Out: &out, Dedup: -1}
	p := newPrinter(&o)
	for _, ts := range []time.Time{
		time.Date(2026, 11, 23, 23, 59, 0, 0, time.UTC),
		time.Date(2026, 11, 23, 23, 59, 30, 0, time.UTC),
		time.Date(2026, 11, 24, 0, 0, 1, 0, time.UTC),
	} {
		e := &event.Event{EventID: "x", TS: ts, Role: "agent"}
		b, _ := e.Marshal(nil)
		if _, err := p.handle(kafkaMessage(b)); err != nil {
			t.Fatal(err)
		}
	}
	want := "-- 2026-11-23 +00:00\n23:59:00.000 -/- agent -  ALLOW\n23:59:30.000 -/- agent -  ALLOW\n" +
		"-- 2026-11-24 +00:00\n00:00:01.000 -/- agent -  ALLOW\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestTailMarksUndeliveredTurns: a supervisor reading an alert's context
// tells the drafts the customer never saw from those they did.
func TestTailMarksUndeliveredTurns(t *testing.T) {
	e := customerEvent(t)
	ts := e.TS
	e.Context = []event.Turn{
		{Role: "agent", TS: ts.Add(-3 * time.Second), TextMasked: "你是不是傻", Action: "block", Delivered: false},
		{Role: "agent", TS: ts.Add(-2 * time.Second), TextMasked: "您好，已为您处理", Action: "allow", Delivered: true},
		{Role: "customer", TS: ts.Add(-time.Second), TextMasked: "我要投诉", Delivered: true},
	}
	out := string(Format{Location: cst}.Append(nil, e))
	for _, tc := range []struct {
		text string
		mark bool
	}{{"你是不是傻", true}, {"您好，已为您处理", false}, {"我要投诉", false}} {
		var line string
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, tc.text) {
				line = l
			}
		}
		if line == "" {
			t.Fatalf("no context line for %q in:\n%s", tc.text, out)
		}
		if got := strings.Contains(line, "not delivered"); got != tc.mark {
			t.Errorf("line %q: marked not delivered = %v, want %v", line, got, tc.mark)
		}
	}
}
