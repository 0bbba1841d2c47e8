package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/xunjian/xunjian/gateway/config"
	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/opinion"
	"github.com/xunjian/xunjian/gateway/replay"
	"github.com/xunjian/xunjian/gateway/stream/event"
	"github.com/xunjian/xunjian/rules"
)

// errReplayGated is returned when `replay --fail-on` matched a transition:
// exit status 1, after the report has been printed, so that CI can gate a
// policy change.
var errReplayGated = errors.New("replay: gated policy change")

const replayUsage = `usage: xunjian replay --policy NEW [--baseline OLD] [flags] FILE.jsonl|-

Replay recorded messages through two policy versions and report what
changes: action transitions, rule and alert counts, the first changed
messages (masked). FILE holds xunjian check --jsonl lines or events from
xunjian tail --json (their text_enc is opened with the key in --text-key-env).

--opinion-config takes a gateway configuration file whose second_opinion
section is enabled: the new version's verdicts then get a second opinion
as the gateway would ask it (the report counts them, and where they
disagree with the policy; a tenant that enforces them sees them in the
new action).

--fail-on takes a comma-separated list of transition classes:
  any, stricter, looser, to-ACTION, from-ACTION, FROM->TO (e.g. allow->block)
and makes the command exit 1 when a message made such a transition.`

func runReplay(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	policy := fs.String("policy", "", "the new policy bundle: a directory or .tar.gz (required)")
	baseline := fs.String("baseline", "", "the policy bundle to compare with (default: the built-in bundle)")
	asJSON := fs.Bool("json", false, "print the report as one JSON document")
	show := fs.Int("show", replay.DefaultShow, "list the first N changed messages (0: none)")
	failOn := fs.String("fail-on", "", "exit 1 when a message made one of these action transitions (see above)")
	tenant := fs.String("tenant", replay.DefaultTenant, "tenant of check-format lines (events carry their own)")
	keyEnv := fs.String("text-key-env", "XUNJIAN_TEXT_KEY", "environment variable holding the base64 AES-256 key that opens events' text_enc")
	keyID := fs.String("text-key-id", "default", "id of that key (the gateway's stream.text_key_id)")
	opinionConfig := fs.String("opinion-config", "", "a gateway configuration file whose enabled second_opinion section is asked about the new version's verdicts")
	fs.Usage = func() {
		fmt.Fprintln(stderr, replayUsage)
		fs.PrintDefaults()
	}
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	switch {
	case *policy == "":
		return fmt.Errorf("%w: replay needs --policy NEW\n%s", errUsage, replayUsage)
	case len(files) != 1:
		return fmt.Errorf("%w: replay takes one FILE (- for stdin), got %d\n%s", errUsage, len(files), replayUsage)
	case *show < 0:
		return fmt.Errorf("%w: --show %d: want 0 or more", errUsage, *show)
	case *tenant == "":
		return fmt.Errorf("%w: --tenant: empty", errUsage)
	}
	gate, err := replay.ParseFailOn(*failOn)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	opts := replay.Options{Tenant: *tenant, Show: *show, FailOn: gate}
	if *show == 0 {
		opts.Show = -1
	}
	if key := os.Getenv(*keyEnv); strings.TrimSpace(key) != "" {
		// NewEncryptor's errors never hold the key.
		if opts.Decryptor, err = event.NewEncryptor(key, *keyID); err != nil {
			return fmt.Errorf("%w: $%s: %v", errUsage, *keyEnv, err)
		}
	}

	if *opinionConfig != "" {
		c, err := openOpinion(*opinionConfig)
		if err != nil {
			return err
		}
		defer c.Close()
		opts.Opinion = opinion.Consultant{Client: c}
	}

	in := stdin
	if files[0] != "-" {
		f, err := os.Open(files[0])
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		defer f.Close()
		in = f
	}
	base, err := openInspector(ctx, *baseline)
	if err != nil {
		return fmt.Errorf("replay: baseline: %w", err)
	}
	defer closeInspector(base)
	next, err := openInspector(ctx, *policy)
	if err != nil {
		return fmt.Errorf("replay: policy: %w", err)
	}
	defer closeInspector(next)

	report, err := replay.Run(ctx, in, base, next, opts)
	if err != nil {
		return err
	}
	report.Baseline.Source, report.New.Source = bundleName(*baseline), bundleName(*policy)
	if *asJSON {
		err = report.WriteJSON(stdout)
	} else {
		err = report.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if report.Failed() {
		return fmt.Errorf("%w: %d messages made a --fail-on %s transition", errReplayGated, report.Gate.Messages, report.Gate.FailOn)
	}
	return nil
}

// openOpinion returns the second opinion client that the gateway
// configuration at path configures; its second_opinion section must be
// enabled.
func openOpinion(path string) (*opinion.Client, error) {
	cfg, err := config.Load(path, os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("%w: --opinion-config: %v", errUsage, err)
	}
	if !cfg.SecondOpinion.Enabled {
		return nil, fmt.Errorf("%w: --opinion-config %s: second_opinion.enabled is false: nothing would be asked", errUsage, path)
	}
	c, err := opinion.New(cfg.SecondOpinion, os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	return c, nil
}

// openInspector loads the bundle at path ("" for the built-in one) and
// builds the pipeline on it; closeInspector releases both.
func openInspector(ctx context.Context, path string) (*inspect.Inspector, error) {
	p, err := rules.Load(ctx, path)
	if err != nil {
		return nil, err
	}
	in, err := inspect.New(p, inspect.Options{})
	if err != nil {
		p.Close()
		return nil, err
	}
	return in, nil
}

func closeInspector(in *inspect.Inspector) {
	in.Close()
	in.Policy().Close()
}

func bundleName(path string) string {
	if path == "" {
		return "built-in"
	}
	return path
}
