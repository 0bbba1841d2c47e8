package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/rules"
)

// startServer runs a gateway on loopback ports and returns the agent and
// admin base URLs; it stops when the test ends.
func startServer(t *testing.T, cfg Config) (agent, admin string) {
	t.Helper()
	p, err := rules.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	in, err := inspect.New(p, inspect.Options{})
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
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(cfg, in).ServeListeners(ctx, aln, dln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + aln.Addr().String(), "http://" + dln.Addr().String()
}

func post(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("reply is not JSON: %v", err)
	}
	return resp.StatusCode, out
}

func TestCheckOverHTTP(t *testing.T) {
	agent, admin := startServer(t, Config{MaxBodyBytes: 4096})
	tests := []struct {
		name, path, body string
		status           int
		action, errCode  string
	}{
		{"allow", "/v1/check", `{"text":"您好，请问有什么可以帮您？"}`, 200, "allow", ""},
		{"block", "/v1/check", `{"text":"加我微信 wxid_abc123 私聊","conversation_id":"c1","agent_id":"a1"}`, 200, "block", ""},
		{"redact", "/v1/check", `{"text":"您的手机 13812345678 已登记"}`, 200, "redact", ""},
		{"customer", "/v1/check", `{"text":"我要去12315投诉你们","role":"customer"}`, 200, "allow", ""},
		{"malformed json", "/v1/check", `{"text":`, 400, "", "invalid_json"},
		{"invalid utf8", "/v1/check", "{\"text\":\"a\xffb\"}", 400, "", "invalid_utf8"},
		{"missing text", "/v1/check", `{"role":"agent"}`, 400, "", "invalid_field"},
		{"empty text", "/v1/check", `{"text":""}`, 400, "", "invalid_field"},
		{"unknown role", "/v1/check", `{"text":"hi","role":"bot"}`, 400, "", "invalid_field"},
		{"too large", "/v1/check", `{"text":"` + strings.Repeat("x", 5000) + `"}`, 413, "", "body_too_large"},
		{"unknown route", "/v2/nothing", `{}`, 404, "", "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := post(t, agent+tt.path, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, out)
			}
			if tt.action != "" && out["action"] != tt.action {
				t.Errorf("action %v, want %s: %v", out["action"], tt.action, out)
			}
			if tt.errCode != "" {
				e, _ := out["error"].(map[string]any)
				if e == nil || e["code"] != tt.errCode || e["message"] == "" {
					t.Errorf("error %v, want code %s with a message", out["error"], tt.errCode)
				}
			}
		})
	}
	resp, err := http.Get(admin + "/v1/policy")
	if err != nil {
		t.Fatal(err)
	}
	var pol map[string]any
	json.NewDecoder(resp.Body).Decode(&pol)
	resp.Body.Close()
	if pol["revision"] == "" || pol["revision"] == nil {
		t.Errorf("/v1/policy = %v, want a revision", pol)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(admin + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s = %d", path, resp.StatusCode)
		}
	}
}

// TestCheckInlineContext sends a customer's escalations as inline context:
// the policy must see the conversation's risk and raise an alert.
func TestCheckInlineContext(t *testing.T) {
	agent, _ := startServer(t, Config{})
	now := time.Now().UTC()
	body, _ := json.Marshal(map[string]any{
		"text": "非常抱歉，我们马上处理", "conversation_id": "c2",
		"context": []map[string]any{
			{"role": "customer", "text": "再不退款我就去12315投诉", "ts": now.Add(-10 * time.Minute)},
			{"role": "customer", "text": "我已经找了律师，还要去消协曝光你们", "ts": now.Add(-5 * time.Minute)},
		},
	})
	status, out := post(t, agent+"/v1/check", string(body))
	if status != 200 {
		t.Fatalf("status %d: %v", status, out)
	}
	if alerts, _ := out["alerts"].([]any); len(alerts) == 0 {
		t.Errorf("no alerts for a conversation with two escalations: %v", out)
	}
}
