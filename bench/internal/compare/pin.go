package compare

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"

	"github.com/xunjian/xunjian/bench/internal/targets"
)

// Pin modes (Config.Pin).
const (
	PinAuto = "auto" // pin when taskset exists and 2 CPUs or more are allowed
	PinOn   = "on"   // pin, or fail
	PinOff  = "off"  // never pin
)

// Pinning records what ran on which CPUs.
type Pinning struct {
	Pinned bool `json:"pinned"`
	// Reason says why a run was not pinned.
	Reason string `json:"reason,omitempty"`
	// Allowed are the CPUs the harness was allowed at the start.
	Allowed    string `json:"allowed_cpus,omitempty"`
	LoadCPUs   string `json:"load_cpus,omitempty"`
	TargetCPUs string `json:"target_cpus,omitempty"`
	// OnLoad and OnTarget say what ran on each set.
	OnLoad   []string `json:"on_load_cpus,omitempty"`
	OnTarget []string `json:"on_target_cpus,omitempty"`
}

// pinning is the run's decision.
type pinning struct {
	on                    bool
	reason                string
	allowed, load, target string
}

func (p pinning) loadSet() string {
	if !p.on {
		return ""
	}
	return p.load
}

func (p pinning) targetSet() string {
	if !p.on {
		return ""
	}
	return p.target
}

// decidePinning applies cfg.Pin: with taskset and 2 allowed CPUs or more,
// the load generator (this process), the upstream and the broker get the
// load set and every target's processes the target set; PinOn fails where
// that is not possible, PinAuto goes on unpinned and says why.
func decidePinning(_ context.Context, cfg Config) (pinning, error) {
	if cfg.Pin == PinOff {
		return pinning{reason: "--pin off"}, nil
	}
	fail := func(reason string) (pinning, error) {
		if cfg.Pin == PinOn {
			return pinning{}, fmt.Errorf("--pin on: %s", reason)
		}
		return pinning{reason: reason}, nil
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return fail("no taskset on this machine")
	}
	allowed, err := targets.AllowedCPUs()
	if err != nil {
		return fail(err.Error())
	}
	var loadCPUs, targetCPUs []int
	if cfg.LoadCPUs != "" || cfg.TargetCPUs != "" {
		if cfg.LoadCPUs == "" || cfg.TargetCPUs == "" {
			return pinning{}, fmt.Errorf("--load-cpus and --target-cpus go together")
		}
		if loadCPUs, err = targets.ParseCPUList(cfg.LoadCPUs); err != nil {
			return pinning{}, err
		}
		if targetCPUs, err = targets.ParseCPUList(cfg.TargetCPUs); err != nil {
			return pinning{}, err
		}
		for _, c := range append(slices.Clone(loadCPUs), targetCPUs...) {
			if !slices.Contains(allowed, c) {
				return pinning{}, fmt.Errorf("CPU %d is not among the allowed CPUs %s", c, targets.FormatCPUList(allowed))
			}
		}
		for _, c := range loadCPUs {
			if slices.Contains(targetCPUs, c) {
				return pinning{}, fmt.Errorf("CPU %d is in both --load-cpus and --target-cpus", c)
			}
		}
	} else if loadCPUs, targetCPUs, err = targets.SplitCPUs(allowed); err != nil {
		return fail(err.Error())
	}
	return pinning{on: true, allowed: targets.FormatCPUList(allowed), load: targets.FormatCPUList(loadCPUs), target: targets.FormatCPUList(targetCPUs)}, nil
}

// report describes the decision for the report, naming what ran where.
func (p pinning) report(targetNames []string) Pinning {
	if !p.on {
		return Pinning{Reason: p.reason}
	}
	out := Pinning{Pinned: true, Allowed: p.allowed, LoadCPUs: p.load, TargetCPUs: p.target}
	out.OnLoad = []string{"the load generator (the bench process)", "the upstream (the chat backend stand-in behind proxy, xunjian and opa-sidecar)"}
	if contains(targetNames, Xunjian, XunjianNoCache) {
		out.OnLoad = append(out.OnLoad, "the broker (xunjian broker, the gateways' event sink, on other machines in production)")
	}
	for _, t := range targetNames {
		switch t {
		case Direct:
			out.OnTarget = append(out.OnTarget, "direct: an upstream of its own")
		case OPASidecar:
			out.OnTarget = append(out.OnTarget, "opa-sidecar: the sidecar proxy and its opa run --server")
		default:
			out.OnTarget = append(out.OnTarget, t)
		}
	}
	return out
}

// describe is the pinning line of the table.
func (p Pinning) describe() string {
	if !p.Pinned {
		return "not pinned (" + p.Reason + "): the load generator, the upstream and the targets share every CPU"
	}
	return fmt.Sprintf("CPU %s: %s. CPU %s: the target under test, one at a time: %s (each target's processes alike; a Go target sees GOMAXPROCS %s).",
		p.LoadCPUs, strings.Join(p.OnLoad, ", "), p.TargetCPUs, strings.Join(p.OnTarget, ", "), cpuCount(p.TargetCPUs))
}

func cpuCount(list string) string {
	c, err := targets.ParseCPUList(list)
	if err != nil {
		return "?"
	}
	return fmt.Sprint(len(c))
}
