package load

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// serve starts a fasthttp server on a loopback port running h and returns
// its address.
func serve(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fasthttp.Server{Handler: h}
	go s.Serve(ln) //nolint:errcheck // ends with Shutdown
	t.Cleanup(func() { _ = s.Shutdown() })
	return ln.Addr().String()
}

func TestRun(t *testing.T) {
	var n atomic.Int64
	addr := serve(t, func(ctx *fasthttp.RequestCtx) {
		if n.Add(1)%10 == 0 {
			ctx.SetStatusCode(fasthttp.StatusUnprocessableEntity)
		}
		ctx.SetBody(ctx.PostBody())
	})
	bodies := [][]byte{[]byte(`{"a":1}`), []byte(`{"b":2}`)}
	for _, tc := range []struct {
		name string
		cfg  Config
		mode string
		want int64 // exact request count, or 0 for "some"
	}{
		{"closed, bounded by count", Config{Conns: 4, Duration: 5 * time.Second, MaxRequests: 500}, "closed", 500},
		{"closed, bounded by time", Config{Conns: 4, Duration: 200 * time.Millisecond}, "closed", 0},
		{"open, bounded by time", Config{Conns: 4, Rate: 500, Duration: 400 * time.Millisecond}, "open", 201},
		{"open, bounded by count", Config{Conns: 4, Rate: 1000, Duration: 5 * time.Second, MaxRequests: 50}, "open", 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Addr, cfg.Path, cfg.Bodies = addr, "/send", bodies
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Mode != tc.mode {
				t.Errorf("mode %s, want %s", res.Mode, tc.mode)
			}
			if tc.want > 0 && res.Requests != tc.want {
				t.Errorf("%d requests, want %d", res.Requests, tc.want)
			}
			if res.Requests == 0 || res.Errors != 0 || res.Throughput <= 0 {
				t.Errorf("requests %d, errors %d, throughput %.0f", res.Requests, res.Errors, res.Throughput)
			}
			if got := res.Statuses[200] + res.Statuses[422]; got != res.Requests || res.Unexpected(200, 422) != 0 {
				t.Errorf("statuses %v for %d requests", res.Statuses, res.Requests)
			}
			l := res.Latency
			if !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
				t.Errorf("percentiles out of order: %+v", l)
			}
		})
	}
}

// TestOpenLoopCountsStalls is the coordinated-omission check: a server that
// stalls for 300ms once, under an open-loop rate of 200/s on one
// connection, delays the ~60 requests due during the stall, and their
// latency from the intended send time must show it in the p90 and max;
// the closed loop's service times hide it below the p90.
func TestOpenLoopCountsStalls(t *testing.T) {
	var n atomic.Int64
	addr := serve(t, func(ctx *fasthttp.RequestCtx) {
		if n.Add(1) == 20 {
			time.Sleep(300 * time.Millisecond)
		}
	})
	res, err := Run(context.Background(), Config{Addr: addr, Path: "/", Bodies: [][]byte{[]byte("{}")}, Rate: 200, Conns: 1, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Latency.Max < 250_000 {
		t.Errorf("max %.0fµs: the stall is missing", res.Latency.Max)
	}
	// About 60 of ~200 requests were due during the stall: well over 10%.
	if res.Latency.P90 < 50_000 {
		t.Errorf("open-loop p90 %.0fµs: the requests due during the stall were not charged for it", res.Latency.P90)
	}
	if res.Late < 30 {
		t.Errorf("%d late sends, want the ones due during the stall", res.Late)
	}

	n.Store(0)
	closed, err := Run(context.Background(), Config{Addr: addr, Path: "/", Bodies: [][]byte{[]byte("{}")}, Conns: 1, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if closed.Latency.P90 > 50_000 {
		t.Errorf("closed-loop p90 %.0fµs: expected only the one stalled request to be slow", closed.Latency.P90)
	}
}

func TestOpenLoopDropsWhenFarBehind(t *testing.T) {
	addr := serve(t, func(ctx *fasthttp.RequestCtx) { time.Sleep(20 * time.Millisecond) })
	start := time.Now()
	res, err := Run(context.Background(), Config{Addr: addr, Path: "/", Bodies: [][]byte{[]byte("{}")}, Rate: 2000, Conns: 2, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("run took %v: an overloaded server stretched it", took)
	}
	if res.Dropped == 0 {
		t.Errorf("nothing dropped at 20x the server's capacity: %+v", res)
	}
}

func TestConfigRejected(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"not loopback", Config{Addr: "10.0.0.1:80", Bodies: [][]byte{nil}, Duration: time.Second}},
		{"public name", Config{Addr: "example.com:80", Bodies: [][]byte{nil}, Duration: time.Second}},
		{"no bodies", Config{Addr: "127.0.0.1:80", Duration: time.Second}},
		{"no duration", Config{Addr: "127.0.0.1:80", Bodies: [][]byte{nil}}},
		{"negative rate", Config{Addr: "127.0.0.1:80", Bodies: [][]byte{nil}, Duration: time.Second, Rate: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Run(context.Background(), tc.cfg); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestMerge(t *testing.T) {
	addr := serve(t, func(ctx *fasthttp.RequestCtx) {})
	var rs []Result
	for range 3 {
		r, err := Run(context.Background(), Config{Addr: addr, Path: "/", Bodies: [][]byte{[]byte("{}")}, Conns: 2, Duration: time.Second, MaxRequests: 100})
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	m := Merge(rs...)
	if m.Requests != 300 || m.Statuses[200] != 300 || m.Mode != "closed" {
		t.Errorf("merged %+v", m)
	}
	if m.Elapsed != rs[0].Elapsed+rs[1].Elapsed+rs[2].Elapsed || m.Throughput <= 0 {
		t.Errorf("elapsed %v, throughput %.0f", m.Elapsed, m.Throughput)
	}
	maxOf := max(rs[0].Latency.Max, rs[1].Latency.Max, rs[2].Latency.Max)
	if m.Latency.Max != maxOf || m.Latency.P50 <= 0 || m.Latency.P50 > m.Latency.P99 {
		t.Errorf("latency %+v, max of rounds %v", m.Latency, maxOf)
	}
	if e := Merge(); e.Requests != 0 || e.Statuses == nil {
		t.Errorf("empty merge %+v", e)
	}
}

// TestOffsetAndConnectPath checks that consecutive runs go on through one
// sequence of bodies (Offset, Result.Next) and that opening connections
// with ConnectPath sends none of the bodies.
func TestOffsetAndConnectPath(t *testing.T) {
	var (
		mu    sync.Mutex
		posts = map[string]int{}
		gets  atomic.Int64
	)
	addr := serve(t, func(ctx *fasthttp.RequestCtx) {
		if ctx.IsGet() {
			gets.Add(1)
			ctx.SetStatusCode(fasthttp.StatusNotFound)
			return
		}
		mu.Lock()
		posts[string(ctx.PostBody())]++
		mu.Unlock()
	})
	bodies := make([][]byte, 1000)
	for i := range bodies {
		bodies[i] = []byte(strconv.Itoa(i))
	}
	cfg := Config{Addr: addr, Path: "/send", Bodies: bodies, Conns: 4, Duration: 5 * time.Second, MaxRequests: 300, ConnectPath: "/connect"}
	first, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if first.Next != 300 {
		t.Fatalf("Next %d after 300 requests", first.Next)
	}
	cfg.Offset = first.Next
	second, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if second.Next != 600 {
		t.Fatalf("Next %d after two runs of 300", second.Next)
	}
	if gets.Load() != 8 {
		t.Errorf("%d connecting GETs, want one per connection and run (8)", gets.Load())
	}
	for i := range 600 {
		if n := posts[strconv.Itoa(i)]; n != 1 {
			t.Fatalf("body %d sent %d times", i, n)
		}
	}
	if len(posts) != 600 {
		t.Errorf("%d bodies sent, want 600", len(posts))
	}
	// Past the end, the sequence wraps.
	cfg.Offset, cfg.MaxRequests = 990, 20
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if posts["0"] != 2 || posts["9"] != 2 || posts["10"] != 1 {
		t.Errorf("wrap: body 0 sent %d times, 9 %d, 10 %d", posts["0"], posts["9"], posts["10"])
	}
}
