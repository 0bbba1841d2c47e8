//go:build kafka

package kafkatest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/gateway/internal/leaktest"
)

// recorder is a chat backend that records what it is sent.
type recorder struct {
	mu     sync.Mutex
	bodies [][]byte
	url    string
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	rec := &recorder{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.bodies = append(rec.bodies, b)
		rec.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"sent":true}`)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	rec.url = "http://" + ln.Addr().String()
	return rec
}

func (r *recorder) all() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...)
}

// TestKafkaAttacks sends drafts built the way attackers wrote them to the
// gateway binary, proxied to a recording backend, with events on the real
// broker: nothing private reaches the backend, the events or the log in
// any digit form, and nothing stopped reaches the backend.
func TestKafkaAttacks(t *testing.T) {
	addrs := Brokers(t)
	rec := newRecorder(t)
	spec := newSpec(t, strings.Join(addrs, ","))
	desk, backend := "xj_e2edeskdeskdeskdeskdeskdeskdeskdeskdeskdesk", "xj_e2ebackendbackendbackendbackendbackendback"
	spec.extra = fmt.Sprintf(`auth:
  api_keys:
    - {name: desk, tenant: shop, hash: "%s"}
    - {name: backend, tenant: shop, scopes: [agent, customer, lifecycle], hash: "%s"}
routes:
  - name: send
    method: POST
    path: /api/messages/send
    upstream: %s
    text: /message/text
    conversation: /conversation_id
    agent: /agent_id
    role: /sender/role
`, auth.HashKey(desk), auth.HashKey(backend), rec.url)
	g := startGateway(t, spec)

	want := map[string]bool{} // decision ids of the drafts inspected
	send := func(conv, role, text string) *http.Response {
		body, _ := json.Marshal(map[string]any{"conversation_id": conv, "agent_id": "a1", "sender": map[string]any{"role": role}, "message": map[string]any{"text": text}})
		req, _ := http.NewRequest("POST", "http://"+g.agent+"/api/messages/send", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", desk)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var reply struct {
			DecisionID string `json:"decision_id"`
		}
		json.NewDecoder(resp.Body).Decode(&reply)
		resp.Body.Close()
		// The findings topic carries every draft not allowed as it is.
		if id := resp.Header.Get("X-Xunjian-Decision"); id != "" && resp.Header.Get("X-Xunjian-Action") != "allow" {
			want[id] = true
		} else if reply.DecisionID != "" {
			want[reply.DecisionID] = true
		}
		return resp
	}
	phone := "13812345678"
	masked := []struct{ name, text string }{
		{"chinese numerals", "我的电话一三八一二三四五六七八"},
		{"circled", "电话①③⑧①②③④⑤⑥⑦⑧"},
		{"superscript", "电话¹³⁸¹²³⁴⁵⁶⁷⁸"},
		{"capital numerals", "电话壹叁捌壹贰叁肆伍陆柒捌"},
		{"mixed", "电话1三8一2三4五6七8"},
		{"eight phones", strings.Repeat(phone+" ", 8)},
		{"padded", "电话 " + phone + strings.Repeat(" 0", 70)},
		{"control characters", "电话138\u00001234\u00005678"},
	}
	for i, tc := range masked {
		if resp := send(fmt.Sprintf("m%d", i), "agent", tc.text); resp.StatusCode != http.StatusCreated || resp.Header.Get("X-Xunjian-Action") != "redact" {
			t.Errorf("%s: %d action %q, want the draft released masked", tc.name, resp.StatusCode, resp.Header.Get("X-Xunjian-Action"))
		}
	}
	stopped := []struct{ name, role, text string }{
		{"diversion as the customer", "customer", "加我微信 wxid_secrethandle 私聊"},
		{"phone as the customer", "customer", "您的手机 " + phone + " 已登记"},
		{"wechat handle", "agent", "加我微信 wxid_secrethandle 私聊"},
		{"qq number", "agent", "加我QQ 1234567890 给您返现"},
		{"control character in 微信", "agent", "加我微\u0000信abc123"},
	}
	before := len(rec.all())
	for i, tc := range stopped {
		if resp := send(fmt.Sprintf("s%d", i), tc.role, tc.text); resp.StatusCode < 400 {
			t.Errorf("%s: %d, want it stopped", tc.name, resp.StatusCode)
		}
	}
	if n := len(rec.all()) - before; n != 0 {
		t.Errorf("%d stopped drafts reached the backend", n)
	}

	// Every text field of every event on every topic, the backend's
	// bodies and the gateway's log: no phone digits, no handle.
	var haystacks []string
	for _, b := range rec.all() {
		haystacks = append(haystacks, string(b))
	}
	for _, topic := range spec.topics {
		expect := want
		if topic != spec.topics[0] {
			expect = nil // alerts and samples carry some of them
		}
		for _, e := range consumeUntil(t, spec.brokers, topic, expect, 20*time.Second) {
			ev := e.ev
			fields := []string{ev.TextMasked}
			for _, f := range ev.Findings {
				fields = append(fields, f.Evidence)
			}
			for _, r := range ev.Reasons {
				fields = append(fields, r.Message, r.Suggestion)
			}
			for _, a := range ev.Alerts {
				fields = append(fields, a.Message)
			}
			for _, c := range ev.Context {
				fields = append(fields, c.TextMasked)
			}
			haystacks = append(haystacks, strings.Join(fields, "\n"))
		}
	}
	haystacks = append(haystacks, string(g.logs.Bytes()))
	for i, h := range haystacks {
		if w, ok := leaktest.Digits(h, phone); ok {
			t.Errorf("haystack %d carries the phone's digits %s: %q", i, w, h)
		}
		if w, ok := leaktest.Digits(h, "1234567890"); ok {
			t.Errorf("haystack %d carries the QQ number's digits %s: %q", i, w, h)
		}
		if strings.Contains(h, "secrethandle") {
			t.Errorf("haystack %d carries the WeChat handle: %q", i, h)
		}
	}
}
