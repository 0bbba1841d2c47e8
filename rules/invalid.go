package rules

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
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

func invalid(rule, field string, err error) *InvalidDecisionError {
	if !isRuleID(rule) {
		// A rule id is the policy's output, and a rule may build it from
		// the input's text: one that does not look like an id is left out
		// of errors, logs and metric labels rather than quoted.
		rule = ""
	}
	return &InvalidDecisionError{Rule: rule, Field: field, Err: err}
}

// maxRuleID is the longest rule id an error names.
const maxRuleID = 128

// isRuleID reports whether s looks like a rule id: at most maxRuleID bytes
// of ASCII letters, digits and "_-.:/", with no run of more than four
// digits (which could be part of a phone number or an ID).
func isRuleID(s string) bool {
	if s == "" || len(s) > maxRuleID {
		return false
	}
	digits := 0
	for i := 0; i < len(s); i++ {
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
// offending rule's id in modules where it can be found.
func checkDecisions(ctx context.Context, p *Policy, probes []*Input, modules map[string]*ast.Module) ([]Problem, error) {
	seen := map[string]bool{}
	var out []Problem
	for i, in := range probes {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		_, err := p.eval(ctx, in)
		var ie *InvalidDecisionError
		if !errors.As(err, &ie) {
			continue
		}
		key := ie.Rule + "\x00" + ie.Err.Error() // one problem per rule and fault, whatever the index
		if seen[key] {
			continue
		}
		seen[key] = true
		pr := Problem{Code: CodeInvalidDecision, Message: fmt.Sprintf("%s, on probe input %d (%s)", strings.TrimPrefix(ie.Error(), "rules: invalid decision: "), i, describeProbe(in))}
		if ie.Rule != "" {
			pr.File, pr.Line, pr.Column = locateString(modules, ie.Rule)
		}
		out = append(out, pr)
	}
	return out, nil
}

// describeProbe names a probe by its role and finding kinds.
func describeProbe(in *Input) string {
	role := in.Draft.Role
	if role == "" {
		role = "agent"
	}
	kinds := make([]string, 0, len(in.Findings))
	for _, f := range in.Findings {
		kinds = append(kinds, f.Detector+"."+f.Kind)
	}
	if len(kinds) == 0 {
		return role + ", no finding"
	}
	if len(kinds) > 3 {
		return fmt.Sprintf("%s, %d kinds", role, len(kinds))
	}
	return role + ", " + strings.Join(kinds, " ")
}

// locateString finds the string literal s (a rule id) in the policy's
// modules, test files left out, and returns where it is.
func locateString(modules map[string]*ast.Module, s string) (file string, line, col int) {
	for name, m := range modules {
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
