package embedded

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

func TestProduceConsume(t *testing.T) {
	b, err := Start(Options{Addr: "127.0.0.1:0", Topics: []string{"xunjian.findings"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !strings.HasPrefix(b.Addr(), "127.0.0.1:") || strings.HasSuffix(b.Addr(), ":0") {
		t.Fatalf("Addr = %q", b.Addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(b.Addr()), Topic: "xunjian.findings", Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	var msgs []kafka.Message
	for _, k := range []string{"c1", "c2", "c3", "c1"} {
		msgs = append(msgs, kafka.Message{Key: []byte(k), Value: []byte(`{"k":"` + k + `"}`)})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	conn, err := kafka.DialContext(ctx, "tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions("xunjian.findings")
	conn.Close()
	if err != nil || len(parts) != DefaultPartitions {
		t.Fatalf("partitions %d (%v), want %d", len(parts), err, DefaultPartitions)
	}
	got := 0
	for _, p := range parts {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b.Addr()}, Topic: "xunjian.findings", Partition: p.ID, MaxWait: 50 * time.Millisecond})
		for {
			rctx, rcancel := context.WithTimeout(ctx, 500*time.Millisecond)
			_, err := r.ReadMessage(rctx)
			rcancel()
			if err != nil {
				break
			}
			got++
		}
		r.Close()
	}
	if got != len(msgs) {
		t.Fatalf("consumed %d, want %d", got, len(msgs))
	}
}

func TestStartErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, addr := range []string{"0.0.0.0:9092", "10.1.2.3:0", "nohost", "127.0.0.1:99999", busy.Addr().String()} {
		if b, err := Start(Options{Addr: addr}); err == nil {
			b.Close()
			t.Errorf("Start(%q) succeeded", addr)
		}
	}
}
