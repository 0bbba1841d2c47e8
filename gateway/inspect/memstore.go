package inspect

import (
	"context"
	"strings"
	"sync"
)

// MemStore is a Store in memory with no bound and no expiry: for a run
// that ends (`xunjian check --jsonl`, replay, tests, the benchmark's
// sidecar), not for a server, which needs a bounded store (the gateway's
// own). The zero MemStore is empty and ready; it is safe for concurrent
// use and must not be copied after first use.
type MemStore struct {
	mu    sync.Mutex
	convs map[memKey]*memEntry // guarded by mu
}

type memKey struct{ tenant, id string }

// memEntry is one conversation: lock holds a token while someone has it.
type memEntry struct {
	lock chan struct{}
	conv Conversation // written only by the lock's holder
}

var _ Store = (*MemStore)(nil)

// Lock implements Store.
func (s *MemStore) Lock(ctx context.Context, tenant, id string) (Conversation, func(*Conversation), error) {
	s.mu.Lock()
	if s.convs == nil {
		s.convs = map[memKey]*memEntry{}
	}
	k := memKey{tenant, id}
	e := s.convs[k]
	if e == nil {
		// Cloned: id may be a view of a buffer the caller reuses.
		id = strings.Clone(id)
		e = &memEntry{lock: make(chan struct{}, 1), conv: Conversation{ID: id}}
		s.convs[memKey{strings.Clone(tenant), id}] = e
	}
	s.mu.Unlock()
	select {
	case e.lock <- struct{}{}:
	case <-ctx.Done():
		return Conversation{}, nil, ctx.Err()
	}
	var once sync.Once
	return e.conv, func(keep *Conversation) {
		once.Do(func() {
			if keep != nil {
				e.conv = *keep
			}
			<-e.lock
		})
	}, nil
}

// Len returns how many conversations s holds.
func (s *MemStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.convs)
}
