//go:build unix && !linux

package targets

import "syscall"

// sysProcAttr puts a child in its own process group so Stop can signal
// everything it started. Without Linux's parent-death signal, harness
// children still exit when their stdin closes.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// killGroup signals the process group led by pid.
func killGroup(pid int, sig syscall.Signal) error { return syscall.Kill(-pid, sig) }
