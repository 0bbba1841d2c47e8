package targets

import "syscall"

// sysProcAttr puts a child in its own process group (so Stop can signal
// everything it started) and has the kernel kill it if the harness dies
// without running its deferred stops.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup signals the process group led by pid.
func killGroup(pid int, sig syscall.Signal) error { return syscall.Kill(-pid, sig) }
