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
		body := map[string]any{"status": "ready"}
		status := fasthttp.StatusOK
		if s.stream != nil {
			// Kafka unreachable leaves the gateway ready while the spool
			// has room (events wait there); the body says so.
			r := s.stream.Readiness()
			if !r.Ready {
				status, body["status"] = fasthttp.StatusServiceUnavailable, "not ready"
			}
			body["reason"], body["warning"], body["kafka"] = r.Reason, r.Warning, r.Kafka
			body["spool_events"], body["spool_bytes"] = r.SpoolEvents, r.SpoolBytes
		}
		if s.shared != nil {
			// The shared state away leaves the gateway ready: degrade
			// serves on local state, fail_closed answers drafts 503
			// state_unavailable; every gateway shares the one server, so
			// none would be readier. The body says so.
			sh := s.sharedReadiness()
			body["shared_state"] = sh
			if sh["reachable"] == false {
				w := "shared state unreachable (shared_state.mode " + s.cfg.SharedState.Mode + ")"
				if prev, _ := body["warning"].(string); prev != "" {
					w = prev + "; " + w
				}
				body["warning"] = w
			}
		}
		writeJSON(ctx, status, body)
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
