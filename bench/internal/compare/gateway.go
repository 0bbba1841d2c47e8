package compare

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/xunjian/xunjian/bench/internal/load"
	"github.com/xunjian/xunjian/bench/internal/targets"
)

// keptMetrics are the prefixes of the gateway metrics the report keeps.
var keptMetrics = []string{
	"xunjian_cache_lookups_total", "xunjian_events_", "xunjian_alerts_suppressed_total", "xunjian_event_errors_total",
	"xunjian_ship_failures_total", "xunjian_spool_", "xunjian_inspection_failures_total",
	"xunjian_rejected_requests_total", "xunjian_upstream_errors_total",
}

// scrapeMetrics reads the gateway's /metrics and keeps the series named by
// keptMetrics, keyed by `name{labels}` as exposed.
func scrapeMetrics(admin string) (map[string]float64, error) {
	status, body, err := targets.Get("http://"+admin+"/metrics", 5*time.Second)
	if err != nil {
		return nil, err
	}
	if status != 200 {
		return nil, fmt.Errorf("GET /metrics: status %d", status)
	}
	return parseMetrics(body), nil
}

// cacheSnapshot is a gateway's cache counters at one moment: findings
// hits and misses, decision hits and misses.
type cacheSnapshot [4]float64

// scrapeCache reads the gateway's cache counters (xunjian_cache_lookups_total).
func scrapeCache(admin string) (cacheSnapshot, error) {
	m, err := scrapeMetrics(admin)
	if err != nil {
		return cacheSnapshot{}, err
	}
	var s cacheSnapshot
	for i, k := range []string{
		`xunjian_cache_lookups_total{cache="findings",result="hit"}`, `xunjian_cache_lookups_total{cache="findings",result="miss"}`,
		`xunjian_cache_lookups_total{cache="decision",result="hit"}`, `xunjian_cache_lookups_total{cache="decision",result="miss"}`,
	} {
		s[i] = m[k]
	}
	return s, nil
}

func (s cacheSnapshot) minus(o cacheSnapshot) cacheSnapshot {
	for i := range s {
		s[i] -= o[i]
	}
	return s
}

// add counts a run's look-ups (a snapshot difference) in the phase.
func (p *PhaseCache) add(d cacheSnapshot) {
	p.Findings.add(d[0], d[1])
	p.Decision.add(d[2], d[3])
}

// parseMetrics reads the Prometheus text format's sample lines whose names
// start with one of keptMetrics.
func parseMetrics(body []byte) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		key, val := line[:i], line[i+1:]
		kept := false
		for _, p := range keptMetrics {
			if strings.HasPrefix(key, p) {
				kept = true
				break
			}
		}
		if !kept {
			continue
		}
		if v, err := strconv.ParseFloat(val, 64); err == nil {
			out[key] = v
		}
	}
	return out
}

// profile runs the xunjian target under load (lc: its address, bodies,
// offset, and rate: closed loop at zero, the fixed rate otherwise) for the
// run's duration while fetching a CPU profile from the admin port's
// /debug/pprof/profile, and with allocs its /debug/pprof/allocs, into
// cfg.ProfileDir as <target><tag>.cpu.pprof and .allocs.pprof, and returns
// the files and where the load stopped in the bodies (load.Result.Next).
// A gateway without those endpoints yields a note, not an error.
func profile(ctx context.Context, cfg Config, r running, lc load.Config, tag string, allocs bool, say func(string, ...any)) (files []string, note string, next int64, err error) {
	admin := "http://" + r.gateway.Admin
	// Probe with the allocation profile (cheap, and served by both
	// net/http/pprof and fasthttp's pprofhandler, whose index paths differ).
	if st, _, err := targets.Get(admin+"/debug/pprof/allocs", 10*time.Second); err != nil || st != 200 {
		return nil, fmt.Sprintf("--profile: %s has no /debug/pprof/ on its admin port (GET /debug/pprof/allocs: status %d, error %v); no profiles written", r.name, st, err), 0, nil
	}
	if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
		return nil, "", 0, fmt.Errorf("profile: %w", err)
	}
	secs := max(int(cfg.Duration/time.Second), 1)
	phase := "closed loop"
	if lc.Rate > 0 {
		phase = fmt.Sprintf("open loop at %.0f req/s", lc.Rate)
	}
	say("%s: profiling: %s with a %ds CPU profile", r.name, phase, secs)
	type fetched struct {
		status int
		body   []byte
		err    error
	}
	cpu := make(chan fetched, 1)
	go func() {
		st, b, err := targets.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", admin, secs), time.Duration(secs+30)*time.Second)
		cpu <- fetched{st, b, err}
	}()
	lc.Duration = time.Duration(secs)*time.Second + 500*time.Millisecond
	res, err := load.Run(ctx, lc)
	if err != nil {
		return nil, "", 0, fmt.Errorf("%s: profiling load: %w", r.name, err)
	}
	write := func(name string, f fetched) error {
		if f.err != nil || f.status != 200 {
			return fmt.Errorf("%s: %s profile: status %d, %v", r.name, name, f.status, f.err)
		}
		path := filepath.Join(cfg.ProfileDir, r.name+tag+"."+name+".pprof")
		if err := os.WriteFile(path, f.body, 0o644); err != nil {
			return fmt.Errorf("profile: %w", err)
		}
		files = append(files, path)
		return nil
	}
	if err := write("cpu", <-cpu); err != nil {
		return nil, "", 0, err
	}
	if allocs {
		st, b, err := targets.Get(admin+"/debug/pprof/allocs", 30*time.Second)
		if err := write("allocs", fetched{st, b, err}); err != nil {
			return nil, "", 0, err
		}
	}
	say("%s: profiles written: %s", r.name, strings.Join(files, ", "))
	return files, "", res.Next, nil
}
