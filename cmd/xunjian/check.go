package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/gateway/jsonl"
	"github.com/xunjian/xunjian/rules"
)

func runCheck(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	policy := fs.String("policy", "", "policy bundle: a directory or .tar.gz (default: the built-in bundle)")
	batch := fs.Bool("jsonl", false, "read one JSON object per line from stdin, write one verdict per line")
	role := fs.String("role", inspect.RoleAgent, "role of the TEXT argument: agent or customer")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: xunjian check [--policy DIR|TAR] [--role agent|customer] [TEXT]\n       xunjian check [--policy DIR|TAR] --jsonl < messages.jsonl")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *batch && fs.NArg() > 0 {
		return fmt.Errorf("%w: --jsonl reads stdin; do not also pass TEXT", errUsage)
	}
	in, err := loadInspector(ctx, *policy)
	if err != nil {
		return err
	}
	if *batch {
		return jsonl.Run(ctx, in, stdin, stdout, time.Now)
	}
	text := strings.Join(fs.Args(), " ")
	if fs.NArg() == 0 {
		b, err := io.ReadAll(io.LimitReader(stdin, inspect.DefaultMaxTextBytes+1))
		if err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
		text = strings.TrimRight(string(b), "\r\n")
	}
	v, _, err := in.Inspect(ctx, inspect.Request{Text: text, Role: *role}, inspect.Conversation{}, time.Now())
	if errors.Is(err, inspect.ErrInvalid) {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err != nil {
		return err
	}
	return inspect.WriteText(stdout, text, &v)
}

// loadInspector loads the policy bundle at path ("" for the built-in one)
// and builds the pipeline on it.
func loadInspector(ctx context.Context, path string) (*inspect.Inspector, error) {
	p, err := rules.Load(ctx, path)
	if err != nil {
		return nil, err
	}
	return inspect.New(p, inspect.Options{})
}
