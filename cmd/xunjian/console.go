package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/xunjian/xunjian/console"
	"github.com/xunjian/xunjian/console/config"
)

func runConsole(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("console", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "YAML configuration file of the console (default: none: dev mode on loopback, brokers from XUNJIAN_KAFKA_BROKERS)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: console takes no arguments", errUsage)
	}
	cfg, err := config.Load(*cfgPath, os.Getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	c, err := console.New(ctx, cfg, console.Options{Logger: log})
	if err != nil {
		return err
	}
	return c.Run(ctx)
}
