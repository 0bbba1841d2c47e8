// Package compare runs the harness's side-by-side comparison: it starts
// every target on loopback (the chat backend alone, a plain proxy, the
// Xunjian gateway with and without its caches, and detectors plus an OPA
// server over HTTP), measures each one's peak throughput in closed loop,
// then each one's latency in open loop at one fixed rate (by default half
// the gateway's peak), and reports them with the ratios the performance
// budget in DESIGN.md is about, and the gateways' cache hit rates in each
// phase.
//
// It does so for each scenario (the load's messages): the headline,
// realistic traffic in which every message but the quick replies is unique
// and conversations evolve with customer and agent turns, and the corpus
// drafts repeated, which is what the caches like best.
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
	// shipper and the broker) costs.
	XunjianNoStream = "xunjian-nostream"
)

// DefaultGatewayEnv is the Go runtime's settings the gateways run with,
// as deploy/k8s/gateway-deployment.yaml gives them (space-separated):
// collect garbage at five times the live heap rather than twice, below a
// soft limit under the pod's memory. With one core a collection's marking
// takes the handlers' CPU for tens of milliseconds; fewer collections are
// a shorter tail.
const DefaultGatewayEnv = "GOGC=400 GOMEMLIMIT=3600MiB"

// AllTargets are the targets a comparison runs by default, in order.
var AllTargets = []string{Direct, Proxy, Xunjian, XunjianNoCache, OPASidecar}

// knownTargets are all the targets --targets may name, in running order.
var knownTargets = []string{Direct, Proxy, Xunjian, XunjianNoCache, XunjianNoStream, OPASidecar}

// descriptions say what each target is, for the report.
var descriptions = map[string]string{
	Direct:          "client straight to an upstream of its own (the floor)",
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

// connectPath is what each load connection GETs, unmeasured, to open: a
// path no target serves, so that opening a connection sends no message.
const connectPath = "/bench/connect"

// Config is one comparison run. Zero fields take the documented defaults.
type Config struct {
	// Root is the repository root (builds run there); empty means the
	// folder with go.mod above the working directory.
	Root string
	// Corpora is the corpora folder; empty means corpus.Dir's default.
	Corpora string
	// Scenarios to run, in order, from AllScenarios; the first is the
	// headline (its ratios are the budget checks, its run is profiled).
	// nil means AllScenarios.
	Scenarios []string
	// Corpus chooses and plants the repeated scenario's drafts.
	Corpus corpus.Options
	// Traffic makes the unique scenario's messages.
	Traffic corpus.TrafficOptions
	// Drafts is how many messages of the unique scenario's stream are
	// made before the run; every target goes on through them from phase
	// to phase and would start over past the end (the report says so).
	// Zero means enough for the run's length: 25,000 per second of
	// warm-up and phases, more with Profile, at least 20,000.
	Drafts int
	// Targets to run, a subset of knownTargets; nil means AllTargets.
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
	// xunjian target's peak (of the slowest target's without xunjian), in
	// each scenario.
	Rate float64
	// RateShare is the share of the peak that sets Rate; default 0.5.
	RateShare float64
	// MaxRequests bounds each phase's requests; zero means no bound.
	MaxRequests int64
	// InspectTimeout sets the gateways' limits.inspect_timeout; zero keeps
	// their default (50ms), past which a draft is answered 503
	// (fail closed), which the report counts as unexpected.
	InspectTimeout time.Duration
	// GatewayEnv is added to the gateways' environment: the Go runtime's
	// settings a deployment gives them (DefaultGatewayEnv).
	GatewayEnv []string
	// Pin is PinAuto (or empty), PinOn or PinOff: whether the load
	// generator and upstream run on one set of CPUs and the target under
	// test on another (taskset -c). Auto pins when taskset exists and at
	// least 2 CPUs are allowed.
	Pin string
	// LoadCPUs and TargetCPUs choose the two sets (taskset's list form,
	// "0" or "0-1"); empty means the allowed CPUs' first half and the
	// rest.
	LoadCPUs, TargetCPUs string
	// Profile fetches CPU and allocation profiles of the xunjian target
	// under closed-loop load into ProfileDir (default bench/results) after
	// the headline scenario's measured phases.
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

// CacheCount is a cache's look-ups in one phase. HitRate is hits over
// look-ups, absent when there were none (the cache is off).
type CacheCount struct {
	Hits    float64  `json:"hits"`
	Misses  float64  `json:"misses"`
	HitRate *float64 `json:"hit_rate,omitempty"`
}

func (c *CacheCount) add(hits, misses float64) {
	c.Hits += hits
	c.Misses += misses
	c.HitRate = nil
	if n := c.Hits + c.Misses; n > 0 {
		r := c.Hits / n
		c.HitRate = &r
	}
}

// PhaseCache is a gateway's cache look-ups during one phase, from its
// /metrics read before and after each of the phase's runs.
type PhaseCache struct {
	Findings CacheCount `json:"findings"`
	Decision CacheCount `json:"decision"`
}

// CacheByPhase holds a gateway's cache look-ups per phase.
type CacheByPhase struct {
	Warmup  *PhaseCache `json:"warmup,omitempty"`
	Peak    *PhaseCache `json:"peak,omitempty"`
	Fixed   *PhaseCache `json:"fixed_rate,omitempty"`
	Profile *PhaseCache `json:"profile,omitempty"`
}

// TargetResult is one target's measurements in one scenario.
type TargetResult struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Peak is the closed-loop phase, its rounds merged; Throughput is the
	// median of the rounds' throughputs, in PeakRounds.
	Peak       load.Result `json:"peak"`
	PeakRounds []float64   `json:"peak_rounds_rps"`
	// Fixed is the open-loop phase at the scenario's rate, its rounds
	// merged (latency histograms merged, throughput over all rounds).
	Fixed load.Result `json:"fixed_rate"`
	// Unexpected counts answers, over both phases, with a status the
	// target should not give (see the report's expected statuses), plus
	// requests without an answer.
	Unexpected int64 `json:"unexpected"`
	// Cache is a gateway's findings and decision cache look-ups in each
	// phase (gateway targets only).
	Cache *CacheByPhase `json:"cache_by_phase,omitempty"`
	// Drafts is how many of the scenario's messages the target was sent
	// (or skipped as dropped), over every phase, when the scenario goes on
	// through its messages; Repeated counts those past the end of the
	// messages, which started over.
	Drafts   int64 `json:"drafts_used,omitempty"`
	Repeated int64 `json:"drafts_repeated,omitempty"`
	// Metrics are the gateway's own counters after the scenario (cache
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

// Settings record how the run was configured, for every scenario.
type Settings struct {
	Scenarios []string         `json:"scenarios"`
	Duration  string           `json:"duration_per_phase"`
	Rounds    int              `json:"rounds"`
	Warmup    string           `json:"warmup"`
	Conns     int              `json:"closed_loop_conns"`
	OpenConns int              `json:"open_loop_conns"`
	Expected  map[string][]int `json:"expected_statuses"`
	// InspectTimeout is the gateways' limits.inspect_timeout when the run
	// set one; empty means their default.
	InspectTimeout string `json:"inspect_timeout,omitempty"`
	// GatewayEnv is what the gateways' environment had added.
	GatewayEnv []string `json:"gateway_env,omitempty"`
}

// Report is the result of Run, written as the result JSON.
type Report struct {
	Command  string    `json:"command"`
	Started  time.Time `json:"started"`
	Machine  Machine   `json:"machine"`
	Settings Settings  `json:"settings"`
	Pinning  Pinning   `json:"pinning"`
	// Scenarios are the scenarios' results, the headline first.
	Scenarios []ScenarioResult `json:"scenarios"`
	// Ratios and Budget are the headline scenario's.
	Ratios   Ratios      `json:"ratios"`
	Budget   []Check     `json:"budget"`
	Profiles []string    `json:"profiles,omitempty"`
	PII      *pii.Report `json:"pii,omitempty"`
	Notes    []string    `json:"notes,omitempty"`
}

// Headline returns the headline scenario's result, or nil.
func (r *Report) Headline() *ScenarioResult {
	if len(r.Scenarios) == 0 {
		return nil
	}
	return &r.Scenarios[0]
}

// Target returns the named target's result in the headline scenario, or
// nil.
func (r *Report) Target(name string) *TargetResult {
	if h := r.Headline(); h != nil {
		return h.Target(name)
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
	if len(c.Scenarios) == 0 {
		c.Scenarios = AllScenarios
	}
	for i, s := range c.Scenarios {
		if !slices.Contains(AllScenarios, s) {
			return fmt.Errorf("scenario %q: want one of %s", s, strings.Join(AllScenarios, ", "))
		}
		if slices.Contains(c.Scenarios[:i], s) {
			return fmt.Errorf("scenario %q named twice", s)
		}
	}
	switch c.Pin {
	case "":
		c.Pin = PinAuto
	case PinAuto, PinOn, PinOff:
	default:
		return fmt.Errorf("pin %q: want %s, %s or %s", c.Pin, PinAuto, PinOn, PinOff)
	}
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
	if c.Drafts <= 0 {
		secs := (c.Warmup + 2*c.Duration).Seconds()
		if c.Profile {
			secs += c.Duration.Seconds() * 0.6
		}
		c.Drafts = max(20000, int(25000*secs))
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

// binaries are the programs the targets run, built once per run.
type binaries struct{ xunjian, opa string }

// Run runs the comparison, scenario by scenario, each with targets started
// afresh. Every process it starts is stopped before it returns, whatever
// happens.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	say := func(format string, args ...any) { fmt.Fprintf(cfg.Progress, "bench: "+format+"\n", args...) }
	rep := &Report{Command: cfg.Command, Started: time.Now().UTC(), Machine: probeMachine(ctx, cfg.Root)}
	rep.Settings = Settings{
		Scenarios: cfg.Scenarios, Duration: cfg.Duration.String(), Rounds: cfg.Rounds, Warmup: cfg.Warmup.String(),
		Conns: cfg.Conns, OpenConns: cfg.OpenConns, Expected: map[string][]int{},
	}
	for _, t := range cfg.Targets {
		rep.Settings.Expected[t] = expected(t)
	}
	if cfg.InspectTimeout > 0 {
		rep.Settings.InspectTimeout = cfg.InspectTimeout.String()
	}
	rep.Settings.GatewayEnv = cfg.GatewayEnv

	dir, err := corpus.Dir(cfg.Corpora)
	if err != nil {
		return nil, err
	}
	var loads []*scenarioLoad
	for _, name := range cfg.Scenarios {
		sl, err := buildScenario(dir, cfg, name)
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", name, err)
		}
		say("scenario %s: %s", name, sl.summary())
		loads = append(loads, sl)
	}

	work, err := os.MkdirTemp("", "xunjian-bench-")
	if err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	if cfg.KeepWorkDir {
		say("work dir kept: %s", work)
	} else {
		defer os.RemoveAll(work)
	}
	// Build before pinning: the builds have every CPU.
	bins, err := buildBinaries(ctx, cfg, work, rep, say)
	if err != nil {
		return nil, err
	}
	pin, err := decidePinning(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if pin.on {
		if err := targets.PinSelf(ctx, pin.load); err != nil {
			return nil, err
		}
		defer func() {
			// Give the PII run and whatever follows every CPU again.
			if err := targets.PinSelf(context.Background(), pin.allowed); err != nil {
				say("unpinning: %v", err)
			}
		}()
		say("pinned: load generator, upstream and broker on CPU %s; the target under test on CPU %s", pin.load, pin.target)
	} else {
		say("not pinned: %s", pin.reason)
	}
	rep.Pinning = pin.report(cfg.Targets)

	for i, sl := range loads {
		res, profiles, err := runScenario(ctx, cfg, sl, bins, pin, work, i == 0, say)
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", sl.name, err)
		}
		rep.Scenarios = append(rep.Scenarios, res)
		rep.Profiles = append(rep.Profiles, profiles...)
	}
	h := rep.Headline()
	rep.Ratios, rep.Budget = h.Ratios, h.Budget

	if cfg.PII {
		pc := cfg.PIIConfig
		if pc.Corpora == "" {
			pc.Corpora = dir
		}
		if pc.Progress == nil {
			pc.Progress = cfg.Progress
		}
		if pin.on { // every CPU again for Presidio and the detector
			if err := targets.PinSelf(ctx, pin.allowed); err != nil {
				return nil, err
			}
		}
		pr, err := pii.Run(ctx, pc)
		if err != nil {
			return nil, fmt.Errorf("pii: %w", err)
		}
		rep.PII = pr
	}
	return rep, nil
}

// buildBinaries builds the xunjian binary and the opa binary the targets
// need, and records OPA's version.
func buildBinaries(ctx context.Context, cfg Config, work string, rep *Report, say func(string, ...any)) (binaries, error) {
	var b binaries
	need := func(names ...string) bool {
		return slices.ContainsFunc(names, func(n string) bool { return slices.Contains(cfg.Targets, n) })
	}
	var err error
	if need(Xunjian, XunjianNoCache, XunjianNoStream) {
		say("building xunjian (go build ./cmd/xunjian)")
		if b.xunjian, err = targets.BuildXunjian(ctx, cfg.Root, work); err != nil {
			return b, err
		}
	}
	if need(OPASidecar) {
		v, err := targets.OPAVersion(ctx, cfg.Root)
		if err != nil {
			return b, err
		}
		say("building opa %s (go install %s@%s)", v, "github.com/open-policy-agent/opa", v)
		if b.opa, err = targets.BuildOPA(ctx, cfg.Root, work, v); err != nil {
			return b, err
		}
		bv, err := targets.OPABinaryVersion(ctx, b.opa)
		if err != nil {
			return b, err
		}
		rep.Machine.OPA = bv
	} else if v, err := targets.OPAVersion(ctx, cfg.Root); err == nil {
		rep.Machine.OPA = strings.TrimPrefix(v, "v") + " (embedded, from go.mod)"
	}
	return b, nil
}

func (s *ScenarioResult) computeRatios() {
	x, nc, p, sc, d := s.Target(Xunjian), s.Target(XunjianNoCache), s.Target(Proxy), s.Target(OPASidecar), s.Target(Direct)
	s.Ratios, s.Budget = Ratios{}, nil
	if x != nil && p != nil && p.Peak.Throughput > 0 {
		s.Ratios.XunjianOverProxy = x.Peak.Throughput / p.Peak.Throughput
		s.Budget = append(s.Budget, Check{Name: "xunjian throughput / proxy", Target: ">= 0.50", Value: s.Ratios.XunjianOverProxy, Met: s.Ratios.XunjianOverProxy >= 0.5})
	}
	if x != nil && sc != nil && sc.Peak.Throughput > 0 {
		s.Ratios.XunjianOverSidecar = x.Peak.Throughput / sc.Peak.Throughput
		s.Budget = append(s.Budget, Check{Name: "xunjian throughput / opa-sidecar", Target: ">= 5", Value: s.Ratios.XunjianOverSidecar, Met: s.Ratios.XunjianOverSidecar >= 5})
	}
	if x != nil && d != nil {
		s.Ratios.AddedP99 = x.Fixed.Latency.P99 - d.Fixed.Latency.P99
		s.Budget = append(s.Budget, Check{Name: "xunjian added p99 at the fixed rate (µs)", Target: "< 1000", Value: s.Ratios.AddedP99, Met: s.Ratios.AddedP99 < 1000})
	}
	if nc != nil && p != nil && p.Peak.Throughput > 0 {
		s.Ratios.NoCacheOverProxy = nc.Peak.Throughput / p.Peak.Throughput
	}
	if nc != nil && d != nil {
		s.Ratios.NoCacheAddedP99 = nc.Fixed.Latency.P99 - d.Fixed.Latency.P99
	}
}

// gatewayNotes explains what the gateways' own counters say over the
// whole scenario: cache hit rates and whether events reached the stream.
func (s *ScenarioResult) gatewayNotes() []string {
	var notes []string
	for _, t := range s.Targets {
		if t.Metrics == nil {
			continue
		}
		var parts []string
		for _, c := range []string{"findings", "decision"} {
			h := t.Metrics[`xunjian_cache_lookups_total{cache="`+c+`",result="hit"}`]
			m := t.Metrics[`xunjian_cache_lookups_total{cache="`+c+`",result="miss"}`]
			if h+m > 0 {
				parts = append(parts, fmt.Sprintf("%s cache hit rate %.1f%% over the scenario", c, 100*h/(h+m)))
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

// errNoPeak is returned when a scenario's peak phase measured nothing, so
// no fixed rate follows from it.
var errNoPeak = errors.New("fixed rate: the peak measured nothing")
