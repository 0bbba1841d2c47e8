package compare

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
			s := ScenarioResult{Name: Unique, Targets: tc.targets}
			s.computeRatios()
			if s.Ratios != tc.ratios {
				t.Errorf("ratios %+v, want %+v", s.Ratios, tc.ratios)
			}
			if len(s.Budget) != len(tc.met) {
				t.Fatalf("%d checks, want %d", len(s.Budget), len(tc.met))
			}
			for i, c := range s.Budget {
				if c.Met != tc.met[i] {
					t.Errorf("%s: met %v, want %v", c.Name, c.Met, tc.met[i])
				}
			}
			r := &Report{Scenarios: []ScenarioResult{s}, Ratios: s.Ratios, Budget: s.Budget}
			var b strings.Builder
			r.WriteTable(&b)
			for _, tr := range tc.targets {
				if !strings.Contains(b.String(), "| "+tr.Name+" | unique |") {
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
	if strings.Join(c.Scenarios, ",") != "unique,repeated" || c.Pin != PinAuto || c.Drafts != 25000*22 {
		t.Errorf("scenarios %v, pin %q, drafts %d", c.Scenarios, c.Pin, c.Drafts)
	}
	for _, bad := range []Config{
		{Root: "/repo", Targets: []string{"nginx"}},
		{Root: "/repo", Scenarios: []string{"zipf"}},
		{Root: "/repo", Scenarios: []string{Unique, Unique}},
		{Root: "/repo", Pin: "maybe"},
	} {
		if err := bad.defaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	short := Config{Root: "/repo", Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond}
	if err := short.defaults(); err != nil || short.Drafts != 20000 {
		t.Errorf("drafts %d for a short run (%v)", short.Drafts, err)
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
	lc := load.Config{Addr: agent, Path: targets.RoutePath, Bodies: bodies, Conns: 2, Offset: 5}
	gw := running{name: Xunjian, addr: agent, gateway: &targets.Gateway{Admin: withPprof}}
	files, note, next, err := profile(context.Background(), cfg, gw, lc, "", true, say)
	if err != nil || note != "" {
		t.Fatalf("err %v, note %q", err, note)
	}
	if next <= 5 {
		t.Errorf("profile load ended at %d, want past its offset 5", next)
	}
	want := []string{filepath.Join(dir, "xunjian.cpu.pprof"), filepath.Join(dir, "xunjian.allocs.pprof")}
	if !slices.Equal(files, want) {
		t.Fatalf("files %v, want %v", files, want)
	}
	// At the fixed rate: the CPU profile only, under its tag.
	lc.Rate, lc.Offset = 200, next
	fixed, note, next2, err := profile(context.Background(), cfg, gw, lc, ".fixed", false, say)
	if err != nil || note != "" {
		t.Fatalf("fixed rate: err %v, note %q", err, note)
	}
	if next2 <= next {
		t.Errorf("fixed-rate profile load ended at %d, want past its offset %d", next2, next)
	}
	if want := []string{filepath.Join(dir, "xunjian.fixed.cpu.pprof")}; !slices.Equal(fixed, want) {
		t.Fatalf("fixed-rate files %v, want %v", fixed, want)
	}
	for _, f := range append(files, fixed...) {
		st, err := os.Stat(f)
		if err != nil || st.Size() == 0 || filepath.Dir(f) != dir {
			t.Errorf("%s: %v", f, err)
		}
	}

	files, note, _, err = profile(context.Background(), cfg, running{name: Xunjian, addr: agent, gateway: &targets.Gateway{Admin: without}}, lc, "", true, say)
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

// TestCacheByPhase checks the per-phase hit rates: look-ups add up over a
// phase's runs, a cache without look-ups has no rate, and the table shows
// each phase's rates beside its figures, one line per scenario.
func TestCacheByPhase(t *testing.T) {
	var p PhaseCache
	p.add(cacheSnapshot{10, 90, 0, 0})
	p.add(cacheSnapshot{30, 70, 0, 0})
	if p.Findings.HitRate == nil || *p.Findings.HitRate != 0.2 || p.Findings.Hits != 40 || p.Findings.Misses != 160 {
		t.Errorf("findings %+v", p.Findings)
	}
	if p.Decision.HitRate != nil {
		t.Errorf("decision cache without look-ups has a hit rate: %v", *p.Decision.HitRate)
	}
	if d := (cacheSnapshot{5, 6, 7, 8}).minus(cacheSnapshot{1, 2, 3, 4}); d != (cacheSnapshot{4, 4, 4, 4}) {
		t.Errorf("minus: %v", d)
	}

	gw := func(f, d float64) *CacheByPhase {
		c := &CacheByPhase{Peak: &PhaseCache{}, Fixed: &PhaseCache{}}
		c.Peak.add(cacheSnapshot{f, 100 - f, d, 100 - d})
		c.Fixed.add(cacheSnapshot{f / 2, 100 - f/2, d / 2, 100 - d/2})
		return c
	}
	unique := ScenarioResult{Name: Unique, Rate: 3000, Targets: []TargetResult{
		{Name: Direct, Peak: result(40000, 0), Fixed: result(3000, 800)},
		{Name: Xunjian, Peak: result(6000, 0), Fixed: result(3000, 1500), Cache: gw(12, 30)},
		{Name: XunjianNoCache, Peak: result(3000, 0), Fixed: result(3000, 1500), Cache: &CacheByPhase{Peak: &PhaseCache{}, Fixed: &PhaseCache{}}},
		{Name: OPASidecar, Peak: result(2000, 0), Fixed: result(3000, 9000)},
	}}
	repeated := ScenarioResult{Name: Repeated, Rate: 6000, Targets: []TargetResult{
		{Name: Direct, Peak: result(40000, 0), Fixed: result(6000, 800)},
		{Name: Xunjian, Peak: result(12000, 0), Fixed: result(6000, 1500), Cache: gw(90, 98)},
		{Name: XunjianNoCache, Peak: result(4000, 0), Fixed: result(6000, 1500), Cache: &CacheByPhase{Peak: &PhaseCache{}, Fixed: &PhaseCache{}}},
		{Name: OPASidecar, Peak: result(2000, 0), Fixed: result(6000, 9000)},
	}}
	unique.computeRatios()
	repeated.computeRatios()
	r := &Report{Scenarios: []ScenarioResult{unique, repeated}, Ratios: unique.Ratios, Budget: unique.Budget,
		Pinning: Pinning{Pinned: true, LoadCPUs: "0", TargetCPUs: "1", OnLoad: []string{"the load generator"}, OnTarget: []string{"xunjian"}}}
	var b strings.Builder
	r.WriteTable(&b)
	out := b.String()
	for _, want := range []string{
		"| xunjian | unique | 6,000 | 12.0% / 30.0% |",
		"| 6.0% / 15.0% |",
		"|  | repeated | 12,000 | 90.0% / 98.0% |",
		"| xunjian-nocache | unique | 3,000 | off / off |",
		"| opa-sidecar | unique | 2,000 | none |",
		"| direct | unique | 40,000 | – |",
		"xunjian throughput / opa-sidecar: 3.00 (budget >= 5: MISSED); repeated: 6.00",
		"Pinning: CPU 0: the load generator. CPU 1: the target under test",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "| xunjian | unique") > strings.Index(out, "|  | repeated | 12,000") {
		t.Errorf("the repeated line does not follow the headline's:\n%s", out)
	}
}

func TestDecidePinning(t *testing.T) {
	p, err := decidePinning(context.Background(), Config{Pin: PinOff})
	if err != nil || p.on || p.loadSet() != "" || p.targetSet() != "" {
		t.Errorf("--pin off: %+v, %v", p, err)
	}
	if rp := p.report(AllTargets); rp.Pinned || rp.Reason == "" {
		t.Errorf("report %+v", rp)
	}
	allowed, aerr := targets.AllowedCPUs()
	_, terr := exec.LookPath("taskset")
	if aerr != nil || terr != nil || len(allowed) < 2 {
		p, err := decidePinning(context.Background(), Config{Pin: PinAuto})
		if err != nil || p.on || p.reason == "" {
			t.Errorf("auto where pinning is impossible: %+v, %v", p, err)
		}
		if _, err := decidePinning(context.Background(), Config{Pin: PinOn}); err == nil {
			t.Error("--pin on where it is impossible accepted")
		}
		return
	}
	p, err = decidePinning(context.Background(), Config{Pin: PinAuto})
	if err != nil || !p.on || p.load == "" || p.target == "" || p.load == p.target {
		t.Fatalf("auto: %+v, %v", p, err)
	}
	rp := p.report([]string{Direct, Proxy, Xunjian, OPASidecar})
	if !rp.Pinned || len(rp.OnTarget) != 4 || !strings.Contains(strings.Join(rp.OnLoad, ","), "load generator") {
		t.Errorf("report %+v", rp)
	}
	first, last := fmt.Sprint(allowed[0]), fmt.Sprint(allowed[len(allowed)-1])
	p, err = decidePinning(context.Background(), Config{Pin: PinOn, LoadCPUs: last, TargetCPUs: first})
	if err != nil || p.load != last || p.target != first {
		t.Errorf("given sets: %+v, %v", p, err)
	}
	for _, bad := range []Config{
		{Pin: PinOn, LoadCPUs: first},
		{Pin: PinOn, LoadCPUs: first, TargetCPUs: first},
		{Pin: PinOn, LoadCPUs: first, TargetCPUs: "4096"},
	} {
		if _, err := decidePinning(context.Background(), bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
