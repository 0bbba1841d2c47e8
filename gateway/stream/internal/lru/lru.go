// Package lru is a bounded map with least-recently-used eviction for the
// stream's per-key state (alert windows, sampling decisions), allocating
// nothing per entry.
package lru

// LRU is a bounded map with least-recently-used eviction. Nodes live in one
// slice linked by int32 indices, so an entry costs no allocation of its own
// and an evicted slot is reused. Not safe for concurrent use: the owner
// serializes access. A pointer returned by Get or Add is valid only until
// the next Add.
type LRU[K comparable, V any] struct {
	idx        map[K]int32
	nodes      []lruNode[K, V]
	head, tail int32 // most and least recently used; -1 when empty
	max        int
}

type lruNode[K comparable, V any] struct {
	key        K
	val        V
	prev, next int32
}

// New returns an empty LRU holding at most max entries.
func New[K comparable, V any](max int) *LRU[K, V] {
	return &LRU[K, V]{idx: make(map[K]int32), head: -1, tail: -1, max: max}
}

// Len returns the number of entries.
func (l *LRU[K, V]) Len() int { return len(l.idx) }

// Get returns the value for k and marks it most recently used.
func (l *LRU[K, V]) Get(k K) (*V, bool) {
	i, ok := l.idx[k]
	if !ok {
		return nil, false
	}
	l.unlink(i)
	l.pushFront(i)
	return &l.nodes[i].val, true
}

// Add inserts k (which must be absent) as most recently used, evicting the
// least recently used entry when the map is full.
func (l *LRU[K, V]) Add(k K, v V) *V {
	var i int32
	if len(l.idx) >= l.max && l.tail >= 0 {
		i = l.tail
		l.unlink(i)
		delete(l.idx, l.nodes[i].key)
		l.nodes[i] = lruNode[K, V]{key: k, val: v}
	} else {
		i = int32(len(l.nodes))
		l.nodes = append(l.nodes, lruNode[K, V]{key: k, val: v})
	}
	l.idx[k] = i
	l.pushFront(i)
	return &l.nodes[i].val
}

func (l *LRU[K, V]) unlink(i int32) {
	n := &l.nodes[i]
	if n.prev >= 0 {
		l.nodes[n.prev].next = n.next
	} else {
		l.head = n.next
	}
	if n.next >= 0 {
		l.nodes[n.next].prev = n.prev
	} else {
		l.tail = n.prev
	}
	n.prev, n.next = -1, -1
}

func (l *LRU[K, V]) pushFront(i int32) {
	n := &l.nodes[i]
	n.prev, n.next = -1, l.head
	if l.head >= 0 {
		l.nodes[l.head].prev = i
	}
	l.head = i
	if l.tail < 0 {
		l.tail = i
	}
}
