package rules

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The fixtures under testdata/reload: v1 warns on any finding, v2 blocks;
// broken has a type error at xunjian/decision.rego:7, failing a failing
// test at xunjian/decision_test.rego:5, baddata misspelt actions in its
// data.json.
const fixtures = "testdata/reload"

// putBundle replaces the bundle in dir by the fixture name.
func putBundle(t testing.TB, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(fixtures, name))); err != nil {
		t.Fatal(err)
	}
}

// liveDir returns a temporary directory holding the fixture name.
func liveDir(t testing.TB, name string) string {
	t.Helper()
	dir := t.TempDir()
	putBundle(t, dir, name)
	return dir
}

// tarOf returns the fixture name as .tar.gz bytes.
func tarOf(t *testing.T, name string) []byte {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name+".tar.gz")
	writeTarGz(t, filepath.Join(fixtures, name), dst)
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The tests' Reloaders all carry *attachment (nil without Attach).
type (
	testOptions = ReloaderOptions[*attachment]
	testSwap    = Swap[*attachment]
)

// current is the policy r serves.
func current(r *Reloader[*attachment]) *Policy {
	p, _ := r.Current()
	return p
}

// attached is the attachment r serves with its policy.
func attached(r *Reloader[*attachment]) *attachment {
	_, a := r.Current()
	return a
}

// events records a Reloader's callbacks.
type events struct {
	mu     sync.Mutex
	swaps  []testSwap
	errors []*ReloadError
}

func (e *events) options(o testOptions) testOptions {
	o.OnSwap = func(s testSwap) { e.mu.Lock(); e.swaps = append(e.swaps, s); e.mu.Unlock() }
	o.OnError = func(err *ReloadError) { e.mu.Lock(); e.errors = append(e.errors, err); e.mu.Unlock() }
	return o
}

func (e *events) counts() (swaps, errs int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.swaps), len(e.errors)
}

func newReloader(t *testing.T, src Source, opts testOptions) *Reloader[*attachment] {
	t.Helper()
	r, err := NewReloader(context.Background(), src, opts)
	if err != nil {
		t.Fatalf("NewReloader(%s): %v", src, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func mustSource(t *testing.T, spec string, opts SourceOptions) Source {
	t.Helper()
	src, err := NewSource(spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// wantServing checks that r serves revision rev and that it decides as
// that fixture does.
func wantServing(t *testing.T, r *Reloader[*attachment], rev string) {
	t.Helper()
	want := map[string]Action{"v1": Warn, "v2": Block}[rev]
	p := current(r)
	d, err := p.Decide(context.Background(), agentInput(finding("tone", "rude", "high")))
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	if p.Revision() != rev || d.Revision != rev || d.Action != want {
		t.Errorf("serving %s deciding %v (revision %s), want %s deciding %v", p.Revision(), d.Action, d.Revision, rev, want)
	}
	if s := r.Status(); s.Current.Revision != rev {
		t.Errorf("Status().Current = %+v, want revision %s", s.Current, rev)
	}
}

func TestReloadGoodVersion(t *testing.T) {
	ctx := context.Background()
	dir := liveDir(t, "v1")
	var ev events
	r := newReloader(t, mustSource(t, dir, SourceOptions{}), ev.options(testOptions{}))
	wantServing(t, r, "v1")
	old := current(r)

	// Nothing changed: nothing happens.
	if changed, err := r.check(ctx, false); changed || err != nil {
		t.Fatalf("check on an unchanged source = %v, %v", changed, err)
	}
	// Touching the files is no new version.
	now := time.Now().Add(time.Second)
	os.Chtimes(filepath.Join(dir, "xunjian", "decision.rego"), now, now)
	if changed, err := r.check(ctx, false); changed || err != nil {
		t.Fatalf("check after a touch = %v, %v", changed, err)
	}

	putBundle(t, dir, "v2")
	if changed, err := r.check(ctx, false); !changed || err != nil {
		t.Fatalf("check after a change = %v, %v; want a swap", changed, err)
	}
	wantServing(t, r, "v2")
	// The old version still decides for requests that hold it.
	if d, err := old.Decide(ctx, agentInput(finding("tone", "rude", "high"))); err != nil || d.Action != Warn || d.Revision != "v1" {
		t.Errorf("old policy after the swap: %v (%s), %v", d.Action, d.Revision, err)
	}
	if n, e := ev.counts(); n != 1 || e != 0 {
		t.Fatalf("%d swaps and %d errors, want 1 and 0", n, e)
	}
	if s := ev.swaps[0]; s.Old != old || s.New != current(r) || s.Rollback || s.Time.IsZero() {
		t.Errorf("swap event %+v", s)
	}
	s := r.Status()
	if s.Reloads != 1 || s.Refusals != 0 || len(s.Previous) != 1 || s.Previous[0].Revision != "v1" ||
		s.Current.Digest == s.Previous[0].Digest || s.Source != dir || s.LastCheck.IsZero() {
		t.Errorf("status %+v", s)
	}
	if changed, err := r.check(ctx, false); changed || err != nil {
		t.Errorf("check after the swap = %v, %v", changed, err)
	}
}

func TestReloadRefused(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		stage   Stage
		want    []Problem // matched on the fields that are set
	}{
		{"broken", StageLoad, []Problem{{File: "xunjian/decision.rego", Line: 7, Code: "rego_type_error"}}},
		{"../syntax", StageLoad, []Problem{
			{File: "xunjian/decision.rego", Line: 7, Code: "rego_parse_error"},
			{File: "xunjian/helpers.rego", Line: 4, Code: "rego_parse_error"},
		}},
		{"failing", StageTest, []Problem{{File: "xunjian/decision_test.rego", Line: 5, Code: CodeTestFailed,
			Message: "data.xunjian_test.test_finding_warns failed"}}},
		{"baddata", StageData, []Problem{
			{File: "xunjian/data.json", Code: CodeData, Message: `data.xunjian.config.actions["tone.rude"]: "blok" is not an action`},
			{File: "xunjian/data.json", Code: CodeData, Message: `data.xunjian.config.kinds["commitment.compensation"].severity_actions.urgent: "urgent" is not a severity`},
			{File: "xunjian/data.json", Code: CodeData, Message: `data.xunjian.tenants.acme.actions["link.external"]: want an action name`},
			// baddata's test wants warn from a policy that blocks: both
			// kinds of problem are reported at once.
			{File: "xunjian/decision_test.rego", Code: CodeTestFailed},
		}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			ctx := context.Background()
			dir := liveDir(t, "v1")
			var ev events
			r := newReloader(t, mustSource(t, dir, SourceOptions{}), ev.options(testOptions{}))
			putBundle(t, dir, tc.fixture)
			changed, err := r.check(ctx, false)
			var rerr *ReloadError
			if changed || !errors.As(err, &rerr) {
				t.Fatalf("check = %v, %v; want a *ReloadError", changed, err)
			}
			if rerr.Stage != tc.stage || rerr.Source != dir || rerr.Time.IsZero() {
				t.Errorf("error stage %q source %q time %v; want %q %q", rerr.Stage, rerr.Source, rerr.Time, tc.stage, dir)
			}
			if len(rerr.Problems) < len(tc.want) {
				t.Errorf("problems %+v, want at least %d", rerr.Problems, len(tc.want))
			}
			for i, w := range tc.want {
				if i >= len(rerr.Problems) {
					break
				}
				if g := rerr.Problems[i]; (w.File != "" && g.File != w.File) || (w.Line != 0 && g.Line != w.Line) ||
					g.Code != w.Code || !strings.Contains(g.Message, w.Message) {
					t.Errorf("problem %d = %+v, want %+v", i, g, w)
				}
				if !strings.Contains(err.Error(), tc.want[i].File) {
					t.Errorf("error text lacks %s: %v", tc.want[i].File, err)
				}
			}
			if w := tc.want[0]; w.Line != 0 && !strings.Contains(err.Error(), fmt.Sprintf("%s:%d", w.File, w.Line)) {
				t.Errorf("error text lacks file:line: %v", err)
			}
			// The last good version keeps serving.
			wantServing(t, r, "v1")
			s := r.Status()
			if s.Refused == nil || s.Refused.Stage != tc.stage || s.Refusals != 1 || s.Reloads != 0 || len(s.Previous) != 0 {
				t.Errorf("status %+v", s)
			}
			// The refusal is reported once, not at every poll.
			if changed, err := r.check(ctx, false); changed || err != nil {
				t.Errorf("second check of the refused bundle = %v, %v", changed, err)
			}
			if n, e := ev.counts(); n != 0 || e != 1 {
				t.Errorf("%d swaps and %d errors, want 0 and 1", n, e)
			}
			// A fixed bundle is accepted and clears the refusal.
			putBundle(t, dir, "v2")
			if changed, err := r.check(ctx, false); !changed || err != nil {
				t.Fatalf("check of the fixed bundle = %v, %v", changed, err)
			}
			wantServing(t, r, "v2")
			if s := r.Status(); s.Refused != nil || s.Reloads != 1 {
				t.Errorf("status after the fix %+v", s)
			}
		})
	}
}

func TestReloadFirstVersionRefused(t *testing.T) {
	for _, name := range []string{"broken", "failing"} {
		_, err := NewReloader(context.Background(), mustSource(t, filepath.Join(fixtures, name), SourceOptions{}), testOptions{})
		var rerr *ReloadError
		if !errors.As(err, &rerr) || len(rerr.Problems) == 0 || rerr.Problems[0].File == "" {
			t.Errorf("NewReloader(%s) = %v; want a located *ReloadError", name, err)
		}
	}
}

func TestReloadRequireTests(t *testing.T) {
	src := mustSource(t, "testdata/undefined", SourceOptions{}) // no tests
	r := newReloader(t, src, testOptions{})
	if current(r) == nil {
		t.Fatal("no current policy")
	}
	_, err := NewReloader(context.Background(), src, testOptions{RequireTests: true})
	var rerr *ReloadError
	if !errors.As(err, &rerr) || rerr.Stage != StageTest || rerr.Problems[0].Code != CodeNoTests {
		t.Errorf("RequireTests on a bundle without tests: %v", err)
	}
}

// attachment stands for the gateway's Inspector: built from a policy,
// closed with it.
type attachment struct {
	p      *Policy
	closed atomic.Bool
}

func (a *attachment) Close() error { a.closed.Store(true); return nil }

func TestReloadAttach(t *testing.T) {
	ctx := context.Background()
	dir := liveDir(t, "v1")
	reject := errors.New("lexicon tone: bad pattern")
	var (
		rejecting atomic.Bool
		rejected  atomic.Pointer[attachment]
		ev        events
	)
	r := newReloader(t, mustSource(t, dir, SourceOptions{}), ev.options(testOptions{
		CloseDelay: time.Millisecond,
		Attach: func(_ context.Context, p *Policy) (*attachment, error) {
			a := &attachment{p: p}
			if rejecting.Load() {
				rejected.Store(a)
				var none *attachment // the usual `return in, err` of a failed constructor
				return none, reject
			}
			return a, nil
		},
	}))
	a1 := attached(r)
	if a1.p != current(r) {
		t.Fatal("the first attachment is not the current policy's")
	}

	rejecting.Store(true)
	putBundle(t, dir, "v2")
	_, err := r.check(ctx, false)
	var rerr *ReloadError
	if !errors.As(err, &rerr) || rerr.Stage != StageAttach || !errors.Is(err, reject) ||
		rerr.Problems[0].Code != CodeRejected || rerr.Revision != "v2" {
		t.Fatalf("Attach rejecting v2: %v", err)
	}
	if a := rejected.Load(); a == nil || a.p.CacheStatus().Enabled {
		t.Error("the rejected policy was not closed")
	}
	wantServing(t, r, "v1")
	if attached(r) != a1 {
		t.Error("attachment changed on a refusal")
	}

	rejecting.Store(false)
	if changed, err := r.Reload(ctx); !changed || err != nil {
		t.Fatalf("Reload = %v, %v", changed, err)
	}
	a2 := attached(r)
	if a2.p != current(r) || a2.p.Revision() != "v2" {
		t.Errorf("attachment of %s after the swap", a2.p.Revision())
	}
	if s := ev.swaps[0]; s.OldAttachment != a1 || s.NewAttachment != a2 {
		t.Errorf("swap event attachments %v, %v", s.OldAttachment, s.NewAttachment)
	}
	if a1.closed.Load() {
		t.Error("the previous attachment, kept for rollback, was closed")
	}

	// Rollback brings back the very same attachment, without Attach.
	if err := r.Rollback(); err != nil {
		t.Fatal(err)
	}
	if attached(r) != a1 {
		t.Error("rollback did not restore the first attachment")
	}
	waitFor(t, a2.closed.Load)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if !a1.closed.Load() {
		t.Error("Close did not close the current attachment")
	}
}

func TestReloadRollback(t *testing.T) {
	ctx := context.Background()
	dir := liveDir(t, "v1")
	var ev events
	r := newReloader(t, mustSource(t, dir, SourceOptions{}), ev.options(testOptions{CloseDelay: time.Millisecond}))
	if err := r.Rollback(); !errors.Is(err, ErrNoPrevious) || !strings.Contains(err.Error(), "serving v1") {
		t.Errorf("Rollback with no history = %v, want ErrNoPrevious", err)
	}
	putBundle(t, dir, "v2")
	if _, err := r.check(ctx, false); err != nil {
		t.Fatal(err)
	}
	v2 := current(r)
	if err := r.Rollback(); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	wantServing(t, r, "v1")
	if n, _ := ev.counts(); n != 2 || !ev.swaps[1].Rollback || ev.swaps[1].Old != v2 {
		t.Errorf("swap events %+v", ev.swaps)
	}
	s := r.Status()
	if s.Rollbacks != 1 || len(s.Previous) != 0 {
		t.Errorf("status after rollback %+v", s)
	}
	if err := r.Rollback(); !errors.Is(err, ErrNoPrevious) {
		t.Errorf("second Rollback = %v, want ErrNoPrevious", err)
	}
	// The version rolled back from is closed after CloseDelay, and still
	// decides correctly for a request that held it.
	waitFor(t, func() bool { return v2.CacheStatus().Reason == "policy closed" })
	if d, err := v2.Decide(ctx, agentInput(finding("tone", "rude", "high"))); err != nil || d.Action != Block {
		t.Errorf("closed v2 decides %v, %v", d.Action, err)
	}

	// Polls do not bring v2 back, not even after a touch.
	now := time.Now().Add(time.Second)
	os.Chtimes(filepath.Join(dir, "xunjian", "decision.rego"), now, now)
	if changed, err := r.check(ctx, false); changed || err != nil {
		t.Errorf("poll after rollback = %v, %v", changed, err)
	}
	wantServing(t, r, "v1")
	// Reload does.
	if changed, err := r.Reload(ctx); !changed || err != nil {
		t.Errorf("Reload after rollback = %v, %v", changed, err)
	}
	wantServing(t, r, "v2")
	// Reload of the version being served is no swap.
	if changed, err := r.Reload(ctx); changed || err != nil {
		t.Errorf("Reload of the served version = %v, %v", changed, err)
	}
}

func TestReloadHistory(t *testing.T) {
	ctx := context.Background()
	dir := liveDir(t, "v1")
	r := newReloader(t, mustSource(t, dir, SourceOptions{}), testOptions{History: 2, CloseDelay: time.Millisecond})
	first := current(r)
	var kept []*Policy
	for _, name := range []string{"v2", "v1", "v2"} {
		kept = append(kept, current(r))
		putBundle(t, dir, name)
		if changed, err := r.check(ctx, false); !changed || err != nil {
			t.Fatalf("reload %s = %v, %v", name, changed, err)
		}
	}
	if s := r.Status(); len(s.Previous) != 2 || s.Previous[0].Revision != "v1" || s.Previous[1].Revision != "v2" {
		t.Errorf("previous %+v", s.Previous)
	}
	// The oldest fell out of the history and is closed; the kept ones are not.
	waitFor(t, func() bool { return first.CacheStatus().Reason == "policy closed" })
	for _, p := range kept[1:] {
		if !p.CacheStatus().Enabled {
			t.Errorf("kept version %s was closed", p.Revision())
		}
	}
	for range 2 {
		if err := r.Rollback(); err != nil {
			t.Fatal(err)
		}
	}
	if current(r) != kept[1] {
		t.Errorf("two rollbacks serve %s, want the second version", current(r).Revision())
	}
}

func TestReloadClose(t *testing.T) {
	ctx := context.Background()
	dir := liveDir(t, "v1")
	r := newReloader(t, mustSource(t, dir, SourceOptions{}), testOptions{})
	putBundle(t, dir, "v2")
	if _, err := r.check(ctx, false); err != nil {
		t.Fatal(err)
	}
	prev := current(r)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r.Close() // idempotent
	if _, err := r.Reload(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Reload after Close = %v", err)
	}
	if err := r.Rollback(); !errors.Is(err, ErrClosed) {
		t.Errorf("Rollback after Close = %v", err)
	}
	if current(r) != prev || prev.CacheStatus().Enabled {
		t.Errorf("after Close: current %v, cache %v", current(r).Revision(), prev.CacheStatus())
	}
	wantServing(t, r, "v2") // still decides
}

func TestReloadRun(t *testing.T) {
	dir := liveDir(t, "v1")
	r := newReloader(t, mustSource(t, dir, SourceOptions{}), testOptions{Interval: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	putBundle(t, dir, "v2")
	waitFor(t, func() bool { return current(r).Revision() == "v2" })
	putBundle(t, dir, "broken")
	waitFor(t, func() bool { return r.Status().Refused != nil })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
	wantServing(t, r, "v2")
}

func TestReloadTarFile(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "bundle.tar.gz")
	if err := os.WriteFile(file, tarOf(t, "v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newReloader(t, mustSource(t, file, SourceOptions{}), testOptions{})
	wantServing(t, r, "v1")
	if changed, err := r.check(ctx, false); changed || err != nil {
		t.Fatalf("unchanged tarball: %v, %v", changed, err)
	}
	// Publish v2 the safe way: write beside, rename over.
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, tarOf(t, "v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	if changed, err := r.check(ctx, false); !changed || err != nil {
		t.Fatalf("new tarball: %v, %v", changed, err)
	}
	wantServing(t, r, "v2")
	// A truncated tarball is refused.
	os.WriteFile(file, tarOf(t, "v1")[:100], 0o644)
	if _, err := r.check(ctx, false); err == nil {
		t.Fatal("truncated tarball accepted")
	}
	wantServing(t, r, "v2")
}

// bundleServer serves a bundle tarball like an OPA bundle service: with
// an ETag, answering If-None-Match with 304.
type bundleServer struct {
	mu          sync.Mutex
	body        []byte
	etags       bool // send ETags
	status      int  // non-zero: answer this status instead
	requests    int
	notModified int
	auth        string // the last Authorization header
}

func (s *bundleServer) set(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = body
}

func (s *bundleServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	s.auth = r.Header.Get("Authorization")
	if s.status != 0 {
		w.WriteHeader(s.status)
		return
	}
	if s.etags {
		sum := sha256.Sum256(s.body)
		etag := `"` + hex.EncodeToString(sum[:8]) + `"`
		if r.Header.Get("If-None-Match") == etag {
			s.notModified++
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.Write(s.body)
}

func (s *bundleServer) stats() (requests, notModified int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.notModified
}

func TestReloadHTTP(t *testing.T) {
	ctx := context.Background()
	bs := &bundleServer{etags: true}
	bs.set(tarOf(t, "v1"))
	srv := httptest.NewServer(bs) // listens on 127.0.0.1
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("test server at %s, want loopback", srv.URL)
	}
	header := http.Header{"Authorization": {"Bearer s3cret"}}
	var ev events
	r := newReloader(t, mustSource(t, srv.URL+"/bundles/xunjian.tar.gz", SourceOptions{Header: header}), ev.options(testOptions{}))
	wantServing(t, r, "v1")
	if bs.auth != "Bearer s3cret" {
		t.Errorf("Authorization header %q not sent", bs.auth)
	}

	// Unchanged: a conditional GET answered 304.
	if changed, err := r.check(ctx, false); changed || err != nil {
		t.Fatalf("unchanged: %v, %v", changed, err)
	}
	if req, nm := bs.stats(); req != 2 || nm != 1 {
		t.Errorf("%d requests, %d answered 304; want 2 and 1", req, nm)
	}

	// Changed: new ETag, new body, swapped in.
	bs.set(tarOf(t, "v2"))
	if changed, err := r.check(ctx, false); !changed || err != nil {
		t.Fatalf("changed: %v, %v", changed, err)
	}
	wantServing(t, r, "v2")

	// The server fails: the last good version keeps serving, the error
	// shows in the status until the server is back.
	bs.mu.Lock()
	bs.status = http.StatusServiceUnavailable
	bs.mu.Unlock()
	_, err := r.check(ctx, false)
	var rerr *ReloadError
	if !errors.As(err, &rerr) || rerr.Stage != StageFetch || !strings.Contains(err.Error(), "503") {
		t.Fatalf("server error: %v", err)
	}
	wantServing(t, r, "v2")
	if s := r.Status(); s.FetchError == nil || s.FetchErrors != 1 || s.Refusals != 0 {
		t.Errorf("status while the server fails %+v", s)
	}
	bs.mu.Lock()
	bs.status = 0
	bs.mu.Unlock()
	if changed, err := r.check(ctx, false); changed || err != nil {
		t.Fatalf("server back, bundle unchanged: %v, %v", changed, err)
	}
	if s := r.Status(); s.FetchError != nil {
		t.Errorf("fetch error not cleared: %+v", s.FetchError)
	}

	// The server is gone: connection refused, last good keeps serving.
	srv.Close()
	if _, err := r.check(ctx, false); !errors.As(err, &rerr) || rerr.Stage != StageFetch {
		t.Fatalf("server down: %v", err)
	}
	wantServing(t, r, "v2")
	if _, e := ev.counts(); e != 2 {
		t.Errorf("%d OnError calls, want 2", e)
	}
}

func TestReloadHTTPWithoutETag(t *testing.T) {
	ctx := context.Background()
	bs := &bundleServer{}
	bs.set(tarOf(t, "v1"))
	srv := httptest.NewServer(bs)
	defer srv.Close()
	var ev events
	r := newReloader(t, mustSource(t, srv.URL, SourceOptions{}), ev.options(testOptions{}))
	// The same body again is no new version.
	if changed, err := r.check(ctx, false); changed || err != nil {
		t.Fatalf("same body: %v, %v", changed, err)
	}
	// A broken bundle is refused once, not at every poll.
	bs.set(tarOf(t, "broken"))
	for range 2 {
		r.check(ctx, false)
	}
	if n, e := ev.counts(); n != 0 || e != 1 {
		t.Errorf("%d swaps, %d errors; want 0 and 1", n, e)
	}
	wantServing(t, r, "v1")
}

func TestReloadHTTPLimits(t *testing.T) {
	bs := &bundleServer{}
	bs.set(tarOf(t, "v1"))
	srv := httptest.NewServer(bs)
	defer srv.Close()
	_, err := NewReloader(context.Background(), mustSource(t, srv.URL, SourceOptions{MaxBytes: 100}), testOptions{})
	if err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("oversized bundle: %v", err)
	}
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	start := time.Now()
	_, err = NewReloader(context.Background(), mustSource(t, slow.URL, SourceOptions{Timeout: 50 * time.Millisecond}), testOptions{})
	if err == nil || time.Since(start) > 3*time.Second {
		t.Errorf("slow server: %v after %v", err, time.Since(start))
	}
}

func TestReloadEmbedded(t *testing.T) {
	r := newReloader(t, mustSource(t, "", SourceOptions{}), testOptions{})
	if got := current(r).Revision(); got != "default-1" {
		t.Errorf("embedded revision %q", got)
	}
	if changed, err := r.Reload(context.Background()); changed || err != nil {
		t.Errorf("Reload of the embedded bundle = %v, %v", changed, err)
	}
}

// TestReloadRace has many goroutines deciding on Current while versions
// are swapped in, rolled back and closed: every decision must come whole
// from v1 or from v2. Run with -race.
func TestReloadRace(t *testing.T) {
	ctx := context.Background()
	dir := liveDir(t, "v1")
	r := newReloader(t, mustSource(t, dir, SourceOptions{}), testOptions{
		History:    2,
		CloseDelay: time.Millisecond,
		Attach:     func(_ context.Context, p *Policy) (*attachment, error) { return &attachment{p: p}, nil },
	})
	want := map[string]Action{"v1": Warn, "v2": Block}

	stop := make(chan struct{})
	var (
		wg        sync.WaitGroup
		decisions atomic.Int64
		seen      [2]atomic.Int64
	)
	errs := make(chan error, 16)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				in := agentInput(finding("tone", "rude", "high"))
				in.Conversation.Turns = g*1000 + i%50 // some cache hits, some misses
				p, a := r.Current()
				if a.p != p {
					select {
					case errs <- fmt.Errorf("Current returned policy %s with the attachment of %s: one load must give one version", p.Revision(), a.p.Revision()):
					default:
					}
					return
				}
				if g%2 == 1 { // the gateway's way: the attachment holds the policy
					p = a.p
				}
				d, err := p.Decide(ctx, in)
				if err != nil || want[d.Revision] != d.Action || (d.Revision != "v1" && d.Revision != "v2") {
					select {
					case errs <- fmt.Errorf("decision %v from %q, %v", d.Action, d.Revision, err):
					default:
					}
					return
				}
				decisions.Add(1)
				if d.Action == Block {
					seen[1].Add(1)
				} else {
					seen[0].Add(1)
				}
			}
		}()
	}
	swaps := 0
	for i := range 12 {
		putBundle(t, dir, []string{"v2", "v1"}[i%2])
		if changed, err := r.check(ctx, false); err != nil {
			t.Error(err)
		} else if changed {
			swaps++
		}
		if i%3 == 2 {
			r.Rollback()
		}
		r.Status()
		time.Sleep(2 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if swaps < 4 || decisions.Load() == 0 || seen[0].Load() == 0 || seen[1].Load() == 0 {
		t.Errorf("%d swaps, %d decisions (v1 %d, v2 %d): the test did not exercise both versions",
			swaps, decisions.Load(), seen[0].Load(), seen[1].Load())
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestReloadHTTPS(t *testing.T) {
	bs := &bundleServer{etags: true}
	bs.set(tarOf(t, "v1"))
	srv := httptest.NewUnstartedServer(bs)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshake below is expected
	srv.StartTLS()
	defer srv.Close()
	r := newReloader(t, mustSource(t, srv.URL, SourceOptions{Client: srv.Client()}), testOptions{})
	wantServing(t, r, "v1")
	// Without the test server's certificate the fetch fails.
	if _, err := NewReloader(context.Background(), mustSource(t, srv.URL, SourceOptions{}), testOptions{}); err == nil {
		t.Error("fetch from a server with an unknown certificate succeeded")
	}
}

func TestReloadStatusJSON(t *testing.T) {
	dir := liveDir(t, "v1")
	r := newReloader(t, mustSource(t, dir, SourceOptions{}), testOptions{})
	putBundle(t, dir, "broken")
	r.check(context.Background(), false)
	b, err := json.Marshal(r.Status())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"current":{"revision":"v1","digest":"`, `"previous":[]`, `"refused":{"source":`,
		`"stage":"load","revision":"broken"`, `"problems":[{"file":"xunjian/decision.rego","line":7,"column":`, `"refusals":1`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("status JSON lacks %s:\n%s", want, b)
		}
	}
	if testing.Verbose() {
		t.Logf("%s", b)
	}
}

// TestReloadSameRevisionDigest edits a bundle without bumping its manifest
// revision (a hotfix to v1 that stays "v1"), reloads, rolls back, and is
// refused a broken edit of the same revision: every swap carries both
// versions' digests, so the log line of the rollback tells them apart,
// and identical contents always get the same digest.
func TestReloadSameRevisionDigest(t *testing.T) {
	ctx := context.Background()
	dir := liveDir(t, "v1")
	var ev events
	r := newReloader(t, mustSource(t, dir, SourceOptions{}), ev.options(testOptions{CloseDelay: time.Millisecond}))
	d1 := r.Status().Current.Digest
	if b, err := hex.DecodeString(d1); err != nil || len(b) != sha256.Size {
		t.Fatalf("digest %q: want hex SHA-256", d1)
	}

	// The same contents, loaded again from elsewhere, have the same digest.
	tarball := filepath.Join(t.TempDir(), "v1.tar.gz")
	if err := os.WriteFile(tarball, tarOf(t, "v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{liveDir(t, "v1"), tarball} {
		again := newReloader(t, mustSource(t, spec, SourceOptions{}), testOptions{})
		if d := again.Status().Current.Digest; d != d1 {
			t.Errorf("identical bundle from %s: digest %s, want %s", spec, d, d1)
		}
	}

	rego := filepath.Join(dir, "xunjian", "decision.rego")
	edit := func(from, to string) {
		t.Helper()
		b, err := os.ReadFile(rego)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(rego, []byte(strings.Replace(string(b), from, to, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A hotfix that passes the bundle's tests and keeps its revision.
	edit("package xunjian\n", "package xunjian\n\n# Hotfix, same revision.\ndefault sample := false\n")
	if changed, err := r.check(ctx, false); !changed || err != nil {
		t.Fatalf("reload of the edited v1 = %v, %v", changed, err)
	}
	d2 := r.Status().Current.Digest
	if err := r.Rollback(); err != nil {
		t.Fatal(err)
	}
	if n, _ := ev.counts(); n != 2 {
		t.Fatalf("%d swaps, want 2", n)
	}
	for i, want := range []struct {
		from, to string
		rollback bool
	}{{d1, d2, false}, {d2, d1, true}} {
		sw := ev.swaps[i]
		if sw.OldVersion.Revision != "v1" || sw.NewVersion.Revision != "v1" || sw.Old.Revision() != "v1" || sw.New.Revision() != "v1" {
			t.Errorf("swap %d: revisions %q → %q, want v1 → v1", i, sw.OldVersion.Revision, sw.NewVersion.Revision)
		}
		if sw.OldVersion.Digest != want.from || sw.NewVersion.Digest != want.to || sw.Rollback != want.rollback {
			t.Errorf("swap %d: digests %s → %s (rollback %v), want %s → %s (%v)", i,
				sw.OldVersion.Digest, sw.NewVersion.Digest, sw.Rollback, want.from, want.to, want.rollback)
		}
		if sw.NewVersion.Since.IsZero() || !sw.NewVersion.Since.Equal(sw.Time) {
			t.Errorf("swap %d: new version since %v, swap at %v", i, sw.NewVersion.Since, sw.Time)
		}
	}
	if d1 == d2 {
		t.Fatal("an edit did not change the digest")
	}
	if got := r.Status().Current.Digest; got != d1 {
		t.Errorf("serving digest %s after rollback, want %s", got, d1)
	}

	// The log line of the rollback, as the gateway writes it.
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})).LogAttrs(ctx, slog.LevelInfo, "policy rolled back", ev.swaps[1].LogAttrs()...)
	want := fmt.Sprintf("level=INFO msg=\"policy rolled back\" from=v1 to=v1 from_digest=%s to_digest=%s\n", d2, d1)
	if logged.String() != want {
		t.Errorf("log line\n%s\nwant\n%s", logged.String(), want)
	}

	// Writing back the served contents is no new version.
	edit("\n# Hotfix, same revision.\ndefault sample := false\n", "")
	if changed, err := r.Reload(ctx); changed || err != nil {
		t.Errorf("reload of the served contents = %v, %v", changed, err)
	}

	// A broken edit of the same revision is refused with its own digest.
	edit(`count(input.findings) > 0`, `count(input.findings, 2) > 0`)
	_, err := r.check(ctx, false)
	var re *ReloadError
	if !errors.As(err, &re) {
		t.Fatalf("broken v1: err = %v, want a *ReloadError", err)
	}
	if re.Revision != "v1" || re.Digest == "" || re.Digest == d1 || re.Digest == d2 {
		t.Errorf("refusal revision %q digest %q, want v1 and a digest of its own (served %s)", re.Revision, re.Digest, d1)
	}
	if s := r.Status(); s.Refused == nil || s.Refused.Digest != re.Digest || s.Current.Digest != d1 {
		t.Errorf("status after refusal: %+v", s)
	}
}
