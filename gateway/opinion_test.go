package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/opinion"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/rules"
)

// llm is a local server speaking the chat-completions API: it answers
// every question with answer after delay (or never, while the client
// waits), and keeps the user turns it was sent.
type llm struct {
	*httptest.Server
	mu    sync.Mutex
	asked []string
}

func newLLM(t *testing.T, answer string, status int, delay time.Duration) *llm {
	t.Helper()
	l := &llm{}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Messages []struct{ Content string } `json:"messages"`
		}
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/v1/chat/completions" || json.Unmarshal(body, &req) != nil || len(req.Messages) != 2 {
			http.Error(w, "not a chat completion", http.StatusBadRequest)
			return
		}
		l.mu.Lock()
		l.asked = append(l.asked, req.Messages[1].Content)
		l.mu.Unlock()
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		b, _ := json.Marshal(map[string]any{"model": "local-llm", "choices": []map[string]any{{"message": map[string]any{"role": "assistant", "content": answer}}}})
		w.Write(b)
	}))
	t.Cleanup(l.Close)
	return l
}

func (l *llm) questions() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.asked...)
}

// opinionConfig turns the second opinion on against l, for every score
// of the learned model (a test cannot know where a message falls), with
// tenant default in mode.
func opinionConfig(cfg config.Config, l *llm, mode opinion.Mode, timeout time.Duration) config.Config {
	cfg.SecondOpinion = opinion.Config{
		Enabled: true, BaseURL: l.URL + "/v1", Model: "local-llm", Timeout: duration.Duration(timeout),
		GreyZone: opinion.GreyZone{From: 0, To: 1}, Tenants: map[string]opinion.Mode{"default": mode},
	}
	return cfg
}

// events reads the findings topic's events until one per id in ids is
// found.
func eventsByID(t *testing.T, broker string, ids ...string) map[string]*event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, Topic: "xunjian.findings", GroupID: "opinion-test", StartOffset: kafka.FirstOffset, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	got := map[string]*event.Event{}
	for len(got) < len(want) {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("consume: %v (have %d of %d events)", err, len(got), len(want))
		}
		e, err := event.Parse(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if want[e.EventID] {
			got[e.EventID] = e
		}
	}
	return got
}

// warnOnlyBundle writes the default bundle with every model finding of
// tenant default warning only, so that a draft the model judges is
// released whatever its score (and an enforced opinion has a release to
// hold).
func warnOnlyBundle(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := rules.WriteDefaultBundle(dir); err != nil {
		t.Fatal(err)
	}
	tenant := filepath.Join(dir, "xunjian", "tenants", "default")
	warn := `{"warn": 0.35}`
	bands := `{"model_bands": {"tone.rude": ` + warn + `, "tone.profanity": ` + warn + `, "tone.dismissive": ` + warn + `, "tone.impatient": ` + warn + `}}`
	if err := os.MkdirAll(tenant, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tenant, "data.json"), []byte(bands), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Drafts the learned model judges (impatience counting repetitions, in
// each language), released with a hint by warnOnlyBundle.
var opinionDrafts = []string{
	"这个问题我已经回答过三遍了",
	"I have answered this question three times already",
	"這個問題我已經回答過三次了",
}

// TestSecondOpinion over real loopback HTTP: a gateway asks a local
// chat-completions server about the drafts its model judged, with the text
// masked; in shadow mode the draft goes out as the policy decided and the
// opinion goes to the event; in enforce mode a harmful opinion holds it
// (the backend never gets it until the agent confirms); a slow or failing
// server costs the draft at most the timeout and goes on the event.
func TestSecondOpinion(t *testing.T) {
	const phone = "13812345678"
	harmful := `{"verdict":"harmful","kinds":["tone.impatient"],"reason":"对顾客不耐烦 ` + phone + `"}`
	for _, tc := range []struct {
		name    string
		mode    opinion.Mode
		status  int
		delay   time.Duration
		verdict string // the event's opinion verdict, or its error
		held    bool
	}{
		{"shadow", opinion.ModeShadow, 200, 0, "harmful", false},
		{"enforce", opinion.ModeEnforce, 200, 0, "harmful", true},
		{"slow", opinion.ModeEnforce, 200, 10 * time.Second, "timeout", false},
		{"failing", opinion.ModeEnforce, 503, 0, "unavailable", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, 0)
			l := newLLM(t, harmful, tc.status, tc.delay)
			const timeout = 200 * time.Millisecond
			g := start(t, opinionConfig(proxyConfig(up), l, tc.mode, timeout), warnOnlyBundle(t), nil)
			var ids []string
			for i, draft := range opinionDrafts {
				text := draft + " " + phone
				body := strings.Replace(sendBody(text), `"c1"`, fmt.Sprintf(`"c-%s-%d"`, tc.name, i), 1)
				begin := time.Now()
				r := do(t, "POST", g.agent+sendRoute, body)
				if elapsed := time.Since(begin); elapsed > timeout+2*time.Second {
					t.Errorf("%q answered after %v: the opinion's timeout is %v", draft, elapsed, timeout)
				}
				switch {
				case tc.held && r.Status != StatusHeld:
					t.Errorf("%q: %d %s, want held for the harmful opinion", draft, r.Status, r.Raw)
				case !tc.held && r.Status != 201:
					t.Errorf("%q: %d %s, want released as the policy decided", draft, r.Status, r.Raw)
				}
				if tc.held {
					token, _ := r.Body["ack"].(string)
					if r2 := do(t, "POST", g.agent+sendRoute, body, AckHeader, token); r2.Status != 201 {
						t.Errorf("%q confirmed: %d %s, want released", draft, r2.Status, r2.Raw)
					}
				}
				ids = append(ids, r.Header.Get("X-Xunjian-Decision"))
			}
			if qs := l.questions(); len(qs) < len(opinionDrafts) {
				t.Errorf("the server was asked %d times for %d drafts", len(qs), len(opinionDrafts))
			} else {
				for _, q := range qs {
					if strings.Contains(q, phone) || !strings.Contains(q, "138") {
						t.Errorf("asked about %q: want the phone masked", q)
					}
				}
			}
			evs := eventsByID(t, g.srv.broker.Addr(), ids...)
			for _, id := range ids {
				op := evs[id].Opinion
				if op == nil {
					t.Errorf("event %s: no opinion", id)
					continue
				}
				got := op.Verdict
				if got == "" {
					got = op.Error
				}
				if got != tc.verdict || op.Mode != string(tc.mode) || op.Applied != tc.held || strings.Contains(op.Reason, phone) {
					t.Errorf("event opinion %+v, want %s in %s mode, applied %v, no phone", op, tc.verdict, tc.mode, tc.held)
				}
				if tc.held && evs[id].Action != event.ActionConfirm {
					t.Errorf("event action %v, want confirm", evs[id].Action)
				}
			}
			if n := len(up.received()); n != len(opinionDrafts) {
				t.Errorf("the backend got %d drafts, want each once (after its confirmation when held)", n)
			}
			metrics := do(t, "GET", g.admin+"/metrics", "").Raw
			if want := fmt.Sprintf(`xunjian_second_opinions_total{mode="%s",result="%s"}`, tc.mode, tc.verdict); !strings.Contains(metrics, want) {
				t.Errorf("metrics lack %s:\n%s", want, grepLines(metrics, "second_opinion"))
			}
		})
	}
}
