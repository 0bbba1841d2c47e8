package compare

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// Machine describes where a run happened.
type Machine struct {
	Cores    int    `json:"cores"`
	CPUModel string `json:"cpu_model"`
	OS       string `json:"os"`
	Kernel   string `json:"kernel,omitempty"`
	// LoadAvg is /proc/loadavg at the start: the machine is shared, and a
	// busy neighbour shows here.
	LoadAvg string `json:"loadavg_at_start,omitempty"`
	Go      string `json:"go"`
	// OPA is the version of the opa binary the opa-sidecar ran (and of the
	// module the gateway embeds); empty when no OPA target ran.
	OPA string `json:"opa,omitempty"`
	// Commit is the repository's HEAD, "+dirty" with uncommitted changes.
	Commit string `json:"commit,omitempty"`
}

// probeMachine reads the CPU model from /proc/cpuinfo and the rest from the
// runtime and the repository at root.
func probeMachine(ctx context.Context, root string) Machine {
	m := Machine{Cores: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.TrimSpace(string(b))
	}
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD")
	cmd.Dir = root
	if b, err := cmd.Output(); err == nil {
		m.Commit = strings.TrimSpace(string(b))
		st := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no")
		st.Dir = root
		if out, err := st.Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
			m.Commit += "+dirty"
		}
	}
	return m
}
