package notify

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/xunjian/xunjian/gateway/stream/event"
)

// Level is an alert's level, as the event's alerts[].level names it. The
// zero value is not a level: an alert always has one.
type Level uint8

// The levels, weakest first; routes compare them (RouteConfig.MinLevel).
const (
	LevelLow Level = iota + 1
	LevelMedium
	LevelHigh
	LevelCritical
)

// String returns the level's name (low … critical), or "level(N)".
func (l Level) String() string {
	switch l {
	case LevelLow:
		return "low"
	case LevelMedium:
		return "medium"
	case LevelHigh:
		return "high"
	case LevelCritical:
		return "critical"
	}
	return fmt.Sprintf("level(%d)", uint8(l))
}

// Valid reports whether l is one of the four levels.
func (l Level) Valid() bool { return l >= LevelLow && l <= LevelCritical }

// ParseLevel returns the level named s (low, medium, high or critical,
// exact and lower case, as the event schema writes them).
func ParseLevel(s string) (Level, error) {
	for l := LevelLow; l <= LevelCritical; l++ {
		if l.String() == s {
			return l, nil
		}
	}
	return 0, fmt.Errorf("notify: unknown alert level %q (want low, medium, high or critical)", s)
}

// Notification is one alert to deliver: what a supervisor needs to see
// and act on. Its text fields hold masked text only (the event's); the
// package sends them as given.
//
// A Notification is not changed once submitted: the Dispatcher keeps its
// own copy.
type Notification struct {
	// EventID is the event's id (UUIDv7), part of the idempotency key.
	EventID string
	// Time is when the gateway inspected the message (the event's ts).
	Time time.Time
	// Tenant is the event's tenant.
	Tenant string
	// Team is the agent's team (agent group), which routes may match. The
	// event does not carry it: the caller fills it from its directory, or
	// leaves it empty when unknown.
	Team string
	// ConversationID is the conversation, linked to in the console.
	ConversationID string
	// AgentID is the conversation's agent.
	AgentID string
	// Level is the alert's level.
	Level Level
	// Kind is the alert's kind (complaint, risk, wait, …), part of the
	// idempotency key; routes may match it.
	Kind string
	// Message is the alert's message, masked.
	Message string
	// Risk is the conversation's complaint risk in [0, 1], zero when the
	// event has none.
	Risk float64
	// Context holds the conversation's last turns, masked, oldest first
	// (the event's context).
	Context []event.Turn
}

// FromEvent returns one Notification per alert of e, in the alerts'
// order, each for team (the agent's team, "" when unknown). An event
// never raises two alerts of one kind (the gateway deduplicates per
// conversation and kind); should it, the first of the highest level is
// kept, so that the idempotency key stays one per kind. An event without
// alerts yields none. It fails on an alert whose level the schema does not
// know, or without a kind.
func FromEvent(e *event.Event, team string) ([]Notification, error) {
	var out []Notification
	for i, a := range e.Alerts {
		lvl, err := ParseLevel(a.Level)
		if err != nil {
			return nil, fmt.Errorf("notify: event %s: alerts[%d]: %w", e.EventID, i, err)
		}
		if a.Kind == "" {
			return nil, fmt.Errorf("notify: event %s: alerts[%d]: no kind", e.EventID, i)
		}
		if j := slices.IndexFunc(out, func(n Notification) bool { return n.Kind == a.Kind }); j >= 0 {
			if lvl > out[j].Level {
				out[j].Level, out[j].Message = lvl, a.Message
			}
			continue
		}
		out = append(out, Notification{
			EventID:        e.EventID,
			Time:           e.TS,
			Tenant:         e.Tenant,
			Team:           team,
			ConversationID: e.ConversationID,
			AgentID:        e.AgentID,
			Level:          lvl,
			Kind:           a.Kind,
			Message:        a.Message,
			Risk:           e.Risk,
			Context:        slices.Clone(e.Context),
		})
	}
	return out, nil
}

// Key returns the idempotency key of n's delivery to the channel named
// channel: one per (event id, alert kind, channel name), the same in every
// process and after a restart. It is "n1-" and 32 hex digits (128 bits of
// SHA-256 over the three, each length-prefixed so that no two triples
// share an input).
func (n *Notification) Key(channel string) string {
	return hashKey("n1-", n.EventID, n.Kind, channel)
}

// hashKey returns prefix and the first 128 bits of SHA-256 over parts,
// each prefixed with its length, in hex.
func hashKey(prefix string, parts ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return prefix + hex.EncodeToString(h.Sum(nil)[:16])
}

// check returns what makes n undeliverable, or nil.
func (n *Notification) check() error {
	var errs []error
	if n.EventID == "" {
		errs = append(errs, errors.New("no event id"))
	}
	if n.Kind == "" {
		errs = append(errs, errors.New("no kind"))
	}
	if !n.Level.Valid() {
		errs = append(errs, fmt.Errorf("invalid level %d", uint8(n.Level)))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("notification %s: %w", n.EventID, err)
	}
	return nil
}

// LogValue implements slog.LogValuer with n's ids, level and kind: never
// its text, masked as it is.
func (n Notification) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("event_id", n.EventID),
		slog.String("tenant", n.Tenant),
		slog.String("conversation_id", n.ConversationID),
		slog.String("agent_id", n.AgentID),
		slog.String("level", n.Level.String()),
		slog.String("kind", n.Kind),
	)
}
