package ratelimit

import (
	"strconv"
	"sync/atomic"
	"testing"
)

// BenchmarkAllow measures Allow across a working set of known agents, in
// parallel, as the gateway calls it.
func BenchmarkAllow(b *testing.B) {
	l := newLimiter(b, Config{Rate: 1e6})
	const working = 1000
	agents := make([]string, working)
	for i := range agents {
		agents[i] = "agent-" + strconv.Itoa(i)
		l.Allow("tenant", agents[i], t0)
	}
	l.cache.Wait()
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(7919)
		for pb.Next() {
			i++
			l.Allow("tenant", agents[i%working], t0)
		}
	})
}

func BenchmarkAllowDisabled(b *testing.B) {
	l := newLimiter(b, Config{})
	b.ReportAllocs()
	for b.Loop() {
		l.Allow("tenant", "agent", t0)
	}
}
