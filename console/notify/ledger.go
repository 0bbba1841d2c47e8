package notify

import (
	"context"
	"sync"
)

// Ledger records which deliveries are done, so that a delivery the
// platform accepted is not posted again after a restart. The console
// implements it with its database (a table keyed by the idempotency key);
// MemLedger is the in-memory one, for tests and single-process runs
// without restart safety. Implementations must be safe for concurrent use.
type Ledger interface {
	// Claim reports whether the delivery of key is done already (then it
	// is skipped) and, when it is not, records that it is being delivered.
	// An implementation shared by several consoles may also report done
	// while another process holds a fresh claim, to keep two consoles from
	// posting one alert at once; a claim that is never followed by Done
	// (a crash) must not stop a later delivery for ever.
	Claim(ctx context.Context, key string) (done bool, err error)
	// Done records that the delivery of key is done: the platform accepted
	// it (or, for a notification folded into a digest, the digest).
	Done(ctx context.Context, key string) error
}

// DeadLetters receives the deliveries that failed for good: a failure that
// no retry can fix (HTTP 4xx other than 408 and 429, a platform error
// code other than a rate limit), or the last attempt failed. The console
// stores them for an operator to see and re-send. Dead is called by the
// Dispatcher's workers, possibly concurrently; err is the last attempt's
// error (a *SendError, scrubbed of secrets).
type DeadLetters interface {
	Dead(ctx context.Context, d Delivery, err error) error
}

// MemLedger is a Ledger in memory: it forgets everything when the process
// ends. The zero value is ready to use.
type MemLedger struct {
	mu      sync.Mutex
	done    map[string]bool // guarded by mu
	claimed map[string]int  // claims per key; guarded by mu
}

// Claim reports whether key is done, and counts a claim when it is not.
func (l *MemLedger) Claim(_ context.Context, key string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done[key] {
		return true, nil
	}
	if l.claimed == nil {
		l.claimed = map[string]int{}
	}
	l.claimed[key]++
	return false, nil
}

// Done marks key done.
func (l *MemLedger) Done(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done == nil {
		l.done = map[string]bool{}
	}
	l.done[key] = true
	return nil
}

// IsDone reports whether key is done.
func (l *MemLedger) IsDone(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done[key]
}

// Claims returns how many times key was claimed while not done.
func (l *MemLedger) Claims(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.claimed[key]
}
