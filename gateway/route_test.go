package gateway

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/internal/leaktest"
	"github.com/xunjian/xunjian/gateway/proxy"
)

const convRoute = "/conversations/{conversation_id}/messages"

// templateConfig puts the gateway in front of a backend whose send API
// takes the conversation from the path, as most chat backends' do.
func templateConfig(up *upstream) config.Config {
	return config.Config{Routes: []proxy.Route{{
		Method: "POST", Path: convRoute, Upstream: up.URL, Timeout: duration.Duration(time.Second),
		Text: "/text", Conversation: "/conversation_id",
	}}}
}

// TestPathTemplateRoute: the conversation id comes from the path, the
// backend gets the path it was sent, and a body that names another
// conversation than its path is refused before inspection.
func TestPathTemplateRoute(t *testing.T) {
	up := newUpstream(t, 0)
	g := start(t, templateConfig(up), "", nil)

	r := do(t, "POST", g.agent+"/conversations/c-77/messages", `{"text":"您好，您的订单已经发货了"}`)
	if r.Status != 201 || r.Header.Get(HeaderAction) != "allow" {
		t.Fatalf("allowed draft: %d %s %v", r.Status, r.Raw, r.Header)
	}
	if got := up.received(); len(got) != 1 || got[0].Path != "/conversations/c-77/messages" {
		t.Fatalf("backend got %+v, want one request on /conversations/c-77/messages", got)
	}

	// The path's conversation carries context: the same wait-and-risk
	// state the body field would have given.
	for _, path := range []string{"/conversations/%E4%BC%9A%E8%AF%9D-1/messages", "/conversations/a%20b/messages"} {
		if r := do(t, "POST", g.agent+path, `{"text":"好的"}`); r.Status != 201 {
			t.Errorf("%s: %d %s", path, r.Status, r.Raw)
		}
		rec := up.received()
		if got := rec[len(rec)-1].Path; "/conversations/"+strings.TrimSuffix(strings.TrimPrefix(mustUnescape(t, path), "/conversations/"), "/messages")+"/messages" != got {
			t.Errorf("%s: backend got path %q", path, got)
		}
	}

	before := len(up.received())
	r = do(t, "POST", g.agent+"/conversations/c-77/messages", `{"text":"加我微信 wxid_abc123","conversation_id":"c-quiet"}`)
	if r.Status != 400 || r.errCode() != "invalid_field" || !strings.Contains(r.Raw, "conversation_id") {
		t.Errorf("body naming another conversation: %d %s, want 400 invalid_field", r.Status, r.Raw)
	}
	if n := len(up.received()); n != before {
		t.Error("a draft whose body and path disagree reached the backend")
	}
	for _, path := range []string{"/conversations//messages", "/conversations/c-77/messages/extra", "/conversations/c-77"} {
		if r := do(t, "POST", g.agent+path, `{"text":"hi"}`); r.Status != 404 || r.errCode() != "not_found" {
			t.Errorf("%s: %d %s, want 404 not_found", path, r.Status, r.Raw)
		}
	}

	// The event of a finding names the path's conversation.
	if r := do(t, "POST", g.agent+"/conversations/c-88/messages", `{"text":"我已经说过了，请您看一下上面的消息"}`); r.Status != 201 {
		t.Fatalf("warn draft: %d %s", r.Status, r.Raw)
	}
	var convs []string
	for _, e := range drainEvents(t, g.srv.broker.Addr(), "xunjian.findings", 2*time.Second) {
		convs = append(convs, e.ConversationID)
	}
	if !strings.Contains(strings.Join(convs, ","), "c-88") {
		t.Errorf("findings events name conversations %v, want c-88 (from the path)", convs)
	}
}

func mustUnescape(t *testing.T, s string) string {
	t.Helper()
	u, err := url.PathUnescape(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestDecisionHeaders: on every proxy reply the client reads the action,
// the decision id and the rules from headers, and on redact the masked
// text the backend received, without parsing the backend's body.
func TestDecisionHeaders(t *testing.T) {
	up := newUpstream(t, 0)
	g := start(t, templateConfig(up), "", nil)
	for _, tc := range []struct {
		name, text string
		status     int
		action     string
	}{
		{"allow", "您好，请问还有什么可以帮您？", 201, "allow"},
		{"warn", "我已经说过了，请您看一下上面的消息", 201, "warn"},
		{"redact", "已为您登记手机 13812345678，身份证 11010519491231002X，请留意短信", 201, "redact"},
		{"confirm", "保证明天一定送到，百分百没问题", StatusHeld, "confirm"},
		{"block", "亲，加我微信 wxid_abc123 私聊", StatusBlocked, "block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(up.received())
			body, _ := json.Marshal(map[string]string{"text": tc.text})
			r := do(t, "POST", g.agent+"/conversations/h-"+tc.name+"/messages", string(body))
			if r.Status != tc.status || r.Header.Get(HeaderAction) != tc.action {
				t.Fatalf("%d %s %s, want %d with %s %s", r.Status, r.Header.Get(HeaderAction), r.Raw, tc.status, HeaderAction, tc.action)
			}
			if id := r.Header.Get(HeaderDecision); id == "" || (r.Body["decision_id"] != nil && r.Body["decision_id"] != id) {
				t.Errorf("%s %q, body decision_id %v", HeaderDecision, id, r.Body["decision_id"])
			}
			rulesHdr := r.Header.Get(HeaderRules)
			if (tc.action == "allow") != (rulesHdr == "") {
				t.Errorf("%s %q for a %s draft", HeaderRules, rulesHdr, tc.action)
			}
			for _, id := range strings.Split(rulesHdr, ",") {
				if rulesHdr != "" && !strings.Contains(id, ".") {
					t.Errorf("%s %q: %q does not look like a rule id", HeaderRules, rulesHdr, id)
				}
			}
			if tc.action == "confirm" && (r.Header.Get(AckHeader) == "" || r.Header.Get(AckHeader) != r.Body["ack"]) {
				t.Errorf("held draft: %s %q, body ack %v", AckHeader, r.Header.Get(AckHeader), r.Body["ack"])
			}
			enc := r.Header.Get(HeaderRedacted)
			if tc.action != "redact" {
				if enc != "" {
					t.Errorf("%s on a %s draft", HeaderRedacted, tc.action)
				}
				return
			}
			masked, err := url.PathUnescape(enc)
			if err != nil {
				t.Fatalf("%s %q does not decode: %v", HeaderRedacted, enc, err)
			}
			got := up.received()[before:]
			if len(got) != 1 {
				t.Fatalf("backend got %d requests", len(got))
			}
			var sent struct{ Text string }
			_ = json.Unmarshal(got[0].Body, &sent)
			if masked != sent.Text || masked == tc.text {
				t.Errorf("%s decodes to %q; the backend received %q", HeaderRedacted, masked, sent.Text)
			}
			for _, value := range []string{"13812345678", "11010519491231002X"} {
				if w, leaked := leaktest.Digits(masked, value); leaked {
					t.Errorf("%s carries private data in clear: %q", HeaderRedacted, w)
				}
			}
		})
	}

	// A masked message too long for a header is left out, and said so. (A
	// long draft as agents write them, a shipment list: one phrase pasted
	// 200 times reads to the learned model as a stonewalling template,
	// which is held for confirmation, not what this checks.)
	var list strings.Builder
	for i := range 120 {
		fmt.Fprintf(&list, "第%d件商品（订单%d）已从杭州仓发出，预计%d日送达。", i+1, 202612000+i*37, 8+i%20)
	}
	long := list.String() + "如有问题请联系手机 13812345678"
	body, _ := json.Marshal(map[string]string{"text": long})
	cfg := templateConfig(up)
	cfg.Limits.MaxBodyBytes = 64 << 10
	g2 := start(t, cfg, "", nil)
	r := do(t, "POST", g2.agent+"/conversations/h-long/messages", string(body))
	if r.Status != 201 || r.Header.Get(HeaderAction) != "redact" || r.Header.Get(HeaderRedacted) != "" || r.Header.Get(HeaderRedactedOmitted) != "too_long" {
		t.Errorf("long redact: %d action %q redacted %d bytes omitted %q", r.Status, r.Header.Get(HeaderAction), len(r.Header.Get(HeaderRedacted)), r.Header.Get(HeaderRedactedOmitted))
	}
}

// TestAttackConfirmedDraftStaysMasked: a draft that both promises what the
// shop cannot keep (confirm) and writes out the customer's phone (redact)
// is held; once the agent confirms, what reaches the customer is masked.
// Confirm outranks redact, but must not cancel the masking.
func TestAttackConfirmedDraftStaysMasked(t *testing.T) {
	up := newUpstream(t, 0)
	g := start(t, templateConfig(up), "", nil)
	const phone = "13812345678"
	text := "您的手机 " + phone + " 已登记，保证明天一定送到，百分百没问题"
	body, _ := json.Marshal(map[string]string{"text": text})
	r := do(t, "POST", g.agent+"/conversations/m-1/messages", string(body))
	token := r.Header.Get(AckHeader)
	if r.Status != StatusHeld || token == "" {
		t.Fatalf("first send: %d %s, want 409 with an ack token", r.Status, r.Raw)
	}
	if red, _ := r.Body["redacted"].(string); red == "" || strings.Contains(red, phone) {
		t.Errorf("held verdict's redacted = %q, want the masked draft the agent would release", red)
	}
	r = do(t, "POST", g.agent+"/conversations/m-1/messages", string(body), AckHeader, token)
	if r.Status != 201 {
		t.Fatalf("confirmed re-send: %d %s", r.Status, r.Raw)
	}
	got := up.received()
	if len(got) != 1 {
		t.Fatalf("backend got %d messages, want 1", len(got))
	}
	if w, leaked := leaktest.Digits(string(got[0].Body), phone); leaked {
		t.Errorf("the confirmed draft reached the backend with the phone in clear (%q): %s", w, got[0].Body)
	}
	masked, _ := url.PathUnescape(r.Header.Get(HeaderRedacted))
	var sent struct{ Text string }
	_ = json.Unmarshal(got[0].Body, &sent)
	if masked == "" || masked != sent.Text {
		t.Errorf("%s = %q, the backend got %q", HeaderRedacted, masked, sent.Text)
	}

	// /v1/check: the confirm verdict carries the masked text to send.
	r = do(t, "POST", g.agent+"/v1/check", string(body))
	if red, _ := r.Body["redacted"].(string); r.Body["action"] != "confirm" || red == "" || strings.Contains(red, phone) {
		t.Errorf("/v1/check: %s, want confirm with the masked text in redacted", r.Raw)
	}
}

// TestAlertContextMarksUndelivered: a released draft the chat backend never
// took, and a confirmed draft whose ack was refused, show in the next
// alert's context as not delivered: the supervisor sees what the customer
// saw.
func TestAlertContextMarksUndelivered(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close() // nothing listens: every forward fails before a byte is sent
	cfg := templateConfig(&upstream{URL: dead})
	g := start(t, cfg, "", nil)

	draft := "您好，您的订单已经发货了，请耐心等待"
	body, _ := json.Marshal(map[string]string{"text": draft})
	if r := do(t, "POST", g.agent+"/conversations/u-1/messages", string(body)); r.Status != 502 || r.errCode() != "upstream_unavailable" {
		t.Fatalf("draft to a dead backend: %d %s", r.Status, r.Raw)
	}
	// A held draft re-sent with a forged ack token: refused, not released.
	promise, _ := json.Marshal(map[string]string{"text": "保证明天一定送到，百分百没问题"})
	if r := do(t, "POST", g.agent+"/conversations/u-1/messages", string(promise)); r.Status != StatusHeld {
		t.Fatalf("promise: %d %s", r.Status, r.Raw)
	}
	if r := do(t, "POST", g.agent+"/conversations/u-1/messages", string(promise), AckHeader, "forged.token"); r.Status != 403 {
		t.Fatalf("forged ack: %d %s", r.Status, r.Raw)
	}
	// A customer complaint raises an alert carrying the conversation.
	if r := do(t, "POST", g.agent+"/v1/events", `{"type":"message","conversation_id":"u-1","text":"你们再不处理我就打12315投诉"}`); r.Status != 202 {
		t.Fatalf("customer message: %d %s", r.Status, r.Raw)
	}
	var agentTurns []string
	for _, e := range drainEvents(t, g.srv.broker.Addr(), "xunjian.alerts", 2*time.Second) {
		if e.ConversationID != "u-1" {
			continue
		}
		agentTurns = agentTurns[:0]
		for _, turn := range e.Context {
			switch turn.Role {
			case "agent":
				agentTurns = append(agentTurns, fmt.Sprintf("%s/%v", turn.Action, turn.Delivered))
			case "customer":
				if !turn.Delivered {
					t.Error("a customer message shown as not delivered")
				}
			}
		}
	}
	// The draft the backend never took, the held promise, the promise
	// whose ack was refused: none reached the customer.
	if got := strings.Join(agentTurns, " "); got != "allow/false confirm/false confirm/false" {
		t.Errorf("the alert's agent turns (action/delivered): %q, want \"allow/false confirm/false confirm/false\"", got)
	}
}
