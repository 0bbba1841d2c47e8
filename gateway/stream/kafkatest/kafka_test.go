//go:build kafka

package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

const (
	numMessages   = 1000
	numKeys       = 10
	numPartitions = 3
)

// brokers returns the broker list from KAFKA_BROKERS or skips the test.
func brokers(t *testing.T) []string {
	t.Helper()
	env := strings.TrimSpace(os.Getenv("KAFKA_BROKERS"))
	if env == "" {
		t.Fatal("KAFKA_BROKERS is not set: the kafka build tag needs a broker; start one with scripts/kafka.sh start and run with KAFKA_BROKERS=127.0.0.1:9092 (scripts/test.sh does)")
	}
	var out []string
	for _, b := range strings.Split(env, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// createTopic creates topic with numPartitions partitions (replication factor
// 1) through the cluster controller, waits until every partition has a
// leader, and deletes the topic when the test ends.
func createTopic(ctx context.Context, t *testing.T, broker, topic string) {
	t.Helper()
	conn, err := kafka.DialContext(ctx, "tcp", broker)
	if err != nil {
		t.Fatalf("dial %s: %v", broker, err)
	}
	defer conn.Close()
	ctrl, err := conn.Controller()
	if err != nil {
		t.Fatalf("find controller: %v", err)
	}
	cc, err := kafka.DialContext(ctx, "tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
	if err != nil {
		t.Fatalf("dial controller: %v", err)
	}
	defer cc.Close()
	if err := cc.CreateTopics(kafka.TopicConfig{
		Topic:             topic,
		NumPartitions:     numPartitions,
		ReplicationFactor: 1,
	}); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		c, err := kafka.Dial("tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
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
	// topic; wait for all partitions to have a leader before producing.
	for {
		parts, err := conn.ReadPartitions(topic)
		ready := err == nil && len(parts) == numPartitions
		for _, p := range parts {
			ready = ready && p.Leader.ID >= 0 && p.Leader.Host != ""
		}
		if ready {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("topic %s not ready (partitions %d, last error %v): %v", topic, len(parts), err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestProduceConsumeKeyedOrder produces numMessages keyed messages with
// acks=all and the hash balancer, consumes them with a consumer group, and
// checks that every message arrives exactly once, that each key stays on one
// partition, and that each key's messages arrive in production order.
func TestProduceConsumeKeyedOrder(t *testing.T) {
	addrs := brokers(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	topic := fmt.Sprintf("xunjian-kafkatest-%d", time.Now().UnixNano())
	createTopic(ctx, t, addrs[0], topic)

	w := &kafka.Writer{
		Addr:         kafka.TCP(addrs...),
		Topic:        topic,
		RequiredAcks: kafka.RequireAll,
		Balancer:     &kafka.Hash{},
		BatchTimeout: 10 * time.Millisecond, // kafka-go's 1 s default only slows the test
	}
	start := time.Now()
	// Value "<key>:<seq>", seq counting per key from 0. Messages are written
	// in chunks; WriteMessages is synchronous, so chunk order is send order.
	const chunk = 100
	seq := make(map[string]int, numKeys)
	for i := 0; i < numMessages; i += chunk {
		msgs := make([]kafka.Message, 0, chunk)
		for j := i; j < i+chunk && j < numMessages; j++ {
			key := fmt.Sprintf("conv-%02d", j%numKeys)
			msgs = append(msgs, kafka.Message{
				Key:   []byte(key),
				Value: []byte(fmt.Sprintf("%s:%d", key, seq[key])),
			})
			seq[key]++
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatalf("write messages %d..%d: %v", i, i+len(msgs)-1, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close writer: %v", err)
	}
	t.Logf("produced %d messages (%d keys) to %s in %v", numMessages, numKeys, topic, time.Since(start))

	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        addrs,
		Topic:          topic,
		GroupID:        topic + "-group",
		StartOffset:    kafka.FirstOffset,
		MaxWait:        100 * time.Millisecond,
		CommitInterval: time.Second, // async commits; Close flushes them
	})
	defer func() {
		if err := r.Close(); err != nil {
			t.Errorf("close reader: %v", err)
		}
	}()

	start = time.Now()
	next := make(map[string]int, numKeys)        // next expected seq per key
	partitionOf := make(map[string]int, numKeys) // the one partition per key
	perPartition := make(map[int]int, numPartitions)
	for got := 0; got < numMessages; got++ {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("timed out after %d of %d messages", got, numMessages)
			}
			t.Fatalf("read message %d: %v", got, err)
		}
		key := string(m.Key)
		k, s, ok := strings.Cut(string(m.Value), ":")
		n, err := strconv.Atoi(s)
		if !ok || err != nil || k != key {
			t.Fatalf("message %d (partition %d offset %d): key %q value %q: malformed", got, m.Partition, m.Offset, key, m.Value)
		}
		if n != next[key] {
			t.Fatalf("key %s: got seq %d, want %d (partition %d offset %d): per-key order broken", key, n, next[key], m.Partition, m.Offset)
		}
		next[key]++
		if p, seen := partitionOf[key]; seen && p != m.Partition {
			t.Fatalf("key %s on partitions %d and %d, want one", key, p, m.Partition)
		}
		partitionOf[key] = m.Partition
		perPartition[m.Partition]++
	}
	for key, want := range seq {
		if next[key] != want {
			t.Errorf("key %s: consumed %d, produced %d", key, next[key], want)
		}
	}
	t.Logf("consumed %d messages in %v; per partition %v", numMessages, time.Since(start), perPartition)
}
