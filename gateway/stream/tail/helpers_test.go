package tail

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/stream"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/internal/testproc"
	"github.com/xunjian/xunjian/rules"
)

// baseTS is the time of the first test event: 2026-11-23 12:03:28.123 UTC.
var baseTS = time.Date(2026, 11, 23, 12, 3, 28, 123_000_000, time.UTC)

func intp(i int) *int { return &i }

// testEvent builds the i-th test event of conversation conv, a plain agent
// draft allowed without findings unless i is odd (then a blocked one with a
// finding, a reason and an alert).
func testEvent(t testing.TB, conv string, i int) *event.Event {
	t.Helper()
	v := &inspect.Verdict{Action: rules.Allow, PolicyRevision: "rev-1", LatencyUS: 42}
	if i%2 == 1 {
		v = &inspect.Verdict{
			Action:         rules.Block,
			Findings:       []detectors.Finding{{Detector: "privacy", Kind: "phone", Severity: detectors.High, Score: 0.98, Start: 3, End: 14, Evidence: "138****5678"}},
			Reasons:        []rules.Reason{{Rule: "privacy.phone.block", Action: rules.Block, Message: "请勿发送手机号", Finding: intp(0)}},
			Alerts:         []rules.Alert{{Level: "high", Kind: "complaint", Message: "顾客威胁投诉或升级"}},
			PolicyRevision: "rev-1",
			LatencyUS:      99,
		}
	}
	e, err := stream.NewEvent(stream.EventInput{
		TS:             baseTS.Add(time.Duration(i) * time.Second),
		Tenant:         "acme",
		ConversationID: conv,
		AgentID:        "a7",
		Verdict:        v,
		Masked:         fmt.Sprintf("msg %d of %s", i, conv),
	}, nil)
	if err != nil {
		t.Fatalf("stream.NewEvent: %v", err)
	}
	return e
}

func marshal(t testing.TB, e *event.Event) []byte {
	t.Helper()
	b, err := e.Marshal(nil)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

// newFake starts an in-process kfake cluster on 127.0.0.1 with the given
// topics, 3 partitions each. Auto-creation is allowed only when auto is
// set, as a real broker might.
func newFake(t testing.TB, auto bool, topics ...string) *kfake.Cluster {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(3, topics...)}
	if auto {
		opts = append(opts, kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// rec is one record to produce to an explicit partition.
type rec struct {
	partition int32
	key       string
	value     []byte
	headers   map[string]string
}

// eventRec is the record the gateway would send for e.
func eventRec(t testing.TB, partition int32, e *event.Event) rec {
	return rec{partition: partition, key: e.ConversationID, value: marshal(t, e),
		headers: map[string]string{"tenant": e.Tenant, "schema": event.SchemaID}}
}

// produce writes rs to topic in order and waits for the acks.
func produce(t testing.TB, addrs []string, topic string, rs ...rec) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatalf("kgo: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, r := range rs {
		kr := &kgo.Record{Partition: r.partition, Key: []byte(r.key), Value: r.value}
		for k, v := range r.headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
		if err := cl.ProduceSync(ctx, kr).FirstErr(); err != nil {
			t.Fatalf("produce to %s/%d: %v", topic, r.partition, err)
		}
	}
}

// started runs tl in a goroutine and waits for its start note on errOut;
// the returned channel gets Run's error. Run returning before the note
// fails the test.
func started(t testing.TB, ctx context.Context, tl *Tailer, errOut *testproc.Buffer, note string) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(errOut.String(), note) {
		select {
		case err := <-done:
			t.Fatalf("Run returned %v before %q; stderr:\n%s", err, note, errOut.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q within 20s; have:\n%s", note, errOut.String())
		}
	}
	return done
}

// wait returns what Run returned, failing the test after d.
func wait(t testing.TB, done <-chan error, d time.Duration) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("Run did not return within %v", d)
		return nil
	}
}

// kafkaMessage is a message of topic t holding v, for the printer alone.
func kafkaMessage(v []byte) kafka.Message { return kafka.Message{Topic: "t", Value: v} }
