package compare

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xunjian/xunjian/bench/internal/corpus"
	"github.com/xunjian/xunjian/bench/internal/load"
	"github.com/xunjian/xunjian/bench/internal/targets"
	"github.com/xunjian/xunjian/rules"
)

// Scenario names.
const (
	// Unique is the headline: realistic traffic (corpus.Traffic), every
	// message unique but the quick replies, conversations that evolve
	// with customer and agent turns; each target goes on through the
	// messages from phase to phase, never sending one twice.
	Unique = "unique"
	// Repeated is the corpus's agent drafts (corpus.Load), request i of
	// every phase carrying draft i mod N: what the caches like best.
	Repeated = "repeated"
)

// AllScenarios are the scenarios a comparison runs by default, the
// headline first.
var AllScenarios = []string{Unique, Repeated}

// LoadInfo describes a scenario's messages.
type LoadInfo struct {
	Corpora []string `json:"corpora"`
	// Messages is how many messages the scenario has (made before the
	// run); Conversations and Agents how many ids they carry.
	Messages      int                `json:"messages"`
	Conversations int                `json:"conversations"`
	Agents        int                `json:"agents"`
	Planted       map[string]int     `json:"planted"`
	Shares        map[string]float64 `json:"shares"`
	// Sequence says which message each request carries; Repeats says what
	// repeats.
	Sequence string `json:"sequence"`
	Repeats  string `json:"repeats"`
	// Traffic counts the unique scenario's messages by kind.
	Traffic *corpus.TrafficStats `json:"traffic,omitempty"`
}

// ScenarioResult is one scenario's measurements.
type ScenarioResult struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Load        LoadInfo `json:"load"`
	// Rate is the open loop's fixed rate, set by RateRule.
	Rate     float64        `json:"fixed_rate_rps"`
	RateRule string         `json:"fixed_rate_rule"`
	Targets  []TargetResult `json:"targets"`
	Ratios   Ratios         `json:"ratios"`
	Budget   []Check        `json:"budget"`
	Notes    []string       `json:"notes,omitempty"`
}

// Target returns the named target's result, or nil.
func (s *ScenarioResult) Target(name string) *TargetResult {
	for i := range s.Targets {
		if s.Targets[i].Name == name {
			return &s.Targets[i]
		}
	}
	return nil
}

// scenarioLoad is a scenario's request bodies, made before the run.
type scenarioLoad struct {
	name string
	// bodies are the requests' bodies; continuous means each target goes
	// on through them from run to run (Unique), otherwise every run starts
	// at the first (Repeated).
	bodies     [][]byte
	continuous bool
	info       LoadInfo
	// simRate is the unique stream's messages per simulated second.
	simRate float64
}

func (s *scenarioLoad) summary() string {
	i := s.info
	return fmt.Sprintf("%d messages from %s (%d conversations, %d agents, planted %v)", i.Messages, strings.Join(i.Corpora, ", "), i.Conversations, i.Agents, i.Planted)
}

// buildScenario makes the named scenario's messages.
func buildScenario(dir string, cfg Config, name string) (*scenarioLoad, error) {
	sl := &scenarioLoad{name: name}
	var msgs []corpus.Message
	switch name {
	case Unique:
		opts := cfg.Traffic
		var stats corpus.TrafficStats
		var err error
		if msgs, stats, err = corpus.Generate(dir, opts, cfg.Drafts); err != nil {
			return nil, err
		}
		sl.continuous = true
		sl.info.Traffic = &stats
		sl.info.Shares = map[string]float64{
			"privacy": opts.Privacy, "rude": opts.Rude, "diversion": opts.Diversion, "quick_replies": opts.Quick,
			"customer_follow_ups": opts.FollowUps, "customer_complaints": opts.Complaints,
		}
		if stats.SimulatedSeconds > 0 {
			sl.simRate = float64(stats.Messages) / stats.SimulatedSeconds
		}
		sl.info.Sequence = fmt.Sprintf("each target goes on through the %d messages from phase to phase (warm-up, peak rounds, fixed-rate rounds), so it is sent each at most once; past the end it would start over (counted as drafts_repeated)", len(msgs))
		sl.info.Repeats = fmt.Sprintf("only the templated quick replies (%d of %d agent drafts, %.1f%%), verbatim; every other message, customer or agent, is unique, and so is every planted value",
			stats.Quick, stats.Agent, 100*float64(stats.Quick)/float64(max(stats.Agent, 1)))
		sl.info.Corpora = opts.Names
	case Repeated:
		var err error
		if msgs, err = corpus.Load(dir, cfg.Corpus); err != nil {
			return nil, err
		}
		sl.info.Shares = map[string]float64{"privacy": cfg.Corpus.Privacy, "rude": cfg.Corpus.Rude, "diversion": cfg.Corpus.Diversion}
		sl.info.Sequence = fmt.Sprintf("request i of every phase carries draft i mod %d", len(msgs))
		sl.info.Repeats = fmt.Sprintf("everything: the %d corpus agent drafts, in the same order in every phase and round", len(msgs))
		sl.info.Corpora = cfg.Corpus.Names
	}
	if len(sl.info.Corpora) == 0 {
		sl.info.Corpora = corpus.DefaultNames
	}
	sl.bodies = make([][]byte, len(msgs))
	convs, agents := map[string]bool{}, map[string]bool{}
	sl.info.Planted = map[string]int{}
	for i, m := range msgs {
		sl.bodies[i] = m.Body()
		convs[m.Conversation], agents[m.Agent] = true, true
		if m.Plant != "" {
			sl.info.Planted[m.Plant]++
		}
	}
	sl.info.Messages, sl.info.Conversations, sl.info.Agents = len(msgs), len(convs), len(agents)
	return sl, nil
}

// runScenario starts every target afresh, measures the peak and the fixed
// rate in rounds with each gateway's cache look-ups per phase, profiles
// the xunjian target when asked (headline only), and stops everything.
func runScenario(ctx context.Context, cfg Config, sl *scenarioLoad, bins binaries, pin pinning, work string, headline bool, say func(string, ...any)) (ScenarioResult, []string, error) {
	res := ScenarioResult{Name: sl.name, Description: scenarioDescription(sl.name), Load: sl.info}
	logDir := filepath.Join(work, sl.name)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return res, nil, fmt.Errorf("work dir: %w", err)
	}
	var group targets.Group
	defer group.Stop()
	run, err := startTargets(ctx, cfg, bins, pin, logDir, &group, say)
	if err != nil {
		return res, nil, err
	}

	results := make([]TargetResult, len(run))
	next := make([]int64, len(run)) // each target's place in a continuous scenario
	scrapeFailed := map[string]bool{}
	// send runs lc against target i, going on through the scenario's
	// messages, and adds the gateway's cache look-ups to *phase.
	send := func(i int, lc load.Config, phase **PhaseCache) (load.Result, error) {
		r := run[i]
		lc.Addr, lc.Path, lc.Bodies, lc.ConnectPath = r.addr, targets.RoutePath, sl.bodies, connectPath
		if sl.continuous {
			lc.Offset = next[i]
		}
		var before cacheSnapshot
		var berr error
		if r.gateway != nil && phase != nil {
			before, berr = scrapeCache(r.gateway.Admin)
		}
		out, err := load.Run(ctx, lc)
		if err != nil {
			return out, err
		}
		if sl.continuous {
			next[i] = out.Next
		}
		if r.gateway != nil && phase != nil {
			after, aerr := scrapeCache(r.gateway.Admin)
			if berr != nil || aerr != nil {
				if !scrapeFailed[r.name] {
					scrapeFailed[r.name] = true
					res.Notes = append(res.Notes, fmt.Sprintf("%s: reading the cache counters from /metrics failed (%v%v); its per-phase hit rates miss those runs", r.name, berr, aerr))
				}
				return out, nil
			}
			if *phase == nil {
				*phase = &PhaseCache{}
			}
			(*phase).add(after.minus(before))
		}
		return out, nil
	}

	for i, r := range run {
		results[i] = TargetResult{Name: r.name, Description: descriptions[r.name]}
		if r.gateway != nil {
			results[i].Cache = &CacheByPhase{}
		}
		// One request first, so that a broken target fails the run at
		// once with a clear message.
		p, err := send(i, load.Config{Conns: 1, Duration: 5 * time.Second, MaxRequests: 1}, nil)
		if err != nil {
			return res, nil, fmt.Errorf("%s: first request: %w", r.name, err)
		}
		if n := p.Unexpected(expected(r.name)...); n > 0 {
			return res, nil, fmt.Errorf("%s: first request answered %v, want one of %v", r.name, p.StatusList(), expected(r.name))
		}
	}
	cache := func(i int, pick func(*CacheByPhase) **PhaseCache) **PhaseCache {
		if results[i].Cache == nil {
			return nil
		}
		return pick(results[i].Cache)
	}

	// Phase 1: peak throughput, closed loop, in rounds that interleave the
	// targets, so that a neighbour's burst on a shared machine does not
	// fall on one target only.
	peaks := make([][]load.Result, len(run))
	per := cfg.Duration / time.Duration(cfg.Rounds)
	for round := 1; round <= cfg.Rounds; round++ {
		for i, r := range run {
			if round == 1 && cfg.Warmup > 0 {
				say("%s/%s: warm-up %v", sl.name, r.name, cfg.Warmup)
				if _, err := send(i, load.Config{Conns: cfg.Conns, Duration: cfg.Warmup}, cache(i, func(c *CacheByPhase) **PhaseCache { return &c.Warmup })); err != nil {
					return res, nil, fmt.Errorf("%s: warm-up: %w", r.name, err)
				}
			}
			say("%s/%s: closed loop, %d connections, %v (round %d of %d)", sl.name, r.name, cfg.Conns, per, round, cfg.Rounds)
			out, err := send(i, load.Config{Conns: cfg.Conns, Duration: per, MaxRequests: cfg.MaxRequests}, cache(i, func(c *CacheByPhase) **PhaseCache { return &c.Peak }))
			if err != nil {
				return res, nil, fmt.Errorf("%s: closed loop: %w", r.name, err)
			}
			peaks[i] = append(peaks[i], out)
			say("%s/%s: %.0f req/s, p99 %.0fµs, statuses %v", sl.name, r.name, out.Throughput, out.Latency.P99, out.Statuses)
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
		return res, nil, errNoPeak
	}
	res.Rate, res.RateRule = rate, rule

	// Phase 2: latency at the fixed rate, open loop, in the same rounds.
	fixed := make([][]load.Result, len(run))
	for round := 1; round <= cfg.Rounds; round++ {
		for i, r := range run {
			say("%s/%s: open loop at %.0f req/s, %d connections, %v (round %d of %d)", sl.name, r.name, rate, cfg.OpenConns, per, round, cfg.Rounds)
			out, err := send(i, load.Config{Rate: rate, Conns: cfg.OpenConns, Duration: per, MaxRequests: cfg.MaxRequests}, cache(i, func(c *CacheByPhase) **PhaseCache { return &c.Fixed }))
			if err != nil {
				return res, nil, fmt.Errorf("%s: open loop: %w", r.name, err)
			}
			fixed[i] = append(fixed[i], out)
			say("%s/%s: p50 %.0fµs p99 %.0fµs p99.9 %.0fµs max %.0fµs (achieved %.0f req/s, late %d, dropped %d)",
				sl.name, r.name, out.Latency.P50, out.Latency.P99, out.Latency.P999, out.Latency.Max, out.Throughput, out.Late, out.Dropped)
		}
	}
	for i, r := range run {
		out := load.Merge(fixed[i]...)
		results[i].Fixed = out
		ok := expected(r.name)
		results[i].Unexpected = results[i].Peak.Unexpected(ok...) + out.Unexpected(ok...) + results[i].Peak.Errors + out.Errors
	}

	var profiles []string
	if cfg.Profile && headline {
		for i, r := range run {
			if r.name != Xunjian {
				continue
			}
			lc := load.Config{Addr: r.addr, Path: targets.RoutePath, Bodies: sl.bodies, ConnectPath: connectPath, Conns: cfg.Conns}
			if sl.continuous {
				lc.Offset = next[i]
			}
			before, berr := scrapeCache(r.gateway.Admin)
			files, note, used, err := profile(ctx, cfg, r, lc, "", true, say)
			if err != nil {
				return res, nil, err
			}
			if sl.continuous && used > 0 {
				next[i], lc.Offset = used, used
			}
			if after, aerr := scrapeCache(r.gateway.Admin); berr == nil && aerr == nil && len(files) > 0 {
				results[i].Cache.Profile = &PhaseCache{}
				results[i].Cache.Profile.add(after.minus(before))
			}
			// Then at the fixed rate: what the latency there is made of
			// (each request's own wake-ups, the stream, collections).
			if note == "" {
				lc.Rate, lc.Conns = rate, cfg.OpenConns
				more, _, used, err := profile(ctx, cfg, r, lc, ".fixed", false, say)
				if err != nil {
					return res, nil, err
				}
				if sl.continuous && used > 0 {
					next[i] = used
				}
				files = append(files, more...)
			}
			// Recorded relative to the repository: the report is checked
			// in and must not name the machine's paths.
			for _, f := range files {
				if rel, err := filepath.Rel(cfg.Root, f); err == nil && !strings.HasPrefix(rel, "..") {
					f = filepath.ToSlash(rel)
				}
				profiles = append(profiles, f)
			}
			if note != "" {
				res.Notes = append(res.Notes, note)
			}
		}
	}
	for i, r := range run {
		if r.gateway != nil {
			if m, err := scrapeMetrics(r.gateway.Admin); err != nil {
				res.Notes = append(res.Notes, fmt.Sprintf("%s: metrics: %v", r.name, err))
			} else {
				results[i].Metrics = m
			}
		}
		if sl.continuous {
			results[i].Drafts = next[i]
			if n := int64(len(sl.bodies)); next[i] > n {
				results[i].Repeated = next[i] - n
				res.Notes = append(res.Notes, fmt.Sprintf("%s: sent %d messages, past the %d made: %d (%.1f%%) repeated one it had sent (raise --drafts)",
					r.name, next[i], n, next[i]-n, 100*float64(next[i]-n)/float64(next[i])))
			}
		}
	}
	group.Stop() // free the cores before the next scenario

	res.Targets = results
	for _, tr := range results {
		if tr.Unexpected > 0 {
			res.Notes = append(res.Notes, fmt.Sprintf("%s: %d requests unanswered or answered with an unexpected status (closed loop %s; open loop %s)",
				tr.Name, tr.Unexpected, unexpectedString(tr.Peak, expected(tr.Name)), unexpectedString(tr.Fixed, expected(tr.Name))))
		}
	}
	res.computeRatios()
	res.Notes = append(res.Notes, res.gatewayNotes()...)
	if sl.continuous && sl.simRate > 0 {
		res.Notes = append(res.Notes, waitNote(sl.info.Traffic.Open, sl.simRate, rate))
	}
	return res, profiles, nil
}

// waitNote says how the unique scenario's simulated clock relates to the
// gateways' own: they time a conversation's turns as they arrive.
func waitNote(open int, simRate, rate float64) string {
	speed := rate / simRate
	longest := 600 / speed // the longest simulated wait for an answer, 10 min
	reach := "so they never reach the 60 s from which a wait adds to the complaint risk"
	if longest >= 60 {
		reach = "so the longest can pass the 60 s from which a wait adds to the complaint risk"
	}
	return fmt.Sprintf("simulated clock: %d conversations open at once, %.1f messages per simulated second; at %s req/s the run replays the traffic %.0f times faster than real time. The gateways time turns by their own clock (the route has no time pointer; the body's ts goes to the backend), so the customer waits they see are about 1/%.0f of the simulated ones (a 10-minute wait is %.1f s, plus any pause between a target's rounds), %s; the risk varies with the customers' complaints and negative words",
		open, simRate, thousands(rate), speed, speed, longest, reach)
}

func scenarioDescription(name string) string {
	switch name {
	case Unique:
		return "realistic traffic: conversations that evolve, customer and agent turns alternating as in the corpus dialogues, every message unique (corpus sentences varied with names, order numbers, amounts, dates and times, products, tracking numbers) but the templated quick replies"
	case Repeated:
		return "the corpus agent drafts, repeated: request i of every phase carries draft i mod N"
	}
	return ""
}

// startTargets starts the upstream (and the broker when a gateway with a
// stream runs) on the load CPUs and every target in cfg.Targets on the
// target CPUs, and returns the targets in order; every process joins
// group.
func startTargets(ctx context.Context, cfg Config, bins binaries, pin pinning, logDir string, group *targets.Group, say func(string, ...any)) ([]running, error) {
	up, upAddr, err := targets.StartChild(ctx, "upstream", targets.RoleUpstream, targets.ChildArgs{}, logDir, pin.loadSet())
	if err != nil {
		return nil, err
	}
	group.Add(up)
	say("upstream on %s", upAddr)

	// The gateways send their events to a broker process of its own, as
	// in production, not to one on their own heap.
	var broker string
	if contains(cfg.Targets, Xunjian, XunjianNoCache) {
		p, addr, err := targets.StartBroker(ctx, bins.xunjian, logDir, pin.loadSet())
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
			// An upstream of its own, on the target CPUs like every other
			// target's process, so that the floor is measured as they are.
			p, addr, err := targets.StartChild(ctx, "direct", targets.RoleUpstream, targets.ChildArgs{}, logDir, pin.targetSet())
			if err != nil {
				return nil, err
			}
			group.Add(p)
			run = append(run, running{name: name, addr: addr})
		case Proxy:
			p, addr, err := targets.StartChild(ctx, "proxy", targets.RoleProxy, targets.ChildArgs{Upstream: upAddr}, logDir, pin.targetSet())
			if err != nil {
				return nil, err
			}
			group.Add(p)
			run = append(run, running{name: name, addr: addr})
		case Xunjian, XunjianNoCache, XunjianNoStream:
			g, err := targets.StartGateway(ctx, bins.xunjian, targets.GatewayConfig{
				Name: name, Upstream: upAddr, WorkDir: logDir,
				NoCache: name == XunjianNoCache, NoStream: name == XunjianNoStream, InspectTimeout: cfg.InspectTimeout,
				Broker: broker, CPUs: pin.targetSet(), Env: cfg.GatewayEnv,
			})
			if err != nil {
				return nil, err
			}
			group.Add(g.Process)
			run = append(run, running{name: name, addr: g.Addr, gateway: g})
		case OPASidecar:
			bundle := filepath.Join(logDir, "bundle")
			if err := rules.WriteDefaultBundle(bundle); err != nil {
				return nil, err
			}
			o, err := targets.StartOPA(ctx, bins.opa, bundle, logDir, pin.targetSet())
			if err != nil {
				return nil, err
			}
			group.Add(o.Process)
			p, addr, err := targets.StartChild(ctx, "opa-sidecar", targets.RoleSidecar, targets.ChildArgs{Upstream: upAddr, OPA: o.Addr, Bundle: bundle}, logDir, pin.targetSet())
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

// contains reports whether list holds any of names.
func contains(list []string, names ...string) bool {
	for _, n := range names {
		for _, l := range list {
			if l == n {
				return true
			}
		}
	}
	return false
}
