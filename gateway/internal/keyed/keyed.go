// Package keyed provides a bounded, expiring, tenant-keyed map of mutable
// entries, for per-(tenant, id) state that the gateway keeps between
// requests (conversation context, rate-limit buckets).
//
// The map is bounded: entries live in a ristretto cache whose TinyLFU
// admission policy evicts the least useful ones, and an entry left idle for
// the configured TTL expires, so an unbounded stream of ids costs a bounded
// amount of memory. Callers must therefore treat a missing entry as "start
// afresh", never as an error.
//
// # Consistency
//
// Update is an atomic read-modify-write per (tenant, id): callers for the
// same key are serialized by one of 256 shard mutexes and each sees the
// result of the previous one. Different keys proceed in parallel, up to
// shard collisions.
//
// ristretto applies new keys asynchronously (a Set is queued and admitted
// later by a background goroutine, and may be dropped or rejected), so the
// map does not rely on a Set being visible at once: it keeps pointers to
// entries, mutates them in place under the shard lock, and remembers freshly
// set entries in a small per-shard "pending" map until ristretto shows them
// (or a grace period of at most a second passes). The trade-off: if
// ristretto drops or rejects an entry (full buffers, or a full cache whose
// admission policy prefers the entries it has), the entry is forgotten after
// the grace period, exactly as if it had been evicted; the next Update
// starts it afresh. An occasional loss under overload is thus possible,
// while a lost update between two close calls on a new key is not.
//
// An entry's TTL is extended only when that moves its expiry by more than
// TTL/16, so a busy entry costs one ristretto Set per TTL/16 instead of one
// per Update. An entry therefore expires between TTL×15/16 and TTL after
// its last Update (Get does not extend it).
//
// Keys are hashed to 64 bits with a per-process random seed (so colliding
// keys cannot be precomputed); each entry keeps its tenant and id and is
// checked against them on lookup, so a hash collision can only cost a miss
// (the newer key replaces the older), never hand one key's entry to another.
package keyed

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/ristretto/v2"
)

// Defaults for a zero Config.
const (
	DefaultMaxEntries = 100_000
	DefaultTTL        = time.Hour
)

const (
	numShards = 256
	// pendingGrace is how long a freshly set entry is trusted while
	// ristretto has not applied it yet (capped at the TTL). ristretto
	// normally applies a Set within microseconds; past this, a missing
	// entry was dropped, rejected or evicted.
	pendingGrace = time.Second
	// minSweep is the pending-map size below which stale pending entries
	// are left for lookups to remove.
	minSweep = 64
	// refreshDiv: an entry's TTL is extended only when that adds more than
	// TTL/refreshDiv (see the package comment).
	refreshDiv = 16
)

// Config configures a Map. The zero value means the defaults.
type Config struct {
	// MaxEntries bounds how many entries the map keeps; past it, ristretto
	// evicts the least frequently used. Zero means DefaultMaxEntries
	// (100 000).
	MaxEntries int64
	// TTL is how long an entry is kept after its last Update (see the
	// package comment for the refresh granularity). Zero means DefaultTTL
	// (1 h).
	TTL time.Duration
}

// Map holds one V per (tenant, id).
//
// A Map is safe for concurrent use. Calls for one key are serialized; the
// callbacks given to Update and Get run under a shard lock shared with other
// keys. Close releases the cache's background goroutines; afterwards the Map
// keeps nothing.
type Map[V any] struct {
	cache  *ristretto.Cache[uint64, *entry[V]]
	seed   maphash.Seed
	ttl    time.Duration
	grace  time.Duration
	shards [numShards]shard[V]
}

// shard serializes the keys whose hashes fall into it.
type shard[V any] struct {
	mu sync.Mutex // guards pending, sweepAt, closed and every entry of this shard
	// pending holds entries set in ristretto recently, which a Get on the
	// cache may not show yet.
	pending map[uint64]*entry[V]
	sweepAt int
	closed  bool
	_       [32]byte // pad to 64 bytes: keep neighbouring mutexes off one cache line
}

// entry is one key's value. All fields are guarded by its shard's mutex.
type entry[V any] struct {
	tenant, id string
	val        V
	// expires is when ristretto expires the entry, per our last Set; zero
	// if that Set was dropped.
	expires time.Time
	// setAt is when the entry was last set in ristretto.
	setAt time.Time
	// deleted marks an entry removed by Delete, which ristretto may still
	// show briefly while the deletion is queued.
	deleted bool
}

// New returns an empty Map configured by cfg.
func New[V any](cfg Config) (*Map[V], error) {
	if cfg.MaxEntries < 0 {
		return nil, fmt.Errorf("keyed: max entries %d is negative", cfg.MaxEntries)
	}
	if cfg.TTL < 0 {
		return nil, fmt.Errorf("keyed: ttl %s is negative", cfg.TTL)
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	cache, err := ristretto.NewCache(&ristretto.Config[uint64, *entry[V]]{
		// ristretto recommends 10 counters per item kept.
		NumCounters: 10 * cfg.MaxEntries,
		// Every entry costs 1, so MaxCost is a count of entries.
		MaxCost:            cfg.MaxEntries,
		IgnoreInternalCost: true,
		BufferItems:        64,
		// Keys are already 64-bit hashes; collisions are detected by
		// comparing the tenant and id kept in the entry.
		KeyToHash: func(k uint64) (uint64, uint64) { return k, 0 },
	})
	if err != nil {
		return nil, fmt.Errorf("keyed: creating cache: %w", err)
	}
	m := &Map[V]{cache: cache, seed: maphash.MakeSeed(), ttl: cfg.TTL, grace: min(pendingGrace, cfg.TTL)}
	for i := range m.shards {
		m.shards[i].pending = make(map[uint64]*entry[V])
		m.shards[i].sweepAt = minSweep
	}
	return m, nil
}

// key hashes (tenant, id) unambiguously (length-prefixed) with a
// per-process random seed.
func (m *Map[V]) key(tenant, id string) uint64 {
	var h maphash.Hash
	h.SetSeed(m.seed)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(tenant)))
	h.Write(n[:])
	h.WriteString(tenant)
	h.WriteString(id)
	return h.Sum64()
}

func (m *Map[V]) shard(k uint64) *shard[V] { return &m.shards[k>>56] }

// Update runs fn on the entry (tenant, id), creating it with a zero V if
// absent (created reports which), and keeps the result. Calls for the same
// key are serialized, so read-modify-write is atomic. fn runs under a lock
// shared with other keys: it must be quick, must not block, must not call
// the Map, and must not keep v after it returns (copying values out of *v is
// fine). tenant and id may be views of reused buffers: the Map keeps its own
// copies.
//
// After Close, Update does not run fn and returns false; otherwise it
// returns true.
func (m *Map[V]) Update(tenant, id string, fn func(v *V, created bool)) bool {
	return m.update(m.key(tenant, id), tenant, id, fn)
}

// update is Update with the key's hash k given (tests use it to make keys
// collide).
func (m *Map[V]) update(k uint64, tenant, id string, fn func(v *V, created bool)) bool {
	sh := m.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		return false
	}
	now := time.Now() // wall clock: ristretto's TTL runs on it
	e := m.lookup(sh, k, tenant, id, now)
	created := e == nil
	if created {
		e = &entry[V]{tenant: strings.Clone(tenant), id: strings.Clone(id)}
	}
	fn(&e.val, created)
	if now.Add(m.ttl).Sub(e.expires) > m.ttl/refreshDiv {
		m.set(sh, k, e, now)
	}
	return true
}

// set stores e in ristretto (refreshing its TTL) and remembers it as
// pending until ristretto shows it. Called with sh.mu held.
func (m *Map[V]) set(sh *shard[V], k uint64, e *entry[V], now time.Time) {
	e.setAt = now
	if m.cache.SetWithTTL(k, e, 1, m.ttl) {
		e.expires = now.Add(m.ttl)
	} else {
		// Dropped (contended buffers). A zero expiry makes the next Update
		// retry, and the pending map keeps the entry until then.
		e.expires = time.Time{}
	}
	if len(sh.pending) >= sh.sweepAt {
		for pk, pe := range sh.pending {
			if !m.fresh(pe, now) {
				delete(sh.pending, pk)
			}
		}
		sh.sweepAt = max(minSweep, 2*len(sh.pending))
	}
	sh.pending[k] = e
}

// fresh reports whether a pending entry may still be trusted at now.
func (m *Map[V]) fresh(e *entry[V], now time.Time) bool {
	return !e.deleted && now.Sub(e.setAt) < m.grace && (e.expires.IsZero() || now.Before(e.expires))
}

// lookup finds the live entry for (tenant, id). Called with sh.mu held.
// A pending entry is preferred: it is the one most recently set. A zero now
// means the current time, read only if needed (reading the clock is a
// noticeable part of a lookup on some virtual machines).
func (m *Map[V]) lookup(sh *shard[V], k uint64, tenant, id string, now time.Time) *entry[V] {
	r, ok := m.cache.Get(k) // also feeds ristretto's frequency sketch
	if len(sh.pending) > 0 {
		if p, has := sh.pending[k]; has {
			if now.IsZero() {
				now = time.Now()
			}
			switch {
			case ok && r == p:
				delete(sh.pending, k) // ristretto shows it now
				if !p.deleted && p.tenant == tenant && p.id == id {
					return p
				}
				return nil
			case m.fresh(p, now) && p.tenant == tenant && p.id == id:
				return p
			case !m.fresh(p, now):
				delete(sh.pending, k)
			}
		}
	}
	if ok && !r.deleted && r.tenant == tenant && r.id == id {
		return r
	}
	// Absent, deleted, or a 64-bit hash collision with another key, which
	// the caller's Set then replaces.
	return nil
}

// Get runs fn on the entry (tenant, id) and reports true, if the Map has
// it; otherwise, and after Close, it reports false without running fn. fn
// runs under the same lock as Update's and has the same restrictions: it
// reads *v (copying out what the caller needs) and must not keep v. Get
// does not extend the entry's TTL.
func (m *Map[V]) Get(tenant, id string, fn func(v *V)) bool {
	return m.get(m.key(tenant, id), tenant, id, fn)
}

// get is Get with the key's hash k given.
func (m *Map[V]) get(k uint64, tenant, id string, fn func(v *V)) bool {
	sh := m.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		return false
	}
	e := m.lookup(sh, k, tenant, id, time.Time{})
	if e == nil {
		return false
	}
	fn(&e.val)
	return true
}

// Delete forgets the entry (tenant, id). It is a no-op if the Map does not
// have it, and after Close.
func (m *Map[V]) Delete(tenant, id string) { m.remove(m.key(tenant, id), tenant, id) }

// remove is Delete with the key's hash k given.
func (m *Map[V]) remove(k uint64, tenant, id string) {
	sh := m.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		return
	}
	found := false
	if p, ok := sh.pending[k]; ok && p.tenant == tenant && p.id == id {
		p.deleted = true
		delete(sh.pending, k)
		found = true // its Set may still be queued
	}
	if r, ok := m.cache.Get(k); ok && r.tenant == tenant && r.id == id {
		r.deleted = true
		found = true
	}
	if found {
		// Under the lock, so the deletion is queued after any earlier Set
		// of this key and before any later one.
		m.cache.Del(k)
	}
}

// Len returns approximately how many entries the Map holds: what ristretto
// has admitted (expired ones may count until its periodic cleanup; freshly
// set ones may not count yet). It returns 0 after Close.
func (m *Map[V]) Len() int {
	sh := &m.shards[0]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		return 0
	}
	return int(m.cache.MaxCost() - m.cache.RemainingCost())
}

// Wait blocks until the Sets queued so far are applied, so that Len and
// eviction reflect them. It is meant for tests and benchmarks; Update and
// Get never need it. It returns at once after Close.
func (m *Map[V]) Wait() {
	sh := &m.shards[0] // holding one shard lock keeps Close out
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !sh.closed {
		m.cache.Wait()
	}
}

// Close releases the Map's background goroutines; afterwards the Map keeps
// nothing (see Update, Get, Delete, Len). Close is idempotent; it waits for
// calls in progress.
func (m *Map[V]) Close() {
	for i := range m.shards {
		m.shards[i].mu.Lock()
	}
	defer func() {
		for i := range m.shards {
			m.shards[i].mu.Unlock()
		}
	}()
	if m.shards[0].closed {
		return
	}
	for i := range m.shards {
		m.shards[i].closed = true
		m.shards[i].pending = nil
	}
	// No other goroutine is inside the cache now: every call into it
	// happens under a shard lock (ristretto's Set may panic if it races
	// with Close).
	m.cache.Close()
}
