package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/errcode"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/internal/ack"
	"github.com/xunjian/xunjian/gateway/stream"
	"github.com/xunjian/xunjian/rules"
)

// verdict inspects m for principal p with in (one policy version for the
// whole request, whatever reloads meanwhile), in its conversation's
// context, and applies acks and the tenant's fail mode. On false it has written the
// error reply.
func (s *Server) verdict(ctx *fasthttp.RequestCtx, p auth.Principal, in *inspect.Inspector, m message) (*inspect.Verdict, bool) {
	// The agent is who the credential says; a credential that pins none
	// (a shared integration key) has the body's agent id recorded as
	// claimed, and is limited as a whole as well as per claimed agent.
	agent, claimed := p.Agent, false
	if agent == "" {
		agent, claimed = m.agent, m.agent != ""
	}
	now := s.now()
	if !s.limiter.Allow(p.Tenant, agent, now) || (p.Agent == "" && p.Credential != "" && !s.credLimiter.Allow(p.Tenant, p.Credential, now)) {
		s.metrics.Rejected("rate_limit")
		ctx.Response.Header.Set("Retry-After", "1")
		writeError(ctx, errcode.RateLimited, "too many requests for this agent or credential")
		return nil, false
	}
	// Admission before inspection: under overload a draft is refused with
	// Retry-After, never run past its deadline into the fail mode.
	if !s.admit() {
		s.metrics.Rejected("overloaded")
		ctx.Response.Header.Set("Retry-After", "1")
		writeError(ctx, errcode.Overloaded, "the gateway is at capacity and did not inspect the message; it was not sent, try again")
		return nil, false
	}
	defer s.release()
	req := inspect.Request{Text: m.text, Role: m.role, ConversationID: m.conversation, AgentID: agent, TenantID: p.Tenant, Acked: m.ack != ""}
	ictx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.InspectTimeout.D())
	defer cancel()
	var (
		v         inspect.Verdict
		err       error
		published = true
	)
	// The event is written with the inspection, under the conversation's
	// lock, so a conversation's events keep the order of its messages.
	publish := func(pv *inspect.Verdict, c *inspect.Conversation) bool {
		em := stream.Message{
			Tenant: p.Tenant, ConversationID: m.conversation, AgentID: agent, AgentClaimed: claimed, Role: req.Role, Route: m.route,
			Verdict: pv, Risk: c.Risk, Recent: c.Recent, Raw: m.text, Now: now,
		}
		if n := len(c.Recent); n > 0 {
			em.Masked = c.Recent[n-1].Text
		}
		// Not ictx: a spool write is not abandoned halfway for a deadline.
		return s.publish(context.Background(), em)
	}
	// A verdict the pipeline reached stands, even a little past the
	// deadline: the fail mode is for drafts the policy could not decide,
	// never a way to release a decided draft above its action.
	if m.conversation == "" {
		var conv *inspect.Conversation
		if conv, err = inlineConversation(ictx, in, m, now); err == nil {
			if v, err = in.Inspect(ictx, req, conv, now); err == nil {
				published = publish(&v, conv)
			}
		}
	} else {
		s.convs.Update(p.Tenant, m.conversation, func(c *inspect.Conversation) {
			base := c
			if c.Turns == 0 && len(m.context) > 0 {
				if base, err = inlineConversation(ictx, in, m, now); err != nil {
					return
				}
			}
			// Inspect a copy: a refused, failed or held message leaves
			// the conversation as it was.
			work := base.Clone()
			if v, err = in.Inspect(ictx, req, &work, now); err == nil {
				if published = publish(&v, &work); published {
					*c = work
				}
			}
		})
	}
	if err == nil && published {
		published = s.commit()
	}
	if err == nil && !published {
		s.metrics.Rejected("events_unavailable")
		ctx.Response.Header.Set("Retry-After", "1")
		writeError(ctx, errcode.EventsUnavailable, "the message could not be recorded for audit (event spool full) and was held; try again")
		return nil, false
	}
	switch {
	case errors.Is(err, inspect.ErrInvalid):
		s.metrics.Rejected("bad_request")
		writeError(ctx, errcode.InvalidField, err.Error())
		return nil, false
	case err != nil:
		return s.failed(ctx, p, in, req, err, publish)
	}
	for _, f := range v.Findings {
		s.metrics.Finding(f.Detector, f.Kind)
	}
	for _, r := range v.Shadow {
		s.metrics.ShadowFire(r.Rule, r.Action.String())
	}
	if v.Action == rules.Confirm {
		if m.ack == "" {
			v.Ack = s.acks.Issue(p.Tenant, m.conversation, m.text, now)
		} else if err := s.acks.Redeem(m.ack, p.Tenant, m.conversation, m.text, now); err != nil {
			code := errcode.AckInvalid
			switch {
			case errors.Is(err, ack.ErrAckUsed):
				code = errcode.AckUsed
			case errors.Is(err, ack.ErrAckExpired):
				code = errcode.AckExpired
			case errors.Is(err, ack.ErrAckMismatch):
				code = errcode.AckMismatch
			}
			s.undelivered(p.Tenant, m.conversation, v.DecisionID) // recorded as released by its ack
			writeError(ctx, code, "the ack token does not release this message: "+code.String())
			return nil, false
		} else {
			v.Acked = true
		}
	}
	return &v, true
}

// failed applies the tenant's fail mode to a draft the policy could not
// decide (err). Fail closed holds it with 503. Fail open releases it only
// when the detectors ran and found nothing but private data, which is
// masked (action redact); a draft with any other finding, or one the
// detectors could not screen, is held whatever the mode. Every release is
// flagged (fail_open) in the reply and the event, and counted.
func (s *Server) failed(ctx *fasthttp.RequestCtx, p auth.Principal, in *inspect.Inspector, req inspect.Request, err error,
	publish func(*inspect.Verdict, *inspect.Conversation) bool) (*inspect.Verdict, bool) {
	mode := s.cfg.Tenants[p.Tenant].FailMode
	if mode == "" {
		mode = config.FailClosed
	}
	s.metrics.InspectionFailure(mode)
	attrs := []slog.Attr{slog.String("tenant", p.Tenant), slog.String("mode", mode), slog.String("error", err.Error())}
	if rule, ok := rules.InvalidDecisionRule(err); ok {
		s.metrics.InvalidDecision(rule)
		attrs = append(attrs, slog.String("rule", rule))
	}
	s.log.LogAttrs(context.Background(), slog.LevelError, "inspection failed", attrs...)
	if mode != config.FailOpen {
		writeError(ctx, errcode.InspectionFailed, "the message could not be inspected in time and was held; try again")
		return nil, false
	}
	screen, serr := in.Screen(req)
	if serr != nil || !screen.PrivacyOnly() {
		s.metrics.FailOpenHeld()
		writeError(ctx, errcode.InspectionFailed,
			"the policy could not decide and the detectors found more than private data, so the message was held even though this tenant fails open; try again")
		return nil, false
	}
	// A decision id of its own, as every verdict has: the client, the
	// X-Xunjian-Decision header and the event name the same release.
	v := inspect.Verdict{DecisionID: uuid.Must(uuid.NewV7()).String(), Action: rules.Allow, Findings: screen.Findings,
		Reasons: []rules.Reason{}, FailOpen: true, PolicyRevision: in.Policy().Revision()}
	if screen.Masked != req.Text {
		v.Action, v.Redacted = rules.Redact, screen.Masked
	}
	// Supervisors see every uninspected release (findings topic).
	turn := inspect.Turn{Role: req.Role, Text: screen.Masked, TS: s.now(), Delivered: true}
	if req.Role == inspect.RoleAgent {
		turn.Action = v.Action.String()
	}
	conv := &inspect.Conversation{ID: req.ConversationID, Recent: []inspect.Turn{turn}}
	if !publish(&v, conv) || !s.commit() {
		writeError(ctx, errcode.EventsUnavailable, "the message could not be inspected nor recorded for audit and was held; try again")
		return nil, false
	}
	s.metrics.FailOpenReleased()
	return &v, true
}

// inlineConversation replays the turns a client sent inline, so the policy
// sees the conversation's risk and wait without server-side state. A turn
// the pipeline refuses (empty, too long) is skipped; any other error, the
// deadline's among them, is returned.
func inlineConversation(ctx context.Context, in *inspect.Inspector, m message, now time.Time) (*inspect.Conversation, error) {
	conv := &inspect.Conversation{ID: m.conversation}
	for _, t := range m.context {
		ts := t.TS
		if ts.IsZero() || ts.After(now) {
			ts = now
		}
		if _, err := in.Inspect(ctx, inspect.Request{Text: t.Text, Role: t.Role, ConversationID: m.conversation}, conv, ts); err != nil && !errors.Is(err, inspect.ErrInvalid) {
			return nil, fmt.Errorf("context: %w", err)
		}
	}
	// The client's history is what the conversation showed: delivered,
	// whatever today's policy would make of its agent turns.
	for i := range conv.Recent {
		conv.Recent[i].Delivered = true
	}
	return conv, nil
}

// undelivered records that the draft of decision id, recorded as released,
// did not reach the customer (the backend was not reached, its ack was
// refused), so later alerts do not show the customer a turn they never saw.
func (s *Server) undelivered(tenant, conversation, id string) {
	if conversation == "" || id == "" {
		return
	}
	s.convs.Update(tenant, conversation, func(c *inspect.Conversation) { c.SetDelivered(id, false) })
}
