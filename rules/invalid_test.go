package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// typoProbes reach the typo_action fixture's rule (diversion.payment) and
// some that do not.
func typoProbes() []*Input {
	return []*Input{agentInput(), agentInput(finding("tone", "rude", "high")), agentInput(finding("diversion", "payment", "high"))}
}

// TestCheckRefusesTypoAction: a custom rule asking for "blok" passes the
// Rego tests and the data check, and is refused by the decision check with
// the rule and its file:line.
func TestCheckRefusesTypoAction(t *testing.T) {
	ctx := context.Background()
	report, err := Check(ctx, "testdata/typo_action", CheckOptions{Probes: typoProbes()})
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Problems) != 1 {
		t.Fatalf("problems %+v, want one invalid decision", report.Problems)
	}
	p := report.Problems[0]
	if p.Code != CodeInvalidDecision || p.File != "xunjian/typo.rego" || p.Line != 5 ||
		!strings.Contains(p.Message, "rule diversion.payment.typo") || !strings.Contains(p.Message, `"blok"`) {
		t.Errorf("problem %s, want invalid_decision at xunjian/typo.rego:5 naming the rule and the action", p)
	}
	// The default bundle (embedded) passes the same check.
	if report, err := Check(ctx, "", CheckOptions{Probes: typoProbes()}); err != nil || len(report.Problems) > 0 {
		t.Errorf("default bundle: %+v, %v", report.Problems, err)
	}
}

// TestReloadRefusesTypoAction: the Reloader refuses such a version and the
// last good one keeps serving.
func TestReloadRefusesTypoAction(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("bundle")); err != nil {
		t.Fatal(err)
	}
	r := newReloader(t, mustSource(t, dir, SourceOptions{}), testOptions{Probes: typoProbes()})
	good := current(r).Revision()
	rego, err := os.ReadFile("testdata/typo_action/xunjian/typo.rego")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "xunjian", "typo.rego"), rego, 0o644); err != nil {
		t.Fatal(err)
	}
	changed, err := r.Reload(context.Background())
	var rerr *ReloadError
	if changed || !errors.As(err, &rerr) || rerr.Stage != StageDecision || len(rerr.Problems) == 0 || rerr.Problems[0].Code != CodeInvalidDecision {
		t.Fatalf("Reload = %v, %v; want refused at stage decision", changed, err)
	}
	if got := current(r).Revision(); got != good {
		t.Errorf("serving %s after the refusal, want %s", got, good)
	}
	if d, err := current(r).Decide(context.Background(), agentInput(finding("diversion", "payment", "high"))); err != nil || d.Action != Block {
		t.Errorf("last good version decides %+v, %v", d, err)
	}
}

// TestInvalidDecisionAtRunTime: a decision that slipped past the probes
// fails with ErrInvalidDecision naming the rule.
func TestInvalidDecisionAtRunTime(t *testing.T) {
	p, err := Load(context.Background(), "testdata/typo_action")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Decide(context.Background(), agentInput(finding("diversion", "payment", "high")))
	if !errors.Is(err, ErrInvalidDecision) {
		t.Fatalf("Decide = %v, want ErrInvalidDecision", err)
	}
	if rule, ok := InvalidDecisionRule(err); !ok || rule != "diversion.payment.typo" {
		t.Errorf("InvalidDecisionRule = %q, %v", rule, ok)
	}
	if _, err := p.Decide(context.Background(), agentInput(finding("tone", "rude", "high"))); err != nil {
		t.Errorf("a draft the typo rule does not reach: %v", err)
	}
	if _, ok := InvalidDecisionRule(errors.New("other")); ok {
		t.Error("InvalidDecisionRule took an unrelated error")
	}
}

// TestDecisionSchemaAgreesWithDecoder: decision.schema.json and the
// decoder accept and refuse the same decisions.
func TestDecisionSchemaAgreesWithDecoder(t *testing.T) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(DecisionSchema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("decision.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("decision.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		decision string
		valid    bool
	}{
		{`{"action":"allow"}`, true},
		{`{"action":"block","reasons":[{"rule":"r","action":"block","message":"m","finding":0,"suggestion":"s"}],"alerts":[{"level":"high","kind":"complaint","message":"m"}],"sample":true,"shadow":[]}`, true},
		{`{"action":"blok"}`, false},
		{`{}`, false},
		{`[]`, false},
		{`{"action":"warn","reasons":[{"action":"warn"}]}`, false},
		{`{"action":"warn","reasons":[{"rule":""}]}`, false},
		{`{"action":"warn","reasons":[{"rule":"r","action":"blok"}]}`, false},
		{`{"action":"warn","reasons":[{"rule":"r","finding":-1}]}`, false},
		{`{"action":"warn","reasons":[{"rule":"r","finding":1.5}]}`, false},
		{`{"action":"warn","reasons":[{"rule":"r","message":3}]}`, false},
		{`{"action":"warn","reasons":{}}`, false},
		{`{"action":"warn","alerts":[{"level":"urgent","kind":"k"}]}`, false},
		{`{"action":"warn","alerts":[{"level":"low"}]}`, false},
		{`{"action":"warn","sample":"yes"}`, false},
		{`{"action":"warn","shadow":[{"rule":"s","action":"nope"}]}`, false},
	} {
		var v any
		if err := json.Unmarshal([]byte(tc.decision), &v); err != nil {
			t.Fatal(err)
		}
		schemaOK := schema.Validate(v) == nil
		val, err := ast.InterfaceToValue(v)
		if err != nil {
			t.Fatal(err)
		}
		_, derr := decodeDecision(val)
		if schemaOK != tc.valid || (derr == nil) != tc.valid {
			t.Errorf("%s: schema valid %v, decoder error %v; want valid %v", tc.decision, schemaOK, derr, tc.valid)
		}
		if derr != nil && !errors.Is(derr, ErrInvalidDecision) {
			t.Errorf("%s: decoder error %v does not wrap ErrInvalidDecision", tc.decision, derr)
		}
	}
}

// TestInvalidDecisionRuleIsNotText: a rule id built from the draft (which
// may hold a phone number) never reaches the error, so never a log line or
// a metric label.
func TestInvalidDecisionRuleIsNotText(t *testing.T) {
	for _, tc := range []struct {
		rule string
		ok   bool
	}{
		{"diversion.payment.typo", true},
		{"custom/early_receipt:v2", true},
		{"rule-2026", true},
		{"rule-13812345678", false},
		{"加我微信", false},
		{"has space", false},
		{strings.Repeat("r", 129), false},
		{"", false},
	} {
		err := invalid(tc.rule, "reasons[0].action", errors.New("bad"))
		if got, _ := InvalidDecisionRule(err); (got == tc.rule) != tc.ok || (!tc.ok && got != "decision") {
			t.Errorf("rule %q: InvalidDecisionRule = %q, want it kept: %v", tc.rule, got, tc.ok)
		}
		if !tc.ok && tc.rule != "" && strings.Contains(err.Error(), tc.rule) {
			t.Errorf("error %q quotes the rule id %q", err, tc.rule)
		}
	}
}
