package inspect

import (
	"context"
	"time"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/rules"
)

// SecondOpinion gives a second opinion on drafts the learned model scored
// in a grey zone (gateway/opinion implements it over an OpenAI-compatible
// chat-completions endpoint). A Session consults it after the policy has
// decided and before the message is recorded, so the opinion goes to the
// record (the event, replay) with the verdict.
type SecondOpinion interface {
	// Consult returns the opinion on q, and false when q does not qualify
	// (no grey-zone finding, the tenant's mode is off): then nothing was
	// asked and no time spent. It must return by ctx's deadline, with the
	// failure recorded in Opinion.Error rather than an error: a second
	// opinion that could not be had never fails the message.
	Consult(ctx context.Context, q *Consultation) (Opinion, bool)
}

// Consultation is what a second opinion is asked about: one inspected
// message, as the pipeline masked it.
type Consultation struct {
	// Tenant is the message's tenant, whose mode applies.
	Tenant string
	// Role is the message's role (RoleAgent or RoleCustomer).
	Role string
	// Lang is the pipeline's guess of the message's language, "zh" or
	// "en".
	Lang string
	// Text is the message with its private data masked: it is all that
	// may leave the gateway.
	Text string
	// Findings are the pipeline's findings, the learned model's among
	// them (Rule "model:<version>", with a Score).
	Findings []detectors.Finding
	// Action is what the policy decided.
	Action rules.Action
}

// The verdicts of an Opinion.
const (
	// OpinionOK: none of the kinds asked about.
	OpinionOK = "ok"
	// OpinionHarmful: at least one of them (Opinion.Kinds).
	OpinionHarmful = "harmful"
)

// The modes of an Opinion.
const (
	// OpinionShadow: recorded, never part of the action.
	OpinionShadow = "shadow"
	// OpinionEnforce: a harmful opinion holds a draft the policy released
	// (Session).
	OpinionEnforce = "enforce"
)

// Opinion is the outcome of one Consult: the second opinion, or why there
// is none.
type Opinion struct {
	// Verdict is OpinionOK or OpinionHarmful; empty when Error is set.
	Verdict string
	// Kinds are the kinds a harmful opinion found ("tone.rude").
	Kinds []string
	// Reason is the opinion's one-line reason: free text from outside
	// the gateway, masked again wherever it is recorded.
	Reason string
	// Model is the model that answered.
	Model string
	// Mode is the tenant's mode: OpinionShadow or OpinionEnforce.
	Mode string
	// Error names why there is no opinion: "timeout", "busy",
	// "unavailable", "bad_answer", "closed", "canceled" or "error".
	Error string
	// Latency is how long the call took.
	Latency time.Duration
	// Applied is set when the opinion changed the action (enforce mode
	// only).
	Applied bool
}

// OpinionRule is the Rule of the reason a Session adds when an enforced
// harmful opinion holds a draft.
const OpinionRule = "second_opinion.harmful"

// consult asks s.Opinion about the inspected message m (verdict v, next
// conversation next, whose last turn is the message masked) under ctx, and
// records the opinion in v. An enforced harmful opinion on an agent draft
// the policy released holds it (confirm), with a reason of its own; an ok
// opinion never loosens the policy's action.
func (s *Session) consult(ctx context.Context, m *Message, v *Verdict, next *Conversation) {
	last := len(next.Recent) - 1
	if s.Opinion == nil || last < 0 {
		return
	}
	turn := &next.Recent[last] // next is this Session's own (Inspect copies)
	op, ok := s.Opinion.Consult(ctx, &Consultation{
		Tenant: m.TenantID, Role: m.Role, Lang: v.Lang, Text: turn.Text, Findings: v.Findings, Action: v.Action,
	})
	if !ok {
		return
	}
	if op.Mode == OpinionEnforce && op.Verdict == OpinionHarmful && m.Role == RoleAgent && v.Action < rules.Confirm {
		op.Applied = true
		v.Action = rules.Confirm
		msg := "second opinion: harmful"
		if v.Lang == "zh" {
			msg = "复核模型判定不宜发送"
		}
		// Reasons may be shared with the decision cache: never append in
		// place.
		v.Reasons = append(v.Reasons[:len(v.Reasons):len(v.Reasons)], rules.Reason{Rule: OpinionRule, Action: rules.Confirm, Message: msg})
		turn.Action, turn.Delivered = v.Action.String(), released(v.Action, m.Acked)
	}
	v.Opinion = &op
}
