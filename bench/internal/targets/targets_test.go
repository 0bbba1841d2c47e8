package targets

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/stream/spool"
	"github.com/xunjian/xunjian/rules"
)

// serve runs h on a loopback port until the test ends.
func serve(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newServer("test", h)
	go s.Serve(ln) //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() { _ = s.Shutdown() })
	return ln.Addr().String()
}

func post(t *testing.T, url string, body string, hdr map[string]string) (int, []byte, *fasthttp.ResponseHeader) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req.SetBodyString(body)
	if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	var h fasthttp.ResponseHeader
	resp.Header.CopyTo(&h)
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), &h
}

func TestUpstream(t *testing.T) {
	addr := serve(t, NewUpstream().Handle)
	for _, tc := range []struct {
		name   string
		method string
		body   string
		status int
		want   string
	}{
		{"message", "POST", `{"message":{"text":"hi"}}`, 200, `"status":"sent"`},
		{"no text", "POST", `{"message":{}}`, 400, `invalid_field`},
		{"GET", "GET", ``, 405, `method_not_allowed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, err := fasthttp.GetTimeout(nil, "http://"+addr+RoutePath, time.Second)
			if tc.method == "POST" {
				st, body, _ = post(t, "http://"+addr+RoutePath, tc.body, nil)
			} else if err != nil {
				t.Fatal(err)
			}
			if st != tc.status || !strings.Contains(string(body), tc.want) {
				t.Errorf("%d %s, want %d with %s", st, body, tc.status, tc.want)
			}
		})
	}
}

func TestPlainProxy(t *testing.T) {
	var mu sync.Mutex
	var seen []string // guarded by mu
	up := serve(t, func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		seen = append(seen, string(ctx.Path())+" "+string(ctx.PostBody())+" conn="+string(ctx.Request.Header.Peek("X-Hop")))
		mu.Unlock()
		ctx.SetStatusCode(201)
		ctx.SetBodyString("ok")
	})
	p := NewPlainProxy(up)
	defer p.Close()
	addr := serve(t, p.Handle)
	st, body, _ := post(t, "http://"+addr+"/a/b?x=1", `{"message":{"text":"hi"}}`, map[string]string{"Connection": "X-Hop", "X-Hop": "1"})
	if st != 201 || string(body) != "ok" {
		t.Errorf("%d %s, want the upstream's 201 ok", st, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || !strings.HasPrefix(seen[0], `/a/b {"message":{"text":"hi"}}`) {
		t.Errorf("upstream saw %q", seen)
	}

	dead := NewPlainProxy("127.0.0.1:1") // nothing listens on port 1
	defer dead.Close()
	addr = serve(t, dead.Handle)
	if st, body, _ := post(t, "http://"+addr+"/", `{}`, nil); st != 502 || !strings.Contains(string(body), "upstream_unavailable") {
		t.Errorf("dead upstream: %d %s, want 502 upstream_unavailable", st, body)
	}
}

// fakeOPA answers OPA's data API like the default policy would in
// outline: block on tone or diversion, redact on privacy, else allow. It
// records each input.
type fakeOPA struct {
	mu     sync.Mutex
	inputs []rules.Input // guarded by mu
}

func (f *fakeOPA) handle(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) != decisionPath {
		ctx.SetStatusCode(404)
		return
	}
	var req struct{ Input rules.Input }
	if err := json.Unmarshal(ctx.PostBody(), &req); err != nil {
		ctx.SetStatusCode(400)
		return
	}
	f.mu.Lock()
	f.inputs = append(f.inputs, req.Input)
	f.mu.Unlock()
	action := "allow"
	for _, fd := range req.Input.Findings {
		switch {
		case fd.Detector == "tone" || fd.Detector == "diversion":
			action = "block"
		case fd.Detector == "privacy" && action == "allow":
			action = "redact"
		}
	}
	ctx.SetContentType("application/json")
	ctx.SetBodyString(`{"result":{"action":"` + action + `","reasons":[],"alerts":[],"sample":false}}`)
}

func TestSidecar(t *testing.T) {
	var mu sync.Mutex
	var got []string // bodies the upstream received; guarded by mu
	up := serve(t, func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		got = append(got, string(ctx.PostBody()))
		mu.Unlock()
		ctx.SetBodyString(`{"status":"sent"}`)
	})
	opa := &fakeOPA{}
	opaAddr := serve(t, opa.handle)
	bundle := filepath.Join(t.TempDir(), "bundle")
	if err := rules.WriteDefaultBundle(bundle); err != nil {
		t.Fatal(err)
	}
	s, err := NewSidecar(context.Background(), SidecarConfig{Upstream: up, OPA: opaAddr, Bundle: bundle})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr := serve(t, s.Handle)
	body := func(text string) string {
		b, _ := json.Marshal(map[string]any{"conversation_id": "c1", "agent_id": "a1", "role": "agent", "message": map[string]string{"text": text}})
		return string(b)
	}
	for _, tc := range []struct {
		name     string
		text     string
		status   int
		upstream string // in what the upstream received; "" when it must receive nothing
	}{
		{"allow", "好的，已经为您登记了", 200, "已经为您登记了"},
		{"redact", "您的手机 138 1234 5678 已登记", 200, "138 **** 5678"},
		{"block", "亲，加我V信 wxid_abc123 私聊", 422, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			before := len(got)
			mu.Unlock()
			st, rb, _ := post(t, "http://"+addr+RoutePath, body(tc.text), nil)
			if st != tc.status {
				t.Fatalf("status %d (%s), want %d", st, rb, tc.status)
			}
			mu.Lock()
			defer mu.Unlock()
			if tc.upstream == "" {
				if len(got) != before {
					t.Errorf("upstream received a stopped draft: %s", got[len(got)-1])
				}
				if !strings.Contains(string(rb), `"action":"block"`) {
					t.Errorf("verdict %s", rb)
				}
				return
			}
			if len(got) != before+1 || !strings.Contains(got[len(got)-1], tc.upstream) {
				t.Errorf("upstream received %q, want %q in it", got[before:], tc.upstream)
			}
		})
	}
	opa.mu.Lock()
	if len(opa.inputs) != 3 {
		opa.mu.Unlock()
		t.Fatalf("OPA asked %d times, want 3", len(opa.inputs))
	}
	in := opa.inputs[1]
	if in.Draft.Lang != "zh" || in.Draft.Role != "agent" || in.Draft.Normalized == "" || in.Conversation.ID != "c1" || in.Agent.ID != "a1" {
		t.Errorf("input %+v", in)
	}
	if in.Conversation.Turns != 2 {
		t.Errorf("turns %d on the second message, want 2", in.Conversation.Turns)
	}
	if len(in.Findings) == 0 || in.Findings[0].Kind != "phone" || in.Findings[0].Severity == "" {
		t.Errorf("findings %+v", in.Findings)
	}
	opa.mu.Unlock()

	// A bad body never reaches OPA.
	if st, _, _ := post(t, "http://"+addr+RoutePath, `{"message":{}}`, nil); st != 400 {
		t.Errorf("missing text: %d, want 400", st)
	}
	if st, _, _ := post(t, "http://"+addr+RoutePath, `{"role":"admin","message":{"text":"hi"}}`, nil); st != 400 {
		t.Errorf("unknown role: %d, want 400", st)
	}

	// A customer message is inspected as the customer's: its complaint
	// raises the conversation's risk, which the agent's next draft carries.
	customer, _ := json.Marshal(map[string]any{"conversation_id": "c2", "agent_id": "a1", "role": "customer", "message": map[string]string{"text": "再不处理我就打12315投诉"}})
	if st, rb, _ := post(t, "http://"+addr+RoutePath, string(customer), nil); st != 200 {
		t.Fatalf("customer message: %d %s", st, rb)
	}
	agent, _ := json.Marshal(map[string]any{"conversation_id": "c2", "agent_id": "a1", "role": "agent", "message": map[string]string{"text": "非常抱歉，马上为您处理"}})
	if st, rb, _ := post(t, "http://"+addr+RoutePath, string(agent), nil); st != 200 {
		t.Fatalf("agent answer: %d %s", st, rb)
	}
	opa.mu.Lock()
	defer opa.mu.Unlock()
	c, a := opa.inputs[len(opa.inputs)-2], opa.inputs[len(opa.inputs)-1]
	if c.Draft.Role != "customer" || c.Conversation.Risk <= 0 {
		t.Errorf("customer input: role %q, risk %v", c.Draft.Role, c.Conversation.Risk)
	}
	if a.Draft.Role != "agent" || a.Conversation.Risk != c.Conversation.Risk || a.Conversation.Turns != 2 {
		t.Errorf("agent input after the complaint: role %q, risk %v, turns %d", a.Draft.Role, a.Conversation.Risk, a.Conversation.Turns)
	}
}

// TestStopKillsGroup checks that Stop ends a child's own children too.
func TestStopKillsGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "grandchild")
	p, _, err := Start(context.Background(), Spec{
		Name: "sh", LogDir: dir,
		Argv: []string{"sh", "-c", "sleep 300 & echo $! > " + pidFile + "; wait"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			break
		}
	}
	if pid == 0 {
		p.Stop()
		t.Fatal("no grandchild pid")
	}
	p.Stop()
	p.Stop() // idempotent
	if done, _ := p.Exited(); !done {
		t.Error("child still running after Stop")
	}
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if err := syscall.Kill(pid, 0); err != nil {
			break // gone
		}
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d outlived Stop", pid)
		}
	}
}

func TestStartReportsEarlyExit(t *testing.T) {
	dir := t.TempDir()
	_, _, err := Start(context.Background(), Spec{Name: "false", LogDir: dir, Handshake: true, Argv: []string{"sh", "-c", "echo boom >&2; exit 3"}})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("error %v, want the child's log in it", err)
	}
}

// TestGatewayConfig checks the generated YAML against the gateway's own
// configuration loader (which rejects unknown fields).
func TestGatewayConfig(t *testing.T) {
	for _, noCache := range []bool{false, true} {
		noStream := noCache
		external := "" // embedded broker with cache on, an external one with cache off
		if noCache {
			external = "127.0.0.1:19094"
		}
		path := filepath.Join(t.TempDir(), "gw.yaml")
		y := gatewayConfig("127.0.0.1:18080", "127.0.0.1:18081", brokerLine(external, "127.0.0.1:19093"), "127.0.0.1:9000", t.TempDir(), noCache, noStream, time.Duration(b2i(noCache))*time.Second)
		if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := config.Load(path, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Routes) != 1 || c.Routes[0].Path != RoutePath || c.Routes[0].Upstream != "http://127.0.0.1:9000" ||
			c.Routes[0].Text != "/message/text" || c.Limits.AgentRate != 0 || c.Cache.Disabled != noCache ||
			(external == "" && c.Stream.EmbeddedBroker != "127.0.0.1:19093") || c.Stream.Disabled != noStream ||
			(noCache && c.Limits.InspectTimeout.D() != time.Second) || (!noCache && c.Limits.InspectTimeout.D() != 50*time.Millisecond) || c.Stream.Spool.Fsync != spool.FsyncInterval ||
			(external == "" && len(c.Stream.Brokers) != 0) || (external != "" && (len(c.Stream.Brokers) != 1 || c.Stream.Brokers[0] != external)) {
			t.Errorf("config %+v", c)
		}
		if !slices.Equal(c.Routes[0].Roles, []string{"agent", "customer"}) || c.Routes[0].Role != "/role" {
			t.Errorf("route roles %v, role pointer %q: want agent and customer", c.Routes[0].Roles, c.Routes[0].Role)
		}
	}
}

func TestCPUList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		out  string
	}{
		{"0", []int{0}, "0"}, {"0-3", []int{0, 1, 2, 3}, "0-3"}, {"0-1,4,6-7", []int{0, 1, 4, 6, 7}, "0-1,4,6-7"}, {" 3,1,2 ", []int{1, 2, 3}, "1-3"},
	} {
		got, err := ParseCPUList(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseCPUList(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if s := FormatCPUList(got); s != tc.out {
			t.Errorf("FormatCPUList(%v) = %q, want %q", got, s, tc.out)
		}
	}
	for _, bad := range []string{"", "a", "3-1", "-2"} {
		if _, err := ParseCPUList(bad); err == nil {
			t.Errorf("ParseCPUList(%q) accepted", bad)
		}
	}
	for _, tc := range []struct {
		allowed      []int
		load, target string
	}{{[]int{0, 1}, "0", "1"}, {[]int{0, 1, 2, 3}, "0-1", "2-3"}, {[]int{2, 5, 7}, "2", "5,7"}} {
		l, tg, err := SplitCPUs(tc.allowed)
		if err != nil || FormatCPUList(l) != tc.load || FormatCPUList(tg) != tc.target {
			t.Errorf("SplitCPUs(%v) = %v, %v, %v", tc.allowed, l, tg, err)
		}
	}
	if _, _, err := SplitCPUs([]int{0}); err == nil {
		t.Error("one CPU split")
	}
}

// TestStartPinned checks that Spec.CPUs pins the child (taskset -c), where
// the machine allows it.
func TestStartPinned(t *testing.T) {
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Skip("no taskset on this machine")
	}
	allowed, err := AllowedCPUs()
	if err != nil {
		t.Skip(err)
	}
	cpu := FormatCPUList(allowed[len(allowed)-1:])
	dir := t.TempDir()
	p, _, err := Start(context.Background(), Spec{Name: "pinned", LogDir: dir, CPUs: cpu, Argv: []string{"sh", "-c", "grep Cpus_allowed_list /proc/self/status"}})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if done, _ := p.Exited(); done {
			break
		}
		if time.Now().After(deadline) {
			p.Stop()
			t.Fatal("child did not exit")
		}
	}
	if log := p.LogTail(5); !strings.Contains(log, "Cpus_allowed_list:\t"+cpu) {
		t.Errorf("child's affinity: %q, want %s", log, cpu)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
