package certfiles

import (
	"crypto/x509"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// ExpiryMetric is the name of the gauge Expiry exports.
const ExpiryMetric = "xunjian_tls_certificate_not_after_timestamp_seconds"

// Uses of a certificate (the use label of ExpiryMetric).
const (
	// UseAgent is the gateway's agent port.
	UseAgent = "agent"
	// UseAdmin is the gateway's admin port.
	UseAdmin = "admin"
	// UseConsole is the console's listener.
	UseConsole = "console"
	// UseKafkaClient is the client certificate presented to the Kafka
	// brokers.
	UseKafkaClient = "kafka_client"
)

// Expiry is a Prometheus collector of ExpiryMetric: the not-after time, in
// Unix seconds, of each certificate the process serves or presents,
// labelled with its use only (agent, admin, console, kafka_client), never
// with a subject, a name or a serial. Each certificate is read at the
// scrape, after the same check of its files a handshake makes, so the
// value is that of the certificate the next handshake uses and a rotation
// shows at the next scrape. Its methods are safe for concurrent use.
type Expiry struct {
	desc *prometheus.Desc
	mu   sync.Mutex
	uses map[string]func() *x509.Certificate
}

// NewExpiry returns an Expiry with no certificate yet: registered, it
// describes the metric and collects nothing until Add.
func NewExpiry() *Expiry {
	return &Expiry{
		desc: prometheus.NewDesc(ExpiryMetric,
			"Not-after time (Unix seconds) of the leaf certificate each TLS use presents (use: agent, admin, console, kafka_client), read from its files at each scrape as the next handshake would: alert on it minus time().",
			[]string{"use"}, nil),
		uses: map[string]func() *x509.Certificate{},
	}
}

// Add exports the certificate cert returns (nil: none, no series) under
// use, replacing what use had.
func (e *Expiry) Add(use string, cert func() *x509.Certificate) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.uses[use] = cert
}

// Describe implements prometheus.Collector.
func (e *Expiry) Describe(ch chan<- *prometheus.Desc) { ch <- e.desc }

// Collect implements prometheus.Collector.
func (e *Expiry) Collect(ch chan<- prometheus.Metric) {
	type source struct {
		use  string
		cert func() *x509.Certificate
	}
	e.mu.Lock()
	sources := make([]source, 0, len(e.uses))
	for u, c := range e.uses {
		sources = append(sources, source{u, c})
	}
	e.mu.Unlock()
	for _, s := range sources { // outside the lock: a read may load files
		if c := s.cert(); c != nil {
			ch <- prometheus.MustNewConstMetric(e.desc, prometheus.GaugeValue, float64(c.NotAfter.Unix()), s.use)
		}
	}
}
