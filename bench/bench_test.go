package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xunjian/xunjian/bench/internal/compare"
	"github.com/xunjian/xunjian/bench/internal/corpus"
	"github.com/xunjian/xunjian/bench/internal/load"
	"github.com/xunjian/xunjian/bench/internal/targets"
)

// TestMain lets the test binary serve as the harness's own child servers,
// as the bench binary does (targets.StartChild re-runs the executable).
func TestMain(m *testing.M) {
	if handled, err := targets.MaybeRunChild(); handled {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSmoke runs the comparison in its smoke size (a few hundred
// milliseconds per phase) against every target, the real gateway and the
// real OPA server included, in both scenarios, and checks that the result
// JSON holds sane numbers: throughput above zero, ordered percentiles,
// every request answered with a status the target may give, the gateway
// doing real work (drafts stopped with 422), cache hit rates per phase
// (low where every message is unique, high where they repeat), the
// pinning, and the machine and versions recorded.
//
// The fixed rate is a low 300 req/s rather than half the gateway's peak,
// so that the slowest target keeps up on a busy machine and no request
// goes unanswered; and the gateways' inspect_timeout is 1s rather than
// 50ms, so that a CPU-starved moment of the parallel test suite does not
// turn a draft into a 503 (fail closed) and the test into a flake.
func TestSmoke(t *testing.T) {
	root, err := corpus.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	rep, err := compare.Run(ctx, compare.Config{
		Root:    root,
		Corpus:  corpus.Options{MaxPerCorpus: 300, Privacy: 0.05, Rude: 0.03, Diversion: 0.03},
		Traffic: corpus.TrafficOptions{Quick: 0.15, FollowUps: 0.1, Complaints: 0.05, Privacy: 0.05, Rude: 0.03, Diversion: 0.03},
		Drafts:  20000, Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond,
		Conns: 8, OpenConns: 16, Rate: 300, InspectTimeout: time.Second,
		Progress: &progress, Command: "TestSmoke",
	})
	t.Log(progress.String())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "latest.json")
	if err := rep.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	rep.WriteTable(&table)
	t.Log("\n" + table.String())

	// Check the JSON as a reader of the file sees it.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got compare.Report
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if m := got.Machine; m.Cores <= 0 || m.CPUModel == "" || !strings.HasPrefix(m.Go, "go") || m.OPA == "" {
		t.Errorf("machine not recorded: %+v", m)
	}
	if p := got.Pinning; p.Pinned != (p.LoadCPUs != "" && p.TargetCPUs != "") || (!p.Pinned && p.Reason == "") {
		t.Errorf("pinning not recorded: %+v", p)
	}
	if len(got.Scenarios) != 2 || got.Scenarios[0].Name != compare.Unique || got.Scenarios[1].Name != compare.Repeated {
		t.Fatalf("scenarios %d, want unique then repeated", len(got.Scenarios))
	}
	uniq, rep2 := got.Scenarios[0], got.Scenarios[1]
	if uniq.Rate != 300 || uniq.Load.Messages != 20000 || rep2.Load.Messages != 900 || uniq.Load.Traffic == nil || uniq.Load.Traffic.Quick == 0 {
		t.Errorf("settings: rate %v, %d unique messages, %d repeated, traffic %+v", uniq.Rate, uniq.Load.Messages, rep2.Load.Messages, uniq.Load.Traffic)
	}
	for _, sc := range got.Scenarios {
		if len(sc.Targets) != len(compare.AllTargets) {
			t.Fatalf("%s: %d targets in the report, want %d", sc.Name, len(sc.Targets), len(compare.AllTargets))
		}
		for _, tr := range sc.Targets {
			t.Run(sc.Name+"/"+tr.Name, func(t *testing.T) {
				for _, ph := range []struct {
					name string
					res  load.Result
				}{{"peak", tr.Peak}, {"fixed rate", tr.Fixed}} {
					r := ph.res
					if r.Requests <= 0 || r.Throughput <= 0 {
						t.Errorf("%s: %d requests, %.0f req/s", ph.name, r.Requests, r.Throughput)
					}
					if r.Errors != 0 || r.Dropped != 0 {
						t.Errorf("%s: %d failed, %d dropped", ph.name, r.Errors, r.Dropped)
					}
					l := r.Latency
					if !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
						t.Errorf("%s: percentiles out of order: %+v", ph.name, l)
					}
					var n int64
					for _, c := range r.Statuses {
						n += c
					}
					if n != r.Requests {
						t.Errorf("%s: statuses %v do not add up to %d requests", ph.name, r.Statuses, r.Requests)
					}
				}
				if tr.Unexpected != 0 {
					t.Errorf("%d answers with a status other than %v: peak %v, fixed rate %v",
						tr.Unexpected, got.Settings.Expected[tr.Name], tr.Peak.Statuses, tr.Fixed.Statuses)
				}
				if sc.Name == compare.Unique && (tr.Drafts <= 0 || (tr.Name != compare.Direct && tr.Name != compare.Proxy && tr.Repeated != 0)) {
					t.Errorf("drafts used %d, repeated %d", tr.Drafts, tr.Repeated)
				}
				if tr.Name == compare.Direct || tr.Name == compare.Proxy {
					return
				}
				// Planted leaks, rudeness and diversion must stop some drafts.
				if tr.Peak.Statuses[422]+tr.Fixed.Statuses[422] == 0 {
					t.Errorf("no draft stopped (422): the detectors and policy did no work? %v %v", tr.Peak.Statuses, tr.Fixed.Statuses)
				}
				if tr.Name == compare.OPASidecar {
					return
				}
				c := tr.Cache
				if c == nil || c.Peak == nil || c.Fixed == nil || c.Warmup == nil {
					t.Fatalf("cache look-ups per phase missing: %+v", c)
				}
				on := tr.Name != compare.XunjianNoCache
				if (c.Peak.Findings.HitRate != nil) != on || (c.Fixed.Decision.HitRate != nil) != on {
					t.Errorf("cache hit rates %+v %+v, want them only with the cache on", c.Peak, c.Fixed)
				}
			})
		}
	}
	// Unique traffic misses the findings cache where repeated drafts hit.
	u, r := uniq.Target(compare.Xunjian).Cache.Peak.Findings.HitRate, rep2.Target(compare.Xunjian).Cache.Peak.Findings.HitRate
	if u == nil || r == nil || *u >= 0.5 || *r <= *u {
		t.Errorf("findings cache hit rate at peak: unique %v, repeated %v; want unique below 0.5 and repeated above it", deref(u), deref(r))
	}
	ra := got.Ratios
	if ra.XunjianOverProxy <= 0 || ra.XunjianOverSidecar <= 0 || ra != uniq.Ratios {
		t.Errorf("ratios missing or not the headline's: %+v", ra)
	}
	if len(got.Budget) != 3 {
		t.Errorf("%d budget checks, want 3", len(got.Budget))
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

func TestRunUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string // in the error; "" for success
	}{
		{"no command", nil, "no command"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"bad flag", []string{"compare", "--nope"}, "usage"},
		{"stray argument", []string{"pii", "extra"}, "unexpected arguments"},
		{"load without addr", []string{"load"}, "--addr is required"},
		{"load beyond loopback", []string{"load", "--addr", "10.0.0.1:80", "--duration", "1ms", "--drafts", "10"}, "loopback"},
		{"load, unknown scenario", []string{"load", "--addr", "127.0.0.1:1", "--scenario", "zipf"}, "--scenario"},
		{"compare, unknown scenario", []string{"compare", "--scenario", "zipf", "--short"}, "scenario"},
		{"help", []string{"help"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tc.args, &out, &errOut)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
