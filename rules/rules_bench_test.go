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
	b.ReportAllocs()
	for b.Loop() {
		d, err := p.Decide(ctx, in)
		if err != nil || d.Action != Block {
			b.Fatal(d.Action, err)
		}
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
