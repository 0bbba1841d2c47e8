//go:build kafka

package kafkatest

import (
	"context"
	"errors"
	"fmt"
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

// TestProduceConsumeKeyedOrder produces numMessages keyed messages with
// acks=all and the hash balancer, consumes them with a consumer group, and
// checks that every message arrives exactly once, that each key stays on one
// partition, and that each key's messages arrive in production order.
func TestProduceConsumeKeyedOrder(t *testing.T) {
	addrs := Brokers(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	topic := Topic(t, addrs[0], "xunjian-kafkatest", numPartitions)

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
