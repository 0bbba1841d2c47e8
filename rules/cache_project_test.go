package rules

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestInputReadsFindingFields pins the analysis of what a module reads of
// each finding: field by field where every use of a finding is a field
// read, every field otherwise.
func TestInputReadsFindingFields(t *testing.T) {
	all := []string(nil)
	for _, tc := range []struct {
		name string
		body string
		want []string // nil: every field
	}{
		{"field of a some-in variable", `some f in input.findings; f.kind == "x"`, []string{"kind"}},
		{"two fields, one in a comprehension", `some f in input.findings; f.kind == "x"; [1 | f.score > 0.5]`, []string{"kind", "score"}},
		{"ref into the input", `input.findings[_].evidence == "x"`, []string{"evidence"}},
		{"indexed refs", `some i; input.findings[i].kind == "x"; input.findings[i].start > 3`, []string{"kind", "start"}},
		{"object.get with a key", `some f in input.findings; object.get(f, "rule", "") == "r"`, []string{"rule"}},
		{"object.get with a path", `some f in input.findings; object.get(f, ["score"], 0) > 0`, []string{"score"}},
		{"only the number", `some i, _ in input.findings; i > 2`, []string{}},
		{"an unknown field reads nothing", `some f in input.findings; f.nonesuch == 1`, []string{}},
		{"a finding compared whole", `some f in input.findings; f == {"kind": "x"}`, all},
		{"two findings compared", `f := input.findings[0]; g := input.findings[1]; f == g`, all},
		{"bound twice", `some f in input.findings; f = input.findings[0]`, all},
		{"keys iterated", `some f in input.findings; some k, _ in f; k == "x"`, all},
		{"object.get with a variable key", `some f in input.findings; some k in ["kind"]; object.get(f, k, "") == "x"`, all},
		{"object.get with an empty path", `some f in input.findings; object.get(f, [], {}) == {}`, all},
		{"passed to a function", `some f in input.findings; count(f) > 3`, all},
		{"count of the list", `count(input.findings) > 2`, []string{}},
		{"count of the list, negated", `not count(input.findings) > 2`, []string{}},
		{"the list empty", `input.findings == []`, []string{}},
		{"the list not empty", `input.findings != []`, []string{}},
		{"the list compared", `input.findings == [{"kind": "x"}]`, all},
		{"every", `every f in input.findings { f.kind == "x" }`, all},
		{"indexed by a variable key", `some k; input.findings[0][k] == "x"`, all},
		{"the whole input", `input == {}`, all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "package xunjian\n\ndecision := {\"action\": \"block\"} if {\n\t" + tc.body + "\n}\n"
			c := ast.NewCompiler()
			if c.Compile(map[string]*ast.Module{"m.rego": ast.MustParseModule(src)}); c.Failed() {
				t.Fatal(c.Errors)
			}
			proj, _, _ := analyzeInput(c, []string{"m.rego"})
			if !proj.fields.has(fFindings) {
				t.Fatalf("fields %v lack findings", proj.fields.names())
			}
			if got := proj.finding.names(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("finding fields %q, want %q", got, tc.want)
			}
		})
	}
}

// TestInputReadsObjectGet: object.get on the input with a constant key
// or path reads what the path reads.
func TestInputReadsObjectGet(t *testing.T) {
	for _, tc := range []struct {
		body string
		want []string
	}{
		{`object.get(input, ["draft", "role"], "agent") == "bot"`, []string{"draft.role"}},
		{`object.get(input.draft, "lang", "zh") == "en"`, []string{"draft.lang"}},
		{`object.get(input, "tenant", {}) == {}`, []string{"tenant.id"}},
		{`some k in ["role"]; object.get(input.draft, k, "") == "x"`, []string{"draft.text", "draft.normalized", "draft.role", "draft.lang"}},
		{`x := input.draft; x.role == "bot"`, []string{"draft.text", "draft.normalized", "draft.role", "draft.lang"}},
		{`object.get(input, [], {}) == {}`, []string{"input"}},
		{`x := input; count(x) > 0`, []string{"input"}},
		{`x := input; object.get(x, ["findings"], []) == []`, []string{"findings"}},
	} {
		src := "package xunjian\n\ndecision := {\"action\": \"block\"} if {\n\t" + tc.body + "\n}\n"
		c := ast.NewCompiler()
		if c.Compile(map[string]*ast.Module{"m.rego": ast.MustParseModule(src)}); c.Failed() {
			t.Fatal(c.Errors)
		}
		proj, _, _ := analyzeInput(c, []string{"m.rego"})
		if got := proj.fields.names(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: fields %q, want %q", tc.body, got, tc.want)
		}
	}
}

// TestCacheKeyDefaultFindingFields: the default policy reads a finding's
// detector, kind, severity, score and rule, so its key leaves out the
// evidence, the offsets and the lexicon, and changing them is a hit.
func TestCacheKeyDefaultFindingFields(t *testing.T) {
	p := loadDefault(t)
	st := p.CacheStatus()
	want := []string{"detector", "kind", "severity", "score", "rule"}
	if !st.Enabled || !slices.Contains(st.Fields, "findings") || !reflect.DeepEqual(st.FindingFields, want) {
		t.Fatalf("status = %+v, want finding fields %q", st, want)
	}
	in := agentInput(finding("privacy", "phone", "medium"), finding("tone", "rude", "high"))
	in.Findings[0].Lexicon = "phone.cn"
	want0 := decideWarm(t, p, in)
	in.Findings[0].Evidence, in.Findings[0].Start, in.Findings[0].End = "139****0000", 7, 20
	in.Findings[1].Lexicon = "rude.zh"
	h0, m0 := p.CacheStats()
	got, err := p.Decide(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if h1, m1 := p.CacheStats(); h1 != h0+1 || m1 != m0 {
		t.Errorf("changing evidence, offsets and lexicon missed: hits %d→%d misses %d→%d", h0, h1, m0, m1)
	}
	if !reflect.DeepEqual(got, want0) {
		t.Errorf("got %+v, want %+v", got, want0)
	}
	// The projected input the policy is evaluated on has no evidence.
	v := in.projected(p.proj)
	f := v.(ast.Object).Get(ast.StringTerm("findings")).Value.(*ast.Array).Elem(0).Value.(ast.Object)
	if f.Get(ast.StringTerm("evidence")) != nil || f.Get(ast.StringTerm("start")) != nil || f.Get(ast.StringTerm("kind")) == nil {
		t.Errorf("projected finding %v", f)
	}
}

// TestCacheKeysOnScore: the default policy's model bands read f.score, so
// a model finding's score is in the key.
func TestCacheKeysOnScore(t *testing.T) {
	cached, uncached := loadPair(t, "bundle")
	ctx := context.Background()
	model := func(score float64) *Input {
		f := finding("tone", "rude", "medium")
		f.Rule, f.Score = "model:v1", score
		return agentInput(f)
	}
	for _, tc := range []struct {
		score float64
		want  Action
	}{{0.4, Warn}, {0.65, Confirm}, {0.75, Block}, {0.1, Allow}} {
		in := model(tc.score)
		got := decideWarm(t, cached, in)
		want, err := uncached.Decide(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if got.Action != tc.want || !reflect.DeepEqual(got, want) {
			t.Errorf("score %v: cached %+v, uncached %+v, want %v", tc.score, got, want, tc.want)
		}
	}
}

// writeModule adds a module to the bundle copy at dir.
func writeModule(t *testing.T, dir, name, src string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "xunjian", name), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCacheKeyWidensForCustomRule: an enforced custom rule that reads a
// finding's evidence widens the default policy's key to it.
func TestCacheKeyWidensForCustomRule(t *testing.T) {
	for name, cond := range map[string]string{
		"ref":      `some i; input.findings[i].evidence == "secret"`,
		"variable": `some i, f in input.findings; f.evidence == "secret"`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := copyDir(t, "bundle")
			writeModule(t, dir, "custom.rego", "package xunjian.custom\n\n"+
				"reasons contains {\"rule\": \"evidence.secret.block\", \"action\": \"block\", \"finding\": i} if {\n\t"+cond+"\n}\n")
			cached, uncached := loadPair(t, dir)
			if st := cached.CacheStatus(); !slices.Contains(st.FindingFields, "evidence") || !slices.Contains(st.FindingFields, "kind") {
				t.Fatalf("status = %+v, want evidence and kind in the key", st)
			}
			in := agentInput(finding("link", "external", "medium"))
			if d := decideWarm(t, cached, in); d.Action != Confirm {
				t.Fatalf("plain evidence: %v", d.Action)
			}
			in.Findings[0].Evidence = "secret"
			got := decideWarm(t, cached, in)
			want, err := uncached.Decide(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if got.Action != Block || !reflect.DeepEqual(got, want) {
				t.Errorf("secret evidence: cached %+v, uncached %+v (stale hit?)", got, want)
			}
		})
	}
}

// TestCacheKeyWholeFinding: a rule that uses a finding whole keys on every
// field of it.
func TestCacheKeyWholeFinding(t *testing.T) {
	dir := copyDir(t, "bundle")
	writeModule(t, dir, "custom.rego", `package xunjian.custom

reasons contains {"rule": "finding.long.warn", "action": "warn"} if {
	some f in input.findings
	count(f) > 7
}
`)
	cached, _ := loadPair(t, dir)
	if st := cached.CacheStatus(); st.FindingFields != nil || !slices.Contains(st.Fields, "findings") {
		t.Fatalf("status = %+v, want every finding field", st)
	}
	in := agentInput(finding("link", "external", "medium"))
	if d := decideWarm(t, cached, in); d.Action != Confirm {
		t.Fatalf("no lexicon: %v", d.Action)
	}
	in.Findings[0].Lexicon = "link.short"
	if d := decideWarm(t, cached, in); d.Action != Confirm || len(d.Reasons) != 2 {
		t.Fatalf("with a lexicon (eight fields): %+v (stale hit?)", d)
	}
}
