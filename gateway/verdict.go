package gateway

import (
	"context"
	"errors"
	"log/slog"

	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/gateway/api"
	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/errcode"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/internal/ack"
	"github.com/xunjian/xunjian/rules"
)

// verdict inspects m for principal p with in (one policy version for the
// whole request, whatever reloads meanwhile) through the session, which
// owns the message's life from there (see inspect.Session), and redeems or
// issues its ack. On false it has written the error reply.
func (s *Server) verdict(ctx *fasthttp.RequestCtx, p auth.Principal, in *inspect.Inspector, m message) (*api.Reply, bool) {
	// The agent is who the credential says; a credential that pins none
	// (a shared integration key) has the body's agent id recorded as
	// claimed, and is limited as a whole as well as per claimed agent.
	agent, claimed := p.Agent, false
	if agent == "" {
		agent, claimed = m.agent, m.agent != ""
	}
	now := s.now()
	// The limits, and the conversation from the shared state (one round
	// trip) when there is one: see shared.go.
	d, ok := s.begin(ctx, p, agent, m.conversation, now)
	if !ok {
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
	msg := inspect.Message{
		Request: inspect.Request{
			Text: m.text, Role: m.role, ConversationID: m.conversation, AgentID: agent, TenantID: p.Tenant, Acked: m.ack != "",
		},
		AgentClaimed: claimed, Route: m.route, Context: m.context, TS: now,
	}
	var v inspect.Verdict
	var err error
	if s.shared != nil {
		v, err = d.inspect(in, msg)
	} else {
		v, err = s.session.Inspect(context.Background(), in, msg)
	}
	if err != nil {
		s.inspectionError(ctx, err)
		return nil, false
	}
	if v.FailOpen {
		s.metrics.FailOpenReleased()
	}
	for _, f := range v.Findings {
		s.metrics.Finding(f.Detector, f.Kind)
	}
	for _, r := range v.Shadow {
		s.metrics.ShadowFire(r.Rule, r.Action.String())
	}
	reply := api.NewReply(&v)
	if v.Action == rules.Confirm {
		if m.ack == "" {
			reply.Ack = s.acks.Issue(p.Tenant, m.conversation, m.text, now)
		} else if err := s.redeem(d, m.ack, p.Tenant, m.conversation, m.text, now); err != nil {
			code := errcode.AckInvalid
			switch {
			case errors.Is(err, errStateUnavailable):
				s.undelivered(p.Tenant, m.conversation, v.DecisionID)
				s.stateUnavailable(ctx)
				return nil, false
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
			reply.Acked = true
		}
	}
	reply.Degraded = d.degraded
	return &reply, true
}

// inspectionError answers a message the session did not release: the one
// table from its errors to statuses.
func (s *Server) inspectionError(ctx *fasthttp.RequestCtx, err error) {
	var failed *inspect.FailedError
	switch {
	case errors.Is(err, errStateUnavailable):
		s.stateUnavailable(ctx)
	case errors.Is(err, inspect.ErrInvalid):
		s.metrics.Rejected("bad_request")
		writeError(ctx, errcode.InvalidField, err.Error())
	case errors.As(err, &failed) && failed.Unrecorded:
		writeError(ctx, errcode.EventsUnavailable, "the message could not be inspected nor recorded for audit and was held; try again")
	case errors.As(err, &failed) && failed.Screened:
		s.metrics.FailOpenHeld()
		writeError(ctx, errcode.InspectionFailed,
			"the policy could not decide and the detectors found more than private data, so the message was held even though this tenant fails open; try again")
	case errors.As(err, &failed):
		writeError(ctx, errcode.InspectionFailed, "the message could not be inspected in time and was held; try again")
	case errors.Is(err, inspect.ErrNotRecorded):
		s.metrics.Rejected("events_unavailable")
		ctx.Response.Header.Set("Retry-After", "1")
		writeError(ctx, errcode.EventsUnavailable, "the message could not be recorded for audit (event spool full) and was held; try again")
	default:
		s.log.LogAttrs(context.Background(), slog.LevelError, "inspection", slog.String("error", err.Error()))
		writeError(ctx, errcode.Internal, "internal error")
	}
}

// failMode is a tenant's fail mode, for the session.
func (s *Server) failMode(tenant string) inspect.FailMode {
	if s.cfg.Tenants[tenant].FailMode == config.FailOpen {
		return inspect.FailOpen
	}
	return inspect.FailClosed
}

// inspectionFailed counts and logs a message the policy could not decide,
// before its tenant's fail mode applies (the session's OnFailure).
func (s *Server) inspectionFailed(tenant string, mode inspect.FailMode, err error) {
	s.metrics.InspectionFailure(mode.String())
	attrs := []slog.Attr{slog.String("tenant", tenant), slog.String("mode", mode.String()), slog.String("error", err.Error())}
	if rule, ok := rules.InvalidDecisionRule(err); ok {
		s.metrics.InvalidDecision(rule)
		attrs = append(attrs, slog.String("rule", rule))
	}
	s.log.LogAttrs(context.Background(), slog.LevelError, "inspection failed", attrs...)
}

// undelivered records that the draft of decision id, recorded as released,
// did not reach the customer (the backend was not reached, its ack was
// refused), so later alerts do not show the customer a turn they never saw.
func (s *Server) undelivered(tenant, conversation, id string) {
	if s.shared != nil && conversation != "" && id != "" {
		if err := s.sharedUndelivered(tenant, conversation, id); err != nil {
			s.log.LogAttrs(context.Background(), slog.LevelWarn, "marking a draft undelivered in the shared state", slog.String("error", err.Error()))
		}
	}
	if err := s.session.Undelivered(context.Background(), tenant, conversation, id); err != nil {
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "marking a draft undelivered", slog.String("error", err.Error()))
	}
}
