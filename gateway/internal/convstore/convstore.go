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
// Lock hands out a conversation to one holder at a time (the
// inspect.Store contract): the holder inspects the message, with OPA and
// the spool write, outside any lock shared with other conversations, and
// keeps the result or leaves the conversation as it was. Update is Lock
// with a quick function. Holders of one conversation are serialized by a
// lock per stripe of conversations (1024 stripes; a collision only makes
// two conversations take turns for the length of one inspection); each
// sees the result of the previous one. The entries live in a gateway/keyed
// Map, which does
// not rely on ristretto's asynchronous Set being visible at once: it
// mutates entries in place under the shard lock and remembers freshly set
// entries in a small per-shard "pending" map until ristretto shows them (or
// a short grace period passes). The trade-off: if ristretto drops or
// rejects an entry (full buffers, or a full cache whose admission policy
// prefers the entries it has), the conversation is forgotten after the
// grace period, exactly as if it had been evicted; the next Update starts
// it afresh. Conversation context is advisory (it tunes risk scores), so an
// occasional loss under overload is acceptable, while a lost update between
// two close requests is not.
package convstore

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"time"

	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/internal/keyed"
)

// Defaults for a zero Config.
const (
	DefaultMaxConversations = 100_000
	DefaultTTL              = 2 * time.Hour
)

// Config configures a Store; it is the `conversations` section of the
// gateway's configuration file. The zero value means the defaults.
type Config struct {
	// MaxConversations bounds how many conversations the store keeps; past
	// it, ristretto evicts the least frequently used. Zero means
	// DefaultMaxConversations (100 000).
	MaxConversations int64 `yaml:"max"`
	// TTL forgets a conversation idle this long after its last Update.
	// Zero means DefaultTTL (2h).
	TTL duration.Duration `yaml:"ttl"`
}

// Defaults fills the zero fields of c with their defaults.
func (c *Config) Defaults() {
	if c.MaxConversations == 0 {
		c.MaxConversations = DefaultMaxConversations
	}
	if c.TTL == 0 {
		c.TTL = duration.Duration(DefaultTTL)
	}
}

// Validate checks c as a configuration file gives it, naming each fault by
// its YAML path under path (e.g. "conversations.max: must not be
// negative"), all of them joined.
func (c Config) Validate(path string) error {
	var errs []error
	if c.MaxConversations < 0 {
		errs = append(errs, fmt.Errorf("%s.max: must not be negative", path))
	}
	if c.TTL < 0 {
		errs = append(errs, fmt.Errorf("%s.ttl: must not be negative", path))
	}
	return errors.Join(errs...)
}

// Store holds conversation context per (tenant, conversation id).
//
// A Store is safe for concurrent use. Updates of one conversation are
// serialized; different conversations proceed in parallel (up to shard
// collisions). Close releases the background goroutines of the cache.
type Store struct {
	cache *keyed.Map[inspect.Conversation]
	seed  maphash.Seed
	// locks serialize the holders of a conversation: a token in
	// locks[stripe(tenant, id)] while one holds it.
	locks [lockStripes]chan struct{}
}

// lockStripes is how many locks the conversations share.
const lockStripes = 1024

var _ inspect.Store = (*Store)(nil)

// New returns a Store configured by cfg.
func New(cfg Config) (*Store, error) {
	if cfg.MaxConversations < 0 {
		return nil, fmt.Errorf("convstore: max_conversations %d is negative", cfg.MaxConversations)
	}
	if cfg.TTL < 0 {
		return nil, fmt.Errorf("convstore: ttl %s is negative", cfg.TTL.D())
	}
	cfg.Defaults()
	m, err := keyed.New[inspect.Conversation](keyed.Config{MaxEntries: cfg.MaxConversations, TTL: cfg.TTL.D()})
	if err != nil {
		return nil, fmt.Errorf("convstore: %w", err)
	}
	s := &Store{cache: m, seed: maphash.MakeSeed()}
	for i := range s.locks {
		s.locks[i] = make(chan struct{}, 1)
	}
	return s, nil
}

// Lock implements inspect.Store: it waits, at most until ctx is done, to
// hold the conversation (tenant, id), and returns a copy of it
// (Conversation{ID: id} when the store has none). unlock(keep) keeps *keep
// as the conversation, unless keep is nil, and lets the next holder in; it
// must be called exactly once. After Close the conversation is always
// empty and nothing is kept.
func (s *Store) Lock(ctx context.Context, tenant, id string) (inspect.Conversation, func(keep *inspect.Conversation), error) {
	l := s.lock(tenant, id)
	select {
	case l <- struct{}{}:
	default:
		select {
		case l <- struct{}{}:
		case <-ctx.Done():
			return inspect.Conversation{}, nil, fmt.Errorf("convstore: waiting for the conversation: %w", ctx.Err())
		}
	}
	var conv inspect.Conversation
	if !s.cache.Get(tenant, id, func(c *inspect.Conversation) { conv = *c }) {
		conv.ID = strings.Clone(id) // id may be a view of a reused buffer
	}
	return conv, func(keep *inspect.Conversation) {
		if keep != nil {
			s.cache.Update(tenant, id, func(c *inspect.Conversation, _ bool) { *c = *keep })
		}
		<-l
	}, nil
}

// Update runs fn on the conversation (tenant, id), creating it (with
// Conversation.ID = id) if absent, and keeps the result. Calls for the same
// conversation, and Lock's holders, are serialized, so read-modify-write is
// atomic; fn must be quick (others wait for the conversation), must not
// block, must not call the Store, and must not keep c after it returns.
//
// After Close, fn runs on an empty conversation and nothing is kept.
func (s *Store) Update(tenant, id string, fn func(c *inspect.Conversation)) {
	l := s.lock(tenant, id)
	l <- struct{}{}
	defer func() { <-l }()
	kept := s.cache.Update(tenant, id, func(c *inspect.Conversation, created bool) {
		if created {
			c.ID = strings.Clone(id) // id may be a view of a reused buffer
		}
		fn(c)
	})
	if !kept { // closed
		c := inspect.Conversation{ID: id}
		fn(&c)
	}
}

// lock returns the lock of the conversation (tenant, id)'s stripe.
func (s *Store) lock(tenant, id string) chan struct{} {
	return s.locks[maphash.Comparable(s.seed, [2]string{tenant, id})%lockStripes]
}

// Get returns a copy of the conversation (tenant, id), if the store has it.
// The copy shares nothing with the store.
func (s *Store) Get(tenant, id string) (inspect.Conversation, bool) {
	var out inspect.Conversation
	ok := s.cache.Get(tenant, id, func(c *inspect.Conversation) { out = c.Clone() })
	return out, ok
}

// Delete forgets the conversation (tenant, id), as on a conversation event
// (assigned, transferred, closed). It is a no-op if the store does not have
// it.
func (s *Store) Delete(tenant, id string) { s.cache.Delete(tenant, id) }

// Len returns approximately how many conversations the store holds: what
// ristretto has admitted (expired ones may count until its periodic
// cleanup; freshly set ones may not count yet).
func (s *Store) Len() int { return s.cache.Len() }

// Close releases the store's background goroutines. Further calls keep
// nothing. Close is idempotent; it waits for Updates in progress.
func (s *Store) Close() { s.cache.Close() }
