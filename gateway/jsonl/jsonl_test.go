package jsonl

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/inspect/inspecttest"
)

// FuzzRunJSONL feeds arbitrary bytes as JSONL input: Run never panics,
// answers every non-blank line with exactly one JSON object, and echoes no
// invalid UTF-8.
func FuzzRunJSONL(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"text":"加我微信 wxid_abc123"}`,
		`{"text":"hi","role":"customer","conversation_id":"c"}` + "\n" + `{"text":"12315","role":"customer","conversation_id":"c"}`,
		`not json`, "{\"text\":\"\xff\"}", `{"id":{"nested":[1,2]},"text":""}`, `{"text":null}`, "\n\n",
	} {
		f.Add(s)
	}
	in := inspecttest.Default(f)
	f.Fuzz(func(t *testing.T, input string) {
		var out bytes.Buffer
		if err := Run(context.Background(), in, strings.NewReader(input), &out, time.Now); err != nil {
			t.Fatalf("Run: %v", err)
		}
		want := 0
		for _, l := range strings.Split(input, "\n") {
			if strings.TrimSpace(strings.TrimRight(l, "\r")) != "" {
				want++
			}
		}
		got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if out.Len() == 0 {
			got = nil
		}
		if len(got) != want {
			t.Fatalf("%d non-blank input lines, %d output lines:\n%s", want, len(got), out.String())
		}
		for _, l := range got {
			if !json.Valid([]byte(l)) {
				t.Fatalf("output line is not JSON: %q", l)
			}
		}
	})
}

// TestJSONLDuplicateKeys: a line naming a key twice, or twice but for
// case, is refused with its id, as the HTTP endpoints refuse such bodies.
func TestJSONLDuplicateKeys(t *testing.T) {
	in := inspecttest.Default(t)
	input := `{"id":1,"text":"ok","TEXT":"加我微信 wxid_abc123 私聊"}` + "\n" + `{"id":2,"text":"您好"}` + "\n"
	var out bytes.Buffer
	if err := Run(context.Background(), in, strings.NewReader(input), &out, time.Now); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"id":1,"error":{"code":"duplicate_key"`) || !strings.Contains(lines[1], `"action":"allow"`) {
		t.Errorf("output:\n%s\nwant line 1 refused as duplicate_key with its id, line 2 inspected", out.String())
	}
}

// TestJSONLErrorLinesKeepTheirID: whatever is wrong with a line, its error
// object carries the line's id when the line shows one before the damage,
// and the code is the one the HTTP endpoints answer for the same problem.
func TestJSONLErrorLinesKeepTheirID(t *testing.T) {
	in := inspecttest.Default(t)
	tests := []struct {
		name, line string
		id         string // the raw id wanted on the error line; "" for none
		code       string
	}{
		{"cut short", `{"id":"msg-17","text":"您好，请问`, `"msg-17"`, "invalid_json"},
		{"garbage after the id", `{"id":18, "text": 您好}`, `18`, "invalid_json"},
		{"not json at all", `您好`, ``, "invalid_json"},
		{"text is a number", `{"id":19,"text":12345}`, `19`, "invalid_field"},
		{"role is an array", `{"id":"r","text":"hi","role":["agent"]}`, `"r"`, "invalid_field"},
		{"ts not a time", `{"id":20,"text":"hi","ts":"yesterday"}`, `20`, "invalid_field"},
		{"invalid utf-8", "{\"id\":21,\"text\":\"bad \xff\"}", `21`, "invalid_utf8"},
		{"id itself invalid utf-8", "{\"id\":\"\xff\",\"text\":\"x\"}", ``, "invalid_utf8"},
		{"too long", `{"id":22,"text":"` + strings.Repeat("长", MaxLineBytes/3+1) + `"}`, `22`, "body_too_large"},
		{"too long, id last", `{"text":"` + strings.Repeat("x", MaxLineBytes) + `","id":23}`, ``, "body_too_large"},
		{"object id is not echoed from a broken line", `{"id":{"a":1},"text":`, ``, "invalid_json"},
		{"missing text", `{"id":24}`, `24`, "invalid_field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Run(context.Background(), in, strings.NewReader(tt.line+"\n"), &out, time.Now); err != nil {
				t.Fatal(err)
			}
			var r struct {
				ID    json.RawMessage `json:"id"`
				Error *LineError      `json:"error"`
			}
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatalf("output %q: %v", out.String(), err)
			}
			if r.Error == nil || r.Error.Code != tt.code || r.Error.Message == "" {
				t.Fatalf("output %s, want error %s with a message", out.String(), tt.code)
			}
			if string(r.ID) != tt.id {
				t.Errorf("error line id %s, want %q", r.ID, tt.id)
			}
			if strings.Contains(r.Error.Message, "您好") || strings.Contains(r.Error.Message, "12345") {
				t.Errorf("error message quotes the input: %s", r.Error.Message)
			}
		})
	}
}

func TestRunJSONL(t *testing.T) {
	in := inspecttest.Default(t)
	input := strings.Join([]string{
		`{"id": 1, "text": "您好，请问有什么可以帮您？", "conversation_id": "a"}`,
		`{"id": "two", "text": "加我微信 wxid_abc123", "role": "agent", "conversation_id": "a"}`,
		`{"id": 3, "text": ""}`,
		`{"id": 4, "text": "hi", "role": "robot"}`,
		`{"id": 5}`,
		`not json`,
		"{\"id\": 7, \"text\": \"bad \xff utf8\"}",
		`{"id": 8, "text": "` + strings.Repeat("x", MaxLineBytes) + `"}`,
		``,
		`{"id": 9, "text": "你们再不退款我就去12315投诉", "role": "customer", "conversation_id": "b"}`,
		`{"id": 10, "text": "我要找律师起诉你们，还要曝光", "role": "customer", "conversation_id": "b"}`,
	}, "\n")
	var out bytes.Buffer
	if err := Run(context.Background(), in, strings.NewReader(input), &out, time.Now); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 10 {
		t.Fatalf("got %d output lines, want 10:\n%s", len(lines), out.String())
	}
	type result struct {
		ID     json.RawMessage `json:"id"`
		Action string          `json:"action"`
		Error  *LineError      `json:"error"`
		Rev    string          `json:"policy_revision"`
	}
	wantErr := map[int]string{2: "invalid_field", 3: "invalid_field", 4: "invalid_field", 5: "invalid_json", 6: "invalid_utf8", 7: "body_too_large"}
	wantAction := map[int]string{0: "allow", 1: "block", 8: "allow", 9: "allow"}
	for i, l := range lines {
		var r result
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
		if code, ok := wantErr[i]; ok {
			if r.Error == nil || r.Error.Code != code {
				t.Errorf("line %d = %s, want error %s", i, l, code)
			}
			continue
		}
		if r.Error != nil || r.Action != wantAction[i] || r.Rev == "" {
			t.Errorf("line %d = %s, want action %s", i, l, wantAction[i])
		}
	}
	if !strings.HasPrefix(lines[1], `{"id":"two",`) || !strings.HasPrefix(lines[0], `{"id":1,`) {
		t.Errorf("ids not echoed first as given: %s / %s", lines[0], lines[1])
	}
	// Conversation b escalates twice: its second line carries the risk.
	if !strings.Contains(lines[9], `"complaint"`) || !strings.Contains(lines[9], `"alerts"`) {
		t.Errorf("second escalation of one conversation lacks complaint findings or alerts: %s", lines[9])
	}
}
