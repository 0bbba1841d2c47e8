// Package gateway is the Xunjian service: it serves the agent port
// (POST /v1/check) and the admin port (/healthz, /readyz, /v1/policy) on
// fasthttp, running every request through the inspection pipeline.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/gateway/inspect"
)

// Config configures a Server. The zero value is valid and means the
// defaults documented on each field.
type Config struct {
	// Addr is the agent port's listen address; empty means 127.0.0.1:8080.
	Addr string
	// AdminAddr is the admin port's listen address; empty means 127.0.0.1:8081.
	AdminAddr string
	// MaxBodyBytes bounds request bodies; zero means 64 KiB.
	MaxBodyBytes int
	// InspectTimeout bounds one inspection; zero means 50 ms.
	InspectTimeout time.Duration
	// Logger receives structured logs; nil means slog.Default().
	Logger *slog.Logger
}

// Server is the gateway. Build it with New, run it with Serve.
type Server struct {
	cfg       Config
	inspector *inspect.Inspector
	log       *slog.Logger
}

// New returns a Server running every request through in.
func New(cfg Config, in *inspect.Inspector) *Server {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if cfg.AdminAddr == "" {
		cfg.AdminAddr = "127.0.0.1:8081"
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.InspectTimeout == 0 {
		cfg.InspectTimeout = 50 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Server{cfg: cfg, inspector: in, log: cfg.Logger}
}

// Serve listens on both ports and serves until ctx is done, then shuts down
// gracefully, letting requests in flight finish.
func (s *Server) Serve(ctx context.Context) error {
	agentLn, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen agent port %s: %w", s.cfg.Addr, err)
	}
	adminLn, err := net.Listen("tcp", s.cfg.AdminAddr)
	if err != nil {
		agentLn.Close()
		return fmt.Errorf("listen admin port %s: %w", s.cfg.AdminAddr, err)
	}
	return s.ServeListeners(ctx, agentLn, adminLn)
}

// ServeListeners is Serve on listeners the caller opened (tests use port 0).
func (s *Server) ServeListeners(ctx context.Context, agentLn, adminLn net.Listener) error {
	agent := s.newServer("xunjian-agent", s.handleAgent)
	admin := s.newServer("xunjian-admin", s.handleAdmin)
	errc := make(chan error, 2)
	go func() { errc <- agent.Serve(agentLn) }()
	go func() { errc <- admin.Serve(adminLn) }()
	s.log.LogAttrs(ctx, slog.LevelInfo, "gateway listening",
		slog.String("agent", agentLn.Addr().String()), slog.String("admin", adminLn.Addr().String()),
		slog.String("policy_revision", s.inspector.Policy().Revision()))
	select {
	case <-ctx.Done():
	case err := <-errc:
		agent.Shutdown()
		admin.Shutdown()
		return fmt.Errorf("serve: %w", err)
	}
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(agent.ShutdownWithContext(shut), admin.ShutdownWithContext(shut))
}

func (s *Server) newServer(name string, h fasthttp.RequestHandler) *fasthttp.Server {
	return &fasthttp.Server{
		Name:               name,
		Handler:            s.recoverer(h),
		ReadTimeout:        10 * time.Second,
		WriteTimeout:       10 * time.Second,
		IdleTimeout:        60 * time.Second,
		MaxRequestBodySize: s.cfg.MaxBodyBytes,
		ErrorHandler: func(ctx *fasthttp.RequestCtx, err error) {
			if errors.Is(err, fasthttp.ErrBodyTooLarge) {
				writeError(ctx, fasthttp.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("body over %d bytes", s.cfg.MaxBodyBytes))
				return
			}
			writeError(ctx, fasthttp.StatusBadRequest, "bad_request", "malformed HTTP request")
		},
	}
}

func (s *Server) recoverer(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		defer func() {
			if r := recover(); r != nil {
				id := fmt.Sprintf("%016x", ctx.ID())
				s.log.LogAttrs(context.Background(), slog.LevelError, "panic serving request",
					slog.String("error_id", id), slog.String("path", string(ctx.Path())), slog.Any("panic", r))
				writeError(ctx, fasthttp.StatusInternalServerError, "internal", "internal error "+id)
			}
		}()
		h(ctx)
	}
}

func (s *Server) handleAgent(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case "/v1/check":
		if !ctx.IsPost() {
			writeError(ctx, fasthttp.StatusMethodNotAllowed, "method_not_allowed", "use POST")
			return
		}
		s.handleCheck(ctx)
	default:
		writeError(ctx, fasthttp.StatusNotFound, "not_found", "no route "+string(ctx.Method())+" "+string(ctx.Path()))
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

func (s *Server) handleCheck(ctx *fasthttp.RequestCtx) {
	body := ctx.PostBody()
	if !utf8.Valid(body) {
		writeError(ctx, fasthttp.StatusBadRequest, "invalid_utf8", "body is not valid UTF-8")
		return
	}
	var req checkRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, "invalid_json", err.Error())
		return
	}
	if req.Text == nil {
		writeError(ctx, fasthttp.StatusBadRequest, "invalid_field", "text: missing")
		return
	}
	now := time.Now()
	conv := conversationFromContext(s.inspector, req, now)
	ictx, cancel := context.WithTimeout(context.Background(), s.cfg.InspectTimeout)
	defer cancel()
	v, err := s.inspector.Inspect(ictx, inspect.Request{
		Text: *req.Text, Role: req.Role, ConversationID: req.ConversationID, AgentID: req.AgentID,
	}, conv, now)
	switch {
	case errors.Is(err, inspect.ErrInvalid):
		writeError(ctx, fasthttp.StatusBadRequest, "invalid_field", err.Error())
		return
	case err != nil:
		s.log.LogAttrs(context.Background(), slog.LevelError, "inspection failed", slog.String("error", err.Error()))
		writeError(ctx, fasthttp.StatusServiceUnavailable, "inspection_failed", "inspection failed; the draft was not released")
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, &v)
}

// conversationFromContext replays the turns a client sent inline, so the
// policy sees the conversation's risk and wait without server-side state.
func conversationFromContext(in *inspect.Inspector, req checkRequest, now time.Time) *inspect.Conversation {
	conv := &inspect.Conversation{ID: req.ConversationID}
	for _, t := range req.Context {
		ts := t.TS
		if ts.IsZero() {
			ts = now
		}
		// Context turns are best effort: a bad one is skipped, not fatal.
		_, _ = in.Inspect(context.Background(), inspect.Request{Text: t.Text, Role: t.Role, ConversationID: req.ConversationID}, conv, ts)
	}
	return conv
}

func (s *Server) handleAdmin(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case "/healthz":
		writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ok"})
	case "/readyz":
		writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ready"})
	case "/v1/policy":
		p := s.inspector.Policy()
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"revision": p.Revision(), "modules": p.Modules(), "lexicon_version": s.inspector.LexiconVersion()})
	default:
		writeError(ctx, fasthttp.StatusNotFound, "not_found", "no route "+string(ctx.Path()))
	}
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(ctx *fasthttp.RequestCtx, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(ctx, status, &b)
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	ctx.Response.Header.SetContentType("application/json; charset=utf-8")
	ctx.SetStatusCode(status)
	enc := json.NewEncoder(ctx)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		ctx.ResetBody()
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		ctx.SetBodyString(`{"error":{"code":"internal","message":"encode reply"}}`)
	}
}
