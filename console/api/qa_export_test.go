package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/replay"
	"github.com/xunjian/xunjian/rules"
)

// runReplay runs exported JSON lines through `xunjian replay`'s engine
// with the built-in bundle on both sides, as tenant acme (check-format
// lines carry no tenant), and wants every line replayed.
func runReplay(t *testing.T, lines []byte, want int) {
	t.Helper()
	ctx := context.Background()
	p, err := rules.Load(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	in, err := inspect.New(p, inspect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	rep, err := replay.Run(ctx, bytes.NewReader(lines), in, in, replay.Options{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Messages != want || rep.Replayed != want || rep.Skipped != 0 {
		t.Errorf("replay: %d messages, %d replayed, %d skipped (%+v); want %d replayed", rep.Messages, rep.Replayed, rep.Skipped, rep.SkipReasons, want)
	}
}

// runBundleTests writes the default bundle to a directory, its data
// changed by edit (when set), puts the exported Rego file beside it, runs
// the bundle's tests as `xunjian rules test` does and returns whether each
// test passed, by name.
func runBundleTests(t *testing.T, exported []byte, edit func(data map[string]any)) map[string]bool {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := rules.WriteDefaultBundle(dir); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		path := filepath.Join(dir, "xunjian", "data.json")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var data map[string]any
		if err := json.Unmarshal(b, &data); err != nil {
			t.Fatal(err)
		}
		edit(data)
		if b, err = json.Marshal(data); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "qa"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "qa", "xunjian_qa_test.rego"), exported, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := rules.RunTests(context.Background(), dir, rules.TestOptions{})
	if err != nil {
		t.Fatalf("rules test: %v\n%s", err, exported)
	}
	out := map[string]bool{}
	for _, r := range rep.Results {
		if r.Error != "" {
			t.Errorf("%s.%s: %s", r.Package, r.Name, r.Error)
		}
		out[r.Name] = r.Pass
	}
	return out
}
