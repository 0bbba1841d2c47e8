package gateway

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/internal/ratelimit"
	"github.com/xunjian/xunjian/gateway/internal/redisstate"
	"github.com/xunjian/xunjian/gateway/internal/redisstate/redistest"
)

// sharedEnv holds the ack secret every gateway of a test shares.
var sharedEnv = map[string]string{"ACK_SECRET": strings.Repeat("s", 32)}

// sharedConfig is a gateway on the Redis at addr, in mode, without events
// (the multi-instance test in gateway/stream/kafkatest checks those).
func sharedConfig(addr, prefix, mode string) config.Config {
	var c config.Config
	c.Stream.Disabled = true
	c.Ack.SecretEnv = "ACK_SECRET"
	// Generous deadlines: the machine running the tests may be busy.
	c.Limits.InspectTimeout = duration.Duration(time.Second)
	c.SharedState = redisstate.Config{Addrs: []string{addr}, KeyPrefix: prefix, Mode: mode,
		Timeout: duration.Duration(200 * time.Millisecond), BreakerOpen: duration.Duration(100 * time.Millisecond)}
	return c
}

// alertsOf returns a reply's alerts as "kind/level" strings.
func alertsOf(r reply) string {
	var out []string
	as, _ := r.Body["alerts"].([]any)
	for _, a := range as {
		m, _ := a.(map[string]any)
		out = append(out, fmt.Sprintf("%v/%v", m["kind"], m["level"]))
	}
	return strings.Join(out, ",")
}

// TestSharedState: two gateways on one Redis see one conversation, one
// ack record and one rate limit; with the server away, degrade serves
// flagged drafts on local state and fail_closed refuses them 503
// state_unavailable, none past its deadline; back, it is shared again.
func TestSharedState(t *testing.T) {
	srv := redistest.Start(t)
	pfx := "gw:" + t.Name() + ":"
	a := start(t, sharedConfig(srv.Addr, pfx, redisstate.ModeDegrade), "", sharedEnv)
	b := start(t, sharedConfig(srv.Addr, pfx, redisstate.ModeDegrade), "", sharedEnv)
	closed := start(t, sharedConfig(srv.Addr, pfx, redisstate.ModeFailClosed), "", sharedEnv)
	customer := []string{"我的快递一周了还没到，怎么回事", "再不退款我就去12315投诉"}
	const draft = `{"text":"非常抱歉，马上为您处理","conversation_id":"%s"}`
	event := func(g *gw, conv, text string) {
		t.Helper()
		if r := do(t, "POST", g.agent+"/v1/events", `{"type":"message","conversation_id":"`+conv+`","text":"`+text+`"}`); r.Status != 202 {
			t.Fatalf("customer message: %d %s", r.Status, r.Raw)
		}
	}

	// What one gateway that saw the whole conversation decides, and what
	// one that saw only its first message does.
	var wc config.Config
	wc.Stream.Disabled = true
	whole := start(t, wc, "", nil)
	event(whole, "w1", customer[0])
	event(whole, "w1", customer[1])
	want := alertsOf(do(t, "POST", whole.agent+"/v1/check", fmt.Sprintf(draft, "w1")))
	event(whole, "f1", customer[0])
	fragment := alertsOf(do(t, "POST", whole.agent+"/v1/check", fmt.Sprintf(draft, "f1")))
	if want == fragment {
		t.Fatalf("the test needs a conversation whose second message changes the alerts (both %q)", want)
	}
	// Across the gateways: the first message on a, the second on b, the
	// draft on a.
	event(a, "c1", customer[0])
	event(b, "c1", customer[1])
	if got := alertsOf(do(t, "POST", a.agent+"/v1/check", fmt.Sprintf(draft, "c1"))); got != want {
		t.Errorf("alerts across gateways %q, want %q as one gateway decides (a fragment gives %q)", got, want, fragment)
	}

	// An ack issued by a is good once, on b; a second use on a is refused.
	const confirm = `{"text":"保证明天一定送到，百分百没问题","conversation_id":"c2"%s}`
	token, _ := do(t, "POST", a.agent+"/v1/check", fmt.Sprintf(confirm, "")).Body["ack"].(string)
	if r := do(t, "POST", b.agent+"/v1/check", fmt.Sprintf(confirm, `,"ack":"`+token+`"`)); r.Status != 200 || r.Body["acked"] != true {
		t.Fatalf("ack of a on b: %d %s", r.Status, r.Raw)
	}
	if r := do(t, "POST", a.agent+"/v1/check", fmt.Sprintf(confirm, `,"ack":"`+token+`"`)); r.Status != 403 || r.errCode() != "ack_used" {
		t.Errorf("second use on a: %d %s, want 403 ack_used", r.Status, r.Raw)
	}

	// One bucket per agent across the gateways: burst 3 in all, not 3 each.
	limited := sharedConfig(srv.Addr, pfx, redisstate.ModeDegrade)
	limited.Limits.Rates = ratelimit.Rates{AgentRate: 1, AgentBurst: 3}
	la, lb := start(t, limited, "", sharedEnv), start(t, limited, "", sharedEnv)
	var codes []int
	for i := range 6 {
		g := []*gw{la, lb}[i%2]
		codes = append(codes, do(t, "POST", g.agent+"/v1/check", `{"text":"您好","agent_id":"busy"}`).Status)
	}
	if fmt.Sprint(codes) != "[200 200 200 429 429 429]" {
		t.Errorf("statuses %v, want three 200s then 429s across both gateways", codes)
	}

	// The server away: degrade serves, flagged; fail_closed refuses.
	srv.Stop()
	for i := range 5 {
		start := time.Now()
		r := do(t, "POST", a.agent+"/v1/check", fmt.Sprintf(draft, fmt.Sprintf("d%d", i)))
		if r.Status != 200 || r.Body["degraded"] != true {
			t.Errorf("degrade, server away: %d %s, want 200 degraded", r.Status, r.Raw)
		}
		rc := do(t, "POST", closed.agent+"/v1/check", fmt.Sprintf(draft, fmt.Sprintf("d%d", i)))
		if rc.Status != 503 || rc.errCode() != "state_unavailable" || rc.Header.Get("Retry-After") == "" {
			t.Errorf("fail_closed, server away: %d %s, want 503 state_unavailable", rc.Status, rc.Raw)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("two requests took %v with the server away", d)
		}
	}
	r := do(t, "GET", a.admin+"/readyz", "")
	sh, _ := r.Body["shared_state"].(map[string]any)
	if r.Status != 200 || sh["reachable"] != false || sh["mode"] != "degrade" || !strings.Contains(fmt.Sprint(r.Body["warning"]), "shared state unreachable") {
		t.Errorf("readyz, server away: %d %s", r.Status, r.Raw)
	}
	if m := do(t, "GET", a.admin+"/metrics", ""); !strings.Contains(m.Raw, `xunjian_shared_state_fallbacks_total{mode="degrade"}`) || !strings.Contains(m.Raw, "xunjian_shared_state_up 0") {
		t.Errorf("metrics lack the fallbacks or the down gauge")
	}

	// Back (empty: nothing persists): shared again, without a restart.
	srv.Restart()
	// Each gateway finds it back by itself (its probe, or its next draft
	// once the breaker lets one through).
	deadline := time.Now().Add(10 * time.Second)
	for _, g := range []*gw{a, b, closed} {
		for {
			r := do(t, "POST", g.agent+"/v1/check", fmt.Sprintf(draft, "back"))
			if r.Status == 200 && r.Body["degraded"] == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("not shared again 10s after the server came back: %d %s", r.Status, r.Raw)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	token, _ = do(t, "POST", b.agent+"/v1/check", fmt.Sprintf(confirm, "")).Body["ack"].(string)
	for i, g := range []*gw{a, closed} {
		r := do(t, "POST", g.agent+"/v1/check", fmt.Sprintf(confirm, `,"ack":"`+token+`"`))
		if wantCode := []string{"", "ack_used"}[i]; r.errCode() != wantCode {
			t.Errorf("after recovery, use %d of b's ack: %d %s, want %q", i+1, r.Status, r.Raw, wantCode)
		}
	}
	if r := do(t, "GET", a.admin+"/readyz", ""); r.Body["shared_state"].(map[string]any)["reachable"] != true {
		t.Errorf("readyz after recovery: %s", r.Raw)
	}
}
