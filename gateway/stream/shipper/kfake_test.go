package shipper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/xunjian/xunjian/gateway/stream/spool"
)

// newFake starts an in-process kfake cluster with the given topics (3
// partitions each).
func newFake(t *testing.T, topics ...string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topics...), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// consume reads from topic until it has at least n messages or d passes.
func consume(t *testing.T, addrs []string, topic string, n int, d time.Duration) []got {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out []got
	for len(out) < n && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			g := got{topic: r.Topic, key: string(r.Key), partition: int(r.Partition), headers: map[string]string{}}
			if err := json.Unmarshal(r.Value, &g.ev); err != nil {
				t.Errorf("bad value at %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
			}
			for _, h := range r.Headers {
				g.headers[h.Key] = string(h.Value)
			}
			out = append(out, g)
		})
	}
	return out
}

func TestNewValidation(t *testing.T) {
	sp := openSpool(t)
	topic := func(spool.Record) []string { return []string{"x"} }
	for _, tc := range []struct {
		name string
		sp   *spool.Spool
		opts Options
		ok   bool
	}{
		{"ok", sp, Options{Brokers: []string{"127.0.0.1:1"}, Topic: topic}, true},
		{"nil spool", nil, Options{Brokers: []string{"127.0.0.1:1"}, Topic: topic}, false},
		{"no brokers", sp, Options{Topic: topic}, false},
		{"no topic", sp, Options{Brokers: []string{"127.0.0.1:1"}}, false},
		{"negative batch", sp, Options{Brokers: []string{"127.0.0.1:1"}, Topic: topic, BatchSize: -1}, false},
		{"negative timeout", sp, Options{Brokers: []string{"127.0.0.1:1"}, Topic: topic, BatchTimeout: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.sp, tc.opts)
			if (err == nil) != tc.ok {
				t.Fatalf("New: err = %v, want ok=%v", err, tc.ok)
			}
			if s != nil {
				if s.opts.BatchSize != DefaultBatchSize || s.opts.BatchTimeout != DefaultBatchTimeout {
					t.Errorf("defaults not applied: %+v", s.opts)
				}
				s.Close()
			}
		})
	}
}

func TestCloseIdempotentAndRunAfterClose(t *testing.T) {
	sp := openSpool(t)
	s, err := New(sp, Options{Brokers: []string{closedAddr(t)}, Topic: func(spool.Record) []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	time.Sleep(20 * time.Millisecond)
	if err := s.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run: %v, want ErrRunning", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close: %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Run on closed: %v, want ErrClosed", err)
	}
}

// TestShipRoutingKfake ships 1000 events over 20 conversations to kfake:
// all to "findings", every conversation ending in 0 or 5 also to "alerts",
// and records routed nowhere are acknowledged without being sent.
func TestShipRoutingKfake(t *testing.T) {
	c := newFake(t, "findings", "alerts")
	sp := openSpool(t)
	appendEvents(t, sp, "r", 1000, 20, map[string]int{})
	s, err := New(sp, Options{
		Brokers: c.ListenAddrs(),
		Topic: func(r spool.Record) []string {
			switch r.Key[len(r.Key)-1] {
			case '0', '5':
				return []string{"findings", "alerts"}
			case '9':
				return nil
			}
			return []string{"findings"}
		},
		Headers:   tenantHeaders,
		BatchSize: 128,
		Logger:    quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stop := startRun(s)
	waitDrained(t, sp, 20*time.Second)
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	// conv-xx9 (2 of 20) go nowhere; xx0 and xx5 (4 of 20) go to both.
	findings := consume(t, c.ListenAddrs(), "findings", 900, 10*time.Second)
	alerts := consume(t, c.ListenAddrs(), "alerts", 200, 10*time.Second)
	if len(findings) != 900 || len(alerts) != 200 {
		t.Errorf("findings %d (want 900), alerts %d (want 200)", len(findings), len(alerts))
	}
	checkDelivery(t, findings, 900, "r")
	checkDelivery(t, alerts, 200, "r")
	st := s.Stats()
	if st.Shipped != 1000 || st.Messages != 1100 || st.Failures != 0 || !st.LastError.IsZero() {
		t.Errorf("Stats = %+v, want 1000 shipped, 1100 messages, no failures", st)
	}
}

// TestRetryNeverSkipsKfake makes the fake broker drop the first Produce
// requests and checks that the shipper rewinds, backs off, retries and
// finally delivers everything in per-key order, acking only after success.
func TestRetryNeverSkipsKfake(t *testing.T) {
	c := newFake(t, "findings")
	var failed atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if failed.Add(1) <= 15 {
			return nil, errors.New("injected produce failure"), true
		}
		c.DropControl()
		return nil, nil, false
	})
	sp := openSpool(t)
	appendEvents(t, sp, "f", 300, 10, map[string]int{})
	s, err := New(sp, Options{
		Brokers: c.ListenAddrs(),
		Topic:   func(spool.Record) []string { return []string{"findings"} },
		Headers: tenantHeaders,
		Logger:  quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stop := startRun(s)
	waitDrained(t, sp, 30*time.Second)
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	msgs := consume(t, c.ListenAddrs(), "findings", 300, 10*time.Second)
	checkDelivery(t, msgs, 300, "f")
	st := s.Stats()
	if st.Failures == 0 || st.LastError.IsZero() || st.Shipped != 300 {
		t.Errorf("Stats = %+v, want failures > 0 and 300 shipped", st)
	}
}

// TestUnreachableThenRecoverKfake points a shipper at a closed port: for 1 s
// it fails and retries, and nothing is acknowledged; a new shipper against
// a working broker then delivers all 100 records.
func TestUnreachableThenRecoverKfake(t *testing.T) {
	sp := openSpool(t)
	appendEvents(t, sp, "u", 100, 7, map[string]int{})
	route := func(spool.Record) []string { return []string{"findings"} }
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
		t.Fatalf("spool has %d pending records after failures, want 100", st.Records)
	}
	if st := bad.Stats(); st.Failures == 0 || st.Shipped != 0 {
		t.Errorf("unreachable shipper Stats = %+v, want failures and nothing shipped", st)
	}

	c := newFake(t, "findings")
	good, err := New(sp, Options{Brokers: c.ListenAddrs(), Topic: route, Headers: tenantHeaders, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	stop = startRun(good)
	waitDrained(t, sp, 20*time.Second)
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	checkDelivery(t, consume(t, c.ListenAddrs(), "findings", 100, 10*time.Second), 100, "u")
}

// TestBatchesFill: events appended one at a time, a few milliseconds
// apart, go out in batches that waited to fill (BatchTimeout), not one
// produce request per event; and all of them arrive.
func TestBatchesFill(t *testing.T) {
	c := newFake(t, "findings")
	var produces atomic.Int64
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		produces.Add(1)
		return nil, nil, false
	})
	sp := openSpool(t)
	s, err := New(sp, Options{
		Brokers:      c.ListenAddrs(),
		Topic:        func(spool.Record) []string { return []string{"findings"} },
		Headers:      tenantHeaders,
		BatchTimeout: 300 * time.Millisecond,
		Logger:       quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stop := startRun(s)
	for i := range 40 {
		b, _ := json.Marshal(event{EventID: fmt.Sprintf("b-%d", i), Tenant: "t0", Conv: "conv-000", Seq: i})
		if _, err := sp.Append(context.Background(), []byte("conv-000"), b); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	waitDrained(t, sp, 20*time.Second)
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	checkDelivery(t, consume(t, c.ListenAddrs(), "findings", 40, 10*time.Second), 40, "b")
	// 40 events over ~100 ms with a 300 ms timeout: one batch, two if the
	// first went out before the rest came; a produce request per event
	// would be 40.
	if n := produces.Load(); n > 2 {
		t.Errorf("%d produce requests for 40 events appended within one batch timeout, want at most 2", n)
	}
}
