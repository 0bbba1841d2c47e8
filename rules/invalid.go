package rules

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ErrInvalidDecision is wrapped by every error of a decision that breaks
// the decision schema (decision.schema.json): an action that is not one of
// the five, a reason without a rule, an alert of an unknown level. A bundle
// with such a rule is refused when it is checked or reloaded, if a probe
// input reaches the rule; one that slips through fails at run time with
// this error, and the gateway applies the tenant's fail mode.
var ErrInvalidDecision = errors.New("rules: invalid decision")

// InvalidDecisionError says which part of a decision broke the schema and,
// when the part is a rule's reason, which rule. It never holds message
// text from the input.
type InvalidDecisionError struct {
	// Rule is the rule id of the offending reason ("" when the problem is
	// not one rule's).
	Rule string
	// Field is where in the decision, e.g. "reasons[2].action".
	Field string
	// Err says what is wrong.
	Err error
}

// invalid makes the error of a decision that broke the schema at field.
// A rule id that does not look like one (it is the policy's output, and a
// rule may build it from input text) is left out rather than logged.
func invalid(rule, field string, err error) *InvalidDecisionError {
	if !isRuleID(rule) {
		rule = ""
	}
	return &InvalidDecisionError{Rule: rule, Field: field, Err: err}
}

// IsRuleID reports whether s looks like a rule id (see isRuleID). A rule id
// is the policy's output; the gateway puts only such ids where they leave
// its control (errors, logs, metric labels, response headers).
func IsRuleID(s string) bool { return isRuleID(s) }

// maxRuleID is the longest rule id an error names.
const maxRuleID = 128

// isRuleID reports whether s looks like a rule id: at most maxRuleID
// bytes of ASCII letters, digits and "_-.:/", with no run of more than
// four digits (which could be part of a phone number or an ID). Text in
// any other script is refused: a rule id is the policy's output, and one
// in Chinese is as likely a copy of the draft ("加我微信") as a name.
func isRuleID(s string) bool {
	if s == "" || len(s) > maxRuleID {
		return false
	}
	digits := 0
	for i := range len(s) {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			if digits++; digits > 4 {
				return false
			}
			continue
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', strings.IndexByte("_-.:/", c) >= 0:
		default:
			return false
		}
		digits = 0
	}
	return true
}

// Error implements error.
func (e *InvalidDecisionError) Error() string {
	var b strings.Builder
	b.WriteString("rules: invalid decision: ")
	b.WriteString(e.Field)
	if e.Rule != "" {
		b.WriteString(" (rule ")
		b.WriteString(e.Rule)
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "rules: "))
	return b.String()
}

// Unwrap returns ErrInvalidDecision and the cause.
func (e *InvalidDecisionError) Unwrap() []error { return []error{ErrInvalidDecision, e.Err} }

// InvalidDecisionRule returns the rule err blames, when err is (or wraps)
// an invalid decision: its rule id, or "decision" when no single rule is
// at fault. The second result is false for any other error.
func InvalidDecisionRule(err error) (string, bool) {
	var ie *InvalidDecisionError
	if !errors.As(err, &ie) {
		return "", false
	}
	if ie.Rule == "" {
		return "decision", true
	}
	return ie.Rule, true
}

//go:embed decision.schema.json
var decisionSchema []byte

// DecisionSchema returns the JSON Schema (draft 2020-12) of the decision a
// policy produces (data.xunjian.decision): what decodeDecision accepts. The
// caller gets its own copy.
func DecisionSchema() []byte { return append([]byte(nil), decisionSchema...) }

// CodeInvalidDecision is the Problem code of a probe input whose decision
// breaks the decision schema.
const CodeInvalidDecision = "invalid_decision"

// checkDecisions evaluates p on every probe (bypassing the decision cache)
// and returns one problem per distinct invalid decision, located at the
// offending rule's id in modules where it can be found. Each decision is
// decoded as Decide would and validated against decision.schema.json, so
// the schema, not only the decoder, is what a version must meet. With
// share in (0, 1) evaluation is throttled as the tests are (see
// [ReloaderOptions.TestShare]); ctx bounds the whole run.
func checkDecisions(ctx context.Context, p *Policy, probes []*Input, modules map[string]*ast.Module, share float64) ([]Problem, error) {
	schema, err := compileDecisionSchema()
	if err != nil {
		return nil, err
	}
	// A probe is one short evaluation: pausing between probes keeps the
	// share without the cost of tracing. A probe that takes longer than
	// ten throttle slices (a slow rule) turns on the tracer's pauses
	// inside the evaluations that follow.
	throttled := share > 0 && share < 1
	var (
		tr   topdown.QueryTracer
		busy time.Duration // since the last pause
	)
	// One problem per rule and fault, whatever the probe and the reason's
	// index in it; of the probes that show it, the one with the fewest
	// findings, the easiest for an author to follow.
	type shown struct{ at, findings int }
	seen := map[string]shown{}
	var out []Problem
	add := func(i int, in *Input, rule, fault string) {
		key := rule + "\x00" + stripIndexes(fault)
		s, dup := seen[key]
		if dup && s.findings <= len(in.Findings) {
			return
		}
		pr := Problem{Code: CodeInvalidDecision, Message: fmt.Sprintf("%s, on probe input %d (%s)", fault, i, describeProbe(in))}
		if rule != "" {
			pr.File, pr.Line, pr.Column = locateString(modules, rule)
		}
		if pr.File == "" {
			// No rule to blame, or its id is computed: point at where the
			// decision is assembled.
			pr.File, pr.Line, pr.Column = locateDecision(modules)
		}
		if dup {
			out[s.at] = pr
		} else {
			s.at = len(out)
			out = append(out, pr)
		}
		s.findings = len(in.Findings)
		seen[key] = s
	}
	for i, in := range probes {
		if err := ctx.Err(); err != nil {
			return out, context.Cause(ctx)
		}
		start := time.Now()
		t, err := p.evalRaw(ctx, in, tr)
		if d := time.Since(start); throttled && tr == nil {
			if d > 10*throttleSlice {
				tr = newThrottle(share, nil)
			}
			if busy += d; busy >= probeSlice {
				pause := time.NewTimer(time.Duration(float64(busy) * (1/share - 1)))
				busy = 0
				select {
				case <-ctx.Done():
					pause.Stop()
					return out, context.Cause(ctx)
				case <-pause.C:
				}
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return out, context.Cause(ctx)
			}
			continue // undefined or a run-time error: not a schema matter
		}
		if _, err := decodeDecision(t.Value); err != nil {
			var ie *InvalidDecisionError
			if errors.As(err, &ie) {
				add(i, in, ie.Rule, strings.TrimPrefix(ie.Error(), "rules: invalid decision: "))
			}
			continue
		}
		// The decoder accepted it: the schema must too (it is the contract
		// the decoder implements; a disagreement is the decoder's bug, and
		// the version is refused rather than served on a loose reading).
		if fault := schemaFault(schema, t.Value); fault != "" {
			add(i, in, "", fault)
		}
	}
	return out, nil
}

// probeSlice is the evaluation time between two pauses of a throttled
// probe run: a few probes, so that the pauses (each of which may wait for
// a busy CPU once it ends) do not dominate the run.
const probeSlice = 2 * time.Millisecond

// stripIndexes drops the array indexes of decision fields from s
// ("reasons[3].action" becomes "reasons[].action").
func stripIndexes(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '[')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := i + 1
		for j < len(s) && '0' <= s[j] && s[j] <= '9' {
			j++
		}
		if j > i+1 && j < len(s) && s[j] == ']' {
			b.WriteString(s[:i+1])
		} else {
			b.WriteString(s[:j])
		}
		s = s[j:]
	}
}

// evalRaw evaluates the policy for in, bypassing the cache, and returns
// the decision value undecoded; tr, if not nil, traces the evaluation.
//
// It runs the compiled query on topdown directly rather than through
// rego.PreparedEvalQuery.Eval, which per evaluation builds an evaluation
// context and a metrics object, opens a store transaction, starts a
// goroutine to watch ctx and converts the result set. Here the metrics are
// a no-op, the store's read transaction is opened once per Policy (the
// store is never written), ctx is watched only when it can be cancelled
// (context.AfterFunc, no goroutine), and the decision is read from the one
// binding of the query.
func (p *Policy) evalRaw(ctx context.Context, in *Input, tr topdown.QueryTracer) (*ast.Term, error) {
	return p.evalValue(ctx, in.projected(p.proj), tr)
}

// evalValue is evalRaw for an input document given as a value.
func (p *Policy) evalValue(ctx context.Context, input ast.Value, tr topdown.QueryTracer) (*ast.Term, error) {
	q := p.newQuery(p.query).WithInput(ast.NewTerm(input))
	switch {
	case tr != nil:
		// A trace shows every rule evaluated, constants included.
		q = q.WithQueryTracer(tr)
	case p.consts.len() > 0:
		q = q.WithVirtualCache(p.consts.frame())
	}
	if ctx.Done() != nil {
		c := topdown.NewCancel()
		stop := context.AfterFunc(ctx, c.Cancel)
		defer stop()
		q = q.WithCancel(c)
	}
	var t *ast.Term
	err := q.Iter(ctx, func(qr topdown.QueryResult) error {
		t = qr[resultVar]
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rules: evaluate %s: %w", p.revision, err)
	}
	if t == nil {
		return nil, fmt.Errorf("%w (policy %s)", ErrUndefined, p.revision)
	}
	return t, nil
}

// newQuery returns a query of body on the policy's compiled modules,
// data (its one read transaction and base-document cache), without
// metrics.
func (p *Policy) newQuery(body ast.Body) *topdown.Query {
	return topdown.NewQuery(body).WithCompiler(p.compiler).WithStore(p.store).WithTransaction(p.txn).
		WithBaseCache(p.cache).WithMetrics(noMetrics)
}

// compileDecisionSchema compiles the embedded decision.schema.json.
func compileDecisionSchema() (*jsonschema.Schema, error) {
	return compileSchema("decision.schema.json", decisionSchema)
}

// schemaFault validates v against schema and says where it fails, by
// instance location and schema keyword only (never the value, which may be
// input text); "" when it is valid.
func schemaFault(schema *jsonschema.Schema, v ast.Value) string {
	doc, err := ast.JSON(v)
	if err != nil {
		return "decision: not representable as JSON"
	}
	err = schema.Validate(doc)
	if err == nil {
		return ""
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return "decision: " + err.Error()
	}
	for len(ve.Causes) > 0 { // the first leaf: the innermost failure
		ve = ve.Causes[0]
	}
	at := "decision"
	if len(ve.InstanceLocation) > 0 {
		at = "/" + strings.Join(ve.InstanceLocation, "/")
	}
	kw := ve.ErrorKind.KeywordPath()
	return fmt.Sprintf("%s: breaks decision.schema.json (%s)", at, strings.Join(kw, "/"))
}

// describeProbe names a probe by its role, tenant, conversation state and
// finding kinds (with lexicon ids), so that an author can write the test
// that reproduces it.
func describeProbe(in *Input) string {
	var b strings.Builder
	b.WriteString(cmp.Or(in.Draft.Role, "agent"))
	if in.Tenant.ID != "" {
		b.WriteString(", tenant " + in.Tenant.ID)
	}
	c := in.Conversation
	fmt.Fprintf(&b, ", risk %g, wait %gs, %d escalations", c.Risk, c.WaitSeconds, c.CustomerEscalations)
	switch n := len(in.Findings); {
	case n == 0:
		b.WriteString(", no finding")
	case n > 3:
		fmt.Fprintf(&b, ", %d findings of every kind at severity %s", n, in.Findings[0].Severity)
	default:
		for _, f := range in.Findings {
			fmt.Fprintf(&b, ", %s.%s %s", f.Detector, f.Kind, f.Severity)
			if f.Lexicon != "" {
				b.WriteString(" lexicon " + f.Lexicon)
			}
		}
	}
	return b.String()
}

// locateDecision returns where the entry point's rule (decision in
// package xunjian) is defined, for a fault no single rule is blamed for.
func locateDecision(modules map[string]*ast.Module) (file string, line, col int) {
	pkg := decisionRef[:len(decisionRef)-1]
	for _, name := range sortedModuleNames(modules) {
		m := modules[name]
		if isTest(name) || !m.Package.Path.Equal(pkg) {
			continue
		}
		for _, r := range m.Rules {
			if r.Head.Name.Equal(ast.Var("decision")) || r.Head.Ref().Equal(ast.Ref{ast.VarTerm("decision")}) {
				if r.Location != nil {
					return name, r.Location.Row, r.Location.Col
				}
			}
		}
	}
	return "", 0, 0
}

// sortedModuleNames lists the module names in order, so that a location
// search is deterministic.
func sortedModuleNames(modules map[string]*ast.Module) []string {
	names := make([]string, 0, len(modules))
	for n := range modules {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// locateString finds the string literal s (a rule id) in the policy's
// modules, test files left out, and returns where it is.
func locateString(modules map[string]*ast.Module, s string) (file string, line, col int) {
	for _, name := range sortedModuleNames(modules) {
		m := modules[name]
		if isTest(name) {
			continue
		}
		ast.WalkTerms(m, func(t *ast.Term) bool {
			if file != "" {
				return true
			}
			if v, ok := t.Value.(ast.String); ok && string(v) == s && t.Location != nil {
				file, line, col = name, t.Location.Row, t.Location.Col
				return true
			}
			return false
		})
		if file != "" {
			return file, line, col
		}
	}
	return "", 0, 0
}
