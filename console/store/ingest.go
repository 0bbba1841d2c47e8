package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/xunjian/xunjian/gateway/stream/event"
)

// Ingest stores an event consumed from topic at (partition, offset) and
// reports whether this delivery was new. It is idempotent by (event_id,
// topic): a redelivery of a copy already ingested, after a consumer
// restart or rebalance, changes nothing and returns inserted = false, also
// when several consumers ingest it at once.
//
// What is stored:
//   - the message (a turn of its conversation), from whichever copy of the
//     event comes first: tenant, conversation, agent, role, ts, action,
//     whether it was delivered, text_masked, the findings (as JSON, and
//     one row each for the counters), risk, sampled;
//   - from the copy of the alerts topic only: one alert per event alert,
//     state new, with the agent's team (SetAgentTeams); and the context
//     turns, so that Conversation shows turns that were never published
//     as events;
//   - from the copy of the samples topic only: text_enc, the raw text
//     sealed for auditors, still sealed (the store never opens it); and,
//     for the conversation's first event there, its review tasks, as the
//     TaskPlanner decides (none without one). Tasks are made once per
//     conversation: a later event, a redelivery or another console
//     ingesting the same event adds none.
//
// Never stored: the text_enc of an event of the other topics.
func (s *Store) Ingest(ctx context.Context, ev *event.Event, topic string, partition int, offset int64) (inserted bool, err error) {
	switch {
	case ev == nil:
		return false, errors.New("store: ingest: nil event")
	case ev.EventID == "" || ev.Tenant == "" || ev.ConversationID == "":
		return false, fmt.Errorf("store: ingest event %q: event_id, tenant and conversation_id are required", ev.EventID)
	case topic == "":
		return false, fmt.Errorf("store: ingest event %s: empty topic", ev.EventID)
	}
	findings := ev.Findings
	if findings == nil {
		findings = []event.Finding{}
	}
	findingsJSON, err := json.Marshal(findings)
	if err != nil {
		return false, fmt.Errorf("store: ingest event %s: findings: %w", ev.EventID, err)
	}
	now := ms(s.now())
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO ingested (event_id, topic, kafka_partition, kafka_offset, ingested_ms)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id, topic) DO NOTHING`,
			ev.EventID, topic, int64(partition), offset, now)
		if err != nil {
			return fmt.Errorf("ingested: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("ingested: %w", err)
		} else if n == 0 {
			return nil // a redelivery
		}
		inserted = true

		var team sql.NullString
		err = tx.QueryRowContext(ctx, `SELECT team FROM agent_teams WHERE tenant = $1 AND agent_id = $2`, ev.Tenant, ev.AgentID).Scan(&team)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("agent team: %w", err)
		}

		if err := s.insertEvent(ctx, tx, ev, team, string(findingsJSON), now); err != nil {
			return err
		}
		if topic == s.samplesTopic {
			return s.ingestSample(ctx, tx, ev, team, now)
		}
		if topic != s.alertsTopic {
			return nil
		}
		for i, al := range ev.Alerts {
			level, _ := ParseLevel(al.Level) // unknown: rank 0, stored all the same
			if _, err := tx.ExecContext(ctx, `INSERT INTO alerts (event_id, idx, tenant, team, agent_id, conversation_id, level, level_rank, kind, message, risk, created_ms, updated_ms)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (event_id, idx) DO NOTHING`,
				ev.EventID, int64(i), ev.Tenant, team, ev.AgentID, ev.ConversationID, al.Level, int64(level), al.Kind, al.Message,
				ev.Risk, ms(ev.TS), now); err != nil {
				return fmt.Errorf("alert %d: %w", i, err)
			}
		}
		for i, t := range ev.Context {
			// A turn seen by a later alert replaces what an earlier one
			// said of it: a draft's delivery is known better later.
			if _, err := tx.ExecContext(ctx, `INSERT INTO context_turns (tenant, conversation_id, ts_ms, role, action, delivered, text_masked, seen_ms)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
				ON CONFLICT (tenant, conversation_id, ts_ms, role) DO UPDATE SET
					action = excluded.action, delivered = excluded.delivered, text_masked = excluded.text_masked, seen_ms = excluded.seen_ms
				WHERE excluded.seen_ms > context_turns.seen_ms`,
				ev.Tenant, ev.ConversationID, ms(t.TS), t.Role, t.Action, t.Delivered, t.TextMasked, ms(ev.TS)); err != nil {
				return fmt.Errorf("context turn %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: ingest event %s from %s[%d]@%d: %w", ev.EventID, topic, partition, offset, err)
	}
	return inserted, nil
}

// insertEvent stores the event's message and findings unless another copy
// of the event stored them first; that copy must be of the same tenant and
// conversation.
func (s *Store) insertEvent(ctx context.Context, tx *sql.Tx, ev *event.Event, team sql.NullString, findingsJSON string, now int64) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO events (event_id, tenant, conversation_id, agent_id, team, role, ts_ms, action, delivered,
			text_masked, findings, risk, sampled, fail_open, agent_claimed, policy_revision, route, ingested_ms)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
		ON CONFLICT (event_id) DO NOTHING`,
		ev.EventID, ev.Tenant, ev.ConversationID, ev.AgentID, team, ev.Role, ms(ev.TS), ev.Action.String(), delivered(ev),
		ev.TextMasked, findingsJSON, ev.Risk, ev.Sampled, ev.FailOpen, ev.AgentClaimed, ev.PolicyRevision, ev.Route, now)
	if err != nil {
		return fmt.Errorf("event: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("event: %w", err)
	}
	if n == 0 {
		var tenant, conv string
		if err := tx.QueryRowContext(ctx, `SELECT tenant, conversation_id FROM events WHERE event_id = $1`, ev.EventID).Scan(&tenant, &conv); err != nil {
			return fmt.Errorf("event: %w", err)
		}
		if tenant != ev.Tenant || conv != ev.ConversationID {
			return ErrTenantMismatch
		}
		return nil
	}
	for i, f := range ev.Findings {
		if _, err := tx.ExecContext(ctx, `INSERT INTO findings (event_id, idx, tenant, team, agent_id, ts_ms, detector, kind, severity)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			ev.EventID, int64(i), ev.Tenant, team, ev.AgentID, ms(ev.TS), f.Detector, f.Kind, f.Severity.String()); err != nil {
			return fmt.Errorf("finding %d: %w", i, err)
		}
	}
	return nil
}

// delivered tells, as far as the event knows, whether its message reached
// the other side: what the last context turn, the message itself, says
// when the event has context; otherwise a customer message always, an
// agent draft when the gateway released it (allow, warn, redact).
func delivered(ev *event.Event) bool {
	if n := len(ev.Context); n > 0 {
		t := ev.Context[n-1]
		if t.Role == ev.Role && ms(t.TS) == ms(ev.TS) {
			return t.Delivered
		}
	}
	return ev.Role != event.RoleAgent || ev.Action < event.ActionConfirm
}
