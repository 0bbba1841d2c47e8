package keyed

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
	"unsafe"
)

func newMap[V any](t testing.TB, cfg Config) *Map[V] {
	t.Helper()
	m, err := New[V](cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(m.Close)
	return m
}

func incr(v *int, _ bool) { *v++ }

// value returns the entry (tenant, id) and whether m has it.
func value(m *Map[int], tenant, id string) (int, bool) {
	var n int
	ok := m.Get(tenant, id, func(v *int) { n = *v })
	return n, ok
}

func TestNewConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr bool
		wantTTL time.Duration
	}{
		{"zero", Config{}, false, DefaultTTL},
		{"explicit", Config{MaxEntries: 10, TTL: time.Minute}, false, time.Minute},
		{"negative max", Config{MaxEntries: -1}, true, 0},
		{"negative ttl", Config{TTL: -time.Second}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New[int](tc.cfg)
			if (err != nil) != tc.wantErr {
				t.Fatalf("New(%+v) error = %v, want error %v", tc.cfg, err, tc.wantErr)
			}
			if m == nil {
				return
			}
			defer m.Close()
			if m.ttl != tc.wantTTL {
				t.Errorf("ttl = %s, want %s", m.ttl, tc.wantTTL)
			}
		})
	}
}

func TestShardSize(t *testing.T) {
	// Neighbouring shard mutexes stay off one cache line.
	if n := unsafe.Sizeof(shard[int]{}); n != 64 {
		t.Errorf("shard is %d bytes, want 64", n)
	}
}

func TestUpdateGet(t *testing.T) {
	m := newMap[int](t, Config{})
	if _, ok := value(m, "t", "k"); ok {
		t.Fatal("Get on empty map found an entry")
	}
	for i := 1; i <= 50; i++ {
		ran := false
		kept := m.Update("t", "k", func(v *int, created bool) {
			ran = true
			if created != (i == 1) || *v != i-1 {
				t.Fatalf("update %d: v=%d created=%v", i, *v, created)
			}
			*v = i
		})
		if !kept || !ran {
			t.Fatalf("update %d: kept=%v ran=%v", i, kept, ran)
		}
	}
	if n, ok := value(m, "t", "k"); !ok || n != 50 {
		t.Fatalf("Get = %d, %v; want 50", n, ok)
	}
}

func TestUpdateClonesKey(t *testing.T) {
	// Callers may pass views of reused buffers.
	m := newMap[int](t, Config{})
	buf := []byte("tenant/id")
	m.Update(unsafe.String(&buf[0], 6), unsafe.String(&buf[7], 2), incr)
	copy(buf, "xxxxxxxxx")
	if n, ok := value(m, "tenant", "id"); !ok || n != 1 {
		t.Fatalf("entry lost after the caller's buffer changed: %d, %v", n, ok)
	}
}

func TestBackToBackNewKeys(t *testing.T) {
	// ristretto applies a new key asynchronously; the second Update of a
	// new key must still see the first, through the pending map.
	m := newMap[int](t, Config{})
	for i := range 2000 {
		id := strconv.Itoa(i)
		m.Update("t", id, incr)
		m.Update("t", id, incr)
		if n, ok := value(m, "t", id); !ok || n != 2 {
			t.Fatalf("key %d: %d, %v; want 2", i, n, ok)
		}
	}
}

func TestConcurrentUpdates(t *testing.T) {
	m := newMap[int](t, Config{})
	const keys, per = 50, 40
	var wg sync.WaitGroup
	for k := range keys {
		id := strconv.Itoa(k)
		for range per {
			wg.Go(func() { m.Update("t", id, incr) })
		}
	}
	wg.Wait()
	for k := range keys {
		if n, _ := value(m, "t", strconv.Itoa(k)); n != per {
			t.Errorf("key %d: %d, want %d", k, n, per)
		}
	}
}

func TestTenantIsolation(t *testing.T) {
	m := newMap[int](t, Config{})
	set := func(v int) func(*int, bool) { return func(p *int, _ bool) { *p = v } }
	m.Update("A", "same", set(1))
	m.Update("B", "same", set(2))
	// Ambiguous concatenations are different keys too.
	m.Update("AB", "c", set(3))
	m.Update("A", "Bc", set(4))
	for _, tc := range []struct {
		tenant, id string
		want       int
	}{
		{"A", "same", 1}, {"B", "same", 2}, {"AB", "c", 3}, {"A", "Bc", 4},
	} {
		if n, ok := value(m, tc.tenant, tc.id); !ok || n != tc.want {
			t.Errorf("Get(%q, %q) = %d, %v; want %d", tc.tenant, tc.id, n, ok, tc.want)
		}
	}
}

func TestCollision(t *testing.T) {
	// Two keys with one hash: the newer replaces the older, and neither
	// ever sees the other's value.
	for _, applied := range []bool{false, true} {
		t.Run(fmt.Sprintf("applied=%v", applied), func(t *testing.T) {
			m := newMap[int](t, Config{})
			const k = 42 << 56
			wait := func() {
				if applied {
					m.Wait()
				}
			}
			get := func(id string) (int, bool) {
				var n int
				ok := m.get(k, "t", id, func(v *int) { n = *v })
				return n, ok
			}
			m.update(k, "t", "a", func(v *int, _ bool) { *v = 7 })
			wait()
			m.update(k, "t", "b", func(v *int, created bool) {
				if !created || *v != 0 {
					t.Errorf("colliding key b got a's entry: v=%d created=%v", *v, created)
				}
				*v = 9
			})
			wait()
			if n, ok := get("a"); ok {
				t.Errorf("a found with %d after b replaced it", n)
			}
			if n, ok := get("b"); !ok || n != 9 {
				t.Errorf("b = %d, %v; want 9", n, ok)
			}
			m.remove(k, "t", "a") // not b's
			wait()
			if n, ok := get("b"); !ok || n != 9 {
				t.Errorf("Delete of a removed b: %d, %v", n, ok)
			}
			m.update(k, "t", "a", func(v *int, created bool) {
				if !created || *v != 0 {
					t.Errorf("a got b's entry: v=%d created=%v", *v, created)
				}
			})
		})
	}
}

func TestTTL(t *testing.T) {
	const ttl = 300 * time.Millisecond
	m := newMap[int](t, Config{TTL: ttl})
	m.Update("t", "k", incr)
	m.Wait()
	if _, ok := value(m, "t", "k"); !ok {
		t.Fatal("entry missing right after Update")
	}
	// Activity keeps it alive.
	for range 4 {
		time.Sleep(ttl / 4)
		m.Update("t", "k", incr)
	}
	if n, ok := value(m, "t", "k"); !ok || n != 5 {
		t.Fatalf("active entry = %d, %v; want 5", n, ok)
	}
	time.Sleep(ttl + 50*time.Millisecond)
	if n, ok := value(m, "t", "k"); ok {
		t.Fatalf("idle entry still present after TTL: %d", n)
	}
	m.Update("t", "k", func(v *int, created bool) {
		if !created || *v != 0 {
			t.Errorf("expired entry came back: %d, created %v", *v, created)
		}
	})
}

func TestTTLPendingNotVisible(t *testing.T) {
	// An entry that expires before anyone looks at it again is gone, even
	// if it is still in the pending map.
	m := newMap[int](t, Config{TTL: 30 * time.Millisecond})
	m.Update("t", "k", incr)
	time.Sleep(60 * time.Millisecond)
	if _, ok := value(m, "t", "k"); ok {
		t.Fatal("expired entry found")
	}
}

func TestBounded(t *testing.T) {
	const max = 1000
	m := newMap[int](t, Config{MaxEntries: max})
	for i := range 10 * max {
		m.Update("t", strconv.Itoa(i), incr)
	}
	m.Wait()
	if n := m.Len(); n > max || n < max/2 {
		t.Fatalf("Len() = %d after %d inserts, want near %d", n, 10*max, max)
	}
	// The pending maps do not keep what ristretto dropped.
	time.Sleep(pendingGrace + 10*time.Millisecond)
	m.Update("t", "one more", incr)
	total := 0
	for i := range m.shards {
		m.shards[i].mu.Lock()
		total += len(m.shards[i].pending)
		m.shards[i].mu.Unlock()
	}
	if total > 2*numShards*minSweep {
		t.Fatalf("pending maps hold %d entries", total)
	}
}

func TestDelete(t *testing.T) {
	m := newMap[int](t, Config{})
	m.Delete("t", "absent") // no-op
	m.Update("t", "k", incr)
	m.Delete("t", "k") // while the Set may still be queued
	if _, ok := value(m, "t", "k"); ok {
		t.Fatal("present right after Delete")
	}
	m.Wait()
	if _, ok := value(m, "t", "k"); ok {
		t.Fatal("present after Delete was applied")
	}
	// A key set again after Delete starts afresh and stays.
	m.Update("t", "k", incr)
	m.Update("t", "k", incr)
	m.Wait()
	if n, ok := value(m, "t", "k"); !ok || n != 2 {
		t.Fatalf("restarted entry = %d, %v; want 2", n, ok)
	}
	m.Delete("t", "k")
	m.Wait()
	if _, ok := value(m, "t", "k"); ok {
		t.Fatal("present after second Delete")
	}
}

func TestClose(t *testing.T) {
	m, err := New[int](Config{})
	if err != nil {
		t.Fatal(err)
	}
	m.Update("t", "k", incr)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				m.Update("t", fmt.Sprint(i, j), incr)
				value(m, "t", fmt.Sprint(i, j))
				if j%10 == 0 {
					m.Delete("t", fmt.Sprint(i, j))
					m.Len()
				}
			}
		})
	}
	m.Close()
	wg.Wait()
	m.Close() // idempotent
	if m.Update("t", "k", func(*int, bool) { t.Error("Update after Close ran fn") }) {
		t.Error("Update after Close reported the entry kept")
	}
	if m.Get("t", "k", func(*int) { t.Error("Get after Close ran fn") }) {
		t.Error("Get after Close found an entry")
	}
	m.Delete("t", "k")
	m.Wait()
	if n := m.Len(); n != 0 {
		t.Errorf("Len after Close = %d", n)
	}
}

func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	m := newMap[int](t, Config{})
	m.Update("tenant", "key", incr)
	m.Wait()
	if n := testing.AllocsPerRun(1000, func() { m.Update("tenant", "key", incr) }); n > 0 {
		t.Errorf("Update of a known key allocates %.1f times", n)
	}
	var got int
	if n := testing.AllocsPerRun(1000, func() { m.Get("tenant", "key", func(v *int) { got = *v }) }); n > 0 {
		t.Errorf("Get of a known key allocates %.1f times", n)
	}
	_ = got
}
