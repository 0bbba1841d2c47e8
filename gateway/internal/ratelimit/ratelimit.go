// Package ratelimit limits how many drafts each agent may send per second.
//
// Every (tenant, agent) pair has its own token bucket
// (golang.org/x/time/rate); requests without an agent id share one bucket per
// tenant. Buckets live in a bounded ristretto cache, so a stream of new agent
// ids costs bounded memory: a bucket evicted or expired is recreated full,
// which only ever errs towards allowing. An idle bucket is kept at least
// until it would have refilled, so expiry never hands out a fresh burst
// early.
//
// The buckets are kept in a gateway/keyed Map, which keeps new entries in a
// small per-shard pending map until ristretto (which applies Sets
// asynchronously) shows them, so two back-to-back requests of a new agent
// share one bucket.
package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"time"

	"golang.org/x/time/rate"

	"github.com/xunjian/xunjian/gateway/internal/keyed"
)

// DefaultMaxAgents is the bound on tracked agents when Config.MaxAgents is
// zero.
const DefaultMaxAgents = 100_000

// Bounds of the idle-bucket TTL.
const (
	minTTL = time.Minute
	maxTTL = 24 * time.Hour
)

// Config configures a Limiter. The zero value disables limiting.
type Config struct {
	// Rate is how many requests per second each agent may make on average.
	// Zero disables the limiter: Allow always allows.
	Rate float64
	// Burst is how many requests an agent may make at once. Zero means
	// DefaultBurst(Rate): twice Rate, rounded up (at least 1).
	Burst int
	// MaxAgents bounds how many (tenant, agent) buckets are tracked. Zero
	// means DefaultMaxAgents (100 000).
	MaxAgents int64
}

// DefaultBurst is the burst of a limiter whose Burst is zero: twice rate,
// rounded up, at least 1 (and at most math.MaxInt32).
func DefaultBurst(rate float64) int {
	return max(int(min(math.Ceil(2*rate), math.MaxInt32)), 1)
}

// Rates are the gateway's two rate limits, as the `limits` section of its
// configuration file gives them (agent_rate, agent_burst, credential_rate,
// credential_burst, beside the section's other limits): one Limiter per
// agent, and one per credential that does not pin an agent.
type Rates struct {
	// AgentRate is each agent's sustained request rate per second; zero
	// (the default) means no limit.
	AgentRate float64 `yaml:"agent_rate"`
	// AgentBurst is each agent's burst; zero means DefaultBurst(AgentRate),
	// twice the rate.
	AgentBurst int `yaml:"agent_burst"`
	// CredentialRate and CredentialBurst limit a credential that does not
	// pin an agent (a shared integration key) as a whole, whatever agent ids
	// its requests name, so new agent ids do not multiply its allowance.
	// A zero CredentialRate means the agent rate and burst: raise them for a
	// key that really carries many agents. A zero CredentialBurst with a
	// rate of its own means DefaultBurst(CredentialRate).
	CredentialRate  float64 `yaml:"credential_rate"`
	CredentialBurst int     `yaml:"credential_burst"`
}

// Defaults fills the zero fields of r with their defaults: the bursts, and
// the credential limit from the agent limit.
func (r *Rates) Defaults() {
	if r.AgentRate > 0 && r.AgentBurst == 0 {
		r.AgentBurst = DefaultBurst(r.AgentRate)
	}
	if r.CredentialRate == 0 {
		r.CredentialRate = r.AgentRate
		if r.CredentialBurst == 0 {
			r.CredentialBurst = r.AgentBurst
		}
	}
	if r.CredentialRate > 0 && r.CredentialBurst == 0 {
		r.CredentialBurst = DefaultBurst(r.CredentialRate)
	}
}

// Validate checks r as a configuration file gives it, naming each fault by
// its YAML path under path (e.g. "limits.agent_rate: must not be
// negative"), all of them joined.
func (r Rates) Validate(path string) error {
	var errs []error
	for _, f := range []struct {
		field string
		n     float64
	}{
		{"agent_rate", r.AgentRate}, {"agent_burst", float64(r.AgentBurst)},
		{"credential_rate", r.CredentialRate}, {"credential_burst", float64(r.CredentialBurst)},
	} {
		if f.n < 0 {
			errs = append(errs, fmt.Errorf("%s.%s: must not be negative", path, f.field))
		}
	}
	return errors.Join(errs...)
}

// Agent returns the Config of the per-agent Limiter.
func (r Rates) Agent() Config { return Config{Rate: r.AgentRate, Burst: r.AgentBurst} }

// Credential returns the Config of the Limiter of credentials that pin no
// agent.
func (r Rates) Credential() Config { return Config{Rate: r.CredentialRate, Burst: r.CredentialBurst} }

// Limiter decides whether an agent's request may proceed.
//
// A Limiter is safe for concurrent use. The zero of Config gives a Limiter
// that allows everything and holds no resources. Close releases the cache's
// goroutines; after Close, Allow allows everything.
type Limiter struct {
	limit rate.Limit
	burst int
	ttl   time.Duration
	// cache holds each (tenant, agent)'s bucket; nil when disabled. A
	// *rate.Limiter is safe for concurrent use on its own, so Allow takes
	// tokens outside the cache's shard lock.
	cache *keyed.Map[*rate.Limiter]
}

// New returns a Limiter configured by cfg.
func New(cfg Config) (*Limiter, error) {
	switch {
	case cfg.Rate < 0 || math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0):
		return nil, fmt.Errorf("ratelimit: rate %v is not a non-negative number", cfg.Rate)
	case cfg.Burst < 0:
		return nil, fmt.Errorf("ratelimit: burst %d is negative", cfg.Burst)
	case cfg.MaxAgents < 0:
		return nil, fmt.Errorf("ratelimit: max_agents %d is negative", cfg.MaxAgents)
	}
	if cfg.Rate == 0 {
		return &Limiter{}, nil
	}
	if cfg.Burst == 0 {
		cfg.Burst = DefaultBurst(cfg.Rate)
	}
	if cfg.MaxAgents == 0 {
		cfg.MaxAgents = DefaultMaxAgents
	}
	// A bucket left alone for burst/rate is full again, the same as a new
	// one; keep idle buckets at least twice that (keyed refreshes an
	// entry's TTL only in steps of TTL/16, so it may expire up to TTL/16
	// early).
	refill := float64(cfg.Burst) / cfg.Rate
	ttl := maxTTL
	if refill < maxTTL.Seconds()/2 {
		ttl = min(max(time.Duration(2*refill*float64(time.Second)), minTTL), maxTTL)
	}
	cache, err := keyed.New[*rate.Limiter](keyed.Config{MaxEntries: cfg.MaxAgents, TTL: ttl})
	if err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	return &Limiter{limit: rate.Limit(cfg.Rate), burst: cfg.Burst, ttl: ttl, cache: cache}, nil
}

// Allow reports whether agent of tenant may make one request at now, and
// if so takes a token from its bucket. An empty agent shares the tenant's
// bucket for unidentified agents.
func (l *Limiter) Allow(tenant, agent string, now time.Time) bool {
	if l.cache == nil {
		return true
	}
	var lim *rate.Limiter
	// The cache's TTL runs on the wall clock, not on the caller's now.
	if !l.cache.Update(tenant, agent, func(b **rate.Limiter, created bool) {
		if created {
			*b = rate.NewLimiter(l.limit, l.burst)
		}
		lim = *b
	}) {
		return true // closed
	}
	return lim.AllowN(now, 1)
}

// Close releases the cache's goroutines. It is idempotent and waits for
// calls in progress; afterwards Allow allows everything.
func (l *Limiter) Close() {
	if l.cache != nil {
		l.cache.Close()
	}
}
