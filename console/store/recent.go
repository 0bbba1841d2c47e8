package store

import (
	"context"
	"fmt"
	"time"
)

// AlertsSince returns up to limit alerts of every tenant created at or
// after since, oldest first (by time, then id), after the alert afterID
// of that time when afterID is not zero: for the console's own recovery
// at start, which pages through them (since and afterID of the last one
// read) and offers them to the notifier again (its ledger skips those
// already posted). It is the operator's view, never a tenant's: the API
// must not expose it.
func (s *Store) AlertsSince(ctx context.Context, since time.Time, afterID int64, limit int) ([]Alert, error) {
	if limit <= 0 {
		limit = MaxLimit
	}
	out, err := queryAlerts(ctx, s.db, `SELECT `+alertColumns+` FROM alerts WHERE created_ms > $1 OR (created_ms = $1 AND id > $2)
		ORDER BY created_ms, id LIMIT $3`, ms(since), afterID, int64(limit))
	if err != nil {
		return nil, fmt.Errorf("store: alerts since %s: %w", since.Format(time.RFC3339), err)
	}
	return out, nil
}

// Ping reports whether the database answers, for the console's readiness.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}
