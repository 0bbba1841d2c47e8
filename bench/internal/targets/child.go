package targets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// Environment variables that turn the harness binary (or its test binary)
// into one of its own child servers.
const (
	envChild     = "XUNJIAN_BENCH_CHILD"
	envChildArgs = "XUNJIAN_BENCH_CHILD_ARGS"
)

// Child roles.
const (
	RoleUpstream = "upstream"
	RoleProxy    = "proxy"
	RoleSidecar  = "opa-sidecar"
)

// ChildArgs configure a child server.
type ChildArgs struct {
	// Upstream is the chat backend's host:port (proxy, opa-sidecar).
	Upstream string `json:"upstream,omitempty"`
	// OPA is the OPA server's host:port (opa-sidecar).
	OPA string `json:"opa,omitempty"`
	// Bundle is the policy bundle directory (opa-sidecar).
	Bundle string `json:"bundle,omitempty"`
}

// StartChild re-runs the harness's own executable as a child server in
// role, named name (its log is logDir/NAME.log), on a free loopback port,
// and returns its address; cpus pins it (taskset -c), empty: not pinned.
// The process exits when Stop is called or the harness goes away.
func StartChild(ctx context.Context, name, role string, args ChildArgs, logDir, cpus string) (*Process, string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", fmt.Errorf("start %s: %w", role, err)
	}
	a, err := json.Marshal(args)
	if err != nil {
		return nil, "", fmt.Errorf("start %s: %w", role, err)
	}
	return Start(ctx, Spec{
		Name: name, Argv: []string{exe}, LogDir: logDir, Handshake: true, CPUs: cpus,
		Env: []string{envChild + "=" + role, envChildArgs + "=" + string(a)},
	})
}

// MaybeRunChild serves as a child server if the environment says this
// process is one (see StartChild) and reports whether it did; main and
// TestMain call it first. It returns when the parent closes the child's
// stdin or sends SIGTERM or SIGINT.
func MaybeRunChild() (bool, error) {
	role := os.Getenv(envChild)
	if role == "" {
		return false, nil
	}
	var args ChildArgs
	if err := json.Unmarshal([]byte(os.Getenv(envChildArgs)), &args); err != nil {
		return true, fmt.Errorf("child %s: args: %w", role, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var (
		h       fasthttp.RequestHandler
		cleanup = func() {}
	)
	switch role {
	case RoleUpstream:
		h = NewUpstream().Handle
	case RoleProxy:
		p := NewPlainProxy(args.Upstream)
		h, cleanup = p.Handle, p.Close
	case RoleSidecar:
		s, err := NewSidecar(ctx, SidecarConfig(args))
		if err != nil {
			return true, fmt.Errorf("child %s: %w", role, err)
		}
		h, cleanup = s.Handle, s.Close
	default:
		return true, fmt.Errorf("child: unknown role %q", role)
	}
	defer cleanup()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return true, fmt.Errorf("child %s: %w", role, err)
	}
	srv := newServer(role, h)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(os.Stdout, "%s%s\n", handshakePrefix, ln.Addr())
	// The parent holds our stdin open; EOF means it is gone or done.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return true, fmt.Errorf("child %s: serve: %w", role, err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.ShutdownWithContext(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return true, fmt.Errorf("child %s: shutdown: %w", role, err)
	}
	return true, nil
}

// newServer is the fasthttp server every harness child runs: the same
// settings for the upstream and both bench proxies.
func newServer(name string, h fasthttp.RequestHandler) *fasthttp.Server {
	return &fasthttp.Server{
		Name:                  name,
		Handler:               h,
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          10 * time.Second,
		IdleTimeout:           60 * time.Second,
		MaxRequestBodySize:    64 << 10,
		NoDefaultServerHeader: true,
	}
}
