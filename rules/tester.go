package rules

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// TestOptions configure [RunTests]. The zero value runs every test without
// coverage, each with a 5 s timeout.
type TestOptions struct {
	// Run is a regular expression selecting tests by name, like
	// `opa test --run`. Empty runs all tests.
	Run string
	// Coverage computes the percentage of policy lines the tests cover.
	Coverage bool
	// Timeout bounds each test; zero means 5 s.
	Timeout time.Duration
	// Budget bounds all the tests together; zero means no bound. Past it
	// evaluation stops and the run reports a CodeTestBudget problem.
	Budget time.Duration
	// Share, in (0, 1), is the share of one CPU the tests may use: they
	// pause as often as needed to stay under it (see ReloaderOptions).
	// Zero or 1 means no pause.
	Share float64
}

// Defaults of a reload's test run (ReloaderOptions).
const (
	// DefaultTestBudget bounds a new version's tests together.
	DefaultTestBudget = 30 * time.Second
	// DefaultTestShare is the share of one CPU a new version's tests may
	// take from live traffic.
	DefaultTestShare = 0.25
)

// errTestBudget ends a test run that went past TestOptions.Budget.
var errTestBudget = errors.New("the tests ran past their time budget")

// TestResult is the outcome of one test rule.
type TestResult struct {
	// Package is the test's package path, e.g. "data.xunjian_test".
	Package string `json:"package"`
	// Name is the test rule's name, e.g. "test_kind_actions".
	Name string `json:"name"`
	// File and Line locate the test.
	File string `json:"file"`
	Line int    `json:"line"`
	// Pass, Fail and Skip (a todo_ test) are exclusive; none is set when the
	// test errored, see Error.
	Pass bool `json:"pass"`
	Fail bool `json:"fail,omitempty"`
	Skip bool `json:"skip,omitempty"`
	// Error is the evaluation error, if any.
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration"`
	// Output is what the test printed with print().
	Output string `json:"output,omitempty"`
}

// TestReport is the outcome of [RunTests].
type TestReport struct {
	// Revision is the bundle revision, as [Policy.Revision] would report it.
	Revision string `json:"revision"`
	// Results are sorted by file and line.
	Results []TestResult `json:"results"`
	Passed  int          `json:"passed"`
	Failed  int          `json:"failed"`
	Errored int          `json:"errored"`
	Skipped int          `json:"skipped"`
	// Coverage is the percentage of covered policy lines, when asked for.
	Coverage float64 `json:"coverage,omitempty"`
}

// OK reports whether tests ran and none failed or errored.
func (r TestReport) OK() bool { return len(r.Results) > 0 && r.Failed == 0 && r.Errored == 0 }

// String summarises the report the way `opa test` does ("PASS: 21/21").
func (r TestReport) String() string {
	var b strings.Builder
	for _, t := range r.Results {
		switch {
		case t.Fail:
			fmt.Fprintf(&b, "FAIL: %s.%s (%s:%d)\n", t.Package, t.Name, t.File, t.Line)
		case t.Error != "":
			fmt.Fprintf(&b, "ERROR: %s.%s (%s:%d): %s\n", t.Package, t.Name, t.File, t.Line, t.Error)
		}
	}
	if r.OK() {
		fmt.Fprintf(&b, "PASS: %d/%d", r.Passed, len(r.Results))
	} else {
		fmt.Fprintf(&b, "PASS: %d/%d, FAIL: %d, ERROR: %d", r.Passed, len(r.Results), r.Failed, r.Errored)
	}
	if r.Skipped > 0 {
		fmt.Fprintf(&b, ", SKIPPED: %d", r.Skipped)
	}
	return b.String()
}

// RunTests runs the test rules (test_*) of the bundle at path, a directory
// or a .tar.gz, like `opa test -b PATH`; an empty path tests the embedded
// default bundle. It returns an error only when the tests could not run
// (unreadable or uncompilable bundle, bad options); failing tests are in the
// report.
func RunTests(ctx context.Context, path string, opts TestOptions) (TestReport, error) {
	var (
		src *source
		err error
	)
	if path == "" {
		src, err = readFS(defaultBundle, defaultBundleDir)
		path = defaultBundleDir
	} else {
		src, err = readPath(path)
	}
	if err != nil {
		return TestReport{}, fmt.Errorf("test bundle %s: %w", path, err)
	}
	return runTests(ctx, src, path, opts)
}

// runTests runs the tests of a bundle already read; name is for errors.
// The modules of src are not modified (the compilers copy them), so the
// same src can also be built into a Policy.
func runTests(ctx context.Context, src *source, name string, opts TestOptions) (TestReport, error) {
	report := TestReport{Revision: src.revision}

	store := inmem.NewFromObject(src.data)
	var cov *cover.Cover
	runner := tester.NewRunner().
		SetCompiler(ast.NewCompiler().SetErrorLimit(0).WithEnablePrintStatements(true)).
		SetStore(store).
		SetModules(src.modules).
		CapturePrintOutput(true).
		SetTimeout(cmpDuration(opts.Timeout, 5*time.Second)).
		Filter(opts.Run)
	var tracer topdown.QueryTracer
	if opts.Coverage {
		cov = cover.New()
		tracer = cov
	}
	if opts.Share > 0 && opts.Share < 1 {
		// One test at a time, and each paused to its share of a CPU.
		runner = runner.SetParallel(1)
		tracer = newThrottle(opts.Share, tracer)
	}
	runner = runner.SetCoverageQueryTracer(tracer)
	if opts.Budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, opts.Budget, errTestBudget)
		defer cancel()
	}

	err := storage.Txn(ctx, store, storage.TransactionParams{}, func(txn storage.Transaction) error {
		ch, err := runner.RunTests(ctx, txn)
		if err != nil {
			return err
		}
		for r := range ch {
			report.add(r)
		}
		return nil
	})
	if err == nil && opts.Budget > 0 && errors.Is(context.Cause(ctx), errTestBudget) {
		err = errTestBudget
	}
	if err != nil {
		return TestReport{}, fmt.Errorf("test bundle %s: %w", name, err)
	}
	slices.SortFunc(report.Results, func(a, b TestResult) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
	if cov != nil {
		policy := make(map[string]*ast.Module, len(src.modules))
		for f, m := range src.modules {
			if !isTest(f) {
				policy[f] = m
			}
		}
		report.Coverage = cov.Report(policy).Coverage
	}
	return report, nil
}

func (r *TestReport) add(res *tester.Result) {
	t := TestResult{
		Package:  res.Package,
		Name:     res.Name,
		Duration: res.Duration,
		Output:   string(res.Output),
	}
	if res.Location != nil {
		t.File, t.Line = res.Location.File, res.Location.Row
	}
	switch {
	case res.Error != nil:
		t.Error = res.Error.Error()
		r.Errored++
	case res.Skip:
		t.Skip = true
		r.Skipped++
	case res.Fail:
		t.Fail = true
		r.Failed++
	default:
		t.Pass = true
		r.Passed++
	}
	r.Results = append(r.Results, t)
}

func cmpDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
