package redisstate

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/internal/ratelimit"
	"github.com/xunjian/xunjian/gateway/internal/redisstate/redistest"
	"github.com/xunjian/xunjian/gateway/stream/alerting"
	"github.com/xunjian/xunjian/gateway/stream/sampling"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// client returns a Client on m's shared test deployment (one server, or
// the cluster) with keys of its own (a fresh prefix per test, so tests
// sharing the server do not meet), closed at the end.
func client(t testing.TB, m redistest.Mode, prefix string, opts Options) *Client {
	t.Helper()
	cfg := Config{Addrs: m.Addrs(t), Cluster: m.Cluster, KeyPrefix: prefix, Timeout: duration.Duration(200 * time.Millisecond), BreakerOpen: duration.Duration(100 * time.Millisecond)}
	c, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// prefix returns a key prefix no other test run uses.
func prefix(t testing.TB) string {
	return fmt.Sprintf("test:%s:%s:", t.Name(), crand.Text()[:8])
}

// modes runs f on each deployment (redistest.Modes: one server, the
// cluster), in a subtest of its name; each skips when its deployment's
// variable is not set.
func modes(t *testing.T, f func(t *testing.T, m redistest.Mode)) {
	for _, m := range redistest.Modes {
		t.Run(m.Name, func(t *testing.T) { f(t, m) })
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "" valid, else a substring of the error
	}{
		{"off", Config{}, ""},
		{"one server", Config{Addrs: []string{"127.0.0.1:6379"}}, ""},
		{"sentinels", Config{Addrs: []string{"a:26379", "b:26379"}, SentinelMaster: "m"}, ""},
		{"cluster", Config{Addrs: []string{"a:6379", "b:6379", "c:6379"}, Cluster: true}, ""},
		{"cluster, one seed", Config{Addrs: []string{"a:6379"}, Cluster: true}, ""},
		{"several servers", Config{Addrs: []string{"a:6379", "b:6379"}}, "shared_state.addrs: 2 addresses"},
		{"cluster and sentinels", Config{Addrs: []string{"a:26379"}, SentinelMaster: "m", Cluster: true}, "shared_state.cluster: not with sentinel_master"},
		{"cluster db", Config{Addrs: []string{"a:6379"}, Cluster: true, DB: 2}, "shared_state.db: 2: a cluster has database 0 only"},
		{"prefix with a brace", Config{Addrs: []string{"a:1"}, KeyPrefix: "x{y}:"}, "shared_state.key_prefix"},
		{"no port", Config{Addrs: []string{"redis"}}, "shared_state.addrs[0]"},
		{"mode", Config{Addrs: []string{"a:1"}, Mode: "open"}, "shared_state.mode"},
		{"negative", Config{Addrs: []string{"a:1"}, Timeout: -1, DB: -1}, "shared_state.timeout"},
		{"tls pair", Config{Addrs: []string{"a:1"}, TLS: TLS{Enabled: true, CertFile: "c.pem"}}, "cert_file and key_file"},
	} {
		tc.cfg.Defaults()
		err := tc.cfg.Validate("shared_state")
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	c := Config{}
	c.Defaults()
	if c.Mode != ModeDegrade || c.Timeout.D() != DefaultTimeout || c.KeyPrefix != DefaultKeyPrefix || c.BreakerOpen.D() != DefaultBreakerOpen {
		t.Errorf("defaults: %+v", c)
	}
}

// TestLimitsMatchInProcess: the shared buckets allow exactly what the
// in-process limiter allows, for the same rate, burst and clock.
func TestLimitsMatchInProcess(t *testing.T) { modes(t, testLimitsMatchInProcess) }

func testLimitsMatchInProcess(t *testing.T, m redistest.Mode) {
	for _, tc := range []struct {
		rate  float64
		burst int
		gaps  []time.Duration // between requests, cycled
	}{
		{1, 1, []time.Duration{0, 0, time.Second, 500 * time.Millisecond, 500 * time.Millisecond}},
		{5, 10, []time.Duration{0, 0, 0, 10 * time.Millisecond, 300 * time.Millisecond}},
		{3, 0, []time.Duration{0, 100 * time.Millisecond, 333 * time.Millisecond, 334 * time.Millisecond}},
		{100, 2, []time.Duration{0, 5 * time.Millisecond, 10 * time.Millisecond}},
	} {
		t.Run(fmt.Sprintf("rate %v burst %d", tc.rate, tc.burst), func(t *testing.T) {
			want, err := ratelimit.New(ratelimit.Config{Rate: tc.rate, Burst: tc.burst})
			if err != nil {
				t.Fatal(err)
			}
			defer want.Close()
			burst := tc.burst
			if burst == 0 {
				burst = ratelimit.DefaultBurst(tc.rate)
			}
			c := client(t, m, prefix(t), Options{Agent: Limit{Rate: tc.rate, Burst: burst}})
			now := t0
			for i := range 60 {
				now = now.Add(tc.gaps[i%len(tc.gaps)])
				b, err := c.Begin(context.Background(), Draft{Tenant: "t", Agent: "a1", Now: now})
				if err != nil {
					t.Fatal(err)
				}
				if w := want.Allow("t", "a1", now); b.Allowed != w {
					t.Fatalf("request %d at +%v: shared %v, in-process %v", i, now.Sub(t0), b.Allowed, w)
				}
			}
		})
	}
}

// TestCredentialLimit: a credential that pins no agent is limited as a
// whole, whatever agents it names, and a draft refused by its agent's
// bucket takes nothing from the credential's.
func TestCredentialLimit(t *testing.T) { modes(t, testCredentialLimit) }

func testCredentialLimit(t *testing.T, m redistest.Mode) {
	c := client(t, m, prefix(t), Options{Agent: Limit{Rate: 1, Burst: 1}, Credential: Limit{Rate: 1, Burst: 3}})
	ctx := context.Background()
	allowed := func(agent string) bool {
		b, err := c.Begin(ctx, Draft{Tenant: "t", Agent: agent, Credential: "key1", Now: t0})
		if err != nil {
			t.Fatal(err)
		}
		return b.Allowed
	}
	got := []bool{allowed("a1"), allowed("a1"), allowed("a2"), allowed("a3"), allowed("a4")}
	if fmt.Sprint(got) != "[true false true true false]" {
		t.Errorf("allowed %v, want [true false true true false]: a1's second is its own bucket's, a4 the credential's", got)
	}
}

// TestCommitConflict: a commit on a stale version fails with ErrConflict
// and spends nothing (no alert window, no sample); on the version read
// again it goes through.
func TestCommitConflict(t *testing.T) { modes(t, testCommitConflict) }

func testCommitConflict(t *testing.T, m redistest.Mode) {
	c := client(t, m, prefix(t), Options{})
	ctx := context.Background()
	b, err := c.Begin(ctx, Draft{Tenant: "t", Conversation: "c1", Now: t0})
	if err != nil || b.Version != 0 || b.Conv.ID != "c1" || b.Conv.Turns != 0 {
		t.Fatalf("Begin = %+v, %v", b, err)
	}
	next := inspect.Conversation{ID: "c1", Turns: 1, Risk: 0.5}
	first, err := c.Commit(ctx, Commit{Tenant: "t", Conversation: "c1", Version: 0, Next: &next, Now: t0})
	if err != nil || first.Version != 1 {
		t.Fatalf("first commit = %+v, %v", first, err)
	}
	stale := Commit{Tenant: "t", Conversation: "c1", Version: 0, Next: &next, Now: t0,
		Alerts: []Alert{{Kind: "complaint", Rank: 3}}, Window: time.Minute, Sample: &Sample{Reason: sampling.ReasonHash}}
	if _, err := c.Commit(ctx, stale); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale commit: %v, want ErrConflict", err)
	}
	snap, err := c.Read(ctx, "t", "c1")
	if conv, v := snap.Conv, snap.Version; err != nil || v != 1 || conv.Turns != 1 || conv.Risk != 0.5 || snap.Sampled {
		t.Fatalf("Read = %+v, %v", snap, err)
	}
	stale.Version = snap.Version
	got, err := c.Commit(ctx, stale)
	if err != nil || got.Version != 2 || !got.Sampled || got.Reason != sampling.ReasonHash || len(got.Admitted) != 1 || !got.Admitted[0] {
		t.Errorf("commit after the conflict = %+v, %v: want the alert admitted and the conversation sampled, nothing spent by the conflict", got, err)
	}
}

// TestNoLostUpdates: gateways incrementing one conversation at once, each
// retrying on conflicts, lose none of their updates.
func TestNoLostUpdates(t *testing.T) { modes(t, testNoLostUpdates) }

func testNoLostUpdates(t *testing.T, m redistest.Mode) {
	pfx := prefix(t)
	const gateways, each = 4, 25
	var wg sync.WaitGroup
	for range gateways {
		c := client(t, m, pfx, Options{})
		wg.Go(func() {
			ctx := context.Background()
			for range each {
				for {
					snap, err := c.Read(ctx, "t", "c1")
					if err != nil {
						t.Error(err)
						return
					}
					conv := snap.Conv
					conv.Turns++
					if _, err := c.Commit(ctx, Commit{Tenant: "t", Conversation: "c1", Version: snap.Version, Next: &conv, Now: t0}); err == nil {
						break
					} else if !errors.Is(err, ErrConflict) {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	snap, err := client(t, m, pfx, Options{}).Read(context.Background(), "t", "c1")
	if err != nil || snap.Conv.Turns != gateways*each || snap.Version != gateways*each {
		t.Errorf("after %d updates: turns %d, version %d, %v", gateways*each, snap.Conv.Turns, snap.Version, err)
	}
}

// TestDecisionsMatchInProcess: a random run of messages gets the same
// alert and sampling decisions from the shared state as from the
// in-process Dedup and Sampler, over several agents, conversations and
// UTC days. Each message is committed on the conversation as read (its
// version and sampling mark), as a gateway commits it after Begin.
func TestDecisionsMatchInProcess(t *testing.T) { modes(t, testDecisionsMatchInProcess) }

func testDecisionsMatchInProcess(t *testing.T, m redistest.Mode) {
	c := client(t, m, prefix(t), Options{ConversationTTL: time.Hour})
	const window = 5 * time.Minute
	dedup := alerting.New(alerting.Config{Window: duration.Duration(window)})
	sampler, err := sampling.New(sampling.Config{Rate: 0.2, Seed: "s", AgentDailyMin: 2})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	levels := []string{"low", "medium", "high", "critical", "unknown"}
	now := t0.Add(20 * time.Hour) // the run crosses midnight UTC
	ctx := context.Background()
	for i := range 400 {
		now = now.Add(time.Duration(rng.IntN(90)) * time.Second)
		conv := fmt.Sprintf("c%d", rng.IntN(40))
		agent := fmt.Sprintf("a%d", rng.IntN(3))
		if rng.IntN(10) == 0 {
			agent = ""
		}
		risk, forced := rng.Float64(), rng.IntN(15) == 0
		kind, level := []string{"complaint", "conduct"}[rng.IntN(2)], levels[rng.IntN(len(levels))]

		wantSampled, wantReason := sampler.Decide("t", conv, agent, risk, forced, now)
		wantAdmit, _ := dedup.Admit("t", conv, kind, level, now)

		snap, err := c.Read(ctx, "t", conv)
		if err != nil {
			t.Fatal(err)
		}
		next := inspect.Conversation{ID: conv, Turns: i}
		got, err := c.Commit(ctx, Commit{Tenant: "t", Conversation: conv, Version: snap.Version, Sampled: snap.Sampled, Next: &next, Now: now,
			Sample: &Sample{Agent: agent, Reason: sampler.Reason("t", conv, risk, forced), AgentDailyMin: sampler.AgentDailyMin()},
			Alerts: []Alert{{Kind: kind, Rank: alerting.Rank(level)}}, Window: window})
		if err != nil {
			t.Fatal(err)
		}
		if got.Sampled != wantSampled || got.Reason != wantReason || got.Admitted[0] != wantAdmit {
			t.Fatalf("message %d (%s, agent %q, %s %s at %v): shared sampled %v %q admitted %v; in-process %v %q %v",
				i, conv, agent, kind, level, now, got.Sampled, got.Reason, got.Admitted[0], wantSampled, wantReason, wantAdmit)
		}
	}
}

// TestUseAck: a token is used up once, on whichever gateway.
func TestUseAck(t *testing.T) { modes(t, testUseAck) }

func testUseAck(t *testing.T, m redistest.Mode) {
	pfx := prefix(t)
	a, b := client(t, m, pfx, Options{}), client(t, m, pfx, Options{})
	nonce := []byte("0123456789abcdef")
	ctx := context.Background()
	for i, tc := range []struct {
		c    *Client
		want bool
	}{{a, true}, {b, false}, {a, false}} {
		got, err := tc.c.UseAck(ctx, nonce, t0.Add(time.Minute), t0)
		if err != nil || got != tc.want {
			t.Errorf("use %d: %v, %v; want %v", i, got, err, tc.want)
		}
	}
}

// TestLifecycle: Forget drops a conversation; Touch keeps one.
func TestLifecycle(t *testing.T) { modes(t, testLifecycle) }

func testLifecycle(t *testing.T, m redistest.Mode) {
	c := client(t, m, prefix(t), Options{})
	ctx := context.Background()
	next := inspect.Conversation{ID: "c1", Turns: 3}
	if _, err := c.Commit(ctx, Commit{Tenant: "t", Conversation: "c1", Next: &next, Now: t0}); err != nil {
		t.Fatal(err)
	}
	if err := c.Touch(ctx, "t", "c1"); err != nil {
		t.Fatal(err)
	}
	if snap, _ := c.Read(ctx, "t", "c1"); snap.Conv.Turns != 3 {
		t.Fatalf("after Touch: %+v", snap.Conv)
	}
	if err := c.Forget(ctx, "t", "c1"); err != nil {
		t.Fatal(err)
	}
	if snap, _ := c.Read(ctx, "t", "c1"); snap.Conv.Turns != 0 || snap.Version != 0 || snap.Conv.ID != "c1" {
		t.Errorf("after Forget: %+v, version %d", snap.Conv, snap.Version)
	}
}

// TestOutage: a server that is away fails calls at once (refused), a
// server that answers nothing (paused) fails them within the timeout, the
// breaker then fails them without waiting, and the client recovers by
// itself when the server is back, scripts reloaded after a restart.
func TestOutage(t *testing.T) {
	srv := redistest.Start(t)
	cfg := Config{Addrs: []string{srv.Addr}, KeyPrefix: prefix(t), Timeout: duration.Duration(30 * time.Millisecond), BreakerOpen: duration.Duration(50 * time.Millisecond)}
	var mu sync.Mutex
	results := map[string]int{}
	c, err := New(cfg, Options{Agent: Limit{Rate: 100, Burst: 100}, ProbeInterval: 50 * time.Millisecond,
		Observe: func(op, result string, _ time.Duration) { mu.Lock(); results[result]++; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	begin := func() (time.Duration, error) {
		start := time.Now()
		_, err := c.Begin(ctx, Draft{Tenant: "t", Agent: "a", Conversation: "c1", Now: time.Now()})
		return time.Since(start), err
	}
	if _, err := begin(); err != nil {
		t.Fatal(err)
	}
	for _, phase := range []struct {
		name          string
		down, up      func()
		restartsEmpty bool
	}{
		{"paused (slow)", srv.Pause, srv.Resume, false},
		{"stopped", srv.Stop, srv.Restart, true},
	} {
		phase.down()
		for i := range 20 {
			d, err := begin()
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("%s: call %d: %v, want ErrUnavailable", phase.name, i, err)
			}
			if d > 30*time.Millisecond+100*time.Millisecond {
				t.Fatalf("%s: call %d took %v, past its 30ms timeout", phase.name, i, d)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if c.Status().Up || c.Status().Since.IsZero() {
			t.Errorf("%s: status %+v, want down", phase.name, c.Status())
		}
		phase.up()
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, err := begin(); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("%s: not recovered within 5s: %v", phase.name, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !c.Status().Up {
			t.Errorf("%s: status %+v after recovery", phase.name, c.Status())
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if results["open"] == 0 || results["error"] == 0 {
		t.Errorf("results %v: want calls refused by the open breaker and failed ones", results)
	}
}

// Example shows a draft's two round trips, and an ack used up.
func Example() {
	c, err := New(Config{Addrs: []string{"127.0.0.1:6379"}}, Options{Agent: Limit{Rate: 5, Burst: 10}})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	ctx := context.Background()
	now := time.Now()
	b, err := c.Begin(ctx, Draft{Tenant: "t1", Agent: "a7", Conversation: "c42", Now: now})
	switch {
	case errors.Is(err, ErrUnavailable):
		return // degrade to local state, or answer 503, as shared_state.mode says
	case !b.Allowed:
		return // 429
	}
	next := b.Conv // ... inspect the draft on b.Conv, giving the next conversation
	next.Turns++
	_, err = c.Commit(ctx, Commit{Tenant: "t1", Conversation: "c42", Version: b.Version, Next: &next, Now: now,
		Alerts: []Alert{{Kind: "complaint", Rank: alerting.Rank("high")}}, Window: 5 * time.Minute})
	if errors.Is(err, ErrConflict) {
		return // another gateway committed first: Read, inspect again, Commit again
	}
	var nonce [16]byte
	crand.Read(nonce[:])
	first, err := c.UseAck(ctx, nonce[:], now.Add(5*time.Minute), now)
	fmt.Println(first, err)
}

// hashTag is what Redis hashes of a key for its cluster slot: the part
// between the first "{" and the first "}" after it when that is not
// empty, else the whole key.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

// TestKeys: the key layout; the keys one script touches share a hash tag
// (so a cluster slot) whatever the ids hold; and no two (tenant, id)
// pairs share a key.
func TestKeys(t *testing.T) {
	c := &Client{prefix: "p:"}
	for _, tc := range []struct{ got, want string }{
		{c.key("c", []string{"t1", "conv1"}), "p:c:{2:t1:5:conv1}"},
		{c.key("s", []string{"t1", "conv1"}), "p:s:{2:t1:5:conv1}"},
		{c.key("a", []string{"t1", "conv1"}, "complaint"), "p:a:{2:t1:5:conv1}:9:complaint"},
		{c.key("d", []string{"t1", "a7"}, "2026-12-01"), "p:d:{2:t1:2:a7}:10:2026-12-01"},
		{c.key("r:a", []string{"t1", "a7"}), "p:r:a:{2:t1:2:a7}"},
		{c.key("r:k", []string{"t1", "key1"}), "p:r:k:{2:t1:4:key1}"},
		{c.key("k", nil, "abc"), "p:k:3:abc"},
	} {
		if tc.got != tc.want {
			t.Errorf("key %q, want %q", tc.got, tc.want)
		}
	}
	ids := []string{"", "a", "a:1", "1:a", "}", "{", "a}b", "{x}", "}{", "2:a"}
	seen := map[string][2]string{}
	for _, tenant := range ids {
		for _, id := range ids {
			conv := c.key("c", []string{tenant, id})
			for _, k := range []string{c.key("s", []string{tenant, id}), c.key("a", []string{tenant, id}, "complaint"), c.key("a", []string{tenant, id}, "}{")} {
				if hashTag(k) != hashTag(conv) {
					t.Errorf("(%q, %q): %q and %q in different slots", tenant, id, conv, k)
				}
			}
			if hashTag(c.key("r:a", []string{tenant, id})) != hashTag(c.key("d", []string{tenant, id}, "2026-12-01")) {
				t.Errorf("agent (%q, %q): bucket and day in different slots", tenant, id)
			}
			if p, ok := seen[conv]; ok {
				t.Errorf("(%q, %q) and (%q, %q) share the key %q", tenant, id, p[0], p[1], conv)
			}
			seen[conv] = [2]string{tenant, id}
		}
	}
}

// TestClusterSlots: on the cluster, the keys of one conversation (the
// conversation, its sampling mark, its alerts) are in one slot, on the
// node that holds it, and so are an agent's (its bucket, its day); and
// conversations spread over every primary.
func TestClusterSlots(t *testing.T) {
	c := client(t, redistest.Mode{Name: "cluster", Cluster: true}, prefix(t), Options{Agent: Limit{Rate: 1, Burst: 5}})
	cc := c.rdb.(*redis.ClusterClient)
	ctx := context.Background()
	var primaries []string
	var mu sync.Mutex
	if err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		primaries = append(primaries, n.Options().Addr)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(primaries) < 2 {
		t.Fatalf("primaries %v: the test cluster should have several", primaries)
	}
	used := map[string]int{}
	// holder returns the node holding every key of keys, failing the test
	// unless they share a slot and that node has each of them.
	holder := func(what string, keys ...string) string {
		t.Helper()
		slot, err := cc.ClusterKeySlot(ctx, keys[0]).Result()
		if err != nil {
			t.Fatal(err)
		}
		n, err := cc.MasterForKey(ctx, keys[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if s, err := cc.ClusterKeySlot(ctx, k).Result(); err != nil || s != slot {
				t.Errorf("%s: %q in slot %d, %q in %d (%v)", what, keys[0], slot, k, s, err)
			}
			if got, err := n.Exists(ctx, k).Result(); err != nil || got != 1 {
				t.Errorf("%s: %q not on %s, the node of its slot %d (%v)", what, k, n.Options().Addr, slot, err)
			}
		}
		return n.Options().Addr
	}
	const convs = 30
	for i := range convs {
		conv, agent := fmt.Sprintf("c%d", i), fmt.Sprintf("a%d", i)
		if _, err := c.Begin(ctx, Draft{Tenant: "t", Agent: agent, Conversation: conv, Now: t0}); err != nil {
			t.Fatal(err)
		}
		next := inspect.Conversation{ID: conv, Turns: 1}
		got, err := c.Commit(ctx, Commit{Tenant: "t", Conversation: conv, Next: &next, Now: t0,
			Sample: &Sample{Agent: agent, AgentDailyMin: 1}, Alerts: []Alert{{Kind: "complaint", Rank: 2}, {Kind: "conduct", Rank: 1}}, Window: time.Minute})
		if err != nil || !got.Sampled {
			t.Fatalf("commit %s: %+v, %v", conv, got, err)
		}
		used[holder(conv, c.key("c", []string{"t", conv}), c.key("s", []string{"t", conv}),
			c.key("a", []string{"t", conv}, "complaint"), c.key("a", []string{"t", conv}, "conduct"))]++
		holder(agent, c.key("r:a", []string{"t", agent}), c.key("d", []string{"t", agent}, t0.Format(time.DateOnly)))
	}
	if len(used) != len(primaries) {
		t.Errorf("%d conversations on %v, want them spread over all of %v", convs, used, primaries)
	}
}

// TestSamplingMinimumRace: two gateways committing the same conversations
// of one agent at once (each conversation by both, retrying on
// conflicts) sample exactly the agent's daily minimum by it, each counted
// once, and agree on every conversation's reason; with some conversations
// sampled for a reason of their own, those count towards the minimum.
func TestSamplingMinimumRace(t *testing.T) { modes(t, testSamplingMinimumRace) }

func testSamplingMinimumRace(t *testing.T, m redistest.Mode) {
	const agents, convs, minimum = 4, 30, 5
	for _, tc := range []struct {
		name string
		hash func(i int) bool // conversations sampled by hash
	}{
		{"minimum only", func(int) bool { return false }},
		{"some by hash", func(i int) bool { return i%4 == 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pfx := prefix(t)
			gateways := []*Client{client(t, m, pfx, Options{}), client(t, m, pfx, Options{})}
			ctx := context.Background()
			reasons := make([]map[string]string, len(gateways))
			var wg sync.WaitGroup
			for g, c := range gateways {
				reasons[g] = map[string]string{}
				wg.Go(func() {
					for a := range agents {
						for i := range convs {
							conv, reason := fmt.Sprintf("a%d-c%d", a, i), ""
							if tc.hash(i) {
								reason = sampling.ReasonHash
							}
							for {
								snap, err := c.Read(ctx, "t", conv)
								if err != nil {
									t.Error(err)
									return
								}
								next := snap.Conv
								next.Turns++
								got, err := c.Commit(ctx, Commit{Tenant: "t", Conversation: conv, Version: snap.Version, Sampled: snap.Sampled, Next: &next, Now: t0,
									Sample: &Sample{Agent: fmt.Sprintf("a%d", a), Reason: reason, AgentDailyMin: minimum}})
								if errors.Is(err, ErrConflict) {
									continue
								}
								if err != nil {
									t.Error(err)
									return
								}
								reasons[g][conv] = got.Reason
								break
							}
						}
					}
				})
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			for a := range agents {
				agent := fmt.Sprintf("a%d", a)
				counted, err := gateways[0].rdb.SMembers(ctx, gateways[0].key("d", []string{"t", agent}, t0.Format(time.DateOnly))).Result()
				if err != nil {
					t.Fatal(err)
				}
				isCounted := map[string]bool{}
				for _, conv := range counted {
					isCounted[conv] = true
				}
				byMinimum := 0
				for i := range convs {
					conv := fmt.Sprintf("a%d-c%d", a, i)
					r0, r1 := reasons[0][conv], reasons[1][conv]
					snap, err := gateways[0].Read(ctx, "t", conv)
					switch {
					case err != nil:
						t.Fatal(err)
					case r0 != r1:
						t.Errorf("%s: reasons %q and %q on the two gateways", conv, r0, r1)
					case tc.hash(i) && r0 != sampling.ReasonHash:
						t.Errorf("%s: reason %q, want hash", conv, r0)
					case snap.Sampled != (r0 != ""):
						t.Errorf("%s: reason %q, mark kept %v", conv, r0, snap.Sampled)
					case r0 == sampling.ReasonAgentMinimum && !isCounted[conv]:
						t.Errorf("%s: sampled for %s's minimum, not counted", conv, agent)
					case r0 == "" && isCounted[conv]:
						t.Errorf("%s: counted for %s, not sampled", conv, agent)
					}
					if r0 == sampling.ReasonAgentMinimum {
						byMinimum++
					}
				}
				if len(counted) != minimum {
					t.Errorf("%s: %d conversations counted (%v), want exactly the minimum, %d", agent, len(counted), counted, minimum)
				}
				if tc.hash(0) == tc.hash(1) && byMinimum != minimum {
					t.Errorf("%s: %d conversations sampled for the minimum, want %d", agent, byMinimum, minimum)
				}
			}
		})
	}
}

// TestScriptsForgotten: a node that forgot the scripts (a restart, SCRIPT
// FLUSH) runs them again at once, each exactly once: the limits count
// every request once, when a draft's buckets are on different nodes too.
func TestScriptsForgotten(t *testing.T) { modes(t, testScriptsForgotten) }

func testScriptsForgotten(t *testing.T, m redistest.Mode) {
	c := client(t, m, prefix(t), Options{Agent: Limit{Rate: 0.001, Burst: 2}, Credential: Limit{Rate: 0.001, Burst: 2}})
	ctx := context.Background()
	flush := func() {
		t.Helper()
		var err error
		if cc, ok := c.rdb.(*redis.ClusterClient); ok {
			// One node forgets, as one restarted would.
			n, e := cc.MasterForKey(ctx, c.key("r:a", []string{"t", "a0"}))
			if err = e; err == nil {
				err = n.ScriptFlush(ctx).Err()
			}
		} else {
			err = c.rdb.ScriptFlush(ctx).Err()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for round, want := range []bool{true, true, false} {
		flush()
		for a := range 12 {
			b, err := c.Begin(ctx, Draft{Tenant: "t", Agent: fmt.Sprintf("a%d", a), Credential: fmt.Sprintf("k%d", a), Conversation: fmt.Sprintf("c%d", a), Now: t0})
			if err != nil || b.Allowed != want {
				t.Fatalf("round %d, agent a%d: %+v, %v; want allowed %v", round, a, b, err, want)
			}
			next := inspect.Conversation{ID: b.Conv.ID, Turns: b.Conv.Turns + 1}
			if _, err := c.Commit(ctx, Commit{Tenant: "t", Conversation: b.Conv.ID, Version: b.Version, Next: &next, Now: t0}); err != nil {
				t.Fatalf("round %d, commit c%d: %v", round, a, err)
			}
		}
	}
}

// BenchmarkCommit measures a commit on each deployment: without an
// agent's daily minimum (the conversation's script alone), with one the
// message's own reason samples for (the agent's part pipelined beside it),
// and with one only the minimum can sample for (the agent's part first:
// one round trip more). The minimum is never reached here, so every
// commit asks the agent's slot; in a run, an agent's part is skipped once
// the agent has its minimum for the day.
func BenchmarkCommit(b *testing.B) {
	for _, m := range redistest.Modes {
		for _, bc := range []struct {
			name, reason string
			minimum      int
		}{
			{"no minimum", "", 0},
			{"minimum, own reason", sampling.ReasonHash, 1 << 30},
			{"minimum decides", "", 1 << 30},
		} {
			b.Run(m.Name+"/"+bc.name, func(b *testing.B) {
				c := client(b, m, prefix(b), Options{})
				ctx := context.Background()
				i := 0
				for b.Loop() {
					i++
					conv := fmt.Sprintf("c%d", i)
					next := inspect.Conversation{ID: conv, Turns: 1}
					got, err := c.Commit(ctx, Commit{Tenant: "t", Conversation: conv, Next: &next, Now: t0,
						Sample: &Sample{Agent: "a1", Reason: bc.reason, AgentDailyMin: bc.minimum}})
					if err != nil || (bc.minimum > 0) != got.Sampled {
						b.Fatalf("commit %d: %+v, %v", i, got, err)
					}
				}
			})
		}
	}
}
