package metrics

import "github.com/prometheus/client_golang/prometheus"

// StreamStats is what the event stream reports at each scrape.
type StreamStats struct {
	// Spooled counts messages whose events were spooled; Findings, Alerts
	// and Samples count events per topic.
	Spooled, Findings, Alerts, Samples int64
	// Suppressed counts alerts dropped as repeats.
	Suppressed int64
	// Dropped counts events lost to a full spool (on_full: serve), Held
	// messages refused for one (on_full: hold), Errors events that could
	// not be built or written.
	Dropped, Held, Errors int64
	// Shipped counts spool records Kafka acknowledged, ShipFailures failed
	// batches (retried).
	Shipped, ShipFailures int64
	// SpoolBytes and SpoolEvents are what waits in the spool; SpoolFull is
	// true while the spool refuses events.
	SpoolBytes, SpoolEvents int64
	SpoolFull               bool
}

// Stream exports the event stream's counters, read from fn once per
// scrape (fn is called concurrently and must be cheap).
func (m *Metrics) Stream(fn func() StreamStats) {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	m.reg.MustRegister(&streamCollector{fn: fn,
		descEvents:     d("xunjian_events_total", "Events spooled for Kafka, by topic (findings, alerts, samples).", "topic"),
		descSpooled:    d("xunjian_events_spooled_messages_total", "Inspected messages whose events were spooled (a message routed nowhere is not)."),
		descSuppressed: d("xunjian_alerts_suppressed_total", "Supervisor alerts dropped as repeats within the dedup window."),
		descDropped:    d("xunjian_events_dropped_total", "Events lost because the spool was full (stream.spool.on_full: serve)."),
		descHeld:       d("xunjian_events_held_total", "Messages refused because the spool was full (stream.spool.on_full: hold)."),
		descErrors:     d("xunjian_event_errors_total", "Events that could not be built or written to the spool."),
		descShipped:    d("xunjian_events_shipped_total", "Spool records acknowledged by Kafka."),
		descShipFail:   d("xunjian_ship_failures_total", "Batches Kafka did not acknowledge (each is retried)."),
		descSpoolBytes: d("xunjian_spool_bytes", "Unshipped bytes in the spool."),
		descSpoolEvts:  d("xunjian_spool_events", "Unshipped records in the spool."),
		descSpoolFull:  d("xunjian_spool_full", "1 while the spool is full and refuses events."),
	})
}

type streamCollector struct {
	fn func() StreamStats

	descEvents, descSpooled, descSuppressed, descDropped, descHeld, descErrors *prometheus.Desc
	descShipped, descShipFail, descSpoolBytes, descSpoolEvts, descSpoolFull    *prometheus.Desc
}

func (c *streamCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.descEvents, c.descSpooled, c.descSuppressed, c.descDropped, c.descHeld, c.descErrors, c.descShipped, c.descShipFail, c.descSpoolBytes, c.descSpoolEvts, c.descSpoolFull} {
		ch <- d
	}
}

func (c *streamCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.fn()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	counter(c.descEvents, s.Findings, "findings")
	counter(c.descEvents, s.Alerts, "alerts")
	counter(c.descEvents, s.Samples, "samples")
	counter(c.descSpooled, s.Spooled)
	counter(c.descSuppressed, s.Suppressed)
	counter(c.descDropped, s.Dropped)
	counter(c.descHeld, s.Held)
	counter(c.descErrors, s.Errors)
	counter(c.descShipped, s.Shipped)
	counter(c.descShipFail, s.ShipFailures)
	gauge(c.descSpoolBytes, s.SpoolBytes)
	gauge(c.descSpoolEvts, s.SpoolEvents)
	full := int64(0)
	if s.SpoolFull {
		full = 1
	}
	gauge(c.descSpoolFull, full)
}

// PolicyStats is what the policy reloader reports at each scrape.
type PolicyStats struct {
	// Reloads counts new versions swapped in, Refusals bundles refused
	// (did not compile, bad data, failing tests), FetchErrors failed reads
	// of the bundle source, Rollbacks rollbacks.
	Reloads, Refusals, FetchErrors, Rollbacks uint64
	// Refused is true while the latest bundle offered is refused.
	Refused bool
}

// PolicyReloads exports the policy reloader's counters, read from fn once
// per scrape.
func (m *Metrics) PolicyReloads(fn func() PolicyStats) {
	m.reg.MustRegister(&policyCollector{fn: fn,
		reloads: prometheus.NewDesc("xunjian_policy_reloads_total",
			"Policy reload attempts by result: swapped (a new version serves), refused (compile, data or test failure; the last good one serves), fetch_error, rollback.",
			[]string{"result"}, nil),
		refused: prometheus.NewDesc("xunjian_policy_refused", "1 while the latest bundle offered is refused and an older version serves.", nil, nil),
	})
}

type policyCollector struct {
	fn               func() PolicyStats
	reloads, refused *prometheus.Desc
}

func (c *policyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.reloads; ch <- c.refused }

func (c *policyCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.fn()
	for result, v := range map[string]uint64{"swapped": s.Reloads, "refused": s.Refusals, "fetch_error": s.FetchErrors, "rollback": s.Rollbacks} {
		ch <- prometheus.MustNewConstMetric(c.reloads, prometheus.CounterValue, float64(v), result)
	}
	refused := 0.0
	if s.Refused {
		refused = 1
	}
	ch <- prometheus.MustNewConstMetric(c.refused, prometheus.GaugeValue, refused)
}
