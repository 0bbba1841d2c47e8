package targets

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/xunjian/xunjian/bench/internal/corpus"
)

// opaModule is the OPA module path; its version is the one in go.mod.
const opaModule = "github.com/open-policy-agent/opa"

// BuildXunjian builds the gateway binary from the repository at root into
// dir and returns its path (go build -o DIR/xunjian ./cmd/xunjian).
func BuildXunjian(ctx context.Context, root, dir string) (string, error) {
	out := filepath.Join(dir, "xunjian")
	if err := goCmd(ctx, root, nil, "build", "-o", out, "./cmd/xunjian"); err != nil {
		return "", fmt.Errorf("build xunjian: %w", err)
	}
	return out, nil
}

// OPAVersion returns the OPA module version go.mod requires (v1.22.2 …).
func OPAVersion(ctx context.Context, root string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Version}}", opaModule)
	cmd.Dir = root
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", opaModule, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// BuildOPA builds the stock opa binary at version into dir and returns its
// path. It runs go install MODULE@VERSION with GOBIN=dir, as
// scripts/test.sh runs `go run MODULE@VERSION`: OPA's command brings
// dependencies the repository's go.sum does not list, so it cannot be
// built inside the module; the build cache makes repeat builds quick.
func BuildOPA(ctx context.Context, root, dir, version string) (string, error) {
	if err := goCmd(ctx, root, []string{"GOBIN=" + dir}, "install", opaModule+"@"+version); err != nil {
		return "", fmt.Errorf("build opa %s: %w", version, err)
	}
	return filepath.Join(dir, "opa"), nil
}

func goCmd(ctx context.Context, dir string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return nil
}

// FreePort returns a loopback address with a port that was free a moment
// ago, for a child that takes its address from its configuration.
func FreePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// WaitHTTP polls GET url until it answers 200, p exits, or ctx or timeout
// ends.
func WaitHTTP(ctx context.Context, p *Process, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	for {
		status, _, err := fasthttp.GetTimeout(nil, url, time.Second)
		if err == nil && status == fasthttp.StatusOK {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("status %d", status)
		}
		if done, werr := p.Exited(); done {
			return fmt.Errorf("%s exited (%v) before %s answered; log:\n%s", p.Name, werr, url, p.LogTail(20))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w: %s: %s; log:\n%s", p.Name, errNotReady, url, last, p.LogTail(20))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// OPAServer is a running `opa run --server`.
type OPAServer struct {
	*Process
	// Addr is its host:port.
	Addr string
}

// StartOPA runs the opa binary as a server on a free loopback port with
// the bundle directory, telemetry off, and waits for /health.
func StartOPA(ctx context.Context, binary, bundle, logDir, cpus string) (*OPAServer, error) {
	addr, err := FreePort()
	if err != nil {
		return nil, err
	}
	p, _, err := Start(ctx, Spec{
		Name: "opa", LogDir: logDir, CPUs: cpus,
		Argv: []string{binary, "run", "--server", "--addr", addr, "--disable-telemetry", "--log-level", "error", "--bundle", bundle},
	})
	if err != nil {
		return nil, err
	}
	if err := WaitHTTP(ctx, p, "http://"+addr+"/health?bundles", 30*time.Second); err != nil {
		p.Stop()
		return nil, err
	}
	return &OPAServer{Process: p, Addr: addr}, nil
}

// OPABinaryVersion returns what `opa version` prints on its Version line.
func OPABinaryVersion(ctx context.Context, binary string) (string, error) {
	b, err := exec.CommandContext(ctx, binary, "version").Output()
	if err != nil {
		return "", fmt.Errorf("opa version: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Version:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("opa version: no Version line in %q", b)
}

// GatewayConfig is what differs between the harness's gateways.
type GatewayConfig struct {
	// Name labels the process ("xunjian", "xunjian-nocache").
	Name string
	// Upstream is the chat backend's host:port.
	Upstream string
	// NoCache turns the findings cache off (cache.disabled).
	NoCache bool
	// NoStream turns the event stream off (stream.disabled).
	NoStream bool
	// InspectTimeout sets limits.inspect_timeout; zero keeps the
	// gateway's default (50ms).
	InspectTimeout time.Duration
	// WorkDir receives the config file, the spool directory and the log.
	WorkDir string
	// Broker is the Kafka-protocol broker (host:port) events go to, a
	// process of its own as in production (StartBroker); empty means the
	// gateway's in-process embedded broker.
	Broker string
	// CPUs pins the gateway to these CPUs (taskset -c), empty: not pinned.
	CPUs string
	// Env is added to the gateway's environment (the Go runtime's GOGC
	// and GOMEMLIMIT, as a deployment sets them).
	Env []string
}

// Gateway is a running xunjian serve.
type Gateway struct {
	*Process
	// Addr is the agent port, Admin the admin port and Broker the embedded
	// Kafka-protocol broker, all host:port on loopback.
	Addr, Admin, Broker string
	// ConfigPath is the generated YAML file.
	ConfigPath string
}

// gatewayYAML is the generated configuration: one proxy route to the
// upstream carrying agent drafts and customer messages (no credential is
// configured: dev mode, whose requests hold every scope, the customer's
// included), no per-agent rate limit, the built-in policy, and the event
// stream to a broker with an interval-fsynced spool.
const gatewayYAML = `# Generated by go run ./bench: one proxy route, events to a Kafka-protocol broker.
listen: %[1]s
admin_listen: %[2]s
limits:
  agent_rate: 0%[13]s
routes:
  - name: send
    method: POST
    path: %[3]s
    upstream: http://%[4]s
    text: %[5]s
    conversation: %[6]s
    agent: %[7]s
    role: %[8]s
    roles: [agent, customer]
cache:
  disabled: %[9]t
stream:
  disabled: %[12]t
  %[10]s
  spool:
    dir: %[11]s
    fsync: interval
`

// gatewayConfig returns the YAML configuration of a harness gateway.
func gatewayConfig(listen, admin, broker, upstream, spool string, noCache, noStream bool, inspectTimeout time.Duration) string {
	ptr := corpus.RoutePointers
	limits := ""
	if inspectTimeout > 0 {
		limits = "\n  inspect_timeout: " + inspectTimeout.String()
	}
	return fmt.Sprintf(gatewayYAML, listen, admin, RoutePath, upstream,
		ptr.Text, ptr.Conversation, ptr.Agent, ptr.Role, noCache, broker, spool, noStream, limits)
}

// brokerLine is the stream's broker setting: an external broker, or the
// embedded one at addr.
func brokerLine(external, embeddedAddr string) string {
	if external != "" {
		return "brokers: [" + external + "]"
	}
	return "embedded_broker: " + embeddedAddr
}

// StartGateway writes a configuration for cfg, runs `binary serve --config
// FILE` and waits for the admin port's /readyz.
func StartGateway(ctx context.Context, binary string, cfg GatewayConfig) (*Gateway, error) {
	var addrs [3]string
	for i := range addrs {
		a, err := FreePort()
		if err != nil {
			return nil, err
		}
		addrs[i] = a
	}
	if addrs[2] == "127.0.0.1:9092" { // the tests' broker port; never take it
		return nil, fmt.Errorf("start %s: free port 9092 picked for the broker; run again", cfg.Name)
	}
	spool := filepath.Join(cfg.WorkDir, cfg.Name+"-spool")
	if err := os.MkdirAll(spool, 0o755); err != nil {
		return nil, fmt.Errorf("start %s: %w", cfg.Name, err)
	}
	broker := addrs[2]
	if cfg.Broker != "" {
		broker = cfg.Broker
	}
	yaml := gatewayConfig(addrs[0], addrs[1], brokerLine(cfg.Broker, addrs[2]), cfg.Upstream, spool, cfg.NoCache, cfg.NoStream, cfg.InspectTimeout)
	path := filepath.Join(cfg.WorkDir, cfg.Name+".yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		return nil, fmt.Errorf("start %s: %w", cfg.Name, err)
	}
	p, _, err := Start(ctx, Spec{Name: cfg.Name, LogDir: cfg.WorkDir, CPUs: cfg.CPUs, Env: cfg.Env, Argv: []string{binary, "serve", "--config", path}})
	if err != nil {
		return nil, err
	}
	if err := WaitHTTP(ctx, p, "http://"+addrs[1]+"/readyz", 60*time.Second); err != nil {
		p.Stop()
		return nil, err
	}
	return &Gateway{Process: p, Addr: addrs[0], Admin: addrs[1], Broker: broker, ConfigPath: path}, nil
}

// StartBroker runs `binary broker` (the built-in Kafka-protocol broker as a
// process of its own) on a free loopback port and waits until it accepts
// connections. cpus pins it (taskset -c); empty: not pinned.
func StartBroker(ctx context.Context, binary, workDir, cpus string) (*Process, string, error) {
	addr, err := FreePort()
	if err != nil {
		return nil, "", err
	}
	p, _, err := Start(ctx, Spec{Name: "broker", LogDir: workDir, CPUs: cpus, Argv: []string{binary, "broker", "--listen", addr}})
	if err != nil {
		return nil, "", err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return p, addr, nil
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, "", fmt.Errorf("broker on %s: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Get fetches url with a timeout and returns the status and body.
func Get(url string, timeout time.Duration) (int, []byte, error) {
	status, body, err := fasthttp.GetTimeout(nil, url, timeout)
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return status, body, nil
}
