package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/stream/tail"
	"github.com/xunjian/xunjian/internal/kafkasec"
)

// tailTopic returns the default topic name of a tail topic argument (the
// stream.topics defaults of gateway/config).
func tailTopic(arg string) (string, bool) {
	var c config.Config
	c.Defaults()
	t, ok := map[string]string{"alerts": c.Stream.Topics.Alerts, "findings": c.Stream.Topics.Findings, "samples": c.Stream.Topics.Samples}[arg]
	return t, ok
}

const tailUsage = `usage: xunjian tail [flags] alerts|findings|samples
       xunjian tail [flags] --topic NAME

Print the gateway's events from Kafka as they arrive, readably or with
--json as one JSON line per event (the value as received). Flags may come
before or after the topic argument.

A secured Kafka: --tls (with --tls-ca-file, and --tls-cert-file and
--tls-key-file for a client certificate) and --sasl-mechanism with
--sasl-username, the password read from the variable --sasl-password-env
names, as the gateway's stream.tls and stream.sasl say, e.g.
  XUNJIAN_KAFKA_PASSWORD=… xunjian tail alerts --brokers kafka1:9094 \
    --tls-ca-file ca.pem --sasl-mechanism SCRAM-SHA-512 --sasl-username ops`

func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokers := fs.String("brokers", "127.0.0.1:9092", "Kafka brokers, comma-separated; when not given, env XUNJIAN_KAFKA_BROKERS if set, else this (the gateway's built-in broker)")
	topic := fs.String("topic", "", "topic name, overriding the one of the argument (for custom topic names)")
	group := fs.String("group", "", "consumer group id: commit offsets, resume where the group stopped (default: no group, read every partition)")
	fromBeginning := fs.Bool("from-beginning", false, "start at the first retained event instead of the end (with --group: only while the group has no committed offset)")
	jsonOut := fs.Bool("json", false, "write one JSON line per event, the value exactly as received")
	maxEvents := fs.Int("max", 0, "stop after N events (0: run until interrupted)")
	wait := fs.Bool("wait", false, "wait for a topic that does not exist yet instead of failing")
	dedup := fs.Int("dedup", tail.DefaultDedup, "drop events whose event_id was among the last N (0: keep repeats)")
	utc := fs.Bool("utc", false, "print times in UTC instead of the local time zone")
	width := fs.Int("width", tail.DefaultWidth, "cut each text field to N terminal columns (0: never cut)")
	var sec kafkasec.Config
	fs.BoolVar(&sec.TLS.Enabled, "tls", false, "connect with TLS (implied by the other --tls-… flags)")
	fs.StringVar(&sec.TLS.CAFile, "tls-ca-file", "", "PEM file of the CA that signed the brokers' certificates (default: the system's roots)")
	fs.StringVar(&sec.TLS.CertFile, "tls-cert-file", "", "client certificate (PEM), for brokers that require one")
	fs.StringVar(&sec.TLS.KeyFile, "tls-key-file", "", "the client certificate's key (PEM)")
	fs.StringVar(&sec.TLS.ServerName, "tls-server-name", "", "the name the brokers' certificates carry (default: each broker's host)")
	fs.StringVar(&sec.SASL.Mechanism, "sasl-mechanism", "", "SASL mechanism: SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN (PLAIN with TLS only)")
	fs.StringVar(&sec.SASL.Username, "sasl-username", "", "SASL user")
	fs.StringVar(&sec.SASL.PasswordEnv, "sasl-password-env", "XUNJIAN_KAFKA_PASSWORD", "environment variable holding the SASL password (never a flag: it would show in the process list)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, tailUsage)
		fs.PrintDefaults()
	}
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	name := *topic
	switch {
	case len(rest) > 1:
		return fmt.Errorf("%w: tail takes one topic argument, got %d\n%s", errUsage, len(rest), tailUsage)
	case len(rest) == 1:
		t, ok := tailTopic(rest[0])
		if !ok {
			return fmt.Errorf("%w: unknown topic %q: want alerts, findings or samples (or --topic NAME)", errUsage, rest[0])
		}
		if name == "" {
			name = t
		}
	case name == "":
		return fmt.Errorf("%w: no topic: alerts, findings, samples or --topic NAME\n%s", errUsage, tailUsage)
	}
	if *maxEvents < 0 {
		return fmt.Errorf("%w: --max %d: want 0 or more", errUsage, *maxEvents)
	}
	if *dedup < 0 {
		return fmt.Errorf("%w: --dedup %d: want 0 or more", errUsage, *dedup)
	}
	if *width < 0 {
		return fmt.Errorf("%w: --width %d: want 0 or more", errUsage, *width)
	}
	list := *brokers
	if !flagSet(fs, "brokers") {
		if env := os.Getenv("XUNJIAN_KAFKA_BROKERS"); strings.TrimSpace(env) != "" {
			list = env
		}
	}
	var bs []string
	for _, b := range strings.Split(list, ",") {
		if b = strings.TrimSpace(b); b != "" {
			bs = append(bs, b)
		}
	}
	if len(bs) == 0 {
		return fmt.Errorf("%w: --brokers: no broker", errUsage)
	}
	for _, f := range []string{"tls-ca-file", "tls-cert-file", "tls-key-file", "tls-server-name"} {
		sec.TLS.Enabled = sec.TLS.Enabled || flagSet(fs, f)
	}
	if sec.SASL.Mechanism == "" {
		sec.SASL.PasswordEnv = "" // the default name alone asks for nothing
	}
	if err := sec.Validate("kafka"); err != nil {
		return fmt.Errorf("%w: %v (flags --tls-… and --sasl-…)", errUsage, err)
	}
	kc, err := sec.Open("kafka", os.Getenv)
	if err != nil {
		return err
	}
	opts := tail.Options{
		Brokers:       bs,
		Topic:         name,
		Group:         *group,
		FromBeginning: *fromBeginning,
		Max:           *maxEvents,
		JSON:          *jsonOut,
		Dedup:         *dedup,
		WaitForTopic:  *wait,
		Out:           stdout,
		Err:           stderr,
		Dialer:        kc.Dialer("xunjian-tail", tail.DefaultDialTimeout),
	}
	if *dedup == 0 {
		opts.Dedup = -1 // the flag's 0 is tail's "off"
	}
	opts.Format.Width = *width
	if *width == 0 {
		opts.Format.Width = -1
	}
	if *utc {
		opts.Format.Location = time.UTC
	}
	t, err := tail.New(opts)
	if err != nil {
		return err
	}
	err = t.Run(ctx)
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return nil // interrupted: the normal way to stop
	case errors.Is(err, tail.ErrNoTopic):
		return fmt.Errorf("%w; --wait waits for it", err)
	case err != nil && kc != nil:
		return explain(ctx, kc, bs, err)
	}
	return err
}

// explain adds to err, tail's failure with TLS or SASL configured, what
// the security settings have to do with it: Kafka's own answer explained
// (a refused password, an unknown CA), or else the verdict of connecting
// to the brokers afresh (some refusals only show as a dropped connection
// to a metadata request).
func explain(ctx context.Context, kc *kafkasec.Client, brokers []string, err error) error {
	if x := kc.Explain(err); x != err {
		return x
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if cerr := kc.Check(cctx, brokers, "xunjian-tail"); cerr != nil {
		return fmt.Errorf("%w; connecting to the brokers again: %w", err, cerr)
	}
	return err
}

// parseInterleaved parses flags that may come before and after positional
// arguments (`tail alerts --json`), returning the positional ones. After
// "--" everything is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
