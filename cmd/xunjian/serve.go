package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/xunjian/xunjian/gateway"
)

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	policy := fs.String("policy", "", "policy bundle: a directory or .tar.gz (default: the built-in bundle)")
	addr := fs.String("addr", "127.0.0.1:8080", "agent port listen address")
	admin := fs.String("admin-addr", "127.0.0.1:8081", "admin port listen address")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: serve takes no arguments", errUsage)
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	in, err := loadInspector(ctx, *policy)
	if err != nil {
		return err
	}
	log.Info("dev mode: no config, listening on loopback only, no credentials required (check-only, no upstream)")
	return gateway.New(gateway.Config{Addr: *addr, AdminAddr: *admin, Logger: log}, in).Serve(ctx)
}
