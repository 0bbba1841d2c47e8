package rules

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// loadPair loads the bundle at dir twice: with the decision cache and
// without it.
func loadPair(t *testing.T, dir string) (cached, uncached *Policy) {
	t.Helper()
	ctx := context.Background()
	cached, err := Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	uncached, err = Load(ctx, dir, WithoutDecisionCache())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cached.Close(); uncached.Close() })
	if !cached.CacheStatus().Enabled {
		t.Fatalf("cache off: %s", cached.CacheStatus())
	}
	if st := uncached.CacheStatus(); st.Enabled || st.Reason == "" {
		t.Fatalf("WithoutDecisionCache: %+v", st)
	}
	return cached, uncached
}

// decideWarm decides in twice on p, waiting for the first result to reach
// the cache, and checks that the second call was a hit.
func decideWarm(t *testing.T, p *Policy, in *Input) Decision {
	t.Helper()
	ctx := context.Background()
	first, err := p.Decide(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	p.decision.wait()
	h0, _ := p.CacheStats()
	second, err := p.Decide(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if h1, _ := p.CacheStats(); h1 != h0+1 {
		t.Fatalf("second Decide was not a hit (hits %d → %d)", h0, h1)
	}
	if !reflect.DeepEqual(first, second) {
		t.Fatalf("hit %+v differs from the evaluated %+v", second, first)
	}
	return second
}

func tenantBundle(t *testing.T) string {
	t.Helper()
	dir := copyDir(t, "bundle")
	f := filepath.Join(dir, "xunjian", "data.json")
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	data["tenants"] = map[string]any{"strict": map[string]any{
		"actions":    map[string]any{"tone.impatient": "block"},
		"thresholds": map[string]any{"wait": 30},
	}}
	b, _ = json.Marshal(data)
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCacheMatchesUncached(t *testing.T) {
	cached, uncached := loadPair(t, tenantBundle(t))
	ctx := context.Background()

	base := func() *Input { return agentInput(finding("tone", "impatient", "low")) }
	for _, tc := range []struct {
		name   string
		mutate func(*Input)
		want   Action // action after the change
		alerts int
	}{
		{"base", func(*Input) {}, Warn, 0},
		{"severity info", func(in *Input) { in.Findings[0].Severity = "info" }, Warn, 0},
		{"kind rude", func(in *Input) { in.Findings[0].Kind = "rude" }, Block, 0},
		{"severity of compensation", func(in *Input) {
			in.Findings[0] = finding("commitment", "compensation", "high")
		}, Block, 0},
		{"role customer", func(in *Input) { in.Draft.Role = "customer" }, Allow, 0},
		{"role bot, phone", func(in *Input) {
			in.Findings[0] = finding("privacy", "phone", "medium")
			in.Draft.Role = "bot"
		}, Allow, 0},
		{"tenant strict", func(in *Input) { in.Tenant.ID = "strict" }, Block, 0},
		{"tenant strict, wait 60", func(in *Input) { in.Tenant.ID = "strict"; in.Conversation.WaitSeconds = 60 }, Block, 1},
		{"wait 60, other tenant", func(in *Input) { in.Conversation.WaitSeconds = 60 }, Warn, 0},
		{"risk above threshold", func(in *Input) { in.Conversation.Risk = 0.8 }, Warn, 1},
		{"lang en", func(in *Input) { in.Draft.Lang = "en" }, Warn, 0},
		{"two findings", func(in *Input) { in.Findings = append(in.Findings, finding("link", "external", "medium")) }, Confirm, 0},
		{"no findings", func(in *Input) { in.Findings = nil }, Allow, 0},
		{"zero input", func(in *Input) { *in = Input{} }, Allow, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.mutate(in)
			got := decideWarm(t, cached, in)
			want, err := uncached.Decide(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("cached %+v, uncached %+v", got, want)
			}
			if got.Action != tc.want || len(got.Alerts) != tc.alerts {
				t.Errorf("action %v, %d alerts; want %v, %d", got.Action, len(got.Alerts), tc.want, tc.alerts)
			}
		})
	}
}

func TestCacheNoStaleHit(t *testing.T) {
	cached, _ := loadPair(t, "bundle")
	ctx := context.Background()
	base := agentInput(finding("privacy", "phone", "medium"))
	if d := decideWarm(t, cached, base); d.Action != Redact {
		t.Fatalf("base = %v", d.Action)
	}
	// Every field the policy reads, changed so that the decision changes.
	for name, mutate := range map[string]func(*Input){
		"severity": func(in *Input) { in.Findings[0].Kind = "credential" },
		"role":     func(in *Input) { in.Draft.Role = "customer" },
		"lang":     func(in *Input) { in.Draft.Lang = "en" },
		"risk":     func(in *Input) { in.Conversation.Risk = 0.9 },
		"wait":     func(in *Input) { in.Conversation.WaitSeconds = 500 },
	} {
		in := agentInput(finding("privacy", "phone", "medium"))
		mutate(in)
		d, err := cached.Decide(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if reflect.DeepEqual(d, decideWarm(t, cached, base)) {
			t.Errorf("%s: changed input got the base decision %+v", name, d)
		}
	}
}

func TestCacheIgnoresUnreadFields(t *testing.T) {
	p := loadDefault(t)
	st := p.CacheStatus()
	if !st.Enabled || slices.Contains(st.Fields, "draft.text") || slices.Contains(st.Fields, "draft.normalized") ||
		!slices.Contains(st.Fields, "findings") || !slices.Contains(st.Fields, "tenant.id") || !slices.Contains(st.Fields, "draft.role") {
		t.Fatalf("status = %+v", st)
	}
	in := agentInput(finding("tone", "rude", "high"))
	want := decideWarm(t, p, in)
	in.Draft.Text, in.Draft.Normalized = "something else entirely", "x"
	in.Agent.ID, in.Conversation.ID = "a2", "c2"
	h0, m0 := p.CacheStats()
	got, err := p.Decide(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if h1, m1 := p.CacheStats(); h1 != h0+1 || m1 != m0 {
		t.Errorf("changing unread fields missed: hits %d→%d misses %d→%d", h0, h1, m0, m1)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestCacheKeysOnReadText(t *testing.T) {
	p, _ := loadPair(t, "testdata/reads_text")
	if st := p.CacheStatus(); !slices.Contains(st.Fields, "draft.text") {
		t.Fatalf("status = %+v, want draft.text in the key", st)
	}
	in := agentInput()
	in.Draft.Text = "has x"
	if d := decideWarm(t, p, in); d.Action != Block {
		t.Fatalf("text with x: %v", d.Action)
	}
	in.Draft.Text = "has none"
	if d := decideWarm(t, p, in); d.Action != Allow {
		t.Fatalf("text without x: %v (stale hit?)", d.Action)
	}
}

func TestCacheOffForNondeterministic(t *testing.T) {
	p, err := Load(context.Background(), "testdata/nondeterministic")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	st := p.CacheStatus()
	if st.Enabled || !strings.Contains(st.Reason, "time.now_ns") {
		t.Fatalf("status = %+v, want off because of time.now_ns", st)
	}
	for range 3 {
		if d, err := p.Decide(context.Background(), agentInput()); err != nil || (d.Action != Allow && d.Action != Warn) {
			t.Fatalf("Decide = %+v, %v", d, err)
		}
	}
	if h, m := p.CacheStats(); h != 0 || m != 0 {
		t.Errorf("CacheStats = %d, %d", h, m)
	}
}

func TestCacheKeyUnambiguous(t *testing.T) {
	// Field boundaries must not blur: moving bytes between adjacent
	// strings, or between findings, changes the key.
	a := agentInput(Finding{Detector: "ab", Kind: "c"})
	b := agentInput(Finding{Detector: "a", Kind: "bc"})
	c := agentInput(Finding{Detector: "a"}, Finding{Kind: "bc"})
	ka, kb, kc := appendKey(nil, a, allFields), appendKey(nil, b, allFields), appendKey(nil, c, allFields)
	if string(ka) == string(kb) || string(kb) == string(kc) || string(ka) == string(kc) {
		t.Error("keys collide")
	}
	d := agentInput()
	d.Conversation.Risk = math.Nextafter(0.1, 1)
	if string(appendKey(nil, d, allFields)) == string(appendKey(nil, agentInput(), allFields)) {
		t.Error("floats that differ share a key")
	}
}

func TestCacheClose(t *testing.T) {
	p, err := Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	in := agentInput(finding("tone", "rude", "high"))
	decideWarm(t, p, in)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p.Close() // idempotent
	if st := p.CacheStatus(); st.Enabled {
		t.Errorf("status after Close = %+v", st)
	}
	h0, m0 := p.CacheStats()
	for range 2 {
		if d, err := p.Decide(context.Background(), in); err != nil || d.Action != Block {
			t.Fatalf("Decide after Close = %+v, %v", d, err)
		}
	}
	if h, m := p.CacheStats(); h != h0 || m != m0 {
		t.Errorf("closed cache still counted: %d/%d → %d/%d", h0, m0, h, m)
	}
}

func TestCacheConcurrent(t *testing.T) {
	cached, uncached := loadPair(t, "bundle")
	ctx := context.Background()
	inputs := []*Input{
		agentInput(finding("privacy", "credential", "high")),
		agentInput(finding("tone", "impatient", "low"), finding("link", "external", "medium")),
		agentInput(finding("privacy", "phone", "medium")),
		agentInput(),
	}
	inputs[3].Conversation.Risk = 0.95
	want := make([]Decision, len(inputs))
	for i, in := range inputs {
		d, err := uncached.Decide(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = d
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				k := (g + i) % len(inputs)
				d, err := cached.Decide(ctx, inputs[k])
				if err != nil || !reflect.DeepEqual(d, want[k]) {
					errs <- "wrong decision for input " + string(rune('0'+k))
					return
				}
			}
		})
	}
	// Close while deciding: Decide must keep answering correctly.
	wg.Go(func() { cached.Close() })
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
