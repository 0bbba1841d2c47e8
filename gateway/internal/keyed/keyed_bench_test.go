package keyed

import (
	"strconv"
	"sync/atomic"
	"testing"
)

// BenchmarkUpdate measures Update on a working set of known keys, in
// parallel, as the gateway calls it.
func BenchmarkUpdate(b *testing.B) {
	m := newMap[int](b, Config{})
	const working = 10_000
	ids := make([]string, working)
	for i := range ids {
		ids[i] = "key-" + strconv.Itoa(i)
		m.Update("tenant", ids[i], incr)
	}
	m.Wait()
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(7919)
		for pb.Next() {
			i++
			m.Update("tenant", ids[i%working], incr)
		}
	})
}

// BenchmarkUpdateNew measures Update creating an entry each time.
func BenchmarkUpdateNew(b *testing.B) {
	m := newMap[int](b, Config{})
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = "key-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		m.Update("tenant", ids[i], incr)
	}
}

func BenchmarkGet(b *testing.B) {
	m := newMap[int](b, Config{})
	m.Update("tenant", "key", incr)
	m.Wait()
	var n int
	b.ReportAllocs()
	for b.Loop() {
		m.Get("tenant", "key", func(v *int) { n = *v })
	}
	_ = n
}
