// Package api holds the wire types of the agent API that more than one
// front end writes: the verdict reply of POST /v1/check, of POST
// /v1/events and of a held or stopped proxied draft, which `xunjian check
// --jsonl` writes too, one per line, and the turns of inline context a
// client sends. docs/openapi.yaml documents them.
//
// They are apart from the pipeline's own types (package inspect), so the
// contract changes only when this package does.
package api

import (
	"time"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/rules"
)

// Reply is the verdict on one message, as the gateway answers it.
type Reply struct {
	// DecisionID names the decision, as the X-Xunjian-Decision header and
	// the event's event_id do.
	DecisionID string `json:"decision_id"`
	// Action is allow, warn, redact, confirm or block.
	Action rules.Action `json:"action"`
	// Findings are what the detectors found, with spans in code points of
	// the text as sent (never null).
	Findings []detectors.Finding `json:"findings"`
	// Reasons are the policy's reasons (never null).
	Reasons []rules.Reason `json:"reasons"`
	// Alerts are the supervisor alerts the message raised.
	Alerts []rules.Alert `json:"alerts,omitempty"`
	// Redacted is the text with private data masked, on redact and when a
	// held draft will be released masked once confirmed.
	Redacted string `json:"redacted,omitempty"`
	// Suggestion is a suggested rewrite, when a reason has one.
	Suggestion string `json:"suggestion,omitempty"`
	// Ack is the token that releases a held (confirm) draft when the
	// client sends it again with it.
	Ack string `json:"ack,omitempty"`
	// Acked is set when a held draft was sent again with a valid ack
	// token and is released.
	Acked bool `json:"acked,omitempty"`
	// FailOpen is set when inspection failed and the tenant's fail-open
	// mode released the message without a policy decision.
	FailOpen bool `json:"fail_open,omitempty"`
	// Degraded is set when the state the gateways share was unreachable
	// and the gateway decided on its own conversation context, limits and
	// ack record (shared_state.mode degrade).
	Degraded bool `json:"degraded,omitempty"`
	// PolicyRevision is the policy version that decided.
	PolicyRevision string `json:"policy_revision"`
	// LatencyUS is the inspection's time in microseconds.
	LatencyUS int64 `json:"latency_us"`
}

// NewReply returns the reply for v. It shares v's slices, which neither
// may change.
func NewReply(v *inspect.Verdict) Reply {
	return Reply{
		DecisionID: v.DecisionID, Action: v.Action, Findings: v.Findings, Reasons: v.Reasons, Alerts: v.Alerts,
		Redacted: v.Redacted, Suggestion: v.Suggestion, FailOpen: v.FailOpen, PolicyRevision: v.PolicyRevision,
		LatencyUS: v.LatencyUS,
	}
}

// Turn is one turn of the recent context a client sends inline with a
// draft (the "context" of POST /v1/check).
type Turn struct {
	Role string    `json:"role"`
	Text string    `json:"text"`
	TS   time.Time `json:"ts,omitzero"`
}

// Context returns ts as the pipeline takes inline context.
func Context(ts []Turn) []inspect.Turn {
	if ts == nil {
		return nil
	}
	out := make([]inspect.Turn, len(ts))
	for i, t := range ts {
		out[i] = inspect.Turn{Role: t.Role, Text: t.Text, TS: t.TS}
	}
	return out
}
