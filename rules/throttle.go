package rules

import (
	"time"

	"github.com/open-policy-agent/opa/v1/topdown"
)

// throttle is a query tracer that keeps an evaluation under a share of one
// CPU: after each slice of busy time it sleeps long enough that busy time
// stays at most share of the wall time. Rego evaluation never yields on its
// own, so without it a bundle's slow tests, vetted during a hot reload,
// would take the cores from the live traffic the current version serves.
// It is used by one evaluation at a time (tests run one by one when
// throttled).
type throttle struct {
	share float64
	// check is how many events pass between two looks at the clock: the
	// clock costs more than an event.
	check, n int
	slice    time.Duration
	start    time.Time
	next     topdown.QueryTracer // coverage, when asked for too
}

// throttleSlice is the busy time between two pauses: short enough that a
// live request waits at most about this long for the CPU, long enough that
// the pauses (each of which, on a saturated machine, ends with a wait for
// a CPU) do not stretch a vet without end. Measured on 2 cores: 1 ms let
// live p99 reach 2.5× its baseline while a slow bundle was vetted, 200 µs
// tripled a reload's time under load; 500 µs keeps both in bounds.
const throttleSlice = 500 * time.Microsecond

func newThrottle(share float64, next topdown.QueryTracer) *throttle {
	return &throttle{share: share, check: 128, slice: throttleSlice, start: time.Now(), next: next}
}

// Enabled implements topdown.QueryTracer.
func (t *throttle) Enabled() bool { return true }

// Config implements topdown.QueryTracer.
func (t *throttle) Config() topdown.TraceConfig {
	if t.next != nil {
		return t.next.Config()
	}
	return topdown.TraceConfig{}
}

// TraceEvent implements topdown.QueryTracer: it counts events, and every
// slice of busy time pauses for busy×(1/share−1).
func (t *throttle) TraceEvent(ev topdown.Event) {
	if t.next != nil {
		t.next.TraceEvent(ev)
	}
	if t.n++; t.n < t.check {
		return
	}
	t.n = 0
	busy := time.Since(t.start)
	if busy < t.slice {
		return
	}
	time.Sleep(time.Duration(float64(busy) * (1/t.share - 1)))
	t.start = time.Now()
}
