// Command xunjian is the Xunjian quality-inspection gateway and its tools.
//
//	xunjian serve        run the gateway
//	xunjian check        inspect messages from the command line
//	xunjian demo         the gateway with a stand-in chat backend, for a first look
//	xunjian rules test   run a policy bundle's Rego tests
//	xunjian rules check  check a bundle as the gateway does before serving it
//	xunjian rules fmt    format Rego files
//	xunjian model train  build the tone and escalation model from the repository's data
//	xunjian model eval   report a model's results on held-out data
//	xunjian replay       replay recorded traffic through two policy versions
//	xunjian tail         print events from Kafka
//	xunjian console      the supervisors' console: alerts to chat channels, a live web wall, QA reviews
//	xunjian broker       the built-in Kafka-protocol broker alone (development)
//	xunjian hash-key     hash (or generate) an API key for the config
//	xunjian version      print the version
//	xunjian help         list the commands, or show one command's usage and flags
//
// `xunjian help COMMAND` and `xunjian COMMAND -h` print a command's usage
// and flags. The command only wires flags to packages; all logic lives in
// gateway, detectors and rules.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
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

// A command is one line of the help: what run (and, for a command with
// subcommands such as rules, its own dispatcher) accepts. TestHelpListsEveryCommand
// checks this list against the dispatch code, both ways.
type command struct {
	name     string // as typed: "serve", "rules fmt"
	synopsis string // the arguments after the name
	summary  string
	// flags: the command parses a flag set, whose -h prints its flags;
	// help shows them.
	flags bool
}

var commands = []command{
	{"serve", "[--config FILE] [--policy DIR|TAR|URL] [--console=false] [--console-listen ADDR]", "run the gateway (embedded defaults, and the supervisors' console beside it, when no --config is given)", true},
	{"check", "[--policy DIR|TAR] [--role agent|customer] [TEXT] | --jsonl", "inspect a message (TEXT argument, stdin, or --jsonl)", true},
	{"demo", "[--backend ADDR]", "run the gateway with a proxy route to a stand-in chat backend", true},
	{"rules test", "DIR|TAR [--run RE] [--coverage] [--threshold PCT] [-v] [--json]", "run a policy bundle's Rego tests", true},
	{"rules check", "[--json] [--no-test] [--require-tests] [--test-budget D] DIR|TAR", "check a bundle as the gateway does before serving it (compile, data, tests, probe decisions)", true},
	{"rules fmt", "[-w] [-l] [-d] DIR|FILE...", "format Rego files as opa fmt does (-l/-d exit 1 when a file needs it)", true},
	{"model train", "[--data DIR] [--corpora DIR] [--out FILE] [--seed N] [--bits N] [--report FILE]", "build the tone and escalation model from the data in the repository (deterministic)", true},
	{"model eval", "[--data DIR] [--corpora DIR] [--model FILE] [--part PART]", "report a model's results on a part of the data (default: held out)", true},
	{"replay", "--policy NEW [--baseline OLD] [flags] FILE.jsonl|-", "replay recorded messages through two policy versions and report what changes", true},
	{"console", "[--config FILE]", "run the supervisors' console: store the gateway's events, post alerts to chat channels, serve the live alert wall and the QA reviews of sampled conversations", true},
	{"tail", "[flags] alerts|findings|samples", "print events from Kafka (alerts, findings or samples; --json for JSON lines)", true},
	{"broker", "[--listen ADDR] [--partitions N] [--retention-bytes N]", "run the built-in Kafka-protocol broker alone (development)", true},
	{"hash-key", "[KEY]", "print the config hash of an API key (no KEY: generate one)", false},
	{"version", "", "print the version", false},
	{"help", "[COMMAND]", "list the commands, or show one command's usage and flags", false},
}

// usage is the command list: `xunjian help`, and the tail of every
// unknown-command error.
var usage = func() string {
	var b strings.Builder
	b.WriteString("usage: xunjian <command> [flags]\n\ncommands:\n")
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, c.name, c.summary)
	}
	b.WriteString("\n`xunjian help COMMAND` or `xunjian COMMAND -h` shows a command's usage and flags.")
	return b.String()
}()

// run dispatches a command line; it is main without the process exits, so
// tests can call it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: no command\n%s", errUsage, usage)
	}
	if topic, ok := helpRequest(args); ok {
		return runHelp(ctx, topic, stdout)
	}
	return dispatch(ctx, args, stdin, stdout, stderr)
}

// dispatch runs the command args[0] names with the rest of args.
func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
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
	case "console":
		return runConsole(ctx, args[1:], stderr)
	case "broker":
		return runBroker(ctx, args[1:], stderr)
	case "replay":
		return runReplay(ctx, args[1:], stdin, stdout, stderr)
	case "model":
		return runModel(ctx, args[1:], stdout, stderr)
	case "hash-key":
		return runHashKey(args[1:], stdout)
	case "version":
		fmt.Fprintln(stdout, "xunjian", version)
		return nil
	case "help", "-h", "-help", "--help":
		return runHelp(ctx, args[1:], stdout)
	}
	return fmt.Errorf("%w: unknown command %q\n%s", errUsage, args[0], usage)
}

func isHelpFlag(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}

// helpRequest recognises `COMMAND -h` and `GROUP SUBCOMMAND -h` (rules fmt
// -h): the help flag right after a known command's name is the same as
// `xunjian help COMMAND`, for every command, also those without flags.
func helpRequest(args []string) ([]string, bool) {
	for n := 1; n < len(args); n++ {
		name := strings.Join(args[:n], " ")
		if !knownCommand(name) && !isGroup(name) {
			return nil, false
		}
		if isHelpFlag(args[n]) {
			return args[:n], true
		}
	}
	return nil, false
}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func knownCommand(name string) bool {
	_, ok := lookup(name)
	return ok
}

// isGroup reports whether name is a command with subcommands ("rules").
func isGroup(name string) bool {
	for _, c := range commands {
		if strings.HasPrefix(c.name, name+" ") {
			return true
		}
	}
	return false
}

// runHelp prints the command list (no topic), a group's subcommands, or one
// command's usage and flags.
func runHelp(ctx context.Context, topic []string, stdout io.Writer) error {
	name := strings.Join(topic, " ")
	if name == "" {
		fmt.Fprintln(stdout, usage)
		return nil
	}
	c, ok := lookup(name)
	if !ok {
		if !isGroup(name) {
			return fmt.Errorf("%w: help: unknown command %q\n%s", errUsage, name, usage)
		}
		fmt.Fprintf(stdout, "usage: xunjian %s <command> [flags]\n\ncommands:\n", name)
		for _, c := range commands {
			if strings.HasPrefix(c.name, name+" ") {
				fmt.Fprintf(stdout, "  %s %s\n        %s\n", c.name, c.synopsis, c.summary)
			}
		}
		fmt.Fprintf(stdout, "\n`xunjian help %s COMMAND` or `xunjian %s COMMAND -h` shows a command's flags.\n", name, name)
		return nil
	}
	header := fmt.Sprintf("usage: %s\n\n%s\n", strings.TrimSpace("xunjian "+c.name+" "+c.synopsis), c.summary)
	if !c.flags {
		_, err := io.WriteString(stdout, header)
		return err
	}
	// The command's own flag set prints its flags on -h, before it does
	// anything else: dispatch it with -h alone (past the help interception
	// of run), on a cancelled context for safety. It returns a usage error
	// (flag: help requested); only what it printed matters.
	var flags bytes.Buffer
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	args := append(strings.Fields(c.name), "-h")
	if err := dispatch(cctx, args, strings.NewReader(""), io.Discard, &flags); err == nil || !errors.Is(err, errUsage) {
		return fmt.Errorf("help %s: the command did not stop at -h (err = %v)", c.name, err)
	}
	text := flags.String()
	if rest, ok := strings.CutPrefix(text, "Usage of "); ok {
		// The default usage: "Usage of NAME:" then the flags.
		if i := strings.Index(rest, "\n"); i >= 0 {
			rest = rest[i+1:]
		}
		_, err := fmt.Fprintf(stdout, "%s\nflags:\n%s", header, rest)
		return err
	}
	// A command with a usage text of its own prints it before the flags.
	_, err := io.WriteString(stdout, text)
	return err
}
