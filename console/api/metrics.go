package api

import (
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the API's Prometheus metrics.
type metrics struct {
	requests    *prometheus.CounterVec
	transitions *prometheus.CounterVec
}

// newMetrics registers the API's metrics in reg, the event streams' read
// from hub.
func newMetrics(reg prometheus.Registerer, hub *Hub) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xunjian_console_http_requests_total",
			Help: "Requests to the console, by route (the path pattern; ui for the web console, none for no route) and status code.",
		}, []string{"route", "code"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xunjian_console_alert_transitions_total",
			Help: "Alert transitions asked, by target state and result (ok, conflict, invalid, not_found, error).",
		}, []string{"to", "result"}),
	}
	clients := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "xunjian_console_sse_clients",
		Help: "Open event streams (GET /api/stream).",
	}, func() float64 { return float64(hub.Clients()) })
	dropped := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "xunjian_console_sse_dropped_total",
		Help: "Event streams dropped for falling too far behind.",
	}, func() float64 { return float64(hub.Dropped()) })
	for _, c := range []prometheus.Collector{m.requests, m.transitions, clients, dropped} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("api: metrics: %w", err)
		}
	}
	return m, nil
}

// request counts a request of route answered with status (0: nothing
// written, which net/http answers 200).
func (m *metrics) request(route string, status int) {
	if status == 0 {
		status = 200
	}
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
}

// transition counts a transition to to with result; to is one of the two
// states (the handler checked it) or, on a bad request, not counted.
func (m *metrics) transition(to, result string) {
	m.transitions.WithLabelValues(to, result).Inc()
}
