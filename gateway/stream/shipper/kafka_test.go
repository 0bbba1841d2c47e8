//go:build kafka

package shipper

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/xunjian/xunjian/gateway/stream/kafkatest"
	"github.com/xunjian/xunjian/gateway/stream/spool"
)

// TestShipRealBroker ships 2000 events over 50 conversations and checks
// every one arrives with per-key order and one partition per key.
func TestShipRealBroker(t *testing.T) {
	addrs := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t, addrs[0], "xunjian-shipper", 3)
	sp := openSpool(t)
	appendEvents(t, sp, "k", 2000, 50, map[string]int{})
	s, err := New(sp, Options{
		Brokers: addrs,
		Topic:   func(spool.Record) []string { return []string{topic} },
		Headers: tenantHeaders,
		Logger:  quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	stop := startRun(s)
	waitDrained(t, sp, time.Minute)
	t.Logf("shipped 2000 events in %v", time.Since(start))
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	msgs := consume(t, addrs, topic, 2000, 30*time.Second)
	checkDelivery(t, msgs, 2000, "k")
	if st := s.Stats(); st.Shipped != 2000 {
		t.Errorf("Stats = %+v, want 2000 shipped", st)
	}
}

// TestUnreachableThenRealBroker: a shipper pointed at a closed port fails
// and retries for 1 s without acknowledging anything; a new shipper against
// the real broker then delivers all 100 records.
func TestUnreachableThenRealBroker(t *testing.T) {
	addrs := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t, addrs[0], "xunjian-shipper", 3)
	route := func(spool.Record) []string { return []string{topic} }
	sp := openSpool(t)
	appendEvents(t, sp, "d", 100, 9, map[string]int{})
	bad, err := New(sp, Options{Brokers: []string{closedAddr(t)}, Topic: route, Headers: tenantHeaders, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	stop := startRun(bad)
	time.Sleep(time.Second)
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	bad.Close()
	if st := sp.Stats(); st.Records != 100 {
		t.Fatalf("spool has %d pending records, want 100", st.Records)
	}
	if st := bad.Stats(); st.Failures == 0 || st.Shipped != 0 {
		t.Errorf("unreachable shipper Stats = %+v", st)
	}
	t.Logf("unreachable shipper: %+v", bad.Stats())

	good, err := New(sp, Options{Brokers: addrs, Topic: route, Headers: tenantHeaders, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	stop = startRun(good)
	waitDrained(t, sp, time.Minute)
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	checkDelivery(t, consume(t, addrs, topic, 100, 30*time.Second), 100, "d")
}

// BenchmarkSpoolShipper measures events per second through spool Append
// (FsyncInterval, ~250-byte events, 4 appending goroutines, 200
// conversations) and the shipper to the real broker, until all are acked,
// for a few batch settings.
func BenchmarkSpoolShipper(b *testing.B) {
	for _, tc := range []struct {
		size    int
		timeout time.Duration
	}{{0, 0}, {2000, 0}, {2000, 2 * time.Millisecond}} {
		b.Run(fmt.Sprintf("batch=%d/timeout=%v", tc.size, tc.timeout), func(b *testing.B) {
			benchShip(b, tc.size, tc.timeout)
		})
	}
}

func benchShip(b *testing.B, size int, timeout time.Duration) {
	addrs := kafkatest.Brokers(b)
	topic := kafkatest.Topic(b, addrs[0], "xunjian-shipper", 3)
	sp, err := spool.Open(spool.Options{Dir: b.TempDir(), Fsync: spool.FsyncInterval, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer sp.Close()
	s, err := New(sp, Options{
		Brokers: addrs,
		Topic:   func(spool.Record) []string { return []string{topic} },
		Headers: func(spool.Record) []kafka.Header {
			return []kafka.Header{{Key: "tenant", Value: []byte("t1")}, {Key: "schema", Value: []byte("xunjian.event/v1")}}
		},
		BatchSize:    size,
		BatchTimeout: timeout,
		Logger:       quietLogger(),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	stop := startRun(s)
	defer stop()
	val := []byte(`{"event_id":"00000000-0000-0000-0000-000000000000","ts":"2026-11-23T12:00:00Z","tenant":"t1","conversation_id":"conv-000","agent_id":"a1","role":"agent","action":"mask","findings":[{"kind":"phone","evidence":"1**********"}],"policy_revision":"r1","latency_us":312,"sampled":false}`)
	keys := make([][]byte, 200)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("conv-%03d", i))
	}
	b.ResetTimer()
	start := time.Now()
	const writers = 4
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < b.N; i += writers {
				if _, err := sp.Append(context.Background(), keys[i%len(keys)], val); err != nil {
					b.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	waitDrained(b, sp, 5*time.Minute)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
