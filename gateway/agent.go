package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/gateway/ack"
	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/errcode"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/internal/jsonkeys"
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
			writeError(ctx, errcode.NotFound, "no route for "+string(ctx.Method())+" "+string(path))
			return
		}
	}
	if !ctx.IsPost() && route == nil {
		writeError(ctx, errcode.MethodNotAllowed, "use POST")
		return
	}
	p, err := s.auth.Authenticate(func(name string) []byte { return ctx.Request.Header.Peek(name) }, s.now())
	if err != nil {
		s.unauthorized(ctx, err)
		return
	}
	body := ctx.PostBody()
	if !utf8.Valid(body) {
		s.metrics.Rejected("bad_request")
		writeError(ctx, errcode.InvalidUTF8, "body is not valid UTF-8")
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
	if !s.decodeJSON(ctx, body, &req) {
		return "none"
	}
	if req.Text == nil {
		s.metrics.Rejected("bad_request")
		writeError(ctx, errcode.InvalidField, "text: missing")
		return "none"
	}
	if !s.mayAct(ctx, p, auth.ForRole(req.Role), req.Role) || !s.contextFits(ctx, req.Context) {
		return "none"
	}
	for _, t := range req.Context {
		if t.Role == inspect.RoleCustomer && !s.mayAct(ctx, p, auth.ScopeCustomer, "customer (in context)") {
			return "none"
		}
	}
	m := message{text: *req.Text, role: req.Role, conversation: req.ConversationID, agent: req.AgentID, ack: req.Ack, context: req.Context}
	v, ok := s.verdict(ctx, p, s.inspector(), m)
	if !ok {
		return "none"
	}
	writeJSON(ctx, fasthttp.StatusOK, v)
	return v.Action.String()
}

// decodeJSON decodes body into v, refusing malformed JSON and duplicate
// keys (exact or but for case); on false it has written the 400 reply.
func (s *Server) decodeJSON(ctx *fasthttp.RequestCtx, body []byte, v any) bool {
	if err := json.Unmarshal(body, v); err != nil {
		s.metrics.Rejected("bad_request")
		code, msg := errcode.JSON(err)
		writeError(ctx, code, msg)
		return false
	}
	if err := jsonkeys.Check(body); err != nil {
		s.metrics.Rejected("bad_request")
		writeError(ctx, errcode.DuplicateKey, err.Error()+": a key may appear once per object, whatever its case")
		return false
	}
	return true
}

// mayAct reports whether p holds want, the scope of speaking as role (or
// of a lifecycle event); on false it has written the 403 reply. Who speaks
// is a trust decision: a body saying "customer" is believed only from a
// credential that may send customer-side messages.
func (s *Server) mayAct(ctx *fasthttp.RequestCtx, p auth.Principal, want auth.Scopes, what string) bool {
	if p.Scopes.Has(want) {
		return true
	}
	s.metrics.Rejected("forbidden")
	code, msg := errcode.RoleForbidden, fmt.Sprintf("this credential may not send messages as %s (it holds scopes %q)", what, p.Scopes.String())
	if want == auth.ScopeLifecycle {
		code, msg = errcode.LifecycleForbidden, "conversation lifecycle events need a credential with the lifecycle scope (the chat backend's)"
	}
	writeError(ctx, code, msg)
	return false
}

// contextFits checks the inline context against limits.max_context_turns
// and max_context_bytes; on false it has written the 413 reply. Replaying
// context costs an inspection per turn, so unbounded context would let one
// request run past the inspection deadline on demand.
func (s *Server) contextFits(ctx *fasthttp.RequestCtx, turns []inspect.Turn) bool {
	l := s.cfg.Limits
	n := 0
	for _, t := range turns {
		n += len(t.Text)
	}
	if len(turns) <= l.MaxContextTurns && n <= l.MaxContextBytes {
		return true
	}
	s.metrics.Rejected("too_large")
	writeError(ctx, errcode.ContextTooLarge,
		fmt.Sprintf("context: %d turns, %d bytes of text; the limits are %d turns and %d bytes", len(turns), n, l.MaxContextTurns, l.MaxContextBytes))
	return false
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
	if !s.decodeJSON(ctx, body, &ev) {
		return "none"
	}
	if ev.ConversationID == "" {
		writeError(ctx, errcode.InvalidField, "conversation_id: missing")
		return "none"
	}
	switch ev.Type {
	case "message", "":
		if ev.Text == nil {
			writeError(ctx, errcode.InvalidField, "text: missing")
			return "none"
		}
		role := ev.Role
		if role == "" {
			role = inspect.RoleCustomer
		}
		if !s.mayAct(ctx, p, auth.ForRole(role), role) {
			return "none"
		}
		v, ok := s.verdict(ctx, p, s.inspector(), message{text: *ev.Text, role: role, conversation: ev.ConversationID, agent: ev.AgentID})
		if !ok {
			return "none"
		}
		writeJSON(ctx, fasthttp.StatusAccepted, v)
		return v.Action.String()
	case "closed", "assigned", "transferred":
		if !s.mayAct(ctx, p, auth.ScopeLifecycle, ev.Type) {
			return "none"
		}
		if ev.Type == "closed" {
			s.convs.Delete(p.Tenant, ev.ConversationID)
			break
		}
		// A new agent takes over: the customer's wait and risk carry on.
		s.convs.Update(p.Tenant, ev.ConversationID, func(*inspect.Conversation) {})
	default:
		writeError(ctx, errcode.InvalidField, fmt.Sprintf("type %q: want message, assigned, transferred or closed", ev.Type))
		return "none"
	}
	writeJSON(ctx, fasthttp.StatusAccepted, map[string]string{"status": "accepted"})
	return "none"
}

// serveProxy inspects a message on a proxy route and forwards what is
// released; it answers held and stopped drafts itself. Every text the
// route declares (the draft, more body texts, accepted query parameters)
// is inspected as one message, the way the customer would read it, and
// each is masked on redact.
func (s *Server) serveProxy(ctx *fasthttp.RequestCtx, p auth.Principal, route *proxy.Compiled, body []byte) string {
	msg, texts, err := route.ExtractRequest(&ctx.Request)
	if err != nil {
		s.metrics.Rejected("bad_request")
		switch {
		case errors.Is(err, proxy.ErrUnsupportedMediaType):
			writeError(ctx, errcode.UnsupportedMediaType, err.Error())
		case errors.Is(err, proxy.ErrUnsupportedEncoding):
			writeError(ctx, errcode.UnsupportedEncoding, err.Error())
		case errors.Is(err, proxy.ErrQueryNotAllowed):
			writeError(ctx, errcode.QueryNotAllowed, err.Error())
		case errors.Is(err, proxy.ErrInvalidJSON):
			writeError(ctx, errcode.InvalidJSON, err.Error())
		case proxy.IsDuplicateKey(err):
			writeError(ctx, errcode.DuplicateKey, err.Error()+": a key may appear once per object, whatever its case")
		default:
			writeError(ctx, errcode.InvalidField, err.Error())
		}
		return "none"
	}
	role := msg.Role
	if role == "" {
		role = route.Roles()[0]
	}
	if role != inspect.RoleAgent && role != inspect.RoleCustomer {
		s.metrics.Rejected("bad_request")
		writeError(ctx, errcode.InvalidField, fmt.Sprintf("role %q: want agent or customer", role))
		return "none"
	}
	if !route.AllowsRole(role) {
		s.metrics.Rejected("forbidden")
		writeError(ctx, errcode.RoleForbidden, fmt.Sprintf("route %s carries %s messages only", route.Name(), strings.Join(route.Roles(), " and ")))
		return "none"
	}
	if !s.mayAct(ctx, p, auth.ForRole(role), role) {
		return "none"
	}
	text := texts[0].Text
	if len(texts) > 1 {
		parts := make([]string, len(texts))
		for i, t := range texts {
			parts[i] = t.Text
		}
		text = strings.Join(parts, "\n")
	}
	in := s.inspector()
	m := message{text: text, role: role, conversation: msg.ConversationID, agent: msg.AgentID, ack: string(ctx.Request.Header.Peek(AckHeader)), route: route.Name()}
	v, ok := s.verdict(ctx, p, in, m)
	if !ok {
		return "none"
	}
	action := v.Action.String()
	switch {
	case v.Action == rules.Block:
		setDecisionHeaders(ctx, v)
		writeJSON(ctx, StatusBlocked, v)
		return action
	case v.Action == rules.Confirm && !v.Acked:
		setDecisionHeaders(ctx, v)
		if v.Ack != "" {
			ctx.Response.Header.Set(AckHeader, v.Ack)
		}
		writeJSON(ctx, StatusHeld, v)
		return action
	}
	query := ctx.Request.URI().QueryString()
	if v.Action == rules.Redact || v.Redacted != "" { // redact, or a confirmed draft the policy also masks
		if len(texts) == 1 {
			texts[0].Text = v.Redacted
		} else {
			for i := range texts {
				if texts[i].Text, err = s.maskText(in, texts[i].Text, role, p.Tenant); err != nil {
					break
				}
			}
		}
		if err == nil {
			body, err = route.WithTexts(body, texts)
		}
		if err == nil {
			query, err = route.QueryWithTexts(query, texts)
		}
		if err != nil {
			s.log.LogAttrs(context.Background(), slog.LevelError, "mask proxied request", slog.String("route", route.Name()), slog.String("error", err.Error()))
			writeError(ctx, errcode.Internal, "could not mask the message; it was not sent")
			return action
		}
	}
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	// The route's timeout bounds the call; the client going away does not
	// cancel a message already on its way to the backend.
	if err := route.ForwardQuery(context.Background(), &ctx.Request, ctx.RemoteIP(), query, body, resp); err != nil {
		kind, code, status := "unavailable", errcode.UpstreamUnavailable, fasthttp.StatusBadGateway
		if errors.Is(err, proxy.ErrUpstreamTimeout) {
			kind, code, status = "timeout", errcode.UpstreamTimeout, fasthttp.StatusGatewayTimeout
		}
		s.metrics.UpstreamError(route.Name(), kind)
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "upstream failed", slog.String("route", route.Name()), slog.String("kind", kind),
			slog.Bool("sent", !errors.Is(err, proxy.ErrNotSent)), slog.String("error", err.Error()))
		setDecisionHeaders(ctx, v)
		if errors.Is(err, proxy.ErrNotSent) {
			s.undelivered(p.Tenant, msg.ConversationID, v.DecisionID)
			writeError(ctx, code, "the chat backend could not be reached; the message was not sent")
			return action
		}
		// Bytes reached the backend: it may have taken the message.
		writeErrorStatus(ctx, status, errcode.DeliveryUnknown, "the chat backend received the message but did not answer ("+kind+"): it may have been delivered; check the conversation before sending it again (decision "+v.DecisionID+")")
		return action
	}
	resp.CopyTo(&ctx.Response)
	setDecisionHeaders(ctx, v)
	return action
}

// Headers of the decision on a proxy route's replies, so that the client
// learns what happened without parsing the backend's reply.
const (
	// HeaderAction is the action: allow, warn, redact, confirm or block.
	HeaderAction = "X-Xunjian-Action"
	// HeaderDecision is the decision id, as in the events.
	HeaderDecision = "X-Xunjian-Decision"
	// HeaderRules lists the rule ids of the decision's reasons, comma
	// separated, each once.
	HeaderRules = "X-Xunjian-Rules"
	// HeaderRedacted is, on redact, the message as the backend received it
	// (its texts joined by newlines, private data masked), as
	// percent-encoded UTF-8: decodeURIComponent or url.PathUnescape give
	// the text back.
	HeaderRedacted = "X-Xunjian-Redacted"
	// HeaderRedactedOmitted is "too_long" when HeaderRedacted would be
	// over maxRedactedHeader bytes and is left out.
	HeaderRedactedOmitted = "X-Xunjian-Redacted-Omitted"
	// HeaderFailOpen is "true" when the tenant's fail-open mode released
	// the message without a policy decision.
	HeaderFailOpen = "X-Xunjian-Fail-Open"
)

// maxRedactedHeader bounds HeaderRedacted: proxies in front of clients
// commonly refuse response header blocks over 4 to 8 KiB.
const maxRedactedHeader = 4096

// setDecisionHeaders tells a proxy route's client what the gateway decided,
// beside the backend's reply (or the gateway's own 409/422).
func setDecisionHeaders(ctx *fasthttp.RequestCtx, v *inspect.Verdict) {
	h := &ctx.Response.Header
	h.Set(HeaderAction, v.Action.String())
	if v.DecisionID != "" {
		h.Set(HeaderDecision, v.DecisionID)
	}
	if ids := ruleIDs(v.Reasons); ids != "" {
		h.Set(HeaderRules, ids)
	}
	if released := v.Action == rules.Redact || v.Acked; released && v.Redacted != "" {
		if enc := url.PathEscape(v.Redacted); len(enc) <= maxRedactedHeader {
			h.Set(HeaderRedacted, enc)
		} else {
			h.Set(HeaderRedactedOmitted, "too_long")
		}
	}
	if v.FailOpen {
		h.Set(HeaderFailOpen, "true")
	}
}

// ruleIDs joins the reasons' rule ids, each once, leaving out any that does
// not look like an id (a policy may build one from the draft's text).
func ruleIDs(reasons []rules.Reason) string {
	var b strings.Builder
	seen := make(map[string]bool, len(reasons))
	for _, r := range reasons {
		if seen[r.Rule] || !rules.IsRuleID(r.Rule) || strings.Contains(r.Rule, ",") {
			continue
		}
		seen[r.Rule] = true
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(r.Rule)
	}
	return b.String()
}

// maskText masks the private data of one of a message's texts, as the
// message's redact verdict masked the message as a whole.
func (s *Server) maskText(in *inspect.Inspector, text, role, tenant string) (string, error) {
	if strings.TrimSpace(text) == "" {
		return text, nil
	}
	sc, err := in.Screen(inspect.Request{Text: text, Role: role, TenantID: tenant})
	if err != nil {
		return "", fmt.Errorf("mask text: %w", err)
	}
	return sc.Masked, nil
}

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
	// A stronger action does not cancel a redaction the policy asked for:
	// a held draft that the agent confirms is released masked, and
	// /v1/check tells the client what to send once confirmed.
	if v.Redacted == "" && v.Action > rules.Redact && redactAsked(v.Reasons) {
		masked, err := s.maskText(in, m.text, m.role, p.Tenant)
		if err != nil {
			s.log.LogAttrs(context.Background(), slog.LevelError, "mask a held draft", slog.String("error", err.Error()))
			writeError(ctx, errcode.Internal, "could not mask the message; it was not sent")
			return nil, false
		}
		v.Redacted = masked
	}
	return &v, true
}

// redactAsked reports whether a reason asked for the draft to be masked.
func redactAsked(reasons []rules.Reason) bool {
	for _, r := range reasons {
		if r.Action == rules.Redact {
			return true
		}
	}
	return false
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
