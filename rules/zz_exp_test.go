package rules

import (
	"context"
	"os"
	"testing"
)

func BenchmarkExp(b *testing.B) {
	p, err := Load(context.Background(), os.Getenv("XJ_BUNDLE"), WithoutDecisionCache())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	in := benchInput()
	ctx := context.Background()
	d0, _ := p.Decide(ctx, in)
	b.Logf("%d reasons %v %s", len(d0.Reasons), d0.Action, d0.Reasons[0].Rule)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Decide(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
