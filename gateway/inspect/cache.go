package inspect

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/dgraph-io/ristretto/v2"
)

// findingsCache holds detections by tenant, lexicon version, role and text:
// agents send the same canned phrases again and again. A new lexicon or
// policy builds a new Inspector with a new cache, and the lexicon version
// is in the key as well, so a stale detection is never served.
type findingsCache struct {
	c            *ristretto.Cache[string, *detection]
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
	return &findingsCache{c: c}, nil
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

func (f *findingsCache) set(key string, d *detection) {
	cost := int64(len(key) + len(d.norm) + 64)
	for _, x := range d.findings {
		cost += int64(len(x.Evidence)+len(x.Detector)+len(x.Kind)+len(x.Lexicon)+len(x.Rule)) + 64
	}
	f.c.Set(key, d, cost)
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
