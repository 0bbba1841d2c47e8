package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/xunjian/xunjian/gateway"
	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/proxy"
)

// runDemo starts the gateway in dev mode with one proxy route,
// POST /api/messages/send, to a stand-in chat backend that prints every
// message it receives: what the customer would see.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	backendAddr := fs.String("backend", "127.0.0.1:9000", "listen address of the stand-in chat backend")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	ln, err := net.Listen("tcp", *backendAddr)
	if err != nil {
		return fmt.Errorf("demo backend: %w", err)
	}
	backend := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		fmt.Fprintf(stdout, "backend received %s %s: %s\n", r.Method, r.URL.Path, body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"delivered":true}`+"\n")
	})}
	go backend.Serve(ln)
	defer backend.Close()

	cfg, err := config.Load("", os.Getenv)
	if err != nil {
		return err
	}
	cfg.Routes = []proxy.Route{{
		Name: "send", Method: "POST", Path: "/api/messages/send", Upstream: "http://" + ln.Addr().String(),
		Text: "/message/text", Conversation: "/conversation_id", Agent: "/agent_id", Role: "/role",
	}}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	srv, err := gateway.New(ctx, cfg, gateway.Options{Logger: slog.New(slog.NewTextHandler(stderr, nil))})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(stdout, "demo: gateway on %s, route POST /api/messages/send → stand-in backend on %s\n", cfg.Listen, ln.Addr())
	if err := srv.Serve(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
