package convstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xunjian/xunjian/detectors/complaint"
	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/inspect"
)

func newStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func incr(c *inspect.Conversation) { c.Turns++ }

func TestNewConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"zero", Config{}, false},
		{"explicit", Config{MaxConversations: 10, TTL: duration.Duration(time.Minute)}, false},
		{"negative max", Config{MaxConversations: -1}, true},
		{"negative ttl", Config{TTL: duration.Duration(-time.Second)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.cfg)
			if (err != nil) != tc.wantErr {
				t.Fatalf("New(%+v) error = %v, want error %v", tc.cfg, err, tc.wantErr)
			}
			if s != nil {
				s.Close()
			}
		})
	}
}

func TestUpdateGet(t *testing.T) {
	s := newStore(t, Config{})
	if _, ok := s.Get("t", "c"); ok {
		t.Fatal("Get on empty store found a conversation")
	}
	at := time.Unix(1700000000, 0)
	s.Update("t", "c", func(c *inspect.Conversation) {
		if c.ID != "c" || c.Turns != 0 {
			t.Errorf("new conversation = %+v, want ID c and no turns", c)
		}
		c.Turns = 1
		c.LastCustomer = at
		c.Signals = append(c.Signals, complaint.Signals{Escalations: 1})
	})
	got, ok := s.Get("t", "c")
	if !ok || got.Turns != 1 || !got.LastCustomer.Equal(at) || len(got.Signals) != 1 {
		t.Fatalf("Get = %+v, %v; want the update", got, ok)
	}
	// The copy shares nothing with the store.
	got.Signals[0].Escalations = 99
	got.Turns = 42
	again, _ := s.Get("t", "c")
	if again.Turns != 1 || again.Signals[0].Escalations != 1 {
		t.Fatalf("mutating Get's copy changed the store: %+v", again)
	}
	// Back-to-back updates each see the previous one.
	for i := 2; i <= 50; i++ {
		s.Update("t", "c", func(c *inspect.Conversation) {
			if c.Turns != i-1 {
				t.Fatalf("update %d saw Turns=%d", i, c.Turns)
			}
			c.Turns = i
		})
	}
}

func TestBackToBackNewConversations(t *testing.T) {
	// ristretto applies a new key asynchronously; the second Update of a
	// new conversation must still see the first.
	s := newStore(t, Config{})
	for i := range 2000 {
		id := strconv.Itoa(i)
		s.Update("t", id, incr)
		s.Update("t", id, incr)
		if got, ok := s.Get("t", id); !ok || got.Turns != 2 {
			t.Fatalf("conversation %d: %+v, %v; want 2 turns", i, got, ok)
		}
	}
}

func TestConcurrentUpdatesOneConversation(t *testing.T) {
	s := newStore(t, Config{})
	const n = 1000
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { s.Update("tenant", "conv", incr) })
	}
	wg.Wait()
	got, ok := s.Get("tenant", "conv")
	if !ok || got.Turns != n {
		t.Fatalf("Turns = %d (found %v), want %d", got.Turns, ok, n)
	}
}

func TestConcurrentUpdatesManyConversations(t *testing.T) {
	s := newStore(t, Config{})
	const convs, per = 50, 40
	var wg sync.WaitGroup
	for c := range convs {
		id := strconv.Itoa(c)
		for range per {
			wg.Go(func() { s.Update("t", id, incr) })
		}
	}
	wg.Wait()
	for c := range convs {
		if got, _ := s.Get("t", strconv.Itoa(c)); got.Turns != per {
			t.Errorf("conversation %d: Turns = %d, want %d", c, got.Turns, per)
		}
	}
}

func TestTenantIsolation(t *testing.T) {
	s := newStore(t, Config{})
	s.Update("A", "same", func(c *inspect.Conversation) { c.Turns = 1 })
	s.Update("B", "same", func(c *inspect.Conversation) { c.Turns = 2 })
	// Ambiguous concatenations are different keys too.
	s.Update("AB", "c", func(c *inspect.Conversation) { c.Turns = 3 })
	s.Update("A", "Bc", func(c *inspect.Conversation) { c.Turns = 4 })
	for _, tc := range []struct {
		tenant, id string
		want       int
	}{
		{"A", "same", 1}, {"B", "same", 2}, {"AB", "c", 3}, {"A", "Bc", 4},
	} {
		got, ok := s.Get(tc.tenant, tc.id)
		if !ok || got.Turns != tc.want {
			t.Errorf("Get(%q, %q) = %d, %v; want %d", tc.tenant, tc.id, got.Turns, ok, tc.want)
		}
	}
	s.Delete("A", "same")
	if _, ok := s.Get("A", "same"); ok {
		t.Error("A/same still present after Delete")
	}
	if got, ok := s.Get("B", "same"); !ok || got.Turns != 2 {
		t.Errorf("Delete of A/same affected B/same: %+v, %v", got, ok)
	}
}

func TestTTL(t *testing.T) {
	const ttl = 300 * time.Millisecond
	s := newStore(t, Config{TTL: duration.Duration(ttl)})
	s.Update("t", "c", incr)
	s.cache.Wait()
	if _, ok := s.Get("t", "c"); !ok {
		t.Fatal("conversation missing right after Update")
	}
	// Activity keeps it alive.
	for range 4 {
		time.Sleep(ttl / 4)
		s.Update("t", "c", incr)
	}
	if got, ok := s.Get("t", "c"); !ok || got.Turns != 5 {
		t.Fatalf("active conversation = %+v, %v; want 5 turns", got, ok)
	}
	time.Sleep(ttl + 50*time.Millisecond)
	if got, ok := s.Get("t", "c"); ok {
		t.Fatalf("idle conversation still present after TTL: %+v", got)
	}
	s.Update("t", "c", func(c *inspect.Conversation) {
		if c.Turns != 0 {
			t.Errorf("expired conversation came back with %d turns", c.Turns)
		}
	})
}

func TestTTLPendingNotVisible(t *testing.T) {
	// An entry that expires before anyone looks at it again is gone, even
	// if it is still in the pending map.
	s := newStore(t, Config{TTL: duration.Duration(30 * time.Millisecond)})
	s.Update("t", "c", incr)
	time.Sleep(60 * time.Millisecond)
	if _, ok := s.Get("t", "c"); ok {
		t.Fatal("expired conversation found")
	}
}

func TestBounded(t *testing.T) {
	const max = 1000
	s := newStore(t, Config{MaxConversations: max})
	for i := range 10 * max {
		s.Update("t", strconv.Itoa(i), incr)
	}
	s.cache.Wait()
	if n := s.Len(); n > max || n < max/2 {
		t.Fatalf("Len() = %d after %d inserts, want near %d", n, 10*max, max)
	}
	// That the pending maps do not keep what ristretto dropped is tested
	// in gateway/keyed.
}

func TestDelete(t *testing.T) {
	s := newStore(t, Config{})
	s.Delete("t", "absent") // no-op
	s.Update("t", "c", incr)
	s.Delete("t", "c") // while the Set may still be queued
	if _, ok := s.Get("t", "c"); ok {
		t.Fatal("present right after Delete")
	}
	s.cache.Wait()
	if _, ok := s.Get("t", "c"); ok {
		t.Fatal("present after Delete was applied")
	}
	// A conversation started again after Delete starts afresh and stays.
	s.Update("t", "c", incr)
	s.Update("t", "c", incr)
	s.cache.Wait()
	if got, ok := s.Get("t", "c"); !ok || got.Turns != 2 {
		t.Fatalf("restarted conversation = %+v, %v; want 2 turns", got, ok)
	}
	s.Delete("t", "c")
	s.cache.Wait()
	if _, ok := s.Get("t", "c"); ok {
		t.Fatal("present after second Delete")
	}
}

func TestClose(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	s.Update("t", "c", incr)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				s.Update("t", fmt.Sprint(i, j), incr)
			}
		})
	}
	s.Close()
	wg.Wait()
	s.Close() // idempotent
	ran := false
	s.Update("t", "c", func(c *inspect.Conversation) { ran = true; c.Turns++ })
	if !ran {
		t.Error("Update after Close did not run fn")
	}
	if _, ok := s.Get("t", "c"); ok {
		t.Error("Get after Close found a conversation")
	}
	s.Delete("t", "c")
	if n := s.Len(); n != 0 {
		t.Errorf("Len after Close = %d", n)
	}
}

func TestUpdateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	s := newStore(t, Config{})
	s.Update("tenant", "conversation", incr)
	s.cache.Wait()
	allocs := testing.AllocsPerRun(1000, func() { s.Update("tenant", "conversation", incr) })
	if allocs > 0 {
		t.Errorf("Update of a known conversation allocates %.1f times", allocs)
	}
}

// TestLock: a conversation has one holder at a time, Update waits for it,
// a holder that keeps nothing leaves the conversation as it was, and a
// caller that cannot wait gets an error instead of the conversation.
func TestLock(t *testing.T) {
	s := newStore(t, Config{})
	c, unlock, err := s.Lock(context.Background(), "t", "c")
	if err != nil || c.ID != "c" || c.Turns != 0 {
		t.Fatalf("Lock of a new conversation = %+v, %v", c, err)
	}
	c.Turns = 1
	unlock(&c)

	c, unlock, err = s.Lock(context.Background(), "t", "c")
	if err != nil || c.Turns != 1 {
		t.Fatalf("Lock = %+v, %v; want the kept turn", c, err)
	}
	// Held: a second holder waits until its deadline, an Update until
	// the holder is done; another conversation is free.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := s.Lock(ctx, "t", "c"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock of a held conversation = %v, want the deadline", err)
	}
	other, unlockOther, err := s.Lock(ctx, "t", "other")
	if err != nil || other.ID != "other" {
		t.Fatalf("Lock of another conversation = %+v, %v", other, err)
	}
	unlockOther(nil)
	updated := make(chan struct{})
	go func() {
		s.Update("t", "c", incr)
		close(updated)
	}()
	select {
	case <-updated:
		t.Fatal("Update ran while the conversation was held")
	case <-time.After(20 * time.Millisecond):
	}
	c.Turns = 10
	unlock(&c)
	<-updated
	if got, _ := s.Get("t", "c"); got.Turns != 11 {
		t.Errorf("Turns = %d, want the holder's 10 and the update after it", got.Turns)
	}
	// unlock(nil) keeps nothing.
	c, unlock, _ = s.Lock(context.Background(), "t", "c")
	c.Turns = 99
	unlock(nil)
	if got, _ := s.Get("t", "c"); got.Turns != 11 {
		t.Errorf("Turns = %d after unlock(nil), want 11", got.Turns)
	}
}

// TestLockSerializes: concurrent holders of one conversation each see the
// previous one's result; none is lost.
func TestLockSerializes(t *testing.T) {
	s := newStore(t, Config{})
	const workers, rounds = 8, 200
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range rounds {
				c, unlock, err := s.Lock(context.Background(), "t", "c")
				if err != nil {
					t.Error(err)
					return
				}
				c.Turns++
				unlock(&c)
			}
		})
	}
	wg.Wait()
	if got, _ := s.Get("t", "c"); got.Turns != workers*rounds {
		t.Errorf("Turns = %d, want %d: updates were lost", got.Turns, workers*rounds)
	}
}
