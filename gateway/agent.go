package gateway

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/gateway/api"
	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/gateway/errcode"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/proxy"
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

// handleAgent serves the agent port: it routes to /v1/check (check.go),
// /v1/events (events.go) or a proxy route (route.go) after authenticating
// the credential and checking the body is UTF-8; every message then goes
// through verdict (verdict.go).
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

// message is one draft or customer message to inspect, whatever route it
// came by. Its strings are copies: they outlive the handler in events.
type message struct {
	text, role, conversation, agent, ack string
	context                              []inspect.Turn
	route                                string
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
func (s *Server) contextFits(ctx *fasthttp.RequestCtx, turns []api.Turn) bool {
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
