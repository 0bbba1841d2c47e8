// Command bench is Xunjian's end-to-end load harness (see README.md):
//
//	go run ./bench compare [flags]   every target side by side, one table, bench/results/latest.json
//	go run ./bench pii [flags]       the privacy detector against Presidio's analyzer
//	go run ./bench load [flags]      open- or closed-loop load against a server already running on loopback
//
// Everything runs on loopback; every process the harness starts is stopped
// before it exits.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/xunjian/xunjian/bench/internal/compare"
	"github.com/xunjian/xunjian/bench/internal/corpus"
	"github.com/xunjian/xunjian/bench/internal/load"
	"github.com/xunjian/xunjian/bench/internal/pii"
	"github.com/xunjian/xunjian/bench/internal/targets"
)

const usage = `usage: go run ./bench COMMAND [flags]

commands:
  compare   run direct, proxy, xunjian, xunjian-nocache and opa-sidecar side by side,
            on realistic traffic (unique) and on the corpus drafts repeated
  pii       compare the privacy detector with Presidio's analyzer (recall, msgs/s)
  load      send load to a server already running on loopback

go run ./bench COMMAND -h lists a command's flags.
`

// errUsage marks a command-line mistake (exit status 2).
var errUsage = errors.New("usage")

func main() {
	if handled, err := targets.MaybeRunChild(); handled {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: no command", errUsage)
	}
	switch args[0] {
	case "compare":
		return runCompare(ctx, args[1:], stdout, stderr)
	case "pii":
		return runPII(ctx, args[1:], stdout, stderr)
	case "load":
		return runLoad(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
}

// corpusFlags are the message flags compare and load share.
type corpusFlags struct {
	dir                      string
	names                    string
	maxPer, agents           int
	privacy, rude, diversion float64
	seed                     uint64
	// The unique scenario's.
	open                         int
	quick, followUps, complaints float64
}

func (c *corpusFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dir, "corpora", "", "corpora folder (default: testdata/corpora in the repository)")
	fs.StringVar(&c.names, "corpus", strings.Join(corpus.DefaultNames, ","), "comma-separated corpus folders whose dialogues make the messages")
	fs.IntVar(&c.maxPer, "max-per-corpus", 0, "repeated scenario: at most this many agent turns per corpus (0: all)")
	fs.IntVar(&c.agents, "agents", 200, "number of agent ids the conversations are spread over")
	fs.Float64Var(&c.privacy, "privacy", 0.05, "share of agent drafts with a planted phone, ID or card number (or e-mail)")
	fs.Float64Var(&c.rude, "rude", 0.03, "share of agent drafts with a planted rude phrase")
	fs.Float64Var(&c.diversion, "diversion", 0.03, "share of agent drafts with a planted off-platform invitation (加我微信 …)")
	fs.Uint64Var(&c.seed, "seed", 1, "seed for sampling, order, variation and plants")
	fs.IntVar(&c.open, "open-conversations", 2000, "unique scenario: conversations under way at once on the simulated clock")
	fs.Float64Var(&c.quick, "quick", 0.15, "unique scenario: share of agent drafts that are templated quick replies (亲，您好，很高兴为您服务), sent verbatim")
	fs.Float64Var(&c.followUps, "follow-ups", 0.1, "unique scenario: chance that a customer writes again before the agent answers")
	fs.Float64Var(&c.complaints, "complaints", 0.05, "unique scenario: share of customer messages with a complaint threat (12315, a bad review …)")
}

func (c *corpusFlags) corpusNames() []string {
	var names []string
	for _, n := range strings.Split(c.names, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	return names
}

// options are the repeated scenario's.
func (c *corpusFlags) options() corpus.Options {
	return corpus.Options{Names: c.corpusNames(), MaxPerCorpus: c.maxPer, Agents: c.agents, Privacy: c.privacy, Rude: c.rude, Diversion: c.diversion, Seed: c.seed}
}

// traffic are the unique scenario's.
func (c *corpusFlags) traffic() corpus.TrafficOptions {
	return corpus.TrafficOptions{
		Names: c.corpusNames(), Agents: c.agents, Open: c.open, Quick: c.quick, FollowUps: c.followUps, Complaints: c.complaints,
		Privacy: c.privacy, Rude: c.rude, Diversion: c.diversion, Seed: c.seed,
	}
}

// splitList splits a comma-separated flag value.
func splitList(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	return nil
}

func runCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf corpusFlags
	cf.register(fs)
	duration := fs.Duration("duration", 10*time.Second, "time per target and phase (closed loop, then open loop)")
	rounds := fs.Int("rounds", 3, "split each phase into this many rounds that visit every target in turn (peak: the median round)")
	warmup := fs.Duration("warmup", 0, "unmeasured closed-loop warm-up per target (default: duration/5, at most 2s)")
	targetList := fs.String("targets", strings.Join(compare.AllTargets, ","), "comma-separated targets to run")
	scenarios := fs.String("scenario", strings.Join(compare.AllScenarios, ","), "comma-separated scenarios to run, the headline first: unique (realistic traffic, every message unique but the quick replies) and repeated (the corpus drafts, request i carrying draft i mod N)")
	drafts := fs.Int("drafts", 0, "unique scenario: messages made before the run (0: enough for the run's length)")
	pin := fs.String("pin", compare.PinAuto, "run the load generator and upstream on one set of CPUs and the target under test on another (taskset -c): auto (when taskset and 2 CPUs are there), on, off")
	loadCPUs := fs.String("load-cpus", "", "with --pin: the load generator's CPUs (taskset list; default: the first half of the allowed CPUs)")
	targetCPUs := fs.String("target-cpus", "", "with --pin: the target's CPUs (default: the rest)")
	conns := fs.Int("conns", 32, "closed-loop connections")
	openConns := fs.Int("open-conns", 64, "open-loop connections")
	rate := fs.Float64("rate", 0, "open-loop rate in req/s for every target (default: rate-share of xunjian's measured peak)")
	rateShare := fs.Float64("rate-share", 0.5, "share of xunjian's peak that sets the fixed rate")
	maxReq := fs.Int64("max-requests", 0, "at most this many requests per target and phase (0: no bound)")
	inspectTimeout := fs.Duration("inspect-timeout", 0, "the gateways' limits.inspect_timeout (default: theirs, 50ms; past it a draft gets 503)")
	gatewayEnv := fs.String("gateway-env", compare.DefaultGatewayEnv, "space-separated VAR=value added to the gateways' environment (default: the deployment's Go runtime settings; \"\" for Go's defaults)")
	out := fs.String("out", "", "result file (default: bench/results/latest.json in the repository; with --short, a file in the temporary folder)")
	prof := fs.Bool("profile", false, "write CPU and allocation profiles of the xunjian gateway under load")
	profDir := fs.String("profile-dir", "", "profile folder (default: bench/results)")
	withPII := fs.Bool("pii", false, "also run the PII comparison (privacy detector vs Presidio) and add it to the table and JSON")
	keep := fs.Bool("keep", false, "keep the work folder (binaries, configs, logs)")
	short := fs.Bool("short", false, "smoke mode: 300ms per phase, 100ms warm-up, 300 turns per corpus, 20,000 unique messages (a few seconds per target and scenario)")
	if err := parse(fs, args); err != nil {
		return err
	}
	root, err := corpus.RepoRoot()
	if err != nil {
		return err
	}
	cfg := compare.Config{
		Root: root, Corpora: cf.dir, Corpus: cf.options(), Traffic: cf.traffic(), Drafts: *drafts,
		Scenarios: splitList(*scenarios), Targets: splitList(*targetList),
		Duration: *duration, Rounds: *rounds, Warmup: *warmup,
		Conns: *conns, OpenConns: *openConns, Rate: *rate, RateShare: *rateShare, MaxRequests: *maxReq, InspectTimeout: *inspectTimeout,
		GatewayEnv: strings.Fields(*gatewayEnv),
		Pin:        *pin, LoadCPUs: *loadCPUs, TargetCPUs: *targetCPUs,
		Profile: *prof, ProfileDir: *profDir, PII: *withPII, KeepWorkDir: *keep, Progress: stderr,
		Command: strings.TrimSpace("go run ./bench compare " + strings.Join(args, " ")),
	}
	if *short {
		cfg.Duration, cfg.Warmup = 300*time.Millisecond, 100*time.Millisecond
		if cfg.Corpus.MaxPerCorpus == 0 {
			cfg.Corpus.MaxPerCorpus = 300
		}
		if cfg.Drafts == 0 {
			cfg.Drafts = 20000
		}
		cfg.PIIConfig = pii.Config{Negatives: 200, Chinese: 200, MinTime: 100 * time.Millisecond}
	}
	rep, err := compare.Run(ctx, cfg)
	if err != nil {
		return err
	}
	path := *out
	switch {
	case path != "":
	case *short: // a smoke run never replaces the recorded results
		path = filepath.Join(os.TempDir(), "xunjian-bench-smoke.json")
	default:
		path = filepath.Join(root, "bench", "results", "latest.json")
	}
	if err := rep.WriteJSON(path); err != nil {
		return err
	}
	rep.WriteTable(stdout)
	fmt.Fprintf(stdout, "\nwritten: %s\n", path)
	return nil
}

func runPII(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pii", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("corpora", "", "corpora folder (default: testdata/corpora in the repository)")
	neg := fs.Int("negatives", 2000, "MultiDoGO turns without a complete value added for precision")
	zh := fs.Int("chinese", 1500, "CrossWOZ agent turns in the Chinese set (3 in 4 with a planted value)")
	venv := fs.String("venv", pii.DefaultVenv(), "Presidio's virtualenv (created by bench/presidio/setup.sh when missing)")
	noSetup := fs.Bool("no-setup", false, "do not create a missing virtualenv; leave Presidio out")
	skip := fs.Bool("skip-presidio", false, "measure the privacy detector only")
	out := fs.String("out", "", "result file (default: bench/results/pii.json in the repository)")
	if err := parse(fs, args); err != nil {
		return err
	}
	root, err := corpus.RepoRoot()
	if err != nil {
		return err
	}
	rep, err := pii.Run(ctx, pii.Config{Root: root, Corpora: *dir, Negatives: *neg, Chinese: *zh, Venv: *venv, NoSetup: *noSetup, SkipPresidio: *skip, Progress: stderr})
	if err != nil {
		return err
	}
	path := *out
	if path == "" {
		path = filepath.Join(root, "bench", "results", "pii.json")
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	rep.WriteTable(stdout)
	fmt.Fprintf(stdout, "\nwritten: %s\n", path)
	return nil
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf corpusFlags
	cf.register(fs)
	addr := fs.String("addr", "", "server host:port, on loopback (required)")
	path := fs.String("path", targets.RoutePath, "request path; every request is a POST of a message body")
	rate := fs.Float64("rate", 0, "open-loop rate in req/s (0: closed loop)")
	conns := fs.Int("conns", load.DefaultConns, "connections (requests in flight at most)")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	maxReq := fs.Int64("max-requests", 0, "at most this many requests (0: no bound)")
	scenario := fs.String("scenario", compare.Unique, "messages: unique (realistic traffic: conversations with customer and agent turns, every message unique but the quick replies) or repeated (the corpus agent drafts, request i carrying draft i mod N)")
	drafts := fs.Int("drafts", 100000, "unique scenario: messages made before sending (past them the sequence starts over)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *addr == "" {
		return fmt.Errorf("%w: --addr is required", errUsage)
	}
	dir, err := corpus.Dir(cf.dir)
	if err != nil {
		return err
	}
	var msgs []corpus.Message
	switch *scenario {
	case compare.Unique:
		msgs, _, err = corpus.Generate(dir, cf.traffic(), *drafts)
	case compare.Repeated:
		msgs, err = corpus.Load(dir, cf.options())
	default:
		return fmt.Errorf("%w: --scenario %q: want %s or %s", errUsage, *scenario, compare.Unique, compare.Repeated)
	}
	if err != nil {
		return err
	}
	bodies := make([][]byte, len(msgs))
	for i, m := range msgs {
		bodies[i] = m.Body()
	}
	res, err := load.Run(ctx, load.Config{Addr: *addr, Path: *path, Bodies: bodies, Rate: *rate, Conns: *conns, Duration: *duration, MaxRequests: *maxReq, ConnectPath: "/bench/connect"})
	if err != nil {
		return err
	}
	l := res.Latency
	fmt.Fprintf(stdout, "%s loop, %d conns: %d answered (%.0f req/s), %d failed, %d late, %d dropped; statuses %v\n",
		res.Mode, res.Conns, res.Requests, res.Throughput, res.Errors, res.Late, res.Dropped, res.Statuses)
	fmt.Fprintf(stdout, "latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n", l.P50/1000, l.P90/1000, l.P99/1000, l.P999/1000, l.Max/1000)
	return nil
}
