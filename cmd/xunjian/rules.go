package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/xunjian/xunjian/gateway/inspect"
	"github.com/xunjian/xunjian/rules"
)

// errTestsFailed is returned when policy tests fail: exit status 1, after
// the report has been printed.
var errTestsFailed = errors.New("policy tests failed")

// errNotFormatted is returned by `rules fmt -l/-d` when a file is not
// formatted: exit status 1, so that CI can gate on it.
var errNotFormatted = errors.New("policy files not formatted")

// errCheckFailed is returned when `rules check` found problems: exit
// status 1, after they have been printed.
var errCheckFailed = errors.New("policy check failed")

const rulesUsage = `xunjian rules <command>

  test DIR|TAR [--run RE] [--coverage] [--threshold PCT] [-v] [--json]
        run the bundle's Rego tests
  fmt [-w] [-l] [-d] DIR|FILE...
        format Rego files as opa fmt does (no flag: print them)
  check [--json] [--no-test] [--require-tests] [--test-budget D] DIR|TAR
        check a bundle as the gateway does before serving it: compile, data,
        tests, and every rule's decision on the built-in probe inputs`

func runRules(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", errUsage, rulesUsage)
	}
	switch args[0] {
	case "test":
		return runRulesTest(ctx, args, stdout, stderr)
	case "fmt":
		return runRulesFmt(args[1:], stdout, stderr)
	case "check":
		return runRulesCheck(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("%w: unknown rules command %q\n%s", errUsage, args[0], rulesUsage)
}

// runRulesTest is `xunjian rules test`; args[0] is "test".
func runRulesTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rules test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	run := fs.String("run", "", "run only tests whose name matches this regular expression")
	coverage := fs.Bool("coverage", false, "report the share of policy lines the tests cover")
	threshold := fs.Float64("threshold", 0, "fail when coverage is below this percentage (implies --coverage)")
	verbose := fs.Bool("v", false, "list every test")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	// Accept the bundle before or after the flags, as `opa test` does.
	rest := args[1:]
	var path string
	if len(rest) > 0 && len(rest[0]) > 0 && rest[0][0] != '-' {
		path, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if path == "" && fs.NArg() == 1 {
		path = fs.Arg(0)
	} else if fs.NArg() > 0 || path == "" {
		return fmt.Errorf("%w: rules test takes one bundle directory or .tar.gz", errUsage)
	}
	report, err := rules.RunTests(ctx, path, rules.TestOptions{Run: *run, Coverage: *coverage || *threshold > 0})
	if err != nil {
		return err
	}
	if *asJSON {
		if err := writeIndented(stdout, report); err != nil {
			return err
		}
	} else {
		if *verbose {
			for _, t := range report.Results {
				status := "PASS"
				switch {
				case t.Fail:
					status = "FAIL"
				case t.Error != "":
					status = "ERROR"
				case t.Skip:
					status = "SKIP"
				}
				fmt.Fprintf(stdout, "%-5s %s.%s (%s:%d) %v\n", status, t.Package, t.Name, t.File, t.Line, t.Duration)
			}
		}
		fmt.Fprintln(stdout, report.String())
		if *coverage || *threshold > 0 {
			fmt.Fprintf(stdout, "coverage: %.1f%%\n", report.Coverage)
		}
	}
	if !report.OK() {
		return errTestsFailed
	}
	if *threshold > 0 && report.Coverage < *threshold {
		return fmt.Errorf("coverage %.1f%% is below the threshold of %.1f%%", report.Coverage, *threshold)
	}
	return nil
}

// runRulesFmt is `xunjian rules fmt`: gofmt's flags for Rego files.
func runRulesFmt(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rules fmt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	write := fs.Bool("w", false, "write the formatted source back to each file")
	list := fs.Bool("l", false, "list the files whose formatting differs (exit 1 if any, unless -w)")
	diff := fs.Bool("d", false, "print a unified diff of the changes (exit 1 if any, unless -w)")
	paths, err := parseInterspersed(fs, args)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if len(paths) == 0 {
		return fmt.Errorf("%w: rules fmt takes at least one DIR or FILE (xunjian rules fmt [-w] [-l] [-d] DIR|FILE...)", errUsage)
	}
	files, ferr := rules.FormatFiles(paths)
	unformatted := 0
	for _, f := range files {
		if f.Changed() {
			unformatted++
		}
		switch {
		case *list || *diff || *write:
			if !f.Changed() {
				continue
			}
			if *list {
				fmt.Fprintln(stdout, f.Path)
			}
			if *diff {
				fmt.Fprint(stdout, f.Diff())
			}
			if *write {
				if err := f.Write(); err != nil {
					ferr = errors.Join(ferr, err)
				}
			}
		default:
			stdout.Write(f.Formatted)
		}
	}
	if ferr != nil {
		return ferr
	}
	if unformatted > 0 && (*list || *diff) && !*write {
		return fmt.Errorf("%w: %d of %d files", errNotFormatted, unformatted, len(files))
	}
	return nil
}

// runRulesCheck is `xunjian rules check`: everything the gateway checks
// before it serves a bundle, the detectors built from its lexicons
// included.
func runRulesCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rules check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	noTest := fs.Bool("no-test", false, "do not run the bundle's Rego tests")
	requireTests := fs.Bool("require-tests", false, "a bundle without tests is a problem")
	budget := fs.Duration("test-budget", 0, "bound the tests together, and then the probe evaluations, as a gateway's reload does (e.g. 30s; 0: no bound)")
	paths, err := parseInterspersed(fs, args)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if len(paths) != 1 {
		return fmt.Errorf("%w: xunjian rules check [--json] [--no-test] [--require-tests] [--test-budget D] DIR|TAR", errUsage)
	}
	report, err := rules.Check(ctx, paths[0], rules.CheckOptions{
		SkipTests:    *noTest,
		RequireTests: *requireTests,
		TestBudget:   *budget,
		Validate: func(_ context.Context, p *rules.Policy) error {
			in, err := inspect.New(p, inspect.Options{})
			if err != nil {
				return err
			}
			in.Close()
			return nil
		},
	})
	if err != nil {
		return err
	}
	if *asJSON {
		if err := writeIndented(stdout, report); err != nil {
			return err
		}
	} else {
		for _, p := range report.Problems {
			fmt.Fprintln(stdout, p)
		}
		if report.OK() {
			fmt.Fprintf(stdout, "ok  %s revision %s, %d modules", paths[0], report.Revision, len(report.Modules))
			if report.Tests != nil {
				fmt.Fprintf(stdout, ", tests %s", report.Tests)
			}
			if report.Cache != nil {
				fmt.Fprintf(stdout, ", %s", report.Cache)
			}
			fmt.Fprintln(stdout)
		}
	}
	if !report.OK() {
		return fmt.Errorf("%w: %s: %d problems", errCheckFailed, paths[0], len(report.Problems))
	}
	return nil
}

// parseInterspersed parses fs from args, letting flags and positional
// arguments mix (`rules fmt DIR -l` as well as `rules fmt -l DIR`), and
// returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// writeIndented writes v as indented JSON, for the --json reports.
func writeIndented(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
