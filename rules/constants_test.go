package rules

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestConstantRules: the complete rules without arguments that read data
// only, directly or through other rules and functions, are constants;
// reading the input, the clock or a with makes a rule (and every
// rule that depends on it) not one; partial rules and functions never are
// (their results are not kept whole), though a rule of their values is.
func TestConstantRules(t *testing.T) {
	p, err := Load(context.Background(), "testdata/constants")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	got := p.consts.refs()
	slices.Sort(got)
	// printed too: the policy is compiled without print statements (the
	// gateway never prints), so its print call is gone.
	want := []string{"data.xunjian.doubled", "data.xunjian.n", "data.xunjian.printed", "data.xunjian.table", "data.xunjian.tag_count", "data.xunjian.via"}
	if !slices.Equal(got, want) {
		t.Errorf("constants %v, want %v", got, want)
	}
	// Worked out when the policy was loaded: no draft pays for them.
	for i := range p.consts.entries {
		if p.consts.entries[i].val.Load() == nil {
			t.Errorf("%s not evaluated at load", p.consts.entries[i].ref)
		}
	}
}

// TestConstantsUnderWith: a constant evaluated under a with that replaces
// the data it reads gets the replaced value, and the constant itself keeps
// its own, in whichever order they are first met, on the first evaluation
// and on later ones served from the shared values.
func TestConstantsUnderWith(t *testing.T) {
	p, err := Load(context.Background(), "testdata/constants")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	in, err := ast.InterfaceToValue(map[string]any{"draft": map[string]any{"text": "您好"}, "findings": []any{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		d, err := p.evalValue(context.Background(), in, nil)
		if err != nil {
			t.Fatal(err)
		}
		for field, want := range map[string]any{"replaced": 7, "n": 1, "via": 2, "doubled": 2, "tag_count": 2, "via_input": 2, "doubled_input": 6, "clock": true} {
			if got := d.Get(ast.StringTerm(field)); got == nil || ast.Compare(got.Value, ast.MustInterfaceToValue(want)) != 0 {
				t.Errorf("evaluation %d: %s = %v, want %v", i, field, got, want)
			}
		}
		if c := p.consts.find(ast.MustParseRef("data.xunjian.n")); c == nil || c.val.Load() == nil {
			t.Errorf("evaluation %d: data.xunjian.n not kept among the constants", i)
		}
	}
}

// TestConstantsConcurrent: evaluations racing to compute the constants of
// a fresh policy all decide the same (go test -race checks the sharing).
func TestConstantsConcurrent(t *testing.T) {
	p, err := Load(context.Background(), "", WithoutDecisionCache())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.consts.len() == 0 {
		t.Fatal("the default policy has no constant rules")
	}
	in := benchInput()
	want, err := p.Decide(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := Load(context.Background(), "", WithoutDecisionCache())
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				d, err := fresh.Decide(context.Background(), in)
				if err != nil || d.Action != want.Action || len(d.Reasons) != len(want.Reasons) || d.Reasons[2].Rule != want.Reasons[2].Rule {
					t.Errorf("Decide = %+v, %v; want %+v", d, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestConstantsWarmBudget: a constant without end in sight does not hold
// up the policy's load (warm gives up after its budget and leaves it to
// the drafts), and a draft that does not need it is decided at once.
func TestConstantsWarmBudget(t *testing.T) {
	start := time.Now()
	p, err := Load(context.Background(), "testdata/slow_constant", WithoutDecisionCache())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if took := time.Since(start); took > warmBudget+5*time.Second {
		t.Fatalf("load took %v: warming the constants did not stop at its budget of %v", took, warmBudget)
	}
	if c := p.consts.find(ast.MustParseRef("data.xunjian.huge")); c == nil || c.val.Load() != nil {
		t.Fatalf("data.xunjian.huge: want a constant left unevaluated, got %v", c)
	}
	in := agentInput()
	in.Draft.Text = "ok"
	if d, err := p.Decide(context.Background(), in); err != nil || d.Action != Allow {
		t.Errorf("Decide = %+v, %v; want allow", d, err)
	}
}
