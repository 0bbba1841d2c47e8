package sampling

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func mustNew(t testing.TB, cfg Config) *Sampler {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"rate 0", Config{Rate: 0}, true},
		{"rate 1", Config{Rate: 1}, true},
		{"rate negative", Config{Rate: -0.1}, false},
		{"rate above 1", Config{Rate: 1.01}, false},
		{"rate NaN", Config{Rate: math.NaN()}, false},
		{"high risk 1", Config{HighRiskAt: 1}, true},
		{"high risk negative", Config{HighRiskAt: -0.5}, false},
		{"high risk above 1", Config{HighRiskAt: 1.5}, false},
		{"high risk NaN", Config{HighRiskAt: math.NaN()}, false},
		{"agent min negative", Config{AgentDailyMin: -1}, false},
		{"max agents negative", Config{MaxAgents: -1}, false},
		{"max conversations negative", Config{MaxConversations: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("New(%+v) error = %v, want ok=%v", tt.cfg, err, tt.ok)
			}
		})
	}
}

func decideAll(s *Sampler, tenant string, n int) map[string]bool {
	out := make(map[string]bool, n)
	for i := range n {
		c := "conv-" + strconv.Itoa(i)
		ok, _ := s.Decide(tenant, c, "", 0, false, t0)
		out[c] = ok
	}
	return out
}

func count(m map[string]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}

// within asserts k successes out of n is within 4 binomial standard
// deviations of n·p.
func within(t *testing.T, what string, k, n int, p float64) {
	t.Helper()
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	if math.Abs(float64(k)-mean) > 4*sd {
		t.Fatalf("%s: %d of %d, want %.1f ± %.1f (4σ)", what, k, n, mean, 4*sd)
	}
}

func TestHashRate(t *testing.T) {
	const n = 10_000
	for _, rate := range []float64{0.05, 0.5} {
		got := decideAll(mustNew(t, Config{Rate: rate, Seed: "s1"}), "t", n)
		within(t, fmt.Sprintf("rate %v", rate), count(got), n, rate)
	}
	if k := count(decideAll(mustNew(t, Config{Rate: 0, Seed: "s1"}), "t", n)); k != 0 {
		t.Fatalf("rate 0 sampled %d", k)
	}
	if k := count(decideAll(mustNew(t, Config{Rate: 1, Seed: "s1"}), "t", n)); k != n {
		t.Fatalf("rate 1 sampled %d of %d", k, n)
	}
}

func TestHashDeterministic(t *testing.T) {
	const n, rate = 10_000, 0.05
	a := decideAll(mustNew(t, Config{Rate: rate, Seed: "s1"}), "t", n)
	b := decideAll(mustNew(t, Config{Rate: rate, Seed: "s1"}), "t", n)
	for c := range a {
		if a[c] != b[c] {
			t.Fatalf("%s: sampler 1 says %v, sampler 2 with the same seed says %v", c, a[c], b[c])
		}
	}
	// A different seed (or tenant) gives an independent set: the overlap
	// with the first is about n·rate², far below n·rate.
	for name, other := range map[string]map[string]bool{
		"seed":   decideAll(mustNew(t, Config{Rate: rate, Seed: "s2"}), "t", n),
		"tenant": decideAll(mustNew(t, Config{Rate: rate, Seed: "s1"}), "t2", n),
	} {
		within(t, "other "+name+" share", count(other), n, rate)
		both := 0
		for c := range a {
			if a[c] && other[c] {
				both++
			}
		}
		within(t, "overlap with other "+name, both, n, rate*rate)
	}
}

// TestHashEncoding pins the documented encoding, so other implementations
// (and future versions) agree with this one.
func TestHashEncoding(t *testing.T) {
	s := mustNew(t, Config{Rate: 0.5, Seed: "salt"})
	for _, c := range []struct{ tenant, conv string }{{"acme", "c-1"}, {"", ""}, {"t", "长对话"}} {
		msg := []byte{byte(len("salt"))}
		msg = append(msg, "salt"...)
		msg = append(msg, byte(len(c.tenant)))
		msg = append(msg, c.tenant...)
		msg = append(msg, c.conv...)
		sum := sha256.Sum256(msg)
		want := float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53)
		u, _ := s.hash(c.tenant, c.conv)
		if u != want || u < 0 || u >= 1 {
			t.Fatalf("hash(%q, %q) = %v, want %v", c.tenant, c.conv, u, want)
		}
		got, reason := s.Decide(c.tenant, c.conv, "", 0, false, t0)
		if got != (want < 0.5) || (got && reason != ReasonHash) {
			t.Fatalf("Decide(%q, %q) = %v %q, want %v", c.tenant, c.conv, got, reason, want < 0.5)
		}
	}
}

func TestHighRisk(t *testing.T) {
	for _, at := range []float64{0, 0.5, 1} {
		s := mustNew(t, Config{HighRiskAt: at})
		threshold := at
		if at == 0 {
			threshold = DefaultHighRiskAt
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 5000 {
			risk := rng.Float64()
			if i%100 == 0 {
				risk = threshold // the threshold itself is high risk
			}
			ok, reason := s.Decide("t", "conv-"+strconv.Itoa(i), "agent", risk, false, t0)
			want := risk >= threshold
			if ok != want || (ok && reason != ReasonHighRisk) {
				t.Fatalf("HighRiskAt %v, risk %v: got %v %q, want %v", at, risk, ok, reason, want)
			}
		}
	}
	s := mustNew(t, Config{})
	if ok, _ := s.Decide("t", "nan", "", math.NaN(), false, t0); ok {
		t.Fatal("NaN risk sampled")
	}
}

func TestWholeConversation(t *testing.T) {
	s := mustNew(t, Config{})
	steps := []struct {
		risk   float64
		policy bool
		ok     bool
		reason string
	}{
		{0.1, false, false, ""},
		{0.9, false, true, ReasonHighRisk},
		{0.1, false, true, ReasonHighRisk}, // risk dropped: still sampled
		{0.0, true, true, ReasonHighRisk},  // first reason is kept
		{0.0, false, true, ReasonHighRisk},
	}
	for i, st := range steps {
		ok, reason := s.Decide("t", "c", "a", st.risk, st.policy, t0.Add(time.Duration(i)*48*time.Hour))
		if ok != st.ok || reason != st.reason {
			t.Fatalf("step %d: got %v %q, want %v %q", i, ok, reason, st.ok, st.reason)
		}
	}
	// same conversation id in another tenant is another conversation
	if ok, _ := s.Decide("t2", "c", "a", 0, false, t0); ok {
		t.Fatal("other tenant's conversation sampled")
	}
}

func TestPolicyForced(t *testing.T) {
	s := mustNew(t, Config{})
	if ok, _ := s.Decide("t", "c", "a", 0, false, t0); ok {
		t.Fatal("sampled without a reason")
	}
	if ok, reason := s.Decide("t", "c", "a", 0, true, t0); !ok || reason != ReasonPolicy {
		t.Fatalf("policy-forced: got %v %q", ok, reason)
	}
	if ok, reason := s.Decide("t", "c", "a", 0, false, t0); !ok || reason != ReasonPolicy {
		t.Fatalf("after policy-forced: got %v %q", ok, reason)
	}
	// policy outranks risk
	if _, reason := s.Decide("t", "c2", "a", 0.99, true, t0); reason != ReasonPolicy {
		t.Fatalf("reason %q, want policy", reason)
	}
}

func TestAgentMinimum(t *testing.T) {
	const agents, convsPerAgent, msgs = 100, 10, 3
	s := mustNew(t, Config{AgentDailyMin: 2, Seed: "s"})
	day2 := time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)
	run := func(day time.Time, prefix string) map[string]map[string]bool {
		got := make(map[string]map[string]bool) // agent → sampled conversations
		for m := range msgs {
			for c := range convsPerAgent {
				for a := range agents {
					agent := "agent-" + strconv.Itoa(a)
					conv := prefix + agent + "-" + strconv.Itoa(c)
					now := day.Add(time.Duration(m*convsPerAgent+c) * time.Minute)
					ok, reason := s.Decide("t", conv, agent, 0.1, false, now)
					if ok {
						if reason != ReasonAgentMinimum {
							t.Fatalf("%s: reason %q", conv, reason)
						}
						if got[agent] == nil {
							got[agent] = make(map[string]bool)
						}
						got[agent][conv] = true
					}
				}
			}
		}
		return got
	}
	check := func(name string, got map[string]map[string]bool) {
		t.Helper()
		if len(got) != agents {
			t.Fatalf("%s: %d agents sampled, want %d", name, len(got), agents)
		}
		for a, convs := range got {
			if len(convs) != 2 {
				t.Fatalf("%s: agent %s has %d sampled conversations, want 2", name, a, len(convs))
			}
		}
	}
	check("day 1", run(t0.Truncate(24*time.Hour), "d1-"))
	// 23:59 UTC is still day 1: nothing new.
	if ok, _ := s.Decide("t", "late", "agent-0", 0, false, day2.Add(-time.Minute)); ok {
		t.Fatal("agent over its minimum sampled at 23:59 UTC")
	}
	// A conversation sampled yesterday continues today: still sampled, and
	// does not count towards today's minimum.
	if ok, _ := s.Decide("t", "d1-agent-0-0", "agent-0", 0, false, day2); !ok {
		t.Fatal("yesterday's sampled conversation dropped")
	}
	check("day 2", run(day2, "d2-"))

	// The same agent id in another tenant is another agent.
	if ok, reason := s.Decide("t2", "x", "agent-0", 0, false, day2); !ok || reason != ReasonAgentMinimum {
		t.Fatalf("other tenant's agent: got %v %q", ok, reason)
	}
	// No agent id, no minimum.
	if ok, _ := s.Decide("t", "anon", "", 0, false, day2); ok {
		t.Fatal("conversation without agent sampled")
	}
}

func TestAgentMinimumReachedByOtherMeans(t *testing.T) {
	s := mustNew(t, Config{AgentDailyMin: 2})
	steps := []struct {
		conv   string
		risk   float64
		ok     bool
		reason string
	}{
		{"c1", 0.9, true, ReasonHighRisk},
		{"c1", 0.9, true, ReasonHighRisk}, // same conversation: counted once
		{"c2", 0.1, true, ReasonAgentMinimum},
		{"c3", 0.1, false, ""},
		{"c4", 0.95, true, ReasonHighRisk},
		{"c5", 0.1, false, ""},
	}
	for i, st := range steps {
		ok, reason := s.Decide("t", st.conv, "a", st.risk, false, t0)
		if ok != st.ok || reason != st.reason {
			t.Fatalf("step %d %s: got %v %q, want %v %q", i, st.conv, ok, reason, st.ok, st.reason)
		}
	}
}

func TestBound(t *testing.T) {
	s := mustNew(t, Config{Rate: 1, AgentDailyMin: 1, MaxConversations: 100, MaxAgents: 10})
	for i := range 10_000 {
		s.Decide("t", "c"+strconv.Itoa(i), "a"+strconv.Itoa(i), 0, false, t0)
	}
	if convs, agents := s.Len(); convs != 100 || agents != 10 {
		t.Fatalf("Len = %d conversations, %d agents; want 100, 10", convs, agents)
	}
	// An evicted risk-sampled conversation is re-decided from scratch.
	s = mustNew(t, Config{MaxConversations: 2})
	s.Decide("t", "a", "", 0.9, false, t0)
	s.Decide("t", "b", "", 0.9, false, t0)
	if ok, _ := s.Decide("t", "a", "", 0, false, t0); !ok { // a is now most recent
		t.Fatal("a forgotten too early")
	}
	s.Decide("t", "c", "", 0.9, false, t0) // evicts b
	if ok, _ := s.Decide("t", "b", "", 0, false, t0); ok {
		t.Fatal("evicted b still remembered")
	}
	if ok, _ := s.Decide("t", "a", "", 0, false, t0); !ok {
		t.Fatal("a evicted instead of b")
	}
}

func TestConcurrent(t *testing.T) {
	s := mustNew(t, Config{Rate: 0.05, Seed: "s", AgentDailyMin: 3, MaxConversations: 5000})
	const goroutines, perG, agents = 8, 3000, 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	perAgent := make(map[string]map[string]bool)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				conv := "c" + strconv.Itoa((i*7+g)%2000)
				agent := "a" + strconv.Itoa((i*7+g)%2000%agents)
				if ok, reason := s.Decide("t", conv, agent, 0, false, t0); ok && reason == ReasonAgentMinimum {
					mu.Lock()
					if perAgent[agent] == nil {
						perAgent[agent] = make(map[string]bool)
					}
					perAgent[agent][conv] = true
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for a, convs := range perAgent {
		if len(convs) > 3 {
			t.Fatalf("agent %s: %d agent-minimum conversations, want ≤ 3", a, len(convs))
		}
	}
	// Every conversation sampled during the run stays sampled.
	for i := range 2000 {
		c := "c" + strconv.Itoa(i)
		u, _ := s.hash("t", c)
		if ok, _ := s.Decide("t", c, "", 0, false, t0); u < 0.05 && !ok {
			t.Fatalf("hash-sampled %s not sampled", c)
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	s := mustNew(b, Config{Rate: 0.05, Seed: "seed", AgentDailyMin: 5})
	ids := make([]string, 10_000)
	for i := range ids {
		ids[i] = "conversation-" + strconv.Itoa(i)
	}
	agents := []string{"agent-0", "agent-1", "agent-2", "agent-3", "agent-4", "agent-5", "agent-6", "agent-7"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		s.Decide("tenant", ids[i%len(ids)], agents[i%len(agents)], 0.3, false, t0)
	}
}

func BenchmarkDecideParallel(b *testing.B) {
	s := mustNew(b, Config{Rate: 0.05, Seed: "seed", AgentDailyMin: 5})
	ids := make([]string, 10_000)
	for i := range ids {
		ids[i] = "conversation-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			s.Decide("tenant", ids[i%len(ids)], "agent", 0.3, false, t0)
		}
	})
}

// TestReasonAgreesWithDecide: Reason is Decide's first answer for a
// conversation seen for the first time, without the agent minimum.
func TestReasonAgreesWithDecide(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		risk   float64
		forced bool
	}{
		{"plain", 0.1, false},
		{"high risk", 0.9, false},
		{"forced", 0, true},
		{"forced and high", 0.95, true},
	} {
		for i := range 200 {
			conv := fmt.Sprintf("c%d", i)
			s := mustNew(t, Config{Rate: 0.3, Seed: "s1"})
			_, want := s.Decide("t", conv, "", tc.risk, tc.forced, now)
			if got := s.Reason("t", conv, tc.risk, tc.forced); got != want {
				t.Fatalf("%s, %s: Reason = %q, Decide = %q", tc.name, conv, got, want)
			}
		}
	}
	if got := mustNew(t, Config{AgentDailyMin: 3}).AgentDailyMin(); got != 3 {
		t.Errorf("AgentDailyMin = %d, want 3", got)
	}
	if d := UTCDay(time.Date(1970, 1, 2, 23, 0, 0, 0, time.UTC)); d != 1 {
		t.Errorf("UTCDay = %d, want 1", d)
	}
}
