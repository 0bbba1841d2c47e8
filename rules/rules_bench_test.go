package rules

import (
	"context"
	"testing"
)

func benchInput() *Input {
	in := agentInput(
		finding("privacy", "phone", "medium"),
		finding("tone", "impatient", "low"),
		finding("diversion", "contact", "high"),
	)
	in.Draft.Text = "加我微信 abc123，电话 138****5678，快点吧"
	in.Draft.Normalized = in.Draft.Text
	return in
}

func BenchmarkDecide(b *testing.B) {
	p := loadDefault(b)
	in := benchInput()
	ctx := context.Background()
	if _, err := p.Decide(ctx, in); err != nil {
		b.Fatal(err)
	}
	p.decision.wait()
	b.ReportAllocs()
	for b.Loop() {
		d, err := p.Decide(ctx, in)
		if err != nil || d.Action != Block {
			b.Fatal(d.Action, err)
		}
	}
}

// BenchmarkDecideUncached is BenchmarkDecide with the decision cache off:
// the cost of evaluating the policy.
func BenchmarkDecideUncached(b *testing.B) {
	p, err := Load(context.Background(), "", WithoutDecisionCache())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	in := benchInput()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := p.Decide(ctx, in)
		if err != nil || d.Action != Block {
			b.Fatal(d.Action, err)
		}
	}
}

// BenchmarkDecideUncachedNoFindings is BenchmarkDecideUncached for a draft
// without findings: the floor of a policy evaluation.
func BenchmarkDecideUncachedNoFindings(b *testing.B) {
	p, err := Load(context.Background(), "", WithoutDecisionCache())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	in := agentInput()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := p.Decide(ctx, in)
		if err != nil || d.Action != Allow {
			b.Fatal(d.Action, err)
		}
	}
}

// BenchmarkDecideMiss gives every iteration a new wait time, so each
// Decide misses the cache: evaluation plus key building and storing.
func BenchmarkDecideMiss(b *testing.B) {
	p := loadDefault(b)
	in := benchInput()
	ctx := context.Background()
	b.ReportAllocs()
	w := 0.0
	for b.Loop() {
		w += 0.001
		in.Conversation.WaitSeconds = w
		d, err := p.Decide(ctx, in)
		if err != nil || d.Action != Block {
			b.Fatal(d.Action, err)
		}
	}
	if hits, _ := p.CacheStats(); hits != 0 {
		b.Fatalf("%d hits, want none", hits)
	}
}

func BenchmarkDecideNoFindings(b *testing.B) {
	p := loadDefault(b)
	in := agentInput()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := p.Decide(ctx, in)
		if err != nil || d.Action != Allow {
			b.Fatal(d.Action, err)
		}
	}
}

func BenchmarkDecideParallel(b *testing.B) {
	p := loadDefault(b)
	in := benchInput()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Decide(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkLoadDefault(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(ctx, ""); err != nil {
			b.Fatal(err)
		}
	}
}
