package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/xunjian/xunjian/console"
	consoleconfig "github.com/xunjian/xunjian/console/config"
	"github.com/xunjian/xunjian/gateway"
	"github.com/xunjian/xunjian/gateway/auth"
	"github.com/xunjian/xunjian/gateway/config"
)

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "YAML configuration file (default: none, dev mode on loopback)")
	withConsole := fs.Bool("console", true, "without --config: also run the supervisors' console (dev mode) on --console-listen, reading the gateway's events")
	consoleListen := fs.String("console-listen", consoleconfig.DefaultListen, "the console's address, without --config")
	policy := fs.String("policy", "", "policy bundle: a directory, a .tar.gz or an http(s) bundle URL, hot-reloaded (overrides the config; default: the built-in bundle)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: serve takes no arguments", errUsage)
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	cfg, err := config.Load(*cfgPath, os.Getenv)
	if err != nil {
		return err
	}
	if *policy != "" {
		cfg.Policy = *policy
	}
	srv, err := gateway.New(ctx, cfg, gateway.Options{Logger: log})
	if err != nil {
		return err
	}
	defer srv.Close()
	if *cfgPath == "" {
		log.Info("no --config: embedded defaults (built-in policy unless --policy, check-only, no upstream)")
	}
	if *cfgPath != "" || !*withConsole {
		return srv.Serve(ctx)
	}
	// The zero-config run shows the supervisors' side too: a console in
	// dev mode beside the gateway, reading its (built-in) broker.
	brokers := cfg.Stream.Brokers
	if len(brokers) == 0 {
		brokers = []string{cfg.Stream.EmbeddedBroker}
	}
	ccfg := &consoleconfig.Config{Listen: *consoleListen}
	ccfg.Kafka.Brokers = brokers
	ccfg.Defaults()
	if err := ccfg.Validate(); err != nil {
		return err
	}
	con, err := console.New(ctx, ccfg, console.Options{Logger: log})
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	consoleDone := make(chan error, 1)
	go func() {
		consoleDone <- con.Run(ctx)
		stop() // a console that cannot serve stops the gateway too: the run is one
	}()
	log.Info("supervisors' console (dev mode)", "url", "http://"+*consoleListen+"/")
	err = srv.Serve(ctx)
	stop()
	if cerr := <-consoleDone; err == nil {
		err = cerr
	}
	return err
}

func runHashKey(args []string, stdout io.Writer) error {
	if len(args) > 1 {
		return fmt.Errorf("%w: xunjian hash-key [KEY]  (no KEY: generate one)", errUsage)
	}
	key := ""
	if len(args) == 1 {
		key = args[0]
	} else {
		var err error
		if key, err = auth.GenerateKey(); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "key: ", key)
	}
	fmt.Fprintln(stdout, "hash:", auth.HashKey(key))
	return nil
}
