package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/xunjian/xunjian/rules"
)

// errTestsFailed is returned when policy tests fail: exit status 1, after
// the report has been printed.
var errTestsFailed = errors.New("policy tests failed")

func runRules(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "test" {
		return fmt.Errorf("%w: xunjian rules test DIR|TAR [--run RE] [--coverage] [--threshold PCT] [-v] [--json]", errUsage)
	}
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
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
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
