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
	"time"

	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/rules"
)

// TestAuthoringWalkthrough follows docs/authoring.md step by step with the
// files of docs/example-rule, so the walkthrough keeps working.
func TestAuthoringWalkthrough(t *testing.T) {
	bundle := copyTree(t, "../../rules/bundle")
	if err := os.CopyFS(bundle, os.DirFS("../../docs/example-rule/bundle")); err != nil {
		t.Fatal(err)
	}
	traffic := "../../docs/example-rule/traffic.jsonl"
	earlyReceipt := map[string]bool{"2": true, "3": true, "7": true} // the drafts that ask for it

	// 1. The lexicon entry finds it; commitment.compensation is held.
	out, _, err := runCLI(t, "", "check", "--policy", bundle, "您先确认收货，我这边马上给您退款")
	if err != nil || !strings.Contains(out, "action:  confirm") || !strings.Contains(out, "commitment.compensation") {
		t.Fatalf("step 1, check: %v\n%s", err, out)
	}
	// 2–3. Formatted, compiles, tests pass.
	if out, _, err := runCLI(t, "", "rules", "fmt", "-l", bundle); err != nil || out != "" {
		t.Fatalf("step 3, rules fmt -l: %v %q", err, out)
	}
	if out, _, err := runCLI(t, "", "rules", "check", bundle); err != nil || !strings.HasPrefix(out, "ok ") {
		t.Fatalf("step 3, rules check: %v\n%s", err, out)
	}
	if _, _, err := runCLI(t, "", "rules", "test", bundle, "--coverage", "--threshold", "90"); err != nil {
		t.Fatalf("step 3, rules test: %v", err)
	}
	// 4. Replay: the lexicon entry moves exactly the early-receipt drafts
	// from allow to confirm; the shadow rule moves nothing.
	checkReplay(t, bundle, traffic, earlyReceipt, "confirm")
	// 5. Shadow: the rule's would-be block is in the verdict's shadow (which
	// the gateway puts in events and the metric), and the action stays.
	v := inspectWith(t, bundle, "您先确认收货，我这边马上给您退款")
	if v.Action != rules.Confirm || len(v.Shadow) != 1 || v.Shadow[0].Rule != "commitment.early_receipt.block" || v.Shadow[0].Action != rules.Block {
		t.Fatalf("step 5, shadow: action %v shadow %+v", v.Action, v.Shadow)
	}
	// 6. Enforce: one package line; the drafts are now blocked.
	rego := filepath.Join(bundle, "xunjian", "early_receipt.rego")
	src, err := os.ReadFile(rego)
	if err != nil {
		t.Fatal(err)
	}
	enforced := bytes.Replace(src, []byte("\npackage xunjian.shadow\n"), []byte("\npackage xunjian.custom\n"), 1)
	if bytes.Equal(enforced, src) {
		t.Fatal("step 6: early_receipt.rego has no 'package xunjian.shadow' line to change")
	}
	if err := os.WriteFile(rego, enforced, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _, err := runCLI(t, "", "rules", "check", bundle); err != nil {
		t.Fatalf("step 6, rules check: %v\n%s", err, out)
	}
	checkReplay(t, bundle, traffic, earlyReceipt, "block")
	if v := inspectWith(t, bundle, "Please confirm receipt first, then I will refund you."); v.Action != rules.Block || len(v.Shadow) != 0 {
		t.Fatalf("step 6, enforced: action %v shadow %+v", v.Action, v.Shadow)
	}
	if _, _, err := runCLI(t, "", "replay", "--policy", bundle, "--baseline", "../../rules/bundle", "--fail-on", "looser", traffic); err != nil {
		t.Errorf("step 6, --fail-on looser: %v, want no gated change", err)
	}
	if _, _, err := runCLI(t, "", "replay", "--policy", bundle, "--baseline", "../../rules/bundle", "--fail-on", "stricter", traffic); !errors.Is(err, errReplayGated) {
		t.Errorf("step 6, --fail-on stricter: %v, want the gate to trip", err)
	}
}

// checkReplay replays traffic and wants exactly the ids in changed moved
// from allow to action, everything else unchanged.
func checkReplay(t *testing.T, bundle, traffic string, changed map[string]bool, action string) {
	t.Helper()
	out, _, err := runCLI(t, "", "replay", "--policy", bundle, "--baseline", "../../rules/bundle", "--json", traffic)
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	var rep struct {
		Changes []struct {
			ID       string `json:"id"`
			Baseline struct {
				Action string `json:"action"`
			} `json:"baseline"`
			New struct {
				Action string `json:"action"`
			} `json:"new"`
		} `json:"changes"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("replay --json: %v\n%s", err, out)
	}
	got := map[string]bool{}
	for _, c := range rep.Changes {
		got[c.ID] = true
		if !changed[c.ID] || c.Baseline.Action != "allow" || c.New.Action != action {
			t.Errorf("replay: message %s went %s → %s; want only %v, allow → %s", c.ID, c.Baseline.Action, c.New.Action, changed, action)
		}
	}
	if len(got) != len(changed) {
		t.Errorf("replay changed %v, want %v", got, changed)
	}
}

func inspectWith(t *testing.T, bundle, text string) inspect.Verdict {
	t.Helper()
	p, err := rules.Load(context.Background(), bundle)
	if err != nil {
		t.Fatal(err)
	}
	in, err := inspect.New(p, inspect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	v, _, err := in.Inspect(context.Background(), inspect.Request{Text: text}, inspect.Conversation{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return v
}
