package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/internal/ratelimit"
	"github.com/xunjian/xunjian/gateway/proxy"
	"github.com/xunjian/xunjian/gateway/stream"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/rules"
)

// upstream is a test chat backend that records what it receives.
type upstream struct {
	URL   string
	delay time.Duration
	mu    sync.Mutex
	got   []recorded
}

type recorded struct {
	Path, Query string
	Header      http.Header
	Body        []byte
}

func newUpstream(t *testing.T, delay time.Duration) *upstream {
	t.Helper()
	u := &upstream{delay: delay}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if u.delay > 0 {
			time.Sleep(u.delay)
		}
		u.mu.Lock()
		u.got = append(u.got, recorded{Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		u.mu.Unlock()
		w.Header().Set("X-Backend", "chat")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"sent":true}`)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	u.URL = "http://" + ln.Addr().String()
	return u
}

func (u *upstream) received() []recorded {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]recorded(nil), u.got...)
}

// gw is a running gateway under test.
type gw struct {
	agent, admin string
	srv          *Server
	stop         func() error
	logs         *bytes.Buffer
}

// start runs a gateway with cfg (defaulted and validated here) on loopback
// ports, with the policy bundle at policy ("" for the built-in one).
func start(t *testing.T, cfg config.Config, policy string, env map[string]string) *gw {
	t.Helper()
	// Events go to a spool of the test's own and an embedded broker on a
	// free port, unless the test says otherwise.
	if cfg.Stream.Spool.Dir == "" {
		cfg.Stream.Spool.Dir = t.TempDir()
	}
	if cfg.Stream.EmbeddedBroker == "" {
		cfg.Stream.EmbeddedBroker = "127.0.0.1:0"
	}
	if cfg.Policy == "" {
		cfg.Policy = policy
	}
	if cfg.Cache.MaxBytes == 0 {
		cfg.Cache.MaxBytes = 1 << 20
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	var logMu sync.Mutex
	log := slog.New(slog.NewJSONHandler(lockedWriter{&logMu, logs}, nil))
	srv, err := New(context.Background(), &cfg, Options{Logger: log, Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListeners(ctx, aln, dln) }()
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			stopErr = <-done
			srv.Close()
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &gw{agent: "http://" + aln.Addr().String(), admin: "http://" + dln.Addr().String(), srv: srv, stop: stop, logs: logs}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type reply struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func do(t *testing.T, method, url, body string, headers ...string) reply {
	t.Helper()
	return doAs(t, method, url, "application/json", body, headers...)
}

// doAs is do with the Content-Type ctype ("" sends none).
func doAs(t *testing.T, method, url, ctype, body string, headers ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := contractClient(t, nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	json.Unmarshal(raw, &r.Body)
	return r
}

func (r reply) errCode() string {
	e, _ := r.Body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

const sendRoute = "/api/messages/send"

func proxyConfig(up *upstream) config.Config {
	return config.Config{Routes: []proxy.Route{{
		Method: "POST", Path: sendRoute, Upstream: up.URL, Timeout: duration.Duration(300 * time.Millisecond),
		Text: "/message/text", Conversation: "/conversation_id", Agent: "/agent/id", Role: "/role",
		Query: []string{"trace"}, // the backend's own tracing parameter, inspected and forwarded
	}}}
}

func sendBody(text string) string {
	b, _ := json.Marshal(map[string]any{"conversation_id": "c1", "agent": map[string]any{"id": "a1"}, "role": "agent", "message": map[string]any{"text": text, "format": "plain"}})
	return string(b)
}

// TestProxyActions sends one draft per action through a proxy route and
// checks what reached the chat backend and what the agent client got back.
func TestProxyActions(t *testing.T) {
	up := newUpstream(t, 0)
	g := start(t, proxyConfig(up), "", nil)
	tests := []struct {
		name, text    string
		status        int
		action        string
		forwarded     bool
		forwardedText string // "" means the text as sent
	}{
		{"allow", "您好，您的订单已发货，请耐心等待。", 201, "allow", true, ""},
		{"warn", "我已经说过了，请您看一下上面的消息", 201, "warn", true, ""},
		{"redact", "已为您登记手机 13812345678，请留意短信", 201, "redact", true, "已为您登记手机 138****5678，请留意短信"},
		{"confirm", "保证明天一定送到，百分百没问题", StatusHeld, "confirm", false, ""},
		{"block", "亲，加我微信 wxid_abc123 私聊", StatusBlocked, "block", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(up.received())
			r := do(t, "POST", g.agent+sendRoute+"?trace=1", sendBody(tt.text), "X-Request-Id", "r-"+tt.name, "Connection", "keep-alive, X-Secret-Hop", "X-Secret-Hop", "x")
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Raw)
			}
			got := up.received()[before:]
			if !tt.forwarded {
				if len(got) != 0 {
					t.Fatalf("a %s draft reached the backend: %q", tt.action, got[0].Body)
				}
				if r.Body["action"] != tt.action || len(r.Body["findings"].([]any)) == 0 {
					t.Errorf("reply %s, want the verdict with action %s and findings", r.Raw, tt.action)
				}
				if tt.action == "confirm" && r.Body["ack"] == "" {
					t.Error("a held draft came back without an ack token")
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("backend received %d requests, want 1", len(got))
			}
			if r.Raw != `{"sent":true}` || r.Header.Get("X-Backend") != "chat" || r.Header.Get("X-Xunjian-Action") != tt.action {
				t.Errorf("client got %d %q headers %v; want the backend's reply and X-Xunjian-Action %s", r.Status, r.Raw, r.Header, tt.action)
			}
			rec := got[0]
			if rec.Path != sendRoute || rec.Query != "trace=1" || rec.Header.Get("X-Request-Id") != "r-"+tt.name {
				t.Errorf("backend got path %q query %q headers %v", rec.Path, rec.Query, rec.Header)
			}
			if rec.Header.Get("X-Secret-Hop") != "" {
				t.Error("a header named in Connection was forwarded")
			}
			var body struct {
				ConversationID string `json:"conversation_id"`
				Message        struct{ Text, Format string }
			}
			if err := json.Unmarshal(rec.Body, &body); err != nil {
				t.Fatalf("backend body %q: %v", rec.Body, err)
			}
			want := tt.text
			if tt.forwardedText != "" {
				want = tt.forwardedText
			}
			if body.Message.Text != want || body.Message.Format != "plain" || body.ConversationID != "c1" {
				t.Errorf("backend body %s, want text %q and the other fields unchanged", rec.Body, want)
			}
		})
	}
}

// TestConfirmThenAck: a held draft is released by re-sending it with its
// ack token, once, and only for the same text.
func TestConfirmThenAck(t *testing.T) {
	up := newUpstream(t, 0)
	g := start(t, proxyConfig(up), "", nil)
	text := "保证明天一定送到，百分百没问题"
	r := do(t, "POST", g.agent+sendRoute, sendBody(text))
	token, _ := r.Body["ack"].(string)
	if r.Status != StatusHeld || token == "" {
		t.Fatalf("first send: %d %s", r.Status, r.Raw)
	}
	if r := do(t, "POST", g.agent+sendRoute, sendBody(text+"!"), AckHeader, token); r.Status != 403 || r.errCode() != "ack_mismatch" {
		t.Errorf("ack for another text: %d %s, want 403 ack_mismatch", r.Status, r.Raw)
	}
	if r := do(t, "POST", g.agent+sendRoute, sendBody(text), AckHeader, token); r.Status != 201 {
		t.Fatalf("re-send with ack: %d %s, want the backend's 201", r.Status, r.Raw)
	}
	if r := do(t, "POST", g.agent+sendRoute, sendBody(text), AckHeader, token); r.Status != 403 || r.errCode() != "ack_used" {
		t.Errorf("second use of the ack: %d %s, want 403 ack_used", r.Status, r.Raw)
	}
	if n := len(up.received()); n != 1 {
		t.Errorf("backend received %d messages, want exactly 1", n)
	}
	// On /v1/check the ack marks the verdict as released.
	r = do(t, "POST", g.agent+"/v1/check", `{"text":"`+text+`","conversation_id":"c2"}`)
	token, _ = r.Body["ack"].(string)
	r = do(t, "POST", g.agent+"/v1/check", `{"text":"`+text+`","conversation_id":"c2","ack":"`+token+`"}`)
	if r.Status != 200 || r.Body["acked"] != true {
		t.Errorf("check with ack: %d %s, want acked", r.Status, r.Raw)
	}
}

func TestUpstreamFailures(t *testing.T) {
	slow := newUpstream(t, 2*time.Second)
	cfg := proxyConfig(slow)
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	cfg.Routes = append(cfg.Routes, proxy.Route{Method: "POST", Path: "/dead", Upstream: deadURL, Text: "/message/text"})
	g := start(t, cfg, "", nil)
	// Nothing reached the down upstream: "not sent" is the truth.
	if r := do(t, "POST", g.agent+"/dead", sendBody("您好")); r.Status != 502 || r.errCode() != "upstream_unavailable" || !strings.Contains(r.Raw, "not sent") {
		t.Errorf("down upstream: %d %s, want 502 upstream_unavailable, not sent", r.Status, r.Raw)
	}
	// The slow upstream read the whole request before the deadline: it
	// may well have delivered it, so the client is told so, with the
	// decision id, and not to resend blindly.
	r := do(t, "POST", g.agent+sendRoute, sendBody("您好"))
	if r.Status != 504 || r.errCode() != "delivery_unknown" || r.Header.Get("X-Xunjian-Decision") == "" || strings.Contains(r.Raw, "not sent") {
		t.Errorf("slow upstream: %d %s %v, want 504 delivery_unknown with the decision id", r.Status, r.Raw, r.Header)
	}
	time.Sleep(2 * time.Second) // the slow upstream records when it is done
	if n := len(slow.received()); n != 1 {
		t.Errorf("the slow upstream recorded %d messages, want the 1 delivery_unknown was about", n)
	}
}

func TestBadInput(t *testing.T) {
	up := newUpstream(t, 0)
	cfg := proxyConfig(up)
	cfg.Limits.MaxBodyBytes = 4096
	g := start(t, cfg, "", nil)
	tests := []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"malformed json", "/v1/check", `{"text":`, 400, "invalid_json"},
		{"invalid utf8", "/v1/check", "{\"text\":\"a\xffb\"}", 400, "invalid_utf8"},
		{"missing text", "/v1/check", `{"role":"agent"}`, 400, "invalid_field"},
		{"empty text", "/v1/check", `{"text":" "}`, 400, "invalid_field"},
		{"unknown role", "/v1/check", `{"text":"hi","role":"bot"}`, 400, "invalid_field"},
		{"wrong type", "/v1/check", `{"text":5}`, 400, "invalid_field"},
		{"too large", "/v1/check", `{"text":"` + strings.Repeat("x", 5000) + `"}`, 413, "body_too_large"},
		{"unknown route", "/v2/nothing", `{}`, 404, "not_found"},
		{"proxy missing text", sendRoute, `{"message":{}}`, 400, "invalid_field"},
		{"proxy malformed", sendRoute, `{"message":`, 400, "invalid_json"},
		{"proxy wrong type", sendRoute, `{"message":{"text":5}}`, 400, "invalid_field"},
		{"proxy duplicate key", sendRoute, `{"message":{"text":"您好","Text":"加我微信"}}`, 400, "duplicate_key"},
		{"check duplicate key", "/v1/check", `{"text":"您好","TEXT":"加我微信"}`, 400, "duplicate_key"},
		{"check bad ts in context", "/v1/check", `{"text":"您好","context":[{"role":"customer","text":"hi","ts":"yesterday"}]}`, 400, "invalid_field"},
		{"event wrong type", "/v1/events", `{"type":"message","conversation_id":"c","text":["a"]}`, 400, "invalid_field"},
		{"event bad ts", "/v1/events", `{"type":"message","conversation_id":"c","text":"hi","ts":"soon"}`, 400, "invalid_field"},
		{"not an object", "/v1/check", `["text"]`, 400, "invalid_field"},
		{"event without conversation", "/v1/events", `{"type":"message","text":"hi"}`, 400, "invalid_field"},
		{"event type", "/v1/events", `{"type":"exploded","conversation_id":"c"}`, 400, "invalid_field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, "POST", g.agent+tt.path, tt.body)
			if r.Status != tt.status || r.errCode() != tt.code {
				t.Errorf("%d %s, want %d %s", r.Status, r.Raw, tt.status, tt.code)
			}
			if msg, _ := r.Body["error"].(map[string]any)["message"].(string); msg == "" {
				t.Errorf("error without a message: %s", r.Raw)
			}
		})
	}
	if n := len(up.received()); n != 0 {
		t.Errorf("bad input reached the backend %d times", n)
	}
}

// tenantBundle copies the default bundle and overrides tone.impatient to
// block for tenant "strict" only.
func tenantBundle(t *testing.T) string {
	bundle := filepath.Join(t.TempDir(), "bundle")
	if err := rules.WriteDefaultBundle(bundle); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(bundle, "xunjian", "tenants", "strict"), 0o755)
	if err := os.WriteFile(filepath.Join(bundle, "xunjian", "tenants", "strict", "data.json"), []byte(`{"actions":{"tone.impatient":"block"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return bundle
}

func TestAuthAndTenantIsolation(t *testing.T) {
	keyA, _ := auth.GenerateKey()
	keyB, _ := auth.GenerateKey()
	adminKey, _ := auth.GenerateKey()
	cfg := config.Config{
		Auth: auth.Config{APIKeys: []auth.APIKey{
			{Name: "a", Tenant: "lenient", Hash: auth.HashKey(keyA)},
			// b also sends the customer's messages (as a chat backend does).
			{Name: "b", Tenant: "strict", Scopes: []string{"agent", "customer"}, Hash: auth.HashKey(keyB)},
		}},
		Admin: config.Admin{APIKeys: []auth.APIKey{{Name: "ops", Hash: auth.HashKey(adminKey)}}},
	}
	g := start(t, cfg, tenantBundle(t), nil)
	impatient := `{"text":"我已经说过了，请您看一下上面的消息","conversation_id":"same"}`
	if r := do(t, "POST", g.agent+"/v1/check", impatient); r.Status != 401 || r.errCode() != "no_credential" {
		t.Errorf("no credential: %d %s", r.Status, r.Raw)
	}
	if r := do(t, "POST", g.agent+"/v1/check", impatient, "Authorization", "Bearer xj_wrong"); r.Status != 401 {
		t.Errorf("wrong key: %d %s", r.Status, r.Raw)
	}
	if r := do(t, "POST", g.agent+"/v1/check", impatient, "Authorization", "Bearer "+adminKey); r.Status != 401 {
		t.Errorf("admin key on the agent port: %d %s", r.Status, r.Raw)
	}
	if r := do(t, "POST", g.agent+"/v1/check", impatient, "X-API-Key", keyA); r.Body["action"] != "warn" {
		t.Errorf("tenant lenient: %s, want warn", r.Raw)
	}
	// The tenant comes from the key, never from the body.
	if r := do(t, "POST", g.agent+"/v1/check", strings.Replace(impatient, "{", `{"tenant":"strict",`, 1), "X-API-Key", keyA); r.Body["action"] != "warn" {
		t.Errorf("tenant named in the body: %s, want lenient's warn", r.Raw)
	}
	if r := do(t, "POST", g.agent+"/v1/check", impatient, "Authorization", "Bearer "+keyB); r.Body["action"] != "block" {
		t.Errorf("tenant strict: %s, want its override block", r.Raw)
	}
	// Conversations of one id in two tenants are separate.
	for range 2 {
		do(t, "POST", g.agent+"/v1/events", `{"type":"message","conversation_id":"same","text":"我要去12315和消协投诉，还要找律师"}`, "X-API-Key", keyB)
	}
	if c, ok := g.srv.convs.Get("lenient", "same"); ok && c.CustomerEscalations > 0 {
		t.Errorf("tenant strict's escalations show in tenant lenient's conversation: %+v", c)
	}
	if c, _ := g.srv.convs.Get("strict", "same"); c.CustomerEscalations < 2 {
		t.Errorf("strict's conversation: %+v, want its escalations", c)
	}
	// The admin port has its own credential.
	if r := do(t, "GET", g.admin+"/v1/policy", ""); r.Status != 401 {
		t.Errorf("admin without key: %d", r.Status)
	}
	if r := do(t, "GET", g.admin+"/v1/policy", "", "X-API-Key", keyA); r.Status != 401 {
		t.Errorf("agent key on the admin port: %d", r.Status)
	}
	if r := do(t, "GET", g.admin+"/v1/policy", "", "X-API-Key", adminKey); r.Status != 200 || r.Body["revision"] == nil {
		t.Errorf("admin with key: %d %s", r.Status, r.Raw)
	}
	if r := do(t, "GET", g.admin+"/healthz", ""); r.Status != 200 {
		t.Errorf("healthz: %d", r.Status)
	}
	for _, k := range []string{keyA, keyB, adminKey} {
		if strings.Contains(g.logs.String(), k) {
			t.Fatal("a key appears in the logs")
		}
	}
}

// failingBundle is the default bundle plus an enforced custom rule with a
// run-time conflict: any draft containing 故障演练 makes the policy fail
// (eval_conflict_error), as a buggy rule would in production.
func failingBundle(t *testing.T) string {
	bundle := filepath.Join(t.TempDir(), "bundle")
	if err := rules.WriteDefaultBundle(bundle); err != nil {
		t.Fatal(err)
	}
	rego := `package xunjian.custom

drill := 1 if contains(input.draft.normalized, "故障演练")

drill := 2 if contains(input.draft.normalized, "故障演练")

reasons contains {"rule": "drill.conflict", "action": "warn", "message": "drill"} if drill > 0
`
	if err := os.WriteFile(filepath.Join(bundle, "xunjian", "drill.rego"), []byte(rego), 0o644); err != nil {
		t.Fatal(err)
	}
	return bundle
}

func TestFailModes(t *testing.T) {
	up := newUpstream(t, 0)
	cfg := proxyConfig(up)
	cfg.Tenants = map[string]config.Tenant{auth.DevTenant: {FailMode: config.FailOpen}}
	g := start(t, cfg, failingBundle(t), nil)
	r := do(t, "POST", g.agent+sendRoute, sendBody("您好，故障演练"))
	if r.Status != 201 || len(up.received()) != 1 || r.Header.Get("X-Xunjian-Fail-Open") != "true" {
		t.Errorf("fail open: %d %s %v, want the message released and flagged", r.Status, r.Raw, r.Header)
	}
	if r := do(t, "POST", g.agent+"/v1/check", `{"text":"您好，故障演练"}`); r.Status != 200 || r.Body["fail_open"] != true || r.Body["findings"] == nil {
		t.Errorf("fail open on /v1/check: %d %s, want a flagged verdict with findings []", r.Status, r.Raw)
	}
	cfg.Tenants = nil
	g = start(t, cfg, failingBundle(t), nil)
	r = do(t, "POST", g.agent+sendRoute, sendBody("您好，故障演练"))
	if r.Status != 503 || r.errCode() != "inspection_failed" || len(up.received()) != 1 {
		t.Errorf("fail closed: %d %s, want 503 and nothing sent", r.Status, r.Raw)
	}
	// A draft the pipeline decided stands even when it ran past the
	// deadline: the fail mode never releases it above its action.
	cfg.Limits.InspectTimeout = duration.Duration(time.Nanosecond)
	g = start(t, cfg, "", nil)
	if r := do(t, "POST", g.agent+"/v1/check", `{"text":"亲，加我微信 wxid_abc123 私聊"}`); r.Status == 200 && r.Body["action"] == "allow" {
		t.Errorf("past the deadline: %s, want the policy's action or a hold", r.Raw)
	}
}

func TestRateLimit(t *testing.T) {
	g := start(t, config.Config{Limits: config.Limits{Rates: ratelimit.Rates{AgentRate: 1, AgentBurst: 3}}}, "", nil)
	var codes []int
	for range 5 {
		codes = append(codes, do(t, "POST", g.agent+"/v1/check", `{"text":"您好","agent_id":"busy"}`).Status)
	}
	if codes[0] != 200 || codes[2] != 200 || codes[3] != 429 || codes[4] != 429 {
		t.Errorf("statuses %v, want three 200s then 429s", codes)
	}
	if r := do(t, "POST", g.agent+"/v1/check", `{"text":"您好","agent_id":"other"}`); r.Status != 200 {
		t.Errorf("another agent: %d, want 200", r.Status)
	}
}

// TestConversationContext: customer messages through /v1/events raise the
// conversation's risk; the agent's next draft carries the alert.
func TestConversationContext(t *testing.T) {
	g := start(t, config.Config{}, "", nil)
	for _, text := range []string{"再不退款我就去12315投诉", "我已经找了律师，还要去消协曝光你们"} {
		if r := do(t, "POST", g.agent+"/v1/events", `{"type":"message","conversation_id":"c9","text":"`+text+`"}`); r.Status != 202 || r.Body["action"] != "allow" {
			t.Fatalf("customer message: %d %s", r.Status, r.Raw)
		}
	}
	r := do(t, "POST", g.agent+"/v1/check", `{"text":"非常抱歉，马上为您处理","conversation_id":"c9"}`)
	if alerts, _ := r.Body["alerts"].([]any); len(alerts) == 0 {
		t.Errorf("no alert on a draft in a high-risk conversation: %s", r.Raw)
	}
	do(t, "POST", g.agent+"/v1/events", `{"type":"closed","conversation_id":"c9"}`)
	if _, ok := g.srv.convs.Get(auth.DevTenant, "c9"); ok {
		t.Error("a closed conversation is still kept")
	}
	// Inline context works without server-side state.
	now := time.Now().UTC()
	body, _ := json.Marshal(map[string]any{"text": "非常抱歉，我们马上处理", "conversation_id": "c10", "context": []map[string]any{
		{"role": "customer", "text": "再不退款我就去12315投诉", "ts": now.Add(-10 * time.Minute)},
		{"role": "customer", "text": "我已经找了律师，还要去消协曝光你们", "ts": now.Add(-5 * time.Minute)},
	}})
	if r := do(t, "POST", g.agent+"/v1/check", string(body)); r.Status != 200 || r.Body["alerts"] == nil {
		t.Errorf("inline context: %d %s, want alerts", r.Status, r.Raw)
	}
}

func TestMetrics(t *testing.T) {
	g := start(t, config.Config{}, "", nil)
	do(t, "POST", g.agent+"/v1/check", `{"text":"加我微信 wxid_abc123"}`)
	do(t, "POST", g.agent+"/v1/check", `{"text":"加我微信 wxid_abc123"}`)
	resp, err := contractClient(t, nil).Get(g.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(raw)
	for _, want := range []string{
		`xunjian_request_duration_seconds_count{action="block",route="/v1/check"} 2`,
		`xunjian_findings_total{detector="diversion",kind="contact"} 2`,
		`xunjian_cache_lookups_total{cache="findings",result="hit"} `,
		`xunjian_policy_info{revision="`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(text, "wxid_abc123") {
		t.Error("message text in the metrics")
	}
}

// TestShutdownDrains stops the gateway while requests wait on a slow
// backend: every one of them completes.
func TestShutdownDrains(t *testing.T) {
	up := newUpstream(t, 300*time.Millisecond)
	cfg := proxyConfig(up)
	cfg.Routes[0].Timeout = duration.Duration(2 * time.Second)
	g := start(t, cfg, "", nil)
	var wg sync.WaitGroup
	statuses := make(chan int, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- do(t, "POST", g.agent+sendRoute, sendBody("您好，已发货")).Status
		}()
	}
	time.Sleep(100 * time.Millisecond) // all in flight at the backend
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 201 {
			t.Errorf("a request in flight at shutdown got %d, want 201", s)
		}
	}
}

// hs256 signs claims as a compact JWT with the standard library.
func hs256(t *testing.T, secret []byte, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signing := header + "." + enc.EncodeToString(payload)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

// TestJWTAuth: the HS256 secret comes from the environment variable the
// config names; the tenant and agent come from the token's claims.
func TestJWTAuth(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef-test-secret")
	cfg := config.Config{Auth: auth.Config{JWT: &auth.JWTConfig{HS256SecretEnv: "XJ_JWT"}}}
	g := start(t, cfg, tenantBundle(t), map[string]string{"XJ_JWT": string(secret)})
	impatient := `{"text":"我已经说过了，请您看一下上面的消息"}`
	exp := time.Now().Add(time.Hour).Unix()
	strict := hs256(t, secret, map[string]any{"tenant": "strict", "sub": "agent-7", "exp": exp})
	if r := do(t, "POST", g.agent+"/v1/check", impatient, "Authorization", "Bearer "+strict); r.Status != 200 || r.Body["action"] != "block" {
		t.Errorf("strict tenant token: %d %s, want its override block", r.Status, r.Raw)
	}
	lenient := hs256(t, secret, map[string]any{"tenant": "lenient", "sub": "agent-8", "exp": exp})
	if r := do(t, "POST", g.agent+"/v1/check", impatient, "Authorization", "Bearer "+lenient); r.Body["action"] != "warn" {
		t.Errorf("lenient tenant token: %s, want warn", r.Raw)
	}
	expired := hs256(t, secret, map[string]any{"tenant": "strict", "exp": time.Now().Add(-time.Hour).Unix()})
	forged := hs256(t, []byte("another secret of thirty-two bytes or more"), map[string]any{"tenant": "strict", "exp": exp})
	for name, tok := range map[string]string{"expired": expired, "forged": forged} {
		if r := do(t, "POST", g.agent+"/v1/check", impatient, "Authorization", "Bearer "+tok); r.Status != 401 {
			t.Errorf("%s token: %d %s, want 401", name, r.Status, r.Raw)
		}
	}
	// A config naming an empty secret variable fails at start.
	cfg.Defaults()
	if _, err := New(context.Background(), &cfg, Options{Getenv: func(string) string { return "" }}); err == nil || !strings.Contains(err.Error(), "hs256_secret_env") {
		t.Errorf("empty secret variable: err = %v", err)
	}
}

// TestSilentConnectionTimesOut: a connection that sends nothing gets 408
// when the read timeout passes, not a 400 that blames a request never sent.
func TestSilentConnectionTimesOut(t *testing.T) {
	g := start(t, config.Config{Limits: config.Limits{ReadTimeout: duration.Duration(200 * time.Millisecond)}}, "", nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(g.agent, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(conn)
	if !strings.HasPrefix(string(b), "HTTP/1.1 408") || !strings.Contains(string(b), "request_timeout") {
		t.Fatalf("silent connection got %q", b)
	}
}

// consumeOne reads the first event of topic from the embedded broker.
func consumeOne(t *testing.T, broker, topic string) *event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, Topic: topic, GroupID: "test", StartOffset: kafka.FirstOffset, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	m, err := r.FetchMessage(ctx)
	if err != nil {
		t.Fatalf("consume %s: %v", topic, err)
	}
	e, err := event.Parse(m.Value)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestSpoolFull: with Kafka unreachable the spool fills; /readyz turns
// unready with the reason, the metric says so, and on_full applies: hold
// answers drafts 503, serve keeps answering and counts dropped events.
func TestSpoolFull(t *testing.T) {
	for _, onFull := range []string{stream.OnFullHold, stream.OnFullServe} {
		t.Run(onFull, func(t *testing.T) {
			cfg := config.Config{}
			cfg.Stream.Brokers = []string{"127.0.0.1:1"} // nothing listens: nothing ships
			cfg.Stream.Spool.MaxBytes = 16 << 10
			cfg.Stream.Spool.OnFull = onFull
			g := start(t, cfg, "", nil)
			var last reply
			for i := range 200 {
				last = do(t, "POST", g.agent+"/v1/check", fmt.Sprintf(`{"text":"你有病吧 %d","conversation_id":"c%d"}`, i, i))
				if last.Status != http.StatusOK {
					break
				}
			}
			ready := do(t, "GET", g.admin+"/readyz", "")
			if ready.Status != http.StatusServiceUnavailable || !strings.Contains(ready.Raw, "spool full") {
				t.Errorf("/readyz with a full spool: %d %s", ready.Status, ready.Raw)
			}
			metrics := do(t, "GET", g.admin+"/metrics", "").Raw
			if !strings.Contains(metrics, "xunjian_spool_full 1") {
				t.Errorf("metrics:\n%s", grepLines(metrics, "spool"))
			}
			if !strings.Contains(g.logs.String(), "spool full") {
				t.Errorf("no log line about the full spool")
			}
			switch onFull {
			case stream.OnFullHold:
				if last.Status != http.StatusServiceUnavailable || last.Body["error"].(map[string]any)["code"] != "events_unavailable" {
					t.Errorf("hold: last reply %d %s, want 503 events_unavailable", last.Status, last.Raw)
				}
			case stream.OnFullServe:
				if last.Status != http.StatusOK || !regexp.MustCompile(`(?m)^xunjian_events_dropped_total [1-9]`).MatchString(metrics) {
					t.Errorf("serve: last reply %d, dropped:\n%s", last.Status, grepLines(metrics, "dropped"))
				}
			}
		})
	}
}

// TestAdminPprof: Go's profiles are served on the admin port, behind its
// credential.
func TestAdminPprof(t *testing.T) {
	g := start(t, config.Config{}, "", nil)
	if r := do(t, "GET", g.admin+"/debug/pprof/allocs", ""); r.Status != http.StatusOK || len(r.Raw) == 0 {
		t.Errorf("allocs profile: %d (%d bytes)", r.Status, len(r.Raw))
	}
	if r := do(t, "GET", g.admin+"/debug/pprof/goroutine?debug=1", ""); r.Status != http.StatusOK || !strings.Contains(r.Raw, "goroutine profile") {
		t.Errorf("goroutine profile: %d", r.Status)
	}
}
