// Package opinion asks a large language model for a second opinion on a
// message the learned model scored in a grey zone: neither clearly fine
// nor clearly harmful. It is a client of an OpenAI-compatible
// chat-completions endpoint (POST {base_url}/chat/completions), as Qwen
// in DashScope's compatible mode, DeepSeek, vLLM and Ollama serve.
//
// It is off by default (Config.Enabled), and once enabled every tenant is
// in shadow mode: the opinion is recorded (the event, replay) and never
// changes the action, until a tenant enforces it (Config.Tenants).
//
// # The deadline
//
// A call is bounded by the earlier of the caller's deadline and
// Config.Timeout (300ms by default), dial and TLS included; a slow, hung
// or refusing server costs the draft at most that, never more. There is no
// retry, and a 429's Retry-After is not waited for. At most
// Config.MaxConcurrent calls are in flight; one more is refused at once
// (ErrBusy) rather than queued, so a slow server cannot make drafts wait
// in line.
//
// # Privacy
//
// The Client sends exactly the text it is given, in a JSON string in the
// user turn. The caller must give it the text as the pipeline masked it:
// private data must never leave the gateway in clear. The API key is read
// from the environment variable Config.APIKeyEnv names, and neither it
// nor the message text appears in any error. The answer's reason is cut
// to MaxReason characters, so an answer that echoes the message carries
// little of it, and it still is free text: an event should mask it again
// as it does every free-text field.
//
// # Why net/http
//
// The Client uses net/http's client with a Transport of its own, not
// fasthttp's client that the gateway's ports use: a context cancels a
// net/http request at any stage (dial, TLS, waiting for headers, reading
// the body), which is what the hard deadline and Close need, and it
// speaks HTTP/2 and honours the proxy environment for hosted APIs. The
// calls are few (grey-zone drafts only, a handful in flight), so
// fasthttp's savings per request do not matter here. It adds no module.
package opinion

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/xunjian/xunjian/detectors"
)

// ModelRulePrefix starts the Rule of every finding the learned model makes
// ("model:381d9e7645f6b15b"); only those findings qualify a draft for a
// second opinion.
const ModelRulePrefix = "model:"

// The errors of Ask. Each is wrapped with what happened; none holds the
// message text or the API key.
var (
	// ErrOff: the tenant's mode is off (or the Client is not enabled), so
	// nothing was sent.
	ErrOff = errors.New("second opinion off for the tenant")
	// ErrBusy: Config.MaxConcurrent calls were in flight; nothing was
	// sent.
	ErrBusy = errors.New("too many second opinions in flight")
	// ErrTimeout: no answer before the deadline (Config.Timeout or the
	// caller's, the earlier). The error wraps context.DeadlineExceeded too.
	ErrTimeout = errors.New("no second opinion before the deadline")
	// ErrUnavailable: the server could not be reached or answered with a
	// status other than 2xx (then a *StatusError).
	ErrUnavailable = errors.New("second opinion unavailable")
	// ErrBadAnswer: the answer is not a chat completion, holds no JSON
	// object with a verdict, or the object breaks the contract (a verdict
	// other than ok or harmful, a kind it was not asked about, harmful
	// with no kind, ok with kinds).
	ErrBadAnswer = errors.New("unusable second opinion")
	// ErrClosed: the Client was closed.
	ErrClosed = errors.New("second opinion client closed")
)

// StatusError reports an answer with a status other than 2xx. It wraps
// ErrUnavailable. A 429's Retry-After is not honoured beyond the call's
// deadline: the call fails at once and the draft goes on.
type StatusError struct {
	// Status is the HTTP status code.
	Status int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%v: status %d %s", ErrUnavailable, e.Status, http.StatusText(e.Status))
}

// Unwrap returns ErrUnavailable.
func (e *StatusError) Unwrap() error { return ErrUnavailable }

// Code returns a short name for err, as Ask returns it, for metrics labels
// and events: "" for nil, then "off", "busy", "timeout", "unavailable",
// "bad_answer", "closed", "canceled" (the caller's context), or "error".
func Code(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrOff):
		return "off"
	case errors.Is(err, ErrBusy):
		return "busy"
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, ErrBadAnswer):
		return "bad_answer"
	case errors.Is(err, ErrClosed):
		return "closed"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "error"
}

// Verdict is a second opinion's judgement of a message.
type Verdict string

// The verdicts.
const (
	// VerdictOK: none of the kinds asked about.
	VerdictOK Verdict = "ok"
	// VerdictHarmful: at least one of them (Opinion.Kinds).
	VerdictHarmful Verdict = "harmful"
)

// Question is what a second opinion is asked about.
type Question struct {
	// Text is the message, ALREADY MASKED by the caller (the pipeline's
	// masked text): it is sent as given, and private data must never
	// leave the gateway in clear. It must be valid UTF-8.
	Text string
	// Lang is the language of the prompt: "en" for English, anything else
	// ("zh", empty) for Chinese. The message may be in either.
	Lang string
	// Role is who wrote the message: "customer", or "agent" for any other
	// value.
	Role string
	// Kinds are the kinds the learned model suspected (Client.Suspects),
	// given to the second opinion as a hint; those not among Config.Kinds
	// are not sent.
	Kinds []string
	// Tenant is the message's tenant, whose mode applies.
	Tenant string
}

// Opinion is a second opinion on a message.
type Opinion struct {
	// Verdict is ok or harmful.
	Verdict Verdict
	// Kinds are the kinds it found (harmful only), among Config.Kinds,
	// each once.
	Kinds []string
	// Reason is its one-sentence reason, on one line, trimmed and at most
	// MaxReason characters; free text, to be masked again where it is
	// recorded.
	Reason string
	// Model is the model that answered, as the server names it, or
	// Config.Model when it does not.
	Model string
	// Latency is how long the call took.
	Latency time.Duration
	// Mode is the tenant's mode when it was asked: shadow (record only)
	// or enforce (may take part in the action).
	Mode Mode
}

// Option changes how New builds a Client.
type Option func(*options)

type options struct {
	transport http.RoundTripper
}

// WithTransport makes the Client send its requests through rt instead of
// the Transport of its own (e.g. one with a private CA's roots). The
// deadline still applies to every call; Close closes rt's idle
// connections when it has a CloseIdleConnections method.
func WithTransport(rt http.RoundTripper) Option {
	return func(o *options) { o.transport = rt }
}

// Client asks for second opinions. It is safe for concurrent use; Close
// it when done.
type Client struct {
	cfg      Config
	endpoint string
	key      string // the bearer key; "" for none
	hc       *http.Client
	// sem holds a token per call in flight.
	sem chan struct{}
	// promptZH and promptEN are the system prompts.
	promptZH, promptEN string

	// done is cancelled by Close, cancelling the calls in flight.
	done   context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool           // guarded by mu
	calls  sync.WaitGroup // calls in flight, added to under mu
}

// New returns a Client configured by cfg (its zero fields take their
// defaults), reading the API key from the environment variable
// cfg.APIKeyEnv names through getenv (os.Getenv when nil). A Client of a
// config that is not enabled is valid and never asks: ShouldAsk is always
// false and Ask returns ErrOff. New fails when cfg does not validate, or
// when cfg is enabled, names a key variable and the variable is empty.
func New(cfg Config, getenv func(string) string, opts ...Option) (*Client, error) {
	// The Client keeps its own copies: the caller's may change.
	cfg.Kinds, cfg.Tenants = slices.Clone(cfg.Kinds), maps.Clone(cfg.Tenants)
	cfg.Defaults()
	if err := cfg.Validate(""); err != nil {
		return nil, fmt.Errorf("opinion: %w", err)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	c := &Client{
		cfg:      cfg,
		endpoint: strings.TrimRight(cfg.BaseURL, "/") + "/chat/completions",
		sem:      make(chan struct{}, cfg.MaxConcurrent),
		promptZH: systemPrompt("zh", cfg.Kinds),
		promptEN: systemPrompt("en", cfg.Kinds),
	}
	if cfg.Enabled && cfg.APIKeyEnv != "" {
		c.key = strings.TrimSpace(getenv(cfg.APIKeyEnv))
		switch {
		case c.key == "":
			return nil, fmt.Errorf("opinion: api_key_env: the environment variable %s is empty", cfg.APIKeyEnv)
		case strings.ContainsFunc(c.key, func(r rune) bool { return r < 0x21 || r == 0x7f }):
			return nil, fmt.Errorf("opinion: api_key_env: the key in %s holds spaces or control characters", cfg.APIKeyEnv)
		}
	}
	rt := o.transport
	if rt == nil {
		rt = newTransport(cfg)
	}
	c.hc = &http.Client{
		Transport: rt,
		// Never follow a redirect: it could carry the masked text and the
		// key elsewhere, and spends the deadline.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c.done, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// newTransport returns the Client's Transport: keep-alive connections
// enough for MaxConcurrent calls, so that a call rarely pays for a dial
// and a TLS handshake within its deadline; dial and TLS bounded by the
// call's deadline (its context) and by Timeout besides; HTTP/2 when the
// server offers it; the proxy from the environment (never for loopback).
func newTransport(cfg Config) *http.Transport {
	d := &net.Dialer{Timeout: cfg.Timeout.D(), KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    cfg.Timeout.D(),
		MaxIdleConns:           cfg.MaxConcurrent,
		MaxIdleConnsPerHost:    cfg.MaxConcurrent,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// Mode returns tenant's mode (Config.ModeFor): off when the Client is not
// enabled.
func (c *Client) Mode(tenant string) Mode { return c.cfg.ModeFor(tenant) }

// Suspects returns the names of the findings that qualify a draft for a
// second opinion, each once, in the findings' order: findings of a
// configured kind, made by the learned model (Rule starting with
// ModelRulePrefix), with a score in the grey zone. They are what a
// Question's Kinds should hold.
func (c *Client) Suspects(findings []detectors.Finding) []string {
	var kinds []string
	for i := range findings {
		if k, ok := c.suspect(&findings[i]); ok && !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	return kinds
}

// ShouldAsk reports whether a message with findings, of tenant, qualifies
// for a second opinion: the tenant's mode is not off and a finding is
// among its Suspects. It does not allocate.
func (c *Client) ShouldAsk(findings []detectors.Finding, tenant string) bool {
	if c.Mode(tenant) == ModeOff {
		return false
	}
	for i := range findings {
		if _, ok := c.suspect(&findings[i]); ok {
			return true
		}
	}
	return false
}

// suspect returns the configured kind f is a finding of, and whether f
// qualifies: made by the model, its score in the grey zone.
func (c *Client) suspect(f *detectors.Finding) (string, bool) {
	if !strings.HasPrefix(f.Rule, ModelRulePrefix) || !c.cfg.GreyZone.Contains(f.Score) {
		return "", false
	}
	for _, k := range c.cfg.Kinds {
		if isKind(k, f) {
			return k, true
		}
	}
	return "", false
}

// isKind reports whether name is f's taxonomy name (f.Name()), without
// building it.
func isKind(name string, f *detectors.Finding) bool {
	d := len(f.Detector)
	return len(name) == d+1+len(f.Kind) && name[:d] == f.Detector && name[d] == '.' && name[d+1:] == f.Kind
}

// chatRequest is the chat completion asked for.
type chatRequest struct {
	Model          string          `json:"model"`
	Messages       []chatMessage   `json:"messages"`
	Temperature    float64         `json:"temperature"`
	MaxTokens      int             `json:"max_tokens"`
	Stream         bool            `json:"stream"`
	ResponseFormat *responseFormat `json:"response_format,omitempty"`
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type responseFormat struct {
	Type string `json:"type"`
}

// Ask asks for a second opinion on q, within the earlier of ctx's
// deadline and Config.Timeout. It sends q.Text exactly as given: the
// caller must have masked it. Errors (see the Err variables; none holds
// the text or the key): ErrOff, ErrBusy, ErrTimeout, ErrUnavailable (a
// *StatusError for a status other than 2xx), ErrBadAnswer, ErrClosed, or
// ctx's error when ctx is cancelled.
func (c *Client) Ask(ctx context.Context, q Question) (Opinion, error) {
	mode := c.Mode(q.Tenant)
	if mode == ModeOff {
		return Opinion{}, fmt.Errorf("opinion: tenant %q: %w", q.Tenant, ErrOff)
	}
	if !utf8.ValidString(q.Text) {
		return Opinion{}, errors.New("opinion: the text is not valid UTF-8")
	}
	select {
	case c.sem <- struct{}{}:
		defer func() { <-c.sem }()
	default:
		return Opinion{}, fmt.Errorf("opinion: %w (%d)", ErrBusy, c.cfg.MaxConcurrent)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return Opinion{}, fmt.Errorf("opinion: %w", ErrClosed)
	}
	c.calls.Add(1)
	c.mu.Unlock()
	defer c.calls.Done()

	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout.D())
	defer cancel()
	stop := context.AfterFunc(c.done, cancel) // Close cancels the call
	defer stop()

	body, err := c.request(&q)
	if err != nil {
		return Opinion{}, fmt.Errorf("opinion: %w", err)
	}
	data, err := c.post(cctx, body)
	if err != nil {
		return Opinion{}, c.classify(ctx, cctx, err, start)
	}
	a, model, err := parseResponse(data, c.cfg.Kinds)
	if err != nil {
		return Opinion{}, fmt.Errorf("opinion: %w", err)
	}
	if model == "" {
		model = c.cfg.Model
	}
	return Opinion{Verdict: a.verdict, Kinds: a.kinds, Reason: a.reason, Model: model, Latency: time.Since(start), Mode: mode}, nil
}

// request returns the chat completion request's body for q.
func (c *Client) request(q *Question) ([]byte, error) {
	user, err := userContent(q, c.cfg.Kinds)
	if err != nil {
		return nil, err
	}
	system := c.promptZH
	if q.Lang == "en" {
		system = c.promptEN
	}
	r := chatRequest{
		Model:       c.cfg.Model,
		Messages:    []chatMessage{{Role: "system", Content: system}, {Role: "user", Content: user}},
		Temperature: 0,
		MaxTokens:   c.cfg.MaxTokens,
	}
	if c.cfg.ResponseFormat == ResponseFormatJSON {
		r.ResponseFormat = &responseFormat{Type: "json_object"}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encode the request: %w", err)
	}
	return b.Bytes(), nil
}

// post sends body to the endpoint under ctx and returns the answer's body,
// or a *StatusError for a status other than 2xx, or the transport's error.
func (c *Client) post(ctx context.Context, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The body is never read into an error: a server may echo the
		// request in it. A little is drained so the connection is reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, &StatusError{Status: resp.StatusCode}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	if len(data) > maxBody {
		return nil, badAnswer(fmt.Sprintf("body longer than %d bytes", maxBody))
	}
	return data, nil
}

// classify turns post's error into Ask's: ErrTimeout when the call's
// deadline passed, ErrClosed when Close cancelled it, ctx's error when the
// caller cancelled it, the error itself when it is already one of Ask's,
// else ErrUnavailable.
func (c *Client) classify(ctx, cctx context.Context, err error, start time.Time) error {
	var se *StatusError
	switch {
	case errors.As(err, &se), errors.Is(err, ErrBadAnswer):
		return fmt.Errorf("opinion: %w", err)
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("opinion: %w (%v): %w", ErrTimeout, time.Since(start).Round(time.Millisecond), context.DeadlineExceeded)
	case c.done.Err() != nil:
		return fmt.Errorf("opinion: %w", ErrClosed)
	case ctx.Err() != nil:
		return fmt.Errorf("opinion: %w", ctx.Err())
	}
	return fmt.Errorf("opinion: %w: %w", ErrUnavailable, err)
}

// Close cancels the calls in flight, waits until they have returned,
// refuses new ones (ErrClosed) and closes idle connections: once it
// returns, no request of the Client is in flight. It is safe to call more
// than once.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.calls.Wait()
	c.hc.CloseIdleConnections()
	return nil
}
