package targets

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/bench/internal/corpus"
	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/proxy"
	"github.com/xunjian/xunjian/rules"
)

// RoutePath is the chat backend's send path that every proxy target
// serves.
const RoutePath = "/api/messages/send"

// decisionPath is data.xunjian.decision in OPA's REST API.
const decisionPath = "/v1/data/xunjian/decision"

// SidecarConfig configures an opa-sidecar.
type SidecarConfig struct {
	// Upstream is the chat backend's host:port.
	Upstream string
	// OPA is the OPA server's host:port.
	OPA string
	// Bundle is the policy bundle directory OPA serves; its data supplies
	// the detectors' lexicons, as it does for the gateway.
	Bundle string
}

// Sidecar is what teams build today: a proxy that runs the detectors in
// process (Xunjian's own, with the bundle's lexicons, on the same
// normalized text) and asks a separate OPA server for every decision over
// HTTP, with the same input document the gateway builds. Held and stopped
// drafts are answered with 409 and 422 as the gateway does; released ones
// (masked on redact) go to the upstream through the gateway's own route
// code (gateway/proxy).
//
// It carries each message, agent draft or customer message (the body's
// role), through an inspect.Session, as the gateway does, keeping
// conversation context (turns, customer wait, complaint risk) in memory
// timed by its own clock as the gateway's is, but records no events and
// keeps no findings or decision cache and no ack tokens. It is safe for
// concurrent use.
type Sidecar struct {
	proxy  *proxy.Proxy
	in     *inspect.Inspector // the gateway's pipeline, deciding through OPA
	opa    *fasthttp.HostClient
	opaURI string
	sess   *inspect.Session // the gateway's message life: conversation context, no events
}

// NewSidecar builds the gateway's inspection pipeline from the bundle at
// cfg.Bundle (detectors with the bundle's lexicons, no findings cache),
// with every decision sent to OPA instead of the embedded engine, and the
// upstream route.
func NewSidecar(ctx context.Context, cfg SidecarConfig) (*Sidecar, error) {
	p, err := rules.Load(ctx, cfg.Bundle, rules.WithoutDecisionCache())
	if err != nil {
		return nil, fmt.Errorf("sidecar: bundle: %w", err)
	}
	s := &Sidecar{sess: &inspect.Session{Store: &inspect.MemStore{}}}
	s.opa = &fasthttp.HostClient{
		Addr: cfg.OPA, MaxConns: 1024, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
		MaxIdleConnDuration: time.Minute, NoDefaultUserAgentHeader: true,
	}
	s.opaURI = "http://" + cfg.OPA + decisionPath
	if s.in, err = inspect.New(p, inspect.Options{Decide: s.decide}); err != nil {
		p.Close()
		return nil, fmt.Errorf("sidecar: %w", err)
	}
	ptr := corpus.RoutePointers
	if s.proxy, err = proxy.New([]proxy.Route{{
		Name: "send", Method: fasthttp.MethodPost, Path: RoutePath, Upstream: "http://" + cfg.Upstream,
		Text: ptr.Text, Conversation: ptr.Conversation, Agent: ptr.Agent, Role: ptr.Role,
		Roles: []string{proxy.RoleAgent, proxy.RoleCustomer},
	}}); err != nil {
		s.in.Close()
		return nil, fmt.Errorf("sidecar: route: %w", err)
	}
	return s, nil
}

// opaRequest is OPA's data API request body.
type opaRequest struct {
	Input *rules.Input `json:"input"`
}

// opaResponse is OPA's data API answer; Result is nil when the decision is
// undefined.
type opaResponse struct {
	Result *rules.Decision `json:"result"`
}

// sidecarVerdict is the body of a 409 or 422 answer.
type sidecarVerdict struct {
	Action   rules.Action        `json:"action"`
	Findings []detectors.Finding `json:"findings"`
	Reasons  []rules.Reason      `json:"reasons"`
}

// Handle inspects one draft and forwards it, or answers it.
func (s *Sidecar) Handle(ctx *fasthttp.RequestCtx) {
	route := s.proxy.Match(ctx.Method(), ctx.Path())
	if route == nil {
		writeErr(ctx, fasthttp.StatusNotFound, "not_found", "no route")
		return
	}
	body := ctx.PostBody()
	msg, err := route.Extract(body)
	if err != nil || strings.TrimSpace(msg.Text) == "" {
		writeErr(ctx, fasthttp.StatusBadRequest, "invalid_field", "message text missing or invalid")
		return
	}
	role := msg.Role
	if role == "" {
		role = inspect.RoleAgent
	}
	if role != inspect.RoleAgent && role != inspect.RoleCustomer {
		writeErr(ctx, fasthttp.StatusBadRequest, "invalid_field", "role: want agent or customer")
		return
	}
	v, err := s.sess.Inspect(context.Background(), s.in, inspect.Message{Request: inspect.Request{
		Text: msg.Text, Role: role, ConversationID: msg.ConversationID, AgentID: msg.AgentID,
	}})
	if err != nil {
		writeErr(ctx, fasthttp.StatusServiceUnavailable, "inspection_failed", err.Error())
		return
	}
	action := v.Action.String()
	switch v.Action {
	case rules.Block, rules.Confirm:
		status := fasthttp.StatusUnprocessableEntity
		if v.Action == rules.Confirm {
			status = fasthttp.StatusConflict
		}
		b, err := json.Marshal(sidecarVerdict{Action: v.Action, Findings: v.Findings, Reasons: v.Reasons})
		if err != nil {
			writeErr(ctx, fasthttp.StatusInternalServerError, "internal", "encode verdict")
			return
		}
		ctx.Response.Header.SetContentType("application/json")
		ctx.SetStatusCode(status)
		ctx.SetBody(b)
		return
	case rules.Redact:
		if body, err = route.WithText(body, v.Redacted); err != nil {
			writeErr(ctx, fasthttp.StatusInternalServerError, "internal", "could not mask the message")
			return
		}
	}
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	if err := route.Forward(context.Background(), &ctx.Request, ctx.RemoteIP(), body, resp); err != nil {
		writeErr(ctx, fasthttp.StatusBadGateway, "upstream_unavailable", "the chat backend did not take the message")
		return
	}
	resp.CopyTo(&ctx.Response)
	ctx.Response.Header.Set("X-Xunjian-Action", action)
}

// decide asks OPA for data.xunjian.decision on in: the pipeline's
// decision function (inspect.Options.Decide).
func (s *Sidecar) decide(_ context.Context, in *rules.Input) (rules.Decision, error) {
	b, err := json.Marshal(opaRequest{Input: in})
	if err != nil {
		return rules.Decision{}, fmt.Errorf("encode input: %w", err)
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(s.opaURI)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetBodyRaw(b)
	if err := s.opa.DoTimeout(req, resp, 5*time.Second); err != nil {
		return rules.Decision{}, fmt.Errorf("opa: %w", err)
	}
	if resp.StatusCode() != fasthttp.StatusOK {
		return rules.Decision{}, fmt.Errorf("opa: status %d", resp.StatusCode())
	}
	var out opaResponse
	if err := json.Unmarshal(resp.Body(), &out); err != nil {
		return rules.Decision{}, fmt.Errorf("opa: decode decision: %w", err)
	}
	if out.Result == nil {
		return rules.Decision{}, rules.ErrUndefined
	}
	return *out.Result, nil
}

// Close releases the pipeline and idle connections.
func (s *Sidecar) Close() {
	s.in.Close()
	s.opa.CloseIdleConnections()
	s.proxy.CloseIdleConnections()
}

func writeErr(ctx *fasthttp.RequestCtx, status int, code, msg string) {
	b, _ := json.Marshal(map[string]map[string]string{"error": {"code": code, "message": msg}})
	ctx.Response.Header.SetContentType("application/json")
	ctx.SetStatusCode(status)
	ctx.SetBody(b)
}
