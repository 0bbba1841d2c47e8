package rules

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/open-policy-agent/opa/v1/ast"
)

// ErrUndefined is returned (wrapped) by [Policy.Decide] when the policy
// produced no decision for the input: data.xunjian.decision is undefined.
// It is an outcome the caller must handle (typically fail closed), never a
// zero Decision.
var ErrUndefined = errors.New("rules: decision undefined")

// Decision is the policy's verdict on one draft.
type Decision struct {
	// Action is the strictest action any rule asked for.
	Action Action `json:"action"`
	// Reasons explain the action, one per finding that mapped to an
	// action above allow, in the order of the input findings.
	Reasons []Reason `json:"reasons"`
	// Alerts are for supervisors (complaints, risk, wait time).
	Alerts []Alert `json:"alerts"`
	// Sample asks the QA sampler to keep the conversation.
	Sample bool `json:"sample"`
	// Shadow holds the would-be reasons of shadow rules, if the policy
	// produces a "shadow" array; they never change Action.
	Shadow []Reason `json:"shadow,omitempty"`
	// Revision is the revision of the policy that decided.
	Revision string `json:"policy_revision"`
}

// Reason is one rule's contribution to a decision.
type Reason struct {
	// Rule identifies the rule, e.g. "privacy.credential.block".
	Rule string `json:"rule"`
	// Action is what this rule asked for; zero (allow) if the policy did not say.
	Action Action `json:"action"`
	// Message is short human text in the draft's language.
	Message string `json:"message"`
	// Finding is the index into Input.Findings this reason is about, or nil.
	Finding *int `json:"finding,omitempty"`
	// Suggestion is a rewrite or advice for the agent, if any.
	Suggestion string `json:"suggestion,omitempty"`
}

// Alert is a supervisor alert raised by the policy.
type Alert struct {
	// Level is low, medium, high or critical.
	Level string `json:"level"`
	// Kind groups alerts for deduplication: complaint, risk, wait, …
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

var (
	kAction     = ast.InternedTerm("action")
	kReasons    = ast.InternedTerm("reasons")
	kAlerts     = ast.InternedTerm("alerts")
	kSample     = ast.InternedTerm("sample")
	kShadow     = ast.InternedTerm("shadow")
	kMessage    = ast.InternedTerm("message")
	kFinding    = ast.InternedTerm("finding")
	kSuggestion = ast.InternedTerm("suggestion")
	kLevel      = ast.InternedTerm("level")
)

// decodeDecision reads a Decision from the policy's result value. Every
// error it returns is an *InvalidDecisionError: it checks what
// decision.schema.json states (the same constraints, here without the cost
// of a schema validator on the hot path; [Check] and the Reloader validate
// probe decisions against the schema itself too). Field names for errors
// are built only on error: this runs on every draft.
func decodeDecision(v ast.Value) (Decision, error) {
	var d Decision
	obj, ok := v.(ast.Object)
	if !ok {
		return d, invalid("", "decision", fmt.Errorf("is %s, want an object", ast.ValueName(v)))
	}
	act, ok := str(obj.Get(kAction))
	if !ok {
		return d, invalid("", "action", errors.New("missing or not a string"))
	}
	a, err := parseDecisionAction(act)
	if err != nil {
		return d, invalid(strongestRule(obj, act), "action", err)
	}
	d.Action = a
	if d.Reasons, err = decodeReasons(obj.Get(kReasons), "reasons"); err != nil {
		return d, err
	}
	if d.Shadow, err = decodeReasons(obj.Get(kShadow), "shadow"); err != nil {
		return d, err
	}
	if t := obj.Get(kAlerts); t != nil {
		if d.Alerts, err = decodeAlerts(t); err != nil {
			return d, err
		}
	}
	if t := obj.Get(kSample); t != nil {
		b, ok := t.Value.(ast.Boolean)
		if !ok {
			return d, invalid("", "sample", errors.New("not a boolean"))
		}
		d.Sample = bool(b)
	}
	return d, nil
}

func decodeAlerts(t *ast.Term) ([]Alert, error) {
	arr, ok := t.Value.(*ast.Array)
	if !ok {
		return nil, invalid("", "alerts", errors.New("not an array"))
	}
	n := arr.Len()
	if n == 0 {
		return nil, nil
	}
	out := make([]Alert, n)
	for i := range n {
		o, ok := arr.Elem(i).Value.(ast.Object)
		if !ok {
			return nil, invalid("", elemField("alerts", i, ""), errors.New("not an object"))
		}
		al := &out[i]
		al.Level, _ = str(o.Get(kLevel))
		al.Kind, _ = str(o.Get(kKind))
		if m := o.Get(kMessage); m != nil {
			if al.Message, ok = str(m); !ok {
				return nil, invalid("", elemField("alerts", i, "message"), errors.New("not a string"))
			}
		}
		switch al.Level {
		case "low", "medium", "high", "critical":
		default:
			return nil, invalid("", elemField("alerts", i, "level"),
				fmt.Errorf("%s: want low, medium, high or critical", quoteValue(al.Level)))
		}
		if al.Kind == "" {
			return nil, invalid("", elemField("alerts", i, "kind"), errors.New("missing or empty"))
		}
	}
	return out, nil
}

// strongestRule names the rule that asked for act, an action that is not
// one, when a reason carries it: the decision's action is the strictest
// of its reasons', so a misspelt reason action surfaces there first.
func strongestRule(obj ast.Object, act string) string {
	for _, key := range []*ast.Term{kReasons, kShadow} {
		t := obj.Get(key)
		if t == nil {
			continue
		}
		arr, ok := t.Value.(*ast.Array)
		if !ok {
			continue
		}
		for i := range arr.Len() {
			if o, ok := arr.Elem(i).Value.(ast.Object); ok {
				if a, _ := str(o.Get(kAction)); a == act {
					r, _ := str(o.Get(kRule))
					return r
				}
			}
		}
	}
	return ""
}

func decodeReasons(t *ast.Term, field string) ([]Reason, error) {
	if t == nil {
		return nil, nil
	}
	arr, ok := t.Value.(*ast.Array)
	if !ok {
		return nil, invalid("", field, errors.New("not an array"))
	}
	n := arr.Len()
	if n == 0 {
		return nil, nil
	}
	out := make([]Reason, n)
	idx := make([]int, n) // one allocation for all Finding pointers
	for i := range n {
		o, ok := arr.Elem(i).Value.(ast.Object)
		if !ok {
			return nil, invalid("", elemField(field, i, ""), errors.New("not an object"))
		}
		r := &out[i]
		var hasRule bool
		r.Rule, hasRule = str(o.Get(kRule))
		if !hasRule || r.Rule == "" {
			return nil, invalid("", elemField(field, i, "rule"), errors.New("missing or empty: every reason names its rule"))
		}
		if m := o.Get(kMessage); m != nil {
			if r.Message, ok = str(m); !ok {
				return nil, invalid(r.Rule, elemField(field, i, "message"), errors.New("not a string"))
			}
		}
		if sg := o.Get(kSuggestion); sg != nil {
			if r.Suggestion, ok = str(sg); !ok {
				return nil, invalid(r.Rule, elemField(field, i, "suggestion"), errors.New("not a string"))
			}
		}
		if at := o.Get(kAction); at != nil {
			s, ok := str(at)
			if !ok {
				return nil, invalid(r.Rule, elemField(field, i, "action"), errors.New("not a string"))
			}
			a, err := parseDecisionAction(s)
			if err != nil {
				return nil, invalid(r.Rule, elemField(field, i, "action"), err)
			}
			r.Action = a
		}
		if ft := o.Get(kFinding); ft != nil {
			num, ok := ft.Value.(ast.Number)
			if !ok {
				return nil, invalid(r.Rule, elemField(field, i, "finding"), errors.New("not a number"))
			}
			f, ok := num.Int()
			if !ok || f < 0 {
				return nil, invalid(r.Rule, elemField(field, i, "finding"), errors.New("not a non-negative integer"))
			}
			idx[i] = f
			r.Finding = &idx[i]
		}
	}
	return out, nil
}

// elemField names field[i].sub (field[i] when sub is empty) for an error.
func elemField(field string, i int, sub string) string {
	s := field + "[" + strconv.Itoa(i) + "]"
	if sub != "" {
		s += "." + sub
	}
	return s
}

// parseDecisionAction is [ParseAction] for a value the policy produced:
// its error quotes the value only when it looks like a misspelt action
// name, since a rule may (wrongly) have copied input text there and
// errors reach logs.
func parseDecisionAction(s string) (Action, error) {
	a, err := ParseAction(s)
	if err != nil {
		return 0, fmt.Errorf("%s is not an action (want allow, warn, redact, confirm or block)", quoteValue(s))
	}
	return a, nil
}

// quoteValue quotes a policy-produced string for an error message when it
// is at most maxQuoted ASCII letters and underscores, as a misspelt action
// or level is ("blok", "Block", "urgent"); anything else (which may be
// input text a rule copied: a phone number, a contact handle) is
// described by its length only.
func quoteValue(s string) string {
	ok := s != "" && len(s) <= maxQuoted
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
	}
	if ok {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("a string of %d bytes", len(s))
}

// maxQuoted is the longest value quoteValue quotes.
const maxQuoted = 16

func str(t *ast.Term) (string, bool) {
	if t == nil {
		return "", false
	}
	s, ok := t.Value.(ast.String)
	return string(s), ok
}
