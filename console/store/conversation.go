package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xunjian/xunjian/gateway/stream/event"
)

// Conversation is what a supervisor reads of one conversation: its masked
// turns in order.
type Conversation struct {
	Tenant string `json:"tenant"`
	ID     string `json:"id"`
	// AgentID is the agent of the latest event of the conversation.
	AgentID string `json:"agent_id"`
	// Risk is the conversation's complaint risk after its latest event.
	Risk  float64 `json:"risk"`
	Turns []Turn  `json:"turns"`
}

// Turn is one masked message of a conversation.
type Turn struct {
	// EventID is the message's event; empty for a turn known only from
	// the context of an alert (a message that was never published, e.g. a
	// clean customer message).
	EventID string    `json:"event_id,omitempty"`
	Role    string    `json:"role"`
	TS      time.Time `json:"ts"`
	// AgentID is the conversation's agent per the turn's event (empty
	// without an event).
	AgentID string `json:"agent_id,omitempty"`
	// Action is the gateway's action on an agent draft; empty for a
	// customer message.
	Action string `json:"action,omitempty"`
	// Delivered reports whether the other side saw the message: false for
	// a draft blocked, held for an ack, or not taken by the chat backend.
	// The latest alert context that showed the turn is believed first,
	// then the event itself.
	Delivered  bool            `json:"delivered"`
	TextMasked string          `json:"text_masked"`
	Findings   []event.Finding `json:"findings"`
	// Risk is the conversation's risk after this message (0 without an
	// event).
	Risk    float64 `json:"risk"`
	Sampled bool    `json:"sampled"`
	// Alerts are the alerts the message raised, in the event's order.
	Alerts []Alert `json:"alerts"`
}

// Conversation returns the tenant's conversation id: its turns oldest
// first, each with its action, delivery, findings and the alerts it
// raised. It merges the events of the conversation with the turns of its
// alerts' contexts (a context turn and an event are one message when their
// role and millisecond agree). ErrNotFound when the tenant has no such
// conversation.
func (s *Store) Conversation(ctx context.Context, tenant, id string) (Conversation, error) {
	c := Conversation{Tenant: tenant, ID: id}
	wrap := func(err error) error { return fmt.Errorf("store: conversation %s: %w", id, err) }
	if tenant == "" {
		return Conversation{}, wrap(errors.New("empty tenant"))
	}

	type key struct {
		ts   int64
		role string
	}
	byKey := map[key]int{} // index in c.Turns
	byEvent := map[string]int{}

	rows, err := s.db.QueryContext(ctx, `SELECT event_id, role, ts_ms, agent_id, action, delivered, text_masked, findings, risk, sampled
		FROM events WHERE tenant = $1 AND conversation_id = $2 ORDER BY ts_ms, event_id`, tenant, id)
	if err != nil {
		return Conversation{}, wrap(err)
	}
	for rows.Next() {
		var (
			t        Turn
			ts       int64
			findings string
		)
		if err := rows.Scan(&t.EventID, &t.Role, &ts, &t.AgentID, &t.Action, &t.Delivered, &t.TextMasked, &findings, &t.Risk, &t.Sampled); err != nil {
			rows.Close()
			return Conversation{}, wrap(err)
		}
		t.TS = fromMS(ts)
		if t.Role != event.RoleAgent {
			t.Action = "" // never gated: the event's "allow" says nothing
		}
		if err := json.Unmarshal([]byte(findings), &t.Findings); err != nil {
			rows.Close()
			return Conversation{}, wrap(fmt.Errorf("findings of event %s: %w", t.EventID, err))
		}
		t.Alerts = []Alert{}
		byKey[key{ts, t.Role}] = len(c.Turns)
		byEvent[t.EventID] = len(c.Turns)
		c.AgentID, c.Risk = t.AgentID, t.Risk
		c.Turns = append(c.Turns, t)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return Conversation{}, wrap(err)
	}

	rows, err = s.db.QueryContext(ctx, `SELECT ts_ms, role, action, delivered, text_masked
		FROM context_turns WHERE tenant = $1 AND conversation_id = $2`, tenant, id)
	if err != nil {
		return Conversation{}, wrap(err)
	}
	for rows.Next() {
		var (
			t  Turn
			ts int64
		)
		if err := rows.Scan(&ts, &t.Role, &t.Action, &t.Delivered, &t.TextMasked); err != nil {
			rows.Close()
			return Conversation{}, wrap(err)
		}
		if i, ok := byKey[key{ts, t.Role}]; ok {
			// The event's turn, as an alert's context saw it later.
			c.Turns[i].Delivered = t.Delivered
			continue
		}
		t.TS, t.Findings, t.Alerts = fromMS(ts), []event.Finding{}, []Alert{}
		c.Turns = append(c.Turns, t)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return Conversation{}, wrap(err)
	}
	if len(c.Turns) == 0 {
		return Conversation{}, wrap(ErrNotFound)
	}
	slices.SortStableFunc(c.Turns, func(a, b Turn) int {
		if d := a.TS.Compare(b.TS); d != 0 {
			return d
		}
		return strings.Compare(a.EventID, b.EventID)
	})
	for i, t := range c.Turns {
		if t.EventID != "" {
			byEvent[t.EventID] = i
		}
	}

	alerts, err := queryAlerts(ctx, s.db, `SELECT `+alertColumns+` FROM alerts WHERE tenant = $1 AND conversation_id = $2 ORDER BY created_ms, event_id, idx`, tenant, id)
	if err != nil {
		return Conversation{}, wrap(err)
	}
	for _, a := range alerts {
		if i, ok := byEvent[a.EventID]; ok {
			c.Turns[i].Alerts = append(c.Turns[i].Alerts, a)
		}
	}
	return c, nil
}
