package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/stream"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/rules"
)

const replayFixture = "../../gateway/replay/testdata/recorded.jsonl"

// impatientBundle writes the default bundle with tone.impatient blocking
// instead of warning, and returns its directory.
func impatientBundle(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := rules.WriteDefaultBundle(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "xunjian", "data.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(b), `"tone.impatient": "warn"`, `"tone.impatient": "block"`, 1)
	if changed == string(b) {
		t.Fatal("data.json has no tone.impatient action to change")
	}
	if err := os.WriteFile(path, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestReplayUsageErrors(t *testing.T) {
	t.Setenv("XJ_REPLAY_BAD_KEY", "not base64!")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no policy", []string{replayFixture}, "needs --policy"},
		{"no file", []string{"--policy", "x"}, "one FILE"},
		{"two files", []string{"--policy", "x", "a.jsonl", "b.jsonl"}, "one FILE"},
		{"unknown flag", []string{"--policy", "x", "--nope", replayFixture}, "flag provided but not defined"},
		{"bad fail-on", []string{"--policy", "x", "--fail-on", "stricter,worse", replayFixture}, `"worse"`},
		{"bad fail-on action", []string{"--policy", "x", "--fail-on", "allow->ban", replayFixture}, `unknown action "ban"`},
		{"negative show", []string{"--policy", "x", "--show", "-1", replayFixture}, "--show -1"},
		{"empty tenant", []string{"--policy", "x", "--tenant", "", replayFixture}, "--tenant"},
		{"bad key", []string{"--policy", "x", "--text-key-env", "XJ_REPLAY_BAD_KEY", replayFixture}, "$XJ_REPLAY_BAD_KEY"},
		{"opinion config missing", []string{"--policy", "x", "--opinion-config", "/nonexistent/gw.yaml", replayFixture}, "--opinion-config"},
		{"opinion off", []string{"--policy", "x", "--opinion-config", "../../docs/gateway.example.yaml", replayFixture}, "second_opinion.enabled is false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, err := runCLI(t, "", append([]string{"replay"}, tc.args...)...)
			if !errors.Is(err, errUsage) {
				t.Fatalf("err = %v, want a usage error", err)
			}
			if !strings.Contains(err.Error()+errOut, tc.want) {
				t.Errorf("err %q (stderr %q) lacks %q", err, errOut, tc.want)
			}
			if strings.Contains(err.Error()+errOut, "not base64!") {
				t.Errorf("the key leaked into %q", err.Error()+errOut)
			}
		})
	}
	out, _, err := runCLI(t, "", "help")
	if err != nil || !strings.Contains(out, "\n  replay ") {
		t.Errorf("help does not list replay (err %v):\n%s", err, out)
	}
}

func TestReplayCLI(t *testing.T) {
	bundle := impatientBundle(t)

	// No --fail-on: the report, exit 0.
	out, _, err := runCLI(t, "", "replay", "--policy", bundle, replayFixture)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	for _, want := range []string{"default-1 (built-in)", "warn    → block", "tone.impatient.block", "changed messages (first"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}

	// A gated transition: the report, then errReplayGated (exit 1, not 2).
	out, _, err = runCLI(t, "", "replay", replayFixture, "--policy", bundle, "--fail-on", "to-block")
	if !errors.Is(err, errReplayGated) || errors.Is(err, errUsage) {
		t.Errorf("fail-on to-block: err = %v, want errReplayGated", err)
	}
	if !strings.Contains(out, "fail-on to-block: FAILED") {
		t.Errorf("gated report:\n%s", out)
	}
	// A class the change does not trip: exit 0.
	if _, _, err := runCLI(t, "", "replay", "--policy", bundle, "--fail-on", "looser,allow->block", replayFixture); err != nil {
		t.Errorf("fail-on looser: err = %v, want nil", err)
	}

	// --json from stdin, with --baseline and --show 0.
	fixture, err := os.ReadFile(replayFixture)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err = runCLI(t, string(fixture), "replay", "--json", "--show", "0", "--baseline", bundle, "--policy", bundle, "--fail-on", "any", "-")
	if err != nil {
		t.Fatalf("same policy: %v", err)
	}
	var doc struct {
		Messages, Changed int
		Changes           []any
		New               struct{ Source string }
		Gate              struct{ Failed bool }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if doc.Messages != 29 || doc.Changed != 0 || len(doc.Changes) != 0 || doc.Gate.Failed || doc.New.Source != bundle {
		t.Errorf("--json same policy: %s", out)
	}

	// A bundle that does not load and a missing file are errors, not usage.
	for _, args := range [][]string{
		{"replay", "--policy", filepath.Join(t.TempDir(), "missing"), replayFixture},
		{"replay", "--policy", bundle, filepath.Join(t.TempDir(), "missing.jsonl")},
	} {
		if _, _, err := runCLI(t, "", args...); err == nil || errors.Is(err, errUsage) {
			t.Errorf("%q: err = %v, want a plain error", args, err)
		}
	}
}

// TestReplayEvents feeds the command an event as `xunjian tail --json`
// writes it, with its key in the environment variable --text-key-env names.
func TestReplayEvents(t *testing.T) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	key := base64.StdEncoding.EncodeToString(raw)
	enc, err := event.NewEncryptor(key, "k1")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := stream.NewEvent(stream.EventInput{
		Tenant: "t1", ConversationID: "c1", Role: "agent",
		Verdict: &inspect.Verdict{}, Raw: "As I said before, I already told you. Call 13812345678",
	}, enc)
	if err != nil {
		t.Fatal(err)
	}
	line, err := ev.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	bundle := impatientBundle(t)
	t.Setenv("XJ_REPLAY_KEY", key)
	args := []string{"replay", "--policy", bundle, "--text-key-env", "XJ_REPLAY_KEY", "--text-key-id", "k1", "--json", "-"}
	out, _, err := runCLI(t, string(line)+"\n", args...)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Replayed int
		Changes  []struct {
			ID, Tenant string
			TextMasked string `json:"text_masked"`
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Replayed != 1 || len(doc.Changes) != 1 || doc.Changes[0].ID != ev.EventID || doc.Changes[0].Tenant != "t1" {
		t.Errorf("event replay: %s", out)
	}
	if strings.Contains(out, "12345678") || !strings.Contains(doc.Changes[0].TextMasked, "As I said before") {
		t.Errorf("event replay text: %s", out)
	}
	// The wrong key id: skipped, with the reason.
	args[6] = "other"
	out, _, err = runCLI(t, string(line)+"\n", args...)
	if err != nil || !strings.Contains(out, `"reason": "key_id_mismatch"`) {
		t.Errorf("wrong key id: err %v\n%s", err, out)
	}
}

// TestReplayOpinion: --opinion-config asks the configured chat-completions
// server about the new version's verdicts, with the text masked, and the
// report counts the answers.
func TestReplayOpinion(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	llm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		asked = append(asked, string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"model":"local","choices":[{"message":{"role":"assistant","content":"{\"verdict\":\"ok\"}"}}]}`)
	}))
	defer llm.Close()
	cfg := filepath.Join(t.TempDir(), "gw.yaml")
	yaml := "second_opinion:\n  enabled: true\n  base_url: " + llm.URL + "/v1\n  model: local\n  grey_zone: {from: 0, to: 1}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	lines := `{"text":"这个问题我已经回答过三遍了，您的手机13812345678"}` + "\n" + `{"text":"您好，请问有什么可以帮您"}` + "\n"
	out, _, err := runCLI(t, lines, "replay", "--policy", impatientBundle(t), "--opinion-config", cfg, "-")
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	if !strings.Contains(out, "second opinions on the new version: asked 1, applied 0") || !regexp.MustCompile(`(?m)^  ok +1$`).MatchString(out) {
		t.Errorf("report:\n%s", out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 1 || strings.Contains(asked[0], "13812345678") {
		t.Errorf("asked %q: want one question, the phone masked", asked)
	}
}
