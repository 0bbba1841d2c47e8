package rules

import (
	"errors"
	"fmt"

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

// decodeDecision reads a Decision from the policy's result value.
func decodeDecision(v ast.Value) (Decision, error) {
	var d Decision
	obj, ok := v.(ast.Object)
	if !ok {
		return d, fmt.Errorf("rules: decision is %s, want object", ast.ValueName(v))
	}
	act, ok := str(obj.Get(kAction))
	if !ok {
		return d, errors.New("rules: decision has no string action")
	}
	a, err := ParseAction(act)
	if err != nil {
		return d, err
	}
	d.Action = a
	if d.Reasons, err = decodeReasons(obj.Get(kReasons), "reasons"); err != nil {
		return d, err
	}
	if d.Shadow, err = decodeReasons(obj.Get(kShadow), "shadow"); err != nil {
		return d, err
	}
	if t := obj.Get(kAlerts); t != nil {
		arr, ok := t.Value.(*ast.Array)
		if !ok {
			return d, errors.New("rules: decision alerts is not an array")
		}
		if n := arr.Len(); n > 0 {
			d.Alerts = make([]Alert, n)
			for i := range n {
				o, ok := arr.Elem(i).Value.(ast.Object)
				if !ok {
					return d, fmt.Errorf("rules: decision alerts[%d] is not an object", i)
				}
				d.Alerts[i].Level, _ = str(o.Get(kLevel))
				d.Alerts[i].Kind, _ = str(o.Get(kKind))
				d.Alerts[i].Message, _ = str(o.Get(kMessage))
			}
		}
	}
	if t := obj.Get(kSample); t != nil {
		b, ok := t.Value.(ast.Boolean)
		if !ok {
			return d, errors.New("rules: decision sample is not a boolean")
		}
		d.Sample = bool(b)
	}
	return d, nil
}

func decodeReasons(t *ast.Term, field string) ([]Reason, error) {
	if t == nil {
		return nil, nil
	}
	arr, ok := t.Value.(*ast.Array)
	if !ok {
		return nil, fmt.Errorf("rules: decision %s is not an array", field)
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
			return nil, fmt.Errorf("rules: decision %s[%d] is not an object", field, i)
		}
		r := &out[i]
		r.Rule, _ = str(o.Get(kRule))
		r.Message, _ = str(o.Get(kMessage))
		r.Suggestion, _ = str(o.Get(kSuggestion))
		if s, ok := str(o.Get(kAction)); ok {
			a, err := ParseAction(s)
			if err != nil {
				return nil, fmt.Errorf("rules: decision %s[%d]: %w", field, i, err)
			}
			r.Action = a
		}
		if ft := o.Get(kFinding); ft != nil {
			num, ok := ft.Value.(ast.Number)
			if !ok {
				return nil, fmt.Errorf("rules: decision %s[%d].finding is not a number", field, i)
			}
			f, ok := num.Int()
			if !ok {
				return nil, fmt.Errorf("rules: decision %s[%d].finding is not an integer", field, i)
			}
			idx[i] = f
			r.Finding = &idx[i]
		}
	}
	return out, nil
}

func str(t *ast.Term) (string, bool) {
	if t == nil {
		return "", false
	}
	s, ok := t.Value.(ast.String)
	return string(s), ok
}
