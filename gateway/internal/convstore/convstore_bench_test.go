package convstore

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/xunjian/xunjian/gateway/inspect"
)

// BenchmarkUpdate measures Update on a working set of known conversations,
// in parallel, as the gateway does.
func BenchmarkUpdate(b *testing.B) {
	s := newStore(b, Config{})
	const working = 10_000
	ids := make([]string, working)
	for i := range ids {
		ids[i] = "conv-" + strconv.Itoa(i)
		s.Update("tenant", ids[i], incr)
	}
	s.cache.Wait()
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(7919)
		for pb.Next() {
			i++
			s.Update("tenant", ids[i%working], func(c *inspect.Conversation) { c.Turns++ })
		}
	})
}

// Creating conversations is benchmarked in gateway/keyed (BenchmarkUpdateNew).

func BenchmarkGet(b *testing.B) {
	s := newStore(b, Config{})
	s.Update("tenant", "conv", incr)
	s.cache.Wait()
	b.ReportAllocs()
	for b.Loop() {
		s.Get("tenant", "conv")
	}
}
