package redisstate

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/internal/ratelimit"
	"github.com/xunjian/xunjian/gateway/internal/redisstate/redistest"
	"github.com/xunjian/xunjian/gateway/stream/alerting"
	"github.com/xunjian/xunjian/gateway/stream/sampling"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// client returns a Client on addr with keys of its own (a fresh prefix per
// test, so tests sharing the server do not meet), closed at the end.
func client(t testing.TB, addr, prefix string, opts Options) *Client {
	t.Helper()
	cfg := Config{Addrs: []string{addr}, KeyPrefix: prefix, Timeout: duration.Duration(200 * time.Millisecond), BreakerOpen: duration.Duration(100 * time.Millisecond)}
	c, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// prefix returns a key prefix no other test run uses.
func prefix(t testing.TB) string {
	return fmt.Sprintf("test:%s:%s:", t.Name(), crand.Text()[:8])
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "" valid, else a substring of the error
	}{
		{"off", Config{}, ""},
		{"one server", Config{Addrs: []string{"127.0.0.1:6379"}}, ""},
		{"sentinels", Config{Addrs: []string{"a:26379", "b:26379"}, SentinelMaster: "m"}, ""},
		{"cluster", Config{Addrs: []string{"a:6379", "b:6379"}}, "shared_state.addrs: 2 addresses"},
		{"no port", Config{Addrs: []string{"redis"}}, "shared_state.addrs[0]"},
		{"mode", Config{Addrs: []string{"a:1"}, Mode: "open"}, "shared_state.mode"},
		{"negative", Config{Addrs: []string{"a:1"}, Timeout: -1, DB: -1}, "shared_state.timeout"},
		{"tls pair", Config{Addrs: []string{"a:1"}, TLS: TLS{Enabled: true, CertFile: "c.pem"}}, "cert_file and key_file"},
	} {
		tc.cfg.Defaults()
		err := tc.cfg.Validate("shared_state")
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	c := Config{}
	c.Defaults()
	if c.Mode != ModeDegrade || c.Timeout.D() != DefaultTimeout || c.KeyPrefix != DefaultKeyPrefix || c.BreakerOpen.D() != DefaultBreakerOpen {
		t.Errorf("defaults: %+v", c)
	}
}

// TestLimitsMatchInProcess: the shared buckets allow exactly what the
// in-process limiter allows, for the same rate, burst and clock.
func TestLimitsMatchInProcess(t *testing.T) {
	addr := redistest.Addr(t)
	for _, tc := range []struct {
		rate  float64
		burst int
		gaps  []time.Duration // between requests, cycled
	}{
		{1, 1, []time.Duration{0, 0, time.Second, 500 * time.Millisecond, 500 * time.Millisecond}},
		{5, 10, []time.Duration{0, 0, 0, 10 * time.Millisecond, 300 * time.Millisecond}},
		{3, 0, []time.Duration{0, 100 * time.Millisecond, 333 * time.Millisecond, 334 * time.Millisecond}},
		{100, 2, []time.Duration{0, 5 * time.Millisecond, 10 * time.Millisecond}},
	} {
		t.Run(fmt.Sprintf("rate %v burst %d", tc.rate, tc.burst), func(t *testing.T) {
			want, err := ratelimit.New(ratelimit.Config{Rate: tc.rate, Burst: tc.burst})
			if err != nil {
				t.Fatal(err)
			}
			defer want.Close()
			burst := tc.burst
			if burst == 0 {
				burst = ratelimit.DefaultBurst(tc.rate)
			}
			c := client(t, addr, prefix(t), Options{Agent: Limit{Rate: tc.rate, Burst: burst}})
			now := t0
			for i := range 60 {
				now = now.Add(tc.gaps[i%len(tc.gaps)])
				b, err := c.Begin(context.Background(), Draft{Tenant: "t", Agent: "a1", Now: now})
				if err != nil {
					t.Fatal(err)
				}
				if w := want.Allow("t", "a1", now); b.Allowed != w {
					t.Fatalf("request %d at +%v: shared %v, in-process %v", i, now.Sub(t0), b.Allowed, w)
				}
			}
		})
	}
}

// TestCredentialLimit: a credential that pins no agent is limited as a
// whole, whatever agents it names, and a draft refused by its agent's
// bucket takes nothing from the credential's.
func TestCredentialLimit(t *testing.T) {
	c := client(t, redistest.Addr(t), prefix(t), Options{Agent: Limit{Rate: 1, Burst: 1}, Credential: Limit{Rate: 1, Burst: 3}})
	ctx := context.Background()
	allowed := func(agent string) bool {
		b, err := c.Begin(ctx, Draft{Tenant: "t", Agent: agent, Credential: "key1", Now: t0})
		if err != nil {
			t.Fatal(err)
		}
		return b.Allowed
	}
	got := []bool{allowed("a1"), allowed("a1"), allowed("a2"), allowed("a3"), allowed("a4")}
	if fmt.Sprint(got) != "[true false true true false]" {
		t.Errorf("allowed %v, want [true false true true false]: a1's second is its own bucket's, a4 the credential's", got)
	}
}

// TestCommitConflict: a commit on a stale version fails with ErrConflict
// and spends nothing (no alert window, no sample); on the version read
// again it goes through.
func TestCommitConflict(t *testing.T) {
	c := client(t, redistest.Addr(t), prefix(t), Options{})
	ctx := context.Background()
	b, err := c.Begin(ctx, Draft{Tenant: "t", Conversation: "c1", Now: t0})
	if err != nil || b.Version != 0 || b.Conv.ID != "c1" || b.Conv.Turns != 0 {
		t.Fatalf("Begin = %+v, %v", b, err)
	}
	next := inspect.Conversation{ID: "c1", Turns: 1, Risk: 0.5}
	first, err := c.Commit(ctx, Commit{Tenant: "t", Conversation: "c1", Version: 0, Next: &next, Now: t0})
	if err != nil || first.Version != 1 {
		t.Fatalf("first commit = %+v, %v", first, err)
	}
	stale := Commit{Tenant: "t", Conversation: "c1", Version: 0, Next: &next, Now: t0,
		Alerts: []Alert{{Kind: "complaint", Rank: 3}}, Window: time.Minute, Sample: &Sample{Reason: sampling.ReasonHash}}
	if _, err := c.Commit(ctx, stale); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale commit: %v, want ErrConflict", err)
	}
	conv, v, err := c.Read(ctx, "t", "c1")
	if err != nil || v != 1 || conv.Turns != 1 || conv.Risk != 0.5 {
		t.Fatalf("Read = %+v, %d, %v", conv, v, err)
	}
	stale.Version = v
	got, err := c.Commit(ctx, stale)
	if err != nil || got.Version != 2 || !got.Sampled || got.Reason != sampling.ReasonHash || len(got.Admitted) != 1 || !got.Admitted[0] {
		t.Errorf("commit after the conflict = %+v, %v: want the alert admitted and the conversation sampled, nothing spent by the conflict", got, err)
	}
}

// TestNoLostUpdates: gateways incrementing one conversation at once, each
// retrying on conflicts, lose none of their updates.
func TestNoLostUpdates(t *testing.T) {
	addr, pfx := redistest.Addr(t), prefix(t)
	const gateways, each = 4, 25
	var wg sync.WaitGroup
	for range gateways {
		c := client(t, addr, pfx, Options{})
		wg.Go(func() {
			ctx := context.Background()
			for range each {
				for {
					conv, v, err := c.Read(ctx, "t", "c1")
					if err != nil {
						t.Error(err)
						return
					}
					conv.Turns++
					if _, err := c.Commit(ctx, Commit{Tenant: "t", Conversation: "c1", Version: v, Next: &conv, Now: t0}); err == nil {
						break
					} else if !errors.Is(err, ErrConflict) {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	conv, v, err := client(t, addr, pfx, Options{}).Read(context.Background(), "t", "c1")
	if err != nil || conv.Turns != gateways*each || v != gateways*each {
		t.Errorf("after %d updates: turns %d, version %d, %v", gateways*each, conv.Turns, v, err)
	}
}

// TestDecisionsMatchInProcess: a random run of messages gets the same
// alert and sampling decisions from the shared state as from the
// in-process Dedup and Sampler, over several agents, conversations and
// UTC days.
func TestDecisionsMatchInProcess(t *testing.T) {
	c := client(t, redistest.Addr(t), prefix(t), Options{ConversationTTL: time.Hour})
	const window = 5 * time.Minute
	dedup := alerting.New(alerting.Config{Window: duration.Duration(window)})
	sampler, err := sampling.New(sampling.Config{Rate: 0.2, Seed: "s", AgentDailyMin: 2})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	levels := []string{"low", "medium", "high", "critical", "unknown"}
	versions := map[string]int64{}
	now := t0.Add(20 * time.Hour) // the run crosses midnight UTC
	ctx := context.Background()
	for i := range 400 {
		now = now.Add(time.Duration(rng.IntN(90)) * time.Second)
		conv := fmt.Sprintf("c%d", rng.IntN(40))
		agent := fmt.Sprintf("a%d", rng.IntN(3))
		if rng.IntN(10) == 0 {
			agent = ""
		}
		risk, forced := rng.Float64(), rng.IntN(15) == 0
		kind, level := []string{"complaint", "conduct"}[rng.IntN(2)], levels[rng.IntN(len(levels))]

		wantSampled, wantReason := sampler.Decide("t", conv, agent, risk, forced, now)
		wantAdmit, _ := dedup.Admit("t", conv, kind, level, now)

		next := inspect.Conversation{ID: conv, Turns: i}
		got, err := c.Commit(ctx, Commit{Tenant: "t", Conversation: conv, Version: versions[conv], Next: &next, Now: now,
			Sample: &Sample{Agent: agent, Reason: sampler.Reason("t", conv, risk, forced), AgentDailyMin: sampler.AgentDailyMin()},
			Alerts: []Alert{{Kind: kind, Rank: alerting.Rank(level)}}, Window: window})
		if err != nil {
			t.Fatal(err)
		}
		versions[conv] = got.Version
		if got.Sampled != wantSampled || got.Reason != wantReason || got.Admitted[0] != wantAdmit {
			t.Fatalf("message %d (%s, agent %q, %s %s at %v): shared sampled %v %q admitted %v; in-process %v %q %v",
				i, conv, agent, kind, level, now, got.Sampled, got.Reason, got.Admitted[0], wantSampled, wantReason, wantAdmit)
		}
	}
}

// TestUseAck: a token is used up once, on whichever gateway.
func TestUseAck(t *testing.T) {
	addr, pfx := redistest.Addr(t), prefix(t)
	a, b := client(t, addr, pfx, Options{}), client(t, addr, pfx, Options{})
	nonce := []byte("0123456789abcdef")
	ctx := context.Background()
	for i, tc := range []struct {
		c    *Client
		want bool
	}{{a, true}, {b, false}, {a, false}} {
		got, err := tc.c.UseAck(ctx, nonce, t0.Add(time.Minute), t0)
		if err != nil || got != tc.want {
			t.Errorf("use %d: %v, %v; want %v", i, got, err, tc.want)
		}
	}
}

// TestLifecycle: Forget drops a conversation; Touch keeps one.
func TestLifecycle(t *testing.T) {
	c := client(t, redistest.Addr(t), prefix(t), Options{})
	ctx := context.Background()
	next := inspect.Conversation{ID: "c1", Turns: 3}
	if _, err := c.Commit(ctx, Commit{Tenant: "t", Conversation: "c1", Next: &next, Now: t0}); err != nil {
		t.Fatal(err)
	}
	if err := c.Touch(ctx, "t", "c1"); err != nil {
		t.Fatal(err)
	}
	if conv, _, _ := c.Read(ctx, "t", "c1"); conv.Turns != 3 {
		t.Fatalf("after Touch: %+v", conv)
	}
	if err := c.Forget(ctx, "t", "c1"); err != nil {
		t.Fatal(err)
	}
	if conv, v, _ := c.Read(ctx, "t", "c1"); conv.Turns != 0 || v != 0 || conv.ID != "c1" {
		t.Errorf("after Forget: %+v, version %d", conv, v)
	}
}

// TestOutage: a server that is away fails calls at once (refused), a
// server that answers nothing (paused) fails them within the timeout, the
// breaker then fails them without waiting, and the client recovers by
// itself when the server is back, scripts reloaded after a restart.
func TestOutage(t *testing.T) {
	srv := redistest.Start(t)
	cfg := Config{Addrs: []string{srv.Addr}, KeyPrefix: prefix(t), Timeout: duration.Duration(30 * time.Millisecond), BreakerOpen: duration.Duration(50 * time.Millisecond)}
	var mu sync.Mutex
	results := map[string]int{}
	c, err := New(cfg, Options{Agent: Limit{Rate: 100, Burst: 100}, ProbeInterval: 50 * time.Millisecond,
		Observe: func(op, result string, _ time.Duration) { mu.Lock(); results[result]++; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	begin := func() (time.Duration, error) {
		start := time.Now()
		_, err := c.Begin(ctx, Draft{Tenant: "t", Agent: "a", Conversation: "c1", Now: time.Now()})
		return time.Since(start), err
	}
	if _, err := begin(); err != nil {
		t.Fatal(err)
	}
	for _, phase := range []struct {
		name          string
		down, up      func()
		restartsEmpty bool
	}{
		{"paused (slow)", srv.Pause, srv.Resume, false},
		{"stopped", srv.Stop, srv.Restart, true},
	} {
		phase.down()
		for i := range 20 {
			d, err := begin()
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("%s: call %d: %v, want ErrUnavailable", phase.name, i, err)
			}
			if d > 30*time.Millisecond+100*time.Millisecond {
				t.Fatalf("%s: call %d took %v, past its 30ms timeout", phase.name, i, d)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if c.Status().Up || c.Status().Since.IsZero() {
			t.Errorf("%s: status %+v, want down", phase.name, c.Status())
		}
		phase.up()
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, err := begin(); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("%s: not recovered within 5s: %v", phase.name, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !c.Status().Up {
			t.Errorf("%s: status %+v after recovery", phase.name, c.Status())
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if results["open"] == 0 || results["error"] == 0 {
		t.Errorf("results %v: want calls refused by the open breaker and failed ones", results)
	}
}

// Example shows a draft's two round trips, and an ack used up.
func Example() {
	c, err := New(Config{Addrs: []string{"127.0.0.1:6379"}}, Options{Agent: Limit{Rate: 5, Burst: 10}})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	ctx := context.Background()
	now := time.Now()
	b, err := c.Begin(ctx, Draft{Tenant: "t1", Agent: "a7", Conversation: "c42", Now: now})
	switch {
	case errors.Is(err, ErrUnavailable):
		return // degrade to local state, or answer 503, as shared_state.mode says
	case !b.Allowed:
		return // 429
	}
	next := b.Conv // ... inspect the draft on b.Conv, giving the next conversation
	next.Turns++
	_, err = c.Commit(ctx, Commit{Tenant: "t1", Conversation: "c42", Version: b.Version, Next: &next, Now: now,
		Alerts: []Alert{{Kind: "complaint", Rank: alerting.Rank("high")}}, Window: 5 * time.Minute})
	if errors.Is(err, ErrConflict) {
		return // another gateway committed first: Read, inspect again, Commit again
	}
	var nonce [16]byte
	crand.Read(nonce[:])
	first, err := c.UseAck(ctx, nonce[:], now.Add(5*time.Minute), now)
	fmt.Println(first, err)
}
