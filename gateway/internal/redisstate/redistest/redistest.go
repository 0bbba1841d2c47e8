// Package redistest gives tests a Redis server: the shared one the test
// script starts (scripts/redis.sh, XUNJIAN_TEST_REDIS), or a private one
// a test may stop, pause and start again, for outages; and the shared
// Redis Cluster it starts beside it (scripts/redis.sh cluster-start,
// XUNJIAN_TEST_REDIS_CLUSTER), so a test runs on each deployment (Modes).
package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xunjian/xunjian/internal/testproc"
)

// Env names the variable holding the shared test server's host:port.
const Env = "XUNJIAN_TEST_REDIS"

// ClusterEnv names the variable holding the shared test cluster's nodes,
// host:port,host:port,...
const ClusterEnv = "XUNJIAN_TEST_REDIS_CLUSTER"

// Mode is a deployment a test runs on: one server, or a cluster.
type Mode struct {
	// Name is "single" or "cluster", for t.Run.
	Name string
	// Cluster is true for a cluster.
	Cluster bool
}

// Modes are the deployments a test of the shared state runs on, each in
// a subtest of its name.
var Modes = []Mode{{Name: "single"}, {Name: "cluster", Cluster: true}}

// Addrs returns the addresses of m's shared test deployment: Addr's, or
// ClusterAddrs'.
func (m Mode) Addrs(t testing.TB) []string {
	t.Helper()
	if m.Cluster {
		return ClusterAddrs(t)
	}
	return []string{Addr(t)}
}

// ClusterAddrs returns the shared test cluster's nodes, skipping the test
// when ClusterEnv is not set (scripts/test.sh sets it), as Addr does for
// Env. When it is set the cluster is expected: a malformed value fails
// the test, and so does a cluster that does not answer (the test's
// calls fail).
func ClusterAddrs(t testing.TB) []string {
	t.Helper()
	v := os.Getenv(ClusterEnv)
	if v == "" {
		t.Skipf("%s not set: no Redis Cluster (scripts/redis.sh cluster-start; export $(scripts/redis.sh cluster-env))", ClusterEnv)
	}
	addrs := strings.Split(v, ",")
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			t.Fatalf("%s=%q: %q is not host:port", ClusterEnv, v, a)
		}
	}
	return addrs
}

// Addr returns the shared test server's address, skipping the test when
// Env is not set (scripts/test.sh sets it).
func Addr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv(Env)
	if addr == "" {
		t.Skipf("%s not set: no Redis (scripts/redis.sh start; export $(scripts/redis.sh env))", Env)
	}
	return addr
}

// Server is a private redis-server on loopback, without persistence, that
// the test may stop, pause and start again (on the same port, empty).
type Server struct {
	// Addr is its host:port.
	Addr string

	t   testing.TB
	bin string
	dir string
	mu  sync.Mutex
	cmd *exec.Cmd // nil while stopped
}

// Start starts a private server, stopped when the test ends. Like Addr it
// skips the test when Env is not set; it fails it when redis-server (or
// REDIS_SERVER) is not on PATH.
func Start(t testing.TB) *Server {
	t.Helper()
	Addr(t)
	bin := os.Getenv("REDIS_SERVER")
	if bin == "" {
		bin = "redis-server"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("%s not found (apt-get install redis-server): %v", bin, err)
	}
	s := &Server{Addr: testproc.FreeAddr(t), t: t, bin: path, dir: t.TempDir()}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// Restart starts the server again after Stop (empty: nothing persists).
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	cmd := exec.Command(s.bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--protected-mode", "yes", "--logfile", "")
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for !ping(s.Addr) {
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not answer within 10s", s.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (an outage: connections are reset).
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGCONT) // a paused server dies too
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Pause stops the server's process (SIGSTOP): a server that takes
// connections and answers nothing, the slow case.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.cmd.Process.Signal(sig)
	}
}

// ping reports whether a server at addr answers PING.
func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := fmt.Fprint(c, "PING\r\n"); err != nil {
		return false
	}
	buf := make([]byte, 7)
	n, _ := c.Read(buf)
	return strings.HasPrefix(string(buf[:n]), "+PONG")
}
