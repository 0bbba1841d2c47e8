package stream

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// KafkaStatus is whether the brokers answer, as /readyz shows it.
type KafkaStatus struct {
	// Reachable is false from the first failed probe of an outage until
	// the brokers answer again (true before the first contact).
	Reachable bool `json:"reachable"`
	// Since is when the current state began: the start of the outage
	// while unreachable (zero before the first contact).
	Since time.Time `json:"since,omitzero"`
	// UnreachableSeconds is how long the outage has lasted (zero while
	// reachable).
	UnreachableSeconds float64 `json:"unreachable_seconds,omitempty"`
	// Error is the last probe's failure while unreachable: broker
	// addresses and error kinds, never message data.
	Error string `json:"error,omitempty"`
}

// Readiness is the stream's part of /readyz.
type Readiness struct {
	// Ready is false only while the spool is full (events are then held or
	// dropped); an unreachable Kafka alone leaves it true while the spool
	// has room (see the package comment).
	Ready bool `json:"ready"`
	// Reason says why not ready; empty when ready.
	Reason string `json:"reason,omitempty"`
	// Warning says, while Kafka is unreachable (ready or not), that it is
	// and since when; empty otherwise.
	Warning string `json:"warning,omitempty"`
	// Kafka is the brokers' reachability.
	Kafka KafkaStatus `json:"kafka"`
	// SpoolEvents and SpoolBytes are what waits in the spool unshipped.
	SpoolEvents int64 `json:"spool_events"`
	SpoolBytes  int64 `json:"spool_bytes"`
}

// Kafka returns the brokers' reachability, as the shipper last saw it.
func (s *Stream) Kafka() KafkaStatus {
	st := s.ship.Status()
	k := KafkaStatus{Reachable: st.Reachable, Since: st.Since, Error: st.Error}
	if !st.Reachable {
		k.UnreachableSeconds = time.Since(st.Since).Seconds()
	}
	return k
}

// Readiness returns the stream's readiness and the brokers' reachability,
// for /readyz's body.
func (s *Stream) Readiness() Readiness {
	sp := s.sp.Stats()
	r := Readiness{Ready: true, Kafka: s.Kafka(), SpoolEvents: sp.Records, SpoolBytes: sp.Bytes}
	if err := s.Ready(); err != nil {
		r.Ready, r.Reason = false, err.Error()
	}
	if !r.Kafka.Reachable {
		r.Warning = fmt.Sprintf("Kafka unreachable since %s (%.0f s); events are spooled until it answers",
			r.Kafka.Since.UTC().Format(time.RFC3339), r.Kafka.UnreachableSeconds)
	}
	return r
}

// Collector returns the Prometheus collector of the brokers' reachability,
// for the gateway's registry:
//
//   - xunjian_kafka_reachable: 1 while the brokers answer, 0 during an
//     outage;
//   - xunjian_kafka_unreachable_since_seconds: the Unix time the current
//     outage began, 0 while reachable.
//
// Each scrape reads the shipper's state; the collector keeps none.
func (s *Stream) Collector() prometheus.Collector { return kafkaCollector{s} }

var (
	kafkaReachableDesc = prometheus.NewDesc("xunjian_kafka_reachable",
		"Whether the Kafka brokers answer (1) or not (0); events are spooled while they do not.", nil, nil)
	kafkaSinceDesc = prometheus.NewDesc("xunjian_kafka_unreachable_since_seconds",
		"Unix time the current Kafka outage began; 0 while the brokers answer.", nil, nil)
)

type kafkaCollector struct{ s *Stream }

func (c kafkaCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- kafkaReachableDesc
	ch <- kafkaSinceDesc
}

func (c kafkaCollector) Collect(ch chan<- prometheus.Metric) {
	k := c.s.Kafka()
	up, since := 1.0, 0.0
	if !k.Reachable {
		up = 0
		since = float64(k.Since.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(kafkaReachableDesc, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(kafkaSinceDesc, prometheus.GaugeValue, since)
}
