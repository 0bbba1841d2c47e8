// Package convstore keeps the gateway's conversation context
// (inspect.Conversation) in a bounded, expiring in-memory store.
//
// The pipeline is stateless; what it remembers of a conversation (turns,
// complaint signals, who spoke last) lives here between requests. The store
// is bounded (a ristretto cache with a TinyLFU admission policy evicts the
// least useful conversations) and forgets conversations that stay idle for
// the configured TTL, so an unbounded stream of conversation ids costs a
// bounded amount of memory.
//
// # Consistency
//
// Update is an atomic read-modify-write per conversation: callers for the
// same (tenant, id) are serialized by a sharded mutex and each sees the
// result of the previous one. ristretto applies new keys asynchronously (a
// Set is queued and admitted later by a background goroutine, and may be
// dropped or rejected), so the store does not rely on a Set being visible
// at once: it keeps pointers to entries, mutates them under the shard lock,
// and remembers freshly set entries in a small per-shard "pending" map until
// ristretto shows them (or a short grace period passes). The trade-off: if
// ristretto drops or rejects an entry (full buffers, or a full cache whose
// admission policy prefers the entries it has), the conversation is
// forgotten after the grace period, exactly as if it had been evicted; the
// next Update starts it afresh. Conversation context is advisory (it tunes
// risk scores), so an occasional loss under overload is acceptable, while a
// lost update between two close requests is not.
package convstore

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/ristretto/v2"

	"github.com/xunjian/xunjian/gateway/inspect"
)

// Defaults for a zero Config.
const (
	DefaultMaxConversations = 100_000
	DefaultTTL              = 2 * time.Hour
)

const (
	numShards = 256
	// pendingGrace is how long a freshly set entry is trusted while
	// ristretto has not applied it yet. ristretto normally applies a Set
	// within microseconds; past this, a missing entry was dropped, rejected
	// or evicted.
	pendingGrace = time.Second
	// minSweep is the pending-map size below which stale pending entries
	// are left for lookups to remove.
	minSweep = 64
	// refreshDiv: an entry's TTL is extended only when that adds more than
	// TTL/refreshDiv, so a busy conversation costs one ristretto Set per
	// TTL/refreshDiv instead of one per message. A conversation therefore
	// expires between TTL×(1-1/refreshDiv) and TTL after its last Update.
	refreshDiv = 16
)

// Config configures a Store. The zero value means the defaults.
type Config struct {
	// MaxConversations bounds how many conversations the store keeps; past
	// it, ristretto evicts the least frequently used. Zero means
	// DefaultMaxConversations (100 000).
	MaxConversations int64
	// TTL is how long an idle conversation is kept after its last Update.
	// Zero means DefaultTTL (2 h).
	TTL time.Duration
}

// Store holds conversation context per (tenant, conversation id).
//
// A Store is safe for concurrent use. Updates of one conversation are
// serialized; different conversations proceed in parallel (up to shard
// collisions). Close releases the background goroutines of the cache.
type Store struct {
	cache  *ristretto.Cache[uint64, *entry]
	seed   maphash.Seed
	ttl    time.Duration
	grace  time.Duration
	shards [numShards]shard
}

// shard serializes the conversations whose key hashes fall into it.
type shard struct {
	mu sync.Mutex // guards pending, sweepAt, closed and every entry of this shard
	// pending holds entries set in ristretto recently, which a Get on the
	// cache may not show yet.
	pending map[uint64]*entry
	sweepAt int
	closed  bool
	_       [24]byte // keep neighbouring mutexes off one cache line
}

// entry is one conversation. All fields are guarded by its shard's mutex.
type entry struct {
	tenant, id string
	conv       inspect.Conversation
	// expires is when ristretto expires the entry, per our last Set; zero
	// if that Set was dropped.
	expires time.Time
	// setAt is when the entry was last set in ristretto.
	setAt time.Time
	// deleted marks an entry removed by Delete, which ristretto may still
	// show briefly while the deletion is queued.
	deleted bool
}

// New returns a Store configured by cfg.
func New(cfg Config) (*Store, error) {
	if cfg.MaxConversations < 0 {
		return nil, fmt.Errorf("convstore: max_conversations %d is negative", cfg.MaxConversations)
	}
	if cfg.TTL < 0 {
		return nil, fmt.Errorf("convstore: ttl %s is negative", cfg.TTL)
	}
	if cfg.MaxConversations == 0 {
		cfg.MaxConversations = DefaultMaxConversations
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	cache, err := ristretto.NewCache(&ristretto.Config[uint64, *entry]{
		// ristretto recommends 10 counters per item kept.
		NumCounters: 10 * cfg.MaxConversations,
		// Every entry costs 1, so MaxCost is a count of conversations.
		MaxCost:            cfg.MaxConversations,
		IgnoreInternalCost: true,
		BufferItems:        64,
		// Keys are already 64-bit hashes; collisions are detected by
		// comparing the tenant and id kept in the entry.
		KeyToHash: func(k uint64) (uint64, uint64) { return k, 0 },
	})
	if err != nil {
		return nil, fmt.Errorf("convstore: creating cache: %w", err)
	}
	s := &Store{cache: cache, seed: maphash.MakeSeed(), ttl: cfg.TTL, grace: min(pendingGrace, cfg.TTL)}
	for i := range s.shards {
		s.shards[i].pending = make(map[uint64]*entry)
		s.shards[i].sweepAt = minSweep
	}
	return s, nil
}

// key hashes (tenant, id) unambiguously (length-prefixed) with a
// per-process random seed, so colliding keys cannot be precomputed.
func (s *Store) key(tenant, id string) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(tenant)))
	h.Write(n[:])
	h.WriteString(tenant)
	h.WriteString(id)
	return h.Sum64()
}

func (s *Store) shard(k uint64) *shard { return &s.shards[k>>56] }

// Update runs fn on the conversation (tenant, id), creating it (with
// Conversation.ID = id) if absent, and keeps the result. Calls for the same
// conversation are serialized, so read-modify-write is atomic; fn runs under
// a lock shared with other conversations and must be quick, must not block,
// must not call the Store, and must not keep c after it returns.
//
// After Close, fn runs on an empty conversation and nothing is kept.
func (s *Store) Update(tenant, id string, fn func(c *inspect.Conversation)) {
	k := s.key(tenant, id)
	sh := s.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		c := inspect.Conversation{ID: id}
		fn(&c)
		return
	}
	now := time.Now()
	e := s.lookup(sh, k, tenant, id, now)
	if e == nil {
		// Copy the strings: callers may pass views of reused buffers.
		e = &entry{tenant: strings.Clone(tenant), id: strings.Clone(id)}
		e.conv.ID = e.id
	}
	fn(&e.conv)
	if now.Add(s.ttl).Sub(e.expires) > s.ttl/refreshDiv {
		s.set(sh, k, e, now)
	}
}

// set stores e in ristretto (refreshing its TTL) and remembers it as
// pending until ristretto shows it. Called with sh.mu held.
func (s *Store) set(sh *shard, k uint64, e *entry, now time.Time) {
	e.setAt = now
	if s.cache.SetWithTTL(k, e, 1, s.ttl) {
		e.expires = now.Add(s.ttl)
	} else {
		// Dropped (contended buffers). A zero expiry makes the next Update
		// retry, and the pending map keeps the entry until then.
		e.expires = time.Time{}
	}
	if len(sh.pending) >= sh.sweepAt {
		for pk, pe := range sh.pending {
			if !s.fresh(pe, now) {
				delete(sh.pending, pk)
			}
		}
		sh.sweepAt = max(minSweep, 2*len(sh.pending))
	}
	sh.pending[k] = e
}

// fresh reports whether a pending entry may still be trusted at now.
func (s *Store) fresh(e *entry, now time.Time) bool {
	return !e.deleted && now.Sub(e.setAt) < s.grace && (e.expires.IsZero() || now.Before(e.expires))
}

// lookup finds the live entry for (tenant, id). Called with sh.mu held.
// A pending entry is preferred: it is the one most recently set. A zero now
// means the current time, read only if needed (reading the clock is a
// noticeable part of a lookup on some virtual machines).
func (s *Store) lookup(sh *shard, k uint64, tenant, id string, now time.Time) *entry {
	r, ok := s.cache.Get(k) // also feeds ristretto's frequency sketch
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
			case s.fresh(p, now) && p.tenant == tenant && p.id == id:
				return p
			case !s.fresh(p, now):
				delete(sh.pending, k)
			}
		}
	}
	if ok && !r.deleted && r.tenant == tenant && r.id == id {
		return r
	}
	// Absent, deleted, or a 64-bit hash collision with another
	// conversation, which the caller's Set then replaces.
	return nil
}

// Get returns a copy of the conversation (tenant, id), if the store has it.
// The copy shares nothing with the store.
func (s *Store) Get(tenant, id string) (inspect.Conversation, bool) {
	k := s.key(tenant, id)
	sh := s.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		return inspect.Conversation{}, false
	}
	e := s.lookup(sh, k, tenant, id, time.Time{})
	if e == nil {
		return inspect.Conversation{}, false
	}
	return e.conv.Clone(), true
}

// Delete forgets the conversation (tenant, id), as on a conversation event
// (assigned, transferred, closed). It is a no-op if the store does not have
// it.
func (s *Store) Delete(tenant, id string) {
	k := s.key(tenant, id)
	sh := s.shard(k)
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
	if r, ok := s.cache.Get(k); ok && r.tenant == tenant && r.id == id {
		r.deleted = true
		found = true
	}
	if found {
		// Under the lock, so the deletion is queued after any earlier Set
		// of this conversation and before any later one.
		s.cache.Del(k)
	}
}

// Len returns approximately how many conversations the store holds: what
// ristretto has admitted (expired ones may count until its periodic
// cleanup; freshly set ones may not count yet).
func (s *Store) Len() int {
	if s.shards[0].closedLocked() {
		return 0
	}
	return int(s.cache.MaxCost() - s.cache.RemainingCost())
}

func (sh *shard) closedLocked() bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.closed
}

// Close releases the store's background goroutines. Further calls keep
// nothing. Close is idempotent; it waits for Updates in progress.
func (s *Store) Close() {
	for i := range s.shards {
		s.shards[i].mu.Lock()
	}
	defer func() {
		for i := range s.shards {
			s.shards[i].mu.Unlock()
		}
	}()
	if s.shards[0].closed {
		return
	}
	for i := range s.shards {
		s.shards[i].closed = true
		s.shards[i].pending = nil
	}
	// No other goroutine is inside the cache now: every call into it
	// happens under a shard lock (ristretto's Set may panic if it races
	// with Close).
	s.cache.Close()
}
