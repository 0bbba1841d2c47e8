// Package metrics holds the gateway's Prometheus metrics in a registry of
// its own (no global state), and serves them on fasthttp.
//
// Labels carry only names from the configuration and the taxonomy (route,
// action, detector, kind): never text, ids or credentials.
package metrics

import (
	"crypto/x509"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/xunjian/xunjian/internal/certfiles"
)

// Metrics are the gateway's metrics. The zero value is not usable; call New.
// All methods are safe for concurrent use.
type Metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.HistogramVec
	findings   *prometheus.CounterVec
	upstream   *prometheus.CounterVec
	failures   *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	policyInfo *prometheus.GaugeVec
	shadow     *prometheus.CounterVec
	invalid    *prometheus.CounterVec
	failOpen   *prometheus.CounterVec
	opinions   *prometheus.CounterVec
	shared     *prometheus.HistogramVec
	fallbacks  *prometheus.CounterVec
	certs      *certfiles.Expiry
	handler    fasthttp.RequestHandler
}

// New registers the gateway's metrics, plus Go runtime and process
// metrics, in a new registry.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "xunjian_request_duration_seconds",
		Help:    "Time from request read to reply written, by route and action (action is none for errors).",
		Buckets: []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1, 5},
	}, []string{"route", "action"})
	m.findings = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xunjian_findings_total", Help: "Findings by detector and kind.",
	}, []string{"detector", "kind"})
	m.upstream = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xunjian_upstream_errors_total", Help: "Upstream failures by route and kind (timeout, unavailable).",
	}, []string{"route", "kind"})
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xunjian_inspection_failures_total", Help: "Inspections that errored or ran past the deadline, by fail mode applied (fail_open, fail_closed).",
	}, []string{"mode"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xunjian_rejected_requests_total", Help: "Requests refused before inspection, by reason (auth, rate_limit, bad_request, too_large, not_found).",
	}, []string{"reason"})
	m.policyInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "xunjian_policy_info", Help: "1 for the policy revision in force.",
	}, []string{"revision"})
	m.shadow = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xunjian_shadow_fires_total", Help: "Would-be reasons of shadow rules (on trial; they never changed an action), by rule and would-be action.",
	}, []string{"rule", "action"})
	m.invalid = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xunjian_policy_invalid_decisions_total", Help: "Decisions refused at run time because their output broke the decision schema, by rule (the tenant's fail mode applied).",
	}, []string{"rule"})
	m.failOpen = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xunjian_fail_open_total", Help: "Drafts of fail-open tenants whose policy could not decide, by outcome: released (nothing but private data found, masked) or held (other findings).",
	}, []string{"outcome"})
	m.opinions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xunjian_second_opinions_total", Help: "Second opinions asked, by tenant mode (shadow, enforce) and result (ok, harmful, or why there was none: timeout, busy, unavailable, bad_answer, closed, canceled, error).",
	}, []string{"mode", "result"})
	m.shared = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "xunjian_shared_state_call_seconds",
		Help:    "Calls to the state the gateways share (Redis), by operation (begin, commit, read, ack, lifecycle, probe) and result (ok, conflict, error, open: refused at once by the open breaker).",
		Buckets: []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3},
	}, []string{"op", "result"})
	m.fallbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xunjian_shared_state_fallbacks_total", Help: "Requests the shared state failed, by the mode applied: degrade (served on this gateway's own state, flagged degraded) or fail_closed (answered 503 state_unavailable).",
	}, []string{"mode"})
	m.certs = certfiles.NewExpiry()
	m.reg.MustRegister(m.requests, m.findings, m.upstream, m.failures, m.rejected, m.policyInfo, m.shadow, m.invalid, m.failOpen, m.opinions, m.shared, m.fallbacks, m.certs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	return m
}

// Registry returns the registry, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Request records one request's latency.
func (m *Metrics) Request(route, action string, d time.Duration) {
	m.requests.WithLabelValues(route, action).Observe(d.Seconds())
}

// Finding counts one finding.
func (m *Metrics) Finding(detector, kind string) { m.findings.WithLabelValues(detector, kind).Inc() }

// CacheStats exports a cache's own hit and miss counters, read at each
// scrape: fn is called concurrently and must be cheap.
func (m *Metrics) CacheStats(cache string, fn func() (hits, misses uint64)) {
	for _, result := range []string{"hit", "miss"} {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "xunjian_cache_lookups_total",
			Help:        "Look-ups in the gateway's caches (findings, decision); hit rate = hit / (hit + miss).",
			ConstLabels: prometheus.Labels{"cache": cache, "result": result},
		}, func() float64 {
			h, mi := fn()
			if result == "hit" {
				return float64(h)
			}
			return float64(mi)
		}))
	}
}

// ShadowFire counts one would-be reason of a shadow rule. rule comes from
// the policy (a name its authors chose), never from message text.
func (m *Metrics) ShadowFire(rule, action string) { m.shadow.WithLabelValues(rule, action).Inc() }

// SecondOpinion counts a second opinion asked in mode with its result.
func (m *Metrics) SecondOpinion(mode, result string) { m.opinions.WithLabelValues(mode, result).Inc() }

// UpstreamError counts an upstream failure on route of kind timeout or unavailable.
func (m *Metrics) UpstreamError(route, kind string) { m.upstream.WithLabelValues(route, kind).Inc() }

// InspectionFailure counts an inspection that failed and the mode applied.
func (m *Metrics) InspectionFailure(mode string) { m.failures.WithLabelValues(mode).Inc() }

// InvalidDecision counts a decision refused at run time for breaking the
// decision schema; rule is the rule id or package the error names.
func (m *Metrics) InvalidDecision(rule string) { m.invalid.WithLabelValues(rule).Inc() }

// FailOpenReleased counts a fail-open release: the policy could not decide
// and the detectors found nothing but private data, which was masked.
func (m *Metrics) FailOpenReleased() { m.failOpen.WithLabelValues("released").Inc() }

// FailOpenHeld counts a draft of a fail-open tenant that was held anyway,
// because its detectors found more than private data.
func (m *Metrics) FailOpenHeld() { m.failOpen.WithLabelValues("held").Inc() }

// SharedStateCall records one call to the shared state: its operation,
// result and duration.
func (m *Metrics) SharedStateCall(op, result string, d time.Duration) {
	m.shared.WithLabelValues(op, result).Observe(d.Seconds())
}

// SharedStateFallback counts a request the shared state failed, by the
// mode applied (degrade, fail_closed).
func (m *Metrics) SharedStateFallback(mode string) { m.fallbacks.WithLabelValues(mode).Inc() }

// SharedStateUp exports whether the shared state's server answers, read at
// each scrape: xunjian_shared_state_up, 1 or 0.
func (m *Metrics) SharedStateUp(up func() bool) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "xunjian_shared_state_up", Help: "1 while the state the gateways share (Redis) answers, 0 from a failed call until it answers again.",
	}, func() float64 {
		if up() {
			return 1
		}
		return 0
	}))
}

// CertExpiry exports the not-after time of the certificate use (agent,
// admin, kafka_client) presents, read from cert at each scrape (nil: no
// series): xunjian_tls_certificate_not_after_timestamp_seconds{use}.
func (m *Metrics) CertExpiry(use string, cert func() *x509.Certificate) { m.certs.Add(use, cert) }

// Rejected counts a request refused before inspection.
func (m *Metrics) Rejected(reason string) { m.rejected.WithLabelValues(reason).Inc() }

// Policy records the revision in force.
func (m *Metrics) Policy(revision string) {
	m.policyInfo.Reset()
	m.policyInfo.WithLabelValues(revision).Set(1)
}

// Serve writes the metrics in the Prometheus text format.
func (m *Metrics) Serve(ctx *fasthttp.RequestCtx) { m.handler(ctx) }
