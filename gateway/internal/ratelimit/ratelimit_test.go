package ratelimit

import (
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func newLimiter(t testing.TB, cfg Config) *Limiter {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(l.Close)
	return l
}

// allowed counts how many of n requests at now are allowed.
func allowed(l *Limiter, tenant, agent string, n int, now time.Time) int {
	k := 0
	for range n {
		if l.Allow(tenant, agent, now) {
			k++
		}
	}
	return k
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cfg       Config
		wantErr   bool
		wantBurst int
	}{
		{"zero disables", Config{}, false, 0},
		{"default burst", Config{Rate: 5}, false, 10},
		{"default burst rounds up", Config{Rate: 1.2}, false, 3},
		{"default burst at least 1", Config{Rate: 0.1}, false, 1},
		{"explicit burst", Config{Rate: 5, Burst: 3}, false, 3},
		{"tiny rate", Config{Rate: 1e-12}, false, 1},
		{"negative rate", Config{Rate: -1}, true, 0},
		{"NaN rate", Config{Rate: math.NaN()}, true, 0},
		{"infinite rate", Config{Rate: math.Inf(1)}, true, 0},
		{"negative burst", Config{Rate: 1, Burst: -1}, true, 0},
		{"negative max agents", Config{Rate: 1, MaxAgents: -1}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(tc.cfg)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			defer l.Close()
			if l.burst != tc.wantBurst {
				t.Errorf("burst = %d, want %d", l.burst, tc.wantBurst)
			}
			if l.cache != nil && (l.ttl < minTTL || l.ttl > maxTTL) {
				t.Errorf("ttl = %s out of bounds", l.ttl)
			}
		})
	}
}

func TestBurstThenRefuseThenRefill(t *testing.T) {
	l := newLimiter(t, Config{Rate: 2, Burst: 4})
	if n := allowed(l, "t", "a", 10, t0); n != 4 {
		t.Fatalf("burst: %d of 10 allowed, want 4", n)
	}
	if l.Allow("t", "a", t0.Add(100*time.Millisecond)) {
		t.Fatal("allowed before a token refilled")
	}
	// One token every 500 ms.
	if !l.Allow("t", "a", t0.Add(500*time.Millisecond)) {
		t.Fatal("refused after one token refilled")
	}
	if l.Allow("t", "a", t0.Add(600*time.Millisecond)) {
		t.Fatal("allowed twice on one refilled token")
	}
	// After a long pause the bucket is full again, but no fuller.
	if n := allowed(l, "t", "a", 10, t0.Add(time.Hour)); n != 4 {
		t.Fatalf("after refill: %d of 10 allowed, want 4", n)
	}
}

func TestSteadyRate(t *testing.T) {
	l := newLimiter(t, Config{Rate: 10, Burst: 1})
	n := 0
	// 100 requests per second for 10 s: 10 per second get through.
	for ms := 0; ms < 10_000; ms += 10 {
		if l.Allow("t", "a", t0.Add(time.Duration(ms)*time.Millisecond)) {
			n++
		}
	}
	if n < 99 || n > 101 {
		t.Fatalf("%d allowed in 10 s at rate 10, want about 100", n)
	}
}

func TestIndependence(t *testing.T) {
	l := newLimiter(t, Config{Rate: 1, Burst: 2})
	for _, k := range []struct{ tenant, agent string }{
		{"t1", "a"}, {"t1", "b"}, {"t2", "a"}, {"t1", ""}, {"t2", ""},
		{"t1a", ""}, {"t1", "a\x00"}, // not confused with ("t1", "a") by concatenation
	} {
		if n := allowed(l, k.tenant, k.agent, 5, t0); n != 2 {
			t.Errorf("(%q, %q): %d of 5 allowed, want 2 (its own burst)", k.tenant, k.agent, n)
		}
	}
}

func TestUnknownAgentsShareTenantBucket(t *testing.T) {
	l := newLimiter(t, Config{Rate: 1, Burst: 3})
	if n := allowed(l, "t", "", 2, t0) + allowed(l, "t", "", 2, t0); n != 3 {
		t.Fatalf("anonymous requests of one tenant: %d of 4 allowed, want 3", n)
	}
}

func TestDisabled(t *testing.T) {
	l := newLimiter(t, Config{})
	if n := allowed(l, "t", "a", 10_000, t0); n != 10_000 {
		t.Fatalf("disabled limiter refused %d", 10_000-n)
	}
	l.Close()
}

func TestConcurrentNewAgent(t *testing.T) {
	// Back-to-back first requests of one agent share one bucket, although
	// ristretto applies the first Set asynchronously.
	for round := range 20 {
		l := newLimiter(t, Config{Rate: 1, Burst: 5})
		var ok atomic.Int32
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				if l.Allow("t", "agent", t0) {
					ok.Add(1)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 5 {
			t.Fatalf("round %d: %d of 50 allowed, want 5", round, ok.Load())
		}
	}
}

func TestBounded(t *testing.T) {
	const max = 1000
	l := newLimiter(t, Config{Rate: 1, MaxAgents: max})
	for i := range 10 * max {
		l.Allow("t", strconv.Itoa(i), t0)
	}
	l.cache.Wait()
	if n := l.cache.Len(); n > max {
		t.Fatalf("%d buckets tracked, bound %d", n, max)
	}
}

func TestClose(t *testing.T) {
	l, err := New(Config{Rate: 1, Burst: 1})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 500 {
				l.Allow("t", strconv.Itoa(i*1000+j), t0)
			}
		})
	}
	l.Close()
	wg.Wait()
	l.Close()
	if n := allowed(l, "t", "a", 3, t0); n != 3 {
		t.Fatalf("after Close: %d of 3 allowed, want all", n)
	}
}

func TestAllowAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	l := newLimiter(t, Config{Rate: 1e9})
	l.Allow("tenant", "agent", t0)
	l.cache.Wait()
	if n := testing.AllocsPerRun(1000, func() { l.Allow("tenant", "agent", t0) }); n > 0 {
		t.Errorf("Allow of a known agent allocates %.1f times", n)
	}
}
