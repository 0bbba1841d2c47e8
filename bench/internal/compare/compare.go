// Package compare runs the harness's side-by-side comparison: it starts
// every target on loopback (the chat backend alone, a plain proxy, the
// Xunjian gateway with and without its findings cache, and detectors plus
// an OPA server over HTTP), measures each one's peak throughput in closed
// loop, then each one's latency in open loop at one fixed rate (by default
// half the gateway's peak), and reports them with the ratios the
// performance budget in DESIGN.md is about.
package compare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/xunjian/xunjian/bench/internal/corpus"
	"github.com/xunjian/xunjian/bench/internal/load"
	"github.com/xunjian/xunjian/bench/internal/pii"
	"github.com/xunjian/xunjian/bench/internal/targets"
	"github.com/xunjian/xunjian/rules"
)

// Target names.
const (
	Direct         = "direct"
	Proxy          = "proxy"
	Xunjian        = "xunjian"
	XunjianNoCache = "xunjian-nocache"
	OPASidecar     = "opa-sidecar"
	// XunjianNoStream is a diagnostic target, not run by default: the
	// gateway with stream.disabled, to show what the event stream (spool,
	// shipper and the embedded broker, all in the gateway's process) costs.
	XunjianNoStream = "xunjian-nostream"
)

// AllTargets are the targets a comparison runs by default, in order.
var AllTargets = []string{Direct, Proxy, Xunjian, XunjianNoCache, OPASidecar}

// knownTargets are all the targets --targets may name, in running order.
var knownTargets = []string{Direct, Proxy, Xunjian, XunjianNoCache, XunjianNoStream, OPASidecar}

// descriptions say what each target is, for the report.
var descriptions = map[string]string{
	Direct:          "client straight to the test upstream (the floor)",
	Proxy:           "plain fasthttp reverse proxy, no inspection (the limit)",
	Xunjian:         "xunjian serve: full inspection, default policy, event stream",
	XunjianNoCache:  "xunjian serve with cache.disabled (findings and decision caches off)",
	XunjianNoStream: "xunjian serve with stream.disabled (diagnostic: no spool, no Kafka)",
	OPASidecar:      "same detectors in process + opa run --server over HTTP per decision",
}

// expected are the statuses a target may answer: the upstream's 200, and
// for inspecting targets the gateway's 409 (confirm) and 422 (block).
func expected(target string) []int {
	if target == Direct || target == Proxy {
		return []int{200}
	}
	return []int{200, 409, 422}
}

// Config is one comparison run. Zero fields take the documented defaults.
type Config struct {
	// Root is the repository root (builds run there); empty means the
	// folder with go.mod above the working directory.
	Root string
	// Corpora is the corpora folder; empty means corpus.Dir's default.
	Corpora string
	// Corpus chooses and plants the messages.
	Corpus corpus.Options
	// Targets to run, a subset of AllTargets; nil means all.
	Targets []string
	// Duration is each target's time per phase (closed loop, then open
	// loop); default 10s.
	Duration time.Duration
	// Rounds splits each phase into rounds that visit every target in
	// turn (Duration/Rounds each), so that a burst of a neighbour's load
	// on a shared machine is spread over the targets; the peak is the
	// median round. Default 3.
	Rounds int
	// Warmup is an unmeasured closed-loop run before each target's peak
	// phase; default Duration/5, at most 2s.
	Warmup time.Duration
	// Conns is the closed loop's connections; default 32.
	Conns int
	// OpenConns is the open loop's connections; default 64.
	OpenConns int
	// Rate is the open loop's fixed rate; zero means RateShare of the
	// xunjian target's peak (of the slowest target's without xunjian).
	Rate float64
	// RateShare is the share of the peak that sets Rate; default 0.5.
	RateShare float64
	// MaxRequests bounds each phase's requests; zero means no bound.
	MaxRequests int64
	// InspectTimeout sets the gateways' limits.inspect_timeout; zero keeps
	// their default (50ms), past which a draft is answered 503
	// (fail closed), which the report counts as unexpected.
	InspectTimeout time.Duration
	// Profile fetches CPU and allocation profiles of the xunjian target
	// under closed-loop load into ProfileDir (default bench/results) after
	// the measured phases.
	Profile    bool
	ProfileDir string
	// PII also runs the PII comparison (privacy detector vs Presidio) and
	// puts it in the report.
	PII       bool
	PIIConfig pii.Config
	// KeepWorkDir keeps the temporary folder with binaries, configs and
	// logs, and says where it is.
	KeepWorkDir bool
	// Progress receives one line per step; nil means none.
	Progress io.Writer
	// Command is recorded in the report as the command that ran.
	Command string
}

// TargetResult is one target's measurements.
type TargetResult struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Peak is the closed-loop phase, its rounds merged; Throughput is the
	// median of the rounds' throughputs, in PeakRounds.
	Peak       load.Result `json:"peak"`
	PeakRounds []float64   `json:"peak_rounds_rps"`
	// Fixed is the open-loop phase at the report's rate, its rounds merged
	// (latency histograms merged, throughput over all rounds).
	Fixed load.Result `json:"fixed_rate"`
	// Unexpected counts answers, over both phases, with a status the
	// target should not give (see the report's expected statuses), plus
	// requests without an answer.
	Unexpected int64 `json:"unexpected"`
	// Metrics are the gateway's own counters after the run (cache
	// look-ups, events), for gateway targets.
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// Ratios are the comparisons the budget is about.
type Ratios struct {
	// XunjianOverProxy is xunjian's peak throughput over proxy's.
	XunjianOverProxy float64 `json:"xunjian_over_proxy_throughput,omitempty"`
	// XunjianOverSidecar is xunjian's peak throughput over opa-sidecar's.
	XunjianOverSidecar float64 `json:"xunjian_over_opa_sidecar_throughput,omitempty"`
	// AddedP99 is xunjian's p99 minus direct's at the fixed rate, in µs.
	AddedP99 float64 `json:"xunjian_added_p99_us,omitempty"`
	// NoCacheOverProxy and NoCacheAddedP99 are the same for
	// xunjian-nocache.
	NoCacheOverProxy float64 `json:"xunjian_nocache_over_proxy_throughput,omitempty"`
	NoCacheAddedP99  float64 `json:"xunjian_nocache_added_p99_us,omitempty"`
}

// Check is one budget target and whether the run met it.
type Check struct {
	Name   string  `json:"name"`
	Target string  `json:"target"`
	Value  float64 `json:"value"`
	Met    bool    `json:"met"`
}

// Settings record how the run was configured.
type Settings struct {
	Duration      string             `json:"duration_per_phase"`
	Rounds        int                `json:"rounds"`
	Warmup        string             `json:"warmup"`
	Conns         int                `json:"closed_loop_conns"`
	OpenConns     int                `json:"open_loop_conns"`
	Rate          float64            `json:"fixed_rate_rps"`
	RateRule      string             `json:"fixed_rate_rule"`
	Corpora       []string           `json:"corpora"`
	Messages      int                `json:"messages"`
	Conversations int                `json:"conversations"`
	Agents        int                `json:"agents"`
	Planted       map[string]int     `json:"planted"`
	Shares        map[string]float64 `json:"plant_shares"`
	Expected      map[string][]int   `json:"expected_statuses"`
	// InspectTimeout is the gateways' limits.inspect_timeout when the run
	// set one; empty means their default.
	InspectTimeout string `json:"inspect_timeout,omitempty"`
}

// Report is the result of Run, written as the result JSON.
type Report struct {
	Command  string         `json:"command"`
	Started  time.Time      `json:"started"`
	Machine  Machine        `json:"machine"`
	Settings Settings       `json:"settings"`
	Targets  []TargetResult `json:"targets"`
	Ratios   Ratios         `json:"ratios"`
	Budget   []Check        `json:"budget"`
	Profiles []string       `json:"profiles,omitempty"`
	PII      *pii.Report    `json:"pii,omitempty"`
	Notes    []string       `json:"notes,omitempty"`
}

// Target returns the named target's result, or nil.
func (r *Report) Target(name string) *TargetResult {
	for i := range r.Targets {
		if r.Targets[i].Name == name {
			return &r.Targets[i]
		}
	}
	return nil
}

func (c *Config) defaults() error {
	if c.Root == "" {
		root, err := corpus.RepoRoot()
		if err != nil {
			return err
		}
		c.Root = root
	}
	if len(c.Targets) == 0 {
		c.Targets = AllTargets
	}
	for _, t := range c.Targets {
		if !slices.Contains(knownTargets, t) {
			return fmt.Errorf("target %q: want one of %s", t, strings.Join(knownTargets, ", "))
		}
	}
	// Run in the canonical order whatever the flag's order.
	var ordered []string
	for _, t := range knownTargets {
		if slices.Contains(c.Targets, t) {
			ordered = append(ordered, t)
		}
	}
	c.Targets = ordered
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Rounds <= 0 {
		c.Rounds = 3
	}
	if c.Warmup == 0 {
		c.Warmup = min(c.Duration/5, 2*time.Second)
	}
	if c.Conns <= 0 {
		c.Conns = 32
	}
	if c.OpenConns <= 0 {
		c.OpenConns = 64
	}
	if c.RateShare <= 0 {
		c.RateShare = 0.5
	}
	if c.ProfileDir == "" {
		c.ProfileDir = filepath.Join(c.Root, "bench", "results")
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return nil
}

// running is a started target.
type running struct {
	name    string
	addr    string
	gateway *targets.Gateway // gateway targets only
}

// Run runs the comparison. Every process it starts is stopped before it
// returns, whatever happens.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	say := func(format string, args ...any) { fmt.Fprintf(cfg.Progress, "bench: "+format+"\n", args...) }
	rep := &Report{Command: cfg.Command, Started: time.Now().UTC(), Machine: probeMachine(ctx, cfg.Root)}

	dir, err := corpus.Dir(cfg.Corpora)
	if err != nil {
		return nil, err
	}
	msgs, err := corpus.Load(dir, cfg.Corpus)
	if err != nil {
		return nil, err
	}
	bodies := make([][]byte, len(msgs))
	convs, agents := map[string]bool{}, map[string]bool{}
	planted := map[string]int{}
	for i, m := range msgs {
		bodies[i] = m.Body()
		convs[m.Conversation], agents[m.Agent] = true, true
		if m.Plant != "" {
			planted[m.Plant]++
		}
	}
	names := cfg.Corpus.Names
	if len(names) == 0 {
		names = corpus.DefaultNames
	}
	rep.Settings = Settings{
		Duration: cfg.Duration.String(), Rounds: cfg.Rounds, Warmup: cfg.Warmup.String(), Conns: cfg.Conns, OpenConns: cfg.OpenConns,
		Corpora: names, Messages: len(msgs), Conversations: len(convs), Agents: len(agents), Planted: planted,
		Shares:   map[string]float64{"privacy": cfg.Corpus.Privacy, "rude": cfg.Corpus.Rude, "diversion": cfg.Corpus.Diversion},
		Expected: map[string][]int{},
	}
	for _, t := range cfg.Targets {
		rep.Settings.Expected[t] = expected(t)
	}
	if cfg.InspectTimeout > 0 {
		rep.Settings.InspectTimeout = cfg.InspectTimeout.String()
	}
	say("%d messages from %s (%d conversations, %d agents, planted %v)", len(msgs), strings.Join(names, ", "), len(convs), len(agents), planted)

	work, err := os.MkdirTemp("", "xunjian-bench-")
	if err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	if cfg.KeepWorkDir {
		say("work dir kept: %s", work)
	} else {
		defer os.RemoveAll(work)
	}
	var group targets.Group
	defer group.Stop()

	run, err := startTargets(ctx, cfg, work, &group, rep, say)
	if err != nil {
		return nil, err
	}
	for _, r := range run {
		if err := probe(r, bodies[0]); err != nil {
			return nil, err
		}
	}

	// Phase 1: peak throughput, closed loop, in rounds that interleave the
	// targets, so that a neighbour's burst on a shared machine does not
	// fall on one target only.
	results := make([]TargetResult, len(run))
	peaks := make([][]load.Result, len(run))
	per := cfg.Duration / time.Duration(cfg.Rounds)
	for round := 1; round <= cfg.Rounds; round++ {
		for i, r := range run {
			if round == 1 {
				results[i] = TargetResult{Name: r.name, Description: descriptions[r.name]}
				if cfg.Warmup > 0 {
					say("%s: warm-up %v", r.name, cfg.Warmup)
					if _, err := load.Run(ctx, load.Config{Addr: r.addr, Path: targets.RoutePath, Bodies: bodies, Conns: cfg.Conns, Duration: cfg.Warmup}); err != nil {
						return nil, fmt.Errorf("%s: warm-up: %w", r.name, err)
					}
				}
			}
			say("%s: closed loop, %d connections, %v (round %d of %d)", r.name, cfg.Conns, per, round, cfg.Rounds)
			res, err := load.Run(ctx, load.Config{Addr: r.addr, Path: targets.RoutePath, Bodies: bodies, Conns: cfg.Conns, Duration: per, MaxRequests: cfg.MaxRequests})
			if err != nil {
				return nil, fmt.Errorf("%s: closed loop: %w", r.name, err)
			}
			peaks[i] = append(peaks[i], res)
			say("%s: %.0f req/s, p99 %.0fµs, statuses %v", r.name, res.Throughput, res.Latency.P99, res.Statuses)
		}
	}
	for i := range run {
		results[i].Peak = load.Merge(peaks[i]...)
		for _, p := range peaks[i] {
			results[i].PeakRounds = append(results[i].PeakRounds, p.Throughput)
		}
		results[i].Peak.Throughput = median(results[i].PeakRounds)
	}

	// The fixed rate: given, or a share of the gateway's peak.
	rate, rule := cfg.Rate, "given by --rate"
	if rate <= 0 {
		base := ""
		for i, r := range run {
			if r.name == Xunjian {
				rate, base = results[i].Peak.Throughput, Xunjian
			}
		}
		if base == "" {
			for i, r := range run {
				if rate == 0 || results[i].Peak.Throughput < rate {
					rate, base = results[i].Peak.Throughput, r.name
				}
			}
		}
		rate *= cfg.RateShare
		rule = fmt.Sprintf("%.0f%% of %s's measured peak", 100*cfg.RateShare, base)
	}
	rate = float64(int64(rate/10+0.5) * 10) // a round number
	if rate <= 0 {
		return nil, errors.New("fixed rate: the peak measured nothing")
	}
	rep.Settings.Rate, rep.Settings.RateRule = rate, rule

	// Phase 2: latency at the fixed rate, open loop, in the same rounds.
	fixed := make([][]load.Result, len(run))
	for round := 1; round <= cfg.Rounds; round++ {
		for i, r := range run {
			say("%s: open loop at %.0f req/s, %d connections, %v (round %d of %d)", r.name, rate, cfg.OpenConns, per, round, cfg.Rounds)
			res, err := load.Run(ctx, load.Config{Addr: r.addr, Path: targets.RoutePath, Bodies: bodies, Rate: rate, Conns: cfg.OpenConns, Duration: per, MaxRequests: cfg.MaxRequests})
			if err != nil {
				return nil, fmt.Errorf("%s: open loop: %w", r.name, err)
			}
			fixed[i] = append(fixed[i], res)
			say("%s: p50 %.0fµs p99 %.0fµs p99.9 %.0fµs max %.0fµs (achieved %.0f req/s, late %d, dropped %d)",
				r.name, res.Latency.P50, res.Latency.P99, res.Latency.P999, res.Latency.Max, res.Throughput, res.Late, res.Dropped)
		}
	}
	for i, r := range run {
		res := load.Merge(fixed[i]...)
		results[i].Fixed = res
		ok := expected(r.name)
		results[i].Unexpected = results[i].Peak.Unexpected(ok...) + res.Unexpected(ok...) + results[i].Peak.Errors + res.Errors
		if r.gateway != nil {
			if m, err := scrapeMetrics(r.gateway.Admin); err != nil {
				rep.Notes = append(rep.Notes, fmt.Sprintf("%s: metrics: %v", r.name, err))
			} else {
				results[i].Metrics = m
			}
		}
	}
	rep.Targets = results
	for _, tr := range results {
		if tr.Unexpected > 0 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: %d requests unanswered or answered with an unexpected status (closed loop %s; open loop %s)",
				tr.Name, tr.Unexpected, unexpectedString(tr.Peak, expected(tr.Name)), unexpectedString(tr.Fixed, expected(tr.Name))))
		}
	}

	if cfg.Profile {
		for _, r := range run {
			if r.name != Xunjian {
				continue
			}
			files, note, err := profile(ctx, cfg, r, bodies, say)
			if err != nil {
				return nil, err
			}
			// Recorded relative to the repository: the report is checked
			// in and must not name the machine's paths.
			for _, f := range files {
				if rel, err := filepath.Rel(cfg.Root, f); err == nil && !strings.HasPrefix(rel, "..") {
					f = filepath.ToSlash(rel)
				}
				rep.Profiles = append(rep.Profiles, f)
			}
			if note != "" {
				rep.Notes = append(rep.Notes, note)
			}
		}
	}
	group.Stop() // free the cores before the PII run

	rep.computeRatios()
	rep.Notes = append(rep.Notes, rep.gatewayNotes()...)
	if cfg.PII {
		pc := cfg.PIIConfig
		if pc.Corpora == "" {
			pc.Corpora = dir
		}
		if pc.Progress == nil {
			pc.Progress = cfg.Progress
		}
		pr, err := pii.Run(ctx, pc)
		if err != nil {
			return nil, fmt.Errorf("pii: %w", err)
		}
		rep.PII = pr
	}
	return rep, nil
}

// startTargets starts the upstream and every target in cfg.Targets and
// returns them in order; every process joins group.
func startTargets(ctx context.Context, cfg Config, work string, group *targets.Group, rep *Report, say func(string, ...any)) ([]running, error) {
	up, upAddr, err := targets.StartChild(ctx, targets.RoleUpstream, targets.ChildArgs{}, work)
	if err != nil {
		return nil, err
	}
	group.Add(up)
	say("upstream on %s", upAddr)

	need := func(names ...string) bool {
		for _, n := range names {
			if slices.Contains(cfg.Targets, n) {
				return true
			}
		}
		return false
	}
	var xunjianBin, opaBin string
	if need(Xunjian, XunjianNoCache, XunjianNoStream) {
		say("building xunjian (go build ./cmd/xunjian)")
		if xunjianBin, err = targets.BuildXunjian(ctx, cfg.Root, work); err != nil {
			return nil, err
		}
	}
	if need(OPASidecar) {
		v, err := targets.OPAVersion(ctx, cfg.Root)
		if err != nil {
			return nil, err
		}
		say("building opa %s (go install %s@%s)", v, "github.com/open-policy-agent/opa", v)
		if opaBin, err = targets.BuildOPA(ctx, cfg.Root, work, v); err != nil {
			return nil, err
		}
		bv, err := targets.OPABinaryVersion(ctx, opaBin)
		if err != nil {
			return nil, err
		}
		rep.Machine.OPA = bv
	} else if v, err := targets.OPAVersion(ctx, cfg.Root); err == nil {
		rep.Machine.OPA = strings.TrimPrefix(v, "v") + " (embedded, from go.mod)"
	}

	// The gateways send their events to a broker process of its own, as
	// in production, not to one on their own heap.
	var broker string
	if need(Xunjian, XunjianNoCache) {
		p, addr, err := targets.StartBroker(ctx, xunjianBin, work)
		if err != nil {
			return nil, err
		}
		group.Add(p)
		broker = addr
		say("broker on %s (xunjian broker)", addr)
	}
	var run []running
	for _, name := range cfg.Targets {
		switch name {
		case Direct:
			run = append(run, running{name: name, addr: upAddr})
		case Proxy:
			p, addr, err := targets.StartChild(ctx, targets.RoleProxy, targets.ChildArgs{Upstream: upAddr}, work)
			if err != nil {
				return nil, err
			}
			group.Add(p)
			run = append(run, running{name: name, addr: addr})
		case Xunjian, XunjianNoCache, XunjianNoStream:
			g, err := targets.StartGateway(ctx, xunjianBin, targets.GatewayConfig{
				Name: name, Upstream: upAddr, WorkDir: work,
				NoCache: name == XunjianNoCache, NoStream: name == XunjianNoStream, InspectTimeout: cfg.InspectTimeout,
				Broker: broker,
			})
			if err != nil {
				return nil, err
			}
			group.Add(g.Process)
			run = append(run, running{name: name, addr: g.Addr, gateway: g})
		case OPASidecar:
			bundle := filepath.Join(work, "bundle")
			if err := rules.WriteDefaultBundle(bundle); err != nil {
				return nil, err
			}
			o, err := targets.StartOPA(ctx, opaBin, bundle, work)
			if err != nil {
				return nil, err
			}
			group.Add(o.Process)
			p, addr, err := targets.StartChild(ctx, targets.RoleSidecar, targets.ChildArgs{Upstream: upAddr, OPA: o.Addr, Bundle: bundle}, work)
			if err != nil {
				return nil, err
			}
			group.Add(p)
			run = append(run, running{name: name, addr: addr})
		}
		say("%s on %s", name, run[len(run)-1].addr)
	}
	return run, nil
}

// probe sends one request and checks the answer, so that a broken target
// fails the run at once with a clear message.
func probe(r running, body []byte) error {
	res, err := load.Run(context.Background(), load.Config{Addr: r.addr, Path: targets.RoutePath, Bodies: [][]byte{body}, Conns: 1, Duration: 5 * time.Second, MaxRequests: 1})
	if err != nil {
		return fmt.Errorf("%s: first request: %w", r.name, err)
	}
	if n := res.Unexpected(expected(r.name)...); n > 0 {
		return fmt.Errorf("%s: first request answered %v, want one of %v", r.name, res.StatusList(), expected(r.name))
	}
	return nil
}

func (r *Report) computeRatios() {
	x, nc, p, s, d := r.Target(Xunjian), r.Target(XunjianNoCache), r.Target(Proxy), r.Target(OPASidecar), r.Target(Direct)
	if x != nil && p != nil && p.Peak.Throughput > 0 {
		r.Ratios.XunjianOverProxy = x.Peak.Throughput / p.Peak.Throughput
		r.Budget = append(r.Budget, Check{Name: "xunjian throughput / proxy", Target: ">= 0.50", Value: r.Ratios.XunjianOverProxy, Met: r.Ratios.XunjianOverProxy >= 0.5})
	}
	if x != nil && s != nil && s.Peak.Throughput > 0 {
		r.Ratios.XunjianOverSidecar = x.Peak.Throughput / s.Peak.Throughput
		r.Budget = append(r.Budget, Check{Name: "xunjian throughput / opa-sidecar", Target: ">= 5", Value: r.Ratios.XunjianOverSidecar, Met: r.Ratios.XunjianOverSidecar >= 5})
	}
	if x != nil && d != nil {
		r.Ratios.AddedP99 = x.Fixed.Latency.P99 - d.Fixed.Latency.P99
		r.Budget = append(r.Budget, Check{Name: "xunjian added p99 at the fixed rate (µs)", Target: "< 1000", Value: r.Ratios.AddedP99, Met: r.Ratios.AddedP99 < 1000})
	}
	if nc != nil && p != nil && p.Peak.Throughput > 0 {
		r.Ratios.NoCacheOverProxy = nc.Peak.Throughput / p.Peak.Throughput
	}
	if nc != nil && d != nil {
		r.Ratios.NoCacheAddedP99 = nc.Fixed.Latency.P99 - d.Fixed.Latency.P99
	}
}

// gatewayNotes explains what the gateways' own counters say: cache hit
// rates and whether events reached the stream.
func (r *Report) gatewayNotes() []string {
	var notes []string
	for _, t := range r.Targets {
		if t.Metrics == nil {
			continue
		}
		var parts []string
		for _, c := range []string{"findings", "decision"} {
			h := t.Metrics[`xunjian_cache_lookups_total{cache="`+c+`",result="hit"}`]
			m := t.Metrics[`xunjian_cache_lookups_total{cache="`+c+`",result="miss"}`]
			if h+m > 0 {
				parts = append(parts, fmt.Sprintf("%s cache hit rate %.1f%%", c, 100*h/(h+m)))
			} else {
				parts = append(parts, c+" cache not used")
			}
		}
		if v, ok := t.Metrics["xunjian_events_spooled_messages_total"]; t.Name == XunjianNoStream {
			parts = append(parts, "stream disabled")
		} else if ok {
			parts = append(parts, fmt.Sprintf("%.0f messages spooled, %.0f records shipped to Kafka", v, t.Metrics["xunjian_events_shipped_total"]))
		} else {
			parts = append(parts, "no event-stream metrics (stream not wired into serve in this build)")
		}
		notes = append(notes, t.Name+": "+strings.Join(parts, "; "))
	}
	return notes
}

// median returns the median of xs (the mean of the middle two for an even
// count), 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// unexpectedString lists a phase's answers outside ok, and failures.
func unexpectedString(r load.Result, ok []int) string {
	var parts []string
	for _, st := range r.StatusList() {
		if !slices.Contains(ok, st) {
			parts = append(parts, fmt.Sprintf("%d: %d", st, r.Statuses[st]))
		}
	}
	if r.Errors > 0 {
		parts = append(parts, fmt.Sprintf("no answer: %d", r.Errors))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
