package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/gateway/ack"
	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/proxy"
	"github.com/xunjian/xunjian/gateway/stream"
	"github.com/xunjian/xunjian/rules"
)

// Statuses of drafts the gateway answers itself on a proxy route.
const (
	// StatusHeld answers a draft held for confirmation (action confirm):
	// the reply carries an ack token to re-send with.
	StatusHeld = fasthttp.StatusConflict
	// StatusBlocked answers a draft that is never released (action block).
	StatusBlocked = fasthttp.StatusUnprocessableEntity
)

// AckHeader carries the ack token on proxy routes, whose body belongs to
// the chat backend's API.
const AckHeader = "X-Xunjian-Ack"

func (s *Server) handleAgent(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	path := ctx.Path()
	var route *proxy.Compiled
	switch string(path) {
	case "/v1/check", "/v1/events":
	default:
		if route = s.proxy.Match(ctx.Method(), path); route == nil {
			s.metrics.Rejected("not_found")
			writeError(ctx, fasthttp.StatusNotFound, "not_found", "no route for "+string(ctx.Method())+" "+string(path))
			return
		}
	}
	if !ctx.IsPost() && route == nil {
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return
	}
	p, err := s.auth.Authenticate(func(name string) []byte { return ctx.Request.Header.Peek(name) }, s.now())
	if err != nil {
		s.metrics.Rejected("auth")
		code := "unauthorized"
		if errors.Is(err, auth.ErrNoCredential) {
			code = "no_credential"
		}
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="xunjian"`)
		writeError(ctx, fasthttp.StatusUnauthorized, code, err.Error())
		return
	}
	body := ctx.PostBody()
	if !utf8.Valid(body) {
		s.metrics.Rejected("bad_request")
		writeError(ctx, fasthttp.StatusBadRequest, "invalid_utf8", "body is not valid UTF-8")
		return
	}
	routeName, action := string(path), "none"
	defer func() { s.metrics.Request(routeName, action, time.Since(start)) }()
	switch {
	case route != nil:
		routeName = route.Name()
		action = s.serveProxy(ctx, p, route, body)
	case string(path) == "/v1/check":
		action = s.serveCheck(ctx, p, body)
	default:
		action = s.serveEvent(ctx, p, body)
	}
}

// checkRequest is the body of POST /v1/check.
type checkRequest struct {
	Text           *string        `json:"text"`
	Role           string         `json:"role"`
	ConversationID string         `json:"conversation_id"`
	AgentID        string         `json:"agent_id"`
	Ack            string         `json:"ack"`
	Context        []inspect.Turn `json:"context"`
}

// message is one draft or customer message to inspect, whatever route it
// came by. Its strings are copies: they outlive the handler in events.
type message struct {
	text, role, conversation, agent, ack string
	context                              []inspect.Turn
	route                                string
}

func (s *Server) serveCheck(ctx *fasthttp.RequestCtx, p auth.Principal, body []byte) string {
	var req checkRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.metrics.Rejected("bad_request")
		writeError(ctx, fasthttp.StatusBadRequest, "invalid_json", jsonError(err))
		return "none"
	}
	if req.Text == nil {
		s.metrics.Rejected("bad_request")
		writeError(ctx, fasthttp.StatusBadRequest, "invalid_field", "text: missing")
		return "none"
	}
	m := message{text: *req.Text, role: req.Role, conversation: req.ConversationID, agent: req.AgentID, ack: req.Ack, context: req.Context}
	v, ok := s.verdict(ctx, p, m)
	if !ok {
		return "none"
	}
	writeJSON(ctx, fasthttp.StatusOK, v)
	return v.Action.String()
}

// eventRequest is the body of POST /v1/events.
type eventRequest struct {
	Type           string     `json:"type"` // message, assigned, transferred, closed
	ConversationID string     `json:"conversation_id"`
	Role           string     `json:"role"`
	Text           *string    `json:"text"`
	AgentID        string     `json:"agent_id"`
	TS             *time.Time `json:"ts"`
}

// serveEvent takes customer messages (observed, never held) and
// conversation events.
func (s *Server) serveEvent(ctx *fasthttp.RequestCtx, p auth.Principal, body []byte) string {
	var ev eventRequest
	if err := json.Unmarshal(body, &ev); err != nil {
		s.metrics.Rejected("bad_request")
		writeError(ctx, fasthttp.StatusBadRequest, "invalid_json", jsonError(err))
		return "none"
	}
	if ev.ConversationID == "" {
		writeError(ctx, fasthttp.StatusBadRequest, "invalid_field", "conversation_id: missing")
		return "none"
	}
	switch ev.Type {
	case "message", "":
		if ev.Text == nil {
			writeError(ctx, fasthttp.StatusBadRequest, "invalid_field", "text: missing")
			return "none"
		}
		role := ev.Role
		if role == "" {
			role = inspect.RoleCustomer
		}
		v, ok := s.verdict(ctx, p, message{text: *ev.Text, role: role, conversation: ev.ConversationID, agent: ev.AgentID})
		if !ok {
			return "none"
		}
		writeJSON(ctx, fasthttp.StatusAccepted, v)
		return v.Action.String()
	case "closed":
		s.convs.Delete(p.Tenant, ev.ConversationID)
	case "assigned", "transferred":
		// A new agent takes over: the customer's wait and risk carry on.
		s.convs.Update(p.Tenant, ev.ConversationID, func(*inspect.Conversation) {})
	default:
		writeError(ctx, fasthttp.StatusBadRequest, "invalid_field", fmt.Sprintf("type %q: want message, assigned, transferred or closed", ev.Type))
		return "none"
	}
	writeJSON(ctx, fasthttp.StatusAccepted, map[string]string{"status": "accepted"})
	return "none"
}

// serveProxy inspects a message on a proxy route and forwards what is
// released; it answers held and stopped drafts itself.
func (s *Server) serveProxy(ctx *fasthttp.RequestCtx, p auth.Principal, route *proxy.Compiled, body []byte) string {
	msg, err := route.Extract(body)
	if err != nil {
		s.metrics.Rejected("bad_request")
		writeError(ctx, fasthttp.StatusBadRequest, "invalid_field", err.Error())
		return "none"
	}
	m := message{text: msg.Text, role: msg.Role, conversation: msg.ConversationID, agent: msg.AgentID, ack: string(ctx.Request.Header.Peek(AckHeader)), route: route.Name()}
	v, ok := s.verdict(ctx, p, m)
	if !ok {
		return "none"
	}
	action := v.Action.String()
	switch {
	case v.Action == rules.Block:
		writeJSON(ctx, StatusBlocked, v)
		return action
	case v.Action == rules.Confirm && !v.Acked:
		writeJSON(ctx, StatusHeld, v)
		return action
	case v.Action == rules.Redact:
		if body, err = route.WithText(body, v.Redacted); err != nil {
			s.log.LogAttrs(context.Background(), slog.LevelError, "mask proxied body", slog.String("route", route.Name()), slog.String("error", err.Error()))
			writeError(ctx, fasthttp.StatusInternalServerError, "internal", "could not mask the message; it was not sent")
			return action
		}
	}
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	// The route's timeout bounds the call; the client going away does not
	// cancel a message already on its way to the backend.
	if err := route.Forward(context.Background(), &ctx.Request, ctx.RemoteIP(), body, resp); err != nil {
		kind, status, code := "unavailable", fasthttp.StatusBadGateway, "upstream_unavailable"
		if errors.Is(err, proxy.ErrUpstreamTimeout) {
			kind, status, code = "timeout", fasthttp.StatusGatewayTimeout, "upstream_timeout"
		}
		s.metrics.UpstreamError(route.Name(), kind)
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "upstream failed", slog.String("route", route.Name()), slog.String("kind", kind), slog.String("error", err.Error()))
		writeError(ctx, status, code, "the chat backend did not take the message; it was not sent")
		return action
	}
	resp.CopyTo(&ctx.Response)
	ctx.Response.Header.Set("X-Xunjian-Action", action)
	if v.DecisionID != "" {
		ctx.Response.Header.Set("X-Xunjian-Decision", v.DecisionID)
	}
	if v.FailOpen {
		ctx.Response.Header.Set("X-Xunjian-Fail-Open", "true")
	}
	return action
}

// verdict inspects m for principal p, in its conversation's context, and
// applies acks and the tenant's fail mode. On false it has written the
// error reply.
func (s *Server) verdict(ctx *fasthttp.RequestCtx, p auth.Principal, m message) (*inspect.Verdict, bool) {
	agent := p.Agent
	if agent == "" {
		agent = m.agent
	}
	if !s.limiter.Allow(p.Tenant, agent, s.now()) {
		s.metrics.Rejected("rate_limit")
		ctx.Response.Header.Set("Retry-After", "1")
		writeError(ctx, fasthttp.StatusTooManyRequests, "rate_limited", "too many requests for this agent")
		return nil, false
	}
	// One policy version for the whole request, whatever reloads meanwhile.
	in := s.inspector()
	req := inspect.Request{Text: m.text, Role: m.role, ConversationID: m.conversation, AgentID: agent, TenantID: p.Tenant}
	now := s.now()
	ictx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.InspectTimeout.D())
	defer cancel()
	var (
		v         inspect.Verdict
		err       error
		published = true
	)
	// The event is written with the inspection, under the conversation's
	// lock, so a conversation's events keep the order of its messages.
	publish := func(c *inspect.Conversation) {
		em := stream.Message{
			Tenant: p.Tenant, ConversationID: m.conversation, AgentID: agent, Role: req.Role, Route: m.route,
			Verdict: &v, Risk: c.Risk, Recent: c.Recent, Raw: m.text, Now: now,
		}
		if n := len(c.Recent); n > 0 {
			em.Masked = c.Recent[n-1].Text
		}
		// Not ictx: a spool write is not abandoned halfway for a deadline.
		published = s.publish(context.Background(), em)
	}
	if m.conversation == "" {
		conv := inlineConversation(in, m, now)
		if v, err = in.Inspect(ictx, req, conv, now); err == nil && ictx.Err() == nil {
			publish(conv)
		}
	} else {
		s.convs.Update(p.Tenant, m.conversation, func(c *inspect.Conversation) {
			if c.Turns == 0 && len(m.context) > 0 {
				*c = *inlineConversation(in, m, now)
			}
			// Inspect a copy: a refused, failed or held message leaves
			// the conversation as it was.
			work := c.Clone()
			// Past the deadline the fail mode decides, below: no event.
			if v, err = in.Inspect(ictx, req, &work, now); err == nil && ictx.Err() == nil {
				if publish(&work); published {
					*c = work
				}
			}
		})
	}
	if err == nil && ictx.Err() != nil {
		err = ictx.Err()
	}
	if err == nil && published {
		published = s.commit()
	}
	if err == nil && !published {
		s.metrics.Rejected("events_unavailable")
		ctx.Response.Header.Set("Retry-After", "1")
		writeError(ctx, fasthttp.StatusServiceUnavailable, "events_unavailable", "the message could not be recorded for audit (event spool full) and was held; try again")
		return nil, false
	}
	switch {
	case errors.Is(err, inspect.ErrInvalid):
		s.metrics.Rejected("bad_request")
		writeError(ctx, fasthttp.StatusBadRequest, "invalid_field", err.Error())
		return nil, false
	case err != nil:
		mode := s.cfg.Tenants[p.Tenant].FailMode
		if mode == "" {
			mode = config.FailClosed
		}
		s.metrics.InspectionFailure(mode)
		s.log.LogAttrs(context.Background(), slog.LevelError, "inspection failed",
			slog.String("tenant", p.Tenant), slog.String("mode", mode), slog.String("error", err.Error()))
		if mode == config.FailOpen {
			v = inspect.Verdict{Action: rules.Allow, Findings: []detectors.Finding{}, Reasons: []rules.Reason{}, FailOpen: true,
				PolicyRevision: in.Policy().Revision()}
			// Supervisors see every uninspected release (findings topic).
			if publish(&inspect.Conversation{ID: m.conversation}); !published || !s.commit() {
				writeError(ctx, fasthttp.StatusServiceUnavailable, "events_unavailable", "the message could not be inspected nor recorded for audit and was held; try again")
				return nil, false
			}
			return &v, true
		}
		writeError(ctx, fasthttp.StatusServiceUnavailable, "inspection_failed", "the message could not be inspected in time and was held; try again")
		return nil, false
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
			code := "ack_invalid"
			switch {
			case errors.Is(err, ack.ErrAckUsed):
				code = "ack_used"
			case errors.Is(err, ack.ErrAckExpired):
				code = "ack_expired"
			case errors.Is(err, ack.ErrAckMismatch):
				code = "ack_mismatch"
			}
			writeError(ctx, fasthttp.StatusForbidden, code, "the ack token does not release this message: "+code)
			return nil, false
		} else {
			v.Acked = true
		}
	}
	return &v, true
}

// inlineConversation replays the turns a client sent inline, so the policy
// sees the conversation's risk and wait without server-side state.
func inlineConversation(in *inspect.Inspector, m message, now time.Time) *inspect.Conversation {
	conv := &inspect.Conversation{ID: m.conversation}
	for _, t := range m.context {
		ts := t.TS
		if ts.IsZero() || ts.After(now) {
			ts = now
		}
		// Context turns are best effort: a bad one is skipped.
		_, _ = in.Inspect(context.Background(), inspect.Request{Text: t.Text, Role: t.Role, ConversationID: m.conversation}, conv, ts)
	}
	return conv
}

// jsonError describes a JSON syntax or type error without quoting input.
func jsonError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("%s: want %s, got %s", te.Field, te.Type, te.Value)
	}
	return "malformed JSON"
}
