package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/errcode"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/internal/metrics"
	"github.com/xunjian/xunjian/rules"
)

// openPolicy loads the policy bundle cfg names through a hot-reloading
// rules.Reloader, with one Inspector per version (its detectors come from
// the bundle's lexicons), so a request takes one version, policy and
// detectors together, and keeps it to the end.
func (s *Server) openPolicy(ctx context.Context, cfg *config.Config) error {
	src, err := rules.NewSource(cfg.Policy, rules.SourceOptions{})
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	// cache.max_bytes bounds each cache: the detector findings and each
	// policy version's decisions.
	cacheBytes := cfg.Cache.MaxBytes
	loadOpts := []rules.LoadOption{rules.WithCacheBytes(cacheBytes)}
	if cfg.Cache.Disabled {
		cacheBytes = 0
		loadOpts = []rules.LoadOption{rules.WithoutDecisionCache()}
	}
	s.policies, err = rules.NewReloader(ctx, src, rules.ReloaderOptions[*inspect.Inspector]{
		Interval:    cfg.PolicyPoll.D(),
		LoadOptions: loadOpts,
		Attach: func(_ context.Context, p *rules.Policy) (*inspect.Inspector, error) {
			return inspect.New(p, inspect.Options{CacheBytes: cacheBytes})
		},
		OnSwap:  s.policySwapped,
		OnError: s.policyRefused,
	})
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	return nil
}

// inspector is the Inspector of the policy version in force. A request
// calls it once and keeps what it got.
func (s *Server) inspector() *inspect.Inspector {
	_, in := s.policies.Current()
	return in
}

func (s *Server) policySwapped(sw rules.Swap[*inspect.Inspector]) {
	s.metrics.Policy(sw.New.Revision())
	msg := "policy reloaded"
	if sw.Rollback {
		msg = "policy rolled back"
	}
	s.log.LogAttrs(context.Background(), slog.LevelInfo, msg, sw.LogAttrs()...)
}

func (s *Server) policyRefused(e *rules.ReloadError) {
	serving := s.policies.Status().Current
	attrs := []slog.Attr{slog.String("source", e.Source), slog.String("stage", string(e.Stage)),
		slog.String("serving", serving.Revision), slog.String("serving_digest", serving.Digest)}
	if e.Revision != "" {
		attrs = append(attrs, slog.String("refused_revision", e.Revision))
	}
	if e.Digest != "" {
		attrs = append(attrs, slog.String("refused_digest", e.Digest))
	}
	for i, p := range e.Problems {
		if i == 5 {
			attrs = append(attrs, slog.Int("more_problems", len(e.Problems)-i))
			break
		}
		attrs = append(attrs, slog.String(fmt.Sprintf("problem_%d", i), p.String()))
	}
	s.log.LogAttrs(context.Background(), slog.LevelError, "policy bundle refused; the last good version keeps serving", attrs...)
}

// policyStats adapts the reloader's counters to the metrics package.
func (s *Server) policyStats() metrics.PolicyStats {
	st := s.policies.Status()
	return metrics.PolicyStats{
		Reloads: st.Reloads, Refusals: st.Refusals, FetchErrors: st.FetchErrors, Rollbacks: st.Rollbacks,
		Refused: st.Refused != nil,
	}
}

// servePolicy answers the admin port's /v1/policy routes: GET the version
// in force and the reload status, POST …/reload to check the source now,
// POST …/rollback to return to the previous version.
func (s *Server) servePolicy(ctx *fasthttp.RequestCtx, path string) {
	switch {
	case path == "/v1/policy" && ctx.IsGet():
	case path == "/v1/policy/reload" && ctx.IsPost():
		rctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.ShutdownTimeout.D())
		defer cancel()
		if _, err := s.policies.Reload(rctx); err != nil {
			var re *rules.ReloadError
			if errors.As(err, &re) {
				writeJSON(ctx, errcode.PolicyRefused.Status(), map[string]any{"error": map[string]any{
					"code": errcode.PolicyRefused.String(), "message": re.Message, "stage": re.Stage, "problems": re.Problems}})
				return
			}
			writeError(ctx, errcode.ReloadFailed, err.Error())
			return
		}
	case path == "/v1/policy/rollback" && ctx.IsPost():
		if err := s.policies.Rollback(); err != nil {
			if errors.Is(err, rules.ErrNoPrevious) {
				writeError(ctx, errcode.NoPreviousPolicy, "there is no earlier policy version to roll back to")
				return
			}
			writeError(ctx, errcode.RollbackFailed, err.Error())
			return
		}
	default:
		writeError(ctx, errcode.MethodNotAllowed, "GET /v1/policy, POST /v1/policy/reload, POST /v1/policy/rollback")
		return
	}
	in := s.inspector()
	p := in.Policy()
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{
		"revision": p.Revision(), "modules": p.Modules(), "lexicon_version": in.LexiconVersion(),
		"decision_cache": p.CacheStatus().String(), "status": s.policies.Status(),
	})
}
