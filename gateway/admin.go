package gateway

import (
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/pprofhandler"

	"github.com/xunjian/xunjian/gateway/errcode"
)

// handleAdmin serves the admin port: /healthz open to all, the rest behind
// the admin credential (readiness, metrics, the policy, profiles).
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
