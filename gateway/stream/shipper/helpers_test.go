package shipper

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/xunjian/xunjian/gateway/stream/spool"
)

// event is the part of a test event the tests look at.
type event struct {
	EventID string `json:"event_id"`
	Tenant  string `json:"tenant"`
	Conv    string `json:"conversation_id"`
	Seq     int    `json:"seq"`
}

// openSpool opens a spool in a fresh temp dir, closed when the test ends.
func openSpool(t testing.TB) *spool.Spool {
	t.Helper()
	sp, err := spool.Open(spool.Options{Dir: t.TempDir(), Fsync: spool.FsyncNever, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("open spool: %v", err)
	}
	t.Cleanup(func() { sp.Close() })
	return sp
}

// quietLogger drops everything below Error unless SHIPPER_TEST_LOG is set.
func quietLogger() *slog.Logger {
	lvl := slog.LevelError
	if os.Getenv("SHIPPER_TEST_LOG") != "" {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

// appendEvents appends n events spread round-robin over convs
// conversations, with per-conversation sequence numbers continuing from seq
// (which it updates). prefix makes event ids unique across calls.
func appendEvents(t testing.TB, sp *spool.Spool, prefix string, n, convs int, seq map[string]int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		conv := fmt.Sprintf("conv-%03d", i%convs)
		ev := event{EventID: fmt.Sprintf("%s-%d", prefix, i), Tenant: "t" + conv[len(conv)-1:], Conv: conv, Seq: seq[conv]}
		seq[conv]++
		b, _ := json.Marshal(ev)
		if _, err := sp.Append(ctx, []byte(conv), b); err != nil {
			t.Fatalf("append: %v", err)
		}
	}
}

// tenantHeaders is a Headers hook that parses the tenant out of the value
// (tests only; the gateway supplies it without parsing).
func tenantHeaders(r spool.Record) []kafka.Header {
	var ev event
	_ = json.Unmarshal(r.Value, &ev)
	return []kafka.Header{
		{Key: "tenant", Value: []byte(ev.Tenant)},
		{Key: "schema", Value: []byte("xunjian.event/v1")},
	}
}

// got is one consumed message.
type got struct {
	topic, key string
	partition  int
	ev         event
	headers    map[string]string
}

// checkDelivery checks that every appended event id in want arrived at
// least once, that all of a key's messages are on one partition, and that
// each key's first deliveries come in sequence order (duplicates from
// retries may repeat earlier ones, as at-least-once allows).
func checkDelivery(t *testing.T, msgs []got, want int, prefix string) {
	t.Helper()
	seen := map[string]bool{}
	part := map[string]int{}
	next := map[string]int{}
	for _, m := range msgs {
		if !strings.HasPrefix(m.ev.EventID, prefix+"-") {
			continue
		}
		if p, ok := part[m.key]; ok && p != m.partition {
			t.Errorf("key %s on partitions %d and %d", m.key, p, m.partition)
		}
		part[m.key] = m.partition
		if m.key != m.ev.Conv {
			t.Errorf("event %s: key %q, conversation %q", m.ev.EventID, m.key, m.ev.Conv)
		}
		if m.headers["tenant"] != m.ev.Tenant || m.headers["schema"] != "xunjian.event/v1" {
			t.Errorf("event %s: headers %v", m.ev.EventID, m.headers)
		}
		switch {
		case m.ev.Seq == next[m.key]:
			next[m.key]++
		case m.ev.Seq > next[m.key]:
			t.Errorf("key %s: got seq %d, want %d (order broken or gap)", m.key, m.ev.Seq, next[m.key])
			next[m.key] = m.ev.Seq + 1
		}
		seen[m.ev.EventID] = true
	}
	if len(seen) != want {
		t.Errorf("got %d distinct events with prefix %s, want %d", len(seen), prefix, want)
	}
}

// waitDrained waits until the spool has no unacknowledged records.
func waitDrained(t testing.TB, sp *spool.Spool, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for sp.Stats().Records != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("spool not drained after %v: %+v", d, sp.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// startRun runs s.Run on a goroutine; the returned func cancels it and
// returns Run's error.
func startRun(s *Shipper) func() error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() error { cancel(); return <-done }
}
