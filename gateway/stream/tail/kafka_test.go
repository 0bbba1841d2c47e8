//go:build kafka

package tail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/gateway/stream/kafkatest"
	"github.com/xunjian/xunjian/internal/testproc"
)

// These tests run against the real broker of scripts/kafka.sh:
//
//	scripts/kafka.sh start
//	KAFKA_BROKERS=127.0.0.1:9092 go test -tags kafka -count=1 ./gateway/stream/tail/
//
// Without KAFKA_BROKERS, or with it set and no broker, they fail.

// realProduce writes events as the shipper does (key = conversation, hash
// balancer, acks from all replicas, the two headers) and returns them per
// conversation in order.
func realProduce(t *testing.T, addrs []string, topic, prefix string, convs, each int) [][]*event.Event {
	t.Helper()
	// A transport of its own: the shared default one caches metadata for
	// up to 6 s and would not know the topic just created.
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(addrs...), Topic: topic, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond, Transport: tr}
	defer w.Close()
	per := make([][]*event.Event, convs)
	var msgs []kafka.Message
	for i := range convs * each {
		c := i % convs
		e := testEvent(t, fmt.Sprintf("%s-%d", prefix, c), i)
		per[c] = append(per[c], e)
		msgs = append(msgs, kafka.Message{Key: e.Key(), Value: marshal(t, e), Headers: []kafka.Header{
			{Key: "tenant", Value: []byte(e.Tenant)}, {Key: "schema", Value: []byte(event.SchemaID)}}})
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return per
}

func runMax(t *testing.T, o Options) string {
	t.Helper()
	var out bytes.Buffer
	var errOut testproc.Buffer
	o.Out, o.Err = &out, &errOut
	tl, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := tl.Run(ctx); err != nil {
		t.Fatalf("Run: %v\nstderr:\n%s\nstdout:\n%s", err, errOut.String(), out.String())
	}
	return out.String()
}

// TestKafkaAllPartitions reads 60 events over 6 conversations from the
// beginning, without and with a group, as text and as JSON, and checks each
// conversation's order.
func TestTailKafkaAllPartitions(t *testing.T) {
	addrs := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t, addrs[0], "xunjian-tail-all", 3)
	per := realProduce(t, addrs, topic, "conv", 6, 10)
	for _, group := range []string{"", fmt.Sprintf("xunjian-tail-test-%d", time.Now().UnixNano())} {
		for _, asJSON := range []bool{false, true} {
			g := group
			if g != "" {
				g += strconv.FormatBool(asJSON)
			}
			out := runMax(t, Options{Brokers: addrs, Topic: topic, Group: g, FromBeginning: true, Max: 60, JSON: asJSON,
				Format: Format{Location: time.UTC}})
			if asJSON {
				checkOrder(t, out, per, jsonNeedle(t))
			} else {
				checkOrder(t, out, per, textNeedle)
			}
		}
	}
}

// TestKafkaGroupResumes checks that the group's committed offsets survive
// Run: the second run prints only the later events.
func TestTailKafkaGroupResumes(t *testing.T) {
	addrs := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t, addrs[0], "xunjian-tail-group", 3)
	group := fmt.Sprintf("xunjian-tail-resume-%d", time.Now().UnixNano())
	first := realProduce(t, addrs, topic, "first", 3, 4)
	out := runMax(t, Options{Brokers: addrs, Topic: topic, Group: group, FromBeginning: true, Max: 12, JSON: true})
	checkOrder(t, out, first, jsonNeedle(t))
	later := realProduce(t, addrs, topic, "later", 3, 2)
	out = runMax(t, Options{Brokers: addrs, Topic: topic, Group: group, FromBeginning: true, Max: 6, JSON: true})
	checkOrder(t, out, later, jsonNeedle(t))
	if strings.Contains(out, "first-") {
		t.Errorf("the second run printed events the group had committed:\n%s", out)
	}
}

// TestKafkaFromEnd checks that only events published after the start note
// are printed.
func TestTailKafkaFromEnd(t *testing.T) {
	addrs := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t, addrs[0], "xunjian-tail-end", 3)
	realProduce(t, addrs, topic, "old", 3, 2)
	var out, errOut testproc.Buffer
	tl, err := New(Options{Brokers: addrs, Topic: topic, Max: 6, Out: &out, Err: &errOut})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	done := started(t, ctx, tl, &errOut, "from the end")
	later := realProduce(t, addrs, topic, "new", 3, 2)
	if err := wait(t, done, 60*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkOrder(t, out.String(), later, textNeedle)
	if strings.Contains(out.String(), "old-") {
		t.Errorf("printed events from before the start:\n%s", out.String())
	}
}

// TestKafkaNoTopic checks that a missing topic is ErrNoTopic and that the
// look-up did not create it, although the broker auto-creates topics.
func TestTailKafkaNoTopic(t *testing.T) {
	addrs := kafkatest.Brokers(t)
	topic := fmt.Sprintf("xunjian-tail-missing-%d", time.Now().UnixNano())
	for range 2 {
		tl, err := New(Options{Brokers: addrs, Topic: topic, Out: &bytes.Buffer{}})
		if err != nil {
			t.Fatal(err)
		}
		if err := tl.Run(t.Context()); !errors.Is(err, ErrNoTopic) {
			t.Fatalf("Run = %v, want ErrNoTopic", err)
		}
	}
	conn, err := kafka.DialContext(t.Context(), "tcp", addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Metadata v1 with all topics: asks for no topic, so creates none.
	parts, err := conn.ReadPartitions()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if p.Topic == topic {
			t.Fatalf("tail created topic %s", topic)
		}
	}
}

// TestKafkaCancel checks that Run stops promptly on a real broker in both
// modes.
func TestTailKafkaCancel(t *testing.T) {
	addrs := kafkatest.Brokers(t)
	topic := kafkatest.Topic(t, addrs[0], "xunjian-tail-cancel", 3)
	for _, group := range []string{"", fmt.Sprintf("xunjian-tail-cancel-%d", time.Now().UnixNano())} {
		var errOut testproc.Buffer
		tl, err := New(Options{Brokers: addrs, Topic: topic, Group: group, Out: &bytes.Buffer{}, Err: &errOut})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := started(t, ctx, tl, &errOut, "tail: "+topic+":")
		time.Sleep(time.Second) // let the readers (and the group) get going
		start := time.Now()
		cancel()
		if err := wait(t, done, 10*time.Second); !errors.Is(err, context.Canceled) {
			t.Errorf("group %q: Run = %v, want context.Canceled", group, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("group %q: took %v to stop", group, d)
		}
	}
}
