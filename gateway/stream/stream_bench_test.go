package stream

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/stream/spool"
	"github.com/xunjian/xunjian/rules"
)

// benchMessage is a typical blocked draft: three findings, two reasons, an
// alert (suppressed after the first), recent turns.
func benchMessage(i int) Message {
	f := 0
	return Message{
		Tenant: "acme", ConversationID: fmt.Sprintf("conv-%d", i%1000), AgentID: "a7", Role: "agent",
		Verdict: &inspect.Verdict{
			DecisionID: "", Action: rules.Block, PolicyRevision: "default-1", LatencyUS: 18,
			Findings: []detectors.Finding{
				{Detector: "privacy", Kind: "phone", Severity: detectors.Medium, Score: 0.97, Start: 14, End: 25, Evidence: "138****5678"},
				{Detector: "diversion", Kind: "contact", Severity: detectors.High, Score: 0.95, Start: 0, End: 11, Evidence: "加我微信 abc123", Lexicon: "contact.invite"},
				{Detector: "tone", Kind: "rude", Severity: detectors.High, Score: 0.9, Start: 12, End: 15, Evidence: "你有病"},
			},
			Reasons: []rules.Reason{
				{Rule: "privacy.phone.redact", Action: rules.Redact, Message: "手机号已遮盖", Finding: &f},
				{Rule: "diversion.contact.block", Action: rules.Block, Message: "禁止引导顾客到站外联系", Suggestion: "请通过平台内聊天与顾客沟通"},
			},
			Alerts: []rules.Alert{{Level: "high", Kind: "risk", Message: "会话风险超过阈值"}},
		},
		Risk:   0.83,
		Recent: []inspect.Turn{{Role: "customer", Text: "我要投诉你们", TS: t0}, {Role: "agent", Text: "加我微信 abc123，电话138****5678", TS: t0}},
		Raw:    "加我微信 abc123，电话13812345678", Masked: "加我微信 abc123，电话138****5678",
		Now: t0.Add(time.Duration(i) * time.Millisecond),
	}
}

// BenchmarkPublishCommit is what the event stream adds to a verdict:
// building, routing and spooling the event (Publish) and, with fsync
// always, making it durable (Commit), by fsync policy, serial and with
// concurrent requests (fsync always then shares fsyncs: group commit).
func BenchmarkPublishCommit(b *testing.B) {
	for _, p := range []spool.FsyncPolicy{spool.FsyncAlways, spool.FsyncInterval, spool.FsyncNever} {
		for _, par := range []bool{false, true} {
			name := p.String()
			if par {
				name += "-parallel"
			}
			b.Run(name, func(b *testing.B) {
				s, _ := open(b, Config{Brokers: []string{"127.0.0.1:1"}, Spool: SpoolConfig{Options: spool.Options{Fsync: p, MaxBytes: 1 << 40, SegmentBytes: 64 << 20}}})
				ctx := context.Background()
				one := func(i int) {
					if err := s.Publish(ctx, benchMessage(i)); err != nil {
						b.Fatal(err)
					}
					if err := s.Commit(ctx); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				if par {
					b.RunParallel(func(pb *testing.PB) {
						for i := 0; pb.Next(); i++ {
							one(i)
						}
					})
					return
				}
				for i := 0; i < b.N; i++ {
					one(i)
				}
			})
		}
	}
}

// BenchmarkShip is events per second from a full spool to a Kafka-protocol
// broker through the shipper, acks from all replicas: the embedded broker,
// and the real one at KAFKA_BROKERS when that is set (scripts/kafka.sh).
func BenchmarkShip(b *testing.B) {
	targets := []string{"embedded"}
	if os.Getenv("KAFKA_BROKERS") != "" {
		targets = append(targets, "kafka")
	}
	for _, target := range targets {
		for _, batch := range []int{500, 2000} {
			b.Run(fmt.Sprintf("%s/batch-%d", target, batch), func(b *testing.B) {
				benchShip(b, target, batch)
			})
		}
	}
}

func benchShip(b *testing.B, target string, batch int) {
	addr := os.Getenv("KAFKA_BROKERS")
	tp := topics
	if target == "embedded" {
		addr = broker(b)
	} else {
		base := fmt.Sprintf("xj-bench-%d", time.Now().UnixNano())
		tp = Topics{Findings: base + ".f", Alerts: base + ".a", Samples: base + ".s"}
	}
	s, _ := open(b, Config{Brokers: strings.Split(addr, ","), Topics: tp, BatchSize: batch, BatchTimeout: duration.Duration(2 * time.Millisecond), Spool: SpoolConfig{Options: spool.Options{Fsync: spool.FsyncNever, MaxBytes: 1 << 40}}})
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		if err := s.Publish(ctx, benchMessage(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	for s.Stats().Spool.Records > 0 {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
