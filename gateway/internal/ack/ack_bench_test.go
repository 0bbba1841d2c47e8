package ack

import (
	"testing"
	"time"
)

// BenchmarkIssueRedeem measures a confirm round trip: Issue on the held
// draft, Redeem on its re-send.
func BenchmarkIssueRedeem(b *testing.B) {
	i := newIssuer(b, 0, 0)
	const text = "您好，您的退款已经提交，预计3-5个工作日到账，请留意银行通知。"
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Microsecond)
		tok := i.Issue("tenant", "conversation-1234", text, now)
		if err := i.Redeem(tok, "tenant", "conversation-1234", text, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssue(b *testing.B) {
	i := newIssuer(b, 0, 0)
	const text = "您好，您的退款已经提交，预计3-5个工作日到账，请留意银行通知。"
	b.ReportAllocs()
	for b.Loop() {
		i.Issue("tenant", "conversation-1234", text, t0)
	}
}

// BenchmarkRedeemInvalid measures refusing a forged token.
func BenchmarkRedeemInvalid(b *testing.B) {
	i := newIssuer(b, 0, 0)
	other, _ := NewIssuer(nil, 0, 0)
	tok := other.Issue("tenant", "conversation-1234", "text", t0)
	b.ReportAllocs()
	for b.Loop() {
		if i.Redeem(tok, "tenant", "conversation-1234", "text", t0) == nil {
			b.Fatal("forged token accepted")
		}
	}
}
