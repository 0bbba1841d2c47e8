package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/xunjian/xunjian/console/store"
	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/internal/loopback"
)

// Store is what the API reads and changes of the console's database;
// *store.Store implements it. Every method takes the tenant, and the
// team selections follow store.Filter.Teams.
type Store interface {
	ListAlerts(ctx context.Context, f store.Filter) ([]store.Alert, string, error)
	Alert(ctx context.Context, tenant string, id int64) (store.Alert, error)
	History(ctx context.Context, tenant string, id int64) ([]store.Change, error)
	Transition(ctx context.Context, tenant string, id int64, actor string, to store.State, assignee, note string, expectedVersion int64) (store.Alert, error)
	Conversation(ctx context.Context, tenant, id string) (store.Conversation, error)
	AgentStatsOfTeams(ctx context.Context, tenant string, teams []string, agent string, since time.Time, bucket time.Duration) ([]store.Bucket, error)
	Counters(ctx context.Context, tenant string, teams []string, since time.Time) (store.Counts, error)
	DeadLetters(ctx context.Context, limit int) ([]store.DeadLetter, error)
}

// Limits of requests.
const (
	// MaxBody is the largest request body accepted.
	MaxBody = 64 << 10
	// MaxNote is the longest note of a transition, in characters (code
	// points).
	MaxNote = 2000
	// maxAssignee is the longest assignee, in characters.
	maxAssignee = 200
	// maxParam is the longest query parameter or path id, in bytes.
	maxParam = 512
	// DefaultRequestTimeout bounds a request's database work.
	DefaultRequestTimeout = 10 * time.Second
)

// Options are a Handler's collaborators. Store is required.
type Options struct {
	// Store is the console's database.
	Store Store
	// Hub fans alerts out to the event streams; the consumer publishes
	// new alerts to it. Nil means a Hub of its own with the defaults
	// (Handler.Hub returns it).
	Hub *Hub
	// Registry receives the API's metrics (requests by route and status,
	// transitions, event streams) and is what /metrics serves. Nil means
	// a registry of its own, with the Go and process collectors.
	Registry *prometheus.Registry
	// Ready reports whether the console can serve (the database answers,
	// the consumer has joined its group), for /readyz; nil means always
	// ready. Its error is shown to the caller of /readyz: it must not
	// hold a secret.
	Ready func(context.Context) error
	// UI serves everything outside /api/, /healthz, /readyz and /metrics
	// (the web console); nil answers 404 there.
	UI http.Handler
	// Logger logs failures (never a credential); nil means
	// slog.Default().
	Logger *slog.Logger
	// Getenv reads the variables Config names (the JWT's HS256 secret,
	// the session key); nil means os.Getenv.
	Getenv func(string) string
	// Now is the clock of sessions and time windows; nil means time.Now.
	Now func() time.Time
	// RequestTimeout bounds a request's database work; zero means
	// DefaultRequestTimeout. Event streams are not bounded.
	RequestTimeout time.Duration
	// QA enables the quality-audit endpoints under /api/qa (docs/qa.md)
	// and their metrics; nil answers 404 there.
	QA *QAOptions
}

// Handler serves the console's HTTP API, its operations endpoints and,
// when given one, the web UI. Build it with New; it is safe for
// concurrent use.
type Handler struct {
	store   Store
	hub     *Hub
	authn   *authenticator
	ready   func(context.Context) error
	ui      http.Handler
	log     *slog.Logger
	now     func() time.Time
	timeout time.Duration
	// operator is Config.OperatorTenant.
	operator string
	metrics  *metrics
	qa       *qaService // nil: no QA
	mux      *http.ServeMux
}

// New returns the Handler of cfg and opts. It validates cfg, reads the
// secrets it names from the environment, and registers the metrics in
// opts.Registry; errors name the configuration field at fault and never
// hold a secret.
func New(cfg Config, opts Options) (*Handler, error) {
	if opts.Store == nil {
		return nil, errors.New("api: no store")
	}
	if err := cfg.Validate("auth"); err != nil {
		return nil, err
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	h := &Handler{
		store: opts.Store, hub: opts.Hub, ready: opts.Ready, ui: opts.UI, log: opts.Logger, now: opts.Now,
		timeout: opts.RequestTimeout, operator: cfg.OperatorTenant,
	}
	if h.hub == nil {
		h.hub = NewHub(HubConfig{})
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.timeout <= 0 {
		h.timeout = DefaultRequestTimeout
	}
	authn, err := newAuthenticator(cfg, getenv, h.now)
	if err != nil {
		return nil, err
	}
	h.authn = authn
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if h.metrics, err = newMetrics(reg, h.hub); err != nil {
		h.Close()
		return nil, err
	}
	if opts.QA != nil {
		if h.qa, err = newQA(opts.QA, reg); err != nil {
			h.Close()
			return nil, err
		}
	}
	h.routes(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return h, nil
}

// newAuthenticator builds the authenticator of cfg.
func newAuthenticator(cfg Config, getenv func(string) string, now func() time.Time) (*authenticator, error) {
	a := &authenticator{dev: cfg.DevMode(), now: now}
	key := bytes.Clone(cfg.SessionKey)
	if len(key) == 0 && cfg.SessionKeyEnv != "" {
		if key = []byte(getenv(cfg.SessionKeyEnv)); len(key) < MinSessionKey {
			return nil, fmt.Errorf("auth.session_key_env: environment variable %s holds %d bytes: set it to a random key of at least %d bytes", cfg.SessionKeyEnv, len(key), MinSessionKey)
		}
	}
	if len(key) == 0 {
		key = make([]byte, 32)
		rand.Read(key) // never fails (crypto/rand)
	}
	a.sessions = &sessions{key: key, name: cookieName, secure: cfg.SecureCookie}
	if cfg.SecureCookie {
		a.sessions.name = secureCookieName
	}
	if a.dev {
		return a, nil
	}
	ac := auth.Config{APIKeys: cfg.APIKeys}
	if cfg.JWT != nil {
		j := *cfg.JWT
		if len(j.HS256Secret) == 0 && j.HS256SecretEnv != "" {
			if j.HS256Secret = []byte(getenv(j.HS256SecretEnv)); len(j.HS256Secret) == 0 {
				return nil, fmt.Errorf("auth.jwt.hs256_secret_env: environment variable %s is empty: set it to the HMAC secret (at least 32 bytes) your identity provider signs tokens with", j.HS256SecretEnv)
			}
		}
		ac.JWT = &j
	}
	v, err := auth.New(ac)
	if err != nil {
		return nil, err
	}
	if a.keys, err = keyPrincipals(cfg.APIKeys); err != nil {
		v.Close()
		return nil, err
	}
	a.verifier = v
	return a, nil
}

// Hub returns the Hub the event streams are served from: the consumer
// publishes new alerts to it.
func (h *Handler) Hub() *Hub { return h.hub }

// DevMode reports whether no credential is configured: every request is
// the admin of tenant "default".
func (h *Handler) DevMode() bool { return h.authn.dev }

// Close ends the event streams (Hub.Close) and releases the JWT cache.
// Call it before http.Server.Shutdown, which waits for open streams. The
// Handler answers 503 to new streams afterwards, and must not be used
// once the server is shut down.
func (h *Handler) Close() {
	h.hub.Close()
	if h.authn.verifier != nil {
		h.authn.verifier.Close()
	}
}

// ServeHTTP serves r: it records the request's route and status, and
// recovers a panic into a 500.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.Error("console api: panic", "route", r.Pattern, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if !rec.wrote {
				writeError(rec, &apiError{http.StatusInternalServerError, CodeInternal, "internal error"})
			}
		}
		h.metrics.request(route(r), rec.status)
	}()
	h.mux.ServeHTTP(rec, r)
}

// route names r's route for the metrics: its pattern, of which there are
// few.
func route(r *http.Request) string {
	switch r.Pattern {
	case "":
		return "none"
	case "/":
		return "ui"
	}
	return r.Pattern
}

// recorder remembers the status written through it.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (rec *recorder) WriteHeader(status int) {
	if !rec.wrote {
		rec.status, rec.wrote = status, true
	}
	rec.ResponseWriter.WriteHeader(status)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if !rec.wrote {
		rec.status, rec.wrote = http.StatusOK, true
	}
	return rec.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes,
// write deadlines).
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// routes builds the mux.
func (h *Handler) routes(metricsHandler http.Handler) {
	m := http.NewServeMux()
	m.Handle("GET /api/me", h.agentAPI(h.me))
	m.Handle("GET /api/alerts", h.api(h.listAlerts))
	m.Handle("GET /api/alerts/{id}", h.api(h.getAlert))
	m.Handle("POST /api/alerts/{id}/transition", h.api(h.transition))
	m.Handle("GET /api/conversations/{id}", h.api(h.conversation))
	m.Handle("GET /api/agents/{id}/stats", h.api(h.agentStats))
	m.Handle("GET /api/counters", h.api(h.counters))
	m.Handle("GET /api/dead-letters", h.api(h.deadLetters))
	m.Handle("GET /api/stream", h.endpoint(h.stream))
	m.Handle("POST /api/session", h.endpoint(h.signIn))
	h.qaRoutes(m)
	m.Handle("DELETE /api/session", h.endpoint(h.signOut))
	m.Handle("/api/", h.endpoint(func(http.ResponseWriter, *http.Request) error {
		return errNotFound("no such endpoint")
	}))
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.HandleFunc("GET /readyz", h.readyz)
	m.Handle("GET /metrics", metricsHandler)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if h.ui == nil {
			writeError(w, errNotFound("no such page"))
			return
		}
		h.ui.ServeHTTP(w, r)
	})
	h.mux = m
}

// readyz answers whether the console can serve.
func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	if h.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
		defer cancel()
		if err := h.ready(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// apiFunc serves an authenticated API request.
type apiFunc func(w http.ResponseWriter, r *http.Request, p principal) error

// api wraps an API endpoint of the supervisors (not of agents, 403):
// request checks, then authentication, the CSRF rule, and a deadline on
// its work.
func (h *Handler) api(f apiFunc) http.Handler { return h.apiOf(false, f) }

// agentAPI wraps an API endpoint that principals of role agent may call
// too (GET /api/me, /api/qa/…): the endpoint applies its own rules.
func (h *Handler) agentAPI(f apiFunc) http.Handler { return h.apiOf(true, f) }

func (h *Handler) apiOf(agents bool, f apiFunc) http.Handler {
	return h.endpoint(func(w http.ResponseWriter, r *http.Request) error {
		p, err := h.principal(r)
		if err != nil {
			return err
		}
		if p.role == RoleAgent && !agents {
			return errForbidden("agents read the reviews of their conversations under /api/qa only")
		}
		ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
		defer cancel()
		return f(w, r.WithContext(ctx), p)
	})
}

// principal authenticates r, and applies the CSRF rule: a state-changing
// request by cookie, or in dev mode, must carry X-Xunjian-Console: 1.
func (h *Handler) principal(r *http.Request) (principal, error) {
	p, err := h.authn.authenticate(r)
	if err != nil {
		return principal{}, err
	}
	if (p.cookie || p.dev) && stateChanging(r) && r.Header.Get(consoleHeader) != "1" {
		return principal{}, errForbidden("a state-changing request made with the session cookie needs the header " + consoleHeader + ": 1")
	}
	return p, nil
}

func stateChanging(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
}

// endpoint wraps the handler of an /api/ path: the answers are never
// cached, the query and path are checked, in dev mode the Host must be a
// loopback name, and a returned error is answered (an apiError as it is,
// any other logged and answered as internal).
func (h *Handler) endpoint(f func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Cache-Control", "no-store")
		hdr.Set("X-Content-Type-Options", "nosniff")
		err := checkRequest(r)
		if err == nil && h.authn.dev && !loopback.Host(hostname(r.Host)) {
			err = errForbidden("dev mode answers requests to a loopback host only")
		}
		if err == nil {
			err = f(w, r)
		}
		if err == nil {
			return
		}
		var ae *apiError
		if !errors.As(err, &ae) {
			if r.Context().Err() != nil && errors.Is(err, r.Context().Err()) {
				return // the client went away
			}
			h.log.Error("console api", "route", r.Pattern, "error", err)
			ae = &apiError{http.StatusInternalServerError, CodeInternal, "internal error"}
		}
		if rec, ok := w.(*recorder); ok && rec.wrote {
			return // a stream already answered
		}
		writeError(w, ae)
	})
}

// hostname returns the host of a Host header, without its port.
func hostname(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// checkRequest refuses a query or a path that is not valid UTF-8 or is
// too long.
func checkRequest(r *http.Request) error {
	if !utf8.ValidString(r.URL.Path) {
		return errBadRequest("path is not valid UTF-8")
	}
	q, err := urlQuery(r)
	if err != nil {
		return err
	}
	for k, vs := range q {
		for _, v := range vs {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return errBadRequest(fmt.Sprintf("query parameter %q is not valid UTF-8", k))
			}
			if len(v) > maxParam {
				return errBadRequest(fmt.Sprintf("query parameter %q: longer than %d bytes", k, maxParam))
			}
		}
	}
	return nil
}

// urlQuery parses r's query, refusing a malformed one.
func urlQuery(r *http.Request) (map[string][]string, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errBadRequest("malformed query string")
	}
	return q, nil
}

// decodeBody decodes r's JSON body into v strictly: at most MaxBody
// bytes, valid UTF-8, one JSON value, no unknown field.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return errBadRequest(fmt.Sprintf("body larger than %d bytes", MaxBody))
	case err != nil:
		return errBadRequest("body could not be read")
	case !utf8.Valid(b):
		return errBadRequest("body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errBadRequest("body: " + jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return errBadRequest("body: data after the JSON value")
	}
	return nil
}

// jsonProblem describes a decoding error without quoting the body.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return fmt.Sprintf("field %q: want a %s", typeErr.Field, typeErr.Type)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("invalid JSON at byte %d", syntaxErr.Offset)
	case errors.Is(err, io.EOF):
		return "empty"
	}
	// "json: unknown field "x"" names a field the client sent.
	return err.Error()
}

// queryInt parses the integer query parameter name in [lo, hi], def when
// absent or empty.
func queryInt(q map[string][]string, name string, def, lo, hi int) (int, error) {
	s := first(q, name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, errBadRequest(fmt.Sprintf("%s: want an integer from %d to %d", name, lo, hi))
	}
	return n, nil
}

// first returns the first value of the query parameter name, "" when
// absent.
func first(q map[string][]string, name string) string {
	if vs := q[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// parseSince reads a since parameter: RFC 3339, or a positive duration
// back from now ("24h", "90m").
func parseSince(name, s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, errBadRequest(fmt.Sprintf("%s: want an RFC 3339 time or a positive duration such as 24h", name))
}

// validText checks a free-text field: at most maxLen characters, and no
// control character but newlines and tabs when multiline.
func validText(name, s string, maxLen int, multiline bool) error {
	if n := utf8.RuneCountInString(s); n > maxLen {
		return errBadRequest(fmt.Sprintf("%s: %d characters, at most %d", name, n, maxLen))
	}
	for _, c := range s {
		if c < 0x20 && !(multiline && (c == '\n' || c == '\r' || c == '\t')) || c == 0x7f {
			return errBadRequest(fmt.Sprintf("%s: control character", name))
		}
	}
	return nil
}
