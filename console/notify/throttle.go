package notify

import (
	"cmp"
	"slices"
	"strconv"
	"sync"
	"time"
)

// maxDigestKeys bounds the keys a digest remembers to mark done. A burst
// larger than that is still counted; the notifications past it are not
// marked done by the digest, so a replay after a restart would post them.
const maxDigestKeys = 10_000

// Digest is what a throttled channel posts at the end of a window in
// place of the notifications over its limit: how many, of which kinds
// and levels, and the gravest.
type Digest struct {
	// Channel is the channel's name.
	Channel string
	// Start and End bound the window.
	Start, End time.Time
	// Total counts the notifications folded into the digest.
	Total int
	// Counts counts them by kind and level, the gravest level first, then
	// by kind.
	Counts []DigestCount
	// Top are the gravest of them, at most the channel's DigestTop:
	// highest level first, then the earliest.
	Top []Notification
	// Keys are the folded notifications' idempotency keys (at most
	// 10,000): the ledger marks them done once the digest is posted.
	Keys []string
}

// DigestCount counts a digest's notifications of one kind and level.
type DigestCount struct {
	Kind  string
	Level Level
	N     int
}

// Key returns the digest's idempotency key, one per channel and window.
func (d *Digest) Key() string {
	return hashKey("d1-", d.Channel, strconv.FormatInt(d.Start.UnixNano(), 10))
}

// maxLevel returns the gravest level of d's notifications.
func (d *Digest) maxLevel() Level {
	var l Level
	for _, c := range d.Counts {
		l = max(l, c.Level)
	}
	return l
}

// graver orders notifications for a digest's top: the higher level first,
// then the earlier, then by event id.
func graver(a, b *Notification) int {
	if c := cmp.Compare(b.Level, a.Level); c != 0 {
		return c
	}
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	return cmp.Compare(a.EventID, b.EventID)
}

// throttle counts one channel's posts in fixed windows and folds the
// overflow into a pending digest. It is safe for concurrent use.
type throttle struct {
	channel string
	limit   int // -1: no limit
	window  time.Duration
	top     int

	mu      sync.Mutex
	start   time.Time           // the window's start; guarded by mu
	count   int                 // posts in the window; guarded by mu
	pending *Digest             // the overflow, nil when none; guarded by mu
	counts  map[DigestCount]int // pending's counts by kind and level (N unused); guarded by mu
	stop    func() bool         // cancels the end-of-window timer; guarded by mu
}

// admit decides for a notification at now: send reports that it may be
// posted now (it is counted); otherwise it was folded into the pending
// digest, and kept reports that the digest keeps its key (to mark it done
// once posted). flushed is a digest whose window has ended, for the caller to
// post (then counted as the first post of the new window), nil when none.
// schedule is called with the delay to the window's end when the first
// notification of a window is folded: the caller arranges a call of
// flush then.
func (t *throttle) admit(n *Notification, key string, now time.Time, schedule func(time.Duration) func() bool) (send, kept bool, flushed *Digest) {
	if t.limit < 0 {
		return true, false, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !now.Before(t.start.Add(t.window)) {
		flushed = t.takeLocked(now)
		t.start, t.count = now, 0
		if flushed != nil {
			t.count = 1
		}
	}
	if t.count < t.limit {
		t.count++
		return true, false, flushed
	}
	if t.pending == nil {
		t.pending = &Digest{Channel: t.channel, Start: t.start}
		t.counts = map[DigestCount]int{}
		t.stop = schedule(t.start.Add(t.window).Sub(now))
	}
	d := t.pending
	d.Total++
	t.counts[DigestCount{Kind: n.Kind, Level: n.Level}]++
	if len(d.Keys) < maxDigestKeys {
		d.Keys, kept = append(d.Keys, key), true
	}
	if len(d.Top) < t.top || t.top > 0 && graver(n, &d.Top[len(d.Top)-1]) < 0 {
		c := *n
		c.Context = nil // a digest lists alerts, not conversations
		i, _ := slices.BinarySearchFunc(d.Top, &c, func(a Notification, b *Notification) int { return graver(&a, b) })
		d.Top = slices.Insert(d.Top, i, c)
		if len(d.Top) > t.top {
			d.Top = d.Top[:t.top]
		}
	}
	return false, kept, flushed
}

// flush takes the pending digest at the window's end, starting a new
// window at now in which the digest is the first post; nil when there is
// none (already taken).
func (t *throttle) flush(now time.Time) *Digest {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.takeLocked(now)
	if d != nil {
		t.start, t.count = now, 1
	}
	return d
}

// takeLocked returns the pending digest, ended at now, and forgets it;
// nil when there is none. It stops the end-of-window timer.
func (t *throttle) takeLocked(now time.Time) *Digest {
	d := t.pending
	if d == nil {
		return nil
	}
	if t.stop != nil {
		t.stop()
	}
	t.pending, t.stop = nil, nil
	d.End = now
	for k, n := range t.counts {
		d.Counts = append(d.Counts, DigestCount{Kind: k.Kind, Level: k.Level, N: n})
	}
	slices.SortFunc(d.Counts, func(a, b DigestCount) int {
		if c := cmp.Compare(b.Level, a.Level); c != 0 {
			return c
		}
		return cmp.Compare(a.Kind, b.Kind)
	})
	t.counts = nil
	return d
}

// pacer spaces one channel's posts by at least interval. It is safe for
// concurrent use.
type pacer struct {
	interval time.Duration
	mu       sync.Mutex
	next     time.Time // the earliest time of the next post; guarded by mu
}

// reserve returns how long the caller must wait before posting, and
// books the slot.
func (p *pacer) reserve(now time.Time) time.Duration {
	if p.interval <= 0 {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	at := now
	if p.next.After(at) {
		at = p.next
	}
	p.next = at.Add(p.interval)
	return at.Sub(now)
}
