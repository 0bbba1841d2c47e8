package inspect

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzRunJSONL feeds arbitrary bytes as JSONL input: RunJSONL never panics,
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
	in := defaultInspector(f)
	f.Fuzz(func(t *testing.T, input string) {
		var out bytes.Buffer
		if err := in.RunJSONL(context.Background(), strings.NewReader(input), &out, time.Now); err != nil {
			t.Fatalf("RunJSONL: %v", err)
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
	in := defaultInspector(t)
	input := `{"id":1,"text":"ok","TEXT":"加我微信 wxid_abc123 私聊"}` + "\n" + `{"id":2,"text":"您好"}` + "\n"
	var out bytes.Buffer
	if err := in.RunJSONL(context.Background(), strings.NewReader(input), &out, time.Now); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"id":1,"error":{"code":"duplicate_key"`) || !strings.Contains(lines[1], `"action":"allow"`) {
		t.Errorf("output:\n%s\nwant line 1 refused as duplicate_key with its id, line 2 inspected", out.String())
	}
}
