package targets

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
)

// AllowedCPUs returns the CPUs this process may run on (its affinity, as
// /proc/self/status's Cpus_allowed_list says), ascending.
func AllowedCPUs() ([]int, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil, fmt.Errorf("allowed CPUs: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Cpus_allowed_list:"); ok {
			return ParseCPUList(strings.TrimSpace(v))
		}
	}
	return nil, errors.New("allowed CPUs: no Cpus_allowed_list in /proc/self/status")
}

// ParseCPUList reads a CPU list as taskset and the kernel write it
// ("0-3,6,8-9") into ascending CPU numbers.
func ParseCPUList(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("CPU list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("CPU list %q: %w", s, err)
			}
		}
		if a < 0 || b < a {
			return nil, fmt.Errorf("CPU list %q: bad range %q", s, part)
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("CPU list %q: empty", s)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// FormatCPUList writes CPU numbers as a list taskset takes ("0-3,6").
func FormatCPUList(cpus []int) string {
	s := slices.Clone(cpus)
	slices.Sort(s)
	s = slices.Compact(s)
	var parts []string
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", s[i], s[j]))
		} else {
			parts = append(parts, strconv.Itoa(s[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// PinSelf pins every thread of this process to cpus with
// `taskset -a -p -c CPUS PID` (threads started later inherit it).
func PinSelf(ctx context.Context, cpus string) error {
	out, err := exec.CommandContext(ctx, "taskset", "-a", "-p", "-c", cpus, strconv.Itoa(os.Getpid())).CombinedOutput()
	if err != nil {
		return fmt.Errorf("taskset -a -p -c %s: %w: %s", cpus, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// SplitCPUs divides allowed CPUs between the load (the load generator and
// the upstream) and the target under test: the first half (rounded down,
// at least one) for the load, the rest for the target. It needs two CPUs.
func SplitCPUs(allowed []int) (load, target []int, err error) {
	if len(allowed) < 2 {
		return nil, nil, fmt.Errorf("%d CPU allowed: pinning needs 2", len(allowed))
	}
	n := max(len(allowed)/2, 1)
	return slices.Clone(allowed[:n]), slices.Clone(allowed[n:]), nil
}
