package convstore

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/inspect"
)

// BenchmarkHeld reports what the store's open conversations cost the
// garbage collector: heap objects and scannable heap bytes per
// conversation of five turns, and the time of a full collection per
// 10,000 conversations held. Every collection marks every conversation the
// store holds; a gateway holds up to conversations.max of them.
func BenchmarkHeld(b *testing.B) {
	const n = 20_000
	var objects, scan, heap, gcTime float64
	for b.Loop() {
		s := newStore(b, Config{MaxConversations: 2 * n})
		runtime.GC()
		m0 := readHeld()
		for i := range n {
			id := fmt.Sprint("conv-", i)
			conv, unlock, err := s.Lock(context.Background(), "tenant", id)
			if err != nil {
				b.Fatal(err)
			}
			for t := range 5 {
				conv.Recent = append(conv.Recent, inspect.Turn{Role: inspect.RoleCustomer, Text: fmt.Sprintf("订单%d还没发货，我已经等了%d天了，什么时候能到？", 880000+i, t+2),
					TS: time.Unix(int64(i), 0), Delivered: true})
			}
			unlock(&conv)
		}
		s.cache.Wait()
		runtime.GC()
		start := time.Now()
		runtime.GC()
		gcTime = float64(time.Since(start).Microseconds()) * 10_000 / n
		m1 := readHeld()
		objects = float64(m1.objects-m0.objects) / n
		scan = float64(m1.scan-m0.scan) / n
		heap = float64(m1.heap-m0.heap) / n
		runtime.KeepAlive(s)
		s.Close()
	}
	b.ReportMetric(objects, "objects/conversation")
	b.ReportMetric(scan, "scan-B/conversation")
	b.ReportMetric(heap, "heap-B/conversation")
	b.ReportMetric(gcTime, "gc-µs/10k-conversations")
}

// held is what the heap holds after a collection: objects, bytes the
// collector scans, bytes in all.
type held struct{ objects, scan, heap uint64 }

func readHeld() held {
	s := []metrics.Sample{{Name: "/gc/heap/objects:objects"}, {Name: "/gc/scan/heap:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return held{s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64()}
}
