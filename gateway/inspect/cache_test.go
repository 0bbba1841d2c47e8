package inspect

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/xunjian/xunjian/rules"
)

func cachedInspector(t testing.TB) *Inspector {
	t.Helper()
	p, err := rules.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	in, err := New(p, Options{CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}

// TestFindingsCache checks that a cached detection gives the same verdict
// as a fresh one, and that tenant and role are part of the key.
func TestFindingsCache(t *testing.T) {
	in := cachedInspector(t)
	plain := defaultInspector(t)
	ctx := context.Background()
	texts := []Request{
		{Text: "您的手机 13812345678 已登记", TenantID: "a"},
		{Text: "加我微信 wxid_abc123", TenantID: "a"},
		{Text: "再不处理我就打12315投诉你们", Role: RoleCustomer, TenantID: "a"},
		{Text: "再不处理我就打12315投诉你们", Role: RoleAgent, TenantID: "a"},
		{Text: "加我微信 wxid_abc123", TenantID: "b"},
	}
	for round := range 3 {
		for _, req := range texts {
			got, err := inspectInto(in, ctx, req, nil, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			want, err := inspectInto(plain, ctx, req, nil, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if got.Action != want.Action || !reflect.DeepEqual(got.Findings, want.Findings) || got.Redacted != want.Redacted {
				t.Errorf("round %d %+v: cached verdict %s %+v %q, uncached %s %+v %q", round, req,
					got.Action, got.Findings, got.Redacted, want.Action, want.Findings, want.Redacted)
			}
		}
		in.cache.c.Wait() // ristretto stores asynchronously
	}
	hits, misses := in.CacheStats()
	if misses != uint64(len(texts)) || hits != uint64(2*len(texts)) {
		t.Errorf("hits %d misses %d, want %d and %d: each distinct (tenant, role, text) misses once", hits, misses, 2*len(texts), len(texts))
	}
}

// TestCachedFindingsAreNotShared: appending the conversation's risk finding
// to a cached detection must not change what the cache holds.
func TestCachedFindingsAreNotShared(t *testing.T) {
	in := cachedInspector(t)
	conv := &Conversation{ID: "c"}
	now := time.Now()
	req := Request{Text: "我已经找了律师，还要去12315和消协投诉曝光你们", Role: RoleCustomer, TenantID: "a"}
	for range 3 {
		now = now.Add(time.Minute)
		if _, err := inspectInto(in, context.Background(), req, conv, now); err != nil {
			t.Fatal(err)
		}
		in.cache.c.Wait()
	}
	d := in.detected(req)
	for _, f := range d.findings {
		if f.Kind == "risk" {
			t.Fatalf("the cached detection holds a conversation-level finding: %+v", d.findings)
		}
	}
}

func BenchmarkInspectCached(b *testing.B) {
	in := cachedInspector(b)
	req := Request{Text: "亲，您好！您的订单已经发货了，快递单号是YT1234567890，预计明天下午送达。如有问题请随时联系我们，祝您购物愉快，感谢您对本店的支持！", ConversationID: "c"}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := inspectInto(in, context.Background(), req, nil, now); err != nil {
			b.Fatal(err)
		}
	}
}
