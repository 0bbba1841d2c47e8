package notify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/config/duration"
)

// Retries: what is retried, after how long (backoff without jitter:
// Rand is 0, so half the computed wait; never before Retry-After), and
// what ends as a dead letter at once.
func TestRetries(t *testing.T) {
	type step struct {
		status     int
		retryAfter string
	}
	cases := []struct {
		name      string
		steps     []step
		delivered bool
		sleeps    []time.Duration
		errHas    string
	}{
		{"5xx then success", []step{{500, ""}, {502, ""}, {204, ""}}, true, []time.Duration{500 * time.Millisecond, time.Second}, ""},
		{"429 Retry-After seconds", []step{{429, "7"}, {200, ""}}, true, []time.Duration{7 * time.Second}, ""},
		{"429 Retry-After date", []step{{429, t0.Add(30 * time.Second).Format(http.TimeFormat)}, {200, ""}}, true, []time.Duration{30 * time.Second}, ""},
		{"429 Retry-After shorter than the backoff", []step{{500, ""}, {429, "1"}, {200, ""}}, true, []time.Duration{500 * time.Millisecond, time.Second}, ""},
		{"503 Retry-After", []step{{503, "2"}, {200, ""}}, true, []time.Duration{2 * time.Second}, ""},
		{"429 Retry-After too long", []step{{429, "3600"}}, false, nil, "more than max_retry_after"},
		{"408 then success", []step{{408, ""}, {200, ""}}, true, []time.Duration{500 * time.Millisecond}, ""},
		{"permanent 400", []step{{400, ""}}, false, nil, "status 400"},
		{"permanent 404", []step{{404, ""}}, false, nil, "status 404"},
		{"503 every time", []step{{503, ""}, {503, ""}, {503, ""}}, false, []time.Duration{500 * time.Millisecond, time.Second}, "after 3 attempts"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := newReceiver(t, func(i int, w http.ResponseWriter, _ *http.Request) {
				if i >= len(c.steps) {
					t.Errorf("attempt %d: not expected", i+1)
					return
				}
				if ra := c.steps[i].retryAfter; ra != "" {
					w.Header().Set("Retry-After", ra)
				}
				w.WriteHeader(c.steps[i].status)
			})
			h := newHarness(t, testConfig(webhookChannel(rc.URL)), nil)
			n := sample()
			h.submit(t, n)
			h.close(t)
			if got := len(rc.Hits()); got != len(c.steps) {
				t.Errorf("%d attempts, want %d", got, len(c.steps))
			}
			if got := h.clock.Sleeps(); !slices.Equal(got, c.sleeps) {
				t.Errorf("waits %v, want %v", got, c.sleeps)
			}
			dead, errs := h.dead.all()
			if c.delivered {
				if len(dead) != 0 || h.res.get("hook/delivered") != 1 || !h.ledger.IsDone(n.Key("hook")) {
					t.Errorf("not delivered: dead %v, results %v", errs, h.res.m)
				}
				if h.res.get("hook/retry") != len(c.steps)-1 {
					t.Errorf("%d retries reported, want %d", h.res.get("hook/retry"), len(c.steps)-1)
				}
				return
			}
			if len(dead) != 1 || h.res.get("hook/dead") != 1 || h.ledger.IsDone(n.Key("hook")) {
				t.Fatalf("dead letters %d, results %v", len(dead), h.res.m)
			}
			if dead[0].Key != n.Key("hook") || dead[0].Attempts != len(c.steps) || dead[0].Notification.EventID != n.EventID {
				t.Errorf("dead letter %+v", dead[0])
			}
			if !strings.Contains(errs[0].Error(), c.errHas) {
				t.Errorf("dead letter's error %q, want it to hold %q", errs[0], c.errHas)
			}
			var se *SendError
			if !errors.As(errs[0], &se) || se.Status != c.steps[len(c.steps)-1].status {
				t.Errorf("dead letter's error %#v, want a *SendError with the last status", errs[0])
			}
			if strings.Contains(errs[0].Error(), testSecret) {
				t.Errorf("the error quotes the secret: %v", errs[0])
			}
		})
	}
}

// A platform's rate-limit code is retried after its window (a minute),
// not after the short backoff.
func TestRateLimitCodeWaits(t *testing.T) {
	rc := newReceiver(t, func(i int, w http.ResponseWriter, _ *http.Request) {
		if i == 0 {
			_, _ = w.Write([]byte(`{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}`))
			return
		}
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	})
	cfg := testConfig(ChannelConfig{Name: "ding", Type: TypeDingTalk, BaseURL: rc.URL, TokenEnv: "XJ_TOKEN"})
	h := newHarness(t, cfg, nil)
	h.submit(t, sample())
	h.close(t)
	if got := h.clock.Sleeps(); !slices.Equal(got, []time.Duration{time.Minute}) {
		t.Errorf("waits %v, want [1m]", got)
	}
	if len(rc.Hits()) != 2 || h.res.get("ding/delivered") != 1 {
		t.Errorf("%d posts, results %v", len(rc.Hits()), h.res.m)
	}
}

// An attempt past the per-attempt timeout is cut off and retried; after
// the last one the delivery is a dead letter.
func TestAttemptTimeout(t *testing.T) {
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(100 * time.Millisecond):
		}
		w.WriteHeader(http.StatusNoContent)
	})
	ch := webhookChannel(rc.URL)
	ch.Timeout = duration.Duration(20 * time.Millisecond)
	cfg := testConfig(ch)
	cfg.Retry.MaxAttempts = 2
	h := newHarness(t, cfg, nil)
	start := time.Now()
	h.submit(t, sample())
	h.close(t)
	if len(rc.Hits()) != 2 {
		t.Errorf("%d attempts, want 2", len(rc.Hits()))
	}
	dead, errs := h.dead.all()
	if len(dead) != 1 || !errors.Is(errs[0], context.DeadlineExceeded) || !strings.Contains(errs[0].Error(), "timed out after 20ms") {
		t.Fatalf("dead letters %v", errs)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %v: the timeout did not cut the attempts", took)
	}
}

// The throttle posts Limit notifications per window and folds the rest
// into a digest, posted when the window ends (or at Close): counts by
// kind and level, the gravest first.
func TestThrottleDigest(t *testing.T) {
	rc := newReceiver(t, reply(http.StatusOK, `{"errcode":0,"errmsg":"ok"}`))
	cc := ChannelConfig{Name: "ding", Type: TypeDingTalk, BaseURL: rc.URL, TokenEnv: "XJ_TOKEN",
		Throttle: ThrottleConfig{Limit: 2, Window: duration.Duration(time.Minute), DigestTop: 2}}
	h := newHarness(t, testConfig(cc), nil)
	mk := func(i int, l Level, kind string) Notification {
		n := sample()
		n.EventID = "0190f3b2-7c4e-7a00-8000-00000000000" + string(rune('0'+i))
		n.Level, n.Kind, n.Time = l, kind, t0.Add(time.Duration(i)*time.Second)
		n.Message = "alert " + kind + " 138****5678"
		return n
	}
	ns := []Notification{
		mk(1, LevelLow, "wait"), mk(2, LevelMedium, "complaint"),
		mk(3, LevelCritical, "privacy"), mk(4, LevelHigh, "complaint"), mk(5, LevelCritical, "risk"),
	}
	h.submit(t, ns...)
	rc.waitHits(t, 2)
	if h.res.get("ding/throttled") != 3 {
		t.Errorf("%d throttled, want 3", h.res.get("ding/throttled"))
	}
	h.clock.Advance(time.Minute) // the window ends: the digest is posted
	hits := rc.waitHits(t, 3)
	text := markdownText(t, hits[2].body)
	for _, want := range []string{
		"### 巡检告警摘要（限流合并）",
		"**时段**: 2026-03-01 10:00:00 – 10:01:00",
		"**告警数**: 3",
		"**按类型与级别**\n\n- privacy·严重 × 1\n\n- risk·严重 × 1\n\n- complaint·高 × 1",
		"**级别最高的告警**\n\n- 严重·privacy acme·agent-7·alert privacy 138\\*\\*\\*\\*5678 [↗](https://console.example.com/conversations/conv-42?event=" + ns[2].EventID + ")",
		"\n\n- 严重·risk acme·agent-7·alert risk",
		"另有 1 条，请在控制台查看",
		"[在控制台查看全部告警](https://console.example.com/alerts)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("digest lacks %q:\n%s", want, text)
		}
	}
	for _, n := range ns[2:] {
		if !h.ledger.IsDone(n.Key("ding")) {
			t.Errorf("%s folded into the posted digest, not done", n.Kind)
		}
	}
	// The digest opened a new window and counts in it: one more post
	// fits, the next is folded, and Close posts its digest.
	h.submit(t, mk(6, LevelHigh, "wait"), mk(7, LevelLow, "wait"))
	rc.waitHits(t, 4)
	h.close(t)
	hits = rc.Hits()
	if len(hits) != 5 {
		t.Fatalf("%d posts, want 5", len(hits))
	}
	if text := markdownText(t, hits[4].body); !strings.Contains(text, "**告警数**: 1") || !strings.Contains(text, "- wait·低 × 1") {
		t.Errorf("Close's digest:\n%s", text)
	}
	if h.res.get("ding/throttled") != 4 || h.res.get("ding/delivered") != 5 {
		t.Errorf("results %v", h.res.m)
	}
}

// markdownText returns the markdown text of a DingTalk body.
func markdownText(t *testing.T, body []byte) string {
	t.Helper()
	var b struct{ Markdown struct{ Text string } }
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	return b.Markdown.Text
}

// A delivery the ledger records as done is never posted again: not by a
// new Dispatcher on the same ledger (a restart), nor twice at once in one
// process. A claim never followed by Done (a crash before the platform's
// answer) does not stop it: at least once.
func TestNoDoublePost(t *testing.T) {
	rc := newReceiver(t, reply(http.StatusOK, ""))
	cfg := testConfig(webhookChannel(rc.URL))
	ledger := &MemLedger{}
	n := sample()

	h1 := newHarness(t, cfg, ledger)
	h1.submit(t, n)
	h1.close(t)
	if len(rc.Hits()) != 1 || !ledger.IsDone(n.Key("hook")) {
		t.Fatalf("first run: %d posts", len(rc.Hits()))
	}

	h2 := newHarness(t, cfg, ledger) // the restart
	h2.submit(t, n)
	h2.close(t)
	if len(rc.Hits()) != 1 || h2.res.get("hook/duplicate") != 1 {
		t.Errorf("after a restart: %d posts, results %v", len(rc.Hits()), h2.res.m)
	}

	crashed := &MemLedger{}
	if done, _ := crashed.Claim(context.Background(), n.Key("hook")); done {
		t.Fatal("a fresh ledger says done")
	}
	h3 := newHarness(t, cfg, crashed)
	h3.submit(t, n)
	h3.close(t)
	if len(rc.Hits()) != 2 || !crashed.IsDone(n.Key("hook")) || crashed.Claims(n.Key("hook")) != 2 {
		t.Errorf("after a claim without Done: %d posts", len(rc.Hits()))
	}
}

func TestNoDoublePostInFlight(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		<-release
		w.WriteHeader(http.StatusOK)
	})
	h := newHarness(t, testConfig(webhookChannel(rc.URL)), nil)
	h.submit(t, sample())
	rc.waitHits(t, 1) // the first delivery is in flight
	h.submit(t, sample())
	if h.res.get("hook/duplicate") != 1 {
		t.Errorf("results %v, want one duplicate", h.res.m)
	}
	close(release)
	h.close(t)
	if len(rc.Hits()) != 1 {
		t.Errorf("%d posts, want 1", len(rc.Hits()))
	}
}

// failingLedger cannot answer.
type failingLedger struct{ dones atomic.Int32 }

func (*failingLedger) Claim(context.Context, string) (bool, error) {
	return false, errors.New("database unavailable")
}

func (l *failingLedger) Done(context.Context, string) error {
	l.dones.Add(1)
	return errors.New("database unavailable")
}

// A ledger that cannot answer does not stop an alert (at least once).
func TestLedgerDown(t *testing.T) {
	rc := newReceiver(t, reply(http.StatusOK, ""))
	ledger := &failingLedger{}
	res := &results{}
	d, err := New(testConfig(webhookChannel(rc.URL)), Options{Getenv: env(testEnv), Ledger: ledger, OnDelivery: res.add, Clock: newFakeClock(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Submit(context.Background(), sample()); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(rc.Hits()) != 1 || res.get("hook/delivered") != 1 || ledger.dones.Load() != 1 {
		t.Errorf("%d posts, results %v, %d Done calls", len(rc.Hits()), res.m, ledger.dones.Load())
	}
}

// Close drains what is queued; when its context ends first it cancels
// the deliveries in flight, which are neither done nor dead letters.
func TestClose(t *testing.T) {
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(500 * time.Millisecond):
		}
		w.WriteHeader(http.StatusOK)
	})
	h := newHarness(t, testConfig(webhookChannel(rc.URL)), nil)
	n := sample()
	h.submit(t, n)
	rc.waitHits(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := h.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 300*time.Millisecond {
		t.Errorf("Close took %v", took)
	}
	if dead, _ := h.dead.all(); len(dead) != 0 || h.res.get("hook/canceled") != 1 || h.ledger.IsDone(n.Key("hook")) {
		t.Errorf("dead letters %d, results %v", len(dead), h.res.m)
	}
	if err := h.Submit(context.Background(), n); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close = %v, want ErrClosed", err)
	}
	if err := h.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestSubmitRefusesBadNotifications(t *testing.T) {
	h := newHarness(t, testConfig(webhookChannel("http://127.0.0.1:1/")), nil)
	for name, n := range map[string]Notification{
		"no event id":   {Kind: "complaint", Level: LevelHigh},
		"no kind":       {EventID: "e", Level: LevelHigh},
		"invalid level": {EventID: "e", Kind: "complaint"},
	} {
		if err := h.Submit(context.Background(), n); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: Submit = %v", name, err)
		}
	}
}

// The workers bound the posts in flight, and the pacing spaces them.
func TestWorkersAndPacing(t *testing.T) {
	var cur, most atomic.Int32
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		c := cur.Add(1)
		for m := most.Load(); c > m && !most.CompareAndSwap(m, c); m = most.Load() {
		}
		time.Sleep(15 * time.Millisecond)
		cur.Add(-1)
		w.WriteHeader(http.StatusOK)
	})
	ch := webhookChannel(rc.URL)
	ch.Throttle.MinInterval = duration.Duration(time.Second)
	h := newHarness(t, testConfig(ch), nil) // 2 workers
	for i := range 6 {
		n := sample()
		n.EventID += string(rune('a' + i))
		h.submit(t, n)
	}
	h.close(t)
	if len(rc.Hits()) != 6 || most.Load() > 2 {
		t.Errorf("%d posts, %d at most at once (2 workers)", len(rc.Hits()), most.Load())
	}
	// Six posts one second apart: the first at once, then waits adding
	// up to 5s on the fake clock.
	var total time.Duration
	for _, s := range h.clock.Sleeps() {
		total += s
	}
	if total < 5*time.Second {
		t.Errorf("pacing waited %v in all (%v), want at least 5s", total, h.clock.Sleeps())
	}
}

// backoff: Backoff·2^(n-1) capped at MaxBackoff, half fixed, half jitter.
func TestBackoff(t *testing.T) {
	d := &Dispatcher{retry: RetryConfig{Backoff: duration.Duration(time.Second), MaxBackoff: duration.Duration(10 * time.Second)}}
	for attempt, want := range map[int][2]time.Duration{
		1: {500 * time.Millisecond, time.Second},
		2: {time.Second, 2 * time.Second},
		3: {2 * time.Second, 4 * time.Second},
		4: {4 * time.Second, 8 * time.Second},
		5: {5 * time.Second, 10 * time.Second},
		9: {5 * time.Second, 10 * time.Second},
	} {
		for _, r := range []float64{0, 0.5, 0.999999} {
			d.rand = func() float64 { return r }
			if got := d.backoff(attempt); got < want[0] || got >= want[1] {
				t.Errorf("backoff(%d) with rand %v = %v, want in [%v, %v)", attempt, r, got, want[0], want[1])
			}
		}
	}
}

// A digest counts every folded notification and keeps the gravest only,
// without their context; it is taken once.
func TestDigestTop(t *testing.T) {
	th := &throttle{channel: "c", limit: 0, window: time.Minute, top: 2}
	scheduled := 0
	schedule := func(time.Duration) func() bool { scheduled++; return func() bool { return true } }
	levels := []Level{LevelLow, LevelCritical, LevelMedium, LevelCritical, LevelHigh}
	for i, l := range levels {
		n := sample()
		n.EventID, n.Level, n.Time = string(rune('a'+i)), l, t0.Add(time.Duration(i)*time.Second)
		if send, kept, _ := th.admit(&n, n.Key("c"), t0, schedule); send || !kept {
			t.Fatalf("admit %d: send %v kept %v", i, send, kept)
		}
	}
	dg := th.flush(t0.Add(time.Minute))
	if dg.Total != 5 || len(dg.Keys) != 5 || len(dg.Top) != 2 || dg.Top[0].EventID != "b" || dg.Top[1].EventID != "d" {
		t.Errorf("digest %+v", dg)
	}
	if dg.Top[0].Context != nil {
		t.Error("a digest's top keeps the context")
	}
	if th.flush(t0.Add(2*time.Minute)) != nil {
		t.Error("flushed twice")
	}
	if scheduled != 1 {
		t.Errorf("the window's end scheduled %d times, want once", scheduled)
	}
}
