// Package alerting decides which supervisor alerts are sent (to the
// xunjian.alerts topic) and which are repeats to drop: alerts are
// deduplicated per (tenant, conversation, kind) within a time window, so a
// supervisor sees one alert per problem and conversation, not one per
// message, while an escalation in level is never hidden.
//
// The package is pure logic: no Kafka, no I/O, no goroutines. Time is passed
// in by the caller, which keeps decisions reproducible in tests.
package alerting

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/stream/internal/lru"
)

// Defaults for a zero Config.
const (
	DefaultWindow  = 5 * time.Minute
	DefaultMaxKeys = 100_000
)

// Config configures a Dedup; its Window is the `stream.alerts` section of
// the gateway's configuration file. Its zero value means the documented
// defaults.
type Config struct {
	// Window is how long after an admitted alert repeats of the same
	// (tenant, conversation, kind) at the same or a lower level are
	// suppressed. Zero (or, for New, negative): DefaultWindow (5m).
	Window duration.Duration `yaml:"window"`
	// MaxKeys bounds how many (tenant, conversation, kind) keys are
	// remembered; beyond it the least recently seen key is forgotten (its
	// next alert is simply admitted). Zero or negative: DefaultMaxKeys.
	// Not settable from the configuration file.
	MaxKeys int `yaml:"-"`
}

// Defaults fills the zero fields of c with their defaults.
func (c *Config) Defaults() {
	if c.Window == 0 {
		c.Window = duration.Duration(DefaultWindow)
	}
	if c.MaxKeys == 0 {
		c.MaxKeys = DefaultMaxKeys
	}
}

// Validate checks c as a configuration file gives it, naming the fault by
// its YAML path under path (e.g. "stream.alerts.window: must not be
// negative").
func (c Config) Validate(path string) error {
	if c.Window < 0 {
		return fmt.Errorf("%s.window: must not be negative", path)
	}
	return nil
}

// Dedup deduplicates alerts. It is safe for concurrent use: calls are
// serialized by one mutex and each runs in O(1). Memory is bounded by
// Config.MaxKeys entries (each holds copies of its key strings).
type Dedup struct {
	window time.Duration

	mu   sync.Mutex
	keys *lru.LRU[key, state]
}

type key struct{ tenant, conversation, kind string }

// state is what is remembered per key: the last admitted alert and how many
// repeats were dropped since.
type state struct {
	admitted   time.Time
	level      int
	suppressed int
}

// New returns a Dedup configured by cfg (zero fields take defaults).
func New(cfg Config) *Dedup {
	// Negative fields take the default, as zero ones do.
	cfg.Window, cfg.MaxKeys = max(cfg.Window, 0), max(cfg.MaxKeys, 0)
	cfg.Defaults()
	return &Dedup{window: cfg.Window.D(), keys: lru.New[key, state](cfg.MaxKeys)}
}

// Admit reports whether an alert of kind in (tenant, conversation) at now
// should go to supervisors.
//
// The first alert of a key is admitted, and so is the first one at least
// Window after the last admitted one. A repeat within Window of the last
// admitted alert is suppressed unless its level is higher than the admitted
// one (info < low < medium < high < critical): an escalation is admitted and
// restarts the window at its level. Levels are matched case-insensitively;
// an unknown level ranks below info, so it never escalates. A time before
// the last admitted one counts as within the window.
//
// suppressed counts the repeats dropped since the last admitted alert: when
// ok is true it is the number dropped before this one (so the alert can say
// "and 3 more") and the count restarts at zero; when ok is false it is the
// count including this alert.
//
// The key strings are copied when first remembered, so callers may pass
// strings backed by reused buffers.
func (d *Dedup) Admit(tenant, conversation, kind, level string, now time.Time) (ok bool, suppressed int) {
	rank := Rank(level)
	k := key{tenant, conversation, kind}

	d.mu.Lock()
	defer d.mu.Unlock()
	st, found := d.keys.Get(k)
	if !found {
		k = key{strings.Clone(tenant), strings.Clone(conversation), strings.Clone(kind)}
		d.keys.Add(k, state{admitted: now, level: rank})
		return true, 0
	}
	if now.Sub(st.admitted) >= d.window || rank > st.level {
		n := st.suppressed
		*st = state{admitted: now, level: rank}
		return true, n
	}
	st.suppressed++
	return false, st.suppressed
}

// Window returns how long after an admitted alert its repeats are
// suppressed: for a store several gateways share, which keeps the same
// rules (Admit's).
func (d *Dedup) Window() time.Duration { return d.window }

// Len reports how many keys are remembered (at most Config.MaxKeys).
func (d *Dedup) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.keys.Len()
}

// Rank orders alert levels as Admit does: info 0, low 1, medium 2, high 3,
// critical 4, matched case-insensitively; an unknown level ranks lowest
// (-1), so it never escalates.
func Rank(level string) int {
	for i, l := range [...]string{"info", "low", "medium", "high", "critical"} {
		if strings.EqualFold(level, l) {
			return i
		}
	}
	return -1
}
