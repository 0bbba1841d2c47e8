package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/stream/alerting"
	"github.com/xunjian/xunjian/gateway/stream/embedded"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/gateway/stream/event/eventtest"
	"github.com/xunjian/xunjian/gateway/stream/sampling"
	"github.com/xunjian/xunjian/gateway/stream/spool"
	"github.com/xunjian/xunjian/rules"
)

var topics = Topics{Findings: "f", Alerts: "a", Samples: "s"}

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// broker starts an embedded broker on a free port for the test.
func broker(t testing.TB) string {
	t.Helper()
	b, err := embedded.Start(embedded.Options{Addr: "127.0.0.1:0", Topics: []string{topics.Findings, topics.Alerts, topics.Samples}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.Addr()
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// open opens a Stream on dir (a fresh one when empty) and returns it with
// its log; the Stream is closed when the test ends.
func open(t testing.TB, cfg Config) (*Stream, *syncBuf) {
	t.Helper()
	if cfg.Spool.Dir == "" {
		cfg.Spool.Dir = t.TempDir()
	}
	if cfg.Topics == (Topics{}) {
		cfg.Topics = topics
	}
	logs := &syncBuf{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, logs
}

// run ships in the background until the test ends.
func run(t *testing.T, s *Stream) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// msg is one consumed Kafka message.
type msg struct {
	topic, key string
	headers    map[string]string
	ev         *event.Event
}

// consume reads topic from the start until it has n messages (failing
// after d) and then a short while longer, to catch extras.
func consume(t *testing.T, addr, topic string, n int, d time.Duration) []msg {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	schema := eventtest.Compile(t, event.Schema())
	var out []msg
	extra := time.Time{}
	for ctx.Err() == nil {
		if len(out) >= n {
			if extra.IsZero() {
				extra = time.Now().Add(300 * time.Millisecond)
			} else if time.Now().After(extra) {
				break
			}
		}
		pctx, pcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		fs := cl.PollFetches(pctx)
		pcancel()
		fs.EachRecord(func(r *kgo.Record) {
			if err := schema.Validate(r.Value); err != nil {
				t.Errorf("%s: %s does not validate: %v", r.Topic, r.Value, err)
			}
			e, err := event.Parse(r.Value)
			if err != nil {
				t.Errorf("%s: %v", r.Topic, err)
				return
			}
			m := msg{topic: r.Topic, key: string(r.Key), headers: map[string]string{}, ev: e}
			for _, h := range r.Headers {
				m.headers[h.Key] = string(h.Value)
			}
			out = append(out, m)
		})
	}
	if len(out) < n {
		t.Fatalf("topic %s: %d messages after %s, want %d", topic, len(out), d, n)
	}
	return out
}

func verdict(action rules.Action, findings int, alerts ...rules.Alert) *inspect.Verdict {
	v := &inspect.Verdict{Action: action, Findings: []detectors.Finding{}, Reasons: []rules.Reason{}, Alerts: alerts, PolicyRevision: "r1"}
	for range findings {
		v.Findings = append(v.Findings, detectors.Finding{Detector: "privacy", Kind: "phone", Severity: detectors.High, Score: 1, Evidence: "138****5678"})
	}
	return v
}

func TestRouting(t *testing.T) {
	addr := broker(t)
	s, _ := open(t, Config{Brokers: []string{addr}})
	alert := rules.Alert{Level: "high", Kind: "complaint", Message: "顾客要投诉"}
	recent := []inspect.Turn{{Role: "customer", Text: "我要投诉", TS: t0}, {Role: "agent", Text: "抱歉", TS: t0}}
	cases := []struct {
		conv     string
		v        *inspect.Verdict
		findings bool
		alert    bool
	}{
		{"allow-clean", verdict(rules.Allow, 0), false, false},
		{"allow-finding", verdict(rules.Allow, 1), true, false},
		{"warn", verdict(rules.Warn, 0), true, false},
		{"block", verdict(rules.Block, 2), true, false},
		{"alert-only", verdict(rules.Allow, 0, alert), false, true},
		{"alert-block", verdict(rules.Block, 1, alert), true, true},
		{"fail-open", &inspect.Verdict{Action: rules.Allow, FailOpen: true, PolicyRevision: "r1"}, true, false},
	}
	for _, c := range cases {
		if err := s.Publish(context.Background(), Message{Tenant: "acme", ConversationID: c.conv, AgentID: "a1", Role: "agent",
			Verdict: c.v, Recent: recent, Masked: "masked", Raw: "raw 13812345678", Now: t0}); err != nil {
			t.Fatal(err)
		}
	}
	run(t, s)
	var wantF, wantA []string
	for _, c := range cases {
		if c.findings {
			wantF = append(wantF, c.conv)
		}
		if c.alert {
			wantA = append(wantA, c.conv)
		}
	}
	check := func(topic string, want []string) []msg {
		got := consume(t, addr, topic, len(want), 10*time.Second)
		var keys []string
		for _, m := range got {
			keys = append(keys, m.key)
			if m.key != m.ev.ConversationID || m.headers["tenant"] != "acme" || m.headers["schema"] != event.SchemaID || m.ev.Tenant != "acme" {
				t.Errorf("%s: key %q headers %v event conv %q tenant %q", topic, m.key, m.headers, m.ev.ConversationID, m.ev.Tenant)
			}
		}
		// Conversations spread over partitions: compare as sets.
		slices.Sort(keys)
		want = slices.Sorted(slices.Values(want))
		if strings.Join(keys, ",") != strings.Join(want, ",") {
			t.Errorf("topic %s got %v, want %v", topic, keys, want)
		}
		return got
	}
	check(topics.Findings, wantF)
	for _, m := range check(topics.Alerts, wantA) {
		if len(m.ev.Context) != 2 || m.ev.Context[0].TextMasked != "我要投诉" || len(m.ev.Alerts) != 1 {
			t.Errorf("alert event context %+v alerts %+v", m.ev.Context, m.ev.Alerts)
		}
	}
	if st := s.Stats(); st.Events != 6 || st.Findings != 5 || st.Alerts != 2 || st.Samples != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestDedupAndSampling runs 10,000 conversations of 3 messages through the
// stream: every conversation raises the same alert on each message, one in
// 10 is sampled by hash, one in 20 turns high-risk on its second message.
// The alerts topic gets one alert per conversation; the samples topic gets
// whole conversations (all 3 messages of hash-sampled ones, messages 2 and
// 3 of the high-risk ones), at a rate within binomial tolerance.
func TestDedupAndSampling(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 conversations")
	}
	addr := broker(t)
	const convs, perConv, rate = 10_000, 3, 0.1
	s, _ := open(t, Config{Brokers: []string{addr}, Sampling: sampling.Config{Rate: rate, Seed: "test"}, Alerts: alerting.Config{Window: duration.Duration(time.Hour)}, BatchSize: 2000})
	alert := rules.Alert{Level: "medium", Kind: "wait", Message: "顾客等待过久"}
	highRisk := map[string]bool{}
	for m := range perConv {
		for c := range convs {
			conv := fmt.Sprintf("c%05d", c)
			risk := 0.1
			if c%20 == 7 && m >= 1 {
				risk, highRisk[conv] = 0.9, true
			}
			err := s.Publish(context.Background(), Message{Tenant: "t", ConversationID: conv, AgentID: fmt.Sprintf("a%d", c%50), Role: "agent",
				Verdict: verdict(rules.Allow, 0, alert), Risk: risk, Now: t0.Add(time.Duration(m) * time.Second)})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	run(t, s)
	alerts := consume(t, addr, topics.Alerts, convs, 60*time.Second)
	seen := map[string]int{}
	for _, m := range alerts {
		seen[m.key]++
	}
	if len(alerts) != convs || len(seen) != convs {
		t.Fatalf("alerts: %d messages over %d conversations, want one per conversation (%d)", len(alerts), len(seen), convs)
	}
	if got := s.Stats().Suppressed; got != convs*(perConv-1) {
		t.Errorf("suppressed %d, want %d", got, convs*(perConv-1))
	}

	st := s.Stats()
	samples := consume(t, addr, topics.Samples, int(st.Samples), 60*time.Second)
	perConvSampled := map[string]int{}
	for _, m := range samples {
		if !m.ev.Sampled {
			t.Fatalf("event on the samples topic with sampled=false: %+v", m.ev)
		}
		perConvSampled[m.key]++
	}
	hashSampled := 0
	for conv, n := range perConvSampled {
		switch {
		case n == perConv:
			if !highRisk[conv] {
				hashSampled++
			}
		case highRisk[conv] && n == perConv-1:
		default:
			t.Errorf("conversation %s: %d of %d messages sampled (high risk %v): not whole", conv, n, perConv, highRisk[conv])
		}
	}
	for conv := range highRisk {
		if perConvSampled[conv] < perConv-1 {
			t.Errorf("high-risk conversation %s not sampled from its high-risk message", conv)
		}
	}
	// The hash rate over conversations that are not high-risk.
	n := float64(convs - len(highRisk))
	sd := math.Sqrt(n * rate * (1 - rate))
	if d := math.Abs(float64(hashSampled) - n*rate); d > 4*sd {
		t.Errorf("hash-sampled %d of %.0f conversations, want %.0f ± %.0f", hashSampled, n, n*rate, 4*sd)
	}
}

func TestFullSpool(t *testing.T) {
	big := verdict(rules.Block, 40) // ~4 KiB of JSON
	for _, hold := range []bool{false, true} {
		t.Run(fmt.Sprintf("hold=%v", hold), func(t *testing.T) {
			// No Run: nothing ships, so the spool fills.
			onFull := OnFullServe
			if hold {
				onFull = OnFullHold
			}
			s, logs := open(t, Config{Brokers: []string{"127.0.0.1:1"}, Spool: SpoolConfig{Options: spool.Options{MaxBytes: 64 << 10}, OnFull: onFull}})
			var full error
			n := 0
			for ; n < 1000 && full == nil; n++ {
				full = s.Publish(context.Background(), Message{Tenant: "t", ConversationID: "c", Verdict: big, Now: t0})
			}
			st := s.Stats()
			switch {
			case hold && !errors.Is(full, ErrFull):
				t.Fatalf("hold: Publish = %v after %d, want ErrFull", full, n)
			case hold && st.Held != 1:
				t.Errorf("held %d, want 1", st.Held)
			case !hold && full != nil:
				t.Fatalf("serve: Publish = %v, want nil (event dropped)", full)
			case !hold && st.Dropped == 0:
				t.Errorf("serve: nothing dropped after %d events into 64 KiB", n)
			}
			if err := s.Ready(); err == nil || !strings.Contains(err.Error(), "full") {
				t.Errorf("Ready = %v, want a full spool", err)
			}
			if !strings.Contains(logs.String(), "spool full") || strings.Count(logs.String(), "spool full") != 1 {
				t.Errorf("want one 'spool full' log line, got:\n%s", logs)
			}
		})
	}
}

// TestRestartShipsWhatWasLeft publishes with no reachable broker, closes,
// reopens the same spool with a broker and finds every event shipped once,
// in order.
func TestRestartShipsWhatWasLeft(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, Config{Brokers: []string{"127.0.0.1:1"}, Spool: SpoolConfig{Options: spool.Options{Dir: dir}}})
	var ids []string
	for i := range 50 {
		if err := s.Publish(context.Background(), Message{Tenant: "t", ConversationID: "c", Verdict: verdict(rules.Warn, 1), Now: t0.Add(time.Duration(i) * time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	addr := broker(t)
	s2, logs := open(t, Config{Brokers: []string{addr}, Spool: SpoolConfig{Options: spool.Options{Dir: dir}}})
	if !strings.Contains(logs.String(), "unshipped events from an earlier run") {
		t.Errorf("no replay log line:\n%s", logs)
	}
	run(t, s2)
	got := consume(t, addr, topics.Findings, 50, 10*time.Second)
	if len(got) != 50 {
		t.Fatalf("%d events, want 50", len(got))
	}
	for i, m := range got {
		ids = append(ids, m.ev.EventID)
		if want := t0.Add(time.Duration(i) * time.Millisecond); !m.ev.TS.Equal(want) {
			t.Fatalf("event %d at %v, want %v: out of order", i, m.ev.TS, want)
		}
	}
	if len(dedup(ids)) != 50 {
		t.Errorf("duplicate event ids")
	}
}

func dedup(ids []string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// TestTornTailSkipped cuts the last spool record short, as a crash in the
// middle of a write leaves it: the reopened stream logs it and ships the
// others.
func TestTornTailSkipped(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, Config{Brokers: []string{"127.0.0.1:1"}, Spool: SpoolConfig{Options: spool.Options{Dir: dir}}})
	for i := range 10 {
		if err := s.Publish(context.Background(), Message{Tenant: "t", ConversationID: fmt.Sprintf("c%d", i), Verdict: verdict(rules.Block, 1), Now: t0}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	last := segs[len(segs)-1]
	fi, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(last, fi.Size()-7); err != nil {
		t.Fatal(err)
	}
	addr := broker(t)
	s2, logs := open(t, Config{Brokers: []string{addr}, Spool: SpoolConfig{Options: spool.Options{Dir: dir}}})
	run(t, s2)
	got := consume(t, addr, topics.Findings, 9, 10*time.Second)
	var keys []string
	for _, m := range got {
		keys = append(keys, m.key)
	}
	slices.Sort(keys)
	if strings.Join(keys, ",") != "c0,c1,c2,c3,c4,c5,c6,c7,c8" {
		t.Fatalf("shipped %v, want c0..c8 (c9 torn)", keys)
	}
	if !strings.Contains(logs.String(), "torn") {
		t.Errorf("no log line about the torn record:\n%s", logs)
	}
}

func TestCommitFsyncAlways(t *testing.T) {
	s, _ := open(t, Config{Brokers: []string{"127.0.0.1:1"}, Spool: SpoolConfig{Options: spool.Options{Fsync: spool.FsyncAlways}}})
	if err := s.Publish(context.Background(), Message{Tenant: "t", ConversationID: "c", Verdict: verdict(rules.Block, 1), Now: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Commit(context.Background()); err == nil {
		t.Error("Commit after Close succeeded")
	}
}

func TestKey(t *testing.T) {
	for _, c := range []struct{ tenant, conv string }{{"acme", "c-1"}, {"", ""}, {"租户", "会话"}, {strings.Repeat("t", 300), "x"}} {
		route, tenant, conv, ok := decodeKey(appendKey(nil, toAlerts|toSamples, c.tenant, c.conv))
		if !ok || route != toAlerts|toSamples || string(tenant) != c.tenant || string(conv) != c.conv {
			t.Errorf("round trip %q/%q: %v %q %q %v", c.tenant, c.conv, route, tenant, conv, ok)
		}
	}
	for _, k := range [][]byte{nil, {1}, {1, 5, 'a'}, {1, 0xff}} {
		if _, _, _, ok := decodeKey(k); ok {
			t.Errorf("decodeKey(%v) ok", k)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Topics: topics, Spool: SpoolConfig{Options: spool.Options{Dir: t.TempDir()}}},
		{Brokers: []string{"x:1"}, Topics: Topics{Findings: "f"}, Spool: SpoolConfig{Options: spool.Options{Dir: t.TempDir()}}},
		{Brokers: []string{"x:1"}, Topics: topics},
		{Brokers: []string{"x:1"}, Topics: topics, Spool: SpoolConfig{Options: spool.Options{Dir: t.TempDir()}}, Sampling: sampling.Config{Rate: 2}},
	} {
		if s, err := Open(cfg); err == nil {
			s.Close()
			t.Errorf("Open(%+v) succeeded", cfg)
		}
	}
}
