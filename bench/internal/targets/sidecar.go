package targets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/bench/internal/corpus"
	"github.com/xunjian/xunjian/detectors"
	"github.com/xunjian/xunjian/detectors/commitment"
	"github.com/xunjian/xunjian/detectors/diversion"
	"github.com/xunjian/xunjian/detectors/lexicon"
	"github.com/xunjian/xunjian/detectors/link"
	"github.com/xunjian/xunjian/detectors/normalize"
	"github.com/xunjian/xunjian/detectors/privacy"
	"github.com/xunjian/xunjian/detectors/tone"
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
// It keeps a conversation's turn count, as the gateway does, but no
// customer context (the load sends agent drafts only, so the gateway's
// risk and wait stay 0 too), no findings or decision cache and no ack
// tokens. It is safe for concurrent use.
type Sidecar struct {
	proxy   *proxy.Proxy
	norm    *normalize.Normalizer
	privacy *privacy.Detector
	agent   []detectors.Detector
	opa     *fasthttp.HostClient
	opaURI  string
	turns   *turnCounter
	scratch sync.Pool // *sidecarScratch
}

type sidecarScratch struct {
	text normalize.Text
	buf  normalize.Buffer
	fs   []detectors.Finding
}

// NewSidecar builds the detectors from the bundle at cfg.Bundle and the
// upstream route.
func NewSidecar(ctx context.Context, cfg SidecarConfig) (*Sidecar, error) {
	p, err := rules.Load(ctx, cfg.Bundle, rules.WithoutDecisionCache())
	if err != nil {
		return nil, fmt.Errorf("sidecar: bundle: %w", err)
	}
	data := p.Data()
	_ = p.Close()
	s := &Sidecar{norm: normalize.Default(), turns: newTurnCounter()}
	if s.privacy, s.agent, err = agentDetectors(data); err != nil {
		return nil, fmt.Errorf("sidecar: %w", err)
	}
	ptr := corpus.RoutePointers
	if s.proxy, err = proxy.New([]proxy.Route{{
		Name: "send", Method: fasthttp.MethodPost, Path: RoutePath, Upstream: "http://" + cfg.Upstream,
		Text: ptr.Text, Conversation: ptr.Conversation, Agent: ptr.Agent, Role: ptr.Role,
	}}); err != nil {
		return nil, fmt.Errorf("sidecar: route: %w", err)
	}
	s.opa = &fasthttp.HostClient{
		Addr: cfg.OPA, MaxConns: 1024, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
		MaxIdleConnDuration: time.Minute, NoDefaultUserAgentHeader: true,
	}
	s.opaURI = "http://" + cfg.OPA + decisionPath
	return s, nil
}

// agentDetectors builds the detectors the gateway runs on agent drafts, in
// its order, from the lexicons in the bundle's data under
// xunjian.lexicons.<family> where present, else the embedded ones (what
// gateway/inspect.New does; see the harness README for the export that
// would remove this copy).
func agentDetectors(data map[string]any) (*privacy.Detector, []detectors.Detector, error) {
	x, _ := data["xunjian"].(map[string]any)
	lex, _ := x["lexicons"].(map[string]any)
	file := func(family string, def func() (lexicon.File, error)) (lexicon.File, error) {
		if v, ok := lex[family]; ok {
			return lexicon.FromData(v)
		}
		return def()
	}
	var errs []error
	build := func(family string, def func() (lexicon.File, error), mk func(lexicon.File) error) {
		f, err := file(family, def)
		if err == nil {
			err = mk(f)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("detector %s: %w", family, err))
		}
	}
	var (
		pd *privacy.Detector
		td *tone.Detector
		dd *diversion.Detector
		cd *commitment.Detector
		ld *link.Detector
	)
	build("privacy", privacy.DefaultLexicon, func(f lexicon.File) (err error) { pd, err = privacy.New(f); return })
	build("tone", tone.DefaultLexicon, func(f lexicon.File) (err error) { td, err = tone.New(f); return })
	build("diversion", diversion.DefaultLexicon, func(f lexicon.File) (err error) { dd, err = diversion.New(f); return })
	build("commitment", commitment.DefaultLexicon, func(f lexicon.File) (err error) { cd, err = commitment.New(f); return })
	build("link", link.DefaultLexicon, func(f lexicon.File) (err error) { ld, err = link.New(f); return })
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	return pd, []detectors.Detector{pd, td, dd, cd, ld}, nil
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
	sc, _ := s.scratch.Get().(*sidecarScratch)
	if sc == nil {
		sc = new(sidecarScratch)
	}
	defer s.scratch.Put(sc)
	s.norm.NormalizeInto(&sc.text, &sc.buf, msg.Text)
	sc.fs = sc.fs[:0]
	for _, d := range s.agent {
		sc.fs = d.Detect(&sc.text, sc.fs)
	}
	findings := sc.fs
	in := &rules.Input{
		Draft:        rules.Draft{Text: msg.Text, Normalized: sc.text.Norm, Role: "agent", Lang: language(msg.Text)},
		Findings:     toRules(findings),
		Conversation: rules.Conversation{ID: msg.ConversationID, Turns: s.turns.next(msg.ConversationID)},
		Agent:        rules.Agent{ID: msg.AgentID},
	}
	dec, err := s.decide(in)
	if err != nil {
		writeErr(ctx, fasthttp.StatusServiceUnavailable, "inspection_failed", err.Error())
		return
	}
	action := dec.Action.String()
	switch dec.Action {
	case rules.Block, rules.Confirm:
		status := fasthttp.StatusUnprocessableEntity
		if dec.Action == rules.Confirm {
			status = fasthttp.StatusConflict
		}
		v := sidecarVerdict{Action: dec.Action, Findings: findings, Reasons: dec.Reasons}
		if v.Findings == nil {
			v.Findings = []detectors.Finding{}
		}
		b, err := json.Marshal(v)
		if err != nil {
			writeErr(ctx, fasthttp.StatusInternalServerError, "internal", "encode verdict")
			return
		}
		ctx.Response.Header.SetContentType("application/json")
		ctx.SetStatusCode(status)
		ctx.SetBody(b)
		return
	case rules.Redact:
		if body, err = route.WithText(body, s.privacy.Redact(&sc.text, findings)); err != nil {
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

// decide asks OPA for data.xunjian.decision on in.
func (s *Sidecar) decide(in *rules.Input) (rules.Decision, error) {
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

// Close releases idle connections.
func (s *Sidecar) Close() {
	s.opa.CloseIdleConnections()
	s.proxy.CloseIdleConnections()
}

// toRules converts findings to the policy's input form (as
// gateway/inspect does).
func toRules(fs []detectors.Finding) []rules.Finding {
	out := make([]rules.Finding, len(fs))
	for i, f := range fs {
		out[i] = rules.Finding{
			Detector: f.Detector, Kind: f.Kind, Severity: f.Severity.String(), Score: f.Score,
			Start: f.Start, End: f.End, Evidence: f.Evidence, Rule: f.Rule, Lexicon: f.Lexicon,
		}
	}
	return out
}

// language guesses the draft's language as gateway/inspect does: "zh" when
// it has any Han character, else "en".
func language(s string) string {
	for _, r := range s {
		if r >= 0x2E80 && unicode.Is(unicode.Han, r) {
			return "zh"
		}
	}
	return "en"
}

func writeErr(ctx *fasthttp.RequestCtx, status int, code, msg string) {
	b, _ := json.Marshal(map[string]map[string]string{"error": {"code": code, "message": msg}})
	ctx.Response.Header.SetContentType("application/json")
	ctx.SetStatusCode(status)
	ctx.SetBody(b)
}

// turnCounter counts each conversation's turns, sharded to keep lock
// contention off the request path.
type turnCounter struct {
	seed   maphash.Seed
	shards [64]struct {
		mu sync.Mutex
		m  map[string]int // guarded by mu
	}
}

func newTurnCounter() *turnCounter {
	t := &turnCounter{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].m = map[string]int{}
	}
	return t
}

// next records one more turn of conversation id and returns the count.
func (t *turnCounter) next(id string) int {
	sh := &t.shards[maphash.String(t.seed, id)%uint64(len(t.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.m[id]++
	return sh.m[id]
}
