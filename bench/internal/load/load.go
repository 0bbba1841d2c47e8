// Package load is the harness's HTTP load generator: open loop at a fixed
// request rate, or closed loop for peak throughput, against one loopback
// address, with latency recorded in HDR histograms.
//
// Open loop avoids coordinated omission: request i is due at
// start + i/rate whatever happened before, and its latency is measured from
// that intended send time, so a server that stalls is charged for every
// request that should have been sent meanwhile (the method of wrk2 and
// Gil Tene's "How NOT to measure latency"). Closed loop keeps a fixed number
// of requests in flight and reports what the server sustains; its latency
// is service time only.
//
// Every run is bounded by a duration and optionally by a request count.
package load

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/internal/loopback"
)

// Defaults for zero Config fields.
const (
	DefaultConns   = 32
	DefaultTimeout = 5 * time.Second
	// maxLatency is the histogram's range: anything slower is clamped.
	maxLatency = time.Minute
)

// Config is one load run. Addr, Path, Bodies and Duration are required.
type Config struct {
	// Addr is the server's host:port; it must be a loopback address.
	Addr string
	// Path is the request path; every request is POST Path with a JSON body.
	Path string
	// Bodies are sent in order, request i carrying
	// Bodies[(Offset+i)%len(Bodies)]. They are read, never modified, and
	// may be shared between runs.
	Bodies [][]byte
	// Offset is where in Bodies the run starts, so that consecutive runs
	// can go on through one sequence (Result.Next says where the next
	// should start).
	Offset int64
	// ConnectPath, when set, makes each connection's unmeasured opening
	// request a GET of this path rather than a POST of one of Bodies, so
	// that opening connections sends no message the target inspects (or
	// that repeats one of the run's).
	ConnectPath string
	// Rate is the open-loop request rate per second; zero means closed
	// loop.
	Rate float64
	// Conns is the number of connections, and of requests in flight at
	// most; zero means DefaultConns. In open loop it must be large enough
	// for rate × latency, or requests wait for a free connection (their
	// wait is counted in their latency, as it should).
	Conns int
	// Duration bounds the run. In open loop no request is due after it,
	// and requests still unsent Duration/4 (at least 1s) later are dropped
	// and counted, so an overloaded server cannot stretch the run.
	Duration time.Duration
	// MaxRequests bounds the number of measured requests; zero means no
	// bound. Each connection also sends one unmeasured request before the
	// clock starts, to connect.
	MaxRequests int64
	// Timeout bounds one request; zero means DefaultTimeout.
	Timeout time.Duration
}

// Latency holds latency percentiles in microseconds.
type Latency struct {
	P50  float64 `json:"p50_us"`
	P90  float64 `json:"p90_us"`
	P99  float64 `json:"p99_us"`
	P999 float64 `json:"p999_us"`
	Max  float64 `json:"max_us"`
	Mean float64 `json:"mean_us"`
}

// Result is what one run measured.
type Result struct {
	// Mode is "open" or "closed".
	Mode string `json:"mode"`
	// Rate is the intended rate (open loop), zero in closed loop.
	Rate float64 `json:"rate,omitempty"`
	// Conns is the number of connections used.
	Conns int `json:"conns"`
	// Requests counts requests answered, whatever the status.
	Requests int64 `json:"requests"`
	// Errors counts requests without an answer (timeouts, resets).
	Errors int64 `json:"errors"`
	// Dropped counts open-loop requests never sent because the run's
	// grace period ran out (the server was far slower than the rate).
	Dropped int64 `json:"dropped,omitempty"`
	// Late counts open-loop requests sent more than 1ms after they were
	// due (no free connection, or the generator itself was late).
	Late int64 `json:"late,omitempty"`
	// Statuses counts answers by HTTP status.
	Statuses map[int]int64 `json:"statuses"`
	// Elapsed is the run's wall time, first send to last answer.
	Elapsed time.Duration `json:"-"`
	// Seconds is Elapsed in seconds.
	Seconds float64 `json:"seconds"`
	// Throughput is answered requests per second of Elapsed.
	Throughput float64 `json:"throughput_rps"`
	// Latency is over answered and failed requests alike.
	Latency Latency `json:"latency"`
	// Histogram is the latency histogram in microseconds, for merging or
	// plotting (hdrhistogram-go's Snapshot).
	Histogram *hdrhistogram.Snapshot `json:"-"`
	// Next is Config.Offset plus one past the highest request index the
	// run used (sent, or dropped unsent): where a following run goes on
	// so that it sends none of this run's bodies again.
	Next int64 `json:"-"`
}

func (c *Config) validate() error {
	var errs []error
	if !loopback.Addr(c.Addr) {
		errs = append(errs, fmt.Errorf("addr %q: load goes to loopback addresses only (127.0.0.0/8, ::1)", c.Addr))
	}
	if len(c.Bodies) == 0 {
		errs = append(errs, errors.New("bodies: none"))
	}
	if c.Duration <= 0 {
		errs = append(errs, errors.New("duration: must be positive"))
	}
	if c.Rate < 0 || c.Conns < 0 || c.MaxRequests < 0 || c.Timeout < 0 || c.Offset < 0 {
		errs = append(errs, errors.New("rate, conns, max requests, timeout and offset must not be negative"))
	}
	return errors.Join(errs...)
}

// worker is one connection's request loop state; its histogram and
// counters are merged when the run ends.
type worker struct {
	hist     *hdrhistogram.Histogram
	statuses map[int]int64
	errors   int64
	late     int64
	n        int64
	used     int64 // one past the highest request index used
}

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, maxLatency.Microseconds(), 3)
}

// Run sends load as cfg says until its duration or count is spent or ctx
// is done, and returns what it measured. It fails only on a bad Config or
// when no request at all was answered.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.validate(); err != nil {
		return Result{}, fmt.Errorf("load: %w", err)
	}
	conns := cfg.Conns
	if conns == 0 {
		conns = DefaultConns
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	client := &fasthttp.HostClient{
		Addr:                          cfg.Addr,
		MaxConns:                      conns,
		ReadTimeout:                   timeout,
		WriteTimeout:                  timeout,
		MaxIdleConnDuration:           time.Minute,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
	}
	defer client.CloseIdleConnections()
	uri := "http://" + cfg.Addr + cfg.Path

	var (
		next    atomic.Int64 // the next request index
		dropped atomic.Int64
		wg      sync.WaitGroup
	)
	workers := make([]*worker, conns)
	var (
		start, end time.Time
		ready      sync.WaitGroup
		started    = make(chan struct{})
	)
	grace := max(cfg.Duration/4, time.Second)
	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / cfg.Rate)
	}
	for w := range workers {
		wk := &worker{hist: newHistogram(), statuses: map[int]int64{}}
		workers[w] = wk
		wg.Add(1)
		ready.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			// Open this worker's connection before the clock starts, with
			// one unmeasured request, so that connecting is not measured.
			if cfg.ConnectPath != "" {
				req.Header.SetMethod(fasthttp.MethodGet)
				req.SetRequestURI("http://" + cfg.Addr + cfg.ConnectPath)
			} else {
				req.Header.SetMethod(fasthttp.MethodPost)
				req.Header.SetContentType("application/json")
				req.SetRequestURI(uri)
				req.SetBodyRaw(cfg.Bodies[w%len(cfg.Bodies)])
			}
			_ = client.DoTimeout(req, resp, timeout)
			req.Reset()
			req.Header.SetMethod(fasthttp.MethodPost)
			req.Header.SetContentType("application/json")
			req.SetRequestURI(uri)
			ready.Done()
			<-started
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if cfg.MaxRequests > 0 && i >= cfg.MaxRequests {
					return
				}
				var due time.Time
				if interval > 0 {
					due = start.Add(time.Duration(i) * interval)
					if due.After(end) {
						return
					}
					now := time.Now()
					if now.After(end.Add(grace)) {
						dropped.Add(1)
						wk.used = max(wk.used, i+1)
						continue // count the rest as dropped, quickly
					}
					if wait := due.Sub(now); wait > 0 {
						time.Sleep(wait)
					} else if wait < -time.Millisecond {
						wk.late++
					}
				} else {
					due = time.Now()
					if due.After(end) {
						return
					}
				}
				wk.used = max(wk.used, i+1)
				req.SetBodyRaw(cfg.Bodies[int((cfg.Offset+i)%int64(len(cfg.Bodies)))])
				err := client.DoTimeout(req, resp, timeout)
				lat := time.Since(due)
				_ = wk.hist.RecordValue(max(lat.Microseconds(), 1))
				if err != nil {
					wk.errors++
					continue
				}
				wk.n++
				wk.statuses[resp.StatusCode()]++
			}
		}()
	}
	ready.Wait()
	start = time.Now()
	end = start.Add(cfg.Duration)
	close(started)
	wg.Wait()
	elapsed := time.Since(start)

	res := Result{Mode: "closed", Rate: cfg.Rate, Conns: conns, Statuses: map[int]int64{}, Elapsed: elapsed, Dropped: dropped.Load()}
	if cfg.Rate > 0 {
		res.Mode = "open"
	}
	res.Next = cfg.Offset
	hist := newHistogram()
	for _, wk := range workers {
		res.Next = max(res.Next, cfg.Offset+wk.used)
		hist.Merge(wk.hist)
		res.Requests += wk.n
		res.Errors += wk.errors
		res.Late += wk.late
		for s, n := range wk.statuses {
			res.Statuses[s] += n
		}
	}
	res.Seconds = elapsed.Seconds()
	res.Throughput = float64(res.Requests) / elapsed.Seconds()
	res.Latency = latencyOf(hist)
	res.Histogram = hist.Export()
	if res.Requests == 0 {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("load %s: %w", cfg.Addr, err)
		}
		return res, fmt.Errorf("load %s: no request answered (%d errors)", cfg.Addr, res.Errors)
	}
	return res, nil
}

// Unexpected counts answers whose status is not in ok.
func (r Result) Unexpected(ok ...int) int64 {
	var n int64
	for s, c := range r.Statuses {
		if !slices.Contains(ok, s) {
			n += c
		}
	}
	return n
}

// StatusList returns the statuses seen, ascending.
func (r Result) StatusList() []int {
	out := make([]int, 0, len(r.Statuses))
	for s := range r.Statuses {
		out = append(out, s)
	}
	sort.Ints(out)
	return out
}

// Merge combines the results of several runs of one mode against one
// target (rounds of a phase) into one: counts and answers add up, the
// latency histograms are merged, and throughput is all answers over all
// elapsed time. Results without a histogram contribute no latency.
func Merge(rs ...Result) Result {
	if len(rs) == 0 {
		return Result{Statuses: map[int]int64{}}
	}
	out := Result{Mode: rs[0].Mode, Rate: rs[0].Rate, Conns: rs[0].Conns, Statuses: map[int]int64{}}
	hist := newHistogram()
	for _, r := range rs {
		out.Requests += r.Requests
		out.Errors += r.Errors
		out.Dropped += r.Dropped
		out.Late += r.Late
		out.Elapsed += r.Elapsed
		for s, n := range r.Statuses {
			out.Statuses[s] += n
		}
		if r.Histogram != nil {
			hist.Merge(hdrhistogram.Import(r.Histogram))
		}
	}
	out.Seconds = out.Elapsed.Seconds()
	if out.Seconds > 0 {
		out.Throughput = float64(out.Requests) / out.Seconds
	}
	out.Latency = latencyOf(hist)
	out.Histogram = hist.Export()
	return out
}

func latencyOf(h *hdrhistogram.Histogram) Latency {
	return Latency{
		P50: float64(h.ValueAtQuantile(50)), P90: float64(h.ValueAtQuantile(90)),
		P99: float64(h.ValueAtQuantile(99)), P999: float64(h.ValueAtQuantile(99.9)),
		Max: float64(h.Max()), Mean: h.Mean(),
	}
}
