package opinion

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/rules"
)

// TestConsult: the Consultant asks only about qualifying messages, sends
// the masked text with the suspected kinds, and turns answers and
// failures into the inspect.Opinion the Session records.
func TestConsult(t *testing.T) {
	grey := detectors.Finding{Detector: "tone", Kind: "dismissive", Score: 0.5, Rule: "model:v1"}
	sure := detectors.Finding{Detector: "tone", Kind: "dismissive", Score: 0.95, Rule: "model:v1"}
	for _, tc := range []struct {
		name     string
		h        http.HandlerFunc
		tenant   string
		findings []detectors.Finding
		asked    bool
		want     inspect.Opinion // Latency ignored
	}{
		{"harmful", reply(http.StatusOK, completion(`{"verdict":"harmful","kinds":["tone.dismissive"],"reason":"推给物流"}`)), "acme",
			[]detectors.Finding{grey}, true,
			inspect.Opinion{Verdict: "harmful", Kinds: []string{"tone.dismissive"}, Reason: "推给物流", Model: "qwen-test-0101", Mode: "shadow"}},
		{"ok, enforced", reply(http.StatusOK, completion(`{"verdict":"ok"}`)), "strict",
			[]detectors.Finding{grey}, true, inspect.Opinion{Verdict: "ok", Model: "qwen-test-0101", Mode: "enforce"}},
		{"server error", reply(http.StatusBadGateway, `{}`), "acme",
			[]detectors.Finding{grey}, true, inspect.Opinion{Error: "unavailable", Model: "qwen-plus", Mode: "shadow"}},
		{"slow", hang(5 * time.Second), "acme",
			[]detectors.Finding{grey}, true, inspect.Opinion{Error: "timeout", Model: "qwen-plus", Mode: "shadow"}},
		{"bad answer", reply(http.StatusOK, completion(`I think it is fine`)), "acme",
			[]detectors.Finding{grey}, true, inspect.Opinion{Error: "bad_answer", Model: "qwen-plus", Mode: "shadow"}},
		{"model sure", reply(http.StatusOK, completion(`{"verdict":"ok"}`)), "acme", []detectors.Finding{sure}, false, inspect.Opinion{}},
		{"tenant off", reply(http.StatusOK, completion(`{"verdict":"ok"}`)), "quiet", []detectors.Finding{grey}, false, inspect.Opinion{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, tc.h)
			c := newClient(t, s.URL, func(c *Config) {
				c.Timeout = duration.Duration(150 * time.Millisecond)
				c.Tenants = map[string]Mode{"strict": ModeEnforce, "quiet": ModeOff}
			})
			var results []string
			con := Consultant{Client: c, OnAsk: func(tenant string, mode Mode, result string) {
				results = append(results, tenant+"/"+string(mode)+"/"+result)
			}}
			start := time.Now()
			got, ok := con.Consult(context.Background(), &inspect.Consultation{
				Tenant: tc.tenant, Role: "agent", Lang: "zh", Text: maskedText, Findings: tc.findings, Action: rules.Warn,
			})
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("Consult took %v past a 150ms timeout", elapsed)
			}
			if ok != tc.asked || len(s.requests()) != btoi(tc.asked) {
				t.Fatalf("ok = %v, %d requests; want asked = %v", ok, len(s.requests()), tc.asked)
			}
			if !ok {
				return
			}
			if got.Latency <= 0 {
				t.Errorf("latency %v", got.Latency)
			}
			got.Latency = 0
			if !equalOpinion(got, tc.want) {
				t.Errorf("opinion %+v, want %+v", got, tc.want)
			}
			var body struct {
				Messages []struct{ Role, Content string }
			}
			if err := json.Unmarshal(s.requests()[0].body, &body); err != nil || len(body.Messages) != 2 {
				t.Fatalf("request body: %v", err)
			}
			var user userTurn
			_ = json.Unmarshal([]byte(body.Messages[1].Content), &user)
			if user.Message != maskedText || !slices.Equal(user.Suspected, []string{"tone.dismissive"}) {
				t.Errorf("sent %q, want the masked text as given", body.Messages[1].Content)
			}
			want := tc.want.Verdict
			if want == "" {
				want = tc.want.Error
			}
			if !slices.Equal(results, []string{tc.tenant + "/" + tc.want.Mode + "/" + want}) {
				t.Errorf("OnAsk got %q", results)
			}
		})
	}
}

func equalOpinion(a, b inspect.Opinion) bool {
	return a.Verdict == b.Verdict && slices.Equal(a.Kinds, b.Kinds) && a.Reason == b.Reason && a.Model == b.Model &&
		a.Mode == b.Mode && a.Error == b.Error && a.Applied == b.Applied
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
