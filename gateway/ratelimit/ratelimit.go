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
// As in gateway/convstore, new buckets are kept in a small per-shard pending
// map until ristretto (which applies Sets asynchronously) shows them, so two
// back-to-back requests of a new agent share one bucket.
package ratelimit

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"golang.org/x/time/rate"
)

// DefaultMaxAgents is the bound on tracked agents when Config.MaxAgents is
// zero.
const DefaultMaxAgents = 100_000

const (
	numShards    = 256
	pendingGrace = time.Second // see convstore: how long an unapplied Set is trusted
	minSweep     = 64
	refreshDiv   = 16 // TTL refreshed when that extends it by more than TTL/refreshDiv
	minTTL       = time.Minute
	maxTTL       = 24 * time.Hour
)

// Config configures a Limiter. The zero value disables limiting.
type Config struct {
	// Rate is how many requests per second each agent may make on average.
	// Zero disables the limiter: Allow always allows.
	Rate float64
	// Burst is how many requests an agent may make at once. Zero means
	// twice Rate, rounded up (at least 1).
	Burst int
	// MaxAgents bounds how many (tenant, agent) buckets are tracked. Zero
	// means DefaultMaxAgents (100 000).
	MaxAgents int64
}

// Limiter decides whether an agent's request may proceed.
//
// A Limiter is safe for concurrent use. The zero of Config gives a Limiter
// that allows everything and holds no resources. Close releases the cache's
// goroutines; after Close, Allow allows everything.
type Limiter struct {
	limit  rate.Limit
	burst  int
	ttl    time.Duration
	cache  *ristretto.Cache[uint64, *bucket] // nil when disabled
	seed   maphash.Seed
	shards [numShards]shard
}

type shard struct {
	mu      sync.Mutex // guards pending, sweepAt, closed, and the expires/setAt of this shard's buckets
	pending map[uint64]*bucket
	sweepAt int
	closed  bool
	_       [32]byte // keep neighbouring mutexes off one cache line
}

// bucket is the token bucket of one (tenant, agent).
type bucket struct {
	tenant, agent  string
	lim            *rate.Limiter // safe for concurrent use on its own
	expires, setAt time.Time     // guarded by the shard mutex
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
		cfg.Burst = int(min(math.Ceil(2*cfg.Rate), math.MaxInt32))
		cfg.Burst = max(cfg.Burst, 1)
	}
	if cfg.MaxAgents == 0 {
		cfg.MaxAgents = DefaultMaxAgents
	}
	// A bucket left alone for burst/rate is full again, the same as a new
	// one; keep idle buckets at least twice that (see refreshDiv).
	refill := float64(cfg.Burst) / cfg.Rate
	ttl := maxTTL
	if refill < maxTTL.Seconds()/2 {
		ttl = min(max(time.Duration(2*refill*float64(time.Second)), minTTL), maxTTL)
	}
	cache, err := ristretto.NewCache(&ristretto.Config[uint64, *bucket]{
		NumCounters:        10 * cfg.MaxAgents,
		MaxCost:            cfg.MaxAgents,
		IgnoreInternalCost: true,
		BufferItems:        64,
		KeyToHash:          func(k uint64) (uint64, uint64) { return k, 0 },
	})
	if err != nil {
		return nil, fmt.Errorf("ratelimit: creating cache: %w", err)
	}
	l := &Limiter{limit: rate.Limit(cfg.Rate), burst: cfg.Burst, ttl: ttl, cache: cache, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].pending = make(map[uint64]*bucket)
		l.shards[i].sweepAt = minSweep
	}
	return l, nil
}

// Allow reports whether agent of tenant may make one request at now, and
// if so takes a token from its bucket. An empty agent shares the tenant's
// bucket for unidentified agents.
func (l *Limiter) Allow(tenant, agent string, now time.Time) bool {
	if l.cache == nil {
		return true
	}
	b := l.bucket(tenant, agent)
	if b == nil {
		return true // closed
	}
	return b.lim.AllowN(now, 1)
}

// bucket returns the bucket of (tenant, agent), creating it if needed.
func (l *Limiter) bucket(tenant, agent string) *bucket {
	k := l.key(tenant, agent)
	sh := &l.shards[k>>56]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		return nil
	}
	now := time.Now() // wall clock for ristretto's TTL, not the caller's now
	b := l.lookup(sh, k, tenant, agent, now)
	if b == nil {
		b = &bucket{tenant: strings.Clone(tenant), agent: strings.Clone(agent), lim: rate.NewLimiter(l.limit, l.burst)}
	}
	if now.Add(l.ttl).Sub(b.expires) > l.ttl/refreshDiv {
		l.set(sh, k, b, now)
	}
	return b
}

// key hashes (tenant, agent), length-prefixed, with a per-process seed.
func (l *Limiter) key(tenant, agent string) uint64 {
	var h maphash.Hash
	h.SetSeed(l.seed)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(tenant)))
	h.Write(n[:])
	h.WriteString(tenant)
	h.WriteString(agent)
	return h.Sum64()
}

// set stores b (refreshing its TTL) and remembers it as pending. Called with
// sh.mu held.
func (l *Limiter) set(sh *shard, k uint64, b *bucket, now time.Time) {
	b.setAt = now
	if l.cache.SetWithTTL(k, b, 1, l.ttl) {
		b.expires = now.Add(l.ttl)
	} else {
		// Dropped under contention: a zero expiry makes the next request
		// retry, and the pending map keeps the bucket until then.
		b.expires = time.Time{}
	}
	if len(sh.pending) >= sh.sweepAt {
		for pk, pb := range sh.pending {
			if !l.fresh(pb, now) {
				delete(sh.pending, pk)
			}
		}
		sh.sweepAt = max(minSweep, 2*len(sh.pending))
	}
	sh.pending[k] = b
}

func (l *Limiter) fresh(b *bucket, now time.Time) bool {
	return now.Sub(b.setAt) < pendingGrace && (b.expires.IsZero() || now.Before(b.expires))
}

// lookup finds the bucket of (tenant, agent). Called with sh.mu held.
func (l *Limiter) lookup(sh *shard, k uint64, tenant, agent string, now time.Time) *bucket {
	r, ok := l.cache.Get(k)
	if len(sh.pending) > 0 {
		if p, has := sh.pending[k]; has {
			switch {
			case ok && r == p:
				delete(sh.pending, k)
			case l.fresh(p, now) && p.tenant == tenant && p.agent == agent:
				return p
			case !l.fresh(p, now):
				delete(sh.pending, k)
			}
		}
	}
	if ok && r.tenant == tenant && r.agent == agent {
		return r
	}
	return nil // absent, or a hash collision the caller's Set replaces
}

// Close releases the cache's goroutines. It is idempotent and waits for
// calls in progress; afterwards Allow allows everything.
func (l *Limiter) Close() {
	if l.cache == nil {
		return
	}
	for i := range l.shards {
		l.shards[i].mu.Lock()
	}
	defer func() {
		for i := range l.shards {
			l.shards[i].mu.Unlock()
		}
	}()
	if l.shards[0].closed {
		return
	}
	for i := range l.shards {
		l.shards[i].closed = true
		l.shards[i].pending = nil
	}
	// Every other call into the cache holds a shard lock, so none races
	// with Close (ristretto's Set may panic if it does).
	l.cache.Close()
}
