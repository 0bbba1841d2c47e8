package rules

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	_ "github.com/open-policy-agent/opa/v1/features/wasm" // the wasm target (wazero, pure Go)
	"github.com/open-policy-agent/opa/v1/rego"
)

// BenchmarkTargets evaluates the default policy for benchInput through
// OPA's rego API with each of its evaluation targets: the Go evaluator
// (rego) and the policy compiled to WebAssembly (wasm, run by wazero). It
// is why the gateway does not use the wasm target: on the same policy and
// input it is the slower one. Both evaluate the policy's constant rules on
// every query here (the rego API shares nothing between queries); the
// gateway's own engine serves them from a cache (BenchmarkDecideUncached),
// which the wasm target has no counterpart of.
func BenchmarkTargets(b *testing.B) {
	ctx := context.Background()
	in, err := ast.JSON(benchInput().astValue(allFields))
	if err != nil {
		b.Fatal(err)
	}
	for _, target := range []string{"rego", "wasm"} {
		b.Run(target, func(b *testing.B) {
			pq, err := rego.New(rego.Query("data.xunjian.decision"), rego.LoadBundle("bundle"), rego.Target(target)).PrepareForEval(ctx)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				rs, err := pq.Eval(ctx, rego.EvalInput(in))
				if err != nil || len(rs) != 1 {
					b.Fatal(rs, err)
				}
				if d, _ := rs[0].Expressions[0].Value.(map[string]any); d["action"] != "block" {
					b.Fatalf("decision %v, want block", d)
				}
			}
		})
	}
}
