package api

import (
	"time"

	"github.com/xunjian/xunjian/console/store"
)

// The JSON of docs/console.md. The store's types are converted rather
// than sent as they are, so that every field of the contract is present
// (the store omits empty ones) and nothing else is (a finding's rule and
// lexicon).

// alertJSON is an Alert.
type alertJSON struct {
	ID             int64     `json:"id"`
	EventID        string    `json:"event_id"`
	Tenant         string    `json:"tenant"`
	Team           string    `json:"team"`
	AgentID        string    `json:"agent_id"`
	ConversationID string    `json:"conversation_id"`
	Level          string    `json:"level"`
	Kind           string    `json:"kind"`
	Message        string    `json:"message"`
	Risk           float64   `json:"risk"`
	CreatedAt      time.Time `json:"created_at"`
	State          string    `json:"state"`
	Assignee       string    `json:"assignee"`
	Note           string    `json:"note"`
	Version        int64     `json:"version"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func alertOf(a store.Alert) alertJSON {
	return alertJSON{
		ID: a.ID, EventID: a.EventID, Tenant: a.Tenant, Team: a.Team, AgentID: a.AgentID, ConversationID: a.ConversationID,
		Level: a.Level.String(), Kind: a.Kind, Message: a.Message, Risk: a.Risk, CreatedAt: a.CreatedAt.UTC(),
		State: string(a.State), Assignee: a.Assignee, Note: a.Note, Version: a.Version, UpdatedAt: a.UpdatedAt.UTC(),
	}
}

func alertsOf(as []store.Alert) []alertJSON {
	out := make([]alertJSON, len(as))
	for i, a := range as {
		out[i] = alertOf(a)
	}
	return out
}

// changeJSON is a Change.
type changeJSON struct {
	Actor    string    `json:"actor"`
	At       time.Time `json:"at"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Assignee string    `json:"assignee"`
	Note     string    `json:"note"`
}

// conversationJSON is a Conversation.
type conversationJSON struct {
	Tenant  string     `json:"tenant"`
	ID      string     `json:"id"`
	AgentID string     `json:"agent_id"`
	Risk    float64    `json:"risk"`
	Turns   []turnJSON `json:"turns"`
}

type turnJSON struct {
	EventID    string        `json:"event_id"`
	Role       string        `json:"role"`
	TS         time.Time     `json:"ts"`
	AgentID    string        `json:"agent_id"`
	Action     string        `json:"action"`
	Delivered  bool          `json:"delivered"`
	TextMasked string        `json:"text_masked"`
	Findings   []findingJSON `json:"findings"`
	Risk       float64       `json:"risk"`
	Sampled    bool          `json:"sampled"`
	Alerts     []alertJSON   `json:"alerts"`
}

type findingJSON struct {
	Detector string  `json:"detector"`
	Kind     string  `json:"kind"`
	Severity string  `json:"severity"`
	Score    float64 `json:"score"`
	Start    int     `json:"start"`
	End      int     `json:"end"`
	Evidence string  `json:"evidence"`
}

// conversationOf converts c, keeping of each turn's alerts those keep
// accepts.
func conversationOf(c store.Conversation, keep func(store.Alert) bool) conversationJSON {
	out := conversationJSON{Tenant: c.Tenant, ID: c.ID, AgentID: c.AgentID, Risk: c.Risk, Turns: make([]turnJSON, len(c.Turns))}
	for i, t := range c.Turns {
		tj := turnJSON{
			EventID: t.EventID, Role: t.Role, TS: t.TS.UTC(), AgentID: t.AgentID, Action: t.Action, Delivered: t.Delivered,
			TextMasked: t.TextMasked, Findings: make([]findingJSON, len(t.Findings)), Risk: t.Risk, Sampled: t.Sampled,
			Alerts: []alertJSON{},
		}
		for j, f := range t.Findings {
			tj.Findings[j] = findingJSON{Detector: f.Detector, Kind: f.Kind, Severity: f.Severity.String(), Score: f.Score,
				Start: f.Start, End: f.End, Evidence: f.Evidence}
		}
		for _, a := range t.Alerts {
			if keep(a) {
				tj.Alerts = append(tj.Alerts, alertOf(a))
			}
		}
		out.Turns[i] = tj
	}
	return out
}

// bucketJSON is a bucket of GET /api/agents/{id}/stats.
type bucketJSON struct {
	Start    time.Time `json:"start"`
	Findings int       `json:"findings"`
	Alerts   int       `json:"alerts"`
}

// deadLetterJSON is a dead letter of GET /api/dead-letters.
type deadLetterJSON struct {
	ID        int64     `json:"id"`
	Key       string    `json:"key"`
	Channel   string    `json:"channel"`
	Summary   string    `json:"summary"`
	Error     string    `json:"error"`
	CreatedAt time.Time `json:"created_at"`
}
