package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/gateway/api"
	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/gateway/errcode"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/proxy"
	"github.com/xunjian/xunjian/rules"
)

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
	// HeaderDegraded is "true" when the state the gateways share was
	// unreachable and the gateway decided on its own (shared_state.mode
	// degrade).
	HeaderDegraded = "X-Xunjian-Degraded"
)

// maxRedactedHeader bounds HeaderRedacted: proxies in front of clients
// commonly refuse response header blocks over 4 to 8 KiB.
const maxRedactedHeader = 4096

// setDecisionHeaders tells a proxy route's client what the gateway decided,
// beside the backend's reply (or the gateway's own 409/422).
func setDecisionHeaders(ctx *fasthttp.RequestCtx, v *api.Reply) {
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
	if v.Degraded {
		h.Set(HeaderDegraded, "true")
	}
}

// ruleIDs joins the reasons' rule ids, each once, leaving out any that does
// not look like an id (a policy may build one from the draft's text).
func ruleIDs(reasons []rules.Reason) string {
	var b strings.Builder
	for i, r := range reasons {
		// A decision has a handful of reasons: a look back, not a map.
		if !rules.IsRuleID(r.Rule) || strings.Contains(r.Rule, ",") ||
			slices.ContainsFunc(reasons[:i], func(o rules.Reason) bool { return o.Rule == r.Rule }) {
			continue
		}
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
