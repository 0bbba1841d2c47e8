package notify

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/config/duration"
	"github.com/xunjian/xunjian/gateway/stream/event"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// fakeClock is a Clock the test moves: Sleep records the wait and moves
// the time at once; Advance moves the time and runs the timers due, in
// the caller's goroutine.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// Advance moves the clock by d and runs the timers now due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	for _, t := range c.timers {
		if !t.stopped && !t.at.After(c.now) {
			t.stopped = true
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}

// hit is one request a receiver got.
type hit struct {
	path   string
	query  string
	header http.Header
	body   []byte
}

// receiver is a platform's stand-in on 127.0.0.1: it records each request
// and answers with respond (i counts the requests from 0).
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	hits []hit
}

func newReceiver(t *testing.T, respond func(i int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		i := len(rc.hits)
		rc.hits = append(rc.hits, hit{path: r.URL.Path, query: r.URL.RawQuery, header: r.Header.Clone(), body: body})
		rc.mu.Unlock()
		if r.Method != http.MethodPost {
			t.Errorf("method %s, want POST", r.Method)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		respond(i, w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) Hits() []hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.hits)
}

// waitHits waits until rc has n requests, for at most 2s (polling).
func (rc *receiver) waitHits(t *testing.T, n int) []hit {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		if h := rc.Hits(); len(h) >= n || time.Now().After(deadline) {
			if len(h) < n {
				t.Fatalf("%d requests, want %d", len(h), n)
			}
			return h
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// reply returns a respond func writing status and body.
func reply(status int, body string) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// env is a Getenv over a map.
func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// The test secrets: distinctive, so that a test can look for them.
const (
	testToken  = "tok3n0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8"
	testSecret = "SECs3cr3t0f1e2d3c4b5a6978695a4b3c2d1e0f"
)

var testEnv = map[string]string{"XJ_TOKEN": testToken, "XJ_SECRET": testSecret}

// testConfig returns a config with chs, all of them in the default route,
// fast retries (max 3 attempts) and a console URL.
func testConfig(chs ...ChannelConfig) Config {
	cfg := Config{
		ConsoleURL: "https://console.example.com/",
		TimeZone:   "UTC",
		Workers:    2,
		Retry: RetryConfig{
			MaxAttempts:    3,
			Backoff:        duration.Duration(time.Second),
			MaxBackoff:     duration.Duration(10 * time.Second),
			AttemptTimeout: duration.Duration(2 * time.Second),
		},
		Channels: chs,
	}
	for _, ch := range chs {
		cfg.DefaultRoute.Channels = append(cfg.DefaultRoute.Channels, ch.Name)
	}
	return cfg
}

func webhookChannel(url string) ChannelConfig {
	return ChannelConfig{Name: "hook", Type: TypeWebhook, URL: url, SecretEnv: "XJ_SECRET"}
}

// sample returns a high complaint alert with three masked turns, two of
// them holding phone masks and one a blocked, undelivered agent draft.
func sample() Notification {
	return Notification{
		EventID:        "0190f3b2-7c4e-7a00-8000-000000000001",
		Time:           t0,
		Tenant:         "acme",
		Team:           "vip",
		ConversationID: "conv-42",
		AgentID:        "agent-7",
		Level:          LevelHigh,
		Kind:           "complaint",
		Message:        "客户威胁投诉（手机 138****5678）",
		Risk:           0.82,
		Context: []event.Turn{
			{Role: event.RoleCustomer, TS: t0.Add(-20 * time.Second), TextMasked: "我的手机 138****5678 一直收不到验证码", Delivered: true},
			{Role: event.RoleAgent, TS: t0.Add(-10 * time.Second), TextMasked: "加我微信 wx_**** 私聊", Action: "block", Delivered: false},
			{Role: event.RoleCustomer, TS: t0, TextMasked: "再不处理就投诉到12315，另一个号 139****1234", Delivered: true},
		},
	}
}

// results counts OnDelivery's reports by "channel/result".
type results struct {
	mu sync.Mutex
	m  map[string]int
}

func (r *results) add(channel, result string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]int{}
	}
	r.m[channel+"/"+result]++
}

func (r *results) get(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[key]
}

// deadLetters records the dead letters.
type deadLetters struct {
	mu   sync.Mutex
	got  []Delivery
	errs []error
}

func (d *deadLetters) Dead(_ context.Context, del Delivery, err error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got = append(d.got, del)
	d.errs = append(d.errs, err)
	return nil
}

func (d *deadLetters) all() ([]Delivery, []error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.got), slices.Clone(d.errs)
}

// quiet is the tests' logger: the failures they provoke are expected.
var quiet = slog.New(slog.DiscardHandler)

// harness is a Dispatcher with its fake clock, results and dead letters.
type harness struct {
	*Dispatcher
	clock  *fakeClock
	res    *results
	dead   *deadLetters
	ledger *MemLedger
}

// newHarness returns a Dispatcher of cfg with testEnv, a fake clock, no
// jitter (Rand 0) and ledger (a new one when nil).
func newHarness(t *testing.T, cfg Config, ledger *MemLedger) *harness {
	t.Helper()
	if ledger == nil {
		ledger = &MemLedger{}
	}
	h := &harness{clock: newFakeClock(), res: &results{}, dead: &deadLetters{}, ledger: ledger}
	d, err := New(cfg, Options{
		Getenv:      env(testEnv),
		Ledger:      ledger,
		DeadLetters: h.dead,
		OnDelivery:  h.res.add,
		Clock:       h.clock,
		Rand:        func() float64 { return 0 },
		Logger:      quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Dispatcher = d
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return h
}

// close closes h's Dispatcher, failing the test on error.
func (h *harness) close(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// submit submits ns, failing the test on error.
func (h *harness) submit(t *testing.T, ns ...Notification) {
	t.Helper()
	for _, n := range ns {
		if err := h.Submit(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
}
