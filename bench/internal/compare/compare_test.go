package compare

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/pprofhandler"

	"github.com/xunjian/xunjian/bench/internal/load"
	"github.com/xunjian/xunjian/bench/internal/targets"
)

func TestParseMetrics(t *testing.T) {
	body := []byte(`# HELP xunjian_cache_lookups_total Look-ups
# TYPE xunjian_cache_lookups_total counter
xunjian_cache_lookups_total{cache="decision",result="hit"} 2052
xunjian_cache_lookups_total{cache="decision",result="miss"} 159
xunjian_request_duration_seconds_bucket{route="send",le="0.001"} 12
xunjian_events_total{topic="findings"} 3.5e+02
xunjian_spool_full 0
go_goroutines 12
broken_line
`)
	got := parseMetrics(body)
	for key, want := range map[string]float64{
		`xunjian_cache_lookups_total{cache="decision",result="hit"}`:  2052,
		`xunjian_cache_lookups_total{cache="decision",result="miss"}`: 159,
		`xunjian_events_total{topic="findings"}`:                      350,
		`xunjian_spool_full`:                                          0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	if len(got) != 4 {
		t.Errorf("kept %d series, want 4: %v", len(got), got)
	}
}

func TestThousands(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {12345.6, "12,346"}, {1234567, "1,234,567"}, {-4321, "-4,321"}} {
		if got := thousands(tc.in); got != tc.want {
			t.Errorf("thousands(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func result(rps, p99 float64) load.Result {
	return load.Result{Throughput: rps, Requests: 100, Statuses: map[int]int64{200: 100}, Latency: load.Latency{P50: p99 / 2, P90: p99, P99: p99, P999: p99, Max: p99}}
}

func TestComputeRatios(t *testing.T) {
	for _, tc := range []struct {
		name     string
		targets  []TargetResult
		ratios   Ratios
		met      []bool
		notInTbl string
	}{
		{
			name: "all met",
			targets: []TargetResult{
				{Name: Direct, Peak: result(40000, 0), Fixed: result(5000, 800)},
				{Name: Proxy, Peak: result(14000, 0), Fixed: result(5000, 900)},
				{Name: Xunjian, Peak: result(10000, 0), Fixed: result(5000, 1500)},
				{Name: OPASidecar, Peak: result(1000, 0), Fixed: result(5000, 90000)},
			},
			ratios: Ratios{XunjianOverProxy: 10000.0 / 14000, XunjianOverSidecar: 10, AddedP99: 700},
			met:    []bool{true, true, true},
		},
		{
			name: "all missed",
			targets: []TargetResult{
				{Name: Direct, Peak: result(40000, 0), Fixed: result(5000, 800)},
				{Name: Proxy, Peak: result(14000, 0), Fixed: result(5000, 900)},
				{Name: Xunjian, Peak: result(5000, 0), Fixed: result(5000, 3000)},
				{Name: OPASidecar, Peak: result(2000, 0), Fixed: result(5000, 90000)},
			},
			ratios: Ratios{XunjianOverProxy: 5000.0 / 14000, XunjianOverSidecar: 2.5, AddedP99: 2200},
			met:    []bool{false, false, false},
		},
		{
			name:    "no xunjian, no checks",
			targets: []TargetResult{{Name: Direct, Peak: result(40000, 0)}, {Name: Proxy, Peak: result(14000, 0)}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Report{Targets: tc.targets}
			r.computeRatios()
			if r.Ratios != tc.ratios {
				t.Errorf("ratios %+v, want %+v", r.Ratios, tc.ratios)
			}
			if len(r.Budget) != len(tc.met) {
				t.Fatalf("%d checks, want %d", len(r.Budget), len(tc.met))
			}
			for i, c := range r.Budget {
				if c.Met != tc.met[i] {
					t.Errorf("%s: met %v, want %v", c.Name, c.Met, tc.met[i])
				}
			}
			var b strings.Builder
			r.WriteTable(&b)
			for _, tr := range tc.targets {
				if !strings.Contains(b.String(), "| "+tr.Name+" |") {
					t.Errorf("table lacks %s:\n%s", tr.Name, b.String())
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{Root: "/repo", Targets: []string{OPASidecar, Direct}}
	if err := c.defaults(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Targets, ",") != "direct,opa-sidecar" {
		t.Errorf("targets %v: want the canonical order", c.Targets)
	}
	if c.Duration.Seconds() != 10 || c.Rounds != 3 || c.Warmup.Seconds() != 2 || c.Conns != 32 || c.OpenConns != 64 || c.RateShare != 0.5 {
		t.Errorf("defaults %+v", c)
	}
	bad := Config{Root: "/repo", Targets: []string{"nginx"}}
	if err := bad.defaults(); err == nil {
		t.Error("unknown target accepted")
	}
}

// TestProfile checks the harness side of --profile against an admin port
// that serves /debug/pprof/ (fasthttp's pprofhandler, as the gateway is
// expected to), and the note when there is none.
func TestProfile(t *testing.T) {
	serve := func(h fasthttp.RequestHandler) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := &fasthttp.Server{Handler: h}
		go s.Serve(ln) //nolint:errcheck // ends with Shutdown
		t.Cleanup(func() { _ = s.Shutdown() })
		return ln.Addr().String()
	}
	agent := serve(func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(`{"status":"sent"}`) })
	withPprof := serve(pprofhandler.PprofHandler)
	without := serve(func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(404) })
	bodies := [][]byte{[]byte(`{"message":{"text":"hi"}}`)}
	say := func(string, ...any) {}

	dir := t.TempDir()
	cfg := Config{Duration: time.Second, Conns: 2, ProfileDir: dir}
	files, note, err := profile(context.Background(), cfg, running{name: Xunjian, addr: agent, gateway: &targets.Gateway{Admin: withPprof}}, bodies, say)
	if err != nil || note != "" {
		t.Fatalf("err %v, note %q", err, note)
	}
	if len(files) != 2 {
		t.Fatalf("files %v", files)
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil || st.Size() == 0 || filepath.Dir(f) != dir {
			t.Errorf("%s: %v", f, err)
		}
	}

	files, note, err = profile(context.Background(), cfg, running{name: Xunjian, addr: agent, gateway: &targets.Gateway{Admin: without}}, bodies, say)
	if err != nil || len(files) != 0 || !strings.Contains(note, "no /debug/pprof/") {
		t.Errorf("without pprof: files %v, note %q, err %v", files, note, err)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{5}, 5}, {[]float64{9, 1, 5}, 5}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
