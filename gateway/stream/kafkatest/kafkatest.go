//go:build kafka

// Package kafkatest holds what the tests against a real Kafka broker share
// (build tag kafka; scripts/test.sh starts the broker and sets
// KAFKA_BROKERS), and, in its own tests, the end-to-end tests of the
// gateway's event stream.
package kafkatest

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// Brokers returns the brokers in KAFKA_BROKERS. The kafka build tag is the
// opt-in to a real broker, so without one the test fails rather than skips.
func Brokers(t testing.TB) []string {
	t.Helper()
	env := strings.TrimSpace(os.Getenv("KAFKA_BROKERS"))
	if env == "" {
		t.Fatal("KAFKA_BROKERS is not set: the kafka build tag needs a broker (scripts/kafka.sh start, then KAFKA_BROKERS=127.0.0.1:9092; scripts/test.sh does both)")
	}
	var out []string
	for _, b := range strings.Split(env, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// Topic creates a fresh topic named after prefix with partitions
// partitions (replication factor 1) through the controller, waits until
// every partition has a leader, and deletes it when the test ends.
func Topic(t testing.TB, broker, prefix string, partitions int) string {
	t.Helper()
	topic := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := kafka.DialContext(ctx, "tcp", broker)
	if err != nil {
		t.Fatalf("dial %s: %v", broker, err)
	}
	defer conn.Close()
	ctrl, err := conn.Controller()
	if err != nil {
		t.Fatalf("find controller: %v", err)
	}
	caddr := net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port))
	cc, err := kafka.DialContext(ctx, "tcp", caddr)
	if err != nil {
		t.Fatalf("dial controller: %v", err)
	}
	defer cc.Close()
	if err := cc.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		c, err := kafka.Dial("tcp", caddr)
		if err != nil {
			t.Logf("cleanup: dial controller: %v", err)
			return
		}
		defer c.Close()
		if err := c.DeleteTopics(topic); err != nil {
			t.Logf("cleanup: delete topic %s: %v", topic, err)
		}
	})
	// Metadata reaches the broker shortly after the controller accepts the
	// topic: wait for every partition to have a leader.
	for {
		parts, err := conn.ReadPartitions(topic)
		ready := err == nil && len(parts) == partitions
		for _, p := range parts {
			ready = ready && p.Leader.ID >= 0 && p.Leader.Host != ""
		}
		if ready {
			return topic
		}
		select {
		case <-ctx.Done():
			t.Fatalf("topic %s not ready (partitions %d, last error %v): %v", topic, len(parts), err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
