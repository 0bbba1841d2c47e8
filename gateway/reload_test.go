package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/rules"
)

// claimDraft is a draft the default data decides "warn"
// (commitment.absolute_claim); version v2 of the test bundle holds it
// ("confirm").
const claimDraft = `{"text":"这款是全网最低价，放心买"}`

// bundleVersion writes the default bundle into dir as revision rev; with
// stricter, commitment.absolute_claim maps to confirm.
func bundleVersion(t *testing.T, dir, rev string, stricter bool) {
	t.Helper()
	tmp := t.TempDir()
	if err := rules.WriteDefaultBundle(tmp); err != nil {
		t.Fatal(err)
	}
	manifest := fmt.Sprintf(`{"revision": %q, "roots": ["xunjian", "xunjian_test"]}`, rev)
	if err := os.WriteFile(filepath.Join(tmp, ".manifest"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if stricter {
		// A policy change comes with its tests changed to match.
		setAction(t, tmp, "commitment.absolute_claim", "confirm")
		test := filepath.Join(tmp, "xunjian", "decision_test.rego")
		b, err := os.ReadFile(test)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte(`"commitment.absolute_claim": "warn"`), []byte(`"commitment.absolute_claim": "confirm"`))
		writeAtomic(t, test, b)
	}
	// Replace dir's files one by one with renames, as a deploy would.
	for _, name := range []string{"xunjian/data.json", "xunjian/decision.rego", "xunjian/alerts.rego", "xunjian/decision_test.rego", ".manifest"} {
		b, err := os.ReadFile(filepath.Join(tmp, name))
		if err != nil {
			t.Fatal(err)
		}
		writeAtomic(t, filepath.Join(dir, name), b)
	}
}

func writeAtomic(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func setAction(t *testing.T, dir, kind, action string) {
	t.Helper()
	path := filepath.Join(dir, "xunjian", "data.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	data["config"].(map[string]any)["actions"].(map[string]any)[kind] = action
	b, _ = json.MarshalIndent(data, "", "  ")
	writeAtomic(t, path, b)
}

// waitRevision polls /v1/policy until rev serves.
func waitRevision(t *testing.T, g *gw, rev string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := do(t, "GET", g.admin+"/v1/policy", "")
		if r.Body["revision"] == rev {
			return r.Body
		}
		if time.Now().After(deadline) {
			t.Fatalf("revision %s never served; /v1/policy: %s", rev, r.Raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHotReloadUnderLoad swaps the policy while clients send drafts as fast
// as they can: no request fails, every reply comes from exactly one
// version (its policy_revision and its action agree), and after the swap
// the new version decides.
func TestHotReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	bundleVersion(t, dir, "v1", false)
	g := start(t, config.Config{Policy: dir, PolicyPoll: duration.Duration(20 * time.Millisecond)}, "", nil)
	want := map[string]string{"v1": "warn", "v2": "confirm"}

	var (
		stop     atomic.Bool
		requests atomic.Int64
		mu       sync.Mutex
		failures []string
		seen     = map[string]int{}
		lastRev  = map[int]string{} // per worker: revisions never go back
	)
	client := contractClient(t, &http.Transport{MaxIdleConnsPerHost: 8})
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				resp, err := client.Post(g.agent+"/v1/check", "application/json", strings.NewReader(claimDraft))
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					continue
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				requests.Add(1)
				var v struct {
					Action         string `json:"action"`
					PolicyRevision string `json:"policy_revision"`
				}
				json.Unmarshal(raw, &v)
				mu.Lock()
				switch {
				case resp.StatusCode != http.StatusOK:
					failures = append(failures, fmt.Sprintf("%d %s", resp.StatusCode, raw))
				case want[v.PolicyRevision] != v.Action:
					failures = append(failures, fmt.Sprintf("revision %q answered %q (want %q)", v.PolicyRevision, v.Action, want[v.PolicyRevision]))
				case lastRev[w] == "v2" && v.PolicyRevision == "v1":
					failures = append(failures, "v1 answered after v2 had")
				}
				seen[v.PolicyRevision]++
				lastRev[w] = v.PolicyRevision
				mu.Unlock()
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	before := requests.Load()
	bundleVersion(t, dir, "v2", true)
	waitRevision(t, g, "v2")
	time.Sleep(500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	total := requests.Load()
	t.Logf("%d requests (%d before the swap), by revision %v", total, before, seen)
	if len(failures) > 0 {
		t.Fatalf("%d failures, first: %q", len(failures), failures[:min(3, len(failures))])
	}
	if seen["v1"] == 0 || seen["v2"] == 0 || seen["v1"]+seen["v2"] != int(total) {
		t.Fatalf("revisions seen %v of %d requests: want both, and nothing else", seen, total)
	}
	if r := do(t, "POST", g.agent+"/v1/check", claimDraft); r.Body["action"] != "confirm" || r.Body["policy_revision"] != "v2" {
		t.Fatalf("after the swap: %s", r.Raw)
	}
	metrics := do(t, "GET", g.admin+"/metrics", "").Raw
	if !strings.Contains(metrics, `xunjian_policy_reloads_total{result="swapped"} 1`) || !strings.Contains(metrics, `xunjian_policy_info{revision="v2"} 1`) {
		t.Errorf("metrics after the swap:\n%s", grepLines(metrics, "xunjian_policy"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestBrokenBundleAndRollback: a bundle that does not compile, and one
// whose tests fail, are refused (the last good version serves, and the
// error with file and line shows in /v1/policy, the log and a metric);
// rollback returns to the previous version in one call.
func TestBrokenBundleAndRollback(t *testing.T) {
	dir := t.TempDir()
	bundleVersion(t, dir, "v1", false)
	g := start(t, config.Config{Policy: dir, PolicyPoll: duration.Duration(20 * time.Millisecond)}, "", nil)
	if r := do(t, "POST", g.admin+"/v1/policy/rollback", ""); r.Status != http.StatusConflict {
		t.Errorf("rollback with no previous version: %d %s, want 409", r.Status, r.Raw)
	}
	bundleVersion(t, dir, "v2", true)
	waitRevision(t, g, "v2")

	// A syntax error in decision.rego.
	src, err := os.ReadFile(filepath.Join(dir, "xunjian", "decision.rego"))
	if err != nil {
		t.Fatal(err)
	}
	writeAtomic(t, filepath.Join(dir, "xunjian", "decision.rego"), append(bytes.Clone(src), []byte("\nbroken := {\n")...))
	r := do(t, "POST", g.admin+"/v1/policy/reload", "")
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Raw, "decision.rego") {
		t.Errorf("forced reload of a broken bundle: %d %s", r.Status, r.Raw)
	}
	status := do(t, "GET", g.admin+"/v1/policy", "")
	refused, _ := status.Body["status"].(map[string]any)["refused"].(map[string]any)
	if status.Body["revision"] != "v2" || refused == nil || !strings.Contains(fmt.Sprint(refused["problems"]), "decision.rego") {
		t.Errorf("/v1/policy after a broken bundle: %s", status.Raw)
	}
	if r := do(t, "POST", g.agent+"/v1/check", claimDraft); r.Body["action"] != "confirm" {
		t.Errorf("the last good version stopped serving: %s", r.Raw)
	}
	if !strings.Contains(g.logs.String(), "policy bundle refused") || !strings.Contains(g.logs.String(), "decision.rego:") {
		t.Errorf("no log line with file and line for the refused bundle:\n%s", g.logs.String())
	}
	metrics := do(t, "GET", g.admin+"/metrics", "").Raw
	if !strings.Contains(metrics, "xunjian_policy_refused 1") {
		t.Errorf("metrics:\n%s", grepLines(metrics, "xunjian_policy"))
	}

	// A bundle that compiles but whose tests fail: v1's data with a test
	// that expects the impossible.
	writeAtomic(t, filepath.Join(dir, "xunjian", "decision.rego"), src)
	writeAtomic(t, filepath.Join(dir, "xunjian", "zz_test.rego"), []byte("package xunjian_test\n\ntest_impossible if {\n\t1 == 2\n}\n"))
	r = do(t, "POST", g.admin+"/v1/policy/reload", "")
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Raw, "test") {
		t.Errorf("bundle with a failing test: %d %s", r.Status, r.Raw)
	}
	os.Remove(filepath.Join(dir, "xunjian", "zz_test.rego"))

	// Rollback: v2 → v1, at once.
	r = do(t, "POST", g.admin+"/v1/policy/rollback", "")
	if r.Status != http.StatusOK || r.Body["revision"] != "v1" {
		t.Fatalf("rollback: %d %s", r.Status, r.Raw)
	}
	if r := do(t, "POST", g.agent+"/v1/check", claimDraft); r.Body["action"] != "warn" || r.Body["policy_revision"] != "v1" {
		t.Errorf("after rollback: %s", r.Raw)
	}
	if r := do(t, "GET", g.admin+"/v1/policy/rollback", ""); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("GET rollback: %d", r.Status)
	}
}

// TestShadowRule: a rule in package xunjian.shadow runs on live traffic,
// never changes the action, and shows in the event's shadow field and a
// metric.
func TestShadowRule(t *testing.T) {
	dir := t.TempDir()
	bundleVersion(t, dir, "shadow-1", false)
	writeAtomic(t, filepath.Join(dir, "xunjian", "shadow.rego"), []byte(`package xunjian.shadow

# On trial: hold absolute claims for confirmation.
reasons contains {"rule": "shadow.claim.confirm", "action": "confirm", "message": "trial", "finding": i} if {
	some i, f in input.findings
	f.detector == "commitment"
	f.kind == "absolute_claim"
}
`))
	g := start(t, config.Config{Policy: dir}, "", nil)
	r := do(t, "POST", g.agent+"/v1/check", `{"text":"这款是全网最低价，放心买","conversation_id":"shadow-c1"}`)
	if r.Body["action"] != "warn" {
		t.Fatalf("a shadow rule changed the action: %s", r.Raw)
	}
	metrics := do(t, "GET", g.admin+"/metrics", "").Raw
	if !strings.Contains(metrics, `xunjian_shadow_fires_total{action="confirm",rule="shadow.claim.confirm"} 1`) {
		t.Errorf("shadow metric:\n%s", grepLines(metrics, "shadow"))
	}
	ev := consumeOne(t, g.srv.broker.Addr(), "xunjian.findings")
	if len(ev.Shadow) != 1 || ev.Shadow[0].Rule != "shadow.claim.confirm" || ev.Action != event.ActionWarn || ev.EventID != r.Body["decision_id"] {
		t.Errorf("event shadow %+v action %v id %s (decision %v)", ev.Shadow, ev.Action, ev.EventID, r.Body["decision_id"])
	}
}

// TestCacheMaxBytesBoundsBothCaches: cache.max_bytes is what bounds the
// detector findings cache and the policy's decision cache, as its doc says;
// cache.disabled turns both off.
func TestCacheMaxBytesBoundsBothCaches(t *testing.T) {
	g := start(t, config.Config{Cache: config.Cache{MaxBytes: 3 << 20}}, "", nil)
	in := g.srv.inspector()
	if got := in.CacheMaxBytes(); got != 3<<20 {
		t.Errorf("findings cache bound %d, want cache.max_bytes %d", got, 3<<20)
	}
	if got := in.Policy().CacheMaxBytes(); got != 3<<20 {
		t.Errorf("decision cache bound %d, want cache.max_bytes %d", got, 3<<20)
	}
	off := start(t, config.Config{Cache: config.Cache{MaxBytes: 3 << 20, Disabled: true}}, "", nil)
	if in := off.srv.inspector(); in.CacheMaxBytes() != 0 || in.Policy().CacheMaxBytes() != 0 {
		t.Errorf("cache.disabled: findings %d, decisions %d bytes, want both off", in.CacheMaxBytes(), in.Policy().CacheMaxBytes())
	}
}
