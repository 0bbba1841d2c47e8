package inspect

import (
	"fmt"
	"hash/maphash"
	"math/bits"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/dgraph-io/ristretto/v2"
)

// findingsCache holds detections by tenant, lexicon version, role and text:
// agents send the same canned phrases again and again. A new lexicon or
// policy builds a new Inspector with a new cache, and the lexicon version
// is in the key as well, so a stale detection is never served.
//
// Most drafts are new text that is never sent again, and storing each of
// them would cost a ristretto Set, a copy of its findings and, until the
// cache is full, heap that the garbage collector scans on every cycle. So
// a detection is stored on its text's second sighting (the doorkeeper's
// job): a quick reply is cached from its second use, a one-off draft
// never.
type findingsCache struct {
	c            *ristretto.Cache[string, *detection]
	door         doorkeeper
	hits, misses atomic.Uint64
}

func newFindingsCache(maxBytes int64) (*findingsCache, error) {
	c, err := ristretto.NewCache(&ristretto.Config[string, *detection]{
		NumCounters: max(maxBytes/100, 1000), // ~10× the entries it can hold
		MaxCost:     maxBytes,
		BufferItems: 64,
	})
	if err != nil {
		return nil, fmt.Errorf("findings cache: %w", err)
	}
	// About one slot per entry the cache can hold (a few hundred bytes
	// each), so a text is remembered for about as many other texts as the
	// cache holds.
	return &findingsCache{c: c, door: newDoorkeeper(maxBytes / 256)}, nil
}

func (f *findingsCache) get(key string) (*detection, bool) {
	d, ok := f.c.Get(key)
	if ok {
		f.hits.Add(1)
	} else {
		f.misses.Add(1)
	}
	return d, ok
}

// set stores d under key if key was seen before (see findingsCache).
func (f *findingsCache) set(key string, d *detection) {
	if !f.door.seenBefore(key) {
		return
	}
	cost := int64(len(key) + len(d.norm) + 64)
	for _, x := range d.findings {
		cost += int64(len(x.Evidence)+len(x.Detector)+len(x.Kind)+len(x.Lexicon)+len(x.Rule)) + 64
	}
	f.c.Set(key, d, cost)
}

// doorkeeper remembers the keys it was last shown, one hash per slot of a
// direct-mapped table: a key is forgotten when a later one takes its slot.
// It holds no pointers, so the garbage collector never scans it, and it is
// safe for concurrent use (a race between two keys of one slot only makes
// one of them look new).
type doorkeeper struct {
	seed  maphash.Seed
	slots []atomic.Uint64
}

// newDoorkeeper returns a doorkeeper with at least n slots (a power of two,
// from 1,024 to 4 Mi).
func newDoorkeeper(n int64) doorkeeper {
	n = min(max(n, 1<<10), 1<<22)
	size := uint64(1) << bits.Len64(uint64(n-1))
	return doorkeeper{seed: maphash.MakeSeed(), slots: make([]atomic.Uint64, size)}
}

// seenBefore reports whether key is remembered, and remembers it.
func (d *doorkeeper) seenBefore(key string) bool {
	h := maphash.String(d.seed, key) | 1 // never 0, an empty slot
	s := &d.slots[h&uint64(len(d.slots)-1)]
	if s.Load() == h {
		return true
	}
	s.Store(h)
	return false
}

// cacheKey joins the parts with their lengths, so no two different tuples
// share a key.
func cacheKey(tenant, version, role, text string) string {
	var b strings.Builder
	b.Grow(len(tenant) + len(version) + len(role) + len(text) + 16)
	for _, part := range []string{tenant, version, role} {
		b.WriteString(strconv.Itoa(len(part)))
		b.WriteByte(':')
		b.WriteString(part)
	}
	b.WriteString(text)
	return b.String()
}

// CacheStats returns the findings cache's hits and misses since New.
func (in *Inspector) CacheStats() (hits, misses uint64) {
	if in.cache == nil {
		return 0, 0
	}
	return in.cache.hits.Load(), in.cache.misses.Load()
}

// CacheMaxBytes reports the bound of the findings cache
// (Options.CacheBytes), 0 when there is none.
func (in *Inspector) CacheMaxBytes() int64 {
	if in.cache == nil {
		return 0
	}
	return in.cache.c.MaxCost()
}

// Close releases the findings cache; it implements io.Closer, so that a
// rules.Reloader closes an Inspector with its policy version. The
// Inspector must not be used afterwards. It always returns nil.
func (in *Inspector) Close() error {
	if in.cache != nil {
		in.cache.c.Close()
	}
	return nil
}
