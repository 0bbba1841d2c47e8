package api_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xunjian/xunjian/console/api"
	"github.com/xunjian/xunjian/console/store"
	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/gateway/stream/event"
)

// The tests' API keys, one per principal of the fixture.
const (
	keySupRed      = "xj_test-supervisor-red-000000000000000000000000"
	keySupRed2     = "xj_test-supervisor-red-2-0000000000000000000000"
	keySupBlue     = "xj_test-supervisor-blue-00000000000000000000000"
	keySupNone     = "xj_test-supervisor-none-00000000000000000000000"
	keyAuditorRed  = "xj_test-auditor-red-000000000000000000000000000"
	keyAdminAcme   = "xj_test-admin-acme-0000000000000000000000000000"
	keyAdminGlobex = "xj_test-admin-globex-00000000000000000000000000"
	keySupGlobex   = "xj_test-supervisor-globex-red-0000000000000000"
)

// jwtSecret signs the tests' HS256 tokens.
const jwtSecret = "console-api-test-secret-of-at-least-32-bytes"

// sessionKey signs the tests' sessions.
var sessionKey = []byte("console-api-test-session-key-32-bytes-or-more")

// testKeys are the fixture's API keys.
func testKeys() []auth.APIKey {
	return []auth.APIKey{
		{Name: "sup-red", Tenant: "acme", Role: "supervisor", Teams: []string{"red"}, Hash: auth.HashKey(keySupRed)},
		{Name: "sup-red-2", Tenant: "acme", Role: "supervisor", Teams: []string{"red"}, Hash: auth.HashKey(keySupRed2)},
		{Name: "sup-blue", Tenant: "acme", Role: "supervisor", Teams: []string{"blue"}, Hash: auth.HashKey(keySupBlue)},
		{Name: "sup-none", Tenant: "acme", Role: "supervisor", Hash: auth.HashKey(keySupNone)},
		{Name: "auditor-red", Tenant: "acme", Role: "auditor", Teams: []string{"red"}, Hash: auth.HashKey(keyAuditorRed)},
		{Name: "admin-acme", Tenant: "acme", Role: "admin", Hash: auth.HashKey(keyAdminAcme)},
		{Name: "admin-globex", Tenant: "globex", Role: "admin", Hash: auth.HashKey(keyAdminGlobex)},
		{Name: "sup-globex", Tenant: "globex", Role: "supervisor", Teams: []string{"red"}, Hash: auth.HashKey(keySupGlobex)},
	}
}

// testConfig is the fixture's configuration: its keys, HS256 JWTs, the
// test session key, acme as the operator's tenant.
func testConfig() api.Config {
	return api.Config{
		APIKeys: testKeys(),
		JWT: &auth.JWTConfig{HS256Secret: []byte(jwtSecret), Issuer: "https://idp.example", Audience: "xunjian-console",
			Leeway: -1},
		SessionKey:     sessionKey,
		OperatorTenant: "acme",
	}
}

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a console API over loopback on a fixture database.
type env struct {
	t      *testing.T
	srv    *httptest.Server
	h      *api.Handler
	hub    *api.Hub
	store  *store.Store
	clock  *clock
	reg    *prometheus.Registry
	alerts map[string]store.Alert // the fixture's alerts by message
	t0     time.Time              // the clock's start
}

// openStore opens an empty in-memory store, closed after the test.
func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), "sqlite::memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// setup opens a fresh in-memory store, ingests the fixture and serves
// the API of cfg; change, when set, adjusts the options.
func setup(t *testing.T, cfg api.Config, change func(*api.Options)) *env {
	t.Helper()
	t0 := time.Now().Truncate(time.Second)
	clk := &clock{now: t0}
	s := openStore(t)
	e := &env{t: t, store: s, clock: clk, t0: t0, alerts: map[string]store.Alert{}, reg: prometheus.NewRegistry()}
	e.fixture()
	opts := api.Options{Store: s, Hub: api.NewHub(api.HubConfig{}), Registry: e.reg, Now: clk.Now,
		Getenv: func(string) string { return "" }}
	if change != nil {
		change(&opts)
	}
	h, err := api.New(cfg, opts)
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	e.h, e.hub = h, h.Hub()
	e.srv = httptest.NewServer(h)
	t.Cleanup(func() {
		h.Close()
		e.srv.Close()
	})
	return e
}

// fixture ingests, as the consumer would, the alerts of two tenants:
//
//	acme:   ann (red), bob (blue), cat (no team)
//	        conv-ann: ann, critical complaint   "ann critical"
//	        conv-bob: bob, high complaint       "bob high"
//	        conv-cat: cat, medium risk          "cat medium"
//	        conv-mix: ann, low wait             "mix ann"  (then transferred:)
//	                  bob, low wait             "mix bob"
//	globex: ann (red)
//	        conv-g:   ann, high complaint       "globex ann"
func (e *env) fixture() {
	ctx := context.Background()
	if err := e.store.SetAgentTeams(ctx, "acme", map[string]string{"ann": "red", "bob": "blue"}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.SetAgentTeams(ctx, "globex", map[string]string{"ann": "red"}); err != nil {
		e.t.Fatal(err)
	}
	ago := func(m int) time.Time { return e.t0.Add(-time.Duration(m) * time.Minute) }
	e.alert(ev("acme", "conv-ann", "ann", ago(50), withAlert("critical", "complaint", "ann critical"), withRisk(0.9), withFinding()))
	e.alert(ev("acme", "conv-bob", "bob", ago(40), withAlert("high", "complaint", "bob high"), withRisk(0.5)))
	e.alert(ev("acme", "conv-cat", "cat", ago(30), withAlert("medium", "risk", "cat medium")))
	e.ingest(ev("acme", "conv-mix", "ann", ago(25), asCustomer), "xunjian.findings")
	e.alert(ev("acme", "conv-mix", "ann", ago(20), withAlert("low", "wait", "mix ann"), withFinding()))
	e.alert(ev("acme", "conv-mix", "bob", ago(10), withAlert("low", "wait", "mix bob")))
	e.alert(ev("globex", "conv-g", "ann", ago(15), withAlert("high", "complaint", "globex ann")))
}

// ingest ingests ev from topic.
func (e *env) ingest(ev *event.Event, topic string) {
	e.t.Helper()
	if _, err := e.store.Ingest(context.Background(), ev, topic, 0, 1); err != nil {
		e.t.Fatal(err)
	}
}

// alert ingests ev from the alerts topic and records its alerts by
// message.
func (e *env) alert(ev *event.Event) {
	e.t.Helper()
	e.ingest(ev, store.DefaultAlertsTopic)
	as, err := e.store.EventAlerts(context.Background(), ev.Tenant, ev.EventID)
	if err != nil || len(as) == 0 {
		e.t.Fatalf("EventAlerts: %v, %v", as, err)
	}
	for _, a := range as {
		e.alerts[a.Message] = a
	}
}

// ev builds an agent draft's event; opts change it.
func ev(tenant, conv, agent string, ts time.Time, opts ...func(*event.Event)) *event.Event {
	e := &event.Event{
		EventID: uuid.Must(uuid.NewV7()).String(), TS: ts.Truncate(time.Millisecond), Tenant: tenant,
		ConversationID: conv, AgentID: agent, Role: event.RoleAgent, Action: event.ActionAllow,
		Findings: []event.Finding{}, Reasons: []event.Reason{}, Alerts: []event.Alert{}, Shadow: []event.Reason{},
		PolicyRevision: "rev-1", TextMasked: "masked text of " + agent,
	}
	for _, o := range opts {
		o(e)
	}
	return e
}

func withAlert(level, kind, message string) func(*event.Event) {
	return func(e *event.Event) {
		e.Alerts = append(e.Alerts, event.Alert{Level: level, Kind: kind, Message: message})
	}
}

func withRisk(r float64) func(*event.Event) { return func(e *event.Event) { e.Risk = r } }

func withFinding() func(*event.Event) {
	return func(e *event.Event) {
		e.Findings = append(e.Findings, event.Finding{Detector: "privacy", Kind: "phone", Severity: event.SeverityHigh,
			Score: 0.9, Start: 3, End: 14, Evidence: "138****0000", Rule: "privacy.phone", Lexicon: "privacy.zh"})
	}
}

func asCustomer(e *event.Event) { e.Role = event.RoleCustomer }

// req is a request to the test server.
type req struct {
	method string
	path   string
	body   string
	hdr    map[string]string
	cookie *http.Cookie
}

// resp is an answer: status, headers and body.
type resp struct {
	status int
	hdr    http.Header
	body   []byte
}

// do sends r and reads the whole answer.
func (e *env) do(r req) resp {
	e.t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, e.srv.URL+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range r.hdr {
		hr.Header.Set(k, v)
	}
	if r.cookie != nil {
		hr.AddCookie(r.cookie)
	}
	res, err := e.srv.Client().Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, hdr: res.Header, body: b}
}

// key returns the headers presenting an API key.
func key(k string) map[string]string { return map[string]string{"X-API-Key": k} }

// bearerHdr returns the headers presenting a bearer token or key.
func bearerHdr(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

// get GETs path with the API key k, wants 200 and decodes the body into v.
func (e *env) get(k, path string, v any) {
	e.t.Helper()
	r := e.do(req{path: path, hdr: key(k)})
	if r.status != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		e.t.Fatalf("GET %s: %v in %s", path, err, r.body)
	}
}

// errCode returns the code of an error body, "" when it is not one.
func (r resp) errCode() string {
	var b struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(r.body, &b) != nil || b.Error.Message == "" {
		return ""
	}
	return b.Error.Code
}

// wantError checks that r is the error code with its status.
func wantError(t *testing.T, what string, r resp, status int, code string) {
	t.Helper()
	if r.status != status || r.errCode() != code {
		t.Errorf("%s: %d %s, want %d %s", what, r.status, bytes.TrimSpace(r.body), status, code)
	}
	if ct := r.hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
}

// alertJSON is the Alert of the contract, as a client decodes it.
type alertJSON struct {
	ID             int64     `json:"id"`
	EventID        string    `json:"event_id"`
	Tenant         string    `json:"tenant"`
	Team           string    `json:"team"`
	AgentID        string    `json:"agent_id"`
	ConversationID string    `json:"conversation_id"`
	Level          string    `json:"level"`
	Kind           string    `json:"kind"`
	Message        string    `json:"message"`
	Risk           float64   `json:"risk"`
	CreatedAt      time.Time `json:"created_at"`
	State          string    `json:"state"`
	Assignee       string    `json:"assignee"`
	Note           string    `json:"note"`
	Version        int64     `json:"version"`
	UpdatedAt      time.Time `json:"updated_at"`
}

type alertList struct {
	Alerts []alertJSON `json:"alerts"`
	Next   string      `json:"next"`
}

func messages(as []alertJSON) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Message
	}
	return out
}

// token signs an HS256 JWT of claims with secret; the tests build tokens
// with the standard library, not with the verifier's library.
func token(t *testing.T, hdr, claims map[string]any, secret string) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	in := enc(hdr) + "." + enc(claims)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

var hs256 = map[string]any{"alg": "HS256", "typ": "JWT"}

// claims are a valid token's claims at now: supervisor of acme's red
// team, expiring in an hour; mods change them.
func claims(now time.Time, mods ...func(map[string]any)) map[string]any {
	c := map[string]any{
		"sub": "li.wei", "tenant": "acme", "iss": "https://idp.example", "aud": "xunjian-console",
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
		"xunjian_role": "supervisor", "xunjian_teams": []string{"red"},
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

func set(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
func del(k string) func(map[string]any)        { return func(c map[string]any) { delete(c, k) } }

// sseMsg is one message of an event stream: an event, or a comment, or a
// retry field.
type sseMsg struct {
	event, data, comment, retry string
}

// sse opens the event stream with hdr and returns its messages as they
// come, and a cancel that closes it. The channel is closed when the
// stream ends.
func (e *env) sse(hdr map[string]string) (<-chan sseMsg, context.CancelFunc) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/api/stream", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		hr.Header.Set(k, v)
	}
	res, err := e.srv.Client().Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		e.t.Fatalf("stream: %d %s %s", res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	out := make(chan sseMsg, 64)
	go func() {
		defer close(out)
		defer res.Body.Close()
		rd := bufio.NewReader(res.Body)
		var m sseMsg
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if m != (sseMsg{}) {
					out <- m
				}
				m = sseMsg{}
			case strings.HasPrefix(line, ":"):
				m.comment = strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "event: "):
				m.event = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				m.data = line[len("data: "):]
			case strings.HasPrefix(line, "retry: "):
				m.retry = line[len("retry: "):]
			}
		}
	}()
	return out, cancel
}

// next returns the next event (not a comment, not a retry) of ch within
// d, failing the test otherwise.
func next(t *testing.T, ch <-chan sseMsg, d time.Duration) (kind string, a alertJSON) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				t.Fatal("the stream ended")
			}
			if m.event == "" {
				continue
			}
			if err := json.Unmarshal([]byte(m.data), &a); err != nil {
				t.Fatalf("event %s: %v in %q", m.event, err, m.data)
			}
			return m.event, a
		case <-deadline:
			t.Fatalf("no event within %s", d)
		}
	}
}

// eventually polls cond every few milliseconds for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
