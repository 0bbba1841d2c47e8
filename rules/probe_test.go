package rules

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/detectors/registry"
)

// overlay copies the default bundle into a temporary directory and the
// files of testdata/probe_reach/name over it, and returns the directory.
func overlay(t *testing.T, name string) string {
	t.Helper()
	if name == "" {
		return overlayDir(t, "")
	}
	return overlayDir(t, filepath.Join("testdata", "probe_reach", name))
}

// overlayDir is overlay for the files of any directory ("": none).
func overlayDir(t *testing.T, from string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("bundle")); err != nil {
		t.Fatal(err)
	}
	if from != "" {
		if err := os.CopyFS(dir, os.DirFS(from)); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(dir, "README.md"))
	}
	return dir
}

// TestTaxonomyMatchesDetectors: the probes' taxonomy is the detectors'
// one, so that a kind added to a detector without a probe fails here.
func TestTaxonomyMatchesDetectors(t *testing.T) {
	var want []string
	for _, fam := range registry.Families() {
		for _, k := range fam.Kinds {
			want = append(want, fam.Name+"."+k)
		}
	}
	got := taxonomy()
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("taxonomy() = %v\ndetectors' taxonomy = %v", got, want)
	}
}

// TestProbesCoverTaxonomy: for every kind of the detectors' taxonomy and
// every severity, each role has a probe with that finding alone; each role
// has probes with every kind at once, with none, and in calm and heated
// conversations (risk and wait over the default thresholds, escalations).
func TestProbesCoverTaxonomy(t *testing.T) {
	p, err := Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	probes := Probes(p)
	type single struct{ role, kind, sev string }
	singles := map[single]bool{}
	type state struct {
		role           string
		heated, calm   bool
		every, nothing bool
	}
	var states []state
	for _, in := range probes {
		if len(in.Findings) == 1 {
			f := in.Findings[0]
			singles[single{in.Draft.Role, f.Detector + "." + f.Kind, f.Severity}] = true
		}
		c := in.Conversation
		states = append(states, state{
			role:    in.Draft.Role,
			heated:  c.Risk >= 0.9 && c.WaitSeconds >= 600 && c.CustomerEscalations >= 2,
			calm:    c.Risk < 0.2 && c.WaitSeconds < 30 && c.CustomerEscalations == 0,
			every:   len(in.Findings) >= len(taxonomy()),
			nothing: len(in.Findings) == 0,
		})
	}
	for _, fam := range registry.Families() {
		for _, k := range fam.Kinds {
			for _, role := range []string{"agent", "customer"} {
				for _, sev := range []string{"info", "low", "medium", "high", "critical"} {
					if !singles[single{role, fam.Name + "." + k, sev}] {
						t.Errorf("no %s probe with a lone %s.%s finding of severity %s", role, fam.Name, k, sev)
					}
				}
			}
		}
	}
	for _, role := range []string{"agent", "customer"} {
		for _, want := range []state{
			{role: role, heated: true, every: true}, {role: role, calm: true, every: true},
			{role: role, heated: true, nothing: true}, {role: role, calm: true, nothing: true},
		} {
			if !slices.Contains(states, want) {
				t.Errorf("no probe %+v", want)
			}
		}
	}
	// A fresh set on each call: a caller may append to it or modify it.
	probes[0].Draft.Role = "changed"
	if Probes(p)[0].Draft.Role == "changed" {
		t.Error("Probes returned shared inputs")
	}
}

// TestProbesFromBundleData: the lexicon entries and tenants a bundle
// configures are probed too, so rules matching on them are reached.
func TestProbesFromBundleData(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		overlay string
		match   func(*Input) bool
	}{
		{"lexicon", func(in *Input) bool {
			return len(in.Findings) == 1 && in.Findings[0].Lexicon == "commitment.early_receipt" &&
				in.Findings[0].Detector == "commitment" && in.Findings[0].Kind == "compensation"
		}},
		{"tenant", func(in *Input) bool { return in.Tenant.ID == "acme" && in.Conversation.CustomerEscalations >= 2 }},
	} {
		t.Run(tc.overlay, func(t *testing.T) {
			p, err := Load(ctx, overlay(t, tc.overlay))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if !slices.ContainsFunc(Probes(p), tc.match) {
				t.Errorf("no probe reaches the %s overlay's rule", tc.overlay)
			}
		})
	}
}

// TestCheckProbes: Check, with no option, refuses a bundle one of whose
// rules makes an invalid decision on some probe (a typo in a custom or
// shadow rule's action, a bad field in a tenant's rule) with the rule and
// its file:line, and passes the default bundle and the valid fixtures.
func TestCheckProbes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		path string
		want []string // the one problem's String() holds these, in order; none: OK
	}{
		{name: "default", path: "bundle"},
		{name: "embedded", path: ""},
		{name: "authoring example", path: overlayDir(t, "../docs/example-rule/bundle")},
		{name: "typo in a custom rule", path: "testdata/typo_action", want: []string{
			"xunjian/typo.rego:5: invalid_decision: reasons[",
			`].action (rule diversion.payment.typo): "blok" is not an action (want allow, warn, redact, confirm or block), on probe input `}},
		{name: "typo in the decision", path: "testdata/bad_action", want: []string{
			`xunjian/decision.rego:3: invalid_decision: action: "explode" is not an action`}},
		{name: "typo in a lexicon rule", path: overlay(t, "lexicon"), want: []string{
			"xunjian/early_receipt.rego:5: invalid_decision: reasons[",
			`].action (rule commitment.early_receipt.block): "blok" is not an action`,
			"commitment.compensation medium lexicon commitment.early_receipt)"}},
		{name: "typo in a shadow rule", path: overlay(t, "shadow"), want: []string{
			`xunjian/refund_promise.rego:5: invalid_decision: shadow[0].action (rule commitment.refund_promise.block): "Block" is not an action`}},
		{name: "bad field in a tenant rule", path: overlay(t, "tenant"), want: []string{
			"xunjian/vip.rego:6: invalid_decision: reasons[",
			"].finding (rule acme.vip_escalation.confirm): not a number", "agent, tenant acme, "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Check(ctx, tc.path, CheckOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.want) == 0 {
				if !r.OK() {
					t.Fatalf("problems: %v", r.Problems)
				}
				return
			}
			if len(r.Problems) != 1 {
				t.Fatalf("problems %v, want one", r.Problems)
			}
			p := r.Problems[0]
			got, at := p.String(), 0
			for _, w := range tc.want {
				i := strings.Index(got[at:], w)
				if i < 0 || (at == 0 && i != 0) {
					t.Fatalf("problem\n %s\nwant it to hold, in order (the first at the start)\n %q", got, tc.want)
				}
				at += i + len(w)
			}
			if p.Code != CodeInvalidDecision {
				t.Errorf("code %s", p.Code)
			}
		})
	}
}

// TestReloadRefusesInvalidDecisions: a Reloader with no option refuses
// each invalid version, the last good one keeps serving, and a valid one
// after them is taken.
func TestReloadRefusesInvalidDecisions(t *testing.T) {
	ctx := context.Background()
	dir := overlay(t, "")
	r := newReloader(t, mustSource(t, dir, SourceOptions{}), testOptions{})
	good := current(r).Revision()
	for _, name := range []string{"lexicon", "shadow", "tenant"} {
		src := filepath.Join("testdata", "probe_reach", name)
		if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(dir, "README.md"))
		changed, err := r.Reload(ctx)
		var rerr *ReloadError
		if changed || !errors.As(err, &rerr) || rerr.Stage != StageDecision || !errors.Is(err, ErrInvalidDecision) ||
			len(rerr.Problems) != 1 || rerr.Problems[0].Code != CodeInvalidDecision {
			t.Fatalf("%s: Reload = %v, %v; want refused at stage decision", name, changed, err)
		}
		if !strings.Contains(rerr.Message, "refused at decision: xunjian/") {
			t.Errorf("%s: message %q does not locate the rule", name, rerr.Message)
		}
		if got := current(r).Revision(); got != good {
			t.Fatalf("%s: serving %s after the refusal, want %s", name, got, good)
		}
		if st := r.Status(); st.Refused == nil || st.Refused.Stage != StageDecision {
			t.Errorf("%s: status %+v", name, st.Refused)
		}
		d, err := current(r).Decide(ctx, agentInput(finding("diversion", "payment", "high")))
		if err != nil || d.Action != Block {
			t.Errorf("%s: last good version decides %+v, %v", name, d, err)
		}
		// Undo the overlay: the next one is tried on the good bundle.
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(dir, os.DirFS("bundle")); err != nil {
			t.Fatal(err)
		}
	}
	// A valid change after the refusals is taken.
	if err := os.WriteFile(filepath.Join(dir, "xunjian", "extra.rego"), []byte("package xunjian.custom\n\nreasons contains {\"rule\": \"x.ok\", \"action\": \"warn\", \"message\": \"m\"} if input.draft.lang == \"never\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, err := r.Reload(ctx); !changed || err != nil {
		t.Errorf("valid version: Reload = %v, %v", changed, err)
	}
}

// TestProbeBudget: a policy whose every decision is slow runs the probes
// past the budget; the check stops and says so, instead of hanging.
func TestProbeBudget(t *testing.T) {
	start := time.Now()
	// The slow rule slows the bundle's tests too: skip them, so that it is
	// the probes that meet the budget.
	r, err := Check(context.Background(), overlay(t, "slow"), CheckOptions{SkipTests: true, TestBudget: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if len(r.Problems) != 1 || r.Problems[0].Code != CodeTestBudget ||
		!strings.Contains(r.Problems[0].Message, "probe inputs ran past the budget of 500ms") {
		t.Fatalf("problems %v, want the probe budget", r.Problems)
	}
	if took > 5*time.Second {
		t.Errorf("check took %v: the budget did not stop the evaluation", took)
	}
}

// TestInvalidDecisionKeepsTextOut: a rule that puts the draft's text where
// an action belongs fails with ErrInvalidDecision at run time, and neither
// the error nor the check's problem repeats the text.
func TestInvalidDecisionKeepsTextOut(t *testing.T) {
	ctx := context.Background()
	dir := overlay(t, "text_action")
	p, err := Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	in := agentInput(finding("privacy", "phone", "medium"))
	in.Draft.Text = "您的手机 13812345678 已登记"
	_, err = p.Decide(ctx, in)
	if !errors.Is(err, ErrInvalidDecision) {
		t.Fatalf("Decide = %v, want ErrInvalidDecision", err)
	}
	for _, leak := range []string{"13812345678", "手机", "已登记"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error %q repeats the draft's text", err)
		}
	}
	var ie *InvalidDecisionError
	if !errors.As(err, &ie) || ie.Rule != "echo.text" || ie.Field != "reasons[1].action" {
		t.Errorf("error %#v, want rule echo.text, field reasons[1].action (after the phone's)", ie)
	}
	if rule, ok := InvalidDecisionRule(err); !ok || rule != "echo.text" {
		t.Errorf("InvalidDecisionRule = %q, %v", rule, ok)
	}
	// (The rule also breaks the bundle's tests; its own problem is the one
	// looked at.)
	r, err := Check(ctx, dir, CheckOptions{})
	if err != nil || !slices.ContainsFunc(r.Problems, func(p Problem) bool {
		return p.Code == CodeInvalidDecision && p.File == "xunjian/echo.rego" && p.Line == 4
	}) {
		t.Errorf("Check = %v, %v; want an invalid decision at xunjian/echo.rego:4", r.Problems, err)
	}
}

func TestQuoteValueAndRuleID(t *testing.T) {
	for _, tc := range []struct {
		in, quoted string
		ruleID     bool
	}{
		{"blok", `"blok"`, true},
		{"Block", `"Block"`, true},
		{"privacy.credential.block", "a string of 24 bytes", true},
		{"needs_review", `"needs_review"`, true},
		{"", "a string of 0 bytes", false},
		{"13812345678", "a string of 11 bytes", false}, // a phone number is no rule id
		{"block ", "a string of 6 bytes", false},
		{"您的手机 138 1234 5678", "a string of 26 bytes", false},
		{"退款承诺.confirm", "a string of 20 bytes", false},
		{"wxid_abc123", "a string of 11 bytes", true},
		{"rule.v12345", "a string of 11 bytes", false},
		{strings.Repeat("a", 17), "a string of 17 bytes", true},
		{strings.Repeat("a", 129), "a string of 129 bytes", false},
		{"a\x00b", "a string of 3 bytes", false},
	} {
		if got := quoteValue(tc.in); got != tc.quoted {
			t.Errorf("quoteValue(%q) = %s, want %s", tc.in, got, tc.quoted)
		}
		if got := isRuleID(tc.in); got != tc.ruleID {
			t.Errorf("isRuleID(%q) = %v, want %v", tc.in, got, tc.ruleID)
		}
	}
}

func TestStripIndexes(t *testing.T) {
	for in, want := range map[string]string{
		"reasons[3].action":                 "reasons[].action",
		"alerts[12].level: x":               "alerts[].level: x",
		"action":                            "action",
		"a[b] [] [1":                        "a[b] [] [1",
		"shadow[0].finding, on [x] input 7": "shadow[].finding, on [x] input 7",
	} {
		if got := stripIndexes(in); got != want {
			t.Errorf("stripIndexes(%q) = %q, want %q", in, got, want)
		}
	}
}
