package rules

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Problem codes besides OPA's own (rego_parse_error, rego_compile_error,
// rego_type_error, rego_unsafe_var_error, …).
const (
	// CodeBundle is a bundle that cannot be read: a missing path, a bad
	// archive, an undecodable data file.
	CodeBundle = "bundle_error"
	// CodeData is a data document the policy would misread, e.g. an action
	// name that is not one of the five.
	CodeData = "data_error"
	// CodeTestFailed is a Rego test that failed.
	CodeTestFailed = "test_failed"
	// CodeTestError is a Rego test that could not be evaluated.
	CodeTestError = "test_error"
	// CodeNoTests is a bundle without tests where tests are required.
	CodeNoTests = "no_tests"
	// CodeTestBudget: the bundle's tests together ran past their time
	// budget (ReloaderOptions.TestBudget); the version is refused.
	CodeTestBudget = "test_budget"
	// CodeRejected is a bundle the caller's hook (ReloaderOptions.Attach,
	// CheckOptions.Validate) rejected.
	CodeRejected = "rejected"
)

// Problem is one thing wrong with a bundle, located where possible, so that
// a command line, a log line and the gateway's /v1/policy can all point a
// policy author at the file and line.
type Problem struct {
	// File is the file name relative to the bundle root, e.g.
	// "xunjian/decision.rego"; empty when the problem has no single file.
	File string `json:"file,omitempty"`
	// Line and Column are 1-based; zero when unknown.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Code classifies the problem: one of OPA's error codes or a Code*
	// constant of this package.
	Code string `json:"code"`
	// Message says what is wrong.
	Message string `json:"message"`
}

// String renders the problem as "file:line: code: message", the way OPA
// and compilers do, leaving out what is unknown.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	}
	if p.Code != "" {
		b.WriteString(p.Code + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems breaks an error from [Load], [LoadFS], [RunTests] or a [Reloader]
// into located problems: one per OPA error (parse, compile, type …), each
// with its file and line, or a single problem holding the error's text when
// it carries no location.
func Problems(err error) []Problem {
	if err == nil {
		return nil
	}
	var rerr *ReloadError
	if errors.As(err, &rerr) {
		return slices.Clone(rerr.Problems)
	}
	var aerrs ast.Errors
	if errors.As(err, &aerrs) && len(aerrs) > 0 {
		out := make([]Problem, 0, len(aerrs))
		for _, e := range aerrs {
			out = append(out, astProblem(e))
		}
		return out
	}
	var aerr *ast.Error
	if errors.As(err, &aerr) {
		return []Problem{astProblem(aerr)}
	}
	return []Problem{{Code: CodeBundle, Message: err.Error()}}
}

func astProblem(e *ast.Error) Problem {
	p := Problem{Code: e.Code, Message: e.Message}
	if e.Location != nil {
		p.File = strings.TrimPrefix(e.Location.File, "/")
		p.Line, p.Column = e.Location.Row, e.Location.Col
	}
	return p
}

// testProblems lists the failed and errored tests of a report.
func testProblems(r TestReport) []Problem {
	var out []Problem
	for _, t := range r.Results {
		switch {
		case t.Fail:
			out = append(out, Problem{File: t.File, Line: t.Line, Code: CodeTestFailed,
				Message: fmt.Sprintf("%s.%s failed", t.Package, t.Name)})
		case t.Error != "":
			out = append(out, Problem{File: t.File, Line: t.Line, Code: CodeTestError,
				Message: fmt.Sprintf("%s.%s: %s", t.Package, t.Name, t.Error)})
		}
	}
	return out
}

// CheckOptions configure [Check]. The zero value compiles, checks the data
// and runs the tests.
type CheckOptions struct {
	// SkipTests leaves out the bundle's Rego tests.
	SkipTests bool
	// RequireTests makes a bundle without any test a problem.
	RequireTests bool
	// TestTimeout bounds each test; zero means 5 s.
	TestTimeout time.Duration
	// TestBudget bounds all the tests together; zero means no bound but
	// TestTimeout's.
	TestBudget time.Duration
	// Probes are inputs the policy is evaluated on besides the built-in
	// probe set ([Probes], always evaluated); a decision that breaks the
	// decision schema (decision.schema.json, [DecisionSchema]) on any of
	// them is a problem (CodeInvalidDecision) naming the rule and its
	// file:line, as a [Reloader] would refuse it.
	Probes []*Input
	// Validate, if set, is called with the policy when everything else
	// passed, as [ReloaderOptions.Attach] is; its error is a problem
	// (CodeRejected).
	// `xunjian rules check` builds the gateway's detectors here, so that
	// it accepts exactly what the gateway would.
	Validate func(ctx context.Context, p *Policy) error
}

// CheckReport is the outcome of [Check].
type CheckReport struct {
	// Revision is the bundle's revision, when it could be read.
	Revision string `json:"revision,omitempty"`
	// Modules lists the policy modules, as [Policy.Modules] does.
	Modules []string `json:"modules,omitempty"`
	// Cache says whether the gateway would cache this policy's decisions.
	Cache *CacheStatus `json:"cache,omitempty"`
	// Tests is the test report, when the tests ran.
	Tests *TestReport `json:"tests,omitempty"`
	// Problems is everything wrong, in the order found: read and compile
	// errors, then data errors, then failed tests, then invalid decisions
	// on the probe inputs.
	Problems []Problem `json:"problems"`
}

// OK reports whether the bundle has no problem.
func (r CheckReport) OK() bool { return len(r.Problems) == 0 }

// Check examines the bundle at path (a directory or a .tar.gz; "" for the
// default bundle) the way a [Reloader] does before serving it: it compiles
// and prepares the policy as [Load] does, checks the data document the
// policy reads (see below), runs the bundle's tests, evaluates the policy
// on the probe inputs (the built-in [Probes] and opts.Probes) and
// validates each decision against the decision schema, then opts.Validate.
// Everything wrong is in the report's Problems; the error is only for a
// check that could not run (a cancelled context).
//
// The data check covers the configuration the default policy documents:
// every action in data.xunjian.config.actions, config.info_max_action,
// config.kinds[k].severity_actions and tenants[t].actions must be one of
// the five action names (a misspelt action silently drops the rule), and
// severity_actions keys must be severities. Bundles that keep their
// configuration elsewhere are not affected.
func Check(ctx context.Context, path string, opts CheckOptions) (CheckReport, error) {
	name := path
	var snap *snapshot
	if path == "" {
		es := &embeddedSource{}
		name = es.String()
		snap, _ = es.fetch(ctx, true)
	} else {
		start := time.Now()
		src, err := readPath(path)
		if err != nil {
			err = fmt.Errorf("bundle %s: %w", path, err)
		}
		snap = &snapshot{src: src, err: err, readTime: time.Since(start)}
	}
	var report CheckReport
	v, rerr := vet(ctx, name, time.Now(), snap, vetOptions{
		skipTests: opts.SkipTests, requireTests: opts.RequireTests,
		tests: TestOptions{Timeout: opts.TestTimeout, Budget: opts.TestBudget}, validate: opts.Validate, stage: "validate",
		probes: opts.Probes,
	})
	if err := ctx.Err(); err != nil {
		return CheckReport{}, err
	}
	if rerr != nil {
		report.Problems = rerr.Problems
		report.Revision = rerr.Revision
	}
	if v != nil {
		report.Tests = v.tests
		if v.policy != nil {
			report.Revision = v.policy.Revision()
			report.Modules = v.policy.Modules()
			cs := v.policy.CacheStatus()
			report.Cache = &cs
			v.policy.Close()
		}
	}
	if report.Problems == nil {
		report.Problems = []Problem{}
	}
	return report, nil
}

// dataProblems checks the configuration the default policy reads from
// data.xunjian (see [Check]). files are the bundle's data files, to point
// a problem at the one that most likely holds it.
func dataProblems(data map[string]any, files []string) []Problem {
	var out []Problem
	add := func(at []string, format string, args ...any) {
		out = append(out, Problem{File: dataFile(files, at), Code: CodeData,
			Message: dataPath(at) + ": " + fmt.Sprintf(format, args...)})
	}
	checkAction := func(at []string, v any) {
		s, ok := v.(string)
		if !ok {
			add(at, "want an action name (allow, warn, redact, confirm, block), got %v", v)
			return
		}
		if _, err := ParseAction(s); err != nil {
			add(at, "%q is not an action (allow, warn, redact, confirm, block)", s)
		}
	}
	checkActions := func(at []string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			add(at, "want an object of detector.kind to action")
			return
		}
		for _, k := range sortedKeys(m) {
			checkAction(append(slices.Clip(at), k), m[k])
		}
	}
	x, _ := data["xunjian"].(map[string]any)
	if cfg, ok := x["config"].(map[string]any); ok {
		at := []string{"xunjian", "config"}
		if v, ok := cfg["actions"]; ok {
			checkActions(append(slices.Clip(at), "actions"), v)
		}
		if v, ok := cfg["info_max_action"]; ok {
			checkAction(append(slices.Clip(at), "info_max_action"), v)
		}
		kinds, _ := cfg["kinds"].(map[string]any)
		for _, k := range sortedKeys(kinds) {
			spec, _ := kinds[k].(map[string]any)
			sa, ok := spec["severity_actions"]
			if !ok {
				continue
			}
			at := []string{"xunjian", "config", "kinds", k, "severity_actions"}
			m, ok := sa.(map[string]any)
			if !ok {
				add(at, "want an object of severity to action")
				continue
			}
			for _, sev := range sortedKeys(m) {
				if !slices.Contains(severities, sev) {
					add(append(slices.Clip(at), sev), "%q is not a severity (%s)", sev, strings.Join(severities, ", "))
				}
				checkAction(append(slices.Clip(at), sev), m[sev])
			}
		}
	}
	tenants, _ := x["tenants"].(map[string]any)
	for _, id := range sortedKeys(tenants) {
		t, _ := tenants[id].(map[string]any)
		if v, ok := t["actions"]; ok {
			checkActions([]string{"xunjian", "tenants", id, "actions"}, v)
		}
	}
	return out
}

// severities are the finding severities, from the lowest.
var severities = []string{"info", "low", "medium", "high", "critical"}

// dataPath renders a data path as Rego would write it:
// data.xunjian.config.actions["tone.rude"].
func dataPath(at []string) string {
	var b strings.Builder
	b.WriteString("data")
	for _, s := range at {
		if ast.IsVarCompatibleString(s) {
			b.WriteString("." + s)
		} else {
			b.WriteString("[" + strconv.Quote(s) + "]")
		}
	}
	return b.String()
}

// dataFile picks the data file that most likely holds the value at data
// path at: the deepest one whose directory is a prefix of the path.
func dataFile(files []string, at []string) string {
	best, depth := "", -1
	for _, f := range files {
		dir := path.Dir(f)
		var parts []string
		if dir != "." {
			parts = strings.Split(dir, "/")
		}
		if len(parts) <= len(at) && slices.Equal(parts, at[:len(parts)]) && len(parts) > depth {
			best, depth = f, len(parts)
		}
	}
	return best
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
