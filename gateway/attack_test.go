package gateway

// The attack suite: each test is one way an attacker (a careless or hostile
// agent client, or anyone holding an agent's key) tried to get an unfit or
// private draft past the gateway, sent as single ordinary requests over real
// loopback HTTP to a gateway whose proxy routes lead to a recording chat
// backend. Each asserts on what the backend received, what the client was
// told and what the events on the broker carry.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/internal/leaktest"
	"github.com/xunjian/xunjian/gateway/proxy"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/rules"
)

// Keys of the attack gateway: an agent desk's key that pins no agent, a key
// pinned to agent a-7, and the chat backend's key, which may also send the
// customer's messages and lifecycle events.
var (
	deskKey    = "xj_deskdeskdeskdeskdeskdeskdeskdeskdeskdeskdesk"
	pinnedKey  = "xj_pinnedpinnedpinnedpinnedpinnedpinnedpinnedpi"
	backendKey = "xj_backendbackendbackendbackendbackendbackendbac"
)

const (
	agentRoute = "/api/messages/send" // carries agent drafts only
	mixedRoute = "/api/chat/post"     // carries both sides of the chat
)

// attackConfig is a production-shaped configuration: credentials with
// scopes, one route per side of the chat, a role pointer in the body.
func attackConfig(up *upstream) config.Config {
	return config.Config{
		Auth: auth.Config{APIKeys: []auth.APIKey{
			{Name: "desk", Tenant: "shop", Hash: auth.HashKey(deskKey)},
			{Name: "pinned", Tenant: "shop", Agent: "a-7", Hash: auth.HashKey(pinnedKey)},
			{Name: "backend", Tenant: "shop", Scopes: []string{"agent", "customer", "lifecycle"}, Hash: auth.HashKey(backendKey)},
		}},
		Routes: []proxy.Route{
			{Method: "POST", Path: agentRoute, Upstream: up.URL, Timeout: duration.Duration(time.Second),
				Text: "/message/text", Conversation: "/conversation_id", Agent: "/agent_id", Role: "/sender/role",
				Texts: []string{"/message/html", "/attachments/*/caption"}, Query: []string{"trace_id"}},
			{Method: "POST", Path: mixedRoute, Upstream: up.URL, Timeout: duration.Duration(time.Second),
				Text: "/message/text", Conversation: "/conversation_id", Agent: "/agent_id", Role: "/sender/role",
				Roles: []string{"agent", "customer"}},
		},
	}
}

// chatBody is a chat backend's send-message body.
func chatBody(conv, agent, role, text string) string {
	b, _ := json.Marshal(map[string]any{
		"conversation_id": conv, "agent_id": agent,
		"sender":  map[string]any{"role": role},
		"message": map[string]any{"text": text},
	})
	return string(b)
}

// drainEvents reads every event of topic that arrives until the topic has
// been quiet for quiet.
func drainEvents(t *testing.T, broker, topic string, quiet time.Duration) []*event.Event {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, Topic: topic, GroupID: "attack-" + topic,
		StartOffset: kafka.FirstOffset, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	var out []*event.Event
	for {
		ctx, cancel := context.WithTimeout(context.Background(), quiet)
		m, err := r.FetchMessage(ctx)
		cancel()
		if err != nil {
			return out
		}
		e, err := event.Parse(m.Value)
		if err != nil {
			t.Fatalf("event on %s: %v", topic, err)
		}
		out = append(out, e)
	}
}

// upstreamTexts returns the message texts the backend received.
func upstreamTexts(up *upstream) []string {
	var out []string
	for _, r := range up.received() {
		var b struct{ Message struct{ Text string } }
		_ = json.Unmarshal(r.Body, &b)
		out = append(out, b.Message.Text)
	}
	return out
}

// TestAttackBodyRole: the body's role never turns enforcement off. A draft
// that says its sender is the customer is refused on a route that carries
// only agent drafts, and from a credential that may not speak for the
// customer; only the backend's credential may.
func TestAttackBodyRole(t *testing.T) {
	up := newUpstream(t, 0)
	g := start(t, attackConfig(up), "", nil)
	diversion := "加我微信 wxid_abc123 私聊"
	phone := "您的手机 13812345678 已登记"
	for _, tc := range []struct {
		name, path, key, body string
		code                  string
	}{
		{"customer role on an agent route", agentRoute, deskKey, chatBody("c1", "a1", "customer", diversion), "role_forbidden"},
		{"customer role, phone, agent route", agentRoute, deskKey, chatBody("c1", "a1", "customer", phone), "role_forbidden"},
		{"customer role from the backend on an agent route", agentRoute, backendKey, chatBody("c1", "a1", "customer", diversion), "role_forbidden"},
		{"customer role from an agent key on a mixed route", mixedRoute, deskKey, chatBody("c1", "a1", "customer", diversion), "role_forbidden"},
		{"customer role from a pinned key", mixedRoute, pinnedKey, chatBody("c1", "a1", "customer", phone), "role_forbidden"},
		{"customer role on /v1/check", "/v1/check", deskKey, `{"text":"` + diversion + `","role":"customer"}`, "role_forbidden"},
		{"customer message on /v1/events", "/v1/events", deskKey, `{"type":"message","conversation_id":"c1","text":"` + diversion + `"}`, "role_forbidden"},
		{"customer turn in inline context", "/v1/check", deskKey, `{"text":"您好","context":[{"role":"customer","text":"我要投诉"}]}`, "role_forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(up.received())
			r := do(t, "POST", g.agent+tc.path, tc.body, "X-API-Key", tc.key)
			if r.Status != http.StatusForbidden || r.errCode() != tc.code {
				t.Errorf("%d %s, want 403 %s", r.Status, r.Raw, tc.code)
			}
			if n := len(up.received()) - before; n != 0 {
				t.Errorf("the backend received %d messages", n)
			}
		})
	}
	// The same drafts as agent drafts are stopped and masked as ever.
	if r := do(t, "POST", g.agent+mixedRoute, chatBody("c2", "a1", "agent", diversion), "X-API-Key", deskKey); r.Status != StatusBlocked {
		t.Errorf("agent diversion: %d %s, want %d", r.Status, r.Raw, StatusBlocked)
	}
	// The backend may post the customer's side: observed, forwarded.
	before := len(up.received())
	if r := do(t, "POST", g.agent+mixedRoute, chatBody("c3", "", "customer", "我的订单怎么还没到"), "X-API-Key", backendKey); r.Status != 201 {
		t.Errorf("backend's customer message: %d %s, want it forwarded", r.Status, r.Raw)
	}
	if n := len(up.received()) - before; n != 1 {
		t.Errorf("backend's customer message reached the backend %d times, want 1", n)
	}
	for _, text := range upstreamTexts(up) {
		if strings.Contains(text, "wxid_abc123") || strings.Contains(text, "13812345678") {
			t.Errorf("the backend received %q", text)
		}
	}
}

// TestAttackAgentIdentity: an unpinned key naming a new agent id on every
// request does not multiply its rate allowance, and the events say the
// agent id was only claimed; a pinned key's body cannot name another agent.
func TestAttackAgentIdentity(t *testing.T) {
	up := newUpstream(t, 0)
	cfg := attackConfig(up)
	cfg.Limits.AgentRate, cfg.Limits.AgentBurst = 20, 40
	g := start(t, cfg, "", nil)
	if r := do(t, "POST", g.agent+"/v1/check", `{"text":"你是不是傻，看不懂字吗","agent_id":"boss","conversation_id":"claim-1"}`, "X-API-Key", deskKey); r.Status != 200 {
		t.Fatalf("unpinned: %d %s", r.Status, r.Raw)
	}
	ok := 0
	for i := range 200 {
		r := do(t, "POST", g.agent+"/v1/check", fmt.Sprintf(`{"text":"您好，请问还有什么可以帮您？%d","agent_id":"rot-%d"}`, i, i), "X-API-Key", deskKey)
		switch r.Status {
		case 200:
			ok++
		case http.StatusTooManyRequests:
			if r.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		default:
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
	}
	// Burst 40 plus 20/s for the run's duration (well under 2 s here).
	if ok > 80 {
		t.Errorf("%d of 200 requests with rotating agent ids were allowed, want the credential's burst of 40 plus its rate", ok)
	}
	if r := do(t, "POST", g.agent+"/v1/check", `{"text":"你是不是傻，看不懂字吗","agent_id":"boss","conversation_id":"pin-1"}`, "X-API-Key", pinnedKey); r.Status != 200 {
		t.Fatalf("pinned: %d %s", r.Status, r.Raw)
	}
	var pinned, claimed *event.Event
	for _, e := range drainEvents(t, g.srv.broker.Addr(), "xunjian.findings", 2*time.Second) {
		switch e.ConversationID {
		case "pin-1":
			pinned = e
		case "claim-1":
			claimed = e
		}
	}
	if pinned == nil || pinned.AgentID != "a-7" || pinned.AgentClaimed {
		t.Fatalf("pinned key's event: %+v, want agent a-7, established, whatever the body says", pinned)
	}
	if claimed == nil || claimed.AgentID != "boss" || !claimed.AgentClaimed {
		t.Fatalf("unpinned key's event: %+v, want agent boss marked as claimed", claimed)
	}
}

// TestAttackInlineContext: inline context is bounded, so one request cannot
// run its inspection past the deadline on demand.
func TestAttackInlineContext(t *testing.T) {
	up := newUpstream(t, 0)
	cfg := attackConfig(up)
	cfg.Tenants = map[string]config.Tenant{"shop": {FailMode: config.FailOpen}}
	g := start(t, cfg, "", nil)
	turns := make([]string, 1100)
	for i := range turns {
		turns[i] = `{"role":"agent","text":"好的，马上为您查询"}` // 1,100 turns ≈ 52 KB, as in the report
	}
	body := `{"text":"亲，加我微信 wxid_abc123 私聊","context":[` + strings.Join(turns, ",") + `]}`
	r := do(t, "POST", g.agent+"/v1/check", body, "X-API-Key", deskKey)
	if r.Status != http.StatusRequestEntityTooLarge || r.errCode() != "context_too_large" {
		t.Errorf("1,100 context turns: %d %s, want 413 context_too_large", r.Status, r.Raw)
	}
	big := `{"text":"亲，加我微信 wxid_abc123 私聊","context":[{"role":"agent","text":"` + strings.Repeat("您好", 3000) + `"}]}`
	if r := do(t, "POST", g.agent+"/v1/check", big, "X-API-Key", deskKey); r.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("18 KB of context text: %d %s, want 413", r.Status, r.Raw)
	}
	small := `{"text":"亲，加我微信 wxid_abc123 私聊","context":[` + strings.Join(turns[:5], ",") + `]}`
	if r := do(t, "POST", g.agent+"/v1/check", small, "X-API-Key", deskKey); r.Status != 200 || r.Body["action"] != "block" || r.Body["fail_open"] == true {
		t.Errorf("5 context turns: %d %s, want the policy's block", r.Status, r.Raw)
	}
}

// TestAttackFailOpen: a fail-open tenant's release happens only when the
// policy could not decide, is masked, flagged and counted, and never
// carries a draft the detectors found more than private data in.
func TestAttackFailOpen(t *testing.T) {
	up := newUpstream(t, 0)
	cfg := attackConfig(up)
	cfg.Tenants = map[string]config.Tenant{"shop": {FailMode: config.FailOpen}}
	g := start(t, cfg, failingBundle(t), nil)
	// The policy fails on 故障演练 (a run-time conflict in a custom rule).
	r := do(t, "POST", g.agent+agentRoute, chatBody("f1", "a1", "agent", "故障演练：加我微信 wxid_abc123 私聊"), "X-API-Key", deskKey)
	if r.Status != http.StatusServiceUnavailable || r.errCode() != "inspection_failed" {
		t.Errorf("diversion while the policy fails: %d %s, want 503 inspection_failed", r.Status, r.Raw)
	}
	r = do(t, "POST", g.agent+agentRoute, chatBody("f2", "a1", "agent", "故障演练：您的手机 13812345678 已登记"), "X-API-Key", deskKey)
	if r.Status != 201 || r.Header.Get("X-Xunjian-Fail-Open") != "true" || r.Header.Get("X-Xunjian-Action") != "redact" {
		t.Errorf("phone while the policy fails: %d %s %v, want released masked and flagged", r.Status, r.Raw, r.Header)
	}
	texts := upstreamTexts(up)
	if len(texts) != 1 || strings.Contains(texts[0], "13812345678") || !strings.Contains(texts[0], "138****5678") {
		t.Errorf("the backend received %q, want one masked draft", texts)
	}
	metrics := do(t, "GET", g.admin+"/metrics", "").Raw
	for _, want := range []string{`xunjian_fail_open_total{outcome="held"} 1`, `xunjian_fail_open_total{outcome="released"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(metrics, "fail_open"))
		}
	}
	var flagged int
	for _, e := range drainEvents(t, g.srv.broker.Addr(), "xunjian.findings", 2*time.Second) {
		if e.FailOpen {
			flagged++
			if strings.Contains(e.TextMasked, "13812345678") {
				t.Errorf("fail-open event carries the phone in clear: %q", e.TextMasked)
			}
		}
	}
	if flagged != 1 {
		t.Errorf("%d fail-open events, want 1", flagged)
	}
}

// TestAttackOverload: far past the gateway's capacity, a fail-open tenant's
// drafts are shed (429/503 with Retry-After) or decided; not one draft the
// policy stops reaches the backend.
func TestAttackOverload(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	up := newUpstream(t, 0)
	cfg := attackConfig(up)
	cfg.Tenants = map[string]config.Tenant{"shop": {FailMode: config.FailOpen}}
	cfg.Limits.InspectTimeout = duration.Duration(5 * time.Millisecond) // tight, so overload would bite
	g := start(t, cfg, "", nil)
	client := contractClient(t, &http.Transport{MaxIdleConnsPerHost: 400, MaxConnsPerHost: 400})
	harmful := []string{"亲，加我微信 wxid_%d 私聊", "你是不是傻 %d，看不懂字吗", "加我QQ 2%09d 给您返现", "保证明天一定送到 %d，百分百没问题"}
	var seq atomic.Int64
	send := func() (int, error) {
		i := seq.Add(1)
		text := fmt.Sprintf("您好，订单 %d 已发货，请耐心等待。", i)
		if i%2 == 0 {
			text = fmt.Sprintf(harmful[int(i/2)%len(harmful)], i)
		}
		req, _ := http.NewRequest("POST", g.agent+agentRoute, strings.NewReader(chatBody(fmt.Sprintf("o%d", i%500), "", "agent", text)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", deskKey)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if (resp.StatusCode == 429 || resp.StatusCode == 503) && resp.Header.Get("Retry-After") == "" && resp.StatusCode == 429 {
			return resp.StatusCode, fmt.Errorf("429 without Retry-After")
		}
		return resp.StatusCode, nil
	}
	// Peak: what 16 closed-loop clients get through in one second.
	var done atomic.Int64
	deadline := time.Now().Add(time.Second)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, err := send(); err == nil {
					done.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	peak := float64(done.Load())
	// Four times that, open loop, for two seconds.
	rate := 4 * peak
	var statuses sync.Map
	count := func(code int) {
		v, _ := statuses.LoadOrStore(code, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	interval := time.Duration(float64(time.Second) / rate)
	inflight := make(chan struct{}, 2000)
	end := time.Now().Add(2 * time.Second)
	for next := time.Now(); next.Before(end); next = next.Add(interval) {
		time.Sleep(time.Until(next))
		select {
		case inflight <- struct{}{}:
		default:
			count(-1) // the client itself is saturated
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-inflight }()
			code, err := send()
			if err != nil {
				code = -2
			}
			count(code)
		}()
	}
	wg.Wait()
	var summary []string
	statuses.Range(func(k, v any) bool {
		summary = append(summary, fmt.Sprintf("%v:%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	t.Logf("peak %.0f req/s; offered %.0f req/s; statuses %v", peak, rate, summary)
	leak := regexp.MustCompile(`wxid_|你是不是傻|加我QQ|保证明天一定送到`)
	for _, text := range upstreamTexts(up) {
		if leak.MatchString(text) {
			t.Errorf("a draft the policy stops reached the backend under overload: %q", text)
		}
	}
}

// TestAttackLifecycle: closing a conversation wipes its risk and alert
// state, so only the backend's credential may.
func TestAttackLifecycle(t *testing.T) {
	up := newUpstream(t, 0)
	g := start(t, attackConfig(up), "", nil)
	for range 2 {
		if r := do(t, "POST", g.agent+"/v1/events", `{"type":"message","conversation_id":"risky","text":"我要去12315和消协投诉，还要找律师"}`, "X-API-Key", backendKey); r.Status != 202 {
			t.Fatalf("backend's customer message: %d %s", r.Status, r.Raw)
		}
	}
	for _, typ := range []string{"closed", "assigned", "transferred"} {
		if r := do(t, "POST", g.agent+"/v1/events", `{"type":"`+typ+`","conversation_id":"risky"}`, "X-API-Key", deskKey); r.Status != 403 || r.errCode() != "lifecycle_forbidden" {
			t.Errorf("%s from an agent key: %d %s, want 403 lifecycle_forbidden", typ, r.Status, r.Raw)
		}
	}
	if c, ok := g.srv.convs.Get("shop", "risky"); !ok || c.CustomerEscalations < 2 {
		t.Fatalf("the conversation lost its risk to an agent key: %+v", c)
	}
	if r := do(t, "POST", g.agent+"/v1/events", `{"type":"closed","conversation_id":"risky"}`, "X-API-Key", backendKey); r.Status != 202 {
		t.Errorf("closed from the backend: %d %s", r.Status, r.Raw)
	}
	if _, ok := g.srv.convs.Get("shop", "risky"); ok {
		t.Error("the backend's closed event did not end the conversation")
	}
}

// TestAttackDuplicateKeys: a body that names a key twice, or twice but for
// case, is refused on every endpoint, so no reader picks the other value.
func TestAttackDuplicateKeys(t *testing.T) {
	up := newUpstream(t, 0)
	g := start(t, attackConfig(up), "", nil)
	for _, tc := range []struct{ path, body string }{
		{"/v1/check", `{"text":"ok","TEXT":"加我微信abc123"}`},
		{"/v1/check", `{"text":"ok","text":"加我微信abc123"}`},
		{"/v1/check", `{"text":"ok","Role":"customer","role":"agent"}`},
		{"/v1/check", `{"text":"ok","context":[{"text":"a","Text":"b"}]}`},
		{"/v1/events", `{"type":"message","conversation_id":"c","text":"ok","Text":"加我微信abc123","role":"agent"}`},
		{agentRoute, `{"message":{"text":"ok","TEXT":"加我微信abc123"}}`},
	} {
		r := do(t, "POST", g.agent+tc.path, tc.body, "X-API-Key", deskKey)
		if r.Status != 400 {
			t.Errorf("%s %s: %d %s, want 400", tc.path, tc.body, r.Status, r.Raw)
		}
	}
	if n := len(up.received()); n != 0 {
		t.Errorf("the backend received %d messages", n)
	}
}

// TestAttackLimitsAgree: a client that writes a whole over-limit body before
// reading (Python's urllib does) gets the 413 JSON, not a reset; a JWT of
// the 8 KiB the gateway accepts is read, not refused as malformed; a header
// block over the limit gets 431.
func TestAttackLimitsAgree(t *testing.T) {
	up := newUpstream(t, 0)
	cfg := attackConfig(up)
	g := start(t, cfg, "", nil)
	addr := strings.TrimPrefix(g.agent, "http://")

	body := `{"text":"` + strings.Repeat("a", 5<<20) + `"}`
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/check HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", deskKey, len(body))
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatalf("writing the body: %v (the gateway reset the connection)", err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	sent, _ := http.NewRequest("POST", "http://"+addr+"/v1/check", nil)
	sent.Header.Set("X-API-Key", deskKey)
	resp, err := http.ReadResponse(bufio.NewReader(conn), sent)
	if err != nil {
		t.Fatalf("reading the reply after a 5 MB body: %v", err)
	}
	raw, _ := io.ReadAll(resp.Body)
	checkContract(t, resp.Request, resp, raw)
	if resp.StatusCode != 413 || !strings.Contains(string(raw), "body_too_large") {
		t.Errorf("5 MB body: %d %s, want 413 body_too_large", resp.StatusCode, raw)
	}

	token := "Bearer " + strings.Repeat("a", 4000) + "." + strings.Repeat("b", 3000) + "." + strings.Repeat("c", 900)
	if r := do(t, "POST", g.agent+"/v1/check", `{"text":"您好"}`, "Authorization", token); r.Status != 401 {
		t.Errorf("a 7.9 KB token: %d %s, want 401 (read and refused), not a malformed request", r.Status, r.Raw)
	}
	if r := do(t, "POST", g.agent+"/v1/check", `{"text":"您好"}`, "X-API-Key", deskKey, "X-Padding", strings.Repeat("p", 20<<10)); r.Status != http.StatusRequestHeaderFieldsTooLarge || r.errCode() != "headers_too_large" {
		t.Errorf("20 KB of headers: %d %s, want 431 headers_too_large", r.Status, r.Raw)
	}
}

// TestAttackChannels: every channel a route forwards is inspected, or the
// request is refused: another content type, the query string, sibling
// fields the backend renders, a compressed body.
func TestAttackChannels(t *testing.T) {
	up := newUpstream(t, 0)
	g := start(t, attackConfig(up), "", nil)
	raw := func(path, ctype, body string, headers ...string) reply {
		t.Helper()
		return doAs(t, "POST", g.agent+path, ctype, body, append([]string{"X-API-Key", deskKey}, headers...)...)
	}
	benign := chatBody("ch", "a1", "agent", "您好")
	for _, tc := range []struct {
		name, path, ctype, body string
		headers                 []string
		status                  int
		code                    string
	}{
		{"form body", agentRoute, "application/x-www-form-urlencoded", `message[text]=您好&message[note]=加我微信 wxid_abc123`, nil, 415, "unsupported_media_type"},
		{"json as text/plain", agentRoute, "text/plain", benign, nil, 415, "unsupported_media_type"},
		{"no content type", agentRoute, "", benign, nil, 415, "unsupported_media_type"},
		{"latin-1 charset", agentRoute, "application/json; charset=iso-8859-1", benign, nil, 415, "unsupported_media_type"},
		{"gzip body", agentRoute, "application/json", benign, []string{"Content-Encoding", "gzip"}, 415, "unsupported_encoding"},
		{"text in the query", agentRoute + "?message%5Btext%5D=%E5%8A%A0%E6%88%91%E5%BE%AE%E4%BF%A1wxid_abc123", "application/json", benign, nil, 400, "query_not_allowed"},
		{"diversion in html", agentRoute, "application/json", `{"conversation_id":"ch","sender":{"role":"agent"},"message":{"text":"您好","html":"<p>加我微信 wxid_abc123 私聊</p>"}}`, nil, StatusBlocked, ""},
		{"diversion in a caption", agentRoute, "application/json", `{"conversation_id":"ch","sender":{"role":"agent"},"message":{"text":"您好，图片请查收"},"attachments":[{"caption":"ok"},{"caption":"加我微信 wxid_abc123 私聊"}]}`, nil, StatusBlocked, ""},
		{"diversion in an allowed query parameter", agentRoute + "?trace_id=%E5%8A%A0%E6%88%91%E5%BE%AE%E4%BF%A1%20wxid_abc123%20%E7%A7%81%E8%81%8A", "application/json", benign, nil, StatusBlocked, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(up.received())
			r := raw(tc.path, tc.ctype, tc.body, tc.headers...)
			if r.Status != tc.status || (tc.code != "" && r.errCode() != tc.code) {
				t.Errorf("%d %s, want %d %s", r.Status, r.Raw, tc.status, tc.code)
			}
			if n := len(up.received()) - before; n != 0 {
				t.Errorf("the backend received %d requests", n)
			}
		})
	}
	// A phone in a caption is masked in the caption; the draft keeps its
	// own text.
	before := len(up.received())
	r := raw(agentRoute, "application/json; charset=utf-8", `{"conversation_id":"ch2","sender":{"role":"agent"},"message":{"text":"已为您登记","html":"<b>手机 13912345678</b>"},"attachments":[{"caption":"联系电话 13812345678"}]}`)
	if r.Status != 201 || r.Header.Get("X-Xunjian-Action") != "redact" {
		t.Fatalf("phone in html and caption: %d %s %v, want redact", r.Status, r.Raw, r.Header)
	}
	got := up.received()[before:]
	if len(got) != 1 {
		t.Fatalf("backend received %d requests", len(got))
	}
	body := string(got[0].Body)
	if strings.Contains(body, "13812345678") || strings.Contains(body, "13912345678") || !strings.Contains(body, "138****5678") || !strings.Contains(body, "139****5678") || !strings.Contains(body, `"text":"已为您登记"`) {
		t.Errorf("backend received %s, want both phones masked in place", body)
	}
}

// TestAttackForwardedHeaders: a client cannot pass the backend a made-up
// client address or gateway header.
func TestAttackForwardedHeaders(t *testing.T) {
	up := newUpstream(t, 0)
	g := start(t, attackConfig(up), "", nil)
	r := do(t, "POST", g.agent+agentRoute, chatBody("h", "a1", "agent", "您好"), "X-API-Key", deskKey,
		"X-Forwarded-For", "10.9.9.9", "Forwarded", "for=10.9.9.9", "X-Real-IP", "10.9.9.9",
		"X-Forwarded-Host", "admin.internal", "X-Xunjian-Action", "allow", "X-Xunjian-Verified", "true")
	if r.Status != 201 {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
	h := up.received()[0].Header
	if xff := h.Get("X-Forwarded-For"); xff != "127.0.0.1" {
		t.Errorf("X-Forwarded-For %q, want only the gateway's view of the client, 127.0.0.1", xff)
	}
	for _, name := range []string{"Forwarded", "X-Real-Ip", "X-Forwarded-Host", "X-Xunjian-Action", "X-Xunjian-Verified"} {
		if v := h.Get(name); v != "" {
			t.Errorf("the backend received %s: %q from an untrusted client", name, v)
		}
	}
}

// TestAttackDeliveryUnknown: "not sent" is said only when no byte reached
// the backend; a backend that took the request and then broke the reply
// gets "delivery unknown", with the decision id.
func TestAttackDeliveryUnknown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err == nil {
					io.ReadAll(req.Body)
					got.Add(1)
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"sent\":") // then hang up mid-reply
				}
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	cfg := attackConfig(&upstream{URL: "http://" + ln.Addr().String()})
	g := start(t, cfg, "", nil)
	r := do(t, "POST", g.agent+agentRoute, chatBody("d", "a1", "agent", "您好，已为您发货"), "X-API-Key", deskKey)
	if r.Status != 502 || r.errCode() != "delivery_unknown" || r.Header.Get("X-Xunjian-Decision") == "" || strings.Contains(r.Raw, "not sent") {
		t.Errorf("backend hung up mid-reply: %d %s, want 502 delivery_unknown with the decision id", r.Status, r.Raw)
	}
	if got.Load() != 1 {
		t.Errorf("backend took %d requests, want 1 (no retry of a request that was written)", got.Load())
	}
}

// TestAttackDeadBroker: with brokers configured and none listening, the
// gateway keeps answering (events wait in the spool) and says within 10 s,
// in /readyz, a metric and one log line, that Kafka is unreachable.
func TestAttackDeadBroker(t *testing.T) {
	cfg := config.Config{}
	cfg.Stream.Brokers = []string{"127.0.0.1:1"}
	g := start(t, cfg, "", nil)
	if r := do(t, "POST", g.agent+"/v1/check", `{"text":"你有病吧","conversation_id":"k1"}`); r.Status != 200 {
		t.Fatalf("draft with Kafka down: %d %s", r.Status, r.Raw)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := do(t, "GET", g.admin+"/readyz", "")
		kafka, _ := r.Body["kafka"].(map[string]any)
		if kafka != nil && kafka["reachable"] == false && kafka["since"] != nil {
			if r.Status != 200 {
				t.Errorf("/readyz %d with room in the spool, want 200 with the warning", r.Status)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz after 10 s: %d %s, want kafka unreachable and since when", r.Status, r.Raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if m := do(t, "GET", g.admin+"/metrics", "").Raw; !strings.Contains(m, "xunjian_kafka_reachable 0") {
		t.Errorf("metrics:\n%s", grepLines(m, "kafka"))
	}
	if n := strings.Count(g.logs.String(), "kafka unreachable"); n != 1 {
		t.Errorf("%d log lines say kafka is unreachable, want 1:\n%s", n, g.logs.String())
	}
}

// TestAttackTypoRule: a custom rule with a misspelt action is refused when
// the policy loads or reloads; one that only a live draft reaches applies
// the tenant's fail mode loudly (a log line naming the rule, a metric).
func TestAttackTypoRule(t *testing.T) {
	typo := func(cond string) string {
		return `package xunjian.custom

reasons contains {"rule": "custom.typo", "action": "blok", "message": "typo"} if {
	` + cond + `
}
`
	}
	bundle := func(rego string) string {
		dir := filepath.Join(t.TempDir(), "bundle")
		if err := rules.WriteDefaultBundle(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "xunjian", "typo.rego"), []byte(rego), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	// Reached by the probes (any diversion finding): the gateway refuses
	// to start on it.
	cfg := config.Config{Policy: bundle(typo(`some f in input.findings; f.kind == "payment"`))}
	cfg.Stream.Disabled = true
	cfg.Defaults()
	if _, err := New(context.Background(), &cfg, Options{}); err == nil || !strings.Contains(err.Error(), "custom.typo") {
		t.Fatalf("start on a bundle with a typo: %v, want refused naming the rule", err)
	}
	// Reached only by one phrase: it serves, and the one draft fails.
	up := newUpstream(t, 0)
	g := start(t, attackConfig(up), bundle(typo(`contains(input.draft.normalized, "暗号九九")`)), nil)
	r := do(t, "POST", g.agent+agentRoute, chatBody("t1", "a1", "agent", "暗号九九，加我微信 wxid_abc123"), "X-API-Key", deskKey)
	if r.Status != http.StatusServiceUnavailable || r.errCode() != "inspection_failed" {
		t.Errorf("draft reaching the typo rule: %d %s, want 503 inspection_failed (fail closed)", r.Status, r.Raw)
	}
	if !strings.Contains(g.logs.String(), `"rule":"custom.typo"`) {
		t.Errorf("no log line names the rule:\n%s", g.logs.String())
	}
	if m := do(t, "GET", g.admin+"/metrics", "").Raw; !strings.Contains(m, `xunjian_policy_invalid_decisions_total{rule="custom.typo"} 1`) {
		t.Errorf("metrics:\n%s", grepLines(m, "invalid"))
	}
	if r := do(t, "POST", g.agent+agentRoute, chatBody("t2", "a1", "agent", "您好，已为您发货"), "X-API-Key", deskKey); r.Status != 201 {
		t.Errorf("other drafts: %d %s, want them served", r.Status, r.Raw)
	}
	if n := len(up.received()); n != 1 {
		t.Errorf("backend received %d messages, want only the benign one", n)
	}
}

// TestAttackPrivateForms: a phone spelt in any digit form, hidden in a
// long run, or split by invisible characters is masked before it reaches
// the backend (the action says redact and means it), a contact handle or
// control character does not let a diversion through, and no event on any
// topic carries the digits or the handle in clear.
func TestAttackPrivateForms(t *testing.T) {
	up := newUpstream(t, 0)
	cfg := attackConfig(up)
	cfg.Stream.Sampling.Rate = 1 // every conversation on the samples topic too
	g := start(t, cfg, "", nil)
	phone := "13812345678"
	for _, text := range []string{
		"我的电话一三八一二三四五六七八", "电话①③⑧①②③④⑤⑥⑦⑧", "电话¹³⁸¹²³⁴⁵⁶⁷⁸", "电话壹叁捌壹贰叁肆伍陆柒捌",
		"电话1三8一2三4五6七8", strings.Repeat(phone+" ", 8), "电话 " + phone + strings.Repeat(" 0", 70),
		"电话138\u00001234\u00005678", "电话138\u20601234\uFFF95678", "电话 １３８１２３４５６７８",
	} {
		before := len(up.received())
		r := do(t, "POST", g.agent+agentRoute, chatBody("pf", "a1", "agent", text), "X-API-Key", deskKey)
		if r.Status != 201 || r.Header.Get("X-Xunjian-Action") != "redact" {
			t.Errorf("%q: %d action %q, want released masked", text, r.Status, r.Header.Get("X-Xunjian-Action"))
			continue
		}
		got := upstreamTexts(up)[before:]
		if w, leak := leaktest.Digits(strings.Join(got, ""), phone); leak {
			t.Errorf("%q reached the backend as %q: digits %s in clear", text, got, w)
		}
	}
	for _, text := range []string{"加我微\u0000信abc123", "加我微\u200b信 abc123", "你是不是\u0001傻", "加我QQ 1234567890 给您返现", "加我微信 wxid_secrethandle 私聊"} {
		if r := do(t, "POST", g.agent+agentRoute, chatBody("pf", "a1", "agent", text), "X-API-Key", deskKey); r.Status < 400 {
			t.Errorf("%q: %d, want it stopped", text, r.Status)
		}
	}
	for _, topic := range []string{"xunjian.findings", "xunjian.alerts", "xunjian.samples"} {
		for _, e := range drainEvents(t, g.srv.broker.Addr(), topic, 2*time.Second) {
			b, err := json.Marshal(struct {
				Masked string
				F      any
				R      any
				C      any
			}{e.TextMasked, e.Findings, e.Reasons, e.Context})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []string{phone, "1234567890"} {
				if w, leak := leaktest.Digits(string(b), v); leak {
					t.Errorf("%s event %s carries %s: %s", topic, e.EventID, w, b)
				}
			}
			if strings.Contains(string(b), "secrethandle") {
				t.Errorf("%s event carries the WeChat handle: %s", topic, b)
			}
		}
	}
}
