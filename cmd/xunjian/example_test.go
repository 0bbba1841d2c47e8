//go:build unix

package main

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/stream/embedded"
)

// runAsXunjian, set in the environment, makes the test binary run main, so
// a test can put it on PATH as `xunjian` and run documented shell commands
// without building the command separately.
const runAsXunjian = "XUNJIAN_TEST_RUN_AS_XUNJIAN"

func TestMain(m *testing.M) {
	if os.Getenv(runAsXunjian) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// exampleCommand returns the shell command in the header comment of
// docs/gateway.example.yaml (the indented comment line that runs
// `xunjian serve`) and the whole header.
func exampleCommand(t *testing.T, path string) (cmd, header string) {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var head []string
	for _, line := range strings.Split(string(src), "\n") {
		if !strings.HasPrefix(line, "#") {
			break
		}
		head = append(head, line)
		if c := strings.TrimSpace(strings.TrimPrefix(line, "#")); strings.Contains(c, "xunjian serve") && strings.HasPrefix(line, "#  ") && cmd == "" {
			cmd = c
		}
	}
	if cmd == "" {
		t.Fatalf("%s: no indented `xunjian serve` command line in the header comment", path)
	}
	return cmd, strings.Join(head, "\n")
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestGatewayExampleStarts starts docs/gateway.example.yaml with the command
// its header gives, run by sh from the repository root, with `xunjian` on
// PATH. Only what the header says may be moved is moved: the agent and
// admin addresses to free loopback ports, the spool to a temporary
// directory, and the events to a broker of the test's own (the example's
// built-in broker would take the fixed port 9092, where `make test` runs a
// real Kafka). No other variable of the environment reaches the gateway:
// the header's command must set all it needs.
func TestGatewayExampleStarts(t *testing.T) {
	const example = "../../docs/gateway.example.yaml"
	cmdline, header := exampleCommand(t, example)
	t.Logf("header command: %s", cmdline)
	if !strings.Contains(cmdline, "docs/gateway.example.yaml") {
		t.Fatalf("the header's command %q does not load docs/gateway.example.yaml", cmdline)
	}
	for _, tool := range []string{"sh", "openssl"} {
		if tool != "sh" && !strings.Contains(cmdline, tool+" ") {
			continue
		}
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the header's command needs %s: %v", tool, err)
		}
	}

	var defaults config.Config
	defaults.Defaults()
	topics := defaults.Stream.Topics
	broker, err := embedded.Start(embedded.Options{Addr: "127.0.0.1:0", Topics: []string{topics.Findings, topics.Alerts, topics.Samples}})
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.Symlink(self, filepath.Join(bin, "xunjian")); err != nil {
		t.Fatal(err)
	}
	admin := freeLoopbackAddr(t)
	overrides := map[string]string{
		"XUNJIAN_LISTEN":        freeLoopbackAddr(t),
		"XUNJIAN_ADMIN_LISTEN":  admin,
		"XUNJIAN_KAFKA_BROKERS": broker.Addr(),
		"XUNJIAN_SPOOL_DIR":     t.TempDir(),
	}
	env := []string{runAsXunjian + "=1"}
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "XUNJIAN_"):
			// Only the header's command may set the gateway's variables.
		case name == "PATH":
			env = append(env, "PATH="+bin+string(os.PathListSeparator)+value)
		default:
			env = append(env, kv)
		}
	}
	for name, value := range overrides {
		if !strings.Contains(header, name) {
			t.Fatalf("the test moves %s, but the example's header does not say it may be moved:\n%s", name, header)
		}
		env = append(env, name+"="+value)
	}

	cmd := exec.Command("sh", "-c", cmdline)
	cmd.Dir = "../.."
	cmd.Env = env
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // stop sh and the gateway together
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}()

	url := "http://" + admin + "/readyz"
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("the gateway exited before it was ready (%v); its output:\n%s", err, logs.String())
		default:
		}
		last := ""
		resp, err := client.Get(url)
		if err != nil {
			last = err.Error()
		} else {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			last = resp.Status
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: not 200 within 60s (last: %s); the gateway's output:\n%s", url, last, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Stop it as a terminal would, SIGTERM to the process group: the
	// gateway shuts down cleanly. sh may still be waiting for it and die of
	// the signal; Wait returns once every process holding the output pipe,
	// the gateway included, has exited.
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		var exit *exec.ExitError
		if err != nil && !(errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGTERM) {
			t.Errorf("after SIGTERM: %v; output:\n%s", err, logs.String())
		}
		if !strings.Contains(logs.String(), `"msg":"gateway stopped"`) {
			t.Errorf("after SIGTERM the gateway did not log a clean stop; output:\n%s", logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Errorf("the gateway did not stop within 20s of SIGTERM; output:\n%s", logs.String())
	}
}
