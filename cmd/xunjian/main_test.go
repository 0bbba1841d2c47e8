package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestCheckText(t *testing.T) {
	out, _, err := runCLI(t, "", "check", "亲，加我V信 wxid_abc123 私聊")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"action:  block", "diversion.contact", "^^^"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, _, err = runCLI(t, "", "check", "您的手机 13812345678 已登记")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "action:  redact") || strings.Contains(out, "12345678") {
		t.Errorf("redact output must show the action and never the number:\n%s", out)
	}
	// The text may come on stdin.
	out, _, err = runCLI(t, "您好，请问有什么可以帮您？\n", "check")
	if err != nil || !strings.Contains(out, "action:  allow") {
		t.Errorf("check from stdin: %v\n%s", err, out)
	}
}

func TestCheckJSONLContract(t *testing.T) {
	in := `{"id":"a","text":"你是不是傻，看不懂字吗","conversation_id":"c1"}
{"id":"b","text":"ok","role":"nobody"}
{"id":"c","text":"Your order has shipped.","agent_id":"ag1"}
`
	out, _, err := runCLI(t, in, "check", "--jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 output lines, got %d:\n%s", len(lines), out)
	}
	want := []struct{ id, action, err string }{{"a", "block", ""}, {"b", "", "invalid_field"}, {"c", "allow", ""}}
	for i, l := range lines {
		var r struct {
			ID, Action, DecisionID, PolicyRevision string
			Findings                               []any
			Reasons                                []any
			LatencyUS                              *int64 `json:"latency_us"`
			Error                                  *struct{ Code, Message string }
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		var raw map[string]json.RawMessage
		json.Unmarshal([]byte(l), &raw)
		if r.ID != want[i].id {
			t.Errorf("line %d id %q, want %q", i, r.ID, want[i].id)
		}
		if want[i].err != "" {
			if r.Error == nil || r.Error.Code != want[i].err || r.Error.Message == "" {
				t.Errorf("line %d = %s, want error %s", i, l, want[i].err)
			}
			continue
		}
		for _, field := range []string{"decision_id", "action", "findings", "reasons", "policy_revision", "latency_us"} {
			if _, ok := raw[field]; !ok {
				t.Errorf("line %d lacks %s: %s", i, field, l)
			}
		}
		if r.Action != want[i].action {
			t.Errorf("line %d action %q, want %q", i, r.Action, want[i].action)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"check", "--nope"},
		{"check", "--jsonl", "text too"},
		{"check", ""},
		{"rules"},
		{"rules", "test"},
	} {
		_, _, err := runCLI(t, "", args...)
		if !errors.Is(err, errUsage) {
			t.Errorf("xunjian %q: err = %v, want a usage error", args, err)
		}
	}
}

func TestCheckPolicyFlag(t *testing.T) {
	if _, _, err := runCLI(t, "", "check", "--policy", filepath.Join(t.TempDir(), "missing"), "hi"); err == nil || errors.Is(err, errUsage) {
		t.Errorf("a missing bundle: err = %v, want a load error", err)
	}
	// A bundle whose policy does not compile fails with file and line.
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "xunjian"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "xunjian", "decision.rego"), []byte("package xunjian\n\ndecision := {\n"), 0o644)
	_, _, err := runCLI(t, "", "check", "--policy", dir, "hi")
	if err == nil || !strings.Contains(err.Error(), "decision.rego:") {
		t.Errorf("broken bundle: err = %v, want file and line", err)
	}
}

func TestRulesTest(t *testing.T) {
	out, _, err := runCLI(t, "", "rules", "test", "../../rules/bundle", "--coverage", "--threshold", "90")
	if err != nil {
		t.Fatalf("rules test on the default bundle: %v\n%s", err, out)
	}
	if !strings.Contains(out, "PASS") || !strings.Contains(out, "coverage:") {
		t.Errorf("output:\n%s", out)
	}
	_, _, err = runCLI(t, "", "rules", "test", "../../rules/testdata/failing_tests")
	if !errors.Is(err, errTestsFailed) {
		t.Errorf("failing tests: err = %v, want errTestsFailed", err)
	}
}
