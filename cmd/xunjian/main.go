// Command xunjian is the Xunjian quality-inspection gateway and its tools.
//
//	xunjian serve      run the gateway
//	xunjian check      inspect messages from the command line
//	xunjian demo       the gateway with a stand-in chat backend, for a first look
//	xunjian rules      test, format and check a policy bundle
//	xunjian replay     replay recorded traffic through two policy versions
//	xunjian tail       print events from Kafka
//	xunjian broker     the built-in Kafka-protocol broker alone (development)
//	xunjian hash-key   hash (or generate) an API key for the config
//	xunjian version    print the version
//
// The command only wires flags to packages; all logic lives in gateway,
// detectors and rules.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// errUsage marks a command-line mistake: exit status 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "xunjian:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "xunjian:", err)
		os.Exit(1)
	}
}

const usage = `usage: xunjian <command> [flags]

commands:
  serve       run the gateway (embedded defaults when no flags are given)
  check       inspect a message (TEXT argument, stdin, or --jsonl)
  demo        run the gateway with a proxy route to a stand-in chat backend
  rules test  run a policy bundle's Rego tests
  broker      run the built-in Kafka-protocol broker alone (development)
  tail        print events from Kafka (alerts, findings or samples; --json for JSON lines)
  replay      replay recorded messages through two policy versions and report what changes
  hash-key    print the config hash of an API key (or generate a key)
  version     print the version`

// run dispatches a command line; it is main without the process exits, so
// tests can call it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: no command\n%s", errUsage, usage)
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stderr)
	case "check":
		return runCheck(ctx, args[1:], stdin, stdout, stderr)
	case "rules":
		return runRules(ctx, args[1:], stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "tail":
		return runTail(ctx, args[1:], stdout, stderr)
	case "broker":
		return runBroker(ctx, args[1:], stderr)
	case "replay":
		return runReplay(ctx, args[1:], stdin, stdout, stderr)
	case "hash-key":
		return runHashKey(args[1:], stdout)
	case "version":
		fmt.Fprintln(stdout, "xunjian", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("%w: unknown command %q\n%s", errUsage, args[0], usage)
}
