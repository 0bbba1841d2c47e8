package inspect

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
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
	for round := range 4 {
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
	if misses != uint64(2*len(texts)) || hits != uint64(2*len(texts)) {
		t.Errorf("hits %d misses %d, want %d and %d: each distinct (tenant, role, text) misses twice (its first sighting is not stored), then hits", hits, misses, 2*len(texts), 2*len(texts))
	}
}

// TestFindingsCacheSecondSighting: a draft sent once is not stored (most
// drafts are new text, never sent again); from its second sighting it is.
func TestFindingsCacheSecondSighting(t *testing.T) {
	in := cachedInspector(t)
	ctx := context.Background()
	once := make([]Request, 500)
	for i := range once {
		once[i] = Request{Text: fmt.Sprintf("您好，订单 %d 已发货，请注意查收", 100000+i), Role: RoleAgent, TenantID: "a"}
		if _, err := inspectInto(in, ctx, once[i], nil, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	quick := Request{Text: "亲，您好，很高兴为您服务", Role: RoleAgent, TenantID: "a"}
	for range 2 {
		if _, err := inspectInto(in, ctx, quick, nil, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	in.cache.c.Wait()
	stored := 0
	for _, req := range once {
		if _, ok := in.cache.c.Get(cacheKey(req.TenantID, in.version, req.Role, req.Text)); ok {
			stored++
		}
	}
	if stored > 0 {
		t.Errorf("%d of %d drafts sent once are in the cache", stored, len(once))
	}
	if _, ok := in.cache.c.Get(cacheKey(quick.TenantID, in.version, quick.Role, quick.Text)); !ok {
		t.Error("a quick reply sent twice is not in the cache")
	}
}

func TestDoorkeeper(t *testing.T) {
	d := newDoorkeeper(0)
	if n := len(d.slots); n != 1<<10 {
		t.Fatalf("%d slots, want the minimum 1024", n)
	}
	if d.seenBefore("a") {
		t.Error("a key never shown is seen before")
	}
	if !d.seenBefore("a") {
		t.Error("a key just shown is not seen before")
	}
	// Showing many other keys takes a's slot: it is forgotten.
	for i := range 100 * len(d.slots) {
		d.seenBefore(strconv.Itoa(i))
	}
	if d.seenBefore("a") {
		t.Error("a key is remembered after a hundred times as many others as slots")
	}
	if n := len(newDoorkeeper(3000).slots); n != 4096 {
		t.Errorf("%d slots for 3000, want the next power of two, 4096", n)
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
