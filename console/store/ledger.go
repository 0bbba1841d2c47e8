package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The notifier's ledger. A notifier posting alerts to chat channels works
// at least once: for each notification it Claims a key of its own (say
// the alert id and the channel), sends unless the key is done, then marks
// it Done. A redelivered alert, or a console restarted between a send and
// Kafka's offset commit, finds its key done and is not posted twice. A
// send that fails for good goes to Dead, for an operator to read with
// DeadLetters.
//
// The ledger is not a lock: two consoles that claim one key at once (a
// Kafka rebalance) may both send. It is the operator's, not a tenant's:
// its keys are the notifier's.

// Limits of what Dead keeps of the texts it is given.
const (
	maxSummary = 1024
	maxError   = 2048
)

// Claim records an attempt to deliver key and reports whether key is
// already done, in which case the caller must not deliver it again.
func (s *Store) Claim(ctx context.Context, key string) (done bool, err error) {
	if key == "" {
		return false, errors.New("store: claim: empty key")
	}
	// The update is skipped for a done key, so that RETURNING gives no
	// row: one statement, atomic in both dialects.
	var attempts int64
	err = s.db.QueryRowContext(ctx, `INSERT INTO deliveries (delivery_key, attempts, claimed_ms) VALUES ($1, 1, $2)
		ON CONFLICT (delivery_key) DO UPDATE SET attempts = deliveries.attempts + 1, claimed_ms = excluded.claimed_ms
		WHERE deliveries.done_ms IS NULL
		RETURNING attempts`, key, ms(s.now())).Scan(&attempts)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("store: claim %q: %w", key, err)
	}
	return false, nil
}

// Done marks key delivered: every later Claim of it reports done. Marking
// a key done twice, or one never claimed, is not an error.
func (s *Store) Done(ctx context.Context, key string) error {
	if key == "" {
		return errors.New("store: done: empty key")
	}
	now := ms(s.now())
	if _, err := s.db.ExecContext(ctx, `INSERT INTO deliveries (delivery_key, attempts, claimed_ms, done_ms) VALUES ($1, 0, $2, $2)
		ON CONFLICT (delivery_key) DO UPDATE SET done_ms = COALESCE(deliveries.done_ms, excluded.done_ms)`, key, now); err != nil {
		return fmt.Errorf("store: done %q: %w", key, err)
	}
	return nil
}

// DeadLetter is a notification the notifier gave up on.
type DeadLetter struct {
	ID      int64  `json:"id"`
	Key     string `json:"key"`
	Channel string `json:"channel"`
	// Summary says what was to be sent (masked, as alerts are), cut to
	// 1 KiB.
	Summary string `json:"summary"`
	// Error is the last error, cut to 2 KiB.
	Error     string    `json:"error"`
	CreatedAt time.Time `json:"created_at"`
}

// Dead records that the notification key to channel failed for good with
// errText; summary says what it was (already masked: never a raw text).
func (s *Store) Dead(ctx context.Context, key, channel, summary, errText string) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO dead_letters (delivery_key, channel, summary, error, created_ms) VALUES ($1, $2, $3, $4, $5)`,
		key, channel, truncate(summary, maxSummary), truncate(errText, maxError), ms(s.now())); err != nil {
		return fmt.Errorf("store: dead letter %q: %w", key, err)
	}
	return nil
}

// DeadLetters returns the latest limit dead letters (DefaultLimit when
// limit <= 0, at most MaxLimit), newest first.
func (s *Store) DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	switch {
	case limit <= 0:
		limit = DefaultLimit
	case limit > MaxLimit:
		limit = MaxLimit
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, delivery_key, channel, summary, error, created_ms FROM dead_letters
		ORDER BY created_ms DESC, id DESC LIMIT $1`, int64(limit))
	if err != nil {
		return nil, fmt.Errorf("store: dead letters: %w", err)
	}
	defer rows.Close()
	out := []DeadLetter{}
	for rows.Next() {
		var (
			d       DeadLetter
			created int64
		)
		if err := rows.Scan(&d.ID, &d.Key, &d.Channel, &d.Summary, &d.Error, &created); err != nil {
			return nil, fmt.Errorf("store: dead letters: %w", err)
		}
		d.CreatedAt = fromMS(created)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: dead letters: %w", err)
	}
	return out, nil
}

// truncate cuts s to at most n bytes, on a UTF-8 boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 { // s[n] continues a code point
		n--
	}
	return s[:n]
}
