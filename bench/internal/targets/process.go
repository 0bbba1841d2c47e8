// Package targets starts what the harness measures, each on loopback and
// each in its own process: the stand-in chat backend (upstream), a plain
// fasthttp reverse proxy, the Xunjian gateway binary, the OPA server and a
// proxy that runs Xunjian's detectors in process and asks OPA over HTTP
// (the opa-sidecar). It also builds the xunjian and opa binaries.
//
// Every child runs in its own process group, is told to die with the
// harness (Linux parent-death signal; the harness's own children also exit
// when their stdin closes), and Stop kills the whole group, so nothing
// outlives a run, whatever happens.
package targets

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a child process started by Start.
type Process struct {
	// Name labels the process in errors.
	Name    string
	cmd     *exec.Cmd
	stdin   io.Closer // closing it tells a harness child to exit
	logPath string
	done    chan struct{}
	waitErr error
	once    sync.Once
}

// Spec describes a child process.
type Spec struct {
	// Name labels the process and its log file (LogDir/Name.log).
	Name string
	// Argv is the program and its arguments.
	Argv []string
	// Env is added to the harness's environment.
	Env []string
	// Dir is the working directory; empty means the harness's.
	Dir string
	// LogDir receives Name.log with the child's stdout and stderr.
	LogDir string
	// Handshake, when set, reads the child's first stdout line, which must
	// be "listening HOST:PORT", and returns the address from Start.
	Handshake bool
	// CPUs, when set, pins the process to these CPUs: it is started as
	// `taskset -c CPUS ARGV...` (taskset sets the affinity and executes
	// ARGV in the same process, so its children and threads inherit it).
	CPUs string
}

// handshakePrefix starts the first stdout line of a harness child.
const handshakePrefix = "listening "

// Start starts spec's process and, for a Handshake child, waits (bounded by
// ctx and 30s) for its listening line. On error nothing is left running.
func Start(ctx context.Context, spec Spec) (*Process, string, error) {
	logPath := filepath.Join(spec.LogDir, spec.Name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, "", fmt.Errorf("start %s: %w", spec.Name, err)
	}
	argv := spec.Argv
	if spec.CPUs != "" {
		argv = append([]string{"taskset", "-c", spec.CPUs}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Dir = spec.Dir
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	p := &Process{Name: spec.Name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	var stdout io.ReadCloser
	if spec.Handshake {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			logf.Close()
			return nil, "", fmt.Errorf("start %s: %w", spec.Name, err)
		}
		in, err := cmd.StdinPipe()
		if err != nil {
			logf.Close()
			return nil, "", fmt.Errorf("start %s: %w", spec.Name, err)
		}
		p.stdin = in
	} else {
		cmd.Stdout = logf
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, "", fmt.Errorf("start %s: %w", spec.Name, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	if !spec.Handshake {
		return p, "", nil
	}
	addrc := make(chan string, 1)
	go func() {
		br := bufio.NewReader(stdout)
		line, err := br.ReadString('\n')
		if err == nil && strings.HasPrefix(line, handshakePrefix) {
			addrc <- strings.TrimSpace(strings.TrimPrefix(line, handshakePrefix))
		} else {
			close(addrc)
		}
		_, _ = io.Copy(logf, br) // the rest of stdout, until the child exits
	}()
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case addr, ok := <-addrc:
		if ok {
			return p, addr, nil
		}
		p.Stop()
		return nil, "", fmt.Errorf("start %s: no listening line; log:\n%s", spec.Name, p.LogTail(20))
	case <-p.done:
		return nil, "", fmt.Errorf("start %s: exited (%v); log:\n%s", spec.Name, p.waitErr, p.LogTail(20))
	case <-hctx.Done():
		p.Stop()
		return nil, "", fmt.Errorf("start %s: waiting for its address: %w", spec.Name, hctx.Err())
	}
}

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// Stop ends the process and its whole process group: SIGTERM, then SIGKILL
// after 3s. It is idempotent and safe to defer.
func (p *Process) Stop() {
	p.once.Do(func() {
		if p.stdin != nil {
			_ = p.stdin.Close()
		}
		pid := p.cmd.Process.Pid
		_ = killGroup(pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
		}
		// The group may hold more than the leader; make sure of all of it.
		_ = killGroup(pid, syscall.SIGKILL)
		<-p.done
	})
}

// LogTail returns the last n lines of the process's log.
func (p *Process) LogTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Group is a set of processes stopped together, in reverse start order.
// The zero value is ready to use; it is not safe for concurrent use.
type Group struct{ procs []*Process }

// Add registers p to be stopped by Stop.
func (g *Group) Add(p *Process) { g.procs = append(g.procs, p) }

// Stop stops every process, last started first.
func (g *Group) Stop() {
	for i := len(g.procs) - 1; i >= 0; i-- {
		g.procs[i].Stop()
	}
	g.procs = nil
}

// errNotReady is returned by WaitReady when the deadline passes.
var errNotReady = errors.New("not ready")

// ConfigureChild makes cmd a child the harness can always clean up: its
// own process group, killed with the harness (Linux), and on cancellation
// of cmd's context the whole group is killed, not only the leader.
func ConfigureChild(cmd *exec.Cmd) {
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
}
