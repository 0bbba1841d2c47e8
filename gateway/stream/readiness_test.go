package stream

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xunjian/xunjian/gateway/stream/embedded"
	"github.com/xunjian/xunjian/rules"
)

// gauges reads the Kafka gauges from a registry holding only c.
func gauges(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
	}
	return out
}

// waitKafka polls s until Kafka().Reachable is want (after a first
// contact), failing after d.
func waitKafka(t *testing.T, s *Stream, want bool, d time.Duration) KafkaStatus {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		k := s.Kafka()
		if k.Reachable == want && !k.Since.IsZero() {
			return k
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: Kafka() = %+v, want reachable=%v", d, k, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReadinessDeadBroker: with brokers configured and none listening, and
// no traffic, the stream says within 10 s (readiness body, metrics, one log
// line) that Kafka is unreachable and since when, while it stays ready
// and spools what is published.
func TestReadinessDeadBroker(t *testing.T) {
	s, logs := open(t, Config{Brokers: []string{"127.0.0.1:1"}})
	start := time.Now()
	run(t, s)
	k := waitKafka(t, s, false, 10*time.Second)
	if k.Since.Before(start) || k.Error == "" {
		t.Errorf("Kafka() = %+v: want an outage since after %v, with its error", k, start)
	}
	if err := s.Publish(context.Background(), Message{Tenant: "t", ConversationID: "c1", Verdict: verdict(rules.Block, 1), Now: t0}); err != nil {
		t.Fatalf("Publish while Kafka is away: %v", err)
	}
	r := s.Readiness()
	if !r.Ready || r.Kafka.Reachable || r.SpoolEvents != 1 || !strings.Contains(r.Warning, "Kafka unreachable since "+k.Since.UTC().Format(time.RFC3339)) {
		t.Errorf("Readiness() = %+v: want ready, Kafka unreachable since %v, one event spooled", r, k.Since)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"reachable":false`) || !strings.Contains(string(b), `"since":"`) {
		t.Errorf("readiness JSON %s: want reachable false and since", b)
	}
	g := gauges(t, s.Collector())
	if g["xunjian_kafka_reachable"] != 0 || g["xunjian_kafka_unreachable_since_seconds"] != float64(k.Since.UnixNano())/1e9 {
		t.Errorf("gauges %v: want reachable 0 and the outage's start %v", g, k.Since)
	}
	time.Sleep(2500 * time.Millisecond) // another probe round at least
	if n := strings.Count(logs.String(), "kafka unreachable"); n != 1 {
		t.Errorf("%d unreachable log lines, want 1:\n%s", n, logs.String())
	}
}

// TestReadinessBrokerRestart: the embedded broker stops and comes back on
// the same address; the stream flips to unreachable within 10 s and back,
// the metrics follow, and the recovery is logged once.
func TestReadinessBrokerRestart(t *testing.T) {
	names := []string{topics.Findings, topics.Alerts, topics.Samples}
	b, err := embedded.Start(embedded.Options{Addr: "127.0.0.1:0", Topics: names})
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	s, logs := open(t, Config{Brokers: []string{addr}, ProbeInterval: 100 * time.Millisecond})
	run(t, s)
	waitKafka(t, s, true, 10*time.Second)
	if g := gauges(t, s.Collector()); g["xunjian_kafka_reachable"] != 1 || g["xunjian_kafka_unreachable_since_seconds"] != 0 {
		t.Errorf("gauges %v with the broker up", g)
	}
	b.Close()
	down := waitKafka(t, s, false, 10*time.Second)
	var b2 *embedded.Broker
	for range 50 {
		if b2, err = embedded.Start(embedded.Options{Addr: addr, Topics: names}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("restart the broker on %s: %v", addr, err)
	}
	defer b2.Close()
	up := waitKafka(t, s, true, 10*time.Second)
	if !up.Since.After(down.Since) {
		t.Errorf("recovered since %v, not after the outage since %v", up.Since, down.Since)
	}
	if r := s.Readiness(); !r.Ready || r.Warning != "" || !r.Kafka.Reachable {
		t.Errorf("Readiness() = %+v after recovery", r)
	}
	if g := gauges(t, s.Collector()); g["xunjian_kafka_reachable"] != 1 {
		t.Errorf("gauges %v after recovery", g)
	}
	if n, m := strings.Count(logs.String(), "kafka unreachable"), strings.Count(logs.String(), "kafka reachable again"); n != 1 || m != 1 {
		t.Errorf("%d unreachable and %d recovery log lines, want 1 each:\n%s", n, m, logs.String())
	}
}
