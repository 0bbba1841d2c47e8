//go:build kafka

package consume

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/xunjian/xunjian/console/store"
	"github.com/xunjian/xunjian/gateway/stream/kafkatest"
)

// TestConsumerBeforeTopics: a console started before the gateway ever ran
// (its topics do not exist yet, the usual order on a fresh install) reads
// the alerts published later, on a real broker, without a restart. The
// test broker creates a topic when a client first asks for it, so the
// console's group otherwise joins while the partitions have no leader
// yet, is assigned nothing, and kafka-go never looks again.
func TestConsumerBeforeTopics(t *testing.T) {
	broker := kafkatest.Brokers(t)[0]
	base := fmt.Sprintf("xj-console-late-%d", time.Now().UnixNano())
	tp := Topics{Alerts: base + ".alerts", Findings: base + ".findings", Samples: base + ".samples"}
	st, err := store.Open(context.Background(), "sqlite://"+t.TempDir()+"/console.db",
		store.WithAlertsTopic(tp.Alerts), store.WithSamplesTopic(tp.Samples))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h, n := &hub{}, &notifier{}
	c, err := New(Config{Brokers: []string{broker}, Group: base, Topics: tp}, st, Options{Publisher: h, Notifier: n,
		RetryDelay: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	// The console has joined its group with nothing to read.
	time.Sleep(3 * time.Second)
	for _, topic := range []string{tp.Alerts, tp.Findings, tp.Samples} {
		kafkatest.CreateTopic(t, broker, topic, 3)
	}
	a := alertEvent("t1", "late-c1", time.Now().Add(-time.Second), "complaint")
	publish(t, broker, tp.Findings, marshal(t, a))
	publish(t, broker, tp.Alerts, marshal(t, a))
	deadline := time.Now().Add(30 * time.Second)
	for h.len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the alert published after the topics were created never reached the console in 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if h.alerts[0].EventID != a.EventID {
		t.Errorf("published %+v, want the alert of %s", h.alerts[0], a.EventID)
	}
}
