// Package gateway is the Xunjian service. It serves the agent port
// (POST /v1/check, POST /v1/events and the configured proxy routes) and the
// admin port (/healthz, /readyz, /metrics, /v1/policy) on fasthttp (over
// TLS when tls.agent or tls.admin says so, certificates reloaded as their
// files change: internal/servertls), runs
// every draft through the inspection pipeline, and forwards what is
// released to the chat backend.
//
// Build a Server with New (which parses, validates and precomputes
// everything), run it with Serve, release it with Close. Nothing on the
// request path reads configuration.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/errcode"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/internal/ack"
	"github.com/xunjian/xunjian/gateway/internal/convstore"
	"github.com/xunjian/xunjian/gateway/internal/metrics"
	"github.com/xunjian/xunjian/gateway/internal/ratelimit"
	"github.com/xunjian/xunjian/gateway/opinion"
	"github.com/xunjian/xunjian/gateway/proxy"
	"github.com/xunjian/xunjian/gateway/stream"
	"github.com/xunjian/xunjian/gateway/stream/embedded"
	"github.com/xunjian/xunjian/internal/certfiles"
	"github.com/xunjian/xunjian/internal/servertls"
	"github.com/xunjian/xunjian/rules"
)

// Server is the gateway. Its methods are safe for concurrent use.
type Server struct {
	cfg      *config.Config
	log      *slog.Logger
	policies *rules.Reloader[*inspect.Inspector] // the policy in force, hot-reloaded, with its Inspector
	auth     *auth.Authenticator
	proxy    *proxy.Proxy
	convs    *convstore.Store
	// session carries each message through inspection, its conversation
	// (convs) and its event (stream).
	session *inspect.Session
	acks    *ack.Issuer
	limiter *ratelimit.Limiter // per agent
	// credLimiter limits credentials that pin no agent as a whole.
	credLimiter *ratelimit.Limiter
	// slots admits inspections: a buffered channel of limits.max_inflight.
	slots   chan struct{}
	metrics *metrics.Metrics
	stream  *stream.Stream   // nil when events are off
	opinion *opinion.Client  // asks second opinions; never nil, off unless configured
	broker  *embedded.Broker // the built-in broker, when no brokers are configured
	// agentTLS and adminTLS serve the listeners' certificates (nil: plain
	// HTTP on that listener).
	agentTLS, adminTLS *servertls.Reloader
	// rec records events on the stream (nil when events are off); decider
	// gives the shared state the stream's alert and sampling rules.
	rec     *recorder
	decider stream.Decider
	// shared is the state shared with the other gateways; nil without
	// shared_state (each keeps its own: convs, the limiters, acks and the
	// stream's dedup and sampler, which also serve while it is away).
	shared sharedState
	// sharedDown is set from a failed call to the shared state until one
	// succeeds, so the outage is logged once.
	sharedDown atomic.Bool
	ready      atomic.Bool
	now        func() time.Time
}

// Options carry what New needs beyond the configuration.
type Options struct {
	// Logger receives structured logs; nil means slog.Default().
	Logger *slog.Logger
	// Getenv reads secrets named in the configuration; nil means os.Getenv.
	Getenv func(string) string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New provisions a Server for cfg (already defaulted and validated, as
// config.Load returns it): it loads and tests the policy bundle (refusing
// to start on a bundle that does not compile or whose tests fail), opens
// the event spool and, without brokers, starts the built-in one.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Server, error) {
	s := &Server{cfg: cfg, log: opts.Logger, now: opts.Now}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	var err error
	if s.agentTLS, err = newTLS(cfg.TLS.Agent, "agent", s.log); err != nil {
		return nil, err
	}
	if s.adminTLS, err = newTLS(cfg.TLS.Admin, "admin", s.log); err != nil {
		return nil, err
	}
	if s.auth, err = newAuth(cfg, getenv); err != nil {
		return nil, err
	}
	var popts proxy.Options
	for _, c := range cfg.TrustedProxies {
		pfx, err := netip.ParsePrefix(c) // validated by config
		if err != nil {
			return nil, fmt.Errorf("trusted_proxies: %w", err)
		}
		popts.TrustedProxies = append(popts.TrustedProxies, pfx)
	}
	if s.proxy, err = proxy.NewWithOptions(cfg.Routes, popts); err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	if s.convs, err = convstore.New(cfg.Conversations); err != nil {
		return nil, fmt.Errorf("conversations: %w", err)
	}
	ac := cfg.Ack
	if ac.SecretEnv != "" {
		if ac.Secret = []byte(getenv(ac.SecretEnv)); len(ac.Secret) == 0 {
			return nil, fmt.Errorf("ack.secret_env: environment variable %s is empty: set it to one secret of at least 32 bytes shared by every gateway (e.g. %s=$(openssl rand -hex 32)), or remove secret_env for a key of this process only", ac.SecretEnv, ac.SecretEnv)
		}
	}
	if s.acks, err = ack.New(ac); err != nil {
		return nil, fmt.Errorf("ack: %w", err)
	}
	if s.limiter, err = ratelimit.New(cfg.Limits.Agent()); err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	if s.credLimiter, err = ratelimit.New(cfg.Limits.Credential()); err != nil {
		s.limiter.Close()
		return nil, fmt.Errorf("limits: credential: %w", err)
	}
	s.slots = make(chan struct{}, max(cfg.Limits.MaxInflight, 1))
	s.metrics = metrics.New()
	if s.agentTLS != nil {
		s.metrics.CertExpiry(certfiles.UseAgent, s.agentTLS.Certificate)
	}
	if s.adminTLS != nil {
		s.metrics.CertExpiry(certfiles.UseAdmin, s.adminTLS.Certificate)
	}
	if err := s.openPolicy(ctx, cfg); err != nil {
		s.convs.Close()
		s.limiter.Close()
		s.credLimiter.Close()
		s.auth.Close()
		return nil, err
	}
	s.metrics.Policy(s.inspector().Policy().Revision())
	s.metrics.CacheStats("findings", func() (uint64, uint64) { return s.inspector().CacheStats() })
	s.metrics.CacheStats("decision", func() (uint64, uint64) { return s.inspector().Policy().CacheStats() })
	s.metrics.PolicyReloads(s.policyStats)
	if s.stream, s.broker, err = openStream(cfg, getenv, s.log, s.metrics); err != nil {
		s.closeStores()
		return nil, err
	}
	if s.opinion, err = opinion.New(cfg.SecondOpinion, getenv); err != nil {
		s.closeStream()
		s.closeStores()
		return nil, fmt.Errorf("second_opinion: %w", err)
	}
	if s.shared, err = openShared(cfg, getenv, s.metrics.SharedStateCall, s.log); err != nil {
		s.opinion.Close()
		s.closeStream()
		s.closeStores()
		return nil, err
	}
	if s.shared != nil {
		s.metrics.SharedStateUp(func() bool { return s.shared.Status().Up })
	}
	s.session = &inspect.Session{
		Store: s.convs, Timeout: cfg.Limits.InspectTimeout.D(), FailMode: s.failMode, OnFailure: s.inspectionFailed, Now: s.now,
	}
	if cfg.SecondOpinion.Enabled {
		s.session.Opinion = opinion.Consultant{Client: s.opinion, OnAsk: func(_ string, mode opinion.Mode, result string) {
			s.metrics.SecondOpinion(string(mode), result)
		}}
	}
	if s.stream != nil {
		s.metrics.Stream(streamStats(s.stream))
		s.metrics.Registry().MustRegister(s.stream.Collector())
		s.rec = &recorder{st: s.stream, onFull: cfg.Stream.Spool.OnFull, log: s.log}
		s.session.Recorder = s.rec
		s.decider = s.stream.Decider()
	}
	s.ready.Store(true)
	return s, nil
}

// newTLS loads the certificate of one listener (tls.<name>); nil when the
// listener serves plain HTTP.
func newTLS(c servertls.Config, name string, log *slog.Logger) (*servertls.Reloader, error) {
	if !c.Enabled() {
		return nil, nil
	}
	r, err := servertls.New(c, servertls.Options{Name: name, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("tls.%s: %w", name, err)
	}
	return r, nil
}

func newAuth(cfg *config.Config, getenv func(string) string) (*auth.Authenticator, error) {
	ac := cfg.Auth
	ac.AdminKeys = cfg.Admin.APIKeys
	if j := ac.JWT; j != nil && j.HS256SecretEnv != "" {
		jc := *j // the secret stays out of cfg
		if jc.HS256Secret = []byte(getenv(j.HS256SecretEnv)); len(jc.HS256Secret) == 0 {
			return nil, fmt.Errorf("auth.jwt.hs256_secret_env: environment variable %s is empty: set it to the HMAC secret (at least 32 bytes) your identity provider signs tokens with", j.HS256SecretEnv)
		}
		ac.JWT = &jc
	}
	a, err := auth.New(ac)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return a, nil
}

// Metrics returns the server's metrics (for tests and embedding).
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// Serve listens on the configured ports and serves until ctx is done, then
// shuts down gracefully: /readyz turns unready, listeners close, and
// requests in flight finish (bounded by limits.shutdown_timeout).
func (s *Server) Serve(ctx context.Context) error {
	agentLn, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.cfg.Listen, err)
	}
	adminLn, err := net.Listen("tcp", s.cfg.AdminListen)
	if err != nil {
		agentLn.Close()
		return fmt.Errorf("listen admin %s: %w", s.cfg.AdminListen, err)
	}
	return s.ServeListeners(ctx, agentLn, adminLn)
}

// ServeListeners is Serve on listeners the caller opened (tests use port
// 0): plain TCP listeners, which speak TLS here when the configuration
// says so.
func (s *Server) ServeListeners(ctx context.Context, agentLn, adminLn net.Listener) error {
	agent := s.newServer("xunjian", s.handleAgent)
	admin := s.newServer("xunjian-admin", s.handleAdmin)
	if s.agentTLS != nil {
		agentLn = s.agentTLS.Listener(agentLn)
	}
	if s.adminTLS != nil {
		adminLn = s.adminTLS.Listener(adminLn)
	}
	errc := make(chan error, 2)
	go func() { errc <- agent.Serve(newLingerListener(agentLn)) }()
	go func() { errc <- admin.Serve(newLingerListener(adminLn)) }()
	pollCtx, stopPoll := context.WithCancel(context.Background())
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		_ = s.policies.Run(pollCtx) // returns pollCtx's error when stopped
	}()
	defer func() { stopPoll(); <-pollDone }()
	streamCtx, stopStream := context.WithCancel(context.Background())
	streamDone := make(chan struct{})
	go func() {
		defer close(streamDone)
		if s.stream != nil {
			s.runStream(streamCtx)
		}
	}()
	attrs := []slog.Attr{
		slog.String("agent", agentLn.Addr().String()), slog.String("admin", adminLn.Addr().String()),
		slog.String("policy_revision", s.inspector().Policy().Revision()), slog.String("policy_source", s.policies.Source().String()),
		slog.Int("routes", len(s.cfg.Routes)),
		slog.Bool("agent_tls", s.agentTLS != nil), slog.Bool("admin_tls", s.adminTLS != nil),
		slog.Bool("admin_client_certs", s.adminTLS != nil && s.cfg.TLS.Admin.ClientCAFile != ""),
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "gateway listening", attrs...)
	if !s.auth.Enabled() {
		s.log.LogAttrs(ctx, slog.LevelWarn, "dev mode: no credentials configured; requests are accepted without one (loopback only)")
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.ready.Store(false)
	shut, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.ShutdownTimeout.D())
	defer cancel()
	err := errors.Join(agent.ShutdownWithContext(shut), admin.ShutdownWithContext(shut))
	// Requests are done: no more events. Ship what is left, briefly.
	stopStream()
	<-streamDone
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "gateway stopped")
	if serveErr != nil {
		return fmt.Errorf("serve: %w", serveErr)
	}
	return err
}

// Close releases the stores, caches and the event stream (closing the
// spool; what was not shipped ships at the next start). Call it after
// Serve returns.
func (s *Server) Close() {
	if err := s.opinion.Close(); err != nil {
		s.log.LogAttrs(context.Background(), slog.LevelError, "closing the second opinion client", slog.String("error", err.Error()))
	}
	s.closeStream()
	s.closeStores()
}

// closeStream closes the event stream and the built-in broker.
func (s *Server) closeStream() {
	if s.stream != nil {
		if err := s.stream.Close(); err != nil {
			s.log.LogAttrs(context.Background(), slog.LevelError, "closing the event stream", slog.String("error", err.Error()))
		}
	}
	if s.broker != nil {
		s.broker.Close()
	}
}

func (s *Server) closeStores() {
	if s.shared != nil {
		if err := s.shared.Close(); err != nil {
			s.log.LogAttrs(context.Background(), slog.LevelError, "closing the shared state", slog.String("error", err.Error()))
		}
	}
	s.convs.Close()
	s.limiter.Close()
	s.credLimiter.Close()
	s.auth.Close()
	if err := s.policies.Close(); err != nil {
		s.log.LogAttrs(context.Background(), slog.LevelError, "closing the policy", slog.String("error", err.Error()))
	}
}

func (s *Server) newServer(name string, h fasthttp.RequestHandler) *fasthttp.Server {
	l := s.cfg.Limits
	return &fasthttp.Server{
		Name:               name,
		Handler:            s.recoverer(h),
		ReadTimeout:        l.ReadTimeout.D(),
		WriteTimeout:       l.WriteTimeout.D(),
		IdleTimeout:        l.IdleTimeout.D(),
		MaxRequestBodySize: l.MaxBodyBytes,
		// The header block must hold the 8 KiB tokens auth accepts.
		ReadBufferSize:        l.MaxHeaderBytes,
		NoDefaultServerHeader: true,
		// Connection-level failures (a TLS handshake refused: an old
		// version, no client certificate) go to the structured log.
		Logger: connLogger{s.log, name},
		ErrorHandler: func(ctx *fasthttp.RequestCtx, err error) {
			var small *fasthttp.ErrSmallBuffer
			if errors.As(err, &small) {
				s.metrics.Rejected("too_large")
				writeError(ctx, errcode.HeadersTooLarge, fmt.Sprintf("request headers over %d bytes", l.MaxHeaderBytes))
				return
			}
			if errors.Is(err, fasthttp.ErrBodyTooLarge) {
				// The client may still be sending the body: read it
				// away before closing, so it gets this reply, not a reset.
				lingerOnClose(ctx.Conn())
				s.metrics.Rejected("too_large")
				writeError(ctx, errcode.BodyTooLarge, fmt.Sprintf("body over %d bytes", l.MaxBodyBytes))
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// A connection that sent no (whole) request in time; not
				// a malformed one.
				s.metrics.Rejected("timeout")
				writeError(ctx, errcode.RequestTimeout, "no complete request within the read timeout")
				return
			}
			s.metrics.Rejected("bad_request")
			writeError(ctx, errcode.BadRequest, "malformed HTTP request")
		},
	}
}

// connLogger is fasthttp's logger for one listener: its messages (a
// connection's failure, never a request's content) as warnings.
type connLogger struct {
	log      *slog.Logger
	listener string
}

// Printf implements fasthttp.Logger.
func (l connLogger) Printf(format string, args ...any) {
	l.log.LogAttrs(context.Background(), slog.LevelWarn, "connection failed",
		slog.String("listener", l.listener), slog.String("error", fmt.Sprintf(format, args...)))
}

// admit takes an inspection slot, waiting at most limits.queue_timeout;
// false means the gateway is at capacity and the draft must be refused
// before inspection.
func (s *Server) admit() bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(s.cfg.Limits.QueueTimeout.D())
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	}
}

// release returns the slot admit took.
func (s *Server) release() { <-s.slots }

// recoverer turns a panic into a 500 with an error id that is logged.
func (s *Server) recoverer(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		defer func() {
			if r := recover(); r != nil {
				id := fmt.Sprintf("%d-%d", ctx.ConnID(), ctx.ConnRequestNum())
				s.log.LogAttrs(context.Background(), slog.LevelError, "panic serving request",
					slog.String("error_id", id), slog.String("path", string(ctx.Path())), slog.Any("panic", r))
				ctx.Response.Reset()
				writeError(ctx, errcode.Internal, "internal error, id "+id)
			}
		}()
		h(ctx)
	}
}
