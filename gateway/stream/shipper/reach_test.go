package shipper

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/xunjian/xunjian/gateway/stream/spool"
)

// lockedBuf is a log sink safe for the shipper's goroutines.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// waitStatus polls s until its reachability is want, failing after d.
func waitStatus(t *testing.T, s *Shipper, want bool, d time.Duration) Status {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		st := s.Status()
		if st.Reachable == want && !st.Since.IsZero() {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: status %+v, want reachable=%v", d, st, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReachableDeadBroker: an idle shipper pointed at addresses nobody
// listens on says so within 10 s, with the time the outage began, and logs
// it once however many probes fail.
func TestReachableDeadBroker(t *testing.T) {
	for _, tc := range []struct {
		name    string
		brokers []string
	}{
		{"port 1", []string{"127.0.0.1:1"}},
		{"closed listener", []string{closedAddr(t)}},
		{"all of several", []string{closedAddr(t), "127.0.0.1:1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &lockedBuf{}
			s, err := New(openSpool(t), Options{
				Brokers: tc.brokers, Topic: func(spool.Record) []string { return []string{"findings"} },
				Logger: slog.New(slog.NewTextHandler(logs, nil)), ProbeInterval: 50 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if ok, since := s.Reachable(); !ok || !since.IsZero() {
				t.Errorf("before Run: Reachable() = %v, %v; want true and no time yet", ok, since)
			}
			start := time.Now()
			stop := startRun(s)
			defer stop()
			st := waitStatus(t, s, false, 10*time.Second)
			if st.Since.Before(start) || st.Since.After(time.Now()) || st.Error == "" {
				t.Errorf("status %+v: want the outage's start after %v and an error", st, start)
			}
			time.Sleep(500 * time.Millisecond) // ten more failed probes
			if ok, since := s.Reachable(); ok || !since.Equal(st.Since) {
				t.Errorf("Reachable() = %v, %v; want false since %v", ok, since, st.Since)
			}
			if n := logs.count("kafka unreachable"); n != 1 {
				t.Errorf("%d unreachable log lines, want 1:\n%s", n, logs.b.String())
			}
		})
	}
}

// TestReachableBrokerRestartKfake: a broker that stops is reported
// unreachable within 10 s while events pile up in the spool; when it comes
// back on the same address the shipper says so, logs the recovery once and
// delivers what was spooled.
func TestReachableBrokerRestartKfake(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	startFake := func() *kfake.Cluster {
		t.Helper()
		var c *kfake.Cluster
		var err error
		for range 50 { // the port may take a moment to be free again
			if c, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(3, "findings"), kfake.AllowAutoTopicCreation()); err == nil {
				return c
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("kfake on port %d: %v", port, err)
		return nil
	}
	c := startFake()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	sp := openSpool(t)
	logs := &lockedBuf{}
	s, err := New(sp, Options{
		Brokers: []string{addr}, Topic: func(spool.Record) []string { return []string{"findings"} }, Headers: tenantHeaders,
		Logger: slog.New(slog.NewTextHandler(logs, nil)), ProbeInterval: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stop := startRun(s)
	defer stop()
	appendEvents(t, sp, "a", 50, 5, map[string]int{})
	waitDrained(t, sp, 20*time.Second)
	up := waitStatus(t, s, true, 10*time.Second)

	c.Close()
	down := waitStatus(t, s, false, 10*time.Second)
	if !down.Since.After(up.Since) {
		t.Errorf("outage since %v, not after the first contact %v", down.Since, up.Since)
	}
	appendEvents(t, sp, "b", 50, 5, map[string]int{}) // spooled while Kafka is away; the new broker sees these only
	time.Sleep(300 * time.Millisecond)
	if st := sp.Stats(); st.Records != 50 {
		t.Errorf("spool holds %d records during the outage, want 50", st.Records)
	}

	c = startFake()
	defer c.Close()
	back := waitStatus(t, s, true, 10*time.Second)
	if !back.Since.After(down.Since) || back.Error != "" {
		t.Errorf("recovered status %+v after an outage since %v", back, down.Since)
	}
	waitDrained(t, sp, 20*time.Second)
	checkDelivery(t, consume(t, c.ListenAddrs(), "findings", 50, 10*time.Second), 50, "b")
	if n, m := logs.count("kafka unreachable"), logs.count("kafka reachable again"); n != 1 || m != 1 {
		t.Errorf("%d unreachable and %d recovery log lines, want 1 each:\n%s", n, m, logs.b.String())
	}
}

// TestWatchStopsWithContext: Watch returns when its context ends, even in
// the middle of probing a broker that accepts connections and never
// answers.
func TestWatchStopsWithContext(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	s, err := New(openSpool(t), Options{Brokers: []string{l.Addr().String()}, Topic: func(spool.Record) []string { return nil }, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Watch(ctx); close(done) }()
	time.Sleep(200 * time.Millisecond) // inside the probe's round trip
	cancel()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("Watch still probing 1 s after its context ended")
	}
	// A silent broker is unreachable once the probe times out.
	go s.Watch(context.Background())
	if st := waitStatus(t, s, false, ProbeTimeout+5*time.Second); !strings.Contains(st.Error, l.Addr().String()) {
		t.Errorf("status %+v: want the error to name the broker", st)
	}
}
