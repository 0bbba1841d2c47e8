package gateway

import (
	"encoding/json"
	"errors"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/pprofhandler"

	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/gateway/errcode"
)

func (s *Server) handleAdmin(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	if path != "/healthz" { // liveness stays open for the orchestrator
		if _, err := s.auth.AuthenticateAdmin(func(name string) []byte { return ctx.Request.Header.Peek(name) }, s.now()); err != nil {
			s.unauthorized(ctx, err)
			return
		}
	}
	switch path {
	case "/healthz":
		writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ok"})
	case "/readyz":
		if !s.ready.Load() {
			writeJSON(ctx, fasthttp.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": "starting or shutting down"})
			return
		}
		if s.stream != nil {
			// Kafka unreachable leaves the gateway ready while the spool
			// has room (events wait there); the body says so.
			r := s.stream.Readiness()
			status, word := fasthttp.StatusOK, "ready"
			if !r.Ready {
				status, word = fasthttp.StatusServiceUnavailable, "not ready"
			}
			writeJSON(ctx, status, map[string]any{"status": word, "reason": r.Reason, "warning": r.Warning, "kafka": r.Kafka,
				"spool_events": r.SpoolEvents, "spool_bytes": r.SpoolBytes})
			return
		}
		writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ready"})
	case "/metrics":
		s.metrics.Serve(ctx)
	case "/v1/policy", "/v1/policy/reload", "/v1/policy/rollback":
		s.servePolicy(ctx, path)
	case "/debug/pprof/", "/debug/pprof/profile", "/debug/pprof/allocs", "/debug/pprof/heap", "/debug/pprof/goroutine",
		"/debug/pprof/block", "/debug/pprof/mutex", "/debug/pprof/trace", "/debug/pprof/cmdline", "/debug/pprof/symbol",
		"/debug/pprof/threadcreate":
		// Go's profiles, behind the admin credential like everything here
		// but /healthz: for finding what is in the way under load.
		pprofhandler.PprofHandler(ctx)
	default:
		writeError(ctx, errcode.NotFound, "no route "+path)
	}
}

// unauthorized answers a request whose credential err refused: 401 with
// the challenge (RFC 9110 section 11.6.1), no_credential when there was
// none.
func (s *Server) unauthorized(ctx *fasthttp.RequestCtx, err error) {
	s.metrics.Rejected("auth")
	code := errcode.Unauthorized
	if errors.Is(err, auth.ErrNoCredential) {
		code = errcode.NoCredential
	}
	ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="xunjian"`)
	writeError(ctx, code, err.Error())
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError answers with the JSON error shape of the contract,
// {"error": {"code", "message"}}, and the code's status.
func writeError(ctx *fasthttp.RequestCtx, code errcode.Code, msg string) {
	writeErrorStatus(ctx, code.Status(), code, msg)
}

// writeErrorStatus is writeError with a status of the code's other ones
// (delivery_unknown answers 502 or 504 as the backend failed).
func writeErrorStatus(ctx *fasthttp.RequestCtx, status int, code errcode.Code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code.String(), msg
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
		ctx.SetBodyString(`{"error":{"code":"` + errcode.Internal.String() + `","message":"encode reply"}}`)
	}
}
