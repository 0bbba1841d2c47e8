package tail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/internal/testproc"
)

// nine produces 9 events to topic, 3 per partition (one conversation per
// partition, as the key hash would place them), and returns them per
// partition in production order.
func nine(t *testing.T, addrs []string, topic string) [][]*event.Event {
	t.Helper()
	per := make([][]*event.Event, 3)
	var rs []rec
	for i := range 9 {
		p := int32(i % 3)
		e := testEvent(t, fmt.Sprintf("conv-%d", p), i)
		per[p] = append(per[p], e)
		rs = append(rs, eventRec(t, p, e))
	}
	produce(t, addrs, topic, rs...)
	return per
}

// checkOrder checks that out holds every event of per exactly once, found
// by the needle of each, and each group's (partition's, conversation's) in
// order.
func checkOrder(t testing.TB, out string, per [][]*event.Event, needle func(*event.Event) string) {
	t.Helper()
	for p, es := range per {
		last := -1
		for _, e := range es {
			n := needle(e)
			if c := strings.Count(out, n); c != 1 {
				t.Errorf("group %d: %q appears %d times, want 1", p, n, c)
				continue
			}
			i := strings.Index(out, n)
			if i < last {
				t.Errorf("group %d: %q out of order", p, n)
			}
			last = i
		}
	}
}

// textNeedle is the masked-text line of e in the text layout, unique per
// test event.
func textNeedle(e *event.Event) string { return "\n  text " + e.TextMasked + "\n" }

func jsonNeedle(t testing.TB) func(*event.Event) string {
	return func(e *event.Event) string { return string(marshal(t, e)) + "\n" }
}

func TestTailRunAllPartitionsFromBeginning(t *testing.T) {
	for _, mode := range []struct {
		name  string
		group string
	}{{"no group", ""}, {"group", "g1"}} {
		t.Run(mode.name, func(t *testing.T) {
			c := newFake(t, false, "xunjian.alerts")
			per := nine(t, c.ListenAddrs(), "xunjian.alerts")
			for _, asJSON := range []bool{false, true} {
				var out bytes.Buffer
				var errOut testproc.Buffer
				group := mode.group
				if group != "" {
					group += fmt.Sprint(asJSON) // a fresh group: no committed offsets
				}
				tl, err := New(Options{
					Brokers: c.ListenAddrs(), Topic: "xunjian.alerts", Group: group,
					FromBeginning: true, Max: 9, JSON: asJSON,
					Format: Format{Location: time.UTC}, Out: &out, Err: &errOut,
				})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
				err = tl.Run(ctx)
				cancel()
				if err != nil {
					t.Fatalf("json=%v: Run: %v\nstderr:\n%s", asJSON, err, errOut.String())
				}
				if asJSON {
					checkOrder(t, out.String(), per, jsonNeedle(t))
					if n := strings.Count(out.String(), "\n"); n != 9 {
						t.Errorf("%d JSON lines, want 9", n)
					}
					continue
				}
				checkOrder(t, out.String(), per, textNeedle)
				if !strings.HasPrefix(out.String(), "-- 2026-11-23 +00:00\n") || strings.Count(out.String(), "-- 2026") != 1 {
					t.Errorf("want one day line first:\n%s", out.String())
				}
				for _, want := range []string{
					"12:03:28.123 acme/conv-0 agent a7  ALLOW\n",
					"12:03:29.123 acme/conv-1 agent a7  BLOCK\n",
					"  privacy.phone high 138****5678\n",
					"  rule privacy.phone.block block: 请勿发送手机号\n",
					"  ALERT high complaint: 顾客威胁投诉或升级\n",
				} {
					if !strings.Contains(out.String(), want) {
						t.Errorf("output lacks %q:\n%s", want, out.String())
					}
				}
				if !strings.Contains(errOut.String(), "xunjian.alerts") {
					t.Errorf("no start note on stderr: %q", errOut.String())
				}
			}
		})
	}
}

// TestGroupResumes checks that a group commits what it printed: a second
// run of the same group prints only what came after.
func TestTailGroupResumes(t *testing.T) {
	c := newFake(t, false, "xunjian.findings")
	addrs := c.ListenAddrs()
	first := nine(t, addrs, "xunjian.findings")
	run := func(max int) string {
		var out bytes.Buffer
		tl, err := New(Options{Brokers: addrs, Topic: "xunjian.findings", Group: "qa", FromBeginning: true,
			Max: max, JSON: true, Out: &out})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		if err := tl.Run(ctx); err != nil {
			t.Fatalf("Run: %v", err)
		}
		return out.String()
	}
	out := run(9)
	checkOrder(t, out, first, jsonNeedle(t))
	var rs []rec
	later := make([][]*event.Event, 3)
	for i := range 3 {
		e := testEvent(t, fmt.Sprintf("later-%d", i), 100+i)
		later[i] = append(later[i], e)
		rs = append(rs, eventRec(t, int32(i), e))
	}
	produce(t, addrs, "xunjian.findings", rs...)
	out = run(3)
	checkOrder(t, out, later, jsonNeedle(t))
	if strings.Contains(out, "conv-") {
		t.Errorf("second run of the group printed old events:\n%s", out)
	}
}

// TestFromEnd checks that without FromBeginning only events published
// after the start note are printed.
func TestTailFromEnd(t *testing.T) {
	c := newFake(t, false, "xunjian.samples")
	addrs := c.ListenAddrs()
	nine(t, addrs, "xunjian.samples")
	var out, errOut testproc.Buffer
	tl, err := New(Options{Brokers: addrs, Topic: "xunjian.samples", Max: 3, Out: &out, Err: &errOut,
		Format: Format{Location: time.UTC}})
	if err != nil {
		t.Fatal(err)
	}
	done := started(t, t.Context(), tl, &errOut, "from the end")
	later := make([][]*event.Event, 3)
	var rs []rec
	for i := range 3 {
		e := testEvent(t, fmt.Sprintf("new-%d", i), 50+i)
		later[i] = append(later[i], e)
		rs = append(rs, eventRec(t, int32(i), e))
	}
	produce(t, addrs, "xunjian.samples", rs...)
	if err := wait(t, done, 30*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkOrder(t, out.String(), later, textNeedle)
	if strings.Contains(out.String(), "conv-") {
		t.Errorf("printed events from before the start:\n%s", out.String())
	}
}

// TestUndecodable checks that values that are not events give one warning
// each, with partition and offset and without their content, and that
// reading goes on.
func TestTailUndecodable(t *testing.T) {
	const secret = "13812345678"
	c := newFake(t, false, "xunjian.alerts")
	addrs := c.ListenAddrs()
	good := testEvent(t, "conv-ok", 1)
	wrongSchema := eventRec(t, 0, testEvent(t, "conv-v2", 2))
	wrongSchema.headers["schema"] = "xunjian.event/v2"
	produce(t, addrs, "xunjian.alerts",
		rec{partition: 0, key: "k", value: []byte("garbage " + secret)},
		rec{partition: 0, key: "k", value: []byte(`{"event_id":"x","raw_text":"` + secret + `"}`)},
		rec{partition: 0, key: "k", value: []byte(`{"event_id":"x","ts":"` + secret + `"}`)},
		rec{partition: 0, key: "k", value: []byte(`{"event_id":"x","findings":[{"severity":"` + secret + `"}]}`)},
		rec{partition: 0, key: "k", value: []byte(`{"event_id":` + secret + `}`)},
		rec{partition: 0, key: "k", value: []byte(`{"tenant":"` + secret + `"}`)},
		rec{partition: 0, key: "k", value: nil},
		wrongSchema,
		eventRec(t, 0, good),
	)
	for _, asJSON := range []bool{false, true} {
		var out, errOut testproc.Buffer
		tl, err := New(Options{Brokers: addrs, Topic: "xunjian.alerts", FromBeginning: true, Max: 1, JSON: asJSON,
			Out: &out, Err: &errOut, Format: Format{Location: time.UTC}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		err = tl.Run(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		// Only the good event is printed (the text layout itself is
		// checked against golden files in format_test.go).
		want := string(marshal(t, good)) + "\n"
		if !asJSON {
			f := Format{Location: time.UTC}
			want = string(f.Append(f.AppendDay(nil, good.TS), good))
		}
		if out.String() != want {
			t.Errorf("json=%v: output\n%s\nwant only the good event:\n%s", asJSON, out.String(), want)
		}
		for _, s := range []string{out.String(), errOut.String()} {
			if strings.Contains(s, secret) || strings.Contains(s, "garbage") || strings.Contains(s, "raw_text") {
				t.Errorf("a skipped value leaked:\n%s", s)
			}
		}
		var warnings []string
		for l := range strings.Lines(errOut.String()) {
			if strings.Contains(l, "warning") {
				warnings = append(warnings, l)
			}
		}
		wantWarn := []string{
			"partition 0 offset 0: not JSON (syntax error at byte 1) (19 bytes); skipped",
			"partition 0 offset 1: not an xunjian.event/v1 event",
			"partition 0 offset 2: not an xunjian.event/v1 event",
			"partition 0 offset 3: not an xunjian.event/v1 event",
			"partition 0 offset 4: not an xunjian.event/v1 event (field event_id has the wrong type)",
			"partition 0 offset 5: not an xunjian.event/v1 event (no event_id)",
			"partition 0 offset 6: not JSON (truncated or empty) (0 bytes)",
			"partition 0 offset 7: schema header is not xunjian.event/v1",
		}
		if len(warnings) != len(wantWarn) {
			t.Fatalf("json=%v: %d warnings, want %d:\n%s", asJSON, len(warnings), len(wantWarn), errOut.String())
		}
		for i, w := range wantWarn {
			if !strings.Contains(warnings[i], w) || !strings.HasPrefix(warnings[i], "tail: warning: xunjian.alerts ") {
				t.Errorf("warning %d = %q, want it to hold %q", i, warnings[i], w)
			}
		}
	}
}

// TestDedup checks that a repeated event_id is dropped unless Dedup is
// negative.
func TestTailDedup(t *testing.T) {
	c := newFake(t, false, "xunjian.alerts")
	addrs := c.ListenAddrs()
	a, b := testEvent(t, "conv-a", 0), testEvent(t, "conv-b", 1)
	produce(t, addrs, "xunjian.alerts", eventRec(t, 0, a), eventRec(t, 1, a), eventRec(t, 0, a), eventRec(t, 0, b))
	for _, tc := range []struct {
		dedup      int
		max, wantA int
	}{{0, 2, 1}, {1, 2, 1}, {-1, 4, 3}} {
		var out bytes.Buffer
		tl, err := New(Options{Brokers: addrs, Topic: "xunjian.alerts", FromBeginning: true, Max: tc.max,
			Dedup: tc.dedup, JSON: true, Out: &out})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		err = tl.Run(ctx)
		cancel()
		if err != nil {
			t.Fatalf("dedup %d: Run: %v", tc.dedup, err)
		}
		if n := strings.Count(out.String(), a.EventID); n != tc.wantA || !strings.Contains(out.String(), b.EventID) {
			t.Errorf("dedup %d: event a %d times (want %d), b present %v", tc.dedup, n, tc.wantA, strings.Contains(out.String(), b.EventID))
		}
	}
}

// TestCancel checks that Run returns ctx.Err() promptly when its context
// is cancelled while it waits for events.
func TestTailCancel(t *testing.T) {
	c := newFake(t, false, "xunjian.alerts")
	for _, group := range []string{"", "g-cancel"} {
		var errOut testproc.Buffer
		tl, err := New(Options{Brokers: c.ListenAddrs(), Topic: "xunjian.alerts", Group: group, Out: &bytes.Buffer{}, Err: &errOut})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := started(t, ctx, tl, &errOut, "tail: xunjian.alerts:")
		time.Sleep(300 * time.Millisecond) // let the readers fetch
		start := time.Now()
		cancel()
		if err := wait(t, done, 5*time.Second); !errors.Is(err, context.Canceled) {
			t.Errorf("group %q: Run = %v, want context.Canceled", group, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("group %q: Run took %v to stop", group, d)
		}
		if err := tl.Run(t.Context()); !errors.Is(err, ErrRunning) {
			t.Errorf("second Run = %v, want ErrRunning", err)
		}
	}
}

// TestNoTopic checks both behaviours for a missing topic: an error wrapping
// ErrNoTopic (and the topic is not created by the look-up, even where the
// broker would auto-create it), or with WaitForTopic a wait, then the new
// topic read from its start.
func TestTailNoTopic(t *testing.T) {
	c := newFake(t, true)
	addrs := c.ListenAddrs()
	tl, err := New(Options{Brokers: addrs, Topic: "xunjian.nope", Out: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = tl.Run(t.Context())
	if !errors.Is(err, ErrNoTopic) || !strings.Contains(err.Error(), `"xunjian.nope"`) {
		t.Fatalf("Run = %v, want ErrNoTopic naming the topic", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the error took %v", d)
	}
	// The look-up must not have created the topic: a second look finds
	// nothing either.
	tl, _ = New(Options{Brokers: addrs, Topic: "xunjian.nope", Out: &bytes.Buffer{}})
	if err := tl.Run(t.Context()); !errors.Is(err, ErrNoTopic) {
		t.Fatalf("second Run = %v, want ErrNoTopic (was the topic auto-created?)", err)
	}

	var out, errOut testproc.Buffer
	tl, err = New(Options{Brokers: addrs, Topic: "xunjian.late", WaitForTopic: true, PollInterval: 50 * time.Millisecond,
		Max: 2, Out: &out, Err: &errOut, Format: Format{Location: time.UTC}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	done := started(t, ctx, tl, &errOut, "topic xunjian.late does not exist yet; waiting for it")
	// kgo asks for auto-creation: the first produce creates the topic,
	// before the tailer has seen it; both events must still be printed.
	e0, e1 := testEvent(t, "late-0", 0), testEvent(t, "late-1", 1)
	produce(t, addrs, "xunjian.late", eventRec(t, 0, e0), eventRec(t, 1, e1))
	if err := wait(t, done, 30*time.Second); err != nil {
		t.Fatalf("Run: %v\nstderr:\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "late-0") || !strings.Contains(out.String(), "late-1") {
		t.Errorf("events published to the new topic were missed:\n%s", out.String())
	}
	if !strings.Contains(errOut.String(), "from the beginning") {
		t.Errorf("a topic that appeared while waiting must be read from its start:\n%s", errOut.String())
	}
}

// TestUnreachable checks that a broker nobody listens on gives an error,
// not a hang.
func TestTailUnreachable(t *testing.T) {
	c := newFake(t, false)
	addr := c.ListenAddrs()[0]
	c.Close() // the port is now closed
	tl, err := New(Options{Brokers: []string{addr}, Topic: "xunjian.alerts", Out: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err = tl.Run(ctx)
	if err == nil || errors.Is(err, ErrNoTopic) || ctx.Err() != nil || !strings.Contains(err.Error(), "look up topic xunjian.alerts") {
		t.Errorf("Run = %v, want a look-up error", err)
	}
}

func TestTailNewValidation(t *testing.T) {
	out := &bytes.Buffer{}
	for _, tc := range []struct {
		name string
		o    Options
		ok   bool
	}{
		{"ok", Options{Brokers: []string{"127.0.0.1:9092"}, Topic: "t", Out: out}, true},
		{"blank brokers", Options{Brokers: []string{" ", ""}, Topic: "t", Out: out}, false},
		{"no topic", Options{Brokers: []string{"127.0.0.1:9092"}, Out: out}, false},
		{"no out", Options{Brokers: []string{"127.0.0.1:9092"}, Topic: "t"}, false},
		{"negative max", Options{Brokers: []string{"127.0.0.1:9092"}, Topic: "t", Out: out, Max: -1}, false},
		{"negative poll", Options{Brokers: []string{"127.0.0.1:9092"}, Topic: "t", Out: out, PollInterval: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl, err := New(tc.o)
			if (err == nil) != tc.ok {
				t.Fatalf("New: err = %v, want ok=%v", err, tc.ok)
			}
			if tl != nil && (tl.opts.Dedup != DefaultDedup || tl.opts.PollInterval != DefaultPollInterval || tl.opts.Err == nil || tl.opts.Dialer == nil) {
				t.Errorf("defaults not applied: %+v", tl.opts)
			}
		})
	}
}

// TestJSONLines checks that --json writes the value as received, and a
// value spread over several lines on one line.
func TestTailJSONLines(t *testing.T) {
	e := testEvent(t, "c", 1)
	v := marshal(t, e)
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, v, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteString("\n")
	var out bytes.Buffer
	p := newPrinter(&Options{JSON: true, Out: &out, Dedup: -1, Err: io.Discard})
	for _, m := range [][]byte{v, pretty.Bytes()} {
		if _, err := p.handle(kafkaMessage(m)); err != nil {
			t.Fatal(err)
		}
	}
	if want := string(v) + "\n" + string(v) + "\n"; out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestWriteError checks that a failing Out stops the printer with the
// error.
func TestTailWriteError(t *testing.T) {
	p := newPrinter(&Options{Out: failWriter{}, Dedup: -1, Err: io.Discard})
	_, err := p.handle(kafkaMessage(marshal(t, testEvent(t, "c", 0))))
	if !errors.Is(err, errFail) {
		t.Errorf("handle = %v, want the write error", err)
	}
}

var errFail = errors.New("broken pipe")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errFail }
